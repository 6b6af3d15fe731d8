//! Client spans over gRPC: a tonic client through the client layer → a tonic server behind
//! the server layer, on 127.0.0.1 (semconv: "RPC spans" and "gRPC" pages).

use std::net::SocketAddr;
use std::time::Duration;

use integration_tests::grpc::{channel, say, stream};
use integration_tests::{Tracing, attr, attr_i64, attr_str};
use opentelemetry::trace::{SpanKind, Status};
use opentelemetry_sdk::trace::SpanData;
use tonic::Code;
use tower::ServiceBuilder;
use tower_telemetry_trace::{ClientTraceLayer, TraceLayer};

async fn serve(tracing: &Tracing) -> SocketAddr {
    let layer = TraceLayer::server(tracing.tracer());
    integration_tests::serve_echo!(layer).await
}

fn pair(spans: &[SpanData]) -> (&SpanData, &SpanData) {
    let client = spans
        .iter()
        .find(|s| s.span_kind == SpanKind::Client)
        .expect("a client span");
    let server = spans
        .iter()
        .find(|s| s.span_kind == SpanKind::Server)
        .expect("a server span");
    (client, server)
}

#[tokio::test]
async fn ok_call_joins_client_and_server() {
    let tracing = Tracing::new();
    let addr = serve(&tracing).await;
    let client = ServiceBuilder::new()
        .layer(
            ClientTraceLayer::client_grpc(tracing.tracer()).with_server_address(addr.to_string()),
        )
        .service(channel(addr).await);
    assert_eq!(say(client, "hi", &[]).await.unwrap(), "hi");
    let spans = tracing.wait_for(2).await;
    let (client, server) = pair(&spans);
    assert_eq!(client.name, "test.Echo/Say", "54");
    assert_eq!(server.parent_span_id, client.span_context.span_id());
    assert_eq!(
        server.span_context.trace_id(),
        client.span_context.trace_id()
    );
    assert_eq!(attr_str(client, "rpc.system.name").as_deref(), Some("grpc"));
    assert_eq!(
        attr_str(client, "rpc.method").as_deref(),
        Some("test.Echo/Say")
    );
    assert_eq!(attr_str(client, "rpc.status_code").as_deref(), Some("OK"));
    assert_eq!(
        attr_str(client, "server.address").as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(
        attr_i64(client, "server.port"),
        Some(i64::from(addr.port()))
    );
    assert_eq!(client.status, Status::Unset);
}

#[tokio::test]
async fn trailers_only_error_is_a_client_error() {
    let tracing = Tracing::new();
    let addr = serve(&tracing).await;
    let client = ServiceBuilder::new()
        .layer(ClientTraceLayer::client(tracing.tracer()))
        .service(channel(addr).await);
    assert_eq!(
        say(client, "fail:5", &[]).await.unwrap_err().code(),
        Code::NotFound
    );
    let spans = tracing.wait_for(2).await;
    let (client, server) = pair(&spans);
    assert_eq!(
        attr_str(client, "rpc.status_code").as_deref(),
        Some("NOT_FOUND")
    );
    assert!(
        matches!(client.status, Status::Error { .. }),
        "56: any code but OK, for a client"
    );
    assert_eq!(attr_str(client, "error.type").as_deref(), Some("NOT_FOUND"));
    assert_eq!(server.status, Status::Unset, "55: not for the server");
}

#[tokio::test]
async fn error_in_trailers_ends_the_client_span_at_the_trailers() {
    let tracing = Tracing::new();
    let addr = serve(&tracing).await;
    let client = ServiceBuilder::new()
        .layer(ClientTraceLayer::client(tracing.tracer()))
        .service(channel(addr).await);
    let (messages, result) = stream(client, "3:15").await;
    assert_eq!(messages.len(), 3);
    assert_eq!(result.unwrap_err().code(), Code::DataLoss);
    let spans = tracing.wait_for(2).await;
    let (client, _) = pair(&spans);
    assert_eq!(client.name, "test.Echo/Stream");
    assert_eq!(
        attr_str(client, "rpc.status_code").as_deref(),
        Some("DATA_LOSS"),
        "57/59: from the trailers"
    );
    assert!(matches!(client.status, Status::Error { .. }));
}

#[tokio::test]
async fn deadline_exceeded() {
    let tracing = Tracing::new();
    let addr = serve(&tracing).await;
    // The server says so (Trailers-Only).
    let client = ServiceBuilder::new()
        .layer(ClientTraceLayer::client(tracing.tracer()))
        .service(channel(addr).await);
    assert_eq!(
        say(client, "fail:4", &[]).await.unwrap_err().code(),
        Code::DeadlineExceeded
    );
    // The client's own deadline (a timeout below the layer) expires first.
    let client = ServiceBuilder::new()
        .layer(ClientTraceLayer::client_grpc(tracing.tracer()))
        .layer(tower::timeout::TimeoutLayer::new(Duration::from_millis(
            100,
        )))
        .service(channel(addr).await);
    let status = say(client, "sleep:2000", &[]).await.unwrap_err();
    assert!(status.message().contains("timed out"), "{status:?}");
    let spans = tracing.wait_for(3).await;
    let clients: Vec<&SpanData> = spans
        .iter()
        .filter(|s| s.span_kind == SpanKind::Client)
        .collect();
    assert_eq!(clients.len(), 2);
    for client in clients {
        assert_eq!(
            attr_str(client, "rpc.status_code").as_deref(),
            Some("DEADLINE_EXCEEDED")
        );
        assert_eq!(
            attr_str(client, "error.type").as_deref(),
            Some("DEADLINE_EXCEEDED")
        );
        assert!(matches!(client.status, Status::Error { .. }));
    }
}

#[tokio::test]
async fn cancelled_call_is_not_an_error() {
    let tracing = Tracing::new();
    let addr = serve(&tracing).await;
    let client = ServiceBuilder::new()
        .layer(ClientTraceLayer::client(tracing.tracer()))
        .service(channel(addr).await);
    let call = say(client, "sleep:2000", &[]);
    assert!(
        tokio::time::timeout(Duration::from_millis(100), call)
            .await
            .is_err()
    );
    let spans = tracing.wait_for(1).await;
    let client = spans
        .iter()
        .find(|s| s.span_kind == SpanKind::Client)
        .unwrap();
    assert_eq!(client.status, Status::Unset);
    assert_eq!(attr(client, "error.type"), None);
    assert_eq!(
        attr(client, "rpc.status_code"),
        None,
        "no status was received"
    );
}

/// The client span in each RPC conventions mode: the attribute names it carries.
#[tokio::test]
async fn client_span_attributes_per_mode() {
    use tower_telemetry_trace::RpcConventions;
    #[rustfmt::skip]
    let modes: [(RpcConventions, &[&str]); 3] = [
        (RpcConventions::Current, &["error.type", "rpc.method", "rpc.status_code", "rpc.system.name", "server.address", "server.port"]),
        (RpcConventions::Classic, &["error.type", "rpc.grpc.status_code", "rpc.method", "rpc.service", "rpc.system", "server.address", "server.port"]),
        (RpcConventions::Both, &["error.type", "rpc.grpc.status_code", "rpc.method", "rpc.service", "rpc.status_code", "rpc.system", "rpc.system.name", "server.address", "server.port"]),
    ];
    for (mode, expected) in modes {
        let tracing = Tracing::new();
        let addr = serve(&tracing).await;
        let client = ServiceBuilder::new()
            .layer(
                ClientTraceLayer::client_grpc(tracing.tracer())
                    .with_rpc_conventions(mode)
                    .with_server_address(addr.to_string()),
            )
            .service(channel(addr).await);
        say(client, "fail:9", &[]).await.unwrap_err();
        let spans = tracing.wait_for(2).await;
        let (client, _) = pair(&spans);
        let mut keys: Vec<&str> = client.attributes.iter().map(|kv| kv.key.as_str()).collect();
        keys.sort_unstable();
        assert_eq!(keys, expected, "{mode:?}");
        let method = if mode == RpcConventions::Classic {
            "Say"
        } else {
            "test.Echo/Say"
        };
        assert_eq!(
            attr_str(client, "rpc.method").as_deref(),
            Some(method),
            "{mode:?}"
        );
        assert_eq!(
            attr_str(client, "error.type").as_deref(),
            Some("FAILED_PRECONDITION")
        );
    }
}

/// 63: a bidirectional stream's spans and metrics, on both sides, end after the last message
/// of both directions, at the trailers: they cover the client's stream too.
#[tokio::test]
async fn bidirectional_stream_ends_after_the_last_message() {
    use integration_tests::Metrics;
    use integration_tests::grpc::chat;
    use tower_telemetry_metrics::WithMetrics;
    let tracing = Tracing::new();
    let (server_metrics, client_metrics) = (Metrics::new(), Metrics::new());
    let layer = TraceLayer::server(tracing.tracer()).with_metrics(&server_metrics.meter());
    let addr = integration_tests::serve_echo!(layer).await;
    let client = ServiceBuilder::new()
        .layer(
            ClientTraceLayer::client_grpc(tracing.tracer()).with_metrics(&client_metrics.meter()),
        )
        .service(channel(addr).await);
    let (answers, result) = chat(client, &["a", "b", "c"], Duration::from_millis(100)).await;
    assert_eq!(answers, ["a", "b", "c"]);
    assert!(result.is_ok());
    let spans = tracing.wait_for(2).await;
    let (client, server) = pair(&spans);
    assert_eq!(client.name, "test.Echo/Chat");
    assert_eq!(server.name, "test.Echo/Chat");
    for (span, metrics, instrument) in [
        (client, &client_metrics, "rpc.client.call.duration"),
        (server, &server_metrics, "rpc.server.call.duration"),
    ] {
        let took = span
            .end_time
            .duration_since(span.start_time)
            .unwrap()
            .as_secs_f64();
        assert!(
            took >= 0.3,
            "{}: the client's stream lasts 300 ms: {took}",
            span.name
        );
        assert_eq!(attr_str(span, "rpc.status_code").as_deref(), Some("OK"));
        let points = metrics.histogram(instrument);
        assert_eq!(points.len(), 1);
        assert_eq!(points[0].count, 1);
        assert_eq!(points[0].sum, took, "{instrument}: the span's duration");
    }
}
