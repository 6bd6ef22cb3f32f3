//! `--option NAME=VALUE` on the commands that make a NetConnection
//! (`publish`, `play`, `check`) or an endpoint (`echo`, `send`), as
//! `rtmfp server` takes it (its tests are in streams.rs): an option
//! reaches the object and changes what it does, a bad one exits with 2
//! and core's words, and `--option help` lists the rows of the command's
//! object.
//!
//! Every child process is killed on drop and every wait is bounded;
//! nothing asserts on timing.

mod common;

use common::{Proc, Server};

/// Nothing listens there: every usage error must come before connecting.
const NOWHERE: &str = "rtmfp://127.0.0.1:1/app/k#s";

/// A NetConnection's options reach it: against a server that requires
/// packet HMAC, `hmac_policy=off` leaves the connect unanswered and
/// `open_timeout=1s` ends it in core's words (not the CLI's `--timeout`
/// wait), while `open_timeout=1s` alone connects.
#[test]
fn publish_and_play_take_a_netconnections_options() {
    let server = Server::start(&["--any-key", "-o", "hmac_policy=required"]);
    let uri = server.uri("k", "s");
    for cmd in [
        &["play", &uri, "--duration", "1", "-q"][..],
        &["publish", &uri, "--synthetic", "1", "-q"],
    ] {
        let mut args = cmd.to_vec();
        args.extend(["--option", "open_timeout=1s"]);
        let (code, out, err) = Proc::spawn(&args).finish();
        assert_eq!(code, 0, "{args:?}: {out}\n{err}");
        assert!(out.contains("NetConnection.Connect.Success"), "{out}");

        let mut args = cmd.to_vec();
        args.extend([
            "--timeout",
            "30",
            "--option",
            "hmac_policy=off",
            "--option",
            "open-timeout=1s",
        ]);
        let (code, out, err) = Proc::spawn(&args).finish();
        assert_eq!(code, 1, "{args:?}: {out}\n{err}");
        assert!(
            err.contains("NetConnection.Connect.Failed")
                && err.contains("no answer before the open timeout"),
            "{args:?}: {err}"
        );
        assert!(!err.contains("within"), "not the CLI's wait: {err}");
    }
    server.stop();
}

/// `-o max_peer_connections=0` (a NetConnection-only row) makes a direct
/// publisher reject its subscriber, over `--max-peers`, which it
/// overrides.
#[test]
fn a_publishers_max_peer_connections_option_rejects_a_player() {
    let server = Server::start(&["--any-key"]);
    let uri = server.uri("k", "cam");
    let mut publisher = Proc::spawn(&[
        "publish",
        &uri,
        "--direct",
        "--synthetic",
        "3",
        "--wait",
        "0",
        "--max-peers",
        "8",
        "-o",
        "max_peer_connections=0",
        "-q",
    ]);
    let id = publisher.wait_line("peer ID ");
    publisher.wait_line("publishing ");
    let (code, out, err) = Proc::spawn(&["play", &uri, "--peer", &id, "-q"]).finish();
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains("NetStream.Connect.Rejected: max_peer_connections (0) reached"),
        "{err}"
    );
    let (code, out, err) = publisher.finish();
    assert_eq!(code, 0, "publisher:\n{out}\n{err}");
    assert!(out.contains("subscriber 1 rejected"), "{out}");
    server.stop();
}

/// The `packets N out, M in` line of `rtmfp send`.
fn packets(out: &str) -> (u64, u64) {
    let line = out
        .lines()
        .find(|l| l.starts_with("packets "))
        .unwrap_or_else(|| panic!("no packets line in:\n{out}"));
    let w: Vec<&str> = line.split_whitespace().collect();
    (
        w[1].parse().unwrap(),
        w[3].trim_end_matches(',').parse().unwrap(),
    )
}

/// An endpoint's options reach it, on both ends: `echo -o
/// max_datagram_size=576` sends 200 KiB back in datagrams of 576 bytes at
/// most (1200 by default: fewer than half as many), `send -o
/// max_datagram_size=576` sends it so; `echo -o hmac_policy=required`
/// leaves a sender with `-o hmac_policy=off` unanswered, and its `-o
/// open_timeout=1s` ends the attempt in core's words.
#[test]
fn echo_and_send_take_an_endpoints_options() {
    let mut echo = Proc::spawn(&[
        "echo",
        "-l",
        "127.0.0.1:0",
        "-o",
        "max_datagram_size=576",
        "--option",
        "hmac_policy=required",
    ]);
    let addr = echo.wait_line("listening ");
    // 200 KiB need more than this many datagrams of at most 576 bytes.
    let least = 200 * 1024 / 576;
    let send = |extra: &[&str]| {
        let mut args = vec!["send", &addr, "--bytes", "200K", "--size", "1K", "-q"];
        args.extend_from_slice(extra);
        let (code, out, err) = Proc::spawn(&args).finish();
        (args.join(" "), code, out, err)
    };

    let (args, code, out, err) = send(&[]);
    assert_eq!(code, 0, "{args}: {out}\n{err}");
    let (_, back) = packets(&out);
    assert!(back >= least, "{args}: echo's datagrams not 576 B: {out}");

    let (args, code, out, err) = send(&["-o", "max_datagram_size=576"]);
    assert_eq!(code, 0, "{args}: {out}\n{err}");
    let (sent, _) = packets(&out);
    assert!(sent >= least, "{args}: send's datagrams not 576 B: {out}");

    let (args, code, out, err) = send(&[
        "--timeout",
        "30",
        "-o",
        "hmac_policy=off",
        "-o",
        "open_timeout=1s",
    ]);
    assert_eq!(code, 1, "{args}: {out}\n{err}");
    assert!(err.contains("no answer (timeout)"), "{args}: {err}");
    assert!(!err.contains("within"), "not the CLI's wait: {err}");

    echo.interrupt();
    let (code, out, err) = echo.finish();
    assert_eq!(code, 0, "echo: {out}\n{err}");
}

/// A bad `--option` (or a flag that is a row, given a value out of its
/// range) exits with 2 and core's words before anything connects; a row
/// of another object is named as not taken.
#[test]
fn bad_options_are_refused_in_cores_words_by_every_command() {
    let cases: &[(&[&str], &[&str])] = &[
        (
            &[
                "publish",
                NOWHERE,
                "--synthetic",
                "1",
                "-o",
                "max_datagram_size=10",
            ],
            &["max_datagram_size must be from 576 to 65507, got 10"],
        ),
        (
            &[
                "publish",
                NOWHERE,
                "--synthetic",
                "1",
                "-o",
                "max_streams_per_client=3",
            ],
            &[
                "`rtmfp publish` does not take",
                "direct_timeout",
                "--option help",
            ],
        ),
        (
            &[
                "publish",
                NOWHERE,
                "--synthetic",
                "1",
                "-o",
                "peer_connect_mode=ask",
            ],
            &["`rtmfp publish` does not take", "application"],
        ),
        (
            &[
                "publish",
                NOWHERE,
                "--synthetic",
                "1",
                "--direct",
                "--max-peers",
                "70000",
            ],
            &["--max-peers must be from 0 to 65535, got 70000"],
        ),
        (
            &["play", NOWHERE, "--option", "direct_timeout=5"],
            &["direct_timeout must be a duration", "30s, 500ms"],
        ),
        (
            &["play", NOWHERE, "--option", "hmac_policy=maybe"],
            &["hmac_policy must be one of off, opportunistic, required, got \"maybe\""],
        ),
        (
            &["play", NOWHERE, "--option", "recv_coalesce=1ms"],
            &["`rtmfp play` does not take"],
        ),
        (
            &["check", "rtmfp://127.0.0.1:1/", "-o", "open_timeout=0s"],
            &["open_timeout must be more than 0 seconds"],
        ),
        (
            &["echo", "-l", "127.0.0.1:0", "-o", "direct_timeout=1s"],
            &["`rtmfp echo` does not take", "recv_coalesce"],
        ),
        (
            &["echo", "-l", "127.0.0.1:0", "--recv-buffer", "100"],
            &["--recv-buffer must be from 1024 to 1073741824, got 100"],
        ),
        (
            &["send", "127.0.0.1:1", "-o", "idle_timeout=0s"],
            &["idle_timeout must be more than 0 seconds"],
        ),
        (
            &["send", "127.0.0.1:1", "-o", "max_peer_connections=1"],
            &["`rtmfp send` does not take"],
        ),
        (
            &["send", "127.0.0.1:1", "-o", "idle_timeout"],
            &["NAME=VALUE"],
        ),
    ];
    for (args, words) in cases {
        let (code, out, err) = Proc::spawn(args).finish();
        assert_eq!(code, 2, "{args:?}: stdout {out} stderr {err}");
        for w in *words {
            assert!(err.contains(w), "{args:?}: want {w:?} in {err}");
        }
        assert!(
            !out.contains("status") && !out.contains("listening") && !out.contains("session"),
            "{args:?}: {out}"
        );
    }
}

/// `--option help` lists the rows of the command's object from core's
/// table (without the URI the command otherwise needs), and no row of
/// another object; `--help` shows the flag (`-o` but on `play`, whose
/// `-o` is `--out`).
#[test]
fn option_help_lists_each_commands_rows() {
    for cmd in ["publish", "play", "check", "echo", "send"] {
        let (code, out, err) = Proc::spawn(&[cmd, "--help"]).finish();
        assert_eq!(code, 0, "{cmd}: {err}");
        let flag = if cmd == "play" {
            "    --option <NAME=VALUE>"
        } else {
            "-o, --option <NAME=VALUE>"
        };
        assert!(out.contains(flag), "{cmd} --help lacks {flag:?}:\n{out}");
    }
    let netconnection = (
        &[
            "open_timeout",
            "max_datagram_size",
            "direct_timeout",
            "max_peer_connections",
        ][..],
        &[
            "max_streams_per_client",
            "keepalive",
            "peer_connect_mode",
            "recv_coalesce",
            "ask_play",
        ][..],
    );
    let endpoint = (
        &[
            "open_timeout",
            "max_datagram_size",
            "server",
            "recv_coalesce",
        ][..],
        &[
            "direct_timeout",
            "max_peer_connections",
            "max_streams_per_client",
            "relay",
        ][..],
    );
    for (args, (want, unwanted)) in [
        (&["publish", "--option", "help"][..], netconnection),
        (&["publish", NOWHERE, "-o", "help"], netconnection),
        (&["play", "--option", "help"], netconnection),
        (&["check", "--option=help"], netconnection),
        (&["echo", "-o", "help"], endpoint),
        (&["send", "--option", "help"], endpoint),
    ] {
        let (code, out, err) = Proc::spawn(args).finish();
        assert_eq!(code, 0, "{args:?}: {err}");
        let header = format!("Options of `rtmfp {}`", args[0]);
        assert!(out.starts_with(&header), "{args:?}: {out}");
        for w in want {
            assert!(
                out.contains(&format!("\n  {w}\n")),
                "{args:?} lacks {w:?}:\n{out}"
            );
        }
        for w in unwanted {
            assert!(
                !out.contains(&format!("\n  {w}\n")),
                "{args:?} has {w:?}:\n{out}"
            );
        }
    }
}
