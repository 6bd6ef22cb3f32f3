//! The TURN client against a scripted server that checks what a real one
//! checks (credentials, integrity) and answers as RFC 8656 says.

use super::*;
use crate::stun::{self, attr, method, Builder, Class, Message};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const REALM: &str = "rtmfp.test";
const NONCE: &[u8] = b"nonce-1";

fn config() -> TurnConfig {
    TurnConfig::new("192.0.2.10:3478".parse().unwrap(), "alice", "secret")
}

fn relayed() -> SocketAddr {
    "192.0.2.10:50000".parse().unwrap()
}

fn key() -> [u8; 16] {
    stun::long_term_key("alice", REALM, "secret")
}

/// The server's answer to one request: 401 with realm and nonce when
/// unauthenticated, else what `answer` builds (signed).
fn serve(request: &[u8], answer: impl Fn(&Message<'_>) -> Builder) -> Vec<u8> {
    let m = Message::parse(request).expect("the client sends valid STUN");
    assert_eq!(m.class, Class::Request);
    if m.get(attr::MESSAGE_INTEGRITY).is_none() {
        return Builder::new(m.method, Class::Error, m.transaction)
            .attribute(attr::ERROR_CODE, &[0, 0, 4, 1, b'U', b'n'])
            .attribute(attr::REALM, REALM.as_bytes())
            .attribute(attr::NONCE, NONCE)
            .fingerprint();
    }
    assert_eq!(m.get(attr::USERNAME), Some(&b"alice"[..]));
    assert!(
        m.check_integrity(&key()),
        "signed with MD5(user:realm:pass)"
    );
    answer(&m).integrity(&key()).fingerprint()
}

fn allocate_ok(m: &Message<'_>) -> Builder {
    assert_eq!(m.method, method::ALLOCATE);
    assert_eq!(m.get(attr::REQUESTED_TRANSPORT), Some(&[17, 0, 0, 0][..]));
    Builder::new(method::ALLOCATE, Class::Success, m.transaction)
        .xor_address(attr::XOR_RELAYED_ADDRESS, relayed())
        .xor_address(
            attr::XOR_MAPPED_ADDRESS,
            "198.51.100.7:40000".parse().unwrap(),
        )
        .attribute(attr::LIFETIME, &600u32.to_be_bytes())
}

fn ok(m: &Message<'_>) -> Builder {
    Builder::new(m.method, Class::Success, m.transaction)
}

/// Runs the exchange until the client has nothing more to send.
fn pump(c: &mut TurnClient, now: Instant, answer: impl Fn(&Message<'_>) -> Builder + Copy) {
    while let Some(req) = c.poll_transmit() {
        if !stun::looks_like_stun(&req) {
            continue;
        }
        let reply = serve(&req, answer);
        assert_eq!(c.receive(now, &reply), Received::Consumed);
    }
}

fn allocated(now: Instant) -> TurnClient {
    let mut c = TurnClient::new(config(), now);
    pump(&mut c, now, allocate_ok);
    assert_eq!(
        c.poll_event(),
        Some(TurnEvent::Allocated {
            relayed: relayed(),
            mapped: Some("198.51.100.7:40000".parse().unwrap())
        })
    );
    c
}

#[test]
fn allocates_after_the_401_with_long_term_credentials() {
    let now = Instant::now();
    let c = allocated(now);
    assert_eq!(c.relayed(), Some(relayed()));
    assert_eq!(c.stats().requests, 2, "one unauthenticated, one signed");
    // Refresh a minute before the 600 s lifetime ends.
    assert_eq!(c.poll_timeout(), Some(now + Duration::from_secs(540)));
}

#[test]
fn wrong_password_fails_with_unauthorized() {
    let now = Instant::now();
    let mut cfg = config();
    cfg.password = "wrong".into();
    let mut c = TurnClient::new(cfg, now);
    let first = c.poll_transmit().unwrap();
    c.receive(now, &serve(&first, allocate_ok));
    let second = c.poll_transmit().unwrap();
    let m = Message::parse(&second).unwrap();
    assert!(!m.check_integrity(&key()));
    // A real server answers 401 again: the client gives up.
    let reply = Builder::new(method::ALLOCATE, Class::Error, m.transaction)
        .attribute(attr::ERROR_CODE, &[0, 0, 4, 1])
        .attribute(attr::REALM, REALM.as_bytes())
        .attribute(attr::NONCE, NONCE)
        .fingerprint();
    assert_eq!(c.receive(now, &reply), Received::Consumed);
    assert_eq!(
        c.poll_event(),
        Some(TurnEvent::Failed(TurnError::Unauthorized))
    );
    assert!(c.is_failed());
    assert!(c.poll_transmit().is_none());
    assert!(TurnError::Unauthorized.to_string().contains("401"));
}

#[test]
fn a_silent_server_times_out_after_retransmitting() {
    let t0 = Instant::now();
    let mut c = TurnClient::new(config(), t0);
    let first = c.poll_transmit().unwrap();
    let mut now = t0;
    let mut sends = 1;
    while let Some(t) = c.poll_timeout() {
        now = t;
        c.handle_timeout(now);
        while let Some(again) = c.poll_transmit() {
            assert_eq!(again, first, "a retransmission is the same request");
            sends += 1;
        }
    }
    assert_eq!(c.poll_event(), Some(TurnEvent::Failed(TurnError::Timeout)));
    assert_eq!(now, t0 + config().allocate_timeout);
    assert_eq!(
        sends, 4,
        "500 ms, then 1, 2 s: three retransmissions in 5 s"
    );
}

#[test]
fn a_stale_nonce_is_retried_with_the_new_one() {
    let now = Instant::now();
    let mut c = TurnClient::new(config(), now);
    let first = c.poll_transmit().unwrap();
    c.receive(now, &serve(&first, allocate_ok));
    let signed = c.poll_transmit().unwrap();
    let m = Message::parse(&signed).unwrap();
    let stale = Builder::new(method::ALLOCATE, Class::Error, m.transaction)
        .attribute(attr::ERROR_CODE, &[0, 0, 4, 38])
        .attribute(attr::REALM, REALM.as_bytes())
        .attribute(attr::NONCE, b"nonce-2")
        .fingerprint();
    assert_eq!(c.receive(now, &stale), Received::Consumed);
    let retry = c.poll_transmit().unwrap();
    let m = Message::parse(&retry).unwrap();
    assert_eq!(m.get(attr::NONCE), Some(&b"nonce-2"[..]));
    let reply = allocate_ok(&m).integrity(&key()).fingerprint();
    assert_eq!(c.receive(now, &reply), Received::Consumed);
    assert!(matches!(c.poll_event(), Some(TurnEvent::Allocated { .. })));
}

#[test]
fn datagrams_wait_for_the_channel_then_go_as_channel_data() {
    let now = Instant::now();
    let mut c = allocated(now);
    let peer: SocketAddr = "203.0.113.5:1935".parse().unwrap();
    assert_eq!(c.send(now, peer, b"first".to_vec()), SendOutcome::Queued);
    assert_eq!(c.send(now, peer, b"second".to_vec()), SendOutcome::Queued);
    let bind = c.poll_transmit().unwrap();
    let m = Message::parse(&bind).unwrap();
    assert_eq!((m.method, m.class), (method::CHANNEL_BIND, Class::Request));
    assert_eq!(m.xor_address(attr::XOR_PEER_ADDRESS), Some(peer));
    assert_eq!(m.get(attr::CHANNEL_NUMBER), Some(&[0x40, 0x00, 0, 0][..]));
    assert!(
        c.poll_transmit().is_none(),
        "nothing for the peer before the bind"
    );
    let reply = serve(&bind, ok);
    assert_eq!(c.receive(now, &reply), Received::Consumed);
    assert_eq!(c.poll_transmit().unwrap(), b"\x40\x00\x00\x05first");
    assert_eq!(c.poll_transmit().unwrap(), b"\x40\x00\x00\x06second");
    assert_eq!(
        c.send(now, peer, b"third".to_vec()),
        SendOutcome::Send(b"\x40\x00\x00\x05third".to_vec())
    );
    // The peer's answer through the channel, with UDP padding.
    assert_eq!(
        c.receive(now, b"\x40\x00\x00\x02hi\0\0"),
        Received::Peer(peer, b"hi")
    );
    // An unknown channel is dropped.
    assert_eq!(c.receive(now, b"\x40\x07\x00\x02hi"), Received::Invalid);
    assert_eq!(c.stats().channel_data_sent, 3);
}

#[test]
fn a_public_relay_is_never_asked_for_a_private_address() {
    let now = Instant::now();
    let mut c = allocated(now); // the server is 192.0.2.10: public
    for private in [
        "10.0.2.2:1935",
        "192.168.1.5:1935",
        "172.16.0.1:1",
        "100.64.0.1:1",
    ] {
        let peer: SocketAddr = private.parse().unwrap();
        assert!(matches!(
            c.send(now, peer, b"x".to_vec()),
            SendOutcome::Dropped(_)
        ));
    }
    assert!(c.poll_transmit().is_none(), "no ChannelBind for them");
    assert_eq!(c.stats().unroutable, 4);
    let public: SocketAddr = "203.0.113.5:1935".parse().unwrap();
    assert_eq!(c.send(now, public, b"x".to_vec()), SendOutcome::Queued);
    // A relay on a private network reaches private peers.
    let mut cfg = config();
    cfg.server = "10.0.0.1:3478".parse().unwrap();
    let mut lan = TurnClient::new(cfg, now);
    pump(&mut lan, now, allocate_ok);
    lan.poll_event();
    let peer: SocketAddr = "10.0.2.2:1935".parse().unwrap();
    assert_eq!(lan.send(now, peer, b"x".to_vec()), SendOutcome::Queued);
}

#[test]
fn data_indications_from_permitted_peers_are_delivered() {
    let now = Instant::now();
    let mut c = allocated(now);
    let peer: SocketAddr = "203.0.113.5:1935".parse().unwrap();
    let ind = Builder::new(method::DATA, Class::Indication, [3; 12])
        .xor_address(attr::XOR_PEER_ADDRESS, peer)
        .attribute(attr::DATA, b"payload")
        .fingerprint();
    assert_eq!(c.receive(now, &ind), Received::Peer(peer, b"payload"));
}

#[test]
fn a_refused_peer_is_reported_and_its_datagrams_dropped() {
    let now = Instant::now();
    let mut c = allocated(now);
    let peer: SocketAddr = "198.51.100.99:1935".parse().unwrap();
    assert_eq!(c.send(now, peer, b"x".to_vec()), SendOutcome::Queued);
    let bind = c.poll_transmit().unwrap();
    let reply = serve(&bind, |m| {
        Builder::new(m.method, Class::Error, m.transaction)
            .attribute(attr::ERROR_CODE, b"\0\0\x04\x03Forbidden IP")
    });
    assert_eq!(c.receive(now, &reply), Received::Consumed);
    assert_eq!(
        c.poll_event(),
        Some(TurnEvent::PeerRefused { peer, code: 403 })
    );
    assert!(matches!(
        c.send(now, peer, b"y".to_vec()),
        SendOutcome::Dropped(_)
    ));
    // Tried again after the refresh period.
    c.handle_timeout(now + Duration::from_secs(241));
    assert_eq!(
        c.send(now + Duration::from_secs(241), peer, b"z".to_vec()),
        SendOutcome::Queued
    );
}

#[test]
fn unsigned_or_forged_responses_are_ignored() {
    let now = Instant::now();
    let mut c = allocated(now);
    let peer: SocketAddr = "203.0.113.5:1935".parse().unwrap();
    c.send(now, peer, b"x".to_vec());
    let bind = c.poll_transmit().unwrap();
    let m = Message::parse(&bind).unwrap();
    let forged = Builder::new(m.method, Class::Success, m.transaction)
        .integrity(b"not the key")
        .fingerprint();
    assert_eq!(c.receive(now, &forged), Received::Invalid);
    let unknown = Builder::new(m.method, Class::Success, [9; 12]).fingerprint();
    assert_eq!(c.receive(now, &unknown), Received::Invalid);
    // The real answer still works.
    assert_eq!(c.receive(now, &serve(&bind, ok)), Received::Consumed);
    assert_eq!(c.poll_transmit().unwrap(), b"\x40\x00\x00\x01x");
}

#[test]
fn allocation_and_channels_are_refreshed_in_time() {
    let t0 = Instant::now();
    let mut c = allocated(t0);
    let peer: SocketAddr = "203.0.113.5:1935".parse().unwrap();
    c.send(t0, peer, b"x".to_vec());
    pump(&mut c, t0, ok);
    while c.poll_transmit().is_some() {}
    // Channel refresh at 240 s while in use.
    let t1 = t0 + Duration::from_secs(240);
    c.send(t1 - Duration::from_secs(1), peer, b"y".to_vec());
    assert_eq!(c.poll_timeout(), Some(t1));
    c.handle_timeout(t1);
    let refresh = c.poll_transmit().unwrap();
    let m = Message::parse(&refresh).unwrap();
    assert_eq!(m.method, method::CHANNEL_BIND);
    assert_eq!(m.get(attr::CHANNEL_NUMBER), Some(&[0x40, 0x00, 0, 0][..]));
    assert_eq!(c.receive(t1, &serve(&refresh, ok)), Received::Consumed);
    // The allocation's Refresh at 540 s.
    let t2 = t0 + Duration::from_secs(540);
    c.handle_timeout(t2);
    let refresh = c.poll_transmit().unwrap();
    let m = Message::parse(&refresh).unwrap();
    assert_eq!(m.method, method::REFRESH);
    pump(&mut c, t2, |m| {
        ok(m).attribute(attr::LIFETIME, &600u32.to_be_bytes())
    });
    assert!(c.relayed().is_some());
}

#[test]
fn a_lost_allocation_is_reported() {
    let t0 = Instant::now();
    let mut c = allocated(t0);
    let t = t0 + Duration::from_secs(540);
    c.handle_timeout(t);
    let refresh = c.poll_transmit().unwrap();
    let reply = serve(&refresh, |m| {
        Builder::new(m.method, Class::Error, m.transaction)
            .attribute(attr::ERROR_CODE, b"\0\0\x04\x25Allocation Mismatch")
    });
    c.receive(t, &reply);
    assert_eq!(
        c.poll_event(),
        Some(TurnEvent::Failed(TurnError::Refused(
            437,
            "Allocation Mismatch".into()
        )))
    );
}

#[test]
fn garbage_from_the_server_is_counted_not_fatal() {
    let now = Instant::now();
    let mut c = allocated(now);
    for junk in [&b""[..], b"\x00", b"\x40", b"\xff\xff\xff\xff", &[0u8; 20]] {
        assert_eq!(c.receive(now, junk), Received::Invalid);
    }
    assert_eq!(c.stats().invalid, 5);
    assert!(c.relayed().is_some());
}

#[test]
fn uris_parse_with_and_without_credentials() {
    let u = TurnUri::parse("turn://user:p%40ss@turn.example:3479").unwrap();
    assert_eq!(
        (
            u.host.as_str(),
            u.port,
            u.username.as_deref(),
            u.password.as_deref()
        ),
        ("turn.example", 3479, Some("user"), Some("p@ss"))
    );
    let u = TurnUri::parse("turn:198.51.100.1").unwrap();
    assert_eq!(
        (u.host.as_str(), u.port, u.username),
        ("198.51.100.1", 3478, None)
    );
    let u = TurnUri::parse("turn:[2001:db8::1]:5000").unwrap();
    assert_eq!((u.host.as_str(), u.port), ("2001:db8::1", 5000));
    assert!(TurnUri::parse("turn://user@host").is_err());
    assert!(TurnUri::parse("turn:host:notaport").is_err());
    assert!(TurnUri::parse("turns:host").is_err());
    assert!(TurnUri::parse("turn:").is_err());
    let cfg = TurnUri::parse("turn://a:b@127.0.0.1:3478")
        .unwrap()
        .resolve(None, None)
        .unwrap();
    assert_eq!(cfg.server, "127.0.0.1:3478".parse().unwrap());
    assert_eq!((cfg.username.as_str(), cfg.password.as_str()), ("a", "b"));
    assert!(TurnUri::parse("turn:127.0.0.1")
        .unwrap()
        .resolve(None, None)
        .is_err());
    let secret = TurnUri::parse("turn://a:s3cr3t-pw@127.0.0.1").unwrap();
    assert!(
        !format!("{secret:?}").contains("s3cr3t"),
        "no password in logs"
    );
    let cfg = secret.resolve(None, None).unwrap();
    assert!(
        !format!("{cfg:?}").contains("s3cr3t"),
        "no password in logs"
    );
}
