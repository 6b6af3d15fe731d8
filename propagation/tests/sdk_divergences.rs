//! The W3C vectors where `opentelemetry_sdk`'s `TraceContextPropagator` (0.33) and ours
//! disagree, run against both in one place: the reason this crate exists (a reading of
//! `opentelemetry-sdk/src/propagation/trace_context.rs` and `opentelemetry/src/trace/`).
//! If an SDK release fixes one, this test says so, and the crate docs should be updated.

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{TraceContextExt, TraceFlags};
use opentelemetry_http::HeaderExtractor;
use opentelemetry_sdk::propagation::TraceContextPropagator as SdkPropagator;
use tower_telemetry_propagation::TraceContextPropagator;

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

/// (trace continues, tracestate header forwarded) per propagator, through the same
/// `TextMapPropagator` API and the same carrier.
fn outcome(p: &dyn TextMapPropagator, pairs: &[(&str, &str)]) -> (bool, String, u8) {
    let map = headers(pairs);
    let cx = p.extract(&HeaderExtractor(&map));
    let span = cx.span();
    let sc = span.span_context();
    (
        sc.is_valid(),
        sc.trace_state().header(),
        sc.trace_flags().to_u8(),
    )
}

const TP: &str = "00-12345678901234567890123456789012-1234567890123456-01";

#[test]
fn vectors_where_the_sdk_is_not_conformant() {
    #[rustfmt::skip]
    let continues: &[(&str, bool, &str)] = &[
        ("0-12345678901234567890123456789012-1234567890123456-01",   false, "1: one-digit version"),
        ("000-12345678901234567890123456789012-1234567890123456-01", false, "1: three-digit version"),
        ("00-1234567890123456789012345678901-1234567890123456-01",   false, "2: 31-digit trace-id"),
        ("00-12345678901234567890123456789012-123456789012345-01",   false, "2: 15-digit parent-id"),
        ("00-12345678901234567890123456789012-1234567890123456-01-", false, "3: trailing '-'"),
    ];
    for (tp, ours_continue, why) in continues {
        let sdk = outcome(&SdkPropagator::new(), &[("traceparent", tp)]);
        let ours = outcome(&TraceContextPropagator::new(), &[("traceparent", tp)]);
        assert_eq!(ours.0, *ours_continue, "ours: {why}");
        assert!(sdk.0, "the SDK accepts it: {why}");
    }

    // 4: the random flag.
    let tp = "00-12345678901234567890123456789012-1234567890123456-03";
    assert_eq!(
        outcome(&SdkPropagator::new(), &[("traceparent", tp)]).2,
        TraceFlags::SAMPLED.to_u8()
    );
    assert_eq!(
        outcome(&TraceContextPropagator::new(), &[("traceparent", tp)]).2,
        0x03
    );

    // 5: a duplicated traceparent; several tracestate fields.
    let dup = [
        ("traceparent", TP),
        (
            "traceparent",
            "00-12345678901234567890123456789011-1234567890123456-01",
        ),
    ];
    assert!(
        outcome(&SdkPropagator::new(), &dup).0,
        "the SDK reads the first field only"
    );
    assert!(!outcome(&TraceContextPropagator::new(), &dup).0);
    let multi = [
        ("traceparent", TP),
        ("tracestate", "foo=1"),
        ("tracestate", "bar=2"),
    ];
    assert_eq!(outcome(&SdkPropagator::new(), &multi).1, "foo=1");
    assert_eq!(
        outcome(&TraceContextPropagator::new(), &multi).1,
        "foo=1,bar=2"
    );

    // `TraceState::from_str` (opentelemetry `src/trace/span_context.rs`) is fixed in 0.33: OWS
    // and empty members no longer fail the SDK's parse.
    let ows = [("traceparent", TP), ("tracestate", "foo=1 , bar=2,,baz=3")];
    assert_eq!(outcome(&SdkPropagator::new(), &ows).1, "foo=1,bar=2,baz=3");
    assert_eq!(
        outcome(&TraceContextPropagator::new(), &ows).1,
        "foo=1,bar=2,baz=3"
    );

    // 7: value grammar and the member limit.
    let empty_value = [("traceparent", TP), ("tracestate", "foo=,bar=3")];
    assert_ne!(outcome(&SdkPropagator::new(), &empty_value).1, "");
    assert_eq!(outcome(&TraceContextPropagator::new(), &empty_value).1, "");
    let members: Vec<String> = (1..=33).map(|i| format!("k{i}=v")).collect();
    let joined = members.join(",");
    let too_many = [("traceparent", TP), ("tracestate", joined.as_str())];
    assert_ne!(
        outcome(&SdkPropagator::new(), &too_many).1,
        "",
        "the SDK keeps 32 of 33"
    );
    assert_eq!(
        outcome(&TraceContextPropagator::new(), &too_many).1,
        "",
        "the W3C discards the header"
    );
}
