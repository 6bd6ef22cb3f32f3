//! `NetConnection` and `NetStream`: Flash's client API over
//! `rtmfp_core::flash::{NetConnection, NetStream}`.
//!
//! Each NetConnection is its own runtime (I/O thread, sockets, a fresh
//! identity) started by `start_connect`.  Its events come from the Flash
//! client layer's queue through [`Layered`], which gives the blocking
//! waits, the (duplicated) event fd for asyncio and the closed state.
//!
//! `on_peer_connect` uses core's per-stream ask (`NetStream::set_asks`),
//! so that Python is never called on the I/O thread: subscribers of a
//! stream without a callback are accepted in Rust, at once; for a stream
//! with one the client emits `PeerConnect` and waits, and the binding
//! calls the callback while converting that event (on the thread that
//! reads events) and answers with `accept_peer` / `reject_peer`.

use crate::convert::{
    self, copy_bytes, duration, hex, AddrList, BytesLike, PeerIdArg, DEFAULT_CLOSE_TIMEOUT,
};
use crate::errors::{self, Kind, OrRaise};
use crate::events::{self, Ids};
use crate::flash_events::{CallResult, NetStatus};
use crate::layer::{self, callback_failed, lock, verdict, Layered, Outbox};
use crate::plumbing::event_iterator;
use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};
use pyo3::PyTraverseError;
use rtmfp_core::flash::client::{ClientEvent, FlashClient, PeerStreamId, StreamId};
use rtmfp_core::flash::command::StatusInfo;
use rtmfp_core::flash::{
    NetConnection as CoreNetConnection, NetConnectionConfig, NetStream as CoreNetStream, Value,
};
use rtmfp_core::host::options::OptionValue;
use rtmfp_core::host::{outcome, Description, Field, Value as Described};
use rtmfp_core::rendezvous::{LOOKUP_NAME, REGISTER_NAME};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// Flash's `NetStream.DIRECT_CONNECTIONS`.
pub(crate) const DIRECT_CONNECTIONS: &str = "directConnections";
/// Flash's `NetStream.CONNECT_TO_FMS`: a stream through the server.
pub(crate) const CONNECT_TO_FMS: &str = "connectToFMS";

const REJECTED_BY_CALLBACK: &str = "rejected by the publisher's on_peer_connect";

/// What a NetStream is.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Target {
    Server,
    Direct,
    Peer(String),
}

impl Target {
    fn name(&self) -> &'static str {
        match self {
            Target::Server => "server",
            Target::Direct => "direct_connections",
            Target::Peer(_) => "peer",
        }
    }
}

struct StreamEntry {
    core: CoreNetStream,
    target: Target,
}

/// A connection to an RTMFP server with Flash's NetConnection semantics.
/// See the `rtmfp.NetConnection` documentation.
#[pyclass(frozen, subclass, module = "rtmfp._rtmfp", name = "NetConnection")]
pub(crate) struct NetConnection {
    /// Settings, until `start_connect` takes them.
    config: Mutex<Option<NetConnectionConfig>>,
    /// Set by `start_connect`.
    live: OnceLock<Arc<Layered<CoreNetConnection>>>,
    near_id: OnceLock<String>,
    uri: OnceLock<String>,
    /// `close()` before any connect.
    closed_early: AtomicBool,
    streams: Mutex<HashMap<StreamId, StreamEntry>>,
    /// `on_peer_connect` callbacks by stream.
    callbacks: Mutex<HashMap<StreamId, Py<PyAny>>>,
    outbox: Outbox,
}

fn not_connected(py: Python<'_>) -> PyErr {
    errors::err(
        py,
        Kind::Net,
        "the NetConnection is not connected: call connect(uri) first",
    )
}

/// The value of a call's answer, or `CallError` for `_error` (core's
/// words).
fn call_outcome(
    py: Python<'_>,
    ok: bool,
    first: Option<Py<PyAny>>,
    info: Option<StatusInfo>,
    what: &str,
) -> PyResult<Py<PyAny>> {
    if ok {
        return Ok(first.unwrap_or_else(|| py.None()));
    }
    Err(errors::refused(py, outcome::call_refusal(info, what)))
}

fn lookup_answer(py: Python<'_>, value: Py<PyAny>, name: &str) -> PyResult<String> {
    let answer = value.bind(py).extract::<String>().ok();
    outcome::lookup_answer(answer.as_deref(), name).map_err(|r| errors::refused(py, r))
}

/// A NetConnection's ids: its `NetStream` objects.
struct Streams<'a, 'py>(&'a Bound<'py, NetConnection>);

impl Ids for Streams<'_, '_> {
    fn stream(&self, py: Python<'_>, id: StreamId) -> PyResult<Py<PyAny>> {
        Ok(match NetConnection::stream_object(self.0, Some(id))? {
            Some(stream) => stream.into_any(),
            None => py.None(),
        })
    }
}

impl NetConnection {
    fn live(&self, py: Python<'_>) -> PyResult<&Arc<Layered<CoreNetConnection>>> {
        match self.live.get() {
            Some(l) => Ok(l),
            None if self.closed_early.load(Ordering::SeqCst) => {
                Err(errors::closed_as(py, "the NetConnection"))
            }
            None => Err(not_connected(py)),
        }
    }

    fn is_closed(&self) -> bool {
        self.closed_early.load(Ordering::SeqCst) || self.live.get().is_some_and(|l| l.is_closed())
    }

    /// Runs `f` with the core connection, GIL released, mapping errors.
    fn with<R, F>(&self, py: Python<'_>, f: F) -> PyResult<R>
    where
        R: Send,
        F: FnOnce(&CoreNetConnection) -> Result<R, rtmfp_core::flash::NetError> + Send,
    {
        self.live(py)?.with(py, f)?.or_raise(py)
    }

    /// `with` for what exists once connecting started: None before.
    fn once_live<R, F>(&self, py: Python<'_>, f: F) -> PyResult<Option<R>>
    where
        R: Send,
        F: FnOnce(&CoreNetConnection) -> Result<Option<R>, rtmfp_core::flash::NetError> + Send,
    {
        match self.live.get() {
            None => Ok(None),
            Some(_) => self.with(py, f),
        }
    }

    /// One of the server session's nonces, once open.
    fn nonce<'py>(
        &self,
        py: Python<'py>,
        pick: fn(&FlashClient) -> Option<&[u8]>,
    ) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let n = self.once_live(py, |c| {
            c.with_client(move |cl, _, _| pick(cl).map(<[u8]>::to_vec))
        })?;
        Ok(n.map(|n| PyBytes::new(py, &n)))
    }

    fn register_stream(&self, core: CoreNetStream, target: Target) {
        lock(&self.streams).insert(core.id(), StreamEntry { core, target });
    }

    fn stream_object(
        slf: &Bound<'_, Self>,
        id: Option<StreamId>,
    ) -> PyResult<Option<Py<NetStream>>> {
        let Some(id) = id else {
            return Ok(None);
        };
        let entry = lock(&slf.get().streams)
            .get(&id)
            .map(|e| (e.core.clone(), e.target.clone()));
        let Some((core, target)) = entry else {
            return Ok(None);
        };
        Ok(Some(Py::new(
            slf.py(),
            NetStream {
                nc: slf.clone().unbind(),
                core,
                target,
            },
        )?))
    }

    /// Converts one client event through core's description, adding
    /// Python's own fields (see below); runs `on_peer_connect` for a
    /// `PeerConnect` (see the module docs).
    fn convert(slf: &Bound<'_, Self>, py: Python<'_>, event: ClientEvent) -> PyResult<Py<PyAny>> {
        let this = slf.get();
        // Python's `UserControl.event`: core's event in words (Debug).
        let user_control = match &event {
            ClientEvent::UserControl { event, .. } => Some(format!("{event:?}")),
            _ => None,
        };
        let mut d = events::describe(event);
        match d.kind {
            "status" => {
                // `info`: the whole info object, its code, level and
                // description first.
                let mut head = Vec::new();
                for name in ["level", "code", "description"] {
                    let value = events::text(&d, name).unwrap_or_default();
                    head.push((name.to_owned(), Value::String(value.to_owned())));
                }
                if let Some(Field {
                    value: Described::Amf(Value::Object(info)),
                    ..
                }) = d.fields.iter_mut().find(|f| f.name == "info")
                {
                    info.properties.splice(0..0, head);
                }
            }
            "user_control" => events::set(&mut d, "event", user_control),
            "call_result" => {
                if let Described::F64(t) = events::take(&mut d, "transaction_id") {
                    events::set(&mut d, "transaction_id", t as u64);
                }
                let first = match d.get("args") {
                    Some(Described::List(args)) => args.first().cloned(),
                    _ => None,
                };
                events::set(&mut d, "result", first);
                if d.get("ok") == Some(&Described::Bool(true)) {
                    events::set(&mut d, "code", Described::Null);
                    events::set(&mut d, "description", Described::Null);
                }
            }
            "peer_connect" | "peer_stream_opened" => {
                let Some(&Described::PeerStream(id)) = d.get("id") else {
                    return Err(errors::err(py, Kind::Net, "a peer event without its id"));
                };
                let peer_hex = events::peer_hex(&d, "peer_id");
                if d.kind == "peer_connect" {
                    let (accepted, reason) = this.peer_connect(py, &d, id, peer_hex);
                    events::set(&mut d, "accepted", accepted);
                    events::set(&mut d, "reason", reason);
                }
            }
            "peer_stream_closed" => {
                // Python's event names the subscriber by its peer ID.
                events::take(&mut d, "peer");
            }
            _ => {}
        }
        events::construct(py, &Streams(slf), d)
    }

    /// Runs the stream's `on_peer_connect` (if any) on subscriber `id` and
    /// applies its verdict: whether it was accepted, and why not.
    fn peer_connect(
        &self,
        py: Python<'_>,
        d: &Description,
        id: PeerStreamId,
        peer_hex: Option<String>,
    ) -> (bool, Option<String>) {
        let callback = match d.get("stream") {
            Some(Described::Stream(s)) => lock(&self.callbacks).get(s).map(|c| c.clone_ref(py)),
            _ => None,
        };
        let name = events::text(d, "name").unwrap_or_default();
        let who = peer_hex
            .as_deref()
            .map_or_else(|| "?".to_owned(), |h| h[..16].to_owned());
        let decision: Option<String> = match callback {
            None => None,
            Some(cb) => {
                let answer = cb
                    .bind(py)
                    .call1((peer_hex, name))
                    .and_then(|a| verdict(&a, REJECTED_BY_CALLBACK));
                match answer {
                    Ok(decision) => decision,
                    Err(e) => {
                        let consequence =
                            format!("the subscriber {who}... of {name:?} was rejected");
                        self.outbox.push_error(callback_failed(
                            py,
                            e,
                            "on_peer_connect",
                            &consequence,
                        ));
                        Some("the publisher's on_peer_connect failed".to_owned())
                    }
                }
            }
        };
        let applied = match &decision {
            None => self.with(py, move |c| c.accept_peer(id)),
            Some(reason) => {
                let reason = reason.clone();
                self.with(py, move |c| c.reject_peer(id, &reason))
            }
        };
        match (decision, applied) {
            (None, Ok(())) => (true, None),
            (Some(reason), _) => (false, Some(reason)),
            (None, Err(e)) => (
                false,
                Some(format!("the subscriber is gone: {}", e.value(py))),
            ),
        }
    }

    /// The next event (see [`Outbox::next`]).
    pub(crate) fn read(
        slf: &Bound<'_, Self>,
        py: Python<'_>,
        timeout: Option<f64>,
    ) -> PyResult<Option<Py<PyAny>>> {
        let this = slf.get();
        let live = this.live(py)?.clone();
        let deadline = layer::deadline(py, timeout)?;
        this.outbox.next(
            py,
            || live.next_event(py, deadline),
            |py, e| Self::convert(slf, py, e),
        )
    }

    fn items(slf: &Bound<'_, Self>, py: Python<'_>) -> PyResult<Vec<layer::Item>> {
        let this = slf.get();
        let raw = match this.live.get() {
            Some(live) => live.drain(),
            None => Vec::new(),
        };
        this.outbox
            .drain(py, raw, |py, e| Self::convert(slf, py, e))
    }

    /// Sends a call; its transaction ID.
    fn send_call(&self, py: Python<'_>, command: &str, args: Vec<Value>) -> PyResult<u64> {
        let command = command.to_owned();
        let txn = self.with(py, move |c| c.call(&command, args))?;
        Ok(txn as u64)
    }

    /// Calls and waits for the answer's first value (`CallError` for
    /// `_error`).
    fn call_blocking(
        &self,
        py: Python<'_>,
        command: &str,
        args: Vec<Value>,
        timeout: f64,
        what: &str,
    ) -> PyResult<Py<PyAny>> {
        let timeout = duration(py, timeout, "timeout")?;
        let txn = self.send_call(py, command, args)?;
        let answer = self.live(py)?.wait_for(py, timeout, |e| match e {
            ClientEvent::CallResult {
                transaction_id,
                ok,
                response,
            } if *transaction_id as u64 == txn => Some((*ok, response.clone())),
            _ => None,
        })?;
        let Some((ok, response)) = answer else {
            return Err(errors::err(
                py,
                Kind::Timeout,
                format!(
                    "{what}: no answer from the server within {:.3} s",
                    timeout.as_secs_f64()
                ),
            ));
        };
        let first = match response.args.first() {
            Some(v) => Some(crate::amf::to_python(py, v)?),
            None => None,
        };
        let info = if ok { None } else { response.status_info() };
        call_outcome(py, ok, first, info, what)
    }
}

/// A `*args` of AMF values (read with `amf_args`): the stubs type each
/// `_Amf`.
type AmfArgs<'a, 'py> = &'a Bound<'py, PyTuple>;

/// The AMF values of a `*args`.
fn amf_args(args: AmfArgs<'_, '_>) -> PyResult<Vec<Value>> {
    args.iter().map(|a| crate::amf::to_value(&a)).collect()
}

#[pymethods]
impl NetConnection {
    #[new]
    #[pyo3(signature = (
        uri = None,
        *,
        bind = None,
        args = None,
        max_peer_connections = None,
        hostname = None,
        open_timeout = None,
        idle_timeout = None,
        keepalive_interval = None,
        key_log = None,
        turn = None,
        turn_username = None,
        turn_password = None,
        direct_timeout = None,
        dh_groups = None,
        hmac_policy = None,
        sseq_policy = None,
        max_datagram_size = None,
        send_buffer = None,
        receive_buffer = None,
        max_flows_per_session = None,
        event_queue_limit = None,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        uri: Option<&str>,
        bind: Option<AddrList>,
        args: Option<&Bound<'_, PyAny>>,
        max_peer_connections: Option<i64>,
        hostname: Option<String>,
        open_timeout: Option<f64>,
        idle_timeout: Option<f64>,
        keepalive_interval: Option<f64>,
        key_log: Option<std::path::PathBuf>,
        turn: Option<String>,
        turn_username: Option<String>,
        turn_password: Option<String>,
        direct_timeout: Option<f64>,
        dh_groups: Option<Vec<i64>>,
        hmac_policy: Option<String>,
        sseq_policy: Option<String>,
        max_datagram_size: Option<i64>,
        send_buffer: Option<i64>,
        receive_buffer: Option<i64>,
        max_flows_per_session: Option<i64>,
        event_queue_limit: Option<i64>,
    ) -> PyResult<Self> {
        let keywords = convert::keywords![
            max_peer_connections,
            direct_timeout,
            hostname,
            open_timeout,
            idle_timeout,
            keepalive_interval,
            key_log,
            turn,
            turn_username,
            turn_password,
            dh_groups,
            hmac_policy,
            sseq_policy,
            max_datagram_size,
            send_buffer,
            receive_buffer,
            max_flows_per_session,
            event_queue_limit,
        ];
        let options = convert::options_with_bind(py, bind, keywords)?;
        // The TURN relay's name is resolved here: release the GIL.
        let mut config = py
            .detach(|| options.netconnection_config())
            .map_err(|f| errors::failure(py, f))?;
        if let Some(a) = args {
            for item in a.try_iter()? {
                config.args.push(crate::amf::to_value(&item?)?);
            }
        }
        let nc = NetConnection {
            config: Mutex::new(Some(config)),
            live: OnceLock::new(),
            near_id: OnceLock::new(),
            uri: OnceLock::new(),
            closed_early: AtomicBool::new(false),
            streams: Mutex::new(HashMap::new()),
            callbacks: Mutex::new(HashMap::new()),
            outbox: Outbox::default(),
        };
        if let Some(uri) = uri {
            nc.start_connect(py, uri)?;
        }
        Ok(nc)
    }

    /// Starts connecting to `uri` (`rtmfp://host[:port]/app[/KEY]`) and
    /// returns at once: a fresh identity, sockets and an I/O thread, then
    /// the session to the server.  The outcome arrives as a `NetStatus`
    /// event ("NetConnection.Connect.Success", ".Failed", ".Rejected").
    /// A NetConnection connects once.  Name resolution blocks (GIL
    /// released).
    fn start_connect(&self, py: Python<'_>, uri: &str) -> PyResult<()> {
        if self.closed_early.load(Ordering::SeqCst) {
            return Err(errors::closed_as(py, "the NetConnection"));
        }
        let Some(config) = lock(&self.config).take() else {
            return Err(errors::err(
                py,
                Kind::Net,
                "already connected: a NetConnection connects once; make a new one",
            ));
        };
        let attempt = config.clone();
        let uri_owned = uri.to_owned();
        let started = py.detach(move || CoreNetConnection::connect(&uri_owned, attempt));
        let nc = match started {
            Ok(nc) => nc,
            Err(e) => {
                let bind = convert::addr_strings(&config.bind).join(", ");
                *lock(&self.config) = Some(config);
                return Err(match e {
                    rtmfp_core::flash::NetError::Io(e) => errors::os_error(e, &bind),
                    other => errors::from_net(py, other),
                });
            }
        };
        let near_id = nc.near_id_hex();
        let layered = Layered::new(nc);
        let _ = self.near_id.set(near_id);
        let _ = self.uri.set(uri.to_owned());
        let _ = self.live.set(Arc::new(layered));
        Ok(())
    }

    /// Waits (GIL released, Ctrl-C interrupts) for the outcome of the
    /// connect among the events not read yet (they stay in the event
    /// stream).  Returns once connected; raises `ConnectError` (with
    /// `code` "NetConnection.Connect.Rejected" or ".Failed") or
    /// `TimeoutError`.
    #[pyo3(signature = (timeout = 10.0))]
    fn wait_connected(&self, py: Python<'_>, timeout: f64) -> PyResult<()> {
        let t = duration(py, timeout, "timeout")?;
        let live = self.live(py)?.clone();
        if live.with(py, |c| c.is_connected().unwrap_or(false))? {
            return Ok(());
        }
        let outcome = live.wait_for(py, t, |e| match e {
            ClientEvent::Status { stream: None, info } if outcome::ends_connect(&info.code) => {
                Some(info.clone())
            }
            _ => None,
        })?;
        let uri = self.uri.get().cloned().unwrap_or_default();
        match outcome {
            None => Err(errors::err(
                py,
                Kind::Timeout,
                format!("no answer from {uri} within {:.3} s", t.as_secs_f64()),
            )),
            Some(info) => connect_outcome(py, &info, &uri),
        }
    }

    /// The `rtmfp://` URI given to connect, if any.
    #[getter]
    fn uri(&self) -> Option<String> {
        self.uri.get().cloned()
    }

    /// Whether the connection to the server is up.
    #[getter]
    fn connected(&self, py: Python<'_>) -> bool {
        if self.is_closed() {
            return false;
        }
        match self.live.get() {
            Some(live) => live
                .with(py, |c| c.is_connected().unwrap_or(false))
                .unwrap_or(false),
            None => false,
        }
    }

    /// Whether `close()` was called (or the I/O thread stopped).
    #[getter]
    fn closed(&self) -> bool {
        self.is_closed()
    }

    /// Our peer ID (Flash's `nearID`), 64 hex digits: what a subscriber
    /// passes to `NetStream(nc, peer_id)`.  Known from `connect` on (each
    /// NetConnection has a fresh identity); `NetError` before.
    #[getter]
    fn near_id(&self, py: Python<'_>) -> PyResult<String> {
        self.near_id.get().cloned().ok_or_else(|| not_connected(py))
    }

    /// The server's peer ID (`farID`), 64 hex digits, once the session is
    /// open; None before.
    #[getter]
    fn far_id(&self, py: Python<'_>) -> PyResult<Option<String>> {
        self.once_live(py, |c| c.far_id_hex())
    }

    /// NEAR_NONCE of the server session (RFC 7425 §4.6.5), once open.
    #[getter]
    fn near_nonce<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        self.nonce(py, FlashClient::near_nonce)
    }

    /// FAR_NONCE of the server session, once open.
    #[getter]
    fn far_nonce<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        self.nonce(py, FlashClient::far_nonce)
    }

    /// The TURN relayed address, "ip:port", when the connection runs over
    /// a relay (``turn=``): the address peers and the server see.  None
    /// without one.
    #[getter]
    fn relayed_address(&self, py: Python<'_>) -> PyResult<Option<String>> {
        self.once_live(py, |c| Ok(c.relayed_addr().map(|a| a.to_string())))
    }

    /// The first bound local address, "ip:port" (None before connect).
    #[getter]
    fn address(&self) -> Option<String> {
        self.live
            .get()
            .and_then(|l| convert::first_addr(&l.local_addrs))
    }

    /// Most subscribers, pending or accepted, across all our
    /// DIRECT_CONNECTIONS streams (Flash's `maxPeerConnections`; default
    /// 8).  Lowering it keeps the subscribers already accepted.
    #[getter]
    fn get_max_peer_connections(&self, py: Python<'_>) -> PyResult<usize> {
        if let Some(config) = lock(&self.config).as_ref() {
            return Ok(config.client.max_peer_connections);
        }
        self.with(py, |c| {
            c.with_client(|cl, _, _| cl.config().max_peer_connections)
        })
    }

    #[setter]
    fn set_max_peer_connections(&self, py: Python<'_>, max: usize) -> PyResult<()> {
        // The range is the option's (core's table), as at construction.
        convert::options(
            py,
            [("max_peer_connections", Some(OptionValue::Int(max as i128)))],
        )?;
        if let Some(config) = lock(&self.config).as_mut() {
            config.client.max_peer_connections = max;
            return Ok(());
        }
        self.with(py, move |c| c.set_max_peer_connections(max))
    }

    /// Sends a server call `(command, txn, null, *args)` and returns its
    /// transaction ID at once; the answer arrives as a `CallResult` event.
    #[pyo3(signature = (command, *args))]
    fn start_call(&self, py: Python<'_>, command: &str, args: AmfArgs<'_, '_>) -> PyResult<u64> {
        self.send_call(py, command, amf_args(args)?)
    }

    /// Calls a server command and waits for the answer (GIL released,
    /// Ctrl-C interrupts): returns its first value; raises `CallError` if
    /// the server answered `_error`, `TimeoutError` after `timeout`.
    #[pyo3(signature = (command, *args, timeout = 10.0))]
    fn call(
        &self,
        py: Python<'_>,
        command: &str,
        args: AmfArgs<'_, '_>,
        timeout: f64,
    ) -> PyResult<Py<PyAny>> {
        let what = format!("call({command:?})");
        self.call_blocking(py, command, amf_args(args)?, timeout, &what)
    }

    /// Registers `name` for this peer at the server (the server's
    /// `registerName`), so that others find our peer ID with
    /// `lookup_name`.  Raises `CallError` if the name is taken or invalid.
    #[pyo3(signature = (name, *, timeout = 10.0))]
    fn register_name(&self, py: Python<'_>, name: &str, timeout: f64) -> PyResult<()> {
        let what = format!("register_name({name:?})");
        let args = vec![Value::from(name)];
        self.call_blocking(py, REGISTER_NAME, args, timeout, &what)?;
        Ok(())
    }

    /// The peer ID (64 hex digits) registered under `name` at the server
    /// (the server's `lookupName`).  Raises `CallError` if no connected
    /// peer has that name.
    #[pyo3(signature = (name, *, timeout = 10.0))]
    fn lookup_name(&self, py: Python<'_>, name: &str, timeout: f64) -> PyResult<String> {
        let what = format!("lookup_name({name:?})");
        let args = vec![Value::from(name)];
        let value = self.call_blocking(py, LOOKUP_NAME, args, timeout, &what)?;
        lookup_answer(py, value, name)
    }

    /// The next event, waiting at most `timeout` seconds (None: as long
    /// as it takes; 0: only what is already there); None on timeout.  The
    /// GIL is released while waiting and Ctrl-C interrupts.  Once closed,
    /// the events left (its "NetConnection.Connect.Closed") are still
    /// returned, without waiting; then it raises `ClosedError`.  Raises
    /// `CallbackError` when an `on_peer_connect` callback raised (the
    /// event follows).
    #[pyo3(signature = (timeout = None))]
    fn next_event(
        slf: &Bound<'_, Self>,
        py: Python<'_>,
        timeout: Option<f64>,
    ) -> PyResult<Option<Py<PyAny>>> {
        Self::read(slf, py, timeout)
    }

    /// A blocking iterator over events; it ends when the connection is
    /// closed and its last events were read.
    fn events(slf: &Bound<'_, Self>) -> NetEventIterator {
        NetEventIterator(slf.clone().unbind())
    }

    /// Every event waiting now, without blocking.  Once closed: the
    /// events left, then an empty list.
    fn drain_events<'py>(slf: &Bound<'py, Self>, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let items = Self::items(slf, py)?;
        slf.get().outbox.drain_list(py, items)
    }

    /// For the asyncio dispatcher: whether the event stream has ended
    /// (closed, and nothing more will come; events may be left to read).
    fn _events_ended(&self) -> bool {
        match self.live.get() {
            Some(live) => live.events_ended(),
            None => self.closed_early.load(Ordering::SeqCst),
        }
    }

    /// For the asyncio dispatcher: events, with the exceptions of
    /// callbacks in their place.
    fn _drain<'py>(slf: &Bound<'py, Self>, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let items = Self::items(slf, py)?;
        slf.get().outbox.drain_raw(py, items)
    }

    /// A file descriptor readable while events wait (and for good once
    /// closed), for `select` / `loop.add_reader`.  Never read it.
    fn fileno(&self, py: Python<'_>) -> PyResult<i32> {
        Ok(self.live(py)?.fd())
    }

    /// Closes the connection in order (RFC 7425 §5.3.6): streams, peer
    /// sessions, the server session; waits at most `timeout` seconds and
    /// stops the I/O thread.  Releases the callbacks.  The events left
    /// are still read.  Idempotent; returns whether everything closed
    /// cleanly in time.
    #[pyo3(signature = (timeout = DEFAULT_CLOSE_TIMEOUT))]
    fn close(&self, py: Python<'_>, timeout: f64) -> PyResult<bool> {
        let timeout = duration(py, timeout, "timeout")?;
        self.closed_early.store(true, Ordering::SeqCst);
        lock(&self.config).take();
        let clean = match self.live.get() {
            Some(live) => live.close(py, timeout),
            None => false,
        };
        layer::release(&self.callbacks);
        Ok(clean)
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        self.outbox.traverse(&self.callbacks, &visit)
    }

    fn __clear__(&self) {
        self.outbox.clear(&self.callbacks);
    }

    fn __repr__(&self) -> String {
        let state = if self.is_closed() {
            " closed".to_owned()
        } else if self.live.get().is_none() {
            " not connected".to_owned()
        } else {
            String::new()
        };
        format!(
            "<rtmfp.NetConnection {}{}{}>",
            self.uri.get().map_or("", String::as_str),
            self.near_id
                .get()
                .map_or_else(String::new, |id| format!(" peer {}", &id[..16])),
            state
        )
    }
}

/// `CallResult` → its value, or `CallError` (for the asyncio methods).
#[pyfunction]
pub(crate) fn _call_outcome(
    py: Python<'_>,
    event: PyRef<'_, CallResult>,
    what: &str,
) -> PyResult<Py<PyAny>> {
    let info = event
        .code
        .as_deref()
        .map(|c| StatusInfo::error(c, event.description.as_deref().unwrap_or_default()));
    call_outcome(py, event.ok, Some(event.result.clone_ref(py)), info, what)
}

/// The connect's outcome status → `None` on success, or `ConnectError`
/// (for the asyncio methods).
#[pyfunction]
pub(crate) fn _connect_outcome(
    py: Python<'_>,
    event: PyRef<'_, NetStatus>,
    uri: &str,
) -> PyResult<()> {
    let info = StatusInfo::new(&event.level, &event.code, &event.description);
    connect_outcome(py, &info, uri)
}

/// `Ok` once connected; `ConnectError` for any other status.
fn connect_outcome(py: Python<'_>, info: &StatusInfo, uri: &str) -> PyResult<()> {
    outcome::connect_outcome(info, uri).map_err(|r| errors::refused(py, r))
}

/// Whether a status event ends a connect (for the asyncio methods).
#[pyfunction]
pub(crate) fn _is_connect_outcome(code_: &str) -> bool {
    outcome::ends_connect(code_)
}

/// `lookup_name`'s answer → the peer ID, or `CallError`.
#[pyfunction]
pub(crate) fn _lookup_answer(py: Python<'_>, value: Py<PyAny>, name: &str) -> PyResult<String> {
    lookup_answer(py, value, name)
}

event_iterator!(
    /// Iterates a NetConnection's events, blocking for each (GIL released,
    /// Ctrl-C interrupts); stops once the connection is closed and its last
    /// events were read.
    NetEventIterator(Py<NetConnection>),
    |nc, py| NetConnection::read(nc.bind(py), py, None)
);

// ------------------------------------------------------------- NetStream --

/// A NetStream of a NetConnection.  See the `rtmfp.NetStream`
/// documentation.  Streams are equal when they are the same stream of the
/// same connection.
#[pyclass(frozen, subclass, module = "rtmfp", name = "NetStream")]
pub(crate) struct NetStream {
    nc: Py<NetConnection>,
    core: CoreNetStream,
    target: Target,
}

impl NetStream {
    fn check(&self, py: Python<'_>) -> PyResult<()> {
        if self.nc.get().is_closed() {
            Err(errors::closed_as(py, "the NetConnection"))
        } else {
            Ok(())
        }
    }

    fn run<R, F>(&self, py: Python<'_>, f: F) -> PyResult<R>
    where
        R: Send,
        F: FnOnce(&CoreNetStream) -> Result<R, rtmfp_core::flash::NetError> + Send,
    {
        self.check(py)?;
        let core = &self.core;
        py.detach(move || f(core)).or_raise(py)
    }

    fn send_message(
        &self,
        py: Python<'_>,
        message_type: u8,
        timestamp: u32,
        data: BytesLike<'_, '_>,
    ) -> PyResult<usize> {
        let payload = copy_bytes(data)?;
        self.run(py, move |s| s.send(message_type, timestamp, &payload))
    }
}

#[pymethods]
impl NetStream {
    /// `NetStream(connection, peer_id=None)`: `None` (or
    /// `CONNECT_TO_FMS`) for a stream through the server,
    /// `rtmfp.DIRECT_CONNECTIONS` to publish to peers that play it
    /// directly, or a peer ID (64 hex digits or 32 bytes) to play that
    /// peer's DIRECT_CONNECTIONS stream.
    #[new]
    #[pyo3(signature = (connection, peer_id = None))]
    fn new(
        py: Python<'_>,
        connection: &Bound<'_, NetConnection>,
        peer_id: Option<PeerIdArg<'_, '_>>,
    ) -> PyResult<Self> {
        let target = match peer_id {
            None => Target::Server,
            Some(p) => match p.cast::<PyString>() {
                Ok(s) if s.to_cow()? == DIRECT_CONNECTIONS => Target::Direct,
                Ok(s) if s.to_cow()? == CONNECT_TO_FMS => Target::Server,
                _ => Target::Peer(hex(&convert::peer_id(p)?)),
            },
        };
        let nc = connection.get();
        let core = match &target {
            Target::Server => nc.with(py, |c| c.create_stream())?,
            Target::Direct => nc.with(py, |c| c.create_direct_stream())?,
            Target::Peer(id) => {
                let id = id.clone();
                nc.with(py, move |c| c.create_peer_stream(&id))?
            }
        };
        nc.register_stream(core.clone(), target.clone());
        Ok(NetStream {
            nc: connection.clone().unbind(),
            core,
            target,
        })
    }

    /// The stream's number within its connection.
    #[getter]
    fn id(&self) -> u32 {
        self.core.id().0
    }

    /// `"server"`, `"direct_connections"` or `"peer"`.
    #[getter]
    fn kind(&self) -> &'static str {
        self.target.name()
    }

    /// For a peer stream: the publisher's peer ID.
    #[getter]
    fn peer_id(&self) -> Option<String> {
        match &self.target {
            Target::Peer(id) => Some(id.clone()),
            _ => None,
        }
    }

    /// The NetConnection.
    #[getter]
    fn connection(&self, py: Python<'_>) -> Py<NetConnection> {
        self.nc.clone_ref(py)
    }

    /// Publishes the stream as `name`: to the server, or (DIRECT_CONNECTIONS)
    /// to the peers that play it.  "NetStream.Publish.Start" follows.
    fn publish(&self, py: Python<'_>, name: &str) -> PyResult<()> {
        let name = name.to_owned();
        self.run(py, move |s| s.publish(&name))
    }

    /// Plays `name`: through the server, or (a peer stream) from the
    /// publisher directly.  "NetStream.Play.Start" follows, or a
    /// rejection ("NetStream.Connect.Rejected", ".Play.StreamNotFound").
    fn play(&self, py: Python<'_>, name: &str) -> PyResult<()> {
        let name = name.to_owned();
        self.run(py, move |s| s.play(&name))
    }

    /// Sends an audio message (type 8: an FLV audio tag body; bytes-like,
    /// copied once).  Returns how many destinations it was queued for
    /// (DIRECT_CONNECTIONS: the accepted subscribers).
    fn send_audio(
        &self,
        py: Python<'_>,
        timestamp: u32,
        data: BytesLike<'_, '_>,
    ) -> PyResult<usize> {
        self.send_message(py, 8, timestamp, data)
    }

    /// Sends a video message (type 9: an FLV video tag body).
    fn send_video(
        &self,
        py: Python<'_>,
        timestamp: u32,
        data: BytesLike<'_, '_>,
    ) -> PyResult<usize> {
        self.send_message(py, 9, timestamp, data)
    }

    /// Sends a data message (type 18) of AMF0 values, e.g.
    /// `send_data("onTextData", {"text": "hi"})`; players read it with
    /// `Media.values()`.
    #[pyo3(signature = (*values, timestamp = 0))]
    fn send_data(
        &self,
        py: Python<'_>,
        values: AmfArgs<'_, '_>,
        timestamp: u32,
    ) -> PyResult<usize> {
        let values = amf_args(values)?;
        self.run(py, move |s| s.send_data(timestamp, &values))
    }

    /// Sends a message of an RTMP type a NetStream carries: audio (8),
    /// video (9) or data (15, 18); another type raises `InvalidArgument`.
    fn send(
        &self,
        py: Python<'_>,
        message_type: u8,
        timestamp: u32,
        data: BytesLike<'_, '_>,
    ) -> PyResult<usize> {
        self.send_message(py, message_type, timestamp, data)
    }

    /// Sends a message to one accepted subscriber (by peer ID) of this
    /// DIRECT_CONNECTIONS stream.
    fn send_to_peer(
        &self,
        py: Python<'_>,
        peer_id: PeerIdArg<'_, '_>,
        message_type: u8,
        timestamp: u32,
        data: BytesLike<'_, '_>,
    ) -> PyResult<()> {
        let want = convert::peer_id(peer_id)?;
        let payload = copy_bytes(data)?;
        self.run(py, move |s| {
            let peers = s.peer_streams()?;
            let Some(p) = peers.iter().find(|p| p.far_id == Some(want)) else {
                return Err(rtmfp_core::flash::client::ClientError::WrongState(
                    "no accepted subscriber with that peer ID",
                )
                .into());
            };
            s.send_to_peer(p.id, message_type, timestamp, &payload)
        })
    }

    /// The peer IDs of this DIRECT_CONNECTIONS stream's accepted
    /// subscribers (Flash's `peerStreams`).
    #[getter]
    fn peer_streams(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        let peers = self.run(py, |s| s.peer_streams())?;
        Ok(peers.iter().filter_map(|p| p.far_id_hex()).collect())
    }

    /// Most subscribers (pending or accepted) of the connection's
    /// DIRECT_CONNECTIONS streams, together (`NetConnection.max_peer_connections`).
    #[getter]
    fn get_max_peer_connections(&self, py: Python<'_>) -> PyResult<usize> {
        self.nc.get().get_max_peer_connections(py)
    }

    #[setter]
    fn set_max_peer_connections(&self, py: Python<'_>, max: usize) -> PyResult<()> {
        self.nc.get().set_max_peer_connections(py, max)
    }

    /// A DIRECT_CONNECTIONS publisher's `onPeerConnect`:
    /// `callback(subscriber_peer_id, stream_name)`; True accepts the
    /// subscriber, False or None rejects it, a `str` rejects it with that
    /// reason.  It runs on the thread that reads the connection's events
    /// (`events()`, `next_event()`, or the asyncio reader), never on the
    /// I/O thread, so subscribers wait until events are read.  If it
    /// raises, the subscriber is rejected, the exception is logged
    /// (logger "rtmfp") and the next event read raises `CallbackError`
    /// from it.  None removes it (subscribers are accepted again).
    #[getter]
    fn get_on_peer_connect(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        lock(&self.nc.get().callbacks)
            .get(&self.core.id())
            .map(|c| c.clone_ref(py))
    }

    #[setter]
    fn set_on_peer_connect(&self, py: Python<'_>, callback: Option<Py<PyAny>>) -> PyResult<()> {
        if self.target != Target::Direct {
            return Err(errors::err(
                py,
                Kind::Net,
                "on_peer_connect is for DIRECT_CONNECTIONS streams (the publisher's side)",
            ));
        }
        self.check(py)?;
        let nc = self.nc.get();
        let asks = callback.is_some();
        let old = {
            let mut callbacks = lock(&nc.callbacks);
            match callback {
                Some(cb) => {
                    if !cb.bind(py).is_callable() {
                        return Err(pyo3::exceptions::PyTypeError::new_err(
                            "on_peer_connect must be callable (or None)",
                        ));
                    }
                    callbacks.insert(self.core.id(), cb)
                }
                None => callbacks.remove(&self.core.id()),
            }
        };
        drop(old);
        self.run(py, move |s| s.set_asks(asks))
    }

    /// Publishes FLV bytes (bytes-like, an FLV byte stream split
    /// anywhere) on this publishing stream: each whole tag is sent as the
    /// message of its type.  Returns how many bytes it took, at least one
    /// unless `data` is empty: fewer than given while 64 tags wait for the
    /// flows (backpressure; call again with the rest).  Waits up to
    /// `timeout` seconds (`None`: no limit) for room, then raises
    /// `rtmfp.TimeoutError`.  Bytes that are not FLV raise
    /// `rtmfp.InvalidArgument` (every tag before them is still sent; a
    /// call that took bytes before them returns their count and the next
    /// call raises).  Call `flush_flv()` before `close()`.
    #[pyo3(signature = (data, timeout = None))]
    fn write_flv(
        &self,
        py: Python<'_>,
        data: BytesLike<'_, '_>,
        timeout: Option<f64>,
    ) -> PyResult<usize> {
        self.check(py)?;
        let bytes = copy_bytes(data)?;
        crate::flv::sliced(py, &self.core, timeout, |s, wait| {
            s.write_flv_timeout(&bytes, Some(wait))
        })
    }

    /// Waits up to `timeout` seconds (`None`: no limit) until every tag
    /// `write_flv()` queued was sent and acknowledged; raises
    /// `rtmfp.TimeoutError` if something still waits then.
    #[pyo3(signature = (timeout = None))]
    fn flush_flv(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
        self.check(py)?;
        crate::flv::sliced(py, &self.core, timeout, |s, wait| s.flush_flv(Some(wait)))
    }

    /// Reads this playing stream as FLV from now on (call it before
    /// `play()`), with a reordering window of `window_ms` of stream time
    /// (0: tags as they arrive).  Its media then comes from `read_flv()`,
    /// no longer as `Media` events.
    #[pyo3(signature = (window_ms = rtmfp_core::flash::flv_io::DEFAULT_READ_WINDOW_MS))]
    fn start_flv_read(&self, py: Python<'_>, window_ms: u32) -> PyResult<()> {
        self.check(py)?;
        self.core
            .start_flv_read(window_ms)
            .map_err(|e| crate::flv::error(py, e))
    }

    /// Up to `size` bytes of FLV (the header first, then tags; a tag may
    /// span reads), waiting up to `timeout` seconds (`None`: no limit)
    /// for some; `b""` at the end of the stream (unpublished, closed).
    /// Raises `rtmfp.TimeoutError` if none came in time.
    #[pyo3(signature = (size = 65536, timeout = None))]
    fn read_flv<'py>(
        &self,
        py: Python<'py>,
        size: usize,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let data = crate::flv::sliced(py, &self.core, timeout, |s, wait| {
            let mut piece = vec![0u8; size];
            s.read_flv_timeout(&mut piece, Some(wait)).map(|n| {
                piece.truncate(n);
                piece
            })
        })?;
        Ok(PyBytes::new(py, &data))
    }

    /// A file descriptor readable while FLV bytes wait and at the end (for
    /// `loop.add_reader`); with a window over 0, also read again after the
    /// window.
    fn flv_fileno(&self, py: Python<'_>) -> PyResult<i32> {
        self.core
            .flv_read_fd()
            .map_err(|e| crate::flv::error(py, e))
    }

    /// Closes the stream: a publisher unpublishes (subscribers are told),
    /// a player stops.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let id = self.core.id();
        let old = lock(&self.nc.get().callbacks).remove(&id);
        drop(old);
        self.run(py, |s| s.close())
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<NetStream>().is_ok_and(|o| {
            let o = o.get();
            o.nc.as_ptr() == self.nc.as_ptr() && o.core.id() == self.core.id()
        })
    }

    fn __hash__(&self) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (self.nc.as_ptr() as usize).hash(&mut h);
        self.core.id().0.hash(&mut h);
        h.finish()
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.nc)
    }

    fn __repr__(&self) -> String {
        match &self.target {
            Target::Peer(id) => format!(
                "<rtmfp.NetStream {} playing from peer {}>",
                self.core.id().0,
                &id[..16]
            ),
            t => format!("<rtmfp.NetStream {} {}>", self.core.id().0, t.name()),
        }
    }
}
