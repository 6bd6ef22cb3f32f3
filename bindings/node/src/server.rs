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
use crate::errors::{self, Result};
use crate::items::{Item, NativeItem, ReplyValue};
use crate::object::{Base, CloseTask, Runtime};
use crate::shared::Mapped;
use napi::bindgen_prelude::{AsyncTask, Function, Object};
use napi::Env;
use napi_derive::napi;
use rtmfp_core::endpoint::{Endpoint, SessionHandle};
use rtmfp_core::host::options::{self, OptionValue, Options};
use rtmfp_core::host::verdict_failure;
use rtmfp_core::rendezvous::cluster::redis::ClusterConfig;
use rtmfp_core::rendezvous::{Asks, Hooks, Server, ServerHandle};
use std::sync::Arc;
use std::time::Instant;

/// Core's ask mode for these choices (the rows of core's option table).
fn asks(connect: bool, publish: bool, play: bool, timeout_ms: Option<f64>) -> Result<Asks> {
    let mut options = Options::new();
    let mut set = |name: &str, shown: &str, value: OptionValue| {
        options
            .set_as(name, shown, value)
            .map_err(|e| errors::failed(e.failure()))
    };
    set("ask_connect", "connect", OptionValue::Bool(connect))?;
    set("ask_publish", "publish", OptionValue::Bool(publish))?;
    set("ask_play", "play", OptionValue::Bool(play))?;
    if let Some(ms) = timeout_ms {
        set("hook_timeout", "hookTimeout", OptionValue::Millis(ms))?;
    }
    Ok(options.asks())
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

    /// Runs `f` with the server on the I/O thread, without waiting, and
    /// answers request `request` with the item it makes.
    fn post_reply<F>(&self, request: u32, f: F) -> Result<()>
    where
        F: FnOnce(&mut Server, &mut Endpoint, Instant) -> Item + Send + 'static,
    {
        let reply = self.base.reply(request)?;
        self.post(move |s, ep, now| reply.send(f(s, ep, now)))
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
        options: Object<'_>,
        on_items: Function<'_, Vec<NativeItem>, ()>,
    ) -> Result<Self> {
        let runtime = Runtime::read(&env, &options, options::Object::Server)?;
        let config = runtime.options().server_config();
        let hooks = Hooks {
            asks: runtime.options().asks(),
            ..Hooks::default()
        };
        let (server, peer_id) = match runtime.options().cluster() {
            None => runtime.start(|rc| ServerHandle::start_with(rc, config, hooks)),
            Some(url) => runtime.start(|rc| {
                ServerHandle::start_clustered(rc, config, hooks, ClusterConfig::new(&url))
            }),
        }?;
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
        self.post_reply(request, move |s, _, _| {
            Item::reply(request, Ok(ReplyValue::Clients(s.sessions())))
        })
    }

    /// Replies (`streamsReply`) with the streams published to the server.
    #[napi]
    pub fn streams(&self, request: u32) -> Result<()> {
        self.post_reply(request, move |s, _, _| {
            Item::reply(request, Ok(ReplyValue::Streams(s.streams())))
        })
    }

    /// Disconnects the client of session `session`; replies with 1 if
    /// there was one, else 0.
    #[napi]
    pub fn disconnect(&self, request: u32, session: f64) -> Result<()> {
        let session = SessionHandle(convert::id(session, "session")?);
        self.post_reply(request, move |s, ep, now| {
            let found = s.disconnect(ep, now, session);
            Item::reply(request, Ok(ReplyValue::Id(u64::from(found))))
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
        self.post_reply(request, move |s, ep, now| {
            match s.answer(ep, now, id, decision) {
                Ok(()) => Item::reply(request, Ok(ReplyValue::None)),
                Err(e) => {
                    let (code, message) = errors::coded(verdict_failure(id, &e));
                    Item::failed(request, code, message)
                }
            }
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
