//! The endpoint's timer queue: a min-queue of `(deadline, session ID)`
//! that pops in exactly the order of one binary heap, at a cost that does
//! not grow with the number of far deadlines.
//!
//! A crowd of idle sessions keeps one entry each, most of them far away
//! (the next keepalive or idle deadline, seconds out), and each one is
//! taken and put back once per keepalive period.  In one heap of every
//! entry, each of those costs a sift through the whole heap, far larger
//! than the caches.  Here only the near entries are in a heap; the far
//! ones wait in buckets of about 268 ms by deadline, unsorted, and a bucket
//! becomes the heap (heapified in one pass) when the heap runs empty.
//! Putting an entry in a far bucket is a push onto a vector.
//!
//! Invariant: every heap entry is earlier than `horizon`, and every bucket
//! entry is at or after it.  So while the heap has entries, its first is
//! the earliest of all; when it is empty, the earliest is in the first
//! bucket.  Entries of equal deadline pop by session ID, as in the heap
//! this replaced, so a run (the simulator's above all) is unchanged.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::time::{Duration, Instant};

/// A far bucket is 2^BUCKET_SHIFT ns wide: about 268 ms.
const BUCKET_SHIFT: u32 = 28;

type Entry = Reverse<(Instant, u32)>;

/// Deadlines within one bucket's width, unsorted.
#[derive(Debug)]
struct Bucket {
    /// The earliest deadline in it (a lower bound for `next_deadline`).
    earliest: Instant,
    entries: Vec<Entry>,
}

/// A min-queue of `(deadline, session ID)` (see the module doc).
#[derive(Debug, Default)]
pub struct Timers {
    near: BinaryHeap<Entry>,
    /// Far entries by bucket number (whole bucket widths after `epoch`).
    far: BTreeMap<u64, Bucket>,
    /// Bucket numbers count from here (the first deadline pushed).
    epoch: Option<Instant>,
    /// Entries before it are in `near`; the rest in `far`.
    horizon: Option<Instant>,
    far_len: usize,
    /// Emptied vectors, kept so that buckets do not allocate.
    spare: Vec<Vec<Entry>>,
}

impl Timers {
    /// Adds an entry.
    pub fn push(&mut self, t: Instant, id: u32) {
        let epoch = *self.epoch.get_or_insert(t);
        let horizon = *self.horizon.get_or_insert(epoch);
        if t < horizon {
            self.near.push(Reverse((t, id)));
            return;
        }
        let number = bucket_of(epoch, t);
        let spare = &mut self.spare;
        let bucket = self.far.entry(number).or_insert_with(|| Bucket {
            earliest: t,
            entries: spare.pop().unwrap_or_default(),
        });
        bucket.earliest = bucket.earliest.min(t);
        bucket.entries.push(Reverse((t, id)));
        self.far_len += 1;
    }

    /// The earliest entry.
    pub fn peek(&mut self) -> Option<(Instant, u32)> {
        self.refill();
        self.near.peek().map(|Reverse((t, id))| (*t, *id))
    }

    /// Removes the earliest entry.
    pub fn pop(&mut self) -> Option<(Instant, u32)> {
        self.refill();
        self.near.pop().map(|Reverse(entry)| entry)
    }

    /// A time no later than the earliest entry: the earliest itself, or
    /// the earliest of the first far bucket when the heap is empty.
    pub fn next_deadline(&self) -> Option<Instant> {
        match self.near.peek() {
            Some(Reverse((t, _))) => Some(*t),
            None => self.far.values().next().map(|b| b.earliest),
        }
    }

    /// How many entries there are.
    pub fn count(&self) -> usize {
        self.near.len() + self.far_len
    }

    /// Keeps only the entries for which `keep(id, t)` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(u32, Instant) -> bool) {
        self.near.retain(|Reverse((t, id))| keep(*id, *t));
        let mut far_len = 0;
        self.far.retain(|_, bucket| {
            bucket.entries.retain(|Reverse((t, id))| keep(*id, *t));
            far_len += bucket.entries.len();
            match bucket.entries.iter().map(|Reverse((t, _))| *t).min() {
                Some(earliest) => {
                    bucket.earliest = earliest;
                    true
                }
                None => false,
            }
        });
        self.far_len = far_len;
    }

    /// When the heap is empty, makes the first far bucket the heap and
    /// moves the horizon past it.
    fn refill(&mut self) {
        if !self.near.is_empty() {
            return;
        }
        let Some((number, bucket)) = self.far.pop_first() else {
            return;
        };
        self.far_len -= bucket.entries.len();
        let epoch = self
            .epoch
            .expect("a far entry was pushed after the epoch was set");
        self.horizon = Some(epoch + bucket_start(number + 1));
        let emptied = std::mem::replace(&mut self.near, BinaryHeap::from(bucket.entries));
        self.spare.push(emptied.into_vec());
    }
}

/// The far bucket of deadline `t`: non-decreasing in `t` (a deadline before
/// the epoch counts as bucket 0).
fn bucket_of(epoch: Instant, t: Instant) -> u64 {
    let since = t.saturating_duration_since(epoch).as_nanos();
    u64::try_from(since >> BUCKET_SHIFT).unwrap_or(u64::MAX)
}

/// How long after the epoch bucket `number` starts.
fn bucket_start(number: u64) -> Duration {
    let nanos = u128::from(number) << BUCKET_SHIFT;
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pops everything, in order.
    fn drain(timers: &mut Timers) -> Vec<(Instant, u32)> {
        std::iter::from_fn(|| timers.pop()).collect()
    }

    #[test]
    fn pops_in_the_order_of_one_heap_across_buckets() {
        let t0 = Instant::now();
        let mut timers = Timers::default();
        let mut heap = BinaryHeap::new();
        // A spread of deadlines over many buckets, pushed out of order,
        // with ties on the deadline (broken by ID) and some before the
        // first one pushed (before the epoch).
        let mut x: u64 = 12345;
        for id in 0..5000u32 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let ms = (x >> 33) % 40_000;
            let t = if id % 7 == 0 {
                t0 + Duration::from_millis(ms / 1000 * 1000)
            } else {
                t0 + Duration::from_millis(ms)
            };
            timers.push(t, id % 100);
            heap.push(Reverse((t, id % 100)));
        }
        assert_eq!(timers.count(), 5000);
        let want: Vec<_> = std::iter::from_fn(|| heap.pop().map(|Reverse(e)| e)).collect();
        assert_eq!(drain(&mut timers), want);
        assert_eq!(timers.count(), 0);
        assert_eq!(timers.next_deadline(), None);
    }

    #[test]
    fn pushes_between_pops_keep_the_order() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let mut timers = Timers::default();
        let mut heap = BinaryHeap::new();
        let mut popped = Vec::new();
        let mut want = Vec::new();
        // Like a crowd: each entry, when it fires, is put back a while
        // later; and now and then a near one arrives.
        for id in 0..200u32 {
            let t = ms(u64::from(id) * 37 % 15_000);
            timers.push(t, id);
            heap.push(Reverse((t, id)));
        }
        for round in 0..2000u64 {
            let (t, id) = timers.pop().unwrap();
            let Reverse(expected) = heap.pop().unwrap();
            popped.push((t, id));
            want.push(expected);
            let later = t + Duration::from_millis(15_000 + round % 13);
            timers.push(later, id);
            heap.push(Reverse((later, id)));
            if round % 5 == 0 {
                let near = t + Duration::from_millis(round % 3);
                timers.push(near, 1000);
                heap.push(Reverse((near, 1000)));
            }
        }
        assert_eq!(popped, want);
    }

    #[test]
    fn next_deadline_is_never_after_the_earliest() {
        let t0 = Instant::now();
        let mut timers = Timers::default();
        timers.push(t0 + Duration::from_secs(30), 1);
        timers.push(t0 + Duration::from_secs(10), 2);
        timers.push(t0 + Duration::from_millis(10_100), 3);
        // Both early ones are in one far bucket: its earliest is exact.
        assert_eq!(timers.next_deadline(), Some(t0 + Duration::from_secs(10)));
        assert_eq!(timers.peek(), Some((t0 + Duration::from_secs(10), 2)));
        assert_eq!(timers.pop(), Some((t0 + Duration::from_secs(10), 2)));
        assert!(timers.next_deadline() <= Some(t0 + Duration::from_millis(10_100)));
        assert_eq!(timers.pop(), Some((t0 + Duration::from_millis(10_100), 3)));
        assert_eq!(timers.next_deadline(), Some(t0 + Duration::from_secs(30)));
    }

    #[test]
    fn retain_drops_entries_in_the_heap_and_in_the_buckets() {
        let t0 = Instant::now();
        let mut timers = Timers::default();
        for id in 0..100u32 {
            timers.push(t0 + Duration::from_millis(u64::from(id) * 100), id);
        }
        // Some are in the heap now.
        assert_eq!(timers.peek(), Some((t0, 0)));
        timers.retain(|id, _| id % 2 == 1);
        assert_eq!(timers.count(), 50);
        let ids: Vec<u32> = drain(&mut timers).into_iter().map(|(_, id)| id).collect();
        assert_eq!(ids, (0..100).filter(|id| id % 2 == 1).collect::<Vec<_>>());
    }
}
