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
