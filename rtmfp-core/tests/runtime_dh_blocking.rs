//! How long one Flash handshake blocks the I/O thread.
//!
//! Diffie-Hellman runs inside `Endpoint::handle_datagram` (the responder
//! on IIKeying: an ephemeral key pair and the shared secret; the initiator
//! on RIKeying: the shared secret), so it holds the runtime's loop.  This
//! test opens sessions over loopback for each DH group and prints
//! `IoStats::max_handle_datagram` and the time per handshake.  It is a
//! measurement, not a timing assertion: run it with `--release
//! --nocapture` for numbers that mean something.

use rand::{rngs::StdRng, SeedableRng};
use rtmfp_core::crypto::flash::epd::epd_for_fingerprint;
use rtmfp_core::crypto::{FlashConfig, FlashProfile};
use rtmfp_core::endpoint::Event;
use rtmfp_core::runtime::{Handle, Runtime, RuntimeConfig};
use std::sync::Arc;
use std::time::{Duration, Instant};

const HANDSHAKES: u32 = 4;

fn runtime(config: FlashConfig, seed: u64) -> Runtime {
    let profile = FlashProfile::new(config, &mut StdRng::seed_from_u64(seed)).unwrap();
    Runtime::start(RuntimeConfig::new(
        vec!["127.0.0.1:0".parse().unwrap()],
        Arc::new(profile),
    ))
    .unwrap()
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
fn dh_handshake_blocking_time_per_group() {
    let groups: &[u64] = if cfg!(debug_assertions) {
        &[2, 14]
    } else {
        &[2, 14, 16]
    };
    eprintln!(
        "{:>5} {:>11} {:>14} {:>14} {:>14}",
        "group", "handshakes", "resp max", "resp per hs", "init max"
    );
    for &g in groups {
        let server = runtime(
            FlashConfig {
                groups: vec![g],
                ..FlashConfig::server()
            },
            g,
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
        let rs = server.stats().unwrap().io;
        let cs = client.stats().unwrap().io;
        eprintln!(
            "{g:>5} {HANDSHAKES:>11} {:>14?} {:>14?} {:>14?}",
            rs.max_handle_datagram,
            rs.handle_datagram_time / HANDSHAKES,
            cs.max_handle_datagram,
        );
        assert_eq!(
            server.stats().unwrap().endpoint.sessions_opened,
            u64::from(HANDSHAKES)
        );
    }
}
