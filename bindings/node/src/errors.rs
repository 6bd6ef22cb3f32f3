//! Error codes and the mapping from `rtmfp-core` errors.
//!
//! Every error the addon raises is a JS `Error` whose `code` is one of
//! [`Code`]'s strings (napi-rs puts an error's status in `code`).  The JS
//! wrapper (`lib/errors.js`) turns them into `RtmfpError`s with the same
//! code and message; results that arrive later (replies on the event
//! callback) carry the same code and message as fields.

use napi::Status;
use rtmfp_core::endpoint::{EndpointError, OpenFailure};
use rtmfp_core::flash::client::ClientError;
use rtmfp_core::runtime::RuntimeError;
use rtmfp_core::session::flows::FlowError;

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
    err(Code::Closed, "the endpoint is closed")
}

/// A Node-API failure (never expected) as an `ERR_RTMFP_INTERNAL` error.
pub fn internal(e: napi::Error) -> Error {
    err(Code::Internal, format!("Node-API: {e}"))
}

/// The code and message for a runtime error.
pub fn describe(e: &RuntimeError) -> (Code, String) {
    let code = match e {
        RuntimeError::Closed | RuntimeError::ShuttingDown => {
            return (Code::Closed, "the endpoint is closed".to_owned())
        }
        RuntimeError::CalledFromIoThread | RuntimeError::Panicked => Code::Internal,
        RuntimeError::InvalidArgument(_) => Code::InvalidArgument,
        RuntimeError::Endpoint(e) => match e {
            EndpointError::UnknownSession | EndpointError::NotOpen => Code::Session,
            EndpointError::InvalidArgument(_) => Code::InvalidArgument,
            EndpointError::Flow(FlowError::WouldBlock) => {
                return (
                    Code::WouldBlock,
                    "the flow's send buffer is full; wait for 'writable'".to_owned(),
                )
            }
            EndpointError::Flow(FlowError::MetadataTooLarge) => Code::InvalidArgument,
            EndpointError::Flow(_) => Code::Flow,
        },
    };
    let message = match e {
        // "endpoint: no such session" reads oddly from JS.
        RuntimeError::Endpoint(inner) => inner.to_string(),
        other => other.to_string(),
    };
    (code, message)
}

/// A runtime error as an error to throw.
pub fn from_runtime(e: RuntimeError) -> Error {
    let (code, message) = describe(&e);
    err(code, message)
}

/// The name of an opening's failure, as in `'sessionOpenFailed'` items.
pub fn open_failure_name(reason: OpenFailure) -> &'static str {
    match reason {
        OpenFailure::Timeout => "timeout",
        OpenFailure::Duplicate(_) => "duplicate",
        OpenFailure::KeyingFailed => "keyingFailed",
        OpenFailure::Cancelled => "cancelled",
        OpenFailure::Unreachable(_) => "unreachable",
    }
}

/// The code and message for a Flash client error.
pub fn describe_client(e: ClientError) -> (Code, String) {
    match e {
        ClientError::Endpoint(inner) => describe(&RuntimeError::Endpoint(inner)),
        ClientError::InvalidArgument(why) => (Code::InvalidArgument, why),
        ClientError::UnknownStream => (Code::State, "no such stream (closed?)".to_owned()),
        other => (Code::State, other.to_string()),
    }
}
