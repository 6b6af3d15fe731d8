#!/usr/bin/env bash
# Instructions per request under callgrind (stable where timings are not): each variant of
# benches/peers/profile.rs run for N1 and N2 requests, the difference divided by N2 - N1 so the
# setup cancels out. Writes "$CRITERION_HOME/callgrind.txt" ("variant instructions" lines), which
# the report turns into a table, and "$CRITERION_HOME/callgrind-fused.txt" (the top inclusive
# costs of `profile fused`). Skipped (with how to install valgrind) when valgrind is missing:
# it installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
home="${CRITERION_HOME:-$CARGO_TARGET_DIR/criterion}"
out="$home/callgrind.txt"
if ! command -v valgrind >/dev/null; then
    echo "valgrind is not installed: no instruction counts. Install it (e.g. sudo apt-get install valgrind) and rerun." >&2
    exit 0
fi
cargo build --release --manifest-path benches/peers/Cargo.toml --bin profile
bin="$CARGO_TARGET_DIR/release/profile"
N1=1000
N2=3000
run() {
    valgrind --tool=callgrind --callgrind-out-file="$1" "$bin" "$2" "$3" >/dev/null 2>&1
}
instructions() {
    local f
    f="$(mktemp)"
    run "$f" "$1" "$2"
    sed -n 's/^summary: *//p' "$f"
    rm -f "$f"
}
mkdir -p "$home"
# `CALLGRIND_VARIANTS="a b"`: only those variants, printed (not written to the table).
if [ -n "${CALLGRIND_VARIANTS:-}" ]; then
    for v in $CALLGRIND_VARIANTS; do
        a="$(instructions "$v" "$N1")"
        b="$(instructions "$v" "$N2")"
        echo "$v $(( (b - a) / (N2 - N1) ))"
    done
    exit 0
fi
: > "$out"
for v in bare bare_no_parent bare_full_context identity disabled filtered sampled_out trace metrics fused \
    fused_no_parent fused_full_context fused_unsampled_parent fused_exemplars_off \
    fused_unsampled_parent_exemplars_off peer_combo peer_axum_otel_metrics floor client_bare client client_fused \
    client_floor; do
    a="$(instructions "$v" "$N1")"
    b="$(instructions "$v" "$N2")"
    echo "$v $(( (b - a) / (N2 - N1) ))" | tee -a "$out"
done
# Where the fused layer's instructions go: the top inclusive costs of `profile fused` in our
# crates, the SDK, http and the allocator, divided by the N2 requests (setup included, a few %).
f="$(mktemp)"
run "$f" fused "$N2"
callgrind_annotate --inclusive=yes "$f" 2>/dev/null \
    | grep -E 'tower_telemetry|opentelemetry|__rust_alloc|malloc|free |Extensions|http::' \
    | sed -E 's#^ *([0-9,]+) \( *[0-9.]+%\) +#\1 #; s# \[[^]]*\]$##; s# /[^ ]*/(tower-trace|tower-metrics|propagation)/# \1/#; s# /root/.cargo/registry/src/[^/]+/# #' \
    | awk -v n="$N2" '{ ir = $1; gsub(",", "", ir); $1 = ""; printf "%7.0f %s\n", ir / n, substr($0, 1, 180) }' \
    | head -40 > "$home/callgrind-fused.txt" || true
cp "$f" "$home/callgrind.out.fused"
rm -f "$f"
# The load test under callgrind: instructions per request of each stack under load (valgrind
# runs the threads one at a time, so this is the work alone: no contention, no cache effects),
# from two durations without warm-up, the difference divided by the difference in requests.
cargo build --release --manifest-path benches/peers/Cargo.toml --bin load
for stack in none ours peers; do
    counts=()
    for seconds in 10 20; do
        f="$(mktemp)"
        requests="$(LOAD_WARM_UP=0 env -u CRITERION_HOME valgrind --tool=callgrind --callgrind-out-file="$f" "$CARGO_TARGET_DIR/release/load" "$seconds" "$stack" 2>/dev/null \
            | awk -v s="$stack" '$1 == s && NF > 10 { print $2 }')"
        counts+=("$(sed -n 's/^summary: *//p' "$f") $requests")
        rm -f "$f"
    done
    read -r i1 r1 <<< "${counts[0]}"
    read -r i2 r2 <<< "${counts[1]}"
    echo "load_$stack $(( (i2 - i1) / (r2 - r1) ))" | tee -a "$out"
done
# The opt-in `bound-instruments` feature's gain: these variants again, our layers built on the
# stable metrics API only (the SDK floor is unchanged). Then the default build again, so the
# binary left behind is the one measured above.
cargo build --release --manifest-path benches/peers/Cargo.toml --bin profile --no-default-features
for v in metrics fused sampled_out client_fused; do
    a="$(instructions "$v" "$N1")"
    b="$(instructions "$v" "$N2")"
    echo "${v}_stable_api $(( (b - a) / (N2 - N1) ))" | tee -a "$out"
done
cargo build --release --manifest-path benches/peers/Cargo.toml --bin profile
