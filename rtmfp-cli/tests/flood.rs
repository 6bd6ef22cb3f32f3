//! `rtmfp bench --flood`: a small run (the measured one is in the README)
//! only to show that the mode works: the flood reaches the server and
//! makes it key, and the established sessions keep completing round
//! trips through it.  No timing is asserted: CI machines are too noisy.

mod common;

use common::Proc;

#[test]
fn established_sessions_keep_flowing_through_a_small_flood() {
    let p = Proc::spawn(&[
        "bench",
        "--flood",
        "4",
        "--baseline",
        "2",
        "--flood-duration",
        "3",
        "--flood-sources",
        "10",
        "--flood-per-source",
        "2",
    ]);
    let (code, out, err) = p.finish();
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("verdict: established sessions kept flowing"),
        "{out}"
    );
    assert!(
        out.contains("4 of 4 sessions completed round trips"),
        "{out}"
    );
    for phase in ["| baseline |", "| flood |", "| after |"] {
        assert!(out.contains(phase), "{out}");
    }
    // The flood made the server key: IIKeyings went out and were answered,
    // and the server counted the keying jobs.
    let flood = out
        .lines()
        .find(|l| l.starts_with("flood: "))
        .expect("flood line");
    let n = |what: &str| -> u64 {
        let words: Vec<&str> = flood.split([' ', ',']).filter(|w| !w.is_empty()).collect();
        let i = words.iter().position(|w| *w == what).expect(what);
        words[i - 1].parse().expect("a count")
    };
    assert!(n("IIKeyings") > 0, "{out}");
    assert!(n("answered") > 0, "{out}");
    assert!(out.contains("server: keying "), "{out}");
}
