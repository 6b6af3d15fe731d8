//! Run with `cargo run --example validation_server` (then `PORT=9000 …` to change the port).
//!
//! An axum service behind the server layer that calls out through the client layer: the
//! service the W3C trace-context test suite and other tools test against. Its routes are in
//! `src/validation_server.rs` and must not change.
//!
//! It listens on `127.0.0.1:$PORT` (8080 by default) until Ctrl-C, with its RED metrics at
//! `GET /metrics` for Prometheus.

use std::net::{Ipv4Addr, SocketAddr};

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port
            .parse()
            .map_err(|e| format!("PORT={port:?} is not a port number: {e}"))?,
        Err(_) => 8080,
    };
    let provider = SdkTracerProvider::builder().build();
    let (reader, metrics) = tower_metrics::prometheus::exporter()?;
    let meter_provider = SdkMeterProvider::builder().with_reader(reader).build();
    let meter = meter_provider.meter("validation-server");
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    println!("validation server listening on http://{addr}");
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    examples::validation_server::serve(listener, &provider, &meter, metrics, shutdown).await?;
    provider.shutdown()?;
    meter_provider.shutdown()?;
    Ok(())
}
