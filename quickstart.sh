#!/usr/bin/env bash
# Sets skiff up on a fresh Debian machine and runs its main job. Run as root from the repository root.
set -euo pipefail
cd "$(dirname "$0")"

if [ "$(id -u)" -ne 0 ]; then
    echo "skiff: quickstart needs root (network namespaces, bridges and dnsmasq need CAP_NET_ADMIN)" >&2
    exit 1
fi
export PATH="/opt/swift/usr/bin:$PATH"

scripts/install-deps.sh
swift build -c release --product skiff 2>&1 | tail -n 1
skiff=.build/release/skiff

# The main job: until create-env lands, show the address toolkit on the 2016 deployment's network.
echo "skiff: the /64 subnets of the 2016 VPC block, and the addresses AWS reserves in the first one:"
"$skiff" ip subnets 2600:1f16:a62:5c00::/56 --length 64 --count 2
"$skiff" ip reserved 2600:1f16:a62:5c00::/64 --cloud aws
