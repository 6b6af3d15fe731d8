#!/usr/bin/env bash
# Instructions per request under callgrind (stable where timings are not): each variant of
# benches/peers/profile.rs run for N1 and N2 requests, the difference divided by N2 - N1 so the
# setup cancels out. Writes "$CRITERION_HOME/callgrind.txt" ("variant instructions" lines), which
# the report turns into a table. Skipped (with a message) when valgrind is not installed.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
out="${CRITERION_HOME:-$PWD/target/criterion}/callgrind.txt"
if ! command -v valgrind >/dev/null; then
    echo "valgrind not installed: no instruction counts (apt-get install valgrind)" >&2
    exit 0
fi
cargo build --release --manifest-path benches/peers/Cargo.toml --bin profile
bin="$CARGO_TARGET_DIR/release/profile"
N1=1000
N2=3000
instructions() {
    local f
    f="$(mktemp)"
    valgrind --tool=callgrind --callgrind-out-file="$f" "$bin" "$1" "$2" >/dev/null 2>&1
    sed -n 's/^summary: *//p' "$f"
    rm -f "$f"
}
mkdir -p "$(dirname "$out")"
: > "$out"
for v in bare identity disabled filtered sampled_out trace metrics fused floor client_bare client client_floor; do
    a="$(instructions "$v" "$N1")"
    b="$(instructions "$v" "$N2")"
    echo "$v $(( (b - a) / (N2 - N1) ))" | tee -a "$out"
done
