//! What runs behind one endpoint: the runtime, the dispatcher thread that
//! hands its events to JS, and the replies to requests.
//!
//! ```text
//!  JS thread ──post(closure)──▶ I/O thread (rtmfp-io) ──events──▶ queue
//!      ▲                            │ reply                        │
//!      │                            ▼                              ▼
//!      └────── threadsafe function (one FIFO) ◀── dispatcher (rtmfp-events)
//! ```
//!
//! Nothing here blocks the JS thread: requests are closures posted to the
//! I/O thread ([`Handle::post`]), which answer through the same
//! threadsafe function that carries the events.  One FIFO means a reply
//! always reaches JS before the events its request caused (the closure
//! queues the reply before the loop moves those events to the queue), so
//! `connect` learns its session number before that session's
//! `sessionOpened`, and `send` its message number before the receipt.
//!
//! The dispatcher blocks on the object's event stream, batches what is
//! there and calls the threadsafe function without blocking.  The stream
//! is core's `host::Events` with the `AfterClose::Drain` policy, as in C
//! and Python: once the object is closed (its I/O thread stopped) the
//! events left are still handed over, in order, and then `end`.  At most
//! [`IN_FLIGHT`] events wait on the JS side: beyond that the dispatcher
//! waits, so the runtime's own event backpressure still applies.
//!
//! The threadsafe function is weak (unref'd): it never keeps the process
//! alive by itself.  The JS wrapper refs it while it waits for something
//! (a connect, a receipt, a close) or when asked to (`endpoint.ref()`).
//!
//! A Flash `NetConnection` or rendezvous `Server` is core's own object
//! (its layer on the I/O thread, reached with [`Shared::post_layer`]);
//! the layer hands its events to a queue of its own, which the
//! dispatcher reads and converts ([`Source::Layer`]).

use crate::errors::{self, Code};
use crate::items::{Item, NativeItem};
use napi::bindgen_prelude::Function;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, Status};
use rtmfp_core::crypto::PeerId;
use rtmfp_core::endpoint::{Endpoint as CoreEndpoint, Event, Layer};
use rtmfp_core::host::{AfterClose, EventSource, Events, Hosted, Next};
use rtmfp_core::runtime::{EventQueue, Handle};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Most events handed to JS and not yet taken by its callback.
const IN_FLIGHT: usize = 4096;
/// Most events in one call of the JS callback.
const BATCH: usize = 256;

/// What one call of the threadsafe function carries.
pub struct Batch {
    items: Vec<Item>,
    /// How many of `items` are events counted by the [`Gate`].
    counted: usize,
}

/// The threadsafe function to the JS callback: weak, no error argument.
pub type Tsfn = ThreadsafeFunction<Batch, (), Vec<NativeItem>, Status, false, true>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Critical sections are plain updates: a panic cannot leave the data
    // inconsistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The dispatcher's backpressure: events in flight to JS.
#[derive(Default)]
struct Gate {
    in_flight: Mutex<usize>,
    room: Condvar,
    stop: AtomicBool,
}

impl Gate {
    /// Waits until fewer than [`IN_FLIGHT`] events are in flight; `false`
    /// once stopped.
    fn wait_room(&self) -> bool {
        let mut n = lock(&self.in_flight);
        while *n >= IN_FLIGHT && !self.stop.load(Ordering::SeqCst) {
            n = self.room.wait(n).unwrap_or_else(|e| e.into_inner());
        }
        !self.stop.load(Ordering::SeqCst)
    }

    fn take(&self, n: usize) {
        *lock(&self.in_flight) += n;
    }

    fn release(&self, n: usize) {
        let mut count = lock(&self.in_flight);
        *count = count.saturating_sub(n);
        self.room.notify_one();
    }

    fn stop(&self) {
        // Under the lock, so that a waiter cannot miss it.
        let _n = lock(&self.in_flight);
        self.stop.store(true, Ordering::SeqCst);
        self.room.notify_all();
    }
}

/// The next event of `events` over `source`: waiting (`wait`) or not;
/// `None` once the stream has ended (closed and drained: core's
/// [`AfterClose::Drain`]), or when nothing waits.
fn read<S: EventSource>(events: &Events<S::Event>, source: &S, wait: bool) -> Option<S::Event> {
    let deadline = if wait { None } else { Some(Instant::now()) };
    // `()` waits in place and never fails.
    let Ok(next) = events.next(source, deadline, &mut ());
    match next {
        Next::Event(event) => Some(event),
        Next::Timeout | Next::Closed => None,
    }
}

/// Where the dispatcher takes its items from: an object's event stream
/// (core's [`Events`], [`AfterClose::Drain`]).
pub enum Source {
    /// The runtime's own event queue (a plain endpoint).
    Runtime(Events<Event>),
    /// A layer's queue of core events (`NetConnection`, `Server`), each
    /// made items on the dispatcher thread; it ends when the layer goes
    /// (the I/O thread ended) and what it held was read.
    Layer(Box<dyn LayerSource>),
}

/// A layer's event stream, read as items.
pub trait LayerSource: Send + Sync {
    /// The next item, waiting (`wait`) or not; `None` once ended (or
    /// nothing waits).
    fn next(&self, handle: &Handle, wait: bool) -> Option<Item>;
    /// Nothing more comes (the I/O thread has ended): reads stop
    /// waiting, take what is left, then end.
    fn finish(&self);
}

/// A layer's queue as core's [`EventSource`]: finished once the I/O
/// thread has stopped (the layer queued its last events before that).
struct LayerQueue<'a, T> {
    queue: &'a EventQueue<T>,
    handle: &'a Handle,
}

impl<T: Send + 'static> EventSource for LayerQueue<'_, T> {
    type Event = T;
    fn pop(&self, timeout: Duration) -> Option<T> {
        self.queue.pop_timeout(Some(timeout))
    }
    fn try_pop(&self) -> Option<T> {
        self.queue.try_pop()
    }
    fn finished(&self) -> bool {
        self.handle.is_closed()
    }
}

/// A queue of `T` whose events `convert` makes items (none, one or more)
/// on the dispatcher thread, which may wait for the I/O thread there.
pub struct Mapped<T, F> {
    queue: Arc<EventQueue<T>>,
    events: Events<T>,
    pending: Mutex<std::collections::VecDeque<Item>>,
    convert: F,
}

impl<T, F> Mapped<T, F>
where
    T: Send + 'static,
    F: Fn(T, &Handle, &mut Vec<Item>) + Send + Sync + 'static,
{
    pub fn source(queue: Arc<EventQueue<T>>, convert: F) -> Source {
        Source::Layer(Box::new(Mapped {
            queue,
            events: Events::with_policy(AfterClose::Drain),
            pending: Mutex::new(Default::default()),
            convert,
        }))
    }
}

impl<T, F> LayerSource for Mapped<T, F>
where
    T: Send + 'static,
    F: Fn(T, &Handle, &mut Vec<Item>) + Send + Sync + 'static,
{
    fn next(&self, handle: &Handle, wait: bool) -> Option<Item> {
        loop {
            if let Some(item) = lock(&self.pending).pop_front() {
                return Some(item);
            }
            let source = LayerQueue {
                queue: &self.queue,
                handle,
            };
            let event = read(&self.events, &source, wait)?;
            let mut items = Vec::new();
            (self.convert)(event, handle, &mut items);
            lock(&self.pending).extend(items);
        }
    }

    fn finish(&self) {
        self.events.close();
        self.queue.close();
    }
}

impl Source {
    /// A plain endpoint's: the runtime's own queue.
    pub fn runtime() -> Source {
        Source::Runtime(Events::with_policy(AfterClose::Drain))
    }

    /// The next item, waiting; `None` once ended.
    fn next(&self, handle: &Handle) -> Option<Item> {
        match self {
            Source::Runtime(events) => read(events, handle, true).map(Item::Event),
            Source::Layer(l) => l.next(handle, true),
        }
    }

    /// The next item if one waits.
    fn try_next(&self, handle: &Handle) -> Option<Item> {
        match self {
            Source::Runtime(events) => read(events, handle, false).map(Item::Event),
            Source::Layer(l) => l.next(handle, false),
        }
    }

    /// Nothing more comes (the runtime has stopped): reads stop waiting,
    /// take what is left, then end.
    fn finish(&self) {
        match self {
            Source::Runtime(events) => {
                events.close();
            }
            Source::Layer(l) => l.finish(),
        }
    }
}

/// Hands items to JS.
#[derive(Clone)]
pub struct Outbox(Arc<Tsfn>);

impl Outbox {
    fn call(&self, items: Vec<Item>, counted: usize) -> Status {
        self.0.call(
            Batch { items, counted },
            ThreadsafeFunctionCallMode::NonBlocking,
        )
    }

    /// Sends one item (a reply; not counted).
    pub fn send(&self, item: Item) {
        let _ = self.call(vec![item], 0);
    }

    /// Refs or unrefs the threadsafe function: whether it keeps the
    /// event loop alive.  JS thread only.
    pub fn set_ref(&self, env: &Env, referenced: bool) -> errors::Result<()> {
        if self.0.aborted() {
            return Ok(());
        }
        // SAFETY: on the env's own thread (this takes `&Env`), with a
        // threadsafe function of this env that is not finalized
        // (finalization also runs on this thread and sets `aborted`).
        let status = unsafe {
            if referenced {
                napi::sys::napi_ref_threadsafe_function(env.raw(), self.0.raw())
            } else {
                napi::sys::napi_unref_threadsafe_function(env.raw(), self.0.raw())
            }
        };
        if status == napi::sys::Status::napi_ok {
            Ok(())
        } else {
            Err(errors::err(
                Code::Internal,
                format!("napi_(un)ref_threadsafe_function failed ({status})"),
            ))
        }
    }
}

/// The answer to one request: sent once, or, if the request is dropped
/// unrun (the runtime stopped first), an `ERR_RTMFP_CLOSED` error.
pub struct Reply {
    outbox: Option<Outbox>,
    request: u32,
}

impl Reply {
    pub fn new(outbox: Outbox, request: u32) -> Reply {
        Reply {
            outbox: Some(outbox),
            request,
        }
    }

    pub fn request(&self) -> u32 {
        self.request
    }

    pub fn send(mut self, item: Item) {
        if let Some(outbox) = self.outbox.take() {
            outbox.send(item);
        }
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        if let Some(outbox) = self.outbox.take() {
            outbox.send(Item::failed(
                self.request,
                Code::Closed,
                "the endpoint closed before the request ran",
            ));
        }
    }
}

/// One running endpoint, shared by its JS object, its close task and its
/// environment cleanup hook.
pub struct Shared {
    /// `Some` until closed: a handle keeps the runtime's event queue and
    /// waker (two file descriptors) alive, so it goes with the runtime
    /// rather than with the JS object.
    handle: Mutex<Option<Handle>>,
    /// `Some` until closed; closing it stops the I/O thread.
    host: Mutex<Option<Arc<dyn Hosted>>>,
    dispatcher: Mutex<Option<JoinHandle<()>>>,
    /// `Some` until closed: a layer's queue holds a file descriptor.
    source: Mutex<Option<Arc<Source>>>,
    gate: Arc<Gate>,
    closed: AtomicBool,
    pub peer_id: PeerId,
    pub local_addrs: Vec<SocketAddr>,
}

impl Shared {
    /// The TURN relayed address while the runtime runs over a relay.
    pub fn relayed_addr(&self) -> Option<SocketAddr> {
        lock(&self.handle).as_ref().and_then(|h| h.relayed_addr())
    }
}

impl Shared {
    /// Wraps a started object (core's plain `Host`, `NetConnection` or
    /// `ServerHandle`): makes the threadsafe function to `callback` and
    /// starts the dispatcher, which reads `source`.  Returns the outbox
    /// for replies.
    pub fn start(
        host: Arc<dyn Hosted>,
        source: Source,
        peer_id: PeerId,
        callback: Function<'_, Vec<NativeItem>, ()>,
    ) -> errors::Result<(Arc<Shared>, Outbox)> {
        let gate = Arc::new(Gate::default());
        let taken = gate.clone();
        let tsfn: Tsfn = callback
            .build_threadsafe_function::<Batch>()
            .weak::<true>()
            .callee_handled::<false>()
            .build_callback(move |ctx| {
                let Batch { items, counted } = ctx.value;
                if counted > 0 {
                    taken.release(counted);
                }
                Ok(items.into_iter().map(NativeItem::from).collect::<Vec<_>>())
            })
            .map_err(errors::internal)?;
        let outbox = Outbox(Arc::new(tsfn));
        let handle = host.runtime_handle();
        let source = Arc::new(source);
        let thread = {
            let (handle, outbox, gate) = (handle.clone(), outbox.clone(), gate.clone());
            let source = source.clone();
            std::thread::Builder::new()
                .name("rtmfp-events".into())
                .spawn(move || dispatch(&handle, &source, &outbox, &gate))
                .map_err(|e| errors::err(Code::Io, format!("cannot start a thread: {e}")))?
        };
        let shared = Arc::new(Shared {
            local_addrs: handle.local_addrs(),
            handle: Mutex::new(Some(handle)),
            host: Mutex::new(Some(host)),
            dispatcher: Mutex::new(Some(thread)),
            source: Mutex::new(Some(source)),
            gate,
            closed: AtomicBool::new(false),
            peer_id,
        });
        Ok((shared, outbox))
    }

    /// Closed by `close()` or because the I/O thread stopped.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
            || lock(&self.handle).as_ref().is_none_or(Handle::is_closed)
    }

    /// A handle to the runtime, for a blocking call off the JS thread.
    pub fn handle(&self) -> errors::Result<Handle> {
        self.check_open()?;
        lock(&self.handle).clone().ok_or_else(errors::closed)
    }

    pub fn check_open(&self) -> errors::Result<()> {
        if self.is_closed() {
            Err(errors::closed())
        } else {
            Ok(())
        }
    }

    /// Marks the endpoint closed: later calls fail at once.
    pub fn mark_closed(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }

    /// Runs `f` on the I/O thread with the layer `L`, without waiting.
    /// If the runtime stops first `f` is dropped unrun: a `Reply` it
    /// holds then answers `ERR_RTMFP_CLOSED`.
    pub fn post_layer<L, F>(&self, f: F) -> errors::Result<()>
    where
        L: Layer,
        F: FnOnce(&mut L, &mut CoreEndpoint, Instant) + Send + 'static,
    {
        self.check_open()?;
        match lock(&self.handle).as_ref() {
            Some(handle) => handle.post_layer::<L, F>(f).map_err(errors::from_runtime),
            None => Err(errors::closed()),
        }
    }

    /// Runs `f` on the I/O thread, without waiting.
    pub fn post<F>(&self, f: F) -> errors::Result<()>
    where
        F: FnOnce(&mut CoreEndpoint, Instant) + Send + 'static,
    {
        self.check_open()?;
        // Never blocks: a channel send and a wake-up.
        match lock(&self.handle).as_ref() {
            Some(handle) => handle.post(f).map_err(errors::from_runtime),
            None => Err(errors::closed()),
        }
    }

    /// Shuts the runtime down (blocking: closes sessions in order and
    /// waits for them at most `deadline`), then waits for the dispatcher
    /// to hand over the last events.  Idempotent; `true` if this call
    /// closed everything cleanly.
    pub fn shutdown(&self, deadline: Duration) -> bool {
        self.mark_closed();
        let host = lock(&self.host).take();
        let clean = host
            .and_then(|h| h.close_within(deadline))
            .is_some_and(|r| r.clean);
        // The I/O thread has ended (its layer, and the layer's sink, with
        // it); make sure the dispatcher sees the end.
        let source = lock(&self.source).take();
        if let Some(source) = &source {
            source.finish();
        }
        if let Some(thread) = lock(&self.dispatcher).take() {
            let _ = thread.join();
        }
        drop(source);
        lock(&self.handle).take();
        clean
    }

    /// Stops at once, when the environment goes away: the JS side will
    /// take no more events, so the dispatcher is told to stop waiting.
    pub fn stop_now(&self) {
        self.mark_closed();
        if let Some(host) = lock(&self.host).take() {
            host.close_within(Duration::ZERO);
        }
        let source = lock(&self.source).take();
        if let Some(source) = &source {
            source.finish();
        }
        self.gate.stop();
        if let Some(thread) = lock(&self.dispatcher).take() {
            let _ = thread.join();
        }
        drop(source);
        lock(&self.handle).take();
    }
}

/// The dispatcher thread: the object's events to JS, in batches, until
/// its stream ends (the runtime stopped and every event left was handed
/// over: [`AfterClose::Drain`]); then [`Item::End`].
fn dispatch(handle: &Handle, source: &Source, outbox: &Outbox, gate: &Gate) {
    while gate.wait_room() {
        let Some(first) = source.next(handle) else {
            break;
        };
        let mut items = vec![first];
        while items.len() < BATCH {
            match source.try_next(handle) {
                Some(item) => items.push(item),
                None => break,
            }
        }
        let n = items.len();
        gate.take(n);
        if outbox.call(items, n) != Status::Ok {
            // The environment is going away.
            gate.release(n);
            break;
        }
    }
    outbox.send(Item::End);
}
