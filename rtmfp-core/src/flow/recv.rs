//! The receiving half of a flow (RFC 7016 §3.6.3).

use super::rangeset::RangeSet;
use super::{DeliveryOrder, FlowId};
use crate::wire::ack::{write_ack, AckInfo};
use crate::wire::chunk::{FlowException, FragmentControl};
use crate::wire::Chunk;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// RF_COMPLETE_LINGER lasts this long (§3.6.3.8).
pub const COMPLETE_LINGER: Duration = Duration::from_secs(120);
/// Bytes of bookkeeping counted per buffered fragment.
const ENTRY_OVERHEAD: usize = 32;

/// Receiving flow states (§3.6.3, Figure 22).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecvState {
    /// RF_OPEN.
    Open,
    /// RF_REJECTED: acks carry a Flow Exception Report.
    Rejected,
    /// RF_COMPLETE_LINGER: every sequence number up to the final one seen.
    CompleteLinger {
        /// When the flow became complete.
        since: Instant,
    },
    /// RF_CLOSED.
    Closed,
}

#[derive(Debug)]
struct Fragment {
    fra: FragmentControl,
    data: Vec<u8>,
}

/// One received User Data or Next User Data fragment.
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    /// Its sequence number.
    pub seq: u64,
    /// The Forward Sequence Number it carried.
    pub fsn: u64,
    /// Where it sits in its message.
    pub fra: FragmentControl,
    /// ABN.
    pub abandon: bool,
    /// FIN.
    pub fin: bool,
    /// The fragment's bytes.
    pub data: &'a [u8],
}

/// A complete message ready for the user.
#[derive(Debug, PartialEq, Eq)]
pub struct Delivered {
    /// The message bytes.
    pub data: Vec<u8>,
    /// Whether messages were lost (abandoned by the sender) just before
    /// this one (§3.6.1.2: "A gap indication MUST be communicated").
    pub gap_before: bool,
}

/// One receiving flow.
#[derive(Debug)]
pub struct RecvFlow {
    /// RF_FLOW_ID.
    pub id: FlowId,
    /// Current state.
    pub state: RecvState,
    /// The user's per-flow metadata.
    pub metadata: Vec<u8>,
    /// The sending flow this one answers, if any.
    pub association: Option<FlowId>,
    sequence: RangeSet,
    final_sn: Option<u64>,
    buffer: BTreeMap<u64, Fragment>,
    buffered: usize,
    capacity: usize,
    prev_rwnd: Option<u64>,
    /// SHOULD_ACK.
    pub should_ack: bool,
    exception_code: u64,
    accepted: bool,
    suspended: bool,
    order: DeliveryOrder,
    /// Next sequence number expected by ordered delivery.
    next_deliver: u64,
    /// Sequence numbers were skipped since the last delivered message.
    pending_gap: bool,
    finished_reported: bool,
    /// Messages delivered.
    pub messages_delivered: u64,
    /// Whether the user has been told about this flow.
    pub announced: bool,
    /// Whether the flow was rejected (it may complete afterwards).
    rejected: bool,
    /// How far the last look at an incomplete message got: its Begin
    /// fragment and the last fragment of the contiguous run after it.  The
    /// next look starts there, so a message of n fragments costs O(n) to
    /// assemble, not O(n²) (one scan per arriving fragment).
    scanned: Option<(u64, u64)>,
    /// The message being assembled in order: fragments that arrive in
    /// sequence are appended to it at once instead of each being kept in
    /// `buffer` and copied out at the end.
    assembly: Option<Assembly>,
}

/// A message assembled as its fragments arrive in order (sequence
/// delivery only).  It holds the contiguous run `first..next` of one
/// message, which starts with its Begin fragment; none of those fragments
/// is in `buffer`, and nothing before `first` waits there either.
#[derive(Debug)]
struct Assembly {
    first: u64,
    next: u64,
    data: Vec<u8>,
    /// Its share of `buffered`.
    accounted: usize,
    /// The End fragment arrived: the message is whole.
    complete: bool,
}

impl RecvFlow {
    /// A new RF_OPEN flow; delivery waits until it is accepted.
    pub fn new(
        id: FlowId,
        metadata: Vec<u8>,
        association: Option<FlowId>,
        capacity: usize,
    ) -> Self {
        RecvFlow {
            id,
            state: RecvState::Open,
            metadata,
            association,
            sequence: RangeSet::new(),
            final_sn: None,
            buffer: BTreeMap::new(),
            buffered: 0,
            capacity,
            prev_rwnd: None,
            should_ack: false,
            exception_code: 0,
            accepted: false,
            suspended: false,
            order: DeliveryOrder::Sequence,
            next_deliver: 1,
            pending_gap: false,
            finished_reported: false,
            messages_delivered: 0,
            announced: false,
            rejected: false,
            scanned: None,
            assembly: None,
        }
    }

    /// The user accepts the flow: delivery starts, in `order`.
    pub fn accept(&mut self, order: DeliveryOrder) {
        self.accepted = true;
        self.order = order;
    }

    /// Whether the user accepted the flow.
    pub fn is_accepted(&self) -> bool {
        self.accepted
    }

    /// Whether the flow was ever rejected.
    pub fn was_rejected(&self) -> bool {
        self.rejected
    }

    /// Whether the user should be told about this flow: it is open, or it
    /// already completed (its whole content, final fragment included,
    /// arrived before the user saw it) without being rejected.
    pub fn should_announce(&self) -> bool {
        !self.announced
            && !self.rejected
            && matches!(
                self.state,
                RecvState::Open | RecvState::CompleteLinger { .. }
            )
    }

    /// Suspends or resumes delivery (§3.6.3.3).  A suspended flow keeps
    /// completed messages, and its window can close (§3.6.3.5).
    pub fn set_suspended(&mut self, suspended: bool) {
        if self.suspended && !suspended {
            self.should_ack = true;
        }
        self.suspended = suspended;
    }

    /// Changes BUFFER_CAPACITY.
    pub fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity;
        self.should_ack = true;
    }

    /// Rejects the flow (§3.6.3.7).  Returns false if it was not open.
    pub fn reject(&mut self, code: u64) -> bool {
        if self.state != RecvState::Open {
            return false;
        }
        self.state = RecvState::Rejected;
        self.rejected = true;
        self.buffer.clear();
        self.scanned = None;
        self.assembly = None;
        self.buffered = 0;
        self.exception_code = code;
        self.should_ack = true;
        true
    }

    /// Whether the flow takes new fragments (RF_OPEN, RF_REJECTED or
    /// RF_COMPLETE_LINGER, §3.6.3.2 step 1).
    pub fn is_active(&self) -> bool {
        !matches!(self.state, RecvState::Closed)
    }

    /// Processes one User Data or Next User Data fragment (§3.6.3.2 steps
    /// 3-14).  Returns whether an immediate ack is due (ACK_NOW).
    pub fn receive(&mut self, now: Instant, fragment: Incoming<'_>) -> bool {
        let Incoming {
            seq,
            fsn,
            fra,
            abandon,
            fin,
            data,
        } = fragment;
        self.should_ack = true;
        let mut ack_now = self.state != RecvState::Open
            || self.prev_rwnd.is_some_and(|w| w < 2)
            || abandon
            || self.sequence.has_gaps();
        let duplicate = self.sequence.contains(seq);
        if duplicate {
            ack_now = true;
        }
        if !duplicate && fin && self.final_sn.is_none() {
            self.final_sn = Some(seq);
            ack_now = true;
        }
        if self.state == RecvState::Open && !duplicate && !abandon && seq >= self.next_deliver {
            self.buffered += data.len() + ENTRY_OVERHEAD;
            if !self.assemble(seq, fra, data) {
                self.buffer.insert(
                    seq,
                    Fragment {
                        fra,
                        data: data.to_vec(),
                    },
                );
            }
        }
        self.sequence.insert(0, fsn);
        self.sequence.insert(seq, seq);
        if self.sequence.has_gaps() {
            ack_now = true;
        }
        if self.capacity.saturating_sub(self.buffered) < 1024 {
            ack_now = true;
        }
        self.check_complete(now);
        ack_now
    }

    /// Appends an in-order fragment to the message being assembled, or
    /// starts one with a Begin fragment that is next in sequence while
    /// nothing else waits.  Returns false for a fragment that must wait in
    /// `buffer` instead (out of order, or not sequence delivery).  Its
    /// bytes are already counted in `buffered`.
    fn assemble(&mut self, seq: u64, fra: FragmentControl, data: &[u8]) -> bool {
        if !self.accepted || self.order != DeliveryOrder::Sequence {
            return false;
        }
        let cost = data.len() + ENTRY_OVERHEAD;
        match &mut self.assembly {
            Some(a) if !a.complete && seq == a.next => match fra {
                FragmentControl::Middle | FragmentControl::End => {
                    a.data.extend_from_slice(data);
                    a.accounted += cost;
                    a.next += 1;
                    a.complete = fra == FragmentControl::End;
                }
                // A new message where this one's next fragment should be:
                // the sender abandoned the rest of this one.  Delivery
                // sorts that out from the buffer.
                FragmentControl::Begin | FragmentControl::Whole => return false,
            },
            Some(_) => return false,
            None => {
                if fra != FragmentControl::Begin
                    || seq != self.next_deliver
                    || !self.buffer.is_empty()
                {
                    return false;
                }
                self.assembly = Some(Assembly {
                    first: seq,
                    next: seq + 1,
                    data: data.to_vec(),
                    accounted: cost,
                    complete: false,
                });
            }
        }
        self.absorb_buffered();
        true
    }

    /// Moves fragments that waited in `buffer` for a gap before them onto
    /// the message being assembled, now that the gap is filled.
    fn absorb_buffered(&mut self) {
        let Some(a) = self.assembly.as_mut() else {
            return;
        };
        while !a.complete {
            let Some(entry) = self.buffer.first_entry() else {
                break;
            };
            if *entry.key() != a.next
                || !matches!(
                    entry.get().fra,
                    FragmentControl::Middle | FragmentControl::End
                )
            {
                break;
            }
            let fragment = entry.remove();
            a.data.extend_from_slice(&fragment.data);
            a.accounted += fragment.data.len() + ENTRY_OVERHEAD;
            a.next += 1;
            a.complete = fragment.fra == FragmentControl::End;
        }
        if self.buffer.is_empty() {
            self.buffer = BTreeMap::new();
        }
    }

    /// The Cumulative Acknowledgement Sequence Number (§3.6.3.3).
    pub fn csn(&self) -> u64 {
        self.sequence.cumulative().unwrap_or(0)
    }

    fn check_complete(&mut self, now: Instant) {
        if let Some(final_sn) = self.final_sn {
            if matches!(self.state, RecvState::Open | RecvState::Rejected)
                && self.sequence.contains_through(final_sn)
            {
                self.state = RecvState::CompleteLinger { since: now };
                self.should_ack = true;
            }
        }
    }

    fn remove(&mut self, seq: u64) -> Option<Fragment> {
        let fragment = self.buffer.remove(&seq)?;
        self.buffered -= fragment.data.len() + ENTRY_OVERHEAD;
        if self.buffer.is_empty() {
            // A B-tree keeps its emptied root (room for 11 fragments): an
            // idle flow gives it back.
            self.buffer = BTreeMap::new();
        }
        Some(fragment)
    }

    /// Delivers what can be delivered (§3.6.3.3) into `out`.
    pub fn deliver(&mut self, out: &mut Vec<Delivered>) {
        if !self.accepted || self.suspended || self.state == RecvState::Rejected {
            return;
        }
        match self.order {
            DeliveryOrder::Sequence => self.deliver_in_sequence(out),
            DeliveryOrder::Network => self.deliver_in_network_order(out),
        }
    }

    /// The message segment starting at the Begin fragment `seq`: its last
    /// buffered fragment and whether that fragment is an End.
    fn segment_end(&mut self, seq: u64) -> (u64, bool) {
        // Fragments are never replaced, and a run's fragments leave the
        // buffer only with its Begin; so while `seq` and the run's last
        // fragment are buffered, the run between them is unchanged.
        let mut last = match self.scanned {
            Some((begin, last)) if begin == seq && self.buffer.contains_key(&last) => last,
            _ => seq,
        };
        let mut complete = false;
        for (&s, f) in self.buffer.range(last + 1..) {
            if s != last + 1 {
                break;
            }
            match f.fra {
                FragmentControl::Middle => last = s,
                FragmentControl::End => {
                    last = s;
                    complete = true;
                    break;
                }
                FragmentControl::Begin | FragmentControl::Whole => break,
            }
        }
        self.scanned = (!complete).then_some((seq, last));
        (last, complete)
    }

    fn take_message(&mut self, first: u64, last: u64) -> Vec<u8> {
        if first == last {
            // One fragment: its bytes are the message, no copy.
            return self.remove(first).map(|f| f.data).unwrap_or_default();
        }
        let len = self
            .buffer
            .range(first..=last)
            .map(|(_, f)| f.data.len())
            .sum();
        let mut data = Vec::with_capacity(len);
        for s in first..=last {
            if let Some(fragment) = self.remove(s) {
                data.extend_from_slice(&fragment.data);
            }
        }
        data
    }

    fn deliver_in_sequence(&mut self, out: &mut Vec<Delivered>) {
        let csn = self.csn();
        if let Some(a) = &self.assembly {
            // The assembly is the earliest thing waiting.
            if a.complete {
                let a = self.assembly.take().expect("checked");
                self.buffered -= a.accounted;
                self.push_delivery(a.first, a.next - 1, a.data, out);
            } else if a.next - 1 < csn {
                // Incomplete, and the sender moved past its next fragment:
                // abandoned.
                let a = self.assembly.take().expect("checked");
                self.buffered -= a.accounted;
            } else {
                return; // still in progress
            }
        }
        while let Some((&seq, first)) = self.buffer.first_key_value() {
            if seq > csn {
                break;
            }
            match first.fra {
                FragmentControl::Whole => {
                    let data = self.take_message(seq, seq);
                    self.push_delivery(seq, seq, data, out);
                }
                FragmentControl::End | FragmentControl::Middle => {
                    // The rest of an abandoned segment.
                    self.remove(seq);
                }
                FragmentControl::Begin => {
                    let (last, complete) = self.segment_end(seq);
                    if complete {
                        let data = self.take_message(seq, last);
                        self.push_delivery(seq, last, data, out);
                    } else if last < csn {
                        // Incomplete and abandoned.
                        self.take_message(seq, last);
                    } else {
                        break; // still in progress
                    }
                }
            }
        }
        // Everything up to the CSN is now delivered or given up; anything
        // not delivered there was abandoned by the sender: a gap.
        if csn >= self.next_deliver && self.buffer.first_key_value().is_none_or(|(&s, _)| s > csn) {
            self.pending_gap = true;
            self.next_deliver = csn + 1;
        }
    }

    fn push_delivery(&mut self, first: u64, last: u64, data: Vec<u8>, out: &mut Vec<Delivered>) {
        let gap_before = self.pending_gap || first > self.next_deliver;
        self.pending_gap = false;
        self.next_deliver = last + 1;
        self.messages_delivered += 1;
        out.push(Delivered { data, gap_before });
    }

    fn deliver_in_network_order(&mut self, out: &mut Vec<Delivered>) {
        let csn = self.csn();
        let starts: Vec<(u64, FragmentControl)> =
            self.buffer.iter().map(|(&s, f)| (s, f.fra)).collect();
        for (seq, fra) in starts {
            if !self.buffer.contains_key(&seq) {
                continue;
            }
            match fra {
                FragmentControl::Whole => {
                    let data = self.take_message(seq, seq);
                    self.messages_delivered += 1;
                    out.push(Delivered {
                        data,
                        gap_before: false,
                    });
                }
                FragmentControl::Begin => {
                    let (last, complete) = self.segment_end(seq);
                    if complete {
                        let data = self.take_message(seq, last);
                        self.messages_delivered += 1;
                        out.push(Delivered {
                            data,
                            gap_before: false,
                        });
                    } else if last < csn {
                        self.take_message(seq, last);
                    }
                }
                FragmentControl::Middle | FragmentControl::End => {
                    // An orphan whose Begin is gone and at or below the CSN
                    // will never complete.
                    if seq <= csn && !self.buffer.contains_key(&(seq - 1)) {
                        self.remove(seq);
                    }
                }
            }
        }
    }

    /// Whether every message has been delivered and the flow is complete:
    /// report "finished" once (§3.6.3.3 last paragraph).
    pub fn take_finished(&mut self) -> bool {
        if self.finished_reported || !self.accepted {
            return false;
        }
        let done = matches!(self.state, RecvState::CompleteLinger { .. })
            && self.holds_nothing()
            && self.final_sn.is_some_and(|f| self.csn() >= f);
        if done {
            self.finished_reported = true;
        }
        done
    }

    /// The window to advertise, in 1024-byte blocks (§3.6.3.5).
    pub fn advertised_blocks(&self) -> u64 {
        let bytes = self.capacity.saturating_sub(self.buffered);
        let mut blocks = bytes.div_ceil(1024) as u64;
        let not_delivering = self.suspended || !self.accepted;
        if blocks == 0 && self.capacity > 0 && !not_delivering {
            blocks = 1;
        }
        blocks
    }

    /// Appends this flow's acknowledgement, preceded by a Flow Exception
    /// Report if rejected (§3.6.3.4.3), if it fits in `max_len` bytes.
    /// The first ack of a packet may be truncated to fit (§3.6.3.4.2).
    pub fn write_ack(&mut self, max_len: usize, may_truncate: bool, out: &mut Vec<u8>) -> bool {
        let mark = out.len();
        let mut budget = max_len;
        if self.state == RecvState::Rejected {
            let exception = Chunk::FlowException(FlowException {
                flow_id: self.id,
                exception: self.exception_code,
            });
            if exception.encode(out).is_err() || out.len() - mark > budget {
                out.truncate(mark);
                return false;
            }
            budget -= out.len() - mark;
        }
        let blocks = self.advertised_blocks();
        let cumulative_ack = self.csn();
        let ranges: Vec<(u64, u64)> = self
            .sequence
            .ranges()
            .iter()
            .copied()
            .filter(|&(from, _)| from > cumulative_ack + 1)
            .collect();
        let info = AckInfo {
            flow_id: self.id,
            buffer_blocks_available: blocks,
            cumulative_ack,
            ranges: &ranges,
        };
        let before = out.len();
        if write_ack(&info, budget, out).is_none() {
            out.truncate(mark);
            return false;
        }
        if !may_truncate {
            // A piggybacked ack must be whole; re-check it carried every range.
            let full = crate::wire::ack::encoded_len(&info);
            if out.len() - before < full {
                out.truncate(mark);
                return false;
            }
        }
        self.should_ack = false;
        self.prev_rwnd = Some(blocks);
        true
    }

    /// Whether no fragment waits for delivery.
    fn holds_nothing(&self) -> bool {
        self.buffer.is_empty() && self.assembly.is_none()
    }

    /// Whether the flow has lingered long enough to be forgotten.
    pub fn is_finished(&self, now: Instant) -> bool {
        match self.state {
            RecvState::CompleteLinger { since } => {
                now.saturating_duration_since(since) >= COMPLETE_LINGER
                    && (self.holds_nothing() || !self.accepted)
            }
            RecvState::Closed => true,
            _ => false,
        }
    }

    /// Bytes held in the receive buffer.
    pub fn buffered(&self) -> usize {
        self.buffered
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fragment(seq: u64, fsn: u64, fra: FragmentControl, data: &[u8]) -> Incoming<'_> {
        Incoming {
            seq,
            fsn,
            fra,
            abandon: false,
            fin: false,
            data,
        }
    }

    fn open_flow() -> RecvFlow {
        let mut flow = RecvFlow::new(1, Vec::new(), None, 1 << 20);
        flow.accept(DeliveryOrder::Sequence);
        flow
    }

    /// A message of many fragments arriving out of order, with one held
    /// back: the scan that resumes where the last one stopped must not
    /// deliver early, skip a fragment, or miss the End.
    #[test]
    fn a_long_message_assembles_whatever_the_arrival_order() {
        let t = Instant::now();
        let mut flow = open_flow();
        let n = 200u64;
        let bytes = |s: u64| vec![s as u8; 3];
        let fra = |s: u64| match s {
            1 => FragmentControl::Begin,
            s if s == n => FragmentControl::End,
            _ => FragmentControl::Middle,
        };
        // 1, 3, 2, 5, 4, ... with 100 held back until the end.
        let mut order: Vec<u64> = (1..=n).filter(|&s| s != 100).collect();
        for pair in order.chunks_mut(2) {
            pair.reverse();
        }
        order.push(100);
        let mut out = Vec::new();
        let mut fsn = 0;
        for (k, &s) in order.iter().enumerate() {
            let data = bytes(s);
            flow.receive(t, fragment(s, fsn, fra(s), &data));
            if s == 1 {
                fsn = 0;
            }
            flow.deliver(&mut out);
            if k + 1 < order.len() {
                assert!(out.is_empty(), "delivered before fragment 100 arrived");
            }
        }
        assert_eq!(out.len(), 1);
        let want: Vec<u8> = (1..=n).flat_map(bytes).collect();
        assert_eq!(out[0].data, want);
        assert!(!out[0].gap_before);
        // The next message, one fragment, comes out as it is.
        flow.receive(t, fragment(n + 1, n, FragmentControl::Whole, b"next"));
        flow.deliver(&mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].data, b"next");
    }

    /// Messages arriving in order are assembled as they come; what comes
    /// after an assembled message waits in the buffer until delivery, and
    /// everything is delivered in order with the receive window given
    /// back.
    #[test]
    fn in_order_messages_assemble_and_what_follows_waits_its_turn() {
        let t = Instant::now();
        let mut flow = open_flow();
        let mut out = Vec::new();
        let parts: [(FragmentControl, &[u8]); 6] = [
            (FragmentControl::Begin, b"ab"),
            (FragmentControl::Middle, b"cd"),
            (FragmentControl::End, b"ef"),
            (FragmentControl::Whole, b"one"),
            (FragmentControl::Begin, b"x"),
            (FragmentControl::End, b"y"),
        ];
        for (i, (fra, data)) in parts.iter().enumerate() {
            flow.receive(t, fragment(i as u64 + 1, 0, *fra, data));
        }
        assert!(flow.buffered() > 0);
        flow.deliver(&mut out);
        let got: Vec<&[u8]> = out.iter().map(|d| d.data.as_slice()).collect();
        assert_eq!(got, [&b"abcdef"[..], b"one", b"xy"]);
        assert!(out.iter().all(|d| !d.gap_before));
        assert_eq!(flow.buffered(), 0, "the window is given back");
        assert!(flow.holds_nothing());
    }

    /// A message whose Begin was seen (and scanned) but that the sender
    /// abandoned: the next message after it still assembles from its own
    /// Begin, and the gap is reported.
    #[test]
    fn an_abandoned_message_does_not_mislead_the_next_scan() {
        let t = Instant::now();
        let mut flow = open_flow();
        let mut out = Vec::new();
        flow.receive(t, fragment(1, 0, FragmentControl::Begin, b"a"));
        flow.receive(t, fragment(2, 0, FragmentControl::Middle, b"b"));
        flow.deliver(&mut out);
        assert!(out.is_empty());
        // The sender gave up on 1..=3 (its End never comes): FSN 3.
        flow.receive(t, fragment(5, 3, FragmentControl::Middle, b"y"));
        flow.receive(t, fragment(4, 3, FragmentControl::Begin, b"x"));
        flow.deliver(&mut out);
        assert!(out.is_empty(), "4..=5 has no End yet");
        flow.receive(t, fragment(6, 3, FragmentControl::End, b"z"));
        flow.deliver(&mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].data, b"xyz");
        assert!(out[0].gap_before);
    }
}
