//! Metric points, as a test reads them.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use opentelemetry_sdk::metrics::data::{AggregatedMetrics, Metric, MetricData, ResourceMetrics};

/// One histogram point: its attributes (as text), count, sum and buckets.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct HistogramPoint {
    /// The attributes, `key → value` as text (`"200"` for the integer 200).
    pub attributes: BTreeMap<String, String>,
    /// How many values were recorded.
    pub count: u64,
    /// Their sum.
    pub sum: f64,
    /// The bucket boundaries.
    pub bounds: Vec<f64>,
    /// The count per bucket (one more than `bounds`).
    pub buckets: Vec<u64>,
}

/// One counter or up-down counter point: its attributes (as text) and value.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SumPoint {
    /// The attributes, `key → value` as text.
    pub attributes: BTreeMap<String, String>,
    /// The value (integers as `f64`, exactly up to 2⁵³).
    pub value: f64,
}

/// The points of one histogram, collected when it was asked for.
#[derive(Debug, Clone)]
pub struct Histogram {
    name: String,
    points: Vec<HistogramPoint>,
}

/// The points of one counter or up-down counter, collected when it was asked for.
#[derive(Debug, Clone)]
pub struct Sum {
    name: String,
    points: Vec<SumPoint>,
}

impl Histogram {
    pub(super) fn new(name: &str, metrics: &[ResourceMetrics]) -> Self {
        let points = find(name, metrics)
            .into_iter()
            .flat_map(|metric| match metric.data() {
                AggregatedMetrics::F64(MetricData::Histogram(h)) => h
                    .data_points()
                    .map(|p| HistogramPoint {
                        attributes: text(p.attributes()),
                        count: p.count(),
                        sum: p.sum(),
                        bounds: p.bounds().collect(),
                        buckets: p.bucket_counts().collect(),
                    })
                    .collect::<Vec<_>>(),
                #[allow(clippy::cast_precision_loss)]
                AggregatedMetrics::U64(MetricData::Histogram(h)) => h
                    .data_points()
                    .map(|p| HistogramPoint {
                        attributes: text(p.attributes()),
                        count: p.count(),
                        sum: p.sum() as f64,
                        bounds: p.bounds().collect(),
                        buckets: p.bucket_counts().collect(),
                    })
                    .collect(),
                other => panic!("{name} is not a histogram: {other:?}"),
            })
            .collect();
        Histogram {
            name: name.to_owned(),
            points,
        }
    }

    /// Every point.
    pub fn points(&self) -> &[HistogramPoint] {
        &self.points
    }

    /// The one point whose attributes include every `(key, value)` of `attributes` (values as
    /// text: `("http.response.status_code", "200")`).
    ///
    /// # Panics
    ///
    /// When no point or more than one matches, with every point of the histogram.
    #[track_caller]
    pub fn point(&self, attributes: &[(&str, &str)]) -> HistogramPoint {
        one(
            "histogram",
            &self.name,
            &self.points,
            attributes,
            |p| &p.attributes,
            |p| format!("count={} sum={}", p.count, p.sum),
        )
    }
}

impl Sum {
    pub(super) fn new(name: &str, metrics: &[ResourceMetrics]) -> Self {
        #[allow(clippy::cast_precision_loss)]
        let points = find(name, metrics)
            .into_iter()
            .flat_map(|metric| match metric.data() {
                AggregatedMetrics::I64(MetricData::Sum(s)) => s
                    .data_points()
                    .map(|p| SumPoint {
                        attributes: text(p.attributes()),
                        value: p.value() as f64,
                    })
                    .collect::<Vec<_>>(),
                AggregatedMetrics::U64(MetricData::Sum(s)) => s
                    .data_points()
                    .map(|p| SumPoint {
                        attributes: text(p.attributes()),
                        value: p.value() as f64,
                    })
                    .collect(),
                AggregatedMetrics::F64(MetricData::Sum(s)) => s
                    .data_points()
                    .map(|p| SumPoint {
                        attributes: text(p.attributes()),
                        value: p.value(),
                    })
                    .collect(),
                other => panic!("{name} is not a sum: {other:?}"),
            })
            .collect();
        Sum {
            name: name.to_owned(),
            points,
        }
    }

    /// Every point.
    pub fn points(&self) -> &[SumPoint] {
        &self.points
    }

    /// The one point whose attributes include every `(key, value)` of `attributes`.
    ///
    /// # Panics
    ///
    /// When no point or more than one matches, with every point.
    #[track_caller]
    pub fn point(&self, attributes: &[(&str, &str)]) -> SumPoint {
        one(
            "sum",
            &self.name,
            &self.points,
            attributes,
            |p| &p.attributes,
            |p| format!("value={}", p.value),
        )
    }
}

/// The unit of instrument `name`.
pub(super) fn unit(name: &str, metrics: &[ResourceMetrics]) -> Option<String> {
    find(name, metrics).first().map(|m| m.unit().to_owned())
}

fn find<'a>(name: &str, metrics: &'a [ResourceMetrics]) -> Vec<&'a Metric> {
    metrics
        .last()
        .into_iter()
        .flat_map(|r| r.scope_metrics())
        .flat_map(|s| s.metrics())
        .filter(|m| m.name() == name)
        .collect()
}

fn text<'a>(
    attributes: impl Iterator<Item = &'a opentelemetry::KeyValue>,
) -> BTreeMap<String, String> {
    attributes
        .map(|kv| (kv.key.to_string(), kv.value.to_string()))
        .collect()
}

fn matches(attributes: &BTreeMap<String, String>, wanted: &[(&str, &str)]) -> bool {
    wanted
        .iter()
        .all(|(k, v)| attributes.get(*k).is_some_and(|a| a == v))
}

/// The one point of `points` whose attributes include `wanted`.
#[track_caller]
fn one<P: Clone>(
    kind: &str,
    name: &str,
    points: &[P],
    wanted: &[(&str, &str)],
    attributes: impl Fn(&P) -> &BTreeMap<String, String>,
    values: impl Fn(&P) -> String,
) -> P {
    let found: Vec<&P> = points
        .iter()
        .filter(|p| matches(attributes(p), wanted))
        .collect();
    match found[..] {
        [point] => point.clone(),
        _ => panic!(
            "{kind} {name:?}: expected one point with {wanted:?}, found {}; points:\n{}",
            found.len(),
            dump(points.iter().map(|p| (attributes(p), values(p))))
        ),
    }
}

fn dump<'a>(points: impl Iterator<Item = (&'a BTreeMap<String, String>, String)>) -> String {
    let mut out = String::new();
    for (attributes, values) in points {
        let _ = writeln!(out, "  {attributes:?} {values}");
    }
    if out.is_empty() {
        out.push_str("  (no point recorded)\n");
    }
    out
}
