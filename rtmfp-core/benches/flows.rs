//! The protocol engine's own speed: one bulk flow through the simulator
//! over a zero-loss link, with Flash crypto on and with the plain profile.
//! This measures the sans-IO endpoint (packetisation, acks, congestion
//! control, encryption), not sockets.  `cargo bench -p rtmfp-core --bench
//! flows` prints the table.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rand::{rngs::StdRng, SeedableRng};
use rtmfp_core::crypto::flash::epd::epd_for_fingerprint;
use rtmfp_core::crypto::{CryptoProfile, FlashConfig, FlashProfile, PlainProfile};
use rtmfp_core::endpoint::{Endpoint, EndpointConfig, Event};
use rtmfp_core::flow::{DeliveryOrder, MessageOptions, Priority};
use rtmfp_core::sim::{addr, Limits, LinkConfig, Sim};
use std::sync::Arc;
use std::time::Duration;

const TRANSFER: usize = 8 << 20;
const MESSAGE: usize = 64 << 10;

fn profiles(crypto: bool) -> (Arc<dyn CryptoProfile>, Arc<dyn CryptoProfile>, Vec<u8>) {
    if crypto {
        let server =
            FlashProfile::new(FlashConfig::server(), &mut StdRng::seed_from_u64(1)).unwrap();
        let client =
            FlashProfile::new(FlashConfig::client(), &mut StdRng::seed_from_u64(2)).unwrap();
        let epd = epd_for_fingerprint(&server.near_id());
        (Arc::new(server), Arc::new(client), epd)
    } else {
        let epd = b"server".to_vec();
        (
            Arc::new(PlainProfile::new(epd.clone())),
            Arc::new(PlainProfile::new(b"client".to_vec())),
            epd,
        )
    }
}

/// Opens a session and moves `TRANSFER` bytes; returns bytes delivered.
fn transfer(crypto: bool) -> usize {
    let mut sim = Sim::new(7);
    sim.set_default_link(LinkConfig::ideal().with_delay(Duration::from_millis(1)));
    let (server_crypto, client_crypto, epd) = profiles(crypto);
    let config = |seed| EndpointConfig {
        rng_seed: Some(seed),
        ..EndpointConfig::default()
    };
    let server_addr = addr("203.0.113.1:1935");
    let server = sim.add_node(
        Endpoint::new(config(1), server_crypto, sim.now()),
        &[server_addr],
    );
    let client = sim.add_node(
        Endpoint::new(config(2), client_crypto, sim.now()),
        &[addr("198.51.100.9:5000")],
    );
    let now = sim.now();
    let session = sim
        .node_mut::<Endpoint>(client)
        .connect(now, epd, &[server_addr])
        .unwrap();
    let _ = sim.run_for(Duration::from_millis(100));
    let flow = sim
        .node_mut::<Endpoint>(client)
        .open_flow(session, b"bench", Priority::Routine, None)
        .unwrap();
    let payload = vec![0x5au8; MESSAGE];
    let mut queued = 0;
    let mut delivered = 0;
    let _ = sim.run_until(
        |sim| {
            let now = sim.now();
            let ep = sim.node_mut::<Endpoint>(client);
            while queued < TRANSFER && ep.flow_writable(session, flow).unwrap() {
                ep.send(now, session, flow, &payload, MessageOptions::default())
                    .unwrap();
                queued += MESSAGE;
            }
            while ep.poll_event().is_some() {}
            let ep = sim.node_mut::<Endpoint>(server);
            let events: Vec<Event> = std::iter::from_fn(|| ep.poll_event()).collect();
            for e in events {
                match e {
                    Event::FlowOpened { session, flow, .. } => ep
                        .accept_flow(now, session, flow, DeliveryOrder::Sequence)
                        .unwrap(),
                    Event::Message { data, .. } => delivered += data.len(),
                    _ => {}
                }
            }
            delivered >= TRANSFER
        },
        Limits::time(Duration::from_secs(600)),
    );
    assert_eq!(delivered, TRANSFER);
    delivered
}

fn flows(c: &mut Criterion) {
    let mut group = c.benchmark_group("flow_engine");
    group.throughput(Throughput::Bytes(TRANSFER as u64));
    group.sample_size(10);
    for crypto in [true, false] {
        let name = if crypto { "flash_crypto" } else { "plain" };
        group.bench_with_input(
            BenchmarkId::new("bulk_8MiB", name),
            &crypto,
            |b, &crypto| {
                b.iter(|| transfer(crypto));
            },
        );
    }
    group.finish();
}

criterion_group!(benches, flows);
criterion_main!(benches);
