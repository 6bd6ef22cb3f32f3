//! Hostile and malformed datagrams against the sans-IO endpoint (issue 3;
//! RFC 7016 §2.2, §2.3 and §3.5.1).
//!
//! Every bad datagram must be dropped and counted by its [`DropReason`],
//! with no panic, no event, no reply and no change of state.  Each hostile
//! datagram is built here with the wire codec and the profile's Default
//! Session Key, or captured from a real exchange between two endpoints and
//! then mutated.  With [`PlainProfile`] session packets are only
//! checksummed, so any session packet can be forged; with the Flash profile
//! (RFC 7425) only captured session packets can be replayed or damaged.
//!
//! Also here: Cookie Change after a NAT rebinding (§3.5.1.2), the Forwarded
//! IHello policies (§3.5.1.1.2) and the redirect threshold (§3.5.1.1.1).

use rand::{rngs::StdRng, Rng, RngCore, SeedableRng};
use rtmfp_core::crypto::flash::epd::epd_for_fingerprint;
use rtmfp_core::crypto::flash::SimplePassword;
use rtmfp_core::crypto::{CryptoProfile, FlashConfig, FlashProfile, PeerId, PlainProfile};
use rtmfp_core::endpoint::DropReason::{
    BadCookie, BadHeader, BadKeying, ChunkInWrongMode, Ignored, Integrity, MalformedChunk,
    NoMatchingOpening, Replay, Truncated, UnknownChunk, UnknownSessionId, WrongMode,
};
use rtmfp_core::endpoint::{
    CloseReason, DropCounts, DropReason, Endpoint, EndpointConfig, Event, FIHelloPolicy, Role,
    SessionHandle, SessionInfo,
};
use rtmfp_core::wire::chunk::{
    chunk_type as ct, AddressList, CookieChange, FIHello, Fragment, IHello, IIKeying, RHello,
    RIKeying, Redirect,
};
use rtmfp_core::wire::packet::MODE_MASK;
use rtmfp_core::wire::{
    read_multiplex, vlu, write_multiplex, Address, AddressOrigin, Chunk, Mode, Packet,
    PacketBuilder, PacketHeader,
};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------
// Identities and endpoints
// ---------------------------------------------------------------------------

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn a_addr() -> SocketAddr {
    sa("192.0.2.1:5000")
}

fn b_addr() -> SocketAddr {
    sa("198.51.100.2:1935")
}

/// An address no endpoint owns: datagrams sent there are only logged.
fn nowhere() -> SocketAddr {
    sa("203.0.113.99:4444")
}

/// A Flash identity.  Key generation is the slow part of a test in debug
/// builds, so identities are made once per process and shared.
fn flash(config: FlashConfig, seed: u64) -> Arc<dyn CryptoProfile> {
    type Cache = Mutex<Vec<(FlashConfig, u64, Arc<dyn CryptoProfile>)>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(Vec::new()));
    let hit = cache
        .lock()
        .unwrap()
        .iter()
        .find(|(c, s, _)| *c == config && *s == seed)
        .map(|(_, _, p)| p.clone());
    if let Some(profile) = hit {
        return profile;
    }
    let profile: Arc<dyn CryptoProfile> =
        Arc::new(FlashProfile::new(config.clone(), &mut StdRng::seed_from_u64(seed)).unwrap());
    cache.lock().unwrap().push((config, seed, profile.clone()));
    profile
}

fn plain(identity: &str) -> Arc<dyn CryptoProfile> {
    Arc::new(PlainProfile::new(identity.as_bytes()))
}

/// The EPD that selects `ep` alone: its peer ID for Flash (RFC 7425
/// §4.4.4), its certificate for the plain profile.
fn epd_of(ep: &Endpoint) -> Vec<u8> {
    let crypto = ep.crypto();
    let cert = crypto.certificate();
    let by_fingerprint = epd_for_fingerprint(&ep.peer_id().unwrap());
    if crypto.cert_selected_by_epd(cert, &by_fingerprint) {
        by_fingerprint
    } else {
        cert.to_vec()
    }
}

fn password() -> SimplePassword {
    SimplePassword {
        id: b"alice".to_vec(),
        password: b"correct horse battery staple".to_vec(),
    }
}

// ---------------------------------------------------------------------------
// A small deterministic network
// ---------------------------------------------------------------------------

/// One datagram on the wire.  In the log `at` is when it was sent; in
/// flight it is when it arrives.
#[derive(Debug, Clone)]
struct Sent {
    at: Instant,
    node: usize,
    src: SocketAddr,
    dst: SocketAddr,
    bytes: Vec<u8>,
}

struct Node {
    ep: Endpoint,
    /// Datagrams to any of these addresses reach this node (all the NAT
    /// mappings it ever had).
    addrs: Vec<SocketAddr>,
    /// The source address other endpoints see on its datagrams.
    source: SocketAddr,
    events: Vec<Event>,
}

/// Moves datagrams between endpoints with a fixed one-way delay, and logs
/// every one of them.
struct Net {
    now: Instant,
    delay: Duration,
    nodes: Vec<Node>,
    in_flight: Vec<Sent>,
    log: Vec<Sent>,
}

/// What one injected datagram did.
#[derive(Debug)]
struct Reaction {
    drops: Vec<(DropReason, u64)>,
    events: Vec<Event>,
    out: Vec<(SocketAddr, Vec<u8>)>,
}

/// Everything observable about an endpoint's state.
#[derive(Debug, PartialEq)]
struct Snapshot {
    sessions: usize,
    openings: usize,
    timeout: Option<Instant>,
    infos: Vec<Option<SessionInfo>>,
}

/// The part of an endpoint's state that an authenticated packet with a bad
/// chunk must not change (its counters and timers legitimately move).
#[derive(Debug, PartialEq)]
struct Shape {
    sessions: usize,
    openings: usize,
    infos: Vec<Option<Link>>,
}

/// Role, open, far address and far peer ID of one session.
type Link = (Role, bool, SocketAddr, Option<PeerId>);

/// A chunk's type and payload.
type RawChunk = (u8, Vec<u8>);

fn drop_delta(before: &DropCounts, after: &DropCounts) -> Vec<(DropReason, u64)> {
    DropReason::ALL
        .iter()
        .map(|&r| (r, after.get(r) - before.get(r)))
        .filter(|&(_, n)| n > 0)
        .collect()
}

impl Net {
    fn new() -> Self {
        Net {
            now: Instant::now(),
            delay: Duration::from_millis(25),
            nodes: Vec::new(),
            in_flight: Vec::new(),
            log: Vec::new(),
        }
    }

    fn add(
        &mut self,
        profile: Arc<dyn CryptoProfile>,
        seed: u64,
        config: EndpointConfig,
        at: SocketAddr,
    ) -> usize {
        let config = EndpointConfig {
            rng_seed: Some(seed),
            ..config
        };
        self.nodes.push(Node {
            ep: Endpoint::new(config, profile, self.now),
            addrs: vec![at],
            source: at,
            events: Vec::new(),
        });
        self.nodes.len() - 1
    }

    fn ep(&mut self, n: usize) -> &mut Endpoint {
        &mut self.nodes[n].ep
    }

    /// From now on node `n`'s datagrams leave from `to` (a NAT rebinding);
    /// datagrams to its old addresses still reach it.
    fn rebind(&mut self, n: usize, to: SocketAddr) {
        self.nodes[n].source = to;
        self.nodes[n].addrs.push(to);
    }

    fn push_sent(&mut self, sent: Sent) {
        self.log.push(sent.clone());
        self.in_flight.push(Sent {
            at: self.now + self.delay,
            ..sent
        });
    }

    /// Takes every node's datagrams and events.
    fn collect(&mut self) {
        let mut buf = Vec::new();
        for i in 0..self.nodes.len() {
            loop {
                let now = self.now;
                let node = &mut self.nodes[i];
                let Some(t) = node.ep.poll_transmit(now, &mut buf) else {
                    break;
                };
                let sent = Sent {
                    at: now,
                    node: i,
                    src: node.source,
                    dst: t.destination,
                    bytes: buf.clone(),
                };
                self.push_sent(sent);
            }
            let node = &mut self.nodes[i];
            while let Some(e) = node.ep.poll_event() {
                node.events.push(e);
            }
        }
    }

    fn deliver(&mut self, s: Sent) {
        let now = self.now;
        if let Some(node) = self.nodes.iter_mut().find(|n| n.addrs.contains(&s.dst)) {
            node.ep.handle_datagram(now, s.dst, s.src, &s.bytes);
        }
    }

    /// Runs `span` of virtual time: datagrams and timers.
    fn run_for(&mut self, span: Duration) {
        let end = self.now + span;
        for _ in 0..1_000_000 {
            self.collect();
            let next_packet = self.in_flight.iter().map(|s| s.at).min();
            let next_timer = self.nodes.iter().filter_map(|n| n.ep.poll_timeout()).min();
            let next = [next_packet, next_timer].into_iter().flatten().min();
            let Some(next) = next.filter(|&t| t <= end) else {
                self.now = end;
                return;
            };
            self.now = self.now.max(next);
            let now = self.now;
            let (due, rest): (Vec<_>, Vec<_>) = self.in_flight.drain(..).partition(|s| s.at <= now);
            self.in_flight = rest;
            for s in due {
                self.deliver(s);
            }
            for node in &mut self.nodes {
                if node.ep.poll_timeout().is_some_and(|t| t <= now) {
                    node.ep.handle_timeout(now);
                }
            }
        }
        panic!("the network never went quiet");
    }

    /// Removes and returns the datagrams in flight to `dst`.
    fn hold(&mut self, dst: SocketAddr) -> Vec<Sent> {
        let (held, rest): (Vec<_>, Vec<_>) = self.in_flight.drain(..).partition(|s| s.dst == dst);
        self.in_flight = rest;
        held
    }

    /// Hands `bytes` from `from` straight to node `n` and reports what it
    /// did.  Replies also go out on the network.
    fn inject(&mut self, n: usize, from: SocketAddr, bytes: &[u8]) -> Reaction {
        self.collect();
        let now = self.now;
        let local = self.nodes[n].addrs[0];
        let before = self.nodes[n].ep.stats().drops.clone();
        self.nodes[n].ep.handle_datagram(now, local, from, bytes);
        let drops = drop_delta(&before, &self.nodes[n].ep.stats().drops);
        let mut out = Vec::new();
        let mut buf = Vec::new();
        while let Some(t) = self.nodes[n].ep.poll_transmit(now, &mut buf) {
            out.push((t.destination, buf.clone()));
            let src = self.nodes[n].source;
            self.push_sent(Sent {
                at: now,
                node: n,
                src,
                dst: t.destination,
                bytes: buf.clone(),
            });
        }
        let mut events = Vec::new();
        while let Some(e) = self.nodes[n].ep.poll_event() {
            events.push(e.clone());
            self.nodes[n].events.push(e);
        }
        Reaction { drops, events, out }
    }

    fn snapshot(&self, n: usize) -> Snapshot {
        let ep = &self.nodes[n].ep;
        Snapshot {
            sessions: ep.session_count(),
            openings: ep.opening_count(),
            timeout: ep.poll_timeout(),
            infos: (1..=16)
                .map(|h| ep.session_info(SessionHandle(h)))
                .collect(),
        }
    }

    fn shape(&self, n: usize) -> Shape {
        let ep = &self.nodes[n].ep;
        Shape {
            sessions: ep.session_count(),
            openings: ep.opening_count(),
            infos: (1..=16)
                .map(|h| {
                    ep.session_info(SessionHandle(h))
                        .map(|i| (i.role, i.open, i.far_address, i.far_peer_id))
                })
                .collect(),
        }
    }

    fn opened(&self, n: usize) -> Vec<(SessionHandle, SocketAddr)> {
        self.nodes[n]
            .events
            .iter()
            .filter_map(|e| match e {
                Event::SessionOpened {
                    session,
                    far_address,
                    ..
                } => Some((*session, *far_address)),
                _ => None,
            })
            .collect()
    }

    /// Every startup chunk of type `ty` that node `n` sent, with its
    /// datagram and session ID, oldest first.
    fn startup_sent(&self, n: usize, ty: u8) -> Vec<(Sent, u32, Vec<u8>)> {
        let profile = self.nodes[n].ep.crypto().clone();
        let mut found = Vec::new();
        for s in self.log.iter().filter(|s| s.node == n) {
            if let Some((sid, Mode::Startup, chunks)) = open_default(&*profile, &s.bytes) {
                for (t, payload) in chunks {
                    if t == ty {
                        found.push((s.clone(), sid, payload));
                    }
                }
            }
        }
        found
    }

    /// Datagrams node `n` sent under session ID `sid`.
    fn sent_with_id(&self, n: usize, sid: u32) -> Vec<Sent> {
        self.log
            .iter()
            .filter(|s| s.node == n && read_multiplex(&s.bytes).unwrap().0 == sid)
            .cloned()
            .collect()
    }
}

// ---------------------------------------------------------------------------
// Building and opening datagrams
// ---------------------------------------------------------------------------

fn raw(chunk: Chunk<'_>) -> RawChunk {
    let mut payload = Vec::new();
    chunk.encode_payload(&mut payload);
    (chunk.chunk_type(), payload)
}

fn vlu_bytes(value: u64) -> Vec<u8> {
    let mut out = Vec::new();
    vlu::encode(value, &mut out);
    out
}

/// A datagram for `session_id` whose plain packet has the MOD bits `mode`,
/// no timestamps and `chunks`, protected with `profile`'s Default Session
/// Key (which, for the plain profile, is also every session's key).
fn datagram(
    profile: &dyn CryptoProfile,
    session_id: u32,
    mode: u8,
    chunks: &[RawChunk],
) -> Vec<u8> {
    let mut plain = Vec::new();
    let mut builder = PacketBuilder::new(&PacketHeader::new(Mode::Startup), 8192, &mut plain);
    for (t, payload) in chunks {
        builder.push_raw(*t, payload).unwrap();
    }
    builder.finish();
    plain[0] = (plain[0] & !MODE_MASK) | mode;
    seal(profile, session_id, &plain)
}

fn seal(profile: &dyn CryptoProfile, session_id: u32, plain: &[u8]) -> Vec<u8> {
    let mut encrypted = Vec::new();
    profile
        .default_session_crypto()
        .encrypt(plain, &mut encrypted);
    let mut out = Vec::new();
    write_multiplex(session_id, &encrypted, &mut out);
    out
}

fn startup(profile: &dyn CryptoProfile, session_id: u32, chunks: &[RawChunk]) -> Vec<u8> {
    datagram(profile, session_id, Mode::Startup.bits(), chunks)
}

/// Opens a datagram with the Default Session Key: its session ID, mode
/// and chunks.
fn open_default(profile: &dyn CryptoProfile, bytes: &[u8]) -> Option<(u32, Mode, Vec<RawChunk>)> {
    let (sid, encrypted) = read_multiplex(bytes).ok()?;
    let mut plain = Vec::new();
    profile
        .default_session_crypto()
        .decrypt(encrypted, &mut plain)
        .ok()?;
    let packet = Packet::parse(&plain).ok()?;
    let chunks = packet
        .chunks()
        .map(|c| (c.chunk_type, c.payload.to_vec()))
        .collect();
    Some((sid, packet.header.mode, chunks))
}

/// The datagram with its encrypted packet changed by `f`, under the same
/// session ID.
fn mutate(bytes: &[u8], f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let (sid, encrypted) = read_multiplex(bytes).unwrap();
    let mut encrypted = encrypted.to_vec();
    f(&mut encrypted);
    let mut out = Vec::new();
    write_multiplex(sid, &encrypted, &mut out);
    out
}

/// The datagram re-addressed to another session ID.
fn readdress(bytes: &[u8], sid: u32) -> Vec<u8> {
    let (_, encrypted) = read_multiplex(bytes).unwrap();
    let mut out = Vec::new();
    write_multiplex(sid, encrypted, &mut out);
    out
}

fn iikeying_of(payload: &[u8]) -> IIKeying<'_> {
    match Chunk::decode(ct::IIKEYING, payload).unwrap() {
        Chunk::IIKeying(c) => c,
        other => panic!("not an IIKeying: {other:?}"),
    }
}

fn rhello_of(payload: &[u8]) -> RHello<'_> {
    match Chunk::decode(ct::RHELLO, payload).unwrap() {
        Chunk::RHello(c) => c,
        other => panic!("not an RHello: {other:?}"),
    }
}

fn cookie_change_of(payload: &[u8]) -> CookieChange<'_> {
    match Chunk::decode(ct::COOKIE_CHANGE, payload).unwrap() {
        Chunk::CookieChange(c) => c,
        other => panic!("not a Cookie Change: {other:?}"),
    }
}

/// The tag of the IHello node `n` sent first.
fn ihello_tag(net: &Net, n: usize) -> Vec<u8> {
    let (_, _, payload) = &net.startup_sent(n, ct::IHELLO)[0];
    match Chunk::decode(ct::IHELLO, payload).unwrap() {
        Chunk::IHello(c) => c.tag.to_vec(),
        other => panic!("not an IHello: {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Assertions
// ---------------------------------------------------------------------------

/// `bytes` from `from` is dropped by node `n` for `reason`, once, with no
/// event, no reply and no change of state at all.
#[track_caller]
fn assert_dropped(
    net: &mut Net,
    n: usize,
    from: SocketAddr,
    bytes: &[u8],
    reason: DropReason,
    what: &str,
) {
    let before = net.snapshot(n);
    let r = net.inject(n, from, bytes);
    assert_eq!(r.drops, vec![(reason, 1)], "{what}: drops");
    assert!(r.events.is_empty(), "{what}: events {:?}", r.events);
    let to: Vec<_> = r.out.iter().map(|o| o.0).collect();
    assert!(r.out.is_empty(), "{what}: replied to {to:?}");
    assert_eq!(net.snapshot(n), before, "{what}: state changed");
}

/// An authenticated packet whose one chunk is bad: that chunk is counted
/// for `reason`, and nothing else happens (the packet's own bookkeeping,
/// such as packets in and the idle timer, legitimately moves).
#[track_caller]
fn assert_chunk_dropped(
    net: &mut Net,
    n: usize,
    from: SocketAddr,
    bytes: &[u8],
    reason: DropReason,
    what: &str,
) {
    let before = net.shape(n);
    let r = net.inject(n, from, bytes);
    assert_eq!(r.drops, vec![(reason, 1)], "{what}: drops");
    assert!(r.events.is_empty(), "{what}: events {:?}", r.events);
    let to: Vec<_> = r.out.iter().map(|o| o.0).collect();
    assert!(r.out.is_empty(), "{what}: replied to {to:?}");
    assert_eq!(net.shape(n), before, "{what}: state changed");
}

// ---------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------

/// Two endpoints with an open session, A the initiator.
struct Opened {
    net: Net,
    a: usize,
    b: usize,
    a_handle: SessionHandle,
    b_handle: SessionHandle,
    /// A's receive session ID (the ISID of its IIKeying).
    a_rx: u32,
    /// B's receive session ID (from its RIKeying).
    b_rx: u32,
}

fn open(mut net: Net, a: usize, b: usize) -> Opened {
    let epd = epd_of(&net.nodes[b].ep);
    let now = net.now;
    let a_handle = net.ep(a).connect(now, epd, &[b_addr()]).unwrap();
    net.run_for(Duration::from_millis(500));
    assert_eq!(net.opened(a).len(), 1, "{:?}", net.nodes[a].events);
    assert_eq!(net.opened(b).len(), 1, "{:?}", net.nodes[b].events);
    let b_handle = net.opened(b)[0].0;
    let a_rx = iikeying_of(&net.startup_sent(a, ct::IIKEYING)[0].2).initiator_session_id;
    let rik = &net.startup_sent(b, ct::RIKEYING)[0].2;
    let b_rx = match Chunk::decode(ct::RIKEYING, rik).unwrap() {
        Chunk::RIKeying(c) => c.responder_session_id,
        other => panic!("{other:?}"),
    };
    Opened {
        net,
        a,
        b,
        a_handle,
        b_handle,
        a_rx,
        b_rx,
    }
}

/// A Flash client (A) with a session open to a Flash server (B).  Both
/// configurations negotiate HMAC and session sequence numbers
/// opportunistically (RFC 7425 §4.6.4, §4.6.6), so both are in use.
fn flash_opened() -> Opened {
    let mut net = Net::new();
    let a = net.add(
        flash(FlashConfig::client(), 1),
        1,
        EndpointConfig::default(),
        a_addr(),
    );
    let b = net.add(
        flash(FlashConfig::server(), 2),
        2,
        EndpointConfig::default(),
        b_addr(),
    );
    open(net, a, b)
}

/// As [`flash_opened`], then a keepalive exchange, so that both ends have
/// sent real session packets: B's Ping and A's Ping Reply.
fn flash_with_traffic() -> Opened {
    let mut o = flash_opened();
    o.net.run_for(Duration::from_secs(11));
    assert!(!o.net.sent_with_id(o.a, o.b_rx).is_empty());
    assert!(!o.net.sent_with_id(o.b, o.a_rx).is_empty());
    assert_eq!(o.net.ep(o.a).stats().drops.total(), 0);
    assert_eq!(o.net.ep(o.b).stats().drops.total(), 0);
    o
}

fn plain_opened() -> Opened {
    let mut net = Net::new();
    let a = net.add(plain("alice"), 1, EndpointConfig::default(), a_addr());
    let b = net.add(plain("bob"), 2, EndpointConfig::default(), b_addr());
    open(net, a, b)
}

/// A Flash client (A) and server (B), A in S_KEYING_SENT: its IIKeying is
/// taken off the wire before it reaches B, and returned.
fn held_iikeying(client: FlashConfig, server: FlashConfig) -> (Net, usize, usize, Sent) {
    let mut net = Net::new();
    let a = net.add(flash(client, 1), 1, EndpointConfig::default(), a_addr());
    let b = net.add(flash(server, 2), 2, EndpointConfig::default(), b_addr());
    let epd = epd_of(&net.nodes[b].ep);
    let now = net.now;
    net.ep(a).connect(now, epd, &[b_addr()]).unwrap();
    // IHello arrives at 25 ms, the RHello at 50 ms; the IIKeying leaves.
    net.run_for(Duration::from_millis(60));
    let held = net.hold(b_addr());
    assert_eq!(held.len(), 1);
    let iik = held.into_iter().next().unwrap();
    let (_, _, chunks) = open_default(&*net.nodes[a].ep.crypto().clone(), &iik.bytes).unwrap();
    assert_eq!(chunks[0].0, ct::IIKEYING);
    (net, a, b, iik)
}

/// The held IIKeying with its fields changed by `f`, re-encoded.
fn forge_iikeying(
    profile: &dyn CryptoProfile,
    held: &[u8],
    f: impl FnOnce(IIKeying<'_>) -> Vec<u8>,
) -> Vec<u8> {
    let (sid, _, chunks) = open_default(profile, held).unwrap();
    let encoded = f(iikeying_of(&chunks[0].1));
    startup(profile, sid, &[(ct::IIKEYING, encoded)])
}

fn encode_iikeying(c: IIKeying<'_>) -> Vec<u8> {
    raw(Chunk::IIKeying(c)).1
}

// ---------------------------------------------------------------------------
// Datagram and packet level
// ---------------------------------------------------------------------------

#[test]
fn truncated_datagrams_are_counted_and_change_nothing() {
    let mut o = flash_opened();
    let mut p = plain_opened();
    for bytes in [&[][..], &[0][..], &[0, 0, 0][..], &[0xff, 0xff, 0xff][..]] {
        for (net, n) in [(&mut o.net, o.a), (&mut p.net, p.a)] {
            let what = format!("{} bytes to the initiator", bytes.len());
            assert_dropped(net, n, b_addr(), bytes, Truncated, &what);
            assert_dropped(net, n, nowhere(), bytes, Truncated, &what);
        }
        for (net, n) in [(&mut o.net, o.b), (&mut p.net, p.b)] {
            let what = format!("{} bytes to the responder", bytes.len());
            assert_dropped(net, n, a_addr(), bytes, Truncated, &what);
            assert_dropped(net, n, nowhere(), bytes, Truncated, &what);
        }
    }
    // Still open and working afterwards.
    o.net.run_for(Duration::from_secs(30));
    assert!(o.net.ep(o.a).session_info(o.a_handle).unwrap().open);
}

#[test]
fn unknown_session_ids_are_counted_and_not_answered() {
    let mut o = flash_with_traffic();
    let captured = o.net.sent_with_id(o.a, o.b_rx)[0].bytes.clone();
    for sid in [o.b_rx ^ 0x0101_0101, o.a_rx, 1, u32::MAX] {
        if sid == o.b_rx {
            continue;
        }
        let what = format!("session packet re-addressed to {sid:#x}");
        let bytes = readdress(&captured, sid);
        assert_dropped(&mut o.net, o.b, a_addr(), &bytes, UnknownSessionId, &what);
    }
    // B's session ID means nothing to A.
    assert_dropped(
        &mut o.net,
        o.a,
        b_addr(),
        &captured,
        UnknownSessionId,
        "B's session ID at A",
    );
    // A perfectly good IHello under a session ID nobody has is not answered.
    let profile = o.net.ep(o.b).crypto().clone();
    let epd = epd_of(&o.net.nodes[o.b].ep);
    let ihello = raw(Chunk::IHello(IHello {
        epd: &epd,
        tag: b"0123456789abcdef",
    }));
    let bytes = startup(&*profile, 0xdead_beef, &[ihello]);
    assert_dropped(
        &mut o.net,
        o.b,
        nowhere(),
        &bytes,
        UnknownSessionId,
        "IHello",
    );
}

#[test]
fn startup_packets_with_a_bad_checksum_are_dropped() {
    let mut o = flash_opened();
    let mut p = plain_opened();
    for (net, n) in [(&mut o.net, o.b), (&mut p.net, p.b)] {
        let profile = net.ep(n).crypto().clone();
        let epd = epd_of(&net.nodes[n].ep);
        let ihello = raw(Chunk::IHello(IHello {
            epd: &epd,
            tag: b"0123456789abcdef",
        }));
        let good = startup(&*profile, 0, &[ihello]);
        // Control: the intact IHello is answered with one RHello.
        let r = net.inject(n, nowhere(), &good);
        assert!(r.drops.is_empty(), "{:?}", r.drops);
        assert_eq!(r.out.len(), 1);
        assert_eq!(r.out[0].0, nowhere());
        let len = read_multiplex(&good).unwrap().1.len();
        for i in [0, 1, 7, 8, 9, len / 2, len - 1] {
            let bad = mutate(&good, |e| e[i] ^= 0x20);
            let what = format!("byte {i} of {len} flipped");
            assert_dropped(net, n, nowhere(), &bad, Integrity, &what);
        }
        for cut in [0, 1, len - 1] {
            let bad = mutate(&good, |e| e.truncate(cut));
            let what = format!("cut to {cut} bytes");
            assert_dropped(net, n, nowhere(), &bad, Integrity, &what);
        }
    }
    // Flash: the length must be a whole number of AES blocks (RFC 7425
    // §4.7.2), so one extra byte is a bad packet too.
    let profile = o.net.ep(o.b).crypto().clone();
    let good = startup(&*profile, 0, &[(ct::PING, Vec::new())]);
    let bad = mutate(&good, |e| e.push(0));
    assert_dropped(&mut o.net, o.b, nowhere(), &bad, Integrity, "17 bytes");
}

#[test]
fn session_packets_with_a_bad_hmac_are_dropped() {
    let mut o = flash_with_traffic();
    let good = o.net.sent_with_id(o.a, o.b_rx)[0].bytes.clone();
    let len = read_multiplex(&good).unwrap().1.len();
    // The HMAC (16 bytes by default) follows the cipher blocks.
    for i in [0, 9, len / 2, len - 17, len - 16, len - 1] {
        let bad = mutate(&good, |e| e[i] ^= 0x01);
        let what = format!("byte {i} of {len} flipped");
        assert_dropped(&mut o.net, o.b, a_addr(), &bad, Integrity, &what);
    }
    for cut in [0, 16, len - 1] {
        let bad = mutate(&good, |e| e.truncate(cut));
        let what = format!("cut to {cut}");
        assert_dropped(&mut o.net, o.b, a_addr(), &bad, Integrity, &what);
    }
    let bad = mutate(&good, |e| e.extend_from_slice(&[0; 16]));
    assert_dropped(&mut o.net, o.b, a_addr(), &bad, Integrity, "extra block");
    // A packet under the Default Session Key sent to an open session's ID.
    let profile = o.net.ep(o.b).crypto().clone();
    let ping = startup(&*profile, o.b_rx, &[(ct::PING, b"hi".to_vec())]);
    assert_dropped(&mut o.net, o.b, a_addr(), &ping, Integrity, "default key");
    let ping = datagram(
        &*profile,
        o.b_rx,
        Mode::Initiator.bits(),
        &[(ct::PING, b"hi".to_vec())],
    );
    assert_dropped(
        &mut o.net,
        o.b,
        a_addr(),
        &ping,
        Integrity,
        "default key, mode 1",
    );
}

#[test]
fn replayed_session_packets_are_dropped_without_a_mobility_check() {
    let mut o = flash_with_traffic();
    let from_a = o.net.sent_with_id(o.a, o.b_rx);
    // B's datagrams under A's ID, except its RIKeying (Default Session Key).
    let profile = o.net.ep(o.a).crypto().clone();
    let (rikeying, from_b): (Vec<_>, Vec<_>) = o
        .net
        .sent_with_id(o.b, o.a_rx)
        .into_iter()
        .partition(|s| open_default(&*profile, &s.bytes).is_some());
    assert_eq!(rikeying.len(), 1);
    assert!(!from_b.is_empty());
    for s in &from_a {
        for from in [a_addr(), nowhere()] {
            assert_dropped(&mut o.net, o.b, from, &s.bytes, Replay, "A's packet again");
        }
    }
    for s in &from_b {
        for from in [b_addr(), nowhere()] {
            assert_dropped(&mut o.net, o.a, from, &s.bytes, Replay, "B's packet again");
        }
    }
    // A late RIKeying is a startup packet under an open session's ID now.
    let bytes = &rikeying[0].bytes;
    assert_dropped(&mut o.net, o.a, b_addr(), bytes, Integrity, "old RIKeying");
    // The session is undisturbed: far addresses unchanged, no address
    // change, and it keeps working.
    o.net.run_for(Duration::from_secs(30));
    let a = o.net.ep(o.a).session_info(o.a_handle).unwrap();
    let b = o.net.ep(o.b).session_info(o.b_handle).unwrap();
    assert!(a.open && b.open);
    assert_eq!((a.far_address, b.far_address), (b_addr(), a_addr()));
    assert_eq!(a.stats.address_changes + b.stats.address_changes, 0);
    assert_eq!(
        o.net.ep(o.b).stats().drops.total(),
        (from_a.len() * 2) as u64
    );
}

#[test]
fn startup_packets_with_mode_0_or_a_session_mode_are_dropped() {
    let mut o = flash_opened();
    let profile = o.net.ep(o.b).crypto().clone();
    let epd = epd_of(&o.net.nodes[o.b].ep);
    let ihello = raw(Chunk::IHello(IHello {
        epd: &epd,
        tag: b"0123456789abcdef",
    }));
    for n in [o.a, o.b] {
        // §2.2.4: mode 0 is forbidden and MUST be discarded.
        let bytes = datagram(&*profile, 0, 0, std::slice::from_ref(&ihello));
        assert_dropped(&mut o.net, n, nowhere(), &bytes, BadHeader, "mode 0");
        for mode in [Mode::Initiator, Mode::Responder] {
            let bytes = datagram(&*profile, 0, mode.bits(), std::slice::from_ref(&ihello));
            let what = format!("{mode:?} at session 0");
            assert_dropped(&mut o.net, n, nowhere(), &bytes, WrongMode, &what);
        }
    }
}

#[test]
fn session_packets_with_mode_0_startup_mode_or_our_own_mark_are_dropped() {
    let mut p = plain_opened();
    let profile = p.net.ep(p.b).crypto().clone();
    let ping = (ct::PING, b"x".to_vec());
    // Control: a mode 1 Ping from the initiator is answered.
    let good = datagram(
        &*profile,
        p.b_rx,
        Mode::Initiator.bits(),
        std::slice::from_ref(&ping),
    );
    let r = p.net.inject(p.b, a_addr(), &good);
    assert!(r.drops.is_empty() && r.out.len() == 1, "{r:?}");
    // B is the responder: it accepts only the Initiator Mark (§2.2.4).
    let cases = [
        (0, BadHeader),
        (Mode::Responder.bits(), WrongMode),
        (Mode::Startup.bits(), WrongMode),
    ];
    for (mode, reason) in cases {
        let bytes = datagram(&*profile, p.b_rx, mode, std::slice::from_ref(&ping));
        let what = format!("mode {mode} to the responder");
        assert_dropped(&mut p.net, p.b, a_addr(), &bytes, reason, &what);
    }
    // A is the initiator: it accepts only the Responder Mark.
    let cases = [
        (0, BadHeader),
        (Mode::Initiator.bits(), WrongMode),
        (Mode::Startup.bits(), WrongMode),
    ];
    for (mode, reason) in cases {
        let bytes = datagram(&*profile, p.a_rx, mode, std::slice::from_ref(&ping));
        let what = format!("mode {mode} to the initiator");
        assert_dropped(&mut p.net, p.a, b_addr(), &bytes, reason, &what);
    }
    // A packet too short for its header: no flags byte, or the TS flag
    // without a timestamp.  (Under the Flash Default Session Key the
    // cipher's 0xff padding would fill such a header in.)
    for sid in [p.b_rx, 0] {
        for plain in [&[][..], &[0x0b][..], &[0x0d, 0][..]] {
            let bytes = seal(&*profile, sid, plain);
            let what = format!("header {plain:?} at session {sid:#x}");
            assert_dropped(&mut p.net, p.b, a_addr(), &bytes, BadHeader, &what);
        }
    }
}

#[test]
fn chunks_in_the_wrong_mode_are_skipped_and_counted() {
    let mut p = plain_opened();
    let profile = p.net.ep(p.b).crypto().clone();
    let epd = epd_of(&p.net.nodes[p.b].ep);
    let tag = b"0123456789abcdef";
    let ihello = raw(Chunk::IHello(IHello { epd: &epd, tag }));
    let cookie = [7u8; 29];
    let startup_chunks = [
        ihello.clone(),
        raw(Chunk::RHello(RHello {
            tag_echo: tag,
            cookie: &cookie,
            certificate: b"bob",
        })),
        raw(Chunk::Redirect(Redirect {
            tag_echo: tag,
            addresses: AddressList::parse(&[]).unwrap(),
        })),
        raw(Chunk::CookieChange(CookieChange {
            old_cookie: &cookie,
            new_cookie: &cookie,
        })),
        raw(Chunk::IIKeying(IIKeying {
            initiator_session_id: 9,
            cookie_echo: &cookie,
            certificate: b"alice",
            skic: b"I",
            signature: b"",
        })),
        raw(Chunk::RIKeying(RIKeying {
            responder_session_id: 9,
            skrc: b"R",
            signature: b"",
        })),
    ];
    // Startup chunks inside an open session's packet (§2.2.4, §2.3).
    for chunk in &startup_chunks {
        let bytes = datagram(
            &*profile,
            p.b_rx,
            Mode::Initiator.bits(),
            std::slice::from_ref(chunk),
        );
        let what = format!("chunk {:#x} in a session packet", chunk.0);
        assert_chunk_dropped(&mut p.net, p.b, a_addr(), &bytes, ChunkInWrongMode, &what);
    }
    // Session chunks inside startup packets, to both ends.
    let fihello = raw(Chunk::FIHello(FIHello {
        epd: &epd,
        reply_address: Address::new(nowhere(), AddressOrigin::Reflexive),
        tag,
    }));
    let session_chunks = [
        (ct::PING, b"ping".to_vec()),
        (ct::PING_REPLY, b"pong".to_vec()),
        (ct::CLOSE, Vec::new()),
        (ct::CLOSE_ACK, Vec::new()),
        (ct::BUFFER_PROBE, vec![1]),
        (0x99, vec![1, 2, 3]),
        fihello,
    ];
    for n in [p.a, p.b] {
        let from = if n == p.a { b_addr() } else { a_addr() };
        for chunk in &session_chunks {
            let bytes = startup(&*profile, 0, std::slice::from_ref(chunk));
            let what = format!("chunk {:#x} in a startup packet", chunk.0);
            assert_dropped(&mut p.net, n, from, &bytes, ChunkInWrongMode, &what);
        }
    }
    // The same with the Flash Default Session Key.
    let mut o = flash_opened();
    let profile = o.net.ep(o.b).crypto().clone();
    for chunk in &session_chunks {
        let bytes = startup(&*profile, 0, std::slice::from_ref(chunk));
        let what = format!("chunk {:#x} in a Flash startup packet", chunk.0);
        assert_dropped(&mut o.net, o.b, a_addr(), &bytes, ChunkInWrongMode, &what);
    }
    // A bad chunk is skipped; the good chunk after it is still handled.
    let bytes = datagram(
        &*p.net.ep(p.b).crypto().clone(),
        p.b_rx,
        Mode::Initiator.bits(),
        &[ihello, (ct::PING, b"still here".to_vec())],
    );
    let r = p.net.inject(p.b, a_addr(), &bytes);
    assert_eq!(r.drops, vec![(ChunkInWrongMode, 1)]);
    assert_eq!(r.out.len(), 1, "the Ping is answered");
    let (_, mode, chunks) = open_default(&*plain("x"), &r.out[0].1).unwrap();
    assert_eq!(mode, Mode::Responder);
    assert_eq!(chunks, vec![(ct::PING_REPLY, b"still here".to_vec())]);
}

// ---------------------------------------------------------------------------
// Startup chunk handlers
// ---------------------------------------------------------------------------

#[test]
fn malformed_startup_chunks_are_counted_at_responder_and_initiator() {
    let (mut net, a, b, held) = held_iikeying(FlashConfig::client(), FlashConfig::server());
    let profile = net.ep(b).crypto().clone();
    let (sid, _, chunks) = open_default(&*profile, &held.bytes).unwrap();
    assert_eq!(sid, 0);
    let isid = iikeying_of(&chunks[0].1).initiator_session_id;
    let malformed: Vec<RawChunk> = vec![
        // IHello: EPD length missing or overrunning (§2.3.2).
        (ct::IHELLO, vec![]),
        (ct::IHELLO, vec![0x80]),
        (ct::IHELLO, vec![5, 1, 2]),
        // RHello: tag or cookie overrunning (§2.3.4).
        (ct::RHELLO, vec![]),
        (ct::RHELLO, vec![16, 1, 2, 3]),
        (ct::RHELLO, vec![2, 1, 2, 40, 0]),
        // Redirect: tag overrunning, then a cut address (§2.3.5).
        (ct::REDIRECT, vec![]),
        (ct::REDIRECT, vec![9, 1]),
        (ct::REDIRECT, vec![1, 0xaa, 0x00, 192, 0, 2]),
        (
            ct::REDIRECT,
            vec![1, 0xaa, 0x80, 0x20, 0x01, 0x0d, 0xb8, 0, 0],
        ),
        // Cookie Change: old cookie overrunning (§2.3.6).
        (ct::COOKIE_CHANGE, vec![]),
        (ct::COOKIE_CHANGE, vec![64, 1]),
        // IIKeying: short session ID, then each length overrunning (§2.3.7).
        (ct::IIKEYING, vec![]),
        (ct::IIKEYING, vec![0, 0, 1]),
        (ct::IIKEYING, vec![0, 0, 0, 1]),
        (ct::IIKEYING, vec![0, 0, 0, 1, 29, 1, 2]),
        (ct::IIKEYING, vec![0, 0, 0, 1, 1, 7, 100, 1]),
        (ct::IIKEYING, vec![0, 0, 0, 1, 1, 7, 1, 0xc3, 0x80]),
        // RIKeying: short session ID, then SKRC overrunning (§2.3.8).
        (ct::RIKEYING, vec![]),
        (ct::RIKEYING, vec![0, 0, 1]),
        (ct::RIKEYING, vec![0, 0, 0, 1, 0x20]),
    ];
    for (ty, payload) in &malformed {
        let chunk = [(*ty, payload.clone())];
        // At session 0, to the responder and to the keying initiator.
        for (n, from) in [(b, a_addr()), (a, b_addr())] {
            let bytes = startup(&*profile, 0, &chunk);
            let what = format!("chunk {ty:#x} {payload:?} at session 0 to node {n}");
            assert_dropped(&mut net, n, from, &bytes, MalformedChunk, &what);
        }
        // Under the initiator's receive session ID, where RIKeying and
        // Cookie Change are expected.
        let bytes = startup(&*profile, isid, &chunk);
        let what = format!("chunk {ty:#x} {payload:?} at the ISID");
        assert_dropped(&mut net, a, b_addr(), &bytes, MalformedChunk, &what);
    }
    // A chunk whose length runs past the end is padding (§2.2.4): nothing
    // happens, and nothing is counted.
    let mut plain = vec![Mode::Startup.bits(), ct::IHELLO, 0, 40, 1, 2];
    let bytes = seal(&*profile, 0, &plain);
    let before = net.snapshot(b);
    let r = net.inject(b, a_addr(), &bytes);
    assert!(
        r.drops.is_empty() && r.events.is_empty() && r.out.is_empty(),
        "{r:?}"
    );
    assert_eq!(net.snapshot(b), before);
    plain.truncate(1);
    plain.extend_from_slice(&[0xff; 20]);
    let bytes = seal(&*profile, 0, &plain);
    let r = net.inject(b, a_addr(), &bytes);
    assert!(
        r.drops.is_empty() && r.events.is_empty() && r.out.is_empty(),
        "{r:?}"
    );
    // None of it disturbed the handshake: the held IIKeying opens.
    net.in_flight.push(held);
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.opened(a).len(), 1);
    assert_eq!(net.opened(b).len(), 1);
}

#[test]
fn startup_chunks_for_no_opening_or_the_wrong_state_are_counted() {
    let (mut net, a, b, held) = held_iikeying(FlashConfig::client(), FlashConfig::server());
    let profile = net.ep(a).crypto().clone();
    let tag = ihello_tag(&net, a);
    let (_, _, chunks) = open_default(&*profile, &held.bytes).unwrap();
    let isid = iikeying_of(&chunks[0].1).initiator_session_id;
    let rhello_sent = net.startup_sent(b, ct::RHELLO)[0].0.bytes.clone();
    let (_, _, rh) = open_default(&*profile, &rhello_sent).unwrap();
    let rhello = rhello_of(&rh[0].1);
    let b_cert = rhello.certificate.to_vec();
    let cookie = rhello.cookie.to_vec();
    let other_tag = b"not a tag of ours";
    let empty = AddressList::parse(&[]).unwrap();
    let some = AddressList::encode(&[Address::new(nowhere(), AddressOrigin::Reflexive)]);
    let some = AddressList::parse(&some).unwrap();

    let unknown = [
        raw(Chunk::RHello(RHello {
            tag_echo: other_tag,
            cookie: &cookie,
            certificate: &b_cert,
        })),
        raw(Chunk::Redirect(Redirect {
            tag_echo: other_tag,
            addresses: some,
        })),
        raw(Chunk::Redirect(Redirect {
            tag_echo: other_tag,
            addresses: empty,
        })),
    ];
    for chunk in &unknown {
        for (n, from) in [(a, b_addr()), (b, a_addr())] {
            let bytes = startup(&*profile, 0, std::slice::from_ref(chunk));
            let what = format!("{:#x} with an unknown tag to node {n}", chunk.0);
            assert_dropped(&mut net, n, from, &bytes, NoMatchingOpening, &what);
        }
    }
    // A is in S_KEYING_SENT: a late RHello or Redirect for its tag is
    // ignored (§3.5.1.1.1: only in S_IHELLO_SENT).
    let epd = epd_of(&net.nodes[b].ep);
    let rikeying = raw(Chunk::RIKeying(RIKeying {
        responder_session_id: 77,
        skrc: b"x",
        signature: b"",
    }));
    let ignored: Vec<(usize, SocketAddr, u32, RawChunk)> = vec![
        (a, b_addr(), 0, rh[0].clone()),
        (
            a,
            nowhere(),
            0,
            raw(Chunk::RHello(RHello {
                tag_echo: &tag,
                cookie: &cookie,
                certificate: &b_cert,
            })),
        ),
        (
            a,
            nowhere(),
            0,
            raw(Chunk::Redirect(Redirect {
                tag_echo: &tag,
                addresses: some,
            })),
        ),
        // RIKeying and Cookie Change belong under the ISID, not session 0.
        (a, b_addr(), 0, rikeying.clone()),
        (b, a_addr(), 0, rikeying),
        (
            a,
            b_addr(),
            0,
            raw(Chunk::CookieChange(CookieChange {
                old_cookie: &cookie,
                new_cookie: &cookie,
            })),
        ),
        // An IHello or IIKeying under an opening session's ID.
        (
            a,
            b_addr(),
            isid,
            raw(Chunk::IHello(IHello {
                epd: &epd,
                tag: &tag,
            })),
        ),
        (a, b_addr(), isid, chunks[0].clone()),
        // A Cookie Change whose old cookie is not the one A sent.
        (
            a,
            b_addr(),
            isid,
            raw(Chunk::CookieChange(CookieChange {
                old_cookie: &[1; 29],
                new_cookie: &cookie,
            })),
        ),
    ];
    for (n, from, sid, chunk) in &ignored {
        let bytes = startup(&*profile, *sid, std::slice::from_ref(chunk));
        let what = format!("{:#x} at session {sid:#x} to node {n}", chunk.0);
        assert_dropped(&mut net, *n, *from, &bytes, Ignored, &what);
    }
    // The handshake still completes.
    net.in_flight.push(held);
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.opened(a), vec![(SessionHandle(1), b_addr())]);
    assert_eq!(net.ep(a).stats().drops.get(Ignored), 8);
}

#[test]
fn rhello_with_a_certificate_the_epd_does_not_select_is_refused_and_opening_continues() {
    let mut net = Net::new();
    let a = net.add(
        flash(FlashConfig::client(), 1),
        1,
        EndpointConfig::default(),
        a_addr(),
    );
    let b = net.add(
        flash(FlashConfig::server(), 2),
        2,
        EndpointConfig::default(),
        b_addr(),
    );
    let impostor = flash(FlashConfig::server(), 3);
    let impostor_addr = sa("203.0.113.66:1935");
    let epd = epd_of(&net.nodes[b].ep);
    let now = net.now;
    let handle = net
        .ep(a)
        .connect(now, epd, &[impostor_addr, b_addr()])
        .unwrap();
    net.collect();
    let tag = ihello_tag(&net, a);
    let cookie = [3u8; 29];
    for cert in [impostor.certificate(), &b"not a certificate"[..], &[][..]] {
        let rhello = raw(Chunk::RHello(RHello {
            tag_echo: &tag,
            cookie: &cookie,
            certificate: cert,
        }));
        let bytes = startup(&*impostor, 0, &[rhello]);
        let what = format!("RHello with a {}-byte certificate", cert.len());
        assert_dropped(&mut net, a, impostor_addr, &bytes, BadKeying, &what);
    }
    // The real server's RHello still wins.
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.opened(a), vec![(handle, b_addr())]);
    let info = net.ep(a).session_info(handle).unwrap();
    assert_eq!(info.far_peer_id, net.nodes[b].ep.peer_id());
}

// ---------------------------------------------------------------------------
// Cookies and keying
// ---------------------------------------------------------------------------

#[test]
fn iikeying_with_a_forged_cookie_is_dropped() {
    let (mut net, a, b, held) = held_iikeying(FlashConfig::client(), FlashConfig::server());
    let profile = net.ep(a).crypto().clone();
    // A cookie made by another endpoint with the same identity.
    let mut other = Endpoint::new(
        EndpointConfig {
            rng_seed: Some(99),
            ..EndpointConfig::default()
        },
        flash(FlashConfig::server(), 2),
        net.now,
    );
    let epd = epd_of(&other);
    let ihello = raw(Chunk::IHello(IHello {
        epd: &epd,
        tag: b"tag",
    }));
    other.handle_datagram(
        net.now,
        b_addr(),
        a_addr(),
        &startup(&*profile, 0, &[ihello]),
    );
    let mut buf = Vec::new();
    other.poll_transmit(net.now, &mut buf).unwrap();
    let (_, _, rh) = open_default(&*profile, &buf).unwrap();
    let foreign_cookie = rhello_of(&rh[0].1).cookie.to_vec();

    let (_, _, chunks) = open_default(&*profile, &held.bytes).unwrap();
    let cookie = iikeying_of(&chunks[0].1).cookie_echo.to_vec();
    assert_eq!(cookie.len(), 64);
    let mut forgeries: Vec<(String, Vec<u8>)> = vec![
        ("empty".into(), vec![]),
        ("random".into(), {
            let mut c = vec![0; 64];
            StdRng::seed_from_u64(5).fill_bytes(&mut c);
            c
        }),
        ("one byte short".into(), cookie[..63].to_vec()),
        ("one byte long".into(), [&cookie[..], &[0]].concat()),
        ("from another endpoint".into(), foreign_cookie),
    ];
    // Any damage to the version, slot or slot tag.
    for i in [0, 1, 4, 5, 31] {
        let mut c = cookie.clone();
        c[i] ^= 0x01;
        forgeries.push((format!("byte {i} flipped"), c));
    }
    for (what, forged) in &forgeries {
        let bytes = forge_iikeying(&*profile, &held.bytes, |c| {
            encode_iikeying(IIKeying {
                cookie_echo: forged,
                ..c
            })
        });
        assert_dropped(&mut net, b, a_addr(), &bytes, BadCookie, what);
        assert_eq!(net.ep(b).poll_timeout(), None, "{what}: no state");
    }
    // A cookie with an authentic slot tag but the wrong address tag looks
    // like a genuine cookie for another address (§3.5.1.2): it earns only
    // a Cookie Change to the sender, and still no state.
    let mut other_address = cookie.clone();
    other_address[63] ^= 0x01;
    let bytes = forge_iikeying(&*profile, &held.bytes, |c| {
        encode_iikeying(IIKeying {
            cookie_echo: &other_address,
            ..c
        })
    });
    let r = net.inject(b, a_addr(), &bytes);
    assert!(r.drops.is_empty() && r.events.is_empty(), "{r:?}");
    assert_eq!(r.out.len(), 1);
    assert_eq!(r.out[0].0, a_addr());
    let (_, _, cc) = open_default(&*profile, &r.out[0].1).unwrap();
    assert_eq!(cookie_change_of(&cc[0].1).old_cookie, &other_address[..]);
    assert_eq!(
        (net.ep(b).session_count(), net.ep(b).poll_timeout()),
        (0, None)
    );
    // The genuine IIKeying opens.
    let r = net.inject(b, a_addr(), &held.bytes);
    assert!(r.drops.is_empty(), "{r:?}");
    assert!(
        matches!(r.events[..], [Event::SessionOpened { .. }]),
        "{r:?}"
    );
}

#[test]
fn iikeying_with_an_expired_cookie_is_dropped() {
    // Cookies live two to three slots of 60 s (§3.5.1.1.2: at least 95 s).
    let slot = EndpointConfig::default().cookie_slot;
    assert_eq!(slot, Duration::from_secs(60));
    let (mut net, _, b, held) = held_iikeying(FlashConfig::client(), FlashConfig::server());
    net.now = held.at + slot * 3;
    assert_dropped(&mut net, b, a_addr(), &held.bytes, BadCookie, "3 slots");
    net.now += Duration::from_secs(3600);
    assert_dropped(&mut net, b, a_addr(), &held.bytes, BadCookie, "an hour");
    assert_eq!(
        (net.ep(b).session_count(), net.ep(b).poll_timeout()),
        (0, None)
    );
    // The same IIKeying (same seeds, same bytes) within two slots opens.
    let (mut net, _, b, again) = held_iikeying(FlashConfig::client(), FlashConfig::server());
    assert_eq!(again.bytes, held.bytes);
    net.now = held.at + slot * 2 + Duration::from_secs(50);
    let r = net.inject(b, a_addr(), &again.bytes);
    assert!(r.drops.is_empty(), "{r:?}");
    assert!(
        matches!(r.events[..], [Event::SessionOpened { .. }]),
        "{r:?}"
    );
}

#[test]
fn iikeying_with_a_bad_signature_is_dropped() {
    let client = FlashConfig {
        sign_password: Some(password()),
        ..FlashConfig::client()
    };
    let server = FlashConfig {
        require_signature: true,
        verify_passwords: vec![password()],
        ..FlashConfig::server()
    };
    let (mut net, a, b, held) = held_iikeying(client, server);
    let profile = net.ep(a).crypto().clone();
    let (_, _, chunks) = open_default(&*profile, &held.bytes).unwrap();
    let signature = iikeying_of(&chunks[0].1).signature.to_vec();
    assert!(signature.len() > 32);
    let mut forgeries = Vec::new();
    let bytes = forge_iikeying(&*profile, &held.bytes, |c| {
        encode_iikeying(IIKeying {
            signature: b"",
            ..c
        })
    });
    forgeries.push(("empty signature".to_string(), bytes));
    for i in [2, 10, signature.len() - 1] {
        let mut s = signature.clone();
        s[i] ^= 0x01;
        let bytes = forge_iikeying(&*profile, &held.bytes, |c| {
            encode_iikeying(IIKeying { signature: &s, ..c })
        });
        forgeries.push((format!("signature byte {i} flipped"), bytes));
    }
    // The signature covers the signed parameters (§2.3.7).
    let bytes = forge_iikeying(&*profile, &held.bytes, |c| {
        encode_iikeying(IIKeying {
            initiator_session_id: c.initiator_session_id ^ 1,
            ..c
        })
    });
    forgeries.push(("session ID changed".to_string(), bytes));
    for (what, bytes) in &forgeries {
        assert_dropped(&mut net, b, a_addr(), bytes, BadKeying, what);
    }
    let r = net.inject(b, a_addr(), &held.bytes);
    assert!(
        matches!(r.events[..], [Event::SessionOpened { .. }]),
        "{r:?}"
    );
}

#[test]
fn iikeying_with_a_garbage_skic_is_dropped() {
    let (mut net, a, b, held) = held_iikeying(FlashConfig::client(), FlashConfig::server());
    let profile = net.ep(a).crypto().clone();
    let (_, _, chunks) = open_default(&*profile, &held.bytes).unwrap();
    let skic = iikeying_of(&chunks[0].1).skic.to_vec();
    let skics: Vec<Vec<u8>> = vec![
        vec![],
        b"garbage".to_vec(),
        skic[..skic.len() / 2].to_vec(),
        vec![0xff; skic.len()],
    ];
    for bad in &skics {
        let bytes = forge_iikeying(&*profile, &held.bytes, |c| {
            encode_iikeying(IIKeying { skic: bad, ..c })
        });
        let what = format!("{}-byte SKIC", bad.len());
        assert_dropped(&mut net, b, a_addr(), &bytes, BadKeying, &what);
    }
    // A certificate that is not one.
    let bytes = forge_iikeying(&*profile, &held.bytes, |c| {
        encode_iikeying(IIKeying {
            certificate: b"junk",
            ..c
        })
    });
    assert_dropped(&mut net, b, a_addr(), &bytes, BadKeying, "junk certificate");
    let r = net.inject(b, a_addr(), &held.bytes);
    assert!(
        matches!(r.events[..], [Event::SessionOpened { .. }]),
        "{r:?}"
    );

    // The plain profile refuses an SKIC without its 'I' mark.
    let mut net = Net::new();
    let a = net.add(plain("alice"), 1, EndpointConfig::default(), a_addr());
    let b = net.add(plain("bob"), 2, EndpointConfig::default(), b_addr());
    let now = net.now;
    net.ep(a)
        .connect(now, b"bob".to_vec(), &[b_addr()])
        .unwrap();
    net.run_for(Duration::from_millis(60));
    let held = net.hold(b_addr()).pop().unwrap();
    let profile = net.ep(a).crypto().clone();
    let bytes = forge_iikeying(&*profile, &held.bytes, |c| {
        encode_iikeying(IIKeying { skic: b"X", ..c })
    });
    assert_dropped(&mut net, b, a_addr(), &bytes, BadKeying, "plain SKIC");
}

#[test]
fn overriding_iikeying_with_a_garbage_skic_leaves_the_open_session_alone() {
    let mut o = flash_opened();
    let profile = o.net.ep(o.a).crypto().clone();
    let original = o.net.startup_sent(o.a, ct::IIKEYING)[0].0.bytes.clone();
    // Same certificate (so it "overrides"), cookie still fresh, same
    // source address, but an SKIC no keying accepts.
    let bytes = forge_iikeying(&*profile, &original, |c| {
        encode_iikeying(IIKeying {
            skic: b"garbage",
            ..c
        })
    });
    assert_dropped(&mut o.net, o.b, a_addr(), &bytes, BadKeying, "garbage SKIC");
    assert!(o.net.ep(o.b).session_info(o.b_handle).unwrap().open);
}

#[test]
fn glare_iikeying_with_a_garbage_skic_does_not_abort_our_opening() {
    // Two peers; the one whose certificate sorts last loses glare
    // (RFC 7425 §4.3.6), so it is the victim.
    let (p1, p2) = (
        flash(FlashConfig::client(), 1),
        flash(FlashConfig::client(), 3),
    );
    let (victim, other) = if p1.certificate() > p2.certificate() {
        (p1, p2)
    } else {
        (p2, p1)
    };
    let mut net = Net::new();
    let v = net.add(victim, 1, EndpointConfig::default(), a_addr());
    let w = net.add(other.clone(), 3, EndpointConfig::default(), b_addr());
    let epd_w = epd_of(&net.nodes[w].ep);
    let now = net.now;
    let handle = net.ep(v).connect(now, epd_w, &[b_addr()]).unwrap();
    net.run_for(Duration::from_millis(60));
    let held = net.hold(b_addr()).pop().unwrap();
    // The forger, at W's address, gets a cookie from V with an IHello...
    let epd_v = epd_of(&net.nodes[v].ep);
    let ihello = raw(Chunk::IHello(IHello {
        epd: &epd_v,
        tag: b"forger's tag",
    }));
    let r = net.inject(v, b_addr(), &startup(&*other, 0, &[ihello]));
    let (_, _, rh) = open_default(&*other, &r.out[0].1).unwrap();
    let cookie = rhello_of(&rh[0].1).cookie.to_vec();
    // ...and sends an IIKeying with W's certificate and a garbage SKIC.
    let iik = encode_iikeying(IIKeying {
        initiator_session_id: 0x4242,
        cookie_echo: &cookie,
        certificate: other.certificate(),
        skic: b"garbage",
        signature: b"",
    });
    let bytes = startup(&*other, 0, &[(ct::IIKEYING, iik)]);
    assert_dropped(&mut net, v, b_addr(), &bytes, BadKeying, "glare, bad SKIC");
    net.in_flight.push(held);
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.opened(v), vec![(handle, b_addr())]);
}

#[test]
fn rikeying_with_a_bad_signature_is_dropped_and_the_real_one_opens() {
    let client = FlashConfig {
        require_signature: true,
        verify_passwords: vec![password()],
        ..FlashConfig::client()
    };
    let server = FlashConfig {
        sign_password: Some(password()),
        ..FlashConfig::server()
    };
    let (mut net, a, b, held) = held_iikeying(client, server);
    let profile = net.ep(a).crypto().clone();
    let (_, _, chunks) = open_default(&*profile, &held.bytes).unwrap();
    let isid = iikeying_of(&chunks[0].1).initiator_session_id;
    for signature in [&b""[..], &[0x21, 0x01, 0x00][..], &[0xaa; 40][..]] {
        let rik = raw(Chunk::RIKeying(RIKeying {
            responder_session_id: 0x1234_5678,
            skrc: b"junk",
            signature,
        }));
        let bytes = startup(&*profile, isid, &[rik]);
        let what = format!("{}-byte signature", signature.len());
        assert_dropped(&mut net, a, b_addr(), &bytes, BadKeying, &what);
    }
    net.in_flight.push(held);
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.opened(a).len(), 1);
    assert_eq!(net.opened(b).len(), 1);
}

#[test]
fn forged_rikeying_with_a_garbage_skrc_does_not_abort_the_opening() {
    let (mut net, a, b, held) = held_iikeying(FlashConfig::client(), FlashConfig::server());
    let profile = net.ep(a).crypto().clone();
    let (_, _, chunks) = open_default(&*profile, &held.bytes).unwrap();
    let isid = iikeying_of(&chunks[0].1).initiator_session_id;
    let rik = raw(Chunk::RIKeying(RIKeying {
        responder_session_id: 0x1234_5678,
        skrc: b"garbage",
        signature: b"",
    }));
    let bytes = startup(&*profile, isid, &[rik]);
    assert_dropped(&mut net, a, b_addr(), &bytes, BadKeying, "garbage SKRC");
    net.in_flight.push(held);
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.opened(a).len(), 1, "{:?}", net.nodes[a].events);
    assert_eq!(net.opened(b).len(), 1);
}

// ---------------------------------------------------------------------------
// Cookie Change (§3.5.1.2)
// ---------------------------------------------------------------------------

/// A connects to B; its IHello leaves from `first`, then its mapping moves
/// to `second` (as after a NAT rebinding) before the IIKeying.
fn rebinding_handshake(first: SocketAddr, second: SocketAddr) -> (Net, usize, usize) {
    let mut net = Net::new();
    let a = net.add(
        flash(FlashConfig::client(), 1),
        1,
        EndpointConfig::default(),
        first,
    );
    let b = net.add(
        flash(FlashConfig::server(), 2),
        2,
        EndpointConfig::default(),
        b_addr(),
    );
    let epd = epd_of(&net.nodes[b].ep);
    let now = net.now;
    net.ep(a).connect(now, epd, &[b_addr()]).unwrap();
    net.collect();
    net.rebind(a, second);
    // The RHello reaches A (at `first`) at 50 ms; the IIKeying leaves
    // from `second`.
    net.run_for(Duration::from_millis(60));
    assert_eq!(net.startup_sent(a, ct::IIKEYING).len(), 1);
    (net, a, b)
}

#[test]
fn cookie_change_after_a_nat_rebinding_opens_at_the_new_address() {
    let (first, second) = (sa("192.0.2.1:5000"), sa("192.0.2.1:61000"));
    let (mut net, a, b) = rebinding_handshake(first, second);
    let profile = net.ep(a).crypto().clone();
    let isid = iikeying_of(&net.startup_sent(a, ct::IIKEYING)[0].2).initiator_session_id;
    // Hostile Cookie Changes while A is in S_KEYING_SENT.
    let rhello = net.startup_sent(b, ct::RHELLO);
    let c1 = rhello_of(&rhello[0].2).cookie.to_vec();
    let wrong_old = raw(Chunk::CookieChange(CookieChange {
        old_cookie: &[9; 29],
        new_cookie: &[8; 29],
    }));
    let bytes = startup(&*profile, isid, &[wrong_old]);
    assert_dropped(&mut net, a, b_addr(), &bytes, Ignored, "wrong old cookie");
    let bytes = startup(&*profile, isid, &[(ct::COOKIE_CHANGE, vec![29, 1, 2])]);
    assert_dropped(&mut net, a, b_addr(), &bytes, MalformedChunk, "cut");

    net.run_for(Duration::from_secs(1));

    // The RHello went to the IHello's source, with cookie c1.
    assert_eq!(rhello.len(), 1);
    assert_eq!(rhello[0].0.dst, first);
    // The IIKeying came from `second`: one Cookie Change to `second`,
    // under A's session ID, from c1 to a new cookie c2 (decoded).
    let changes = net.startup_sent(b, ct::COOKIE_CHANGE);
    assert_eq!(changes.len(), 1);
    let (sent, sid, payload) = &changes[0];
    assert_eq!((sent.dst, *sid), (second, isid));
    let change = cookie_change_of(payload);
    assert_eq!(change.old_cookie, &c1[..]);
    let c2 = change.new_cookie.to_vec();
    assert_ne!(c2, c1);
    assert_eq!(c2.len(), c1.len());
    // A adopted c2 once: its IIKeyings echo c1, then c2, same ISID and SKIC.
    let iiks = net.startup_sent(a, ct::IIKEYING);
    let cookies: Vec<_> = iiks
        .iter()
        .map(|i| iikeying_of(&i.2).cookie_echo.to_vec())
        .collect();
    assert_eq!(cookies, vec![c1, c2]);
    let (k0, k1) = (iikeying_of(&iiks[0].2), iikeying_of(&iiks[1].2));
    assert_eq!(
        (k0.initiator_session_id, k0.skic),
        (k1.initiator_session_id, k1.skic)
    );
    assert!(iiks.iter().all(|i| i.0.src == second));
    // The session opened at both ends, B's far address the new mapping.
    let rik = net.startup_sent(b, ct::RIKEYING);
    assert_eq!(rik.len(), 1);
    assert_eq!(rik[0].0.dst, second);
    let (b_handle, b_far) = net.opened(b)[0];
    assert_eq!(b_far, second);
    assert_eq!(
        net.ep(b).session_info(b_handle).unwrap().far_address,
        second
    );
    assert_eq!(net.opened(a)[0].1, b_addr());
    assert_eq!(
        net.ep(b).stats().drops.total(),
        0,
        "{}",
        net.ep(b).stats().drops
    );
    assert_eq!(
        net.ep(a).stats().drops.total(),
        2,
        "{}",
        net.ep(a).stats().drops
    );
    // And it carries traffic.
    net.run_for(Duration::from_secs(30));
    assert!(net.ep(b).session_info(b_handle).unwrap().open);
    assert_eq!(net.ep(b).stats().drops.total(), 0);
}

#[test]
fn a_second_cookie_change_for_the_same_session_is_ignored() {
    // The mapping moves twice: IHello from `first`, the first IIKeying
    // from `second`, everything after from `third`.
    let (first, second, third) = (
        sa("192.0.2.1:5000"),
        sa("192.0.2.1:61000"),
        sa("192.0.2.1:62000"),
    );
    let (mut net, a, b) = rebinding_handshake(first, second);
    net.rebind(a, third);
    net.run_for(Duration::from_secs(10));
    let changes = net.startup_sent(b, ct::COOKIE_CHANGE);
    assert!(changes.len() >= 2, "{}", changes.len());
    let c1 = rhello_of(&net.startup_sent(b, ct::RHELLO)[0].2)
        .cookie
        .to_vec();
    let first_change = cookie_change_of(&changes[0].2);
    assert_eq!(
        (changes[0].0.dst, first_change.old_cookie),
        (second, &c1[..])
    );
    let c2 = first_change.new_cookie.to_vec();
    for (sent, _, payload) in &changes[1..] {
        let change = cookie_change_of(payload);
        assert_eq!((sent.dst, change.old_cookie), (third, &c2[..]));
    }
    // A changed its cookie once (§3.5.1.2: SHOULD NOT more than once): its
    // IIKeyings echo c1 once and c2 ever after.
    let cookies: Vec<_> = net
        .startup_sent(a, ct::IIKEYING)
        .iter()
        .map(|i| iikeying_of(&i.2).cookie_echo.to_vec())
        .collect();
    assert!(cookies.len() >= 3, "{}", cookies.len());
    assert_eq!(cookies[0], c1);
    assert!(cookies[1..].iter().all(|c| *c == c2));
    // Every later Cookie Change was ignored and counted; nothing opened.
    let drops = net.ep(a).stats().drops.clone();
    assert!(drops.get(Ignored) >= 1, "{drops}");
    assert_eq!(drops.total(), drops.get(Ignored), "{drops}");
    assert_eq!(net.ep(a).opening_count(), 1);
    assert_eq!(net.ep(b).session_count(), 0);
    assert!(net.opened(a).is_empty() && net.opened(b).is_empty());
}

// ---------------------------------------------------------------------------
// Forwarded IHello policies (§3.5.1.1.2) and redirects (§3.5.1.1.1)
// ---------------------------------------------------------------------------

/// Server S with a session from target T (whose FIHello policy is
/// `policy`).  S forwards two IHellos to T over it: one for T's EPD and
/// one for an EPD that is not T's.  Returns the startup chunks T sent to
/// the initiator's reply address, and T's drops.
fn forward_ihellos(policy: FIHelloPolicy) -> (Vec<(u32, Vec<RawChunk>)>, DropCounts) {
    let reply = sa("192.0.2.77:7777");
    let tag = b"introduction tag";
    let mut net = Net::new();
    let t = net.add(
        flash(FlashConfig::client(), 1),
        1,
        EndpointConfig {
            fihello_policy: policy,
            ..EndpointConfig::default()
        },
        a_addr(),
    );
    let s = net.add(
        flash(FlashConfig::server(), 2),
        2,
        EndpointConfig::default(),
        b_addr(),
    );
    let o = open(net, t, s);
    let mut net = o.net;
    let epd_t = epd_of(&net.nodes[t].ep);
    let epd_s = epd_of(&net.nodes[s].ep);
    net.ep(s)
        .send_forwarded_ihello(o.b_handle, &epd_t, tag, reply)
        .unwrap();
    net.ep(s)
        .send_forwarded_ihello(o.b_handle, &epd_s, tag, reply)
        .unwrap();
    net.run_for(Duration::from_secs(1));
    assert!(net.ep(t).session_info(o.a_handle).unwrap().open);
    let profile = net.ep(t).crypto().clone();
    let to_reply = net
        .log
        .iter()
        .filter(|x| x.node == t && x.dst == reply)
        .map(|x| {
            let (sid, mode, chunks) = open_default(&*profile, &x.bytes).unwrap();
            assert_eq!(mode, Mode::Startup);
            (sid, chunks)
        })
        .collect();
    let drops = net.ep(t).stats().drops.clone();
    (to_reply, drops)
}

#[test]
fn fihello_policy_respond_with_rhello_sends_an_rhello_to_the_reply_address() {
    let (sent, drops) = forward_ihellos(FIHelloPolicy::RespondWithRHello);
    assert_eq!(sent.len(), 1, "{sent:?}");
    let (sid, chunks) = &sent[0];
    assert_eq!(*sid, 0);
    assert_eq!(chunks.len(), 1);
    assert_eq!(chunks[0].0, ct::RHELLO);
    let rhello = rhello_of(&chunks[0].1);
    assert_eq!(rhello.tag_echo, b"introduction tag");
    assert_eq!(rhello.cookie.len(), 64);
    assert_eq!(
        rhello.certificate,
        flash(FlashConfig::client(), 1).certificate()
    );
    // The FIHello for someone else's EPD was ignored.
    assert_eq!(drops.total(), 1, "{drops}");
    assert_eq!(drops.get(Ignored), 1);
}

#[test]
fn fihello_policy_implied_redirect_sends_an_empty_redirect_to_the_reply_address() {
    let (sent, drops) = forward_ihellos(FIHelloPolicy::ImpliedRedirect);
    assert_eq!(sent.len(), 1, "{sent:?}");
    let (sid, chunks) = &sent[0];
    assert_eq!(*sid, 0);
    assert_eq!(chunks.len(), 1);
    let Chunk::Redirect(redirect) = Chunk::decode(chunks[0].0, &chunks[0].1).unwrap() else {
        panic!("{chunks:?}");
    };
    assert_eq!(redirect.tag_echo, b"introduction tag");
    assert!(redirect.addresses.is_empty());
    assert_eq!(drops.total(), 1, "{drops}");
    assert_eq!(drops.get(Ignored), 1);
}

#[test]
fn fihello_policy_ignore_sends_nothing() {
    let (sent, drops) = forward_ihellos(FIHelloPolicy::Ignore);
    assert!(sent.is_empty(), "{sent:?}");
    assert_eq!(drops.total(), 2, "{drops}");
    assert_eq!(drops.get(Ignored), 2);
}

/// Distinct destinations of node `n`'s IHellos.
fn ihello_destinations(net: &Net, n: usize) -> BTreeSet<SocketAddr> {
    net.startup_sent(n, ct::IHELLO)
        .iter()
        .map(|(s, _, _)| s.dst)
        .collect()
}

#[test]
fn redirect_with_thirty_addresses_grows_candidates_to_the_threshold() {
    let server = sa("203.0.113.1:1935");
    let thirty: Vec<Address> = (1..=30u8)
        .map(|i| {
            Address::new(
                SocketAddr::from(([198, 51, 100, i], 1935)),
                AddressOrigin::Reflexive,
            )
        })
        .collect();
    let encoded = AddressList::encode(&thirty);
    let target = epd_for_fingerprint(
        &flash(FlashConfig::server(), 2)
            .peer_id(flash(FlashConfig::server(), 2).certificate())
            .unwrap(),
    );
    for threshold in [24, 5] {
        let mut net = Net::new();
        let a = net.add(
            flash(FlashConfig::client(), 1),
            1,
            EndpointConfig {
                redirect_threshold: threshold,
                ..EndpointConfig::default()
            },
            a_addr(),
        );
        let now = net.now;
        net.ep(a).connect(now, target.clone(), &[server]).unwrap();
        net.collect();
        let tag = ihello_tag(&net, a);
        let profile = net.ep(a).crypto().clone();
        // A malformed Redirect adds nothing.
        let mut cut = vec![tag.len() as u8];
        cut.extend_from_slice(&tag);
        cut.extend_from_slice(&encoded[..10]);
        let bytes = startup(&*profile, 0, &[(ct::REDIRECT, cut)]);
        assert_dropped(&mut net, a, server, &bytes, MalformedChunk, "cut list");
        // An Implied Redirect adds its source (§2.3.5).
        let implied = sa("203.0.113.2:1935");
        let redirect = |addresses| {
            raw(Chunk::Redirect(Redirect {
                tag_echo: &tag,
                addresses,
            }))
        };
        let bytes = startup(&*profile, 0, &[redirect(AddressList::parse(&[]).unwrap())]);
        let r = net.inject(a, implied, &bytes);
        assert!(r.drops.is_empty(), "{r:?}");
        assert_eq!(r.out.iter().map(|o| o.0).collect::<Vec<_>>(), vec![implied]);
        // Thirty addresses: only enough to reach the threshold are added,
        // each probed at once.
        let bytes = startup(
            &*profile,
            0,
            &[redirect(AddressList::parse(&encoded).unwrap())],
        );
        let r = net.inject(a, server, &bytes);
        assert!(r.drops.is_empty(), "{r:?}");
        let added: Vec<_> = r.out.iter().map(|o| o.0).collect();
        let expected: Vec<_> = thirty[..threshold - 2].iter().map(|x| x.addr).collect();
        assert_eq!(added, expected, "threshold {threshold}");
        // Retransmissions go to the same set, and no further.
        net.run_for(Duration::from_secs(20));
        let dests = ihello_destinations(&net, a);
        assert_eq!(dests.len(), threshold, "threshold {threshold}");
        assert!(dests.contains(&server) && dests.contains(&implied));
        let per_dest = |d| {
            net.startup_sent(a, ct::IHELLO)
                .iter()
                .filter(|(s, _, _)| s.dst == d)
                .count()
        };
        assert!(dests.iter().all(|&d| per_dest(d) >= 3));
        // A later Redirect with new addresses adds none.
        let more = AddressList::encode(&[Address::new(sa("198.18.0.1:1"), AddressOrigin::Relay)]);
        let bytes = startup(
            &*profile,
            0,
            &[redirect(AddressList::parse(&more).unwrap())],
        );
        let r = net.inject(a, server, &bytes);
        assert!(r.drops.is_empty() && r.out.is_empty(), "{r:?}");
        assert_eq!(net.ep(a).opening_count(), 1);
    }
}

// ---------------------------------------------------------------------------
// Session chunk handlers (plain profile, so that packets can be forged)
// ---------------------------------------------------------------------------

#[test]
fn malformed_session_chunks_are_skipped_and_counted() {
    let mut p = plain_opened();
    let profile = p.net.ep(p.b).crypto().clone();
    let huge = vlu_bytes(u64::MAX);
    let mut bitmap_overflow = vec![1, 0];
    bitmap_overflow.extend_from_slice(&huge);
    bitmap_overflow.push(0xff);
    // A range past 2^64 - 1 (a cut final pair is merely dropped, §2.3.14).
    let mut range_overflow = vec![1, 0];
    range_overflow.extend_from_slice(&vlu_bytes(u64::MAX - 1));
    range_overflow.extend_from_slice(&[5, 5]);
    let malformed: Vec<RawChunk> = vec![
        // FIHello: EPD, then a cut reply address (§2.3.3).
        (ct::FIHELLO, vec![]),
        (ct::FIHELLO, vec![3, b'b', b'o', b'b']),
        (ct::FIHELLO, vec![3, b'b', b'o', b'b', 0x00, 192, 0]),
        // User Data: cut, sequence number 0, FSN offset above the
        // sequence number, offset 0 without abandon, options flag with no
        // option list (§2.3.11).
        (ct::USER_DATA, vec![]),
        (ct::USER_DATA, vec![0x00, 1, 0, 1]),
        (ct::USER_DATA, vec![0x00, 1, 2, 3]),
        (ct::USER_DATA, vec![0x00, 1, 2, 0]),
        (ct::USER_DATA, vec![0x80, 1, 2, 1]),
        (ct::USER_DATA, vec![0x80, 1, 2, 1, 5, 0]),
        // Next User Data: cut flags, options cut (§2.3.12).
        (ct::NEXT_USER_DATA, vec![]),
        (ct::NEXT_USER_DATA, vec![0x80]),
        // Acks: cut fields, a bitmap past 2^64, a cut range (§2.3.13-14).
        (ct::BITMAP_ACK, vec![]),
        (ct::BITMAP_ACK, vec![1, 0]),
        (ct::BITMAP_ACK, bitmap_overflow),
        (ct::RANGE_ACK, vec![]),
        (ct::RANGE_ACK, range_overflow),
        // Buffer Probe and Flow Exception: cut or trailing bytes.
        (ct::BUFFER_PROBE, vec![]),
        (ct::BUFFER_PROBE, vec![0x81]),
        (ct::BUFFER_PROBE, vec![1, 2]),
        (ct::FLOW_EXCEPTION, vec![1]),
        (ct::FLOW_EXCEPTION, vec![1, 2, 3]),
        // Packet Fragment with no data (§2.3.1), or cut.
        (ct::FRAGMENT, vec![]),
        (ct::FRAGMENT, vec![0x80, 1]),
        (ct::FRAGMENT, vec![0x00, 1, 0]),
    ];
    for (ty, payload) in &malformed {
        let chunk = [(*ty, payload.clone())];
        let bytes = datagram(&*profile, p.b_rx, Mode::Initiator.bits(), &chunk);
        let what = format!("chunk {ty:#x} {payload:?} to the responder");
        assert_chunk_dropped(&mut p.net, p.b, a_addr(), &bytes, MalformedChunk, &what);
        let bytes = datagram(&*profile, p.a_rx, Mode::Responder.bits(), &chunk);
        let what = format!("chunk {ty:#x} {payload:?} to the initiator");
        assert_chunk_dropped(&mut p.net, p.a, b_addr(), &bytes, MalformedChunk, &what);
    }
    // A chunk type nobody knows is ignored and counted (§2.3).
    for ty in [0x02, 0x99, 0xfe] {
        let bytes = datagram(
            &*profile,
            p.b_rx,
            Mode::Initiator.bits(),
            &[(ty, vec![1, 2, 3])],
        );
        let what = format!("unknown chunk {ty:#x}");
        assert_chunk_dropped(&mut p.net, p.b, a_addr(), &bytes, UnknownChunk, &what);
    }
    // The session survived all of it and still answers.
    let bytes = datagram(
        &*profile,
        p.b_rx,
        Mode::Initiator.bits(),
        &[
            (ct::USER_DATA, vec![0x00, 1, 0, 1]),
            (ct::PING, b"after".to_vec()),
        ],
    );
    let r = p.net.inject(p.b, a_addr(), &bytes);
    assert_eq!(r.drops, vec![(MalformedChunk, 1)]);
    assert_eq!(r.out.len(), 1);
    let (sid, _, chunks) = open_default(&*profile, &r.out[0].1).unwrap();
    assert_eq!(
        (sid, chunks),
        (p.a_rx, vec![(ct::PING_REPLY, b"after".to_vec())])
    );
    assert!(p.net.ep(p.b).session_info(p.b_handle).unwrap().open);
}

#[test]
fn ping_family_and_close_chunks_with_junk_payloads() {
    let mut p = plain_opened();
    let profile = p.net.ep(p.b).crypto().clone();
    let send = |chunks: &[RawChunk]| datagram(&*profile, p.b_rx, Mode::Initiator.bits(), chunks);
    // A Ping's message is opaque: any junk is echoed (§3.5.4).
    let junk: Vec<u8> = (0..=255).collect();
    let r = p
        .net
        .inject(p.b, a_addr(), &send(&[(ct::PING, junk.clone())]));
    assert!(r.drops.is_empty() && r.events.is_empty(), "{r:?}");
    let (_, _, chunks) = open_default(&*profile, &r.out[0].1).unwrap();
    assert_eq!(chunks, vec![(ct::PING_REPLY, junk.clone())]);
    // A Ping Reply with junk, or with a forged mobility message, changes
    // nothing and is not answered.
    let mut forged = vec![b'M'];
    forged.extend_from_slice(&[0x42; 24]);
    for message in [junk.clone(), forged.clone(), vec![], vec![b'M']] {
        let before = p.net.shape(p.b);
        let r = p
            .net
            .inject(p.b, a_addr(), &send(&[(ct::PING_REPLY, message)]));
        assert!(
            r.drops.is_empty() && r.events.is_empty() && r.out.is_empty(),
            "{r:?}"
        );
        assert_eq!(p.net.shape(p.b), before);
    }
    // From a third address, a forged mobility reply does not move the
    // session; the packet only triggers the §3.5.4.2 check, a Ping to
    // that address.
    let third = sa("198.18.0.3:3333");
    let r = p.net.inject(p.b, third, &send(&[(ct::PING_REPLY, forged)]));
    assert!(r.drops.is_empty() && r.events.is_empty(), "{r:?}");
    assert_eq!(r.out.len(), 1);
    assert_eq!(r.out[0].0, third);
    let (_, _, chunks) = open_default(&*profile, &r.out[0].1).unwrap();
    assert_eq!(chunks[0].0, ct::PING);
    assert_eq!(chunks[0].1[0], b'M');
    let info = p.net.ep(p.b).session_info(p.b_handle).unwrap();
    assert_eq!((info.open, info.far_address), (true, a_addr()));
    // Close and Close Ack have no payload (§2.3.17-18); today the payload
    // is ignored and the chunk acts as usual.  A Close with junk closes
    // the session (Remote) and is acknowledged.
    let r = p
        .net
        .inject(p.b, a_addr(), &send(&[(ct::CLOSE, b"junk".to_vec())]));
    assert!(r.drops.is_empty(), "{r:?}");
    assert_eq!(
        r.events,
        vec![Event::SessionClosed {
            session: p.b_handle,
            reason: CloseReason::Remote
        }]
    );
    let (_, _, chunks) = open_default(&*profile, &r.out[0].1).unwrap();
    assert_eq!(chunks, vec![(ct::CLOSE_ACK, vec![])]);
}

// ---------------------------------------------------------------------------
// Random junk: every outcome is one counted drop (or one legitimate event)
// ---------------------------------------------------------------------------

#[test]
fn random_startup_datagrams_change_nothing() {
    let mut o = flash_opened();
    // A also has an opening in S_IHELLO_SENT, towards nowhere.
    let epd = epd_for_fingerprint(&[7; 32]);
    let now = o.net.now;
    o.net.ep(o.a).connect(now, epd, &[nowhere()]).unwrap();
    o.net.collect();
    let profile = o.net.ep(o.a).crypto().clone();
    let types = [
        ct::IHELLO,
        ct::RHELLO,
        ct::REDIRECT,
        ct::COOKIE_CHANGE,
        ct::IIKEYING,
        ct::RIKEYING,
        ct::FIHELLO,
        ct::PING,
        ct::USER_DATA,
        0x99,
    ];
    let mut rng = StdRng::seed_from_u64(0x5eed);
    let mut sessions = [o.net.snapshot(o.a), o.net.snapshot(o.b)];
    for i in 0..600 {
        let n = if rng.random_bool(0.5) { o.a } else { o.b };
        let from = SocketAddr::from(([198, 18, rng.random(), rng.random()], rng.random()));
        let len = rng.random_range(0..96);
        let mut payload = vec![0u8; len];
        rng.fill_bytes(&mut payload);
        let bytes = if i % 4 == 0 {
            // Not even a packet.
            payload
        } else {
            // Sometimes start with a plausible length prefix.
            if !payload.is_empty() && rng.random_bool(0.5) {
                payload[0] = rng.random_range(0..16);
            }
            let ty = types[rng.random_range(0..types.len())];
            startup(&*profile, 0, &[(ty, payload)])
        };
        let r = o.net.inject(n, from, &bytes);
        let drops: u64 = r.drops.iter().map(|d| d.1).sum();
        let unmatched = r
            .events
            .iter()
            .filter(|e| matches!(e, Event::UnmatchedIHello { .. }))
            .count() as u64;
        assert_eq!(unmatched as usize, r.events.len(), "#{i}: {r:?}");
        assert_eq!(drops + unmatched, 1, "#{i}: {r:?}");
        assert!(r.out.is_empty(), "#{i}: {r:?}");
        let k = usize::from(n == o.b);
        assert_eq!(o.net.snapshot(n), sessions[k], "#{i}");
        sessions[k] = o.net.snapshot(n);
    }
    o.net.run_for(Duration::from_secs(15));
    assert!(o.net.ep(o.a).session_info(o.a_handle).unwrap().open);
    assert!(o.net.ep(o.b).session_info(o.b_handle).unwrap().open);
}

#[test]
fn random_session_chunks_never_move_close_or_open_anything() {
    let mut p = plain_opened();
    let profile = p.net.ep(p.b).crypto().clone();
    // Chunks that neither close the session nor belong to flows.
    let types = [
        ct::FIHELLO,
        ct::FRAGMENT,
        ct::PING_REPLY,
        ct::IHELLO,
        ct::RHELLO,
        ct::IIKEYING,
        ct::RIKEYING,
        ct::COOKIE_CHANGE,
        ct::REDIRECT,
        0x99,
    ];
    let mut rng = StdRng::seed_from_u64(0xc0ffee);
    let shapes = [p.net.shape(p.a), p.net.shape(p.b)];
    for i in 0..400 {
        let to_b = rng.random_bool(0.5);
        let (n, sid, mode, from) = if to_b {
            (p.b, p.b_rx, Mode::Initiator, a_addr())
        } else {
            (p.a, p.a_rx, Mode::Responder, b_addr())
        };
        let count = rng.random_range(1..4);
        let chunks: Vec<RawChunk> = (0..count)
            .map(|_| {
                let mut payload = vec![0u8; rng.random_range(0..48)];
                rng.fill_bytes(&mut payload);
                (types[rng.random_range(0..types.len())], payload)
            })
            .collect();
        let bytes = datagram(&*profile, sid, mode.bits(), &chunks);
        let r = p.net.inject(n, from, &bytes);
        assert!(r.events.is_empty(), "#{i}: {r:?}");
        assert!(r.out.is_empty(), "#{i}: {r:?}");
        let drops: u64 = r.drops.iter().map(|d| d.1).sum();
        assert!(drops <= count as u64, "#{i}: {r:?}");
        assert_eq!(p.net.shape(n), shapes[usize::from(to_b)], "#{i}");
    }
}

// ---------------------------------------------------------------------------
// Keying floods: a bounded queue, shared fairly between sources (issue 14)
// ---------------------------------------------------------------------------

#[test]
fn one_source_cannot_take_every_keying_slot() {
    let mut net = Net::new();
    let server = net.add(
        flash(FlashConfig::server(), 2),
        2,
        EndpointConfig {
            offload_keying: true,
            // Under pressure from the third job on.
            max_pending_keying: 4,
            max_pending_keying_per_source: 2,
            ..EndpointConfig::default()
        },
        b_addr(),
    );
    // Four clients behind one address (different ports), one elsewhere.
    let crowded: Vec<usize> = (0..4)
        .map(|i| {
            net.add(
                flash(FlashConfig::client(), 10 + i),
                10 + i,
                EndpointConfig::default(),
                sa(&format!("192.0.2.1:{}", 6000 + i)),
            )
        })
        .collect();
    let other = net.add(
        flash(FlashConfig::client(), 20),
        20,
        EndpointConfig::default(),
        sa("192.0.2.9:7000"),
    );
    let epd = epd_of(&net.nodes[server].ep);
    let now = net.now;
    for &c in crowded.iter().chain([&other]) {
        net.ep(c).connect(now, epd.clone(), &[b_addr()]).unwrap();
    }
    // Nobody runs the server's keying jobs yet: they stay outstanding.
    net.run_for(Duration::from_millis(300));
    let busy = net.ep(server).stats().drops.get(DropReason::SourceBusy);
    assert!(busy >= 2, "the crowded address's extra IIKeyings: {busy}");
    let mut jobs = Vec::new();
    while let Some(job) = net.ep(server).poll_keying_job() {
        jobs.push(job);
    }
    assert_eq!(
        jobs.len(),
        3,
        "two from the crowded address, one from the other"
    );
    // The jobs finish: their sessions open, and the waiting clients'
    // retransmitted IIKeyings get their turn.
    for _ in 0..20 {
        let now = net.now;
        for job in jobs.drain(..) {
            let done = job.run();
            net.ep(server).handle_keying_done(now, done);
        }
        net.run_for(Duration::from_millis(500));
        while let Some(job) = net.ep(server).poll_keying_job() {
            jobs.push(job);
        }
        if jobs.is_empty() && net.opened(server).len() == 5 {
            break;
        }
    }
    assert_eq!(net.opened(server).len(), 5, "every client got in");
    for &c in crowded.iter().chain([&other]) {
        assert_eq!(net.opened(c).len(), 1);
    }
}

#[test]
fn a_burst_from_one_address_goes_through_while_the_queue_has_room() {
    let mut net = Net::new();
    let server = net.add(
        flash(FlashConfig::server(), 2),
        2,
        EndpointConfig {
            offload_keying: true,
            max_pending_keying_per_source: 2,
            ..EndpointConfig::default()
        },
        b_addr(),
    );
    // Five clients behind one NAT address, far below the queue's half.
    let clients: Vec<usize> = (0..5)
        .map(|i| {
            net.add(
                flash(FlashConfig::client(), 30 + i),
                30 + i,
                EndpointConfig::default(),
                sa(&format!("192.0.2.1:{}", 8000 + i)),
            )
        })
        .collect();
    let epd = epd_of(&net.nodes[server].ep);
    let now = net.now;
    for &c in &clients {
        net.ep(c).connect(now, epd.clone(), &[b_addr()]).unwrap();
    }
    net.run_for(Duration::from_millis(300));
    assert_eq!(net.ep(server).stats().drops.get(DropReason::SourceBusy), 0);
    let mut jobs = 0;
    while net.ep(server).poll_keying_job().is_some() {
        jobs += 1;
    }
    assert_eq!(jobs, 5);
}

#[test]
fn a_retransmitted_iikeying_is_not_keyed_twice() {
    let mut net = Net::new();
    let server = net.add(
        flash(FlashConfig::server(), 2),
        2,
        EndpointConfig {
            offload_keying: true,
            ..EndpointConfig::default()
        },
        b_addr(),
    );
    let client = net.add(
        flash(FlashConfig::client(), 40),
        40,
        EndpointConfig::default(),
        sa("192.0.2.1:9000"),
    );
    let epd = epd_of(&net.nodes[server].ep);
    let now = net.now;
    net.ep(client).connect(now, epd, &[b_addr()]).unwrap();
    // Nobody runs the job for long enough that the initiator retransmits
    // its IIKeying (RFC 7016 §3.5.1.1.1: every 1.5 s at first).
    net.run_for(Duration::from_secs(4));
    let mut jobs = Vec::new();
    while let Some(job) = net.ep(server).poll_keying_job() {
        jobs.push(job);
    }
    assert_eq!(jobs.len(), 1, "one job for one handshake");
    assert!(
        net.ep(server).stats().drops.get(DropReason::Ignored) >= 1,
        "the retransmissions were recognised as the pending handshake"
    );
    let now = net.now;
    let done = jobs.pop().unwrap().run();
    net.ep(server).handle_keying_done(now, done);
    net.run_for(Duration::from_secs(2));
    assert_eq!(net.opened(server).len(), 1);
    assert_eq!(net.opened(client).len(), 1);
}

// ---------------------------------------------------------------------------
// Packet Fragments (§2.3.1, §3.4)
// ---------------------------------------------------------------------------

/// Each startup datagram now in flight, as Packet Fragments of `size`
/// bytes of its plain packet: sent last fragment first (twice, if there
/// are more), each in a startup packet of its own to the same session ID.
fn fragment_startup_in_flight(net: &mut Net, size: usize, next_id: &mut u64) -> usize {
    let mut fragmented = 0;
    for sent in std::mem::take(&mut net.in_flight) {
        let profile = net.nodes[sent.node].ep.crypto().clone();
        let (sid, encrypted) = read_multiplex(&sent.bytes).unwrap();
        let mut plain = Vec::new();
        let is_startup = profile
            .default_session_crypto()
            .decrypt(encrypted, &mut plain)
            .is_ok()
            && Packet::parse(&plain).is_ok_and(|p| {
                p.header.mode == Mode::Startup && p.chunks().all(|c| c.chunk_type != ct::FRAGMENT)
            });
        if !is_startup {
            net.in_flight.push(sent);
            continue;
        }
        fragmented += 1;
        *next_id += 1;
        let parts: Vec<&[u8]> = plain.chunks(size).collect();
        let mut order: Vec<usize> = (0..parts.len()).rev().collect();
        if parts.len() > 1 {
            // A duplicate of a fragment is ignored; of a whole packet in
            // one fragment, it would be a duplicate packet.
            order.insert(0, parts.len() - 1);
        }
        for i in order {
            let chunk = Chunk::Fragment(Fragment {
                more: i + 1 < parts.len(),
                packet_id: *next_id,
                fragment_num: i as u64,
                data: parts[i],
            });
            net.in_flight.push(Sent {
                bytes: startup(&*profile, sid, &[raw(chunk)]),
                ..sent.clone()
            });
        }
    }
    fragmented
}

/// A far end that sends every startup packet as Packet Fragments (an
/// RHello or IIKeying larger than its path MTU, §3.4), out of order and
/// with a duplicate: the handshake completes, in both directions, with
/// Flash and plain crypto.
#[test]
fn startup_packets_in_fragments_are_reassembled() {
    for flash_crypto in [true, false] {
        let mut net = Net::new();
        let (pa, pb) = if flash_crypto {
            (
                flash(FlashConfig::client(), 1),
                flash(FlashConfig::server(), 2),
            )
        } else {
            (plain("alice"), plain("bob"))
        };
        let a = net.add(pa, 1, EndpointConfig::default(), a_addr());
        let b = net.add(pb, 2, EndpointConfig::default(), b_addr());
        let epd = epd_of(&net.nodes[b].ep);
        let now = net.now;
        net.ep(a).connect(now, epd, &[b_addr()]).unwrap();
        let (mut id, mut fragmented) = (0, 0);
        for _ in 0..400 {
            net.collect();
            fragmented += fragment_startup_in_flight(&mut net, 40, &mut id);
            net.run_for(Duration::from_millis(1));
        }
        assert!(
            fragmented >= 4,
            "IHello, RHello, IIKeying, RIKeying: {fragmented}"
        );
        assert_eq!(net.opened(a).len(), 1, "{:?}", net.nodes[a].events);
        assert_eq!(net.opened(b).len(), 1, "{:?}", net.nodes[b].events);
        for n in [a, b] {
            let drops = &net.ep(n).stats().drops;
            assert_eq!(drops.total(), 0, "node {n}: {drops:?}");
        }
    }
}

/// Hostile fragments (empty, inconsistent, over the limits, or holding
/// fragments of their own) are dropped and counted, and change nothing.
#[test]
fn bad_packet_fragments_are_counted_and_change_nothing() {
    let mut o = plain_opened();
    let profile = o.net.nodes[o.b].ep.crypto().clone();
    let frag = |packet_id, fragment_num, more, data: &[u8]| {
        startup(
            &*profile,
            0,
            &[raw(Chunk::Fragment(Fragment {
                more,
                packet_id,
                fragment_num,
                data,
            }))],
        )
    };
    let before = o.net.snapshot(o.b);
    let r = o.net.inject(o.b, a_addr(), &frag(1, 300, true, b"x"));
    assert_eq!(r.drops, [(MalformedChunk, 1)]);
    let r = o.net.inject(o.b, a_addr(), &frag(2, 1, false, b"x"));
    assert!(r.drops.is_empty() && r.out.is_empty());
    let r = o.net.inject(o.b, a_addr(), &frag(2, 3, true, b"x"));
    assert_eq!(r.drops, [(MalformedChunk, 1)], "past the last fragment");
    // A reassembled packet that is not a packet.
    let r = o.net.inject(o.b, a_addr(), &frag(3, 0, false, b"\x00"));
    assert_eq!(r.drops, [(BadHeader, 1)]);
    // A reassembled packet holding a fragment: not reassembled again.
    let inner = {
        let mut plain = Vec::new();
        let mut builder = PacketBuilder::new(&PacketHeader::new(Mode::Startup), 8192, &mut plain);
        let (t, payload) = raw(Chunk::Fragment(Fragment {
            more: false,
            packet_id: 9,
            fragment_num: 0,
            data: b"x",
        }));
        builder.push_raw(t, &payload).unwrap();
        builder.finish();
        plain
    };
    let r = o.net.inject(o.b, a_addr(), &frag(4, 0, false, &inner));
    assert_eq!(r.drops, [(Ignored, 1)]);
    assert_eq!(o.net.snapshot(o.b), before);
    o.net.run_for(Duration::from_secs(30));
    assert!(o.net.ep(o.a).session_info(o.a_handle).unwrap().open);
}
