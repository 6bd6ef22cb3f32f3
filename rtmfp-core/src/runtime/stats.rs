//! I/O counters of a runtime.

use crate::endpoint::EndpointStats;
use std::fmt;
use std::io;
use std::time::Duration;

/// Socket errors by kind.  None of them stops the runtime.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorCounts {
    /// `EAGAIN` / `EWOULDBLOCK` on send: the socket buffer was full; the
    /// datagrams stay queued until the socket is writable.
    pub would_block: u64,
    /// `ECONNREFUSED`: an ICMP port unreachable came back for an earlier
    /// datagram (reported once on the next receive or send).
    pub connection_refused: u64,
    /// `ENOBUFS` / `ENOMEM`: the kernel had no buffer; retried shortly.
    pub no_buffers: u64,
    /// `EHOSTUNREACH`, `ENETUNREACH`, `EADDRNOTAVAIL`, `EAFNOSUPPORT`:
    /// no route to that destination; the datagram is dropped.
    pub unreachable: u64,
    /// `EMSGSIZE`: the datagram was too large; it is dropped.
    pub message_too_large: u64,
    /// `EACCES` / `EPERM`: refused by a firewall; the datagram is dropped.
    pub permission_denied: u64,
    /// `EINTR`: retried.
    pub interrupted: u64,
    /// Anything else.
    pub other: u64,
}

impl ErrorCounts {
    /// All errors.
    pub fn total(&self) -> u64 {
        self.would_block
            + self.connection_refused
            + self.no_buffers
            + self.unreachable
            + self.message_too_large
            + self.permission_denied
            + self.interrupted
            + self.other
    }

    /// Counts `e` and says what to do about it.
    pub(crate) fn count(&mut self, e: &io::Error) -> ErrorClass {
        let class = classify(e);
        match class {
            ErrorClass::WouldBlock => self.would_block += 1,
            ErrorClass::Refused => self.connection_refused += 1,
            ErrorClass::NoBuffers => self.no_buffers += 1,
            ErrorClass::Unreachable => self.unreachable += 1,
            ErrorClass::TooLarge => self.message_too_large += 1,
            ErrorClass::Denied => self.permission_denied += 1,
            ErrorClass::Interrupted => self.interrupted += 1,
            ErrorClass::Other => self.other += 1,
        }
        class
    }
}

/// What kind of error a socket call returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorClass {
    WouldBlock,
    Refused,
    NoBuffers,
    Unreachable,
    TooLarge,
    Denied,
    Interrupted,
    Other,
}

fn classify(e: &io::Error) -> ErrorClass {
    match e.kind() {
        io::ErrorKind::WouldBlock => return ErrorClass::WouldBlock,
        io::ErrorKind::Interrupted => return ErrorClass::Interrupted,
        io::ErrorKind::ConnectionRefused => return ErrorClass::Refused,
        _ => {}
    }
    match e.raw_os_error() {
        Some(libc::ENOBUFS) | Some(libc::ENOMEM) => ErrorClass::NoBuffers,
        Some(libc::EHOSTUNREACH)
        | Some(libc::ENETUNREACH)
        | Some(libc::EADDRNOTAVAIL)
        | Some(libc::EAFNOSUPPORT)
        | Some(libc::EHOSTDOWN)
        | Some(libc::ENETDOWN) => ErrorClass::Unreachable,
        Some(libc::EMSGSIZE) => ErrorClass::TooLarge,
        Some(libc::EACCES) | Some(libc::EPERM) => ErrorClass::Denied,
        _ => ErrorClass::Other,
    }
}

/// What the I/O thread did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IoStats {
    /// Receive system calls that returned at least one datagram.
    pub recv_syscalls: u64,
    /// Datagrams received.
    pub recv_datagrams: u64,
    /// Bytes received.
    pub recv_bytes: u64,
    /// Datagrams longer than the receive buffer, dropped.
    pub recv_truncated: u64,
    /// Send system calls that sent at least one datagram.
    pub send_syscalls: u64,
    /// Datagrams sent (a GSO send counts each segment).
    pub send_datagrams: u64,
    /// Bytes sent.
    pub send_bytes: u64,
    /// Sends that used UDP GSO (one buffer, many datagrams).
    pub gso_sends: u64,
    /// Datagrams dropped after an error that retrying cannot fix.
    pub send_dropped: u64,
    /// Errors from receive calls, by kind (`would_block` is not counted
    /// on receive: it is how every drain ends).
    pub recv_errors: ErrorCounts,
    /// Errors from send calls, by kind.
    pub send_errors: ErrorCounts,
    /// ICMP errors read from the sockets' error queues (Linux
    /// `IP_RECVERR`), by the `errno` they carry: port unreachable counts
    /// in `connection_refused`.
    pub icmp_errors: ErrorCounts,
    /// Iterations of the event loop.
    pub loop_iterations: u64,
    /// Naps taken instead of waiting for each datagram while datagrams
    /// arrived densely
    /// ([`RuntimeConfig::recv_coalesce`](super::RuntimeConfig::recv_coalesce)).
    pub coalesced_wakeups: u64,
    /// Commands (calls) run on the I/O thread.
    pub commands: u64,
    /// Calls whose closure panicked (the loop survived).
    pub command_panics: u64,
    /// Events handed to the application.
    pub events: u64,
    /// Times the loop stopped taking endpoint events and datagrams
    /// because the application did not read events.
    pub event_backpressure: u64,
    /// Most datagrams waiting in the runtime's send queue at once.
    pub send_queue_high_water: usize,
    /// Longest single `Endpoint::handle_datagram` call: how long the
    /// I/O thread was blocked by one datagram (a Diffie-Hellman handshake
    /// step shows here).
    pub max_handle_datagram: Duration,
    /// Responder keying jobs handed to the Diffie-Hellman workers.
    pub keying_jobs: u64,
    /// Keying results the workers handed back.
    pub keying_offloaded: u64,
    /// Total time in `Endpoint::handle_datagram`.
    pub handle_datagram_time: Duration,
    /// Whether `recvmmsg`/`sendmmsg` are in use (`false`: one datagram
    /// per system call).
    pub batch_io: bool,
    /// Whether UDP GSO is in use.
    pub gso: bool,
    /// The TURN relay's counters, when the runtime uses one.
    pub turn: Option<crate::turn::TurnStats>,
    /// With a TURN relay: datagrams from other sources than the TURN
    /// server, dropped.
    pub turn_bypass_dropped: u64,
}

impl IoStats {
    /// Average datagrams per receive system call.
    pub fn datagrams_per_recv_syscall(&self) -> f64 {
        ratio(self.recv_datagrams, self.recv_syscalls)
    }

    /// Average datagrams per send system call.
    pub fn datagrams_per_send_syscall(&self) -> f64 {
        ratio(self.send_datagrams, self.send_syscalls)
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

impl fmt::Display for IoStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "recv {} dgrams/{} calls ({:.2}/call), send {} dgrams/{} calls ({:.2}/call, {} gso{}), \
             recv_err {} send_err {} icmp {} dropped {}, max handle_datagram {:?}",
            self.recv_datagrams,
            self.recv_syscalls,
            self.datagrams_per_recv_syscall(),
            self.send_datagrams,
            self.send_syscalls,
            self.datagrams_per_send_syscall(),
            self.gso_sends,
            if self.gso { "" } else { ", gso off" },
            self.recv_errors.total(),
            self.send_errors.total(),
            self.icmp_errors.total(),
            self.send_dropped,
            self.max_handle_datagram,
        )
    }
}

/// A snapshot of a runtime: its I/O counters and its endpoint's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuntimeStats {
    /// Socket and loop counters.
    pub io: IoStats,
    /// The endpoint's counters.
    pub endpoint: EndpointStats,
    /// Open (or closing) sessions.
    pub sessions: usize,
    /// Sessions still opening.
    pub openings: usize,
    /// Events waiting for the application.
    pub queued_events: usize,
}
