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
    /// The client's observed address.
    pub address: SocketAddr,
    /// The `app` the client connected to.
    pub app: String,
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
/// I/O thread) and must not block.  A decision that cannot be taken
/// there (it needs the application's own thread, a database, a user)
/// uses [`Asks`] instead: the request waits for a verdict.
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
    /// Which requests wait for the application's verdict (after the
    /// synchronous hook of their kind, if any, accepted them).
    pub asks: Asks,
}

/// The kinds of request a server can ask its application about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AskKind {
    /// `connect` (RFC 7425 §5.3.1-2).
    Connect,
    /// `publish` on a stream (§5.3.5).
    Publish,
    /// `play` on a stream (§5.3.5).
    Play,
}

/// The default reason of a request nobody answered within
/// [`Asks::deadline`].
pub const NO_ANSWER: &str = "no answer from the server application";

/// Ask mode: which requests the server parks until its application
/// answers, and what happens when it does not.
///
/// A parked request is announced by [`ServerEvent::Asked`] with an ask
/// id; [`Server::answer`](super::Server::answer) (or
/// [`ServerHandle::accept`](super::ServerHandle::accept) /
/// [`reject`](super::ServerHandle::reject) from any thread) gives the
/// verdict.  The client is answered only then: a connect with
/// "NetConnection.Connect.Success" or "NetConnection.Connect.Rejected"
/// and the reason as its description (RFC 7425 §5.3.2), a publish with
/// "NetStream.Publish.Start" or "NetStream.Publish.BadName", a play with
/// "NetStream.Play.Start" or "NetStream.Play.Failed" (§5.3.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asks {
    /// Ask about connects (the developer key was accepted first).
    pub connect: bool,
    /// Ask about publishes (the server's own checks passed first).
    pub publish: bool,
    /// Ask about plays.
    pub play: bool,
    /// How long a request waits for its verdict.  Default 10 s (a Flash
    /// client gives up on a connect after about 20 s).
    pub deadline: Duration,
    /// The verdict applied when none came within `deadline` (then
    /// [`ServerEvent::AskEnded`] with [`AskEnd::Expired`]).  Default:
    /// rejected with [`NO_ANSWER`].
    pub default: Decision,
}

impl Default for Asks {
    fn default() -> Self {
        Asks {
            connect: false,
            publish: false,
            play: false,
            deadline: Duration::from_secs(10),
            default: Err(NO_ANSWER.to_owned()),
        }
    }
}

impl Asks {
    /// Whether requests of `kind` are asked about.
    pub fn asks(&self, kind: AskKind) -> bool {
        match kind {
            AskKind::Connect => self.connect,
            AskKind::Publish => self.publish,
            AskKind::Play => self.play,
        }
    }

    /// Sets whether requests of `kind` are asked about.
    pub fn set(&mut self, kind: AskKind, ask: bool) {
        match kind {
            AskKind::Connect => self.connect = ask,
            AskKind::Publish => self.publish = ask,
            AskKind::Play => self.play = ask,
        }
    }
}

/// A request waiting for the application's verdict.
#[derive(Debug, Clone, PartialEq)]
pub enum AskRequest {
    /// A `connect`.
    Connect(ConnectRequest),
    /// A `publish`.
    Publish(StreamRequest),
    /// A `play`.
    Play(StreamRequest),
}

impl AskRequest {
    /// Its kind.
    pub fn kind(&self) -> AskKind {
        match self {
            AskRequest::Connect(_) => AskKind::Connect,
            AskRequest::Publish(_) => AskKind::Publish,
            AskRequest::Play(_) => AskKind::Play,
        }
    }

    /// The client's session.
    pub fn session(&self) -> SessionHandle {
        match self {
            AskRequest::Connect(r) => r.session,
            AskRequest::Publish(r) | AskRequest::Play(r) => r.session,
        }
    }
}

/// How an ask ended without (or before) the application's verdict, or
/// that it had one already.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AskEnd {
    /// A verdict was applied.
    Answered,
    /// Nobody answered within [`Asks::deadline`]: [`Asks::default`] was
    /// applied.
    Expired,
    /// The client went away (its session closed, or it closed or deleted
    /// the stream) while the request was parked: nothing was applied.
    Gone,
}

/// Why a verdict did nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AskError {
    /// No such ask (never asked, or ended too long ago to remember).
    Unknown,
    /// The ask had ended already: this verdict came too late and was
    /// ignored.
    Ended(AskEnd),
    /// The server has stopped.
    Stopped,
}

impl std::fmt::Display for AskError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AskError::Unknown => "no such ask",
            AskError::Ended(AskEnd::Answered) => "the ask was answered already",
            AskError::Ended(AskEnd::Expired) => "the ask expired: its default verdict was applied",
            AskError::Ended(AskEnd::Gone) => "the client went away while the request waited",
            AskError::Stopped => "the server has stopped",
        })
    }
}

impl std::error::Error for AskError {}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks")
            .field("on_connect", &self.on_connect.is_some())
            .field("on_publish", &self.on_publish.is_some())
            .field("on_play", &self.on_play.is_some())
            .field("on_disconnect", &self.on_disconnect.is_some())
            .field("asks", &self.asks)
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
    /// A request waits for the application's verdict ([`Asks`]): answer
    /// with [`Server::answer`](super::Server::answer) and this `id`.
    Asked {
        /// The ask id (never reused by this server).
        id: u64,
        /// The request.
        request: AskRequest,
    },
    /// An ask ended without a verdict: it expired (the default was
    /// applied, its outcome event follows) or its client went away.  A
    /// verdict for it now answers [`AskError::Ended`].
    AskEnded {
        /// The ask id.
        id: u64,
        /// [`AskEnd::Expired`] or [`AskEnd::Gone`].
        end: AskEnd,
    },
}
