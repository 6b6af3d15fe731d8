//! The kit's own behaviour: what it reads back, and how it fails.

use axum::Router;
use axum::http::Request;
use axum::routing::get;
use opentelemetry::trace::{SpanKind, Status};

use super::*;

fn app(telemetry: &TestTelemetry) -> Router {
    Router::new()
        .route("/users/{id}", get(|| async { "hello" }))
        .route(
            "/fail",
            get(|| async { (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "no") }),
        )
        .layer(telemetry.server_layer())
}

#[tokio::test]
async fn spans_and_points_of_a_route() {
    let telemetry = TestTelemetry::new();
    for path in ["/users/1", "/users/2", "/fail"] {
        let response = telemetry
            .call(
                app(&telemetry),
                Request::get(path).body(String::new()).unwrap(),
            )
            .await;
        assert!(!response.body().is_empty());
    }
    assert_eq!(telemetry.spans_named("GET /users/{id}").len(), 2);
    let fail = telemetry.span("GET /fail");
    fail.assert_attr("http.response.status_code", 500)
        .assert_attr("error.type", "500")
        .assert_no_attr("url.query");
    assert!(fail.is_error());
    assert_eq!(fail.kind(), &SpanKind::Server);
    assert_eq!(fail.parent_span_id(), None);

    let durations = telemetry.histogram("http.server.request.duration");
    assert_eq!(durations.points().len(), 2);
    let users = durations.point(&[("http.route", "/users/{id}")]);
    assert_eq!(users.count, 2);
    assert_eq!(users.attributes["http.response.status_code"], "200");
    assert_eq!(users.buckets.iter().sum::<u64>(), 2);
    let failed = durations.point(&[("error.type", "500")]);
    assert_eq!(failed.count, 1);
    assert_eq!(
        telemetry.unit("http.server.request.duration").as_deref(),
        Some("s")
    );
    assert_eq!(telemetry.unit("nothing.recorded"), None);
}

#[tokio::test]
async fn the_span_and_the_point_measure_the_same_duration() {
    let telemetry = TestTelemetry::new();
    telemetry
        .call(
            app(&telemetry),
            Request::get("/users/1").body(String::new()).unwrap(),
        )
        .await;
    let span = telemetry.span("GET /users/{id}");
    let seconds = span
        .end_time
        .duration_since(span.start_time)
        .unwrap()
        .as_secs_f64();
    let point = telemetry
        .histogram("http.server.request.duration")
        .point(&[]);
    assert_eq!(point.sum, seconds);
}

#[tokio::test]
async fn children_and_trees() {
    let telemetry = TestTelemetry::new();
    let tracer = telemetry.tracer("handler");
    let app = Router::new()
        .route(
            "/",
            get(move || async move {
                use opentelemetry::trace::{Span as _, TraceContextExt as _, Tracer as _};
                let cx = opentelemetry::Context::current();
                tracer.start_with_context("load", &cx).end();
                cx.span().set_status(Status::Ok);
                "ok"
            }),
        )
        .layer(telemetry.server_layer());
    telemetry
        .call(app, Request::get("/").body(String::new()).unwrap())
        .await;
    let server = telemetry.span("GET /");
    let children = telemetry.children(&server);
    assert_eq!(children.len(), 1);
    assert_eq!(children[0].name(), "load");
    let tree = telemetry.trace_tree(server.trace_id());
    let lines: Vec<&str> = tree.lines().collect();
    assert_eq!(lines[0], format!("trace {}", server.trace_id()));
    assert!(lines[1].starts_with("  GET / [Server OK] span "), "{tree}");
    assert!(lines[1].contains(" http.route=/ "), "{tree}");
    assert!(lines[2].starts_with("    load [Internal] span "), "{tree}");
    assert_eq!(lines.len(), 3, "{tree}");
}

#[tokio::test]
async fn a_missing_span_panics_with_what_was_recorded() {
    let telemetry = TestTelemetry::new();
    telemetry
        .call(
            app(&telemetry),
            Request::get("/users/1").body(String::new()).unwrap(),
        )
        .await;
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        telemetry.span("GET /nothing");
    }))
    .unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(
        message.starts_with("expected one span named \"GET /nothing\", found 0; recorded:\ntrace "),
        "{message}"
    );
    assert!(
        message.contains("  GET /users/{id} [Server] span "),
        "{message}"
    );

    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        telemetry
            .span("GET /users/{id}")
            .assert_attr("http.response.status_code", "200");
    }))
    .unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(
        message.starts_with(
            "span \"GET /users/{id}\": expected http.response.status_code = \"200\" (a string), found 200 (an integer)\nGET /users/{id} [Server] span "
        ),
        "{message}"
    );

    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        telemetry
            .histogram("http.server.request.duration")
            .point(&[("http.route", "/nope")]);
    }))
    .unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(message.contains("found 0; points:\n  {"), "{message}");
    assert!(
        message.contains("\"http.route\": \"/users/{id}\""),
        "{message}"
    );
}

#[tokio::test]
async fn settled_waits_for_spans_that_end_on_another_task() {
    let telemetry = TestTelemetry::new();
    let app = app(&telemetry);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    stream
        .write_all(b"GET /users/3 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    assert!(answer.starts_with(b"HTTP/1.1 200"));
    telemetry.settled().await;
    telemetry
        .span("GET /users/{id}")
        .assert_attr("server.address", "x");
    telemetry.reset_spans();
    assert!(telemetry.spans().is_empty());
}

#[cfg(feature = "prometheus")]
#[tokio::test]
async fn the_prometheus_text() {
    let telemetry = TestTelemetry::new();
    telemetry
        .call(
            app(&telemetry),
            Request::get("/users/1").body(String::new()).unwrap(),
        )
        .await;
    let text = telemetry.prometheus_text();
    assert!(
        text.lines().any(
            |l| l.starts_with("http_server_request_duration_seconds_count{")
                && l.contains("http_route=\"/users/{id}\"")
                && l.ends_with(" 1")
        ),
        "{text}"
    );
}

#[cfg(feature = "tracing-subscriber")]
#[tokio::test]
async fn log_lines_of_a_trace() {
    let telemetry = TestTelemetry::new();
    telemetry.capture_logs();
    let app = Router::new()
        .route(
            "/orders/{id}",
            get(|| async {
                tracing::info!(order = 7, "loading \"the\" order");
                tracing::warn!("slow");
                "ok"
            }),
        )
        .layer(telemetry.server_layer());
    for _ in 0..2 {
        telemetry
            .call(
                app.clone(),
                Request::get("/orders/7").body(String::new()).unwrap(),
            )
            .await;
    }
    let spans = telemetry.spans_named("GET /orders/{id}");
    assert_eq!(spans.len(), 2);
    let lines = telemetry.logs(spans[0].trace_id());
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert_eq!(lines[0].severity, "INFO");
    assert_eq!(lines[0].message, "loading \"the\" order");
    assert_eq!(lines[0].fields["order"], 7);
    assert_eq!(lines[0].span_id, spans[0].span_id().to_string());
    assert_eq!(lines[1].severity, "WARNING");
    assert_eq!(lines[1].message, "slow");
    assert_eq!(
        telemetry.logs(spans[1].trace_id()).len(),
        2,
        "the other request's own"
    );
    assert!(telemetry.logs(TraceId::from(7)).is_empty());
}
