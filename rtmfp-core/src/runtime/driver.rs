//! The I/O thread: one mio `Poll` loop that owns the sockets and drives
//! the sans-IO [`Endpoint`].

use super::events::EventQueue;
use super::grouping::Grouper;
use super::relay::{Outcome as RelayOutcome, Relay};
use super::stats::{ErrorClass, IoStats, RuntimeStats};
use super::sys::{self, Outgoing, Received, BATCH};
use crate::endpoint::{Endpoint, Event};
use crate::turn::{Received as TurnReceived, SendOutcome};
use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token, Waker};
use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Work for the I/O thread.
pub(crate) type Job = Box<dyn FnOnce(&mut Driver) + Send>;

/// The waker's token; sockets use their index.
pub(crate) const WAKER: Token = Token(usize::MAX);

/// Bytes per receive slot.  Startup packets may reach 8 KiB (certificates
/// and keying components are not fragmented); anything longer is cut and
/// counted.
const RECV_SLOT: usize = 16 * 1024;
/// Most datagrams taken from one socket per loop iteration, so that one
/// busy socket cannot starve commands and timers.
const RECV_BUDGET: usize = 8 * BATCH;
/// Most commands run per loop iteration.
const COMMAND_BUDGET: usize = 1024;
/// Most send attempts per socket per loop iteration.
const SEND_ATTEMPTS: usize = 64;
/// Wait before retrying after `ENOBUFS` or an unexpected receive error.
const RETRY_DELAY: Duration = Duration::from_millis(1);
/// Most remembered "which socket did this peer talk to" routes.
const ROUTE_LIMIT: usize = 1 << 16;
/// Error-queue entries read per error event.
const ERRQUEUE_BUDGET: usize = 1024;

/// State shared by the runtime, its handles and the I/O thread.
pub(crate) struct Shared {
    pub(crate) events: EventQueue<crate::endpoint::Event>,
    pub(crate) waker: Waker,
    /// Set by the I/O thread when it stops taking commands.
    pub(crate) closed: AtomicBool,
    pub(crate) io_thread: std::sync::OnceLock<std::thread::ThreadId>,
    /// The TURN relayed address, while a relay allocation exists.
    pub(crate) relayed: std::sync::Mutex<Option<SocketAddr>>,
}

struct Sock {
    io: UdpSocket,
    local: SocketAddr,
    readable: bool,
    writable: bool,
    /// Registered for writable events too.  Only while a send waits for
    /// room: a UDP socket becomes writable again each time a receiver
    /// takes one of its datagrams (on loopback at once), and watching
    /// that always would wake the loop once more per datagram sent.
    watch_writable: bool,
    queue: VecDeque<(SocketAddr, Vec<u8>)>,
}

/// How the loop ended.
pub(crate) struct Finished {
    pub(crate) stats: RuntimeStats,
    pub(crate) clean: bool,
}

/// The I/O thread's state.  Jobs get `&mut Driver`.
pub(crate) struct Driver {
    pub(crate) endpoint: Endpoint,
    /// The application layer on top of the endpoint, if any.
    pub(crate) layer: Option<Box<dyn crate::endpoint::Layer>>,
    /// Diffie-Hellman workers, if keying is offloaded.
    keying: Option<super::keying::KeyingPool>,
    /// The loop's current time (monotonic).
    pub(crate) now: Instant,
    pub(crate) stats: IoStats,
    /// Set once shutdown began: stop at this deadline at the latest.
    pub(crate) shutdown: Option<Instant>,
    poll: Poll,
    sockets: Vec<Sock>,
    commands: Receiver<Job>,
    shared: Arc<Shared>,
    route: HashMap<SocketAddr, usize>,
    queued: usize,
    send_limit: usize,
    /// Datagram buffers to reuse (see [`Driver::recycle`]).
    pool: Vec<Vec<u8>>,
    recv_buf: Vec<u8>,
    recv_slots: Vec<Received>,
    batch: bool,
    retry_at: Option<Instant>,
    commands_pending: bool,
    recv_paused: bool,
    pending_events: Vec<Event>,
    icmp: bool,
    /// UDP GSO in use: runs of equal-size datagrams to one destination go
    /// out as one message (its iovecs point at the queued datagrams).
    gso: bool,
    /// Regroups send queues by destination for GSO runs.
    grouper: Grouper,
    /// [`RuntimeConfig::recv_coalesce`](super::RuntimeConfig::recv_coalesce).
    recv_coalesce: Duration,
    /// When a datagram last woke the sleeping loop.
    last_datagram_wakeup: Option<Instant>,
    /// Datagrams arrive densely: the loop naps instead of waiting in
    /// `poll` (see [`Driver::nap_if_dense`]).
    dense: bool,
    /// The TURN relay every datagram goes through, if configured.
    relay: Option<Relay>,
}

/// What `Driver::new` needs.
pub(crate) struct DriverParts {
    pub(crate) endpoint: Endpoint,
    pub(crate) keying: Option<super::keying::KeyingPool>,
    pub(crate) poll: Poll,
    pub(crate) sockets: Vec<(UdpSocket, SocketAddr)>,
    pub(crate) commands: Receiver<Job>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) send_limit: usize,
    pub(crate) batch: bool,
    pub(crate) icmp: bool,
    pub(crate) gso: bool,
    pub(crate) recv_coalesce: Duration,
    pub(crate) layer: Option<Box<dyn crate::endpoint::Layer>>,
    /// A TURN relay to allocate first, and where to say how it went.
    pub(crate) turn: Option<(crate::turn::TurnConfig, super::relay::Ready)>,
}

impl Driver {
    pub(crate) fn new(parts: DriverParts, now: Instant) -> Driver {
        let batch = parts.batch && cfg!(any(target_os = "linux", target_os = "android"));
        let gso = batch
            && parts.gso
            && parts
                .sockets
                .iter()
                .all(|(s, _)| sys::gso_supported(s.as_raw_fd()));
        let stats = IoStats {
            batch_io: batch,
            gso,
            ..IoStats::default()
        };
        let mut driver = Driver {
            endpoint: parts.endpoint,
            layer: parts.layer,
            keying: parts.keying,
            now,
            stats,
            shutdown: None,
            poll: parts.poll,
            sockets: parts
                .sockets
                .into_iter()
                .map(|(io, local)| Sock {
                    io,
                    local,
                    readable: true,
                    writable: true,
                    watch_writable: false,
                    queue: VecDeque::new(),
                })
                .collect(),
            commands: parts.commands,
            shared: parts.shared,
            route: HashMap::new(),
            queued: 0,
            send_limit: parts.send_limit.max(1),
            pool: Vec::new(),
            recv_buf: vec![
                0u8;
                if batch {
                    RECV_SLOT * BATCH
                } else {
                    RECV_SLOT + 1
                }
            ],
            recv_slots: vec![
                Received {
                    len: 0,
                    from: SocketAddr::from(([0, 0, 0, 0], 0)),
                    truncated: false,
                };
                BATCH
            ],
            batch,
            retry_at: None,
            commands_pending: false,
            recv_paused: false,
            pending_events: Vec::new(),
            icmp: parts.icmp,
            gso,
            grouper: Grouper::default(),
            recv_coalesce: parts.recv_coalesce,
            last_datagram_wakeup: None,
            dense: false,
            relay: None,
        };
        if let Some((config, ready)) = parts.turn {
            match driver.socket_for(config.server) {
                Some((socket, server)) => {
                    driver.relay = Some(Relay::new(config, socket, server, ready, now));
                }
                None => {
                    let _ = ready.send(Err(crate::turn::TurnError::Refused(
                        0,
                        "no bound socket has the TURN server's address family".into(),
                    )));
                }
            }
        }
        driver
    }

    /// Runs the loop until shutdown completes; then closes the handles'
    /// side and returns the final counters.
    pub(crate) fn run(mut self) -> Finished {
        let _ = self.shared.io_thread.set(std::thread::current().id());
        let mut events = Events::with_capacity(256);
        let mut last_timer_now = None;
        loop {
            let timeout = self.next_wait(last_timer_now);
            let napped = self.nap_if_dense(timeout);
            let timeout = if napped {
                Some(Duration::ZERO)
            } else {
                timeout
            };
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != io::ErrorKind::Interrupted {
                    self.stats.recv_errors.other += 1;
                    std::thread::sleep(RETRY_DELAY);
                }
            }
            if napped || (!self.recv_coalesce.is_zero() && timeout != Some(Duration::ZERO)) {
                let datagrams = events.iter().any(|e| e.token() != WAKER && e.is_readable());
                self.note_density(napped, datagrams);
            }
            self.now = Instant::now();
            self.stats.loop_iterations += 1;
            for event in events.iter() {
                if event.token() == WAKER {
                    continue;
                }
                let i = event.token().0;
                let Some(sock) = self.sockets.get_mut(i) else {
                    continue;
                };
                if event.is_readable() || event.is_read_closed() {
                    sock.readable = true;
                }
                if event.is_writable() {
                    sock.writable = true;
                }
                if event.is_error() {
                    // The pending socket error is reported by the next
                    // receive; the error queue holds the ICMP details.
                    sock.readable = true;
                    self.drain_error_queue(i);
                }
            }
            for i in 0..self.sockets.len() {
                if self.sockets[i].writable && self.sockets[i].watch_writable {
                    self.watch_writable(i, false);
                }
            }
            if self.retry_at.is_some_and(|t| t <= self.now) {
                self.retry_at = None;
                for sock in &mut self.sockets {
                    sock.readable = true;
                    sock.writable = true;
                }
            }
            self.receive();
            self.run_commands();
            if let Some(relay) = self.relay.as_mut() {
                if relay.client.poll_timeout().is_some_and(|t| t <= self.now) {
                    relay.client.handle_timeout(self.now);
                }
                if let RelayOutcome::FailedAtStart = relay.on_events(self.now, &self.shared.relayed)
                {
                    return self.finish(false);
                }
            }
            if self.endpoint.poll_timeout().is_some_and(|t| t <= self.now) {
                self.endpoint.handle_timeout(self.now);
                last_timer_now = Some(self.now);
            } else {
                last_timer_now = None;
            }
            if let Some(layer) = self.layer.as_mut() {
                if layer.poll_timeout().is_some_and(|t| t <= self.now) {
                    layer.on_timeout(&mut self.endpoint, self.now);
                    last_timer_now = Some(self.now);
                }
            }
            if let Some(pool) = &self.keying {
                while let Some(job) = self.endpoint.poll_keying_job() {
                    self.stats.keying_jobs += 1;
                    pool.submit(job);
                }
            }
            // Events first: a layer's reactions go out in this iteration.
            self.deliver_events();
            self.transmit();
            if let Some(deadline) = self.shutdown {
                let idle = self.endpoint.session_count() == 0
                    && self.endpoint.opening_count() == 0
                    && self.queued == 0;
                if idle || self.now >= deadline {
                    return self.finish(idle);
                }
            }
        }
    }

    /// Receive coalescing, like a network card's interrupt moderation.
    /// While datagrams arrive densely (a datagram woke the sleeping loop
    /// less than the coalescing delay after the previous one, or the last
    /// nap found some), the loop does not wait in `poll`, where each
    /// datagram would wake it: it naps for the delay (or until its next
    /// timer, if sooner), then takes everything that arrived in one
    /// batch.  One context switch per batch instead of one per datagram.
    /// Returns whether it napped.
    fn nap_if_dense(&mut self, timeout: Option<Duration>) -> bool {
        if !self.dense || self.recv_coalesce.is_zero() || timeout == Some(Duration::ZERO) {
            return false;
        }
        let nap = timeout.map_or(self.recv_coalesce, |t| t.min(self.recv_coalesce));
        self.stats.coalesced_wakeups += 1;
        std::thread::sleep(nap);
        true
    }

    /// Updates whether datagrams arrive densely, after a `poll` that
    /// slept (`napped`: after a nap) and found `datagrams` or not.  A nap
    /// that found none ends the dense run: the loop waits in `poll` again,
    /// so sparse datagrams are read at once.
    fn note_density(&mut self, napped: bool, datagrams: bool) {
        if napped {
            self.dense = datagrams;
            if !datagrams {
                self.last_datagram_wakeup = None;
            }
            return;
        }
        if datagrams {
            let now = Instant::now();
            self.dense = self
                .last_datagram_wakeup
                .is_some_and(|t| now.saturating_duration_since(t) < self.recv_coalesce);
            self.last_datagram_wakeup = Some(now);
        }
    }

    /// How long to block in `poll`.
    fn next_wait(&mut self, last_timer_now: Option<Instant>) -> Option<Duration> {
        let busy = self.commands_pending
            || (!self.recv_paused && self.sockets.iter().any(|s| s.readable))
            || (self.retry_at.is_none()
                && self
                    .sockets
                    .iter()
                    .any(|s| s.writable && !s.queue.is_empty()));
        if busy {
            return Some(Duration::ZERO);
        }
        self.endpoint.prune_timers();
        let timer = self.endpoint.poll_timeout().map(|t| {
            // A timer still due right after handle_timeout ran at that
            // time would spin; give it a millisecond.
            if last_timer_now.is_some_and(|n| t <= n) {
                self.now + RETRY_DELAY
            } else {
                t
            }
        });
        let layer_timer = self.layer.as_ref().and_then(|l| l.poll_timeout()).map(|t| {
            if last_timer_now.is_some_and(|n| t <= n) {
                self.now + RETRY_DELAY
            } else {
                t
            }
        });
        let relay_timer = self.relay.as_ref().and_then(|r| r.client.poll_timeout());
        let wake = [
            timer,
            layer_timer,
            relay_timer,
            self.retry_at,
            self.shutdown,
        ]
        .into_iter()
        .flatten()
        .min()?;
        Some(wake.saturating_duration_since(Instant::now()))
    }

    /// Adds or removes writable events for socket `i` (see
    /// `Sock::watch_writable`).  Adding reports a socket that is already
    /// writable at once (epoll checks readiness on modification), so no
    /// wake-up is lost between the failed send and this call.
    fn watch_writable(&mut self, i: usize, on: bool) {
        let sock = &mut self.sockets[i];
        if sock.watch_writable == on {
            return;
        }
        let interest = if on {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        match self
            .poll
            .registry()
            .reregister(&mut sock.io, Token(i), interest)
        {
            Ok(()) => sock.watch_writable = on,
            // Cannot watch: try again after a short delay instead.
            Err(_) if on => self.retry_at = Some(self.now + RETRY_DELAY),
            Err(_) => {}
        }
    }

    fn drain_error_queue(&mut self, i: usize) {
        if !self.icmp {
            return;
        }
        let fd = self.sockets[i].io.as_raw_fd();
        for (errno, destination) in sys::drain_error_queue(fd, ERRQUEUE_BUDGET) {
            let class = self
                .stats
                .icmp_errors
                .count(&io::Error::from_raw_os_error(errno));
            if let (ErrorClass::Refused | ErrorClass::Unreachable, Some(to)) = (class, destination)
            {
                if let Some(relay) = self.relay.as_mut().filter(|r| r.server == to) {
                    relay.client.handle_unreachable();
                }
                // Nothing listens there: an opening session to it can
                // fail now instead of at its open timeout.
                self.endpoint.handle_unreachable(to);
            }
        }
    }

    fn receive(&mut self) {
        if self.recv_paused {
            return;
        }
        for i in 0..self.sockets.len() {
            let mut budget = RECV_BUDGET;
            let mut attempts = 0;
            while self.sockets[i].readable && budget > 0 && attempts < RECV_BUDGET {
                attempts += 1;
                match self.recv_some(i) {
                    Ok(n) => budget = budget.saturating_sub(n.max(1)),
                    Err(e) => {
                        match self.stats.recv_errors.count(&e) {
                            ErrorClass::WouldBlock => {
                                // Normal end of a drain: not an error.
                                self.stats.recv_errors.would_block -= 1;
                                self.sockets[i].readable = false;
                            }
                            ErrorClass::Interrupted => {}
                            ErrorClass::Refused
                            | ErrorClass::Unreachable
                            | ErrorClass::Denied
                            | ErrorClass::TooLarge => {
                                // A pending ICMP error, reported once:
                                // datagrams may still wait behind it.
                                self.drain_error_queue(i);
                            }
                            ErrorClass::NoBuffers | ErrorClass::Other => {
                                self.sockets[i].readable = false;
                                self.retry_at.get_or_insert(self.now + RETRY_DELAY);
                            }
                        }
                    }
                }
            }
        }
    }

    /// One receive call on socket `i`; feeds what arrived to the endpoint.
    fn recv_some(&mut self, i: usize) -> io::Result<usize> {
        let n = if self.batch {
            let fd = self.sockets[i].io.as_raw_fd();
            match sys::recv_batch(fd, &mut self.recv_buf, &mut self.recv_slots) {
                Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
                    self.batch = false;
                    self.stats.batch_io = false;
                    return Ok(0);
                }
                Ok(batch) => {
                    if batch.drained {
                        // Edge-triggered: the next datagram wakes us.
                        self.sockets[i].readable = false;
                    }
                    batch.count
                }
                Err(e) => return Err(e),
            }
        } else {
            let (len, from) = self.sockets[i].io.recv_from(&mut self.recv_buf)?;
            self.recv_slots[0] = Received {
                len,
                from,
                truncated: len > RECV_SLOT,
            };
            1
        };
        self.stats.recv_syscalls += 1;
        let slot = RECV_SLOT;
        for k in 0..n {
            let Received {
                len,
                from,
                truncated,
            } = self.recv_slots[k];
            self.stats.recv_datagrams += 1;
            self.stats.recv_bytes += len as u64;
            if truncated {
                self.stats.recv_truncated += 1;
                continue;
            }
            let from = unmap(from);
            if self.sockets.len() > 1 {
                if self.route.len() >= ROUTE_LIMIT {
                    self.route.clear();
                }
                self.route.insert(from, i);
            }
            let data = &self.recv_buf[k * slot..k * slot + len];
            if self.shutdown.is_some() && matches!(crate::wire::read_multiplex(data), Ok((0, _))) {
                // No new sessions while shutting down.
                continue;
            }
            let mut local = self.sockets[i].local;
            let start = self.now;
            let mut from = from;
            let mut data = data;
            if let Some(relay) = self.relay.as_mut() {
                // Everything goes through the relay: unwrap what the
                // TURN server relays, take its own answers, drop the rest.
                if !relay.is_server(from) {
                    relay.bypass_dropped += 1;
                    continue;
                }
                match relay.client.receive(start, data) {
                    TurnReceived::Peer(peer, payload) => {
                        local = relay.client.relayed().unwrap_or(local);
                        from = peer;
                        data = payload;
                    }
                    TurnReceived::Consumed | TurnReceived::Invalid => continue,
                }
            }
            self.endpoint.handle_datagram(start, local, from, data);
            let end = Instant::now();
            let spent = end.saturating_duration_since(start);
            self.stats.handle_datagram_time += spent;
            self.stats.max_handle_datagram = self.stats.max_handle_datagram.max(spent);
            self.now = end;
        }
        Ok(n)
    }

    fn run_commands(&mut self) {
        self.commands_pending = false;
        for _ in 0..COMMAND_BUDGET {
            match self.commands.try_recv() {
                Ok(job) => {
                    self.stats.commands += 1;
                    self.now = Instant::now();
                    if catch_unwind(AssertUnwindSafe(|| job(self))).is_err() {
                        self.stats.command_panics += 1;
                    }
                }
                Err(TryRecvError::Empty) | Err(TryRecvError::Disconnected) => return,
            }
        }
        self.commands_pending = true;
    }

    /// The socket for a destination, and the destination as that socket
    /// spells it.
    fn socket_for(&self, to: SocketAddr) -> Option<(usize, SocketAddr)> {
        if let Some(&i) = self.route.get(&to) {
            return Some((i, map_for(&self.sockets[i].local, to)));
        }
        if let Some(i) = self
            .sockets
            .iter()
            .position(|s| s.local.is_ipv4() == to.is_ipv4())
        {
            return Some((i, to));
        }
        // An IPv4 destination through a dual-stack IPv6 socket.
        let i = self
            .sockets
            .iter()
            .position(|s| s.local.is_ipv6() && !is_v6_only_addr(&s.local))?;
        Some((i, map_for(&self.sockets[i].local, to)))
    }

    /// Moves datagrams from the endpoint into the socket queues (while
    /// there is room), then sends what the sockets take.
    fn transmit(&mut self) {
        while self.queued < self.send_limit {
            let mut buf = self.pool.pop().unwrap_or_else(|| Vec::with_capacity(2048));
            let Some(t) = self.endpoint.poll_transmit(self.now, &mut buf) else {
                self.pool.push(buf);
                break;
            };
            buf.truncate(t.len);
            if let Some(relay) = self.relay.as_mut() {
                match relay.client.send(self.now, t.destination, buf) {
                    SendOutcome::Send(wrapped) => {
                        self.sockets[relay.socket]
                            .queue
                            .push_back((relay.server, wrapped));
                        self.queued += 1;
                    }
                    SendOutcome::Queued => {}
                    SendOutcome::Dropped(buf) => {
                        self.stats.send_dropped += 1;
                        self.pool.push(buf);
                    }
                }
                continue;
            }
            match self.socket_for(t.destination) {
                Some((i, to)) => {
                    self.sockets[i].queue.push_back((to, buf));
                    self.queued += 1;
                }
                None => {
                    self.stats.send_errors.unreachable += 1;
                    self.stats.send_dropped += 1;
                    self.pool.push(buf);
                }
            }
        }
        if let Some(relay) = self.relay.as_mut() {
            // The client's own requests, and datagrams that waited for a
            // channel.
            while let Some(d) = relay.client.poll_transmit() {
                self.sockets[relay.socket]
                    .queue
                    .push_back((relay.server, d));
                self.queued += 1;
            }
        }
        self.stats.send_queue_high_water = self.stats.send_queue_high_water.max(self.queued);
        for i in 0..self.sockets.len() {
            if self.batch && self.gso {
                self.grouper.group(&mut self.sockets[i].queue);
            }
            self.flush(i);
        }
    }

    /// Keeps a sent datagram's buffer for the next one.  The pool holds
    /// as many as the send queue can (the most a transmit round takes
    /// before it is flushed), so that a round of fan-out, hundreds of
    /// datagrams, does not allocate and free them all again each time.
    fn recycle(&mut self, buf: Vec<u8>) {
        if self.pool.len() < self.send_limit {
            self.pool.push(buf);
        }
    }

    fn flush(&mut self, i: usize) {
        let mut attempts = 0;
        while self.retry_at.is_none()
            && self.sockets[i].writable
            && !self.sockets[i].queue.is_empty()
            && attempts < SEND_ATTEMPTS
        {
            attempts += 1;
            let result = if self.batch {
                let sock = &self.sockets[i];
                let plan = plan_messages(
                    sock.queue.iter().map(|(to, d)| (*to, d.len())),
                    self.gso,
                    BATCH,
                );
                // Each message gathers its run of datagrams in place.
                let pieces: Vec<&[u8]> = sock
                    .queue
                    .iter()
                    .take(plan.iter().map(|(count, _)| count).sum())
                    .map(|(_, d)| d.as_slice())
                    .collect();
                let mut msgs: Vec<Outgoing<'_>> = Vec::with_capacity(plan.len());
                let mut at = 0;
                for &(count, segment) in &plan {
                    msgs.push(Outgoing {
                        to: sock.queue[at].0,
                        data: &pieces[at..at + count],
                        segment,
                    });
                    at += count;
                }
                match sys::send_batch(sock.io.as_raw_fd(), &msgs) {
                    Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
                        self.batch = false;
                        self.stats.batch_io = false;
                        continue;
                    }
                    Err(e)
                        if plan[0].1.is_some()
                            && matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::EIO)) =>
                    {
                        // The path or device refuses GSO: send plainly.
                        self.gso = false;
                        self.stats.gso = false;
                        continue;
                    }
                    // `n` messages: convert to datagrams.
                    Ok(n) => {
                        self.stats.gso_sends +=
                            plan[..n].iter().filter(|(_, s)| s.is_some()).count() as u64;
                        Ok(plan[..n].iter().map(|(c, _)| c).sum())
                    }
                    r => r,
                }
            } else {
                let sock = &self.sockets[i];
                let (to, data) = &sock.queue[0];
                sock.io.send_to(data, *to).map(|_| 1)
            };
            match result {
                Ok(n) => {
                    self.stats.send_syscalls += 1;
                    for _ in 0..n {
                        if let Some((_, buf)) = self.sockets[i].queue.pop_front() {
                            self.stats.send_datagrams += 1;
                            self.stats.send_bytes += buf.len() as u64;
                            self.queued -= 1;
                            self.recycle(buf);
                        }
                    }
                }
                Err(e) => match self.stats.send_errors.count(&e) {
                    ErrorClass::WouldBlock => {
                        self.sockets[i].writable = false;
                        self.watch_writable(i, true);
                    }
                    // A pending ICMP error from an earlier datagram,
                    // reported once: send again.
                    ErrorClass::Refused => self.drain_error_queue(i),
                    ErrorClass::Interrupted => {}
                    ErrorClass::NoBuffers => {
                        self.retry_at = Some(self.now + RETRY_DELAY);
                    }
                    ErrorClass::Unreachable
                    | ErrorClass::TooLarge
                    | ErrorClass::Denied
                    | ErrorClass::Other => {
                        // This datagram cannot go; drop it, keep the rest.
                        if let Some((_, buf)) = self.sockets[i].queue.pop_front() {
                            self.queued -= 1;
                            self.stats.send_dropped += 1;
                            self.recycle(buf);
                        }
                    }
                },
            }
        }
    }

    /// Moves endpoint events to the application's queue, as far as it has
    /// room; a full queue pauses receiving until the application reads.
    fn deliver_events(&mut self) {
        let room = self.shared.events.room();
        while self.pending_events.len() < room {
            let Some(e) = self.endpoint.poll_event() else {
                break;
            };
            let passed = match self.layer.as_mut() {
                Some(layer) => layer.on_event(&mut self.endpoint, self.now, e),
                None => Some(e),
            };
            if let Some(e) = passed {
                self.pending_events.push(e);
            }
        }
        self.stats.events += self.pending_events.len() as u64;
        self.shared.events.push_all(&mut self.pending_events);
        let full = self.shared.events.room() == 0;
        if full && !self.recv_paused {
            self.stats.event_backpressure += 1;
        }
        self.recv_paused = full;
    }

    /// A snapshot for `Handle::stats`.
    pub(crate) fn snapshot(&self) -> RuntimeStats {
        let mut io = self.stats.clone();
        if let Some(relay) = &self.relay {
            io.turn = Some(relay.stats());
            io.turn_bypass_dropped = relay.bypass_dropped;
        }
        RuntimeStats {
            io,
            endpoint: self.endpoint.stats().clone(),
            sessions: self.endpoint.session_count(),
            openings: self.endpoint.opening_count(),
            queued_events: self.shared.events.len(),
        }
    }

    /// Whether the runtime is shutting down.
    pub(crate) fn shutting_down(&self) -> bool {
        self.shutdown.is_some()
    }

    /// Starts the graceful shutdown: close every session in order, take no
    /// new ones, stop when all are closed or at `deadline`.
    pub(crate) fn begin_shutdown(&mut self, deadline: Instant) {
        if self.shutdown.is_none() {
            self.endpoint.close_all(self.now);
        }
        self.shutdown = Some(self.shutdown.map_or(deadline, |d| d.min(deadline)));
    }

    fn finish(mut self, clean: bool) -> Finished {
        // Last events (SessionClosed ...) go out even past the limit.
        while let Some(e) = self.endpoint.poll_event() {
            self.pending_events.push(e);
        }
        self.stats.events += self.pending_events.len() as u64;
        self.shared.events.push_all(&mut self.pending_events);
        if let Some(relay) = self.relay.as_mut() {
            // Give the allocation back (best effort, one datagram).
            relay.client.release(self.now);
            while let Some(d) = relay.client.poll_transmit() {
                let _ = self.sockets[relay.socket].io.send_to(&d, relay.server);
            }
        }
        *self
            .shared
            .relayed
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = None;
        self.shared.closed.store(true, Ordering::SeqCst);
        // Jobs still queued are dropped: their callers see `Closed`.
        while self.commands.try_recv().is_ok() {}
        let stats = self.snapshot();
        self.shared.events.close();
        for sock in &mut self.sockets {
            let _ = self.poll.registry().deregister(&mut sock.io);
        }
        Finished { stats, clean }
    }
}

/// Most datagrams in one GSO send (the kernel's `UDP_MAX_SEGMENTS`).
const GSO_MAX_SEGMENTS: usize = 64;
/// Most bytes in one GSO send (one UDP payload).
const GSO_MAX_BYTES: usize = 65000;

/// Splits the front of a send queue (destination and length of each
/// datagram) into at most `max_messages` messages: `(datagrams, segment)`.
/// With `gso`, a run of datagrams to one destination whose lengths are
/// all equal (the last may be shorter) becomes one message with that
/// segment size; everything else is one datagram per message.
pub(crate) fn plan_messages(
    queue: impl Iterator<Item = (SocketAddr, usize)>,
    gso: bool,
    max_messages: usize,
) -> Vec<(usize, Option<u16>)> {
    let mut plan: Vec<(usize, Option<u16>)> = Vec::new();
    // The open run: destination, segment length, count, bytes, closed.
    let mut run: Option<(SocketAddr, usize, usize, usize, bool)> = None;
    let close = |plan: &mut Vec<(usize, Option<u16>)>,
                 run: (SocketAddr, usize, usize, usize, bool)| {
        let (_, len, count, _, _) = run;
        match u16::try_from(len) {
            Ok(seg) if count > 1 => plan.push((count, Some(seg))),
            _ => plan.extend(std::iter::repeat_n((1, None), count)),
        }
    };
    for (to, len) in queue {
        if let Some((rto, rlen, count, bytes, closed)) = run.as_mut() {
            let fits = gso
                && !*closed
                && *rto == to
                && len <= *rlen
                && len > 0
                && *count < GSO_MAX_SEGMENTS
                && *bytes + len <= GSO_MAX_BYTES;
            if fits {
                *count += 1;
                *bytes += len;
                // A shorter datagram ends the run.
                *closed = len < *rlen;
                continue;
            }
            close(&mut plan, run.take().unwrap());
        }
        if plan.len() >= max_messages {
            break;
        }
        run = Some((to, len, 1, len, false));
    }
    if let Some(r) = run {
        close(&mut plan, r);
    }
    plan.truncate(max_messages);
    plan
}

/// `::ffff:a.b.c.d` as `a.b.c.d`, so that one peer has one address
/// whichever socket it came through.
fn unmap(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(a) => match a.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::from((v4, a.port())),
            None => addr,
        },
        SocketAddr::V4(_) => addr,
    }
}

/// `to` as a socket bound to `local` must spell it.
fn map_for(local: &SocketAddr, to: SocketAddr) -> SocketAddr {
    match (local, to) {
        (SocketAddr::V6(_), SocketAddr::V4(a)) => {
            SocketAddr::from((IpAddr::V6(a.ip().to_ipv6_mapped()), a.port()))
        }
        _ => to,
    }
}

/// An IPv6 socket bound to a specific IPv6 address cannot reach IPv4;
/// only the unspecified address `[::]` may be dual-stack.
fn is_v6_only_addr(local: &SocketAddr) -> bool {
    !local.ip().is_unspecified()
}

/// Registers a socket for the loop: readable events only, until a send
/// finds no room (`Driver::watch_writable`).
pub(crate) fn register(poll: &Poll, sock: &mut UdpSocket, index: usize) -> io::Result<()> {
    poll.registry()
        .register(sock, Token(index), Interest::READABLE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn gso_plan_coalesces_equal_runs_to_one_destination() {
        let q = [
            (a(1), 1200),
            (a(1), 1200),
            (a(1), 1200),
            (a(1), 300), // shorter tail joins the run and ends it
            (a(1), 1200),
            (a(2), 1200),
            (a(2), 80),
            (a(3), 50),
            (a(3), 60), // longer than the run's segment: new message
        ];
        let plan = plan_messages(q.iter().copied(), true, 32);
        assert_eq!(
            plan,
            vec![
                (4, Some(1200)),
                (1, None),
                (2, Some(1200)),
                (1, None),
                (1, None)
            ]
        );
        assert_eq!(plan.iter().map(|p| p.0).sum::<usize>(), q.len());
        // Without GSO: one message per datagram, capped.
        let plan = plan_messages(q.iter().copied(), false, 4);
        assert_eq!(plan, vec![(1, None); 4]);
    }

    #[test]
    fn gso_plan_respects_segment_and_byte_limits() {
        let q = vec![(a(1), 1200); 200];
        let plan = plan_messages(q.iter().copied(), true, 32);
        // 55 segments of 1200 bytes would pass 65000 bytes.
        assert_eq!(plan[0], (GSO_MAX_BYTES / 1200, Some(1200)));
        assert_eq!(plan.iter().map(|p| p.0).sum::<usize>(), 200);
        let q = vec![(a(1), 100); 200];
        let plan = plan_messages(q.iter().copied(), true, 2);
        assert_eq!(plan, vec![(64, Some(100)), (64, Some(100))]);
    }
}
