//! The exception hierarchy and the mapping from `rtmfp-core` errors.
//!
//! ```text
//! rtmfp.Error(Exception)
//! ├── ClosedError                       the endpoint is closed
//! ├── TimeoutError(..., TimeoutError)   a blocking wait ran out
//! ├── InvalidArgument(..., ValueError)  bad URI, address, peer ID, option
//! ├── SessionError                      no such session, not open, open failed
//! ├── FlowError                         no such flow, flow closed
//! │   └── WouldBlock(..., BlockingIOError)  send buffer full: wait for FlowWritable
//! ├── NetError                          a NetConnection / NetStream call does not
//! │   │                                 fit the state (not connected, not publishing)
//! │   ├── ConnectError                  NetConnection.Connect.Rejected / .Failed
//! │   └── CallError                     the server answered a call with `_error`
//! └── CallbackError                     a Python callback raised (`__cause__`)
//! ```
//!
//! The classes are made with `type()` at import so that they can also
//! derive from the matching built-in exception (`except ValueError` catches
//! a bad URI).  Their `__module__` is `rtmfp`.

use pyo3::exceptions::{PyBlockingIOError, PyException, PyTimeoutError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};
use rtmfp_core::flash::NetError;
use rtmfp_core::host::options::OptionError;
use rtmfp_core::host::outcome::{Refusal, RefusalKind};
use rtmfp_core::host::{Classify, ErrorKind, Failure};
use rtmfp_core::runtime::RuntimeError;

/// Which exception to raise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Error,
    Closed,
    Timeout,
    InvalidArgument,
    Session,
    Flow,
    WouldBlock,
    Net,
    Connect,
    Call,
    Callback,
}

struct Types {
    error: Py<PyType>,
    closed: Py<PyType>,
    timeout: Py<PyType>,
    invalid: Py<PyType>,
    session: Py<PyType>,
    flow: Py<PyType>,
    would_block: Py<PyType>,
    net: Py<PyType>,
    connect: Py<PyType>,
    call: Py<PyType>,
    callback: Py<PyType>,
}

static TYPES: PyOnceLock<Types> = PyOnceLock::new();

fn new_class(
    py: Python<'_>,
    name: &str,
    bases: &[Bound<'_, PyType>],
    doc: &str,
) -> PyResult<Py<PyType>> {
    let dict = PyDict::new(py);
    dict.set_item("__doc__", doc)?;
    dict.set_item("__module__", "rtmfp")?;
    let bases = PyTuple::new(py, bases)?;
    let class = py.get_type::<PyType>().call1((name, bases, dict))?;
    Ok(class.cast_into::<PyType>()?.unbind())
}

fn types(py: Python<'_>) -> PyResult<&Types> {
    TYPES.get_or_try_init(py, || {
        let error = new_class(
            py,
            "Error",
            &[py.get_type::<PyException>()],
            "Base class of every error raised by rtmfp.",
        )?;
        let e = error.bind(py).clone();
        let flow = new_class(
            py,
            "FlowError",
            std::slice::from_ref(&e),
            "A flow operation failed: no such flow, or the flow is closed.",
        )?;
        let net = new_class(
            py,
            "NetError",
            std::slice::from_ref(&e),
            "A NetConnection or NetStream call does not fit the state: not \
             connected (yet), already connected, the stream is not publishing, \
             no such stream or subscriber.",
        )?;
        let n = net.bind(py).clone();
        Ok(Types {
            connect: new_class(
                py,
                "ConnectError",
                std::slice::from_ref(&n),
                "NetConnection.connect failed: the server rejected the connect \
                 (NetConnection.Connect.Rejected, e.g. a bad developer key) or it \
                 failed (NetConnection.Connect.Failed). Attributes: code, level, \
                 description (the status info).",
            )?,
            call: new_class(
                py,
                "CallError",
                std::slice::from_ref(&n),
                "The server answered a call (register_name, lookup_name, call) \
                 with _error. Attributes: code, level, description (the status \
                 info).",
            )?,
            callback: new_class(
                py,
                "CallbackError",
                std::slice::from_ref(&e),
                "A Python callback (on_peer_connect, a Server hook) raised. The \
                 original exception is __cause__; it was also logged (logger \
                 \"rtmfp\") when it happened.",
            )?,
            net,
            closed: new_class(
                py,
                "ClosedError",
                std::slice::from_ref(&e),
                "The endpoint is closed (or its I/O thread stopped).",
            )?,
            timeout: new_class(
                py,
                "TimeoutError",
                &[e.clone(), py.get_type::<PyTimeoutError>()],
                "A blocking wait (connect, wait_open) ran out of time. \
                 Also a built-in TimeoutError.",
            )?,
            invalid: new_class(
                py,
                "InvalidArgument",
                &[e.clone(), py.get_type::<PyValueError>()],
                "A bad argument: URI, address, peer ID, duration, priority. \
                 Also a ValueError.",
            )?,
            session: new_class(
                py,
                "SessionError",
                std::slice::from_ref(&e),
                "No such session, the session is not open, or it failed to open.",
            )?,
            would_block: new_class(
                py,
                "WouldBlock",
                &[flow.bind(py).clone(), py.get_type::<PyBlockingIOError>()],
                "The flow's send buffer is full: wait for a FlowWritable event \
                 (or Flow.writable) and send again. Also a BlockingIOError.",
            )?,
            flow,
            error,
        })
    })
}

/// Adds the exception classes to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let t = types(py)?;
    for (name, ty) in [
        ("Error", &t.error),
        ("ClosedError", &t.closed),
        ("TimeoutError", &t.timeout),
        ("InvalidArgument", &t.invalid),
        ("SessionError", &t.session),
        ("FlowError", &t.flow),
        ("WouldBlock", &t.would_block),
        ("NetError", &t.net),
        ("ConnectError", &t.connect),
        ("CallError", &t.call),
        ("CallbackError", &t.callback),
    ] {
        m.add(name, ty.clone_ref(py))?;
    }
    Ok(())
}

/// A new exception of `kind` with `message`.
pub(crate) fn err(py: Python<'_>, kind: Kind, message: impl Into<String>) -> PyErr {
    let message = message.into();
    let t = match types(py) {
        Ok(t) => t,
        Err(e) => return e,
    };
    let ty = match kind {
        Kind::Error => &t.error,
        Kind::Closed => &t.closed,
        Kind::Timeout => &t.timeout,
        Kind::InvalidArgument => &t.invalid,
        Kind::Session => &t.session,
        Kind::Flow => &t.flow,
        Kind::WouldBlock => &t.would_block,
        Kind::Net => &t.net,
        Kind::Connect => &t.connect,
        Kind::Call => &t.call,
        Kind::Callback => &t.callback,
    };
    PyErr::from_type(ty.bind(py).clone(), (message,))
}

pub(crate) fn invalid(py: Python<'_>, message: impl Into<String>) -> PyErr {
    err(py, Kind::InvalidArgument, message)
}

/// Whether `e` is a `ClosedError` (an event stream's end).
pub(crate) fn is_closed_error(py: Python<'_>, e: &PyErr) -> bool {
    types(py).is_ok_and(|t| e.is_instance(py, t.closed.bind(py)))
}

pub(crate) fn closed(py: Python<'_>) -> PyErr {
    closed_as(py, "the endpoint")
}

/// `ClosedError` naming what is closed ("the NetConnection", "the server").
pub(crate) fn closed_as(py: Python<'_>, what: &str) -> PyErr {
    failure(py, Failure::closed(what))
}

/// The exception class of a core failure's kind.
fn class_of(kind: ErrorKind) -> Kind {
    match kind {
        ErrorKind::Closed => Kind::Closed,
        ErrorKind::InvalidArgument => Kind::InvalidArgument,
        ErrorKind::Timeout => Kind::Timeout,
        ErrorKind::WouldBlock => Kind::WouldBlock,
        ErrorKind::UnknownSession | ErrorKind::NotOpen | ErrorKind::OpenFailed => Kind::Session,
        ErrorKind::UnknownFlow | ErrorKind::FlowClosed => Kind::Flow,
        ErrorKind::UnknownStream | ErrorKind::WrongState => Kind::Net,
        ErrorKind::Io | ErrorKind::Identity | ErrorKind::IoThread | ErrorKind::Panicked => {
            Kind::Error
        }
    }
}

/// The exception for a core failure: its kind's class, the core's words.
pub(crate) fn failure(py: Python<'_>, f: Failure) -> PyErr {
    err(py, class_of(f.kind), f.message)
}

/// The exception for a runtime error.
pub(crate) fn from_runtime(py: Python<'_>, e: RuntimeError) -> PyErr {
    failure(py, e.failure())
}

/// The exception for a refused option: an `OSError` (with `errno` and
/// `filename`) for a file that could not be opened or read, else the
/// failure's class with core's words.
pub(crate) fn option(py: Python<'_>, e: OptionError) -> PyErr {
    match e {
        OptionError::File { path, error, .. } => os_error(error, &path.to_string_lossy()),
        OptionError::Invalid(f) => failure(py, f),
    }
}

/// An `OSError` for `e` with `errno`, `strerror` and `filename` set (the
/// address or path involved), so that Python picks the subclass
/// (`FileNotFoundError`, ...) and `str()` names what failed:
/// `[Errno 98] Address already in use: '127.0.0.1:1935'`.
pub(crate) fn os_error(e: std::io::Error, filename: &str) -> PyErr {
    match e.raw_os_error() {
        Some(errno) => {
            let text = std::io::Error::from_raw_os_error(errno).to_string();
            let strerror = match text.rsplit_once(" (os error") {
                Some((s, _)) => s.to_owned(),
                None => text,
            };
            pyo3::exceptions::PyOSError::new_err((errno, strerror, filename.to_owned()))
        }
        None => pyo3::exceptions::PyOSError::new_err(format!("{filename}: {e}")),
    }
}

/// The exception for a NetConnection / NetStream error: an `OSError`
/// (with `errno`) when binding failed.
pub(crate) fn from_net(py: Python<'_>, e: NetError) -> PyErr {
    match e {
        NetError::Io(e) => os_error(e, ""),
        e => failure(py, e.failure()),
    }
}

/// An exception of `kind` with `code`, `level` and `description`
/// attributes (a status info object).
pub(crate) fn with_status(
    py: Python<'_>,
    kind: Kind,
    message: String,
    code: &str,
    level: &str,
    description: &str,
) -> PyErr {
    let e = err(py, kind, message);
    let value = e.value(py);
    let _ = value.setattr("code", code);
    let _ = value.setattr("level", level);
    let _ = value.setattr("description", description);
    e
}

/// The exception for a refused connect (`ConnectError`) or call
/// (`CallError`), with the server's `code`, `level` and `description`
/// when it sent them.
pub(crate) fn refused(py: Python<'_>, r: Refusal) -> PyErr {
    let kind = match r.kind {
        RefusalKind::Rejected | RefusalKind::ConnectFailed => Kind::Connect,
        RefusalKind::CallFailed => Kind::Call,
    };
    match &r.info {
        Some(i) => with_status(py, kind, r.message, &i.code, &i.level, &i.description),
        None => err(py, kind, r.message),
    }
}

/// `Result<T, NetError>` or `Result<T, RuntimeError>` to `PyResult<T>`
/// (through [`from_net`] or [`from_runtime`]).
pub(crate) trait OrRaise<T> {
    fn or_raise(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> OrRaise<T> for Result<T, NetError> {
    fn or_raise(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| from_net(py, e))
    }
}

impl<T> OrRaise<T> for Result<T, RuntimeError> {
    fn or_raise(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| from_runtime(py, e))
    }
}
