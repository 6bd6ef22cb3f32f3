//! Tiny [`SimNode`]s for testing the simulator itself and for scaffolding
//! other tests: an echo server, a recorder/sender and a pinger.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::{SimNode, Transmit};

/// Sends every datagram straight back to its source, from the local address
/// it arrived on.
#[derive(Debug, Default)]
pub struct Echo {
    /// Datagrams received.
    pub received: u64,
    /// Bytes received.
    pub received_bytes: u64,
    pending: VecDeque<(SocketAddr, SocketAddr, Vec<u8>)>,
}

impl SimNode for Echo {
    fn handle_datagram(
        &mut self,
        _now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        data: &[u8],
    ) {
        self.received += 1;
        self.received_bytes += data.len() as u64;
        self.pending.push_back((local, remote, data.to_vec()));
    }

    fn poll_transmit(&mut self, _now: Instant, buf: &mut Vec<u8>) -> Option<Transmit> {
        let (local, remote, data) = self.pending.pop_front()?;
        buf.extend_from_slice(&data);
        Some(Transmit {
            destination: remote,
            source: Some(local),
        })
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        None
    }

    fn handle_timeout(&mut self, _now: Instant) {}
}

/// A datagram a [`Recorder`] received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    /// When it arrived.
    pub at: Instant,
    /// The local address it arrived on.
    pub local: SocketAddr,
    /// The source it came from.
    pub remote: SocketAddr,
    /// Its bytes.
    pub data: Vec<u8>,
}

/// Records everything it receives and sends whatever the test queues.
#[derive(Debug, Default)]
pub struct Recorder {
    /// Everything received, in arrival order.
    pub inbox: Vec<Received>,
    outbox: VecDeque<(Transmit, Vec<u8>)>,
}

impl Recorder {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues a datagram to `to` from the node's first address.
    pub fn send(&mut self, to: SocketAddr, data: impl Into<Vec<u8>>) {
        self.outbox.push_back((Transmit::to(to), data.into()));
    }

    /// Queues a datagram to `to` from local address `from`.
    pub fn send_from(&mut self, from: SocketAddr, to: SocketAddr, data: impl Into<Vec<u8>>) {
        let tx = Transmit {
            destination: to,
            source: Some(from),
        };
        self.outbox.push_back((tx, data.into()));
    }

    /// How many datagrams came from `remote`.
    pub fn count_from(&self, remote: SocketAddr) -> usize {
        self.inbox.iter().filter(|r| r.remote == remote).count()
    }

    /// Distinct sources, in order of first arrival.
    pub fn remotes(&self) -> Vec<SocketAddr> {
        let mut v: Vec<SocketAddr> = Vec::new();
        for r in &self.inbox {
            if !v.contains(&r.remote) {
                v.push(r.remote);
            }
        }
        v
    }
}

impl SimNode for Recorder {
    fn handle_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        data: &[u8],
    ) {
        self.inbox.push(Received {
            at: now,
            local,
            remote,
            data: data.to_vec(),
        });
    }

    fn poll_transmit(&mut self, _now: Instant, buf: &mut Vec<u8>) -> Option<Transmit> {
        let (tx, data) = self.outbox.pop_front()?;
        buf.extend_from_slice(&data);
        Some(tx)
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        None
    }

    fn handle_timeout(&mut self, _now: Instant) {}
}

/// Sends `count` numbered pings to a target, one every `interval` starting
/// as soon as it is added, and matches the echoes.
///
/// A ping is an 8-byte big-endian sequence number padded with zeros to
/// [`with_size`](Self::with_size) bytes (default 64).
#[derive(Debug)]
pub struct Pinger {
    target: SocketAddr,
    interval: Duration,
    count: u64,
    size: usize,
    next: Option<Instant>,
    seen: Vec<bool>,
    /// Pings sent so far.
    pub sent: u64,
    /// Distinct pings echoed.
    pub replies: u64,
    /// Echoes of pings already echoed, or of unknown sequence numbers.
    pub duplicates: u64,
    /// When each ping was sent, by sequence number.
    pub send_times: Vec<Instant>,
    /// Round-trip times, in arrival order.
    pub rtts: Vec<Duration>,
    /// Sequence numbers of echoes, in arrival order.
    pub arrivals: Vec<u64>,
}

impl Pinger {
    /// `count` pings of 64 bytes to `target`, `interval` apart.
    pub fn new(target: SocketAddr, count: u64, interval: Duration) -> Self {
        Pinger {
            target,
            interval,
            count,
            size: 64,
            next: None,
            seen: Vec::new(),
            sent: 0,
            replies: 0,
            duplicates: 0,
            send_times: Vec::new(),
            rtts: Vec::new(),
            arrivals: Vec::new(),
        }
    }

    /// Sets the ping size in bytes (at least 8).
    pub fn with_size(mut self, size: usize) -> Self {
        self.size = size.max(8);
        self
    }

    /// True once every ping has been sent.
    pub fn done_sending(&self) -> bool {
        self.sent >= self.count
    }

    /// The sequence number in a ping or echo.
    pub fn seq_of(data: &[u8]) -> Option<u64> {
        Some(u64::from_be_bytes(data.get(..8)?.try_into().ok()?))
    }
}

impl SimNode for Pinger {
    fn handle_datagram(
        &mut self,
        now: Instant,
        _local: SocketAddr,
        _remote: SocketAddr,
        data: &[u8],
    ) {
        match Self::seq_of(data) {
            Some(seq) if seq < self.sent && !self.seen[seq as usize] => {
                self.seen[seq as usize] = true;
                self.replies += 1;
                self.rtts.push(now - self.send_times[seq as usize]);
                self.arrivals.push(seq);
            }
            _ => self.duplicates += 1,
        }
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<Transmit> {
        if self.done_sending() || self.next.is_some_and(|t| now < t) {
            return None;
        }
        let seq = self.sent;
        buf.extend_from_slice(&seq.to_be_bytes());
        buf.resize(self.size, 0);
        self.send_times.push(now);
        self.seen.push(false);
        self.sent += 1;
        self.next = Some(self.next.unwrap_or(now) + self.interval);
        Some(Transmit::to(self.target))
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        if self.done_sending() {
            None
        } else {
            self.next
        }
    }

    fn handle_timeout(&mut self, _now: Instant) {}
}
