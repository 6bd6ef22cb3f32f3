//! The words of a [`CheckReport`]: one line per finding and a verdict,
//! the same in the CLI (`rtmfp check`), C, Python and Node.

use super::check::CheckReport;
use crate::check::{Filtering, Mapping};
use crate::rendezvous::CHECK_INFO;
use std::net::SocketAddr;
use std::time::Duration;

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

/// The URI `check` connects to: `uri` with an app (`/check`) if it has
/// none, without a fragment.  An error for anything but `rtmfp://`.
pub fn check_uri(uri: &str) -> Result<String, String> {
    let rest = uri
        .strip_prefix("rtmfp://")
        .ok_or_else(|| format!("bad URI {uri:?}: want rtmfp://HOST[:PORT][/APP[/KEY]]"))?;
    let base = rest.split_once('#').map_or(rest, |(b, _)| b);
    let base = base.trim_end_matches('/');
    if base.is_empty() {
        return Err(format!("bad URI {uri:?}: no host"));
    }
    Ok(if base.contains('/') {
        format!("rtmfp://{base}")
    } else {
        format!("rtmfp://{base}/check")
    })
}

impl CheckReport {
    /// Whether the server answered (a session and `connect` success).
    pub fn reached(&self) -> bool {
        self.connect_error.is_none()
    }

    /// What the NAT's behaviour means for direct peer-to-peer streams.
    pub fn verdict(&self) -> &'static str {
        if !self.reached() {
            return "UDP does not reach the server";
        }
        let Some(n) = self.nat.as_ref().filter(|n| n.mapped.is_some()) else {
            return "UDP reaches the server; NAT behaviour not measured";
        };
        match (n.mapping, n.filtering) {
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
                "direct P2P should work with introductions, unless the other peer's NAT is \
                 symmetric"
            }
            (Mapping::Unknown, _) => "UDP works; NAT mapping not measured",
        }
    }

    /// The findings, one `(key, text)` per line: `server`, `udp` (or
    /// `turn` when a TURN proxy failed),
    /// `public`, `check`, `mapping`, `filtering`, `unsolicited` (only when
    /// the NAT keeps state for datagrams it refused), `verdict`.
    /// `connection` names the server when it did not answer.
    pub fn lines(&self, connection: &str) -> Vec<(&'static str, String)> {
        let mut out: Vec<(&'static str, String)> = Vec::new();
        if let Some(why) = &self.connect_error {
            out.push(("server", connection.to_owned()));
            if self.turn_failed {
                out.push(("turn", format!("the TURN proxy does not work: {why}")));
            } else {
                out.push((
                    "udp",
                    format!(
                        "no session with the server: {why}. UDP to it is blocked on the way, \
                         or nothing listens there"
                    ),
                ));
            }
            out.push(("verdict", self.verdict().to_owned()));
            return out;
        }
        let id = self
            .server_id
            .as_deref()
            .map(|h| format!("{}...", &h[..16.min(h.len())]));
        out.push((
            "server",
            format!(
                "{} at {}",
                id.unwrap_or_default(),
                self.server.map(|a| a.to_string()).unwrap_or_default()
            ),
        ));
        out.push((
            "udp",
            format!(
                "reaches the server: connected in {}{}",
                self.connected_in.map(ms).unwrap_or_default(),
                self.rtt
                    .map(|rtt| format!(", RTT {}", ms(rtt)))
                    .unwrap_or_default()
            ),
        ));
        out.push((
            "public",
            match (self.public_address, &self.check_info_error) {
                (Some(p), _) => {
                    let nat = match self.local {
                        Some(l) if l == p => {
                            " (no NAT: the server sees our own address)".to_owned()
                        }
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
                    format!("the server sees us at {p}{nat}")
                }
                (None, Some(why)) => format!(
                    "unknown: the server does not answer {CHECK_INFO} ({why}); \
                     not an rtmfp server, or an older one"
                ),
                (None, None) => format!("unknown: unexpected answer to {CHECK_INFO}"),
            },
        ));
        let verdict = ("verdict", self.verdict().to_owned());
        let Some(server) = self.stun else {
            out.push((
                "check",
                "the server runs no check service (rtmfp server --check ADDR); give an \
                 RFC 5780 STUN server (--stun ADDR) to test the NAT"
                    .to_owned(),
            ));
            out.push(verdict);
            return out;
        };
        let Some(n) = &self.nat else {
            out.push((
                "check",
                format!(
                    "{server}: cannot test: {}",
                    self.stun_error.as_deref().unwrap_or("?")
                ),
            ));
            out.push(verdict);
            return out;
        };
        let Some(mapped) = n.mapped else {
            out.push((
                "check",
                format!("{server}: no answer (UDP to that port blocked?)"),
            ));
            out.push(verdict);
            return out;
        };
        out.push((
            "check",
            format!(
                "{server}{}: it sees our second socket (port {}) at {mapped}, RTT {}",
                n.other.map(|o| format!(" and {o}")).unwrap_or_default(),
                self.stun_local.map(|l| l.port()).unwrap_or_default(),
                n.rtt.map(ms).unwrap_or_default()
            ),
        ));
        let to = |a: Option<SocketAddr>| a.map(|a| a.to_string()).unwrap_or_else(|| "-".into());
        let other_ip = n.mapped_other_ip.map(|m| {
            let ip = n.other.map(|o| o.ip().to_string()).unwrap_or_default();
            format!(", {m} to {ip}:{}", server.port())
        });
        out.push((
            "mapping",
            format!(
                "{} ({mapped} to {server}, {} to {}{})",
                n.mapping,
                to(n.mapped_other),
                to(n.other),
                other_ip.unwrap_or_default()
            ),
        ));
        out.push(("filtering", n.filtering.to_string()));
        if n.unsolicited_leaves_state == Some(true) {
            out.push((
                "unsolicited",
                "a refused datagram left state in the NAT: our next datagram to its source \
                 left from another port (a router without an input filter; direct P2P then \
                 fails when the peer's first datagram arrives before ours leaves, as with a \
                 peer close by: docs/nat.md)"
                    .to_owned(),
            ));
        }
        out.push(verdict);
        out
    }

    /// [`CheckReport::lines`] as text: `key` padded to 12 columns, one
    /// line each.
    pub fn text(&self, connection: &str) -> String {
        self.lines(connection)
            .into_iter()
            .map(|(k, v)| format!("{k:<11} {v}\n"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_get_an_app_and_lose_the_fragment() {
        assert_eq!(check_uri("rtmfp://h").unwrap(), "rtmfp://h/check");
        assert_eq!(
            check_uri("rtmfp://h:1935/").unwrap(),
            "rtmfp://h:1935/check"
        );
        assert_eq!(
            check_uri("rtmfp://h/app/key#s").unwrap(),
            "rtmfp://h/app/key"
        );
        assert!(check_uri("http://h").is_err());
        assert!(check_uri("rtmfp://").is_err());
    }
}
