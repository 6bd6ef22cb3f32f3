//! FLV byte streams on a NetStream (issue 16): publish what FFmpeg's
//! `-f flv -` writes, read what it reads, like librtmfp's `RTMFP_Write` /
//! `RTMFP_Read`.  The logic is `rtmfp_core::flash::flv_io`'s; these
//! functions convert arguments and errors.

use std::ffi::c_int;
use std::time::Duration;

use rtmfp_core::flash::flv_io::FlvIoError;

use crate::error::{Error, RTMFP_ERR_CLOSED, RTMFP_OK};
use crate::guard::ffi_guard;
use crate::netconnection::{core_stream, rtmfp_netstream};
use crate::util::write_out;

/// Default reordering window of rtmfp_netstream_start_flv_read(), in
/// milliseconds of stream time (what `rtmfp play --out -` uses).
pub const RTMFP_FLV_DEFAULT_WINDOW_MS: u32 = 100;
const _: () =
    assert!(RTMFP_FLV_DEFAULT_WINDOW_MS == rtmfp_core::flash::flv_io::DEFAULT_READ_WINDOW_MS);

/// Most tags that wait for the flows before rtmfp_netstream_write_flv()
/// takes no more bytes.
pub const RTMFP_FLV_MAX_QUEUED_TAGS: usize = 64;
const _: () = assert!(RTMFP_FLV_MAX_QUEUED_TAGS == rtmfp_core::flash::flv_io::MAX_QUEUED_TAGS);

fn flv_error(e: FlvIoError) -> Error {
    crate::error::from_core(e)
}

/// `timeout_ms` as the core takes it: 0 no wait, negative no limit.
fn timeout(timeout_ms: c_int) -> Option<Duration> {
    u64::try_from(timeout_ms).ok().map(Duration::from_millis)
}

fn open_stream(ns: *const rtmfp_netstream) -> Result<rtmfp_core::flash::NetStream, Error> {
    match core_stream(ns)? {
        (_, true) => Err(Error::new(
            RTMFP_ERR_CLOSED,
            "the NetStream is closed (rtmfp_netstream_close())",
        )),
        (s, false) => Ok(s),
    }
}

/// Publish FLV bytes on a publishing NetStream (SERVER or
/// DIRECT_CONNECTIONS, after "NetStream.Publish.Start"), like librtmfp's
/// `RTMFP_Write`: an FLV byte stream (header, then tags with their
/// PreviousTagSize fields) split anywhere, a header in two calls or a tag
/// across many. Each whole tag is sent as the message of its type (audio,
/// video, script data) at its timestamp; the bytes are not paced.
///
/// Partial writes and backpressure: tags the flows refuse (their send
/// buffer is full) stay queued in order and go first on every later call.
/// The call takes bytes while fewer than RTMFP_FLV_MAX_QUEUED_TAGS tags
/// wait, so `*written` may be less than `len`: call again with the rest.
/// It waits up to `timeout_ms` (0: not at all; negative: as long as it
/// takes) for room to take at least one byte.
///
/// Not FLV: the first bad byte (not "FLV", a tag type that is not audio,
/// video or script data, ...) is RTMFP_ERR_INVALID_ARGUMENT with the
/// detail in rtmfp_last_error_message(). Nothing before it is lost: every
/// whole tag before it is still sent, a call that took bytes before the
/// bad one returns RTMFP_OK with their count, and the error comes with the
/// next call and every later one.
///
/// Before rtmfp_netstream_close(), call rtmfp_netstream_flush_flv() so
/// that the last tags are not cut off.
///
/// Returns RTMFP_OK with `*written` set (1..=`len`; 0 only for `len` 0);
/// RTMFP_ERR_AGAIN if no byte could be taken in time (`*written` = 0);
/// RTMFP_ERR_INVALID_ARGUMENT for bytes that are not FLV;
/// RTMFP_ERR_WRONG_STATE if the NetStream is not publishing (the tags stay
/// queued); RTMFP_ERR_CLOSED after rtmfp_netstream_close() or
/// rtmfp_netconnection_close(); RTMFP_ERR_NULL_POINTER (`buf` may be NULL
/// only if `len` is 0); RTMFP_ERR_INVALID_HANDLE. `*written` is untouched
/// on failure.
///
/// Thread safety: safe from any thread; concurrent writes on one NetStream
/// are taken one after the other, in no defined order (write from one
/// thread).
///
/// # Safety
/// `buf` must be NULL or valid for reading `len` bytes; `written` NULL or
/// valid for writing a size_t.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_netstream_write_flv(
    ns: *mut rtmfp_netstream,
    buf: *const u8,
    len: usize,
    timeout_ms: c_int,
    written: *mut usize,
) -> c_int {
    ffi_guard(|| {
        if written.is_null() {
            return Err(Error::null_pointer("written"));
        }
        if buf.is_null() && len > 0 {
            return Err(Error::null_pointer("buf"));
        }
        let stream = open_stream(ns)?;
        let bytes: &[u8] = if len == 0 {
            &[]
        } else {
            // SAFETY: non-NULL, `len` readable bytes by contract.
            unsafe { std::slice::from_raw_parts(buf, len) }
        };
        let n = stream
            .write_flv_timeout(bytes, timeout(timeout_ms))
            .map_err(flv_error)?;
        // SAFETY: checked non-NULL, writable by contract.
        unsafe { write_out(written, n, "written")? };
        Ok(RTMFP_OK)
    })
}

/// Send the tags rtmfp_netstream_write_flv() queued and wait up to
/// `timeout_ms` (negative: as long as it takes) until the flows took them
/// all and the far ends acknowledged everything sent. Call it before
/// rtmfp_netstream_close() so that the last tags arrive.
///
/// Returns RTMFP_OK; RTMFP_ERR_AGAIN if something still waits at the
/// deadline; RTMFP_ERR_WRONG_STATE if the NetStream is not publishing;
/// RTMFP_ERR_CLOSED after rtmfp_netstream_close() or
/// rtmfp_netconnection_close(); RTMFP_ERR_NULL_POINTER;
/// RTMFP_ERR_INVALID_HANDLE.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn rtmfp_netstream_flush_flv(ns: *mut rtmfp_netstream, timeout_ms: c_int) -> c_int {
    ffi_guard(|| {
        open_stream(ns)?
            .flush_flv(timeout(timeout_ms))
            .map_err(flv_error)?;
        Ok(RTMFP_OK)
    })
}

/// Read a playing NetStream (SERVER or PEER) as FLV from now on, with a
/// reordering window of `window_ms` milliseconds of stream time (0: tags
/// as they arrive, lowest latency; RTMFP_FLV_DEFAULT_WINDOW_MS puts the
/// audio and video flows back in timestamp order). Call it before
/// rtmfp_netstream_play() so that no media is missed: from then on the
/// stream's audio, video and data messages are no longer
/// RTMFP_EVENT_TYPE_MEDIA events but bytes for rtmfp_netstream_read_flv().
/// Its status events still arrive as events.
///
/// Returns RTMFP_OK; RTMFP_ERR_WRONG_STATE if it was already called for
/// this NetStream; RTMFP_ERR_CLOSED after rtmfp_netstream_close();
/// RTMFP_ERR_NULL_POINTER; RTMFP_ERR_INVALID_HANDLE.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn rtmfp_netstream_start_flv_read(
    ns: *mut rtmfp_netstream,
    window_ms: u32,
) -> c_int {
    ffi_guard(|| {
        open_stream(ns)?
            .start_flv_read(window_ms)
            .map_err(flv_error)?;
        Ok(RTMFP_OK)
    })
}

/// Read FLV bytes of a NetStream read as FLV
/// (rtmfp_netstream_start_flv_read()), like librtmfp's `RTMFP_Read`: the
/// FLV header and PreviousTagSize0 first (readable at once), then each tag
/// as the window lets it go. Waits up to `timeout_ms` (0: not at all;
/// negative: until bytes or the end come) for bytes.
///
/// Partial reads: `*read` is at most `cap`; a tag may be split across
/// reads. The end of the stream is RTMFP_OK with `*read` = 0: 300 ms after
/// the publisher unpublished ("NetStream.Play.UnpublishNotify",
/// "NetStream.Play.Stop", "NetStream.Connect.Closed") or the NetConnection
/// closed (media still on its way is taken meanwhile), at once after
/// rtmfp_netstream_close(). Bytes not read are kept (memory grows if the
/// reader falls behind the stream).
///
/// Event loops: rtmfp_netstream_flv_fd() is readable while bytes wait and
/// at the end. With a window over 0, tags held while the stream pauses
/// come out at a read after the window passed: wait at most `window_ms`
/// between reads.
///
/// Returns RTMFP_OK with `*read` set; RTMFP_ERR_AGAIN if no byte came in
/// time (`*read` = 0); RTMFP_ERR_WRONG_STATE if the NetStream is not read
/// as FLV; RTMFP_ERR_NULL_POINTER (`buf` may be NULL only if `cap` is 0);
/// RTMFP_ERR_INVALID_HANDLE. Reading works after rtmfp_netstream_close()
/// and rtmfp_netconnection_close() (to drain what is left).
///
/// Thread safety: safe from any thread; concurrent reads of one NetStream
/// get disjoint pieces, in no defined order (read from one thread).
///
/// # Safety
/// `buf` must be NULL or valid for writing `cap` bytes; `read` NULL or
/// valid for writing a size_t.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_netstream_read_flv(
    ns: *mut rtmfp_netstream,
    buf: *mut u8,
    cap: usize,
    timeout_ms: c_int,
    read: *mut usize,
) -> c_int {
    ffi_guard(|| {
        if read.is_null() {
            return Err(Error::null_pointer("read"));
        }
        if buf.is_null() && cap > 0 {
            return Err(Error::null_pointer("buf"));
        }
        let (stream, _) = core_stream(ns)?;
        let mut empty = [0u8; 0];
        let out: &mut [u8] = if cap == 0 {
            &mut empty
        } else {
            // SAFETY: non-NULL, `cap` writable bytes by contract.
            unsafe { std::slice::from_raw_parts_mut(buf, cap) }
        };
        let n = stream
            .read_flv_timeout(out, timeout(timeout_ms))
            .map_err(flv_error)?;
        // SAFETY: checked non-NULL, writable by contract.
        unsafe { write_out(read, n, "read")? };
        Ok(RTMFP_OK)
    })
}

/// A file descriptor readable while FLV bytes of a NetStream read as FLV
/// wait and at its end, for poll()/epoll/libuv. Never read, write or close
/// it; it lives as long as the NetStream's NetConnection.
///
/// Returns the fd (>= 0); RTMFP_ERR_WRONG_STATE if the NetStream is not
/// read as FLV; RTMFP_ERR_NULL_POINTER; RTMFP_ERR_INVALID_HANDLE.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn rtmfp_netstream_flv_fd(ns: *const rtmfp_netstream) -> c_int {
    ffi_guard(|| {
        let (stream, _) = core_stream(ns)?;
        stream.flv_read_fd().map_err(flv_error)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{RTMFP_ERR_INVALID_HANDLE, RTMFP_ERR_NULL_POINTER};
    use std::ptr::{null, null_mut};

    #[test]
    fn null_and_forged_handles() {
        let forged = 0x77_usize as *mut rtmfp_netstream;
        let mut n = 0usize;
        // SAFETY: valid or NULL pointers.
        unsafe {
            assert_eq!(
                rtmfp_netstream_write_flv(null_mut(), b"FLV".as_ptr(), 3, 0, &mut n),
                RTMFP_ERR_NULL_POINTER
            );
            assert_eq!(
                rtmfp_netstream_write_flv(forged, b"FLV".as_ptr(), 3, 0, &mut n),
                RTMFP_ERR_INVALID_HANDLE
            );
            assert_eq!(
                rtmfp_netstream_write_flv(forged, null(), 3, 0, &mut n),
                RTMFP_ERR_NULL_POINTER
            );
            assert_eq!(
                rtmfp_netstream_read_flv(forged, null_mut(), 0, 0, null_mut()),
                RTMFP_ERR_NULL_POINTER
            );
            assert_eq!(
                rtmfp_netstream_read_flv(forged, null_mut(), 0, 0, &mut n),
                RTMFP_ERR_INVALID_HANDLE
            );
        }
        assert_eq!(n, 0);
        assert_eq!(rtmfp_netstream_flv_fd(null()), RTMFP_ERR_NULL_POINTER);
        assert_eq!(
            rtmfp_netstream_start_flv_read(forged, 0),
            RTMFP_ERR_INVALID_HANDLE
        );
        assert_eq!(
            rtmfp_netstream_flush_flv(forged, 0),
            RTMFP_ERR_INVALID_HANDLE
        );
    }
}
