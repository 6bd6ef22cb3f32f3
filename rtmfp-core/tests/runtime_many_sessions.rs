//! One server runtime holds 1,000 concurrent sessions over real UDP on
//! loopback, then shuts down and closes them all in order.
//!
//! RFC 7016 allows one session per pair of identities, so the 1,000
//! initiators are 1,000 sans-IO `Endpoint`s with their own identity and
//! their own UDP socket, driven from this test thread with one mio `Poll`
//! (a runtime per client would be 1,000 threads).  Both ends use
//! `PlainProfile`, so the test measures sessions, not Diffie-Hellman.
//!
//! Every loop is bounded; nothing asserts on timing.

use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token};
use rtmfp_core::crypto::PlainProfile;
use rtmfp_core::endpoint::{CloseReason, Endpoint, EndpointConfig, Event};
use rtmfp_core::runtime::{Runtime, RuntimeConfig};
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

const CLIENTS: usize = 1000;
/// Connects started per loop iteration, so that the burst of IHellos
/// does not overflow a default-sized receive buffer.
const WAVE: usize = 100;
const LIMIT: Duration = Duration::from_secs(90);

struct Client {
    ep: Endpoint,
    sock: UdpSocket,
    local: SocketAddr,
    opened: bool,
    closed: Option<CloseReason>,
}

struct Clients {
    clients: Vec<Client>,
    poll: Poll,
    events: Events,
    buf: Vec<u8>,
    out: Vec<u8>,
}

impl Clients {
    fn new(n: usize) -> Clients {
        let poll = Poll::new().unwrap();
        let now = Instant::now();
        let clients = (0..n)
            .map(|i| {
                let mut sock = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
                poll.registry()
                    .register(&mut sock, Token(i), Interest::READABLE)
                    .unwrap();
                let local = sock.local_addr().unwrap();
                let config = EndpointConfig {
                    rng_seed: Some(i as u64),
                    ..EndpointConfig::default()
                };
                let profile = PlainProfile::new(format!("client-{i}").into_bytes());
                Client {
                    ep: Endpoint::new(config, Arc::new(profile), now),
                    sock,
                    local,
                    opened: false,
                    closed: None,
                }
            })
            .collect();
        Clients {
            clients,
            poll,
            events: Events::with_capacity(1024),
            buf: vec![0u8; 65536],
            out: Vec::new(),
        }
    }

    /// One round: receive, run timers, send, collect events.
    fn step(&mut self) {
        self.poll
            .poll(&mut self.events, Some(Duration::from_millis(5)))
            .unwrap();
        let now = Instant::now();
        for event in self.events.iter() {
            let c = &mut self.clients[event.token().0];
            loop {
                match c.sock.recv_from(&mut self.buf) {
                    Ok((n, from)) => c.ep.handle_datagram(now, c.local, from, &self.buf[..n]),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => panic!("client recv: {e}"),
                }
            }
        }
        for c in &mut self.clients {
            if c.ep.poll_timeout().is_some_and(|t| t <= now) {
                c.ep.handle_timeout(now);
            }
            while let Some(t) = c.ep.poll_transmit(now, &mut self.out) {
                // A full socket buffer loses the datagram; RTMFP resends.
                let _ = c.sock.send_to(&self.out[..t.len], t.destination);
            }
            while let Some(e) = c.ep.poll_event() {
                match e {
                    Event::SessionOpened { .. } => c.opened = true,
                    Event::SessionClosed { reason, .. } => c.closed = Some(reason),
                    Event::SessionOpenFailed { reason, .. } => panic!("open failed: {reason:?}"),
                    _ => {}
                }
            }
        }
    }
}

#[test]
fn one_server_runtime_holds_a_thousand_sessions() {
    let server = Runtime::start(RuntimeConfig::new(
        vec!["127.0.0.1:0".parse().unwrap()],
        Arc::new(PlainProfile::new(b"server".to_vec())),
    ))
    .unwrap();
    let server_addr = server.local_addrs();
    let mut clients = Clients::new(CLIENTS);
    let start = Instant::now();
    let deadline = start + LIMIT;

    // Open: start connects in waves, drive until all are open.
    let mut started = 0;
    let mut server_opened = 0;
    loop {
        let now = Instant::now();
        let wave_end = (started + WAVE).min(CLIENTS);
        for c in &mut clients.clients[started..wave_end] {
            c.ep.connect(now, b"server".to_vec(), &server_addr).unwrap();
        }
        started = wave_end;
        clients.step();
        while let Some(e) = server.try_next_event() {
            if matches!(e, Event::SessionOpened { .. }) {
                server_opened += 1;
            }
        }
        let open = clients.clients.iter().filter(|c| c.opened).count();
        if open == CLIENTS && server_opened == CLIENTS {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {open} client / {server_opened} server sessions opened"
        );
    }
    let opened_in = start.elapsed();
    let stats = server.stats().unwrap();
    assert_eq!(stats.sessions, CLIENTS);
    assert_eq!(stats.endpoint.sessions_opened, CLIENTS as u64);

    // The sessions are live: every client session answers a server call
    // that walks them all.
    let live = server
        .call(|ep, _| ep.session_count())
        .expect("server call");
    assert_eq!(live, CLIENTS);

    // Shut down: the server closes all 1,000 in order.  Keep the clients
    // running meanwhile so they acknowledge.
    let (tx, rx) = std::sync::mpsc::channel();
    let shutdown = std::thread::spawn(move || {
        let report = server.shutdown(Duration::from_secs(30));
        let _ = tx.send(());
        report
    });
    let close_deadline = Instant::now() + LIMIT;
    while rx.try_recv().is_err() {
        clients.step();
        assert!(Instant::now() < close_deadline, "shutdown did not return");
    }
    let report = shutdown.join().unwrap();
    // A few more rounds let the last Close Acks' events surface.
    for _ in 0..20 {
        clients.step();
        if clients.clients.iter().all(|c| c.closed.is_some()) {
            break;
        }
    }
    eprintln!(
        "{CLIENTS} sessions opened in {opened_in:?}; server I/O: {}",
        report.stats.io
    );
    assert!(report.clean, "shutdown left sessions: {report:?}");
    assert_eq!(report.stats.sessions, 0);
    let remote = clients
        .clients
        .iter()
        .filter(|c| c.closed == Some(CloseReason::Remote))
        .count();
    assert_eq!(remote, CLIENTS, "every client saw the orderly close");
    assert!(report.stats.io.recv_datagrams >= 3 * CLIENTS as u64);
}
