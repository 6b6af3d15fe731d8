//! Tower layers that give every request an OpenTelemetry span that joins the caller's trace.
//!
//! # Example: axum
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use opentelemetry::trace::TracerProvider as _;
//! use opentelemetry_sdk::trace::SdkTracerProvider;
//! use tower_telemetry_trace::TraceLayer;
//!
//! # async fn run() -> std::io::Result<()> {
//! let provider = SdkTracerProvider::builder().build(); // add your exporter here
//! let app = Router::new()
//!     .route("/users/{id}", get(|| async { "hello" }))
//!     .layer(TraceLayer::server(provider.tracer("my-service")));
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app).await
//! # }
//! ```
//!
//! Each request gets a SERVER span named `GET /users/{id}` (the route, never the raw path;
//! enable the `axum` feature so the route comes from axum's `MatchedPath`), child of the
//! caller's `traceparent`, current while the handler runs and stored in the request's
//! extensions as an `opentelemetry::Context`.
//!
//! # Example: tonic
//!
//! ```no_run
//! use opentelemetry::trace::TracerProvider as _;
//! use opentelemetry_sdk::trace::SdkTracerProvider;
//! use tower_telemetry_trace::TraceLayer;
//! # #[derive(Clone)] struct Greeter;
//! # impl tonic::server::NamedService for Greeter { const NAME: &'static str = "helloworld.Greeter"; }
//! # impl tower_service::Service<http::Request<tonic::body::Body>> for Greeter {
//! #     type Response = http::Response<tonic::body::Body>;
//! #     type Error = std::convert::Infallible;
//! #     type Future = std::future::Ready<Result<Self::Response, Self::Error>>;
//! #     fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> { std::task::Poll::Ready(Ok(())) }
//! #     fn call(&mut self, _: http::Request<tonic::body::Body>) -> Self::Future { unimplemented!() }
//! # }
//!
//! # async fn run() -> Result<(), tonic::transport::Error> {
//! let provider = SdkTracerProvider::builder().build();
//! tonic::transport::Server::builder()
//!     .layer(TraceLayer::server(provider.tracer("greeter")))
//!     .add_service(Greeter) // e.g. GreeterServer::new(MyGreeter)
//!     .serve("127.0.0.1:50051".parse().unwrap())
//!     .await
//! # }
//! ```
//!
//! gRPC requests (`content-type: application/grpc`) get spans named `helloworld.Greeter/SayHello`
//! with the RPC conventions; [`TraceLayer::server_http`] and [`TraceLayer::server_grpc`] fix
//! the protocol instead of detecting it. gRPC-Web calls (`application/grpc-web`, `-text`) are
//! gRPC calls too: their status is read from the trailer frame in the body, where they end,
//! whether the layer sits outside `tonic_web::GrpcWebLayer` or inside it.
//!
//! # Client spans
//!
//! [`ClientTraceLayer`] wraps any `tower::Service<http::Request<B>>`: hyper-util's client, a
//! tonic `Channel`. [`TraceMiddleware`] (feature `reqwest`) does the same for reqwest.
//!
//! ```no_run
//! use http_body_util::Full;
//! use hyper_util::{client::legacy::Client, rt::TokioExecutor};
//! use tower::{Service, ServiceBuilder, ServiceExt};
//! use tower_telemetry_trace::ClientTraceLayer;
//!
//! # async fn run(tracer: opentelemetry_sdk::trace::SdkTracer) {
//! let mut client = ServiceBuilder::new()
//!     .layer(ClientTraceLayer::client(tracer))
//!     .service(Client::builder(TokioExecutor::new()).build_http::<Full<bytes::Bytes>>());
//! let request = http::Request::get("http://127.0.0.1:8080/users/1").body(Full::default()).unwrap();
//! let response = client.ready().await.unwrap().call(request).await.unwrap();
//! # let _ = response; }
//! ```
//!
//! - The parent is a `Context` in the request's extensions if there is one, else
//!   `Context::current()`: inside a handler behind [`TraceLayer`] that is the server span, with
//!   no code of yours.
//! - Each call gets a CLIENT span named `GET` (the method alone, per the conventions) or
//!   `pkg.Service/Method`, and its own id goes out in `traceparent` (and `tracestate`,
//!   `X-Cloud-Trace-Context`, `baggage` as the propagator says), so N calls carry N parent ids.
//!   Unsampled or disabled, the layer still injects the propagated context.
//! - Attributes: `http.request.method`, `server.address`, `server.port`, `url.full` (credentials
//!   become `REDACTED:REDACTED`, signature query values `REDACTED`), `http.response.status_code`,
//!   `network.protocol.version`; for gRPC `rpc.system.name`, `rpc.method`, `rpc.status_code`,
//!   `server.address`, `server.port`.
//! - Status: HTTP 4xx and 5xx are errors (`error.type` = the code); transport errors get
//!   `error.type` `connect`, `timeout` or the error's type; a call cancelled by the caller is
//!   **not** an error. gRPC: any code but `OK` is an error; without `grpc-status` the HTTP status
//!   maps to a code (404 → `UNIMPLEMENTED`, 503 → `UNAVAILABLE`, …); a client-side timeout is
//!   `DEADLINE_EXCEEDED`.
//! - **HTTP client spans end when the response head arrives**, as the conventions say: the time
//!   spent reading the body belongs to the caller. **gRPC client spans end at the trailers**,
//!   where the status is.
//!
//! [`interceptor`] (feature `tonic`) has propagation-only interceptors for tonic users who
//! want no spans.
//!
//! # Configuration
//!
//! | setter | default | |
//! |---|---|---|
//! | [`with_propagator`](TraceLayer::with_propagator) | W3C Trace Context; servers also read OpenCensus `grpc-trace-bin`, below it | `tower_telemetry_propagation::Propagator::w3c_and_cloud_trace()`, `cloud_trace_one_way()`, `.with_baggage()`, `.with_grpc_trace_bin_injection()` (clients), or any `TextMapPropagator` via `TextMapAdapter` |
//! | [`with_route`](TraceLayer::with_route) | axum `MatchedPath` | a function giving the route template |
//! | [`skip_if`](TraceLayer::skip_if) | trace everything | no span and, fused, no metrics (health checks); the caller's context still passes through |
//! | [`with_span_name`](TraceLayer::with_span_name) | the conventions' name | a name of yours (low-cardinality) |
//! | [`with_request_attributes`](TraceLayer::with_request_attributes), [`with_response_attributes`](TraceLayer::with_response_attributes) | none | extra attributes from the request (before sampling) and the response head |
//! | [`public_endpoint_if`](TraceLayer::public_endpoint_if) | trust callers | a new trace per request, linked to the caller's |
//! | [`with_request_headers`](TraceLayer::with_request_headers), [`with_response_headers`](TraceLayer::with_response_headers) | none | allow-listed headers as attributes |
//! | [`with_sensitive_query_params`](TraceLayer::with_sensitive_query_params) | the semconv list | query values replaced by `REDACTED` in `url.query` |
//! | [`with_rpc_conventions`](TraceLayer::with_rpc_conventions) | current (semconv 1.45) | [`RpcConventions`]`::Classic` for `rpc.system`, `rpc.grpc.status_code`; `::Both` for both ([`RpcConventions::from_opt_in`] reads `OTEL_SEMCONV_STABILITY_OPT_IN`) |
//! | [`with_trace_response`](TraceLayer::with_trace_response) | off | a W3C `traceresponse` header naming the trace and the server span; never to a public endpoint's caller unless [`TraceResponse::Always`] |
//! | `with_tracing_level` (feature `tracing`) | `INFO` | the level of the request's `tracing` span (see [Logs](#logs)) |
//! | [`enabled`](TraceLayer::enabled) | on | off: requests pass through untouched |
//!
//! [`TraceLayer::server_from_global`] uses the global tracer provider. A no-op tracer (the global
//! default until a provider is installed) is detected when the layer is built, and the layer
//! then costs nothing per request: no allocation, no clock read.
//!
//! # Logs
//!
//! With the `tracing` feature every request, and every client call, also gets a `tracing`
//! span (`request`, `client_request`) whose fields carry the OpenTelemetry span's `trace_id`,
//! `span_id` and `trace_sampled`, with the method and the route. Our layers enter it while
//! the handler runs **and while the response body streams**, so every log line written inside
//! a request joins its trace, whatever the subscriber. Nothing else to configure:
//!
//! ```
//! # #[cfg(feature = "tracing")]
//! # fn setup(tracer: opentelemetry_sdk::trace::SdkTracer) -> axum::Router {
//! // Cargo.toml: tower-telemetry-trace = { version = "0.1", features = ["tracing"] }
//! use axum::{Router, routing::get};
//! use tower_telemetry_trace::TraceLayer;
//!
//! tracing_subscriber::fmt().with_max_level(tracing::Level::INFO).init(); // or .json()
//! Router::new()
//!     .route("/users/{id}", get(|| async { tracing::info!("loading the user"); "hello" }))
//!     .layer(TraceLayer::server(tracer))
//! # }
//! ```
//!
//! ```text
//! INFO request{trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=5fb7d3f0c9a2e1d4 trace_sampled=true http.request.method="GET" http.route="/users/{id}"}: my_service: loading the user
//! ```
//!
//! - **Google Cloud Logging** joins logs to traces through its own JSON fields:
//!   [`logs::CloudLogging`] (feature `tracing-subscriber`) writes
//!   `logging.googleapis.com/trace` (`projects/PROJECT_ID/traces/TRACE_ID`),
//!   `logging.googleapis.com/spanId` and `logging.googleapis.com/trace_sampled` at the top of
//!   each JSON line, with `severity` and `time`:
//!   `tracing_subscriber::registry().with(CloudLogging::new("my-project").layer())`.
//! - **`tracing-opentelemetry`** (for `#[instrument]` spans exported as OpenTelemetry spans):
//!   give its layer the [`logs::SkipRequestSpans`] filter, or it exports each request twice.
//!   Then `#[instrument]` spans in a handler are children of the server span, and a client
//!   call made inside an `#[instrument]` span is that span's child.
//! - **Coming from tower-http's `TraceLayer`**: drop its span (ours has the ids, method and
//!   route); keep it only for its request logs, inside ours, with
//!   `.make_span_with(|_: &Request<_>| tracing::Span::none())`.
//!
//! The [`logs`] module has the field names (stable), which requests get a span, the JSON
//! shapes and the recommended subscriber setups. With nobody listening the span costs a
//! cached callsite check and nothing is allocated; without the feature no `tracing` crate is
//! compiled in.
//!
//! # When the span ends
//!
//! At the true end of the response, not when the headers are sent: when the body yields its
//! last frame or trailers, or reports its end after a data frame (hyper stops polling once
//! `Content-Length` is satisfied), or right at the head when the body is empty. A streamed
//! response's span covers the whole stream. The full table is in [`lifecycle`]; how each
//! ending is recorded:
//!
//! | ending | HTTP span | gRPC span |
//! |---|---|---|
//! | complete | `http.response.status_code`; 5xx: status Error, `error.type` = the code | `rpc.status_code` from the trailers (gRPC-Web: the body's trailer frame) or a Trailers-Only head; server error codes (`UNKNOWN`, `DEADLINE_EXCEEDED`, `UNIMPLEMENTED`, `INTERNAL`, `UNAVAILABLE`, `DATA_LOSS`): Error, `error.type` = the code name |
//! | inner service error | Error, `error.type` = the error's type | as complete, or `UNKNOWN` |
//! | body error | Error, `error.type` = the error's type | as complete, or `UNKNOWN` |
//! | client went away (future or body dropped) | Error, `error.type` = `cancelled` | `CANCELLED`, not an error (the RPC table); at or after the call's `grpc-timeout` deadline, `DEADLINE_EXCEEDED`, an error |
//! | a handler panicked below the layer | Error, `error.type` = `panic` | `UNKNOWN` |
//!
//! 4xx responses are not server errors. The span's end time is its start plus the monotonic
//! duration, so it is exact even if the wall clock moves.
//!
//! # Attributes recorded
//!
//! Per the OpenTelemetry semantic conventions (HTTP stable; RPC 1.45 or classic). The
//! request's attributes are given at span start, before the sampling decision, so a sampler
//! (`opentelemetry_sdk::trace::ShouldSample`) can decide on them, e.g. drop `url.path` =
//! `/healthz`; the SDK keeps them as they are for a sampled span.
//!
//! | HTTP server span | |
//! |---|---|
//! | `http.request.method` | `GET` … or `_OTHER` (with `http.request.method_original`) |
//! | `url.path`, `url.query` | the query with sensitive values redacted |
//! | `url.scheme` | the URI's, else `Forwarded`/`X-Forwarded-Proto` (`http`/`https` only), else the default |
//! | `http.route` | when known |
//! | `network.protocol.version` | `1.0`, `1.1`, `2`, `3` |
//! | `server.address`, `server.port` | `X-Forwarded-Host` > `:authority` > `Host` |
//! | `user_agent.original` | |
//! | `client.address` | `X-Forwarded-For`'s first entry, else the peer |
//! | `network.peer.address`, `network.peer.port` | from axum's `ConnectInfo<SocketAddr>` or [`PeerAddr`] |
//! | `http.request.header.<name>`, `http.response.header.<name>` | allow-listed only; never `authorization`, `proxy-authorization`, `cookie`, `set-cookie` or sensitive values |
//! | `http.response.status_code`, `error.type` | at the end |
//!
//! | gRPC server span | current (semconv 1.45) | classic (semconv 1.37) |
//! |---|---|---|
//! | name | `pkg.Service/Method`; `grpc` when the method is `_OTHER` | `pkg.Service/Method` |
//! | system | `rpc.system.name = "grpc"` | `rpc.system = "grpc"` |
//! | method | `rpc.method = "pkg.Service/Method"`, or `_OTHER` with `rpc.method_original` for a method the server does not implement (it answered `UNIMPLEMENTED`) or a path of another shape | `rpc.service`, `rpc.method` |
//! | status | `rpc.status_code = "NOT_FOUND"` | `rpc.grpc.status_code = 5` |
//! | also | `server.address`, `server.port` (from `:authority`), `network.peer.*`, `error.type` | the same |
//!
//! A server learns whether it implements a method from its own answer, so on a server span
//! `rpc.method` is set when the call ends (an attribute set twice is kept twice, not
//! replaced) and the span is renamed `grpc` then if the method turns out to be `_OTHER`; a
//! sampler sees the method in the span's name. [`RpcConventions::Both`] records both
//! columns; `rpc.method`, the one key they share, holds the current value.
//!
//! # Cost
//!
//! Disabled or skipped requests allocate nothing (a skipped request carrying a trace context
//! allocates its `Context` to pass it through). Per traced request the layer builds the
//! attributes (given to the span builder before sampling, as the conventions ask), one
//! `Context`, and one request extension; span names, routes, RPC methods, server addresses
//! and user agents are interned (`&'static str`, each text kept once per process, bounded per
//! layer and per process), so they allocate once and copying them writes no shared reference
//! count. Nothing is boxed on the hot path: the tracer is a
//! generic parameter, the future and body are hand-written, and per-layer state is shared
//! through one `Arc`.
//!
//! # Building on the lifecycle
//!
//! The layer is [`lifecycle::Observe`] with a [`ServerObserver`] under one
//! [`lifecycle::Conventions`]. Any other observer (the RED metrics of the metrics crate, one
//! of yours) plugs into the same [`lifecycle::Observer`] seam and reads the same
//! [`lifecycle::Facts`]; a pair of observers shares one future, one body wrapper, one clock and
//! one verdict.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod client;
pub mod conventions;
#[cfg(feature = "tonic")]
#[cfg_attr(docsrs, doc(cfg(feature = "tonic")))]
pub mod interceptor;
pub mod lifecycle;
#[cfg(feature = "tracing")]
#[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
pub mod logs;
mod outcome;
mod route;
mod server;
mod span;
mod view;

pub mod hooks {
    //! What users plug in, gathered in one place: borrowed views of a request and a response,
    //! the lifecycle's hooks (filter, route, public endpoint) and the span hooks (span name,
    //! extra span attributes), with their closure and `()` default impls.
    //!
    //! Setters take closures directly, so `|req| …` needs no type annotation:
    //!
    //! ```
    //! use std::borrow::Cow;
    //! use opentelemetry::KeyValue;
    //! use opentelemetry::trace::noop::NoopTracer;
    //! use tower_telemetry_trace::TraceLayer;
    //!
    //! let layer = TraceLayer::server(NoopTracer::new())
    //!     .skip_if(|req| req.uri().path() == "/healthz")
    //!     .with_route(|req| req.uri().path().starts_with("/users/").then_some(Cow::Borrowed("/users/{id}")))
    //!     .with_span_name(|req, facts| format!("{} {}", facts.method(), req.uri().host().unwrap_or("-")).into())
    //!     .with_request_attributes(|req, attrs| {
    //!         if let Some(tenant) = req.headers().get("x-tenant").and_then(|v| v.to_str().ok()) {
    //!             attrs.push(KeyValue::new("tenant", tenant.to_owned()));
    //!         }
    //!     })
    //!     .with_response_attributes(|res, attrs| {
    //!         attrs.push(KeyValue::new("app.cache_hit", res.headers().contains_key("x-cache-hit")));
    //!     });
    //! # let _ = layer;
    //! ```

    pub use crate::route::{DefaultRoute, MakeRoute, RequestPredicate};
    pub use crate::span::hooks::{MakeSpanName, RequestAttributes, ResponseAttributes, SpanHooks};
    pub use crate::view::{RequestInfo, ResponseInfo};
}

/// What the sibling crates of this family (the metrics crate) share with this one: not part of
/// the public API, not covered by semantic versioning.
#[doc(hidden)]
pub mod __private {
    pub use crate::conventions::intern::{Interner, Kind, MAX_INTERNED};
    pub use crate::conventions::snapshot::SnapshotMap;
    pub use crate::span::empty_globals_warnings;

    /// The attribute names, for the metrics crate.
    pub mod attributes {
        pub use crate::conventions::attributes::*;
    }
}

#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
pub use client::TraceMiddleware;
pub use client::{ClientObserver, ClientRecord, ClientTraceLayer};
pub use conventions::{Protocol, RpcConventions};
pub use hooks::{RequestInfo, ResponseInfo};
pub use server::{ServerObserver, ServerRecord, TRACERESPONSE, TraceLayer, TraceResponse};
pub use tower_telemetry_propagation as propagation;

/// The peer's socket address, for `network.peer.*` and `client.address`.
///
/// Insert it into the request's extensions where the connection is accepted (a hyper server
/// loop) and the server layer records it; axum's `ConnectInfo<SocketAddr>` is read too with
/// the `axum` feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub std::net::SocketAddr);
