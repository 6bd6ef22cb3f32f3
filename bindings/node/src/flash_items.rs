//! Flash client and rendezvous server events as the JS callback receives
//! them (the [`NativeItem`] variants after `end` in `items.rs`), and the
//! objects they carry.

use crate::amf::{to_js, Amf};
use crate::convert::{hex, num, to_millis};
use crate::items::NativeItem;
use napi_derive::napi;
use rtmfp_core::flash::client::PeerStreamInfo;
use rtmfp_core::flash::command::{decode_values, StatusInfo};
use rtmfp_core::flash::message::message_type;
use rtmfp_core::flash::{ClientEvent, Value};
use rtmfp_core::rendezvous::{AskEnd, AskKind, AskRequest, ClientInfo, ServerEvent, StreamInfo};
use std::net::SocketAddr;

/// A subscriber of one of our DIRECT_CONNECTIONS streams.
#[napi(object)]
pub struct NativePeerStream {
    /// Its number (for `acceptPeer` / `rejectPeer`).
    pub id: f64,
    /// The stream name it asked for.
    pub name: String,
    /// The subscriber's peer ID.
    pub far_id: Option<String>,
    /// The subscriber's address.
    pub far_address: String,
    /// The RTMP stream ID of its control flow.
    pub stream_id: u32,
    /// Whether it was accepted.
    pub accepted: bool,
    /// Audio and video messages sent to it so far.
    pub media_sent: f64,
}

impl NativePeerStream {
    fn new(p: PeerStreamInfo) -> NativePeerStream {
        NativePeerStream {
            id: num(p.id.0),
            far_id: p.far_id_hex(),
            name: p.name,
            far_address: p.far_address.to_string(),
            stream_id: p.stream_id,
            accepted: p.accepted,
            media_sent: num(p.media_sent),
        }
    }
}

/// One client of a rendezvous server.
#[napi(object)]
pub struct NativeClientInfo {
    /// Its session number.
    pub session: f64,
    pub peer_id: Option<String>,
    /// The session's far address.
    pub address: String,
    /// Its `setPeerInfo` addresses.
    pub addresses: Vec<String>,
    /// Whether its `connect` succeeded.
    pub connected: bool,
    /// Behind a NAT (its address is not among its own); absent before
    /// `setPeerInfo`.
    pub behind_nat: Option<bool>,
    /// The app of its URI.
    pub app: String,
    /// Its developer key.
    pub key: Option<String>,
    /// Names it registered.
    pub names: Vec<String>,
    /// Streams it publishes through the server.
    pub publishing: Vec<String>,
    /// Streams it plays through the server.
    pub playing: Vec<String>,
    /// Audio and video messages it sent to the server.
    pub media_in: f64,
}

fn addrs(list: &[SocketAddr]) -> Vec<String> {
    list.iter().map(ToString::to_string).collect()
}

impl From<ClientInfo> for NativeClientInfo {
    fn from(c: ClientInfo) -> NativeClientInfo {
        NativeClientInfo {
            session: num(c.session.0),
            peer_id: c.peer_id_hex(),
            address: c.address.to_string(),
            addresses: addrs(&c.addresses),
            connected: c.connected,
            behind_nat: c.behind_nat,
            app: c.app,
            key: c.key,
            names: c.names,
            publishing: c.publishing,
            playing: c.playing,
            media_in: num(c.media_in),
        }
    }
}

/// One stream published to a rendezvous server.
#[napi(object)]
pub struct NativeServerStream {
    pub name: String,
    /// The publisher's session number.
    pub publisher: f64,
    pub publisher_id: Option<String>,
    /// How many clients play it.
    pub players: f64,
    /// Messages and payload bytes received from the publisher.
    pub messages: f64,
    pub bytes: f64,
    /// Messages sent to players.
    pub relayed: f64,
}

impl From<StreamInfo> for NativeServerStream {
    fn from(s: StreamInfo) -> NativeServerStream {
        NativeServerStream {
            name: s.name,
            publisher: num(s.publisher.0),
            publisher_id: s.publisher_id.map(|id| hex(&id)),
            players: s.players as f64,
            messages: num(s.messages),
            bytes: num(s.bytes),
            relayed: num(s.relayed),
        }
    }
}

fn status(stream: Option<u32>, info: StatusInfo) -> NativeItem {
    NativeItem::NetStatus {
        stream,
        level: info.level,
        code: info.code,
        description: info.description,
        extra: Amf(Value::object(info.extra)),
    }
}

/// A Flash client event; `stream` is the JS key of its NetStream.
pub fn client_item(event: ClientEvent, stream: Option<u32>) -> NativeItem {
    match event {
        ClientEvent::Status { info, .. } => status(stream, info),
        ClientEvent::Media {
            message_type,
            timestamp,
            payload,
            ..
        } => {
            let values = match message_type {
                message_type::DATA_AMF0 | message_type::DATA_AMF3 => {
                    decode_values(message_type, &payload).ok().map(to_js)
                }
                _ => None,
            };
            NativeItem::Media {
                stream: stream.unwrap_or(0),
                message_type: message_type.into(),
                timestamp: timestamp.into(),
                data: payload.into(),
                values,
            }
        }
        ClientEvent::Command { command, .. } => NativeItem::Command {
            stream,
            name: command.name,
            args: to_js(command.args),
        },
        ClientEvent::CallResult {
            transaction_id,
            ok,
            response,
        } => {
            let info = response.status_info();
            NativeItem::CallResult {
                transaction_id,
                ok,
                code: info.as_ref().map(|i| i.code.clone()),
                description: info.map(|i| i.description),
                args: to_js(response.args),
            }
        }
        ClientEvent::PeerConnect { peer } => NativeItem::PeerConnect {
            stream,
            peer: NativePeerStream::new(peer),
        },
        ClientEvent::PeerStreamOpened { peer } => NativeItem::PeerStreamOpened {
            stream,
            peer: NativePeerStream::new(peer),
        },
        ClientEvent::PeerStreamClosed { peer, reason, .. } => NativeItem::PeerStreamClosed {
            stream,
            peer: num(peer.0),
            reason,
        },
        ClientEvent::StreamCreated { stream_id, .. } => NativeItem::StreamCreated {
            stream: stream.unwrap_or(0),
            stream_id,
        },
        ClientEvent::UserControl { event, .. } => NativeItem::UserControl {
            stream,
            event_type: event.event_type().into(),
        },
        ClientEvent::KeepaliveTimers { server, peer } => NativeItem::KeepaliveTimers {
            server: to_millis(server),
            peer: to_millis(peer),
        },
    }
}

/// A rendezvous server event.
pub fn server_item(event: ServerEvent) -> NativeItem {
    match event {
        ServerEvent::Connected { client } => NativeItem::ClientConnected {
            client: client.into(),
        },
        ServerEvent::Rejected {
            session,
            peer_id,
            reason,
        } => NativeItem::ClientRejected {
            session: num(session.0),
            peer_id: peer_id.map(|id| hex(&id)),
            reason,
        },
        ServerEvent::PeerInfo {
            session,
            peer_id,
            addresses,
        } => NativeItem::ClientPeerInfo {
            session: num(session.0),
            peer_id: peer_id.map(|id| hex(&id)),
            addresses: addrs(&addresses),
        },
        ServerEvent::Disconnected { client } => NativeItem::ClientDisconnected {
            client: client.into(),
        },
        ServerEvent::Published { session, name } => NativeItem::StreamPublished {
            session: num(session.0),
            name,
        },
        ServerEvent::Unpublished { session, name } => NativeItem::StreamUnpublished {
            session: num(session.0),
            name,
        },
        ServerEvent::Playing { session, name } => NativeItem::StreamPlaying {
            session: num(session.0),
            name,
        },
        ServerEvent::StreamRejected {
            session,
            name,
            reason,
        } => NativeItem::StreamRejected {
            session: num(session.0),
            name,
            reason,
        },
        ServerEvent::Introduced {
            initiator,
            target,
            addresses,
        } => NativeItem::Introduced {
            initiator: initiator.to_string(),
            peer_id: hex(&target),
            addresses: addrs(&addresses),
        },
        ServerEvent::NameRegistered { peer_id, name } => NativeItem::NameRegistered {
            peer_id: hex(&peer_id),
            name,
        },
        ServerEvent::Asked { id, request } => {
            let what = match request.kind() {
                AskKind::Connect => "connect",
                AskKind::Publish => "publish",
                AskKind::Play => "play",
            };
            match request {
                AskRequest::Connect(r) => NativeItem::ServerAsk {
                    id: num(id),
                    what: what.to_owned(),
                    session: num(r.session.0),
                    peer_id: r.peer_id.map(|p| hex(&p)),
                    address: r.address.to_string(),
                    app: r.app,
                    key: r.key,
                    name: None,
                    stream_id: None,
                },
                AskRequest::Publish(r) | AskRequest::Play(r) => NativeItem::ServerAsk {
                    id: num(id),
                    what: what.to_owned(),
                    session: num(r.session.0),
                    peer_id: r.peer_id.map(|p| hex(&p)),
                    address: r.address.to_string(),
                    app: r.app,
                    key: None,
                    name: Some(r.name),
                    stream_id: Some(r.stream_id),
                },
            }
        }
        ServerEvent::AskEnded { id, end } => NativeItem::ServerAskEnded {
            id: num(id),
            end: match end {
                AskEnd::Gone => "gone",
                AskEnd::Expired | AskEnd::Answered => "expired",
            }
            .to_owned(),
        },
    }
}
