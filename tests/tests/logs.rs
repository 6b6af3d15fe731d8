//! Logs that join the trace (the trace crate's `tracing` and `tracing-subscriber` features), on
//! real servers and clients on 127.0.0.1: the lines a handler writes, the lines written inside
//! a client call and the lines written while a response body streams carry the ids of the
//! exported spans; the Google Cloud Logging format's fields exactly ("Structured logging",
//! "Special JSON fields in messages"); `tracing-opentelemetry` parent links both ways; and
//! tower-http's `TraceLayer` kept for request logs without a second request span.
//!
//! Each test installs its subscriber for its own thread (`set_default`) and runs on a
//! current-thread runtime, so servers, clients and the test share it.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use bytes::Bytes;
use http::{Request, Response};
use http_body::Frame;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use integration_tests::grpc::{channel, say};
use integration_tests::{LogCapture, Tracing, get as http_get, http1_client, serve_axum};
use opentelemetry::trace::SpanKind;
use opentelemetry_sdk::trace::SpanData;
use serde_json::Value;
use tower::util::BoxCloneSyncService;
use tower::{BoxError, ServiceBuilder, ServiceExt};
use tower_telemetry_trace::lifecycle::ResponseBody;
use tower_telemetry_trace::logs::{self, CloudLogging, SkipRequestSpans};
use tower_telemetry_trace::{ClientRecord, ClientTraceLayer, TraceLayer};
use tracing::{Instrument, Level};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::prelude::*;

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN_ID: &str = "00f067aa0ba902b7";

/// This test's events and the request spans; not hyper's or axum's own.
fn ours() -> Targets {
    Targets::new()
        .with_target("logs", Level::TRACE)
        .with_target(logs::TARGET, Level::TRACE)
}

/// Logs as `tracing_subscriber::fmt().json()` writes them, into `logs`.
fn json_logs(logs: &LogCapture) -> impl tracing::Subscriber + Send + Sync {
    tracing_subscriber::registry().with(
        tracing_subscriber::fmt::layer()
            .json()
            .with_writer(logs.clone())
            .with_filter(ours()),
    )
}

/// The line whose message is `message`.
fn line<'a>(lines: &'a [Value], message: &str) -> &'a Value {
    lines
        .iter()
        .find(|l| l["fields"]["message"] == message)
        .unwrap_or_else(|| panic!("no line {message:?} in {lines:#?}"))
}

/// The innermost span named `name` in a `fmt().json()` line's `spans`.
fn span_in<'a>(line: &'a Value, name: &str) -> Option<&'a Value> {
    line["spans"]
        .as_array()?
        .iter()
        .rev()
        .find(|s| s["name"] == name)
}

fn hex_span_id(span: &SpanData) -> String {
    span.span_context.span_id().to_string()
}

fn hex_trace_id(span: &SpanData) -> String {
    span.span_context.trace_id().to_string()
}

fn only<'a>(spans: &'a [SpanData], kind: &SpanKind) -> &'a SpanData {
    let mut of_kind = spans.iter().filter(|s| &s.span_kind == kind);
    let span = of_kind
        .next()
        .unwrap_or_else(|| panic!("no {kind:?} span: {spans:#?}"));
    assert!(of_kind.next().is_none(), "one {kind:?} span: {spans:#?}");
    span
}

/// A response body that writes a log line each time it is polled for a chunk.
struct LoggingBody {
    left: u8,
}

impl http_body::Body for LoggingBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        self.left -= 1;
        tracing::info!(left = self.left, "streaming a chunk");
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"chunk ")))))
    }
}

/// An HTTP client behind the client layer, with a step below the layer that logs (as a
/// transport's own logging would), answering the body as text.
type Client = BoxCloneSyncService<Request<Full<Bytes>>, String, BoxError>;

fn client(tracing: &Tracing) -> Client {
    let client = ServiceBuilder::new()
        .layer(ClientTraceLayer::client(tracing.tracer()))
        .map_request(|request: Request<Full<Bytes>>| {
            tracing::info!("sending the request");
            request
        })
        .service(http1_client())
        .map_err(BoxError::from)
        .and_then(
            |response: Response<ResponseBody<Incoming, ClientRecord>>| async move {
                let body = response.into_body().collect().await?.to_bytes();
                Ok::<_, BoxError>(String::from_utf8_lossy(&body).into_owned())
            },
        );
    BoxCloneSyncService::new(client)
}

/// A backend with no layers: `/stock` answers `7`.
async fn backend() -> SocketAddr {
    serve_axum(Router::new().route("/stock", get(|| async { "7" }))).await
}

/// `/users/{id}`: logs, calls the backend through the client layer, answers a body that logs
/// while it streams.
async fn frontend(tracing: &Tracing, backend: SocketAddr) -> SocketAddr {
    async fn user(
        State((client, backend)): State<(Client, SocketAddr)>,
    ) -> Response<axum::body::Body> {
        tracing::info!("loading the user");
        let request = Request::get(format!("http://{backend}/stock"))
            .body(Full::default())
            .unwrap();
        let stock = client.oneshot(request).await.unwrap();
        tracing::info!(%stock, "got the stock");
        Response::new(axum::body::Body::new(LoggingBody { left: 3 }))
    }
    let app = Router::new()
        .route("/users/{id}", get(user))
        .with_state((client(tracing), backend))
        .layer(TraceLayer::server(tracing.tracer()));
    serve_axum(app).await
}

#[tokio::test]
async fn handler_client_and_streamed_body_lines_carry_the_exported_spans_ids() {
    let tracing = Tracing::new();
    let logs = LogCapture::new();
    let _subscriber = tracing::subscriber::set_default(json_logs(&logs));
    let addr = frontend(&tracing, backend().await).await;

    let (status, body) = http_get(addr, "/users/42", &[("traceparent", TRACEPARENT)]).await;
    assert_eq!(
        (status.as_u16(), body.as_str()),
        (200, "chunk chunk chunk ")
    );

    let spans = tracing.wait_for(2).await;
    let server = only(&spans, &SpanKind::Server);
    let client = only(&spans, &SpanKind::Client);
    assert_eq!(hex_trace_id(server), TRACE_ID);
    let lines = logs.json();

    // The handler's lines: in the request span, with the server span's ids.
    for message in ["loading the user", "got the stock"] {
        let request = span_in(line(&lines, message), logs::SERVER_SPAN).expect(message);
        assert_eq!(request["trace_id"], TRACE_ID, "{message}");
        assert_eq!(request["span_id"], hex_span_id(server), "{message}");
        assert_eq!(request["trace_sampled"], true, "{message}");
        assert_eq!(request["http.request.method"], "GET");
        assert_eq!(request["http.route"], "/users/{id}");
    }
    assert!(
        span_in(line(&lines, "got the stock"), logs::CLIENT_SPAN).is_none(),
        "the call is over"
    );

    // The client call's line: in the call's span (inside the request's), with the client span's id.
    let sending = line(&lines, "sending the request");
    let call = span_in(sending, logs::CLIENT_SPAN).expect("in the client span");
    assert_eq!(call["trace_id"], TRACE_ID);
    assert_eq!(call["span_id"], hex_span_id(client));
    assert_eq!(call["trace_sampled"], true);
    assert_eq!(call["http.request.method"], "GET");
    assert_eq!(call["server.address"], "127.0.0.1");
    assert_eq!(
        span_in(sending, logs::SERVER_SPAN).unwrap()["span_id"],
        hex_span_id(server),
        "nested in the request's span"
    );

    // The lines written while the body streams, after the handler returned.
    let chunks: Vec<&Value> = lines
        .iter()
        .filter(|l| l["fields"]["message"] == "streaming a chunk")
        .collect();
    assert_eq!(chunks.len(), 3, "{lines:#?}");
    for chunk in chunks {
        let request = span_in(chunk, logs::SERVER_SPAN).expect("in the request span");
        assert_eq!(request["trace_id"], TRACE_ID);
        assert_eq!(request["span_id"], hex_span_id(server));
        assert_eq!(
            request["http.response.status_code"], 200,
            "recorded at the head"
        );
        // Stable field names: exactly the documented ones.
        let mut keys: Vec<&str> = request
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        let mut documented = vec![
            "name",
            logs::fields::TRACE_ID,
            logs::fields::SPAN_ID,
            logs::fields::TRACE_SAMPLED,
            logs::fields::HTTP_REQUEST_METHOD,
            logs::fields::HTTP_ROUTE,
            logs::fields::HTTP_RESPONSE_STATUS_CODE,
        ];
        documented.sort_unstable();
        assert_eq!(keys, documented);
    }
}

#[tokio::test]
async fn text_lines_carry_the_ids_in_front() {
    let tracing = Tracing::new();
    let logs = LogCapture::new();
    let subscriber = tracing_subscriber::registry().with(
        tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(logs.clone())
            .with_filter(ours()),
    );
    let _subscriber = tracing::subscriber::set_default(subscriber);
    let app = Router::new()
        .route(
            "/users/{id}",
            get(|Path(id): Path<u32>| async move {
                tracing::info!(id, "loading the user");
                "ok"
            }),
        )
        .layer(TraceLayer::server(tracing.tracer()));
    let addr = serve_axum(app).await;
    http_get(addr, "/users/42", &[("traceparent", TRACEPARENT)]).await;

    let server = only(&tracing.wait_for(1).await, &SpanKind::Server).clone();
    let lines = logs.lines();
    let line = lines
        .iter()
        .find(|l| l.contains("loading the user"))
        .expect("the handler's line");
    let expected = format!(
        "request{{trace_id={TRACE_ID} span_id={} trace_sampled=true http.request.method=\"GET\" http.route=\"/users/{{id}}\"}}: logs: loading the user id=42",
        hex_span_id(&server)
    );
    assert!(line.ends_with(&expected), "{line}\n{expected}");
}

#[tokio::test]
async fn sampled_out_requests_still_join_their_trace() {
    let tracing = Tracing::new();
    let logs = LogCapture::new();
    let _subscriber = tracing::subscriber::set_default(json_logs(&logs));
    let app = Router::new()
        .route("/", get(|| async { tracing::info!("handling") }))
        .layer(TraceLayer::server(tracing.tracer()));
    let addr = serve_axum(app).await;
    let unsampled = format!("00-{TRACE_ID}-{CALLER_SPAN_ID}-00");
    http_get(addr, "/", &[("traceparent", &unsampled)]).await;

    assert!(tracing.spans().is_empty(), "parent-based: not sampled");
    let lines = logs.json();
    let request = span_in(line(&lines, "handling"), logs::SERVER_SPAN).unwrap();
    assert_eq!(request["trace_id"], TRACE_ID);
    assert_eq!(request["trace_sampled"], false);
    let span_id = request["span_id"].as_str().unwrap();
    assert!(
        span_id.len() == 16 && span_id != CALLER_SPAN_ID,
        "its own span id: {span_id}"
    );
}

#[tokio::test]
async fn skipped_requests_log_under_the_callers_ids() {
    let tracing = Tracing::new();
    let logs = LogCapture::new();
    let _subscriber = tracing::subscriber::set_default(json_logs(&logs));
    let app = Router::new()
        .route("/healthz", get(|| async { tracing::info!("health check") }))
        .layer(TraceLayer::server(tracing.tracer()).skip_if(|r| r.uri().path() == "/healthz"));
    let addr = serve_axum(app).await;
    http_get(addr, "/healthz", &[("traceparent", TRACEPARENT)]).await;
    http_get(addr, "/healthz", &[]).await;

    assert!(tracing.spans().is_empty(), "skipped: no span");
    let lines = logs.json();
    let checks: Vec<&Value> = lines
        .iter()
        .filter(|l| l["fields"]["message"] == "health check")
        .collect();
    assert_eq!(checks.len(), 2);
    let request = span_in(checks[0], logs::SERVER_SPAN).expect("a caller's context: a span");
    assert_eq!(request["trace_id"], TRACE_ID);
    assert_eq!(
        request["span_id"], CALLER_SPAN_ID,
        "no span of ours: the caller's"
    );
    assert_eq!(request["http.route"], "/healthz");
    assert!(
        span_in(checks[1], logs::SERVER_SPAN).is_none(),
        "no trace to join: no span"
    );
}

#[tokio::test]
async fn the_level_is_configurable() {
    let tracing = Tracing::new();
    let logs = LogCapture::new();
    let subscriber = tracing_subscriber::registry().with(
        tracing_subscriber::fmt::layer()
            .json()
            .with_writer(logs.clone())
            .with_filter(Targets::new().with_default(Level::INFO)),
    );
    let _subscriber = tracing::subscriber::set_default(subscriber);
    let app = Router::new()
        .route("/info", get(|| async { tracing::info!("at info") }))
        .route("/debug", get(|| async { tracing::info!("at debug") }));
    let info = serve_axum(app.clone().layer(TraceLayer::server(tracing.tracer()))).await;
    let debug = serve_axum(
        app.layer(TraceLayer::server(tracing.tracer()).with_tracing_level(Level::DEBUG)),
    )
    .await;
    http_get(info, "/info", &[]).await;
    http_get(debug, "/debug", &[]).await;

    let lines = logs.json();
    assert!(span_in(line(&lines, "at info"), logs::SERVER_SPAN).is_some());
    assert!(
        span_in(line(&lines, "at debug"), logs::SERVER_SPAN).is_none(),
        "a DEBUG span under an INFO filter is off"
    );
}

#[tokio::test]
async fn grpc_requests_log_their_rpc_method() {
    let tracing = Tracing::new();
    let logs = LogCapture::new();
    let _subscriber = tracing::subscriber::set_default(json_logs(&logs));
    let layer = ServiceBuilder::new()
        .layer(TraceLayer::server(tracing.tracer()))
        .map_request(|request: Request<tonic::body::Body>| {
            tracing::info!("grpc call");
            request
        })
        .into_inner();
    let addr = integration_tests::serve_echo!(layer).await;
    say(
        channel(addr).await,
        "hello",
        &[("traceparent", TRACEPARENT)],
    )
    .await
    .unwrap();

    let server = only(&tracing.wait_for(1).await, &SpanKind::Server).clone();
    let lines = logs.json();
    let request = span_in(line(&lines, "grpc call"), logs::SERVER_SPAN).unwrap();
    assert_eq!(request["trace_id"], TRACE_ID);
    assert_eq!(request["span_id"], hex_span_id(&server));
    assert_eq!(request["rpc.method"], "test.Echo/Say");
    assert!(request.get("http.request.method").is_none(), "{request}");
    assert!(request.get("http.route").is_none(), "{request}");
}

/// A reqwest middleware below ours that logs (as a retry or auth middleware would).
fn log_sending<'a>(
    request: reqwest::Request,
    extensions: &'a mut http::Extensions,
    next: reqwest_middleware::Next<'a>,
) -> Pin<
    Box<
        dyn std::future::Future<Output = reqwest_middleware::Result<reqwest::Response>> + Send + 'a,
    >,
> {
    Box::pin(async move {
        tracing::info!("reqwest sending");
        next.run(request, extensions).await
    })
}

#[tokio::test]
async fn reqwest_call_lines_are_in_the_call_span() {
    use tower_telemetry_trace::TraceMiddleware;

    let tracing = Tracing::new();
    let logs = LogCapture::new();
    let _subscriber = tracing::subscriber::set_default(json_logs(&logs));
    let backend = backend().await;
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(TraceMiddleware::new(tracing.tracer()))
        .with(log_sending)
        .build();
    let stock = client
        .get(format!("http://{backend}/stock"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(stock, "7");

    let call = only(&tracing.wait_for(1).await, &SpanKind::Client).clone();
    let lines = logs.json();
    let span =
        span_in(line(&lines, "reqwest sending"), logs::CLIENT_SPAN).expect("in the call's span");
    assert_eq!(span["trace_id"], hex_trace_id(&call));
    assert_eq!(span["span_id"], hex_span_id(&call));
    assert_eq!(span["http.request.method"], "GET");
}

// === Google Cloud Logging ===

#[tokio::test]
async fn cloud_logging_lines_have_the_special_fields() {
    let tracing = Tracing::new();
    let logs = LogCapture::new();
    let subscriber = tracing_subscriber::registry().with(
        CloudLogging::new("my-project")
            .layer()
            .with_writer(logs.clone())
            .with_filter(ours()),
    );
    let _subscriber = tracing::subscriber::set_default(subscriber);
    let app = Router::new()
        .route(
            "/users/{id}",
            get(|Path(id): Path<u32>| async move {
                tracing::warn!(id, quoted = "a \"b\"\n", "loading the user");
                "ok"
            }),
        )
        .layer(TraceLayer::server(tracing.tracer()));
    let addr = serve_axum(app).await;
    http_get(addr, "/users/42", &[("traceparent", TRACEPARENT)]).await;
    let unsampled = format!("00-{TRACE_ID}-{CALLER_SPAN_ID}-00");
    http_get(addr, "/users/7", &[("traceparent", &unsampled)]).await;
    tracing::info!("outside any request");

    let server = only(&tracing.wait_for(1).await, &SpanKind::Server).clone();
    let lines = logs.json();
    assert_eq!(lines.len(), 3, "{lines:#?}");

    let sampled = &lines[0];
    let keys: std::collections::BTreeSet<&str> = sampled
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "time",
            "severity",
            "message",
            "id",
            "quoted",
            "target",
            "logging.googleapis.com/sourceLocation",
            "logging.googleapis.com/trace",
            "logging.googleapis.com/spanId",
            "logging.googleapis.com/trace_sampled",
            "spans",
        ]
        .into_iter()
        .collect(),
        "{sampled:#}"
    );
    assert_eq!(sampled["severity"], "WARNING");
    assert_eq!(sampled["message"], "loading the user");
    assert_eq!(sampled["id"], 42);
    assert_eq!(sampled["quoted"], "a \"b\"\n");
    assert_eq!(sampled["target"], "logs");
    assert_eq!(
        sampled["logging.googleapis.com/trace"],
        format!("projects/my-project/traces/{TRACE_ID}")
    );
    assert_eq!(
        sampled["logging.googleapis.com/spanId"],
        hex_span_id(&server),
        "the server span's id, 16 hex digits"
    );
    assert_eq!(
        sampled["logging.googleapis.com/trace_sampled"],
        Value::Bool(true)
    );
    let time = sampled["time"].as_str().unwrap();
    assert!(
        time.len() == 27 && &time[10..11] == "T" && time.ends_with('Z'),
        "RFC 3339, UTC: {time}"
    );
    let location = &sampled["logging.googleapis.com/sourceLocation"];
    assert!(location["file"].as_str().unwrap().ends_with("logs.rs"));
    assert!(
        location["line"].as_str().unwrap().parse::<u32>().is_ok(),
        "a string"
    );
    assert_eq!(sampled["spans"][0]["name"], "request");
    assert_eq!(sampled["spans"][0]["http.route"], "/users/{id}");

    let unsampled = &lines[1];
    assert_eq!(
        unsampled["logging.googleapis.com/trace"],
        format!("projects/my-project/traces/{TRACE_ID}")
    );
    assert_eq!(
        unsampled["logging.googleapis.com/trace_sampled"],
        Value::Bool(false)
    );
    let span_id = unsampled["logging.googleapis.com/spanId"].as_str().unwrap();
    assert!(
        span_id.len() == 16
            && span_id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{span_id}"
    );

    let outside = &lines[2];
    assert_eq!(outside["severity"], "INFO");
    assert!(outside.get("logging.googleapis.com/trace").is_none());
    assert!(outside.get("logging.googleapis.com/spanId").is_none());
    assert!(outside.get("spans").is_none());
}

// === tracing-opentelemetry ===

/// JSON logs plus `tracing-opentelemetry` exporting `tracing` spans through `tracing`'s
/// provider, with the recommended filter.
fn with_otel(
    tracing: &Tracing,
    logs: &LogCapture,
    context_activation: bool,
) -> impl tracing::Subscriber + Send + Sync {
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_writer(logs.clone())
                .with_filter(ours()),
        )
        .with(
            tracing_opentelemetry::layer()
                .with_tracer(tracing.tracer())
                .with_context_activation(context_activation)
                .with_filter(SkipRequestSpans),
        )
}

#[tracing::instrument]
async fn load_user(id: u32) -> String {
    tracing::info!("loading");
    format!("user {id}")
}

#[tokio::test]
async fn instrument_spans_in_a_handler_are_children_of_the_server_span() {
    let tracing = Tracing::new();
    let logs = LogCapture::new();
    let _subscriber = tracing::subscriber::set_default(with_otel(&tracing, &logs, true));
    let app = Router::new()
        .route("/users/{id}", get(|Path(id): Path<u32>| load_user(id)))
        .layer(TraceLayer::server(tracing.tracer()));
    let addr = serve_axum(app).await;
    let (_, body) = http_get(addr, "/users/42", &[("traceparent", TRACEPARENT)]).await;
    assert_eq!(body, "user 42");

    let spans = tracing.wait_for(2).await;
    let server = only(&spans, &SpanKind::Server);
    let load = spans.iter().find(|s| s.name == "load_user").unwrap();
    assert_eq!(load.span_context.trace_id(), server.span_context.trace_id());
    assert_eq!(load.parent_span_id, server.span_context.span_id());
    assert_eq!(hex_trace_id(server), TRACE_ID);
    assert!(
        !spans
            .iter()
            .any(|s| s.name == logs::SERVER_SPAN || s.name == logs::CLIENT_SPAN),
        "no second request span: {spans:#?}"
    );
    // The line inside `load_user` is in both spans.
    let lines = logs.json();
    let loading = line(&lines, "loading");
    assert_eq!(
        span_in(loading, logs::SERVER_SPAN).unwrap()["span_id"],
        hex_span_id(server)
    );
    assert!(span_in(loading, "load_user").is_some());
}

#[tokio::test]
async fn a_client_call_inside_an_instrument_span_is_its_child() {
    for context_activation in [true, false] {
        let tracing = Tracing::new();
        let logs = LogCapture::new();
        let _subscriber =
            tracing::subscriber::set_default(with_otel(&tracing, &logs, context_activation));
        let backend = backend().await;
        let client = client(&tracing);
        async {
            let mut request = Request::get(format!("http://{backend}/stock"))
                .body(Full::default())
                .unwrap();
            if !context_activation {
                // The documented way when the span's context is not made current.
                request
                    .extensions_mut()
                    .insert(tracing::Span::current().context());
            }
            client.oneshot(request).await.unwrap()
        }
        .instrument(tracing::info_span!("fetch_stock"))
        .await;

        let spans = tracing.wait_for(2).await;
        let fetch = spans.iter().find(|s| s.name == "fetch_stock").unwrap();
        let call = only(&spans, &SpanKind::Client);
        assert_eq!(
            call.parent_span_id,
            fetch.span_context.span_id(),
            "context activation {context_activation}"
        );
        assert_eq!(call.span_context.trace_id(), fetch.span_context.trace_id());
        assert!(!spans.iter().any(|s| s.name == logs::CLIENT_SPAN));
    }
}

// === tower-http ===

#[tokio::test]
async fn tower_http_kept_for_request_logs_adds_no_request_span() {
    use tower_http::trace::{DefaultOnResponse, TraceLayer as TowerHttpTraceLayer};

    let tracing = Tracing::new();
    let logs = LogCapture::new();
    let subscriber = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_writer(logs.clone())
                .with_filter(ours().with_target("tower_http", Level::INFO)),
        )
        .with(
            tracing_opentelemetry::layer()
                .with_tracer(tracing.tracer())
                .with_filter(SkipRequestSpans),
        );
    let _subscriber = tracing::subscriber::set_default(subscriber);
    // The recommended stack: tower-http's request logs inside our layer, without its span.
    let app = Router::new()
        .route("/users/{id}", get(|| async { "ok" }))
        .layer(
            TowerHttpTraceLayer::new_for_http()
                .make_span_with(|_: &Request<axum::body::Body>| tracing::Span::none())
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(TraceLayer::server(tracing.tracer()));
    let addr = serve_axum(app).await;
    http_get(addr, "/users/42", &[("traceparent", TRACEPARENT)]).await;

    let spans = tracing.wait_for(1).await;
    assert_eq!(spans.len(), 1, "one request span, ours: {spans:#?}");
    let lines = logs.json();
    let finished = line(&lines, "finished processing request");
    let in_spans: Vec<&Value> = finished["spans"].as_array().unwrap().iter().collect();
    assert_eq!(in_spans.len(), 1, "only our request span: {finished:#}");
    assert_eq!(in_spans[0]["name"], logs::SERVER_SPAN);
    assert_eq!(in_spans[0]["trace_id"], TRACE_ID);
    assert_eq!(in_spans[0]["span_id"], hex_span_id(&spans[0]));
}
