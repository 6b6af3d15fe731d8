//! Run with `cargo run --example hyper_server`, then `curl http://127.0.0.1:3001/items/7`.
//!
//! A plain hyper server (no framework): the layers wrap a `tower::Service`, the route comes
//! from a function (no router to ask), and `tower_telemetry::serve` runs hyper's connections
//! (recording each peer's address as `tower_telemetry_trace::PeerAddr`, stopping on SIGTERM or
//! Ctrl-C within a drain deadline). Spans are printed to the console.

use std::convert::Infallible;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tower::ServiceBuilder;
use tower_telemetry_metrics::MetricsLayer;
use tower_telemetry_trace::{RequestInfo, TraceLayer};

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
    // Handlers installed before saying we're up: a stop sent right after is not lost.
    let stop = tower_telemetry::shutdown_signal();
    println!("listening on http://{}", listener.local_addr()?);
    // hyper's HTTP/1.1 and HTTP/2 with a header-read timeout, the peer address recorded for
    // `client.address`, and on SIGTERM or Ctrl-C a drain bounded by a deadline (see
    // `tower_telemetry::serve` for the loop, written with hyper-util's building blocks).
    tower_telemetry::serve(listener, service)
        .with_graceful_shutdown(stop)
        .await;
    provider.shutdown()?;
    meters.shutdown()?;
    Ok(())
}
