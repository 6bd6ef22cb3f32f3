//! A session's turn to send is a burst (`endpoint/burst.rs`): a server
//! with several sessions ready sends each session's datagrams together,
//! at most eight at a time, round-robin among the sessions, and every
//! message arrives whole.

use rand::{rngs::StdRng, SeedableRng};
use rtmfp_core::crypto::flash::epd::epd_for_fingerprint;
use rtmfp_core::crypto::{CryptoProfile, FlashConfig, FlashProfile};
use rtmfp_core::endpoint::{Endpoint, EndpointConfig, Event, SessionHandle};
use rtmfp_core::flow::{DeliveryOrder, MessageOptions, Priority};
use rtmfp_core::sim::{addr, seed_from_env_or, Limits, LinkConfig, NodeId, Sim, TraceKind};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

const CLIENTS: usize = 3;
/// Five fragments each: under the six data packets RFC 7016 §3.5.2.3
/// allows before an acknowledgement, so each message can go in one turn.
const MESSAGE: usize = 5_000;

fn flash(config: FlashConfig, seed: u64) -> Arc<dyn CryptoProfile> {
    Arc::new(FlashProfile::new(config, &mut StdRng::seed_from_u64(seed)).unwrap())
}

fn endpoint(sim: &Sim, config: FlashConfig, seed: u64) -> Endpoint {
    let ep = EndpointConfig {
        rng_seed: Some(seed),
        ..EndpointConfig::default()
    };
    Endpoint::new(ep, flash(config, seed), sim.now())
}

fn drain(sim: &mut Sim, id: NodeId) -> Vec<Event> {
    let ep = sim.node_mut::<Endpoint>(id);
    std::iter::from_fn(|| ep.poll_event()).collect()
}

#[test]
fn each_session_sends_in_bursts_round_robin_and_every_message_arrives() {
    let seed = seed_from_env_or(5);
    let mut sim = Sim::new(seed);
    sim.set_default_link(LinkConfig::ideal().with_delay(Duration::from_millis(10)));
    let server_addr = addr("203.0.113.1:1935");
    let server = sim.add_node(
        endpoint(&sim, FlashConfig::server(), seed ^ 1),
        &[server_addr],
    );
    let epd = epd_for_fingerprint(&sim.node::<Endpoint>(server).peer_id().unwrap());
    let mut clients = Vec::new();
    for i in 0..CLIENTS {
        let at: SocketAddr = addr(&format!("198.51.100.{}:5000", i + 1));
        let c = sim.add_node(
            endpoint(&sim, FlashConfig::client(), seed ^ (10 + i as u64)),
            &[at],
        );
        let now = sim.now();
        sim.node_mut::<Endpoint>(c)
            .connect(now, epd.clone(), &[server_addr])
            .unwrap();
        clients.push((c, at));
    }
    // The server's sessions, by the client's address.
    let mut sessions: HashMap<SocketAddr, SessionHandle> = HashMap::new();
    let _ = sim.run_until(
        |sim| {
            for e in drain(sim, server) {
                if let Event::SessionOpened {
                    session,
                    far_address: address,
                    ..
                } = e
                {
                    sessions.insert(address, session);
                }
            }
            for &(c, _) in &clients {
                drain(sim, c);
            }
            sessions.len() == CLIENTS
        },
        Limits::time(Duration::from_secs(30)),
    );
    assert_eq!(sessions.len(), CLIENTS, "every client connected");
    let _ = sim.run_until(|_| false, Limits::time(Duration::from_millis(500)));

    // One message to every client at the same instant.
    let body = |i: usize| -> Vec<u8> { (0..MESSAGE).map(|j| (i * 31 + j * 7) as u8).collect() };
    let now = sim.now();
    for (i, &(_, at)) in clients.iter().enumerate() {
        let ep = sim.node_mut::<Endpoint>(server);
        let session = sessions[&at];
        let flow = ep
            .open_flow(session, b"burst", Priority::Routine, None)
            .unwrap();
        ep.send(now, session, flow, &body(i), MessageOptions::default())
            .unwrap();
    }
    sim.set_trace(true);
    let mut received: HashMap<SocketAddr, Vec<u8>> = HashMap::new();
    let _ = sim.run_until(
        |sim| {
            let now = sim.now();
            for (i, &(c, at)) in clients.iter().enumerate() {
                for e in drain(sim, c) {
                    match e {
                        Event::FlowOpened { session, flow, .. } => {
                            sim.node_mut::<Endpoint>(c)
                                .accept_flow(now, session, flow, DeliveryOrder::Sequence)
                                .unwrap();
                        }
                        Event::Message { data, .. } => {
                            assert_eq!(data, body(i), "client {i}'s message");
                            received.insert(at, data);
                        }
                        _ => {}
                    }
                }
            }
            received.len() == CLIENTS
        },
        Limits::time(Duration::from_secs(10)),
    );
    assert_eq!(received.len(), CLIENTS, "every message arrived whole");

    // The server's datagrams in the order it produced them, as runs of
    // one destination.
    let mut runs: Vec<(SocketAddr, usize)> = Vec::new();
    for t in sim.trace() {
        if let TraceKind::Send { node, to, .. } = t.kind {
            if node != server {
                continue;
            }
            match runs.last_mut() {
                Some((last, n)) if *last == to => *n += 1,
                _ => runs.push((to, 1)),
            }
        }
    }
    // The first turns: every client's message goes out as one run of its
    // data packets (at least four of at most 1,400 bytes), each client
    // once before any twice (round-robin).  One datagram per turn would
    // alternate the clients instead.
    let first: Vec<SocketAddr> = runs.iter().take(CLIENTS).map(|r| r.0).collect();
    let mut distinct = first.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), CLIENTS, "round-robin: {runs:?}");
    for &(to, n) in runs.iter().take(CLIENTS) {
        assert!(n >= MESSAGE.div_ceil(1_400), "one burst to {to}: {runs:?}");
    }
    assert!(
        runs.iter().all(|&(_, n)| n <= 8),
        "no burst over eight datagrams: {runs:?}"
    );
}
