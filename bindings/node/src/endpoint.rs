//! `NativeEndpoint`: the addon's one class.  The JS wrapper
//! (`lib/endpoint.js`) builds `Endpoint`, `Session`, `Flow` and `RecvFlow`
//! on it; nothing else should use it directly.
//!
//! Calls check their arguments and throw at once; what needs the I/O
//! thread is posted there and never waited for.  Calls that produce
//! something take a `request` number chosen by JS and answer with a
//! `'reply'` item carrying it; the others are fire-and-forget (their only
//! failure is a flow or session that has gone, which its own events tell).

use crate::convert::{self, AddrSpec};
use crate::errors::{self, invalid, Result};
use crate::items::NativeItem;
use crate::items::{Item, ReplyValue};
use crate::object::{Base, CloseTask, Runtime};
use crate::shared::{Reply, Shared, Source};
use napi::bindgen_prelude::{AsyncTask, Function, Object};
use napi::{Env, Task};
use napi_derive::napi;
use rtmfp_core::crypto::flash::epd::{epd_for_fingerprint, epd_for_uri};
use rtmfp_core::endpoint::{Endpoint as CoreEndpoint, SessionHandle};
use rtmfp_core::flow::MessageOptions;
use rtmfp_core::host::{options, Host};
use rtmfp_core::runtime::{parse_uri, RuntimeError};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

/// Options of one message (`NativeEndpoint.send`); durations in ms.
#[napi(object)]
pub struct NativeSendOptions {
    pub deadline: Option<f64>,
    pub start_deadline: Option<f64>,
    pub retransmit: Option<bool>,
    /// The message number of an earlier message of the same flow.
    pub parent: Option<f64>,
}

/// One RTMFP endpoint: identity, sockets, I/O thread, dispatcher thread.
#[napi]
///
/// Every method takes `&self` (state that changes is behind a `Mutex`):
/// napi-rs keeps a method's borrow of its object until the `AsyncTask` it
/// returns settles, and a `&mut self` `close` would make every call made
/// meanwhile throw.
pub struct NativeEndpoint {
    base: Base,
}

fn session_handle(session: f64) -> Result<SessionHandle> {
    Ok(SessionHandle(convert::id(session, "session")?))
}

impl NativeEndpoint {
    fn reply(&self, request: u32) -> Result<Reply> {
        self.base.reply(request)
    }

    /// Runs `f` on the I/O thread with flow `flow` of session `session`
    /// (checked here), without waiting: a call whose only failure is a
    /// flow or session that has gone, which its own events tell.
    fn on_flow<F>(&self, session: f64, flow: f64, f: F) -> Result<()>
    where
        F: FnOnce(&mut CoreEndpoint, Instant, SessionHandle, u64) + Send + 'static,
    {
        let session = session_handle(session)?;
        let flow = convert::id(flow, "flow")?;
        self.base
            .shared
            .post(move |ep, now| f(ep, now, session, flow))
    }

    /// Opens a session to `epd` at `specs`, resolving names on a thread of
    /// its own first if there are any; replies with the session number.
    fn connect_to(&self, request: u32, epd: Vec<u8>, specs: Vec<AddrSpec>) -> Result<()> {
        self.base
            .with_addrs(request, specs, move |addrs, reply, shared| {
                shared.post(move |ep, now| {
                    let r = ep.connect(now, epd, &addrs);
                    reply.send(Item::reply(
                        request,
                        r.map(|s| ReplyValue::Id(s.0)).map_err(RuntimeError::from),
                    ));
                })
            })
    }
}

crate::object::base_members!(NativeEndpoint);

#[napi]
impl NativeEndpoint {
    /// Makes an identity, binds the sockets and starts the I/O and
    /// dispatcher threads, with the endpoint options of core's table
    /// (`bind`, `server`, `openTimeout`, ...; see `options.rs`).  `onItems` receives every event and reply, in
    /// batches, on the JS thread.
    #[napi(constructor)]
    pub fn new(
        env: Env,
        options: Object<'_>,
        on_items: Function<'_, Vec<NativeItem>, ()>,
    ) -> Result<Self> {
        let runtime = Runtime::read(&env, &options, options::Object::Endpoint)?;
        let (host, peer_id) = runtime.start(Host::start_plain)?;
        Ok(NativeEndpoint {
            base: Base::start(&env, Arc::new(host), Source::runtime(), peer_id, on_items)?,
        })
    }

    /// Connects to the server of an `rtmfp://host[:port]/app` URI (throws
    /// for a malformed one); replies with the session number.  Events
    /// follow: `sessionOpened` or `sessionOpenFailed`.
    #[napi]
    pub fn connect_uri(&self, request: u32, uri: String) -> Result<()> {
        self.base.shared.check_open()?;
        let (host, port) = parse_uri(&uri).map_err(errors::from_runtime)?;
        let spec = match host.parse::<IpAddr>() {
            Ok(ip) => AddrSpec::Ready(SocketAddr::new(ip, port)),
            Err(_) => AddrSpec::Name(host, port),
        };
        self.connect_to(request, epd_for_uri(&uri, None), vec![spec])
    }

    /// Connects to the peer `peerId` (64 hex digits) at `addresses`
    /// (`"host:port"`); replies with the session number.
    #[napi]
    pub fn connect_peer(
        &self,
        request: u32,
        peer_id: String,
        addresses: Vec<String>,
    ) -> Result<()> {
        self.base.shared.check_open()?;
        let id = convert::peer_id(&peer_id)?;
        let specs = convert::addr_specs(&addresses, "addresses")?;
        self.connect_to(request, epd_for_fingerprint(&id), specs)
    }

    /// Opens a sending flow; replies with the flow number.
    #[napi]
    pub fn open_flow(
        &self,
        request: u32,
        session: f64,
        metadata: &[u8],
        priority: f64,
        association: Option<f64>,
    ) -> Result<()> {
        let session = session_handle(session)?;
        if metadata.len() > convert::MAX_METADATA {
            return Err(invalid(format!(
                "metadata is {} bytes; at most {} fit",
                metadata.len(),
                convert::MAX_METADATA
            )));
        }
        let priority = convert::priority(priority)?;
        let association = association
            .map(|a| convert::id(a, "association"))
            .transpose()?;
        let metadata = metadata.to_vec();
        let reply = self.reply(request)?;
        self.base.shared.post(move |ep, _| {
            let r = ep.open_flow(session, &metadata, priority, association);
            reply.send(Item::reply(
                request,
                r.map(ReplyValue::Id).map_err(RuntimeError::from),
            ));
        })
    }

    /// Queues one message (copied once); replies with its message number.
    /// Its receipt follows: `messageDelivered` or `messageAbandoned`.
    #[napi]
    pub fn send(
        &self,
        request: u32,
        session: f64,
        flow: f64,
        data: &[u8],
        options: NativeSendOptions,
    ) -> Result<()> {
        let session = session_handle(session)?;
        let flow = convert::id(flow, "flow")?;
        let options = MessageOptions {
            finish_within: options
                .deadline
                .map(|d| convert::millis(d, "deadline"))
                .transpose()?,
            start_within: options
                .start_deadline
                .map(|d| convert::millis(d, "startDeadline"))
                .transpose()?,
            no_retransmit: options.retransmit == Some(false),
            parent: options
                .parent
                .map(|p| convert::id(p, "parent"))
                .transpose()?,
        };
        let data = data.to_vec();
        let reply = self.reply(request)?;
        self.base.shared.post(move |ep, now| {
            let r = ep.send(now, session, flow, &data, options);
            reply.send(Item::reply(
                request,
                r.map(ReplyValue::Id).map_err(RuntimeError::from),
            ));
        })
    }

    /// Closes a sending flow after what is queued; `flowComplete` follows.
    #[napi]
    pub fn close_flow(&self, session: f64, flow: f64) -> Result<()> {
        self.on_flow(session, flow, |ep, now, s, f| {
            let _ = ep.close_flow(now, s, f);
        })
    }

    /// Accepts a receiving flow; `order` is `'sequence'` or `'network'`.
    #[napi]
    pub fn accept_flow(&self, session: f64, flow: f64, order: String) -> Result<()> {
        let order = convert::delivery_order(&order)?;
        self.on_flow(session, flow, move |ep, now, s, f| {
            let _ = ep.accept_flow(now, s, f, order);
        })
    }

    /// Rejects a receiving flow; the sender sees `flowRejected` with `code`.
    #[napi]
    pub fn reject_flow(&self, session: f64, flow: f64, code: f64) -> Result<()> {
        let code = convert::id(code, "code")?;
        self.on_flow(session, flow, move |ep, _, s, f| {
            let _ = ep.reject_flow(s, f, code);
        })
    }

    /// Holds back (or delivers again) a receiving flow's messages.
    #[napi]
    pub fn set_flow_suspended(&self, session: f64, flow: f64, suspended: bool) -> Result<()> {
        self.on_flow(session, flow, move |ep, now, s, f| {
            let _ = ep.set_flow_suspended(now, s, f, suspended);
        })
    }

    /// Closes a session in order or, with `abrupt`, at once; an opening
    /// session is abandoned.  `sessionClosed` or `sessionOpenFailed`
    /// follows.
    #[napi]
    pub fn close_session(&self, session: f64, abrupt: bool) -> Result<()> {
        let session = session_handle(session)?;
        self.base.shared.post(move |ep, now| {
            let _ = ep.close(now, session, abrupt);
        })
    }

    /// Replies (`sessionStatsReply`) with an open session's counters.
    #[napi]
    pub fn session_stats(&self, request: u32, session: f64) -> Result<()> {
        let session = session_handle(session)?;
        let reply = self.reply(request)?;
        self.base.shared.post(move |ep, _| {
            let info = ep.session_info(session).map(Box::new);
            reply.send(Item::reply(request, Ok(ReplyValue::Session(info))));
        })
    }

    /// Replies (`statsReply`) with the endpoint's and the I/O thread's
    /// counters.  The returned promise only tells that the request ran.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn stats(&self, request: u32) -> Result<AsyncTask<StatsTask>> {
        let reply = self.reply(request)?;
        Ok(AsyncTask::new(StatsTask {
            shared: self.base.shared.clone(),
            reply: Some(reply),
        }))
    }

    /// Closes every session in order, waits at most `timeoutMs` for the
    /// far ends, stops both threads.  Resolves to whether everything
    /// closed cleanly in time; the last events (then `end`) reach the
    /// callback before the threadsafe function goes.
    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn close(&self, env: Env, timeout_ms: f64) -> Result<AsyncTask<CloseTask>> {
        self.base.close(&env, timeout_ms)
    }
}

/// `stats()` on a libuv worker (`Handle::stats` waits for the I/O thread).
pub struct StatsTask {
    shared: Arc<Shared>,
    reply: Option<Reply>,
}

impl Task for StatsTask {
    type Output = ();
    type JsValue = ();

    fn compute(&mut self) -> napi::Result<()> {
        if let Some(reply) = self.reply.take() {
            let request = reply.request();
            match self.shared.handle() {
                Ok(handle) => {
                    let result = handle.stats().map(|s| ReplyValue::Stats(Box::new(s)));
                    reply.send(Item::reply(request, result));
                }
                // Dropping the reply answers ERR_RTMFP_CLOSED.
                Err(_) => drop(reply),
            }
        }
        Ok(())
    }

    fn resolve(&mut self, _: Env, _: ()) -> napi::Result<()> {
        Ok(())
    }
}
