#!/bin/sh
# Builds the skiff local cloud stemcell: a tarball of stemcell.MF and image (a tarball of image/).
# Usage: stemcells/local/build.sh [OUTPUT]   (default: bosh-stemcell-skiff-local.tgz in the current directory)
set -eu
source=$(cd "$(dirname "$0")" && pwd)
output=${1:-bosh-stemcell-skiff-local.tgz}
case $output in /*) ;; *) output="$(pwd)/$output" ;; esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$source/stemcell.MF" "$work/stemcell.MF"
tar --owner=0 --group=0 -czf "$work/image" -C "$source/image" .
tar --owner=0 --group=0 -czf "$output" -C "$work" stemcell.MF image
echo "$output"
