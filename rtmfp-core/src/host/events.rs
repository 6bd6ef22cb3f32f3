//! [`Events`]: one hosted object's event stream.

use crate::flash::client::ClientEvent;
use crate::flash::NetConnection;
use crate::rendezvous::{ServerEvent, ServerHandle};
use crate::runtime::Handle;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Longest time a blocking wait goes without returning to its
/// [`Waiter::between`] (signals, the closed flag, events other threads set
/// aside).
pub const SLICE: Duration = Duration::from_millis(50);

/// A queue that a hosted object's events come out of: the runtime's own
/// ([`Handle`]), or an application layer's ([`NetConnection`],
/// [`ServerHandle`]).
pub trait EventSource: Send + Sync {
    /// What comes out.
    type Event: Send + 'static;
    /// The next event, waiting at most `timeout`.
    fn pop(&self, timeout: Duration) -> Option<Self::Event>;
    /// The next event if one waits; never blocks.
    fn try_pop(&self) -> Option<Self::Event>;
    /// Whether the I/O thread has stopped (no event will come any more).
    fn finished(&self) -> bool;
}

impl EventSource for Handle {
    type Event = crate::endpoint::Event;
    fn pop(&self, timeout: Duration) -> Option<Self::Event> {
        self.next_event_timeout(timeout)
    }
    fn try_pop(&self) -> Option<Self::Event> {
        self.try_next_event()
    }
    fn finished(&self) -> bool {
        self.is_closed()
    }
}

impl EventSource for NetConnection {
    type Event = ClientEvent;
    fn pop(&self, timeout: Duration) -> Option<ClientEvent> {
        self.next_event_timeout(timeout)
    }
    fn try_pop(&self) -> Option<ClientEvent> {
        self.try_next_event()
    }
    fn finished(&self) -> bool {
        self.handle().is_closed()
    }
}

impl EventSource for ServerHandle {
    type Event = ServerEvent;
    fn pop(&self, timeout: Duration) -> Option<ServerEvent> {
        self.next_event_timeout(timeout)
    }
    fn try_pop(&self) -> Option<ServerEvent> {
        self.try_next_event()
    }
    fn finished(&self) -> bool {
        self.handle().is_closed()
    }
}

/// How a blocking wait spends its time, in slices of at most [`SLICE`].
pub trait Waiter {
    /// What [`Waiter::between`] can fail with (Python: a signal's
    /// exception); the wait returns it at once.
    type Error;
    /// Runs one slice of blocking wait (an adapter releases its
    /// interpreter lock around it).
    fn block<R: Send>(&mut self, wait: impl FnOnce() -> R + Send) -> R;
    /// Runs between slices (an adapter checks for signals).
    fn between(&mut self) -> Result<(), Self::Error>;
}

/// A waiter for plain Rust and C callers: blocks in place, never fails.
impl Waiter for () {
    type Error = std::convert::Infallible;
    fn block<R: Send>(&mut self, wait: impl FnOnce() -> R + Send) -> R {
        wait()
    }
    fn between(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// What a wait ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next<T> {
    /// An event (or, for [`Events::wait_for`], what was picked).
    Event(T),
    /// The deadline passed first.
    Timeout,
    /// The object was closed, or its I/O thread stopped.
    Closed,
}

/// What a closed stream does with the events still in it: those set
/// aside, and those its source queued before it finished.
///
/// A stream is closed by [`Events::close`], or when its source finishes
/// (the I/O thread stopped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AfterClose {
    /// They are dropped: every read answers [`Next::Closed`] at once and
    /// [`Events::drain`] is empty.  (No adapter uses it any more.)
    #[default]
    Drop,
    /// They stay readable: reads no longer wait, they return what is left
    /// (set-aside events first, then the source's, in order), and answer
    /// [`Next::Closed`] once nothing is (also when a deadline passed at
    /// the same time).  The rule of C, Python and Node: the last events
    /// of a closed object (a session's close, a
    /// "NetConnection.Connect.Closed" status, a client's disconnect) tell
    /// the application how the close went.  An adapter that wants a
    /// reader on another thread to see them closes the stream
    /// ([`Events::close`]) only once the I/O thread has stopped.
    Drain,
}

/// One hosted object's event stream: the events that a blocking wait set
/// aside while it looked for another, then its [`EventSource`].
///
/// Close semantics: [`Events::close`] marks the stream closed; from then
/// on (and once the source has finished) reads follow its [`AfterClose`]
/// policy.
#[derive(Debug)]
pub struct Events<T> {
    backlog: Mutex<VecDeque<T>>,
    closed: AtomicBool,
    after_close: AfterClose,
}

impl<T> Default for Events<T> {
    fn default() -> Self {
        Self::with_policy(AfterClose::default())
    }
}

impl<T> Events<T> {
    /// An open, empty stream whose events are handled per `after_close`
    /// once it is closed.
    pub fn with_policy(after_close: AfterClose) -> Self {
        Events {
            backlog: Mutex::new(VecDeque::new()),
            closed: AtomicBool::new(false),
            after_close,
        }
    }
}

impl<T: Send + 'static> Events<T> {
    /// An open, empty stream that drops its events when closed
    /// ([`AfterClose::Drop`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// Its [`AfterClose`] policy.
    pub fn after_close(&self) -> AfterClose {
        self.after_close
    }

    fn backlog(&self) -> MutexGuard<'_, VecDeque<T>> {
        // Critical sections are plain collection updates: a panic cannot
        // leave the data inconsistent.
        self.backlog.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Closed by [`Events::close`], or because `source` finished.
    pub fn is_closed<S: EventSource<Event = T>>(&self, source: &S) -> bool {
        self.closed.load(Ordering::SeqCst) || source.finished()
    }

    /// Whether [`Events::close`] was called.
    pub fn close_called(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Closes the stream: what was set aside is dropped
    /// ([`AfterClose::Drop`]) or stays readable ([`AfterClose::Drain`]).
    /// Idempotent; `true` the first time.
    pub fn close(&self) -> bool {
        let first = !self.closed.swap(true, Ordering::SeqCst);
        if self.after_close == AfterClose::Drop {
            self.backlog().clear();
        }
        first
    }

    /// What a read of a closed stream answers: under
    /// [`AfterClose::Drain`] the next event left (set aside, then
    /// queued), without waiting; else, or when none is left,
    /// [`Next::Closed`].
    fn leftover<S: EventSource<Event = T>>(&self, source: &S) -> Next<T> {
        if self.after_close == AfterClose::Drop {
            return Next::Closed;
        }
        let event = self.backlog().pop_front().or_else(|| source.try_pop());
        event.map_or(Next::Closed, Next::Event)
    }

    /// Keeps `event` for the next read (a wait that was looking for
    /// another one).
    pub fn set_aside(&self, event: T) {
        self.backlog().push_back(event);
    }

    /// The first set-aside event `pick` finds something in.
    pub fn find_set_aside<R>(&self, pick: impl FnMut(&T) -> Option<R>) -> Option<R> {
        self.backlog().iter().find_map(pick)
    }

    /// One slice of wait on `source`, at most `wait`. A finished source
    /// answers at once: the slice then sleeps a little, so that a caller
    /// looping on it does not spin.
    fn slice<S, W>(source: &S, wait: Duration, waiter: &mut W) -> Option<T>
    where
        S: EventSource<Event = T>,
        W: Waiter,
    {
        waiter.block(|| {
            let start = Instant::now();
            let event = source.pop(wait);
            if event.is_none() && !source.finished() {
                let left = wait.saturating_sub(start.elapsed());
                if left > Duration::from_millis(1) {
                    std::thread::sleep(left.min(Duration::from_millis(10)));
                }
            }
            event
        })
    }

    /// The next event: set-aside events first, then `source`, waiting
    /// until `deadline` (`None`: for ever) in slices.
    pub fn next<S, W>(
        &self,
        source: &S,
        deadline: Option<Instant>,
        waiter: &mut W,
    ) -> Result<Next<T>, W::Error>
    where
        S: EventSource<Event = T>,
        W: Waiter,
    {
        loop {
            if self.is_closed(source) {
                return Ok(self.leftover(source));
            }
            if let Some(event) = self.backlog().pop_front() {
                return Ok(Next::Event(event));
            }
            let wait = match deadline {
                Some(d) => d.saturating_duration_since(Instant::now()).min(SLICE),
                None => SLICE,
            };
            if let Some(event) = Self::slice(source, wait, waiter) {
                return Ok(Next::Event(event));
            }
            waiter.between()?;
            if deadline.is_some_and(|d| Instant::now() >= d) {
                if self.after_close == AfterClose::Drain && self.is_closed(source) {
                    // Closed and drained is a better answer than a
                    // timeout: nothing will come any more.
                    return Ok(self.leftover(source));
                }
                return Ok(Next::Timeout);
            }
        }
    }

    /// Waits until `pick` finds what it wants in an event, at most until
    /// `deadline`. Every event read stays in the stream (set aside, in
    /// order), so that nothing is lost to the wait.
    pub fn wait_for<S, W, R>(
        &self,
        source: &S,
        deadline: Option<Instant>,
        waiter: &mut W,
        mut pick: impl FnMut(&T) -> Option<R>,
    ) -> Result<Next<R>, W::Error>
    where
        S: EventSource<Event = T>,
        W: Waiter,
    {
        if let Some(found) = self.find_set_aside(&mut pick) {
            return Ok(Next::Event(found));
        }
        loop {
            if self.is_closed(source) {
                return Ok(self.pick_leftover(source, pick));
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                return Ok(Next::Timeout);
            }
            let wait = deadline.map_or(SLICE, |d| (d - now).min(SLICE));
            if let Some(event) = Self::slice(source, wait, waiter) {
                let found = pick(&event);
                self.set_aside(event);
                if let Some(found) = found {
                    return Ok(Next::Event(found));
                }
            }
            waiter.between()?;
        }
    }

    /// [`Events::wait_for`] on a closed stream whose set-aside events
    /// had nothing: under [`AfterClose::Drain`] it looks at what the
    /// source has left (setting it aside in turn), without waiting.
    fn pick_leftover<S, R>(&self, source: &S, mut pick: impl FnMut(&T) -> Option<R>) -> Next<R>
    where
        S: EventSource<Event = T>,
    {
        if self.after_close == AfterClose::Drop {
            return Next::Closed;
        }
        while let Some(event) = source.try_pop() {
            let found = pick(&event);
            self.set_aside(event);
            if let Some(found) = found {
                return Next::Event(found);
            }
        }
        Next::Closed
    }

    /// One slice of wait (at most until `deadline`, at most [`SLICE`]):
    /// an event that comes is set aside for the next read. For waits that
    /// look at more than the events between slices (say, a session's
    /// state). `Ok(true)` if an event came.
    pub fn read_aside<S, W>(
        &self,
        source: &S,
        deadline: Option<Instant>,
        waiter: &mut W,
    ) -> Result<bool, W::Error>
    where
        S: EventSource<Event = T>,
        W: Waiter,
    {
        let now = Instant::now();
        let wait = deadline.map_or(SLICE, |d| d.saturating_duration_since(now).min(SLICE));
        let event = Self::slice(source, wait, waiter);
        let came = event.is_some();
        if let Some(event) = event {
            self.set_aside(event);
        }
        waiter.between()?;
        Ok(came)
    }

    /// Every event waiting now, set-aside ones first, without blocking.
    /// Once closed: empty ([`AfterClose::Drop`]), or what is left
    /// ([`AfterClose::Drain`]).
    pub fn drain<S: EventSource<Event = T>>(&self, source: &S) -> Vec<T> {
        if self.after_close == AfterClose::Drop && self.is_closed(source) {
            return Vec::new();
        }
        let mut out: Vec<T> = self.backlog().drain(..).collect();
        while let Some(event) = source.try_pop() {
            out.push(event);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source fed by the test.
    #[derive(Default)]
    struct Fake {
        queue: Mutex<VecDeque<u32>>,
        finished: AtomicBool,
    }

    impl EventSource for Fake {
        type Event = u32;
        fn pop(&self, timeout: Duration) -> Option<u32> {
            let e = self.queue.lock().unwrap().pop_front();
            if e.is_none() && !self.finished() {
                std::thread::sleep(timeout.min(Duration::from_millis(2)));
            }
            e
        }
        fn try_pop(&self) -> Option<u32> {
            self.queue.lock().unwrap().pop_front()
        }
        fn finished(&self) -> bool {
            self.finished.load(Ordering::SeqCst)
        }
    }

    fn fake(events: &[u32]) -> Fake {
        let f = Fake::default();
        f.queue.lock().unwrap().extend(events);
        f
    }

    /// Counts the slices; fails on the `fail_at`th.
    struct Counting {
        between: usize,
        fail_at: Option<usize>,
    }

    impl Waiter for Counting {
        type Error = &'static str;
        fn block<R: Send>(&mut self, wait: impl FnOnce() -> R + Send) -> R {
            wait()
        }
        fn between(&mut self) -> Result<(), &'static str> {
            self.between += 1;
            if Some(self.between) == self.fail_at {
                Err("interrupted")
            } else {
                Ok(())
            }
        }
    }

    fn soon() -> Option<Instant> {
        Some(Instant::now() + Duration::from_millis(30))
    }

    #[test]
    fn set_aside_events_come_first_then_the_source_in_order() {
        let src = fake(&[1, 2, 3]);
        let ev = Events::new();
        // Looking for 3 sets 1 and 2 aside.
        let found = ev.wait_for(&src, soon(), &mut (), |&e| (e == 3).then_some(e));
        assert_eq!(found, Ok(Next::Event(3)));
        assert_eq!(ev.next(&src, soon(), &mut ()), Ok(Next::Event(1)));
        assert_eq!(ev.next(&src, soon(), &mut ()), Ok(Next::Event(2)));
        assert_eq!(ev.next(&src, soon(), &mut ()), Ok(Next::Event(3)));
        assert_eq!(ev.next(&src, soon(), &mut ()), Ok(Next::Timeout));
    }

    #[test]
    fn read_aside_keeps_one_event_for_the_next_read() {
        let src = fake(&[8, 9]);
        let ev = Events::new();
        assert_eq!(ev.read_aside(&src, soon(), &mut ()), Ok(true));
        assert_eq!(ev.find_set_aside(|&e| Some(e)), Some(8));
        assert_eq!(ev.next(&src, soon(), &mut ()), Ok(Next::Event(8)));
        assert_eq!(ev.next(&src, soon(), &mut ()), Ok(Next::Event(9)));
        assert_eq!(ev.read_aside(&src, soon(), &mut ()), Ok(false));
    }

    #[test]
    fn drain_takes_everything_without_blocking() {
        let src = fake(&[4, 5]);
        let ev = Events::new();
        ev.set_aside(3);
        assert_eq!(ev.drain(&src), vec![3, 4, 5]);
        assert!(ev.drain(&src).is_empty());
    }

    #[test]
    fn a_waiter_error_ends_the_wait_between_slices() {
        let src = fake(&[]);
        let ev: Events<u32> = Events::new();
        let mut w = Counting {
            between: 0,
            fail_at: Some(2),
        };
        assert_eq!(ev.next(&src, None, &mut w), Err("interrupted"));
        assert_eq!(w.between, 2);
    }

    #[test]
    fn close_drops_set_aside_events_and_answers_closed() {
        let src = fake(&[7]);
        let ev = Events::new();
        ev.set_aside(6);
        assert!(ev.close());
        assert!(!ev.close(), "idempotent");
        assert_eq!(ev.next(&src, None, &mut ()), Ok(Next::Closed));
        assert_eq!(
            ev.wait_for(&src, None, &mut (), |&e| Some(e)),
            Ok(Next::Closed)
        );
        assert!(ev.drain(&src).is_empty());
    }

    #[test]
    fn drain_after_close_keeps_the_last_events_readable_then_answers_closed() {
        let src = fake(&[7, 8]);
        let ev = Events::with_policy(AfterClose::Drain);
        assert_eq!(ev.after_close(), AfterClose::Drain);
        ev.set_aside(6);
        assert!(ev.close());
        assert!(ev.is_closed(&src));
        // Set aside first, then the source, in order; no wait for ever.
        assert_eq!(ev.next(&src, None, &mut ()), Ok(Next::Event(6)));
        assert_eq!(ev.next(&src, None, &mut ()), Ok(Next::Event(7)));
        assert_eq!(ev.drain(&src), vec![8]);
        assert_eq!(ev.next(&src, None, &mut ()), Ok(Next::Closed));
        assert!(ev.drain(&src).is_empty());
    }

    #[test]
    fn drain_after_close_answers_closed_not_timeout_once_nothing_is_left() {
        // The source finished (the I/O thread stopped) with an event
        // queued; close() was never called.
        let src = fake(&[5]);
        src.finished.store(true, Ordering::SeqCst);
        let ev = Events::with_policy(AfterClose::Drain);
        let now = Some(Instant::now());
        assert_eq!(ev.next(&src, now, &mut ()), Ok(Next::Event(5)));
        assert_eq!(ev.next(&src, now, &mut ()), Ok(Next::Closed));
        // The same source under the default policy: dropped.
        let src = fake(&[5]);
        src.finished.store(true, Ordering::SeqCst);
        let ev = Events::new();
        assert_eq!(ev.next(&src, now, &mut ()), Ok(Next::Closed));
        assert!(ev.drain(&src).is_empty());
    }

    #[test]
    fn wait_for_after_close_looks_at_what_is_left_and_keeps_it() {
        let src = fake(&[1, 2, 3]);
        let ev = Events::with_policy(AfterClose::Drain);
        ev.close();
        let found = ev.wait_for(&src, None, &mut (), |&e| (e == 2).then_some(e));
        assert_eq!(found, Ok(Next::Event(2)));
        assert_eq!(
            ev.wait_for(&src, None, &mut (), |&e| (e == 9).then_some(e)),
            Ok(Next::Closed)
        );
        assert_eq!(ev.drain(&src), vec![1, 2, 3]);
    }

    #[test]
    fn a_finished_source_is_closed_and_a_wait_does_not_spin() {
        let src = fake(&[]);
        src.finished.store(true, Ordering::SeqCst);
        let ev: Events<u32> = Events::new();
        assert!(ev.is_closed(&src));
        assert_eq!(ev.next(&src, None, &mut ()), Ok(Next::Closed));
        // Not finished, nothing comes: a bounded wait times out, with a
        // handful of slices, not a spin.
        let src = fake(&[]);
        let mut w = Counting {
            between: 0,
            fail_at: None,
        };
        let deadline = Some(Instant::now() + Duration::from_millis(120));
        assert_eq!(ev.next(&src, deadline, &mut w), Ok(Next::Timeout));
        assert!(w.between <= 60, "{} slices", w.between);
    }
}
