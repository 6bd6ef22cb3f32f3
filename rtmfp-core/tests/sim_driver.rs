//! Driving the simulator: steps, bounded runs, timers, typed node access,
//! spoofed injection, accounting and the trace/tap hooks.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use rtmfp_core::sim::toy::{Echo, Pinger, Recorder};
use rtmfp_core::sim::{
    self, DropReason, Limits, LinkConfig, NatBehaviour, NatConfig, Realm, Sim, SimNode, Stop,
    TraceKind, Transmit,
};

fn a(s: &str) -> SocketAddr {
    sim::addr(s)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Wants a timeout at a settable time; records when it fired.
#[derive(Default)]
struct Alarm {
    at: Option<Instant>,
    fired: Vec<Instant>,
}

impl SimNode for Alarm {
    fn handle_datagram(&mut self, _: Instant, _: SocketAddr, _: SocketAddr, _: &[u8]) {}
    fn poll_transmit(&mut self, _: Instant, _: &mut Vec<u8>) -> Option<Transmit> {
        None
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        self.at
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.fired.push(now);
        self.at = None;
    }
}

/// Never stops sending.
struct Runaway;

impl SimNode for Runaway {
    fn handle_datagram(&mut self, _: Instant, _: SocketAddr, _: SocketAddr, _: &[u8]) {}
    fn poll_transmit(&mut self, _: Instant, buf: &mut Vec<u8>) -> Option<Transmit> {
        buf.push(0);
        Some(Transmit::to(a("203.0.113.9:9")))
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        None
    }
    fn handle_timeout(&mut self, _: Instant) {}
}

/// A pinger at .1 that pings an echo at .2 forever, every 10 ms.
fn endless_pings(seed: u64) -> (Sim, sim::NodeId) {
    let mut sim = Sim::new(sim::seed_from_env_or(seed));
    sim.add_node(Echo::default(), &[a("203.0.113.2:2000")]);
    let p = Pinger::new(a("203.0.113.2:2000"), u64::MAX, ms(10));
    let p = sim.add_node(p, &[a("203.0.113.1:1000")]);
    (sim, p)
}

#[test]
fn run_until_an_unreachable_predicate_stops_at_the_step_limit() {
    let (mut sim, _) = endless_pings(30);
    let r = sim.run_until(|_| false, Limits::steps(1000));
    assert_eq!(r.stop, Stop::StepLimit, "{r}");
    assert_eq!(r.steps, 1000);
    assert!(!r.satisfied());
    let seed_line = format!("sim seed = {}", sim.seed());
    assert!(r.to_string().contains(&seed_line), "{r}");
    assert!(sim.to_string().starts_with(&seed_line), "{sim}");
}

#[test]
fn run_until_an_unreachable_predicate_stops_at_the_time_limit() {
    let (mut sim, p) = endless_pings(31);
    let r = sim.run_until(|_| false, Limits::time(Duration::from_secs(5)));
    assert_eq!(r.stop, Stop::TimeLimit, "{r}");
    assert_eq!(r.elapsed, Duration::from_secs(5));
    assert_eq!(sim.elapsed(), Duration::from_secs(5));
    assert_eq!(
        sim.node::<Pinger>(p).sent,
        501,
        "pings at 0, 10 ms, ..., 5 s; {sim}"
    );
}

#[test]
fn run_until_a_predicate_stops_as_soon_as_it_holds() {
    let (mut sim, p) = endless_pings(32);
    let r = sim.run_until(|s| s.node::<Pinger>(p).replies == 10, Limits::default());
    assert_eq!(r.stop, Stop::Satisfied, "{r}");
    // The tenth echo (ping 9, sent at 90 ms) arrives 40 ms later.
    assert_eq!(r.now, ms(130), "{r}");
}

#[test]
fn an_empty_sim_is_idle_and_run_for_still_moves_the_clock() {
    let mut sim = Sim::new(33);
    assert!(!sim.step());
    let r = sim.run_until(|_| false, Limits::default());
    assert_eq!(r.stop, Stop::Idle, "{r}");
    let r = sim.run_for(Duration::from_secs(3));
    assert_eq!(
        (r.stop, r.now),
        (Stop::Deadline, Duration::from_secs(3)),
        "{r}"
    );
    assert_eq!(
        sim.now() - sim.instant_at(Duration::ZERO),
        Duration::from_secs(3)
    );
}

#[test]
fn run_for_respects_the_step_limit() {
    let (mut sim, _) = endless_pings(34);
    sim.set_step_limit(50);
    let r = sim.run_for(Duration::from_secs(60));
    assert_eq!((r.stop, r.steps), (Stop::StepLimit, 50), "{r}");
}

#[test]
fn step_goes_in_time_order() {
    let mut sim = Sim::new(35);
    sim.set_trace(true);
    let b = a("203.0.113.2:2000");
    let x = sim.add_node(Recorder::new(), &[a("203.0.113.1:1000")]);
    sim.add_node(Recorder::new(), &[b]);
    sim.set_uplink(x, LinkConfig::ideal().with_delay(ms(30)));
    sim.node_mut::<Recorder>(x).send(b, b"slow");
    let mut last = sim.now();
    let mut steps = 0;
    while sim.step() {
        assert!(sim.now() >= last);
        last = sim.now();
        steps += 1;
    }
    // Transit (30 ms), then delivery (40 ms).
    assert_eq!((steps, sim.elapsed()), (2, ms(40)), "{sim}");
    let kinds: Vec<_> = sim
        .trace()
        .iter()
        .map(|e| (e.at, std::mem::discriminant(&e.kind)))
        .collect();
    assert_eq!(kinds.len(), 2, "{:?}", sim.trace());
}

#[test]
fn timers_fire_on_time_and_can_be_moved() {
    let mut sim = Sim::new(36);
    let id = sim.add_node(Alarm::default(), &[a("203.0.113.1:1")]);
    let t0 = sim.now();
    sim.node_mut::<Alarm>(id).at = Some(t0 + ms(100));
    let _ = sim.run_for(ms(50));
    // Move it later; the 100 ms entry must not fire.
    sim.node_mut::<Alarm>(id).at = Some(t0 + ms(300));
    let _ = sim.run_for(ms(200));
    assert!(sim.node::<Alarm>(id).fired.is_empty(), "{sim}");
    let _ = sim.run_for(ms(100));
    assert_eq!(sim.node::<Alarm>(id).fired, [t0 + ms(300)], "{sim}");
    // A time in the past fires now.
    sim.node_mut::<Alarm>(id).at = Some(t0);
    assert!(sim.step());
    assert_eq!(sim.node::<Alarm>(id).fired[1], t0 + ms(350));
    assert_eq!(sim.node_stats(id).timeouts, 2);
}

#[test]
fn typed_node_access() {
    let mut sim = Sim::new(37);
    let id = sim.add_node(Recorder::new(), &[a("203.0.113.1:1")]);
    assert!(sim.try_node::<Echo>(id).is_none());
    assert!(sim.try_node::<Recorder>(id).is_some());
    let n = sim.with_node(id, |r: &mut Recorder, _now| {
        r.send(a("203.0.113.9:9"), b"x");
        7
    });
    // with_node polls at once: the datagram is already out.
    assert_eq!((n, sim.stats().sent_datagrams), (7, 1));
}

#[test]
#[should_panic(expected = "not a")]
fn typed_access_to_the_wrong_type_panics() {
    let mut sim = Sim::new(38);
    let id = sim.add_node(Recorder::new(), &[a("203.0.113.1:1")]);
    let _ = sim.node::<Echo>(id);
}

#[test]
#[should_panic(expected = "does poll_transmit ever return None")]
fn a_runaway_node_panics_clearly() {
    let mut sim = Sim::new(39);
    sim.add_node(Runaway, &[a("203.0.113.1:1")]);
    sim.step();
}

#[test]
fn sending_from_an_unowned_address_is_dropped() {
    let mut sim = Sim::new(40);
    let id = sim.add_node(Recorder::new(), &[a("203.0.113.1:1")]);
    sim.node_mut::<Recorder>(id)
        .send_from(a("203.0.113.1:2"), a("203.0.113.9:9"), b"x");
    sim.flush();
    assert_eq!(sim.stats().drops.get(DropReason::BadSource), 1);
    assert_eq!(sim.node_stats(id).drops.get(DropReason::BadSource), 1);
}

#[test]
fn spoofed_injection_arrives_with_the_forged_source() {
    let mut sim = Sim::new(sim::seed_from_env_or(41));
    sim.set_trace(true);
    let victim = sim.add_node(Recorder::new(), &[a("203.0.113.1:1935")]);
    let forged = a("8.8.8.8:53");
    sim.inject(forged, a("203.0.113.1:1935"), b"spoofed".to_vec());
    let _ = sim.run_until_idle(Limits::default());
    let inbox = &sim.node::<Recorder>(victim).inbox;
    assert_eq!(inbox.len(), 1, "{sim}");
    assert_eq!(
        (inbox[0].remote, &inbox[0].data[..]),
        (forged, &b"spoofed"[..])
    );
    assert_eq!(
        inbox[0].at - sim.instant_at(Duration::ZERO),
        ms(10),
        "downlink delay applies"
    );
    assert!(matches!(sim.trace()[0].kind, TraceKind::Inject { from, .. } if from == forged));
    assert_eq!(sim.stats().injected_datagrams, 1);
}

#[test]
fn injection_is_routed_and_filtered_like_real_traffic() {
    let mut sim = Sim::new(sim::seed_from_env_or(42));
    let nat = sim.add_nat(NatConfig::new(
        [198, 51, 100, 1],
        NatBehaviour::PortRestricted,
    ));
    let c = sim.add_node_behind(nat, Recorder::new(), &[a("192.168.1.2:5000")]);
    sim.add_node(Recorder::new(), &[a("203.0.113.10:1000")]);
    sim.node_mut::<Recorder>(c)
        .send(a("203.0.113.10:1000"), b"hi");
    let _ = sim.run_until_idle(Limits::default());
    let mapped = sim.nat_mappings(nat)[0].external;
    // Spoofing the contacted server passes the filter; anyone else is filtered.
    sim.inject(a("203.0.113.10:1000"), mapped, b"spoof".to_vec());
    sim.inject(a("203.0.113.66:1000"), mapped, b"spoof".to_vec());
    // A private address is unreachable from outside, but reachable on the LAN.
    sim.inject(
        a("203.0.113.66:1000"),
        a("192.168.1.2:5000"),
        b"spoof".to_vec(),
    );
    sim.inject_in(
        Realm::Behind(nat),
        a("192.168.1.66:1"),
        a("192.168.1.2:5000"),
        b"lan".to_vec(),
    );
    let _ = sim.run_until_idle(Limits::default());
    let remotes = sim.node::<Recorder>(c).remotes();
    assert_eq!(
        remotes,
        [a("203.0.113.10:1000"), a("192.168.1.66:1")],
        "{sim}"
    );
    let d = sim.stats().drops;
    assert_eq!(
        (d.get(DropReason::NatFiltered), d.get(DropReason::NoRoute)),
        (1, 1),
        "{sim}"
    );
}

#[test]
fn an_injected_flood_fills_the_victims_queue() {
    let mut sim = Sim::new(sim::seed_from_env_or(43));
    let v = sim.add_node(Recorder::new(), &[a("203.0.113.1:1935")]);
    // 1 Mbit/s downlink with a 12.5 kB queue: 10 datagrams of 1250 bytes.
    sim.set_downlink(v, LinkConfig::ideal().with_bandwidth(1_000_000, 12_500));
    for i in 0..1000u16 {
        let from = SocketAddr::from(([10, 0, (i >> 8) as u8, i as u8], 4000 + i));
        sim.inject(from, a("203.0.113.1:1935"), vec![0u8; 1250]);
    }
    let _ = sim.run_until_idle(Limits::default());
    assert_eq!(sim.node::<Recorder>(v).inbox.len(), 10, "{sim}");
    assert_eq!(sim.stats().drops.get(DropReason::QueueFull), 990, "{sim}");
    assert_eq!(sim.elapsed(), ms(100), "{sim}");
}

#[test]
fn every_datagram_is_accounted_for() {
    let mut sim = Sim::new(sim::seed_from_env_or(44));
    let rough = LinkConfig::default()
        .with_jitter(ms(20))
        .with_loss(0.1)
        .with_duplicate(0.1)
        .with_reorder(0.1, ms(30))
        .with_bandwidth(2_000_000, 20_000)
        .with_mtu(1000);
    sim.set_default_link(rough);
    let nat = sim.add_nat(NatConfig::new([198, 51, 100, 1], NatBehaviour::Symmetric));
    sim.add_node(Echo::default(), &[a("203.0.113.2:2000")]);
    for i in 0..4u8 {
        let p = Pinger::new(a("203.0.113.2:2000"), 2000, ms(1)).with_size(200 + 300 * i as usize);
        sim.add_node_behind(nat, p, &[SocketAddr::from(([192, 168, 1, 2 + i], 5000))]);
    }
    let check = |s: &Sim| {
        let st = s.stats();
        let in_ = st.sent_datagrams + st.injected_datagrams + st.duplicated_datagrams;
        let out = st.delivered_datagrams + st.drops.total() + s.in_flight() as u64;
        assert_eq!(in_, out, "{st:?}; {s}");
    };
    for _ in 0..20 {
        let _ = sim.run_for(ms(250));
        check(&sim);
    }
    let _ = sim.run_until_idle(Limits::default());
    check(&sim);
    assert_eq!(sim.in_flight(), 0);
    let d = sim.stats().drops;
    for r in [DropReason::Loss, DropReason::Mtu, DropReason::QueueFull] {
        assert!(d.get(r) > 0, "{r}: {d}; {sim}");
    }
}

#[test]
fn the_tap_sees_who_sent_what_to_whom() {
    let mut sim = Sim::new(sim::seed_from_env_or(45));
    let server = a("203.0.113.10:1000");
    let peer_b = a("203.0.113.20:2000");
    let pa = sim.add_node(Recorder::new(), &[a("203.0.113.30:3000")]);
    sim.add_node(Recorder::new(), &[server]);
    sim.add_node(Recorder::new(), &[peer_b]);
    let media_at_server = Rc::new(RefCell::new(0usize));
    let seen = media_at_server.clone();
    sim.set_tap(move |ev, bytes| {
        if let TraceKind::Deliver { local, .. } = ev.kind {
            if local == server && bytes.starts_with(b"media") {
                *seen.borrow_mut() += bytes.len();
            }
        }
    });
    sim.set_trace(true);
    sim.node_mut::<Recorder>(pa).send(server, b"control");
    sim.node_mut::<Recorder>(pa).send(peer_b, b"media frame");
    let _ = sim.run_until_idle(Limits::default());
    assert_eq!(
        *media_at_server.borrow(),
        0,
        "the server saw no media bytes; {sim}"
    );
    let pairs: Vec<(SocketAddr, SocketAddr)> = sim
        .trace()
        .iter()
        .filter_map(|e| match e.kind {
            TraceKind::Deliver { local, remote, .. } => Some((remote, local)),
            _ => None,
        })
        .collect();
    assert_eq!(
        pairs,
        [
            (a("203.0.113.30:3000"), server),
            (a("203.0.113.30:3000"), peer_b)
        ]
    );
    sim.clear_tap();
    assert_eq!(sim.take_trace().len(), 4);
    assert!(sim.trace().is_empty());
}
