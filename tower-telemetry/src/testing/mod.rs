//! Test your service's telemetry in a few lines (feature `testing`, for `[dev-dependencies]`).
//!
//! [`TestTelemetry`] is the real OpenTelemetry SDK with an in-memory span exporter and a
//! metric reader that collects when asked. It hands out the same layers as
//! [`setup::Telemetry`](crate#quick-start) ([`server_layer`](TestTelemetry::server_layer),
//! [`client_layer`](TestTelemetry::client_layer), [`trace_layer`](TestTelemetry::trace_layer),
//! [`meter`](TestTelemetry::meter)) and reads back what they recorded: spans by name, their
//! attributes, status, children and traces; histogram and counter points by attributes;
//! the Prometheus text. Flushing is the kit's job: a span is readable as soon as it ends, and
//! every metric read collects first. An expectation that fails panics with a dump of what was
//! recorded (the span trees, the points), not with `None`.
//!
//! ```toml
//! [dev-dependencies]
//! tower-telemetry = { version = "0.1", features = ["testing"] }
//! ```
//!
//! # An axum route, its span and its metric
//!
//! ```
//! use axum::{Router, http::Request, routing::get};
//! use tower_telemetry::testing::TestTelemetry;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let telemetry = TestTelemetry::new();
//! let app = Router::new()
//!     .route("/users/{id}", get(|| async { "hello" }))
//!     .layer(telemetry.server_layer());
//!
//! let response = telemetry.call(app, Request::get("/users/7").body(String::new()).unwrap()).await;
//! assert_eq!(response.status(), 200);
//!
//! telemetry
//!     .span("GET /users/{id}")
//!     .assert_attr("http.route", "/users/{id}")
//!     .assert_attr("http.response.status_code", 200);
//! let point = telemetry
//!     .histogram("http.server.request.duration")
//!     .point(&[("http.route", "/users/{id}"), ("http.response.status_code", "200")]);
//! assert_eq!(point.count, 1);
//! # }
//! ```
//!
//! # A span-name hook and a bounded metric label
//!
//! ```
//! use axum::{Router, http::Request, routing::get};
//! use tower_telemetry::testing::TestTelemetry;
//! use tower_telemetry::MetricsLayer;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let telemetry = TestTelemetry::new();
//! let app = Router::new()
//!     .route("/orders", get(|| async { "[]" }))
//!     .layer(telemetry.trace_layer().with_span_name(|_, facts| format!("orders {}", facts.method()).into()))
//!     .layer(MetricsLayer::server(&telemetry.meter("shop")).with_label("tenant", |req| {
//!         req.headers().get("x-tenant").and_then(|v| v.to_str().ok())
//!     }));
//!
//! let request = Request::get("/orders").header("x-tenant", "acme").body(String::new()).unwrap();
//! telemetry.call(app, request).await;
//!
//! telemetry.span("orders GET");
//! let point = telemetry.histogram("http.server.request.duration").point(&[("tenant", "acme")]);
//! assert_eq!(point.count, 1);
//! # }
//! ```
//!
//! # A client call's parent
//!
//! A client layer called inside a traced handler makes a CLIENT span, child of the server
//! span, and sends its own id downstream:
//!
//! ```
//! use axum::{Router, http::Request, routing::get};
//! use http_body_util::BodyExt;
//! use opentelemetry::trace::SpanKind;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//! use tower_telemetry::testing::TestTelemetry;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let telemetry = TestTelemetry::new();
//! // A downstream service that answers with the traceparent it received.
//! let downstream = ServiceBuilder::new().layer(telemetry.client_layer()).service(service_fn(
//!     |req: Request<String>| async move {
//!         let traceparent = req.headers()["traceparent"].to_str().unwrap().to_owned();
//!         Ok::<_, std::convert::Infallible>(axum::http::Response::new(traceparent))
//!     },
//! ));
//! let app = Router::new()
//!     .route("/", get(move || {
//!         let downstream = downstream.clone();
//!         async move {
//!             let request = Request::get("http://inventory/items").body(String::new()).unwrap();
//!             let body = downstream.oneshot(request).await.unwrap().into_body();
//!             body.collect().await.unwrap().to_bytes()
//!         }
//!     }))
//!     .layer(telemetry.server_layer());
//!
//! let response = telemetry.call(app, Request::get("/").body(String::new()).unwrap()).await;
//!
//! let server = telemetry.span("GET /");
//! let client = telemetry.span("GET");
//! assert_eq!(client.kind(), &SpanKind::Client);
//! assert_eq!(client.parent_span_id(), Some(server.span_id()));
//! let sent = std::str::from_utf8(response.body()).unwrap();
//! assert!(sent.contains(&client.span_id().to_string()), "{sent}");
//! # }
//! ```
//!
//! # Real servers, tonic and reqwest
//!
//! The layers are the ordinary ones, so they work on a real server on loopback, on a tonic
//! `Server::builder().layer(..)` or `Channel`, and on reqwest through
//! `TraceMiddleware::from_layer(telemetry.client_layer())`. A server span ends when its
//! response body has been sent, which can be just after the client has read it: before
//! reading spans of a real server (or of a stream, or of a cancelled call), `await`
//! [`settled`](TestTelemetry::settled), which waits until no span is open.

#[cfg(feature = "tracing-subscriber")]
mod logs;
mod metrics;
mod spans;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::BodyExt;
use opentelemetry::Context;
use opentelemetry::metrics::{Meter, MeterProvider as _};
use opentelemetry::trace::{TraceId, TracerProvider as _};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{
    InMemorySpanExporter, Sampler, SdkTracer, SdkTracerProvider, ShouldSample, Span, SpanData,
    SpanProcessor,
};
use tower::ServiceExt;
use tower_telemetry_metrics::WithMetrics as _;
use tower_telemetry_propagation::Propagator;
use tower_telemetry_trace::{ClientTraceLayer, RpcConventions, TraceLayer};

#[cfg(feature = "tracing-subscriber")]
#[cfg_attr(docsrs, doc(cfg(feature = "tracing-subscriber")))]
pub use logs::LogLine;
pub use metrics::{Histogram, HistogramPoint, Sum, SumPoint};
pub use spans::RecordedSpan;

use crate::{ClientLayer, ServerLayer};

/// The instrumentation scope of the layers the kit hands out.
const SCOPE: &str = "tower-telemetry";

/// The real SDK with in-memory exporters, the layers built on it, and readers for what they
/// recorded. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct TestTelemetry {
    tracer_provider: SdkTracerProvider,
    spans: InMemorySpanExporter,
    open: Arc<AtomicUsize>,
    meter_provider: SdkMeterProvider,
    metrics: InMemoryMetricExporter,
    propagator: Propagator,
    rpc: RpcConventions,
    #[cfg(feature = "prometheus")]
    prometheus: tower_telemetry_metrics::prometheus::MetricsService,
}

impl Default for TestTelemetry {
    fn default() -> Self {
        Self::new()
    }
}

impl TestTelemetry {
    /// Every trace sampled (a caller's unsampled decision is kept, as in production: the
    /// sampler is parent-based), W3C Trace Context, the current RPC conventions.
    pub fn new() -> Self {
        Self::with_sampler(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)))
    }

    /// With your sampler.
    ///
    /// # Panics
    ///
    /// If the SDK's Prometheus exporter cannot be registered (it can always be, on a new
    /// provider).
    pub fn with_sampler(sampler: impl ShouldSample + 'static) -> Self {
        let spans = InMemorySpanExporter::default();
        let open = Arc::new(AtomicUsize::new(0));
        let tracer_provider = SdkTracerProvider::builder()
            .with_span_processor(OpenSpans(Arc::clone(&open)))
            .with_simple_exporter(spans.clone())
            .with_sampler(sampler)
            .build();
        let metrics = InMemoryMetricExporter::default();
        // Collects only when asked (`force_flush`): the interval never elapses in a test.
        let reader = PeriodicReader::builder(metrics.clone())
            .with_interval(Duration::from_secs(24 * 3600))
            .build();
        let builder = SdkMeterProvider::builder().with_reader(reader);
        #[cfg(feature = "prometheus")]
        let (builder, prometheus) = {
            let (reader, service) = tower_telemetry_metrics::prometheus::exporter()
                .expect("a Prometheus exporter on a new provider");
            (builder.with_reader(reader), service)
        };
        TestTelemetry {
            tracer_provider,
            spans,
            open,
            meter_provider: builder.build(),
            metrics,
            propagator: Propagator::default(),
            rpc: RpcConventions::default(),
            #[cfg(feature = "prometheus")]
            prometheus,
        }
    }

    /// The layers follow `propagator` (W3C Trace Context by default).
    #[must_use]
    pub fn with_propagator(mut self, propagator: Propagator) -> Self {
        self.propagator = propagator;
        self
    }

    /// The layers follow `rpc` (the current RPC conventions by default).
    #[must_use]
    pub fn with_rpc_conventions(mut self, rpc: RpcConventions) -> Self {
        self.rpc = rpc;
        self
    }

    // === the layers ===

    /// A tracer of the provider.
    pub fn tracer(&self, name: &'static str) -> SdkTracer {
        self.tracer_provider.tracer(name)
    }

    /// A meter of the provider.
    pub fn meter(&self, name: &'static str) -> Meter {
        self.meter_provider.meter(name)
    }

    /// A server trace layer, to customize (`skip_if`, `with_route`, hooks) and fuse with
    /// `.with_metrics(&telemetry.meter(..))`, as with `setup::Telemetry::trace_layer`.
    pub fn trace_layer(&self) -> TraceLayer<SdkTracer, Propagator> {
        TraceLayer::server(self.tracer(SCOPE))
            .with_propagator(self.propagator)
            .with_rpc_conventions(self.rpc)
    }

    /// Server spans and RED metrics, fused: what `setup::Telemetry::server_layer` gives.
    pub fn server_layer(&self) -> ServerLayer {
        self.trace_layer().with_metrics(&self.meter(SCOPE))
    }

    /// Client spans and RED metrics, fused: what `setup::Telemetry::client_layer` gives.
    pub fn client_layer(&self) -> ClientLayer {
        ClientTraceLayer::client(self.tracer(SCOPE))
            .with_propagator(self.propagator)
            .with_rpc_conventions(self.rpc)
            .with_metrics(&self.meter(SCOPE))
    }

    /// The tracer provider, for a layer or a `tracing-opentelemetry` layer of your own.
    pub fn tracer_provider(&self) -> &SdkTracerProvider {
        &self.tracer_provider
    }

    /// The meter provider.
    pub fn meter_provider(&self) -> &SdkMeterProvider {
        &self.meter_provider
    }

    // === driving a service ===

    /// Sends `request` to `service` (an axum `Router`, any Tower service of HTTP requests)
    /// and reads the whole response body, so the server span and its metrics end before this
    /// returns.
    ///
    /// # Panics
    ///
    /// When the service or its body fails (a test of telemetry expects an answer).
    pub async fn call<S, ReqBody, ResBody>(
        &self,
        service: S,
        request: Request<ReqBody>,
    ) -> Response<Bytes>
    where
        S: tower::Service<Request<ReqBody>, Response = Response<ResBody>>,
        S::Error: std::fmt::Debug,
        ResBody: http_body::Body,
        ResBody::Error: std::fmt::Debug,
    {
        let response = service
            .oneshot(request)
            .await
            .expect("the service answered");
        let (parts, body) = response.into_parts();
        let body = body.collect().await.expect("the response body").to_bytes();
        Response::from_parts(parts, body)
    }

    /// Waits (at most 5 s) until no span is open: for spans that end on another task, such as
    /// a real server's after its client read the answer, a stream's, or a cancelled call's.
    ///
    /// # Panics
    ///
    /// When spans are still open after 5 s, with the spans that have ended.
    pub async fn settled(&self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while self.open.load(Ordering::Acquire) > 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "{} span(s) still open after 5 s; ended so far:\n{}",
                self.open.load(Ordering::Acquire),
                self.dump_spans()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    // === spans ===

    /// The spans that have ended, in the order they ended.
    pub fn spans(&self) -> Vec<RecordedSpan> {
        self.finished().into_iter().map(RecordedSpan::new).collect()
    }

    /// The spans named `name`.
    pub fn spans_named(&self, name: &str) -> Vec<RecordedSpan> {
        self.spans()
            .into_iter()
            .filter(|s| s.name() == name)
            .collect()
    }

    /// The one span named `name`.
    ///
    /// # Panics
    ///
    /// When there is none, or more than one, with the recorded span trees.
    #[track_caller]
    pub fn span(&self, name: &str) -> RecordedSpan {
        let mut found = self.spans_named(name);
        match found.len() {
            1 => found.remove(0),
            n => panic!(
                "expected one span named {name:?}, found {n}; recorded:\n{}",
                self.dump_spans()
            ),
        }
    }

    /// The spans whose parent is `span`.
    pub fn children(&self, span: &RecordedSpan) -> Vec<RecordedSpan> {
        self.spans()
            .into_iter()
            .filter(|s| {
                s.trace_id() == span.trace_id() && s.parent_span_id() == Some(span.span_id())
            })
            .collect()
    }

    /// The spans of trace `trace_id`, as an indented tree (name, kind, status, attributes).
    pub fn trace_tree(&self, trace_id: TraceId) -> String {
        let spans: Vec<SpanData> = self
            .finished()
            .into_iter()
            .filter(|s| s.span_context.trace_id() == trace_id)
            .collect();
        spans::render_trees(&spans)
    }

    /// Every recorded span, as trees per trace.
    pub fn dump_spans(&self) -> String {
        spans::render_trees(&self.finished())
    }

    /// Forgets the spans recorded so far (metrics are cumulative and stay).
    pub fn reset_spans(&self) {
        self.spans.reset();
    }

    fn finished(&self) -> Vec<SpanData> {
        self.spans
            .get_finished_spans()
            .expect("the in-memory exporter is never shut down by the kit")
    }

    // === metrics ===

    /// The points of histogram `name` (collected now; cumulative).
    pub fn histogram(&self, name: &str) -> Histogram {
        Histogram::new(name, &self.collect())
    }

    /// The points of the counter or up-down counter `name` (collected now; cumulative).
    pub fn sum(&self, name: &str) -> Sum {
        Sum::new(name, &self.collect())
    }

    /// The unit of instrument `name`, if it recorded anything.
    pub fn unit(&self, name: &str) -> Option<String> {
        metrics::unit(name, &self.collect())
    }

    /// The Prometheus text exposition of the metrics, as `/metrics` serves it (feature
    /// `prometheus`).
    ///
    /// # Panics
    ///
    /// If the exposition fails to encode.
    #[cfg(feature = "prometheus")]
    #[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
    pub fn prometheus_text(&self) -> String {
        let bytes = self.prometheus.render().expect("the Prometheus text");
        String::from_utf8(bytes).expect("the Prometheus text is UTF-8")
    }

    // === logs ===

    /// Captures the log lines written from now on, for [`logs`](Self::logs) (feature
    /// `tracing-subscriber`). Installs, once per process, a global `tracing` subscriber that
    /// keeps every line; each test reads only the lines of its own traces, so parallel tests
    /// don't mix. Add the layers' `tracing` spans (they carry the trace id) with the feature
    /// `tracing`, which `tracing-subscriber` turns on.
    ///
    /// # Panics
    ///
    /// When the test binary already installed a global subscriber of its own.
    #[cfg(feature = "tracing-subscriber")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tracing-subscriber")))]
    pub fn capture_logs(&self) {
        logs::capture();
    }

    /// The log lines written inside requests of trace `trace_id` (on the server and in the
    /// client calls it made), in order.
    ///
    /// # Panics
    ///
    /// When [`capture_logs`](Self::capture_logs) was not called.
    #[cfg(feature = "tracing-subscriber")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tracing-subscriber")))]
    pub fn logs(&self, trace_id: TraceId) -> Vec<LogLine> {
        logs::of(trace_id)
    }

    fn collect(&self) -> Vec<opentelemetry_sdk::metrics::data::ResourceMetrics> {
        self.metrics.reset();
        self.meter_provider
            .force_flush()
            .expect("the kit's reader collects on demand");
        self.metrics
            .get_finished_metrics()
            .expect("the in-memory exporter is never shut down by the kit")
    }
}

/// Counts the spans started and not yet ended, for [`TestTelemetry::settled`].
#[derive(Debug)]
struct OpenSpans(Arc<AtomicUsize>);

impl SpanProcessor for OpenSpans {
    fn on_start(&self, _: &mut Span, _: &Context) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }

    fn on_end(&self, _: SpanData) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _: Duration) -> OTelSdkResult {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
