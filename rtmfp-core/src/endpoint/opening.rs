//! Initiator state for a session that is not yet open
//! (S_IHELLO_SENT and S_KEYING_SENT, RFC 7016 §3.5.1.1.1).

use super::SessionHandle;
use crate::crypto::InitiatorKeying;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// First retransmission interval; every later one grows by at least this
/// and by at least half again (§3.5.1.1.1: "not less than multiplicative,
/// with not less than 1.5 seconds added").
pub const INITIAL_RETRY: Duration = Duration::from_millis(1500);

/// The interval after `previous`.
pub fn next_retry(previous: Duration) -> Duration {
    (previous + INITIAL_RETRY).max(previous.mul_f64(1.5))
}

/// One candidate address with its own IHello schedule.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Where IHellos go.
    pub address: SocketAddr,
    /// When the next IHello goes out.
    pub next_send: Instant,
    /// The interval after that one.
    pub interval: Duration,
    /// An ICMP unreachable came back for an IHello to it.
    pub unreachable: bool,
}

/// S_KEYING_SENT details.
pub struct KeyingSent {
    /// DESTADDR: where the RHello came from.
    pub dest: SocketAddr,
    /// Our receive session ID, sent as the ISID.
    pub rx_session_id: u32,
    /// The responder's certificate from the RHello.
    pub far_cert: Vec<u8>,
    /// The cookie currently echoed.
    pub cookie: Vec<u8>,
    /// Whether a Cookie Change has already been applied (§3.5.1.2 allows one).
    pub cookie_changed: bool,
    /// The profile's keying state, until the RIKeying arrives.
    pub keying: Option<InitiatorKeying>,
    /// The SKIC sent.
    pub skic: Vec<u8>,
    /// The IIKeying chunk, encoded whole, for retransmission.
    pub iikeying_chunk: Vec<u8>,
    /// When the next retransmission goes out.
    pub next_send: Instant,
    /// The interval after that one.
    pub interval: Duration,
}

/// An RHello whose keying finished while this endpoint was still keying
/// a responder session to the same identity (offload mode).  Done one
/// after the other, as without offload, the responder session opens first
/// and this opening is its duplicate (§3.5.1.1.1 step 1); so the opening
/// waits here until that keying ends.
pub struct ParkedRHello {
    /// Where the RHello came from.
    pub from: SocketAddr,
    /// The RHello's cookie.
    pub cookie: Vec<u8>,
    /// The responder's certificate.
    pub far_cert: Vec<u8>,
    /// The finished initiator keying.
    pub result: Result<InitiatorKeying, crate::crypto::CryptoError>,
}

/// Where an opening session stands.
pub enum OpeningState {
    /// S_IHELLO_SENT.
    IHelloSent,
    /// S_KEYING_SENT.
    KeyingSent(Box<KeyingSent>),
}

/// An opening session.
pub struct Opening {
    /// The application's handle.
    pub handle: SessionHandle,
    /// The EPD asked for.
    pub epd: Vec<u8>,
    /// The tag of our IHellos.
    pub tag: Vec<u8>,
    /// When the session started opening.
    pub started: Instant,
    /// Candidate addresses.
    pub candidates: Vec<Candidate>,
    /// Current state.
    pub state: OpeningState,
    /// An RHello's keying is running on a worker (offload mode): further
    /// RHellos wait.
    pub keying_started: bool,
    /// An RHello waiting for a responder keying to the same identity.
    pub parked: Option<Box<ParkedRHello>>,
}

impl Opening {
    /// Adds a candidate (sent to at once) unless present or over `limit`.
    pub fn add_candidate(&mut self, address: SocketAddr, now: Instant, limit: usize) -> bool {
        if self.candidates.len() >= limit || self.candidates.iter().any(|c| c.address == address) {
            return false;
        }
        self.candidates.push(Candidate {
            address,
            next_send: now,
            interval: INITIAL_RETRY,
            unreachable: false,
        });
        true
    }

    /// Whether `address` is one this opening is trying to reach (glare is
    /// detected by address, §3.5.1.3).
    pub fn targets(&self, address: SocketAddr) -> bool {
        match &self.state {
            OpeningState::KeyingSent(k) => k.dest == address,
            OpeningState::IHelloSent => self.candidates.iter().any(|c| c.address == address),
        }
    }

    /// When this opening next needs attention.
    pub fn next_timeout(&self, open_timeout: Duration) -> Instant {
        let deadline = self.started + open_timeout;
        let next = match &self.state {
            OpeningState::IHelloSent => self.candidates.iter().map(|c| c.next_send).min(),
            OpeningState::KeyingSent(k) => Some(k.next_send),
        };
        next.map_or(deadline, |n| n.min(deadline))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_multiplicative_and_adds_at_least_one_and_a_half_seconds() {
        let mut interval = INITIAL_RETRY;
        let mut total = Duration::ZERO;
        let mut sends = 1;
        while total + interval < Duration::from_secs(95) {
            total += interval;
            let next = next_retry(interval);
            assert!(next >= interval + INITIAL_RETRY);
            assert!(next >= interval.mul_f64(1.5));
            interval = next;
            sends += 1;
        }
        // 0, 1.5, 4.5, 9, 15.75, ... : a handful of tries in 95 s.
        assert!((6..=10).contains(&sends), "{sends}");
    }
}
