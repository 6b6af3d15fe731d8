//! The measurement harness shared by `benches/layers.rs` and the peers' bench
//! (`benches/peers/`, outside the workspace): the same route, the same requests, the same SDK
//! setup, the same way of counting.
//!
//! - An axum route (`GET /users/{id}`) called in-process with `tower::ServiceExt::oneshot` on a
//!   current-thread runtime, the response body drained.
//! - A realistic request: `Host`, a browser's `User-Agent`, `Accept: application/json` and a
//!   sampled W3C `traceparent` ([`request`]); variants without a `traceparent`, with
//!   `tracestate` and `baggage` as well, and with an unsampled parent (flags `00`).
//! - The SDK with `ParentBased(AlwaysOn)` (the SDK's default; `AlwaysOff` for the sampled-out
//!   case) and a batch span processor exporting to a sink, so the exporter thread's work is
//!   real; metrics aggregated by a reader that is never collected during the run.
//! - Allocations counted process-wide (the exporter thread included) over 10,000 requests,
//!   after a warm-up, with a counting global allocator.
//! - Every variant is registered in a [`Suite`] and timed in `BENCH_PASSES` short passes (4 by
//!   default), round-robin over all variants, so slow drift of the shared VM spreads over all of
//!   them; the report takes the median of the passes' medians. What is timed depends on the
//!   criterion `Measurement`: the peers' bench uses the process's CPU time (the exporter
//!   thread's work included), `benches/layers.rs` wall time.

#![allow(dead_code, unreachable_pub, missing_docs)]

use std::convert::Infallible;
use std::hint::black_box;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use criterion::Criterion;
use criterion::measurement::Measurement;
use http::{Request, Response};
use http_body_util::BodyExt;
use opentelemetry::metrics::{Meter, MeterProvider as _};
use opentelemetry::trace::{SpanKind, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{
    BatchSpanProcessor, InMemorySpanExporter, Sampler, SdkTracer, SdkTracerProvider, SpanData,
    SpanExporter,
};
use tower::{Service, ServiceExt};

pub const HOST: &str = "api.example.com";
pub const USER_AGENT: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
pub const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
pub const TRACEPARENT_UNSAMPLED: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
pub const TRACESTATE: &str = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7";
pub const BAGGAGE: &str = "userId=alice,serverNode=DF%2028,isProduction=false";
/// What a client sends: an absolute URI to a backend.
pub const CLIENT_URI: &str = "http://backend.internal:8080/users/7";

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

/// `sampled`: `ParentBased(AlwaysOn)`, the SDK's default (a sampled or absent parent: sampled;
/// an unsampled parent: not). Otherwise `AlwaysOff`.
pub fn tracer_provider(sampled: bool) -> SdkTracerProvider {
    let sampler = if sampled {
        Sampler::ParentBased(Box::new(Sampler::AlwaysOn))
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

/// The headers every real request carries (what hyper hands the server for
/// `GET /users/42 HTTP/1.1`).
fn server_request() -> http::request::Builder {
    Request::get("/users/42")
        .header("host", HOST)
        .header("user-agent", USER_AGENT)
        .header("accept", "application/json")
}

/// The realistic request: `Host`, `User-Agent`, `Accept`, a sampled `traceparent`.
pub fn request() -> Request<Body> {
    server_request()
        .header("traceparent", TRACEPARENT)
        .body(Body::empty())
        .unwrap()
}

/// The realistic request without an incoming trace context (a root span).
pub fn request_no_parent() -> Request<Body> {
    server_request().body(Body::empty()).unwrap()
}

/// The realistic request with `tracestate` and `baggage` besides the `traceparent`.
pub fn request_full_context() -> Request<Body> {
    server_request()
        .header("traceparent", TRACEPARENT)
        .header("tracestate", TRACESTATE)
        .header("baggage", BAGGAGE)
        .body(Body::empty())
        .unwrap()
}

/// The realistic request whose parent was not sampled (`traceparent` flags `00`).
pub fn request_unsampled_parent() -> Request<Body> {
    server_request()
        .header("traceparent", TRACEPARENT_UNSAMPLED)
        .body(Body::empty())
        .unwrap()
}

/// A client's request: an absolute URI to a backend, a `User-Agent` and `Accept`, and no
/// incoming context (the parent is the current one).
pub fn client_request() -> Request<Body> {
    Request::get(CLIENT_URI)
        .header("user-agent", "checkout/2.3 hyper/1")
        .header("accept", "application/json")
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

type Run = Box<dyn Fn(Option<Request<Body>>)>;

/// One benchmarked variant: a service called with its kind of request, or a plain function
/// (the SDK group).
pub struct Variant {
    group: &'static str,
    name: String,
    request: Option<fn() -> Request<Body>>,
    run: Run,
    scope: Option<tracing::Dispatch>,
    flush: Rc<dyn Fn()>,
}

/// Every variant of a run: allocations counted once each, then timed round-robin.
pub struct Suite {
    pub rt: Rc<tokio::runtime::Runtime>,
    pub sampled: SdkTracerProvider,
    pub unsampled: SdkTracerProvider,
    pub meters: SdkMeterProvider,
    variants: Vec<Variant>,
}

impl Default for Suite {
    fn default() -> Self {
        Self::new()
    }
}

impl Suite {
    pub fn new() -> Self {
        Suite {
            rt: Rc::new(runtime()),
            sampled: tracer_provider(true),
            unsampled: tracer_provider(false),
            meters: meter_provider(),
            variants: Vec::new(),
        }
    }

    /// A service variant on the realistic request.
    pub fn service<S, B>(&mut self, group: &'static str, name: &str, svc: S)
    where
        S: Service<Request<Body>, Response = Response<B>, Error = Infallible> + Clone + 'static,
        S::Future: 'static,
        B: http_body::Body + 'static,
        B::Error: std::fmt::Debug,
    {
        self.service_with(group, name, svc, request, None);
    }

    /// A service variant with its own kind of request, under a `tracing` dispatcher if given
    /// (set for the variant's allocation count and each of its timing passes).
    pub fn service_with<S, B>(
        &mut self,
        group: &'static str,
        name: &str,
        svc: S,
        request: fn() -> Request<Body>,
        scope: Option<tracing::Dispatch>,
    ) where
        S: Service<Request<Body>, Response = Response<B>, Error = Infallible> + Clone + 'static,
        S::Future: 'static,
        B: http_body::Body + 'static,
        B::Error: std::fmt::Debug,
    {
        let rt = self.rt.clone();
        let sampled = self.sampled.clone();
        self.variants.push(Variant {
            group,
            name: name.to_owned(),
            request: Some(request),
            run: Box::new(move |req| rt.block_on(once(&svc, req.expect("a request")))),
            scope,
            flush: Rc::new(move || {
                let _ = sampled.force_flush();
            }),
        });
    }

    /// A plain function variant (the SDK group); `flush` drains its exporter.
    pub fn plain(
        &mut self,
        group: &'static str,
        name: &str,
        one: impl Fn() + 'static,
        flush: Rc<dyn Fn()>,
    ) {
        self.variants.push(Variant {
            group,
            name: name.to_owned(),
            request: None,
            run: Box::new(move |_| one()),
            scope: None,
            flush,
        });
    }

    /// Counts every selected variant's allocations, then times them in `BENCH_PASSES` passes
    /// (4 by default), round-robin. Variants not matching the command line's filters (criterion's
    /// `cargo bench -- FILTER`, matched as substrings of `group/name`) are skipped entirely.
    pub fn run<M: Measurement + 'static>(&self, c: &mut Criterion<M>) {
        let filters: Vec<String> = std::env::args()
            .skip(1)
            .filter(|a| !a.starts_with('-'))
            .collect();
        let selected: Vec<&Variant> = self
            .variants
            .iter()
            .filter(|v| {
                let id = format!("{}/{}", v.group, v.name);
                filters.is_empty() || filters.iter().any(|f| id.contains(f.as_str()))
            })
            .collect();
        for v in &selected {
            let _scope = v.scope.as_ref().map(scoped);
            let (allocs, bytes) = allocations(v);
            println!(
                "alloc {}/{}: {allocs:.2} allocs/req, {bytes:.0} bytes/req",
                v.group, v.name
            );
            save_allocations(v.group, &v.name, allocs, bytes);
        }
        let passes: usize = std::env::var("BENCH_PASSES")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(4);
        for pass in 0..passes {
            for v in &selected {
                // The previous variant's spans are exported now, not while this one is timed.
                (v.flush)();
                let _scope = v.scope.as_ref().map(scoped);
                let id = format!("{}.pass{pass}", v.name);
                let mut group = c.benchmark_group(v.group);
                match v.request {
                    Some(request) => group.bench_function(id, |b| {
                        b.iter_batched(
                            request,
                            |req| (v.run)(Some(req)),
                            criterion::BatchSize::SmallInput,
                        );
                    }),
                    None => group.bench_function(id, |b| b.iter(|| (v.run)(None))),
                };
                group.finish();
            }
        }
    }
}

/// `dispatch` as this thread's subscriber, with every callsite's interest recomputed: a
/// callsite first hit by a variant without a subscriber caches "never" for the process, and a
/// scoped dispatcher set later does not revisit it on its own.
fn scoped(dispatch: &tracing::Dispatch) -> tracing::dispatcher::DefaultGuard {
    let guard = tracing::dispatcher::set_default(dispatch);
    tracing::callsite::rebuild_interest_cache();
    guard
}

/// Allocations per request over 10,000 requests, process-wide (exporter thread included).
fn allocations(v: &Variant) -> (f64, f64) {
    const N: u64 = 10_000;
    let make = || v.request.map(|r| r());
    for _ in 0..1000 {
        (v.run)(make());
    }
    (v.flush)();
    // Building the request is the caller's cost: take it out.
    let reqs: Vec<_> = (0..N).map(|_| make()).collect();
    let before = alloc_counter::global();
    for req in reqs {
        (v.run)(req);
    }
    (v.flush)();
    let after = alloc_counter::global();
    let allocs = after.allocs - before.allocs;
    let bytes = after.bytes - before.bytes;
    (allocs as f64 / N as f64, bytes as f64 / N as f64)
}

pub fn save_allocations(group: &str, name: &str, allocs: f64, bytes: f64) {
    let dir = criterion_dir().join(group).join(name);
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join("allocations.txt"), format!("{allocs} {bytes}\n"));
}

/// Where criterion keeps its results: `CRITERION_HOME` (set by `benches/run.sh`), else
/// `target/criterion` under the current directory (criterion's own default).
fn criterion_dir() -> std::path::PathBuf {
    std::env::var_os("CRITERION_HOME").map_or_else(
        || std::path::PathBuf::from("target/criterion"),
        std::path::PathBuf::from,
    )
}

/// One pass of one variant: short, since every variant gets `BENCH_PASSES` of them.
pub fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(20)
        .without_plots()
}

/// What one of our layers records for one request: its span (name, kind, attributes) and its
/// metric points (instrument name, attributes).
pub struct Recorded {
    pub name: String,
    pub kind: SpanKind,
    pub attributes: Vec<KeyValue>,
    pub histograms: Vec<(String, Vec<KeyValue>)>,
    pub up_down: Vec<(String, Vec<KeyValue>)>,
}

/// Sends `request` once through the layer `wrap` puts around the route, with in-memory
/// exporters, and returns what it recorded: the floor is built from exactly that.
pub fn recorded<S, B>(wrap: impl FnOnce(SdkTracer, Meter) -> S, request: Request<Body>) -> Recorded
where
    S: Service<Request<Body>, Response = Response<B>, Error = Infallible> + Clone,
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let spans = InMemorySpanExporter::default();
    let traces = SdkTracerProvider::builder()
        .with_simple_exporter(spans.clone())
        .build();
    let metrics = InMemoryMetricExporter::default();
    let meters = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(metrics.clone()).build())
        .build();
    let svc = wrap(tracer(&traces), meter(&meters));
    runtime().block_on(once(&svc, request));
    let _ = traces.force_flush();
    let _ = meters.force_flush();
    let span = spans
        .get_finished_spans()
        .unwrap()
        .into_iter()
        .next()
        .expect("one span");
    let mut histograms = Vec::new();
    let mut up_down = Vec::new();
    for rm in metrics.get_finished_metrics().unwrap() {
        for sm in rm.scope_metrics() {
            for m in sm.metrics() {
                let name = m.name().to_owned();
                match m.data() {
                    AggregatedMetrics::F64(MetricData::Histogram(h)) => {
                        for p in h.data_points() {
                            histograms.push((name.clone(), p.attributes().cloned().collect()));
                        }
                    }
                    AggregatedMetrics::I64(MetricData::Sum(s)) => {
                        for p in s.data_points() {
                            up_down.push((name.clone(), p.attributes().cloned().collect()));
                        }
                    }
                    other => panic!("{name}: not modelled by the floor: {other:?}"),
                }
            }
        }
    }
    Recorded {
        name: span.name.into_owned(),
        kind: span.span_kind,
        attributes: span.attributes,
        histograms,
        up_down,
    }
}

/// The fused server layer on the realistic request (what the floor reproduces).
pub fn recorded_server() -> Recorded {
    use tower_telemetry_metrics::WithMetrics as _;
    recorded(
        |t, m| {
            router()
                .layer(tower_telemetry_trace::TraceLayer::server(t).with_metrics(&m))
                .with_state(())
        },
        request(),
    )
}

/// The client layer on the client's request (the client floor reproduces it).
pub fn recorded_client() -> Recorded {
    use tower::Layer as _;
    recorded(
        |t, _| tower_telemetry_trace::ClientTraceLayer::client(t).layer(router().with_state(())),
        client_request(),
    )
}

/// Attributes the layers can only know at the response (set on the span at its end).
const AT_RESPONSE: [&str; 2] = ["http.response.status_code", "network.protocol.version"];

/// Exactly the OpenTelemetry calls the fused layer makes for one realistic request, everything
/// prebuilt, no middleware: the floor our layers cannot go under. The span's name, kind and
/// attributes and the metric points are those the layer itself recorded for the same request
/// ([`recorded_server`], [`recorded_client`]). Besides the span and the metric points it
/// includes two clock reads, `Context::with_span` (the layer hands handlers the span's
/// `Context`, which costs the API a `Box` and an `Arc`) and the propagator's extract (server) or
/// inject (client); not the `Context` in the request's extensions nor the attribute values read
/// from the request.
pub struct Floor {
    pub provider: SdkTracerProvider,
    pub tracer: SdkTracer,
    _meters: SdkMeterProvider,
    pub histogram: opentelemetry::metrics::Histogram<f64>,
    pub bound: Vec<opentelemetry::metrics::BoundHistogram<f64>>,
    pub active: Vec<opentelemetry::metrics::BoundUpDownCounter<i64>>,
    propagator: tower_telemetry_trace::propagation::Propagator,
    headers: http::HeaderMap,
    pub server: Recorded,
    /// The server span's attributes known at the request, and at the response.
    pub attrs: Vec<KeyValue>,
    pub end_attrs: Vec<KeyValue>,
    pub point: Vec<KeyValue>,
    client_name: String,
    client_attrs: Vec<KeyValue>,
    client_end_attrs: Vec<KeyValue>,
}

impl Default for Floor {
    fn default() -> Self {
        Self::new()
    }
}

fn split_at_response(attributes: &[KeyValue]) -> (Vec<KeyValue>, Vec<KeyValue>) {
    attributes
        .iter()
        .cloned()
        .partition(|kv| !AT_RESPONSE.contains(&kv.key.as_str()))
}

impl Floor {
    pub fn new() -> Self {
        let server = recorded_server();
        let client = recorded_client();
        let provider = tracer_provider(true);
        let tracer = tracer(&provider);
        let meters = meter_provider();
        let meter = meter(&meters);
        let mut histogram = None;
        let mut bound = Vec::new();
        for (name, attrs) in &server.histograms {
            let h = meter
                .f64_histogram(name.clone())
                .with_boundaries(tower_telemetry_metrics::DURATION_BUCKETS.to_vec())
                .build();
            // The layer records through bound instruments (one per label set, cached).
            bound.push(h.bind(attrs));
            histogram.get_or_insert(h);
        }
        let active = server
            .up_down
            .iter()
            .map(|(name, attrs)| meter.i64_up_down_counter(name.clone()).build().bind(attrs))
            .collect();
        let mut headers = http::HeaderMap::new();
        for (k, v) in request().headers() {
            headers.insert(k, v.clone());
        }
        let (attrs, end_attrs) = split_at_response(&server.attributes);
        let (client_attrs, client_end_attrs) = split_at_response(&client.attributes);
        let point = server
            .histograms
            .first()
            .map(|(_, a)| a.clone())
            .unwrap_or_default();
        Floor {
            provider,
            tracer,
            _meters: meters,
            histogram: histogram.expect("the fused layer records a duration"),
            bound,
            active,
            propagator: tower_telemetry_trace::propagation::Propagator::w3c(),
            headers,
            server,
            attrs,
            end_attrs,
            point,
            client_name: client.name,
            client_attrs,
            client_end_attrs,
        }
    }

    /// The server layer's calls: extract, the SERVER span with the layer's attributes under
    /// the caller's context, its `Context`, the response's attributes at the end, the metric
    /// points (in-flight +1 and -1, the duration), two clock reads.
    pub fn server(&self) {
        use opentelemetry::trace::{TraceContextExt as _, Tracer as _};
        use tower_telemetry_trace::propagation::HeaderPropagator as _;
        let started = Instant::now();
        let start = SystemTime::now();
        for a in &self.active {
            a.add(1);
        }
        let parent = self
            .propagator
            .extract_headers(&self.headers, &Context::new());
        let span = self
            .tracer
            .span_builder(self.server.name.clone())
            .with_kind(self.server.kind.clone())
            .with_start_time(start)
            .with_attributes(self.attrs.iter().cloned())
            .start_with_context(&self.tracer, &parent);
        let cx = parent.with_span(span);
        let span = cx.span();
        for kv in &self.end_attrs {
            span.set_attribute(kv.clone());
        }
        let elapsed = started.elapsed();
        span.end_with_timestamp(start + elapsed);
        for b in &self.bound {
            b.record(elapsed.as_secs_f64());
        }
        for a in &self.active {
            a.add(-1);
        }
        black_box(&cx);
    }

    /// The client layer's calls: CLIENT span under the current context with the layer's
    /// attributes, its `Context` injected into the outgoing headers, the response's attributes
    /// at the end.
    pub fn client(&self) {
        use opentelemetry::trace::{TraceContextExt as _, Tracer as _};
        use tower_telemetry_trace::propagation::HeaderPropagator as _;
        let mut headers = http::HeaderMap::new();
        let started = Instant::now();
        let start = SystemTime::now();
        let parent = Context::current();
        let span = self
            .tracer
            .span_builder(self.client_name.clone())
            .with_kind(SpanKind::Client)
            .with_start_time(start)
            .with_attributes(self.client_attrs.iter().cloned())
            .start_with_context(&self.tracer, &parent);
        let cx = parent.with_span(span);
        self.propagator.inject_headers(&cx, &mut headers);
        let span = cx.span();
        for kv in &self.client_end_attrs {
            span.set_attribute(kv.clone());
        }
        span.end_with_timestamp(start + started.elapsed());
        black_box(headers);
    }

    /// The span, the attributes and the points, one per line (for the report and for checking
    /// the floor against the layer).
    pub fn describe(&self) -> String {
        let kvs = |a: &[KeyValue]| {
            a.iter()
                .map(|kv| format!("{}={}", kv.key, kv.value))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut s = format!(
            "server span `{}` ({:?}): {}\n",
            self.server.name,
            self.server.kind,
            kvs(&self.server.attributes)
        );
        for (name, a) in self.server.histograms.iter().chain(&self.server.up_down) {
            s.push_str(&format!("point {name}: {}\n", kvs(a)));
        }
        s.push_str(&format!(
            "client span `{}`: {}\n",
            self.client_name,
            kvs(&self
                .client_attrs
                .iter()
                .chain(&self.client_end_attrs)
                .cloned()
                .collect::<Vec<_>>())
        ));
        s
    }
}

/// Our variants and the SDK floor (shared with the peers' bench, which adds the peers).
pub mod ours {
    use std::hint::black_box;
    use std::rc::Rc;
    use std::time::{Instant, SystemTime};

    use opentelemetry::trace::{Span as _, Tracer as _};
    use tower::Layer;
    use tower_telemetry_metrics::{MetricsLayer, WithMetrics};
    use tower_telemetry_trace::TraceLayer;

    use super::*;

    /// The server group: the route bare (with each kind of request), under axum's identity
    /// layer, and under our layers.
    pub fn server(suite: &mut Suite) {
        let g = "server";
        let (sampled, unsampled) = (suite.sampled.clone(), suite.unsampled.clone());
        let meters = suite.meters.clone();
        let fused = || {
            router()
                .layer(TraceLayer::server(tracer(&sampled)).with_metrics(&meter(&meters)))
                .with_state(())
        };
        suite.service(g, "bare", router().with_state(()));
        suite.service_with(
            g,
            "bare_no_parent",
            router().with_state(()),
            request_no_parent,
            None,
        );
        suite.service_with(
            g,
            "bare_full_context",
            router().with_state(()),
            request_full_context,
            None,
        );
        // axum's own cost of any `Router::layer` (it boxes the layered route and its body):
        // what every layer pays before doing anything.
        suite.service(
            g,
            "bare_identity_layer",
            router()
                .layer(tower::layer::util::Identity::new())
                .with_state(()),
        );
        // No provider installed: the global tracer is the API's no-op.
        suite.service(
            g,
            "ours_disabled",
            router()
                .layer(TraceLayer::server_from_global())
                .with_state(()),
        );
        suite.service(
            g,
            "ours_filtered",
            router()
                .layer(TraceLayer::server(tracer(&sampled)).skip_if(|_| true))
                .with_state(()),
        );
        suite.service(
            g,
            "ours_sampled_out",
            router()
                .layer(TraceLayer::server(tracer(&unsampled)).with_metrics(&meter(&meters)))
                .with_state(()),
        );
        suite.service(
            g,
            "ours_trace",
            router()
                .layer(TraceLayer::server(tracer(&sampled)))
                .with_state(()),
        );
        suite.service(
            g,
            "ours_metrics",
            router()
                .layer(MetricsLayer::server(&meter(&meters)))
                .with_state(()),
        );
        suite.service(g, "ours_fused", fused());
        suite.service_with(g, "ours_fused_no_parent", fused(), request_no_parent, None);
        suite.service_with(
            g,
            "ours_fused_full_context",
            fused(),
            request_full_context,
            None,
        );
        suite.service_with(
            g,
            "ours_fused_unsampled_parent",
            fused(),
            request_unsampled_parent,
            None,
        );
        suite.service(
            g,
            "ours_stacked",
            router()
                .layer(MetricsLayer::server(&meter(&meters)))
                .layer(TraceLayer::server(tracer(&sampled)))
                .with_state(()),
        );
    }

    /// The client group: the client layer around an in-process "transport" (an axum route),
    /// so only the layer differs.
    pub fn client(suite: &mut Suite) {
        let transport = || router().with_state(());
        let (sampled, unsampled) = (suite.sampled.clone(), suite.unsampled.clone());
        suite.service_with("client", "bare", transport(), client_request, None);
        suite.service_with(
            "client",
            "ours_sampled",
            tower_telemetry_trace::ClientTraceLayer::client(tracer(&sampled)).layer(transport()),
            client_request,
            None,
        );
        suite.service_with(
            "client",
            "ours_not_sampled",
            tower_telemetry_trace::ClientTraceLayer::client(tracer(&unsampled)).layer(transport()),
            client_request,
            None,
        );
        // The client layer as the load test's frontend uses it: trace and metrics, fused.
        let meters = suite.meters.clone();
        suite.service_with(
            "client",
            "ours_fused",
            tower_telemetry_trace::ClientTraceLayer::client(tracer(&sampled))
                .with_metrics(&meter(&meters))
                .layer(transport()),
            client_request,
            None,
        );
    }

    /// The SDK floor (exactly the SDK calls the fused layer makes for the realistic request,
    /// prebuilt, no middleware) and some of its parts.
    pub fn sdk_floor(suite: &mut Suite) {
        let floor = Rc::new(Floor::new());
        print!("{}", floor.describe());
        let flush: Rc<dyn Fn()> = {
            let floor = floor.clone();
            Rc::new(move || {
                let _ = floor.provider.force_flush();
            })
        };
        let f = floor.clone();
        suite.plain("sdk", "floor", move || f.server(), flush.clone());
        let f = floor.clone();
        suite.plain("sdk", "client_floor", move || f.client(), flush.clone());
        let f = floor.clone();
        let n = floor.attrs.len();
        suite.plain(
            "sdk",
            &format!("span_{n}_attributes"),
            move || {
                let mut span = f
                    .tracer
                    .span_builder(f.server.name.clone())
                    .with_kind(f.server.kind.clone())
                    .with_attributes(f.attrs.iter().cloned())
                    .start(&f.tracer);
                span.end();
            },
            flush.clone(),
        );
        let f = floor.clone();
        suite.plain(
            "sdk",
            &format!("histogram_{}_attributes", floor.point.len()),
            move || f.histogram.record(0.001, &f.point),
            flush.clone(),
        );
        let f = floor;
        suite.plain(
            "sdk",
            "histogram_bound",
            move || {
                for b in &f.bound {
                    b.record(0.001);
                }
            },
            flush.clone(),
        );
        suite.plain(
            "sdk",
            "two_clock_reads",
            || {
                black_box((Instant::now(), SystemTime::now()));
            },
            flush,
        );
    }

    /// All of ours: the server and client groups and the SDK floor.
    pub fn all(suite: &mut Suite) {
        server(suite);
        client(suite);
        sdk_floor(suite);
    }
}
