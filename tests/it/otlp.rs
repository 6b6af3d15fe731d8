//! The environment-driven setup exporting over OTLP to a receiver on 127.0.0.1 built from the
//! official protocol definitions (`opentelemetry-proto`'s generated tonic server, and its
//! messages decoded from HTTP/protobuf), and the same with the receiver down.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::{get, post};
use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use integration_tests::{black_hole, http1_client, serve_axum, serve_tonic};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message;
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_telemetry::setup::{OtlpProtocol, Telemetry};
use tower_telemetry_metrics::WithMetrics;
use tower_telemetry_trace::{ClientTraceLayer, TraceLayer};

/// What the receiver got.
#[derive(Default, Clone)]
struct Received {
    traces: Arc<Mutex<Vec<ExportTraceServiceRequest>>>,
    metrics: Arc<Mutex<Vec<ExportMetricsServiceRequest>>>,
    /// The content encoding of each export (`grpc-encoding` or `content-encoding`; `identity`
    /// when none).
    encodings: Arc<Mutex<Vec<String>>>,
    /// The content type of each OTLP/HTTP export.
    content_types: Arc<Mutex<Vec<String>>>,
}

impl Received {
    /// Every span received, in order.
    fn spans(&self) -> Vec<opentelemetry_proto::tonic::trace::v1::Span> {
        self.traces
            .lock()
            .unwrap()
            .iter()
            .flat_map(|r| &r.resource_spans)
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| ss.spans.clone())
            .collect()
    }

    /// Every metric received, in order.
    fn all_metrics(&self) -> Vec<opentelemetry_proto::tonic::metrics::v1::Metric> {
        self.metrics
            .lock()
            .unwrap()
            .iter()
            .flat_map(|r| &r.resource_metrics)
            .flat_map(|rm| &rm.scope_metrics)
            .flat_map(|sm| sm.metrics.clone())
            .collect()
    }

    fn encoding(&self, headers: &http::HeaderMap, name: &str) {
        let encoding = headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("identity");
        self.encodings.lock().unwrap().push(encoding.to_owned());
    }
}

#[tonic::async_trait]
impl TraceService for Received {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.encoding(&request.metadata().clone().into_headers(), "grpc-encoding");
        self.traces.lock().unwrap().push(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

#[tonic::async_trait]
impl MetricsService for Received {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        self.encoding(&request.metadata().clone().into_headers(), "grpc-encoding");
        self.metrics.lock().unwrap().push(request.into_inner());
        Ok(tonic::Response::new(ExportMetricsServiceResponse {
            partial_success: None,
        }))
    }
}

async fn grpc_receiver() -> (SocketAddr, Received) {
    grpc_receiver_with(None).await
}

/// An OTLP/gRPC receiver (accepting gzip), over TLS with `tls`.
async fn grpc_receiver_with(
    tls: Option<tonic::transport::ServerTlsConfig>,
) -> (SocketAddr, Received) {
    use tonic::codec::CompressionEncoding::Gzip;
    let received = Received::default();
    let (traces, metrics) = (
        TraceServiceServer::new(received.clone()).accept_compressed(Gzip),
        MetricsServiceServer::new(received.clone()).accept_compressed(Gzip),
    );
    let addr = serve_tonic(|incoming| {
        let mut server = tonic::transport::Server::builder();
        if let Some(tls) = tls {
            server = server.tls_config(tls).expect("server TLS");
        }
        server
            .add_service(traces)
            .add_service(metrics)
            .serve_with_incoming(incoming)
    })
    .await;
    (addr, received)
}

/// The body of an OTLP/HTTP request, gunzipped when it says it is gzip.
fn otlp_body(headers: &http::HeaderMap, body: &Bytes) -> Vec<u8> {
    use std::io::Read as _;
    if headers.get("content-encoding").is_some_and(|v| v == "gzip") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_end(&mut out)
            .expect("gzip");
        out
    } else {
        body.to_vec()
    }
}

/// An OTLP/HTTP request of type `R`, as protobuf or (`application/json`) JSON, recorded; and
/// the (empty) response in the same encoding.
fn otlp_http<R: Message + Default + serde::de::DeserializeOwned>(
    received: &Received,
    headers: &http::HeaderMap,
    body: &Bytes,
    into: &Mutex<Vec<R>>,
) -> Bytes {
    received.encoding(headers, "content-encoding");
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = otlp_body(headers, body);
    let json = content_type == "application/json";
    received.content_types.lock().unwrap().push(content_type);
    let request = if json {
        serde_json::from_slice(&body).expect("OTLP JSON")
    } else {
        R::decode(&body[..]).expect("OTLP protobuf")
    };
    into.lock().unwrap().push(request);
    // An empty `Export…ServiceResponse`, in either encoding.
    Bytes::from_static(if json { b"{}" } else { b"" })
}

/// The OTLP/HTTP receiver's routes.
fn http_receiver_router(received: &Received) -> Router {
    let (t, m) = (received.clone(), received.clone());
    Router::new()
        .route(
            "/v1/traces",
            post(move |headers: http::HeaderMap, body: Bytes| async move {
                otlp_http(&t, &headers, &body, &t.traces)
            }),
        )
        .route(
            "/v1/metrics",
            post(move |headers: http::HeaderMap, body: Bytes| async move {
                otlp_http(&m, &headers, &body, &m.metrics)
            }),
        )
}

async fn http_receiver() -> (SocketAddr, Received) {
    let received = Received::default();
    (serve_axum(http_receiver_router(&received)).await, received)
}

/// The OTLP/HTTP receiver over TLS (rustls) with `config`.
async fn https_receiver(config: rustls::ServerConfig) -> (SocketAddr, Received) {
    let received = Received::default();
    let router = http_receiver_router(&received);
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (acceptor, router) = (acceptor.clone(), router.clone());
            tokio::spawn(async move {
                // A failed handshake (a client that does not trust us) ends this connection.
                let Ok(stream) = acceptor.accept(stream).await else {
                    return;
                };
                let _ = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .serve_connection(
                    hyper_util::rt::TokioIo::new(stream),
                    hyper_util::service::TowerToHyperService::new(router),
                )
                .await;
            });
        }
    });
    (addr, received)
}

/// Telemetry exporting over OTLP to `endpoint` with `protocol` (set in code, as a test can't
/// set the process environment the exporter reads), this setup's variables from `vars`.
fn telemetry(endpoint: String, protocol: &str, vars: &[(&str, String)]) -> Telemetry {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    let protocol = match protocol {
        "grpc" => OtlpProtocol::Grpc,
        "http/json" => OtlpProtocol::HttpJson,
        _ => OtlpProtocol::HttpProtobuf,
    };
    Telemetry::builder("set-in-code")
        .with_vars(move |k| vars.get(k).cloned())
        .with_otlp_endpoint(endpoint)
        .with_otlp_protocol(protocol)
        .strict(true)
        .build()
        .expect("valid configuration")
}

/// A backend and a frontend calling it, both traced and measured with `telemetry`; returns
/// the frontend's address.
async fn services(telemetry: &Telemetry) -> SocketAddr {
    let backend = Router::new()
        .route("/items/{id}", get(|| async { "item" }))
        .layer(
            TraceLayer::server(telemetry.tracer("backend"))
                .with_metrics(&telemetry.meter("backend")),
        );
    let backend = serve_axum(backend).await;
    let client = ServiceBuilder::new()
        .layer(
            ClientTraceLayer::client(telemetry.tracer("frontend"))
                .with_metrics(&telemetry.meter("frontend")),
        )
        .service(http1_client());
    let frontend = Router::new()
        .route(
            "/",
            get(move || {
                let mut client = client.clone();
                async move {
                    let request = Request::get(format!("http://{backend}/items/1"))
                        .body(Full::<Bytes>::default())
                        .unwrap();
                    let response = client.ready().await.unwrap().call(request).await.unwrap();
                    response.into_body().collect().await.unwrap();
                    "front"
                }
            }),
        )
        .layer(
            TraceLayer::server(telemetry.tracer("frontend"))
                .with_metrics(&telemetry.meter("frontend")),
        );
    serve_axum(frontend).await
}

fn string_attr(
    attrs: &[opentelemetry_proto::tonic::common::v1::KeyValue],
    key: &str,
) -> Option<String> {
    attrs.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            AnyValue::StringValue(s) => Some(s.clone()),
            _ => None,
        }
    })
}

fn int_attr(attrs: &[opentelemetry_proto::tonic::common::v1::KeyValue], key: &str) -> Option<i64> {
    attrs.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            AnyValue::IntValue(i) => Some(*i),
            _ => None,
        }
    })
}

async fn run_and_check(protocol: &str, addr: SocketAddr, received: Received) {
    run_and_check_at(protocol, format!("http://{addr}"), &[], received).await;
}

/// Exports a frontend → backend trace and their metrics to `endpoint` (with `vars` too), and
/// checks what the receiver got.
async fn run_and_check_at(
    protocol: &str,
    endpoint: String,
    vars: &[(&str, String)],
    received: Received,
) {
    let mut all = vec![
        ("OTEL_SERVICE_NAME", "otlp-test".to_owned()),
        ("OTEL_METRICS_EXPORTER", "otlp".to_owned()),
    ];
    all.extend(vars.iter().cloned());
    let telemetry = telemetry(endpoint, protocol, &all);
    let front = services(&telemetry).await;
    let (status, _) = integration_tests::get(front, "/", &[]).await;
    assert_eq!(status, 200);
    telemetry.shutdown().await;

    let traces = received.traces.lock().unwrap().clone();
    let resource_spans: Vec<_> = traces.iter().flat_map(|r| &r.resource_spans).collect();
    assert!(!resource_spans.is_empty(), "{protocol}: spans received");
    for rs in &resource_spans {
        let service = string_attr(&rs.resource.as_ref().unwrap().attributes, "service.name");
        assert_eq!(
            service.as_deref(),
            Some("otlp-test"),
            "OTEL_SERVICE_NAME wins over the name in code"
        );
    }
    let spans: Vec<_> = resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| &ss.spans)
        .collect();
    assert_eq!(
        spans.len(),
        3,
        "{protocol}: server A, client, server B: {spans:#?}"
    );
    let server_a = spans.iter().find(|s| s.name == "GET /").unwrap();
    let client = spans
        .iter()
        .find(|s| s.kind == SpanKind::Client as i32)
        .unwrap();
    let server_b = spans.iter().find(|s| s.name == "GET /items/{id}").unwrap();
    assert_eq!(server_a.trace_id.len(), 16);
    assert!(server_a.parent_span_id.is_empty(), "a root");
    assert_eq!(client.parent_span_id, server_a.span_id);
    assert_eq!(server_b.parent_span_id, client.span_id);
    assert!(
        spans.iter().all(|s| s.trace_id == server_a.trace_id),
        "one trace"
    );

    let names: Vec<String> = received.all_metrics().into_iter().map(|m| m.name).collect();
    assert!(
        names.iter().any(|n| n == "http.server.request.duration"),
        "{protocol}: {names:?}"
    );
    assert!(
        names.iter().any(|n| n == "http.client.request.duration"),
        "{protocol}: {names:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_over_grpc() {
    let (addr, received) = grpc_receiver().await;
    run_and_check("grpc", addr, received).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_over_http_protobuf() {
    let (addr, received) = http_receiver().await;
    run_and_check("http/protobuf", addr, received).await;
}

/// OTLP/HTTP with JSON bodies (feature `http-json`): the same trace and metrics arrive, as
/// `application/json`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_over_http_json() {
    let (addr, received) = http_receiver().await;
    run_and_check("http/json", addr, received.clone()).await;
    let content_types = received.content_types.lock().unwrap().clone();
    assert!(!content_types.is_empty());
    assert!(
        content_types.iter().all(|t| t == "application/json"),
        "{content_types:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receiver_down_requests_unaffected_and_shutdown_bounded() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    for protocol in ["grpc", "http/protobuf"] {
        let telemetry = telemetry(format!("http://{closed}"), protocol, &[]);
        let front = services(&telemetry).await;
        for _ in 0..20 {
            assert_eq!(
                integration_tests::get(front, "/", &[]).await.0,
                200,
                "{protocol}"
            );
        }
        let started = Instant::now();
        telemetry.shutdown().await;
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "{protocol}: shutdown took {:?}",
            started.elapsed()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_server_exports_while_it_runs() {
    let (addr, received) = http_receiver().await;
    // The process environment, read by opentelemetry-otlp and the SDK themselves.
    let endpoint = format!("http://{addr}");
    let mut server = integration_tests::ExampleProcess::start(
        "validation_server",
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_SERVICE_NAME", "vs-from-env"),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ],
    );
    let vs = server.addr;
    assert_eq!(integration_tests::get(vs, "/users/1", &[]).await.0, 200);
    // No flush, no shutdown: the batch processor sends it within its schedule delay.
    let deadline = Instant::now() + Duration::from_secs(10);
    let span = loop {
        let found = received
            .traces
            .lock()
            .unwrap()
            .iter()
            .flat_map(|r| r.resource_spans.clone())
            .find_map(|rs| {
                let service = string_attr(&rs.resource.as_ref()?.attributes, "service.name")?;
                let span = rs
                    .scope_spans
                    .iter()
                    .flat_map(|s| &s.spans)
                    .find(|s| s.name == "GET /users/{id}")?
                    .clone();
                Some((service, span))
            });
        if let Some(found) = found {
            break found;
        }
        assert!(
            Instant::now() < deadline,
            "the span did not arrive while the server ran"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        span.0, "vs-from-env",
        "OTEL_SERVICE_NAME, not the name in code"
    );
    // /metrics still works with OTLP configured.
    assert!(
        integration_tests::get(vs, "/metrics", &[])
            .await
            .1
            .contains("http_server_request_duration_seconds")
    );
    server.signal("TERM");
    let status = server.wait_for_exit(Duration::from_secs(10));
    assert!(
        status.is_some_and(|s| s.success()),
        "SIGTERM: exits 0 within the budget: {status:?}\n{}",
        server.stderr()
    );
}

/// On a current-thread runtime (whose one thread the OTLP/gRPC exporter needs), with the
/// collector unreachable or a black hole, `shutdown().await` returns within its budget, for
/// both protocols.
#[tokio::test(flavor = "current_thread")]
async fn shutdown_on_a_current_thread_runtime_stays_within_the_budget() {
    let budget = Duration::from_millis(1500);
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let hole = black_hole().await;
    for (protocol, target, what) in [
        (OtlpProtocol::Grpc, closed, "unreachable"),
        (OtlpProtocol::HttpProtobuf, closed, "unreachable"),
        (OtlpProtocol::Grpc, hole, "black hole"),
        (OtlpProtocol::HttpProtobuf, hole, "black hole"),
    ] {
        let telemetry = Telemetry::builder("current-thread")
            .with_vars(|_| None)
            .with_otlp_endpoint(format!("http://{target}"))
            .with_otlp_protocol(protocol)
            .with_shutdown_budget(budget)
            .on_diagnostic(|_| {})
            .build()
            .unwrap();
        let front = services(&telemetry).await;
        for _ in 0..5 {
            assert_eq!(integration_tests::get(front, "/", &[]).await.0, 200);
        }
        let started = Instant::now();
        telemetry.shutdown().await;
        let took = started.elapsed();
        assert!(
            took < budget + Duration::from_millis(500),
            "{protocol:?}, {what}: shutdown took {took:?} (budget {budget:?})"
        );
    }
}

/// The validation server as users run it, its collector down: requests unaffected, the first
/// export failure on stderr (once), SIGTERM exits 0 within the shutdown budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_with_its_collector_down_reports_once_and_stops_on_sigterm() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let endpoint = format!("http://{closed}");
    let mut server = integration_tests::ExampleProcess::start(
        "validation_server",
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_BSP_SCHEDULE_DELAY", "50"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "500"),
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert_eq!(
            integration_tests::get(server.addr, "/users/1", &[]).await.0,
            200
        );
        if server.stderr().contains("trace export over OTLP failed") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no failure reported: {}",
            server.stderr()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // More failures within the minute are counted, not printed.
    for _ in 0..5 {
        integration_tests::get(server.addr, "/users/1", &[]).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        server
            .stderr()
            .matches("trace export over OTLP failed")
            .count(),
        1,
        "{}",
        server.stderr()
    );
    let stopping = Instant::now();
    server.signal("TERM");
    let status = server.wait_for_exit(Duration::from_secs(8));
    assert!(
        status.is_some_and(|s| s.success()),
        "SIGTERM: {status:?} after {:?}\n{}",
        stopping.elapsed(),
        server.stderr()
    );
    assert!(
        stopping.elapsed() < Duration::from_secs(6),
        "within the 5 s budget"
    );
}

/// Sends `GET path` over a new HTTP/1.1 connection; the answer's status line and body, or
/// `None` when the connection closed without an answer.
async fn raw_get(addr: SocketAddr, path: String) -> Option<String> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    let head = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await.ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.ok()?;
    (!answer.is_empty()).then_some(answer)
}

/// The validation server as deployed, stopped by SIGTERM and by SIGINT while 20 clients are
/// stalled in the middle of a request head and two requests are in flight: it exits 0 within
/// the drain deadline (4 s) plus the telemetry budget (5 s); the request that finishes within
/// the deadline is answered, the one that would not is cut; the spans of what completed reach
/// the collector before exit (the batch delay is 60 s: only the shutdown's flush sends them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_drain_within_the_deadline_despite_stalled_clients_and_flush() {
    use tokio::io::AsyncWriteExt as _;
    // Downstreams for `/forward`: one answers after 1 s, one after a minute.
    let downstream = integration_tests::serve_axum(
        Router::new()
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    "slow"
                }),
            )
            .route(
                "/hang",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    "never"
                }),
            ),
    )
    .await;
    let run = |signal: &'static str| async move {
        let (collector, received) = http_receiver().await;
        let endpoint = format!("http://{collector}");
        let mut server = integration_tests::ExampleProcess::start(
            "validation_server",
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
                ("OTEL_BSP_SCHEDULE_DELAY", "60000"),
            ],
        );
        let vs = server.addr;
        let mut stalled = Vec::new();
        for _ in 0..20 {
            let mut stream = tokio::net::TcpStream::connect(vs).await.unwrap();
            stream.write_all(b"GET / HT").await.unwrap();
            stalled.push(stream);
        }
        let finishing = tokio::spawn(raw_get(vs, format!("/forward?to=http://{downstream}/slow")));
        let hanging = tokio::spawn(raw_get(vs, format!("/forward?to=http://{downstream}/hang")));
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (status, took) = server.stop(signal, Duration::from_secs(15)).await;
        assert!(
            status.is_some_and(|s| s.success()),
            "SIG{signal}: {status:?} after {took:?}\n{}",
            server.stderr()
        );
        // The drain waited for the hanging request until its deadline, not for the stalled
        // clients (which would never finish) nor for the minute the downstream takes.
        assert!(
            took >= Duration::from_secs(4) && took < Duration::from_secs(9),
            "SIG{signal}: exit after {took:?}"
        );
        assert!(
            server
                .stderr()
                .contains("connections cut at the drain deadline"),
            "{}",
            server.stderr()
        );
        let finished = finishing.await.unwrap().expect("answered");
        assert!(
            finished.starts_with("HTTP/1.1 200 OK\r\n") && finished.ends_with("200"),
            "{finished}"
        );
        assert_eq!(hanging.await.unwrap(), None, "cut at the drain deadline");
        drop(stalled);
        // Flushed at shutdown: the completed request's server span and its client span.
        let spans = received.spans();
        let server_span = spans
            .iter()
            .find(|s| {
                s.name == "GET /forward"
                    && int_attr(&s.attributes, "http.response.status_code") == Some(200)
            })
            .unwrap_or_else(|| panic!("SIG{signal}: no completed /forward span in {spans:?}"));
        // `serve` handed the layer the peer's address.
        assert_eq!(
            string_attr(&server_span.attributes, "client.address").as_deref(),
            Some("127.0.0.1")
        );
        assert!(int_attr(&server_span.attributes, "network.peer.port").is_some_and(|p| p > 0));
        assert!(
            spans.iter().any(|s| s.name == "GET"
                && s.kind == SpanKind::Client as i32
                && s.parent_span_id == server_span.span_id),
            "SIG{signal}: the downstream call's client span"
        );
    };
    tokio::join!(run("TERM"), run("INT"));
}

// === TLS, gzip, exponential histograms ===

/// A CA made for the test, a server certificate for `localhost` and a client certificate it
/// signed, as PEM strings and as files (what the `OTEL_EXPORTER_OTLP_*CERTIFICATE` variables
/// name).
struct Pki {
    ca_pem: String,
    server: (String, String),
    ca_file: String,
    client_cert_file: String,
    client_key_file: String,
}

fn pki() -> Pki {
    // The test receivers' TLS (tonic's server, rustls) needs a process-wide crypto provider
    // when, as here, both ring and aws-lc-rs are compiled in. The exporters do not: the setup
    // gives both transports ring explicitly (the process test below installs nothing).
    let _ = rustls::crypto::ring::default_provider().install_default();
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "tower-telemetry test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, &ca_key);
    let leaf = |name: &str| {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec![name.to_owned()])
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let server = leaf("localhost");
    let client = leaf("client");
    let dir = std::env::temp_dir().join(format!(
        "tower-telemetry-pki-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, contents: &str| {
        let path = dir.join(name);
        std::fs::write(&path, contents).unwrap();
        path.to_str().unwrap().to_owned()
    };
    Pki {
        ca_pem: ca.pem(),
        ca_file: write("ca.pem", &ca.pem()),
        client_cert_file: write("client.pem", &client.0),
        client_key_file: write("client-key.pem", &client.1),
        server,
    }
}

impl Pki {
    /// tonic's server configuration: the server certificate, client certificates required.
    fn grpc_server(&self) -> tonic::transport::ServerTlsConfig {
        use tonic::transport::{Certificate, Identity, ServerTlsConfig};
        ServerTlsConfig::new()
            .identity(Identity::from_pem(&self.server.0, &self.server.1))
            .client_ca_root(Certificate::from_pem(&self.ca_pem))
    }

    /// rustls' server configuration: the same.
    fn http_server(&self) -> rustls::ServerConfig {
        use rustls::pki_types::pem::PemObject as _;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(self.ca_pem.as_bytes()).unwrap())
            .unwrap();
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            roots.into(),
            provider.clone(),
        )
        .build()
        .unwrap();
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                vec![CertificateDer::from_pem_slice(self.server.0.as_bytes()).unwrap()],
                PrivateKeyDer::from_pem_slice(self.server.1.as_bytes()).unwrap(),
            )
            .unwrap()
    }

    /// The variables that make the exporters trust the CA and present the client certificate.
    fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", self.ca_file.clone()),
            (
                "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
                self.client_cert_file.clone(),
            ),
            (
                "OTEL_EXPORTER_OTLP_CLIENT_KEY",
                self.client_key_file.clone(),
            ),
        ]
    }
}

/// OTLP over TLS to receivers on 127.0.0.1 (`https://localhost:PORT`) whose certificate a CA
/// made here signed and which require a client certificate: with the variables naming the CA
/// and the client certificate, spans and metrics arrive over both protocols.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_over_mutual_tls_with_a_private_ca() {
    let pki = pki();
    let (addr, received) = grpc_receiver_with(Some(pki.grpc_server())).await;
    let endpoint = format!("https://localhost:{}", addr.port());
    run_and_check_at("grpc", endpoint, &pki.vars(), received).await;
    let (addr, received) = https_receiver(pki.http_server()).await;
    let endpoint = format!("https://localhost:{}", addr.port());
    run_and_check_at("http/protobuf", endpoint, &pki.vars(), received).await;
}

/// Without the CA (the public roots only) the same receivers are not trusted: nothing
/// arrives, the failure is reported, requests are unaffected, shutdown stays bounded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_over_tls_without_the_ca_is_refused_and_reported() {
    let pki = pki();
    let (grpc, grpc_received) = grpc_receiver_with(Some(pki.grpc_server())).await;
    let (http, http_received) = https_receiver(pki.http_server()).await;
    for (protocol, addr, received) in [
        (OtlpProtocol::Grpc, grpc, grpc_received),
        (OtlpProtocol::HttpProtobuf, http, http_received),
    ] {
        let seen = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = Arc::clone(&seen);
        let telemetry = Telemetry::builder("untrusted")
            .with_vars(|k| (k == "OTEL_METRICS_EXPORTER").then(|| "otlp".to_owned()))
            .with_otlp_endpoint(format!("https://localhost:{}", addr.port()))
            .with_otlp_protocol(protocol)
            .with_shutdown_budget(Duration::from_secs(3))
            .on_diagnostic(move |m| sink.lock().unwrap().push(m.to_owned()))
            .build()
            .unwrap();
        let front = services(&telemetry).await;
        assert_eq!(integration_tests::get(front, "/", &[]).await.0, 200);
        telemetry.shutdown().await;
        assert!(received.traces.lock().unwrap().is_empty(), "{protocol:?}");
        let seen = seen.lock().unwrap().clone();
        // The export fails in the shutdown's flush: the exporter's shutdown line says so.
        assert!(
            seen.iter()
                .any(|m| m.starts_with("trace export over OTLP: failed: ")),
            "{protocol:?}: {seen:?}"
        );
    }
}

fn histogram_kinds(received: &Received, name: &str) -> Vec<&'static str> {
    use opentelemetry_proto::tonic::metrics::v1::metric::Data;
    received
        .all_metrics()
        .into_iter()
        .filter(|m| m.name == name)
        .map(|m| match &m.data {
            Some(Data::Histogram(_)) => "explicit",
            Some(Data::ExponentialHistogram(h)) => {
                assert!(h.data_points.iter().all(|p| p.count >= 1 && p.scale <= 20));
                "exponential"
            }
            _ => "other",
        })
        .collect()
}

/// `OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION=base2_exponential_bucket_histogram`:
/// the durations arrive as base-2 exponential histograms, over both protocols; without it, with
/// explicit buckets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exponential_histograms_arrive_over_otlp_when_asked_for() {
    for protocol in ["grpc", "http/protobuf"] {
        for (value, expected) in [
            ("base2_exponential_bucket_histogram", "exponential"),
            ("explicit_bucket_histogram", "explicit"),
        ] {
            let (addr, received) = if protocol == "grpc" {
                grpc_receiver().await
            } else {
                http_receiver().await
            };
            let vars = [(
                "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION",
                value.to_owned(),
            )];
            run_and_check_at(protocol, format!("http://{addr}"), &vars, received.clone()).await;
            for name in [
                "http.server.request.duration",
                "http.client.request.duration",
            ] {
                let kinds = histogram_kinds(&received, name);
                assert!(!kinds.is_empty(), "{protocol} {value}: {name} arrived");
                assert!(
                    kinds.iter().all(|k| *k == expected),
                    "{protocol} {value}: {name}: {kinds:?}"
                );
            }
        }
    }
}

/// The validation server as users run it, configured by its process environment alone (read
/// by `opentelemetry-otlp`: endpoint, protocol, compression; by the setup: the certificate
/// files): OTLP over mutual TLS with gzip, both protocols; every export arrives compressed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_exports_over_tls_with_gzip() {
    let pki = pki();
    let (grpc, grpc_received) = grpc_receiver_with(Some(pki.grpc_server())).await;
    let (http, http_received) = https_receiver(pki.http_server()).await;
    for (protocol, addr, received) in [
        ("grpc", grpc, grpc_received),
        ("http/protobuf", http, http_received),
    ] {
        let endpoint = format!("https://localhost:{}", addr.port());
        let mut env: Vec<(&str, String)> = vec![
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol.to_owned()),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip".to_owned()),
            ("OTEL_BSP_SCHEDULE_DELAY", "100".to_owned()),
        ];
        env.extend(pki.vars());
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut server = integration_tests::ExampleProcess::start("validation_server", &env);
        assert_eq!(
            integration_tests::get(server.addr, "/users/1", &[]).await.0,
            200
        );
        let (status, _) = server.stop("TERM", Duration::from_secs(10)).await;
        assert!(
            status.is_some_and(|s| s.success()),
            "{protocol}: {status:?}\n{}",
            server.stderr()
        );
        let spans: Vec<String> = received.spans().into_iter().map(|s| s.name).collect();
        assert!(
            spans.iter().any(|n| n == "GET /users/{id}"),
            "{protocol}: {spans:?}\n{}",
            server.stderr()
        );
        let encodings = received.encodings.lock().unwrap().clone();
        assert!(
            !encodings.is_empty() && encodings.iter().all(|e| e == "gzip"),
            "{protocol}: {encodings:?}"
        );
    }
}

/// A stop sent the moment the server says it is up (before any request) is handled — the
/// handlers are installed before the "listening" line — for SIGTERM and SIGINT, a few times
/// each: exit 0, never killed by the signal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_right_after_startup_is_handled() {
    for signal in ["TERM", "INT", "TERM", "INT", "TERM"] {
        let mut server = integration_tests::ExampleProcess::start("validation_server", &[]);
        let (status, took) = server.stop(signal, Duration::from_secs(10)).await;
        assert!(
            status.is_some_and(|s| s.success()),
            "SIG{signal}: {status:?} after {took:?}\n{}",
            server.stderr()
        );
    }
}
