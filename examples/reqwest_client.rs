//! Run with `cargo run --example reqwest_client [URL]`.
//!
//! reqwest through `reqwest-middleware` with the tracing middleware: a CLIENT span per call
//! and its `traceparent` on the wire. Without a URL it calls a local server that echoes it.

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::get;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tower_telemetry_trace::TraceMiddleware;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let url = match std::env::args().nth(1) {
        Some(url) => url,
        None => {
            let echo = Router::new().route(
                "/",
                get(|headers: HeaderMap| async move {
                    format!(
                        "traceparent: {}\n",
                        headers
                            .get("traceparent")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("-")
                    )
                }),
            );
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            tokio::spawn(async move { axum::serve(listener, echo).await });
            format!("http://{addr}/")
        }
    };

    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(opentelemetry_stdout::SpanExporter::default())
        .build();
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(TraceMiddleware::new(provider.tracer("reqwest-client")))
        .build();
    let response = client.get(&url).send().await?;
    println!("GET {url} → {}", response.status());
    print!("{}", response.text().await?);
    provider.shutdown()?;
    Ok(())
}
