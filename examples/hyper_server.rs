//! Run with `cargo run --example hyper_server`, then `curl http://127.0.0.1:3001/items/7`.
//!
//! A plain hyper server (no framework): the layers wrap a `tower::Service`, the route comes
//! from a function (no router to ask), and the peer address is recorded through
//! `tower_telemetry_trace::PeerAddr`. Spans are printed to the console.

use std::convert::Infallible;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tower::{ServiceBuilder, ServiceExt};
use tower_telemetry_metrics::MetricsLayer;
use tower_telemetry_trace::{PeerAddr, RequestInfo, TraceLayer};

/// A low-cardinality route for `http.route` and the span name; never the raw path.
fn route(req: &RequestInfo<'_>) -> Option<std::borrow::Cow<'static, str>> {
    req.uri()
        .path()
        .starts_with("/items/")
        .then_some(std::borrow::Cow::Borrowed("/items/{id}"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(opentelemetry_stdout::SpanExporter::default())
        .build();
    let meters = opentelemetry_sdk::metrics::SdkMeterProvider::builder().build();
    let meter = opentelemetry::metrics::MeterProvider::meter(&meters, "hyper-server");

    let service = ServiceBuilder::new()
        .layer(TraceLayer::server_http(provider.tracer("hyper-server")).with_route(route))
        .layer(MetricsLayer::server(&meter).with_route(route))
        .service_fn(|req: Request<hyper::body::Incoming>| async move {
            let body = format!("you asked for {}\n", req.uri().path());
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
        });

    let listener = tokio::net::TcpListener::bind("127.0.0.1:3001").await?;
    println!("listening on http://{}", listener.local_addr()?);
    loop {
        let (stream, peer) = listener.accept().await?;
        let service =
            service
                .clone()
                .map_request(move |mut req: Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(PeerAddr(peer)); // network.peer.* and client.address
                    req
                });
        tokio::spawn(async move {
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
                .await;
        });
    }
}
