//! RFC 7016 §3.5 sessions in the deterministic simulator, with the Flash
//! crypto profile at both ends.

use rand::{rngs::StdRng, Rng, SeedableRng};
use rtmfp_core::crypto::flash::epd::epd_for_fingerprint;
use rtmfp_core::crypto::{CryptoProfile, FlashConfig, FlashProfile};
use rtmfp_core::endpoint::{
    CloseReason, DropReason, Endpoint, EndpointConfig, Event, OpenFailure, SessionHandle,
};
use rtmfp_core::sim::{
    addr, seed_from_env_or, Limits, LinkConfig, NatBehaviour, NatConfig, NatId, NodeId, Sim,
    TraceKind,
};
use rtmfp_core::wire::{Address, AddressOrigin};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

fn flash(config: FlashConfig, seed: u64) -> Arc<dyn CryptoProfile> {
    Arc::new(FlashProfile::new(config, &mut StdRng::seed_from_u64(seed)).unwrap())
}

fn endpoint(sim: &Sim, config: FlashConfig, seed: u64) -> Endpoint {
    endpoint_with(sim, config, seed, EndpointConfig::default())
}

fn endpoint_with(sim: &Sim, config: FlashConfig, seed: u64, ep: EndpointConfig) -> Endpoint {
    let ep = EndpointConfig {
        rng_seed: Some(seed ^ sim.seed()),
        ..ep
    };
    Endpoint::new(ep, flash(config, seed ^ sim.seed()), sim.now())
}

fn events(sim: &mut Sim, id: NodeId) -> Vec<Event> {
    let ep = sim.node_mut::<Endpoint>(id);
    std::iter::from_fn(|| ep.poll_event()).collect()
}

fn opened_handles(events: &[Event]) -> Vec<SessionHandle> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::SessionOpened { session, .. } => Some(*session),
            _ => None,
        })
        .collect()
}

/// Runs until `a` has an open session; returns all events of both sides.
fn run_until_open(
    sim: &mut Sim,
    a: NodeId,
    b: NodeId,
    limit: Duration,
) -> (Vec<Event>, Vec<Event>) {
    let mut a_events = Vec::new();
    let mut b_events = Vec::new();
    let _ = sim.run_until(
        |sim| {
            a_events.extend(events(sim, a));
            b_events.extend(events(sim, b));
            !opened_handles(&a_events).is_empty()
        },
        Limits::time(limit),
    );
    (a_events, b_events)
}

fn connect(
    sim: &mut Sim,
    from: NodeId,
    to_peer: NodeId,
    candidates: &[SocketAddr],
) -> SessionHandle {
    let far = sim.node::<Endpoint>(to_peer).peer_id().unwrap();
    let now = sim.now();
    sim.node_mut::<Endpoint>(from)
        .connect(now, epd_for_fingerprint(&far), candidates)
        .unwrap()
}

#[test]
fn opens_on_a_clean_link_in_two_round_trips() {
    let mut sim = Sim::new(seed_from_env_or(1));
    sim.set_default_link(LinkConfig::ideal().with_delay(Duration::from_millis(20)));
    let server = sim.add_node(
        endpoint(&sim, FlashConfig::server(), 1),
        &[addr("203.0.113.1:1935")],
    );
    let client = sim.add_node(
        endpoint(&sim, FlashConfig::client(), 2),
        &[addr("198.51.100.9:50000")],
    );
    connect(&mut sim, client, server, &[addr("203.0.113.1:1935")]);
    let start = sim.now();
    let (c, s) = run_until_open(&mut sim, client, server, Duration::from_secs(5));
    assert_eq!(opened_handles(&c).len(), 1, "seed {}", sim.seed());
    assert_eq!(opened_handles(&s).len(), 1);
    // Two round trips of 2 x 20 ms.
    assert_eq!(sim.now() - start, Duration::from_millis(160));
}

#[test]
fn opens_under_thirty_percent_loss_with_duplication_and_reordering() {
    for seed in 0..8 {
        let seed = seed_from_env_or(100 + seed);
        let mut sim = Sim::new(seed);
        sim.set_default_link(
            LinkConfig::ideal()
                .with_delay(Duration::from_millis(30))
                .with_jitter(Duration::from_millis(10))
                .with_loss(0.3)
                .with_duplicate(0.1)
                .with_reorder(0.2, Duration::from_millis(40)),
        );
        let server = sim.add_node(
            endpoint(&sim, FlashConfig::server(), 1),
            &[addr("203.0.113.1:1935")],
        );
        let client = sim.add_node(
            endpoint(&sim, FlashConfig::client(), 2),
            &[addr("198.51.100.9:50000")],
        );
        connect(&mut sim, client, server, &[addr("203.0.113.1:1935")]);
        let (c, s) = run_until_open(&mut sim, client, server, Duration::from_secs(95));
        assert_eq!(opened_handles(&c).len(), 1, "sim seed = {seed}: {c:?}");
        let _ = sim.run_for(Duration::from_secs(2));
        let s: Vec<_> = s.into_iter().chain(events(&mut sim, server)).collect();
        // Duplicated or retransmitted IIKeyings never make a second session.
        assert_eq!(opened_handles(&s).len(), 1, "sim seed = {seed}: {s:?}");
        assert_eq!(
            sim.node::<Endpoint>(server).session_count(),
            1,
            "sim seed = {seed}"
        );
    }
}

#[test]
fn three_percent_loss_rarely_costs_more_than_two_round_trips() {
    let rtt = Duration::from_millis(100);
    let mut within = 0;
    let runs = 60;
    for seed in 0..runs {
        let mut sim = Sim::new(1000 + seed);
        sim.set_default_link(LinkConfig::ideal().with_delay(rtt / 4).with_loss(0.03));
        let server = sim.add_node(
            endpoint(&sim, FlashConfig::server(), 1),
            &[addr("203.0.113.1:1935")],
        );
        let client = sim.add_node(
            endpoint(&sim, FlashConfig::client(), 2),
            &[addr("198.51.100.9:50000")],
        );
        connect(&mut sim, client, server, &[addr("203.0.113.1:1935")]);
        let start = sim.now();
        let (c, _) = run_until_open(&mut sim, client, server, Duration::from_secs(95));
        assert_eq!(opened_handles(&c).len(), 1, "sim seed = {}", sim.seed());
        if sim.now() - start <= rtt * 2 {
            within += 1;
        }
    }
    // Four packets must all survive: 0.97^4 = 88.5 % expected.
    assert!(
        within * 100 >= runs * 75,
        "{within} of {runs} opened in two round trips"
    );
}

#[test]
fn glare_leaves_exactly_one_session() {
    for seed in 0..6 {
        let seed = seed_from_env_or(200 + seed);
        let mut sim = Sim::new(seed);
        sim.set_default_link(LinkConfig::ideal().with_delay(Duration::from_millis(15)));
        let (a_addr, b_addr) = (addr("198.51.100.1:1000"), addr("198.51.100.2:2000"));
        let a = sim.add_node(endpoint(&sim, FlashConfig::client(), 11), &[a_addr]);
        let b = sim.add_node(endpoint(&sim, FlashConfig::client(), 12), &[b_addr]);
        connect(&mut sim, a, b, &[b_addr]);
        connect(&mut sim, b, a, &[a_addr]);
        let _ = sim.run_for(Duration::from_secs(10));
        let (ae, be) = (events(&mut sim, a), events(&mut sim, b));
        assert_eq!(
            sim.node::<Endpoint>(a).session_count(),
            1,
            "sim seed = {seed}: {ae:?}"
        );
        assert_eq!(
            sim.node::<Endpoint>(b).session_count(),
            1,
            "sim seed = {seed}: {be:?}"
        );
        assert_eq!(sim.node::<Endpoint>(a).opening_count(), 0);
        assert_eq!(sim.node::<Endpoint>(b).opening_count(), 0);
        assert_eq!(opened_handles(&ae).len(), 1, "{ae:?}");
        assert_eq!(opened_handles(&be).len(), 1, "{be:?}");
        // The losing opening is reported as a duplicate of the one session.
        let duplicates = ae
            .iter()
            .chain(&be)
            .filter(|e| {
                matches!(
                    e,
                    Event::SessionOpenFailed {
                        reason: OpenFailure::Duplicate(_),
                        ..
                    }
                )
            })
            .count();
        assert_eq!(duplicates, 1, "sim seed = {seed}");
    }
}

#[test]
fn idle_session_survives_on_keepalives_and_dies_when_the_peer_vanishes() {
    let mut sim = Sim::new(seed_from_env_or(7));
    sim.set_default_link(LinkConfig::ideal().with_delay(Duration::from_millis(10)));
    let cfg = EndpointConfig {
        keepalive_interval: Duration::from_secs(5),
        idle_timeout: Duration::from_secs(30),
        ..EndpointConfig::default()
    };
    let server = sim.add_node(
        endpoint_with(&sim, FlashConfig::server(), 1, cfg.clone()),
        &[addr("203.0.113.1:1935")],
    );
    let client = sim.add_node(
        endpoint_with(&sim, FlashConfig::client(), 2, cfg),
        &[addr("198.51.100.9:50000")],
    );
    let handle = connect(&mut sim, client, server, &[addr("203.0.113.1:1935")]);
    run_until_open(&mut sim, client, server, Duration::from_secs(5));
    let _ = sim.run_for(Duration::from_secs(300));
    let info = sim
        .node::<Endpoint>(client)
        .session_info(handle)
        .expect("open after 5 idle minutes");
    assert!(info.open);
    assert!(info.stats.keepalives_sent >= 50, "{:?}", info.stats);
    // The server vanishes: everything to and from it is lost.
    sim.set_link(server, LinkConfig::ideal().with_loss(1.0));
    let vanished = sim.now();
    let mut closed_at = None;
    let _ = sim.run_until(
        |sim| {
            let e = events(sim, client);
            if e.contains(&Event::SessionClosed {
                session: handle,
                reason: CloseReason::IdleTimeout,
            }) {
                closed_at = Some(sim.now());
            }
            closed_at.is_some()
        },
        Limits::time(Duration::from_secs(120)),
    );
    let closed_at = closed_at.expect("closed by the idle limit");
    let took = closed_at - vanished;
    assert!(took <= Duration::from_secs(30), "{took:?}");
    assert_eq!(sim.node::<Endpoint>(client).session_count(), 0);
}

#[test]
fn nat_rebinding_moves_the_session_after_a_mobility_check_and_spoofing_does_not() {
    let mut sim = Sim::new(seed_from_env_or(9));
    sim.set_default_link(LinkConfig::ideal().with_delay(Duration::from_millis(10)));
    let cfg = EndpointConfig {
        keepalive_interval: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(60),
        ..EndpointConfig::default()
    };
    let server = sim.add_node(
        endpoint_with(&sim, FlashConfig::server(), 1, cfg.clone()),
        &[addr("203.0.113.1:1935")],
    );
    // A NAT that forgets idle mappings after 4 s: the client's next packet
    // leaves from a new public port, as after a NAT reboot or a move.
    let nat = sim.add_nat(
        NatConfig::new(addr("192.0.2.50:0").ip(), NatBehaviour::PortRestricted)
            .with_mapping_timeout(Duration::from_secs(4))
            .with_inbound_refresh(false),
    );
    let client = sim.add_node_behind(
        nat,
        endpoint_with(&sim, FlashConfig::client(), 2, cfg),
        &[addr("10.0.0.2:5000")],
    );
    connect(&mut sim, client, server, &[addr("203.0.113.1:1935")]);
    let (_, s) = run_until_open(&mut sim, client, server, Duration::from_secs(5));
    let session = opened_handles(&s)[0];
    let before = sim
        .node::<Endpoint>(server)
        .session_info(session)
        .unwrap()
        .far_address;
    assert_eq!(before.ip(), addr("192.0.2.50:0").ip());
    let mut moved = None;
    let _ = sim.run_until(
        |sim| {
            for e in events(sim, server) {
                if let Event::FarAddressChanged { from, to, .. } = e {
                    moved = Some((from, to));
                }
            }
            moved.is_some()
        },
        Limits::time(Duration::from_secs(40)),
    );
    let (from, to) = moved.expect("the server followed the client's new mapping");
    assert_eq!(from, before);
    assert_ne!(to, before);
    assert_eq!(to.ip(), before.ip());
    // From now on the NAT keeps its mappings.
    let steady = sim
        .nat_config(nat)
        .clone()
        .with_mapping_timeout(Duration::from_secs(600));
    sim.set_nat_config(nat, steady);
    let _ = sim.run_for(Duration::from_secs(30));
    let info = sim
        .node::<Endpoint>(server)
        .session_info(session)
        .expect("session survived");
    assert!(info.open);
    assert_eq!(info.far_address, to);

    // A spoofer replays a genuine client datagram from a third address.
    let captured = std::rc::Rc::new(std::cell::RefCell::new(None));
    let sink = captured.clone();
    let client_id = client;
    sim.set_tap(move |event, data| {
        if let TraceKind::Send { node, .. } = event.kind {
            if node == client_id {
                *sink.borrow_mut() = Some(data.to_vec());
            }
        }
    });
    let _ = sim.run_for(Duration::from_secs(15));
    sim.clear_tap();
    let replayed = captured
        .borrow_mut()
        .take()
        .expect("the client sent a keepalive");
    let to_server = addr("203.0.113.1:1935");
    let drops_before = sim.node::<Endpoint>(server).stats().drops.total();
    sim.inject(addr("198.18.0.66:6666"), to_server, replayed);
    let _ = sim.run_for(Duration::from_secs(3));
    let info = sim.node::<Endpoint>(server).session_info(session).unwrap();
    assert_eq!(
        info.far_address, to,
        "a spoofed packet must not move the session"
    );
    assert!(sim.node::<Endpoint>(server).stats().drops.total() > drops_before);
    assert!(!events(&mut sim, server)
        .iter()
        .any(|e| matches!(e, Event::FarAddressChanged { .. })));
}

/// An introducer in the test: answers UnmatchedIHello for a registered
/// peer with a Redirect to that peer's address and a Forwarded IHello.
fn introduce(sim: &mut Sim, server: NodeId) {
    let now = sim.now();
    let ep = sim.node_mut::<Endpoint>(server);
    let pending: Vec<Event> = std::iter::from_fn(|| ep.poll_event()).collect();
    for event in pending {
        if let Event::UnmatchedIHello { epd, tag, from } = event {
            if let Some(target) = ep.find_session(&epd) {
                let target_addr = ep.session_info(target).unwrap().far_address;
                ep.send_redirect(
                    now,
                    from,
                    &tag,
                    &[Address::new(target_addr, AddressOrigin::Reflexive)],
                );
                ep.send_forwarded_ihello(target, &epd, &tag, from).unwrap();
            }
        }
    }
}

fn nat_trio(seed: u64, behaviour: NatBehaviour) -> (Sim, NodeId, NodeId, NodeId) {
    let (sim, server, a, b, _) = nat_trio_with(seed, |ip| NatConfig::new(ip, behaviour));
    (sim, server, a, b)
}

fn nat_trio_with(
    seed: u64,
    config: impl Fn(std::net::IpAddr) -> NatConfig,
) -> (Sim, NodeId, NodeId, NodeId, [NatId; 2]) {
    let mut sim = Sim::new(seed);
    sim.set_default_link(LinkConfig::ideal().with_delay(Duration::from_millis(20)));
    let server_addr = addr("203.0.113.1:1935");
    let server = sim.add_node(endpoint(&sim, FlashConfig::server(), 1), &[server_addr]);
    let nat_a = sim.add_nat(config(addr("192.0.2.10:0").ip()));
    let nat_b = sim.add_nat(config(addr("198.51.100.20:0").ip()));
    let a = sim.add_node_behind(
        nat_a,
        endpoint(&sim, FlashConfig::client(), 2),
        &[addr("10.0.0.2:5000")],
    );
    let b = sim.add_node_behind(
        nat_b,
        endpoint(&sim, FlashConfig::client(), 3),
        &[addr("10.0.0.3:5000")],
    );
    // Both register with the server.
    connect(&mut sim, a, server, &[server_addr]);
    connect(&mut sim, b, server, &[server_addr]);
    let _ = sim.run_for(Duration::from_secs(1));
    assert_eq!(sim.node::<Endpoint>(server).session_count(), 2);
    (sim, server, a, b, [nat_a, nat_b])
}

#[test]
fn introduction_across_port_restricted_nats_gives_a_direct_session() {
    let (mut sim, server, a, b) = nat_trio(seed_from_env_or(21), NatBehaviour::PortRestricted);
    events(&mut sim, a);
    events(&mut sim, b);
    // A knows only B's peer ID and the server's address.
    let handle = connect(&mut sim, a, b, &[addr("203.0.113.1:1935")]);
    let mut a_events = Vec::new();
    let _ = sim.run_until(
        |sim| {
            introduce(sim, server);
            a_events.extend(events(sim, a));
            a_events
                .iter()
                .any(|e| matches!(e, Event::SessionOpened { session, .. } if *session == handle))
        },
        Limits::time(Duration::from_secs(30)),
    );
    let Some(Event::SessionOpened {
        far_address,
        far_peer_id,
        ..
    }) = a_events
        .iter()
        .find(|e| matches!(e, Event::SessionOpened { session, .. } if *session == handle))
    else {
        panic!("no direct session: sim seed = {}: {a_events:?}", sim.seed());
    };
    // Direct: the far address is B's NAT mapping, not the server.
    assert_eq!(
        far_address.ip(),
        addr("198.51.100.20:0").ip(),
        "sim seed = {}",
        sim.seed()
    );
    assert_eq!(*far_peer_id, sim.node::<Endpoint>(b).peer_id());
    let b_events = events(&mut sim, b);
    assert_eq!(opened_handles(&b_events).len(), 1, "{b_events:?}");
}

/// Two port-restricted NATs that keep an entry for every unsolicited
/// datagram (Linux MASQUERADE without an input filter), with no delay
/// between them (the sim translates at both NATs in the same instant):
/// A's first IHello to B reaches B's NAT before B's RHello leaves it, and
/// the introduction cannot succeed (docs/nat.md).  Retries do not help:
/// each one refreshes the entries that block it.
#[test]
fn introduction_between_nats_that_confirm_unsolicited_datagrams_fails() {
    let (mut sim, server, a, b, [nat_a, nat_b]) = nat_trio_with(seed_from_env_or(23), |ip| {
        NatConfig::new(ip, NatBehaviour::PortRestricted).with_confirm_unsolicited(true)
    });
    events(&mut sim, a);
    events(&mut sim, b);
    let handle = connect(&mut sim, a, b, &[addr("203.0.113.1:1935")]);
    let mut a_events = Vec::new();
    let _ = sim.run_until(
        |sim| {
            introduce(sim, server);
            a_events.extend(events(sim, a));
            a_events.iter().any(|e| {
                matches!(e, Event::SessionOpened { session, .. }
                    | Event::SessionOpenFailed { session, .. } if *session == handle)
            })
        },
        Limits::time(Duration::from_secs(120)),
    );
    let opened = a_events
        .iter()
        .find(|e| matches!(e, Event::SessionOpened { session, .. } if *session == handle));
    assert!(opened.is_none(), "sim seed = {}: {opened:?}", sim.seed());
    let failed = a_events.iter().find_map(|e| match e {
        Event::SessionOpenFailed { session, reason } if *session == handle => Some(reason),
        _ => None,
    });
    assert_eq!(
        failed,
        Some(&OpenFailure::Timeout),
        "sim seed = {}",
        sim.seed()
    );
    let (na, nb) = (sim.nat_stats(nat_a), sim.nat_stats(nat_b));
    // B's NAT kept A's first IHello and gave B's RHello another port; A's
    // NAT kept that RHello.  Nothing else was ever needed to block them.
    assert_eq!(
        (na.clash_remaps, nb.clash_remaps),
        (0, 1),
        "sim seed = {}",
        sim.seed()
    );
    assert_eq!(
        (na.confirmed_unsolicited, nb.confirmed_unsolicited),
        (1, 1),
        "sim seed = {}",
        sim.seed()
    );
}

/// The same NATs 25 ms apart: the first IHello and the first RHello each
/// leave their NAT before the other arrives (they cross in flight), so
/// both arrive on outbound entries and the session opens directly, as in
/// tests/nat's cone-cone-25ms.
#[test]
fn the_same_nats_apart_let_the_first_packets_cross_and_the_session_open() {
    let (mut sim, server, a, b, [nat_a, nat_b]) = nat_trio_with(seed_from_env_or(24), |ip| {
        NatConfig::new(ip, NatBehaviour::PortRestricted)
            .with_confirm_unsolicited(true)
            .with_wan_delay(Duration::from_millis(25))
    });
    events(&mut sim, a);
    events(&mut sim, b);
    let handle = connect(&mut sim, a, b, &[addr("203.0.113.1:1935")]);
    let mut a_events = Vec::new();
    let _ = sim.run_until(
        |sim| {
            introduce(sim, server);
            a_events.extend(events(sim, a));
            a_events
                .iter()
                .any(|e| matches!(e, Event::SessionOpened { session, .. } if *session == handle))
        },
        Limits::time(Duration::from_secs(30)),
    );
    let far = a_events.iter().find_map(|e| match e {
        Event::SessionOpened {
            session,
            far_address,
            ..
        } if *session == handle => Some(*far_address),
        _ => None,
    });
    assert_eq!(
        far.map(|f| f.ip()),
        Some(addr("198.51.100.20:0").ip()),
        "sim seed = {}: {a_events:?}",
        sim.seed()
    );
    let (na, nb) = (sim.nat_stats(nat_a), sim.nat_stats(nat_b));
    assert_eq!(
        (na.clash_remaps, nb.clash_remaps),
        (0, 0),
        "sim seed = {}",
        sim.seed()
    );
}

#[test]
fn introduction_between_symmetric_nats_fails_cleanly() {
    let (mut sim, server, a, b) = nat_trio(seed_from_env_or(22), NatBehaviour::Symmetric);
    events(&mut sim, a);
    let handle = connect(&mut sim, a, b, &[addr("203.0.113.1:1935")]);
    let mut failed = None;
    let _ = sim.run_until(
        |sim| {
            introduce(sim, server);
            for e in events(sim, a) {
                if let Event::SessionOpenFailed { session, reason } = e {
                    if session == handle {
                        failed = Some(reason);
                    }
                }
            }
            failed.is_some()
        },
        Limits::time(Duration::from_secs(120)),
    );
    assert_eq!(
        failed,
        Some(OpenFailure::Timeout),
        "sim seed = {}",
        sim.seed()
    );
    assert_eq!(sim.node::<Endpoint>(a).opening_count(), 0);
}

#[test]
fn ihello_flood_from_spoofed_addresses_creates_no_state() {
    let mut sim = Sim::new(seed_from_env_or(31));
    let server_addr = addr("203.0.113.1:1935");
    let server = sim.add_node(endpoint(&sim, FlashConfig::server(), 1), &[server_addr]);
    let epd = epd_for_fingerprint(&sim.node::<Endpoint>(server).peer_id().unwrap());
    // One genuine IHello datagram, replayed from 100,000 spoofed sources.
    let mut helper = Endpoint::new(
        EndpointConfig {
            rng_seed: Some(1),
            ..EndpointConfig::default()
        },
        flash(FlashConfig::client(), 99),
        sim.now(),
    );
    helper.connect(sim.now(), epd, &[server_addr]).unwrap();
    let mut ihello = Vec::new();
    helper.poll_transmit(sim.now(), &mut ihello).unwrap();
    let mut rng = StdRng::seed_from_u64(sim.seed());
    for i in 0..100_000u32 {
        let from = SocketAddr::from((
            [198, 18, (i >> 8) as u8, i as u8],
            rng.random_range(1024..65535),
        ));
        sim.inject(from, server_addr, ihello.clone());
        if i % 1000 == 999 {
            let _ = sim.run_for(Duration::from_millis(10));
        }
    }
    let _ = sim.run_for(Duration::from_secs(1));
    let ep = sim.node::<Endpoint>(server);
    assert_eq!(ep.session_count(), 0);
    assert_eq!(ep.opening_count(), 0);
    assert_eq!(ep.stats().datagrams_in, 100_000);
    // Every IHello got its stateless RHello.
    assert_eq!(ep.stats().datagrams_out, 100_000);
    assert_eq!(ep.stats().drops.get(DropReason::QueueFull), 0);
    assert_eq!(
        ep.poll_timeout(),
        None,
        "no timers means no per-initiator state"
    );
}
