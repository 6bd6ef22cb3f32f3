//! Argument checking shared by the entry points: borrowed buffers, C
//! strings, output buffers, and the mapping of runtime errors to codes.

use std::ffi::{c_char, c_int};
use std::net::SocketAddr;
use std::time::Duration;

use rtmfp_core::flash::client::ClientError;
use rtmfp_core::flash::NetError;
use rtmfp_core::runtime::RuntimeError;

use crate::error::{
    from_core, Error, RTMFP_ERR_BUFFER_TOO_SMALL, RTMFP_ERR_CLOSED, RTMFP_ERR_INVALID_ARGUMENT,
    RTMFP_ERR_TIMEOUT, RTMFP_OK,
};
use crate::event::RTMFP_PEER_ID_LEN;

/// Longest C string an entry point reads (addresses, URIs). A longer
/// string, or one without a NUL within this many bytes, is refused without
/// reading further.
pub(crate) const MAX_CSTR_LEN: usize = 4096;

/// `RTMFP_ERR_INVALID_ARGUMENT` with `message`.
pub(crate) fn invalid(message: impl Into<String>) -> Error {
    Error::new(RTMFP_ERR_INVALID_ARGUMENT, message)
}

/// A borrowed `(ptr, len)` byte buffer. `len == 0` gives an empty slice
/// whatever `ptr` is; `len > max` is refused before `ptr` is touched.
///
/// # Safety
/// If `len` is in `1..=max`, `ptr` must be NULL or valid for reading `len`
/// bytes for the returned lifetime.
pub(crate) unsafe fn bytes<'a>(
    ptr: *const u8,
    len: usize,
    name: &str,
    max: usize,
) -> Result<&'a [u8], Error> {
    if len > max {
        return Err(invalid(format!(
            "`{name}_len` is {len}, more than the maximum of {max} bytes"
        )));
    }
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(Error::null_pointer(name));
    }
    // SAFETY: non-NULL, `len` <= max (far below isize::MAX), readable by
    // the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// A borrowed NUL-terminated UTF-8 string, read at most [`MAX_CSTR_LEN`]
/// bytes far.
///
/// # Safety
/// `ptr` must be NULL or point to a NUL-terminated string (or to at least
/// `MAX_CSTR_LEN + 1` readable bytes).
pub(crate) unsafe fn cstr<'a>(ptr: *const c_char, name: &str) -> Result<&'a str, Error> {
    if ptr.is_null() {
        return Err(Error::null_pointer(name));
    }
    let mut len = 0;
    // SAFETY: bounded scan of a string the caller says is NUL-terminated.
    while unsafe { *ptr.add(len) } != 0 {
        len += 1;
        if len > MAX_CSTR_LEN {
            return Err(invalid(format!(
                "`{name}` is longer than {MAX_CSTR_LEN} bytes (or not NUL-terminated)"
            )));
        }
    }
    // SAFETY: `len` bytes before the NUL were just read.
    let raw = unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) };
    std::str::from_utf8(raw).map_err(|_| invalid(format!("`{name}` is not valid UTF-8")))
}

/// [`cstr`] for an argument that may not be empty (a command, a name, a
/// handler): RTMFP_ERR_INVALID_ARGUMENT for "".
///
/// # Safety
/// `ptr` must be NULL or a NUL-terminated string.
pub(crate) unsafe fn nonempty_cstr<'a>(ptr: *const c_char, name: &str) -> Result<&'a str, Error> {
    // SAFETY: caller's contract.
    let s = unsafe { cstr(ptr, name)? };
    if s.is_empty() {
        return Err(invalid(format!("`{name}` is empty")));
    }
    Ok(s)
}

/// Parses an `"ip:port"` string (IPv6 as `"[addr]:port"`).
pub(crate) fn parse_addr(s: &str, name: &str) -> Result<SocketAddr, Error> {
    s.trim().parse().map_err(|_| {
        invalid(format!(
            "`{name}` is {s:?}, not an \"ip:port\" address (IPv6: \"[addr]:port\")"
        ))
    })
}

/// Writes `s` and a NUL into the caller's buffer; returns `s.len()`.
///
/// # Safety
/// `buf` must be NULL or valid for writing `len` bytes.
pub(crate) unsafe fn write_cstr(
    buf: *mut c_char,
    len: usize,
    s: &str,
    name: &str,
) -> Result<c_int, Error> {
    if buf.is_null() {
        return Err(Error::null_pointer(name));
    }
    let needed = s.len() + 1;
    if len < needed {
        return Err(Error::new(
            RTMFP_ERR_BUFFER_TOO_SMALL,
            format!("`{name}` holds {len} bytes; {needed} are needed (with the NUL)"),
        ));
    }
    // SAFETY: `buf` is writable for `len >= needed` bytes; `s` does not
    // overlap a caller buffer.
    unsafe {
        std::ptr::copy_nonoverlapping(s.as_ptr(), buf.cast::<u8>(), s.len());
        buf.add(s.len()).write(0);
    }
    Ok(c_int::try_from(s.len()).unwrap_or(c_int::MAX))
}

/// Copies `s` (truncated to fit) into a fixed C array, NUL-terminated.
pub(crate) fn fill_array(dst: &mut [c_char], s: &str) {
    let n = s.len().min(dst.len().saturating_sub(1));
    for (d, b) in dst.iter_mut().zip(&s.as_bytes()[..n]) {
        *d = *b as c_char;
    }
    if let Some(end) = dst.get_mut(n) {
        *end = 0;
    }
}

/// Writes `value` through an out pointer that was checked to be non-NULL.
///
/// # Safety
/// `out` must be NULL or valid for writing a `T`.
pub(crate) unsafe fn write_out<T>(out: *mut T, value: T, name: &str) -> Result<(), Error> {
    if out.is_null() {
        return Err(Error::null_pointer(name));
    }
    // SAFETY: non-NULL and writable by the caller's contract.
    unsafe { out.write(value) };
    Ok(())
}

/// Copies the peer ID `id` to the caller's 32 bytes at `out`.
///
/// # Safety
/// `out` must be NULL or valid for writing 32 bytes.
pub(crate) unsafe fn write_peer_id(
    out: *mut u8,
    id: &[u8; RTMFP_PEER_ID_LEN],
) -> Result<c_int, Error> {
    if out.is_null() {
        return Err(Error::null_pointer("out"));
    }
    // SAFETY: non-NULL, 32 writable bytes by the caller's contract.
    unsafe { std::ptr::copy_nonoverlapping(id.as_ptr(), out, RTMFP_PEER_ID_LEN) };
    Ok(RTMFP_OK)
}

/// The peer ID in the caller's 32 bytes at `ptr` (`name`: the argument,
/// for a NULL one).
///
/// # Safety
/// `ptr` must be NULL or valid for reading 32 bytes.
pub(crate) unsafe fn read_peer_id(
    ptr: *const u8,
    name: &str,
) -> Result<[u8; RTMFP_PEER_ID_LEN], Error> {
    if ptr.is_null() {
        return Err(Error::null_pointer(name));
    }
    // SAFETY: non-NULL, 32 readable bytes by the caller's contract; a byte
    // array has no alignment.
    Ok(unsafe { ptr.cast::<[u8; RTMFP_PEER_ID_LEN]>().read() })
}

/// Writes local address number `index` of `addrs` (the sockets of the
/// `what`: "endpoint", "server") to `buf` as "ip:port" and a NUL.
///
/// # Safety
/// `buf` must be NULL or valid for writing `len` bytes.
pub(crate) unsafe fn write_local_addr(
    addrs: &[SocketAddr],
    index: usize,
    what: &str,
    buf: *mut c_char,
    len: usize,
) -> Result<c_int, Error> {
    let addr = addrs.get(index).ok_or_else(|| {
        invalid(format!(
            "`index` is {index}; the {what} has {} local address(es)",
            addrs.len()
        ))
    })?;
    // SAFETY: caller's contract.
    unsafe { write_cstr(buf, len, &addr.to_string(), "buf") }
}

/// The result of an `rtmfp_*_close(obj, deadline_ms)`: `shutdown` stops
/// the `what` ("endpoint", ...) within the deadline and says whether every
/// session closed in time (`None`: it was stopped already).
pub(crate) fn close_within(
    deadline_ms: u32,
    what: &str,
    shutdown: impl FnOnce(Duration) -> Option<bool>,
) -> Result<c_int, Error> {
    match shutdown(Duration::from_millis(u64::from(deadline_ms))) {
        None => Err(Error::new(
            RTMFP_ERR_CLOSED,
            format!("the {what} is already closed"),
        )),
        Some(true) => Ok(RTMFP_OK),
        Some(false) => Err(Error::new(
            RTMFP_ERR_TIMEOUT,
            format!("not every session closed within {deadline_ms} ms; stopped anyway"),
        )),
    }
}

/// Lowercase hex (core's, shared by every adapter).
pub(crate) use rtmfp_core::flash::peer_id::to_hex as hex;

/// The bytes of a hex string of exactly `N` bytes.
pub(crate) fn unhex<const N: usize>(s: &str, name: &str) -> Result<[u8; N], Error> {
    let bad = || invalid(format!("`{name}` must be {} hex digits, got {s:?}", 2 * N));
    let s = s.trim();
    if s.len() != 2 * N {
        return Err(bad());
    }
    let mut out = [0u8; N];
    for (i, pair) in s.as_bytes().chunks(2).enumerate() {
        let digit = |c: u8| (c as char).to_digit(16).ok_or_else(bad);
        out[i] = (digit(pair[0])? << 4 | digit(pair[1])?) as u8;
    }
    Ok(out)
}

/// The C code and message for a failed runtime call (core's words).
pub(crate) fn runtime_error(e: RuntimeError) -> Error {
    from_core(e)
}

/// The C code and message for a refused Flash client call.
pub(crate) fn client_error(e: ClientError) -> Error {
    from_core(e)
}

/// A NetConnection failure as an error code and message.
pub(crate) fn net_error(e: NetError) -> Error {
    from_core(e)
}

/// Reads `count` (at most `max`) NUL-terminated strings.
///
/// # Safety
/// `list` must be NULL or valid for reading `count` pointers, each NULL
/// or a NUL-terminated string.
pub(crate) unsafe fn cstr_list(
    list: *const *const c_char,
    count: usize,
    name: &str,
    max: usize,
) -> Result<Vec<String>, Error> {
    // SAFETY: caller's contract.
    unsafe { cstr_list_map(list, count, name, max, |s, _| Ok(s.to_owned())) }
}

/// [`cstr_list`], turning each string into a `T` with `f` as it is read,
/// as `f(string, "name[i]")`: the first bad element, a bad string or a bad
/// value, is the one reported.
///
/// # Safety
/// As for [`cstr_list`].
pub(crate) unsafe fn cstr_list_map<T>(
    list: *const *const c_char,
    count: usize,
    name: &str,
    max: usize,
    mut f: impl FnMut(&str, &str) -> Result<T, Error>,
) -> Result<Vec<T>, Error> {
    if count > max {
        return Err(invalid(format!(
            "`{name}` count is {count}, more than the maximum of {max}"
        )));
    }
    if count == 0 {
        return Ok(Vec::new());
    }
    if list.is_null() {
        return Err(Error::null_pointer(name));
    }
    // SAFETY: `count` <= max readable pointers by contract.
    let ptrs = unsafe { std::slice::from_raw_parts(list, count) };
    ptrs.iter()
        .enumerate()
        .map(|(i, &p)| {
            let name = format!("{name}[{i}]");
            // SAFETY: caller's contract.
            f(unsafe { cstr(p, &name)? }, &name)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{
        RTMFP_ERR_AGAIN, RTMFP_ERR_CLOSED, RTMFP_ERR_INVALID_HANDLE, RTMFP_ERR_NULL_POINTER,
        RTMFP_ERR_WRONG_STATE,
    };
    use rtmfp_core::endpoint::EndpointError;
    use rtmfp_core::session::flows::FlowError;

    #[test]
    fn byte_buffers() {
        let data = [1u8, 2, 3];
        // SAFETY: valid pointer and length, or NULL / zero length.
        unsafe {
            assert_eq!(bytes(data.as_ptr(), 3, "d", 10).unwrap(), &data);
            assert_eq!(bytes(std::ptr::null(), 0, "d", 10).unwrap(), &[] as &[u8]);
            assert_eq!(
                bytes(std::ptr::null(), 1, "d", 10).unwrap_err().code(),
                RTMFP_ERR_NULL_POINTER
            );
            // Too long: refused before the pointer is looked at.
            assert_eq!(
                bytes(data.as_ptr(), usize::MAX, "d", 10)
                    .unwrap_err()
                    .code(),
                RTMFP_ERR_INVALID_ARGUMENT
            );
        }
    }

    #[test]
    fn c_strings() {
        // SAFETY: NUL-terminated literals, or NULL.
        unsafe {
            assert_eq!(cstr(c"1.2.3.4:5".as_ptr(), "a").unwrap(), "1.2.3.4:5");
            assert_eq!(
                cstr(std::ptr::null(), "a").unwrap_err().code(),
                RTMFP_ERR_NULL_POINTER
            );
            assert_eq!(
                cstr(c"\xff\xfe".as_ptr(), "a").unwrap_err().code(),
                RTMFP_ERR_INVALID_ARGUMENT
            );
            let long = std::ffi::CString::new("x".repeat(MAX_CSTR_LEN + 1)).unwrap();
            assert_eq!(
                cstr(long.as_ptr(), "a").unwrap_err().code(),
                RTMFP_ERR_INVALID_ARGUMENT
            );
        }
    }

    #[test]
    fn output_strings() {
        let mut buf = [0x55 as c_char; 8];
        // SAFETY: `buf` is writable for its length.
        unsafe {
            assert_eq!(write_cstr(buf.as_mut_ptr(), 8, "abc", "b").unwrap(), 3);
            assert_eq!(buf[3], 0);
            let e = write_cstr(buf.as_mut_ptr(), 3, "abc", "b").unwrap_err();
            assert_eq!(e.code(), RTMFP_ERR_BUFFER_TOO_SMALL);
            assert!(e.message().contains("4 are needed"));
            assert_eq!(
                write_cstr(std::ptr::null_mut(), 8, "abc", "b")
                    .unwrap_err()
                    .code(),
                RTMFP_ERR_NULL_POINTER
            );
        }
        let mut arr = [1 as c_char; 4];
        fill_array(&mut arr, "hello");
        assert_eq!(arr, [b'h' as c_char, b'e' as c_char, b'l' as c_char, 0]);
    }

    #[test]
    fn hex_round_trip() {
        let id: [u8; 4] = [0, 0xab, 0x10, 0xff];
        assert_eq!(hex(&id), "00ab10ff");
        assert_eq!(unhex::<4>("00AB10ff", "h").unwrap(), id);
        assert!(unhex::<4>("00ab10f", "h").is_err());
        assert!(unhex::<4>("00ab10fg", "h").is_err());
        assert!(unhex::<4>("é0ab10f", "h").is_err());
    }

    #[test]
    fn runtime_errors_map_to_codes() {
        assert_eq!(runtime_error(RuntimeError::Closed).code(), RTMFP_ERR_CLOSED);
        assert_eq!(
            runtime_error(RuntimeError::Endpoint(EndpointError::NotOpen)).code(),
            RTMFP_ERR_WRONG_STATE
        );
        assert_eq!(
            runtime_error(FlowError::WouldBlock.into_runtime()).code(),
            RTMFP_ERR_AGAIN
        );
        assert_eq!(
            runtime_error(RuntimeError::Endpoint(EndpointError::UnknownSession)).code(),
            RTMFP_ERR_INVALID_HANDLE
        );
    }

    trait IntoRuntime {
        fn into_runtime(self) -> RuntimeError;
    }
    impl IntoRuntime for FlowError {
        fn into_runtime(self) -> RuntimeError {
            RuntimeError::Endpoint(EndpointError::Flow(self))
        }
    }
}
