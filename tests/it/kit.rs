//! The testing kit users get (`tower_telemetry::testing`) on what they run: a tonic server and
//! `Channel` behind the fused layers, and reqwest through the middleware, on 127.0.0.1.

use axum::Router;
use axum::routing::get;
use integration_tests::grpc::{channel, say};
use integration_tests::serve_axum;
use opentelemetry::trace::SpanKind;
use tower::ServiceBuilder;
use tower_telemetry::testing::TestTelemetry;
use tower_telemetry_trace::TraceMiddleware;

#[tokio::test]
async fn a_tonic_call_through_both_fused_layers() {
    let telemetry = TestTelemetry::new();
    let addr = integration_tests::serve_echo!(telemetry.server_layer()).await;
    let client = ServiceBuilder::new()
        .layer(telemetry.client_layer())
        .service(channel(addr).await);
    let reply = say(client, "hi", &[]).await.unwrap();
    assert_eq!(reply, "hi");
    telemetry.settled().await;

    let server = telemetry.spans_named("test.Echo/Say");
    assert_eq!(server.len(), 2, "{}", telemetry.dump_spans());
    let client = server
        .iter()
        .find(|s| s.kind() == &SpanKind::Client)
        .unwrap();
    let server = server
        .iter()
        .find(|s| s.kind() == &SpanKind::Server)
        .unwrap();
    assert_eq!(server.parent_span_id(), Some(client.span_id()));
    assert_eq!(server.trace_id(), client.trace_id());
    server
        .assert_attr("rpc.system.name", "grpc")
        .assert_attr("rpc.method", "test.Echo/Say")
        .assert_attr("rpc.status_code", "OK");
    client
        .assert_attr("rpc.method", "test.Echo/Say")
        .assert_attr("rpc.status_code", "OK");

    let calls = telemetry.histogram("rpc.server.call.duration");
    assert_eq!(
        calls
            .point(&[("rpc.method", "test.Echo/Say"), ("rpc.status_code", "OK")])
            .count,
        1
    );
    let calls = telemetry.histogram("rpc.client.call.duration");
    assert_eq!(
        calls
            .point(&[("rpc.method", "test.Echo/Say"), ("rpc.status_code", "OK")])
            .count,
        1
    );
}

#[tokio::test]
async fn a_reqwest_call_through_the_middleware() {
    let telemetry = TestTelemetry::new();
    let backend = serve_axum(
        Router::new()
            .route("/items", get(|| async { "[]" }))
            .layer(telemetry.server_layer()),
    )
    .await;
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(TraceMiddleware::from_layer(telemetry.client_layer()))
        .build();
    let body = client
        .get(format!("http://{backend}/items"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "[]");
    telemetry.settled().await;

    let call = telemetry.span("GET");
    let served = telemetry.span("GET /items");
    assert_eq!(call.kind(), &SpanKind::Client);
    assert_eq!(served.parent_span_id(), Some(call.span_id()));
    call.assert_attr("http.response.status_code", 200)
        .assert_attr("url.full", format!("http://{backend}/items"));
    assert_eq!(
        telemetry
            .histogram("http.client.request.duration")
            .point(&[("http.response.status_code", "200")])
            .count,
        1
    );
}
