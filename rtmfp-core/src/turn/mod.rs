//! TURN relaying (RFC 8656), Flash Player's `RTMFPTURNProxy`: every
//! datagram of an endpoint goes through one relay allocation, so that a
//! host whose firewall lets UDP reach only the TURN server can still
//! talk RTMFP, and so that peers behind any NAT can reach it at its
//! relayed address.
//!
//! - [`crate::stun`]: the STUN/TURN message codec (checked against the
//!   RFC 5769 test vectors), shared with `rtmfp check`.
//! - [`client`]: the sans-IO allocation state machine.
//! - [`TurnConfig`] and [`TurnUri`]: what a user configures, in one
//!   place for Rust, C, Python, Node and the CLI.
//!
//! The codec is our own, a few hundred lines: the STUN crates that exist
//! either bring an async runtime (webrtc-rs' `turn`) or a larger, young
//! API for ICE agents, while a relay client needs five methods and a
//! dozen attributes, and the core must stay sans-IO.

pub mod client;

pub use client::{Received, SendOutcome, TurnClient, TurnError, TurnEvent, TurnStats};

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

/// Why a runtime could not start over its TURN relay: the `io::Error`
/// that [`Runtime::start`](crate::runtime::Runtime::start) returns carries
/// it, so that a caller tells a relay's failure from a bind's with
/// [`TurnStartError::of`] rather than by reading the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnStartError {
    /// The TURN server.
    pub server: SocketAddr,
    /// The user name tried.
    pub username: String,
    /// What went wrong.
    pub error: TurnError,
}

impl TurnStartError {
    /// The TURN failure inside `e`, if that is what it is.
    pub fn of(e: &std::io::Error) -> Option<&TurnStartError> {
        e.get_ref()?.downcast_ref::<TurnStartError>()
    }

    /// The `io::Error` for it (TimedOut, PermissionDenied or
    /// ConnectionRefused by the cause).
    pub fn into_io(self) -> std::io::Error {
        let kind = match self.error {
            TurnError::Timeout => std::io::ErrorKind::TimedOut,
            TurnError::Unauthorized => std::io::ErrorKind::PermissionDenied,
            _ => std::io::ErrorKind::ConnectionRefused,
        };
        std::io::Error::new(kind, self)
    }
}

impl fmt::Display for TurnStartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "TURN relay {} (user {:?}): {}",
            self.server, self.username, self.error
        )
    }
}

impl std::error::Error for TurnStartError {}

/// The IANA port for TURN over UDP.
pub const DEFAULT_PORT: u16 = 3478;

/// A TURN relay to use for every datagram of an endpoint.
#[derive(Clone, PartialEq, Eq)]
pub struct TurnConfig {
    /// The TURN server's address.
    pub server: SocketAddr,
    /// The long-term credential's user name.
    pub username: String,
    /// The long-term credential's password.
    pub password: String,
    /// How long the allocation may take before starting fails.
    /// Default 5 s.
    pub allocate_timeout: Duration,
    /// The allocation lifetime to ask for (RFC 8656 §7.1).  Default
    /// 600 s, the server's usual default.
    pub lifetime: Duration,
}

impl TurnConfig {
    /// Parses and resolves a proxy address (`turn:HOST[:PORT]` or
    /// `turn://USER:PASS@HOST[:PORT]`, see [`TurnUri`]); `username` and
    /// `password` override the URI's.  What every adapter calls.
    pub fn from_uri(
        uri: &str,
        username: Option<&str>,
        password: Option<&str>,
    ) -> Result<TurnConfig, String> {
        TurnUri::parse(uri)?.resolve(username, password)
    }

    /// A relay at `server` with these credentials and default timings.
    pub fn new(server: SocketAddr, username: &str, password: &str) -> TurnConfig {
        TurnConfig {
            server,
            username: username.to_owned(),
            password: password.to_owned(),
            allocate_timeout: Duration::from_secs(5),
            lifetime: Duration::from_secs(600),
        }
    }
}

impl fmt::Debug for TurnConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The password stays out of logs.
        f.debug_struct("TurnConfig")
            .field("server", &self.server)
            .field("username", &self.username)
            .field("allocate_timeout", &self.allocate_timeout)
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

/// A parsed TURN proxy address: `turn:HOST[:PORT]` or
/// `turn://USER:PASS@HOST[:PORT]` (RFC 7065 names the scheme; the
/// credentials in the authority are our CLI's convenience, as
/// Flash's mms.cfg had none).
#[derive(Clone, PartialEq, Eq)]
pub struct TurnUri {
    /// Host name or address literal (IPv6 without brackets).
    pub host: String,
    /// Port, 3478 when absent.
    pub port: u16,
    /// User name from the URI, if any.
    pub username: Option<String>,
    /// Password from the URI, if any.
    pub password: Option<String>,
}

impl fmt::Debug for TurnUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TurnUri")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl TurnUri {
    /// Parses `turn:HOST[:PORT]`, `turn://[USER:PASS@]HOST[:PORT]`, or a
    /// bare `HOST[:PORT]`.  User and password are percent-decoded.
    pub fn parse(text: &str) -> Result<TurnUri, String> {
        let bad = |why: &str| format!("bad TURN proxy {text:?}: {why}");
        let rest = text
            .strip_prefix("turn://")
            .or_else(|| text.strip_prefix("turn:"))
            .unwrap_or(text);
        if rest.starts_with("turns:") || text.starts_with("turns:") {
            return Err(bad("TURN over TLS (turns:) is not supported; use turn:"));
        }
        let (credentials, hostport) = match rest.rsplit_once('@') {
            Some((c, h)) => (Some(c), h),
            None => (None, rest),
        };
        let hostport = hostport.trim_end_matches('/');
        let (username, password) = match credentials {
            Some(c) => {
                let (u, p) = c
                    .split_once(':')
                    .ok_or_else(|| bad("credentials are USER:PASS"))?;
                (Some(percent_decode(u)), Some(percent_decode(p)))
            }
            None => (None, None),
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(|| bad("unclosed '['"))?;
            let port = match after.strip_prefix(':') {
                Some(p) => p.parse().map_err(|_| bad("bad port"))?,
                None if after.is_empty() => DEFAULT_PORT,
                None => return Err(bad("junk after ']'")),
            };
            (h.to_owned(), port)
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), p.parse().map_err(|_| bad("bad port"))?),
                None => (hostport.to_owned(), DEFAULT_PORT),
            }
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        Ok(TurnUri {
            host,
            port,
            username,
            password,
        })
    }

    /// Resolves the host (blocking DNS) into a [`TurnConfig`], with the
    /// URI's credentials unless `username`/`password` are given.
    pub fn resolve(
        &self,
        username: Option<&str>,
        password: Option<&str>,
    ) -> Result<TurnConfig, String> {
        let server = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve TURN server {}: {e}", self.host))?
            .next()
            .ok_or_else(|| format!("TURN server {} has no address", self.host))?;
        let username = username
            .or(self.username.as_deref())
            .ok_or("a TURN proxy needs a user name (turn://USER:PASS@HOST:PORT)")?;
        let password = password.or(self.password.as_deref()).unwrap_or("");
        Ok(TurnConfig::new(server, username, password))
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(hi), Some(lo)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests;
