//! How a host turns the Flash layer's answers into a result, written once:
//! the end of a connect (a NetConnection status), a server call's `_error`,
//! and the answer to `lookupName`.  Each adapter maps a [`Refusal`]'s
//! [`RefusalKind`] to its exception class or error code and shows its
//! message as is.

use crate::flash::command::code;
use crate::flash::StatusInfo;
use std::fmt;

/// Which answer refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefusalKind {
    /// The server rejected the connect ("NetConnection.Connect.Rejected",
    /// e.g. a bad developer key).
    Rejected,
    /// The connect failed, or the connection closed before it succeeded
    /// ("NetConnection.Connect.Failed" / ".Closed").
    ConnectFailed,
    /// The server answered a call with `_error`, or with no usable value.
    CallFailed,
}

/// A connect or a call the far end refused: its kind, the message every
/// adapter shows, and the status info it sent (if any).
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// What an adapter maps to its exception class or error code.
    pub kind: RefusalKind,
    /// The words every adapter shows.
    pub message: String,
    /// The server's info object (`code`, `level`, `description`); boxed
    /// to keep `Result<_, Refusal>` small.
    pub info: Option<Box<StatusInfo>>,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Refusal {}

/// Whether a NetConnection status `code` ends a connect: success,
/// rejection, failure, or the connection closed.
pub fn ends_connect(status: &str) -> bool {
    [
        code::CONNECT_SUCCESS,
        code::CONNECT_FAILED,
        code::CONNECT_REJECTED,
        code::CONNECT_CLOSED,
    ]
    .contains(&status)
}

/// How the NetConnection status `info`, one that [`ends_connect`], ends
/// a connect to `uri`: `Ok(())` once connected, otherwise the refusal
/// (any other code counts as a failed connect).
pub fn connect_outcome(info: &StatusInfo, uri: &str) -> Result<(), Refusal> {
    let (kind, what) = match info.code.as_str() {
        code::CONNECT_SUCCESS => return Ok(()),
        code::CONNECT_REJECTED => (RefusalKind::Rejected, "the server rejected the connection"),
        code::CONNECT_CLOSED => (
            RefusalKind::ConnectFailed,
            "the connection closed before it succeeded",
        ),
        _ => (RefusalKind::ConnectFailed, "the connection failed"),
    };
    Err(Refusal {
        kind,
        message: format!("{uri}: {what} ({}: {})", info.code, info.description),
        info: Some(Box::new(info.clone())),
    })
}

/// The refusal of a server call (`what`, e.g. `call("echo")`) answered
/// with `_error` carrying `info` (`None`: no info object).  Its info is
/// always set: without one from the server, code
/// "NetConnection.Call.Failed".
pub fn call_refusal(info: Option<StatusInfo>, what: &str) -> Refusal {
    let info =
        info.unwrap_or_else(|| StatusInfo::error(code::CALL_FAILED, "the server answered _error"));
    Refusal {
        kind: RefusalKind::CallFailed,
        message: format!("{what} failed: {}", info.description),
        info: Some(Box::new(info)),
    }
}

/// The peer ID in the answer to `lookupName(name)`: `answer` is its
/// first value if that is a string.
pub fn lookup_answer(answer: Option<&str>, name: &str) -> Result<String, Refusal> {
    answer.map(str::to_owned).ok_or_else(|| Refusal {
        kind: RefusalKind::CallFailed,
        message: format!(
            "lookupName({name:?}): the server answered something that is not a peer ID"
        ),
        info: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_outcomes() {
        let ok = StatusInfo::status(code::CONNECT_SUCCESS, "hi");
        assert_eq!(connect_outcome(&ok, "rtmfp://a"), Ok(()));
        assert!(!ends_connect("NetStream.Play.Start") && ends_connect(code::CONNECT_CLOSED));
        let no = StatusInfo::error(code::CONNECT_REJECTED, "bad key");
        let r = connect_outcome(&no, "rtmfp://a").unwrap_err();
        assert_eq!(r.kind, RefusalKind::Rejected);
        assert!(r.message.starts_with("rtmfp://a: the server rejected"));
        assert!(r.message.contains("bad key"));
        assert_eq!(r.info, Some(Box::new(no)));
    }

    #[test]
    fn call_and_lookup_refusals() {
        let r = call_refusal(None, "call(\"x\")");
        assert_eq!(r.kind, RefusalKind::CallFailed);
        assert_eq!(r.message, "call(\"x\") failed: the server answered _error");
        assert_eq!(r.info.unwrap().code, code::CALL_FAILED);
        assert_eq!(lookup_answer(Some("ab"), "n"), Ok("ab".to_owned()));
        assert!(lookup_answer(None, "n")
            .unwrap_err()
            .message
            .contains("not a peer ID"));
    }
}
