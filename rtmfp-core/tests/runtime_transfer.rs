//! A large transfer through two runtimes over real UDP on loopback: the
//! bytes arrive exactly, and the flow API is driven entirely through
//! `Handle::call` (the extension point later layers build on).
//!
//! Every loop is bounded; nothing asserts on timing.

use rand::{rngs::StdRng, RngCore, SeedableRng};
use rtmfp_core::crypto::flash::epd::epd_for_fingerprint;
use rtmfp_core::crypto::{CryptoProfile, FlashConfig, FlashProfile};
use rtmfp_core::endpoint::Event;
use rtmfp_core::flow::{DeliveryOrder, MessageOptions, Priority};
use rtmfp_core::runtime::{Handle, Runtime, RuntimeConfig, RuntimeStats};

mod netns;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SIZE: usize = 4 << 20;
const MESSAGE: usize = 64 << 10;

fn flash(config: FlashConfig, seed: u64) -> Arc<dyn CryptoProfile> {
    Arc::new(FlashProfile::new(config, &mut StdRng::seed_from_u64(seed)).unwrap())
}

fn start(crypto: Arc<dyn CryptoProfile>) -> Runtime {
    start_on("127.0.0.1:0", crypto, None)
}

/// A runtime bound to `bind`, with `socket_buffer` if given.
fn start_on(bind: &str, crypto: Arc<dyn CryptoProfile>, socket_buffer: Option<usize>) -> Runtime {
    let mut config = RuntimeConfig::new(vec![bind.parse().unwrap()], crypto);
    if socket_buffer.is_some() {
        config.socket_buffer = socket_buffer;
    }
    Runtime::start(config).unwrap()
}

fn wait_opened(h: &Handle) -> rtmfp_core::endpoint::SessionHandle {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Some(Event::SessionOpened { session, .. }) =
            h.next_event_timeout(Duration::from_millis(100))
        {
            return session;
        }
    }
    panic!("no session");
}

#[test]
fn four_megabytes_arrive_exactly_with_flash_crypto() {
    let receiver = start(flash(FlashConfig::server(), 1));
    let sender = start(flash(FlashConfig::client(), 2));
    transfer_exactly(&sender, &receiver, SIZE);
    assert!(sender.shutdown(Duration::from_secs(5)).clean);
}

/// On loopback a UDP send buffer never fills (the kernel hands each
/// datagram over at once), so this sender sits behind a real queue: a
/// veth pair between two network namespaces, its end shaped to 4 Mbit/s
/// by `tbf`, and the smallest socket buffer the kernel allows.  Its sends meet
/// `EWOULDBLOCK`; the loop, which watches for writability only then, must
/// wake when the queue drains and finish the transfer.  Needs root and
/// iproute2 (the test command has both); skipped otherwise.
#[test]
fn a_full_socket_buffer_wakes_the_sender_when_room_comes_back() {
    let Some(link) = netns::ShapedLink::new("4mbit") else {
        eprintln!("SKIP: needs root and iproute2 (ip, tc) for network namespaces");
        return;
    };
    let receiver = link.in_b(|| start_on("10.231.0.2:0", flash(FlashConfig::server(), 1), None));
    let sender = link.in_a(|| {
        start_on(
            "10.231.0.1:0",
            flash(FlashConfig::client(), 2),
            // The kernel's least (about 4.6 KB): under one GSO run.
            Some(1),
        )
    });
    let stats = transfer_exactly(&sender, &receiver, 512 << 10);
    assert!(
        stats.io.send_errors.would_block > 0,
        "the socket buffer never filled: {}",
        stats.io
    );
    assert!(sender.shutdown(Duration::from_secs(5)).clean);
}

/// Sends `size` bytes from `sender` to `receiver` on a bulk flow and checks
/// they arrive exactly; returns the sender's counters.
fn transfer_exactly(sender: &Runtime, receiver: &Runtime, size: usize) -> RuntimeStats {
    let session = sender
        .connect(
            epd_for_fingerprint(&receiver.peer_id().unwrap()),
            &receiver.local_addrs(),
        )
        .unwrap();
    assert_eq!(wait_opened(sender), session);
    let far_session = wait_opened(receiver);

    let mut data = vec![0u8; size];
    StdRng::seed_from_u64(7).fill_bytes(&mut data);
    let data = Arc::new(data);
    let flow = sender
        .call(move |ep, _| ep.open_flow(session, b"bulk", Priority::Bulk, None))
        .unwrap()
        .unwrap();

    let start = Instant::now();
    let deadline = start + Duration::from_secs(120);
    let mut sent = 0;
    let mut received = Vec::with_capacity(size);
    let mut finished = false;
    while !(received.len() >= size && finished) {
        assert!(
            Instant::now() < deadline,
            "stalled: sent {sent}, received {}",
            received.len()
        );
        if sent < size {
            let d = data.clone();
            // Queue messages while the flow takes them.
            sent = sender
                .call(move |ep, now| {
                    let mut sent = sent;
                    while sent < d.len() && ep.flow_writable(session, flow).unwrap() {
                        let end = (sent + MESSAGE).min(d.len());
                        ep.send(now, session, flow, &d[sent..end], MessageOptions::default())
                            .unwrap();
                        sent = end;
                    }
                    if sent == d.len() {
                        ep.close_flow(now, session, flow).unwrap();
                    }
                    sent
                })
                .unwrap();
        }
        while let Some(e) = sender.try_next_event() {
            assert!(
                !matches!(
                    e,
                    Event::SessionClosed { .. } | Event::MessageAbandoned { .. }
                ),
                "{e:?}"
            );
        }
        while let Some(e) = receiver.next_event_timeout(Duration::from_millis(5)) {
            match e {
                Event::FlowOpened { session, flow, .. } => {
                    assert_eq!(session, far_session);
                    receiver
                        .call(move |ep, now| {
                            ep.accept_flow(now, session, flow, DeliveryOrder::Sequence)
                        })
                        .unwrap()
                        .unwrap();
                }
                Event::Message { data, .. } => received.extend_from_slice(&data),
                Event::FlowFinished { .. } => finished = true,
                other => panic!("receiver: {other:?}"),
            }
        }
    }
    let elapsed = start.elapsed();
    assert_eq!(received.len(), size);
    assert!(received == *data, "bytes differ");
    let s = sender.stats().unwrap();
    let r = receiver.stats().unwrap();
    eprintln!(
        "{} KiB in {elapsed:?}\n sender:   {}\n receiver: {}",
        size >> 10,
        s.io,
        r.io
    );
    s
}

#[test]
fn receiver_shuts_down_in_the_middle_of_a_transfer() {
    let receiver = start(flash(FlashConfig::server(), 3));
    let sender = start(flash(FlashConfig::client(), 4));
    let session = sender
        .connect(
            epd_for_fingerprint(&receiver.peer_id().unwrap()),
            &receiver.local_addrs(),
        )
        .unwrap();
    assert_eq!(wait_opened(&sender), session);
    let _ = wait_opened(&receiver);
    let flow = sender
        .call(move |ep, _| ep.open_flow(session, b"bulk", Priority::Bulk, None))
        .unwrap()
        .unwrap();
    // A thread keeps the flow full until the session goes away.
    let pusher = {
        let h = sender.handle();
        std::thread::spawn(move || {
            let chunk = Arc::new(vec![0x5au8; MESSAGE]);
            let deadline = Instant::now() + Duration::from_secs(60);
            while Instant::now() < deadline {
                let c = chunk.clone();
                let more = h
                    .call(move |ep, now| {
                        while let Ok(true) = ep.flow_writable(session, flow) {
                            if ep
                                .send(now, session, flow, &c, MessageOptions::default())
                                .is_err()
                            {
                                return false;
                            }
                        }
                        ep.session_info(session).is_some_and(|i| i.open)
                    })
                    .unwrap_or(false);
                if !more {
                    return;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            panic!("the sender's session never closed");
        })
    };
    // Receive a little, then shut down mid-stream.
    let mut got = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while got < 512 << 10 {
        assert!(Instant::now() < deadline, "no data");
        match receiver.next_event_timeout(Duration::from_millis(10)) {
            Some(Event::FlowOpened { session, flow, .. }) => receiver
                .call(move |ep, now| ep.accept_flow(now, session, flow, DeliveryOrder::Sequence))
                .unwrap()
                .unwrap(),
            Some(Event::Message { data, .. }) => got += data.len(),
            _ => {}
        }
    }
    let report = receiver.shutdown(Duration::from_secs(5));
    eprintln!(
        "receiver shut down after {got} bytes: clean={}",
        report.clean
    );
    // The sender is told, and its pusher stops.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(Instant::now() < deadline, "sender never saw the close");
        if let Some(Event::SessionClosed { session: s, .. }) =
            sender.next_event_timeout(Duration::from_millis(50))
        {
            assert_eq!(s, session);
            break;
        }
    }
    pusher.join().unwrap();
    assert!(report.clean, "{report:?}");
}
