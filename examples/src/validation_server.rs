//! The validation server: an axum service behind the server layer, calling out through the
//! client layer. Its routes are a contract other tools test against (the W3C trace-context
//! test suite among them); do not change them.
//!
//! | route | behaviour |
//! |---|---|
//! | `POST /verify-tracecontext` | body: a JSON array of `{"url": …, "arguments": …}`; for each element, in order, `POST` `arguments` as JSON to `url` through the instrumented client; 200 once every call is done |
//! | `GET /forward?to=URL` | `GET URL` through the instrumented client; 200 with the downstream status in the body |
//! | `GET /users/{id}` | 200 |
//! | `GET /fail` | 500 |
//! | `GET /` | 200 |
//! | `GET /metrics` | the RED metrics of both layers: OpenMetrics 1.0 text with exemplars (the trace and span of a sampled request on each duration bucket, `/fail`'s 500s included) when `Accept` asks for it as Prometheus does, else the classic Prometheus text format |
//! | anything else | 404 |
//!
//! Outbound calls go only to `http://` loopback URLs (`127.0.0.0/8`, `[::1]`, `localhost`);
//! anything else is a 400 and is never contacted. Each call has a 5 s timeout and every
//! request is answered within 5 s (504 past that). Malformed input is a 4xx, never a 5xx; a
//! downstream that cannot be reached is a 502.
//!
//! Propagation: W3C Trace Context and Google Cloud Trace are both extracted (a valid
//! `traceparent` wins) and both injected.
//!
//! **gRPC** on the same port: requests with `content-type: application/grpc` (or
//! `application/grpc+proto`, …) go to service `validation.v1.Relay` (see [`crate::relay`]),
//! behind its own fused server layer (spans and `rpc.server.call.duration`), which also
//! extracts OpenCensus `grpc-trace-bin`, below `traceparent` and `X-Cloud-Trace-Context`.
//! **gRPC-Web** too (`application/grpc-web`, `application/grpc-web-text`, with or without
//! `+proto`; HTTP/1.1 and HTTP/2): the same service through `tonic_web::GrpcWebLayer`, behind
//! the same layer (no CORS: browsers on another origin need a CORS layer in front).
//! Everything else is the HTTP contract above, unchanged.

use std::net::IpAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use http::Uri;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use opentelemetry::metrics::Meter;
use opentelemetry::trace::{Tracer, TracerProvider};
use serde::Deserialize;
use tower::{Layer, Service, ServiceExt};
use tower_telemetry_metrics::prometheus::MetricsService;
use tower_telemetry_metrics::{MetricsObserver, WithMetrics};
use tower_telemetry_propagation::Propagator;
use tower_telemetry_trace::lifecycle::Observe;
use tower_telemetry_trace::{ClientObserver, ClientTraceLayer, TraceLayer};

use crate::relay::{self, GrpcOrHttp, RelayServer};

/// The per-call timeout.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// Every request is answered within this.
pub const REQUEST_DEADLINE: Duration = Duration::from_millis(4_900);

/// The instrumented outbound client: a client span and client RED metrics per call.
pub type TracedClient<T> =
    Observe<Client<HttpConnector, Full<Bytes>>, (ClientObserver<T, Propagator>, MetricsObserver)>;

/// The validation server's router, with spans from `provider`, RED metrics from `meter`, and
/// `GET /metrics` served by `metrics` (see [`tower_telemetry_metrics::prometheus::exporter`]);
/// gRPC requests go to `validation.v1.Relay` (serve it with HTTP/2 allowed, as
/// [`serve`] does).
pub fn app<P>(provider: &P, meter: &Meter, metrics: MetricsService) -> Router
where
    P: TracerProvider,
    P::Tracer: Send + Sync + 'static,
    <P::Tracer as Tracer>::Span: Send + Sync + 'static,
{
    let propagator = Propagator::w3c_and_cloud_trace();
    let client = ClientTraceLayer::client_http(provider.tracer("validation-server"))
        .with_propagator(propagator)
        .with_metrics(meter)
        .layer(Client::builder(TokioExecutor::new()).build_http());
    let traced = Router::new()
        .route("/", get(|| async { "validation server" }))
        .route("/users/{id}", get(|| async { "user" }))
        .route(
            "/fail",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "failure, as asked") }),
        )
        .route(
            "/verify-tracecontext",
            post(verify_tracecontext::<P::Tracer>),
        )
        .route("/forward", get(forward::<P::Tracer>))
        .with_state(client)
        .layer(
            TraceLayer::server(provider.tracer("validation-server"))
                .with_propagator(propagator)
                .with_metrics(meter),
        );
    // The scrape endpoint itself is neither traced nor counted.
    let http = traced.route_service("/metrics", metrics);
    let grpc_layer = TraceLayer::server_grpc(provider.tracer("validation-server"))
        .with_propagator(relay::SERVER_PROPAGATOR)
        .with_metrics(meter);
    let relay = RelayServer::new(provider.tracer("validation-server"), meter);
    let grpc = grpc_layer.layer(relay.clone());
    // gRPC-Web: the same service and the same layer, outside tonic-web's translation, so the
    // layer reads the status from the body's trailer frame.
    let grpc_web = grpc_layer.layer(tonic_web::GrpcWebLayer::new().layer(relay));
    // One port: gRPC and gRPC-Web by their content types, the HTTP routes for the rest.
    Router::new().fallback_service(GrpcOrHttp::new(grpc, grpc_web, http))
}

/// The validation server's telemetry from the `OTEL_*` variables `vars` reads (see
/// [`tower_telemetry::setup`]), with a Prometheus reader for `GET /metrics` added whatever
/// `OTEL_METRICS_EXPORTER` says. `OTEL_SERVICE_NAME` wins over `validation-server`.
///
/// # Errors
///
/// A variable that cannot be used (the message names it).
pub fn telemetry(
    vars: impl Fn(&str) -> Option<String> + 'static,
) -> Result<
    (tower_telemetry::setup::Telemetry, MetricsService),
    Box<dyn std::error::Error + Send + Sync>,
> {
    let (reader, metrics) = tower_telemetry_metrics::prometheus::exporter()?;
    let telemetry = tower_telemetry::setup::Telemetry::builder("validation-server")
        .with_vars(vars)
        .with_reader(reader)
        .build()?;
    Ok((telemetry, metrics))
}

/// Serves [`app`] on `listener` with [`tower_telemetry::serve()`]'s timeouts and connection
/// cap as `configure` sets them, until `shutdown` completes, then drains in-flight requests
/// within its deadline (a client stalled in its request head cannot hold it).
pub async fn serve<P>(
    listener: tokio::net::TcpListener,
    provider: &P,
    meter: &Meter,
    metrics: MetricsService,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    configure: impl FnOnce(
        tower_telemetry::serve::Serve<Router>,
    ) -> tower_telemetry::serve::Serve<Router>,
) -> tower_telemetry::serve::Drained
where
    P: TracerProvider,
    P::Tracer: Send + Sync + 'static,
    <P::Tracer as Tracer>::Span: Send + Sync + 'static,
{
    configure(tower_telemetry::serve(
        listener,
        app(provider, meter, metrics),
    ))
    .with_graceful_shutdown(shutdown)
    .await
}

/// One element of the `/verify-tracecontext` body.
#[derive(Debug, Deserialize)]
struct Call {
    url: String,
    #[serde(default)]
    arguments: serde_json::Value,
}

/// Why a request was refused or failed, as an HTTP answer.
fn answer(status: StatusCode, message: impl Into<String>) -> (StatusCode, String) {
    (status, message.into())
}

/// `url` if it is an `http://` URL to a loopback address.
fn loopback_http(url: &str) -> Result<Uri, (StatusCode, String)> {
    let uri: Uri = url
        .parse()
        .map_err(|_| answer(StatusCode::BAD_REQUEST, format!("not a URL: {url}")))?;
    if uri.scheme_str() != Some("http") {
        return Err(answer(
            StatusCode::BAD_REQUEST,
            "only http:// URLs are called",
        ));
    }
    let host = uri.host().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !loopback || uri.authority().is_some_and(|a| a.as_str().contains('@')) {
        return Err(answer(
            StatusCode::BAD_REQUEST,
            "only loopback addresses are called",
        ));
    }
    Ok(uri)
}

/// One outbound call through the instrumented client; the downstream status.
async fn call<T>(
    client: &TracedClient<T>,
    request: http::Request<Full<Bytes>>,
) -> Result<StatusCode, (StatusCode, String)>
where
    T: Tracer + Send + Sync + 'static,
    T::Span: Send + Sync + 'static,
{
    let mut client = client.clone();
    let exchange = async move {
        let response = client.ready().await?.call(request).await?;
        let status = response.status();
        // Drain the body so the connection can be reused.
        let _ = response.into_body().collect().await;
        Ok::<_, hyper_util::client::legacy::Error>(status)
    };
    match tokio::time::timeout(CALL_TIMEOUT, exchange).await {
        Ok(Ok(status)) => Ok(status),
        Ok(Err(e)) => Err(answer(
            StatusCode::BAD_GATEWAY,
            format!("downstream failed: {e}"),
        )),
        Err(_) => Err(answer(StatusCode::GATEWAY_TIMEOUT, "downstream timed out")),
    }
}

async fn verify_tracecontext<T>(
    State(client): State<TracedClient<T>>,
    body: Bytes,
) -> (StatusCode, String)
where
    T: Tracer + Send + Sync + 'static,
    T::Span: Send + Sync + 'static,
{
    let calls: Vec<Call> = match serde_json::from_slice(&body) {
        Ok(calls) => calls,
        Err(e) => {
            return answer(
                StatusCode::BAD_REQUEST,
                format!("expected a JSON array of {{url, arguments}}: {e}"),
            );
        }
    };
    // Refuse the whole request before calling anything if one URL is not allowed.
    let mut requests = Vec::with_capacity(calls.len());
    for c in &calls {
        let uri = match loopback_http(&c.url) {
            Ok(uri) => uri,
            Err(refused) => return refused,
        };
        let body =
            Bytes::from(serde_json::to_vec(&c.arguments).unwrap_or_else(|_| b"null".to_vec()));
        let request = http::Request::post(uri)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(body));
        match request {
            Ok(request) => requests.push(request),
            Err(e) => return answer(StatusCode::BAD_REQUEST, format!("bad request: {e}")),
        }
    }
    let all = async {
        for request in requests {
            call(&client, request).await?;
        }
        Ok::<_, (StatusCode, String)>(())
    };
    match tokio::time::timeout(REQUEST_DEADLINE, all).await {
        Ok(Ok(())) => answer(StatusCode::OK, format!("{} calls made", calls.len())),
        Ok(Err(failed)) => failed,
        Err(_) => answer(StatusCode::GATEWAY_TIMEOUT, "calls did not finish in time"),
    }
}

/// `?to=URL`
#[derive(Debug, Deserialize)]
struct ForwardQuery {
    to: String,
}

async fn forward<T>(
    State(client): State<TracedClient<T>>,
    query: Result<Query<ForwardQuery>, axum::extract::rejection::QueryRejection>,
) -> (StatusCode, String)
where
    T: Tracer + Send + Sync + 'static,
    T::Span: Send + Sync + 'static,
{
    let Ok(Query(query)) = query else {
        return answer(StatusCode::BAD_REQUEST, "expected ?to=URL");
    };
    let uri = match loopback_http(&query.to) {
        Ok(uri) => uri,
        Err(refused) => return refused,
    };
    let Ok(request) = http::Request::get(uri).body(Full::default()) else {
        return answer(StatusCode::BAD_REQUEST, "bad URL");
    };
    match tokio::time::timeout(REQUEST_DEADLINE, call(&client, request)).await {
        Ok(Ok(status)) => answer(StatusCode::OK, status.as_u16().to_string()),
        Ok(Err(failed)) => failed,
        Err(_) => answer(StatusCode::GATEWAY_TIMEOUT, "downstream timed out"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_http() {
        for ok in [
            "http://127.0.0.1:7777/x",
            "http://127.1.2.3/",
            "http://localhost:80",
            "http://[::1]:8080/a",
        ] {
            assert!(loopback_http(ok).is_ok(), "{ok}");
        }
        for bad in [
            "https://127.0.0.1/",
            "http://10.0.0.1/",
            "http://example.com/",
            "ftp://127.0.0.1/",
            "not a url",
            "",
            "http://user@127.0.0.1/",
            "/relative",
        ] {
            assert_eq!(
                loopback_http(bad).unwrap_err().0,
                StatusCode::BAD_REQUEST,
                "{bad}"
            );
        }
    }
}
