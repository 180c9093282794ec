#!/usr/bin/env bash
# Renders every job of the real-release ERB corpus with `skiff render` and compares the bytes with what Ruby's ERB
# (with BOSH's EvaluationContext) produced: prints failures by category, the pass rate per release and overall.
# Usage: Benchmarks/erb-compat.sh [RELEASE_SUBSTRING...]
#   SKIFF=path/to/skiff      use this binary instead of building one (release build, .build-release)
#   ERB_CORPUS=dir           the corpus (default ../shared/compat/erb-real, else /work/shared/compat/erb-real)
# Target (issue 10): 100% (the corpus's README explains its layout and how the expected outputs were made).
set -euo pipefail
cd "$(dirname "$0")/.."
corpus="${ERB_CORPUS:-../shared/compat/erb-real}"
[ -f "$corpus/check.py" ] || corpus=/work/shared/compat/erb-real
if [ -z "${SKIFF:-}" ]; then
    swift build -c release --scratch-path .build-release --product skiff >&2
    SKIFF="$(swift build -c release --scratch-path .build-release --show-bin-path)/skiff"
fi
if [ "$#" -gt 0 ]; then
    exec python3 "$corpus/check.py" "$SKIFF" "$@"
fi
status=0
for release in "$corpus"/cases/*/; do
    name="$(basename "$release")"
    printf '%-45s %s\n' "$name" "$(python3 "$corpus/check.py" "$SKIFF" "$name" | tail -1)"
done
python3 "$corpus/check.py" "$SKIFF" || status=$?
exit "$status"
