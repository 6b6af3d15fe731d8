//! A fixed number of requests through one variant with nothing else, for
//! `valgrind --tool=callgrind` (instruction counts are stable where timings are not):
//! `CARGO_TARGET_DIR=target cargo build --release --manifest-path benches/peers/Cargo.toml --bin profile`
//! then `valgrind --tool=callgrind target/release/profile VARIANT [N]`. The route, the realistic
//! request and the SDK setup are the benches' (`tower-metrics/benches/harness`). VARIANT is one
//! of `bare`, `identity`, `disabled`, `filtered`, `sampled_out`, `trace`, `metrics`, `fused`
//! (the server group, realistic request); `bare_no_parent`, `fused_no_parent`,
//! `bare_full_context`, `fused_full_context` (`tracestate` and `baggage` too),
//! `fused_unsampled_parent` (the request variants); `fused_exemplars_off`,
//! `fused_unsampled_parent_exemplars_off` (the same, exemplars off: their cost); `peer_combo` (axum-tracing-opentelemetry +
//! axum-otel-metrics), `peer_axum_otel_metrics` (axum-otel-metrics alone); `floor`, `client_floor` (the SDK calls alone, for exactly the span,
//! attributes and points the layers record); `client_bare`, `client` (the client layer,
//! sampled), `client_fused` (with its metrics, as the load test's frontend calls); `describe` prints what the floor reproduces. `benches/callgrind.sh` runs them all
//! and writes the table.

#[path = "../../tower-metrics/benches/harness/mod.rs"]
#[allow(dead_code)]
mod harness;
mod sdk032;


use axum::body::Body;
use harness::*;
use http::Request;
use opentelemetry::global;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tower::Layer as _;
use tower_telemetry_metrics::{ExemplarFilter, MetricsLayer, WithMetrics};
use tower_telemetry_trace::{ClientTraceLayer, TraceLayer};
use tracing_subscriber::layer::SubscriberExt as _;

fn main() {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "fused".to_owned());
    let n: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(20_000);
    let rt = runtime();
    let traces = tracer_provider(true);
    let unsampled = tracer_provider(false);
    let meters = meter_provider();
    let run_with = |svc: axum::Router, request: fn() -> Request<Body>| {
        let svc = svc.with_state(());
        for _ in 0..n {
            rt.block_on(once(&svc, request()));
        }
    };
    let run = |svc: axum::Router| run_with(svc, request);
    let fused = || router().layer(TraceLayer::server(tracer(&traces)).with_metrics(&meter(&meters)));
    let fused_exemplars_off = || {
        router().layer(
            TraceLayer::server(tracer(&traces))
                .with_metrics_layer(MetricsLayer::server(&meter(&meters)).with_exemplars(ExemplarFilter::AlwaysOff)),
        )
    };
    let client = |svc: &dyn Fn(Request<Body>)| {
        for _ in 0..n {
            svc(client_request());
        }
    };
    match which.as_str() {
        "bare" => run(router()),
        "bare_no_parent" => run_with(router(), request_no_parent),
        "bare_full_context" => run_with(router(), request_full_context),
        "identity" => run(router().layer(tower::layer::util::Identity::new())),
        "disabled" => run(router().layer(TraceLayer::server_from_global())),
        "filtered" => run(router().layer(TraceLayer::server(tracer(&traces)).skip_if(|_| true))),
        "sampled_out" => run(router().layer(TraceLayer::server(tracer(&unsampled)).with_metrics(&meter(&meters)))),
        "trace" => run(router().layer(TraceLayer::server(tracer(&traces)))),
        "metrics" => run(router().layer(MetricsLayer::server(&meter(&meters)))),
        "fused" => run(fused()),
        "fused_no_parent" => run_with(fused(), request_no_parent),
        "fused_full_context" => run_with(fused(), request_full_context),
        "fused_unsampled_parent" => run_with(fused(), request_unsampled_parent),
        "fused_exemplars_off" => run(fused_exemplars_off()),
        "fused_unsampled_parent_exemplars_off" => run_with(fused_exemplars_off(), request_unsampled_parent),
        "peer_axum_otel_metrics" => run(router().layer(axum_otel_metrics::HttpMetricsLayerBuilder::new().with_provider(sdk032::meter_provider()).build())),
        "peer_combo" => {
            global::set_text_map_propagator(TraceContextPropagator::new());
            let subscriber = tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(tracer(&traces)));
            let _on = tracing::subscriber::set_default(subscriber);
            run(router()
                .layer(axum_tracing_opentelemetry::middleware::OtelInResponseLayer)
                .layer(axum_tracing_opentelemetry::middleware::OtelAxumLayer::default())
                .layer(axum_otel_metrics::HttpMetricsLayerBuilder::new().with_provider(sdk032::meter_provider()).build()));
        }
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
        "describe" => print!("{}", Floor::new().describe()),
        "client_bare" => {
            let svc = router().with_state(());
            client(&|req| rt.block_on(once(&svc, req)));
        }
        "client" => {
            let svc = ClientTraceLayer::client(tracer(&traces)).layer(router().with_state(()));
            client(&|req| rt.block_on(once(&svc, req)));
        }
        "client_fused" => {
            let svc = ClientTraceLayer::client(tracer(&traces)).with_metrics(&meter(&meters)).layer(router().with_state(()));
            client(&|req| rt.block_on(once(&svc, req)));
        }
        other => panic!("unknown variant {other}"),
    }
    let _ = traces.force_flush();
}
