//! Generation-checked handle tables: how C holds on to Rust objects.
//!
//! C never sees a Rust pointer. It gets a [`Handle`]: a 64-bit value that
//! packs a slot index, the slot's generation and the table's tag:
//!
//! ```text
//!  63      56 55                 32 31                              0
//! +----------+---------------------+---------------------------------+
//! | tag (8)  | generation (24)     | slot index (32)                 |
//! +----------+---------------------+---------------------------------+
//! ```
//!
//! - Removing an object bumps its slot's generation, so the old handle (a
//!   double free, a use after free) no longer matches and is rejected.
//! - Each table has its own non-zero tag, so a handle of one kind passed
//!   where another is expected is rejected too.
//! - Tag and generation are never 0, so 0 / NULL is never a valid handle.
//! - A slot whose generation would wrap is retired for good instead, so a
//!   handle can never become valid again by accident.
//!
//! [`HandleTable`] is the plain single-threaded table; [`Registry`] wraps
//! one in a `Mutex` with `Arc` values for use from a `static`, so that a
//! lookup clones the `Arc` and releases the lock before any real work, and
//! an object freed on one thread stays alive until calls using it on other
//! threads return.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::error::Error;

const INDEX_BITS: u32 = 32;
const GENERATION_BITS: u32 = 24;
const TAG_SHIFT: u32 = INDEX_BITS + GENERATION_BITS;
const GENERATION_MAX: u32 = (1 << GENERATION_BITS) - 1;

/// An opaque reference to an object in a [`HandleTable`] or [`Registry`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Handle(u64);

impl Handle {
    fn pack(tag: u8, generation: u32, index: u32) -> Handle {
        debug_assert!(tag != 0 && generation != 0 && generation <= GENERATION_MAX);
        Handle(
            (u64::from(tag) << TAG_SHIFT)
                | (u64::from(generation) << INDEX_BITS)
                | u64::from(index),
        )
    }

    fn tag(self) -> u8 {
        (self.0 >> TAG_SHIFT) as u8
    }

    fn generation(self) -> u32 {
        ((self.0 >> INDEX_BITS) as u32) & GENERATION_MAX
    }

    fn index(self) -> u32 {
        self.0 as u32
    }

    /// The raw value handed to C (never 0 for an issued handle).
    pub(crate) fn to_raw(self) -> u64 {
        self.0
    }

    /// A handle from a raw value received from C. Any value is accepted
    /// here; lookups reject the ones that are not live.
    pub(crate) fn from_raw(raw: u64) -> Handle {
        Handle(raw)
    }

    /// The handle as an opaque pointer-typed token (`rtmfp_endpoint *` in
    /// C) for type-safe C signatures. It is never dereferenced.
    #[cfg(target_pointer_width = "64")]
    pub(crate) fn to_ptr<T>(self) -> *mut T {
        std::ptr::without_provenance_mut(self.0 as usize)
    }

    /// The inverse of [`Handle::to_ptr`]; NULL gives an invalid handle.
    #[cfg(target_pointer_width = "64")]
    pub(crate) fn from_ptr<T>(ptr: *const T) -> Handle {
        Handle(ptr.addr() as u64)
    }
}

struct Slot<T> {
    generation: u32,
    value: Option<T>,
}

/// A slab of `T` addressed by generation-checked [`Handle`]s.
pub(crate) struct HandleTable<T> {
    tag: u8,
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
    live: usize,
}

impl<T> HandleTable<T> {
    /// An empty table whose handles carry `tag`, which must be non-zero and
    /// different from every other table's tag.
    pub(crate) const fn new(tag: u8) -> Self {
        assert!(tag != 0, "handle table tag must be non-zero");
        HandleTable {
            tag,
            slots: Vec::new(),
            free: Vec::new(),
            live: 0,
        }
    }

    /// Store `value` and return its handle.
    ///
    /// # Panics
    /// If all 2^32 slot indices are in use (memory runs out long before).
    pub(crate) fn insert(&mut self, value: T) -> Handle {
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                let index = u32::try_from(self.slots.len()).expect("handle table full");
                self.slots.push(Slot {
                    generation: 1,
                    value: None,
                });
                index
            }
        };
        let slot = &mut self.slots[index as usize];
        debug_assert!(slot.value.is_none());
        slot.value = Some(value);
        self.live += 1;
        Handle::pack(self.tag, slot.generation, index)
    }

    fn slot_index(&self, handle: Handle) -> Option<usize> {
        if handle.tag() != self.tag || handle.generation() == 0 {
            return None;
        }
        let index = handle.index() as usize;
        let slot = self.slots.get(index)?;
        (slot.generation == handle.generation() && slot.value.is_some()).then_some(index)
    }

    /// The object behind `handle`, or `None` if it is not live in this table.
    pub(crate) fn get(&self, handle: Handle) -> Option<&T> {
        let index = self.slot_index(handle)?;
        self.slots[index].value.as_ref()
    }

    /// Mutable access to the object behind `handle`.
    pub(crate) fn get_mut(&mut self, handle: Handle) -> Option<&mut T> {
        let index = self.slot_index(handle)?;
        self.slots[index].value.as_mut()
    }

    /// Whether `handle` is live in this table.
    pub(crate) fn contains(&self, handle: Handle) -> bool {
        self.slot_index(handle).is_some()
    }

    /// Take the object out; `handle` (and every copy of it) becomes invalid.
    pub(crate) fn remove(&mut self, handle: Handle) -> Option<T> {
        let index = self.slot_index(handle)?;
        let slot = &mut self.slots[index];
        let value = slot.value.take();
        self.live -= 1;
        if slot.generation < GENERATION_MAX {
            slot.generation += 1;
            self.free.push(index as u32);
        } // else: retire the slot; it is never handed out again.
        value
    }

    /// Remove every object (e.g. at library shutdown), invalidating all
    /// handles, and return them.
    pub(crate) fn drain(&mut self) -> Vec<T> {
        let handles: Vec<Handle> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.value.is_some())
            .map(|(i, s)| Handle::pack(self.tag, s.generation, i as u32))
            .collect();
        handles.into_iter().filter_map(|h| self.remove(h)).collect()
    }

    /// How many objects are live.
    pub(crate) fn len(&self) -> usize {
        self.live
    }

    /// Whether no object is live.
    pub(crate) fn is_empty(&self) -> bool {
        self.live == 0
    }
}

/// A thread-safe [`HandleTable`] of `Arc<T>`, usable as a `static`.
pub(crate) struct Registry<T> {
    table: Mutex<HandleTable<Arc<T>>>,
}

impl<T> Registry<T> {
    /// An empty registry; see [`HandleTable::new`] for `tag`.
    pub(crate) const fn new(tag: u8) -> Self {
        Registry {
            table: Mutex::new(HandleTable::new(tag)),
        }
    }

    /// The table, even if a panic poisoned the lock: every table operation
    /// leaves the table consistent before anything that can panic.
    fn lock(&self) -> MutexGuard<'_, HandleTable<Arc<T>>> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Store `value` and return its handle.
    pub(crate) fn insert(&self, value: T) -> Handle {
        self.lock().insert(Arc::new(value))
    }

    /// A strong reference to the object behind `handle`; the lock is
    /// released before this returns.
    pub(crate) fn get(&self, handle: Handle) -> Option<Arc<T>> {
        self.lock().get(handle).cloned()
    }

    /// Invalidate `handle` and return the registry's reference to its
    /// object (calls still running on other threads keep theirs).
    pub(crate) fn remove(&self, handle: Handle) -> Option<Arc<T>> {
        self.lock().remove(handle)
    }

    /// The object behind the C handle `ptr`, for an entry point
    /// (`name`: the argument, for the message): RTMFP_ERR_NULL_POINTER for
    /// NULL, RTMFP_ERR_INVALID_HANDLE for a freed or foreign handle.
    pub(crate) fn lookup<P>(&self, ptr: *const P, name: &str) -> Result<Arc<T>, Error> {
        if ptr.is_null() {
            return Err(Error::null_pointer(name));
        }
        self.get(Handle::from_ptr(ptr))
            .ok_or_else(|| Error::invalid_handle(name))
    }

    /// [`Registry::remove`] for a `*_free` entry point, which has already
    /// let NULL through: RTMFP_ERR_INVALID_HANDLE for a freed (a double
    /// free) or foreign handle.
    pub(crate) fn take<P>(&self, ptr: *const P, name: &str) -> Result<Arc<T>, Error> {
        self.remove(Handle::from_ptr(ptr))
            .ok_or_else(|| Error::invalid_handle(name))
    }

    /// Invalidate every handle and return the objects.
    pub(crate) fn drain(&self) -> Vec<Arc<T>> {
        self.lock().drain()
    }

    /// How many objects are live.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_get_remove() {
        let mut t = HandleTable::new(1);
        assert!(t.is_empty());
        let a = t.insert("a");
        let b = t.insert("b");
        assert_ne!(a, b);
        assert_eq!(t.len(), 2);
        assert_eq!(t.get(a), Some(&"a"));
        assert_eq!(t.get(b), Some(&"b"));
        *t.get_mut(b).unwrap() = "B";
        assert_eq!(t.get(b), Some(&"B"));
        assert_eq!(t.remove(a), Some("a"));
        assert_eq!(t.len(), 1);
        assert!(!t.contains(a));
        assert!(t.contains(b));
    }

    #[test]
    fn stale_handles_are_rejected() {
        let mut t = HandleTable::new(1);
        let a = t.insert(1);
        assert_eq!(t.remove(a), Some(1));
        assert_eq!(t.get(a), None, "use after free");
        assert_eq!(t.get_mut(a), None);
        assert_eq!(t.remove(a), None, "double free");
        // The slot is reused with a new generation: the old handle stays dead.
        let b = t.insert(2);
        assert_eq!(a.index(), b.index());
        assert_ne!(a, b);
        assert_eq!(t.get(a), None);
        assert_eq!(t.get(b), Some(&2));
    }

    #[test]
    fn forged_and_null_handles_are_rejected() {
        let mut t = HandleTable::new(1);
        let a = t.insert(());
        assert_ne!(a.to_raw(), 0);
        assert_eq!(t.get(Handle::from_raw(0)), None);
        assert_eq!(t.get(Handle::from_raw(u64::MAX)), None);
        // Right tag and generation, index out of range.
        assert_eq!(t.get(Handle::pack(1, 1, 7)), None);
        // Right tag and index, generation 0 (never issued).
        assert_eq!(
            t.get(Handle::from_raw(
                a.to_raw() & !(u64::from(GENERATION_MAX) << 32)
            )),
            None
        );
        // Right index, wrong generation.
        assert_eq!(t.get(Handle::pack(1, 2, a.index())), None);
    }

    #[test]
    fn handles_of_another_table_are_rejected() {
        let mut endpoints = HandleTable::new(1);
        let mut streams = HandleTable::new(2);
        let e = endpoints.insert("endpoint");
        let s = streams.insert("stream");
        assert_eq!((e.index(), e.generation()), (s.index(), s.generation()));
        assert_eq!(endpoints.get(s), None);
        assert_eq!(streams.get(e), None);
        assert_eq!(streams.remove(e), None);
        assert_eq!(streams.len(), 1);
    }

    #[test]
    fn exhausted_generation_retires_the_slot() {
        let mut t = HandleTable::new(3);
        let h = t.insert(0);
        t.slots[h.index() as usize].generation = GENERATION_MAX;
        let h = Handle::pack(3, GENERATION_MAX, h.index());
        assert_eq!(t.remove(h), Some(0));
        assert!(t.free.is_empty(), "slot must be retired, not reused");
        let h2 = t.insert(1);
        assert_ne!(h2.index(), h.index());
        assert_eq!(t.get(h), None);
        assert_eq!(t.get(h2), Some(&1));
    }

    #[test]
    fn drain_invalidates_everything() {
        let mut t = HandleTable::new(1);
        let hs: Vec<_> = (0..5).map(|i| t.insert(i)).collect();
        t.remove(hs[2]);
        let mut all = t.drain();
        all.sort();
        assert_eq!(all, vec![0, 1, 3, 4]);
        assert!(t.is_empty());
        assert!(hs.iter().all(|h| !t.contains(*h)));
    }

    #[test]
    fn pointer_round_trip() {
        let mut t = HandleTable::new(9);
        let h = t.insert(());
        let p: *mut u8 = h.to_ptr();
        assert!(!p.is_null());
        assert_eq!(Handle::from_ptr(p), h);
        assert_eq!(t.get(Handle::from_ptr(std::ptr::null::<u8>())), None);
    }

    static SHARED: Registry<String> = Registry::new(5);

    #[test]
    fn registry_is_shared_across_threads() {
        let threads: Vec<_> = (0..4)
            .map(|i| {
                std::thread::spawn(move || {
                    for j in 0..200 {
                        let h = SHARED.insert(format!("{i}-{j}"));
                        assert_eq!(*SHARED.get(h).unwrap(), format!("{i}-{j}"));
                        let kept = SHARED.get(h).unwrap();
                        assert!(SHARED.remove(h).is_some());
                        assert!(SHARED.get(h).is_none());
                        // An Arc taken before the free outlives it.
                        assert_eq!(*kept, format!("{i}-{j}"));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(SHARED.len(), 0);
    }

    #[test]
    fn registry_survives_a_poisoned_lock() {
        let r: Arc<Registry<u32>> = Arc::new(Registry::new(6));
        let h = r.insert(7);
        let r2 = Arc::clone(&r);
        let poisoner = std::thread::spawn(move || {
            let _guard = r2.table.lock().unwrap();
            panic!("poison the lock");
        });
        assert!(poisoner.join().is_err());
        assert!(r.table.is_poisoned());
        assert_eq!(r.get(h).as_deref(), Some(&7));
        assert_eq!(r.drain().len(), 1);
        assert_eq!(r.len(), 0);
    }
}
