//! RED metrics (rate, errors, duration) for HTTP and gRPC, servers and clients, as Tower
//! layers on the same request lifecycle as `tower-trace`.
//!
//! # Example: axum, with a Prometheus endpoint
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use opentelemetry::metrics::MeterProvider as _;
//! use opentelemetry_sdk::metrics::SdkMeterProvider;
//! use tower_telemetry_metrics::MetricsLayer;
//!
//! # #[cfg(feature = "prometheus")]
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let (reader, metrics) = tower_telemetry_metrics::prometheus::exporter()?; // feature "prometheus"
//! let provider = SdkMeterProvider::builder().with_reader(reader).build();
//! let app = Router::new()
//!     .route("/users/{id}", get(|| async { "hello" }))
//!     .layer(MetricsLayer::server(&provider.meter("my-service")))
//!     .route_service("/metrics", metrics); // after .layer: the scrape is not counted
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```
//!
//! With spans too, fused on one lifecycle (one body wrapper; the span's duration and the
//! histogram's value are the same measurement):
//!
//! ```no_run
//! # use axum::{Router, routing::get};
//! use tower_telemetry_metrics::WithMetrics;
//! use tower_telemetry_trace::TraceLayer;
//! # fn app(tracer: opentelemetry_sdk::trace::SdkTracer, meter: opentelemetry::metrics::Meter) -> Router {
//! Router::new()
//!     .route("/users/{id}", get(|| async { "hello" }))
//!     .layer(TraceLayer::server(tracer).with_metrics(&meter))
//! # }
//! ```
//!
//! # Example: tonic
//!
//! ```no_run
//! # #[derive(Clone)] struct Greeter;
//! # impl tonic::server::NamedService for Greeter { const NAME: &'static str = "helloworld.Greeter"; }
//! # impl tower_service::Service<http::Request<tonic::body::Body>> for Greeter {
//! #     type Response = http::Response<tonic::body::Body>;
//! #     type Error = std::convert::Infallible;
//! #     type Future = std::future::Ready<Result<Self::Response, Self::Error>>;
//! #     fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> { std::task::Poll::Ready(Ok(())) }
//! #     fn call(&mut self, _: http::Request<tonic::body::Body>) -> Self::Future { unimplemented!() }
//! # }
//! # async fn run(meter: opentelemetry::metrics::Meter) -> Result<(), tonic::transport::Error> {
//! use tower_telemetry_metrics::MetricsLayer;
//!
//! tonic::transport::Server::builder()
//!     .layer(MetricsLayer::server(&meter))
//!     .add_service(Greeter) // e.g. GreeterServer::new(MyGreeter)
//!     .serve("127.0.0.1:50051".parse().unwrap())
//!     .await
//! # }
//! ```
//!
//! Clients: `ServiceBuilder::new().layer(MetricsLayer::client(&meter)).service(client)`, or
//! `ClientTraceLayer::client(tracer).with_metrics(&meter)`.
//!
//! # Instruments
//!
//! Created once per layer, never per request; the units and buckets of the OpenTelemetry
//! semantic conventions (HTTP stable, RPC 1.45 or classic, or both).
//!
//! | instrument | type, unit | when | attributes |
//! |---|---|---|---|
//! | `http.server.request.duration` | histogram, `s`, buckets 5 ms … 10 s | every HTTP request | `http.request.method`, `url.scheme`, `http.response.status_code`, `http.route` (when known), `network.protocol.version`, `error.type` (on error) |
//! | `http.server.active_requests` | up-down counter, `{request}` | on by default for servers | `http.request.method`, `url.scheme` |
//! | `http.server.request.body.size`, `http.server.response.body.size` | histogram, `By` | opt-in (`with_body_sizes`) | as the duration |
//! | `http.client.request.duration` | histogram, `s` | every HTTP call | `http.request.method`, `server.address`, `server.port`, `http.response.status_code`, `network.protocol.version`, `error.type` |
//! | `http.client.active_requests` | up-down counter, `{request}` | opt-in | `http.request.method`, `server.address`, `server.port` |
//! | `rpc.server.call.duration` | histogram, `s`, buckets 5 ms … 10 s | every gRPC call (semconv 1.45) | `rpc.system.name`, `rpc.method` (`pkg.Service/Method`, `_OTHER` when the server does not implement it), `rpc.status_code`, `error.type` (on error) |
//! | `rpc.client.call.duration` | histogram, `s` | every gRPC call (semconv 1.45) | as the server's, and `server.address`, `server.port` (when known) |
//! | `rpc.server.duration`, `rpc.client.duration` (classic, semconv 1.37) | histogram, `ms` | with `RpcConventions::Classic` or `::Both` | `rpc.system`, `rpc.service`, `rpc.method`, `rpc.grpc.status_code`, `error.type` |
//!
//! **When it is measured**: from the request to the true end of the response (last body frame
//! or trailers) for servers and gRPC clients, to the response head for HTTP clients (as their
//! spans, by the same rule: one lifecycle decides where a request ends for both signals). Errors
//! are the lifecycle's one verdict ([`tower_telemetry_trace::lifecycle::End::verdict`]), the same the
//! span gets: server 5xx, client 4xx and 5xx, transport
//! errors (`connect`, `timeout`), requests dropped before the end (`cancelled`) on a server but
//! not on a client, gRPC status codes per role. Active requests are decremented exactly once
//! on every path, dropped requests included.
//!
//! **Filtered requests** (`skip_if`, here or on a fused trace layer) are in neither signal;
//! [`MetricsLayer::count_filtered`] counts them in the metrics anyway.
//!
//! **Cardinality is bounded by construction**: unknown methods are `_OTHER`; requests without
//! a route have no `http.route` label, never their path; no path, host or IP labels on server
//! metrics; at most [`MAX_INTERNED`] distinct routes, RPC methods and server addresses per
//! layer are kept, and at most 4,000 values (1 MiB) of each kind per process, kept for the
//! process's lifetime (later ones go unlabelled or `_OTHER`). Extra labels come only through
//! [`MetricsLayer::with_label`], capped at [`MAX_LABEL_VALUES`] values per layer.
//!
//! **Cost**: label values are constants or interned `&'static str`s (each distinct text kept
//! once per process, bounded), so a request copies no string and writes no reference count
//! shared with other cores. Each label set's attributes are built once per layer, the first
//! time the set is seen (at most 2,048 per instrument, then the ordinary call): on the stable
//! API (the default) as a sorted attribute slice the SDK finds its series by at once, so
//! recording builds, clones and drops nothing per request; with the opt-in
//! `bound-instruments` feature (the `opentelemetry` and `opentelemetry_sdk` feature
//! `experimental_metrics_bound_instruments`, an experimental API) as bound instruments
//! (`Histogram::bind`, `UpDownCounter::bind`), which also skip the SDK's hashing of the
//! attributes: about 15 ns per point instead of about 125 ns.
//!
//! # PromQL
//!
//! The Prometheus exporter names the duration `http_server_request_duration_seconds`.
//!
//! ```text
//! # Rate: requests per second, per route
//! sum by (http_route) (rate(http_server_request_duration_seconds_count[5m]))
//!
//! # Errors: the share of failed requests, per route
//!   sum by (http_route) (rate(http_server_request_duration_seconds_count{error_type!=""}[5m]))
//! / sum by (http_route) (rate(http_server_request_duration_seconds_count[5m]))
//!
//! # Duration: p99 per route
//! histogram_quantile(0.99,
//!   sum by (le, http_route) (rate(http_server_request_duration_seconds_bucket[5m])))
//!
//! # In flight
//! sum(http_server_active_requests)
//! ```
//!
//! `.ci/prometheus-check.sh` runs these against a real Prometheus server scraping the
//! validation server.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod bound;
mod exemplars;
mod instruments;
mod layer;
mod observer;
#[cfg(feature = "prometheus")]
#[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
pub mod prometheus;

pub use exemplars::{ExemplarFilter, KeptExemplar, SeriesExemplars, kept_exemplars};
pub use instruments::{DURATION_BUCKETS, DURATION_BUCKETS_MS, SIZE_BUCKETS};
pub use layer::{MetricsLayer, TraceMetricsLayer, WithMetrics};
pub use observer::{
    Label, MAX_LABEL_VALUES, MAX_SERVER_TARGETS, MetricLabel, MetricsObserver, MetricsRecord,
};
pub use tower_telemetry_trace;
pub use tower_telemetry_trace::__private::MAX_INTERNED;
