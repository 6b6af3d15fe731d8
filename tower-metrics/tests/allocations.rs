//! What recording costs per request, counted (not timed) with a counting allocator, against
//! the same in-process service without the layer (body drained). Timings are in `benches/`.

use std::convert::Infallible;

use alloc_counter::{CountingAllocator, Stats, measure};
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use tower::{Layer, Service, ServiceExt, service_fn};
use tower_telemetry_metrics::MetricsLayer;

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator;

fn cost<S>(rt: &tokio::runtime::Runtime, mut svc: S) -> Stats
where
    S: Service<
            Request<Full<Bytes>>,
            Response = Response<
                tower_telemetry_trace::lifecycle::ResponseBody<
                    Full<Bytes>,
                    tower_telemetry_metrics::MetricsRecord,
                >,
            >,
        >,
    S::Error: std::fmt::Debug,
{
    let run = |svc: &mut S| {
        let req = Request::get("/users/1").body(Full::default()).unwrap();
        measure(|| {
            rt.block_on(async {
                let response = svc.ready().await.unwrap().call(req).await.unwrap();
                response.into_body().collect().await.unwrap();
            });
        })
        .0
    };
    // The first requests create the series; steady state is what matters.
    run(&mut svc);
    run(&mut svc);
    run(&mut svc)
}

#[test]
fn steady_state_recording_allocates_nothing_of_ours() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let handler = || {
        service_fn(|_: Request<Full<Bytes>>| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
        })
    };
    let bare = {
        let mut svc = handler();
        let mut run = || {
            let req = Request::get("/users/1").body(Full::default()).unwrap();
            measure(|| {
                rt.block_on(async {
                    let response = svc.ready().await.unwrap().call(req).await.unwrap();
                    response.into_body().collect().await.unwrap();
                });
            })
            .0
        };
        run();
        run()
    };
    // A real pipeline (a reader with an exporter), so recordings are aggregated.
    let exporter = opentelemetry_sdk::metrics::InMemoryMetricExporter::default();
    let reader = opentelemetry_sdk::metrics::PeriodicReader::builder(exporter.clone())
        .with_interval(std::time::Duration::from_secs(3600))
        .build();
    let provider = SdkMeterProvider::builder().with_reader(reader).build();
    let layered = MetricsLayer::server(&provider.meter("alloc")).layer(handler());
    let with_metrics = cost(&rt, layered);
    provider.force_flush().unwrap();
    let exported = exporter.get_finished_metrics().unwrap();
    let recorded = exported
        .last()
        .unwrap()
        .scope_metrics()
        .flat_map(|s| s.metrics())
        .count();
    assert_eq!(recorded, 2, "duration and active requests were aggregated");
    // Label values are static or interned, attributes live on the stack, the record lives in
    // the future: an existing series is updated without a single allocation.
    assert_eq!(
        with_metrics.allocs, bare.allocs,
        "bare {bare:?}, with metrics {with_metrics:?}"
    );

    // In a sampled span, each request also leaves an exemplar in its bucket: still nothing
    // allocated once the series exists.
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState,
    };
    let trace_id = TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap();
    let sampled = opentelemetry::Context::new().with_remote_span_context(SpanContext::new(
        trace_id,
        SpanId::from_hex("00f067aa0ba902b7").unwrap(),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    ));
    let _current = sampled.attach();
    let layered = MetricsLayer::server(&provider.meter("alloc-exemplars")).layer(handler());
    // A clone keeps the layer (and so its exemplars) alive after `cost` is done with it.
    let keep = layered.clone();
    let with_exemplars = cost(&rt, layered);
    assert_eq!(
        with_exemplars.allocs, bare.allocs,
        "bare {bare:?}, with exemplars {with_exemplars:?}"
    );
    let kept = tower_telemetry_metrics::kept_exemplars();
    assert!(
        kept.iter()
            .flat_map(|s| &s.exemplars)
            .any(|e| e.trace_id == trace_id),
        "an exemplar was kept: {kept:?}"
    );
    drop(keep);
}
