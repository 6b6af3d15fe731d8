//! The reqwest middleware and the propagation-only tonic interceptors, on real services on
//! 127.0.0.1.

use std::net::SocketAddr;

use axum::Router;
use axum::routing::get;
use http::HeaderMap;
use integration_tests::grpc::{EchoServer, channel, say};
use integration_tests::{Tracing, attr_i64, attr_str, serve_axum, serve_tonic};
use opentelemetry::Context;
use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags, TraceId, TraceState,
};
use tower_telemetry_propagation::traceparent;
use tower_telemetry_trace::interceptor::{ExtractContext, inject_context};
use tower_telemetry_trace::{ClientTraceLayer, TraceLayer, TraceMiddleware};

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// A backend echoing the traceparent it received.
async fn backend(tracing: &Tracing) -> SocketAddr {
    let router = Router::new()
        .route(
            "/hello",
            get(|headers: HeaderMap| async move {
                headers
                    .get("traceparent")
                    .map(|v| v.to_str().unwrap().to_owned())
                    .unwrap_or_default()
            }),
        )
        .layer(TraceLayer::server(tracing.tracer()));
    serve_axum(router).await
}

#[tokio::test]
async fn reqwest_middleware_joins_the_trace() {
    let tracing = Tracing::new();
    let back = backend(&tracing).await;
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(TraceMiddleware::new(tracing.tracer()))
        .build();
    let frontend = Router::new()
        .route(
            "/call",
            get(move || {
                let client = client.clone();
                async move {
                    client
                        .get(format!("http://{back}/hello"))
                        .send()
                        .await
                        .unwrap()
                        .text()
                        .await
                        .unwrap()
                }
            }),
        )
        .layer(TraceLayer::server(tracing.tracer()));
    let front = serve_axum(frontend).await;

    let response = reqwest::Client::new()
        .get(format!("http://{front}/call"))
        .header("traceparent", TRACEPARENT)
        .send()
        .await
        .unwrap();
    let on_wire = traceparent::parse(response.text().await.unwrap()).unwrap();

    let spans = tracing.wait_for(3).await;
    let client = spans
        .iter()
        .find(|s| s.span_kind == SpanKind::Client)
        .unwrap();
    let server_a = spans
        .iter()
        .find(|s| {
            s.span_kind == SpanKind::Server && attr_str(s, "url.path").as_deref() == Some("/call")
        })
        .unwrap();
    let server_b = spans
        .iter()
        .find(|s| {
            s.span_kind == SpanKind::Server && attr_str(s, "url.path").as_deref() == Some("/hello")
        })
        .unwrap();
    let trace_id = TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap();
    assert_eq!(client.span_context.trace_id(), trace_id);
    assert_eq!(client.parent_span_id, server_a.span_context.span_id());
    assert_eq!(server_b.parent_span_id, client.span_context.span_id());
    assert_eq!(
        on_wire.span_id(),
        client.span_context.span_id(),
        "the client span's id on the wire"
    );
    assert_eq!(client.name, "GET");
    assert_eq!(
        attr_str(client, "url.full"),
        Some(format!("http://{back}/hello"))
    );
    assert_eq!(attr_i64(client, "http.response.status_code"), Some(200));
    assert_eq!(
        attr_i64(client, "server.port"),
        Some(i64::from(back.port()))
    );
}

#[tokio::test]
async fn reqwest_connection_refused() {
    let tracing = Tracing::new();
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(TraceMiddleware::new(tracing.tracer()))
        .build();
    assert!(
        client
            .get(format!("http://{closed}/"))
            .send()
            .await
            .is_err()
    );
    let span = &tracing.wait_for(1).await[0];
    assert_eq!(attr_str(span, "error.type").as_deref(), Some("connect"));
    assert!(matches!(span.status, Status::Error { .. }));
}

fn remote() -> Context {
    let sc = SpanContext::new(
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
        SpanId::from_hex("00f067aa0ba902b7").unwrap(),
        TraceFlags::SAMPLED,
        true,
        TraceState::NONE,
    );
    Context::new().with_remote_span_context(sc)
}

#[tokio::test]
async fn inject_interceptor_carries_the_current_context() {
    let tracing = Tracing::new();
    let layer = TraceLayer::server(tracing.tracer());
    let addr = integration_tests::serve_echo!(layer).await;
    let client =
        tonic::service::interceptor::InterceptedService::new(channel(addr).await, inject_context);
    let _guard = remote().attach();
    say(client, "hi", &[]).await.unwrap();
    drop(_guard);
    let span = &tracing.wait_for(1).await[0];
    assert_eq!(
        span.span_context.trace_id(),
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap()
    );
    assert_eq!(
        span.parent_span_id,
        SpanId::from_hex("00f067aa0ba902b7").unwrap(),
        "no client span: the caller's id"
    );
}

#[tokio::test]
async fn extract_interceptor_puts_the_callers_context_in_the_extensions() {
    let addr = serve_tonic(|incoming| {
        tonic::transport::Server::builder()
            .layer(tonic::service::InterceptorLayer::new(ExtractContext::new()))
            .add_service(EchoServer)
            .serve_with_incoming(incoming)
    })
    .await;
    let reply = say(
        channel(addr).await,
        "whoami",
        &[("traceparent", TRACEPARENT)],
    )
    .await
    .unwrap();
    assert_eq!(reply, "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7");
    // Both interceptors together: the client's context arrives unchanged.
    let client =
        tonic::service::interceptor::InterceptedService::new(channel(addr).await, inject_context);
    let _guard = remote().attach();
    assert_eq!(
        say(client, "whoami", &[]).await.unwrap(),
        "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7"
    );
}

#[tokio::test]
async fn client_layer_with_spans_disabled_still_propagates() {
    let tracing = Tracing::new();
    let back = backend(&tracing).await;
    let mut client = tower::ServiceBuilder::new()
        .layer(ClientTraceLayer::client(tracing.tracer()).enabled(false))
        .service(integration_tests::http1_client());
    let request = http::Request::get(format!("http://{back}/hello"))
        .body(http_body_util::Full::<bytes::Bytes>::default())
        .unwrap();
    let _guard = remote().attach();
    let response = tower::ServiceExt::ready(&mut client).await.unwrap();
    let body = tower::Service::call(response, request).await.unwrap();
    let body = http_body_util::BodyExt::collect(body.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert_eq!(
        body, TRACEPARENT,
        "24: the current context goes on the wire unchanged"
    );
}
