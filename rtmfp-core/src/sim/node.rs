//! The seam between the simulator and the sans-IO endpoints it drives.

use std::any::Any;
use std::fmt;
use std::net::SocketAddr;
use std::time::Instant;

/// A sans-IO endpoint that the simulator can drive.
///
/// The simulator never reads the real clock: every `now` it passes is its
/// virtual time. After each call to [`handle_datagram`](Self::handle_datagram)
/// or [`handle_timeout`](Self::handle_timeout), and whenever a test has had
/// mutable access to the node, the simulator calls
/// [`poll_transmit`](Self::poll_transmit) until it returns `None`, then asks
/// [`poll_timeout`](Self::poll_timeout) once.
pub trait SimNode {
    /// A datagram arrived on local address `local` from `remote`.
    fn handle_datagram(&mut self, now: Instant, local: SocketAddr, remote: SocketAddr, data: &[u8]);

    /// The next datagram to send, or `None` when there is nothing to send.
    ///
    /// The *caller* clears `buf` before every call; the node appends the
    /// datagram's bytes to it (`buf.extend_from_slice(..)`). The datagram is
    /// `buf[..]` after the call.
    fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<Transmit>;

    /// When the node next wants [`handle_timeout`](Self::handle_timeout),
    /// or `None` for never. A time in the past fires at the current time,
    /// so a node that keeps asking for a time that has come without
    /// advancing it spins (until the run's step limit stops it).
    fn poll_timeout(&mut self) -> Option<Instant>;

    /// The time returned by [`poll_timeout`](Self::poll_timeout) has come.
    fn handle_timeout(&mut self, now: Instant);
}

/// Where a datagram produced by [`SimNode::poll_transmit`] goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Transmit {
    /// The address the datagram is sent to.
    pub destination: SocketAddr,
    /// The local address it is sent from; `None` means the node's first
    /// address. An address the node does not own is dropped as
    /// [`DropReason::BadSource`](super::DropReason::BadSource).
    pub source: Option<SocketAddr>,
}

impl Transmit {
    /// A transmit to `destination` from the node's first address.
    pub fn to(destination: SocketAddr) -> Self {
        Transmit {
            destination,
            source: None,
        }
    }
}

/// Identifies a node within one [`Sim`](super::Sim).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub(crate) usize);

impl NodeId {
    /// The node's index, in the order nodes were added (from 0).
    pub fn index(self) -> usize {
        self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node#{}", self.0)
    }
}

/// A [`SimNode`] that can also be downcast to its concrete type.
pub(crate) trait AnyNode: SimNode {
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
    fn type_name(&self) -> &'static str;
}

impl<T: SimNode + Any> AnyNode for T {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
    fn type_name(&self) -> &'static str {
        std::any::type_name::<T>()
    }
}
