#!/usr/bin/env bash
# Runs the propagation fuzz targets as a standing campaign.
#
#   fuzz/run.sh [-t SECONDS] [TARGET...]
#
# Every target (or those named) runs for SECONDS each (default: $FUZZ_TIME, else 60), one
# after another. Each keeps its working corpus in fuzz/corpus/<target>/ (git-ignored), which
# is first topped up with the seed corpus fuzz/seeds/<target>/ (in git), so a run resumes where
# the last one stopped. At the end it prints, per target, the inputs run, the coverage
# libFuzzer reached (cov: edges, ft: features), the corpus size and the time taken.
#
# Environment:
#   FUZZ_TIME=SECONDS      time per target when -t is not given (default 60)
#   FUZZ_LOG_DIR=DIR       where each target's libFuzzer output goes (default fuzz/logs)
#   FUZZ_TOOLCHAIN=nightly build with `cargo +nightly fuzz`; by default the active (stable)
#                          toolchain with RUSTC_BOOTSTRAP=1, the same compiler as `cargo test`
#   FUZZ_ARGS="..."        extra libFuzzer flags (e.g. "-rss_limit_mb=4096")
#
# A failing target leaves its input in fuzz/artifacts/<target>/ (the log names it); the script
# carries on with the other targets and exits with status 1. Every invariant a target asserts
# also runs under `cargo test` (tests/properties.rs), so reproduce a failure there too.
#
# Run it niced when sharing the machine, e.g. `nice -n 19 fuzz/run.sh -t 1800`.

set -euo pipefail

fuzz_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
crate_dir="$(dirname "$fuzz_dir")"
cd "$crate_dir"

time_per_target="${FUZZ_TIME:-60}"
targets=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        -t | --time)
            time_per_target="$2"
            shift 2
            ;;
        -h | --help)
            awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
            exit 0
            ;;
        *)
            targets+=("$1")
            shift
            ;;
    esac
done
if ! [[ "$time_per_target" =~ ^[0-9]+$ ]] || [[ "$time_per_target" -eq 0 ]]; then
    echo "run.sh: the time per target must be a positive number of seconds, not '$time_per_target'" >&2
    exit 2
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "run.sh: cargo-fuzz is missing; installing it (cargo install cargo-fuzz --locked)" >&2
    cargo install cargo-fuzz --locked
fi
if [[ "${FUZZ_TOOLCHAIN:-}" == "nightly" ]]; then
    fuzz=(cargo +nightly fuzz)
else
    export RUSTC_BOOTSTRAP=1
    fuzz=(cargo fuzz)
fi
# Release build with debug assertions: fast, and an arithmetic overflow still fails.
build_flags=(-O -a)

known_targets=$("${fuzz[@]}" list)
if [[ ${#targets[@]} -eq 0 ]]; then
    mapfile -t targets <<<"$known_targets"
fi
for target in "${targets[@]}"; do
    if ! grep -qx "$target" <<<"$known_targets"; then
        echo "run.sh: no fuzz target '$target'; known: $(tr '\n' ' ' <<<"$known_targets")" >&2
        exit 2
    fi
done

log_dir="${FUZZ_LOG_DIR:-$fuzz_dir/logs}"
mkdir -p "$log_dir"

echo "run.sh: building ${targets[*]}" >&2
for target in "${targets[@]}"; do
    "${fuzz[@]}" build "${build_flags[@]}" "$target"
done

summary=()
failures=()
for target in "${targets[@]}"; do
    corpus="$fuzz_dir/corpus/$target"
    seeds="$fuzz_dir/seeds/$target"
    log="$log_dir/$target.log"
    mkdir -p "$corpus"
    if [[ -d "$seeds" ]]; then
        cp -n "$seeds"/* "$corpus"/ 2>/dev/null || true
    fi
    echo "run.sh: $target for ${time_per_target}s ($(date -u +%FT%TZ)), log $log" >&2
    start=$(date +%s)
    status=0
    # shellcheck disable=SC2086 # FUZZ_ARGS is a list of flags
    "${fuzz[@]}" run "${build_flags[@]}" "$target" "$corpus" -- \
        -max_total_time="$time_per_target" -print_final_stats=1 ${FUZZ_ARGS:-} \
        >"$log" 2>&1 || status=$?
    elapsed=$(($(date +%s) - start))

    # libFuzzer's last status line ("#N DONE cov: C ft: F corp: U/S ...") and final stats.
    last=$(grep -E '^#[0-9]+' "$log" | grep -E 'cov: ' | tail -n 1 || true)
    final_stat() { grep -E "^stat::$1: *[0-9]+" "$log" | head -n 1 | grep -Eo '[0-9]+$' || true; }
    runs=$(final_stat number_of_executed_units)
    [[ -n "$runs" ]] || runs=$(grep -Eo '^#[0-9]+' <<<"$last" | tr -d '#' || true)
    execs=$(final_stat average_exec_per_sec)
    cov=$(grep -Eo 'cov: [0-9]+' <<<"$last" | grep -Eo '[0-9]+' || true)
    ft=$(grep -Eo 'ft: [0-9]+' <<<"$last" | grep -Eo '[0-9]+' || true)
    corp=$(grep -Eo 'corp: [0-9]+/[0-9]+[a-zA-Z]*' <<<"$last" | cut -d' ' -f2 || true)
    if [[ $status -eq 0 ]]; then
        result="ok"
    else
        result="FAILED"
        artifact=$(grep -Eo 'Test unit written to [^ ]+' "$log" | tail -n 1 | cut -d' ' -f5 || true)
        failures+=("$target: exit $status, input ${artifact:-none written}, log $log")
    fi
    summary+=("$(printf '%-16s %-8s %12s %10s %7s %7s %12s %8ss' \
        "$target" "$result" "${runs:--}" "${execs:--}" "${cov:--}" "${ft:--}" "${corp:--}" "$elapsed")")
    echo "run.sh: ${summary[-1]}" >&2
done

echo
printf '%-16s %-8s %12s %10s %7s %7s %12s %9s\n' target result runs exec/s cov ft corpus time
printf '%s\n' "${summary[@]}"
if [[ ${#failures[@]} -gt 0 ]]; then
    echo
    printf 'FAILED %s\n' "${failures[@]}"
    exit 1
fi
