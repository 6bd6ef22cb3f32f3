//! Key logs end to end: a server (`--key-log`) and a publisher
//! (`RTMFP_KEYLOGFILE`) log their session keys to one file while a UDP
//! relay between them writes a pcap; `rtmfp decrypt` then opens every
//! packet of the capture, both ways, and finds the `connect` command in
//! the first User Data.

mod common;

use common::{Proc, Server, BIN};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// One recorded datagram.
struct Recorded {
    time: Duration,
    src: SocketAddr,
    dst: SocketAddr,
    payload: Vec<u8>,
}

/// A UDP relay from one client to `server` that records what passes.
struct Relay {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<Vec<Recorded>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Relay {
    fn start(server: SocketAddr) -> Relay {
        let front = UdpSocket::bind("127.0.0.1:0").unwrap();
        let back = UdpSocket::bind("127.0.0.1:0").unwrap();
        for s in [&front, &back] {
            s.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
        }
        let addr = front.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let (stop, log) = (stop.clone(), log.clone());
            std::thread::spawn(move || {
                let back_addr = back.local_addr().unwrap();
                let mut client: Option<SocketAddr> = None;
                let mut buf = vec![0u8; 65536];
                let deadline = Instant::now() + Duration::from_secs(120);
                while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
                    let now = || SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
                    if let Ok((n, from)) = front.recv_from(&mut buf) {
                        client = Some(from);
                        log.lock().unwrap().push(Recorded {
                            time: now(),
                            src: from,
                            dst: addr,
                            payload: buf[..n].to_vec(),
                        });
                        let _ = back.send_to(&buf[..n], server);
                    }
                    if let Ok((n, from)) = back.recv_from(&mut buf) {
                        if let Some(c) = client {
                            log.lock().unwrap().push(Recorded {
                                time: now(),
                                src: from,
                                dst: back_addr,
                                payload: buf[..n].to_vec(),
                            });
                            let _ = front.send_to(&buf[..n], c);
                        }
                    }
                }
            })
        };
        Relay {
            addr,
            stop,
            log,
            thread: Some(thread),
        }
    }

    /// Stops relaying; writes what passed as a classic pcap of raw IPv4
    /// frames (link type 228).
    fn write_pcap(mut self, path: &Path) -> usize {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.take().unwrap().join().unwrap();
        let log = self.log.lock().unwrap();
        let mut out = Vec::new();
        out.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
        out.extend_from_slice(&2u16.to_le_bytes());
        out.extend_from_slice(&4u16.to_le_bytes());
        for v in [0u32, 0, 65535, 228] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for r in log.iter() {
            let ip = |a: SocketAddr| match a {
                SocketAddr::V4(a) => a.ip().octets(),
                SocketAddr::V6(_) => unreachable!("IPv4 loopback only"),
            };
            let total = (20 + 8 + r.payload.len()) as u16;
            let mut frame = vec![0x45, 0];
            frame.extend_from_slice(&total.to_be_bytes());
            frame.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0]);
            frame.extend_from_slice(&ip(r.src));
            frame.extend_from_slice(&ip(r.dst));
            frame.extend_from_slice(&r.src.port().to_be_bytes());
            frame.extend_from_slice(&r.dst.port().to_be_bytes());
            frame.extend_from_slice(&(total - 20).to_be_bytes());
            frame.extend_from_slice(&[0, 0]);
            frame.extend_from_slice(&r.payload);
            for v in [
                r.time.as_secs() as u32,
                r.time.subsec_micros(),
                frame.len() as u32,
                frame.len() as u32,
            ] {
                out.extend_from_slice(&v.to_le_bytes());
            }
            out.extend_from_slice(&frame);
        }
        std::fs::write(path, out).unwrap();
        log.len()
    }
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("rtmfp-keylog-{}-{name}", std::process::id()))
}

fn decrypt(key_log: &Path, capture: &Path, extra: &[&str]) -> (String, String) {
    let out = Command::new(BIN)
        .args(["decrypt", "--key-log"])
        .arg(key_log)
        .args(extra)
        .arg(capture)
        .output()
        .expect("run rtmfp decrypt");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "decrypt failed:\n{stdout}\n{stderr}");
    (stdout, stderr)
}

#[test]
fn a_capture_decrypts_with_the_key_log_of_either_end() {
    let keys = temp("keys.log");
    let capture = temp("capture.pcap");
    let _ = std::fs::remove_file(&keys);
    let server = Server::start(&["--key-log", keys.to_str().unwrap()]);
    let relay = Relay::start(SocketAddr::from(([127, 0, 0, 1], server.port)));
    let uri = format!("rtmfp://{}/app/key#cam", relay.addr);
    let publisher = Command::new(BIN)
        .env("RTMFP_KEYLOGFILE", &keys)
        .args(["publish", &uri, "--synthetic", "1", "-q", "--timeout", "30"])
        .output()
        .expect("run rtmfp publish");
    assert!(
        publisher.status.success(),
        "publish: {}",
        String::from_utf8_lossy(&publisher.stderr)
    );
    // Let the close handshake pass the relay.
    std::thread::sleep(Duration::from_millis(300));
    let recorded = relay.write_pcap(&capture);
    server.stop();

    // One line from each end, in the documented format.
    let log = std::fs::read_to_string(&keys).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 2, "{log}");
    for l in &lines {
        let fields: Vec<&str> = l.split(' ').collect();
        assert_eq!(fields[0], "RTMFP_SESSION", "{l}");
        assert_eq!(fields.len(), 8, "{l}");
        assert_eq!(fields[2].len(), 32, "{l}");
    }
    // Each end's encrypt key is the other's decrypt key.
    let f0: Vec<&str> = lines[0].split(' ').collect();
    let f1: Vec<&str> = lines[1].split(' ').collect();
    assert_eq!((f0[2], f0[3]), (f1[3], f1[2]));

    let (out, err) = decrypt(&keys, &capture, &["--hex"]);
    let packets: Vec<&str> = out.lines().collect();
    assert_eq!(packets.len(), recorded, "{err}");
    assert!(!out.contains("not decrypted"), "{out}");
    assert!(!out.contains("not RTMFP"), "{out}");
    // The IHello's timestamp is the sender's clock in 4 ms ticks since
    // its endpoint started: 0 unless the machine is slow, so any value.
    assert!(
        packets
            .iter()
            .any(|l| l.contains("[default key] startup ts=") && l.contains(": IHello")),
        "{out}"
    );
    assert!(out.contains("RIKeying"), "{out}");
    assert!(out.contains("received]") && out.contains("sent]"), "{out}");
    // The first User Data carries the Flash `connect` command (AMF0
    // string "connect": 02 0007 636f6e6e656374).
    let first_data = packets
        .iter()
        .find(|l| l.contains("UserData"))
        .expect("a User Data packet");
    assert!(first_data.contains("020007636f6e6e656374"), "{first_data}");
    assert!(out.contains("Close"), "{out}");
    assert!(
        err.contains(&format!("{} RTMFP datagrams", recorded)),
        "{err}"
    );

    // One end's line is enough.
    std::fs::write(&keys, format!("# only the publisher's\n{}\n", lines[1])).unwrap();
    let (one, _) = decrypt(&keys, &capture, &[]);
    assert!(!one.contains("not decrypted"), "{one}");

    // Without the keys only the startup packets open.
    std::fs::write(&keys, "").unwrap();
    let (none, err) = decrypt(&keys, &capture, &[]);
    assert!(none.contains("not decrypted"), "{none}");
    assert!(!none.contains("UserData"), "{none}");
    assert!(none.contains("IHello"), "{none}");
    assert!(err.contains("0 logged sessions"), "{err}");
    let _ = std::fs::remove_file(&keys);
    let _ = std::fs::remove_file(&capture);
}

#[test]
fn decrypt_says_what_is_missing() {
    let p = Proc::spawn(&["decrypt", "nothing.pcap"]);
    let (code, _, err) = p.finish();
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--key-log"), "{err}");
    let keys = temp("empty.log");
    std::fs::write(&keys, "").unwrap();
    let not_pcap = temp("not.pcap");
    std::fs::write(&not_pcap, "hello, this is not a capture").unwrap();
    let p = Proc::spawn(&[
        "decrypt",
        "--key-log",
        keys.to_str().unwrap(),
        not_pcap.to_str().unwrap(),
    ]);
    let (code, _, err) = p.finish();
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not a pcap file"), "{err}");
    let _ = std::fs::remove_file(&keys);
    let _ = std::fs::remove_file(&not_pcap);
}
