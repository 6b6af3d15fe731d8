//! Run with `cargo run --example hyper_client [URL]`.
//!
//! A hyper-util client behind the client layer: every call gets a CLIENT span and carries its
//! `traceparent`. Without a URL it calls a small local server that echoes the headers it got,
//! so you can see what goes on the wire.

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::get;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_telemetry_trace::ClientTraceLayer;
use tower_telemetry_trace::propagation::Propagator;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let url = match std::env::args().nth(1) {
        Some(url) => url,
        None => {
            // A server that answers with the trace headers it received.
            let echo = Router::new().route(
                "/",
                get(|headers: HeaderMap| async move {
                    let show = |name: &str| {
                        headers
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("-")
                            .to_owned()
                    };
                    format!(
                        "traceparent: {}\nx-cloud-trace-context: {}\n",
                        show("traceparent"),
                        show("x-cloud-trace-context")
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
    let mut client = ServiceBuilder::new()
        .layer(
            ClientTraceLayer::client(provider.tracer("hyper-client"))
                .with_propagator(Propagator::w3c_and_cloud_trace()),
        )
        .service(Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>());

    let request = http::Request::get(&url).body(Full::default())?;
    let response = client.ready().await?.call(request).await?;
    println!("GET {url} → {}", response.status());
    let body = response.into_body().collect().await?.to_bytes();
    print!("{}", String::from_utf8_lossy(&body));
    provider.shutdown()?;
    Ok(())
}
