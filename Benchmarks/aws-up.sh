#!/usr/bin/env bash
# Times `skiff aws up` (fresh), a re-up, and `skiff aws down` against moto_server on a free loopback port, and
# prints how many EC2 calls each made. moto is started here and stopped by its PID on exit.
# Usage: Benchmarks/aws-up.sh [path/to/skiff]   (default: .build/release/skiff, else .build/debug/skiff)
set -euo pipefail
cd "$(dirname "$0")/.."
skiff=${1:-}
if [[ -z "$skiff" ]]; then
    if [[ -x .build/release/skiff ]]; then skiff=.build/release/skiff; else skiff=.build/debug/skiff; fi
fi
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m moto.server -H 127.0.0.1 -p "$port" >/dev/null 2>&1 </dev/null &
moto_pid=$!
work=$(mktemp -d /tmp/skiff-aws-bench.XXXXXX)
cleanup() { kill "$moto_pid" 2>/dev/null || true; sleep 0.3; kill -9 "$moto_pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/moto-api/data.json" 2>/dev/null && break
    sleep 0.1
done
export AWS_ACCESS_KEY_ID=AKIDSKIFFBENCH AWS_SECRET_ACCESS_KEY=skiff-bench-secret AWS_REGION=us-east-1
export AWS_ENDPOINT_URL_EC2="http://127.0.0.1:$port"
run() {
    local label=$1; shift
    local start end
    start=$(date +%s.%N)
    "$skiff" "$@" >"$work/out" 2>"$work/err"
    end=$(date +%s.%N)
    printf '%-10s %6.3f s   %s\n' "$label" "$(python3 -c "print($end - $start)")" \
        "$(grep 'EC2 calls' "$work/err" | sed 's/^skiff: //')"
}
echo "skiff: $skiff, moto_server on 127.0.0.1:$port"
# moto builds its EC2 backend on the first request to a region (about 1.5 s); warm it up so that the figures
# below measure skiff and not moto's start-up.
run "warm-up" aws up --name warmup --dry-run
run "up"      aws up --name bench --vars-out "$work/vars.yml"
run "re-up"   aws up --name bench --vars-out "$work/vars.yml"
run "dry-run" aws up --name bench2 --dry-run
run "down"    aws down --name bench
run "re-down" aws down --name bench
echo "vars file mode: $(stat -c %a "$work/vars.yml")"
cat "$work/vars.yml"
