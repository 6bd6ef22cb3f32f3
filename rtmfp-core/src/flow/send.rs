//! The sending half of a flow (RFC 7016 §3.6.2).

use super::{FlowId, MessageId, MessageOptions, Priority};
use crate::wire::chunk::{
    FragmentControl, NextUserData, UserData, OPTION_RETURN_ASSOCIATION, OPTION_USER_METADATA,
};
use crate::wire::option::{encode_list, OptionList};
use crate::wire::{vlu, Chunk};
use bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// F_COMPLETE_LINGER lasts at least this long (§3.6.2.11).
pub const COMPLETE_LINGER: Duration = Duration::from_secs(130);
/// RX_BUFFER_SIZE before the first acknowledgement (§3.6.2).
pub const INITIAL_RX_BUFFER: u64 = 65536;
/// How many abandoned message IDs are remembered for `parent` checks.
const ABANDONED_MEMORY: usize = 4096;

/// Sending flow states (§3.6.2, Figure 19).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendState {
    /// F_OPEN.
    Open,
    /// F_CLOSING: the final sequence number is queued.
    Closing,
    /// F_COMPLETE_LINGER: everything acknowledged.
    CompleteLinger {
        /// When the flow completed.
        since: Instant,
    },
    /// F_CLOSED.
    Closed,
}

/// Why a message could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// The flow is closing or closed.
    Closed,
    /// The send buffer is full; wait for [`FlowNotice::Writable`].
    WouldBlock,
}

/// What a sending flow tells its user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowNotice {
    /// Every fragment of the message was acknowledged.
    Delivered(MessageId),
    /// The message was abandoned (deadline, loss without retransmission,
    /// parent abandoned, rejection or close).
    Abandoned(MessageId),
    /// The send buffer drained below its limit after refusing a message.
    Writable,
    /// The receiver rejected the flow with this exception code (§3.6.2.10).
    Rejected(u64),
    /// The flow closed and everything was acknowledged (F_COMPLETE_LINGER).
    Complete,
}

#[derive(Debug)]
struct Entry {
    /// The fragment's bytes: a slice of its message's buffer.
    data: Bytes,
    fra: FragmentControl,
    abandoned: bool,
    sent_abandoned: bool,
    ever_sent: bool,
    nak_count: u8,
    in_flight: bool,
    transmit_size: usize,
    tsn: u64,
    message: MessageId,
}

#[derive(Debug)]
struct Message {
    first_seq: u64,
    last_seq: u64,
    unacked: usize,
    abandoned: bool,
    started: bool,
    no_retransmit: bool,
    children: Vec<MessageId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Deadline {
    Start,
    Finish,
}

/// Buffer Probe schedule while the receiver's window is zero (§3.6.2.9.1).
#[derive(Debug, Clone, Copy)]
struct Probe {
    next: Instant,
    interval: Duration,
}

/// One sending flow.
#[derive(Debug)]
pub struct SendFlow {
    /// F_FLOW_ID.
    pub id: FlowId,
    /// Scheduling precedence.
    pub priority: Priority,
    /// Current state.
    pub state: SendState,
    startup_options: Vec<u8>,
    queue: BTreeMap<u64, Entry>,
    /// Sequence numbers not in flight that may need sending.
    pending: BTreeSet<u64>,
    /// In-flight entries by transmission sequence number.
    in_flight: BTreeMap<u64, u64>,
    next_sn: u64,
    final_sn: Option<u64>,
    rx_buffer_size: u64,
    /// EXCEPTION: the receiver rejected the flow.
    pub exception: bool,
    outstanding: usize,
    messages: BTreeMap<MessageId, Message>,
    abandoned_ids: BTreeSet<MessageId>,
    deadlines: BTreeSet<(Instant, Deadline, MessageId)>,
    next_message: MessageId,
    buffered_bytes: usize,
    limit: usize,
    blocked: bool,
    fragment_size: usize,
    probe: Option<Probe>,
    notices: Vec<FlowNotice>,
    /// Fragments retransmitted.
    pub retransmissions: u64,
}

impl SendFlow {
    /// A new F_OPEN flow carrying `metadata` and an optional return
    /// association (§3.6.2.1).  Messages are cut into fragments of at most
    /// `fragment_size` bytes.
    pub fn new(
        id: FlowId,
        priority: Priority,
        metadata: &[u8],
        association: Option<FlowId>,
        limit: usize,
        fragment_size: usize,
    ) -> Self {
        let mut association_value = Vec::new();
        if let Some(flow) = association {
            vlu::encode(flow, &mut association_value);
        }
        let mut options = vec![(OPTION_USER_METADATA, metadata)];
        if association.is_some() {
            options.push((OPTION_RETURN_ASSOCIATION, association_value.as_slice()));
        }
        SendFlow {
            id,
            priority,
            state: SendState::Open,
            startup_options: encode_list(options),
            queue: BTreeMap::new(),
            pending: BTreeSet::new(),
            in_flight: BTreeMap::new(),
            next_sn: 1,
            final_sn: None,
            rx_buffer_size: INITIAL_RX_BUFFER,
            exception: false,
            outstanding: 0,
            messages: BTreeMap::new(),
            abandoned_ids: BTreeSet::new(),
            deadlines: BTreeSet::new(),
            next_message: 1,
            buffered_bytes: 0,
            limit,
            blocked: false,
            fragment_size: fragment_size.max(1),
            probe: None,
            notices: Vec::new(),
            retransmissions: 0,
        }
    }

    /// Notices for the user since the last call.
    pub fn take_notices(&mut self) -> Vec<FlowNotice> {
        std::mem::take(&mut self.notices)
    }

    /// Bytes queued and not yet acknowledged or abandoned.
    pub fn buffered_bytes(&self) -> usize {
        self.buffered_bytes
    }

    /// Whether a new message would be accepted now.
    pub fn is_writable(&self) -> bool {
        self.state == SendState::Open && self.buffered_bytes < self.limit
    }

    /// F_OUTSTANDING_BYTES.
    pub fn outstanding(&self) -> usize {
        self.outstanding
    }

    /// Queues a message (§3.6.2.2).
    pub fn queue_message(
        &mut self,
        now: Instant,
        data: &[u8],
        options: MessageOptions,
    ) -> Result<MessageId, SendError> {
        self.queue_shared(now, Bytes::copy_from_slice(data), options)
    }

    /// Queues a message held in a shared buffer (§3.6.2.2): its fragments
    /// are slices of `data`, so the same message queued on many flows is
    /// stored once.
    pub fn queue_shared(
        &mut self,
        now: Instant,
        data: Bytes,
        options: MessageOptions,
    ) -> Result<MessageId, SendError> {
        if self.state != SendState::Open {
            return Err(SendError::Closed);
        }
        if self.buffered_bytes >= self.limit {
            self.blocked = true;
            return Err(SendError::WouldBlock);
        }
        let id = self.next_message;
        self.next_message += 1;
        let size = self.fragment_size.max(1);
        let count = data.len().div_ceil(size).max(1);
        let first_seq = self.next_sn;
        for i in 0..count {
            let piece = data.slice((i * size).min(data.len())..((i + 1) * size).min(data.len()));
            let fra = match (count, i) {
                (1, _) => FragmentControl::Whole,
                (_, 0) => FragmentControl::Begin,
                (n, i) if i == n - 1 => FragmentControl::End,
                _ => FragmentControl::Middle,
            };
            let seq = self.next_sn;
            self.next_sn += 1;
            self.queue.insert(
                seq,
                Entry {
                    data: piece,
                    fra,
                    abandoned: false,
                    sent_abandoned: false,
                    ever_sent: false,
                    nak_count: 0,
                    in_flight: false,
                    transmit_size: 0,
                    tsn: 0,
                    message: id,
                },
            );
            self.pending.insert(seq);
        }
        self.buffered_bytes += data.len();
        self.messages.insert(
            id,
            Message {
                first_seq,
                last_seq: first_seq + count as u64 - 1,
                unacked: count,
                abandoned: false,
                started: false,
                no_retransmit: options.no_retransmit,
                children: Vec::new(),
            },
        );
        if let Some(d) = options.start_within {
            self.deadlines.insert((now + d, Deadline::Start, id));
        }
        if let Some(d) = options.finish_within {
            self.deadlines.insert((now + d, Deadline::Finish, id));
        }
        if let Some(parent) = options.parent {
            if self.abandoned_ids.contains(&parent) {
                self.abandon_message(id);
            } else if let Some(p) = self.messages.get_mut(&parent) {
                p.children.push(id);
            }
        }
        Ok(id)
    }

    /// Abandons a message and, transitively, the messages chained to it
    /// (§3.6.2.7).  Abandoned data is never un-abandoned.
    pub fn abandon_message(&mut self, id: MessageId) {
        let mut work = vec![id];
        while let Some(id) = work.pop() {
            let Some(message) = self.messages.remove(&id) else {
                continue;
            };
            if message.abandoned {
                continue;
            }
            work.extend(message.children.iter().copied());
            let head = self.queue.keys().next().copied();
            for (&seq, entry) in self.queue.range_mut(message.first_seq..=message.last_seq) {
                if entry.message != id || entry.abandoned {
                    continue;
                }
                entry.abandoned = true;
                self.buffered_bytes -= entry.data.len();
                entry.data = Bytes::new();
                if Some(seq) != head && Some(seq) != self.final_sn {
                    self.pending.remove(&seq);
                }
            }
            self.abandoned_ids.insert(id);
            if self.abandoned_ids.len() > ABANDONED_MEMORY {
                self.abandoned_ids.pop_first();
            }
            self.notices.push(FlowNotice::Abandoned(id));
        }
        self.prune_deadlines();
        self.check_writable();
    }

    /// Whether a deadline still has something to do: its message is
    /// neither delivered nor abandoned (and, for a start deadline, not yet
    /// started).
    fn deadline_live(&self, kind: Deadline, id: MessageId) -> bool {
        match (kind, self.messages.get(&id)) {
            (Deadline::Start, Some(m)) => !m.started,
            (Deadline::Finish, Some(_)) => true,
            (_, None) => false,
        }
    }

    /// Drops the deadlines at the front that can no longer fire, so that
    /// the earliest one left is real.  Messages are delivered and expire
    /// roughly in the order they were queued, so a delivered message's
    /// deadline is usually at the front by then: without this, every
    /// relayed media message woke its player's session once more, a
    /// second after it was sent, to find nothing to abandon (issue 14:
    /// fan-out).
    fn prune_deadlines(&mut self) {
        while let Some(&(_, kind, id)) = self.deadlines.first() {
            if self.deadline_live(kind, id) {
                break;
            }
            self.deadlines.pop_first();
        }
        if self.deadlines.is_empty() {
            self.deadlines = BTreeSet::new();
        }
    }

    fn check_writable(&mut self) {
        if self.blocked && self.is_writable() {
            self.blocked = false;
            self.notices.push(FlowNotice::Writable);
        }
    }

    /// Abandons messages whose deadlines have passed.
    pub fn check_deadlines(&mut self, now: Instant) {
        while let Some(&(when, kind, id)) = self.deadlines.first() {
            if when > now {
                break;
            }
            self.deadlines.pop_first();
            if self.deadline_live(kind, id) {
                self.abandon_message(id);
            }
        }
        self.prune_deadlines();
    }

    /// The next deadline, if any.
    pub fn next_deadline(&self) -> Option<Instant> {
        let deadline = self.deadlines.first().map(|d| d.0);
        let probe = self.probe.map(|p| p.next);
        deadline.into_iter().chain(probe).min()
    }

    /// Trims abandoned entries from the head and returns the Forward
    /// Sequence Number (§3.6.2.3).
    pub fn fsn(&mut self) -> u64 {
        loop {
            let mut iter = self.queue.iter();
            let Some((&seq, first)) = iter.next() else {
                return self.next_sn - 1;
            };
            if iter.next().is_some() && !first.in_flight && first.abandoned {
                self.queue.remove(&seq);
                self.pending.remove(&seq);
                continue;
            }
            if !first.abandoned || (first.in_flight && !first.sent_abandoned) {
                return seq - 1;
            }
            if !first.in_flight {
                // An abandoned head is eligible: it becomes an FSN Update.
                self.pending.insert(seq);
            }
            return seq;
        }
    }

    /// The next entry eligible to send, if the receiver's window allows
    /// (§3.6.2.3, §3.6.2.9).  New (never sent) data also needs the
    /// session's congestion window; the caller checks that.
    pub fn next_eligible(&mut self) -> Option<(u64, bool)> {
        if self.rx_buffer_size <= self.outstanding as u64 && !self.exception {
            return None;
        }
        let head = self.queue.keys().next().copied();
        let mut stale = Vec::new();
        let mut found = None;
        for &seq in &self.pending {
            let Some(entry) = self.queue.get(&seq) else {
                stale.push(seq);
                continue;
            };
            if entry.in_flight {
                stale.push(seq);
                continue;
            }
            if !entry.abandoned || Some(seq) == head || Some(seq) == self.final_sn {
                found = Some((seq, entry.ever_sent));
                break;
            }
            stale.push(seq);
        }
        for seq in stale {
            self.pending.remove(&seq);
        }
        found
    }

    /// Encodes entry `seq` as a User Data chunk (or, with `next`, a Next
    /// User Data chunk following `seq - 1` of this flow) into `out`.
    ///
    /// While the flow's startup options still ride along, every fragment
    /// goes as a full User Data chunk: §2.3.12 lets Next User Data carry
    /// options, but Flash Player never sent it that way and Flash-era
    /// receivers (librtmfp) read its data right after the flags byte.
    pub fn encode_fragment(&self, seq: u64, fsn: u64, next: bool, out: &mut Vec<u8>) {
        if let Some(chunk) = self.fragment_chunk(seq, fsn, next) {
            let _ = chunk.encode(out);
        }
    }

    /// The chunk that carries entry `seq` (see [`SendFlow::encode_fragment`]),
    /// borrowing its data: the sender encodes it straight into the packet,
    /// with no buffer of its own per fragment.  `None` if `seq` is not
    /// queued.
    pub fn fragment_chunk(&self, seq: u64, fsn: u64, next: bool) -> Option<Chunk<'_>> {
        let entry = self.queue.get(&seq)?;
        let options = if self.startup_options.is_empty() {
            None
        } else {
            OptionList::parse_exact(&self.startup_options).ok()
        };
        let next = next && options.is_none();
        let data: &[u8] = if entry.abandoned { &[] } else { &entry.data };
        let fin = Some(seq) == self.final_sn;
        Some(if next {
            Chunk::NextUserData(NextUserData {
                fragment: entry.fra,
                abandon: entry.abandoned,
                fin,
                options,
                data,
            })
        } else {
            Chunk::UserData(UserData {
                fragment: entry.fra,
                abandon: entry.abandoned,
                fin,
                flow_id: self.id,
                sequence_number: seq,
                fsn_offset: seq - fsn,
                options,
                data,
            })
        })
    }

    /// Records that entry `seq` went out in a chunk of `size` bytes with
    /// transmission sequence number `tsn` (§3.6.2.3 steps 12-16).
    pub fn mark_sent(&mut self, seq: u64, size: usize, tsn: u64) {
        let Some(entry) = self.queue.get_mut(&seq) else {
            return;
        };
        if entry.ever_sent {
            self.retransmissions += 1;
        }
        entry.in_flight = true;
        entry.ever_sent = true;
        entry.nak_count = 0;
        entry.sent_abandoned = entry.abandoned;
        entry.transmit_size = size;
        entry.tsn = tsn;
        let message = entry.message;
        self.outstanding += size;
        self.in_flight.insert(tsn, seq);
        self.pending.remove(&seq);
        if let Some(m) = self.messages.get_mut(&message) {
            if !m.started {
                m.started = true;
                self.prune_deadlines();
            }
        }
    }

    /// Processes an acknowledgement (§3.6.2.4).  `acked` lists received
    /// ranges, the cumulative one first.  Returns the in-flight bytes it
    /// acknowledged and the highest TSN among them.
    pub fn on_ack(
        &mut self,
        now: Instant,
        buffer_bytes: u64,
        acked: &[(u64, u64)],
    ) -> (usize, u64) {
        self.startup_options.clear();
        let was_zero = self.rx_buffer_size == 0;
        self.rx_buffer_size = buffer_bytes;
        let mut acked_bytes = 0;
        let mut max_tsn = 0;
        for &(from, to) in acked {
            let seqs: Vec<u64> = self.queue.range(from..=to).map(|(&s, _)| s).collect();
            for seq in seqs {
                let entry = self.queue.remove(&seq).expect("listed");
                self.pending.remove(&seq);
                if entry.in_flight {
                    acked_bytes += entry.transmit_size;
                    self.outstanding -= entry.transmit_size;
                    self.in_flight.remove(&entry.tsn);
                    max_tsn = max_tsn.max(entry.tsn);
                }
                if !entry.abandoned {
                    self.buffered_bytes -= entry.data.len();
                }
                self.fragment_acked(entry.message, entry.abandoned);
            }
        }
        // §3.6.2.9.1: probe while the window is zero and not rejected.
        if buffer_bytes == 0 && !self.exception {
            if was_zero && self.probe.is_some() {
                // keep the schedule
            } else {
                self.probe = Some(Probe {
                    next: now + Duration::from_millis(500),
                    interval: Duration::from_secs(1),
                });
            }
        } else {
            self.probe = None;
        }
        if self.state == SendState::Closing && self.queue.is_empty() {
            self.state = SendState::CompleteLinger { since: now };
            self.notices.push(FlowNotice::Complete);
        }
        self.prune_deadlines();
        self.check_writable();
        self.release_empty();
        (acked_bytes, max_tsn)
    }

    /// Gives back the nodes of emptied maps: a B-tree keeps its root (room
    /// for 11 entries) when its last entry goes, and an idle flow should
    /// cost nothing (issue 14: memory per idle session).
    fn release_empty(&mut self) {
        if self.queue.is_empty() {
            self.queue = BTreeMap::new();
        }
        if self.pending.is_empty() {
            self.pending = BTreeSet::new();
        }
        if self.in_flight.is_empty() {
            self.in_flight = BTreeMap::new();
        }
        if self.messages.is_empty() {
            self.messages = BTreeMap::new();
        }
    }

    fn fragment_acked(&mut self, message: MessageId, abandoned: bool) {
        let Some(m) = self.messages.get_mut(&message) else {
            return;
        };
        m.unacked = m.unacked.saturating_sub(1);
        if m.unacked == 0 && !abandoned && !m.abandoned {
            self.messages.remove(&message);
            self.notices.push(FlowNotice::Delivered(message));
        }
    }

    /// Negative acknowledgement pass (§3.6.2.5): every in-flight entry sent
    /// before `max_tsn_ack` gets a NAK; three NAKs mean lost.  Returns
    /// (naks, losses, highest TSN among the losses).
    pub fn nak_pass(&mut self, max_tsn_ack: u64) -> (usize, usize, u64) {
        let mut naks = 0;
        let mut lost = Vec::new();
        for (&tsn, &seq) in self.in_flight.range(..max_tsn_ack) {
            if let Some(entry) = self.queue.get_mut(&seq) {
                entry.nak_count = entry.nak_count.saturating_add(1);
                naks += 1;
                if entry.nak_count >= 3 {
                    lost.push((tsn, seq));
                }
            }
        }
        let losses = lost.len();
        let max_lost = lost.iter().map(|&(tsn, _)| tsn).max().unwrap_or(0);
        for (tsn, seq) in lost {
            self.lose(tsn, seq);
        }
        (naks, losses, max_lost)
    }

    fn lose(&mut self, tsn: u64, seq: u64) {
        self.in_flight.remove(&tsn);
        let Some(entry) = self.queue.get_mut(&seq) else {
            return;
        };
        entry.in_flight = false;
        self.outstanding -= entry.transmit_size;
        self.pending.insert(seq);
        let message = entry.message;
        if self.messages.get(&message).is_some_and(|m| m.no_retransmit) {
            self.abandon_message(message);
        }
    }

    /// The retransmission timeout fired (§3.6.2.6): nothing is in flight
    /// any more.  Returns whether anything was.
    pub fn on_timeout(&mut self) -> bool {
        let in_flight: Vec<(u64, u64)> = self.in_flight.iter().map(|(&t, &s)| (t, s)).collect();
        let was_loss = !in_flight.is_empty();
        for (tsn, seq) in in_flight {
            self.lose(tsn, seq);
        }
        was_loss
    }

    /// Closes the flow (§3.6.2.11).
    pub fn close(&mut self, now: Instant) {
        if self.state != SendState::Open {
            return;
        }
        self.state = SendState::Closing;
        let tail = self
            .queue
            .iter()
            .next_back()
            .map(|(&s, e)| (s, e.ever_sent));
        match tail {
            Some((seq, false)) if seq == self.next_sn - 1 => self.final_sn = Some(seq),
            _ => {
                let seq = self.next_sn;
                self.next_sn += 1;
                self.queue.insert(
                    seq,
                    Entry {
                        data: Bytes::new(),
                        fra: FragmentControl::Whole,
                        abandoned: true,
                        sent_abandoned: false,
                        ever_sent: false,
                        nak_count: 0,
                        in_flight: false,
                        transmit_size: 0,
                        tsn: 0,
                        message: 0,
                    },
                );
                self.pending.insert(seq);
                self.final_sn = Some(seq);
            }
        }
        if self.queue.is_empty() {
            self.state = SendState::CompleteLinger { since: now };
            self.notices.push(FlowNotice::Complete);
        }
    }

    /// A Flow Exception Report arrived (§3.6.2.10).
    pub fn on_exception(&mut self, now: Instant, code: u64) {
        if self.state == SendState::Open {
            self.close(now);
            self.notices.push(FlowNotice::Rejected(code));
        }
        self.exception = true;
        self.probe = None;
        let ids: Vec<MessageId> = self.messages.keys().copied().collect();
        for id in ids {
            self.abandon_message(id);
        }
        for entry in self.queue.values_mut() {
            entry.abandoned = true;
        }
    }

    /// Whether a Buffer Probe is due now; advances the schedule
    /// (§3.6.2.9.1: at least max(1 s, ERTO) apart, growing to at most
    /// max(60 s, ERTO)).
    pub fn take_probe(&mut self, now: Instant, erto: Duration) -> bool {
        let Some(probe) = self.probe else {
            return false;
        };
        if probe.next > now {
            return false;
        }
        let interval = probe.interval.max(erto);
        self.probe = Some(Probe {
            next: now + interval,
            interval: (interval * 2).min(Duration::from_secs(60).max(erto)),
        });
        true
    }

    /// Whether a Buffer Probe is due at `now`.
    pub fn probe_due(&self, now: Instant) -> bool {
        self.probe.is_some_and(|p| p.next <= now)
    }

    /// Whether the flow has lingered long enough to be forgotten.
    pub fn is_finished(&self, now: Instant) -> bool {
        match self.state {
            SendState::CompleteLinger { since } => {
                now.saturating_duration_since(since) >= COMPLETE_LINGER
            }
            SendState::Closed => true,
            _ => false,
        }
    }

    /// Whether the flow has anything left to send or acknowledge.
    pub fn is_idle(&self) -> bool {
        self.queue.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::chunk::chunk_type;

    #[test]
    fn next_user_data_only_once_the_startup_options_are_acknowledged() {
        let now = Instant::now();
        let mut f = SendFlow::new(1, Priority::Routine, b"TC\x04\x00", Some(2), 1 << 20, 1000);
        f.queue_message(now, b"one", MessageOptions::default())
            .unwrap();
        f.queue_message(now, b"two", MessageOptions::default())
            .unwrap();
        // Options still ride along: a full User Data chunk even when it
        // follows the previous fragment in the same packet.
        let mut chunk = Vec::new();
        f.encode_fragment(2, 0, true, &mut chunk);
        assert_eq!(chunk[0], chunk_type::USER_DATA);
        // Acknowledged: the abbreviation is fine again.
        f.on_ack(now, 65536, &[(1, 1)]);
        chunk.clear();
        f.encode_fragment(2, 1, true, &mut chunk);
        assert_eq!(chunk[0], chunk_type::NEXT_USER_DATA);
    }

    fn expiring(d: u64) -> MessageOptions {
        MessageOptions {
            finish_within: Some(Duration::from_millis(d)),
            ..MessageOptions::default()
        }
    }

    /// Sends every eligible fragment; returns the sequence numbers.
    fn send_all(f: &mut SendFlow, tsn: &mut u64) -> Vec<u64> {
        let mut sent = Vec::new();
        while let Some((seq, _)) = f.next_eligible() {
            *tsn += 1;
            f.mark_sent(seq, 100, *tsn);
            sent.push(seq);
        }
        sent
    }

    #[test]
    fn a_delivered_message_leaves_no_deadline_to_wake_for() {
        let now = Instant::now();
        let mut f = SendFlow::new(1, Priority::Routine, b"", None, 1 << 20, 1000);
        let mut tsn = 0;
        f.queue_message(now, b"one", expiring(1000)).unwrap();
        f.queue_message(now, b"two", expiring(500)).unwrap();
        assert_eq!(f.next_deadline(), Some(now + Duration::from_millis(500)));
        assert_eq!(send_all(&mut f, &mut tsn), [1, 2]);
        // "two" (the earlier deadline) delivered: "one"'s is next.
        f.on_ack(now, 65536, &[(2, 2)]);
        assert_eq!(f.next_deadline(), Some(now + Duration::from_millis(1000)));
        // Both delivered: nothing left to wake for, and no tree kept.
        f.on_ack(now, 65536, &[(1, 2)]);
        assert_eq!(f.next_deadline(), None);
        assert_eq!(f.deadlines.len(), 0);
    }

    #[test]
    fn an_undelivered_message_still_expires_at_its_deadline() {
        let now = Instant::now();
        let mut f = SendFlow::new(1, Priority::Routine, b"", None, 1 << 20, 1000);
        let mut tsn = 0;
        let early = f.queue_message(now, b"early", expiring(100)).unwrap();
        f.queue_message(now, b"late", expiring(300)).unwrap();
        send_all(&mut f, &mut tsn);
        // "late" delivered; "early" not: its deadline stays and fires.
        f.on_ack(now, 65536, &[(2, 2)]);
        assert_eq!(f.next_deadline(), Some(now + Duration::from_millis(100)));
        f.check_deadlines(now + Duration::from_millis(99));
        let abandoned = |f: &mut SendFlow| {
            f.take_notices()
                .into_iter()
                .filter_map(|n| match n {
                    FlowNotice::Abandoned(id) => Some(id),
                    _ => None,
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(abandoned(&mut f), []);
        f.check_deadlines(now + Duration::from_millis(100));
        assert_eq!(abandoned(&mut f), [early]);
        // The stale deadline of "late" went with it.
        assert_eq!(f.next_deadline(), None);
    }

    #[test]
    fn a_started_message_drops_its_start_deadline() {
        let now = Instant::now();
        let mut f = SendFlow::new(1, Priority::Routine, b"", None, 1 << 20, 1000);
        let options = MessageOptions {
            start_within: Some(Duration::from_millis(50)),
            ..MessageOptions::default()
        };
        f.queue_message(now, b"go", options).unwrap();
        assert_eq!(f.next_deadline(), Some(now + Duration::from_millis(50)));
        send_all(&mut f, &mut 0);
        assert_eq!(f.next_deadline(), None);
    }
}
