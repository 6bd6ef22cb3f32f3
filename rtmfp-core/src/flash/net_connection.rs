//! [`NetConnection`] and [`NetStream`]: the Flash client on its own
//! runtime, with blocking calls for applications and the bindings.
//!
//! Each `NetConnection` is one runtime (I/O thread and UDP sockets) with a
//! fresh client identity: a new certificate and peer ID per connection, as
//! RFC 7425 §5.3 requires (and §7 advises, static DH).  Its
//! [`FlashClient`] layer runs on the I/O thread; the calls here reach it
//! with [`Handle::call_layer`], and its events arrive in a queue with the
//! runtime's event-fd semantics ([`NetConnection::event_fd`]).

use super::client::{
    check_stream_message, ClientConfig, ClientError, ClientEvent, FlashClient, PeerConnectPolicy,
    PeerStreamId, PeerStreamInfo, StreamId,
};
use super::command::StatusInfo;
use super::flv::Tag;
use super::flv_io::FlvTable;
use super::message::message_type;
use super::peer_id::{from_hex, to_hex};
use super::uri::RtmfpUri;
use super::Value;
use crate::crypto::{FlashConfig, FlashProfile, PeerId};
use crate::endpoint::EndpointConfig;
use crate::host::Host;
use crate::runtime::{queue_sink, EventQueue, Handle, RuntimeConfig, RuntimeError, ShutdownReport};
use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::RawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Why a `NetConnection` or `NetStream` call failed.
#[derive(Debug)]
pub enum NetError {
    /// The client refused.
    Client(ClientError),
    /// The runtime is closed or refused.
    Runtime(RuntimeError),
    /// Binding sockets failed.
    Io(std::io::Error),
    /// Making the identity (certificate, Diffie-Hellman keys) failed.
    Identity(String),
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetError::Client(e) => write!(f, "{e}"),
            NetError::Runtime(e) => write!(f, "{e}"),
            NetError::Io(e) => write!(f, "{e}"),
            NetError::Identity(why) => write!(f, "making the identity: {why}"),
        }
    }
}

impl std::error::Error for NetError {}

impl From<ClientError> for NetError {
    fn from(e: ClientError) -> Self {
        NetError::Client(e)
    }
}

impl From<RuntimeError> for NetError {
    fn from(e: RuntimeError) -> Self {
        NetError::Runtime(e)
    }
}

impl From<std::io::Error> for NetError {
    fn from(e: std::io::Error) -> Self {
        NetError::Io(e)
    }
}

/// Settings of a [`NetConnection`].
#[derive(Debug, Clone)]
pub struct NetConnectionConfig {
    /// Local addresses to bind (default `0.0.0.0:0`).
    pub bind: Vec<SocketAddr>,
    /// The Flash client's settings (its `local_addresses` are filled from
    /// the bound sockets unless set).
    pub client: ClientConfig,
    /// The endpoint's settings.
    pub endpoint: EndpointConfig,
    /// The identity's settings (default: a client, static DH).
    pub flash: FlashConfig,
    /// Extra `connect` arguments (for [`NetConnection::connect`]).
    pub args: Vec<Value>,
    /// The runtime's event queue limit (see
    /// [`RuntimeConfig::event_queue_limit`]); `None` keeps its default.
    pub event_queue_limit: Option<usize>,
    /// A TURN relay for every datagram, as Flash Player's
    /// `RTMFPTURNProxy` (see [`RuntimeConfig::turn`]); the relayed
    /// address is then the one local candidate sent in `setPeerInfo`.
    pub turn: Option<crate::turn::TurnConfig>,
}

impl Default for NetConnectionConfig {
    fn default() -> Self {
        NetConnectionConfig {
            bind: vec![SocketAddr::from(([0, 0, 0, 0], 0))],
            client: ClientConfig::default(),
            endpoint: EndpointConfig::default(),
            flash: FlashConfig::client(),
            args: Vec::new(),
            event_queue_limit: None,
            turn: None,
        }
    }
}

/// A connection to an RTMFP server, with Flash's NetConnection semantics.
///
/// Usable from any thread (`Send + Sync`); share it with an `Arc`.  Start
/// it and connect in one step with [`NetConnection::connect`], or in
/// steps ([`NetConnection::start`], then [`NetConnection::open`], or
/// [`resolve`] and [`NetConnection::open_resolved`] where name lookup
/// must not block the thread that connects).
#[derive(Debug)]
pub struct NetConnection {
    host: Host<FlashClient>,
    events: Arc<EventQueue<ClientEvent>>,
    near_id: PeerId,
    bind: Vec<SocketAddr>,
    /// The FLV byte-stream state of its streams ([`super::flv_io`]).
    flv: Arc<FlvTable>,
}

type Res<T> = Result<T, NetError>;

/// The server addresses of `uri` (`rtmfp://host[:port]/...`) that are of
/// a family in `bind`.  Name resolution blocks the caller.
pub fn resolve(uri: &str, bind: &[SocketAddr]) -> Res<Vec<SocketAddr>> {
    let parsed = RtmfpUri::parse(uri)
        .map_err(|e| ClientError::InvalidArgument(format!("`uri` {uri:?}: {e}")))?;
    let resolved: Vec<SocketAddr> = (parsed.host.as_str(), parsed.port)
        .to_socket_addrs()
        .map_err(|e| {
            ClientError::InvalidArgument(format!("cannot resolve {:?}: {e}", parsed.host))
        })?
        .collect();
    let candidates: Vec<SocketAddr> = resolved
        .into_iter()
        .filter(|a| bind.iter().any(|b| b.is_ipv4() == a.is_ipv4()))
        .collect();
    if candidates.is_empty() {
        return Err(ClientError::InvalidArgument(format!(
            "{:?} has no address of a bound family (bind: {bind:?})",
            parsed.host
        ))
        .into());
    }
    Ok(candidates)
}

impl NetConnection {
    /// Starts a runtime with a fresh identity and connects to `uri`
    /// (`rtmfp://host[:port]/app[/DEVELOPER-KEY]`), with `config.args`
    /// as extra `connect` arguments.  Returns at once; the outcome
    /// arrives as "NetConnection.Connect.Success", ".Failed" or
    /// ".Rejected" ([`NetConnection::next_event_timeout`]).  Name
    /// resolution blocks the caller.
    pub fn connect(uri: &str, config: NetConnectionConfig) -> Res<NetConnection> {
        let candidates = resolve(uri, &config.bind)?;
        let args = config.args.clone();
        let nc = NetConnection::start(config)?;
        nc.open_resolved(uri, candidates, args)?;
        Ok(nc)
    }

    /// Makes a fresh client identity (a new certificate and peer ID per
    /// connection, RFC 7425 §5.3), binds the sockets and starts the client
    /// on its I/O thread, without connecting yet.
    pub fn start(config: NetConnectionConfig) -> Res<NetConnection> {
        let crypto = FlashProfile::generate(config.flash.clone())
            .map_err(|e| NetError::Identity(e.to_string()))?;
        let near_id = crypto.near_id();
        let mut runtime_config = RuntimeConfig::new(config.bind.clone(), Arc::new(crypto));
        runtime_config.endpoint = config.endpoint.clone();
        if let Some(limit) = config.event_queue_limit {
            runtime_config.event_queue_limit = limit;
        }
        runtime_config.turn = config.turn.clone();
        let events = Arc::new(EventQueue::new(usize::MAX)?);
        let mut client = FlashClient::new(config.client.clone());
        let flv = Arc::new(FlvTable::default());
        client.set_event_sink(flv.clone().route(queue_sink(events.clone())));
        let host = Host::start(runtime_config, client)?;
        let relayed = host.handle().relayed_addr();
        let local = if let Some(relayed) = relayed {
            // Only the relay reaches us: announce nothing else.
            vec![relayed]
        } else if config.client.local_addresses.is_empty() {
            super::candidates::local_candidates(&host.local_addrs())
        } else {
            config.client.local_addresses.clone()
        };
        host.post(move |c, _, _| c.set_local_addresses(local))?;
        Ok(NetConnection {
            host,
            events,
            near_id,
            bind: config.bind,
            flv,
        })
    }

    /// Connects to `uri` with extra `connect` arguments `args`.  Name
    /// resolution blocks the caller.
    pub fn open(&self, uri: &str, args: Vec<Value>) -> Res<()> {
        let candidates = resolve(uri, &self.bind)?;
        self.open_resolved(uri, candidates, args)
    }

    /// Connects to `uri` at the already resolved `candidates` (see
    /// [`resolve`]).
    pub fn open_resolved(
        &self,
        uri: &str,
        candidates: Vec<SocketAddr>,
        args: Vec<Value>,
    ) -> Res<()> {
        let uri = uri.to_owned();
        Ok(self.with(move |c, ep, now| c.connect(ep, now, &uri, &candidates, args))??)
    }

    /// The addresses it was asked to bind (see [`NetConnection::local_addrs`]
    /// for the bound ones).
    pub fn bind_addrs(&self) -> &[SocketAddr] {
        &self.bind
    }

    /// Runs `f` on the I/O thread with the client layer and the
    /// endpoint, without waiting for it (dropped unrun once closed).
    pub fn post_client<F>(&self, f: F) -> Res<()>
    where
        F: FnOnce(&mut FlashClient, &mut crate::endpoint::Endpoint, Instant) + Send + 'static,
    {
        Ok(self.host.post(f)?)
    }

    /// The event queue itself (for adapters that read it on a thread of
    /// their own).
    pub fn event_queue(&self) -> &Arc<EventQueue<ClientEvent>> {
        &self.events
    }

    fn with<R, F>(&self, f: F) -> Res<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut FlashClient, &mut crate::endpoint::Endpoint, Instant) -> R + Send + 'static,
    {
        Ok(self.host.call(f)?)
    }

    /// Runs `f` on the I/O thread with the client layer and the endpoint.
    pub fn with_client<R, F>(&self, f: F) -> Res<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut FlashClient, &mut crate::endpoint::Endpoint, Instant) -> R + Send + 'static,
    {
        self.with(f)
    }

    /// Our peer ID (`nearID`).
    pub fn near_id(&self) -> PeerId {
        self.near_id
    }

    /// Our peer ID as 64 hex characters.
    pub fn near_id_hex(&self) -> String {
        to_hex(&self.near_id)
    }

    /// The server's peer ID (`farID`) as 64 hex characters, once open.
    pub fn far_id_hex(&self) -> Res<Option<String>> {
        self.with(|c, _, _| c.far_id().map(|f| to_hex(&f)))
    }

    /// NEAR_NONCE and FAR_NONCE of the server session (RFC 7425 §4.6.5), as
    /// hex, once open.
    pub fn nonces_hex(&self) -> Res<Option<(String, String)>> {
        self.with(|c, _, _| Some((to_hex(c.near_nonce()?), to_hex(c.far_nonce()?))))
    }

    /// Whether the connection is up.
    pub fn is_connected(&self) -> Res<bool> {
        self.with(|c, _, _| c.is_connected())
    }

    /// The bound local addresses.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.host.local_addrs()
    }

    /// The TURN relayed address, when running over a relay: the address
    /// peers and servers see.
    pub fn relayed_addr(&self) -> Option<SocketAddr> {
        self.host.handle().relayed_addr()
    }

    /// The next event, waiting at most `timeout`.
    pub fn next_event_timeout(&self, timeout: Duration) -> Option<ClientEvent> {
        self.events.pop_timeout(Some(timeout))
    }

    /// The next event, waiting as long as it takes (`None` once closed).
    pub fn next_event(&self) -> Option<ClientEvent> {
        self.events.pop_timeout(None)
    }

    /// The next event if one waits.
    pub fn try_next_event(&self) -> Option<ClientEvent> {
        self.events.try_pop()
    }

    /// The next status event within `timeout`, **dropping** any other
    /// event before it; use [`NetConnection::next_event_timeout`] when
    /// those matter.
    pub fn next_status_timeout(&self, timeout: Duration) -> Option<(Option<StreamId>, StatusInfo)> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.pop_timeout(Some(left))? {
                ClientEvent::Status { stream, info } => return Some((stream, info)),
                _ if left.is_zero() => return None,
                _ => {}
            }
        }
    }

    /// A file descriptor readable while events wait (the contract of
    /// [`Handle::event_fd`]).
    pub fn event_fd(&self) -> RawFd {
        self.events.fd()
    }

    /// A NetStream through the server (`new NetStream(nc)`).
    pub fn create_stream(&self) -> Res<NetStream> {
        let id = self.with(|c, ep, now| c.create_stream(ep, now))?;
        Ok(self.stream(id))
    }

    /// `new NetStream(nc, NetStream.DIRECT_CONNECTIONS)`.
    pub fn create_direct_stream(&self) -> Res<NetStream> {
        let id = self.with(|c, _, _| c.create_direct_stream())?;
        Ok(self.stream(id))
    }

    /// `new NetStream(nc, peerID)` for a peer ID in hex.
    pub fn create_peer_stream(&self, peer_id: &str) -> Res<NetStream> {
        let peer = from_hex(peer_id)
            .ok_or_else(|| ClientError::InvalidArgument(format!("not a peer ID: {peer_id:?}")))?;
        let id = self.with(move |c, _, _| c.create_peer_stream(peer))?;
        Ok(self.stream(id))
    }

    fn stream(&self, id: StreamId) -> NetStream {
        NetStream {
            handle: self.host.handle().clone(),
            id,
            flv: self.flv.clone(),
        }
    }

    /// The [`NetStream`] with handle `id` (made by one of the
    /// `create_*stream` calls here or by the client layer directly), for
    /// adapters that keep stream IDs.
    pub fn net_stream(&self, id: StreamId) -> NetStream {
        self.stream(id)
    }

    /// Calls a server command; the answer arrives as
    /// [`ClientEvent::CallResult`] with the returned transaction ID.
    pub fn call(&self, name: &str, args: Vec<Value>) -> Res<f64> {
        let name = name.to_owned();
        Ok(self.with(move |c, ep, now| c.call(ep, now, &name, args))??)
    }

    /// Sets `max_peer_connections`.
    pub fn set_max_peer_connections(&self, max: usize) -> Res<()> {
        self.with(move |c, _, _| c.set_max_peer_connections(max))
    }

    /// Sets (or clears) the synchronous `on_peer_connect` policy.  It runs
    /// on the I/O thread and must not block.
    pub fn set_peer_connect_policy(&self, policy: Option<PeerConnectPolicy>) -> Res<()> {
        self.with(move |c, _, _| c.set_peer_connect_policy(policy))
    }

    /// Accepted subscribers of our DIRECT_CONNECTIONS streams.
    pub fn peer_streams(&self) -> Res<Vec<PeerStreamInfo>> {
        self.with(|c, _, _| c.peer_streams(None))
    }

    /// Subscribers not yet sent any media.
    pub fn unconnected_peer_streams(&self) -> Res<Vec<PeerStreamInfo>> {
        self.with(|c, _, _| c.unconnected_peer_streams())
    }

    /// Accepts a pending subscriber.
    pub fn accept_peer(&self, peer: PeerStreamId) -> Res<()> {
        Ok(self.with(move |c, ep, now| c.accept_peer(ep, now, peer))??)
    }

    /// Rejects a subscriber with a reason.
    pub fn reject_peer(&self, peer: PeerStreamId, reason: &str) -> Res<()> {
        let reason = reason.to_owned();
        Ok(self.with(move |c, ep, now| c.reject_peer(ep, now, peer, &reason))??)
    }

    /// The runtime handle.
    pub fn handle(&self) -> Handle {
        self.host.handle().clone()
    }

    /// Whether it was closed (or its I/O thread stopped).
    pub fn is_closed(&self) -> bool {
        self.host.is_closed()
    }

    /// Closes the connection in order (RFC 7425 §5.3.6: its NetStreams,
    /// flows, then the sessions to the server and to peers) and stops the
    /// runtime within `deadline`.  Once: `Some(report)` for the call that
    /// closed it, `None` for any later (or concurrent) one.  The events
    /// it causes ("NetConnection.Connect.Closed", ...) stay readable.
    pub fn close(&self, deadline: Duration) -> Option<ShutdownReport> {
        self.host.shutdown(deadline, |c, ep, now| c.close(ep, now))
    }
}

impl crate::host::Hosted for NetConnection {
    fn runtime_handle(&self) -> Handle {
        self.handle()
    }
    fn close_within(&self, deadline: Duration) -> Option<ShutdownReport> {
        self.close(deadline)
    }
}

/// A NetStream of a [`NetConnection`].  Cheap to clone.
#[derive(Debug, Clone)]
pub struct NetStream {
    handle: Handle,
    pub(crate) id: StreamId,
    pub(crate) flv: Arc<FlvTable>,
}

impl NetStream {
    /// Runs `f` on the I/O thread with the client, the endpoint and this
    /// stream's ID.
    pub(crate) fn on_client<R, F>(&self, f: F) -> Res<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut FlashClient, &mut crate::endpoint::Endpoint, Instant, StreamId) -> R
            + Send
            + 'static,
    {
        self.with(f)
    }

    fn with<R, F>(&self, f: F) -> Res<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut FlashClient, &mut crate::endpoint::Endpoint, Instant, StreamId) -> R
            + Send
            + 'static,
    {
        let id = self.id;
        Ok(self
            .handle
            .call_layer::<FlashClient, _, _>(move |c, ep, now| f(c, ep, now, id))?)
    }

    /// Whether its NetConnection was closed (or its I/O thread stopped).
    pub fn is_closed(&self) -> bool {
        self.handle.is_closed()
    }

    /// The stream's handle in its NetConnection's events.
    pub fn id(&self) -> StreamId {
        self.id
    }

    /// `publish(name)`.
    pub fn publish(&self, name: &str) -> Res<()> {
        let name = name.to_owned();
        Ok(self.with(move |c, ep, now, id| c.publish(ep, now, id, &name))??)
    }

    /// `play(name)`.
    pub fn play(&self, name: &str) -> Res<()> {
        let name = name.to_owned();
        Ok(self.with(move |c, ep, now, id| c.play(ep, now, id, &name))??)
    }

    /// Sends an audio, video or data message ([`check_stream_message`]);
    /// returns how many destinations it was queued for
    /// (DIRECT_CONNECTIONS: the accepted subscribers).
    pub fn send(&self, message_type: u8, timestamp: u32, payload: &[u8]) -> Res<usize> {
        check_stream_message(message_type.into(), payload.len())?;
        let payload = payload.to_vec();
        Ok(self
            .with(move |c, ep, now, id| c.send(ep, now, id, message_type, timestamp, &payload))??)
    }

    /// Sends an audio message (type 8, an FLV audio tag body).
    pub fn send_audio(&self, timestamp: u32, payload: &[u8]) -> Res<usize> {
        self.send(message_type::AUDIO, timestamp, payload)
    }

    /// Sends a video message (type 9, an FLV video tag body).
    pub fn send_video(&self, timestamp: u32, payload: &[u8]) -> Res<usize> {
        self.send(message_type::VIDEO, timestamp, payload)
    }

    /// Sends a data message (type 18, AMF0 values).
    pub fn send_data(&self, timestamp: u32, values: &[Value]) -> Res<usize> {
        let payload = super::command::encode_values(message_type::DATA_AMF0, values)
            .map_err(|e| ClientError::InvalidArgument(e.to_string()))?;
        self.send(message_type::DATA_AMF0, timestamp, &payload)
    }

    /// Sends an FLV tag as the message of the same type.
    pub fn send_tag(&self, tag: &Tag<'_>) -> Res<usize> {
        self.send(tag.tag_type, tag.timestamp, &tag.data)
    }

    /// Sends a message to one subscriber of this DIRECT_CONNECTIONS stream.
    pub fn send_to_peer(
        &self,
        peer: PeerStreamId,
        message_type: u8,
        timestamp: u32,
        payload: &[u8],
    ) -> Res<()> {
        check_stream_message(message_type.into(), payload.len())?;
        let payload = payload.to_vec();
        Ok(self.with(move |c, ep, now, _| {
            c.send_to_peer(ep, now, peer, message_type, timestamp, &payload)
        })??)
    }

    /// Asks about this DIRECT_CONNECTIONS stream's subscribers
    /// ([`FlashClient::set_stream_asks`]): each becomes a
    /// [`ClientEvent::PeerConnect`] answered with
    /// [`NetConnection::accept_peer`] or [`NetConnection::reject_peer`].
    pub fn set_asks(&self, asks: bool) -> Res<()> {
        Ok(self.with(move |c, _, _, id| c.set_stream_asks(id, asks))??)
    }

    /// This stream's accepted subscribers (DIRECT_CONNECTIONS).
    pub fn peer_streams(&self) -> Res<Vec<PeerStreamInfo>> {
        self.with(|c, _, _, id| c.peer_streams(Some(id)))
    }

    /// Closes the stream.  An FLV reader of it ends at once.
    pub fn close(&self) -> Res<()> {
        self.flv.stream_closed(self.id);
        Ok(self.with(|c, ep, now, id| c.close_stream(ep, now, id))??)
    }
}
