//! Reassembly of fragmented startup packets (RFC 7016 §2.3.1, §3.4).
//!
//! A far end may split a startup packet that is larger than the path MTU
//! (an RHello or IIKeying with a large certificate) into Packet Fragment
//! chunks, each in a startup packet of its own.  The fragments of one
//! packet are told apart by the address they came from and their
//! `packetID` (§3.4), and by the opening session they were sent to (an
//! RIKeying goes to the initiator's session ID, not to 0).  Their
//! `packetFragment`s, concatenated from index 0 to the last one (the one
//! without the "more" flag), are the original plain packet.
//!
//! We only reassemble; we send startup packets whole.  Limits against
//! resource exhaustion (§3.4 "SHOULD limit"): [`MAX_BUFFERS`] packets at
//! once, [`MAX_PACKET`] bytes and [`MAX_FRAGMENTS`] fragments each; a
//! packet that made no progress for [`PROGRESS_TIMEOUT`], or is older than
//! [`LIFETIME`], is given up (§3.4: "up to 60 seconds ... for which
//! progress is being made").

use super::stats::DropReason;
use super::SessionHandle;
use crate::wire::chunk::Fragment;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Packets being reassembled at once, at most.
pub const MAX_BUFFERS: usize = 64;

/// The largest packet reassembled: the largest startup packet we take.
pub const MAX_PACKET: usize = super::MAX_STARTUP_PACKET;

/// The most fragments of one packet (indices 0 to 255).
pub const MAX_FRAGMENTS: u64 = 256;

/// A packet none of whose fragments came for this long is given up.
pub const PROGRESS_TIMEOUT: Duration = Duration::from_secs(1);

/// A packet still incomplete after this long is given up.
pub const LIFETIME: Duration = Duration::from_secs(60);

/// What identifies one fragmented packet: where its fragments came from,
/// the opening they were sent to (None: session ID 0), and its packetID.
type Key = (SocketAddr, Option<SessionHandle>, u64);

/// The fragments of one packet received so far.
#[derive(Debug)]
struct Buffer {
    parts: BTreeMap<u64, Vec<u8>>,
    /// The index of the last fragment, once it came.
    last: Option<u64>,
    bytes: usize,
    started: Instant,
    progressed: Instant,
}

/// The startup packets being reassembled.
#[derive(Debug, Default)]
pub(super) struct Reassembly {
    buffers: HashMap<Key, Buffer>,
}

impl Reassembly {
    /// Takes one fragment, from `from`, sent to `opening` (None: session
    /// ID 0).  Returns the whole plain packet once its last missing
    /// fragment came, `Ok(None)` while fragments are missing (or for a
    /// fragment seen before), and why a fragment was dropped otherwise.
    pub(super) fn add(
        &mut self,
        now: Instant,
        from: SocketAddr,
        opening: Option<SessionHandle>,
        f: &Fragment<'_>,
    ) -> Result<Option<Vec<u8>>, DropReason> {
        self.expire(now);
        if f.data.is_empty() || f.fragment_num >= MAX_FRAGMENTS {
            return Err(DropReason::MalformedChunk);
        }
        let key = (from, opening, f.packet_id);
        if !self.buffers.contains_key(&key) && self.buffers.len() >= MAX_BUFFERS {
            return Err(DropReason::QueueFull);
        }
        let b = self.buffers.entry(key).or_insert_with(|| Buffer {
            parts: BTreeMap::new(),
            last: None,
            bytes: 0,
            started: now,
            progressed: now,
        });
        if b.parts.contains_key(&f.fragment_num) {
            return Ok(None);
        }
        let beyond_last = b.last.is_some_and(|l| f.fragment_num > l);
        let second_last = !f.more && b.last.is_some_and(|l| l != f.fragment_num);
        let more_after_end = !f.more && b.parts.keys().next_back() > Some(&f.fragment_num);
        if beyond_last || second_last || more_after_end {
            // Fragments that cannot be of one packet: give it up.
            self.buffers.remove(&key);
            return Err(DropReason::MalformedChunk);
        }
        if b.bytes + f.data.len() > MAX_PACKET {
            self.buffers.remove(&key);
            return Err(DropReason::QueueFull);
        }
        if !f.more {
            b.last = Some(f.fragment_num);
        }
        b.bytes += f.data.len();
        b.parts.insert(f.fragment_num, f.data.to_vec());
        b.progressed = now;
        match b.last {
            Some(last) if b.parts.len() as u64 == last + 1 => {
                let b = self.buffers.remove(&key).expect("just used");
                Ok(Some(b.parts.into_values().flatten().collect()))
            }
            _ => Ok(None),
        }
    }

    /// Gives up the packets that stopped progressing or grew too old.
    fn expire(&mut self, now: Instant) {
        self.buffers.retain(|_, b| {
            now.saturating_duration_since(b.progressed) < PROGRESS_TIMEOUT
                && now.saturating_duration_since(b.started) < LIFETIME
        });
    }

    /// How many packets are being reassembled.
    #[cfg(test)]
    fn pending(&self) -> usize {
        self.buffers.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from() -> SocketAddr {
        "192.0.2.1:1935".parse().unwrap()
    }

    fn frag(packet_id: u64, fragment_num: u64, more: bool, data: &[u8]) -> Fragment<'_> {
        Fragment {
            more,
            packet_id,
            fragment_num,
            data,
        }
    }

    #[test]
    fn fragments_in_any_order_make_the_packet() {
        let t = Instant::now();
        let parts: [&[u8]; 3] = [b"abc", b"def", b"g"];
        for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0], [2, 0, 1]] {
            let mut r = Reassembly::default();
            let mut whole = None;
            for (n, &i) in order.iter().enumerate() {
                let got = r.add(t, from(), None, &frag(7, i, i < 2, parts[i as usize]));
                if n < 2 {
                    assert_eq!(got, Ok(None));
                } else {
                    whole = got.unwrap();
                }
            }
            assert_eq!(whole.as_deref(), Some(&b"abcdefg"[..]), "{order:?}");
            assert_eq!(r.pending(), 0);
        }
    }

    #[test]
    fn a_single_last_fragment_is_a_whole_packet() {
        let mut r = Reassembly::default();
        let got = r.add(Instant::now(), from(), None, &frag(1, 0, false, b"x"));
        assert_eq!(got, Ok(Some(b"x".to_vec())));
    }

    #[test]
    fn duplicates_are_ignored_and_sources_and_ids_kept_apart() {
        let t = Instant::now();
        let mut r = Reassembly::default();
        let other: SocketAddr = "192.0.2.2:1935".parse().unwrap();
        assert_eq!(r.add(t, from(), None, &frag(1, 0, true, b"a")), Ok(None));
        assert_eq!(r.add(t, from(), None, &frag(1, 0, true, b"a")), Ok(None));
        assert_eq!(r.add(t, other, None, &frag(1, 1, false, b"X")), Ok(None));
        assert_eq!(r.add(t, from(), None, &frag(2, 1, false, b"Y")), Ok(None));
        let opening = Some(SessionHandle(3));
        assert_eq!(
            r.add(t, from(), opening, &frag(1, 1, false, b"Z")),
            Ok(None)
        );
        assert_eq!(r.pending(), 4);
        let got = r.add(t, from(), None, &frag(1, 1, false, b"b"));
        assert_eq!(got, Ok(Some(b"ab".to_vec())));
    }

    #[test]
    fn a_packet_that_stops_progressing_or_grows_old_is_given_up() {
        let t = Instant::now();
        let mut r = Reassembly::default();
        r.add(t, from(), None, &frag(1, 0, true, b"a")).unwrap();
        let later = t + PROGRESS_TIMEOUT;
        assert_eq!(
            r.add(later, from(), None, &frag(1, 2, false, b"c")),
            Ok(None)
        );
        assert_eq!(r.pending(), 1, "the first fragment was given up");
        assert_eq!(
            r.add(later, from(), None, &frag(1, 1, true, b"b")),
            Ok(None)
        );
        // Progress every half second keeps a packet for LIFETIME, no more.
        let mut r2 = Reassembly::default();
        r2.add(t, from(), None, &frag(5, 0, true, b"x")).unwrap();
        for k in 1..120u64 {
            let at = t + Duration::from_millis(500 * k);
            assert_eq!(r2.add(at, from(), None, &frag(5, k, true, b"x")), Ok(None));
            assert_eq!(r2.pending(), 1, "progressing at {k} half seconds");
        }
        let at = t + LIFETIME;
        assert_eq!(r2.add(at, from(), None, &frag(6, 0, true, b"x")), Ok(None));
        assert_eq!(r2.pending(), 1, "packet 5 given up at 60 s, 6 begun");
    }

    #[test]
    fn limits_and_inconsistent_fragments_are_refused() {
        let t = Instant::now();
        let mut r = Reassembly::default();
        let empty = frag(1, 0, true, b"");
        assert_eq!(
            r.add(t, from(), None, &empty),
            Err(DropReason::MalformedChunk)
        );
        let far = frag(1, MAX_FRAGMENTS, true, b"x");
        assert_eq!(
            r.add(t, from(), None, &far),
            Err(DropReason::MalformedChunk)
        );
        for id in 0..MAX_BUFFERS as u64 {
            assert_eq!(r.add(t, from(), None, &frag(id, 0, true, b"x")), Ok(None));
        }
        let one_more = frag(999, 0, true, b"x");
        assert_eq!(
            r.add(t, from(), None, &one_more),
            Err(DropReason::QueueFull)
        );
        let mut r = Reassembly::default();
        let big = vec![0u8; MAX_PACKET];
        assert_eq!(r.add(t, from(), None, &frag(1, 0, true, &big)), Ok(None));
        assert_eq!(
            r.add(t, from(), None, &frag(1, 1, false, b"x")),
            Err(DropReason::QueueFull)
        );
        assert_eq!(r.pending(), 0);
        // Two different last fragments, a fragment past the last, and a
        // last fragment before one already seen.
        for bad in [
            [frag(1, 3, false, b"a"), frag(1, 2, false, b"b")],
            [frag(1, 1, false, b"a"), frag(1, 2, true, b"b")],
            [frag(1, 4, true, b"a"), frag(1, 2, false, b"b")],
        ] {
            let mut r = Reassembly::default();
            assert_eq!(r.add(t, from(), None, &bad[0]), Ok(None));
            assert_eq!(
                r.add(t, from(), None, &bad[1]),
                Err(DropReason::MalformedChunk)
            );
            assert_eq!(r.pending(), 0);
        }
    }
}
