//! Instruments with their label sets prepared once, cached per layer.
//!
//! Written by hand because it is several times cheaper than what a middleware usually does per
//! call: build the attributes (`KeyValue`s, a reference count per shared value), pass them to
//! an unbound `record(value, &attributes)`, drop them. Here the label set is identified by a
//! small [`SeriesKey`] of pointers and integers, looked up without a lock in a bounded map
//! (`SnapshotMap`: no shared memory written per lookup, so cores don't contend), and its
//! attributes are built once, the first time the set is seen:
//!
//! - on the stable metrics API, as a sorted attribute slice kept for the series (the SDK then
//!   finds its series on its first lookup and we build, clone and drop nothing per request);
//! - with the opt-in `bound-instruments` feature, as an OpenTelemetry bound instrument
//!   (`Histogram::bind`, `UpDownCounter::bind`): the SDK then skips its own hashing and lookup
//!   (about 2,000 instructions for five attributes) too.
//!
//! Bounded: past [`MAX_SERIES`] label sets per instrument, recording falls back to the
//! ordinary unbound call (the SDK's cardinality limit then applies as usual).

use std::sync::Arc;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Histogram, UpDownCounter};
use tower_telemetry_trace::__private::SnapshotMap;

/// Label sets kept prepared per instrument.
pub(crate) const MAX_SERIES: usize = 2048;

/// A label value identified by where it lives: `'static` text (a constant, or a value interned
/// for the process's lifetime), so equal `(address, length)` means equal text. Two copies of
/// the same text at different addresses only prepare twice the same SDK series, which is
/// harmless. Per-request (owned) strings must never become atoms: their address could be
/// reused by different text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Atom(usize, usize);

impl Atom {
    pub(crate) const NONE: Atom = Atom(0, 0);

    pub(crate) fn of_static(s: &'static str) -> Atom {
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
pub(crate) type SeriesMap<V> = SnapshotMap<SeriesKey, V, rustc_hash::FxBuildHasher>;

/// An instrument whose label sets can be prepared.
pub(crate) trait Prepare {
    /// The measurement type.
    type Value: Copy;
    /// A prepared label set.
    type Prepared: Clone;
    /// The unbound call.
    fn record(&self, value: Self::Value, attributes: &[KeyValue]);
    /// Prepares `attributes`.
    fn prepare(&self, attributes: &[KeyValue]) -> Self::Prepared;
    /// Records through a prepared label set.
    fn record_prepared(&self, prepared: &Self::Prepared, value: Self::Value);
}

#[cfg(feature = "bound-instruments")]
macro_rules! prepare_impl {
    ($instrument:ident, $bound:ident, $value:ty, $record:ident) => {
        impl Prepare for $instrument<$value> {
            type Value = $value;
            type Prepared = opentelemetry::metrics::$bound<$value>;
            #[inline]
            fn record(&self, value: $value, attributes: &[KeyValue]) {
                self.$record(value, attributes);
            }
            fn prepare(&self, attributes: &[KeyValue]) -> Self::Prepared {
                $instrument::bind(self, attributes)
            }
            #[inline]
            fn record_prepared(&self, bound: &Self::Prepared, value: $value) {
                bound.$record(value);
            }
        }
    };
}

#[cfg(not(feature = "bound-instruments"))]
macro_rules! prepare_impl {
    ($instrument:ident, $_bound:ident, $value:ty, $record:ident) => {
        impl Prepare for $instrument<$value> {
            type Value = $value;
            type Prepared = Arc<[KeyValue]>;
            #[inline]
            fn record(&self, value: $value, attributes: &[KeyValue]) {
                self.$record(value, attributes);
            }
            fn prepare(&self, attributes: &[KeyValue]) -> Self::Prepared {
                sorted(attributes)
            }
            #[inline]
            fn record_prepared(&self, attributes: &Self::Prepared, value: $value) {
                self.$record(value, attributes);
            }
        }
    };
}

prepare_impl!(Histogram, BoundHistogram, f64, record);
prepare_impl!(Histogram, BoundHistogram, u64, record);
prepare_impl!(UpDownCounter, BoundUpDownCounter, i64, add);

/// `attributes` sorted by key, as the SDK keeps a series' attributes: its lookup tries the
/// order given first, so a sorted set is found at once (no sort, no second hash).
#[cfg_attr(feature = "bound-instruments", allow(dead_code))]
fn sorted(attributes: &[KeyValue]) -> Arc<[KeyValue]> {
    let mut sorted = attributes.to_vec();
    sorted.sort_by(|a, b| a.key.cmp(&b.key));
    sorted.into()
}

/// An instrument and its prepared label sets.
pub(crate) struct Cached<I: Prepare> {
    instrument: I,
    series: SeriesMap<I::Prepared>,
}

impl<I: Prepare + std::fmt::Debug> std::fmt::Debug for Cached<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Cached").field(&self.instrument).finish()
    }
}

impl<I: Prepare> Cached<I> {
    pub(crate) fn new(instrument: I) -> Self {
        Self::with_capacity(instrument, MAX_SERIES)
    }

    fn with_capacity(instrument: I, capacity: usize) -> Self {
        Cached {
            instrument,
            series: SnapshotMap::with_capacity(capacity),
        }
    }

    /// Records `value` for the label set `key`; `attributes` builds that set's attributes,
    /// called only when the set is not prepared yet (or the cache is full).
    #[inline]
    pub(crate) fn record<A>(&self, key: &SeriesKey, value: I::Value, attributes: impl FnOnce() -> A)
    where
        A: AsRef<[KeyValue]>,
    {
        let recorded = self.series.read(key, |prepared| {
            self.instrument.record_prepared(prepared, value);
        });
        if recorded.is_none() {
            self.record_slow(key, value, attributes().as_ref());
        }
    }

    /// Records without a key (label sets that are not made of atoms).
    pub(crate) fn record_unbound(&self, value: I::Value, attributes: &[KeyValue]) {
        self.instrument.record(value, attributes);
    }

    #[cold]
    fn record_slow(&self, key: &SeriesKey, value: I::Value, attributes: &[KeyValue]) {
        let recorded = self.series.insert_with(
            key,
            || (*key, self.instrument.prepare(attributes)),
            |prepared| {
                self.instrument.record_prepared(prepared, value);
            },
        );
        if recorded.is_none() {
            self.instrument.record(value, attributes);
        }
    }

    /// How many label sets are prepared.
    #[cfg(test)]
    pub(crate) fn prepared_len(&self) -> usize {
        self.series.len()
    }
}

#[cfg(test)]
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
    fn prepared_and_unbound_series_add_up_and_the_cache_is_bounded() {
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
            // A prepared set never builds its attributes again; past the cap, sets are
            // recorded unbound, into the same series.
            counter.record(&key(n), 2, || {
                assert!(
                    usize::from(n) >= CAP,
                    "set {n} is prepared: attributes rebuilt"
                );
                attrs(n)
            });
        }
        counter.record_unbound(8, &attrs(0));
        counter.record(&key(0), -1, || -> [KeyValue; 1] { panic!("prepared") });
        assert_eq!(counter.prepared_len(), CAP);
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
        assert_eq!(value(0), Some(10), "prepared 1 + 2 - 1, unbound 8");
        assert_eq!(value(1), Some(3));
        assert_eq!(
            value(CAP as u16 + 1),
            Some(3),
            "a set past the cap, unbound"
        );
    }
}
