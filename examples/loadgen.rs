//! Run with `cargo run --release --example loadgen [SECONDS]` (60 by default; `benches/run.sh`
//! runs it and puts the figures in `BENCHMARKS.md`).
//!
//! A load test on 127.0.0.1: a frontend calling a backend over HTTP (the demo's HTTP path),
//! first **without** the layers, then **with** server + client spans and metrics exporting over
//! OTLP to a **closed port** (the collector is down). Same concurrency, same duration. Reports
//! throughput, errors, and resident memory after warm-up and at the end (memory must stay flat
//! while every export fails), then shuts down (bounded) and says how long that took. A third
//! run with the exporters off (`OTEL_TRACES_EXPORTER=none`, `OTEL_METRICS_EXPORTER=none`: spans
//! still built, then dropped) splits the cost between the layers and the export pipeline.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_telemetry::setup::Telemetry;
use tower_telemetry_metrics::WithMetrics;
use tower_telemetry_trace::{ClientTraceLayer, TraceLayer};

const CONCURRENCY: usize = 32;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(str::to_owned)
        })
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

fn backend() -> Router {
    Router::new().route(
        "/inventory/{id}",
        get(|Path(id): Path<u32>| async move { format!("{{\"id\":{id},\"stock\":7}}") }),
    )
}

/// The frontend handler, generic over the outbound client (bare or instrumented).
async fn checkout<C, B>(
    State((client, backend)): State<(C, SocketAddr)>,
    Path(id): Path<u32>,
) -> String
where
    C: Service<http::Request<Full<Bytes>>, Response = http::Response<B>> + Clone,
    C::Error: std::fmt::Display,
    B: http_body::Body,
{
    let request = http::Request::get(format!("http://{backend}/inventory/{id}"))
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

async fn bare() -> SocketAddr {
    let back = serve(backend()).await;
    let client: Plain = Client::builder(TokioExecutor::new()).build_http();
    let front = Router::new()
        .route(
            "/checkout/{id}",
            get(checkout::<Plain, hyper::body::Incoming>),
        )
        .with_state((client, back));
    serve(front).await
}

async fn instrumented(telemetry: &Telemetry) -> SocketAddr {
    let back = serve(backend().layer(
        TraceLayer::server(telemetry.tracer("backend")).with_metrics(&telemetry.meter("backend")),
    ))
    .await;
    let client = ServiceBuilder::new()
        .layer(
            ClientTraceLayer::client(telemetry.tracer("frontend"))
                .with_metrics(&telemetry.meter("frontend")),
        )
        .service(Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>());
    let front = Router::new()
        .route("/checkout/{id}", get(checkout::<_, _>))
        .with_state((client, back))
        .layer(
            TraceLayer::server(telemetry.tracer("frontend"))
                .with_metrics(&telemetry.meter("frontend")),
        );
    serve(front).await
}

struct Run {
    requests: u64,
    errors: u64,
    seconds: f64,
    rss_start: u64,
    rss_end: u64,
}

async fn load(front: SocketAddr, seconds: u64) -> Run {
    let client: Plain = Client::builder(TokioExecutor::new()).build_http();
    // Warm-up, then measure.
    let warm = Instant::now() + Duration::from_secs(2);
    let done = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let mut rss_start = 0;
    for phase in [warm, Instant::now() + Duration::from_secs(2 + seconds)] {
        done.store(0, Relaxed);
        errors.store(0, Relaxed);
        let started = Instant::now();
        let tasks: Vec<_> = (0..CONCURRENCY)
            .map(|worker| {
                let (client, done, errors) = (client.clone(), done.clone(), errors.clone());
                tokio::spawn(async move {
                    let mut i = worker as u32;
                    while Instant::now() < phase {
                        i = i.wrapping_add(CONCURRENCY as u32);
                        let request =
                            http::Request::get(format!("http://{front}/checkout/{}", i % 1000))
                                .body(Full::default())
                                .expect("request");
                        let ok = match tokio::time::timeout(
                            Duration::from_secs(5),
                            client.request(request),
                        )
                        .await
                        {
                            Ok(Ok(response)) => {
                                response.status().is_success()
                                    && response
                                        .into_body()
                                        .collect()
                                        .await
                                        .is_ok_and(|b| b.to_bytes().starts_with(b"ok"))
                            }
                            _ => false,
                        };
                        if ok {
                            done.fetch_add(1, Relaxed)
                        } else {
                            errors.fetch_add(1, Relaxed)
                        };
                    }
                })
            })
            .collect();
        for task in tasks {
            let _ = task.await;
        }
        if phase == warm {
            rss_start = rss_kib();
        } else {
            return Run {
                requests: done.load(Relaxed),
                errors: errors.load(Relaxed),
                seconds: started.elapsed().as_secs_f64(),
                rss_start,
                rss_end: rss_kib(),
            };
        }
    }
    unreachable!("two phases")
}

/// One run of the instrumented services with telemetry configured from `vars` (as if they
/// were the environment); returns the run and how long the shutdown took.
async fn instrumented_run(
    seconds: u64,
    vars: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
) -> Result<(Run, Duration), Box<dyn std::error::Error + Send + Sync>> {
    let telemetry = Telemetry::builder("loadgen").with_vars(vars).build()?;
    let run = load(instrumented(&telemetry).await, seconds).await;
    let shutdown = Instant::now();
    telemetry.shutdown().await;
    Ok((run, shutdown.elapsed()))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let seconds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    println!("{CONCURRENCY} concurrent clients, {seconds} s per run, 127.0.0.1");

    let base = load(bare().await, seconds).await;
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await?
        .local_addr()?; // dropped: nothing listens
    let endpoint = format!("http://{closed}");
    let (with, shutdown) = instrumented_run(seconds, move |name| match name {
        "OTEL_EXPORTER_OTLP_ENDPOINT" => Some(endpoint.clone()),
        "OTEL_EXPORTER_OTLP_PROTOCOL" => Some("http/protobuf".to_owned()),
        "OTEL_METRIC_EXPORT_INTERVAL" => Some("5000".to_owned()),
        "OTEL_EXPORTER_OTLP_TIMEOUT" => Some("1000".to_owned()),
        _ => None,
    })
    .await?;
    let (off, _) = instrumented_run(seconds, |name| match name {
        "OTEL_TRACES_EXPORTER" | "OTEL_METRICS_EXPORTER" => Some("none".to_owned()),
        _ => None,
    })
    .await?;

    let rate = |r: &Run| r.requests as f64 / r.seconds;
    let mut report = String::new();
    report.push_str(&format!("## load\n\n`cargo run --release --example loadgen {seconds}`: {CONCURRENCY} concurrent clients for {seconds} s each, frontend → backend over HTTP on 127.0.0.1, all in one process; the first instrumented run exports over OTLP/HTTP to a closed port, the second has the exporters off.\n\n"));
    report.push_str("| run | requests/s | requests | errors | RSS after warm-up | RSS at the end |\n|---|---|---|---|---|---|\n");
    for (name, r) in [
        ("without the layers", &base),
        ("with spans + metrics, collector down", &with),
        ("with spans + metrics, exporters off", &off),
    ] {
        report.push_str(&format!(
            "| {name} | {:.0} | {} | {} | {} KiB | {} KiB |\n",
            rate(r),
            r.requests,
            r.errors,
            r.rss_start,
            r.rss_end
        ));
    }
    report.push_str(&format!(
        "\nThroughput with the layers: {:.1}% of without. Shutdown with the collector down: {:.2} s. \
         With the exporters off: {:.1}% of without.\n",
        100.0 * rate(&with) / rate(&base),
        shutdown.as_secs_f64(),
        100.0 * rate(&off) / rate(&base),
    ));
    println!("{report}");
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        std::fs::create_dir_all(&home)?;
        std::fs::write(std::path::Path::new(&home).join("load.md"), &report)?;
    }
    Ok(())
}
