//! The event queue between the I/O thread and the application, and the
//! file descriptor that is readable while events wait.
//!
//! [`EventQueue`] is generic so that layers on the I/O thread (the Flash
//! client, the rendezvous server) can hand their own typed events to the
//! application with the same blocking, timeout and event-fd semantics as
//! the runtime's endpoint events.

use super::sys;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// An fd that is readable exactly while it is "set": an eventfd whose
/// counter is 0 or 1, or a pipe holding 0 or 1 byte.
#[derive(Debug)]
struct Notifier {
    read: File,
    /// The write end; `None` for an eventfd, which is both.
    write: Option<File>,
}

impl Notifier {
    fn new() -> io::Result<Notifier> {
        match sys::eventfd() {
            Ok(fd) => Ok(Notifier {
                read: File::from(fd),
                write: None,
            }),
            Err(_) => Self::with_pipe(),
        }
    }

    fn with_pipe() -> io::Result<Notifier> {
        let (r, w): (OwnedFd, OwnedFd) = sys::pipe()?;
        Ok(Notifier {
            read: File::from(r),
            write: Some(File::from(w)),
        })
    }

    fn fd(&self) -> RawFd {
        self.read.as_raw_fd()
    }

    /// Makes the fd readable.  Called only while it is not set.
    fn set(&self) {
        let mut w = self.write.as_ref().unwrap_or(&self.read);
        // Non-blocking; with at most one pending unit it cannot be full.
        let _ = match self.write {
            Some(_) => w.write(&[1u8]),
            None => w.write(&1u64.to_ne_bytes()),
        };
    }

    /// Makes the fd unreadable.
    fn clear(&self) {
        let mut r = &self.read;
        let mut buf = [0u8; 64];
        // An eventfd read returns the counter and zeroes it; a pipe is
        // drained until it would block.
        while let Ok(n) = r.read(&mut buf) {
            if n == 0 || self.write.is_none() {
                break;
            }
        }
    }
}

#[derive(Debug)]
struct Inner<T> {
    queue: VecDeque<T>,
    /// The I/O thread has stopped; no event will be added.
    closed: bool,
    /// The I/O thread stopped taking events from the endpoint because the
    /// queue was full; it wants a wake-up when the queue drains.
    paused: bool,
    /// Whether the notifier is set.
    signalled: bool,
}

/// Events from the I/O thread to the application (any thread).
///
/// Its [`EventQueue::fd`] is readable while at least one event waits or
/// once the queue is closed (the same contract as
/// [`Handle::event_fd`](super::Handle::event_fd)).
///
/// Invariant, held under the mutex: the notifier is set iff the queue is
/// non-empty or the queue is closed.
#[derive(Debug)]
pub struct EventQueue<T> {
    inner: Mutex<Inner<T>>,
    ready: Condvar,
    notifier: Notifier,
    limit: usize,
}

impl<T> EventQueue<T> {
    /// A new, empty queue.  `limit` bounds only the runtime's own
    /// backpressure; [`EventQueue::push`] is not limited.
    pub fn new(limit: usize) -> io::Result<EventQueue<T>> {
        Ok(EventQueue {
            inner: Mutex::new(Inner {
                queue: VecDeque::new(),
                closed: false,
                paused: false,
                signalled: false,
            }),
            ready: Condvar::new(),
            notifier: Notifier::new()?,
            limit: limit.max(1),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner<T>> {
        // A panic while holding this lock cannot leave the queue
        // inconsistent (every critical section is a few field updates).
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The file descriptor that is readable while events wait (or after
    /// close).  Never read or write it; only wait for readability.
    pub fn fd(&self) -> RawFd {
        self.notifier.fd()
    }

    fn update_signal(&self, inner: &mut Inner<T>) {
        let want = inner.closed || !inner.queue.is_empty();
        if want != inner.signalled {
            if want {
                self.notifier.set();
            } else {
                self.notifier.clear();
            }
            inner.signalled = want;
        }
    }

    /// I/O thread: how many more events fit.  Zero marks the queue paused,
    /// so that the consumer wakes the I/O thread when it drains.
    pub(crate) fn room(&self) -> usize {
        let mut inner = self.lock();
        let room = self.limit.saturating_sub(inner.queue.len());
        inner.paused = room == 0;
        room
    }

    /// Appends one event (from any thread) and wakes the waiters.
    /// Events pushed after [`EventQueue::close`] are dropped.
    pub fn push(&self, event: T) {
        let mut inner = self.lock();
        if inner.closed {
            return;
        }
        inner.queue.push_back(event);
        self.update_signal(&mut inner);
        drop(inner);
        self.ready.notify_all();
    }

    /// I/O thread: appends events.
    pub(crate) fn push_all(&self, events: &mut Vec<T>) {
        if events.is_empty() {
            return;
        }
        let mut inner = self.lock();
        inner.queue.extend(events.drain(..));
        self.update_signal(&mut inner);
        drop(inner);
        self.ready.notify_all();
    }

    /// No more events will come: waiters return once the queue is empty,
    /// and the fd stays readable for good.
    pub fn close(&self) {
        let mut inner = self.lock();
        inner.closed = true;
        self.update_signal(&mut inner);
        drop(inner);
        self.ready.notify_all();
    }

    /// Takes one event.  Returns it and whether the I/O thread should be
    /// woken because the queue drained below half while it was paused.
    fn take(&self, inner: &mut Inner<T>) -> Option<(T, bool)> {
        let event = inner.queue.pop_front()?;
        let wake = inner.paused && inner.queue.len() <= self.limit / 2;
        if wake {
            inner.paused = false;
        }
        self.update_signal(inner);
        Some((event, wake))
    }

    pub(crate) fn try_next(&self) -> Option<(T, bool)> {
        let mut inner = self.lock();
        self.take(&mut inner)
    }

    /// Waits until an event, the deadline (if any), or close.
    pub(crate) fn next(&self, deadline: Option<Instant>) -> Option<(T, bool)> {
        let mut inner = self.lock();
        loop {
            if let Some(taken) = self.take(&mut inner) {
                return Some(taken);
            }
            if inner.closed {
                return None;
            }
            match deadline {
                None => {
                    inner = self.ready.wait(inner).unwrap_or_else(|e| e.into_inner());
                }
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return None;
                    }
                    let wait = (deadline - now).max(Duration::from_micros(1));
                    inner = self
                        .ready
                        .wait_timeout(inner, wait)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
        }
    }

    /// Events waiting.
    pub fn len(&self) -> usize {
        self.lock().queue.len()
    }

    /// Whether no event waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether [`EventQueue::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// The next event if one waits; never blocks.
    pub fn try_pop(&self) -> Option<T> {
        self.try_next().map(|(e, _)| e)
    }

    /// The next event, waiting at most `timeout` (`None`: as long as it
    /// takes).  `None` on timeout, or once closed and empty.
    pub fn pop_timeout(&self, timeout: Option<Duration>) -> Option<T> {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        if timeout.is_some() && deadline.is_none() {
            return self.next(None).map(|(e, _)| e);
        }
        self.next(deadline).map(|(e, _)| e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether the notifier's fd has something to read, without consuming
    /// more than a probe: for these tests a read that succeeds means
    /// "was readable" and is followed by a fresh `set` if needed.
    fn readable(n: &Notifier) -> bool {
        let mut buf = [0u8; 8];
        matches!((&n.read).read(&mut buf), Ok(k) if k > 0)
    }

    #[test]
    fn eventfd_and_pipe_notifiers_set_and_clear() {
        let mut notifiers = vec![Notifier::with_pipe().unwrap()];
        if let Ok(fd) = sys::eventfd() {
            notifiers.push(Notifier {
                read: File::from(fd),
                write: None,
            });
        }
        for n in notifiers {
            assert!(!readable(&n));
            n.set();
            assert!(readable(&n));
            n.set();
            n.clear();
            assert!(!readable(&n));
        }
    }

    #[test]
    fn queue_signal_follows_emptiness_and_close() {
        let q = EventQueue::<crate::endpoint::Event>::new(2).unwrap();
        let ev = || crate::endpoint::Event::SessionOpenFailed {
            session: crate::endpoint::SessionHandle(1),
            reason: crate::endpoint::OpenFailure::Cancelled,
        };
        assert!(!q.lock().signalled);
        q.push_all(&mut vec![ev(), ev()]);
        assert!(q.lock().signalled);
        assert_eq!(q.room(), 0);
        let (_, wake) = q.try_next().unwrap();
        assert!(wake, "paused queue drained to half wakes the I/O thread");
        assert!(q.lock().signalled);
        q.try_next().unwrap();
        assert!(!q.lock().signalled);
        assert!(q.next(Some(Instant::now())).is_none());
        q.close();
        assert!(q.lock().signalled);
        assert!(q.next(None).is_none());
    }
}
