#!/usr/bin/env bash
# Installs what skiff and its tests need on a fresh Debian machine. Idempotent; needs root.
set -euo pipefail

# runc runs local VMs; mmdebstrap builds their stemcell from Debian packages; strip (binutils) slims the agent in it.
apt_packages=(iproute2 dnsmasq-base curl procps util-linux runc mmdebstrap binutils)
pip_packages=("moto[server]==5.2.1" boto3 botocore)

missing=()
for pkg in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    echo "skiff: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! python3 -c 'import moto, botocore' 2>/dev/null; then
    echo "skiff: installing ${pip_packages[*]} with pip"
    python3 -m pip install -q "${pip_packages[@]}"
fi
