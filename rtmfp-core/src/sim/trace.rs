//! The trace log and tap: what happened to every datagram, for assertions.

use std::net::SocketAddr;
use std::time::Duration;

use super::{DropReason, NatId, NodeId};

/// One thing that happened in the simulation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceEvent {
    /// Virtual time since the sim started.
    pub at: Duration,
    /// What happened.
    pub kind: TraceKind,
}

/// The kinds of [`TraceEvent`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TraceKind {
    /// A node produced a datagram.
    Send {
        /// The sender.
        node: NodeId,
        /// Its local (source) address.
        from: SocketAddr,
        /// The destination.
        to: SocketAddr,
        /// Length in bytes.
        len: usize,
    },
    /// A datagram entered through [`Sim::inject`](super::Sim::inject).
    Inject {
        /// The (possibly spoofed) source.
        from: SocketAddr,
        /// The destination.
        to: SocketAddr,
        /// Length in bytes.
        len: usize,
    },
    /// A NAT translated a datagram's source on the way out.
    NatOut {
        /// The NAT.
        nat: NatId,
        /// The inside source.
        from: SocketAddr,
        /// The public source it became.
        mapped: SocketAddr,
        /// The destination.
        to: SocketAddr,
    },
    /// A NAT let a datagram in and translated its destination.
    NatIn {
        /// The NAT.
        nat: NatId,
        /// The outside source.
        from: SocketAddr,
        /// The public destination.
        to: SocketAddr,
        /// The inside destination it became.
        internal: SocketAddr,
    },
    /// A datagram was handed to a node.
    Deliver {
        /// The receiver.
        node: NodeId,
        /// The receiver's local address.
        local: SocketAddr,
        /// The source the receiver sees.
        remote: SocketAddr,
        /// Length in bytes.
        len: usize,
    },
    /// A datagram was dropped.
    Drop {
        /// Why.
        reason: DropReason,
        /// Its source at that point (after any translation).
        from: SocketAddr,
        /// Its destination at that point.
        to: SocketAddr,
        /// Length in bytes.
        len: usize,
        /// The node that sent it; `None` for injected datagrams.
        sender: Option<NodeId>,
    },
    /// A node's `handle_timeout` was called.
    Timeout {
        /// The node.
        node: NodeId,
    },
}

/// A closure that sees every [`TraceEvent`] with the datagram's bytes
/// (empty for [`TraceKind::Timeout`]).
pub type Tap = Box<dyn FnMut(&TraceEvent, &[u8])>;

/// The optional log and tap. Both off costs one branch per event.
#[derive(Default)]
pub(crate) struct Trace {
    pub(crate) log: Option<Vec<TraceEvent>>,
    pub(crate) tap: Option<Tap>,
}

impl Trace {
    pub(crate) fn active(&self) -> bool {
        self.log.is_some() || self.tap.is_some()
    }

    pub(crate) fn record(&mut self, at: Duration, kind: TraceKind, bytes: &[u8]) {
        let event = TraceEvent { at, kind };
        if let Some(tap) = &mut self.tap {
            tap(&event, bytes);
        }
        if let Some(log) = &mut self.log {
            log.push(event);
        }
    }
}
