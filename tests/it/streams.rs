//! Every kind of stream through the layers, on real servers and clients on 127.0.0.1: server-sent
//! events (axum `Sse`), HTTP/1.1 upgrades (axum `WebSocketUpgrade`), and gRPC streams through
//! the server and client layers (bidirectional, cancelled mid-stream, past the deadline).
//!
//! The span and the duration cover what the conventions call the request: an event stream to
//! its last event, an upgrade to its `101` (the upgraded connection's life is no request's
//! duration), a gRPC stream to its trailers.
//!
//! A server whose client goes away mid-stream ends the request then, as an error with
//! `error.type=cancelled`: the HTTP spans page (semconv 1.45.0, "Status") says a request that
//! fails "if it was cancelled or an error occurred preventing the client or server from
//! sending/receiving the request/response fully" SHOULD have status `Error` and `error.type`,
//! and shows it for a server ("HTTP server call: connection dropped before response body was
//! sent"). The rule that leaves a cancelled request unset (semconv 1.41.0) is for a *client*
//! whose caller cancelled on purpose. Spans and metrics share the one verdict.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::sse::{Event, Sse};
use axum::routing::get;
use bytes::Bytes;
use integration_tests::grpc::{BytesCodec, EchoServer, channel};
use integration_tests::{Metrics, Tracing, attr, attr_i64, attr_str, serve_axum, serve_tonic};
use opentelemetry::trace::{SpanKind, Status};
use opentelemetry_sdk::trace::SpanData;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceBuilder;
use tower_telemetry_metrics::WithMetrics;
use tower_telemetry_trace::{ClientTraceLayer, TraceLayer};

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

// === server-sent events ===

/// `n` events, `gap` apart (the first at once), each logged as it is produced, with the time
/// the last was produced.
struct Ticks {
    next: u8,
    n: u8,
    gap: Duration,
    sleep: Pin<Box<tokio::time::Sleep>>,
    last_at: Arc<Mutex<Option<SystemTime>>>,
}

impl futures_core::Stream for Ticks {
    type Item = Result<Event, std::convert::Infallible>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        if self.next == self.n {
            return Poll::Ready(None);
        }
        std::task::ready!(self.sleep.as_mut().poll(cx));
        let i = self.next;
        self.next += 1;
        tracing::info!(target: "streams", event = i, "sending an event");
        if self.next == self.n {
            *self.last_at.lock().unwrap() = Some(SystemTime::now());
        }
        let deadline = tokio::time::Instant::now() + self.gap;
        self.sleep.as_mut().reset(deadline);
        Poll::Ready(Some(Ok(Event::default().data(format!("tick {i}")))))
    }
}

use std::future::Future as _;

async fn sse_server(
    tracing: &Tracing,
    metrics: &Metrics,
) -> (SocketAddr, Arc<Mutex<Option<SystemTime>>>) {
    let last_at = Arc::new(Mutex::new(None));
    let shared = last_at.clone();
    let router = Router::new()
        .route(
            "/events",
            get(move || {
                let last_at = shared.clone();
                async move {
                    Sse::new(Ticks {
                        next: 0,
                        n: 5,
                        gap: Duration::from_millis(50),
                        sleep: Box::pin(tokio::time::sleep(Duration::ZERO)),
                        last_at,
                    })
                }
            }),
        )
        .layer(TraceLayer::server(tracing.tracer()).with_metrics(&metrics.meter()));
    (serve_axum(router).await, last_at)
}

/// Sends `GET /events` on a raw connection; reads until `events` events arrived (or the end).
async fn read_events(addr: SocketAddr, events: usize) -> (tokio::net::TcpStream, String) {
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET /events HTTP/1.1\r\nhost: {addr}\r\naccept: text/event-stream\r\ntraceparent: {TRACEPARENT}\r\n\r\n"
    );
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut text = String::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(5);
    while text.matches("data: tick").count() < events {
        assert!(Instant::now() < deadline, "{text}");
        let n = tokio::time::timeout(Duration::from_secs(5), socket.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        if n == 0 {
            break;
        }
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    (socket, text)
}

fn took(span: &SpanData) -> Duration {
    span.end_time.duration_since(span.start_time).unwrap()
}

fn active(metrics: &Metrics) -> i64 {
    metrics
        .sum("http.server.active_requests")
        .iter()
        .map(|(_, v)| *v)
        .sum()
}

/// 5 events 50 ms apart: the span and the duration cover the stream to its last event, and the
/// log lines written while it streams carry the request's trace.
#[tokio::test]
async fn sse_span_covers_the_stream_to_its_last_event() {
    let (tracing, metrics) = (Tracing::new(), Metrics::new());
    // The kit's capture: one global subscriber, so this binary's other tests can't make
    // `tracing` skip the callsites.
    tracing.telemetry().capture_logs();
    let (addr, last_at) = sse_server(&tracing, &metrics).await;
    let (_socket, text) = read_events(addr, 5).await;
    assert_eq!(text.matches("data: tick").count(), 5, "{text}");
    assert!(text.contains("content-type: text/event-stream"), "{text}");
    let span = &tracing.wait_for(1).await[0];
    assert_eq!(span.name, "GET /events");
    assert_eq!(attr_i64(span, "http.response.status_code"), Some(200));
    assert_eq!(attr(span, "error.type"), None);
    assert_eq!(span.status, Status::Unset);
    assert!(took(span) >= Duration::from_millis(200), "{:?}", took(span));
    let last = last_at.lock().unwrap().expect("the last event");
    assert!(span.end_time >= last, "ends after the last event");
    let point = &metrics.histogram("http.server.request.duration")[0];
    assert_eq!(point.count, 1);
    assert_eq!(point.sum, took(span).as_secs_f64(), "one measurement");
    assert_eq!(active(&metrics), 0);
    let lines = tracing.telemetry().logs(span.span_context.trace_id());
    let events: Vec<_> = lines
        .iter()
        .filter(|l| l.message == "sending an event")
        .collect();
    assert_eq!(events.len(), 5, "{lines:#?}");
    for line in events {
        assert_eq!(
            line.span_id,
            span.span_context.span_id().to_string(),
            "{line:?}"
        );
    }
}

/// A client that goes away after 2 events ends the request then, `cancelled`; the gauge returns
/// to zero.
#[tokio::test]
async fn sse_client_disconnect_ends_the_span_then() {
    let (tracing, metrics) = (Tracing::new(), Metrics::new());
    let (addr, last_at) = sse_server(&tracing, &metrics).await;
    let (socket, text) = read_events(addr, 2).await;
    assert_eq!(text.matches("data: tick").count(), 2, "{text}");
    assert_eq!(active(&metrics), 1, "in flight while it streams");
    drop(socket);
    let span = &tracing.wait_for(1).await[0];
    assert!(
        took(span) < Duration::from_millis(200),
        "ended at the disconnect, not after 5 events: {:?}",
        took(span)
    );
    assert!(last_at.lock().unwrap().is_none(), "the stream was dropped");
    assert_eq!(attr_i64(span, "http.response.status_code"), Some(200));
    assert_eq!(attr_str(span, "error.type").as_deref(), Some("cancelled"));
    assert!(
        matches!(span.status, Status::Error { .. }),
        "{:?}",
        span.status
    );
    let points = metrics.histogram("http.server.request.duration");
    assert_eq!(points.len(), 1);
    assert_eq!(
        points[0].attributes.get("error.type").map(String::as_str),
        Some("cancelled")
    );
    assert_eq!(active(&metrics), 0, "back to zero");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(tracing.spans().len(), 1, "once");
}

// === upgrades ===

async fn echo(mut socket: WebSocket) {
    while let Some(Ok(message)) = socket.recv().await {
        if matches!(message, Message::Close(_)) || socket.send(message).await.is_err() {
            return;
        }
    }
}

/// Echoes messages over `ws` for `session`; how many went round.
async fn echo_session<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>, session: Duration) -> usize
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message as WsMessage;
    let started = Instant::now();
    let mut echoed = 0;
    while started.elapsed() < session {
        ws.send(WsMessage::text(format!("ping {echoed}")))
            .await
            .unwrap();
        let answer = tokio::time::timeout(Duration::from_secs(2), ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(answer, WsMessage::text(format!("ping {echoed}")));
        echoed += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    ws.close(None).await.unwrap();
    echoed
}

/// The upgrade's span and point: ended at the head (`status`), within milliseconds, once, and
/// no request left in flight.
fn assert_ended_at_the_upgrade(
    tracing: &Tracing,
    metrics: &Metrics,
    span: &SpanData,
    name: &str,
    status: i64,
    answered_at: SystemTime,
) {
    assert_eq!(span.name, name);
    assert_eq!(attr_i64(span, "http.response.status_code"), Some(status));
    assert_eq!(attr(span, "error.type"), None);
    assert_eq!(span.status, Status::Unset);
    assert!(took(span) < Duration::from_millis(100), "{:?}", took(span));
    assert!(
        span.end_time <= answered_at + Duration::from_millis(5),
        "ended by the time the client saw the answer"
    );
    let points = metrics.histogram("http.server.request.duration");
    assert_eq!(points.len(), 1);
    assert_eq!(
        points[0]
            .attributes
            .get("http.response.status_code")
            .map(String::as_str),
        Some(status.to_string().as_str())
    );
    assert!(points[0].sum < 0.1, "{}", points[0].sum);
    assert_eq!(active(metrics), 0, "the session is no request in flight");
    assert_eq!(tracing.spans().len(), 1);
}

fn ws_router(tracing: &Tracing, metrics: &Metrics) -> Router {
    Router::new()
        .route(
            "/ws",
            axum::routing::any(|ws: WebSocketUpgrade| async { ws.on_upgrade(echo) }),
        )
        .layer(TraceLayer::server(tracing.tracer()).with_metrics(&metrics.meter()))
}

/// A 1 s echo session over an upgraded HTTP/1.1 connection: messages flow through the layer;
/// the span and the duration end at the `101`, within milliseconds, not when the session ends.
#[tokio::test]
async fn websocket_span_ends_at_the_101() {
    let (tracing, metrics) = (Tracing::new(), Metrics::new());
    let addr = serve_axum(ws_router(&tracing, &metrics)).await;
    let (mut ws, response) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .unwrap();
    let upgraded_at = SystemTime::now();
    assert_eq!(response.status(), 101);
    let span = tracing.wait_for(1).await[0].clone();
    assert!(
        echo_session(&mut ws, Duration::from_secs(1)).await >= 10,
        "messages flow"
    );
    assert_ended_at_the_upgrade(&tracing, &metrics, &span, "GET /ws", 101, upgraded_at);
}

/// WebSockets over HTTP/2 (extended CONNECT, RFC 8441; hyper and axum support it): the span and
/// the duration end at the `200` that opens the tunnel; messages flow on the stream.
#[tokio::test]
async fn websocket_over_http2_extended_connect_ends_at_the_200() {
    let (tracing, metrics) = (Tracing::new(), Metrics::new());
    let addr = serve_axum(ws_router(&tracing, &metrics)).await;
    let io = hyper_util::rt::TokioIo::new(tokio::net::TcpStream::connect(addr).await.unwrap());
    let (mut send, conn) =
        hyper::client::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
            .handshake(io)
            .await
            .unwrap();
    tokio::spawn(conn);
    let request = http::Request::builder()
        .method(http::Method::CONNECT)
        .extension(hyper::ext::Protocol::from_static("websocket"))
        .uri(format!("http://{addr}/ws"))
        .header("sec-websocket-version", "13")
        .body(http_body_util::Empty::<Bytes>::new())
        .unwrap();
    let mut response = send.send_request(request).await.unwrap();
    let answered_at = SystemTime::now();
    assert_eq!(response.status(), 200);
    let span = tracing.wait_for(1).await[0].clone();
    let upgraded = hyper::upgrade::on(&mut response).await.unwrap();
    let mut ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
        hyper_util::rt::TokioIo::new(upgraded),
        tokio_tungstenite::tungstenite::protocol::Role::Client,
        None,
    )
    .await;
    assert!(
        echo_session(&mut ws, Duration::from_millis(500)).await >= 5,
        "messages flow"
    );
    assert_ended_at_the_upgrade(&tracing, &metrics, &span, "CONNECT /ws", 200, answered_at);
    assert_eq!(
        attr_str(&span, "network.protocol.version").as_deref(),
        Some("2")
    );
}

// === gRPC streams through both layers ===

struct Outgoing(tokio::sync::mpsc::Receiver<Bytes>);

impl futures_core::Stream for Outgoing {
    type Item = Bytes;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Bytes>> {
        self.0.poll_recv(cx)
    }
}

/// A tonic server and a channel, both behind our layers (trace + metrics on each side).
async fn grpc_pair(
    tracing: &Tracing,
    server: &Metrics,
    client: &Metrics,
) -> impl tonic::client::GrpcService<
    tonic::body::Body,
    ResponseBody = impl http_body::Body<Data = Bytes, Error: Into<tower::BoxError>> + Send + 'static,
    Error: Into<tower::BoxError>,
> + Clone {
    let layer = TraceLayer::server(tracing.tracer()).with_metrics(&server.meter());
    let addr = serve_tonic(|incoming| {
        tonic::transport::Server::builder()
            .layer(layer)
            .add_service(EchoServer)
            .serve_with_incoming(incoming)
    })
    .await;
    ServiceBuilder::new()
        .layer(ClientTraceLayer::client_grpc(tracing.tracer()).with_metrics(&client.meter()))
        .service(channel(addr).await)
}

fn by_kind<'a>(spans: &'a [SpanData], kind: &SpanKind) -> &'a SpanData {
    spans
        .iter()
        .find(|s| s.span_kind == *kind)
        .unwrap_or_else(|| panic!("{kind:?} in {spans:#?}"))
}

/// A `Chat` whose client sends two messages, reads both answers, then gives up: dropped with the
/// stream still open (`timeout` set: as a deadline, with `grpc-timeout`).
async fn chat_then_give_up<S>(svc: S, timeout: Option<Duration>)
where
    S: tonic::client::GrpcService<tonic::body::Body>,
    S::ResponseBody: http_body::Body<Data = Bytes> + Send + 'static,
    <S::ResponseBody as http_body::Body>::Error: Into<tower::BoxError>,
    S::Error: Into<tower::BoxError>,
{
    let mut grpc = tonic::client::Grpc::new(svc);
    grpc.ready().await.map_err(Into::into).unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let mut request = tonic::Request::new(Outgoing(rx));
    if let Some(timeout) = timeout {
        request.set_timeout(timeout);
    }
    let started = Instant::now();
    let path = http::uri::PathAndQuery::from_static("/test.Echo/Chat");
    tx.send(Bytes::from_static(b"a")).await.unwrap();
    let mut stream = grpc
        .streaming(request, path, BytesCodec)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stream.message().await.unwrap().unwrap(), "a");
    tx.send(Bytes::from_static(b"b")).await.unwrap();
    assert_eq!(stream.message().await.unwrap().unwrap(), "b");
    if let Some(timeout) = timeout {
        // The caller enforces its deadline: at it, it gives up on the stream.
        let left = timeout.saturating_sub(started.elapsed());
        assert!(tokio::time::timeout(left, stream.message()).await.is_err());
    }
    drop(stream);
    drop(tx);
}

/// Cancelled mid-stream: the client's span is not an error (its caller gave up; semconv 1.41.0,
/// HTTP spans "Status"), the server's is `CANCELLED` (not a server error, "gRPC" page). Both end
/// then, once.
#[tokio::test]
async fn grpc_stream_cancelled_mid_stream_through_both_layers() {
    let (tracing, server, client) = (Tracing::new(), Metrics::new(), Metrics::new());
    let svc = grpc_pair(&tracing, &server, &client).await;
    chat_then_give_up(svc, None).await;
    let spans = tracing.wait_for(2).await;
    let (c, s) = (
        by_kind(&spans, &SpanKind::Client),
        by_kind(&spans, &SpanKind::Server),
    );
    assert_eq!(
        (c.name.as_ref(), s.name.as_ref()),
        ("test.Echo/Chat", "test.Echo/Chat")
    );
    assert_eq!(s.parent_span_id, c.span_context.span_id(), "joined");
    assert_eq!(
        attr(c, "rpc.status_code"),
        None,
        "the caller gave up: no status"
    );
    assert_eq!(attr(c, "error.type"), None);
    assert_eq!(c.status, Status::Unset);
    assert_eq!(attr_str(s, "rpc.status_code").as_deref(), Some("CANCELLED"));
    assert_eq!(attr(s, "error.type"), None);
    assert_eq!(s.status, Status::Unset);
    let point = &server.histogram("rpc.server.call.duration")[0];
    assert_eq!(
        point.attributes.get("rpc.status_code").map(String::as_str),
        Some("CANCELLED")
    );
    assert!(!point.attributes.contains_key("error.type"));
    let point = &client.histogram("rpc.client.call.duration")[0];
    assert!(!point.attributes.contains_key("error.type"), "{point:?}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(tracing.spans().len(), 2, "once each");
}

/// The deadline passes during a stream: the caller gives up at it and the stream is reset;
/// both sides judge the call `DEADLINE_EXCEEDED`, an error, with the duration up to then.
#[tokio::test]
async fn grpc_stream_past_its_deadline_through_both_layers() {
    let (tracing, server, client) = (Tracing::new(), Metrics::new(), Metrics::new());
    let svc = grpc_pair(&tracing, &server, &client).await;
    chat_then_give_up(svc, Some(Duration::from_millis(300))).await;
    let spans = tracing.wait_for(2).await;
    let (c, s) = (
        by_kind(&spans, &SpanKind::Client),
        by_kind(&spans, &SpanKind::Server),
    );
    assert_eq!(
        attr_str(c, "rpc.status_code").as_deref(),
        Some("DEADLINE_EXCEEDED")
    );
    assert_eq!(
        attr_str(c, "error.type").as_deref(),
        Some("DEADLINE_EXCEEDED")
    );
    assert!(took(c) >= Duration::from_millis(300), "{:?}", took(c));
    // The reset reaches the server ahead of its own clock by the transit time; a reset that
    // outruns `DEADLINE_SLACK` on a loaded machine is `CANCELLED` (see the classify rules).
    let code = attr_str(s, "rpc.status_code");
    assert!(
        matches!(code.as_deref(), Some("DEADLINE_EXCEEDED" | "CANCELLED")),
        "{code:?}"
    );
    assert!(took(s) < Duration::from_secs(2), "promptly: {:?}", took(s));
    let point = &client.histogram("rpc.client.call.duration")[0];
    assert_eq!(
        point.attributes.get("error.type").map(String::as_str),
        Some("DEADLINE_EXCEEDED")
    );
    assert_eq!(server.histogram("rpc.server.call.duration")[0].count, 1);
}
