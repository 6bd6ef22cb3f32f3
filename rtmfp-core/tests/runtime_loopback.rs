//! The mio runtime over real UDP on loopback: sessions open and close,
//! events and the event fd, `call`/`post`, socket errors, shutdown.
//!
//! Every wait is bounded; nothing asserts on timing.

use rand::{rngs::StdRng, SeedableRng};
use rtmfp_core::crypto::flash::epd::epd_for_fingerprint;
use rtmfp_core::crypto::{CryptoProfile, FlashConfig, FlashProfile, PlainProfile};
use rtmfp_core::endpoint::{CloseReason, Event, OpenFailure, Role, SessionHandle};
use rtmfp_core::runtime::{Handle, Runtime, RuntimeConfig, RuntimeError};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(20);

fn flash(config: FlashConfig, seed: u64) -> Arc<dyn CryptoProfile> {
    Arc::new(FlashProfile::new(config, &mut StdRng::seed_from_u64(seed)).unwrap())
}

fn start(bind: &str, crypto: Arc<dyn CryptoProfile>) -> Runtime {
    start_with(bind, crypto, |_| {})
}

fn start_with(
    bind: &str,
    crypto: Arc<dyn CryptoProfile>,
    tweak: impl FnOnce(&mut RuntimeConfig),
) -> Runtime {
    let mut config = RuntimeConfig::new(vec![bind.parse().unwrap()], crypto);
    tweak(&mut config);
    Runtime::start(config).expect("runtime starts")
}

/// Waits (bounded) for the first event matching `want`; returns it and
/// everything seen before it.
fn wait_for(h: &Handle, what: &str, want: impl Fn(&Event) -> bool) -> (Event, Vec<Event>) {
    let deadline = Instant::now() + WAIT;
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        if let Some(e) = h.next_event_timeout(Duration::from_millis(100)) {
            if want(&e) {
                return (e, seen);
            }
            seen.push(e);
        }
    }
    panic!("no {what} within {WAIT:?}; saw {seen:?}");
}

fn opened(h: &Handle) -> (SessionHandle, Option<[u8; 32]>, Role) {
    match wait_for(h, "SessionOpened", |e| {
        matches!(e, Event::SessionOpened { .. })
    })
    .0
    {
        Event::SessionOpened {
            session,
            far_peer_id,
            role,
            ..
        } => (session, far_peer_id, role),
        _ => unreachable!(),
    }
}

/// Polls `fd` for readability with a timeout; true if readable.
fn fd_readable(fd: std::os::fd::RawFd, timeout: Duration) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, count 1.
    let n = unsafe { libc::poll(&mut pfd, 1, timeout.as_millis() as libc::c_int) };
    assert!(n >= 0, "poll: {}", std::io::Error::last_os_error());
    n == 1 && pfd.revents & libc::POLLIN != 0
}

#[test]
fn handles_are_clone_send_sync() {
    fn check<T: Clone + Send + Sync + 'static>() {}
    check::<Handle>();
}

#[test]
fn flash_session_opens_events_flow_and_closes_cleanly() {
    let server = start("127.0.0.1:0", flash(FlashConfig::server(), 1));
    let client = start("127.0.0.1:0", flash(FlashConfig::client(), 2));
    let server_id = server.peer_id().unwrap();
    let client_id = client.peer_id().unwrap();
    assert_eq!(server.local_addrs().len(), 1);
    assert_ne!(server.local_addrs()[0].port(), 0);

    // Nothing queued yet: the fd is not readable.
    assert!(!fd_readable(client.event_fd(), Duration::from_millis(10)));

    let session = client
        .connect(epd_for_fingerprint(&server_id), &server.local_addrs())
        .unwrap();

    // The fd becomes readable once SessionOpened is queued.
    let deadline = Instant::now() + WAIT;
    while !fd_readable(client.event_fd(), Duration::from_millis(100)) {
        assert!(Instant::now() < deadline, "event fd never became readable");
    }
    assert!(client.queued_events() >= 1);
    let (s, far, role) = opened(&client);
    assert_eq!(s, session);
    assert_eq!(far, Some(server_id));
    assert_eq!(role, Role::Initiator);
    // The last event was taken: the fd is reset.
    assert!(client.try_next_event().is_none());
    assert!(!fd_readable(client.event_fd(), Duration::from_millis(10)));

    let (server_session, far, role) = opened(&server);
    assert_eq!(far, Some(client_id));
    assert_eq!(role, Role::Responder);

    // `call` runs on the I/O thread with the endpoint.
    let (count, me) = client
        .call(|ep, _now| (ep.session_count(), ep.peer_id()))
        .unwrap();
    assert_eq!((count, me), (1, Some(client_id)));
    let info = client.session_info(session).unwrap().expect("session info");
    assert!(info.open);
    assert_eq!(info.far_address, server.local_addrs()[0]);
    let info = server.session_info(server_session).unwrap().unwrap();
    assert_eq!(info.far_address, client.local_addrs()[0]);

    // `post` runs in order with later calls.
    let (tx, rx) = std::sync::mpsc::channel();
    client
        .post(move |ep, _| tx.send(ep.session_count()).unwrap())
        .unwrap();
    client.call(|_, _| ()).unwrap();
    assert_eq!(rx.try_recv(), Ok(1));

    // A panicking call is reported and survived.
    assert_eq!(
        client.call(|_, _| -> () { panic!("deliberate test panic") }),
        Err(RuntimeError::Panicked)
    );
    // A blocking call from the I/O thread is refused, not deadlocked.
    let h = client.handle();
    assert_eq!(
        client.call(move |_, _| h.call(|_, _| ())).unwrap(),
        Err(RuntimeError::CalledFromIoThread)
    );

    let stats = client.stats().unwrap();
    assert_eq!(stats.sessions, 1);
    assert_eq!(stats.io.command_panics, 1);
    assert!(stats.io.recv_datagrams >= 2 && stats.io.send_datagrams >= 2);
    assert!(stats.io.batch_io);

    // Orderly close from the client; both ends see SessionClosed.
    client.close_session(session, false).unwrap();
    let (e, _) = wait_for(&client, "client SessionClosed", |e| {
        matches!(e, Event::SessionClosed { .. })
    });
    assert_eq!(
        e,
        Event::SessionClosed {
            session,
            reason: CloseReason::Local
        }
    );
    let (e, _) = wait_for(&server, "server SessionClosed", |e| {
        matches!(e, Event::SessionClosed { .. })
    });
    assert_eq!(
        e,
        Event::SessionClosed {
            session: server_session,
            reason: CloseReason::Remote
        }
    );

    let report = client.shutdown(Duration::from_secs(2));
    assert!(report.clean, "{report:?}");
    let handle = server.handle();
    let report = server.shutdown(Duration::from_secs(2));
    assert!(report.stats.io.recv_datagrams >= 3);
    // After shutdown: calls fail with Closed, the fd stays readable, and
    // the event functions return None.
    assert!(handle.is_closed());
    assert_eq!(handle.call(|_, _| ()), Err(RuntimeError::Closed));
    assert!(matches!(
        handle.connect(vec![1], &["127.0.0.1:1".parse().unwrap()]),
        Err(RuntimeError::Closed)
    ));
    while handle.try_next_event().is_some() {}
    assert!(fd_readable(handle.event_fd(), Duration::from_millis(10)));
    assert_eq!(handle.next_event(), None);
    assert_eq!(handle.next_event_timeout(Duration::from_millis(10)), None);
}

#[test]
fn shutdown_closes_open_sessions_at_both_ends() {
    let server = start(
        "127.0.0.1:0",
        Arc::new(PlainProfile::new(b"server".to_vec())),
    );
    let client = start(
        "127.0.0.1:0",
        Arc::new(PlainProfile::new(b"client".to_vec())),
    );
    let session = client
        .connect(b"server".to_vec(), &server.local_addrs())
        .unwrap();
    assert_eq!(opened(&client).0, session);
    let _ = opened(&server);
    // The server shuts down: its session closes in order, the client is
    // told, and the shutdown is clean (the Close Ack came back).
    let server_handle = server.handle();
    let report = server.shutdown(Duration::from_secs(5));
    assert!(report.clean, "{report:?}");
    assert_eq!(report.stats.sessions, 0);
    let (e, _) = wait_for(&server_handle, "server SessionClosed", |e| {
        matches!(e, Event::SessionClosed { .. })
    });
    assert!(matches!(
        e,
        Event::SessionClosed {
            reason: CloseReason::Local,
            ..
        }
    ));
    let (e, _) = wait_for(&client, "client SessionClosed", |e| {
        matches!(e, Event::SessionClosed { .. })
    });
    assert_eq!(
        e,
        Event::SessionClosed {
            session,
            reason: CloseReason::Remote
        }
    );
    // A client connecting while shutting down is refused.
    let h = client.handle();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let report = client.shutdown(Duration::from_secs(2));
        tx.send(report).unwrap();
    });
    let report = rx.recv_timeout(WAIT).expect("shutdown returns");
    assert!(report.clean);
    assert!(matches!(
        h.connect(b"server".to_vec(), &["127.0.0.1:9".parse().unwrap()]),
        Err(RuntimeError::Closed) | Err(RuntimeError::ShuttingDown)
    ));
}

#[test]
fn ipv6_loopback_and_fallback_io_open_a_session() {
    // [::1] with one-datagram-per-syscall I/O on the server side.
    let Ok(server) = Runtime::start({
        let mut c = RuntimeConfig::new(
            vec!["[::1]:0".parse().unwrap()],
            Arc::new(PlainProfile::new(b"server6".to_vec())),
        );
        c.batch_io = false;
        c
    }) else {
        eprintln!("SKIP: no IPv6 loopback on this machine");
        return;
    };
    let client = start("[::1]:0", Arc::new(PlainProfile::new(b"client6".to_vec())));
    let session = client
        .connect(b"server6".to_vec(), &server.local_addrs())
        .unwrap();
    assert_eq!(opened(&client).0, session);
    let _ = opened(&server);
    let stats = server.stats().unwrap();
    assert!(!stats.io.batch_io);
    assert_eq!(stats.io.recv_datagrams, stats.io.recv_syscalls);
    assert_eq!(stats.io.send_datagrams, stats.io.send_syscalls);
    assert!(client.shutdown(Duration::from_secs(5)).clean);
}

#[test]
fn dual_bind_v4_and_v6_routes_each_family() {
    let bind: Vec<SocketAddr> = vec!["127.0.0.1:0".parse().unwrap(), "[::1]:0".parse().unwrap()];
    let Ok(server) = Runtime::start(RuntimeConfig::new(
        bind,
        Arc::new(PlainProfile::new(b"dual".to_vec())),
    )) else {
        eprintln!("SKIP: no IPv6 loopback on this machine");
        return;
    };
    let addrs = server.local_addrs();
    assert_eq!(addrs.len(), 2);
    let c4 = start("127.0.0.1:0", Arc::new(PlainProfile::new(b"c4".to_vec())));
    let c6 = start("[::1]:0", Arc::new(PlainProfile::new(b"c6".to_vec())));
    c4.connect(b"dual".to_vec(), &addrs[..1]).unwrap();
    c6.connect(b"dual".to_vec(), &addrs[1..]).unwrap();
    let _ = opened(&c4);
    let _ = opened(&c6);
    let _ = opened(&server);
    let _ = opened(&server);
    assert_eq!(server.stats().unwrap().sessions, 2);
}

#[test]
fn connection_refused_ends_the_open_and_is_survived() {
    // A port nobody listens on: bind, note, close.
    let dead: SocketAddr = {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap()
    };
    let client = start_with(
        "127.0.0.1:0",
        Arc::new(PlainProfile::new(b"client".to_vec())),
        // Far longer than any wait here: only the ICMP error can end it.
        |c| c.endpoint.open_timeout = Duration::from_secs(600),
    );
    let lost = client.connect(b"nobody".to_vec(), &[dead]).unwrap();
    // IHellos go to the dead port; ICMP port unreachable comes back.
    let deadline = Instant::now() + WAIT;
    let stats = loop {
        let s = client.stats().unwrap();
        let refused = s.io.recv_errors.connection_refused
            + s.io.send_errors.connection_refused
            + s.io.icmp_errors.connection_refused;
        if refused > 0 {
            break s;
        }
        assert!(Instant::now() < deadline, "no socket error counted: {s:?}");
        std::thread::sleep(Duration::from_millis(20));
    };
    eprintln!("after the dead port: {}", stats.io);
    // The open failed on the ICMP port unreachable, naming the port.
    let (e, _) = wait_for(&client, "SessionOpenFailed", |e| {
        matches!(e, Event::SessionOpenFailed { .. })
    });
    assert_eq!(
        e,
        Event::SessionOpenFailed {
            session: lost,
            reason: OpenFailure::Unreachable(dead)
        }
    );
    // The runtime keeps working: a second session opens.
    let server = start(
        "127.0.0.1:0",
        Arc::new(PlainProfile::new(b"server".to_vec())),
    );
    let session = client
        .connect(b"server".to_vec(), &server.local_addrs())
        .unwrap();
    let (e, _) = wait_for(
        &client,
        "SessionOpened",
        |e| matches!(e, Event::SessionOpened { session: s, .. } if *s == session),
    );
    assert!(matches!(e, Event::SessionOpened { .. }));
    // One dead candidate among live ones does not end an open.
    let second = start(
        "127.0.0.1:0",
        Arc::new(PlainProfile::new(b"second".to_vec())),
    );
    let session = client
        .connect(b"second".to_vec(), &[dead, second.local_addrs()[0]])
        .unwrap();
    let (e, _) = wait_for(
        &client,
        "SessionOpened or failed",
        |e| matches!(e, Event::SessionOpened { session: s, .. } | Event::SessionOpenFailed { session: s, .. } if *s == session),
    );
    assert!(matches!(e, Event::SessionOpened { .. }), "{e:?}");
}

#[test]
fn dropping_a_busy_runtime_returns_promptly() {
    // A server with many sessions and a client hammering it with calls
    // from another thread; drop both mid-flight.
    let server = start(
        "127.0.0.1:0",
        Arc::new(PlainProfile::new(b"server".to_vec())),
    );
    let clients: Vec<Runtime> = (0..8)
        .map(|i| {
            start(
                "127.0.0.1:0",
                Arc::new(PlainProfile::new(format!("client-{i}").into_bytes())),
            )
        })
        .collect();
    for c in &clients {
        c.connect(b"server".to_vec(), &server.local_addrs())
            .unwrap();
    }
    let calls = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let hammer = {
        let h = clients[0].handle();
        let calls = calls.clone();
        std::thread::spawn(move || {
            // Runs until the runtime goes away; bounded anyway.
            for _ in 0..5_000_000 {
                match h.call(|ep, _| ep.session_count()) {
                    Ok(_) => calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
                    Err(RuntimeError::Closed) => break,
                    Err(e) => panic!("{e}"),
                };
            }
        })
    };
    let _ = opened(&clients[0]);
    let deadline = Instant::now() + WAIT;
    while calls.load(std::sync::atomic::Ordering::Relaxed) < 100 {
        assert!(Instant::now() < deadline, "hammer never ran");
        std::thread::sleep(Duration::from_millis(1));
    }
    let watcher = {
        let h = server.handle();
        // A thread blocked in next_event must be released by the drop.
        std::thread::spawn(move || while h.next_event().is_some() {})
    };
    let start = Instant::now();
    drop(server);
    drop(clients);
    let elapsed = start.elapsed();
    hammer.join().unwrap();
    watcher.join().unwrap();
    // Not a timing assertion: a hang would fail the bounded harness; this
    // only reports.
    eprintln!("dropping 9 busy runtimes took {elapsed:?}");
}

#[test]
fn event_backpressure_pauses_and_resumes() {
    // An event queue of one: the second session's events wait in the
    // endpoint until the application reads.
    let server = start_with(
        "127.0.0.1:0",
        Arc::new(PlainProfile::new(b"server".to_vec())),
        |c| c.event_queue_limit = 1,
    );
    let clients: Vec<Runtime> = (0..3)
        .map(|i| {
            start(
                "127.0.0.1:0",
                Arc::new(PlainProfile::new(format!("bp-{i}").into_bytes())),
            )
        })
        .collect();
    for c in &clients {
        c.connect(b"server".to_vec(), &server.local_addrs())
            .unwrap();
    }
    // The first SessionOpened fills the server's one-event queue: it
    // stops receiving and counts the backpressure.
    let deadline = Instant::now() + WAIT;
    while server.stats().unwrap().io.event_backpressure == 0 {
        assert!(Instant::now() < deadline, "queue never filled");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(server.queued_events(), 1);
    // As the application reads, it resumes and every session opens.
    for _ in 0..3 {
        let _ = opened(&server);
    }
    for c in &clients {
        let _ = opened(c);
    }
}

#[test]
fn a_runtime_dropped_on_its_own_io_thread_stops_without_deadlock() {
    let rt = start("127.0.0.1:0", Arc::new(PlainProfile::new(b"self".to_vec())));
    let h = rt.handle();
    h.post(move |_, _| drop(rt)).unwrap();
    let deadline = Instant::now() + WAIT;
    while !h.is_closed() {
        assert!(Instant::now() < deadline, "runtime never stopped");
        let _ = h.next_event_timeout(Duration::from_millis(50));
    }
    assert_eq!(h.call(|_, _| ()), Err(RuntimeError::Closed));
}

/// A Flash server runtime (configured by `tweak`) and a client runtime
/// with a session open between them: (server, client, the client's
/// session, the server's session).  Seeds `seed` and `seed + 1`.
fn open_pair(
    seed: u64,
    tweak: impl FnOnce(&mut RuntimeConfig),
) -> (Runtime, Runtime, SessionHandle, SessionHandle) {
    let server = start_with("127.0.0.1:0", flash(FlashConfig::server(), seed), tweak);
    let client = start("127.0.0.1:0", flash(FlashConfig::client(), seed + 1));
    let session = client
        .connect(
            epd_for_fingerprint(&server.peer_id().unwrap()),
            &server.local_addrs(),
        )
        .unwrap();
    opened(&client);
    let (server_session, _, _) = opened(&server);
    (server, client, session, server_session)
}

/// Receive coalescing (`RuntimeConfig::recv_coalesce`): datagrams that
/// wake the sleeping loop densely are read in batches after the delay,
/// and every message still arrives, once and in order.
#[test]
fn coalesced_wakeups_lose_and_reorder_nothing() {
    use rtmfp_core::flow::{DeliveryOrder, MessageOptions, Priority};
    let (server, client, session, server_session) = open_pair(11, |c| {
        c.recv_coalesce = rtmfp_core::runtime::MAX_RECV_COALESCE;
    });
    let flow = client
        .call(move |ep, _| ep.open_flow(session, b"coalesce", Priority::Routine, None))
        .unwrap()
        .unwrap();
    // One message at a time, each after the server's loop went back to
    // sleep: every one of them wakes it, 2 ms after the one before.
    const COUNT: u32 = 40;
    for n in 0..COUNT {
        client
            .call(move |ep, now| {
                ep.send(
                    now,
                    session,
                    flow,
                    &n.to_be_bytes(),
                    MessageOptions::default(),
                )
            })
            .unwrap()
            .unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    let mut got = Vec::new();
    let deadline = Instant::now() + WAIT;
    while got.len() < COUNT as usize && Instant::now() < deadline {
        match server.next_event_timeout(Duration::from_millis(100)) {
            Some(Event::FlowOpened { flow, .. }) => server
                .call(move |ep, now| {
                    ep.accept_flow(now, server_session, flow, DeliveryOrder::Sequence)
                })
                .unwrap()
                .unwrap(),
            Some(Event::Message { data, .. }) => {
                got.push(u32::from_be_bytes(data.try_into().unwrap()));
            }
            _ => {}
        }
    }
    assert_eq!(got, (0..COUNT).collect::<Vec<_>>());
    let stats = server.stats().unwrap();
    assert!(
        stats.io.coalesced_wakeups >= 1,
        "dense wake-ups were coalesced: {:?}",
        stats.io
    );
    // The client has no coalescing: it never waits.
    assert_eq!(client.stats().unwrap().io.coalesced_wakeups, 0);
}

#[test]
fn the_coalescing_delay_comes_from_the_environment_clamped() {
    use rtmfp_core::runtime::{parse_recv_coalesce, MAX_RECV_COALESCE};
    assert_eq!(parse_recv_coalesce(None), Duration::ZERO);
    assert_eq!(parse_recv_coalesce(Some("")), Duration::ZERO);
    assert_eq!(parse_recv_coalesce(Some("nonsense")), Duration::ZERO);
    assert_eq!(
        parse_recv_coalesce(Some(" 1500 ")),
        Duration::from_micros(1500)
    );
    assert_eq!(parse_recv_coalesce(Some("999999999")), MAX_RECV_COALESCE);
}

/// A peer that opens flows without end meets `FlowLimits::max_recv_flows`:
/// the flows beyond it are dropped and counted, the ones within it work.
#[test]
fn flows_beyond_the_limit_are_refused_and_counted() {
    use rtmfp_core::flow::{DeliveryOrder, MessageOptions, Priority};
    const LIMIT: usize = 3;
    const OPENED: usize = 6;
    let (server, client, session, server_session) = open_pair(13, |c| {
        c.endpoint.flow_limits.max_recv_flows = LIMIT;
    });
    for n in 0..OPENED {
        client
            .call(move |ep, now| {
                let flow = ep.open_flow(
                    session,
                    format!("flow {n}").as_bytes(),
                    Priority::Routine,
                    None,
                )?;
                ep.send(now, session, flow, b"hello", MessageOptions::default())
            })
            .unwrap()
            .unwrap();
    }
    let mut flows = 0;
    let mut messages = 0;
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        match server.next_event_timeout(Duration::from_millis(100)) {
            Some(Event::FlowOpened { flow, .. }) => {
                flows += 1;
                server
                    .call(move |ep, now| {
                        ep.accept_flow(now, server_session, flow, DeliveryOrder::Sequence)
                    })
                    .unwrap()
                    .unwrap();
            }
            Some(Event::Message { .. }) => messages += 1,
            _ => {}
        }
    }
    assert_eq!(flows, LIMIT, "flows within the limit open");
    assert_eq!(messages, LIMIT, "and carry their messages");
    let info = server.session_info(server_session).unwrap().unwrap();
    assert!(
        info.stats.flows.flows_refused >= (OPENED - LIMIT) as u64,
        "{:?}",
        info.stats.flows
    );
    // The session itself is unharmed.
    assert!(info.open);
}
