//! A bounded, insert-only map whose reads take no lock and write no shared memory.
//!
//! Written by hand (on `arc-swap`) because every per-request lookup of this library's caches
//! (interned routes, addresses and user agents, span names, bound metric series, exemplar
//! series, client targets) used to go through a `std::sync::RwLock`, and a read lock is an
//! atomic read-modify-write on the lock's word: under load, with requests on every core, that
//! cache line moves between cores on every lookup. Here a lookup is one atomic load of the
//! current snapshot's pointer (a shared read, which cores can all cache) and a write to the
//! reading thread's own `arc-swap` slot. Inserts are rare (each key once, bounded by the
//! capacity): they copy the map under a mutex and publish the copy.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;

/// A bounded, insert-only map with lock-free reads: a lookup loads the current snapshot (no
/// lock, no shared write); an insert copies the map under a mutex and publishes the copy.
///
/// Hashed by default with foldhash, seeded at random per map. Not SipHash: a short label costs
/// a few machine words instead of ~100 instructions, per request. Not FxHash either: the
/// values come from requests (`Host`, `User-Agent`, gRPC method names), and with an unkeyed
/// hash a client could fill a map with colliding values and make every later lookup walk them
/// all; a random seed per map makes collisions unpredictable. Keys chosen by this library from
/// bounded sets (the metrics' series keys) use FxHash.
pub struct SnapshotMap<K, V, S = foldhash::fast::RandomState> {
    current: ArcSwap<HashMap<K, V, S>>,
    /// Serializes inserts (each copies the current map).
    writer: Mutex<()>,
    capacity: usize,
}

impl<K, V, S> std::fmt::Debug for SnapshotMap<K, V, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotMap")
            .field("len", &self.current.load().len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl<K, V, S> SnapshotMap<K, V, S>
where
    K: Hash + Eq + Clone,
    V: Clone,
    S: BuildHasher + Clone + Default,
{
    /// An empty map keeping at most `capacity` keys.
    pub fn with_capacity(capacity: usize) -> Self {
        SnapshotMap {
            current: ArcSwap::from_pointee(HashMap::with_hasher(S::default())),
            writer: Mutex::new(()),
            capacity,
        }
    }

    /// `f` of the value under `key`, if there is one. Takes no lock.
    #[inline]
    pub fn read<Q, R>(&self, key: &Q, f: impl FnOnce(&V) -> R) -> Option<R>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.current.load().get(key).map(f)
    }

    /// `f` of the value under `key`, inserting `make()`'s key and value first if `key` is
    /// absent and there is room; `None` when absent and full. `make` must return a key equal
    /// to `key`.
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
        let _writing = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.current.load_full();
        if let Some(value) = current.get(key) {
            return Some(f(value));
        }
        if current.len() >= self.capacity {
            return None;
        }
        let mut next = HashMap::clone(&current);
        let (k, v) = make();
        let r = f(&v);
        next.insert(k, v);
        self.current.store(Arc::new(next));
        Some(r)
    }

    /// The number of keys.
    pub fn len(&self) -> usize {
        self.current.load().len()
    }

    /// Whether the map has no key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `f` over every value of the current snapshot.
    pub fn for_each(&self, mut f: impl FnMut(&K, &V)) {
        for (k, v) in self.current.load().iter() {
            f(k, v);
        }
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
}
