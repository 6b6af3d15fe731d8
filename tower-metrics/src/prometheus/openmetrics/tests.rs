use std::collections::HashMap;

use prometheus::proto::{Bucket, Counter, Gauge, Histogram, LabelPair};

use super::*;
use crate::exemplars::Ids;

fn label(name: &str, value: &str) -> LabelPair {
    let mut l = LabelPair::default();
    l.set_name(name.to_owned());
    l.set_value(value.to_owned());
    l
}

fn family(name: &str, help: &str, kind: MetricType, metrics: Vec<Metric>) -> MetricFamily {
    let mut f = MetricFamily::default();
    f.set_name(name.to_owned());
    f.set_help(help.to_owned());
    f.set_field_type(kind);
    f.set_metric(metrics);
    f
}

fn counter(labels: Vec<LabelPair>, value: f64) -> Metric {
    let mut c = Counter::default();
    c.set_value(value);
    let mut m = Metric::from_label(labels);
    m.set_counter(c);
    m
}

/// The OpenMetrics specification's "Histogram with exemplars" example (Text Format,
/// Exemplars), less what the exporter never writes (`_created`, exemplars without a trace):
/// `foo_bucket{le="0.1"} 8`, `{le="1"} 11 # {…} 0.67`, `{le="10"} 17 # {…} 9.8 1520879607.789`.
fn foo_histogram(labels: Vec<LabelPair>) -> Metric {
    let mut h = Histogram::default();
    let buckets = [(0.01, 0), (0.1, 8), (1.0, 11), (10.0, 17)]
        .into_iter()
        .map(|(upper, count)| {
            let mut b = Bucket::default();
            b.set_upper_bound(upper);
            b.set_cumulative_count(count);
            b
        })
        .collect();
    h.set_bucket(buckets);
    h.set_sample_count(17);
    h.set_sample_sum(324789.3);
    let mut m = Metric::from_label(labels);
    m.set_histogram(h);
    m
}

fn exemplar(trace: u128, span: u64, value: f64, millis: u64) -> Option<Exemplar> {
    Some(Exemplar {
        ids: Ids { trace, span },
        value,
        time_nanos: millis * 1_000_000,
    })
}

#[test]
fn a_histogram_with_exemplars_as_the_specification_writes_it() {
    let scope = label("otel_scope_name", "svc");
    let route = label("http_route", "/users/{id}");
    let families = [family(
        "foo",
        "A histogram.",
        MetricType::HISTOGRAM,
        vec![foo_histogram(vec![route, scope])],
    )];
    let labels: Labels = vec![("http_route".to_owned(), "/users/{id}".to_owned())].into();
    // Kept per bucket of the layer's boundaries: the encoder places each by its value, so
    // boundaries changed by a view still get each exemplar in the bucket holding it.
    let slots = vec![
        None,
        exemplar(
            0x4bf92f3577b34da6a3ce929d0e0e4736,
            0x00f067aa0ba902b7,
            0.67,
            1_520_879_607_789,
        ),
        exemplar(1, 2, 9.8, 1_520_879_607_789),
        exemplar(3, 4, 0.5, 1_520_879_600_000), // older than 0.67, same bucket
    ];
    let index: Index = HashMap::from([("foo".to_owned(), HashMap::from([(labels, slots)]))]);
    let mut out = String::new();
    encode(&families, &index, &mut out);
    let expected = r#"# TYPE foo histogram
# HELP foo A histogram.
foo_bucket{http_route="/users/{id}",otel_scope_name="svc",le="0.01"} 0
foo_bucket{http_route="/users/{id}",otel_scope_name="svc",le="0.1"} 8
foo_bucket{http_route="/users/{id}",otel_scope_name="svc",le="1"} 11 # {trace_id="4bf92f3577b34da6a3ce929d0e0e4736",span_id="00f067aa0ba902b7"} 0.67 1520879607.789
foo_bucket{http_route="/users/{id}",otel_scope_name="svc",le="10"} 17 # {trace_id="00000000000000000000000000000001",span_id="0000000000000002"} 9.8 1520879607.789
foo_bucket{http_route="/users/{id}",otel_scope_name="svc",le="+Inf"} 17
foo_sum{http_route="/users/{id}",otel_scope_name="svc"} 324789.3
foo_count{http_route="/users/{id}",otel_scope_name="svc"} 17
# EOF
"#;
    assert_eq!(out, expected);
}

/// The specification's counter, gauge and escaping examples: a counter family is named
/// without `_total` and its sample with it; label values and help escape `\`, `"` and
/// newlines; a series without exemplars and a family nobody kept any for are plain.
#[test]
fn counters_gauges_escaping_and_eof() {
    let mut g = Gauge::default();
    g.set_value(f64::NEG_INFINITY);
    let mut gauge = Metric::from_label(vec![label("service_name", "a\"b\\c\nd")]);
    gauge.set_gauge(g);
    let families = [
        family(
            "http_requests_total",
            "Counts \\ \"things\"\nover lines",
            MetricType::COUNTER,
            vec![
                counter(vec![], 17.0),
                counter(vec![label("code", "500")], 1.5),
            ],
        ),
        family(
            "target_info",
            "Target metadata",
            MetricType::GAUGE,
            vec![gauge],
        ),
        family(
            "bar",
            "",
            MetricType::HISTOGRAM,
            vec![foo_histogram(vec![])],
        ),
    ];
    let mut out = String::new();
    encode(&families, &Index::new(), &mut out);
    let expected = r#"# TYPE http_requests counter
# HELP http_requests Counts \\ \"things\"\nover lines
http_requests_total 17
http_requests_total{code="500"} 1.5
# TYPE target_info gauge
# HELP target_info Target metadata
target_info{service_name="a\"b\\c\nd"} -Inf
# TYPE bar histogram
bar_bucket{le="0.01"} 0
bar_bucket{le="0.1"} 8
bar_bucket{le="1"} 11
bar_bucket{le="10"} 17
bar_bucket{le="+Inf"} 17
bar_sum 324789.3
bar_count 17
# EOF
"#;
    assert_eq!(out, expected);
    let mut empty = String::new();
    encode(&[], &Index::new(), &mut empty);
    assert_eq!(empty, "# EOF\n", "an empty exposition is just its end");
}
