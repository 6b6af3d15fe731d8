//! The cost of the layer when it has nothing to do, counted with a counting allocator over
//! in-process requests (`tower::ServiceExt`, body drained). Timings are in `benches/`.

use std::convert::Infallible;

use alloc_counter::{CountingAllocator, Stats, measure};
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::trace::noop::NoopTracer;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use tower::{Layer, Service, ServiceExt, service_fn};
use tower_telemetry_trace::TraceLayer;

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator;

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn request(traceparent: bool) -> Request<Full<Bytes>> {
    let mut builder = Request::get("/healthz");
    if traceparent {
        builder = builder.header("traceparent", TRACEPARENT);
    }
    builder.body(Full::default()).unwrap()
}

/// Allocations of one request through `svc` (after a warm-up), request building excluded.
fn cost<S, B>(rt: &tokio::runtime::Runtime, mut svc: S, traceparent: bool) -> Stats
where
    S: Service<Request<Full<Bytes>>, Response = Response<B>>,
    S::Error: std::fmt::Debug,
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let run = |svc: &mut S| {
        let req = request(traceparent);
        measure(|| {
            rt.block_on(async {
                let response = svc.ready().await.unwrap().call(req).await.unwrap();
                response.into_body().collect().await.unwrap();
            });
        })
        .0
    };
    run(&mut svc);
    run(&mut svc)
}

fn handler()
-> impl Service<Request<Full<Bytes>>, Response = Response<Full<Bytes>>, Error = Infallible> + Clone
{
    service_fn(|_req: Request<Full<Bytes>>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
    })
}

fn sdk_tracer() -> SdkTracer {
    SdkTracerProvider::builder().build().tracer("allocations")
}

#[test]
fn disabled_costs_nothing() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    for traceparent in [false, true] {
        let bare = cost(&rt, handler(), traceparent);
        // A no-op tracer (what the global provider is until one is installed) is detected
        // once, when the layer is built.
        let noop = TraceLayer::server(NoopTracer::new()).layer(handler());
        assert_eq!(
            cost(&rt, noop, traceparent).allocs,
            bare.allocs,
            "no-op tracer, traceparent={traceparent}"
        );
        // ... and stays off when asked to turn on: there is nothing to record into.
        let forced = TraceLayer::server(NoopTracer::new())
            .enabled(true)
            .layer(handler());
        assert_eq!(
            cost(&rt, forced, traceparent).allocs,
            bare.allocs,
            "no-op tracer with enabled(true), traceparent={traceparent}"
        );
        let global = TraceLayer::server_from_global().layer(handler());
        assert_eq!(
            cost(&rt, global, traceparent).allocs,
            bare.allocs,
            "global no-op, traceparent={traceparent}"
        );
        let off = TraceLayer::server(sdk_tracer())
            .enabled(false)
            .layer(handler());
        assert_eq!(
            cost(&rt, off, traceparent).allocs,
            bare.allocs,
            "enabled(false), traceparent={traceparent}"
        );
    }
}

#[test]
fn filtered_costs_nothing_without_a_caller_and_one_context_with_one() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let layer = TraceLayer::server(sdk_tracer()).skip_if(|r| r.uri().path() == "/healthz");
    let bare = cost(&rt, handler(), false);
    let filtered = cost(&rt, layer.layer(handler()), false);
    assert_eq!(
        filtered.allocs, bare.allocs,
        "skipped, no incoming context: zero"
    );
    let bare = cost(&rt, handler(), true);
    let filtered = cost(&rt, layer.layer(handler()), true);
    assert_eq!(
        filtered.allocs,
        bare.allocs + 1,
        "the caller's context, passed through: one Context"
    );
}

/// With the `tracing` feature, a subscriber that does not listen to the request spans (here one
/// at `WARN`, the spans being `INFO`) costs no allocation: `tracing` answers from its callsite
/// cache and the layer carries `Span::none()`.
#[cfg(feature = "tracing")]
#[test]
fn an_uninterested_subscriber_costs_nothing() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let layer = TraceLayer::server(sdk_tracer());
    let alone = cost(&rt, layer.layer(handler()), true);
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_writer(std::io::sink)
        .finish();
    let uninterested =
        tracing::subscriber::with_default(subscriber, || cost(&rt, layer.layer(handler()), true));
    assert_eq!(uninterested.allocs, alone.allocs);
}
