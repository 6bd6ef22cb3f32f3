//! What a failed call means to a host, written once: its [`ErrorKind`]
//! (each adapter maps a kind to its exception class or error code) and
//! the message every adapter shows as is.
//!
//! The runtime, the endpoint, the Flash client, a NetConnection and an FLV
//! stream each have their own error type; [`Classify::failure`] gives the
//! one answer for all of them, and [`open_failure`] the one for a session
//! that did not open.

use crate::endpoint::{EndpointError, OpenFailure};
use crate::flash::client::ClientError;
use crate::flash::flv_io::FlvIoError;
use crate::flash::NetError;
use crate::rendezvous::AskError;
use crate::runtime::RuntimeError;
use crate::session::flows::FlowError;
use std::fmt;

/// What kind of failure a call met: the distinctions an adapter may draw
/// (C draws them all, Python and Node merge some into one class).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The object (endpoint, NetConnection, server) is closed or closing.
    Closed,
    /// A bad argument: URI, address, peer ID, option, metadata size, bytes
    /// that are not FLV.
    InvalidArgument,
    /// A wait or a session's opening ran out of time.
    Timeout,
    /// Nothing can be done now (a flow's send buffer is full, no FLV room
    /// or bytes); try again later.
    WouldBlock,
    /// No such session: closed, failed to open, or never issued.
    UnknownSession,
    /// The session is not open.
    NotOpen,
    /// A session could not open: keying refused, cancelled, unreachable,
    /// another session used instead.
    OpenFailed,
    /// No such flow in this session (in this direction).
    UnknownFlow,
    /// The flow is closing or closed.
    FlowClosed,
    /// No such NetStream or subscriber.
    UnknownStream,
    /// The call does not fit the object's state: not connected (yet),
    /// already connected, the stream does not publish, reads before
    /// starting.
    WrongState,
    /// The system refused: sockets could not be bound.
    Io,
    /// Making the identity (certificate, Diffie-Hellman keys) failed.
    Identity,
    /// A blocking call was made from the I/O thread itself.
    IoThread,
    /// A bug: the call panicked on the I/O thread.
    Panicked,
}

/// A failure as every adapter reports it: its kind and its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// What an adapter maps to its exception class or error code.
    pub kind: ErrorKind,
    /// The words every adapter shows.
    pub message: String,
}

impl Failure {
    /// A failure of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Failure {
        Failure {
            kind,
            message: message.into(),
        }
    }

    /// `what` ("the endpoint", "the NetConnection") is closed.
    pub fn closed(what: &str) -> Failure {
        Failure::new(ErrorKind::Closed, format!("{what} is closed"))
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// An error a host reports: every error type of the runtime and the
/// Flash layer.
pub trait Classify {
    /// Its kind and canonical message.
    fn failure(&self) -> Failure;

    /// Its kind alone.
    fn kind(&self) -> ErrorKind {
        self.failure().kind
    }
}

impl Classify for RuntimeError {
    fn failure(&self) -> Failure {
        match self {
            RuntimeError::Closed | RuntimeError::ShuttingDown => Failure::closed("the endpoint"),
            RuntimeError::CalledFromIoThread => Failure::new(ErrorKind::IoThread, self.to_string()),
            RuntimeError::Panicked => Failure::new(ErrorKind::Panicked, self.to_string()),
            RuntimeError::InvalidArgument(why) => Failure::new(ErrorKind::InvalidArgument, why),
            // Without the "endpoint: " of Display, which reads oddly to a
            // host's user.
            RuntimeError::Endpoint(e) => e.failure(),
        }
    }
}

impl Classify for EndpointError {
    fn failure(&self) -> Failure {
        let (kind, message) = match self {
            EndpointError::UnknownSession => (
                ErrorKind::UnknownSession,
                "no such session (closed, failed to open, or never issued)",
            ),
            EndpointError::NotOpen => (ErrorKind::NotOpen, "the session is not open"),
            EndpointError::InvalidArgument(_) => {
                return Failure::new(ErrorKind::InvalidArgument, self.to_string())
            }
            EndpointError::Flow(FlowError::UnknownFlow) => (
                ErrorKind::UnknownFlow,
                "no such flow in this session (in this direction)",
            ),
            EndpointError::Flow(FlowError::Closed) => (ErrorKind::FlowClosed, "the flow is closed"),
            EndpointError::Flow(FlowError::WouldBlock) => (
                ErrorKind::WouldBlock,
                "the flow's send buffer is full; send again once the flow is writable",
            ),
            EndpointError::Flow(FlowError::MetadataTooLarge) => {
                (ErrorKind::InvalidArgument, "flow metadata over 512 bytes")
            }
        };
        Failure::new(kind, message)
    }
}

impl Classify for ClientError {
    fn failure(&self) -> Failure {
        match self {
            ClientError::UnknownStream => Failure::new(
                ErrorKind::UnknownStream,
                "no such NetStream or subscriber (closed, or never issued)",
            ),
            ClientError::NotConnected => Failure::new(
                ErrorKind::WrongState,
                "the NetConnection is not connected; wait for NetConnection.Connect.Success",
            ),
            ClientError::AlreadyConnected => Failure::new(
                ErrorKind::WrongState,
                "the NetConnection is already connected",
            ),
            ClientError::WrongState(why) => Failure::new(ErrorKind::WrongState, *why),
            ClientError::InvalidArgument(why) => Failure::new(ErrorKind::InvalidArgument, why),
            ClientError::Endpoint(e) => e.failure(),
        }
    }
}

impl Classify for NetError {
    fn failure(&self) -> Failure {
        match self {
            NetError::Client(e) => e.failure(),
            NetError::Runtime(RuntimeError::Closed | RuntimeError::ShuttingDown) => {
                Failure::closed("the NetConnection")
            }
            NetError::Runtime(e) => e.failure(),
            NetError::Io(e) => {
                Failure::new(ErrorKind::Io, format!("starting the NetConnection: {e}"))
            }
            NetError::Identity(_) => Failure::new(ErrorKind::Identity, self.to_string()),
        }
    }
}

impl Classify for FlvIoError {
    fn failure(&self) -> Failure {
        match self {
            FlvIoError::NotFlv(_) => Failure::new(ErrorKind::InvalidArgument, self.to_string()),
            FlvIoError::WouldBlock => Failure::new(ErrorKind::WouldBlock, self.to_string()),
            FlvIoError::WrongState(why) => Failure::new(ErrorKind::WrongState, *why),
            FlvIoError::Net(e) => e.failure(),
        }
    }
}

/// A server verdict that did nothing (`Server::answer`): for an ask that
/// had ended (answered, expired, its client gone) the call came in the
/// wrong state; an id never asked is a bad argument.
impl Classify for AskError {
    fn failure(&self) -> Failure {
        let kind = match self {
            AskError::Unknown => ErrorKind::InvalidArgument,
            AskError::Ended(_) => ErrorKind::WrongState,
            AskError::Stopped => ErrorKind::Closed,
        };
        Failure::new(kind, self.to_string())
    }
}

/// A verdict on ask `id` that did nothing, in the words every adapter
/// shows: "ask ID: REASON; nothing was done" (only the reason once the
/// server has stopped).
pub fn verdict_failure(id: u64, error: &AskError) -> Failure {
    let mut failure = error.failure();
    if *error != AskError::Stopped {
        failure.message = format!("ask {id}: {}; nothing was done", failure.message);
    }
    failure
}

/// A session with `what` (a URI, "peer 0123...") that did not open: a
/// [`ErrorKind::Timeout`] when nobody answered in time, otherwise
/// [`ErrorKind::OpenFailed`]; the message gives the reason in
/// [`OpenFailure`]'s words.
pub fn open_failure(reason: OpenFailure, what: &str) -> Failure {
    let kind = match reason {
        OpenFailure::Timeout => ErrorKind::Timeout,
        _ => ErrorKind::OpenFailed,
    };
    Failure::new(kind, format!("no session with {what}: {reason}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::SessionHandle;

    #[test]
    fn a_verdict_that_did_nothing_names_its_ask_and_says_why() {
        use crate::rendezvous::AskEnd;
        let late = verdict_failure(7, &AskError::Ended(AskEnd::Expired));
        assert_eq!(late.kind, ErrorKind::WrongState);
        assert_eq!(
            late.message,
            "ask 7: the ask expired: its default verdict was applied; nothing was done"
        );
        let unknown = verdict_failure(9, &AskError::Unknown);
        assert_eq!(unknown.kind, ErrorKind::InvalidArgument);
        assert_eq!(unknown.message, "ask 9: no such ask; nothing was done");
        let stopped = verdict_failure(9, &AskError::Stopped);
        assert_eq!(stopped.kind, ErrorKind::Closed);
        assert_eq!(stopped.message, "the server has stopped");
    }

    #[test]
    fn runtime_errors_lose_the_endpoint_prefix() {
        let e = RuntimeError::Endpoint(EndpointError::Flow(FlowError::WouldBlock));
        assert_eq!(e.kind(), ErrorKind::WouldBlock);
        assert!(e
            .failure()
            .message
            .starts_with("the flow's send buffer is full"));
        assert_eq!(
            RuntimeError::ShuttingDown.failure(),
            Failure::closed("the endpoint")
        );
    }

    #[test]
    fn a_closed_runtime_under_a_netconnection_names_it() {
        let e = FlvIoError::Net(NetError::Runtime(RuntimeError::Closed));
        assert_eq!(e.failure().message, "the NetConnection is closed");
        assert_eq!(e.kind(), ErrorKind::Closed);
    }

    #[test]
    fn a_late_verdict_is_a_wrong_state_in_the_asks_own_words() {
        use crate::rendezvous::AskEnd;
        let e = AskError::Ended(AskEnd::Expired);
        assert_eq!(
            e.failure(),
            Failure::new(ErrorKind::WrongState, e.to_string())
        );
        assert_eq!(AskError::Unknown.kind(), ErrorKind::InvalidArgument);
        assert_eq!(AskError::Stopped.kind(), ErrorKind::Closed);
    }

    #[test]
    fn client_errors_keep_their_reason() {
        let e = NetError::Client(ClientError::WrongState("not publishing"));
        assert_eq!(
            e.failure(),
            Failure::new(ErrorKind::WrongState, "not publishing")
        );
        assert_eq!(
            ClientError::Endpoint(EndpointError::NotOpen).kind(),
            ErrorKind::NotOpen
        );
    }

    #[test]
    fn open_failures_say_with_whom_and_why() {
        let f = open_failure(OpenFailure::Timeout, "rtmfp://x");
        assert_eq!(f.kind, ErrorKind::Timeout);
        assert_eq!(
            f.message,
            "no session with rtmfp://x: no answer before the open timeout"
        );
        let address = "127.0.0.1:9".parse().unwrap();
        let f = open_failure(OpenFailure::Unreachable(address), "peer 01");
        assert_eq!(f.kind, ErrorKind::OpenFailed);
        assert!(f.message.contains("127.0.0.1:9 is unreachable"));
        let f = open_failure(OpenFailure::Duplicate(SessionHandle(3)), "a");
        assert_eq!(f.kind, ErrorKind::OpenFailed);
    }
}
