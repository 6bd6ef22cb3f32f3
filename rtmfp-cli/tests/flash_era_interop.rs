//! Interop with the Flash-era family: librtmfp's `TestClient` (the client
//! library behind FFmpeg's RTMFP support, behaving as Flash Player did) and
//! MonaServer2 (a Stratus-like server), against our `rtmfp` CLI.
//!
//! Every scenario moves a synthetic FLV and checks, payload by payload,
//! that every audio and video tag of the source arrived, in order:
//! - librtmfp through our server, and P2P between two librtmfp peers that
//!   our server introduced (the server carries no media);
//! - librtmfp playing our publisher, and our player playing librtmfp's
//!   publisher, each through our server and directly by peer ID;
//! - our publisher and player through MonaServer2, and P2P between us and
//!   librtmfp with MonaServer2 as the rendezvous, both directions.
//!
//! The programs are built outside the repository (see
//! `../shared/interop/README.md`) and found through two variables:
//! - `LIBRTMFP_DIR`: librtmfp's checkout, with `TestClient/TestClient` and
//!   `lib/`;
//! - `MONASERVER2_DIR`: MonaServer2's checkout, with
//!   `MonaServer/MonaServer`, `MonaBase/lib` and `MonaCore/lib`.
//!
//! Without them each test prints `SKIP` and why, and passes. Run:
//! `LIBRTMFP_DIR=… MONASERVER2_DIR=… cargo test -p rtmfp-cli --test
//! flash_era_interop -- --nocapture --test-threads=1`

mod common;

use common::{Proc, Server, WAIT};
use rtmfp_core::flash::flv::{self, SliceReader};
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Seconds of synthetic FLV per scenario: 25 fps video and 43 AAC tags a
/// second, about 16 KB/s, under TestClient's ~30 KB/s publishing rate.
const SECS: u32 = 4;

fn env_dir(var: &str, needs: &[&str]) -> Option<PathBuf> {
    let Some(dir) = std::env::var_os(var).map(PathBuf::from) else {
        eprintln!("SKIP flash-era interop: ${var} is not set (see ../shared/interop/README.md)");
        return None;
    };
    for n in needs {
        if !dir.join(n).exists() {
            eprintln!(
                "SKIP flash-era interop: {} is missing",
                dir.join(n).display()
            );
            return None;
        }
    }
    Some(dir)
}

fn librtmfp() -> Option<PathBuf> {
    env_dir("LIBRTMFP_DIR", &["TestClient/TestClient", "lib"])
}

fn monaserver() -> Option<PathBuf> {
    env_dir(
        "MONASERVER2_DIR",
        &["MonaServer/MonaServer", "MonaBase/lib", "MonaCore/lib"],
    )
}

/// A free UDP port on loopback (the far programs need a fixed one).
fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A scratch directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let p = std::env::temp_dir().join(format!("rtmfp-flash-era-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(child.id() as i32, sig) };
}

/// Waits up to `limit` for `child` to exit.
fn exited(child: &mut Child, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// A running librtmfp `TestClient`, logging to a file; interrupted, then
/// killed, on drop.
struct TestClient {
    child: Child,
    log: PathBuf,
}

impl TestClient {
    fn spawn(dir: &Path, scratch: &Scratch, name: &str, args: &[String]) -> TestClient {
        let log = scratch.path(&format!("{name}.log"));
        let mut all = vec![
            "--log=7".to_string(),
            format!("--logfile={}", log.display()),
        ];
        all.extend_from_slice(args);
        eprintln!("$ TestClient {}", all.join(" "));
        // Its rpath is relative: run it from its folder.
        let child = Command::new(dir.join("TestClient/TestClient"))
            .current_dir(dir.join("TestClient"))
            .env("LD_LIBRARY_PATH", dir.join("lib"))
            .args(&all)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn TestClient");
        TestClient { child, log }
    }

    fn log(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.log).unwrap_or_default()).into_owned()
    }

    /// The peer ID it prints after `Peer ID :` once connected.
    fn peer_id(&self) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let log = self.log();
            if let Some(at) = log.find("Peer ID :") {
                let id: String = log[at + 9..]
                    .chars()
                    .skip_while(|c| !c.is_ascii_hexdigit())
                    .take_while(|c| c.is_ascii_hexdigit())
                    .collect();
                if id.len() == 64 {
                    return id;
                }
            }
            assert!(Instant::now() < deadline, "no peer ID; log:\n{log}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits (bounded) for it to exit by itself, as a publisher does at
    /// the end of its file.
    fn wait_exit(&mut self) {
        assert!(
            exited(&mut self.child, WAIT),
            "TestClient still running; log:\n{}",
            self.log()
        );
    }
}

impl Drop for TestClient {
    fn drop(&mut self) {
        signal(&self.child, libc::SIGINT);
        if !exited(&mut self.child, Duration::from_secs(5)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A MonaServer2 on a loopback port with an app `live`, in a scratch
/// folder with our own ini; interrupted, then killed, on drop.
struct Mona {
    child: Child,
    port: u16,
    _scratch: Scratch,
}

impl Mona {
    fn start(dir: &Path) -> Mona {
        let scratch = Scratch::new("mona");
        let port = free_port();
        std::fs::create_dir_all(scratch.path("www/live")).unwrap();
        let ini = format!(
            "cores=0\nwwwDir=\"www\"\ndataDir=\"data\"\n\
             [logs]\ndirectory=log\n\
             [RTMFP]\nhost=127.0.0.1\nport={port}\npublicHost=127.0.0.1\npublicPort={port}\nkeepalivePeer=10\n\
             [RTMP=false]\n[RTMPS=false]\n[HTTP=false]\n[HTTPS=false]\n[WS=false]\n[WSS=false]\n\
             [STUN=false]\n[SRT=false]\n"
        );
        let ini_path = scratch.path("MonaServer.ini");
        std::fs::write(&ini_path, ini).unwrap();
        let libs = format!(
            "{}:{}",
            dir.join("MonaBase/lib").display(),
            dir.join("MonaCore/lib").display()
        );
        eprintln!(
            "$ MonaServer {} (RTMFP on 127.0.0.1:{port})",
            ini_path.display()
        );
        let child = Command::new(dir.join("MonaServer/MonaServer"))
            .arg(&ini_path)
            .current_dir(&scratch.0)
            .env("LD_LIBRARY_PATH", libs)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn MonaServer");
        let mona = Mona {
            child,
            port,
            _scratch: scratch,
        };
        let started = format!("RTMFP server started on 127.0.0.1:{port}");
        let deadline = Instant::now() + WAIT;
        while !mona.log().contains(&started) {
            assert!(
                Instant::now() < deadline,
                "MonaServer did not start:\n{}",
                mona.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        mona
    }

    fn log(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(self._scratch.path("log/0.log")).unwrap_or_default())
            .into_owned()
    }
}

impl Drop for Mona {
    fn drop(&mut self) {
        signal(&self.child, libc::SIGINT);
        if !exited(&mut self.child, Duration::from_secs(5)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// How many of the source's audio and video payloads arrived, matched in
/// order: ((audio found, audio sent), (video found, video sent)).
type Coverage = ((usize, usize), (usize, usize));

fn coverage(source: &[u8], got: &[u8]) -> Coverage {
    let tags = |file: &[u8], ty: u8| -> Vec<Vec<u8>> {
        let Ok(reader) = SliceReader::new(file) else {
            return Vec::new();
        };
        reader
            .map_while(Result::ok)
            .filter(|t| t.tag_type == ty)
            .map(|t| t.data.to_vec())
            .collect()
    };
    let found = |ty: u8| {
        let want = tags(source, ty);
        let have = tags(got, ty);
        let mut it = have.iter();
        let n = want.iter().filter(|w| it.any(|h| h == *w)).count();
        (n, want.len())
    };
    (found(8), found(9))
}

fn complete(c: Coverage) -> bool {
    let ((a, at), (v, vt)) = c;
    a == at && v == vt && at > 0 && vt > 0
}

/// What a TestClient player wrote to `out`, once the publisher is done:
/// it never exits by itself and flushes its file only when it closes, so
/// give the last packets a moment, then interrupt it.
fn played_by(player: TestClient, source: &[u8], out: &Path) -> Coverage {
    std::thread::sleep(Duration::from_secs(2));
    let log = player.log.clone();
    drop(player);
    let c = coverage(source, &std::fs::read(out).unwrap_or_default());
    if !complete(c) {
        let log = std::fs::read(&log).unwrap_or_default();
        eprintln!(
            "TestClient player's log:\n{}",
            String::from_utf8_lossy(&log)
        );
    }
    c
}

fn assert_all(what: &str, c: Coverage) {
    let ((a, at), (v, vt)) = c;
    eprintln!("{what}: audio {a}/{at}, video {v}/{vt}");
    assert!(complete(c), "{what}: audio {a}/{at}, video {v}/{vt}");
}

/// An AVC sequence header tag body: key frame, AVCPacketType 0, and an
/// AVCDecoderConfigurationRecord (Baseline 3.0) with one SPS and one PPS.
const AVC_SEQUENCE_HEADER: &[u8] = &[
    0x17, 0x00, 0, 0, 0, // key frame, AVC, sequence header, cts 0
    0x01, 0x42, 0xc0, 0x1e, 0xff,
    0xe1, // version, profile, compat, level, NALU length 4, 1 SPS
    0x00, 0x0a, 0x67, 0x42, 0xc0, 0x1e, 0xd9, 0x00, 0xa0, 0x47, 0xfe, 0xc8, // SPS
    0x01, 0x00, 0x04, 0x68, 0xce, 0x3c, 0x80, // 1 PPS
];
/// An AAC sequence header tag body: AAC, 44 kHz, 16-bit, stereo,
/// AACPacketType 0, AudioSpecificConfig AAC-LC 44.1 kHz stereo.
const AAC_SEQUENCE_HEADER: &[u8] = &[0xaf, 0x00, 0x12, 0x10];

/// The synthetic FLV with sequence headers in front of the media, as an
/// encoder writes them (Flash-era players, like FFmpeg, drop media until
/// they have seen them), written to `scratch`.
fn source(scratch: &Scratch) -> (Vec<u8>, PathBuf) {
    let plain = flv::synthetic(SECS * 1000, 25, 43);
    let reader = SliceReader::new(&plain).unwrap();
    let mut bytes = Vec::new();
    flv::write_header(&reader.header(), &mut bytes);
    for (i, tag) in reader.map(Result::unwrap).enumerate() {
        flv::write_tag(tag.tag_type, tag.timestamp, &tag.data, &mut bytes).unwrap();
        if i == 0 {
            flv::write_tag(flv::tag_type::VIDEO, 0, AVC_SEQUENCE_HEADER, &mut bytes).unwrap();
            flv::write_tag(flv::tag_type::AUDIO, 0, AAC_SEQUENCE_HEADER, &mut bytes).unwrap();
        }
    }
    let path = scratch.path("source.flv");
    std::fs::write(&path, &bytes).unwrap();
    (bytes, path)
}

fn lr_url(port: u16, stream: &str) -> String {
    format!("--url=rtmfp://127.0.0.1:{port}/live/{stream}")
}

/// Where a TestClient plays from or publishes to: through the server, or
/// directly (by peer ID for a player, DIRECT_CONNECTIONS for a publisher).
enum Via<'a> {
    Server,
    Direct(Option<&'a str>),
}

/// A TestClient playing `stream` of the server on `port` into `out`:
/// through the server, or directly from the peer `Direct(Some(id))`.
fn lr_player(
    lr: &Path,
    scratch: &Scratch,
    name: &str,
    (port, stream): (u16, &str),
    path: Via<'_>,
    out: &Path,
) -> TestClient {
    let mut args = vec![lr_url(port, stream)];
    if let Via::Direct(Some(id)) = path {
        args.push("--host=127.0.0.1".into());
        args.push(format!("--peerId={id}"));
    }
    args.push(format!("--mediaFile={}", out.display()));
    TestClient::spawn(lr, scratch, name, &args)
}

/// A TestClient publishing `src` as `stream` of the server on `port`:
/// through the server (`--write`), or directly (`--p2pWrite`).
fn lr_publisher(
    lr: &Path,
    scratch: &Scratch,
    name: &str,
    (port, stream): (u16, &str),
    path: Via<'_>,
    src: &Path,
) -> TestClient {
    let mut args = vec![lr_url(port, stream)];
    match path {
        Via::Server => args.push("--write".into()),
        Via::Direct(_) => {
            args.push("--host=127.0.0.1".into());
            args.push("--p2pWrite".into());
        }
    }
    args.push(format!("--mediaFile={}", src.display()));
    TestClient::spawn(lr, scratch, name, &args)
}

fn our_uri(port: u16, stream: &str) -> String {
    format!("rtmfp://127.0.0.1:{port}/live#{stream}")
}

/// Our `rtmfp play … --out FILE`: runs to its end and returns what it
/// printed.
fn our_play(args: &[&str]) -> String {
    let (code, out, err) = Proc::spawn(args).finish();
    eprintln!("{out}");
    assert_eq!(code, 0, "rtmfp {}:\n{out}\n{err}", args.join(" "));
    out
}

/// `rtmfp server` on an ephemeral port, stopped with its log checked:
/// every client it saw carried `media_in` media messages in.
fn stop_and_count_media(server: Server) -> Vec<u64> {
    let out = server.stop();
    out.lines()
        .filter(|l| l.starts_with("disconnect"))
        .filter_map(|l| {
            let at = l.rfind('(')?;
            l[at + 1..].split_whitespace().next()?.parse().ok()
        })
        .collect()
}

#[test]
fn librtmfp_publishes_and_plays_through_our_server() {
    let Some(lr) = librtmfp() else { return };
    let scratch = Scratch::new("lr-server");
    let (src, src_path) = source(&scratch);
    let server = Server::start(&[]);
    let at = (server.port, "s");
    let out = scratch.path("played.flv");
    let player = lr_player(&lr, &scratch, "player", at, Via::Server, &out);
    std::thread::sleep(Duration::from_millis(500));
    let mut publisher = lr_publisher(&lr, &scratch, "publisher", at, Via::Server, &src_path);
    publisher.wait_exit();
    assert_all(
        "librtmfp -> our server -> librtmfp",
        played_by(player, &src, &out),
    );
}

#[test]
fn librtmfp_peers_introduced_by_our_server_stream_directly() {
    let Some(lr) = librtmfp() else { return };
    let scratch = Scratch::new("lr-p2p");
    let (src, src_path) = source(&scratch);
    let server = Server::start(&[]);
    let at = (server.port, "s");
    let mut publisher = lr_publisher(&lr, &scratch, "publisher", at, Via::Direct(None), &src_path);
    let id = publisher.peer_id();
    let out = scratch.path("played.flv");
    let player = lr_player(&lr, &scratch, "player", at, Via::Direct(Some(&id)), &out);
    publisher.wait_exit();
    assert_all(
        "librtmfp -> librtmfp, introduced by our server",
        played_by(player, &src, &out),
    );
    let media = stop_and_count_media(server);
    assert_eq!(media, vec![0, 0], "the server carried no media");
}

#[test]
fn librtmfp_plays_our_publisher_through_our_server_and_directly() {
    let Some(lr) = librtmfp() else { return };
    let scratch = Scratch::new("lr-plays-us");
    let (src, src_path) = source(&scratch);
    let src_arg = src_path.to_str().unwrap();
    let server = Server::start(&[]);
    let at = (server.port, "s");
    let uri = our_uri(server.port, "s");

    // Through the server.
    let out = scratch.path("via-server.flv");
    let player = lr_player(&lr, &scratch, "player1", at, Via::Server, &out);
    std::thread::sleep(Duration::from_millis(500));
    let (code, text, err) = Proc::spawn(&["publish", &uri, src_arg]).finish();
    assert_eq!(code, 0, "{text}\n{err}");
    assert_all(
        "our publisher -> our server -> librtmfp",
        played_by(player, &src, &out),
    );

    // Directly, by peer ID.
    let mut publisher = Proc::spawn(&["publish", &uri, src_arg, "--direct"]);
    let id = publisher.wait_line("peer ID ");
    let out = scratch.path("direct.flv");
    let player = lr_player(&lr, &scratch, "player2", at, Via::Direct(Some(&id)), &out);
    let (code, text, err) = publisher.finish();
    assert_eq!(code, 0, "{text}\n{err}");
    assert_all(
        "our direct publisher -> librtmfp",
        played_by(player, &src, &out),
    );
}

#[test]
fn we_play_librtmfp_publishers_through_our_server_and_directly() {
    let Some(lr) = librtmfp() else { return };
    let scratch = Scratch::new("we-play-lr");
    let (src, src_path) = source(&scratch);
    let server = Server::start(&[]);
    let at = (server.port, "s");
    let uri = our_uri(server.port, "s");

    // Through the server.
    let out = scratch.path("via-server.flv");
    let out_arg = out.to_str().unwrap().to_string();
    let player = Proc::spawn(&["play", &uri, "--out", &out_arg]);
    std::thread::sleep(Duration::from_millis(500));
    let mut publisher = lr_publisher(&lr, &scratch, "publisher1", at, Via::Server, &src_path);
    publisher.wait_exit();
    let (code, text, err) = player.finish();
    assert_eq!(code, 0, "{text}\n{err}");
    assert_all(
        "librtmfp -> our server -> our player",
        coverage(&src, &std::fs::read(&out).unwrap()),
    );

    // Directly, by peer ID.
    let publisher = lr_publisher(
        &lr,
        &scratch,
        "publisher2",
        at,
        Via::Direct(None),
        &src_path,
    );
    let id = publisher.peer_id();
    let out = scratch.path("direct.flv");
    let out_arg = out.to_str().unwrap().to_string();
    our_play(&["play", &uri, "--peer", &id, "--out", &out_arg]);
    assert_all(
        "librtmfp direct publisher -> our player",
        coverage(&src, &std::fs::read(&out).unwrap()),
    );
}

#[test]
fn we_publish_and_play_through_monaserver() {
    let Some(mona_dir) = monaserver() else { return };
    let scratch = Scratch::new("via-mona");
    let (src, src_path) = source(&scratch);
    let mona = Mona::start(&mona_dir);
    let uri = our_uri(mona.port, "s");
    let out = scratch.path("played.flv");
    let out_arg = out.to_str().unwrap().to_string();
    let player = Proc::spawn(&["play", &uri, "--out", &out_arg]);
    std::thread::sleep(Duration::from_millis(500));
    let (code, text, err) = Proc::spawn(&["publish", &uri, src_path.to_str().unwrap()]).finish();
    assert_eq!(code, 0, "{text}\n{err}");
    let (code, text, err) = player.finish();
    assert_eq!(code, 0, "{text}\n{err}");
    assert_all(
        "our publisher -> MonaServer -> our player",
        coverage(&src, &std::fs::read(&out).unwrap()),
    );
}

#[test]
fn monaserver_introduces_us_and_librtmfp_both_ways() {
    let (Some(mona_dir), Some(lr)) = (monaserver(), librtmfp()) else {
        return;
    };
    let scratch = Scratch::new("mona-p2p");
    let (src, src_path) = source(&scratch);
    let src_arg = src_path.to_str().unwrap();
    let mona = Mona::start(&mona_dir);

    // Our DIRECT_CONNECTIONS publisher, played by librtmfp.
    let uri = our_uri(mona.port, "s");
    let mut publisher = Proc::spawn(&["publish", &uri, src_arg, "--direct"]);
    let id = publisher.wait_line("peer ID ");
    let out = scratch.path("lr-played.flv");
    let at = (mona.port, "s");
    let player = lr_player(&lr, &scratch, "player", at, Via::Direct(Some(&id)), &out);
    let (code, text, err) = publisher.finish();
    assert_eq!(code, 0, "{text}\n{err}");
    assert_all(
        "our direct publisher -> librtmfp, via MonaServer",
        played_by(player, &src, &out),
    );

    // librtmfp's direct publisher, played by us.
    let at = (mona.port, "t");
    let publisher = lr_publisher(&lr, &scratch, "publisher", at, Via::Direct(None), &src_path);
    let id = publisher.peer_id();
    let out = scratch.path("we-played.flv");
    let out_arg = out.to_str().unwrap().to_string();
    our_play(&[
        "play",
        &our_uri(mona.port, "t"),
        "--peer",
        &id,
        "--out",
        &out_arg,
    ]);
    assert_all(
        "librtmfp direct publisher -> our player, via MonaServer",
        coverage(&src, &std::fs::read(&out).unwrap()),
    );
}
