#!/usr/bin/env bash
# Benchmark of the local cloud CPI, driven the way the BOSH CLI drives a CPI: one `skiff cpi local` process per call.
#
#   Benchmarks/local-cloud.sh [COUNT]        (default 20; needs root, iproute2, dnsmasq-base, runc, mmdebstrap, curl)
#
# Targets (issue 4): create_vm < 300 ms, delete_vm < 200 ms, COUNT VMs one after another < 10 s, all reachable.
# Uses the release build (builds it if missing), its own state directory and network, and prunes everything after.
set -euo pipefail

count=${1:-20}
repo=$(cd "$(dirname "$0")/.." && pwd)
skiff=$repo/.build/release/skiff
[ -x "$skiff" ] || (cd "$repo" && swift build -c release --product skiff >&2)

id=$(printf '%06x' $((RANDOM * 32768 + RANDOM)))
work=$(mktemp -d /tmp/skiff-bench-XXXXXX)
chmod 0755 "$work"   # the VMs' root user (an unprivileged uid) must reach its state directory
state=$work/state
network=skiffbench$id
config=$work/config.yml
cat > "$config" <<EOF
state_dir: $state
agent_command: [sleep, infinity]
mbus: https://mbus:bench@0.0.0.0:6868
EOF
cleanup() {
    [ -n "${SKIFF_BENCH_KEEP:-}" ] || "$skiff" local prune --config "$config" > /dev/null || true
    [ -n "${SKIFF_BENCH_KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

# One CPI call; prints the result JSON; fails on a CPI error.
call() {
    local response
    response=$(printf '%s' "$1" | "$skiff" cpi local --config "$config")
    if [[ $response != *'"error":null'* ]]; then
        echo "CPI error: $response" >&2
        return 1
    fi
    printf '%s' "$response"
}

result() { sed -e 's/.*"result":\["\([^"]*\)".*/\1/' -e 's/.*"result":"\([^"]*\)".*/\1/'; }

prefix6="fd$(printf '%02x' $((RANDOM % 256))):$(printf '%x' $RANDOM):$(printf '%x' $RANDOM):$(printf '%x' $RANDOM)"
octet2=$((RANDOM % 200 + 20))
octet3=$((RANDOM % 256))

networks() {
    local host=$1
    cat <<EOF
{"default":{"type":"manual","ip":"10.$octet2.$octet3.$host","netmask":"255.255.255.0","gateway":"10.$octet2.$octet3.1","default":["dns","gateway"],"cloud_properties":{"network":"$network"}},
 "default-v6":{"type":"manual","ip":"$prefix6::$(printf '%x' "$host")","netmask":"ffff:ffff:ffff:ffff::","gateway":"$prefix6::1","cloud_properties":{"network":"$network"}}}
EOF
}

context='"context":{"director_uuid":"bench","vm":{"stemcell":{"api_version":2}}},"api_version":2'
image=$("$skiff" stemcell build)/image
stemcell=$(call "{\"method\":\"create_stemcell\",\"arguments\":[\"$image\",{}],$context}" | result)

create_vm() {
    call "{\"method\":\"create_vm\",\"arguments\":[\"agent-$1\",\"$stemcell\",{},$(networks "$1"),[],{}],$context}" | result
}
delete_vm() { call "{\"method\":\"delete_vm\",\"arguments\":[\"$1\"],$context}" > /dev/null; }

# The first create_vm also creates the network (bridge, dnsmasq); measured apart.
start=$(date +%s%N)
first=$(create_vm 200)
first_ms=$(ms "$start")

# create_vm and delete_vm on an existing network, five times each.
single=()
deletes=()
for i in 1 2 3 4 5; do
    start=$(date +%s%N)
    vm=$(create_vm $((200 + i)))
    single+=("$(ms "$start")")
    start=$(date +%s%N)
    delete_vm "$vm"
    deletes+=("$(ms "$start")")
done

# COUNT VMs one after another.
vms=()
times=()
start_all=$(date +%s%N)
for i in $(seq 1 "$count"); do
    start=$(date +%s%N)
    vms+=("$(create_vm $((10 + i)))")
    times+=("$(ms "$start")")
done
all_ms=$(ms "$start_all")

# All reachable: the host gets an answer from every VM's kernel on its static IPv4 address (a TCP reset from a
# closed port is an answer; an unreachable VM times out).
reachable4=0
for i in $(seq 1 "$count"); do
    code=0
    curl -s --max-time 2 "http://10.$octet2.$octet3.$((10 + i)):9/" > /dev/null || code=$?
    [ "$code" -eq 7 ] && reachable4=$((reachable4 + 1))
done

# IPv6: each guest turns IPv6 on and runs dhclient -6 (in parallel), then the host reaches every reserved /128.
start=$(date +%s%N)
pids=()
for i in $(seq 1 "$count"); do
    vm=${vms[$((i - 1))]}
    printf '#!/bin/sh\ncase "$reason" in BOUND6|REBOOT6) ip -6 address replace "$new_ip6_address/128" dev "$interface";; esac\n' \
        > "$state/vms/$vm/root/var/vcap/bosh/dhclient-hook"
    chmod +x "$state/vms/$vm/root/var/vcap/bosh/dhclient-hook"
    runc --root "$state/runc" exec "$vm" /bin/sh -c '
        for key in all default eth0; do
            echo 0 > /proc/sys/net/ipv6/conf/$key/accept_dad
            echo 0 > /proc/sys/net/ipv6/conf/$key/router_solicitation_delay
            echo 0 > /proc/sys/net/ipv6/conf/$key/disable_ipv6
        done
        n=0; until ip -6 address show dev eth0 scope link | grep -v tentative | grep -q inet6; do sleep 0.01; n=$((n+1)); [ $n -gt 100 ] && { ip -6 address show dev eth0; ip link; cat /proc/sys/net/ipv6/conf/eth0/disable_ipv6; exit 1; }; done
        : > /var/lib/dhcp/dhclient6.conf
        dhclient -6 -1 -v -cf /var/lib/dhcp/dhclient6.conf -lf /var/lib/dhcp/dhclient6.leases \
            -pf /var/lib/dhcp/dhclient6.pid -sf /var/vcap/bosh/dhclient-hook eth0
        until ip -6 route show default | grep -q .; do sleep 0.01; done' > "$work/guest-$i.log" 2>&1 &
    pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
reachable6=0
for i in $(seq 1 "$count"); do
    code=0
    curl -s -g --max-time 2 "http://[$prefix6::$(printf '%x' $((10 + i)))]:9/" > /dev/null || code=$?
    [ "$code" -eq 7 ] && reachable6=$((reachable6 + 1))
done
ipv6_ms=$(ms "$start")
[ -z "${SKIFF_BENCH_KEEP:-}" ] || cp -r "$state/networks" "$state/vms" "$work/"

start=$(date +%s%N)
for vm in "${vms[@]}"; do delete_vm "$vm"; done
delete_all_ms=$(ms "$start")
start=$(date +%s%N)
delete_vm "$first"
last_delete_ms=$(ms "$start")

stats() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {printf "min %d ms, median %d ms, max %d ms", a[1], a[int((NR+1)/2)], a[NR]}'; }

echo "local cloud CPI benchmark ($(nproc) cores, release build, one skiff process per call)"
echo "create_vm, first on a new network (bridge + dnsmasq): $first_ms ms"
echo "create_vm on an existing network (5 runs):  $(stats "${single[@]}")"
echo "delete_vm (5 runs):                        $(stats "${deletes[@]}")"
echo "$count create_vm one after another:            $all_ms ms total; $(stats "${times[@]}")"
echo "reachable from the host over IPv4 at once:  $reachable4 / $count"
echo "guest dhclient -6 in all $count, then reachable over IPv6: $reachable6 / $count after $ipv6_ms ms"
echo "$count delete_vm one after another:            $delete_all_ms ms total"
echo "delete_vm of the network's last VM (dnsmasq and bridge removed): $last_delete_ms ms"
[ "$reachable4" -eq "$count" ] && [ "$reachable6" -eq "$count" ]
