//! The runtime over a real TURN relay (coturn on loopback): a session
//! opened through the relay carries messages both ways, the far end sees
//! only the relayed address, and bad credentials or a closed port fail
//! the start with a clear error.
//!
//! Every wait is bounded; nothing asserts on timing.

#[path = "../../tests/support/coturn.rs"]
mod coturn;

use coturn::Coturn;
use rand::{rngs::StdRng, SeedableRng};
use rtmfp_core::crypto::flash::epd::epd_for_fingerprint;
use rtmfp_core::crypto::{CryptoProfile, FlashConfig, FlashProfile};
use rtmfp_core::endpoint::{Event, SessionHandle};
use rtmfp_core::flow::{DeliveryOrder, MessageOptions, Priority};
use rtmfp_core::runtime::{Handle, Runtime, RuntimeConfig};
use rtmfp_core::turn::{TurnConfig, TurnUri};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(20);

fn flash(config: FlashConfig, seed: u64) -> Arc<dyn CryptoProfile> {
    Arc::new(FlashProfile::new(config, &mut StdRng::seed_from_u64(seed)).unwrap())
}

fn config(crypto: Arc<dyn CryptoProfile>, turn: Option<TurnConfig>) -> RuntimeConfig {
    let mut c = RuntimeConfig::new(vec!["127.0.0.1:0".parse().unwrap()], crypto);
    c.turn = turn;
    c
}

fn turn_config(turn: &Coturn) -> TurnConfig {
    TurnUri::parse(&turn.uri())
        .unwrap()
        .resolve(None, None)
        .unwrap()
}

fn wait_for(h: &Handle, what: &str, want: impl Fn(&Event) -> bool) -> Event {
    let deadline = Instant::now() + WAIT;
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        if let Some(e) = h.next_event_timeout(Duration::from_millis(100)) {
            if want(&e) {
                return e;
            }
            seen.push(e);
        }
    }
    panic!("no {what} within {WAIT:?}; saw {seen:?}");
}

fn opened(h: &Handle) -> (SessionHandle, SocketAddr) {
    match wait_for(h, "SessionOpened", |e| {
        matches!(e, Event::SessionOpened { .. })
    }) {
        Event::SessionOpened {
            session,
            far_address,
            ..
        } => (session, far_address),
        _ => unreachable!(),
    }
}

/// Sends one message on a new flow and returns what the far side got.
fn exchange(from: &Handle, session: SessionHandle, to: &Handle, payload: &[u8]) -> Vec<u8> {
    let flow = from
        .open_flow(session, b"turn-test", Priority::Routine, None)
        .unwrap();
    from.send(session, flow, payload, MessageOptions::default())
        .unwrap();
    loop {
        match wait_for(to, "a message", |e| {
            matches!(e, Event::FlowOpened { .. } | Event::Message { .. })
        }) {
            Event::FlowOpened { session, flow, .. } => {
                to.accept_flow(session, flow, DeliveryOrder::Sequence)
                    .unwrap();
            }
            Event::Message { data, .. } => return data.to_vec(),
            _ => unreachable!(),
        }
    }
}

#[test]
fn a_session_through_the_relay_carries_messages_both_ways() {
    let Some(turn) = Coturn::start() else { return };
    let server = Runtime::start(config(flash(FlashConfig::server(), 1), None)).unwrap();
    let client = Runtime::start(config(
        flash(FlashConfig::client(), 2),
        Some(turn_config(&turn)),
    ))
    .unwrap_or_else(|e| panic!("allocation: {e}\n{}", turn.log()));
    let relayed = client
        .relayed_addr()
        .expect("a relayed address after start");
    assert_ne!(relayed, client.local_addrs()[0]);

    let session = client
        .connect(
            epd_for_fingerprint(&server.peer_id().unwrap()),
            &server.local_addrs(),
        )
        .unwrap();
    let (s, _) = opened(&client);
    assert_eq!(s, session);
    // The far end sees the relayed address, never the client's own.
    let (far_session, seen_from) = opened(&server);
    assert_eq!(seen_from, relayed);

    assert_eq!(exchange(&client, session, &server, b"up"), b"up");
    assert_eq!(exchange(&server, far_session, &client, b"down"), b"down");

    let stats = client.stats().unwrap().io;
    let t = stats.turn.expect("TURN counters");
    assert_eq!(t.allocations, 1);
    assert!(t.channels >= 1, "{t:?}");
    assert!(
        t.channel_data_sent > 0 && t.channel_data_received > 0,
        "{t:?}"
    );
    assert!(client.shutdown(Duration::from_secs(5)).clean);
    server.shutdown(Duration::from_secs(1));
}

#[test]
fn a_peer_reaches_the_relayed_client_at_its_relayed_address() {
    let Some(turn) = Coturn::start() else { return };
    let outside = Runtime::start(config(flash(FlashConfig::client(), 3), None)).unwrap();
    let relayed_host = Runtime::start(config(
        flash(FlashConfig::server(), 4),
        Some(turn_config(&turn)),
    ))
    .unwrap();
    // A permission for the outside peer's IP: the relayed host sends to
    // it first (the rendezvous server's introduction does this in a
    // Flash deployment: the forwarded IHello makes us answer).
    let probe = relayed_host
        .connect(
            epd_for_fingerprint(&outside.peer_id().unwrap()),
            &outside.local_addrs(),
        )
        .unwrap();
    opened(&relayed_host);
    opened(&outside);
    relayed_host.close_session(probe, false).unwrap();
    // Now the outside peer opens a session to the relayed address.
    let relayed = relayed_host.relayed_addr().unwrap();
    let session = outside
        .connect(
            epd_for_fingerprint(&relayed_host.peer_id().unwrap()),
            &[relayed],
        )
        .unwrap();
    let opened_session = loop {
        let (s, far) = opened(&outside);
        if s == session {
            assert_eq!(far, relayed);
            break s;
        }
    };
    let (far, _) = opened(&relayed_host);
    assert_eq!(
        exchange(&outside, opened_session, &relayed_host, b"in"),
        b"in"
    );
    assert_eq!(exchange(&relayed_host, far, &outside, b"out"), b"out");
}

#[test]
fn direct_datagrams_are_dropped_while_a_relay_is_used() {
    let Some(turn) = Coturn::start() else { return };
    let host = Runtime::start(config(
        flash(FlashConfig::server(), 5),
        Some(turn_config(&turn)),
    ))
    .unwrap();
    let outside = Runtime::start(config(flash(FlashConfig::client(), 6), None)).unwrap();
    // Straight to the host's socket, around the relay: never answered.
    let _ = outside
        .connect(
            epd_for_fingerprint(&host.peer_id().unwrap()),
            &host.local_addrs(),
        )
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        if let Some(e) = host.next_event_timeout(Duration::from_millis(100)) {
            assert!(!matches!(e, Event::SessionOpened { .. }), "{e:?}");
        }
    }
    let io = host.stats().unwrap().io;
    assert!(io.turn_bypass_dropped > 0, "{io:?}");
    assert_eq!(host.stats().unwrap().endpoint.datagrams_in, 0);
}

#[test]
fn wrong_credentials_fail_the_start_with_the_reason() {
    let Some(turn) = Coturn::start() else { return };
    let mut cfg = turn_config(&turn);
    cfg.password = "wrong".into();
    let started = Instant::now();
    let Err(err) = Runtime::start(config(flash(FlashConfig::client(), 7), Some(cfg))) else {
        panic!("the start succeeded");
    };
    assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied);
    let text = err.to_string();
    assert!(
        text.contains("401") && text.contains(&turn.addr.to_string()),
        "{text}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "no need to wait out the timeout"
    );
}

#[test]
fn a_closed_turn_port_fails_the_start_quickly() {
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    // Nothing listens there any more: ICMP port unreachable.
    let cfg = TurnConfig::new(port, "u", "p");
    let Err(err) = Runtime::start(config(flash(FlashConfig::client(), 8), Some(cfg))) else {
        panic!("the start succeeded");
    };
    let text = err.to_string();
    assert!(text.contains("unreachable"), "{text}");
}
