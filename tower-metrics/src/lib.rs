//! Tower layers that record RED metrics (rate, errors, duration) per route.
//!
//! **Not yet implemented.** This crate will record `http.server.request.duration`,
//! `http.server.active_requests`, `http.client.request.duration` and the gRPC equivalents
//! through the OpenTelemetry metrics API, on the same request lifecycle as [`tower_trace`], with
//! bounded label cardinality and a Prometheus scrape endpoint.

pub use tower_trace;
