//! Live interop with an independent RTMFP implementation (zenomt's
//! rtmfp-cpp test programs), session level: handshake both ways with the
//! Flash profile, HMAC and session sequence numbers required (its
//! defaults) and relaxed (`-H -S`), keepalive RTT, close, and Redirect.
//!
//! The programs are looked up in `$RTMFP_CPP_DIR` (the directory holding
//! `echoserver`, `fcclient`, `static-redirector`), then on `PATH`.  If
//! they are not found, each test prints why and passes.  Their output is
//! read line by line through `stdbuf -oL`, which must be on `PATH` too.
//!
//! Run: `RTMFP_CPP_DIR=/path/to/rtmfp-cpp/test cargo test -p rtmfp-core
//! --test interop_live -- --nocapture --test-threads=1`
//!
//! Every wait is bounded and every child process is killed on drop.

use rand::{rngs::StdRng, SeedableRng};
use rtmfp_core::crypto::flash::epd::{epd_for_fingerprint, epd_for_uri};
use rtmfp_core::crypto::{CryptoProfile, FlashConfig, FlashProfile};
use rtmfp_core::endpoint::{CloseReason, EndpointConfig, Event, Role, SessionHandle};
use rtmfp_core::flow::{DeliveryOrder, MessageOptions, Priority};
use rtmfp_core::runtime::{Handle, Runtime, RuntimeConfig};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(20);

/// Finds one of the peer's programs, or says why not.
fn program(name: &str) -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("RTMFP_CPP_DIR") {
        let p = PathBuf::from(dir).join(name);
        if p.is_file() {
            return Ok(p);
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    Err(format!(
        "{name} not found in $RTMFP_CPP_DIR or on PATH \
         (set RTMFP_CPP_DIR to rtmfp-cpp's test/ directory)"
    ))
}

/// The programs a test needs plus `stdbuf`, or `None` after printing a
/// skip message.
fn programs(names: &[&str]) -> Option<Vec<PathBuf>> {
    let mut found = Vec::new();
    for name in names.iter().chain(std::iter::once(&"stdbuf")) {
        match program(name) {
            Ok(p) => found.push(p),
            Err(why) if *name == "stdbuf" => {
                eprintln!("SKIP interop: stdbuf not on PATH ({why})");
                return None;
            }
            Err(why) => {
                eprintln!("SKIP interop: {why}");
                return None;
            }
        }
    }
    Some(found)
}

/// A child process, killed and reaped on drop, whose stdout and stderr
/// lines are collected.
struct Peer {
    name: String,
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Peer {
    fn spawn(stdbuf: &PathBuf, program: &PathBuf, args: &[String]) -> Peer {
        let name = program.file_name().unwrap().to_string_lossy().into_owned();
        eprintln!("$ {} {}", program.display(), args.join(" "));
        let mut child = Command::new(stdbuf)
            .arg("-oL")
            .arg("-eL")
            .arg(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn peer program");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let out = child.stdout.take().unwrap();
        let err = child.stderr.take().unwrap();
        for stream in [
            Box::new(out) as Box<dyn std::io::Read + Send>,
            Box::new(err) as Box<dyn std::io::Read + Send>,
        ] {
            let lines = lines.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    lines.lock().unwrap().push(line);
                }
            });
        }
        Peer { name, child, lines }
    }

    /// Waits (bounded) for a line starting with `prefix`; returns the rest.
    fn wait_line(&self, prefix: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(l) = self
                .lines
                .lock()
                .unwrap()
                .iter()
                .find(|l| l.trim_start().starts_with(prefix))
            {
                return l.trim_start()[prefix.len()..].trim().to_string();
            }
            assert!(
                Instant::now() < deadline,
                "{}: no line {prefix:?}; output: {:?}",
                self.name,
                self.lines.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn fingerprint(&self) -> [u8; 32] {
        let line = self.wait_line("my fingerprint:");
        let hex_fp = line.split_whitespace().next().unwrap();
        hex::decode(hex_fp).unwrap().try_into().unwrap()
    }

    fn print_output(&self) {
        for l in self.lines.lock().unwrap().iter() {
            eprintln!("  [{}] {l}", self.name);
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn flash(config: FlashConfig) -> Arc<dyn CryptoProfile> {
    let mut rng = StdRng::from_os_rng();
    Arc::new(FlashProfile::new(config, &mut rng).unwrap())
}

fn runtime(config: FlashConfig) -> Runtime {
    let mut c = RuntimeConfig::new(vec!["127.0.0.1:0".parse().unwrap()], flash(config));
    c.endpoint = EndpointConfig {
        keepalive_interval: Duration::from_millis(500),
        ..EndpointConfig::default()
    };
    Runtime::start(c).unwrap()
}

fn wait_event(h: &Handle, what: &str, want: impl Fn(&Event) -> bool) -> Event {
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

fn hex32(id: &[u8; 32]) -> String {
    hex::encode(id)
}

/// Our runtime opens a session to echoserver, keeps it alive with
/// Pings long enough to measure RTT, and closes it.
fn session_to_echoserver(relaxed: bool) {
    let Some(p) = programs(&["echoserver"]) else {
        return;
    };
    let port = free_port();
    let mut args = vec!["-B".to_string(), format!("127.0.0.1:{port}")];
    if relaxed {
        args.extend(["-H".to_string(), "-S".to_string()]);
    }
    let echo = Peer::spawn(&p[1], &p[0], &args);
    let server_fp = echo.fingerprint();
    echo.wait_line("bound to");
    let ours = runtime(FlashConfig::client());
    let server: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let epd = epd_for_uri(&format!("rtmfp://127.0.0.1:{port}/"), None);
    let session = ours.connect(epd, &[server]).unwrap();
    let e = wait_event(&ours, "SessionOpened", |e| {
        matches!(
            e,
            Event::SessionOpened { .. } | Event::SessionOpenFailed { .. }
        )
    });
    let Event::SessionOpened {
        session: s,
        far_peer_id,
        far_address,
        role,
        ..
    } = e
    else {
        echo.print_output();
        panic!("session to echoserver failed: {e:?}");
    };
    assert_eq!(s, session);
    assert_eq!(role, Role::Initiator);
    assert_eq!(far_address, server);
    assert_eq!(
        far_peer_id.map(|f| hex32(&f)),
        Some(hex32(&server_fp)),
        "far peer ID is the fingerprint echoserver printed"
    );
    eprintln!("opened to echoserver {}", hex32(&server_fp));
    // Stay open over several keepalive intervals; the RTT is measured.
    let deadline = Instant::now() + WAIT;
    let info = loop {
        std::thread::sleep(Duration::from_millis(200));
        let info = ours
            .session_info(session)
            .unwrap()
            .expect("session still there");
        assert!(info.open, "session closed: {info:?}");
        if info.stats.srtt.is_some() && info.stats.keepalives_sent >= 2 {
            break info;
        }
        assert!(Instant::now() < deadline, "no RTT measured: {info:?}");
    };
    while let Some(e) = ours.try_next_event() {
        assert!(
            !matches!(e, Event::SessionClosed { .. }),
            "unexpected close: {e:?}"
        );
    }
    eprintln!(
        "session stats after keepalives: srtt={:?} rttvar={:?} keepalives_sent={} packets in/out={}/{}",
        info.stats.srtt,
        info.stats.rttvar,
        info.stats.keepalives_sent,
        info.stats.packets_in,
        info.stats.packets_out
    );
    echo_flows(&ours, session);
    // echoserver saw our fingerprint on the flow.
    assert_eq!(
        echo.wait_line("fingerprint:"),
        hex32(&ours.peer_id().unwrap())
    );
    ours.close_session(session, false).unwrap();
    let e = wait_event(&ours, "SessionClosed", |e| {
        matches!(e, Event::SessionClosed { .. })
    });
    assert_eq!(
        e,
        Event::SessionClosed {
            session,
            reason: CloseReason::Local
        }
    );
    let report = ours.shutdown(Duration::from_secs(2));
    eprintln!("our I/O: {}", report.stats.io);
    eprintln!("our drops: {}", report.stats.endpoint.drops);
    echo.print_output();
    assert!(report.clean);
}

/// Sends messages of many sizes on a flow to echoserver and checks that
/// each comes back, in order, on its return flow.
fn echo_flows(ours: &Runtime, session: SessionHandle) {
    let sizes = [1usize, 16, 100, 1000, 1200, 3000, 20_000, 100_000];
    let messages: Vec<Vec<u8>> = sizes
        .iter()
        .enumerate()
        .map(|(k, &n)| (0..n).map(|i| (i * 7 + k) as u8).collect())
        .collect();
    let to_send = messages.clone();
    let flow = ours
        .call(move |ep, now| {
            let flow = ep.open_flow(session, b"metadata", Priority::Routine, None)?;
            for m in &to_send {
                ep.send(now, session, flow, m, MessageOptions::default())?;
            }
            Ok::<_, rtmfp_core::endpoint::EndpointError>(flow)
        })
        .unwrap()
        .expect("flow opened and messages queued");
    let mut echoed: Vec<Vec<u8>> = Vec::new();
    let mut delivered = 0;
    let deadline = Instant::now() + WAIT;
    while echoed.len() < messages.len() || delivered < messages.len() {
        assert!(
            Instant::now() < deadline,
            "echo incomplete: {} of {} echoed, {delivered} delivered",
            echoed.len(),
            messages.len()
        );
        match ours.next_event_timeout(Duration::from_millis(50)) {
            Some(Event::FlowOpened {
                flow: rf,
                association,
                ..
            }) => {
                assert_eq!(association, Some(flow), "return flow associated");
                ours.call(move |ep, now| ep.accept_flow(now, session, rf, DeliveryOrder::Sequence))
                    .unwrap()
                    .unwrap();
            }
            Some(Event::Message { data, .. }) => echoed.push(data),
            Some(Event::MessageDelivered { .. }) => delivered += 1,
            Some(Event::SessionClosed { .. }) => panic!("session closed during echo"),
            _ => {}
        }
    }
    assert_eq!(echoed, messages, "every message echoed exactly, in order");
    eprintln!("echoed {} messages of sizes {sizes:?}", messages.len());
}

#[test]
fn we_open_a_session_to_echoserver_with_hmac_and_sseq_required() {
    session_to_echoserver(false);
}

#[test]
fn we_open_a_session_to_echoserver_relaxed() {
    session_to_echoserver(true);
}

/// fcclient opens a session to our runtime; we see its fingerprint.
fn fcclient_to_us(relaxed: bool) {
    let Some(p) = programs(&["fcclient"]) else {
        return;
    };
    let ours = runtime(FlashConfig::server());
    let addr = ours.local_addrs()[0];
    let mut args = vec!["-4".to_string()];
    if relaxed {
        args.extend(["-H".to_string(), "-S".to_string()]);
    }
    args.extend([addr.ip().to_string(), addr.port().to_string()]);
    let client = Peer::spawn(&p[1], &p[0], &args);
    let client_fp = client.fingerprint();
    let e = wait_event(&ours, "SessionOpened", |e| {
        matches!(e, Event::SessionOpened { .. })
    });
    let Event::SessionOpened {
        session,
        far_peer_id,
        role,
        ..
    } = e
    else {
        unreachable!()
    };
    assert_eq!(role, Role::Responder);
    assert_eq!(far_peer_id.map(|f| hex32(&f)), Some(hex32(&client_fp)));
    // fcclient also saw the session open with our fingerprint.
    let seen = client.wait_line("fingerprint:");
    assert_eq!(seen, hex32(&ours.peer_id().unwrap()));
    eprintln!("fcclient {} opened to us", hex32(&client_fp));
    // It sends flows we do not implement yet; the session must survive
    // and measure RTT with our keepalives or its traffic.
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        let info = ours.session_info(session).unwrap().expect("session");
        assert!(info.open, "{info:?}");
    }
    let info = ours.session_info(session).unwrap().unwrap();
    eprintln!("session stats: {:?}", info.stats);
    let report = ours.shutdown(Duration::from_secs(3));
    eprintln!("our I/O: {}", report.stats.io);
    eprintln!("our drops: {}", report.stats.endpoint.drops);
    client.print_output();
    assert!(report.clean, "fcclient acknowledged our close");
}

#[test]
fn fcclient_opens_a_session_to_us_with_hmac_and_sseq_required() {
    fcclient_to_us(false);
}

#[test]
fn fcclient_opens_a_session_to_us_relaxed() {
    fcclient_to_us(true);
}

/// static-redirector answers our IHello with a Redirect to echoserver;
/// we follow it and open the session there.
#[test]
fn we_follow_static_redirector_to_echoserver() {
    let Some(p) = programs(&["echoserver", "static-redirector"]) else {
        return;
    };
    let echo_port = free_port();
    let redirector_port = free_port();
    let echo = Peer::spawn(
        &p[2],
        &p[0],
        &["-B".into(), format!("127.0.0.1:{echo_port}")],
    );
    let echo_fp = echo.fingerprint();
    echo.wait_line("bound to");
    let redirector = Peer::spawn(
        &p[2],
        &p[1],
        &[
            "-B".into(),
            format!("127.0.0.1:{redirector_port}"),
            format!("127.0.0.1:{echo_port}"),
        ],
    );
    redirector.wait_line("bound to");
    let ours = runtime(FlashConfig::client());
    let epd = epd_for_uri("rtmfp:", None);
    let to: SocketAddr = format!("127.0.0.1:{redirector_port}").parse().unwrap();
    let session: SessionHandle = ours.connect(epd, &[to]).unwrap();
    let e = wait_event(&ours, "SessionOpened", |e| {
        matches!(
            e,
            Event::SessionOpened { .. } | Event::SessionOpenFailed { .. }
        )
    });
    let Event::SessionOpened {
        session: s,
        far_address,
        far_peer_id,
        ..
    } = e
    else {
        panic!("redirected open failed: {e:?}");
    };
    assert_eq!(s, session);
    assert_eq!(
        far_address,
        format!("127.0.0.1:{echo_port}").parse().unwrap()
    );
    assert_eq!(far_peer_id.map(|f| hex32(&f)), Some(hex32(&echo_fp)));
    eprintln!("redirected to echoserver {}", hex32(&echo_fp));
    // Now by fingerprint, straight to the echo server: finds the open
    // session instead of opening another.
    let found = ours
        .call(move |ep, _| ep.find_session(&epd_for_fingerprint(&echo_fp)))
        .unwrap();
    assert_eq!(found, Some(session));
    let report = ours.shutdown(Duration::from_secs(2));
    assert!(report.clean, "{report:?}");
    redirector.print_output();
    echo.print_output();
}
