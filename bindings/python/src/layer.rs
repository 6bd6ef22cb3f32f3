//! What the Flash-layer objects (`NetConnection`, `Server`) share: a
//! runtime that runs an application layer on its I/O thread and queues the
//! layer's events ([`Source`]), the blocking waits over that queue
//! ([`Layered`]), and the delivery of events to Python with the
//! exceptions of Python callbacks ([`Outbox`]).
//!
//! The endpoint binding ([`crate::shared::Shared`]) reads the runtime's
//! own event queue; a layer has a queue of its own, with the same event-fd
//! contract, so this module mirrors `Shared` for it.
//!
//! Python callbacks (`on_peer_connect`, the server hooks) are never called
//! by the I/O thread: the layers ask (or report) through events, and the
//! binding calls the callback while converting that event, on the thread
//! that reads events.  What a callback raises is logged at once (logger
//! `"rtmfp"`) and raised, as `rtmfp.CallbackError` from it, by the next
//! event-reading call; the event itself is delivered after it.

use crate::errors::{self, Kind};
use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};
use pyo3::PyTraverseError;
use rtmfp_core::flash::NetConnection as CoreNetConnection;
use rtmfp_core::host::{AfterClose, EventSource, Events, Next, Waiter};
use rtmfp_core::rendezvous::ServerHandle;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The Python callbacks a layer object holds besides its outbox (a
/// NetConnection's `on_peer_connect`s, a Server's hooks): what its GC
/// support visits, and what `close` and `__clear__` release.
pub(crate) trait Callbacks: Default {
    fn held(&self) -> impl Iterator<Item = &Py<PyAny>>;
}

/// A NetConnection's `on_peer_connect`s, by stream.
impl<K> Callbacks for std::collections::HashMap<K, Py<PyAny>> {
    fn held(&self) -> impl Iterator<Item = &Py<PyAny>> {
        self.values()
    }
}

/// Drops every callback, outside the lock: a finalizer may run Python code.
pub(crate) fn release<C: Callbacks>(callbacks: &Mutex<C>) {
    let old = std::mem::take(&mut *lock(callbacks));
    drop(old);
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Critical sections are plain collection updates: a panic cannot
    // leave the data inconsistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A runtime with an application layer whose events come out of a queue
/// (the queue itself is core's [`EventSource`]; the rest is core's too).
pub(crate) trait Source: EventSource + Sized + 'static {
    /// What `ClosedError` names.
    const WHAT: &'static str;
    fn event_fd(&self) -> RawFd;
    fn local_addrs(&self) -> Vec<SocketAddr>;
    /// Closes in order within `deadline`, once: `Some(clean)` for the
    /// call that did it.
    fn close(&self, deadline: Duration) -> Option<bool>;
}

impl Source for CoreNetConnection {
    const WHAT: &'static str = "the NetConnection";
    fn event_fd(&self) -> RawFd {
        CoreNetConnection::event_fd(self)
    }
    fn local_addrs(&self) -> Vec<SocketAddr> {
        CoreNetConnection::local_addrs(self)
    }
    fn close(&self, deadline: Duration) -> Option<bool> {
        CoreNetConnection::close(self, deadline).map(|r| r.clean)
    }
}

impl Source for ServerHandle {
    const WHAT: &'static str = "the server";
    fn event_fd(&self) -> RawFd {
        ServerHandle::event_fd(self)
    }
    fn local_addrs(&self) -> Vec<SocketAddr> {
        ServerHandle::local_addrs(self)
    }
    fn close(&self, deadline: Duration) -> Option<bool> {
        ServerHandle::close(self, deadline).map(|r| r.clean)
    }
}

/// How a blocking wait spends its time in Python: the GIL is released
/// while it blocks, and signals (Ctrl-C) are checked between slices.
pub(crate) struct PyWaiter<'py>(pub(crate) Python<'py>);

impl Waiter for PyWaiter<'_> {
    type Error = PyErr;
    fn block<R: Send>(&mut self, wait: impl FnOnce() -> R + Send) -> R {
        self.0.detach(wait)
    }
    fn between(&mut self) -> PyResult<()> {
        self.0.check_signals()
    }
}

/// One running layer: the source and its event stream (core's
/// [`Events`]: set-aside events, waits, close; [`AfterClose::Drain`]:
/// the events left when it closed are still read, then reads answer
/// closed).  The source, and so its event fd, lives as long as the Python
/// object: an asyncio reader never watches a closed (or reused)
/// descriptor.  After close the fd stays readable for good, as the
/// contract says.
pub(crate) struct Layered<S: Source> {
    source: Arc<S>,
    events: Events<S::Event>,
    /// `close()` was called: calls fail with `ClosedError` (reads go on
    /// until the stream ends).
    closing: AtomicBool,
    pub(crate) local_addrs: Vec<SocketAddr>,
}

impl<S: Source> Layered<S> {
    pub(crate) fn new(source: S) -> Layered<S> {
        Layered {
            local_addrs: source.local_addrs(),
            source: Arc::new(source),
            events: Events::with_policy(AfterClose::Drain),
            closing: AtomicBool::new(false),
        }
    }

    pub(crate) fn fd(&self) -> RawFd {
        self.source.event_fd()
    }

    /// Closed by `close()` or because the I/O thread stopped.
    pub(crate) fn is_closed(&self) -> bool {
        self.closing.load(Ordering::SeqCst) || self.events.is_closed(&*self.source)
    }

    /// Whether the event stream has ended: closed, and no event will come
    /// any more (the I/O thread has stopped).  Events may still be left
    /// to read.
    pub(crate) fn events_ended(&self) -> bool {
        self.events.is_closed(&*self.source)
    }

    /// The source, for one call (`ClosedError` once closed).
    pub(crate) fn get(&self, py: Python<'_>) -> PyResult<Arc<S>> {
        if self.is_closed() {
            return Err(errors::closed_as(py, S::WHAT));
        }
        Ok(self.source.clone())
    }

    /// Runs `f` with the source, GIL released.
    pub(crate) fn with<R, F>(&self, py: Python<'_>, f: F) -> PyResult<R>
    where
        R: Send,
        F: FnOnce(&S) -> R + Send,
    {
        let source = self.get(py)?;
        Ok(py.detach(move || f(&source)))
    }

    /// The next event: set-aside events first, then the queue.  Waits
    /// until `deadline` (`None`: for ever), GIL released, Ctrl-C
    /// interrupts.  `Ok(None)` on timeout.  Once closed the events left
    /// are still read, without waiting; then `ClosedError`.
    pub(crate) fn next_event(
        &self,
        py: Python<'_>,
        deadline: Option<Instant>,
    ) -> PyResult<Option<S::Event>> {
        match self
            .events
            .next(&*self.source, deadline, &mut PyWaiter(py))?
        {
            Next::Event(event) => Ok(Some(event)),
            Next::Timeout => Ok(None),
            Next::Closed => Err(errors::closed_as(py, S::WHAT)),
        }
    }

    /// Every event waiting now, without blocking.  Once closed: the
    /// events left, then nothing.
    pub(crate) fn drain(&self) -> Vec<S::Event> {
        self.events.drain(&*self.source)
    }

    /// Waits (GIL released, Ctrl-C interrupts) until `pick` finds what it
    /// wants in an event, at most `timeout`.  Every event read stays in
    /// the event stream.  `Ok(None)` on timeout.
    pub(crate) fn wait_for<T>(
        &self,
        py: Python<'_>,
        timeout: Duration,
        pick: impl FnMut(&S::Event) -> Option<T>,
    ) -> PyResult<Option<T>> {
        let deadline = Instant::now().checked_add(timeout);
        match self
            .events
            .wait_for(&*self.source, deadline, &mut PyWaiter(py), pick)?
        {
            Next::Event(found) => Ok(Some(found)),
            Next::Timeout => Ok(None),
            Next::Closed => Err(errors::closed_as(py, S::WHAT)),
        }
    }

    /// Closes in order (GIL released) within `deadline` and stops the I/O
    /// thread.  Idempotent; `true` if this call closed it cleanly.
    ///
    /// The event stream is closed only once the I/O thread has stopped:
    /// a reader on another thread keeps waiting meanwhile and reads the
    /// last events ("NetConnection.Connect.Closed") that the close
    /// produces.
    pub(crate) fn close(&self, py: Python<'_>, deadline: Duration) -> bool {
        self.closing.store(true, Ordering::SeqCst);
        let source = self.source.clone();
        let closed = py.detach(move || source.close(deadline));
        if closed.is_some() {
            self.events.close();
        }
        closed == Some(true)
    }
}

// ------------------------------------------------------------- delivery --

/// Events converted to Python and callback exceptions, waiting for the
/// next event-reading call.  Only touched with the GIL held, and no lock
/// here is held while the GIL is released.
#[derive(Default)]
pub(crate) struct Outbox {
    ready: Mutex<VecDeque<Py<PyAny>>>,
    errors: Mutex<VecDeque<PyErr>>,
}

/// One delivery of a non-blocking read: an event, or the exception of a
/// callback run while converting the event after it.
pub(crate) enum Item {
    Event(Py<PyAny>),
    Error(PyErr),
}

impl Outbox {
    pub(crate) fn push_error(&self, e: PyErr) {
        lock(&self.errors).push_back(e);
    }

    fn take_error(&self) -> Option<PyErr> {
        lock(&self.errors).pop_front()
    }

    /// `__clear__` of a layer object: its `callbacks`, then what the
    /// outbox holds.
    pub(crate) fn clear<C: Callbacks>(&self, callbacks: &Mutex<C>) {
        release(callbacks);
        // Dropped outside the locks: a finalizer may run Python code.
        let ready = std::mem::take(&mut *lock(&self.ready));
        let errors = std::mem::take(&mut *lock(&self.errors));
        drop(ready);
        drop(errors);
    }

    /// `__traverse__` of a layer object: its `callbacks`, then the Python
    /// objects the outbox holds.  Never blocks (the locks are only taken
    /// with the GIL held, which the collector has).
    pub(crate) fn traverse<C: Callbacks>(
        &self,
        callbacks: &Mutex<C>,
        visit: &PyVisit<'_>,
    ) -> Result<(), PyTraverseError> {
        if let Ok(callbacks) = callbacks.try_lock() {
            for cb in callbacks.held() {
                visit.call(cb)?;
            }
        }
        if let Ok(ready) = self.ready.try_lock() {
            for obj in ready.iter() {
                visit.call(obj)?;
            }
        }
        Ok(())
    }

    /// The next event of a blocking read: a pending callback exception
    /// first, then events converted earlier, then `read()` converted by
    /// `convert`.  If converting it ran a callback that raised, the
    /// exception is raised now and the event is delivered next time.
    pub(crate) fn next<E>(
        &self,
        py: Python<'_>,
        read: impl FnOnce() -> PyResult<Option<E>>,
        convert: impl FnOnce(Python<'_>, E) -> PyResult<Py<PyAny>>,
    ) -> PyResult<Option<Py<PyAny>>> {
        if let Some(e) = self.take_error() {
            return Err(e);
        }
        if let Some(event) = lock(&self.ready).pop_front() {
            return Ok(Some(event));
        }
        let Some(raw) = read()? else {
            return Ok(None);
        };
        let event = convert(py, raw)?;
        if let Some(e) = self.take_error() {
            lock(&self.ready).push_back(event);
            return Err(e);
        }
        Ok(Some(event))
    }

    /// Everything waiting, in order: each callback exception comes right
    /// before the event whose conversion raised it.
    pub(crate) fn drain<E>(
        &self,
        py: Python<'_>,
        raw: Vec<E>,
        mut convert: impl FnMut(Python<'_>, E) -> PyResult<Py<PyAny>>,
    ) -> PyResult<Vec<Item>> {
        let mut out: Vec<Item> = lock(&self.errors).drain(..).map(Item::Error).collect();
        out.extend(lock(&self.ready).drain(..).map(Item::Event));
        for e in raw {
            let event = convert(py, e)?;
            out.extend(lock(&self.errors).drain(..).map(Item::Error));
            out.push(Item::Event(event));
        }
        Ok(out)
    }

    /// `drain_events()`: the events; if a callback raised, its exception
    /// is raised instead and the events are kept for the next call.
    pub(crate) fn drain_list<'py>(
        &self,
        py: Python<'py>,
        items: Vec<Item>,
    ) -> PyResult<Bound<'py, PyList>> {
        let mut first_error = None;
        let list = PyList::empty(py);
        for item in items {
            match item {
                Item::Event(e) => list.append(e)?,
                Item::Error(e) if first_error.is_none() => first_error = Some(e),
                Item::Error(e) => self.push_error(e),
            }
        }
        match first_error {
            None => Ok(list),
            Some(e) => {
                let mut ready = lock(&self.ready);
                for (i, event) in list.iter().enumerate() {
                    ready.insert(i, event.unbind());
                }
                Err(e)
            }
        }
    }

    /// The asyncio dispatcher's read: events and exception instances.
    pub(crate) fn drain_raw<'py>(
        &self,
        py: Python<'py>,
        items: Vec<Item>,
    ) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for item in items {
            match item {
                Item::Event(e) => list.append(e)?,
                Item::Error(e) => list.append(e.into_value(py))?,
            }
        }
        Ok(list)
    }
}

// ------------------------------------------------------------ callbacks --

/// A veto callback's answer: `Ok(None)` accepts, `Ok(Some(reason))`
/// rejects.  A `str` rejects with that reason; otherwise truthy accepts
/// and falsy (`False`, `None`) rejects with `default_reason`.
pub(crate) fn verdict(answer: &Bound<'_, PyAny>, default_reason: &str) -> PyResult<Option<String>> {
    if let Ok(s) = answer.cast::<PyString>() {
        return Ok(Some(s.to_cow()?.into_owned()));
    }
    Ok(if answer.is_truthy()? {
        None
    } else {
        Some(default_reason.to_owned())
    })
}

/// Reports that callback `what` raised `error`: logs it now (logger
/// `"rtmfp"`, with the traceback) and returns the `CallbackError` (whose
/// `__cause__` is `error`) to raise from the next event-reading call.
/// `consequence` says what the binding did instead.
pub(crate) fn callback_failed(
    py: Python<'_>,
    error: PyErr,
    what: &str,
    consequence: &str,
) -> PyErr {
    let message = format!("{what} raised {}; {consequence}", describe(py, &error));
    let _ = log_error(py, &message, &error);
    let wrapped = errors::err(py, Kind::Callback, message);
    wrapped.set_cause(py, Some(error));
    wrapped
}

fn describe(py: Python<'_>, error: &PyErr) -> String {
    let value = error.value(py);
    let name = value
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "an exception".to_owned());
    match value.str() {
        Ok(s) if !s.to_string().is_empty() => format!("{name}: {s}"),
        _ => name,
    }
}

fn log_error(py: Python<'_>, message: &str, error: &PyErr) -> PyResult<()> {
    let logger = py
        .import("logging")?
        .call_method1("getLogger", ("rtmfp",))?;
    let kwargs = PyDict::new(py);
    kwargs.set_item("exc_info", error.clone_ref(py).into_value(py))?;
    logger.call_method("error", ("%s", message), Some(&kwargs))?;
    Ok(())
}

/// Deadline for a timeout in seconds (`None`: for ever).
pub(crate) fn deadline(py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<Instant>> {
    Ok(match timeout {
        Some(t) => Instant::now().checked_add(crate::convert::duration(py, t, "timeout")?),
        None => None,
    })
}
