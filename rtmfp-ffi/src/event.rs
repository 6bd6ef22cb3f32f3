//! `rtmfp_event`: what an endpoint reports, polled or by callback.

use std::collections::HashSet;
use std::ffi::{c_char, c_int, c_void};
use std::sync::{Mutex, PoisonError};

use rtmfp_core::endpoint::{CloseReason, Event, OpenFailure, Role};

use crate::error::{Error, RTMFP_OK};
use crate::guard::ffi_guard;
use crate::util::fill_array;

/// Size of the address strings in events and session info, with the NUL:
/// enough for "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff%4294967295]:65535".
pub const RTMFP_ADDR_STRLEN: usize = 64;

/// Bytes in a peer ID (the SHA-256 fingerprint of a certificate,
/// RFC 7425 §4.3.2).
pub const RTMFP_PEER_ID_LEN: usize = 32;

/// Size of a peer ID in hex with the NUL (64 digits + 1).
pub const RTMFP_PEER_ID_HEX_LEN: usize = 65;

/// What happened. Values are stable ABI. Values from 100 up are reserved
/// for the Flash layer (NetConnection / NetStream / rendezvous events);
/// ignore types you do not know.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum rtmfp_event_type {
    /// A session opened. `session`; `address`: the far address;
    /// `peer_id` (if `has_peer_id`): the far peer ID; `initiator`: whether
    /// this end connected (true) or was connected to (false).
    SessionOpened = 1,
    /// A session this end was opening failed. `session`; `reason`: an
    /// rtmfp_open_failure; `other_session`: with
    /// RTMFP_OPEN_FAILURE_DUPLICATE, the existing session to the same peer.
    SessionOpenFailed = 2,
    /// An open session closed. `session`; `reason`: an rtmfp_close_reason.
    /// Its flows are gone; its handle is never reused.
    SessionClosed = 3,
    /// An IHello arrived for an identity this endpoint does not have
    /// (RFC 7016 §3.5.1.1.2); a rendezvous service would answer it.
    /// `data`: the EPD asked for; `tag`: the initiator's tag; `address`:
    /// where it came from.
    UnmatchedIhello = 4,
    /// A session's far address moved (RFC 7016 §3.5.4.2). `session`;
    /// `old_address` -> `address`.
    FarAddressChanged = 5,
    /// The far end opened a flow to us. `session`; `flow`: the receiving
    /// flow; `data`: its metadata; `has_association`/`association`: our
    /// sending flow it answers. Accept it with rtmfp_flow_accept() (its
    /// messages wait until then) or refuse it with rtmfp_flow_reject().
    FlowOpened = 6,
    /// A complete message on a receiving flow. `session`, `flow`,
    /// `data`/`data_len`: the message; `gap_before`: earlier messages
    /// were abandoned by the sender and will never arrive.
    Message = 7,
    /// A receiving flow finished: the sender closed it and every message
    /// was delivered. `session`, `flow`.
    FlowFinished = 8,
    /// Write receipt: every byte of a message was acknowledged.
    /// `session`, `flow` (sending), `message`.
    MessageDelivered = 9,
    /// Write receipt: a message was abandoned (deadline, no retransmit,
    /// parent abandoned, flow rejected or closed). `session`, `flow`
    /// (sending), `message`.
    MessageAbandoned = 10,
    /// A sending flow that refused a message (RTMFP_ERR_AGAIN) takes
    /// messages again. `session`, `flow`.
    FlowWritable = 11,
    /// The far end rejected a sending flow. `session`, `flow`; `code`:
    /// the exception code (0: rejected automatically).
    FlowRejected = 12,
    /// A closed sending flow has everything acknowledged; its ID is done.
    /// `session`, `flow`.
    FlowComplete = 13,
}

/// Why an opening session failed (`reason` of
/// RTMFP_EVENT_TYPE_SESSION_OPEN_FAILED).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum rtmfp_open_failure {
    /// No answer within the open timeout.
    Timeout = 1,
    /// A session to the same peer already exists or won a glare; use
    /// `other_session`.
    Duplicate = 2,
    /// The far end's keying was unacceptable (signature, keys, or a
    /// required HMAC / sequence number policy it does not meet).
    KeyingFailed = 3,
    /// Closed by this end before it opened.
    Cancelled = 4,
}

/// Why an open session closed (`reason` of RTMFP_EVENT_TYPE_SESSION_CLOSED).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum rtmfp_close_reason {
    /// This end closed it in order.
    Local = 1,
    /// This end closed it abruptly.
    LocalAbrupt = 2,
    /// The far end closed it.
    Remote = 3,
    /// Nothing arrived within the idle limit.
    IdleTimeout = 4,
    /// A new session from the same peer replaced it.
    Overridden = 5,
}

/// One event. Made by the library only: a polled event comes from
/// rtmfp_next_event() and is the caller's until rtmfp_event_free(); a
/// callback event (rtmfp_set_event_callback()) is valid only during the
/// callback. Every pointer inside it (`data`, `tag`) lives exactly as long
/// as the event. Fields that do not apply to a type are 0 / NULL / "".
/// New fields may be added at the end in later versions (the library
/// allocates events, so that stays compatible).
#[repr(C)]
pub struct rtmfp_event {
    /// What happened; see rtmfp_event_type for the fields each type uses.
    pub r#type: rtmfp_event_type,
    /// The session (0 for RTMFP_EVENT_TYPE_UNMATCHED_IHELLO).
    pub session: u64,
    /// The flow: a receiving flow for FLOW_OPENED, MESSAGE and
    /// FLOW_FINISHED; a sending flow (from rtmfp_flow_open()) for
    /// MESSAGE_DELIVERED, MESSAGE_ABANDONED, FLOW_WRITABLE, FLOW_REJECTED
    /// and FLOW_COMPLETE.
    pub flow: u64,
    /// The message (from rtmfp_flow_send()) of a write receipt.
    pub message: u64,
    /// The exception code of FLOW_REJECTED.
    pub code: u64,
    /// An rtmfp_open_failure (SESSION_OPEN_FAILED) or rtmfp_close_reason
    /// (SESSION_CLOSED).
    pub reason: i32,
    /// SESSION_OPEN_FAILED with RTMFP_OPEN_FAILURE_DUPLICATE: the session
    /// to use instead.
    pub other_session: u64,
    /// SESSION_OPENED: this end started the session.
    pub initiator: bool,
    /// Whether `peer_id` is set (SESSION_OPENED).
    pub has_peer_id: bool,
    /// The far end's peer ID (SESSION_OPENED).
    pub peer_id: [u8; RTMFP_PEER_ID_LEN],
    /// An "ip:port" string: the far address (SESSION_OPENED), the sender
    /// (UNMATCHED_IHELLO), or the new far address (FAR_ADDRESS_CHANGED).
    pub address: [c_char; RTMFP_ADDR_STRLEN],
    /// The old far address (FAR_ADDRESS_CHANGED).
    pub old_address: [c_char; RTMFP_ADDR_STRLEN],
    /// Payload: the message (MESSAGE), the flow metadata (FLOW_OPENED), the
    /// EPD (UNMATCHED_IHELLO); NULL when `data_len` is 0. Not
    /// NUL-terminated. Valid as long as the event.
    pub data: *const u8,
    /// Bytes at `data`.
    pub data_len: usize,
    /// The initiator's tag (UNMATCHED_IHELLO); NULL when `tag_len` is 0.
    pub tag: *const u8,
    /// Bytes at `tag`.
    pub tag_len: usize,
    /// FLOW_OPENED: whether the flow answers one of our sending flows.
    pub has_association: bool,
    /// FLOW_OPENED: that sending flow.
    pub association: u64,
    /// MESSAGE: earlier messages were abandoned by the sender.
    pub gap_before: bool,
}

/// An event and the buffers its pointers point into. `repr(C)` with the
/// event first, so a pointer to it is a pointer to the event.
#[repr(C)]
pub(crate) struct OwnedEvent {
    pub(crate) event: rtmfp_event,
    data: Vec<u8>,
    tag: Vec<u8>,
}

// SAFETY: the raw pointers point into the Vecs this struct owns.
unsafe impl Send for OwnedEvent {}

impl OwnedEvent {
    /// The C form of `e`.
    pub(crate) fn new(e: Event) -> Box<OwnedEvent> {
        let mut ev = rtmfp_event {
            r#type: rtmfp_event_type::SessionOpened,
            session: 0,
            flow: 0,
            message: 0,
            code: 0,
            reason: 0,
            other_session: 0,
            initiator: false,
            has_peer_id: false,
            peer_id: [0; RTMFP_PEER_ID_LEN],
            address: [0; RTMFP_ADDR_STRLEN],
            old_address: [0; RTMFP_ADDR_STRLEN],
            data: std::ptr::null(),
            data_len: 0,
            tag: std::ptr::null(),
            tag_len: 0,
            has_association: false,
            association: 0,
            gap_before: false,
        };
        let mut data = Vec::new();
        let mut tag = Vec::new();
        use rtmfp_event_type as T;
        match e {
            Event::SessionOpened {
                session,
                role,
                far_address,
                far_peer_id,
                ..
            } => {
                ev.r#type = T::SessionOpened;
                ev.session = session.0;
                ev.initiator = role == Role::Initiator;
                if let Some(id) = far_peer_id {
                    ev.has_peer_id = true;
                    ev.peer_id = id;
                }
                fill_array(&mut ev.address, &far_address.to_string());
            }
            Event::SessionOpenFailed { session, reason } => {
                ev.r#type = T::SessionOpenFailed;
                ev.session = session.0;
                ev.reason = match reason {
                    OpenFailure::Timeout => rtmfp_open_failure::Timeout,
                    OpenFailure::Duplicate(other) => {
                        ev.other_session = other.0;
                        rtmfp_open_failure::Duplicate
                    }
                    OpenFailure::KeyingFailed => rtmfp_open_failure::KeyingFailed,
                    OpenFailure::Cancelled => rtmfp_open_failure::Cancelled,
                } as i32;
            }
            Event::SessionClosed { session, reason } => {
                ev.r#type = T::SessionClosed;
                ev.session = session.0;
                ev.reason = match reason {
                    CloseReason::Local => rtmfp_close_reason::Local,
                    CloseReason::LocalAbrupt => rtmfp_close_reason::LocalAbrupt,
                    CloseReason::Remote => rtmfp_close_reason::Remote,
                    CloseReason::IdleTimeout => rtmfp_close_reason::IdleTimeout,
                    CloseReason::Overridden => rtmfp_close_reason::Overridden,
                } as i32;
            }
            Event::UnmatchedIHello { epd, tag: t, from } => {
                ev.r#type = T::UnmatchedIhello;
                data = epd;
                tag = t;
                fill_array(&mut ev.address, &from.to_string());
            }
            Event::FarAddressChanged { session, from, to } => {
                ev.r#type = T::FarAddressChanged;
                ev.session = session.0;
                fill_array(&mut ev.old_address, &from.to_string());
                fill_array(&mut ev.address, &to.to_string());
            }
            Event::FlowOpened {
                session,
                flow,
                metadata,
                association,
            } => {
                ev.r#type = T::FlowOpened;
                ev.session = session.0;
                ev.flow = flow;
                data = metadata;
                if let Some(a) = association {
                    ev.has_association = true;
                    ev.association = a;
                }
            }
            Event::Message {
                session,
                flow,
                data: d,
                gap_before,
            } => {
                ev.r#type = T::Message;
                ev.session = session.0;
                ev.flow = flow;
                data = d;
                ev.gap_before = gap_before;
            }
            Event::FlowFinished { session, flow } => {
                ev.r#type = T::FlowFinished;
                ev.session = session.0;
                ev.flow = flow;
            }
            Event::MessageDelivered {
                session,
                flow,
                message,
            } => {
                ev.r#type = T::MessageDelivered;
                ev.session = session.0;
                ev.flow = flow;
                ev.message = message;
            }
            Event::MessageAbandoned {
                session,
                flow,
                message,
            } => {
                ev.r#type = T::MessageAbandoned;
                ev.session = session.0;
                ev.flow = flow;
                ev.message = message;
            }
            Event::FlowWritable { session, flow } => {
                ev.r#type = T::FlowWritable;
                ev.session = session.0;
                ev.flow = flow;
            }
            Event::FlowRejected {
                session,
                flow,
                code,
            } => {
                ev.r#type = T::FlowRejected;
                ev.session = session.0;
                ev.flow = flow;
                ev.code = code;
            }
            Event::FlowComplete { session, flow } => {
                ev.r#type = T::FlowComplete;
                ev.session = session.0;
                ev.flow = flow;
            }
        }
        // The Vecs' heap buffers do not move when the Box is made.
        if !data.is_empty() {
            ev.data = data.as_ptr();
            ev.data_len = data.len();
        }
        if !tag.is_empty() {
            ev.tag = tag.as_ptr();
            ev.tag_len = tag.len();
        }
        Box::new(OwnedEvent {
            event: ev,
            data,
            tag,
        })
    }
}

/// Addresses of the events handed out by rtmfp_next_event() and not yet
/// freed, so that rtmfp_event_free() can tell a live event from a freed
/// one, a callback event, or a stray pointer.
static LIVE_EVENTS: Mutex<Option<HashSet<usize>>> = Mutex::new(None);

fn live() -> std::sync::MutexGuard<'static, Option<HashSet<usize>>> {
    LIVE_EVENTS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Hands a polled event to C: it is live until rtmfp_event_free().
pub(crate) fn into_c(event: Box<OwnedEvent>) -> *mut rtmfp_event {
    let ptr = Box::into_raw(event);
    live().get_or_insert_with(HashSet::new).insert(ptr as usize);
    ptr.cast::<rtmfp_event>()
}

/// Free an event from rtmfp_next_event(), and the payload it points to.
///
/// Returns RTMFP_OK; RTMFP_OK for NULL (nothing to do, like free(NULL));
/// RTMFP_ERR_INVALID_HANDLE if `event` is not a live event from
/// rtmfp_next_event(): already freed (a double free is detected), a
/// callback's event (those belong to the library), or any other pointer.
/// Caveat: once freed, the same address may be handed out again for a new
/// event, and then a second free of the old pointer frees the new event.
///
/// Thread safety: safe from any thread, on any event (events are not tied
/// to the endpoint or thread that made them, and stay valid after their
/// endpoint is freed).
#[no_mangle]
pub extern "C" fn rtmfp_event_free(event: *mut rtmfp_event) -> c_int {
    ffi_guard(|| {
        if event.is_null() {
            return Ok(RTMFP_OK);
        }
        let was_live = live()
            .as_mut()
            .is_some_and(|set| set.remove(&(event as usize)));
        if !was_live {
            return Err(Error::invalid_handle("event"));
        }
        // SAFETY: the address was in LIVE_EVENTS, so it came from
        // Box::into_raw in into_c and has not been freed; it is removed
        // from the set, so no other call frees it.
        drop(unsafe { Box::from_raw(event.cast::<OwnedEvent>()) });
        Ok(RTMFP_OK)
    })
}

/// The name of an rtmfp_event_type value, e.g. "SESSION_OPENED", for logs.
/// Never NULL: an unknown value gives "UNKNOWN". The string is static.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn rtmfp_event_type_name(event_type: c_int) -> *const c_char {
    crate::guard::ffi_guard_infallible(c"UNKNOWN".as_ptr(), || {
        let name: &std::ffi::CStr = match event_type {
            1 => c"SESSION_OPENED",
            2 => c"SESSION_OPEN_FAILED",
            3 => c"SESSION_CLOSED",
            4 => c"UNMATCHED_IHELLO",
            5 => c"FAR_ADDRESS_CHANGED",
            6 => c"FLOW_OPENED",
            7 => c"MESSAGE",
            8 => c"FLOW_FINISHED",
            9 => c"MESSAGE_DELIVERED",
            10 => c"MESSAGE_ABANDONED",
            11 => c"FLOW_WRITABLE",
            12 => c"FLOW_REJECTED",
            13 => c"FLOW_COMPLETE",
            _ => c"UNKNOWN",
        };
        name.as_ptr()
    })
}

/// A function that receives events (see rtmfp_set_event_callback()).
/// `event` is valid only until the function returns; `user` is the
/// pointer given at registration.
pub type rtmfp_event_callback =
    Option<unsafe extern "C" fn(event: *const rtmfp_event, user: *mut c_void)>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::RTMFP_ERR_INVALID_HANDLE;
    use rtmfp_core::endpoint::SessionHandle;

    #[test]
    fn message_event_owns_its_payload() {
        let e = OwnedEvent::new(Event::Message {
            session: SessionHandle(7),
            flow: 3,
            data: b"hello".to_vec(),
            gap_before: true,
        });
        let p = into_c(e);
        // SAFETY: a live event from into_c.
        let ev = unsafe { &*p };
        assert_eq!(ev.r#type, rtmfp_event_type::Message);
        assert_eq!((ev.session, ev.flow, ev.gap_before), (7, 3, true));
        // SAFETY: data/data_len describe the owned payload.
        assert_eq!(
            unsafe { std::slice::from_raw_parts(ev.data, ev.data_len) },
            b"hello"
        );
        assert_eq!(rtmfp_event_free(p), RTMFP_OK);
        assert_eq!(rtmfp_event_free(p), RTMFP_ERR_INVALID_HANDLE, "double free");
        assert_eq!(rtmfp_event_free(std::ptr::null_mut()), RTMFP_OK);
        let mut on_stack = OwnedEvent::new(Event::FlowWritable {
            session: SessionHandle(1),
            flow: 1,
        });
        assert_eq!(
            rtmfp_event_free(&mut on_stack.event),
            RTMFP_ERR_INVALID_HANDLE,
            "not from rtmfp_next_event"
        );
    }

    #[test]
    fn addresses_and_reasons() {
        let e = OwnedEvent::new(Event::FarAddressChanged {
            session: SessionHandle(2),
            from: "[::1]:1".parse().unwrap(),
            to: "10.0.0.1:1935".parse().unwrap(),
        });
        // SAFETY: fill_array NUL-terminates.
        let s = |a: &[c_char]| {
            unsafe { std::ffi::CStr::from_ptr(a.as_ptr()) }
                .to_str()
                .unwrap()
                .to_owned()
        };
        assert_eq!(s(&e.event.old_address), "[::1]:1");
        assert_eq!(s(&e.event.address), "10.0.0.1:1935");
        let e = OwnedEvent::new(Event::SessionOpenFailed {
            session: SessionHandle(4),
            reason: OpenFailure::Duplicate(SessionHandle(3)),
        });
        assert_eq!(e.event.reason, rtmfp_open_failure::Duplicate as i32);
        assert_eq!(e.event.other_session, 3);
        assert!(e.event.data.is_null());
    }

    #[test]
    fn type_names() {
        // SAFETY: static strings.
        let name = |t| unsafe { std::ffi::CStr::from_ptr(rtmfp_event_type_name(t)) };
        assert_eq!(name(1).to_str().unwrap(), "SESSION_OPENED");
        assert_eq!(name(13).to_str().unwrap(), "FLOW_COMPLETE");
        assert_eq!(name(0).to_str().unwrap(), "UNKNOWN");
        assert_eq!(name(-5).to_str().unwrap(), "UNKNOWN");
    }
}
