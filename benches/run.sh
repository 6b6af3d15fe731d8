#!/usr/bin/env bash
# Runs every benchmark in one go and writes BENCHMARKS.md at the workspace root:
#   - our layers, the SDK floor and the peers on the same route and the same realistic request,
#     in one process, in process CPU time, round-robin (benches/peers, outside the workspace so
#     CI never compiles the peers);
#   - the `tracing` bridge's group (tower-metrics/benches/layers.rs), built without and with
#     the feature;
#   - the load test with the peers (benches/peers/load.rs): six stacks round-robin in 5 s slices,
#     LOAD_SECONDS per stack (60 by default);
#   - instructions per request under callgrind, the load test included (benches/callgrind.sh; skipped, with how to
#     install it, without valgrind).
# Uses CARGO_TARGET_DIR if set (else ./target). Takes about 25 minutes on 2 cores plus
# 6 × LOAD_SECONDS, more the first time (compiling the peers). Installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
export CRITERION_HOME="${CRITERION_HOME:-$CARGO_TARGET_DIR/criterion}"
seconds="${LOAD_SECONDS:-60}"
rm -rf "$CRITERION_HOME"/{server,client,sdk,tracing_bridge,load.txt,load.md,callgrind.txt,callgrind-fused.txt,floor.txt}
mkdir -p "$CRITERION_HOME"
peers=(--release --manifest-path benches/peers/Cargo.toml)
cargo build "${peers[@]}" --bins
cargo run "${peers[@]}" --bin profile -- describe > "$CRITERION_HOME/floor.txt"
cargo bench --manifest-path benches/peers/Cargo.toml --bench peers
# The `tracing` bridge: the same group built without and with the feature.
cargo bench -p tower-telemetry-metrics --bench layers --features bound-instruments -- tracing_bridge
cargo bench -p tower-telemetry-metrics --bench layers --features bound-instruments,tracing -- tracing_bridge
cargo run "${peers[@]}" --bin load -- "$seconds"
bash benches/callgrind.sh
machine="$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores, $(rustc --version)"
command="benches/run.sh (LOAD_SECONDS=$seconds, BENCH_PASSES=${BENCH_PASSES:-4})"
cargo run "${peers[@]}" --bin report -- "$CRITERION_HOME" BENCHMARKS.md "$machine" "$command"
