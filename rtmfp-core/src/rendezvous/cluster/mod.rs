//! A rendezvous cluster: several servers (nodes) sharing their peers,
//! names and streams through a store, so that a peer on one node can be
//! introduced to a peer on another and names resolve on every node.
//!
//! The [`Server`](super::Server) keeps its in-memory registry as the
//! local view (local lookups stay synchronous on the I/O thread) and
//! mirrors every change to a [`ClusterLink`] as a [`ClusterOp`].  The
//! link never blocks: a worker thread owns the store's connections.  A
//! local miss becomes a query ([`ClusterOp::FindPeer`],
//! [`ClusterOp::FindName`]) whose answer the worker posts back to the
//! server layer ([`Server::cluster_peer_found`](super::Server::cluster_peer_found),
//! [`Server::cluster_name_found`](super::Server::cluster_name_found)); the
//! server drops an unanswered query after [`QUERY_TIMEOUT`].
//!
//! Cross-node introduction (RFC 7016 §3.5.1.1.1 and §3.5.1.5-6): node A,
//! asked by an IHello for a peer held by node B, answers the initiator
//! with a Redirect to the target's addresses from the store, and asks B
//! ([`ClusterOp::Introduce`]) to send its peer a Forwarded IHello with the
//! initiator's address, so that the target's RHello opens its NAT
//! towards the initiator, as a one-node introduction does.
//!
//! With the `cluster` feature, [`redis`] is the Redis implementation and
//! [`redirector`] the load-balancing redirector.

pub mod record;
#[cfg(feature = "cluster")]
pub mod redirector;
#[cfg(feature = "cluster")]
pub mod redis;
#[cfg(feature = "cluster")]
mod upstream;

use crate::crypto::PeerId;
use std::net::SocketAddr;
use std::time::Duration;

pub use record::{NodeRecord, RemotePeer};

/// How long the server waits for the store to answer a query before it
/// gives up (the IHello goes unanswered and is retransmitted by its
/// initiator; a `lookupName` fails).
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(2);

/// A change or a question the server sends to the cluster store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterOp {
    /// A peer connected here, or its addresses changed.
    PeerUp {
        /// Its peer ID.
        peer: PeerId,
        /// Its address as this node sees it.
        observed: SocketAddr,
        /// Its `setPeerInfo` addresses (RFC 7425 §5.3.3).
        addresses: Vec<SocketAddr>,
    },
    /// A peer left this node (with its names).
    PeerDown {
        /// Its peer ID.
        peer: PeerId,
    },
    /// A peer here registered a name.
    Name {
        /// The name.
        name: String,
        /// The peer.
        peer: PeerId,
    },
    /// A stream is published through this node.
    StreamUp {
        /// The stream name.
        name: String,
    },
    /// A stream stopped being published through this node.
    StreamDown {
        /// The stream name.
        name: String,
    },
    /// How many clients this node has (its load, for the redirector).
    Load {
        /// Connected clients.
        clients: u64,
    },
    /// Where is this peer?  Answered with
    /// [`Server::cluster_peer_found`](super::Server::cluster_peer_found).
    FindPeer {
        /// The server's query number.
        query: u64,
        /// The peer.
        peer: PeerId,
    },
    /// May `peer` hold `name`?  The store takes it for the peer unless
    /// another holds it; answered with
    /// [`Server::cluster_name_claimed`](super::Server::cluster_name_claimed).
    ClaimName {
        /// The server's query number.
        query: u64,
        /// The name.
        name: String,
        /// The peer asking for it.
        peer: PeerId,
    },
    /// Who holds this name?  Answered with
    /// [`Server::cluster_name_found`](super::Server::cluster_name_found).
    FindName {
        /// The server's query number.
        query: u64,
        /// The name.
        name: String,
    },
    /// A local player waits for stream `name`: play it from the node it
    /// is published through, as a client of that node's app `app`, and
    /// relay it here (`upstream.rs`).
    Upstream {
        /// The stream name.
        name: String,
        /// The app (and developer key) local players connected to.
        app: String,
    },
    /// No local player wants stream `name` from another node any more.
    UpstreamStop {
        /// The stream name.
        name: String,
    },
    /// Ask `node` to send its peer `target` a Forwarded IHello
    /// (RFC 7016 §3.5.1.5) for the initiator at `from`.
    Introduce {
        /// The node holding the target.
        node: String,
        /// The target peer.
        target: PeerId,
        /// The initiator's IHello EPD.
        epd: Vec<u8>,
        /// The initiator's IHello tag.
        tag: Vec<u8>,
        /// The initiator's observed address.
        from: SocketAddr,
    },
}

/// The server's side of a cluster store.  Implementations must not
/// block: [`ClusterLink::send`] runs on the I/O thread.
pub trait ClusterLink: Send {
    /// This node's name in the cluster.
    fn node(&self) -> &str;
    /// Queues `op` for the store.  A full queue drops it (queries then
    /// time out).
    fn send(&mut self, op: ClusterOp);
}

#[cfg(test)]
mod tests;
