#!/usr/bin/env bash
# Times `skiff int` on a director-like create-env input (release build): the manifest and five ops files written
# by Benchmarks/gen-director-manifest.py (20 certificates, 2 keys, 13 passwords), with --vars-store.
# Usage: Benchmarks/director-interpolate.sh [runs-with-empty-store] [runs-with-existing-store]   (default 3 and 15)
# Targets (issue 10): existing store <= 30 ms; empty store (generating the 20 certificates) <= 1.5 s on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
empty_runs="${1:-3}"
existing_runs="${2:-15}"
swift build -c release --scratch-path .build-release --product skiff >&2
binary="$(swift build -c release --scratch-path .build-release --show-bin-path)/skiff"
work="$(mktemp -d "${TMPDIR:-/tmp}/skiff-bench-director.XXXXXX")"
trap 'rm -rf "$work"' EXIT
python3 Benchmarks/gen-director-manifest.py "$work"
python3 - "$binary" "$work" "$empty_runs" "$existing_runs" <<'PY'
import os, statistics, subprocess, sys, time
binary, work, empty_runs, existing_runs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
ops = ["cpi.yml", "uaa.yml", "credhub.yml", "jumpbox-user.yml", "extras.yml"]
store = os.path.join(work, "store.yml")
command = [binary, "int", os.path.join(work, "manifest.yml"), "-l", os.path.join(work, "vars.yml"),
           "--vars-store", store]
for name in ops:
    command += ["-o", os.path.join(work, name)]

def run():
    start = time.perf_counter()
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit("skiff int failed: " + result.stderr.decode())
    return elapsed, result.stdout

def report(label, times):
    ms = sorted(t * 1000 for t in times)
    print(f"{label}: min {ms[0]:.0f} ms, median {statistics.median(ms):.0f} ms, max {ms[-1]:.0f} ms ({len(ms)} runs)")

times = []
for _ in range(empty_runs):
    if os.path.exists(store):
        os.remove(store)
    elapsed, output = run()
    times.append(elapsed)
with open(store) as f:
    stored = f.read()
print(f"input: 217-line manifest, 5 ops files; store after generation: {stored.count('BEGIN CERTIFICATE')} PEM "
      f"certificates, {sum(1 for line in stored.splitlines() if line and not line.startswith(' '))} variables")
report("empty store (generates 20 certificates, 1 rsa, 1 ssh key)", times)
times = [run()[0] for _ in range(existing_runs)]
output = run()[1].decode()
if "((" in output:
    sys.exit("unresolved placeholders in the output")
report("existing store", times)
print(f"cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}")
PY
