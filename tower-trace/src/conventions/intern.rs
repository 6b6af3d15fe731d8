//! Interned label and name values, so per-request telemetry allocates nothing, and writes no
//! shared memory, for values seen before: routes, RPC methods, server addresses, user agents,
//! span names.
//!
//! An interned value is `&'static str`: its text is kept once per process in a `Pool` of its
//! kind, shared by every layer, and never freed. That is what makes it free to pass around: an
//! `Arc<str>` would cost an atomic increment and decrement of a count shared by every core per
//! copy (the request's facts, the span's attribute, dropped on the exporter thread), and under
//! load that cache line moves between cores on every request.
//!
//! Bounded by construction, twice: past [`MAX_INTERNED`] distinct values an [`Interner`] (one
//! per layer and kind) answers `None`, and so does a pool past `POOL_CAPACITY` (4,000) values or
//! `POOL_BYTES` (1 MiB) of text; the caller then falls back (to an allocation, an `_OTHER`, or no
//! label), so a hostile or buggy source of values cannot grow memory without limit.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

use super::snapshot::SnapshotMap;

/// Distinct values kept per interner (per layer and kind).
pub const MAX_INTERNED: usize = 1000;

/// Distinct values a `Pool` keeps for the process's lifetime.
pub(crate) const POOL_CAPACITY: usize = 4 * MAX_INTERNED;

/// Bytes of text a `Pool` keeps for the process's lifetime.
pub(crate) const POOL_BYTES: usize = 1 << 20;

/// Bytes of text one [`Interner`] may add to its pool: a quarter, as its [`MAX_INTERNED`] values
/// are a quarter of the pool's, so one layer's flood of long values (`Host` headers, gRPC
/// paths) cannot use up the room of the others either.
const INTERNER_BYTES: usize = POOL_BYTES / 4;

/// The kinds of interned values, a `Pool` each: a flood of one kind (hostile `Host` headers,
/// say) cannot crowd out another (routes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `http.route` values.
    Routes,
    /// Fully qualified gRPC methods.
    Methods,
    /// `server.address` values.
    Addresses,
    /// `user_agent.original` values.
    UserAgents,
    /// Values of the metrics' extra label.
    Labels,
}

/// Text kept for the process's lifetime, each distinct value once, shared by every layer:
/// bounded in values (`POOL_CAPACITY`, 4,000) and bytes (`POOL_BYTES`, 1 MiB).
#[derive(Debug)]
pub(crate) struct Pool {
    /// Read without a lock (see [`SnapshotMap`]); each text is its own key.
    texts: SnapshotMap<&'static str, &'static str>,
    /// Bytes kept so far, changed under the lock that serializes inserts; read without it to
    /// refuse at once when full (no lock per request then).
    bytes: AtomicUsize,
    /// Serializes inserts.
    writer: Mutex<()>,
}

impl Pool {
    fn new() -> Self {
        Pool {
            texts: SnapshotMap::with_capacity(POOL_CAPACITY),
            bytes: AtomicUsize::new(0),
            writer: Mutex::new(()),
        }
    }

    /// The pool of `kind`.
    pub(crate) fn of(kind: Kind) -> &'static Pool {
        static POOLS: OnceLock<[Pool; 5]> = OnceLock::new();
        &POOLS.get_or_init(|| std::array::from_fn(|_| Pool::new()))[kind as usize]
    }

    /// The kept copy of `value`, keeping it if there is room; `None` when full.
    #[inline]
    pub(crate) fn get(&self, value: &str) -> Option<&'static str> {
        self.texts
            .read(value, |text| *text)
            .or_else(|| self.keep(value))
    }

    #[cold]
    fn keep(&self, value: &str) -> Option<&'static str> {
        let fits = || {
            !self.texts.is_full()
                && self
                    .bytes
                    .load(Ordering::Relaxed)
                    .saturating_add(value.len())
                    <= POOL_BYTES
        };
        if !fits() {
            return None;
        }
        let _writing = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(text) = self.texts.read(value, |text| *text) {
            return Some(text);
        }
        if !fits() {
            return None;
        }
        let text = self.texts.insert_with(
            value,
            || {
                let text: &'static str = Box::leak(Box::from(value));
                (text, text)
            },
            |text| *text,
        )?;
        self.bytes.fetch_add(value.len(), Ordering::Relaxed);
        Some(text)
    }

    /// The number of values kept.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.texts.len()
    }
}

/// A bounded set of interned strings, one per layer and [`Kind`]: each distinct value is kept
/// once per process (its kind's `Pool`), and past the capacity new values are refused (the
/// caller falls back to `_OTHER` or no label), so label values from requests cannot grow memory
/// or cardinality without limit.
#[derive(Debug)]
pub struct Interner {
    /// The values this interner admitted, bounded; randomly seeded and read without a lock
    /// (see [`SnapshotMap`]). Each value is its own key.
    values: SnapshotMap<&'static str, &'static str>,
    pool: &'static Pool,
    /// Bytes of the values admitted (at most `INTERNER_BYTES`).
    bytes: AtomicUsize,
}

impl Interner {
    /// An interner of `kind` keeping at most `capacity` distinct values.
    pub fn with_capacity(kind: Kind, capacity: usize) -> Self {
        Interner {
            values: SnapshotMap::with_capacity(capacity),
            pool: Pool::of(kind),
            bytes: AtomicUsize::new(0),
        }
    }

    /// The interned copy of `value`, interning it if there is room (here and in the pool);
    /// `None` when full.
    #[inline]
    pub fn get(&self, value: &str) -> Option<&'static str> {
        self.values
            .read(value, |text| *text)
            .or_else(|| self.admit(value))
    }

    #[cold]
    fn admit(&self, value: &str) -> Option<&'static str> {
        // A full interner keeps nothing more in the pool either (in values or in bytes): a
        // flood of new values on one layer must not use up the room of the others.
        if self.values.is_full()
            || self
                .bytes
                .load(Ordering::Relaxed)
                .saturating_add(value.len())
                > INTERNER_BYTES
        {
            return None;
        }
        let text = self.pool.get(value)?;
        let mut added = false;
        let admitted = self.values.insert_with(
            value,
            || {
                added = true;
                (text, text)
            },
            |text| *text,
        );
        if added {
            self.bytes.fetch_add(value.len(), Ordering::Relaxed);
        }
        admitted
    }

    /// The number of values admitted.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether no value was admitted yet.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// The interners of one layer, shared by its signals.
#[derive(Debug)]
pub(crate) struct Interners {
    pub(crate) routes: Interner,
    pub(crate) methods: Interner,
    pub(crate) addresses: Interner,
    pub(crate) user_agents: Interner,
}

impl Default for Interners {
    fn default() -> Self {
        Interners {
            routes: Interner::with_capacity(Kind::Routes, MAX_INTERNED),
            methods: Interner::with_capacity(Kind::Methods, MAX_INTERNED),
            addresses: Interner::with_capacity(Kind::Addresses, MAX_INTERNED),
            user_agents: Interner::with_capacity(Kind::UserAgents, MAX_INTERNED),
        }
    }
}

/// Span names are `Cow<'static, str>` in OpenTelemetry, so an interned name must be
/// `'static`: each distinct `"{method} {target}"` is leaked once, process-wide, and at most `4 × MAX_INTERNED` of them are kept (then, and for a
/// method outside [`METHODS`], the caller formats the name per request).
///
/// Hashed as in [`Interner`] (SipHash of the method and the route cost about 500 instructions
/// per request) and read without a lock, one map per method (see [`SnapshotMap`]).
pub(crate) fn span_name(method: &'static str, target: &'static str) -> Option<&'static str> {
    struct Names {
        by_method: [SnapshotMap<&'static str, &'static str>; METHODS.len()],
        /// Names leaked so far, under the lock that serializes inserts.
        count: std::sync::Mutex<usize>,
    }
    const LIMIT: usize = 4 * MAX_INTERNED;
    static NAMES: OnceLock<Names> = OnceLock::new();
    let index = METHODS.iter().position(|m| *m == method)?;
    let names = NAMES.get_or_init(|| Names {
        by_method: std::array::from_fn(|_| SnapshotMap::with_capacity(LIMIT)),
        count: std::sync::Mutex::new(0),
    });
    let by_target = &names.by_method[index];
    if let Some(name) = by_target.read(target, |name| *name) {
        return Some(name);
    }
    let mut count = names
        .count
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(name) = by_target.read(target, |name| *name) {
        return Some(name);
    }
    if *count >= LIMIT {
        return None;
    }
    let name = by_target.insert_with(
        target,
        || {
            let name = format!("{method} {target}");
            (target, &*Box::leak(name.into_boxed_str()))
        },
        |name| *name,
    )?;
    *count += 1;
    Some(name)
}

/// The methods span names are interned for: those `http.request.method` knows, and `HTTP`,
/// which names the span of a request with any other method (the HTTP span conventions).
const METHODS: [&str; 11] = [
    "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "CONNECT", "TRACE", "QUERY", "HTTP",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_are_one_static_text_across_interners() {
        let a = Interner::with_capacity(Kind::Routes, 2);
        let b = Interner::with_capacity(Kind::Routes, 2);
        let owned = String::from("/intern-test/{id}");
        let x = a.get(&owned).unwrap();
        let y = b.get("/intern-test/{id}").unwrap();
        assert_eq!(x, "/intern-test/{id}");
        assert!(std::ptr::eq(x, y), "one text per process and kind");
        assert!(
            std::ptr::eq(a.get(&owned).unwrap(), x),
            "seen before: the same text"
        );
        assert_eq!(a.len(), 1);
    }

    #[test]
    fn an_interner_refuses_values_past_its_capacity_and_keeps_those_it_has() {
        let interner = Interner::with_capacity(Kind::Labels, 2);
        assert!(interner.get("cap-a").is_some());
        assert!(interner.get("cap-b").is_some());
        assert_eq!(interner.get("cap-c"), None, "full");
        assert_eq!(interner.get("cap-a"), Some("cap-a"));
        assert_eq!(interner.len(), 2);
        // Another interner of the kind still has room: the bound is per interner.
        assert_eq!(
            Interner::with_capacity(Kind::Labels, 1).get("cap-c"),
            Some("cap-c")
        );
        // A full interner adds nothing to the pool: its flood can't use up the others' room.
        let full = Interner::with_capacity(Kind::Labels, 0);
        assert_eq!(full.get("never-kept"), None);
        let pool = Pool::of(Kind::Labels);
        assert_eq!(pool.texts.read("never-kept", |t| *t), None);
        // Nor past its share of the pool's bytes, however few values it holds.
        let long = Interner::with_capacity(Kind::Labels, MAX_INTERNED);
        let kept = (0..10)
            .filter(|i| long.get(&format!("{i}{}", "L".repeat(60 * 1024))).is_some())
            .count();
        assert_eq!(
            kept,
            INTERNER_BYTES / (60 * 1024 + 1),
            "a quarter of the pool's bytes"
        );
    }

    #[test]
    fn a_pool_is_bounded_in_bytes_and_values() {
        // A pool of its own, so other tests' values don't count.
        let pool = Pool::new();
        let big = "x".repeat(POOL_BYTES / 2);
        assert!(pool.get(&big).is_some());
        let other = "y".repeat(POOL_BYTES / 2);
        assert!(pool.get(&other).is_some(), "exactly the budget fits");
        assert_eq!(pool.get("z"), None, "past the byte budget");
        assert_eq!(
            pool.get(&big).map(str::len),
            Some(POOL_BYTES / 2),
            "kept values stay"
        );
        assert_eq!(pool.len(), 2);

        let pool = Pool::new();
        for i in 0..POOL_CAPACITY {
            assert!(pool.get(&i.to_string()).is_some());
        }
        assert_eq!(pool.get("one more"), None, "past the value budget");
        assert_eq!(pool.len(), POOL_CAPACITY);
    }

    #[test]
    fn racing_interners_agree_on_one_text() {
        let texts: Vec<Vec<usize>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    scope.spawn(|| {
                        let interner = Interner::with_capacity(Kind::Addresses, 64);
                        (0..64)
                            .map(|i| {
                                interner.get(&format!("race-{i}.example")).unwrap().as_ptr()
                                    as usize
                            })
                            .collect()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(texts.windows(2).all(|w| w[0] == w[1]));
    }
}
