//! The end-to-end tests, as one test binary: real servers and clients on 127.0.0.1, the real
//! OpenTelemetry SDK (through `tower_telemetry::testing`), the examples as processes. One
//! binary links the whole stack once; only tests that need a process of their own are separate
//! binaries: `tests/globals_*.rs` (OpenTelemetry's global providers), `tests/exemplars.rs`
//! (exemplars are joined to series process-wide), `tests/demo.rs` (the demo
//! installs the process's `tracing` subscriber, as the kit's log capture does here) and
//! `tests/logs.rs` (`tracing` caches each callsite's interest process-wide, so tests that set
//! per-thread subscribers must not share a process with tests that log with none).

mod client_grpc;
mod client_http;
mod client_reqwest_tonic;
mod facts;
mod grpc_trace_bin;
mod grpc_web;
mod kit;
mod metrics;
mod otlp;
mod relay;
mod serve_limits;
mod server_grpc;
mod server_http;
mod streams;
mod trace_response;
mod validation_server;
