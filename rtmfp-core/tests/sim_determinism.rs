//! The same seed replays exactly; a different seed does not.

use std::net::SocketAddr;
use std::time::Duration;

use rtmfp_core::sim::toy::{Echo, Pinger};
use rtmfp_core::sim::{
    self, Limits, LinkConfig, NatBehaviour, NatConfig, Sim, SimStats, Stop, TraceEvent,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Pingers behind a symmetric and a port-restricted NAT ping an echo
/// server across lossy, jittery, duplicating, reordering, rate-limited links.
fn scenario(seed: u64) -> Sim {
    let mut sim = Sim::new(seed);
    sim.set_trace(true);
    sim.set_default_link(
        LinkConfig::default()
            .with_jitter(ms(15))
            .with_loss(0.05)
            .with_duplicate(0.02)
            .with_reorder(0.05, ms(25))
            .with_bandwidth(5_000_000, 30_000),
    );
    let echo = sim::addr("203.0.113.2:2000");
    sim.add_node(Echo::default(), &[echo]);
    for (i, behaviour) in [NatBehaviour::Symmetric, NatBehaviour::PortRestricted]
        .into_iter()
        .enumerate()
    {
        let nat = sim.add_nat(NatConfig::new([198, 51, 100, 1 + i as u8], behaviour));
        for j in 0..3u8 {
            let p = Pinger::new(echo, 300, ms(3)).with_size(100 + 400 * j as usize);
            let local = SocketAddr::from(([192, 168, 1, 2 + j], 5000));
            sim.add_node_behind(nat, p, &[local]);
        }
    }
    sim
}

fn run(seed: u64) -> (Vec<TraceEvent>, SimStats) {
    let mut sim = scenario(seed);
    let r = sim.run_until_idle(Limits::default());
    assert_eq!(r.stop, Stop::Idle, "{r}");
    (sim.take_trace(), *sim.stats())
}

#[test]
fn the_same_seed_gives_the_same_trace() {
    let seed = sim::seed_from_env_or(50);
    let (t1, s1) = run(seed);
    let (t2, s2) = run(seed);
    assert!(
        t1.len() > 5_000,
        "a busy scenario ({} events); sim seed = {seed}",
        t1.len()
    );
    assert!(s1.drops.total() > 0, "sim seed = {seed}");
    assert_eq!(s1, s2, "sim seed = {seed}");
    assert!(t1 == t2, "traces differ; sim seed = {seed}");
}

#[test]
fn a_different_seed_gives_a_different_trace() {
    let seed = sim::seed_from_env_or(51);
    let (t1, _) = run(seed);
    let (t2, _) = run(seed.wrapping_add(1));
    assert!(t1 != t2, "sim seed = {seed}");
}

#[test]
fn stepping_and_observing_do_not_change_the_outcome() {
    let seed = sim::seed_from_env_or(52);
    let (reference, _) = run(seed);
    // One event at a time, in odd-sized time slices, with a tap attached.
    let mut sim = scenario(seed);
    let mut tapped = 0u64;
    let counter = std::rc::Rc::new(std::cell::Cell::new(0u64));
    let c = counter.clone();
    sim.set_tap(move |_, bytes| c.set(c.get() + bytes.len() as u64));
    for i in 0.. {
        if i % 2 == 0 {
            if !sim.step() {
                break;
            }
        } else {
            let _ = sim.run_for(Duration::from_micros(777));
        }
        tapped += 1;
    }
    assert!(tapped > 0 && counter.get() > 0);
    assert!(sim.take_trace() == reference, "sim seed = {seed}");
}
