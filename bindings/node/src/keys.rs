//! The keys and words of described events as JS sees them: core's
//! `snake_case` names in camelCase, each made once per process and kept.
//! A name is one of core's `&'static str`, so there are only as many as
//! core has names; each is kept as a C string, which Node-API takes as a
//! property name or string without another copy.

use crate::amf::check;
use napi::sys;
use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::ptr;
use std::sync::{LazyLock, Mutex, PoisonError};

/// The camelCase of every name asked for so far.
static CAMEL: LazyLock<Mutex<HashMap<&'static str, &'static CStr>>> =
    LazyLock::new(Default::default);

/// `name` (`snake_case`) in camelCase, made the first time it is asked for.
pub(crate) fn camel(name: &'static str) -> &'static CStr {
    let mut cache = CAMEL.lock().unwrap_or_else(PoisonError::into_inner);
    cache.entry(name).or_insert_with(|| {
        let mut out = String::with_capacity(name.len() + 1);
        let mut upper = false;
        for c in name.chars() {
            if c == '_' {
                upper = true;
            } else if upper {
                out.push(c.to_ascii_uppercase());
                upper = false;
            } else {
                out.push(c);
            }
        }
        let out = CString::new(out).expect("core's names have no NUL");
        Box::leak(out.into_boxed_c_str())
    })
}

/// Sets `target[key]`.
///
/// # Safety
/// `env` is a valid environment, used on its thread; `target` and `value`
/// were made in it.
pub(crate) unsafe fn set(
    env: sys::napi_env,
    target: sys::napi_value,
    key: &CStr,
    value: sys::napi_value,
) -> napi::Result<()> {
    // SAFETY: the caller's contract; `key` is NUL-terminated.
    let status = unsafe { sys::napi_set_named_property(env, target, key.as_ptr(), value) };
    check(status, "set_named_property")
}

/// `s` as a JS string.
///
/// # Safety
/// `env` is a valid environment, used on its thread.
pub(crate) unsafe fn string(env: sys::napi_env, s: &CStr) -> napi::Result<sys::napi_value> {
    let mut out = ptr::null_mut();
    let len = s.to_bytes().len() as isize;
    // SAFETY: the caller's contract; `s` is `len` bytes of UTF-8.
    let status = unsafe { sys::napi_create_string_utf8(env, s.as_ptr(), len, &mut out) };
    check(status, "create_string")?;
    Ok(out)
}
