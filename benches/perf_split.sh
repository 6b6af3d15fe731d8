#!/usr/bin/env bash
# Where each stack's CPU goes under load, per request: the load test (benches/peers/load.rs)
# recorded by perf (cpu-clock, 1 kHz) while its output lines are stamped with the same clock,
# then split by slice and by symbol class (benches/perf_split.py).
#
#   bash benches/perf_split.sh [SECONDS [STACK...]]     (default: 60 s, none and ours)
#
# Needs perf (linux-perf) and python3; run by hand, not by CI. This VM exposes no hardware
# counters, hence cpu-clock. Figures include perf's own cost (about 10 %).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
command -v perf >/dev/null || { echo "perf is not installed (e.g. sudo apt-get install linux-perf)" >&2; exit 1; }
seconds="${1:-60}"
shift || true
stacks=("$@")
[ ${#stacks[@]} -gt 0 ] || stacks=(none ours)
cargo build --release --manifest-path benches/peers/Cargo.toml --bin load
out="${PERF_SPLIT_DIR:-$CARGO_TARGET_DIR/perf-split}"
mkdir -p "$out"
perf record -k CLOCK_MONOTONIC -e cpu-clock -F 1000 -o "$out/perf.data" \
    "$CARGO_TARGET_DIR/release/load" "$seconds" "${stacks[@]}" 2>/dev/null \
    | python3 -u -c 'import sys, time
for line in sys.stdin:
    print("%.4f %s" % (time.monotonic(), line), end="", flush=True)' > "$out/lines.txt"
perf script -i "$out/perf.data" -F comm,tid,time,ip,sym,dso 2>/dev/null > "$out/samples.txt"
python3 benches/perf_split.py "$out/lines.txt" "$out/samples.txt" | tee "$out/split.txt"
