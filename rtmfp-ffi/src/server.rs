//! `rtmfp_server`: the rendezvous server (RFC 7425 §5, a Stratus/Cirrus-
//! like service): developer keys, peer IDs, introductions between peers,
//! registerName/lookupName, and publish/play through the server.
//!
//! It is `rtmfp_core::rendezvous::ServerHandle` (the `Server` layer on its
//! own runtime); its events are polled or delivered to a callback like
//! every other object's ([`crate::dispatch`]).
//!
//! # The connect hook
//!
//! The C hook runs on the server's I/O thread, inside the core's
//! `on_connect` closure, while that closure holds the hook slot's lock:
//! replacing or removing the hook from another thread waits for a call in
//! progress. From inside the hook every call on the same server that could
//! wait for the I/O thread or the slot (set the hook, poll, close, free,
//! ...) fails with RTMFP_ERR_WRONG_STATE instead of deadlocking (a
//! thread-local marks the hook). Nothing in the closure can unwind into the
//! I/O thread: it runs under `catch_unwind`, and a failure rejects the
//! client.
//!
//! # Ask mode
//!
//! rtmfp_server_set_asks() turns on core's ask protocol
//! (`rtmfp_core::rendezvous::Asks`): a connect, publish or play waits for
//! rtmfp_server_accept() / rtmfp_server_reject() from any thread (the
//! event callback's included), announced by RTMFP_EVENT_TYPE_SERVER_ASK.
//! The connect hook, if set, still runs first; a connect it rejects is
//! not asked about.

use std::cell::Cell;
use std::ffi::{c_char, c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rtmfp_core::flash::peer_id::to_hex;
use rtmfp_core::host::options::{Object, OptionValue};
use rtmfp_core::host::verdict_failure;
use rtmfp_core::rendezvous::cluster::redis::ClusterConfig;
use rtmfp_core::rendezvous::{
    AskKind, Asks, ConnectHook, ConnectRequest, Decision, Hooks, ServerEvent, ServerHandle,
    NO_ANSWER,
};

use crate::config::{self, rtmfp_config};
use crate::dispatch::{self, lock, Dispatch, Source};
use crate::error::{Error, RTMFP_ERR_IO, RTMFP_ERR_UNSUPPORTED, RTMFP_ERR_WRONG_STATE, RTMFP_OK};
use crate::event::{cstring, rtmfp_ask_kind, rtmfp_event, rtmfp_event_callback, RTMFP_PEER_ID_LEN};
use crate::guard::ffi_guard;
use crate::handles::Registry;
use crate::util::{
    close_within, cstr, cstr_list, hex, invalid, runtime_error, write_cstr, write_local_addr,
    write_peer_id,
};

/// Handle-table tag of rendezvous servers.
const SERVER_TAG: u8 = 5;

/// Deadline of the graceful shutdown in rtmfp_server_free().
const FREE_DEADLINE: Duration = Duration::from_millis(250);

/// Most developer keys rtmfp_server_start() takes.
pub const RTMFP_MAX_DEVELOPER_KEYS: usize = 4096;

/// Opaque handle of a running rendezvous server, made by
/// rtmfp_server_start(). A generation-checked token: using it after
/// rtmfp_server_free() gives RTMFP_ERR_INVALID_HANDLE.
pub struct rtmfp_server {
    _private: [u8; 0],
}

/// What an rtmfp_connect_hook returns.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum rtmfp_connect_decision {
    /// Refuse the client: it gets "NetConnection.Connect.Rejected".
    Reject = 0,
    /// Let the client connect.
    Accept = 1,
}

/// A server's connect hook (rtmfp_server_set_connect_hook()): called for
/// every `connect` whose developer key the server accepted, with the
/// client's peer ID (64 hex digits), its app (from its rtmfp:// URI) and
/// its developer key ("" if none) — strings valid only during the call —
/// and the registered `user`. Return RTMFP_CONNECT_DECISION_ACCEPT (1) to
/// accept; any other value rejects.
pub type rtmfp_connect_hook = Option<
    unsafe extern "C" fn(
        peer_id_hex: *const c_char,
        app: *const c_char,
        key: *const c_char,
        user: *mut c_void,
    ) -> c_int,
>;

#[derive(Clone, Copy)]
struct HookFn {
    f: unsafe extern "C" fn(*const c_char, *const c_char, *const c_char, *mut c_void) -> c_int,
    user: *mut c_void,
}

// SAFETY: `user` is only handed back to `f`; the registration contract
// makes the caller responsible for it being usable from the I/O thread.
unsafe impl Send for HookFn {}

/// The C hook, shared with the core's `on_connect` closure.
#[derive(Default)]
struct HookSlot {
    hook: Mutex<Option<HookFn>>,
}

thread_local! {
    /// The `HookSlot` whose C hook is running on this thread, if any.
    static IN_HOOK: Cell<usize> = const { Cell::new(0) };
}

/// The core's `on_connect` closure, calling the C hook of `slot` if set.
fn connect_hook(slot: Arc<HookSlot>) -> ConnectHook {
    Box::new(move |req: &ConnectRequest| -> Decision {
        let me = Arc::as_ptr(&slot) as usize;
        let run = || -> Decision {
            let guard = lock(&slot.hook);
            let Some(h) = *guard else {
                return Ok(());
            };
            let id = cstring(&req.peer_id.map(|p| to_hex(&p)).unwrap_or_default());
            let app = cstring(&req.app);
            let key = cstring(req.key.as_deref().unwrap_or(""));
            let _ = IN_HOOK.try_with(|c| c.set(me));
            // SAFETY: the registered C function with its own `user`; the
            // strings outlive the call.
            let decision = unsafe { (h.f)(id.as_ptr(), app.as_ptr(), key.as_ptr(), h.user) };
            let _ = IN_HOOK.try_with(|c| c.set(0));
            if decision == rtmfp_connect_decision::Accept as c_int {
                Ok(())
            } else {
                Err("rejected by the server's connect hook".to_owned())
            }
        };
        catch_unwind(AssertUnwindSafe(run)).unwrap_or_else(|_| {
            let _ = IN_HOOK.try_with(|c| c.set(0));
            Err("internal error in the connect hook".to_owned())
        })
    })
}

/// What a server object and its dispatcher thread share.
struct SrvShared {
    server: ServerHandle,
    dispatch: Dispatch<ServerEvent>,
    hook: Arc<HookSlot>,
}

impl SrvShared {
    /// RTMFP_ERR_WRONG_STATE when called from this server's connect hook.
    fn not_in_hook(&self, what: &str) -> Result<(), Error> {
        let me = Arc::as_ptr(&self.hook) as usize;
        if IN_HOOK.try_with(|c| c.get() == me).unwrap_or(false) {
            return Err(Error::new(
                RTMFP_ERR_WRONG_STATE,
                format!("{what} is not allowed from this server's own connect hook"),
            ));
        }
        Ok(())
    }
}

impl Source for SrvShared {
    type Queue = ServerHandle;

    fn queue(&self) -> (&ServerHandle, &Dispatch<ServerEvent>) {
        (&self.server, &self.dispatch)
    }

    fn what(&self) -> &'static str {
        "server"
    }
}

/// What the server table holds.
struct SrvObj {
    shared: Arc<SrvShared>,
}

impl SrvObj {
    /// Stops the server (once); `Some(clean)` if this call did it.
    fn shutdown(&self, deadline: Duration) -> Option<bool> {
        self.shared.server.close(deadline).map(|r| r.clean)
    }
}

static SERVERS: Registry<SrvObj> = Registry::new(SERVER_TAG);

fn server(srv: *const rtmfp_server) -> Result<Arc<SrvObj>, Error> {
    SERVERS.lookup(srv, "srv")
}

/// The server behind `srv`, for a call (`what`) that its own connect hook
/// may not make: RTMFP_ERR_WRONG_STATE from there.
fn server_not_in_hook(srv: *const rtmfp_server, what: &str) -> Result<Arc<SrvObj>, Error> {
    let obj = server(srv)?;
    obj.shared.not_in_hook(what)?;
    Ok(obj)
}

/// Start a rendezvous server: bind its UDP sockets (per `cfg`), make a
/// server identity (RFC 7425 §4: ephemeral DH; clients reach it by
/// rtmfp:// URI), and start its I/O thread. It accepts `connect`s whose
/// developer key (the last path segment of the URI's app, as in
/// "rtmfp://host/app/KEY") is one of the `nkeys` `keys`; `nkeys` 0 (with
/// `keys` NULL or not) accepts any key, or none. Connected clients get
/// their peer IDs registered for introductions (DIRECT_CONNECTIONS), and
/// may registerName/lookupName and publish/play through the server. From
/// `cfg` it uses the bind addresses, DH groups, HMAC / sequence number
/// policies, timeouts, datagram size, flow buffers, the per-client limits
/// (rtmfp_config_set_max_streams_per_client(),
/// rtmfp_config_set_max_names_per_client(),
/// rtmfp_config_set_max_flows_per_session()) and receive coalescing
/// (rtmfp_config_set_recv_coalesce_us(): 1 ms unless set); its role is
/// ignored.
/// `cfg` and the keys are copied.
///
/// Returns RTMFP_OK with `*out` set; RTMFP_ERR_INVALID_ARGUMENT for more
/// than RTMFP_MAX_DEVELOPER_KEYS keys or an empty or non-UTF-8 key;
/// RTMFP_ERR_IO if a socket cannot be bound; RTMFP_ERR_CRYPTO;
/// RTMFP_ERR_NULL_POINTER; RTMFP_ERR_INVALID_HANDLE for a freed config.
/// `*out` is untouched on failure.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `keys` must be NULL or valid for reading `nkeys` pointers to
/// NUL-terminated strings; `out` NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_server_start(
    cfg: *const rtmfp_config,
    keys: *const *const c_char,
    nkeys: usize,
    out: *mut *mut rtmfp_server,
) -> c_int {
    // SAFETY: the caller's contract, passed on; no cluster URL.
    unsafe { start(cfg, keys, nkeys, std::ptr::null(), out) }
}

/// rtmfp_server_start() for a node of a rendezvous cluster sharing its
/// peers, names and streams through Redis at `cluster_url`
/// ("redis://HOST:PORT[/DB]", see docs/cluster.md): peers on other nodes
/// are introduced, and their names resolve here.  The node gets a random
/// name, advertises its bound addresses and refreshes its entries every
/// 5 s (15 s TTL).  `cluster_url` NULL is rtmfp_server_start().
///
/// Returns what rtmfp_server_start() returns; RTMFP_ERR_IO also when
/// Redis does not answer (rtmfp_last_error_message() says "Redis is
/// unreachable") or the URL is not a Redis URL; RTMFP_ERR_INVALID_ARGUMENT
/// for a non-UTF-8 URL.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// As rtmfp_server_start(); `cluster_url` NULL or a NUL-terminated
/// string.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_server_start_clustered(
    cfg: *const rtmfp_config,
    keys: *const *const c_char,
    nkeys: usize,
    cluster_url: *const c_char,
    out: *mut *mut rtmfp_server,
) -> c_int {
    // SAFETY: the caller's contract, passed on.
    unsafe { start(cfg, keys, nkeys, cluster_url, out) }
}

/// Both constructors.
///
/// # Safety
/// As rtmfp_server_start_clustered().
unsafe fn start(
    cfg: *const rtmfp_config,
    keys: *const *const c_char,
    nkeys: usize,
    cluster: *const c_char,
    out: *mut *mut rtmfp_server,
) -> c_int {
    ffi_guard(|| {
        let mut data = config::snapshot(cfg)?;
        if !cluster.is_null() {
            // SAFETY: non-NULL, NUL-terminated by contract.
            let url = unsafe { cstr(cluster, "cluster_url")? }.to_owned();
            data.set("cluster", OptionValue::Text(url))?;
        }
        // SAFETY: caller's contract.
        let keys = unsafe { cstr_list(keys, nkeys, "keys", RTMFP_MAX_DEVELOPER_KEYS)? };
        // None: any key.
        if !keys.is_empty() {
            let keys = keys.into_iter().map(OptionValue::Text).collect();
            data.set("keys", OptionValue::List(keys))?;
        }
        // A C config binds 0.0.0.0:0 for every object (rtmfp_config_new).
        if !data.is_set("bind") {
            data.set("bind", OptionValue::Text("0.0.0.0:0".to_owned()))?;
        }
        if out.is_null() {
            return Err(Error::null_pointer("out"));
        }
        let profile = data.identity(Object::Server)?;
        let mut rc = data.runtime_config(Object::Server, Arc::new(profile))?;
        rc.drop_deadline = FREE_DEADLINE;
        let bind = rc.bind.clone();
        let hook = Arc::new(HookSlot::default());
        let config = data.server_config();
        let hooks = Hooks {
            on_connect: Some(connect_hook(Arc::clone(&hook))),
            ..Hooks::default()
        };
        let server = match data.cluster() {
            None => ServerHandle::start_with(rc, config, hooks),
            Some(url) => ServerHandle::start_clustered(rc, config, hooks, ClusterConfig::new(&url)),
        }
        .map_err(|e| {
            Error::new(
                RTMFP_ERR_IO,
                format!("starting the server on {bind:?}: {e}"),
            )
        })?;
        let h = SERVERS.insert(SrvObj {
            shared: Arc::new(SrvShared {
                server,
                dispatch: Dispatch::default(),
                hook,
            }),
        });
        // SAFETY: non-NULL (checked), writable by contract.
        unsafe { out.write(h.to_ptr()) };
        Ok(RTMFP_OK)
    })
}

/// Stop and free a server: close its client sessions (waiting at most
/// 250 ms), stop its I/O thread and callback dispatcher, and invalidate
/// the handle. After it returns the connect hook is not running and is
/// never called again. Unread events are dropped; polled events already
/// taken stay valid until rtmfp_event_free().
///
/// Returns RTMFP_OK; RTMFP_OK for NULL (like free(NULL));
/// RTMFP_ERR_INVALID_HANDLE if `srv` was already freed (a double free is
/// detected) or never issued; RTMFP_ERR_WRONG_STATE from the server's own
/// connect hook.
///
/// Thread safety: safe from any thread, including this server's event
/// callback, but not its connect hook.
#[no_mangle]
pub extern "C" fn rtmfp_server_free(srv: *mut rtmfp_server) -> c_int {
    ffi_guard(|| {
        if srv.is_null() {
            return Ok(RTMFP_OK);
        }
        server_not_in_hook(srv, "rtmfp_server_free()")?;
        let obj = SERVERS.take(srv, "srv")?;
        dispatch::stop_dispatcher(&obj.shared);
        obj.shutdown(FREE_DEADLINE);
        Ok(RTMFP_OK)
    })
}

/// Stop a server gracefully: close every client session in order, take
/// no new ones, wait until they are closed or `deadline_ms` passes, then
/// stop the I/O thread. The handle stays valid: the last events can still
/// be read, then rtmfp_server_next_event() gives RTMFP_ERR_CLOSED. Free it
/// with rtmfp_server_free().
///
/// Returns RTMFP_OK if every session closed in time; RTMFP_ERR_TIMEOUT if
/// the deadline passed first (it is stopped all the same);
/// RTMFP_ERR_CLOSED if it was already stopped; RTMFP_ERR_WRONG_STATE from
/// its own connect hook; RTMFP_ERR_NULL_POINTER; RTMFP_ERR_INVALID_HANDLE.
///
/// Thread safety: safe from any thread except this server's connect hook.
/// Blocks the calling thread for up to `deadline_ms`.
#[no_mangle]
pub extern "C" fn rtmfp_server_close(srv: *mut rtmfp_server, deadline_ms: u32) -> c_int {
    ffi_guard(|| {
        let obj = server_not_in_hook(srv, "rtmfp_server_close()")?;
        close_within(deadline_ms, "server", |d| obj.shutdown(d))
    })
}

/// Write the server's local address number `index` (from 0) as an
/// "ip:port" string with the port the system picked, NUL-terminated, into
/// `buf` of `len` bytes (RTMFP_ADDR_STRLEN is always enough). Clients
/// connect to "rtmfp://ADDRESS/app/KEY".
///
/// Returns the string's length without the NUL; RTMFP_ERR_BUFFER_TOO_SMALL;
/// RTMFP_ERR_INVALID_ARGUMENT if `index` is out of range;
/// RTMFP_ERR_NULL_POINTER; RTMFP_ERR_INVALID_HANDLE.
///
/// Thread safety: safe from any thread, including the connect hook.
///
/// # Safety
/// `buf` must be NULL or valid for writing `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_server_local_addr(
    srv: *const rtmfp_server,
    index: usize,
    buf: *mut c_char,
    len: usize,
) -> c_int {
    ffi_guard(|| {
        let addrs = server(srv)?.shared.server.local_addrs();
        // SAFETY: caller's contract.
        unsafe { write_local_addr(&addrs, index, "server", buf, len) }
    })
}

fn server_peer_id(srv: *const rtmfp_server) -> Result<[u8; RTMFP_PEER_ID_LEN], Error> {
    server(srv)?
        .shared
        .server
        .peer_id()
        .ok_or_else(|| Error::new(RTMFP_ERR_UNSUPPORTED, "this identity has no peer ID"))
}

/// The server's peer ID (its certificate fingerprint, a client's `farID`):
/// copy its RTMFP_PEER_ID_LEN (32) bytes to `out`.
///
/// Returns RTMFP_OK; RTMFP_ERR_NULL_POINTER; RTMFP_ERR_INVALID_HANDLE.
///
/// Thread safety: safe from any thread, including the connect hook.
///
/// # Safety
/// `out` must be NULL or valid for writing 32 bytes.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_server_peer_id(srv: *const rtmfp_server, out: *mut u8) -> c_int {
    ffi_guard(|| {
        let id = server_peer_id(srv)?;
        // SAFETY: caller's contract.
        unsafe { write_peer_id(out, &id) }
    })
}

/// The server's peer ID as 64 lower-case hex digits and a NUL, written to
/// `buf` of `len` bytes (at least RTMFP_PEER_ID_HEX_LEN, 65).
///
/// Returns 64; RTMFP_ERR_BUFFER_TOO_SMALL; RTMFP_ERR_NULL_POINTER;
/// RTMFP_ERR_INVALID_HANDLE.
///
/// Thread safety: safe from any thread, including the connect hook.
///
/// # Safety
/// `buf` must be NULL or valid for writing `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_server_peer_id_hex(
    srv: *const rtmfp_server,
    buf: *mut c_char,
    len: usize,
) -> c_int {
    ffi_guard(|| {
        let id = server_peer_id(srv)?;
        // SAFETY: caller's contract.
        unsafe { write_cstr(buf, len, &hex(&id), "buf") }
    })
}

/// How many clients are connected: sessions whose `connect` the server
/// accepted and that are still open.
///
/// Returns the count (>= 0); RTMFP_ERR_CLOSED after rtmfp_server_close();
/// RTMFP_ERR_WRONG_STATE from the server's own connect hook;
/// RTMFP_ERR_NULL_POINTER; RTMFP_ERR_INVALID_HANDLE.
///
/// Thread safety: safe from any thread except this server's connect hook.
#[no_mangle]
pub extern "C" fn rtmfp_server_session_count(srv: *const rtmfp_server) -> c_int {
    ffi_guard(|| {
        let obj = server_not_in_hook(srv, "rtmfp_server_session_count()")?;
        let n = obj
            .shared
            .server
            .with_server(|s, _, _| s.sessions().iter().filter(|c| c.connected).count())
            .map_err(runtime_error)?;
        Ok(c_int::try_from(n).unwrap_or(c_int::MAX))
    })
}

/// Set (or, with NULL, remove) the connect hook: `hook(peer_id_hex, app,
/// key, user)` is called for every `connect` whose developer key the
/// server accepted, and decides (see rtmfp_connect_hook); without a hook
/// every such client is accepted. A rejected client gets
/// "NetConnection.Connect.Rejected" and an RTMFP_EVENT_TYPE_SERVER_CONNECT_REJECTED
/// event follows.
///
/// The hook runs on the server's I/O thread: it must return promptly and
/// must not block (the server does nothing else meanwhile), must not call
/// back into this same server (such calls fail with RTMFP_ERR_WRONG_STATE,
/// except rtmfp_server_local_addr(), _peer_id(), _peer_id_hex() and
/// _event_fd()), and must not unwind (C++ exception, longjmp) out of the
/// call. Calling other servers, NetConnections and endpoints is allowed.
///
/// From another thread this call waits for a hook call in progress, so
/// after removing (or replacing) a hook the old one is not running and is
/// never called again: its `user` may then be freed.
///
/// Returns RTMFP_OK; RTMFP_ERR_WRONG_STATE from the server's own hook;
/// RTMFP_ERR_NULL_POINTER; RTMFP_ERR_INVALID_HANDLE.
///
/// Thread safety: safe from any thread except this server's connect hook.
///
/// # Safety
/// `hook` must be NULL or a function with this signature that is safe to
/// call with `user` from the server's I/O thread until it is removed or
/// the server is freed.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_server_set_connect_hook(
    srv: *mut rtmfp_server,
    hook: rtmfp_connect_hook,
    user: *mut c_void,
) -> c_int {
    ffi_guard(|| {
        let obj = server_not_in_hook(srv, "rtmfp_server_set_connect_hook()")?;
        *lock(&obj.shared.hook.hook) = hook.map(|f| HookFn { f, user });
        Ok(RTMFP_OK)
    })
}

/// The reason rtmfp_server_reject() gives for a NULL `reason`.
const REJECTED: &str = "rejected by the server application";

/// Ask mode: make the `kinds` of request (an OR of rtmfp_ask_kind values:
/// RTMFP_ASK_KIND_CONNECT, _PUBLISH, _PLAY; 0 turns asking off) wait for
/// the application's verdict before the client is answered. Each one is
/// an RTMFP_EVENT_TYPE_SERVER_ASK event with an `ask_id`, answered with
/// rtmfp_server_accept() or rtmfp_server_reject() from any thread. A
/// request not answered within `deadline_ms` gets the default verdict:
/// accepted if `default_accept`, else rejected with `default_reason`
/// (NULL: "no answer from the server application"); an
/// RTMFP_EVENT_TYPE_SERVER_ASK_ENDED event (RTMFP_ASK_END_EXPIRED) says
/// so. A client that goes away while its request waits ends it with
/// RTMFP_ASK_END_GONE.
///
/// A connect is asked about after its developer key and the connect hook
/// (rtmfp_server_set_connect_hook()) accepted it; a publish or play after
/// the server's own checks (a name, a free stream ID, a name not yet
/// published). The client's answer is then what RFC 7425 §5.3 says: a
/// connect gets "NetConnection.Connect.Success", or
/// "NetConnection.Connect.Rejected" with the reason as its description; a
/// publish "NetStream.Publish.Start" or "NetStream.Publish.BadName"; a
/// play "NetStream.Play.Start" or "NetStream.Play.Failed".
///
/// Set it right after rtmfp_server_start(): requests that came earlier
/// were decided without asking. Requests already waiting keep their
/// deadline.
///
/// Returns RTMFP_OK; RTMFP_ERR_INVALID_ARGUMENT for unknown bits in
/// `kinds`, a `deadline_ms` of 0 or a non-UTF-8 reason; RTMFP_ERR_CLOSED
/// once the server has stopped; RTMFP_ERR_WRONG_STATE from the server's
/// own connect hook; RTMFP_ERR_NULL_POINTER; RTMFP_ERR_INVALID_HANDLE.
///
/// Thread safety: safe from any thread except this server's connect hook.
///
/// # Safety
/// `default_reason` must be NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_server_set_asks(
    srv: *mut rtmfp_server,
    kinds: c_int,
    deadline_ms: u32,
    default_accept: bool,
    default_reason: *const c_char,
) -> c_int {
    ffi_guard(|| {
        let obj = server_not_in_hook(srv, "rtmfp_server_set_asks()")?;
        let all = rtmfp_ask_kind::Connect as c_int
            | rtmfp_ask_kind::Publish as c_int
            | rtmfp_ask_kind::Play as c_int;
        if kinds & !all != 0 {
            return Err(invalid(format!(
                "`kinds` is {kinds}: an OR of RTMFP_ASK_KIND_CONNECT (1), _PUBLISH (2), _PLAY (4)"
            )));
        }
        if deadline_ms == 0 {
            return Err(invalid("`deadline_ms` must be at least 1"));
        }
        let reason = if default_reason.is_null() {
            NO_ANSWER.to_owned()
        } else {
            // SAFETY: caller's contract.
            unsafe { cstr(default_reason, "default_reason")? }.to_owned()
        };
        let mut asks = Asks {
            deadline: Duration::from_millis(u64::from(deadline_ms)),
            default: if default_accept { Ok(()) } else { Err(reason) },
            ..Asks::default()
        };
        for (kind, flag) in [
            (AskKind::Connect, rtmfp_ask_kind::Connect),
            (AskKind::Publish, rtmfp_ask_kind::Publish),
            (AskKind::Play, rtmfp_ask_kind::Play),
        ] {
            asks.set(kind, kinds & flag as c_int != 0);
        }
        obj.shared.server.set_asks(asks).map_err(runtime_error)?;
        Ok(RTMFP_OK)
    })
}

/// The verdict on ask `ask_id`, as an error for C.
fn answer(
    srv: *mut rtmfp_server,
    ask_id: u64,
    decision: impl FnOnce() -> Result<Decision, Error>,
    what: &str,
) -> c_int {
    ffi_guard(|| {
        let obj = server_not_in_hook(srv, what)?;
        let decision = decision()?;
        obj.shared
            .server
            .answer(ask_id, decision)
            .map_err(|e| Error::from(verdict_failure(ask_id, &e)))?;
        Ok(RTMFP_OK)
    })
}

/// Accept the request of ask `ask_id` (RTMFP_EVENT_TYPE_SERVER_ASK): the
/// client is answered now (see rtmfp_server_set_asks()).
///
/// Returns RTMFP_OK; RTMFP_ERR_WRONG_STATE if the ask ended already (it
/// was answered, it expired and got the default verdict, or its client
/// went away: rtmfp_last_error_message() says which; nothing is done), or
/// from the server's own connect hook; RTMFP_ERR_INVALID_ARGUMENT for an
/// id never asked (or ended among more than the last 1024 asks);
/// RTMFP_ERR_CLOSED once the server has stopped; RTMFP_ERR_NULL_POINTER;
/// RTMFP_ERR_INVALID_HANDLE.
///
/// Thread safety: safe from any thread (the event callback's included)
/// except this server's connect hook.
#[no_mangle]
pub extern "C" fn rtmfp_server_accept(srv: *mut rtmfp_server, ask_id: u64) -> c_int {
    answer(srv, ask_id, || Ok(Ok(())), "rtmfp_server_accept()")
}

/// Reject the request of ask `ask_id` with `reason` (NULL: "rejected by
/// the server application"), which the client sees as its status
/// description: "NetConnection.Connect.Rejected" (then its session
/// closes), "NetStream.Publish.BadName" or "NetStream.Play.Failed".
///
/// Returns what rtmfp_server_accept() returns; also
/// RTMFP_ERR_INVALID_ARGUMENT for a non-UTF-8 reason.
///
/// Thread safety: as rtmfp_server_accept().
///
/// # Safety
/// `reason` must be NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_server_reject(
    srv: *mut rtmfp_server,
    ask_id: u64,
    reason: *const c_char,
) -> c_int {
    let decision = || {
        if reason.is_null() {
            return Ok(Err(REJECTED.to_owned()));
        }
        // SAFETY: caller's contract.
        Ok(Err(unsafe { cstr(reason, "reason")? }.to_owned()))
    };
    answer(srv, ask_id, decision, "rtmfp_server_reject()")
}

/// Take the next server event (types RTMFP_EVENT_TYPE_SERVER_CONNECTED to
/// RTMFP_EVENT_TYPE_SERVER_ASK_ENDED), as rtmfp_next_event() does
/// for an endpoint: waits up to `timeout_ms` (0: does not wait; negative:
/// until an event comes or the server stops). On success `*out` belongs to
/// the caller until rtmfp_event_free().
///
/// Returns RTMFP_OK with `*out` set; RTMFP_ERR_AGAIN if no event came in
/// time (`*out` = NULL); RTMFP_ERR_CLOSED once the server has stopped and
/// every event was taken; RTMFP_ERR_WRONG_STATE while an event callback is
/// registered, or from the server's own connect hook;
/// RTMFP_ERR_NULL_POINTER; RTMFP_ERR_INVALID_HANDLE.
///
/// Thread safety: safe from any thread except this server's connect hook;
/// with several threads taking events, each event goes to exactly one.
///
/// # Safety
/// `out` must be NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_server_next_event(
    srv: *mut rtmfp_server,
    timeout_ms: c_int,
    out: *mut *mut rtmfp_event,
) -> c_int {
    ffi_guard(|| {
        // SAFETY: caller's contract.
        unsafe {
            dispatch::next_event(out, timeout_ms, || {
                let obj = server_not_in_hook(srv, "rtmfp_server_next_event()")?;
                Ok(Arc::clone(&obj.shared))
            })
        }
    })
}

/// A file descriptor that is readable while server events wait, with the
/// contract of rtmfp_event_fd(). Never read, write or close it; it stays
/// open until rtmfp_server_free().
///
/// Returns the fd (>= 0); RTMFP_ERR_NULL_POINTER; RTMFP_ERR_INVALID_HANDLE.
///
/// Thread safety: safe from any thread, including the connect hook.
#[no_mangle]
pub extern "C" fn rtmfp_server_event_fd(srv: *const rtmfp_server) -> c_int {
    ffi_guard(|| Ok(server(srv)?.shared.server.event_fd()))
}

/// Deliver server events to `callback` instead of
/// rtmfp_server_next_event(), exactly as rtmfp_set_event_callback() does
/// for an endpoint (one at a time, in order, on a dispatcher thread; NULL
/// removes it, waiting for a call in progress when done from another
/// thread). The callback may call any rtmfp function, including
/// rtmfp_server_free() on this server.
///
/// Returns RTMFP_OK; RTMFP_ERR_WRONG_STATE from the server's own connect
/// hook; RTMFP_ERR_NULL_POINTER; RTMFP_ERR_INVALID_HANDLE; RTMFP_ERR_IO if
/// the thread cannot be started.
///
/// Thread safety: safe from any thread (and from inside the callback)
/// except this server's connect hook. `user` must be usable from the
/// dispatcher thread.
///
/// # Safety
/// `callback` must be NULL or a function with this signature that is safe
/// to call with `user` from another thread until it is removed or the
/// server is freed.
#[no_mangle]
pub unsafe extern "C" fn rtmfp_server_set_event_callback(
    srv: *mut rtmfp_server,
    callback: rtmfp_event_callback,
    user: *mut c_void,
) -> c_int {
    ffi_guard(|| {
        let obj = server_not_in_hook(srv, "rtmfp_server_set_event_callback()")?;
        dispatch::register(&obj.shared, callback, user)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{rtmfp_config_free, rtmfp_config_new, rtmfp_config_set_bind_address};
    use crate::error::{RTMFP_ERR_INVALID_ARGUMENT, RTMFP_ERR_INVALID_HANDLE};
    use std::ptr::null_mut;

    #[test]
    fn start_and_free() {
        let mut cfg = null_mut();
        let mut srv = null_mut();
        // SAFETY: valid pointers.
        unsafe {
            assert_eq!(rtmfp_config_new(&mut cfg), 0);
            assert_eq!(
                rtmfp_config_set_bind_address(cfg, c"127.0.0.1:0".as_ptr()),
                0
            );
            let empty = [c"".as_ptr()];
            assert_eq!(
                rtmfp_server_start(cfg, empty.as_ptr(), 1, &mut srv),
                RTMFP_ERR_INVALID_ARGUMENT
            );
            let keys = [c"K".as_ptr()];
            assert_eq!(rtmfp_server_start(cfg, keys.as_ptr(), 1, &mut srv), 0);
        }
        assert_eq!(rtmfp_config_free(cfg), 0);
        assert_eq!(rtmfp_server_session_count(srv), 0);
        let mut buf = [0 as c_char; 65];
        // SAFETY: a buffer of its length.
        assert_eq!(
            unsafe { rtmfp_server_peer_id_hex(srv, buf.as_mut_ptr(), buf.len()) },
            64
        );
        assert_eq!(rtmfp_server_free(srv), 0);
        assert_eq!(rtmfp_server_free(srv), RTMFP_ERR_INVALID_HANDLE);
        assert_eq!(rtmfp_server_session_count(srv), RTMFP_ERR_INVALID_HANDLE);
    }

    /// A free TCP port on loopback (nothing listens there afterwards).
    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    /// One RESP command over a fresh TCP connection; the raw reply.
    fn redis_command(port: u16, args: &[&str]) -> String {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut req = format!("*{}\r\n", args.len());
        for a in args {
            req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        s.write_all(req.as_bytes()).unwrap();
        let mut buf = [0u8; 4096];
        let n = s.read(&mut buf).unwrap_or(0);
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    #[test]
    fn a_clustered_server_needs_its_redis_and_registers_there() {
        let mut cfg = null_mut();
        let mut srv = null_mut();
        let down = std::ffi::CString::new(format!("redis://127.0.0.1:{}/", free_port())).unwrap();
        // SAFETY: valid pointers.
        unsafe {
            assert_eq!(rtmfp_config_new(&mut cfg), 0);
            assert_eq!(
                rtmfp_config_set_bind_address(cfg, c"127.0.0.1:0".as_ptr()),
                0
            );
            let rc =
                rtmfp_server_start_clustered(cfg, std::ptr::null(), 0, down.as_ptr(), &mut srv);
            assert_eq!(rc, RTMFP_ERR_IO);
            assert!(srv.is_null());
            let msg = std::ffi::CStr::from_ptr(crate::error::rtmfp_last_error_message());
            assert!(
                msg.to_string_lossy().contains("Redis is unreachable"),
                "{msg:?}"
            );
        }
        let port = free_port();
        let Ok(mut redis) = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
        else {
            eprintln!("SKIP: redis-server is not installed (Debian package redis-server)");
            assert_eq!(rtmfp_config_free(cfg), 0);
            return;
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let url = std::ffi::CString::new(format!("redis://127.0.0.1:{port}/")).unwrap();
        // SAFETY: valid pointers.
        let rc = unsafe {
            rtmfp_server_start_clustered(cfg, std::ptr::null(), 0, url.as_ptr(), &mut srv)
        };
        assert_eq!(rc, 0);
        // The node is in the cluster's set of nodes, with its record.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let members = loop {
            let r = redis_command(port, &["ZRANGE", "rtmfp:nodes", "0", "-1"]);
            if r.contains("node-") || std::time::Instant::now() > deadline {
                break r;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(members.starts_with("*1\r\n"), "{members:?}");
        let node = members.lines().nth(2).unwrap_or_default().to_owned();
        let record = redis_command(port, &["GET", &format!("rtmfp:node:{node}")]);
        assert!(record.contains("0|127.0.0.1:"), "{record:?}");
        // Freeing it stops the node, which leaves the cluster.
        assert_eq!(rtmfp_server_free(srv), 0);
        assert_eq!(
            redis_command(port, &["EXISTS", &format!("rtmfp:node:{node}")]),
            ":0\r\n"
        );
        assert_eq!(rtmfp_config_free(cfg), 0);
        let _ = redis.kill();
        let _ = redis.wait();
    }
}
