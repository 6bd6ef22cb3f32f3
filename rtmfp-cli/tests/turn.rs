//! `--turn` end to end with a real TURN server (coturn on loopback): a
//! direct (DIRECT_CONNECTIONS) stream between a publisher and a player
//! that both run over TURN relays arrives whole, each side sees the
//! other's relayed address, and bad credentials fail with the reason.
//!
//! Every child process is killed on drop and every wait is bounded.

mod common;
#[path = "../../tests/support/coturn.rs"]
mod coturn;

use common::{Proc, Server};
use coturn::Coturn;

fn tag_count(out: &str) -> u64 {
    common::summary_counts(out, "audio").0 + common::summary_counts(out, "video").0
}

#[test]
fn a_direct_stream_between_two_relayed_peers_arrives_whole() {
    let Some(turn) = Coturn::start() else { return };
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
        "--turn",
        &turn.uri(),
        "-q",
    ]);
    let pub_relayed = publisher.wait_line("relayed ");
    let id = publisher.wait_line("peer ID ");
    publisher.wait_line("waiting for 1 subscriber");

    let mut player = Proc::spawn(&[
        "play",
        &uri,
        "--peer",
        &id,
        "--bind",
        "127.0.0.1:0",
        "--turn",
        &turn.uri(),
    ]);
    let play_relayed = player.wait_line("relayed ");
    let (code, out, err) = player.finish();
    assert_eq!(code, 0, "player:\n{out}\n{err}\n{}", turn.log());
    // 2 s of synthetic media: 50 video frames and 86 audio tags.
    assert_eq!(tag_count(&out), 50 + 86, "{out}");

    let (code, pub_out, err) = publisher.finish();
    assert_eq!(code, 0, "publisher:\n{pub_out}\n{err}");
    let play_addr = play_relayed.split_whitespace().next().unwrap();
    assert!(
        pub_out.contains(&format!("at {play_addr} plays")),
        "the publisher sees the player at its relayed address {play_addr}:\n{pub_out}"
    );
    let pub_addr = pub_relayed.split_whitespace().next().unwrap();
    assert_ne!(pub_addr, play_addr);
    let log = server.stop();
    assert!(log.contains("0 media messages in, 0 relayed"), "{log}");
}

#[test]
fn wrong_turn_credentials_fail_with_the_reason() {
    let Some(turn) = Coturn::start() else { return };
    let server = Server::start(&[]);
    let bad = turn.uri().replace(coturn::PASSWORD, "nope");
    let (code, out, err) = Proc::spawn(&[
        "play",
        &server.uri("devkey", "cam"),
        "--bind",
        "127.0.0.1:0",
        "--turn",
        &bad,
    ])
    .finish();
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("401"), "{err}");
    let (code, _, err) = Proc::spawn(&[
        "echo",
        "--listen",
        "127.0.0.1:0",
        "--turn",
        "turn://nouser@x",
    ])
    .finish();
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--turn"), "{err}");
}

#[test]
fn check_tells_whether_a_turn_proxy_works() {
    let Some(turn) = Coturn::start() else { return };
    let server = Server::start(&[]);
    let uri = format!("rtmfp://127.0.0.1:{}", server.port);
    let (code, out, err) = Proc::spawn(&["check", &uri, "--turn", &turn.uri()]).finish();
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("udp         reaches the server"), "{out}");
    // The server sees the relay's address, not the check's socket.
    let public = out
        .lines()
        .find(|l| l.starts_with("public "))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        public.contains("the server sees us at 127.0.0.1:"),
        "{public}"
    );
    let bad = turn.uri().replace(coturn::PASSWORD, "nope");
    let (code, out, _) = Proc::spawn(&["check", &uri, "--turn", &bad]).finish();
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("turn        the TURN proxy does not work") && out.contains("401"),
        "{out}"
    );
}
