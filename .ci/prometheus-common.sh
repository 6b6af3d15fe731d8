# Sourced by the Prometheus checks: a scratch directory and process list cleaned up on exit,
# Debian's prometheus, curl and jq installed when missing, the validation server started on
# $APP_PORT, and `wait_for URL WHAT`. Run from the workspace root.

WORK="$(mktemp -d)"
PIDS=()

cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

need=()
command -v prometheus >/dev/null || need+=(prometheus)
command -v curl >/dev/null || need+=(curl)
command -v jq >/dev/null || need+=(jq)
if ((${#need[@]})); then
    echo "installing ${need[*]}"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    # Wait for another apt (an unattended upgrade) instead of failing on its lock.
    $SUDO apt-get -o DPkg::Lock::Timeout=300 update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
prometheus --version 2>&1 | head -1

# The validation server (built by the test step already; this only links it if needed).
cargo build -q --example validation_server
PORT="$APP_PORT" "target/debug/examples/validation_server" >"$WORK/app.log" 2>&1 &
PIDS+=($!)

wait_for() { # url, what
    for _ in $(seq 1 100); do
        curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "$2 did not come up: $1" >&2
    cat "$WORK"/*.log >&2 || true
    exit 1
}
