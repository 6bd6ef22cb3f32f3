//! `rtmfp_config`: what an endpoint binds and how it identifies itself.

use std::ffi::{c_char, c_int};
use std::sync::{Arc, Mutex, PoisonError};

use rtmfp_core::crypto::flash::dh::SUPPORTED_GROUPS;
use rtmfp_core::host::options::{Object, OptionValue, Options};

use crate::error::{Error, RTMFP_OK};
use crate::guard::ffi_guard;
use crate::handles::Registry;
use crate::util::{cstr, invalid, write_out};

/// Handle-table tag of configs (see `handles.rs`; each kind has its own).
const CONFIG_TAG: u8 = 1;

/// Opaque endpoint configuration, made by rtmfp_config_new() and freed by
/// rtmfp_config_free(). rtmfp_endpoint_new() copies it, so one config can
/// make many endpoints and may be freed as soon as they are made.
pub struct rtmfp_config {
    _private: [u8; 0],
}

/// Which identity an endpoint has (RFC 7425 §5.3, §7). Pass to
/// rtmfp_config_set_role().
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum rtmfp_role {
    /// A client or peer (the default): static Diffie-Hellman keys; its
    /// certificate does not accept Ancillary Data, so it is reached by
    /// peer ID (rtmfp_session_connect_peer()).
    Client = 0,
    /// A server: ephemeral Diffie-Hellman keys; its certificate accepts
    /// Ancillary Data, so clients reach it by rtmfp:// URI
    /// (rtmfp_session_connect_uri()) as well as by peer ID.
    Server = 1,
}

/// Negotiation policy for packet HMACs and session sequence numbers
/// (RFC 7425 §4.6.4, §4.6.6). Pass to rtmfp_config_set_hmac_policy() /
/// rtmfp_config_set_sseq_policy().
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum rtmfp_policy {
    /// Never send, never ask.
    Off = 0,
    /// Send when the far end asks, and ask for it (the default): works
    /// with peers that lack the feature and uses it with peers that have it.
    Opportunistic = 1,
    /// Always send, and refuse a far end that will not send it.
    Required = 2,
}

/// How a NetConnection decides on subscribers to its DIRECT_CONNECTIONS
/// streams (Flash's `onPeerConnect`). Pass to
/// rtmfp_config_set_peer_connect_mode().
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum rtmfp_peer_connect_mode {
    /// Accept every subscriber up to max_peer_connections (the default,
    /// like Flash's default `onPeerConnect` returning true).
    AcceptAll = 0,
    /// Report each subscriber as an RTMFP_EVENT_TYPE_PEER_CONNECT event and
    /// wait for rtmfp_netconnection_accept_peer() or
    /// rtmfp_netconnection_reject_peer().
    Ask = 1,
}

/// Most `max_peer_connections` rtmfp_config_set_max_peer_connections() takes.
pub const RTMFP_MAX_PEER_CONNECTIONS_LIMIT: usize = 65535;

/// Sets option `name` (core's canonical name) to `value`.
fn set(c: &mut Options, name: &str, value: OptionValue) -> Result<(), Error> {
    Ok(c.set(name, value)?)
}

/// A C enum's value as an option's word index (core checks its range).
fn word(value: c_int) -> OptionValue {
    OptionValue::Int(value.into())
}

/// Milliseconds as an option value.
fn millis(ms: u32) -> OptionValue {
    OptionValue::Millis(f64::from(ms))
}

/// A count as an option value.
fn count(n: usize) -> OptionValue {
    OptionValue::Int(n as i128)
}

/// What each config holds: core's options (`rtmfp_core::host::options`),
/// which check every value and build the objects' configs.
static CONFIGS: Registry<Mutex<Options>> = Registry::new(CONFIG_TAG);

/// The config behind `cfg`.
fn config(cfg: *const rtmfp_config) -> Result<Arc<Mutex<Options>>, Error> {
    CONFIGS.lookup(cfg, "cfg")
}

/// A copy of the config behind `cfg`.
pub(crate) fn snapshot(cfg: *const rtmfp_config) -> Result<Options, Error> {
    let data = config(cfg)?
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    Ok(data)
}

/// Runs `f` on the config behind `cfg`.
fn with_config(cfg: *mut rtmfp_config, f: impl FnOnce(&mut Options) -> Result<(), Error>) -> c_int {
    ffi_guard(|| {
        let c = config(cfg)?;
        f(&mut c.lock().unwrap_or_else(PoisonError::into_inner))?;
        Ok(RTMFP_OK)
    })
}

/// Sets the one option `name` of the config behind `cfg` to `value`: the
/// body of the typed setters.
fn set_one(cfg: *mut rtmfp_config, name: &str, value: OptionValue) -> c_int {
    with_config(cfg, |c| set(c, name, value))
}

/// A string option that NULL unsets: `p` as text, or none for NULL.
///
/// # Safety
/// `p` must be NULL or a NUL-terminated string.
unsafe fn optional_text(p: *const c_char, name: &str) -> Result<OptionValue, Error> {
    if p.is_null() {
        return Ok(OptionValue::None);
    }
    // SAFETY: non-NULL, NUL-terminated by the caller's contract.
    Ok(OptionValue::Text(unsafe { cstr(p, name)? }.to_owned()))
}

/// Make a configuration with the defaults: role RTMFP_ROLE_CLIENT, bind
/// "0.0.0.0:0", DH groups {14, 16, 5, 2}, opportunistic HMAC and session
/// sequence numbers, keepalive 10 s, idle timeout 60 s, open timeout 95 s,
/// largest datagram 1200 bytes, flow send buffer 4 MiB and receive buffer
/// 1 MiB. Store it in `*out`.
///
/// Returns RTMFP_OK, or RTMFP_ERR_NULL_POINTER if `out` is NULL.
///
/// Thread safety: safe from any thread. A config may be used from several
/// threads at once; calls on it are serialized.
///
/// # Safety
/// `out` must be NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_config_new(out: *mut *mut rtmfp_config) -> c_int {
    ffi_guard(|| {
        if out.is_null() {
            return Err(Error::null_pointer("out"));
        }
        let h = CONFIGS.insert(Mutex::new(Options::new()));
        // SAFETY: non-NULL, writable by contract.
        unsafe { write_out(out, h.to_ptr(), "out")? };
        Ok(RTMFP_OK)
    })
}

/// Free a configuration. Endpoints made from it are not affected.
///
/// Returns RTMFP_OK; RTMFP_OK for NULL (nothing to do, like free(NULL));
/// RTMFP_ERR_INVALID_HANDLE if `cfg` was already freed (a double free is
/// detected, not undefined) or is not a config.
///
/// Thread safety: safe from any thread; calls on `cfg` running on other
/// threads finish first or fail with RTMFP_ERR_INVALID_HANDLE.
#[no_mangle]
pub extern "C" fn rtmfp_config_free(cfg: *mut rtmfp_config) -> c_int {
    ffi_guard(|| {
        if cfg.is_null() {
            return Ok(RTMFP_OK);
        }
        CONFIGS.take(cfg, "cfg")?;
        Ok(RTMFP_OK)
    })
}

/// Bind one UDP socket to `addr`, an "ip:port" string such as
/// "0.0.0.0:1935", "127.0.0.1:0" (port 0: the system picks one) or
/// "[::1]:1935", replacing any bind addresses set before.
///
/// Returns RTMFP_OK; RTMFP_ERR_NULL_POINTER, RTMFP_ERR_INVALID_HANDLE, or
/// RTMFP_ERR_INVALID_ARGUMENT if `addr` is not an IP address with a port.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `addr` must be NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_config_set_bind_address(
    cfg: *mut rtmfp_config,
    addr: *const c_char,
) -> c_int {
    with_config(cfg, |c| {
        // SAFETY: caller's contract.
        let addr = unsafe { cstr(addr, "addr")? };
        set(c, "bind", OptionValue::Text(addr.to_owned()))
    })
}

/// Add one more bind address (an "ip:port" string as for
/// rtmfp_config_set_bind_address()); the endpoint gets one UDP socket per
/// address, for example one IPv4 and one IPv6. At most 16.
///
/// Returns RTMFP_OK; RTMFP_ERR_NULL_POINTER, RTMFP_ERR_INVALID_HANDLE, or
/// RTMFP_ERR_INVALID_ARGUMENT for a malformed address or too many.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `addr` must be NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_config_add_bind_address(
    cfg: *mut rtmfp_config,
    addr: *const c_char,
) -> c_int {
    with_config(cfg, |c| {
        // SAFETY: caller's contract.
        let addr = unsafe { cstr(addr, "addr")? };
        let mut list = Vec::new();
        if c.is_set("bind") {
            let bound = c.bind(Object::Endpoint);
            list.extend(bound.iter().map(|a| OptionValue::Text(a.to_string())));
        }
        list.push(OptionValue::Text(addr.to_owned()));
        set(c, "bind", OptionValue::List(list))
    })
}

/// Choose the identity: RTMFP_ROLE_CLIENT (default) or RTMFP_ROLE_SERVER
/// (an rtmfp_role value). Group and policy settings made with the other
/// setters apply on top of the role, whatever the order of the calls.
///
/// Returns RTMFP_OK; RTMFP_ERR_NULL_POINTER, RTMFP_ERR_INVALID_HANDLE, or
/// RTMFP_ERR_INVALID_ARGUMENT for a value that is not an rtmfp_role.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn rtmfp_config_set_role(cfg: *mut rtmfp_config, role: c_int) -> c_int {
    with_config(cfg, |c| {
        let server = match role {
            0 => false,
            1 => true,
            _ => {
                return Err(invalid(format!(
                    "role {role} is not an RTMFP_ROLE_* value (0..=1)"
                )))
            }
        };
        set(c, "server", OptionValue::Bool(server))
    })
}

/// Set the Diffie-Hellman groups (RFC 7425 §4.3.3, RFC 3526) in preference
/// order: `count` (1 to 4) distinct values from {2, 5, 14, 16}. Default
/// {14, 16, 5, 2}; zenomt/rtmfp-cpp prefers 16.
///
/// Returns RTMFP_OK; RTMFP_ERR_NULL_POINTER, RTMFP_ERR_INVALID_HANDLE, or
/// RTMFP_ERR_INVALID_ARGUMENT for `count` 0 or over 4, an unsupported
/// group, or a repeated one.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `groups` must be NULL or valid for reading `count` values.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_config_set_dh_groups(
    cfg: *mut rtmfp_config,
    groups: *const u32,
    count: usize,
) -> c_int {
    with_config(cfg, |c| {
        // Checked here, before `groups` is read: it bounds the read.
        if count == 0 || count > SUPPORTED_GROUPS.len() {
            return Err(invalid(format!(
                "`count` is {count}; give 1 to {} groups",
                SUPPORTED_GROUPS.len()
            )));
        }
        if groups.is_null() {
            return Err(Error::null_pointer("groups"));
        }
        // SAFETY: non-NULL, `count` <= 4 values readable by contract.
        let list = unsafe { std::slice::from_raw_parts(groups, count) };
        let list = list.iter().map(|&g| OptionValue::Int(g.into())).collect();
        set(c, "dh_groups", OptionValue::List(list))
    })
}

/// Append each session's packet keys to the file `path` (created with
/// mode 0600 if missing), one line per session in the format of
/// SSLKEYLOGFILE's spirit that `rtmfp decrypt --key-log FILE CAPTURE.pcap`
/// reads (see docs/key-log.md); NULL goes back to the default, the file
/// named by the RTMFP_KEYLOGFILE environment variable, if set. Used by
/// every object made from `cfg`. Anyone with the file can read those
/// sessions: for debugging only.
///
/// Returns RTMFP_OK; RTMFP_ERR_IO if the file cannot be opened for
/// appending; RTMFP_ERR_NULL_POINTER, RTMFP_ERR_INVALID_HANDLE, or
/// RTMFP_ERR_INVALID_ARGUMENT for a path that is not UTF-8.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `path` must be NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_config_set_key_log_file(
    cfg: *mut rtmfp_config,
    path: *const c_char,
) -> c_int {
    with_config(cfg, |c| {
        // SAFETY: caller's contract.
        let path = unsafe { optional_text(path, "path")? };
        set(c, "key_log", path)
    })
}

/// Send and receive every datagram of the objects made from `cfg`
/// through a TURN relay (RFC 8656), as Flash Player did with
/// RTMFPTURNProxy: peers and servers then see the relayed address, and a
/// host whose firewall lets UDP reach only the TURN server can still
/// connect. `uri` is "turn:HOST[:PORT]" (port 3478 by default) or
/// "turn://USER:PASS@HOST[:PORT]"; `username` and `password`, when not
/// NULL, override the URI's. NULL `uri` turns the relay off.
///
/// The host name is resolved, and the relay allocated, when an object
/// starts: rtmfp_endpoint_new, rtmfp_netconnection_connect or
/// rtmfp_server_new then fail with RTMFP_ERR_IO and a message that says
/// why (401 for wrong credentials, no answer, or a closed port).
///
/// Returns RTMFP_OK; RTMFP_ERR_NULL_POINTER, RTMFP_ERR_INVALID_HANDLE, or
/// RTMFP_ERR_INVALID_ARGUMENT for a URI that does not parse or strings
/// that are not UTF-8.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `uri`, `username` and `password` must each be NULL or a NUL-terminated
/// string.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_config_set_turn_proxy(
    cfg: *mut rtmfp_config,
    uri: *const c_char,
    username: *const c_char,
    password: *const c_char,
) -> c_int {
    with_config(cfg, |c| {
        // All three or nothing: a refused proxy leaves the config as it was.
        let mut next = c.clone();
        // SAFETY: caller's contract.
        set(&mut next, "turn", unsafe { optional_text(uri, "uri")? })?;
        for (name, p) in [("turn_username", username), ("turn_password", password)] {
            // SAFETY: caller's contract.
            match unsafe { optional_text(p, name)? } {
                OptionValue::None => next.unset(name),
                value => set(&mut next, name, value)?,
            }
        }
        next.check_turn()?;
        *c = next;
        Ok(())
    })
}

/// Set the packet HMAC policy (an rtmfp_policy value; default
/// RTMFP_POLICY_OPPORTUNISTIC). zenomt/rtmfp-cpp's Flash programs require
/// HMAC by default.
///
/// Returns RTMFP_OK; RTMFP_ERR_NULL_POINTER, RTMFP_ERR_INVALID_HANDLE, or
/// RTMFP_ERR_INVALID_ARGUMENT for a value that is not an rtmfp_policy.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn rtmfp_config_set_hmac_policy(cfg: *mut rtmfp_config, policy: c_int) -> c_int {
    set_one(cfg, "hmac_policy", word(policy))
}

/// Set the session sequence number policy (an rtmfp_policy value; default
/// RTMFP_POLICY_OPPORTUNISTIC).
///
/// Returns RTMFP_OK; RTMFP_ERR_NULL_POINTER, RTMFP_ERR_INVALID_HANDLE, or
/// RTMFP_ERR_INVALID_ARGUMENT for a value that is not an rtmfp_policy.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn rtmfp_config_set_sseq_policy(cfg: *mut rtmfp_config, policy: c_int) -> c_int {
    set_one(cfg, "sseq_policy", word(policy))
}

/// Set the keepalive interval: an open session that has received nothing
/// for `interval_ms` sends a keepalive ping (RFC 7016 §3.5.4.1). Default
/// 10000. Must be more than 0.
///
/// Returns RTMFP_OK; RTMFP_ERR_NULL_POINTER, RTMFP_ERR_INVALID_HANDLE, or
/// RTMFP_ERR_INVALID_ARGUMENT for 0.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn rtmfp_config_set_keepalive_ms(cfg: *mut rtmfp_config, interval_ms: u32) -> c_int {
    set_one(cfg, "keepalive_interval", millis(interval_ms))
}

/// Set the idle limit: an open session that has received nothing for
/// `timeout_ms` is closed (RTMFP_CLOSE_REASON_IDLE_TIMEOUT). Default 60000.
/// Must be more than 0.
///
/// Returns RTMFP_OK; RTMFP_ERR_NULL_POINTER, RTMFP_ERR_INVALID_HANDLE, or
/// RTMFP_ERR_INVALID_ARGUMENT for 0.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn rtmfp_config_set_idle_timeout_ms(
    cfg: *mut rtmfp_config,
    timeout_ms: u32,
) -> c_int {
    set_one(cfg, "idle_timeout", millis(timeout_ms))
}

/// Set the open timeout: a session that has not opened after `timeout_ms`
/// fails (RTMFP_OPEN_FAILURE_TIMEOUT). Default 95000, as RFC 7016
/// §3.5.1.1.1 recommends. Must be more than 0.
///
/// Returns RTMFP_OK; RTMFP_ERR_NULL_POINTER, RTMFP_ERR_INVALID_HANDLE, or
/// RTMFP_ERR_INVALID_ARGUMENT for 0.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn rtmfp_config_set_open_timeout_ms(
    cfg: *mut rtmfp_config,
    timeout_ms: u32,
) -> c_int {
    set_one(cfg, "open_timeout", millis(timeout_ms))
}

/// Set the largest UDP datagram the endpoint sends, in bytes: 576 to 65507
/// (default 1200, which clears IPv6's minimum MTU).
///
/// Returns RTMFP_OK; RTMFP_ERR_NULL_POINTER, RTMFP_ERR_INVALID_HANDLE, or
/// RTMFP_ERR_INVALID_ARGUMENT outside 576..=65507.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn rtmfp_config_set_max_datagram_size(cfg: *mut rtmfp_config, size: usize) -> c_int {
    set_one(cfg, "max_datagram_size", count(size))
}

/// Set the buffer limits of new flows, in bytes: a sending flow refuses
/// messages (RTMFP_ERR_AGAIN from rtmfp_flow_send()) while `send_buffer`
/// bytes wait unacknowledged, and a receiving flow advertises
/// `receive_buffer` bytes of window (RFC 7016 §3.6.3). Each 1024 to
/// 1 GiB; defaults 4 MiB and 1 MiB.
///
/// Returns RTMFP_OK; RTMFP_ERR_NULL_POINTER, RTMFP_ERR_INVALID_HANDLE, or
/// RTMFP_ERR_INVALID_ARGUMENT outside 1024..=2^30.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn rtmfp_config_set_flow_buffers(
    cfg: *mut rtmfp_config,
    send_buffer: usize,
    receive_buffer: usize,
) -> c_int {
    with_config(cfg, |c| {
        // Both or neither.
        let mut next = c.clone();
        set(&mut next, "send_buffer", count(send_buffer))?;
        set(&mut next, "receive_buffer", count(receive_buffer))?;
        *c = next;
        Ok(())
    })
}

/// Set the most events that may wait unread (default 65536). When the
/// queue is full the endpoint stops reading datagrams until the
/// application takes events. 16 to 2^24.
///
/// Returns RTMFP_OK; RTMFP_ERR_NULL_POINTER, RTMFP_ERR_INVALID_HANDLE, or
/// RTMFP_ERR_INVALID_ARGUMENT outside 16..=16777216.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn rtmfp_config_set_event_queue_limit(
    cfg: *mut rtmfp_config,
    limit: usize,
) -> c_int {
    set_one(cfg, "event_queue_limit", count(limit))
}

/// Set how many subscribers, pending or accepted, a NetConnection's
/// DIRECT_CONNECTIONS streams take in all (Flash's `maxPeerConnections`):
/// 0 to RTMFP_MAX_PEER_CONNECTIONS_LIMIT; default 8. A subscriber over
/// the limit is refused with "NetStream.Connect.Rejected". Used by
/// rtmfp_netconnection_connect().
///
/// Returns RTMFP_OK; RTMFP_ERR_NULL_POINTER, RTMFP_ERR_INVALID_HANDLE, or
/// RTMFP_ERR_INVALID_ARGUMENT above the limit.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn rtmfp_config_set_max_peer_connections(
    cfg: *mut rtmfp_config,
    max: usize,
) -> c_int {
    set_one(cfg, "max_peer_connections", count(max))
}

/// Set how long a peer NetStream's play waits for a direct session to
/// its publisher before it plays the stream through the server instead
/// (the relay fallback, docs/relay-fallback.md): "NetStream.Play.Relayed",
/// then the server's "NetStream.Play.Start"; or "NetStream.Connect.Failed"
/// saying why there is no relay. Default 5000 ms; 0 waits for the
/// session's own open timeout with no fallback, as Flash Player did. Used
/// by rtmfp_netconnection_connect().
///
/// Returns RTMFP_OK; RTMFP_ERR_NULL_POINTER or RTMFP_ERR_INVALID_HANDLE.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn rtmfp_config_set_direct_timeout(cfg: *mut rtmfp_config, ms: u32) -> c_int {
    set_one(cfg, "direct_timeout", millis(ms))
}

/// Set how a NetConnection decides on subscribers to its
/// DIRECT_CONNECTIONS streams: RTMFP_PEER_CONNECT_MODE_ACCEPT_ALL (the
/// default) or RTMFP_PEER_CONNECT_MODE_ASK (an rtmfp_peer_connect_mode).
/// Used by rtmfp_netconnection_connect().
///
/// Returns RTMFP_OK; RTMFP_ERR_NULL_POINTER, RTMFP_ERR_INVALID_HANDLE, or
/// RTMFP_ERR_INVALID_ARGUMENT for a value that is not an
/// rtmfp_peer_connect_mode.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn rtmfp_config_set_peer_connect_mode(cfg: *mut rtmfp_config, mode: c_int) -> c_int {
    set_one(cfg, "peer_connect_mode", word(mode))
}

/// Set the most streams one client of a rendezvous server has at once
/// (default 64): a further createStream gets `_error`
/// ("NetConnection.Call.Failed", "too many streams"), so that a client
/// cannot make the server hold unbounded state. 1 to 65535. Used by
/// rtmfp_server_start().
///
/// Returns RTMFP_OK; RTMFP_ERR_NULL_POINTER, RTMFP_ERR_INVALID_HANDLE, or
/// RTMFP_ERR_INVALID_ARGUMENT outside 1..=65535.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn rtmfp_config_set_max_streams_per_client(
    cfg: *mut rtmfp_config,
    max: usize,
) -> c_int {
    set_one(cfg, "max_streams_per_client", count(max))
}

/// Set the most names one client of a rendezvous server registers
/// (default 16): a further registerName gets `_error`
/// ("NetConnection.Call.Failed", "too many names"). 1 to 65535. Used by
/// rtmfp_server_start().
///
/// Returns RTMFP_OK; RTMFP_ERR_NULL_POINTER, RTMFP_ERR_INVALID_HANDLE, or
/// RTMFP_ERR_INVALID_ARGUMENT outside 1..=65535.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn rtmfp_config_set_max_names_per_client(
    cfg: *mut rtmfp_config,
    max: usize,
) -> c_int {
    set_one(cfg, "max_names_per_client", count(max))
}

/// Set the most receiving flows one session keeps at once (default 512):
/// the data of a further flow the far end opens is dropped (and counted in
/// the session's `flows_refused`), so that a peer opening flows without
/// end cannot make the endpoint hold unbounded state. 1 to 65535. Used by
/// rtmfp_server_start(), rtmfp_endpoint_new() and
/// rtmfp_netconnection_connect().
///
/// Returns RTMFP_OK; RTMFP_ERR_NULL_POINTER, RTMFP_ERR_INVALID_HANDLE, or
/// RTMFP_ERR_INVALID_ARGUMENT outside 1..=65535.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn rtmfp_config_set_max_flows_per_session(
    cfg: *mut rtmfp_config,
    max: usize,
) -> c_int {
    set_one(cfg, "max_flows_per_session", count(max))
}

/// Set receive coalescing, in microseconds: while datagrams arrive
/// densely (each less than this after the one before), the I/O thread
/// naps this long and reads them in one batch instead of waking for each,
/// as a network card's interrupt moderation. Sparse datagrams never wait;
/// while datagrams are dense, each may wait up to this much longer.
/// Longer than 10000 (10 ms) is 10000; 0 wakes once per datagram. Default
/// 0 for an endpoint, 1000 (1 ms) for a server (rtmfp_server_start()), or
/// for both the environment variable RTMFP_RECV_COALESCE_US if set. Used
/// by rtmfp_endpoint_new() and rtmfp_server_start().
///
/// Returns RTMFP_OK; RTMFP_ERR_NULL_POINTER or RTMFP_ERR_INVALID_HANDLE.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn rtmfp_config_set_recv_coalesce_us(cfg: *mut rtmfp_config, micros: u32) -> c_int {
    let ms = OptionValue::Millis(f64::from(micros) / 1000.0);
    set_one(cfg, "recv_coalesce", ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{
        RTMFP_ERR_INVALID_ARGUMENT, RTMFP_ERR_INVALID_HANDLE, RTMFP_ERR_NULL_POINTER,
    };
    use rtmfp_core::crypto::flash::keying::Policy;
    use rtmfp_core::crypto::FlashConfig;
    use rtmfp_core::flash::client::PeerConnectMode;
    use std::ptr::null_mut;
    use std::time::Duration;

    fn new_config() -> *mut rtmfp_config {
        let mut cfg = null_mut();
        // SAFETY: valid out pointer.
        assert_eq!(unsafe { rtmfp_config_new(&mut cfg) }, RTMFP_OK);
        assert!(!cfg.is_null());
        cfg
    }

    #[test]
    fn setters_validate_and_apply() {
        let cfg = new_config();
        // SAFETY: NUL-terminated literals and valid arrays.
        unsafe {
            assert_eq!(
                rtmfp_config_set_bind_address(cfg, c"127.0.0.1:0".as_ptr()),
                0
            );
            assert_eq!(rtmfp_config_add_bind_address(cfg, c"[::1]:0".as_ptr()), 0);
            assert_eq!(
                rtmfp_config_set_bind_address(cfg, c"localhost:1".as_ptr()),
                RTMFP_ERR_INVALID_ARGUMENT
            );
            assert_eq!(
                rtmfp_config_set_bind_address(cfg, std::ptr::null()),
                RTMFP_ERR_NULL_POINTER
            );
            let groups = [16u32, 14];
            assert_eq!(rtmfp_config_set_dh_groups(cfg, groups.as_ptr(), 2), 0);
            assert_eq!(
                rtmfp_config_set_dh_groups(cfg, groups.as_ptr(), 0),
                RTMFP_ERR_INVALID_ARGUMENT
            );
            let bad = [3u32];
            assert_eq!(
                rtmfp_config_set_dh_groups(cfg, bad.as_ptr(), 1),
                RTMFP_ERR_INVALID_ARGUMENT
            );
            let twice = [14u32, 14];
            assert_eq!(
                rtmfp_config_set_dh_groups(cfg, twice.as_ptr(), 2),
                RTMFP_ERR_INVALID_ARGUMENT
            );
        }
        assert_eq!(rtmfp_config_set_role(cfg, 1), 0);
        assert_eq!(rtmfp_config_set_role(cfg, 2), RTMFP_ERR_INVALID_ARGUMENT);
        assert_eq!(rtmfp_config_set_hmac_policy(cfg, 2), 0);
        assert_eq!(
            rtmfp_config_set_sseq_policy(cfg, -1),
            RTMFP_ERR_INVALID_ARGUMENT
        );
        assert_eq!(
            rtmfp_config_set_keepalive_ms(cfg, 0),
            RTMFP_ERR_INVALID_ARGUMENT
        );
        assert_eq!(rtmfp_config_set_idle_timeout_ms(cfg, 5000), 0);
        assert_eq!(
            rtmfp_config_set_max_datagram_size(cfg, 100),
            RTMFP_ERR_INVALID_ARGUMENT
        );
        assert_eq!(rtmfp_config_set_flow_buffers(cfg, 1 << 16, 1 << 16), 0);
        assert_eq!(rtmfp_config_set_max_peer_connections(cfg, 3), 0);
        assert_eq!(
            rtmfp_config_set_max_peer_connections(cfg, 1 << 20),
            RTMFP_ERR_INVALID_ARGUMENT
        );
        assert_eq!(rtmfp_config_set_peer_connect_mode(cfg, 1), 0);
        assert_eq!(
            rtmfp_config_set_peer_connect_mode(cfg, 2),
            RTMFP_ERR_INVALID_ARGUMENT
        );

        let data = snapshot(cfg).unwrap();
        assert_eq!(data.bind(Object::Endpoint).len(), 2);
        assert!(data.configs(Object::Endpoint).server_role);
        let flash = data.flash(Object::Endpoint);
        assert_eq!(flash.groups, vec![16, 14]);
        assert!(flash.accepts_ancillary_data);
        assert_eq!(flash.hmac, Policy::REQUIRED);
        assert_eq!(
            data.configs(Object::Endpoint).endpoint.idle_timeout,
            Duration::from_secs(5)
        );
        let client = data.client_config();
        assert_eq!(client.max_peer_connections, 3);
        assert_eq!(client.peer_connect, PeerConnectMode::Ask);
        assert_eq!(
            client.direct_timeout,
            Some(Duration::from_secs(5)),
            "default"
        );
        assert_eq!(rtmfp_config_set_direct_timeout(cfg, 2500), 0);
        let client = snapshot(cfg).unwrap().client_config();
        assert_eq!(client.direct_timeout, Some(Duration::from_millis(2500)));
        assert_eq!(rtmfp_config_set_direct_timeout(cfg, 0), 0);
        assert_eq!(
            snapshot(cfg).unwrap().client_config().direct_timeout,
            None,
            "0: no fallback"
        );
        assert_eq!(
            rtmfp_config_set_direct_timeout(null_mut(), 0),
            RTMFP_ERR_NULL_POINTER
        );
        assert!(!data.flash(Object::NetConnection).accepts_ancillary_data);
        assert_eq!(data.flash(Object::NetConnection).groups, vec![16, 14]);

        assert_eq!(rtmfp_config_free(cfg), RTMFP_OK);
        assert_eq!(
            rtmfp_config_free(cfg),
            RTMFP_ERR_INVALID_HANDLE,
            "double free"
        );
        assert_eq!(rtmfp_config_set_role(cfg, 0), RTMFP_ERR_INVALID_HANDLE);
        assert_eq!(rtmfp_config_free(null_mut()), RTMFP_OK);
        assert_eq!(rtmfp_config_set_role(null_mut(), 0), RTMFP_ERR_NULL_POINTER);
    }

    #[test]
    fn forged_handles_are_rejected() {
        let forged = 0xdead_beef_usize as *mut rtmfp_config;
        assert_eq!(rtmfp_config_set_role(forged, 0), RTMFP_ERR_INVALID_HANDLE);
        assert_eq!(rtmfp_config_free(forged), RTMFP_ERR_INVALID_HANDLE);
        assert_eq!(
            snapshot(forged).unwrap_err().code(),
            RTMFP_ERR_INVALID_HANDLE
        );
    }

    #[test]
    fn a_panic_inside_an_entry_point_is_caught_and_the_config_survives() {
        let cfg = new_config();
        let rc = with_config(cfg, |c| {
            c.set("server", OptionValue::Bool(true)).unwrap();
            panic!("injected");
        });
        assert_eq!(rc, crate::error::RTMFP_ERR_PANIC);
        // SAFETY: never NULL; valid until the next call on this thread.
        let msg = unsafe { std::ffi::CStr::from_ptr(crate::error::rtmfp_last_error_message()) };
        assert_eq!(msg.to_str().unwrap(), "Rust panic: injected");
        // The config's lock was poisoned by the panic; it still works.
        assert_eq!(rtmfp_config_set_role(cfg, 0), RTMFP_OK);
        assert!(!snapshot(cfg).unwrap().configs(Object::Endpoint).server_role);
        assert_eq!(rtmfp_config_free(cfg), RTMFP_OK);
    }

    #[test]
    fn receive_coalescing_lands_in_the_runtime_config() {
        use rtmfp_core::runtime::{RECV_COALESCE_ENV, SERVER_RECV_COALESCE};
        let runtime = |cfg, object| {
            let data = snapshot(cfg).unwrap();
            let profile = Arc::new(data.identity(Object::Server).unwrap());
            data.runtime_config(object, profile).unwrap().recv_coalesce
        };
        let cfg = new_config();
        if std::env::var_os(RECV_COALESCE_ENV).is_none() {
            assert_eq!(runtime(cfg, Object::Server), SERVER_RECV_COALESCE);
            assert_eq!(runtime(cfg, Object::Endpoint), Duration::ZERO);
        }
        for (us, want) in [
            (1500, 1500),
            (333, 333),
            (0, 0),
            (10_000, 10_000),
            (u32::MAX, 10_000),
        ] {
            assert_eq!(rtmfp_config_set_recv_coalesce_us(cfg, us), RTMFP_OK);
            for object in [Object::Endpoint, Object::Server] {
                assert_eq!(runtime(cfg, object), Duration::from_micros(want), "{us} us");
            }
        }
        assert_eq!(
            rtmfp_config_set_recv_coalesce_us(null_mut(), 1000),
            RTMFP_ERR_NULL_POINTER
        );
        assert_eq!(rtmfp_config_free(cfg), RTMFP_OK);
        assert_eq!(
            rtmfp_config_set_recv_coalesce_us(cfg, 1000),
            RTMFP_ERR_INVALID_HANDLE
        );
    }

    #[test]
    fn defaults() {
        let d = Options::new();
        assert_eq!(d.bind(Object::Endpoint), vec!["0.0.0.0:0".parse().unwrap()]);
        assert_eq!(d.flash(Object::Endpoint), FlashConfig::client());
        // The header's constant is core's range.
        assert_eq!(
            RTMFP_MAX_PEER_CONNECTIONS_LIMIT as u64,
            rtmfp_core::host::options::MAX_PEER_CONNECTIONS
        );
    }
}
