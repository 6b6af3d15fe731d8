//! Server spans over HTTP on real axum and hyper servers on 127.0.0.1 (semconv "HTTP server
//! span"; W3C Trace Context Level 2).

use std::time::Duration;

use axum::Router;
use axum::extract::Extension;
use axum::routing::{self, any};
use bytes::Bytes;
use http::{HeaderName, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use integration_tests::{
    Tracing, attr, attr_i64, attr_str, get, http1_client, http2_client, serve_axum, serve_hyper,
};
use opentelemetry::trace::{SpanId, SpanKind, Status, TraceContextExt, TraceId};
use opentelemetry::{Context, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower_telemetry_trace::TraceLayer;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID: &str = "00f067aa0ba902b7";
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// The span id current in the handler, as text.
async fn current_span() -> String {
    Context::current()
        .span()
        .span_context()
        .span_id()
        .to_string()
}

fn app(tracing: &Tracing) -> Router {
    Router::new()
        .route("/users/{id}", routing::get(current_span))
        .route(
            "/fail",
            routing::get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "no") }),
        )
        .route(
            "/healthz",
            routing::get(|| async {
                Context::current()
                    .span()
                    .span_context()
                    .trace_id()
                    .to_string()
            }),
        )
        .route(
            "/ext",
            routing::get(|Extension(cx): Extension<Context>| async move {
                cx.span().span_context().span_id().to_string()
            }),
        )
        .route("/any", any(|| async { "any" }))
        .layer(
            TraceLayer::server(tracing.tracer())
                .skip_if(|req| req.uri().path() == "/healthz")
                .with_request_headers([
                    HeaderName::from_static("x-request-id"),
                    http::header::AUTHORIZATION,
                ])
                .with_response_headers([HeaderName::from_static("x-answer")]),
        )
}

#[tokio::test]
async fn axum_route_span_continues_the_callers_trace() {
    let tracing = Tracing::new();
    let addr = serve_axum(app(&tracing)).await;
    let (status, body) = get(
        addr,
        "/users/42?color=blue&sig=secret",
        &[
            ("traceparent", TRACEPARENT),
            ("user-agent", "it/1.0"),
            ("x-request-id", "r-1"),
            ("authorization", "Bearer t"),
        ],
    )
    .await;
    assert_eq!(status, 200);

    let spans = tracing.wait_for(1).await;
    assert_eq!(spans.len(), 1);
    let span = &spans[0];
    assert_eq!(
        span.name, "GET /users/{id}",
        "47: method and route, never the raw path"
    );
    assert_eq!(span.span_kind, SpanKind::Server);
    assert_eq!(
        span.span_context.trace_id(),
        TraceId::from_hex(TRACE_ID).unwrap()
    );
    assert_eq!(span.parent_span_id, SpanId::from_hex(PARENT_ID).unwrap());
    assert!(span.parent_span_is_remote);
    assert_eq!(
        body,
        span.span_context.span_id().to_string(),
        "Context::current() in the handler is the server span"
    );
    assert_eq!(span.status, Status::Unset);

    assert_eq!(
        attr_str(span, "http.request.method").as_deref(),
        Some("GET")
    );
    assert_eq!(attr_str(span, "url.path").as_deref(), Some("/users/42"));
    assert_eq!(
        attr_str(span, "url.query").as_deref(),
        Some("color=blue&sig=REDACTED"),
        "51"
    );
    assert_eq!(attr_str(span, "url.scheme").as_deref(), Some("http"));
    assert_eq!(attr_str(span, "http.route").as_deref(), Some("/users/{id}"));
    assert_eq!(
        attr_str(span, "network.protocol.version").as_deref(),
        Some("1.1")
    );
    assert_eq!(
        attr_str(span, "server.address").as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(attr_i64(span, "server.port"), Some(i64::from(addr.port())));
    assert_eq!(
        attr_str(span, "user_agent.original").as_deref(),
        Some("it/1.0")
    );
    assert_eq!(
        attr_str(span, "client.address").as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(
        attr_str(span, "network.peer.address").as_deref(),
        Some("127.0.0.1")
    );
    assert!(attr_i64(span, "network.peer.port").unwrap() > 0);
    assert_eq!(attr_i64(span, "http.response.status_code"), Some(200));
    assert_eq!(attr(span, "error.type"), None);
    assert_eq!(
        attr(span, "http.request.header.x-request-id"),
        Some(Value::Array(
            vec![opentelemetry::StringValue::from("r-1")].into()
        ))
    );
    assert_eq!(
        attr(span, "http.request.header.authorization"),
        None,
        "never recorded, even when listed"
    );
    assert!(
        span.attributes
            .iter()
            .all(|kv| !kv.value.as_str().contains("Bearer"))
    );
}

#[tokio::test]
async fn status_codes_404_is_not_an_error_500_is() {
    let tracing = Tracing::new();
    let addr = serve_axum(app(&tracing)).await;
    assert_eq!(get(addr, "/nope/123", &[]).await.0, 404);
    assert_eq!(get(addr, "/fail", &[]).await.0, 500);
    let spans = tracing.wait_for(2).await;
    let not_found = spans
        .iter()
        .find(|s| attr_i64(s, "http.response.status_code") == Some(404))
        .unwrap();
    assert_eq!(
        not_found.name, "GET",
        "no route: the method alone, not the path"
    );
    assert_eq!(attr(not_found, "http.route"), None);
    assert_eq!(
        not_found.status,
        Status::Unset,
        "49: 404 is not a server error"
    );
    assert_eq!(attr(not_found, "error.type"), None);
    let failed = spans.iter().find(|s| s.name == "GET /fail").unwrap();
    assert_eq!(failed.status, Status::error(""), "49: 500 is");
    assert_eq!(attr_str(failed, "error.type").as_deref(), Some("500"));
    assert_ne!(
        failed.span_context.trace_id(),
        not_found.span_context.trace_id(),
        "no caller: new traces"
    );
}

#[tokio::test]
async fn unknown_method_is_other() {
    let tracing = Tracing::new();
    let addr = serve_axum(app(&tracing)).await;
    let request = Request::builder()
        .method(Method::from_bytes(b"PURGE").unwrap())
        .uri(format!("http://{addr}/any"))
        .body(Full::default())
        .unwrap();
    assert_eq!(http1_client().request(request).await.unwrap().status(), 200);
    let span = &tracing.wait_for(1).await[0];
    assert_eq!(span.name, "HTTP /any", "47: HTTP for _OTHER");
    assert_eq!(
        attr_str(span, "http.request.method").as_deref(),
        Some("_OTHER")
    );
    assert_eq!(
        attr_str(span, "http.request.method_original").as_deref(),
        Some("PURGE")
    );
}

#[tokio::test]
async fn malformed_traceparent_starts_a_new_trace_and_succeeds() {
    let tracing = Tracing::new();
    let addr = serve_axum(app(&tracing)).await;
    let bad = "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01";
    assert_eq!(get(addr, "/users/1", &[("traceparent", bad)]).await.0, 200);
    let span = &tracing.wait_for(1).await[0];
    assert_ne!(
        span.span_context.trace_id(),
        TraceId::from_hex(TRACE_ID).unwrap()
    );
    assert_eq!(span.parent_span_id, SpanId::INVALID);
}

#[tokio::test]
async fn context_is_in_the_request_extensions() {
    let tracing = Tracing::new();
    let addr = serve_axum(app(&tracing)).await;
    let (_, body) = get(addr, "/ext", &[]).await;
    let span = &tracing.wait_for(1).await[0];
    assert_eq!(body, span.span_context.span_id().to_string());
}

#[tokio::test]
async fn filter_skips_the_span_but_passes_the_context_through() {
    let tracing = Tracing::new();
    let addr = serve_axum(app(&tracing)).await;
    let (status, body) = get(addr, "/healthz", &[("traceparent", TRACEPARENT)]).await;
    assert_eq!(status, 200);
    assert_eq!(
        body, TRACE_ID,
        "the caller's context is current in the handler"
    );
    let (_, body) = get(addr, "/healthz", &[]).await;
    assert_eq!(body, TraceId::INVALID.to_string());
    // A traced request afterwards proves spans do get exported by this server.
    get(addr, "/users/1", &[]).await;
    let spans = tracing.wait_for(1).await;
    assert_eq!(spans.len(), 1, "60: no span for the filtered requests");
    assert_eq!(spans[0].name, "GET /users/{id}");
}

#[tokio::test]
async fn public_endpoint_starts_a_new_trace_with_a_link() {
    let tracing = Tracing::new();
    let router = Router::new()
        .route("/users/{id}", routing::get(current_span))
        .layer(TraceLayer::server(tracing.tracer()).public_endpoint());
    let addr = serve_axum(router).await;
    get(
        addr,
        "/users/1",
        &[
            ("traceparent", TRACEPARENT),
            ("tracestate", "vendor=secret"),
        ],
    )
    .await;
    let span = &tracing.wait_for(1).await[0];
    assert_ne!(
        span.span_context.trace_id(),
        TraceId::from_hex(TRACE_ID).unwrap(),
        "60: a new root"
    );
    assert_eq!(span.parent_span_id, SpanId::INVALID);
    assert_eq!(span.links.len(), 1);
    let link = &span.links[0].span_context;
    assert_eq!(link.trace_id(), TraceId::from_hex(TRACE_ID).unwrap());
    assert_eq!(link.span_id(), SpanId::from_hex(PARENT_ID).unwrap());
    assert_eq!(
        span.span_context.trace_state().header(),
        "",
        "the caller's tracestate is not carried"
    );
}

#[tokio::test]
async fn http2_requests_report_protocol_version_2() {
    let tracing = Tracing::new();
    let addr = serve_axum(app(&tracing)).await;
    let request = Request::get(format!("http://{addr}/users/7"))
        .body(Full::default())
        .unwrap();
    let response = http2_client().request(request).await.unwrap();
    assert_eq!(response.version(), http::Version::HTTP_2);
    response.into_body().collect().await.unwrap();
    let span = &tracing.wait_for(1).await[0];
    assert_eq!(
        attr_str(span, "network.protocol.version").as_deref(),
        Some("2")
    );
    assert_eq!(
        attr_str(span, "server.address").as_deref(),
        Some("127.0.0.1"),
        ":authority"
    );
}

/// A handler streaming chunks as the test releases them.
fn streaming_app(tracing: &Tracing, rx: tokio::sync::mpsc::Receiver<Bytes>) -> Router {
    let rx = std::sync::Arc::new(std::sync::Mutex::new(Some(rx)));
    Router::new()
        .route(
            "/stream",
            routing::get(move || {
                let rx = rx.lock().unwrap().take().expect("one request");
                async move {
                    let stream = ChunkStream(rx);
                    axum::body::Body::from_stream(stream)
                }
            }),
        )
        .route(
            "/sized",
            routing::get(|| async {
                // Exact Content-Length: hyper never polls past the last byte.
                ([("content-length", "11")], "hello world")
            }),
        )
        .layer(TraceLayer::server(tracing.tracer()))
}

struct ChunkStream(tokio::sync::mpsc::Receiver<Bytes>);

impl futures_core::Stream for ChunkStream {
    type Item = Result<Bytes, std::convert::Infallible>;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.0.poll_recv(cx).map(|c| c.map(Ok))
    }
}

#[tokio::test]
async fn streamed_body_span_ends_after_the_last_chunk() {
    let tracing = Tracing::new();
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let addr = serve_axum(streaming_app(&tracing, rx)).await;
    let request = Request::get(format!("http://{addr}/stream"))
        .body(Full::default())
        .unwrap();
    let mut body = http1_client().request(request).await.unwrap().into_body();
    tx.send(Bytes::from_static(b"first")).await.unwrap();
    assert_eq!(
        body.frame().await.unwrap().unwrap().into_data().unwrap(),
        "first"
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        tracing.spans().is_empty(),
        "the head and a chunk are out, the body is not done"
    );
    tx.send(Bytes::from_static(b"last")).await.unwrap();
    assert_eq!(
        body.frame().await.unwrap().unwrap().into_data().unwrap(),
        "last"
    );
    drop(tx);
    while body.frame().await.is_some() {}
    let span = &tracing.wait_for(1).await[0];
    assert_eq!(span.status, Status::Unset);
    let duration = span.end_time.duration_since(span.start_time).unwrap();
    assert!(
        duration >= Duration::from_millis(50),
        "the span covers the whole body: {duration:?}"
    );
}

#[tokio::test]
async fn exact_content_length_ends_the_span() {
    let tracing = Tracing::new();
    let (_tx, rx) = tokio::sync::mpsc::channel(1);
    let addr = serve_axum(streaming_app(&tracing, rx)).await;
    let (status, body) = get(addr, "/sized", &[]).await;
    assert_eq!((status.as_u16(), body.as_str()), (200, "hello world"));
    let span = &tracing.wait_for(1).await[0];
    assert_eq!(span.name, "GET /sized");
    assert_eq!(span.status, Status::Unset, "complete, not cancelled");
    assert_eq!(attr(span, "error.type"), None);
}

#[tokio::test]
async fn client_disconnect_mid_body_ends_the_span_cancelled() {
    let tracing = Tracing::new();
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let addr = serve_axum(streaming_app(&tracing, rx)).await;
    // A raw client that reads the head and the first chunk, then hangs up.
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    socket
        .write_all(b"GET /stream HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    tx.send(Bytes::from_static(b"first")).await.unwrap();
    let mut buf = vec![0; 1024];
    let mut read = 0;
    while !String::from_utf8_lossy(&buf[..read]).contains("first") {
        read += socket.read(&mut buf[read..]).await.unwrap();
    }
    drop(socket);
    // The server notices when it next writes.
    let _ = tx.send(Bytes::from_static(b"more")).await;
    let span = &tracing.wait_for(1).await[0];
    assert_eq!(attr_str(span, "error.type").as_deref(), Some("cancelled"));
    assert!(matches!(span.status, Status::Error { .. }));
    assert_eq!(
        attr_i64(span, "http.response.status_code"),
        Some(200),
        "the head had gone out"
    );
}

#[tokio::test]
async fn bare_hyper_server_with_a_route_function() {
    let tracing = Tracing::new();
    let layer = TraceLayer::server_http(tracing.tracer()).with_route(|req| {
        req.uri()
            .path()
            .starts_with("/items/")
            .then_some(std::borrow::Cow::Borrowed("/items/{id}"))
    });
    let svc = tower::ServiceBuilder::new().layer(layer).service_fn(
        |req: Request<hyper::body::Incoming>| async move {
            let id = Context::current().span().span_context().span_id();
            let status = if req.uri().path() == "/items/boom" {
                503
            } else {
                200
            };
            let response = http::Response::builder()
                .status(status)
                .body(Full::new(Bytes::from(id.to_string())))
                .unwrap();
            Ok::<_, std::convert::Infallible>(response)
        },
    );
    let addr = serve_hyper(svc).await;
    let (_, body) = get(addr, "/items/9", &[("traceparent", TRACEPARENT)]).await;
    assert_eq!(get(addr, "/items/boom", &[]).await.0, 503);
    let spans = tracing.wait_for(2).await;
    let ok = spans
        .iter()
        .find(|s| attr_i64(s, "http.response.status_code") == Some(200))
        .unwrap();
    assert_eq!(ok.name, "GET /items/{id}");
    assert_eq!(body, ok.span_context.span_id().to_string());
    assert_eq!(ok.parent_span_id, SpanId::from_hex(PARENT_ID).unwrap());
    assert_eq!(
        attr_str(ok, "network.peer.address").as_deref(),
        Some("127.0.0.1"),
        "PeerAddr extension"
    );
    let failed = spans
        .iter()
        .find(|s| attr_i64(s, "http.response.status_code") == Some(503))
        .unwrap();
    assert_eq!(attr_str(failed, "error.type").as_deref(), Some("503"));
}

#[tokio::test]
async fn not_sampled_requests_build_no_attributes_but_propagate() {
    let tracing = Tracing::new();
    let addr = serve_axum(app(&tracing)).await;
    let unsampled = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02";
    let (_, body) = get(addr, "/users/1", &[("traceparent", unsampled)]).await;
    assert!(
        tracing.spans().is_empty(),
        "the caller did not sample: nothing exported"
    );
    assert_ne!(
        body,
        SpanId::INVALID.to_string(),
        "the handler still has a span id to propagate"
    );
    assert_ne!(body, PARENT_ID, "its own, not the caller's");
}

#[tokio::test]
async fn handler_panic_below_the_layer_is_recorded() {
    let tracing = Tracing::new();
    let router = Router::new()
        .route(
            "/panic",
            routing::get(|| async { Some("unreachable").filter(|_| false).expect("handler bug") }),
        )
        .layer(TraceLayer::server(tracing.tracer()))
        // Outside the trace layer: the panic unwinds through it, then becomes a 500.
        .layer(tower_http::catch_panic::CatchPanicLayer::new());
    let addr = serve_axum(router).await;
    assert_eq!(get(addr, "/panic", &[]).await.0, 500);
    let span = &tracing.wait_for(1).await[0];
    assert_eq!(span.name, "GET /panic");
    assert_eq!(attr_str(span, "error.type").as_deref(), Some("panic"));
    assert!(matches!(span.status, Status::Error { .. }));
}

#[tokio::test]
async fn cloud_trace_context_through_the_layer() {
    let tracing = Tracing::new();
    let router = Router::new()
        .route("/users/{id}", routing::get(current_span))
        .layer(
            TraceLayer::server(tracing.tracer())
                .with_propagator(tower_telemetry_propagation::Propagator::cloud_trace_one_way()),
        );
    let addr = serve_axum(router).await;
    let xctc = "105445aa7843bc8bf206b12000100000/18374686479671623803;o=1";
    get(addr, "/users/1", &[("x-cloud-trace-context", xctc)]).await;
    // Both headers: a valid traceparent wins.
    get(
        addr,
        "/users/2",
        &[
            ("x-cloud-trace-context", xctc),
            ("traceparent", TRACEPARENT),
        ],
    )
    .await;
    let spans = tracing.wait_for(2).await;
    let gcp = spans
        .iter()
        .find(|s| attr_str(s, "url.path").as_deref() == Some("/users/1"))
        .unwrap();
    assert_eq!(
        gcp.span_context.trace_id(),
        TraceId::from_hex("105445aa7843bc8bf206b12000100000").unwrap()
    );
    assert_eq!(gcp.parent_span_id, SpanId::from(18374686479671623803u64));
    let w3c = spans
        .iter()
        .find(|s| attr_str(s, "url.path").as_deref() == Some("/users/2"))
        .unwrap();
    assert_eq!(
        w3c.span_context.trace_id(),
        TraceId::from_hex(TRACE_ID).unwrap()
    );
}

#[tokio::test]
async fn dropped_span_keeps_the_callers_random_flag() {
    let tracing = Tracing::new();
    let router = Router::new()
        .route(
            "/flags",
            routing::get(|| async {
                format!(
                    "{:02x}",
                    Context::current()
                        .span()
                        .span_context()
                        .trace_flags()
                        .to_u8()
                )
            }),
        )
        .layer(TraceLayer::server(tracing.tracer()));
    let addr = serve_axum(router).await;
    // random, not sampled: the parent-based sampler drops the span; the SDK would give it
    // flags 00, but the W3C says the random flag stays with the trace id (W3C Trace Context Level 2 §3.2.2.5).
    let random = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02";
    assert_eq!(
        get(addr, "/flags", &[("traceparent", random)]).await.1,
        "02"
    );
    let plain = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
    assert_eq!(
        get(addr, "/flags", &[("traceparent", plain)]).await.1,
        "00",
        "22: never added"
    );
    assert_eq!(
        get(
            addr,
            "/flags",
            &[(
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03"
            )]
        )
        .await
        .1,
        "03"
    );
    assert!(
        tracing.spans().len() == 1,
        "only the sampled request is exported"
    );
}

/// A sampler that drops health checks by their `url.path` and remembers, per span kind, the
/// attribute keys it was shown.
#[derive(Clone, Debug, Default)]
struct NoHealthChecks {
    seen: std::sync::Arc<std::sync::Mutex<Vec<Shown>>>,
}

/// A span's kind and the attribute keys its sampler was shown.
type Shown = (SpanKind, Vec<String>);

impl opentelemetry_sdk::trace::ShouldSample for NoHealthChecks {
    fn should_sample(
        &self,
        _parent: Option<&Context>,
        _trace_id: TraceId,
        _name: &str,
        kind: &SpanKind,
        attributes: &[opentelemetry::KeyValue],
        _links: &[opentelemetry::trace::Link],
    ) -> opentelemetry_sdk::trace::SamplingResult {
        use opentelemetry::trace::TraceState;
        use opentelemetry_sdk::trace::{SamplingDecision, SamplingResult};
        let keys = attributes.iter().map(|kv| kv.key.to_string()).collect();
        self.seen.lock().unwrap().push((kind.clone(), keys));
        let health = attributes
            .iter()
            .any(|kv| kv.key.as_str() == "url.path" && kv.value.as_str() == "/healthz");
        SamplingResult {
            decision: if health {
                SamplingDecision::Drop
            } else {
                SamplingDecision::RecordAndSample
            },
            attributes: Vec::new(),
            trace_state: TraceState::NONE,
        }
    }
}

#[tokio::test]
async fn samplers_see_the_request_attributes_at_span_start() {
    // semconv "HTTP server span" (sampling-relevant attributes): the attributes that matter for sampling are given at span start, so a
    // sampler can drop health checks by path, and the client's by `url.full`.
    let sampler = NoHealthChecks::default();
    let tracing = Tracing::with_sampler(sampler.clone());
    let app = Router::new()
        .route("/healthz", routing::get(|| async { "ok" }))
        .route("/users/{id}", routing::get(|| async { "ok" }))
        .layer(TraceLayer::server(tracing.tracer()));
    let addr = serve_axum(app).await;

    let (status, _) = get(addr, "/healthz", &[]).await;
    assert_eq!(status, 200, "a dropped span changes nothing for the caller");
    let (status, _) = get(addr, "/users/7", &[]).await;
    assert_eq!(status, 200);
    let spans = tracing.wait_for(1).await;
    assert_eq!(
        spans.len(),
        1,
        "the health check was not recorded: {spans:#?}"
    );
    assert_eq!(spans[0].name, "GET /users/{id}");
    assert_eq!(attr_str(&spans[0], "url.path").as_deref(), Some("/users/7"));

    let mut client = tower::ServiceBuilder::new()
        .layer(tower_telemetry_trace::ClientTraceLayer::client(
            tracing.tracer(),
        ))
        .service(http1_client());
    let request = Request::get(format!("http://{addr}/users/8"))
        .body(Full::<Bytes>::default())
        .unwrap();
    let response = tower::ServiceExt::oneshot(&mut client, request)
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let _ = response.into_body().collect().await.unwrap();
    tracing.wait_for(3).await;

    let seen = sampler.seen.lock().unwrap().clone();
    let keys = |kind: SpanKind| {
        seen.iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, keys)| keys.clone())
            .collect::<Vec<_>>()
    };
    let servers = keys(SpanKind::Server);
    assert_eq!(servers.len(), 3, "{seen:?}");
    for keys in &servers {
        for key in [
            "http.request.method",
            "url.path",
            "url.scheme",
            "server.address",
        ] {
            assert!(
                keys.iter().any(|k| k == key),
                "server sampler missed {key}: {keys:?}"
            );
        }
    }
    let clients = keys(SpanKind::Client);
    assert_eq!(clients.len(), 1, "{seen:?}");
    for key in [
        "http.request.method",
        "url.full",
        "server.address",
        "server.port",
    ] {
        assert!(
            clients[0].iter().any(|k| k == key),
            "client sampler missed {key}: {clients:?}"
        );
    }
}
