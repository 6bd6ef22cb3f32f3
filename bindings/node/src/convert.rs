//! JS arguments to `rtmfp-core` types and back: durations (milliseconds,
//! as everywhere in Node), addresses, peer IDs, priorities.
//!
//! Everything here is a pure check or conversion: it never blocks, so it
//! runs on the JS thread and a bad argument throws at once.

use crate::errors::{invalid, Result};
use rtmfp_core::crypto::PeerId;
use rtmfp_core::flow::{DeliveryOrder, Priority};
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

/// Per-flow metadata limit (RFC 7016 §2.3.11.1.1), checked here so that
/// `openFlow` throws at once rather than failing later; the endpoint
/// checks it again.
pub const MAX_METADATA: usize = 512;

// ------------------------------------------------------------ durations --

/// Milliseconds to a `Duration`; negative, NaN or huge values are an
/// invalid argument naming `what`.
pub fn millis(ms: f64, what: &str) -> Result<Duration> {
    if ms.is_nan() || ms < 0.0 {
        return Err(invalid(format!("{what} must be >= 0 ms, got {ms}")));
    }
    Duration::try_from_secs_f64(ms / 1000.0)
        .map_err(|_| invalid(format!("{what} is out of range: {ms} ms")))
}

/// A `Duration` in milliseconds.
pub fn to_millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

// ------------------------------------------------------------ addresses --

/// One address as given: a literal, or a name still to resolve.
#[derive(Debug, Clone)]
pub enum AddrSpec {
    Ready(SocketAddr),
    Name(String, u16),
}

/// Parses `"ip:port"`, `"[ipv6]:port"` or `"host:port"` without resolving.
fn addr_spec(text: &str) -> Result<AddrSpec> {
    if let Ok(a) = text.parse::<SocketAddr>() {
        return Ok(AddrSpec::Ready(a));
    }
    let bad = || {
        invalid(format!(
            "bad address {text:?}: expected \"host:port\" or \"[ipv6]:port\""
        ))
    };
    let (host, port) = text.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || host.contains(['/', ' ']) {
        return Err(bad());
    }
    Ok(AddrSpec::Name(host.to_owned(), port))
}

/// What a failed start says: a bind error names the addresses; a TURN
/// relay's or a rendezvous cluster's failure says so itself.
pub fn start_failed(
    bind: &[std::net::SocketAddr],
    e: std::io::Error,
) -> napi::Error<crate::errors::Code> {
    use rtmfp_core::rendezvous::cluster::redis::ClusterError;
    if let Some(c) = e.get_ref().and_then(|r| r.downcast_ref::<ClusterError>()) {
        return crate::errors::err(
            crate::errors::Code::Io,
            format!("cannot join the cluster: {c}"),
        );
    }
    let addrs: Vec<String> = bind.iter().map(ToString::to_string).collect();
    let text = e.to_string();
    if rtmfp_core::turn::TurnStartError::of(&e).is_some() {
        crate::errors::err(
            crate::errors::Code::Io,
            format!("cannot start on {}: {text}", addrs.join(", ")),
        )
    } else {
        crate::errors::err(
            crate::errors::Code::Io,
            format!("cannot bind {}: {text}", addrs.join(", ")),
        )
    }
}

/// Checks a list of addresses; empty is an error.
pub fn addr_specs(list: &[String], what: &str) -> Result<Vec<AddrSpec>> {
    if list.is_empty() {
        return Err(invalid(format!("{what}: no address given")));
    }
    list.iter().map(|a| addr_spec(a)).collect()
}

/// The addresses if none needs resolving.
pub fn ready(specs: &[AddrSpec]) -> Option<Vec<SocketAddr>> {
    specs
        .iter()
        .map(|s| match s {
            AddrSpec::Ready(a) => Some(*a),
            AddrSpec::Name(..) => None,
        })
        .collect()
}

/// Resolves every address (names through the system resolver: this
/// blocks, so never on the JS thread).
pub fn resolve(specs: Vec<AddrSpec>) -> std::result::Result<Vec<SocketAddr>, String> {
    let mut out = Vec::new();
    for spec in specs {
        match spec {
            AddrSpec::Ready(a) => out.push(a),
            AddrSpec::Name(host, port) => out.extend(
                (host.as_str(), port)
                    .to_socket_addrs()
                    .map_err(|e| format!("cannot resolve {host}: {e}"))?,
            ),
        }
    }
    if out.is_empty() {
        return Err("no address to connect to".to_owned());
    }
    Ok(out)
}

// ------------------------------------------------------------- peer IDs --

/// Lowercase hex (core's, shared by every adapter).
pub use rtmfp_core::flash::peer_id::to_hex as hex;

/// A peer ID given as 64 hex digits.
pub fn peer_id(text: &str) -> Result<PeerId> {
    let bad = || {
        invalid(format!(
            "bad peer ID {text:?}: expected 64 hex digits (32 bytes)"
        ))
    };
    let digits = text.as_bytes();
    if digits.len() != 64 {
        return Err(bad());
    }
    let mut id = [0u8; 32];
    for (i, pair) in digits.chunks(2).enumerate() {
        let pair = std::str::from_utf8(pair).map_err(|_| bad())?;
        id[i] = u8::from_str_radix(pair, 16).map_err(|_| bad())?;
    }
    Ok(id)
}

// ----------------------------------------------------------- numbers --

/// A session, flow or message number from JS (a non-negative safe
/// integer).
pub fn id(value: f64, what: &str) -> Result<u64> {
    if value.fract() == 0.0 && (0.0..=9_007_199_254_740_991.0).contains(&value) {
        Ok(value as u64)
    } else {
        Err(invalid(format!(
            "{what} must be a non-negative integer, got {value}"
        )))
    }
}

/// A non-negative integer that fits 32 bits (a timestamp, a count).
pub fn u32_arg(value: f64, what: &str) -> Result<u32> {
    if value.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&value) {
        Ok(value as u32)
    } else {
        Err(invalid(format!(
            "{what} must be an integer from 0 to {}, got {value}",
            u32::MAX
        )))
    }
}

/// A number for JS.  Counters and ids stay far below 2^53.
pub fn num(value: u64) -> f64 {
    value as f64
}

// ------------------------------------------------------- flow settings --

/// A priority 0..=7 (`Priority` in the JS wrapper).
pub fn priority(level: f64) -> Result<Priority> {
    if level.fract() == 0.0 && (0.0..=7.0).contains(&level) {
        Ok(Priority::from_level(level as u8))
    } else {
        Err(invalid(format!("priority must be 0..7, got {level}")))
    }
}

/// `"sequence"` or `"network"`.
pub fn delivery_order(order: &str) -> Result<DeliveryOrder> {
    match order {
        "sequence" => Ok(DeliveryOrder::Sequence),
        "network" => Ok(DeliveryOrder::Network),
        other => Err(invalid(format!(
            "order must be 'sequence' or 'network', got {other:?}"
        ))),
    }
}
