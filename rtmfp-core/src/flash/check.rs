//! `rtmfp check` as a library call: does UDP reach an RTMFP server, at
//! what address does it see us, and what does our NAT do?  The design is
//! in [`crate::check`] and docs/nat.md.

use super::client::ClientEvent;
use super::command::code;
use super::net_connection::{NetConnection, NetConnectionConfig};
use super::Value;
use crate::check::NatReport;
use crate::rendezvous::CHECK_INFO;
use crate::runtime::{local_ip_toward, probe_nat};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// What [`check`] does.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// The NetConnection's settings (its first bind address is also the
    /// check sockets' IP).
    pub config: NetConnectionConfig,
    /// How long to wait for the server, for the connect and for checkInfo.
    pub timeout: Duration,
    /// Test the NAT against this RFC 5780 STUN server instead of the
    /// server's check service.
    pub stun: Option<SocketAddr>,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            config: NetConnectionConfig::default(),
            timeout: Duration::from_secs(5),
            stun: None,
        }
    }
}

/// What [`check`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckReport {
    /// The server's peer ID (hex), once connected.
    pub server_id: Option<String>,
    /// The server's address, once connected.
    pub server: Option<SocketAddr>,
    /// Why there is no session with the server (UDP blocked, nothing
    /// listening, rejected).  Everything below is then empty.
    pub connect_error: Option<String>,
    /// How long `connect` took (two round trips and the key exchange).
    pub connected_in: Option<Duration>,
    /// The session's smoothed round-trip time.
    pub rtt: Option<Duration>,
    /// Our session's local address (its IP as routed toward the server).
    pub local: Option<SocketAddr>,
    /// The address the server sees us at (`checkInfo`).
    pub public_address: Option<SocketAddr>,
    /// Why `checkInfo` gave nothing (not an rtmfp server, or an older one).
    pub check_info_error: Option<String>,
    /// Where the server's check service listens (empty: it runs none).
    pub check_addresses: Vec<SocketAddr>,
    /// The STUN server the NAT tests ran against.
    pub stun: Option<SocketAddr>,
    /// The local address of the NAT tests' first socket.
    pub stun_local: Option<SocketAddr>,
    /// The NAT tests' results (`None`: not run, or their sockets failed:
    /// see `stun_error`).
    pub nat: Option<NatReport>,
    /// Why the NAT tests could not run.
    pub stun_error: Option<String>,
    /// The connect failed at the TURN relay (`connect_error` says how).
    pub turn_failed: bool,
}

impl CheckReport {
    /// Whether the server is behind no NAT from our side: it sees our own
    /// address.
    pub fn no_nat(&self) -> Option<bool> {
        Some(self.public_address? == self.local?)
    }
}

/// Connects to `uri` (`rtmfp://HOST[:PORT]/APP...`), asks `checkInfo`,
/// runs the NAT tests, closes.  Blocks for up to `timeout` plus about
/// three seconds; never fails as such: what went wrong is in the report.
pub fn check(uri: &str, options: CheckOptions) -> CheckReport {
    let mut report = CheckReport {
        server_id: None,
        server: None,
        connect_error: None,
        connected_in: None,
        rtt: None,
        local: None,
        public_address: None,
        check_info_error: None,
        check_addresses: Vec::new(),
        stun: None,
        stun_local: None,
        nat: None,
        stun_error: None,
        turn_failed: false,
    };
    let bind = options
        .config
        .bind
        .first()
        .copied()
        .unwrap_or_else(|| SocketAddr::from(([0u8; 4], 0)));
    let started = Instant::now();
    let nc = match NetConnection::connect(uri, options.config.clone()) {
        Ok(nc) => nc,
        Err(e) => {
            report.turn_failed = matches!(
                &e,
                super::NetError::Io(io) if crate::turn::TurnStartError::of(io).is_some()
            );
            report.connect_error = Some(e.to_string());
            return report;
        }
    };
    let deadline = started + options.timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(event) = nc.next_event_timeout(left.min(Duration::from_millis(200))) else {
            if left.is_zero() {
                report.connect_error = Some(format!("no answer within {:?}", options.timeout));
                nc.close(Duration::from_millis(200));
                return report;
            }
            continue;
        };
        let ClientEvent::Status { stream: None, info } = event else {
            continue;
        };
        if info.code == code::CONNECT_SUCCESS {
            break;
        }
        report.connect_error = Some(if info.description.is_empty() {
            info.code
        } else {
            format!("{}: {}", info.code, info.description)
        });
        nc.close(Duration::from_millis(200));
        return report;
    }
    report.connected_in = Some(started.elapsed());
    report.server_id = nc.far_id_hex().ok().flatten();
    if let Some((far, rtt)) = nc
        .with_client(|c, ep, _| {
            c.server_session()
                .and_then(|s| ep.session_info(s))
                .map(|i| (i.far_address, i.stats.srtt))
        })
        .ok()
        .flatten()
    {
        report.server = Some(far);
        report.rtt = rtt;
        let port = nc.local_addrs().first().map(|a| a.port());
        report.local = local_ip_toward(far)
            .zip(port)
            .map(|(ip, p)| SocketAddr::new(ip, p));
    }
    match call(&nc, CHECK_INFO, options.timeout) {
        Ok(Some(info)) => {
            report.public_address = info.get_str("publicAddress").and_then(|s| s.parse().ok());
            if let Some(Value::StrictArray(list)) = info.get("check") {
                report.check_addresses = list
                    .iter()
                    .filter_map(|v| v.as_str().and_then(|s| s.parse().ok()))
                    .collect();
            }
        }
        Ok(None) => report.check_info_error = Some("an empty answer".into()),
        Err(why) => report.check_info_error = Some(why),
    }
    nc.close(Duration::from_millis(500));
    report.stun = options
        .stun
        .or_else(|| report.check_addresses.first().copied());
    if let Some(stun) = report.stun {
        match probe_nat(stun, bind) {
            Ok((local, nat)) => {
                report.stun_local = Some(local);
                report.nat = Some(nat);
            }
            Err(e) => report.stun_error = Some(e.to_string()),
        }
    }
    report
}

/// Calls `name` and waits for its `_result` (first argument) or `_error`.
fn call(nc: &NetConnection, name: &str, timeout: Duration) -> Result<Option<Value>, String> {
    let txn = nc.call(name, vec![]).map_err(|e| e.to_string())?;
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("no answer to {name} within {timeout:?}"));
        }
        if let Some(ClientEvent::CallResult {
            transaction_id,
            ok,
            response,
        }) = nc.next_event_timeout(left.min(Duration::from_millis(200)))
        {
            if transaction_id != txn {
                continue;
            }
            if ok {
                return Ok(response.args.first().cloned());
            }
            return Err(response
                .status_info()
                .map(|i| format!("{}: {}", i.code, i.description))
                .unwrap_or_else(|| "refused".into()));
        }
    }
}
