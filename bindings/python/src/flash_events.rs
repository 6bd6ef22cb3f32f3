//! Events of the Flash layer (`NetConnection`) and of the rendezvous
//! `Server`, as small frozen classes with a `kind` string, like the
//! endpoint events in [`crate::events`] (and built the same way, from
//! core's descriptions); and the `Server.sessions()` / `Server.streams()`
//! views (core's `client_info` and `stream_info` records).

use crate::events::event_class;
use crate::netconnection::NetStream;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};
use rtmfp_core::flash::command::decode_values;
use rtmfp_core::flash::message::message_type;

// ----------------------------------------------------------- NetConnection --

event_class! {
    /// A status event (Flash's `NetStatusEvent`): of the NetConnection
    /// when `stream` is None ("NetConnection.Connect.Success", ...), else
    /// of that NetStream ("NetStream.Play.Start", ...).
    NetStatus = "status" {
        /// The NetStream, or None for the NetConnection.
        stream: Option<Py<NetStream>>,
        /// The status code, such as "NetConnection.Connect.Success".
        code: String,
        /// "status", "warning" or "error".
        level: String = "status" | "warning" | "error",
        /// Human-readable text.
        description: String,
        /// The whole info object (`code`, `level`, `description` and any
        /// further members such as `details`).
        info: Py<PyDict>,
    }
}

event_class! {
    /// The server gave a NetStream its stream ID (`createStream`).
    StreamCreated = "stream_created" {
        /// The NetStream.
        stream: Option<Py<NetStream>>,
        /// The server's RTMP stream ID.
        stream_id: u32,
    }
}

event_class! {
    /// A user control event (StreamBegin, StreamEOF, ...).
    UserControl = "user_control" {
        /// The NetStream, or None for the NetConnection.
        stream: Option<Py<NetStream>>,
        /// The event, e.g. "StreamBegin { stream_id: 1 }".
        event: String,
    }
}

event_class! {
    /// A message of a stream being played: audio (type 8), video (9), data
    /// (18: AMF0 values, see `values()`) or another RTMP message type.
    Media = "media" {
        /// The NetStream that plays.
        stream: Option<Py<NetStream>>,
        /// The RTMP message type (`rtmfp.MessageType`).
        message_type: u8,
        /// The RTMP timestamp in milliseconds.
        timestamp: u32,
        /// The payload, byte for byte what the publisher sent (an FLV tag
        /// body for audio and video).
        payload: Py<PyBytes>,
    } methods {
        /// A data message's values (`send_data(*values)`), as Python values.
        /// Raises `InvalidArgument` for another message type or bad AMF.
        fn values(&self, py: Python<'_>) -> PyResult<Py<PyList>> {
            let ty = self.message_type;
            if ty != message_type::DATA_AMF0 && ty != message_type::DATA_AMF3 {
                return Err(crate::errors::invalid(
                    py,
                    format!("message type {ty} is not a data message (18 or 15)"),
                ));
            }
            let values = decode_values(ty, self.payload.as_bytes(py))
                .map_err(|e| crate::errors::invalid(py, format!("bad data message: {e}")))?;
            crate::amf::list(py, &values)
        }

        fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
            Ok(format!(
                "Media(stream={}, message_type={}, timestamp={}, payload=<{} bytes>)",
                crate::events::short_repr((&self.stream).into_pyobject(py)?.as_any())?,
                self.message_type,
                self.timestamp,
                self.payload.as_bytes(py).len()
            ))
        }
    }
}

event_class! {
    /// A command from the far end that the client does not handle itself
    /// (a server-to-client call, or a peer's command).
    NetCommand = "command" {
        /// The NetStream, or None for the NetConnection.
        stream: Option<Py<NetStream>>,
        /// The command name.
        name: String,
        /// The command object (often None).
        command_object: Py<PyAny>,
        /// The arguments.
        args: Py<PyList>,
    }
}

event_class! {
    /// The server's answer to `NetConnection.call` (and `register_name`,
    /// `lookup_name`).
    CallResult = "call_result" {
        /// What `start_call` returned.
        transaction_id: u64,
        /// `_result` (True) or `_error` (False).
        ok: bool,
        /// The first returned value (None if none).
        result: Py<PyAny>,
        /// Every returned value.
        args: Py<PyList>,
        /// For `_error`: the info object's code, e.g.
        /// "NetConnection.Call.Failed".
        code: Option<String>,
        /// For `_error`: why.
        description: Option<String>,
    }
}

event_class! {
    /// A subscriber asked to play one of our DIRECT_CONNECTIONS streams.
    /// Reported after the decision: by the stream's `on_peer_connect`,
    /// or accepted when the stream has none.
    PeerConnect = "peer_connect" {
        /// Our publishing NetStream.
        stream: Option<Py<NetStream>>,
        /// The subscriber's peer ID (64 hex digits).
        peer_id: Option<String>,
        /// The stream name it asked for.
        name: String,
        /// The subscriber's address, "ip:port".
        address: String,
        /// Whether it was accepted.
        accepted: bool,
        /// Why it was rejected.
        reason: Option<String>,
    }
}

event_class! {
    /// A subscriber was accepted and is being sent the stream.
    PeerStreamOpened = "peer_stream_opened" {
        /// Our publishing NetStream.
        stream: Option<Py<NetStream>>,
        /// The subscriber's peer ID.
        peer_id: Option<String>,
        /// The stream name.
        name: String,
        /// The subscriber's address.
        address: String,
    }
}

event_class! {
    /// A subscriber is gone: rejected, closed by it, or its session ended.
    PeerStreamClosed = "peer_stream_closed" {
        /// Our publishing NetStream, if any.
        stream: Option<Py<NetStream>>,
        /// The subscriber's peer ID, if known.
        peer_id: Option<String>,
        /// Why, in words.
        reason: String,
    }
}

event_class! {
    /// Keepalive periods applied after the server's Set Keepalive Timers
    /// (RFC 7425 §5.3.4), in seconds, after clamping.
    KeepaliveTimers = "keepalive_timers" {
        /// The period of the server session.
        server: f64,
        /// The period of peer sessions.
        peer: f64,
    }
}

// ------------------------------------------------------------------ Server --

event_class! {
    /// A client connected.  `accepted` is always True: `on_connect`
    /// decides before the client is answered (see `ServerAsk`); a refused
    /// client is a `ClientRejected`.
    ClientConnected = "connected" {
        /// The client's session number.
        session: u64,
        /// The client's peer ID.
        peer_id: Option<String>,
        /// Its observed address, "ip:port".
        address: String,
        /// The `app` it connected to.
        app: String,
        /// Its developer key.
        key: Option<String>,
        /// True (kept for compatibility).
        accepted: bool,
        /// None (kept for compatibility).
        reason: Option<String>,
    }
}

event_class! {
    /// A connect was rejected (a bad developer key, or `on_connect`).
    ClientRejected = "rejected" {
        /// The session.
        session: u64,
        /// The client's peer ID.
        peer_id: Option<String>,
        /// Why.
        reason: String,
    }
}

event_class! {
    /// A client sent `setPeerInfo` (its candidate addresses).
    ClientPeerInfo = "peer_info" {
        /// The session.
        session: u64,
        /// The client's peer ID.
        peer_id: Option<String>,
        /// The addresses, "ip:port".
        addresses: Vec<String>,
    }
}

event_class! {
    /// A connected client went away.
    ClientDisconnected = "disconnected" {
        /// The session.
        session: u64,
        /// The client's peer ID.
        peer_id: Option<String>,
        /// Its address.
        address: String,
        /// The `app` it had connected to.
        app: String,
        /// The names it had registered.
        names: Vec<String>,
    }
}

event_class! {
    /// A stream was published to the server.  `accepted` is always True:
    /// `on_publish` decides before the client is answered; a refused
    /// publish is a `StreamRejected`.
    StreamPublished = "published" {
        /// The publisher's session.
        session: u64,
        /// The publisher's peer ID.
        peer_id: Option<String>,
        /// The stream name.
        name: String,
        /// True (kept for compatibility).
        accepted: bool,
        /// None (kept for compatibility).
        reason: Option<String>,
    }
}

event_class! {
    /// A stream stopped being published.
    StreamUnpublished = "unpublished" {
        /// The publisher's session.
        session: u64,
        /// The publisher's peer ID.
        peer_id: Option<String>,
        /// The stream name.
        name: String,
    }
}

event_class! {
    /// A client started playing a stream through the server.  `accepted`
    /// is always True: `on_play` decides before the client is answered; a
    /// refused play is a `StreamRejected`.
    StreamPlaying = "playing" {
        /// The player's session.
        session: u64,
        /// The player's peer ID.
        peer_id: Option<String>,
        /// The stream name.
        name: String,
        /// True (kept for compatibility).
        accepted: bool,
        /// None (kept for compatibility).
        reason: Option<String>,
    }
}

event_class! {
    /// A publish or play was refused (by the server, or by `on_publish` /
    /// `on_play`).
    StreamRejected = "stream_rejected" {
        /// The client's session.
        session: u64,
        /// The client's peer ID.
        peer_id: Option<String>,
        /// The stream name.
        name: String,
        /// Why.
        reason: String,
    }
}

event_class! {
    /// A hook decided on a request the server parked for it (core's ask
    /// mode): `on_connect`, `on_publish` or `on_play` ran on the thread
    /// that read this event, and its verdict went to the client.  The
    /// outcome follows (`ClientConnected` / `ClientRejected`,
    /// `StreamPublished` / `StreamPlaying` / `StreamRejected`).
    ServerAsk = "ask" {
        /// The ask id.
        id: u64,
        /// "connect", "publish" or "play".
        what: String = "connect" | "publish" | "play",
        /// The client's session.
        session: u64,
        /// The client's peer ID.
        peer_id: Option<String>,
        /// Its address, "ip:port".
        address: String,
        /// The `app` it connects (or connected) to.
        app: String,
        /// Its developer key (connect).
        key: Option<String>,
        /// The stream name (publish, play).
        name: Option<String>,
        /// The hook's verdict, and whether it reached the client (False
        /// while `pending`).
        accepted: bool,
        /// An `async def` hook: its verdict goes to the client when its
        /// task is done (on the running asyncio loop).
        pending: bool,
        /// Why it was refused, or why the verdict did not apply ("ask N:
        /// REASON; nothing was done": the ask had expired, or the client
        /// had gone).
        reason: Option<String>,
    }
}

event_class! {
    /// A request the server parked for a hook ended without the hook's
    /// verdict: "expired" (nobody read the events within `hook_timeout`;
    /// the request was refused) or "gone" (the client went away).
    ServerAskEnded = "ask_ended" {
        /// The ask id.
        id: u64,
        /// "expired" or "gone".
        end: String = "expired" | "gone",
    }
}

event_class! {
    /// The server introduced an initiator to a connected peer (RFC 7016
    /// §3.5.1.6): a Redirect to the initiator, a Forwarded IHello to the
    /// peer.  This is how DIRECT_CONNECTIONS subscribers find publishers.
    PeerIntroduced = "introduced" {
        /// The initiator's address.
        initiator: String,
        /// The peer it asked for (64 hex digits).
        peer_id: String,
        /// The addresses in the Redirect.
        addresses: Vec<String>,
    }
}

event_class! {
    /// A client registered a name (`NetConnection.register_name`).
    NameRegistered = "name_registered" {
        /// The client's peer ID.
        peer_id: String,
        /// The name.
        name: String,
    }
}

event_class! {
    /// One client session, as `Server.sessions()` lists it.
    record ServerSession = "client_info" {
        /// The session number.
        session: u64,
        /// The client's peer ID.
        peer_id: Option<String>,
        /// The session's far address.
        address: String,
        /// Its `setPeerInfo` addresses.
        addresses: Vec<String>,
        /// Whether `connect` succeeded.
        connected: bool,
        /// Behind a NAT (its address is not among its `setPeerInfo` ones);
        /// None before `setPeerInfo`.
        behind_nat: Option<bool>,
        /// The `app` it connected to.
        app: String,
        /// Its developer key.
        key: Option<String>,
        /// Names it registered.
        names: Vec<String>,
        /// Streams it publishes through the server.
        publishing: Vec<String>,
        /// Streams it plays through the server.
        playing: Vec<String>,
        /// Audio and video messages it sent to the server.
        media_in: u64,
    } methods {
        fn __repr__(&self) -> String {
            format!(
                "<rtmfp.ServerSession {} peer {} at {}{}>",
                self.session,
                self.peer_id
                    .as_deref()
                    .map_or("?", |p| &p[..p.len().min(16)]),
                self.address,
                if self.connected {
                    ""
                } else {
                    " (not connected)"
                }
            )
        }
    }
}

event_class! {
    /// One stream published to the server, as `Server.streams()` lists it.
    record ServerStream = "stream_info" {
        /// The stream name.
        name: String,
        /// The publisher's session number.
        publisher: u64,
        /// The publisher's peer ID.
        publisher_id: Option<String>,
        /// How many clients play it.
        players: usize,
        /// Messages received from the publisher.
        messages: u64,
        /// Payload bytes received from the publisher.
        bytes: u64,
        /// Messages sent to players.
        relayed: u64,
    } methods {
        fn __repr__(&self) -> String {
            format!(
                "<rtmfp.ServerStream {:?} publisher {} players {}>",
                self.name, self.publisher, self.players
            )
        }
    }
}
