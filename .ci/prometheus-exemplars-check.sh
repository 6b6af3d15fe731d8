#!/usr/bin/env bash
# A real Prometheus with exemplar storage (`--enable-feature=exemplar-storage`, Prometheus
# 2.26 and later; Debian ships 2.42) scrapes the validation server's /metrics, which answers
# its `Accept: application/openmetrics-text;version=1.0.0,…` in OpenMetrics with exemplars.
# The only traffic carries known `traceparent`s, sampled and unsampled; then
# /api/v1/query_exemplars must return exemplars naming only sampled requests (never an
# unsampled one), each value inside its bucket, the 500 series of /fail among them, and the
# scrape must have no error.
#
# Everything runs on 127.0.0.1 and is bounded in time; both processes are stopped on exit.
# Run from the workspace root (`.ci/run` does); installs Debian's prometheus, curl and jq
# when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

APP_PORT="${APP_PORT:-18081}"
PROM_PORT="${PROM_PORT:-19091}"
# shellcheck source=prometheus-common.sh
source .ci/prometheus-common.sh
# Polled on /metrics, which is not traced: a request to a traced route without
# `traceparent` would start a sampled trace of unknown id.
wait_for "http://127.0.0.1:$APP_PORT/metrics" "the validation server"

fail() {
    echo "FAILED: $*" >&2
    exit 1
}

# What Prometheus asks for, answered in OpenMetrics (checked here too, before Prometheus).
content_type="$(curl -fsS -o /dev/null -w '%{content_type}' \
    -H 'Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5' \
    "http://127.0.0.1:$APP_PORT/metrics")"
[ "$content_type" = "application/openmetrics-text; version=1.0.0; charset=utf-8" ] ||
    fail "content type for Prometheus' Accept: $content_type"
content_type="$(curl -fsS -o /dev/null -w '%{content_type}' "http://127.0.0.1:$APP_PORT/metrics")"
[ "$content_type" = "text/plain; version=0.0.4; charset=utf-8" ] ||
    fail "content type without Accept: $content_type"

# Known traces: sampled ones (flags 01) and unsampled ones (flags 00; the server's sampler is
# parent-based, so these are not sampled). The validation server's `/` root route is not
# used: a request without `traceparent` starts a sampled trace of unknown id.
sampled=()
unsampled=()
for i in $(seq 1 40); do
    sampled+=("$(printf 'a%031x' "$i")")
    unsampled+=("$(printf 'b%031x' "$i")")
done
send() { # trace id, flags, path
    curl -s -o /dev/null --max-time 5 -H "traceparent: 00-$1-00f067aa0ba902b7-$2" \
        "http://127.0.0.1:$APP_PORT$3" || true
}
for i in "${!sampled[@]}"; do
    path=/users/$i
    ((i % 4 == 0)) && path=/fail
    send "${sampled[$i]}" 01 "$path"
    send "${unsampled[$i]}" 00 "$path"
done
echo "${#sampled[@]} sampled and ${#unsampled[@]} unsampled requests sent"

cat >"$WORK/prometheus.yml" <<EOF2
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: validation_server
    static_configs:
      - targets: ["127.0.0.1:$APP_PORT"]
EOF2
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/data" \
    --enable-feature=exemplar-storage \
    --web.listen-address="127.0.0.1:$PROM_PORT" >"$WORK/prometheus.log" 2>&1 &
PIDS+=($!)
wait_for "http://127.0.0.1:$PROM_PORT/-/ready" "prometheus"

api() { # path, query → JSON
    curl -fsS --max-time 10 "http://127.0.0.1:$PROM_PORT/api/v1/$1" --data-urlencode "query=$2" \
        --data-urlencode "start=$(($(date +%s) - 600))" --data-urlencode "end=$(($(date +%s) + 60))"
}

# Wait (at most 20 s) for a scrape that stored exemplars.
exemplars='[]'
for _ in $(seq 1 40); do
    exemplars="$(api query_exemplars 'http_server_request_duration_seconds_bucket' | jq -c '.data')"
    [ "$(echo "$exemplars" | jq 'map(.exemplars | length) | add // 0')" -gt 0 ] && break
    sleep 0.5
done

echo "query_exemplars (http_server_request_duration_seconds_bucket), a sample:"
echo "$exemplars" | jq -c '.[:2] | map(.exemplars |= .[:1])'

count="$(echo "$exemplars" | jq 'map(.exemplars | length) | add // 0')"
((count > 0)) || { cat "$WORK/prometheus.log" >&2; fail "no exemplar stored"; }
echo "ok: $count exemplars stored"

# Every trace id is one of the sampled requests sent, none an unsampled one.
ids="$(echo "$exemplars" | jq -r '.[].exemplars[].labels.trace_id' | sort -u)"
sampled_list="$(printf '%s\n' "${sampled[@]}")"
unsampled_list="$(printf '%s\n' "${unsampled[@]}")"
while read -r id; do
    grep -qx "$id" <<<"$unsampled_list" && fail "an unsampled request's exemplar: $id"
    grep -qx "$id" <<<"$sampled_list" || fail "an exemplar of a request not sent sampled: $id"
done <<<"$ids"
echo "ok: $(wc -l <<<"$ids") distinct trace ids, all of sampled requests, none unsampled"

# Each value is inside its bucket: (the previous boundary, le].
bounds='[0.005,0.01,0.025,0.05,0.075,0.1,0.25,0.5,0.75,1,2.5,5,7.5,10]'
outside="$(echo "$exemplars" | jq --argjson b "$bounds" '[.[] | (.seriesLabels.le) as $le
    | (if $le == "+Inf" then 1e308 else ($le | tonumber) end) as $upper
    | ([$b[] | select(. < $upper)] | max // -1) as $lower
    | .exemplars[] | (.value | tonumber) | select(. > $upper or . <= $lower)] | length')"
[ "$outside" -eq 0 ] || fail "$outside exemplar values outside their bucket"
echo "ok: every exemplar value is inside its bucket"

# The 500s of /fail and the 200s of /users/{id} both have theirs.
for series in '/fail 500' '/users/{id} 200'; do
    read -r route status <<<"$series"
    n="$(echo "$exemplars" | jq --arg r "$route" --arg s "$status" \
        '[.[] | select(.seriesLabels.http_route == $r and .seriesLabels.http_response_status_code == $s) | .exemplars[]] | length')"
    ((n > 0)) || fail "no exemplar on $route $status"
    echo "ok: $n exemplars on http_route=\"$route\" status $status"
done

# The scrape itself: up, no error, OpenMetrics parsed.
health="$(curl -fsS --max-time 10 "http://127.0.0.1:$PROM_PORT/api/v1/targets" |
    jq -c '.data.activeTargets[0] | {health, lastError}')"
[ "$health" = '{"health":"up","lastError":""}' ] || fail "scrape: $health"
echo "ok: scrape $health"
if grep -Eqi 'level=(warn|error).*scrape' "$WORK/prometheus.log"; then
    grep -i 'scrape' "$WORK/prometheus.log" >&2
    fail "prometheus logged scrape problems"
fi

echo "prometheus exemplars check passed"
