//! What the addon hands the JS thread: endpoint events, Flash client and
//! rendezvous server events, replies to requests, and the end of the
//! stream.
//!
//! [`Item`] is the Rust side (plain data, `Send`), made on the I/O
//! thread or the dispatcher thread; [`NativeItem`] is its JS form, made on
//! the JS thread in the threadsafe function's callback.  In JS an item is
//! an object whose `type` says which (`'sessionOpened'`, `'reply'`, ...);
//! ids are numbers, payloads Buffers (handed over without a copy).

use crate::amf::Amf;
use crate::convert::{hex, num, to_millis};
use crate::errors::{describe, open_failure_name, Code};
use crate::flash_items::{NativeClientInfo, NativePeerStream, NativeServerStream};
use napi::bindgen_prelude::Buffer;
use napi_derive::napi;
use rtmfp_core::crypto::PeerId;
use rtmfp_core::endpoint::{CloseReason, DropReason, Event, OpenFailure, Role, SessionInfo};
use rtmfp_core::flash::ClientEvent;
use rtmfp_core::rendezvous::{ClientInfo, ServerEvent, StreamInfo};
use rtmfp_core::runtime::{RuntimeError, RuntimeStats};
use std::collections::HashMap;
use std::net::SocketAddr;

/// What a request produced.
#[derive(Debug)]
pub enum ReplyValue {
    /// Nothing (accept, close, ...).
    None,
    /// A session, flow or message number.
    Id(u64),
    /// `Handle::stats`.
    Stats(Box<RuntimeStats>),
    /// `Handle::session_info` (`None`: not open).
    Session(Option<Box<SessionInfo>>),
    /// The rendezvous server's clients.
    Clients(Vec<ClientInfo>),
    /// The streams published to the rendezvous server.
    Streams(Vec<StreamInfo>),
}

/// One thing for the JS thread.
#[derive(Debug)]
pub enum Item {
    Event(Event),
    /// A Flash client event; `stream` is the JS key of the NetStream it is
    /// about (its `StreamId`s are the client's own numbers).
    Client {
        event: ClientEvent,
        stream: Option<u32>,
    },
    /// The session to the server opened (a NetConnection's `farID` and
    /// nonces).
    ServerSession {
        far_id: Option<PeerId>,
        near_nonce: Vec<u8>,
        far_nonce: Vec<u8>,
        far_address: SocketAddr,
    },
    /// A rendezvous server event.
    Server(ServerEvent),
    Reply {
        request: u32,
        result: Result<ReplyValue, (Code, String)>,
    },
    /// The runtime has stopped and every event was handed over: nothing
    /// follows.
    End,
}

impl Item {
    pub fn reply(request: u32, result: Result<ReplyValue, RuntimeError>) -> Item {
        Item::Reply {
            request,
            result: result.map_err(|e| describe(&e)),
        }
    }

    pub fn failed(request: u32, code: Code, message: impl Into<String>) -> Item {
        Item::Reply {
            request,
            result: Err((code, message.into())),
        }
    }
}

/// An endpoint's counters (`endpoint.stats()`).
#[napi(object)]
pub struct NativeStats {
    /// Open sessions.
    pub sessions: f64,
    /// Sessions being opened.
    pub openings: f64,
    /// Events waiting in the runtime's queue.
    pub queued_events: f64,
    pub sessions_opened: f64,
    pub datagrams_in: f64,
    pub datagrams_out: f64,
    pub bytes_in: f64,
    pub bytes_out: f64,
    /// Dropped datagrams by reason (only reasons that occurred).
    pub drops: HashMap<String, f64>,
    /// The I/O thread's own counters.
    pub io: NativeIoStats,
}

/// The I/O thread's counters.
#[napi(object)]
pub struct NativeIoStats {
    pub recv_syscalls: f64,
    pub recv_datagrams: f64,
    pub recv_bytes: f64,
    pub send_syscalls: f64,
    pub send_datagrams: f64,
    pub send_bytes: f64,
    pub send_dropped: f64,
    pub gso_sends: f64,
    pub recv_errors: f64,
    pub send_errors: f64,
    pub icmp_errors: f64,
    pub loop_iterations: f64,
    pub commands: f64,
    pub events: f64,
    pub event_backpressure: f64,
    /// Longest time one datagram held the loop, in ms.
    pub max_handle_datagram: f64,
    pub batch_io: bool,
    pub gso: bool,
}

/// A session's counters and RTT estimates (`session.stats()`); times in ms.
#[napi(object)]
pub struct NativeSessionStats {
    pub packets_in: f64,
    pub packets_out: f64,
    pub bytes_in: f64,
    pub bytes_out: f64,
    pub srtt: Option<f64>,
    pub rttvar: f64,
    pub erto: f64,
    pub keepalives_sent: f64,
    pub address_changes: f64,
    pub cwnd: f64,
    pub bytes_in_flight: f64,
    pub loss_events: f64,
    pub timeouts: f64,
    pub retransmissions: f64,
    pub data_bytes_sent: f64,
    pub data_bytes_delivered: f64,
}

/// An item as the JS callback receives it; `type` tells which.
///
/// - `reply`: the result of request `request`: `value` (a session, flow or
///   message number) or an error `code` and `message`;
/// - `statsReply`, `sessionStatsReply`: the results of `stats` and
///   `sessionStats` (`stats` absent: the session is not open);
/// - `sessionOpened.role`: `'initiator'` or `'responder'`;
/// - `sessionOpenFailed.reason`: `'timeout'`, `'duplicate'` (then
///   `duplicateOf` is the session to use), `'keyingFailed'`,
///   `'cancelled'` or `'unreachable'` (then `address` is the address that
///   answered with an ICMP unreachable);
/// - `sessionClosed.reason`: `'local'`, `'localAbrupt'`, `'remote'`,
///   `'idleTimeout'` or `'overridden'`;
/// - the others are `rtmfp_core::endpoint::Event`s, fields renamed;
/// - `end`: nothing follows: the runtime stopped and every event was
///   handed over.
#[napi(discriminant = "type", discriminant_case = "camelCase")]
pub enum NativeItem {
    /// The result of request `request`: `value` (a session, flow or
    /// message number) or an error `code` and `message`.
    Reply {
        request: u32,
        value: Option<f64>,
        code: Option<String>,
        message: Option<String>,
    },
    /// The result of a `stats` request.
    StatsReply {
        request: u32,
        stats: NativeStats,
    },
    /// The result of a `sessionStats` request (absent: not open).
    SessionStatsReply {
        request: u32,
        stats: Option<NativeSessionStats>,
    },
    SessionOpened {
        session: f64,
        role: String,
        far_address: String,
        far_peer_id: Option<String>,
        near_nonce: Buffer,
        far_nonce: Buffer,
    },
    SessionOpenFailed {
        session: f64,
        reason: String,
        duplicate_of: Option<f64>,
        address: Option<String>,
    },
    SessionClosed {
        session: f64,
        reason: String,
    },
    FlowOpened {
        session: f64,
        flow: f64,
        metadata: Buffer,
        association: Option<f64>,
    },
    Message {
        session: f64,
        flow: f64,
        data: Buffer,
        gap_before: bool,
    },
    FlowFinished {
        session: f64,
        flow: f64,
    },
    MessageDelivered {
        session: f64,
        flow: f64,
        message: f64,
    },
    MessageAbandoned {
        session: f64,
        flow: f64,
        message: f64,
    },
    FlowWritable {
        session: f64,
        flow: f64,
    },
    FlowRejected {
        session: f64,
        flow: f64,
        code: f64,
    },
    FlowComplete {
        session: f64,
        flow: f64,
    },
    UnmatchedIHello {
        epd: Buffer,
        tag: Buffer,
        address: String,
    },
    FarAddressChanged {
        session: f64,
        from: String,
        to: String,
    },
    /// The result of a server's `sessions` request.
    ClientsReply {
        request: u32,
        clients: Vec<NativeClientInfo>,
    },
    /// The result of a server's `streams` request.
    StreamsReply {
        request: u32,
        streams: Vec<NativeServerStream>,
    },
    // ----- NetConnection (Flash client) -----
    /// A status event of the NetConnection (`stream` absent) or of the
    /// NetStream with key `stream`; `extra` holds the info object's other
    /// members.
    NetStatus {
        stream: Option<u32>,
        level: String,
        code: String,
        description: String,
        #[napi(ts_type = "Record<string, unknown>")]
        extra: Amf,
    },
    /// A message of a stream being played: audio (8), video (9), data
    /// (18, 15: then `values` are its decoded AMF values) or other.
    Media {
        stream: u32,
        message_type: u32,
        timestamp: f64,
        data: Buffer,
        #[napi(ts_type = "unknown[]")]
        values: Option<Vec<Amf>>,
    },
    /// A command from the far end that the client does not handle.
    Command {
        stream: Option<u32>,
        name: String,
        #[napi(ts_type = "unknown[]")]
        args: Vec<Amf>,
    },
    /// The answer to `call` (transaction `transactionId`): `_result`
    /// (`ok`) or `_error`, with the response's arguments and, for an
    /// error, its status code and description.
    CallResult {
        transaction_id: f64,
        ok: bool,
        #[napi(ts_type = "unknown[]")]
        args: Vec<Amf>,
        code: Option<String>,
        description: Option<String>,
    },
    /// A subscriber asks to play our DIRECT_CONNECTIONS stream `stream`:
    /// answer with `acceptPeer` or `rejectPeer`.
    PeerConnect {
        stream: Option<u32>,
        peer: NativePeerStream,
    },
    /// A subscriber was accepted and is sent the stream.
    PeerStreamOpened {
        stream: Option<u32>,
        peer: NativePeerStream,
    },
    /// A subscriber is gone (rejected, closed by it, its session ended).
    PeerStreamClosed {
        stream: Option<u32>,
        peer: f64,
        reason: String,
    },
    /// The server answered `createStream` for NetStream `stream`.
    StreamCreated {
        stream: u32,
        stream_id: u32,
    },
    /// A user control event (RTMP type 4) of type `eventType`.
    UserControl {
        stream: Option<u32>,
        event_type: u32,
    },
    /// Keepalive periods (ms) set by the server's Set Keepalive Timers.
    KeepaliveTimers {
        server: f64,
        peer: f64,
    },
    /// The session to the server opened: its peer ID and nonces (hex).
    ServerSession {
        far_id: Option<String>,
        near_nonce: String,
        far_nonce: String,
        far_address: String,
    },
    // ----- rendezvous server -----
    /// A client connected.
    ClientConnected {
        client: NativeClientInfo,
    },
    /// A connect was rejected (developer key).
    ClientRejected {
        session: f64,
        peer_id: Option<String>,
        reason: String,
    },
    /// A client sent `setPeerInfo`.
    ClientPeerInfo {
        session: f64,
        peer_id: Option<String>,
        addresses: Vec<String>,
    },
    /// A connected client went away.
    ClientDisconnected {
        client: NativeClientInfo,
    },
    /// A stream was published to the server.
    StreamPublished {
        session: f64,
        name: String,
    },
    /// A stream stopped being published.
    StreamUnpublished {
        session: f64,
        name: String,
    },
    /// A client started playing a stream through the server.
    StreamPlaying {
        session: f64,
        name: String,
    },
    /// A publish or play was refused.
    StreamRejected {
        session: f64,
        name: String,
        reason: String,
    },
    /// The server introduced an initiator to a connected peer.
    Introduced {
        initiator: String,
        peer_id: String,
        addresses: Vec<String>,
    },
    /// A client registered a name.
    NameRegistered {
        peer_id: String,
        name: String,
    },
    /// A request waits for the verdict of `onConnect` / `onPublish` /
    /// `onPlay` (core's ask mode): answer with `answerAsk(id, ...)`.
    /// `what`: "connect", "publish" or "play"; `key` for a connect,
    /// `name` and `streamId` for a publish or play.
    ServerAsk {
        id: f64,
        what: String,
        session: f64,
        peer_id: Option<String>,
        address: String,
        app: String,
        key: Option<String>,
        name: Option<String>,
        stream_id: Option<u32>,
    },
    /// An ask ended without a verdict: "expired" or "gone".
    ServerAskEnded {
        id: f64,
        end: String,
    },
    /// Nothing follows: the runtime stopped and every event was handed
    /// over.
    End {},
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Initiator => "initiator",
        Role::Responder => "responder",
    }
}

fn close_reason_name(reason: CloseReason) -> &'static str {
    match reason {
        CloseReason::Local => "local",
        CloseReason::LocalAbrupt => "localAbrupt",
        CloseReason::Remote => "remote",
        CloseReason::IdleTimeout => "idleTimeout",
        CloseReason::Overridden => "overridden",
    }
}

fn stats(s: &RuntimeStats) -> NativeStats {
    let e = &s.endpoint;
    let io = &s.io;
    let drops = DropReason::ALL
        .iter()
        .filter(|r| e.drops.get(**r) > 0)
        .map(|r| (r.name().to_owned(), num(e.drops.get(*r))))
        .collect();
    NativeStats {
        sessions: s.sessions as f64,
        openings: s.openings as f64,
        queued_events: s.queued_events as f64,
        sessions_opened: num(e.sessions_opened),
        datagrams_in: num(e.datagrams_in),
        datagrams_out: num(e.datagrams_out),
        bytes_in: num(e.bytes_in),
        bytes_out: num(e.bytes_out),
        drops,
        io: NativeIoStats {
            recv_syscalls: num(io.recv_syscalls),
            recv_datagrams: num(io.recv_datagrams),
            recv_bytes: num(io.recv_bytes),
            send_syscalls: num(io.send_syscalls),
            send_datagrams: num(io.send_datagrams),
            send_bytes: num(io.send_bytes),
            send_dropped: num(io.send_dropped),
            gso_sends: num(io.gso_sends),
            recv_errors: num(io.recv_errors.total()),
            send_errors: num(io.send_errors.total()),
            icmp_errors: num(io.icmp_errors.total()),
            loop_iterations: num(io.loop_iterations),
            commands: num(io.commands),
            events: num(io.events),
            event_backpressure: num(io.event_backpressure),
            max_handle_datagram: to_millis(io.max_handle_datagram),
            batch_io: io.batch_io,
            gso: io.gso,
        },
    }
}

fn session_stats(info: &SessionInfo) -> NativeSessionStats {
    let s = &info.stats;
    NativeSessionStats {
        packets_in: num(s.packets_in),
        packets_out: num(s.packets_out),
        bytes_in: num(s.bytes_in),
        bytes_out: num(s.bytes_out),
        srtt: s.srtt.map(to_millis),
        rttvar: to_millis(s.rttvar),
        erto: to_millis(s.erto),
        keepalives_sent: num(s.keepalives_sent),
        address_changes: num(s.address_changes),
        cwnd: s.flows.cwnd as f64,
        bytes_in_flight: s.flows.bytes_in_flight as f64,
        loss_events: num(s.flows.loss_events),
        timeouts: num(s.flows.timeouts),
        retransmissions: num(s.flows.retransmissions),
        data_bytes_sent: num(s.flows.data_bytes_sent),
        data_bytes_delivered: num(s.flows.data_bytes_delivered),
    }
}

impl From<Item> for NativeItem {
    fn from(item: Item) -> NativeItem {
        match item {
            Item::Event(event) => event.into(),
            Item::Reply { request, result } => match result {
                Ok(ReplyValue::None) => NativeItem::Reply {
                    request,
                    value: None,
                    code: None,
                    message: None,
                },
                Ok(ReplyValue::Id(id)) => NativeItem::Reply {
                    request,
                    value: Some(num(id)),
                    code: None,
                    message: None,
                },
                Ok(ReplyValue::Stats(s)) => NativeItem::StatsReply {
                    request,
                    stats: stats(&s),
                },
                Ok(ReplyValue::Session(info)) => NativeItem::SessionStatsReply {
                    request,
                    stats: info.as_deref().map(session_stats),
                },
                Ok(ReplyValue::Clients(list)) => NativeItem::ClientsReply {
                    request,
                    clients: list.into_iter().map(NativeClientInfo::from).collect(),
                },
                Ok(ReplyValue::Streams(list)) => NativeItem::StreamsReply {
                    request,
                    streams: list.into_iter().map(NativeServerStream::from).collect(),
                },
                Err((code, message)) => NativeItem::Reply {
                    request,
                    value: None,
                    code: Some(code.as_str().to_owned()),
                    message: Some(message),
                },
            },
            Item::Client { event, stream } => crate::flash_items::client_item(event, stream),
            Item::ServerSession {
                far_id,
                near_nonce,
                far_nonce,
                far_address,
            } => NativeItem::ServerSession {
                far_id: far_id.map(|id| hex(&id)),
                near_nonce: hex(&near_nonce),
                far_nonce: hex(&far_nonce),
                far_address: far_address.to_string(),
            },
            Item::Server(event) => crate::flash_items::server_item(event),
            Item::End => NativeItem::End {},
        }
    }
}

impl From<Event> for NativeItem {
    fn from(event: Event) -> NativeItem {
        match event {
            Event::SessionOpened {
                session,
                role,
                far_address,
                far_peer_id,
                near_nonce,
                far_nonce,
            } => NativeItem::SessionOpened {
                session: num(session.0),
                role: role_name(role).to_owned(),
                far_address: far_address.to_string(),
                far_peer_id: far_peer_id.map(|id| hex(&id)),
                near_nonce: near_nonce.into(),
                far_nonce: far_nonce.into(),
            },
            Event::SessionOpenFailed { session, reason } => NativeItem::SessionOpenFailed {
                session: num(session.0),
                reason: open_failure_name(reason).to_owned(),
                duplicate_of: match reason {
                    OpenFailure::Duplicate(other) => Some(num(other.0)),
                    _ => None,
                },
                address: match reason {
                    OpenFailure::Unreachable(a) => Some(a.to_string()),
                    _ => None,
                },
            },
            Event::SessionClosed { session, reason } => NativeItem::SessionClosed {
                session: num(session.0),
                reason: close_reason_name(reason).to_owned(),
            },
            Event::FlowOpened {
                session,
                flow,
                metadata,
                association,
            } => NativeItem::FlowOpened {
                session: num(session.0),
                flow: num(flow),
                metadata: metadata.into(),
                association: association.map(num),
            },
            Event::Message {
                session,
                flow,
                data,
                gap_before,
            } => NativeItem::Message {
                session: num(session.0),
                flow: num(flow),
                data: data.into(),
                gap_before,
            },
            Event::FlowFinished { session, flow } => NativeItem::FlowFinished {
                session: num(session.0),
                flow: num(flow),
            },
            Event::MessageDelivered {
                session,
                flow,
                message,
            } => NativeItem::MessageDelivered {
                session: num(session.0),
                flow: num(flow),
                message: num(message),
            },
            Event::MessageAbandoned {
                session,
                flow,
                message,
            } => NativeItem::MessageAbandoned {
                session: num(session.0),
                flow: num(flow),
                message: num(message),
            },
            Event::FlowWritable { session, flow } => NativeItem::FlowWritable {
                session: num(session.0),
                flow: num(flow),
            },
            Event::FlowRejected {
                session,
                flow,
                code,
            } => NativeItem::FlowRejected {
                session: num(session.0),
                flow: num(flow),
                code: num(code),
            },
            Event::FlowComplete { session, flow } => NativeItem::FlowComplete {
                session: num(session.0),
                flow: num(flow),
            },
            Event::UnmatchedIHello { epd, tag, from } => NativeItem::UnmatchedIHello {
                epd: epd.into(),
                tag: tag.into(),
                address: from.to_string(),
            },
            Event::FarAddressChanged { session, from, to } => NativeItem::FarAddressChanged {
                session: num(session.0),
                from: from.to_string(),
                to: to.to_string(),
            },
        }
    }
}
