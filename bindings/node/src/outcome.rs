//! Failures and outcomes the JS side words through the core
//! (`rtmfp_core::host`): a session that did not open, the end of a
//! connect, a call's `_error`, the answer to `lookupName`.  JS gets an
//! `err.code` and core's message.
#![cfg_attr(test, allow(dead_code))]

use crate::errors::{coded, err, refusal_code, Code, Result};
use napi_derive::napi;
use rtmfp_core::endpoint::{OpenFailure, SessionHandle};
use rtmfp_core::flash::StatusInfo;
use rtmfp_core::host::outcome::{self, Refusal};

/// A failure's `err.code` and message, as JS receives them.
#[napi(object)]
pub struct NativeFailure {
    /// One of the `ERR_RTMFP_*` codes.
    pub code: String,
    /// Core's words.
    pub message: String,
}

impl NativeFailure {
    fn new(code: Code, message: String) -> NativeFailure {
        NativeFailure {
            code: code.as_str().to_owned(),
            message,
        }
    }

    fn refused(r: Refusal) -> NativeFailure {
        NativeFailure::new(refusal_code(r.kind), r.message)
    }
}

/// The error for a `'sessionOpenFailed'` item (its `reason` and
/// `address`) of a session with `what` (a URI, "peer 0123..."): core's
/// kind and words.
#[napi]
pub fn open_failure(reason: String, what: String, address: Option<String>) -> NativeFailure {
    let reason = match reason.as_str() {
        "timeout" => OpenFailure::Timeout,
        "keyingFailed" => OpenFailure::KeyingFailed,
        "unreachable" => match address.and_then(|a| a.parse().ok()) {
            Some(address) => OpenFailure::Unreachable(address),
            None => OpenFailure::Cancelled,
        },
        // A duplicate the wait did not follow names no session of its own.
        "duplicate" => OpenFailure::Duplicate(SessionHandle(0)),
        _ => OpenFailure::Cancelled,
    };
    let (code, message) = coded(rtmfp_core::host::open_failure(reason, &what));
    NativeFailure::new(code, message)
}

/// How a NetConnection status ends a connect to `uri`.
#[napi(object)]
pub struct NativeConnectOutcome {
    /// Whether the status ends the connect (success or not).
    pub ends: bool,
    /// The error when it ends without success.
    pub failure: Option<NativeFailure>,
}

/// How the NetConnection status (`level`, `code`, `description`) ends a
/// connect to `uri`.
#[napi]
pub fn connect_outcome(
    level: String,
    code: String,
    description: String,
    uri: String,
) -> NativeConnectOutcome {
    if !outcome::ends_connect(&code) {
        return NativeConnectOutcome {
            ends: false,
            failure: None,
        };
    }
    let info = StatusInfo::new(&level, &code, &description);
    NativeConnectOutcome {
        ends: true,
        failure: outcome::connect_outcome(&info, &uri)
            .err()
            .map(NativeFailure::refused),
    }
}

/// The error for a call (`what`, e.g. `call("echo")`) answered with
/// `_error` whose info has `code` and `description`.
#[napi]
pub fn call_refusal(
    code: Option<String>,
    description: Option<String>,
    what: String,
) -> NativeFailure {
    let info = code.map(|c| StatusInfo::error(&c, description.as_deref().unwrap_or_default()));
    NativeFailure::refused(outcome::call_refusal(info, &what))
}

/// The peer ID in the answer to `lookupName(name)` (`answer`: its first
/// value if a string); throws ERR_RTMFP_CALL_FAILED otherwise.
#[napi]
pub fn lookup_answer(answer: Option<String>, name: String) -> Result<String> {
    outcome::lookup_answer(answer.as_deref(), &name)
        .map_err(|r| err(refusal_code(r.kind), r.message))
}
