#!/usr/bin/env bash
# Ground classification, Kizashi (SMRF) vs CSF (cloth-simulation-filter 1.1.7, its best global
# setting: cloth 1.0, rigidness 1, slope smoothing) on the ISPRS samples in ../shared/data/ground
# (or the files given), interleaved rounds: mean total error, kappa, seconds (classification
# only on both sides), and a 10 M-point synthetic cloud for Kizashi.
# Usage: scripts/bench_ground.sh [ROUNDS] [FILES...]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
ROUNDS="${1:-3}"; shift || true
SHARED="${KIZASHI_SHARED:-../shared}"
FILES=("$@"); [ ${#FILES[@]} -gt 0 ] || FILES=("$SHARED"/data/ground/*.laz)
cargo build --release --locked --no-default-features --example ground_scores -q
E="$CARGO_TARGET_DIR/release/examples/ground_scores"
for run in $(seq "$ROUNDS"); do
  echo "round $run"
  "$E" "${FILES[@]}" | tail -1 | sed 's/^/  kizashi: /'
  python3 "$SHARED/bench/ground/run_csf.py" "${FILES[@]}" --cloth 1.0 --rigidness 1 --slope-smooth | tail -1 | sed 's/^/  CSF: /'
done
