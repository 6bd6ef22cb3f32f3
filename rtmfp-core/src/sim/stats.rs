//! Counters: why datagrams were dropped, and per-simulation and per-node totals.

use std::fmt;

use super::link::LinkStats;

/// Why the simulator dropped a datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DropReason {
    /// Random loss on a link ([`LinkConfig::loss`](super::LinkConfig::loss)).
    Loss,
    /// A bandwidth-limited link's queue was full (tail drop).
    QueueFull,
    /// Larger than the link's [`mtu`](super::LinkConfig::mtu).
    Mtu,
    /// Sent to a NAT's public address on a port with no live mapping
    /// (never created, or expired).
    NatNoMapping,
    /// A NAT mapping exists but its filter refuses this source.
    NatFiltered,
    /// Sent from behind a NAT to that NAT's own public address, and the NAT
    /// does not hairpin.
    NatHairpin,
    /// No node or NAT owns the destination address in this network.
    NoRoute,
    /// A node sent from a local address it does not own.
    BadSource,
}

impl DropReason {
    /// Every reason, in declaration order.
    pub const ALL: [DropReason; 8] = [
        DropReason::Loss,
        DropReason::QueueFull,
        DropReason::Mtu,
        DropReason::NatNoMapping,
        DropReason::NatFiltered,
        DropReason::NatHairpin,
        DropReason::NoRoute,
        DropReason::BadSource,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            DropReason::Loss => "loss",
            DropReason::QueueFull => "queue full",
            DropReason::Mtu => "over mtu",
            DropReason::NatNoMapping => "no nat mapping",
            DropReason::NatFiltered => "nat filtered",
            DropReason::NatHairpin => "nat does not hairpin",
            DropReason::NoRoute => "no route",
            DropReason::BadSource => "bad source address",
        };
        f.write_str(s)
    }
}

/// Dropped datagrams, counted by [`DropReason`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DropCounts([u64; DropReason::ALL.len()]);

impl DropCounts {
    /// Drops for one reason.
    pub fn get(&self, reason: DropReason) -> u64 {
        self.0[reason.index()]
    }

    /// Drops for all reasons.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    pub(crate) fn add(&mut self, reason: DropReason) {
        self.0[reason.index()] += 1;
    }
}

impl fmt::Display for DropCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for r in DropReason::ALL {
            let n = self.get(r);
            if n > 0 {
                write!(f, "{}{r}: {n}", if first { "" } else { ", " })?;
                first = false;
            }
        }
        if first {
            f.write_str("none")?;
        }
        Ok(())
    }
}

/// Totals for a whole simulation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Datagrams produced by nodes' `poll_transmit`.
    pub sent_datagrams: u64,
    /// Bytes in those datagrams.
    pub sent_bytes: u64,
    /// Datagrams entered with [`Sim::inject`](super::Sim::inject).
    pub injected_datagrams: u64,
    /// Extra copies made by link duplication.
    pub duplicated_datagrams: u64,
    /// Datagrams handed to a node's `handle_datagram`.
    pub delivered_datagrams: u64,
    /// Bytes in those datagrams.
    pub delivered_bytes: u64,
    /// Calls to a node's `handle_timeout`.
    pub timeouts: u64,
    /// Events processed (deliveries and timeouts; transit hops included).
    pub steps: u64,
    /// Dropped datagrams by reason.
    pub drops: DropCounts,
}

/// Totals for one node and its two links.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeStats {
    /// Datagrams the node sent.
    pub sent_datagrams: u64,
    /// Bytes the node sent.
    pub sent_bytes: u64,
    /// Datagrams delivered to the node.
    pub received_datagrams: u64,
    /// Bytes delivered to the node.
    pub received_bytes: u64,
    /// Calls to the node's `handle_timeout`.
    pub timeouts: u64,
    /// Datagrams *sent by this node* that were dropped anywhere, by reason.
    pub drops: DropCounts,
    /// The node's uplink (node → network).
    pub uplink: LinkStats,
    /// The node's downlink (network → node).
    pub downlink: LinkStats,
}
