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
    ClientConfig, ClientError, ClientEvent, FlashClient, PeerConnectPolicy, PeerStreamId,
    PeerStreamInfo, StreamId,
};
use super::command::StatusInfo;
use super::flv::Tag;
use super::message::message_type;
use super::peer_id::{from_hex, to_hex};
use super::uri::RtmfpUri;
use super::Value;
use crate::crypto::{FlashConfig, FlashProfile, PeerId};
use crate::endpoint::EndpointConfig;
use crate::runtime::{
    queue_sink, EventQueue, Handle, Runtime, RuntimeConfig, RuntimeError, ShutdownReport,
};
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
    /// Binding sockets or making the identity failed.
    Io(std::io::Error),
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetError::Client(e) => write!(f, "{e}"),
            NetError::Runtime(e) => write!(f, "{e}"),
            NetError::Io(e) => write!(f, "{e}"),
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
    /// Extra `connect` arguments.
    pub args: Vec<Value>,
}

impl Default for NetConnectionConfig {
    fn default() -> Self {
        NetConnectionConfig {
            bind: vec![SocketAddr::from(([0, 0, 0, 0], 0))],
            client: ClientConfig::default(),
            endpoint: EndpointConfig::default(),
            flash: FlashConfig::client(),
            args: Vec::new(),
        }
    }
}

/// A connection to an RTMFP server, with Flash's NetConnection semantics.
#[derive(Debug)]
pub struct NetConnection {
    runtime: Runtime,
    events: Arc<EventQueue<ClientEvent>>,
    near_id: PeerId,
}

type Res<T> = Result<T, NetError>;

impl NetConnection {
    /// Starts a runtime with a fresh identity and connects to `uri`
    /// (`rtmfp://host[:port]/app[/DEVELOPER-KEY]`).  Returns at once; the
    /// outcome arrives as "NetConnection.Connect.Success", ".Failed" or
    /// ".Rejected" ([`NetConnection::next_event_timeout`]).  Name
    /// resolution blocks the caller.
    pub fn connect(uri: &str, config: NetConnectionConfig) -> Res<NetConnection> {
        let parsed =
            RtmfpUri::parse(uri).map_err(|e| ClientError::InvalidArgument(e.to_string()))?;
        let resolved: Vec<SocketAddr> = (parsed.host.as_str(), parsed.port)
            .to_socket_addrs()
            .map_err(|e| {
                ClientError::InvalidArgument(format!("cannot resolve {}: {e}", parsed.host))
            })?
            .collect();
        let candidates: Vec<SocketAddr> = resolved
            .into_iter()
            .filter(|a| config.bind.iter().any(|b| b.is_ipv4() == a.is_ipv4()))
            .collect();
        if candidates.is_empty() {
            return Err(ClientError::InvalidArgument(format!(
                "{} has no address of a bound family",
                parsed.host
            ))
            .into());
        }
        let crypto = FlashProfile::generate(config.flash.clone())
            .map_err(|e| std::io::Error::other(format!("client identity: {e:?}")))?;
        let near_id = crypto.near_id();
        let mut runtime_config = RuntimeConfig::new(config.bind.clone(), Arc::new(crypto));
        runtime_config.endpoint = config.endpoint.clone();
        let events = Arc::new(EventQueue::new(usize::MAX)?);
        let mut client = FlashClient::new(config.client.clone());
        client.set_event_sink(queue_sink(events.clone()));
        let runtime = Runtime::start_with_layer(runtime_config, Box::new(client))?;
        let local = if config.client.local_addresses.is_empty() {
            super::candidates::local_candidates(&runtime.local_addrs())
        } else {
            config.client.local_addresses.clone()
        };
        let uri = uri.to_owned();
        let args = config.args.clone();
        runtime.call_layer(move |c: &mut FlashClient, ep, now| {
            c.set_local_addresses(local);
            c.connect(ep, now, &uri, &candidates, args)
        })??;
        Ok(NetConnection {
            runtime,
            events,
            near_id,
        })
    }

    fn with<R, F>(&self, f: F) -> Res<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut FlashClient, &mut crate::endpoint::Endpoint, Instant) -> R + Send + 'static,
    {
        Ok(self.runtime.call_layer::<FlashClient, _, _>(f)?)
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
        self.runtime.local_addrs()
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
            handle: self.runtime.handle(),
            id,
        }
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
        self.runtime.handle()
    }

    /// Closes the connection in order (RFC 7425 §5.3.6) and stops the
    /// runtime within `deadline`.
    pub fn close(self, deadline: Duration) -> ShutdownReport {
        let _ = self.with(|c, ep, now| c.close(ep, now));
        self.runtime.shutdown(deadline)
    }
}

/// A NetStream of a [`NetConnection`].  Cheap to clone.
#[derive(Debug, Clone)]
pub struct NetStream {
    handle: Handle,
    id: StreamId,
}

impl NetStream {
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

    /// Sends a message of any type; returns how many destinations it was
    /// queued for (DIRECT_CONNECTIONS: the accepted subscribers).
    pub fn send(&self, message_type: u8, timestamp: u32, payload: &[u8]) -> Res<usize> {
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
        let payload = payload.to_vec();
        Ok(self.with(move |c, ep, now, _| {
            c.send_to_peer(ep, now, peer, message_type, timestamp, &payload)
        })??)
    }

    /// This stream's accepted subscribers (DIRECT_CONNECTIONS).
    pub fn peer_streams(&self) -> Res<Vec<PeerStreamInfo>> {
        self.with(|c, _, _, id| c.peer_streams(Some(id)))
    }

    /// Closes the stream.
    pub fn close(&self) -> Res<()> {
        Ok(self.with(|c, ep, now, id| c.close_stream(ep, now, id))??)
    }
}
