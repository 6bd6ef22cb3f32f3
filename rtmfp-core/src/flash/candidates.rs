//! Candidate addresses for `setPeerInfo` (RFC 7425 §5.3.3).
//!
//! The list SHOULD include every directly connected interface address and
//! SHOULD NOT include link-local or loopback addresses.

use std::net::{IpAddr, SocketAddr, UdpSocket};

/// Whether `addr` may be advertised in `setPeerInfo`: not loopback,
/// link-local, multicast, unspecified, or port 0.
pub fn is_advertisable(addr: &SocketAddr) -> bool {
    if addr.port() == 0 {
        return false;
    }
    match addr.ip() {
        IpAddr::V4(ip) => {
            !(ip.is_loopback()
                || ip.is_link_local()
                || ip.is_multicast()
                || ip.is_unspecified()
                || ip.is_broadcast())
        }
        IpAddr::V6(ip) => {
            let link_local = (ip.segments()[0] & 0xffc0) == 0xfe80;
            !(ip.is_loopback() || link_local || ip.is_multicast() || ip.is_unspecified())
        }
    }
}

/// The advertisable addresses of `addrs`, without duplicates, in order.
pub fn advertisable(addrs: &[SocketAddr]) -> Vec<SocketAddr> {
    let mut out: Vec<SocketAddr> = Vec::new();
    for a in addrs.iter().filter(|a| is_advertisable(a)) {
        if !out.contains(a) {
            out.push(*a);
        }
    }
    out
}

/// The local candidates of sockets bound to `bound`: a wildcard bind
/// (`0.0.0.0` or `[::]`) is replaced by the address the system would use
/// to reach the wider network (found with an unconnected-then-connected
/// UDP socket: nothing is sent), keeping the bound port.  Others are kept.
pub fn local_candidates(bound: &[SocketAddr]) -> Vec<SocketAddr> {
    let mut out = Vec::new();
    for b in bound {
        if b.ip().is_unspecified() {
            let probe = match b.ip() {
                IpAddr::V4(_) => ("0.0.0.0:0", "192.0.2.1:9"),
                IpAddr::V6(_) => ("[::]:0", "[2001:db8::1]:9"),
            };
            let ip = UdpSocket::bind(probe.0)
                .and_then(|s| s.connect(probe.1).map(|_| s))
                .and_then(|s| s.local_addr());
            if let Ok(local) = ip {
                out.push(SocketAddr::new(local.ip(), b.port()));
            }
        } else {
            out.push(*b);
        }
    }
    advertisable(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters() {
        let a = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert!(is_advertisable(&a("192.0.2.129:50001")));
        assert!(is_advertisable(&a("[2001:db8:1::2]:50002")));
        assert!(is_advertisable(&a("10.0.0.2:5000")));
        for bad in [
            "127.0.0.1:1",
            "169.254.1.1:1",
            "0.0.0.0:1",
            "224.0.0.1:1",
            "[::1]:1",
            "[fe80::1]:1",
            "[::]:1",
            "192.0.2.1:0",
        ] {
            assert!(!is_advertisable(&a(bad)), "{bad}");
        }
        assert_eq!(
            advertisable(&[a("127.0.0.1:5"), a("10.0.0.1:5"), a("10.0.0.1:5")]),
            [a("10.0.0.1:5")]
        );
    }
}
