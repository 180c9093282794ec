#!/usr/bin/env bash
# Times the flagship flow with a release build, as root: first create-env of the nginx example to a verified
# HTTP answer over IPv6, an unchanged re-run, and delete-env. Usage: Benchmarks/create-env.sh [ROUNDS]
# With BOSH_AGENT=PATH (a bosh-agent binary) the VM runs that agent: its stemcell is built once and named by its
# folder in the stemcell cache.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
export PATH="/opt/swift/usr/bin:$PATH"
swift build -c release --product skiff 2>&1 | tail -n 1
skiff=$PWD/.build/release/skiff
# The stemcell (skiff://local) is built once per skiff binary and cached; build it before timing.
stemcell=skiff://local
if [[ -n "${BOSH_AGENT:-}" ]]; then
    stemcell="file://$("$skiff" stemcell build --agent "$BOSH_AGENT" 2>/dev/null | tail -n 1)"
else
    "$skiff" stemcell build >/dev/null
fi

work=$(mktemp -d /tmp/skiff-bench-XXXXXX)
chmod 0755 "$work"   # the VMs' root user (an unprivileged uid) must reach its state directory
cleanup() {
    "$skiff" delete-env --force "$work/local.yml" >/dev/null 2>&1 || true
    "$skiff" local prune --state-dir "$work/cloud" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
sed -e 's/10\.245\.0\./10.245.200./g' -e 's/fd53:6b69:6666:1::/fd53:6b69:6666:200::/g' \
    -e "s|url: file://release|url: file://$PWD/examples/nginx-ipv6/release|" \
    -e "s|state_dir: /var/lib/skiff/local|state_dir: $work/cloud|" -e "s|url: skiff://local|url: $stemcell|" \
    examples/nginx-ipv6/local.yml >"$work/local.yml"

seconds() { local start=$1 end=$2; echo "$start $end" | awk '{ printf "%.3f\n", $2 - $1 }'; }
now() { date +%s.%N; }
stats() { sort -n | awk '{ v[NR] = $1 } END { printf "best %.3f s, median %.3f s, worst %.3f s", v[1], v[int((NR + 1) / 2)], v[NR] }'; }

: >"$work/create" ; : >"$work/rerun" ; : >"$work/delete"
for round in $(seq "$rounds"); do
    t0=$(now); "$skiff" create-env "$work/local.yml" >"$work/out" 2>&1 || { cat "$work/out"; exit 1; }; t1=$(now)
    url=$(tail -n 1 "$work/out")
    curl -sg -6 --max-time 5 "$url" | grep -q 'Your address is' || { echo "no page at $url"; exit 1; }
    t2=$(now); "$skiff" create-env "$work/local.yml" >/dev/null; t3=$(now)
    t4=$(now); "$skiff" delete-env "$work/local.yml" >/dev/null; t5=$(now)
    seconds "$t0" "$t1" >>"$work/create"; seconds "$t2" "$t3" >>"$work/rerun"; seconds "$t4" "$t5" >>"$work/delete"
    echo "round $round: create-env $(seconds "$t0" "$t1") s, re-run $(seconds "$t2" "$t3") s, delete-env $(seconds "$t4" "$t5") s"
done
echo "create-env to a verified IPv6 answer: $(stats <"$work/create")"
echo "unchanged re-run:                     $(stats <"$work/rerun")"
echo "delete-env:                           $(stats <"$work/delete")"
