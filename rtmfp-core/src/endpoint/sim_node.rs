//! Lets the deterministic simulator drive an [`Endpoint`].

use super::Endpoint;
use crate::sim::{SimNode, Transmit};
use std::net::SocketAddr;
use std::time::Instant;

impl SimNode for Endpoint {
    fn handle_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        data: &[u8],
    ) {
        Endpoint::handle_datagram(self, now, local, remote, data);
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<Transmit> {
        Endpoint::poll_transmit(self, now, buf).map(|t| Transmit::to(t.destination))
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        Endpoint::poll_timeout(self)
    }

    fn handle_timeout(&mut self, now: Instant) {
        Endpoint::handle_timeout(self, now);
    }
}
