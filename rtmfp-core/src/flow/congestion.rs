//! Congestion control: RFC 7016 Appendix A, which meets §3.5.2's
//! requirements (TCP-compatible, never faster than RFC 5681 slow start)
//! and adds Time Critical aware growth (§3.5.2.1).

use std::time::{Duration, Instant};

/// Sender maximum segment size (App. A.2, RFC 5681).
pub const SMSS: usize = 1460;
/// Initial congestion window (App. A.2; RFC 5681 §3.1).
pub const CWND_INIT: usize = 4380;
/// Congestion window after a timeout with loss (App. A.2).
pub const CWND_TIMEDOUT: usize = SMSS;
/// Outstanding bytes above which a loss cuts the window by 1/8 only when
/// fast growth is allowed (App. A.2).
const LARGE_WINDOW: usize = 67200;
/// How long a Time Critical notification counts (§3.5.2.1).
pub const TC_WINDOW: Duration = Duration::from_millis(800);
/// Data packets allowed between acks or timeouts (§3.5.2.3).
pub const MAX_DATA_BURST: u32 = 6;

/// What the congestion controller needs to know about Time Critical
/// traffic (§3.5.2.1).
#[derive(Debug, Clone, Copy, Default)]
pub struct TcContext {
    /// A TC packet was sent on this session within the last 800 ms.
    pub tc_sent_here: bool,
    /// FASTGROW_ALLOWED: no TCR received on this session and no TC sent on
    /// any session within the last 800 ms.
    pub fastgrow_allowed: bool,
}

/// Per-packet accounting between acknowledgement processing steps.
#[derive(Debug, Clone, Copy, Default)]
struct PacketAccounting {
    any_loss: bool,
    /// Highest transmission sequence number among the losses.
    max_lost_tsn: u64,
    any_naks: bool,
    any_acks: bool,
    acked_bytes: usize,
    pre_ack_outstanding: usize,
}

/// The Appendix A congestion controller for one session.
#[derive(Debug, Clone)]
pub struct Congestion {
    cwnd: usize,
    ssthresh: usize,
    acked_accumulator: usize,
    packet: PacketAccounting,
    /// Recovery period: losses of data sent at or before this TSN belong
    /// to a loss event already answered with a cut.
    recovery_tsn: u64,
    /// Losses detected (NAK or timeout), for statistics.
    pub loss_events: u64,
    /// Timeouts that found data in flight.
    pub timeouts: u64,
}

impl Default for Congestion {
    fn default() -> Self {
        Self::new()
    }
}

impl Congestion {
    /// Initial state: CWND_INIT, infinite SSTHRESH.
    pub fn new() -> Self {
        Congestion {
            cwnd: CWND_INIT,
            ssthresh: usize::MAX,
            acked_accumulator: 0,
            packet: PacketAccounting::default(),
            recovery_tsn: 0,
            loss_events: 0,
            timeouts: 0,
        }
    }

    /// The congestion window in bytes.
    pub fn cwnd(&self) -> usize {
        self.cwnd
    }

    /// The slow start threshold (`usize::MAX` until the first loss).
    pub fn ssthresh(&self) -> usize {
        self.ssthresh
    }

    /// Before processing a received packet (App. A.2 steps 1-4).
    pub fn begin_packet(&mut self, outstanding: usize) {
        self.packet = PacketAccounting {
            pre_ack_outstanding: outstanding,
            ..PacketAccounting::default()
        };
    }

    /// Data was acknowledged.
    pub fn on_ack(&mut self, bytes: usize) {
        self.packet.any_acks = true;
        self.packet.acked_bytes += bytes;
    }

    /// A negative acknowledgement was inferred.
    pub fn on_nak(&mut self) {
        self.packet.any_naks = true;
    }

    /// Fragments were declared lost; `tsn` is the highest transmission
    /// sequence number among them.
    pub fn on_loss(&mut self, tsn: u64) {
        self.packet.any_loss = true;
        self.packet.max_lost_tsn = self.packet.max_lost_tsn.max(tsn);
    }

    /// After all chunks of a received packet (App. A.2 Figure 25).
    /// `highest_sent_tsn` is the last transmission sequence number used.
    ///
    /// One loss event cuts the window once: losses of data sent before the
    /// last cut fall in its recovery period and change nothing, as in
    /// TCP's fast recovery (RFC 5681 §3.2), so a burst of losses within one
    /// window does not collapse it several times over.
    pub fn end_packet(&mut self, tc: TcContext, highest_sent_tsn: u64) {
        let p = self.packet;
        if p.any_loss && p.max_lost_tsn <= self.recovery_tsn {
            // In recovery: neither cut again nor grow.
        } else if p.any_loss {
            self.recovery_tsn = highest_sent_tsn;
            self.loss_events += 1;
            self.ssthresh = if tc.tc_sent_here
                || (p.pre_ack_outstanding > LARGE_WINDOW && tc.fastgrow_allowed)
            {
                (p.pre_ack_outstanding * 7 / 8).max(CWND_INIT)
            } else {
                (p.pre_ack_outstanding / 2).max(CWND_INIT)
            };
            self.cwnd = self.ssthresh;
            self.acked_accumulator = 0;
        } else if p.any_acks && !p.any_naks && p.pre_ack_outstanding >= self.cwnd {
            let mut increase = 0usize;
            if tc.fastgrow_allowed {
                if self.cwnd < self.ssthresh {
                    increase = p.acked_bytes;
                } else {
                    self.acked_accumulator += p.acked_bytes;
                    let aithresh = (self.cwnd / 16).clamp(64, 4800);
                    while self.acked_accumulator >= aithresh {
                        self.acked_accumulator -= aithresh;
                        increase += 48;
                    }
                }
            } else if self.cwnd < self.ssthresh && tc.tc_sent_here {
                increase = p.acked_bytes.div_ceil(4);
            } else {
                let cap = if tc.tc_sent_here { 2400 } else { 4800 };
                self.acked_accumulator += p.acked_bytes;
                let aithresh = (self.cwnd / 16).max(64).min(cap);
                while self.acked_accumulator >= aithresh {
                    self.acked_accumulator -= aithresh;
                    increase += 24;
                }
            }
            self.cwnd = (self.cwnd + increase.min(SMSS)).max(CWND_INIT);
        }
    }

    /// The retransmission timeout fired (App. A.2 Figure 24).
    pub fn on_timeout(&mut self, was_loss: bool) {
        self.ssthresh = self.ssthresh.max(self.cwnd * 3 / 4);
        self.acked_accumulator = 0;
        if was_loss {
            self.timeouts += 1;
            self.cwnd = CWND_TIMEDOUT;
        } else {
            self.cwnd = CWND_INIT;
        }
    }

    /// Application-limited or idle decay: when the sender has not used the
    /// window for a while, shrink it towards what was used, never below
    /// CWND_INIT (in the spirit of RFC 7661; App. A leaves idle behaviour
    /// to the implementation).
    pub fn on_idle(&mut self, used: usize) {
        if self.cwnd > CWND_INIT && used < self.cwnd / 2 {
            self.cwnd = ((self.cwnd + used) / 2).max(CWND_INIT);
        }
    }
}

/// Remembers when Time Critical notifications were last seen.
#[derive(Debug, Clone, Copy, Default)]
pub struct TcClock {
    last: Option<Instant>,
}

impl TcClock {
    /// Records one at `now`.
    pub fn mark(&mut self, now: Instant) {
        self.last = Some(now);
    }

    /// Whether one was recorded within [`TC_WINDOW`] before `now`.
    pub fn recent(&self, now: Instant) -> bool {
        self.last
            .is_some_and(|t| now.saturating_duration_since(t) < TC_WINDOW)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast() -> TcContext {
        TcContext {
            tc_sent_here: false,
            fastgrow_allowed: true,
        }
    }

    #[test]
    fn slow_start_grows_by_acked_bytes_capped_at_smss_per_packet() {
        let mut cc = Congestion::new();
        cc.begin_packet(CWND_INIT);
        cc.on_ack(1000);
        cc.end_packet(fast(), 100);
        assert_eq!(cc.cwnd(), CWND_INIT + 1000);
        cc.begin_packet(cc.cwnd());
        cc.on_ack(5000);
        cc.end_packet(fast(), 100);
        assert_eq!(cc.cwnd(), CWND_INIT + 1000 + SMSS);
    }

    #[test]
    fn no_growth_when_not_using_the_window() {
        let mut cc = Congestion::new();
        cc.begin_packet(1000);
        cc.on_ack(1000);
        cc.end_packet(fast(), 100);
        assert_eq!(cc.cwnd(), CWND_INIT);
    }

    #[test]
    fn loss_halves_small_windows_and_cuts_large_ones_by_an_eighth() {
        let mut cc = Congestion::new();
        cc.begin_packet(20_000);
        cc.on_loss(1);
        cc.end_packet(fast(), 100);
        assert_eq!(cc.cwnd(), 10_000);
        assert_eq!(cc.ssthresh(), 10_000);
        cc.begin_packet(100_000);
        cc.on_loss(101);
        cc.end_packet(fast(), 200);
        assert_eq!(cc.cwnd(), 87_500);
        // With fast growth not allowed (TC elsewhere), large windows halve.
        cc.begin_packet(100_000);
        cc.on_loss(201);
        cc.end_packet(
            TcContext {
                tc_sent_here: false,
                fastgrow_allowed: false,
            },
            300,
        );
        assert_eq!(cc.cwnd(), 50_000);
    }

    #[test]
    fn one_loss_event_cuts_once() {
        let mut cc = Congestion::new();
        cc.begin_packet(40_000);
        cc.on_loss(10);
        cc.end_packet(fast(), 50);
        assert_eq!(cc.cwnd(), 20_000);
        // More losses from the same window (sent up to TSN 50): no new cut.
        for tsn in [12, 30, 50] {
            cc.begin_packet(20_000);
            cc.on_loss(tsn);
            cc.end_packet(fast(), 60);
            assert_eq!(cc.cwnd(), 20_000);
        }
        // A loss of data sent after the cut is a new event.
        cc.begin_packet(20_000);
        cc.on_loss(51);
        cc.end_packet(fast(), 70);
        assert_eq!(cc.cwnd(), 10_000);
    }

    #[test]
    fn congestion_avoidance_adds_48_bytes_per_threshold() {
        let mut cc = Congestion::new();
        cc.begin_packet(16_000);
        cc.on_loss(1);
        cc.end_packet(fast(), 100); // cwnd = ssthresh = 8000
        let aithresh = 8000 / 16; // 500
        cc.begin_packet(8000);
        cc.on_ack(aithresh * 3);
        cc.end_packet(fast(), 100);
        assert_eq!(cc.cwnd(), 8000 + 3 * 48);
    }

    #[test]
    fn timeout_collapses_the_window() {
        let mut cc = Congestion::new();
        cc.on_timeout(true);
        assert_eq!(cc.cwnd(), CWND_TIMEDOUT);
        // SSTHRESH = MAX(SSTHRESH, CWND * 3/4): still unbounded.
        assert_eq!(cc.ssthresh(), usize::MAX);
        cc.on_timeout(false);
        assert_eq!(cc.cwnd(), CWND_INIT);
    }

    #[test]
    fn time_critical_slows_growth() {
        let mut cc = Congestion::new();
        cc.begin_packet(CWND_INIT);
        cc.on_ack(1000);
        cc.end_packet(
            TcContext {
                tc_sent_here: true,
                fastgrow_allowed: false,
            },
            100,
        );
        assert_eq!(cc.cwnd(), CWND_INIT + 250);
    }
}
