#!/usr/bin/env bash
# Monitoring-series speed, Kizashi vs py4dgeo 1.2's SpatiotemporalAnalysis on the same files in
# the same run (interleaved rounds), and the memory of a long series (epochs streamed).
# Usage: scripts/bench_series.sh [ROUNDS] [long]
#   long: also generate a 50-epoch series of 1 M-point epochs and report kizashi's peak memory.
# Needs the anchors' venv (py4dgeo, laspy, pyproj); set ANCHORS_PY to its python.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
ROUNDS="${1:-3}"
PY="${ANCHORS_PY:-/tmp/anchors/bin/python}"
SHARED="${KIZASHI_SHARED:-../shared}"
if [ ! -x "$PY" ]; then
  python3 -m venv /tmp/anchors && /tmp/anchors/bin/pip install -q "py4dgeo==1.2.0" "laspy[lazrs]" pyproj
  PY=/tmp/anchors/bin/python
fi
# KIZASHI_BIN: an already built binary (else a release build without the viewer).
if [ -n "${KIZASHI_BIN:-}" ]; then K="$KIZASHI_BIN"; else
  cargo build --release --locked --no-default-features --bin kizashi -q
  K="$CARGO_TARGET_DIR/release/kizashi"
fi
S9="$SHARED/data/synthetic/series9"
WORK="${TMPDIR:-/tmp}/kizashi-bench/series"
mkdir -p "$WORK"
EPOCHS=("$S9"/epoch_{0..8}.laz)
PARAMS=(--core-step 10 --cyl-radius 1.0 --normal-radii 0.5,1,2 --max-distance 3.0)
OUT="$WORK/results.jsonl"
: > "$OUT"
for run in $(seq "$ROUNDS"); do
  # Whole commands, reading included, on both sides.
  /usr/bin/time -f '%e %M' -o "$WORK/k.time" "$K" series "${EPOCHS[@]}" "${PARAMS[@]}" -o "$WORK/series9.laz" --json > "$WORK/k.json"
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); e,m=open(sys.argv[2]).read().split(); print(json.dumps({"tool":"kizashi","wall_s":float(e),"maxrss_mb":int(m)/1024,"analysis_s":d["timings"]["total_s"]-d["timings"]["read_s"]-d["timings"]["write_s"]}))' "$WORK/k.json" "$WORK/k.time" >> "$OUT"
  /usr/bin/time -f '%e %M' -o "$WORK/p.time" "$PY" "$SHARED/bench/series/run_py4dgeo_series.py" "$S9" "$WORK/py4dgeo.csv" > "$WORK/p.json"
  python3 -c 'import json,sys; d=json.loads([l for l in open(sys.argv[1]) if l.startswith("{")][-1]); e,m=open(sys.argv[2]).read().split(); print(json.dumps({"tool":"py4dgeo","wall_s":float(e),"maxrss_mb":int(m)/1024,"analysis_s":d["seconds"]}))' "$WORK/p.json" "$WORK/p.time" >> "$OUT"
done
python3 - "$OUT" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
best = lambda tool, key: min(r[key] for r in rows if r["tool"] == tool)
for key, what in [("wall_s", "whole command (read + analysis + write)"), ("analysis_s", "analysis only (after reading)")]:
    k, p = best("kizashi", key), best("py4dgeo", key)
    print(f"series9 (9 epochs x 200 k points, 20 k cores), {what}: kizashi {k:.2f} s | py4dgeo SpatiotemporalAnalysis {p:.2f} s | {p/k:.1f}x")
print(f"peak memory: kizashi {max(r['maxrss_mb'] for r in rows if r['tool']=='kizashi'):.0f} MB, py4dgeo {max(r['maxrss_mb'] for r in rows if r['tool']=='py4dgeo'):.0f} MB")
PY
if [ "${2:-}" = "long" ]; then
  LONG="$WORK/long50"
  if [ ! -f "$LONG/epoch_49.laz" ]; then
    DATES=$(python3 -c 'import datetime as d; s=d.date(2020,1,15); print(",".join(str(s+d.timedelta(days=60*k)) for k in range(50)))')
    "$PY" "$SHARED/bench/series/gen_series.py" --n 1e6 --dates "$DATES" --onset 2024-06-01 --out "$LONG" >/dev/null
  fi
  for n in 10 50; do
    /usr/bin/time -f '%e %M' -o "$WORK/l.time" "$K" series $(for k in $(seq 0 $((n - 1))); do echo "$LONG/epoch_$k.laz"; done) -o "$WORK/long.laz" --json > "$WORK/l.json"
    read -r e m < "$WORK/l.time"
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); n, e, m = sys.argv[4], float(sys.argv[2]), int(sys.argv[3]) / 1024; print("%s epochs x 1 M points, %d cores: %.1f s, peak %.0f MB" % (n, d["core_points"], e, m))' "$WORK/l.json" "$e" "$m" "$n"
  done
fi
