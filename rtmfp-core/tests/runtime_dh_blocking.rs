//! Diffie-Hellman work and the I/O thread.
//!
//! By default the runtime runs all keying (the responder's ephemeral key
//! pair and shared secret on IIKeying, the initiator's SKIC on RHello and
//! shared secret on RIKeying) on its keying workers, never in
//! `Endpoint::handle_datagram` on the I/O thread.  These tests check that
//! every responder handshake went through the workers, print how long one
//! datagram held the loop with keying inline and offloaded, and show that
//! an established session keeps exchanging messages during a burst of
//! handshakes.  The times are measurements, never assertions: run with
//! `--release --nocapture` for numbers that mean something.

use rand::{rngs::StdRng, SeedableRng};
use rtmfp_core::crypto::flash::epd::epd_for_fingerprint;
use rtmfp_core::crypto::{FlashConfig, FlashProfile};
use rtmfp_core::endpoint::Event;
use rtmfp_core::runtime::{Handle, Runtime, RuntimeConfig};
use std::sync::Arc;
use std::time::{Duration, Instant};

const HANDSHAKES: u32 = 4;

fn runtime(config: FlashConfig, seed: u64) -> Runtime {
    runtime_with(config, seed, 2)
}

fn runtime_with(config: FlashConfig, seed: u64, keying_threads: usize) -> Runtime {
    let profile = FlashProfile::new(config, &mut StdRng::seed_from_u64(seed)).unwrap();
    let mut cfg = RuntimeConfig::new(vec!["127.0.0.1:0".parse().unwrap()], Arc::new(profile));
    cfg.keying_threads = keying_threads;
    Runtime::start(cfg).unwrap()
}

fn wait(h: &Handle, want: impl Fn(&Event) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Some(e) = h.next_event_timeout(Duration::from_millis(100)) {
            assert!(!matches!(e, Event::SessionOpenFailed { .. }), "{e:?}");
            if want(&e) {
                return;
            }
        }
    }
    panic!("event not seen in time");
}

#[test]
fn responder_keying_runs_on_the_workers_not_the_io_thread() {
    let groups: &[u64] = if cfg!(debug_assertions) {
        &[2, 14]
    } else {
        &[2, 14, 16]
    };
    eprintln!(
        "{:>5} {:>8} {:>11} {:>16} {:>16}",
        "group", "keying", "handshakes", "resp max/dgram", "init max/dgram"
    );
    for &g in groups {
        for threads in [0usize, 2] {
            let server = runtime_with(
                FlashConfig {
                    groups: vec![g],
                    ..FlashConfig::server()
                },
                g,
                threads,
            );
            let client = runtime(
                FlashConfig {
                    groups: vec![g],
                    ..FlashConfig::client()
                },
                g + 100,
            );
            let epd = epd_for_fingerprint(&server.peer_id().unwrap());
            for _ in 0..HANDSHAKES {
                let s = client.connect(epd.clone(), &server.local_addrs()).unwrap();
                wait(&client, |e| matches!(e, Event::SessionOpened { .. }));
                client.close_session(s, false).unwrap();
                wait(&client, |e| matches!(e, Event::SessionClosed { .. }));
            }
            let rs = server.stats().unwrap();
            let cs = client.stats().unwrap().io;
            // The initiator's two steps (RHello, RIKeying) ran on its workers.
            assert_eq!(cs.keying_jobs, 2 * u64::from(HANDSHAKES));
            assert_eq!(cs.keying_offloaded, 2 * u64::from(HANDSHAKES));
            let mode = if threads == 0 { "inline" } else { "workers" };
            eprintln!(
                "{g:>5} {mode:>8} {HANDSHAKES:>11} {:>16?} {:>16?}",
                rs.io.max_handle_datagram, cs.max_handle_datagram,
            );
            assert_eq!(rs.endpoint.sessions_opened, u64::from(HANDSHAKES));
            let expected = if threads == 0 {
                0
            } else {
                u64::from(HANDSHAKES)
            };
            assert_eq!(
                rs.io.keying_jobs, expected,
                "keying jobs with {threads} workers"
            );
            assert_eq!(
                rs.io.keying_offloaded, expected,
                "keying results with {threads} workers"
            );
        }
    }
}

#[test]
fn an_established_session_keeps_flowing_during_a_handshake_burst() {
    // The heaviest group makes the burst costly: 4096-bit DH.
    let group = if cfg!(debug_assertions) { 14 } else { 16 };
    let burst = if cfg!(debug_assertions) { 24 } else { 64 };
    for threads in [0usize, 2] {
        let server = runtime_with(
            FlashConfig {
                groups: vec![group],
                ..FlashConfig::server()
            },
            1,
            threads,
        );
        let addrs = server.local_addrs().to_vec();
        let epd = epd_for_fingerprint(&server.peer_id().unwrap());
        // The established session, echoing through the server's layerless
        // endpoint: we ping with a message and the server answers.
        let talker = runtime(
            FlashConfig {
                groups: vec![group],
                ..FlashConfig::client()
            },
            2,
        );
        let session = talker.connect(epd.clone(), &addrs).unwrap();
        wait(&talker, |e| matches!(e, Event::SessionOpened { .. }));
        let flow = talker
            .open_flow(session, b"ping", rtmfp_core::flow::Priority::Routine, None)
            .unwrap();
        // Burst: many new identities handshaking at once.
        let clients: Vec<Runtime> = (0..4)
            .map(|i| {
                runtime(
                    FlashConfig {
                        groups: vec![group],
                        ..FlashConfig::client()
                    },
                    10 + i,
                )
            })
            .collect();
        let mut opened = 0;
        let start = Instant::now();
        let mut gaps = Vec::new();
        let mut last = Instant::now();
        let mut pings = 0;
        // Each client runtime has one identity: one session to the server
        // at a time, so reconnect in rounds.
        let rounds = burst / clients.len();
        for _ in 0..rounds {
            let sessions: Vec<_> = clients
                .iter()
                .map(|c| c.connect(epd.clone(), &addrs).unwrap())
                .collect();
            // Keep pinging while the handshakes run.
            let mut done = vec![false; clients.len()];
            while done.iter().any(|d| !d) {
                talker
                    .send(
                        session,
                        flow,
                        &[0u8; 64],
                        rtmfp_core::flow::MessageOptions::default(),
                    )
                    .unwrap();
                pings += 1;
                while let Some(e) = talker.try_next_event() {
                    if matches!(e, Event::MessageDelivered { .. }) {
                        let now = Instant::now();
                        gaps.push(now - last);
                        last = now;
                    }
                }
                for (i, c) in clients.iter().enumerate() {
                    while let Some(e) = c.try_next_event() {
                        if matches!(e, Event::SessionOpened { .. }) {
                            done[i] = true;
                            opened += 1;
                        }
                        assert!(!matches!(e, Event::SessionOpenFailed { .. }), "{e:?}");
                    }
                }
                std::thread::sleep(Duration::from_millis(1));
                assert!(
                    start.elapsed() < Duration::from_secs(120),
                    "burst did not finish"
                );
            }
            for (c, s) in clients.iter().zip(sessions) {
                c.close_session(s, false).unwrap();
                wait(c, |e| matches!(e, Event::SessionClosed { .. }));
            }
        }
        assert_eq!(opened, rounds * clients.len());
        assert!(
            !gaps.is_empty(),
            "the established session delivered during the burst ({pings} pings)"
        );
        gaps.sort();
        let rs = server.stats().unwrap().io;
        eprintln!(
            "keying {}: {opened} group-{group} handshakes in {:?}; established session acks: {} gaps, p50 {:?}, max {:?}; server max handle_datagram {:?}",
            if threads == 0 { "inline " } else { "workers" },
            start.elapsed(),
            gaps.len(),
            gaps[gaps.len() / 2],
            gaps.last().unwrap(),
            rs.max_handle_datagram,
        );
    }
}
