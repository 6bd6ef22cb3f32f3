//! `rtmfp_event`: what an endpoint reports, polled or by callback.

use std::collections::HashSet;
use std::ffi::{c_char, c_int, c_void, CString};
use std::net::SocketAddr;
use std::sync::{Mutex, PoisonError};

use rtmfp_core::crypto::PeerId;
use rtmfp_core::endpoint::{CloseReason, Event, OpenFailure, Role};
use rtmfp_core::flash::client::PeerStreamInfo;
use rtmfp_core::flash::command::decode_values;
use rtmfp_core::flash::peer_id::from_hex;
use rtmfp_core::flash::{ClientEvent, StatusInfo, Value};
use rtmfp_core::rendezvous::{AskEnd, AskKind, AskRequest, ClientInfo, ServerEvent};

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
    /// ended). `peer_stream`, `stream` (0 if it played none), `text`: why.
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

/// Collects the strings of an event while it is built.
#[derive(Default)]
struct Strings(Vec<CString>);

impl Strings {
    /// A pointer to a copy of `s` that lives as long as the event.
    fn add(&mut self, s: &str) -> *const c_char {
        let c = cstring(s);
        // The CString's heap buffer does not move when it is moved.
        let p = c.as_ptr();
        self.0.push(c);
        p
    }

    fn opt(&mut self, s: Option<&str>) -> *const c_char {
        s.map_or(std::ptr::null(), |s| self.add(s))
    }
}

/// "ip:port,ip:port,..."
fn join_addrs(addrs: &[SocketAddr]) -> String {
    addrs
        .iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(",")
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

fn set_peer_id(ev: &mut rtmfp_event, id: Option<PeerId>) {
    if let Some(id) = id {
        ev.has_peer_id = true;
        ev.peer_id = id;
    }
}

fn set_status(ev: &mut rtmfp_event, strings: &mut Strings, info: &StatusInfo) {
    ev.status_level = strings.add(&info.level);
    ev.status_code = strings.add(&info.code);
    ev.status_description = strings.add(&info.description);
}

fn set_subscriber(ev: &mut rtmfp_event, strings: &mut Strings, peer: &PeerStreamInfo) {
    ev.peer_stream = peer.id.0;
    ev.stream = peer.stream.map_or(0, |s| s.0);
    ev.session = peer.session.0;
    ev.name = strings.add(&peer.name);
    set_peer_id(ev, peer.far_id);
    fill_array(&mut ev.address, &peer.far_address.to_string());
}

fn set_client(ev: &mut rtmfp_event, strings: &mut Strings, client: &ClientInfo) {
    ev.session = client.session.0;
    set_peer_id(ev, client.peer_id);
    fill_array(&mut ev.address, &client.address.to_string());
    ev.app = strings.add(&client.app);
}

impl OwnedEvent {
    fn finish(mut ev: rtmfp_event, data: Vec<u8>, tag: Vec<u8>, strings: Strings) -> Box<Self> {
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
            strings: strings.0,
        })
    }

    /// The C form of a NetConnection event; `None` for events the C API
    /// does not report (user control events, keepalive timers).
    pub(crate) fn from_client(e: ClientEvent) -> Option<Box<OwnedEvent>> {
        use rtmfp_event_type as T;
        let mut strings = Strings::default();
        let mut data = Vec::new();
        let ev = match e {
            ClientEvent::Status { stream, info } => {
                let mut ev = blank(T::Netstatus);
                ev.stream = stream.map_or(0, |s| s.0);
                set_status(&mut ev, &mut strings, &info);
                ev
            }
            ClientEvent::StreamCreated { stream, stream_id } => {
                let mut ev = blank(T::StreamCreated);
                ev.stream = stream.0;
                ev.rtmp_stream_id = stream_id;
                ev
            }
            ClientEvent::Media {
                stream,
                message_type,
                timestamp,
                payload,
            } => {
                let mut ev = blank(T::Media);
                ev.stream = stream.0;
                ev.media_type = message_type;
                ev.timestamp = timestamp;
                if matches!(message_type, 15 | 18) {
                    if let Ok(values) = decode_values(message_type, &payload) {
                        if let Some(handler) = values.first().and_then(Value::as_str) {
                            ev.name = strings.add(handler);
                            ev.text = strings.opt(values.get(1).and_then(Value::as_str));
                        }
                    }
                }
                data = payload;
                ev
            }
            ClientEvent::Command { stream, command } => {
                let mut ev = blank(T::Command);
                ev.stream = stream.map_or(0, |s| s.0);
                ev.name = strings.add(&command.name);
                ev.text = strings.opt(command.args.first().and_then(Value::as_str));
                ev
            }
            ClientEvent::CallResult {
                transaction_id,
                ok,
                response,
            } => {
                let mut ev = blank(T::CallResult);
                ev.call_id = transaction_id as u64;
                ev.ok = ok;
                let first = response.args.first();
                if let Some(text) = first.and_then(Value::as_str) {
                    ev.text = strings.add(text);
                    if ok {
                        set_peer_id(&mut ev, from_hex(text));
                    }
                }
                if let Some(info) = response.status_info() {
                    set_status(&mut ev, &mut strings, &info);
                }
                ev
            }
            ClientEvent::PeerConnect { peer } => {
                let mut ev = blank(T::PeerConnect);
                set_subscriber(&mut ev, &mut strings, &peer);
                ev
            }
            ClientEvent::PeerStreamOpened { peer } => {
                let mut ev = blank(T::PeerStreamOpened);
                set_subscriber(&mut ev, &mut strings, &peer);
                ev
            }
            ClientEvent::PeerStreamClosed {
                peer,
                stream,
                reason,
            } => {
                let mut ev = blank(T::PeerStreamClosed);
                ev.peer_stream = peer.0;
                ev.stream = stream.map_or(0, |s| s.0);
                ev.text = strings.add(&reason);
                ev
            }
            ClientEvent::UserControl { .. } | ClientEvent::KeepaliveTimers { .. } => return None,
        };
        Some(Self::finish(ev, data, Vec::new(), strings))
    }

    /// The C form of a rendezvous server event.
    pub(crate) fn from_server(e: ServerEvent) -> Box<OwnedEvent> {
        use rtmfp_event_type as T;
        let mut strings = Strings::default();
        let ev = match e {
            ServerEvent::Connected { client } => {
                let mut ev = blank(T::ServerConnected);
                set_client(&mut ev, &mut strings, &client);
                ev.text = strings.opt(client.key.as_deref());
                ev
            }
            ServerEvent::Disconnected { client } => {
                let mut ev = blank(T::ServerDisconnected);
                set_client(&mut ev, &mut strings, &client);
                ev
            }
            ServerEvent::Rejected {
                session,
                peer_id,
                reason,
            } => {
                let mut ev = blank(T::ServerConnectRejected);
                ev.session = session.0;
                set_peer_id(&mut ev, peer_id);
                ev.text = strings.add(&reason);
                ev
            }
            ServerEvent::PeerInfo {
                session,
                peer_id,
                addresses,
            } => {
                let mut ev = blank(T::ServerPeerInfo);
                ev.session = session.0;
                set_peer_id(&mut ev, peer_id);
                ev.text = strings.add(&join_addrs(&addresses));
                ev
            }
            ServerEvent::Published { session, name } => {
                let mut ev = blank(T::ServerPublished);
                ev.session = session.0;
                ev.name = strings.add(&name);
                ev
            }
            ServerEvent::Unpublished { session, name } => {
                let mut ev = blank(T::ServerUnpublished);
                ev.session = session.0;
                ev.name = strings.add(&name);
                ev
            }
            ServerEvent::Playing { session, name } => {
                let mut ev = blank(T::ServerPlaying);
                ev.session = session.0;
                ev.name = strings.add(&name);
                ev
            }
            ServerEvent::StreamRejected {
                session,
                name,
                reason,
            } => {
                let mut ev = blank(T::ServerStreamRejected);
                ev.session = session.0;
                ev.name = strings.add(&name);
                ev.text = strings.add(&reason);
                ev
            }
            ServerEvent::Introduced {
                initiator,
                target,
                addresses,
            } => {
                let mut ev = blank(T::ServerIntroduced);
                fill_array(&mut ev.address, &initiator.to_string());
                set_peer_id(&mut ev, Some(target));
                ev.text = strings.add(&join_addrs(&addresses));
                ev
            }
            ServerEvent::NameRegistered { peer_id, name } => {
                let mut ev = blank(T::ServerNameRegistered);
                set_peer_id(&mut ev, Some(peer_id));
                ev.name = strings.add(&name);
                ev
            }
            ServerEvent::Asked { id, request } => {
                let mut ev = blank(T::ServerAsk);
                ev.ask_id = id;
                let kind = match request.kind() {
                    AskKind::Connect => rtmfp_ask_kind::Connect,
                    AskKind::Publish => rtmfp_ask_kind::Publish,
                    AskKind::Play => rtmfp_ask_kind::Play,
                };
                match request {
                    AskRequest::Connect(r) => {
                        ev.ask_kind = rtmfp_ask_kind::Connect;
                        ev.session = r.session.0;
                        set_peer_id(&mut ev, r.peer_id);
                        fill_array(&mut ev.address, &r.address.to_string());
                        ev.app = strings.add(&r.app);
                        ev.text = strings.opt(r.key.as_deref());
                    }
                    AskRequest::Publish(r) | AskRequest::Play(r) => {
                        ev.ask_kind = kind;
                        ev.session = r.session.0;
                        set_peer_id(&mut ev, r.peer_id);
                        fill_array(&mut ev.address, &r.address.to_string());
                        ev.app = strings.add(&r.app);
                        ev.name = strings.add(&r.name);
                        ev.rtmp_stream_id = r.stream_id;
                    }
                }
                ev
            }
            ServerEvent::AskEnded { id, end } => {
                let mut ev = blank(T::ServerAskEnded);
                ev.ask_id = id;
                ev.reason = match end {
                    AskEnd::Expired | AskEnd::Answered => rtmfp_ask_end::Expired as i32,
                    AskEnd::Gone => rtmfp_ask_end::Gone as i32,
                };
                ev
            }
        };
        Self::finish(ev, Vec::new(), Vec::new(), strings)
    }

    /// The C form of `e`.
    pub(crate) fn new(e: Event) -> Box<OwnedEvent> {
        let mut ev = blank(rtmfp_event_type::SessionOpened);
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
                    OpenFailure::Unreachable(address) => {
                        fill_array(&mut ev.address, &address.to_string());
                        rtmfp_open_failure::Unreachable
                    }
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
        Self::finish(ev, data, tag, Strings::default())
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
    use rtmfp_core::endpoint::SessionHandle;
    use std::ffi::CStr;

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
        let e = OwnedEvent::from_client(ClientEvent::Status {
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
        let e = OwnedEvent::from_client(ClientEvent::Media {
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
        let e = OwnedEvent::from_client(ClientEvent::Media {
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
        let e = OwnedEvent::from_client(ClientEvent::CallResult {
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
        let e = OwnedEvent::from_client(ClientEvent::CallResult {
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
        assert!(OwnedEvent::from_client(ClientEvent::KeepaliveTimers {
            server: std::time::Duration::from_secs(1),
            peer: std::time::Duration::from_secs(1),
        })
        .is_none());

        // Server events.
        let e = OwnedEvent::from_server(ServerEvent::Introduced {
            initiator: "127.0.0.1:5".parse().unwrap(),
            target: id,
            addresses: vec!["10.0.0.1:1".parse().unwrap(), "[::1]:2".parse().unwrap()],
        });
        assert_eq!(e.event.r#type, rtmfp_event_type::ServerIntroduced);
        assert_eq!(text(e.event.text).as_deref(), Some("10.0.0.1:1,[::1]:2"));
        assert_eq!(
            text(e.event.address.as_ptr()).as_deref(),
            Some("127.0.0.1:5")
        );
        let e = OwnedEvent::from_server(ServerEvent::NameRegistered {
            peer_id: id,
            name: "alice".into(),
        });
        assert_eq!(text(e.event.name).as_deref(), Some("alice"));
        assert!(e.event.has_peer_id);
    }
}
