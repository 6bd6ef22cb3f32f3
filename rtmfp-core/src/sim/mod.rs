//! A deterministic network simulator for sans-IO endpoints (test support).
//!
//! [`Sim`] drives any number of [`SimNode`]s over a virtual clock. Between
//! nodes it models access links ([`LinkConfig`]: delay, jitter, loss,
//! duplication, reordering, bandwidth with a tail-drop queue, MTU) and NAT
//! boxes ([`NatConfig`]: full-cone, address-restricted, port-restricted,
//! symmetric; nestable). Everything random comes from one seed, and events
//! are ordered by (virtual time, insertion sequence), so a seed replays
//! exactly. No real traffic is sent and the real clock is read once.
//!
//! ```
//! use std::time::Duration;
//! use rtmfp_core::sim::{self, toy, Limits, NatBehaviour, NatConfig, Sim};
//!
//! let mut sim = Sim::new(sim::seed_from_env_or(1));
//! let server = sim.add_node(toy::Echo::default(), &[sim::addr("203.0.113.1:1935")]);
//! let nat = sim.add_nat(NatConfig::new([198, 51, 100, 1], NatBehaviour::PortRestricted));
//! let pinger = toy::Pinger::new(sim::addr("203.0.113.1:1935"), 10, Duration::from_millis(50));
//! let client = sim.add_node_behind(nat, pinger, &[sim::addr("192.168.1.2:5000")]);
//! let report = sim.run_until(|s| s.node::<toy::Pinger>(client).replies == 10, Limits::default());
//! assert!(report.satisfied(), "{report}");
//! assert_eq!(sim.node::<toy::Echo>(server).received, 10, "{sim}");
//! ```
//!
//! A datagram from node A to node B crosses A's uplink, then any NATs
//! (translation is instantaneous, at the moment the datagram leaves the
//! uplink), then B's downlink. Nodes live in a [`Realm`]: the public
//! internet or the inside of a NAT. Addresses are unique per realm, so two
//! hosts behind different NATs may both be `192.168.1.2:5000`.
//!
//! Tests reach their nodes with [`Sim::node`] / [`Sim::node_mut`] (downcast
//! by type). After `node_mut`, the node is polled for transmits and its
//! timeout before the next event is processed ([`Sim::flush`] does it at once).
//!
//! Failing tests should print the seed: take it from [`seed_from_env_or`]
//! (which honours `RTMFP_SIM_SEED`) and put `{sim}` (the [`Sim`]'s
//! `Display`: `sim seed = N (t = ...)`) or a [`RunReport`] in assertion messages.

mod clock;
mod link;
mod nat;
mod node;
mod queue;
mod route;
mod run;
mod seed;
mod stats;
pub mod toy;
mod trace;

pub use link::{LinkConfig, LinkStats};
pub use nat::{NatBehaviour, NatConfig, NatId, NatMapping, NatStats};
pub use node::{NodeId, SimNode, Transmit};
pub use run::{Limits, RunReport, Stop};
pub use seed::{parse_seed, seed_from_env_or, SEED_ENV};
pub use stats::{DropCounts, DropReason, NodeStats, SimStats};
pub use trace::{Tap, TraceEvent, TraceKind};

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::SeedableRng;

use clock::Clock;
use link::Link;
use nat::Nat;
use node::AnyNode;
use queue::EventQueue;
use trace::Trace;

/// A network that nodes and NATs live in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Realm {
    /// The public internet.
    Public,
    /// The private side of a NAT.
    Behind(NatId),
}

/// Parses `"ip:port"`, panicking on a typo. Shorthand for tests.
pub fn addr(s: &str) -> SocketAddr {
    s.parse()
        .unwrap_or_else(|e| panic!("bad socket address {s:?}: {e}"))
}

/// Panic threshold for datagrams from one drain of `poll_transmit`, to
/// turn a node that never returns `None` into a clear failure.
const MAX_TRANSMITS_PER_POLL: usize = 1 << 20;

struct NodeSlot {
    node: Box<dyn AnyNode>,
    addrs: Vec<SocketAddr>,
    realm: Realm,
    uplink: Link,
    downlink: Link,
    stats: NodeStats,
    /// The pending timer, and the generation of its queue entry.
    timer: Option<Duration>,
    timer_gen: u64,
    dirty: bool,
}

/// A datagram in flight.
struct Packet {
    src: SocketAddr,
    dst: SocketAddr,
    /// The network it is currently in.
    realm: Realm,
    sender: Option<NodeId>,
    data: Vec<u8>,
}

enum Event {
    /// Left the sender's uplink; about to be routed.
    Transit(Packet),
    /// Left the receiver's downlink; about to be handled.
    Deliver(NodeId, Packet),
    /// A node's timer, valid if the generation still matches.
    Timer(NodeId, u64),
}

/// The simulator. See the [module docs](self).
pub struct Sim {
    seed: u64,
    clock: Clock,
    rng: StdRng,
    queue: EventQueue<Event>,
    nodes: Vec<NodeSlot>,
    nats: Vec<Nat>,
    addrs: HashMap<(Realm, SocketAddr), NodeId>,
    nat_ips: HashMap<(Realm, IpAddr), NatId>,
    dirty: Vec<NodeId>,
    default_link: LinkConfig,
    stats: SimStats,
    in_flight: usize,
    trace: Trace,
    buf: Vec<u8>,
    step_limit: u64,
}

impl Sim {
    /// An empty simulation whose every random choice derives from `seed`.
    pub fn new(seed: u64) -> Self {
        Sim {
            seed,
            clock: Clock::new(),
            rng: StdRng::seed_from_u64(seed),
            queue: EventQueue::new(),
            nodes: Vec::new(),
            nats: Vec::new(),
            addrs: HashMap::new(),
            nat_ips: HashMap::new(),
            dirty: Vec::new(),
            default_link: LinkConfig::default(),
            stats: SimStats::default(),
            in_flight: 0,
            trace: Trace::default(),
            buf: Vec::with_capacity(2048),
            step_limit: Limits::default().max_steps,
        }
    }

    /// The seed this simulation was created with.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The current virtual time.
    pub fn now(&self) -> Instant {
        self.clock.instant()
    }

    /// Virtual time since the simulation started.
    pub fn elapsed(&self) -> Duration {
        self.clock.offset()
    }

    /// The `Instant` at `offset` after the simulation started.
    pub fn instant_at(&self, offset: Duration) -> Instant {
        self.clock.instant_at(offset)
    }

    // ---- topology ----------------------------------------------------

    /// Link parameters given to nodes added from now on (both directions).
    pub fn set_default_link(&mut self, config: LinkConfig) {
        config.validate();
        self.default_link = config;
    }

    /// Adds a node on the public internet with local addresses `addrs`
    /// (the first is its default source).
    pub fn add_node<T: SimNode + 'static>(&mut self, node: T, addrs: &[SocketAddr]) -> NodeId {
        self.add_node_in(Realm::Public, node, addrs)
    }

    /// Adds a node behind `nat`, with private addresses `addrs`.
    pub fn add_node_behind<T: SimNode + 'static>(
        &mut self,
        nat: NatId,
        node: T,
        addrs: &[SocketAddr],
    ) -> NodeId {
        self.add_node_in(Realm::Behind(nat), node, addrs)
    }

    /// Adds a node in `realm`. Panics if it has no address, or an address
    /// is already taken in that realm (by a node or a NAT's public IP).
    pub fn add_node_in<T: SimNode + 'static>(
        &mut self,
        realm: Realm,
        node: T,
        addrs: &[SocketAddr],
    ) -> NodeId {
        assert!(!addrs.is_empty(), "a node needs at least one address");
        self.check_realm(realm);
        let id = NodeId(self.nodes.len());
        for &a in addrs {
            assert!(
                !self.nat_ips.contains_key(&(realm, a.ip())),
                "{a} is a NAT's public IP in {realm:?}"
            );
            let prev = self.addrs.insert((realm, a), id);
            assert!(prev.is_none(), "address {a} is already in use in {realm:?}");
        }
        self.nodes.push(NodeSlot {
            node: Box::new(node),
            addrs: addrs.to_vec(),
            realm,
            uplink: Link::new(self.default_link.clone()),
            downlink: Link::new(self.default_link.clone()),
            stats: NodeStats::default(),
            timer: None,
            timer_gen: 0,
            dirty: true,
        });
        self.dirty.push(id);
        id
    }

    /// Adds a NAT whose public side is on the public internet.
    pub fn add_nat(&mut self, config: NatConfig) -> NatId {
        self.add_nat_in(Realm::Public, config)
    }

    /// Adds a NAT whose public side is behind `outer` (a NAT behind a NAT,
    /// e.g. a home router behind carrier-grade NAT).
    pub fn add_nat_behind(&mut self, outer: NatId, config: NatConfig) -> NatId {
        self.add_nat_in(Realm::Behind(outer), config)
    }

    /// Adds a NAT whose public side lives in `outside`. Panics if its public
    /// IP is already used there.
    pub fn add_nat_in(&mut self, outside: Realm, config: NatConfig) -> NatId {
        self.check_realm(outside);
        let ip = config.public_ip;
        assert!(
            !self
                .addrs
                .keys()
                .any(|&(r, a)| r == outside && a.ip() == ip),
            "NAT public IP {ip} is already a node's IP in {outside:?}"
        );
        let id = NatId(self.nats.len());
        let prev = self.nat_ips.insert((outside, ip), id);
        assert!(
            prev.is_none(),
            "NAT public IP {ip} is already in use in {outside:?}"
        );
        let nat_seed = self
            .seed
            .wrapping_add((id.0 as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        self.nats.push(Nat::new(config, outside, nat_seed));
        id
    }

    fn check_realm(&self, realm: Realm) {
        if let Realm::Behind(nat) = realm {
            assert!(nat.0 < self.nats.len(), "unknown {nat}");
        }
    }

    /// The node's local addresses.
    pub fn node_addrs(&self, id: NodeId) -> &[SocketAddr] {
        &self.nodes[id.0].addrs
    }

    /// The realm the node lives in.
    pub fn node_realm(&self, id: NodeId) -> Realm {
        self.nodes[id.0].realm
    }

    /// The NAT's configuration.
    pub fn nat_config(&self, nat: NatId) -> &NatConfig {
        &self.nats[nat.0].config
    }

    /// Replaces the NAT's configuration mid-run (e.g. a shorter timeout, or
    /// hairpinning off). Its public IP and behaviour cannot change; existing
    /// mappings keep their ports and are judged by the new rules.
    pub fn set_nat_config(&mut self, nat: NatId, config: NatConfig) {
        let n = &mut self.nats[nat.0];
        assert_eq!(
            n.config.public_ip, config.public_ip,
            "a NAT's public IP cannot change"
        );
        assert_eq!(
            n.config.behaviour, config.behaviour,
            "a NAT's behaviour cannot change"
        );
        n.config = config;
    }

    /// Drops all of the NAT's mappings, as a NAT reboot would: hosts behind
    /// it get new public ports on their next outbound datagram (address
    /// mobility, from the far end's point of view).
    pub fn reset_nat(&mut self, nat: NatId) {
        self.nats[nat.0].reset();
    }

    /// The NAT's live mappings, sorted by public port.
    pub fn nat_mappings(&self, nat: NatId) -> Vec<NatMapping> {
        self.nats[nat.0].mappings(self.clock.offset())
    }

    // ---- node access -------------------------------------------------

    /// The node, as its concrete type. Panics if it is not a `T`.
    pub fn node<T: 'static>(&self, id: NodeId) -> &T {
        let n = &self.nodes[id.0].node;
        n.as_any().downcast_ref().unwrap_or_else(|| {
            panic!(
                "{id} is a {}, not a {}",
                n.type_name(),
                std::any::type_name::<T>()
            )
        })
    }

    /// The node, if it is a `T`.
    pub fn try_node<T: 'static>(&self, id: NodeId) -> Option<&T> {
        self.nodes[id.0].node.as_any().downcast_ref()
    }

    /// The node, mutably, as its concrete type. Panics if it is not a `T`.
    /// The node is polled (transmits, then timeout) before the next event.
    pub fn node_mut<T: 'static>(&mut self, id: NodeId) -> &mut T {
        self.mark_dirty(id);
        let n = &mut self.nodes[id.0].node;
        let name = n.type_name();
        n.as_any_mut()
            .downcast_mut()
            .unwrap_or_else(|| panic!("{id} is a {name}, not a {}", std::any::type_name::<T>()))
    }

    /// The node, mutably, if it is a `T`; marks it for polling like [`node_mut`](Self::node_mut).
    pub fn try_node_mut<T: 'static>(&mut self, id: NodeId) -> Option<&mut T> {
        self.mark_dirty(id);
        self.nodes[id.0].node.as_any_mut().downcast_mut()
    }

    /// Runs `f` on the node with the current time, then polls it at once.
    pub fn with_node<T: 'static, R>(
        &mut self,
        id: NodeId,
        f: impl FnOnce(&mut T, Instant) -> R,
    ) -> R {
        let now = self.now();
        let r = f(self.node_mut::<T>(id), now);
        self.flush();
        r
    }

    fn mark_dirty(&mut self, id: NodeId) {
        let slot = &mut self.nodes[id.0];
        if !slot.dirty {
            slot.dirty = true;
            self.dirty.push(id);
        }
    }

    /// Polls every node touched through [`node_mut`](Self::node_mut) (or
    /// newly added) for transmits and its timeout, at the current time.
    pub fn flush(&mut self) {
        let mut i = 0;
        while i < self.dirty.len() {
            let id = self.dirty[i];
            self.nodes[id.0].dirty = false;
            self.after_activity(id);
            i += 1;
        }
        self.dirty.clear();
    }

    // ---- links -------------------------------------------------------

    /// The node's uplink (node → network) parameters.
    pub fn uplink(&self, id: NodeId) -> &LinkConfig {
        &self.nodes[id.0].uplink.config
    }

    /// The node's downlink (network → node) parameters.
    pub fn downlink(&self, id: NodeId) -> &LinkConfig {
        &self.nodes[id.0].downlink.config
    }

    /// Sets the node's uplink; applies to datagrams sent from now on.
    pub fn set_uplink(&mut self, id: NodeId, config: LinkConfig) {
        self.nodes[id.0].uplink.set_config(config);
    }

    /// Sets the node's downlink; applies to datagrams arriving from now on.
    pub fn set_downlink(&mut self, id: NodeId, config: LinkConfig) {
        self.nodes[id.0].downlink.set_config(config);
    }

    /// Sets both directions of the node's link.
    pub fn set_link(&mut self, id: NodeId, config: LinkConfig) {
        self.set_uplink(id, config.clone());
        self.set_downlink(id, config);
    }

    // ---- spoofing ----------------------------------------------------

    /// Puts a datagram with an arbitrary (spoofed) source on the public
    /// internet at the current time, as a hostile host could. It is routed
    /// like any other: through a NAT's filter if `to` is a NAT's public
    /// address, then across the receiver's downlink.
    pub fn inject(&mut self, from: SocketAddr, to: SocketAddr, data: impl Into<Vec<u8>>) {
        self.inject_in(Realm::Public, from, to, data);
    }

    /// Like [`inject`](Self::inject), but the datagram appears inside
    /// `realm` (a hostile host on a private network).
    pub fn inject_in(
        &mut self,
        realm: Realm,
        from: SocketAddr,
        to: SocketAddr,
        data: impl Into<Vec<u8>>,
    ) {
        self.check_realm(realm);
        let data = data.into();
        self.stats.injected_datagrams += 1;
        if self.trace.active() {
            let kind = TraceKind::Inject {
                from,
                to,
                len: data.len(),
            };
            self.trace.record(self.clock.offset(), kind, &data);
        }
        self.route(Packet {
            src: from,
            dst: to,
            realm,
            sender: None,
            data,
        });
    }

    // ---- observation -------------------------------------------------

    /// Totals for the whole simulation.
    pub fn stats(&self) -> &SimStats {
        &self.stats
    }

    /// Totals for one node and its links.
    pub fn node_stats(&self, id: NodeId) -> NodeStats {
        let slot = &self.nodes[id.0];
        NodeStats {
            uplink: slot.uplink.stats,
            downlink: slot.downlink.stats,
            ..slot.stats
        }
    }

    /// Totals for one NAT.
    pub fn nat_stats(&self, nat: NatId) -> NatStats {
        self.nats[nat.0].stats
    }

    /// Datagrams scheduled but not yet delivered or dropped. At any time,
    /// sent + injected + duplicated = delivered + dropped + in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Turns the trace log on (empty) or off (discarded).
    pub fn set_trace(&mut self, on: bool) {
        self.trace.log = on.then(Vec::new);
    }

    /// The trace log so far; empty if tracing is off.
    pub fn trace(&self) -> &[TraceEvent] {
        self.trace.log.as_deref().unwrap_or(&[])
    }

    /// Takes the trace log so far, leaving tracing on with an empty log.
    pub fn take_trace(&mut self) -> Vec<TraceEvent> {
        self.trace
            .log
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Calls `tap` with every trace event and the datagram's bytes.
    pub fn set_tap(&mut self, tap: impl FnMut(&TraceEvent, &[u8]) + 'static) {
        self.trace.tap = Some(Box::new(tap));
    }

    /// Removes the tap.
    pub fn clear_tap(&mut self) {
        self.trace.tap = None;
    }

    // ---- internals ---------------------------------------------------

    /// Drains the node's transmits, then re-reads its timeout.
    fn after_activity(&mut self, id: NodeId) {
        let now = self.clock.instant();
        let mut buf = std::mem::take(&mut self.buf);
        let mut count = 0;
        loop {
            buf.clear();
            let Some(tx) = self.nodes[id.0].node.poll_transmit(now, &mut buf) else {
                break;
            };
            count += 1;
            assert!(
                count <= MAX_TRANSMITS_PER_POLL,
                "{id} produced over {MAX_TRANSMITS_PER_POLL} datagrams in one poll; does poll_transmit ever return None? ({self})"
            );
            self.send_from_node(id, tx, buf.to_vec());
        }
        self.buf = buf;
        self.repoll_timer(id);
    }

    fn repoll_timer(&mut self, id: NodeId) {
        let now = self.clock.offset();
        let want = self.nodes[id.0].node.poll_timeout();
        let want = want.map(|t| self.clock.offset_of(t).max(now));
        let slot = &mut self.nodes[id.0];
        if want != slot.timer {
            slot.timer = want;
            slot.timer_gen += 1;
            if let Some(at) = want {
                self.queue.push(at, Event::Timer(id, slot.timer_gen));
            }
        }
    }

    fn send_from_node(&mut self, id: NodeId, tx: Transmit, data: Vec<u8>) {
        let now = self.clock.offset();
        let slot = &mut self.nodes[id.0];
        let src = tx.source.unwrap_or(slot.addrs[0]);
        let len = data.len();
        slot.stats.sent_datagrams += 1;
        slot.stats.sent_bytes += len as u64;
        self.stats.sent_datagrams += 1;
        self.stats.sent_bytes += len as u64;
        let packet = Packet {
            src,
            dst: tx.destination,
            realm: slot.realm,
            sender: Some(id),
            data,
        };
        if self.trace.active() {
            let kind = TraceKind::Send {
                node: id,
                from: src,
                to: tx.destination,
                len,
            };
            self.trace.record(now, kind, &packet.data);
        }
        if !self.nodes[id.0].addrs.contains(&src) {
            return self.drop_packet(DropReason::BadSource, packet);
        }
        match self.nodes[id.0].uplink.transmit(now, len, &mut self.rng) {
            link::Verdict::Drop(reason) => self.drop_packet(reason, packet),
            link::Verdict::Pass { at, duplicate } => {
                if let Some(dup_at) = duplicate {
                    self.stats.duplicated_datagrams += 1;
                    let copy = packet.duplicate();
                    self.schedule(dup_at, Event::Transit(copy));
                }
                self.schedule(at, Event::Transit(packet));
            }
        }
    }

    /// Queues a datagram event (counted as in flight).
    fn schedule(&mut self, at: Duration, event: Event) {
        self.in_flight += 1;
        self.queue.push(at, event);
    }

    fn drop_packet(&mut self, reason: DropReason, p: Packet) {
        self.stats.drops.add(reason);
        if let Some(id) = p.sender {
            self.nodes[id.0].stats.drops.add(reason);
        }
        if self.trace.active() {
            let kind = TraceKind::Drop {
                reason,
                from: p.src,
                to: p.dst,
                len: p.data.len(),
                sender: p.sender,
            };
            self.trace.record(self.clock.offset(), kind, &p.data);
        }
    }
}

impl Packet {
    fn duplicate(&self) -> Packet {
        Packet {
            data: self.data.clone(),
            ..*self
        }
    }
}

impl fmt::Display for Sim {
    /// `sim seed = N (t = 1.5s)`: put it in assertion messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sim seed = {} (t = {:?})",
            self.seed,
            self.clock.offset()
        )
    }
}

impl fmt::Debug for Sim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sim")
            .field("seed", &self.seed)
            .field("now", &self.clock.offset())
            .field("nodes", &self.nodes.len())
            .field("nats", &self.nats.len())
            .field("in_flight", &self.in_flight)
            .field("stats", &self.stats)
            .finish()
    }
}
