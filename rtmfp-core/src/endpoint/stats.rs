//! Counters: what came in, what went out, and what was dropped and why.

use std::fmt;

/// Why an incoming datagram, packet or chunk was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(usize)]
pub enum DropReason {
    /// Shorter than a session ID.
    Truncated,
    /// A session ID that names no session here.
    UnknownSessionId,
    /// Failed the profile's checksum, HMAC or length check.
    Integrity,
    /// A session sequence number seen before or too old.
    Replay,
    /// Packet header did not parse (for example mode 0).
    BadHeader,
    /// A packet whose mode is wrong for its session (§2.2.4).
    WrongMode,
    /// A chunk not allowed in its packet's mode (§2.3).
    ChunkInWrongMode,
    /// A chunk whose payload did not parse (§2.3).
    MalformedChunk,
    /// A chunk of a type this implementation ignores.
    UnknownChunk,
    /// A cookie that is forged, expired or for another endpoint.
    BadCookie,
    /// A certificate, signature or keying component was refused.
    BadKeying,
    /// A startup chunk that matched no opening session (stale tag or ID).
    NoMatchingOpening,
    /// Ignored by policy or state (late RHello, glare loser, ...).
    Ignored,
    /// A queue was full (transmits, unmatched-IHello events, keying).
    QueueFull,
    /// An IIKeying from an address that already has
    /// `max_pending_keying_per_source` handshakes being keyed, while the
    /// keying queue is at least half full.
    SourceBusy,
}

impl DropReason {
    /// Number of reasons.
    pub const COUNT: usize = 15;

    /// Every reason, in order.
    pub const ALL: [DropReason; DropReason::COUNT] = [
        DropReason::Truncated,
        DropReason::UnknownSessionId,
        DropReason::Integrity,
        DropReason::Replay,
        DropReason::BadHeader,
        DropReason::WrongMode,
        DropReason::ChunkInWrongMode,
        DropReason::MalformedChunk,
        DropReason::UnknownChunk,
        DropReason::BadCookie,
        DropReason::BadKeying,
        DropReason::NoMatchingOpening,
        DropReason::Ignored,
        DropReason::QueueFull,
        DropReason::SourceBusy,
    ];

    /// A short lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            DropReason::Truncated => "truncated",
            DropReason::UnknownSessionId => "unknown_session_id",
            DropReason::Integrity => "integrity",
            DropReason::Replay => "replay",
            DropReason::BadHeader => "bad_header",
            DropReason::WrongMode => "wrong_mode",
            DropReason::ChunkInWrongMode => "chunk_in_wrong_mode",
            DropReason::MalformedChunk => "malformed_chunk",
            DropReason::UnknownChunk => "unknown_chunk",
            DropReason::BadCookie => "bad_cookie",
            DropReason::BadKeying => "bad_keying",
            DropReason::NoMatchingOpening => "no_matching_opening",
            DropReason::Ignored => "ignored",
            DropReason::QueueFull => "queue_full",
            DropReason::SourceBusy => "source_busy",
        }
    }
}

/// Drop counters by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DropCounts([u64; DropReason::COUNT]);

impl DropCounts {
    /// Adds one drop.
    pub fn add(&mut self, reason: DropReason) {
        self.0[reason as usize] += 1;
    }

    /// Drops for one reason.
    pub fn get(&self, reason: DropReason) -> u64 {
        self.0[reason as usize]
    }

    /// All drops.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }
}

impl fmt::Display for DropCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for reason in DropReason::ALL {
            let n = self.get(reason);
            if n > 0 {
                if !first {
                    f.write_str(" ")?;
                }
                write!(f, "{}={n}", reason.name())?;
                first = false;
            }
        }
        Ok(())
    }
}

/// Endpoint-wide counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointStats {
    /// Datagrams received.
    pub datagrams_in: u64,
    /// Datagrams sent.
    pub datagrams_out: u64,
    /// Bytes received.
    pub bytes_in: u64,
    /// Bytes sent.
    pub bytes_out: u64,
    /// Drops by reason.
    pub drops: DropCounts,
    /// Sessions opened, in either role.
    pub sessions_opened: u64,
}
