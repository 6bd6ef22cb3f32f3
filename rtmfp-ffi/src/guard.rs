//! `ffi_guard`: the wrapper every `extern "C"` entry point runs inside.
//!
//! It resets the thread's last-error message, runs the body under
//! `catch_unwind`, and turns the outcome into a C status code:
//! `Ok(n)` gives `n` (0 = RTMFP_OK, or a non-negative count), `Err(e)` gives
//! `e.code()` with `e.message()` recorded for rtmfp_last_error_message(),
//! and a panic gives `RTMFP_ERR_PANIC` with the panic's message recorded.
//!
//! Catching panics needs `panic = "unwind"` (the default). A build with
//! `panic = "abort"` aborts instead, which is still defined behaviour; never
//! let a panic unwind into C, which is not.

use std::any::Any;
use std::ffi::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::{clear_last_error, set_last_error, Error, RTMFP_ERR_PANIC};

/// Run the body of a fallible entry point. See the module docs.
///
/// The closure is wrapped in `AssertUnwindSafe`: after a panic the only
/// state a caller can observe again is the handle tables, whose locks
/// recover from poisoning, and objects reached through them, which must
/// stay memory-safe (if not logically consistent) after a panic. A
/// panicking object is expected to be freed by the caller.
pub(crate) fn ffi_guard<F>(f: F) -> c_int
where
    F: FnOnce() -> Result<c_int, Error>,
{
    clear_last_error();
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(n)) => {
            debug_assert!(n >= 0, "success values must be non-negative, got {n}");
            n
        }
        Ok(Err(e)) => {
            set_last_error(e.message());
            e.code()
        }
        Err(payload) => {
            set_last_error(&format!("Rust panic: {}", panic_message(payload)));
            RTMFP_ERR_PANIC
        }
    }
}

/// Run the body of an entry point that cannot fail in a way C can see
/// (`rtmfp_version`, `rtmfp_strerror`, ...). It does not touch the
/// last-error message unless the body panics: then the message is recorded
/// and `fallback` is returned.
pub(crate) fn ffi_guard_infallible<R, F>(fallback: R, f: F) -> R
where
    F: FnOnce() -> R,
{
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            set_last_error(&format!("Rust panic: {}", panic_message(payload)));
            fallback
        }
    }
}

/// The text of a panic payload (from `panic!("...")` or `panic_any`).
fn panic_message(payload: Box<dyn Any + Send>) -> String {
    let msg = if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    };
    // Dropping a payload can itself panic; that must not escape either.
    let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
    msg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{rtmfp_last_error_message, RTMFP_ERR_INVALID_ARGUMENT, RTMFP_OK};
    use std::ffi::CStr;

    fn last() -> String {
        // SAFETY: never NULL; valid until the next rtmfp call on this thread.
        unsafe { CStr::from_ptr(rtmfp_last_error_message()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn ok_passes_value_and_clears_message() {
        set_last_error("stale");
        assert_eq!(ffi_guard(|| Ok(RTMFP_OK)), RTMFP_OK);
        assert_eq!(last(), "");
        assert_eq!(ffi_guard(|| Ok(42)), 42);
    }

    #[test]
    fn error_sets_code_and_message() {
        let rc = ffi_guard(|| Err(Error::new(RTMFP_ERR_INVALID_ARGUMENT, "len is 0")));
        assert_eq!(rc, RTMFP_ERR_INVALID_ARGUMENT);
        assert_eq!(last(), "len is 0");
    }

    #[test]
    fn str_panic_is_caught() {
        let rc = ffi_guard(|| panic!("boom"));
        assert_eq!(rc, RTMFP_ERR_PANIC);
        assert_eq!(last(), "Rust panic: boom");
    }

    #[test]
    fn formatted_panic_is_caught() {
        let n = 7;
        let rc = ffi_guard(|| panic!("index {n} out of range"));
        assert_eq!(rc, RTMFP_ERR_PANIC);
        assert_eq!(last(), "Rust panic: index 7 out of range");
    }

    #[test]
    fn non_string_panic_is_caught() {
        let rc = ffi_guard(|| std::panic::panic_any(42_u8));
        assert_eq!(rc, RTMFP_ERR_PANIC);
        assert_eq!(last(), "Rust panic: non-string panic payload");
    }

    #[test]
    fn infallible_guard() {
        set_last_error("kept");
        assert_eq!(ffi_guard_infallible(0, || 5), 5);
        assert_eq!(last(), "kept", "infallible calls leave the message alone");
        assert_eq!(ffi_guard_infallible(-1, || -> i32 { panic!("oops") }), -1);
        assert_eq!(last(), "Rust panic: oops");
    }
}
