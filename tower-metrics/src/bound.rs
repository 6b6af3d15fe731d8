//! Instruments bound to their label sets, cached per layer.
//!
//! Written by hand because it is several times cheaper than what the SDK does per call: an
//! unbound `record(value, &attributes)` makes the SDK hash every `KeyValue` (key and value
//! bytes, SipHash) and compare them against its map, about 2,000 instructions for five
//! attributes, twice more per request for the in-flight counter. Here the label set is
//! identified by a small [`SeriesKey`] of pointers and integers, looked up in a map that only
//! this layer writes, and recorded through OpenTelemetry's bound instruments
//! (`Histogram::bind`, `UpDownCounter::bind`): the SDK then skips its own lookup too. The
//! attributes are only built the first time a label set is seen.
//!
//! Bounded: past [`MAX_SERIES`] label sets per instrument, recording falls back to the
//! ordinary unbound call (the SDK's cardinality limit then applies as usual). Without the
//! `bound-instruments` feature everything here is the unbound call.

use std::sync::Arc;
#[cfg(feature = "bound-instruments")]
use std::sync::RwLock;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Histogram, UpDownCounter};

/// Label sets kept bound per instrument.
pub(crate) const MAX_SERIES: usize = 2048;

/// A label value identified by where it lives: `'static` text or a value interned for the
/// layer's lifetime (never freed while the layer exists), so equal `(address, length)` means
/// equal text. Two copies of the same text at different addresses only bind twice to the same
/// SDK series, which is harmless. Per-request (owned) strings must never become atoms: their
/// address could be reused by different text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Atom(usize, usize);

impl Atom {
    pub(crate) const NONE: Atom = Atom(0, 0);

    pub(crate) fn of_static(s: &'static str) -> Atom {
        Atom(s.as_ptr() as usize, s.len())
    }

    /// `s` must be interned (kept alive, unchanged, as long as the layer).
    pub(crate) fn of_interned(s: &Arc<str>) -> Atom {
        Atom(s.as_ptr() as usize, s.len())
    }
}

/// One label set of one instrument: the atoms and numbers its attributes are made of, in a
/// fixed order per instrument.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct SeriesKey {
    pub(crate) atoms: [Atom; 6],
    pub(crate) numbers: [u32; 2],
}

/// FxHash (rustc's hasher): the keys are a few machine words chosen by this crate from
/// bounded sets, so a multiply-rotate per word is enough, and much cheaper than SipHash.
#[cfg(feature = "bound-instruments")]
type Map<B> = RwLock<rustc_hash::FxHashMap<SeriesKey, B>>;

/// An instrument that can be bound to a label set.
pub(crate) trait Bind {
    /// The measurement type.
    type Value: Copy;
    /// The unbound call.
    fn record(&self, value: Self::Value, attributes: &[KeyValue]);
    /// The bound handle.
    #[cfg(feature = "bound-instruments")]
    type Bound;
    /// Binds to `attributes`.
    #[cfg(feature = "bound-instruments")]
    fn bind(&self, attributes: &[KeyValue]) -> Self::Bound;
    /// The bound call.
    #[cfg(feature = "bound-instruments")]
    fn record_bound(bound: &Self::Bound, value: Self::Value);
}

#[cfg(feature = "bound-instruments")]
macro_rules! bind_impl {
    ($instrument:ident, $bound:ident, $value:ty, $record:ident) => {
        impl Bind for $instrument<$value> {
            type Value = $value;
            type Bound = opentelemetry::metrics::$bound<$value>;
            #[inline]
            fn record(&self, value: $value, attributes: &[KeyValue]) {
                self.$record(value, attributes);
            }
            fn bind(&self, attributes: &[KeyValue]) -> Self::Bound {
                $instrument::bind(self, attributes)
            }
            #[inline]
            fn record_bound(bound: &Self::Bound, value: $value) {
                bound.$record(value);
            }
        }
    };
}

#[cfg(not(feature = "bound-instruments"))]
macro_rules! bind_impl {
    ($instrument:ident, $_bound:ident, $value:ty, $record:ident) => {
        impl Bind for $instrument<$value> {
            type Value = $value;
            #[inline]
            fn record(&self, value: $value, attributes: &[KeyValue]) {
                self.$record(value, attributes);
            }
        }
    };
}

bind_impl!(Histogram, BoundHistogram, f64, record);
bind_impl!(Histogram, BoundHistogram, u64, record);
bind_impl!(UpDownCounter, BoundUpDownCounter, i64, add);

/// An instrument and its bound label sets.
pub(crate) struct Cached<I: Bind> {
    instrument: I,
    #[cfg(feature = "bound-instruments")]
    bound: Map<I::Bound>,
    #[cfg(feature = "bound-instruments")]
    capacity: usize,
}

impl<I: Bind + std::fmt::Debug> std::fmt::Debug for Cached<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Cached").field(&self.instrument).finish()
    }
}

impl<I: Bind> Cached<I> {
    pub(crate) fn new(instrument: I) -> Self {
        Self::with_capacity(instrument, MAX_SERIES)
    }

    #[cfg_attr(not(feature = "bound-instruments"), allow(unused_variables))]
    fn with_capacity(instrument: I, capacity: usize) -> Self {
        Cached {
            instrument,
            #[cfg(feature = "bound-instruments")]
            bound: RwLock::default(),
            #[cfg(feature = "bound-instruments")]
            capacity,
        }
    }

    /// Records `value` for the label set `key`; `attributes` builds that set's attributes,
    /// called only when the set is not bound yet (or the cache is full).
    #[cfg(feature = "bound-instruments")]
    pub(crate) fn record<A>(&self, key: &SeriesKey, value: I::Value, attributes: impl FnOnce() -> A)
    where
        A: AsRef<[KeyValue]>,
    {
        if let Ok(bound) = self.bound.read() {
            if let Some(bound) = bound.get(key) {
                I::record_bound(bound, value);
                return;
            }
        }
        self.record_slow(key, value, attributes().as_ref());
    }

    /// Without the `bound-instruments` feature: the unbound call.
    #[cfg(not(feature = "bound-instruments"))]
    pub(crate) fn record<A>(&self, _: &SeriesKey, value: I::Value, attributes: impl FnOnce() -> A)
    where
        A: AsRef<[KeyValue]>,
    {
        self.instrument.record(value, attributes().as_ref());
    }

    /// Records without a key (label sets that are not made of atoms).
    pub(crate) fn record_unbound(&self, value: I::Value, attributes: &[KeyValue]) {
        self.instrument.record(value, attributes);
    }

    #[cfg(feature = "bound-instruments")]
    #[cold]
    fn record_slow(&self, key: &SeriesKey, value: I::Value, attributes: &[KeyValue]) {
        if let Ok(mut bound) = self.bound.write() {
            if let Some(bound) = bound.get(key) {
                I::record_bound(bound, value);
                return;
            }
            if bound.len() < self.capacity {
                let handle = self.instrument.bind(attributes);
                I::record_bound(&handle, value);
                bound.insert(*key, handle);
                return;
            }
        }
        self.instrument.record(value, attributes);
    }

    /// How many label sets are bound.
    #[cfg(all(test, feature = "bound-instruments"))]
    pub(crate) fn bound_len(&self) -> usize {
        self.bound.read().map_or(0, |b| b.len())
    }
}

#[cfg(all(test, feature = "bound-instruments"))]
mod tests {
    use super::*;
    use opentelemetry::metrics::MeterProvider;
    use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
    use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};

    fn key(n: u16) -> SeriesKey {
        SeriesKey {
            atoms: [
                Atom::of_static("GET"),
                Atom::NONE,
                Atom::NONE,
                Atom::NONE,
                Atom::NONE,
                Atom::NONE,
            ],
            numbers: [u32::from(n), 0],
        }
    }

    #[test]
    fn bound_and_unbound_series_add_up_and_the_cache_is_bounded() {
        const CAP: usize = 8;
        let exporter = InMemoryMetricExporter::default();
        let provider = SdkMeterProvider::builder()
            .with_reader(PeriodicReader::builder(exporter.clone()).build())
            .build();
        let counter =
            Cached::with_capacity(provider.meter("t").i64_up_down_counter("c").build(), CAP);
        let attrs = |n: u16| [KeyValue::new("n", i64::from(n))];
        for n in 0..(CAP as u16 + 2) {
            counter.record(&key(n), 1, || attrs(n));
            // A bound set never builds its attributes again; past the cap, sets are
            // recorded unbound, into the same series.
            counter.record(&key(n), 2, || {
                assert!(
                    usize::from(n) >= CAP,
                    "set {n} is bound: attributes rebuilt"
                );
                attrs(n)
            });
        }
        counter.record_unbound(8, &attrs(0));
        counter.record(&key(0), -1, || -> [KeyValue; 1] { panic!("bound") });
        assert_eq!(counter.bound_len(), CAP);
        provider.force_flush().unwrap();
        let metrics = exporter.get_finished_metrics().unwrap();
        let scope = metrics.last().unwrap().scope_metrics().next().unwrap();
        let metric = scope.metrics().next().unwrap();
        let AggregatedMetrics::I64(MetricData::Sum(sum)) = metric.data() else {
            panic!("not an i64 sum: {:?}", metric.data())
        };
        let value = |n: u16| {
            sum.data_points()
                .find(|p| p.attributes().any(|kv| kv.value.as_str() == n.to_string()))
                .map(|p| p.value())
        };
        assert_eq!(sum.data_points().count(), CAP + 2);
        assert_eq!(value(0), Some(10), "bound 1 + 2 - 1, unbound 8");
        assert_eq!(value(1), Some(3));
        assert_eq!(
            value(CAP as u16 + 1),
            Some(3),
            "a set past the cap, unbound"
        );
    }
}
