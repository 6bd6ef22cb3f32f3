//! The public vocabulary of the Flash client: handles, events, settings
//! and errors.

use crate::crypto::PeerId;
use crate::endpoint::{EndpointError, SessionHandle};
use crate::flash::command::{Command, ObjectEncoding, StatusInfo};
use crate::flash::media::MediaConfig;
use crate::flash::peer_id::to_hex;
use crate::flash::user_control::UserControlEvent;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

/// A NetStream of one [`FlashClient`](super::FlashClient).  Local to the
/// client (not the RTMP stream ID, which the server or the subscriber
/// picks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(pub u32);

/// A subscriber of a DIRECT_CONNECTIONS stream, on its publisher
/// (Flash's `peerStreams` entries, RFC 7425 §5.4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerStreamId(pub u64);

/// What a NetStream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    /// Through the server (RFC 7425 §5.3.5): `createStream`, then
    /// `publish` or `play` over the server connection.
    Server,
    /// `NetStream(DIRECT_CONNECTIONS)`: publishes to peers that play it
    /// directly (RFC 7425 §5.4); the server carries no media.
    DirectConnections,
    /// `NetStream(peerID)`: plays a DIRECT_CONNECTIONS stream of that
    /// peer over a direct session (RFC 7425 §5.4.1).
    Peer(PeerId),
}

/// A subscriber of one of our DIRECT_CONNECTIONS streams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerStreamInfo {
    /// Its handle.
    pub id: PeerStreamId,
    /// Our publishing NetStream it plays (`None` while the name it asked
    /// for matches no stream).
    pub stream: Option<StreamId>,
    /// The stream name it asked for.
    pub name: String,
    /// The subscriber's peer ID (`farID`).
    pub far_id: Option<PeerId>,
    /// The subscriber's address (the session's DESTADDR).
    pub far_address: SocketAddr,
    /// The session.
    pub session: SessionHandle,
    /// The RTMP stream ID the subscriber chose for its control flow; our
    /// return flows carry the same one (RFC 7425 §5.4.2).
    pub stream_id: u32,
    /// Whether it was accepted (and is being sent the stream).
    pub accepted: bool,
    /// Audio and video messages sent to it so far.
    pub media_sent: u64,
}

impl PeerStreamInfo {
    /// The subscriber's peer ID as 64 hex characters.
    pub fn far_id_hex(&self) -> Option<String> {
        self.far_id.as_ref().map(|id| to_hex(id))
    }
}

/// How a publisher decides on subscribers when no synchronous policy
/// ([`FlashClient::set_peer_connect_policy`](super::FlashClient::set_peer_connect_policy))
/// is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PeerConnectMode {
    /// Accept every subscriber (Flash's default `onPeerConnect` returns
    /// true), up to `max_peer_connections`.
    #[default]
    AcceptAll,
    /// Emit [`ClientEvent::PeerConnect`] and wait for
    /// [`FlashClient::accept_peer`](super::FlashClient::accept_peer) or
    /// [`FlashClient::reject_peer`](super::FlashClient::reject_peer).
    Ask,
}

/// Settings of a [`FlashClient`](super::FlashClient).
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Local candidate addresses for `setPeerInfo` (RFC 7425 §5.3.3).
    /// Loopback, link-local, multicast and unspecified addresses are left
    /// out when sent, as §5.3.3 asks.
    pub local_addresses: Vec<SocketAddr>,
    /// Flow priorities and media lifetimes.
    pub media: MediaConfig,
    /// Most subscribers, pending or accepted, across all our
    /// DIRECT_CONNECTIONS streams (Flash's `maxPeerConnections`).
    pub max_peer_connections: usize,
    /// How subscribers are accepted without a policy closure.
    pub peer_connect: PeerConnectMode,
    /// The shortest keepalive period a Set Keepalive Timers may set
    /// (RFC 7425 §5.3.4: MUST have one, SHOULD be at least 5 s).
    pub keepalive_min: Duration,
    /// The longest keepalive period a Set Keepalive Timers may set; it is
    /// also held under half the endpoint's idle timeout.
    pub keepalive_max: Duration,
    /// `flashVer` of the connect command object.
    pub flash_ver: String,
    /// The object encoding asked for in `connect` (the server's answer
    /// decides; AMF0 if it does not say).
    pub object_encoding: ObjectEncoding,
    /// How long a peer play waits for its session to the publisher before
    /// it gives up the direct path and asks the server for the relay
    /// (docs/relay-fallback.md).  `None`: wait for the session's
    /// own open timeout, as Flash Player did.  Default 5 s.
    pub direct_timeout: Option<Duration>,
    /// Publish a DIRECT_CONNECTIONS stream through the server too when
    /// the server asks for a subscriber that found no direct path (only
    /// servers that advertise the relay fallback ask).  Default true.
    pub offer_relay: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            local_addresses: Vec::new(),
            media: MediaConfig::default(),
            max_peer_connections: 8,
            peer_connect: PeerConnectMode::AcceptAll,
            keepalive_min: Duration::from_secs(5),
            keepalive_max: Duration::from_secs(120),
            flash_ver: "rtmfp-rs/0.1".to_owned(),
            object_encoding: ObjectEncoding::Amf3,
            direct_timeout: Some(Duration::from_secs(5)),
            offer_relay: true,
        }
    }
}

/// What the Flash client tells its application.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientEvent {
    /// A status event: of the NetConnection when `stream` is `None`
    /// ("NetConnection.Connect.Success", ...), else of that NetStream
    /// ("NetStream.Publish.Start", "NetStream.Connect.Rejected", ...).
    Status {
        /// The NetStream, if any.
        stream: Option<StreamId>,
        /// The info object.
        info: StatusInfo,
    },
    /// The server answered `createStream` with an RTMP stream ID.
    StreamCreated {
        /// The NetStream.
        stream: StreamId,
        /// The server's stream ID.
        stream_id: u32,
    },
    /// A user control event (StreamBegin, StreamEOF, ...).
    UserControl {
        /// The NetStream, or `None` on the NetConnection.
        stream: Option<StreamId>,
        /// The event.
        event: UserControlEvent,
    },
    /// An audio (8), video (9), data (18, 15) or other message of a
    /// stream being played.
    Media {
        /// The NetStream.
        stream: StreamId,
        /// The RTMP message type.
        message_type: u8,
        /// The RTMP timestamp (ms).
        timestamp: u32,
        /// The payload (an FLV tag body for audio and video).
        payload: Vec<u8>,
    },
    /// A command from the far end that the client does not handle
    /// itself (a server-to-client call).
    Command {
        /// The NetStream, or `None` on the NetConnection.
        stream: Option<StreamId>,
        /// The command.
        command: Command,
    },
    /// The answer to [`FlashClient::call`](super::FlashClient::call).
    CallResult {
        /// The transaction ID `call` returned.
        transaction_id: f64,
        /// `_result` (true) or `_error` (false).
        ok: bool,
        /// The response: its command object and arguments.
        response: Command,
    },
    /// A subscriber asks to play one of our DIRECT_CONNECTIONS streams and
    /// waits for `accept_peer` / `reject_peer` ([`PeerConnectMode::Ask`]).
    PeerConnect {
        /// The subscriber.
        peer: PeerStreamInfo,
    },
    /// A subscriber was accepted and is being sent the stream.
    PeerStreamOpened {
        /// The subscriber.
        peer: PeerStreamInfo,
    },
    /// A subscriber is gone: rejected, closed by it, or its session ended.
    PeerStreamClosed {
        /// The subscriber.
        peer: PeerStreamId,
        /// Our NetStream it played, if any.
        stream: Option<StreamId>,
        /// The subscriber's peer ID (`farID`), if known: every host names
        /// the subscriber that left without keeping its own table.
        far_id: Option<PeerId>,
        /// Why, in words.
        reason: String,
    },
    /// Keepalive periods applied after the server's Set Keepalive Timers
    /// (RFC 7425 §5.3.4), after clamping.
    KeepaliveTimers {
        /// The period of the server session.
        server: Duration,
        /// The period of peer sessions.
        peer: Duration,
    },
}

impl ClientEvent {
    /// The status code, if this is a status event.
    pub fn status_code(&self) -> Option<&str> {
        match self {
            ClientEvent::Status { info, .. } => Some(&info.code),
            _ => None,
        }
    }
}

/// Why a client call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientError {
    /// No such NetStream or subscriber.
    UnknownStream,
    /// The NetConnection is not connected (or not yet).
    NotConnected,
    /// `connect` was already called.
    AlreadyConnected,
    /// The operation does not fit this NetStream's kind or state.
    WrongState(&'static str),
    /// A bad argument (URI, name, size).
    InvalidArgument(String),
    /// The endpoint refused (flow buffer full, session gone, ...).
    Endpoint(EndpointError),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::UnknownStream => f.write_str("no such stream"),
            ClientError::NotConnected => f.write_str("not connected"),
            ClientError::AlreadyConnected => f.write_str("already connected"),
            ClientError::WrongState(why) => f.write_str(why),
            ClientError::InvalidArgument(why) => f.write_str(why),
            ClientError::Endpoint(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ClientError {}

/// Checks a message that an application asks a NetStream to send, so that
/// every binding refuses the same messages in the same words, before the
/// message reaches the I/O thread:
/// - its type is audio (8), video (9) or data (15 AMF3, 18 AMF0), what a
///   Flash publisher sends on a NetStream.  That leaves out the RTMP Chunk
///   Stream control types, which SHOULD NOT be sent (RFC 7425 §5.1), and
///   the NetConnection's commands;
/// - its payload fits an RTMP message: at most 2^24 - 1 bytes (§5.1).
///
/// Returns the type as the byte that goes on the wire (§5.1.2).
pub fn check_stream_message(message_type: i64, payload_len: usize) -> Result<u8, ClientError> {
    use crate::flash::message::{message_type as ty, MAX_U24};
    let t = match u8::try_from(message_type) {
        Ok(t @ (ty::AUDIO | ty::VIDEO | ty::DATA_AMF3 | ty::DATA_AMF0)) => t,
        _ => {
            return Err(ClientError::InvalidArgument(format!(
                "message type {message_type} is not audio (8), video (9) or data (15, 18)"
            )))
        }
    };
    if payload_len > MAX_U24 as usize {
        return Err(ClientError::InvalidArgument(format!(
            "a message holds at most {MAX_U24} bytes, got {payload_len}"
        )));
    }
    Ok(t)
}

impl From<EndpointError> for ClientError {
    fn from(e: EndpointError) -> Self {
        ClientError::Endpoint(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_netstream_sends_audio_video_and_data_only() {
        for t in [8, 9, 15, 18] {
            assert_eq!(check_stream_message(t, 0), Ok(t as u8));
        }
        for t in [-1, 0, 1, 4, 6, 17, 20, 22, 256, 264] {
            let refused = check_stream_message(t, 0).unwrap_err();
            assert_eq!(
                refused.to_string(),
                format!("message type {t} is not audio (8), video (9) or data (15, 18)")
            );
        }
    }

    #[test]
    fn a_message_holds_at_most_2_to_the_24_minus_1_bytes() {
        assert_eq!(check_stream_message(9, 0xff_ffff), Ok(9));
        assert_eq!(
            check_stream_message(9, 0x100_0000),
            Err(ClientError::InvalidArgument(
                "a message holds at most 16777215 bytes, got 16777216".into()
            ))
        );
    }
}
