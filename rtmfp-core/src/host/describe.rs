//! One language-neutral description of every event an adapter hands its
//! application: the endpoint's [`Event`], the Flash client's
//! [`ClientEvent`] and the rendezvous server's [`ServerEvent`], with the
//! records they carry ([`ClientInfo`], [`StreamInfo`], [`PeerStreamInfo`]).
//!
//! An adapter converts a [`Description`] generically (one `match` on
//! [`Value`]) instead of writing one conversion per event: the kind and
//! field names are canonical `snake_case` (an adapter may re-case them, or
//! rename a few in a table of its own), ids stay typed so that an adapter
//! can turn them into its own objects or numbers, payloads are moved, not
//! copied.  A field that an event may lack (`Option::None`, or a field of
//! another variant of a flattened enum) is [`Value::Null`].
//!
//! Kinds and fields (see each `describe` below for the values):
//!
//! | event | kind | fields |
//! | --- | --- | --- |
//! | [`Event`] | `session_opened` | session, role, far_address, far_peer_id, near_nonce, far_nonce |
//! | | `session_open_failed` | session, reason, duplicate_of, address |
//! | | `session_closed` | session, reason |
//! | | `flow_opened` | session, flow, metadata, association |
//! | | `message` | session, flow, data, gap_before |
//! | | `flow_finished`, `flow_writable`, `flow_complete` | session, flow |
//! | | `message_delivered`, `message_abandoned` | session, flow, message |
//! | | `flow_rejected` | session, flow, code |
//! | | `unmatched_ihello` | epd, tag, address |
//! | | `far_address_changed` | session, from, to |
//! | [`ClientEvent`] | `status` | stream, level, code, description, extra |
//! | | `stream_created` | stream, stream_id |
//! | | `user_control` | stream, event_type |
//! | | `media` | stream, message_type, timestamp, payload, values |
//! | | `command` | stream, name, command_object, args |
//! | | `call_result` | transaction_id, ok, args, code, description |
//! | | `peer_connect`, `peer_stream_opened` | stream, peer (a `peer_stream_info`) |
//! | | `peer_stream_closed` | stream, peer, far_id, reason |
//! | | `keepalive_timers` | server, peer |
//! | [`ServerEvent`] | `connected`, `disconnected` | client (a `client_info`) |
//! | | `rejected` | session, peer_id, reason |
//! | | `peer_info` | session, peer_id, addresses |
//! | | `published`, `unpublished`, `playing` | session, name |
//! | | `stream_rejected` | session, name, reason |
//! | | `introduced` | initiator, peer_id, addresses |
//! | | `name_registered` | peer_id, name |
//! | | `ask` | id, what, session, peer_id, address, app, key, name, stream_id |
//! | | `ask_ended` | id, end |

use crate::crypto::PeerId;
use crate::endpoint::{CloseReason, Event, OpenFailure, Role, SessionHandle};
use crate::flash::amf::Value as Amf;
use crate::flash::client::{PeerStreamInfo, StreamId};
use crate::flash::command::decode_values;
use crate::flash::message::message_type;
use crate::flash::{ClientEvent, PeerStreamId};
use crate::flow::FlowId;
use crate::rendezvous::{AskEnd, AskRequest, ClientInfo, ServerEvent, StreamInfo};
use std::net::SocketAddr;
use std::time::Duration;

/// One value of a field.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Nothing: an absent optional field (adapters leave it out or give
    /// their null).
    Null,
    /// A boolean.
    Bool(bool),
    /// An unsigned integer (a count, a code, a message number, an ask id).
    U64(u64),
    /// A floating-point number (an AMF transaction ID).
    F64(f64),
    /// Free text (a name, a reason in words, a status code).
    Text(String),
    /// One of a fixed set of words, `snake_case` (a reason, a role);
    /// adapters may re-case it.
    Word(&'static str),
    /// Bytes, moved out of the event (a message, a nonce, a payload).
    Bytes(Vec<u8>),
    /// A duration (adapters give it in their unit: ms in Node, s in
    /// Python).
    Duration(Duration),
    /// A socket address (`"ip:port"` as text).
    Address(SocketAddr),
    /// A peer ID (64 hex digits as text).
    PeerId(PeerId),
    /// A session of the endpoint.
    Session(SessionHandle),
    /// A receiving flow of the session in the event's `session` field.
    RecvFlow(FlowId),
    /// A sending flow of the session in the event's `session` field.
    SendFlow(FlowId),
    /// A NetStream of the Flash client (the client's own number).
    Stream(StreamId),
    /// A subscriber of one of the client's DIRECT_CONNECTIONS streams.
    PeerStream(PeerStreamId),
    /// An AMF value, as received.
    Amf(Amf),
    /// A list.
    List(Vec<Value>),
    /// A record (its `kind` names the record type, such as
    /// `client_info`).
    Record(Description),
}

/// A named value.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The canonical name, `snake_case`.
    pub name: &'static str,
    /// The value.
    pub value: Value,
}

/// An event or a record: its kind and its fields, in a fixed order.
#[derive(Debug, Clone, PartialEq)]
pub struct Description {
    /// The canonical kind, `snake_case` (`session_opened`, `client_info`).
    pub kind: &'static str,
    /// The fields.
    pub fields: Vec<Field>,
}

impl Description {
    /// The value of field `name`, if the description has one.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| &f.value)
    }
}

/// What can describe itself language-neutrally (consuming itself, so that
/// payloads move).
pub trait Describe {
    /// The description.
    fn describe(self) -> Description;
}

macro_rules! value_from {
    ($($ty:ty => $variant:ident),* $(,)?) => {$(
        impl From<$ty> for Value {
            fn from(v: $ty) -> Value {
                Value::$variant(v.into())
            }
        }
    )*};
}

value_from! {
    bool => Bool, u8 => U64, u16 => U64, u32 => U64, u64 => U64, f64 => F64,
    String => Text, &'static str => Word, Vec<u8> => Bytes, Duration => Duration,
    SocketAddr => Address, PeerId => PeerId, SessionHandle => Session,
    StreamId => Stream, PeerStreamId => PeerStream, Amf => Amf, Description => Record,
}

impl From<usize> for Value {
    fn from(v: usize) -> Value {
        Value::U64(v as u64)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

impl From<Vec<String>> for Value {
    fn from(v: Vec<String>) -> Value {
        Value::List(v.into_iter().map(Value::Text).collect())
    }
}

impl From<Vec<SocketAddr>> for Value {
    fn from(v: Vec<SocketAddr>) -> Value {
        Value::List(v.into_iter().map(Value::Address).collect())
    }
}

impl From<Vec<Amf>> for Value {
    fn from(v: Vec<Amf>) -> Value {
        Value::List(v.into_iter().map(Value::Amf).collect())
    }
}

/// `describe!(kind { name: value, ... })`: a description, one line per
/// field; each value goes through `Value::from`.
macro_rules! describe {
    ($kind:literal { $($name:ident : $value:expr),* $(,)? }) => {
        Description {
            kind: $kind,
            fields: vec![$(Field { name: stringify!($name), value: Value::from($value) }),*],
        }
    };
}

fn role(role: Role) -> &'static str {
    match role {
        Role::Initiator => "initiator",
        Role::Responder => "responder",
    }
}

/// The word for an open failure (its payload goes to other fields).
fn open_failure_word(reason: OpenFailure) -> &'static str {
    match reason {
        OpenFailure::Timeout => "timeout",
        OpenFailure::Duplicate(_) => "duplicate",
        OpenFailure::KeyingFailed => "keying_failed",
        OpenFailure::Cancelled => "cancelled",
        OpenFailure::Unreachable(_) => "unreachable",
    }
}

fn close_reason(reason: CloseReason) -> &'static str {
    match reason {
        CloseReason::Local => "local",
        CloseReason::LocalAbrupt => "local_abrupt",
        CloseReason::Remote => "remote",
        CloseReason::IdleTimeout => "idle_timeout",
        CloseReason::Overridden => "overridden",
    }
}

impl Describe for Event {
    fn describe(self) -> Description {
        use Value::{RecvFlow, SendFlow};
        match self {
            Event::SessionOpened {
                session,
                role: r,
                far_address,
                far_peer_id,
                near_nonce,
                far_nonce,
            } => describe!("session_opened" {
                session: session,
                role: role(r),
                far_address: far_address,
                far_peer_id: far_peer_id,
                near_nonce: near_nonce,
                far_nonce: far_nonce,
            }),
            Event::SessionOpenFailed { session, reason } => describe!("session_open_failed" {
                session: session,
                reason: open_failure_word(reason),
                duplicate_of: match reason {
                    OpenFailure::Duplicate(other) => Some(other),
                    _ => None,
                },
                address: match reason {
                    OpenFailure::Unreachable(a) => Some(a),
                    _ => None,
                },
            }),
            Event::SessionClosed { session, reason } => describe!("session_closed" {
                session: session,
                reason: close_reason(reason),
            }),
            Event::FlowOpened {
                session,
                flow,
                metadata,
                association,
            } => describe!("flow_opened" {
                session: session,
                flow: RecvFlow(flow),
                metadata: metadata,
                association: association.map_or(Value::Null, SendFlow),
            }),
            Event::Message {
                session,
                flow,
                data,
                gap_before,
            } => describe!("message" {
                session: session,
                flow: RecvFlow(flow),
                data: data,
                gap_before: gap_before,
            }),
            Event::FlowFinished { session, flow } => describe!("flow_finished" {
                session: session,
                flow: RecvFlow(flow),
            }),
            Event::MessageDelivered {
                session,
                flow,
                message,
            } => describe!("message_delivered" {
                session: session,
                flow: SendFlow(flow),
                message: message,
            }),
            Event::MessageAbandoned {
                session,
                flow,
                message,
            } => describe!("message_abandoned" {
                session: session,
                flow: SendFlow(flow),
                message: message,
            }),
            Event::FlowWritable { session, flow } => describe!("flow_writable" {
                session: session,
                flow: SendFlow(flow),
            }),
            Event::FlowRejected {
                session,
                flow,
                code,
            } => describe!("flow_rejected" {
                session: session,
                flow: SendFlow(flow),
                code: code,
            }),
            Event::FlowComplete { session, flow } => describe!("flow_complete" {
                session: session,
                flow: SendFlow(flow),
            }),
            Event::UnmatchedIHello { epd, tag, from } => describe!("unmatched_ihello" {
                epd: epd,
                tag: tag,
                address: from,
            }),
            Event::FarAddressChanged { session, from, to } => describe!("far_address_changed" {
                session: session,
                from: from,
                to: to,
            }),
        }
    }
}

/// `peer_stream_info`: a subscriber of one of our DIRECT_CONNECTIONS
/// streams.  Its NetStream (`stream`) is a field of the event that carries
/// it, not of the record.
impl Describe for PeerStreamInfo {
    fn describe(self) -> Description {
        describe!("peer_stream_info" {
            id: self.id,
            name: self.name,
            far_id: self.far_id,
            far_address: self.far_address,
            stream_id: self.stream_id,
            accepted: self.accepted,
            media_sent: self.media_sent,
            session: self.session,
        })
    }
}

impl Describe for ClientEvent {
    fn describe(self) -> Description {
        match self {
            ClientEvent::Status { stream, info } => describe!("status" {
                stream: stream,
                level: info.level,
                code: info.code,
                description: info.description,
                extra: Amf::object(info.extra),
            }),
            ClientEvent::StreamCreated { stream, stream_id } => describe!("stream_created" {
                stream: stream,
                stream_id: stream_id,
            }),
            ClientEvent::UserControl { stream, event } => describe!("user_control" {
                stream: stream,
                event_type: event.event_type(),
            }),
            ClientEvent::Media {
                stream,
                message_type,
                timestamp,
                payload,
            } => {
                // A data message's values, decoded once here for every
                // adapter (None for audio, video, other types, bad AMF).
                let values = match message_type {
                    message_type::DATA_AMF0 | message_type::DATA_AMF3 => {
                        decode_values(message_type, &payload).ok()
                    }
                    _ => None,
                };
                describe!("media" {
                    stream: stream,
                    message_type: message_type,
                    timestamp: timestamp,
                    payload: payload,
                    values: values,
                })
            }
            ClientEvent::Command { stream, command } => describe!("command" {
                stream: stream,
                name: command.name,
                command_object: command.command_object,
                args: command.args,
            }),
            ClientEvent::CallResult {
                transaction_id,
                ok,
                response,
            } => {
                let info = response.status_info();
                describe!("call_result" {
                    transaction_id: transaction_id,
                    ok: ok,
                    args: response.args,
                    code: info.as_ref().map(|i| i.code.clone()),
                    description: info.map(|i| i.description),
                })
            }
            ClientEvent::PeerConnect { peer } => describe!("peer_connect" {
                stream: peer.stream,
                peer: peer.describe(),
            }),
            ClientEvent::PeerStreamOpened { peer } => describe!("peer_stream_opened" {
                stream: peer.stream,
                peer: peer.describe(),
            }),
            ClientEvent::PeerStreamClosed {
                peer,
                stream,
                far_id,
                reason,
            } => describe!("peer_stream_closed" {
                stream: stream,
                peer: peer,
                far_id: far_id,
                reason: reason,
            }),
            ClientEvent::KeepaliveTimers { server, peer } => describe!("keepalive_timers" {
                server: server,
                peer: peer,
            }),
        }
    }
}

/// `client_info`: one client of the rendezvous server.
impl Describe for ClientInfo {
    fn describe(self) -> Description {
        describe!("client_info" {
            session: self.session,
            peer_id: self.peer_id,
            address: self.address,
            addresses: self.addresses,
            connected: self.connected,
            behind_nat: self.behind_nat,
            app: self.app,
            key: self.key,
            names: self.names,
            publishing: self.publishing,
            playing: self.playing,
            media_in: self.media_in,
        })
    }
}

/// `stream_info`: one stream published to the rendezvous server.
impl Describe for StreamInfo {
    fn describe(self) -> Description {
        describe!("stream_info" {
            name: self.name,
            publisher: self.publisher,
            publisher_id: self.publisher_id,
            players: self.players,
            messages: self.messages,
            bytes: self.bytes,
            relayed: self.relayed,
        })
    }
}

/// The fields of an `ask` event after its id: `what` (`connect`,
/// `publish`, `play`) and the request's, `key` only for a connect, `name`
/// and `stream_id` only for a publish or play (else [`Value::Null`]).  A
/// connect's tcUrl and extra arguments are not described.
fn ask_fields(id: u64, request: AskRequest) -> Description {
    let what = match &request {
        AskRequest::Connect(_) => "connect",
        AskRequest::Publish(_) => "publish",
        AskRequest::Play(_) => "play",
    };
    match request {
        AskRequest::Connect(r) => describe!("ask" {
            id: id,
            what: what,
            session: r.session,
            peer_id: r.peer_id,
            address: r.address,
            app: r.app,
            key: r.key,
            name: Value::Null,
            stream_id: Value::Null,
        }),
        AskRequest::Publish(r) | AskRequest::Play(r) => describe!("ask" {
            id: id,
            what: what,
            session: r.session,
            peer_id: r.peer_id,
            address: r.address,
            app: r.app,
            key: Value::Null,
            name: r.name,
            stream_id: r.stream_id,
        }),
    }
}

impl Describe for ServerEvent {
    fn describe(self) -> Description {
        match self {
            ServerEvent::Connected { client } => describe!("connected" {
                client: client.describe(),
            }),
            ServerEvent::Rejected {
                session,
                peer_id,
                reason,
            } => describe!("rejected" {
                session: session,
                peer_id: peer_id,
                reason: reason,
            }),
            ServerEvent::PeerInfo {
                session,
                peer_id,
                addresses,
            } => describe!("peer_info" {
                session: session,
                peer_id: peer_id,
                addresses: addresses,
            }),
            ServerEvent::Disconnected { client } => describe!("disconnected" {
                client: client.describe(),
            }),
            ServerEvent::Published { session, name } => describe!("published" {
                session: session,
                name: name,
            }),
            ServerEvent::Unpublished { session, name } => describe!("unpublished" {
                session: session,
                name: name,
            }),
            ServerEvent::Playing { session, name } => describe!("playing" {
                session: session,
                name: name,
            }),
            ServerEvent::StreamRejected {
                session,
                name,
                reason,
            } => describe!("stream_rejected" {
                session: session,
                name: name,
                reason: reason,
            }),
            ServerEvent::Introduced {
                initiator,
                target,
                addresses,
            } => describe!("introduced" {
                initiator: initiator,
                peer_id: target,
                addresses: addresses,
            }),
            ServerEvent::NameRegistered { peer_id, name } => describe!("name_registered" {
                peer_id: peer_id,
                name: name,
            }),
            ServerEvent::Asked { id, request } => ask_fields(id, request),
            ServerEvent::AskEnded { id, end } => describe!("ask_ended" {
                id: id,
                end: match end {
                    AskEnd::Answered => "answered",
                    AskEnd::Expired => "expired",
                    AskEnd::Gone => "gone",
                },
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flash::command::{Command, StatusInfo};
    use crate::rendezvous::{ConnectRequest, StreamRequest};

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([192, 0, 2, 1], port))
    }

    fn names(d: &Description) -> Vec<&'static str> {
        d.fields.iter().map(|f| f.name).collect()
    }

    #[test]
    fn session_opened_has_every_field_with_its_value() {
        let d = Event::SessionOpened {
            session: SessionHandle(7),
            role: Role::Responder,
            far_address: addr(1000),
            far_peer_id: Some([0xab; 32]),
            near_nonce: vec![1, 2],
            far_nonce: vec![3],
        }
        .describe();
        assert_eq!(d.kind, "session_opened");
        assert_eq!(
            names(&d),
            [
                "session",
                "role",
                "far_address",
                "far_peer_id",
                "near_nonce",
                "far_nonce"
            ]
        );
        assert_eq!(d.get("session"), Some(&Value::Session(SessionHandle(7))));
        assert_eq!(d.get("role"), Some(&Value::Word("responder")));
        assert_eq!(d.get("far_address"), Some(&Value::Address(addr(1000))));
        assert_eq!(d.get("far_peer_id"), Some(&Value::PeerId([0xab; 32])));
        assert_eq!(d.get("near_nonce"), Some(&Value::Bytes(vec![1, 2])));
        assert_eq!(d.get("far_nonce"), Some(&Value::Bytes(vec![3])));
    }

    #[test]
    fn open_failure_flattens_its_payload() {
        let dup = Event::SessionOpenFailed {
            session: SessionHandle(2),
            reason: OpenFailure::Duplicate(SessionHandle(1)),
        }
        .describe();
        assert_eq!(dup.kind, "session_open_failed");
        assert_eq!(
            names(&dup),
            ["session", "reason", "duplicate_of", "address"]
        );
        assert_eq!(dup.get("reason"), Some(&Value::Word("duplicate")));
        assert_eq!(
            dup.get("duplicate_of"),
            Some(&Value::Session(SessionHandle(1)))
        );
        assert_eq!(dup.get("address"), Some(&Value::Null));
        let far = Event::SessionOpenFailed {
            session: SessionHandle(2),
            reason: OpenFailure::Unreachable(addr(9)),
        }
        .describe();
        assert_eq!(far.get("reason"), Some(&Value::Word("unreachable")));
        assert_eq!(far.get("duplicate_of"), Some(&Value::Null));
        assert_eq!(far.get("address"), Some(&Value::Address(addr(9))));
        let keying = Event::SessionOpenFailed {
            session: SessionHandle(2),
            reason: OpenFailure::KeyingFailed,
        }
        .describe();
        assert_eq!(keying.get("reason"), Some(&Value::Word("keying_failed")));
    }

    #[test]
    fn flows_say_their_direction() {
        let opened = Event::FlowOpened {
            session: SessionHandle(1),
            flow: 4,
            metadata: b"m".to_vec(),
            association: Some(3),
        }
        .describe();
        assert_eq!(
            names(&opened),
            ["session", "flow", "metadata", "association"]
        );
        assert_eq!(opened.get("flow"), Some(&Value::RecvFlow(4)));
        assert_eq!(opened.get("association"), Some(&Value::SendFlow(3)));
        let delivered = Event::MessageDelivered {
            session: SessionHandle(1),
            flow: 5,
            message: 9,
        }
        .describe();
        assert_eq!(delivered.kind, "message_delivered");
        assert_eq!(delivered.get("flow"), Some(&Value::SendFlow(5)));
        assert_eq!(delivered.get("message"), Some(&Value::U64(9)));
        let message = Event::Message {
            session: SessionHandle(1),
            flow: 4,
            data: vec![7; 3],
            gap_before: true,
        }
        .describe();
        assert_eq!(names(&message), ["session", "flow", "data", "gap_before"]);
        assert_eq!(message.get("data"), Some(&Value::Bytes(vec![7; 3])));
        assert_eq!(message.get("gap_before"), Some(&Value::Bool(true)));
    }

    #[test]
    fn closes_and_ihellos_use_the_shared_names() {
        let closed = Event::SessionClosed {
            session: SessionHandle(3),
            reason: CloseReason::IdleTimeout,
        }
        .describe();
        assert_eq!(closed.get("reason"), Some(&Value::Word("idle_timeout")));
        let hello = Event::UnmatchedIHello {
            epd: vec![1],
            tag: vec![2],
            from: addr(5),
        }
        .describe();
        assert_eq!(hello.kind, "unmatched_ihello");
        assert_eq!(names(&hello), ["epd", "tag", "address"]);
        assert_eq!(hello.get("address"), Some(&Value::Address(addr(5))));
        let moved = Event::FarAddressChanged {
            session: SessionHandle(3),
            from: addr(1),
            to: addr(2),
        }
        .describe();
        assert_eq!(names(&moved), ["session", "from", "to"]);
    }

    #[test]
    fn status_and_media() {
        let status = ClientEvent::Status {
            stream: Some(StreamId(2)),
            info: StatusInfo {
                level: "status".into(),
                code: "NetStream.Play.Start".into(),
                description: "go".into(),
                extra: vec![("details".into(), Amf::String("x".into()))],
            },
        }
        .describe();
        assert_eq!(status.kind, "status");
        assert_eq!(
            names(&status),
            ["stream", "level", "code", "description", "extra"]
        );
        assert_eq!(status.get("stream"), Some(&Value::Stream(StreamId(2))));
        assert_eq!(
            status.get("code"),
            Some(&Value::Text("NetStream.Play.Start".into()))
        );
        assert_eq!(
            status.get("extra"),
            Some(&Value::Amf(Amf::object([(
                "details",
                Amf::String("x".into())
            )])))
        );
        let values = vec![Amf::String("onMetaData".into()), Amf::Number(1.0)];
        let payload = crate::flash::amf::amf0::encode_all(&values).unwrap();
        let data = ClientEvent::Media {
            stream: StreamId(1),
            message_type: message_type::DATA_AMF0,
            timestamp: 40,
            payload: payload.clone(),
        }
        .describe();
        assert_eq!(
            names(&data),
            ["stream", "message_type", "timestamp", "payload", "values"]
        );
        assert_eq!(data.get("message_type"), Some(&Value::U64(18)));
        assert_eq!(data.get("timestamp"), Some(&Value::U64(40)));
        assert_eq!(data.get("payload"), Some(&Value::Bytes(payload)));
        assert_eq!(data.get("values"), Some(&Value::from(values)));
        let audio = ClientEvent::Media {
            stream: StreamId(1),
            message_type: message_type::AUDIO,
            timestamp: 0,
            payload: vec![0xaf],
        }
        .describe();
        assert_eq!(audio.get("values"), Some(&Value::Null));
    }

    #[test]
    fn commands_calls_and_peers() {
        let call = ClientEvent::CallResult {
            transaction_id: 3.0,
            ok: false,
            response: Command::new(
                "_error",
                3.0,
                Amf::Null,
                vec![Amf::object([
                    ("level", Amf::String("error".into())),
                    ("code", Amf::String("NetConnection.Call.Failed".into())),
                    ("description", Amf::String("no".into())),
                ])],
            ),
        }
        .describe();
        assert_eq!(call.kind, "call_result");
        assert_eq!(
            names(&call),
            ["transaction_id", "ok", "args", "code", "description"]
        );
        assert_eq!(call.get("transaction_id"), Some(&Value::F64(3.0)));
        assert_eq!(
            call.get("code"),
            Some(&Value::Text("NetConnection.Call.Failed".into()))
        );
        assert_eq!(call.get("description"), Some(&Value::Text("no".into())));
        let peer = PeerStreamInfo {
            id: PeerStreamId(5),
            stream: Some(StreamId(1)),
            name: "cam".into(),
            far_id: None,
            far_address: addr(7),
            session: SessionHandle(8),
            stream_id: 3,
            accepted: false,
            media_sent: 0,
        };
        let ask = ClientEvent::PeerConnect { peer }.describe();
        assert_eq!(ask.kind, "peer_connect");
        assert_eq!(names(&ask), ["stream", "peer"]);
        assert_eq!(ask.get("stream"), Some(&Value::Stream(StreamId(1))));
        let Some(Value::Record(record)) = ask.get("peer") else {
            panic!("peer is not a record: {ask:?}");
        };
        assert_eq!(record.kind, "peer_stream_info");
        assert_eq!(
            names(record),
            [
                "id",
                "name",
                "far_id",
                "far_address",
                "stream_id",
                "accepted",
                "media_sent",
                "session"
            ]
        );
        assert_eq!(record.get("id"), Some(&Value::PeerStream(PeerStreamId(5))));
        assert_eq!(record.get("far_id"), Some(&Value::Null));
        let timers = ClientEvent::KeepaliveTimers {
            server: Duration::from_secs(15),
            peer: Duration::from_secs(10),
        }
        .describe();
        assert_eq!(
            timers.get("server"),
            Some(&Value::Duration(Duration::from_secs(15)))
        );
    }

    #[test]
    fn server_events_and_records() {
        let client = ClientInfo {
            session: SessionHandle(4),
            peer_id: Some([1; 32]),
            address: addr(3),
            addresses: vec![addr(4)],
            connected: true,
            behind_nat: None,
            app: "live".into(),
            key: None,
            names: vec!["n".into()],
            publishing: vec![],
            playing: vec![],
            media_in: 12,
        };
        let d = ServerEvent::Connected { client }.describe();
        assert_eq!(d.kind, "connected");
        let Some(Value::Record(record)) = d.get("client") else {
            panic!("client is not a record: {d:?}");
        };
        assert_eq!(record.kind, "client_info");
        assert_eq!(
            names(record),
            [
                "session",
                "peer_id",
                "address",
                "addresses",
                "connected",
                "behind_nat",
                "app",
                "key",
                "names",
                "publishing",
                "playing",
                "media_in"
            ]
        );
        assert_eq!(
            record.get("addresses"),
            Some(&Value::List(vec![Value::Address(addr(4))]))
        );
        assert_eq!(record.get("behind_nat"), Some(&Value::Null));
        assert_eq!(
            record.get("names"),
            Some(&Value::List(vec![Value::Text("n".into())]))
        );
        assert_eq!(record.get("media_in"), Some(&Value::U64(12)));
        let introduced = ServerEvent::Introduced {
            initiator: addr(1),
            target: [2; 32],
            addresses: vec![],
        }
        .describe();
        assert_eq!(names(&introduced), ["initiator", "peer_id", "addresses"]);
        assert_eq!(introduced.get("peer_id"), Some(&Value::PeerId([2; 32])));
        let stream = StreamInfo {
            name: "s".into(),
            publisher: SessionHandle(1),
            publisher_id: None,
            players: 2,
            messages: 3,
            bytes: 4,
            relayed: 5,
        }
        .describe();
        assert_eq!(stream.kind, "stream_info");
        assert_eq!(
            names(&stream),
            [
                "name",
                "publisher",
                "publisher_id",
                "players",
                "messages",
                "bytes",
                "relayed"
            ]
        );
        assert_eq!(stream.get("players"), Some(&Value::U64(2)));
    }

    #[test]
    fn asks_flatten_their_request() {
        let connect = ServerEvent::Asked {
            id: 9,
            request: AskRequest::Connect(ConnectRequest {
                session: SessionHandle(1),
                peer_id: None,
                address: addr(2),
                app: "app".into(),
                tc_url: "rtmfp://h/app".into(),
                key: Some("k".into()),
                args: vec![],
            }),
        }
        .describe();
        assert_eq!(connect.kind, "ask");
        assert_eq!(
            names(&connect),
            [
                "id",
                "what",
                "session",
                "peer_id",
                "address",
                "app",
                "key",
                "name",
                "stream_id"
            ]
        );
        assert_eq!(connect.get("id"), Some(&Value::U64(9)));
        assert_eq!(connect.get("what"), Some(&Value::Word("connect")));
        assert_eq!(connect.get("key"), Some(&Value::Text("k".into())));
        assert_eq!(connect.get("name"), Some(&Value::Null));
        let play = ServerEvent::Asked {
            id: 10,
            request: AskRequest::Play(StreamRequest {
                session: SessionHandle(1),
                peer_id: None,
                address: addr(2),
                app: "app".into(),
                name: "cam".into(),
                stream_id: 1,
            }),
        }
        .describe();
        assert_eq!(names(&play), names(&connect));
        assert_eq!(play.get("what"), Some(&Value::Word("play")));
        assert_eq!(play.get("key"), Some(&Value::Null));
        assert_eq!(play.get("stream_id"), Some(&Value::U64(1)));
        let ended = ServerEvent::AskEnded {
            id: 9,
            end: AskEnd::Gone,
        }
        .describe();
        assert_eq!(ended.kind, "ask_ended");
        assert_eq!(ended.get("end"), Some(&Value::Word("gone")));
    }
}
