//! Events as small frozen Python classes, one per kind, with a `kind`
//! string (`"message"`, `"session_opened"`, ...) so that code can dispatch
//! on it, and typed fields.
//!
//! Every event reaches Python through core's language-neutral description
//! (`rtmfp_core::host::Description`) and one generic conversion: a class
//! declares its fields once ([`event_class!`]) and is built from the
//! description's fields of the same names; [`construct`] picks the class by
//! kind (a kind without a class becomes a `types.SimpleNamespace` with the
//! same fields).  [`describe`] applies Python's layout (flattened records,
//! a few names of its own); an adapter then only adds what is Python's own
//! (hook verdicts, compatibility fields) and maps ids to its objects
//! ([`Ids`]).  Values: bytes to `bytes`, addresses to `"ip:port"`, peer IDs
//! to 64 hex digits, words to `str`, durations to seconds, AMF values as
//! [`crate::amf`] converts them, lists to `list`, records to their class.

use crate::convert::hex;
use crate::flash_events::{
    CallResult, ClientConnected, ClientDisconnected, ClientPeerInfo, ClientRejected,
    KeepaliveTimers, Media, NameRegistered, NetCommand, NetStatus, PeerConnect, PeerIntroduced,
    PeerStreamClosed, PeerStreamOpened, ServerAsk, ServerAskEnded, ServerSession, ServerStream,
    StreamCreated, StreamPlaying, StreamPublished, StreamRejected, StreamUnpublished, UserControl,
};
use crate::session::{Flow, RecvFlow, Session};
use crate::shared::Shared;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyList, PyString};
use rtmfp_core::endpoint::{Event, SessionHandle};
use rtmfp_core::flash::client::StreamId;
use rtmfp_core::flow::FlowId;
use rtmfp_core::host::{Describe, Description, Field, Value};
use std::sync::Arc;

/// Longest field repr shown by an event's `repr()`.
const REPR_FIELD_MAX: usize = 72;

/// Records whose fields Python gives on the event itself.
const FLATTEN: &[(&str, &str)] = &[
    ("peer_connect", "peer"),
    ("peer_stream_opened", "peer"),
    ("connected", "client"),
    ("disconnected", "client"),
];

/// Python's names for core's fields: (kind, core's name, Python's).
const RENAMES: &[(&str, &str, &str)] = &[
    ("far_address_changed", "from", "old_address"),
    ("far_address_changed", "to", "new_address"),
    ("peer_connect", "far_id", "peer_id"),
    ("peer_connect", "far_address", "address"),
    ("peer_stream_opened", "far_id", "peer_id"),
    ("peer_stream_opened", "far_address", "address"),
    ("peer_stream_closed", "far_id", "peer_id"),
    ("status", "extra", "info"),
];

/// How an adapter maps core's ids to Python objects.  By default a
/// session is its number and flows and NetStreams are None.
pub(crate) trait Ids {
    /// A session.
    fn session(&self, py: Python<'_>, session: SessionHandle) -> PyResult<Py<PyAny>> {
        Ok(session.0.into_pyobject(py)?.into_any().unbind())
    }

    /// A flow of `session`: sending, or receiving.
    fn flow(
        &self,
        py: Python<'_>,
        _: SessionHandle,
        _: FlowId,
        _sending: bool,
    ) -> PyResult<Py<PyAny>> {
        Ok(py.None())
    }

    /// A NetStream of the Flash client.
    fn stream(&self, py: Python<'_>, _: StreamId) -> PyResult<Py<PyAny>> {
        Ok(py.None())
    }
}

/// The default [`Ids`] (the server's: sessions as numbers).
pub(crate) struct Numbers;

impl Ids for Numbers {}

/// `event`'s description in Python's layout ([`FLATTEN`], [`RENAMES`]).
pub(crate) fn describe(event: impl Describe) -> Description {
    let mut d = event.describe();
    let kind = d.kind;
    for (_, name) in FLATTEN.iter().filter(|(k, _)| *k == kind) {
        if let Value::Record(record) = take(&mut d, name) {
            d.fields.extend(record.fields);
        }
    }
    for (_, from, to) in RENAMES.iter().filter(|(k, ..)| *k == kind) {
        if let Some(f) = d.fields.iter_mut().find(|f| f.name == *from) {
            f.name = to;
        }
    }
    d
}

/// Takes field `name`'s value out of `d` (Null if it has none).
pub(crate) fn take(d: &mut Description, name: &str) -> Value {
    d.fields
        .iter_mut()
        .find(|f| f.name == name)
        .map_or(Value::Null, |f| {
            std::mem::replace(&mut f.value, Value::Null)
        })
}

/// Sets field `name` of `d` (one of Python's own, or a changed value).
pub(crate) fn set(d: &mut Description, name: &'static str, value: impl Into<Value>) {
    let value = value.into();
    match d.fields.iter_mut().find(|f| f.name == name) {
        Some(f) => f.value = value,
        None => d.fields.push(Field { name, value }),
    }
}

/// Field `name` of `d` as text (free text or a word).
pub(crate) fn text<'a>(d: &'a Description, name: &str) -> Option<&'a str> {
    match d.get(name) {
        Some(Value::Text(s)) => Some(s),
        Some(Value::Word(w)) => Some(w),
        _ => None,
    }
}

/// Field `name` of `d` as a peer ID in hex.
pub(crate) fn peer_hex(d: &Description, name: &str) -> Option<String> {
    match d.get(name) {
        Some(Value::PeerId(p)) => Some(hex(p)),
        _ => None,
    }
}

/// The event's session (its flows' session).
pub(crate) fn session_of(d: &Description) -> Option<SessionHandle> {
    match d.get("session") {
        Some(Value::Session(s)) => Some(*s),
        _ => None,
    }
}

/// One value as a Python object; flows are of `session`.
fn to_python_value(
    py: Python<'_>,
    ids: &dyn Ids,
    session: Option<SessionHandle>,
    value: Value,
) -> PyResult<Py<PyAny>> {
    let flow = |f, sending| match session {
        Some(s) => ids.flow(py, s, f, sending),
        None => Err(PyRuntimeError::new_err("rtmfp: a flow without its session")),
    };
    Ok(match value {
        Value::Null => py.None(),
        Value::Bool(b) => PyBool::new(py, b).to_owned().into_any().unbind(),
        Value::U64(n) => n.into_pyobject(py)?.into_any().unbind(),
        Value::F64(x) => x.into_pyobject(py)?.into_any().unbind(),
        Value::Text(s) => PyString::new(py, &s).into_any().unbind(),
        Value::Word(w) => PyString::new(py, w).into_any().unbind(),
        Value::Bytes(b) => PyBytes::new(py, &b).into_any().unbind(),
        Value::Duration(t) => t.as_secs_f64().into_pyobject(py)?.into_any().unbind(),
        Value::Address(a) => PyString::new(py, &a.to_string()).into_any().unbind(),
        Value::PeerId(p) => PyString::new(py, &hex(&p)).into_any().unbind(),
        Value::Session(s) => ids.session(py, s)?,
        Value::RecvFlow(f) => flow(f, false)?,
        Value::SendFlow(f) => flow(f, true)?,
        Value::Stream(s) => ids.stream(py, s)?,
        Value::PeerStream(p) => p.0.into_pyobject(py)?.into_any().unbind(),
        Value::Amf(v) => crate::amf::to_python(py, &v)?,
        Value::List(items) => {
            let list = PyList::empty(py);
            for v in items {
                list.append(to_python_value(py, ids, session, v)?)?;
            }
            list.into_any().unbind()
        }
        Value::Record(record) => construct(py, ids, record)?,
    })
}

/// Field `name` of `d` as a Python object (moved out of `d`).
pub(crate) fn field(
    py: Python<'_>,
    ids: &dyn Ids,
    d: &mut Description,
    session: Option<SessionHandle>,
    name: &str,
) -> PyResult<Py<PyAny>> {
    match d.fields.iter_mut().find(|f| f.name == name) {
        Some(f) => to_python_value(
            py,
            ids,
            session,
            std::mem::replace(&mut f.value, Value::Null),
        ),
        None => Err(PyRuntimeError::new_err(format!(
            "rtmfp: a {} event has no field {name}",
            d.kind
        ))),
    }
}

/// A kind without a class: a `types.SimpleNamespace` with `kind` and the
/// fields.
fn namespace(py: Python<'_>, ids: &dyn Ids, d: Description) -> PyResult<Py<PyAny>> {
    let session = session_of(&d);
    let fields = PyDict::new(py);
    fields.set_item("kind", d.kind)?;
    for f in d.fields {
        fields.set_item(f.name, to_python_value(py, ids, session, f.value)?)?;
    }
    let class = py.import("types")?.getattr("SimpleNamespace")?;
    Ok(class.call((), Some(&fields))?.unbind())
}

/// `event_class! { Name = "kind" { field: Type, ... } }`: a frozen class
/// with those (documented) fields, its `kind`, a `repr`, and
/// `from_description`, which builds it from the description's fields of
/// the same names.  `... } methods { ... }` gives the methods (and repr)
/// instead; `record Name = "kind" ...` is a record without `kind`.  A
/// word field lists its words, `field: String = "a" | "b"` (checked in
/// debug builds, [`check_word`]).  scripts/event_stubs.py writes the
/// Python stubs of these classes from these declarations.
macro_rules! event_class {
    (
        $(#[$doc:meta])*
        record $name:ident = $kind:literal {
            $( $(#[$fdoc:meta])* $field:ident : $ty:ty $(= $($word:literal)|+)? ),* $(,)?
        } methods { $($methods:tt)* }
    ) => {
        $(#[$doc])*
        #[pyclass(frozen, get_all, module = "rtmfp")]
        pub(crate) struct $name {
            $( $(#[$fdoc])* pub(crate) $field: $ty ),*
        }

        #[pymethods]
        impl $name {
            $($methods)*
        }

        impl $name {
            pub(crate) const KIND: &'static str = $kind;

            /// The object for a description of kind `KIND`.
            pub(crate) fn from_description(
                py: Python<'_>,
                ids: &dyn $crate::events::Ids,
                mut d: rtmfp_core::host::Description,
            ) -> PyResult<Self> {
                let session = $crate::events::session_of(&d);
                Ok(Self {$(
                    $field: {
                        let name = stringify!($field);
                        let value = $crate::events::field(py, ids, &mut d, session, name)?
                            .bind(py)
                            .extract::<$ty>()
                            .map_err(Into::<PyErr>::into)?;
                        $($crate::events::check_word($kind, name, &value, &[$($word),+]);)?
                        value
                    },
                )*})
            }
        }
    };
    (
        $(#[$doc:meta])*
        $name:ident = $kind:literal {
            $( $(#[$fdoc:meta])* $field:ident : $ty:ty $(= $($word:literal)|+)? ),* $(,)?
        } methods { $($methods:tt)* }
    ) => {
        $crate::events::event_class! {
            $(#[$doc])*
            record $name = $kind {
                $( $(#[$fdoc])* $field: $ty $(= $($word)|+)? ),*
            } methods {
                /// The event's kind.
                #[classattr]
                fn kind() -> &'static str {
                    $kind
                }

                $($methods)*
            }
        }
    };
    (
        $(#[$doc:meta])*
        $name:ident = $kind:literal {
            $( $(#[$fdoc:meta])* $field:ident : $ty:ty $(= $($word:literal)|+)? ),* $(,)?
        }
    ) => {
        $crate::events::event_class! {
            $(#[$doc])*
            $name = $kind {
                $( $(#[$fdoc])* $field: $ty $(= $($word)|+)? ),*
            } methods {
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
        }
    };
}

pub(crate) use event_class;

/// `classes![A, B, ...]`: `register` adds the classes to the module,
/// `construct` builds the class of a description's kind.
macro_rules! classes {
    ($($class:ident),* $(,)?) => {
        /// Adds the event and record classes to the module.
        pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
            $(m.add_class::<$class>()?;)*
            Ok(())
        }

        /// The Python object for a description: the class of its kind (a
        /// `types.SimpleNamespace` for a kind without one).
        pub(crate) fn construct(py: Python<'_>, ids: &dyn Ids, d: Description) -> PyResult<Py<PyAny>> {
            $(
                if d.kind == $class::KIND {
                    return Ok(Py::new(py, $class::from_description(py, ids, d)?)?.into_any());
                }
            )*
            namespace(py, ids, d)
        }
    };
}

classes![
    Message,
    MessageDelivered,
    FlowWritable,
    SessionOpened,
    SessionOpenFailed,
    SessionClosed,
    FlowOpened,
    FlowFinished,
    MessageAbandoned,
    FlowRejected,
    FlowComplete,
    UnmatchedIHello,
    FarAddressChanged,
    Media,
    NetStatus,
    StreamCreated,
    UserControl,
    NetCommand,
    CallResult,
    PeerConnect,
    PeerStreamOpened,
    PeerStreamClosed,
    KeepaliveTimers,
    ClientConnected,
    ClientRejected,
    ClientPeerInfo,
    ClientDisconnected,
    StreamPublished,
    StreamUnpublished,
    StreamPlaying,
    StreamRejected,
    PeerIntroduced,
    NameRegistered,
    ServerAsk,
    ServerAskEnded,
    ServerSession,
    ServerStream,
];

/// Debug builds: `value` of `kind`'s word field `field` is one of `words`,
/// the ones its declaration (and so the stubs' `Literal`) lists.
pub(crate) fn check_word(kind: &str, field: &str, value: &str, words: &[&str]) {
    debug_assert!(
        words.contains(&value),
        "rtmfp: {kind}.{field} is {value:?}, not one of {words:?} \
         (add it to its event_class! declaration; run scripts/event_stubs.py)"
    );
}

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
        role: String = "initiator" | "responder",
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
        reason: String = "timeout" | "duplicate" | "keying_failed" | "cancelled" | "unreachable",
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
        reason: String = "local" | "local_abrupt" | "remote" | "idle_timeout" | "overridden",
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

/// An endpoint's ids: its `Session`, `Flow` and `RecvFlow` objects.
struct EndpointIds<'a>(&'a Arc<Shared>);

impl Ids for EndpointIds<'_> {
    fn session(&self, py: Python<'_>, session: SessionHandle) -> PyResult<Py<PyAny>> {
        Ok(Session::create(py, self.0, session)?.into_any())
    }

    fn flow(
        &self,
        py: Python<'_>,
        s: SessionHandle,
        f: FlowId,
        sending: bool,
    ) -> PyResult<Py<PyAny>> {
        Ok(if sending {
            Flow::create(py, self.0, s, f)?.into_any()
        } else {
            RecvFlow::create(py, self.0, s, f)?.into_any()
        })
    }
}

/// The Python object for an event of the endpoint behind `shared`.
pub(crate) fn to_python(py: Python<'_>, shared: &Arc<Shared>, event: Event) -> PyResult<Py<PyAny>> {
    construct(py, &EndpointIds(shared), describe(event))
}
