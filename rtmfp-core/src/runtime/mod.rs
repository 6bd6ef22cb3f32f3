//! The runtime: the only I/O in rtmfp.
//!
//! A [`Runtime`] is one thread running a mio `Poll` loop.  It owns:
//!
//! - the UDP sockets (IPv4 and/or IPv6, one per bind address);
//! - the sans-IO [`Endpoint`] and its timer ([`Endpoint::poll_timeout`]
//!   becomes the poll timeout);
//! - a `mio::Waker`, so that other threads can hand it work.
//!
//! Other threads talk to it through a [`Handle`] (cheap to clone, `Send +
//! Sync`):
//!
//! - **Commands in.**  [`Handle::call`] runs a closure on the I/O thread
//!   with `&mut Endpoint` and the loop's current time and returns its
//!   result; [`Handle::post`] does the same without waiting.  The specific
//!   commands ([`Handle::connect`], [`Handle::close_session`],
//!   [`Handle::session_info`], [`Handle::stats`]) are built on them, and so
//!   can later layers (flows, Flash) without touching the runtime.
//! - **Events out.**  The loop moves [`Event`]s from the endpoint to a
//!   queue, read with [`Handle::next_event`] (blocking),
//!   [`Handle::next_event_timeout`] or [`Handle::try_next_event`].
//!   [`Handle::event_fd`] is a file descriptor for outside event loops (C,
//!   asyncio, libuv): see its documentation for exactly when it is
//!   readable.
//!
//! Datagrams move in batches with `recvmmsg`/`sendmmsg` on Linux (one
//! datagram per system call elsewhere, or with
//! [`RuntimeConfig::batch_io`] off).  Socket errors (ICMP unreachable,
//! `ENOBUFS`, `EAGAIN`, ...) are counted in [`IoStats`] and never stop the
//! loop; datagrams that cannot be sent yet wait in a bounded queue.
//!
//! Diffie-Hellman runs inside [`Endpoint::handle_datagram`], on the I/O
//! thread; [`IoStats::max_handle_datagram`] shows how long one datagram
//! held the loop.
//!
//! ```
//! use rtmfp_core::crypto::{PlainProfile, CryptoProfile};
//! use rtmfp_core::endpoint::Event;
//! use rtmfp_core::runtime::{Runtime, RuntimeConfig};
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! # fn main() -> std::io::Result<()> {
//! let server = Runtime::start(RuntimeConfig::new(
//!     vec!["127.0.0.1:0".parse().unwrap()],
//!     Arc::new(PlainProfile::new(b"server".to_vec())),
//! ))?;
//! let client = Runtime::start(RuntimeConfig::new(
//!     vec!["127.0.0.1:0".parse().unwrap()],
//!     Arc::new(PlainProfile::new(b"client".to_vec())),
//! ))?;
//! // PlainProfile: the EPD is the identity.
//! let session = client
//!     .handle()
//!     .connect(b"server".to_vec(), &server.handle().local_addrs())
//!     .expect("connect");
//! match client.next_event_timeout(Duration::from_secs(10)) {
//!     Some(Event::SessionOpened { session: s, .. }) => assert_eq!(s, session),
//!     other => panic!("unexpected {other:?}"),
//! }
//! // Any endpoint call runs on the I/O thread.
//! let sessions = client.call(|ep, _now| ep.session_count()).unwrap();
//! assert_eq!(sessions, 1);
//! client.shutdown(Duration::from_secs(2));
//! server.shutdown(Duration::from_secs(2));
//! # Ok(())
//! # }
//! ```

mod check;
mod driver;
mod events;
mod flows;
mod grouping;
mod keying;
mod relay;
mod sink;
mod stats;
mod sys;

pub use check::{local_ip_toward, probe_nat};
pub use flows::{parse_uri, DEFAULT_PORT};
pub use stats::{ErrorCounts, IoStats, RuntimeStats};

use crate::crypto::{CryptoProfile, PeerId};
use crate::endpoint::{Endpoint, EndpointConfig, EndpointError, Event, SessionHandle, SessionInfo};
use driver::{Driver, DriverParts, Finished, Job, Shared, WAKER};
pub use events::EventQueue;
use mio::net::UdpSocket;
use mio::{Poll, Waker};
pub use sink::queue_sink;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What a [`Runtime`] binds and runs.
#[derive(Clone)]
pub struct RuntimeConfig {
    /// Local addresses to bind, one UDP socket each (IPv4 and/or IPv6;
    /// port 0 picks a free port).  At least one.
    pub bind: Vec<SocketAddr>,
    /// The endpoint's settings.
    pub endpoint: EndpointConfig,
    /// Identity and cryptography.
    pub crypto: Arc<dyn CryptoProfile>,
    /// Use `recvmmsg`/`sendmmsg` where the system has them (Linux).  Off:
    /// one datagram per system call.  Default on.
    pub batch_io: bool,
    /// `SO_RCVBUF`/`SO_SNDBUF` for each socket; `None` keeps the system
    /// default.  Default 2 MiB (the kernel clamps it to its maximum).
    pub socket_buffer: Option<usize>,
    /// Send runs of equal-size datagrams to one destination as one UDP GSO
    /// buffer (`UDP_SEGMENT`) where the kernel has it (Linux 4.18+, with
    /// `batch_io`).  Default on.
    pub gso: bool,
    /// Ask the kernel for ICMP errors on the sockets (Linux
    /// `IP_RECVERR`), so that unreachable destinations are counted in
    /// [`IoStats::icmp_errors`].  Default on.
    pub icmp_errors: bool,
    /// Most datagrams waiting in the runtime's send queue; beyond it the
    /// endpoint keeps them.  Default 4096.
    pub send_queue_limit: usize,
    /// Most events waiting for the application.  When the queue is full
    /// the I/O thread stops receiving datagrams until the application
    /// reads events (timers and commands still run).  Default 65536.
    pub event_queue_limit: usize,
    /// Deadline of the graceful shutdown done when a [`Runtime`] is
    /// dropped without [`Runtime::shutdown`].  Default 250 ms.
    pub drop_deadline: Duration,
    /// Worker threads for responder Diffie-Hellman work, so a handshake
    /// burst never blocks the I/O thread.  0 keys inline on the I/O
    /// thread.  Default 2.
    pub keying_threads: usize,
    /// A TURN relay for every datagram (Flash's `RTMFPTURNProxy`): the
    /// runtime allocates on it before it starts, and
    /// [`Runtime::start`] fails with the reason if it cannot.  Default
    /// none.
    pub turn: Option<crate::turn::TurnConfig>,
    /// Receive coalescing, like a network card's interrupt moderation.
    /// Each wake-up of the sleeping I/O thread costs a context switch, and
    /// a server holding a crowd of idle clients wakes once per keepalive.
    /// With a delay set, once datagrams arrive densely (one wakes the
    /// thread less than the delay after the previous one), the thread
    /// stops waiting for each: it naps for the delay, or until its next
    /// timer if that is sooner, and reads and answers everything that
    /// arrived in one batch, for as long as each nap finds datagrams.
    /// Datagrams and calls from other threads then wait up to this much
    /// longer; timers do not; sparse datagrams, and a busy loop (one that
    /// did not sleep), never wait.  Default zero (off), or
    /// `RTMFP_RECV_COALESCE_US` microseconds from the environment (at most
    /// 10 ms).
    pub recv_coalesce: Duration,
}

/// [`RuntimeConfig::event_queue_limit`] by default.
pub const DEFAULT_EVENT_QUEUE_LIMIT: usize = 65536;

/// The environment variable that sets [`RuntimeConfig::recv_coalesce`]'s
/// default, in microseconds.
pub const RECV_COALESCE_ENV: &str = "RTMFP_RECV_COALESCE_US";

/// The longest receive coalescing delay accepted.
pub const MAX_RECV_COALESCE: Duration = Duration::from_millis(10);

/// [`RuntimeConfig::recv_coalesce`]'s default: `RTMFP_RECV_COALESCE_US`,
/// clamped to [`MAX_RECV_COALESCE`], or zero.
pub fn default_recv_coalesce() -> Duration {
    parse_recv_coalesce(std::env::var(RECV_COALESCE_ENV).ok().as_deref())
}

/// A server's receive coalescing when neither its options nor
/// `RTMFP_RECV_COALESCE_US` say: 1 ms.  A server holding a crowd is woken
/// by thousands of keepalives a second; batching them costs its clients
/// at most a millisecond per exchange while datagrams are dense, and
/// nothing while they are sparse.  (Clients and peers keep zero: a
/// client's datagrams are rarely dense, and a bulk receiver's acks
/// should not wait.)
pub const SERVER_RECV_COALESCE: Duration = Duration::from_millis(1);

/// A server's default receive coalescing: `RTMFP_RECV_COALESCE_US` if set
/// (clamped to [`MAX_RECV_COALESCE`]), else [`SERVER_RECV_COALESCE`].
pub fn default_server_recv_coalesce() -> Duration {
    match std::env::var(RECV_COALESCE_ENV) {
        Ok(text) => parse_recv_coalesce(Some(&text)),
        Err(_) => SERVER_RECV_COALESCE,
    }
}

/// A receive coalescing delay from its text in microseconds: clamped to
/// [`MAX_RECV_COALESCE`]; zero (off) when absent or not a number.
pub fn parse_recv_coalesce(text: Option<&str>) -> Duration {
    text.and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(Duration::ZERO, |us| {
            Duration::from_micros(us).min(MAX_RECV_COALESCE)
        })
}

impl RuntimeConfig {
    /// A configuration with default settings.
    pub fn new(bind: Vec<SocketAddr>, crypto: Arc<dyn CryptoProfile>) -> Self {
        RuntimeConfig {
            bind,
            endpoint: EndpointConfig::default(),
            crypto,
            batch_io: true,
            gso: true,
            socket_buffer: Some(2 << 20),
            icmp_errors: true,
            send_queue_limit: 4096,
            event_queue_limit: DEFAULT_EVENT_QUEUE_LIMIT,
            drop_deadline: Duration::from_millis(250),
            keying_threads: 2,
            turn: None,
            recv_coalesce: default_recv_coalesce(),
        }
    }
}

impl fmt::Debug for RuntimeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuntimeConfig")
            .field("bind", &self.bind)
            .field("endpoint", &self.endpoint)
            .field("batch_io", &self.batch_io)
            .field("gso", &self.gso)
            .field("socket_buffer", &self.socket_buffer)
            .field("icmp_errors", &self.icmp_errors)
            .field("send_queue_limit", &self.send_queue_limit)
            .field("event_queue_limit", &self.event_queue_limit)
            .field("drop_deadline", &self.drop_deadline)
            .field("keying_threads", &self.keying_threads)
            .field("turn", &self.turn)
            .field("recv_coalesce", &self.recv_coalesce)
            .finish_non_exhaustive()
    }
}

/// Errors of [`Handle`] calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuntimeError {
    /// The runtime has stopped (shut down or dropped).
    Closed,
    /// The runtime is shutting down and takes no new sessions.
    ShuttingDown,
    /// A blocking call was made from the I/O thread itself (from inside a
    /// [`Handle::call`] closure); it would wait for itself forever.
    CalledFromIoThread,
    /// The closure panicked on the I/O thread.  The loop survived.
    Panicked,
    /// The endpoint refused.
    Endpoint(EndpointError),
    /// An argument is unusable (a bad URI, an unresolvable host).
    InvalidArgument(String),
}

impl fmt::Display for RuntimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuntimeError::Closed => f.write_str("the runtime is closed"),
            RuntimeError::ShuttingDown => f.write_str("the runtime is shutting down"),
            RuntimeError::CalledFromIoThread => {
                f.write_str("blocking runtime call from its own I/O thread")
            }
            RuntimeError::Panicked => f.write_str("the call panicked on the I/O thread"),
            RuntimeError::Endpoint(e) => write!(f, "endpoint: {e}"),
            RuntimeError::InvalidArgument(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for RuntimeError {}

impl From<EndpointError> for RuntimeError {
    fn from(e: EndpointError) -> Self {
        RuntimeError::Endpoint(e)
    }
}

impl From<RuntimeError> for io::Error {
    fn from(e: RuntimeError) -> Self {
        let kind = match e {
            RuntimeError::Closed => io::ErrorKind::NotConnected,
            RuntimeError::Endpoint(EndpointError::InvalidArgument(_)) => {
                io::ErrorKind::InvalidInput
            }
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, e)
    }
}

/// How a shutdown went.
#[derive(Debug, Clone)]
pub struct ShutdownReport {
    /// Every session closed (and every datagram left) before the
    /// deadline.
    pub clean: bool,
    /// The final counters.
    pub stats: RuntimeStats,
}

/// A handle to a running [`Runtime`]: commands in, events out.  Cheap to
/// clone; usable from any thread.  After the runtime stops, calls return
/// [`RuntimeError::Closed`] and the event functions return what was
/// queued, then `None`.
#[derive(Clone)]
pub struct Handle {
    shared: Arc<Shared>,
    commands: Sender<Job>,
    local_addrs: Arc<[SocketAddr]>,
    peer_id: Option<PeerId>,
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("local_addrs", &self.local_addrs)
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

impl Handle {
    fn submit(&self, job: Job) -> Result<(), RuntimeError> {
        if self.shared.closed.load(Ordering::SeqCst) {
            return Err(RuntimeError::Closed);
        }
        self.commands.send(job).map_err(|_| RuntimeError::Closed)?;
        // A failed wake means the poll is gone: the loop has stopped and
        // the job will be dropped, which the caller sees as Closed.
        let _ = self.shared.waker.wake();
        Ok(())
    }

    fn on_io_thread(&self) -> bool {
        self.shared.io_thread.get() == Some(&std::thread::current().id())
    }

    /// Runs `f` on the I/O thread and returns what it returns.
    /// Internal: the closure sees the whole driver.
    fn call_driver<R, F>(&self, f: F) -> Result<R, RuntimeError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Driver) -> R + Send + 'static,
    {
        if self.on_io_thread() {
            return Err(RuntimeError::CalledFromIoThread);
        }
        let (tx, rx) = mpsc::sync_channel::<std::thread::Result<R>>(1);
        self.submit(Box::new(move |driver: &mut Driver| {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || f(driver)));
            let panicked = result.is_err();
            let _ = tx.send(result);
            if panicked {
                // Let the loop count it.
                std::panic::resume_unwind(Box::new("call panicked"));
            }
        }))?;
        match rx.recv() {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(_)) => Err(RuntimeError::Panicked),
            // The job was dropped unrun: the loop stopped.
            Err(_) => Err(RuntimeError::Closed),
        }
    }

    /// Runs `f` on the I/O thread with the endpoint and the loop's current
    /// (monotonic) time, waits for it, and returns its result.  Datagrams,
    /// timers and events that `f` causes are handled right after it.
    ///
    /// `f` must not block: the I/O thread does nothing else meanwhile.
    /// Errors: [`RuntimeError::Closed`] if the runtime has stopped (or
    /// stops before running `f`), [`RuntimeError::Panicked`] if `f`
    /// panicked, [`RuntimeError::CalledFromIoThread`] if called from
    /// inside another `call`.
    pub fn call<R, F>(&self, f: F) -> Result<R, RuntimeError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Endpoint, Instant) -> R + Send + 'static,
    {
        self.call_driver(move |d| {
            let now = d.now;
            f(&mut d.endpoint, now)
        })
    }

    /// Runs `f` on the I/O thread with the runtime's layer (of type `L`),
    /// the endpoint and the time; waits and returns its result.  Events
    /// that `f` causes go through the layer right after.  Fails with
    /// [`RuntimeError::InvalidArgument`] if the runtime has no layer of
    /// type `L`.
    pub fn call_layer<L, R, F>(&self, f: F) -> Result<R, RuntimeError>
    where
        L: crate::endpoint::Layer,
        R: Send + 'static,
        F: FnOnce(&mut L, &mut Endpoint, Instant) -> R + Send + 'static,
    {
        self.call_driver(move |d| {
            let now = d.now;
            let layer = d
                .layer
                .as_mut()
                .and_then(|l| l.as_any_mut().downcast_mut::<L>())
                .ok_or_else(|| {
                    RuntimeError::InvalidArgument("the runtime has no layer of that type".into())
                })?;
            Ok(f(layer, &mut d.endpoint, now))
        })?
    }

    /// Runs `f` on the I/O thread without waiting for it.  Commands run
    /// in the order they were sent.  Fails only if the runtime has
    /// stopped; usable from inside a [`Handle::call`] closure.
    pub fn post<F>(&self, f: F) -> Result<(), RuntimeError>
    where
        F: FnOnce(&mut Endpoint, Instant) + Send + 'static,
    {
        self.submit(Box::new(move |d: &mut Driver| {
            let now = d.now;
            f(&mut d.endpoint, now)
        }))
    }

    /// Runs `f` on the I/O thread with the runtime's layer (of type `L`),
    /// the endpoint and the time, without waiting (the non-blocking
    /// [`Handle::call_layer`]).  Jobs run in the order they were sent.
    /// If the runtime has no layer of type `L`, `f` is dropped unrun.
    /// Fails only if the runtime has stopped; usable from the I/O thread.
    pub fn post_layer<L, F>(&self, f: F) -> Result<(), RuntimeError>
    where
        L: crate::endpoint::Layer,
        F: FnOnce(&mut L, &mut Endpoint, Instant) + Send + 'static,
    {
        self.submit(Box::new(move |d: &mut Driver| {
            let now = d.now;
            if let Some(layer) = d
                .layer
                .as_mut()
                .and_then(|l| l.as_any_mut().downcast_mut::<L>())
            {
                f(layer, &mut d.endpoint, now)
            }
        }))
    }

    /// Starts opening a session to the identity `epd` at the candidate
    /// `addresses` (RFC 7016 §3.5.1.1.1).  The result arrives as
    /// [`Event::SessionOpened`] or [`Event::SessionOpenFailed`].
    pub fn connect(
        &self,
        epd: Vec<u8>,
        addresses: &[SocketAddr],
    ) -> Result<SessionHandle, RuntimeError> {
        let addresses = addresses.to_vec();
        self.call_driver(move |d| {
            if d.shutting_down() {
                return Err(RuntimeError::ShuttingDown);
            }
            let now = d.now;
            Ok(d.endpoint.connect(now, epd, &addresses)?)
        })?
    }

    /// Closes a session in order (Close Request, RFC 7016 §3.5.5) or, with
    /// `abrupt`, at once; abandons it if still opening.
    pub fn close_session(&self, session: SessionHandle, abrupt: bool) -> Result<(), RuntimeError> {
        self.call(move |ep, now| ep.close(now, session, abrupt))?
            .map_err(RuntimeError::from)
    }

    /// A snapshot of an open session (`None`: no such open session).
    pub fn session_info(
        &self,
        session: SessionHandle,
    ) -> Result<Option<SessionInfo>, RuntimeError> {
        self.call(move |ep, _| ep.session_info(session))
    }

    /// The runtime's I/O counters and its endpoint's counters.
    pub fn stats(&self) -> Result<RuntimeStats, RuntimeError> {
        self.call_driver(|d| d.snapshot())
    }

    /// The bound local addresses (with the ports the system picked).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.local_addrs.to_vec()
    }

    /// The TURN relayed address (what peers and servers see), while the
    /// runtime runs over a relay ([`RuntimeConfig::turn`]).
    pub fn relayed_addr(&self) -> Option<SocketAddr> {
        *self
            .shared
            .relayed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// This endpoint's peer ID (`near_id`), where the profile has one.
    pub fn peer_id(&self) -> Option<PeerId> {
        self.peer_id
    }

    /// Whether the runtime has stopped.  Events queued before may still
    /// be read.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::SeqCst)
    }

    fn woke(&self, taken: Option<(Event, bool)>) -> Option<Event> {
        let (event, wake) = taken?;
        if wake {
            let _ = self.shared.waker.wake();
        }
        Some(event)
    }

    /// The next event, waiting as long as it takes.  `None` once the
    /// runtime has stopped and every queued event was taken.
    pub fn next_event(&self) -> Option<Event> {
        self.woke(self.shared.events.next(None))
    }

    /// The next event, waiting at most `timeout`.  `None` on timeout or
    /// once the runtime has stopped and every queued event was taken
    /// (tell them apart with [`Handle::is_closed`]).
    pub fn next_event_timeout(&self, timeout: Duration) -> Option<Event> {
        let deadline = Instant::now().checked_add(timeout);
        self.woke(self.shared.events.next(deadline))
    }

    /// The next event if one is waiting; never blocks.
    pub fn try_next_event(&self) -> Option<Event> {
        self.woke(self.shared.events.try_next())
    }

    /// Events waiting to be read.
    pub fn queued_events(&self) -> usize {
        self.shared.events.len()
    }

    /// A file descriptor for outside event loops (`poll`, `epoll`,
    /// asyncio's `add_reader`, libuv's `uv_poll_t`).  Never read or write
    /// it; only wait for it to become readable.
    ///
    /// - It is **readable while at least one event waits** in the queue.
    ///   It becomes readable when the I/O thread queues an event into an
    ///   empty queue.
    /// - It is **reset** (no longer readable) when the last waiting event
    ///   is taken by [`Handle::next_event`], [`Handle::next_event_timeout`]
    ///   or [`Handle::try_next_event`] — so after a wake-up, take events
    ///   until `try_next_event` returns `None`.
    /// - Once the runtime has stopped it **stays readable** for good, so
    ///   that a watcher wakes up and sees [`Handle::is_closed`].
    ///
    /// It is level-triggered in effect: readability follows the queue,
    /// not the number of events.  On Linux it is an `eventfd`, elsewhere
    /// the read end of a pipe.  It lives as long as any `Handle` or the
    /// `Runtime`.
    pub fn event_fd(&self) -> RawFd {
        self.shared.events.fd()
    }
}

/// A running RTMFP endpoint: its I/O thread and sockets.  Dropping it
/// shuts it down gracefully with [`RuntimeConfig::drop_deadline`] and
/// joins the thread.  It dereferences to its [`Handle`].
pub struct Runtime {
    handle: Handle,
    thread: Option<JoinHandle<Finished>>,
    drop_deadline: Duration,
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("handle", &self.handle)
            .finish_non_exhaustive()
    }
}

impl std::ops::Deref for Runtime {
    type Target = Handle;
    fn deref(&self) -> &Handle {
        &self.handle
    }
}

fn bind(addr: SocketAddr, config: &RuntimeConfig) -> io::Result<UdpSocket> {
    let sock = UdpSocket::bind(addr)?;
    let fd = sock.as_raw_fd();
    if let Some(bytes) = config.socket_buffer {
        // Best effort: a smaller buffer still works.
        let _ = sys::set_buffer_sizes(fd, bytes);
    }
    if config.icmp_errors {
        let _ = sys::enable_recv_err(fd, addr.is_ipv6());
    }
    Ok(sock)
}

impl Runtime {
    /// Binds the sockets and starts the I/O thread.  Errors: no bind
    /// address, a bind that failed, or no thread.
    pub fn start(config: RuntimeConfig) -> io::Result<Runtime> {
        Self::start_layered(config, None)
    }

    /// Starts a runtime whose I/O thread runs `layer` on top of the
    /// endpoint: the layer sees every event first and may act on the
    /// endpoint at once (see [`Layer`](crate::endpoint::Layer)).  Events
    /// it passes on reach [`Handle::next_event`]; reach the layer itself
    /// with [`Handle::call_layer`].
    pub fn start_with_layer(
        config: RuntimeConfig,
        layer: Box<dyn crate::endpoint::Layer>,
    ) -> io::Result<Runtime> {
        Self::start_layered(config, Some(layer))
    }

    fn start_layered(
        config: RuntimeConfig,
        layer: Option<Box<dyn crate::endpoint::Layer>>,
    ) -> io::Result<Runtime> {
        if config.bind.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "RuntimeConfig::bind is empty",
            ));
        }
        let poll = Poll::new()?;
        let mut sockets = Vec::new();
        for (i, &addr) in config.bind.iter().enumerate() {
            let mut sock = bind(addr, &config)?;
            driver::register(&poll, &mut sock, i)?;
            let local = sock.local_addr()?;
            sockets.push((sock, local));
        }
        let local_addrs: Arc<[SocketAddr]> = sockets.iter().map(|(_, a)| *a).collect();
        let shared = Arc::new(Shared {
            events: EventQueue::new(config.event_queue_limit)?,
            waker: Waker::new(poll.registry(), WAKER)?,
            closed: AtomicBool::new(false),
            io_thread: std::sync::OnceLock::new(),
            relayed: std::sync::Mutex::new(None),
        });
        let (tx, rx) = mpsc::channel::<Job>();
        let crypto = config.crypto.clone();
        let peer_id = crypto.peer_id(crypto.certificate());
        let keying = if config.keying_threads > 0 {
            Some(keying::KeyingPool::start(
                config.keying_threads,
                tx.clone(),
                shared.clone(),
            )?)
        } else {
            None
        };
        let (turn, turn_ready) = match &config.turn {
            Some(turn) => {
                let (tx, rx) = mpsc::sync_channel(1);
                (Some((turn.clone(), tx)), Some((rx, turn.clone())))
            }
            None => (None, None),
        };
        let mut endpoint_config = config.endpoint.clone();
        endpoint_config.offload_keying = keying.is_some();
        let parts = DriverParts {
            endpoint: Endpoint::new(endpoint_config, crypto, Instant::now()),
            keying,
            poll,
            sockets,
            commands: rx,
            shared: shared.clone(),
            send_limit: config.send_queue_limit,
            batch: config.batch_io,
            icmp: config.icmp_errors,
            gso: config.gso,
            recv_coalesce: config.recv_coalesce.min(MAX_RECV_COALESCE),
            layer,
            turn,
        };
        let thread = std::thread::Builder::new()
            .name("rtmfp-io".into())
            .spawn(move || {
                // Even if the loop panics (a bug), handles must see the
                // runtime closed rather than wait forever.
                let _closer = CloseOnDrop(parts.shared.clone());
                Driver::new(parts, Instant::now()).run()
            })?;
        let mut runtime = Runtime {
            handle: Handle {
                shared,
                commands: tx,
                local_addrs,
                peer_id,
            },
            thread: Some(thread),
            drop_deadline: config.drop_deadline,
        };
        if let Some((ready, turn)) = turn_ready {
            // Nothing may start before the relay exists: wait for the
            // allocation (its own timeout bounds the wait).
            let outcome = ready
                .recv_timeout(turn.allocate_timeout + Duration::from_secs(1))
                .unwrap_or(Err(crate::turn::TurnError::Timeout));
            if let Err(error) = outcome {
                runtime.stop(Duration::ZERO);
                return Err(crate::turn::TurnStartError {
                    server: turn.server,
                    username: turn.username,
                    error,
                }
                .into_io());
            }
        }
        Ok(runtime)
    }

    /// A handle for other threads.
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// Shuts down gracefully: closes every session in order (and abandons
    /// openings), takes no new sessions, keeps running until every session
    /// has closed or `deadline` has passed, then stops and joins the I/O
    /// thread.  The last events (`SessionClosed`, ...) stay readable
    /// through the handles.
    pub fn shutdown(mut self, deadline: Duration) -> ShutdownReport {
        self.stop(deadline)
    }

    fn stop(&mut self, deadline: Duration) -> ShutdownReport {
        let at = Instant::now() + deadline;
        let _ = self
            .handle
            .submit(Box::new(move |d: &mut Driver| d.begin_shutdown(at)));
        if self.handle.on_io_thread() {
            // Dropped inside one of its own calls: the loop cannot join
            // itself; it stops on its own at the deadline.
            self.thread.take();
            return ShutdownReport {
                clean: false,
                stats: RuntimeStats::default(),
            };
        }
        let finished = self.thread.take().map(|t| t.join());
        match finished {
            Some(Ok(f)) => ShutdownReport {
                clean: f.clean,
                stats: f.stats,
            },
            // The thread panicked (a bug) or was already joined.
            _ => {
                self.handle.shared.closed.store(true, Ordering::SeqCst);
                self.handle.shared.events.close();
                ShutdownReport {
                    clean: false,
                    stats: RuntimeStats::default(),
                }
            }
        }
    }
}

/// Marks the runtime closed when the I/O thread ends, however it ends.
struct CloseOnDrop(Arc<Shared>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.closed.store(true, Ordering::SeqCst);
        self.0.events.close();
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if self.thread.is_some() {
            let deadline = self.drop_deadline;
            self.stop(deadline);
        }
    }
}
