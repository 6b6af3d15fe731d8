//! Arbitrary header fields through the composite propagator: no panic, and whatever is
//! extracted is valid and is injected as valid headers.
#![no_main]
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use opentelemetry::Context;
use propagation::{HeaderPropagator, Propagator};

const NAMES: [&str; 4] = [
    "traceparent",
    "tracestate",
    "x-cloud-trace-context",
    "baggage",
];

fuzz_target!(|data: &[u8]| {
    let mut headers = HeaderMap::new();
    for field in data.split(|&b| b == 0) {
        let Some((&selector, value)) = field.split_first() else {
            continue;
        };
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.append(NAMES[usize::from(selector) % NAMES.len()], value);
        }
    }
    let propagator = Propagator::w3c_and_cloud_trace().with_baggage();
    let cx = propagator.extract_headers(&headers, &Context::new());
    if let Some(sc) = propagator.extract(&headers) {
        assert!(sc.is_valid());
    }
    let mut out = HeaderMap::new();
    propagator.inject_headers(&cx, &mut out);
    if let Some(sc) = propagator.extract(&out) {
        assert!(sc.is_valid());
    }
});
