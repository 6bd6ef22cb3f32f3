//! `NativeServer`: the rendezvous server (`rtmfp_core::rendezvous::Server`,
//! a Stratus/Cirrus-like service: developer keys, peer introductions for
//! DIRECT_CONNECTIONS, registerName/lookupName, publish/play through the
//! server) on its own runtime.  The JS wrapper (`lib/server.js`) builds
//! `Server` on it.
//!
//! It is core's `ServerHandle`: the queries here are posted to its I/O
//! thread without waiting, and the dispatcher hands its events to JS like
//! an endpoint's.  `onConnect` / `onPublish` / `onPlay` use core's ask
//! mode: a `serverAsk` item goes to JS, whose hook answers with
//! `answerAsk`; a verdict that came too late is answered with core's
//! reason (`AskError`), which JS reports.

use crate::convert;
use crate::errors::{self, Code, Result};
use crate::items::{Item, NativeItem, ReplyValue};
use crate::object::{Base, CloseTask, NativeRuntimeOptions, Runtime};
use crate::shared::Mapped;
use napi::bindgen_prelude::{AsyncTask, Function};
use napi::Env;
use napi_derive::napi;
use rtmfp_core::crypto::FlashConfig;
use rtmfp_core::endpoint::{Endpoint, SessionHandle};
use rtmfp_core::host::verdict_failure;
use rtmfp_core::rendezvous::cluster::redis::ClusterConfig;
use rtmfp_core::rendezvous::{Asks, Hooks, KeySet, Limit, Server, ServerConfig, ServerHandle};
use std::sync::Arc;
use std::time::Instant;

/// Options of `new NativeServer` (validated and defaulted by the JS
/// wrapper; durations in ms).
#[napi(object)]
pub struct NativeServerOptions {
    pub runtime: NativeRuntimeOptions,
    /// The developer keys accepted on `connect`; absent (and no
    /// `keysFile`): any key, or none.
    pub keys: Option<Vec<String>>,
    /// A file of developer keys: one a line; blank lines and lines
    /// starting with `#` are skipped.
    pub keys_file: Option<String>,
    /// `redis://HOST:PORT[/DB]`: a node of a rendezvous cluster sharing
    /// peers, names and streams through Redis (docs/cluster.md).
    pub cluster: Option<String>,
    /// Most streams one client has at once (default 64; 1 to 65535).
    pub max_streams_per_client: Option<i64>,
    /// Most names one client registers (default 16; 1 to 65535).
    pub max_names_per_client: Option<i64>,
    /// Most receiving flows one session keeps (default 512; 1 to 65535).
    pub max_flows_per_session: Option<i64>,
    /// Ask JS about connects, publishes, plays from the start (core's
    /// `Asks`).
    pub ask_connect: Option<bool>,
    pub ask_publish: Option<bool>,
    pub ask_play: Option<bool>,
    /// ms a request waits for its verdict (default 10 000); then it is
    /// refused with "no answer from the server application".
    pub hook_timeout: Option<f64>,
}

/// Checks a limit with core's range ([`Limit::check_int`]), naming the JS
/// option in the error.
fn limit(limit: Limit, value: Option<i64>, option: &str) -> Result<Option<usize>> {
    value
        .map(|v| limit.check_int(v.into()))
        .transpose()
        .map_err(|e| errors::invalid(format!("options.{option} {}", e.reason())))
}

/// Core's ask mode for these choices.
fn asks(connect: bool, publish: bool, play: bool, timeout_ms: Option<f64>) -> Result<Asks> {
    let mut asks = Asks {
        connect,
        publish,
        play,
        ..Asks::default()
    };
    if let Some(ms) = timeout_ms {
        asks.deadline = convert::millis(ms, "hookTimeout")?;
    }
    Ok(asks)
}

/// A rendezvous server on its own runtime.
#[napi]
pub struct NativeServer {
    base: Base,
}

impl NativeServer {
    /// Runs `f` with the server on the I/O thread, without waiting.
    fn post<F>(&self, f: F) -> Result<()>
    where
        F: FnOnce(&mut Server, &mut Endpoint, Instant) + Send + 'static,
    {
        self.base.shared.post_layer::<Server, F>(f)
    }
}

fn key_set(options: &NativeServerOptions) -> Result<KeySet> {
    match (&options.keys, &options.keys_file) {
        (Some(_), Some(_)) => Err(errors::invalid("give keys or keysFile, not both")),
        (Some(keys), None) => {
            if let Some(i) = keys.iter().position(String::is_empty) {
                return Err(errors::invalid(format!("keys[{i}] is empty")));
            }
            Ok(KeySet::of(keys.iter().cloned()))
        }
        (None, Some(path)) => KeySet::from_file(path)
            .map_err(|e| errors::err(Code::Io, format!("cannot read the keys file {path:?}: {e}"))),
        (None, None) => Ok(KeySet::Any),
    }
}

crate::object::base_members!(NativeServer);

#[napi]
impl NativeServer {
    /// Makes a server identity (ephemeral Diffie-Hellman: clients reach it
    /// by `rtmfp://` URI), binds the sockets and starts the I/O and
    /// dispatcher threads.  `onItems` receives every event and reply, in
    /// batches, on the JS thread.
    #[napi(constructor)]
    pub fn new(
        env: Env,
        options: NativeServerOptions,
        on_items: Function<'_, Vec<NativeItem>, ()>,
    ) -> Result<Self> {
        let keys = key_set(&options)?;
        let max_streams = limit(
            Limit::StreamsPerClient,
            options.max_streams_per_client,
            "maxStreamsPerClient",
        )?;
        let max_names = limit(
            Limit::NamesPerClient,
            options.max_names_per_client,
            "maxNamesPerClient",
        )?;
        let max_flows = limit(
            Limit::FlowsPerSession,
            options.max_flows_per_session,
            "maxFlowsPerSession",
        )?;
        let mut runtime = Runtime::new(options.runtime, FlashConfig::server())?;
        if let Some(n) = max_flows {
            runtime.endpoint.flow_limits.max_recv_flows = n;
        }
        let mut server = ServerConfig {
            keys,
            ..ServerConfig::default()
        };
        if let Some(n) = max_streams {
            server.max_streams_per_client = n;
        }
        if let Some(n) = max_names {
            server.max_names_per_client = n;
        }
        let hooks = Hooks {
            asks: asks(
                options.ask_connect.unwrap_or(false),
                options.ask_publish.unwrap_or(false),
                options.ask_play.unwrap_or(false),
                options.hook_timeout,
            )?,
            ..Hooks::default()
        };
        let (server, peer_id) = runtime.start(|config| match &options.cluster {
            None => ServerHandle::start_with(config, server, hooks),
            Some(url) => {
                ServerHandle::start_clustered(config, server, hooks, ClusterConfig::new(url))
            }
        })?;
        let source = Mapped::source(server.event_queue().clone(), |event, _, items| {
            items.push(Item::Server(event))
        });
        Ok(NativeServer {
            base: Base::start(&env, Arc::new(server), source, peer_id, on_items)?,
        })
    }

    /// Replies (`clientsReply`) with the client sessions.
    #[napi]
    pub fn sessions(&self, request: u32) -> Result<()> {
        let reply = self.base.reply(request)?;
        self.post(move |s, _, _| {
            reply.send(Item::reply(request, Ok(ReplyValue::Clients(s.sessions()))));
        })
    }

    /// Replies (`streamsReply`) with the streams published to the server.
    #[napi]
    pub fn streams(&self, request: u32) -> Result<()> {
        let reply = self.base.reply(request)?;
        self.post(move |s, _, _| {
            reply.send(Item::reply(request, Ok(ReplyValue::Streams(s.streams()))));
        })
    }

    /// Disconnects the client of session `session`; replies with 1 if
    /// there was one, else 0.
    #[napi]
    pub fn disconnect(&self, request: u32, session: f64) -> Result<()> {
        let session = SessionHandle(convert::id(session, "session")?);
        let reply = self.base.reply(request)?;
        self.post(move |s, ep, now| {
            let found = s.disconnect(ep, now, session);
            reply.send(Item::reply(request, Ok(ReplyValue::Id(u64::from(found)))));
        })
    }

    /// Which requests wait for JS (`serverAsk` items); `timeoutMs` as
    /// `hookTimeout`.  Requests already waiting keep their deadline.
    #[napi]
    pub fn set_asks(
        &self,
        connect: bool,
        publish: bool,
        play: bool,
        timeout_ms: Option<f64>,
    ) -> Result<()> {
        let asks = asks(connect, publish, play, timeout_ms)?;
        self.post(move |s, _, _| s.hooks_mut().asks = asks)
    }

    /// The verdict on ask `id` (a `serverAsk` item): accept, or reject
    /// with `reason` (the client's status description).  Replies with
    /// nothing once applied; a verdict for an ask that ended (answered,
    /// expired, its client gone: a `serverAskEnded` item came) does
    /// nothing and fails with core's reason (`ERR_RTMFP_STATE`;
    /// `ERR_RTMFP_INVALID_ARGUMENT` for an id never asked).
    #[napi]
    pub fn answer_ask(
        &self,
        request: u32,
        id: f64,
        accept: bool,
        reason: Option<String>,
    ) -> Result<()> {
        let id = convert::id(id, "id")?;
        let decision = if accept {
            Ok(())
        } else {
            Err(reason.unwrap_or_else(|| "rejected by the server application".to_owned()))
        };
        let reply = self.base.reply(request)?;
        self.post(move |s, ep, now| {
            let item = match s.answer(ep, now, id, decision) {
                Ok(()) => Item::reply(request, Ok(ReplyValue::None)),
                Err(e) => {
                    let (code, message) = errors::coded(verdict_failure(id, &e));
                    Item::failed(request, code, message)
                }
            };
            reply.send(item);
        })
    }

    /// Closes every client session in order, waits at most `timeoutMs`
    /// for the far ends, stops both threads.  Resolves to whether
    /// everything closed cleanly in time; the last events (then `end`)
    /// reach the callback first.
    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn close(&self, env: Env, timeout_ms: f64) -> Result<AsyncTask<CloseTask>> {
        self.base.close(&env, timeout_ms)
    }
}
