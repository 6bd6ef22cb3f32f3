//! Helpers shared by the CLI's process-level tests: a running `rtmfp`
//! with its output on a channel, killed on drop, and an `rtmfp server` on an
//! ephemeral loopback port. Every wait is bounded.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_rtmfp");
pub const WAIT: Duration = Duration::from_secs(60);

/// A running `rtmfp` with its stdout lines on a channel and its stderr
/// collected; killed and reaped on drop.
pub struct Proc {
    name: String,
    child: Option<Child>,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl Proc {
    pub fn spawn(args: &[&str]) -> Proc {
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
    pub fn wait_line(&mut self, prefix: &str) -> String {
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
                Err(e) => {
                    let ended = self.exit_report(e);
                    panic!(
                        "{}: no line {prefix:?} ({e}); stdout so far:\n{}{ended}",
                        self.name,
                        self.seen.join("\n"),
                    )
                }
            }
        }
    }

    /// After stdout closed: how the process ended and its stderr, so that
    /// a failed wait says why (nothing when it is still running).
    fn exit_report(&mut self, e: mpsc::RecvTimeoutError) -> String {
        if e != mpsc::RecvTimeoutError::Disconnected {
            return String::new();
        }
        let Some(child) = self.child.as_mut() else {
            return String::new();
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        let status = loop {
            match child.try_wait() {
                Ok(Some(s)) => break s.to_string(),
                _ if Instant::now() > deadline => break "still running".to_string(),
                _ => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        let err = match self.stderr.take() {
            Some(t) if status != "still running" => t.join().unwrap_or_default(),
            _ => String::new(),
        };
        format!("\nexit: {status}\nstderr:\n{err}")
    }

    /// Waits (bounded) for the exit; returns the code, all stdout and
    /// stderr.
    pub fn finish(mut self) -> (i32, String, String) {
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

    /// The process ID.
    pub fn pid(&self) -> i32 {
        self.child.as_ref().map_or(0, |c| c.id() as i32)
    }

    /// SIGKILL, reaped.
    pub fn kill_hard(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn interrupt(&mut self) {
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
pub struct Server {
    pub proc: Proc,
    pub port: u16,
    pub fingerprint: String,
}

impl Server {
    pub fn start(extra: &[&str]) -> Server {
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

    pub fn uri(&self, key: &str, stream: &str) -> String {
        format!("rtmfp://127.0.0.1:{}/app/{key}#{stream}", self.port)
    }

    /// SIGINT; returns everything it printed.
    pub fn stop(mut self) -> String {
        self.proc.interrupt();
        let (code, out, err) = self.proc.finish();
        assert_eq!(code, 0, "server exit: {out}\n{err}");
        assert!(out.contains("shutting down"), "{out}");
        out
    }
}

pub fn temp_flv(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("rtmfp-cli-{}-{tag}.flv", std::process::id()))
}

/// (tags, bytes) of `kind` ("audio", "video", "data") in a player's
/// `received audio N tags (B bytes), video ...` summary line.
pub fn summary_counts(out: &str, kind: &str) -> (u64, u64) {
    let line = out
        .lines()
        .find(|l| l.starts_with("received "))
        .unwrap_or_else(|| panic!("no summary in:\n{out}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let i = words
        .iter()
        .position(|w| *w == kind)
        .unwrap_or_else(|| panic!("no {kind} in {line}"));
    (
        words[i + 1].parse().unwrap(),
        words[i + 3].trim_start_matches('(').parse().unwrap(),
    )
}
