//! Library version.

use std::ffi::{c_char, c_int, CStr};

use crate::error::{Error, RTMFP_OK};
use crate::guard::{ffi_guard, ffi_guard_infallible};

const VERSION: &CStr =
    match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(v) => v,
        Err(_) => panic!("CARGO_PKG_VERSION contains a NUL byte"),
    };

const fn parse_u32(s: &str) -> u32 {
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut n: u32 = 0;
    while i < bytes.len() {
        assert!(bytes[i].is_ascii_digit(), "version part is not a number");
        n = n * 10 + (bytes[i] - b'0') as u32;
        i += 1;
    }
    n
}

const MAJOR: u32 = parse_u32(env!("CARGO_PKG_VERSION_MAJOR"));
const MINOR: u32 = parse_u32(env!("CARGO_PKG_VERSION_MINOR"));
const PATCH: u32 = parse_u32(env!("CARGO_PKG_VERSION_PATCH"));

/// The library's version as a static NUL-terminated string, e.g. "0.1.0"
/// (the Cargo package version, possibly with a "-pre" suffix).
///
/// Never returns NULL. The string is static; do not free it.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn rtmfp_version() -> *const c_char {
    ffi_guard_infallible(c"".as_ptr(), || VERSION.as_ptr())
}

/// Store the library's numeric version in `*major`, `*minor` and `*patch`,
/// for run-time compatibility checks.
///
/// Returns RTMFP_OK, or RTMFP_ERR_NULL_POINTER if any pointer is NULL (then
/// nothing is written).
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// Each pointer must be NULL or valid for writing one `uint32_t`.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_version_parts(
    major: *mut u32,
    minor: *mut u32,
    patch: *mut u32,
) -> c_int {
    ffi_guard(|| {
        for (ptr, name) in [(major, "major"), (minor, "minor"), (patch, "patch")] {
            if ptr.is_null() {
                return Err(Error::null_pointer(name));
            }
        }
        // SAFETY: non-NULL (checked above) and writable (caller's contract).
        unsafe {
            major.write(MAJOR);
            minor.write(MINOR);
            patch.write(PATCH);
        }
        Ok(RTMFP_OK)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{rtmfp_last_error_message, RTMFP_ERR_NULL_POINTER};

    #[test]
    fn version_string_matches_cargo() {
        // SAFETY: static NUL-terminated string.
        let v = unsafe { CStr::from_ptr(rtmfp_version()) };
        assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }

    #[test]
    fn version_parts() {
        let (mut a, mut b, mut c) = (u32::MAX, u32::MAX, u32::MAX);
        // SAFETY: valid pointers to locals.
        let rc = unsafe { rtmfp_version_parts(&mut a, &mut b, &mut c) };
        assert_eq!(rc, RTMFP_OK);
        assert_eq!(
            format!("{a}.{b}.{c}"),
            env!("CARGO_PKG_VERSION").split('-').next().unwrap()
        );

        let mut untouched = 99;
        // SAFETY: NULL is allowed and rejected; the others are valid.
        let rc = unsafe { rtmfp_version_parts(&mut a, std::ptr::null_mut(), &mut untouched) };
        assert_eq!(rc, RTMFP_ERR_NULL_POINTER);
        assert_eq!(untouched, 99);
        // SAFETY: never NULL.
        let msg = unsafe { CStr::from_ptr(rtmfp_last_error_message()) };
        assert_eq!(msg.to_str().unwrap(), "argument `minor` must not be NULL");
    }
}
