//! The introducer (RFC 7016 §3.5.1.6, RFC 7425 §5.4.1).
//!
//! A peer that wants a session with another peer sends its IHello, whose
//! EPD is a Fingerprint of the target's peer ID, to the server it shares
//! with the target.  The server cannot answer for that identity, so the
//! endpoint reports an unmatched IHello.  If the target is a connected
//! client, the server:
//!
//! - sends the initiator a Redirect listing the target's observed
//!   (public) address and its `setPeerInfo` addresses, and
//! - sends the target a Forwarded IHello over its session, carrying the
//!   initiator's observed address as the reply address, so that the
//!   target answers there (opening its NAT towards the initiator).

use super::registry::PeerRecord;
use crate::crypto::flash::epd::Epd;
use crate::crypto::PeerId;
use crate::endpoint::Endpoint;
use crate::wire::{Address, AddressOrigin};
use std::net::SocketAddr;
use std::time::Instant;

/// The peer ID an IHello's EPD asks for, if it is a Fingerprint EPD.
pub fn wanted_peer(epd: &[u8]) -> Option<PeerId> {
    Epd::parse(epd).ok()?.fingerprint
}

/// The Redirect's address list for `target`: its observed address first
/// (reflexive), then its `setPeerInfo` addresses (local), without
/// duplicates or the initiator's own address, at most `max`.
pub fn redirect_addresses(target: &PeerRecord, initiator: SocketAddr, max: usize) -> Vec<Address> {
    redirect_list(target.observed, &target.addresses, initiator, max)
}

/// [`redirect_addresses`] from a peer's observed address and its
/// `setPeerInfo` addresses.
pub fn redirect_list(
    observed: SocketAddr,
    addresses: &[SocketAddr],
    initiator: SocketAddr,
    max: usize,
) -> Vec<Address> {
    let mut out: Vec<Address> = Vec::new();
    let candidates = std::iter::once((observed, AddressOrigin::Reflexive))
        .chain(addresses.iter().map(|a| (*a, AddressOrigin::Local)));
    for (addr, origin) in candidates {
        if out.len() >= max {
            break;
        }
        if addr != initiator && !out.iter().any(|a| a.addr == addr) {
            out.push(Address::new(addr, origin));
        }
    }
    out
}

/// Introduces the initiator at `from` to `target`: the Redirect and the
/// Forwarded IHello.  Returns the redirected addresses.
pub fn introduce(
    ep: &mut Endpoint,
    now: Instant,
    target: &PeerRecord,
    epd: &[u8],
    tag: &[u8],
    from: SocketAddr,
    max: usize,
) -> Vec<SocketAddr> {
    let addresses = redirect_addresses(target, from, max);
    ep.send_redirect(now, from, tag, &addresses);
    let _ = ep.send_forwarded_ihello(target.session, epd, tag, from);
    addresses.iter().map(|a| a.addr).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::flash::epd::{epd_for_fingerprint, epd_for_uri};
    use crate::endpoint::SessionHandle;

    #[test]
    fn addresses_and_epds() {
        let a = |s: &str| s.parse::<SocketAddr>().unwrap();
        let rec = PeerRecord {
            peer_id: [7; 32],
            session: SessionHandle(1),
            observed: a("198.51.100.20:40000"),
            addresses: vec![
                a("10.0.0.3:5000"),
                a("198.51.100.20:40000"),
                a("192.0.2.9:1"),
            ],
        };
        let list = redirect_addresses(&rec, a("192.0.2.9:1"), 8);
        assert_eq!(
            list,
            [
                Address::new(a("198.51.100.20:40000"), AddressOrigin::Reflexive),
                Address::new(a("10.0.0.3:5000"), AddressOrigin::Local),
            ]
        );
        assert_eq!(redirect_addresses(&rec, a("1.1.1.1:1"), 1).len(), 1);
        assert_eq!(wanted_peer(&epd_for_fingerprint(&[7; 32])), Some([7; 32]));
        assert_eq!(wanted_peer(&epd_for_uri("rtmfp://h/a", None)), None);
        assert_eq!(wanted_peer(b"\xff"), None);
    }
}
