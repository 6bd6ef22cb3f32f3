//! `rtmfp_event`: what an endpoint reports, polled or by callback.

use std::collections::HashSet;
use std::ffi::{c_char, c_int, c_void, CString};
use std::sync::{Mutex, PoisonError};

use rtmfp_core::flash::peer_id::from_hex;
use rtmfp_core::flash::StatusInfo;
use rtmfp_core::host::{Describe, Field, Value};

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

/// What happened. Values are stable ABI: 1 to 99 are endpoint events
/// (rtmfp_next_event()), 100 to 149 NetConnection events
/// (rtmfp_netconnection_next_event()), 150 to 199 rendezvous server events
/// (rtmfp_server_next_event()). Ignore types you do not know.
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

    /// NetConnection: a status of the NetConnection (`stream` 0) or of one
    /// of its NetStreams (`stream`): `status_level` ("status", "warning",
    /// "error"), `status_code` (e.g. "NetConnection.Connect.Success",
    /// "NetConnection.Connect.Rejected", "NetStream.Publish.Start",
    /// "NetStream.Play.Start", "NetStream.Connect.Rejected") and
    /// `status_description`.
    Netstatus = 100,
    /// NetConnection: the server answered createStream for a
    /// RTMFP_NETSTREAM_KIND_SERVER stream. `stream`; `rtmp_stream_id`: the
    /// server's stream ID. publish/play called before this wait for it.
    StreamCreated = 101,
    /// NetConnection: a message of a stream being played. `stream`;
    /// `media_type` (an rtmfp_media_type: 8 audio, 9 video, 18 or 15
    /// data); `timestamp` (ms); `data`/`data_len`: the payload (an FLV tag
    /// body for audio and video, AMF for data). For a data message whose
    /// first value is a string, `name` is that handler name and `text` the
    /// second value if it is a string (rtmfp_netstream_send_strings()).
    Media = 102,
    /// NetConnection in RTMFP_PEER_CONNECT_MODE_ASK: a subscriber asks to
    /// play one of our DIRECT_CONNECTIONS streams. `peer_stream`: the
    /// request ID for rtmfp_netconnection_accept_peer() /
    /// rtmfp_netconnection_reject_peer(); `stream`: our NetStream; `name`:
    /// the stream name; `peer_id`: the subscriber's peer ID; `address`: its
    /// address.
    PeerConnect = 103,
    /// NetConnection: a subscriber was accepted and is being sent our
    /// DIRECT_CONNECTIONS stream. Fields as PEER_CONNECT.
    PeerStreamOpened = 104,
    /// NetConnection: a subscriber is gone (rejected, left, or its session
    /// ended). `peer_stream`, `stream` (0 if it played none), `peer_id` (if
    /// `has_peer_id`): the subscriber's peer ID, `text`: why.
    PeerStreamClosed = 105,
    /// NetConnection: the answer to rtmfp_netconnection_call(),
    /// rtmfp_netconnection_register_name() or
    /// rtmfp_netconnection_lookup_name(). `call_id`: what the call
    /// returned; `ok`: `_result` (true) or `_error` (false); `text`: the
    /// first result value if it is a string; for a lookupName answer
    /// `has_peer_id`/`peer_id` hold the peer ID found; an `_error` carries
    /// `status_code` (e.g. "NetConnection.Call.Failed") and
    /// `status_description`.
    CallResult = 106,
    /// NetConnection: a command from the server that the library does not
    /// handle itself. `stream` (0: on the NetConnection); `name`: the
    /// command name; `text`: its first argument if it is a string.
    Command = 107,

    /// Rendezvous server: a client connected (its key and the connect
    /// hook accepted it). `session`; `peer_id`; `address`; `app`: the
    /// connect's app; `text`: its developer key (NULL if none).
    ServerConnected = 150,
    /// Rendezvous server: a connect was rejected (bad key or the connect
    /// hook). `session`; `peer_id`; `text`: the reason the client was given.
    ServerConnectRejected = 151,
    /// Rendezvous server: a connected client went away. `session`;
    /// `peer_id`; `address`; `app`.
    ServerDisconnected = 152,
    /// Rendezvous server: a client sent setPeerInfo. `session`; `peer_id`;
    /// `text`: its addresses, comma-separated "ip:port".
    ServerPeerInfo = 153,
    /// Rendezvous server: a stream was published through the server.
    /// `session`; `name`.
    ServerPublished = 154,
    /// Rendezvous server: a stream stopped being published. `session`;
    /// `name`.
    ServerUnpublished = 155,
    /// Rendezvous server: a client plays a stream through the server.
    /// `session`; `name`.
    ServerPlaying = 156,
    /// Rendezvous server: a publish or play was refused. `session`;
    /// `name`; `text`: why.
    ServerStreamRejected = 157,
    /// Rendezvous server: an initiator was introduced to a connected peer
    /// (RFC 7016 §3.5.1.6: a Redirect to it, a Forwarded IHello to the
    /// peer). `address`: the initiator; `peer_id`: the peer it asked for;
    /// `text`: the addresses sent, comma-separated.
    ServerIntroduced = 158,
    /// Rendezvous server: a client registered a name (registerName).
    /// `peer_id`; `name`.
    ServerNameRegistered = 159,
    /// Rendezvous server, ask mode (rtmfp_server_set_asks()): a request
    /// waits for rtmfp_server_accept() / rtmfp_server_reject() with
    /// `ask_id`; the client is answered only then (or at the deadline).
    /// `ask_kind`: connect, publish or play; `session`; `peer_id`;
    /// `address`: the client's; `app`: its app; connect: `text` its
    /// developer key (NULL if none); publish and play: `name` the stream
    /// name, `rtmp_stream_id` the client's stream ID.
    ServerAsk = 160,
    /// Rendezvous server: an ask ended without a verdict. `ask_id`;
    /// `reason`: an rtmfp_ask_end (RTMFP_ASK_END_EXPIRED: the default
    /// verdict was applied, its outcome event follows;
    /// RTMFP_ASK_END_GONE: the client went away). A verdict for it now
    /// gives RTMFP_ERR_WRONG_STATE.
    ServerAskEnded = 161,
}

/// The kind of request a server asks about (`ask_kind` of
/// RTMFP_EVENT_TYPE_SERVER_ASK); the values are also the flags of
/// rtmfp_server_set_asks()'s `kinds`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum rtmfp_ask_kind {
    /// Not an ask event.
    None = 0,
    /// A `connect` (RFC 7425 §5.3.1-2).
    Connect = 1,
    /// A `publish` through the server (§5.3.5).
    Publish = 2,
    /// A `play` through the server (§5.3.5).
    Play = 4,
}

/// How an ask ended without a verdict (`reason` of
/// RTMFP_EVENT_TYPE_SERVER_ASK_ENDED).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum rtmfp_ask_end {
    /// Nobody answered within the deadline: the default verdict was
    /// applied.
    Expired = 1,
    /// The client went away (its session closed, or it closed or deleted
    /// the stream) while the request waited: nothing was applied.
    Gone = 2,
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
    /// Every candidate address answered with an ICMP unreachable (port,
    /// host or network): nothing listens there. `address` names the last.
    Unreachable = 5,
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
/// rtmfp_next_event() (or rtmfp_netconnection_next_event(),
/// rtmfp_server_next_event()) and is the caller's until
/// rtmfp_event_free(); a callback event (rtmfp_set_event_callback(), ...)
/// is valid only during the callback. Every pointer inside it (`data`,
/// `tag`, and the strings `status_*`, `name`, `app`, `text`) lives exactly
/// as long as the event. Fields that do not apply to a type are 0 / NULL / "".
/// New fields may be added at the end in later versions (the library
/// allocates events, so that stays compatible).
#[repr(C)]
pub struct rtmfp_event {
    /// What happened; see rtmfp_event_type for the fields each type uses.
    pub r#type: rtmfp_event_type,
    /// The session (0 for RTMFP_EVENT_TYPE_UNMATCHED_IHELLO): for
    /// PEER_* events the session to the subscriber, for SERVER_* events
    /// the client's session on the server.
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
    /// NetConnection events: the NetStream (rtmfp_netstream_id()); 0 for
    /// the NetConnection itself.
    pub stream: u32,
    /// NETSTATUS (and a CALL_RESULT error): the info object's level,
    /// "status", "warning" or "error". NULL for other events.
    pub status_level: *const c_char,
    /// NETSTATUS (and a CALL_RESULT error): the status code, such as
    /// "NetConnection.Connect.Success". NULL for other events.
    pub status_code: *const c_char,
    /// NETSTATUS (and a CALL_RESULT error): the description. NULL for
    /// other events.
    pub status_description: *const c_char,
    /// MEDIA: the RTMP message type (see rtmfp_media_type).
    pub media_type: u8,
    /// MEDIA: the RTMP timestamp, in milliseconds.
    pub timestamp: u32,
    /// STREAM_CREATED: the server's RTMP stream ID.
    pub rtmp_stream_id: u32,
    /// PEER_CONNECT, PEER_STREAM_OPENED, PEER_STREAM_CLOSED: the
    /// subscriber, also the request ID of rtmfp_netconnection_accept_peer()
    /// / rtmfp_netconnection_reject_peer().
    pub peer_stream: u64,
    /// CALL_RESULT: the call ID the call returned.
    pub call_id: u64,
    /// CALL_RESULT: `_result` (true) or `_error` (false).
    pub ok: bool,
    /// A name, NUL-terminated, or NULL: the stream name (PEER_CONNECT,
    /// PEER_STREAM_OPENED, SERVER_PUBLISHED, SERVER_UNPUBLISHED,
    /// SERVER_PLAYING, SERVER_STREAM_REJECTED), the registered name
    /// (SERVER_NAME_REGISTERED), the command (COMMAND), the handler of a
    /// data message (MEDIA). Valid as long as the event.
    pub name: *const c_char,
    /// SERVER_CONNECTED, SERVER_DISCONNECTED, SERVER_ASK: the client's app
    /// (from its rtmfp:// URI), NUL-terminated; NULL for other events.
    pub app: *const c_char,
    /// Text, NUL-terminated, or NULL: a reason (PEER_STREAM_CLOSED,
    /// SERVER_CONNECT_REJECTED, SERVER_STREAM_REJECTED), a result or
    /// argument (CALL_RESULT, COMMAND, MEDIA), a developer key
    /// (SERVER_CONNECTED, SERVER_ASK), addresses (SERVER_PEER_INFO,
    /// SERVER_INTRODUCED). Valid as long as the event.
    pub text: *const c_char,
    /// SERVER_ASK, SERVER_ASK_ENDED: the ask id, for rtmfp_server_accept()
    /// / rtmfp_server_reject().
    pub ask_id: u64,
    /// SERVER_ASK: what is asked about; RTMFP_ASK_KIND_NONE otherwise.
    pub ask_kind: rtmfp_ask_kind,
}

/// An event and the buffers its pointers point into. `repr(C)` with the
/// event first, so a pointer to it is a pointer to the event.
#[repr(C)]
pub(crate) struct OwnedEvent {
    pub(crate) event: rtmfp_event,
    data: Vec<u8>,
    tag: Vec<u8>,
    /// The strings `status_*`, `name`, `app` and `text` point into.
    strings: Vec<CString>,
}

// SAFETY: the raw pointers point into the Vecs this struct owns.
unsafe impl Send for OwnedEvent {}

/// A C string of `s` (a NUL inside is shown as "\\0").
pub(crate) fn cstring(s: &str) -> CString {
    CString::new(s.replace('\0', "\\0")).unwrap_or_default()
}

/// An event with every field 0 / NULL / "".
fn blank(t: rtmfp_event_type) -> rtmfp_event {
    rtmfp_event {
        r#type: t,
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
        stream: 0,
        status_level: std::ptr::null(),
        status_code: std::ptr::null(),
        status_description: std::ptr::null(),
        media_type: 0,
        timestamp: 0,
        rtmp_stream_id: 0,
        peer_stream: 0,
        call_id: 0,
        ok: false,
        name: std::ptr::null(),
        app: std::ptr::null(),
        text: std::ptr::null(),
        ask_id: 0,
        ask_kind: rtmfp_ask_kind::None,
    }
}

/// The C type of a described event's kind (`host::describe`); `None` for
/// the kinds C does not report (user_control, keepalive_timers).
fn event_type(kind: &str) -> Option<rtmfp_event_type> {
    use rtmfp_event_type as T;
    Some(match kind {
        "session_opened" => T::SessionOpened,
        "session_open_failed" => T::SessionOpenFailed,
        "session_closed" => T::SessionClosed,
        "unmatched_ihello" => T::UnmatchedIhello,
        "far_address_changed" => T::FarAddressChanged,
        "flow_opened" => T::FlowOpened,
        "message" => T::Message,
        "flow_finished" => T::FlowFinished,
        "message_delivered" => T::MessageDelivered,
        "message_abandoned" => T::MessageAbandoned,
        "flow_writable" => T::FlowWritable,
        "flow_rejected" => T::FlowRejected,
        "flow_complete" => T::FlowComplete,
        "status" => T::Netstatus,
        "stream_created" => T::StreamCreated,
        "media" => T::Media,
        "peer_connect" => T::PeerConnect,
        "peer_stream_opened" => T::PeerStreamOpened,
        "peer_stream_closed" => T::PeerStreamClosed,
        "call_result" => T::CallResult,
        "command" => T::Command,
        "connected" => T::ServerConnected,
        "rejected" => T::ServerConnectRejected,
        "disconnected" => T::ServerDisconnected,
        "peer_info" => T::ServerPeerInfo,
        "published" => T::ServerPublished,
        "unpublished" => T::ServerUnpublished,
        "playing" => T::ServerPlaying,
        "stream_rejected" => T::ServerStreamRejected,
        "introduced" => T::ServerIntroduced,
        "name_registered" => T::ServerNameRegistered,
        "ask" => T::ServerAsk,
        "ask_ended" => T::ServerAskEnded,
        _ => return None,
    })
}

/// Where a described field goes in the flat rtmfp_event.
#[derive(Clone, Copy)]
enum Slot {
    /// Not in the C struct.
    Skip,
    /// A number member (an id, a count, a flag, a C enum value).
    Num(fn(&mut rtmfp_event, u64)),
    /// A string member (pointing into the event's strings).
    Str(fn(&mut rtmfp_event) -> &mut *const c_char),
    /// An "ip:port" member.
    Addr(fn(&mut rtmfp_event) -> &mut [c_char; RTMFP_ADDR_STRLEN]),
    /// `peer_id`, and `has_peer_id` set.
    PeerId,
    /// `data`/`data_len`.
    Data,
    /// `tag`/`tag_len`.
    Tag,
    /// MEDIA's decoded data values: `name` the handler (the first value,
    /// if a string), then `text` the second value if a string.
    Handler,
    /// COMMAND's arguments: `text` the first if a string.
    FirstArg,
    /// CALL_RESULT's arguments: as FirstArg; for `_result` also a peer ID
    /// in hex there (a lookupName answer) into `peer_id`; an info object
    /// gives `status_level` (its code and description are fields).
    Result,
}

/// The slot of field `field` of an event of kind `kind`: by (kind, field)
/// where C differs, else by field name.  A record's fields
/// (client_info, peer_stream_info) count as the event's own.
fn slot(kind: &str, field: &str) -> Slot {
    use Slot::*;
    match (kind, field) {
        // Names that go to a slot elsewhere, but not for these kinds.
        ("peer_connect" | "peer_stream_opened", "stream_id")
        | ("connected" | "disconnected", "addresses")
        | ("disconnected", "key") => Skip,
        ("flow_rejected", "code") => Num(|e, n| e.code = n),
        ("status" | "call_result", "code") => Str(|e| &mut e.status_code),
        ("ask" | "ask_ended", "id") => Num(|e, n| e.ask_id = n),
        ("media", "values") => Handler,
        ("command", "args") => FirstArg,
        ("call_result", "args") => Result,
        (_, field) => match field {
            "session" => Num(|e, n| e.session = n),
            "duplicate_of" => Num(|e, n| e.other_session = n),
            "flow" => Num(|e, n| e.flow = n),
            "association" => Num(|e, n| {
                e.has_association = true;
                e.association = n;
            }),
            "message" => Num(|e, n| e.message = n),
            "role" => Num(|e, n| e.initiator = n != 0),
            "gap_before" => Num(|e, n| e.gap_before = n != 0),
            "ok" => Num(|e, n| e.ok = n != 0),
            "stream" => Num(|e, n| e.stream = n as u32),
            "message_type" => Num(|e, n| e.media_type = n as u8),
            "timestamp" => Num(|e, n| e.timestamp = n as u32),
            "stream_id" => Num(|e, n| e.rtmp_stream_id = n as u32),
            "id" | "peer" => Num(|e, n| e.peer_stream = n),
            "transaction_id" => Num(|e, n| e.call_id = n),
            "what" => Num(|e, n| e.ask_kind = ask_kind(n)),
            // A Word reason or end is an rtmfp_open_failure,
            // rtmfp_close_reason or rtmfp_ask_end; a Text reason is text.
            "reason" if matches!(kind, "session_open_failed" | "session_closed") => {
                Num(|e, n| e.reason = n as i32)
            }
            "end" => Num(|e, n| e.reason = n as i32),
            "far_peer_id" | "peer_id" | "far_id" => PeerId,
            "far_address" | "address" | "to" | "initiator" => Addr(|e| &mut e.address),
            "from" => Addr(|e| &mut e.old_address),
            "metadata" | "data" | "epd" | "payload" => Data,
            "tag" => Tag,
            "level" => Str(|e| &mut e.status_level),
            "description" => Str(|e| &mut e.status_description),
            "name" => Str(|e| &mut e.name),
            "app" => Str(|e| &mut e.app),
            "reason" | "key" | "addresses" => Str(|e| &mut e.text),
            // Not in the C struct: the nonces, status extra,
            // command_object, peer_stream_info's accepted/media_sent,
            // client_info's connected/behind_nat/names/publishing/
            // playing/media_in, and any field core adds later.
            _ => Skip,
        },
    }
}

/// The C enum value of a described word (the words of every enum are
/// distinct): rtmfp_open_failure, rtmfp_close_reason, rtmfp_ask_end,
/// rtmfp_ask_kind, and a role as `initiator` (1) or not (0).
fn word(w: &str) -> u64 {
    use rtmfp_ask_end as E;
    use rtmfp_ask_kind as K;
    use rtmfp_close_reason as C;
    use rtmfp_open_failure as F;
    (match w {
        "initiator" => 1,
        "timeout" => F::Timeout as i32,
        "duplicate" => F::Duplicate as i32,
        "keying_failed" => F::KeyingFailed as i32,
        "cancelled" => F::Cancelled as i32,
        "unreachable" => F::Unreachable as i32,
        "local" => C::Local as i32,
        "local_abrupt" => C::LocalAbrupt as i32,
        "remote" => C::Remote as i32,
        "idle_timeout" => C::IdleTimeout as i32,
        "overridden" => C::Overridden as i32,
        // An answered ask is never reported; C has no value for it.
        "expired" | "answered" => E::Expired as i32,
        "gone" => E::Gone as i32,
        "connect" => K::Connect as i32,
        "publish" => K::Publish as i32,
        "play" => K::Play as i32,
        _ => 0,
    }) as u64
}

fn ask_kind(n: u64) -> rtmfp_ask_kind {
    match n {
        1 => rtmfp_ask_kind::Connect,
        2 => rtmfp_ask_kind::Publish,
        4 => rtmfp_ask_kind::Play,
        _ => rtmfp_ask_kind::None,
    }
}

/// The string of AMF value `i` of a described list, if it is one.
fn amf_str(items: &[Value], i: usize) -> Option<&str> {
    match items.get(i) {
        Some(Value::Amf(v)) => v.as_str(),
        _ => None,
    }
}

impl OwnedEvent {
    /// The C form of an endpoint, NetConnection or server event, through
    /// its description; `None` for the kinds C does not report (user
    /// control events, keepalive timers).
    pub(crate) fn of(e: impl Describe) -> Option<Box<OwnedEvent>> {
        let d = e.describe();
        let mut owned = Box::new(OwnedEvent {
            event: blank(event_type(d.kind)?),
            data: Vec::new(),
            tag: Vec::new(),
            strings: Vec::new(),
        });
        owned.put_all(d.kind, d.fields);
        // The Vecs' heap buffers do not move with the OwnedEvent.
        if !owned.data.is_empty() {
            owned.event.data = owned.data.as_ptr();
            owned.event.data_len = owned.data.len();
        }
        if !owned.tag.is_empty() {
            owned.event.tag = owned.tag.as_ptr();
            owned.event.tag_len = owned.tag.len();
        }
        Some(owned)
    }

    /// Puts every field (a record's into the flat struct too).
    fn put_all(&mut self, kind: &str, fields: Vec<Field>) {
        for Field { name, value } in fields {
            match value {
                Value::Record(record) => self.put_all(kind, record.fields),
                value => self.put(slot(kind, name), value),
            }
        }
    }

    /// A pointer to a C copy of `s` that lives as long as the event.
    fn text(&mut self, s: &str) -> *const c_char {
        let c = cstring(s);
        // The CString's heap buffer does not move when it is moved.
        let p = c.as_ptr();
        self.strings.push(c);
        p
    }

    /// One copy per value type.
    fn put(&mut self, slot: Slot, value: Value) {
        let n = match value {
            Value::Bool(b) => b.into(),
            Value::U64(n) => n,
            Value::F64(x) => x as u64,
            Value::Word(w) => word(w),
            Value::Session(s) => s.0,
            Value::RecvFlow(f) | Value::SendFlow(f) => f,
            Value::Stream(s) => s.0.into(),
            Value::PeerStream(p) => p.0,
            Value::Text(s) => {
                if let Slot::Str(member) = slot {
                    *member(&mut self.event) = self.text(&s);
                }
                return;
            }
            Value::Address(a) => {
                if let Slot::Addr(member) = slot {
                    fill_array(member(&mut self.event), &a.to_string());
                }
                return;
            }
            Value::PeerId(id) => {
                if let Slot::PeerId = slot {
                    self.set_peer_id(id);
                }
                return;
            }
            Value::Bytes(b) => {
                match slot {
                    Slot::Data => self.data = b,
                    Slot::Tag => self.tag = b,
                    _ => {}
                }
                return;
            }
            Value::List(items) => return self.list(slot, &items),
            // Not in the C struct (a record is flattened by put_all).
            Value::Null | Value::Amf(_) | Value::Duration(_) | Value::Record(_) => return,
        };
        if let Slot::Num(member) = slot {
            member(&mut self.event, n);
        }
    }

    fn set_peer_id(&mut self, id: [u8; RTMFP_PEER_ID_LEN]) {
        self.event.has_peer_id = true;
        self.event.peer_id = id;
    }

    /// A list: addresses (or texts) joined with ","; or AMF arguments.
    fn list(&mut self, slot: Slot, items: &[Value]) {
        match slot {
            Slot::Str(member) => {
                let joined = items
                    .iter()
                    .map(|v| match v {
                        Value::Address(a) => a.to_string(),
                        Value::Text(s) => s.clone(),
                        _ => String::new(),
                    })
                    .collect::<Vec<_>>()
                    .join(",");
                *member(&mut self.event) = self.text(&joined);
            }
            Slot::Handler => {
                if let Some(handler) = amf_str(items, 0) {
                    self.event.name = self.text(handler);
                    if let Some(second) = amf_str(items, 1) {
                        self.event.text = self.text(second);
                    }
                }
            }
            Slot::FirstArg | Slot::Result => {
                if let Some(first) = amf_str(items, 0) {
                    self.event.text = self.text(first);
                    // `ok` comes before `args` in the description.
                    if let (Slot::Result, true, Some(id)) = (slot, self.event.ok, from_hex(first)) {
                        self.set_peer_id(id);
                    }
                }
                if let (Slot::Result, Some(Value::Amf(v))) = (slot, items.first()) {
                    if let Some(info) = StatusInfo::from_value(v) {
                        self.event.status_level = self.text(&info.level);
                    }
                }
            }
            _ => {}
        }
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

/// Free an event from rtmfp_next_event(), rtmfp_netconnection_next_event()
/// or rtmfp_server_next_event(), and the payload and strings it points to.
///
/// Returns RTMFP_OK; RTMFP_OK for NULL (nothing to do, like free(NULL));
/// RTMFP_ERR_INVALID_HANDLE if `event` is not a live polled event:
/// already freed (a double free is detected), a
/// callback's event (those belong to the library), or any other pointer.
/// Caveat: once freed, the same address may be handed out again for a new
/// event, and then a second free of the old pointer frees the new event.
///
/// Thread safety: safe from any thread, on any event (events are not tied
/// to the object or thread that made them, and stay valid after it is
/// freed).
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

/// The name of an rtmfp_event_type value, e.g. "SESSION_OPENED" or
/// "NETSTATUS", for logs.
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
            100 => c"NETSTATUS",
            101 => c"STREAM_CREATED",
            102 => c"MEDIA",
            103 => c"PEER_CONNECT",
            104 => c"PEER_STREAM_OPENED",
            105 => c"PEER_STREAM_CLOSED",
            106 => c"CALL_RESULT",
            107 => c"COMMAND",
            150 => c"SERVER_CONNECTED",
            151 => c"SERVER_CONNECT_REJECTED",
            152 => c"SERVER_DISCONNECTED",
            153 => c"SERVER_PEER_INFO",
            154 => c"SERVER_PUBLISHED",
            155 => c"SERVER_UNPUBLISHED",
            156 => c"SERVER_PLAYING",
            157 => c"SERVER_STREAM_REJECTED",
            158 => c"SERVER_INTRODUCED",
            159 => c"SERVER_NAME_REGISTERED",
            160 => c"SERVER_ASK",
            161 => c"SERVER_ASK_ENDED",
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
    use rtmfp_core::endpoint::{Event, OpenFailure, SessionHandle};
    use rtmfp_core::flash::{ClientEvent, Value};
    use rtmfp_core::rendezvous::ServerEvent;
    use std::ffi::CStr;

    #[test]
    fn message_event_owns_its_payload() {
        let e = OwnedEvent::of(Event::Message {
            session: SessionHandle(7),
            flow: 3,
            data: b"hello".to_vec(),
            gap_before: true,
        })
        .unwrap();
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
        let mut on_stack = OwnedEvent::of(Event::FlowWritable {
            session: SessionHandle(1),
            flow: 1,
        })
        .unwrap();
        assert_eq!(
            rtmfp_event_free(&mut on_stack.event),
            RTMFP_ERR_INVALID_HANDLE,
            "not from rtmfp_next_event"
        );
    }

    #[test]
    fn addresses_and_reasons() {
        let e = OwnedEvent::of(Event::FarAddressChanged {
            session: SessionHandle(2),
            from: "[::1]:1".parse().unwrap(),
            to: "10.0.0.1:1935".parse().unwrap(),
        })
        .unwrap();
        // SAFETY: fill_array NUL-terminates.
        let s = |a: &[c_char]| {
            unsafe { std::ffi::CStr::from_ptr(a.as_ptr()) }
                .to_str()
                .unwrap()
                .to_owned()
        };
        assert_eq!(s(&e.event.old_address), "[::1]:1");
        assert_eq!(s(&e.event.address), "10.0.0.1:1935");
        let e = OwnedEvent::of(Event::SessionOpenFailed {
            session: SessionHandle(4),
            reason: OpenFailure::Duplicate(SessionHandle(3)),
        })
        .unwrap();
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
        assert_eq!(name(100).to_str().unwrap(), "NETSTATUS");
        assert_eq!(name(107).to_str().unwrap(), "COMMAND");
        assert_eq!(name(108).to_str().unwrap(), "UNKNOWN");
        assert_eq!(name(150).to_str().unwrap(), "SERVER_CONNECTED");
        assert_eq!(name(159).to_str().unwrap(), "SERVER_NAME_REGISTERED");
    }

    /// The C string at `p` (NULL: None).
    fn text(p: *const c_char) -> Option<String> {
        // SAFETY: NULL or a NUL-terminated string owned by a live event.
        (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_owned())
    }

    #[test]
    fn flash_events_own_their_strings() {
        use rtmfp_core::flash::client::StreamId;
        use rtmfp_core::flash::command::{encode_values, Command};
        let e = OwnedEvent::of(ClientEvent::Status {
            stream: Some(StreamId(3)),
            info: StatusInfo::error("NetStream.Connect.Rejected", "no\0room"),
        })
        .unwrap();
        let p = into_c(e);
        // SAFETY: a live event from into_c.
        let ev = unsafe { &*p };
        assert_eq!(ev.r#type, rtmfp_event_type::Netstatus);
        assert_eq!(ev.stream, 3);
        assert_eq!(text(ev.status_level).as_deref(), Some("error"));
        assert_eq!(
            text(ev.status_code).as_deref(),
            Some("NetStream.Connect.Rejected")
        );
        assert_eq!(text(ev.status_description).as_deref(), Some("no\\0room"));
        assert!(ev.name.is_null() && ev.text.is_null() && ev.data.is_null());
        assert_eq!(rtmfp_event_free(p), RTMFP_OK);

        // A data message: handler and first argument decoded.
        let payload =
            encode_values(18, &[Value::from("chat"), Value::from("hi"), Value::Null]).unwrap();
        let e = OwnedEvent::of(ClientEvent::Media {
            stream: StreamId(1),
            message_type: 18,
            timestamp: 42,
            payload: payload.clone(),
        })
        .unwrap();
        assert_eq!(text(e.event.name).as_deref(), Some("chat"));
        assert_eq!(text(e.event.text).as_deref(), Some("hi"));
        assert_eq!((e.event.media_type, e.event.timestamp), (18, 42));
        // SAFETY: data/data_len describe the owned payload.
        assert_eq!(
            unsafe { std::slice::from_raw_parts(e.event.data, e.event.data_len) },
            &payload[..]
        );
        // Audio is not decoded.
        let e = OwnedEvent::of(ClientEvent::Media {
            stream: StreamId(1),
            message_type: 8,
            timestamp: 0,
            payload: vec![0x02, 0, 1, b'x'],
        })
        .unwrap();
        assert!(e.event.name.is_null());

        // A lookupName answer carries the peer ID.
        let id = [0xab_u8; 32];
        let hex_id = crate::util::hex(&id);
        let e = OwnedEvent::of(ClientEvent::CallResult {
            transaction_id: 7.0,
            ok: true,
            response: Command::result(7.0, Value::Null, Value::from(hex_id.as_str())),
        })
        .unwrap();
        assert_eq!(
            (e.event.call_id, e.event.ok, e.event.has_peer_id),
            (7, true, true)
        );
        assert_eq!(e.event.peer_id, id);
        assert_eq!(text(e.event.text), Some(hex_id));
        // An _error carries its status.
        let e = OwnedEvent::of(ClientEvent::CallResult {
            transaction_id: 8.0,
            ok: false,
            response: Command::error(
                8.0,
                Value::Null,
                StatusInfo::error("NetConnection.Call.Failed", "nobody").to_value(),
            ),
        })
        .unwrap();
        assert!(!e.event.ok && !e.event.has_peer_id);
        assert_eq!(
            text(e.event.status_code).as_deref(),
            Some("NetConnection.Call.Failed")
        );

        // Events the C API does not report.
        assert!(OwnedEvent::of(ClientEvent::KeepaliveTimers {
            server: std::time::Duration::from_secs(1),
            peer: std::time::Duration::from_secs(1),
        })
        .is_none());

        // Server events.
        let e = OwnedEvent::of(ServerEvent::Introduced {
            initiator: "127.0.0.1:5".parse().unwrap(),
            target: id,
            addresses: vec!["10.0.0.1:1".parse().unwrap(), "[::1]:2".parse().unwrap()],
        })
        .unwrap();
        assert_eq!(e.event.r#type, rtmfp_event_type::ServerIntroduced);
        assert_eq!(text(e.event.text).as_deref(), Some("10.0.0.1:1,[::1]:2"));
        assert_eq!(
            text(e.event.address.as_ptr()).as_deref(),
            Some("127.0.0.1:5")
        );
        let e = OwnedEvent::of(ServerEvent::NameRegistered {
            peer_id: id,
            name: "alice".into(),
        })
        .unwrap();
        assert_eq!(text(e.event.name).as_deref(), Some("alice"));
        assert!(e.event.has_peer_id);
    }
    /// Where C's struct differs from the description: the adapter rules
    /// of `slot` and `OwnedEvent::list`.
    #[test]
    fn adapter_rules() {
        use rtmfp_core::endpoint::Role;
        use rtmfp_core::flash::client::{PeerStreamInfo, StreamId};
        use rtmfp_core::flash::command::Command;
        use rtmfp_core::flash::{PeerStreamId, StatusInfo};
        use rtmfp_core::rendezvous::{AskEnd, AskRequest, ClientInfo, StreamRequest};
        let addr: std::net::SocketAddr = "10.0.0.1:5".parse().unwrap();
        // Nonces are not exposed; the role is `initiator`.
        let e = OwnedEvent::of(Event::SessionOpened {
            session: SessionHandle(1),
            role: Role::Initiator,
            far_address: addr,
            far_peer_id: None,
            near_nonce: vec![1],
            far_nonce: vec![2],
        })
        .unwrap();
        assert!(e.event.initiator && !e.event.has_peer_id && e.event.data.is_null());
        // An _error's level comes from its info object.
        let e = OwnedEvent::of(ClientEvent::CallResult {
            transaction_id: 8.0,
            ok: false,
            response: Command::error(8.0, Value::Null, StatusInfo::error("X.Y", "z").to_value()),
        })
        .unwrap();
        assert_eq!(text(e.event.status_level).as_deref(), Some("error"));
        assert_eq!(text(e.event.status_description).as_deref(), Some("z"));
        // A subscriber's record: no rtmp_stream_id.
        let e = OwnedEvent::of(ClientEvent::PeerConnect {
            peer: PeerStreamInfo {
                id: PeerStreamId(5),
                stream: Some(StreamId(1)),
                name: "cam".into(),
                far_id: Some([7; 32]),
                far_address: addr,
                session: SessionHandle(8),
                stream_id: 3,
                accepted: false,
                media_sent: 0,
            },
        })
        .unwrap();
        let ev = &e.event;
        assert_eq!((ev.peer_stream, ev.stream, ev.session), (5, 1, 8));
        assert_eq!((ev.rtmp_stream_id, ev.peer_id), (0, [7; 32]));
        assert_eq!(text(ev.name).as_deref(), Some("cam"));
        assert_eq!(text(ev.address.as_ptr()).as_deref(), Some("10.0.0.1:5"));
        // A client's key is `text` when it connects, not when it leaves.
        let client = ClientInfo {
            session: SessionHandle(4),
            peer_id: None,
            address: addr,
            addresses: vec![addr],
            connected: true,
            behind_nat: None,
            app: "live".into(),
            key: Some("k".into()),
            names: vec![],
            publishing: vec![],
            playing: vec![],
            media_in: 0,
        };
        let e = OwnedEvent::of(ServerEvent::Connected {
            client: client.clone(),
        })
        .unwrap();
        assert_eq!(text(e.event.text).as_deref(), Some("k"));
        assert_eq!(text(e.event.app).as_deref(), Some("live"));
        let e = OwnedEvent::of(ServerEvent::Disconnected { client }).unwrap();
        assert!(e.event.text.is_null());
        // Asks.
        let e = OwnedEvent::of(ServerEvent::Asked {
            id: 10,
            request: AskRequest::Publish(StreamRequest {
                session: SessionHandle(1),
                peer_id: None,
                address: addr,
                app: "app".into(),
                name: "cam".into(),
                stream_id: 6,
            }),
        })
        .unwrap();
        let ev = &e.event;
        assert_eq!(
            (ev.ask_id, ev.ask_kind, ev.rtmp_stream_id),
            (10, rtmfp_ask_kind::Publish, 6)
        );
        assert!(ev.text.is_null());
        let e = OwnedEvent::of(ServerEvent::AskEnded {
            id: 10,
            end: AskEnd::Answered,
        })
        .unwrap();
        assert_eq!(e.event.reason, rtmfp_ask_end::Expired as i32);
    }
}
