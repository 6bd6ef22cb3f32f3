//! Flash-level interop (RFC 7425 §5) with an independent implementation:
//! zenomt's rtmfp-cpp `tcserver`, `tcconn` and `tcpublish`, with their
//! default settings (HMAC and session sequence numbers required).
//!
//! - our NetConnection against its server: connect, publish to it while
//!   its player plays, play from it while its publisher publishes, and a
//!   peer-to-peer stream between two of our peers introduced by it;
//! - its publisher and player against our rendezvous server.
//!
//! The programs are looked up in `$RTMFP_CPP_DIR` (rtmfp-cpp's `test/`
//! directory), then on `PATH`; `stdbuf` must be on `PATH`.  Without them
//! each test prints why and passes.
//!
//! Run: `RTMFP_CPP_DIR=/path/to/rtmfp-cpp/test cargo test -p rtmfp-core
//! --test flash_interop -- --nocapture --test-threads=1`

use rtmfp_core::flash::client::ClientEvent;
use rtmfp_core::flash::command::code;
use rtmfp_core::flash::flv::{self, SliceReader, Tag};
use rtmfp_core::flash::peer_id::to_hex;
use rtmfp_core::flash::{NetConnection, NetConnectionConfig, StreamId};
use rtmfp_core::rendezvous::{Hooks, ServerConfig, ServerHandle};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(20);

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

/// The programs plus `stdbuf`, or `None` after printing why.
fn programs(names: &[&str]) -> Option<(PathBuf, Vec<PathBuf>)> {
    let stdbuf = match program("stdbuf") {
        Ok(p) => p,
        Err(why) => {
            eprintln!("SKIP flash interop: {why}");
            return None;
        }
    };
    let mut found = Vec::new();
    for name in names {
        match program(name) {
            Ok(p) => found.push(p),
            Err(why) => {
                eprintln!("SKIP flash interop: {why}");
                return None;
            }
        }
    }
    Some((stdbuf, found))
}

/// A child process, killed on drop, whose output lines are collected.
struct Peer {
    name: String,
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Peer {
    fn spawn(stdbuf: &PathBuf, program: &PathBuf, args: &[String]) -> Peer {
        let name = program.file_name().unwrap().to_string_lossy().into_owned();
        eprintln!("$ {} {}", name, args.join(" "));
        let mut child = Command::new(stdbuf)
            .args(["-oL", "-eL"])
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

    fn count(&self, needle: &str) -> usize {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(needle))
            .count()
    }

    /// Lines containing `needle`.
    fn matching(&self, needle: &str) -> Vec<String> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(needle))
            .cloned()
            .collect()
    }

    /// Waits (bounded) until `pred` holds over the output.
    fn wait_for(&self, what: &str, pred: impl Fn(&[String]) -> bool) {
        let deadline = Instant::now() + WAIT;
        while !pred(&self.lines.lock().unwrap()) {
            if Instant::now() >= deadline {
                self.print_output();
                panic!("{}: no {what} within {WAIT:?}", self.name);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn wait_line(&self, needle: &str) -> String {
        self.wait_for(needle, |lines| lines.iter().any(|l| l.contains(needle)));
        self.matching(needle).remove(0)
    }

    fn print_output(&self) {
        for l in self.lines.lock().unwrap().iter() {
            eprintln!("  [{}] {l}", self.name);
        }
    }

    /// Stops it with SIGINT and waits for it to exit.
    fn interrupt(&mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
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

fn loopback() -> Vec<SocketAddr> {
    vec!["127.0.0.1:0".parse().unwrap()]
}

fn connect(uri: &str) -> NetConnection {
    let nc = NetConnection::connect(
        uri,
        NetConnectionConfig {
            bind: loopback(),
            ..NetConnectionConfig::default()
        },
    )
    .expect("connect starts");
    let (_, info) = nc.next_status_timeout(WAIT).expect("a connect status");
    assert_eq!(info.code, code::CONNECT_SUCCESS, "{info:?}");
    eprintln!("our client: {} ({})", info.code, info.description);
    nc
}

fn wait_status(nc: &NetConnection, stream: StreamId, code: &str, seen: &mut Vec<ClientEvent>) {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let e = nc
            .next_event_timeout(left)
            .unwrap_or_else(|| panic!("no {code} within {WAIT:?}; seen {seen:#?}"));
        let hit = matches!(&e, ClientEvent::Status { stream: Some(s), info } if *s == stream && info.code == code);
        if let ClientEvent::Status { info, .. } = &e {
            eprintln!("our client: status {} ({})", info.code, info.description);
        }
        seen.push(e);
        if hit {
            return;
        }
    }
}

/// A synthetic FLV: the file, its tags and its (video, audio) counts.
fn flv_file(duration_ms: u32) -> (Vec<u8>, Vec<Tag<'static>>, usize, usize) {
    let file = flv::synthetic(duration_ms, 25, 20);
    let tags = SliceReader::new(&file)
        .unwrap()
        .map(|t| t.unwrap().into_owned())
        .collect();
    let (video, audio) = flv::synthetic_tag_counts(duration_ms, 25, 20);
    (file, tags, video, audio)
}

/// Media messages of `stream` among `seen` plus what arrives until
/// `want` audio+video messages are in or `idle` passes without one.
fn collect_media(
    nc: &NetConnection,
    stream: StreamId,
    want: usize,
    idle: Duration,
    seen: &mut Vec<ClientEvent>,
) -> Vec<(u8, u32, Vec<u8>)> {
    let take = |e: &ClientEvent| match e {
        ClientEvent::Media {
            stream: s,
            message_type,
            timestamp,
            payload,
        } if *s == stream => Some((*message_type, *timestamp, payload.clone())),
        _ => None,
    };
    let mut media: Vec<_> = seen.iter().filter_map(take).collect();
    let av = |m: &Vec<(u8, u32, Vec<u8>)>| m.iter().filter(|m| m.0 == 8 || m.0 == 9).count();
    while av(&media) < want {
        match nc.next_event_timeout(idle) {
            Some(e) => match take(&e) {
                Some(m) => media.push(m),
                None => seen.push(e),
            },
            None => break,
        }
    }
    media
}

/// Media of `stream` until every audio and video tag of `tags` (type,
/// timestamp and bytes) has arrived, or `idle` passes without a message.
/// Other messages (a looping publisher's next pass) are ignored.
fn collect_tags(
    nc: &NetConnection,
    stream: StreamId,
    tags: &[Tag<'static>],
    idle: Duration,
    seen: &mut Vec<ClientEvent>,
) -> Vec<(u8, u32, Vec<u8>)> {
    let wanted: Vec<(u8, u32, Vec<u8>)> = tags
        .iter()
        .filter(|t| t.tag_type != 18)
        .map(|t| (t.tag_type, t.timestamp, t.data.to_vec()))
        .collect();
    let mut got: Vec<(u8, u32, Vec<u8>)> = Vec::new();
    let consider = |m: (u8, u32, Vec<u8>), got: &mut Vec<(u8, u32, Vec<u8>)>| {
        if wanted.contains(&m) && !got.contains(&m) {
            got.push(m);
        }
    };
    for e in seen.iter() {
        if let ClientEvent::Media {
            stream: s,
            message_type,
            timestamp,
            payload,
        } = e
        {
            if *s == stream {
                consider((*message_type, *timestamp, payload.clone()), &mut got);
            }
        }
    }
    while got.len() < wanted.len() {
        match nc.next_event_timeout(idle) {
            Some(ClientEvent::Media {
                stream: s,
                message_type,
                timestamp,
                payload,
            }) if s == stream => consider((message_type, timestamp, payload), &mut got),
            Some(e) => seen.push(e),
            None => break,
        }
    }
    got
}

/// How many of the file's audio and video tags a player's log shows
/// (`stream onVideo ts: T len: L` lines, matched by type, timestamp and
/// length; a looping publisher's later passes are ignored), and their
/// bytes.
fn logged_tags(player: &Peer, tags: &[Tag<'static>]) -> (usize, usize, usize) {
    let lines = player.lines.lock().unwrap().clone();
    let mut logged: Vec<(u8, u32, usize)> = lines
        .iter()
        .filter_map(|l| {
            let kind = if l.contains("stream onVideo") {
                9
            } else if l.contains("stream onAudio") {
                8
            } else {
                return None;
            };
            let ts = l
                .split("ts: ")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()?;
            let len = l.split("len: ").nth(1)?.trim().parse().ok()?;
            Some((kind, ts, len))
        })
        .collect();
    let (mut v, mut a, mut bytes) = (0, 0, 0);
    for t in tags.iter().filter(|t| t.tag_type != 18) {
        let key = (t.tag_type, t.timestamp, t.data.len());
        if let Some(i) = logged.iter().position(|l| *l == key) {
            logged.remove(i);
            bytes += key.2;
            if key.0 == 9 {
                v += 1;
            } else {
                a += 1;
            }
        }
    }
    (v, a, bytes)
}

/// Prints the tags of `tags` that are not in `media` (type, timestamp).
fn report_missing(tags: &[Tag<'static>], media: &[(u8, u32, Vec<u8>)]) {
    let missing: Vec<(u8, u32, usize)> = tags
        .iter()
        .filter(|t| t.tag_type != 18)
        .filter(|t| {
            !media
                .iter()
                .any(|m| m.0 == t.tag_type && m.1 == t.timestamp && m.2 == *t.data)
        })
        .map(|t| (t.tag_type, t.timestamp, t.data.len()))
        .collect();
    if !missing.is_empty() {
        eprintln!("missing (type, timestamp, len): {missing:?}");
    }
}

fn counts(media: &[(u8, u32, Vec<u8>)]) -> (usize, usize, usize) {
    let v = media.iter().filter(|m| m.0 == 9).count();
    let a = media.iter().filter(|m| m.0 == 8).count();
    let bytes = media
        .iter()
        .filter(|m| m.0 == 8 || m.0 == 9)
        .map(|m| m.2.len())
        .sum();
    (v, a, bytes)
}

fn av_bytes(tags: &[Tag<'static>]) -> usize {
    tags.iter()
        .filter(|t| t.tag_type != 18)
        .map(|t| t.data.len())
        .sum()
}

/// Starts `tcserver` on a free port; returns it, the port and its
/// fingerprint.
fn tcserver(stdbuf: &PathBuf, path: &PathBuf) -> (Peer, u16, String) {
    let port = free_port();
    let server = Peer::spawn(stdbuf, path, &["-B".into(), format!("127.0.0.1:{port}")]);
    let line = server.wait_line("\"fingerprint\"");
    let fp = line
        .split("\"fingerprint\":\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(fp.len(), 64, "{line}");
    // tcserver names its fingerprint before it binds: connecting then
    // meets ICMP port unreachable, which ends a connect at once.  Its
    // "run" line comes after the socket is bound.
    server.wait_line("\"@type\":\"run\"");
    (server, port, fp)
}

#[test]
fn our_client_connects_to_its_server() {
    let Some((stdbuf, p)) = programs(&["tcserver"]) else {
        return;
    };
    let (server, port, fp) = tcserver(&stdbuf, &p[0]);
    let nc = connect(&format!("rtmfp://127.0.0.1:{port}/app"));
    assert_eq!(nc.far_id_hex().unwrap().as_deref(), Some(fp.as_str()));
    // It logs our connect with our peer ID, and our setPeerInfo.
    server.wait_for("our peer ID", |l| {
        l.iter().any(|l| l.contains(&nc.near_id_hex()))
    });
    eprintln!("its log: {}", server.matching(&nc.near_id_hex())[0]);
    nc.close(Duration::from_secs(2));
}

#[test]
fn our_publisher_to_its_server_is_played_by_its_player() {
    let Some((stdbuf, p)) = programs(&["tcserver", "tcconn"]) else {
        return;
    };
    let (mut server, port, _) = tcserver(&stdbuf, &p[0]);
    let uri = format!("rtmfp://127.0.0.1:{port}/app");
    // Its player first, so that it sees every tag.
    let mut player = Peer::spawn(&stdbuf, &p[1], &[format!("{uri}#ours")]);
    player.wait_line("stream onStatus");
    let nc = connect(&uri);
    let live = nc.create_stream().unwrap();
    live.publish("ours").unwrap();
    let mut seen = Vec::new();
    wait_status(&nc, live.id(), code::PUBLISH_START, &mut seen);
    let (_, tags, video, audio) = flv_file(3000);
    for tag in &tags {
        live.send_tag(tag).unwrap();
        std::thread::sleep(Duration::from_millis(5));
    }
    player.wait_for("every tag", |lines| {
        lines
            .iter()
            .filter(|l| l.contains("stream onVideo"))
            .count()
            >= video
            && lines
                .iter()
                .filter(|l| l.contains("stream onAudio"))
                .count()
                >= audio
    });
    std::thread::sleep(Duration::from_millis(300));
    let got_video = player.count("stream onVideo");
    let got_audio = player.count("stream onAudio");
    let bytes: usize = player
        .matching("len: ")
        .iter()
        .filter_map(|l| l.rsplit("len: ").next()?.trim().parse::<usize>().ok())
        .sum();
    eprintln!(
        "tcconn counted {got_video} video + {got_audio} audio tags, {bytes} bytes \
         (sent {video} + {audio}, {} bytes)",
        av_bytes(&tags)
    );
    assert_eq!((got_video, got_audio), (video, audio));
    assert_eq!(bytes, av_bytes(&tags));
    nc.close(Duration::from_secs(2));
    player.interrupt();
    server.interrupt();
}

#[test]
fn our_player_plays_its_publisher_through_its_server() {
    let Some((stdbuf, p)) = programs(&["tcserver", "tcpublish"]) else {
        return;
    };
    let (mut server, port, _) = tcserver(&stdbuf, &p[0]);
    let uri = format!("rtmfp://127.0.0.1:{port}/app");
    let nc = connect(&uri);
    let play = nc.create_stream().unwrap();
    play.play("theirs").unwrap();
    let mut seen = Vec::new();
    wait_status(&nc, play.id(), code::PLAY_START, &mut seen);
    let (file, tags, video, audio) = flv_file(3000);
    let dir = std::env::temp_dir().join(format!("rtmfp-interop-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("theirs.flv");
    std::fs::write(&path, &file).unwrap();
    // -L loops the file.  Without it tcpublish closes its connection right
    // after queueing the last tag, and that tag can go down with the
    // connection (its behaviour, through any server).  The first pass is
    // compared.
    let mut publisher = Peer::spawn(
        &stdbuf,
        &p[1],
        &[
            "-L".into(),
            format!("{uri}#theirs"),
            path.display().to_string(),
        ],
    );
    let media = collect_tags(&nc, play.id(), &tags, Duration::from_secs(8), &mut seen);
    let (v, a, bytes) = counts(&media);
    report_missing(&tags, &media);
    eprintln!(
        "our player got {v} video + {a} audio tags, {bytes} bytes from tcpublish \
         through tcserver (file has {video} + {audio}, {} bytes)",
        av_bytes(&tags)
    );
    publisher.interrupt();
    if (v, a) != (video, audio) {
        publisher.print_output();
    }
    assert_eq!((v, a), (video, audio));
    assert_eq!(bytes, av_bytes(&tags));
    nc.close(Duration::from_secs(2));
    server.interrupt();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn its_publisher_and_its_player_use_our_server() {
    let Some((stdbuf, p)) = programs(&["tcpublish", "tcconn"]) else {
        return;
    };
    let server = ServerHandle::start(&loopback(), ServerConfig::default(), Hooks::default())
        .expect("our server");
    let port = server.local_addrs()[0].port();
    let uri = format!("rtmfp://127.0.0.1:{port}/app");
    // Its player and ours wait for the stream.
    let mut player = Peer::spawn(&stdbuf, &p[1], &[format!("{uri}#movie")]);
    player.wait_line("stream onStatus");
    let nc = connect(&uri);
    let play = nc.create_stream().unwrap();
    play.play("movie").unwrap();
    let mut seen = Vec::new();
    wait_status(&nc, play.id(), code::PLAY_START, &mut seen);
    let (file, tags, video, audio) = flv_file(3000);
    let dir = std::env::temp_dir().join(format!("rtmfp-interop-srv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("movie.flv");
    std::fs::write(&path, &file).unwrap();
    // -L: see our_player_plays_its_publisher_through_its_server.
    let mut publisher = Peer::spawn(
        &stdbuf,
        &p[0],
        &[
            "-L".into(),
            format!("{uri}#movie"),
            path.display().to_string(),
        ],
    );
    let media = collect_tags(&nc, play.id(), &tags, Duration::from_secs(8), &mut seen);
    let (v, a, bytes) = counts(&media);
    report_missing(&tags, &media);
    eprintln!(
        "our player got {v} video + {a} audio tags, {bytes} bytes from tcpublish \
         through our server (file has {video} + {audio}, {} bytes)",
        av_bytes(&tags)
    );
    let deadline = Instant::now() + WAIT;
    let mut logged = logged_tags(&player, &tags);
    while logged.0 + logged.1 < video + audio && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        logged = logged_tags(&player, &tags);
    }
    let (tv, ta, tbytes) = logged;
    eprintln!("tcconn counted {tv} video + {ta} audio tags, {tbytes} bytes through our server");
    let streams = server.streams().unwrap();
    eprintln!(
        "our server: {} sessions, streams {:?}",
        server.sessions().unwrap().len(),
        streams
            .iter()
            .map(|s| (&s.name, s.players, s.messages, s.relayed))
            .collect::<Vec<_>>()
    );
    publisher.interrupt();
    if (v, a) != (video, audio) {
        publisher.print_output();
    }
    assert_eq!((v, a), (video, audio));
    assert_eq!(bytes, av_bytes(&tags));
    assert_eq!((tv, ta), (video, audio));
    assert_eq!(tbytes, av_bytes(&tags));
    assert_eq!(streams.len(), 1);
    assert_eq!(streams[0].players, 2);
    nc.close(Duration::from_secs(2));
    player.interrupt();
    server.shutdown(Duration::from_secs(2));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn its_server_introduces_our_peers_for_a_direct_stream() {
    let Some((stdbuf, p)) = programs(&["tcserver"]) else {
        return;
    };
    let (mut server, port, _) = tcserver(&stdbuf, &p[0]);
    let uri = format!("rtmfp://127.0.0.1:{port}/app");
    let publisher = connect(&uri);
    let player = connect(&uri);
    let cam = publisher.create_direct_stream().unwrap();
    cam.publish("p2p").unwrap();
    let play = player.create_peer_stream(&publisher.near_id_hex()).unwrap();
    play.play("p2p").unwrap();
    let mut seen = Vec::new();
    wait_status(&player, play.id(), code::PLAY_START, &mut seen);
    let (_, tags, video, audio) = flv_file(2000);
    for tag in &tags {
        assert_eq!(cam.send_tag(tag).unwrap(), 1);
        std::thread::sleep(Duration::from_millis(2));
    }
    let media = collect_media(
        &player,
        play.id(),
        video + audio,
        Duration::from_secs(5),
        &mut seen,
    );
    let (v, a, bytes) = counts(&media);
    report_missing(&tags, &media);
    eprintln!(
        "introduced by tcserver: our player got {v} video + {a} audio tags, {bytes} bytes directly from our publisher {}",
        to_hex(&publisher.near_id())
    );
    assert_eq!((v, a), (video, audio));
    assert_eq!(bytes, av_bytes(&tags));
    player.close(Duration::from_secs(2));
    publisher.close(Duration::from_secs(2));
    server.interrupt();
}

#[test]
fn our_server_introduces_our_peer_to_its_client() {
    let Some((stdbuf, p)) = programs(&["tcconn"]) else {
        return;
    };
    let server = ServerHandle::start(&loopback(), ServerConfig::default(), Hooks::default())
        .expect("our server");
    let port = server.local_addrs()[0].port();
    let uri = format!("rtmfp://127.0.0.1:{port}/app");
    // Its client connects to our server (and waits for a stream).
    let theirs = Peer::spawn(&stdbuf, &p[0], &[format!("{uri}#nothing")]);
    let fp = theirs
        .wait_line("my fingerprint:")
        .split_whitespace()
        .nth(2)
        .unwrap()
        .to_owned();
    theirs.wait_line("stream onStatus");
    // Ours asks for a session to its peer ID through our server: the
    // server redirects us and forwards our IHello to it.
    let nc = connect(&uri);
    let play = nc.create_peer_stream(&fp).unwrap();
    play.play("anything").unwrap();
    let mut seen = Vec::new();
    wait_status(&nc, play.id(), code::CONNECT_SUCCESS_STREAM, &mut seen);
    let stats = server.stats().unwrap();
    eprintln!(
        "our server introduced our client to tcconn {fp}: {} introduction(s); direct session open",
        stats.introductions
    );
    assert!(stats.introductions >= 1);
    let mut introduced = false;
    while let Some(e) = server.try_next_event() {
        if let rtmfp_core::rendezvous::ServerEvent::Introduced {
            target, addresses, ..
        } = e
        {
            eprintln!(
                "  Introduced {{ target: {}, addresses: {addresses:?} }}",
                to_hex(&target)
            );
            introduced |= to_hex(&target) == fp;
        }
    }
    assert!(introduced);
    nc.close(Duration::from_secs(2));
    server.shutdown(Duration::from_secs(2));
}
