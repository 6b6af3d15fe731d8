//! Interned label and name values, so per-request telemetry allocates nothing for values seen
//! before: routes, RPC methods, server addresses, span names.
//!
//! Bounded by construction: past [`MAX_INTERNED`] distinct values an interner answers `None`
//! and the caller falls back (to an allocation, an `_OTHER`, or no label), so a hostile or
//! buggy source of values cannot grow memory without limit.

use std::sync::{Arc, OnceLock};

use super::snapshot::SnapshotMap;

/// Distinct values kept per interner.
pub const MAX_INTERNED: usize = 1000;

/// A bounded set of shared strings: each distinct value allocates once, and past the capacity
/// new values are refused (the caller falls back to `_OTHER` or no label), so label values
/// from requests cannot grow memory or cardinality without limit.
#[derive(Debug)]
pub struct Interner {
    /// Bounded, so a flood of new values can't grow it; randomly seeded and read without a
    /// lock (see [`SnapshotMap`]). Each value is its own key.
    values: SnapshotMap<Arc<str>, Arc<str>>,
}

impl Default for Interner {
    fn default() -> Self {
        Interner::with_capacity(MAX_INTERNED)
    }
}

impl Interner {
    /// An interner keeping at most `capacity` distinct values.
    pub fn with_capacity(capacity: usize) -> Self {
        Interner {
            values: SnapshotMap::with_capacity(capacity),
        }
    }

    /// The shared copy of `value`, interning it if there is room; `None` when full.
    #[inline]
    pub fn get(&self, value: &str) -> Option<Arc<str>> {
        self.values.read(value, Arc::clone).or_else(|| {
            self.values.insert_with(
                value,
                || {
                    let interned: Arc<str> = Arc::from(value);
                    (Arc::clone(&interned), interned)
                },
                Arc::clone,
            )
        })
    }
}

/// The interners of one layer, shared by its signals.
#[derive(Debug, Default)]
pub(crate) struct Interners {
    pub(crate) routes: Interner,
    pub(crate) methods: Interner,
    pub(crate) addresses: Interner,
    pub(crate) user_agents: Interner,
}

/// Span names are `Cow<'static, str>` in OpenTelemetry, so an interned name must be
/// `'static`: each distinct `"{method} {target}"` (or `target` alone for an empty method) is
/// leaked once, process-wide, and at most `4 × MAX_INTERNED` of them are kept (then, and for a
/// method outside [`METHODS`], the caller formats the name per request).
///
/// Hashed as in [`Interner`] (SipHash of the method and the route cost about 500 instructions
/// per request) and read without a lock, one map per method (see [`SnapshotMap`]).
pub(crate) fn span_name(method: &'static str, target: &str) -> Option<&'static str> {
    struct Names {
        by_method: [SnapshotMap<Arc<str>, &'static str>; METHODS.len()],
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
            let name = if method.is_empty() {
                target.to_owned()
            } else {
                format!("{method} {target}")
            };
            (Arc::from(target), &*Box::leak(name.into_boxed_str()))
        },
        |name| *name,
    )?;
    *count += 1;
    Some(name)
}

/// The methods span names are interned for: none (a name that is the target alone), the
/// methods `http.request.method` knows, and `_OTHER`.
const METHODS: [&str; 12] = [
    "",
    "GET",
    "POST",
    "PUT",
    "DELETE",
    "HEAD",
    "OPTIONS",
    "PATCH",
    "CONNECT",
    "TRACE",
    "QUERY",
    super::attributes::OTHER,
];
