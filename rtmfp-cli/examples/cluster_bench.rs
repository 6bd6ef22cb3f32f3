//! Rendezvous cluster figures, run by `scripts/cluster-bench.sh`:
//! introductions per second and their latency (raw IHellos for a peer
//! ID, each answered by the node with a Redirect, RFC 7016 §3.5.1.1.1),
//! and `lookupName` calls per second over a NetConnection.
//!
//! `cluster_bench URI NAME PEER_HEX SECS`: connects to URI (a node, or
//! the redirector, which sends the connection to a node), then measures
//! against the node it ended on.  One line of `key value` pairs goes to
//! stdout.

use rtmfp_core::crypto::flash::epd::epd_for_fingerprint;
use rtmfp_core::crypto::{FlashConfig, FlashProfile};
use rtmfp_core::endpoint::{Endpoint, EndpointConfig};
use rtmfp_core::flash::client::ClientEvent;
use rtmfp_core::flash::command::code;
use rtmfp_core::flash::peer_id::from_hex;
use rtmfp_core::flash::{NetConnection, NetConnectionConfig, Value};
use std::collections::HashSet;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

const WINDOW: usize = 32;

fn die(msg: &str) -> ! {
    eprintln!("cluster_bench: {msg}");
    std::process::exit(1)
}

/// `count` distinct IHello datagrams (one tag each) for `peer` to `node`.
fn ihellos(peer: &[u8; 32], node: SocketAddr, count: usize) -> Vec<Vec<u8>> {
    let crypto = FlashProfile::generate(FlashConfig::client()).unwrap_or_else(|_| die("identity"));
    let now = Instant::now();
    let mut ep = Endpoint::new(EndpointConfig::default(), Arc::new(crypto), now);
    let mut out = Vec::new();
    let mut buf = Vec::new();
    for _ in 0..count {
        if ep.connect(now, epd_for_fingerprint(peer), &[node]).is_err() {
            die("connect");
        }
        while let Some(t) = ep.poll_transmit(now, &mut buf) {
            out.push(buf[..t.len].to_vec());
        }
    }
    out
}

/// (introductions/s with WINDOW outstanding, median latency in µs of
/// one at a time).
fn introductions(peer: &[u8; 32], node: SocketAddr, secs: f64) -> (f64, f64) {
    let pool = ihellos(peer, node, 256);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap_or_else(|_| die("bind"));
    // Connected: only the node's Redirects arrive (the target's RHellos
    // come from elsewhere).
    sock.connect(node).unwrap_or_else(|_| die("udp connect"));
    sock.set_read_timeout(Some(Duration::from_millis(500))).ok();
    let mut buf = [0u8; 1500];
    // Latency, one at a time.
    let mut samples = Vec::new();
    for d in pool.iter().cycle().take(200) {
        let t = Instant::now();
        let _ = sock.send(d);
        if sock.recv(&mut buf).is_ok() {
            samples.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    let median = samples.get(samples.len() / 2).copied().unwrap_or(f64::NAN);
    // Throughput, WINDOW outstanding (a lost one is replaced on timeout).
    let mut next = 0usize;
    let mut send = |s: &UdpSocket| {
        let _ = s.send(&pool[next % pool.len()]);
        next += 1;
    };
    for _ in 0..WINDOW {
        send(&sock);
    }
    let start = Instant::now();
    let mut answered = 0u64;
    while start.elapsed().as_secs_f64() < secs {
        match sock.recv(&mut buf) {
            Ok(_) => answered += 1,
            Err(_) => {
                for _ in 0..WINDOW {
                    send(&sock);
                }
                continue;
            }
        }
        send(&sock);
    }
    (answered as f64 / start.elapsed().as_secs_f64(), median)
}

/// lookupName calls per second, WINDOW outstanding; every answer must be
/// `expect`.
fn lookups(nc: &NetConnection, name: &str, expect: &str, secs: f64) -> f64 {
    let mut pending = HashSet::new();
    let call = |p: &mut HashSet<u64>| {
        if let Ok(t) = nc.call(rtmfp_core::rendezvous::LOOKUP_NAME, vec![Value::from(name)]) {
            p.insert(t as u64);
        }
    };
    for _ in 0..WINDOW {
        call(&mut pending);
    }
    let start = Instant::now();
    let mut ok = 0u64;
    while start.elapsed().as_secs_f64() < secs {
        match nc.next_event_timeout(Duration::from_secs(2)) {
            Some(ClientEvent::CallResult {
                transaction_id,
                ok: good,
                response,
            }) if pending.remove(&(transaction_id as u64)) => {
                match response.args.first() {
                    Some(Value::String(s)) if good && s == expect => ok += 1,
                    other => die(&format!("lookupName answered {good} {other:?}")),
                }
                call(&mut pending);
            }
            Some(_) => {}
            None => die("no answer to lookupName within 2 s"),
        }
    }
    ok as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [uri, name, peer_hex, secs] = &args[..] else {
        die("usage: cluster_bench URI NAME PEER_HEX SECS");
    };
    let peer = from_hex(peer_hex).unwrap_or_else(|| die("PEER_HEX: 64 hex digits"));
    let secs: f64 = secs.parse().unwrap_or_else(|_| die("SECS"));
    let nc = NetConnection::connect(uri, NetConnectionConfig::default())
        .unwrap_or_else(|e| die(&format!("connect: {e}")));
    loop {
        match nc.next_status_timeout(Duration::from_secs(10)) {
            Some((None, info)) if info.code == code::CONNECT_SUCCESS => break,
            Some((None, info)) => die(&format!("connect: {}", info.code)),
            Some(_) => {}
            None => die("connect: no answer"),
        }
    }
    let node = nc
        .with_client(|c, _, _| c.server_address())
        .ok()
        .flatten()
        .unwrap_or_else(|| die("no server address"));
    let per_s = lookups(&nc, name, peer_hex, secs);
    let (intro_s, intro_us) = introductions(&peer, node, secs);
    println!(
        "node {node} lookups_per_s {per_s:.0} introductions_per_s {intro_s:.0} introduction_median_us {intro_us:.0}"
    );
    nc.close(Duration::from_millis(300));
}
