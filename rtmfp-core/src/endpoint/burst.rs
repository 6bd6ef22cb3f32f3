//! A session's turn to send is a short burst: the endpoint asks the
//! chosen session for up to [`BURST`] datagrams at once and hands them
//! out one per [`Endpoint::poll_transmit`](super::Endpoint::poll_transmit).
//!
//! Building them together lets the session encrypt them together (the
//! Flash profile runs their CBC chains side by side, several times faster
//! with AES-NI than one after the other: a relayed video frame is a few
//! packets to each player).  The order on the wire hardly changes: the
//! driver already sends each destination's datagrams of a batch next to
//! each other (GSO), and a burst is at most [`BURST`] datagrams, which
//! the RFC 7016 §3.5.2.3 limit of six data packets between
//! acknowledgements bounds anyway.  Round-robin among the sessions of the
//! highest rank goes on from burst to burst.

use std::net::SocketAddr;

/// The most datagrams one session builds in one turn: AES-NI's parallel
/// blocks.
pub const BURST: usize = 8;

/// The datagrams of the current burst and their buffers.  Buffers are
/// swapped with the caller's, never allocated per datagram.
#[derive(Debug)]
pub(super) struct Burst {
    /// Plain packets being built, one per datagram.
    pub plains: Vec<Vec<u8>>,
    /// The encrypted datagrams; those after `next` wait to be handed out.
    pub outs: Vec<Vec<u8>>,
    /// Each datagram's destination and whether it was Time Critical.
    pub sent: Vec<(SocketAddr, bool)>,
    /// The next datagram to hand out.
    next: usize,
}

impl Default for Burst {
    fn default() -> Self {
        Burst {
            plains: vec![Vec::new(); BURST],
            outs: vec![Vec::new(); BURST],
            sent: Vec::with_capacity(BURST),
            next: 0,
        }
    }
}

impl Burst {
    /// Whether datagrams of the last burst wait to be handed out.
    pub fn is_empty(&self) -> bool {
        self.next >= self.sent.len()
    }

    /// Makes room for a new burst (the last one must be handed out).
    pub fn start(&mut self) {
        debug_assert!(self.is_empty());
        self.sent.clear();
        self.next = 0;
    }

    /// Hands out the next datagram into `buf` (its old buffer stays here
    /// for a later burst); returns its destination.
    pub fn pop(&mut self, buf: &mut Vec<u8>) -> Option<SocketAddr> {
        let (destination, _) = *self.sent.get(self.next)?;
        std::mem::swap(buf, &mut self.outs[self.next]);
        self.next += 1;
        Some(destination)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datagrams_are_handed_out_in_order_by_swapping_buffers() {
        let mut b = Burst::default();
        assert!(b.is_empty());
        b.start();
        let to = |port| SocketAddr::from(([127, 0, 0, 1], port));
        for (i, port) in [1, 2, 3].into_iter().enumerate() {
            b.outs[i] = vec![port as u8; 4];
            b.sent.push((to(port), false));
        }
        let mut buf = Vec::with_capacity(2048);
        let mut got = Vec::new();
        while let Some(d) = b.pop(&mut buf) {
            got.push((d.port(), buf[0]));
        }
        assert_eq!(got, [(1, 1), (2, 2), (3, 3)]);
        assert!(b.is_empty());
        // The caller's buffer went into the burst's room.
        assert!(b.outs[..3].iter().any(|o| o.capacity() >= 2048));
    }
}
