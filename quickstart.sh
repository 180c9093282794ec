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

# The local cloud's stemcell: Debian bookworm with skiff's agent, built once (a minute or two) and cached.
"$skiff" stemcell build >/dev/null

# The main job: the 2016 IPv6 nginx deployment, on the local IPv6 cloud. It ends by printing the URL.
"$skiff" create-env examples/nginx-ipv6/local.yml
