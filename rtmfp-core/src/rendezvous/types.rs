//! The rendezvous server's public vocabulary: settings, hooks, events and
//! the views of sessions and streams.

use super::keys::KeySet;
use crate::crypto::PeerId;
use crate::endpoint::SessionHandle;
use crate::flash::media::MediaConfig;
use crate::flash::peer_id::to_hex;
use crate::flash::Value;
use std::net::SocketAddr;
use std::time::Duration;

/// Settings of a [`Server`](super::Server).
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The developer keys accepted on `connect`.
    pub keys: KeySet,
    /// Keepalive periods advised to clients after connecting with Set
    /// Keepalive Timers (RFC 7425 §5.3.4): (server session, peer
    /// sessions).  `None` sends nothing.
    pub keepalive: Option<(Duration, Duration)>,
    /// Flow priorities and lifetimes of relayed streams.
    pub media: MediaConfig,
    /// Relay streams published to the server to its players.
    pub relay: bool,
    /// Most addresses put in one Redirect (RFC 7016's REDIRECT_THRESHOLD
    /// is at most 24 candidates on the initiator's side).
    pub max_redirect_addresses: usize,
    /// `fmsVer` in the connect response.
    pub server_info: String,
    /// Where the server's check service (a STUN responder,
    /// [`crate::check`]) listens, as clients should reach it; sent in the
    /// answer to [`CHECK_INFO`](super::CHECK_INFO).  Empty: no service.
    pub check_addresses: Vec<SocketAddr>,
    /// Most streams one client has at once: a further `createStream` gets
    /// `_error` ("NetConnection.Call.Failed"), so that a client cannot
    /// make the server hold unbounded state.  Default 64; 1 to
    /// [`LIMIT_MAX`](super::LIMIT_MAX) ([`ServerConfig::validate`]).
    pub max_streams_per_client: usize,
    /// Most names one client registers: a further `registerName` gets
    /// `_error`.  Default 16; 1 to [`LIMIT_MAX`](super::LIMIT_MAX).
    pub max_names_per_client: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            keys: KeySet::Any,
            keepalive: Some((Duration::from_secs(15), Duration::from_secs(10))),
            media: MediaConfig::default(),
            relay: true,
            max_redirect_addresses: 8,
            server_info: "rtmfp-rs/0.1".to_owned(),
            check_addresses: Vec::new(),
            max_streams_per_client: 64,
            max_names_per_client: 16,
        }
    }
}

impl ServerConfig {
    /// Checks the per-client limits (see [`Limit::check`](super::Limit::check)):
    /// [`ServerHandle`](super::ServerHandle) refuses to start with a
    /// config that fails this.
    pub fn validate(&self) -> Result<(), super::LimitError> {
        super::Limit::StreamsPerClient.check(self.max_streams_per_client)?;
        super::Limit::NamesPerClient.check(self.max_names_per_client)?;
        Ok(())
    }
}

/// A `connect` the server is deciding on.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectRequest {
    /// The session.
    pub session: SessionHandle,
    /// The client's peer ID.
    pub peer_id: Option<PeerId>,
    /// Its observed address.
    pub address: SocketAddr,
    /// The command object's `app`.
    pub app: String,
    /// The command object's `tcUrl`.
    pub tc_url: String,
    /// The developer key (see [`keys`](super::keys)).
    pub key: Option<String>,
    /// The extra `connect` arguments.
    pub args: Vec<Value>,
}

/// A `publish` or `play` the server is deciding on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRequest {
    /// The client's session.
    pub session: SessionHandle,
    /// The client's peer ID.
    pub peer_id: Option<PeerId>,
    /// The stream name.
    pub name: String,
    /// The RTMP stream ID on the client's connection.
    pub stream_id: u32,
}

/// Accepts (`Ok`) or rejects with a reason a client sees in its status.
pub type Decision = Result<(), String>;

/// Decides on connects (after the developer key check).
pub type ConnectHook = Box<dyn FnMut(&ConnectRequest) -> Decision + Send>;
/// Decides on publishes or plays.
pub type StreamHook = Box<dyn FnMut(&StreamRequest) -> Decision + Send>;
/// Hears about a disconnect.
pub type DisconnectHook = Box<dyn FnMut(&ClientInfo) + Send>;

/// The server's hooks.  They run on the endpoint's thread (the runtime's
/// I/O thread) and must not block.
#[derive(Default)]
pub struct Hooks {
    /// `connect`: accept or reject with a reason.
    pub on_connect: Option<ConnectHook>,
    /// `publish`: accept or reject with a reason.
    pub on_publish: Option<StreamHook>,
    /// `play`: accept or reject with a reason.
    pub on_play: Option<StreamHook>,
    /// A connected client went away.
    pub on_disconnect: Option<DisconnectHook>,
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks")
            .field("on_connect", &self.on_connect.is_some())
            .field("on_publish", &self.on_publish.is_some())
            .field("on_play", &self.on_play.is_some())
            .field("on_disconnect", &self.on_disconnect.is_some())
            .finish()
    }
}

/// One client session as the server sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// The session.
    pub session: SessionHandle,
    /// The client's peer ID.
    pub peer_id: Option<PeerId>,
    /// The session's far address.
    pub address: SocketAddr,
    /// Its `setPeerInfo` addresses.
    pub addresses: Vec<SocketAddr>,
    /// Whether `connect` succeeded.
    pub connected: bool,
    /// RFC 7425 §5.3.3: behind a NAT iff the observed address is not in
    /// its `setPeerInfo` list (`None` before `setPeerInfo`).
    pub behind_nat: Option<bool>,
    /// The `app` it connected to.
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
    pub media_in: u64,
}

impl ClientInfo {
    /// The peer ID as 64 hex characters.
    pub fn peer_id_hex(&self) -> Option<String> {
        self.peer_id.as_ref().map(|p| to_hex(p))
    }
}

/// One stream published to the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamInfo {
    /// The stream name.
    pub name: String,
    /// The publisher's session.
    pub publisher: SessionHandle,
    /// The publisher's peer ID.
    pub publisher_id: Option<PeerId>,
    /// How many clients play it.
    pub players: usize,
    /// Messages received from the publisher.
    pub messages: u64,
    /// Payload bytes received from the publisher.
    pub bytes: u64,
    /// Messages sent to players.
    pub relayed: u64,
}

/// What the server tells its application.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerEvent {
    /// A client connected.
    Connected {
        /// The client.
        client: ClientInfo,
    },
    /// A connect was rejected.
    Rejected {
        /// The session.
        session: SessionHandle,
        /// The client's peer ID.
        peer_id: Option<PeerId>,
        /// Why.
        reason: String,
    },
    /// A client sent `setPeerInfo`.
    PeerInfo {
        /// The client's session.
        session: SessionHandle,
        /// The client's peer ID.
        peer_id: Option<PeerId>,
        /// The addresses.
        addresses: Vec<SocketAddr>,
    },
    /// A connected client went away.
    Disconnected {
        /// The client as it was.
        client: ClientInfo,
    },
    /// A stream was published to the server.
    Published {
        /// The publisher's session.
        session: SessionHandle,
        /// The stream name.
        name: String,
    },
    /// A stream stopped being published.
    Unpublished {
        /// The publisher's session.
        session: SessionHandle,
        /// The stream name.
        name: String,
    },
    /// A client started playing a stream through the server.
    Playing {
        /// The player's session.
        session: SessionHandle,
        /// The stream name.
        name: String,
    },
    /// A publish or play was refused.
    StreamRejected {
        /// The client's session.
        session: SessionHandle,
        /// The stream name.
        name: String,
        /// Why.
        reason: String,
    },
    /// The server introduced an initiator to a registered peer (RFC 7016
    /// §3.5.1.6): a Redirect to the initiator, a Forwarded IHello to the
    /// peer.
    Introduced {
        /// The initiator's address.
        initiator: SocketAddr,
        /// The peer it asked for.
        target: PeerId,
        /// The addresses in the Redirect.
        addresses: Vec<SocketAddr>,
    },
    /// A client registered a name.
    NameRegistered {
        /// The client's peer ID.
        peer_id: PeerId,
        /// The name.
        name: String,
    },
}
