//! `rtmfp check` over loopback: against a server with a check service on
//! two IPs (127.0.0.1 and 127.0.0.2) and two ports, against one without,
//! and against nothing.  Loopback has no NAT, so the answers are known.
//! The NAT cases run in tests/nat/run.sh.

mod common;

use common::{Proc, Server};
use std::net::UdpSocket;

/// Two UDP ports free on 127.0.0.1 (and, almost surely, on 127.0.0.2).
fn free_ports() -> (u16, u16) {
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    (
        a.local_addr().unwrap().port(),
        b.local_addr().unwrap().port(),
    )
}

fn line<'a>(out: &'a str, prefix: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} line in:\n{out}"))
}

#[test]
fn check_without_a_nat_finds_everything_open() {
    let (p1, p2) = free_ports();
    let check: Vec<String> = [
        format!("127.0.0.1:{p1}"),
        format!("127.0.0.1:{p2}"),
        format!("127.0.0.2:{p1}"),
        format!("127.0.0.2:{p2}"),
    ]
    .into();
    let mut extra = Vec::new();
    for c in &check {
        extra.push("--check");
        extra.push(c.as_str());
    }
    let server = Server::start(&extra);
    let uri = format!("rtmfp://127.0.0.1:{}", server.port);
    let (code, out, err) = Proc::spawn(&["check", &uri]).finish();
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(line(&out, "udp").contains("reaches the server"), "{out}");
    assert!(line(&out, "public").contains("no NAT"), "{out}");
    assert!(line(&out, "check").contains(&check[0]), "{out}");
    assert!(line(&out, "check").contains(&check[3]), "{out}");
    assert!(
        line(&out, "mapping")
            .trim()
            .starts_with("endpoint-independent"),
        "{out}"
    );
    assert!(
        line(&out, "filtering")
            .trim()
            .starts_with("endpoint-independent"),
        "{out}"
    );
    let log = server.stop();
    assert!(log.contains(&format!("check {}", check[0])), "{log}");
}

#[test]
fn check_against_a_server_without_the_service_still_says_udp_works() {
    let server = Server::start(&[]);
    let uri = format!("rtmfp://127.0.0.1:{}/app", server.port);
    let (code, out, err) = Proc::spawn(&["check", &uri]).finish();
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(line(&out, "udp").contains("reaches the server"), "{out}");
    assert!(line(&out, "public").contains("127.0.0.1:"), "{out}");
    assert!(line(&out, "check").contains("no check service"), "{out}");
    server.stop();
}

#[test]
fn check_against_nothing_fails_with_1_and_says_so() {
    let (port, _) = free_ports();
    let uri = format!("rtmfp://127.0.0.1:{port}");
    let (code, out, err) = Proc::spawn(&["check", &uri, "--timeout", "2"]).finish();
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(line(&out, "udp").contains("no session"), "{out}");
    assert!(err.contains("did not answer"), "{err}");
}
