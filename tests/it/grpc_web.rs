//! gRPC-Web ("gRPC Web", `grpc/grpc:doc/PROTOCOL-WEB.md`) through the layers on real servers on
//! 127.0.0.1: tonic with `tonic_web::GrpcWebLayer`, our layer outside it (it sees gRPC-Web
//! framing, the status in the body's trailer frame) and inside it (it sees native gRPC with
//! HTTP trailers); binary and `-text`; HTTP/1.1 and HTTP/2. Span and metric point are the same
//! in every case, and follow the RPC conventions exactly as for native gRPC (semconv 1.45.0,
//! "RPC spans", "gRPC" pages).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode, Version};
use http_body_util::{BodyExt, Full, StreamBody};
use integration_tests::grpc::{BytesCodec, EchoServer};
use integration_tests::{
    HistogramPoint, Metrics, Tracing, attr_str, http1_client, http2_client, serve_hyper,
    serve_tonic,
};
use opentelemetry::trace::Status;
use opentelemetry_sdk::trace::SpanData;
use tonic_web::{GrpcWebClientLayer, GrpcWebLayer};
use tower::ServiceBuilder;
use tower_telemetry_metrics::WithMetrics;
use tower_telemetry_trace::{ClientTraceLayer, TraceLayer};

/// Where our layer sits relative to the gRPC-Web translation.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Placement {
    /// Our layer outside `GrpcWebLayer`: it sees gRPC-Web.
    Outside,
    /// Our layer inside it: it sees native gRPC.
    Inside,
}

/// A tonic server with `GrpcWebLayer` (HTTP/1.1 accepted) and our fused trace + metrics layer.
async fn serve(tracing: &Tracing, metrics: &Metrics, placement: Placement) -> SocketAddr {
    let layer = TraceLayer::server(tracing.tracer()).with_metrics(&metrics.meter());
    match placement {
        Placement::Outside => {
            serve_tonic(|incoming| {
                tonic::transport::Server::builder()
                    .accept_http1(true)
                    .layer(layer)
                    .layer(GrpcWebLayer::new())
                    .add_service(EchoServer)
                    .serve_with_incoming(incoming)
            })
            .await
        }
        Placement::Inside => {
            serve_tonic(|incoming| {
                tonic::transport::Server::builder()
                    .accept_http1(true)
                    .layer(GrpcWebLayer::new())
                    .layer(layer)
                    .add_service(EchoServer)
                    .serve_with_incoming(incoming)
            })
            .await
        }
    }
}

fn frame(flag: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![flag];
    out.extend(u32::try_from(payload.len()).unwrap().to_be_bytes());
    out.extend(payload);
    out
}

/// What came back from a hand-framed gRPC-Web call.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    /// The body as received (base64 for `-text`).
    raw: Bytes,
    /// The body's frames, decoded.
    messages: Vec<Vec<u8>>,
    /// The trailer frame's `grpc-status`, else the head's.
    grpc_status: Option<String>,
}

/// Decodes a `-text` body: padded base64 chunks back to back, decoded 4 characters at a time.
fn decode_text(raw: &[u8]) -> Vec<u8> {
    raw.chunks(4)
        .flat_map(|group| {
            base64::engine::general_purpose::STANDARD
                .decode(group)
                .unwrap()
        })
        .collect()
}

fn parse_frames(mut body: &[u8]) -> (Vec<Vec<u8>>, Option<String>) {
    let (mut messages, mut status) = (Vec::new(), None);
    while body.len() >= 5 {
        let len = u32::from_be_bytes(body[1..5].try_into().unwrap()) as usize;
        let payload = &body[5..5 + len];
        if body[0] & 0x80 != 0 {
            let text = String::from_utf8_lossy(payload);
            status = text
                .split("\r\n")
                .find_map(|l| l.strip_prefix("grpc-status:"))
                .map(|s| s.trim().to_owned());
        } else {
            messages.push(payload.to_vec());
        }
        body = &body[5 + len..];
    }
    (messages, status)
}

/// Calls `/test.Echo/{method}` with `message` as a gRPC-Web client would (hand-framed), over
/// `version`, with `content_type`.
async fn call(
    addr: SocketAddr,
    version: Version,
    content_type: &str,
    method: &str,
    message: &str,
) -> Answer {
    let text = content_type.starts_with("application/grpc-web-text");
    let mut body = frame(0, message.as_bytes());
    if text {
        body = base64::engine::general_purpose::STANDARD
            .encode(&body)
            .into_bytes();
    }
    let request = Request::post(format!("http://{addr}/test.Echo/{method}"))
        .header("content-type", content_type)
        .header("accept", content_type)
        .header("x-grpc-web", "1")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let client = if version == Version::HTTP_2 {
        http2_client()
    } else {
        http1_client()
    };
    let response = client.request(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let raw = body.collect().await.unwrap().to_bytes();
    let decoded = if text {
        decode_text(&raw)
    } else {
        raw.to_vec()
    };
    let (messages, trailer_status) = parse_frames(&decoded);
    let head_status = parts
        .headers
        .get("grpc-status")
        .map(|v| v.to_str().unwrap().to_owned());
    Answer {
        status: parts.status,
        headers: parts.headers,
        raw,
        messages,
        grpc_status: trailer_status.or(head_status),
    }
}

/// The span's name, RPC attributes and status, for comparing placements.
fn summary(span: &SpanData) -> (String, Vec<(String, String)>, Status) {
    let mut attrs: Vec<(String, String)> = span
        .attributes
        .iter()
        .map(|kv| (kv.key.to_string(), kv.value.to_string()))
        .collect();
    attrs.sort();
    (span.name.to_string(), attrs, span.status.clone())
}

fn only_point(metrics: &Metrics) -> HistogramPoint {
    let points = metrics.histogram("rpc.server.call.duration");
    assert_eq!(points.len(), 1, "{points:#?}");
    assert!(
        metrics.histogram("http.server.request.duration").is_empty(),
        "gRPC-Web calls are RPCs, not HTTP requests"
    );
    points.into_iter().next().unwrap()
}

const CONTENT_TYPES: [&str; 4] = [
    "application/grpc-web",
    "application/grpc-web+proto",
    "application/grpc-web-text",
    "application/grpc-web-text+proto",
];

/// OK, NOT_FOUND (not a server error) and INTERNAL (an error), from a Trailers-Only head
/// (unary `Say` failing) and from the body's trailer frame (`Stream` failing after two
/// messages): every placement, content type and HTTP version gives the same span and point.
#[tokio::test]
async fn status_on_span_and_metric_in_every_placement_and_content_type() {
    #[rustfmt::skip]
    let cases = [
        ("Say", "hi", "0", "OK", None),
        ("Say", "fail:5", "5", "NOT_FOUND", None),
        ("Say", "fail:13", "13", "INTERNAL", Some("INTERNAL")),
        ("Stream", "2", "0", "OK", None),
        ("Stream", "2:5", "5", "NOT_FOUND", None),
        ("Stream", "2:13", "13", "INTERNAL", Some("INTERNAL")),
    ];
    let mut runs = 0;
    for (method, message, wire_status, code, error) in cases {
        let mut seen = Vec::new();
        for placement in [Placement::Outside, Placement::Inside] {
            for version in [Version::HTTP_11, Version::HTTP_2] {
                for content_type in CONTENT_TYPES {
                    let why =
                        format!("{method} {message} {placement:?} {version:?} {content_type}");
                    let (tracing, metrics) = (Tracing::new(), Metrics::new());
                    let addr = serve(&tracing, &metrics, placement).await;
                    let answer = call(addr, version, content_type, method, message).await;
                    assert_eq!(answer.status, StatusCode::OK, "{why}");
                    assert_eq!(
                        answer.grpc_status.as_deref(),
                        Some(wire_status),
                        "{why}: {answer:?}"
                    );
                    let expected_type = if content_type.contains("text") {
                        "application/grpc-web-text"
                    } else {
                        "application/grpc-web"
                    };
                    assert!(
                        answer.headers["content-type"]
                            .to_str()
                            .unwrap()
                            .starts_with(expected_type),
                        "{why}: {:?}",
                        answer.headers
                    );
                    if method == "Stream" {
                        assert_eq!(answer.messages, [b"0".to_vec(), b"1".to_vec()], "{why}");
                    }
                    let spans = tracing.wait_for(1).await;
                    assert_eq!(spans.len(), 1, "{why}");
                    let span = &spans[0];
                    assert_eq!(span.name, format!("test.Echo/{method}"), "{why}");
                    assert_eq!(
                        attr_str(span, "rpc.system.name").as_deref(),
                        Some("grpc"),
                        "{why}"
                    );
                    assert_eq!(
                        attr_str(span, "rpc.status_code").as_deref(),
                        Some(code),
                        "{why}"
                    );
                    assert_eq!(attr_str(span, "error.type").as_deref(), error, "{why}");
                    let status = if error.is_some() {
                        Status::error("")
                    } else {
                        Status::Unset
                    };
                    assert_eq!(
                        std::mem::discriminant(&span.status),
                        std::mem::discriminant(&status),
                        "{why}: {:?}",
                        span.status
                    );
                    let point = only_point(&metrics);
                    assert_eq!(point.count, 1, "{why}");
                    assert_eq!(
                        point.attributes.get("rpc.status_code").map(String::as_str),
                        Some(code),
                        "{why}"
                    );
                    assert_eq!(
                        point.attributes.get("error.type").map(String::as_str),
                        error,
                        "{why}"
                    );
                    assert_eq!(
                        point.attributes.get("rpc.method").map(String::as_str),
                        Some(format!("test.Echo/{method}").as_str()),
                        "{why}"
                    );
                    seen.push((summary(span), point.attributes));
                    runs += 1;
                }
            }
        }
        let first = seen[0].clone();
        for other in &seen {
            assert_eq!(
                (&other.0.0, &other.0.2, &other.1),
                (&first.0.0, &first.0.2, &first.1),
                "{method} {message}: the same span name, status and metric point everywhere"
            );
        }
    }
    assert_eq!(runs, 6 * 2 * 2 * 4);
}

/// A layer outside the translation sees the `-text` body as tonic-web sends it: every frame
/// base64-encoded on its own, padding and all, so the body holds several padded chunks. The
/// span ends with the trailer frame; the bytes reach the client unchanged.
#[tokio::test]
async fn text_bodies_of_several_padded_chunks() {
    let (tracing, metrics) = (Tracing::new(), Metrics::new());
    let addr = serve(&tracing, &metrics, Placement::Outside).await;
    // Messages "0" to "11": "10" and "11" make 7-byte frames, padded when encoded alone.
    let answer = call(
        addr,
        Version::HTTP_11,
        "application/grpc-web-text",
        "Stream",
        "12:14",
    )
    .await;
    let raw = std::str::from_utf8(&answer.raw).unwrap();
    let first_pad = raw.find('=').expect("padding");
    assert!(
        raw[first_pad..].trim_start_matches('=').len() > 8,
        "padding in the middle, then more chunks: {raw}"
    );
    assert_eq!(answer.messages.len(), 12);
    assert_eq!(answer.grpc_status.as_deref(), Some("14"));
    let span = &tracing.wait_for(1).await[0];
    assert_eq!(
        attr_str(span, "rpc.status_code").as_deref(),
        Some("UNAVAILABLE")
    );
    assert_eq!(attr_str(span, "error.type").as_deref(), Some("UNAVAILABLE"));
}

/// A gRPC-Web answer produced below the layer, byte by byte or malformed, on a real HTTP server:
/// the bytes the client receives are exactly those produced, and the verdict follows the rules.
async fn serve_body(tracing: &Tracing, metrics: &Metrics, chunks: Vec<Vec<u8>>) -> SocketAddr {
    let service = tower::service_fn(move |_: Request<hyper::body::Incoming>| {
        let chunks = chunks.clone();
        async move {
            let frames = chunks
                .into_iter()
                .map(|c| Ok::<_, Infallible>(http_body::Frame::data(Bytes::from(c))));
            let body = StreamBody::new(Ticking(frames));
            let mut response = Response::new(body);
            response.headers_mut().insert(
                "content-type",
                "application/grpc-web+proto".parse().unwrap(),
            );
            Ok::<_, Infallible>(response)
        }
    });
    let layer = TraceLayer::server(tracing.tracer()).with_metrics(&metrics.meter());
    serve_hyper(ServiceBuilder::new().layer(layer).service(service)).await
}

/// A stream of the items of an iterator, one per poll, each after a yield (so that a body is
/// really sent in pieces).
struct Ticking<I>(I);

impl<I: Iterator + Unpin> futures_core::Stream for Ticking<I> {
    type Item = I::Item;
    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<I::Item>> {
        std::task::Poll::Ready(self.get_mut().0.next())
    }
}

async fn post_raw(addr: SocketAddr) -> (StatusCode, Bytes) {
    let request = Request::post(format!("http://{addr}/test.Echo/Say"))
        .header("content-type", "application/grpc-web+proto")
        .body(Full::new(Bytes::from(frame(0, b"hi"))))
        .unwrap();
    let response = http1_client().request(request).await.unwrap();
    let status = response.status();
    (
        status,
        response.into_body().collect().await.unwrap().to_bytes(),
    )
}

/// The chunks a body is sent in, the `rpc.status_code` and `error.type` expected, and why.
type Case = (
    Vec<Vec<u8>>,
    Option<&'static str>,
    Option<&'static str>,
    &'static str,
);

#[tokio::test]
async fn byte_by_byte_bodies_and_malformed_frames() {
    let trailers = b"grpc-status: 13\r\ngrpc-message: boom\r\n";
    let good = [frame(0, b"hello"), frame(0x80, trailers)].concat();
    let mut beyond = frame(0, b"hello");
    beyond[4] = 200; // a length beyond the body
    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        (good.iter().map(|b| vec![*b]).collect(), Some("INTERNAL"), Some("INTERNAL"), "byte by byte: the trailer frame split across 40 chunks"),
        (vec![frame(0, b"hello")], None, None, "no trailer frame: judged as a gRPC call without grpc-status"),
        (vec![beyond], None, None, "a length beyond the body"),
        (vec![frame(0x80, trailers)[..12].to_vec()], None, None, "a truncated trailer frame"),
        (vec![frame(0x80, b"grpc-message: caf\xc3\xa9 \xff\r\ngr\xffpc: 1\r\ngrpc-status: 14\r\n")], Some("UNAVAILABLE"), Some("UNAVAILABLE"), "non-ASCII trailer lines: the valid ones are read"),
        (vec![frame(0x80, b"grpc-status: \xd9\xa3\r\n")], None, None, "a non-ASCII status is no status"),
        (vec![vec![0, 0xFF, 0xFF, 0xFF, 0xFF], vec![7; 64 * 1024]], None, None, "a 4 GiB message length: skipped, never kept"),
        (vec![vec![0x80, 0xFF, 0xFF, 0xFF, 0xFF], vec![b'x'; 1024]], None, None, "a 4 GiB trailer frame: over the bound, no status"),
    ];
    for (chunks, code, error, why) in cases {
        let (tracing, metrics) = (Tracing::new(), Metrics::new());
        let sent: Vec<u8> = chunks.concat();
        let addr = serve_body(&tracing, &metrics, chunks).await;
        let (status, received) = post_raw(addr).await;
        assert_eq!(status, StatusCode::OK, "{why}");
        assert_eq!(&received[..], &sent[..], "{why}: the bytes pass unchanged");
        let span = &tracing.wait_for(1).await[0];
        assert_eq!(attr_str(span, "rpc.status_code").as_deref(), code, "{why}");
        assert_eq!(attr_str(span, "error.type").as_deref(), error, "{why}");
        let point = only_point(&metrics);
        assert_eq!(
            point.attributes.get("rpc.status_code").map(String::as_str),
            code,
            "{why}"
        );
        assert_eq!(
            point.attributes.get("error.type").map(String::as_str),
            error,
            "{why}"
        );
    }
}

/// The span ends at the trailer frame, even when the body has more to say after it.
#[tokio::test]
async fn the_call_ends_at_the_trailer_frame() {
    let (tracing, metrics) = (Tracing::new(), Metrics::new());
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
    let rx = std::sync::Arc::new(std::sync::Mutex::new(Some(rx)));
    let service = tower::service_fn(move |_: Request<hyper::body::Incoming>| {
        let rx = rx.lock().unwrap().take().unwrap();
        async move {
            let mut response = Response::new(StreamBody::new(RxStream(rx)));
            response
                .headers_mut()
                .insert("content-type", "application/grpc-web".parse().unwrap());
            Ok::<_, Infallible>(response)
        }
    });
    let layer = TraceLayer::server(tracing.tracer()).with_metrics(&metrics.meter());
    let addr = serve_hyper(ServiceBuilder::new().layer(layer).service(service)).await;
    let client = tokio::spawn(post_raw(addr));
    tx.send(frame(0x80, b"grpc-status: 0\r\n")).await.unwrap();
    let span = &tracing.wait_for(1).await[0];
    assert_eq!(attr_str(span, "rpc.status_code").as_deref(), Some("OK"));
    assert!(!client.is_finished(), "the body is still open");
    tokio::time::sleep(Duration::from_millis(50)).await;
    tx.send(b"late".to_vec()).await.unwrap();
    drop(tx);
    let (_, received) = client.await.unwrap();
    assert!(received.ends_with(b"late"));
    assert_eq!(tracing.spans().len(), 1, "ended once, at the trailer frame");
    assert!(
        span.end_time.elapsed().unwrap() >= Duration::from_millis(50),
        "not at the end of the body"
    );
}

/// A body's data frames as a channel sends them.
struct RxStream(tokio::sync::mpsc::Receiver<Vec<u8>>);

impl futures_core::Stream for RxStream {
    type Item = Result<http_body::Frame<Bytes>, Infallible>;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.0
            .poll_recv(cx)
            .map(|o| o.map(|v| Ok(http_body::Frame::data(Bytes::from(v)))))
    }
}

/// A gRPC-Web client (tonic's `GrpcWebClientLayer` over a hyper HTTP/1.1 client) through the
/// client layer, outside the translation (it sees native gRPC with trailers) and inside it
/// (it sees gRPC-Web framing): the same client span.
#[tokio::test]
async fn a_grpc_web_client_through_the_client_layer() {
    let server = (Tracing::new(), Metrics::new());
    let addr = serve(&server.0, &server.1, Placement::Outside).await;
    let origin: http::Uri = format!("http://{addr}").parse().unwrap();
    let mut seen = Vec::new();
    for placement in [Placement::Outside, Placement::Inside] {
        let (tracing, metrics) = (Tracing::new(), Metrics::new());
        let layer = ClientTraceLayer::client(tracing.tracer()).with_metrics(&metrics.meter());
        let hyper =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http();
        let results = match placement {
            Placement::Outside => {
                let svc = ServiceBuilder::new()
                    .layer(layer)
                    .layer(GrpcWebClientLayer::new())
                    .service(hyper);
                calls(svc, origin.clone()).await
            }
            Placement::Inside => {
                let svc = ServiceBuilder::new()
                    .layer(GrpcWebClientLayer::new())
                    .layer(layer)
                    .service(hyper);
                calls(svc, origin.clone()).await
            }
        };
        assert_eq!(
            results,
            [
                Ok(b"hi".to_vec()),
                Err(tonic::Code::Internal),
                Err(tonic::Code::NotFound)
            ]
        );
        let spans = tracing.wait_for(3).await;
        let mut summary: Vec<_> = spans
            .iter()
            .map(|s| {
                (
                    s.name.to_string(),
                    attr_str(s, "rpc.status_code"),
                    attr_str(s, "error.type"),
                    s.status.clone(),
                )
            })
            .collect();
        summary.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
        let points = metrics.histogram("rpc.client.call.duration");
        let mut points: Vec<_> = points
            .iter()
            .map(|p| {
                (
                    p.attributes.get("rpc.status_code").cloned(),
                    p.attributes.get("error.type").cloned(),
                    p.count,
                )
            })
            .collect();
        points.sort();
        assert_eq!(
            points,
            [
                (Some("INTERNAL".into()), Some("INTERNAL".into()), 1),
                (Some("NOT_FOUND".into()), Some("NOT_FOUND".into()), 1),
                (Some("OK".into()), None, 1),
            ],
            "{placement:?}"
        );
        seen.push(summary);
    }
    assert_eq!(seen[0], seen[1], "the same client spans in both placements");
    assert!(
        seen[0]
            .iter()
            .any(|s| s.1.as_deref() == Some("INTERNAL") && s.2.as_deref() == Some("INTERNAL")),
        "{:?}",
        seen[0]
    );
}

/// `Say` "hi", `Say` "fail:13" (Trailers-Only), `Stream` "1:5" (the status in the trailers).
async fn calls<S, B>(svc: S, origin: http::Uri) -> Vec<Result<Vec<u8>, tonic::Code>>
where
    S: tonic::client::GrpcService<tonic::body::Body, ResponseBody = B> + Clone,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut out = Vec::new();
    for message in ["hi", "fail:13"] {
        let mut grpc = tonic::client::Grpc::with_origin(svc.clone(), origin.clone());
        grpc.ready().await.map_err(|e| e.into()).unwrap();
        let reply = grpc
            .unary(
                tonic::Request::new(Bytes::from(message)),
                http::uri::PathAndQuery::from_static("/test.Echo/Say"),
                BytesCodec,
            )
            .await;
        out.push(reply.map(|r| r.into_inner().to_vec()).map_err(|s| s.code()));
    }
    let mut grpc = tonic::client::Grpc::with_origin(svc, origin);
    grpc.ready().await.map_err(|e| e.into()).unwrap();
    let result = grpc
        .server_streaming(
            tonic::Request::new(Bytes::from("1:5")),
            http::uri::PathAndQuery::from_static("/test.Echo/Stream"),
            BytesCodec,
        )
        .await;
    let outcome = match result {
        Ok(response) => {
            let mut stream = response.into_inner();
            loop {
                match stream.message().await {
                    Ok(Some(_)) => {}
                    Ok(None) => break Ok(Vec::new()),
                    Err(status) => break Err(status.code()),
                }
            }
        }
        Err(status) => Err(status.code()),
    };
    out.push(outcome);
    out
}
