//! What the addon hands the JS thread: endpoint events, Flash client and
//! rendezvous server events, replies to requests, and the end of the
//! stream.
//!
//! [`Item`] is the Rust side (plain data, `Send`), made on the I/O
//! thread or the dispatcher thread; [`NativeItem`] makes its JS form on
//! the JS thread in the threadsafe function's callback: events (and the
//! server's lists) from core's description ([`crate::events`]), the
//! other replies and `end` as [`Plain`].  In JS an item is an object
//! whose `type` says which (`'sessionOpened'`, `'reply'`, ...); ids are
//! numbers, payloads Buffers (handed over without a copy).

use crate::convert::{hex, num, to_millis};
use crate::errors::{describe, Code};
use napi::bindgen_prelude::ToNapiValue;
use napi::sys;
use napi_derive::napi;
use rtmfp_core::crypto::PeerId;
use rtmfp_core::endpoint::{DropReason, Event, SessionInfo};
use rtmfp_core::flash::ClientEvent;
use rtmfp_core::host::{Describe, Description, Field, Value};
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
    /// Naps while datagrams were dense (the `recvCoalesce` option).
    pub coalesced_wakeups: f64,
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

/// An item as the JS callback receives it; `type` tells which.  The
/// variants here are the replies and `end`; events are objects made from
/// rtmfp-core's description of the event (`host::describe`, converted in
/// `src/events.rs`), and so are `clientsReply` and `streamsReply`.
///
/// - `reply`: the result of request `request`: `value` (a session, flow or
///   message number) or an error `code` and `message`;
/// - `statsReply`, `sessionStatsReply`: the results of `stats` and
///   `sessionStats` (`stats` absent: the session is not open);
/// - `clientsReply`, `streamsReply` (a server's `sessions` and `streams`)
///   and every event: `type` is the camelCase of the description's kind
///   (renamed where Node's name differs), its fields camelCase keys;
/// - `end`: nothing follows: the runtime stopped and every event was
///   handed over.
#[napi(
    js_name = "NativeItem",
    discriminant = "type",
    discriminant_case = "camelCase"
)]
pub enum Plain {
    /// The result of request `request`: `value` (a session, flow or
    /// message number) or an error `code` and `message`.
    Reply {
        request: u32,
        value: Option<f64>,
        code: Option<String>,
        message: Option<String>,
    },
    /// The result of a `stats` request.
    StatsReply { request: u32, stats: NativeStats },
    /// The result of a `sessionStats` request (absent: not open).
    SessionStatsReply {
        request: u32,
        stats: Option<NativeSessionStats>,
    },
    /// The session to the server opened: its peer ID and nonces (hex).
    ServerSession {
        far_id: Option<String>,
        near_nonce: String,
        far_nonce: String,
        far_address: String,
    },
    /// Nothing follows: the runtime stopped and every event was handed
    /// over.
    End {},
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
            coalesced_wakeups: num(io.coalesced_wakeups),
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

/// An item on its way to JS: events and the server's lists through
/// core's description, the others as [`Plain`].
pub struct NativeItem(Item);

impl From<Item> for NativeItem {
    fn from(item: Item) -> NativeItem {
        NativeItem(item)
    }
}

/// A reply carrying a list of records.
fn list_reply(
    kind: &'static str,
    request: u32,
    name: &'static str,
    list: Vec<Value>,
) -> Description {
    Description {
        kind,
        fields: vec![
            Field {
                name: "request",
                value: Value::from(request),
            },
            Field {
                name,
                value: Value::List(list),
            },
        ],
    }
}

fn records<T: Describe>(list: Vec<T>) -> Vec<Value> {
    list.into_iter()
        .map(|r| Value::Record(r.describe()))
        .collect()
}

/// What JS receives for an item: a description (with the JS key of a
/// Flash client event's NetStream, see [`crate::events::event`]) or a
/// [`Plain`] item.  Made and consumed at once, never stored: its size
/// does not matter.
#[allow(clippy::large_enum_variant)]
enum Js {
    Described(Description, Option<Option<u32>>),
    Plain(Plain),
}

fn js(item: Item) -> Js {
    let reply = |request, value, code, message| {
        Js::Plain(Plain::Reply {
            request,
            value,
            code,
            message,
        })
    };
    match item {
        Item::Event(event) => Js::Described(event.describe(), None),
        Item::Client { event, stream } => Js::Described(event.describe(), Some(stream)),
        Item::Server(event) => Js::Described(event.describe(), None),
        Item::Reply { request, result } => match result {
            Ok(ReplyValue::None) => reply(request, None, None, None),
            Ok(ReplyValue::Id(id)) => reply(request, Some(num(id)), None, None),
            Err((code, message)) => {
                reply(request, None, Some(code.as_str().to_owned()), Some(message))
            }
            Ok(ReplyValue::Stats(s)) => Js::Plain(Plain::StatsReply {
                request,
                stats: stats(&s),
            }),
            Ok(ReplyValue::Session(info)) => Js::Plain(Plain::SessionStatsReply {
                request,
                stats: info.as_deref().map(session_stats),
            }),
            Ok(ReplyValue::Clients(list)) => Js::Described(
                list_reply("clients_reply", request, "clients", records(list)),
                None,
            ),
            Ok(ReplyValue::Streams(list)) => Js::Described(
                list_reply("streams_reply", request, "streams", records(list)),
                None,
            ),
        },
        Item::ServerSession {
            far_id,
            near_nonce,
            far_nonce,
            far_address,
        } => Js::Plain(Plain::ServerSession {
            far_id: far_id.map(|id| hex(&id)),
            near_nonce: hex(&near_nonce),
            far_nonce: hex(&far_nonce),
            far_address: far_address.to_string(),
        }),
        Item::End => Js::Plain(Plain::End {}),
    }
}

impl ToNapiValue for NativeItem {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        // SAFETY: the caller's contract (a valid env, on its thread).
        unsafe {
            match js(val.0) {
                Js::Described(d, stream) => crate::events::event(env, d, stream),
                Js::Plain(item) => Plain::to_napi_value(env, item),
            }
        }
    }
}
