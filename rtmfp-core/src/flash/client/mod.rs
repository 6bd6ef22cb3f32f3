//! The Flash client: NetConnection and NetStream semantics on top of an
//! [`Endpoint`], as a [`Layer`] (RFC 7425 §5.3, §5.4).
//!
//! [`FlashClient`] is sans-IO like the endpoint under it: every call takes
//! the endpoint and the time, and every endpoint event goes through
//! [`Layer::on_event`].  The runtime runs it on its I/O thread
//! ([`NetConnection`](crate::flash::NetConnection) is the typed wrapper);
//! the simulator runs it in an [`endpoint::Layered`](crate::endpoint::Layered)
//! node.  What it has to say comes out as [`ClientEvent`]s, either queued
//! for [`FlashClient::poll_event`] or handed to a sink
//! ([`FlashClient::set_event_sink`]).
//!
//! - **NetConnection** (§5.3): [`FlashClient::connect`] opens the session
//!   with the URI as EPD Ancillary Data, opens the control flow (stream
//!   ID 0) on S_OPEN and sends `connect`; the first server flow for
//!   stream ID 0 associated to it is the canonical return control flow;
//!   `_result` gives "NetConnection.Connect.Success" and is followed by
//!   `setPeerInfo` with the local candidate addresses (§5.3.3).  Set
//!   Keepalive Timers (§5.3.4) is clamped and applied.
//! - **NetStream through the server** (§5.3.5): [`FlashClient::create_stream`],
//!   [`FlashClient::publish`], [`FlashClient::play`], [`FlashClient::send`].
//! - **DIRECT_CONNECTIONS** (§5.4): a publisher's
//!   [`FlashClient::create_direct_stream`] is played by peers that open a
//!   session to our peer ID (through the server as introducer) and send
//!   `play` on an unassociated flow with a non-zero stream ID; a
//!   subscriber's [`FlashClient::create_peer_stream`] does that.

mod fallback;
pub use fallback::{PLAY_RELAYED, PUBLISH_RELAYED};
mod p2p;
pub use p2p::FIRST_PEER_STREAM_ID;
mod server;
mod sync;
mod types;

pub use types::{
    check_stream_message, ClientConfig, ClientError, ClientEvent, PeerConnectMode, PeerStreamId,
    PeerStreamInfo, StreamId, StreamKind,
};

use super::command::{code, Command, ObjectEncoding, StatusInfo};
use super::flow_sync::{FlowSync, Received, Synced};
use super::media::StreamSender;
use super::uri::RtmfpUri;
use super::Value;
use crate::crypto::PeerId;
use crate::endpoint::{Endpoint, Event, Layer, SessionHandle};
use crate::flow::FlowId;
use std::any::Any;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

pub use crate::endpoint::EventSink;

/// A publisher's synchronous `onPeerConnect`: true accepts the subscriber.
pub type PeerConnectPolicy = Box<dyn FnMut(&PeerStreamInfo) -> bool + Send>;

/// Transaction ID of `connect` (RTMP commands §7.2.1.1 says 1).
const CONNECT_TXN: u64 = 1;

/// The NetConnection to the server.
struct ServerConn {
    uri: RtmfpUri,
    session: SessionHandle,
    state: ConnState,
    far_address: Option<SocketAddr>,
    far_id: Option<PeerId>,
    near_nonce: Vec<u8>,
    far_nonce: Vec<u8>,
    /// Our NetConnection control flow (stream ID 0).
    control: Option<StreamSender>,
    /// The canonical return control flow (§5.3.2).
    return_control: Option<FlowId>,
    /// Every server flow we accepted, with its stream ID.
    recv: HashMap<FlowId, u32>,
    encoding: ObjectEncoding,
    connect_command: Command,
    /// The connection's status was reported closed (or failed).
    ended: bool,
    /// The server takes part in the relay fallback (fallback.rs).
    relay_fallback: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ConnState {
    Opening,
    Connecting,
    Connected,
    Closed,
}

enum Op {
    Publish(String),
    Play(String),
}

/// A subscriber's play of a peer's DIRECT_CONNECTIONS stream.
#[derive(Default)]
struct PeerPlay {
    session: Option<SessionHandle>,
    name: Option<String>,
    /// The publisher's return flows.
    recv: HashSet<FlowId>,
    /// Over: rejected, failed or closed (reported once).
    ended: bool,
    /// While the session to the publisher opens: when to give up the
    /// direct path (fallback.rs).
    direct_deadline: Option<Instant>,
    /// The relay fallback's progress.
    relay: RelayPlay,
}

/// A peer play's relay fallback.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
enum RelayPlay {
    #[default]
    None,
    /// `relayPeerStream` sent.
    Asked,
    /// Playing this name through the server.
    Playing(String),
}

struct NetStream {
    kind: StreamKind,
    /// Server streams: the server's stream ID; peer streams: the stream
    /// ID of our control flow to the publisher.
    stream_id: Option<u32>,
    /// Server streams: operations waiting for the stream ID.
    pending: Vec<Op>,
    /// Server streams: our flows to the server; peer streams: our control
    /// flow to the publisher (its data flow).
    sender: Option<StreamSender>,
    publishing: Option<String>,
    playing: Option<String>,
    peer: PeerPlay,
    closed: bool,
    /// A DIRECT_CONNECTIONS stream's hidden server stream that relays it
    /// to subscribers with no direct path (fallback.rs).
    mirror: Option<StreamId>,
    /// A hidden server stream: the DIRECT_CONNECTIONS stream it relays.
    mirror_of: Option<StreamId>,
}

/// A session with a peer (either direction).
struct PeerSession {
    far_id: Option<PeerId>,
    far_address: Option<SocketAddr>,
    open: bool,
    /// Peer streams waiting for this session to open.
    waiting: Vec<StreamId>,
    /// The next stream ID for a control flow we open on it.
    next_stream_id: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PeerState {
    /// Its control flow is open; no `play` yet.
    AwaitingPlay,
    /// `play` received; waiting for accept_peer / reject_peer.
    Pending,
    /// Being sent the stream.
    Accepted,
}

/// A subscriber of one of our DIRECT_CONNECTIONS streams.
struct PeerStream {
    info: PeerStreamInfo,
    /// The subscriber's control flow (our receiving flow).
    control: FlowId,
    sender: Option<StreamSender>,
    state: PeerState,
}

enum Call {
    CreateStream(StreamId),
    /// `relayPeerStream` for a peer play, and why there is no direct path.
    Relay(StreamId, String),
    User,
}

/// NetConnection and NetStream on an endpoint: see the module docs.
pub struct FlashClient {
    config: ClientConfig,
    conn: Option<ServerConn>,
    streams: BTreeMap<StreamId, NetStream>,
    next_stream: u32,
    /// Server stream ID → NetStream.
    server_streams: HashMap<u32, StreamId>,
    next_txn: u64,
    calls: HashMap<u64, Call>,
    peer_sessions: HashMap<SessionHandle, PeerSession>,
    peers: BTreeMap<PeerStreamId, PeerStream>,
    next_peer: u64,
    /// (session, subscriber control flow) → subscriber.
    peer_controls: HashMap<(SessionHandle, FlowId), PeerStreamId>,
    /// (session, our control flow to a publisher) → peer NetStream.
    player_controls: HashMap<(SessionHandle, FlowId), StreamId>,
    /// (session, publisher's return flow) → peer NetStream.
    player_flows: HashMap<(SessionHandle, FlowId), StreamId>,
    /// Our rejection status flow → the subscriber control flow to reject
    /// once it is delivered.
    rejecting: HashMap<(SessionHandle, FlowId), FlowId>,
    /// Peer streams waiting for the server connection.
    waiting_for_server: Vec<StreamId>,
    peer_keepalive: Option<Duration>,
    policy: Option<PeerConnectPolicy>,
    /// DIRECT_CONNECTIONS streams whose subscribers are asked about
    /// whatever the mode ([`FlashClient::set_stream_asks`]).
    asking: std::collections::HashSet<StreamId>,
    events: VecDeque<ClientEvent>,
    sink: Option<EventSink<ClientEvent>>,
    /// Flow Synchronization barriers on what every session's flows
    /// receive (RFC 7425 §5.2).
    flow_sync: FlowSync,
    /// The syncID of the next Flow Synchronization barrier we put on a
    /// subscriber's flows.
    next_sync_id: u32,
}

impl std::fmt::Debug for FlashClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlashClient")
            .field("connected", &self.is_connected())
            .field("streams", &self.streams.len())
            .field("peer_streams", &self.peers.len())
            .finish_non_exhaustive()
    }
}

impl FlashClient {
    /// A client with no connection yet.
    pub fn new(config: ClientConfig) -> FlashClient {
        FlashClient {
            config,
            conn: None,
            streams: BTreeMap::new(),
            next_stream: 1,
            server_streams: HashMap::new(),
            next_txn: CONNECT_TXN + 1,
            calls: HashMap::new(),
            peer_sessions: HashMap::new(),
            peers: BTreeMap::new(),
            next_peer: 1,
            peer_controls: HashMap::new(),
            player_controls: HashMap::new(),
            player_flows: HashMap::new(),
            rejecting: HashMap::new(),
            waiting_for_server: Vec::new(),
            peer_keepalive: None,
            policy: None,
            asking: Default::default(),
            events: VecDeque::new(),
            sink: None,
            flow_sync: FlowSync::default(),
            next_sync_id: 0,
        }
    }

    /// The settings.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Changes `max_peer_connections` (subscribers already accepted stay).
    pub fn set_max_peer_connections(&mut self, max: usize) {
        self.config.max_peer_connections = max;
    }

    /// Sets the local candidate addresses sent in `setPeerInfo`.
    pub fn set_local_addresses(&mut self, addresses: Vec<SocketAddr>) {
        self.config.local_addresses = addresses;
    }

    /// Sends events to `sink` instead of the internal queue (events
    /// already queued stay there).
    pub fn set_event_sink(&mut self, sink: EventSink<ClientEvent>) {
        self.sink = Some(sink);
    }

    /// Sets the publisher's synchronous `onPeerConnect`: called for every
    /// subscriber that asks to play one of our DIRECT_CONNECTIONS streams
    /// (within `max_peer_connections`); false rejects it with
    /// "NetStream.Connect.Rejected".  It runs on the endpoint's thread and
    /// must not block.
    pub fn set_peer_connect_policy(&mut self, policy: Option<PeerConnectPolicy>) {
        self.policy = policy;
    }

    /// Asks (`true`) about the subscribers of DIRECT_CONNECTIONS stream
    /// `stream` whatever [`ClientConfig::peer_connect`] says: each one is
    /// a [`ClientEvent::PeerConnect`] that waits for
    /// [`FlashClient::accept_peer`] or [`FlashClient::reject_peer`], as
    /// an application-level `onPeerConnect` that cannot run on the I/O
    /// thread needs; `false` goes back to the mode.  A synchronous policy
    /// still comes first.  Closing the stream forgets it.
    pub fn set_stream_asks(&mut self, stream: StreamId, asks: bool) -> Result<(), ClientError> {
        if !self.streams.contains_key(&stream) {
            return Err(ClientError::UnknownStream);
        }
        if asks {
            self.asking.insert(stream);
        } else {
            self.asking.remove(&stream);
        }
        Ok(())
    }

    /// The next queued event (when no sink is set).
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    fn emit(&mut self, event: ClientEvent) {
        if event_stream(&event).is_some_and(|s| self.is_mirror(s)) {
            // A mirror is internal: its owner's stream reports for it.
            return;
        }
        match self.sink.as_mut() {
            Some(sink) => sink(event),
            None => self.events.push_back(event),
        }
    }

    fn status(&mut self, stream: Option<StreamId>, info: StatusInfo) {
        self.emit(ClientEvent::Status { stream, info });
    }

    fn txn(&mut self) -> u64 {
        let t = self.next_txn;
        self.next_txn += 1;
        t
    }

    // ----- NetConnection -----

    /// Connects to the server at `uri` (`rtmfp://host[:port]/app/...`),
    /// trying the candidate addresses the host resolved to
    /// (RFC 7425 §5.3.1).  `args` are extra `connect` arguments.  The
    /// outcome arrives as a status event: "NetConnection.Connect.Success",
    /// ".Failed" or ".Rejected".
    ///
    /// Once a connection has ended (closed, failed or rejected), `connect`
    /// may be called again: the new connection has the same identity, so
    /// the same peer ID (a client whose server died reconnects, through a
    /// cluster's redirector, and is found again under its peer ID).
    /// Streams of the old connection stay closed.
    pub fn connect(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        uri: &str,
        candidates: &[SocketAddr],
        args: Vec<Value>,
    ) -> Result<(), ClientError> {
        if self.conn.as_ref().is_some_and(|c| !c.ended) {
            return Err(ClientError::AlreadyConnected);
        }
        let uri = RtmfpUri::parse(uri).map_err(|e| ClientError::InvalidArgument(e.to_string()))?;
        let mut object = super::command::ConnectObject::new(&uri.app, &uri.tc_url);
        object.flash_ver = self.config.flash_ver.clone();
        object.object_encoding = self.config.object_encoding;
        let epd = crate::crypto::flash::epd::epd_for_uri(&uri.tc_url, None);
        let session = ep.connect(now, epd, candidates)?;
        self.conn = Some(ServerConn {
            uri,
            session,
            state: ConnState::Opening,
            far_address: None,
            far_id: None,
            near_nonce: Vec::new(),
            far_nonce: Vec::new(),
            control: None,
            return_control: None,
            recv: HashMap::new(),
            encoding: ObjectEncoding::Amf0,
            connect_command: Command::connect(&object, args),
            ended: false,
            relay_fallback: false,
        });
        Ok(())
    }

    /// Whether `connect` succeeded and the connection is up.
    pub fn is_connected(&self) -> bool {
        self.conn
            .as_ref()
            .is_some_and(|c| c.state == ConnState::Connected)
    }

    /// The server session, once `connect` was called.
    pub fn server_session(&self) -> Option<SessionHandle> {
        self.conn.as_ref().map(|c| c.session)
    }

    /// The server's address (the server session's DESTADDR), once open.
    pub fn server_address(&self) -> Option<SocketAddr> {
        self.conn.as_ref().and_then(|c| c.far_address)
    }

    /// The parsed URI of the connection.
    pub fn uri(&self) -> Option<&RtmfpUri> {
        self.conn.as_ref().map(|c| &c.uri)
    }

    /// The server's peer ID (`farID`), once the session is open.
    pub fn far_id(&self) -> Option<PeerId> {
        self.conn.as_ref().and_then(|c| c.far_id)
    }

    /// NEAR_NONCE of the server session (RFC 7425 §4.6.5).
    pub fn near_nonce(&self) -> Option<&[u8]> {
        self.conn
            .as_ref()
            .filter(|c| !c.near_nonce.is_empty())
            .map(|c| c.near_nonce.as_slice())
    }

    /// FAR_NONCE of the server session.
    pub fn far_nonce(&self) -> Option<&[u8]> {
        self.conn
            .as_ref()
            .filter(|c| !c.far_nonce.is_empty())
            .map(|c| c.far_nonce.as_slice())
    }

    /// The object encoding the server negotiated.
    pub fn object_encoding(&self) -> ObjectEncoding {
        self.conn
            .as_ref()
            .map_or(ObjectEncoding::Amf0, |c| c.encoding)
    }

    /// Calls a server command on the NetConnection: `(name, txn, null,
    /// args...)`.  The answer arrives as [`ClientEvent::CallResult`] with
    /// the returned transaction ID.
    pub fn call(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        name: &str,
        args: Vec<Value>,
    ) -> Result<f64, ClientError> {
        let txn = self.txn();
        let command = Command::new(name, txn as f64, Value::Null, args);
        self.send_control(ep, now, &command)?;
        self.calls.insert(txn, Call::User);
        Ok(txn as f64)
    }

    /// Closes the NetConnection in order (RFC 7425 §5.3.6): every sending
    /// flow to the server is closed, then the session.  Peer sessions
    /// close too.  "NetConnection.Connect.Closed" follows.
    pub fn close(&mut self, ep: &mut Endpoint, now: Instant) {
        let ids: Vec<StreamId> = self.streams.keys().copied().collect();
        for id in ids {
            let _ = self.close_stream(ep, now, id);
        }
        let peer_sessions: Vec<SessionHandle> = self.peer_sessions.keys().copied().collect();
        for s in peer_sessions {
            let _ = ep.close(now, s, false);
        }
        if let Some(conn) = self.conn.as_mut() {
            if let Some(control) = conn.control.as_mut() {
                control.close(ep, now);
            }
            let _ = ep.close(now, conn.session, false);
            if conn.state == ConnState::Opening {
                self.server_gone(Some(code::CONNECT_FAILED), "closed before it opened");
            }
        }
    }

    // ----- NetStream -----

    fn new_stream(&mut self, kind: StreamKind) -> StreamId {
        let id = StreamId(self.next_stream);
        self.next_stream += 1;
        self.streams.insert(
            id,
            NetStream {
                kind,
                stream_id: None,
                pending: Vec::new(),
                sender: None,
                publishing: None,
                playing: None,
                peer: PeerPlay::default(),
                closed: false,
                mirror: None,
                mirror_of: None,
            },
        );
        id
    }

    /// A NetStream through the server: `createStream` is sent now, or as
    /// soon as the connection is up.  `publish` and `play` may be called
    /// at once; they wait for the stream ID.
    pub fn create_stream(&mut self, ep: &mut Endpoint, now: Instant) -> StreamId {
        let id = self.new_stream(StreamKind::Server);
        if self.is_connected() {
            self.send_create_stream(ep, now, id);
        }
        id
    }

    /// A `NetStream(DIRECT_CONNECTIONS)`: [`FlashClient::publish`] on it
    /// publishes to peers that play it directly (RFC 7425 §5.4).
    pub fn create_direct_stream(&mut self) -> StreamId {
        self.new_stream(StreamKind::DirectConnections)
    }

    /// A `NetStream(peerID)`: [`FlashClient::play`] on it plays a
    /// DIRECT_CONNECTIONS stream published by that peer (RFC 7425 §5.4.1).
    pub fn create_peer_stream(&mut self, peer: PeerId) -> StreamId {
        self.new_stream(StreamKind::Peer(peer))
    }

    /// The kind of a NetStream.
    pub fn stream_kind(&self, stream: StreamId) -> Option<StreamKind> {
        self.streams.get(&stream).map(|s| s.kind)
    }

    /// The RTMP stream ID of a NetStream (server streams: the server's;
    /// peer streams: ours to the publisher), once known.
    pub fn stream_id(&self, stream: StreamId) -> Option<u32> {
        self.streams.get(&stream).and_then(|s| s.stream_id)
    }

    /// The NetStreams.
    pub fn streams(&self) -> Vec<StreamId> {
        self.streams.keys().copied().collect()
    }

    /// Publishes `name` on a server or DIRECT_CONNECTIONS NetStream.
    pub fn publish(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        stream: StreamId,
        name: &str,
    ) -> Result<(), ClientError> {
        let s = self
            .streams
            .get_mut(&stream)
            .ok_or(ClientError::UnknownStream)?;
        if s.closed {
            return Err(ClientError::WrongState("the stream is closed"));
        }
        if s.publishing.is_some() || s.playing.is_some() {
            return Err(ClientError::WrongState("the stream is already in use"));
        }
        match s.kind {
            StreamKind::Server => {
                s.publishing = Some(name.to_owned());
                if s.stream_id.is_some() {
                    self.run_op(ep, now, stream, Op::Publish(name.to_owned()))
                } else {
                    s.pending.push(Op::Publish(name.to_owned()));
                    Ok(())
                }
            }
            StreamKind::DirectConnections => {
                let taken = self.streams.iter().any(|(id, o)| {
                    *id != stream
                        && o.kind == StreamKind::DirectConnections
                        && o.publishing.as_deref() == Some(name)
                });
                if taken {
                    self.status(
                        Some(stream),
                        StatusInfo::error(code::PUBLISH_BAD_NAME, "stream name already published"),
                    );
                    return Err(ClientError::InvalidArgument(format!(
                        "{name:?} is already published"
                    )));
                }
                if let Some(s) = self.streams.get_mut(&stream) {
                    s.publishing = Some(name.to_owned());
                }
                // No server involvement: peers come to us (RFC 7425 §5.4).
                self.status(
                    Some(stream),
                    StatusInfo::status(code::PUBLISH_START, &format!("{name} is now published."))
                        .with("details", Value::from(name)),
                );
                Ok(())
            }
            StreamKind::Peer(_) => Err(ClientError::WrongState(
                "a peer NetStream can only play the peer's stream",
            )),
        }
    }

    /// Plays `name`: through the server on a server NetStream, or directly
    /// from the peer on a peer NetStream.
    pub fn play(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        stream: StreamId,
        name: &str,
    ) -> Result<(), ClientError> {
        let s = self
            .streams
            .get_mut(&stream)
            .ok_or(ClientError::UnknownStream)?;
        if s.closed {
            return Err(ClientError::WrongState("the stream is closed"));
        }
        if s.publishing.is_some() || s.playing.is_some() {
            return Err(ClientError::WrongState("the stream is already in use"));
        }
        s.playing = Some(name.to_owned());
        match s.kind {
            StreamKind::Server => {
                if s.stream_id.is_some() {
                    self.run_op(ep, now, stream, Op::Play(name.to_owned()))
                } else {
                    s.pending.push(Op::Play(name.to_owned()));
                    Ok(())
                }
            }
            StreamKind::DirectConnections => {
                s.playing = None;
                Err(ClientError::WrongState(
                    "a DIRECT_CONNECTIONS NetStream publishes; play with a peer NetStream",
                ))
            }
            StreamKind::Peer(_) => {
                s.peer.name = Some(name.to_owned());
                self.start_peer_play(ep, now, stream);
                Ok(())
            }
        }
    }

    /// Sends one message on a publishing NetStream: to the server, or to
    /// every accepted subscriber of a DIRECT_CONNECTIONS stream (none
    /// before a subscriber has subscribed, RFC 7425 §5.4.2).  Returns how
    /// many destinations it was queued for.  Any message type goes, as a
    /// Flash Player may send a command there (`closeStream`); what an
    /// application may send is [`check_stream_message`]'s to say, which
    /// the hosted [`crate::flash::NetStream`] and every binding apply.
    pub fn send(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        stream: StreamId,
        message_type: u8,
        timestamp: u32,
        payload: &[u8],
    ) -> Result<usize, ClientError> {
        let s = self
            .streams
            .get_mut(&stream)
            .ok_or(ClientError::UnknownStream)?;
        if s.publishing.is_none() {
            return Err(ClientError::WrongState("the stream is not publishing"));
        }
        match s.kind {
            StreamKind::Server => {
                let sender = s
                    .sender
                    .as_mut()
                    .ok_or(ClientError::WrongState("the stream has no stream ID yet"))?;
                sender.send(ep, now, message_type, timestamp, payload)?;
                Ok(1)
            }
            StreamKind::DirectConnections => {
                let mirror = s.mirror;
                let peers =
                    self.send_to_peers(ep, now, stream, None, message_type, timestamp, payload);
                // Subscribers with no direct path get it through the
                // server (fallback.rs).
                let relayed = match mirror.and_then(|m| self.streams.get_mut(&m)) {
                    Some(m) => match m.sender.as_mut() {
                        Some(sender) => sender
                            .send(ep, now, message_type, timestamp, payload)
                            .is_ok(),
                        None => false,
                    },
                    None => false,
                };
                match (peers, relayed) {
                    (Ok(n), r) => Ok(n + usize::from(r)),
                    (Err(_), true) => Ok(1),
                    (Err(e), false) => Err(e),
                }
            }
            StreamKind::Peer(_) => Err(ClientError::WrongState("a peer NetStream plays")),
        }
    }

    /// Sends one message to one subscriber of a DIRECT_CONNECTIONS stream.
    pub fn send_to_peer(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        peer: PeerStreamId,
        message_type: u8,
        timestamp: u32,
        payload: &[u8],
    ) -> Result<(), ClientError> {
        let p = self.peers.get(&peer).ok_or(ClientError::UnknownStream)?;
        if p.state != PeerState::Accepted {
            return Err(ClientError::WrongState("the subscriber is not accepted"));
        }
        let stream = p.info.stream.ok_or(ClientError::UnknownStream)?;
        match self.send_to_peers(
            ep,
            now,
            stream,
            Some(peer),
            message_type,
            timestamp,
            payload,
        )? {
            1 => Ok(()),
            _ => Err(ClientError::WrongState("the subscriber's flows are closed")),
        }
    }

    /// Closes a NetStream: its flows close (RFC 7425 §5.3.5.3); a
    /// DIRECT_CONNECTIONS stream unpublishes and drops its subscribers; a
    /// server stream is deleted (`deleteStream`).
    pub fn close_stream(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        stream: StreamId,
    ) -> Result<(), ClientError> {
        let s = self
            .streams
            .get_mut(&stream)
            .ok_or(ClientError::UnknownStream)?;
        if s.closed {
            return Ok(());
        }
        s.closed = true;
        let kind = s.kind;
        let stream_id = s.stream_id;
        self.asking.remove(&stream);
        if let Some(sender) = s.sender.as_mut() {
            sender.close(ep, now);
        }
        match kind {
            StreamKind::Server => {
                if let Some(id) = stream_id {
                    let _ = self.send_control(ep, now, &Command::delete_stream(id));
                }
            }
            StreamKind::DirectConnections => {
                let subscribers: Vec<PeerStreamId> = self
                    .peers
                    .iter()
                    .filter(|(_, p)| p.info.stream == Some(stream))
                    .map(|(id, _)| *id)
                    .collect();
                for p in subscribers {
                    self.drop_peer(ep, now, p, "the publisher closed the stream", true);
                }
                let mirror = self.streams.get_mut(&stream).and_then(|s| s.mirror.take());
                if let Some(m) = mirror {
                    let _ = self.close_stream(ep, now, m);
                }
            }
            StreamKind::Peer(_) => {
                // Played through the server relay: delete that stream.
                let relayed = self
                    .streams
                    .get(&stream)
                    .is_some_and(|s| matches!(s.peer.relay, RelayPlay::Playing(_)));
                if let (true, Some(id)) = (relayed, stream_id) {
                    let _ = self.send_control(ep, now, &Command::delete_stream(id));
                }
            }
        }
        Ok(())
    }

    // ----- DIRECT_CONNECTIONS publisher -----

    /// Accepts a subscriber announced by [`ClientEvent::PeerConnect`].
    pub fn accept_peer(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        peer: PeerStreamId,
    ) -> Result<(), ClientError> {
        match self.peers.get(&peer) {
            Some(p) if p.state == PeerState::Pending => {
                self.admit_peer(ep, now, peer);
                Ok(())
            }
            Some(_) => Err(ClientError::WrongState("the subscriber is not pending")),
            None => Err(ClientError::UnknownStream),
        }
    }

    /// Rejects a pending or accepted subscriber: it is sent
    /// "NetStream.Connect.Rejected" with `reason`, and its control flow is
    /// rejected (RFC 7425 §5.4.3).
    pub fn reject_peer(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        peer: PeerStreamId,
        reason: &str,
    ) -> Result<(), ClientError> {
        if !self.peers.contains_key(&peer) {
            return Err(ClientError::UnknownStream);
        }
        self.refuse_peer(ep, now, peer, code::CONNECT_REJECTED_STREAM, reason);
        Ok(())
    }

    /// The subscribers of our DIRECT_CONNECTIONS streams (Flash's
    /// `peerStreams`): accepted ones, of `stream` or of all streams.
    pub fn peer_streams(&self, stream: Option<StreamId>) -> Vec<PeerStreamInfo> {
        self.peers
            .values()
            .filter(|p| p.state == PeerState::Accepted)
            .filter(|p| stream.is_none() || p.info.stream == stream)
            .map(|p| p.info.clone())
            .collect()
    }

    /// Subscribers that have asked to play but have not yet been sent any
    /// media (Flash's `unconnectedPeerStreams`).
    pub fn unconnected_peer_streams(&self) -> Vec<PeerStreamInfo> {
        self.peers
            .values()
            .filter(|p| p.state != PeerState::AwaitingPlay && p.info.media_sent == 0)
            .map(|p| p.info.clone())
            .collect()
    }

    /// How far delivery has got on the server session and the sessions of
    /// the subscribers of `stream` (`None`: of every DIRECT_CONNECTIONS
    /// stream): bytes in flight and data bytes sent so far.  Everything
    /// queued has been delivered once the first is 0 and the second stops
    /// moving.
    pub fn delivery(&self, ep: &Endpoint, stream: Option<StreamId>) -> (usize, u64) {
        let mut sessions: Vec<_> = self.server_session().into_iter().collect();
        sessions.extend(self.peer_streams(stream).iter().map(|p| p.session));
        let (mut in_flight, mut sent) = (0usize, 0u64);
        for s in sessions {
            if let Some(info) = ep.session_info(s) {
                in_flight += info.stats.flows.bytes_in_flight;
                sent += info.stats.flows.data_bytes_sent;
            }
        }
        (in_flight, sent)
    }

    /// One subscriber.
    pub fn peer_stream(&self, peer: PeerStreamId) -> Option<PeerStreamInfo> {
        self.peers.get(&peer).map(|p| p.info.clone())
    }
}

impl Layer for FlashClient {
    fn on_event(&mut self, ep: &mut Endpoint, now: Instant, event: Event) -> Option<Event> {
        let server = self.conn.as_ref().map(|c| c.session);
        match event {
            Event::SessionOpened {
                session,
                role,
                far_address,
                far_peer_id,
                near_nonce,
                far_nonce,
            } => {
                if Some(session) == server {
                    self.on_server_open(ep, now, far_address, far_peer_id, near_nonce, far_nonce);
                } else {
                    self.on_peer_session_open(ep, now, session, role, far_address, far_peer_id);
                }
            }
            Event::SessionOpenFailed { session, reason } => {
                if Some(session) == server {
                    self.server_gone(
                        Some(code::CONNECT_FAILED),
                        &format!("the session did not open: {reason}"),
                    );
                } else {
                    self.on_peer_session_failed(ep, now, session, reason);
                }
            }
            Event::SessionClosed { session, reason } => {
                self.flow_sync.forget(session);
                if Some(session) == server {
                    self.server_gone(None, &format!("the session closed: {reason:?}"));
                } else {
                    self.on_peer_session_closed(ep, now, session);
                }
            }
            Event::FlowOpened {
                session,
                flow,
                metadata,
                association,
            } => {
                self.before_flow_opened(ep, now, session, flow);
                if Some(session) == server {
                    self.on_server_flow(ep, now, flow, &metadata, association);
                } else {
                    self.on_peer_flow(ep, now, session, flow, &metadata, association);
                }
            }
            Event::Message {
                session,
                flow,
                data,
                ..
            } => self.receive(ep, now, session, flow, Received::Message(data)),
            Event::FlowRejected { session, flow, .. } => {
                if Some(session) == server {
                    self.on_server_flow_rejected(ep, now, flow);
                } else {
                    self.on_peer_flow_rejected(ep, now, session, flow);
                }
            }
            Event::FlowFinished { session, flow } => {
                self.receive(ep, now, session, flow, Received::Finished)
            }
            Event::FlowComplete { session, flow } => {
                if let Some(control) = self.rejecting.remove(&(session, flow)) {
                    // The rejection status is delivered: now reject the
                    // subscriber's control flow (RFC 7425 §5.4.3).
                    let _ = ep.reject_flow(session, control, 0);
                }
            }
            Event::FarAddressChanged { session, to, .. } => {
                if Some(session) == server {
                    if let Some(c) = self.conn.as_mut() {
                        c.far_address = Some(to);
                    }
                } else if let Some(p) = self.peer_sessions.get_mut(&session) {
                    p.far_address = Some(to);
                }
            }
            Event::MessageDelivered { .. }
            | Event::MessageAbandoned { .. }
            | Event::FlowWritable { .. }
            | Event::UnmatchedIHello { .. } => {}
        }
        None
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match (self.next_direct_deadline(), self.flow_sync.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn on_timeout(&mut self, ep: &mut Endpoint, now: Instant) {
        self.check_direct_deadlines(ep, now);
        self.expire_barriers(ep, now);
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// The NetStream an event is about, if any.
fn event_stream(event: &ClientEvent) -> Option<StreamId> {
    match event {
        ClientEvent::Status { stream, .. } | ClientEvent::Command { stream, .. } => *stream,
        ClientEvent::StreamCreated { stream, .. } => Some(*stream),
        _ => None,
    }
}
