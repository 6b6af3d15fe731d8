//! Run with `cargo run --example axum_server`, then `curl http://127.0.0.1:3000/users/1` and
//! `curl http://127.0.0.1:3000/metrics`.
//!
//! An axum service with spans and RED metrics in one layer, and a Prometheus endpoint.
//! Telemetry comes from the standard `OTEL_*` variables (see `tower_telemetry::setup`); set
//! `OTEL_EXPORTER_OTLP_ENDPOINT` to send it to a collector, or `OTEL_TRACES_EXPORTER=console`
//! to print spans.

use axum::Router;
use axum::extract::Path;
use axum::routing::get;
use tower_telemetry::setup::Telemetry;
use tower_telemetry_metrics::WithMetrics;
use tower_telemetry_trace::TraceLayer;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    // In your service: `Telemetry::from_env("axum-server")?`. The examples default to no
    // exporter unless an OTLP endpoint is set, so they run with nothing else installed.
    let (reader, metrics) = tower_telemetry_metrics::prometheus::exporter()?;
    let telemetry = Telemetry::builder("axum-server")
        .with_vars(examples::local_first_vars)
        .with_reader(reader)
        .build()?;

    let app = Router::new()
        .route(
            "/users/{id}",
            get(|Path(id): Path<u32>| async move { format!("user {id}") }),
        )
        .route("/healthz", get(|| async { "ok" }))
        // Spans (named `GET /users/{id}`, continuing the caller's traceparent) and
        // http.server.request.duration per route, on one lifecycle. Health checks are skipped.
        .layer(
            TraceLayer::server(telemetry.tracer("axum-server"))
                .with_propagator(telemetry.propagator())
                .skip_if(|req| req.uri().path() == "/healthz")
                .with_metrics(&telemetry.meter("axum-server")),
        )
        // Added after the layer: the scrape endpoint is not traced nor counted.
        .route_service("/metrics", metrics);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    // Handlers installed before saying we're up: a stop sent right after is not lost.
    let stop = tower_telemetry::shutdown_signal();
    println!("listening on http://{}", listener.local_addr()?);
    // SIGTERM (containers) or Ctrl-C: stop accepting, drain in-flight requests (at most 4 s;
    // a client stalled mid-request cannot hold it), then flush the telemetry (at most 5 s).
    tower_telemetry::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await;
    telemetry.shutdown().await;
    Ok(())
}
