//! The services behind the runnable examples in this directory (`cargo run --example <name>`;
//! see `README.md` here for the list). They live in a library so the end-to-end tests in
//! `tests/` run exactly what the examples run.

pub mod relay;
pub mod validation_server;

pub mod demo;
pub mod grpc;

/// Reads `OTEL_*` variables from the environment, except that the trace and metric exporters
/// default to `none` (instead of OTLP to `localhost`) unless an OTLP endpoint is configured:
/// the examples need nothing outside the process unless told otherwise.
pub fn local_first_vars(name: &str) -> Option<String> {
    let otlp = [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    ]
    .iter()
    .any(|v| std::env::var(v).is_ok_and(|v| !v.is_empty()));
    match (name, std::env::var(name)) {
        (_, Ok(value)) => Some(value),
        ("OTEL_TRACES_EXPORTER" | "OTEL_METRICS_EXPORTER", Err(_)) if !otlp => {
            Some("none".to_owned())
        }
        _ => None,
    }
}
