//! OpenCensus `grpc-trace-bin` through the layers, tonic to tonic on 127.0.0.1: read by the
//! server layer below `traceparent` (gRFC A72's propagation for OpenCensus peers), written by
//! the client layer only when asked.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use http::HeaderMap;
use integration_tests::Tracing;
use integration_tests::grpc::{channel, say};
use opentelemetry::trace::{SpanId, SpanKind, TraceId};
use tonic::metadata::MetadataValue;
use tower::ServiceBuilder;
use tower_telemetry_propagation::{Propagator, grpc_trace_bin};
use tower_telemetry_trace::{ClientTraceLayer, TraceLayer};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

/// The 29-byte OpenCensus binary context: version 0, trace id, span id, sampled.
fn binary_context(trace_id: &str, span_id: &str) -> Vec<u8> {
    let mut bytes = vec![0, 0];
    bytes.extend(TraceId::from_hex(trace_id).unwrap().to_bytes());
    bytes.push(1);
    bytes.extend(SpanId::from_hex(span_id).unwrap().to_bytes());
    bytes.extend([2, 1]);
    bytes
}

/// Calls `Say` with `grpc-trace-bin` (binary metadata: tonic sends it unpadded) and maybe a
/// `traceparent`.
async fn say_with_bin(addr: SocketAddr, bin: &[u8], traceparent: Option<&str>) {
    let mut grpc = tonic::client::Grpc::new(channel(addr).await);
    grpc.ready().await.unwrap();
    let mut request = tonic::Request::new(bytes::Bytes::from_static(b"hi"));
    request
        .metadata_mut()
        .insert_bin("grpc-trace-bin", MetadataValue::from_bytes(bin));
    if let Some(tp) = traceparent {
        request
            .metadata_mut()
            .insert("traceparent", tp.parse().unwrap());
    }
    grpc.unary(
        request,
        http::uri::PathAndQuery::from_static("/test.Echo/Say"),
        integration_tests::grpc::BytesCodec,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn in_the_server_layer_continues_the_trace_below_traceparent() {
    let tracing = Tracing::new();
    let layer = TraceLayer::server(tracing.tracer()); // the default propagator
    let addr = integration_tests::serve_echo!(layer).await;
    say_with_bin(addr, &binary_context(TRACE_ID, "34f067aa0ba902b7"), None).await;
    let span = &tracing.wait_for(1).await[0];
    assert_eq!(
        span.span_context.trace_id(),
        TraceId::from_hex(TRACE_ID).unwrap()
    );
    assert_eq!(
        span.parent_span_id,
        SpanId::from_hex("34f067aa0ba902b7").unwrap()
    );
    assert!(span.span_context.is_sampled());

    // A valid traceparent wins.
    let w3c = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    say_with_bin(
        addr,
        &binary_context(TRACE_ID, "34f067aa0ba902b7"),
        Some(w3c),
    )
    .await;
    let spans = tracing.wait_for(2).await;
    assert!(spans.iter().any(|s| {
        s.span_context.trace_id() == TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").unwrap()
    }));

    // Malformed: a new trace, and the call goes on.
    say_with_bin(addr, &[1; 29], None).await;
    let spans = tracing.wait_for(3).await;
    let fresh = spans
        .iter()
        .filter(|s| s.parent_span_id == SpanId::INVALID)
        .count();
    assert_eq!(fresh, 1);
}

/// A tonic server that records the metadata of every call.
async fn recording_server() -> (SocketAddr, Arc<Mutex<Vec<HeaderMap>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    let layer = tower::util::MapRequestLayer::new(move |request: http::Request<_>| {
        record.lock().unwrap().push(request.headers().clone());
        request
    });
    let addr = integration_tests::serve_echo!(layer).await;
    (addr, seen)
}

#[tokio::test]
async fn out_of_the_client_layer_only_when_enabled() {
    let tracing = Tracing::new();
    let (addr, seen) = recording_server().await;

    let plain = ServiceBuilder::new()
        .layer(ClientTraceLayer::client_grpc(tracing.tracer()))
        .service(channel(addr).await);
    say(plain, "hi", &[]).await.unwrap();
    let injecting = ServiceBuilder::new()
        .layer(
            ClientTraceLayer::client_grpc(tracing.tracer())
                .with_propagator(Propagator::w3c().with_grpc_trace_bin_injection()),
        )
        .service(channel(addr).await);
    say(injecting, "hi", &[]).await.unwrap();

    let spans = tracing.wait_for(2).await;
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    assert!(seen[0].contains_key("traceparent"));
    assert!(
        !seen[0].contains_key("grpc-trace-bin"),
        "extract-only unless asked"
    );
    let bin = seen[1]
        .get("grpc-trace-bin")
        .expect("injected when enabled");
    let sc = grpc_trace_bin::parse(bin.as_bytes()).expect("a valid OpenCensus context");
    let client = spans
        .iter()
        .filter(|s| s.span_kind == SpanKind::Client)
        .find(|s| s.span_context.span_id() == sc.span_id())
        .expect("the client span's own context");
    assert_eq!(client.span_context.trace_id(), sc.trace_id());
    assert!(sc.is_sampled());
    assert!(
        !bin.to_str().unwrap().ends_with('='),
        "unpadded, as gRPC emits binary metadata"
    );
    assert!(seen[1].contains_key("traceparent"), "W3C still goes out");
}

/// The propagation-only `ExtractContext` interceptor reads what the server layer's default
/// propagator reads: `grpc-trace-bin` when there is no `traceparent`.
#[tokio::test]
async fn in_the_extract_interceptor_by_default() {
    use tower_telemetry_trace::interceptor::ExtractContext;
    let addr = integration_tests::serve_echo!(tonic::service::InterceptorLayer::new(
        ExtractContext::default(),
    ))
    .await;
    let mut grpc = tonic::client::Grpc::new(channel(addr).await);
    grpc.ready().await.unwrap();
    let mut request = tonic::Request::new(bytes::Bytes::from_static(b"whoami"));
    request.metadata_mut().insert_bin(
        "grpc-trace-bin",
        MetadataValue::from_bytes(&binary_context(TRACE_ID, "00f067aa0ba902b7")),
    );
    let reply = grpc
        .unary(
            request,
            http::uri::PathAndQuery::from_static("/test.Echo/Say"),
            integration_tests::grpc::BytesCodec,
        )
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply, format!("{TRACE_ID}-00f067aa0ba902b7"));
}
