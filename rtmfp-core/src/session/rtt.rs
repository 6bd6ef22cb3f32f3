//! Timestamps, timestamp echo and the retransmission timeout
//! (RFC 7016 §3.5.2.2).

use std::time::{Duration, Instant};

/// Milliseconds per timestamp tick: the clock runs at 250 Hz (§2.2.4).
pub const TICK_MS: u64 = 4;
/// A received timestamp is echoed for at most this long (§3.5.2.2).
const ECHO_LIFETIME: Duration = Duration::from_secs(128);
/// Initial MRTO (§3.5.2.2).
pub const INITIAL_MRTO: Duration = Duration::from_millis(250);
/// Initial ERTO (§3.5.2.2).
pub const INITIAL_ERTO: Duration = Duration::from_secs(3);
/// ERTO never goes below this (§3.5.2.2).
pub const MIN_ERTO: Duration = Duration::from_millis(250);
/// Backoff never takes ERTO above this (§3.5.2.2).
pub const MAX_ERTO: Duration = Duration::from_secs(10);
/// Allowance for the receiver's delayed ack (§3.5.2.2, §3.6.3.4.4).
const DELACK_ALLOWANCE: Duration = Duration::from_millis(200);

/// The low 16 bits of a 250 Hz clock that started at `epoch`.
pub fn timestamp(epoch: Instant, now: Instant) -> u16 {
    let ms = now.saturating_duration_since(epoch).as_millis() as u64;
    (ms / TICK_MS) as u16
}

/// One session's timestamp-echo state and RTT estimator.
#[derive(Debug, Clone)]
pub struct RttState {
    epoch: Instant,
    ts_rx: Option<u16>,
    ts_rx_time: Option<Instant>,
    ts_echo_tx: Option<u16>,
    ts_echo_rx: Option<u16>,
    srtt: Option<Duration>,
    rttvar: Duration,
    mrto: Duration,
    erto: Duration,
}

impl RttState {
    /// Fresh state for a session entering S_OPEN; `epoch` is the origin of
    /// this endpoint's send clock.
    pub fn new(epoch: Instant) -> Self {
        RttState {
            epoch,
            ts_rx: None,
            ts_rx_time: None,
            ts_echo_tx: None,
            ts_echo_rx: None,
            srtt: None,
            rttvar: Duration::ZERO,
            mrto: INITIAL_MRTO,
            erto: INITIAL_ERTO,
        }
    }

    /// Records a received packet's timestamp and echo.  Returns the RTT
    /// sample taken from the echo, if any.
    pub fn on_receive(
        &mut self,
        now: Instant,
        timestamp: Option<u16>,
        echo: Option<u16>,
    ) -> Option<Duration> {
        if let Some(ts) = timestamp {
            if self.ts_rx != Some(ts) {
                self.ts_rx = Some(ts);
                self.ts_rx_time = Some(now);
            }
        }
        let echo = echo?;
        if self.ts_echo_rx == Some(echo) {
            return None;
        }
        self.ts_echo_rx = Some(echo);
        let ticks = timestamp_now(self.epoch, now).wrapping_sub(echo);
        if ticks > 32767 {
            return None; // §3.5.2.2 step 3: invalid measurement.
        }
        let rtt = Duration::from_millis(u64::from(ticks) * TICK_MS);
        self.add_sample(rtt);
        Some(rtt)
    }

    fn add_sample(&mut self, rtt: Duration) {
        match self.srtt {
            Some(srtt) => {
                let delta = srtt.abs_diff(rtt);
                self.rttvar = (self.rttvar * 3 + delta) / 4;
                self.srtt = Some((srtt * 7 + rtt) / 8);
            }
            None => {
                self.srtt = Some(rtt);
                self.rttvar = rtt / 2;
            }
        }
        self.mrto = self.srtt.unwrap_or_default() + self.rttvar * 4 + DELACK_ALLOWANCE;
        self.erto = self.mrto.max(MIN_ERTO);
    }

    /// The timestamp and echo fields for a packet sent now. The echo is
    /// `Some` only when it changed since last sent (§3.5.2.2). The timestamp
    /// is always there: §3.5.2.2 needs it only when it changed, but Flash
    /// Player put one in every packet and Flash-era stacks (librtmfp) drop
    /// packets without one. A repeated timestamp is harmless, because a
    /// receiver acts only on a new value.
    pub fn on_send(&mut self, now: Instant) -> (Option<u16>, Option<u16>) {
        let ts = timestamp_now(self.epoch, now);
        let timestamp = Some(ts);
        let echo = match (self.ts_rx, self.ts_rx_time) {
            (Some(ts_rx), Some(rx_time)) => {
                let elapsed = now.saturating_duration_since(rx_time);
                if elapsed > ECHO_LIFETIME {
                    self.ts_rx = None;
                    self.ts_echo_tx = None;
                    None
                } else {
                    let ticks = (elapsed.as_millis() as u64 / TICK_MS) as u16;
                    let echo = ts_rx.wrapping_add(ticks);
                    if self.ts_echo_tx != Some(echo) {
                        self.ts_echo_tx = Some(echo);
                        Some(echo)
                    } else {
                        None
                    }
                }
            }
            _ => None,
        };
        (timestamp, echo)
    }

    /// A retransmission (or keepalive) timeout: back ERTO off by the
    /// RFC's factor 1.4142, i.e. √2 (§3.5.2.2).
    pub fn on_timeout(&mut self) {
        let backoff = self.erto.mul_f64(std::f64::consts::SQRT_2).min(MAX_ERTO);
        self.erto = backoff.max(self.mrto);
    }

    /// Smoothed RTT, once measured.
    pub fn srtt(&self) -> Option<Duration> {
        self.srtt
    }

    /// RTT variance.
    pub fn rttvar(&self) -> Duration {
        self.rttvar
    }

    /// Measured retransmission timeout.
    pub fn mrto(&self) -> Duration {
        self.mrto
    }

    /// Effective retransmission timeout.
    pub fn erto(&self) -> Duration {
        self.erto
    }
}

fn timestamp_now(epoch: Instant, now: Instant) -> u16 {
    timestamp(epoch, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_measures_rtt_and_sets_rto() {
        let t0 = Instant::now();
        let mut a = RttState::new(t0);
        let mut b = RttState::new(t0 + Duration::from_millis(1234));
        // A sends at t0 (ts 0); B receives 50 ms later, answers 10 ms after.
        let (ts, echo) = a.on_send(t0);
        assert_eq!((ts, echo), (Some(0), None));
        let t1 = t0 + Duration::from_millis(50);
        assert_eq!(b.on_receive(t1, ts, echo), None);
        let (bts, becho) = b.on_send(t1 + Duration::from_millis(10));
        assert_eq!(becho, Some(2)); // 0 + 10 ms / 4 ms
                                    // B's reply reaches A at 110 ms: RTT = 110 - 10 held = 100 ms.
        let sample = a.on_receive(t0 + Duration::from_millis(110), bts, becho);
        assert_eq!(sample, Some(Duration::from_millis(100)));
        assert_eq!(a.srtt(), Some(Duration::from_millis(100)));
        assert_eq!(a.rttvar(), Duration::from_millis(50));
        // MRTO = 100 + 4*50 + 200.
        assert_eq!(a.mrto(), Duration::from_millis(500));
        assert_eq!(a.erto(), Duration::from_millis(500));
        // The same echo again is not a new sample.
        assert_eq!(
            a.on_receive(t0 + Duration::from_millis(120), bts, becho),
            None
        );
    }

    #[test]
    fn timestamp_always_sent_echo_only_when_changed() {
        let t0 = Instant::now();
        let mut s = RttState::new(t0);
        assert_eq!(s.on_send(t0).0, Some(0));
        // Flash-style: the same tick again still carries the timestamp.
        assert_eq!(s.on_send(t0 + Duration::from_millis(3)).0, Some(0));
        assert_eq!(s.on_send(t0 + Duration::from_millis(4)).0, Some(1));
        s.on_receive(t0, Some(100), None);
        assert_eq!(s.on_send(t0 + Duration::from_millis(5)).1, Some(101));
        assert_eq!(s.on_send(t0 + Duration::from_millis(6)).1, None);
        // After 128 s the echo stops.
        assert_eq!(s.on_send(t0 + Duration::from_secs(129)).1, None);
    }

    #[test]
    fn backoff_caps_at_ten_seconds_and_floors_at_mrto() {
        let mut s = RttState::new(Instant::now());
        for _ in 0..20 {
            s.on_timeout();
        }
        assert_eq!(s.erto(), MAX_ERTO);
        let mut s = RttState::new(Instant::now());
        s.on_timeout();
        assert_eq!(
            s.erto(),
            Duration::from_secs(3).mul_f64(std::f64::consts::SQRT_2)
        );
    }

    #[test]
    fn wrapped_or_future_echo_is_invalid() {
        let t0 = Instant::now();
        let mut s = RttState::new(t0);
        // An echo "from the future" wraps to > 32767 ticks: discarded.
        assert_eq!(s.on_receive(t0, None, Some(10)), None);
        assert_eq!(s.srtt(), None);
    }
}
