#!/usr/bin/env bash
# M3C2 and C2C speed, Kizashi vs py4dgeo 1.2.0 (the reference implementation), same files,
# same run, same thread count. Usage: scripts/bench_m3c2.sh [100k|1M|10M] [THREADS]
# Needs the anchors' venv (see ../shared/bench/README.md); set ANCHORS_PY to its python.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
SIZE="${1:-1M}"
THREADS="${2:-2}"
PY="${ANCHORS_PY:-/tmp/anchors/bin/python}"
SHARED="${KIZASHI_SHARED:-../shared}"
if [ ! -x "$PY" ]; then
  python3 -m venv /tmp/anchors && /tmp/anchors/bin/pip install -q -r "$SHARED/bench/m3c2/requirements.txt"
  PY=/tmp/anchors/bin/python
fi
cargo build --release --locked --no-default-features --bin kizashi -q
K="$CARGO_TARGET_DIR/release/kizashi"
WORK="${TMPDIR:-/tmp}/kizashi-bench/syn$SIZE"
[ -f "$WORK/epoch1.las" ] || "$PY" "$SHARED/bench/m3c2/gen_epochs.py" --n "$SIZE" --out "$WORK" >/dev/null
PARAMS=(--core-step 10 --cyl-radius 1.0 --normal-radii 0.5,1,2 --max-distance 3.0)
OUT="$WORK/results.jsonl"
: > "$OUT"
for run in 1 2; do
  /usr/bin/time -f '{"maxrss_kb":%M}' -o "$WORK/rss.json" "$K" change "$WORK/epoch1.las" "$WORK/epoch2.las" "${PARAMS[@]}" --threads "$THREADS" --json \
    | python3 -c 'import json,sys; d=json.load(sys.stdin); r=json.load(open(sys.argv[1])); print(json.dumps({"tool":"kizashi","m3c2_s":d["timings"]["m3c2_s"],"timings":d["timings"],"maxrss_mb":r["maxrss_kb"]/1024}))' "$WORK/rss.json" >> "$OUT"
  "$K" change "$WORK/epoch1.las" "$WORK/epoch2.las" --method c2c --core-step 1 --max-distance 1e9 --threads "$THREADS" --json \
    | python3 -c 'import json,sys; d=json.load(sys.stdin); print(json.dumps({"tool":"kizashi_c2c","c2c_s":d["timings"]["index_s"]+d["timings"]["distances_s"]}))' >> "$OUT"
  "$PY" "$SHARED/bench/m3c2/run_py4dgeo.py" "$WORK/epoch1.las" "$WORK/epoch2.las" --threads "$THREADS" --sort --tag sorted >> "$OUT"
  "$PY" "$SHARED/bench/m3c2/run_py4dgeo.py" "$WORK/epoch1.las" "$WORK/epoch2.las" --threads "$THREADS" --tag random >> "$OUT"
done
python3 - "$OUT" "$SIZE" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
best = lambda tool, key, tag=None: min(r[key] for r in rows if r.get("tool") == tool and (tag is None or r.get("tag") == tag))
k = best("kizashi", "m3c2_s"); s = best("py4dgeo", "m3c2_s", "sorted"); r = best("py4dgeo", "m3c2_s", "random")
mem = max(x["maxrss_mb"] for x in rows if x.get("tool") == "kizashi")
print(f"{sys.argv[2]} points/epoch: kizashi M3C2 {k:.3f} s (peak {mem:.0f} MB) | py4dgeo sorted {s:.3f} s ({s/k:.1f}x) | py4dgeo file order {r:.3f} s ({r/k:.1f}x)")
c = best("kizashi_c2c", "c2c_s")
print(f"{sys.argv[2]} points/epoch: kizashi C2C all points {c:.3f} s (CloudCompare: see ../shared/bench/m3c2/run_cloudcompare.sh)")
PY
