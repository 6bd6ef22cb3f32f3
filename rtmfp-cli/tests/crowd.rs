//! `rtmfp bench --crowd`: a small crowd (the long runs are in
//! scripts/crowd.sh) only to show that the mode works: every client
//! connects, stays connected through the hold, probes get in, and the
//! server's costs are read.

mod common;

use common::Proc;

#[test]
fn a_small_crowd_connects_holds_and_reports() {
    let p = Proc::spawn(&[
        "bench", "--crowd", "300", "--hold", "2", "--rate", "500", "--probes", "3",
    ]);
    let (code, out, err) = p.finish();
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("| connected | 300 of 300 (0 failed) |"),
        "{out}"
    );
    assert!(out.contains("| alive after the hold | 300 |"), "{out}");
    assert!(out.contains("(p50 / p99 / max of 3)"), "{out}");
    assert!(out.contains("| server CPU while idle |"), "{out}");
    assert!(out.contains("KB per session"), "{out}");
}

#[test]
fn a_crowd_split_over_client_processes_adds_up() {
    let p = Proc::spawn(&[
        "bench",
        "--crowd",
        "300",
        "--hold",
        "2",
        "--rate",
        "500",
        "--probes",
        "2",
        "--per-process",
        "120",
    ]);
    let (code, out, err) = p.finish();
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("| connected | 300 of 300 (0 failed) |"),
        "{out}"
    );
    assert!(out.contains("| alive after the hold | 300 |"), "{out}");
    assert!(out.contains("(p50 / p99 / max of 2)"), "{out}");
    assert!(out.contains("3 process(es)"), "{out}");
}

/// `--option` reaches every client (in every client process) and
/// `--server-option` the server child: a server that requires packet
/// HMACs (RFC 7425 §4.6.4) lets in clients that require them too, and
/// no client that refuses them.
#[test]
fn options_reach_the_clients_and_the_server() {
    let crowd = |client_hmac: &str| {
        let client_hmac = format!("hmac_policy={client_hmac}");
        Proc::spawn(&[
            "bench",
            "--crowd",
            "20",
            "--hold",
            "1",
            "--probes",
            "0",
            "--per-process",
            "10",
            "--server-option",
            "hmac_policy=required",
            "--option",
            &client_hmac,
            "-o",
            "open_timeout=2s",
        ])
        .finish()
    };
    let (code, out, err) = crowd("required");
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("| connected | 20 of 20 (0 failed) |"), "{out}");
    assert!(out.contains("2 process(es)"), "{out}");
    let (code, out, err) = crowd("off");
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("| connected | 0 of 20 (20 failed) |"), "{out}");
    assert!(
        err.contains("20 of 20 NetConnections did not connect"),
        "{err}"
    );
}

#[test]
fn options_the_benchmark_cannot_apply_are_refused() {
    for (args, words) in [
        (
            &["bench", "--crowd", "2", "--option", "bind=127.0.0.1:0"][..],
            "`rtmfp bench` does not take this option (it has nothing to apply it to)",
        ),
        (
            &["bench", "--crowd", "2", "--option", "keys=abc"][..],
            "`rtmfp bench` does not take this option",
        ),
        (
            &[
                "bench",
                "--crowd",
                "2",
                "--server-option",
                "direct_timeout=1s",
            ][..],
            "--server-option direct_timeout: `rtmfp server` does not take this option",
        ),
        (
            &["bench", "--option", "open_timeout=1s"][..],
            "--option and --server-option are for --crowd, --fanout and --flood",
        ),
        (
            &[
                "bench",
                "--crowd",
                "2",
                "--server",
                "127.0.0.1:1935",
                "--server-option",
                "relay=false",
            ][..],
            "cannot be used with",
        ),
    ] {
        let (code, out, err) = Proc::spawn(args).finish();
        assert_eq!(code, 2, "{args:?}: {out}\n{err}");
        assert!(err.contains(words), "{args:?}: {err}");
    }
    let (code, out, _) = Proc::spawn(&["bench", "--option", "help"]).finish();
    assert_eq!(code, 0);
    assert!(out.contains("keepalive_interval") && out.contains("hmac_policy"));
    assert!(
        !out.contains("\n  bind\n") && !out.contains("recv_coalesce"),
        "{out}"
    );
    let (code, out, _) = Proc::spawn(&["bench", "--server-option", "help"]).finish();
    assert_eq!(code, 0);
    assert!(out.contains("max_streams_per_client"), "{out}");
}
