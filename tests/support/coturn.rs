//! A real TURN server for tests: Debian's `coturn` (`turnserver`),
//! started on loopback with long-term credentials and stopped on drop.
//! Shared by the Rust test crates with `#[path]`.

#![allow(dead_code)]

use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The credentials every test server accepts.
pub const USER: &str = "rtmfp";
/// The password.
pub const PASSWORD: &str = "s3cret";
/// The realm.
pub const REALM: &str = "rtmfp.test";

/// A running `turnserver`.
pub struct Coturn {
    child: Child,
    /// Where it listens (UDP).
    pub addr: SocketAddr,
    dir: std::path::PathBuf,
}

impl Coturn {
    /// Starts one on a free loopback port, allowing loopback peers; `None`
    /// (with a message) when `turnserver` is not installed and the test
    /// may skip (CI installs it, so there `RTMFP_REQUIRE_COTURN=1` makes a
    /// missing one fail instead).
    pub fn start() -> Option<Coturn> {
        let installed = Command::new("turnserver")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
        if !installed {
            if std::env::var_os("RTMFP_REQUIRE_COTURN").is_some() {
                panic!("turnserver (Debian package coturn) is required but not installed");
            }
            eprintln!("SKIP: turnserver not installed (apt-get install coturn)");
            return None;
        }
        // A free port: bind, read, release (coturn binds it next).
        let port = UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .expect("a free port")
            .port();
        let dir = std::env::temp_dir().join(format!("rtmfp-coturn-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let log = std::fs::File::create(dir.join("turn.log")).expect("log file");
        let child = Command::new("turnserver")
            .args([
                "-n",
                "--listening-ip",
                "127.0.0.1",
                "--relay-ip",
                "127.0.0.1",
            ])
            .args(["--listening-port", &port.to_string()])
            .args(["--lt-cred-mech", "--user", &format!("{USER}:{PASSWORD}")])
            .args(["--realm", REALM, "--no-tls", "--no-dtls", "--no-tcp-relay"])
            .args(["--no-cli", "--allow-loopback-peers", "--simple-log"])
            .args(["--log-file", "stdout"])
            .arg("--userdb")
            .arg(dir.join("turndb"))
            .arg("--pidfile")
            .arg(dir.join("turn.pid"))
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("turnserver starts");
        let turn = Coturn {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            dir,
        };
        turn.wait_listening();
        Some(turn)
    }

    /// Waits (bounded) until a STUN Binding request gets an answer.
    fn wait_listening(&self) {
        let probe = UdpSocket::bind("127.0.0.1:0").expect("probe socket");
        probe
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let mut binding = vec![0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42];
        binding.extend_from_slice(&[7; 12]);
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut buf = [0u8; 512];
        while Instant::now() < deadline {
            let _ = probe.send_to(&binding, self.addr);
            if probe.recv_from(&mut buf).is_ok() {
                return;
            }
        }
        panic!("turnserver did not answer on {}: {}", self.addr, self.log());
    }

    /// `turn://USER:PASS@127.0.0.1:PORT`.
    pub fn uri(&self) -> String {
        format!("turn://{USER}:{PASSWORD}@{}", self.addr)
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("turn.log")).unwrap_or_default()
    }
}

impl Drop for Coturn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
