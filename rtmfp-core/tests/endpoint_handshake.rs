//! Handshakes between two endpoints over an ideal in-test link.

use rand::{rngs::StdRng, SeedableRng};
use rtmfp_core::crypto::flash::epd::epd_for_fingerprint;
use rtmfp_core::crypto::{CryptoProfile, FlashConfig, FlashProfile};
use rtmfp_core::endpoint::{CloseReason, Endpoint, EndpointConfig, Event, Role, SessionHandle};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn profile(config: FlashConfig, seed: u64) -> Arc<dyn CryptoProfile> {
    Arc::new(FlashProfile::new(config, &mut StdRng::seed_from_u64(seed)).unwrap())
}

fn endpoint(config: FlashConfig, seed: u64, now: Instant) -> Endpoint {
    let cfg = EndpointConfig {
        rng_seed: Some(seed),
        ..EndpointConfig::default()
    };
    Endpoint::new(cfg, profile(config, seed), now)
}

/// Moves datagrams between two endpoints with a fixed one-way delay.
struct Pair {
    now: Instant,
    a: Endpoint,
    b: Endpoint,
    a_addr: SocketAddr,
    b_addr: SocketAddr,
    in_flight: Vec<(Instant, bool, SocketAddr, Vec<u8>)>,
    delay: Duration,
    a_events: Vec<Event>,
    b_events: Vec<Event>,
}

impl Pair {
    fn new() -> Self {
        let now = Instant::now();
        Pair {
            now,
            a: endpoint(FlashConfig::client(), 1, now),
            b: endpoint(FlashConfig::server(), 2, now),
            a_addr: "192.0.2.1:5000".parse().unwrap(),
            b_addr: "198.51.100.2:1935".parse().unwrap(),
            in_flight: Vec::new(),
            delay: Duration::from_millis(25),
            a_events: Vec::new(),
            b_events: Vec::new(),
        }
    }

    fn collect(&mut self) {
        let mut buf = Vec::new();
        while let Some(t) = self.a.poll_transmit(self.now, &mut buf) {
            assert_eq!(t.destination, self.b_addr);
            self.in_flight
                .push((self.now + self.delay, true, self.a_addr, buf.clone()));
        }
        while let Some(t) = self.b.poll_transmit(self.now, &mut buf) {
            assert_eq!(t.destination, self.a_addr);
            self.in_flight
                .push((self.now + self.delay, false, self.b_addr, buf.clone()));
        }
        while let Some(e) = self.a.poll_event() {
            self.a_events.push(e);
        }
        while let Some(e) = self.b.poll_event() {
            self.b_events.push(e);
        }
    }

    /// Runs until `until` of virtual time passes.
    fn run_for(&mut self, span: Duration) {
        let end = self.now + span;
        loop {
            self.collect();
            let next_packet = self.in_flight.iter().map(|p| p.0).min();
            let next_timer = [self.a.poll_timeout(), self.b.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            let next = [next_packet, next_timer].into_iter().flatten().min();
            let Some(next) = next.filter(|&t| t <= end) else {
                self.now = end;
                return;
            };
            self.now = self.now.max(next);
            let (due, rest): (Vec<_>, Vec<_>) =
                self.in_flight.drain(..).partition(|p| p.0 <= self.now);
            self.in_flight = rest;
            for (_, to_b, from, bytes) in due {
                if to_b {
                    self.b.handle_datagram(self.now, self.b_addr, from, &bytes);
                } else {
                    self.a.handle_datagram(self.now, self.a_addr, from, &bytes);
                }
            }
            if self.a.poll_timeout().is_some_and(|t| t <= self.now) {
                self.a.handle_timeout(self.now);
            }
            if self.b.poll_timeout().is_some_and(|t| t <= self.now) {
                self.b.handle_timeout(self.now);
            }
        }
    }

    fn connect_a_to_b(&mut self) -> SessionHandle {
        let epd = epd_for_fingerprint(&self.b.peer_id().unwrap());
        self.a.connect(self.now, epd, &[self.b_addr]).unwrap()
    }
}

fn opened(events: &[Event]) -> Vec<&Event> {
    events
        .iter()
        .filter(|e| matches!(e, Event::SessionOpened { .. }))
        .collect()
}

#[test]
fn flash_handshake_opens_both_ends_with_matching_ids_and_nonces() {
    let mut p = Pair::new();
    let handle = p.connect_a_to_b();
    p.run_for(Duration::from_secs(1));
    let a_open = opened(&p.a_events);
    let b_open = opened(&p.b_events);
    assert_eq!(a_open.len(), 1, "{:?}", p.a_events);
    assert_eq!(b_open.len(), 1, "{:?}", p.b_events);
    let Event::SessionOpened {
        session,
        role,
        far_address,
        far_peer_id,
        near_nonce,
        far_nonce,
    } = a_open[0]
    else {
        unreachable!()
    };
    assert_eq!(*session, handle);
    assert_eq!(*role, Role::Initiator);
    assert_eq!(*far_address, p.b_addr);
    assert_eq!(*far_peer_id, p.b.peer_id());
    let Event::SessionOpened {
        role: b_role,
        far_peer_id: b_far,
        near_nonce: b_near,
        far_nonce: b_far_nonce,
        far_address: b_far_addr,
        ..
    } = b_open[0]
    else {
        unreachable!()
    };
    assert_eq!(*b_role, Role::Responder);
    assert_eq!(*b_far, p.a.peer_id());
    assert_eq!(*b_far_addr, p.a_addr);
    assert_eq!(near_nonce, b_far_nonce);
    assert_eq!(far_nonce, b_near);
    // Two round trips: IHello/RHello, IIKeying/RIKeying.
    assert_eq!(p.a.stats().datagrams_out, 2);
    assert_eq!(p.b.stats().datagrams_out, 2);
    assert_eq!(p.a.stats().drops.total(), 0, "{}", p.a.stats().drops);
    assert_eq!(p.b.stats().drops.total(), 0, "{}", p.b.stats().drops);
}

#[test]
fn keepalives_measure_rtt_and_keep_an_idle_session_open() {
    let mut p = Pair::new();
    let handle = p.connect_a_to_b();
    p.run_for(Duration::from_secs(120));
    let info = p.a.session_info(handle).expect("still open");
    assert!(info.open);
    assert!(info.stats.keepalives_sent >= 5, "{:?}", info.stats);
    // One-way delay 25 ms: RTT 50 ms, within a 4 ms tick each way.
    let srtt = info.stats.srtt.expect("measured");
    assert!(
        srtt >= Duration::from_millis(44) && srtt <= Duration::from_millis(60),
        "{srtt:?}"
    );
    assert!(!p
        .a_events
        .iter()
        .any(|e| matches!(e, Event::SessionClosed { .. })));
}

#[test]
fn orderly_close_reaches_both_ends() {
    let mut p = Pair::new();
    let handle = p.connect_a_to_b();
    p.run_for(Duration::from_secs(1));
    p.a.close(p.now, handle, false).unwrap();
    p.run_for(Duration::from_secs(1));
    assert!(p.a_events.contains(&Event::SessionClosed {
        session: handle,
        reason: CloseReason::Local
    }));
    assert!(p.b_events.iter().any(|e| matches!(
        e,
        Event::SessionClosed {
            reason: CloseReason::Remote,
            ..
        }
    )));
    assert_eq!(p.a.session_count(), 0);
    // B lingers for 19 s, then forgets the session.
    p.run_for(Duration::from_secs(20));
    assert_eq!(p.b.session_count(), 0);
}

#[test]
fn an_opening_fails_once_every_candidate_is_unreachable() {
    use rtmfp_core::endpoint::OpenFailure;
    let now = Instant::now();
    let mut a = endpoint(FlashConfig::client(), 1, now);
    let x: SocketAddr = "127.0.0.1:1001".parse().unwrap();
    let y: SocketAddr = "127.0.0.1:1002".parse().unwrap();
    let other: SocketAddr = "127.0.0.1:1003".parse().unwrap();
    let s = a.connect(now, b"some epd".to_vec(), &[x, y]).unwrap();
    // An ICMP error for an address it never sent to changes nothing, and
    // one dead candidate of two does not end it.
    a.handle_unreachable(other);
    a.handle_unreachable(x);
    assert!(a.poll_event().is_none());
    assert_eq!(a.opening_count(), 1);
    // The last one does, naming it.
    a.handle_unreachable(y);
    assert_eq!(
        a.poll_event(),
        Some(Event::SessionOpenFailed {
            session: s,
            reason: OpenFailure::Unreachable(y)
        })
    );
    assert_eq!(a.opening_count(), 0);
}
