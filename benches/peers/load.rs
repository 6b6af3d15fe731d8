//! The load test, peers included: `cargo run --release --manifest-path benches/peers/Cargo.toml
//! --bin load [SECONDS]` (60 by default, or `LOAD_SECONDS`; `benches/run.sh` runs it and puts
//! the figures in `BENCHMARKS.md`).
//!
//! On 127.0.0.1, in one process: a load generator (32 concurrent clients) calling a frontend,
//! which calls a backend over HTTP for every request. Three stacks, one after another, the same
//! duration each, after a 2 s warm-up each:
//!
//! - `none`: no layers;
//! - `ours`: our fused server layer (trace + metrics) on both servers, our client layer (trace +
//!   metrics) on the frontend's call to the backend;
//! - `peers`: axum-tracing-opentelemetry (`OtelAxumLayer` + `OtelInResponseLayer`) and
//!   axum-otel-metrics on both servers; on the client, a `tracing` CLIENT span (as
//!   reqwest-tracing makes) whose context is injected by the global propagator (tracing-opentelemetry).
//!
//! Spans go to a batch processor exporting to a sink, metrics to a reader never collected during
//! the run, identically for both instrumented stacks. The load generator's requests are
//! realistic (`Host`, `User-Agent`, `Accept`, a sampled `traceparent`). Reports throughput,
//! p50/p99 latency, process CPU time per request (the load generator shares the 2 cores, so
//! this is the fair figure: throughput is what is left after the generator), RSS after warm-up
//! and at the end. Every request has a 5 s timeout; every phase ends at its deadline.

#[path = "../../tower-metrics/benches/harness/mod.rs"]
#[allow(dead_code)]
mod harness;
#[allow(dead_code)]
mod cpu;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use opentelemetry::global;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_telemetry_metrics::WithMetrics;
use tower_telemetry_trace::{ClientTraceLayer, TraceLayer};
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::layer::SubscriberExt as _;

const CONCURRENCY: usize = 32;
const WARM_UP: Duration = Duration::from_secs(2);

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

async fn serve(app: Router) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, task)
}

fn backend() -> Router {
    Router::new().route("/users/{id}", get(|Path(id): Path<u32>| async move { format!("{{\"id\":{id},\"name\":\"user {id}\"}}") }))
}

/// The frontend handler, generic over the outbound client (bare or instrumented).
async fn checkout<C, B>(State((client, backend)): State<(C, SocketAddr)>, Path(id): Path<u32>) -> String
where
    C: Service<http::Request<Full<Bytes>>, Response = http::Response<B>> + Clone,
    C::Error: std::fmt::Display,
    B: http_body::Body,
{
    let request = http::Request::get(format!("http://{backend}/users/{id}"))
        .header("user-agent", "checkout/2.3 hyper/1")
        .header("accept", "application/json")
        .body(Full::default())
        .expect("request");
    match client.oneshot(request).await {
        Ok(response) => match response.into_body().collect().await {
            Ok(body) => format!("ok {}", body.to_bytes().len()),
            Err(_) => "body error".to_owned(),
        },
        Err(e) => format!("error {e}"),
    }
}

type Plain = Client<HttpConnector, Full<Bytes>>;

fn plain() -> Plain {
    Client::builder(TokioExecutor::new()).build_http()
}

/// The peers' client side: a CLIENT span in `tracing` (what reqwest-tracing records), its
/// context injected into the request by the global propagator through tracing-opentelemetry.
#[derive(Clone)]
struct PeerClient(Plain);

impl Service<http::Request<Full<Bytes>>> for PeerClient {
    type Response = http::Response<Incoming>;
    type Error = hyper_util::client::legacy::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: http::Request<Full<Bytes>>) -> Self::Future {
        let uri = request.uri();
        let span = tracing::info_span!(
            "HTTP request",
            otel.name = "GET",
            otel.kind = "client",
            http.request.method = "GET",
            url.full = %uri,
            server.address = uri.host().unwrap_or_default(),
            server.port = uri.port_u16().unwrap_or(80),
            http.response.status_code = tracing::field::Empty,
        );
        let cx = span.context();
        global::get_text_map_propagator(|p| p.inject_context(&cx, &mut opentelemetry_http::HeaderInjector(request.headers_mut())));
        let client = self.0.clone();
        let recorded = span.clone();
        Box::pin(
            async move {
                let response = client.request(request).await;
                if let Ok(r) = &response {
                    recorded.record("http.response.status_code", r.status().as_u16());
                }
                response
            }
            .instrument(span),
        )
    }
}

/// A running stack: the frontend's address and the servers' tasks (aborted after the run).
struct Stack {
    front: SocketAddr,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

async fn none() -> Stack {
    let (back, b) = serve(backend()).await;
    let front = Router::new().route("/checkout/{id}", get(checkout::<Plain, Incoming>)).with_state((plain(), back));
    let (front, f) = serve(front).await;
    Stack { front, tasks: vec![b, f] }
}

async fn ours(traces: &opentelemetry_sdk::trace::SdkTracerProvider, meters: &opentelemetry_sdk::metrics::SdkMeterProvider) -> Stack {
    use opentelemetry::metrics::MeterProvider as _;
    use opentelemetry::trace::TracerProvider as _;
    let (back, b) = serve(backend().layer(TraceLayer::server(traces.tracer("backend")).with_metrics(&meters.meter("backend")))).await;
    let client = ServiceBuilder::new()
        .layer(ClientTraceLayer::client(traces.tracer("frontend")).with_metrics(&meters.meter("frontend")))
        .service(plain());
    let front = Router::new()
        .route("/checkout/{id}", get(checkout::<_, _>))
        .with_state((client, back))
        .layer(TraceLayer::server(traces.tracer("frontend")).with_metrics(&meters.meter("frontend")));
    let (front, f) = serve(front).await;
    Stack { front, tasks: vec![b, f] }
}

async fn peers(meters: &opentelemetry_sdk_032::metrics::SdkMeterProvider) -> Stack {
    let layers = |app: Router| {
        app.layer(axum_tracing_opentelemetry::middleware::OtelInResponseLayer)
            .layer(axum_tracing_opentelemetry::middleware::OtelAxumLayer::default())
            .layer(axum_otel_metrics::HttpMetricsLayerBuilder::new().with_provider(meters.clone()).build())
    };
    let (back, b) = serve(layers(backend())).await;
    let front = Router::new().route("/checkout/{id}", get(checkout::<PeerClient, Incoming>)).with_state((PeerClient(plain()), back));
    let (front, f) = serve(layers(front)).await;
    Stack { front, tasks: vec![b, f] }
}

/// Latencies in buckets 2% wide (1 µs to about 10 s).
struct Latencies(Vec<AtomicU64>);

const GROWTH: f64 = 1.02;

impl Latencies {
    fn new() -> Self {
        Latencies((0..1024).map(|_| AtomicU64::new(0)).collect())
    }
    fn record(&self, d: Duration) {
        let us = d.as_secs_f64() * 1e6;
        let i = if us <= 1.0 { 0 } else { ((us.ln() / GROWTH.ln()) as usize).min(self.0.len() - 1) };
        self.0[i].fetch_add(1, Relaxed);
    }
    /// The upper bound of the bucket holding quantile `q`, in µs.
    fn quantile(&self, q: f64) -> f64 {
        let counts: Vec<u64> = self.0.iter().map(|c| c.load(Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        let target = (q * total as f64).ceil() as u64;
        let mut seen = 0;
        for (i, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= target.max(1) {
                return GROWTH.powi(i as i32 + 1);
            }
        }
        f64::NAN
    }
}

struct Run {
    name: &'static str,
    requests: u64,
    errors: u64,
    seconds: f64,
    cpu_seconds: f64,
    p50_us: f64,
    p99_us: f64,
    rss_start: u64,
    rss_end: u64,
}

async fn load(name: &'static str, stack: Stack, seconds: u64) -> Run {
    let client = plain();
    let front = stack.front;
    let mut rss_start = 0;
    let mut result = None;
    for measured in [false, true] {
        let latencies = Arc::new(Latencies::new());
        let done = Arc::new(AtomicU64::new(0));
        let errors = Arc::new(AtomicU64::new(0));
        let deadline = Instant::now() + if measured { Duration::from_secs(seconds) } else { WARM_UP };
        let (started, cpu_started) = (Instant::now(), cpu::process_cpu());
        let tasks: Vec<_> = (0..CONCURRENCY)
            .map(|worker| {
                let (client, done, errors, latencies) = (client.clone(), done.clone(), errors.clone(), latencies.clone());
                tokio::spawn(async move {
                    let mut i = worker as u64;
                    while Instant::now() < deadline {
                        i = i.wrapping_add(CONCURRENCY as u64);
                        let request = http::Request::get(format!("http://{front}/checkout/{}", i % 1000))
                            .header("host", harness::HOST)
                            .header("user-agent", harness::USER_AGENT)
                            .header("accept", "application/json")
                            .header("traceparent", format!("00-{:032x}-{:016x}-01", i + 1, worker + 1))
                            .body(Full::default())
                            .expect("request");
                        let sent = Instant::now();
                        let ok = match tokio::time::timeout(Duration::from_secs(5), client.request(request)).await {
                            Ok(Ok(response)) => {
                                response.status().is_success() && response.into_body().collect().await.is_ok_and(|b| b.to_bytes().starts_with(b"ok"))
                            }
                            _ => false,
                        };
                        if ok {
                            latencies.record(sent.elapsed());
                            done.fetch_add(1, Relaxed);
                        } else {
                            errors.fetch_add(1, Relaxed);
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            let _ = task.await;
        }
        if measured {
            result = Some(Run {
                name,
                requests: done.load(Relaxed),
                errors: errors.load(Relaxed),
                seconds: started.elapsed().as_secs_f64(),
                cpu_seconds: (cpu::process_cpu() - cpu_started).as_secs_f64(),
                p50_us: latencies.quantile(0.5),
                p99_us: latencies.quantile(0.99),
                rss_start,
                rss_end: rss_kib(),
            });
        } else {
            rss_start = rss_kib();
        }
    }
    for task in stack.tasks {
        task.abort();
    }
    result.expect("a measured phase")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let seconds: u64 = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("LOAD_SECONDS").ok())
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    // `load SECONDS none ours`: only those stacks (for profiling one with perf); all by default.
    let only: Vec<String> = std::env::args().skip(2).collect();
    let wanted = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
    println!("{CONCURRENCY} concurrent clients, {seconds} s per run, 127.0.0.1");
    let mut runs = Vec::new();

    if wanted("none") {
        runs.push(load("none", none().await, seconds).await);
        println!("none done");
    }

    if wanted("ours") {
        let traces = harness::tracer_provider(true);
        let meters = harness::meter_provider();
        runs.push(load("ours", ours(&traces, &meters).await, seconds).await);
        let _ = traces.shutdown();
        let _ = meters.shutdown();
        println!("ours done");
    }

    if wanted("peers") {
        runs.push(load_peers(seconds).await?);
    }
    report(seconds, &runs)
}

/// The peer stack's run. The peers read the global propagator and record through a global
/// `tracing` subscriber (set once: the peers run last).
async fn load_peers(seconds: u64) -> Result<Run, Box<dyn std::error::Error + Send + Sync>> {
    global::set_text_map_propagator(TraceContextPropagator::new());
    let traces = harness::tracer_provider(true);
    let subscriber = tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(harness::tracer(&traces)));
    tracing::subscriber::set_global_default(subscriber)?;
    let meters_032 = {
        use opentelemetry_sdk_032::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
        let reader = PeriodicReader::builder(InMemoryMetricExporter::default()).with_interval(Duration::from_secs(3600)).build();
        SdkMeterProvider::builder().with_reader(reader).build()
    };
    let run = load("peers", peers(&meters_032).await, seconds).await;
    let _ = traces.shutdown();
    let _ = meters_032.shutdown();
    Ok(run)
}

/// Prints the runs, and writes them for the report when `CRITERION_HOME` is set.
fn report(seconds: u64, runs: &[Run]) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    // One line per run, for the report: name requests errors seconds cpu_seconds p50_us p99_us rss_start_kib rss_end_kib
    let mut out = String::new();
    for r in runs {
        let line = format!(
            "{} {} {} {:.3} {:.3} {:.0} {:.0} {} {}\n",
            r.name, r.requests, r.errors, r.seconds, r.cpu_seconds, r.p50_us, r.p99_us, r.rss_start, r.rss_end
        );
        print!("{line}");
        println!(
            "  {}: {:.0} req/s, p50 {:.0} µs, p99 {:.0} µs, {:.1} µs CPU/req, RSS {} -> {} KiB, {} errors",
            r.name,
            r.requests as f64 / r.seconds,
            r.p50_us,
            r.p99_us,
            r.cpu_seconds * 1e6 / r.requests.max(1) as f64,
            r.rss_start,
            r.rss_end,
            r.errors
        );
        out.push_str(&line);
    }
    if let Ok(home) = std::env::var("CRITERION_HOME") {
        std::fs::create_dir_all(&home)?;
        std::fs::write(std::path::Path::new(&home).join("load.txt"), format!("{seconds} {CONCURRENCY}\n{out}"))?;
    }
    Ok(())
}
