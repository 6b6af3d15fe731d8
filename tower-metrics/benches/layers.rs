//! Per-request cost of the layers on an axum route, next to the same route without them and
//! next to the bare OpenTelemetry SDK calls the fused layer makes (the floor).
//!
//! Run with `benches/run.sh` (which also runs the peers and writes `BENCHMARKS.md`), or alone:
//! `cargo bench -p tower-telemetry-metrics --bench layers`.

mod harness;

use alloc_counter::CountingAllocator;
use criterion::{criterion_group, criterion_main};
use harness::config;
use harness::ours::{client, sdk_floor, server};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator;

criterion_group! {
    name = benches;
    config = config();
    targets = server, client, sdk_floor
}
criterion_main!(benches);
