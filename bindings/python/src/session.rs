//! `Session`, `Flow` (sending) and `RecvFlow` (receiving): small handles
//! (endpoint, session number, flow number) whose methods run the
//! endpoint's operations on the I/O thread.

use crate::convert::{self, copy_bytes, duration, hex, BytesLike};
use crate::shared::Shared;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use rtmfp_core::endpoint::{Role, SessionHandle};
use rtmfp_core::flow::{FlowId, MessageId, MessageOptions, Priority};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

fn identity_hash(shared: &Arc<Shared>, parts: &[u64]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (Arc::as_ptr(shared) as usize).hash(&mut h);
    parts.hash(&mut h);
    h.finish()
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Initiator => "initiator",
        Role::Responder => "responder",
    }
}

/// A session with one far end: opening, open or closed.  Sessions are
/// equal when they are the same session of the same endpoint.
#[pyclass(frozen, module = "rtmfp")]
pub(crate) struct Session {
    pub(crate) shared: Arc<Shared>,
    pub(crate) handle: SessionHandle,
}

impl Session {
    pub(crate) fn create(
        py: Python<'_>,
        shared: &Arc<Shared>,
        handle: SessionHandle,
    ) -> PyResult<Py<Session>> {
        Py::new(
            py,
            Session {
                shared: shared.clone(),
                handle,
            },
        )
    }
}

#[pymethods]
impl Session {
    /// The session's number, unique for the life of its endpoint.
    #[getter]
    fn id(&self) -> u64 {
        self.handle.0
    }

    /// Whether the session is open (not opening, closing or closed).
    #[getter]
    fn is_open(&self, py: Python<'_>) -> PyResult<bool> {
        if self.shared.is_closed() {
            return Ok(false);
        }
        Ok(self
            .shared
            .session_info(py, self.handle)?
            .is_some_and(|i| i.open))
    }

    /// The far end's address `"ip:port"` (None unless open or closing).
    #[getter]
    fn far_address(&self, py: Python<'_>) -> PyResult<Option<String>> {
        Ok(self
            .shared
            .session_info(py, self.handle)?
            .map(|i| i.far_address.to_string()))
    }

    /// The far end's peer ID as 64 hex digits (None unless open).
    #[getter]
    fn far_peer_id(&self, py: Python<'_>) -> PyResult<Option<String>> {
        Ok(self
            .shared
            .session_info(py, self.handle)?
            .and_then(|i| i.far_peer_id)
            .map(|id| hex(&id)))
    }

    /// `"initiator"` or `"responder"` (None unless open or closing).
    #[getter]
    fn role(&self, py: Python<'_>) -> PyResult<Option<&'static str>> {
        Ok(self
            .shared
            .session_info(py, self.handle)?
            .map(|i| role_name(i.role)))
    }

    /// Counters and RTT estimates (seconds), or None if the session is
    /// not open or closing.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Some(info) = self.shared.session_info(py, self.handle)? else {
            return Ok(None);
        };
        let s = info.stats;
        let d = PyDict::new(py);
        d.set_item("packets_in", s.packets_in)?;
        d.set_item("packets_out", s.packets_out)?;
        d.set_item("bytes_in", s.bytes_in)?;
        d.set_item("bytes_out", s.bytes_out)?;
        d.set_item("srtt", s.srtt.map(convert::seconds))?;
        d.set_item("rttvar", convert::seconds(s.rttvar))?;
        d.set_item("erto", convert::seconds(s.erto))?;
        d.set_item("keepalives_sent", s.keepalives_sent)?;
        d.set_item("address_changes", s.address_changes)?;
        d.set_item("cwnd", s.flows.cwnd)?;
        d.set_item("bytes_in_flight", s.flows.bytes_in_flight)?;
        d.set_item("loss_events", s.flows.loss_events)?;
        d.set_item("timeouts", s.flows.timeouts)?;
        d.set_item("retransmissions", s.flows.retransmissions)?;
        d.set_item("data_bytes_sent", s.flows.data_bytes_sent)?;
        d.set_item("data_bytes_delivered", s.flows.data_bytes_delivered)?;
        Ok(Some(d))
    }

    /// Opens a sending flow.  `metadata` (at most 512 bytes) tells the far
    /// end what the flow is; `priority` is 0..7 (`rtmfp.Priority`);
    /// `association` makes it the return flow of a receiving flow.
    #[pyo3(signature = (metadata = None, priority = 3, association = None))]
    fn open_flow(
        &self,
        py: Python<'_>,
        metadata: Option<BytesLike<'_, '_>>,
        priority: i64,
        association: Option<PyRef<'_, RecvFlow>>,
    ) -> PyResult<Py<Flow>> {
        let metadata = match metadata {
            Some(m) => copy_bytes(m)?,
            None => Vec::new(),
        };
        let priority: Priority = convert::priority(py, priority)?;
        let association: Option<FlowId> = match association {
            Some(recv) => {
                if !Arc::ptr_eq(&recv.shared, &self.shared) || recv.session != self.handle {
                    return Err(crate::errors::invalid(
                        py,
                        "association must be a receiving flow of the same session",
                    ));
                }
                Some(recv.id)
            }
            None => None,
        };
        let session = self.handle;
        let id = self.shared.call_ep(py, move |ep, _| {
            ep.open_flow(session, &metadata, priority, association)
        })?;
        Flow::create(py, &self.shared, session, id)
    }

    /// Closes the session: in order (the far end acknowledges) or, with
    /// `abrupt`, at once.  An opening session is abandoned.  A
    /// `SessionClosed` (or `SessionOpenFailed`) event follows.
    #[pyo3(signature = (abrupt = false))]
    fn close(&self, py: Python<'_>, abrupt: bool) -> PyResult<()> {
        let session = self.handle;
        self.shared
            .with_handle(py, move |h| h.close_session(session, abrupt))
    }

    /// Waits (GIL released, Ctrl-C interrupts) until the session is open
    /// and returns it, or the session the endpoint uses instead when the
    /// far end's own session to us won.  Raises `TimeoutError` (and
    /// abandons the opening) after `timeout` seconds, `SessionError` if
    /// it failed.  Events read meanwhile stay in the event stream.
    #[pyo3(signature = (timeout = 10.0))]
    fn wait_open(&self, py: Python<'_>, timeout: f64) -> PyResult<Py<Session>> {
        let timeout = duration(py, timeout, "timeout")?;
        let what = format!("session {}", self.handle.0);
        let opened = self.shared.wait_open(py, self.handle, timeout, &what)?;
        Session::create(py, &self.shared, opened)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<Session>().is_ok_and(|o| {
            Arc::ptr_eq(&o.get().shared, &self.shared) && o.get().handle == self.handle
        })
    }

    fn __hash__(&self) -> u64 {
        identity_hash(&self.shared, &[self.handle.0])
    }

    fn __repr__(&self) -> String {
        format!("<rtmfp.Session {}>", self.handle.0)
    }
}

/// Declares a flow's class, `Flow` or `RecvFlow`: a handle (endpoint,
/// session number, flow number) with `create` and `same` (what `__eq__`
/// asks: the same flow of the same session of the same endpoint).
macro_rules! flow_class {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[pyclass(frozen, module = "rtmfp")]
        pub(crate) struct $name {
            pub(crate) shared: Arc<Shared>,
            pub(crate) session: SessionHandle,
            pub(crate) id: FlowId,
        }

        impl $name {
            pub(crate) fn create(
                py: Python<'_>,
                shared: &Arc<Shared>,
                session: SessionHandle,
                id: FlowId,
            ) -> PyResult<Py<$name>> {
                let shared = shared.clone();
                Py::new(py, $name { shared, session, id })
            }

            fn same(&self, other: &Bound<'_, PyAny>) -> bool {
                other.cast::<$name>().is_ok_and(|o| {
                    let o = o.get();
                    Arc::ptr_eq(&o.shared, &self.shared)
                        && o.session == self.session
                        && o.id == self.id
                })
            }
        }
    };
}

flow_class! {
    /// A sending flow.  Its write receipts arrive as `MessageDelivered` /
    /// `MessageAbandoned` events; `FlowRejected` if the far end refuses it.
    Flow
}

#[pymethods]
impl Flow {
    /// The flow's number within its session (sending direction).
    #[getter]
    fn id(&self) -> u64 {
        self.id
    }

    /// The session the flow belongs to.
    #[getter]
    fn session(&self, py: Python<'_>) -> PyResult<Py<Session>> {
        Session::create(py, &self.shared, self.session)
    }

    /// Queues one message and returns its id (for the receipts).
    ///
    /// `data` is any bytes-like object (bytes, bytearray, memoryview, ...),
    /// copied once.  `deadline`: abandon the message unless it is fully
    /// delivered within this many seconds; `start_deadline`: unless its
    /// first transmission starts within this many seconds; `retransmit`
    /// False sends it at most once; `parent` (a message id of this flow):
    /// abandon it if the parent is abandoned.  Raises `WouldBlock` while
    /// the send buffer is full.
    #[pyo3(signature = (data, *, deadline = None, start_deadline = None, retransmit = true, parent = None))]
    fn send(
        &self,
        py: Python<'_>,
        data: BytesLike<'_, '_>,
        deadline: Option<f64>,
        start_deadline: Option<f64>,
        retransmit: bool,
        parent: Option<MessageId>,
    ) -> PyResult<MessageId> {
        let options = MessageOptions {
            finish_within: deadline.map(|d| duration(py, d, "deadline")).transpose()?,
            start_within: start_deadline
                .map(|d| duration(py, d, "start_deadline"))
                .transpose()?,
            no_retransmit: !retransmit,
            parent,
        };
        let bytes = copy_bytes(data)?;
        let (session, flow) = (self.session, self.id);
        self.shared.call_ep(py, move |ep, now| {
            ep.send(now, session, flow, &bytes, options)
        })
    }

    /// Whether `send` would take a message now.
    #[getter]
    fn writable(&self, py: Python<'_>) -> PyResult<bool> {
        let (session, flow) = (self.session, self.id);
        self.shared
            .call_ep(py, move |ep, _| ep.flow_writable(session, flow))
    }

    /// Abandons a queued message (and the messages chained to it).
    fn abandon(&self, py: Python<'_>, message: MessageId) -> PyResult<()> {
        let (session, flow) = (self.session, self.id);
        self.shared.call_ep(py, move |ep, now| {
            ep.abandon_message(now, session, flow, message)
        })
    }

    /// Closes the flow after what is queued; `FlowComplete` follows once
    /// the far end has acknowledged everything.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let (session, flow) = (self.session, self.id);
        self.shared
            .call_ep(py, move |ep, now| ep.close_flow(now, session, flow))
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        self.same(other)
    }

    fn __hash__(&self) -> u64 {
        identity_hash(&self.shared, &[self.session.0, self.id, 0])
    }

    fn __repr__(&self) -> String {
        format!("<rtmfp.Flow {} of session {}>", self.id, self.session.0)
    }
}

flow_class! {
    /// A receiving flow the far end opened (see `FlowOpened`).  Its messages
    /// are held until `accept()`; `reject(code)` refuses it.
    RecvFlow
}

impl RecvFlow {
    fn suspended(&self, py: Python<'_>, suspended: bool) -> PyResult<()> {
        let (session, flow) = (self.session, self.id);
        self.shared.call_ep(py, move |ep, now| {
            ep.set_flow_suspended(now, session, flow, suspended)
        })
    }
}

#[pymethods]
impl RecvFlow {
    /// The flow's number within its session (receiving direction).
    #[getter]
    fn id(&self) -> u64 {
        self.id
    }

    /// The session the flow belongs to.
    #[getter]
    fn session(&self, py: Python<'_>) -> PyResult<Py<Session>> {
        Session::create(py, &self.shared, self.session)
    }

    /// Accepts the flow: its messages arrive as `Message` events, in the
    /// sender's order (`"sequence"`) or as soon as complete (`"network"`).
    #[pyo3(signature = (order = "sequence"))]
    fn accept(&self, py: Python<'_>, order: &str) -> PyResult<()> {
        let order = convert::delivery_order(py, order)?;
        let (session, flow) = (self.session, self.id);
        self.shared
            .call_ep(py, move |ep, now| ep.accept_flow(now, session, flow, order))
    }

    /// Rejects the flow; the sender sees `FlowRejected` with `code`.
    #[pyo3(signature = (code = 0))]
    fn reject(&self, py: Python<'_>, code: u64) -> PyResult<()> {
        let (session, flow) = (self.session, self.id);
        self.shared
            .call_ep(py, move |ep, _| ep.reject_flow(session, flow, code))
    }

    /// Holds back `Message` events until `resume()`: messages wait in the
    /// receive buffer, and once it is full flow control stops the sender.
    fn suspend(&self, py: Python<'_>) -> PyResult<()> {
        self.suspended(py, true)
    }

    /// Delivers messages again after `suspend()`.
    fn resume(&self, py: Python<'_>) -> PyResult<()> {
        self.suspended(py, false)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        self.same(other)
    }

    fn __hash__(&self) -> u64 {
        identity_hash(&self.shared, &[self.session.0, self.id, 1])
    }

    fn __repr__(&self) -> String {
        format!("<rtmfp.RecvFlow {} of session {}>", self.id, self.session.0)
    }
}
