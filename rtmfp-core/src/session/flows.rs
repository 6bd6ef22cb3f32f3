//! A session's flows: scheduling, acknowledgement, loss recovery and
//! congestion control (RFC 7016 §3.5.2, §3.6, Appendix A).

use super::pacing::Pacer;
use crate::endpoint::{Event, SessionHandle};
use crate::flow::congestion::{Congestion, TcClock, TcContext, MAX_DATA_BURST};
use crate::flow::recv::{Incoming, RecvFlow};
use crate::flow::send::{FlowNotice, SendError, SendFlow, SendState};
use crate::flow::{DeliveryOrder, FlowId, FlowLimits, MessageId, MessageOptions, Priority};
use crate::wire::chunk::{BitmapAck, RangeAck, OPTION_RETURN_ASSOCIATION, OPTION_USER_METADATA};
use crate::wire::option::OptionList;
use crate::wire::packet::CHUNK_HEADER_LEN;
use crate::wire::{Chunk, PacketBuilder};
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// Delayed acknowledgement limit (§3.6.3.4.4).
const DELACK: Duration = Duration::from_millis(200);
/// Room kept for the worst-case User Data header: type, length, flags and
/// three 10-byte VLUs.
const USER_DATA_OVERHEAD: usize = CHUNK_HEADER_LEN + 1 + 30;

/// Errors from flow operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowError {
    /// No such flow in this session.
    UnknownFlow,
    /// The flow is closing or closed.
    Closed,
    /// The send buffer is full; wait for [`Event::FlowWritable`].
    WouldBlock,
    /// Per-flow metadata over 512 bytes (§2.3.11.1.1).
    MetadataTooLarge,
}

/// Counters for session statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowStats {
    /// Congestion window, bytes.
    pub cwnd: usize,
    /// Slow start threshold, bytes (`usize::MAX` until the first loss).
    pub ssthresh: usize,
    /// Bytes in flight over all sending flows.
    pub bytes_in_flight: usize,
    /// Loss events seen by congestion control.
    pub loss_events: u64,
    /// Retransmission timeouts that found data in flight.
    pub timeouts: u64,
    /// Fragments retransmitted.
    pub retransmissions: u64,
    /// User data bytes sent (first transmissions and retransmissions).
    pub data_bytes_sent: u64,
    /// User data bytes delivered to the user.
    pub data_bytes_delivered: u64,
    /// New receiving flows dropped because the session already had
    /// [`FlowLimits::max_recv_flows`].
    pub flows_refused: u64,
}

/// Per-packet receive context (§3.6.3.2, App. A.2).
#[derive(Debug, Default)]
struct RxPacket {
    /// The flow, sequence number and FSN of the last User Data chunk, for
    /// Next User Data (§2.3.12).
    last_user_data: Option<(FlowId, u64, u64)>,
    any_user_data: bool,
    any_acks: bool,
    max_tsn: u64,
    /// In-flight bytes this packet's acks acknowledged.
    acked_bytes: usize,
}

/// All the flows of one session.
#[derive(Debug)]
pub struct Flows {
    // Boxed: a B-tree leaf holds room for 11 entries, so inline flows
    // cost 11 flows' worth of memory per session even with one (issue 14).
    send: BTreeMap<FlowId, Box<SendFlow>>,
    recv: BTreeMap<FlowId, Box<RecvFlow>>,
    next_send_id: FlowId,
    limits: FlowLimits,
    /// Congestion control state.
    pub cc: Congestion,
    next_tsn: u64,
    max_tsn_ack: u64,
    timeout_alarm: Option<Instant>,
    ack_now: bool,
    delack_alarm: Option<Instant>,
    rx_data_packets: u32,
    /// Data packets that may still go out before the next acknowledgement
    /// (burst avoidance, §3.5.2.3).
    burst_credit: u32,
    last_served: [Option<FlowId>; 8],
    /// `write_data`'s list of one priority level's flows, kept between
    /// packets so that listing them allocates nothing.
    level_scratch: Vec<FlowId>,
    rx: RxPacket,
    /// When user data last went out, for idle window decay.
    last_data_sent: Option<Instant>,
    /// Pacing of data packets.
    pacer: Pacer,
    /// TC sent on this session (§3.5.2.1).
    pub tc_sent: TcClock,
    /// TCR received on this session.
    pub tcr_received: TcClock,
    /// TC received on this session (for TCR on the others).
    pub tc_received: TcClock,
    stats: FlowStats,
}

impl Flows {
    /// No flows yet.
    pub fn new(limits: FlowLimits) -> Self {
        Flows {
            send: BTreeMap::new(),
            recv: BTreeMap::new(),
            next_send_id: 1,
            limits,
            cc: Congestion::new(),
            next_tsn: 1,
            max_tsn_ack: 0,
            timeout_alarm: None,
            ack_now: false,
            delack_alarm: None,
            rx_data_packets: 0,
            burst_credit: MAX_DATA_BURST,
            last_served: [None; 8],
            level_scratch: Vec::new(),
            rx: RxPacket::default(),
            last_data_sent: None,
            pacer: Pacer::default(),
            tc_sent: TcClock::default(),
            tcr_received: TcClock::default(),
            tc_received: TcClock::default(),
            stats: FlowStats::default(),
        }
    }

    /// S_OUTSTANDING_BYTES.
    pub fn outstanding(&self) -> usize {
        self.send.values().map(|f| f.outstanding()).sum()
    }

    /// Statistics snapshot.
    pub fn stats(&self) -> FlowStats {
        FlowStats {
            cwnd: self.cc.cwnd(),
            ssthresh: self.cc.ssthresh(),
            bytes_in_flight: self.outstanding(),
            loss_events: self.cc.loss_events,
            timeouts: self.cc.timeouts,
            retransmissions: self.send.values().map(|f| f.retransmissions).sum::<u64>()
                + self.stats.retransmissions,
            ..self.stats
        }
    }

    /// Opens a sending flow (§3.6.2.1).  `fragment_size` is the most user
    /// data one fragment may carry in this session's packets.
    pub fn open(
        &mut self,
        metadata: &[u8],
        priority: Priority,
        association: Option<FlowId>,
        max_plain: usize,
    ) -> Result<FlowId, FlowError> {
        if metadata.len() > 512 {
            return Err(FlowError::MetadataTooLarge);
        }
        let id = self.next_send_id;
        self.next_send_id += 1;
        // Startup options ride on the first chunk until acknowledged.
        let options_len = metadata.len() + 32;
        let fragment_size = max_plain
            .saturating_sub(5 + USER_DATA_OVERHEAD + options_len)
            .max(64);
        let flow = SendFlow::new(
            id,
            priority,
            metadata,
            association,
            self.limits.send_buffer,
            fragment_size,
        );
        self.send.insert(id, Box::new(flow));
        Ok(id)
    }

    /// Queues a message on a sending flow.
    pub fn send(
        &mut self,
        now: Instant,
        flow: FlowId,
        data: &[u8],
        options: MessageOptions,
    ) -> Result<MessageId, FlowError> {
        let f = self.send.get_mut(&flow).ok_or(FlowError::UnknownFlow)?;
        f.queue_message(now, data, options).map_err(|e| match e {
            SendError::Closed => FlowError::Closed,
            SendError::WouldBlock => FlowError::WouldBlock,
        })
    }

    /// Queues a message held in a shared buffer on `flow` (see
    /// [`SendFlow::queue_shared`](crate::flow::send::SendFlow::queue_shared)).
    pub fn send_shared(
        &mut self,
        now: Instant,
        flow: FlowId,
        data: bytes::Bytes,
        options: MessageOptions,
    ) -> Result<MessageId, FlowError> {
        let f = self.send.get_mut(&flow).ok_or(FlowError::UnknownFlow)?;
        f.queue_shared(now, data, options).map_err(|e| match e {
            SendError::Closed => FlowError::Closed,
            SendError::WouldBlock => FlowError::WouldBlock,
        })
    }

    /// Whether a sending flow accepts messages now.
    pub fn is_writable(&self, flow: FlowId) -> Option<bool> {
        self.send.get(&flow).map(|f| f.is_writable())
    }

    /// Abandons a queued message.
    pub fn abandon(&mut self, flow: FlowId, message: MessageId) -> Result<(), FlowError> {
        self.send
            .get_mut(&flow)
            .ok_or(FlowError::UnknownFlow)?
            .abandon_message(message);
        Ok(())
    }

    /// Closes a sending flow (§3.6.2.11).
    pub fn close(&mut self, now: Instant, flow: FlowId) -> Result<(), FlowError> {
        self.send
            .get_mut(&flow)
            .ok_or(FlowError::UnknownFlow)?
            .close(now);
        Ok(())
    }

    /// Accepts a receiving flow: delivery starts.
    pub fn accept(&mut self, flow: FlowId, order: DeliveryOrder) -> Result<(), FlowError> {
        let f = self.recv.get_mut(&flow).ok_or(FlowError::UnknownFlow)?;
        f.accept(order);
        f.should_ack = true;
        Ok(())
    }

    /// Rejects a receiving flow with an exception code (§3.6.3.7).
    pub fn reject(&mut self, flow: FlowId, code: u64) -> Result<(), FlowError> {
        let f = self.recv.get_mut(&flow).ok_or(FlowError::UnknownFlow)?;
        if f.reject(code) {
            self.ack_now = true;
        }
        Ok(())
    }

    /// Suspends or resumes delivery on a receiving flow.
    pub fn set_suspended(&mut self, flow: FlowId, suspended: bool) -> Result<(), FlowError> {
        let f = self.recv.get_mut(&flow).ok_or(FlowError::UnknownFlow)?;
        f.set_suspended(suspended);
        if !suspended {
            self.ack_now = true;
        }
        Ok(())
    }

    /// Before the chunks of a received packet.
    pub fn begin_packet(&mut self) {
        self.rx = RxPacket::default();
        self.cc.begin_packet(self.outstanding());
    }

    /// Handles a flow chunk; false if the chunk is not a flow chunk.
    pub fn handle_chunk(&mut self, now: Instant, chunk: &Chunk<'_>) -> bool {
        match *chunk {
            Chunk::UserData(ud) => {
                let fsn = ud.forward_sequence_number();
                self.rx.last_user_data = Some((ud.flow_id, ud.sequence_number, fsn));
                if !self.recv.get(&ud.flow_id).is_some_and(|f| f.is_active()) {
                    self.start_recv_flow(ud.flow_id, ud.options);
                } else if let Some(options) = ud.options {
                    if has_unknown_critical_option(options) {
                        if let Some(f) = self.recv.get_mut(&ud.flow_id) {
                            f.reject(0);
                        }
                    }
                }
                self.receive_fragment(
                    now,
                    ud.flow_id,
                    Incoming {
                        seq: ud.sequence_number,
                        fsn,
                        fra: ud.fragment,
                        abandon: ud.abandon,
                        fin: ud.fin,
                        data: ud.data,
                    },
                );
            }
            Chunk::NextUserData(nud) => {
                // §2.3.12: same flow, next sequence number, same FSN.
                let Some((flow, seq, fsn)) = self.rx.last_user_data else {
                    return true;
                };
                let seq = seq + 1;
                self.rx.last_user_data = Some((flow, seq, fsn));
                self.receive_fragment(
                    now,
                    flow,
                    Incoming {
                        seq,
                        fsn,
                        fra: nud.fragment,
                        abandon: nud.abandon,
                        fin: nud.fin,
                        data: nud.data,
                    },
                );
            }
            Chunk::BitmapAck(ack) => self.on_bitmap_ack(now, ack),
            Chunk::RangeAck(ack) => self.on_range_ack(now, ack),
            Chunk::BufferProbe(flow) => {
                // §3.6.3.6.
                if let Some(f) = self.recv.get_mut(&flow).filter(|f| f.is_active()) {
                    f.should_ack = true;
                    self.ack_now = true;
                }
            }
            Chunk::FlowException(e) => {
                if let Some(f) = self.send.get_mut(&e.flow_id) {
                    f.on_exception(now, e.exception);
                }
            }
            _ => return false,
        }
        true
    }

    fn start_recv_flow(&mut self, id: FlowId, options: Option<OptionList<'_>>) {
        if !self.recv.contains_key(&id) && self.recv.len() >= self.limits.max_recv_flows {
            // Bounded state: a peer cannot open flows without end.
            self.stats.flows_refused += 1;
            return;
        }
        // §3.6.3.1.
        let metadata = options.and_then(|o| o.find(OPTION_USER_METADATA));
        let association = options
            .and_then(|o| o.find(OPTION_RETURN_ASSOCIATION))
            .map(crate::wire::option::value_as_vlu);
        let mut flow = RecvFlow::new(
            id,
            metadata.unwrap_or_default().to_vec(),
            None,
            self.limits.receive_buffer,
        );
        let mut reject = metadata.is_none();
        match association {
            Some(Ok(sending)) => match self.send.get(&sending) {
                Some(s) if s.state == SendState::Open => flow.association = Some(sending),
                _ => reject = true,
            },
            Some(Err(_)) => reject = true,
            None => {}
        }
        if options.is_some_and(has_unknown_critical_option) {
            reject = true;
        }
        if reject {
            flow.reject(0);
        }
        self.recv.insert(id, Box::new(flow));
        self.ack_now = true;
    }

    fn receive_fragment(&mut self, now: Instant, flow: FlowId, fragment: Incoming<'_>) {
        self.rx.any_user_data = true;
        let Some(f) = self.recv.get_mut(&flow) else {
            return;
        };
        if f.receive(now, fragment) {
            self.ack_now = true;
        } else if self.delack_alarm.is_none() {
            self.delack_alarm = Some(now + DELACK);
        }
    }

    fn on_bitmap_ack(&mut self, now: Instant, ack: BitmapAck<'_>) {
        let mut ranges = vec![(0, ack.cumulative_ack)];
        for seq in ack.acknowledged() {
            match ranges.last_mut() {
                Some(last) if last.1 + 1 == seq => last.1 = seq,
                _ => ranges.push((seq, seq)),
            }
        }
        self.apply_ack(now, ack.flow_id, ack.buffer_blocks_available, &ranges);
    }

    fn on_range_ack(&mut self, now: Instant, ack: RangeAck<'_>) {
        let mut ranges = vec![(0, ack.cumulative_ack)];
        ranges.extend(ack.ranges.iter());
        self.apply_ack(now, ack.flow_id, ack.buffer_blocks_available, &ranges);
    }

    fn apply_ack(&mut self, now: Instant, flow: FlowId, blocks: u64, ranges: &[(u64, u64)]) {
        let Some(f) = self.send.get_mut(&flow) else {
            return;
        };
        let bytes = blocks.saturating_mul(1024);
        let (acked, max_tsn) = f.on_ack(now, bytes, ranges);
        self.rx.any_acks = true;
        self.rx.max_tsn = self.rx.max_tsn.max(max_tsn);
        self.rx.acked_bytes += acked;
        if acked > 0 {
            self.cc.on_ack(acked);
        }
    }

    /// After the chunks of a received packet: NAKs, congestion control,
    /// timers and delivery.  Events go to `events`.
    pub fn end_packet(
        &mut self,
        now: Instant,
        erto: Duration,
        tc: TcContext,
        handle: SessionHandle,
        events: &mut VecDeque<Event>,
    ) {
        if self.rx.any_acks {
            self.max_tsn_ack = self.max_tsn_ack.max(self.rx.max_tsn);
            for f in self.send.values_mut() {
                let (naks, losses, max_lost) = f.nak_pass(self.max_tsn_ack);
                for _ in 0..naks {
                    self.cc.on_nak();
                }
                if losses > 0 {
                    self.cc.on_loss(max_lost);
                }
            }
            self.cc.end_packet(tc, self.next_tsn - 1);
            // §3.5.2.3: at most six data packets between acknowledgements.
            // A receiver acks every second data packet (§3.6.3.4.1), but one
            // that reads a batch of packets sends one ack for all of them,
            // and a sender that reads a batch of acks sees them together.
            // Credit as if each pair of acknowledged packets had been
            // acked on its own: six packets per pair, at least six per
            // packet of acks, never more than the window's worth.
            self.burst_credit = if self.outstanding() == 0 {
                MAX_DATA_BURST
            } else {
                let acked_packets =
                    u32::try_from(self.rx.acked_bytes.div_ceil(1000)).unwrap_or(u32::MAX);
                let window_packets = u32::try_from(self.cc.cwnd() / 1000).unwrap_or(u32::MAX);
                self.burst_credit
                    .saturating_add(MAX_DATA_BURST.max(acked_packets.saturating_mul(3)))
                    .min(window_packets.saturating_add(MAX_DATA_BURST))
            };
            if self.timeout_alarm.is_some() {
                self.timeout_alarm = Some(now + erto);
            }
        }
        if self.rx.any_user_data {
            self.rx_data_packets += 1;
            if self.rx_data_packets >= 2 {
                self.ack_now = true;
            }
        }
        self.collect_events(now, handle, events);
    }

    /// Moves deliveries and notices into events.
    pub fn collect_events(
        &mut self,
        _now: Instant,
        handle: SessionHandle,
        events: &mut VecDeque<Event>,
    ) {
        let mut delivered = Vec::new();
        for f in self.recv.values_mut() {
            // A flow whose first packet carried all of it (message and
            // final fragment) is already complete: announce it too.
            if f.should_announce() {
                f.announced = true;
                events.push_back(Event::FlowOpened {
                    session: handle,
                    flow: f.id,
                    metadata: f.metadata.clone(),
                    association: f.association,
                });
            }
            delivered.clear();
            f.deliver(&mut delivered);
            for d in delivered.drain(..) {
                self.stats.data_bytes_delivered += d.data.len() as u64;
                events.push_back(Event::Message {
                    session: handle,
                    flow: f.id,
                    data: d.data,
                    gap_before: d.gap_before,
                });
                f.should_ack = true;
            }
            if f.take_finished() {
                events.push_back(Event::FlowFinished {
                    session: handle,
                    flow: f.id,
                });
            }
        }
        for f in self.send.values_mut() {
            for notice in f.take_notices() {
                let flow = f.id;
                events.push_back(match notice {
                    FlowNotice::Delivered(message) => Event::MessageDelivered {
                        session: handle,
                        flow,
                        message,
                    },
                    FlowNotice::Abandoned(message) => Event::MessageAbandoned {
                        session: handle,
                        flow,
                        message,
                    },
                    FlowNotice::Writable => Event::FlowWritable {
                        session: handle,
                        flow,
                    },
                    FlowNotice::Rejected(code) => Event::FlowRejected {
                        session: handle,
                        flow,
                        code,
                    },
                    FlowNotice::Complete => Event::FlowComplete {
                        session: handle,
                        flow,
                    },
                });
            }
        }
    }

    /// Timers: delayed ack, retransmission timeout, deadlines, probes,
    /// lingering flows.  Returns whether the RTO fired with loss (the
    /// caller backs ERTO off).
    pub fn handle_timeout(
        &mut self,
        now: Instant,
        handle: SessionHandle,
        events: &mut VecDeque<Event>,
    ) -> bool {
        if self.delack_alarm.is_some_and(|t| t <= now) {
            self.delack_alarm = None;
            self.ack_now = true;
        }
        self.pacer.on_timer(now);
        let mut was_loss = false;
        if self.timeout_alarm.is_some_and(|t| t <= now) {
            // §3.6.2.6.
            self.timeout_alarm = None;
            for f in self.send.values_mut() {
                was_loss |= f.on_timeout();
            }
            self.cc.on_timeout(was_loss);
            self.burst_credit = MAX_DATA_BURST;
        }
        for f in self.send.values_mut() {
            f.check_deadlines(now);
        }
        self.send.retain(|_, f| !f.is_finished(now));
        self.recv.retain(|_, f| !f.is_finished(now));
        self.collect_events(now, handle, events);
        was_loss
    }

    /// When [`Flows::handle_timeout`] next has work.
    pub fn next_timeout(&self) -> Option<Instant> {
        let send = self.send.values().filter_map(|f| f.next_deadline());
        [self.delack_alarm, self.timeout_alarm, self.pacer.next()]
            .into_iter()
            .flatten()
            .chain(send)
            .min()
    }

    /// Aborts every flow: the session left S_OPEN (§3.5.5).
    pub fn abort_all(&mut self, now: Instant, handle: SessionHandle, events: &mut VecDeque<Event>) {
        for f in self.send.values_mut() {
            f.on_exception(now, 0);
        }
        for f in self.recv.values_mut() {
            f.reject(0);
        }
        self.collect_events(now, handle, events);
        self.send.clear();
        self.recv.clear();
        self.ack_now = false;
        self.timeout_alarm = None;
        self.delack_alarm = None;
    }

    /// Whether acknowledgements must go out now.
    pub fn wants_ack(&self) -> bool {
        self.ack_now && self.recv.values().any(|f| f.should_ack && f.is_active())
    }

    /// Whether a data fragment or probe could go out now.
    pub fn can_send_data(&mut self, now: Instant, erto: Duration) -> bool {
        let _ = erto;
        let probes = self.send.values().any(|f| f.probe_due(now));
        probes
            || (self.data_budget_open(now)
                && self.send.values_mut().any(|f| {
                    f.fsn();
                    f.next_eligible().is_some()
                }))
    }

    /// The highest priority with a fragment or probe ready to go.
    pub fn ready_priority(&mut self, now: Instant, _erto: Duration) -> Option<Priority> {
        if self.send.values().any(|f| f.probe_due(now)) {
            return Some(Priority::FlashOverride);
        }
        if !self.data_budget_open(now) {
            return None;
        }
        self.send
            .values_mut()
            .filter_map(|f| {
                f.fsn();
                f.next_eligible().map(|_| f.priority)
            })
            .max()
    }

    fn data_budget_open(&self, now: Instant) -> bool {
        self.burst_credit > 0 && self.outstanding() < self.cc.cwnd() && self.pacer.allows(now)
    }

    /// Adds acknowledgements to a packet (§3.6.3.4.5-6).  The first may be
    /// truncated when `primary` (the packet is sent for the acks).
    pub fn write_acks(&mut self, builder: &mut PacketBuilder<'_>, primary: bool) {
        let mut first = primary;
        let ids: Vec<FlowId> = self
            .recv
            .iter()
            .filter(|(_, f)| f.should_ack && f.is_active())
            .map(|(&id, _)| id)
            .collect();
        for id in ids {
            let f = self.recv.get_mut(&id).expect("listed");
            let room = builder.remaining();
            let mut chunk = Vec::new();
            if !f.write_ack(room, first, &mut chunk) {
                break;
            }
            first = false;
            // The ack may hold a Flow Exception Report then the ack itself.
            let mut rest = chunk.as_slice();
            while rest.len() >= CHUNK_HEADER_LEN {
                let len = usize::from(u16::from_be_bytes([rest[1], rest[2]]));
                let (one, tail) = rest.split_at(CHUNK_HEADER_LEN + len);
                let _ = builder.push_raw(one[0], &one[CHUNK_HEADER_LEN..]);
                rest = tail;
            }
        }
        if !self.recv.values().any(|f| f.should_ack && f.is_active()) {
            self.ack_now = false;
            self.rx_data_packets = 0;
            self.delack_alarm = None;
        }
    }

    /// Adds Buffer Probes that are due.
    pub fn write_probes(&mut self, now: Instant, erto: Duration, builder: &mut PacketBuilder<'_>) {
        for f in self.send.values_mut() {
            if f.take_probe(now, erto) {
                let _ = builder.push(&Chunk::BufferProbe(f.id));
            }
        }
    }

    /// Fills a packet with user data by priority, round-robin within a
    /// level (§3.6.2.3).  Returns (any data written, any time critical).
    pub fn write_data(
        &mut self,
        now: Instant,
        erto: Duration,
        srtt: Option<Duration>,
        builder: &mut PacketBuilder<'_>,
    ) -> (bool, bool) {
        let mut wrote = false;
        let mut time_critical = false;
        let mut packet_bytes = 0usize;
        if !self.data_budget_open(now) {
            return (false, false);
        }
        // Idle decay: a window unused for whole ERTOs shrinks towards what
        // is in use (App. A leaves idle behaviour open; RFC 7661 spirit).
        if let Some(last) = self.last_data_sent {
            let idle = now.saturating_duration_since(last);
            if idle > erto {
                let periods = (idle.as_millis() / erto.as_millis().max(1)).min(8);
                for _ in 0..periods {
                    self.cc.on_idle(self.outstanding());
                }
            }
        }
        // The flows of one level, listed once per level into a buffer
        // that lives as long as the session (no allocation per packet).
        let mut ids = std::mem::take(&mut self.level_scratch);
        'levels: for level in Priority::ALL.iter().rev() {
            ids.clear();
            ids.extend(
                self.send
                    .iter()
                    .filter(|(_, f)| f.priority == *level)
                    .map(|(&id, _)| id),
            );
            if ids.is_empty() {
                continue;
            }
            // Start after the flow served last at this level.
            let start = self.last_served[level.level() as usize]
                .and_then(|last| ids.iter().position(|&id| id > last))
                .unwrap_or(0);
            for &id in ids[start..].iter().chain(&ids[..start]) {
                let mut previous: Option<u64> = None;
                loop {
                    if self.outstanding() >= self.cc.cwnd() {
                        break;
                    }
                    let f = self.send.get_mut(&id).expect("listed");
                    let fsn = f.fsn();
                    let Some((seq, _retransmit)) = f.next_eligible() else {
                        break;
                    };
                    let next = previous == Some(seq.wrapping_sub(1)) && previous.is_some();
                    let Some(chunk) = f.fragment_chunk(seq, fsn, next) else {
                        break;
                    };
                    // Encoded straight into the packet.
                    let before = builder.len();
                    if builder.push(&chunk).is_err() {
                        // The packet is full.
                        break 'levels;
                    }
                    let chunk_len = builder.len() - before;
                    packet_bytes += chunk_len;
                    let tsn = self.next_tsn;
                    self.next_tsn += 1;
                    f.mark_sent(seq, chunk_len, tsn);
                    self.stats.data_bytes_sent += (chunk_len - CHUNK_HEADER_LEN) as u64;
                    wrote = true;
                    time_critical |= f.priority.is_time_critical();
                    previous = Some(seq);
                    self.last_served[level.level() as usize] = Some(id);
                }
            }
        }
        self.level_scratch = ids;
        if wrote {
            self.burst_credit = self.burst_credit.saturating_sub(1);
            self.timeout_alarm = Some(now + erto);
            self.last_data_sent = Some(now);
            let slow_start = self.cc.cwnd() < self.cc.ssthresh();
            self.pacer
                .on_sent(now, packet_bytes, self.cc.cwnd(), slow_start, srtt);
        }
        (wrote, time_critical)
    }

    /// The receiving flow's metadata and association, if it exists.
    pub fn recv_flow(&self, flow: FlowId) -> Option<&RecvFlow> {
        self.recv.get(&flow).map(|f| &**f)
    }

    /// The sending flow, if it exists.
    pub fn send_flow(&self, flow: FlowId) -> Option<&SendFlow> {
        self.send.get(&flow).map(|f| &**f)
    }
}

/// Whether an option list has an unrecognised option below 8192, which
/// rejects the flow (§2.3.11.1).
fn has_unknown_critical_option(options: OptionList<'_>) -> bool {
    options.iter().any(|o| {
        o.option_type != OPTION_USER_METADATA
            && o.option_type != OPTION_RETURN_ASSOCIATION
            && o.option_type < 0x2000
    })
}
