//! `rtmfp server`, `rtmfp publish` and `rtmfp play` end to end over
//! loopback with ephemeral ports: a player gets every tag of a synthetic
//! FLV, byte for byte, directly from a publisher found by peer ID or by
//! name, or through the server; a bad developer key is rejected.
//!
//! Every child process is killed on drop and every wait is bounded;
//! nothing asserts on timing.

use rtmfp_core::flash::flv::{self, SliceReader};
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rtmfp");
/// What `rtmfp publish --synthetic` makes (see its --help).
const FPS: u32 = 25;
const AUDIO_RATE: u32 = 43;
const WAIT: Duration = Duration::from_secs(60);

/// A running `rtmfp` with its stdout lines on a channel and its stderr
/// collected; killed and reaped on drop.
struct Proc {
    name: String,
    child: Option<Child>,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl Proc {
    fn spawn(args: &[&str]) -> Proc {
        let mut child = Command::new(BIN)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn rtmfp");
        let stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        Proc {
            name: format!("rtmfp {}", args.join(" ")),
            child: Some(child),
            lines,
            seen: Vec::new(),
            stderr: Some(stderr),
        }
    }

    /// The rest of the next stdout line starting with `prefix`.
    fn wait_line(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    if let Some(rest) = l.strip_prefix(prefix) {
                        return rest.trim().to_string();
                    }
                }
                Err(e) => panic!(
                    "{}: no line {prefix:?} ({e}); stdout so far:\n{}",
                    self.name,
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Waits (bounded) for the exit; returns the code, all stdout and
    /// stderr.
    fn finish(mut self) -> (i32, String, String) {
        let mut child = self.child.take().unwrap();
        let deadline = Instant::now() + WAIT;
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                let rest: Vec<String> = self.lines.try_iter().collect();
                panic!(
                    "{}: still running after {WAIT:?}; stdout:\n{}\n{}",
                    self.name,
                    self.seen.join("\n"),
                    rest.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let err = self.stderr.take().unwrap().join().unwrap();
        // The reader thread ends at EOF; take everything it sent.
        let mut out = std::mem::take(&mut self.seen);
        while let Ok(l) = self.lines.recv_timeout(Duration::from_secs(5)) {
            out.push(l);
        }
        (status.code().unwrap_or(-1), out.join("\n"), err)
    }

    fn interrupt(&mut self) {
        let pid = self.child.as_ref().unwrap().id() as i32;
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(pid, libc::SIGINT) };
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// An `rtmfp server` on an ephemeral loopback port.
struct Server {
    proc: Proc,
    port: u16,
    fingerprint: String,
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        let mut args = vec!["server", "--listen", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        let mut proc = Proc::spawn(&args);
        let fingerprint = proc.wait_line("fingerprint ");
        let addr = proc.wait_line("listening ");
        let port = addr.rsplit(':').next().unwrap().parse().unwrap();
        Server {
            proc,
            port,
            fingerprint,
        }
    }

    fn uri(&self, key: &str, stream: &str) -> String {
        format!("rtmfp://127.0.0.1:{}/app/{key}#{stream}", self.port)
    }

    /// SIGINT; returns everything it printed.
    fn stop(mut self) -> String {
        self.proc.interrupt();
        let (code, out, err) = self.proc.finish();
        assert_eq!(code, 0, "server exit: {out}\n{err}");
        assert!(out.contains("shutting down"), "{out}");
        out
    }
}

fn temp_flv(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("rtmfp-cli-{}-{tag}.flv", std::process::id()))
}

/// (tags, bytes) of `kind` in the `received` summary line.
fn summary_counts(out: &str, kind: &str) -> (u64, u64) {
    let line = out
        .lines()
        .find(|l| l.starts_with("received "))
        .unwrap_or_else(|| panic!("no summary in:\n{out}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let i = words
        .iter()
        .position(|w| *w == kind)
        .unwrap_or_else(|| panic!("no {kind} in {line}"));
    let tags = words[i + 1].parse().unwrap();
    let bytes = words[i + 3].trim_start_matches('(').parse().unwrap();
    (tags, bytes)
}

/// The player's summary and `--out` file match the synthetic FLV of
/// `secs` seconds: every tag, same type, timestamp and bytes, in order.
fn check_against_synthetic(secs: u32, out: &str, file: &PathBuf) {
    let ms = secs * 1000;
    let source = flv::synthetic(ms, FPS, AUDIO_RATE);
    let (videos, audios) = flv::synthetic_tag_counts(ms, FPS, AUDIO_RATE);
    let sent: Vec<_> = SliceReader::new(&source)
        .unwrap()
        .map(|t| t.unwrap())
        .collect();
    let bytes = |ty: u8| -> u64 {
        sent.iter()
            .filter(|t| t.tag_type == ty)
            .map(|t| t.data.len() as u64)
            .sum()
    };
    assert_eq!(
        summary_counts(out, "audio"),
        (audios as u64, bytes(8)),
        "{out}"
    );
    assert_eq!(
        summary_counts(out, "video"),
        (videos as u64, bytes(9)),
        "{out}"
    );
    assert_eq!(summary_counts(out, "data"), (1, bytes(18)), "{out}");

    let written = std::fs::read(file).expect("the --out file");
    let got: Vec<_> = SliceReader::new(&written)
        .expect("an FLV header")
        .map(|t| t.expect("a whole tag"))
        .collect();
    assert_eq!(got.len(), sent.len(), "tag count of {}", file.display());
    for (i, (g, s)) in got.iter().zip(&sent).enumerate() {
        assert_eq!(
            (g.tag_type, g.timestamp),
            (s.tag_type, s.timestamp),
            "tag {i}"
        );
        assert!(g.data == s.data, "tag {i}: bytes differ");
    }
    let _ = std::fs::remove_file(file);
}

#[test]
fn help_for_the_stream_commands() {
    for (cmd, flags) in [
        (
            "server",
            &["--listen", "--keys", "--key", "--any-key", "--max-clients"][..],
        ),
        (
            "publish",
            &[
                "--direct",
                "--name",
                "--synthetic",
                "--loop",
                "--speed",
                "--max-peers",
                "--reject-after",
            ],
        ),
        (
            "play",
            &["--peer", "--peer-name", "--out", "--count", "--duration"],
        ),
    ] {
        let (code, out, err) = Proc::spawn(&[cmd, "--help"]).finish();
        assert_eq!(code, 0, "{cmd}: {err}");
        assert!(out.contains(&format!("Usage: rtmfp {cmd}")), "{out}");
        for flag in flags {
            assert!(out.contains(flag), "{cmd} --help lacks {flag}");
        }
    }
}

#[test]
fn usage_errors_exit_with_2() {
    let cases: &[(&[&str], &str)] = &[
        (&["play", "rtmfp://127.0.0.1/app/k"], "names no stream"),
        (&["play", "http://127.0.0.1/app/k#s"], "rtmfp://"),
        (
            &["play", "rtmfp://127.0.0.1/app/k#s", "--peer", "12"],
            "64 hex",
        ),
        (
            &[
                "play",
                "rtmfp://127.0.0.1/app/k#s",
                "--peer",
                &"ab".repeat(32),
                "--peer-name",
                "x",
            ],
            "cannot be used with",
        ),
        (&["publish", "rtmfp://127.0.0.1/app/k#s"], "required"),
        (
            &[
                "publish",
                "rtmfp://127.0.0.1/app/k#s",
                "--synthetic",
                "1",
                "--name",
                "x",
            ],
            "--direct",
        ),
        (
            &[
                "publish",
                "rtmfp://127.0.0.1/app/k#s",
                "--synthetic",
                "1",
                "--speed",
                "0",
            ],
            "bad speed",
        ),
        (
            &["server", "--key", "k", "--any-key"],
            "cannot be used with",
        ),
    ];
    for (args, why) in cases {
        let (code, out, err) = Proc::spawn(args).finish();
        assert_eq!(code, 2, "{args:?}: stdout {out} stderr {err}");
        assert!(err.contains(why), "{args:?}: want {why:?} in {err}");
    }
}

#[test]
fn a_player_plays_a_direct_publisher_by_peer_id() {
    let server = Server::start(&[]);
    let uri = server.uri("devkey", "cam");
    let mut publisher = Proc::spawn(&[
        "publish",
        &uri,
        "--direct",
        "--synthetic",
        "3",
        "--speed",
        "2",
        "--bind",
        "127.0.0.1:0",
        "-q",
    ]);
    let status = publisher.wait_line("status NetConnection.Connect.Success");
    assert!(status.contains(&server.fingerprint), "{status}");
    let id = publisher.wait_line("peer ID ");
    assert_eq!(id.len(), 64, "{id}");
    publisher.wait_line("waiting for 1 subscriber");

    let out_file = temp_flv("direct");
    let player = Proc::spawn(&[
        "play",
        &uri,
        "--peer",
        &id,
        "--out",
        out_file.to_str().unwrap(),
        "--bind",
        "127.0.0.1:0",
    ]);
    let (code, out, err) = player.finish();
    assert_eq!(code, 0, "player:\n{out}\n{err}");
    assert!(out.contains("status NetStream.Play.Start"), "{out}");
    check_against_synthetic(3, &out, &out_file);

    let (code, pub_out, err) = publisher.finish();
    assert_eq!(code, 0, "publisher:\n{pub_out}\n{err}");
    assert!(pub_out.contains("subscriber 1 accepted"), "{pub_out}");
    assert!(pub_out.contains("subscriber 1 left"), "{pub_out}");

    let log = server.stop();
    assert!(log.contains("introduce   "), "{log}");
    assert!(
        log.contains(&format!("to {id}")),
        "introduced to the publisher: {log}"
    );
    assert!(
        log.contains("0 media messages in, 0 relayed"),
        "no media through the server: {log}"
    );
}

#[test]
fn a_player_plays_through_the_server() {
    let server = Server::start(&["--key", "devkey"]);
    let uri = server.uri("devkey", "live");
    let out_file = temp_flv("relay");
    // The player first: it hears NetStream.Play.PublishNotify when the
    // publisher starts, so it gets the stream from its first tag.
    let mut player = Proc::spawn(&["play", &uri, "--out", out_file.to_str().unwrap(), "-q"]);
    player.wait_line("status NetStream.Play.Start");
    let publisher = Proc::spawn(&["publish", &uri, "--synthetic", "3", "--speed", "2", "-q"]);
    let (code, pub_out, err) = publisher.finish();
    assert_eq!(code, 0, "publisher:\n{pub_out}\n{err}");
    let (code, out, err) = player.finish();
    assert_eq!(code, 0, "player:\n{out}\n{err}");
    assert!(out.contains("NetStream.Play.PublishNotify"), "{out}");
    check_against_synthetic(3, &out, &out_file);

    let log = server.stop();
    assert!(log.contains("publish     \"live\""), "{log}");
    assert!(log.contains("play        \"live\""), "{log}");
    assert!(log.contains("unpublish   \"live\""), "{log}");
}

#[test]
fn a_player_finds_a_publisher_by_name_and_a_second_one_is_rejected() {
    let server = Server::start(&["--any-key"]);
    let uri = server.uri("k", "cam");
    let mut publisher = Proc::spawn(&[
        "publish",
        &uri,
        "--direct",
        "--name",
        "alice",
        "--synthetic",
        "3",
        "--speed",
        "2",
        "--reject-after",
        "1",
        "-q",
    ]);
    let id = publisher.wait_line("peer ID ");
    publisher.wait_line("name \"alice\" registered");
    publisher.wait_line("waiting for 1 subscriber");

    let out_file = temp_flv("name");
    let mut player = Proc::spawn(&[
        "play",
        &uri,
        "--peer-name",
        "alice",
        "--out",
        out_file.to_str().unwrap(),
        "-q",
    ]);
    let found = player.wait_line("name \"alice\" is peer ");
    assert_eq!(found, id);
    player.wait_line("status NetStream.Play.Start");

    // The publisher's on_peer_connect takes one subscriber only.
    let second = Proc::spawn(&["play", &uri, "--peer", &id, "-q"]);
    let (code, out, err) = second.finish();
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("NetStream.Connect.Rejected"), "{err}");

    let (code, out, err) = player.finish();
    assert_eq!(code, 0, "player:\n{out}\n{err}");
    check_against_synthetic(3, &out, &out_file);
    let (code, pub_out, err) = publisher.finish();
    assert_eq!(code, 0, "publisher:\n{pub_out}\n{err}");
    assert!(pub_out.contains("subscriber 2 rejected"), "{pub_out}");

    // An unknown name is a clear failure.
    let (code, _, err) = Proc::spawn(&["play", &uri, "--peer-name", "nobody"]).finish();
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("NetConnection.Call.Failed"), "{err}");
    let log = server.stop();
    assert!(log.contains("name        \"alice\""), "{log}");
}

#[test]
fn a_bad_developer_key_is_rejected() {
    let keys = std::env::temp_dir().join(format!("rtmfp-cli-{}-keys.txt", std::process::id()));
    std::fs::write(&keys, "# developer keys\ngoodkey\n").unwrap();
    let server = Server::start(&["--keys", keys.to_str().unwrap()]);
    for cmd in [
        &["play", &server.uri("badkey", "s")][..],
        &["publish", &server.uri("badkey", "s"), "--synthetic", "1"],
    ] {
        let (code, out, err) = Proc::spawn(cmd).finish();
        assert_eq!(code, 1, "{cmd:?}: {out}\n{err}");
        assert!(
            out.contains("status NetConnection.Connect.Rejected"),
            "{out}"
        );
        assert!(err.contains("NetConnection.Connect.Rejected"), "{err}");
    }
    // The right key gets in.
    let (code, out, err) =
        Proc::spawn(&["play", &server.uri("goodkey", "s"), "--duration", "1", "-q"]).finish();
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("NetConnection.Connect.Success"), "{out}");
    let log = server.stop();
    assert!(log.contains("reject "), "{log}");
    let _ = std::fs::remove_file(keys);
}
