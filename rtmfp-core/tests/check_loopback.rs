//! `rtmfp_core::flash::check::check` over loopback: a rendezvous server
//! whose check service (a `check::Responder` on two ports of 127.0.0.1
//! and of 127.0.0.2, driven by plain threads here) answers the NAT tests.
//! Loopback has no NAT: everything must come out open.

use rtmfp_core::check::{Filtering, Mapping, Responder};
use rtmfp_core::flash::check::{check, CheckOptions};
use rtmfp_core::flash::NetConnectionConfig;
use rtmfp_core::rendezvous::{Hooks, ServerConfig, ServerHandle};
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

fn loopback() -> Vec<SocketAddr> {
    vec!["127.0.0.1:0".parse().unwrap()]
}

/// Two ports of 127.0.0.1 and the same two of 127.0.0.2.  The system
/// picks the ports on 127.0.0.1; another program may hold one of them on
/// 127.0.0.2, so a pair that is taken there is given back and another
/// tried.
fn four_sockets() -> [UdpSocket; 4] {
    for _ in 0..100 {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        let (p1, p2) = (
            a.local_addr().unwrap().port(),
            b.local_addr().unwrap().port(),
        );
        if let (Ok(c), Ok(d)) = (
            UdpSocket::bind(("127.0.0.2", p1)),
            UdpSocket::bind(("127.0.0.2", p2)),
        ) {
            return [a, b, c, d];
        }
    }
    panic!("no two ports free on both 127.0.0.1 and 127.0.0.2 in 100 tries");
}

/// A check service on four loopback addresses; its threads live as long
/// as the test process.
fn check_service() -> Vec<SocketAddr> {
    let sockets = Arc::new(four_sockets());
    let addrs: Vec<SocketAddr> = sockets.iter().map(|s| s.local_addr().unwrap()).collect();
    let responder = Arc::new(Responder::new(addrs.clone()));
    for i in 0..4 {
        let (sockets, responder) = (sockets.clone(), responder.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            let me = sockets[i].local_addr().unwrap();
            while let Ok((n, from)) = sockets[i].recv_from(&mut buf) {
                if let Some(reply) = responder.handle(me, from, &buf[..n]) {
                    let out = sockets
                        .iter()
                        .find(|s| s.local_addr().unwrap() == reply.from);
                    let _ = out.unwrap().send_to(&reply.data, reply.to);
                }
            }
        });
    }
    addrs
}

fn options() -> CheckOptions {
    CheckOptions {
        config: NetConnectionConfig {
            bind: loopback(),
            ..NetConnectionConfig::default()
        },
        timeout: Duration::from_secs(10),
        stun: None,
    }
}

#[test]
fn a_server_with_a_check_service_reports_no_nat_and_everything_open() {
    let service = check_service();
    let server = ServerHandle::start(
        &loopback(),
        ServerConfig {
            check_addresses: service.clone(),
            ..ServerConfig::default()
        },
        Hooks::default(),
    )
    .unwrap();
    let port = server.local_addrs()[0].port();
    let r = check(&format!("rtmfp://127.0.0.1:{port}/app"), options());
    assert_eq!(r.connect_error, None, "{r:?}");
    assert!(r.connected_in.is_some() && r.server_id.is_some(), "{r:?}");
    assert_eq!(r.check_info_error, None, "{r:?}");
    assert_eq!(r.no_nat(), Some(true), "{r:?}");
    assert_eq!(r.check_addresses, service);
    assert_eq!(r.stun, Some(service[0]));
    let nat = r.nat.expect("the NAT tests ran");
    assert_eq!(nat.mapped, r.stun_local, "{nat:?}");
    assert_eq!(nat.other, Some(service[3]));
    assert_eq!(nat.mapping, Mapping::EndpointIndependent, "{nat:?}");
    assert_eq!(nat.filtering, Filtering::EndpointIndependent, "{nat:?}");
    assert_eq!(nat.unsolicited_leaves_state, None, "{nat:?}");
}

#[test]
fn no_server_is_a_connect_error_and_nothing_else() {
    let free = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let mut o = options();
    o.timeout = Duration::from_secs(2);
    let r = check(&format!("rtmfp://127.0.0.1:{port}/app"), o);
    assert!(r.connect_error.is_some(), "{r:?}");
    assert_eq!((r.public_address, r.nat.is_none()), (None, true), "{r:?}");
}
