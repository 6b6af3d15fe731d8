//! The load test, peers included: `cargo run --release --manifest-path benches/peers/Cargo.toml
//! --bin load [SECONDS [STACK...]]` (60 s per stack by default, or `LOAD_SECONDS`; all six
//! stacks unless named; `benches/run.sh` runs it and puts the figures in `BENCHMARKS.md`).
//!
//! On 127.0.0.1, in one process: a load generator (32 concurrent clients) calling a frontend,
//! which calls a backend over HTTP for every request. The stacks all run at once, measured
//! **round-robin** in slices of 5 s (after a 2 s warm-up each), so the drift of this shared VM
//! (the same stack measures ±20 % between minutes) spreads over all of them; a stack's figure is
//! the median of its slices, and its cost over `none` the median of its differences from
//! `none`'s slice of the same round (at most one round apart, so the drift mostly cancels). The
//! stacks:
//!
//! - `none`: no layers;
//! - `ours`: our fused server layer (trace + metrics) on both servers, our client layer (trace +
//!   metrics) on the frontend's call to the backend;
//! - `ours_trace`, `ours_metrics`, `ours_sampled_out`: ours one signal at a time, and fused with
//!   an `AlwaysOff` sampler (where the fused stack's cost goes);
//! - `peers`: axum-tracing-opentelemetry (`OtelAxumLayer` + `OtelInResponseLayer`) and
//!   axum-otel-metrics on both servers; on the client, a `tracing` CLIENT span (as
//!   reqwest-tracing makes) whose context is injected by the global propagator (tracing-opentelemetry).
//!   Their `tracing` subscriber is the default only inside their servers' futures
//!   ([`Dispatched`]), so the other stacks run without it.
//!
//! Spans go to a batch processor exporting to a sink, metrics to a reader never collected during
//! the run, identically for both instrumented stacks. The load generator's requests are
//! realistic (`Host`, `User-Agent`, `Accept`, a sampled `traceparent`). Reports throughput,
//! p50/p99 latency, process CPU time per request (the load generator shares the 2 cores, so
//! this is the fair figure: throughput is what is left after the generator), the process's RSS
//! after warm-up and at the end. Every request has a 5 s timeout; every slice ends at its
//! deadline.
//!
//! `LOAD_WORKERS=N` sets the runtime's worker threads (one per core by default): with 1, the
//! requests of all stacks run on one core (the exporter threads aside), which tells what
//! contention between cores costs from what the work itself costs.

#[path = "../../tower-metrics/benches/harness/mod.rs"]
#[allow(dead_code)]
mod harness;
#[allow(dead_code)]
mod cpu;
mod sdk032;

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

/// A running stack: its name, the frontend's address, the load generator's connection pool,
/// and the servers' tasks (aborted at the end).
struct Stack {
    name: &'static str,
    front: SocketAddr,
    client: Plain,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Stack {
    fn new(name: &'static str, front: SocketAddr, tasks: Vec<tokio::task::JoinHandle<()>>) -> Self {
        Stack { name, front, client: plain(), tasks }
    }
}

async fn none() -> Stack {
    let (back, b) = serve(backend()).await;
    let front = Router::new().route("/checkout/{id}", get(checkout::<Plain, Incoming>)).with_state((plain(), back));
    let (front, f) = serve(front).await;
    Stack::new("none", front, vec![b, f])
}

/// A stack of our layers: `ours` (fused on both servers and the frontend's client), or one
/// part of it (`ours_trace`, `ours_metrics`, `ours_sampled_out`: where the fused stack's cost
/// under load goes; see `run`). `server` layers a server's router; `front` is the frontend's
/// route calling the backend at the given address.
async fn ours_part(name: &'static str, server: impl Fn(Router, &'static str) -> Router, front: impl FnOnce(SocketAddr) -> Router) -> Stack {
    let (back, b) = serve(server(backend(), "backend")).await;
    let (front, f) = serve(server(front(back), "frontend")).await;
    Stack::new(name, front, vec![b, f])
}

pin_project_lite::pin_project! {
    /// A future polled, and dropped, with `dispatch` as the default `tracing` subscriber: the
    /// peers' subscriber without making it the process's global default (the other stacks run
    /// in the same process). Unlike `tracing`'s `WithDispatch`, the drop is covered too, where
    /// the peers' spans of a finished request close.
    struct Dispatched<F> {
        dispatch: tracing::Dispatch,
        #[pin]
        inner: Option<F>,
    }

    impl<F> PinnedDrop for Dispatched<F> {
        fn drop(this: Pin<&mut Self>) {
            let mut this = this.project();
            let _default = tracing::dispatcher::set_default(this.dispatch);
            this.inner.set(None);
        }
    }
}

impl<F: Future> Future for Dispatched<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _default = tracing::dispatcher::set_default(this.dispatch);
        this.inner.as_pin_mut().expect("polled after completion").poll(cx)
    }
}

async fn peers(meters: &opentelemetry_sdk_032::metrics::SdkMeterProvider, dispatch: &tracing::Dispatch) -> Stack {
    let layers = |app: Router| {
        let dispatch = dispatch.clone();
        app.layer(axum_tracing_opentelemetry::middleware::OtelInResponseLayer)
            .layer(axum_tracing_opentelemetry::middleware::OtelAxumLayer::default())
            .layer(axum_otel_metrics::HttpMetricsLayerBuilder::new().with_provider(meters.clone()).build())
            .layer(tower::util::MapFutureLayer::new(move |inner| Dispatched { dispatch: dispatch.clone(), inner: Some(inner) }))
    };
    let (back, b) = serve(layers(backend())).await;
    let front = Router::new().route("/checkout/{id}", get(checkout::<PeerClient, Incoming>)).with_state((PeerClient(plain()), back));
    let (front, f) = serve(layers(front)).await;
    Stack::new("peers", front, vec![b, f])
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

/// One slice of one stack.
struct Slice {
    requests: u64,
    errors: u64,
    seconds: f64,
    cpu_seconds: f64,
}

impl Slice {
    fn cpu_us(&self) -> f64 {
        self.cpu_seconds * 1e6 / self.requests.max(1) as f64
    }
}

/// Drives `stack` with `CONCURRENCY` clients for `length`, recording latencies (when given).
async fn slice(stack: &Stack, length: Duration, latencies: Option<&Arc<Latencies>>) -> Slice {
    let front = stack.front;
    let done = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + length;
    let (started, cpu_started) = (Instant::now(), cpu::process_cpu());
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|worker| {
            let (client, done, errors, latencies) = (stack.client.clone(), done.clone(), errors.clone(), latencies.cloned());
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
                        if let Some(latencies) = &latencies {
                            latencies.record(sent.elapsed());
                        }
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
    Slice {
        requests: done.load(Relaxed),
        errors: errors.load(Relaxed),
        seconds: started.elapsed().as_secs_f64(),
        cpu_seconds: (cpu::process_cpu() - cpu_started).as_secs_f64(),
    }
}

/// The length of one measured slice.
const SLICE: Duration = Duration::from_secs(5);

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// The first and third quartiles: the values at `(n - 1) × q`, rounded, in sorted order.
fn quartiles(mut values: Vec<f64>) -> (f64, f64) {
    values.sort_by(f64::total_cmp);
    let at = |q: f64| values.get(((values.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or(f64::NAN);
    (at(0.25), at(0.75))
}

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(workers) = std::env::var("LOAD_WORKERS").ok().and_then(|w| w.parse().ok()) {
        runtime.worker_threads(workers);
    }
    runtime.enable_all().build()?.block_on(run())
}

async fn run() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let seconds: u64 = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("LOAD_SECONDS").ok())
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let only: Vec<String> = std::env::args().skip(2).collect();
    let wanted = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
    let slices = (seconds / SLICE.as_secs()).max(1);
    let length = Duration::from_secs(seconds) / slices as u32;
    println!("{CONCURRENCY} concurrent clients, {slices} slices of {} s per stack, round-robin, 127.0.0.1", length.as_secs_f64());

    // Every stack up at once (each with its own providers); the peers read the global
    // propagator, which nothing else does.
    let (traces, meters) = (harness::tracer_provider(true), harness::meter_provider());
    let peer_traces = harness::tracer_provider(true);
    let peer_meters = sdk032::meter_provider();
    let mut stacks = Vec::new();
    if wanted("none") {
        stacks.push(none().await);
    }
    {
        use opentelemetry::metrics::MeterProvider as _;
        use opentelemetry::trace::TracerProvider as _;
        if wanted("ours") {
            let client = ServiceBuilder::new()
                .layer(ClientTraceLayer::client(traces.tracer("frontend")).with_metrics(&meters.meter("frontend")))
                .service(plain());
            let front = |back| Router::new().route("/checkout/{id}", get(checkout::<_, _>)).with_state((client, back));
            let server = |app: Router, scope| app.layer(TraceLayer::server(traces.tracer(scope)).with_metrics(&meters.meter(scope)));
            stacks.push(ours_part("ours", server, front).await);
        }
    }
    // The parts of ours (see `ours_part`): spans only, metrics only, and the fused layers with
    // an `AlwaysOff` sampler (nothing recorded or exported but the metrics).
    let (part_traces, part_meters, off) = (harness::tracer_provider(true), harness::meter_provider(), harness::tracer_provider(false));
    {
        use opentelemetry::metrics::MeterProvider as _;
        use opentelemetry::trace::TracerProvider as _;
        use tower_telemetry_metrics::MetricsLayer;
        let (t, m, o) = (&part_traces, &part_meters, &off);
        if wanted("ours_trace") {
            let client = ServiceBuilder::new().layer(ClientTraceLayer::client(t.tracer("frontend"))).service(plain());
            let front = |back| Router::new().route("/checkout/{id}", get(checkout::<_, _>)).with_state((client, back));
            stacks.push(ours_part("ours_trace", |app, scope| app.layer(TraceLayer::server(t.tracer(scope))), front).await);
        }
        if wanted("ours_metrics") {
            let client = ServiceBuilder::new().layer(MetricsLayer::client(&m.meter("frontend"))).service(plain());
            let front = |back| Router::new().route("/checkout/{id}", get(checkout::<_, _>)).with_state((client, back));
            stacks.push(ours_part("ours_metrics", |app, scope| app.layer(MetricsLayer::server(&m.meter(scope))), front).await);
        }
        if wanted("ours_sampled_out") {
            let client = ServiceBuilder::new().layer(ClientTraceLayer::client(o.tracer("frontend")).with_metrics(&m.meter("frontend"))).service(plain());
            let server = |app: Router, scope| app.layer(TraceLayer::server(o.tracer(scope)).with_metrics(&m.meter(scope)));
            let front = |back| Router::new().route("/checkout/{id}", get(checkout::<_, _>)).with_state((client, back));
            stacks.push(ours_part("ours_sampled_out", server, front).await);
        }
    }
    if wanted("peers") {
        global::set_text_map_propagator(TraceContextPropagator::new());
        let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(harness::tracer(&peer_traces))));
        stacks.push(peers(&peer_meters, &dispatch).await);
    }

    // `LOAD_WARM_UP=0` (seconds): none, for counting instructions per request under callgrind.
    let warm_up = std::env::var("LOAD_WARM_UP").ok().and_then(|s| s.parse().ok()).map_or(WARM_UP, Duration::from_secs);
    if !warm_up.is_zero() {
        for stack in &stacks {
            slice(stack, warm_up, None).await;
        }
    }
    // Where measuring starts (`benches/perf_split.py` gives no sample before this line to a stack).
    println!("  measuring");
    let rss_start = rss_kib();
    let latencies: Vec<Arc<Latencies>> = stacks.iter().map(|_| Arc::new(Latencies::new())).collect();
    let mut measured: Vec<Vec<Slice>> = stacks.iter().map(|_| Vec::new()).collect();
    for round in 0..slices {
        for (i, stack) in stacks.iter().enumerate() {
            let s = slice(stack, length, Some(&latencies[i])).await;
            println!("  round {} {}: {:.0} req/s, {:.1} µs CPU/req, {} requests", round + 1, stack.name, s.requests as f64 / s.seconds, s.cpu_us(), s.requests);
            measured[i].push(s);
        }
    }
    let rss_end = rss_kib();
    for stack in &stacks {
        for task in &stack.tasks {
            task.abort();
        }
    }
    let _ = (traces.shutdown(), meters.shutdown(), peer_traces.shutdown(), peer_meters.shutdown());
    let _ = (part_traces.shutdown(), part_meters.shutdown(), off.shutdown());

    // Paired with `none`'s slice of the same round (within one round), a stack's CPU per request
    // over none drifts far less than either stack's own slices: per round, the difference and
    // the share (none ÷ the stack); the report takes their medians and quartiles.
    let none_at = stacks.iter().position(|s| s.name == "none");
    let paired = |slices: &[Slice], f: &dyn Fn(f64, f64) -> f64| -> Vec<f64> {
        match none_at {
            Some(n) => slices.iter().zip(&measured[n]).map(|(s, none)| f(s.cpu_us(), none.cpu_us())).collect(),
            None => Vec::new(),
        }
    };

    // One line per stack, for the report: name requests errors seconds cpu_seconds p50_us
    // p99_us rss_start_kib rss_end_kib cpu_us_median cpu_us_min cpu_us_max rate_median slices
    // over_none_us_median over_none_us_q1 over_none_us_q3 share_of_none_median
    let mut out = String::new();
    for ((stack, slices), latencies) in stacks.iter().zip(&measured).zip(&latencies) {
        let sum = |f: &dyn Fn(&Slice) -> f64| slices.iter().map(f).sum::<f64>();
        let cpu: Vec<f64> = slices.iter().map(Slice::cpu_us).collect();
        let (min, max) = cpu.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &c| (a.min(c), b.max(c)));
        let rate = median(slices.iter().map(|s| s.requests as f64 / s.seconds).collect());
        let cpu_median = median(cpu);
        let over = paired(slices, &|s, none| s - none);
        let (q1, q3) = quartiles(over.clone());
        let share = median(paired(slices, &|s, none| none / s));
        let line = format!(
            "{} {} {} {:.3} {:.3} {:.0} {:.0} {} {} {:.2} {:.2} {:.2} {:.1} {} {:.2} {:.2} {:.2} {:.4}\n",
            stack.name,
            sum(&|s| s.requests as f64),
            sum(&|s| s.errors as f64),
            sum(&|s| s.seconds),
            sum(&|s| s.cpu_seconds),
            latencies.quantile(0.5),
            latencies.quantile(0.99),
            rss_start,
            rss_end,
            cpu_median,
            min,
            max,
            rate,
            slices.len(),
            median(over),
            q1,
            q3,
            share,
        );
        print!("{line}");
        println!("  {}: median {rate:.0} req/s, {cpu_median:.1} µs CPU/req (slices {min:.1}–{max:.1})", stack.name);
        out.push_str(&line);
    }
    if let Ok(home) = std::env::var("CRITERION_HOME") {
        std::fs::create_dir_all(&home)?;
        std::fs::write(std::path::Path::new(&home).join("load.txt"), format!("{} {CONCURRENCY} {slices}\n{out}", length.as_secs()))?;
    }
    Ok(())
}
