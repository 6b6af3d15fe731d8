//! The quick start of the README and of the `tower-telemetry` crate docs, as written there.

use axum::{Router, routing::get};
use tower_telemetry::{serve, setup::Telemetry, shutdown_signal};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Providers from the OTEL_* variables (OTLP to a collector, console, Prometheus…).
    let telemetry = Telemetry::from_env("my-service")?;
    let app = Router::new()
        .route("/users/{id}", get(|| async { "hello" }))
        // A SERVER span per request joining the caller's trace, and RED metrics per route.
        .layer(telemetry.server_layer())
        // `GET /metrics` in the Prometheus text format (after `.layer`: not counted).
        .route_service("/metrics", telemetry.metrics_service());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    // Until SIGTERM or Ctrl-C; then in-flight requests get 4 s (stalled clients can't hold it).
    serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await;
    telemetry.shutdown().await; // flush, within one budget (5 s by default)
    Ok(())
}
