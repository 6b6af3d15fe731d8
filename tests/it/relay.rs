//! The gRPC side of the validation server (`validation.v1.Relay`, `examples/proto/relay.proto`)
//! on 127.0.0.1, called by tonic and by a bare HTTP/2 client: every method, the status rules of
//! both sides (semconv 1.45.0 "gRPC" page), streams and deadlines, and what gets propagated.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use examples::relay::{
    self, EchoReply, EchoRequest, ForwardRequest, StreamRequest, call_stream, call_unary,
};
use http::Uri;
use http_body_util::{BodyExt, Full};
use integration_tests::grpc::channel;
use integration_tests::{Metrics, Tracing, attr, attr_i64, attr_str, serve_axum};
use integration_tests::{point, seconds};
use opentelemetry::trace::{SpanId, SpanKind, Status, TraceId};
use opentelemetry_sdk::trace::SpanData;
use prost::Message as _;
use tonic::Code;
use tower::Layer;
use tower_telemetry_metrics::WithMetrics;
use tower_telemetry_trace::ClientTraceLayer;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// A validation server on 127.0.0.1 with the SDK's in-memory exporters.
async fn validation_server(tracing: &Tracing, metrics: &Metrics) -> SocketAddr {
    let (_reader, endpoint) = tower_telemetry_metrics::prometheus::exporter().unwrap();
    serve_axum(examples::validation_server::app(
        tracing.provider(),
        &metrics.meter(),
        endpoint,
    ))
    .await
}

fn origin(addr: SocketAddr) -> Uri {
    format!("http://{addr}").parse().unwrap()
}

fn echo_request(message: &str, fail_code: i32, delay_ms: u32) -> EchoRequest {
    EchoRequest {
        message: message.to_owned(),
        fail_code,
        delay_ms,
    }
}

async fn echo(
    addr: SocketAddr,
    request: tonic::Request<EchoRequest>,
) -> Result<EchoReply, tonic::Status> {
    call_unary(channel(addr).await, origin(addr), relay::ECHO, request)
        .await
        .map(tonic::Response::into_inner)
}

fn with_metadata<T>(message: T, metadata: &[(&'static str, &str)]) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    for (k, v) in metadata {
        request.metadata_mut().insert(*k, v.parse().unwrap());
    }
    request
}

fn server_spans<'a>(spans: &'a [SpanData], name: &str) -> Vec<&'a SpanData> {
    spans
        .iter()
        .filter(|s| s.span_kind == SpanKind::Server && s.name == name)
        .collect()
}

#[tokio::test]
async fn echo_answers_with_the_parent_it_continued() {
    let tracing = Tracing::new();
    let metrics = Metrics::new();
    let vs = validation_server(&tracing, &metrics).await;
    let reply = echo(
        vs,
        with_metadata(echo_request("hello", 0, 0), &[("traceparent", TRACEPARENT)]),
    )
    .await
    .unwrap();
    assert_eq!(reply.message, "hello");
    assert_eq!(reply.parent_traceparent, TRACEPARENT);
    let reply = echo(vs, tonic::Request::new(echo_request("new", 0, 0)))
        .await
        .unwrap();
    assert_eq!(reply.parent_traceparent, "", "a new trace has no parent");

    let spans = tracing.wait_for(2).await;
    let echoes = server_spans(&spans, "validation.v1.Relay/Echo");
    assert_eq!(echoes.len(), 2);
    let continued = echoes
        .iter()
        .find(|s| s.span_context.trace_id() == TraceId::from_hex(TRACE_ID).unwrap())
        .expect("the trace continued");
    assert_eq!(
        continued.parent_span_id,
        SpanId::from_hex("00f067aa0ba902b7").unwrap()
    );
    assert_eq!(
        attr_str(continued, "rpc.system.name").as_deref(),
        Some("grpc")
    );
    assert_eq!(
        attr_str(continued, "rpc.method").as_deref(),
        Some("validation.v1.Relay/Echo")
    );
    assert_eq!(
        attr_str(continued, "rpc.status_code").as_deref(),
        Some("OK")
    );
    assert_eq!(
        attr_str(continued, "server.address").as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(
        attr_i64(continued, "server.port"),
        Some(i64::from(vs.port()))
    );
    assert_eq!(continued.status, Status::Unset);
    let points = metrics.histogram("rpc.server.call.duration");
    let ok = point(
        &points,
        &[
            ("rpc.system.name", "grpc"),
            ("rpc.method", "validation.v1.Relay/Echo"),
            ("rpc.status_code", "OK"),
        ],
    );
    assert_eq!(ok.count, 2);
    assert!(
        metrics.histogram("http.server.request.duration").is_empty(),
        "gRPC calls are not HTTP requests"
    );
}

/// Every status code, through the fused client layer: the client judges every code but OK an
/// error, the server only its six ("gRPC" page, semconv 1.45.0).
#[tokio::test]
async fn fail_codes_under_server_and_client_rules() {
    let tracing = Tracing::new();
    let server_metrics = Metrics::new();
    let client_metrics = Metrics::new();
    let vs = validation_server(&tracing, &server_metrics).await;
    let client = ClientTraceLayer::client_grpc(tracing.tracer())
        .with_metrics(&client_metrics.meter())
        .layer(channel(vs).await);
    for code in 1..=16 {
        let status = call_unary::<_, _, EchoReply>(
            client.clone(),
            origin(vs),
            relay::ECHO,
            tonic::Request::new(echo_request("x", code, 0)),
        )
        .await
        .unwrap_err();
        assert_eq!(status.code(), Code::from_i32(code));
    }
    let spans = tracing.wait_for(32).await;
    let port = vs.port().to_string();
    let client_points = client_metrics.histogram("rpc.client.call.duration");
    let server_points = server_metrics.histogram("rpc.server.call.duration");
    for code in 1..=16 {
        let name = tower_telemetry_trace::conventions::grpc::Code::from_i32(code).as_str();
        let server_error = matches!(
            name,
            "UNKNOWN"
                | "DEADLINE_EXCEEDED"
                | "UNIMPLEMENTED"
                | "INTERNAL"
                | "UNAVAILABLE"
                | "DATA_LOSS"
        );
        let of_kind = |kind: SpanKind| {
            spans
                .iter()
                .find(|s| {
                    s.span_kind == kind && attr_str(s, "rpc.status_code").as_deref() == Some(name)
                })
                .unwrap_or_else(|| panic!("no {kind:?} span with {name}"))
        };
        let (client_span, server_span) = (of_kind(SpanKind::Client), of_kind(SpanKind::Server));
        assert!(
            matches!(client_span.status, Status::Error { .. }),
            "{name}: client"
        );
        assert_eq!(attr_str(client_span, "error.type").as_deref(), Some(name));
        assert_eq!(
            matches!(server_span.status, Status::Error { .. }),
            server_error,
            "{name}: server"
        );
        assert_eq!(
            attr_str(server_span, "error.type").as_deref(),
            server_error.then_some(name),
            "{name}: server"
        );
        assert_eq!(
            server_span.parent_span_id,
            client_span.span_context.span_id()
        );
        point(
            &client_points,
            &[
                ("rpc.system.name", "grpc"),
                ("rpc.method", "validation.v1.Relay/Echo"),
                ("rpc.status_code", name),
                ("error.type", name),
                ("server.address", "127.0.0.1"),
                ("server.port", &port),
            ],
        );
        // A server can't tell a handler's UNIMPLEMENTED from a missing method's: `_OTHER`.
        let server_method = if name == "UNIMPLEMENTED" {
            "_OTHER"
        } else {
            "validation.v1.Relay/Echo"
        };
        let mut server_labels = vec![
            ("rpc.system.name", "grpc"),
            ("rpc.method", server_method),
            ("rpc.status_code", name),
        ];
        if server_error {
            server_labels.push(("error.type", name));
        }
        assert_eq!(point(&server_points, &server_labels).count, 1, "{name}");
    }
    assert_eq!(client_points.len(), 16);
    assert_eq!(server_points.len(), 16);
}

#[tokio::test]
async fn echo_waits_delay_ms() {
    let tracing = Tracing::new();
    let metrics = Metrics::new();
    let vs = validation_server(&tracing, &metrics).await;
    let started = Instant::now();
    echo(vs, tonic::Request::new(echo_request("slow", 0, 200)))
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(200));
    let span = &tracing.wait_for(1).await[0];
    assert!(seconds(span) >= 0.2, "{}", seconds(span));
    let status = echo(vs, tonic::Request::new(echo_request("x", 0, 5_001)))
        .await
        .unwrap_err();
    assert_eq!(
        status.code(),
        Code::InvalidArgument,
        "delay_ms at most 5000"
    );
    let status = echo(vs, tonic::Request::new(echo_request("x", 17, 0)))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "fail_code 0..=16");
}

/// `Forward` through the instrumented client: one trace over both servers, the downstream's
/// reply (with the parent it saw: the client span) or its status.
#[tokio::test]
async fn forward_calls_echo_through_the_instrumented_client() {
    let tracing = Tracing::new();
    let (metrics_a, metrics_b) = (Metrics::new(), Metrics::new());
    let a = validation_server(&tracing, &metrics_a).await;
    let b = validation_server(&tracing, &metrics_b).await;
    let forward = |target: String, inner: EchoRequest| {
        with_metadata(
            ForwardRequest {
                target,
                request: Some(inner),
            },
            &[("traceparent", TRACEPARENT)],
        )
    };
    let reply: EchoReply = call_unary(
        channel(a).await,
        origin(a),
        relay::FORWARD,
        forward(format!("http://{b}"), echo_request("relayed", 0, 0)),
    )
    .await
    .unwrap()
    .into_inner();
    assert_eq!(reply.message, "relayed");

    let spans = tracing.wait_for(3).await;
    let forward_span = server_spans(&spans, "validation.v1.Relay/Forward")[0];
    let client_span = spans
        .iter()
        .find(|s| s.span_kind == SpanKind::Client)
        .unwrap();
    let echo_span = server_spans(&spans, "validation.v1.Relay/Echo")[0];
    let trace_id = TraceId::from_hex(TRACE_ID).unwrap();
    for span in [forward_span, client_span, echo_span] {
        assert_eq!(span.span_context.trace_id(), trace_id, "{}", span.name);
    }
    assert_eq!(
        client_span.parent_span_id,
        forward_span.span_context.span_id()
    );
    assert_eq!(echo_span.parent_span_id, client_span.span_context.span_id());
    assert_eq!(client_span.name, "validation.v1.Relay/Echo");
    assert_eq!(
        attr_str(client_span, "server.address").as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(
        attr_i64(client_span, "server.port"),
        Some(i64::from(b.port()))
    );
    assert_eq!(
        reply.parent_traceparent,
        format!("00-{TRACE_ID}-{}-01", client_span.span_context.span_id()),
        "the downstream's parent is the client span"
    );
    let client_points = metrics_a.histogram("rpc.client.call.duration");
    assert_eq!(client_points.len(), 1, "{client_points:#?}");
    assert_eq!(
        client_points[0]
            .attributes
            .get("rpc.status_code")
            .map(String::as_str),
        Some("OK")
    );

    // The downstream's status is the call's status.
    let status = call_unary::<_, _, EchoReply>(
        channel(a).await,
        origin(a),
        relay::FORWARD,
        forward(b.to_string(), echo_request("x", 5, 0)),
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let spans = tracing.wait_for(6).await;
    let failed_forward = server_spans(&spans, "validation.v1.Relay/Forward")
        .into_iter()
        .find(|s| attr_str(s, "rpc.status_code").as_deref() == Some("NOT_FOUND"))
        .unwrap();
    assert_eq!(
        failed_forward.status,
        Status::Unset,
        "NOT_FOUND: not a server error"
    );
    let failed_client = spans
        .iter()
        .find(|s| {
            s.span_kind == SpanKind::Client
                && attr_str(s, "rpc.status_code").as_deref() == Some("NOT_FOUND")
        })
        .unwrap();
    assert!(matches!(failed_client.status, Status::Error { .. }));
}

#[tokio::test]
async fn forward_to_a_non_loopback_target_is_refused_uncontacted() {
    let tracing = Tracing::new();
    let metrics = Metrics::new();
    let vs = validation_server(&tracing, &metrics).await;
    for target in [
        "http://10.255.255.1:50051",
        "example.com:443",
        "https://127.0.0.1:1",
    ] {
        let started = Instant::now();
        let status = call_unary::<_, _, EchoReply>(
            channel(vs).await,
            origin(vs),
            relay::FORWARD,
            tonic::Request::new(ForwardRequest {
                target: target.to_owned(),
                request: Some(echo_request("x", 0, 0)),
            }),
        )
        .await
        .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{target}");
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{target}: not contacted"
        );
    }
    let spans = tracing.wait_for(3).await;
    assert!(
        spans.iter().all(|s| s.span_kind == SpanKind::Server),
        "no client call was made: {spans:#?}"
    );
    assert!(metrics.histogram("rpc.client.call.duration").is_empty());
}

/// 63: a server stream's span and metric end after its last message, at the trailers.
#[tokio::test]
async fn stream_of_four_messages_ends_after_the_last() {
    let tracing = Tracing::new();
    let metrics = Metrics::new();
    let client_metrics = Metrics::new();
    let vs = validation_server(&tracing, &metrics).await;
    let client = ClientTraceLayer::client_grpc(tracing.tracer())
        .with_metrics(&client_metrics.meter())
        .layer(channel(vs).await);
    let request = tonic::Request::new(StreamRequest {
        count: 4,
        interval_ms: 150,
        fail_code: 0,
    });
    let started = Instant::now();
    let mut stream = call_stream(client, origin(vs), request)
        .await
        .unwrap()
        .into_inner();
    let mut got = Vec::new();
    let mut parents = Vec::new();
    while let Some(reply) = stream.message().await.unwrap() {
        parents.push(reply.parent_traceparent);
        got.push((reply.message, started.elapsed()));
    }
    assert_eq!(
        got.iter().map(|(m, _)| m.as_str()).collect::<Vec<_>>(),
        ["0", "1", "2", "3"]
    );
    assert!(got[3].1 >= Duration::from_millis(450), "{got:?}");

    let spans = tracing.wait_for(2).await;
    let server = server_spans(&spans, "validation.v1.Relay/Stream")[0];
    let client = spans
        .iter()
        .find(|s| s.span_kind == SpanKind::Client)
        .unwrap();
    let sc = &client.span_context;
    let client_traceparent = format!("00-{}-{}-", sc.trace_id(), sc.span_id());
    assert!(
        parents.iter().all(|p| p.starts_with(&client_traceparent)),
        "every reply names the client span as its parent: {parents:?}"
    );
    assert!(seconds(server) >= 0.45, "server span: {}", seconds(server));
    assert!(seconds(client) >= 0.45, "client span: {}", seconds(client));
    assert_eq!(attr_str(server, "rpc.status_code").as_deref(), Some("OK"));
    let point = &metrics.histogram("rpc.server.call.duration")[0];
    assert_eq!(point.count, 1);
    assert_eq!(
        point.sum,
        seconds(server),
        "the span's duration is the metric's value"
    );
    let client_point = &client_metrics.histogram("rpc.client.call.duration")[0];
    assert_eq!(client_point.sum, seconds(client));

    // A stream that fails after its messages: the status from the trailers.
    let (count, code) = (2, 15);
    let mut stream = call_stream(
        channel(vs).await,
        origin(vs),
        tonic::Request::new(StreamRequest {
            count,
            interval_ms: 10,
            fail_code: code,
        }),
    )
    .await
    .unwrap()
    .into_inner();
    let mut n = 0;
    let status = loop {
        match stream.message().await {
            Ok(Some(_)) => n += 1,
            Ok(None) => panic!("expected DATA_LOSS"),
            Err(status) => break status,
        }
    };
    assert_eq!((n, status.code()), (2, Code::DataLoss));
    let spans = tracing.wait_for(3).await;
    let failed = server_spans(&spans, "validation.v1.Relay/Stream")
        .into_iter()
        .find(|s| attr_str(s, "rpc.status_code").as_deref() == Some("DATA_LOSS"))
        .unwrap();
    assert!(matches!(failed.status, Status::Error { .. }));
}

/// 63: a client's deadline shorter than the work ends the server's span and metric promptly,
/// once, as `DEADLINE_EXCEEDED`, never OK.
#[tokio::test]
async fn a_client_deadline_shorter_than_delay_ms() {
    let tracing = Tracing::new();
    let metrics = Metrics::new();
    let client_metrics = Metrics::new();
    let vs = validation_server(&tracing, &metrics).await;
    let client = ClientTraceLayer::client_grpc(tracing.tracer())
        .with_metrics(&client_metrics.meter())
        .layer(channel(vs).await);
    let mut request = tonic::Request::new(echo_request("late", 0, 3_000));
    request.set_timeout(Duration::from_millis(300));
    let started = Instant::now();
    let status = call_unary::<_, _, EchoReply>(client, origin(vs), relay::ECHO, request)
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(status.code(), Code::DeadlineExceeded | Code::Cancelled),
        "{status:?}"
    );
    let spans = tracing.wait_for(2).await;
    let server = server_spans(&spans, "validation.v1.Relay/Echo");
    assert_eq!(server.len(), 1, "once");
    let server = server[0];
    // The server answers DEADLINE_EXCEEDED at the deadline; tonic's client resets the stream
    // at the same moment, and if its reset arrives first by more than `DEADLINE_SLACK` (a
    // loaded machine) the server's span says CANCELLED. Never OK, never open.
    let code = attr_str(server, "rpc.status_code");
    assert!(
        matches!(code.as_deref(), Some("DEADLINE_EXCEEDED" | "CANCELLED")),
        "{code:?}"
    );
    let took = seconds(server);
    assert!(
        (0.25..2.0).contains(&took),
        "promptly, at the deadline: {took}"
    );
    let client = spans
        .iter()
        .find(|s| s.span_kind == SpanKind::Client)
        .unwrap();
    assert_eq!(
        attr_str(client, "rpc.status_code").as_deref(),
        Some("DEADLINE_EXCEEDED"),
        "the client's own deadline"
    );
    assert!(matches!(client.status, Status::Error { .. }));
    // Give a late second recording the chance to show up: there must be none.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let points = metrics.histogram("rpc.server.call.duration");
    assert_eq!(points.len(), 1, "{points:#?}");
    assert_eq!(points[0].count, 1);
    assert_eq!(
        points[0]
            .attributes
            .get("rpc.status_code")
            .map(String::as_str),
        code.as_deref()
    );
    let client_points = client_metrics.histogram("rpc.client.call.duration");
    assert_eq!(
        client_points[0]
            .attributes
            .get("error.type")
            .map(String::as_str),
        Some("DEADLINE_EXCEEDED")
    );
    assert_eq!(tracing.spans().len(), 2);

    // A client that leaves the deadline to the server (a bare HTTP/2 client): the server
    // answers DEADLINE_EXCEEDED itself, at the deadline.
    let started = Instant::now();
    let (_, _, reply, grpc_status) = raw_echo(
        vs,
        &[
            ("content-type", "application/grpc"),
            ("grpc-timeout", "300m"),
        ],
        &echo_request("late", 0, 3_000),
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!((reply, grpc_status.as_deref()), (None, Some("4")));
    let spans = tracing.wait_for(3).await;
    let server = server_spans(&spans, "validation.v1.Relay/Echo")
        .into_iter()
        .find(|s| s.span_context.span_id() != server.span_context.span_id())
        .unwrap();
    assert_eq!(
        attr_str(server, "rpc.status_code").as_deref(),
        Some("DEADLINE_EXCEEDED")
    );
    assert!(matches!(server.status, Status::Error { .. }));
    assert!((0.3..2.0).contains(&seconds(server)), "{}", seconds(server));
}

/// 63: a stream the client abandons ends the server's span and metric promptly and once, as
/// `CANCELLED` (not an error: the caller went away before its deadline).
#[tokio::test]
async fn a_cancelled_stream_ends_the_server_span_promptly_once() {
    let tracing = Tracing::new();
    let metrics = Metrics::new();
    let vs = validation_server(&tracing, &metrics).await;
    let mut request = tonic::Request::new(StreamRequest {
        count: 100,
        interval_ms: 100,
        fail_code: 0,
    });
    request.set_timeout(Duration::from_secs(30));
    let mut stream = call_stream(channel(vs).await, origin(vs), request)
        .await
        .unwrap()
        .into_inner();
    for _ in 0..2 {
        stream.message().await.unwrap().unwrap();
    }
    let dropped = Instant::now();
    drop(stream);
    let spans = tracing.wait_for(1).await;
    assert!(dropped.elapsed() < Duration::from_secs(2), "promptly");
    let span = server_spans(&spans, "validation.v1.Relay/Stream")[0];
    assert_eq!(
        attr_str(span, "rpc.status_code").as_deref(),
        Some("CANCELLED")
    );
    assert_eq!(
        span.status,
        Status::Unset,
        "the caller went away: not a server error"
    );
    assert_eq!(attr(span, "error.type"), None);
    assert!(seconds(span) < 2.0, "{}", seconds(span));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(tracing.spans().len(), 1, "once");
    let points = metrics.histogram("rpc.server.call.duration");
    assert_eq!(points.len(), 1);
    assert_eq!(points[0].count, 1);
    assert_eq!(
        points[0]
            .attributes
            .get("rpc.status_code")
            .map(String::as_str),
        Some("CANCELLED")
    );
}

/// 62: a method the relay does not have.
#[tokio::test]
async fn an_unimplemented_method_is_other() {
    let tracing = Tracing::new();
    let metrics = Metrics::new();
    let vs = validation_server(&tracing, &metrics).await;
    let status = call_unary::<_, _, EchoReply>(
        channel(vs).await,
        origin(vs),
        "/validation.v1.Relay/Nope",
        tonic::Request::new(echo_request("x", 0, 0)),
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);
    let span = &tracing.wait_for(1).await[0];
    assert_eq!(span.name, "grpc");
    assert_eq!(attr_str(span, "rpc.method").as_deref(), Some("_OTHER"));
    assert_eq!(
        attr_str(span, "rpc.method_original").as_deref(),
        Some("validation.v1.Relay/Nope")
    );
    let points = metrics.histogram("rpc.server.call.duration");
    assert_eq!(
        points[0].attributes.get("rpc.method").map(String::as_str),
        Some("_OTHER")
    );
    assert!(!points[0].attributes.contains_key("rpc.method_original"));
}

// === any gRPC stack: a bare HTTP/2 client ===

/// One length-prefixed message ("gRPC over HTTP2", Length-Prefixed-Message).
fn framed(message: &impl prost::Message) -> Bytes {
    let body = message.encode_to_vec();
    let mut framed = BytesMut::with_capacity(5 + body.len());
    framed.put_u8(0);
    framed.put_u32(u32::try_from(body.len()).unwrap());
    framed.put_slice(&body);
    framed.freeze()
}

/// Calls `Echo` over a bare h2c connection with exactly `headers` (no `te: trailers` unless
/// given); the response's HTTP status, `content-type`, the reply, and `grpc-status`.
async fn raw_echo(
    addr: SocketAddr,
    headers: &[(&str, &str)],
    message: &EchoRequest,
) -> (u16, String, Option<EchoReply>, Option<String>) {
    let mut request = http::Request::post(format!("http://{addr}{}", relay::ECHO));
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let request = request.body(Full::new(framed(message))).unwrap();
    let response = integration_tests::http2_client()
        .request(request)
        .await
        .unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let head_status = response
        .headers()
        .get("grpc-status")
        .map(|v| v.to_str().unwrap().to_owned());
    let collected = response.into_body().collect().await.unwrap();
    let grpc_status = collected
        .trailers()
        .and_then(|t| t.get("grpc-status"))
        .map(|v| v.to_str().unwrap().to_owned())
        .or(head_status);
    let mut body = collected.to_bytes();
    let reply = (body.len() >= 5).then(|| {
        body.advance(5);
        EchoReply::decode(body).unwrap()
    });
    (status, content_type, reply, grpc_status)
}

/// Nothing may depend on tonic's habits: `application/grpc+proto`, no `te: trailers`.
#[tokio::test]
async fn grpc_plus_proto_without_te_from_a_bare_http2_client() {
    let tracing = Tracing::new();
    let metrics = Metrics::new();
    let vs = validation_server(&tracing, &metrics).await;
    let (status, content_type, reply, grpc_status) = raw_echo(
        vs,
        &[
            ("content-type", "application/grpc+proto"),
            ("traceparent", TRACEPARENT),
        ],
        &echo_request("bare", 0, 0),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        content_type.starts_with("application/grpc"),
        "{content_type}"
    );
    assert_eq!(grpc_status.as_deref(), Some("0"));
    let reply = reply.unwrap();
    assert_eq!(reply.message, "bare");
    assert_eq!(reply.parent_traceparent, TRACEPARENT);
    let span = &tracing.wait_for(1).await[0];
    assert_eq!(span.name, "validation.v1.Relay/Echo");
    assert_eq!(attr_str(span, "rpc.status_code").as_deref(), Some("OK"));

    // The HTTP routes on the same port, over HTTP/2 and HTTP/1.1.
    let response = integration_tests::http2_client()
        .get(format!("http://{vs}/users/7").parse().unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(integration_tests::get(vs, "/fail", &[]).await.0, 500);
    let spans = tracing.wait_for(3).await;
    assert!(
        spans.iter().any(|s| s.name == "GET /users/{id}"),
        "{spans:#?}"
    );
}

/// `grpc-trace-bin`, padded and unpadded ("gRPC over HTTP2": binary metadata "MUST accept
/// padded and un-padded values"), continues the trace below `traceparent`.
#[tokio::test]
async fn grpc_trace_bin_padded_and_unpadded_continues_the_trace() {
    let tracing = Tracing::new();
    let metrics = Metrics::new();
    let vs = validation_server(&tracing, &metrics).await;
    // Version 0; trace id 4bf9…4736; span id 34f067aa0ba902b7; sampled.
    let unpadded = "AABL+S81d7NNpqPOkp0ODkc2ATTwZ6oLqQK3AgE";
    let padded = "AABL+S81d7NNpqPOkp0ODkc2ATTwZ6oLqQK3AgE=";
    for value in [unpadded, padded] {
        let (_, _, reply, grpc_status) = raw_echo(
            vs,
            &[
                ("content-type", "application/grpc"),
                ("te", "trailers"),
                ("grpc-trace-bin", value),
            ],
            &echo_request("bin", 0, 0),
        )
        .await;
        assert_eq!(grpc_status.as_deref(), Some("0"));
        assert_eq!(
            reply.unwrap().parent_traceparent,
            format!("00-{TRACE_ID}-34f067aa0ba902b7-01"),
            "{value}"
        );
    }
    // A valid traceparent wins.
    let (_, _, reply, _) = raw_echo(
        vs,
        &[
            ("content-type", "application/grpc"),
            ("grpc-trace-bin", unpadded),
            (
                "traceparent",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            ),
        ],
        &echo_request("both", 0, 0),
    )
    .await;
    assert_eq!(
        reply.unwrap().parent_traceparent,
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    );
    let spans = tracing.wait_for(3).await;
    let continued = spans
        .iter()
        .filter(|s| s.span_context.trace_id() == TraceId::from_hex(TRACE_ID).unwrap())
        .count();
    assert_eq!(continued, 2);
}

/// 5: `X-Cloud-Trace-Context` in gRPC metadata continues the trace exactly as in HTTP.
#[tokio::test]
async fn x_cloud_trace_context_metadata_continues_the_trace() {
    let tracing = Tracing::new();
    let metrics = Metrics::new();
    let vs = validation_server(&tracing, &metrics).await;
    let reply = echo(
        vs,
        with_metadata(
            echo_request("xctc", 0, 0),
            &[(
                "x-cloud-trace-context",
                "105445aa7843bc8bf206b12000100000/18374686479671623803;o=1",
            )],
        ),
    )
    .await
    .unwrap();
    assert_eq!(
        reply.parent_traceparent,
        "00-105445aa7843bc8bf206b12000100000-ff0000000000007b-01"
    );
    // The same header on the HTTP side of the same server.
    let (status, _) = integration_tests::get(
        vs,
        "/",
        &[(
            "x-cloud-trace-context",
            "105445aa7843bc8bf206b12000100000/18374686479671623803;o=1",
        )],
    )
    .await;
    assert_eq!(status, 200);
    let spans = tracing.wait_for(2).await;
    let grpc = server_spans(&spans, "validation.v1.Relay/Echo")[0];
    let http = server_spans(&spans, "GET /")[0];
    for span in [grpc, http] {
        assert_eq!(
            span.span_context.trace_id(),
            TraceId::from_hex("105445aa7843bc8bf206b12000100000").unwrap(),
            "{}",
            span.name
        );
        assert_eq!(span.parent_span_id, SpanId::from(0xff00_0000_0000_007b));
        assert!(span.span_context.is_sampled());
    }
    assert_eq!(
        grpc.span_context.trace_flags(),
        http.span_context.trace_flags(),
        "exactly as in HTTP"
    );
}

/// Calls `path` as a gRPC-Web client would (hand-framed, "gRPC Web",
/// `grpc/grpc:doc/PROTOCOL-WEB.md`) over HTTP/1.1 or HTTP/2; the HTTP status, the replies, and
/// the `grpc-status` from the body's trailer frame (else the head).
async fn grpc_web_call(
    addr: SocketAddr,
    http2: bool,
    content_type: &str,
    path: &str,
    message: &impl prost::Message,
) -> (u16, Vec<EchoReply>, Option<String>) {
    use base64::Engine as _;
    let text = content_type.starts_with("application/grpc-web-text");
    let mut body = framed(message);
    if text {
        body = base64::engine::general_purpose::STANDARD
            .encode(&body)
            .into();
    }
    let request = http::Request::post(format!("http://{addr}{path}"))
        .header("content-type", content_type)
        .header("accept", content_type)
        .header("traceparent", TRACEPARENT)
        .body(Full::new(body))
        .unwrap();
    let client = if http2 {
        integration_tests::http2_client()
    } else {
        integration_tests::http1_client()
    };
    let response = client.request(request).await.unwrap();
    let status = response.status().as_u16();
    let head_status = response
        .headers()
        .get("grpc-status")
        .map(|v| v.to_str().unwrap().to_owned());
    let raw = response.into_body().collect().await.unwrap().to_bytes();
    let mut body: Bytes = if text {
        raw.chunks(4)
            .flat_map(|g| base64::engine::general_purpose::STANDARD.decode(g).unwrap())
            .collect::<Vec<u8>>()
            .into()
    } else {
        raw
    };
    let (mut replies, mut trailer_status) = (Vec::new(), None);
    while body.len() >= 5 {
        let flag = body.get_u8();
        let len = body.get_u32() as usize;
        let payload = body.split_to(len);
        if flag & 0x80 == 0 {
            replies.push(EchoReply::decode(payload).unwrap());
        } else {
            trailer_status = String::from_utf8_lossy(&payload)
                .split("\r\n")
                .find_map(|l| l.strip_prefix("grpc-status:"))
                .map(|s| s.trim().to_owned());
        }
    }
    (status, replies, trailer_status.or(head_status))
}

/// `validation.v1.Relay` over gRPC-Web on the same port: HTTP/1.1 and HTTP/2, binary and
/// `-text`. The server span and `rpc.server.call.duration` carry the status exactly as for
/// native gRPC: from the head (a failing `Echo`, Trailers-Only) and from the body's trailer
/// frame (`Stream`); `INTERNAL` is an error on both.
#[tokio::test]
async fn grpc_web_on_the_same_port() {
    let tracing = Tracing::new();
    let metrics = Metrics::new();
    let vs = validation_server(&tracing, &metrics).await;
    let mut calls = 0;
    for http2 in [false, true] {
        for content_type in [
            "application/grpc-web",
            "application/grpc-web+proto",
            "application/grpc-web-text",
            "application/grpc-web-text+proto",
        ] {
            let why = format!("http2={http2} {content_type}");
            let (status, replies, code) = grpc_web_call(
                vs,
                http2,
                content_type,
                relay::ECHO,
                &echo_request("hi", 0, 0),
            )
            .await;
            assert_eq!((status, code.as_deref()), (200, Some("0")), "{why}");
            assert_eq!(replies[0].message, "hi", "{why}");
            assert_eq!(
                replies[0].parent_traceparent, TRACEPARENT,
                "{why}: the trace continues"
            );
            let (_, _, code) = grpc_web_call(
                vs,
                http2,
                content_type,
                relay::ECHO,
                &echo_request("x", 13, 0),
            )
            .await;
            assert_eq!(code.as_deref(), Some("13"), "{why}");
            let stream = StreamRequest {
                count: 2,
                interval_ms: 10,
                fail_code: 13,
            };
            let (_, replies, code) =
                grpc_web_call(vs, http2, content_type, relay::STREAM, &stream).await;
            assert_eq!(replies.len(), 2, "{why}");
            assert_eq!(code.as_deref(), Some("13"), "{why}: in the trailer frame");
            calls += 3;
        }
    }
    let spans = tracing.wait_for(calls).await;
    for (name, n) in [
        ("validation.v1.Relay/Echo", 16),
        ("validation.v1.Relay/Stream", 8),
    ] {
        let spans = server_spans(&spans, name);
        assert_eq!(spans.len(), n, "{name}");
        for span in spans {
            assert_eq!(
                span.span_context.trace_id(),
                TraceId::from_hex(TRACE_ID).unwrap()
            );
            assert_eq!(attr_str(span, "rpc.system.name").as_deref(), Some("grpc"));
            let code = attr_str(span, "rpc.status_code");
            match code.as_deref() {
                Some("OK") => assert_eq!(attr(span, "error.type"), None),
                Some("INTERNAL") => {
                    assert_eq!(attr_str(span, "error.type").as_deref(), Some("INTERNAL"));
                    assert!(matches!(span.status, Status::Error { .. }));
                }
                other => panic!("{name}: {other:?}"),
            }
        }
    }
    let points = metrics.histogram("rpc.server.call.duration");
    let base = [("rpc.system.name", "grpc")];
    let with = |extra: &[(&'static str, &'static str)]| -> Vec<(&'static str, &'static str)> {
        base.iter().chain(extra).copied().collect()
    };
    #[rustfmt::skip]
    let expected = [
        (with(&[("rpc.method", "validation.v1.Relay/Echo"), ("rpc.status_code", "OK")]), 8),
        (with(&[("rpc.method", "validation.v1.Relay/Echo"), ("rpc.status_code", "INTERNAL"), ("error.type", "INTERNAL")]), 8),
        (with(&[("rpc.method", "validation.v1.Relay/Stream"), ("rpc.status_code", "INTERNAL"), ("error.type", "INTERNAL")]), 8),
    ];
    for (labels, count) in expected {
        assert_eq!(point(&points, &labels).count, count, "{labels:?}");
    }
    assert!(
        metrics.histogram("http.server.request.duration").is_empty(),
        "no HTTP request was made"
    );
}
