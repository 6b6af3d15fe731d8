//! `OTEL_PROPAGATORS` as this crate's composite propagator: the [spec's names] plus
//! `xcloudtrace` (Google's `X-Cloud-Trace-Context`, both ways), `xcloudtrace_oneway` (extract
//! only) and `grpctracebin` (OpenCensus `grpc-trace-bin`, extract only).
//!
//! [spec's names]: https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/#general-sdk-configuration

use tower_telemetry_propagation::Propagator;

use super::env::{Env, SetupError};

/// The propagator `OTEL_PROPAGATORS` describes (`tracecontext,baggage` by default). W3C Trace
/// Context is always extracted and injected (the composite is built on it).
pub(super) fn from_env(env: &Env<'_>) -> Result<Propagator, SetupError> {
    let mut names = env.list(
        "OTEL_PROPAGATORS",
        &[
            "tracecontext",
            "baggage",
            "xcloudtrace",
            "xcloudtrace_oneway",
            "grpctracebin",
            "none",
        ],
        &["tracecontext", "baggage"],
    )?;
    if names.contains(&"xcloudtrace") && names.contains(&"xcloudtrace_oneway") {
        env.reject(
            "OTEL_PROPAGATORS",
            "xcloudtrace,xcloudtrace_oneway",
            "xcloudtrace and xcloudtrace_oneway exclude each other",
            (),
            "xcloudtrace",
        )?;
        names.retain(|n| *n != "xcloudtrace_oneway");
    }
    let has = |n: &str| names.contains(&n);
    let mut propagator = if has("xcloudtrace") {
        Propagator::w3c_and_cloud_trace()
    } else if has("xcloudtrace_oneway") {
        Propagator::cloud_trace_one_way()
    } else {
        Propagator::w3c()
    };
    if has("baggage") {
        propagator = propagator.with_baggage();
    }
    if has("grpctracebin") {
        propagator = propagator.with_grpc_trace_bin();
    }
    Ok(propagator)
}
