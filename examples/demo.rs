//! Run with `cargo run --example demo`.
//!
//! The full demo (a frontend, a backend and a gRPC service behind the tracing and metrics
//! layers, printed as trace waterfalls and a RED table) is not built yet. Until it lands this
//! program shows what works today: reading and writing trace context with `propagation`.

use http::HeaderMap;
use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceState};
use propagation::{Propagator, Source};

fn main() {
    println!(
        "tower-otel demo: not yet. The traced services and the waterfall view are still to come."
    );
    println!("What works today is the `propagation` crate:\n");

    let propagator = Propagator::w3c_and_cloud_trace();
    let incoming = [
        (
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03",
        ),
        (
            "traceparent",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        ),
        (
            "x-cloud-trace-context",
            "105445aa7843bc8bf206b12000100000/18374686479671623803;o=1",
        ),
    ];
    for (name, value) in incoming {
        let mut headers = HeaderMap::new();
        headers.insert(name, value.parse().expect("header value"));
        match propagator.extract_with_source(&headers) {
            Some((sc, source)) => {
                let child = SpanContext::new(
                    sc.trace_id(),
                    SpanId::from_hex("b7ad6b7169203331").expect("span id"),
                    sc.trace_flags(),
                    false,
                    TraceState::NONE,
                );
                let mut out = HeaderMap::new();
                propagator.inject(&child, &mut out);
                let via = match source {
                    Source::TraceContext => "traceparent",
                    _ => "x-cloud-trace-context",
                };
                println!("  in : {name}: {value}");
                println!(
                    "       continued from {via}; sampled={}",
                    sc.trace_flags() & TraceFlags::SAMPLED == TraceFlags::SAMPLED
                );
                for (k, v) in &out {
                    println!("  out: {k}: {}", v.to_str().unwrap_or("?"));
                }
            }
            None => println!(
                "  in : {name}: {value}\n       rejected (uppercase hex is not W3C): a new trace starts"
            ),
        }
        println!();
    }
}
