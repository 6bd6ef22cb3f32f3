//! Pacing of a session's data packets: a window's worth of packets
//! spreads over the round trip instead of leaving in one burst.
//!
//! Each data packet moves a pacing clock on by the time the congestion
//! window would take to send it at 2 × cwnd per SRTT in slow start (so
//! pacing never slows the exponential growth) or 1.25 × in congestion
//! avoidance.  Packets go while the clock runs at most an *allowance*
//! ahead of now: the larger of [`PACE_BURST`] (Linux's TCP lets about
//! 1 ms of its pacing rate leave at once) and what lets
//! [`MAX_DATA_BURST`] packets leave together, the burst RFC 7016
//! §3.5.2.3 already allows between acknowledgements.  With a small window the time allowance alone
//! split every relayed video frame (a few packets) into one wake-up per
//! packet, each its own system call instead of one GSO run; the packet
//! allowance lets such a frame leave at once, and the §3.5.2.3 limit still
//! bounds the burst.

use crate::flow::congestion::MAX_DATA_BURST;
use std::time::{Duration, Instant};

/// How far ahead of now the pacing clock may run at least: that much of
/// the paced rate leaves at once.
pub const PACE_BURST: Duration = Duration::from_millis(1);

/// The pacing state of one session.
#[derive(Debug, Default, Clone, Copy)]
pub struct Pacer {
    /// No data packet before this time.
    next: Option<Instant>,
    /// When the data sent so far would have finished leaving at the paced
    /// rate (in the past once it caught up).
    clock: Option<Instant>,
}

impl Pacer {
    /// Whether a data packet may go at `now`.
    pub fn allows(&self, now: Instant) -> bool {
        self.next.is_none_or(|t| t <= now)
    }

    /// When a data packet may go next, if pacing holds them now.
    pub fn next(&self) -> Option<Instant> {
        self.next
    }

    /// The pacing gap ended (its timer fired).
    pub fn on_timer(&mut self, now: Instant) {
        if self.next.is_some_and(|t| t <= now) {
            self.next = None;
        }
    }

    /// A data packet of `bytes` left at `now`, with congestion window
    /// `cwnd` (bytes), in slow start or not, at round trip `srtt` (none
    /// measured yet: no pacing).
    pub fn on_sent(
        &mut self,
        now: Instant,
        bytes: usize,
        cwnd: usize,
        slow_start: bool,
        srtt: Option<Duration>,
    ) {
        let Some(srtt) = srtt.filter(|s| !s.is_zero()) else {
            return;
        };
        let gain = if slow_start { 2.0 } else { 1.25 };
        let interval = srtt.mul_f64(bytes as f64 / (cwnd.max(1) as f64 * gain));
        let clock = self.clock.filter(|c| *c > now).unwrap_or(now) + interval;
        self.clock = Some(clock);
        let allowance = PACE_BURST.max(interval * (MAX_DATA_BURST - 1));
        self.next = clock.checked_sub(allowance).filter(|open| *open > now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PACKET: usize = 1200;

    /// How many packets of `PACKET` bytes leave at `now` before pacing
    /// holds the next, with window `cwnd` packets at round trip `srtt`.
    fn burst(p: &mut Pacer, now: Instant, cwnd: usize, srtt: Duration) -> usize {
        let mut sent = 0;
        while p.allows(now) && sent < 1000 {
            p.on_sent(now, PACKET, cwnd * PACKET, false, Some(srtt));
            sent += 1;
        }
        sent
    }

    #[test]
    fn a_small_window_lets_a_frame_leave_at_once() {
        // 4 packets of window at 20 ms: one packet is 4 ms of the paced
        // rate, far over PACE_BURST; a 4-packet video frame still leaves
        // in one go, and the burst ends at the §3.5.2.3 six.
        let now = Instant::now();
        let mut p = Pacer::default();
        assert_eq!(burst(&mut p, now, 4, Duration::from_millis(20)), 6);
        // The hold ends once the clock is back within the allowance.
        let next = p.next().unwrap();
        assert_eq!(next, now + Duration::from_millis(4));
        assert!(!p.allows(next - Duration::from_micros(1)));
        assert!(p.allows(next));
        p.on_timer(next);
        assert_eq!(p.next(), None);
    }

    #[test]
    fn a_large_window_is_spread_over_the_round_trip() {
        // 400 packets at 10 ms: 20 µs per packet, so the 1 ms allowance
        // (50 packets) is the larger and the window leaves in 51-packet
        // bursts a millisecond apart, not at once.
        let now = Instant::now();
        let mut p = Pacer::default();
        assert_eq!(burst(&mut p, now, 400, Duration::from_millis(10)), 51);
        let later = now + Duration::from_millis(1);
        assert_eq!(burst(&mut p, later, 400, Duration::from_millis(10)), 50);
    }

    #[test]
    fn no_round_trip_measured_means_no_pacing() {
        let now = Instant::now();
        let mut p = Pacer::default();
        for _ in 0..100 {
            p.on_sent(now, PACKET, PACKET, false, None);
        }
        assert!(p.allows(now));
        assert_eq!(p.next(), None);
    }

    #[test]
    fn slow_start_paces_at_twice_the_window() {
        // 10 packets at 10 ms in slow start: 0.5 ms per packet, the
        // allowance 2.5 ms (six packets), so six leave, then one every
        // half millisecond.
        let now = Instant::now();
        let mut p = Pacer::default();
        let mut sent = 0;
        while p.allows(now) {
            p.on_sent(
                now,
                PACKET,
                10 * PACKET,
                true,
                Some(Duration::from_millis(10)),
            );
            sent += 1;
        }
        assert_eq!(sent, 6);
        assert_eq!(p.next(), Some(now + Duration::from_micros(500)));
    }
}
