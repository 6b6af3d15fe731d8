#!/usr/bin/env bash
# A real Prometheus server scrapes the validation server's /metrics while traffic runs, then
# PromQL shows the request rate, the 5xx error series and p99 per route.
#
# Everything runs on 127.0.0.1 and is bounded in time; both processes are stopped on exit.
# Run from the workspace root (`.ci/run` does); installs Debian's prometheus, curl and jq
# when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

APP_PORT="${APP_PORT:-18080}"
PROM_PORT="${PROM_PORT:-19090}"
TRAFFIC_SECONDS="${TRAFFIC_SECONDS:-15}"
# shellcheck source=prometheus-common.sh
source .ci/prometheus-common.sh
wait_for "http://127.0.0.1:$APP_PORT/" "the validation server"

cat >"$WORK/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: validation_server
    static_configs:
      - targets: ["127.0.0.1:$APP_PORT"]
EOF
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/data" \
    --web.listen-address="127.0.0.1:$PROM_PORT" >"$WORK/prometheus.log" 2>&1 &
PIDS+=($!)
wait_for "http://127.0.0.1:$PROM_PORT/-/ready" "prometheus"

echo "traffic for ${TRAFFIC_SECONDS}s"
end=$((SECONDS + TRAFFIC_SECONDS))
requests=0
while ((SECONDS < end)); do
    for path in /users/1 /users/2 /users/3 / /fail /nope "/forward?to=http://127.0.0.1:$APP_PORT/users/9"; do
        curl -s -o /dev/null --max-time 5 "http://127.0.0.1:$APP_PORT$path" || true
        requests=$((requests + 1))
    done
done
echo "$requests requests sent"
sleep 3 # two more scrapes

query() { # PromQL → the result vector as JSON
    curl -fsS --max-time 10 "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$1" | jq -c '.data.result'
}
value_for() { # JSON result, label, value → the sample's value
    echo "$1" | jq -r --arg l "$2" --arg v "$3" '.[] | select(.metric[$l] == $v) | .value[1]'
}
check() { # description, number, condition (awk on $1)
    if awk -v x="$2" "BEGIN { exit !($3) }"; then
        echo "ok: $1 = $2"
    else
        echo "FAILED: $1 = '$2'" >&2
        exit 1
    fi
}

rate="$(query 'sum by (http_route) (rate(http_server_request_duration_seconds_count[30s]))')"
echo "rate per route: $rate"
check "request rate of /users/{id} (req/s)" "$(value_for "$rate" http_route '/users/{id}')" 'x > 0'

errors="$(query 'sum by (http_route) (rate(http_server_request_duration_seconds_count{error_type="500"}[30s]))')"
echo "5xx rate per route: $errors"
check "5xx rate of /fail (req/s)" "$(value_for "$errors" http_route '/fail')" 'x > 0'
check "5xx series for /users/{id}" "$(value_for "$errors" http_route '/users/{id}' | wc -l)" 'x == 0'

ratio="$(query 'sum by (http_route) (rate(http_server_request_duration_seconds_count{error_type!=""}[30s])) / sum by (http_route) (rate(http_server_request_duration_seconds_count[30s]))')"
check "error ratio of /fail" "$(value_for "$ratio" http_route '/fail')" 'x == 1'

p99="$(query 'histogram_quantile(0.99, sum by (le, http_route) (rate(http_server_request_duration_seconds_bucket[30s])))')"
echo "p99 per route: $p99"
check "p99 of /users/{id} (s)" "$(value_for "$p99" http_route '/users/{id}')" 'x > 0 && x <= 10'

unmatched="$(query 'count(http_server_request_duration_seconds_count{http_route=~".*nope.*"})')"
check "series with a raw path as route" "$(echo "$unmatched" | jq 'length')" 'x == 0'

client="$(query 'sum(rate(http_client_request_duration_seconds_count[30s]))')"
check "client call rate (req/s)" "$(echo "$client" | jq -r '.[0].value[1]')" 'x > 0'

active="$(query 'sum(http_server_active_requests)')"
check "active requests after the traffic" "$(echo "$active" | jq -r '.[0].value[1]')" 'x == 0'

echo "prometheus check passed"
