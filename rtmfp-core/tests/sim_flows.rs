//! RFC 7016 §3.6 flows over the simulator, with Flash crypto at both ends.

use rand::{rngs::StdRng, Rng, SeedableRng};
use rtmfp_core::crypto::flash::epd::epd_for_fingerprint;
use rtmfp_core::crypto::{CryptoProfile, FlashConfig, FlashProfile};
use rtmfp_core::endpoint::{Endpoint, EndpointConfig, Event, SessionHandle};
use rtmfp_core::flow::{DeliveryOrder, FlowId, MessageOptions, Priority};
use rtmfp_core::sim::{addr, seed_from_env_or, Limits, LinkConfig, NodeId, Sim};
use std::sync::Arc;
use std::time::Duration;

fn flash(config: FlashConfig, seed: u64) -> Arc<dyn CryptoProfile> {
    Arc::new(FlashProfile::new(config, &mut StdRng::seed_from_u64(seed)).unwrap())
}

struct Setup {
    sim: Sim,
    a: NodeId,
    b: NodeId,
    a_session: SessionHandle,
    b_session: SessionHandle,
}

fn setup(seed: u64, link: LinkConfig, cfg: EndpointConfig) -> Setup {
    let mut sim = Sim::new(seed);
    sim.set_default_link(link);
    let mk = |sim: &Sim, config: FlashConfig, n: u64| {
        let ep = EndpointConfig {
            rng_seed: Some(n ^ seed),
            ..cfg.clone()
        };
        Endpoint::new(ep, flash(config, n ^ seed), sim.now())
    };
    let b_addr = addr("203.0.113.1:1935");
    let b = sim.add_node(mk(&sim, FlashConfig::server(), 1), &[b_addr]);
    let a = sim.add_node(
        mk(&sim, FlashConfig::client(), 2),
        &[addr("198.51.100.9:50000")],
    );
    let epd = epd_for_fingerprint(&sim.node::<Endpoint>(b).peer_id().unwrap());
    let now = sim.now();
    let a_session = sim
        .node_mut::<Endpoint>(a)
        .connect(now, epd, &[b_addr])
        .unwrap();
    let mut b_session = None;
    let mut a_open = false;
    let _ = sim.run_until(
        |sim| {
            for e in drain(sim, a) {
                a_open |= matches!(e, Event::SessionOpened { .. });
            }
            for e in drain(sim, b) {
                if let Event::SessionOpened { session, .. } = e {
                    b_session = Some(session);
                }
            }
            a_open && b_session.is_some()
        },
        Limits::time(Duration::from_secs(95)),
    );
    Setup {
        sim,
        a,
        b,
        a_session,
        b_session: b_session.expect("session opened"),
    }
}

fn drain(sim: &mut Sim, id: NodeId) -> Vec<Event> {
    let ep = sim.node_mut::<Endpoint>(id);
    std::iter::from_fn(|| ep.poll_event()).collect()
}

/// Deterministic message contents: size and a pattern from the index.
fn message(i: usize, size: usize) -> Vec<u8> {
    (0..size).map(|j| (i * 31 + j * 7) as u8).collect()
}

#[test]
fn messages_arrive_in_order_with_receipts() {
    let mut s = setup(
        seed_from_env_or(1),
        LinkConfig::ideal().with_delay(Duration::from_millis(10)),
        EndpointConfig::default(),
    );
    let now = s.sim.now();
    let flow = s
        .sim
        .node_mut::<Endpoint>(s.a)
        .open_flow(s.a_session, b"meta", Priority::Routine, None)
        .unwrap();
    let sizes = [1usize, 0, 1000, 5000, 70_000, 3];
    let mut ids = Vec::new();
    for (i, &size) in sizes.iter().enumerate() {
        ids.push(
            s.sim
                .node_mut::<Endpoint>(s.a)
                .send(
                    now,
                    s.a_session,
                    flow,
                    &message(i, size),
                    MessageOptions::default(),
                )
                .unwrap(),
        );
    }
    let mut received = Vec::new();
    let mut delivered = Vec::new();
    let (a, b, b_session) = (s.a, s.b, s.b_session);
    let _ = s.sim.run_until(
        |sim| {
            let now = sim.now();
            for e in drain(sim, b) {
                match e {
                    Event::FlowOpened {
                        flow,
                        metadata,
                        association,
                        ..
                    } => {
                        assert_eq!(metadata, b"meta");
                        assert_eq!(association, None);
                        sim.node_mut::<Endpoint>(b)
                            .accept_flow(now, b_session, flow, DeliveryOrder::Sequence)
                            .unwrap();
                    }
                    Event::Message {
                        data, gap_before, ..
                    } => {
                        assert!(!gap_before);
                        received.push(data);
                    }
                    _ => {}
                }
            }
            for e in drain(sim, a) {
                if let Event::MessageDelivered { message, .. } = e {
                    delivered.push(message);
                }
            }
            delivered.len() == sizes.len() && received.len() == sizes.len()
        },
        Limits::time(Duration::from_secs(30)),
    );
    assert_eq!(received.len(), sizes.len(), "sim seed = {}", s.sim.seed());
    for (i, &size) in sizes.iter().enumerate() {
        assert_eq!(received[i], message(i, size), "message {i}");
    }
    delivered.sort();
    assert_eq!(delivered, ids);
    let info = s
        .sim
        .node::<Endpoint>(s.a)
        .session_info(s.a_session)
        .unwrap();
    assert_eq!(info.stats.flows.bytes_in_flight, 0);
    let _: FlowId = flow;
}

/// Runs a bulk transfer of `total` bytes in messages of mixed sizes and
/// checks exactly-once delivery (in order when `order` is Sequence).
fn transfer(seed: u64, link: LinkConfig, total: usize, order: DeliveryOrder, limit: Duration) {
    let mut s = setup(seed, link, EndpointConfig::default());
    let mut rng = StdRng::seed_from_u64(seed);
    let mut sizes = Vec::new();
    let mut sum = 0;
    while sum < total {
        let size = match rng.random_range(0..10) {
            0 => rng.random_range(1..=16),
            1..=6 => rng.random_range(100..3000),
            7..=8 => rng.random_range(3000..100_000),
            _ => rng.random_range(100_000..=1 << 20),
        }
        .min(total - sum)
        .max(1);
        sizes.push(size);
        sum += size;
    }
    let (a, b, a_session, b_session) = (s.a, s.b, s.a_session, s.b_session);
    let flow = s
        .sim
        .node_mut::<Endpoint>(a)
        .open_flow(a_session, b"bulk", Priority::Routine, None)
        .unwrap();
    let mut next = 0;
    let mut received: Vec<Vec<u8>> = Vec::new();
    let mut received_bytes = 0;
    let report = s.sim.run_until(
        |sim| {
            let now = sim.now();
            // Keep the sender's buffer topped up (backpressure).
            while next < sizes.len() {
                let ep = sim.node_mut::<Endpoint>(a);
                match ep.send(
                    now,
                    a_session,
                    flow,
                    &message(next, sizes[next]),
                    MessageOptions::default(),
                ) {
                    Ok(_) => next += 1,
                    Err(_) => break,
                }
            }
            for e in drain(sim, b) {
                match e {
                    Event::FlowOpened { flow, .. } => sim
                        .node_mut::<Endpoint>(b)
                        .accept_flow(now, b_session, flow, order)
                        .unwrap(),
                    Event::Message { data, .. } => {
                        received_bytes += data.len();
                        received.push(data);
                    }
                    _ => {}
                }
            }
            drain(sim, a);
            received.len() == sizes.len()
        },
        Limits::time(limit),
    );
    assert_eq!(
        received.len(),
        sizes.len(),
        "{report}: {received_bytes} of {total} bytes"
    );
    match order {
        DeliveryOrder::Sequence => {
            for (i, data) in received.iter().enumerate() {
                assert!(
                    *data == message(i, sizes[i]),
                    "message {i} differs ({report})"
                );
            }
        }
        DeliveryOrder::Network => {
            // Every message exactly once, whatever the order: match by content.
            let mut expected: Vec<Vec<u8>> = sizes
                .iter()
                .enumerate()
                .map(|(i, &n)| message(i, n))
                .collect();
            let mut got = received.clone();
            expected.sort();
            got.sort();
            assert!(got == expected, "network-order delivery differs ({report})");
        }
    }
    let stats = s
        .sim
        .node::<Endpoint>(a)
        .session_info(a_session)
        .unwrap()
        .stats;
    eprintln!(
        "{report}: {} messages, {} bytes, cwnd {}, losses {}, timeouts {}, retransmissions {}, srtt {:?}",
        sizes.len(),
        total,
        stats.flows.cwnd,
        stats.flows.loss_events,
        stats.flows.timeouts,
        stats.flows.retransmissions,
        stats.srtt
    );
}

#[test]
fn clean_link_transfer() {
    transfer(
        seed_from_env_or(5),
        LinkConfig::ideal().with_delay(Duration::from_millis(25)),
        2 << 20,
        DeliveryOrder::Sequence,
        Duration::from_secs(120),
    );
}

fn lossy_link() -> LinkConfig {
    // 50 ms RTT: 12.5 ms on each of the four link traversals.
    LinkConfig::ideal()
        .with_delay(Duration::from_micros(12_500))
        .with_jitter(Duration::from_millis(2))
        .with_loss(0.10)
        .with_duplicate(0.02)
        .with_reorder(0.05, Duration::from_millis(8))
}

#[test]
fn sixteen_mib_exactly_once_in_order_under_ten_percent_loss() {
    transfer(
        seed_from_env_or(11),
        lossy_link(),
        16 << 20,
        DeliveryOrder::Sequence,
        Duration::from_secs(1800),
    );
}

#[test]
fn network_order_delivers_every_message_once_under_loss() {
    transfer(
        seed_from_env_or(12),
        lossy_link(),
        4 << 20,
        DeliveryOrder::Network,
        Duration::from_secs(900),
    );
}

/// Accepts every new flow at `node` in sequence order.
fn accept_all(sim: &mut Sim, node: NodeId, events: &[Event]) {
    let now = sim.now();
    for e in events {
        if let Event::FlowOpened { session, flow, .. } = e {
            sim.node_mut::<Endpoint>(node)
                .accept_flow(now, *session, *flow, DeliveryOrder::Sequence)
                .unwrap();
        }
    }
}

#[test]
fn deadlines_abandon_late_messages_without_stalling_later_ones() {
    // 1 Mbit/s with a 20 KB queue: 200 KB queued at once cannot all
    // finish within 300 ms.
    let link = LinkConfig::ideal()
        .with_delay(Duration::from_millis(10))
        .with_bandwidth(1_000_000, 20_000);
    let mut s = setup(seed_from_env_or(21), link, EndpointConfig::default());
    let (a, b, a_session) = (s.a, s.b, s.a_session);
    let flow = s
        .sim
        .node_mut::<Endpoint>(a)
        .open_flow(a_session, b"video", Priority::Priority, None)
        .unwrap();
    let now = s.sim.now();
    let options = MessageOptions {
        finish_within: Some(Duration::from_millis(300)),
        ..MessageOptions::default()
    };
    let mut ids = Vec::new();
    for i in 0..100 {
        ids.push(
            s.sim
                .node_mut::<Endpoint>(a)
                .send(now, a_session, flow, &message(i, 2000), options)
                .unwrap(),
        );
    }
    let mut received = Vec::new();
    let mut gaps = 0;
    let mut delivered = Vec::new();
    let mut abandoned = Vec::new();
    let mut late_ids = Vec::new();
    let mut sent_late = false;
    let _ = s.sim.run_until(
        |sim| {
            let b_events = drain(sim, b);
            accept_all(sim, b, &b_events);
            for e in b_events {
                if let Event::Message {
                    data, gap_before, ..
                } = e
                {
                    gaps += usize::from(gap_before);
                    received.push(data);
                }
            }
            for e in drain(sim, a) {
                match e {
                    Event::MessageDelivered { message, .. } => delivered.push(message),
                    Event::MessageAbandoned { message, .. } => abandoned.push(message),
                    _ => {}
                }
            }
            // After the deadline burst, later messages still get through.
            if !sent_late && sim.elapsed() > Duration::from_secs(2) {
                sent_late = true;
                let now = sim.now();
                for i in 100..105 {
                    late_ids.push(
                        sim.node_mut::<Endpoint>(a)
                            .send(
                                now,
                                a_session,
                                flow,
                                &message(i, 500),
                                MessageOptions::default(),
                            )
                            .unwrap(),
                    );
                }
            }
            sent_late && late_ids.iter().all(|id| delivered.contains(id))
        },
        Limits::time(Duration::from_secs(30)),
    );
    assert!(!abandoned.is_empty(), "some messages missed their deadline");
    assert!(!delivered.is_empty(), "some messages made their deadline");
    assert_eq!(
        delivered.len() + abandoned.len(),
        105,
        "every message gets exactly one receipt"
    );
    assert!(
        late_ids.iter().all(|id| delivered.contains(id)),
        "later messages were not stalled"
    );
    assert!(gaps >= 1, "the receiver was told about the gap");
    // The receiver never sees a message out of order, and sees the late ones.
    let indices: Vec<usize> = received
        .iter()
        .map(|d| {
            (0..105)
                .find(|&i| *d == message(i, d.len()))
                .expect("known")
        })
        .collect();
    assert!(indices.windows(2).all(|w| w[0] < w[1]), "{indices:?}");
    assert!(indices.ends_with(&[100, 101, 102, 103, 104]));
    // A message reported abandoned was never delivered to the sender as
    // delivered as well.
    assert!(delivered.iter().all(|id| !abandoned.contains(id)));
    assert_eq!(ids.len(), 100);
}

/// Saturating video at Routine beside 64 kbit/s audio at `audio_priority`
/// over a 2 Mbit/s, 40 ms RTT bottleneck.  Returns the sorted audio
/// latencies after slow start, the video rate in Mbit/s, and the sender's
/// smoothed RTT (which includes the bottleneck's standing queue).
fn audio_beside_video(audio_priority: Priority) -> (Vec<Duration>, f64, Duration) {
    let link = LinkConfig::ideal()
        .with_delay(Duration::from_millis(10))
        .with_bandwidth(2_000_000, 16_000);
    let mut s = setup(seed_from_env_or(31), link, EndpointConfig::default());
    let (a, b, a_session) = (s.a, s.b, s.a_session);
    let ep = s.sim.node_mut::<Endpoint>(a);
    let video = ep
        .open_flow(a_session, b"video", Priority::Routine, None)
        .unwrap();
    let audio = ep
        .open_flow(a_session, b"audio", audio_priority, None)
        .unwrap();
    let mut audio_flow_at_b = None;
    let mut latencies = Vec::new();
    let mut video_bytes = 0usize;
    let mut next_audio = s.sim.now();
    let start = s.sim.now();
    let mut sent_at = std::collections::HashMap::new();
    let mut seq = 0u32;
    let _ = s.sim.run_until(
        |sim| {
            let now = sim.now();
            // 64 kbit/s audio: 160 bytes every 20 ms, stamped with a counter.
            while next_audio <= now {
                let mut frame = vec![0u8; 160];
                frame[..4].copy_from_slice(&seq.to_be_bytes());
                sent_at.insert(seq, now);
                seq += 1;
                sim.node_mut::<Endpoint>(a)
                    .send(now, a_session, audio, &frame, MessageOptions::default())
                    .unwrap();
                next_audio += Duration::from_millis(20);
            }
            // Saturating video: keep the send buffer full.
            while sim
                .node_mut::<Endpoint>(a)
                .flow_writable(a_session, video)
                .unwrap()
            {
                sim.node_mut::<Endpoint>(a)
                    .send(
                        now,
                        a_session,
                        video,
                        &[7u8; 10_000],
                        MessageOptions::default(),
                    )
                    .unwrap();
            }
            let b_events = drain(sim, b);
            accept_all(sim, b, &b_events);
            for e in b_events {
                match e {
                    Event::FlowOpened { flow, metadata, .. } if metadata == b"audio" => {
                        audio_flow_at_b = Some(flow)
                    }
                    Event::Message { flow, data, .. } if Some(flow) == audio_flow_at_b => {
                        let n = u32::from_be_bytes(data[..4].try_into().unwrap());
                        // Skip the first second: slow start.
                        if now - start > Duration::from_secs(1) {
                            latencies.push(now - sent_at[&n]);
                        }
                    }
                    Event::Message { data, .. } => video_bytes += data.len(),
                    _ => {}
                }
            }
            drain(sim, a);
            false
        },
        Limits::time(Duration::from_secs(20)),
    );
    latencies.sort();
    let srtt = s
        .sim
        .node::<Endpoint>(a)
        .session_info(a_session)
        .unwrap()
        .stats
        .srtt
        .unwrap();
    (latencies, video_bytes as f64 * 8.0 / 20.0 / 1e6, srtt)
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * q) as usize]
}

#[test]
fn audio_keeps_low_latency_beside_saturating_video() {
    let (latencies, video_rate, srtt) = audio_beside_video(Priority::Immediate);
    let (p50, p99, max) = (
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        *latencies.last().unwrap(),
    );
    eprintln!(
        "audio at Immediate: {} frames, latency p50 {p50:?} p99 {p99:?} max {max:?}; srtt {srtt:?}; video {video_rate:.2} Mbit/s",
        latencies.len()
    );
    let (starved, _, _) = audio_beside_video(Priority::Background);
    eprintln!(
        "audio at Background, below the video: {} frames delivered",
        starved.len()
    );
    assert!(
        latencies.len() > 800,
        "audio kept flowing: {}",
        latencies.len()
    );
    // Audio never waits behind queued video at the sender: its one-way
    // latency stays within one (measured) RTT plus a few packet times
    // (1200 bytes take 4.8 ms at 2 Mbit/s).  The RTT includes the
    // bottleneck's standing queue, which loss-based congestion control
    // fills.
    assert!(
        p99 <= srtt + Duration::from_millis(5 * 5),
        "p99 {p99:?} srtt {srtt:?}"
    );
    assert!(video_rate > 1.2, "video got {video_rate:.2} Mbit/s");
    // Precedence is strict: below the saturating video, audio starves.
    assert!(
        starved.len() < latencies.len() / 10,
        "background audio got {} frames",
        starved.len()
    );
}

#[test]
fn rejected_flow_reports_its_code_to_the_sender() {
    let mut s = setup(
        seed_from_env_or(41),
        LinkConfig::ideal().with_delay(Duration::from_millis(10)),
        EndpointConfig::default(),
    );
    let (a, b, a_session) = (s.a, s.b, s.a_session);
    let now = s.sim.now();
    let flow = s
        .sim
        .node_mut::<Endpoint>(a)
        .open_flow(a_session, b"unwanted", Priority::Routine, None)
        .unwrap();
    let first = s
        .sim
        .node_mut::<Endpoint>(a)
        .send(now, a_session, flow, b"hello", MessageOptions::default())
        .unwrap();
    let mut rejected = None;
    let mut abandoned = Vec::new();
    let _ = s.sim.run_until(
        |sim| {
            for e in drain(sim, b) {
                if let Event::FlowOpened { session, flow, .. } = e {
                    sim.node_mut::<Endpoint>(b)
                        .reject_flow(session, flow, 42)
                        .unwrap();
                }
                assert!(
                    !matches!(e, Event::Message { .. }),
                    "a rejected flow delivers nothing"
                );
            }
            for e in drain(sim, a) {
                match e {
                    Event::FlowRejected { flow: f, code, .. } if f == flow => rejected = Some(code),
                    Event::MessageAbandoned { message, .. } => abandoned.push(message),
                    _ => {}
                }
            }
            rejected.is_some()
        },
        Limits::time(Duration::from_secs(10)),
    );
    assert_eq!(rejected, Some(42));
    // The message was either acknowledged before the rejection or abandoned.
    assert!(abandoned.is_empty() || abandoned == [first]);
    let now = s.sim.now();
    assert!(s
        .sim
        .node_mut::<Endpoint>(a)
        .send(now, a_session, flow, b"more", MessageOptions::default())
        .is_err());
}

#[test]
fn a_stopped_reader_stalls_the_sender_and_resuming_loses_nothing() {
    let cfg = EndpointConfig {
        flow_limits: rtmfp_core::flow::FlowLimits {
            send_buffer: 4 << 20,
            receive_buffer: 64 << 10,
            ..rtmfp_core::flow::FlowLimits::default()
        },
        ..EndpointConfig::default()
    };
    let mut s = setup(
        seed_from_env_or(51),
        LinkConfig::ideal().with_delay(Duration::from_millis(10)),
        cfg,
    );
    let (a, b, a_session, b_session) = (s.a, s.b, s.a_session, s.b_session);
    let flow = s
        .sim
        .node_mut::<Endpoint>(a)
        .open_flow(a_session, b"bulk", Priority::Routine, None)
        .unwrap();
    let now = s.sim.now();
    let total = 100;
    for i in 0..total {
        s.sim
            .node_mut::<Endpoint>(a)
            .send(
                now,
                a_session,
                flow,
                &message(i, 10_000),
                MessageOptions::default(),
            )
            .unwrap();
    }
    let mut received = Vec::new();
    let mut b_flow = None;
    // Accept, read a little, then stop reading.
    let _ = s.sim.run_until(
        |sim| {
            let now = sim.now();
            for e in drain(sim, b) {
                match e {
                    Event::FlowOpened { flow, .. } => {
                        b_flow = Some(flow);
                        let ep = sim.node_mut::<Endpoint>(b);
                        ep.accept_flow(now, b_session, flow, DeliveryOrder::Sequence)
                            .unwrap();
                        ep.set_flow_suspended(now, b_session, flow, true).unwrap();
                    }
                    Event::Message { data, .. } => received.push(data),
                    _ => {}
                }
            }
            drain(sim, a);
            false
        },
        Limits::time(Duration::from_secs(30)),
    );
    let stalled = s.sim.node::<Endpoint>(a).session_info(a_session).unwrap();
    assert!(
        stalled.open,
        "buffer probes and keepalives kept the session open"
    );
    assert!(received.is_empty(), "a suspended flow delivers nothing");
    let sent_while_stalled = s.sim.node_stats(a).sent_datagrams;
    // Resume reading: everything arrives, exactly once, in order.
    let now = s.sim.now();
    s.sim
        .node_mut::<Endpoint>(b)
        .set_flow_suspended(now, b_session, b_flow.unwrap(), false)
        .unwrap();
    let _ = s.sim.run_until(
        |sim| {
            for e in drain(sim, b) {
                if let Event::Message { data, .. } = e {
                    received.push(data);
                }
            }
            drain(sim, a);
            received.len() == total
        },
        Limits::time(Duration::from_secs(60)),
    );
    assert_eq!(received.len(), total);
    for (i, data) in received.iter().enumerate() {
        assert!(*data == message(i, 10_000), "message {i}");
    }
    assert!(s.sim.node_stats(a).sent_datagrams > sent_while_stalled);
}

#[test]
fn two_sessions_share_a_bottleneck_fairly_and_recover_from_a_loss_burst() {
    let seed = seed_from_env_or(61);
    let mut sim = Sim::new(seed);
    sim.set_default_link(LinkConfig::ideal().with_delay(Duration::from_millis(10)));
    let server_addr = addr("203.0.113.1:1935");
    let mk = |sim: &Sim, config: FlashConfig, n: u64| {
        let ep = EndpointConfig {
            rng_seed: Some(n ^ seed),
            ..EndpointConfig::default()
        };
        Endpoint::new(ep, flash(config, n ^ seed), sim.now())
    };
    let server = sim.add_node(mk(&sim, FlashConfig::server(), 1), &[server_addr]);
    // The bottleneck: the server's downlink, 4 Mbit/s with a 40 KB queue.
    sim.set_downlink(
        server,
        LinkConfig::ideal()
            .with_delay(Duration::from_millis(10))
            .with_bandwidth(4_000_000, 40_000),
    );
    let clients = [
        sim.add_node(
            mk(&sim, FlashConfig::client(), 2),
            &[addr("198.51.100.1:5000")],
        ),
        sim.add_node(
            mk(&sim, FlashConfig::client(), 3),
            &[addr("198.51.100.2:5000")],
        ),
    ];
    let epd = epd_for_fingerprint(&sim.node::<Endpoint>(server).peer_id().unwrap());
    let mut sessions = Vec::new();
    for &c in &clients {
        let now = sim.now();
        sessions.push(
            sim.node_mut::<Endpoint>(c)
                .connect(now, epd.clone(), &[server_addr])
                .unwrap(),
        );
    }
    let _ = sim.run_for(Duration::from_secs(1));
    let mut flows = Vec::new();
    for (i, &c) in clients.iter().enumerate() {
        drain(&mut sim, c);
        flows.push(
            sim.node_mut::<Endpoint>(c)
                .open_flow(sessions[i], b"bulk", Priority::Routine, None)
                .unwrap(),
        );
    }
    // Which client each server-side session belongs to, by far address.
    let mut bytes_by_client = [0usize; 2];
    let pump = |sim: &mut Sim, span: Duration, totals: &mut [usize; 2]| {
        let _ = sim.run_until(
            |sim| {
                let now = sim.now();
                for (i, &c) in clients.iter().enumerate() {
                    while sim
                        .node_mut::<Endpoint>(c)
                        .flow_writable(sessions[i], flows[i])
                        .unwrap()
                    {
                        sim.node_mut::<Endpoint>(c)
                            .send(
                                now,
                                sessions[i],
                                flows[i],
                                &[1u8; 8000],
                                MessageOptions::default(),
                            )
                            .unwrap();
                    }
                    drain(sim, c);
                }
                let events = drain(sim, server);
                accept_all(sim, server, &events);
                for e in events {
                    if let Event::Message { session, data, .. } = e {
                        let far = sim
                            .node::<Endpoint>(server)
                            .session_info(session)
                            .unwrap()
                            .far_address;
                        let i = usize::from(far.ip() == addr("198.51.100.2:5000").ip());
                        totals[i] += data.len();
                    }
                }
                false
            },
            Limits::time(span),
        );
    };
    // Warm up, then measure 30 s.
    pump(&mut sim, Duration::from_secs(5), &mut [0; 2]);
    pump(&mut sim, Duration::from_secs(30), &mut bytes_by_client);
    let [x, y] = bytes_by_client;
    let total_rate = (x + y) as f64 * 8.0 / 30.0 / 1e6;
    eprintln!(
        "fair share over 30 s: {:.2} and {:.2} Mbit/s (sum {total_rate:.2} of 4)",
        x as f64 * 8.0 / 30e6,
        y as f64 * 8.0 / 30e6
    );
    assert!(
        x.max(y) <= 2 * x.min(y),
        "unfair: {x} vs {y} bytes (sim seed = {seed})"
    );
    assert!(total_rate > 3.0, "link under-used: {total_rate:.2} Mbit/s");
    // A two-second loss burst on the bottleneck, then recovery.
    let lossy = LinkConfig::ideal()
        .with_delay(Duration::from_millis(10))
        .with_bandwidth(4_000_000, 40_000)
        .with_loss(0.5);
    sim.set_downlink(server, lossy);
    pump(&mut sim, Duration::from_secs(2), &mut [0; 2]);
    sim.set_downlink(
        server,
        LinkConfig::ideal()
            .with_delay(Duration::from_millis(10))
            .with_bandwidth(4_000_000, 40_000),
    );
    let mut after = [0usize; 2];
    pump(&mut sim, Duration::from_secs(5), &mut [0; 2]);
    pump(&mut sim, Duration::from_secs(10), &mut after);
    let after_rate = (after[0] + after[1]) as f64 * 8.0 / 10.0 / 1e6;
    eprintln!("after the loss burst: {after_rate:.2} Mbit/s");
    assert!(
        after_rate > 0.75 * total_rate,
        "no recovery: {after_rate:.2} vs {total_rate:.2} Mbit/s"
    );
    for (i, &c) in clients.iter().enumerate() {
        assert!(
            sim.node::<Endpoint>(c)
                .session_info(sessions[i])
                .unwrap()
                .open
        );
    }
}

#[test]
fn a_flow_whose_first_packet_carries_all_of_it_is_still_announced() {
    // One message and the final sequence number in one packet: the
    // receiving flow is complete before the user hears of it.  It must
    // still be announced, accepted and delivered (§3.6.3.1, §3.6.3.3).
    let mut s = setup(
        seed_from_env_or(43),
        LinkConfig::ideal().with_delay(Duration::from_millis(10)),
        EndpointConfig::default(),
    );
    let (a, b, a_session) = (s.a, s.b, s.a_session);
    let now = s.sim.now();
    let ep = s.sim.node_mut::<Endpoint>(a);
    let flow = ep
        .open_flow(a_session, b"whole", Priority::Routine, None)
        .unwrap();
    ep.send(now, a_session, flow, b"only", MessageOptions::default())
        .unwrap();
    ep.close_flow(now, a_session, flow).unwrap();
    let mut got = Vec::new();
    let mut finished = false;
    let mut complete = false;
    let _ = s.sim.run_until(
        |sim| {
            for e in drain(sim, b) {
                match e {
                    Event::FlowOpened {
                        session,
                        flow,
                        metadata,
                        ..
                    } => {
                        assert_eq!(metadata, b"whole");
                        let now = sim.now();
                        sim.node_mut::<Endpoint>(b)
                            .accept_flow(now, session, flow, DeliveryOrder::Sequence)
                            .unwrap();
                    }
                    Event::Message { data, .. } => got.push(data),
                    Event::FlowFinished { .. } => finished = true,
                    _ => {}
                }
            }
            for e in drain(sim, a) {
                complete |= matches!(e, Event::FlowComplete { flow: f, .. } if f == flow);
            }
            finished && complete
        },
        Limits::time(Duration::from_secs(10)),
    );
    assert_eq!(got, [b"only".to_vec()]);
    assert!(finished && complete);
}
