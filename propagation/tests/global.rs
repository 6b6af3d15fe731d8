//! The propagators plug into the ordinary OpenTelemetry setup: installed globally, used through
//! `opentelemetry-http`'s carriers. (Its own binary: it sets process-wide state.)

use std::collections::HashMap;

use http::HeaderMap;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::global;
use opentelemetry::trace::TraceContextExt;
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use tower_telemetry_propagation::Propagator;

#[test]
fn installed_globally_it_extracts_and_injects() {
    global::set_text_map_propagator(Propagator::cloud_trace_one_way().with_baggage());

    let mut incoming = HeaderMap::new();
    incoming.insert(
        "x-cloud-trace-context",
        "105445aa7843bc8bf206b12000100000/1;o=1".parse().unwrap(),
    );
    incoming.insert("baggage", "tenant=acme".parse().unwrap());
    let cx = global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(&incoming)));
    assert_eq!(
        cx.span().span_context().trace_id().to_string(),
        "105445aa7843bc8bf206b12000100000"
    );
    assert_eq!(cx.baggage().get("tenant").unwrap().as_str(), "acme");

    let mut outgoing = HeaderMap::new();
    global::get_text_map_propagator(|p| p.inject_context(&cx, &mut HeaderInjector(&mut outgoing)));
    assert_eq!(
        outgoing["traceparent"],
        "00-105445aa7843bc8bf206b12000100000-0000000000000001-01"
    );
    assert_eq!(outgoing["baggage"], "tenant=acme");
    assert!(!outgoing.contains_key("x-cloud-trace-context"), "one-way");

    let fields: Vec<String> =
        global::get_text_map_propagator(|p| p.fields().map(str::to_owned).collect());
    assert_eq!(fields, ["traceparent", "tracestate", "baggage"]);

    // Any carrier works, e.g. a HashMap of lowercase keys.
    let mut map = HashMap::new();
    global::get_text_map_propagator(|p| p.inject_context(&cx, &mut map));
    assert_eq!(
        map["traceparent"],
        "00-105445aa7843bc8bf206b12000100000-0000000000000001-01"
    );
}
