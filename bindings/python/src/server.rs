//! `Server`: the rendezvous server (`rtmfp_core::rendezvous::ServerHandle`)
//! with Python hooks.
//!
//! Python is never called on the I/O thread: the veto hooks (`on_connect`,
//! `on_publish`, `on_play`) use core's ask mode (`rendezvous::Asks`, on
//! for a kind while its hook is set).  The server parks the request and
//! emits `Asked`; the hook runs on the thread that reads the server's
//! events, when that event is converted (to a `ServerAsk`), and its
//! verdict goes back with `ServerHandle::answer`, so the client is
//! answered only then: a refusal is "NetConnection.Connect.Rejected" (or
//! "NetStream.Publish.BadName" / "NetStream.Play.Failed") with the reason
//! as description.  Nobody reading events within `hook_timeout` refuses
//! with core's `NO_ANSWER`.  `on_disconnect` is told when `disconnected`
//! is converted.  Developer keys (`keys=`) are checked in Rust first.

use crate::convert::{self, duration, AddrList, DEFAULT_CLOSE_TIMEOUT};
use crate::errors::{self, OrRaise};
use crate::events;
use crate::layer::{self, callback_failed, lock, verdict, Layered, Outbox};
use crate::plumbing::event_iterator;
use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyInt, PyList, PyString, PyTuple};
use pyo3::PyTraverseError;
use rtmfp_core::endpoint::SessionHandle;
use rtmfp_core::flash::peer_id::to_hex;
use rtmfp_core::host::options::{Object, OptionValue};
use rtmfp_core::host::{Describe, Description, Value as Described};
use rtmfp_core::rendezvous::cluster::redis::ClusterConfig;
use rtmfp_core::rendezvous::{Asks, Hooks, ServerEvent, ServerHandle};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The Python hooks.
#[derive(Default)]
struct PyHooks {
    on_connect: Option<Py<PyAny>>,
    on_publish: Option<Py<PyAny>>,
    on_play: Option<Py<PyAny>>,
    on_disconnect: Option<Py<PyAny>>,
}

/// What the server's GC support visits and `close` releases.
impl layer::Callbacks for PyHooks {
    fn held(&self) -> impl Iterator<Item = &Py<PyAny>> {
        self.all().into_iter().flatten()
    }
}

impl PyHooks {
    /// Core's ask mode: a kind is asked about while its hook is set.
    fn asks(&self, deadline: Duration) -> Asks {
        Asks {
            connect: self.on_connect.is_some(),
            publish: self.on_publish.is_some(),
            play: self.on_play.is_some(),
            deadline,
            ..Asks::default()
        }
    }

    fn all(&self) -> [&Option<Py<PyAny>>; 4] {
        [
            &self.on_connect,
            &self.on_publish,
            &self.on_play,
            &self.on_disconnect,
        ]
    }
}

/// An RTMFP rendezvous server.  See the `rtmfp.Server` documentation.
#[pyclass(frozen, subclass, module = "rtmfp._rtmfp", name = "Server")]
pub(crate) struct Server {
    live: Arc<Layered<ServerHandle>>,
    peer_id: String,
    hooks: Mutex<PyHooks>,
    /// How long a request waits for its hook (`hook_timeout`).
    hook_timeout: Duration,
    /// Peer IDs by session, from `connected` events (for the events that
    /// name only the session).
    clients: Mutex<HashMap<SessionHandle, Option<String>>>,
    outbox: Outbox,
}

/// The `keys` argument as core's option: none (any key), the path of a
/// file of keys (`keys_file`) or a list of keys (`keys`).
fn keys_option(keys: Option<&Bound<'_, PyAny>>) -> PyResult<(&'static str, Option<OptionValue>)> {
    let Some(keys) = keys else {
        return Ok(("keys", None));
    };
    let py = keys.py();
    if keys.is_instance_of::<PyString>() || keys.hasattr("__fspath__")? {
        let path: std::path::PathBuf = py
            .import("os")?
            .call_method1("fspath", (keys,))?
            .extract()?;
        return Ok(("keys_file", Some(OptionValue::Path(path))));
    }
    let mut list = Vec::new();
    for key in keys.try_iter().map_err(|_| {
        errors::invalid(
            py,
            "keys must be None (any key), a list of keys or the path of a key file",
        )
    })? {
        list.push(OptionValue::Text(key?.extract::<String>()?));
    }
    Ok(("keys", Some(OptionValue::List(list))))
}

/// What a veto hook answered.
enum Answer<'py> {
    /// Decided: `Some(reason)` refuses.
    Now(Option<String>),
    /// An awaitable whose result decides (an `async def` hook).
    Later(Bound<'py, PyAny>),
}

fn is_awaitable(py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<bool> {
    py.import("inspect")?
        .call_method1("isawaitable", (value,))?
        .is_truthy()
}

fn check_hook(py: Python<'_>, hook: &Option<Py<PyAny>>, name: &str) -> PyResult<()> {
    match hook {
        Some(h) if !h.bind(py).is_callable() => Err(pyo3::exceptions::PyTypeError::new_err(
            format!("{name} must be callable (or None)"),
        )),
        _ => Ok(()),
    }
}

impl Server {
    fn hook(&self, py: Python<'_>, pick: fn(&PyHooks) -> &Option<Py<PyAny>>) -> Option<Py<PyAny>> {
        pick(&lock(&self.hooks)).as_ref().map(|h| h.clone_ref(py))
    }

    fn set_hook(
        &self,
        py: Python<'_>,
        value: Option<Py<PyAny>>,
        name: &str,
        pick: fn(&mut PyHooks) -> &mut Option<Py<PyAny>>,
    ) -> PyResult<()> {
        check_hook(py, &value, name)?;
        let (old, asks) = {
            let mut hooks = lock(&self.hooks);
            let old = std::mem::replace(pick(&mut hooks), value);
            (old, hooks.asks(self.hook_timeout))
        };
        drop(old);
        // Requests of a kind wait for Python only while its hook is set
        // (a closed server asks nothing: nothing to tell it).
        let _ = self.live.with(py, move |s| s.set_asks(asks));
        Ok(())
    }

    /// Runs the hook a parked request (an `ask` event) waits for, sends
    /// its verdict and adds it to the event (`accepted`, `pending`,
    /// `reason`).
    fn on_ask(&self, py: Python<'_>, d: &mut Description) -> PyResult<()> {
        let id = match d.get("id") {
            Some(Described::U64(id)) => *id,
            _ => 0,
        };
        let what = events::text(d, "what").unwrap_or_default().to_owned();
        let session = events::session_of(d).map_or(0, |s| s.0);
        let peer_id = events::peer_hex(d, "peer_id");
        let app = events::text(d, "app").unwrap_or_default();
        let (hook, args, target) = match what.as_str() {
            "connect" => (
                self.hook(py, |h| &h.on_connect),
                PyTuple::new(
                    py,
                    [
                        peer_id.into_pyobject(py)?.into_any(),
                        PyString::new(py, app).into_any(),
                        events::text(d, "key").into_pyobject(py)?.into_any(),
                    ],
                )?,
                format!("client session {session}"),
            ),
            kind => (
                if kind == "publish" {
                    self.hook(py, |h| &h.on_publish)
                } else {
                    self.hook(py, |h| &h.on_play)
                },
                PyTuple::new(
                    py,
                    [
                        peer_id.into_pyobject(py)?.into_any(),
                        PyString::new(py, events::text(d, "name").unwrap_or("")).into_any(),
                    ],
                )?,
                format!("the {what}er (session {session})"),
            ),
        };
        let hook_name = format!("on_{what}");
        let (mut reason, pending) = match self.decide(py, hook, &hook_name, args, &target) {
            Answer::Now(reason) => (reason, false),
            Answer::Later(awaitable) => {
                match self.await_verdict(py, id, awaitable, &hook_name, &target) {
                    Ok(()) => (None, true),
                    Err(e) => {
                        let consequence = format!("{target} was refused");
                        self.outbox
                            .push_error(callback_failed(py, e, &hook_name, &consequence));
                        (Some(format!("the server's {hook_name} failed")), false)
                    }
                }
            }
        };
        if !pending {
            let decision = match &reason {
                None => Ok(()),
                Some(r) => Err(r.clone()),
            };
            let applied = match self.live.with(py, move |s| s.answer(id, decision)) {
                Ok(applied) => applied,
                Err(_) => Err(rtmfp_core::rendezvous::AskError::Stopped),
            };
            if let Err(e) = applied {
                reason = Some(rtmfp_core::host::verdict_failure(id, &e).message);
            }
        }
        events::set(d, "accepted", !pending && reason.is_none());
        events::set(d, "pending", pending);
        events::set(d, "reason", reason);
        Ok(())
    }

    /// Runs a veto hook: `Now(Some(reason))` if it refused or raised (then
    /// the exception is reported), `Now(None)` if it accepted (or there is
    /// none), `Later` if it returned an awaitable (an `async def` hook).
    /// `target` names the client in messages.
    fn decide<'py>(
        &self,
        py: Python<'py>,
        hook: Option<Py<PyAny>>,
        name: &str,
        args: Bound<'py, PyTuple>,
        target: &str,
    ) -> Answer<'py> {
        let Some(hook) = hook else {
            return Answer::Now(None);
        };
        let default = format!("refused by the server's {name}");
        let answer = hook.bind(py).call1(args).and_then(|a| {
            if is_awaitable(py, &a)? {
                return Ok(Answer::Later(a));
            }
            Ok(Answer::Now(verdict(&a, &default)?))
        });
        answer.unwrap_or_else(|e| {
            let consequence = format!("{target} was refused");
            self.outbox
                .push_error(callback_failed(py, e, name, &consequence));
            Answer::Now(Some(format!("the server's {name} failed")))
        })
    }

    /// Runs an async hook's awaitable as a task of the running asyncio
    /// loop; its result is the verdict on ask `id`, sent when it is done
    /// (an exception or a cancellation refuses, and is logged).  Fails
    /// (and closes the awaitable) without a running loop: an async hook
    /// needs the asyncio API.
    fn await_verdict(
        &self,
        py: Python<'_>,
        id: u64,
        awaitable: Bound<'_, PyAny>,
        name: &str,
        target: &str,
    ) -> PyResult<()> {
        let asyncio = py.import("asyncio")?;
        if asyncio.call_method0("get_running_loop").is_err() {
            if awaitable.hasattr("close")? {
                let _ = awaitable.call_method0("close");
            }
            return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                "{name} is async: it needs a running asyncio loop (read the server's events \
                 with the asyncio API)"
            )));
        }
        let task = asyncio.call_method1("ensure_future", (awaitable,))?;
        let live = self.live.clone();
        let name = name.to_owned();
        let consequence = format!("{target} was refused");
        let done = pyo3::types::PyCFunction::new_closure(
            py,
            None,
            None,
            move |args: &Bound<'_, PyTuple>, _kwargs: Option<&Bound<'_, PyDict>>| -> PyResult<()> {
                let py = args.py();
                let task = args.get_item(0)?;
                let default = format!("refused by the server's {name}");
                let decision = match task
                    .call_method0("result")
                    .and_then(|a| verdict(&a, &default))
                {
                    Ok(None) => Ok(()),
                    Ok(Some(reason)) => Err(reason),
                    Err(e) => {
                        // Logged; there is no event read to raise it from.
                        let _ = callback_failed(py, e, &name, &consequence);
                        Err(format!("the server's {name} failed"))
                    }
                };
                // A late verdict (expired, client gone, closed) does
                // nothing; the ServerAskEnded event told.
                let _ = live.with(py, move |s| s.answer(id, decision));
                Ok(())
            },
        )?;
        task.call_method1("add_done_callback", (done,))?;
        Ok(())
    }

    fn disconnect_session(&self, py: Python<'_>, session: SessionHandle) -> PyResult<bool> {
        self.live
            .with(py, move |s| s.disconnect(session))?
            .or_raise(py)
    }

    fn peer_of(&self, session: SessionHandle) -> Option<String> {
        lock(&self.clients).get(&session).cloned().flatten()
    }

    /// Converts one server event through core's description, adding
    /// Python's own fields: the peer ID of a stream event's client, the
    /// compatibility `accepted` and `reason` of an outcome, a hook's
    /// verdict (see [`Self::on_ask`]).
    fn convert(&self, py: Python<'_>, event: ServerEvent) -> PyResult<Py<PyAny>> {
        let mut d = events::describe(event);
        let session = events::session_of(&d).unwrap_or(SessionHandle(0));
        match d.kind {
            "connected" => {
                let peer_id = events::peer_hex(&d, "peer_id");
                lock(&self.clients).insert(session, peer_id);
            }
            "disconnected" => {
                lock(&self.clients).remove(&session);
                if let Some(hook) = self.hook(py, |h| &h.on_disconnect) {
                    if let Err(e) = hook.bind(py).call1((events::peer_hex(&d, "peer_id"),)) {
                        self.outbox.push_error(callback_failed(
                            py,
                            e,
                            "on_disconnect",
                            "nothing else was done",
                        ));
                    }
                }
            }
            "published" | "unpublished" | "playing" | "stream_rejected" => {
                events::set(&mut d, "peer_id", self.peer_of(session));
            }
            "ask" => self.on_ask(py, &mut d)?,
            _ => {}
        }
        if matches!(d.kind, "connected" | "published" | "playing") {
            events::set(&mut d, "accepted", true);
            events::set(&mut d, "reason", Described::Null);
        }
        events::construct(py, &events::Numbers, d)
    }

    pub(crate) fn read(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<Py<PyAny>>> {
        let deadline = layer::deadline(py, timeout)?;
        let live = &self.live;
        self.outbox.next(
            py,
            || live.next_event(py, deadline),
            |py, e| self.convert(py, e),
        )
    }

    fn items(&self, py: Python<'_>) -> PyResult<Vec<layer::Item>> {
        let raw = self.live.drain();
        self.outbox.drain(py, raw, |py, e| self.convert(py, e))
    }
}

#[pymethods]
impl Server {
    #[new]
    #[pyo3(signature = (
        bind = None,
        *,
        keys = None,
        on_connect = None,
        on_publish = None,
        on_play = None,
        on_disconnect = None,
        keepalive = Some((15.0, 10.0)),
        relay = None,
        key_log = None,
        turn = None,
        turn_username = None,
        turn_password = None,
        cluster = None,
        max_streams_per_client = None,
        max_names_per_client = None,
        max_flows_per_session = None,
        hook_timeout = None,
        recv_coalesce = None,
        hostname = None,
        open_timeout = None,
        idle_timeout = None,
        keepalive_interval = None,
        dh_groups = None,
        hmac_policy = None,
        sseq_policy = None,
        max_datagram_size = None,
        send_buffer = None,
        receive_buffer = None,
        event_queue_limit = None,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        bind: Option<AddrList>,
        keys: Option<&Bound<'_, PyAny>>,
        on_connect: Option<Py<PyAny>>,
        on_publish: Option<Py<PyAny>>,
        on_play: Option<Py<PyAny>>,
        on_disconnect: Option<Py<PyAny>>,
        keepalive: Option<(f64, f64)>,
        relay: Option<bool>,
        key_log: Option<std::path::PathBuf>,
        turn: Option<String>,
        turn_username: Option<String>,
        turn_password: Option<String>,
        cluster: Option<String>,
        max_streams_per_client: Option<i64>,
        max_names_per_client: Option<i64>,
        max_flows_per_session: Option<i64>,
        hook_timeout: Option<f64>,
        recv_coalesce: Option<f64>,
        hostname: Option<String>,
        open_timeout: Option<f64>,
        idle_timeout: Option<f64>,
        keepalive_interval: Option<f64>,
        dh_groups: Option<Vec<i64>>,
        hmac_policy: Option<String>,
        sseq_policy: Option<String>,
        max_datagram_size: Option<i64>,
        send_buffer: Option<i64>,
        receive_buffer: Option<i64>,
        event_queue_limit: Option<i64>,
    ) -> PyResult<Self> {
        let hooks = PyHooks {
            on_connect,
            on_publish,
            on_play,
            on_disconnect,
        };
        for (hook, name) in
            hooks
                .all()
                .into_iter()
                .zip(["on_connect", "on_publish", "on_play", "on_disconnect"])
        {
            check_hook(py, hook, name)?;
        }
        use OptionValue::{Bool, Seconds};
        let keepalive = match keepalive {
            Some((server, peer)) => OptionValue::List(vec![Seconds(server), Seconds(peer)]),
            None => OptionValue::None,
        };
        let keywords = [
            keys_option(keys)?,
            ("keepalive", Some(keepalive)),
            // Asking from the start: no request is decided before
            // Python can.
            ("ask_connect", Some(Bool(hooks.on_connect.is_some()))),
            ("ask_publish", Some(Bool(hooks.on_publish.is_some()))),
            ("ask_play", Some(Bool(hooks.on_play.is_some()))),
        ]
        .into_iter()
        .chain(convert::keywords![
            relay,
            hook_timeout,
            key_log,
            turn,
            turn_username,
            turn_password,
            cluster,
            max_streams_per_client,
            max_names_per_client,
            max_flows_per_session,
            recv_coalesce,
            hostname,
            open_timeout,
            idle_timeout,
            keepalive_interval,
            dh_groups,
            hmac_policy,
            sseq_policy,
            max_datagram_size,
            send_buffer,
            receive_buffer,
            event_queue_limit,
        ]);
        let options = convert::options_with_bind(py, bind, keywords)?;
        let hook_timeout = options.asks().deadline;
        let shown = convert::addr_strings(&options.bind(Object::Server)).join(", ");
        // The server's identity and the TURN relay's name take a moment:
        // release the GIL.
        let runtime = py
            .detach(|| {
                let identity = options.identity(Object::Server)?;
                options.runtime_config(Object::Server, Arc::new(identity))
            })
            .map_err(|f| errors::failure(py, f))?;
        let asks = Hooks {
            asks: options.asks(),
            ..Hooks::default()
        };
        let config = options.server_config();
        let cluster = options.cluster();
        let handle = py.detach(move || match cluster {
            None => ServerHandle::start_with(runtime, config, asks),
            // A node of a rendezvous cluster on Redis (docs/cluster.md).
            Some(url) => {
                ServerHandle::start_clustered(runtime, config, asks, ClusterConfig::new(&url))
            }
        });
        let handle = handle.map_err(|e| errors::os_error(e, &shown))?;
        let peer_id = handle.fingerprint_hex();
        Ok(Server {
            live: Arc::new(Layered::new(handle)),
            peer_id,
            hooks: Mutex::new(hooks),
            hook_timeout,
            clients: Mutex::new(HashMap::new()),
            outbox: Outbox::default(),
        })
    }

    /// The server's peer ID (its certificate fingerprint), 64 hex digits.
    #[getter]
    fn peer_id(&self) -> String {
        self.peer_id.clone()
    }

    /// The first bound address, "ip:port" (the port the system picked for
    /// port 0).
    #[getter]
    fn address(&self) -> String {
        convert::first_addr(&self.live.local_addrs).unwrap_or_default()
    }

    /// Every bound address.
    #[getter]
    fn addresses(&self) -> Vec<String> {
        convert::addr_strings(&self.live.local_addrs)
    }

    /// Whether the server is closed.
    #[getter]
    fn closed(&self) -> bool {
        self.live.is_closed()
    }

    /// `on_connect(peer_id, app, key)`: True accepts the client, False or
    /// None rejects it, a `str` rejects it with that reason (its
    /// "NetConnection.Connect.Rejected" description).  Runs when the
    /// `ask` event is read, before the client is answered (see the class
    /// documentation).
    #[getter]
    fn get_on_connect(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.hook(py, |h| &h.on_connect)
    }

    #[setter]
    fn set_on_connect(&self, py: Python<'_>, hook: Option<Py<PyAny>>) -> PyResult<()> {
        self.set_hook(py, hook, "on_connect", |h| &mut h.on_connect)
    }

    /// `on_publish(peer_id, name)`, for streams published through the
    /// server, before the publisher is answered; refusing gives it
    /// "NetStream.Publish.BadName".
    #[getter]
    fn get_on_publish(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.hook(py, |h| &h.on_publish)
    }

    #[setter]
    fn set_on_publish(&self, py: Python<'_>, hook: Option<Py<PyAny>>) -> PyResult<()> {
        self.set_hook(py, hook, "on_publish", |h| &mut h.on_publish)
    }

    /// `on_play(peer_id, name)`, for streams played through the server,
    /// before the player is answered; refusing gives it
    /// "NetStream.Play.Failed".
    #[getter]
    fn get_on_play(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.hook(py, |h| &h.on_play)
    }

    #[setter]
    fn set_on_play(&self, py: Python<'_>, hook: Option<Py<PyAny>>) -> PyResult<()> {
        self.set_hook(py, hook, "on_play", |h| &mut h.on_play)
    }

    /// `on_disconnect(peer_id)`: a connected client went away.
    #[getter]
    fn get_on_disconnect(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.hook(py, |h| &h.on_disconnect)
    }

    #[setter]
    fn set_on_disconnect(&self, py: Python<'_>, hook: Option<Py<PyAny>>) -> PyResult<()> {
        self.set_hook(py, hook, "on_disconnect", |h| &mut h.on_disconnect)
    }

    /// The client sessions, connected or not.
    fn sessions<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let sessions = self.live.with(py, |s| s.sessions())?.or_raise(py)?;
        let out = PyList::empty(py);
        for c in sessions {
            out.append(events::construct(py, &events::Numbers, c.describe())?)?;
        }
        Ok(out)
    }

    /// The streams published through the server (DIRECT_CONNECTIONS
    /// streams never reach it).
    fn streams<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let streams = self.live.with(py, |s| s.streams())?.or_raise(py)?;
        let out = PyList::empty(py);
        for s in streams {
            out.append(events::construct(py, &events::Numbers, s.describe())?)?;
        }
        Ok(out)
    }

    /// Counters: connects, rejects, introductions, unknown_peers,
    /// media_in, relayed, relay_dropped.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.live.with(py, |s| s.stats())?.or_raise(py)?;
        let d = PyDict::new(py);
        d.set_item("connects", s.connects)?;
        d.set_item("rejects", s.rejects)?;
        d.set_item("introductions", s.introductions)?;
        d.set_item("unknown_peers", s.unknown_peers)?;
        d.set_item("media_in", s.media_in)?;
        d.set_item("relayed", s.relayed)?;
        d.set_item("relay_dropped", s.relay_dropped)?;
        Ok(d)
    }

    /// The peer ID registered under `name`, or None.
    fn lookup_name(&self, py: Python<'_>, name: &str) -> PyResult<Option<String>> {
        let name = name.to_owned();
        let peer = self
            .live
            .with(py, move |s| s.lookup_name(&name))?
            .or_raise(py)?;
        Ok(peer.map(|p| to_hex(&p)))
    }

    /// Disconnects a client, given by session number or peer ID; its
    /// session closes in order.  Returns whether there was such a client.
    fn disconnect(&self, py: Python<'_>, client: &Bound<'_, PyAny>) -> PyResult<bool> {
        let session = if client.is_instance_of::<PyInt>() {
            Some(SessionHandle(client.extract()?))
        } else {
            let want = crate::convert::hex(&crate::convert::peer_id(client)?);
            let sessions = self.live.with(py, |s| s.sessions())?.or_raise(py)?;
            sessions
                .into_iter()
                .find(|c| c.peer_id_hex().as_deref() == Some(want.as_str()))
                .map(|c| c.session)
        };
        match session {
            Some(s) => self.disconnect_session(py, s),
            None => Ok(false),
        }
    }

    /// The next event, waiting at most `timeout` seconds (None: as long
    /// as it takes); None on timeout.  Runs the hooks.  GIL released,
    /// Ctrl-C interrupts.  Once closed, the events left are still
    /// returned, without waiting; then it raises `ClosedError`.  Raises
    /// `CallbackError` when a hook raised (the event follows).
    #[pyo3(signature = (timeout = None))]
    fn next_event(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<Py<PyAny>>> {
        self.read(py, timeout)
    }

    /// A blocking iterator over events; it ends when the server is closed
    /// and its last events were read.
    fn events(slf: &Bound<'_, Self>) -> ServerEventIterator {
        ServerEventIterator(slf.clone().unbind())
    }

    /// Every event waiting now, without blocking.  Once closed: the
    /// events left, then an empty list.
    fn drain_events<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let items = self.items(py)?;
        self.outbox.drain_list(py, items)
    }

    /// For the asyncio dispatcher: whether the event stream has ended
    /// (closed, and nothing more will come; events may be left to read).
    fn _events_ended(&self) -> bool {
        self.live.events_ended()
    }

    /// For the asyncio dispatcher: events, with the exceptions of hooks in
    /// their place.
    fn _drain<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let items = self.items(py)?;
        self.outbox.drain_raw(py, items)
    }

    /// A file descriptor readable while events wait (and for good once
    /// closed).  Never read it.
    fn fileno(&self) -> i32 {
        self.live.fd()
    }

    /// Closes every session in order, waits at most `timeout` seconds and
    /// stops.  Releases the hooks.  The events left are still read.
    /// Idempotent; returns whether it closed cleanly in time.
    #[pyo3(signature = (timeout = DEFAULT_CLOSE_TIMEOUT))]
    fn close(&self, py: Python<'_>, timeout: f64) -> PyResult<bool> {
        let timeout: Duration = duration(py, timeout, "timeout")?;
        let clean = self.live.close(py, timeout);
        layer::release(&self.hooks);
        Ok(clean)
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        self.outbox.traverse(&self.hooks, &visit)
    }

    fn __clear__(&self) {
        self.outbox.clear(&self.hooks);
    }

    fn __repr__(&self) -> String {
        format!(
            "<rtmfp.Server {} peer {}{}>",
            self.address(),
            &self.peer_id[..self.peer_id.len().min(16)],
            if self.live.is_closed() { " closed" } else { "" }
        )
    }
}

event_iterator!(
    /// Iterates a server's events, blocking for each (GIL released, Ctrl-C
    /// interrupts); stops once the server is closed and its last events were
    /// read.
    ServerEventIterator(Py<Server>),
    |server, py| server.get().read(py, None)
);
