//! Per-request cost of the layers on an axum route, next to the same route without them and
//! next to the bare OpenTelemetry SDK calls the fused layer makes (the floor).
//!
//! Run with `benches/run.sh` (which also runs the peers and writes `BENCHMARKS.md`), or alone:
//! `cargo bench -p tower-telemetry-metrics --bench layers`.

mod harness;

use alloc_counter::CountingAllocator;
use criterion::{criterion_group, criterion_main};
use harness::{Suite, config};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator;

/// The trace crate's `tracing` bridge (a `tracing` span per request, for logs): what it costs
/// when nobody listens, next to the same layer built without it. The row is named after the
/// build, so run the group twice:
///
/// ```text
/// cargo bench -p tower-telemetry-metrics --bench layers -- tracing_bridge
/// cargo bench -p tower-telemetry-metrics --bench layers --features tracing -- tracing_bridge
/// ```
///
/// With the feature, a third row has a subscriber listening: `tracing_subscriber::fmt`
/// formatting the request spans into `io::sink` (the cost of the span itself, with no log line
/// written in the handler).
fn tracing_bridge(suite: &mut Suite) {
    use harness::{router, tracer};
    use tower_telemetry_trace::TraceLayer;

    let sampled = suite.sampled.clone();
    let layer = || {
        router()
            .layer(TraceLayer::server(tracer(&sampled)))
            .with_state(())
    };
    let name = if cfg!(feature = "tracing") {
        "feature_on_no_subscriber"
    } else {
        "feature_off"
    };
    suite.service("tracing_bridge", name, layer());
    #[cfg(feature = "tracing")]
    {
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_writer(std::io::sink)
            .finish();
        // The runtime is current-thread: the requests run on this thread, under it.
        suite.service_with(
            "tracing_bridge",
            "feature_on_fmt_subscriber",
            layer(),
            harness::request,
            Some(tracing::Dispatch::new(subscriber)),
        );
    }
}

/// Every variant in one suite, timed round-robin (wall time here; the peers' bench times the
/// same variants in process CPU time).
fn all(c: &mut criterion::Criterion) {
    let mut suite = Suite::new();
    harness::ours::all(&mut suite);
    tracing_bridge(&mut suite);
    suite.run(c);
}

criterion_group! {
    name = benches;
    config = config();
    targets = all
}
criterion_main!(benches);
