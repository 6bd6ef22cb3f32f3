//! Link impairments behave as configured (statistical checks, generous bounds).

use std::time::Duration;

use rtmfp_core::sim::toy::{Echo, Pinger, Recorder};
use rtmfp_core::sim::{self, DropReason, Limits, LinkConfig, NodeId, Sim, Stop};

const N: u64 = 10_000;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// N one-way pings, `interval` apart, from a pinger to a recorder whose
/// downlink is `link`; every other link is ideal. Runs to idle.
fn one_way(seed: u64, link: LinkConfig, interval: Duration, size: usize) -> (Sim, NodeId, NodeId) {
    let mut sim = Sim::new(sim::seed_from_env_or(seed));
    sim.set_default_link(LinkConfig::ideal());
    let b_addr = sim::addr("203.0.113.2:2000");
    let pinger = Pinger::new(b_addr, N, interval).with_size(size);
    let a = sim.add_node(pinger, &[sim::addr("203.0.113.1:1000")]);
    let b = sim.add_node(Recorder::new(), &[b_addr]);
    sim.set_downlink(b, link);
    let r = sim.run_until_idle(Limits::default());
    assert_eq!(r.stop, Stop::Idle, "{r}");
    (sim, a, b)
}

/// (sequence number, one-way delay) of every arrival, in arrival order.
fn arrivals(sim: &Sim, a: NodeId, b: NodeId) -> Vec<(u64, Duration)> {
    let sent = &sim.node::<Pinger>(a).send_times;
    sim.node::<Recorder>(b)
        .inbox
        .iter()
        .map(|r| {
            let seq = Pinger::seq_of(&r.data).unwrap();
            (seq, r.at - sent[seq as usize])
        })
        .collect()
}

#[test]
fn delay_is_exact_without_jitter() {
    let (sim, a, b) = one_way(1, LinkConfig::ideal().with_delay(ms(30)), ms(1), 64);
    let got = arrivals(&sim, a, b);
    assert_eq!(got.len() as u64, N, "{sim}");
    assert!(got.iter().all(|&(_, d)| d == ms(30)), "{sim}");
    assert!(got.windows(2).all(|w| w[0].0 < w[1].0), "in order; {sim}");
}

#[test]
fn default_link_is_ten_ms_each_way() {
    let mut sim = Sim::new(sim::seed_from_env_or(2));
    let echo = sim::addr("203.0.113.2:2000");
    sim.add_node(Echo::default(), &[echo]);
    let p = sim.add_node(
        Pinger::new(echo, 5, ms(100)),
        &[sim::addr("203.0.113.1:1000")],
    );
    let r = sim.run_until_idle(Limits::default());
    assert_eq!(r.stop, Stop::Idle, "{r}");
    // Four 10 ms hops: pinger up, echo down, echo up, pinger down.
    assert_eq!(sim.node::<Pinger>(p).rtts, vec![ms(40); 5], "{sim}");
}

#[test]
fn jitter_is_bounded_uniform_and_fifo() {
    let link = LinkConfig::ideal().with_delay(ms(20)).with_jitter(ms(10));
    let (sim, a, b) = one_way(3, link, ms(20), 64);
    let got = arrivals(&sim, a, b);
    assert_eq!(got.len() as u64, N, "{sim}");
    let delays: Vec<f64> = got.iter().map(|&(_, d)| d.as_secs_f64() * 1e3).collect();
    let min = delays.iter().cloned().fold(f64::MAX, f64::min);
    let max = delays.iter().cloned().fold(0.0, f64::max);
    let mean = delays.iter().sum::<f64>() / delays.len() as f64;
    assert!(min >= 20.0 && max <= 30.0, "min {min} max {max}; {sim}");
    assert!(min < 20.5 && max > 29.5, "spread covers the range; {sim}");
    assert!((24.5..25.5).contains(&mean), "mean {mean}; {sim}");
    // Jitter alone never reorders, even when packets are closer than the jitter.
    let link = LinkConfig::ideal().with_delay(ms(20)).with_jitter(ms(10));
    let (sim, a, b) = one_way(4, link, ms(1), 64);
    let got = arrivals(&sim, a, b);
    assert!(got.windows(2).all(|w| w[0].0 < w[1].0), "{sim}");
}

#[test]
fn loss_rate_matches() {
    let (sim, _, b) = one_way(5, LinkConfig::ideal().with_loss(0.1), ms(1), 64);
    let got = sim.node::<Recorder>(b).inbox.len() as u64;
    assert!((8_700..=9_300).contains(&got), "received {got}; {sim}");
    let lost = sim.stats().drops.get(DropReason::Loss);
    assert_eq!(got + lost, N, "{sim}");
    assert_eq!(sim.node_stats(b).downlink.dropped_loss, lost, "{sim}");
}

#[test]
fn duplication_rate_matches() {
    let (sim, a, b) = one_way(6, LinkConfig::ideal().with_duplicate(0.05), ms(1), 64);
    let got = arrivals(&sim, a, b);
    let extra = got.len() as u64 - N;
    assert!((350..=650).contains(&extra), "{extra} duplicates; {sim}");
    assert_eq!(extra, sim.stats().duplicated_datagrams, "{sim}");
    let mut seqs: Vec<u64> = got.iter().map(|g| g.0).collect();
    seqs.sort();
    seqs.dedup();
    assert_eq!(seqs.len() as u64, N, "every ping arrived; {sim}");
}

#[test]
fn reordering_rate_matches() {
    let link = LinkConfig::ideal()
        .with_delay(ms(5))
        .with_reorder(0.1, ms(50));
    let (sim, a, b) = one_way(7, link, ms(1), 64);
    let got = arrivals(&sim, a, b);
    assert_eq!(got.len() as u64, N, "{sim}");
    let mut highest = 0;
    let mut late = 0u64;
    for &(seq, d) in &got {
        if seq < highest {
            late += 1;
            assert_eq!(d, ms(55), "a late packet is a held-back one; {sim}");
        }
        highest = highest.max(seq);
    }
    assert!((800..=1_200).contains(&late), "{late} late; {sim}");
    // Every held-back datagram is overtaken, bar one among the last few.
    let held = sim.node_stats(b).downlink.reordered;
    assert!(
        late <= held && held - late <= 3,
        "{late} late, {held} held; {sim}"
    );
}

#[test]
fn bandwidth_paces_a_burst() {
    // 1 Mbit/s: a 1250-byte datagram takes exactly 10 ms to serialize.
    let mut sim = Sim::new(sim::seed_from_env_or(8));
    sim.set_default_link(LinkConfig::ideal());
    let b_addr = sim::addr("203.0.113.2:2000");
    let a = sim.add_node(Recorder::new(), &[sim::addr("203.0.113.1:1000")]);
    let b = sim.add_node(Recorder::new(), &[b_addr]);
    sim.set_uplink(
        a,
        LinkConfig::ideal()
            .with_delay(ms(5))
            .with_bandwidth(1_000_000, 1 << 20),
    );
    let start = sim.now();
    for i in 0..200u32 {
        let mut d = i.to_be_bytes().to_vec();
        d.resize(1250, 0);
        sim.node_mut::<Recorder>(a).send(b_addr, d);
    }
    let r = sim.run_until_idle(Limits::default());
    assert_eq!(r.stop, Stop::Idle, "{r}");
    let inbox = &sim.node::<Recorder>(b).inbox;
    assert_eq!(inbox.len(), 200, "{sim}");
    for (i, rec) in inbox.iter().enumerate() {
        // N bytes take N*8/bw seconds, plus the 5 ms delay.
        assert_eq!(
            rec.at - start,
            ms(10 * (i as u64 + 1) + 5),
            "datagram {i}; {sim}"
        );
    }
}

#[test]
fn bandwidth_queue_tail_drops_the_excess() {
    // Offer 2 Mbit/s (1250 bytes every 5 ms) to a 1 Mbit/s link with a
    // ten-datagram queue: about half gets through, the rest is tail-dropped.
    let link = LinkConfig::ideal().with_bandwidth(1_000_000, 12_500);
    let (sim, _, b) = one_way(9, link, ms(5), 1250);
    let got = sim.node::<Recorder>(b).inbox.len() as u64;
    assert!((4_950..=5_100).contains(&got), "{got} delivered; {sim}");
    assert_eq!(
        sim.stats().drops.get(DropReason::QueueFull),
        N - got,
        "{sim}"
    );
    let inbox = &sim.node::<Recorder>(b).inbox;
    let span = inbox.last().unwrap().at - inbox.first().unwrap().at;
    let bps = (got - 1) as f64 * 1250.0 * 8.0 / span.as_secs_f64();
    assert!(
        (990_000.0..=1_010_000.0).contains(&bps),
        "{bps} bit/s; {sim}"
    );
}

#[test]
fn mtu_drops_oversized_datagrams() {
    let mut sim = Sim::new(sim::seed_from_env_or(10));
    let b_addr = sim::addr("203.0.113.2:2000");
    let a = sim.add_node(Recorder::new(), &[sim::addr("203.0.113.1:1000")]);
    let b = sim.add_node(Recorder::new(), &[b_addr]);
    sim.set_uplink(a, LinkConfig::default().with_mtu(1400));
    for len in [1200, 1500, 1400, 1401] {
        sim.node_mut::<Recorder>(a).send(b_addr, vec![0; len]);
    }
    let _ = sim.run_until_idle(Limits::default());
    let lens: Vec<usize> = sim
        .node::<Recorder>(b)
        .inbox
        .iter()
        .map(|r| r.data.len())
        .collect();
    assert_eq!(lens, [1200, 1400], "{sim}");
    assert_eq!(sim.stats().drops.get(DropReason::Mtu), 2, "{sim}");
    assert_eq!(sim.node_stats(a).uplink.dropped_mtu, 2, "{sim}");
    assert_eq!(sim.node_stats(a).drops.get(DropReason::Mtu), 2, "{sim}");
}

#[test]
fn partition_mid_run_then_heal() {
    let mut sim = Sim::new(sim::seed_from_env_or(11));
    sim.set_default_link(LinkConfig::ideal().with_delay(ms(1)));
    let echo_addr = sim::addr("203.0.113.2:2000");
    let echo = sim.add_node(Echo::default(), &[echo_addr]);
    let p = sim.add_node(
        Pinger::new(echo_addr, 300, ms(10)),
        &[sim::addr("203.0.113.1:1000")],
    );
    // t = 0 .. 1 s healthy; 1 .. 2 s partitioned; then healed.
    assert!(sim.run_for(Duration::from_secs(1)).satisfied());
    sim.set_link(echo, LinkConfig::ideal().with_delay(ms(1)).with_loss(1.0));
    assert!(sim.run_for(Duration::from_secs(1)).satisfied());
    let during = sim.node::<Pinger>(p).replies;
    sim.set_link(echo, LinkConfig::ideal().with_delay(ms(1)));
    let r = sim.run_until_idle(Limits::default());
    assert_eq!(r.stop, Stop::Idle, "{r}");
    let pinger = sim.node::<Pinger>(p);
    assert!(
        (99..=101).contains(&during),
        "{during} replies by t=2s; {sim}"
    );
    assert!(
        (199..=201).contains(&pinger.replies),
        "{} replies; {sim}",
        pinger.replies
    );
    assert!(
        pinger.arrivals.iter().all(|&s| !(101..=199).contains(&s)),
        "{sim}"
    );
}
