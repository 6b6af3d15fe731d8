//! Exemplars end to end: real servers and clients on 127.0.0.1, the real SDK, the Prometheus
//! exporter and the `/metrics` service negotiating OpenMetrics.
//!
//! A process of its own: the `/metrics` service joins the exemplars of every live metrics layer
//! in the process to its series by name and labels, so the layers of unrelated tests running
//! beside these would show up in their scrapes.

use std::collections::BTreeSet;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use http::Request;
use http_body_util::{BodyExt, Full};
use integration_tests::{Tracing, get as http_get, http1_client, serve_axum};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::{TraceContextExt, Tracer};
use opentelemetry_sdk::metrics::SdkMeterProvider;
use tower::{Layer, ServiceExt};
use tower_telemetry_metrics::prometheus::{CONTENT_TYPE, MetricsService, OPENMETRICS_CONTENT_TYPE};
use tower_telemetry_metrics::{DURATION_BUCKETS, ExemplarFilter, MetricsLayer, WithMetrics};
use tower_telemetry_trace::{ClientTraceLayer, TraceLayer};

/// What Prometheus 2.x sends when it scrapes.
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// A Prometheus registry, its exporter installed in a meter provider, and the service.
fn prometheus() -> (SdkMeterProvider, prometheus::Registry, MetricsService) {
    let registry = prometheus::Registry::new();
    let exporter = opentelemetry_prometheus::exporter()
        .with_registry(registry.clone())
        .build()
        .unwrap();
    let provider = SdkMeterProvider::builder().with_reader(exporter).build();
    (provider, registry.clone(), MetricsService::new(registry))
}

async fn scrape(service: &MetricsService, accept: Option<&str>) -> (String, String) {
    let mut request = Request::get("/metrics");
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let response = service
        .clone()
        .oneshot(request.body(()).unwrap())
        .await
        .unwrap();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (content_type, String::from_utf8(body.to_vec()).unwrap())
}

/// One exemplar as written on a `_bucket` line.
#[derive(Debug)]
struct Seen {
    line: String,
    le: f64,
    trace_id: String,
    span_id: String,
    value: f64,
}

fn exemplars(text: &str, family: &str) -> Vec<Seen> {
    let field = |s: &str, name: &str| {
        let start = s.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        s[start..start + s[start..].find('"').unwrap()].to_owned()
    };
    text.lines()
        .filter(|l| l.starts_with(&format!("{family}_bucket")))
        .filter_map(|l| {
            let (sample, exemplar) = l.split_once(" # ")?;
            let le = match field(sample, "le").as_str() {
                "+Inf" => f64::INFINITY,
                le => le.parse().unwrap(),
            };
            let (labels, rest) = exemplar.split_once("} ").unwrap();
            let value = rest.split(' ').next().unwrap().parse().unwrap();
            Some(Seen {
                line: l.to_owned(),
                le,
                trace_id: field(labels, "trace_id"),
                span_id: field(labels, "span_id"),
                value,
            })
        })
        .collect()
}

/// The bucket below `le`, for checking that an exemplar's value is in its bucket.
fn lower_bound(le: f64) -> f64 {
    DURATION_BUCKETS
        .iter()
        .copied()
        .take_while(|b| *b < le)
        .last()
        .unwrap_or(f64::NEG_INFINITY)
}

fn traceparent(trace: &str, sampled: bool) -> String {
    format!("00-{trace}-00f067aa0ba902b7-0{}", u8::from(sampled))
}

#[tokio::test]
async fn server_exemplars_name_sampled_requests_only_and_the_500s_too() {
    let tracing = Tracing::new();
    let (provider, _, metrics) = prometheus();
    let router = Router::new()
        .route("/users/{id}", get(|| async { "u" }))
        .route("/fail", get(|| async { StatusCode::INTERNAL_SERVER_ERROR }))
        .layer(TraceLayer::server(tracing.tracer()).with_metrics(&provider.meter("svc")));
    let addr = serve_axum(router).await;
    let sampled: Vec<String> = (1..=4).map(|n| format!("{n:032x}")).collect();
    let unsampled: Vec<String> = (5..=8)
        .map(|n| format!("{:032x}", (n as u128) << 100))
        .collect();
    for trace in &sampled[..3] {
        let tp = traceparent(trace, true);
        assert_eq!(
            http_get(addr, "/users/7", &[("traceparent", &tp)]).await.0,
            200
        );
    }
    for trace in &unsampled {
        let tp = traceparent(trace, false);
        assert_eq!(
            http_get(addr, "/users/7", &[("traceparent", &tp)]).await.0,
            200
        );
        assert_eq!(
            http_get(addr, "/fail", &[("traceparent", &tp)]).await.0,
            500
        );
    }
    let tp = traceparent(&sampled[3], true);
    assert_eq!(
        http_get(addr, "/fail", &[("traceparent", &tp)]).await.0,
        500
    );
    let spans = tracing.wait_for(4).await;

    let (content_type, text) = scrape(&metrics, Some(PROMETHEUS_ACCEPT)).await;
    assert_eq!(content_type, OPENMETRICS_CONTENT_TYPE);
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert!(text.contains("# TYPE http_server_request_duration_seconds histogram"));
    assert!(text.contains("target_info{"), "target_info kept: {text}");
    let seen = exemplars(&text, "http_server_request_duration_seconds");
    assert!(!seen.is_empty(), "no exemplar: {text}");
    let mut routes = BTreeSet::new();
    for e in &seen {
        assert!(
            sampled.contains(&e.trace_id),
            "not a sampled request: {e:?}"
        );
        assert!(
            e.value <= e.le && e.value > lower_bound(e.le),
            "value outside its bucket: {e:?}"
        );
        // The span id is the server span's, not the caller's.
        let span = spans
            .iter()
            .find(|s| s.span_context.trace_id().to_string() == e.trace_id)
            .expect("a span of that trace");
        assert_eq!(e.span_id, span.span_context.span_id().to_string(), "{e:?}");
        assert!(e.line.contains(r#"otel_scope_name="svc""#), "{e:?}");
        routes.insert((
            e.line.contains(r#"http_route="/fail""#),
            e.line.contains(r#"http_response_status_code="500""#),
        ));
    }
    assert_eq!(
        routes,
        BTreeSet::from([(false, false), (true, true)]),
        "both routes, the 500 with its status: {seen:?}"
    );
    assert!(
        seen.iter()
            .any(|e| e.trace_id == sampled[3] && e.line.contains("/fail")),
        "the sampled 500 is the /fail exemplar: {seen:?}"
    );
}

/// Without `Accept`, or with one asking for nothing we serve or malformed, the classic text
/// exactly as the `prometheus` crate's `TextEncoder` writes it (no exemplars, no `# EOF`).
#[tokio::test]
async fn the_classic_format_is_byte_for_byte_the_text_encoders() {
    let tracing = Tracing::new();
    let (provider, registry, metrics) = prometheus();
    let router = Router::new()
        .route("/classic/{id}", get(|| async { "u" }))
        .layer(TraceLayer::server(tracing.tracer()).with_metrics(&provider.meter("svc")));
    let addr = serve_axum(router).await;
    let tp = traceparent("0af7651916cd43dd8448eb211c80319c", true);
    http_get(addr, "/classic/1", &[("traceparent", &tp)]).await;
    let mut expected = Vec::new();
    prometheus::Encoder::encode(
        &prometheus::TextEncoder::new(),
        &registry.gather(),
        &mut expected,
    )
    .unwrap();
    let expected = String::from_utf8(expected).unwrap();
    assert!(expected.contains("/classic/{id}"), "{expected}");
    for accept in [
        None,
        Some("*/*"),
        Some("text/plain;version=0.0.4"),
        Some("application/json"),
        Some("application/openmetrics-text;q=2"),
        Some("application/openmetrics-text;version=2.0.0"),
        Some("application/openmetrics-text;q=0.5, text/plain"),
        Some(";;;,,"),
    ] {
        let (content_type, text) = scrape(&metrics, accept).await;
        assert_eq!(content_type, CONTENT_TYPE, "{accept:?}");
        assert_eq!(text, expected, "{accept:?}");
    }
}

/// A client's exemplar names the client span (the call), not its parent; a standalone
/// metrics layer under a trace layer names the span current when the request reaches it.
#[tokio::test]
async fn client_exemplars_name_the_client_span_and_standalone_layers_the_current_one() {
    let tracing = Tracing::new();
    let (provider, _, metrics) = prometheus();
    let server = Router::new()
        .route("/standalone/{id}", get(|| async { "s" }))
        .layer(MetricsLayer::server(&provider.meter("standalone")))
        .layer(TraceLayer::server(tracing.tracer()));
    let addr = serve_axum(server).await;
    let client = ClientTraceLayer::client(tracing.tracer())
        .with_metrics_layer(MetricsLayer::client(&provider.meter("client")))
        .layer(http1_client());
    let parent = tracing.tracer().start("parent");
    let cx = opentelemetry::Context::current_with_span(parent);
    let parent_id = cx.span().span_context().span_id();
    let _guard = cx.attach();
    // The layer keeps its exemplars while it lives (a client lives as long as the process).
    let response = client
        .clone()
        .oneshot(
            Request::get(format!("http://{addr}/standalone/3"))
                .body(Full::<bytes::Bytes>::default())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    drop(_guard);
    let spans = tracing.wait_for(2).await;
    let span_of = |kind: opentelemetry::trace::SpanKind| {
        spans
            .iter()
            .find(|s| s.span_kind == kind)
            .map(|s| s.span_context.span_id().to_string())
            .unwrap()
    };
    let (_, text) = scrape(&metrics, Some("application/openmetrics-text")).await;
    drop(client);
    let client_seen = exemplars(&text, "http_client_request_duration_seconds");
    assert_eq!(client_seen.len(), 1, "{text}");
    assert_eq!(
        client_seen[0].span_id,
        span_of(opentelemetry::trace::SpanKind::Client)
    );
    assert_ne!(client_seen[0].span_id, parent_id.to_string());
    let server_seen: Vec<_> = exemplars(&text, "http_server_request_duration_seconds")
        .into_iter()
        .filter(|e| e.line.contains("/standalone/"))
        .collect();
    assert_eq!(server_seen.len(), 1, "{text}");
    assert_eq!(
        server_seen[0].span_id,
        span_of(opentelemetry::trace::SpanKind::Server)
    );
    assert_eq!(server_seen[0].trace_id, client_seen[0].trace_id);
}

/// `AlwaysOff` keeps nothing; `AlwaysOn` keeps unsampled requests with valid ids too.
#[tokio::test]
async fn the_filter_switch_on_the_layer() {
    let tracing = Tracing::new();
    let (provider, _, metrics) = prometheus();
    let router = Router::new()
        .route("/off/{id}", get(|| async { "o" }))
        .layer(TraceLayer::server(tracing.tracer()).with_metrics_layer(
            MetricsLayer::server(&provider.meter("off")).with_exemplars(ExemplarFilter::AlwaysOff),
        ));
    let on = Router::new()
        .route("/on/{id}", get(|| async { "o" }))
        .layer(TraceLayer::server(tracing.tracer()).with_metrics_layer(
            MetricsLayer::server(&provider.meter("on")).with_exemplars(ExemplarFilter::AlwaysOn),
        ));
    let (off, on) = (serve_axum(router).await, serve_axum(on).await);
    let trace = "5bf92f3577b34da6a3ce929d0e0e4736";
    http_get(off, "/off/1", &[("traceparent", &traceparent(trace, true))]).await;
    http_get(on, "/on/1", &[("traceparent", &traceparent(trace, false))]).await;
    let (_, text) = scrape(&metrics, Some(PROMETHEUS_ACCEPT)).await;
    let seen = exemplars(&text, "http_server_request_duration_seconds");
    assert!(seen.iter().all(|e| !e.line.contains("/off/")), "{seen:?}");
    let on_seen: Vec<_> = seen.iter().filter(|e| e.line.contains("/on/")).collect();
    assert_eq!(on_seen.len(), 1, "{text}");
    assert_eq!(on_seen[0].trace_id, trace);
}

/// gRPC: the current `rpc.server.call.duration` (seconds) and the classic
/// `rpc.server.duration` (milliseconds) both keep the sampled call's exemplar, a failed call's
/// too; the classic one's value is in milliseconds, inside its millisecond bucket.
#[tokio::test]
async fn grpc_server_exemplars_in_both_conventions() {
    use integration_tests::grpc::{EchoServer, channel, say};
    let tracing = Tracing::new();
    let (provider, _, metrics) = prometheus();
    let layer = TraceLayer::server(tracing.tracer())
        .with_rpc_conventions(tower_telemetry_trace::RpcConventions::Both)
        .with_metrics(&provider.meter("grpc"));
    let addr = integration_tests::serve_tonic(|incoming| {
        tonic::transport::Server::builder()
            .layer(layer)
            .add_service(EchoServer)
            .serve_with_incoming(incoming)
    })
    .await;
    let ok = "6bf92f3577b34da6a3ce929d0e0e4736";
    let failed = "7bf92f3577b34da6a3ce929d0e0e4736";
    let unsampled = "8bf92f3577b34da6a3ce929d0e0e4736";
    say(
        channel(addr).await,
        "hi",
        &[("traceparent", &traceparent(ok, true))],
    )
    .await
    .unwrap();
    say(
        channel(addr).await,
        "fail:13",
        &[("traceparent", &traceparent(failed, true))],
    )
    .await
    .unwrap_err();
    say(
        channel(addr).await,
        "hi",
        &[("traceparent", &traceparent(unsampled, false))],
    )
    .await
    .unwrap();
    tracing.wait_for(2).await;
    let (_, text) = scrape(&metrics, Some(PROMETHEUS_ACCEPT)).await;
    for (family, bounds) in [
        ("rpc_server_call_duration_seconds", DURATION_BUCKETS),
        (
            "rpc_server_duration_milliseconds",
            tower_telemetry_metrics::DURATION_BUCKETS_MS,
        ),
    ] {
        let seen = exemplars(&text, family);
        let traces: BTreeSet<&str> = seen.iter().map(|e| e.trace_id.as_str()).collect();
        assert_eq!(traces, BTreeSet::from([ok, failed]), "{family}: {seen:?}");
        for e in &seen {
            let lower = bounds.iter().copied().take_while(|b| *b < e.le).last();
            assert!(
                e.value <= e.le && lower.is_none_or(|l| e.value > l),
                "{e:?}"
            );
        }
    }
}
