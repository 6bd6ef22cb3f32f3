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
//! two UDP sockets (two NAT mappings), so that they cannot disturb each
//! other: on the first, Bindings to the primary address, to the other
//! address and to the other IP (mapping); on the second, a Binding to the
//! primary address asking for the answer from the other port, and from
//! the other IP and port, before that socket sends anywhere else
//! (filtering), then a Binding to the source of an answer the NAT refused:
//! a new public port means the refusal left state (a router without an
//! input filter, docs/nat.md).  It gives a [`NatReport`] in one to three
//! seconds, and any RFC 5780 server will do (`rtmfp check --stun ADDR`).
//! [`crate::runtime::probe_nat`] runs it on real sockets, and
//! [`crate::flash::check::check`] runs the whole check.

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

impl Mapping {
    /// A short stable name for programs: `endpoint-independent`,
    /// `address-dependent`, `address-and-port-dependent`,
    /// `not-port-dependent` or `unknown`.
    pub fn key(self) -> &'static str {
        match self {
            Mapping::EndpointIndependent => "endpoint-independent",
            Mapping::AddressDependent => "address-dependent",
            Mapping::AddressAndPortDependent => "address-and-port-dependent",
            Mapping::NotPortDependent => "not-port-dependent",
            Mapping::Unknown => "unknown",
        }
    }
}

impl Filtering {
    /// A short stable name, as [`Mapping::key`]'s.
    pub fn key(self) -> &'static str {
        match self {
            Filtering::EndpointIndependent => "endpoint-independent",
            Filtering::AddressDependent => "address-dependent",
            Filtering::AddressAndPortDependent => "address-and-port-dependent",
            Filtering::NotPortDependent => "not-port-dependent",
            Filtering::Unknown => "unknown",
        }
    }
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
    /// Our public address (of the first socket) as the primary address saw
    /// it; `None` if it never answered (UDP to it is blocked, or nothing
    /// listens there).
    pub mapped: Option<SocketAddr>,
    /// The round trip of the first answered Binding.
    pub rtt: Option<Duration>,
    /// The server's OTHER-ADDRESS.
    pub other: Option<SocketAddr>,
    /// Our public address as OTHER-ADDRESS saw it.
    pub mapped_other: Option<SocketAddr>,
    /// Our public address as the other IP with the primary port saw it.
    pub mapped_other_ip: Option<SocketAddr>,
    /// Mapping behaviour (measured on the first socket, which receives
    /// nothing unsolicited).
    pub mapping: Mapping,
    /// Filtering behaviour (measured on the second socket).
    pub filtering: Filtering,
    /// Whether an unsolicited datagram that the NAT refused changed the
    /// mapping of the next datagram we sent to its source: a router with
    /// no input filter keeps a conntrack entry for it (docs/nat.md).  Such
    /// a NAT breaks hole punching whenever the peer's first datagram
    /// arrives before ours leaves.  `None`: not measured (or the datagram
    /// was let in).
    pub unsolicited_leaves_state: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Test {
    /// Socket 0 (mapping) and socket 1 (filtering): a plain Binding to the
    /// primary address.
    Primary,
    /// Socket 1: answer from the other port.
    FromOtherPort,
    /// Socket 1: answer from the other IP and port.
    FromOtherIpAndPort,
    /// Socket 0: a Binding to OTHER-ADDRESS.
    ToOther,
    /// Socket 0: a Binding to the other IP, primary port.
    ToOtherIp,
    /// Socket 1, after the filtering tests: a Binding to the address an
    /// unsolicited answer came from.
    AfterUnsolicited,
}

struct Probe {
    test: Test,
    socket: usize,
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

/// A datagram for the [`Prober`]'s caller to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeTransmit {
    /// From which of the two sockets (0 or 1).
    pub socket: usize,
    /// Where to.
    pub to: SocketAddr,
    /// The datagram.
    pub data: Vec<u8>,
}

/// The client side of the check, sans-IO.  It needs two UDP sockets of
/// the same family (two NAT mappings): mapping is measured on socket 0,
/// which never receives anything unsolicited, and filtering on socket 1,
/// so that the filtering probes cannot disturb the mapping measured.
/// Send what [`poll_transmit`](Self::poll_transmit) returns from the
/// socket it names, give it every datagram either socket receives, wake
/// it at [`poll_timeout`](Self::poll_timeout), and read
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
        p.start(Test::Primary, 0, server, (false, false), now, WAIT_PRIMARY);
        p.start(Test::Primary, 1, server, (false, false), now, WAIT_PRIMARY);
        p
    }

    fn start(
        &mut self,
        test: Test,
        socket: usize,
        to: SocketAddr,
        (change_ip, change_port): (bool, bool),
        now: Instant,
        wait: Duration,
    ) {
        let mut id: TransactionId = [0; 12];
        self.rng.fill_bytes(&mut id);
        self.probes.push(Probe {
            test,
            socket,
            to,
            request: BindingRequest {
                transaction_id: id,
                change_ip,
                change_port,
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

    fn probe(&self, test: Test, socket: usize) -> Option<&Probe> {
        self.probes
            .iter()
            .find(|p| p.test == test && p.socket == socket)
    }

    fn answer(&self, test: Test, socket: usize) -> Option<BindingResponse> {
        self.probe(test, socket).and_then(|p| p.answer)
    }

    fn settled(p: &Probe, now: Instant) -> bool {
        p.answer.is_some() || p.refused || now >= p.deadline
    }

    /// Starts the next phase when the current one has settled.
    fn advance(&mut self, now: Instant) {
        while self.phase < 3 && self.probes.iter().all(|p| Self::settled(p, now)) {
            let Some(other) = self.answer(Test::Primary, 0).and_then(|a| a.other) else {
                self.phase = 3;
                return;
            };
            let two_ips = other.ip() != self.server.ip();
            let server = self.server;
            match self.phase {
                0 => {
                    self.phase = 1;
                    // Mapping, on socket 0.
                    self.start(Test::ToOther, 0, other, (false, false), now, WAIT_OTHER);
                    if two_ips {
                        let to = SocketAddr::new(other.ip(), server.port());
                        self.start(Test::ToOtherIp, 0, to, (false, false), now, WAIT_OTHER);
                    }
                    // Filtering, on socket 1, before it sends anywhere but
                    // the primary address.
                    if self.answer(Test::Primary, 1).is_some() {
                        let w = WAIT_OTHER;
                        self.start(Test::FromOtherPort, 1, server, (false, true), now, w);
                        if two_ips {
                            self.start(Test::FromOtherIpAndPort, 1, server, (true, true), now, w);
                        }
                    }
                }
                1 => {
                    self.phase = 2;
                    // Did a refused answer leave state?  Send where the
                    // most remote one came from.
                    let refused_from = [Test::FromOtherIpAndPort, Test::FromOtherPort]
                        .into_iter()
                        .find_map(|t| {
                            self.probe(t, 1)
                                .filter(|p| p.answer.is_none() && !p.refused && p.sends > 0)
                                .map(|_| match t {
                                    Test::FromOtherIpAndPort => other,
                                    _ => SocketAddr::new(server.ip(), other.port()),
                                })
                        });
                    if let Some(to) = refused_from {
                        let w = WAIT_OTHER;
                        self.start(Test::AfterUnsolicited, 1, to, (false, false), now, w);
                    }
                }
                _ => self.phase = 3,
            }
        }
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<ProbeTransmit> {
        self.advance(now);
        for p in &mut self.probes {
            if p.answer.is_some() || p.refused || p.next_send.is_none_or(|t| t > now) {
                continue;
            }
            p.next_send = RESEND
                .get(p.sends as usize)
                .map(|ms| p.started + Duration::from_millis(*ms))
                .filter(|t| *t < p.deadline);
            p.sends += 1;
            return Some(ProbeTransmit {
                socket: p.socket,
                to: p.to,
                data: p.request.encode(),
            });
        }
        None
    }

    /// A datagram that arrived on `socket` from `from`.
    pub fn handle_datagram(&mut self, now: Instant, socket: usize, _from: SocketAddr, data: &[u8]) {
        let (id, answer) = match stun::parse(data) {
            Some(Message::Response(r)) => (r.transaction_id, Some(r)),
            Some(Message::Error(id, _)) => (id, None),
            _ => return,
        };
        if let Some(p) = self
            .probes
            .iter_mut()
            .find(|p| p.request.transaction_id == id && p.socket == socket && p.answer.is_none())
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
        let got = |t| self.probe(t, 1).map(|p| p.answer.is_some());
        let refused = |t| self.probe(t, 1).is_some_and(|p| p.refused);
        let primary = self.answer(Test::Primary, 0);
        let mapped = primary.map(|a| a.mapped);
        let other = primary.and_then(|a| a.other);
        // From the first send: an upper bound if a retransmission was
        // answered.
        let rtt = self
            .probe(Test::Primary, 0)
            .filter(|p| p.answer.is_some())
            .and_then(|p| {
                p.answered_at
                    .map(|t| t.saturating_duration_since(p.started))
            });
        let mapped_other = self.answer(Test::ToOther, 0).map(|a| a.mapped);
        let mapped_other_ip = self.answer(Test::ToOtherIp, 0).map(|a| a.mapped);
        let two_ips = other.is_some_and(|o| o.ip() != self.server.ip());
        let mapping = match (mapped, mapped_other, mapped_other_ip) {
            (Some(m), Some(o), _) if m != o => Mapping::AddressAndPortDependent,
            (Some(m), Some(_), Some(oi)) if two_ips && m == oi => Mapping::EndpointIndependent,
            (Some(_), Some(_), Some(_)) if two_ips => Mapping::AddressDependent,
            (Some(_), Some(_), _) if !two_ips => Mapping::NotPortDependent,
            _ => Mapping::Unknown,
        };
        let filtering = match (got(Test::FromOtherIpAndPort), got(Test::FromOtherPort)) {
            _ if self.answer(Test::Primary, 1).is_none() => Filtering::Unknown,
            (Some(true), _) => Filtering::EndpointIndependent,
            (Some(false), Some(true)) if !refused(Test::FromOtherIpAndPort) => {
                Filtering::AddressDependent
            }
            (None, Some(true)) => Filtering::NotPortDependent,
            (_, Some(false)) if !refused(Test::FromOtherPort) => Filtering::AddressAndPortDependent,
            _ => Filtering::Unknown,
        };
        // Only meaningful when the mapping does not depend on the port
        // anyway: then a new port after the refused datagram is its doing.
        let unsolicited_leaves_state = match (
            mapping,
            self.answer(Test::Primary, 1),
            self.answer(Test::AfterUnsolicited, 1),
        ) {
            (Mapping::EndpointIndependent | Mapping::NotPortDependent, Some(p), Some(a)) => {
                Some(p.mapped != a.mapped)
            }
            _ => None,
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
            unsolicited_leaves_state,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    /// A NAT in front of the prober's two sockets, for the tests: maps
    /// their datagrams and filters the answers.
    #[derive(Default)]
    struct TestNat {
        symmetric: bool,
        filtering: Option<Filtering>,
        /// Refused datagrams leave state (a Linux router without an
        /// input filter): the next datagram to their source gets another
        /// port.
        confirm_unsolicited: bool,
        sent_to: Vec<(usize, SocketAddr)>,
        kept: Vec<(usize, SocketAddr)>,
    }

    impl TestNat {
        fn map(&mut self, socket: usize, to: SocketAddr) -> SocketAddr {
            self.sent_to.push((socket, to));
            let mut port = 40000 + socket as u16 * 1000;
            if self.symmetric {
                port += to.port() % 100 + u16::from(to.ip() != a("203.0.113.10:0").ip()) * 100;
            }
            if self.kept.contains(&(socket, to)) {
                port += 500;
            }
            SocketAddr::new(a("198.51.100.1:0").ip(), port)
        }
        fn admits(&mut self, socket: usize, from: SocketAddr) -> bool {
            let sent = |f: &dyn Fn(&SocketAddr) -> bool| {
                self.sent_to.iter().any(|(s, to)| *s == socket && f(to))
            };
            let ok = match self.filtering.unwrap_or(Filtering::AddressAndPortDependent) {
                Filtering::EndpointIndependent => true,
                Filtering::AddressDependent => sent(&|to| to.ip() == from.ip()),
                _ => sent(&|to| *to == from),
            };
            if !ok && self.confirm_unsolicited {
                self.kept.push((socket, from));
            }
            ok
        }
    }

    fn run(servers: &[&str], mut nat: TestNat) -> NatReport {
        let addrs: Vec<SocketAddr> = servers.iter().map(|s| a(s)).collect();
        let responder = Responder::new(addrs.clone());
        let mut now = Instant::now();
        let mut prober = Prober::new(addrs[0], now);
        for _ in 0..1000 {
            while let Some(t) = prober.poll_transmit(now) {
                let public = nat.map(t.socket, t.to);
                if let Some(reply) = responder.handle(t.to, public, &t.data) {
                    if nat.admits(t.socket, reply.from) {
                        let at = now + Duration::from_millis(5);
                        prober.handle_datagram(at, t.socket, reply.from, &reply.data);
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
        let r = run(&FOUR, TestNat::default());
        assert_eq!(r.mapped, Some(a("198.51.100.1:40000")));
        assert_eq!(r.other, Some(a("203.0.113.11:3480")));
        assert_eq!(r.mapping, Mapping::EndpointIndependent, "{r:?}");
        assert_eq!(r.filtering, Filtering::AddressAndPortDependent, "{r:?}");
        assert_eq!(r.unsolicited_leaves_state, Some(false), "{r:?}");
        assert!(r.rtt.is_some());
    }

    /// The router of docs/nat.md: the refused answer from the other
    /// address moves the filtering socket's next datagram there to another
    /// port; the mapping socket, which never got one, is not disturbed.
    #[test]
    fn a_cone_nat_that_keeps_state_for_refused_datagrams() {
        let nat = TestNat {
            confirm_unsolicited: true,
            ..TestNat::default()
        };
        let r = run(&FOUR, nat);
        assert_eq!(r.mapping, Mapping::EndpointIndependent, "{r:?}");
        assert_eq!(r.filtering, Filtering::AddressAndPortDependent, "{r:?}");
        assert_eq!(r.unsolicited_leaves_state, Some(true), "{r:?}");
    }

    #[test]
    fn a_symmetric_nat_and_an_open_one() {
        let nat = TestNat {
            symmetric: true,
            filtering: Some(Filtering::AddressDependent),
            ..TestNat::default()
        };
        let r = run(&FOUR, nat);
        assert_eq!(r.mapping, Mapping::AddressAndPortDependent, "{r:?}");
        assert_eq!(r.filtering, Filtering::AddressDependent, "{r:?}");
        assert_eq!(r.unsolicited_leaves_state, None, "{r:?}");
        let open = TestNat {
            filtering: Some(Filtering::EndpointIndependent),
            ..TestNat::default()
        };
        let r = run(&FOUR, open);
        assert_eq!(r.filtering, Filtering::EndpointIndependent, "{r:?}");
        assert_eq!(r.unsolicited_leaves_state, None, "{r:?}");
    }

    #[test]
    fn one_server_ip_tells_less() {
        let nat = TestNat {
            filtering: Some(Filtering::EndpointIndependent),
            ..TestNat::default()
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
