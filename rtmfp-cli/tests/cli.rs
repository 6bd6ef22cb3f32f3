//! The `rtmfp` binary end to end: help, usage errors and exit codes, an
//! echo server and a verifying sender over loopback, graceful shutdown on
//! SIGINT, and a short benchmark.
//!
//! Every child process is killed on drop and every wait is bounded;
//! nothing asserts on timing.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rtmfp");

/// A child process, killed and reaped on drop.
struct Guard(Option<Child>);

impl Guard {
    fn child(&mut self) -> &mut Child {
        self.0.as_mut().unwrap()
    }

    /// Waits at most `limit` for the process to exit and collects its
    /// output; kills it (and fails) past the limit.
    fn wait(mut self, limit: Duration) -> Output {
        let mut child = self.0.take().unwrap();
        let deadline = Instant::now() + limit;
        loop {
            if child.try_wait().unwrap().is_some() {
                return child.wait_with_output().unwrap();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let out = child.wait_with_output().unwrap();
                panic!(
                    "still running after {limit:?}; stdout:\n{}\nstderr:\n{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn spawn(args: &[&str]) -> Guard {
    Guard(Some(
        Command::new(BIN)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn rtmfp"),
    ))
}

/// Runs `rtmfp ARGS` to completion (bounded).
fn run(args: &[&str], limit: Duration) -> (i32, String, String) {
    let out = spawn(args).wait(limit);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// An `rtmfp echo` on an ephemeral loopback port, with its stdout lines
/// arriving on a channel.
struct Echo {
    guard: Guard,
    lines: mpsc::Receiver<String>,
    port: u16,
    fingerprint: String,
}

impl Echo {
    fn start(extra: &[&str]) -> Echo {
        let mut args = vec!["echo", "--listen", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        let mut guard = spawn(&args);
        let stdout = guard.child().stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut echo = Echo {
            guard,
            lines,
            port: 0,
            fingerprint: String::new(),
        };
        echo.fingerprint = echo.wait_line("fingerprint ");
        let addr = echo.wait_line("listening ");
        echo.port = addr.rsplit(':').next().unwrap().parse().unwrap();
        echo
    }

    /// The rest of the next line starting with `prefix` (bounded wait).
    fn wait_line(&self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l.starts_with(prefix) => return l[prefix.len()..].trim().to_string(),
                Ok(_) => {}
                Err(e) => panic!("rtmfp echo: no line {prefix:?}: {e}"),
            }
        }
    }
}

#[test]
fn help_for_every_command() {
    for args in [
        &["--help"][..],
        &["echo", "--help"],
        &["send", "--help"],
        &["bench", "--help"],
        &["help", "send"],
    ] {
        let (code, out, _) = run(args, Duration::from_secs(10));
        assert_eq!(code, 0, "{args:?}");
        assert!(out.contains("Usage: rtmfp"), "{args:?}: {out}");
    }
    let (_, out, _) = run(&["send", "--help"], Duration::from_secs(10));
    for flag in [
        "--rate",
        "--size",
        "--count",
        "--duration",
        "--bytes",
        "--priority",
        "--deadline",
        "--verify",
        "--peer-id",
    ] {
        assert!(out.contains(flag), "send --help lacks {flag}");
    }
    let (_, out, _) = run(&["bench", "--help"], Duration::from_secs(10));
    for flag in ["--bytes", "--size", "--handshakes", "--group", "--sessions"] {
        assert!(out.contains(flag), "bench --help lacks {flag}");
    }
    let (_, out, _) = run(&["echo", "--help"], Duration::from_secs(10));
    for flag in ["--listen", "--hostname", "--sink", "--progress"] {
        assert!(out.contains(flag), "echo --help lacks {flag}");
    }
}

#[test]
fn usage_errors_exit_with_2_and_say_why() {
    let cases: &[(&[&str], &str)] = &[
        (&["send", "1.2.3.4:0"], "port 0"),
        (&["send", "127.0.0.1:70000"], "bad port"),
        (&["send", "localhost:1:5000"], "brackets"),
        (&["send", "http://example.com/app"], "rtmfp://"),
        (&["send", "rtmfp://"], "rtmfp://host"),
        (&["send", "rtmfp://127.0.0.1:notaport/"], "rtmfp://host"),
        (
            &["send", "127.0.0.1:1935", "--peer-id", "xyz"],
            "64 hex digits",
        ),
        (
            &["send", "127.0.0.1:1935", "--peer-id", &"g".repeat(64)],
            "not hex",
        ),
        (
            &["send", "127.0.0.1:1935", "--priority", "9"],
            "bad priority",
        ),
        (&["send", "127.0.0.1:1935", "--rate", "fast"], "bad rate"),
        (
            &["send", "127.0.0.1:1935", "--count", "1", "--bytes", "1M"],
            "cannot be used with",
        ),
        (&["echo", "--listen", "300.1.1.1:5"], "cannot resolve"),
        (&["echo", "--listen", "127.0.0.1:99999"], "bad port"),
        (&["echo", "--listen", "127.0.0.1"], "no port"),
        (&["bench", "--group", "3"], "bad DH group"),
        (&["bench", "--bytes", "lots"], "bad size"),
        (&["frobnicate"], "unrecognized subcommand"),
    ];
    for (args, why) in cases {
        let (code, out, err) = run(args, Duration::from_secs(20));
        assert_eq!(code, 2, "{args:?}: stdout {out} stderr {err}");
        assert!(err.contains(why), "{args:?}: want {why:?} in {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn a_closed_port_is_a_runtime_failure_with_exit_1_that_names_it() {
    // A port nobody listens on: its ICMP port unreachable ends the connect
    // long before the 300 s timeout, and the message says so.
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let target = format!("127.0.0.1:{port}");
    let (code, _, err) = run(
        &["send", &target, "--count", "1", "--timeout", "300"],
        Duration::from_secs(30),
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("cannot open a session"), "{err}");
    assert!(err.contains(&format!("{target} is unreachable")), "{err}");
    // The Flash client too (NetConnection.Connect.Failed).
    let uri = format!("rtmfp://{target}/app#s");
    let (code, out, err) = run(&["play", &uri], Duration::from_secs(30));
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains(&format!("{target} is unreachable")),
        "{out}\n{err}"
    );
}

#[test]
fn echo_and_verified_send_over_loopback() {
    let echo = Echo::start(&["--progress"]);
    assert_eq!(echo.fingerprint.len(), 64, "{}", echo.fingerprint);
    // By URI (ancillary data EPD).
    let uri = format!("rtmfp://127.0.0.1:{}/", echo.port);
    let (code, out, err) = run(
        &["send", &uri, "--count", "200", "--size", "5000", "--verify"],
        Duration::from_secs(60),
    );
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        out.contains("200 sent, 200 delivered, 0 abandoned"),
        "{out}"
    );
    assert!(out.contains("200 received"), "{out}");
    assert!(out.contains("verified"), "{out}");
    assert!(
        out.contains(&echo.fingerprint),
        "far peer ID printed: {out}"
    );
    assert!(out.contains("srtt") && out.contains("cwnd"), "{out}");
    echo.wait_line("session 1 open");

    // By address and fingerprint, paced, a bytes amount with a short last
    // message, at a time-critical priority.
    let target = format!("127.0.0.1:{}", echo.port);
    let (code, out, err) = run(
        &[
            "send",
            &target,
            "--peer-id",
            &echo.fingerprint,
            "--bytes",
            "100000",
            "--size",
            "3000",
            "--rate",
            "4M",
            "--priority",
            "immediate",
            "--verify",
            "-q",
        ],
        Duration::from_secs(60),
    );
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("34 sent, 34 delivered"), "{out}");
    assert!(out.contains("real-time"), "{out}");
    assert!(out.contains("verified"), "{out}");

    // A wrong peer ID finds nobody there.
    let (code, _, err) = run(
        &[
            "send",
            &target,
            "--peer-id",
            &"ab".repeat(32),
            "--count",
            "1",
            "--timeout",
            "1",
        ],
        Duration::from_secs(30),
    );
    assert_eq!(code, 1, "{err}");

    // SIGINT: a graceful shutdown with totals, exit 0.
    let mut guard = echo.guard;
    let pid = guard.child().id() as i32;
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(pid, libc::SIGINT) };
    let lines = echo.lines;
    let out = guard.wait(Duration::from_secs(20));
    assert!(out.status.success(), "{:?}", out.status);
    // The reader thread may still be passing on the last lines: read until
    // it ends (EOF after the exit) or a bounded wait.
    let mut rest: Vec<String> = Vec::new();
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while let Ok(line) =
        lines.recv_timeout(until.saturating_duration_since(std::time::Instant::now()))
    {
        rest.push(line);
    }
    assert!(
        rest.iter().any(|l| l.starts_with("totals sessions 2")),
        "{rest:?}"
    );
}

#[test]
fn sink_counts_without_echoing() {
    let echo = Echo::start(&["--sink"]);
    let uri = format!("rtmfp://127.0.0.1:{}/app", echo.port);
    let (code, out, err) = run(
        &["send", &uri, "--count", "50", "--size", "1000", "-q"],
        Duration::from_secs(60),
    );
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("50 delivered"), "{out}");
    assert!(out.contains("echo        none"), "{out}");
    // --verify needs an echo.
    let (code, _, err) = run(
        &["send", &uri, "--count", "5", "--verify", "-q"],
        Duration::from_secs(60),
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no echo"), "{err}");
}

#[test]
fn short_bench_prints_the_table() {
    let mut guard = spawn(&[
        "bench",
        "--bytes",
        "8M",
        "--handshakes",
        "50",
        "--pings",
        "200",
    ]);
    let mut stderr = guard.child().stderr.take().unwrap();
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let out = guard.wait(Duration::from_secs(120));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = err.join().unwrap();
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    for row in [
        "| throughput, 1 flow, 8 MiB in 16 KiB messages",
        "| CPU s/GB",
        "| handshakes/s, DH group 14",
        "| handshakes/s, DH group 2 ",
        "| srtt",
        "| ping-pong RTT",
    ] {
        assert!(stdout.contains(row), "no row {row:?} in\n{stdout}");
    }
    assert!(
        stdout.contains("MB/s") && stdout.contains("Mbit/s"),
        "{stdout}"
    );
    assert!(stdout.contains("p50") && stdout.contains("p99"), "{stdout}");
    assert!(!stdout.contains("FAILED"), "{stdout}");
}
