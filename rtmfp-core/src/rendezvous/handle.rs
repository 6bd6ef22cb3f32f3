//! [`ServerHandle`]: the rendezvous server on a runtime (its own I/O
//! thread and UDP sockets), with a typed API for Rust applications and
//! the bindings.

use super::server::{Server, ServerStats};
use super::types::{
    AskError, Asks, ClientInfo, Decision, Hooks, ServerConfig, ServerEvent, StreamInfo,
};
use crate::crypto::{FlashConfig, FlashProfile, PeerId};
use crate::endpoint::{Endpoint, SessionHandle};
use crate::flash::peer_id::to_hex;
use crate::host::Host;
use crate::runtime::{queue_sink, EventQueue, Handle, RuntimeConfig, RuntimeError, ShutdownReport};
use std::io;
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A running rendezvous server.
///
/// ```no_run
/// use rtmfp_core::rendezvous::{Hooks, KeySet, ServerConfig, ServerHandle};
/// let config = ServerConfig { keys: KeySet::of(["my-key"]), ..ServerConfig::default() };
/// let server = ServerHandle::start(&["0.0.0.0:1935".parse().unwrap()], config, Hooks::default())?;
/// println!("fingerprint {}", server.fingerprint_hex());
/// while let Some(event) = server.next_event_timeout(std::time::Duration::from_secs(60)) {
///     println!("{event:?}");
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct ServerHandle {
    host: Host<Server>,
    events: Arc<EventQueue<ServerEvent>>,
    /// The cluster node's link to Redis, stopped after the server.
    #[cfg(feature = "cluster")]
    cluster: std::sync::Mutex<Option<super::cluster::redis::RedisCluster>>,
}

impl ServerHandle {
    /// Binds `bind` and starts a server with a fresh server identity
    /// (RFC 7425 §4: ephemeral DH, accepts ancillary data).
    pub fn start(
        bind: &[SocketAddr],
        config: ServerConfig,
        hooks: Hooks,
    ) -> io::Result<ServerHandle> {
        Self::start_as(bind, FlashConfig::server(), config, hooks)
    }

    /// Binds `bind` and starts a server with a fresh identity made with
    /// `flash` (start from [`FlashConfig::server`]: a hostname, a key
    /// log, negotiation policies).
    pub fn start_as(
        bind: &[SocketAddr],
        flash: FlashConfig,
        config: ServerConfig,
        hooks: Hooks,
    ) -> io::Result<ServerHandle> {
        let crypto = FlashProfile::generate(flash)
            .map_err(|e| io::Error::other(format!("server identity: {e:?}")))?;
        Self::start_with(
            RuntimeConfig::new(bind.to_vec(), Arc::new(crypto)),
            config,
            hooks,
        )
    }

    /// Starts a server on a runtime configured by the caller (identity,
    /// sockets, endpoint settings).  Fails with
    /// [`io::ErrorKind::InvalidInput`] (a [`LimitError`](super::LimitError)
    /// inside) if [`ServerConfig::validate`] fails or the endpoint's
    /// `flow_limits.max_recv_flows` is out of [`Limit::FlowsPerSession`](super::Limit)'s range.
    pub fn start_with(
        runtime: RuntimeConfig,
        config: ServerConfig,
        hooks: Hooks,
    ) -> io::Result<ServerHandle> {
        config.validate()?;
        super::Limit::FlowsPerSession.check(runtime.endpoint.flow_limits.max_recv_flows)?;
        let events = Arc::new(EventQueue::new(usize::MAX)?);
        let mut server = Server::new(config, hooks);
        server.set_event_sink(queue_sink(events.clone()));
        let host = Host::start(runtime, server)?;
        Ok(ServerHandle {
            host,
            events,
            #[cfg(feature = "cluster")]
            cluster: std::sync::Mutex::new(None),
        })
    }

    /// Starts a server that is a node of a cluster on Redis (see
    /// [`cluster`](super::cluster)).  Fails, with the server stopped, if
    /// Redis does not answer.  Without `cluster.advertise`, the node
    /// advertises its bound addresses (an unspecified IP as loopback).
    #[cfg(feature = "cluster")]
    pub fn start_clustered(
        runtime: RuntimeConfig,
        config: ServerConfig,
        hooks: Hooks,
        mut cluster: super::cluster::redis::ClusterConfig,
    ) -> io::Result<ServerHandle> {
        use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
        let handle = Self::start_with(runtime, config, hooks)?;
        if cluster.advertise.is_empty() {
            cluster.advertise = handle
                .local_addrs()
                .into_iter()
                .map(|mut a| {
                    if a.ip().is_unspecified() {
                        a.set_ip(match a.ip() {
                            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
                        });
                    }
                    a
                })
                .collect();
        }
        let node = match super::cluster::redis::RedisCluster::connect(cluster) {
            Ok(n) => n,
            Err(e) => {
                handle.close(Duration::from_millis(100));
                return Err(io::Error::other(e));
            }
        };
        node.attach(handle.handle());
        let link = node.link();
        handle
            .with_server(move |s, _, _| s.set_cluster(link))
            .map_err(|e| io::Error::other(format!("{e:?}")))?;
        if let Ok(mut c) = handle.cluster.lock() {
            *c = Some(node);
        }
        Ok(handle)
    }

    /// [`ServerHandle::start_as`] for a cluster node: binds `bind`, makes
    /// an identity with `flash` and joins the cluster
    /// ([`ServerHandle::start_clustered`]).
    #[cfg(feature = "cluster")]
    pub fn start_as_clustered(
        bind: &[SocketAddr],
        flash: FlashConfig,
        config: ServerConfig,
        hooks: Hooks,
        cluster: super::cluster::redis::ClusterConfig,
    ) -> io::Result<ServerHandle> {
        let crypto = FlashProfile::generate(flash)
            .map_err(|e| io::Error::other(format!("server identity: {e:?}")))?;
        Self::start_clustered(
            RuntimeConfig::new(bind.to_vec(), Arc::new(crypto)),
            config,
            hooks,
            cluster,
        )
    }

    /// The cluster node's counters (Redis reconnections, errors, ...),
    /// if this server is one.
    #[cfg(feature = "cluster")]
    pub fn cluster_stats(&self) -> Option<super::cluster::redis::ClusterStats> {
        let c = self.cluster.lock().ok()?;
        c.as_ref().map(|n| n.counters().snapshot())
    }

    /// The cluster node's name, if this server is one.
    #[cfg(feature = "cluster")]
    pub fn cluster_node(&self) -> Option<String> {
        let c = self.cluster.lock().ok()?;
        c.as_ref().map(|n| n.node().to_owned())
    }

    /// The bound addresses.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.host.local_addrs()
    }

    /// The TURN relayed address, when running over a relay: the address
    /// peers and servers see.
    pub fn relayed_addr(&self) -> Option<SocketAddr> {
        self.host.handle().relayed_addr()
    }

    /// The server's peer ID (its certificate fingerprint).
    pub fn peer_id(&self) -> Option<PeerId> {
        self.host.handle().peer_id()
    }

    /// The server's fingerprint as 64 hex characters.
    pub fn fingerprint_hex(&self) -> String {
        self.peer_id().map(|p| to_hex(&p)).unwrap_or_default()
    }

    /// Runs `f` on the I/O thread with the server layer and the endpoint.
    pub fn with_server<R, F>(&self, f: F) -> Result<R, RuntimeError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Server, &mut Endpoint, Instant) -> R + Send + 'static,
    {
        self.host.call(f)
    }

    /// The client sessions.
    pub fn sessions(&self) -> Result<Vec<ClientInfo>, RuntimeError> {
        self.with_server(|s, _, _| s.sessions())
    }

    /// The streams published to the server.
    pub fn streams(&self) -> Result<Vec<StreamInfo>, RuntimeError> {
        self.with_server(|s, _, _| s.streams())
    }

    /// The server's counters.
    pub fn stats(&self) -> Result<ServerStats, RuntimeError> {
        self.with_server(|s, _, _| s.stats())
    }

    /// The peer holding a registered name.
    pub fn lookup_name(&self, name: &str) -> Result<Option<PeerId>, RuntimeError> {
        let name = name.to_owned();
        self.with_server(move |s, _, _| s.lookup_name(&name))
    }

    /// Disconnects a client session.
    pub fn disconnect(&self, session: SessionHandle) -> Result<bool, RuntimeError> {
        self.with_server(move |s, ep, now| s.disconnect(ep, now, session))
    }

    /// Sets which requests wait for a verdict ([`Asks`]); requests
    /// already parked keep their deadline.  Set it at start
    /// ([`Hooks::asks`]) so that no request is decided without asking.
    pub fn set_asks(&self, asks: Asks) -> Result<(), RuntimeError> {
        self.with_server(move |s, _, _| s.hooks_mut().asks = asks)
    }

    /// The verdict on ask `id` ([`ServerEvent::Asked`]), from any thread:
    /// see [`Server::answer`].  [`AskError::Stopped`] once the server
    /// has stopped.
    pub fn answer(&self, id: u64, decision: Decision) -> Result<(), AskError> {
        self.with_server(move |s, ep, now| s.answer(ep, now, id, decision))
            .map_err(|_| AskError::Stopped)?
    }

    /// Accepts ask `id`: [`ServerHandle::answer`] with `Ok(())`.
    pub fn accept(&self, id: u64) -> Result<(), AskError> {
        self.answer(id, Ok(()))
    }

    /// Rejects ask `id` with `reason` (the client sees it as its status
    /// description): [`ServerHandle::answer`] with `Err(reason)`.
    pub fn reject(&self, id: u64, reason: &str) -> Result<(), AskError> {
        self.answer(id, Err(reason.to_owned()))
    }

    /// [`ServerHandle::answer`] without waiting for the I/O thread (for
    /// a host's event loop): what it did is not reported, a verdict that
    /// came too late does nothing.
    pub fn post_answer(&self, id: u64, decision: Decision) -> Result<(), RuntimeError> {
        self.post_server(move |s, ep, now| {
            let _ = s.answer(ep, now, id, decision);
        })
    }

    /// The next server event, waiting at most `timeout`.  `None` on
    /// timeout or once the server has stopped and every event was taken.
    pub fn next_event_timeout(&self, timeout: Duration) -> Option<ServerEvent> {
        self.events.pop_timeout(Some(timeout))
    }

    /// The next server event, waiting as long as it takes.
    pub fn next_event(&self) -> Option<ServerEvent> {
        self.events.pop_timeout(None)
    }

    /// The next server event if one waits.
    pub fn try_next_event(&self) -> Option<ServerEvent> {
        self.events.try_pop()
    }

    /// A file descriptor readable while server events wait (the contract
    /// of [`Handle::event_fd`]).
    pub fn event_fd(&self) -> RawFd {
        self.events.fd()
    }

    /// The runtime handle (endpoint-level calls, I/O counters).
    pub fn handle(&self) -> Handle {
        self.host.handle().clone()
    }

    /// Runs `f` on the I/O thread with the server layer, without waiting
    /// (dropped unrun once closed).
    pub fn post_server<F>(&self, f: F) -> Result<(), RuntimeError>
    where
        F: FnOnce(&mut Server, &mut Endpoint, Instant) + Send + 'static,
    {
        self.host.post(f)
    }

    /// The event queue itself (for adapters that read it on a thread of
    /// their own).
    pub fn event_queue(&self) -> &Arc<EventQueue<ServerEvent>> {
        &self.events
    }

    /// Whether it was closed (or its I/O thread stopped).
    pub fn is_closed(&self) -> bool {
        self.host.is_closed()
    }

    /// Closes every session in order and stops within `deadline`.  Once:
    /// `Some(report)` for the call that closed it, `None` for any later
    /// (or concurrent) one.  Events it causes stay readable.
    pub fn close(&self, deadline: Duration) -> Option<ShutdownReport> {
        let report = self.host.shutdown(deadline, |_, _, _| {});
        // The node leaves the cluster once its sessions are closed.
        #[cfg(feature = "cluster")]
        if let Some(mut node) = self.cluster.lock().ok().and_then(|mut c| c.take()) {
            node.stop();
        }
        report
    }

    /// [`ServerHandle::close`], consuming the handle.  If it was closed
    /// already, the report says not clean, with no counters.
    pub fn shutdown(self, deadline: Duration) -> ShutdownReport {
        self.close(deadline).unwrap_or_else(|| ShutdownReport {
            clean: false,
            stats: Default::default(),
        })
    }
}

impl crate::host::Hosted for ServerHandle {
    fn runtime_handle(&self) -> Handle {
        self.handle()
    }
    fn close_within(&self, deadline: Duration) -> Option<ShutdownReport> {
        self.close(deadline)
    }
}
