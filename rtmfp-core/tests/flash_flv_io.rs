//! FLV bytes in and out of NetStreams over real UDP on loopback
//! (issue 16): a publisher writes an FLV byte stream split at odd places
//! with `NetStream::write_flv`, a player reads FLV bytes back with
//! `NetStream::read_flv`, through a rendezvous server.

use rtmfp_core::flash::client::ClientEvent;
use rtmfp_core::flash::command::code;
use rtmfp_core::flash::flv::{self, tag_type, SliceReader};
use rtmfp_core::flash::flv_io::FlvIoError;
use rtmfp_core::flash::{NetConnection, NetConnectionConfig, NetStream, StreamId};
use rtmfp_core::rendezvous::{Hooks, KeySet, ServerConfig, ServerHandle};
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
            keys: KeySet::of(["FLVKEY"]),
            ..ServerConfig::default()
        },
        Hooks::default(),
    )
    .expect("server starts")
}

fn connect(server: &ServerHandle) -> NetConnection {
    let uri = format!(
        "rtmfp://127.0.0.1:{}/app/FLVKEY",
        server.local_addrs()[0].port()
    );
    let config = NetConnectionConfig {
        bind: loopback(),
        ..NetConnectionConfig::default()
    };
    let nc = NetConnection::connect(&uri, config).expect("connect starts");
    let (stream, info) = nc.next_status_timeout(WAIT).expect("a connect status");
    assert_eq!((stream, info.code.as_str()), (None, code::CONNECT_SUCCESS));
    nc
}

fn wait_status(nc: &NetConnection, stream: StreamId, code: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let e = nc
            .next_event_timeout(left)
            .unwrap_or_else(|| panic!("no {code} within {WAIT:?}"));
        if let ClientEvent::Media { stream: s, .. } = &e {
            assert_ne!(*s, stream, "media of an FLV-read stream came as an event");
        }
        if matches!(&e, ClientEvent::Status { stream: Some(s), info } if *s == stream && info.code == code)
        {
            return;
        }
    }
}

/// (type, timestamp, size, checksum) of the audio and video tags of an
/// FLV stream.
fn media_tags(file: &[u8]) -> Vec<(u8, u32, usize, u64)> {
    SliceReader::new(file)
        .unwrap()
        .map(|t| t.unwrap())
        .filter(|t| matches!(t.tag_type, tag_type::AUDIO | tag_type::VIDEO))
        .map(|t| {
            let sum = t
                .data
                .iter()
                .fold(0u64, |h, &b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
            (t.tag_type, t.timestamp, t.data.len(), sum)
        })
        .collect()
}

fn same(got: &[(u8, u32, usize, u64)], want: &[(u8, u32, usize, u64)], what: &str) {
    if got != want {
        let first = got.iter().zip(want).position(|(a, b)| a != b);
        panic!(
            "{what}: {} tags, {} expected; first difference at {first:?}: {:?} / {:?}",
            got.len(),
            want.len(),
            first.map(|i| got[i]),
            first.map(|i| want[i])
        );
    }
}

fn read_to_end(ns: &NetStream) -> Vec<u8> {
    let deadline = Instant::now() + WAIT;
    let mut out = Vec::new();
    // An odd buffer size: reads end inside tags.
    let mut buf = vec![0u8; 1013];
    loop {
        assert!(Instant::now() < deadline, "no end within {WAIT:?}");
        match ns.read_flv_timeout(&mut buf, Some(Duration::from_millis(200))) {
            Ok(0) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(FlvIoError::WouldBlock) => {}
            Err(e) => panic!("read_flv: {e}"),
        }
    }
}

/// Pairs of (publisher, publishing stream, player, playing stream) through
/// `server`, the player reading FLV with `window_ms`.
fn pair(server: &ServerHandle, name: &str, window_ms: u32) -> [(NetConnection, NetStream); 2] {
    let publisher = connect(server);
    let player = connect(server);
    let play = player.create_stream().unwrap();
    play.start_flv_read(window_ms).unwrap();
    play.play(name).unwrap();
    wait_status(&player, play.id(), code::PLAY_START);
    let live = publisher.create_stream().unwrap();
    live.publish(name).unwrap();
    wait_status(&publisher, live.id(), code::PUBLISH_START);
    wait_status(&player, play.id(), code::PLAY_PUBLISH_NOTIFY);
    [(publisher, live), (player, play)]
}

#[test]
fn flv_bytes_split_anywhere_arrive_as_flv_bytes() {
    let server = server();
    for window in [0, 100] {
        let [(publisher, live), (player, play)] = pair(&server, &format!("w{window}"), window);
        let file = flv::synthetic(2000, 25, 43);
        // Pieces of odd sizes: a header in two writes, tags across many.
        let mut at = 0;
        let mut sizes = [5usize, 1, 7, 4096, 3, 999, 17].iter().cycle();
        while at < file.len() {
            let end = (at + sizes.next().unwrap()).min(file.len());
            let mut piece = &file[at..end];
            while !piece.is_empty() {
                let n = live.write_flv_timeout(piece, Some(WAIT)).unwrap();
                assert!(n > 0);
                piece = &piece[n..];
            }
            at = end;
        }
        live.flush_flv(Some(WAIT)).unwrap();
        assert_eq!(live.flv_queued(), 0);
        live.close().unwrap();
        let got = read_to_end(&play);
        assert_eq!(&got[..3], b"FLV");
        // Each type in order; between types, the order depends on how
        // the flows raced (everything was written at once).
        let mut want = media_tags(&file);
        let mut got = media_tags(&got);
        want.sort_by_key(|t| (t.0, t.1));
        got.sort_by_key(|t| (t.0, t.1));
        same(&got, &want, &format!("window {window}"));
        // A reader that ended stays ended.
        assert_eq!(play.read_flv(&mut [0u8; 8]).unwrap(), 0);
        player.close(Duration::from_secs(1));
        publisher.close(Duration::from_secs(1));
    }
    server.shutdown(Duration::from_secs(1));
}

#[test]
fn not_flv_is_an_error_that_loses_nothing_before_it() {
    let server = server();
    let [(publisher, live), (player, play)] = pair(&server, "bad", 0);
    let file = flv::synthetic(400, 25, 43);
    let mut stream = file.clone();
    stream.extend_from_slice(b"hello, not a tag");
    // One write: the good part is taken, the error comes next.
    let n = live.write_flv_timeout(&stream, Some(WAIT)).unwrap();
    assert!(n >= file.len() - 4 && n < stream.len(), "took {n}");
    let e = live.write_flv(&stream[n..]).unwrap_err();
    assert!(matches!(e, FlvIoError::NotFlv(_)), "{e:?}");
    assert!(e.to_string().contains("not FLV"), "{e}");
    // Sticky.
    assert!(matches!(live.write_flv(b"FLV"), Err(FlvIoError::NotFlv(_))));
    live.flush_flv(Some(WAIT)).unwrap();
    live.close().unwrap();
    let got = read_to_end(&play);
    let mut want = media_tags(&file);
    let mut got = media_tags(&got);
    want.sort_by_key(|t| (t.0, t.1));
    got.sort_by_key(|t| (t.0, t.1));
    same(&got, &want, "before the bad bytes");

    // Misuse: reading a stream not read as FLV; starting twice; writing
    // on a stream that does not publish.
    let other = player.create_stream().unwrap();
    assert!(matches!(
        other.read_flv(&mut [0u8; 4]),
        Err(FlvIoError::WrongState(_))
    ));
    other.start_flv_read(0).unwrap();
    assert!(matches!(
        other.start_flv_read(0),
        Err(FlvIoError::WrongState(_))
    ));
    assert!(matches!(
        other.write_flv(&file),
        Ok(_) | Err(FlvIoError::Net(_))
    ));
    assert!(matches!(
        other.flush_flv(Some(WAIT)),
        Err(FlvIoError::Net(_))
    ));
    player.close(Duration::from_secs(1));
    publisher.close(Duration::from_secs(1));
    server.shutdown(Duration::from_secs(1));
}
