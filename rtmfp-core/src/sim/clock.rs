//! The virtual clock: a fixed base `Instant` plus a virtual offset.

use std::time::{Duration, Instant};

/// Virtual time. The real clock is read once, at creation, to get a base
/// `Instant`; after that only the offset moves, so runs are reproducible.
#[derive(Debug)]
pub(crate) struct Clock {
    base: Instant,
    now: Duration,
}

impl Clock {
    pub(crate) fn new() -> Self {
        Clock {
            base: Instant::now(),
            now: Duration::ZERO,
        }
    }

    /// Virtual time since the simulation started.
    pub(crate) fn offset(&self) -> Duration {
        self.now
    }

    /// Virtual time as an `Instant`.
    pub(crate) fn instant(&self) -> Instant {
        self.base + self.now
    }

    /// The `Instant` at virtual offset `at`.
    pub(crate) fn instant_at(&self, at: Duration) -> Instant {
        self.base + at
    }

    /// The offset of `t`; instants before the base map to zero.
    pub(crate) fn offset_of(&self, t: Instant) -> Duration {
        t.saturating_duration_since(self.base)
    }

    /// Moves time forward to `at` (never backward).
    pub(crate) fn advance_to(&mut self, at: Duration) {
        debug_assert!(at >= self.now, "virtual time went backwards");
        self.now = self.now.max(at);
    }
}
