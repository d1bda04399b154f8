#!/usr/bin/env bash
# Installs what is missing, then runs every test (unit and integration on ../shared data).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-debian.sh
. scripts/env.sh
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
set +e
cargo test --locked "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line with the totals over all test binaries.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "total: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
