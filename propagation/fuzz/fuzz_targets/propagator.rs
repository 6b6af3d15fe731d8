//! Arbitrary header fields through the composite propagator with every format on: no panic;
//! whatever is extracted is a valid remote context, and what is injected for it reads back as
//! the same context in every format written; baggage goes out whole and reads back the same.
//! The same checks run under `cargo test` (`tests/properties.rs`: `propagator_fuzz_invariants`).
#![no_main]
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use opentelemetry::Context;
use opentelemetry::baggage::{Baggage, BaggageExt};
use opentelemetry::trace::{SpanContext, TraceContextExt};
use propagation::{
    BaggagePropagator, HeaderPropagator, Propagator, cloud_trace, grpc_trace_bin, traceparent,
};

const NAMES: [&str; 5] = [
    "traceparent",
    "tracestate",
    "x-cloud-trace-context",
    "baggage",
    "grpc-trace-bin",
];

/// `Baggage` has no `PartialEq`: compare sorted `(key, value, metadata)` triples.
fn members(bag: &Baggage) -> Vec<(String, String, String)> {
    let mut members: Vec<_> = bag
        .iter()
        .map(|(k, (v, m))| (k.to_string(), v.to_string(), m.as_str().to_owned()))
        .collect();
    members.sort();
    members
}

fn same_ids(a: &SpanContext, b: &SpanContext) -> bool {
    (a.trace_id(), a.span_id(), a.is_sampled()) == (b.trace_id(), b.span_id(), b.is_sampled())
}

fuzz_target!(|data: &[u8]| {
    // Fields separated by NUL; the first byte of each picks the header name.
    let mut headers = HeaderMap::new();
    for field in data.split(|&b| b == 0) {
        let Some((&selector, value)) = field.split_first() else {
            continue;
        };
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.append(NAMES[usize::from(selector) % NAMES.len()], value);
        }
    }
    let propagator = Propagator::w3c_and_cloud_trace()
        .with_grpc_trace_bin_injection()
        .with_baggage();
    let extracted = propagator.extract(&headers);
    let cx = propagator.extract_headers(&headers, &Context::new());
    let span = cx.span();
    let in_context = span.span_context();
    match &extracted {
        Some(sc) => {
            assert!(sc.is_valid() && sc.is_remote());
            assert!(same_ids(sc, in_context) && sc.trace_flags() == in_context.trace_flags());
        }
        None => assert!(!in_context.is_valid()),
    }
    let bag = BaggagePropagator::new().extract(&headers);
    assert_eq!(members(cx.baggage()), members(&bag));

    let mut out = HeaderMap::new();
    propagator.inject_headers(&cx, &mut out);
    match &extracted {
        Some(sc) => {
            let again = propagator.extract(&out).expect("what we send parses");
            assert!(same_ids(sc, &again) && sc.trace_flags() == again.trace_flags());
            let tp = traceparent::parse(out["traceparent"].as_bytes()).unwrap();
            let xctc = cloud_trace::parse(out["x-cloud-trace-context"].as_bytes()).unwrap();
            let bin = grpc_trace_bin::parse(out["grpc-trace-bin"].as_bytes()).unwrap();
            assert!(same_ids(sc, &tp) && same_ids(sc, &xctc) && same_ids(sc, &bin));
        }
        None => {
            for name in [
                "traceparent",
                "tracestate",
                "x-cloud-trace-context",
                "grpc-trace-bin",
            ] {
                assert!(!out.contains_key(name), "{name} sent without a context");
            }
        }
    }
    let next_hop = propagator.extract_headers(&out, &Context::new());
    assert_eq!(members(next_hop.baggage()), members(&bag));
});
