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
