//! Endpoint events as small frozen Python classes, one per kind.  Every
//! class has a `kind` string (`"message"`, `"session_opened"`, ...) so
//! that code can dispatch on it, and typed fields.

use crate::convert::hex;
use crate::session::{Flow, RecvFlow, Session};
use crate::shared::Shared;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use rtmfp_core::endpoint::{CloseReason, Event, OpenFailure, Role};
use std::sync::Arc;

/// Longest field repr shown by an event's `repr()`.
const REPR_FIELD_MAX: usize = 72;

macro_rules! event_class {
    (
        $(#[$doc:meta])*
        $name:ident = $kind:literal {
            $( $(#[$fdoc:meta])* $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$doc])*
        #[pyclass(frozen, get_all, module = "rtmfp")]
        pub(crate) struct $name {
            $( $(#[$fdoc])* pub(crate) $field: $ty ),*
        }

        #[pymethods]
        impl $name {
            /// The event's kind.
            #[classattr]
            fn kind() -> &'static str {
                $kind
            }

            fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
                let fields: Vec<String> = vec![$(
                    format!(
                        "{}={}",
                        stringify!($field),
                        $crate::events::short_repr((&self.$field).into_pyobject(py)?.as_any())?
                    )
                ),*];
                Ok(format!("{}({})", stringify!($name), fields.join(", ")))
            }
        }
    };
}

pub(crate) use event_class;

/// An object's `repr()`, cut to [`REPR_FIELD_MAX`] characters.
pub(crate) fn short_repr(obj: &Bound<'_, PyAny>) -> PyResult<String> {
    let r = obj.repr()?.to_string();
    if r.chars().count() <= REPR_FIELD_MAX {
        return Ok(r);
    }
    let mut s: String = r.chars().take(REPR_FIELD_MAX - 3).collect();
    s.push_str("...");
    Ok(s)
}

event_class! {
    /// A session opened, as initiator (`connect`) or responder.
    SessionOpened = "session_opened" {
        /// The session.
        session: Py<Session>,
        /// `"initiator"` or `"responder"`.
        role: &'static str,
        /// The far end's address, `"ip:port"`.
        far_address: String,
        /// The far end's peer ID (64 hex digits).
        far_peer_id: Option<String>,
        /// This end's session nonce (RFC 7425 §4.6.5).
        near_nonce: Py<PyBytes>,
        /// The far end's session nonce.
        far_nonce: Py<PyBytes>,
    }
}

event_class! {
    /// A session failed to open.
    SessionOpenFailed = "session_open_failed" {
        /// The session.
        session: Py<Session>,
        /// `"timeout"`, `"duplicate"`, `"keying_failed"`, `"cancelled"` or
        /// `"unreachable"`.
        reason: &'static str,
        /// For `"duplicate"`: the session to the same far end to use.
        duplicate_of: Option<Py<Session>>,
        /// For `"unreachable"`: the address that answered with an ICMP
        /// unreachable, `"ip:port"`.
        address: Option<String>,
    }
}

event_class! {
    /// An open session closed.
    SessionClosed = "session_closed" {
        /// The session.
        session: Py<Session>,
        /// `"local"`, `"local_abrupt"`, `"remote"`, `"idle_timeout"` or
        /// `"overridden"`.
        reason: &'static str,
    }
}

event_class! {
    /// The far end opened a flow to us: `flow.accept()` or
    /// `flow.reject(code)` it.
    FlowOpened = "flow_opened" {
        /// The session.
        session: Py<Session>,
        /// The receiving flow.
        flow: Py<RecvFlow>,
        /// The far end's per-flow metadata.
        metadata: Py<PyBytes>,
        /// Our sending flow this one answers, if any.
        association: Option<Py<Flow>>,
    }
}

event_class! {
    /// A complete message on an accepted receiving flow.
    Message = "message" {
        /// The session.
        session: Py<Session>,
        /// The receiving flow.
        flow: Py<RecvFlow>,
        /// The message.
        data: Py<PyBytes>,
        /// The sender abandoned messages before this one.
        gap_before: bool,
    }
}

event_class! {
    /// A receiving flow ended: every message was delivered.
    FlowFinished = "flow_finished" {
        /// The session.
        session: Py<Session>,
        /// The receiving flow.
        flow: Py<RecvFlow>,
    }
}

event_class! {
    /// Write receipt: the far end has every fragment of a message.
    MessageDelivered = "message_delivered" {
        /// The session.
        session: Py<Session>,
        /// The sending flow.
        flow: Py<Flow>,
        /// The message id `Flow.send` returned.
        message: u64,
    }
}

event_class! {
    /// Write receipt: a message was abandoned (deadline, no retransmission,
    /// parent abandoned, flow rejected or closed).
    MessageAbandoned = "message_abandoned" {
        /// The session.
        session: Py<Session>,
        /// The sending flow.
        flow: Py<Flow>,
        /// The message id `Flow.send` returned.
        message: u64,
    }
}

event_class! {
    /// A sending flow that raised `WouldBlock` takes messages again.
    FlowWritable = "flow_writable" {
        /// The session.
        session: Py<Session>,
        /// The sending flow.
        flow: Py<Flow>,
    }
}

event_class! {
    /// The far end rejected a sending flow.
    FlowRejected = "flow_rejected" {
        /// The session.
        session: Py<Session>,
        /// The sending flow.
        flow: Py<Flow>,
        /// The far end's exception code (0: rejected automatically).
        code: u64,
    }
}

event_class! {
    /// A closed sending flow: everything was acknowledged.
    FlowComplete = "flow_complete" {
        /// The session.
        session: Py<Session>,
        /// The sending flow.
        flow: Py<Flow>,
    }
}

event_class! {
    /// An IHello for an identity that is not this endpoint (what a
    /// rendezvous server answers).
    UnmatchedIHello = "unmatched_ihello" {
        /// The Endpoint Discriminator asked for.
        epd: Py<PyBytes>,
        /// The initiator's tag.
        tag: Py<PyBytes>,
        /// Where it came from, `"ip:port"`.
        address: String,
    }
}

event_class! {
    /// A session's far end moved to a new address.
    FarAddressChanged = "far_address_changed" {
        /// The session.
        session: Py<Session>,
        /// The old address.
        old_address: String,
        /// The new address.
        new_address: String,
    }
}

/// Adds the event classes to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<SessionOpened>()?;
    m.add_class::<SessionOpenFailed>()?;
    m.add_class::<SessionClosed>()?;
    m.add_class::<FlowOpened>()?;
    m.add_class::<Message>()?;
    m.add_class::<FlowFinished>()?;
    m.add_class::<MessageDelivered>()?;
    m.add_class::<MessageAbandoned>()?;
    m.add_class::<FlowWritable>()?;
    m.add_class::<FlowRejected>()?;
    m.add_class::<FlowComplete>()?;
    m.add_class::<UnmatchedIHello>()?;
    m.add_class::<FarAddressChanged>()?;
    Ok(())
}

fn open_failure_name(reason: OpenFailure) -> &'static str {
    match reason {
        OpenFailure::Timeout => "timeout",
        OpenFailure::Duplicate(_) => "duplicate",
        OpenFailure::KeyingFailed => "keying_failed",
        OpenFailure::Cancelled => "cancelled",
        OpenFailure::Unreachable(_) => "unreachable",
    }
}

fn close_reason_name(reason: CloseReason) -> &'static str {
    match reason {
        CloseReason::Local => "local",
        CloseReason::LocalAbrupt => "local_abrupt",
        CloseReason::Remote => "remote",
        CloseReason::IdleTimeout => "idle_timeout",
        CloseReason::Overridden => "overridden",
    }
}

/// The Python object for an event of the endpoint behind `shared`.
pub(crate) fn to_python(py: Python<'_>, shared: &Arc<Shared>, event: Event) -> PyResult<Py<PyAny>> {
    let session = |s| Session::create(py, shared, s);
    let send_flow = |s, f| Flow::create(py, shared, s, f);
    let recv_flow = |s, f| RecvFlow::create(py, shared, s, f);
    let bytes = |b: &[u8]| PyBytes::new(py, b).unbind();
    let obj: Py<PyAny> = match event {
        Event::SessionOpened {
            session: s,
            role,
            far_address,
            far_peer_id,
            near_nonce,
            far_nonce,
        } => Py::new(
            py,
            SessionOpened {
                session: session(s)?,
                role: match role {
                    Role::Initiator => "initiator",
                    Role::Responder => "responder",
                },
                far_address: far_address.to_string(),
                far_peer_id: far_peer_id.map(|id| hex(&id)),
                near_nonce: bytes(&near_nonce),
                far_nonce: bytes(&far_nonce),
            },
        )?
        .into_any(),
        Event::SessionOpenFailed { session: s, reason } => Py::new(
            py,
            SessionOpenFailed {
                session: session(s)?,
                reason: open_failure_name(reason),
                duplicate_of: match reason {
                    OpenFailure::Duplicate(other) => Some(session(other)?),
                    _ => None,
                },
                address: match reason {
                    OpenFailure::Unreachable(a) => Some(a.to_string()),
                    _ => None,
                },
            },
        )?
        .into_any(),
        Event::SessionClosed { session: s, reason } => Py::new(
            py,
            SessionClosed {
                session: session(s)?,
                reason: close_reason_name(reason),
            },
        )?
        .into_any(),
        Event::FlowOpened {
            session: s,
            flow,
            metadata,
            association,
        } => Py::new(
            py,
            FlowOpened {
                session: session(s)?,
                flow: recv_flow(s, flow)?,
                metadata: bytes(&metadata),
                association: association.map(|f| send_flow(s, f)).transpose()?,
            },
        )?
        .into_any(),
        Event::Message {
            session: s,
            flow,
            data,
            gap_before,
        } => Py::new(
            py,
            Message {
                session: session(s)?,
                flow: recv_flow(s, flow)?,
                data: bytes(&data),
                gap_before,
            },
        )?
        .into_any(),
        Event::FlowFinished { session: s, flow } => Py::new(
            py,
            FlowFinished {
                session: session(s)?,
                flow: recv_flow(s, flow)?,
            },
        )?
        .into_any(),
        Event::MessageDelivered {
            session: s,
            flow,
            message,
        } => Py::new(
            py,
            MessageDelivered {
                session: session(s)?,
                flow: send_flow(s, flow)?,
                message,
            },
        )?
        .into_any(),
        Event::MessageAbandoned {
            session: s,
            flow,
            message,
        } => Py::new(
            py,
            MessageAbandoned {
                session: session(s)?,
                flow: send_flow(s, flow)?,
                message,
            },
        )?
        .into_any(),
        Event::FlowWritable { session: s, flow } => Py::new(
            py,
            FlowWritable {
                session: session(s)?,
                flow: send_flow(s, flow)?,
            },
        )?
        .into_any(),
        Event::FlowRejected {
            session: s,
            flow,
            code,
        } => Py::new(
            py,
            FlowRejected {
                session: session(s)?,
                flow: send_flow(s, flow)?,
                code,
            },
        )?
        .into_any(),
        Event::FlowComplete { session: s, flow } => Py::new(
            py,
            FlowComplete {
                session: session(s)?,
                flow: send_flow(s, flow)?,
            },
        )?
        .into_any(),
        Event::UnmatchedIHello { epd, tag, from } => Py::new(
            py,
            UnmatchedIHello {
                epd: bytes(&epd),
                tag: bytes(&tag),
                address: from.to_string(),
            },
        )?
        .into_any(),
        Event::FarAddressChanged {
            session: s,
            from,
            to,
        } => Py::new(
            py,
            FarAddressChanged {
                session: session(s)?,
                old_address: from.to_string(),
                new_address: to.to_string(),
            },
        )?
        .into_any(),
    };
    Ok(obj)
}
