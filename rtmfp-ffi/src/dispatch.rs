//! How events reach C, shared by every object that has events (endpoints,
//! NetConnections, rendezvous servers): polling (`rtmfp_*next_event`) and
//! the optional callback dispatcher thread ("rtmfp-events").
//!
//! Both read the object's core event stream, `rtmfp_core::host::Events`
//! with the [`AfterClose::Drain`] policy: once the object is closed (its
//! I/O thread stopped) its last events are still read, then reads answer
//! closed. C never sets events aside (no `wait_for`), so the object's
//! event fd stays readable exactly while its core queue has events.
//!
//! # The callback dispatcher
//!
//! The dispatcher takes an event and calls the callback only while it
//! holds `gate`, and only after checking its own stop token under it. A
//! thread that changes or removes the callback stops the old dispatcher's
//! token, then takes `gate` (so no delivery is under way), then swaps the
//! callback, then joins the old thread. Hence: no event is lost (one taken
//! is always delivered), no two callbacks run at once, and once the
//! callback is removed on another thread the old callback is not running
//! and will not run again.
//!
//! The callback itself may call back into the API. Calls that would wait
//! for the dispatcher (changing the callback, freeing the object) notice
//! that they run on it (a thread-local) and do not wait for themselves.

use std::cell::Cell;
use std::ffi::{c_int, c_void};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rtmfp_core::host::{AfterClose, Describe, EventSource, Events, Next};

use crate::error::{Error, RTMFP_ERR_AGAIN, RTMFP_ERR_CLOSED, RTMFP_ERR_IO, RTMFP_ERR_WRONG_STATE};
use crate::event::{into_c, rtmfp_event, rtmfp_event_callback, OwnedEvent};
use crate::util::write_out;

/// How long the dispatcher waits for an event before it looks at its stop
/// token again (bounds how long a callback change waits).
const DISPATCH_POLL: Duration = Duration::from_millis(50);

/// A lock that survives poisoning (every critical section here leaves its
/// data consistent).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Clone, Copy)]
pub(crate) struct Callback {
    f: unsafe extern "C" fn(*const rtmfp_event, *mut c_void),
    user: *mut c_void,
}

// SAFETY: `user` is opaque to us and only handed back to `f`; the
// registration contract makes the caller responsible for it being usable
// from the dispatcher thread.
unsafe impl Send for Callback {}

struct Dispatcher {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

/// How the events of one object reach C: its event stream over its core
/// queue, with the [`AfterClose::Drain`] policy (events stay readable
/// after close until the handle is freed), and its callback state.
pub(crate) struct Dispatch<T> {
    events: Events<T>,
    callback: Mutex<Option<Callback>>,
    /// Held by the dispatcher while it takes and delivers an event.
    gate: Mutex<()>,
    dispatcher: Mutex<Option<Dispatcher>>,
    /// Serializes callback changes made from outside the dispatcher.
    changing: Mutex<()>,
}

impl<T> Default for Dispatch<T> {
    fn default() -> Self {
        Dispatch {
            events: Events::with_policy(AfterClose::Drain),
            callback: Mutex::default(),
            gate: Mutex::default(),
            dispatcher: Mutex::default(),
            changing: Mutex::default(),
        }
    }
}

thread_local! {
    /// The `Dispatch` whose callback is running on this thread, if any.
    static IN_CALLBACK: Cell<usize> = const { Cell::new(0) };
}

impl<T> Dispatch<T> {
    /// Whether the calling thread is inside this object's callback.
    pub(crate) fn in_own_callback(&self) -> bool {
        let me = self as *const Self as usize;
        IN_CALLBACK.try_with(|c| c.get() == me).unwrap_or(false)
    }

    /// Whether a callback is registered.
    pub(crate) fn has_callback(&self) -> bool {
        lock(&self.callback).is_some()
    }
}

/// An object whose events can be polled or delivered to a callback.
pub(crate) trait Source: Send + Sync + 'static {
    /// The core queue its events come from.
    type Queue: EventSource<Event: Describe>;
    /// Its core queue, and how the queue's events reach C.
    fn queue(&self) -> (&Self::Queue, &Dispatch<Ev<Self>>);
    /// The C form of an event; `None` for one C does not report. By
    /// default its own description ([`OwnedEvent::of`]).
    fn to_c(&self, event: Ev<Self>) -> Option<Box<OwnedEvent>> {
        OwnedEvent::of(event)
    }
    /// What it is, for messages ("endpoint", "NetConnection", ...).
    fn what(&self) -> &'static str;

    /// Its callback state.
    fn dispatch(&self) -> &Dispatch<Ev<Self>> {
        self.queue().1
    }
}

/// The event type of a [`Source`]'s queue.
pub(crate) type Ev<S> = <<S as Source>::Queue as EventSource>::Event;

/// The next event of `src` in C form, waiting at most `timeout` (`None`,
/// or one too long to represent: as long as it takes; `Some(ZERO)`: not
/// at all).
fn next_owned<S: Source>(src: &S, timeout: Option<Duration>) -> Next<Box<OwnedEvent>> {
    let (queue, d) = src.queue();
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    loop {
        // `()` waits in place and never fails.
        let Ok(next) = d.events.next(queue, deadline, &mut ());
        return match next {
            Next::Event(e) => match src.to_c(e) {
                Some(owned) => Next::Event(owned),
                None => continue, // not reported to C
            },
            Next::Timeout => Next::Timeout,
            Next::Closed => Next::Closed,
        };
    }
}

/// Replaces the callback (`None` removes it); see the module docs.
///
/// Returns false if the dispatcher thread of a new callback could not be
/// started: the callback is then removed again (events wait for polling).
/// Decided here, under `changing`: a caller that looked at `dispatcher`
/// afterwards could see a later change made by another thread instead.
fn set_callback<S: Source>(src: &Arc<S>, new: Option<Callback>) -> bool {
    let d = src.dispatch();
    if d.in_own_callback() {
        // On the dispatcher, inside the callback: it holds `gate`, so swap
        // without waiting; it stops after this callback if the callback
        // is gone.
        *lock(&d.callback) = new;
        if let Some(disp) = lock(&d.dispatcher).as_ref() {
            disp.stop.store(new.is_none(), Ordering::SeqCst);
        }
        return true;
    }
    let _changing = lock(&d.changing);
    let old = lock(&d.dispatcher).take();
    if let Some(disp) = &old {
        disp.stop.store(true, Ordering::SeqCst);
    }
    {
        let _gate = lock(&d.gate);
        *lock(&d.callback) = new;
    }
    if let Some(disp) = old {
        // It sees its stop token at the top of its loop, at once.
        let _ = disp.thread.join();
    }
    if new.is_some() {
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Arc::clone(src);
        let token = Arc::clone(&stop);
        let spawned = std::thread::Builder::new()
            .name("rtmfp-events".into())
            .spawn(move || dispatch_loop(&shared, &token));
        match spawned {
            Ok(thread) => *lock(&d.dispatcher) = Some(Dispatcher { stop, thread }),
            Err(_) => {
                let _gate = lock(&d.gate);
                *lock(&d.callback) = None;
                return false;
            }
        }
    }
    true
}

/// Stops the dispatcher for good (the object is being freed). Does not
/// wait when called from the callback itself.
pub(crate) fn stop_dispatcher<S: Source>(src: &Arc<S>) {
    let d = src.dispatch();
    if d.in_own_callback() {
        *lock(&d.callback) = None;
        if let Some(disp) = lock(&d.dispatcher).take() {
            disp.stop.store(true, Ordering::SeqCst);
            // Detached: it returns from this callback, sees the token and
            // ends.
        }
    } else {
        set_callback(src, None);
    }
}

/// The dispatcher thread's loop.
fn dispatch_loop<S: Source>(src: &Arc<S>, stop: &AtomicBool) {
    let d = src.dispatch();
    let me = d as *const Dispatch<Ev<S>> as usize;
    loop {
        let _gate = lock(&d.gate);
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Some(cb) = *lock(&d.callback) else {
            return;
        };
        match next_owned(&**src, Some(DISPATCH_POLL)) {
            Next::Event(owned) => {
                let _ = IN_CALLBACK.try_with(|c| c.set(me));
                // SAFETY: the registered C function with its own `user`;
                // the event outlives the call.
                unsafe { (cb.f)(&owned.event, cb.user) };
                let _ = IN_CALLBACK.try_with(|c| c.set(0));
            }
            Next::Timeout => {}
            // Stopped and drained: nothing will ever come.
            Next::Closed => return,
        }
    }
}

/// The body of the `rtmfp_*set_event_callback` functions.
pub(crate) fn register<S: Source>(
    src: &Arc<S>,
    callback: rtmfp_event_callback,
    user: *mut c_void,
) -> Result<c_int, Error> {
    let cb = callback.map(|f| Callback { f, user });
    if !set_callback(src, cb) {
        return Err(Error::new(
            RTMFP_ERR_IO,
            "cannot start the dispatcher thread",
        ));
    }
    Ok(crate::error::RTMFP_OK)
}

/// The body of the `rtmfp_*next_event` functions: checks and clears `out`
/// first (so a NULL `out` is reported before a bad handle, and `*out` is
/// NULL on every failure), then looks the object up with `lookup` and
/// takes its next event, waiting up to `timeout_ms` (0: not at all;
/// negative: until an event comes or the object stops).
///
/// # Safety
/// `out` must be NULL or valid for writing a pointer.
pub(crate) unsafe fn next_event<S: Source>(
    out: *mut *mut rtmfp_event,
    timeout_ms: c_int,
    lookup: impl FnOnce() -> Result<Arc<S>, Error>,
) -> Result<c_int, Error> {
    // SAFETY: caller's contract.
    unsafe { write_out(out, std::ptr::null_mut(), "out")? };
    let src = lookup()?;
    if src.dispatch().has_callback() {
        return Err(Error::new(
            RTMFP_ERR_WRONG_STATE,
            "an event callback is registered; events go to it",
        ));
    }
    let timeout = match timeout_ms {
        t if t < 0 => None,
        t => Some(Duration::from_millis(t as u64)),
    };
    match next_owned(&*src, timeout) {
        Next::Event(e) => {
            // SAFETY: checked above; caller's contract.
            unsafe { write_out(out, into_c(e), "out")? };
            Ok(crate::error::RTMFP_OK)
        }
        Next::Closed => Err(Error::new(
            RTMFP_ERR_CLOSED,
            format!("the {} has stopped and every event was taken", src.what()),
        )),
        Next::Timeout => Err(Error::new(
            RTMFP_ERR_AGAIN,
            format!("no event within {timeout_ms} ms"),
        )),
    }
}
