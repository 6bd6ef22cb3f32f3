//! FFmpeg in front of and behind rtmfp, through pipes (issue 16):
//!
//! ```sh
//! ffmpeg -re -f lavfi -i testsrc2=size=320x240:rate=25 -f lavfi -i sine -t 5 \
//!     -c:v libx264 -c:a aac -f flv - | rtmfp publish URI -
//! rtmfp play URI --out - | ffprobe -show_frames -
//! ```
//!
//! through an `rtmfp server` on a loopback port and peer to peer
//! (`--direct` / `--peer`).  ffprobe must decode as many video and audio
//! frames from what the player writes as from the same encode written by
//! ffmpeg to a file.
//!
//! FFmpeg is required: the Debian package `ffmpeg` (ffmpeg and ffprobe),
//! which scripts/test.sh installs.  Without it these tests fail and say
//! so, unless `RTMFP_SKIP_FFMPEG=1` asks to skip them.  If ffmpeg has no
//! libx264 the video is FLV1 (Sorenson H.263) and the test says so.
//!
//! Every child process is killed on drop and every wait is bounded;
//! nothing asserts on timing.

mod common;

use common::{Server, BIN};
use rtmfp_core::flash::flv::SliceReader;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Longest wait for any one process.
const WAIT: Duration = Duration::from_secs(90);

/// Seconds of test signal.
const SECS: &str = "5";

/// Whether ffmpeg and ffprobe can run; fails (or skips with
/// RTMFP_SKIP_FFMPEG=1) when they cannot.
fn ffmpeg_present() -> bool {
    let runs = |tool: &str| {
        Command::new(tool)
            .arg("-version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if runs("ffmpeg") && runs("ffprobe") {
        return true;
    }
    if std::env::var_os("RTMFP_SKIP_FFMPEG").is_some_and(|v| v == "1") {
        eprintln!("skipped: ffmpeg/ffprobe not found and RTMFP_SKIP_FFMPEG=1");
        return false;
    }
    panic!(
        "ffmpeg and ffprobe are required (Debian package `ffmpeg`; scripts/test.sh \
         installs it). Set RTMFP_SKIP_FFMPEG=1 to skip these tests."
    );
}

/// The video encoder: libx264 when this ffmpeg has it, else FLV1.
fn video_codec() -> &'static str {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-encoders"])
        .output()
        .expect("ffmpeg -encoders");
    let list = String::from_utf8_lossy(&out.stdout);
    if list.split_whitespace().any(|w| w == "libx264") {
        "libx264"
    } else {
        eprintln!("note: this ffmpeg has no libx264; encoding the video as FLV1 (flv)");
        "flv"
    }
}

/// ffmpeg's arguments for the test signal, encoded to FLV on `out`.
fn encode_args(vcodec: &str, realtime: bool, out: &str) -> Vec<String> {
    let mut args: Vec<&str> = vec!["-hide_banner", "-loglevel", "error", "-nostdin", "-y"];
    if realtime {
        args.push("-re");
    }
    args.extend([
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=25",
        "-f",
        "lavfi",
        "-i",
        "sine",
        "-t",
        SECS,
        "-c:v",
        vcodec,
        "-c:a",
        "aac",
        "-f",
        "flv",
        out,
    ]);
    args.into_iter().map(String::from).collect()
}

/// (video, audio) frames in the output of [`ffprobe_command`].
fn count_frames(ffprobe_stdout: &str) -> (usize, usize) {
    let mut counts = (0, 0);
    for line in ffprobe_stdout.lines() {
        // csv=p=0 prints "video" or "video," (side data), one per frame.
        match line.split(',').next() {
            Some("video") => counts.0 += 1,
            Some("audio") => counts.1 += 1,
            _ => {}
        }
    }
    counts
}

fn ffprobe_command(input: &str) -> Command {
    let mut c = Command::new("ffprobe");
    c.args([
        "-v",
        "error",
        "-show_entries",
        "frame=media_type",
        "-of",
        "csv=p=0",
        input,
    ]);
    c
}

/// What happens to a child's stdout.
#[derive(Clone, Copy, PartialEq)]
enum Stdout {
    /// Collected, returned by [`Kid::finish`].
    Collect,
    /// Its lines go on the channel with stderr's.
    Lines,
    /// The caller takes it ([`Kid::take_stdout`]).
    Caller,
}

/// A child process, killed and reaped on drop, with its stderr lines on a
/// channel and its stdout as [`Stdout`] says.
struct Kid {
    name: String,
    child: Option<Child>,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    stdout: Option<JoinHandle<Vec<u8>>>,
}

impl Kid {
    /// Spawns `cmd` with stderr piped.
    fn spawn(name: &str, mut cmd: Command, stdout: Stdout) -> Kid {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let (tx, lines) = mpsc::channel();
        let forward = |r: Box<dyn Read + Send>, tx: mpsc::Sender<String>| {
            std::thread::spawn(move || {
                for line in BufReader::new(r).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        };
        forward(Box::new(child.stderr.take().unwrap()), tx.clone());
        if stdout == Stdout::Lines {
            forward(Box::new(child.stdout.take().unwrap()), tx);
        }
        let stdout = (stdout == Stdout::Collect).then(|| {
            let mut out = child.stdout.take().unwrap();
            std::thread::spawn(move || {
                let mut v = Vec::new();
                let _ = out.read_to_end(&mut v);
                v
            })
        });
        Kid {
            name: name.to_string(),
            child: Some(child),
            lines,
            seen: Vec::new(),
            stdout,
        }
    }

    fn take_stdout(&mut self) -> ChildStdout {
        self.child.as_mut().unwrap().stdout.take().unwrap()
    }

    /// The rest of the next line (stderr, or stdout with
    /// [`Stdout::Lines`]) starting with `prefix`.
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
                    "{}: no line {prefix:?} ({e}); stderr so far:\n{}",
                    self.name,
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Waits (bounded) for the exit: (code, stdout collected, lines).
    fn finish(mut self) -> (i32, Vec<u8>, String) {
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
                    "{}: still running after {WAIT:?}; stderr:\n{}\n{}",
                    self.name,
                    self.seen.join("\n"),
                    rest.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut err = std::mem::take(&mut self.seen);
        while let Ok(l) = self.lines.recv_timeout(Duration::from_secs(5)) {
            err.push(l);
        }
        let out = self
            .stdout
            .take()
            .map(|h| h.join().unwrap())
            .unwrap_or_default();
        (status.code().unwrap_or(-1), out, err.join("\n"))
    }
}

impl Drop for Kid {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn rtmfp(args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args);
    c
}

fn temp(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("rtmfp-ffmpeg-{}-{tag}.flv", std::process::id()))
}

/// Encodes the test signal once to a file and counts its frames: what a
/// player must give back.
fn reference(vcodec: &str, tag: &str) -> (usize, usize) {
    let file = temp(tag);
    let path = file.to_str().unwrap();
    let status = Command::new("ffmpeg")
        .args(encode_args(vcodec, false, path))
        .stdin(Stdio::null())
        .status()
        .expect("ffmpeg");
    assert!(status.success(), "ffmpeg encode to {path}: {status}");
    let out = ffprobe_command(path).output().expect("ffprobe");
    assert!(out.status.success(), "ffprobe {path}");
    let _ = std::fs::remove_file(&file);
    let counts = count_frames(&String::from_utf8_lossy(&out.stdout));
    assert!(
        counts.0 > 100 && counts.1 > 100,
        "reference frames {counts:?}"
    );
    eprintln!("reference: {} video, {} audio frames", counts.0, counts.1);
    counts
}

/// `ffmpeg -re ... -f flv - | rtmfp publish URI - EXTRA...`: the
/// publisher (stdin from ffmpeg) and ffmpeg.
fn publish_from_ffmpeg(vcodec: &str, uri: &str, extra: &[&str]) -> (Kid, Kid) {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(encode_args(vcodec, true, "-"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    let mut ffmpeg = Kid::spawn("ffmpeg", cmd, Stdout::Caller);
    let mut args = vec!["publish", uri, "-", "-q"];
    args.extend_from_slice(extra);
    let mut cmd = rtmfp(&args);
    cmd.stdin(Stdio::from(ffmpeg.take_stdout()));
    (Kid::spawn("rtmfp publish", cmd, Stdout::Lines), ffmpeg)
}

/// The publisher's stdout, for messages.
fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn ffmpeg_through_the_server_to_ffprobe() {
    if !ffmpeg_present() {
        return;
    }
    let vcodec = video_codec();
    let want = reference(vcodec, "server-ref");
    let server = Server::start(&["--key", "devkey"]);
    let uri = server.uri("devkey", "live");

    // The player first, with the default window: its FLV is collected,
    // then checked tag by tag and given to ffprobe as a file.
    let mut player = Kid::spawn(
        "rtmfp play",
        rtmfp(&["play", &uri, "--out", "-"]),
        Stdout::Collect,
    );
    player.wait_line("status NetStream.Play.Start");
    let (publisher, ffmpeg) = publish_from_ffmpeg(vcodec, &uri, &[]);

    let (code, _, log) = publisher.finish();
    assert_eq!(code, 0, "publisher:\n{log}");
    assert!(log.contains("source stdin: FLV, video, audio"), "{log}");
    let (code, _, err) = ffmpeg.finish();
    assert_eq!(code, 0, "ffmpeg: {err}");
    let (code, flv, err) = player.finish();
    assert_eq!(code, 0, "player: {err}");
    assert!(err.contains("reordering window 100 ms"), "{err}");
    assert!(err.contains("received    audio"), "{err}");

    // Nothing but FLV on stdout: every byte belongs to a whole tag.
    let mut reader = SliceReader::new(&flv).expect("an FLV header on stdout");
    let mut tags = 0;
    while let Some(tag) = reader.next_tag().expect("whole tags only") {
        assert!(matches!(tag.tag_type, 8 | 9 | 18));
        tags += 1;
    }
    assert_eq!(reader.position(), flv.len());
    assert!(
        err.contains(&format!("wrote       stdout ({tags} tags")),
        "{err}"
    );

    let file = temp("server-out");
    std::fs::write(&file, &flv).unwrap();
    let probe = ffprobe_command(file.to_str().unwrap())
        .output()
        .expect("ffprobe");
    let _ = std::fs::remove_file(&file);
    assert!(probe.status.success(), "ffprobe: {}", text(&probe.stderr));
    let got = count_frames(&text(&probe.stdout));
    eprintln!(
        "through the server: {} video, {} audio frames",
        got.0, got.1
    );
    assert_eq!(got, want, "(video, audio) frames through the server");
    server.stop();
}

#[test]
fn ffmpeg_peer_to_peer_into_ffprobe_through_a_pipe() {
    if !ffmpeg_present() {
        return;
    }
    let vcodec = video_codec();
    let want = reference(vcodec, "p2p-ref");
    let server = Server::start(&[]);
    let uri = server.uri("devkey", "cam");

    // The publisher waits for its first subscriber; ffmpeg waits on the
    // full pipe meanwhile, and nothing is lost.
    let (mut publisher, ffmpeg) =
        publish_from_ffmpeg(vcodec, &uri, &["--direct", "--bind", "127.0.0.1:0"]);
    let id = publisher.wait_line("peer ID ");
    assert_eq!(id.len(), 64, "{id}");
    publisher.wait_line("waiting for 1 subscriber");

    // `rtmfp play --peer ID --out - --window 0 | ffprobe -`
    let mut player = Kid::spawn(
        "rtmfp play",
        rtmfp(&[
            "play",
            &uri,
            "--peer",
            &id,
            "--out",
            "-",
            "--window",
            "0",
            "--bind",
            "127.0.0.1:0",
        ]),
        Stdout::Caller,
    );
    let mut probe = ffprobe_command("-");
    probe
        .stdin(Stdio::from(player.take_stdout()))
        .stdout(Stdio::piped());
    let probe = Kid::spawn("ffprobe", probe, Stdout::Collect);

    let (code, _, log) = publisher.finish();
    assert_eq!(code, 0, "publisher:\n{log}");
    assert!(log.contains("subscriber 1 accepted"), "{log}");
    let (code, _, err) = ffmpeg.finish();
    assert_eq!(code, 0, "ffmpeg: {err}");
    let (code, _, err) = player.finish();
    assert_eq!(code, 0, "player: {err}");
    assert!(err.contains("reordering window 0 ms"), "{err}");
    let (code, frames, err) = probe.finish();
    assert_eq!(code, 0, "ffprobe: {err}");
    let got = count_frames(&text(&frames));
    eprintln!("peer to peer: {} video, {} audio frames", got.0, got.1);
    assert_eq!(got, want, "(video, audio) frames peer to peer");

    let log = server.stop();
    assert!(
        log.contains("0 media messages in, 0 relayed"),
        "no media through the server: {log}"
    );
}

#[test]
fn stdin_that_is_not_flv_fails_before_connecting() {
    // Nothing listens on this URI: the error must come first.
    let uri = "rtmfp://127.0.0.1:9/app/k#s";
    for (input, why) in [
        (
            &b"#EXTM3U\n"[..],
            "not an FLV stream: it starts with 23 45 58",
        ),
        (b"", "empty stream: no FLV header"),
        (b"FLV\x01\x05\0\0\xff\xff", "DataOffset 65535"),
    ] {
        let mut cmd = rtmfp(&["publish", uri, "-"]);
        cmd.stdin(Stdio::piped());
        let mut kid = Kid::spawn("rtmfp publish -", cmd, Stdout::Collect);
        let mut stdin = kid.child.as_mut().unwrap().stdin.take().unwrap();
        stdin.write_all(input).unwrap();
        drop(stdin);
        let (code, out, err) = kid.finish();
        assert_eq!(code, 1, "{input:?}: {}\n{err}", text(&out));
        assert!(err.contains(why), "{input:?}: want {why:?} in {err}");
        assert!(!text(&out).contains("status"), "connected: {}", text(&out));
    }
    let (code, _, err) = Kid::spawn(
        "rtmfp publish - --loop",
        rtmfp(&["publish", uri, "-", "--loop"]),
        Stdout::Collect,
    )
    .finish();
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--loop needs a file"), "{err}");
}

#[test]
fn a_reader_that_goes_away_ends_the_play_cleanly() {
    let server = Server::start(&[]);
    let uri = server.uri("k", "s");
    let mut player = Kid::spawn(
        "rtmfp play",
        rtmfp(&["play", &uri, "--out", "-", "--window", "0"]),
        Stdout::Caller,
    );
    let mut flv = player.take_stdout();
    player.wait_line("status NetStream.Play.Start");
    let publisher = Kid::spawn(
        "rtmfp publish",
        rtmfp(&["publish", &uri, "--synthetic", "30", "-q"]),
        Stdout::Collect,
    );
    // Read a little, as `| head -c 4000` would, and go away.
    let mut head = vec![0u8; 4000];
    flv.read_exact(&mut head).expect("4000 bytes of FLV");
    assert_eq!(&head[..3], b"FLV");
    drop(flv);
    let (code, _, err) = player.finish();
    assert_eq!(code, 0, "player: {err}");
    assert!(err.contains("the reader of stdout went away"), "{err}");
    drop(publisher);
    server.stop();
}
