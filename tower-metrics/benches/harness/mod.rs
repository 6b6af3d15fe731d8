//! The measurement harness shared by `benches/layers.rs` and the peers' bench
//! (`benches/peers/`, outside the workspace): the same route, the same request, the same SDK
//! setup, the same way of counting.
//!
//! - An axum route (`GET /users/{id}`) called in-process with `tower::ServiceExt::oneshot` on a
//!   current-thread runtime, the response body drained, the request carrying a valid sampled
//!   `traceparent`.
//! - The SDK with `AlwaysOn` (or `AlwaysOff` for the sampled-out case) and a batch span
//!   processor exporting to a sink, so the exporter thread's work is real; metrics aggregated
//!   by a reader that is never collected during the run.
//! - Allocations counted process-wide (the exporter thread included) over 10,000 requests,
//!   after a warm-up, with a counting global allocator.

#![allow(dead_code, unreachable_pub, missing_docs)]

use std::convert::Infallible;
use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use criterion::Criterion;
use http::{Request, Response};
use http_body_util::BodyExt;
use opentelemetry::metrics::{Meter, MeterProvider as _};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{
    BatchSpanProcessor, Sampler, SdkTracer, SdkTracerProvider, SpanData, SpanExporter,
};
use tower::{Service, ServiceExt};

pub const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// Drops every batch: the export path runs, nothing is sent.
#[derive(Debug, Default)]
pub struct SinkExporter;

impl SpanExporter for SinkExporter {
    fn export(
        &self,
        batch: Vec<SpanData>,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        black_box(batch);
        std::future::ready(Ok(()))
    }
}

pub fn tracer_provider(sampled: bool) -> SdkTracerProvider {
    let sampler = if sampled {
        Sampler::AlwaysOn
    } else {
        Sampler::AlwaysOff
    };
    SdkTracerProvider::builder()
        .with_sampler(sampler)
        .with_span_processor(BatchSpanProcessor::builder(SinkExporter).build())
        .build()
}

pub fn tracer(provider: &SdkTracerProvider) -> SdkTracer {
    provider.tracer("bench")
}

/// Aggregation runs on every recording; the reader exports only hourly (never during a run).
pub fn meter_provider() -> SdkMeterProvider {
    let reader = PeriodicReader::builder(InMemoryMetricExporter::default())
        .with_interval(Duration::from_secs(3600))
        .build();
    SdkMeterProvider::builder().with_reader(reader).build()
}

pub fn meter(provider: &SdkMeterProvider) -> Meter {
    provider.meter("bench")
}

/// The route every variant serves. Callers finish their stack with `.with_state(())`, as
/// `axum::serve` does: a `Router` called as a `Service` without it turns its handlers into
/// routes (re-running every layer's `Layer::layer`) on each request.
pub fn router() -> Router {
    Router::new().route("/users/{id}", get(|| async { "ok" }))
}

pub fn request() -> Request<Body> {
    Request::get("/users/42")
        .header("traceparent", TRACEPARENT)
        .body(Body::empty())
        .unwrap()
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// One request through `svc`, body drained.
pub async fn once<S, B>(svc: &S, req: Request<Body>)
where
    S: Service<Request<Body>, Response = Response<B>, Error = Infallible> + Clone,
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let response = svc.clone().oneshot(req).await.unwrap();
    black_box(response.into_body().collect().await.unwrap());
}

/// Allocations per request over `n` requests, process-wide (exporter thread included).
pub fn allocations<S, B>(
    rt: &tokio::runtime::Runtime,
    svc: &S,
    request: fn() -> Request<Body>,
    flush: &dyn Fn(),
) -> (f64, f64)
where
    S: Service<Request<Body>, Response = Response<B>, Error = Infallible> + Clone,
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    const N: u64 = 10_000;
    for _ in 0..1000 {
        rt.block_on(once(svc, request()));
    }
    flush();
    // Building the request is the caller's cost: take it out.
    let reqs: Vec<_> = (0..N).map(|_| request()).collect();
    let before = alloc_counter::global();
    for req in reqs {
        rt.block_on(once(svc, req));
    }
    flush();
    let after = alloc_counter::global();
    let allocs = after.allocs - before.allocs;
    let bytes = after.bytes - before.bytes;
    (allocs as f64 / N as f64, bytes as f64 / N as f64)
}

/// A client's request: an absolute URI, as a client sends it, and no incoming context (the
/// parent is the current one).
pub fn client_request() -> Request<Body> {
    Request::get("http://127.0.0.1:8080/users/42")
        .body(Body::empty())
        .unwrap()
}

/// Times one variant and records its allocations next to criterion's results (as
/// `target/criterion/<group>/<name>/allocations.txt`, read by the report).
pub fn variant<S, B>(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    group: &str,
    name: &str,
    svc: S,
    flush: &dyn Fn(),
) where
    S: Service<Request<Body>, Response = Response<B>, Error = Infallible> + Clone,
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    variant_with(c, rt, group, name, svc, request, flush);
}

/// [`variant`] with its own kind of request.
// `svc` is taken by value: callers build a service per variant and hand it over.
#[allow(clippy::needless_pass_by_value)]
pub fn variant_with<S, B>(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    group: &str,
    name: &str,
    svc: S,
    request: fn() -> Request<Body>,
    flush: &dyn Fn(),
) where
    S: Service<Request<Body>, Response = Response<B>, Error = Infallible> + Clone,
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let (allocs, bytes) = allocations(rt, &svc, request, flush);
    println!("alloc {group}/{name}: {allocs:.2} allocs/req, {bytes:.0} bytes/req");
    save_allocations(group, name, allocs, bytes);
    c.benchmark_group(group).bench_function(name, |b| {
        b.iter_batched(
            request,
            |req| rt.block_on(once(&svc, req)),
            criterion::BatchSize::SmallInput,
        );
    });
}

pub fn save_allocations(group: &str, name: &str, allocs: f64, bytes: f64) {
    let dir = criterion_dir().join(group).join(name);
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join("allocations.txt"), format!("{allocs} {bytes}\n"));
}

/// Where criterion keeps its results: `CRITERION_HOME` (set by `benches/run.sh`), else
/// `target/criterion` under the current directory (criterion's own default).
fn criterion_dir() -> std::path::PathBuf {
    std::env::var_os("CRITERION_HOME")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from("target/criterion"))
}

pub fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
}

/// Exactly the OpenTelemetry calls the fused layer makes for one request, everything prebuilt,
/// no middleware: the floor our layers cannot go under. Besides the span, the histogram point
/// and the clock reads it includes `Context::with_span` (the layer hands handlers the span's
/// `Context`, which costs the API a `Box` and an `Arc`) and the propagator's extract (server)
/// or inject (client); not the `Context` in the request's extensions nor the attribute values
/// read from the request.
pub struct Floor {
    pub provider: SdkTracerProvider,
    pub tracer: SdkTracer,
    _meters: SdkMeterProvider,
    pub histogram: opentelemetry::metrics::Histogram<f64>,
    pub bound: opentelemetry::metrics::BoundHistogram<f64>,
    propagator: tower_telemetry_trace::propagation::Propagator,
    headers: http::HeaderMap,
    pub attrs: [KeyValue; 8],
    pub point: [KeyValue; 5],
    client_attrs: [KeyValue; 4],
}

impl Floor {
    pub fn new() -> Self {
        let provider = tracer_provider(true);
        let tracer = tracer(&provider);
        let meters = meter_provider();
        let histogram = meter(&meters)
            .f64_histogram("http.server.request.duration")
            .with_boundaries(tower_telemetry_metrics::DURATION_BUCKETS.to_vec())
            .build();
        let mut headers = http::HeaderMap::new();
        headers.insert("traceparent", TRACEPARENT.parse().unwrap());
        let point = [
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new("url.scheme", "http"),
            KeyValue::new("http.response.status_code", 200),
            KeyValue::new("http.route", "/users/{id}"),
            KeyValue::new("network.protocol.version", "1.1"),
        ];
        // The layer records through a bound histogram (one per label set, cached).
        let bound = histogram.bind(&point);
        Floor {
            provider,
            tracer,
            _meters: meters,
            histogram,
            bound,
            propagator: tower_telemetry_trace::propagation::Propagator::w3c(),
            headers,
            attrs: [
                KeyValue::new("http.request.method", "GET"),
                KeyValue::new("url.path", "/users/42"),
                KeyValue::new("url.scheme", "http"),
                KeyValue::new("http.route", "/users/{id}"),
                KeyValue::new("network.protocol.version", "1.1"),
                KeyValue::new("server.address", "127.0.0.1"),
                KeyValue::new("server.port", 8080),
                KeyValue::new("user_agent.original", "bench"),
            ],
            point,
            client_attrs: [
                KeyValue::new("server.address", "127.0.0.1"),
                KeyValue::new("server.port", 8080),
                KeyValue::new("http.request.method", "GET"),
                KeyValue::new("url.full", "http://127.0.0.1:8080/users/42"),
            ],
        }
    }

    /// The server layer's calls: extract, SERVER span with 8 attributes under the caller's
    /// context, its `Context`, status at the end, one histogram point, two clock reads.
    pub fn server(&self) {
        use opentelemetry::trace::{SpanKind, TraceContextExt as _, Tracer as _};
        use tower_telemetry_trace::propagation::HeaderPropagator as _;
        let started = Instant::now();
        let start = SystemTime::now();
        let parent = self
            .propagator
            .extract_headers(&self.headers, &Context::new());
        let span = self
            .tracer
            .span_builder("GET /users/{id}")
            .with_kind(SpanKind::Server)
            .with_start_time(start)
            .with_attributes(self.attrs.iter().cloned())
            .start_with_context(&self.tracer, &parent);
        let cx = parent.with_span(span);
        let span = cx.span();
        span.set_attribute(KeyValue::new("http.response.status_code", 200));
        let elapsed = started.elapsed();
        span.end_with_timestamp(start + elapsed);
        self.bound.record(elapsed.as_secs_f64());
        black_box(&cx);
    }

    /// The client layer's calls: CLIENT span under the current context, its `Context`
    /// injected into the outgoing headers, status and version at the response head.
    pub fn client(&self) {
        use opentelemetry::trace::{SpanKind, TraceContextExt as _, Tracer as _};
        use tower_telemetry_trace::propagation::HeaderPropagator as _;
        let mut headers = http::HeaderMap::new();
        let started = Instant::now();
        let start = SystemTime::now();
        let parent = Context::current();
        let span = self
            .tracer
            .span_builder("GET")
            .with_kind(SpanKind::Client)
            .with_start_time(start)
            .with_attributes(self.client_attrs.iter().cloned())
            .start_with_context(&self.tracer, &parent);
        let cx = parent.with_span(span);
        self.propagator.inject_headers(&cx, &mut headers);
        let span = cx.span();
        span.set_attribute(KeyValue::new("http.response.status_code", 200));
        span.set_attribute(KeyValue::new("network.protocol.version", "1.1"));
        span.end_with_timestamp(start + started.elapsed());
        black_box(headers);
    }
}

/// Our variants and the SDK floor (shared with the peers' bench, which adds the peers).
pub mod ours {
    use std::hint::black_box;
    use std::time::{Instant, SystemTime};

    use criterion::Criterion;
    use opentelemetry::trace::{Span as _, SpanKind, Tracer as _};
    use tower::Layer;
    use tower_telemetry_metrics::{MetricsLayer, WithMetrics};
    use tower_telemetry_trace::TraceLayer;

    use super::*;

    pub fn server(c: &mut Criterion) {
        let rt = runtime();
        let sampled = tracer_provider(true);
        let unsampled = tracer_provider(false);
        let meters = meter_provider();
        let flush = || {
            let _ = sampled.force_flush();
        };
        let g = "server";

        variant(c, &rt, g, "bare", router().with_state(()), &flush);
        // axum's own cost of any `Router::layer` (it boxes the layered route and its body):
        // what every layer pays before doing anything.
        variant(
            c,
            &rt,
            g,
            "bare_identity_layer",
            router()
                .layer(tower::layer::util::Identity::new())
                .with_state(()),
            &flush,
        );
        variant(
            c,
            &rt,
            g,
            "ours_disabled",
            router()
                .layer(TraceLayer::server_from_global())
                .with_state(()),
            &flush,
        );
        variant(
            c,
            &rt,
            g,
            "ours_filtered",
            router()
                .layer(TraceLayer::server(tracer(&sampled)).skip_if(|_| true))
                .with_state(()),
            &flush,
        );
        variant(
            c,
            &rt,
            g,
            "ours_sampled_out",
            router()
                .layer(TraceLayer::server(tracer(&unsampled)).with_metrics(&meter(&meters)))
                .with_state(()),
            &flush,
        );
        variant(
            c,
            &rt,
            g,
            "ours_trace",
            router()
                .layer(TraceLayer::server(tracer(&sampled)))
                .with_state(()),
            &flush,
        );
        variant(
            c,
            &rt,
            g,
            "ours_metrics",
            router()
                .layer(MetricsLayer::server(&meter(&meters)))
                .with_state(()),
            &flush,
        );
        variant(
            c,
            &rt,
            g,
            "ours_fused",
            router()
                .layer(TraceLayer::server(tracer(&sampled)).with_metrics(&meter(&meters)))
                .with_state(()),
            &flush,
        );
        variant(
            c,
            &rt,
            g,
            "ours_stacked",
            router()
                .layer(MetricsLayer::server(&meter(&meters)))
                .layer(TraceLayer::server(tracer(&sampled)))
                .with_state(()),
            &flush,
        );
    }

    pub fn client(c: &mut Criterion) {
        let rt = runtime();
        let sampled = tracer_provider(true);
        let unsampled = tracer_provider(false);
        let flush = || {
            let _ = sampled.force_flush();
        };
        // The "transport": an axum route called in-process, so only the client layer differs.
        let transport = || router().with_state(());
        variant_with(
            c,
            &rt,
            "client",
            "bare",
            transport(),
            client_request,
            &flush,
        );
        variant_with(
            c,
            &rt,
            "client",
            "ours_sampled",
            tower_telemetry_trace::ClientTraceLayer::client(tracer(&sampled)).layer(transport()),
            client_request,
            &flush,
        );
        variant_with(
            c,
            &rt,
            "client",
            "ours_not_sampled",
            tower_telemetry_trace::ClientTraceLayer::client(tracer(&unsampled)).layer(transport()),
            client_request,
            &flush,
        );
    }

    /// Allocations (exporter thread included) and time of one floor.
    fn floor_variant(c: &mut Criterion, name: &str, one: &dyn Fn(), flush: &dyn Fn()) {
        for _ in 0..1000 {
            one();
        }
        flush();
        let before = alloc_counter::global();
        for _ in 0..10_000 {
            one();
        }
        flush();
        let after = alloc_counter::global();
        let (allocs, bytes) = (
            (after.allocs - before.allocs) as f64 / 1e4,
            (after.bytes - before.bytes) as f64 / 1e4,
        );
        println!("alloc sdk/{name}: {allocs:.2} allocs/req, {bytes:.0} bytes/req");
        save_allocations("sdk", name, allocs, bytes);
        c.benchmark_group("sdk")
            .bench_function(name, |b| b.iter(one));
    }

    /// Exactly the SDK calls the fused layer makes for one request, with everything prebuilt and
    /// no middleware: the floor our layers cannot go under.
    pub fn sdk_floor(c: &mut Criterion) {
        let floor = Floor::new();
        let flush = || {
            let _ = floor.provider.force_flush();
        };
        floor_variant(c, "floor", &|| floor.server(), &flush);
        floor_variant(c, "client_floor", &|| floor.client(), &flush);
        let Floor {
            tracer,
            histogram,
            bound,
            attrs,
            point,
            ..
        } = &floor;

        // Its parts.
        c.benchmark_group("sdk")
            .bench_function("span_8_attributes", |b| {
                b.iter(|| {
                    let mut span = tracer
                        .span_builder("GET /users/{id}")
                        .with_kind(SpanKind::Server)
                        .with_attributes(attrs.iter().cloned())
                        .start(tracer);
                    span.end();
                });
            });
        c.benchmark_group("sdk")
            .bench_function("histogram_5_attributes", |b| {
                b.iter(|| histogram.record(0.001, point));
            });
        c.benchmark_group("sdk")
            .bench_function("histogram_bound", |b| {
                b.iter(|| bound.record(0.001));
            });
        c.benchmark_group("sdk")
            .bench_function("two_clock_reads", |b| {
                b.iter(|| black_box((Instant::now(), SystemTime::now())));
            });
    }
}
