//! Server spans over gRPC on a real tonic server (`Server::builder().layer(...)`) on
//! 127.0.0.1 (semconv: "RPC spans" and "gRPC" pages).

use std::net::SocketAddr;
use std::time::Duration;

use integration_tests::grpc::{EchoServer, channel, say, stream};
use integration_tests::{Metrics, Tracing, attr, attr_i64, attr_str};
use opentelemetry::trace::{SpanId, SpanKind, Status, TraceId};
use tonic::Code;
use tower_telemetry_metrics::WithMetrics;
use tower_telemetry_trace::{RpcConventions, TraceLayer};

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

async fn serve(tracing: &Tracing, conventions: RpcConventions) -> SocketAddr {
    let layer = TraceLayer::server(tracing.tracer()).with_rpc_conventions(conventions);
    integration_tests::serve_echo!(layer).await
}

#[tokio::test]
async fn ok_call_continues_the_trace_with_rpc_attributes() {
    let tracing = Tracing::new();
    let addr = serve(&tracing, RpcConventions::Current).await;
    let reply = say(
        channel(addr).await,
        "hello",
        &[("traceparent", TRACEPARENT)],
    )
    .await
    .unwrap();
    assert_eq!(reply, "hello");
    let span = &tracing.wait_for(1).await[0];
    assert_eq!(span.name, "test.Echo/Say", "54: no leading slash");
    assert_eq!(span.span_kind, SpanKind::Server);
    assert_eq!(
        span.span_context.trace_id(),
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap()
    );
    assert_eq!(
        span.parent_span_id,
        SpanId::from_hex("00f067aa0ba902b7").unwrap()
    );
    assert_eq!(attr_str(span, "rpc.system.name").as_deref(), Some("grpc"));
    assert_eq!(
        attr_str(span, "rpc.method").as_deref(),
        Some("test.Echo/Say"),
        "58: fully qualified"
    );
    assert_eq!(
        attr_str(span, "rpc.status_code").as_deref(),
        Some("OK"),
        "58: a string"
    );
    assert_eq!(
        attr_str(span, "server.address").as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(attr_i64(span, "server.port"), Some(i64::from(addr.port())));
    assert_eq!(span.status, Status::Unset);
    assert_eq!(attr(span, "error.type"), None);
    assert_eq!(
        attr(span, "http.request.method"),
        None,
        "RPC, not HTTP, conventions"
    );
    assert_eq!(
        attr(span, "rpc.system"),
        None,
        "no classic names by default"
    );
}

#[tokio::test]
async fn trailers_only_errors_follow_the_server_table() {
    let tracing = Tracing::new();
    let addr = serve(&tracing, RpcConventions::Current).await;
    #[rustfmt::skip]
    let cases: &[(Code, bool, &str)] = &[
        (Code::NotFound,         false, "55: the caller's mistake"),
        (Code::InvalidArgument,  false, "55"),
        (Code::Cancelled,        false, "55"),
        (Code::Unknown,          true,  "55: a server error"),
        (Code::DeadlineExceeded, true,  "55"),
        (Code::Internal,         true,  "55"),
        (Code::Unavailable,      true,  "55"),
        (Code::DataLoss,         true,  "55"),
    ];
    for (code, _, _) in cases {
        let status = say(channel(addr).await, &format!("fail:{}", *code as i32), &[])
            .await
            .unwrap_err();
        assert_eq!(
            status.code(),
            *code,
            "tonic Status error, sent as Trailers-Only"
        );
    }
    let spans = tracing.wait_for(cases.len()).await;
    for (code, is_error, why) in cases {
        let name = format!("{code:?}");
        let upper = tower_telemetry_trace::conventions::grpc::Code::from_i32(*code as i32).as_str();
        let span = spans
            .iter()
            .find(|s| attr_str(s, "rpc.status_code").as_deref() == Some(upper))
            .unwrap_or_else(|| panic!("no span for {name}"));
        assert_eq!(
            matches!(span.status, Status::Error { .. }),
            *is_error,
            "{name}: {why}"
        );
        assert_eq!(
            attr_str(span, "error.type").as_deref(),
            is_error.then_some(upper),
            "{name}"
        );
    }
}

#[tokio::test]
async fn error_in_trailers_ends_the_span_at_the_trailers() {
    let tracing = Tracing::new();
    let addr = serve(&tracing, RpcConventions::Current).await;
    // Three messages, then DATA_LOSS in the trailers.
    let (messages, result) = stream(channel(addr).await, "3:15").await;
    assert_eq!(messages, ["0", "1", "2"]);
    assert_eq!(result.unwrap_err().code(), Code::DataLoss);
    let (messages, result) = stream(channel(addr).await, "2").await;
    assert_eq!(messages.len(), 2);
    assert!(result.is_ok());
    let spans = tracing.wait_for(2).await;
    let failed = spans
        .iter()
        .find(|s| attr_str(s, "rpc.status_code").as_deref() == Some("DATA_LOSS"))
        .unwrap();
    assert_eq!(failed.name, "test.Echo/Stream");
    assert!(
        matches!(failed.status, Status::Error { .. }),
        "57/59: read from the trailers"
    );
    assert_eq!(attr_str(failed, "error.type").as_deref(), Some("DATA_LOSS"));
    let ok = spans
        .iter()
        .find(|s| attr_str(s, "rpc.status_code").as_deref() == Some("OK"))
        .unwrap();
    assert_eq!(ok.status, Status::Unset);
}

/// Calls `path` on `addr` with an empty message; the status.
async fn call_path(addr: SocketAddr, path: &'static str) -> tonic::Status {
    let mut grpc = tonic::client::Grpc::new(channel(addr).await);
    grpc.ready().await.unwrap();
    grpc.unary(
        tonic::Request::new(bytes::Bytes::new()),
        http::uri::PathAndQuery::from_static(path),
        integration_tests::grpc::BytesCodec,
    )
    .await
    .unwrap_err()
}

/// 62: a method the server does not implement is `_OTHER`, the span is named
/// `{rpc.system.name}`, and the method as called is on the span only ("RPC spans" page,
/// Name, and `rpc.method`, semconv 1.45.0).
#[tokio::test]
async fn unknown_method_is_other_and_named_grpc() {
    let tracing = Tracing::new();
    let metrics = Metrics::new();
    let layer = TraceLayer::server(tracing.tracer()).with_metrics(&metrics.meter());
    let addr = integration_tests::serve_echo!(layer).await;
    assert_eq!(
        call_path(addr, "/test.Echo/Nope").await.code(),
        Code::Unimplemented
    );
    assert_eq!(
        call_path(addr, "/no.Such/Service").await.code(),
        Code::Unimplemented
    );
    let spans = tracing.wait_for(2).await;
    for (span, original) in spans.iter().zip(["test.Echo/Nope", "no.Such/Service"]) {
        assert_eq!(span.name, "grpc", "{original}: named {{rpc.system.name}}");
        assert_eq!(attr_str(span, "rpc.method").as_deref(), Some("_OTHER"));
        assert_eq!(
            attr_str(span, "rpc.method_original").as_deref(),
            Some(original)
        );
        assert_eq!(
            attr_str(span, "rpc.status_code").as_deref(),
            Some("UNIMPLEMENTED")
        );
        assert_eq!(
            attr_str(span, "error.type").as_deref(),
            Some("UNIMPLEMENTED")
        );
        assert!(
            matches!(span.status, Status::Error { .. }),
            "a server error"
        );
        assert_eq!(
            span.attributes
                .iter()
                .filter(|kv| kv.key.as_str() == "rpc.method")
                .count(),
            1,
            "one rpc.method, never two values"
        );
    }
    let points = metrics.histogram("rpc.server.call.duration");
    assert_eq!(
        points.len(),
        1,
        "one series for every unimplemented method: {points:#?}"
    );
    let point = &points[0];
    assert_eq!(point.count, 2);
    assert_eq!(
        point.attributes,
        [
            ("error.type", "UNIMPLEMENTED"),
            ("rpc.method", "_OTHER"),
            ("rpc.status_code", "UNIMPLEMENTED"),
            ("rpc.system.name", "grpc"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect(),
        "no raw method, no rpc.method_original on metrics"
    );
}

/// A method that is implemented keeps its name and gets `rpc.method` once, at the end.
#[tokio::test]
async fn implemented_method_is_named_once() {
    let tracing = Tracing::new();
    let addr = serve(&tracing, RpcConventions::Current).await;
    say(channel(addr).await, "hi", &[]).await.unwrap();
    let span = &tracing.wait_for(1).await[0];
    assert_eq!(span.name, "test.Echo/Say");
    assert_eq!(attr(span, "rpc.method_original"), None);
    assert_eq!(
        span.attributes
            .iter()
            .filter(|kv| kv.key.as_str() == "rpc.method")
            .count(),
        1
    );
}

#[tokio::test]
async fn classic_conventions_behind_the_switch() {
    let tracing = Tracing::new();
    let addr = serve(&tracing, RpcConventions::Classic).await;
    say(channel(addr).await, "hi", &[]).await.unwrap();
    say(channel(addr).await, "fail:4", &[]).await.unwrap_err();
    let spans = tracing.wait_for(2).await;
    let ok = spans
        .iter()
        .find(|s| attr_i64(s, "rpc.grpc.status_code") == Some(0))
        .unwrap();
    assert_eq!(attr_str(ok, "rpc.system").as_deref(), Some("grpc"));
    assert_eq!(
        attr_str(ok, "rpc.service").as_deref(),
        Some("test.Echo"),
        "58: split"
    );
    assert_eq!(attr_str(ok, "rpc.method").as_deref(), Some("Say"));
    assert_eq!(attr(ok, "rpc.system.name"), None);
    assert_eq!(attr(ok, "rpc.status_code"), None);
    let failed = spans
        .iter()
        .find(|s| attr_i64(s, "rpc.grpc.status_code") == Some(4))
        .unwrap();
    assert!(matches!(failed.status, Status::Error { .. }));
}

/// Compile-time checks of the bounds tonic and axum put on layers and their services.
#[allow(dead_code)]
fn bounds() {
    fn assert_send_sync_clone<T: Send + Sync + Clone + 'static>(_: &T) {}
    let layer = TraceLayer::server_from_global();
    assert_send_sync_clone(&layer);
    let _tonic = tonic::transport::Server::builder()
        .layer(layer.clone())
        .add_service(EchoServer);
    let _axum: axum::Router = axum::Router::new()
        .route("/", axum::routing::get(|| async { "" }))
        .layer(layer.skip_if(|_| false));
}

/// `RpcConventions::Both` (`rpc/dup`): both generations' attributes, each key once;
/// `rpc.method` holds the current, fully qualified value.
#[tokio::test]
async fn both_conventions_on_one_span() {
    let tracing = Tracing::new();
    let addr = serve(&tracing, RpcConventions::Both).await;
    say(channel(addr).await, "fail:5", &[]).await.unwrap_err();
    let span = &tracing.wait_for(1).await[0];
    assert_eq!(span.name, "test.Echo/Say");
    assert_eq!(attr_str(span, "rpc.system").as_deref(), Some("grpc"));
    assert_eq!(attr_str(span, "rpc.system.name").as_deref(), Some("grpc"));
    assert_eq!(attr_str(span, "rpc.service").as_deref(), Some("test.Echo"));
    assert_eq!(
        attr_str(span, "rpc.method").as_deref(),
        Some("test.Echo/Say")
    );
    assert_eq!(attr_i64(span, "rpc.grpc.status_code"), Some(5));
    assert_eq!(
        attr_str(span, "rpc.status_code").as_deref(),
        Some("NOT_FOUND")
    );
    assert_eq!(
        span.status,
        Status::Unset,
        "NOT_FOUND is not a server error"
    );
    let mut keys: Vec<&str> = span.attributes.iter().map(|kv| kv.key.as_str()).collect();
    let all = keys.len();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), all, "no key twice: {keys:?}");
}

/// `Say` on a plain tonic server, with the client's deadline `timeout` (tonic's channel
/// enforces it too).
async fn say_within(addr: SocketAddr, message: &str, timeout: Duration) -> tonic::Status {
    let mut grpc = tonic::client::Grpc::new(channel(addr).await);
    grpc.ready().await.unwrap();
    let mut request = tonic::Request::new(bytes::Bytes::from(message.to_owned()));
    request.set_timeout(timeout);
    grpc.unary(
        request,
        http::uri::PathAndQuery::from_static("/test.Echo/Say"),
        integration_tests::grpc::BytesCodec,
    )
    .await
    .unwrap_err()
}

/// `Say` with `grpc-timeout: {timeout}` from a bare HTTP/2 client that does not enforce it:
/// only the server acts on the deadline. The `grpc-status` and `grpc-message` it answers.
async fn say_with_grpc_timeout(addr: SocketAddr, message: &str, timeout: &str) -> (String, String) {
    use http_body_util::BodyExt;
    let mut body = vec![0];
    body.extend(u32::try_from(message.len()).unwrap().to_be_bytes());
    body.extend(message.as_bytes());
    let request = http::Request::post(format!("http://{addr}/test.Echo/Say"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("grpc-timeout", timeout)
        .body(http_body_util::Full::new(bytes::Bytes::from(body)))
        .unwrap();
    let response = integration_tests::http2_client()
        .request(request)
        .await
        .unwrap();
    let head = response.headers().clone();
    let collected = response.into_body().collect().await.unwrap();
    let all = collected.trailers().cloned().unwrap_or(head);
    let get = |k: &str| {
        all.get(k)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    (get("grpc-status"), get("grpc-message"))
}

async fn fused_echo_server(tracing: &Tracing, metrics: &Metrics) -> SocketAddr {
    let layer = TraceLayer::server(tracing.tracer()).with_metrics(&metrics.meter());
    integration_tests::serve_echo!(layer).await
}

/// What a tonic server does when a call's `grpc-timeout` elapses: its own timer (outside the
/// layers added with `Server::builder().layer`) drops the service's future and answers
/// `CANCELLED` ("Timeout expired"). The layer sees only the drop, at the deadline, and
/// records `DEADLINE_EXCEEDED` (63): promptly, once, an error.
#[tokio::test]
async fn a_tonic_server_drops_the_call_when_its_grpc_timeout_elapses() {
    let tracing = Tracing::new();
    let metrics = Metrics::new();
    let addr = fused_echo_server(&tracing, &metrics).await;
    let started = std::time::Instant::now();
    let (status, message) = say_with_grpc_timeout(addr, "sleep:3000", "200m").await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(
        (status.as_str(), message.as_str()),
        ("1", "Timeout%20expired"),
        "tonic answers CANCELLED itself"
    );
    let span = &tracing.wait_for(1).await[0];
    assert_eq!(
        attr_str(span, "rpc.status_code").as_deref(),
        Some("DEADLINE_EXCEEDED")
    );
    assert_eq!(
        attr_str(span, "error.type").as_deref(),
        Some("DEADLINE_EXCEEDED")
    );
    assert_eq!(
        span.status,
        Status::error("the call's deadline (grpc-timeout) passed before it ended")
    );
    let took = span.end_time.duration_since(span.start_time).unwrap();
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_secs(2),
        "{took:?}"
    );
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
        Some("DEADLINE_EXCEEDED")
    );
}

/// A tonic client enforces its deadline too and resets the stream: the server's span ends
/// then, once, as `DEADLINE_EXCEEDED` (or `CANCELLED` when the reset outruns the server's
/// clock by more than `DEADLINE_SLACK`, as on a loaded machine), never OK; a call cancelled
/// well before its deadline is `CANCELLED`, not an error.
#[tokio::test]
async fn a_clients_deadline_or_cancel_ends_the_server_span_once() {
    let tracing = Tracing::new();
    let metrics = Metrics::new();
    let addr = fused_echo_server(&tracing, &metrics).await;
    let status = say_within(addr, "sleep:3000", Duration::from_millis(200)).await;
    assert_eq!(
        status.code(),
        Code::Cancelled,
        "tonic's channel: {status:?}"
    );
    let span = &tracing.wait_for(1).await[0];
    let code = attr_str(span, "rpc.status_code");
    assert!(
        matches!(code.as_deref(), Some("DEADLINE_EXCEEDED" | "CANCELLED")),
        "{code:?}"
    );
    let took = span.end_time.duration_since(span.start_time).unwrap();
    assert!(took < Duration::from_secs(2), "promptly: {took:?}");

    let call = say_within(addr, "sleep:3000", Duration::from_secs(20));
    assert!(
        tokio::time::timeout(Duration::from_millis(150), call)
            .await
            .is_err()
    );
    let spans = tracing.wait_for(2).await;
    let cancelled = spans
        .iter()
        .find(|s| s.span_context.span_id() != span.span_context.span_id())
        .unwrap();
    assert_eq!(
        attr_str(cancelled, "rpc.status_code").as_deref(),
        Some("CANCELLED")
    );
    assert_eq!(cancelled.status, Status::Unset);
    assert_eq!(attr(cancelled, "error.type"), None);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(tracing.spans().len(), 2, "once each");
    let count: u64 = metrics
        .histogram("rpc.server.call.duration")
        .iter()
        .map(|p| p.count)
        .sum();
    assert_eq!(count, 2);
}

/// tonic's routes behind the server layer, served by `tower_telemetry::serve` over HTTP/2: on
/// the shutdown signal a call in flight completes (HTTP/2 GOAWAY lets open streams finish) and
/// its span ends OK; a call slower than the drain deadline is cut, its span ends with the
/// client's cancellation; the server returns at the deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tonic_routes_drain_under_serve() {
    let tracing = Tracing::new();
    let service = tower::ServiceBuilder::new()
        .layer(TraceLayer::server(tracing.tracer()))
        .service(tonic::service::Routes::new(EchoServer));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        tower_telemetry::serve(listener, service)
            .drain_deadline(Duration::from_millis(700))
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            }),
    );
    let channel = channel(addr).await;
    let within = tokio::spawn(say(channel.clone(), "sleep:200", &[]));
    let beyond = tokio::spawn(say(channel.clone(), "sleep:5000", &[]));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stopping = std::time::Instant::now();
    stop.send(()).unwrap();
    let drained = server.await.unwrap();
    let took = stopping.elapsed();
    assert!(
        took >= Duration::from_millis(700) && took < Duration::from_millis(1500),
        "{took:?}"
    );
    assert_eq!(
        drained.connections_cut, 1,
        "the connection with the slow call"
    );
    assert_eq!(within.await.unwrap().unwrap(), "sleep:200");
    let cut = beyond.await.unwrap().unwrap_err();
    assert_ne!(cut.code(), Code::Ok);
    let spans = tracing.wait_for(2).await;
    let status = |s: &opentelemetry_sdk::trace::SpanData| attr_str(s, "rpc.status_code");
    let mut codes: Vec<_> = spans
        .iter()
        .map(|s| (status(s), s.status.clone()))
        .collect();
    codes.sort_by_key(|(code, _)| code.clone());
    // CANCELLED is not a server error in the RPC conventions (the status stays unset).
    assert_eq!(
        codes,
        [
            (Some("CANCELLED".to_owned()), Status::Unset),
            (Some("OK".to_owned()), Status::Unset)
        ]
    );
}
