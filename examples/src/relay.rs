//! The gRPC side of the validation server: service `validation.v1.Relay` of
//! `examples/proto/relay.proto`, the contract that black-box gRPC interop checks run against,
//! served on the validation server's port next to its HTTP routes (see
//! [`validation_server`](crate::validation_server)).
//!
//! Built without `protoc` or a build script: the messages are hand-written `prost` structs with
//! the proto's tags and types (a test holds them to the `.proto` file), and the service is a
//! hand-written tonic service over `tonic_prost::ProstCodec`, which is what tonic's generated
//! code does too.
//!
//! | method | behaviour |
//! |---|---|
//! | `Echo` | waits `delay_ms`, then answers `message` back, or the status `fail_code` when it is not 0 |
//! | `Forward` | calls `Relay/Echo` on `target` with `request`, through the instrumented tonic client (a CLIENT span and `rpc.client.call.duration`, the trace context propagated), and answers its reply or its status; a `target` that is not an `http://` loopback address (`127.0.0.0/8`, `[::1]`, `localhost`; the scheme may be left out) is `INVALID_ARGUMENT` and never contacted |
//! | `Stream` | sends `count` replies (`message` = `"0"`, `"1"`, …) `interval_ms` apart, the first at once, then ends with status `fail_code` |
//! | any other method | `UNIMPLEMENTED` |
//!
//! Every reply carries `parent_traceparent`: the trace context the server span continued, as a
//! W3C `traceparent` (`traceparent`, else `X-Cloud-Trace-Context`, else `grpc-trace-bin`, the
//! server layer's precedence), or `""` when the call started a new trace.
//!
//! Limits: `fail_code` 0..=16, `delay_ms` ≤ 5000, `count` ≤ 100, `interval_ms` ≤ 1000, else
//! `INVALID_ARGUMENT`. Every call ends within 4.9 s of its arrival, or by its own deadline
//! (`grpc-timeout`) if that is sooner, with `DEADLINE_EXCEEDED` if its work is not done by
//! then (a stream ends with it after the replies sent so far).

use std::convert::Infallible;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, Uri};
use opentelemetry::Context;
use opentelemetry::metrics::Meter;
use opentelemetry::trace::Tracer;
use tokio::time::Instant;
use tonic::metadata::MetadataMap;
use tonic::{Code, Status};
use tonic_prost::ProstCodec;
use tower::{Layer, ServiceExt};
use tower_telemetry_metrics::{MetricsObserver, WithMetrics};
use tower_telemetry_propagation::{Propagator, traceparent};
use tower_telemetry_trace::conventions::grpc::timeout_in;
use tower_telemetry_trace::lifecycle::{Observe, ObserveLayer};
use tower_telemetry_trace::{ClientObserver, ClientTraceLayer};

/// The service's fully qualified name.
pub const SERVICE: &str = "validation.v1.Relay";
/// The path of `Echo`.
pub const ECHO: &str = "/validation.v1.Relay/Echo";
/// The path of `Forward`.
pub const FORWARD: &str = "/validation.v1.Relay/Forward";
/// The path of `Stream`.
pub const STREAM: &str = "/validation.v1.Relay/Stream";

/// The largest `delay_ms`.
pub const MAX_DELAY_MS: u32 = 5_000;
/// The largest `count`.
pub const MAX_COUNT: u32 = 100;
/// The largest `interval_ms`.
pub const MAX_INTERVAL_MS: u32 = 1_000;
/// Every call ends within this of its arrival.
pub const CALL_DEADLINE: Duration = Duration::from_millis(4_900);

/// What the server layer extracts: W3C Trace Context, then Google Cloud Trace, then OpenCensus
/// `grpc-trace-bin` (a valid `traceparent` wins whatever the order).
pub const SERVER_PROPAGATOR: Propagator = Propagator::w3c_and_cloud_trace().with_grpc_trace_bin();
/// What `Forward` injects by default: W3C Trace Context and Google Cloud Trace, as the HTTP
/// side does (`grpc-trace-bin` only when asked, see [`RelayServer::with_client_propagator`]).
pub const CLIENT_PROPAGATOR: Propagator = Propagator::w3c_and_cloud_trace();

// === messages ===

/// `validation.v1.EchoRequest`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct EchoRequest {
    /// Echoed back.
    #[prost(string, tag = "1")]
    pub message: String,
    /// The status to answer with, a gRPC status code 0..=16 (0 = OK).
    #[prost(int32, tag = "2")]
    pub fail_code: i32,
    /// How long to wait before answering, at most 5000.
    #[prost(uint32, tag = "3")]
    pub delay_ms: u32,
}

/// `validation.v1.EchoReply`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct EchoReply {
    /// The request's message (`Echo`), or the reply's index (`Stream`).
    #[prost(string, tag = "1")]
    pub message: String,
    /// The trace context the answering server's span saw as its parent, as a W3C
    /// `traceparent` (empty when it started a new trace).
    #[prost(string, tag = "2")]
    pub parent_traceparent: String,
}

/// `validation.v1.ForwardRequest`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct ForwardRequest {
    /// The gRPC server to call, on loopback, e.g. `http://127.0.0.1:50051`.
    #[prost(string, tag = "1")]
    pub target: String,
    /// The request to pass on to its `Echo`.
    #[prost(message, optional, tag = "2")]
    pub request: Option<EchoRequest>,
}

/// `validation.v1.StreamRequest`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct StreamRequest {
    /// How many replies, at most 100.
    #[prost(uint32, tag = "1")]
    pub count: u32,
    /// The time between replies, at most 1000.
    #[prost(uint32, tag = "2")]
    pub interval_ms: u32,
    /// The status to end with, a gRPC status code 0..=16 (0 = OK).
    #[prost(int32, tag = "3")]
    pub fail_code: i32,
}

// === server ===

/// The instrumented tonic client `Forward` calls through: a CLIENT span and client RPC metrics
/// per call.
pub type TracedChannel<T> =
    Observe<tonic::transport::Channel, (ClientObserver<T, Propagator>, MetricsObserver)>;

type ClientLayer<T> = ObserveLayer<(ClientObserver<T, Propagator>, MetricsObserver)>;

/// The `validation.v1.Relay` service, as a tower service for any HTTP/2 server (put the
/// server layer around it).
pub struct RelayServer<T> {
    client: ClientLayer<T>,
}

impl<T: Tracer> RelayServer<T> {
    /// The service, with `Forward`'s client spans from `tracer` and its client metrics from
    /// `meter`, injecting [`CLIENT_PROPAGATOR`].
    pub fn new(tracer: T, meter: &Meter) -> Self {
        Self::with_client_propagator(tracer, meter, CLIENT_PROPAGATOR)
    }

    /// [`new`](Self::new) with `Forward` injecting `propagator` (e.g.
    /// `Propagator::w3c().with_grpc_trace_bin_injection()` for OpenCensus peers).
    pub fn with_client_propagator(tracer: T, meter: &Meter, propagator: Propagator) -> Self {
        RelayServer {
            client: ClientTraceLayer::client_grpc(tracer)
                .with_propagator(propagator)
                .with_metrics(meter),
        }
    }
}

impl<T> Clone for RelayServer<T> {
    fn clone(&self) -> Self {
        RelayServer {
            client: self.client.clone(),
        }
    }
}

impl<T> std::fmt::Debug for RelayServer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayServer").finish_non_exhaustive()
    }
}

impl<T> tonic::server::NamedService for RelayServer<T> {
    const NAME: &'static str = SERVICE;
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<T, B> tower::Service<Request<B>> for RelayServer<T>
where
    T: Tracer + Send + Sync + 'static,
    T::Span: Send + Sync + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
{
    type Response = Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        match request.uri().path() {
            ECHO => Box::pin(async move {
                let echo = tower::service_fn(echo);
                Ok(tonic::server::Grpc::new(ProstCodec::default())
                    .unary(echo, request)
                    .await)
            }),
            FORWARD => {
                let client = self.client.clone();
                Box::pin(async move {
                    let forward = tower::service_fn(move |r| forward(client.clone(), r));
                    Ok(tonic::server::Grpc::new(ProstCodec::default())
                        .unary(forward, request)
                        .await)
                })
            }
            STREAM => Box::pin(async move {
                let stream = tower::service_fn(stream);
                Ok(tonic::server::Grpc::new(ProstCodec::default())
                    .server_streaming(stream, request)
                    .await)
            }),
            _ => Box::pin(async move {
                Ok(
                    Status::unimplemented("validation.v1.Relay has Echo, Forward and Stream")
                        .into_http(),
                )
            }),
        }
    }
}

/// When the call must end: its `grpc-timeout`, at most [`CALL_DEADLINE`], from now.
fn deadline(metadata: &MetadataMap) -> Instant {
    let budget = timeout_in(metadata.as_ref()).map_or(CALL_DEADLINE, |t| t.min(CALL_DEADLINE));
    Instant::now() + budget
}

/// The server span's parent as a `traceparent`, or `""`: the caller's context, read by the
/// server layer's propagator.
fn parent_traceparent(metadata: &MetadataMap) -> String {
    SERVER_PROPAGATOR
        .extract(metadata.as_ref())
        .map(|parent| String::from_utf8_lossy(&traceparent::encode(&parent)).into_owned())
        .unwrap_or_default()
}

/// `code` as a status code, if it is one (0..=16).
fn status_code(code: i32, field: &str) -> Result<Code, Status> {
    if (0..=16).contains(&code) {
        Ok(Code::from_i32(code))
    } else {
        Err(Status::invalid_argument(format!(
            "{field} must be a gRPC status code, 0..=16, not {code}"
        )))
    }
}

fn at_most(value: u32, max: u32, field: &str) -> Result<u32, Status> {
    if value <= max {
        Ok(value)
    } else {
        Err(Status::invalid_argument(format!(
            "{field} must be at most {max}, not {value}"
        )))
    }
}

fn past_deadline() -> Status {
    Status::deadline_exceeded("the call's deadline passed")
}

/// Waits until `until`, or fails at `deadline` if that comes first.
async fn wait_until(until: Instant, deadline: Instant) -> Result<(), Status> {
    if until > deadline {
        tokio::time::sleep_until(deadline).await;
        return Err(past_deadline());
    }
    tokio::time::sleep_until(until).await;
    Ok(())
}

async fn echo(request: tonic::Request<EchoRequest>) -> Result<tonic::Response<EchoReply>, Status> {
    let deadline = deadline(request.metadata());
    let parent_traceparent = parent_traceparent(request.metadata());
    let echo = request.into_inner();
    let code = status_code(echo.fail_code, "fail_code")?;
    let delay = at_most(echo.delay_ms, MAX_DELAY_MS, "delay_ms")?;
    wait_until(
        Instant::now() + Duration::from_millis(u64::from(delay)),
        deadline,
    )
    .await?;
    match code {
        Code::Ok => Ok(tonic::Response::new(EchoReply {
            message: echo.message,
            parent_traceparent,
        })),
        code => Err(Status::new(code, "failed as asked (fail_code)")),
    }
}

async fn forward<T>(
    client: ClientLayer<T>,
    request: tonic::Request<ForwardRequest>,
) -> Result<tonic::Response<EchoReply>, Status>
where
    T: Tracer + Send + Sync + 'static,
    T::Span: Send + Sync + 'static,
{
    let deadline = deadline(request.metadata());
    // The server span, for the client span's parent.
    let cx = request.extensions().get::<Context>().cloned();
    let ForwardRequest { target, request } = request.into_inner();
    let target = loopback_target(&target)?;
    let channel = tonic::transport::Endpoint::from(target.clone())
        .connect_timeout(CALL_DEADLINE)
        .connect_lazy();
    let mut downstream = tonic::Request::new(request.unwrap_or_default());
    downstream.set_timeout(deadline.saturating_duration_since(Instant::now()));
    if let Some(cx) = cx {
        downstream.extensions_mut().insert(cx);
    }
    // The URI's authority gives the client span its `server.address` and `server.port`.
    let call = call_unary(client.layer(channel), target, ECHO, downstream);
    match tokio::time::timeout_at(deadline, call).await {
        Ok(Ok(reply)) => Ok(tonic::Response::new(reply.into_inner())),
        Ok(Err(status)) => Err(Status::new(status.code(), status.message().to_owned())),
        Err(_) => Err(past_deadline()),
    }
}

/// The replies of a `Stream` call, as they are produced.
struct Replies(tokio::sync::mpsc::Receiver<Result<EchoReply, Status>>);

impl futures_core::Stream for Replies {
    type Item = Result<EchoReply, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}

async fn stream(
    request: tonic::Request<StreamRequest>,
) -> Result<tonic::Response<Replies>, Status> {
    let started = Instant::now();
    let deadline = deadline(request.metadata());
    let parent_traceparent = parent_traceparent(request.metadata());
    let asked = request.into_inner();
    let code = status_code(asked.fail_code, "fail_code")?;
    let count = at_most(asked.count, MAX_COUNT, "count")?;
    let interval = at_most(asked.interval_ms, MAX_INTERVAL_MS, "interval_ms")?;
    let interval = Duration::from_millis(u64::from(interval));
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    tokio::spawn(async move {
        for i in 0..count {
            if let Err(status) = wait_until(started + interval * i, deadline).await {
                let _ = tx.send(Err(status)).await;
                return;
            }
            let reply = EchoReply {
                message: i.to_string(),
                parent_traceparent: parent_traceparent.clone(),
            };
            if tx.send(Ok(reply)).await.is_err() {
                return; // the caller went away
            }
        }
        if code != Code::Ok {
            let _ = tx
                .send(Err(Status::new(code, "failed as asked (fail_code)")))
                .await;
        }
    });
    Ok(tonic::Response::new(Replies(rx)))
}

/// `target` as an `http://` URI to a loopback address (`http://` may be left out, as gRPC
/// target strings do), else `INVALID_ARGUMENT`.
fn loopback_target(target: &str) -> Result<Uri, Status> {
    let refused = |why: &str| Status::invalid_argument(format!("target {target:?}: {why}"));
    let with_scheme = if target.contains("://") {
        target.to_owned()
    } else {
        format!("http://{target}")
    };
    let uri: Uri = with_scheme.parse().map_err(|_| refused("not an address"))?;
    if uri.scheme_str() != Some("http") {
        return Err(refused("only http:// (h2c) targets are called"));
    }
    let authority = uri.authority().ok_or_else(|| refused("no host"))?;
    let host = authority.host();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !loopback || authority.as_str().contains('@') {
        return Err(refused("only loopback addresses are called"));
    }
    if uri.path() != "/" && !uri.path().is_empty() {
        return Err(refused("a target has no path"));
    }
    Ok(uri)
}

// === client ===

/// Calls the unary method at `path` on `origin` through `client` (any tonic transport, e.g. a
/// `Channel`, bare or behind the client layer).
///
/// # Errors
///
/// The call's status when it is not OK.
pub async fn call_unary<C, Req, Res>(
    client: C,
    origin: Uri,
    path: &'static str,
    request: tonic::Request<Req>,
) -> Result<tonic::Response<Res>, Status>
where
    C: tonic::client::GrpcService<tonic::body::Body>,
    C::ResponseBody: http_body::Body<Data = Bytes> + Send + 'static,
    <C::ResponseBody as http_body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    C::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    Req: prost::Message + Send + 'static,
    Res: prost::Message + Default + Send + 'static,
{
    let mut grpc = tonic::client::Grpc::with_origin(client, origin);
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(e.into().to_string()))?;
    grpc.unary(
        request,
        http::uri::PathAndQuery::from_static(path),
        ProstCodec::default(),
    )
    .await
}

/// Calls `Stream` on `origin` through `client`; the replies as they come.
///
/// # Errors
///
/// The call's status when it fails before its replies start.
pub async fn call_stream<C>(
    client: C,
    origin: Uri,
    request: tonic::Request<StreamRequest>,
) -> Result<tonic::Response<tonic::Streaming<EchoReply>>, Status>
where
    C: tonic::client::GrpcService<tonic::body::Body>,
    C::ResponseBody: http_body::Body<Data = Bytes> + Send + 'static,
    <C::ResponseBody as http_body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    C::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut grpc = tonic::client::Grpc::with_origin(client, origin);
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(e.into().to_string()))?;
    grpc.server_streaming(
        request,
        http::uri::PathAndQuery::from_static(STREAM),
        ProstCodec::default(),
    )
    .await
}

/// Whether `request` is gRPC for this server: `content-type` `application/grpc`, alone or with a
/// `+format` or parameters (`application/grpc+proto`; "gRPC over HTTP2", Requests,
/// Content-Type). gRPC-Web is another protocol and is not.
pub fn is_grpc<B>(request: &Request<B>) -> bool {
    request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.as_bytes().strip_prefix(b"application/grpc"))
        .is_some_and(|rest| rest.is_empty() || rest[0] == b'+' || rest[0] == b';')
}

/// Whether `request` is gRPC-Web ("gRPC Web", `grpc/grpc:doc/PROTOCOL-WEB.md`):
/// `content-type` `application/grpc-web` or `application/grpc-web-text`, alone or with a
/// `+format` or parameters.
pub fn is_grpc_web<B>(request: &Request<B>) -> bool {
    request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.as_bytes().strip_prefix(b"application/grpc-web"))
        .and_then(|rest| rest.strip_prefix(b"-text").or(Some(rest)))
        .is_some_and(|rest| rest.is_empty() || rest[0] == b'+' || rest[0] == b';')
}

/// Serves gRPC requests ([`is_grpc`]) with `grpc`, gRPC-Web requests ([`is_grpc_web`]) with
/// `grpc_web`, and the rest with `http`, on one port.
#[derive(Debug, Clone)]
pub struct GrpcOrHttp<G, W, H> {
    grpc: G,
    grpc_web: W,
    http: H,
}

impl<G, W, H> GrpcOrHttp<G, W, H> {
    /// `grpc` for gRPC, `grpc_web` for gRPC-Web, `http` for everything else.
    pub fn new(grpc: G, grpc_web: W, http: H) -> Self {
        GrpcOrHttp {
            grpc,
            grpc_web,
            http,
        }
    }
}

/// Calls `service` with `request`, its body boxed as axum's.
fn boxed<S, B>(
    service: S,
    request: Request<axum::body::Body>,
) -> BoxFuture<Result<Response<axum::body::Body>, Infallible>>
where
    S: tower::Service<Request<axum::body::Body>, Response = Response<B>, Error = Infallible>
        + Send
        + 'static,
    S::Future: Send,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    Box::pin(async move {
        let response = service.oneshot(request).await?;
        Ok(response.map(axum::body::Body::new))
    })
}

impl<G, W, H, GB, WB> tower::Service<Request<axum::body::Body>> for GrpcOrHttp<G, W, H>
where
    G: tower::Service<Request<axum::body::Body>, Response = Response<GB>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    G::Future: Send,
    GB: http_body::Body<Data = Bytes> + Send + 'static,
    GB::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    W: tower::Service<Request<axum::body::Body>, Response = Response<WB>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    W::Future: Send,
    WB: http_body::Body<Data = Bytes> + Send + 'static,
    WB::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    H: tower::Service<
            Request<axum::body::Body>,
            Response = Response<axum::body::Body>,
            Error = Infallible,
        > + Clone
        + Send
        + 'static,
    H::Future: Send,
{
    type Response = Response<axum::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
        // Each request goes to a clone made ready by `oneshot`.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<axum::body::Body>) -> Self::Future {
        if is_grpc(&request) {
            boxed(self.grpc.clone(), request)
        } else if is_grpc_web(&request) {
            boxed(self.grpc_web.clone(), request)
        } else {
            Box::pin(self.http.clone().oneshot(request))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        for ok in [
            "http://127.0.0.1:50051",
            "127.0.0.1:50051",
            "localhost:7",
            "http://[::1]:8080",
            "http://127.9.9.9:1/",
        ] {
            assert!(loopback_target(ok).is_ok(), "{ok}");
        }
        for bad in [
            "https://127.0.0.1:50051",
            "http://10.0.0.1:50051",
            "example.com:443",
            "http://user@127.0.0.1:1",
            "http://127.0.0.1:1/some/path",
            "dns:///localhost:50051",
            "",
        ] {
            assert_eq!(
                loopback_target(bad).unwrap_err().code(),
                Code::InvalidArgument,
                "{bad}"
            );
        }
    }

    #[test]
    fn grpc_content_types() {
        let with = |ct: &str| {
            Request::post("/x")
                .header(http::header::CONTENT_TYPE, ct)
                .body(())
                .unwrap()
        };
        for yes in [
            "application/grpc",
            "application/grpc+proto",
            "application/grpc;charset=utf-8",
        ] {
            assert!(is_grpc(&with(yes)), "{yes}");
        }
        for no in [
            "application/grpc-web",
            "application/grpc-web+proto",
            "application/json",
            "application/grpcx",
        ] {
            assert!(!is_grpc(&with(no)), "{no}");
        }
        for yes in [
            "application/grpc-web",
            "application/grpc-web+proto",
            "application/grpc-web-text",
            "application/grpc-web-text+proto",
            "application/grpc-web;charset=utf-8",
        ] {
            assert!(is_grpc_web(&with(yes)), "{yes}");
        }
        for no in [
            "application/grpc",
            "application/grpc-webx",
            "application/grpc-web-textual",
            "application/json",
        ] {
            assert!(!is_grpc_web(&with(no)), "{no}");
        }
        assert!(!is_grpc(&Request::post("/x").body(()).unwrap()));
    }

    /// The hand-written messages have the proto's fields: name, type and number.
    #[test]
    fn messages_match_the_proto() {
        let proto = include_str!("../proto/relay.proto");
        let mut fields = Vec::new();
        let mut message = None;
        for line in proto
            .lines()
            .map(|l| l.split("//").next().unwrap_or("").trim())
        {
            if let Some(name) = line.strip_prefix("message ") {
                message = Some(name.trim_end_matches('{').trim().to_owned());
            } else if line == "}" {
                message = None;
            } else if let (Some(m), Some((decl, tag))) = (&message, line.split_once('=')) {
                let mut decl = decl.split_whitespace();
                let (ty, name) = (decl.next().unwrap(), decl.next().unwrap());
                let tag = tag.trim().trim_end_matches(';').trim();
                fields.push(format!("{m}.{name}: {ty} = {tag}"));
            }
        }
        #[rustfmt::skip]
        let expected = [
            "EchoRequest.message: string = 1",
            "EchoRequest.fail_code: int32 = 2",
            "EchoRequest.delay_ms: uint32 = 3",
            "EchoReply.message: string = 1",
            "EchoReply.parent_traceparent: string = 2",
            "ForwardRequest.target: string = 1",
            "ForwardRequest.request: EchoRequest = 2",
            "StreamRequest.count: uint32 = 1",
            "StreamRequest.interval_ms: uint32 = 2",
            "StreamRequest.fail_code: int32 = 3",
        ];
        assert_eq!(
            fields, expected,
            "the proto changed: update the structs above"
        );
        assert!(proto.contains("package validation.v1;"));
        for rpc in [
            "rpc Echo(EchoRequest) returns (EchoReply);",
            "rpc Forward(ForwardRequest) returns (EchoReply);",
            "rpc Stream(StreamRequest) returns (stream EchoReply);",
        ] {
            assert!(proto.contains(rpc), "{rpc}");
        }
        // And the structs encode those numbers and wire types.
        use prost::Message as _;
        let bytes = ForwardRequest {
            target: "t".into(),
            request: Some(EchoRequest {
                message: "m".into(),
                fail_code: 5,
                delay_ms: 7,
            }),
        }
        .encode_to_vec();
        assert_eq!(
            bytes,
            [0x0a, 1, b't', 0x12, 7, 0x0a, 1, b'm', 0x10, 5, 0x18, 7],
            "field 1 string, field 2 message; inside: 1 string, 2 varint, 3 varint"
        );
        let bytes = StreamRequest {
            count: 1,
            interval_ms: 2,
            fail_code: 3,
        }
        .encode_to_vec();
        assert_eq!(bytes, [0x08, 1, 0x10, 2, 0x18, 3]);
        let bytes = EchoReply {
            message: "a".into(),
            parent_traceparent: "b".into(),
        }
        .encode_to_vec();
        assert_eq!(bytes, [0x0a, 1, b'a', 0x12, 1, b'b']);
    }
}
