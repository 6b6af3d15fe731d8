//! A fixed number of fused-layer requests with nothing else, for `valgrind --tool=callgrind`
//! (instruction counts are stable where timings are not):
//! `CARGO_TARGET_DIR=target cargo build --release --manifest-path benches/peers/Cargo.toml --bin profile`
//! (one `target/` for everything, as `benches/run.sh` does) then
//! `valgrind --tool=callgrind target/release/profile [fused|bare|identity|disabled|trace|metrics] [N]`.

#[path = "../../tower-metrics/benches/harness/mod.rs"]
#[allow(dead_code)]
mod harness;

use harness::*;
use tower_metrics::{MetricsLayer, WithMetrics};
use tower_trace::TraceLayer;

fn main() {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "fused".to_owned());
    let n: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(20_000);
    let rt = runtime();
    let traces = tracer_provider(true);
    let meters = meter_provider();
    let run = |svc: axum::Router| {
        let svc = svc.with_state(());
        for _ in 0..n {
            rt.block_on(once(&svc, request()));
        }
    };
    match which.as_str() {
        "bare" => run(router()),
        "identity" => run(router().layer(tower::layer::util::Identity::new())),
        "disabled" => run(router().layer(TraceLayer::from_global())),
        "trace" => run(router().layer(TraceLayer::server(tracer(&traces)))),
        "metrics" => run(router().layer(MetricsLayer::server(&meter(&meters)))),
        _ => run(router().layer(TraceLayer::server(tracer(&traces)).with_metrics(&meter(&meters)))),
    }
    let _ = traces.force_flush();
}
