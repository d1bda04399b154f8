#!/usr/bin/env bash
# Reading speed, Kizashi vs laspy + lazrs (parallel backend), same files, same run, 2 threads.
# Usage: scripts/bench_read.sh [N_POINTS_FOR_THE_GENERATED_FILE]   (default 5000000)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
N="${1:-5000000}"
export RAYON_NUM_THREADS="${RAYON_NUM_THREADS:-2}"
cargo build --release --locked --no-default-features --example read_bench -q
B="$CARGO_TARGET_DIR/release/examples/read_bench"
WORK="${TMPDIR:-/tmp}/kizashi-bench"
mkdir -p "$WORK"
[ -f "$WORK/epoch_$N.laz" ] || "$B" make "$N" "$WORK/epoch_$N.laz" >/dev/null
SHARED="${KIZASHI_SHARED:-../shared}"
FILES=("$WORK/epoch_$N.laz" "$SHARED/data/las/pdal/las_with_several_extra_byte_bloc.laz" "$SHARED/data/epochs/ttp/ttp_2015.laz" "$SHARED/data/las/pdal/autzen_trim_7.las")
OUT="$WORK/results.jsonl"
: > "$OUT"
for f in "${FILES[@]}"; do
  "$B" read "$f" 3 >> "$OUT"
  python3 bench/read_laspy.py "$f" 3 >> "$OUT"
done
python3 - "$OUT" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
by = {}
for r in rows:
    by.setdefault((r["file"], r["fields"]), {})[r["tool"]] = r
print(f"{'file':58} {'fields':10} {'points':>9} {'kizashi pts/s':>14} {'laspy pts/s':>12} {'ratio':>6}")
for (f, fields), t in by.items():
    k, l = t.get("kizashi"), t.get("laspy+lazrs")
    if k and l:
        print(f"{f[-58:]:58} {fields:10} {k['points']:>9} {k['points_per_s']:>14,} {l['points_per_s']:>12,} {k['points_per_s']/l['points_per_s']:>6.2f}")
full = {f: t for (f, fields), t in by.items() if fields == "all_fields"}
pos = {f: t for (f, fields), t in by.items() if fields == "positions"}
for f in full:
    if f in pos:
        print(f"{f[-58:]:58} positions vs laspy's default full read: {pos[f]['kizashi']['points_per_s']/full[f]['laspy+lazrs']['points_per_s']:.2f}x")
PY
