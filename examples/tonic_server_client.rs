//! Run with `cargo run --example tonic_server_client`.
//!
//! A tonic server with the trace and metrics layers (`Server::builder().layer(...)`) and a
//! tonic client with the client layer around its `Channel`: one trace across both, the gRPC
//! status read from the trailers. The service is the examples' protoc-free echo service; with
//! generated code it is `Server::builder().layer(...).add_service(GreeterServer::new(..))` and
//! `GreeterClient::new(ServiceBuilder::new().layer(...).service(channel))`.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tower::ServiceBuilder;
use tower_telemetry_metrics::WithMetrics;
use tower_telemetry_trace::{ClientTraceLayer, TraceLayer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(opentelemetry_stdout::SpanExporter::default())
        .build();
    let meters = opentelemetry_sdk::metrics::SdkMeterProvider::builder().build();
    let meter = opentelemetry::metrics::MeterProvider::meter(&meters, "tonic-example");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tonic::transport::Server::builder()
        .layer(TraceLayer::server_grpc(provider.tracer("greeter")).with_metrics(&meter))
        .add_service(examples::grpc::EchoServer)
        .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener));
    tokio::spawn(server);

    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))?
        .connect()
        .await?;
    let client = ServiceBuilder::new()
        .layer(
            ClientTraceLayer::client_grpc(provider.tracer("client"))
                .with_server_address(addr.to_string()),
        )
        .service(channel);
    let reply = examples::grpc::say(client.clone(), "hello", &[]).await?;
    println!("Say(hello) → {}", String::from_utf8_lossy(&reply));
    let status = examples::grpc::say(client, "fail:5", &[])
        .await
        .unwrap_err();
    println!(
        "Say(fail:5) → {:?} (the client span is an error, the server span is not)",
        status.code()
    );
    provider.shutdown()?;
    Ok(())
}
