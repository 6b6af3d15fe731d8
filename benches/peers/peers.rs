//! Our layers and the peers on the same route, in one run (see `tower-metrics/benches/harness`
//! for the method). Variants named `peer_*` are other crates; `ours_*` and `bare` come from the
//! shared harness so every ratio is measured in the same process, round-robin, in process CPU
//! time (the exporter thread's work included: `cpu.rs`).

#[path = "../../tower-metrics/benches/harness/mod.rs"]
mod harness;
mod cpu;
mod sdk032;


use alloc_counter::CountingAllocator;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use criterion::{Criterion, criterion_group, criterion_main};
use cpu::ProcessCpu;
use harness::*;
use opentelemetry::global;
use opentelemetry::metrics::Histogram;
use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::{Span as _, SpanKind, TraceContextExt as _, Tracer as _};
use opentelemetry::KeyValue;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_subscriber::layer::SubscriberExt as _;

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator;

/// The peers, added to the suite after ours (so ours are built before any peer installs a
/// global provider: `ours_disabled` keeps the API's no-op tracer).
fn peers(suite: &mut Suite) {
    let sampled = suite.sampled.clone();
    let meters = suite.meters.clone();
    // Several peers read the global propagator on every request; give them the SDK's.
    global::set_text_map_propagator(TraceContextPropagator::new());
    let subscriber = || Some(tracing::Dispatch::new(tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(tracer(&sampled)))));
    let g = "server";

    suite.service_with(g, "peer_towerhttp_tracing_otel", router().layer(tower_http::trace::TraceLayer::new_for_http()).with_state(()), request, subscriber());
    {
        let app = router()
            .layer(axum_tracing_opentelemetry::middleware::OtelInResponseLayer)
            .layer(axum_tracing_opentelemetry::middleware::OtelAxumLayer::default()).with_state(());
        suite.service_with(g, "peer_axum_tracing_otel", app, request, subscriber());
    }
    let meters_032 = sdk032::meter_provider();
    let otel_metrics = || axum_otel_metrics::HttpMetricsLayerBuilder::new().with_provider(meters_032.clone()).build();
    {
        let app = router()
            .layer(axum_tracing_opentelemetry::middleware::OtelInResponseLayer)
            .layer(axum_tracing_opentelemetry::middleware::OtelAxumLayer::default())
            .layer(otel_metrics()).with_state(());
        suite.service_with(g, "peer_axum_tracing_otel_plus_axum_otel_metrics", app, request, subscriber());
    }
    suite.service(g, "peer_axum_otel_metrics", router().layer(otel_metrics()).with_state(()));
    {
        global::set_tracer_provider(sampled.clone());
        global::set_meter_provider(meters.clone());
        let layer = opentelemetry_instrumentation_tower::http::server::LayerBuilder::builder().build().expect("contrib layer");
        suite.service(g, "peer_contrib_instrumentation_tower", router().layer(layer).with_state(()));
    }
    {
        let meter = meter(&meters);
        let app = router()
            .layer(tower_otel::trace::HttpLayer::server(tracing::Level::INFO))
            .layer(tower_otel::metrics::HttpLayer::server(&meter)).with_state(());
        suite.service_with(g, "peer_tower_otel", app, request, subscriber());
    }
    {
        // A hand-written `from_fn` layer on the raw API: extract, a server span with 4
        // attributes, one histogram point.
        let tracer = tracer(&sampled);
        let histogram = meter(&meters).f64_histogram("http.server.request.duration").build();
        let state = (tracer, histogram);
        async fn raw(
            axum::extract::State((tracer, histogram)): axum::extract::State<(opentelemetry_sdk::trace::SdkTracer, Histogram<f64>)>,
            request: Request,
            next: Next,
        ) -> Response {
            let started = std::time::Instant::now();
            let parent = TraceContextPropagator::new().extract(&opentelemetry_http::HeaderExtractor(request.headers()));
            let method = request.method().to_string();
            let mut span = tracer
                .span_builder(format!("{method} /users/{{id}}"))
                .with_kind(SpanKind::Server)
                .with_attributes([
                    KeyValue::new("http.request.method", method.clone()),
                    KeyValue::new("url.path", request.uri().path().to_owned()),
                    KeyValue::new("url.scheme", "http"),
                    KeyValue::new("http.route", "/users/{id}"),
                ])
                .start_with_context(&tracer, &parent);
            let response = next.run(request).await;
            span.set_attribute(KeyValue::new("http.response.status_code", i64::from(response.status().as_u16())));
            span.end();
            histogram.record(
                started.elapsed().as_secs_f64(),
                &[KeyValue::new("http.request.method", method), KeyValue::new("http.response.status_code", i64::from(response.status().as_u16()))],
            );
            let _ = parent.has_active_span();
            response
        }
        let app = router().layer(middleware::from_fn_with_state(state, raw)).with_state(());
        suite.service(g, "peer_raw_from_fn", app);
    }
}

/// Ours, the floor and the peers in one suite: allocations counted, then timed round-robin.
fn all(c: &mut Criterion<ProcessCpu>) {
    let mut suite = Suite::new();
    harness::ours::all(&mut suite);
    peers(&mut suite);
    suite.run(c);
}

criterion_group! {
    name = benches;
    config = config().with_measurement(ProcessCpu);
    targets = all
}
criterion_main!(benches);
