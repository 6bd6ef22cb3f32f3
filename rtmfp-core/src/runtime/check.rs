//! The I/O half of the connectivity check ([`crate::check`]): runs a
//! [`Prober`] over two fresh UDP sockets, blocking for a few seconds.

use crate::check::{NatReport, Prober};
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// Runs the RFC 5780 tests against the STUN server (check service) whose
/// primary address is `server`, from two sockets bound to `bind`'s IP
/// (any port; an IPv4 wildcard becomes `[::]` for an IPv6 server).
/// Returns the local address of the first (mapping) socket and the
/// report.  Takes one to three seconds.
pub fn probe_nat(server: SocketAddr, bind: SocketAddr) -> io::Result<(SocketAddr, NatReport)> {
    let bind = match (bind.is_ipv4(), server.is_ipv4()) {
        (true, false) => SocketAddr::from(([0u16; 8], 0)),
        _ => SocketAddr::new(bind.ip(), 0),
    };
    let sockets = [UdpSocket::bind(bind)?, UdpSocket::bind(bind)?];
    for s in &sockets {
        s.set_nonblocking(true)?;
    }
    let local = sockets[0].local_addr()?;
    let mut prober = Prober::new(server, Instant::now());
    let mut buf = [0u8; 1500];
    while !prober.is_done() {
        while let Some(t) = prober.poll_transmit(Instant::now()) {
            let _ = sockets[t.socket].send_to(&t.data, t.to);
        }
        let mut got = false;
        for (i, s) in sockets.iter().enumerate() {
            loop {
                match s.recv_from(&mut buf) {
                    Ok((n, from)) => {
                        got = true;
                        prober.handle_datagram(Instant::now(), i, from, &buf[..n]);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    // An ICMP error for an earlier send: nothing to read.
                    Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {}
                    Err(e) => return Err(e),
                }
            }
        }
        if !got {
            let wait = prober
                .poll_timeout()
                .map(|t| t.saturating_duration_since(Instant::now()))
                .unwrap_or(Duration::ZERO);
            std::thread::sleep(wait.min(Duration::from_millis(2)));
        }
    }
    Ok((local, prober.report()))
}

/// The local IP the system would use toward `to` (no datagram is sent).
pub fn local_ip_toward(to: SocketAddr) -> Option<std::net::IpAddr> {
    let bind = if to.is_ipv4() {
        SocketAddr::from(([0u8; 4], 0))
    } else {
        SocketAddr::from(([0u16; 8], 0))
    };
    let s = UdpSocket::bind(bind).ok()?;
    s.connect(to).ok()?;
    s.local_addr().ok().map(|a| a.ip())
}
