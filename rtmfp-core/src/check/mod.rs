//! Connectivity check: what a user's NAT does, seen from a rendezvous
//! server (`rtmfp check`, docs/nat.md).
//!
//! Two parts, neither of which changes what a Flash client sees:
//!
//! - The rendezvous server answers one more NetConnection command,
//!   [`CHECK_INFO`](crate::rendezvous::CHECK_INFO): `("checkInfo", txn,
//!   null)` → `_result(txn, null, {publicAddress: "IP:PORT", check:
//!   ["IP:PORT", ...]})`: the address it sees the caller at, and where
//!   its check service listens (an empty list when it runs none).  A
//!   server that does not know the command answers `_error`, as for any
//!   unknown command.
//! - The check service is a small STUN server (RFC 8489 Binding, with the
//!   RFC 5780 NAT behaviour discovery attributes CHANGE-REQUEST,
//!   RESPONSE-ORIGIN and OTHER-ADDRESS) on up to four extra UDP addresses
//!   of the server host: two ports on one IP, and the same two ports on a
//!   second IP if the host has one.  [`Responder`] is its sans-IO core.
//!   It is not on the RTMFP port, so RTMFP traffic is untouched.
//!
//! The client side, [`Prober`], runs the RFC 5780 §4.3/§4.4 tests from
//! one UDP socket, in an order that keeps them honest: first a plain
//! Binding to the primary address, then the filtering tests (answers
//! requested from the other port, and from the other IP and port, before
//! anything was sent there), then the mapping tests (Bindings sent to the
//! other addresses).  It gives a [`NatReport`] in about two seconds, and
//! any RFC 5780 server will do (`rtmfp check --stun ADDR`).

pub mod stun;

use rand::RngCore;
use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use stun::{BindingRequest, BindingResponse, Message, TransactionId};

/// A reply the [`Responder`] wants sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The local address (one of the responder's) to send it from.
    pub from: SocketAddr,
    /// Where it goes.
    pub to: SocketAddr,
    /// The datagram.
    pub data: Vec<u8>,
}

/// The check service: answers STUN Binding requests arriving on any of
/// its addresses, from the address the request's CHANGE-REQUEST asks for.
#[derive(Debug, Clone)]
pub struct Responder {
    addresses: Vec<SocketAddr>,
}

impl Responder {
    /// A responder for these local addresses (the first is the primary;
    /// the others differ from it in port, IP or both).
    pub fn new(addresses: Vec<SocketAddr>) -> Responder {
        Responder { addresses }
    }

    /// Its addresses.
    pub fn addresses(&self) -> &[SocketAddr] {
        &self.addresses
    }

    /// The address differing from `local` in IP (if `ip`) and in port (if
    /// `port`), and the same otherwise.
    fn alternate(&self, local: SocketAddr, ip: bool, port: bool) -> Option<SocketAddr> {
        self.addresses
            .iter()
            .copied()
            .find(|a| (a.ip() != local.ip()) == ip && (a.port() != local.port()) == port)
    }

    /// A datagram arrived on `local` from `from`: the reply to send, if it
    /// is a Binding request.  A change the responder cannot make (no such
    /// address) gets error 420 from `local`.
    pub fn handle(&self, local: SocketAddr, from: SocketAddr, data: &[u8]) -> Option<Reply> {
        let Some(Message::Request(req)) = stun::parse(data) else {
            return None;
        };
        let other = self
            .alternate(local, true, true)
            .or_else(|| self.alternate(local, false, true));
        let source = if req.change_ip || req.change_port {
            self.alternate(local, req.change_ip, req.change_port)
        } else {
            Some(local)
        };
        let Some(source) = source else {
            return Some(Reply {
                from: local,
                to: from,
                data: stun::encode_error(&req.transaction_id, 420, "no such alternate address"),
            });
        };
        let resp = BindingResponse {
            transaction_id: req.transaction_id,
            mapped: from,
            origin: Some(source),
            other,
        };
        Some(Reply {
            from: source,
            to: from,
            data: resp.encode(),
        })
    }
}

/// How a NAT maps, in RFC 4787 §4.1 terms, as far as the server's
/// addresses can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mapping {
    /// The same public address toward another IP and port: peers behind
    /// such NATs can punch holes to each other.
    EndpointIndependent,
    /// The same toward another port of the same IP, another toward
    /// another IP: other peers see a new port (like a symmetric NAT).
    AddressDependent,
    /// A new public port for every destination ("symmetric NAT"): direct
    /// sessions need the other side to accept anything, or a relay.
    AddressAndPortDependent,
    /// The same toward another port; the server has one IP, so
    /// endpoint-independent cannot be told from address-dependent.
    NotPortDependent,
    /// Not measured.
    Unknown,
}

/// How a NAT filters unsolicited inbound datagrams (RFC 4787 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filtering {
    /// Anyone may send to a mapping.
    EndpointIndependent,
    /// Any port of an IP we have sent to.
    AddressDependent,
    /// Only the exact IP and port we have sent to.
    AddressAndPortDependent,
    /// Another port of the same IP gets through; the server has one IP, so
    /// endpoint-independent cannot be told from address-dependent.
    NotPortDependent,
    /// Not measured.
    Unknown,
}

impl fmt::Display for Mapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mapping::EndpointIndependent => "endpoint-independent",
            Mapping::AddressDependent => "address-dependent",
            Mapping::AddressAndPortDependent => "address-and-port-dependent (symmetric)",
            Mapping::NotPortDependent => {
                "not port-dependent (one server IP: endpoint-independent or address-dependent)"
            }
            Mapping::Unknown => "unknown",
        })
    }
}

impl fmt::Display for Filtering {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Filtering::EndpointIndependent => "endpoint-independent (open)",
            Filtering::AddressDependent => "address-dependent",
            Filtering::AddressAndPortDependent => "address-and-port-dependent",
            Filtering::NotPortDependent => {
                "not port-dependent (one server IP: endpoint-independent or address-dependent)"
            }
            Filtering::Unknown => "unknown",
        })
    }
}

/// What [`Prober`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatReport {
    /// The check service's primary address.
    pub server: SocketAddr,
    /// Our public address as the primary address saw it; `None` if it
    /// never answered (UDP to it is blocked, or nothing listens there).
    pub mapped: Option<SocketAddr>,
    /// The round trip of the first answered Binding.
    pub rtt: Option<Duration>,
    /// The server's OTHER-ADDRESS.
    pub other: Option<SocketAddr>,
    /// Our public address as OTHER-ADDRESS saw it.
    pub mapped_other: Option<SocketAddr>,
    /// Our public address as the other IP with the primary port saw it.
    pub mapped_other_ip: Option<SocketAddr>,
    /// Mapping behaviour.
    pub mapping: Mapping,
    /// Filtering behaviour.
    pub filtering: Filtering,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Test {
    Primary,
    FromOtherPort,
    FromOtherIpAndPort,
    ToOther,
    ToOtherIp,
}

struct Probe {
    test: Test,
    to: SocketAddr,
    request: BindingRequest,
    started: Instant,
    next_send: Option<Instant>,
    sends: u32,
    deadline: Instant,
    answer: Option<BindingResponse>,
    /// When the answer came.
    answered_at: Option<Instant>,
    /// An error response (the server cannot make that change).
    refused: bool,
}

/// Retransmission times after the first send, and how long to wait for
/// an answer after the first send.
const RESEND: [u64; 4] = [200, 400, 800, 1200];
const WAIT_PRIMARY: Duration = Duration::from_millis(2000);
const WAIT_OTHER: Duration = Duration::from_millis(1000);

/// The client side of the check, sans-IO: give it every datagram the
/// socket receives, send what [`poll_transmit`](Self::poll_transmit)
/// returns, wake it at [`poll_timeout`](Self::poll_timeout), and read
/// [`report`](Self::report) once [`is_done`](Self::is_done).
pub struct Prober {
    server: SocketAddr,
    probes: Vec<Probe>,
    phase: u8,
    rng: rand::rngs::StdRng,
}

impl Prober {
    /// A prober for the check service at `server` (its primary address).
    pub fn new(server: SocketAddr, now: Instant) -> Prober {
        use rand::SeedableRng;
        let mut p = Prober {
            server,
            probes: Vec::new(),
            phase: 0,
            rng: rand::rngs::StdRng::from_os_rng(),
        };
        p.start(Test::Primary, server, false, false, now, WAIT_PRIMARY);
        p
    }

    fn start(
        &mut self,
        test: Test,
        to: SocketAddr,
        ip: bool,
        port: bool,
        now: Instant,
        wait: Duration,
    ) {
        let mut id: TransactionId = [0; 12];
        self.rng.fill_bytes(&mut id);
        self.probes.push(Probe {
            test,
            to,
            request: BindingRequest {
                transaction_id: id,
                change_ip: ip,
                change_port: port,
            },
            started: now,
            next_send: Some(now),
            sends: 0,
            deadline: now + wait,
            answer: None,
            answered_at: None,
            refused: false,
        });
    }

    fn probe(&self, test: Test) -> Option<&Probe> {
        self.probes.iter().find(|p| p.test == test)
    }

    fn settled(p: &Probe, now: Instant) -> bool {
        p.answer.is_some() || p.refused || now >= p.deadline
    }

    /// Starts the next phase when the current one has settled.
    fn advance(&mut self, now: Instant) {
        loop {
            if !self.probes.iter().all(|p| Self::settled(p, now)) {
                return;
            }
            let other = self
                .probe(Test::Primary)
                .and_then(|p| p.answer)
                .and_then(|a| a.other);
            let Some(other) = other else {
                self.phase = 3;
                return;
            };
            let two_ips = other.ip() != self.server.ip();
            match self.phase {
                0 => {
                    // Filtering, before we send anywhere but the primary.
                    self.phase = 1;
                    self.start(
                        Test::FromOtherPort,
                        self.server,
                        false,
                        true,
                        now,
                        WAIT_OTHER,
                    );
                    if two_ips {
                        self.start(
                            Test::FromOtherIpAndPort,
                            self.server,
                            true,
                            true,
                            now,
                            WAIT_OTHER,
                        );
                    }
                }
                1 => {
                    // Mapping: Bindings to the other addresses.
                    self.phase = 2;
                    self.start(Test::ToOther, other, false, false, now, WAIT_OTHER);
                    if two_ips {
                        let to = SocketAddr::new(other.ip(), self.server.port());
                        self.start(Test::ToOtherIp, to, false, false, now, WAIT_OTHER);
                    }
                }
                _ => {
                    self.phase = 3;
                    return;
                }
            }
        }
    }

    /// The next datagram to send: (destination, bytes).
    pub fn poll_transmit(&mut self, now: Instant) -> Option<(SocketAddr, Vec<u8>)> {
        self.advance(now);
        for p in &mut self.probes {
            if p.answer.is_some() || p.refused {
                continue;
            }
            if !p.next_send.is_some_and(|t| t <= now) {
                continue;
            }
            p.next_send = RESEND
                .get(p.sends as usize)
                .map(|ms| p.started + Duration::from_millis(*ms))
                .filter(|t| *t < p.deadline);
            p.sends += 1;
            return Some((p.to, p.request.encode()));
        }
        None
    }

    /// A datagram from `from`.
    pub fn handle_datagram(&mut self, now: Instant, _from: SocketAddr, data: &[u8]) {
        let (id, answer) = match stun::parse(data) {
            Some(Message::Response(r)) => (r.transaction_id, Some(r)),
            Some(Message::Error(id, _)) => (id, None),
            _ => return,
        };
        if let Some(p) = self
            .probes
            .iter_mut()
            .find(|p| p.request.transaction_id == id && p.answer.is_none())
        {
            match answer {
                Some(a) => p.answer = Some(a),
                None => p.refused = true,
            }
            p.answered_at = Some(now);
        }
        self.advance(now);
    }

    /// When to call [`poll_transmit`](Self::poll_transmit) again.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.is_done() {
            return None;
        }
        self.probes
            .iter()
            .filter(|p| p.answer.is_none() && !p.refused)
            .flat_map(|p| [p.next_send, Some(p.deadline)])
            .flatten()
            .min()
    }

    /// Whether every test has an answer or has given up.
    pub fn is_done(&self) -> bool {
        self.phase >= 3
    }

    /// What was found so far.
    pub fn report(&self) -> NatReport {
        let answer = |t| self.probe(t).and_then(|p| p.answer);
        let got = |t| self.probe(t).map(|p| p.answer.is_some());
        let primary = answer(Test::Primary);
        let mapped = primary.map(|a| a.mapped);
        let other = primary.and_then(|a| a.other);
        // From the first send: an upper bound if a retransmission was
        // answered.
        let rtt = self
            .probe(Test::Primary)
            .filter(|p| p.answer.is_some())
            .and_then(|p| {
                p.answered_at
                    .map(|t| t.saturating_duration_since(p.started))
            });
        let mapped_other = answer(Test::ToOther).map(|a| a.mapped);
        let mapped_other_ip = answer(Test::ToOtherIp).map(|a| a.mapped);
        let two_ips = other.is_some_and(|o| o.ip() != self.server.ip());
        let mapping = match (mapped, mapped_other, mapped_other_ip) {
            (Some(m), Some(o), _) if m != o => Mapping::AddressAndPortDependent,
            (Some(m), Some(_), Some(oi)) if two_ips && m == oi => Mapping::EndpointIndependent,
            (Some(_), Some(_), Some(_)) if two_ips => Mapping::AddressDependent,
            (Some(_), Some(_), _) if !two_ips => Mapping::NotPortDependent,
            _ => Mapping::Unknown,
        };
        let refused = |t| self.probe(t).is_some_and(|p| p.refused);
        let filtering = match (got(Test::FromOtherIpAndPort), got(Test::FromOtherPort)) {
            _ if mapped.is_none() => Filtering::Unknown,
            (Some(true), _) => Filtering::EndpointIndependent,
            (Some(false), Some(true)) if !refused(Test::FromOtherIpAndPort) => {
                Filtering::AddressDependent
            }
            (None, Some(true)) => Filtering::NotPortDependent,
            (_, Some(false)) if !refused(Test::FromOtherPort) => Filtering::AddressAndPortDependent,
            _ => Filtering::Unknown,
        };
        NatReport {
            server: self.server,
            mapped,
            rtt,
            other,
            mapped_other,
            mapped_other_ip,
            mapping,
            filtering,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    /// A NAT in front of the prober, for the tests: maps the prober's
    /// datagrams and filters the answers.
    struct TestNat {
        symmetric: bool,
        filtering: Filtering,
        sent_to: Vec<SocketAddr>,
    }

    impl TestNat {
        fn map(&mut self, to: SocketAddr) -> SocketAddr {
            self.sent_to.push(to);
            if self.symmetric {
                SocketAddr::new(
                    a("198.51.100.1:0").ip(),
                    40000 + to.port() + u16::from(to.ip() != a("203.0.113.10:0").ip()) * 100,
                )
            } else {
                a("198.51.100.1:40000")
            }
        }
        fn admits(&self, from: SocketAddr) -> bool {
            match self.filtering {
                Filtering::EndpointIndependent => true,
                Filtering::AddressDependent => self.sent_to.iter().any(|s| s.ip() == from.ip()),
                _ => self.sent_to.contains(&from),
            }
        }
    }

    fn run(servers: &[&str], mut nat: TestNat) -> NatReport {
        let addrs: Vec<SocketAddr> = servers.iter().map(|s| a(s)).collect();
        let responder = Responder::new(addrs.clone());
        let mut now = Instant::now();
        let mut prober = Prober::new(addrs[0], now);
        for _ in 0..1000 {
            while let Some((to, data)) = prober.poll_transmit(now) {
                let public = nat.map(to);
                if let Some(reply) = responder.handle(to, public, &data) {
                    if nat.admits(reply.from) {
                        prober.handle_datagram(
                            now + Duration::from_millis(5),
                            reply.from,
                            &reply.data,
                        );
                    }
                }
            }
            if prober.is_done() {
                return prober.report();
            }
            now = prober
                .poll_timeout()
                .expect("a timeout while not done")
                .max(now);
        }
        panic!("the prober never finished");
    }

    const FOUR: [&str; 4] = [
        "203.0.113.10:3479",
        "203.0.113.10:3480",
        "203.0.113.11:3479",
        "203.0.113.11:3480",
    ];

    #[test]
    fn a_cone_nat_with_port_restricted_filtering() {
        let nat = TestNat {
            symmetric: false,
            filtering: Filtering::AddressAndPortDependent,
            sent_to: vec![],
        };
        let r = run(&FOUR, nat);
        assert_eq!(r.mapped, Some(a("198.51.100.1:40000")));
        assert_eq!(r.other, Some(a("203.0.113.11:3480")));
        assert_eq!(r.mapping, Mapping::EndpointIndependent, "{r:?}");
        assert_eq!(r.filtering, Filtering::AddressAndPortDependent, "{r:?}");
        assert!(r.rtt.is_some());
    }

    #[test]
    fn a_symmetric_nat_and_an_open_one() {
        let nat = TestNat {
            symmetric: true,
            filtering: Filtering::AddressDependent,
            sent_to: vec![],
        };
        let r = run(&FOUR, nat);
        assert_eq!(r.mapping, Mapping::AddressAndPortDependent, "{r:?}");
        assert_eq!(r.filtering, Filtering::AddressDependent, "{r:?}");
        let open = TestNat {
            symmetric: false,
            filtering: Filtering::EndpointIndependent,
            sent_to: vec![],
        };
        let r = run(&FOUR, open);
        assert_eq!(r.filtering, Filtering::EndpointIndependent, "{r:?}");
    }

    #[test]
    fn one_server_ip_tells_less() {
        let nat = TestNat {
            symmetric: false,
            filtering: Filtering::EndpointIndependent,
            sent_to: vec![],
        };
        let r = run(&FOUR[..2], nat);
        assert_eq!(r.other, Some(a("203.0.113.10:3480")));
        assert_eq!(r.mapping, Mapping::NotPortDependent, "{r:?}");
        assert_eq!(r.filtering, Filtering::NotPortDependent, "{r:?}");
    }

    #[test]
    fn no_answer_means_unknown_and_no_mapped_address() {
        let mut now = Instant::now();
        let mut prober = Prober::new(a("203.0.113.10:3479"), now);
        let mut sent = 0;
        while !prober.is_done() {
            while prober.poll_transmit(now).is_some() {
                sent += 1;
            }
            now = prober.poll_timeout().unwrap_or(now);
        }
        let r = prober.report();
        assert!(sent >= 3, "{sent}");
        assert_eq!(
            (r.mapped, r.mapping, r.filtering),
            (None, Mapping::Unknown, Filtering::Unknown)
        );
    }

    #[test]
    fn the_responder_answers_from_the_address_asked_for() {
        let r = Responder::new(FOUR.iter().map(|s| a(s)).collect());
        let client = a("198.51.100.1:40000");
        for (ip, port, want) in [
            (false, false, FOUR[0]),
            (false, true, FOUR[1]),
            (true, false, FOUR[2]),
            (true, true, FOUR[3]),
        ] {
            let req = BindingRequest {
                transaction_id: [3; 12],
                change_ip: ip,
                change_port: port,
            };
            let reply = r.handle(a(FOUR[0]), client, &req.encode()).unwrap();
            assert_eq!((reply.from, reply.to), (a(want), client));
            let Some(Message::Response(resp)) = stun::parse(&reply.data) else {
                panic!("not a response");
            };
            assert_eq!(resp.mapped, client);
            assert_eq!(resp.origin, Some(a(want)));
            assert_eq!(resp.other, Some(a(FOUR[3])));
        }
        // One address: a change cannot be made.
        let lone = Responder::new(vec![a(FOUR[0])]);
        let req = BindingRequest {
            transaction_id: [4; 12],
            change_ip: false,
            change_port: true,
        };
        let reply = lone.handle(a(FOUR[0]), client, &req.encode()).unwrap();
        assert_eq!(stun::parse(&reply.data), Some(Message::Error([4; 12], 420)));
        assert_eq!(lone.handle(a(FOUR[0]), client, b"not stun"), None);
    }
}
