//! Run with `cargo run --example validation_server` (then `PORT=9000 …` to change the port).
//!
//! An axum service behind the server layer that calls out through the client layer: the
//! service the W3C trace-context test suite and other tools test against. Its routes are in
//! `src/validation_server.rs` and must not change. On the same port, gRPC requests go to the
//! `validation.v1.Relay` service of `proto/relay.proto` (`src/relay.rs`; see the README).
//!
//! It listens on `127.0.0.1:$PORT` (8080 by default) until SIGTERM or Ctrl-C, with its RED metrics at
//! `GET /metrics` for Prometheus. The standard `OTEL_*` variables export its spans and metrics,
//! e.g. `OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf
//! OTEL_SERVICE_NAME=vs OTEL_BSP_SCHEDULE_DELAY=200 cargo run --example validation_server`.
//!
//! `HEADER_READ_TIMEOUT_MS`, `IDLE_TIMEOUT_MS` and `MAX_CONNECTIONS` change the server loop's
//! defaults (see `tower_telemetry::serve`): how long a new connection gets to send its first
//! request, how long one stays open without a request, how many may be open.

use std::net::{Ipv4Addr, SocketAddr};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port
            .parse()
            .map_err(|e| format!("PORT={port:?} is not a port number: {e}"))?,
        Err(_) => 8080,
    };
    // OTEL_* variables send spans and metrics to a collector; without an OTLP endpoint
    // nothing leaves the process (the RED metrics are still at GET /metrics).
    let (telemetry, metrics) =
        match examples::validation_server::telemetry(examples::local_first_vars) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("validation_server: telemetry configuration: {e}");
                std::process::exit(2);
            }
        };
    let meter = telemetry.meter("validation-server");
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let addr = listener.local_addr()?;
    // The bound address (with `PORT=0`, the port the system chose), for scripts and tests.
    // Handlers installed before saying we're up: a stop sent right after is not lost.
    let stop = tower_telemetry::shutdown_signal();
    println!("validation server listening on http://{addr}");
    // SIGTERM (containers) or SIGINT (Ctrl-C): stop accepting, drain (at most 4 s, stalled
    // clients included), then flush.
    let drained = examples::validation_server::serve(
        listener,
        telemetry.tracer_provider(),
        &meter,
        metrics,
        stop,
        serve_settings()?,
    )
    .await;
    if drained.connections_cut > 0 {
        eprintln!(
            "validation server: {} connections cut at the drain deadline",
            drained.connections_cut
        );
    }
    // Flush and shut down within one budget, even when the collector is down.
    telemetry.shutdown().await;
    Ok(())
}

/// The server loop's settings from `HEADER_READ_TIMEOUT_MS`, `IDLE_TIMEOUT_MS` and
/// `MAX_CONNECTIONS`, each optional.
fn serve_settings() -> Result<
    impl FnOnce(
        tower_telemetry::serve::Serve<axum::Router>,
    ) -> tower_telemetry::serve::Serve<axum::Router>,
    String,
> {
    let number = |name: &str| -> Result<Option<u64>, String> {
        std::env::var(name)
            .ok()
            .map(|value| {
                value
                    .parse()
                    .map_err(|e| format!("{name}={value:?} is not a number: {e}"))
            })
            .transpose()
    };
    let millis = |name: &str| Ok::<_, String>(number(name)?.map(std::time::Duration::from_millis));
    let (header_read, idle) = (
        millis("HEADER_READ_TIMEOUT_MS")?,
        millis("IDLE_TIMEOUT_MS")?,
    );
    let max = number("MAX_CONNECTIONS")?;
    Ok(
        move |mut serve: tower_telemetry::serve::Serve<axum::Router>| {
            if let Some(timeout) = header_read {
                serve = serve.header_read_timeout(timeout);
            }
            if let Some(timeout) = idle {
                serve = serve.idle_timeout(timeout);
            }
            if let Some(max) = max {
                serve = serve.max_connections(usize::try_from(max).unwrap_or(usize::MAX));
            }
            serve
        },
    )
}
