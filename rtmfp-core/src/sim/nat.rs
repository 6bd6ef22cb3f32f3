//! NAT boxes with RFC 4787 mapping and filtering behaviour.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{DropReason, Realm};

/// How a NAT maps and filters (RFC 4787 §4.1 and §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NatBehaviour {
    /// Endpoint-independent mapping and filtering: once an internal
    /// ip:port has a mapping, anyone may send to it.
    FullCone,
    /// Endpoint-independent mapping, address-dependent filtering: inbound
    /// is allowed from any port of an IP the inside host has sent to.
    AddressRestricted,
    /// Endpoint-independent mapping, address-and-port-dependent filtering:
    /// inbound is allowed only from exact ip:ports the inside host has sent to.
    PortRestricted,
    /// Address-and-port-dependent mapping (a new public port per destination
    /// ip:port, drawn from the seeded RNG) and address-and-port-dependent
    /// filtering.
    Symmetric,
}

/// Configuration of a NAT box.
///
/// Mappings and filter permissions expire after
/// [`mapping_timeout`](Self::mapping_timeout) without outbound traffic.
/// Outbound traffic always refreshes them (RFC 4787 REQ-6); inbound traffic
/// refreshes them only if [`inbound_refresh`](Self::inbound_refresh) is set.
/// Each destination a mapping has sent to holds its own permission with its
/// own timer, like a conntrack entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NatConfig {
    /// The NAT's outside address. Every mapping uses this IP.
    pub public_ip: IpAddr,
    /// Mapping and filtering behaviour.
    pub behaviour: NatBehaviour,
    /// Idle time after which a mapping (or a permission) expires.
    pub mapping_timeout: Duration,
    /// Whether a host inside may reach another inside host through the
    /// NAT's public address (RFC 4787 §6). If not, such datagrams are
    /// dropped as [`DropReason::NatHairpin`].
    pub hairpin: bool,
    /// Whether permitted inbound traffic also refreshes the mapping.
    pub inbound_refresh: bool,
    /// The first public port handed out by the cone behaviours, which
    /// allocate sequentially from here (wrapping within 1024..=65535).
    pub first_port: u16,
    /// Model a Linux router with no input filter (iptables MASQUERADE and
    /// nothing in INPUT): an unsolicited inbound datagram is not only
    /// dropped, it leaves a conntrack entry of the router itself (the kernel
    /// confirms it on local delivery and answers ICMP port unreachable).
    /// While that entry lives, datagrams from the same source to the same
    /// public port keep landing on it, and an outbound datagram whose
    /// translation would be its reverse gets another public port, for that
    /// destination only.  See docs/nat.md.  Off by default: a router with
    /// an input filter drops the datagram before conntrack confirms it.
    pub confirm_unsolicited: bool,
    /// How long such an entry lives without a datagram matching it (Linux
    /// `nf_conntrack_udp_timeout`, 30 s).
    pub unsolicited_timeout: Duration,
    /// Delay on the NAT's outside link, after translation (like netem on
    /// a router's wan egress): what separates two NATs whose clients
    /// reach each other.  Zero by default: translation and arrival at the
    /// next NAT happen at the same instant.
    pub wan_delay: Duration,
}

impl NatConfig {
    /// A NAT with a 120 s mapping timeout (RFC 4787 REQ-5), hairpinning
    /// (REQ-9), outbound-only refresh and ports from 40000.
    pub fn new(public_ip: impl Into<IpAddr>, behaviour: NatBehaviour) -> Self {
        NatConfig {
            public_ip: public_ip.into(),
            behaviour,
            mapping_timeout: Duration::from_secs(120),
            hairpin: true,
            inbound_refresh: false,
            first_port: 40000,
            confirm_unsolicited: false,
            unsolicited_timeout: Duration::from_secs(30),
            wan_delay: Duration::ZERO,
        }
    }

    /// Sets [`wan_delay`](Self::wan_delay).
    pub fn with_wan_delay(mut self, delay: Duration) -> Self {
        self.wan_delay = delay;
        self
    }

    /// Sets [`confirm_unsolicited`](Self::confirm_unsolicited).
    pub fn with_confirm_unsolicited(mut self, confirm: bool) -> Self {
        self.confirm_unsolicited = confirm;
        self
    }

    /// Sets [`mapping_timeout`](Self::mapping_timeout).
    pub fn with_mapping_timeout(mut self, timeout: Duration) -> Self {
        self.mapping_timeout = timeout;
        self
    }

    /// Sets [`hairpin`](Self::hairpin).
    pub fn with_hairpin(mut self, hairpin: bool) -> Self {
        self.hairpin = hairpin;
        self
    }

    /// Sets [`inbound_refresh`](Self::inbound_refresh).
    pub fn with_inbound_refresh(mut self, refresh: bool) -> Self {
        self.inbound_refresh = refresh;
        self
    }

    /// Sets [`first_port`](Self::first_port).
    pub fn with_first_port(mut self, port: u16) -> Self {
        self.first_port = port;
        self
    }
}

/// Identifies a NAT within one [`Sim`](super::Sim).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NatId(pub(crate) usize);

impl NatId {
    /// The NAT's index, in the order NATs were added (from 0).
    pub fn index(self) -> usize {
        self.0
    }
}

impl fmt::Display for NatId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "nat#{}", self.0)
    }
}

/// A live mapping, as listed by [`Sim::nat_mappings`](super::Sim::nat_mappings).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NatMapping {
    /// The inside host's address.
    pub internal: SocketAddr,
    /// The public address it is mapped to.
    pub external: SocketAddr,
    /// For symmetric NATs, the one destination this mapping is for.
    pub remote: Option<SocketAddr>,
    /// Virtual time (since the sim started) at which it expires if idle.
    pub expires: Duration,
}

/// Counters for one NAT.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NatStats {
    /// Datagrams translated on the way out.
    pub outbound: u64,
    /// Datagrams translated on the way in.
    pub inbound: u64,
    /// Mappings created.
    pub mappings_created: u64,
    /// Mappings found expired (and removed).
    pub mappings_expired: u64,
    /// Inbound datagrams dropped for lack of a mapping.
    pub dropped_no_mapping: u64,
    /// Inbound datagrams dropped by the filter.
    pub dropped_filtered: u64,
    /// Hairpin datagrams dropped.
    pub dropped_hairpin: u64,
    /// Unsolicited inbound datagrams that left an entry of their own
    /// ([`NatConfig::confirm_unsolicited`]).
    pub confirmed_unsolicited: u64,
    /// Outbound datagrams given another public port because such an entry
    /// held the reverse of their usual translation.
    pub clash_remaps: u64,
}

/// (internal address, destination for symmetric mappings).
type Key = (SocketAddr, Option<SocketAddr>);

#[derive(Debug)]
struct Entry {
    key: Key,
    last_active: Duration,
    /// Destination → last outbound time to it.
    permits: HashMap<SocketAddr, Duration>,
}

/// A NAT's config plus its mapping table.
#[derive(Debug)]
pub(crate) struct Nat {
    pub(crate) config: NatConfig,
    /// The network the public side lives in.
    pub(crate) outside: Realm,
    pub(crate) stats: NatStats,
    rng: StdRng,
    by_port: HashMap<u16, Entry>,
    by_key: HashMap<Key, u16>,
    next_port: u16,
    /// (remote, public port) of confirmed unsolicited datagrams → last seen.
    unsolicited: HashMap<(SocketAddr, u16), Duration>,
}

const MIN_PORT: u16 = 1024;

impl Nat {
    pub(crate) fn new(config: NatConfig, outside: Realm, seed: u64) -> Self {
        let next_port = config.first_port.max(MIN_PORT);
        Nat {
            config,
            outside,
            stats: NatStats::default(),
            rng: StdRng::seed_from_u64(seed),
            by_port: HashMap::new(),
            by_key: HashMap::new(),
            next_port,
            unsolicited: HashMap::new(),
        }
    }

    fn alive(&self, since: Duration, now: Duration) -> bool {
        now < since + self.config.mapping_timeout
    }

    /// Removes the mapping on `port` if it has expired; true if the port is free.
    fn reap(&mut self, port: u16, now: Duration) -> bool {
        let Some(e) = self.by_port.get(&port) else {
            return true;
        };
        if self.alive(e.last_active, now) {
            return false;
        }
        let key = e.key;
        self.by_port.remove(&port);
        self.by_key.remove(&key);
        self.stats.mappings_expired += 1;
        true
    }

    fn allocate(&mut self, now: Duration) -> u16 {
        let span = u32::from(u16::MAX - MIN_PORT) + 1;
        for _ in 0..span {
            let port = if self.config.behaviour == NatBehaviour::Symmetric {
                self.rng.random_range(MIN_PORT..=u16::MAX)
            } else {
                let p = self.next_port;
                self.next_port = if p == u16::MAX { MIN_PORT } else { p + 1 };
                p
            };
            if self.reap(port, now) {
                return port;
            }
        }
        panic!("NAT {} ran out of ports", self.config.public_ip);
    }

    /// Translates an outbound datagram's source; creates or refreshes the mapping.
    pub(crate) fn outbound(
        &mut self,
        now: Duration,
        internal: SocketAddr,
        dst: SocketAddr,
    ) -> SocketAddr {
        let symmetric = self.config.behaviour == NatBehaviour::Symmetric;
        let remote = symmetric.then_some(dst);
        let clashing = self.config.confirm_unsolicited && !symmetric;
        // A destination already moved to a port of its own by a clash.
        let moved = (internal, Some(dst));
        let mut port = match self.by_key.get(&moved).copied() {
            Some(port) if clashing && !self.reap(port, now) => port,
            _ => self.ensure((internal, remote), now),
        };
        if clashing && self.unsolicited_live(dst, port, now) {
            // Linux: the reply tuple (dst -> public:port) is taken by the
            // router's own entry; this flow alone gets another port.
            self.stats.clash_remaps += 1;
            port = self.ensure(moved, now);
        }
        let e = self.by_port.get_mut(&port).expect("mapping just ensured");
        e.last_active = now;
        e.permits.insert(dst, now);
        self.stats.outbound += 1;
        SocketAddr::new(self.config.public_ip, port)
    }

    /// The live mapping for `key`, created if there is none.
    fn ensure(&mut self, key: Key, now: Duration) -> u16 {
        match self.by_key.get(&key).copied() {
            Some(port) if !self.reap(port, now) => port,
            _ => {
                let port = self.allocate(now);
                self.stats.mappings_created += 1;
                self.by_key.insert(key, port);
                self.by_port.insert(
                    port,
                    Entry {
                        key,
                        last_active: now,
                        permits: HashMap::new(),
                    },
                );
                port
            }
        }
    }

    /// Whether a confirmed unsolicited entry (`remote` -> `port`) is alive.
    fn unsolicited_live(&mut self, remote: SocketAddr, port: u16, now: Duration) -> bool {
        let timeout = self.config.unsolicited_timeout;
        match self.unsolicited.get(&(remote, port)) {
            Some(&seen) if now < seen + timeout => true,
            Some(_) => {
                self.unsolicited.remove(&(remote, port));
                false
            }
            None => false,
        }
    }

    /// Drops an unsolicited inbound datagram, leaving (or refreshing) an
    /// entry for it when the NAT confirms those.
    fn refuse(
        &mut self,
        now: Duration,
        src: SocketAddr,
        port: u16,
        reason: DropReason,
    ) -> DropReason {
        if self.config.confirm_unsolicited && self.unsolicited.insert((src, port), now).is_none() {
            self.stats.confirmed_unsolicited += 1;
        }
        reason
    }

    /// Filters and translates an inbound datagram from `src` to public `port`.
    pub(crate) fn inbound(
        &mut self,
        now: Duration,
        src: SocketAddr,
        port: u16,
    ) -> Result<SocketAddr, DropReason> {
        if self.config.confirm_unsolicited && self.unsolicited_live(src, port, now) {
            // It lands on the router's own entry, as the first one did.
            self.unsolicited.insert((src, port), now);
            self.stats.dropped_filtered += 1;
            return Err(DropReason::NatFiltered);
        }
        if self.reap(port, now) {
            self.stats.dropped_no_mapping += 1;
            return Err(self.refuse(now, src, port, DropReason::NatNoMapping));
        }
        let timeout = self.config.mapping_timeout;
        let refresh = self.config.inbound_refresh;
        let behaviour = self.config.behaviour;
        let e = self.by_port.get_mut(&port).expect("live mapping");
        let live = |t: &Duration| now < *t + timeout;
        let allowed = match behaviour {
            NatBehaviour::FullCone => true,
            NatBehaviour::AddressRestricted => {
                e.permits.iter().any(|(r, t)| r.ip() == src.ip() && live(t))
            }
            NatBehaviour::PortRestricted | NatBehaviour::Symmetric => {
                e.permits.get(&src).is_some_and(live)
            }
        };
        if !allowed {
            self.stats.dropped_filtered += 1;
            return Err(self.refuse(now, src, port, DropReason::NatFiltered));
        }
        if refresh {
            e.last_active = now;
            if let Some(t) = e.permits.get_mut(&src) {
                *t = now;
            }
        }
        self.stats.inbound += 1;
        Ok(e.key.0)
    }

    /// Forgets every mapping, as a reboot would. The port counter and RNG
    /// carry on, so new mappings get new ports.
    pub(crate) fn reset(&mut self) {
        self.by_port.clear();
        self.by_key.clear();
        self.unsolicited.clear();
    }

    /// Live mappings, sorted by public port.
    pub(crate) fn mappings(&self, now: Duration) -> Vec<NatMapping> {
        let mut v: Vec<NatMapping> = self
            .by_port
            .iter()
            .filter(|(_, e)| self.alive(e.last_active, now))
            .map(|(&port, e)| NatMapping {
                internal: e.key.0,
                external: SocketAddr::new(self.config.public_ip, port),
                remote: e.key.1,
                expires: e.last_active + self.config.mapping_timeout,
            })
            .collect();
        v.sort_by_key(|m| m.external.port());
        v
    }
}
