//! What every Python object of one endpoint shares: the runtime handle,
//! the events that blocking waits set aside, and the closed flag.
//!
//! Nothing here holds a Python object, so sessions and flows never form
//! reference cycles with their endpoint.  No lock is ever held while the
//! GIL is released or reacquired.

use crate::errors::{self, Kind, OrRaise};
use pyo3::prelude::*;
use rtmfp_core::crypto::PeerId;
use rtmfp_core::endpoint::{Endpoint as CoreEndpoint, EndpointError, Event, OpenFailure};
use rtmfp_core::endpoint::{SessionHandle, SessionInfo};
use rtmfp_core::runtime::{Handle, Runtime, RuntimeError};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Longest time a blocking wait goes without looking at Python signals
/// (Ctrl-C), the closed flag and events set aside by other threads.
pub(crate) const SLICE: Duration = Duration::from_millis(50);

/// One running endpoint.
pub(crate) struct Shared {
    pub(crate) handle: Handle,
    /// `Some` until `close()`; dropping it shuts the runtime down.
    runtime: Mutex<Option<Runtime>>,
    /// Events taken from the runtime by a blocking wait (connect) that
    /// were not what it waited for: the event stream gives them first.
    backlog: Mutex<VecDeque<Event>>,
    /// `close()` was called.
    closed: AtomicBool,
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
            backlog: Mutex::new(VecDeque::new()),
            closed: AtomicBool::new(false),
            peer_id,
        }
    }

    /// Closed by `close()` or because the I/O thread stopped.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst) || self.handle.is_closed()
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
    pub(crate) fn close(&self, py: Python<'_>, deadline: Duration) -> bool {
        self.closed.store(true, Ordering::SeqCst);
        let runtime = lock(&self.runtime).take();
        lock(&self.backlog).clear();
        match runtime {
            Some(rt) => py.detach(move || rt.shutdown(deadline).clean),
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
    /// Waits until `deadline` (`None`: for ever) in slices, checking for
    /// signals between them.  `Ok(None)` on timeout; `ClosedError` once
    /// the endpoint is closed.
    pub(crate) fn next_event(
        &self,
        py: Python<'_>,
        deadline: Option<Instant>,
    ) -> PyResult<Option<Event>> {
        loop {
            self.check_open(py)?;
            if let Some(event) = lock(&self.backlog).pop_front() {
                return Ok(Some(event));
            }
            let now = Instant::now();
            let wait = match deadline {
                Some(d) => d.saturating_duration_since(now).min(SLICE),
                None => SLICE,
            };
            let handle = &self.handle;
            if let Some(event) = py.detach(move || handle.next_event_timeout(wait)) {
                return Ok(Some(event));
            }
            py.check_signals()?;
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(None);
            }
        }
    }

    /// Every event waiting now, without blocking (for asyncio).  Empty
    /// once closed.
    pub(crate) fn drain(&self) -> Vec<Event> {
        if self.is_closed() {
            return Vec::new();
        }
        let mut out: Vec<Event> = lock(&self.backlog).drain(..).collect();
        while let Some(event) = self.handle.try_next_event() {
            out.push(event);
        }
        out
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
            let wait = deadline.map_or(SLICE, |d| (d - now).min(SLICE));
            let handle = &self.handle;
            if let Some(event) = py.detach(move || handle.next_event_timeout(wait)) {
                lock(&self.backlog).push_back(event);
            }
            if let Err(e) = py.check_signals() {
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
        lock(&self.backlog).iter().find_map(|e| match e {
            Event::SessionOpened { session: s, .. } if *s == session => Some(None),
            Event::SessionOpenFailed { session: s, reason } if *s == session => Some(Some(*reason)),
            _ => None,
        })
    }
}

/// The exception for a failed opening.
pub(crate) fn open_failed(py: Python<'_>, reason: OpenFailure, what: &str) -> PyErr {
    match reason {
        OpenFailure::Timeout => errors::err(
            py,
            Kind::Timeout,
            format!("no session with {what}: no answer before the open timeout"),
        ),
        OpenFailure::KeyingFailed => errors::err(
            py,
            Kind::Session,
            format!("no session with {what}: its keying (certificate or signature) was refused"),
        ),
        OpenFailure::Cancelled => errors::err(
            py,
            Kind::Session,
            format!("no session with {what}: cancelled before it opened"),
        ),
        OpenFailure::Duplicate(other) => errors::err(
            py,
            Kind::Session,
            format!(
                "no new session with {what}: session {} already exists",
                other.0
            ),
        ),
        OpenFailure::Unreachable(address) => errors::err(
            py,
            Kind::Session,
            format!(
                "no session with {what}: {address} is unreachable (ICMP port or host \
                 unreachable: nothing listens there)"
            ),
        ),
    }
}
