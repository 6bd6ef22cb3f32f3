//! `rtmfp check`: does UDP reach the server, at what address does it see
//! us, and what does our NAT do (mapping, filtering)?  The work is
//! `rtmfp_core::flash::check::check`; this prints its report.  See
//! `rtmfp_core::check` and docs/nat.md.

use crate::common::{fail, parse_duration, parse_listen, CliError, Result, SecurityArgs};
use crate::peer::{self, StreamUri};
use clap::Args;
use rtmfp_core::check::{Filtering, Mapping};
use rtmfp_core::flash::check::{check, CheckOptions, CheckReport};
use rtmfp_core::flash::NetConnectionConfig;
use rtmfp_core::rendezvous::CHECK_INFO;
use std::net::SocketAddr;
use std::time::Duration;

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

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

pub fn run(args: CheckArgs) -> Result<()> {
    crate::common::install_signal_handlers();
    let uri = full_uri(&args.uri).map_err(CliError::Usage)?;
    let mut config = NetConnectionConfig {
        bind: vec![args.bind],
        ..NetConnectionConfig::default()
    };
    config.flash = args.security.apply(config.flash);
    let options = CheckOptions {
        config,
        timeout: args.timeout,
        stun: args.stun,
    };
    let r = check(&uri.uri, options);
    print(&uri, &r)
}

/// Prints the report, one line per finding; an error if the server did
/// not answer.
fn print(uri: &StreamUri, r: &CheckReport) -> Result<()> {
    if let Some(why) = &r.connect_error {
        println!("server      {}", uri.connection);
        println!(
            "udp         no session with the server: {why}. UDP to it is blocked on the way, \
             or nothing listens there"
        );
        return Err(fail("the server did not answer"));
    }
    let id = r
        .server_id
        .as_deref()
        .map(|h| format!("{}...", &h[..16.min(h.len())]));
    println!(
        "server      {} at {}",
        id.unwrap_or_default(),
        r.server.map(|a| a.to_string()).unwrap_or_default()
    );
    println!(
        "udp         reaches the server: connected in {}{}",
        r.connected_in.map(ms).unwrap_or_default(),
        r.rtt
            .map(|rtt| format!(", RTT {}", ms(rtt)))
            .unwrap_or_default()
    );
    match (r.public_address, &r.check_info_error) {
        (Some(p), _) => {
            let nat = match r.local {
                Some(l) if l == p => " (no NAT: the server sees our own address)".to_owned(),
                Some(l) => format!(
                    " (local {l}: behind a NAT, {})",
                    if l.port() == p.port() {
                        "port kept"
                    } else {
                        "port changed"
                    }
                ),
                None => String::new(),
            };
            println!("public      the server sees us at {p}{nat}");
        }
        (None, Some(why)) => println!(
            "public      unknown: the server does not answer {CHECK_INFO} ({why}); \
             not an rtmfp server, or an older one"
        ),
        (None, None) => println!("public      unknown: unexpected answer to {CHECK_INFO}"),
    }
    let Some(server) = r.stun else {
        println!(
            "check       the server runs no check service (rtmfp server --check ADDR); \
             give --stun ADDR of an RFC 5780 STUN server to test the NAT"
        );
        println!("verdict     UDP works; NAT behaviour not measured");
        return Ok(());
    };
    let Some(n) = &r.nat else {
        println!(
            "check       {server}: cannot test: {}",
            r.stun_error.as_deref().unwrap_or("?")
        );
        println!("verdict     UDP reaches the server; NAT behaviour not measured");
        return Ok(());
    };
    let Some(mapped) = n.mapped else {
        println!("check       {server}: no answer (UDP to that port blocked?)");
        println!("verdict     UDP reaches the server; NAT behaviour not measured");
        return Ok(());
    };
    println!(
        "check       {server}{}: it sees our second socket (port {}) at {mapped}, RTT {}",
        n.other.map(|o| format!(" and {o}")).unwrap_or_default(),
        r.stun_local.map(|l| l.port()).unwrap_or_default(),
        n.rtt.map(ms).unwrap_or_default()
    );
    let to = |a: Option<SocketAddr>| a.map(|a| a.to_string()).unwrap_or_else(|| "-".into());
    let other_ip = n.mapped_other_ip.map(|m| {
        let ip = n.other.map(|o| o.ip().to_string()).unwrap_or_default();
        format!(", {m} to {ip}:{}", server.port())
    });
    println!(
        "mapping     {} ({mapped} to {server}, {} to {}{})",
        n.mapping,
        to(n.mapped_other),
        to(n.other),
        other_ip.unwrap_or_default()
    );
    println!("filtering   {}", n.filtering);
    if n.unsolicited_leaves_state == Some(true) {
        println!(
            "unsolicited a refused datagram left state in the NAT: our next datagram to its \
             source left from another port (a router without an input filter; direct P2P \
             then fails when the peer's first datagram arrives before ours leaves, as with \
             a peer close by: docs/nat.md)"
        );
    }
    let verdict = match (n.mapping, n.filtering) {
        (
            Mapping::AddressAndPortDependent | Mapping::AddressDependent,
            Filtering::EndpointIndependent,
        ) => {
            "direct P2P likely works when the other peer's NAT maps endpoint-independently; \
             between two NATs like this one it fails: use a relay (through the server, or a \
             TURN proxy)"
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
