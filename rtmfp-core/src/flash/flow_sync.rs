//! Flow Synchronization barriers on receipt (RFC 7425 §5.2).
//!
//! RTMFP flows are independent, but some RTMP semantics need an order
//! across them: a Stream EOF must not be processed before the media of
//! its stream that other flows carry.  A sender marks such a point with a
//! Flow Synchronization message (User Control event 34, `syncID`,
//! `count`) on each of `count` flows.  On receipt of one, a receiver
//! SHOULD suspend further messages on that flow until `count` of them,
//! this one included, with the same `syncID`, have arrived on flows of
//! the same flow association tree.
//!
//! [`FlowSync`] does that for the messages a Flash layer receives.  Every
//! message (and the end of each flow) goes through [`FlowSync::receive`],
//! which hands back, in order, what may be processed now; what a
//! suspended flow receives waits in its own queue.  The scope of a barrier
//! is a session: every flow of a Flash session belongs to the tree of its
//! NetConnection control flow (§5.3, §5.4).
//!
//! The RFC sets no bound on the wait.  So that a far end that never
//! completes a barrier (a lost flow, a wrong `count`, or hostility) cannot
//! stall its flows or fill memory, a barrier is let go, and its flows
//! resume, after [`BARRIER_TIMEOUT`], when its session holds more than
//! [`MAX_HELD_BYTES`], or when it would span more flows than
//! [`MAX_BARRIER_FLOWS`].  Letting go only loses the cross-flow order: no
//! message is dropped, and each flow's own order is kept.

use super::message::message_type;
use super::user_control::{event_type, UserControlEvent};
use crate::endpoint::{Endpoint, SessionHandle};
use crate::flow::FlowId;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// How long a barrier may wait for its last Flow Synchronization message
/// before its flows resume anyway.
pub const BARRIER_TIMEOUT: Duration = Duration::from_secs(3);

/// The most bytes of held messages a session may have; beyond it, its
/// barriers are let go.
pub const MAX_HELD_BYTES: usize = 4 << 20;

/// The most flows one barrier waits for; a larger `count` is let go at
/// once, as no Flash session has that many flows in one tree.
pub const MAX_BARRIER_FLOWS: u32 = 1024;

/// What a flow received, in the order it must be processed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// A message.
    Message(Vec<u8>),
    /// The flow ended (its `FlowFinished`).
    Finished,
}

/// Counters of what the barriers did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowSyncStats {
    /// Barriers that every one of their flows reached.
    pub completed: u64,
    /// Barriers let go at [`BARRIER_TIMEOUT`], at [`MAX_HELD_BYTES`], or
    /// for a `count` over [`MAX_BARRIER_FLOWS`].
    pub let_go: u64,
    /// Messages that waited behind a barrier.
    pub held: u64,
}

/// A barrier some of whose flows have reached it.
#[derive(Debug)]
struct Barrier {
    count: u32,
    flows: Vec<FlowId>,
    deadline: Instant,
}

/// A suspended flow: the barrier it reached, and what it received since.
#[derive(Debug)]
struct Suspended {
    sync_id: u32,
    queue: VecDeque<Received>,
}

/// The barriers of one session.
#[derive(Debug, Default)]
struct SessionBarriers {
    barriers: HashMap<u32, Barrier>,
    suspended: HashMap<FlowId, Suspended>,
    held_bytes: usize,
}

/// The Flow Synchronization barriers of every session of a Flash layer.
#[derive(Debug, Default)]
pub struct FlowSync {
    sessions: HashMap<SessionHandle, SessionBarriers>,
    stats: FlowSyncStats,
    /// The buffer [`Synced`] hands what is released in, kept for its
    /// allocation.
    spare: Vec<(FlowId, Received)>,
}

/// A Flash layer (the client, the rendezvous server) whose flows'
/// messages and ends go through its [`FlowSync`]: it says where that is
/// and how it processes one item; the provided methods do the rest.
pub(crate) trait Synced {
    /// The layer's barriers.
    fn flow_sync(&mut self) -> &mut FlowSync;

    /// Processes one message or flow end of `flow` of `session`.
    fn process(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        session: SessionHandle,
        flow: FlowId,
        item: Received,
    );

    /// Takes what `flow` of `session` received, through the barriers.
    fn receive(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        session: SessionHandle,
        flow: FlowId,
        item: Received,
    ) {
        let sync = self.flow_sync();
        let mut released = std::mem::take(&mut sync.spare);
        sync.receive(now, session, flow, item, &mut released);
        self.process_released(ep, now, session, released);
    }

    /// Before a new flow `flow` is taken: what a barrier holds of an old
    /// flow with its ID goes first ([`FlowSync::flow_opened`]).
    fn before_flow_opened(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        session: SessionHandle,
        flow: FlowId,
    ) {
        let sync = self.flow_sync();
        let mut released = std::mem::take(&mut sync.spare);
        sync.flow_opened(now, session, flow, &mut released);
        self.process_released(ep, now, session, released);
    }

    /// Lets go the barriers whose time is up, and processes what they
    /// held.
    fn expire_barriers(&mut self, ep: &mut Endpoint, now: Instant) {
        let sync = self.flow_sync();
        if sync.next_deadline().is_none_or(|d| d > now) {
            return;
        }
        let mut late = Vec::new();
        sync.expire(now, &mut late);
        for (session, flow, item) in late {
            self.process(ep, now, session, flow, item);
        }
    }

    /// Processes, in order, what the barriers let through for `session`.
    fn process_released(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        session: SessionHandle,
        mut released: Vec<(FlowId, Received)>,
    ) {
        for (flow, item) in released.drain(..) {
            self.process(ep, now, session, flow, item);
        }
        self.flow_sync().spare = released;
    }
}

/// The barrier of a Flow Synchronization message, if `data` is one that
/// suspends its flow (`count` of 2 or more; a `count` of 1 is complete as
/// it arrives).
fn barrier_of(data: &[u8]) -> Option<(u32, u32)> {
    // Type 4, a 4-byte timestamp, then event type 34 (§5.2).
    if data.len() < 7
        || data[0] != message_type::USER_CONTROL
        || data[5..7] != event_type::FLOW_SYNC.to_be_bytes()
    {
        return None;
    }
    match UserControlEvent::parse(&data[5..]) {
        Ok(UserControlEvent::FlowSync { sync_id, count }) if count >= 2 => Some((sync_id, count)),
        _ => None,
    }
}

fn size(item: &Received) -> usize {
    match item {
        Received::Message(data) => data.len(),
        Received::Finished => 0,
    }
}

impl FlowSync {
    /// Takes what `flow` of `session` received and appends to `out`, in
    /// the order to process them, every `(flow, item)` that may be
    /// processed now: `item` itself unless its flow is suspended, and
    /// whatever a barrier it completes releases.  A Flow Synchronization
    /// message is handed on too, before its flow is suspended.
    pub fn receive(
        &mut self,
        now: Instant,
        session: SessionHandle,
        flow: FlowId,
        item: Received,
        out: &mut Vec<(FlowId, Received)>,
    ) {
        let is_sync = matches!(&item, Received::Message(data) if barrier_of(data).is_some());
        let s = match self.sessions.get_mut(&session) {
            Some(s) => s,
            // The common case: nothing waits in this session.
            None if !is_sync => return out.push((flow, item)),
            None => self.sessions.entry(session).or_default(),
        };
        let mut work = VecDeque::from([(flow, item)]);
        s.run(now, &mut work, out, &mut self.stats);
        if s.held_bytes > MAX_HELD_BYTES {
            s.let_go_all(&mut work, &mut self.stats);
            s.run(now, &mut work, out, &mut self.stats);
        }
        if s.is_empty() {
            self.sessions.remove(&session);
        }
    }

    /// Before a new flow `flow` of `session` is taken: if the far end
    /// reused the ID of a flow that still waits at a barrier, that barrier
    /// is let go first, and what it held is appended to `out`, so that the
    /// old flow's messages and end come before the new flow.
    pub fn flow_opened(
        &mut self,
        now: Instant,
        session: SessionHandle,
        flow: FlowId,
        out: &mut Vec<(FlowId, Received)>,
    ) {
        let Some(s) = self.sessions.get_mut(&session) else {
            return;
        };
        let Some(sync_id) = s.suspended.get(&flow).map(|w| w.sync_id) else {
            return;
        };
        let mut work = VecDeque::new();
        s.let_go(sync_id, &mut work, &mut self.stats);
        s.run(now, &mut work, out, &mut self.stats);
        if s.is_empty() {
            self.sessions.remove(&session);
        }
    }

    /// Lets go the barriers whose time is up; appends what their flows
    /// held to `out`, as [`FlowSync::receive`] does, with each item's
    /// session.
    pub fn expire(&mut self, now: Instant, out: &mut Vec<(SessionHandle, FlowId, Received)>) {
        let mut released = Vec::new();
        self.sessions.retain(|&session, s| {
            let expired: Vec<u32> = s
                .barriers
                .iter()
                .filter(|(_, b)| b.deadline <= now)
                .map(|(&id, _)| id)
                .collect();
            let mut work = VecDeque::new();
            for id in expired {
                s.let_go(id, &mut work, &mut self.stats);
            }
            s.run(now, &mut work, &mut released, &mut self.stats);
            out.extend(released.drain(..).map(|(f, item)| (session, f, item)));
            !s.is_empty()
        });
    }

    /// When the next barrier times out.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.sessions
            .values()
            .flat_map(|s| s.barriers.values().map(|b| b.deadline))
            .min()
    }

    /// Forgets a session that closed, and what its flows held.
    pub fn forget(&mut self, session: SessionHandle) {
        self.sessions.remove(&session);
    }

    /// Whether `flow` of `session` is suspended at a barrier.
    pub fn is_suspended(&self, session: SessionHandle, flow: FlowId) -> bool {
        self.sessions
            .get(&session)
            .is_some_and(|s| s.suspended.contains_key(&flow))
    }

    /// What the barriers did so far.
    pub fn stats(&self) -> FlowSyncStats {
        self.stats
    }
}

impl SessionBarriers {
    fn is_empty(&self) -> bool {
        self.barriers.is_empty() && self.suspended.is_empty()
    }

    /// Passes each item of `work` on to `out` or to its flow's queue, in
    /// order; barriers that complete put what they release back in
    /// `work`.
    fn run(
        &mut self,
        now: Instant,
        work: &mut VecDeque<(FlowId, Received)>,
        out: &mut Vec<(FlowId, Received)>,
        stats: &mut FlowSyncStats,
    ) {
        while let Some((flow, item)) = work.pop_front() {
            if let Some(s) = self.suspended.get_mut(&flow) {
                self.held_bytes += size(&item);
                stats.held += 1;
                s.queue.push_back(item);
                continue;
            }
            if let Some(released) = self.pass(now, flow, item, out, stats) {
                work.extend(released);
            }
        }
    }

    /// Passes one item of a flow that is not suspended.  Returns what a
    /// barrier it completes releases.
    fn pass(
        &mut self,
        now: Instant,
        flow: FlowId,
        item: Received,
        out: &mut Vec<(FlowId, Received)>,
        stats: &mut FlowSyncStats,
    ) -> Option<VecDeque<(FlowId, Received)>> {
        let sync = match &item {
            Received::Message(data) => barrier_of(data),
            Received::Finished => None,
        };
        out.push((flow, item));
        let (sync_id, count) = sync?;
        if count > MAX_BARRIER_FLOWS {
            stats.let_go += 1;
            return None;
        }
        let barrier = self.barriers.entry(sync_id).or_insert_with(|| Barrier {
            count,
            flows: Vec::new(),
            deadline: now + BARRIER_TIMEOUT,
        });
        barrier.flows.push(flow);
        if barrier.flows.len() < barrier.count as usize {
            self.suspended.insert(
                flow,
                Suspended {
                    sync_id,
                    queue: VecDeque::new(),
                },
            );
            return None;
        }
        stats.completed += 1;
        let mut released = VecDeque::new();
        self.release(sync_id, &mut released);
        Some(released)
    }

    /// Ends barrier `sync_id`: its flows resume, and what they held goes
    /// to `released`, each flow's in order.
    fn release(&mut self, sync_id: u32, released: &mut VecDeque<(FlowId, Received)>) {
        let Some(barrier) = self.barriers.remove(&sync_id) else {
            return;
        };
        for flow in barrier.flows {
            if self
                .suspended
                .get(&flow)
                .is_some_and(|s| s.sync_id == sync_id)
            {
                let s = self.suspended.remove(&flow).expect("just seen");
                for item in s.queue {
                    self.held_bytes -= size(&item);
                    released.push_back((flow, item));
                }
            }
        }
    }

    fn let_go(
        &mut self,
        sync_id: u32,
        work: &mut VecDeque<(FlowId, Received)>,
        stats: &mut FlowSyncStats,
    ) {
        if self.barriers.contains_key(&sync_id) {
            stats.let_go += 1;
            self.release(sync_id, work);
        }
    }

    fn let_go_all(&mut self, work: &mut VecDeque<(FlowId, Received)>, stats: &mut FlowSyncStats) {
        let ids: Vec<u32> = self.barriers.keys().copied().collect();
        for id in ids {
            self.let_go(id, work, stats);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flash::message::Message;

    const S: SessionHandle = SessionHandle(1);
    const F1: FlowId = 1;
    const F2: FlowId = 2;

    fn media(n: u32) -> Received {
        Received::Message(
            Message::new(message_type::AUDIO, n, vec![n as u8])
                .to_bytes()
                .unwrap(),
        )
    }

    fn sync(sync_id: u32, count: u32) -> Received {
        let m = UserControlEvent::FlowSync { sync_id, count }.to_message(0);
        Received::Message(m.to_bytes().unwrap())
    }

    /// The timestamps of the media messages in `out`, in order.
    fn order(out: &[(FlowId, Received)]) -> Vec<u32> {
        out.iter()
            .filter_map(|(_, r)| match r {
                Received::Message(d) => {
                    let m = Message::parse(d).unwrap();
                    (m.message_type == message_type::AUDIO).then_some(m.timestamp)
                }
                Received::Finished => None,
            })
            .collect()
    }

    /// RFC 7425 §5.2, Figure 2, in every interleaving of the two flows'
    /// arrivals: M5 comes after M1..M4 and before M6 and M7.
    #[test]
    fn figure_2_in_every_interleaving() {
        let f1 = [
            media(1),
            media(2),
            media(4),
            sync(8, 2),
            sync(13, 2),
            media(7),
        ];
        let f2 = [media(3), sync(8, 2), media(5), sync(13, 2), media(6)];
        let n = f1.len() + f2.len();
        let now = Instant::now();
        let mut seen = 0;
        // Each bitmask with f1.len() ones is one interleaving.
        for mask in 0u32..(1 << n) {
            if mask.count_ones() as usize != f1.len() {
                continue;
            }
            seen += 1;
            let mut fs = FlowSync::default();
            let mut out = Vec::new();
            let (mut i, mut j) = (0, 0);
            for bit in 0..n {
                if mask & (1 << bit) != 0 {
                    fs.receive(now, S, F1, f1[i].clone(), &mut out);
                    i += 1;
                } else {
                    fs.receive(now, S, F2, f2[j].clone(), &mut out);
                    j += 1;
                }
            }
            let got = order(&out);
            let at = |m| got.iter().position(|&x| x == m).unwrap();
            assert_eq!(got.len(), 7, "every message, once: {got:?}");
            for before in [1, 2, 3, 4] {
                assert!(at(before) < at(5), "M{before} before M5: {got:?}");
            }
            assert!(at(5) < at(6) && at(5) < at(7), "M5 before M6, M7: {got:?}");
            assert!(at(1) < at(2) && at(2) < at(4), "F1's own order: {got:?}");
            assert!(fs.sessions.is_empty(), "nothing left waiting");
            assert_eq!(fs.stats().completed, 2);
        }
        assert_eq!(seen, 462, "11 choose 6");
    }

    #[test]
    fn a_barrier_of_count_1_or_0_suspends_nothing() {
        let now = Instant::now();
        let mut fs = FlowSync::default();
        let mut out = Vec::new();
        for (count, id) in [(1, 5), (0, 6)] {
            let mut m = sync(id, 1);
            if let Received::Message(d) = &mut m {
                let len = d.len();
                d[len - 4..].copy_from_slice(&u32::to_be_bytes(count));
            }
            fs.receive(now, S, F1, m, &mut out);
            fs.receive(now, S, F1, media(id), &mut out);
        }
        assert_eq!(order(&out), [5, 6]);
        assert!(!fs.is_suspended(S, F1));
        assert!(fs.sessions.is_empty());
    }

    #[test]
    fn a_barrier_never_completed_lets_its_flow_go_at_the_timeout() {
        let t0 = Instant::now();
        let mut fs = FlowSync::default();
        let mut out = Vec::new();
        fs.receive(t0, S, F1, sync(9, 2), &mut out);
        fs.receive(t0, S, F1, media(1), &mut out);
        fs.receive(t0, S, F1, Received::Finished, &mut out);
        assert!(fs.is_suspended(S, F1));
        assert_eq!(order(&out), Vec::<u32>::new());
        assert_eq!(fs.next_deadline(), Some(t0 + BARRIER_TIMEOUT));
        let mut late = Vec::new();
        fs.expire(t0 + BARRIER_TIMEOUT / 2, &mut late);
        assert!(late.is_empty());
        fs.expire(t0 + BARRIER_TIMEOUT, &mut late);
        assert_eq!(
            late.iter().map(|(s, f, _)| (*s, *f)).collect::<Vec<_>>(),
            [(S, F1), (S, F1)]
        );
        assert_eq!(late[1].2, Received::Finished, "the end after the message");
        assert_eq!(fs.next_deadline(), None);
        assert_eq!(fs.stats().let_go, 1);
        assert!(fs.sessions.is_empty());
    }

    #[test]
    fn other_sessions_and_flows_are_not_held() {
        let now = Instant::now();
        let mut fs = FlowSync::default();
        let mut out = Vec::new();
        fs.receive(now, S, F1, sync(1, 2), &mut out);
        fs.receive(now, S, F2, media(2), &mut out);
        fs.receive(now, SessionHandle(2), F1, media(3), &mut out);
        fs.receive(now, SessionHandle(2), F1, sync(1, 2), &mut out);
        // Session 2's barrier 1 is its own: S's F1 stays suspended.
        fs.receive(now, S, F1, media(4), &mut out);
        assert_eq!(order(&out), [2, 3]);
        fs.forget(SessionHandle(2));
        fs.receive(now, S, F2, sync(1, 2), &mut out);
        assert_eq!(order(&out), [2, 3, 4]);
    }

    #[test]
    fn held_bytes_over_the_limit_let_the_barriers_go() {
        let now = Instant::now();
        let mut fs = FlowSync::default();
        let mut out = Vec::new();
        fs.receive(now, S, F1, sync(1, 2), &mut out);
        let big = Received::Message(vec![message_type::AUDIO, 0, 0, 0, 0, 0]);
        let each = 1 << 16;
        let mut sent = 0;
        while sent <= MAX_HELD_BYTES {
            let mut m = big.clone();
            if let Received::Message(d) = &mut m {
                d.resize(each, 0);
            }
            fs.receive(now, S, F1, m, &mut out);
            sent += each;
        }
        assert!(!fs.is_suspended(S, F1));
        assert_eq!(out.len(), 1 + sent / each, "the sync, then every message");
        assert_eq!(fs.stats().let_go, 1);
        assert!(fs.sessions.is_empty());
    }

    #[test]
    fn a_reused_flow_id_lets_the_old_flows_barrier_go_first() {
        let now = Instant::now();
        let mut fs = FlowSync::default();
        let mut out = Vec::new();
        fs.receive(now, S, F1, sync(1, 2), &mut out);
        fs.receive(now, S, F1, media(1), &mut out);
        fs.receive(now, S, F1, Received::Finished, &mut out);
        out.clear();
        fs.flow_opened(now, S, F2, &mut out);
        assert!(
            out.is_empty() && fs.is_suspended(S, F1),
            "another flow: no change"
        );
        fs.flow_opened(now, S, F1, &mut out);
        assert_eq!(order(&out), [1]);
        assert_eq!(out[1], (F1, Received::Finished));
        assert!(fs.sessions.is_empty());
    }

    #[test]
    fn a_count_beyond_any_session_suspends_nothing() {
        let now = Instant::now();
        let mut fs = FlowSync::default();
        let mut out = Vec::new();
        fs.receive(now, S, F1, sync(1, MAX_BARRIER_FLOWS + 1), &mut out);
        fs.receive(now, S, F1, media(1), &mut out);
        assert_eq!(order(&out), [1]);
        assert_eq!(fs.stats().let_go, 1);
    }

    /// Random traffic on four flows of two sessions: media, syncs with
    /// random IDs and counts (some never completed), flow ends, reused
    /// flow IDs, time passing and sessions closing.  Whatever comes,
    /// every item comes out exactly once (unless its session closed),
    /// each flow's items in the order they went in, and once every
    /// barrier has timed out nothing is left held.
    #[test]
    fn random_traffic_loses_nothing_and_keeps_each_flows_order() {
        use rand::{rngs::StdRng, Rng, SeedableRng};
        for seed in 0..300u64 {
            let mut rng = StdRng::seed_from_u64(seed);
            let t0 = Instant::now();
            let mut now = t0;
            let mut fs = FlowSync::default();
            let mut out = Vec::new();
            // (session, flow) -> serials sent and received, in order.
            let mut sent: HashMap<(u64, FlowId), Vec<u32>> = HashMap::new();
            let mut got: HashMap<(u64, FlowId), Vec<u32>> = HashMap::new();
            let mut serial = 0u32;
            let take = |session: u64,
                        out: &mut Vec<(FlowId, Received)>,
                        got: &mut HashMap<(u64, FlowId), Vec<u32>>| {
                for (flow, item) in out.drain(..) {
                    if let Received::Message(d) = item {
                        let m = Message::parse(&d).unwrap();
                        if m.message_type == message_type::AUDIO {
                            got.entry((session, flow)).or_default().push(m.timestamp);
                        }
                    }
                }
            };
            for _ in 0..400 {
                let session = rng.random_range(1..=2u64);
                let flow = rng.random_range(1..=4u64);
                match rng.random_range(0..100) {
                    0..60 => {
                        serial += 1;
                        sent.entry((session, flow)).or_default().push(serial);
                        let item = media(serial);
                        fs.receive(now, SessionHandle(session), flow, item, &mut out);
                    }
                    60..85 => {
                        let m = sync(rng.random_range(0..4), rng.random_range(1..=5));
                        fs.receive(now, SessionHandle(session), flow, m, &mut out);
                    }
                    85..90 => {
                        let end = Received::Finished;
                        fs.receive(now, SessionHandle(session), flow, end, &mut out);
                    }
                    90..94 => fs.flow_opened(now, SessionHandle(session), flow, &mut out),
                    94..99 => {
                        now += Duration::from_millis(rng.random_range(0..2000));
                        let mut late = Vec::new();
                        fs.expire(now, &mut late);
                        for (s, f, item) in late {
                            let mut one = vec![(f, item)];
                            take(s.0, &mut one, &mut got);
                        }
                    }
                    _ => {
                        fs.forget(SessionHandle(session));
                        for f in 1..=4 {
                            sent.remove(&(session, f));
                            got.remove(&(session, f));
                        }
                    }
                }
                take(session, &mut out, &mut got);
            }
            // A held sync that a barrier releases starts a barrier of its
            // own: time out each in turn.
            let mut rounds = 0;
            while let Some(deadline) = fs.next_deadline() {
                let mut late = Vec::new();
                fs.expire(deadline, &mut late);
                for (s, f, item) in late {
                    take(s.0, &mut vec![(f, item)], &mut got);
                }
                rounds += 1;
                assert!(rounds < 1000, "seed {seed}: barriers keep coming");
            }
            assert!(fs.sessions.is_empty(), "seed {seed}: nothing left held");
            for (key, serials) in &sent {
                let g = got.get(key).cloned().unwrap_or_default();
                // A closed session's flows start again from nothing.
                assert_eq!(&g, serials, "seed {seed} {key:?}: each once, in order");
            }
        }
    }

    #[test]
    fn malformed_syncs_are_ordinary_messages() {
        let now = Instant::now();
        let mut fs = FlowSync::default();
        let mut out = Vec::new();
        for bad in [
            vec![4, 0, 0, 0, 0, 0, 34],
            vec![4, 0, 0, 0, 0, 0, 34, 0, 0, 0, 1],
            vec![4, 0, 0, 0, 0, 0, 34, 0, 0, 0, 1, 0, 0, 0],
            vec![4],
            vec![],
        ] {
            fs.receive(now, S, F1, Received::Message(bad), &mut out);
        }
        fs.receive(now, S, F1, media(1), &mut out);
        assert_eq!(out.len(), 6);
        assert!(fs.sessions.is_empty());
    }
}
