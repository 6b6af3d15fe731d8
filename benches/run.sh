#!/usr/bin/env bash
# Runs every benchmark in one go and writes BENCHMARKS.md at the workspace root:
#   - our layers and the peers on the same route, in one process (benches/peers, outside the
#     workspace so CI never compiles the peers);
#   - the `tracing` bridge's group (tower-metrics/benches/layers.rs), built without and with
#     the feature;
#   - the load test (examples/loadgen.rs), LOAD_SECONDS per run (60 by default);
#   - instructions per request under callgrind (benches/callgrind.sh; skipped without valgrind).
# Takes about 20 minutes on 2 cores, most of it compiling the peers the first time.
set -euo pipefail
cd "$(dirname "$0")/.."
export CRITERION_HOME="$PWD/target/criterion"
export CARGO_TARGET_DIR="$PWD/target"
rm -rf "$CRITERION_HOME"/{server,client,sdk,tracing_bridge,load.md,callgrind.txt}
cargo bench --manifest-path benches/peers/Cargo.toml --bench peers
# The `tracing` bridge: the same group built without and with the feature.
cargo bench -p tower-telemetry-metrics --bench layers -- tracing_bridge
cargo bench -p tower-telemetry-metrics --bench layers --features tracing -- tracing_bridge
cargo run --release --example loadgen -- "${LOAD_SECONDS:-60}"
bash benches/callgrind.sh
machine="$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores, $(rustc --version)"
cargo run --release --manifest-path benches/peers/Cargo.toml --bin report -- \
    "$CRITERION_HOME" BENCHMARKS.md "$machine" "benches/run.sh (LOAD_SECONDS=${LOAD_SECONDS:-60})"
