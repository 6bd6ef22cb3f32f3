//! `Endpoint`: one RTMFP endpoint (its identity, UDP sockets and I/O
//! thread) and its event stream.
//!
//! The Python package subclasses it (`rtmfp.Endpoint`) to add the asyncio
//! methods, which wait on [`Endpoint::fileno`] with `loop.add_reader`.

use crate::convert::{self, duration, hex, AddrList, PeerIdArg, DEFAULT_CLOSE_TIMEOUT};
use crate::errors;
use crate::events::{self, SessionOpenFailed};
use crate::plumbing::event_iterator;
use crate::session::Session;
use crate::shared::{self, Shared};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};
use rtmfp_core::crypto::flash::epd::epd_for_fingerprint;
use rtmfp_core::endpoint::{DropReason, OpenFailure, SessionHandle};
use rtmfp_core::host::options::Object;
use rtmfp_core::runtime::Runtime;
use std::sync::Arc;
use std::time::Instant;

/// An RTMFP endpoint: an identity (Flash profile, RFC 7425), UDP sockets
/// and an I/O thread.  See the `rtmfp.Endpoint` documentation.
#[pyclass(frozen, subclass, module = "rtmfp._rtmfp", name = "Endpoint")]
pub(crate) struct Endpoint {
    pub(crate) shared: Arc<Shared>,
}

impl Endpoint {
    fn session(&self, py: Python<'_>, handle: SessionHandle) -> PyResult<Py<Session>> {
        Session::create(py, &self.shared, handle)
    }

    fn connect_peer_handle(
        &self,
        py: Python<'_>,
        peer_id: PeerIdArg<'_, '_>,
        addresses: AddrList,
    ) -> PyResult<(SessionHandle, String)> {
        self.shared.check_open(py)?;
        let id = convert::peer_id(peer_id)?;
        let addrs = addresses.resolve(py)?;
        let what = format!("peer {}", &hex(&id)[..16]);
        let epd = epd_for_fingerprint(&id);
        let session = self
            .shared
            .with_handle(py, move |h| h.connect(epd, &addrs))?;
        Ok((session, what))
    }

    fn connect_uri_handle(&self, py: Python<'_>, uri: &str) -> PyResult<SessionHandle> {
        self.shared.check_open(py)?;
        let uri = uri.to_owned();
        self.shared.with_handle(py, move |h| h.connect_uri(&uri))
    }
}

#[pymethods]
impl Endpoint {
    #[new]
    #[pyo3(signature = (
        bind = None,
        *,
        server = None,
        hostname = None,
        open_timeout = None,
        idle_timeout = None,
        keepalive_interval = None,
        key_log = None,
        turn = None,
        turn_username = None,
        turn_password = None,
        recv_coalesce = None,
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
        bind: Option<AddrList>,
        server: Option<bool>,
        hostname: Option<String>,
        open_timeout: Option<f64>,
        idle_timeout: Option<f64>,
        keepalive_interval: Option<f64>,
        key_log: Option<std::path::PathBuf>,
        turn: Option<String>,
        turn_username: Option<String>,
        turn_password: Option<String>,
        recv_coalesce: Option<f64>,
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
            server,
            hostname,
            open_timeout,
            idle_timeout,
            keepalive_interval,
            key_log,
            turn,
            turn_username,
            turn_password,
            recv_coalesce,
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
        // Static Diffie-Hellman keys and the TURN relay's name take a
        // moment: release the GIL.
        let config = py.detach(|| {
            let profile = options.identity(Object::Endpoint)?;
            let peer_id = profile.near_id();
            Ok((
                options.runtime_config(Object::Endpoint, Arc::new(profile))?,
                peer_id,
            ))
        });
        let (config, peer_id) = config.map_err(|f| errors::failure(py, f))?;
        let shown = convert::addr_strings(&config.bind).join(", ");
        let runtime = py
            .detach(move || Runtime::start(config))
            .map_err(|e| errors::os_error(e, &shown))?;
        Ok(Endpoint {
            shared: Arc::new(Shared::new(runtime, peer_id)),
        })
    }

    /// This endpoint's peer ID (its certificate fingerprint) as 64 hex
    /// digits: what other peers pass to `connect_peer`.
    #[getter]
    fn peer_id(&self) -> String {
        hex(&self.shared.peer_id)
    }

    /// The peer ID as 32 bytes.
    #[getter]
    fn peer_id_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.shared.peer_id)
    }

    /// The first bound address, `"ip:port"` (the port the system picked
    /// for port 0).
    #[getter]
    fn address(&self) -> String {
        convert::first_addr(&self.shared.local_addrs).unwrap_or_default()
    }

    /// Every bound address.
    #[getter]
    fn addresses(&self) -> Vec<String> {
        convert::addr_strings(&self.shared.local_addrs)
    }

    /// Whether the endpoint is closed.
    #[getter]
    fn closed(&self) -> bool {
        self.shared.is_closed()
    }

    /// A file descriptor that is readable while events wait (and for good
    /// once closed), for `select`/`selectors`/`loop.add_reader`.  Never
    /// read it; take events with `drain_events()` or `next_event(0)`.
    fn fileno(&self) -> i32 {
        self.shared.handle.event_fd()
    }

    /// Closes every session in order, waits at most `timeout` seconds for
    /// the far ends to acknowledge, and stops the I/O thread.  Later calls
    /// raise `ClosedError`; closing again does nothing.  Returns whether
    /// everything closed cleanly in time.
    #[pyo3(signature = (timeout = DEFAULT_CLOSE_TIMEOUT))]
    fn close(&self, py: Python<'_>, timeout: f64) -> PyResult<bool> {
        let timeout = duration(py, timeout, "timeout")?;
        Ok(self.shared.close(py, timeout))
    }

    /// Connects to the server named by an `rtmfp://host[:port]/app` URI and
    /// waits until the session is open (GIL released; Ctrl-C interrupts).
    /// Raises `InvalidArgument` for a bad URI or unknown host,
    /// `TimeoutError` after `timeout` seconds, `SessionError` if refused.
    #[pyo3(signature = (uri, *, timeout = 10.0))]
    fn connect(&self, py: Python<'_>, uri: &str, timeout: f64) -> PyResult<Py<Session>> {
        let timeout = duration(py, timeout, "timeout")?;
        let session = self.connect_uri_handle(py, uri)?;
        let opened = self.shared.wait_open(py, session, timeout, uri)?;
        self.session(py, opened)
    }

    /// Connects to the peer with `peer_id` (64 hex digits or 32 bytes) at
    /// `addresses` (`"ip:port"`, `(host, port)` or a list of them) and
    /// waits until the session is open, as `connect` does.
    #[pyo3(signature = (peer_id, addresses, *, timeout = 10.0))]
    fn connect_peer(
        &self,
        py: Python<'_>,
        peer_id: PeerIdArg<'_, '_>,
        addresses: AddrList,
        timeout: f64,
    ) -> PyResult<Py<Session>> {
        let timeout = duration(py, timeout, "timeout")?;
        let (session, what) = self.connect_peer_handle(py, peer_id, addresses)?;
        let opened = self.shared.wait_open(py, session, timeout, &what)?;
        self.session(py, opened)
    }

    /// Starts connecting to an `rtmfp://` URI and returns the opening
    /// session at once; `SessionOpened` or `SessionOpenFailed` follows
    /// (or call `Session.wait_open`).
    fn start_connect(&self, py: Python<'_>, uri: &str) -> PyResult<Py<Session>> {
        let session = self.connect_uri_handle(py, uri)?;
        self.session(py, session)
    }

    /// Starts connecting to a peer by ID and returns the opening session
    /// at once, as `start_connect` does.
    fn start_connect_peer(
        &self,
        py: Python<'_>,
        peer_id: PeerIdArg<'_, '_>,
        addresses: AddrList,
    ) -> PyResult<Py<Session>> {
        let (session, _) = self.connect_peer_handle(py, peer_id, addresses)?;
        self.session(py, session)
    }

    /// The next event, waiting at most `timeout` seconds (None: as long
    /// as it takes; 0: only what is already there).  Returns None on
    /// timeout.  The GIL is released while waiting and Ctrl-C
    /// interrupts.  Once the endpoint is closed, the events left (its
    /// sessions' `SessionClosed`) are still returned, without waiting;
    /// then it raises `ClosedError`.
    #[pyo3(signature = (timeout = None))]
    fn next_event(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<Py<PyAny>>> {
        let deadline = match timeout {
            Some(t) => Instant::now().checked_add(duration(py, t, "timeout")?),
            None => None,
        };
        match self.shared.next_event(py, deadline)? {
            Some(event) => Ok(Some(events::to_python(py, &self.shared, event)?)),
            None => Ok(None),
        }
    }

    /// A blocking iterator over events; it ends when the endpoint is
    /// closed and its last events were read.
    fn events(&self) -> EventIterator {
        EventIterator(self.shared.clone())
    }

    /// Every event waiting now, without blocking.  Once closed: the
    /// events left, then an empty list.
    fn drain_events<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for event in self.shared.drain() {
            list.append(events::to_python(py, &self.shared, event)?)?;
        }
        Ok(list)
    }

    /// For the asyncio dispatcher: whether the event stream has ended
    /// (closed, and nothing more will come; events may be left to read).
    fn _events_ended(&self) -> bool {
        self.shared.events_ended()
    }

    /// Counters: sessions, datagrams, bytes, drops by reason, and the I/O
    /// thread's own (`"io"`).
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.shared.with_handle(py, |h| h.stats())?;
        let d = PyDict::new(py);
        d.set_item("sessions", s.sessions)?;
        d.set_item("openings", s.openings)?;
        d.set_item("queued_events", s.queued_events)?;
        let e = &s.endpoint;
        d.set_item("sessions_opened", e.sessions_opened)?;
        d.set_item("datagrams_in", e.datagrams_in)?;
        d.set_item("datagrams_out", e.datagrams_out)?;
        d.set_item("bytes_in", e.bytes_in)?;
        d.set_item("bytes_out", e.bytes_out)?;
        let drops = PyDict::new(py);
        for reason in DropReason::ALL {
            let n = e.drops.get(reason);
            if n > 0 {
                drops.set_item(reason.name(), n)?;
            }
        }
        d.set_item("drops", drops)?;
        let io = &s.io;
        let i = PyDict::new(py);
        i.set_item("recv_syscalls", io.recv_syscalls)?;
        i.set_item("recv_datagrams", io.recv_datagrams)?;
        i.set_item("recv_bytes", io.recv_bytes)?;
        i.set_item("send_syscalls", io.send_syscalls)?;
        i.set_item("send_datagrams", io.send_datagrams)?;
        i.set_item("send_bytes", io.send_bytes)?;
        i.set_item("send_dropped", io.send_dropped)?;
        i.set_item("gso_sends", io.gso_sends)?;
        i.set_item("recv_errors", io.recv_errors.total())?;
        i.set_item("send_errors", io.send_errors.total())?;
        i.set_item("icmp_errors", io.icmp_errors.total())?;
        i.set_item("loop_iterations", io.loop_iterations)?;
        i.set_item("coalesced_wakeups", io.coalesced_wakeups)?;
        i.set_item("commands", io.commands)?;
        i.set_item("events", io.events)?;
        i.set_item("event_backpressure", io.event_backpressure)?;
        i.set_item(
            "max_handle_datagram",
            convert::seconds(io.max_handle_datagram),
        )?;
        i.set_item("batch_io", io.batch_io)?;
        i.set_item("gso", io.gso)?;
        d.set_item("io", i)?;
        Ok(d)
    }

    fn __repr__(&self) -> String {
        format!(
            "<rtmfp.Endpoint {} peer {}{}>",
            self.address(),
            &self.peer_id()[..16],
            if self.shared.is_closed() {
                " closed"
            } else {
                ""
            }
        )
    }
}

event_iterator!(
    /// Iterates an endpoint's events, blocking for each (GIL released, Ctrl-C
    /// interrupts); stops once the endpoint is closed and its last events were
    /// read.
    EventIterator(Arc<Shared>),
    |shared, py| shared
        .next_event(py, None)
        .and_then(|event| event.map(|e| events::to_python(py, shared, e)).transpose())
);

/// The exception a `SessionOpenFailed` event stands for (used by the
/// asyncio methods); `what` names the far end.
#[pyfunction]
pub(crate) fn _open_error(
    py: Python<'_>,
    event: PyRef<'_, SessionOpenFailed>,
    what: &str,
) -> Py<PyAny> {
    let reason = match event.reason.as_str() {
        "timeout" => OpenFailure::Timeout,
        "keying_failed" => OpenFailure::KeyingFailed,
        "unreachable" => match event.address.as_deref().and_then(|a| a.parse().ok()) {
            Some(address) => OpenFailure::Unreachable(address),
            None => OpenFailure::Cancelled,
        },
        "duplicate" => OpenFailure::Duplicate(
            event
                .duplicate_of
                .as_ref()
                .map_or(SessionHandle(0), |s| s.get().handle),
        ),
        _ => OpenFailure::Cancelled,
    };
    shared::open_failed(py, reason, what)
        .into_value(py)
        .into_any()
}
