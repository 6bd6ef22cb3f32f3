//! The cluster's redirector (feature `cluster`): an endpoint that
//! answers every IHello for a server (an EPD without a Fingerprint, RFC
//! 7425 §4.4.2) with a Redirect (RFC 7016 §2.3.5, §3.5.1.1.1) to the
//! least loaded live node, as read from Redis.
//!
//! The initiator sends its IHello to every address of a Redirect and
//! keeps the first RHello, so a Redirect lists one node's addresses
//! only: listing several nodes would make the fastest win, not the least
//! loaded.  The redirector counts the clients it sent to each node in the
//! last [`PICK_MEMORY`] on top of the load the node published (a client
//! takes a moment to connect, and its node to publish its new load), so
//! that a burst of clients spreads over the nodes.  A node that died keeps
//! being chosen until its record expires (the cluster's TTL); the
//! initiator's IHello retransmissions to the redirector then get another
//! node, since each pick raises the node's count.
//!
//! The redirector's own identity does not accept ancillary data, so a
//! client's IHello never selects it: every one reaches the layer as an
//! unmatched IHello.  IHellos for a peer ID (Fingerprint EPDs) are not
//! answered.

use super::record::NodeRecord;
use super::redis::{live_nodes, open, ClusterError};
use crate::crypto::flash::epd::Epd;
use crate::crypto::{FlashConfig, FlashProfile};
use crate::endpoint::{Endpoint, Event, Layer};
use crate::host::Host;
use crate::runtime::{RuntimeConfig, RuntimeError};
use crate::wire::{Address, AddressOrigin};
use std::any::Any;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the redirector reads the live nodes.
pub const NODE_REFRESH: Duration = Duration::from_millis(500);

/// How long a client sent to a node counts in its load, on top of what
/// the node published.
pub const PICK_MEMORY: Duration = Duration::from_secs(2);

/// Counters of a [`Redirector`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RedirectorStats {
    /// IHellos answered with a Redirect.
    pub redirected: u64,
    /// IHellos left unanswered because no node is alive.
    pub no_node: u64,
    /// IHellos for a peer ID (not answered).
    pub ignored: u64,
}

/// The redirector layer.
#[derive(Debug, Default)]
pub struct Redirector {
    /// Live nodes with their published load.
    nodes: Vec<(String, u64, Vec<SocketAddr>)>,
    /// Recent picks: when, and which node.
    picks: std::collections::VecDeque<(Instant, String)>,
    max_addresses: usize,
    stats: RedirectorStats,
}

impl Redirector {
    /// A redirector that knows no node yet; at most `max_addresses` in a
    /// Redirect.
    pub fn new(max_addresses: usize) -> Redirector {
        Redirector {
            nodes: Vec::new(),
            picks: std::collections::VecDeque::new(),
            max_addresses: max_addresses.max(1),
            stats: RedirectorStats::default(),
        }
    }

    /// Replaces the live nodes (name, record).
    pub fn set_nodes(&mut self, nodes: Vec<(String, NodeRecord)>) {
        self.nodes = nodes
            .into_iter()
            .filter(|(_, r)| !r.addresses.is_empty())
            .map(|(n, r)| (n, r.load, r.addresses))
            .collect();
    }

    /// The live nodes known: (name, published load, addresses).
    pub fn nodes(&self) -> &[(String, u64, Vec<SocketAddr>)] {
        &self.nodes
    }

    /// Counters.
    pub fn stats(&self) -> RedirectorStats {
        self.stats
    }

    /// The addresses of the node to send the next client to at `now`
    /// (least published load plus recent picks, then name), counting
    /// the pick.
    pub fn pick(&mut self, now: Instant) -> Option<Vec<SocketAddr>> {
        while self
            .picks
            .front()
            .is_some_and(|(t, _)| now.saturating_duration_since(*t) >= PICK_MEMORY)
        {
            self.picks.pop_front();
        }
        let picks = &self.picks;
        let estimate =
            |n: &str, load: u64| load + picks.iter().filter(|(_, p)| p == n).count() as u64;
        let best = self.nodes.iter().min_by(|a, b| {
            estimate(&a.0, a.1)
                .cmp(&estimate(&b.0, b.1))
                .then_with(|| a.0.cmp(&b.0))
        })?;
        let addresses = best.2.iter().take(self.max_addresses).copied().collect();
        self.picks.push_back((now, best.0.clone()));
        Some(addresses)
    }

    fn on_ihello(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        epd: &[u8],
        tag: &[u8],
        from: SocketAddr,
    ) {
        match Epd::parse(epd) {
            Ok(e) if e.fingerprint.is_none() => {}
            _ => {
                self.stats.ignored += 1;
                return;
            }
        }
        let Some(list) = self.pick(now) else {
            self.stats.no_node += 1;
            return;
        };
        let addresses: Vec<Address> = list
            .into_iter()
            .map(|a| Address::new(a, AddressOrigin::Local))
            .collect();
        ep.send_redirect(now, from, tag, &addresses);
        self.stats.redirected += 1;
    }
}

impl Layer for Redirector {
    fn on_event(&mut self, ep: &mut Endpoint, now: Instant, event: Event) -> Option<Event> {
        if let Event::UnmatchedIHello { epd, tag, from } = &event {
            self.on_ihello(ep, now, epd, tag, *from);
            return None;
        }
        Some(event)
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// A running redirector: its endpoint on a runtime and a thread that
/// reads the live nodes from Redis.
#[derive(Debug)]
pub struct RedirectorHandle {
    host: Host<Redirector>,
    stop: Arc<AtomicBool>,
    poller: Option<JoinHandle<()>>,
}

impl RedirectorHandle {
    /// Binds `bind` and starts redirecting to the nodes registered in
    /// the Redis at `url` under `prefix` (`rtmfp:` for the default).
    /// Fails if Redis does not answer.
    pub fn start(
        bind: &[SocketAddr],
        url: &str,
        prefix: &str,
    ) -> Result<RedirectorHandle, ClusterError> {
        let (client, mut conn) = open(url)?;
        // Not accepting ancillary data: no server EPD selects us.
        let crypto = FlashProfile::generate(FlashConfig::client())
            .map_err(|e| ClusterError::Config(format!("identity: {e:?}")))?;
        let mut layer = Redirector::new(8);
        if let Ok(nodes) = live_nodes(&mut conn, prefix) {
            layer.set_nodes(nodes);
        }
        let host = Host::start(RuntimeConfig::new(bind.to_vec(), Arc::new(crypto)), layer)
            .map_err(|e| ClusterError::Config(format!("cannot listen: {e}")))?;
        let stop = Arc::new(AtomicBool::new(false));
        let (s, handle, prefix) = (stop.clone(), host.handle().clone(), prefix.to_owned());
        let poller = std::thread::Builder::new()
            .name("rtmfp-redirector".into())
            .spawn(move || {
                let mut conn = Some(conn);
                let mut backoff = NODE_REFRESH;
                while !s.load(Ordering::SeqCst) {
                    std::thread::sleep(NODE_REFRESH);
                    if conn.is_none() {
                        conn = client
                            .get_connection_with_timeout(Duration::from_secs(1))
                            .ok();
                        if let Some(c) = conn.as_mut() {
                            let t = Some(Duration::from_secs(2));
                            if c.set_read_timeout(t).is_err() || c.set_write_timeout(t).is_err() {
                                conn = None;
                            }
                        }
                        if conn.is_none() {
                            std::thread::sleep(backoff);
                            backoff = (backoff * 2).min(Duration::from_secs(5));
                            continue;
                        }
                        backoff = NODE_REFRESH;
                    }
                    let Some(c) = conn.as_mut() else { continue };
                    match live_nodes(c, &prefix) {
                        // Redis unreachable: keep the last list.
                        Err(_) => conn = None,
                        Ok(nodes) => {
                            let _ = handle
                                .post_layer::<Redirector, _>(move |r, _, _| r.set_nodes(nodes));
                        }
                    }
                }
            })
            .map_err(|e| ClusterError::Config(format!("cannot start a thread: {e}")))?;
        Ok(RedirectorHandle {
            host,
            stop,
            poller: Some(poller),
        })
    }

    /// The bound addresses.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.host.local_addrs()
    }

    /// Counters.
    pub fn stats(&self) -> Result<RedirectorStats, RuntimeError> {
        self.host.call(|r, _, _| r.stats())
    }

    /// The live nodes it knows: (name, estimated load, addresses).
    pub fn nodes(&self) -> Result<Vec<(String, u64, Vec<SocketAddr>)>, RuntimeError> {
        self.host.call(|r, _, _| r.nodes().to_vec())
    }

    /// Stops it.
    pub fn close(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.host.shutdown(Duration::from_millis(200), |_, _, _| {});
        if let Some(t) = self.poller.take() {
            let _ = t.join();
        }
    }
}

impl Drop for RedirectorHandle {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_spread_over_the_least_loaded() {
        let a = |s: &str| s.parse::<SocketAddr>().unwrap();
        let mut r = Redirector::new(8);
        let t0 = Instant::now();
        assert_eq!(r.pick(t0), None);
        r.set_nodes(vec![
            (
                "b".into(),
                NodeRecord {
                    load: 2,
                    addresses: vec![a("127.0.0.1:2")],
                },
            ),
            (
                "a".into(),
                NodeRecord {
                    load: 0,
                    addresses: vec![a("127.0.0.1:1")],
                },
            ),
            (
                "c".into(),
                NodeRecord {
                    load: 0,
                    addresses: vec![],
                },
            ),
        ]);
        // "c" has no address: never chosen.
        let picks: Vec<_> = (0..5).map(|_| r.pick(t0).unwrap()[0].port()).collect();
        assert_eq!(picks, [1, 1, 1, 2, 1]);
        // A refresh before the nodes published their new loads keeps the
        // picks: a has 4, b 1 on top of its 2.
        r.set_nodes(vec![
            (
                "a".into(),
                NodeRecord {
                    load: 0,
                    addresses: vec![a("127.0.0.1:1")],
                },
            ),
            (
                "b".into(),
                NodeRecord {
                    load: 2,
                    addresses: vec![a("127.0.0.1:2")],
                },
            ),
        ]);
        assert_eq!(r.pick(t0).unwrap()[0].port(), 2);
        // Once the picks are old, only the published loads count.
        assert_eq!(r.pick(t0 + PICK_MEMORY).unwrap()[0].port(), 1);
    }
}
