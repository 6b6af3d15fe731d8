//! End-to-end tests across the workspace's crates live in `tests/` beside this file: real
//! hyper, axum and tonic servers on loopback with the OpenTelemetry SDK's in-memory
//! exporters. They arrive with the `tower-trace` and `tower-metrics` layers; this library will
//! hold their shared fixtures.
