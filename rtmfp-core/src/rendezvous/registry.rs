//! The registry of connected peers and of the names they registered,
//! behind a trait so that a deployment can keep it elsewhere.

use crate::crypto::PeerId;
use crate::endpoint::SessionHandle;
use std::collections::HashMap;
use std::net::SocketAddr;

/// What the introducer knows of one connected peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerRecord {
    /// Its peer ID.
    pub peer_id: PeerId,
    /// Its session with the server.
    pub session: SessionHandle,
    /// The session's far address as the server sees it (its public
    /// address behind a NAT).
    pub observed: SocketAddr,
    /// The addresses it sent in `setPeerInfo` (RFC 7425 §5.3.3).
    pub addresses: Vec<SocketAddr>,
}

/// Why a name cannot be registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameError {
    /// Another peer holds it.
    Taken,
    /// Empty or too long (over 256 bytes).
    Invalid,
}

/// Where the server keeps peers and names.  The default,
/// [`MemoryRegistry`], is in memory.
pub trait PeerRegistry: Send {
    /// Adds or replaces a peer.
    fn register(&mut self, record: PeerRecord);
    /// Removes a peer if it is still registered for `session` (a newer
    /// session of the same identity stays), with its names.
    fn unregister(&mut self, peer: &PeerId, session: SessionHandle);
    /// A peer's record.
    fn lookup(&self, peer: &PeerId) -> Option<PeerRecord>;
    /// Replaces a peer's `setPeerInfo` addresses.
    fn set_addresses(&mut self, peer: &PeerId, addresses: Vec<SocketAddr>);
    /// Updates a peer's observed address (after a NAT rebinding).
    fn set_observed(&mut self, peer: &PeerId, observed: SocketAddr);
    /// Gives `name` to `peer`; a peer may hold several names and may
    /// register one it already holds again.
    fn register_name(&mut self, name: &str, peer: &PeerId) -> Result<(), NameError>;
    /// The peer holding `name`.
    fn lookup_name(&self, name: &str) -> Option<PeerId>;
    /// Every registered peer.
    fn peers(&self) -> Vec<PeerRecord>;
}

/// The in-memory registry.
#[derive(Debug, Default)]
pub struct MemoryRegistry {
    peers: HashMap<PeerId, PeerRecord>,
    names: HashMap<String, PeerId>,
}

impl MemoryRegistry {
    /// An empty registry.
    pub fn new() -> MemoryRegistry {
        MemoryRegistry::default()
    }
}

impl PeerRegistry for MemoryRegistry {
    fn register(&mut self, record: PeerRecord) {
        self.peers.insert(record.peer_id, record);
    }

    fn unregister(&mut self, peer: &PeerId, session: SessionHandle) {
        if self.peers.get(peer).is_some_and(|r| r.session == session) {
            self.peers.remove(peer);
            self.names.retain(|_, p| p != peer);
        }
    }

    fn lookup(&self, peer: &PeerId) -> Option<PeerRecord> {
        self.peers.get(peer).cloned()
    }

    fn set_addresses(&mut self, peer: &PeerId, addresses: Vec<SocketAddr>) {
        if let Some(r) = self.peers.get_mut(peer) {
            r.addresses = addresses;
        }
    }

    fn set_observed(&mut self, peer: &PeerId, observed: SocketAddr) {
        if let Some(r) = self.peers.get_mut(peer) {
            r.observed = observed;
        }
    }

    fn register_name(&mut self, name: &str, peer: &PeerId) -> Result<(), NameError> {
        if name.is_empty() || name.len() > 256 {
            return Err(NameError::Invalid);
        }
        match self.names.get(name) {
            Some(holder) if holder != peer => Err(NameError::Taken),
            _ => {
                self.names.insert(name.to_owned(), *peer);
                Ok(())
            }
        }
    }

    fn lookup_name(&self, name: &str) -> Option<PeerId> {
        self.names.get(name).copied()
    }

    fn peers(&self) -> Vec<PeerRecord> {
        self.peers.values().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_their_peer() {
        let mut r = MemoryRegistry::new();
        let (a, b) = ([1u8; 32], [2u8; 32]);
        let rec = |peer_id, s| PeerRecord {
            peer_id,
            session: SessionHandle(s),
            observed: "192.0.2.1:1".parse().unwrap(),
            addresses: vec![],
        };
        r.register(rec(a, 1));
        r.register(rec(b, 2));
        assert_eq!(r.register_name("alice", &a), Ok(()));
        assert_eq!(r.register_name("alice", &a), Ok(()));
        assert_eq!(r.register_name("alice", &b), Err(NameError::Taken));
        assert_eq!(r.register_name("", &b), Err(NameError::Invalid));
        assert_eq!(r.lookup_name("alice"), Some(a));
        // A stale session does not unregister a newer one.
        r.unregister(&a, SessionHandle(9));
        assert!(r.lookup(&a).is_some());
        r.unregister(&a, SessionHandle(1));
        assert!(r.lookup(&a).is_none());
        assert_eq!(r.lookup_name("alice"), None);
        assert_eq!(r.peers().len(), 1);
    }
}
