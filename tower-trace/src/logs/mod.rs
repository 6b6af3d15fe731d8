//! Logs that join the trace (feature `tracing`): a `tracing` span per request and per client
//! call, carrying the trace id, span id and sampled flag, so every log line written inside a
//! request is correlated with its trace by any subscriber.
//!
//! The span layers make these spans themselves, from the same lifecycle and the same request
//! facts as their OpenTelemetry spans: no second request-span stack. The OpenTelemetry span
//! stays the one that is exported; the `tracing` span is only there for your logs.
//!
//! # The spans
//!
//! | | server ([`TraceLayer`]) | client ([`ClientTraceLayer`], [`TraceMiddleware`]) |
//! |---|---|---|
//! | name | `request` ([`SERVER_SPAN`]) | `client_request` ([`CLIENT_SPAN`]) |
//! | target | `tower_telemetry_trace` ([`TARGET`]) | the same |
//! | level | `INFO`, or [`TraceLayer::with_tracing_level`] | `INFO`, or [`ClientTraceLayer::with_tracing_level`] |
//! | entered | in the inner service's `call`, every poll of its future, and every poll of the response body | in `call` and every poll until the call ends (the response head for HTTP, the trailers for gRPC) |
//!
//! Their fields ([`fields`]), stable names:
//!
//! | field | value | |
//! |---|---|---|
//! | `trace_id` | 32 lowercase hex digits | the trace id of the request's OpenTelemetry span |
//! | `span_id` | 16 lowercase hex digits | its span id: the server span's, the client span's |
//! | `trace_sampled` | `true`/`false` | whether the span is sampled (recorded and exported) |
//! | `http.request.method` | `GET`, …, `_OTHER` | HTTP only |
//! | `http.route` | `/users/{id}` | server, HTTP, when the route is known |
//! | `rpc.method` | `pkg.Service/Method` | gRPC only |
//! | `server.address` | `api.example.com` | client, when known |
//! | `http.response.status_code` | `200` | HTTP, recorded when the response head arrives |
//! | `rpc.response.status_code` | `NOT_FOUND` | gRPC, recorded when the call ends |
//!
//! Which requests get one:
//!
//! - every request that gets an OpenTelemetry span, **sampled or not**: a sampled-out request
//!   still has a trace id (the caller's), so its log lines still join the trace, with
//!   `trace_sampled=false`;
//! - a request [skipped](crate::TraceLayer::skip_if) that carries a trace context: its span
//!   has the **caller's** trace id and span id (there is no span of ours), so its logs still
//!   correlate; a skipped request without a trace context gets none (there is no trace to
//!   join), and costs nothing;
//! - a [public endpoint](crate::TraceLayer::public_endpoint_if)'s request: the new trace's id;
//! - a disabled layer (no tracer provider installed, `enabled(false)`): none; a client layer
//!   with spans off still propagates, but makes no span of either kind. A metrics layer alone
//!   makes none (fused with a trace layer, the trace layer's is the request's).
//!
//! When no subscriber is interested in the span (nothing installed, or a filter turns
//! `tower_telemetry_trace` at its level off), `tracing` answers from its callsite cache and the
//! layer carries a `Span::none()`: no allocation, no formatting of ids, and the polls of the
//! response body enter nothing. `BENCHMARKS.md` (group `tracing_bridge`) has the figures.
//!
//! # Plain logs: `tracing_subscriber::fmt`
//!
//! Nothing to configure: the request's span is the parent of every event inside it, and the
//! text format prints it in front of each line:
//!
//! ```text
//! INFO request{trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=5fb7d3f0c9a2e1d4 trace_sampled=true http.request.method="GET" http.route="/users/{id}"}: my_service: loading user id=42
//! ```
//!
//! The JSON format (`tracing_subscriber::fmt().json()`) puts span fields under `"span"` (the
//! innermost span, which may be one of yours) and `"spans"` (all of them, root first); the
//! ids are in the `request` or `client_request` entry of `"spans"`:
//!
//! ```text
//! {"timestamp":"…","level":"INFO","fields":{"message":"loading user","id":42},"target":"my_service",
//!  "span":{"http.request.method":"GET","http.route":"/users/{id}","span_id":"5fb7d3f0c9a2e1d4","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","trace_sampled":true,"name":"request"},
//!  "spans":[{…,"name":"request"}]}
//! ```
//!
//! Keep `tower_telemetry_trace` at or above the spans' level in your filter
//! (`RUST_LOG=info` does it for the default `INFO`): a span the filter turns off correlates
//! nothing. To lower the spans (e.g. to `DEBUG`, to keep them out of an `info` filter on
//! purpose), use `with_tracing_level`.
//!
//! # Google Cloud Logging
//!
//! Cloud Logging joins a log entry to its trace only through its own JSON fields
//! (`logging.googleapis.com/trace`, `logging.googleapis.com/spanId`,
//! `logging.googleapis.com/trace_sampled`; see "Structured logging", "Special JSON fields in
//! messages", in Google Cloud Logging's documentation). [`CloudLogging`] (feature
//! `tracing-subscriber`) makes a `tracing_subscriber` layer ([`CloudLogging::layer`]) that
//! writes them at the top level of each line, with `severity`, `time` and the event's fields, from the innermost
//! request span around the event:
//!
//! ```text
//! {"time":"2026-05-01T12:00:00.123456Z","severity":"INFO","message":"loading user","id":42,"target":"my_service",
//!  "logging.googleapis.com/sourceLocation":{"file":"src/main.rs","line":"31"},
//!  "logging.googleapis.com/trace":"projects/my-project/traces/4bf92f3577b34da6a3ce929d0e0e4736",
//!  "logging.googleapis.com/spanId":"5fb7d3f0c9a2e1d4","logging.googleapis.com/trace_sampled":true,
//!  "spans":[{"name":"request","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736",…}]}
//! ```
//!
//! See [`CloudLogging`] for the setup.
//!
//! # With `tracing-opentelemetry`
//!
//! If you also turn `tracing` spans into OpenTelemetry spans (`#[instrument]` in your handlers
//! with `tracing-opentelemetry`), give its layer the [`SkipRequestSpans`] filter (feature
//! `tracing-subscriber`), so it does not export our `tracing` spans a second time: the
//! request's OpenTelemetry span is already ours. Then, in both directions:
//!
//! - an `#[instrument]` span in a handler is a child of the server span: our layers make the
//!   request's `Context` current while the handler runs, and `tracing-opentelemetry` parents
//!   new spans on `Context::current()` (its default "context activation");
//! - a client call made inside an `#[instrument]` span is a child of that span: entering the
//!   span makes its `Context` current, and the client layers parent on `Context::current()`.
//!   With `OpenTelemetryLayer::with_context_activation(false)`, put the context in the
//!   request's extensions yourself:
//!   `request.extensions_mut().insert(tracing::Span::current().context())` (with
//!   `tracing_opentelemetry::OpenTelemetrySpanExt`); the client layers take a `Context` from
//!   the extensions first.
//!
//! ```
//! # #[cfg(feature = "tracing-subscriber")]
//! # fn setup(tracer: opentelemetry_sdk::trace::SdkTracer) {
//! use tracing_subscriber::filter::LevelFilter;
//! use tracing_subscriber::prelude::*;
//! use tower_telemetry_trace::logs::SkipRequestSpans;
//!
//! tracing_subscriber::registry()
//!     .with(tracing_subscriber::fmt::layer()) // or CloudLogging
//!     .with(tracing_opentelemetry::layer().with_tracer(tracer).with_filter(SkipRequestSpans))
//!     .with(LevelFilter::INFO)
//!     .init();
//! # }
//! ```
//!
//! Without the filter, `tracing-opentelemetry` would export a second, internal `request` span
//! per request and parent the handler's spans on it.
//!
//! # Coming from tower-http's `TraceLayer`
//!
//! tower-http's `TraceLayer` (often with `tracing-opentelemetry`) makes a `tracing` span per
//! request and logs when it starts and ends. With our layers and this feature:
//!
//! - remove its span: ours carries the method, the route and the trace ids, and two request
//!   spans would nest in every line (and, under `tracing-opentelemetry`, be exported twice);
//! - remove `tracing-opentelemetry` unless you want `#[instrument]` spans exported (then keep
//!   it, with [`SkipRequestSpans`]);
//! - for a line when each request ends, either keep tower-http's `TraceLayer` for its
//!   `on_response`/`on_failure` events only, **inside** ours and without a span of its own
//!   (`.make_span_with(|_: &http::Request<_>| tracing::Span::none())`), so its events land in
//!   our span; or log span closes with `fmt::layer().with_span_events(FmtSpan::CLOSE)`: the
//!   `request` span closes when the response ends, with `http.response.status_code` and its
//!   busy and idle times.
//!
//! [`TraceLayer`]: crate::TraceLayer
//! [`TraceLayer::with_tracing_level`]: crate::TraceLayer::with_tracing_level
//! [`ClientTraceLayer`]: crate::ClientTraceLayer
//! [`ClientTraceLayer::with_tracing_level`]: crate::ClientTraceLayer::with_tracing_level
//! [`TraceMiddleware`]: crate::TraceMiddleware

#[cfg(feature = "tracing-subscriber")]
mod cloud_logging;
#[cfg(feature = "tracing-subscriber")]
mod filter;
pub(crate) mod span;

#[cfg(feature = "tracing-subscriber")]
#[cfg_attr(docsrs, doc(cfg(feature = "tracing-subscriber")))]
pub use cloud_logging::{CloudLogging, CloudLoggingLayer};
#[cfg(feature = "tracing-subscriber")]
#[cfg_attr(docsrs, doc(cfg(feature = "tracing-subscriber")))]
pub use filter::SkipRequestSpans;

/// The target of the request spans: filter on it (`tower_telemetry_trace=info`).
pub const TARGET: &str = "tower_telemetry_trace";

/// The name of a server request's span.
pub const SERVER_SPAN: &str = "request";

/// The name of a client call's span.
pub const CLIENT_SPAN: &str = "client_request";

/// The names of the request spans' fields; see the [module docs](self).
pub mod fields {
    /// The trace id: 32 lowercase hex digits.
    pub const TRACE_ID: &str = "trace_id";
    /// The span id of the request's OpenTelemetry span: 16 lowercase hex digits.
    pub const SPAN_ID: &str = "span_id";
    /// Whether the trace is sampled: a boolean.
    pub const TRACE_SAMPLED: &str = "trace_sampled";
    /// `http.request.method` (HTTP).
    pub const HTTP_REQUEST_METHOD: &str = "http.request.method";
    /// `http.route` (HTTP servers, when known).
    pub const HTTP_ROUTE: &str = "http.route";
    /// `rpc.method`, `pkg.Service/Method` (gRPC).
    pub const RPC_METHOD: &str = "rpc.method";
    /// `server.address` (clients).
    pub const SERVER_ADDRESS: &str = "server.address";
    /// `http.response.status_code`, recorded at the response head (HTTP).
    pub const HTTP_RESPONSE_STATUS_CODE: &str = "http.response.status_code";
    /// `rpc.response.status_code`, the status code's name, recorded at the end (gRPC).
    pub const RPC_RESPONSE_STATUS_CODE: &str = "rpc.response.status_code";
}

/// Whether `metadata` is one of the request spans: build your own filters with it, e.g.
/// `filter_fn(|m| !is_request_span(m))` for `tracing-opentelemetry`'s layer.
pub fn is_request_span(metadata: &tracing::Metadata<'_>) -> bool {
    metadata.is_span() && metadata.target() == TARGET
}
