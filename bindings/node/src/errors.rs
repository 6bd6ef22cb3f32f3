//! Error codes and the mapping from `rtmfp-core` errors.
//!
//! Every error the addon raises is a JS `Error` whose `code` is one of
//! [`Code`]'s strings (napi-rs puts an error's status in `code`).  The JS
//! wrapper (`lib/errors.js`) turns them into `RtmfpError`s with the same
//! code and message; results that arrive later (replies on the event
//! callback) carry the same code and message as fields.

use napi::Status;
use rtmfp_core::host::outcome::RefusalKind;
use rtmfp_core::host::{Classify, ErrorKind, Failure};
use rtmfp_core::runtime::RuntimeError;

/// What went wrong, as the JS `err.code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// The endpoint (or the session or flow) is closed.
    Closed,
    /// A bad argument: URI, address, peer ID, option, metadata size.
    InvalidArgument,
    /// A session did not open in time.
    Timeout,
    /// A flow's send buffer is full; wait for `'writable'`.
    WouldBlock,
    /// No such session, or it could not be opened (keying refused,
    /// cancelled).
    Session,
    /// No such flow, or the flow is closed for sending.
    Flow,
    /// The system refused: a socket could not be bound, a thread not
    /// started.
    Io,
    /// The call does not fit the object's state: a NetConnection not
    /// connected (or already), a NetStream that does not publish, plays
    /// already, or is of the wrong kind.
    State,
    /// The server rejected the connect ("NetConnection.Connect.Rejected").
    Rejected,
    /// The connect failed, or the connection closed before it succeeded.
    ConnectFailed,
    /// The server answered a call with `_error` (or with no usable value).
    CallFailed,
    /// A bug: a call panicked on the I/O thread, or Node-API failed.
    Internal,
}

impl Code {
    /// The `err.code` string.
    pub const fn as_str(self) -> &'static str {
        match self {
            Code::Closed => "ERR_RTMFP_CLOSED",
            Code::InvalidArgument => "ERR_RTMFP_INVALID_ARGUMENT",
            Code::Timeout => "ERR_RTMFP_TIMEOUT",
            Code::WouldBlock => "ERR_RTMFP_WOULD_BLOCK",
            Code::Session => "ERR_RTMFP_SESSION",
            Code::Flow => "ERR_RTMFP_FLOW",
            Code::Io => "ERR_RTMFP_IO",
            Code::State => "ERR_RTMFP_STATE",
            Code::Rejected => "ERR_RTMFP_REJECTED",
            Code::ConnectFailed => "ERR_RTMFP_CONNECT_FAILED",
            Code::CallFailed => "ERR_RTMFP_CALL_FAILED",
            Code::Internal => "ERR_RTMFP_INTERNAL",
        }
    }
}

impl AsRef<str> for Code {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl From<Status> for Code {
    fn from(_: Status) -> Code {
        Code::Internal
    }
}

/// An error to throw: its `code` and message.
pub type Error = napi::Error<Code>;

/// The result of every fallible addon function.
pub type Result<T> = std::result::Result<T, Error>;

/// An error with `code` and `message`.
pub fn err(code: Code, message: impl Into<String>) -> Error {
    napi::Error::new(code, message.into())
}

/// An `ERR_RTMFP_INVALID_ARGUMENT` error.
pub fn invalid(message: impl Into<String>) -> Error {
    err(Code::InvalidArgument, message)
}

/// The error of calls on a closed endpoint.
pub fn closed() -> Error {
    failed(Failure::closed("the endpoint"))
}

/// A Node-API failure (never expected) as an `ERR_RTMFP_INTERNAL` error.
pub fn internal(e: napi::Error) -> Error {
    err(Code::Internal, format!("Node-API: {e}"))
}

/// The `err.code` of a core failure's kind.
fn code_of(kind: ErrorKind) -> Code {
    match kind {
        ErrorKind::Closed => Code::Closed,
        ErrorKind::InvalidArgument => Code::InvalidArgument,
        ErrorKind::Timeout => Code::Timeout,
        ErrorKind::WouldBlock => Code::WouldBlock,
        ErrorKind::UnknownSession | ErrorKind::NotOpen | ErrorKind::OpenFailed => Code::Session,
        ErrorKind::UnknownFlow | ErrorKind::FlowClosed => Code::Flow,
        ErrorKind::UnknownStream | ErrorKind::WrongState => Code::State,
        ErrorKind::Io => Code::Io,
        ErrorKind::Identity | ErrorKind::IoThread | ErrorKind::Panicked => Code::Internal,
    }
}

/// The code and message of a core failure (its kind's code, core's words).
pub fn coded(f: Failure) -> (Code, String) {
    (code_of(f.kind), f.message)
}

/// A core failure as an error to throw.
pub fn failed(f: Failure) -> Error {
    let (code, message) = coded(f);
    err(code, message)
}

/// The code and message for a core error (runtime, client, NetConnection,
/// FLV).
pub fn describe(e: &impl Classify) -> (Code, String) {
    coded(e.failure())
}

/// A runtime error as an error to throw.
pub fn from_runtime(e: RuntimeError) -> Error {
    failed(e.failure())
}

/// The `err.code` of a refused connect or call.
pub fn refusal_code(kind: RefusalKind) -> Code {
    match kind {
        RefusalKind::Rejected => Code::Rejected,
        RefusalKind::ConnectFailed => Code::ConnectFailed,
        RefusalKind::CallFailed => Code::CallFailed,
    }
}
