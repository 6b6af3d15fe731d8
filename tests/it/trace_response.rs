//! The optional `traceresponse` header (W3C Trace Context Level 2, "Trace Context HTTP
//! Response Headers Format": `00-{trace-id}-{child-id}-{trace-flags}`, the child id being the
//! callee's span), on a real axum server on 127.0.0.1.

use std::net::SocketAddr;

use axum::Router;
use axum::routing::get;
use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use integration_tests::{Tracing, http1_client, serve_axum};
use opentelemetry::trace::SpanKind;
use tower_telemetry_trace::{TRACERESPONSE, TraceLayer, TraceResponse};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// `/public/*` is a public endpoint.
async fn serve<F>(tracing: &Tracing, configure: F) -> SocketAddr
where
    F: FnOnce(
        TraceLayer<opentelemetry_sdk::trace::SdkTracer>,
    ) -> TraceLayer<opentelemetry_sdk::trace::SdkTracer>,
{
    let layer = configure(TraceLayer::server(tracing.tracer()))
        .public_endpoint_if(|req| req.uri().path().starts_with("/public/"));
    let app = Router::new()
        .route("/users/{id}", get(|| async { "ok" }))
        .route("/public/{id}", get(|| async { "ok" }))
        .route("/skipped", get(|| async { "ok" }))
        .layer(layer.skip_if(|req| req.uri().path() == "/skipped"));
    serve_axum(app).await
}

/// The `traceresponse` values of `GET path`.
async fn trace_response(addr: SocketAddr, path: &str, traceparent: Option<&str>) -> Vec<String> {
    let mut request = Request::get(format!("http://{addr}{path}"));
    if let Some(traceparent) = traceparent {
        request = request.header("traceparent", traceparent);
    }
    let response = http1_client()
        .request(request.body(Full::<Bytes>::default()).unwrap())
        .await
        .unwrap();
    response
        .headers()
        .get_all(TRACERESPONSE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn absent_by_default() {
    let tracing = Tracing::new();
    let addr = serve(&tracing, |layer| layer).await;
    assert!(
        trace_response(addr, "/users/1", Some(TRACEPARENT))
            .await
            .is_empty()
    );
    assert!(trace_response(addr, "/users/1", None).await.is_empty());
}

#[tokio::test]
async fn when_enabled_it_names_the_server_span() {
    let tracing = Tracing::new();
    let addr = serve(&tracing, |layer| {
        layer.with_trace_response(TraceResponse::ExceptPublicEndpoints)
    })
    .await;

    // Continuing the caller's sampled trace (no `random` flag from the caller: none added).
    let values = trace_response(addr, "/users/1", Some(TRACEPARENT)).await;
    let server = tracing.wait_for(1).await.pop().unwrap();
    assert_eq!(server.span_kind, SpanKind::Server);
    assert_eq!(
        values,
        [format!(
            "00-{TRACE_ID}-{}-01",
            server.span_context.span_id()
        )]
    );

    // A trace started here: its random trace id is flagged.
    let values = trace_response(addr, "/users/2", None).await;
    let server = tracing.wait_for(2).await.pop().unwrap();
    assert_eq!(
        values,
        [format!(
            "00-{}-{}-03",
            server.span_context.trace_id(),
            server.span_context.span_id()
        )]
    );

    // Sampled out: the ids, without the sampled flag.
    let unsampled = format!("00-{TRACE_ID}-00f067aa0ba902b7-00");
    let values = trace_response(addr, "/users/3", Some(&unsampled)).await;
    assert_eq!(values.len(), 1);
    assert!(
        values[0].starts_with(&format!("00-{TRACE_ID}-")) && values[0].ends_with("-00"),
        "{values:?}"
    );
    assert!(
        !values[0].contains("-00f067aa0ba902b7-"),
        "our span, not the caller's"
    );

    // Skipped: no span of ours, no header.
    assert!(
        trace_response(addr, "/skipped", Some(TRACEPARENT))
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn never_on_a_public_endpoint_unless_asked() {
    let tracing = Tracing::new();
    let except = serve(&tracing, |layer| {
        layer.with_trace_response(TraceResponse::ExceptPublicEndpoints)
    })
    .await;
    assert!(
        trace_response(except, "/public/1", Some(TRACEPARENT))
            .await
            .is_empty()
    );

    let always = serve(&tracing, |layer| {
        layer.with_trace_response(TraceResponse::Always)
    })
    .await;
    let values = trace_response(always, "/public/1", Some(TRACEPARENT)).await;
    let server = tracing.wait_for(2).await.pop().unwrap();
    assert_ne!(
        server.span_context.trace_id().to_string(),
        TRACE_ID,
        "a public endpoint starts a new trace"
    );
    assert_eq!(
        values,
        [format!(
            "00-{}-{}-03",
            server.span_context.trace_id(),
            server.span_context.span_id()
        )]
    );
}
