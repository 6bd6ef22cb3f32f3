//! Driving the simulation: single steps and bounded runs.

use std::fmt;
use std::time::{Duration, Instant};

use super::{Event, Sim, TraceKind};

/// Bounds on a run, so that no test can hang.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The most virtual time the run may take.
    pub max_time: Duration,
    /// The most events the run may process.
    pub max_steps: u64,
}

impl Default for Limits {
    /// One virtual hour and ten million steps.
    fn default() -> Self {
        Limits {
            max_time: Duration::from_secs(3600),
            max_steps: 10_000_000,
        }
    }
}

impl Limits {
    /// At most `max_time` of virtual time, with the default step limit.
    pub fn time(max_time: Duration) -> Self {
        Limits {
            max_time,
            ..Limits::default()
        }
    }

    /// At most `max_steps` steps, with the default time limit.
    pub fn steps(max_steps: u64) -> Self {
        Limits {
            max_steps,
            ..Limits::default()
        }
    }
}

/// Why a run stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stop {
    /// The predicate became true.
    Satisfied,
    /// The requested time was reached ([`Sim::run_for`], [`Sim::run_until_time`]).
    Deadline,
    /// Nothing is left to happen: no datagram in flight, no timer set.
    Idle,
    /// [`Limits::max_time`] ran out first.
    TimeLimit,
    /// [`Limits::max_steps`] ran out first.
    StepLimit,
}

/// The outcome of a run. Its `Display` includes the seed, for assertion
/// messages: `assert!(report.satisfied(), "{report}")`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub struct RunReport {
    /// Why the run stopped.
    pub stop: Stop,
    /// Events processed in this run.
    pub steps: u64,
    /// Virtual time this run took.
    pub elapsed: Duration,
    /// Virtual time since the simulation started, at the end of the run.
    pub now: Duration,
    /// The simulation's seed.
    pub seed: u64,
}

impl RunReport {
    /// True if the run got what it asked for ([`Stop::Satisfied`] or
    /// [`Stop::Deadline`]) rather than hitting a limit or going idle.
    pub fn satisfied(&self) -> bool {
        matches!(self.stop, Stop::Satisfied | Stop::Deadline)
    }
}

impl fmt::Display for RunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "run stopped: {:?} after {} steps, {:?} of virtual time (t = {:?}); sim seed = {}",
            self.stop, self.steps, self.elapsed, self.now, self.seed
        )
    }
}

impl Sim {
    /// Sets the step limit used by [`run_for`](Self::run_for) and
    /// [`run_until_time`](Self::run_until_time) (default 10 million).
    pub fn set_step_limit(&mut self, max_steps: u64) {
        self.step_limit = max_steps;
    }

    /// When the next event is due, if any (possibly a timer the node has
    /// since cancelled, which [`step`](Self::step) skips).
    pub fn next_event_time(&self) -> Option<Instant> {
        self.queue.peek_time().map(|t| self.clock.instant_at(t))
    }

    /// Processes the next event (a datagram hop, a delivery or a timeout)
    /// in virtual-time order, after polling any nodes touched through
    /// [`node_mut`](Self::node_mut). Returns false if there was none.
    pub fn step(&mut self) -> bool {
        self.flush();
        self.step_before(None)
    }

    /// Processes the next live event due no later than `deadline`.
    fn step_before(&mut self, deadline: Option<Duration>) -> bool {
        loop {
            match self.queue.peek_time() {
                None => return false,
                Some(at) if deadline.is_some_and(|d| at > d) => return false,
                Some(_) => {}
            }
            let (at, event) = self.queue.pop().expect("peeked");
            if let Event::Timer(id, generation) = event {
                if self.nodes[id.0].timer_gen != generation || self.nodes[id.0].timer.is_none() {
                    continue; // cancelled or superseded
                }
            }
            self.clock.advance_to(at);
            self.stats.steps += 1;
            self.process(event);
            return true;
        }
    }

    fn process(&mut self, event: Event) {
        match event {
            Event::Transit(p) => {
                self.in_flight -= 1;
                self.route(p);
            }
            Event::Deliver(node, p) => {
                self.in_flight -= 1;
                self.deliver(node, p);
            }
            Event::Timer(id, _) => {
                let slot = &mut self.nodes[id.0];
                slot.timer = None;
                slot.stats.timeouts += 1;
                self.stats.timeouts += 1;
                let now = self.clock.offset();
                if self.trace.active() {
                    self.trace.record(now, TraceKind::Timeout { node: id }, &[]);
                }
                let instant = self.clock.instant();
                self.nodes[id.0].node.handle_timeout(instant);
                self.after_activity(id);
            }
        }
    }

    /// Runs until `done(self)` is true, checking before every step.
    /// Stops early at the limits, or when nothing is left to happen. On
    /// [`Stop::TimeLimit`] the clock is left at the time limit.
    pub fn run_until(
        &mut self,
        mut done: impl FnMut(&mut Sim) -> bool,
        limits: Limits,
    ) -> RunReport {
        let start = self.clock.offset();
        let deadline = start + limits.max_time;
        let mut steps = 0;
        let stop = loop {
            self.flush();
            if done(self) {
                break Stop::Satisfied;
            }
            self.flush();
            if steps >= limits.max_steps {
                break Stop::StepLimit;
            }
            if !self.step_before(Some(deadline)) {
                if self.queue.is_empty() {
                    break Stop::Idle;
                }
                self.clock.advance_to(deadline);
                break Stop::TimeLimit;
            }
            steps += 1;
        };
        self.report(stop, steps, start)
    }

    /// Processes every event due up to `deadline`, then sets the clock to
    /// it. Stops early only at the step limit ([`set_step_limit`](Self::set_step_limit)).
    pub fn run_until_time(&mut self, deadline: Instant) -> RunReport {
        let start = self.clock.offset();
        let deadline = self.clock.offset_of(deadline).max(start);
        let mut steps = 0;
        let stop = loop {
            self.flush();
            if steps >= self.step_limit {
                break Stop::StepLimit;
            }
            if !self.step_before(Some(deadline)) {
                self.clock.advance_to(deadline);
                break Stop::Deadline;
            }
            steps += 1;
        };
        self.report(stop, steps, start)
    }

    /// Runs for `duration` of virtual time (see [`run_until_time`](Self::run_until_time)).
    pub fn run_for(&mut self, duration: Duration) -> RunReport {
        self.run_until_time(self.now() + duration)
    }

    /// Runs until nothing is left to happen, within `limits`; on success
    /// the report's stop is [`Stop::Idle`].
    pub fn run_until_idle(&mut self, limits: Limits) -> RunReport {
        self.run_until(|_| false, limits)
    }

    fn report(&self, stop: Stop, steps: u64, start: Duration) -> RunReport {
        RunReport {
            stop,
            steps,
            elapsed: self.clock.offset() - start,
            now: self.clock.offset(),
            seed: self.seed,
        }
    }
}
