//! RFC 7425 §5 over real UDP on loopback: a rendezvous server runtime, a
//! publisher NetConnection and a player NetConnection, each with its own
//! I/O thread, sockets and identity.

use rtmfp_core::flash::client::ClientEvent;
use rtmfp_core::flash::command::code;
use rtmfp_core::flash::flv::{self, SliceReader, Tag};
use rtmfp_core::flash::{NetConnection, NetConnectionConfig, StreamId};
use rtmfp_core::rendezvous::{Hooks, KeySet, ServerConfig, ServerEvent, ServerHandle};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(20);

fn loopback() -> Vec<SocketAddr> {
    vec!["127.0.0.1:0".parse().unwrap()]
}

fn server() -> ServerHandle {
    ServerHandle::start(
        &loopback(),
        ServerConfig {
            keys: KeySet::of(["LOOPKEY"]),
            ..ServerConfig::default()
        },
        Hooks::default(),
    )
    .expect("server starts")
}

fn uri(server: &ServerHandle) -> String {
    format!(
        "rtmfp://127.0.0.1:{}/app/LOOPKEY",
        server.local_addrs()[0].port()
    )
}

fn connect(server: &ServerHandle) -> NetConnection {
    let nc = NetConnection::connect(
        &uri(server),
        NetConnectionConfig {
            bind: loopback(),
            ..NetConnectionConfig::default()
        },
    )
    .expect("connect starts");
    let (stream, info) = nc.next_status_timeout(WAIT).expect("a connect status");
    assert_eq!(stream, None);
    assert_eq!(info.code, code::CONNECT_SUCCESS, "{info:?}");
    nc
}

/// Waits for a status `code` on `stream`, keeping every event seen.
fn wait_status(nc: &NetConnection, stream: StreamId, code: &str, seen: &mut Vec<ClientEvent>) {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let e = nc
            .next_event_timeout(left)
            .unwrap_or_else(|| panic!("no {code} within {WAIT:?}; seen {seen:#?}"));
        let hit = matches!(&e, ClientEvent::Status { stream: Some(s), info } if *s == stream && info.code == code);
        seen.push(e);
        if hit {
            return;
        }
    }
}

fn tags(duration_ms: u32) -> (Vec<Tag<'static>>, usize, usize) {
    let file = flv::synthetic(duration_ms, 25, 20);
    let tags: Vec<Tag<'static>> = SliceReader::new(&file)
        .unwrap()
        .map(|t| t.unwrap().into_owned())
        .collect();
    let (video, audio) = flv::synthetic_tag_counts(duration_ms, 25, 20);
    (tags, video, audio)
}

/// Collects media on `stream` until `want` audio+video messages arrived.
fn collect_media(
    nc: &NetConnection,
    stream: StreamId,
    want: usize,
    seen: &mut Vec<ClientEvent>,
) -> Vec<(u8, u32, Vec<u8>)> {
    let mut media: Vec<(u8, u32, Vec<u8>)> = seen
        .iter()
        .filter_map(|e| match e {
            ClientEvent::Media {
                stream: s,
                message_type,
                timestamp,
                payload,
            } if *s == stream => Some((*message_type, *timestamp, payload.clone())),
            _ => None,
        })
        .collect();
    let deadline = Instant::now() + WAIT;
    while media.iter().filter(|m| m.0 == 8 || m.0 == 9).count() < want {
        let left = deadline.saturating_duration_since(Instant::now());
        match nc.next_event_timeout(left) {
            Some(ClientEvent::Media {
                stream: s,
                message_type,
                timestamp,
                payload,
            }) if s == stream => media.push((message_type, timestamp, payload)),
            Some(other) => seen.push(other),
            None => break,
        }
    }
    media
}

fn compare(tags: &[Tag<'static>], media: &[(u8, u32, Vec<u8>)], video: usize, audio: usize) {
    for (kind, count) in [(9u8, video), (8u8, audio)] {
        let sent: Vec<(u32, &[u8])> = tags
            .iter()
            .filter(|t| t.tag_type == kind)
            .map(|t| (t.timestamp, &t.data[..]))
            .collect();
        let got: Vec<(u32, &[u8])> = media
            .iter()
            .filter(|m| m.0 == kind)
            .map(|m| (m.1, &m.2[..]))
            .collect();
        assert_eq!(sent.len(), count);
        assert_eq!(got.len(), count, "type {kind}: every tag arrives");
        assert!(got == sent, "type {kind}: the same bytes, in order");
    }
    let sent_bytes: usize = tags
        .iter()
        .filter(|t| t.tag_type != 18)
        .map(|t| t.data.len())
        .sum();
    let got_bytes: usize = media.iter().filter(|m| m.0 != 18).map(|m| m.2.len()).sum();
    assert_eq!(got_bytes, sent_bytes);
    eprintln!("{video} video + {audio} audio tags, {got_bytes} bytes: all arrived, byte for byte");
}

#[test]
fn a_player_plays_a_direct_flv_stream_by_peer_id_over_loopback() {
    let server = server();
    let publisher = connect(&server);
    let player = connect(&server);
    assert_eq!(publisher.near_id_hex().len(), 64);
    assert_ne!(publisher.near_id_hex(), player.near_id_hex());
    assert_eq!(
        publisher.far_id_hex().unwrap().as_deref(),
        Some(server.fingerprint_hex().as_str())
    );
    let (near, far) = publisher.nonces_hex().unwrap().expect("nonces");
    assert_eq!((near.len(), far.len()), (64, 64));

    let cam = publisher.create_direct_stream().unwrap();
    cam.publish("movie").unwrap();
    let mut pub_seen = Vec::new();
    wait_status(&publisher, cam.id(), code::PUBLISH_START, &mut pub_seen);

    let play = player.create_peer_stream(&publisher.near_id_hex()).unwrap();
    play.play("movie").unwrap();
    let mut seen = Vec::new();
    wait_status(&player, play.id(), code::PLAY_START, &mut seen);
    assert_eq!(cam.peer_streams().unwrap().len(), 1);
    assert_eq!(publisher.unconnected_peer_streams().unwrap().len(), 1);

    let (tags, video, audio) = tags(4000);
    for tag in &tags {
        assert_eq!(cam.send_tag(tag).unwrap(), 1, "one subscriber");
        std::thread::sleep(Duration::from_millis(2));
    }
    let media = collect_media(&player, play.id(), video + audio, &mut seen);
    compare(&tags, &media, video, audio);
    assert!(publisher.unconnected_peer_streams().unwrap().is_empty());
    assert_eq!(
        cam.peer_streams().unwrap()[0].media_sent,
        (video + audio) as u64
    );

    // The server introduced them and carried no media.
    let stats = server.stats().unwrap();
    assert_eq!(stats.media_in, 0);
    assert_eq!(stats.relayed, 0);
    assert!(stats.introductions >= 1);
    let sessions = server.sessions().unwrap();
    assert_eq!(sessions.len(), 2);
    assert!(sessions.iter().all(|s| s.connected));
    let mut introduced = false;
    while let Some(e) = server.try_next_event() {
        introduced |=
            matches!(e, ServerEvent::Introduced { target, .. } if target == publisher.near_id());
    }
    assert!(introduced);

    player.close(Duration::from_secs(2));
    publisher.close(Duration::from_secs(2));
    server.shutdown(Duration::from_secs(2));
}

#[test]
fn publish_and_play_through_the_server_over_loopback() {
    let server = server();
    let publisher = connect(&server);
    let player = connect(&server);
    let play = player.create_stream().unwrap();
    play.play("relay").unwrap();
    let mut seen = Vec::new();
    wait_status(&player, play.id(), code::PLAY_START, &mut seen);
    let live = publisher.create_stream().unwrap();
    live.publish("relay").unwrap();
    let mut pub_seen = Vec::new();
    wait_status(&publisher, live.id(), code::PUBLISH_START, &mut pub_seen);
    wait_status(&player, play.id(), code::PLAY_PUBLISH_NOTIFY, &mut seen);

    let (tags, video, audio) = tags(3000);
    for tag in &tags {
        live.send_tag(tag).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    let media = collect_media(&player, play.id(), video + audio, &mut seen);
    compare(&tags, &media, video, audio);
    let streams = server.streams().unwrap();
    assert_eq!(streams.len(), 1);
    assert_eq!(streams[0].players, 1);
    let stats = server.stats().unwrap();
    assert_eq!(stats.media_in, (video + audio) as u64);

    player.close(Duration::from_secs(2));
    publisher.close(Duration::from_secs(2));
    server.shutdown(Duration::from_secs(2));
}

#[test]
fn a_wrong_key_is_rejected_over_loopback() {
    let server = server();
    let port = server.local_addrs()[0].port();
    let nc = NetConnection::connect(
        &format!("rtmfp://127.0.0.1:{port}/app/WRONG"),
        NetConnectionConfig {
            bind: loopback(),
            ..NetConnectionConfig::default()
        },
    )
    .unwrap();
    let (_, info) = nc.next_status_timeout(WAIT).expect("a status");
    assert_eq!(info.code, code::CONNECT_REJECTED);
    assert_eq!(info.level, "error");
    nc.close(Duration::from_secs(1));
    server.shutdown(Duration::from_secs(1));
}

/// Ask mode on a running server: the verdict comes from another thread
/// through `ServerHandle`, as the adapters give it.
#[test]
fn a_connect_waits_for_a_verdict_from_another_thread() {
    use rtmfp_core::rendezvous::{AskError, AskRequest, Asks};
    let server = ServerHandle::start(
        &loopback(),
        ServerConfig {
            keys: KeySet::of(["LOOPKEY"]),
            ..ServerConfig::default()
        },
        Hooks {
            asks: Asks {
                connect: true,
                ..Asks::default()
            },
            ..Hooks::default()
        },
    )
    .expect("server starts");
    let server = std::sync::Arc::new(server);
    // The application: refuses the first client, accepts the second.
    let app = {
        let server = server.clone();
        std::thread::spawn(move || {
            let mut verdicts = 0;
            while verdicts < 2 {
                let Some(e) = server.next_event_timeout(WAIT) else {
                    panic!("no ask");
                };
                if let ServerEvent::Asked { id, request } = e {
                    assert!(
                        matches!(request, AskRequest::Connect(ref r) if r.app == "app/LOOPKEY")
                    );
                    let verdict = if verdicts == 0 {
                        server.reject(id, "not today")
                    } else {
                        server.accept(id)
                    };
                    assert_eq!(verdict, Ok(()));
                    assert_eq!(
                        server.accept(id),
                        Err(AskError::Ended(rtmfp_core::rendezvous::AskEnd::Answered))
                    );
                    verdicts += 1;
                }
            }
        })
    };
    let config = || NetConnectionConfig {
        bind: loopback(),
        ..NetConnectionConfig::default()
    };
    let refused = NetConnection::connect(&uri(&server), config()).expect("connect starts");
    let (_, info) = refused.next_status_timeout(WAIT).expect("a connect status");
    assert_eq!(
        (info.code.as_str(), info.description.as_str()),
        (code::CONNECT_REJECTED, "not today")
    );
    let accepted = NetConnection::connect(&uri(&server), config()).expect("connect starts");
    let (_, info) = accepted
        .next_status_timeout(WAIT)
        .expect("a connect status");
    assert_eq!(info.code, code::CONNECT_SUCCESS);
    app.join().expect("the application thread");
    assert!(server.close(Duration::from_secs(1)).is_some());
    assert_eq!(server.accept(1), Err(AskError::Stopped));
}
