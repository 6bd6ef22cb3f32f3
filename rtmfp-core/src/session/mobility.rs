//! Verifying a far end's new address before moving DESTADDR
//! (RFC 7016 §3.5.3, §3.5.4.2).
//!
//! A packet that verifies for an open session but comes from another
//! address triggers, at most once a second, a Ping to that address whose
//! message is `'M' ‖ MOB_TX_TS ‖ HMAC(MOB_SECRET, 'M' ‖ MOB_TX_TS ‖ addr)`.
//! Only a Ping Reply carrying that message back, from that address, moves
//! DESTADDR.  A spoofed packet cannot complete the check because the
//! reply goes to the spoofed address, not to the spoofer.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

type HmacSha256 = Hmac<Sha256>;

const MARK: u8 = b'M';
const HASH_LEN: usize = 16;
const MESSAGE_LEN: usize = 1 + 8 + HASH_LEN;
/// At most one check per this interval (§3.5.4.2).
const CHECK_INTERVAL: Duration = Duration::from_secs(1);
/// Replies older than this are refused (§3.5.4.2).
const MAX_REPLY_AGE: Duration = Duration::from_secs(120);

/// Per-session mobility state: MOB_TX_TS, MOB_RX_TS and MOB_SECRET.
#[derive(Debug, Clone)]
pub struct Mobility {
    secret: [u8; 16],
    epoch: Instant,
    tx_ts: Option<Instant>,
    rx_ts: Option<u64>,
}

impl Mobility {
    /// New state with a random secret of 128 bits.
    pub fn new(secret: [u8; 16], epoch: Instant) -> Self {
        Mobility {
            secret,
            epoch,
            tx_ts: None,
            rx_ts: None,
        }
    }

    fn hash(&self, ts: u64, address: SocketAddr) -> [u8; HASH_LEN] {
        let mut mac = HmacSha256::new_from_slice(&self.secret).expect("any key length");
        mac.update(&[MARK]);
        mac.update(&ts.to_be_bytes());
        match address.ip() {
            IpAddr::V4(ip) => mac.update(&ip.octets()),
            IpAddr::V6(ip) => mac.update(&ip.octets()),
        }
        mac.update(&address.port().to_be_bytes());
        let mut out = [0; HASH_LEN];
        out.copy_from_slice(&mac.finalize().into_bytes()[..HASH_LEN]);
        out
    }

    /// A valid packet arrived from `source`, not DESTADDR: the Ping
    /// message to send to `source`, unless a check went out within the
    /// last second.
    pub fn check_message(&mut self, now: Instant, source: SocketAddr) -> Option<Vec<u8>> {
        if let Some(last) = self.tx_ts {
            if now.saturating_duration_since(last) < CHECK_INTERVAL {
                return None;
            }
        }
        self.tx_ts = Some(now);
        let ts = now.saturating_duration_since(self.epoch).as_millis() as u64;
        let mut message = Vec::with_capacity(MESSAGE_LEN);
        message.push(MARK);
        message.extend_from_slice(&ts.to_be_bytes());
        message.extend_from_slice(&self.hash(ts, source));
        Some(message)
    }

    /// Whether a Ping Reply's message is a mobility check this end made
    /// for `source`, fresh and newer than any accepted before.  Accepting
    /// it records MOB_RX_TS; the caller then moves DESTADDR to `source`.
    pub fn accept_reply(&mut self, now: Instant, source: SocketAddr, message: &[u8]) -> bool {
        if message.len() != MESSAGE_LEN || message[0] != MARK {
            return false;
        }
        let mut ts_bytes = [0u8; 8];
        ts_bytes.copy_from_slice(&message[1..9]);
        let ts = u64::from_be_bytes(ts_bytes);
        let now_ms = now.saturating_duration_since(self.epoch).as_millis() as u64;
        if ts > now_ms || now_ms - ts > MAX_REPLY_AGE.as_millis() as u64 {
            return false;
        }
        if self.rx_ts.is_some_and(|rx| ts <= rx) {
            return false;
        }
        let expected = self.hash(ts, source);
        let got = &message[9..];
        if got
            .iter()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            != 0
        {
            return false;
        }
        self.rx_ts = Some(ts);
        true
    }

    /// Whether a Ping Reply message looks like a mobility check at all.
    pub fn is_mobility_message(message: &[u8]) -> bool {
        message.len() == MESSAGE_LEN && message[0] == MARK
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_then_reply_from_same_address_only() {
        let t0 = Instant::now();
        let mut m = Mobility::new([1; 16], t0);
        let new: SocketAddr = "198.51.100.7:4000".parse().unwrap();
        let other: SocketAddr = "198.51.100.8:4000".parse().unwrap();
        let msg = m.check_message(t0, new).unwrap();
        assert!(Mobility::is_mobility_message(&msg));
        // Rate limited to once a second.
        assert!(m
            .check_message(t0 + Duration::from_millis(500), new)
            .is_none());
        assert!(!m.accept_reply(t0, other, &msg));
        assert!(m.accept_reply(t0, new, &msg));
        // A replay of the same reply is not newer than MOB_RX_TS.
        assert!(!m.accept_reply(t0, new, &msg));
    }

    #[test]
    fn stale_or_forged_replies_fail() {
        let t0 = Instant::now();
        let mut m = Mobility::new([1; 16], t0);
        let addr: SocketAddr = "198.51.100.7:4000".parse().unwrap();
        let msg = m.check_message(t0, addr).unwrap();
        assert!(!m.accept_reply(t0 + Duration::from_secs(121), addr, &msg));
        let mut forged = msg.clone();
        forged[20] ^= 1;
        assert!(!m.accept_reply(t0, addr, &forged));
        let mut other_secret = Mobility::new([2; 16], t0);
        assert!(!other_secret.accept_reply(t0, addr, &msg));
    }
}
