//! Routing: from one realm to the next through NATs, to a node's downlink.

use super::link::Verdict;
use super::{DropReason, Event, NodeId, Packet, Realm, Sim, TraceKind};

/// More realm crossings than this means a routing loop.
const MAX_HOPS: usize = 32;

impl Sim {
    /// Routes a datagram that has just left its sender's uplink (or was
    /// injected), at the current time.
    ///
    /// In the datagram's realm: a node owning the destination gets it; a
    /// NAT whose public IP it is filters and translates it inward; otherwise
    /// inside a NAT it is translated outward (hairpinning if it is for that
    /// NAT's own public IP); on the public internet it has no route.
    pub(super) fn route(&mut self, mut p: Packet) {
        let now = self.clock.offset();
        for _ in 0..MAX_HOPS {
            if let Some(&node) = self.addrs.get(&(p.realm, p.dst)) {
                return self.enter_downlink(node, p);
            }
            if let Some(&nat_id) = self.nat_ips.get(&(p.realm, p.dst.ip())) {
                match self.nats[nat_id.0].inbound(now, p.src, p.dst.port()) {
                    Ok(internal) => {
                        if self.trace.active() {
                            let kind = TraceKind::NatIn {
                                nat: nat_id,
                                from: p.src,
                                to: p.dst,
                                internal,
                            };
                            self.trace.record(now, kind, &p.data);
                        }
                        p.dst = internal;
                        p.realm = Realm::Behind(nat_id);
                        continue;
                    }
                    Err(reason) => return self.drop_packet(reason, p),
                }
            }
            let Realm::Behind(nat_id) = p.realm else {
                return self.drop_packet(DropReason::NoRoute, p);
            };
            let nat = &mut self.nats[nat_id.0];
            if p.dst.ip() == nat.config.public_ip && !nat.config.hairpin {
                nat.stats.dropped_hairpin += 1;
                return self.drop_packet(DropReason::NatHairpin, p);
            }
            let mapped = nat.outbound(now, p.src, p.dst);
            let outside = nat.outside;
            if self.trace.active() {
                let kind = TraceKind::NatOut {
                    nat: nat_id,
                    from: p.src,
                    mapped,
                    to: p.dst,
                };
                self.trace.record(now, kind, &p.data);
            }
            p.src = mapped;
            p.realm = outside;
            let delay = nat.config.wan_delay;
            if !delay.is_zero() {
                // The rest of the way after the NAT's outside link.
                return self.schedule(now + delay, Event::Transit(p));
            }
        }
        self.drop_packet(DropReason::NoRoute, p);
    }

    fn enter_downlink(&mut self, node: NodeId, p: Packet) {
        let now = self.clock.offset();
        match self.nodes[node.0]
            .downlink
            .transmit(now, p.data.len(), &mut self.rng)
        {
            Verdict::Drop(reason) => self.drop_packet(reason, p),
            Verdict::Pass { at, duplicate } => {
                if let Some(dup_at) = duplicate {
                    self.stats.duplicated_datagrams += 1;
                    let copy = p.duplicate();
                    self.schedule(dup_at, Event::Deliver(node, copy));
                }
                self.schedule(at, Event::Deliver(node, p));
            }
        }
    }

    /// Hands a datagram that has left the downlink to its node.
    pub(super) fn deliver(&mut self, node: NodeId, p: Packet) {
        let now = self.clock.offset();
        let len = p.data.len();
        self.stats.delivered_datagrams += 1;
        self.stats.delivered_bytes += len as u64;
        let slot = &mut self.nodes[node.0];
        slot.stats.received_datagrams += 1;
        slot.stats.received_bytes += len as u64;
        if self.trace.active() {
            let kind = TraceKind::Deliver {
                node,
                local: p.dst,
                remote: p.src,
                len,
            };
            self.trace.record(now, kind, &p.data);
        }
        let instant = self.clock.instant();
        self.nodes[node.0]
            .node
            .handle_datagram(instant, p.dst, p.src, &p.data);
        self.after_activity(node);
    }
}
