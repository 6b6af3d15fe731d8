//! A bounded, insert-only map whose reads take no lock and write no memory at all.
//!
//! Written by hand because every per-request lookup of this library's caches (interned routes,
//! addresses and user agents, span names, prepared metric series, exemplar series, client
//! targets) is on the hot path of every core. A `std::sync::RwLock` read lock is an atomic
//! read-modify-write of the lock's word, so under load that cache line moved between cores on
//! every lookup; `arc-swap` (used here next) writes the reading thread's own slot with a
//! sequentially consistent swap and reads a thread-local: about 40 ns per lookup under the
//! load test (perf), some 30 lookups per request. The maps here are insert-only and bounded,
//! so nothing needs reclaiming while a map lives, and a lookup can be plain acquire loads (free
//! on x86): the current level, its table, the slots it probes, the entry found. The concurrent
//! map crates reclaim (`dashmap` with sharded locks, `papaya`, `flurry` and `scc` with epochs),
//! which costs a shared or fenced write per lookup.
//!
//! Open addressing with linear probing, in safe code: a slot is a `OnceLock` of a shared
//! entry, set once under the insert mutex. A table is at most half full; the insert that would
//! pass that first fills a table twice the size and publishes it as the next level. Old levels
//! stay until the map drops (their sizes sum to less than the current one's), so a reader still
//! probing one stays valid and sees the entries it had.

use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// A bounded, insert-only map with lock-free reads that write nothing: a lookup is a few
/// acquire loads; an insert takes a mutex. Entries are freed with the map.
///
/// Hashed by default with foldhash, seeded at random per map. Not SipHash: a short label costs
/// a few machine words instead of ~100 instructions, per request. Not FxHash either: the
/// values come from requests (`Host`, `User-Agent`, gRPC method names), and with an unkeyed
/// hash a client could fill a map with colliding values and make every later lookup walk them
/// all; a random seed per map makes collisions unpredictable. Keys chosen by this library from
/// bounded sets (the metrics' series keys) use FxHash.
pub struct SnapshotMap<K, V, S = foldhash::fast::RandomState> {
    /// Level `i` holds `FIRST_SLOTS << i` slots; set once each, in order, under `writer`.
    levels: Box<[OnceLock<Table<K, V>>]>,
    /// The last level set (it holds every entry).
    level: AtomicUsize,
    /// Serializes inserts.
    writer: Mutex<()>,
    hasher: S,
    capacity: usize,
    len: AtomicUsize,
}

struct Entry<K, V> {
    hash: u64,
    key: K,
    value: V,
}

/// Slots, a power of two of them, at most half of them set. An entry is shared by the levels
/// that hold it (copied on growth), never by requests: a lookup only borrows it.
type Table<K, V> = Box<[OnceLock<Arc<Entry<K, V>>>]>;

/// The first level's slots: most maps (a layer's routes, a metric's series) stay small.
const FIRST_SLOTS: usize = 8;

fn table<K, V>(slots: usize) -> Table<K, V> {
    (0..slots).map(|_| OnceLock::new()).collect()
}

/// Sets `entry` in the first empty slot of its probe sequence (writers only: a table is at
/// most half full, so there is one).
fn put<K, V>(table: &Table<K, V>, entry: Arc<Entry<K, V>>) {
    let mask = table.len() - 1;
    let mut i = entry.hash as usize & mask;
    while table[i].get().is_some() {
        i = (i + 1) & mask;
    }
    let _ = table[i].set(entry);
}

impl<K, V, S> std::fmt::Debug for SnapshotMap<K, V, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotMap")
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl<K, V, S> SnapshotMap<K, V, S> {
    /// The current level's table.
    #[inline]
    fn table(&self) -> Option<&Table<K, V>> {
        self.levels.get(self.level.load(Ordering::Acquire))?.get()
    }

    /// The number of keys.
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// Whether the map has no key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the map holds its capacity of keys (an insert of a new key would be refused).
    pub fn is_full(&self) -> bool {
        self.len() >= self.capacity
    }

    /// `f` over every key and value inserted before the call (one racing with it may or may
    /// not be seen). Takes no lock.
    pub fn for_each(&self, mut f: impl FnMut(&K, &V)) {
        for entry in self.table().into_iter().flat_map(|t| t.iter()) {
            if let Some(entry) = entry.get() {
                f(&entry.key, &entry.value);
            }
        }
    }
}

impl<K, V, S> SnapshotMap<K, V, S>
where
    K: Hash + Eq,
    S: BuildHasher + Default,
{
    /// An empty map keeping at most `capacity` keys.
    pub fn with_capacity(capacity: usize) -> Self {
        // Enough levels for `capacity` keys at most half a table each (a capacity past what
        // memory could hold, `usize::MAX` say, stops at the largest power of two).
        let slots = capacity
            .saturating_mul(2)
            .max(FIRST_SLOTS)
            .checked_next_power_of_two()
            .unwrap_or(1 << (usize::BITS - 1));
        let levels = (slots / FIRST_SLOTS).trailing_zeros() as usize + 1;
        let levels: Box<[OnceLock<Table<K, V>>]> = (0..levels).map(|_| OnceLock::new()).collect();
        let _ = levels[0].set(table(FIRST_SLOTS));
        SnapshotMap {
            levels,
            level: AtomicUsize::new(0),
            writer: Mutex::new(()),
            hasher: S::default(),
            capacity,
            len: AtomicUsize::new(0),
        }
    }

    /// The entry under `key`, in the current level.
    #[inline]
    fn find<Q>(&self, key: &Q, hash: u64) -> Option<&Entry<K, V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let table = self.table()?;
        let mask = table.len() - 1;
        let mut i = hash as usize & mask;
        loop {
            // At most half full: every probe reaches an empty slot.
            let entry = table[i].get()?;
            if entry.hash == hash && entry.key.borrow() == key {
                return Some(entry);
            }
            i = (i + 1) & mask;
        }
    }

    /// `f` of the value under `key`, if there is one. Takes no lock, writes nothing.
    #[inline]
    pub fn read<Q, R>(&self, key: &Q, f: impl FnOnce(&V) -> R) -> Option<R>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.find(key, self.hasher.hash_one(key))
            .map(|entry| f(&entry.value))
    }

    /// `f` of the value under `key`, inserting `make()`'s key and value first if `key` is
    /// absent and there is room; `None` when absent and full (then without taking the insert
    /// lock). `make` must return a key equal to `key`.
    #[cold]
    pub fn insert_with<Q, R>(
        &self,
        key: &Q,
        make: impl FnOnce() -> (K, V),
        f: impl FnOnce(&V) -> R,
    ) -> Option<R>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        // Full: nothing can be inserted, so no lock (callers fall back per request then).
        if self.is_full() {
            return self.read(key, f);
        }
        let _writing = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let hash = self.hasher.hash_one(key);
        // Under the lock the current level is the last: it has every entry.
        if let Some(entry) = self.find(key, hash) {
            return Some(f(&entry.value));
        }
        let len = self.len();
        if len >= self.capacity {
            return None;
        }
        let level = self.level.load(Ordering::Relaxed);
        let mut current = self.levels[level].get()?;
        if (len + 1) * 2 > current.len() {
            // The next level, filled before it is published; readers still probing this one
            // keep it.
            let next = table(current.len() * 2);
            for entry in current.iter().filter_map(OnceLock::get) {
                put(&next, Arc::clone(entry));
            }
            let slot = self.levels.get(level + 1)?;
            let _ = slot.set(next);
            self.level.store(level + 1, Ordering::Release);
            current = slot.get()?;
        }
        let (key, value) = make();
        let entry = Arc::new(Entry { hash, key, value });
        let r = f(&entry.value);
        put(current, entry);
        self.len.store(len + 1, Ordering::Relaxed);
        Some(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inserts_each_key_once_and_stops_at_the_capacity() {
        let map: SnapshotMap<String, usize> = SnapshotMap::with_capacity(3);
        assert_eq!(map.read("a", |v| *v), None);
        let mut made = 0;
        for (i, key) in ["a", "b", "a", "c", "d"].iter().enumerate() {
            let got = map.read(*key, |v| *v).or_else(|| {
                map.insert_with(
                    *key,
                    || {
                        made += 1;
                        (key.to_string(), i)
                    },
                    |v| *v,
                )
            });
            match *key {
                "a" => assert_eq!(got, Some(0), "the first value stays"),
                "b" => assert_eq!(got, Some(1)),
                "c" => assert_eq!(got, Some(3)),
                _ => assert_eq!(got, None, "full"),
            }
        }
        assert_eq!(made, 3);
        assert_eq!(map.len(), 3);
        let mut keys = Vec::new();
        map.for_each(|k, _| keys.push(k.clone()));
        keys.sort();
        assert_eq!(keys, ["a", "b", "c"]);
    }

    #[test]
    fn concurrent_inserts_agree_on_one_value_per_key() {
        let map: Arc<SnapshotMap<u32, u32>> = Arc::new(SnapshotMap::with_capacity(64));
        let threads: Vec<_> = (0..4u32)
            .map(|t| {
                let map = Arc::clone(&map);
                std::thread::spawn(move || {
                    (0..100u32)
                        .map(|k| {
                            map.read(&(k % 80), |v| *v)
                                .or_else(|| map.insert_with(&(k % 80), || (k % 80, t), |v| *v))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let seen: Vec<Vec<Option<u32>>> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(map.len(), 64);
        for k in 0..100usize {
            let key = (k % 80) as u32;
            let now = map.read(&key, |v| *v);
            for thread in &seen {
                // Every answer a thread got for a key is the key's one value (or none, full).
                assert_eq!(thread[k], now, "key {key}");
            }
        }
    }

    #[test]
    fn an_unbounded_capacity_builds_a_map() {
        let map: SnapshotMap<u32, u32> = SnapshotMap::with_capacity(usize::MAX);
        for k in 0..100 {
            assert_eq!(map.insert_with(&k, || (k, k), |v| *v), Some(k));
        }
        assert_eq!(map.read(&99, |v| *v), Some(99));
        assert!(!map.is_full());
    }

    #[test]
    fn capacities_zero_and_one() {
        let none: SnapshotMap<u32, u32> = SnapshotMap::with_capacity(0);
        assert_eq!(none.insert_with(&1, || (1, 1), |v| *v), None);
        assert!(none.is_empty());
        let one: SnapshotMap<u32, u32> = SnapshotMap::with_capacity(1);
        assert_eq!(one.insert_with(&1, || (1, 10), |v| *v), Some(10));
        assert_eq!(one.insert_with(&2, || (2, 20), |v| *v), None);
        assert_eq!(one.read(&1, |v| *v), Some(10));
    }

    #[test]
    fn growing_keeps_every_entry_and_the_capacity_exactly() {
        // Through many levels: 8 slots first, at most half full each.
        let map: SnapshotMap<String, usize> = SnapshotMap::with_capacity(1000);
        for i in 0..1000 {
            let key = format!("key-{i}");
            assert_eq!(
                map.insert_with(key.as_str(), || (key.clone(), i), |v| *v),
                Some(i)
            );
            assert_eq!(map.read(key.as_str(), |v| *v), Some(i));
        }
        assert_eq!(
            map.insert_with("one more", || ("one more".into(), 0), |v| *v),
            None
        );
        for i in 0..1000 {
            assert_eq!(map.read(format!("key-{i}").as_str(), |v| *v), Some(i));
        }
        assert_eq!(map.read("key-1000", |v| *v), None);
        let mut n = 0;
        map.for_each(|k, v| {
            assert_eq!(*k, format!("key-{v}"));
            n += 1;
        });
        assert_eq!(n, 1000);
    }

    #[test]
    fn a_key_seen_by_a_reader_stays_seen_while_the_map_grows() {
        let map: SnapshotMap<u64, u64> = SnapshotMap::with_capacity(4096);
        let done = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|scope| {
            let readers: Vec<_> = (0..2)
                .map(|_| {
                    scope.spawn(|| {
                        // Keys are inserted in order: once k is seen, every key below it must
                        // be, with its value, whatever level the reader probes.
                        let mut seen = 0u64;
                        while !done.load(Ordering::Relaxed) {
                            while map.read(&seen, |v| *v).is_some() {
                                seen += 1;
                            }
                            for k in (0..seen).step_by(61) {
                                assert_eq!(map.read(&k, |v| *v), Some(k * 3), "key {k}");
                            }
                        }
                        seen
                    })
                })
                .collect();
            for k in 0..4096u64 {
                assert_eq!(map.insert_with(&k, || (k, k * 3), |v| *v), Some(k * 3));
            }
            done.store(true, Ordering::Relaxed);
            for reader in readers {
                assert!(reader.join().unwrap() <= 4096);
            }
        });
        assert_eq!(map.len(), 4096);
    }

    proptest::proptest! {
        /// Against `HashMap`: the same answers for any sequence of reads and inserts.
        #[test]
        fn behaves_as_a_bounded_map(ops in proptest::collection::vec((proptest::bool::ANY, 0u16..300), 0..600), cap in 0usize..200) {
            let map: SnapshotMap<u16, u32> = SnapshotMap::with_capacity(cap);
            let mut model = std::collections::HashMap::new();
            for (i, (insert, key)) in ops.into_iter().enumerate() {
                let got = if insert {
                    map.insert_with(&key, || (key, i as u32), |v| *v)
                } else {
                    map.read(&key, |v| *v)
                };
                let want = match model.get(&key) {
                    Some(v) => Some(*v),
                    None if insert && model.len() < cap => {
                        model.insert(key, i as u32);
                        Some(i as u32)
                    }
                    None => None,
                };
                proptest::prop_assert_eq!(got, want);
            }
            proptest::prop_assert_eq!(map.len(), model.len());
        }
    }
}
