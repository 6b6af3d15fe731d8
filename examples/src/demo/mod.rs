//! The demo behind `cargo run --example demo`: a frontend (axum) calling a backend (axum) over
//! HTTP and a greeter (tonic) over gRPC, all behind the trace and metrics layers, driven by a
//! short scripted workload; then each trace printed as a waterfall, with the log lines written
//! in its requests (matched on the `trace_id` the trace layers' `tracing` spans carry), and a
//! RED table per service and route.
//!
//! Telemetry comes from [`tower_telemetry::setup`]: with no `OTEL_*` variables everything stays
//! in the process; with `OTEL_EXPORTER_OTLP_ENDPOINT` set, spans and metrics also go to that
//! collector.

mod logs;
mod render;

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SimpleSpanProcessor};
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_telemetry::setup::{SetupError, Telemetry};
use tower_telemetry_metrics::WithMetrics;
use tower_telemetry_trace::{ClientTraceLayer, TraceLayer};

pub use logs::{DemoLogs, LogLine};
pub use render::{Style, render_red_table, render_waterfalls};

use crate::grpc::{BytesCodec, EchoServer};

/// One service's telemetry, and what it recorded for the demo's own output.
#[derive(Debug)]
pub struct ServiceTelemetry {
    /// The short name shown in the output.
    pub name: &'static str,
    /// The providers, from the environment.
    pub telemetry: Telemetry,
    metrics: InMemoryMetricExporter,
}

/// The three services' telemetry, sharing one in-memory span store for the waterfalls, and
/// the process's log lines.
#[derive(Debug)]
pub struct DemoTelemetry {
    /// Frontend, backend, greeter.
    pub services: Vec<ServiceTelemetry>,
    spans: InMemorySpanExporter,
    logs: DemoLogs,
}

/// [`crate::local_first_vars`], with propagation defaulting to W3C plus Google's
/// `X-Cloud-Trace-Context` (the frontend plays a service behind Google's load balancer).
fn demo_vars(name: &str) -> Option<String> {
    match name {
        "OTEL_PROPAGATORS" => std::env::var(name)
            .ok()
            .or_else(|| Some("tracecontext,baggage,xcloudtrace".to_owned())),
        _ => crate::local_first_vars(name),
    }
}

impl DemoTelemetry {
    /// Builds the three services' providers from the environment, and installs the
    /// process's `tracing` subscriber (see [`DemoLogs::install`]).
    ///
    /// # Errors
    ///
    /// A variable that cannot be used (the message names it).
    pub fn from_env() -> Result<Self, SetupError> {
        let spans = InMemorySpanExporter::default();
        let mut services = Vec::new();
        for (name, service_name) in [
            ("frontend", "demo-frontend"),
            ("backend", "demo-backend"),
            ("greeter", "demo-greeter"),
        ] {
            let metrics = InMemoryMetricExporter::default();
            let reader = PeriodicReader::builder(metrics.clone())
                .with_interval(Duration::from_secs(3600))
                .build();
            let telemetry = Telemetry::builder(service_name)
                .with_vars(demo_vars)
                .with_span_processor(SimpleSpanProcessor::new(spans.clone()))
                .with_reader(reader)
                .build()?;
            services.push(ServiceTelemetry {
                name,
                telemetry,
                metrics,
            });
        }
        Ok(DemoTelemetry {
            services,
            spans,
            logs: DemoLogs::install(),
        })
    }

    fn get(&self, name: &str) -> &ServiceTelemetry {
        self.services
            .iter()
            .find(|s| s.name == name)
            .expect("the three demo services")
    }
}

/// Where the demo's services listen.
#[derive(Debug, Clone, Copy)]
pub struct Addresses {
    /// The frontend (HTTP).
    pub frontend: SocketAddr,
    /// The backend (HTTP).
    pub backend: SocketAddr,
    /// The greeter (gRPC).
    pub greeter: SocketAddr,
}

/// The demo's running services: where they listen, and how to stop them.
#[derive(Debug)]
pub struct Services {
    /// Where they listen.
    pub addresses: Addresses,
    /// Each server's stop trigger and task, in the order they started (callees first).
    servers: Vec<(
        tokio::sync::watch::Sender<bool>,
        tokio::task::JoinHandle<usize>,
    )>,
}

impl Services {
    /// Stops the three services as a deployment would (see [`tower_telemetry::serve()`]): no new
    /// connections, in-flight requests finish within the drain deadline. Callers stop before
    /// the services they call, so a request being drained can still make its calls. Returns
    /// how many connections were cut at a deadline.
    pub async fn shutdown(self) -> usize {
        let mut cut = 0;
        for (stop, server) in self.servers.into_iter().rev() {
            let _ = stop.send(true);
            cut += server.await.unwrap_or(0);
        }
        cut
    }
}

/// Serves `service` on `listener` with [`tower_telemetry::serve()`] until its trigger fires.
fn spawn_server<S, B>(
    listener: tokio::net::TcpListener,
    service: S,
) -> (
    tokio::sync::watch::Sender<bool>,
    tokio::task::JoinHandle<usize>,
)
where
    S: tower::Service<http::Request<hyper::body::Incoming>, Response = http::Response<B>>
        + Clone
        + Send
        + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S::Future: Send + 'static,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(async move {
        let drained = tower_telemetry::serve(listener, service)
            .with_graceful_shutdown(async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            })
            .await;
        drained.connections_cut
    });
    (stop, task)
}

async fn bind() -> std::io::Result<(tokio::net::TcpListener, SocketAddr)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    Ok((listener, addr))
}

/// Starts the three services on 127.0.0.1.
///
/// # Errors
///
/// When a port cannot be bound.
pub async fn start(telemetry: &DemoTelemetry) -> std::io::Result<Services> {
    let mut servers = Vec::new();
    // The greeter: the gRPC echo service behind the server layer and server metrics.
    let greeter = telemetry.get("greeter");
    let (listener, greeter_addr) = bind().await?;
    // tonic's routes served by `tower_telemetry::serve` (HTTP/2 by prior knowledge), as the
    // HTTP services are: one shutdown with a drain deadline for all three.
    let service = ServiceBuilder::new()
        .layer(
            TraceLayer::server(greeter.telemetry.tracer("greeter"))
                .with_propagator(greeter.telemetry.propagator())
                .with_metrics(&greeter.telemetry.meter("greeter")),
        )
        .map_request(|request: http::Request<hyper::body::Incoming>| {
            // Inside the request's span: the line carries its trace id.
            tracing::info!(target: "greeter", "call to {}", request.uri().path());
            request
        })
        .service(tonic::service::Routes::new(EchoServer));
    servers.push(spawn_server(listener, service));

    // The backend: an inventory with a slow route and a failing one.
    let backend = telemetry.get("backend");
    let (listener, backend_addr) = bind().await?;
    let mut app = Router::new()
        .route(
            "/inventory/{id}",
            get(|Path(id): Path<String>| async move {
                if id == "explode" {
                    tracing::error!(target: "backend", "item {id}: the inventory exploded");
                    return (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "the inventory exploded".to_owned(),
                    );
                }
                tokio::time::sleep(Duration::from_millis(4)).await;
                tracing::info!(target: "backend", "item {id}: 7 in stock");
                (StatusCode::OK, format!("{{\"id\":{id:?},\"stock\":7}}"))
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tracing::info!(target: "backend", "slow on purpose: 150 ms");
                tokio::time::sleep(Duration::from_millis(150)).await;
                "finally"
            }),
        )
        .layer(
            TraceLayer::server(backend.telemetry.tracer("backend"))
                .with_propagator(backend.telemetry.propagator())
                .with_metrics(&backend.telemetry.meter("backend")),
        );
    let metrics = backend.telemetry.metrics_service();
    if metrics.is_enabled() {
        app = app.route_service("/metrics", metrics);
    }
    servers.push(spawn_server(listener, app));

    // The frontend: calls both through the client layers.
    let frontend = telemetry.get("frontend");
    let (listener, frontend_addr) = bind().await?;
    let http = ServiceBuilder::new()
        .layer(
            ClientTraceLayer::client(frontend.telemetry.tracer("frontend"))
                .with_propagator(frontend.telemetry.propagator())
                .with_metrics(&frontend.telemetry.meter("frontend")),
        )
        .service(Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>());
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{greeter_addr}"))
        .map_err(std::io::Error::other)?
        .connect_lazy();
    let grpc = ServiceBuilder::new()
        .layer(
            ClientTraceLayer::client_grpc(frontend.telemetry.tracer("frontend"))
                .with_propagator(frontend.telemetry.propagator())
                .with_server_address(greeter_addr.to_string())
                .with_metrics(&frontend.telemetry.meter("frontend")),
        )
        .service(channel);
    let state = Frontend {
        http,
        grpc,
        backend: backend_addr,
    };
    let mut app = Router::new()
        .route("/checkout/{id}", get(checkout))
        .route("/fail", get(fail))
        .route("/slow", get(slow))
        .route("/greet-error", get(greet_error))
        .with_state(state)
        .layer(
            TraceLayer::server(frontend.telemetry.tracer("frontend"))
                .with_propagator(frontend.telemetry.propagator())
                .with_metrics(&frontend.telemetry.meter("frontend")),
        );
    let metrics = frontend.telemetry.metrics_service();
    if metrics.is_enabled() {
        app = app.route_service("/metrics", metrics);
    }
    servers.push(spawn_server(listener, app));

    Ok(Services {
        addresses: Addresses {
            frontend: frontend_addr,
            backend: backend_addr,
            greeter: greeter_addr,
        },
        servers,
    })
}

type HttpClient = tower_telemetry_trace::lifecycle::Observe<
    Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    (
        tower_telemetry_trace::ClientObserver<
            opentelemetry_sdk::trace::SdkTracer,
            tower_telemetry_trace::propagation::Propagator,
        >,
        tower_telemetry_metrics::MetricsObserver,
    ),
>;
type GrpcClient = tower_telemetry_trace::lifecycle::Observe<
    tonic::transport::Channel,
    (
        tower_telemetry_trace::ClientObserver<
            opentelemetry_sdk::trace::SdkTracer,
            tower_telemetry_trace::propagation::Propagator,
        >,
        tower_telemetry_metrics::MetricsObserver,
    ),
>;

#[derive(Clone)]
struct Frontend {
    http: HttpClient,
    grpc: GrpcClient,
    backend: SocketAddr,
}

impl Frontend {
    async fn get(&self, path: &str) -> Result<(StatusCode, String), String> {
        let request = http::Request::get(format!("http://{}{path}", self.backend))
            .body(Full::default())
            .map_err(|e| e.to_string())?;
        let mut http = self.http.clone();
        let response = http
            .ready()
            .await
            .map_err(|e| e.to_string())?
            .call(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    }

    async fn greet(&self, message: &str) -> Result<String, tonic::Status> {
        let mut grpc = tonic::client::Grpc::new(self.grpc.clone());
        grpc.ready()
            .await
            .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
        let path = http::uri::PathAndQuery::from_static("/test.Echo/Say");
        let reply = grpc
            .unary(
                tonic::Request::new(Bytes::from(message.to_owned())),
                path,
                BytesCodec,
            )
            .await?;
        Ok(String::from_utf8_lossy(&reply.into_inner()).into_owned())
    }
}

async fn checkout(State(app): State<Frontend>, Path(id): Path<String>) -> (StatusCode, String) {
    tracing::info!(target: "frontend", "checkout {id}: stock first, then a greeting");
    let item = match app.get(&format!("/inventory/{id}")).await {
        Ok((StatusCode::OK, body)) => body,
        Ok((status, _)) => return (StatusCode::BAD_GATEWAY, format!("inventory said {status}")),
        Err(e) => return (StatusCode::BAD_GATEWAY, e),
    };
    match app.greet(&format!("thanks for buying {id}")).await {
        Ok(greeting) => (StatusCode::OK, format!("{item} / {greeting}")),
        Err(status) => (StatusCode::BAD_GATEWAY, status.message().to_owned()),
    }
}

async fn fail(State(app): State<Frontend>) -> (StatusCode, String) {
    match app.get("/inventory/explode").await {
        Ok((status, body)) if !status.is_success() => {
            tracing::warn!(target: "frontend", "the inventory answered {status}");
            (StatusCode::INTERNAL_SERVER_ERROR, body)
        }
        Ok((_, body)) => (StatusCode::OK, body),
        Err(e) => (StatusCode::BAD_GATEWAY, e),
    }
}

async fn slow(State(app): State<Frontend>) -> (StatusCode, String) {
    match app.get("/slow").await {
        Ok((_, body)) => (StatusCode::OK, body),
        Err(e) => (StatusCode::BAD_GATEWAY, e),
    }
}

async fn greet_error(State(app): State<Frontend>) -> (StatusCode, String) {
    match app.greet("fail:5").await {
        Ok(greeting) => (StatusCode::OK, greeting),
        Err(status) => {
            tracing::warn!(target: "frontend", "the greeter answered {:?}", status.code());
            (
                StatusCode::BAD_GATEWAY,
                format!("greeter: {:?}", status.code()),
            )
        }
    }
}

/// One step of the scripted workload.
#[derive(Debug, Clone, Copy)]
pub struct Step {
    /// The frontend path.
    pub path: &'static str,
    /// Extra request headers.
    pub headers: &'static [(&'static str, &'static str)],
    /// What it shows.
    pub what: &'static str,
}

/// The scripted workload.
pub const WORKLOAD: &[Step] = &[
    Step {
        path: "/checkout/42",
        headers: &[],
        what: "backend over HTTP, greeter over gRPC",
    },
    Step {
        path: "/checkout/7",
        headers: &[],
        what: "another checkout",
    },
    Step {
        path: "/nope",
        headers: &[],
        what: "a 404: not a server error",
    },
    Step {
        path: "/fail",
        headers: &[],
        what: "the backend fails with a 500",
    },
    Step {
        path: "/slow",
        headers: &[],
        what: "a slow backend call",
    },
    Step {
        path: "/checkout/9",
        headers: &[(
            "x-cloud-trace-context",
            "105445aa7843bc8bf206b12000100000/1;o=1",
        )],
        what: "with X-Cloud-Trace-Context (Google LB)",
    },
    Step {
        path: "/greet-error",
        headers: &[],
        what: "the greeter answers NOT_FOUND (gRPC)",
    },
];

/// Runs [`WORKLOAD`] against the frontend, printing one progress line per step.
///
/// # Errors
///
/// When writing to `out` fails.
pub async fn drive(
    frontend: SocketAddr,
    out: &mut impl Write,
    style: Style,
) -> std::io::Result<()> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    for (i, step) in WORKLOAD.iter().enumerate() {
        let mut request = http::Request::get(format!("http://{frontend}{}", step.path));
        for (k, v) in step.headers {
            request = request.header(*k, *v);
        }
        let request = request
            .body(Full::default())
            .map_err(std::io::Error::other)?;
        let started = Instant::now();
        let status = match client.request(request).await {
            Ok(response) => {
                let status = response.status();
                let _ = response.into_body().collect().await;
                status.as_u16().to_string()
            }
            Err(e) => format!("error: {e}"),
        };
        let ms = started.elapsed().as_secs_f64() * 1e3;
        writeln!(
            out,
            "  {} GET {:<14} {} {:>6.1} ms  {}",
            style.dim(&format!("[{}/{}]", i + 1, WORKLOAD.len())),
            step.path,
            style.status(&status),
            ms,
            style.dim(step.what)
        )?;
    }
    Ok(())
}

/// What the demo recorded: the spans of every service, the log lines written in requests and
/// each service's histograms.
#[derive(Debug)]
pub struct Recorded {
    /// Every span that ended.
    pub spans: Vec<opentelemetry_sdk::trace::SpanData>,
    /// The log lines written inside requests, with their trace ids.
    pub logs: Vec<LogLine>,
    /// Per service: the metrics it exported last.
    pub metrics: HashMap<&'static str, Vec<opentelemetry_sdk::metrics::data::ResourceMetrics>>,
}

impl DemoTelemetry {
    /// Flushes everything and returns what was recorded.
    pub fn collect(&self) -> Recorded {
        let mut metrics = HashMap::new();
        for service in &self.services {
            service.telemetry.flush();
            metrics.insert(
                service.name,
                service.metrics.get_finished_metrics().unwrap_or_default(),
            );
        }
        Recorded {
            spans: self.spans.get_finished_spans().unwrap_or_default(),
            logs: self.logs.lines(),
            metrics,
        }
    }
}

/// Runs the whole demo: services, workload, waterfalls, RED table.
///
/// # Errors
///
/// When a service cannot start or the output cannot be written.
pub async fn run(
    telemetry: &DemoTelemetry,
    out: &mut impl Write,
    style: Style,
) -> std::io::Result<Services> {
    let services = start(telemetry).await?;
    let addresses = services.addresses;
    writeln!(
        out,
        "{}",
        style.bold("Three services on 127.0.0.1, each behind tower-trace + tower-metrics:")
    )?;
    writeln!(out, "  frontend  http://{}", addresses.frontend)?;
    writeln!(out, "  backend   http://{}", addresses.backend)?;
    writeln!(out, "  greeter   grpc://{}", addresses.greeter)?;
    writeln!(out)?;
    writeln!(out, "{}", style.bold("Workload"))?;
    drive(addresses.frontend, out, style).await?;
    // Spans end on the servers' tasks right after the responses: let them finish.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let recorded = telemetry.collect();
    writeln!(out)?;
    render_waterfalls(&recorded.spans, &recorded.logs, out, style)?;
    writeln!(out)?;
    render_red_table(
        &recorded.metrics,
        &tower_telemetry_metrics::kept_exemplars(),
        &recorded.spans,
        out,
        style,
    )?;
    Ok(services)
}
