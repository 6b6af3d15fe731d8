//! The OpenMetrics 1.0 text format (the OpenMetrics specification, "Text Format"), written
//! from the families the Prometheus registry gathers, with this crate's exemplars on the
//! histogram buckets.
//!
//! Hand-written because no crate does this: the `prometheus` crate's encoders write no
//! OpenMetrics and carry no exemplars (tikv/rust-prometheus#393), the OpenTelemetry exporter
//! builds on it, and `prometheus-client` encodes only its own metric types, so bridging to it
//! would re-declare every family and re-append the `_total` and unit suffixes the exporter
//! already wrote. Writing from the **same** gathered families as the classic encoder means one
//! collection serves both formats (the SDK aggregates once per reader: a second reader would
//! double the cost of every measurement), and the names, unit suffixes, `otel_scope_*` labels
//! and `target_info` are exactly the classic output's.

use std::fmt::Write as _;

use prometheus::proto::{LabelPair, Metric, MetricFamily, MetricType};

use crate::exemplars::{Exemplar, Index, Labels};

/// The content type of OpenMetrics 1.0 text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Writes `families` as OpenMetrics text, with the exemplars of `index` on the `_bucket`
/// lines of the histogram series they were recorded for, ending with `# EOF`.
pub(crate) fn encode(families: &[MetricFamily], index: &Index, out: &mut String) {
    for family in families {
        let classic = family.name();
        let kind = family.get_field_type();
        // A counter family is named without `_total`; its sample keeps it (§ "Counter").
        let name = match kind {
            MetricType::COUNTER => classic.strip_suffix("_total").unwrap_or(classic),
            _ => classic,
        };
        let type_name = match kind {
            MetricType::COUNTER => "counter",
            MetricType::GAUGE => "gauge",
            MetricType::HISTOGRAM => "histogram",
            MetricType::SUMMARY => "summary",
            MetricType::UNTYPED => "unknown",
        };
        let _ = writeln!(out, "# TYPE {name} {type_name}");
        if !family.help().is_empty() {
            let _ = writeln!(out, "# HELP {name} {}", escape(family.help()));
        }
        let exemplars = index.get(classic);
        for metric in family.get_metric() {
            let labels = metric.get_label();
            match kind {
                MetricType::COUNTER => {
                    sample(
                        out,
                        name,
                        "_total",
                        labels,
                        None,
                        metric.get_counter().get_value(),
                    );
                    out.push('\n');
                }
                MetricType::GAUGE => {
                    sample(out, name, "", labels, None, metric.get_gauge().get_value());
                    out.push('\n');
                }
                // Never gathered from the OpenTelemetry exporter (the classic encoder panics
                // on it): the family is declared, its samples left out.
                MetricType::UNTYPED => {}
                MetricType::HISTOGRAM => histogram(out, name, metric, exemplars),
                MetricType::SUMMARY => {
                    let s = metric.get_summary();
                    for q in s.get_quantile() {
                        let quantile = number(q.quantile());
                        let extra = Some(("quantile", quantile.as_str()));
                        sample(out, name, "", labels, extra, q.value());
                        out.push('\n');
                    }
                    sample(out, name, "_sum", labels, None, s.sample_sum());
                    out.push('\n');
                    sample(out, name, "_count", labels, None, s.sample_count() as f64);
                    out.push('\n');
                }
            }
        }
    }
    out.push_str("# EOF\n");
}

fn histogram(
    out: &mut String,
    name: &str,
    metric: &Metric,
    exemplars: Option<&std::collections::HashMap<Labels, Vec<Option<Exemplar>>>>,
) {
    let labels = metric.get_label();
    let h = metric.get_histogram();
    // This series' exemplars, found by its labels (the scope's left out: the layer that
    // kept them doesn't know its meter's scope).
    let kept: Vec<Exemplar> = exemplars
        .and_then(|e| e.get(&series_labels(labels)))
        .map(|slots| slots.iter().flatten().copied().collect())
        .unwrap_or_default();
    let mut lower = f64::NEG_INFINITY;
    let mut bucket = |out: &mut String, upper: f64, le: &str, count: u64| {
        sample(out, name, "_bucket", labels, Some(("le", le)), count as f64);
        // The latest exemplar whose value is in this bucket, (lower, upper].
        let exemplar = kept
            .iter()
            .filter(|e| e.value > lower && e.value <= upper)
            .max_by_key(|e| e.time_nanos);
        if let Some(e) = exemplar {
            let _ = write!(
                out,
                " # {{trace_id=\"{:032x}\",span_id=\"{:016x}\"}} {} {}.{:03}",
                e.ids.trace,
                e.ids.span,
                number(e.value),
                e.time_nanos / 1_000_000_000,
                e.time_nanos / 1_000_000 % 1000,
            );
        }
        out.push('\n');
        lower = upper;
    };
    let mut inf_seen = false;
    for b in h.get_bucket() {
        let upper = b.upper_bound();
        inf_seen |= upper == f64::INFINITY;
        // The classic encoder's text for `le`, so a series is the same in both formats.
        let le = if upper == f64::INFINITY {
            "+Inf".to_owned()
        } else {
            upper.to_string()
        };
        bucket(out, upper, &le, b.cumulative_count());
    }
    if !inf_seen {
        bucket(out, f64::INFINITY, "+Inf", h.get_sample_count());
    }
    sample(out, name, "_sum", labels, None, h.get_sample_sum());
    out.push('\n');
    sample(
        out,
        name,
        "_count",
        labels,
        None,
        h.get_sample_count() as f64,
    );
    out.push('\n');
}

/// The labels a series' exemplars are kept under: sorted, scope labels left out.
fn series_labels(labels: &[LabelPair]) -> Labels {
    let mut out: Vec<(String, String)> = labels
        .iter()
        .filter(|l| !l.name().starts_with("otel_scope_"))
        .map(|l| (l.name().to_owned(), l.value().to_owned()))
        .collect();
    out.sort();
    out.into_boxed_slice()
}

/// `name{labels} value`, without the line end (an exemplar may follow).
fn sample(
    out: &mut String,
    name: &str,
    suffix: &str,
    labels: &[LabelPair],
    extra: Option<(&str, &str)>,
    value: f64,
) {
    out.push_str(name);
    out.push_str(suffix);
    let mut pairs = labels
        .iter()
        .map(|l| (l.name(), l.value()))
        .chain(extra)
        .peekable();
    if pairs.peek().is_some() {
        out.push('{');
        for (i, (k, v)) in pairs.enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{k}=\"{}\"", escape(v));
        }
        out.push('}');
    }
    out.push(' ');
    out.push_str(&number(value));
}

/// A number as OpenMetrics writes it: `+Inf`, `-Inf`, `NaN`, else the shortest decimal that
/// reads back the same (Rust's `Display` for `f64`).
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        v.to_string()
    }
}

/// Escapes a label value or help text: `\\`, `\"` and `\n` (§ "ABNF", `escaped-string`).
fn escape(v: &str) -> std::borrow::Cow<'_, str> {
    if !v.contains(['\\', '"', '\n']) {
        return v.into();
    }
    let mut out = String::with_capacity(v.len() + 8);
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.into()
}

#[cfg(test)]
mod tests;
