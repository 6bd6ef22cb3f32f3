//! One direction of a node's access link: MTU, bandwidth queue, loss,
//! delay, jitter, reordering and duplication.

use std::collections::VecDeque;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::Rng;

use super::DropReason;

/// Parameters of one direction of a node's link. Every node has an uplink
/// (node → network) and a downlink (network → node); a datagram between two
/// nodes crosses the sender's uplink and then the receiver's downlink.
///
/// A datagram entering a link is, in order: dropped if over [`mtu`](Self::mtu);
/// queued for serialization at [`bandwidth`](Self::bandwidth) (tail-dropped
/// when the queue would exceed [`queue_bytes`](Self::queue_bytes)); lost
/// with probability [`loss`](Self::loss); then delayed by
/// [`delay`](Self::delay) plus a uniform random `0..=jitter`. Jitter alone
/// never reorders (a datagram is never delivered before one that entered
/// earlier); reordering comes only from [`reorder`](Self::reorder).
///
/// Changing a link's config mid-run affects datagrams that enter it from
/// then on; datagrams already in flight keep their schedule.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkConfig {
    /// Fixed one-way propagation delay.
    pub delay: Duration,
    /// Extra delay drawn uniformly from `0..=jitter` per datagram.
    pub jitter: Duration,
    /// Probability in `[0, 1]` that a datagram is lost; 1.0 is a partition.
    pub loss: f64,
    /// Probability in `[0, 1]` that a datagram is delivered twice; the copy
    /// arrives up to `jitter` after the original.
    pub duplicate: f64,
    /// Probability in `[0, 1]` that a datagram is held back by
    /// [`reorder_delay`](Self::reorder_delay), so later ones overtake it.
    pub reorder: f64,
    /// Extra delay of a reordered datagram.
    pub reorder_delay: Duration,
    /// Serialization rate in bits per second; `None` is unlimited (no queue).
    pub bandwidth: Option<u64>,
    /// Most bytes waiting for or in serialization; beyond it, tail drop.
    /// Only used with a [`bandwidth`](Self::bandwidth).
    pub queue_bytes: usize,
    /// Datagrams longer than this many bytes are dropped; `None` is no limit.
    pub mtu: Option<usize>,
}

impl Default for LinkConfig {
    /// 10 ms one-way delay and nothing else: no jitter, loss, duplication,
    /// reordering, bandwidth limit or MTU. (The queue size, 256 KiB, only
    /// matters once a bandwidth is set.)
    fn default() -> Self {
        LinkConfig {
            delay: Duration::from_millis(10),
            jitter: Duration::ZERO,
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay: Duration::from_millis(20),
            bandwidth: None,
            queue_bytes: 256 * 1024,
            mtu: None,
        }
    }
}

impl LinkConfig {
    /// A perfect link: zero delay, no impairment.
    pub fn ideal() -> Self {
        LinkConfig {
            delay: Duration::ZERO,
            ..LinkConfig::default()
        }
    }

    /// Sets [`delay`](Self::delay).
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Sets [`jitter`](Self::jitter).
    pub fn with_jitter(mut self, jitter: Duration) -> Self {
        self.jitter = jitter;
        self
    }

    /// Sets [`loss`](Self::loss).
    pub fn with_loss(mut self, loss: f64) -> Self {
        self.loss = loss;
        self
    }

    /// Sets [`duplicate`](Self::duplicate).
    pub fn with_duplicate(mut self, duplicate: f64) -> Self {
        self.duplicate = duplicate;
        self
    }

    /// Sets [`reorder`](Self::reorder) and [`reorder_delay`](Self::reorder_delay).
    pub fn with_reorder(mut self, reorder: f64, reorder_delay: Duration) -> Self {
        self.reorder = reorder;
        self.reorder_delay = reorder_delay;
        self
    }

    /// Sets [`bandwidth`](Self::bandwidth) (bits/s) and [`queue_bytes`](Self::queue_bytes).
    pub fn with_bandwidth(mut self, bits_per_second: u64, queue_bytes: usize) -> Self {
        self.bandwidth = Some(bits_per_second);
        self.queue_bytes = queue_bytes;
        self
    }

    /// Sets [`mtu`](Self::mtu).
    pub fn with_mtu(mut self, mtu: usize) -> Self {
        self.mtu = Some(mtu);
        self
    }

    /// Panics with a clear message if a field is out of range.
    pub(crate) fn validate(&self) {
        for (name, p) in [
            ("loss", self.loss),
            ("duplicate", self.duplicate),
            ("reorder", self.reorder),
        ] {
            assert!(
                (0.0..=1.0).contains(&p),
                "LinkConfig::{name} must be in [0, 1], got {p}"
            );
        }
        assert!(
            self.bandwidth != Some(0),
            "LinkConfig::bandwidth must be positive (use loss = 1.0 for a partition)"
        );
    }
}

/// Counters for one link direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Datagrams that entered the link.
    pub datagrams_in: u64,
    /// Bytes that entered the link.
    pub bytes_in: u64,
    /// Datagrams that left the link (duplicates included).
    pub datagrams_out: u64,
    /// Bytes that left the link (duplicates included).
    pub bytes_out: u64,
    /// Extra copies made.
    pub duplicated: u64,
    /// Datagrams held back to be reordered.
    pub reordered: u64,
    /// Dropped by random loss.
    pub dropped_loss: u64,
    /// Dropped because the queue was full.
    pub dropped_queue: u64,
    /// Dropped for exceeding the MTU.
    pub dropped_mtu: u64,
}

/// What a link does with one datagram.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Drop(DropReason),
    /// Arrives at the far end at `at`; a duplicate, if any, at `duplicate`.
    Pass {
        at: Duration,
        duplicate: Option<Duration>,
    },
}

/// A link direction's config plus its state.
#[derive(Debug)]
pub(crate) struct Link {
    pub(crate) config: LinkConfig,
    pub(crate) stats: LinkStats,
    /// When the serializer is free.
    busy_until: Duration,
    /// (serialization end, bytes) of datagrams queued or serializing.
    backlog: VecDeque<(Duration, usize)>,
    backlog_bytes: usize,
    /// Latest arrival of a non-reordered datagram (keeps jitter FIFO).
    fifo_tail: Duration,
}

impl Link {
    pub(crate) fn new(config: LinkConfig) -> Self {
        config.validate();
        Link {
            config,
            stats: LinkStats::default(),
            busy_until: Duration::ZERO,
            backlog: VecDeque::new(),
            backlog_bytes: 0,
            fifo_tail: Duration::ZERO,
        }
    }

    pub(crate) fn set_config(&mut self, config: LinkConfig) {
        config.validate();
        self.config = config;
    }

    /// A datagram of `len` bytes enters the link at `now`.
    pub(crate) fn transmit(&mut self, now: Duration, len: usize, rng: &mut StdRng) -> Verdict {
        let c = &self.config;
        self.stats.datagrams_in += 1;
        self.stats.bytes_in += len as u64;
        if c.mtu.is_some_and(|mtu| len > mtu) {
            self.stats.dropped_mtu += 1;
            return Verdict::Drop(DropReason::Mtu);
        }
        let mut depart = now;
        if let Some(bps) = c.bandwidth {
            while let Some(&(end, bytes)) = self.backlog.front() {
                if end > now {
                    break;
                }
                self.backlog.pop_front();
                self.backlog_bytes -= bytes;
            }
            if self.backlog_bytes + len > c.queue_bytes {
                self.stats.dropped_queue += 1;
                return Verdict::Drop(DropReason::QueueFull);
            }
            let start = self.busy_until.max(now);
            let nanos = (len as u128 * 8 * 1_000_000_000).div_ceil(bps as u128);
            depart = start + Duration::from_nanos(nanos.min(u64::MAX as u128) as u64);
            self.busy_until = depart;
            self.backlog.push_back((depart, len));
            self.backlog_bytes += len;
        }
        if c.loss > 0.0 && rng.random_bool(c.loss) {
            self.stats.dropped_loss += 1;
            return Verdict::Drop(DropReason::Loss);
        }
        let mut at = depart + c.delay + jitter(c.jitter, rng);
        if c.reorder > 0.0 && rng.random_bool(c.reorder) {
            self.stats.reordered += 1;
            at += c.reorder_delay;
        } else {
            at = at.max(self.fifo_tail);
            self.fifo_tail = at;
        }
        let duplicate = if c.duplicate > 0.0 && rng.random_bool(c.duplicate) {
            self.stats.duplicated += 1;
            Some(at + jitter(c.jitter, rng))
        } else {
            None
        };
        let copies = 1 + duplicate.is_some() as u64;
        self.stats.datagrams_out += copies;
        self.stats.bytes_out += copies * len as u64;
        Verdict::Pass { at, duplicate }
    }
}

fn jitter(max: Duration, rng: &mut StdRng) -> Duration {
    if max.is_zero() {
        Duration::ZERO
    } else {
        Duration::from_nanos(rng.random_range(0..=max.as_nanos().min(u64::MAX as u128) as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn serialization_queue_spaces_and_tail_drops() {
        // 8 kbit/s: 1000 bytes take exactly one second.
        let cfg = LinkConfig::ideal().with_bandwidth(8_000, 2_500);
        let mut link = Link::new(cfg);
        let mut rng = StdRng::seed_from_u64(1);
        let s = Duration::from_secs;
        let pass = |at| Verdict::Pass {
            at,
            duplicate: None,
        };
        assert_eq!(link.transmit(s(0), 1000, &mut rng), pass(s(1)));
        assert_eq!(link.transmit(s(0), 1000, &mut rng), pass(s(2)));
        assert_eq!(
            link.transmit(s(0), 1000, &mut rng),
            Verdict::Drop(DropReason::QueueFull)
        );
        // At t=1 the first has left the queue: room again.
        assert_eq!(link.transmit(s(1), 1000, &mut rng), pass(s(3)));
        assert_eq!(link.stats.dropped_queue, 1);
    }

    #[test]
    fn mtu_drops_only_oversized() {
        let mut link = Link::new(LinkConfig::ideal().with_mtu(1200));
        let mut rng = StdRng::seed_from_u64(1);
        assert!(matches!(
            link.transmit(Duration::ZERO, 1200, &mut rng),
            Verdict::Pass { .. }
        ));
        assert_eq!(
            link.transmit(Duration::ZERO, 1201, &mut rng),
            Verdict::Drop(DropReason::Mtu)
        );
    }
}
