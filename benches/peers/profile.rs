//! A fixed number of fused-layer requests with nothing else, for `valgrind --tool=callgrind`
//! (instruction counts are stable where timings are not):
//! `CARGO_TARGET_DIR=target cargo build --release --manifest-path benches/peers/Cargo.toml --bin profile`
//! (one `target/` for everything, as `benches/run.sh` does) then
//! `valgrind --tool=callgrind target/release/profile VARIANT [N]`, VARIANT one of `bare`,
//! `identity`, `disabled`, `filtered`, `sampled_out`, `trace`, `metrics`, `fused` (the server
//! group), `floor`, `client_floor` (the SDK calls alone), `client_bare`, `client` (the client
//! layer, sampled). `benches/callgrind.sh` runs them all and writes the table.

#[path = "../../tower-metrics/benches/harness/mod.rs"]
#[allow(dead_code)]
mod harness;

use harness::*;
use axum::body::Body;
use http::Request;
use tower::Layer as _;
use tower_telemetry_metrics::{MetricsLayer, WithMetrics};
use tower_telemetry_trace::{ClientTraceLayer, TraceLayer};

fn main() {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "fused".to_owned());
    let n: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(20_000);
    let rt = runtime();
    let traces = tracer_provider(true);
    let unsampled = tracer_provider(false);
    let meters = meter_provider();
    let run = |svc: axum::Router| {
        let svc = svc.with_state(());
        for _ in 0..n {
            rt.block_on(once(&svc, request()));
        }
    };
    let client = |svc: &dyn Fn(Request<Body>)| {
        for _ in 0..n {
            svc(client_request());
        }
    };
    match which.as_str() {
        "bare" => run(router()),
        "identity" => run(router().layer(tower::layer::util::Identity::new())),
        "disabled" => run(router().layer(TraceLayer::server_from_global())),
        "filtered" => run(router().layer(TraceLayer::server(tracer(&traces)).skip_if(|_| true))),
        "sampled_out" => run(router().layer(TraceLayer::server(tracer(&unsampled)).with_metrics(&meter(&meters)))),
        "trace" => run(router().layer(TraceLayer::server(tracer(&traces)))),
        "metrics" => run(router().layer(MetricsLayer::server(&meter(&meters)))),
        "fused" => run(router().layer(TraceLayer::server(tracer(&traces)).with_metrics(&meter(&meters)))),
        "floor" => {
            let floor = Floor::new();
            (0..n).for_each(|_| floor.server());
            let _ = floor.provider.force_flush();
        }
        "client_floor" => {
            let floor = Floor::new();
            (0..n).for_each(|_| floor.client());
            let _ = floor.provider.force_flush();
        }
        "client_bare" => {
            let svc = router().with_state(());
            client(&|req| rt.block_on(once(&svc, req)));
        }
        "client" => {
            let svc = ClientTraceLayer::client(tracer(&traces)).layer(router().with_state(()));
            client(&|req| rt.block_on(once(&svc, req)));
        }
        other => panic!("unknown variant {other}"),
    }
    let _ = traces.force_flush();
}
