//! `rtmfp server`, `rtmfp publish` and `rtmfp play` end to end over
//! loopback with ephemeral ports: a player gets every tag of a synthetic
//! FLV, byte for byte, directly from a publisher found by peer ID or by
//! name, or through the server; a bad developer key is rejected.
//!
//! Every child process is killed on drop and every wait is bounded;
//! nothing asserts on timing.

mod common;

use common::{summary_counts, temp_flv, Proc, Server};
use rtmfp_core::flash::flv::{self, SliceReader};
use std::path::PathBuf;

/// What `rtmfp publish --synthetic` makes (see its --help).
const FPS: u32 = 25;
const AUDIO_RATE: u32 = 43;

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
            &[
                "--listen",
                "--keys",
                "--key",
                "--any-key",
                "--max-clients",
                "--max-streams-per-client",
                "--max-names-per-client",
                "--max-flows-per-session",
            ][..],
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
            &[
                "--peer",
                "--peer-name",
                "--out",
                "--window",
                "--count",
                "--duration",
            ],
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
        (
            &["publish", "rtmfp://127.0.0.1/app/k#s"],
            "or --synthetic SECS",
        ),
        (
            &[
                "publish",
                "rtmfp://127.0.0.1/app/k#s",
                "--synthetic",
                "1",
                "--wait",
                "1",
            ],
            "--wait counts the subscribers of a DIRECT_CONNECTIONS stream",
        ),
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
                "fast",
            ],
            "bad speed",
        ),
        (
            &["server", "--key", "k", "--any-key"],
            "cannot be used with",
        ),
        (
            &["server", "--max-streams-per-client", "0"],
            "must be from 1 to 65535, got 0",
        ),
        (
            &["server", "--max-names-per-client", "70000"],
            "must be from 1 to 65535, got 70000",
        ),
        (
            &["server", "--max-flows-per-session", "0"],
            "must be from 1 to 65535, got 0",
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
    assert!(out.contains("path direct"), "{out}");
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
    play_through_a_server("relay", &["--key", "devkey"]);
}

/// Receive coalescing on the server (`--recv-coalesce`) delays datagrams
/// by up to its value and loses or reorders none of them.
#[test]
fn a_player_plays_through_a_server_that_coalesces_wakeups() {
    play_through_a_server(
        "relay-coalesced",
        &["--key", "devkey", "--recv-coalesce", "5000"],
    );
}

/// `--option NAME=VALUE` sets rows of core's table on the server (here
/// its idle timeout, HMAC required, its datagram size and receive
/// coalescing), and the server still serves.
#[test]
fn a_player_plays_through_a_server_set_by_options() {
    play_through_a_server(
        "relay-options",
        &[
            "--key",
            "devkey",
            "--option",
            "idle_timeout=30s",
            "--option",
            "hmac_policy=required",
            "-o",
            "max_datagram_size=1400",
            "-o",
            "recv_coalesce=1.5ms",
        ],
    );
}

/// A bad `--option` makes `rtmfp server` exit with 2 and core's words
/// (the name as written); an unknown one or one a server does not take
/// lists what it takes.
#[test]
fn server_options_are_refused_in_cores_words() {
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["--option", "max_datagram_size=10"],
            &["max_datagram_size must be from 576 to 65507, got 10"],
        ),
        (
            &["-o", "hmac_policy=maybe"],
            &["hmac_policy must be one of off, opportunistic, required, got \"maybe\""],
        ),
        (
            &["-o", "idle_timeout=0s"],
            &["idle_timeout must be more than 0 seconds"],
        ),
        (
            &["-o", "idle-timeout=30"],
            &["idle-timeout must be a duration", "30s, 500ms"],
        ),
        (&["-o", "relay=yes"], &["relay must be true or false"]),
        (
            &["-o", "dh_groups=2,3"],
            &["dh_groups: DH group 3 is not supported"],
        ),
        (
            &["-o", "no_such_thing=1"],
            &["no_such_thing", "idle_timeout", "--option help"],
        ),
        (
            &["-o", "direct_timeout=1s"],
            &[
                "direct_timeout: `rtmfp server` does not take",
                "--option help",
            ],
        ),
        (&["-o", "idle_timeout"], &["NAME=VALUE"]),
    ];
    for (extra, words) in cases {
        let mut args = vec!["server", "--listen", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        let (code, out, err) = Proc::spawn(&args).finish();
        assert_eq!(code, 2, "{args:?}: stdout {out} stderr {err}");
        for w in *words {
            assert!(err.contains(w), "{args:?}: want {w:?} in {err}");
        }
        assert!(!out.contains("listening"), "{args:?}: {out}");
    }
}

/// `--option help` prints the server's rows from core's table: name,
/// type and range, default, meaning; and not the rows it does not take.
#[test]
fn server_option_help_lists_the_rows() {
    let (code, out, err) = Proc::spawn(&["server", "--option", "help"]).finish();
    assert_eq!(code, 0, "{err}");
    for w in [
        "idle_timeout",
        "a duration",
        "60 s",
        "max_datagram_size",
        "an integer from 576 to 65507",
        "hmac_policy",
        "one of off, opportunistic, required",
        "max_streams_per_client",
        "keepalive",
    ] {
        assert!(out.contains(w), "--option help lacks {w:?}:\n{out}");
    }
    assert!(!out.contains("direct_timeout"), "{out}");
    assert!(!out.contains("ask_connect"), "{out}");
}

fn play_through_a_server(name: &str, server_args: &[&str]) {
    let server = Server::start(server_args);
    let uri = server.uri("devkey", "live");
    let out_file = temp_flv(name);
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

#[test]
fn a_player_with_no_direct_path_in_time_plays_through_the_relay() {
    // A 1 µs direct timeout gives up the direct path before any handshake
    // can finish, as two symmetric NATs would: the player falls back to
    // the server relay (docs/relay-fallback.md) and still gets every tag.
    let server = Server::start(&[]);
    let uri = server.uri("devkey", "cam");
    let mut publisher = Proc::spawn(&[
        "publish",
        &uri,
        "--direct",
        "--synthetic",
        "2",
        "--speed",
        "2",
        "--bind",
        "127.0.0.1:0",
        "-q",
    ]);
    let id = publisher.wait_line("peer ID ");
    publisher.wait_line("waiting for 1 subscriber");
    let out_file = temp_flv("fallback");
    let player = Proc::spawn(&[
        "play",
        &uri,
        "--peer",
        &id,
        "--direct-timeout",
        "0.000001",
        "--out",
        out_file.to_str().unwrap(),
        "--bind",
        "127.0.0.1:0",
    ]);
    let (code, out, err) = player.finish();
    assert_eq!(code, 0, "player:\n{out}\n{err}");
    assert!(out.contains("path relay (no direct path to peer"), "{out}");
    assert!(!out.contains("path direct"), "{out}");
    check_against_synthetic(2, &out, &out_file);
    let (code, pub_out, err) = publisher.finish();
    assert_eq!(code, 0, "publisher:\n{pub_out}\n{err}");
    assert!(pub_out.contains("relay subscriber "), "{pub_out}");
    let log = server.stop();
    assert!(
        !log.contains("0 media messages in, 0 relayed"),
        "the server carried it: {log}"
    );
}

/// `--max-streams-per-client 2 --max-names-per-client 1`: a client's third
/// createStream and second registerName get `_error`
/// (NetConnection.Call.Failed, saying which limit), and the connection
/// keeps working.
#[test]
fn a_server_with_low_limits_refuses_the_streams_and_names_beyond_them() {
    use rtmfp_core::flash::client::ClientEvent;
    use rtmfp_core::flash::command::code;
    use rtmfp_core::flash::{NetConnection, NetConnectionConfig, Value};
    use std::time::{Duration, Instant};

    let server = Server::start(&[
        "--max-streams-per-client",
        "2",
        "--max-names-per-client",
        "1",
        "--max-flows-per-session",
        "64",
    ]);
    let config = NetConnectionConfig {
        bind: vec!["127.0.0.1:0".parse().unwrap()],
        ..NetConnectionConfig::default()
    };
    let uri = format!("rtmfp://127.0.0.1:{}/app/k", server.port);
    let nc = NetConnection::connect(&uri, config).unwrap();
    let (_, info) = nc
        .next_status_timeout(Duration::from_secs(10))
        .expect("a connect status");
    assert_eq!(info.code, code::CONNECT_SUCCESS, "{info:?}");
    // A call's answer: `Ok(())` or `Err((code, description))`.
    let call = |name: &str, args: Vec<Value>| -> Result<(), (String, String)> {
        let txn = nc.call(name, args).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no answer to {name}");
            if let Some(ClientEvent::CallResult {
                transaction_id,
                ok,
                response,
            }) = nc.next_event_timeout(left)
            {
                if transaction_id == txn {
                    return if ok {
                        Ok(())
                    } else {
                        let i = response.status_info().expect("an info object");
                        Err((i.code, i.description))
                    };
                }
            }
        }
    };
    assert_eq!(call("createStream", vec![]), Ok(()));
    assert_eq!(call("createStream", vec![]), Ok(()));
    let (c, why) = call("createStream", vec![]).unwrap_err();
    assert_eq!(c, code::CALL_FAILED);
    assert!(why.contains("too many streams: at most 2"), "{why}");
    assert_eq!(call("registerName", vec![Value::from("first")]), Ok(()));
    let (c, why) = call("registerName", vec![Value::from("second")]).unwrap_err();
    assert_eq!(c, code::CALL_FAILED);
    assert!(why.contains("too many names: at most 1"), "{why}");
    assert_eq!(call("lookupName", vec![Value::from("first")]), Ok(()));
    nc.close(Duration::from_millis(500));
    server.stop();
}
