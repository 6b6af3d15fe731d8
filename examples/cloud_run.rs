//! Run with `cargo run --example cloud_run` (listens on `$PORT`, 8080 by default, as Cloud Run
//! expects), then
//! `curl -i -H 'X-Cloud-Trace-Context: 105445aa7843bc8bf206b12000100000/1;o=1' http://127.0.0.1:8080/`.
//!
//! A service behind Google's front end:
//!
//! - it accepts `X-Cloud-Trace-Context` (what Google's load balancers send) as well as
//!   `traceparent` (a valid `traceparent` always wins), and sends only W3C downstream: the
//!   **one-way** mode Google recommends. With a parent-based sampler, `o=1` from Google forces
//!   the trace to be sampled;
//! - its logs join their traces in Cloud Logging: each line is one JSON object on stdout (where
//!   Cloud Run's logging agent reads) with `severity`, `message`,
//!   `logging.googleapis.com/trace` (`projects/PROJECT_ID/traces/TRACE_ID`),
//!   `logging.googleapis.com/spanId` and `logging.googleapis.com/trace_sampled`. The project id
//!   comes from `GOOGLE_CLOUD_PROJECT`, which Cloud Run does not set: set it on the service
//!   (`gcloud run deploy --set-env-vars GOOGLE_CLOUD_PROJECT=my-project`);
//! - it answers with a `traceresponse` header naming the trace and its server span, to quote in
//!   a support ticket.
//!
//! Spans go where the `OTEL_*` variables say (nowhere by default here; on Cloud Run, point
//! `OTEL_EXPORTER_OTLP_ENDPOINT` at a collector with the Google Cloud exporter).

use std::net::{Ipv4Addr, SocketAddr};

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::get;
use opentelemetry::Context;
use tower_telemetry::setup::Telemetry;
use tower_telemetry_trace::logs::CloudLogging;
use tower_telemetry_trace::propagation::{HeaderPropagator, Propagator};
use tower_telemetry_trace::{TraceLayer, TraceResponse};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::prelude::*;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let format = CloudLogging::from_env();
    let project_set = format.is_some();
    tracing_subscriber::registry()
        .with(
            format
                .unwrap_or_else(|| CloudLogging::new("my-project"))
                .layer(),
        )
        .with(LevelFilter::INFO)
        .init();
    if !project_set {
        tracing::warn!("GOOGLE_CLOUD_PROJECT is not set: logging traces under project my-project");
    }

    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8080);
    let telemetry = Telemetry::builder("cloud-run")
        .with_vars(examples::local_first_vars)
        .build()?;
    let propagator = Propagator::cloud_trace_one_way();

    let app = Router::new()
        .route(
            "/",
            get(move |_: HeaderMap| async move {
                // What an outgoing call from here would carry: W3C only.
                let mut outgoing = HeaderMap::new();
                propagator.inject_headers(&Context::current(), &mut outgoing);
                tracing::info!(?outgoing, "answering; this line joins the request's trace");
                "hello from Cloud Run\n"
            }),
        )
        .layer(
            TraceLayer::server(telemetry.tracer("cloud-run"))
                .with_propagator(propagator)
                .with_trace_response(TraceResponse::ExceptPublicEndpoints),
        );

    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    // Handlers installed before saying we're up: a stop sent right after is not lost.
    let stop = tower_telemetry::shutdown_signal();
    tracing::info!(%addr, "listening");
    // SIGTERM (containers) or Ctrl-C: stop accepting, drain in-flight requests (at most 4 s;
    // a client stalled mid-request cannot hold it), then flush the telemetry (at most 5 s).
    tower_telemetry::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await;
    telemetry.shutdown().await;
    Ok(())
}
