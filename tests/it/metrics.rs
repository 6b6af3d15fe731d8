//! RED metrics with the SDK's in-memory exporter (collections forced, no sleeps for the
//! assertions), on real servers on 127.0.0.1 (semconv "HTTP metrics" and "RPC metrics").

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use integration_tests::grpc::{channel, say, stream};
use integration_tests::point;
use integration_tests::{Metrics, Tracing, http1_client, serve_axum};
use tokio::io::AsyncWriteExt;
use tower::{Layer, ServiceExt, service_fn};
use tower_telemetry_metrics::{DURATION_BUCKETS, MetricsLayer, WithMetrics};
use tower_telemetry_trace::{ClientTraceLayer, RpcConventions, TraceLayer};

fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

async fn get_status(addr: std::net::SocketAddr, path: &str) -> u16 {
    integration_tests::get(addr, path, &[]).await.0.as_u16()
}

fn app(metrics: &Metrics) -> Router {
    Router::new()
        .route("/users/{id}", get(|| async { "user" }))
        .route(
            "/fail",
            get(|| async { (http::StatusCode::INTERNAL_SERVER_ERROR, "no") }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(30)).await;
                "slow"
            }),
        )
        .layer(MetricsLayer::server(&metrics.meter()))
}

#[tokio::test]
async fn server_duration_histogram_per_route_and_status() {
    let metrics = Metrics::new();
    let addr = serve_axum(app(&metrics)).await;
    for _ in 0..3 {
        assert_eq!(get_status(addr, "/users/1").await, 200);
    }
    assert_eq!(get_status(addr, "/missing").await, 404);
    assert_eq!(get_status(addr, "/fail").await, 500);
    assert_eq!(get_status(addr, "/slow").await, 200);

    let points = metrics.histogram("http.server.request.duration");
    assert_eq!(
        metrics.unit("http.server.request.duration").as_deref(),
        Some("s")
    );
    let ok = point(
        &points,
        &[
            ("http.request.method", "GET"),
            ("url.scheme", "http"),
            ("http.response.status_code", "200"),
            ("http.route", "/users/{id}"),
            ("network.protocol.version", "1.1"),
        ],
    );
    assert_eq!(ok.count, 3, "52: once per request");
    assert_eq!(
        ok.bounds, DURATION_BUCKETS,
        "52: the 14 advisory buckets, in seconds"
    );
    assert_eq!(ok.buckets.iter().sum::<u64>(), 3);
    assert!(ok.sum > 0.0 && ok.sum < 3.0);

    // 404 without a route: no http.route, no error.type, never the path.
    let not_found = point(
        &points,
        &[
            ("http.request.method", "GET"),
            ("url.scheme", "http"),
            ("http.response.status_code", "404"),
            ("network.protocol.version", "1.1"),
        ],
    );
    assert_eq!(not_found.count, 1);
    let failed = point(
        &points,
        &[
            ("http.request.method", "GET"),
            ("url.scheme", "http"),
            ("http.response.status_code", "500"),
            ("http.route", "/fail"),
            ("network.protocol.version", "1.1"),
            ("error.type", "500"),
        ],
    );
    assert_eq!(failed.count, 1);

    // Bucket placement: a 30 ms handler is never in the buckets up to 25 ms.
    let slow = points
        .iter()
        .find(|p| p.attributes.get("http.route").map(String::as_str) == Some("/slow"))
        .unwrap();
    assert_eq!(slow.count, 1);
    assert_eq!(
        &slow.buckets[..3],
        &[0, 0, 0],
        "≤ 5 ms, ≤ 10 ms, ≤ 25 ms are empty: {:?}",
        slow.buckets
    );
    assert!(slow.sum >= 0.030, "{}", slow.sum);
    let labels: Vec<&String> = points.iter().flat_map(|p| p.attributes.keys()).collect();
    assert!(
        labels
            .iter()
            .all(|k| !["url.path", "server.address", "client.address"].contains(&k.as_str())),
        "no path or host labels"
    );

    // The gauge is back to zero.
    let active = metrics.sum("http.server.active_requests");
    assert_eq!(
        active,
        vec![(
            attrs(&[("http.request.method", "GET"), ("url.scheme", "http")]),
            0
        )],
        "53"
    );
    assert_eq!(
        metrics.unit("http.server.active_requests").as_deref(),
        Some("{request}")
    );
}

#[tokio::test]
async fn random_unmatched_paths_create_no_new_series() {
    let metrics = Metrics::new();
    let addr = serve_axum(app(&metrics)).await;
    for i in 0..1000u32 {
        let path = format!("/random/{}/{}", i.wrapping_mul(2_654_435_761), i);
        assert_eq!(get_status(addr, &path).await, 404);
    }
    let points = metrics.histogram("http.server.request.duration");
    assert_eq!(
        points.len(),
        1,
        "one series for 1,000 distinct paths: {points:#?}"
    );
    assert_eq!(points[0].count, 1000);
}

#[tokio::test]
async fn active_requests_while_in_flight_and_after_a_disconnect() {
    let metrics = Metrics::new();
    let (release, wait) = tokio::sync::oneshot::channel::<()>();
    let wait = std::sync::Arc::new(tokio::sync::Mutex::new(Some(wait)));
    let router = Router::new()
        .route(
            "/hold",
            get(move || {
                let wait = wait.clone();
                async move {
                    if let Some(w) = wait.lock().await.take() {
                        let _ = w.await;
                    }
                    "held"
                }
            }),
        )
        .layer(MetricsLayer::server(&metrics.meter()));
    let addr = serve_axum(router).await;

    // A client that sends a request and hangs up while the handler still runs.
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    socket
        .write_all(b"GET /hold HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while metrics
        .sum("http.server.active_requests")
        .first()
        .map(|(_, v)| *v)
        != Some(1)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the request never became active"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    drop(socket);
    // hyper notices the disconnect and drops the handler's future.
    while metrics.histogram("http.server.request.duration").is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the dropped request was never recorded"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    drop(release);
    let points = metrics.histogram("http.server.request.duration");
    assert_eq!(points.len(), 1);
    assert_eq!(points[0].count, 1, "recorded once");
    assert_eq!(
        points[0].attributes.get("error.type").map(String::as_str),
        Some("cancelled")
    );
    assert_eq!(
        points[0].attributes.get("http.route").map(String::as_str),
        Some("/hold")
    );
    assert_eq!(
        metrics.sum("http.server.active_requests")[0].1,
        0,
        "53: back to zero after the drop"
    );
}

#[tokio::test]
async fn streamed_body_duration_covers_the_whole_body() {
    let metrics = Metrics::new();
    let router = Router::new()
        .route(
            "/stream",
            get(|| async {
                let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, Infallible>>(2);
                tokio::spawn(async move {
                    tx.send(Ok(Bytes::from_static(b"first"))).await.unwrap();
                    tokio::time::sleep(Duration::from_millis(80)).await;
                    tx.send(Ok(Bytes::from_static(b"last"))).await.unwrap();
                });
                axum::body::Body::from_stream(ReceiverStream(rx))
            }),
        )
        .layer(MetricsLayer::server(&metrics.meter()).with_body_sizes(true));
    let addr = serve_axum(router).await;
    let (status, body) = integration_tests::get(addr, "/stream", &[]).await;
    assert_eq!((status.as_u16(), body.as_str()), (200, "firstlast"));
    let point = &metrics.histogram("http.server.request.duration")[0];
    assert!(
        point.sum >= 0.080,
        "the duration includes the 80 ms between chunks: {}",
        point.sum
    );
    let size = &metrics.histogram("http.server.response.body.size")[0];
    assert_eq!((size.count, size.sum), (1, 9.0), "9 bytes went out");
    assert_eq!(
        metrics.unit("http.server.response.body.size").as_deref(),
        Some("By")
    );
}

struct ReceiverStream(tokio::sync::mpsc::Receiver<Result<Bytes, Infallible>>);

impl futures_core::Stream for ReceiverStream {
    type Item = Result<Bytes, Infallible>;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}

#[tokio::test]
async fn inner_service_error_is_recorded_and_passed_through() {
    let metrics = Metrics::new();
    let svc =
        MetricsLayer::server(&metrics.meter()).layer(service_fn(|_: Request<Full<Bytes>>| async {
            Err::<http::Response<Full<Bytes>>, _>(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "slow backend",
            ))
        }));
    let err = svc
        .oneshot(Request::get("/x").body(Full::default()).unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    let points = metrics.histogram("http.server.request.duration");
    assert_eq!(
        points[0].attributes.get("error.type").map(String::as_str),
        Some("timeout")
    );
    assert!(
        !points[0]
            .attributes
            .contains_key("http.response.status_code"),
        "no response"
    );
    assert_eq!(metrics.sum("http.server.active_requests")[0].1, 0);
}

async fn grpc_server(metrics: &Metrics, rpc: RpcConventions) -> std::net::SocketAddr {
    let layer = MetricsLayer::server(&metrics.meter()).with_rpc_conventions(rpc);
    integration_tests::serve_echo!(layer).await
}

#[tokio::test]
async fn grpc_server_call_duration_with_status_from_trailers() {
    let metrics = Metrics::new();
    let addr = grpc_server(&metrics, RpcConventions::Current).await;
    say(channel(addr).await, "hi", &[]).await.unwrap();
    say(channel(addr).await, "fail:5", &[]).await.unwrap_err();
    say(channel(addr).await, "fail:13", &[]).await.unwrap_err();
    let _ = stream(channel(addr).await, "2:15").await;
    let points = metrics.histogram("rpc.server.call.duration");
    assert_eq!(
        metrics.unit("rpc.server.call.duration").as_deref(),
        Some("s"),
        "58"
    );
    let base = [("rpc.system.name", "grpc")];
    let with = |extra: &[(&'static str, &'static str)]| -> Vec<(&'static str, &'static str)> {
        base.iter().chain(extra).copied().collect()
    };
    assert_eq!(
        point(
            &points,
            &with(&[("rpc.method", "test.Echo/Say"), ("rpc.status_code", "OK")])
        )
        .count,
        1
    );
    assert_eq!(
        point(
            &points,
            &with(&[
                ("rpc.method", "test.Echo/Say"),
                ("rpc.status_code", "NOT_FOUND")
            ])
        )
        .count,
        1,
        "Trailers-Only, not a server error"
    );
    assert_eq!(
        point(
            &points,
            &with(&[
                ("rpc.method", "test.Echo/Say"),
                ("rpc.status_code", "INTERNAL"),
                ("error.type", "INTERNAL")
            ])
        )
        .count,
        1
    );
    let streamed = point(
        &points,
        &with(&[
            ("rpc.method", "test.Echo/Stream"),
            ("rpc.status_code", "DATA_LOSS"),
            ("error.type", "DATA_LOSS"),
        ]),
    );
    assert_eq!(streamed.count, 1, "59: read from the trailers");
    assert_eq!(streamed.bounds, DURATION_BUCKETS);
    assert!(
        metrics.histogram("http.server.request.duration").is_empty(),
        "gRPC calls are not HTTP requests"
    );
}

#[tokio::test]
async fn grpc_classic_conventions_in_milliseconds() {
    let metrics = Metrics::new();
    let addr = grpc_server(&metrics, RpcConventions::Classic).await;
    say(channel(addr).await, "sleep:20", &[]).await.unwrap();
    let points = metrics.histogram("rpc.server.duration");
    assert_eq!(
        metrics.unit("rpc.server.duration").as_deref(),
        Some("ms"),
        "58: classic unit"
    );
    let p = point(
        &points,
        &[
            ("rpc.system", "grpc"),
            ("rpc.service", "test.Echo"),
            ("rpc.method", "Say"),
            ("rpc.grpc.status_code", "0"),
        ],
    );
    assert!(p.sum >= 20.0, "milliseconds: {}", p.sum);
}

#[tokio::test]
async fn unimplemented_grpc_methods_are_other() {
    let metrics = Metrics::new();
    let addr = grpc_server(&metrics, RpcConventions::Current).await;
    for i in 0..20 {
        let mut grpc = tonic::client::Grpc::new(channel(addr).await);
        grpc.ready().await.unwrap();
        let path: http::uri::PathAndQuery = format!("/test.Echo/Nope{i}").parse().unwrap();
        let _ = grpc
            .unary(
                tonic::Request::new(Bytes::new()),
                path,
                integration_tests::grpc::BytesCodec,
            )
            .await;
    }
    let points = metrics.histogram("rpc.server.call.duration");
    assert_eq!(points.len(), 1, "{points:#?}");
    assert_eq!(
        points[0].attributes.get("rpc.method").map(String::as_str),
        Some("_OTHER")
    );
    assert_eq!(points[0].count, 20);
}

#[tokio::test]
async fn fused_layer_span_and_histogram_are_one_measurement() {
    let tracing = Tracing::new();
    let metrics = Metrics::new();
    let router = Router::new()
        .route(
            "/users/{id}",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(5)).await;
                "u"
            }),
        )
        .layer(TraceLayer::server(tracing.tracer()).with_metrics(&metrics.meter()));
    let addr = serve_axum(router).await;
    assert_eq!(get_status(addr, "/users/9").await, 200);
    let span = &tracing.wait_for(1).await[0];
    let point = &metrics.histogram("http.server.request.duration")[0];
    let span_seconds = span
        .end_time
        .duration_since(span.start_time)
        .unwrap()
        .as_secs_f64();
    assert_eq!(point.sum, span_seconds, "the same clock readings");
    assert_eq!(
        point.attributes.get("http.route").map(String::as_str),
        Some("/users/{id}")
    );
}

#[tokio::test]
async fn client_duration_with_server_address() {
    let metrics = Metrics::new();
    let tracing = Tracing::new();
    let addr = serve_axum(app(&metrics)).await;
    let client_metrics = Metrics::new();
    let mut client = tower::ServiceBuilder::new()
        .layer(ClientTraceLayer::client(tracing.tracer()).with_metrics(&client_metrics.meter()))
        .service(http1_client());
    for path in ["/users/1", "/missing"] {
        let request = Request::get(format!("http://{addr}{path}"))
            .body(Full::<Bytes>::default())
            .unwrap();
        let response = tower::Service::call(client.ready().await.unwrap(), request)
            .await
            .unwrap();
        response.into_body().collect().await.unwrap();
    }
    let points = client_metrics.histogram("http.client.request.duration");
    let port = addr.port().to_string();
    let base = |status: &'static str| {
        vec![
            ("http.request.method", "GET"),
            ("server.address", "127.0.0.1"),
            ("server.port", port.as_str()),
            ("http.response.status_code", status),
            ("network.protocol.version", "1.1"),
        ]
    };
    assert_eq!(point(&points, &base("200")).count, 1);
    let mut not_found = base("404");
    not_found.push(("error.type", "404"));
    assert_eq!(point(&points, &not_found).count, 1, "client 4xx are errors");
    // The client span and the client histogram are the same measurement too.
    let spans = tracing.wait_for(2).await;
    let mut span_sums: Vec<f64> = spans
        .iter()
        .map(|s| {
            s.end_time
                .duration_since(s.start_time)
                .unwrap()
                .as_secs_f64()
        })
        .collect();
    let mut point_sums: Vec<f64> = points.iter().map(|p| p.sum).collect();
    span_sums.sort_by(f64::total_cmp);
    point_sums.sort_by(f64::total_cmp);
    assert_eq!(span_sums, point_sums);
}

#[tokio::test]
async fn prometheus_text_exposition() {
    use opentelemetry::metrics::MeterProvider as _;
    let (reader, endpoint) = tower_telemetry_metrics::prometheus::exporter().unwrap();
    let provider = opentelemetry_sdk::metrics::SdkMeterProvider::builder()
        .with_reader(reader)
        .build();
    let router = Router::new()
        .route("/users/{id}", get(|| async { "u" }))
        .layer(MetricsLayer::server(&provider.meter("svc")))
        .route_service("/metrics", endpoint);
    let addr = serve_axum(router).await;
    get_status(addr, "/users/1").await;
    let response = http1_client()
        .request(
            Request::get(format!("http://{addr}/metrics"))
                .body(Full::default())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        response.headers()["content-type"],
        tower_telemetry_metrics::prometheus::CONTENT_TYPE
    );
    let text = String::from_utf8(
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    assert!(
        text.contains("# TYPE http_server_request_duration_seconds histogram"),
        "{text}"
    );
    let bucket = text
        .lines()
        .find(|l| {
            l.starts_with("http_server_request_duration_seconds_bucket")
                && l.contains(r#"le="+Inf""#)
        })
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        bucket.contains(r#"http_route="/users/{id}""#) && bucket.ends_with(" 1"),
        "{bucket}"
    );
    assert!(text.contains("http_server_active_requests"), "{text}");
}

#[tokio::test]
async fn grpc_client_call_duration() {
    let server_metrics = Metrics::new();
    let addr = grpc_server(&server_metrics, RpcConventions::Current).await;
    let metrics = Metrics::new();
    let client = tower::ServiceBuilder::new()
        .layer(MetricsLayer::client(&metrics.meter()))
        .service(channel(addr).await);
    say(client.clone(), "hi", &[]).await.unwrap();
    say(client.clone(), "fail:5", &[]).await.unwrap_err();
    let _ = stream(client, "1:14").await;
    let points = metrics.histogram("rpc.client.call.duration");
    let base = [("rpc.system.name", "grpc")];
    let with = |extra: &[(&'static str, &'static str)]| -> Vec<(&'static str, &'static str)> {
        base.iter().chain(extra).copied().collect()
    };
    assert_eq!(
        point(
            &points,
            &with(&[("rpc.method", "test.Echo/Say"), ("rpc.status_code", "OK")])
        )
        .count,
        1
    );
    assert_eq!(
        point(
            &points,
            &with(&[
                ("rpc.method", "test.Echo/Say"),
                ("rpc.status_code", "NOT_FOUND"),
                ("error.type", "NOT_FOUND")
            ])
        )
        .count,
        1,
        "any code but OK is a client error"
    );
    assert_eq!(
        point(
            &points,
            &with(&[
                ("rpc.method", "test.Echo/Stream"),
                ("rpc.status_code", "UNAVAILABLE"),
                ("error.type", "UNAVAILABLE")
            ])
        )
        .count,
        1,
        "from the trailers"
    );
}

#[tokio::test]
async fn client_targets_are_capped() {
    use tower_telemetry_metrics::MAX_SERVER_TARGETS;
    let metrics = Metrics::new();
    let mut client = tower::ServiceBuilder::new()
        .layer(MetricsLayer::client(&metrics.meter()))
        .service(http1_client());
    // 5,000 distinct loopback targets chosen by "callers", below the ephemeral port range the
    // other tests' listeners get theirs from: nothing listens there (refused at once),
    // each call is still recorded, with `error.type=connect`.
    let targets = 5_000u16;
    for port in 0..targets {
        let request = Request::get(format!("http://127.0.0.1:{}/", 20_000 + port))
            .body(Full::<Bytes>::default())
            .unwrap();
        let _ = tower::Service::call(client.ready().await.unwrap(), request).await;
    }
    let points = metrics.histogram("http.client.request.duration");
    assert_eq!(
        points.len(),
        MAX_SERVER_TARGETS + 1,
        "the cap, then one overflow series"
    );
    let other = points
        .iter()
        .find(|p| p.attributes.get("server.address").map(String::as_str) == Some("_OTHER"))
        .unwrap_or_else(|| panic!("{points:#?}"));
    assert!(!other.attributes.contains_key("server.port"));
    assert_eq!(other.count, u64::from(targets) - MAX_SERVER_TARGETS as u64);
    assert_eq!(
        points.iter().map(|p| p.count).sum::<u64>(),
        u64::from(targets)
    );
}

/// `rpc.client.call.duration` names the server: `server.address` and `server.port` are
/// conditionally required there ("RPC metrics" page, semconv 1.45.0), and opt-in on the
/// server's duration, which has neither.
#[tokio::test]
async fn grpc_client_call_duration_names_the_server() {
    let server_metrics = Metrics::new();
    let addr = grpc_server(&server_metrics, RpcConventions::Current).await;
    let metrics = Metrics::new();
    let client = tower::ServiceBuilder::new()
        .layer(MetricsLayer::client(&metrics.meter()).with_server_address(addr.to_string()))
        .service(channel(addr).await);
    say(client, "fail:3", &[]).await.unwrap_err();
    let port = addr.port().to_string();
    let points = metrics.histogram("rpc.client.call.duration");
    assert_eq!(
        point(
            &points,
            &[
                ("rpc.system.name", "grpc"),
                ("rpc.method", "test.Echo/Say"),
                ("rpc.status_code", "INVALID_ARGUMENT"),
                ("error.type", "INVALID_ARGUMENT"),
                ("server.address", "127.0.0.1"),
                ("server.port", &port),
            ]
        )
        .count,
        1,
        "any code but OK is a client error"
    );
    let server = server_metrics.histogram("rpc.server.call.duration");
    assert_eq!(
        point(
            &server,
            &[
                ("rpc.system.name", "grpc"),
                ("rpc.method", "test.Echo/Say"),
                ("rpc.status_code", "INVALID_ARGUMENT"),
            ]
        )
        .count,
        1,
        "not a server error; no server.* on the server's metric"
    );
}

/// The classic `rpc.client.duration` names the server as the current instrument does:
/// `server.address` and `server.port` ("RPC metrics" page, semconv 1.37.0: conditionally
/// required on the client).
#[tokio::test]
async fn grpc_classic_client_duration_names_the_server() {
    let server_metrics = Metrics::new();
    let addr = grpc_server(&server_metrics, RpcConventions::Current).await;
    let metrics = Metrics::new();
    let client = tower::ServiceBuilder::new()
        .layer(
            MetricsLayer::client(&metrics.meter())
                .with_rpc_conventions(RpcConventions::Classic)
                .with_server_address(addr.to_string()),
        )
        .service(channel(addr).await);
    say(client, "fail:3", &[]).await.unwrap_err();
    let port = addr.port().to_string();
    let points = metrics.histogram("rpc.client.duration");
    assert_eq!(
        point(
            &points,
            &[
                ("rpc.system", "grpc"),
                ("rpc.service", "test.Echo"),
                ("rpc.method", "Say"),
                ("rpc.grpc.status_code", "3"),
                ("error.type", "INVALID_ARGUMENT"),
                ("server.address", "127.0.0.1"),
                ("server.port", &port),
            ]
        )
        .count,
        1,
        "{points:#?}"
    );
    assert!(metrics.histogram("rpc.client.call.duration").is_empty());
}

/// `RpcConventions::Both` (`rpc/dup`): both instruments, each with its own generation's
/// attributes, one recording each per call.
#[tokio::test]
async fn grpc_both_conventions_record_both_instruments() {
    let metrics = Metrics::new();
    let addr = grpc_server(&metrics, RpcConventions::Both).await;
    say(channel(addr).await, "sleep:20", &[]).await.unwrap();
    say(channel(addr).await, "fail:13", &[]).await.unwrap_err();
    assert_eq!(
        metrics.unit("rpc.server.call.duration").as_deref(),
        Some("s")
    );
    assert_eq!(metrics.unit("rpc.server.duration").as_deref(), Some("ms"));
    let current = metrics.histogram("rpc.server.call.duration");
    let ok = point(
        &current,
        &[
            ("rpc.system.name", "grpc"),
            ("rpc.method", "test.Echo/Say"),
            ("rpc.status_code", "OK"),
        ],
    );
    point(
        &current,
        &[
            ("rpc.system.name", "grpc"),
            ("rpc.method", "test.Echo/Say"),
            ("rpc.status_code", "INTERNAL"),
            ("error.type", "INTERNAL"),
        ],
    );
    let classic = metrics.histogram("rpc.server.duration");
    let classic_ok = point(
        &classic,
        &[
            ("rpc.system", "grpc"),
            ("rpc.service", "test.Echo"),
            ("rpc.method", "Say"),
            ("rpc.grpc.status_code", "0"),
        ],
    );
    assert_eq!((ok.count, classic_ok.count), (1, 1));
    assert!(ok.sum >= 0.020, "seconds: {}", ok.sum);
    assert!(
        (classic_ok.sum - ok.sum * 1000.0).abs() < 1e-6,
        "one measurement in two units: {} ms, {} s",
        classic_ok.sum,
        ok.sum
    );
    assert_eq!(classic.len(), 2);
}
