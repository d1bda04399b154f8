#!/usr/bin/env bash
# 3D Tiles export speed: Kizashi vs py3dtiles 12.1.1 on the same synthetic LAS (EPSG:6677,
# `deformation` field), same run. Needs the py3dtiles venv (see ../shared/bench/README.md):
#   python3 -m venv /tmp/tiles/venv && /tmp/tiles/venv/bin/pip install "py3dtiles[las]==12.1.1" lazrs==0.8.2
# Usage: scripts/bench_tiles.sh [N_POINTS (5e6)]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cargo build --locked --quiet --bin kizashi
BIN="$CARGO_TARGET_DIR/debug/kizashi"
n=${1:-5e6}
work=${KIZASHI_BENCH_DIR:-/tmp/tiles}
mkdir -p "$work"
las="$work/syn_$n.las"
[ -s "$las" ] || /tmp/tiles/venv/bin/python ../shared/bench/tiles/make_las.py "$las" "$n"
best=""
for i in 1 2; do
  rm -rf "$work/kizashi_$n"
  s=$( { /usr/bin/time -f "%e %M" "$BIN" export tiles "$las" -o "$work/kizashi_$n" --attribute deformation >/dev/null; } 2>&1 | tail -1)
  echo "kizashi run $i: wall=${s% *}s maxrss=$(( ${s#* } / 1024 ))MiB"
  w=${s% *}; if [ -z "$best" ] || awk "BEGIN{exit !($w < $best)}"; then best=$w; fi
done
py=$(REPEAT=1 bash ../shared/bench/tiles/run_py3dtiles.sh "$las" "$work/py3dtiles_$n" 1.1 2>&1 | tail -1)
echo "$py"
pw=$(echo "$py" | sed -n 's/.*min_wall=\([0-9.]*\)s.*/\1/p')
echo "kizashi min wall ${best}s, py3dtiles ${pw}s: ratio $(awk "BEGIN{printf \"%.1f\", $pw / $best}")x"
