//! Codec benchmarks: this crate next to `opentelemetry_sdk`'s `TraceContextPropagator` with
//! `opentelemetry-http`'s `HeaderExtractor`/`HeaderInjector`, in the same run.
//!
//! Run with `cargo bench -p propagation --bench codec`. Before the timings, it prints the
//! allocations and bytes per operation of each case (counted with a counting allocator over
//! 10,000 runs). The results and the machine are recorded in `propagation/README.md`.

use std::hint::black_box;
use std::time::Duration;

use alloc_counter::{CountingAllocator, measure};
use criterion::{Criterion, criterion_group, criterion_main};
use http::HeaderMap;
use opentelemetry::Context;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TraceContextExt;
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use opentelemetry_sdk::propagation::TraceContextPropagator as SdkPropagator;
use tower_telemetry_propagation::{
    HeaderPropagator, Propagator, TraceContextPropagator, cloud_trace, grpc_trace_bin, traceparent,
};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator;

const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const TS: &str = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7";
const XCTC: &str = "105445aa7843bc8bf206b12000100000/18374686479671623803;o=1";
const GRPC_TRACE_BIN: &str = "AABL+S81d7NNpqPOkp0ADkc2ATTwZ6oLqQK3AgE";

/// Realistic request headers: a few ordinary ones besides the trace context.
fn request_headers(tracestate: bool) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("host", "api.example.com".parse().unwrap());
    h.insert("user-agent", "bench/1.0".parse().unwrap());
    h.insert("accept", "application/json".parse().unwrap());
    h.insert("traceparent", TP.parse().unwrap());
    if tracestate {
        h.insert("tracestate", TS.parse().unwrap());
    }
    h
}

/// Prints allocations per operation for `f`, then times it.
fn case<R>(c: &mut Criterion, group: &str, name: &str, mut f: impl FnMut() -> R) {
    const RUNS: u64 = 10_000;
    let (stats, ()) = measure(|| {
        for _ in 0..RUNS {
            black_box(f());
        }
    });
    let (allocs, bytes) = stats.per(RUNS);
    println!("alloc {group}/{name}: {allocs:.2} allocs/op, {bytes:.1} bytes/op");
    c.benchmark_group(group)
        .bench_function(name, |b| b.iter(&mut f));
}

fn traceparent_codec(c: &mut Criterion) {
    case(c, "traceparent", "ours_parse", || {
        traceparent::parse(black_box(TP))
    });
    case(c, "traceparent", "ours_parse_format", || {
        traceparent::encode(&traceparent::parse(black_box(TP)).unwrap())
    });
    let sc = traceparent::parse(TP).unwrap();
    case(c, "traceparent", "ours_to_header_value", || {
        traceparent::to_header_value(black_box(&sc))
    });
}

fn cloud_trace_codec(c: &mut Criterion) {
    case(c, "cloud_trace", "ours_parse", || {
        cloud_trace::parse(black_box(XCTC))
    });
    case(c, "cloud_trace", "ours_parse_format", || {
        cloud_trace::encode(&cloud_trace::parse(black_box(XCTC)).unwrap())
    });
}

fn grpc_trace_bin_codec(c: &mut Criterion) {
    case(c, "grpc_trace_bin", "ours_parse", || {
        grpc_trace_bin::parse(black_box(GRPC_TRACE_BIN))
    });
    case(c, "grpc_trace_bin", "ours_parse_format", || {
        grpc_trace_bin::encode_base64(&grpc_trace_bin::parse(black_box(GRPC_TRACE_BIN)).unwrap())
    });
}

fn extract(c: &mut Criterion) {
    for (label, tracestate) in [("extract", false), ("extract_tracestate", true)] {
        let headers = request_headers(tracestate);
        let ours = Propagator::w3c();
        let sdk = SdkPropagator::new();
        case(c, label, "ours_span_context", || {
            ours.extract(black_box(&headers))
        });
        case(c, label, "ours_context", || {
            ours.extract_headers(black_box(&headers), &Context::new())
        });
        case(c, label, "ours_textmap", || {
            TextMapPropagator::extract_with_context(
                &TraceContextPropagator::new(),
                &Context::new(),
                &HeaderExtractor(black_box(&headers)),
            )
        });
        case(c, label, "sdk_textmap", || {
            sdk.extract_with_context(&Context::new(), &HeaderExtractor(black_box(&headers)))
        });
    }
    let mut headers = request_headers(false);
    headers.insert("x-cloud-trace-context", XCTC.parse().unwrap());
    headers.remove("traceparent");
    let ours = Propagator::cloud_trace_one_way();
    case(c, "extract_cloud_trace", "ours_span_context", || {
        ours.extract(black_box(&headers))
    });
    let mut headers = request_headers(false);
    headers.insert("grpc-trace-bin", GRPC_TRACE_BIN.parse().unwrap());
    headers.remove("traceparent");
    let ours = Propagator::w3c().with_grpc_trace_bin();
    case(c, "extract_grpc_trace_bin", "ours_span_context", || {
        ours.extract(black_box(&headers))
    });
}

fn inject(c: &mut Criterion) {
    let cx = Propagator::w3c().extract_headers(&request_headers(false), &Context::new());
    let cx_ts = Propagator::w3c().extract_headers(&request_headers(true), &Context::new());
    for (label, cx) in [("inject", &cx), ("inject_tracestate", &cx_ts)] {
        let sc = cx.span().span_context().clone();
        let mut headers = HeaderMap::with_capacity(8);
        case(c, label, "ours_span_context", || {
            Propagator::w3c().inject(black_box(&sc), &mut headers);
        });
        case(c, label, "ours_context", || {
            Propagator::w3c().inject_headers(black_box(cx), &mut headers);
        });
        let sdk = SdkPropagator::new();
        case(c, label, "sdk_textmap", || {
            sdk.inject_context(black_box(cx), &mut HeaderInjector(&mut headers));
        });
    }
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = traceparent_codec, cloud_trace_codec, grpc_trace_bin_codec, extract, inject
}
criterion_main!(benches);
