//! Work in proportion to what is active: which sessions may have a
//! datagram to send, when each one's next timer fires, and which ones
//! changed since the endpoint last looked.
//!
//! The endpoint marks a session *touched* whenever it changes it (a
//! packet arrived, the application sent or closed, a timer ran, a datagram
//! went out).  [`Schedule::take_touched`] hands the touched ones back, and
//! the endpoint re-reads each one: its next timer goes into a min-queue
//! ([`Timers`]: a heap of the near deadlines, buckets for the far ones),
//! and it waits to be *ranked*.  An idle session costs nothing until its
//! timer fires.
//!
//! Ranking asks a session how urgently it wants to send (its send rank)
//! once per change, not once per datagram: the ready set is ordered by
//! rank, so the next sender is its first entry, whatever the number of
//! ready sessions.  A session's rank changes only when the session does
//! (and is touched) or when time makes something eligible (a pacing gap
//! or probe ends: a timer, which touches it too).  The endpoint checks the
//! chosen session's rank before it sends, so an entry left stale is
//! corrected, never trusted.
//!
//! The queue keeps at most one live entry per session: the earliest
//! deadline asked for.  A deadline that moves later is not pushed; the
//! earlier entry fires, finds nothing due and schedules the real one (one
//! spurious wakeup per session and keepalive period at most).  A deadline
//! that moves earlier pushes a new entry and leaves the old one stale;
//! stale entries are skipped when they surface, and the queue is rebuilt
//! when they outnumber the sessions.

use super::timers::Timers;
use std::cmp::Reverse;
use std::collections::BTreeSet;
use std::time::Instant;

/// A session's place in the schedule (kept in the session).
#[derive(Debug, Default, Clone, Copy)]
pub struct Slot {
    /// The deadline of its live heap entry, if any.
    scheduled: Option<Instant>,
    /// Waiting in the touched list.
    touched: bool,
    /// Waiting in the list of sessions to rank.
    unranked: bool,
    /// The rank it holds in the ready set, if it is there.
    ranked: Option<u8>,
}

/// Timers, readiness and changes of an endpoint's sessions, by session ID.
#[derive(Debug, Default)]
pub struct Schedule {
    timers: Timers,
    /// Sessions with something to send, highest rank first, then by ID.
    ready: BTreeSet<(Reverse<u8>, u32)>,
    touched: Vec<u32>,
    /// Settled sessions whose rank must be asked again.
    unranked: Vec<u32>,
    /// The ready session served last: the next search starts after it
    /// (round-robin among sessions of equal rank).
    last_served: u32,
}

impl Schedule {
    /// Marks session `id` (whose slot is `slot`) changed.
    pub fn touch(&mut self, id: u32, slot: &mut Slot) {
        if !slot.touched {
            slot.touched = true;
            self.touched.push(id);
        }
    }

    /// The touched sessions, in the order they were touched; each must be
    /// passed to [`Schedule::settle`] (or be gone).
    pub fn take_touched(&mut self) -> Vec<u32> {
        std::mem::take(&mut self.touched)
    }

    /// Gives back the (drained) list [`Schedule::take_touched`] returned,
    /// so that its room serves again: no allocation per settle.
    pub fn recycle(&mut self, mut list: Vec<u32>) {
        if self.touched.is_empty() {
            list.clear();
            self.touched = list;
        }
    }

    /// The touched sessions, without taking them.
    pub fn touched(&self) -> &[u32] {
        &self.touched
    }

    /// Re-reads a touched session: `next` is its next timer.  It waits to
    /// be ranked ([`Schedule::take_unranked`]).
    pub fn settle(&mut self, id: u32, slot: &mut Slot, next: Option<Instant>) {
        slot.touched = false;
        if let Some(t) = next {
            if slot.scheduled.is_none_or(|s| t < s) {
                slot.scheduled = Some(t);
                self.timers.push(t, id);
            }
        }
        if !slot.unranked {
            slot.unranked = true;
            self.unranked.push(id);
        }
    }

    /// The settled sessions to rank, in the order they were settled; each
    /// gets [`Schedule::rank`] (or is gone).
    pub fn take_unranked(&mut self) -> Vec<u32> {
        std::mem::take(&mut self.unranked)
    }

    /// Gives back the (drained) list [`Schedule::take_unranked`] returned.
    pub fn recycle_unranked(&mut self, mut list: Vec<u32>) {
        if self.unranked.is_empty() {
            list.clear();
            self.unranked = list;
        }
    }

    /// Places session `id` in the ready set under `rank` (`None`: nothing
    /// to send, out of the set).
    pub fn rank(&mut self, id: u32, slot: &mut Slot, rank: Option<u8>) {
        slot.unranked = false;
        if slot.ranked == rank {
            return;
        }
        if let Some(old) = slot.ranked {
            self.ready.remove(&(Reverse(old), id));
        }
        if let Some(new) = rank {
            self.ready.insert((Reverse(new), id));
        }
        slot.ranked = rank;
    }

    /// Forgets a session that is gone.
    pub fn remove(&mut self, id: u32, slot: &Slot) {
        if let Some(rank) = slot.ranked {
            self.forget(rank, id);
        }
    }

    /// Takes the ready-set entry of session `id` under `rank` out.
    pub fn forget(&mut self, rank: u8, id: u32) {
        self.ready.remove(&(Reverse(rank), id));
    }

    /// The earliest deadline in the heap (possibly a stale entry: then a
    /// wakeup finds nothing to do).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    /// Pops the next entry due at `now`: `Some(id)` of the session whose
    /// live entry it was.  `claim(id, t)` tells (with [`Slot::claim`] on
    /// the session's slot; false for a session that is gone); stale
    /// entries are skipped.
    pub fn pop_due(
        &mut self,
        now: Instant,
        mut claim: impl FnMut(u32, Instant) -> bool,
    ) -> Option<u32> {
        while let Some((t, id)) = self.timers.peek() {
            if t > now {
                return None;
            }
            self.timers.pop();
            if claim(id, t) {
                return Some(id);
            }
        }
        None
    }

    /// The earliest entry: its deadline and session.
    pub fn peek(&mut self) -> Option<(Instant, u32)> {
        self.timers.peek()
    }

    /// Removes the earliest entry.
    pub fn pop(&mut self) {
        self.timers.pop();
    }

    /// Schedules `next` as the session's deadline after its live entry
    /// was taken (not touching readiness).
    pub fn reschedule(&mut self, id: u32, slot: &mut Slot, next: Option<Instant>) {
        slot.scheduled = next;
        if let Some(t) = next {
            self.timers.push(t, id);
        }
    }

    /// Rebuilds the heap from the live entries when stale ones outnumber
    /// `sessions` (the live ones are at most one per session).
    pub fn compact(&mut self, sessions: usize, live: impl FnMut(u32, Instant) -> bool) {
        if self.timers.count() <= 2 * sessions + 1024 {
            return;
        }
        self.timers.retain(live);
    }

    /// The next sender: among the ready sessions of the highest rank, the
    /// first after the one served last (round-robin), or the first of
    /// them.  Its rank is the one it was placed under.
    pub fn next_in_turn(&self) -> Option<(u8, u32)> {
        let &(Reverse(top), first) = self.ready.first()?;
        let after = self
            .ready
            .range((Reverse(top), self.last_served.saturating_add(1))..=(Reverse(top), u32::MAX))
            .next()
            .map(|&(_, id)| id);
        Some((top, after.unwrap_or(first)))
    }

    /// Records that `id` was served.
    pub fn served(&mut self, id: u32) {
        self.last_served = id;
    }

    /// How many sessions are in the ready set.
    pub fn ready_len(&self) -> usize {
        self.ready.len()
    }

    /// How many entries the timer heap holds (live and stale).
    pub fn timer_entries(&self) -> usize {
        self.timers.count()
    }
}

impl Slot {
    /// Whether `t` is the deadline of this session's live heap entry.
    pub fn is_live(&self, t: Instant) -> bool {
        self.scheduled == Some(t)
    }

    /// Takes the live entry of deadline `t` (it fired): true if it was
    /// the live one.
    pub fn claim(&mut self, t: Instant) -> bool {
        let live = self.is_live(t);
        if live {
            self.scheduled = None;
        }
        live
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::time::Duration;

    struct World {
        s: Schedule,
        slots: HashMap<u32, Slot>,
    }

    impl World {
        fn new(ids: &[u32]) -> World {
            World {
                s: Schedule::default(),
                slots: ids.iter().map(|&i| (i, Slot::default())).collect(),
            }
        }
        fn settle(&mut self, id: u32, next: Option<Instant>) {
            let slot = self.slots.get_mut(&id).unwrap();
            self.s.touch(id, slot);
            assert_eq!(self.s.take_touched(), vec![id]);
            self.s.settle(id, slot, next);
        }
        fn rank(&mut self, id: u32, rank: Option<u8>) {
            let slot = self.slots.get_mut(&id).unwrap();
            assert_eq!(self.s.take_unranked(), vec![id]);
            self.s.rank(id, slot, rank);
        }
        fn pop(&mut self, now: Instant) -> Option<u32> {
            let slots = &mut self.slots;
            self.s
                .pop_due(now, |id, t| slots.get_mut(&id).is_some_and(|s| s.claim(t)))
        }
    }

    #[test]
    fn timers_fire_in_order_and_a_later_deadline_fires_early_once() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut w = World::new(&[1, 2, 3]);
        w.settle(1, Some(ms(30)));
        w.settle(2, Some(ms(10)));
        w.settle(3, None);
        assert_eq!(w.s.next_deadline(), Some(ms(10)));
        // Session 2's deadline moves later: its early entry stays live.
        w.settle(2, Some(ms(50)));
        assert_eq!(w.s.timer_entries(), 2);
        assert_eq!(w.pop(ms(5)), None);
        assert_eq!(w.pop(ms(10)), Some(2));
        // ... and re-settling schedules the real one.
        w.settle(2, Some(ms(50)));
        assert_eq!(w.pop(ms(40)), Some(1));
        assert_eq!(w.pop(ms(40)), None);
        assert_eq!(w.pop(ms(60)), Some(2));
        assert_eq!(w.s.next_deadline(), None);
    }

    #[test]
    fn an_earlier_deadline_leaves_a_stale_entry_that_is_skipped() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut w = World::new(&[7]);
        w.settle(7, Some(ms(50)));
        w.settle(7, Some(ms(20)));
        assert_eq!(w.pop(ms(20)), Some(7));
        // The 50 ms entry is stale now.
        assert_eq!(w.pop(ms(100)), None);
        // A gone session's entry is skipped too.
        w.settle(7, Some(ms(200)));
        w.slots.remove(&7);
        assert_eq!(w.pop(ms(300)), None);
    }

    #[test]
    fn the_highest_rank_goes_first_and_equals_take_turns() {
        let mut w = World::new(&[3, 5, 9, 11]);
        for (id, rank) in [(9, 4), (3, 4), (5, 4), (11, 2)] {
            w.settle(id, None);
            w.rank(id, Some(rank));
        }
        assert_eq!(w.s.next_in_turn(), Some((4, 3)));
        w.s.served(3);
        assert_eq!(w.s.next_in_turn(), Some((4, 5)));
        w.s.served(9);
        // After the last of the rank: back to its first.
        assert_eq!(w.s.next_in_turn(), Some((4, 3)));
        // A session with an ack to send (rank 9) goes ahead of all.
        w.settle(11, None);
        w.rank(11, Some(9));
        assert_eq!(w.s.next_in_turn(), Some((9, 11)));
        // Nothing left to send: out of the set.
        for id in [11, 3, 5, 9] {
            w.settle(id, None);
            w.rank(id, None);
        }
        assert_eq!(w.s.next_in_turn(), None);
        assert_eq!(w.s.ready_len(), 0);
    }

    #[test]
    fn a_settled_session_is_ranked_once_and_a_gone_one_leaves_the_set() {
        let mut w = World::new(&[1, 2]);
        w.settle(1, None);
        // Touched and settled again before ranking: listed once.
        let slot = w.slots.get_mut(&1).unwrap();
        w.s.touch(1, slot);
        w.s.take_touched();
        w.s.settle(1, slot, None);
        w.rank(1, Some(3));
        w.settle(2, None);
        w.rank(2, Some(3));
        assert_eq!(w.s.ready_len(), 2);
        w.s.remove(1, &w.slots[&1]);
        assert_eq!(w.s.next_in_turn(), Some((3, 2)));
        assert_eq!(w.s.ready_len(), 1);
    }

    #[test]
    fn compaction_keeps_only_live_entries() {
        let t0 = Instant::now();
        let mut w = World::new(&[1]);
        for n in (0..3000u64).rev() {
            w.settle(1, Some(t0 + Duration::from_millis(n)));
        }
        assert_eq!(w.s.timer_entries(), 3000);
        let slot = w.slots[&1];
        w.s.compact(1, |_, t| slot.is_live(t));
        assert_eq!(w.s.timer_entries(), 1);
        assert_eq!(w.s.next_deadline(), Some(t0));
    }
}
