//! `rtmfp bench --fanout`: a small fan-out (the long runs are in
//! scripts/fanout.sh) only to show that the mode works: every player
//! receives the stream through the server, the table prints, and the
//! server's CPU is read.  No timing is asserted.

mod common;

use common::Proc;

fn check(out: &str, players: usize) {
    assert!(
        out.contains(&format!(
            "| players connected / playing / receiving | {players} / {players} / {players} of {players} |"
        )),
        "{out}"
    );
    assert!(out.contains("| delivered on time (all players) |"), "{out}");
    assert!(out.contains("| latency p50 / p99 / max |"), "{out}");
    assert!(out.contains("s/Gbit"), "{out}");
    assert!(!out.contains("not measured"), "{out}");
    assert!(
        out.contains("| quality (every player >= 99 % on time) |"),
        "{out}"
    );
}

#[test]
fn a_small_fanout_delivers_to_every_player_and_reports() {
    let p = Proc::spawn(&[
        "bench",
        "--fanout",
        "20",
        "--duration",
        "3",
        "--warmup",
        "1",
    ]);
    let (code, out, err) = p.finish();
    assert_eq!(code, 0, "{out}\n{err}");
    check(&out, 20);
    assert!(out.contains("1 player process(es)"), "{out}");
}

#[test]
fn a_fanout_split_over_client_processes_and_a_sweep() {
    let p = Proc::spawn(&[
        "bench",
        "--fanout",
        "12",
        "--duration",
        "2",
        "--warmup",
        "1",
        "--per-process",
        "5",
        "--bitrate",
        "500k",
    ]);
    let (code, out, err) = p.finish();
    assert_eq!(code, 0, "{out}\n{err}");
    check(&out, 12);
    assert!(out.contains("3 player process(es)"), "{out}");

    // A sweep up to 60: N = 50, then 60 (while quality holds), one row
    // each.
    let p = Proc::spawn(&[
        "bench",
        "--fanout",
        "60",
        "--sweep",
        "--duration",
        "2",
        "--warmup",
        "1",
        "--bitrate",
        "200k",
    ]);
    let (code, out, err) = p.finish();
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("| N | delivered Mbit/s | server CPU % |"),
        "{out}"
    );
    assert!(out.contains("\n| 50 | "), "{out}");
    assert!(
        out.contains("largest N where quality holds") || out.contains("did not hold"),
        "{out}"
    );
}
