//! The codecs' allocation budget, counted (not timed) with a counting global allocator.
//! Timings are in `benches/codec.rs`.

use alloc_counter::{CountingAllocator, measure};
use http::HeaderMap;
use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
use tower_telemetry_propagation::{
    CloudTracePropagator, GrpcTraceBinPropagator, Propagator, cloud_trace, grpc_trace_bin,
    traceparent,
};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator;

const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const XCTC: &str = "105445aa7843bc8bf206b12000100000/18374686479671623803;o=1";
const GRPC_TRACE_BIN: &str = "AABL+S81d7NNpqPOkp0ADkc2ATTwZ6oLqQK3AgE";

#[test]
fn traceparent_parse_and_format_allocate_nothing() {
    let (stats, out) = measure(|| {
        let sc = traceparent::parse(TP).unwrap();
        traceparent::encode(&sc)
    });
    assert_eq!(&out[..], TP.as_bytes());
    assert_eq!(stats.allocs, 0, "{stats:?}");
}

#[test]
fn cloud_trace_parse_and_format_allocate_nothing() {
    let (stats, out) = measure(|| {
        let sc = cloud_trace::parse(XCTC).unwrap();
        cloud_trace::encode(&sc)
    });
    assert_eq!(out.as_str(), XCTC);
    assert_eq!(stats.allocs, 0, "{stats:?}");
}

#[test]
fn grpc_trace_bin_decode_encode_and_base64_allocate_nothing() {
    let (stats, out) = measure(|| {
        let sc = grpc_trace_bin::parse(GRPC_TRACE_BIN).unwrap();
        let bytes = grpc_trace_bin::encode(&sc);
        let sc = grpc_trace_bin::decode(&bytes).unwrap();
        grpc_trace_bin::encode_base64(&sc)
    });
    assert_eq!(&out[..], GRPC_TRACE_BIN.as_bytes());
    assert_eq!(stats.allocs, 0, "{stats:?}");

    // The propagators, reading every field and splitting on ',': nothing either.
    let mut headers = HeaderMap::new();
    headers.insert("grpc-trace-bin", GRPC_TRACE_BIN.parse().unwrap());
    headers.insert("user-agent", "test".parse().unwrap());
    let (stats, sc) = measure(|| GrpcTraceBinPropagator::new().extract(&headers));
    assert!(sc.is_some());
    assert_eq!(stats.allocs, 0, "{stats:?}");
    let composite = Propagator::w3c_and_cloud_trace().with_grpc_trace_bin();
    let (stats, sc) = measure(|| composite.extract(&headers));
    assert!(
        sc.is_some(),
        "the fallback after traceparent and X-Cloud-Trace-Context"
    );
    assert_eq!(stats.allocs, 0, "{stats:?}");

    // Injection: the HeaderValue's buffer only.
    let sc = sc.unwrap();
    let mut out = HeaderMap::with_capacity(4);
    let (stats, ()) = measure(|| {
        GrpcTraceBinPropagator::new()
            .with_injection()
            .inject(&sc, &mut out);
    });
    assert_eq!(out["grpc-trace-bin"], GRPC_TRACE_BIN);
    assert_eq!(stats.allocs, 1, "{stats:?}");
}

#[test]
fn extract_from_header_map_allocates_nothing_without_tracestate() {
    let mut headers = HeaderMap::new();
    headers.insert("traceparent", TP.parse().unwrap());
    headers.insert("x-cloud-trace-context", XCTC.parse().unwrap());
    headers.insert("user-agent", "test".parse().unwrap());
    for propagator in [
        Propagator::w3c(),
        Propagator::w3c_and_cloud_trace(),
        Propagator::cloud_trace_one_way(),
    ] {
        let (stats, sc) = measure(|| propagator.extract(&headers));
        assert!(sc.is_some());
        assert_eq!(stats.allocs, 0, "{propagator:?}: {stats:?}");
    }
    // Invalid or absent headers: nothing either.
    let mut bad = HeaderMap::new();
    bad.insert("traceparent", "00-zz".parse().unwrap());
    let (stats, sc) = measure(|| Propagator::w3c_and_cloud_trace().extract(&bad));
    assert!(sc.is_none());
    assert_eq!(stats.allocs, 0);
    let (stats, _) = measure(|| CloudTracePropagator::new().extract(&HeaderMap::new()));
    assert_eq!(stats.allocs, 0);
}

#[test]
fn inject_allocates_only_the_header_values() {
    let sc = SpanContext::new(
        TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736),
        SpanId::from(0x00f0_67aa_0ba9_02b7),
        TraceFlags::SAMPLED,
        false,
        TraceState::NONE,
    );
    let mut headers = HeaderMap::with_capacity(4);
    let (stats, ()) = measure(|| Propagator::w3c_and_cloud_trace().inject(&sc, &mut headers));
    assert_eq!(headers.len(), 2);
    // One buffer per HeaderValue (http requires owned bytes); nothing else.
    assert_eq!(stats.allocs, 2, "{stats:?}");
}

#[test]
fn tracestate_costs_only_what_opentelemetry_stores() {
    let mut headers = HeaderMap::new();
    headers.insert("traceparent", TP.parse().unwrap());
    headers.append("tracestate", "congo=t61rcWkgMzE".parse().unwrap());
    headers.append("tracestate", "rojo=00f067aa0ba902b7".parse().unwrap());
    let (stats, sc) = measure(|| Propagator::w3c().extract(&headers));
    let sc = sc.unwrap();
    assert_eq!(
        sc.trace_state().header(),
        "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
    );
    // OpenTelemetry's TraceState: a String per key and per value, and its VecDeque. Validation
    // and combining the two fields allocate nothing.
    assert_eq!(stats.allocs, 5, "{stats:?}");

    let mut out = HeaderMap::with_capacity(4);
    let (stats, ()) = measure(|| Propagator::w3c().inject(&sc, &mut out));
    assert_eq!(out["tracestate"], "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
    // traceparent's value, and tracestate's built at its exact size and handed over uncopied.
    assert_eq!(stats.allocs, 2, "{stats:?}");
}
