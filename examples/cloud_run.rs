//! Run with `cargo run --example cloud_run` (listens on `$PORT`, 8080 by default, as Cloud Run
//! expects), then
//! `curl -H 'X-Cloud-Trace-Context: 105445aa7843bc8bf206b12000100000/1;o=1' http://127.0.0.1:8080/`.
//!
//! A service behind Google's front end: it accepts `X-Cloud-Trace-Context` (what Google's load
//! balancers send) as well as `traceparent` (a valid `traceparent` always wins), and sends only
//! W3C downstream: the **one-way** mode Google recommends. Spans go to the console here; on
//! Cloud Run, point `OTEL_EXPORTER_OTLP_ENDPOINT` at a collector with the Google Cloud exporter.
//! With a parent-based sampler, `o=1` from Google forces the trace to be sampled.

use std::net::{Ipv4Addr, SocketAddr};

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::get;
use opentelemetry::Context;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tower_telemetry_trace::TraceLayer;
use tower_telemetry_trace::propagation::{HeaderPropagator, Propagator};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8080);
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(opentelemetry_stdout::SpanExporter::default())
        .build();
    let propagator = Propagator::cloud_trace_one_way();

    let app = Router::new()
        .route(
            "/",
            get(move |_: HeaderMap| async move {
                // What an outgoing call from here would carry: W3C only.
                let mut outgoing = HeaderMap::new();
                propagator.inject_headers(&Context::current(), &mut outgoing);
                let trace_id = Context::current().span().span_context().trace_id();
                // Cloud Logging correlation: `trace` and a hex `spanId`.
                let span_id = Context::current().span().span_context().span_id();
                format!(
                    "trace {trace_id}\nlogging.googleapis.com/trace=projects/PROJECT/traces/{trace_id} spanId={span_id}\noutgoing headers: {outgoing:?}\n"
                )
            }),
        )
        .layer(TraceLayer::server(provider.tracer("cloud-run")).with_propagator(propagator));

    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("listening on http://{addr}");
    axum::serve(listener, app).await?;
    Ok(())
}
