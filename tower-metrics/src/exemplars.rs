//! Exemplars: for each bucket of each duration series, the last sampled measurement and the
//! span it belongs to, so a Prometheus user can go from a slow bucket to its trace.
//!
//! Written here because the SDK collects none in 0.33 (its data points' exemplar lists are
//! always empty, with no feature to fill them), while the layer holds both facts at the moment
//! it records: the span's ids and the measured duration.
//!
//! The reservoir is the OpenTelemetry SDK specification's `AlignedHistogramBucketExemplarReservoir`
//! ("Metrics SDK", Exemplar defaults): one exemplar per bucket of the series' explicit
//! boundaries, the latest offered wins. Which measurements are offered is the specification's
//! `ExemplarFilter` (`trace_based` by default; `OTEL_METRICS_EXEMPLAR_FILTER`).
//!
//! # Cost
//!
//! An unsampled request offers nothing and touches nothing here. A sampled one looks its
//! series up without a lock (as `crate::bound` does: plain loads; a lock is only taken the
//! first time a series is seen) and writes its bucket's slot: a sequence lock made of atomics.
//! That write is the one shared write a sampled measurement makes here by design (the latest
//! offered wins): under the load test, with requests of one route on both cores, perf puts the
//! slot's cache misses at about 0.05 µs per measurement. A writer that finds the slot busy (another request writing
//! the same bucket of the same series at the same instant) skips its offer rather than wait:
//! the reservoir keeps *a* recent measurement, never a queue, so a request never blocks here.
//! The scrape reads a slot again if a writer moved under it. No allocation per request: the
//! series' label text is built once, when the series is first seen; at most [`MAX_SERIES`]
//! series per instrument are kept.

#[cfg(feature = "prometheus")]
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering, fence};
use std::sync::{Arc, Mutex, Weak};
use std::time::SystemTime;

use opentelemetry::KeyValue;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceId};

use crate::bound::{MAX_SERIES, SeriesKey, SeriesMap};

/// Which measurements offer an exemplar: the OpenTelemetry metrics SDK specification's
/// `ExemplarFilter`, read by the facade's setup from `OTEL_METRICS_EXEMPLAR_FILTER`. Set it on
/// a layer with [`MetricsLayer::with_exemplars`](crate::MetricsLayer::with_exemplars).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExemplarFilter {
    /// Measurements made in a sampled span (the specification's default): exactly the
    /// requests whose trace can be found.
    #[default]
    TraceBased,
    /// Every measurement made in a span with valid ids, sampled or not.
    AlwaysOn,
    /// None: no exemplar is kept, at no cost.
    AlwaysOff,
}

impl ExemplarFilter {
    /// The filter named as `OTEL_METRICS_EXEMPLAR_FILTER` names it (`trace_based`,
    /// `always_on`, `always_off`; case-insensitive), `None` for any other text.
    ///
    /// ```
    /// use tower_telemetry_metrics::ExemplarFilter;
    /// assert_eq!(ExemplarFilter::from_name("always_off"), Some(ExemplarFilter::AlwaysOff));
    /// assert_eq!(ExemplarFilter::from_name("sometimes"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Self> {
        [
            ("trace_based", Self::TraceBased),
            ("always_on", Self::AlwaysOn),
            ("always_off", Self::AlwaysOff),
        ]
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name.trim()))
        .map(|(_, f)| f)
    }

    /// The span ids a measurement made in `cx`'s span offers, if the filter admits it.
    #[inline]
    pub(crate) fn admit(self, span: &SpanContext) -> Option<Ids> {
        // The flag first: an unsampled request is turned away by one bit test.
        let admitted = match self {
            Self::AlwaysOff => false,
            Self::AlwaysOn => span.is_valid(),
            Self::TraceBased => span.is_sampled() && span.is_valid(),
        };
        admitted.then(|| Ids {
            trace: u128::from_be_bytes(span.trace_id().to_bytes()),
            span: u64::from_be_bytes(span.span_id().to_bytes()),
        })
    }

    /// [`admit`](Self::admit) for the span of `cx`.
    #[inline]
    pub(crate) fn admit_context(self, cx: &opentelemetry::Context) -> Option<Ids> {
        if self == Self::AlwaysOff || !cx.has_active_span() {
            return None;
        }
        self.admit(cx.span().span_context())
    }
}

/// A span's ids, copied (no allocation, no reference count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ids {
    pub(crate) trace: u128,
    pub(crate) span: u64,
}

/// One kept exemplar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Exemplar {
    pub(crate) ids: Ids,
    pub(crate) value: f64,
    /// Nanoseconds since the Unix epoch.
    pub(crate) time_nanos: u64,
}

/// One bucket's exemplar behind a sequence lock of atomics (no `unsafe`: every field is an
/// atomic, so a torn read is detected by the sequence, never undefined).
#[derive(Debug, Default)]
struct Slot {
    /// Even: stable (0: never written); odd: a writer is in.
    seq: AtomicU64,
    trace_hi: AtomicU64,
    trace_lo: AtomicU64,
    span: AtomicU64,
    value: AtomicU64,
    time: AtomicU64,
}

impl Slot {
    /// Writes `e`, unless another writer is in (then the offer is dropped: never wait).
    #[inline]
    fn offer(&self, e: &Exemplar) {
        let seq = self.seq.load(Ordering::Relaxed);
        if seq & 1 == 1
            || self
                .seq
                .compare_exchange(seq, seq + 1, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        // A reader that sees any of the stores below also sees the odd sequence.
        fence(Ordering::Release);
        self.trace_hi
            .store((e.ids.trace >> 64) as u64, Ordering::Relaxed);
        self.trace_lo.store(e.ids.trace as u64, Ordering::Relaxed);
        self.span.store(e.ids.span, Ordering::Relaxed);
        self.value.store(e.value.to_bits(), Ordering::Relaxed);
        self.time.store(e.time_nanos, Ordering::Relaxed);
        self.seq.store(seq + 2, Ordering::Release);
    }

    /// A consistent copy, `None` if never written (or writers kept moving under the reader).
    fn read(&self) -> Option<Exemplar> {
        for _ in 0..64 {
            let before = self.seq.load(Ordering::Acquire);
            if before == 0 {
                return None;
            }
            if before & 1 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let e = Exemplar {
                ids: Ids {
                    trace: (u128::from(self.trace_hi.load(Ordering::Relaxed)) << 64)
                        | u128::from(self.trace_lo.load(Ordering::Relaxed)),
                    span: self.span.load(Ordering::Relaxed),
                },
                value: f64::from_bits(self.value.load(Ordering::Relaxed)),
                time_nanos: self.time.load(Ordering::Relaxed),
            };
            fence(Ordering::Acquire);
            if self.seq.load(Ordering::Relaxed) == before {
                return Some(e);
            }
        }
        None
    }
}

/// A label set as Prometheus names it: sanitized keys, sorted by key.
pub(crate) type Labels = Box<[(String, String)]>;

/// One series: its labels and a slot per bucket (the last one is `+Inf`).
#[derive(Debug)]
struct Series {
    labels: Labels,
    slots: Box<[Slot]>,
}

/// The exemplars of one histogram instrument.
#[derive(Debug)]
pub(crate) struct Exemplars {
    /// The metric family's name as the Prometheus exporter writes it (name and unit suffix).
    family: String,
    bounds: &'static [f64],
    /// Read without a lock (see `SnapshotMap`): every sampled request looks its series up.
    series: SeriesMap<Arc<Series>>,
}

impl Exemplars {
    /// The exemplars of the histogram `name` (unit `unit`, boundaries `bounds`), registered
    /// where the Prometheus service finds them.
    pub(crate) fn register(name: &str, unit: &str, bounds: &'static [f64]) -> Arc<Self> {
        let exemplars = Arc::new(Self::new(name, unit, bounds, MAX_SERIES));
        if let Ok(mut all) = REGISTRY.lock() {
            all.retain(|w| w.strong_count() > 0);
            all.push(Arc::downgrade(&exemplars));
        }
        exemplars
    }

    fn new(name: &str, unit: &str, bounds: &'static [f64], capacity: usize) -> Self {
        // The exporter's naming (OpenTelemetry "Prometheus and OpenMetrics Compatibility"
        // specification, metric metadata): the name sanitized, then the unit's suffix.
        let suffix = match unit {
            "s" => "_seconds",
            "ms" => "_milliseconds",
            _ => "",
        };
        Exemplars {
            family: format!("{}{suffix}", sanitize(name)),
            bounds,
            series: SeriesMap::with_capacity(capacity),
        }
    }

    /// Offers the measurement `value` made in the span `ids` at `time` to the bucket of the
    /// series `key`; `attributes` builds that series' attributes, called only for a series
    /// seen for the first time.
    #[inline]
    pub(crate) fn offer<A: AsRef<[KeyValue]>>(
        &self,
        key: &SeriesKey,
        value: f64,
        ids: Ids,
        time: SystemTime,
        attributes: impl FnOnce() -> A,
    ) {
        if value.is_nan() {
            return;
        }
        let exemplar = Exemplar {
            ids,
            value,
            time_nanos: time
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
        };
        // Explicit-bucket histograms count `value` in the first bucket whose upper bound is
        // >= value (bounds inclusive), else in `+Inf`.
        let bucket = self.bounds.partition_point(|b| *b < value);
        let offer = |series: &Arc<Series>| series.slots[bucket].offer(&exemplar);
        if self.series.read(key, offer).is_none() {
            self.insert(key, offer, attributes().as_ref());
        }
    }

    /// Adds the series `key` (unless full) and `offer`s to it.
    #[cold]
    fn insert(&self, key: &SeriesKey, offer: impl FnOnce(&Arc<Series>), attrs: &[KeyValue]) {
        let make = || {
            let mut labels: Vec<(String, String)> = attrs
                .iter()
                .map(|kv| (sanitize(kv.key.as_str()), kv.value.as_str().into_owned()))
                .collect();
            labels.sort();
            let slots = (0..=self.bounds.len()).map(|_| Slot::default()).collect();
            let series = Series {
                labels: labels.into_boxed_slice(),
                slots,
            };
            (*key, Arc::new(series))
        };
        self.series.insert_with(key, make, offer);
    }

    /// Each series' labels and the exemplar of each bucket (`+Inf` last).
    pub(crate) fn snapshot(&self) -> Vec<(Labels, Vec<Option<Exemplar>>)> {
        let mut all = Vec::with_capacity(self.series.len());
        self.series.for_each(|_, s| {
            all.push((s.labels.clone(), s.slots.iter().map(Slot::read).collect()));
        });
        all
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.series.len()
    }
}

/// Every live instrument's exemplars in the process: the Prometheus service joins them to
/// the series it serves by metric name and label set.
static REGISTRY: Mutex<Vec<Weak<Exemplars>>> = Mutex::new(Vec::new());

/// The live stores.
fn live() -> Vec<Arc<Exemplars>> {
    REGISTRY
        .lock()
        .map(|all| all.iter().filter_map(Weak::upgrade).collect())
        .unwrap_or_default()
}

/// The exemplars of a series: by family name, then by label set.
#[cfg(feature = "prometheus")]
pub(crate) type Index = HashMap<String, HashMap<Labels, Vec<Option<Exemplar>>>>;

/// Every registered series' exemplars, for one scrape.
#[cfg(feature = "prometheus")]
pub(crate) fn index() -> Index {
    let mut index = Index::new();
    for exemplars in live() {
        let family = index.entry(exemplars.family.clone()).or_default();
        for (labels, slots) in exemplars.snapshot() {
            // Two layers recording the same series: the later exemplar of each bucket.
            let merged = family.entry(labels).or_default();
            merged.resize(slots.len().max(merged.len()), None);
            for (m, s) in merged.iter_mut().zip(slots) {
                if s.is_some_and(|s| m.is_none_or(|m| m.time_nanos <= s.time_nanos)) {
                    *m = s;
                }
            }
        }
    }
    index
}

/// An exemplar the metrics layers keep, as [`kept_exemplars`] reads it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct KeptExemplar {
    /// The trace of the request measured.
    pub trace_id: TraceId,
    /// Its span (the server or client span of the layer that measured it).
    pub span_id: SpanId,
    /// The measured duration, in the instrument's unit.
    pub value: f64,
    /// When it was measured.
    pub time: SystemTime,
    /// The upper bound of its bucket (`+Inf` for the last).
    pub upper_bound: f64,
}

/// The exemplars of one series of one duration histogram, as [`kept_exemplars`] reads them.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SeriesExemplars {
    /// The metric as the Prometheus exporter names it (`http_server_request_duration_seconds`).
    pub metric: String,
    /// The series' labels as Prometheus names them (`http_route`), sorted, scope left out.
    pub labels: Vec<(String, String)>,
    /// One per bucket that has one, from the fastest bucket to the slowest.
    pub exemplars: Vec<KeptExemplar>,
}

/// Every exemplar the metrics layers of this process keep right now, per series: what the
/// Prometheus service writes on the `_bucket` lines, for a view of one's own (the demo's RED
/// table names the trace of each route's slowest bucket) or a test. A layer's exemplars go
/// when the layer is dropped.
///
/// ```
/// for series in tower_telemetry_metrics::kept_exemplars() {
///     if let Some(slowest) = series.exemplars.last() {
///         println!("{} {:?}: trace {}", series.metric, series.labels, slowest.trace_id);
///     }
/// }
/// ```
pub fn kept_exemplars() -> Vec<SeriesExemplars> {
    let mut out = Vec::new();
    for store in live() {
        for (labels, slots) in store.snapshot() {
            let exemplars = slots
                .iter()
                .enumerate()
                .filter_map(|(i, slot)| {
                    slot.map(|e| KeptExemplar {
                        trace_id: TraceId::from_bytes(e.ids.trace.to_be_bytes()),
                        span_id: SpanId::from_bytes(e.ids.span.to_be_bytes()),
                        value: e.value,
                        time: SystemTime::UNIX_EPOCH
                            + std::time::Duration::from_nanos(e.time_nanos),
                        upper_bound: store.bounds.get(i).copied().unwrap_or(f64::INFINITY),
                    })
                })
                .collect();
            out.push(SeriesExemplars {
                metric: store.family.clone(),
                labels: labels.into_vec(),
                exemplars,
            });
        }
    }
    out
}

/// A name as a Prometheus label or metric name: characters other than ASCII letters, digits,
/// `_` and `:` become `_`, and a leading digit gets a `_` in front (the exporter's rule).
pub(crate) fn sanitize(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

#[cfg(test)]
mod tests;
