//! `rtmfp check`: does UDP reach the server, at what address does it see
//! us, and what does our NAT do (mapping, filtering)?  See
//! `rtmfp_core::check` and docs/nat.md.

use crate::common::{fail, parse_duration, parse_listen, CliError, Result, SecurityArgs};
use crate::peer::{self, ClientArgs, StreamUri};
use clap::Args;
use rtmfp_core::check::{Filtering, Mapping, NatReport, Prober};
use rtmfp_core::flash::{NetConnection, Value};
use rtmfp_core::rendezvous::CHECK_INFO;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// Tell in a few seconds whether UDP reaches a server, what address it
/// sees, and what this host's NAT does
#[derive(Args, Debug)]
#[command(after_help = "\
It connects to the server (the round trip and the handshake time say that \
UDP gets through), asks it with the checkInfo command at what address it \
sees us and where its check service listens (`rtmfp server --check ADDR`), \
then runs the RFC 5780 tests against that service from two more UDP \
sockets: mapping (is our public port the same toward every destination?) \
on one, and filtering (does the NAT let in datagrams from addresses we \
have not sent to? does one it refused leave state behind?) on the other.  --stun ADDR uses another RFC 5780 STUN server instead.

Output, one line each: `server`, `udp`, `public`, `check`, `mapping`, \
`filtering`, `unsolicited` (only when the NAT keeps state for datagrams it \
refused), `verdict`.  Exit status 1 if the server does not answer.")]
pub struct CheckArgs {
    /// rtmfp://HOST[:PORT][/APP[/KEY]] (port 1935 by default)
    #[arg(value_name = "URI")]
    pub uri: String,
    /// Run the NAT tests against this RFC 5780 STUN server (its primary
    /// address) instead of the server's check service.
    #[arg(long, value_name = "ADDR", value_parser = parse_listen)]
    pub stun: Option<SocketAddr>,
    /// Local UDP address to bind (port 0: any free port).
    #[arg(long, value_name = "ADDR", value_parser = parse_listen, default_value = "0.0.0.0:0")]
    pub bind: SocketAddr,
    /// How long to wait for the server, in seconds.
    #[arg(long, value_name = "SECS", value_parser = parse_duration, default_value = "5")]
    pub timeout: Duration,
    #[command(flatten)]
    pub security: SecurityArgs,
}

/// The URI with an app if it has none, as `connect` needs one.
fn full_uri(uri: &str) -> std::result::Result<StreamUri, String> {
    let rest = uri
        .strip_prefix("rtmfp://")
        .ok_or_else(|| format!("bad URI {uri:?}: want rtmfp://HOST[:PORT][/APP[/KEY]]"))?;
    let base = match rest.split_once('#') {
        Some((b, _)) => b,
        None => rest,
    };
    let with_app = if base.trim_end_matches('/').contains('/') {
        format!("rtmfp://{}", base.trim_end_matches('/'))
    } else {
        format!("rtmfp://{}/check", base.trim_end_matches('/'))
    };
    peer::parse_stream_uri(&format!("{with_app}#check"))
}

/// The local IP the system would use toward `to` (no datagram is sent).
fn local_ip_toward(to: SocketAddr) -> Option<std::net::IpAddr> {
    let bind: SocketAddr = if to.is_ipv4() {
        "0.0.0.0:0".parse().ok()?
    } else {
        "[::]:0".parse().ok()?
    };
    let s = UdpSocket::bind(bind).ok()?;
    s.connect(to).ok()?;
    s.local_addr().ok().map(|a| a.ip())
}

/// Runs the RFC 5780 tests from two fresh sockets: the local address of
/// the first (the mapping socket) and the report.
pub fn probe(server: SocketAddr, bind: SocketAddr) -> std::io::Result<(SocketAddr, NatReport)> {
    let bind = match (bind.is_ipv4(), server.is_ipv4()) {
        (true, false) => SocketAddr::new("::".parse().expect("literal"), 0),
        _ => SocketAddr::new(bind.ip(), 0),
    };
    let sockets = [UdpSocket::bind(bind)?, UdpSocket::bind(bind)?];
    for s in &sockets {
        s.set_nonblocking(true)?;
    }
    let local = sockets[0].local_addr()?;
    let mut prober = Prober::new(server, Instant::now());
    let mut buf = [0u8; 1500];
    while !prober.is_done() {
        while let Some(t) = prober.poll_transmit(Instant::now()) {
            let _ = sockets[t.socket].send_to(&t.data, t.to);
        }
        let mut got = false;
        for (i, s) in sockets.iter().enumerate() {
            loop {
                match s.recv_from(&mut buf) {
                    Ok((n, from)) => {
                        got = true;
                        prober.handle_datagram(Instant::now(), i, from, &buf[..n]);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    // ICMP errors from earlier sends: nothing to read.
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {}
                    Err(e) => return Err(e),
                }
            }
        }
        if !got {
            let wait = prober
                .poll_timeout()
                .map(|t| t.saturating_duration_since(Instant::now()))
                .unwrap_or(Duration::ZERO);
            std::thread::sleep(wait.min(Duration::from_millis(2)));
        }
    }
    Ok((local, prober.report()))
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

pub fn run(args: CheckArgs) -> Result<()> {
    crate::common::install_signal_handlers();
    let uri = full_uri(&args.uri).map_err(CliError::Usage)?;
    let client = ClientArgs {
        bind: args.bind,
        timeout: args.timeout,
        security: args.security,
    };
    let started = Instant::now();
    let nc = match peer::connect(&uri, &client) {
        Ok(nc) => nc,
        Err(e) => {
            println!("server      {}", uri.connection);
            println!(
                "udp         no session with the server within {:?}: {e}. UDP to it is \
                 blocked on the way, or nothing listens there",
                args.timeout
            );
            return Err(fail("the server did not answer"));
        }
    };
    let connected = started.elapsed();
    let result = report(&args, &nc, connected);
    nc.close(Duration::from_millis(500));
    result
}

fn report(args: &CheckArgs, nc: &NetConnection, connected: Duration) -> Result<()> {
    let session = nc
        .with_client(|c, ep, _| {
            c.server_session()
                .and_then(|s| ep.session_info(s))
                .map(|i| (i.far_address, i.stats.srtt))
        })
        .ok()
        .flatten();
    let far = session.map(|s| s.0);
    println!(
        "server      {} at {}",
        nc.far_id_hex()
            .ok()
            .flatten()
            .map(|h| h[..16].to_owned() + "...")
            .unwrap_or_default(),
        far.map(|a| a.to_string()).unwrap_or_default()
    );
    println!(
        "udp         reaches the server: connected in {}{}",
        ms(connected),
        session
            .and_then(|s| s.1)
            .map(|rtt| format!(", RTT {}", ms(rtt)))
            .unwrap_or_default()
    );
    let local_port = nc.local_addrs().first().map(|a| a.port());
    let local_ip = far.and_then(local_ip_toward);
    let answer = peer::call(nc, CHECK_INFO, vec![], args.timeout, |_| {})?;
    let (public, check): (Option<SocketAddr>, Vec<SocketAddr>) = match &answer {
        Ok(Some(info)) => (
            info.get_str("publicAddress").and_then(|s| s.parse().ok()),
            match info.get("check") {
                Some(Value::StrictArray(list)) => list
                    .iter()
                    .filter_map(|v| v.as_str().and_then(|s| s.parse().ok()))
                    .collect(),
                _ => Vec::new(),
            },
        ),
        _ => (None, Vec::new()),
    };
    match (public, &answer) {
        (Some(p), _) => {
            let nat = match (local_ip, local_port) {
                (Some(ip), Some(port)) if ip == p.ip() && port == p.port() => {
                    "no NAT: the server sees our own address".to_owned()
                }
                (Some(ip), Some(port)) => format!(
                    "local {ip}:{port}: behind a NAT{}",
                    if port == p.port() {
                        ", port kept"
                    } else {
                        ", port changed"
                    }
                ),
                _ => String::new(),
            };
            println!(
                "public      the server sees us at {p}{}",
                if nat.is_empty() {
                    nat
                } else {
                    format!(" ({nat})")
                }
            );
        }
        (None, Err(why)) => println!(
            "public      unknown: the server does not answer {CHECK_INFO} ({why}); \
             not an rtmfp server, or an older one"
        ),
        (None, Ok(_)) => println!("public      unknown: unexpected answer to {CHECK_INFO}"),
    }
    let server = match (args.stun, check.first()) {
        (Some(s), _) => Some(s),
        (None, Some(s)) => Some(*s),
        (None, None) => None,
    };
    let Some(server) = server else {
        println!("check       the server runs no check service (rtmfp server --check ADDR); give --stun ADDR of an RFC 5780 STUN server to test the NAT");
        println!("verdict     UDP works; NAT behaviour not measured");
        return Ok(());
    };
    let (local, r) = probe(server, args.bind).map_err(|e| fail(format!("check: {e}")))?;
    let Some(mapped) = r.mapped else {
        println!("check       {server}: no answer (UDP to that port blocked?)");
        println!("verdict     UDP reaches the server; NAT behaviour not measured");
        return Ok(());
    };
    println!(
        "check       {server}{}: it sees our second socket (port {}) at {mapped}, RTT {}",
        r.other.map(|o| format!(" and {o}")).unwrap_or_default(),
        local.port(),
        r.rtt.map(ms).unwrap_or_default()
    );
    let to = |a: Option<SocketAddr>| a.map(|a| a.to_string()).unwrap_or_else(|| "-".into());
    println!(
        "mapping     {} ({mapped} to {server}, {} to {}{})",
        r.mapping,
        to(r.mapped_other),
        to(r.other),
        r.mapped_other_ip
            .map(|m| format!(
                ", {m} to {}:{}",
                r.other.map(|o| o.ip().to_string()).unwrap_or_default(),
                server.port()
            ))
            .unwrap_or_default()
    );
    println!("filtering   {}", r.filtering);
    if r.unsolicited_leaves_state == Some(true) {
        println!(
            "unsolicited a refused datagram left state in the NAT: our next datagram to its \
             source left from another port (a router without an input filter; direct P2P \
             then fails when the peer's first datagram arrives before ours leaves, as with \
             a peer close by: docs/nat.md)"
        );
    }
    let verdict = match (r.mapping, r.filtering) {
        (Mapping::AddressAndPortDependent | Mapping::AddressDependent, Filtering::EndpointIndependent) => {
            "direct P2P likely works when the other peer's NAT maps endpoint-independently; \
             between two NATs like this one it fails: use a relay (through the server, or a TURN proxy)"
        }
        (Mapping::AddressAndPortDependent | Mapping::AddressDependent, _) => {
            "direct P2P fails with peers behind NATs that filter (most do): use a relay \
             (through the server, or a TURN proxy)"
        }
        (Mapping::EndpointIndependent | Mapping::NotPortDependent, _) => {
            "direct P2P should work with introductions, unless the other peer's NAT is symmetric"
        }
        (Mapping::Unknown, _) => "UDP works; NAT mapping not measured",
    };
    println!("verdict     {verdict}");
    Ok(())
}
