//! What every Python object of one endpoint shares: the runtime handle,
//! its event stream (core's `Events`, with the events that blocking waits
//! set aside), and the closed flag.
//!
//! Nothing here holds a Python object, so sessions and flows never form
//! reference cycles with their endpoint.  No lock is ever held while the
//! GIL is released or reacquired.

use crate::errors::{self, Kind, OrRaise};
use crate::layer::PyWaiter;
use pyo3::prelude::*;
use rtmfp_core::crypto::PeerId;
use rtmfp_core::endpoint::{Endpoint as CoreEndpoint, EndpointError, Event, OpenFailure};
use rtmfp_core::endpoint::{SessionHandle, SessionInfo};
use rtmfp_core::host::{AfterClose, Events, Next};
use rtmfp_core::runtime::{Handle, Runtime, RuntimeError};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// One running endpoint.
pub(crate) struct Shared {
    pub(crate) handle: Handle,
    /// `Some` until `close()`; dropping it shuts the runtime down.
    runtime: Mutex<Option<Runtime>>,
    /// The event stream (core's [`Events`], [`AfterClose::Drain`]):
    /// events a blocking wait (connect) set aside come first; once the
    /// I/O thread has stopped, what is left is still read, then reads
    /// answer closed.
    events: Events<Event>,
    /// `close()` was called: calls fail with `ClosedError` (reads go on
    /// until the stream ends).
    closing: AtomicBool,
    pub(crate) peer_id: PeerId,
    pub(crate) local_addrs: Vec<SocketAddr>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Critical sections are plain collection updates: a panic cannot
    // leave the data inconsistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub(crate) fn new(runtime: Runtime, peer_id: PeerId) -> Shared {
        Shared {
            handle: runtime.handle(),
            local_addrs: runtime.local_addrs(),
            runtime: Mutex::new(Some(runtime)),
            events: Events::with_policy(AfterClose::Drain),
            closing: AtomicBool::new(false),
            peer_id,
        }
    }

    /// Closed by `close()` or because the I/O thread stopped.
    pub(crate) fn is_closed(&self) -> bool {
        self.closing.load(Ordering::SeqCst) || self.handle.is_closed()
    }

    /// Whether the event stream has ended: closed, and no event will come
    /// any more (the I/O thread has stopped).  Events may still be left
    /// to read.
    pub(crate) fn events_ended(&self) -> bool {
        self.events.is_closed(&self.handle)
    }

    pub(crate) fn check_open(&self, py: Python<'_>) -> PyResult<()> {
        if self.is_closed() {
            Err(errors::closed(py))
        } else {
            Ok(())
        }
    }

    /// Shuts the runtime down (GIL released): closes sessions in order,
    /// waits for them at most `deadline`.  Idempotent; `true` if this call
    /// closed it cleanly.
    ///
    /// The event stream is closed only once the I/O thread has stopped:
    /// a reader on another thread keeps waiting meanwhile and reads the
    /// last events (`SessionClosed`) that the close produces.
    pub(crate) fn close(&self, py: Python<'_>, deadline: Duration) -> bool {
        self.closing.store(true, Ordering::SeqCst);
        let runtime = lock(&self.runtime).take();
        match runtime {
            Some(rt) => {
                let clean = py.detach(move || rt.shutdown(deadline).clean);
                self.events.close();
                clean
            }
            None => false,
        }
    }

    /// Runs `f` on the I/O thread, with the GIL released while it waits.
    pub(crate) fn call<R, F>(&self, py: Python<'_>, f: F) -> PyResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut CoreEndpoint, Instant) -> R + Send + 'static,
    {
        self.check_open(py)?;
        let handle = &self.handle;
        py.detach(move || handle.call(f)).or_raise(py)
    }

    /// [`Shared::call`] for endpoint operations that can fail.
    pub(crate) fn call_ep<R, F>(&self, py: Python<'_>, f: F) -> PyResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut CoreEndpoint, Instant) -> Result<R, EndpointError> + Send + 'static,
    {
        self.call(py, f)?
            .map_err(RuntimeError::Endpoint)
            .or_raise(py)
    }

    /// A runtime handle call (GIL released) that can fail.
    pub(crate) fn with_handle<R, F>(&self, py: Python<'_>, f: F) -> PyResult<R>
    where
        R: Send,
        F: FnOnce(&Handle) -> Result<R, RuntimeError> + Send,
    {
        self.check_open(py)?;
        let handle = &self.handle;
        py.detach(move || f(handle)).or_raise(py)
    }

    pub(crate) fn session_info(
        &self,
        py: Python<'_>,
        session: SessionHandle,
    ) -> PyResult<Option<SessionInfo>> {
        self.call(py, move |ep, _| ep.session_info(session))
    }

    /// The next event: set-aside events first, then the runtime's queue.
    /// Waits until `deadline` (`None`: for ever), GIL released, Ctrl-C
    /// interrupts.  `Ok(None)` on timeout.  Once the endpoint is closed
    /// the events left are still read, without waiting; then
    /// `ClosedError`.
    pub(crate) fn next_event(
        &self,
        py: Python<'_>,
        deadline: Option<Instant>,
    ) -> PyResult<Option<Event>> {
        match self
            .events
            .next(&self.handle, deadline, &mut PyWaiter(py))?
        {
            Next::Event(event) => Ok(Some(event)),
            Next::Timeout => Ok(None),
            Next::Closed => Err(errors::closed(py)),
        }
    }

    /// Every event waiting now, without blocking (for asyncio).  Once
    /// closed: the events left, then nothing.
    pub(crate) fn drain(&self) -> Vec<Event> {
        self.events.drain(&self.handle)
    }

    /// Waits until `session` opens; returns the session to use (another
    /// one when the far end's session won glare or already existed).
    /// Events read meanwhile stay in the event stream.  On timeout or
    /// Ctrl-C the opening is cancelled.  `what` names the far end in
    /// messages.
    pub(crate) fn wait_open(
        &self,
        py: Python<'_>,
        session: SessionHandle,
        timeout: Duration,
        what: &str,
    ) -> PyResult<SessionHandle> {
        let deadline = Instant::now().checked_add(timeout);
        let mut target = session;
        let mut switches = 0;
        loop {
            self.check_open(py)?;
            match self.open_outcome(target) {
                Some(None) => return Ok(target),
                Some(Some(OpenFailure::Duplicate(other))) if switches < 8 => {
                    // Use the session that exists (or won glare).
                    switches += 1;
                    target = other;
                    continue;
                }
                Some(Some(reason)) => return Err(open_failed(py, reason, what)),
                None => {}
            }
            if self.session_info(py, target)?.is_some_and(|i| i.open) {
                return Ok(target);
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                self.cancel(py, session, target);
                return Err(errors::err(
                    py,
                    Kind::Timeout,
                    format!(
                        "no session with {what} within {:.3} s",
                        timeout.as_secs_f64()
                    ),
                ));
            }
            // One slice; an event read stays in the event stream.
            if let Err(e) = self
                .events
                .read_aside(&self.handle, deadline, &mut PyWaiter(py))
            {
                self.cancel(py, session, target);
                return Err(e);
            }
        }
    }

    /// Abandons `session` if it is still what we wait for.
    fn cancel(&self, py: Python<'_>, session: SessionHandle, target: SessionHandle) {
        if session == target {
            let handle = &self.handle;
            let _ = py.detach(move || handle.close_session(session, true));
        }
    }

    /// How `session`'s opening ended, from the set-aside events:
    /// `Some(None)` opened, `Some(Some(reason))` failed, `None` unknown.
    fn open_outcome(&self, session: SessionHandle) -> Option<Option<OpenFailure>> {
        self.events.find_set_aside(|e| outcome(e, session))
    }
}

/// How `session`'s opening ended, if `event` says: `Some(None)` opened,
/// `Some(Some(reason))` failed.
fn outcome(event: &Event, session: SessionHandle) -> Option<Option<OpenFailure>> {
    match event {
        Event::SessionOpened { session: s, .. } if *s == session => Some(None),
        Event::SessionOpenFailed { session: s, reason } if *s == session => Some(Some(*reason)),
        _ => None,
    }
}

/// The exception for a failed opening (core's kind and words).
pub(crate) fn open_failed(py: Python<'_>, reason: OpenFailure, what: &str) -> PyErr {
    errors::failure(py, rtmfp_core::host::open_failure(reason, what))
}
