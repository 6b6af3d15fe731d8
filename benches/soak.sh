#!/usr/bin/env bash
# A bounded soak of the validation server (examples/validation_server.rs) as an operator runs
# it: steady load from a second process, its OTLP collector a black hole (accepts, never
# answers), for SOAK_SECONDS (600 by default). Every SOAK_SAMPLE seconds (10) it records the
# server's RSS, threads and open file descriptors (from /proc) in
# $CARGO_TARGET_DIR/soak/samples.csv, and prints a summary at the end: RSS at the end of the
# warm-up (the first 5 minutes, or half the run when shorter) and at the end, threads and
# descriptors (min/max after the warm-up).
#
# The load (python3, standard library only): SOAK_RATE requests a second (200) over four
# keep-alive HTTP/1.1 connections, a new connection every 50 requests; every second, one
# connection that sends nothing and one that sends half an HTTP/2 preface (both closed by the
# server at HEADER_READ_TIMEOUT_MS=2000).
#
# Linux only (/proc). Not part of `cargo test` or CI: run it by hand, e.g.
#   benches/soak.sh                      # 10 minutes, debug build
#   SOAK_PROFILE=release benches/soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
seconds="${SOAK_SECONDS:-600}"
sample="${SOAK_SAMPLE:-10}"
rate="${SOAK_RATE:-200}"
profile="${SOAK_PROFILE:-dev}"
out="$CARGO_TARGET_DIR/soak"
mkdir -p "$out"
cargo build --profile "$profile" -p examples --example validation_server
dir=debug
[ "$profile" = dev ] || dir="$profile"
bin="$CARGO_TARGET_DIR/$dir/examples/validation_server"

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

# The black-hole collector: accepts connections, reads and discards, never answers.
python3 - "$seconds" > "$out/collector.port" <<'EOF' &
import socket, sys, threading, time
deadline = time.time() + float(sys.argv[1]) + 60
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(128)
print(listener.getsockname()[1], flush=True)
def drain(conn):
    try:
        while conn.recv(65536):
            pass
    except OSError:
        pass
listener.settimeout(1)
while time.time() < deadline:
    try:
        conn, _ = listener.accept()
    except socket.timeout:
        continue
    threading.Thread(target=drain, args=(conn,), daemon=True).start()
EOF
pids+=($!)
for _ in $(seq 50); do [ -s "$out/collector.port" ] && break; sleep 0.1; done
collector="http://127.0.0.1:$(cat "$out/collector.port")"

PORT=0 HEADER_READ_TIMEOUT_MS=2000 \
  OTEL_EXPORTER_OTLP_ENDPOINT="$collector" OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf \
  OTEL_SERVICE_NAME=soak "$bin" > "$out/server.out" 2> "$out/server.err" &
server=$!
pids+=($server)
for _ in $(seq 100); do grep -q "listening on" "$out/server.out" 2>/dev/null && break; sleep 0.1; done
addr="$(sed -n 's/.*listening on http:\/\///p' "$out/server.out" | head -1)"
[ -n "$addr" ] || { echo "the server did not start"; cat "$out/server.err"; exit 1; }

# The load, from its own process, bounded by the same duration.
python3 - "$addr" "$seconds" "$rate" > "$out/load.txt" <<'EOF' &
import http.client, socket, sys, threading, time
host, port = sys.argv[1].rsplit(":", 1)
seconds, rate = float(sys.argv[2]), float(sys.argv[3])
end = time.time() + seconds
counts = {"ok": 0, "failed": 0}
lock = threading.Lock()
paths = ["/users/1", "/", "/users/42", "/metrics"]
def worker(n):
    interval = 4 / rate
    conn, used, i = None, 0, 0
    next_at = time.time()
    while time.time() < end:
        if conn is None or used >= 50:
            if conn is not None:
                conn.close()
            conn, used = http.client.HTTPConnection(host, int(port), timeout=5), 0
        try:
            conn.request("GET", paths[(i + n) % len(paths)])
            conn.getresponse().read()
            ok = True
        except (OSError, http.client.HTTPException):
            conn.close()
            conn, ok = None, False
        used, i = used + 1, i + 1
        with lock:
            counts["ok" if ok else "failed"] += 1
        next_at += interval
        time.sleep(max(0, next_at - time.time()))
def silent():
    held = []
    while time.time() < end:
        for opening in (b"", b"PRI * HTTP/2"):
            try:
                s = socket.create_connection((host, int(port)), timeout=5)
                s.sendall(opening)
                held.append(s)
            except OSError:
                pass
        held = held[-20:]
        time.sleep(1)
threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
threads.append(threading.Thread(target=silent))
for t in threads:
    t.start()
for t in threads:
    t.join()
print(f"requests answered: {counts['ok']}, failed: {counts['failed']}")
EOF
load=$!
pids+=($load)

echo "seconds,rss_kb,threads,fds" > "$out/samples.csv"
started=$(date +%s)
while :; do
  elapsed=$(( $(date +%s) - started ))
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$server/status")
  threads=$(awk '/^Threads/ {print $2}' "/proc/$server/status")
  fds=$(ls "/proc/$server/fd" | wc -l)
  echo "$elapsed,$rss,$threads,$fds" >> "$out/samples.csv"
  [ "$elapsed" -ge "$seconds" ] && break
  sleep "$sample"
done
wait "$load" || true
kill -TERM "$server"
wait "$server" || true

warmup=$(( seconds / 2 < 300 ? seconds / 2 : 300 ))
awk -F, -v warmup="$warmup" -v seconds="$seconds" -v rate="$rate" '
  NR == 1 { next }
  $1 >= warmup && !w { w = 1; rss_w = $2; at_w = $1 }
  $1 >= warmup { if (tmin == "" || $3 < tmin) tmin = $3; if ($3 > tmax) tmax = $3;
                 if (fmin == "" || $4 < fmin) fmin = $4; if ($4 > fmax) fmax = $4 }
  { rss_e = $2; at_e = $1; if ($2 > rss_max) rss_max = $2 }
  END {
    printf "soak: %d s at %d requests/s, collector a black hole\n", seconds, rate
    printf "RSS: %.1f MB at %d s, %.1f MB at %d s (%+.2f MB after the warm-up), peak %.1f MB\n",
      rss_w / 1024, at_w, rss_e / 1024, at_e, (rss_e - rss_w) / 1024, rss_max / 1024
    printf "threads after the warm-up: %d..%d; open descriptors: %d..%d\n", tmin, tmax, fmin, fmax
  }' "$out/samples.csv" | tee "$out/summary.txt"
cat "$out/load.txt" | tee -a "$out/summary.txt"
echo "server stderr:" | tee -a "$out/summary.txt"
tee -a "$out/summary.txt" < "$out/server.err"
