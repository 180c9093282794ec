#!/usr/bin/env bash
# Times `skiff int manifest.yml -o ops.yml -l vars.yml` on the generated 17,000-line manifest (release build).
# Usage: Benchmarks/interpolate.sh [runs]   (default 5 runs; prints wall seconds and peak RSS of each)
# Target (issue 3): under 0.5 s wall and under 200 MB peak RSS on a 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-5}"
generator="${SKIFF_BENCH_GENERATOR:-../shared/bench/gen-big-manifest.py}"
[ -f "$generator" ] || generator=/work/shared/bench/gen-big-manifest.py
swift build -c release --scratch-path .build-release --product skiff >&2
binary="$(swift build -c release --scratch-path .build-release --show-bin-path)/skiff"
work="$(mktemp -d "${TMPDIR:-/tmp}/skiff-bench-int.XXXXXX")"
trap 'rm -rf "$work"' EXIT
python3 "$generator" "$work" >/dev/null
echo "input: $(wc -l < "$work/manifest.yml") manifest lines, $(grep -c '^- type:' "$work/ops.yml") ops, $(wc -l < "$work/vars.yml") vars"
for i in $(seq 1 "$runs"); do
    /usr/bin/time -f "run $i: %e s wall, %M KB peak RSS" \
        "$binary" int "$work/manifest.yml" -o "$work/ops.yml" -l "$work/vars.yml" > "$work/out.yml"
done
echo "output: $(wc -l < "$work/out.yml") lines, $(grep -c '((' "$work/out.yml" || true) unresolved placeholders"
