//! `rtmfp_endpoint`: a running RTMFP endpoint (a runtime with its I/O
//! thread and sockets), its sessions, and how its events reach C.
//!
//! # Threads
//!
//! Every endpoint function may be called from any thread, concurrently.
//! The runtime's [`Handle`](rt::Handle) is `Send + Sync`; calls run on the
//! I/O thread and wait for it. An optional dispatcher thread
//! ("rtmfp-events") takes events and calls the C callback.
//!
//! Events reach C through [`crate::dispatch`]: polled with
//! rtmfp_next_event(), or delivered to a callback on a dispatcher thread.

use std::collections::HashSet;
use std::ffi::{c_char, c_int, c_void};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rtmfp_core::crypto::flash::epd::epd_for_fingerprint;
use rtmfp_core::endpoint::{Event, Role, SessionHandle};
use rtmfp_core::host::options::Object;
use rtmfp_core::runtime::{self as rt, Runtime};

use crate::config::{self, rtmfp_config};
use crate::dispatch::{self, lock, Dispatch, Source};
use crate::error::{
    Error, RTMFP_ERR_INVALID_HANDLE, RTMFP_ERR_IO, RTMFP_ERR_UNSUPPORTED, RTMFP_ERR_WRONG_STATE,
    RTMFP_OK,
};
use crate::event::{
    rtmfp_event, rtmfp_event_callback, OwnedEvent, RTMFP_ADDR_STRLEN, RTMFP_PEER_ID_LEN,
};
use crate::guard::ffi_guard;
use crate::handles::Registry;
use crate::util::{
    bytes, close_within, cstr, cstr_list_map, fill_array, hex, invalid, parse_addr, read_peer_id,
    unhex, write_cstr, write_local_addr, write_out, write_peer_id,
};

/// Handle-table tag of endpoints.
const ENDPOINT_TAG: u8 = 2;

/// Deadline of the graceful shutdown in rtmfp_endpoint_free().
const FREE_DEADLINE: Duration = Duration::from_millis(250);

/// Most candidate addresses of one connect (REDIRECT_THRESHOLD is 24).
const MAX_CANDIDATES: usize = 24;

/// Largest EPD accepted by rtmfp_session_connect_epd().
const MAX_EPD_LEN: usize = 1024;

/// Opaque handle of a running endpoint, made by rtmfp_endpoint_new().
/// It is a generation-checked token, not a pointer to memory: using it
/// after rtmfp_endpoint_free() gives RTMFP_ERR_INVALID_HANDLE.
pub struct rtmfp_endpoint {
    _private: [u8; 0],
}

/// What the endpoint object and its dispatcher thread share.
pub(crate) struct Shared {
    pub(crate) handle: rt::Handle,
    /// Sessions this end is opening: tells "still opening"
    /// (RTMFP_ERR_WRONG_STATE) from "no such session".
    opening: Mutex<Openings>,
    /// Its event stream and callback.
    dispatch: Dispatch<Event>,
}

/// Sessions connected through this API whose SESSION_OPENED /
/// SESSION_OPEN_FAILED has not been taken yet.
#[derive(Default)]
struct Openings {
    pending: HashSet<u64>,
    /// Initiator sessions whose result was taken before the connect call
    /// that made them recorded them (a race with a fast handshake).
    resolved_early: HashSet<u64>,
}

impl Openings {
    fn started(&mut self, session: u64) {
        if !self.resolved_early.remove(&session) {
            self.pending.insert(session);
        }
    }

    fn resolved(&mut self, session: u64) {
        if !self.pending.remove(&session) {
            self.resolved_early.insert(session);
        }
    }
}

impl Shared {
    /// The error for a failed call on `session`: "no such session" becomes
    /// RTMFP_ERR_WRONG_STATE for a session that is still opening.
    fn session_error(&self, session: u64, e: rt::RuntimeError) -> Error {
        let e = crate::util::runtime_error(e);
        if e.code() == RTMFP_ERR_INVALID_HANDLE
            && e.message().starts_with("no such session")
            && lock(&self.opening).pending.contains(&session)
        {
            return Error::new(
                RTMFP_ERR_WRONG_STATE,
                format!(
                    "session {session} is still opening; wait for RTMFP_EVENT_TYPE_SESSION_OPENED"
                ),
            );
        }
        e
    }
}

impl Source for Shared {
    type Queue = rt::Handle;

    fn queue(&self) -> (&rt::Handle, &Dispatch<Event>) {
        (&self.handle, &self.dispatch)
    }

    /// The C form of an event, noting the end of an opening.
    fn to_c(&self, e: Event) -> Option<Box<OwnedEvent>> {
        match &e {
            Event::SessionOpened {
                session,
                role: Role::Initiator,
                ..
            }
            | Event::SessionOpenFailed { session, .. } => lock(&self.opening).resolved(session.0),
            _ => {}
        }
        OwnedEvent::of(e)
    }

    fn what(&self) -> &'static str {
        "endpoint"
    }
}

/// What the endpoint table holds.
pub(crate) struct EndpointObj {
    pub(crate) shared: Arc<Shared>,
    runtime: Mutex<Option<Runtime>>,
}

impl EndpointObj {
    /// Shuts the runtime down (once); `Some(clean)` if this call did it.
    fn shutdown(&self, deadline: Duration) -> Option<bool> {
        let runtime = lock(&self.runtime).take()?;
        Some(runtime.shutdown(deadline).clean)
    }
}

static ENDPOINTS: Registry<EndpointObj> = Registry::new(ENDPOINT_TAG);

/// The endpoint behind `ep`.
pub(crate) fn endpoint(ep: *const rtmfp_endpoint) -> Result<Arc<EndpointObj>, Error> {
    ENDPOINTS.lookup(ep, "ep")
}

/// Runs `f` with the endpoint's shared state and the session, mapping a
/// runtime error with [`Shared::session_error`].
pub(crate) fn on_session<R>(
    ep: *const rtmfp_endpoint,
    session: u64,
    f: impl FnOnce(&rt::Handle, SessionHandle) -> Result<R, rt::RuntimeError>,
) -> Result<R, Error> {
    let obj = endpoint(ep)?;
    f(&obj.shared.handle, SessionHandle(session)).map_err(|e| obj.shared.session_error(session, e))
}

/// Start an endpoint: bind its UDP sockets, make its identity (a Flash
/// certificate per rtmfp_config_set_role(); Diffie-Hellman keys for a
/// client), and start its I/O thread. `cfg` is copied; it may be freed
/// afterwards. The endpoint is stored in `*out`.
///
/// Returns RTMFP_OK; RTMFP_ERR_NULL_POINTER; RTMFP_ERR_INVALID_HANDLE for
/// a freed config; RTMFP_ERR_IO if a socket cannot be bound (address in
/// use, not local, ...) or the thread cannot start; RTMFP_ERR_CRYPTO if
/// the identity cannot be made. `*out` is untouched on failure.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `out` must be NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_endpoint_new(
    cfg: *const rtmfp_config,
    out: *mut *mut rtmfp_endpoint,
) -> c_int {
    ffi_guard(|| {
        let data = config::snapshot(cfg)?;
        if out.is_null() {
            return Err(Error::null_pointer("out"));
        }
        let profile = data.identity(Object::Endpoint)?;
        let mut rc = data.runtime_config(Object::Endpoint, Arc::new(profile))?;
        rc.drop_deadline = FREE_DEADLINE;
        let bind = rc.bind.clone();
        let runtime = Runtime::start(rc).map_err(|e| {
            Error::new(
                RTMFP_ERR_IO,
                format!("starting the endpoint on {bind:?}: {e}"),
            )
        })?;
        let shared = Arc::new(Shared {
            handle: runtime.handle(),
            opening: Mutex::new(Openings::default()),
            dispatch: Dispatch::default(),
        });
        let h = ENDPOINTS.insert(EndpointObj {
            shared,
            runtime: Mutex::new(Some(runtime)),
        });
        // SAFETY: non-NULL (checked), writable by contract.
        unsafe { out.write(h.to_ptr()) };
        Ok(RTMFP_OK)
    })
}

/// Close and free an endpoint: close its sessions in order, waiting at most
/// 250 ms for the far ends (rtmfp_endpoint_close() first for a longer
/// wait), stop its I/O thread and callback dispatcher, and invalidate the
/// handle. Never hangs beyond that deadline plus a callback in progress.
/// Unread events are dropped; polled events already taken stay valid until
/// rtmfp_event_free().
///
/// Returns RTMFP_OK; RTMFP_OK for NULL (like free(NULL));
/// RTMFP_ERR_INVALID_HANDLE if `ep` was already freed (a double free is
/// detected, not undefined) or never issued.
///
/// Thread safety: safe from any thread. Calls on `ep` running on other
/// threads finish first (a blocked rtmfp_next_event() returns
/// RTMFP_ERR_CLOSED) and later ones fail with RTMFP_ERR_INVALID_HANDLE.
/// It may be called from the event callback of this same endpoint: then
/// the handle is invalid at once, no further callback is made, and the
/// dispatcher thread ends after the callback returns.
#[no_mangle]
pub extern "C" fn rtmfp_endpoint_free(ep: *mut rtmfp_endpoint) -> c_int {
    ffi_guard(|| {
        if ep.is_null() {
            return Ok(RTMFP_OK);
        }
        let obj = ENDPOINTS.take(ep, "ep")?;
        dispatch::stop_dispatcher(&obj.shared);
        obj.shutdown(FREE_DEADLINE);
        Ok(RTMFP_OK)
    })
}

/// Shut an endpoint down gracefully: close every session in order (RFC
/// 7016 §3.5.5), take no new ones, wait until the far ends acknowledge or
/// `deadline_ms` passes, then stop the I/O thread. The handle stays valid:
/// the last events (SESSION_CLOSED, ...) can still be read or are still
/// delivered to the callback; other calls fail with RTMFP_ERR_CLOSED. Free
/// it with rtmfp_endpoint_free().
///
/// Returns RTMFP_OK if every session closed in time; RTMFP_ERR_TIMEOUT if
/// the deadline passed first (the endpoint is stopped all the same);
/// RTMFP_ERR_CLOSED if it was already closed; RTMFP_ERR_NULL_POINTER;
/// RTMFP_ERR_INVALID_HANDLE.
///
/// Thread safety: safe from any thread, including the event callback.
/// Blocks the calling thread for up to `deadline_ms`.
#[no_mangle]
pub extern "C" fn rtmfp_endpoint_close(ep: *mut rtmfp_endpoint, deadline_ms: u32) -> c_int {
    ffi_guard(|| {
        let obj = endpoint(ep)?;
        close_within(deadline_ms, "endpoint", |d| obj.shutdown(d))
    })
}

/// How many local addresses the endpoint is bound to (one per bind
/// address in its config).
///
/// Returns the count (>= 1); RTMFP_ERR_NULL_POINTER or
/// RTMFP_ERR_INVALID_HANDLE.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn rtmfp_endpoint_local_addr_count(ep: *const rtmfp_endpoint) -> c_int {
    ffi_guard(|| {
        let obj = endpoint(ep)?;
        Ok(c_int::try_from(obj.shared.handle.local_addrs().len()).unwrap_or(c_int::MAX))
    })
}

/// Write local address number `index` (from 0) as an "ip:port" string with
/// the port the system picked, e.g. "127.0.0.1:40123", NUL-terminated, into
/// `buf` of `len` bytes (RTMFP_ADDR_STRLEN is always enough). Still works
/// after rtmfp_endpoint_close().
///
/// Returns the string's length without the NUL; RTMFP_ERR_BUFFER_TOO_SMALL
/// (the message says how much is needed; nothing is written);
/// RTMFP_ERR_INVALID_ARGUMENT if `index` is out of range;
/// RTMFP_ERR_NULL_POINTER; RTMFP_ERR_INVALID_HANDLE.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `buf` must be NULL or valid for writing `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_endpoint_local_addr(
    ep: *const rtmfp_endpoint,
    index: usize,
    buf: *mut c_char,
    len: usize,
) -> c_int {
    ffi_guard(|| {
        let addrs = endpoint(ep)?.shared.handle.local_addrs();
        // SAFETY: caller's contract.
        unsafe { write_local_addr(&addrs, index, "endpoint", buf, len) }
    })
}

/// The endpoint's peer ID (near_id, the SHA-256 fingerprint of its
/// certificate, RFC 7425 §4.3.2): copy its RTMFP_PEER_ID_LEN (32) bytes to
/// `out`. Others connect to this endpoint with it
/// (rtmfp_session_connect_peer()).
///
/// Returns RTMFP_OK; RTMFP_ERR_NULL_POINTER; RTMFP_ERR_INVALID_HANDLE;
/// RTMFP_ERR_UNSUPPORTED if the identity has no peer ID (never with the
/// Flash profile).
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `out` must be NULL or valid for writing 32 bytes.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_endpoint_peer_id(ep: *const rtmfp_endpoint, out: *mut u8) -> c_int {
    ffi_guard(|| {
        let id = peer_id(ep)?;
        // SAFETY: caller's contract.
        unsafe { write_peer_id(out, &id) }
    })
}

fn peer_id(ep: *const rtmfp_endpoint) -> Result<[u8; RTMFP_PEER_ID_LEN], Error> {
    endpoint(ep)?
        .shared
        .handle
        .peer_id()
        .ok_or_else(|| Error::new(RTMFP_ERR_UNSUPPORTED, "this identity has no peer ID"))
}

/// The endpoint's peer ID as 64 lower-case hex digits and a NUL, written
/// to `buf` of `len` bytes (at least RTMFP_PEER_ID_HEX_LEN, 65).
///
/// Returns 64 (the length without the NUL); RTMFP_ERR_BUFFER_TOO_SMALL;
/// RTMFP_ERR_NULL_POINTER; RTMFP_ERR_INVALID_HANDLE; RTMFP_ERR_UNSUPPORTED.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `buf` must be NULL or valid for writing `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_endpoint_peer_id_hex(
    ep: *const rtmfp_endpoint,
    buf: *mut c_char,
    len: usize,
) -> c_int {
    ffi_guard(|| {
        let id = peer_id(ep)?;
        // SAFETY: caller's contract.
        unsafe { write_cstr(buf, len, &hex(&id), "buf") }
    })
}

/// Parse a peer ID written as 64 hex digits (either case; surrounding
/// white space ignored) into its 32 bytes at `out`.
///
/// Returns RTMFP_OK; RTMFP_ERR_NULL_POINTER; RTMFP_ERR_INVALID_ARGUMENT if
/// `hex` is not 64 hex digits (then `out` is untouched).
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `hex` must be NULL or a NUL-terminated string; `out` must be NULL or
/// valid for writing 32 bytes.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_peer_id_from_hex(hex: *const c_char, out: *mut u8) -> c_int {
    ffi_guard(|| {
        // SAFETY: caller's contract.
        let id: [u8; RTMFP_PEER_ID_LEN] = unhex(unsafe { cstr(hex, "hex")? }, "hex")?;
        // SAFETY: caller's contract.
        unsafe { write_peer_id(out, &id) }
    })
}

/// Write a 32-byte peer ID (from an event's `peer_id`, or
/// rtmfp_endpoint_peer_id()) as 64 lower-case hex digits and a NUL into
/// `buf` of `len` bytes (at least RTMFP_PEER_ID_HEX_LEN, 65).
///
/// Returns 64; RTMFP_ERR_BUFFER_TOO_SMALL; RTMFP_ERR_NULL_POINTER.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `peer_id` must be NULL or valid for reading 32 bytes; `buf` NULL or
/// valid for writing `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_peer_id_to_hex(
    peer_id: *const u8,
    buf: *mut c_char,
    len: usize,
) -> c_int {
    ffi_guard(|| {
        // SAFETY: caller's contract.
        let id = unsafe { read_peer_id(peer_id, "peer_id")? };
        // SAFETY: caller's contract.
        unsafe { write_cstr(buf, len, &hex(&id), "buf") }
    })
}

/// Registers a new opening and stores its handle.
///
/// # Safety
/// `out` must be NULL or valid for writing a `u64`.
unsafe fn connect_with(
    ep: *const rtmfp_endpoint,
    out: *mut u64,
    f: impl FnOnce(&rt::Handle) -> Result<SessionHandle, rt::RuntimeError>,
) -> Result<c_int, Error> {
    let obj = endpoint(ep)?;
    if out.is_null() {
        return Err(Error::null_pointer("session_out"));
    }
    let session = f(&obj.shared.handle).map_err(crate::util::runtime_error)?;
    lock(&obj.shared.opening).started(session.0);
    // SAFETY: non-NULL, writable by contract.
    unsafe { write_out(out, session.0, "session_out")? };
    Ok(RTMFP_OK)
}

/// Start opening a session to the server named by an rtmfp:// URI,
/// "rtmfp://host[:port]/app" (port 1935 by default; IPv6 as [addr]). The
/// URI goes to the server as its Endpoint Discriminator (RFC 7425 §4.4.2.2)
/// and every address `host` resolves to is tried. The session handle is
/// stored in `*session_out` at once; the result arrives as a
/// SESSION_OPENED or SESSION_OPEN_FAILED event for it.
///
/// Returns RTMFP_OK; RTMFP_ERR_INVALID_ARGUMENT for a malformed URI or a
/// host that does not resolve; RTMFP_ERR_CLOSED after
/// rtmfp_endpoint_close(); RTMFP_ERR_NULL_POINTER; RTMFP_ERR_INVALID_HANDLE.
///
/// Thread safety: safe from any thread. Resolving the host name blocks the
/// calling thread (not the endpoint).
///
/// # Safety
/// `uri` must be NULL or a NUL-terminated string; `session_out` must be
/// NULL or valid for writing a `uint64_t`.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_session_connect_uri(
    ep: *mut rtmfp_endpoint,
    uri: *const c_char,
    session_out: *mut u64,
) -> c_int {
    ffi_guard(|| {
        // SAFETY: caller's contract.
        let uri = unsafe { cstr(uri, "uri")? }.to_owned();
        // SAFETY: caller's contract.
        unsafe { connect_with(ep, session_out, move |h| h.connect_uri(&uri)) }
    })
}

/// Parses `count` "ip:port" strings.
///
/// # Safety
/// `addresses` must be NULL or valid for reading `count` pointers, each
/// NULL or a NUL-terminated string.
unsafe fn candidates(
    addresses: *const *const c_char,
    count: usize,
) -> Result<Vec<std::net::SocketAddr>, Error> {
    if count == 0 || count > MAX_CANDIDATES {
        return Err(invalid(format!(
            "`count` is {count}; give 1 to {MAX_CANDIDATES} addresses"
        )));
    }
    // SAFETY: caller's contract.
    unsafe { cstr_list_map(addresses, count, "addresses", MAX_CANDIDATES, parse_addr) }
}

/// Start opening a session to the peer with the 32-byte `peer_id`
/// (RFC 7425 §4.4.4: its certificate's fingerprint), trying the `count`
/// (1 to 24) candidate addresses, each an "ip:port" string. This is how
/// peers connect directly; finding a peer's addresses by its ID through a
/// rendezvous server comes with the Flash layer. The session handle is
/// stored in `*session_out`; the result arrives as SESSION_OPENED or
/// SESSION_OPEN_FAILED.
///
/// Returns RTMFP_OK; RTMFP_ERR_INVALID_ARGUMENT for `count` 0 or over 24
/// or a malformed address; RTMFP_ERR_CLOSED after rtmfp_endpoint_close();
/// RTMFP_ERR_NULL_POINTER; RTMFP_ERR_INVALID_HANDLE.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `peer_id` must be NULL or valid for reading 32 bytes; `addresses` must
/// be NULL or valid for reading `count` pointers to NUL-terminated strings;
/// `session_out` must be NULL or valid for writing a `uint64_t`.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_session_connect_peer(
    ep: *mut rtmfp_endpoint,
    peer_id: *const u8,
    addresses: *const *const c_char,
    count: usize,
    session_out: *mut u64,
) -> c_int {
    ffi_guard(|| {
        // SAFETY: caller's contract.
        let id = unsafe { read_peer_id(peer_id, "peer_id")? };
        // SAFETY: caller's contract.
        let addrs = unsafe { candidates(addresses, count)? };
        let epd = epd_for_fingerprint(&id);
        // SAFETY: caller's contract.
        unsafe { connect_with(ep, session_out, move |h| h.connect(epd, &addrs)) }
    })
}

/// Start opening a session with a raw Endpoint Discriminator of `epd_len`
/// (1 to 1024) bytes (RFC 7425 §4.4.2: for example one requiring a
/// hostname) at `count` (1 to 24) "ip:port" candidate addresses. As
/// rtmfp_session_connect_peer() otherwise.
///
/// Returns RTMFP_OK; RTMFP_ERR_INVALID_ARGUMENT for an empty or too long
/// EPD, a bad `count` or address; RTMFP_ERR_CLOSED;
/// RTMFP_ERR_NULL_POINTER; RTMFP_ERR_INVALID_HANDLE.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `epd` must be NULL or valid for reading `epd_len` bytes; `addresses`
/// and `session_out` as for rtmfp_session_connect_peer().
#[no_mangle]
pub unsafe extern "C" fn rtmfp_session_connect_epd(
    ep: *mut rtmfp_endpoint,
    epd: *const u8,
    epd_len: usize,
    addresses: *const *const c_char,
    count: usize,
    session_out: *mut u64,
) -> c_int {
    ffi_guard(|| {
        if epd_len == 0 {
            return Err(invalid("`epd_len` is 0; an EPD has at least one byte"));
        }
        // SAFETY: caller's contract.
        let epd = unsafe { bytes(epd, epd_len, "epd", MAX_EPD_LEN)? }.to_vec();
        // SAFETY: caller's contract.
        let addrs = unsafe { candidates(addresses, count)? };
        // SAFETY: caller's contract.
        unsafe { connect_with(ep, session_out, move |h| h.connect(epd, &addrs)) }
    })
}

/// Close a session: in order (Close Request, RFC 7016 §3.5.5; a
/// SESSION_CLOSED event follows), or at once if `abrupt`. A session still
/// opening is abandoned (SESSION_OPEN_FAILED, RTMFP_OPEN_FAILURE_CANCELLED).
///
/// Returns RTMFP_OK; RTMFP_ERR_INVALID_HANDLE if there is no such session
/// (already closed, or never issued); RTMFP_ERR_CLOSED after
/// rtmfp_endpoint_close(); RTMFP_ERR_NULL_POINTER.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn rtmfp_session_close(
    ep: *mut rtmfp_endpoint,
    session: u64,
    abrupt: bool,
) -> c_int {
    ffi_guard(|| {
        on_session(ep, session, |h, s| h.close_session(s, abrupt))?;
        Ok(RTMFP_OK)
    })
}

/// A snapshot of an open session, filled in by rtmfp_session_stats().
/// Times are in milliseconds (fractions kept); sizes in bytes.
#[repr(C)]
pub struct rtmfp_session_info {
    /// Whether the session is open (false while it is closing).
    pub open: bool,
    /// Whether this end started it.
    pub initiator: bool,
    /// Whether `far_peer_id` is set.
    pub has_far_peer_id: bool,
    /// The far end's peer ID.
    pub far_peer_id: [u8; RTMFP_PEER_ID_LEN],
    /// The far end's current address, "ip:port".
    pub far_address: [c_char; RTMFP_ADDR_STRLEN],
    /// Smoothed round-trip time; -1 until measured.
    pub srtt_ms: f64,
    /// Round-trip time variation.
    pub rttvar_ms: f64,
    /// Effective retransmission timeout (ERTO).
    pub erto_ms: f64,
    /// Congestion window.
    pub cwnd: u64,
    /// Slow start threshold; UINT64_MAX until the first loss.
    pub ssthresh: u64,
    /// Bytes sent and not yet acknowledged, over all sending flows.
    pub bytes_in_flight: u64,
    /// Packets received and verified.
    pub packets_in: u64,
    /// Packets sent.
    pub packets_out: u64,
    /// Datagram bytes received.
    pub bytes_in: u64,
    /// Datagram bytes sent.
    pub bytes_out: u64,
    /// Loss events seen by congestion control.
    pub loss_events: u64,
    /// Retransmission timeouts with data in flight.
    pub timeouts: u64,
    /// Fragments retransmitted.
    pub retransmissions: u64,
    /// User data bytes sent (with retransmissions).
    pub data_bytes_sent: u64,
    /// User data bytes delivered to this application.
    pub data_bytes_delivered: u64,
    /// Keepalive pings sent.
    pub keepalives_sent: u64,
    /// Far address changes accepted (mobility).
    pub address_changes: u64,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Fill `*out` with a snapshot of an open (or closing) session: RTT,
/// congestion state, counters, far address and peer ID.
///
/// Returns RTMFP_OK; RTMFP_ERR_WRONG_STATE if the session is still
/// opening; RTMFP_ERR_INVALID_HANDLE if there is no such session (closed,
/// failed, never issued); RTMFP_ERR_CLOSED after rtmfp_endpoint_close();
/// RTMFP_ERR_NULL_POINTER. `*out` is untouched on failure.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `out` must be NULL or valid for writing an rtmfp_session_info.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_session_stats(
    ep: *mut rtmfp_endpoint,
    session: u64,
    out: *mut rtmfp_session_info,
) -> c_int {
    ffi_guard(|| {
        if out.is_null() {
            return Err(Error::null_pointer("out"));
        }
        let info = on_session(ep, session, |h, s| {
            h.session_info(s)?.ok_or(rt::RuntimeError::Endpoint(
                rtmfp_core::endpoint::EndpointError::UnknownSession,
            ))
        })?;
        let st = &info.stats;
        let mut c = rtmfp_session_info {
            open: info.open,
            initiator: info.role == Role::Initiator,
            has_far_peer_id: info.far_peer_id.is_some(),
            far_peer_id: info.far_peer_id.unwrap_or([0; RTMFP_PEER_ID_LEN]),
            far_address: [0; RTMFP_ADDR_STRLEN],
            srtt_ms: st.srtt.map_or(-1.0, ms),
            rttvar_ms: ms(st.rttvar),
            erto_ms: ms(st.erto),
            cwnd: st.flows.cwnd as u64,
            ssthresh: if st.flows.ssthresh == usize::MAX {
                u64::MAX
            } else {
                st.flows.ssthresh as u64
            },
            bytes_in_flight: st.flows.bytes_in_flight as u64,
            packets_in: st.packets_in,
            packets_out: st.packets_out,
            bytes_in: st.bytes_in,
            bytes_out: st.bytes_out,
            loss_events: st.flows.loss_events,
            timeouts: st.flows.timeouts,
            retransmissions: st.flows.retransmissions,
            data_bytes_sent: st.flows.data_bytes_sent,
            data_bytes_delivered: st.flows.data_bytes_delivered,
            keepalives_sent: st.keepalives_sent,
            address_changes: st.address_changes,
        };
        fill_array(&mut c.far_address, &info.far_address.to_string());
        // SAFETY: non-NULL, writable by contract.
        unsafe { out.write(c) };
        Ok(RTMFP_OK)
    })
}

/// Take the next event. Waits up to `timeout_ms` milliseconds for one: 0
/// does not wait; a negative value waits until an event comes or the
/// endpoint stops. On success `*out` is an event that belongs to the
/// caller until rtmfp_event_free() (it stays valid after later calls and
/// after the endpoint is freed).
///
/// Returns RTMFP_OK with `*out` set; RTMFP_ERR_AGAIN if no event came in
/// time (`*out` = NULL: this is the timeout result, not a failure);
/// RTMFP_ERR_CLOSED once the endpoint has stopped (closed, or freed by
/// another thread) and every event was taken (`*out` = NULL);
/// RTMFP_ERR_WRONG_STATE while an event callback is registered (events go
/// to it); RTMFP_ERR_NULL_POINTER; RTMFP_ERR_INVALID_HANDLE.
///
/// Thread safety: safe from any thread; with several threads taking
/// events, each event goes to exactly one of them (order across threads is
/// then up to the caller).
///
/// # Safety
/// `out` must be NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_next_event(
    ep: *mut rtmfp_endpoint,
    timeout_ms: c_int,
    out: *mut *mut rtmfp_event,
) -> c_int {
    ffi_guard(|| {
        // SAFETY: caller's contract.
        unsafe { dispatch::next_event(out, timeout_ms, || Ok(Arc::clone(&endpoint(ep)?.shared))) }
    })
}

/// A file descriptor for an outside event loop (poll(2), epoll, libuv,
/// asyncio): it is readable while at least one event waits, and it is
/// reset when rtmfp_next_event() takes the last one, so after it wakes
/// take events with timeout 0 until RTMFP_ERR_AGAIN. Once the endpoint has
/// stopped it stays readable (rtmfp_next_event() then reports
/// RTMFP_ERR_CLOSED after the last event). Never read, write or close it.
/// It stays open until rtmfp_endpoint_free().
///
/// Returns the fd (>= 0); RTMFP_ERR_NULL_POINTER; RTMFP_ERR_INVALID_HANDLE.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn rtmfp_event_fd(ep: *const rtmfp_endpoint) -> c_int {
    ffi_guard(|| Ok(endpoint(ep)?.shared.handle.event_fd()))
}

/// Deliver events to `callback` instead of rtmfp_next_event(): it is
/// called as callback(event, user) on an internal thread ("rtmfp-events"),
/// one event at a time, in order. `event` is valid only during the call
/// (copy what you need; do not pass it to rtmfp_event_free(), which
/// refuses it). A NULL `callback` removes the callback; events then wait
/// for rtmfp_next_event() again. Registering replaces any earlier callback.
///
/// From another thread, this call waits for a callback in progress, so
/// that after removing (or replacing) it the old callback is not running
/// and is never called again: `user` may then be freed. No event is lost
/// or delivered twice across changes.
///
/// The callback may call any rtmfp function, including on this endpoint:
/// sending, accepting flows, closing sessions, rtmfp_endpoint_close(),
/// changing or removing the callback (effective from the next event), and
/// rtmfp_endpoint_free() (no further callback is made). It should return
/// promptly: events wait meanwhile. It must not unwind (C++ exception,
/// longjmp) out of the call. Changing or freeing *another* endpoint from a
/// callback waits for that endpoint's callback in progress, so two
/// callbacks that do this to each other's endpoints can deadlock.
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
/// endpoint is freed.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_set_event_callback(
    ep: *mut rtmfp_endpoint,
    callback: rtmfp_event_callback,
    user: *mut c_void,
) -> c_int {
    ffi_guard(|| dispatch::register(&endpoint(ep)?.shared, callback, user))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{rtmfp_config_free, rtmfp_config_new, rtmfp_config_set_bind_address};
    use crate::error::{
        RTMFP_ERR_AGAIN, RTMFP_ERR_CLOSED, RTMFP_ERR_INVALID_ARGUMENT, RTMFP_ERR_NULL_POINTER,
    };
    use crate::event::{rtmfp_event_free, rtmfp_event_type};
    use std::ptr::{null, null_mut};
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn new_endpoint(role: c_int) -> *mut rtmfp_endpoint {
        let mut cfg = null_mut();
        let mut ep = null_mut();
        // SAFETY: valid out pointers and strings.
        unsafe {
            assert_eq!(rtmfp_config_new(&mut cfg), 0);
            assert_eq!(
                rtmfp_config_set_bind_address(cfg, c"127.0.0.1:0".as_ptr()),
                0
            );
            assert_eq!(crate::config::rtmfp_config_set_role(cfg, role), 0);
            assert_eq!(rtmfp_endpoint_new(cfg, &mut ep), 0);
        }
        assert_eq!(rtmfp_config_free(cfg), 0);
        assert!(!ep.is_null());
        ep
    }

    fn local_addr(ep: *mut rtmfp_endpoint) -> std::ffi::CString {
        let mut buf = [0 as c_char; RTMFP_ADDR_STRLEN];
        // SAFETY: buffer of its length.
        let n = unsafe { rtmfp_endpoint_local_addr(ep, 0, buf.as_mut_ptr(), buf.len()) };
        assert!(n > 0);
        // SAFETY: NUL-terminated by the call.
        unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }.to_owned()
    }

    /// Waits for an event of type `t`, freeing the others.
    fn wait_for(ep: *mut rtmfp_endpoint, t: rtmfp_event_type) -> (u64, u64) {
        for _ in 0..200 {
            let mut ev = null_mut();
            // SAFETY: valid out pointer.
            let rc = unsafe { rtmfp_next_event(ep, 100, &mut ev) };
            if rc == RTMFP_ERR_AGAIN {
                continue;
            }
            assert_eq!(rc, 0);
            // SAFETY: live event.
            let e = unsafe { &*ev };
            let found = (e.r#type == t).then_some((e.session, e.flow));
            assert_eq!(rtmfp_event_free(ev), 0);
            if let Some(found) = found {
                return found;
            }
        }
        panic!("no {t:?}");
    }

    #[test]
    fn null_and_stale_endpoint_handles() {
        let ep = new_endpoint(0);
        assert_eq!(rtmfp_endpoint_local_addr_count(ep), 1);
        assert!(rtmfp_event_fd(ep) >= 0);
        assert_eq!(rtmfp_endpoint_free(ep), 0);
        assert_eq!(rtmfp_endpoint_free(ep), RTMFP_ERR_INVALID_HANDLE);
        assert_eq!(
            rtmfp_endpoint_local_addr_count(ep),
            RTMFP_ERR_INVALID_HANDLE
        );
        assert_eq!(rtmfp_event_fd(null()), RTMFP_ERR_NULL_POINTER);
        assert_eq!(rtmfp_session_close(ep, 1, false), RTMFP_ERR_INVALID_HANDLE);
        let mut ev = null_mut();
        // SAFETY: valid out pointer.
        assert_eq!(
            unsafe { rtmfp_next_event(ep, 0, &mut ev) },
            RTMFP_ERR_INVALID_HANDLE
        );
        assert!(ev.is_null());
        assert_eq!(rtmfp_endpoint_free(null_mut()), RTMFP_OK);
        // A config handle is not an endpoint handle.
        let mut cfg = null_mut();
        // SAFETY: valid out pointer.
        assert_eq!(unsafe { rtmfp_config_new(&mut cfg) }, 0);
        assert_eq!(
            rtmfp_endpoint_free(cfg.cast::<rtmfp_endpoint>()),
            RTMFP_ERR_INVALID_HANDLE
        );
        assert_eq!(rtmfp_config_free(cfg), 0);
    }

    #[test]
    fn sessions_and_events_over_loopback() {
        let server = new_endpoint(1);
        let client = new_endpoint(0);
        let mut id = [0u8; 32];
        // SAFETY: 32 writable bytes.
        assert_eq!(
            unsafe { rtmfp_endpoint_peer_id(server, id.as_mut_ptr()) },
            0
        );
        let addr = local_addr(server);
        let addrs = [addr.as_ptr()];
        let mut session = 0;
        // SAFETY: valid pointers.
        let rc = unsafe {
            rtmfp_session_connect_peer(client, id.as_ptr(), addrs.as_ptr(), 1, &mut session)
        };
        assert_eq!(rc, 0);
        // Still opening: wrong state, not "no such session".
        let mut info = std::mem::MaybeUninit::<rtmfp_session_info>::uninit();
        // SAFETY: writable out pointer.
        let rc = unsafe { rtmfp_session_stats(client, session, info.as_mut_ptr()) };
        assert!(rc == RTMFP_ERR_WRONG_STATE || rc == 0, "{rc}");
        let (s, _) = wait_for(client, rtmfp_event_type::SessionOpened);
        assert_eq!(s, session);
        wait_for(server, rtmfp_event_type::SessionOpened);
        // SAFETY: writable out pointer.
        assert_eq!(
            unsafe { rtmfp_session_stats(client, session, info.as_mut_ptr()) },
            0
        );
        // SAFETY: filled in by the successful call.
        let info = unsafe { info.assume_init() };
        assert!(info.open && info.initiator && info.has_far_peer_id);
        assert_eq!(info.far_peer_id, id);
        assert_eq!(rtmfp_session_close(client, session, false), 0);
        wait_for(client, rtmfp_event_type::SessionClosed);
        assert_eq!(
            rtmfp_session_close(client, session, false),
            RTMFP_ERR_INVALID_HANDLE
        );
        assert_eq!(rtmfp_endpoint_close(client, 1000), 0);
        assert_eq!(rtmfp_endpoint_close(client, 1000), RTMFP_ERR_CLOSED);
        let mut ev = null_mut();
        // SAFETY: valid out pointer.
        assert_eq!(
            unsafe { rtmfp_next_event(client, -1, &mut ev) },
            RTMFP_ERR_CLOSED
        );
        assert_eq!(rtmfp_endpoint_free(client), 0);
        assert_eq!(rtmfp_endpoint_free(server), 0);
    }

    #[test]
    fn the_last_events_are_read_after_close_then_closed() {
        let client = new_endpoint(0);
        let uri = std::ffi::CString::new("rtmfp://127.0.0.1:9/nobody").unwrap();
        let mut session = 0;
        // SAFETY: valid pointers.
        let rc = unsafe { rtmfp_session_connect_uri(client, uri.as_ptr(), &mut session) };
        assert_eq!(rc, 0);
        // Closed without reading: the opening's end (refused, or cancelled
        // by the close) is still read, without waiting, and then the
        // stream is closed.
        assert_eq!(rtmfp_endpoint_close(client, 1000), 0);
        let mut seen = Vec::new();
        let rc = loop {
            let mut ev = null_mut();
            // SAFETY: valid out pointer.
            let rc = unsafe { rtmfp_next_event(client, 0, &mut ev) };
            if rc != 0 {
                break rc;
            }
            // SAFETY: live event.
            seen.push(unsafe { (*ev).r#type });
            assert_eq!(rtmfp_event_free(ev), 0);
        };
        assert_eq!(rc, RTMFP_ERR_CLOSED, "{seen:?}");
        assert_eq!(seen, [rtmfp_event_type::SessionOpenFailed]);
        assert_eq!(rtmfp_endpoint_free(client), 0);
    }

    static CALLS: AtomicUsize = AtomicUsize::new(0);

    unsafe extern "C" fn free_from_callback(ev: *const rtmfp_event, user: *mut c_void) {
        CALLS.fetch_add(1, Ordering::SeqCst);
        // SAFETY: valid during the callback.
        let _ = unsafe { (*ev).session };
        // The endpoint frees itself from its own callback: no deadlock.
        assert_eq!(rtmfp_endpoint_free(user.cast()), 0);
        assert_eq!(rtmfp_endpoint_free(user.cast()), RTMFP_ERR_INVALID_HANDLE);
        // The callback's event is not the caller's to free.
        assert_eq!(rtmfp_event_free(ev.cast_mut()), RTMFP_ERR_INVALID_HANDLE);
    }

    #[test]
    fn callback_may_free_its_endpoint() {
        let server = new_endpoint(1);
        let client = new_endpoint(0);
        // SAFETY: the function matches; `user` is the endpoint token.
        let rc =
            unsafe { rtmfp_set_event_callback(client, Some(free_from_callback), client.cast()) };
        assert_eq!(rc, 0);
        let mut ev = null_mut();
        // SAFETY: valid out pointer.
        assert_eq!(
            unsafe { rtmfp_next_event(client, 0, &mut ev) },
            RTMFP_ERR_WRONG_STATE
        );
        let addr = local_addr(server);
        let uri =
            std::ffi::CString::new(format!("rtmfp://{}/app", addr.to_str().unwrap())).unwrap();
        let mut session = 0;
        // SAFETY: valid strings and out pointer.
        assert_eq!(
            unsafe { rtmfp_session_connect_uri(client, uri.as_ptr(), &mut session) },
            0
        );
        for _ in 0..200 {
            if CALLS.load(Ordering::SeqCst) > 0 && rtmfp_endpoint_local_addr_count(client) < 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(CALLS.load(Ordering::SeqCst), 1);
        assert_eq!(
            rtmfp_endpoint_local_addr_count(client),
            RTMFP_ERR_INVALID_HANDLE
        );
        assert_eq!(rtmfp_endpoint_free(server), 0);
    }

    #[test]
    fn bad_connect_arguments() {
        let ep = new_endpoint(0);
        let mut session = 0;
        let id = [0u8; 32];
        let good = c"127.0.0.1:1".as_ptr();
        let bad = c"nowhere".as_ptr();
        // SAFETY: valid or NULL pointers as documented.
        unsafe {
            assert_eq!(
                rtmfp_session_connect_peer(ep, id.as_ptr(), [good].as_ptr(), 0, &mut session),
                RTMFP_ERR_INVALID_ARGUMENT
            );
            assert_eq!(
                rtmfp_session_connect_peer(ep, id.as_ptr(), [bad].as_ptr(), 1, &mut session),
                RTMFP_ERR_INVALID_ARGUMENT
            );
            assert_eq!(
                rtmfp_session_connect_peer(ep, id.as_ptr(), [null()].as_ptr(), 1, &mut session),
                RTMFP_ERR_NULL_POINTER
            );
            assert_eq!(
                rtmfp_session_connect_peer(ep, null(), [good].as_ptr(), 1, &mut session),
                RTMFP_ERR_NULL_POINTER
            );
            assert_eq!(
                rtmfp_session_connect_uri(ep, c"http://x/".as_ptr(), &mut session),
                RTMFP_ERR_INVALID_ARGUMENT
            );
            assert_eq!(
                rtmfp_session_connect_epd(ep, id.as_ptr(), 0, [good].as_ptr(), 1, &mut session),
                RTMFP_ERR_INVALID_ARGUMENT
            );
            let mut out = [0u8; 32];
            assert_eq!(
                rtmfp_peer_id_from_hex(c"zz".as_ptr(), out.as_mut_ptr()),
                RTMFP_ERR_INVALID_ARGUMENT
            );
        }
        assert_eq!(rtmfp_endpoint_free(ep), 0);
    }
}
