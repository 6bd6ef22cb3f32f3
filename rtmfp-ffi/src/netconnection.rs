//! `rtmfp_netconnection` and `rtmfp_netstream`: the Flash client of RFC
//! 7425 §5 (Flash's NetConnection and NetStream, DIRECT_CONNECTIONS).
//!
//! A NetConnection is `rtmfp_core::flash::NetConnection`: its own runtime
//! (I/O thread and UDP sockets) with a fresh client identity, running the
//! `FlashClient` layer. Its events go through the same `rtmfp_event` /
//! polling / callback model as an endpoint's ([`crate::dispatch`]); the
//! last ones stay readable after rtmfp_netconnection_close().
//!
//! A NetStream is a number local to its NetConnection; its handle holds
//! the connection's runtime handle, so calls on a stream of a closed
//! connection fail with RTMFP_ERR_CLOSED rather than touching freed memory.
//! Freeing a NetConnection also frees (invalidates) its NetStreams.

use std::ffi::{c_char, c_int, c_void};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rtmfp_core::endpoint::Endpoint;
use rtmfp_core::flash::client::{
    check_stream_message, ClientError, ClientEvent, FlashClient, PeerStreamId, StreamId,
};
use rtmfp_core::flash::command::encode_values;
use rtmfp_core::flash::message::{message_type, MAX_U24};
use rtmfp_core::flash::net_connection::resolve;
use rtmfp_core::flash::{NetConnection as CoreNetConnection, NetError, Value};
use rtmfp_core::rendezvous::{LOOKUP_NAME, REGISTER_NAME};
use rtmfp_core::runtime as rt;

use crate::config::{self, rtmfp_config};
use crate::dispatch::{self, lock, Dispatch, Source};
use crate::error::{
    from_core, Error, RTMFP_ERR_CLOSED, RTMFP_ERR_INVALID_HANDLE, RTMFP_ERR_WRONG_STATE, RTMFP_OK,
};
use crate::event::{rtmfp_event, rtmfp_event_callback};
use crate::guard::ffi_guard;
use crate::handles::{Handle, Registry};
use crate::util::{
    bytes, client_error, close_within, cstr, cstr_list, hex, invalid, net_error, nonempty_cstr,
    read_peer_id, write_cstr, write_out, write_peer_id,
};

/// Handle-table tag of NetConnections.
const NETCONNECTION_TAG: u8 = 3;
/// Handle-table tag of NetStreams.
const NETSTREAM_TAG: u8 = 4;

/// Deadline of the graceful shutdown in rtmfp_netconnection_free().
const FREE_DEADLINE: Duration = Duration::from_millis(250);

/// Largest payload of one NetStream message (RFC 7425 §5.1: a 24-bit
/// length), in bytes.
pub const RTMFP_MAX_MEDIA_LEN: usize = 16_777_215;
const _: () = assert!(RTMFP_MAX_MEDIA_LEN == MAX_U24 as usize);

/// Most string arguments of rtmfp_netconnection_call() and
/// rtmfp_netstream_send_strings().
pub const RTMFP_MAX_CALL_ARGS: usize = 64;

/// Opaque handle of a NetConnection (a Flash client connected to an RTMFP
/// server), made by rtmfp_netconnection_connect(). A generation-checked
/// token: using it after rtmfp_netconnection_free() gives
/// RTMFP_ERR_INVALID_HANDLE.
pub struct rtmfp_netconnection {
    _private: [u8; 0],
}

/// Opaque handle of a NetStream of a NetConnection, made by
/// rtmfp_netstream_create(). A generation-checked token: using it after
/// rtmfp_netstream_free() (or after its NetConnection was freed) gives
/// RTMFP_ERR_INVALID_HANDLE.
pub struct rtmfp_netstream {
    _private: [u8; 0],
}

/// What a NetStream is. Pass to rtmfp_netstream_create().
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum rtmfp_netstream_kind {
    /// `new NetStream(nc)`: publish or play through the server (RFC 7425
    /// §5.3.5). createStream is sent at once, or when the connection is
    /// up; RTMFP_EVENT_TYPE_STREAM_CREATED follows.
    Server = 0,
    /// `new NetStream(nc, NetStream.DIRECT_CONNECTIONS)`: publish to peers
    /// that play it directly by our peer ID (RFC 7425 §5.4); the server
    /// carries no media.
    DirectConnections = 1,
    /// `new NetStream(nc, peerID)`: play a DIRECT_CONNECTIONS stream of
    /// the peer with that peer ID, over a direct session the server
    /// introduces (RFC 7425 §5.4.1).
    Peer = 2,
}

/// RTMP message types of NetStream messages (RFC 7425 §5.1.2): the
/// `media_type` of RTMFP_EVENT_TYPE_MEDIA and of
/// rtmfp_netstream_send_to_peer().
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum rtmfp_media_type {
    /// Audio: an FLV audio tag body.
    Audio = 8,
    /// Video: an FLV video tag body.
    Video = 9,
    /// Data in AMF3 (a format selector 0, then AMF0 values).
    DataAmf3 = 15,
    /// Data in AMF0 (e.g. `NetStream.send(handler, ...)`, onMetaData).
    Data = 18,
}

/// What a NetConnection object and its dispatcher thread share.
struct NcShared {
    nc: CoreNetConnection,
    dispatch: Dispatch<ClientEvent>,
}

impl Source for NcShared {
    type Queue = CoreNetConnection;

    fn queue(&self) -> (&CoreNetConnection, &Dispatch<ClientEvent>) {
        (&self.nc, &self.dispatch)
    }

    fn what(&self) -> &'static str {
        "NetConnection"
    }
}

/// What the NetConnection table holds.
struct NcObj {
    shared: Arc<NcShared>,
    /// The NetStream handles made from it (freed with it).
    streams: Mutex<Streams>,
}

/// The NetStreams of a NetConnection.
#[derive(Default)]
struct Streams {
    handles: Vec<Handle>,
    /// rtmfp_netconnection_free() took them: a stream made concurrently
    /// must not outlive it.
    freed: bool,
}

impl NcObj {
    /// Closes the NetConnection in order and stops its runtime (once);
    /// `Some(clean)` if this call did it.
    fn shutdown(&self, deadline: Duration) -> Option<bool> {
        self.shared.nc.close(deadline).map(|r| r.clean)
    }
}

static NETCONNECTIONS: Registry<NcObj> = Registry::new(NETCONNECTION_TAG);

/// What the NetStream table holds.
struct NsObj {
    nc: Arc<NcShared>,
    nc_handle: Handle,
    id: StreamId,
    /// rtmfp_netstream_close() was called.
    closed: AtomicBool,
}

static NETSTREAMS: Registry<NsObj> = Registry::new(NETSTREAM_TAG);

fn netconnection(nc: *const rtmfp_netconnection) -> Result<Arc<NcObj>, Error> {
    NETCONNECTIONS.lookup(nc, "nc")
}

fn netstream(ns: *const rtmfp_netstream) -> Result<Arc<NsObj>, Error> {
    NETSTREAMS.lookup(ns, "ns")
}

/// Runs `f` on the NetConnection's I/O thread with its client layer.
fn with_client<R, F>(shared: &NcShared, f: F) -> Result<R, Error>
where
    R: Send + 'static,
    F: FnOnce(&mut FlashClient, &mut Endpoint, Instant) -> R + Send + 'static,
{
    shared.nc.with_client(f).map_err(|e| match e {
        NetError::Runtime(rt::RuntimeError::Closed | rt::RuntimeError::ShuttingDown) => Error::new(
            RTMFP_ERR_CLOSED,
            "the NetConnection is closed (rtmfp_netconnection_close())",
        ),
        e => net_error(e),
    })
}

/// Runs a fallible client call on a NetStream.
fn on_stream<R, F>(ns: *const rtmfp_netstream, f: F) -> Result<R, Error>
where
    R: Send + 'static,
    F: FnOnce(&mut FlashClient, &mut Endpoint, Instant, StreamId) -> Result<R, ClientError>
        + Send
        + 'static,
{
    let s = netstream(ns)?;
    let id = s.id;
    with_client(&s.nc, move |c, ep, now| f(c, ep, now, id))?.map_err(client_error)
}

/// As [`on_stream`] for calls that need an open NetStream: after
/// rtmfp_netstream_close() they fail with RTMFP_ERR_CLOSED.
fn on_open_stream<R, F>(ns: *const rtmfp_netstream, f: F) -> Result<R, Error>
where
    R: Send + 'static,
    F: FnOnce(&mut FlashClient, &mut Endpoint, Instant, StreamId) -> Result<R, ClientError>
        + Send
        + 'static,
{
    if netstream(ns)?.closed.load(Ordering::SeqCst) {
        return Err(Error::new(
            RTMFP_ERR_CLOSED,
            "the NetStream is closed (rtmfp_netstream_close())",
        ));
    }
    on_stream(ns, f)
}

/// The core NetStream of `ns` and whether rtmfp_netstream_close() was
/// called (for the FLV byte-stream calls, [`crate::flv`]).
pub(crate) fn core_stream(
    ns: *const rtmfp_netstream,
) -> Result<(rtmfp_core::flash::NetStream, bool), Error> {
    let s = netstream(ns)?;
    Ok((s.nc.nc.net_stream(s.id), s.closed.load(Ordering::SeqCst)))
}

/// A count as a non-negative int.
fn count(n: usize) -> c_int {
    c_int::try_from(n).unwrap_or(c_int::MAX)
}

/// Start a NetConnection to the RTMFP server at `uri`,
/// "rtmfp://host[:port]/app[/DEVELOPER-KEY]" (port 1935 by default): a new
/// runtime (I/O thread, UDP sockets bound per `cfg`) with a fresh client
/// identity (a new certificate and peer ID per connection, RFC 7425 §5.3),
/// then `connect`. Returns at once; the outcome arrives as an
/// RTMFP_EVENT_TYPE_NETSTATUS event with `stream` 0 and `status_code`
/// "NetConnection.Connect.Success", "NetConnection.Connect.Failed" or
/// "NetConnection.Connect.Rejected" (a bad developer key, or the server's
/// connect hook). From `cfg` it uses the bind addresses, DH groups,
/// HMAC / sequence number policies, timeouts, datagram size, flow buffers,
/// max_peer_connections and the peer connect mode; its role is ignored (a
/// NetConnection is always a client). `cfg` is copied.
///
/// Returns RTMFP_OK with `*out` set; RTMFP_ERR_INVALID_ARGUMENT for a
/// malformed URI or a host that does not resolve to an address of a bound
/// family; RTMFP_ERR_IO if a socket cannot be bound; RTMFP_ERR_CRYPTO if
/// the identity cannot be made; RTMFP_ERR_NULL_POINTER;
/// RTMFP_ERR_INVALID_HANDLE for a freed config. `*out` is untouched on
/// failure.
///
/// Thread safety: safe from any thread. Resolving the host name blocks the
/// calling thread.
///
/// # Safety
/// `uri` must be NULL or a NUL-terminated string; `out` must be NULL or
/// valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_netconnection_connect(
    cfg: *const rtmfp_config,
    uri: *const c_char,
    out: *mut *mut rtmfp_netconnection,
) -> c_int {
    ffi_guard(|| {
        let data = config::snapshot(cfg)?;
        // SAFETY: caller's contract.
        let uri = unsafe { cstr(uri, "uri")? }.to_owned();
        if out.is_null() {
            return Err(Error::null_pointer("out"));
        }
        let config = data.netconnection_config()?;
        let candidates = resolve(&uri, &config.bind).map_err(net_error)?;
        let nc = CoreNetConnection::start(config).map_err(net_error)?;
        nc.open_resolved(&uri, candidates, Vec::new())
            .map_err(net_error)?;
        let h = NETCONNECTIONS.insert(NcObj {
            shared: Arc::new(NcShared {
                nc,
                dispatch: Dispatch::default(),
            }),
            streams: Mutex::new(Streams::default()),
        });
        // SAFETY: non-NULL (checked), writable by contract.
        unsafe { out.write(h.to_ptr()) };
        Ok(RTMFP_OK)
    })
}

/// Close and free a NetConnection: close it in order (as
/// rtmfp_netconnection_close(), waiting at most 250 ms), stop its I/O
/// thread and callback dispatcher, and invalidate the handle and the
/// handles of all its NetStreams. Unread events are dropped; polled events
/// already taken stay valid until rtmfp_event_free().
///
/// Returns RTMFP_OK; RTMFP_OK for NULL (like free(NULL));
/// RTMFP_ERR_INVALID_HANDLE if `nc` was already freed (a double free is
/// detected, not undefined) or never issued.
///
/// Thread safety: safe from any thread. Calls on `nc` running on other
/// threads finish first (a blocked rtmfp_netconnection_next_event()
/// returns the last events, then RTMFP_ERR_CLOSED); later ones fail with
/// RTMFP_ERR_INVALID_HANDLE. It may be called from the event callback of
/// this same NetConnection (no further callback is made).
#[no_mangle]
pub extern "C" fn rtmfp_netconnection_free(nc: *mut rtmfp_netconnection) -> c_int {
    ffi_guard(|| {
        if nc.is_null() {
            return Ok(RTMFP_OK);
        }
        let obj = NETCONNECTIONS.take(nc, "nc")?;
        let streams = {
            let mut st = lock(&obj.streams);
            st.freed = true;
            std::mem::take(&mut st.handles)
        };
        for s in streams {
            NETSTREAMS.remove(s);
        }
        dispatch::stop_dispatcher(&obj.shared);
        obj.shutdown(FREE_DEADLINE);
        Ok(RTMFP_OK)
    })
}

/// Close a NetConnection gracefully (Flash's `NetConnection.close()`, RFC
/// 7425 §5.3.6): close its NetStreams and its flows, close its sessions
/// (to the server and to peers) in order, wait until the far ends
/// acknowledge or `deadline_ms` passes, then stop its I/O thread. The
/// handle stays valid: the last events (a "NetConnection.Connect.Closed"
/// status, ...) can still be read, then rtmfp_netconnection_next_event()
/// gives RTMFP_ERR_CLOSED; other calls fail with RTMFP_ERR_CLOSED. Free it
/// with rtmfp_netconnection_free().
///
/// Returns RTMFP_OK if every session closed in time; RTMFP_ERR_TIMEOUT if
/// the deadline passed first (it is stopped all the same);
/// RTMFP_ERR_CLOSED if it was already closed; RTMFP_ERR_NULL_POINTER;
/// RTMFP_ERR_INVALID_HANDLE.
///
/// Thread safety: safe from any thread, including the event callback.
/// Blocks the calling thread for up to `deadline_ms`.
#[no_mangle]
pub extern "C" fn rtmfp_netconnection_close(
    nc: *mut rtmfp_netconnection,
    deadline_ms: u32,
) -> c_int {
    ffi_guard(|| {
        let obj = netconnection(nc)?;
        close_within(deadline_ms, "NetConnection", |d| obj.shutdown(d))
    })
}

/// Whether the NetConnection is connected: 1 after
/// "NetConnection.Connect.Success" until it closes, else 0.
///
/// Returns 1 or 0; RTMFP_ERR_CLOSED after rtmfp_netconnection_close();
/// RTMFP_ERR_NULL_POINTER; RTMFP_ERR_INVALID_HANDLE.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn rtmfp_netconnection_connected(nc: *const rtmfp_netconnection) -> c_int {
    ffi_guard(|| {
        let obj = netconnection(nc)?;
        Ok(c_int::from(with_client(&obj.shared, |c, _, _| {
            c.is_connected()
        })?))
    })
}

/// Our peer ID (Flash's `nearID`: the fingerprint of this connection's
/// certificate, RFC 7425 §4.3.2): copy its RTMFP_PEER_ID_LEN (32) bytes to
/// `out`. Peers play our DIRECT_CONNECTIONS streams with it. Known at once
/// (before the connection is up) and after close.
///
/// Returns RTMFP_OK; RTMFP_ERR_NULL_POINTER; RTMFP_ERR_INVALID_HANDLE.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `out` must be NULL or valid for writing 32 bytes.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_netconnection_near_id(
    nc: *const rtmfp_netconnection,
    out: *mut u8,
) -> c_int {
    ffi_guard(|| {
        let id = netconnection(nc)?.shared.nc.near_id();
        // SAFETY: caller's contract.
        unsafe { write_peer_id(out, &id) }
    })
}

/// Our peer ID (`nearID`) as 64 lower-case hex digits and a NUL, written
/// to `buf` of `len` bytes (at least RTMFP_PEER_ID_HEX_LEN, 65).
///
/// Returns 64 (the length without the NUL); RTMFP_ERR_BUFFER_TOO_SMALL;
/// RTMFP_ERR_NULL_POINTER; RTMFP_ERR_INVALID_HANDLE.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `buf` must be NULL or valid for writing `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_netconnection_near_id_hex(
    nc: *const rtmfp_netconnection,
    buf: *mut c_char,
    len: usize,
) -> c_int {
    ffi_guard(|| {
        let obj = netconnection(nc)?;
        // SAFETY: caller's contract.
        unsafe { write_cstr(buf, len, &hex(&obj.shared.nc.near_id()), "buf") }
    })
}

/// The TURN relayed address of a NetConnection that runs over a relay
/// (rtmfp_config_set_turn_proxy), "ip:port" and a NUL, written to `buf` of
/// `len` bytes (RTMFP_ADDR_STRLEN always suffices): the address peers and
/// the server see.
///
/// Returns the string's length without the NUL; 0 (and an empty string)
/// without a relay; RTMFP_ERR_BUFFER_TOO_SMALL; RTMFP_ERR_NULL_POINTER;
/// RTMFP_ERR_INVALID_HANDLE.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `buf` must be NULL or valid for writing `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_netconnection_relayed_addr(
    nc: *const rtmfp_netconnection,
    buf: *mut c_char,
    len: usize,
) -> c_int {
    ffi_guard(|| {
        let obj = netconnection(nc)?;
        let text = obj
            .shared
            .nc
            .relayed_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        // SAFETY: caller's contract.
        unsafe { write_cstr(buf, len, &text, "buf") }
    })
}

/// Writes one of the server session's values (hex) once it is open.
///
/// # Safety
/// `buf` must be NULL or valid for writing `len` bytes.
unsafe fn server_value_hex(
    nc: *const rtmfp_netconnection,
    buf: *mut c_char,
    len: usize,
    what: &'static str,
    get: fn(&FlashClient) -> Option<String>,
) -> Result<c_int, Error> {
    let obj = netconnection(nc)?;
    if buf.is_null() {
        return Err(Error::null_pointer("buf"));
    }
    let value = with_client(&obj.shared, move |c, _, _| get(c))?.ok_or_else(|| {
        Error::new(
            RTMFP_ERR_WRONG_STATE,
            format!("no {what} yet: the session to the server is not open"),
        )
    })?;
    // SAFETY: caller's contract.
    unsafe { write_cstr(buf, len, &value, "buf") }
}

/// The server's peer ID (Flash's `farID`) as 64 hex digits and a NUL,
/// written to `buf` of `len` bytes (at least RTMFP_PEER_ID_HEX_LEN), once
/// the session to the server is open.
///
/// Returns 64; RTMFP_ERR_WRONG_STATE before the session is open;
/// RTMFP_ERR_BUFFER_TOO_SMALL; RTMFP_ERR_CLOSED after
/// rtmfp_netconnection_close(); RTMFP_ERR_NULL_POINTER;
/// RTMFP_ERR_INVALID_HANDLE.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `buf` must be NULL or valid for writing `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_netconnection_far_id_hex(
    nc: *const rtmfp_netconnection,
    buf: *mut c_char,
    len: usize,
) -> c_int {
    ffi_guard(|| {
        // SAFETY: caller's contract.
        unsafe { server_value_hex(nc, buf, len, "farID", |c| c.far_id().map(|id| hex(&id))) }
    })
}

/// Flash's `nearNonce`: NEAR_NONCE of the session to the server (RFC 7425
/// §4.6.5) in lower-case hex and a NUL, written to `buf` of `len` bytes
/// (RTMFP_PEER_ID_HEX_LEN, 65, is enough: it is 32 bytes), once the
/// session is open.
///
/// Returns the length without the NUL; RTMFP_ERR_WRONG_STATE before the
/// session is open; RTMFP_ERR_BUFFER_TOO_SMALL; RTMFP_ERR_CLOSED;
/// RTMFP_ERR_NULL_POINTER; RTMFP_ERR_INVALID_HANDLE.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `buf` must be NULL or valid for writing `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_netconnection_near_nonce_hex(
    nc: *const rtmfp_netconnection,
    buf: *mut c_char,
    len: usize,
) -> c_int {
    ffi_guard(|| {
        // SAFETY: caller's contract.
        unsafe { server_value_hex(nc, buf, len, "nearNonce", |c| c.near_nonce().map(hex)) }
    })
}

/// Flash's `farNonce`: FAR_NONCE of the session to the server, as
/// rtmfp_netconnection_near_nonce_hex().
///
/// Returns the length without the NUL; RTMFP_ERR_WRONG_STATE before the
/// session is open; RTMFP_ERR_BUFFER_TOO_SMALL; RTMFP_ERR_CLOSED;
/// RTMFP_ERR_NULL_POINTER; RTMFP_ERR_INVALID_HANDLE.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `buf` must be NULL or valid for writing `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_netconnection_far_nonce_hex(
    nc: *const rtmfp_netconnection,
    buf: *mut c_char,
    len: usize,
) -> c_int {
    ffi_guard(|| {
        // SAFETY: caller's contract.
        unsafe { server_value_hex(nc, buf, len, "farNonce", |c| c.far_nonce().map(hex)) }
    })
}

/// Sends a command with string arguments; stores its call ID.
///
/// # Safety
/// `call_id_out` must be NULL or valid for writing a `uint64_t`.
unsafe fn call_with(
    nc: *const rtmfp_netconnection,
    command: String,
    args: Vec<String>,
    call_id_out: *mut u64,
) -> Result<c_int, Error> {
    let obj = netconnection(nc)?;
    if call_id_out.is_null() {
        return Err(Error::null_pointer("call_id_out"));
    }
    let values: Vec<Value> = args.into_iter().map(Value::from).collect();
    let txn = with_client(&obj.shared, move |c, ep, now| {
        c.call(ep, now, &command, values)
    })?
    .map_err(client_error)?;
    // SAFETY: non-NULL, writable by contract.
    unsafe { write_out(call_id_out, txn as u64, "call_id_out")? };
    Ok(RTMFP_OK)
}

/// Call a command on the server (Flash's `NetConnection.call(command,
/// responder, args...)`) with `nargs` (0 to RTMFP_MAX_CALL_ARGS) string
/// arguments. Its call ID is stored in `*call_id_out`; the answer arrives
/// as an RTMFP_EVENT_TYPE_CALL_RESULT event with the same `call_id`.
///
/// Returns RTMFP_OK; RTMFP_ERR_WRONG_STATE before
/// "NetConnection.Connect.Success"; RTMFP_ERR_INVALID_ARGUMENT for an
/// empty command, too many arguments or a string that is not UTF-8;
/// RTMFP_ERR_CLOSED after rtmfp_netconnection_close();
/// RTMFP_ERR_NULL_POINTER; RTMFP_ERR_INVALID_HANDLE.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `command` must be NULL or a NUL-terminated string; `args` NULL or
/// valid for reading `nargs` pointers to NUL-terminated strings;
/// `call_id_out` NULL or valid for writing a `uint64_t`.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_netconnection_call(
    nc: *mut rtmfp_netconnection,
    command: *const c_char,
    args: *const *const c_char,
    nargs: usize,
    call_id_out: *mut u64,
) -> c_int {
    ffi_guard(|| {
        // SAFETY: caller's contract.
        let command = unsafe { nonempty_cstr(command, "command")? }.to_owned();
        // SAFETY: caller's contract.
        let args = unsafe { cstr_list(args, nargs, "args", RTMFP_MAX_CALL_ARGS)? };
        // SAFETY: caller's contract.
        unsafe { call_with(nc, command, args, call_id_out) }
    })
}

/// The body of rtmfp_netconnection_register_name() and _lookup_name():
/// the rendezvous server's `command` with the non-empty `name` as its one
/// argument.
///
/// # Safety
/// `name` must be NULL or a NUL-terminated string; `call_id_out` NULL or
/// valid for writing a `uint64_t`.
unsafe fn name_call(
    nc: *mut rtmfp_netconnection,
    command: &str,
    name: *const c_char,
    call_id_out: *mut u64,
) -> c_int {
    ffi_guard(|| {
        // SAFETY: caller's contract.
        let name = unsafe { nonempty_cstr(name, "name")? }.to_owned();
        // SAFETY: caller's contract.
        unsafe { call_with(nc, command.to_owned(), vec![name], call_id_out) }
    })
}

/// Register `name` for our peer ID with the rendezvous server (its
/// `registerName` command), so that other peers can find us with
/// rtmfp_netconnection_lookup_name(). The answer arrives as
/// RTMFP_EVENT_TYPE_CALL_RESULT with `call_id` = `*call_id_out`: `ok`
/// true, or false with `status_code` "NetConnection.Call.Failed" if
/// another peer holds the name. The name is released when we disconnect.
///
/// Returns RTMFP_OK; RTMFP_ERR_WRONG_STATE before
/// "NetConnection.Connect.Success"; RTMFP_ERR_INVALID_ARGUMENT for an
/// empty name; RTMFP_ERR_CLOSED; RTMFP_ERR_NULL_POINTER;
/// RTMFP_ERR_INVALID_HANDLE.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `name` must be NULL or a NUL-terminated string; `call_id_out` NULL or
/// valid for writing a `uint64_t`.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_netconnection_register_name(
    nc: *mut rtmfp_netconnection,
    name: *const c_char,
    call_id_out: *mut u64,
) -> c_int {
    // SAFETY: caller's contract.
    unsafe { name_call(nc, REGISTER_NAME, name, call_id_out) }
}

/// Ask the rendezvous server which peer holds `name` (its `lookupName`
/// command). The answer arrives as RTMFP_EVENT_TYPE_CALL_RESULT with
/// `call_id` = `*call_id_out`: `ok` true with `has_peer_id`/`peer_id` and
/// `text` (the peer ID in hex), or `ok` false with `status_code`
/// "NetConnection.Call.Failed" if no connected peer holds it. Play the
/// peer's streams with rtmfp_netstream_create(nc,
/// RTMFP_NETSTREAM_KIND_PEER, peer_id, ...).
///
/// Returns RTMFP_OK; RTMFP_ERR_WRONG_STATE before
/// "NetConnection.Connect.Success"; RTMFP_ERR_INVALID_ARGUMENT for an
/// empty name; RTMFP_ERR_CLOSED; RTMFP_ERR_NULL_POINTER;
/// RTMFP_ERR_INVALID_HANDLE.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `name` must be NULL or a NUL-terminated string; `call_id_out` NULL or
/// valid for writing a `uint64_t`.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_netconnection_lookup_name(
    nc: *mut rtmfp_netconnection,
    name: *const c_char,
    call_id_out: *mut u64,
) -> c_int {
    // SAFETY: caller's contract.
    unsafe { name_call(nc, LOOKUP_NAME, name, call_id_out) }
}

/// Accept a subscriber announced by RTMFP_EVENT_TYPE_PEER_CONNECT (in
/// RTMFP_PEER_CONNECT_MODE_ASK): `peer_stream` is the event's
/// `peer_stream`. It gets "NetStream.Play.Start" and, from now on, what
/// the stream sends; RTMFP_EVENT_TYPE_PEER_STREAM_OPENED follows.
///
/// Returns RTMFP_OK; RTMFP_ERR_INVALID_HANDLE if there is no such
/// subscriber (gone, or never announced); RTMFP_ERR_WRONG_STATE if it was
/// already accepted; RTMFP_ERR_CLOSED; RTMFP_ERR_NULL_POINTER.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn rtmfp_netconnection_accept_peer(
    nc: *mut rtmfp_netconnection,
    peer_stream: u64,
) -> c_int {
    ffi_guard(|| {
        let obj = netconnection(nc)?;
        with_client(&obj.shared, move |c, ep, now| {
            c.accept_peer(ep, now, PeerStreamId(peer_stream))
        })?
        .map_err(client_error)?;
        Ok(RTMFP_OK)
    })
}

/// Reject a pending subscriber (from RTMFP_EVENT_TYPE_PEER_CONNECT), or
/// drop an accepted one: it is sent "NetStream.Connect.Rejected" with
/// `reason` (NULL: a default text) as the description, and its control
/// flow is rejected (RFC 7425 §5.4.3). RTMFP_EVENT_TYPE_PEER_STREAM_CLOSED
/// follows.
///
/// Returns RTMFP_OK; RTMFP_ERR_INVALID_HANDLE if there is no such
/// subscriber; RTMFP_ERR_INVALID_ARGUMENT if `reason` is not UTF-8;
/// RTMFP_ERR_CLOSED; RTMFP_ERR_NULL_POINTER.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `reason` must be NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_netconnection_reject_peer(
    nc: *mut rtmfp_netconnection,
    peer_stream: u64,
    reason: *const c_char,
) -> c_int {
    ffi_guard(|| {
        let reason = if reason.is_null() {
            "rejected by the publisher".to_owned()
        } else {
            // SAFETY: caller's contract.
            unsafe { cstr(reason, "reason")? }.to_owned()
        };
        let obj = netconnection(nc)?;
        with_client(&obj.shared, move |c, ep, now| {
            c.reject_peer(ep, now, PeerStreamId(peer_stream), &reason)
        })?
        .map_err(client_error)?;
        Ok(RTMFP_OK)
    })
}

/// Take the next NetConnection event (types RTMFP_EVENT_TYPE_NETSTATUS to
/// RTMFP_EVENT_TYPE_COMMAND), as rtmfp_next_event() does for an endpoint:
/// waits up to `timeout_ms` (0: does not wait; negative: until an event
/// comes or the NetConnection stops). On success `*out` belongs to the
/// caller until rtmfp_event_free().
///
/// Returns RTMFP_OK with `*out` set; RTMFP_ERR_AGAIN if no event came in
/// time (`*out` = NULL); RTMFP_ERR_CLOSED once the NetConnection has
/// stopped (rtmfp_netconnection_close(), or freed by another thread) and
/// every event was taken; RTMFP_ERR_WRONG_STATE while an event callback is
/// registered; RTMFP_ERR_NULL_POINTER; RTMFP_ERR_INVALID_HANDLE.
///
/// Thread safety: safe from any thread; with several threads taking
/// events, each event goes to exactly one of them.
///
/// # Safety
/// `out` must be NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_netconnection_next_event(
    nc: *mut rtmfp_netconnection,
    timeout_ms: c_int,
    out: *mut *mut rtmfp_event,
) -> c_int {
    ffi_guard(|| {
        // SAFETY: caller's contract.
        unsafe {
            dispatch::next_event(out, timeout_ms, || {
                Ok(Arc::clone(&netconnection(nc)?.shared))
            })
        }
    })
}

/// A file descriptor that is readable while NetConnection events wait, for
/// poll(2), epoll, libuv or asyncio, with the contract of
/// rtmfp_event_fd(): after it wakes, take events with timeout 0 until
/// RTMFP_ERR_AGAIN; it stays readable once the NetConnection has stopped.
/// Never read, write or close it; it stays open until
/// rtmfp_netconnection_free().
///
/// Returns the fd (>= 0); RTMFP_ERR_NULL_POINTER; RTMFP_ERR_INVALID_HANDLE.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn rtmfp_netconnection_event_fd(nc: *const rtmfp_netconnection) -> c_int {
    ffi_guard(|| Ok(netconnection(nc)?.shared.nc.event_fd()))
}

/// Deliver NetConnection events to `callback` instead of
/// rtmfp_netconnection_next_event(), exactly as rtmfp_set_event_callback()
/// does for an endpoint: one event at a time, in order, on a dispatcher
/// thread ("rtmfp-events"); the event is valid only during the call; NULL
/// removes the callback (waiting for a call in progress when done from
/// another thread, so `user` may be freed afterwards). The callback may
/// call any rtmfp function, including rtmfp_netconnection_free() on this
/// NetConnection; it must not unwind out of the call.
///
/// Returns RTMFP_OK; RTMFP_ERR_NULL_POINTER; RTMFP_ERR_INVALID_HANDLE;
/// RTMFP_ERR_IO if the thread cannot be started.
///
/// Thread safety: safe from any thread, including from inside the
/// callback. `user` must be usable from the dispatcher thread.
///
/// # Safety
/// `callback` must be NULL or a function with this signature that is safe
/// to call with `user` from another thread until it is removed or the
/// NetConnection is freed.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_netconnection_set_event_callback(
    nc: *mut rtmfp_netconnection,
    callback: rtmfp_event_callback,
    user: *mut c_void,
) -> c_int {
    ffi_guard(|| dispatch::register(&netconnection(nc)?.shared, callback, user))
}

// ------------------------------------------------------------ NetStream --

/// Make a NetStream of `nc` of `kind` (an rtmfp_netstream_kind) and store
/// it in `*out`. `peer_id` (32 bytes) is the publisher's peer ID for
/// RTMFP_NETSTREAM_KIND_PEER and must be NULL for the other kinds.
/// - RTMFP_NETSTREAM_KIND_SERVER sends createStream (now, or once
///   connected); publish and play may be called at once.
/// - RTMFP_NETSTREAM_KIND_DIRECT_CONNECTIONS: publish, and peers play.
/// - RTMFP_NETSTREAM_KIND_PEER: play the peer's stream directly; the
///   server introduces the peers (they may be behind NATs).
///
/// Returns RTMFP_OK; RTMFP_ERR_INVALID_ARGUMENT for a bad kind, a
/// missing peer ID for RTMFP_NETSTREAM_KIND_PEER or one given for another
/// kind; RTMFP_ERR_CLOSED after rtmfp_netconnection_close();
/// RTMFP_ERR_NULL_POINTER; RTMFP_ERR_INVALID_HANDLE. `*out` is untouched
/// on failure.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `peer_id` must be NULL or valid for reading 32 bytes; `out` NULL or
/// valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_netstream_create(
    nc: *mut rtmfp_netconnection,
    kind: c_int,
    peer_id: *const u8,
    out: *mut *mut rtmfp_netstream,
) -> c_int {
    ffi_guard(|| {
        let obj = netconnection(nc)?;
        if out.is_null() {
            return Err(Error::null_pointer("out"));
        }
        let kind = match kind {
            0 => rtmfp_netstream_kind::Server,
            1 => rtmfp_netstream_kind::DirectConnections,
            2 => rtmfp_netstream_kind::Peer,
            _ => {
                return Err(invalid(format!(
                    "kind {kind} is not an RTMFP_NETSTREAM_KIND_* value (0..=2)"
                )))
            }
        };
        let peer = match (kind, peer_id.is_null()) {
            (rtmfp_netstream_kind::Peer, true) => {
                return Err(invalid(
                    "RTMFP_NETSTREAM_KIND_PEER needs the publisher's `peer_id`",
                ))
            }
            // SAFETY: non-NULL, caller's contract.
            (rtmfp_netstream_kind::Peer, false) => {
                Some(unsafe { read_peer_id(peer_id, "peer_id")? })
            }
            (_, true) => None,
            (_, false) => {
                return Err(invalid(
                    "`peer_id` must be NULL unless `kind` is RTMFP_NETSTREAM_KIND_PEER",
                ))
            }
        };
        let id = with_client(&obj.shared, move |c, ep, now| match (kind, peer) {
            (rtmfp_netstream_kind::Server, _) => c.create_stream(ep, now),
            (rtmfp_netstream_kind::Peer, Some(p)) => c.create_peer_stream(p),
            _ => c.create_direct_stream(),
        })?;
        let h = NETSTREAMS.insert(NsObj {
            nc: Arc::clone(&obj.shared),
            nc_handle: Handle::from_ptr(nc),
            id,
            closed: AtomicBool::new(false),
        });
        {
            let mut st = lock(&obj.streams);
            if st.freed {
                NETSTREAMS.remove(h);
                return Err(Error::invalid_handle("nc"));
            }
            st.handles.push(h);
        }
        // SAFETY: non-NULL (checked), writable by contract.
        unsafe { out.write(h.to_ptr()) };
        Ok(RTMFP_OK)
    })
}

/// Free a NetStream: close it (as rtmfp_netstream_close(), if its
/// NetConnection still runs) and invalidate the handle.
///
/// Returns RTMFP_OK; RTMFP_OK for NULL (like free(NULL));
/// RTMFP_ERR_INVALID_HANDLE if `ns` was already freed (a double free is
/// detected), was freed with its NetConnection, or never issued.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn rtmfp_netstream_free(ns: *mut rtmfp_netstream) -> c_int {
    ffi_guard(|| {
        if ns.is_null() {
            return Ok(RTMFP_OK);
        }
        let h = Handle::from_ptr(ns);
        let s = NETSTREAMS.take(ns, "ns")?;
        if let Some(nc) = NETCONNECTIONS.get(s.nc_handle) {
            lock(&nc.streams).handles.retain(|x| *x != h);
        }
        // The NetConnection may be closed: nothing left to close then.
        let _ = s.nc.nc.net_stream(s.id).close();
        Ok(RTMFP_OK)
    })
}

/// The NetStream's number within its NetConnection (>= 1): the `stream`
/// field of its events.
///
/// Returns the number; RTMFP_ERR_NULL_POINTER; RTMFP_ERR_INVALID_HANDLE.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn rtmfp_netstream_id(ns: *const rtmfp_netstream) -> c_int {
    ffi_guard(|| Ok(c_int::try_from(netstream(ns)?.id.0).unwrap_or(c_int::MAX)))
}

/// Publish `name` on a SERVER or DIRECT_CONNECTIONS NetStream (Flash's
/// `NetStream.publish(name)`). "NetStream.Publish.Start" follows (at once
/// for DIRECT_CONNECTIONS, which involves no server), or
/// "NetStream.Publish.BadName" if we already publish that name.
///
/// Returns RTMFP_OK; RTMFP_ERR_WRONG_STATE for a PEER NetStream or one
/// already publishing or playing; RTMFP_ERR_INVALID_ARGUMENT for an empty
/// name or one already published; RTMFP_ERR_CLOSED after
/// rtmfp_netstream_close() or rtmfp_netconnection_close();
/// RTMFP_ERR_NULL_POINTER; RTMFP_ERR_INVALID_HANDLE.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `name` must be NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_netstream_publish(
    ns: *mut rtmfp_netstream,
    name: *const c_char,
) -> c_int {
    ffi_guard(|| {
        // SAFETY: caller's contract.
        let name = unsafe { nonempty_cstr(name, "name")? }.to_owned();
        on_open_stream(ns, move |c, ep, now, id| c.publish(ep, now, id, &name))?;
        Ok(RTMFP_OK)
    })
}

/// Play `name` (Flash's `NetStream.play(name)`): through the server on a
/// SERVER NetStream, or from the peer on a PEER NetStream.
/// "NetStream.Play.Start" follows, then RTMFP_EVENT_TYPE_MEDIA events; a
/// publisher that refuses us gives "NetStream.Connect.Rejected".
///
/// Returns RTMFP_OK; RTMFP_ERR_WRONG_STATE for a DIRECT_CONNECTIONS
/// NetStream or one already publishing or playing;
/// RTMFP_ERR_INVALID_ARGUMENT for an empty name; RTMFP_ERR_CLOSED after
/// rtmfp_netstream_close() or rtmfp_netconnection_close();
/// RTMFP_ERR_NULL_POINTER; RTMFP_ERR_INVALID_HANDLE.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `name` must be NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_netstream_play(
    ns: *mut rtmfp_netstream,
    name: *const c_char,
) -> c_int {
    ffi_guard(|| {
        // SAFETY: caller's contract.
        let name = unsafe { nonempty_cstr(name, "name")? }.to_owned();
        on_open_stream(ns, move |c, ep, now, id| c.play(ep, now, id, &name))?;
        Ok(RTMFP_OK)
    })
}

/// Sends one message of `ty` on a publishing NetStream.
///
/// # Safety
/// `data` must be NULL or valid for reading `len` bytes.
unsafe fn send_media(
    ns: *mut rtmfp_netstream,
    ty: u8,
    timestamp: u32,
    data: *const u8,
    len: usize,
) -> Result<c_int, Error> {
    // SAFETY: caller's contract.
    let payload = unsafe { bytes(data, len, "data", RTMFP_MAX_MEDIA_LEN)? }.to_vec();
    let n = on_open_stream(ns, move |c, ep, now, id| {
        c.send(ep, now, id, ty, timestamp, &payload)
    })?;
    Ok(count(n))
}

/// Send an audio message (`len` bytes of an FLV audio tag body, at most
/// RTMFP_MAX_MEDIA_LEN) with `timestamp` (ms) on a publishing NetStream:
/// to the server (SERVER), or to every accepted subscriber
/// (DIRECT_CONNECTIONS; none before a subscriber has subscribed).
///
/// Returns how many destinations it was queued for (>= 0);
/// RTMFP_ERR_WRONG_STATE if the NetStream is not publishing (or, SERVER,
/// has no stream ID yet); RTMFP_ERR_AGAIN if a flow's send buffer is full;
/// RTMFP_ERR_INVALID_ARGUMENT if `len` is too large; RTMFP_ERR_CLOSED
/// after rtmfp_netstream_close() or rtmfp_netconnection_close();
/// RTMFP_ERR_NULL_POINTER; RTMFP_ERR_INVALID_HANDLE.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `data` must be NULL or valid for reading `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_netstream_send_audio(
    ns: *mut rtmfp_netstream,
    timestamp: u32,
    data: *const u8,
    len: usize,
) -> c_int {
    // SAFETY: caller's contract.
    ffi_guard(|| unsafe { send_media(ns, message_type::AUDIO, timestamp, data, len) })
}

/// Send a video message (an FLV video tag body), as
/// rtmfp_netstream_send_audio().
///
/// Returns how many destinations it was queued for (>= 0); errors as
/// rtmfp_netstream_send_audio().
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `data` must be NULL or valid for reading `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_netstream_send_video(
    ns: *mut rtmfp_netstream,
    timestamp: u32,
    data: *const u8,
    len: usize,
) -> c_int {
    // SAFETY: caller's contract.
    ffi_guard(|| unsafe { send_media(ns, message_type::VIDEO, timestamp, data, len) })
}

/// Send a data message (RTMP type 18): `data` is its AMF0-encoded body,
/// sent as it is (e.g. a string handler name, then values). As
/// rtmfp_netstream_send_audio() otherwise; rtmfp_netstream_send_strings()
/// encodes one for you.
///
/// Returns how many destinations it was queued for (>= 0); errors as
/// rtmfp_netstream_send_audio().
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `data` must be NULL or valid for reading `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_netstream_send_data(
    ns: *mut rtmfp_netstream,
    timestamp: u32,
    data: *const u8,
    len: usize,
) -> c_int {
    // SAFETY: caller's contract.
    ffi_guard(|| unsafe { send_media(ns, message_type::DATA_AMF0, timestamp, data, len) })
}

/// Flash's `NetStream.send(handler, args...)` with string arguments: a
/// data message (type 18) of the AMF0 strings `handler` and the `nargs`
/// (0 to RTMFP_MAX_CALL_ARGS) `args`. A player receives it as
/// RTMFP_EVENT_TYPE_MEDIA with `name` = handler and `text` = the first
/// argument. As rtmfp_netstream_send_audio() otherwise.
///
/// Returns how many destinations it was queued for (>= 0);
/// RTMFP_ERR_INVALID_ARGUMENT for an empty handler, too many arguments or
/// a string that is not UTF-8 (or over 65535 bytes); otherwise as
/// rtmfp_netstream_send_audio().
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `handler` must be NULL or a NUL-terminated string; `args` NULL or
/// valid for reading `nargs` pointers to NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_netstream_send_strings(
    ns: *mut rtmfp_netstream,
    timestamp: u32,
    handler: *const c_char,
    args: *const *const c_char,
    nargs: usize,
) -> c_int {
    ffi_guard(|| {
        // SAFETY: caller's contract.
        let handler = unsafe { nonempty_cstr(handler, "handler")? };
        // SAFETY: caller's contract.
        let args = unsafe { cstr_list(args, nargs, "args", RTMFP_MAX_CALL_ARGS)? };
        let mut values = vec![Value::from(handler)];
        values.extend(args.into_iter().map(Value::from));
        let payload = encode_values(message_type::DATA_AMF0, &values)
            .map_err(|e| invalid(format!("cannot encode the message: {e}")))?;
        // SAFETY: a valid buffer of its length.
        unsafe {
            send_media(
                ns,
                message_type::DATA_AMF0,
                timestamp,
                payload.as_ptr(),
                payload.len(),
            )
        }
    })
}

/// Send one message to one subscriber of a DIRECT_CONNECTIONS NetStream
/// (`peer_stream` from its PEER_CONNECT / PEER_STREAM_OPENED event):
/// `media_type` (an rtmfp_media_type), `timestamp`, `len` bytes (at most
/// RTMFP_MAX_MEDIA_LEN).
///
/// Returns RTMFP_OK; RTMFP_ERR_INVALID_HANDLE if `peer_stream` is not a
/// subscriber of this NetStream; RTMFP_ERR_WRONG_STATE if it is not
/// accepted (yet) or its flows are closed; RTMFP_ERR_INVALID_ARGUMENT for
/// a bad type or length; RTMFP_ERR_AGAIN; RTMFP_ERR_CLOSED after
/// rtmfp_netstream_close() or rtmfp_netconnection_close();
/// RTMFP_ERR_NULL_POINTER.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `data` must be NULL or valid for reading `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_netstream_send_to_peer(
    ns: *mut rtmfp_netstream,
    peer_stream: u64,
    media_type: c_int,
    timestamp: u32,
    data: *const u8,
    len: usize,
) -> c_int {
    ffi_guard(|| {
        let ty = check_stream_message(media_type.into(), len).map_err(from_core)?;
        // SAFETY: caller's contract.
        let payload = unsafe { bytes(data, len, "data", RTMFP_MAX_MEDIA_LEN)? }.to_vec();
        let peer = PeerStreamId(peer_stream);
        on_open_stream(ns, move |c, ep, now, id| {
            if c.peer_stream(peer).and_then(|p| p.stream) != Some(id) {
                return Err(ClientError::UnknownStream);
            }
            c.send_to_peer(ep, now, peer, ty, timestamp, &payload)
        })
        .map_err(|e| {
            if e.code() == RTMFP_ERR_INVALID_HANDLE {
                Error::new(
                    RTMFP_ERR_INVALID_HANDLE,
                    format!("no subscriber {peer_stream} on this NetStream"),
                )
            } else {
                e
            }
        })?;
        Ok(RTMFP_OK)
    })
}

/// How many accepted subscribers play this DIRECT_CONNECTIONS NetStream
/// (Flash's `peerStreams.length`); 0 for other kinds.
///
/// Returns the count (>= 0); RTMFP_ERR_CLOSED; RTMFP_ERR_NULL_POINTER;
/// RTMFP_ERR_INVALID_HANDLE.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn rtmfp_netstream_peer_count(ns: *const rtmfp_netstream) -> c_int {
    ffi_guard(|| {
        let n = on_stream(ns, |c, _, _, id| Ok(c.peer_streams(Some(id)).len()))?;
        Ok(count(n))
    })
}

/// Close a NetStream (Flash's `NetStream.close()`): its flows close; a
/// DIRECT_CONNECTIONS stream unpublishes and drops its subscribers; a
/// SERVER stream is deleted (deleteStream). The handle stays valid until
/// rtmfp_netstream_free(); closing twice is fine. Afterwards publish, play
/// and the send functions fail with RTMFP_ERR_CLOSED.
///
/// Returns RTMFP_OK; RTMFP_ERR_CLOSED after rtmfp_netconnection_close();
/// RTMFP_ERR_NULL_POINTER; RTMFP_ERR_INVALID_HANDLE.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn rtmfp_netstream_close(ns: *mut rtmfp_netstream) -> c_int {
    ffi_guard(|| {
        // Core's close: it also ends an FLV reader of the stream.
        core_stream(ns)?.0.close().map_err(net_error)?;
        netstream(ns)?.closed.store(true, Ordering::SeqCst);
        Ok(RTMFP_OK)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{RTMFP_ERR_INVALID_ARGUMENT, RTMFP_ERR_NULL_POINTER};
    use std::ptr::{null, null_mut};

    #[test]
    fn null_and_forged_handles() {
        let forged = 0x1234_usize as *mut rtmfp_netconnection;
        assert_eq!(rtmfp_netconnection_free(null_mut()), RTMFP_OK);
        assert_eq!(rtmfp_netconnection_free(forged), RTMFP_ERR_INVALID_HANDLE);
        assert_eq!(
            rtmfp_netconnection_close(null_mut(), 0),
            RTMFP_ERR_NULL_POINTER
        );
        assert_eq!(
            rtmfp_netconnection_event_fd(forged),
            RTMFP_ERR_INVALID_HANDLE
        );
        assert_eq!(rtmfp_netstream_free(null_mut()), RTMFP_OK);
        assert_eq!(
            rtmfp_netstream_close(0x99_usize as *mut rtmfp_netstream),
            RTMFP_ERR_INVALID_HANDLE
        );
        let mut out = null_mut();
        // SAFETY: valid or NULL pointers.
        unsafe {
            assert_eq!(
                rtmfp_netconnection_connect(null(), c"rtmfp://127.0.0.1/x".as_ptr(), &mut out),
                RTMFP_ERR_NULL_POINTER
            );
            let mut cfg = null_mut();
            assert_eq!(crate::config::rtmfp_config_new(&mut cfg), 0);
            assert_eq!(
                rtmfp_netconnection_connect(cfg, c"http://x/".as_ptr(), &mut out),
                RTMFP_ERR_INVALID_ARGUMENT
            );
            assert_eq!(crate::config::rtmfp_config_free(cfg), 0);
        }
        assert!(out.is_null());
    }
}
