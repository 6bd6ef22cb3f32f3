//! The rendezvous server layer: connects, developer keys, the peer
//! registry, the introducer, name lookup and the NetConnection commands
//! (RFC 7425 §5.3).  Streams through the server are in `relay.rs`.

use super::cluster::{ClusterLink, ClusterOp, RemotePeer, QUERY_TIMEOUT};
use super::introducer::{introduce, redirect_list, wanted_peer};
use super::keys::developer_key;
use super::registry::{MemoryRegistry, NameError, PeerRecord, PeerRegistry};
use super::types::{
    AskKind, AskRequest, ClientInfo, ConnectRequest, Decision, Hooks, ServerConfig, ServerEvent,
    StreamInfo,
};
use crate::crypto::PeerId;
use crate::endpoint::{Endpoint, Event, EventSink, Layer, Role, SessionHandle};
use crate::flash::command::{code, name, Command, ConnectObject, ObjectEncoding, StatusInfo};
use crate::flash::flow_sync::{Received, Synced};
use crate::flash::inbound::{classify, Inbound};
use crate::flash::media::StreamSender;
use crate::flash::message::message_type;
use crate::flash::metadata::{FlowMetadata, ReceiveIntent};
use crate::flash::peer_id::to_hex;
use crate::flash::user_control::UserControlEvent;
use crate::flash::Value;
use crate::flow::{DeliveryOrder, FlowId};
use std::any::Any;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The server's own command: register a name for the caller's peer ID.
/// `("registerName", txn, null, name)` → `_result(txn, null, true)`, or
/// `_error` with "NetConnection.Call.Failed" if another peer holds it.
pub const REGISTER_NAME: &str = "registerName";
/// The server's own command: resolve a name to a peer ID.
/// `("lookupName", txn, null, name)` → `_result(txn, null, "<64 hex>")`,
/// or `_error` with "NetConnection.Call.Failed" if no connected peer
/// holds it.
pub const LOOKUP_NAME: &str = "lookupName";
/// The server's own command, for `rtmfp check` ([`crate::check`]):
/// `("checkInfo", txn, null)` → `_result(txn, null, {publicAddress:
/// "IP:PORT", check: ["IP:PORT", ...]})`: the address the server sees the
/// caller at, and where its check service listens (empty: none).
pub const CHECK_INFO: &str = "checkInfo";

/// How long a rejected client's session stays open for its `_error` to
/// be delivered.
const REJECT_LINGER: Duration = Duration::from_secs(2);

/// The publisher of a stream relayed from another cluster node (no
/// client session has this handle).
pub(super) const UPSTREAM: SessionHandle = SessionHandle(u64::MAX);

/// How often a cluster node asks again for a stream its players wait for
/// (it may have been published elsewhere since).
const UPSTREAM_RETRY: Duration = Duration::from_secs(2);

/// A cluster upstream for a stream with local players.
#[derive(Debug, Clone)]
pub(super) enum UpstreamState {
    /// Asked the cluster; asked again at `retry` while players wait.
    Asked { retry: Instant, app: String },
    /// Playing from another node: the stream is in `published` with
    /// [`UPSTREAM`] as its publisher.
    Live { app: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ClientState {
    /// Session open; no `connect` yet.
    Session,
    /// Its `connect` waits for the application's verdict (super::asks).
    Asking,
    Connected,
    Rejected,
}

/// One stream ID of a client's connection.
#[derive(Default)]
pub(super) struct ClientStream {
    /// Our flows to the client for this stream (§5.3.5.2).
    pub sender: Option<StreamSender>,
    pub publishing: Option<String>,
    pub playing: Option<String>,
    /// A player that joined mid-stream gets no video before a key frame.
    pub waiting_keyframe: bool,
    /// The ask its `publish` or `play` waits on (super::asks).
    pub asking: Option<u64>,
}

/// One client session.
pub(super) struct Client {
    pub session: SessionHandle,
    pub peer_id: Option<PeerId>,
    pub address: SocketAddr,
    pub state: ClientState,
    /// The client's NetConnection control flow (our receiving flow).
    pub control: Option<FlowId>,
    /// Our return control flow (stream ID 0, §5.3.2).
    pub out: Option<StreamSender>,
    pub encoding: ObjectEncoding,
    pub app: String,
    pub key: Option<String>,
    pub addresses: Option<Vec<SocketAddr>>,
    /// Receiving flows and their stream IDs.
    pub recv: HashMap<FlowId, u32>,
    pub streams: BTreeMap<u32, ClientStream>,
    pub next_stream_id: u32,
    pub names: Vec<String>,
    pub media_in: u64,
    /// It sent `offerRelay`: it publishes through us on request
    /// (super::fallback).
    pub offers_relay: bool,
}

impl Client {
    fn owns_sending(&self, flow: FlowId) -> bool {
        self.out.as_ref().is_some_and(|o| o.owns(flow))
            || self
                .streams
                .values()
                .any(|s| s.sender.as_ref().is_some_and(|x| x.owns(flow)))
    }

    pub(super) fn info(&self) -> ClientInfo {
        ClientInfo {
            session: self.session,
            peer_id: self.peer_id,
            address: self.address,
            addresses: self.addresses.clone().unwrap_or_default(),
            connected: self.state == ClientState::Connected,
            behind_nat: self
                .addresses
                .as_ref()
                .map(|list| !list.contains(&self.address)),
            app: self.app.clone(),
            key: self.key.clone(),
            names: self.names.clone(),
            publishing: self
                .streams
                .values()
                .filter_map(|s| s.publishing.clone())
                .collect(),
            playing: self
                .streams
                .values()
                .filter_map(|s| s.playing.clone())
                .collect(),
            media_in: self.media_in,
        }
    }
}

/// A stream published to the server.
pub(super) struct Published {
    pub publisher: (SessionHandle, u32),
    /// The last `onMetaData` (without `@setDataFrame`), sent to new
    /// players first.
    pub metadata: Option<(u8, u32, Vec<u8>)>,
    /// The last AVC and AAC sequence headers, sent to new players next.
    pub video_config: Option<(u32, Vec<u8>)>,
    pub audio_config: Option<(u32, Vec<u8>)>,
    pub messages: u64,
    pub bytes: u64,
    pub relayed: u64,
}

/// Counters of the server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Connects accepted.
    pub connects: u64,
    /// Connects rejected.
    pub rejects: u64,
    /// Introductions made.
    pub introductions: u64,
    /// IHellos for peer IDs that are not connected (left unanswered).
    pub unknown_peers: u64,
    /// Audio and video messages received from clients.
    pub media_in: u64,
    /// Messages sent to players.
    pub relayed: u64,
    /// Messages that could not be relayed (a player's flow was full).
    pub relay_dropped: u64,
    /// Introductions to peers held by other cluster nodes (also counted
    /// in `introductions`).
    pub remote_introductions: u64,
    /// Names resolved by the cluster store after a local miss.
    pub remote_name_lookups: u64,
    /// Forwarded IHellos sent to a peer here at another node's request
    /// (the other half of a cross-node introduction).
    pub forwarded_introductions: u64,
    /// Cluster queries that got no answer within
    /// [`QUERY_TIMEOUT`](super::cluster::QUERY_TIMEOUT).
    pub cluster_timeouts: u64,
}

/// A question to the cluster store, waiting for its answer.
enum Query {
    /// An IHello for a peer that is not here (RFC 7016 §3.5.1.1.2).
    Introduction {
        epd: Vec<u8>,
        tag: Vec<u8>,
        from: SocketAddr,
    },
    /// A `registerName` waiting for the cluster to grant the name.
    Claim {
        session: SessionHandle,
        txn: f64,
        name: String,
        peer: PeerId,
    },
    /// A `lookupName` that missed locally.
    Name {
        session: SessionHandle,
        txn: f64,
        name: String,
    },
}

/// The rendezvous server: a [`Layer`] on a server endpoint.  See the
/// [module docs](super).
pub struct Server {
    pub(super) config: ServerConfig,
    pub(super) hooks: Hooks,
    pub(super) registry: Box<dyn PeerRegistry>,
    pub(super) clients: HashMap<SessionHandle, Client>,
    /// How many of `clients` are connected (kept as they change, so that
    /// the cluster's load report does not count every client).
    connected: usize,
    pub(super) published: BTreeMap<String, Published>,
    /// Players by stream name (also while nothing is published).
    pub(super) players: BTreeMap<String, BTreeSet<(SessionHandle, u32)>>,
    closing: Vec<(Instant, SessionHandle)>,
    /// Players' `relayPeerStream` calls waiting for their publisher.
    pub(super) relay_requests: HashMap<u64, super::fallback::PendingRelay>,
    /// Relay names of DIRECT_CONNECTIONS streams → their publisher.
    pub(super) relay_names: HashMap<String, SessionHandle>,
    pub(super) next_relay_txn: u64,
    pub(super) stats: ServerStats,
    events: VecDeque<ServerEvent>,
    sink: Option<EventSink<ServerEvent>>,
    /// The cluster store, if this server is a cluster node.
    cluster: Option<Box<dyn ClusterLink>>,
    /// Cluster queries by number, with their deadlines.
    queries: HashMap<u64, (Instant, Query)>,
    next_query: u64,
    /// Streams relayed (or wanted) from other cluster nodes.
    pub(super) upstreams: HashMap<String, UpstreamState>,
    /// Publications their publishers closed, relaying what their stream
    /// flows still carry (super::unpublish).
    pub(super) draining: HashMap<(SessionHandle, u32), super::unpublish::Draining>,
    /// Requests waiting for the application's verdict, by ask id
    /// (super::asks).
    pub(super) parked: BTreeMap<u64, super::asks::Parked>,
    pub(super) next_ask: u64,
    /// How the latest asks ended, so that a late verdict says why it did
    /// nothing.
    pub(super) ended: VecDeque<(u64, super::types::AskEnd)>,
    /// Flow Synchronization barriers on what the clients' flows carry
    /// (RFC 7425 §5.2; super::sync).
    pub(super) flow_sync: crate::flash::flow_sync::FlowSync,
    /// The syncID of the next Flow Synchronization barrier the server
    /// puts on a player's flows.
    pub(super) next_sync_id: u32,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("clients", &self.clients.len())
            .field("published", &self.published.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// A server with the in-memory registry.
    pub fn new(config: ServerConfig, hooks: Hooks) -> Server {
        Server::with_registry(config, hooks, Box::new(MemoryRegistry::new()))
    }

    /// A server with another registry.
    pub fn with_registry(
        config: ServerConfig,
        hooks: Hooks,
        registry: Box<dyn PeerRegistry>,
    ) -> Server {
        Server {
            config,
            hooks,
            registry,
            clients: HashMap::new(),
            connected: 0,
            published: BTreeMap::new(),
            players: BTreeMap::new(),
            closing: Vec::new(),
            relay_requests: HashMap::new(),
            relay_names: HashMap::new(),
            next_relay_txn: 0,
            stats: ServerStats::default(),
            events: VecDeque::new(),
            sink: None,
            cluster: None,
            queries: HashMap::new(),
            next_query: 1,
            upstreams: HashMap::new(),
            flow_sync: Default::default(),
            next_sync_id: 0,
            draining: HashMap::new(),
            parked: BTreeMap::new(),
            next_ask: 1,
            ended: VecDeque::new(),
        }
    }

    /// Makes this server a cluster node: every change of its registry
    /// and streams goes to `link`, and local misses ask it (see
    /// [`cluster`](super::cluster)).
    pub fn set_cluster(&mut self, mut link: Box<dyn ClusterLink>) {
        for r in self.registry.peers() {
            link.send(ClusterOp::PeerUp {
                peer: r.peer_id,
                observed: r.observed,
                addresses: r.addresses,
            });
        }
        self.cluster = Some(link);
    }

    /// Whether this server is a cluster node.
    pub fn is_clustered(&self) -> bool {
        self.cluster.is_some()
    }

    fn tell_cluster(&mut self, op: ClusterOp) {
        if let Some(link) = self.cluster.as_mut() {
            link.send(op);
        }
    }

    /// Sends a cluster query; `None` without a cluster.
    fn ask_cluster(&mut self, now: Instant, query: Query) -> Option<u64> {
        let link = self.cluster.as_mut()?;
        let id = self.next_query;
        self.next_query += 1;
        let op = match &query {
            Query::Introduction { epd, .. } => ClusterOp::FindPeer {
                query: id,
                peer: wanted_peer(epd)?,
            },
            Query::Name { name, .. } => ClusterOp::FindName {
                query: id,
                name: name.clone(),
            },
            Query::Claim { name, peer, .. } => ClusterOp::ClaimName {
                query: id,
                name: name.clone(),
                peer: *peer,
            },
        };
        link.send(op);
        self.queries.insert(id, (now + QUERY_TIMEOUT, query));
        Some(id)
    }

    /// The current record of a local peer, to the cluster.
    fn peer_to_cluster(&mut self, peer: &PeerId) {
        if self.cluster.is_none() {
            return;
        }
        if let Some(r) = self.registry.lookup(peer) {
            self.tell_cluster(ClusterOp::PeerUp {
                peer: r.peer_id,
                observed: r.observed,
                addresses: r.addresses,
            });
        }
    }

    fn load_to_cluster(&mut self) {
        if self.cluster.is_some() {
            let clients = self.connected as u64;
            debug_assert_eq!(
                self.connected,
                self.clients
                    .values()
                    .filter(|c| c.state == ClientState::Connected)
                    .count()
            );
            self.tell_cluster(ClusterOp::Load { clients });
        }
    }

    /// The cluster store's answer to a peer query: introduce the waiting
    /// initiator to a peer held by another node.  The initiator gets a
    /// Redirect to the peer's addresses (RFC 7016 §3.5.1.1.1) and the
    /// peer's node is asked to send it a Forwarded IHello (§3.5.1.5), as
    /// [`introduce`] does for a local peer.
    pub fn cluster_peer_found(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        query: u64,
        found: Option<RemotePeer>,
    ) {
        let Some((_, Query::Introduction { epd, tag, from })) = self.queries.remove(&query) else {
            return;
        };
        let Some(target) = wanted_peer(&epd) else {
            return;
        };
        // The peer may have connected here in the meantime.
        if let Some(local) = self.registry.lookup(&target) {
            return self.introduce_local(ep, now, &local, &epd, &tag, from);
        }
        let Some(peer) =
            found.filter(|p| self.cluster.as_ref().is_some_and(|c| c.node() != p.node))
        else {
            self.stats.unknown_peers += 1;
            return;
        };
        let list = redirect_list(
            peer.observed,
            &peer.addresses,
            from,
            self.config.max_redirect_addresses,
        );
        if list.is_empty() {
            self.stats.unknown_peers += 1;
            return;
        }
        ep.send_redirect(now, from, &tag, &list);
        self.tell_cluster(ClusterOp::Introduce {
            node: peer.node,
            target,
            epd,
            tag,
            from,
        });
        self.stats.introductions += 1;
        self.stats.remote_introductions += 1;
        self.emit(ServerEvent::Introduced {
            initiator: from,
            target,
            addresses: list.iter().map(|a| a.addr).collect(),
        });
    }

    /// Another node asks this one to send its peer `target` a Forwarded
    /// IHello (RFC 7016 §3.5.1.5) for the initiator at `from`; that node
    /// sent the initiator a Redirect.  Returns whether the peer is here.
    pub fn cluster_introduce(
        &mut self,
        ep: &mut Endpoint,
        target: &PeerId,
        epd: &[u8],
        tag: &[u8],
        from: SocketAddr,
    ) -> bool {
        if wanted_peer(epd) != Some(*target) {
            return false;
        }
        let sent = self
            .registry
            .lookup(target)
            .is_some_and(|r| ep.send_forwarded_ihello(r.session, epd, tag, from).is_ok());
        if sent {
            self.stats.forwarded_introductions += 1;
        }
        sent
    }

    /// The cluster store's answer to a name query: answer the waiting
    /// `lookupName`.
    pub fn cluster_name_found(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        query: u64,
        found: Option<PeerId>,
    ) {
        let Some((_, Query::Name { session, txn, name })) = self.queries.remove(&query) else {
            return;
        };
        let found = self.registry.lookup_name(&name).or(found);
        if found.is_some() {
            self.stats.remote_name_lookups += 1;
        }
        self.answer_lookup(ep, now, session, txn, &name, found);
    }

    /// The cluster store's answer to a name claim: `Some(false)` when
    /// another peer (on any node) holds the name; `None` when the store is
    /// away (the node then decides alone, as without a cluster).
    pub fn cluster_name_claimed(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        query: u64,
        granted: Option<bool>,
    ) {
        let Some((
            _,
            Query::Claim {
                session,
                txn,
                name,
                peer,
            },
        )) = self.queries.remove(&query)
        else {
            return;
        };
        if granted == Some(false) {
            let why = format!("the name {name:?} is taken (on another node)");
            return self.call_failed(ep, now, session, txn, &why);
        }
        self.grant_name(ep, now, session, txn, name, peer);
    }

    /// Cluster queries waiting for an answer.
    pub fn cluster_queries(&self) -> usize {
        self.queries.len()
    }

    /// A local player waits for `stream`, published nowhere here: ask
    /// the cluster to relay it from the node it is published through.
    pub(super) fn want_upstream(&mut self, now: Instant, stream: &str, app: &str) {
        if self.cluster.is_none() || self.upstreams.contains_key(stream) {
            return;
        }
        self.upstreams.insert(
            stream.to_owned(),
            UpstreamState::Asked {
                retry: now + UPSTREAM_RETRY,
                app: app.to_owned(),
            },
        );
        self.tell_cluster(ClusterOp::Upstream {
            name: stream.to_owned(),
            app: app.to_owned(),
        });
    }

    /// No local player wants `stream` from another node any more (or it
    /// is published here now).
    pub(super) fn drop_upstream(&mut self, stream: &str) {
        if self.upstreams.remove(stream).is_none() {
            return;
        }
        if self
            .published
            .get(stream)
            .is_some_and(|p| p.publisher.0 == UPSTREAM)
        {
            self.published.remove(stream);
        }
        self.tell_cluster(ClusterOp::UpstreamStop {
            name: stream.to_owned(),
        });
    }

    /// The upstream for `stream` plays it from its node: local players
    /// hear `NetStream.Play.PublishNotify`, then get its messages.
    pub fn cluster_upstream_started(&mut self, ep: &mut Endpoint, now: Instant, stream: &str) {
        let Some(UpstreamState::Asked { app, .. }) = self.upstreams.get(stream).cloned() else {
            return;
        };
        if self.published.contains_key(stream) {
            return self.drop_upstream(stream);
        }
        self.upstreams
            .insert(stream.to_owned(), UpstreamState::Live { app });
        self.published.insert(
            stream.to_owned(),
            Published {
                publisher: (UPSTREAM, 0),
                metadata: None,
                video_config: None,
                audio_config: None,
                messages: 0,
                bytes: 0,
                relayed: 0,
            },
        );
        self.notify_published(ep, now, stream);
    }

    /// A message of `stream` from its upstream, for the local players.
    pub fn cluster_upstream_media(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        stream: &str,
        ty: u8,
        timestamp: u32,
        payload: &[u8],
    ) {
        if self
            .published
            .get(stream)
            .is_some_and(|p| p.publisher.0 == UPSTREAM)
        {
            self.relay_to_players(ep, now, stream, None, ty, timestamp, payload);
        }
    }

    /// The upstream for `stream` ended (unpublished on its node, or that
    /// node is gone): local players hear
    /// `NetStream.Play.UnpublishNotify` and keep waiting; the cluster is
    /// asked again while they do.
    pub fn cluster_upstream_ended(&mut self, ep: &mut Endpoint, now: Instant, stream: &str) {
        let app = match self.upstreams.get(stream) {
            Some(UpstreamState::Live { app }) | Some(UpstreamState::Asked { app, .. }) => {
                app.clone()
            }
            None => return,
        };
        if self
            .published
            .get(stream)
            .is_some_and(|p| p.publisher.0 == UPSTREAM)
        {
            self.published.remove(stream);
            self.notify_unpublished(ep, now, stream);
        }
        self.upstreams.insert(
            stream.to_owned(),
            UpstreamState::Asked {
                retry: now + UPSTREAM_RETRY,
                app,
            },
        );
    }

    /// Another node announced that `stream` is published through it:
    /// local players waiting for it get an upstream at once.
    pub fn cluster_stream_published(&mut self, now: Instant, stream: &str) {
        if self.published.contains_key(stream) || !self.players.contains_key(stream) {
            return;
        }
        if let Some(UpstreamState::Asked { retry, .. }) = self.upstreams.get_mut(stream) {
            *retry = now;
        }
    }

    /// Asks again for upstreams whose players still wait.
    fn retry_upstreams(&mut self, now: Instant) {
        let due: Vec<(String, String)> = self
            .upstreams
            .iter()
            .filter_map(|(name, st)| match st {
                UpstreamState::Asked { retry, app } if *retry <= now => {
                    Some((name.clone(), app.clone()))
                }
                _ => None,
            })
            .collect();
        for (name, app) in due {
            if !self.players.contains_key(&name) || self.published.contains_key(&name) {
                self.drop_upstream(&name);
                continue;
            }
            self.upstreams.insert(
                name.clone(),
                UpstreamState::Asked {
                    retry: now + UPSTREAM_RETRY,
                    app: app.clone(),
                },
            );
            self.tell_cluster(ClusterOp::Upstream { name, app });
        }
    }

    /// The settings.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// The hooks, to set or change.
    pub fn hooks_mut(&mut self) -> &mut Hooks {
        &mut self.hooks
    }

    /// Counters.
    pub fn stats(&self) -> ServerStats {
        self.stats
    }

    /// Sends events to `sink` instead of the internal queue.
    pub fn set_event_sink(&mut self, sink: EventSink<ServerEvent>) {
        self.sink = Some(sink);
    }

    /// The next queued event (when no sink is set).
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        self.events.pop_front()
    }

    pub(super) fn emit(&mut self, event: ServerEvent) {
        if self.cluster.is_some() {
            self.mirror(&event);
        }
        match self.sink.as_mut() {
            Some(sink) => sink(event),
            None => self.events.push_back(event),
        }
    }

    /// Mirrors a registry or stream change to the cluster.
    fn mirror(&mut self, event: &ServerEvent) {
        match event {
            ServerEvent::Connected { client } => {
                if let Some(p) = client.peer_id {
                    self.peer_to_cluster(&p);
                }
                self.load_to_cluster();
            }
            ServerEvent::PeerInfo {
                peer_id: Some(p), ..
            } => self.peer_to_cluster(p),
            ServerEvent::Disconnected { client } => {
                // A newer session of the same identity keeps its record.
                if let Some(p) = client.peer_id {
                    if self.registry.lookup(&p).is_none() {
                        self.tell_cluster(ClusterOp::PeerDown { peer: p });
                    }
                }
                self.load_to_cluster();
            }
            ServerEvent::NameRegistered { peer_id, name } => self.tell_cluster(ClusterOp::Name {
                name: name.clone(),
                peer: *peer_id,
            }),
            ServerEvent::Published { name, .. } => {
                self.tell_cluster(ClusterOp::StreamUp { name: name.clone() })
            }
            ServerEvent::Unpublished { name, .. } => {
                self.tell_cluster(ClusterOp::StreamDown { name: name.clone() })
            }
            _ => {}
        }
    }

    /// Every client session, connected or not, ordered by session.
    pub fn sessions(&self) -> Vec<ClientInfo> {
        let mut v: Vec<ClientInfo> = self.clients.values().map(Client::info).collect();
        v.sort_by_key(|c| c.session);
        v
    }

    /// One client by peer ID.
    pub fn client(&self, peer: &PeerId) -> Option<ClientInfo> {
        self.clients
            .values()
            .find(|c| c.peer_id.as_ref() == Some(peer))
            .map(Client::info)
    }

    /// Streams published to the server, by name.
    pub fn streams(&self) -> Vec<StreamInfo> {
        self.published
            .iter()
            .map(|(name, p)| StreamInfo {
                name: name.clone(),
                publisher: p.publisher.0,
                publisher_id: self.clients.get(&p.publisher.0).and_then(|c| c.peer_id),
                players: self.players.get(name).map_or(0, |s| s.len()),
                messages: p.messages,
                bytes: p.bytes,
                relayed: p.relayed,
            })
            .collect()
    }

    /// The registry's record of a peer.
    pub fn lookup_peer(&self, peer: &PeerId) -> Option<PeerRecord> {
        self.registry.lookup(peer)
    }

    /// The peer holding a registered name.
    pub fn lookup_name(&self, name: &str) -> Option<PeerId> {
        self.registry.lookup_name(name)
    }

    /// Disconnects a client: its session closes in order.
    pub fn disconnect(&mut self, ep: &mut Endpoint, now: Instant, session: SessionHandle) -> bool {
        self.clients.contains_key(&session) && ep.close(now, session, false).is_ok()
    }

    /// Sends a command on a client's return control flow in its
    /// negotiated encoding.
    pub(super) fn reply(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        session: SessionHandle,
        command: &Command,
    ) {
        let Some(c) = self.clients.get_mut(&session) else {
            return;
        };
        let ty = c.encoding.command_type();
        let Some(out) = c.out.as_mut() else {
            return;
        };
        if let Ok(payload) = command.encode(ty) {
            let _ = out.send(ep, now, ty, 0, &payload);
        }
    }

    pub(super) fn call_failed(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        session: SessionHandle,
        txn: f64,
        why: &str,
    ) {
        if txn != 0.0 {
            let info = StatusInfo::error(code::CALL_FAILED, why);
            self.reply(
                ep,
                now,
                session,
                &Command::error(txn, Value::Null, info.to_value()),
            );
        }
    }

    // ----- events -----

    fn on_session_open(
        &mut self,
        session: SessionHandle,
        role: Role,
        far: SocketAddr,
        peer: Option<PeerId>,
    ) {
        if role != Role::Responder {
            return;
        }
        self.clients.insert(
            session,
            Client {
                session,
                peer_id: peer,
                address: far,
                state: ClientState::Session,
                control: None,
                out: None,
                encoding: ObjectEncoding::Amf0,
                app: String::new(),
                key: None,
                addresses: None,
                recv: HashMap::new(),
                streams: BTreeMap::new(),
                next_stream_id: 1,
                names: Vec::new(),
                media_in: 0,
                offers_relay: false,
            },
        );
    }

    /// A client flow: an unassociated stream ID 0 flow is its control
    /// flow (§5.3.1); other flows must answer one of ours (§5.3.5.1).
    fn on_flow(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        session: SessionHandle,
        flow: FlowId,
        metadata: &[u8],
        association: Option<FlowId>,
    ) {
        let Some(c) = self.clients.get_mut(&session) else {
            let _ = ep.reject_flow(session, flow, 0);
            return;
        };
        let Ok(meta) = FlowMetadata::parse(metadata) else {
            // §5.1.1: unknown signature or no stream ID.
            let _ = ep.reject_flow(session, flow, 0);
            return;
        };
        let ok = match association {
            None => meta.stream_id == 0,
            Some(a) => c.owns_sending(a),
        };
        if !ok || c.state == ClientState::Rejected {
            let _ = ep.reject_flow(session, flow, 0);
            return;
        }
        let order = match meta.receive_intent {
            ReceiveIntent::OriginalOrder => DeliveryOrder::Sequence,
            ReceiveIntent::NetworkArrival => DeliveryOrder::Network,
        };
        if ep.accept_flow(now, session, flow, order).is_ok() {
            if association.is_none() && c.control.is_none() {
                c.control = Some(flow);
            }
            c.recv.insert(flow, meta.stream_id);
        }
    }

    pub(super) fn on_message(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        session: SessionHandle,
        flow: FlowId,
        data: &[u8],
    ) {
        let Some(&stream_id) = self.clients.get(&session).and_then(|c| c.recv.get(&flow)) else {
            return;
        };
        // Malformed AMF is an error for that message only.
        let Ok(inbound) = classify(data) else {
            return;
        };
        if stream_id == 0 {
            self.on_control(ep, now, session, inbound);
        } else {
            self.on_stream(ep, now, session, stream_id, inbound);
        }
    }

    fn on_control(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        session: SessionHandle,
        inbound: Inbound,
    ) {
        let Inbound::Command {
            message_type,
            command,
            ..
        } = inbound
        else {
            return;
        };
        let state = match self.clients.get(&session) {
            Some(c) => c.state,
            None => return,
        };
        match (state, command.name.as_str()) {
            (ClientState::Session, name::CONNECT) => {
                self.on_connect(ep, now, session, message_type, command)
            }
            (ClientState::Connected, name::SET_PEER_INFO) => {
                self.on_set_peer_info(session, &command)
            }
            (ClientState::Connected, name::CREATE_STREAM) => {
                let Some(c) = self.clients.get_mut(&session) else {
                    return;
                };
                if c.streams.len() >= self.config.max_streams_per_client {
                    let why = format!(
                        "too many streams: at most {} per connection",
                        self.config.max_streams_per_client
                    );
                    return self.call_failed(ep, now, session, command.transaction_id, &why);
                }
                let id = c.next_stream_id;
                c.next_stream_id += 1;
                c.streams.insert(id, ClientStream::default());
                self.reply(
                    ep,
                    now,
                    session,
                    &Command::create_stream_result(command.transaction_id, id),
                );
            }
            (ClientState::Connected, name::DELETE_STREAM) => {
                if let Some(id) = command.number_arg().filter(|n| *n >= 1.0) {
                    self.delete_stream(ep, now, session, id as u32);
                }
            }
            (ClientState::Connected, REGISTER_NAME) => {
                self.on_register_name(ep, now, session, &command)
            }
            (ClientState::Connected, LOOKUP_NAME) => {
                self.on_lookup_name(ep, now, session, &command)
            }
            (ClientState::Connected, super::fallback::OFFER_RELAY) => self.on_offer_relay(session),
            (ClientState::Connected, super::fallback::RELAY_PEER_STREAM) => {
                self.on_relay_peer_stream(ep, now, session, &command)
            }
            (ClientState::Connected, name::RESULT | name::ERROR)
                if self.on_relay_answer(ep, now, session, &command) => {}
            (ClientState::Connected, CHECK_INFO) => {
                let Some(address) = self.clients.get(&session).map(|c| c.address) else {
                    return;
                };
                let check = self
                    .config
                    .check_addresses
                    .iter()
                    .map(|a| Value::from(a.to_string().as_str()))
                    .collect();
                let info = Value::Object(Box::new(crate::flash::amf::Object::anonymous(vec![
                    (
                        "publicAddress".into(),
                        Value::from(address.to_string().as_str()),
                    ),
                    ("check".into(), Value::StrictArray(check)),
                ])));
                let ok = Command::new(
                    name::RESULT,
                    command.transaction_id,
                    Value::Null,
                    vec![info],
                );
                self.reply(ep, now, session, &ok);
            }
            (ClientState::Connected, "releaseStream" | "FCPublish" | "FCUnpublish")
                if command.transaction_id != 0.0 =>
            {
                // Flash and encoders send these around `publish`; servers
                // answer them with an empty `_result` (without a
                // transaction, nothing).
                let ok = Command::new(name::RESULT, command.transaction_id, Value::Null, vec![]);
                self.reply(ep, now, session, &ok);
            }
            (ClientState::Connected, other) => {
                let why = format!("unknown command {other:?}");
                self.call_failed(ep, now, session, command.transaction_id, &why);
            }
            _ => {}
        }
    }

    /// `connect` (§5.3.1-2): check the developer key, ask the hook, then
    /// open the return control flow associated to the client's and answer
    /// `_result` (then Set Keepalive Timers, §5.3.4) or `_error` with
    /// "NetConnection.Connect.Rejected" (then close the session).
    fn on_connect(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        session: SessionHandle,
        _ty: u8,
        command: Command,
    ) {
        let media = self.config.media;
        let object = ConnectObject::from_value(&command.command_object);
        let app = object.as_ref().map(|o| o.app.clone()).unwrap_or_default();
        let tc_url = object
            .as_ref()
            .map(|o| o.tc_url.clone())
            .unwrap_or_default();
        let encoding = object
            .as_ref()
            .map_or(ObjectEncoding::Amf0, |o| o.object_encoding);
        let key = developer_key(&app, &command.args);
        let Some(c) = self.clients.get_mut(&session) else {
            return;
        };
        let Some(control) = c.control else {
            return;
        };
        c.app = app.clone();
        c.key = key.clone();
        c.out = Some(StreamSender::new(session, 0, Some(control), media));
        let request = ConnectRequest {
            session,
            peer_id: c.peer_id,
            address: c.address,
            app,
            tc_url,
            key: key.clone(),
            args: command.args.clone(),
        };
        let decision = if !self.config.keys.accepts(key.as_deref()) {
            Err(match &key {
                Some(k) => format!("invalid developer key {k:?}"),
                None => "a developer key is required".to_owned(),
            })
        } else if let Some(hook) = self.hooks.on_connect.as_mut() {
            hook(&request)
        } else {
            Ok(())
        };
        let txn = command.transaction_id;
        if decision.is_ok() && self.hooks.asks.asks(AskKind::Connect) {
            c.state = ClientState::Asking;
            let what = super::asks::Waiting::Connect { txn, encoding };
            self.park(now, session, what, AskRequest::Connect(request));
            return;
        }
        self.finish_connect(ep, now, session, txn, encoding, decision);
    }

    /// Answers a `connect` (§5.3.2): `_result` with
    /// "NetConnection.Connect.Success" (then Set Keepalive Timers, §5.3.4)
    /// or `_error` with "NetConnection.Connect.Rejected" and the reason as
    /// its description (then the session closes).
    pub(super) fn finish_connect(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        session: SessionHandle,
        txn: f64,
        encoding: ObjectEncoding,
        decision: Decision,
    ) {
        // The connect response goes as AMF0 (type 20), like the connect.
        let response = match &decision {
            Ok(()) => {
                let properties = Value::object([
                    ("fmsVer", Value::from(self.config.server_info.as_str())),
                    ("capabilities", Value::Number(31.0)),
                    ("mode", Value::Number(1.0)),
                ]);
                let mut info = StatusInfo::status(code::CONNECT_SUCCESS, "Connection succeeded.")
                    .with("objectEncoding", Value::Number(encoding.number()));
                if self.config.relay {
                    info = super::fallback::advertise(info);
                }
                Command::result(txn, properties, info.to_value())
            }
            Err(reason) => Command::error(
                txn,
                Value::Null,
                StatusInfo::error(code::CONNECT_REJECTED, reason).to_value(),
            ),
        };
        let Some(c) = self.clients.get_mut(&session) else {
            return;
        };
        if let (Ok(payload), Some(out)) =
            (response.encode(message_type::COMMAND_AMF0), c.out.as_mut())
        {
            let _ = out.send(ep, now, message_type::COMMAND_AMF0, 0, &payload);
        }
        match decision {
            Ok(()) => {
                if c.state != ClientState::Connected {
                    self.connected += 1;
                }
                c.state = ClientState::Connected;
                c.encoding = encoding;
                if let Some((server, peer)) = self.config.keepalive {
                    let ms = |d: Duration| u32::try_from(d.as_millis()).unwrap_or(u32::MAX);
                    let timers = UserControlEvent::SetKeepaliveTimers {
                        server_ms: ms(server),
                        peer_ms: ms(peer),
                    };
                    if let Some(out) = c.out.as_mut() {
                        let _ =
                            out.send(ep, now, message_type::USER_CONTROL, 0, &timers.to_bytes());
                    }
                    // The client now keeps the session alive (§5.3.4):
                    // our own keepalive only probes a client that went
                    // quiet for twice its period, so an idle crowd costs
                    // one ping and one reply per client period, not two
                    // exchanges.
                    let _ = ep.set_keepalive_interval(session, server.saturating_mul(2));
                }
                if let Some(peer_id) = c.peer_id {
                    self.registry.register(PeerRecord {
                        peer_id,
                        session,
                        observed: c.address,
                        addresses: Vec::new(),
                    });
                }
                self.stats.connects += 1;
                let client = c.info();
                self.emit(ServerEvent::Connected { client });
            }
            Err(reason) => {
                c.state = ClientState::Rejected;
                let peer_id = c.peer_id;
                self.closing.push((now + REJECT_LINGER, session));
                self.stats.rejects += 1;
                self.emit(ServerEvent::Rejected {
                    session,
                    peer_id,
                    reason,
                });
            }
        }
    }

    /// `setPeerInfo` (§5.3.3): the client's candidate addresses.
    fn on_set_peer_info(&mut self, session: SessionHandle, command: &Command) {
        let addresses = command.peer_info_addresses();
        let Some(c) = self.clients.get_mut(&session) else {
            return;
        };
        c.addresses = Some(addresses.clone());
        let peer_id = c.peer_id;
        if let Some(p) = peer_id {
            self.registry.set_addresses(&p, addresses.clone());
        }
        self.emit(ServerEvent::PeerInfo {
            session,
            peer_id,
            addresses,
        });
    }

    /// `registerName`: refused if another peer holds the name here; in a
    /// cluster, granted only once the store agrees that no peer on another
    /// node holds it (or does not answer: the node then decides alone).
    fn on_register_name(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        session: SessionHandle,
        command: &Command,
    ) {
        let name = command.stream_name().unwrap_or_default().to_owned();
        let txn = command.transaction_id;
        let Some(peer) = self.clients.get(&session).and_then(|c| c.peer_id) else {
            return;
        };
        if name.is_empty() || name.len() > 256 {
            return self.call_failed(ep, now, session, txn, "invalid name");
        }
        let held = self.clients.get(&session).map_or(0, |c| c.names.len());
        let renewing = self
            .clients
            .get(&session)
            .is_some_and(|c| c.names.contains(&name));
        if held >= self.config.max_names_per_client && !renewing {
            let why = format!(
                "too many names: at most {} per connection",
                self.config.max_names_per_client
            );
            return self.call_failed(ep, now, session, txn, &why);
        }
        if self
            .registry
            .lookup_name(&name)
            .is_some_and(|holder| holder != peer)
        {
            let why = format!("the name {name:?} is taken");
            return self.call_failed(ep, now, session, txn, &why);
        }
        let claim = Query::Claim {
            session,
            txn,
            name: name.clone(),
            peer,
        };
        if self.ask_cluster(now, claim).is_some() {
            return;
        }
        self.grant_name(ep, now, session, txn, name, peer);
    }

    /// Registers `name` for `peer` here and answers its `registerName`.
    fn grant_name(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        session: SessionHandle,
        txn: f64,
        name: String,
        peer: PeerId,
    ) {
        if !self.clients.contains_key(&session) {
            return; // it left meanwhile
        }
        match self.registry.register_name(&name, &peer) {
            Ok(()) => {
                if let Some(c) = self.clients.get_mut(&session) {
                    if !c.names.contains(&name) {
                        c.names.push(name.clone());
                    }
                }
                let ok = Command::new(name::RESULT, txn, Value::Null, vec![Value::Boolean(true)]);
                self.reply(ep, now, session, &ok);
                self.emit(ServerEvent::NameRegistered {
                    peer_id: peer,
                    name,
                });
            }
            Err(NameError::Taken) => {
                let why = format!("the name {name:?} is taken");
                self.call_failed(ep, now, session, txn, &why)
            }
            Err(NameError::Invalid) => self.call_failed(ep, now, session, txn, "invalid name"),
        }
    }

    fn on_lookup_name(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        session: SessionHandle,
        command: &Command,
    ) {
        let name = command.stream_name().unwrap_or_default().to_owned();
        let txn = command.transaction_id;
        let found = self.registry.lookup_name(&name);
        if found.is_none() && !name.is_empty() && name.len() <= 256 {
            // A local miss: the cluster may know it; answer later.
            let query = Query::Name {
                session,
                txn,
                name: name.clone(),
            };
            if self.ask_cluster(now, query).is_some() {
                return;
            }
        }
        self.answer_lookup(ep, now, session, txn, &name, found);
    }

    fn answer_lookup(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        session: SessionHandle,
        txn: f64,
        name: &str,
        found: Option<PeerId>,
    ) {
        match found {
            Some(peer) => {
                let ok = Command::new(
                    name::RESULT,
                    txn,
                    Value::Null,
                    vec![Value::from(to_hex(&peer))],
                );
                self.reply(ep, now, session, &ok);
            }
            None => {
                let why = format!("no connected peer is named {name:?}");
                self.call_failed(ep, now, session, txn, &why)
            }
        }
    }

    /// The session is gone: forget the client, its names and streams.
    fn on_session_closed(&mut self, ep: &mut Endpoint, now: Instant, session: SessionHandle) {
        if !self.clients.contains_key(&session) {
            return;
        }
        // Its parked requests are moot.
        self.forget_asks(session, None);
        let Some(c) = self.clients.get_mut(&session) else {
            return;
        };
        // No more messages come: nothing drains.
        c.recv.clear();
        let ids: Vec<u32> = c.streams.keys().copied().collect();
        self.finish_draining_session(ep, now, session);
        for id in ids {
            self.delete_stream(ep, now, session, id);
        }
        self.forget_relay_requests(ep, now, session);
        let Some(c) = self.clients.remove(&session) else {
            return;
        };
        if let Some(p) = c.peer_id {
            self.registry.unregister(&p, session);
        }
        self.closing.retain(|(_, s)| *s != session);
        if c.state == ClientState::Connected {
            self.connected -= 1;
            let info = c.info();
            if let Some(hook) = self.hooks.on_disconnect.as_mut() {
                hook(&info);
            }
            self.emit(ServerEvent::Disconnected { client: info });
        }
    }

    /// The client closed its control flow: an orderly close (§5.3.6).
    pub(super) fn close_client(&mut self, ep: &mut Endpoint, now: Instant, session: SessionHandle) {
        if let Some(c) = self.clients.get_mut(&session) {
            if let Some(out) = c.out.as_mut() {
                out.close(ep, now);
            }
            for s in c.streams.values_mut() {
                if let Some(sender) = s.sender.as_mut() {
                    sender.close(ep, now);
                }
            }
        }
        let _ = ep.close(now, session, false);
    }

    /// An IHello for an identity that is not ours: introduce it if it is a
    /// connected peer (RFC 7016 §3.5.1.6, RFC 7425 §5.4.1).
    fn on_unmatched_ihello(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        epd: &[u8],
        tag: &[u8],
        from: SocketAddr,
    ) {
        let Some(target) = wanted_peer(epd).and_then(|p| self.registry.lookup(&p)) else {
            // Not here: a cluster node asks the store (answered in
            // `cluster_peer_found`).
            let query = Query::Introduction {
                epd: epd.to_vec(),
                tag: tag.to_vec(),
                from,
            };
            if self.ask_cluster(now, query).is_none() {
                self.stats.unknown_peers += 1;
            }
            return;
        };
        self.introduce_local(ep, now, &target, epd, tag, from);
    }

    fn introduce_local(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        target: &PeerRecord,
        epd: &[u8],
        tag: &[u8],
        from: SocketAddr,
    ) {
        let addresses = introduce(
            ep,
            now,
            target,
            epd,
            tag,
            from,
            self.config.max_redirect_addresses,
        );
        self.stats.introductions += 1;
        self.emit(ServerEvent::Introduced {
            initiator: from,
            target: target.peer_id,
            addresses,
        });
    }
}

impl Layer for Server {
    fn on_event(&mut self, ep: &mut Endpoint, now: Instant, event: Event) -> Option<Event> {
        match event {
            Event::SessionOpened {
                session,
                role,
                far_address,
                far_peer_id,
                ..
            } => self.on_session_open(session, role, far_address, far_peer_id),
            Event::SessionClosed { session, .. } => {
                self.flow_sync.forget(session);
                self.on_session_closed(ep, now, session)
            }
            Event::UnmatchedIHello { epd, tag, from } => {
                self.on_unmatched_ihello(ep, now, &epd, &tag, from)
            }
            Event::FlowOpened {
                session,
                flow,
                metadata,
                association,
            } => {
                self.before_flow_opened(ep, now, session, flow);
                self.on_flow(ep, now, session, flow, &metadata, association)
            }
            Event::Message {
                session,
                flow,
                data,
                ..
            } => self.receive(ep, now, session, flow, Received::Message(data)),
            Event::FlowFinished { session, flow } => {
                self.receive(ep, now, session, flow, Received::Finished)
            }
            Event::FlowRejected { session, flow, .. } => {
                let control = self
                    .clients
                    .get(&session)
                    .is_some_and(|c| c.out.as_ref().is_some_and(|o| o.owns(flow)));
                if control {
                    // An exception on the control flow: the client is gone
                    // (§5.3.6).
                    let _ = ep.close(now, session, true);
                } else {
                    self.on_stream_flow_rejected(ep, now, session, flow);
                }
            }
            Event::MessageDelivered { session, .. } => {
                if self
                    .clients
                    .get(&session)
                    .is_some_and(|c| c.state == ClientState::Rejected)
                {
                    // The `_error` is delivered: close now.
                    let _ = ep.close(now, session, false);
                }
            }
            Event::FarAddressChanged { session, to, .. } => {
                if let Some(c) = self.clients.get_mut(&session) {
                    c.address = to;
                    if let (Some(p), ClientState::Connected) = (c.peer_id, c.state) {
                        self.registry.set_observed(&p, to);
                        self.peer_to_cluster(&p);
                    }
                }
            }
            Event::SessionOpenFailed { .. }
            | Event::MessageAbandoned { .. }
            | Event::FlowWritable { .. }
            | Event::FlowComplete { .. } => {}
        }
        None
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let closing = self.closing.iter().map(|(t, _)| *t).min();
        let query = self.queries.values().map(|(t, _)| *t).min();
        let upstream = self
            .upstreams
            .values()
            .filter_map(|u| match u {
                UpstreamState::Asked { retry, .. } => Some(*retry),
                UpstreamState::Live { .. } => None,
            })
            .min();
        closing
            .into_iter()
            .chain(query)
            .chain(upstream)
            .chain(self.draining_deadline())
            .chain(self.ask_deadline())
            .chain(self.flow_sync.next_deadline())
            .min()
    }

    fn on_timeout(&mut self, ep: &mut Endpoint, now: Instant) {
        let (due, later): (Vec<_>, Vec<_>) = self.closing.drain(..).partition(|(t, _)| *t <= now);
        self.closing = later;
        for (_, session) in due {
            let _ = ep.close(now, session, false);
        }
        self.retry_upstreams(now);
        self.expire_draining(ep, now);
        self.expire_asks(ep, now);
        self.expire_barriers(ep, now);
        if self.queries.values().any(|(t, _)| *t <= now) {
            let expired: Vec<u64> = self
                .queries
                .iter()
                .filter(|(_, (t, _))| *t <= now)
                .map(|(id, _)| *id)
                .collect();
            for id in expired {
                let Some((_, query)) = self.queries.remove(&id) else {
                    continue;
                };
                self.stats.cluster_timeouts += 1;
                match query {
                    Query::Introduction { .. } => self.stats.unknown_peers += 1,
                    Query::Name { session, txn, name } => {
                        let why = format!("the cluster did not answer for {name:?}");
                        self.call_failed(ep, now, session, txn, &why)
                    }
                    // The store is slow or away: decide alone.
                    Query::Claim {
                        session,
                        txn,
                        name,
                        peer,
                    } => self.grant_name(ep, now, session, txn, name, peer),
                }
            }
        }
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}
