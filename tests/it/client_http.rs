//! Client spans over HTTP: frontend (axum, server layer) → hyper client (client layer) →
//! backend (axum, server layer), all on 127.0.0.1, checked on the wire and in the exporter
//! (W3C Trace Context Level 2 §3 and §4; semconv "HTTP client span").

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing;
use bytes::Bytes;
use http::{HeaderMap, Request};
use http_body_util::{BodyExt, Full};
use integration_tests::{Tracing, attr, attr_i64, attr_str, get, http1_client, serve_axum};
use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status, TraceId};
use opentelemetry_sdk::trace::SpanData;
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_telemetry_propagation::{Propagator, cloud_trace, traceparent};
use tower_telemetry_trace::{ClientTraceLayer, TraceLayer};

/// What the backend saw: the trace headers of each request.
type Seen = Arc<Mutex<Vec<HeaderMap>>>;

/// A backend recording the headers it receives; `/slow` takes 2 s, `/missing` is a 404.
async fn backend(tracing: &Tracing) -> (SocketAddr, Seen) {
    let seen = Seen::default();
    let record = |State(seen): State<Seen>, headers: HeaderMap| async move {
        seen.lock().unwrap().push(headers);
        "backend"
    };
    let router = Router::new()
        .route("/hello", routing::get(record))
        .route(
            "/slow",
            routing::get(|| async {
                tokio::time::sleep(Duration::from_secs(2)).await;
                "late"
            }),
        )
        .with_state(seen.clone())
        .layer(
            TraceLayer::server(tracing.tracer()).with_propagator(Propagator::w3c_and_cloud_trace()),
        );
    (serve_axum(router).await, seen)
}

/// A frontend calling `backend{path}` `calls` times through an instrumented hyper client.
async fn frontend(tracing: &Tracing, backend: SocketAddr, propagator: Propagator) -> SocketAddr {
    let client = ServiceBuilder::new()
        .layer(ClientTraceLayer::client(tracing.tracer()).with_propagator(propagator))
        .service(http1_client());
    let call = move |axum::extract::Query(q): axum::extract::Query<
        std::collections::HashMap<String, String>,
    >| {
        let mut client = client.clone();
        async move {
            let calls: usize = q.get("calls").and_then(|c| c.parse().ok()).unwrap_or(1);
            let path = q.get("path").cloned().unwrap_or_else(|| "/hello".into());
            let mut statuses = Vec::new();
            for _ in 0..calls {
                let request = Request::get(format!("http://{backend}{path}"))
                    .body(Full::<Bytes>::default())
                    .unwrap();
                let response = client.ready().await.unwrap().call(request).await;
                match response {
                    Ok(r) => {
                        statuses.push(r.status().as_u16().to_string());
                        r.into_body().collect().await.unwrap();
                    }
                    Err(e) => statuses.push(format!("error: {e}")),
                }
            }
            statuses.join(",")
        }
    };
    let router = Router::new()
        .route("/call", routing::get(call))
        .layer(TraceLayer::server(tracing.tracer()).with_propagator(propagator));
    serve_axum(router).await
}

fn by_kind<'a>(spans: &'a [SpanData], kind: &SpanKind, port: u16) -> Vec<&'a SpanData> {
    spans
        .iter()
        .filter(|s| &s.span_kind == kind && attr_i64(s, "server.port") == Some(i64::from(port)))
        .collect()
}

fn wire(headers: &HeaderMap) -> SpanContext {
    let values: Vec<_> = headers.get_all("traceparent").iter().collect();
    assert_eq!(values.len(), 1, "one traceparent on the wire");
    traceparent::parse(values[0]).expect("a valid traceparent on the wire")
}

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

#[tokio::test]
async fn one_trace_across_two_services() {
    let tracing = Tracing::new();
    let (back, seen) = backend(&tracing).await;
    let front = frontend(&tracing, back, Propagator::w3c()).await;
    assert_eq!(
        get(front, "/call", &[("traceparent", TRACEPARENT)]).await.1,
        "200"
    );

    let spans = tracing.wait_for(3).await;
    let server_a = by_kind(&spans, &SpanKind::Server, front.port())[0];
    let client_a = by_kind(&spans, &SpanKind::Client, back.port())[0];
    let server_b = by_kind(&spans, &SpanKind::Server, back.port())[0];
    let trace_id = TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap();
    for span in [server_a, client_a, server_b] {
        assert_eq!(span.span_context.trace_id(), trace_id, "{}", span.name);
    }
    assert_eq!(
        server_a.parent_span_id,
        SpanId::from_hex("00f067aa0ba902b7").unwrap()
    );
    assert_eq!(
        client_a.parent_span_id,
        server_a.span_context.span_id(),
        "client span is a child of the handler's span"
    );
    assert_eq!(
        server_b.parent_span_id,
        client_a.span_context.span_id(),
        "the backend continues from the client span"
    );

    // On the wire: the client span's id (19), lowercase, version 00 (18).
    let sent = seen.lock().unwrap()[0].clone();
    let on_wire = wire(&sent);
    assert_eq!(on_wire.trace_id(), trace_id);
    assert_eq!(on_wire.span_id(), client_a.span_context.span_id());
    assert_eq!(
        sent["traceparent"].to_str().unwrap(),
        format!("00-{trace_id}-{}-01", client_a.span_context.span_id())
    );

    // The client span (48, 50).
    assert_eq!(client_a.name, "GET", "48: the method alone, not 'HTTP GET'");
    assert_eq!(client_a.span_kind, SpanKind::Client);
    assert_eq!(
        attr_str(client_a, "http.request.method").as_deref(),
        Some("GET")
    );
    assert_eq!(
        attr_str(client_a, "server.address").as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(
        attr_str(client_a, "url.full"),
        Some(format!("http://{back}/hello"))
    );
    assert_eq!(attr_i64(client_a, "http.response.status_code"), Some(200));
    assert_eq!(
        attr_str(client_a, "network.protocol.version").as_deref(),
        Some("1.1")
    );
    assert_eq!(client_a.status, Status::Unset);
    assert_eq!(attr(client_a, "error.type"), None);
}

#[tokio::test]
async fn three_calls_give_three_parent_ids() {
    let tracing = Tracing::new();
    let (back, seen) = backend(&tracing).await;
    let front = frontend(&tracing, back, Propagator::w3c()).await;
    assert_eq!(
        get(front, "/call?calls=3", &[("traceparent", TRACEPARENT)])
            .await
            .1,
        "200,200,200"
    );
    let spans = tracing.wait_for(7).await;
    let clients = by_kind(&spans, &SpanKind::Client, back.port());
    assert_eq!(clients.len(), 3);
    let on_wire: Vec<SpanId> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|h| wire(h).span_id())
        .collect();
    let mut distinct = on_wire.clone();
    distinct.sort_unstable_by_key(|id| id.to_bytes());
    distinct.dedup();
    assert_eq!(distinct.len(), 3, "20: three distinct parent ids");
    for id in &on_wire {
        assert!(
            clients.iter().any(|c| &c.span_context.span_id() == id),
            "each id is a client span's"
        );
        assert_ne!(
            *id,
            SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            "19: never the incoming parent id"
        );
    }
}

#[tokio::test]
async fn cloud_trace_only_inbound_continues_in_both_formats() {
    let tracing = Tracing::new();
    let (back, seen) = backend(&tracing).await;
    let front = frontend(&tracing, back, Propagator::w3c_and_cloud_trace()).await;
    let xctc = "105445aa7843bc8bf206b12000100000/18374686479671623803;o=1";
    get(front, "/call", &[("x-cloud-trace-context", xctc)]).await;
    let sent = seen.lock().unwrap()[0].clone();
    let trace_id = TraceId::from_hex("105445aa7843bc8bf206b12000100000").unwrap();
    let w3c = wire(&sent);
    let gcp = cloud_trace::parse(sent["x-cloud-trace-context"].as_bytes()).unwrap();
    assert_eq!(
        (w3c.trace_id(), gcp.trace_id()),
        (trace_id, trace_id),
        "46: same trace id, both formats"
    );
    assert_eq!(
        w3c.span_id(),
        gcp.span_id(),
        "45: the same client span id, decimal in Cloud Trace"
    );
    assert!(gcp.is_sampled());
    let spans = tracing.wait_for(3).await;
    let server_a = by_kind(&spans, &SpanKind::Server, front.port())[0];
    assert_eq!(
        server_a.parent_span_id,
        SpanId::from(18374686479671623803u64)
    );
}

#[tokio::test]
async fn invalid_inbound_header_starts_fresh_and_never_reaches_the_wire() {
    let tracing = Tracing::new();
    let (back, seen) = backend(&tracing).await;
    let front = frontend(&tracing, back, Propagator::w3c()).await;
    let bad = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-garbage";
    get(
        front,
        "/call",
        &[("traceparent", bad), ("tracestate", "vendor=1")],
    )
    .await;
    let sent = seen.lock().unwrap()[0].clone();
    let on_wire = wire(&sent);
    assert_ne!(
        on_wire.trace_id(),
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
        "a fresh trace"
    );
    assert_ne!(sent["traceparent"], bad);
    assert!(
        sent.get("tracestate").is_none(),
        "16/25: the tracestate of an invalid traceparent is dropped"
    );
    // 23: a trace started here carries the random flag (the SDK's ids are random).
    assert_eq!(on_wire.trace_flags().to_u8(), 0x03, "sampled + random");
}

#[tokio::test]
async fn random_flag_follows_the_trace_and_is_never_added() {
    let tracing = Tracing::new();
    let (back, seen) = backend(&tracing).await;
    let front = frontend(&tracing, back, Propagator::w3c()).await;
    // 21: random, not sampled: every span is dropped, the flag still goes on.
    get(
        front,
        "/call",
        &[(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02",
        )],
    )
    .await;
    // 22: sampled without random: never added.
    get(front, "/call", &[("traceparent", TRACEPARENT)]).await;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(wire(&seen[0]).trace_flags().to_u8(), 0x02);
    assert_eq!(wire(&seen[1]).trace_flags().to_u8(), 0x01);
    // 24: not sampled, still propagated: the same trace id with a new parent id.
    assert_eq!(
        wire(&seen[0]).trace_id(),
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap()
    );
    assert_ne!(
        wire(&seen[0]).span_id(),
        SpanId::from_hex("00f067aa0ba902b7").unwrap()
    );
}

#[tokio::test]
async fn client_errors_are_errors() {
    let tracing = Tracing::new();
    let (back, _) = backend(&tracing).await;
    let front = frontend(&tracing, back, Propagator::w3c()).await;
    assert_eq!(get(front, "/call?path=/missing", &[]).await.1, "404");
    let spans = tracing.wait_for(3).await;
    let client = by_kind(&spans, &SpanKind::Client, back.port())[0];
    assert_eq!(attr_i64(client, "http.response.status_code"), Some(404));
    assert!(
        matches!(client.status, Status::Error { .. }),
        "50: a client 404 is an error"
    );
    assert_eq!(attr_str(client, "error.type").as_deref(), Some("404"));
    let server_b = by_kind(&spans, &SpanKind::Server, back.port())[0];
    assert_eq!(
        server_b.status,
        Status::Unset,
        "while the server's 404 is not"
    );
}

#[tokio::test]
async fn connection_refused_is_a_low_cardinality_error() {
    let tracing = Tracing::new();
    // A port that was just free: nothing listens there.
    let closed = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap()
    };
    let mut client = ServiceBuilder::new()
        .layer(ClientTraceLayer::client(tracing.tracer()))
        .service(http1_client());
    let request = Request::get(format!("http://{closed}/x"))
        .body(Full::<Bytes>::default())
        .unwrap();
    let err = client
        .ready()
        .await
        .unwrap()
        .call(request)
        .await
        .unwrap_err();
    assert!(
        err.is_connect(),
        "the client's own error is passed through: {err}"
    );
    let span = &tracing.wait_for(1).await[0];
    assert_eq!(span.name, "GET");
    assert_eq!(
        attr_str(span, "error.type").as_deref(),
        Some("connect"),
        "50: low cardinality"
    );
    assert!(matches!(span.status, Status::Error { .. }));
    assert_eq!(attr(span, "http.response.status_code"), None);
    assert_eq!(
        span.parent_span_id,
        SpanId::INVALID,
        "no parent: a new trace"
    );
}

#[tokio::test]
async fn cancelled_call_ends_its_span_without_error() {
    let tracing = Tracing::new();
    let (back, _) = backend(&tracing).await;
    let mut client = ServiceBuilder::new()
        .layer(ClientTraceLayer::client(tracing.tracer()))
        .service(http1_client());
    let request = Request::get(format!("http://{back}/slow"))
        .body(Full::<Bytes>::default())
        .unwrap();
    let call = client.ready().await.unwrap().call(request);
    assert!(
        tokio::time::timeout(Duration::from_millis(100), call)
            .await
            .is_err(),
        "the caller gives up"
    );
    let span = tracing
        .wait_for(1)
        .await
        .into_iter()
        .find(|s| s.span_kind == SpanKind::Client)
        .expect("the client span ended when the call was dropped");
    assert_eq!(
        span.status,
        Status::Unset,
        "50: caller cancellation is not an error"
    );
    assert_eq!(attr(&span, "error.type"), None);
}

#[tokio::test]
async fn credentials_and_signatures_are_redacted_in_url_full() {
    let tracing = Tracing::new();
    let (back, _) = backend(&tracing).await;
    let mut client = ServiceBuilder::new()
        .layer(ClientTraceLayer::client(tracing.tracer()))
        .service(http1_client());
    let uri = format!("http://user:secret@{back}/hello?sig=abc&x=1&SIG=kept");
    let request = Request::get(uri).body(Full::<Bytes>::default()).unwrap();
    client
        .ready()
        .await
        .unwrap()
        .call(request)
        .await
        .unwrap()
        .into_body()
        .collect()
        .await
        .unwrap();
    let spans = tracing.wait_for(2).await;
    let client = spans
        .iter()
        .find(|s| s.span_kind == SpanKind::Client)
        .unwrap();
    assert_eq!(
        attr_str(client, "url.full"),
        Some(format!(
            "http://REDACTED:REDACTED@{back}/hello?sig=REDACTED&x=1&SIG=kept"
        )),
        "51"
    );
}
