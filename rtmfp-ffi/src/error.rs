//! Error codes, their texts, and the thread-local last-error message.

use std::cell::RefCell;
use std::ffi::{c_char, c_int, CStr, CString};

use rtmfp_core::host::options::OptionError;
use rtmfp_core::host::{Classify, ErrorKind, Failure};

/// Success. Fallible functions return this (or a non-negative count).
pub const RTMFP_OK: c_int = 0;
/// A pointer argument that must not be NULL was NULL.
pub const RTMFP_ERR_NULL_POINTER: c_int = -1;
/// An argument was out of range, malformed, or not valid UTF-8.
pub const RTMFP_ERR_INVALID_ARGUMENT: c_int = -2;
/// A handle was never issued, has been freed, or is of the wrong kind.
pub const RTMFP_ERR_INVALID_HANDLE: c_int = -3;
/// The object is not in a state that allows this operation.
pub const RTMFP_ERR_WRONG_STATE: c_int = -4;
/// The caller's buffer is too small for the result.
pub const RTMFP_ERR_BUFFER_TOO_SMALL: c_int = -5;
/// An operating system I/O error (socket, poll, eventfd, ...).
pub const RTMFP_ERR_IO: c_int = -6;
/// The peer violated RFC 7016 / RFC 7425.
pub const RTMFP_ERR_PROTOCOL: c_int = -7;
/// The operation did not complete in time.
pub const RTMFP_ERR_TIMEOUT: c_int = -8;
/// The endpoint, session or flow is closed.
pub const RTMFP_ERR_CLOSED: c_int = -9;
/// A bug: Rust code panicked. The panic was caught at the C boundary;
/// the message is in rtmfp_last_error_message().
pub const RTMFP_ERR_PANIC: c_int = -10;
/// Nothing to do right now (no event queued, no room to send); try again
/// later, e.g. when the event fd becomes readable.
pub const RTMFP_ERR_AGAIN: c_int = -11;
/// A cryptographic failure: bad key, failed handshake, bad checksum/HMAC.
pub const RTMFP_ERR_CRYPTO: c_int = -12;
/// The operation or option is not supported by this build.
pub const RTMFP_ERR_UNSUPPORTED: c_int = -13;

/// Every code with its text, in ABI order. The unit tests check that the
/// codes are distinct and contiguous, so a new code cannot be forgotten here.
const ERROR_TEXTS: &[(c_int, &CStr)] = &[
    (RTMFP_OK, c"success"),
    (RTMFP_ERR_NULL_POINTER, c"NULL pointer argument"),
    (RTMFP_ERR_INVALID_ARGUMENT, c"invalid argument"),
    (RTMFP_ERR_INVALID_HANDLE, c"invalid or stale handle"),
    (
        RTMFP_ERR_WRONG_STATE,
        c"operation not valid in the current state",
    ),
    (RTMFP_ERR_BUFFER_TOO_SMALL, c"buffer too small"),
    (RTMFP_ERR_IO, c"I/O error"),
    (RTMFP_ERR_PROTOCOL, c"protocol error"),
    (RTMFP_ERR_TIMEOUT, c"timed out"),
    (RTMFP_ERR_CLOSED, c"closed"),
    (RTMFP_ERR_PANIC, c"internal error (Rust panic)"),
    (RTMFP_ERR_AGAIN, c"try again"),
    (RTMFP_ERR_CRYPTO, c"cryptographic error"),
    (RTMFP_ERR_UNSUPPORTED, c"not supported"),
];

const UNKNOWN_TEXT: &CStr = c"unknown error code";

/// The static text for `code`, if it is a known code.
pub(crate) fn error_text(code: c_int) -> Option<&'static CStr> {
    ERROR_TEXTS
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, text)| *text)
}

/// A failure inside an entry point: an `RTMFP_ERR_*` code plus the detail
/// that rtmfp_last_error_message() will return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Error {
    code: c_int,
    message: String,
}

impl Error {
    /// An error with `code` (must be one of the negative `RTMFP_ERR_*`).
    pub(crate) fn new(code: c_int, message: impl Into<String>) -> Self {
        debug_assert!(code < 0 && error_text(code).is_some(), "bad code {code}");
        Error {
            code,
            message: message.into(),
        }
    }

    /// `RTMFP_ERR_NULL_POINTER` for the argument named `arg`.
    pub(crate) fn null_pointer(arg: &str) -> Self {
        Self::new(
            RTMFP_ERR_NULL_POINTER,
            format!("argument `{arg}` must not be NULL"),
        )
    }

    /// `RTMFP_ERR_INVALID_HANDLE` for the argument named `arg`.
    #[allow(dead_code)] // for the handle-based entry points of later issues
    pub(crate) fn invalid_handle(arg: &str) -> Self {
        Self::new(
            RTMFP_ERR_INVALID_HANDLE,
            format!(
                "argument `{arg}` is not a live handle (never issued, freed, or of another kind)"
            ),
        )
    }

    /// The `RTMFP_ERR_*` code.
    pub(crate) fn code(&self) -> c_int {
        self.code
    }

    /// The detail message.
    pub(crate) fn message(&self) -> &str {
        &self.message
    }
}

/// A core failure as a C code: the kind picks the code, the message is
/// the core's (the same words Python and Node show).
impl From<Failure> for Error {
    fn from(f: Failure) -> Self {
        let code = match f.kind {
            ErrorKind::Closed | ErrorKind::FlowClosed => RTMFP_ERR_CLOSED,
            ErrorKind::InvalidArgument => RTMFP_ERR_INVALID_ARGUMENT,
            ErrorKind::Timeout => RTMFP_ERR_TIMEOUT,
            ErrorKind::WouldBlock => RTMFP_ERR_AGAIN,
            ErrorKind::UnknownSession | ErrorKind::UnknownFlow | ErrorKind::UnknownStream => {
                RTMFP_ERR_INVALID_HANDLE
            }
            ErrorKind::NotOpen
            | ErrorKind::OpenFailed
            | ErrorKind::WrongState
            | ErrorKind::IoThread => RTMFP_ERR_WRONG_STATE,
            ErrorKind::Io => RTMFP_ERR_IO,
            ErrorKind::Identity => RTMFP_ERR_CRYPTO,
            ErrorKind::Panicked => RTMFP_ERR_PANIC,
        };
        Error::new(code, f.message)
    }
}

/// A refused option (`rtmfp_config_set_*`) as a C error: its kind's code,
/// core's words.
impl From<OptionError> for Error {
    fn from(e: OptionError) -> Self {
        e.failure().into()
    }
}

/// A core error (runtime, endpoint, client, NetConnection, FLV) as a C
/// code and message.
pub(crate) fn from_core(e: impl Classify) -> Error {
    e.failure().into()
}

thread_local! {
    /// Empty means "no error". Replaced (freeing the old one) only when an
    /// rtmfp call sets or clears it, which is what makes the pointer from
    /// rtmfp_last_error_message() valid until the next rtmfp call.
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Record `message` as this thread's last error.
pub(crate) fn set_last_error(message: &str) {
    // A C string cannot hold NUL bytes; show them rather than truncate.
    let c = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    // try_with: during thread teardown the slot may be gone; drop silently.
    let _ = LAST_ERROR.try_with(|slot| *slot.borrow_mut() = c);
}

/// Forget this thread's last error (done on entry to every fallible call).
pub(crate) fn clear_last_error() {
    let _ = LAST_ERROR.try_with(|slot| {
        let mut slot = slot.borrow_mut();
        if !slot.as_bytes().is_empty() {
            *slot = CString::default();
        }
    });
}

/// The static, NUL-terminated English text for an `RTMFP_*` code, such as
/// "invalid or stale handle" for RTMFP_ERR_INVALID_HANDLE.
///
/// Never returns NULL: an unknown code gives "unknown error code".
/// The string is static; do not free it.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn rtmfp_strerror(code: c_int) -> *const c_char {
    crate::guard::ffi_guard_infallible(UNKNOWN_TEXT.as_ptr(), || {
        error_text(code).unwrap_or(UNKNOWN_TEXT).as_ptr()
    })
}

/// Detail about the most recent failed rtmfp call on the calling thread,
/// e.g. "argument `major` must not be NULL".
///
/// Every fallible rtmfp call (one that returns an `int` status) clears it on
/// entry and sets it when it fails, so after a success it is the empty
/// string "". Never returns NULL. The string belongs to the library and
/// stays valid until the next rtmfp call on the same thread, and at most
/// until that thread exits; copy it if you need it longer. Calling this
/// function does not change it.
///
/// Thread safety: safe from any thread; each thread has its own message.
#[no_mangle]
pub extern "C" fn rtmfp_last_error_message() -> *const c_char {
    crate::guard::ffi_guard_infallible(c"".as_ptr(), || {
        LAST_ERROR
            .try_with(|slot| slot.borrow().as_ptr())
            .unwrap_or(c"".as_ptr())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(code: c_int) -> String {
        // SAFETY: rtmfp_strerror never returns NULL and returns static strings.
        unsafe { CStr::from_ptr(rtmfp_strerror(code)) }
            .to_str()
            .unwrap()
            .to_owned()
    }

    fn last() -> String {
        // SAFETY: never NULL; valid until the next rtmfp call on this thread.
        unsafe { CStr::from_ptr(rtmfp_last_error_message()) }
            .to_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn codes_are_contiguous_and_distinct() {
        for (i, (code, _)) in ERROR_TEXTS.iter().enumerate() {
            assert_eq!(*code, -(i as c_int), "ERROR_TEXTS out of order at {i}");
        }
    }

    #[test]
    fn strerror_texts() {
        assert_eq!(text(RTMFP_OK), "success");
        assert_eq!(text(RTMFP_ERR_INVALID_HANDLE), "invalid or stale handle");
        assert_eq!(text(RTMFP_ERR_PANIC), "internal error (Rust panic)");
        assert_eq!(text(1), "unknown error code");
        assert_eq!(text(-1000), "unknown error code");
        assert_eq!(text(c_int::MIN), "unknown error code");
        for (code, t) in ERROR_TEXTS {
            assert_eq!(text(*code), t.to_str().unwrap());
        }
    }

    #[test]
    fn last_error_is_per_thread_and_clearable() {
        assert_eq!(last(), "");
        set_last_error("boom");
        assert_eq!(last(), "boom");
        std::thread::spawn(|| assert_eq!(last(), ""))
            .join()
            .unwrap();
        assert_eq!(last(), "boom");
        set_last_error("has\0nul");
        assert_eq!(last(), "has\\0nul");
        clear_last_error();
        assert_eq!(last(), "");
    }

    #[test]
    fn error_constructors() {
        let e = Error::null_pointer("buf");
        assert_eq!(e.code(), RTMFP_ERR_NULL_POINTER);
        assert!(e.message().contains("`buf`"));
        assert_eq!(Error::invalid_handle("ep").code(), RTMFP_ERR_INVALID_HANDLE);
    }
}
