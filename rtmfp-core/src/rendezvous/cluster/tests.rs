//! The server's side of the cluster, sans-IO, with a recording link: a
//! local miss becomes a query, the answer a Redirect the initiator
//! follows plus an introduction for the other node, and an unanswered
//! query times out.

use super::{ClusterLink, ClusterOp, RemotePeer, QUERY_TIMEOUT};
use crate::crypto::flash::epd::epd_for_fingerprint;
use crate::crypto::{FlashConfig, FlashProfile};
use crate::endpoint::{Endpoint, EndpointConfig, Event, Layer};
use crate::rendezvous::{Hooks, Server, ServerConfig};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

struct Recorder(Arc<Mutex<Vec<ClusterOp>>>);

impl ClusterLink for Recorder {
    fn node(&self) -> &str {
        "here"
    }
    fn send(&mut self, op: ClusterOp) {
        self.0.lock().unwrap().push(op);
    }
}

fn a(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn endpoint(flash: FlashConfig, now: Instant) -> Endpoint {
    let crypto = FlashProfile::generate(flash).unwrap();
    Endpoint::new(EndpointConfig::default(), Arc::new(crypto), now)
}

/// Delivers every datagram `from` sends to `to`'s address; the
/// destinations of the others.
fn deliver(
    from: &mut Endpoint,
    from_addr: SocketAddr,
    to: &mut Endpoint,
    to_addr: SocketAddr,
    now: Instant,
) -> Vec<SocketAddr> {
    let mut buf = Vec::new();
    let mut elsewhere = Vec::new();
    while let Some(t) = from.poll_transmit(now, &mut buf) {
        if t.destination == to_addr {
            to.handle_datagram(now, to_addr, from_addr, &buf[..t.len]);
        } else {
            elsewhere.push(t.destination);
        }
    }
    elsewhere
}

/// The server layer sees the endpoint's events, as on a runtime.
fn pump(server: &mut Server, ep: &mut Endpoint, now: Instant) {
    while let Some(e) = ep.poll_event() {
        server.on_event(ep, now, e);
    }
}

fn clustered() -> (Server, Arc<Mutex<Vec<ClusterOp>>>) {
    let ops = Arc::new(Mutex::new(Vec::new()));
    let mut server = Server::new(ServerConfig::default(), Hooks::default());
    server.set_cluster(Box::new(Recorder(ops.clone())));
    (server, ops)
}

#[test]
fn an_ihello_for_a_peer_on_another_node_is_redirected_and_forwarded_there() {
    let now = Instant::now();
    let (server_addr, client_addr) = (a("192.0.2.1:1935"), a("198.51.100.9:5000"));
    let mut sep = endpoint(FlashConfig::server(), now);
    let mut cep = endpoint(FlashConfig::client(), now);
    let (mut server, ops) = clustered();
    let target = [0x42; 32];
    cep.connect(now, epd_for_fingerprint(&target), &[server_addr])
        .unwrap();
    deliver(&mut cep, client_addr, &mut sep, server_addr, now);
    pump(&mut server, &mut sep, now);
    // Not here: a query, and nothing sent yet.
    let query = match ops.lock().unwrap().as_slice() {
        [ClusterOp::FindPeer { query, peer }] if *peer == target => *query,
        other => panic!("{other:?}"),
    };
    assert_eq!(server.cluster_queries(), 1);
    let mut buf = Vec::new();
    assert!(sep.poll_transmit(now, &mut buf).is_none());

    // The store says node "there" holds it behind 203.0.113.7:4000.
    let far = RemotePeer {
        node: "there".into(),
        observed: a("203.0.113.7:4000"),
        addresses: vec![a("10.1.1.1:4000")],
    };
    server.cluster_peer_found(&mut sep, now, query, Some(far));
    assert_eq!(server.cluster_queries(), 0);
    // The Redirect reaches the initiator, which tries both addresses
    // (RFC 7016 §3.5.1.1.1).
    deliver(&mut sep, server_addr, &mut cep, client_addr, now);
    let mut tried = deliver(&mut cep, client_addr, &mut sep, server_addr, now);
    tried.sort();
    assert_eq!(tried, [a("10.1.1.1:4000"), a("203.0.113.7:4000")]);
    // And the other node is asked for the Forwarded IHello, with the
    // initiator's address and the IHello's EPD.
    match ops.lock().unwrap().last() {
        Some(ClusterOp::Introduce {
            node,
            target: t,
            epd,
            from,
            ..
        }) => {
            assert_eq!((node.as_str(), *t, *from), ("there", target, client_addr));
            assert_eq!(epd, &epd_for_fingerprint(&target));
        }
        other => panic!("{other:?}"),
    }
    let stats = server.stats();
    assert_eq!((stats.introductions, stats.remote_introductions), (1, 1));
    // A stale or repeated answer changes nothing.
    server.cluster_peer_found(&mut sep, now, query, None);
    server.cluster_name_found(&mut sep, now, 999, None);
    assert_eq!(server.stats().introductions, 1);
}

#[test]
fn a_record_naming_this_node_or_nothing_is_no_introduction() {
    let now = Instant::now();
    let mut sep = endpoint(FlashConfig::server(), now);
    let (mut server, ops) = clustered();
    let epd = epd_for_fingerprint(&[7; 32]);
    for answer in [
        None,
        Some(RemotePeer {
            node: "here".into(),
            observed: a("203.0.113.7:4000"),
            addresses: vec![],
        }),
    ] {
        server.on_event(
            &mut sep,
            now,
            Event::UnmatchedIHello {
                epd: epd.clone(),
                tag: vec![1; 16],
                from: a("198.51.100.9:5000"),
            },
        );
        let query = match ops.lock().unwrap().last() {
            Some(ClusterOp::FindPeer { query, .. }) => *query,
            other => panic!("{other:?}"),
        };
        server.cluster_peer_found(&mut sep, now, query, answer);
    }
    let mut buf = Vec::new();
    assert!(sep.poll_transmit(now, &mut buf).is_none());
    assert_eq!(server.stats().unknown_peers, 2);
    assert_eq!(server.stats().introductions, 0);
}

#[test]
fn an_unanswered_query_times_out() {
    let now = Instant::now();
    let mut sep = endpoint(FlashConfig::server(), now);
    let (mut server, _) = clustered();
    server.on_event(
        &mut sep,
        now,
        Event::UnmatchedIHello {
            epd: epd_for_fingerprint(&[7; 32]),
            tag: vec![1; 16],
            from: a("198.51.100.9:5000"),
        },
    );
    assert_eq!(server.poll_timeout(), Some(now + QUERY_TIMEOUT));
    server.on_timeout(&mut sep, now + QUERY_TIMEOUT);
    assert_eq!(server.cluster_queries(), 0);
    assert_eq!(server.poll_timeout(), None);
    let stats = server.stats();
    assert_eq!((stats.cluster_timeouts, stats.unknown_peers), (1, 1));
}

#[test]
fn without_a_cluster_a_miss_is_only_counted() {
    let now = Instant::now();
    let mut sep = endpoint(FlashConfig::server(), now);
    let mut server = Server::new(ServerConfig::default(), Hooks::default());
    server.on_event(
        &mut sep,
        now,
        Event::UnmatchedIHello {
            epd: epd_for_fingerprint(&[7; 32]),
            tag: vec![1; 16],
            from: a("198.51.100.9:5000"),
        },
    );
    assert_eq!(server.cluster_queries(), 0);
    assert_eq!(server.poll_timeout(), None);
    assert_eq!(server.stats().unknown_peers, 1);
}
