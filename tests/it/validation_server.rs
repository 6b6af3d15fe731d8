//! The validation server's contract (`examples/validation_server.rs`), on 127.0.0.1: its routes,
//! its outbound calls (through the client layer, W3C and Cloud Trace both injected), the
//! loopback-only rule, and its time limit.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use integration_tests::{Tracing, send, serve_axum};
use opentelemetry::trace::{SpanId, SpanKind, TraceId};
use tower_telemetry_propagation::{cloud_trace, traceparent};

type Seen = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

/// A stand-in for the W3C harness: records every callback it gets.
async fn harness() -> (SocketAddr, Seen) {
    let seen = Seen::default();
    let record = |State(seen): State<Seen>, headers: HeaderMap, body: Bytes| async move {
        seen.lock().unwrap().push((headers, body));
        "ok"
    };
    let router = Router::new()
        .route("/callback/{n}", post(record))
        .route("/hello", get(|| async { "hi" }))
        .route(
            "/teapot",
            get(|| async { (StatusCode::IM_A_TEAPOT, "short and stout") }),
        )
        .route(
            "/slow",
            post(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        )
        .with_state(seen.clone());
    (serve_axum(router).await, seen)
}

/// The validation server on 127.0.0.1, and its meter provider (keep it alive: dropping it
/// shuts the metrics down).
async fn validation_server(
    tracing: &Tracing,
) -> (SocketAddr, opentelemetry_sdk::metrics::SdkMeterProvider) {
    let (reader, endpoint) = tower_telemetry_metrics::prometheus::exporter().unwrap();
    let meters = opentelemetry_sdk::metrics::SdkMeterProvider::builder()
        .with_reader(reader)
        .build();
    let meter = opentelemetry::metrics::MeterProvider::meter(&meters, "validation-server");
    (
        serve_axum(examples::validation_server::app(
            tracing.provider(),
            &meter,
            endpoint,
        ))
        .await,
        meters,
    )
}

#[tokio::test]
async fn plain_routes() {
    let tracing = Tracing::new();
    let (vs, _meters) = validation_server(&tracing).await;
    for (path, status) in [
        ("/", 200),
        ("/users/42", 200),
        ("/fail", 500),
        ("/nope", 404),
        ("/users", 404),
    ] {
        assert_eq!(
            send(vs, "GET", path, &[], "").await.0.as_u16(),
            status,
            "{path}"
        );
    }
}

#[tokio::test]
async fn verify_tracecontext_calls_back_in_order_and_propagates() {
    let tracing = Tracing::new();
    let (vs, _meters) = validation_server(&tracing).await;
    let (h, seen) = harness().await;
    let body = format!(
        r#"[{{"url": "http://{h}/callback/0", "arguments": []}},
            {{"url": "http://{h}/callback/1", "arguments": [{{"url": "x", "arguments": []}}]}},
            {{"url": "http://{h}/callback/2", "arguments": {{"k": 1}}}}]"#
    );
    let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let (status, _) = send(
        vs,
        "POST",
        "/verify-tracecontext",
        &[("traceparent", tp), ("tracestate", "foo=1,bar=2")],
        &body,
    )
    .await;
    assert_eq!(status, 200);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "every call done before the answer");
    let trace_id = TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap();
    let mut parents = Vec::new();
    for (i, (headers, body)) in seen.iter().enumerate() {
        assert_eq!(headers["content-type"], "application/json");
        let sent = traceparent::parse(headers["traceparent"].as_bytes()).unwrap();
        assert_eq!(sent.trace_id(), trace_id, "call {i}");
        assert_ne!(
            sent.span_id(),
            SpanId::from_hex("00f067aa0ba902b7").unwrap()
        );
        assert_eq!(
            headers["tracestate"], "foo=1,bar=2",
            "tracestate carried unchanged"
        );
        let gcp = cloud_trace::parse(headers["x-cloud-trace-context"].as_bytes()).unwrap();
        assert_eq!(
            (gcp.trace_id(), gcp.span_id()),
            (trace_id, sent.span_id()),
            "both formats injected"
        );
        parents.push(sent.span_id());
        let expected: &[u8] = match i {
            0 => b"[]",
            1 => br#"[{"arguments":[],"url":"x"}]"#,
            _ => br#"{"k":1}"#,
        };
        assert_eq!(body.as_ref(), expected, "arguments posted as JSON");
    }
    // In the exporter: the server span and one client span per call, whose ids went out.
    let spans = tracing.wait_for(4).await;
    let server = spans
        .iter()
        .find(|s| s.span_kind == SpanKind::Server)
        .unwrap();
    assert_eq!(server.name, "POST /verify-tracecontext");
    assert_eq!(server.span_context.trace_id(), trace_id);
    let clients: Vec<_> = spans
        .iter()
        .filter(|s| s.span_kind == SpanKind::Client)
        .collect();
    assert_eq!(clients.len(), 3);
    for client in &clients {
        assert_eq!(client.parent_span_id, server.span_context.span_id());
        assert!(parents.contains(&client.span_context.span_id()));
    }
    parents.sort_unstable_by_key(|p| p.to_bytes());
    parents.dedup();
    assert_eq!(parents.len(), 3, "three calls, three parent ids");
}

#[tokio::test]
async fn cloud_trace_inbound_is_continued() {
    let tracing = Tracing::new();
    let (vs, _meters) = validation_server(&tracing).await;
    let (h, seen) = harness().await;
    let body = format!(r#"[{{"url": "http://{h}/callback/0", "arguments": []}}]"#);
    let xctc = "105445aa7843bc8bf206b12000100000/1;o=1";
    assert_eq!(
        send(
            vs,
            "POST",
            "/verify-tracecontext",
            &[("x-cloud-trace-context", xctc)],
            &body
        )
        .await
        .0,
        200
    );
    let headers = seen.lock().unwrap()[0].0.clone();
    let sent = traceparent::parse(headers["traceparent"].as_bytes()).unwrap();
    assert_eq!(
        sent.trace_id(),
        TraceId::from_hex("105445aa7843bc8bf206b12000100000").unwrap()
    );
}

#[tokio::test]
async fn forward_reports_the_downstream_status() {
    let tracing = Tracing::new();
    let (vs, _meters) = validation_server(&tracing).await;
    let (h, _) = harness().await;
    assert_eq!(
        send(vs, "GET", &format!("/forward?to=http://{h}/hello"), &[], "").await,
        (StatusCode::OK, "200".into())
    );
    assert_eq!(
        send(
            vs,
            "GET",
            &format!("/forward?to=http://{h}/teapot"),
            &[],
            ""
        )
        .await,
        (StatusCode::OK, "418".into())
    );
    assert_eq!(
        send(
            vs,
            "GET",
            &format!("/forward?to=http://localhost:{}/hello", h.port()),
            &[],
            ""
        )
        .await
        .1,
        "200"
    );
}

#[tokio::test]
async fn refuses_what_it_must_not_call_and_never_5xx_on_bad_input() {
    let tracing = Tracing::new();
    let (vs, _meters) = validation_server(&tracing).await;
    let (h, seen) = harness().await;
    for to in [
        "https://127.0.0.1/",
        "http://10.0.0.1/",
        "http://example.com/",
        "ftp://127.0.0.1/",
        "nonsense",
        "",
    ] {
        let (status, _) = send(vs, "GET", &format!("/forward?to={to}"), &[], "").await;
        assert_eq!(status, 400, "{to}");
    }
    assert_eq!(send(vs, "GET", "/forward", &[], "").await.0, 400, "no ?to=");
    // One forbidden URL refuses the whole list: the allowed one is not called either.
    let mixed = format!(
        r#"[{{"url": "http://{h}/callback/0", "arguments": []}}, {{"url": "http://8.8.8.8/", "arguments": []}}]"#
    );
    assert_eq!(
        send(vs, "POST", "/verify-tracecontext", &[], &mixed)
            .await
            .0,
        400
    );
    assert!(seen.lock().unwrap().is_empty(), "nothing contacted");
    for bad in [
        "",
        "{",
        "{}",
        "[1]",
        r#"[{"arguments": []}]"#,
        r#"[{"url": 5}]"#,
        "\u{0}",
    ] {
        let (status, _) = send(vs, "POST", "/verify-tracecontext", &[], bad).await;
        assert!(status.is_client_error(), "{bad:?}: {status}");
    }
    assert_eq!(
        send(vs, "POST", "/verify-tracecontext", &[], "[]").await.0,
        200,
        "nothing to call"
    );
}

#[tokio::test]
async fn unreachable_downstream_is_a_502_and_slow_ones_are_cut_at_5s() {
    let tracing = Tracing::new();
    let (vs, _meters) = validation_server(&tracing).await;
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    assert_eq!(
        send(vs, "GET", &format!("/forward?to=http://{closed}/"), &[], "")
            .await
            .0,
        502
    );
    let (h, _) = harness().await;
    let slow = format!(r#"[{{"url": "http://{h}/slow", "arguments": []}}]"#);
    let started = Instant::now();
    let (status, _) = send(vs, "POST", "/verify-tracecontext", &[], &slow).await;
    let took = started.elapsed();
    assert_eq!(status, 504);
    assert!(
        took < Duration::from_secs(5),
        "answered within 5 s: {took:?}"
    );
}

#[tokio::test]
async fn metrics_endpoint_serves_both_layers() {
    let tracing = Tracing::new();
    let (vs, _meters) = validation_server(&tracing).await;
    let (h, _) = harness().await;
    send(vs, "GET", "/users/7", &[], "").await;
    send(vs, "GET", "/fail", &[], "").await;
    send(vs, "GET", &format!("/forward?to=http://{h}/hello"), &[], "").await;
    let (status, text) = send(vs, "GET", "/metrics", &[], "").await;
    assert_eq!(status, 200);
    let has = |needle: &str| text.lines().any(|l| l.contains(needle));
    assert!(has(r#"http_route="/users/{id}""#), "{text}");
    assert!(has(r#"error_type="500""#), "the 5xx series: {text}");
    assert!(
        has("http_client_request_duration_seconds_bucket"),
        "the client layer's histogram: {text}"
    );
    assert!(
        !has(r#"http_route="/metrics""#),
        "the scrape itself is not counted"
    );
}
