//! One request, one set of facts: a fused trace + metrics layer follows one configuration,
//! computes each fact once and judges each request once, so the span and the metrics can't
//! disagree. Real servers and clients on 127.0.0.1, in-memory exporters.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::routing::get;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use integration_tests::grpc::{channel, say};
use integration_tests::seconds;
use integration_tests::{
    HistogramPoint, Metrics, Tracing, attr_i64, attr_str, get as http_get, http1_client,
    serve_axum, serve_hyper,
};
use opentelemetry::KeyValue;
use opentelemetry::trace::{SpanKind, Status};
use opentelemetry_sdk::trace::SpanData;
use tower::{Layer, ServiceBuilder, ServiceExt, service_fn};
use tower_telemetry_metrics::{MAX_LABEL_VALUES, MetricsLayer, WithMetrics};
use tower_telemetry_trace::{ClientTraceLayer, RpcConventions, TraceLayer, TraceMiddleware};

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn only<'a>(points: &'a [HistogramPoint], what: &str) -> &'a HistogramPoint {
    assert_eq!(points.len(), 1, "{what}: {points:#?}");
    &points[0]
}

fn label<'a>(point: &'a HistogramPoint, key: &str) -> Option<&'a str> {
    point.attributes.get(key).map(String::as_str)
}

#[tokio::test]
async fn a_route_function_without_axum_labels_both_signals_and_runs_once_per_request() {
    let tracing = Tracing::new();
    let metrics = Metrics::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let layer = TraceLayer::server(tracing.tracer())
        .with_route(move |req| {
            counted.fetch_add(1, Ordering::SeqCst);
            req.uri()
                .path()
                .starts_with("/users/")
                .then_some(Cow::Borrowed("/users/{id}"))
        })
        .with_metrics(&metrics.meter());
    // A bare hyper server: no axum `MatchedPath`, the route comes from the function alone.
    let addr = serve_hyper(
        layer.layer(service_fn(|_req: Request<hyper::body::Incoming>| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"user"))))
        })),
    )
    .await;
    for id in 1..=3 {
        assert_eq!(http_get(addr, &format!("/users/{id}"), &[]).await.0, 200);
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "once per request, not once per signal"
    );
    let spans = tracing.wait_for(3).await;
    for span in &spans {
        assert_eq!(span.name, "GET /users/{id}");
        assert_eq!(attr_str(span, "http.route").as_deref(), Some("/users/{id}"));
    }
    let points = metrics.histogram("http.server.request.duration");
    let point = only(&points, "one series");
    assert_eq!(label(point, "http.route"), Some("/users/{id}"));
    assert_eq!(point.count, 3);
}

#[tokio::test]
async fn classic_rpc_conventions_apply_to_the_span_and_the_metrics() {
    let tracing = Tracing::new();
    let metrics = Metrics::new();
    let layer = TraceLayer::server(tracing.tracer())
        .with_rpc_conventions(RpcConventions::Classic)
        .with_metrics(&metrics.meter());
    let addr = integration_tests::serve_echo!(layer).await;
    say(channel(addr).await, "fail:5", &[]).await.unwrap_err();
    let span = &tracing.wait_for(1).await[0];
    assert_eq!(attr_str(span, "rpc.system").as_deref(), Some("grpc"));
    assert_eq!(attr_str(span, "rpc.service").as_deref(), Some("test.Echo"));
    assert_eq!(attr_i64(span, "rpc.grpc.status_code"), Some(5));
    assert_eq!(attr_str(span, "rpc.system.name"), None);
    assert!(metrics.histogram("rpc.server.call.duration").is_empty());
    let points = metrics.histogram("rpc.server.duration");
    let point = only(&points, "classic, in milliseconds");
    assert_eq!(label(point, "rpc.system"), Some("grpc"));
    assert_eq!(label(point, "rpc.service"), Some("test.Echo"));
    assert_eq!(label(point, "rpc.method"), Some("Say"));
    assert_eq!(label(point, "rpc.grpc.status_code"), Some("5"));
    assert_eq!(metrics.unit("rpc.server.duration").as_deref(), Some("ms"));
    let span_ms = seconds(span) * 1000.0;
    assert!(
        (point.sum - span_ms).abs() < 1e-6,
        "one measurement: {} ms vs {span_ms} ms",
        point.sum
    );
}

/// A backend that answers with the `traceparent` it received.
async fn echo_traceparent_backend() -> std::net::SocketAddr {
    serve_axum(Router::new().route(
        "/echo",
        get(|headers: http::HeaderMap| async move {
            headers
                .get("traceparent")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        }),
    ))
    .await
}

/// `/healthz` (filtered) calls the backend through a client layer and returns what it got.
fn frontend(backend: std::net::SocketAddr, tracing: &Tracing) -> Router {
    let client = ServiceBuilder::new()
        .layer(ClientTraceLayer::client(tracing.tracer()))
        .service(http1_client());
    let call = move || {
        let client = client.clone();
        async move {
            let request = Request::get(format!("http://{backend}/echo"))
                .body(Full::<Bytes>::default())
                .unwrap();
            let response = client.oneshot(request).await.unwrap();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            String::from_utf8(body.to_vec()).unwrap()
        }
    };
    Router::new()
        .route("/healthz", get(call.clone()))
        .route("/work", get(call))
}

#[tokio::test]
async fn a_filter_skips_both_signals_and_still_passes_the_callers_context_on() {
    let tracing = Tracing::new();
    let metrics = Metrics::new();
    let backend = echo_traceparent_backend().await;
    let app = frontend(backend, &tracing).layer(
        TraceLayer::server(tracing.tracer())
            .skip_if(|req| req.uri().path() == "/healthz")
            .with_metrics(&metrics.meter()),
    );
    let addr = serve_axum(app).await;

    let (status, sent_on) = http_get(addr, "/healthz", &[("traceparent", TRACEPARENT)]).await;
    assert_eq!(status, 200);
    // The client span below is a child of the caller's span: the trace continues.
    assert!(
        sent_on.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
        "{sent_on}"
    );
    let spans = tracing.wait_for(1).await;
    assert_eq!(spans.len(), 1, "only the client span: {spans:#?}");
    assert_eq!(spans[0].span_kind, SpanKind::Client);
    assert_eq!(spans[0].parent_span_id.to_string(), "00f067aa0ba902b7");
    assert!(
        metrics.histogram("http.server.request.duration").is_empty(),
        "a filtered request is in neither signal"
    );
    assert!(
        metrics
            .sum("http.server.active_requests")
            .iter()
            .all(|(_, v)| *v == 0)
    );

    assert_eq!(http_get(addr, "/work", &[]).await.0, 200);
    let points = metrics.histogram("http.server.request.duration");
    assert_eq!(
        label(only(&points, "/work only"), "http.route"),
        Some("/work")
    );
}

#[tokio::test]
async fn counting_filtered_requests_is_an_opt_in_of_the_metrics() {
    let tracing = Tracing::new();
    let metrics = Metrics::new();
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .layer(
            TraceLayer::server(tracing.tracer())
                .skip_if(|req| req.uri().path() == "/healthz")
                .with_metrics_layer(MetricsLayer::server(&metrics.meter()).count_filtered(true)),
        );
    let addr = serve_axum(app).await;
    assert_eq!(http_get(addr, "/healthz", &[]).await.0, 200);
    let points = metrics.histogram("http.server.request.duration");
    let point = only(&points, "counted");
    assert_eq!(label(point, "http.route"), Some("/healthz"));
    assert_eq!(point.count, 1);
    // The pair finishes the span (if any) before the metric: none was made.
    assert!(tracing.spans().is_empty(), "still no span");
}

/// A plain HTTP server answering every request with `status` and no `grpc-status`.
async fn not_grpc(status: StatusCode) -> std::net::SocketAddr {
    serve_hyper(service_fn(
        move |_req: Request<hyper::body::Incoming>| async move {
            let mut response = Response::new(Full::new(Bytes::from_static(b"<html>nope</html>")));
            *response.status_mut() = status;
            Ok::<_, Infallible>(response)
        },
    ))
    .await
}

#[tokio::test]
async fn a_grpc_call_answered_by_plain_http_has_one_duration_and_one_code() {
    for (status, code) in [
        (StatusCode::NOT_FOUND, "UNIMPLEMENTED"),
        (StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE"),
    ] {
        let tracing = Tracing::new();
        let metrics = Metrics::new();
        let addr = not_grpc(status).await;
        let client = ServiceBuilder::new()
            .layer(ClientTraceLayer::client(tracing.tracer()).with_metrics(&metrics.meter()))
            .service(channel(addr).await);
        say(client, "hi", &[]).await.unwrap_err();
        let span = &tracing.wait_for(1).await[0];
        let points = metrics.histogram("rpc.client.call.duration");
        let point = only(&points, "one call");
        assert_eq!(
            point.sum,
            seconds(span),
            "{status}: the span's duration is the histogram's value"
        );
        assert_eq!(attr_str(span, "rpc.status_code").as_deref(), Some(code));
        assert_eq!(attr_str(span, "error.type").as_deref(), Some(code));
        assert_eq!(label(point, "rpc.status_code"), Some(code));
        assert_eq!(label(point, "error.type"), Some(code));
        assert!(matches!(span.status, Status::Error { .. }));
    }
}

#[tokio::test]
async fn reqwest_gets_client_metrics_from_the_fused_middleware() {
    let tracing = Tracing::new();
    let metrics = Metrics::new();
    let server = serve_axum(Router::new().route("/users/{id}", get(|| async { "u" }))).await;
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(TraceMiddleware::from_layer(
            ClientTraceLayer::client_http(tracing.tracer()).with_metrics(&metrics.meter()),
        ))
        .build();
    let response = client
        .get(format!("http://{server}/users/1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let span = &tracing.wait_for(1).await[0];
    let points = metrics.histogram("http.client.request.duration");
    let point = only(&points, "one call");
    let port = server.port().to_string();
    let want: BTreeMap<String, String> = [
        ("http.request.method", "GET"),
        ("server.address", "127.0.0.1"),
        ("server.port", port.as_str()),
        ("http.response.status_code", "200"),
        ("network.protocol.version", "1.1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(point.attributes, want);
    assert_eq!(point.sum, seconds(span));

    // Nothing listens on a port just released: connection refused.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    client
        .get(format!("http://{closed}/x"))
        .send()
        .await
        .unwrap_err();
    let spans = tracing.wait_for(2).await;
    let failed = spans
        .iter()
        .find(|s| attr_str(s, "error.type").is_some())
        .unwrap();
    assert_eq!(attr_str(failed, "error.type").as_deref(), Some("connect"));
    let points = metrics.histogram("http.client.request.duration");
    let refused = points
        .iter()
        .find(|p| label(p, "error.type").is_some())
        .unwrap_or_else(|| panic!("{points:#?}"));
    assert_eq!(label(refused, "error.type"), Some("connect"));
    assert_eq!(label(refused, "http.response.status_code"), None);
    assert_eq!(
        label(refused, "server.port"),
        Some(closed.port().to_string().as_str())
    );
    assert_eq!(refused.sum, seconds(failed));
}

#[tokio::test]
async fn hooks_name_spans_add_attributes_and_a_bounded_metric_label() {
    let tracing = Tracing::new();
    let metrics = Metrics::new();
    let layer = TraceLayer::server(tracing.tracer())
        .with_span_name(|_, facts| {
            format!("{} {}", facts.method(), facts.route().unwrap_or("-")).into()
        })
        .with_request_attributes(|req, attrs| {
            if let Some(tenant) = req.headers().get("x-tenant").and_then(|v| v.to_str().ok()) {
                attrs.push(KeyValue::new("app.tenant", tenant.to_owned()));
            }
        })
        .with_response_attributes(|res, attrs| {
            attrs.push(KeyValue::new(
                "app.cache_hit",
                res.headers().contains_key("x-cache-hit"),
            ));
        })
        .with_metrics_layer(
            MetricsLayer::server(&metrics.meter()).with_label("app.tenant", |req| {
                req.headers().get("x-tenant").and_then(|v| v.to_str().ok())
            }),
        );
    let app = Router::new()
        .route(
            "/users/{id}",
            get(|| async { ([("x-cache-hit", "1")], "u") }),
        )
        .layer(layer);
    let addr = serve_axum(app).await;

    assert_eq!(
        http_get(addr, "/users/1", &[("x-tenant", "acme")]).await.0,
        200
    );
    let span = &tracing.wait_for(1).await[0];
    assert_eq!(span.name, "GET /users/{id}");
    assert_eq!(attr_str(span, "app.tenant").as_deref(), Some("acme"));
    assert_eq!(
        tower_trace_attr_bool(span, "app.cache_hit"),
        Some(true),
        "from the response head"
    );
    let points = metrics.histogram("http.server.request.duration");
    assert_eq!(label(only(&points, "tenant"), "app.tenant"), Some("acme"));

    // More tenants than the cap: the rest are `_OTHER`, never a new series each.
    for n in 0..(MAX_LABEL_VALUES + 20) {
        let tenant = format!("t{n}");
        http_get(addr, "/users/1", &[("x-tenant", tenant.as_str())]).await;
    }
    let points = metrics.histogram("http.server.request.duration");
    assert_eq!(
        points.len(),
        MAX_LABEL_VALUES + 1,
        "{MAX_LABEL_VALUES} values (acme among them) and _OTHER"
    );
    let other = points
        .iter()
        .find(|p| label(p, "app.tenant") == Some("_OTHER"))
        .unwrap();
    assert_eq!(other.count, 21);
}

fn tower_trace_attr_bool(span: &SpanData, key: &str) -> Option<bool> {
    match integration_tests::attr(span, key)? {
        opentelemetry::Value::Bool(b) => Some(b),
        _ => None,
    }
}
