//! Interned label and name values, so per-request telemetry allocates nothing for values seen
//! before: routes, RPC methods, server addresses, span names.
//!
//! Bounded by construction: past [`MAX_INTERNED`] distinct values an interner answers `None`
//! and the caller falls back (to an allocation, an `_OTHER`, or no label), so a hostile or
//! buggy source of values cannot grow memory without limit.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

/// The interners' hash: foldhash, seeded at random per map. Not SipHash: a short label costs a
/// few machine words instead of ~100 instructions, per request. Not FxHash either: the values
/// come from requests (`Host`, `User-Agent`, gRPC method names), and with an unkeyed hash a
/// client could fill an interner with colliding values and make every later lookup walk them
/// all; a random seed per map makes collisions unpredictable.
type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Distinct values kept per interner.
pub const MAX_INTERNED: usize = 1000;

/// A bounded set of shared strings: each distinct value allocates once, and past the capacity
/// new values are refused (the caller falls back to `_OTHER` or no label), so label values
/// from requests cannot grow memory or cardinality without limit.
#[derive(Debug)]
pub struct Interner {
    /// Bounded, so a flood of new values can't grow it; randomly seeded (see [`Map`]).
    values: RwLock<Map<Box<str>, Arc<str>>>,
    capacity: usize,
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
            values: RwLock::default(),
            capacity,
        }
    }

    /// An empty interner.
    /// The shared copy of `value`, interning it if there is room; `None` when full.
    pub fn get(&self, value: &str) -> Option<Arc<str>> {
        if let Some(v) = self.values.read().ok()?.get(value) {
            return Some(Arc::clone(v));
        }
        let mut values = self.values.write().ok()?;
        if let Some(v) = values.get(value) {
            return Some(Arc::clone(v));
        }
        if values.len() >= self.capacity {
            return None;
        }
        let interned: Arc<str> = Arc::from(value);
        values.insert(Box::from(value), Arc::clone(&interned));
        Some(interned)
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
/// `'static`: each distinct `"{method} {target}"` (or `target` alone for an empty method) is leaked once, process-wide, and at most
/// `4 × MAX_INTERNED` of them are kept (then the caller formats the name per request).
///
/// Hashed as in [`Interner`] ([`Map`]): SipHash of the method and the route cost about 500
/// instructions per request; the map is bounded.
pub(crate) fn span_name(method: &'static str, target: &str) -> Option<&'static str> {
    type Names = Map<&'static str, Map<Box<str>, &'static str>>;
    static NAMES: OnceLock<RwLock<(Names, usize)>> = OnceLock::new();
    let names = NAMES.get_or_init(Default::default);
    if let Some(name) = names
        .read()
        .ok()?
        .0
        .get(method)
        .and_then(|by_target| by_target.get(target))
    {
        return Some(name);
    }
    let mut guard = names.write().ok()?;
    let (names, count) = &mut *guard;
    if let Some(name) = names
        .get(method)
        .and_then(|by_target| by_target.get(target))
    {
        return Some(name);
    }
    if *count >= 4 * MAX_INTERNED {
        return None;
    }
    let name = if method.is_empty() {
        target.to_owned()
    } else {
        format!("{method} {target}")
    };
    let name: &'static str = Box::leak(name.into_boxed_str());
    names
        .entry(method)
        .or_default()
        .insert(Box::from(target), name);
    *count += 1;
    Some(name)
}
