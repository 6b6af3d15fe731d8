//! OpenTelemetry traces and RED metrics for any axum, hyper or tonic service and any hyper,
//! tonic or reqwest client: one dependency, one `.layer(...)`.
//!
//! ```toml
//! [dependencies]
//! tower-telemetry = { version = "0.1", features = ["otlp", "prometheus", "serve"] } # default: axum, metrics
//! axum = "0.8"
//! tokio = { version = "1", features = ["full"] }
//! ```
//!
//! # Quick start
//!
//! With the `otlp`, `prometheus` and `serve` features (the block is compiled as a doctest when
//! they are on):
//!
#![cfg_attr(
    all(feature = "otlp", feature = "prometheus", feature = "serve"),
    doc = "```no_run"
)]
#![cfg_attr(
    not(all(feature = "otlp", feature = "prometheus", feature = "serve")),
    doc = "```ignore"
)]
//! use axum::{Router, routing::get};
//! use tower_telemetry::{serve, setup::Telemetry, shutdown_signal};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // Providers from the OTEL_* variables (OTLP to a collector, console, Prometheus…).
//!     let telemetry = Telemetry::from_env("my-service")?;
//!     let app = Router::new()
//!         .route("/users/{id}", get(|| async { "hello" }))
//!         // A SERVER span per request joining the caller's trace, and RED metrics per route.
//!         .layer(telemetry.server_layer())
//!         // `GET /metrics` in the Prometheus text format (after `.layer`: not counted).
//!         .route_service("/metrics", telemetry.metrics_service());
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//!     // Until SIGTERM or Ctrl-C; then in-flight requests get 4 s (stalled clients can't hold it).
//!     serve(listener, app).with_graceful_shutdown(shutdown_signal()).await;
//!     telemetry.shutdown().await; // flush, within one budget (5 s by default)
//!     Ok(())
//! }
//! ```
//!
//! Without the setup, build the layers from your own providers:
//!
//! ```
//! use opentelemetry::metrics::MeterProvider as _;
//! use opentelemetry::trace::TracerProvider as _;
//! use tower_telemetry::opentelemetry_sdk::metrics::SdkMeterProvider;
//! use tower_telemetry::opentelemetry_sdk::trace::SdkTracerProvider;
//! use tower_telemetry::{ClientTraceLayer, TraceLayer, WithMetrics};
//! # use tower_telemetry::opentelemetry;
//!
//! let tracer_provider = SdkTracerProvider::builder().build();
//! let meter_provider = SdkMeterProvider::builder().build();
//! let server = TraceLayer::server(tracer_provider.tracer("my-service"))
//!     .skip_if(|req| req.uri().path() == "/healthz")
//!     .with_metrics(&meter_provider.meter("my-service"));
//! let client = ClientTraceLayer::client(tracer_provider.tracer("my-service"))
//!     .with_metrics(&meter_provider.meter("my-service"));
//! # let _ = (server, client);
//! ```
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `axum` | yes | `http.route` from axum's `MatchedPath`. **Without it, the route is known only if you give [`TraceLayer::with_route`]**: spans are named `GET` and metrics have no `http_route` label. |
//! | `metrics` | yes | [`MetricsLayer`], [`WithMetrics`] (`.with_metrics(&meter)`) |
//! | `prometheus` | | `metrics::prometheus`: a `/metrics` service; with `otlp`, `OTEL_METRICS_EXPORTER=prometheus` and `Telemetry::metrics_service` |
//! | `otlp` | | [`setup`]: providers from `OTEL_*`, OTLP over gRPC and HTTP/protobuf, console; shutdown and signals. Turns on `metrics`, not `prometheus`. OTLP/HTTP uses reqwest's blocking client, which the SDK's batch span processor and periodic reader need (they export from threads of their own) |
//! | `http-json` | | `OTEL_EXPORTER_OTLP_PROTOCOL=http/json` (and per signal): OTLP/HTTP with JSON bodies; without it, `http/json` warns and protobuf is used |
//! | `serve` | | [`serve()`]: a server loop that closes silent and idle connections whatever the protocol, caps open connections, and drains within a deadline; and [`shutdown_signal`] |
//! | `tls` | | `https://` OTLP endpoints, both protocols (rustls with ring, webpki roots), private CAs and client certificates (`OTEL_EXPORTER_OTLP_CERTIFICATE`, `…_CLIENT_CERTIFICATE`, `…_CLIENT_KEY`) |
//! | `gzip` | | `OTEL_EXPORTER_OTLP_COMPRESSION=gzip` |
//! | `tonic` | | propagation-only tonic interceptors (`trace::interceptor`); the layers need no feature for tonic |
//! | `reqwest` | | [`TraceMiddleware`](trace::TraceMiddleware) for reqwest-middleware |
//! | `bound-instruments` | | the metrics' fast path on OpenTelemetry's experimental bound instruments |
//!
//! # One OpenTelemetry
//!
//! [`opentelemetry`] and [`opentelemetry_sdk`] are re-exported: use them from here rather than
//! depending on them yourself. Two versions of `opentelemetry` in one build is the classic way
//! to lose every span without an error (a provider installed through one version, layers
//! reading the globals of the other): `cargo tree -i opentelemetry` must show one version.
//! Layers built from the globals (`server_from_global`) warn once, on stderr, when the globals
//! have no provider.
//!
//! # The crates
//!
//! - [`trace`] (`tower-telemetry-trace`): the request lifecycle, server and client spans,
//!   hooks, the reqwest middleware, tonic interceptors.
//! - [`metrics`] (`tower-telemetry-metrics`): RED metrics on the same lifecycle, Prometheus.
//! - [`propagation`] (`tower-telemetry-propagation`): W3C `traceparent`/`tracestate`/`baggage`,
//!   Google `X-Cloud-Trace-Context`, OpenCensus `grpc-trace-bin`.
//!
//! # Minimum supported Rust version
//!
//! 1.85 for the default features, `prometheus` and `serve` (edition 2024); 1.88 with `otlp`, `tls`,
//! `gzip` (opentelemetry-otlp's tonic and reqwest), `tonic` or `reqwest`.

#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "otlp")]
#[cfg_attr(docsrs, doc(cfg(feature = "otlp")))]
pub mod setup;

#[cfg(feature = "serve")]
#[cfg_attr(docsrs, doc(cfg(feature = "serve")))]
pub mod serve;
#[cfg(any(feature = "otlp", feature = "serve"))]
mod signal;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

pub use opentelemetry;
pub use opentelemetry_sdk;
#[cfg(feature = "serve")]
pub use serve::serve;
#[cfg(any(feature = "otlp", feature = "serve"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "otlp", feature = "serve"))))]
pub use signal::shutdown_signal;
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub use tower_telemetry_metrics as metrics;
pub use tower_telemetry_propagation as propagation;
pub use tower_telemetry_trace as trace;

#[cfg(feature = "metrics")]
pub use metrics::{ExemplarFilter, MetricsLayer, WithMetrics};

/// The fused server layer (spans and RED metrics) that `setup::Telemetry::server_layer` and
/// `testing::TestTelemetry::server_layer` build.
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub type ServerLayer = metrics::TraceMetricsLayer<
    trace::ServerObserver<opentelemetry_sdk::trace::SdkTracer, Propagator>,
    trace::hooks::DefaultRoute,
    (),
>;

/// The fused client layer (spans and RED metrics) that `setup::Telemetry::client_layer` and
/// `testing::TestTelemetry::client_layer` build.
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub type ClientLayer = metrics::TraceMetricsLayer<
    trace::ClientObserver<opentelemetry_sdk::trace::SdkTracer, Propagator>,
    trace::hooks::DefaultRoute,
    (),
>;
pub use propagation::Propagator;
pub use trace::{ClientTraceLayer, Protocol, RequestInfo, RpcConventions, TraceLayer};
