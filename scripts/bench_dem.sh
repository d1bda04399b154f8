#!/usr/bin/env bash
# DEM co-registration speed and agreement, Kizashi vs xDEM 0.2.3 (../shared/bench/dem/run_xdem.py)
# on the Toronto DTMs in the same run, interleaved rounds: Nuth & Kääb on |dh| < 1 m.
# Usage: scripts/bench_dem.sh [ROUNDS]   (xDEM from the venv scripts/setup-debian.sh makes)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
ROUNDS="${1:-3}"
PY="${KIZASHI_XDEM_VENV:-/var/cache/kizashi/xdem-venv}/bin/python"
SHARED="${KIZASHI_SHARED:-../shared}"
if [ -n "${KIZASHI_BIN:-}" ]; then K="$KIZASHI_BIN"; else
  cargo build --release --locked --no-default-features --bin kizashi -q
  K="$CARGO_TARGET_DIR/release/kizashi"
fi
D="$SHARED/data/epochs/ttp"
WORK="${TMPDIR:-/tmp}/kizashi-bench/dem"
mkdir -p "$WORK"
OUT="$WORK/results.jsonl"
: > "$OUT"
for run in $(seq "$ROUNDS"); do
  /usr/bin/time -f '%e %M' -o "$WORK/k.time" "$K" dod "$D/ttp_dtm_2015.tif" "$D/ttp_dtm_2023.tif" \
    -o "$WORK/dod.tif" --coregister --stable-dh 1 --json > "$WORK/k.json"
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); e,m=open(sys.argv[2]).read().split(); c=d["coregistration"]; print(json.dumps({"tool":"kizashi","wall_s":float(e),"maxrss_mb":int(m)/1024,"shift":c["shift"],"nmad_after":c["nmad_after"]}))' "$WORK/k.json" "$WORK/k.time" >> "$OUT"
  /usr/bin/time -f '%e %M' -o "$WORK/x.time" "$PY" "$SHARED/bench/dem/run_xdem.py" > "$WORK/x.json"
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); e,m=open(sys.argv[2]).read().split(); n=d["nuth_kaab"]["stable_cells"]; print(json.dumps({"tool":"xdem","wall_s":float(e),"maxrss_mb":int(m)/1024,"work_s":d["timings_s"]["total_wall_excl_import"],"fit_s":n["fit_s"],"shift":[n["shift_x_m"],n["shift_y_m"],n["shift_z_m"]],"nmad_after":n["dod_after_on_stable"]["nmad"]}))' "$WORK/x.json" "$WORK/x.time" >> "$OUT"
done
python3 - "$OUT" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
k = [r for r in rows if r["tool"] == "kizashi"]
x = [r for r in rows if r["tool"] == "xdem"]
kb, xb = min(r["wall_s"] for r in k), min(r["wall_s"] for r in x)
xw = min(r["work_s"] for r in x)
print(f"whole command: kizashi {kb:.2f} s, xDEM {xb:.2f} s (import included) -> {xb / kb:.1f}x")
print(f"xDEM without its import: {xw:.2f} s (plain DoD + 2 fits + applies) -> {xw / kb:.1f}x")
print(f"peak memory: kizashi {max(r['maxrss_mb'] for r in k):.0f} MB, xDEM {max(r['maxrss_mb'] for r in x):.0f} MB")
print("shift kizashi", [round(v, 4) for v in k[-1]["shift"]], "xDEM", [round(v, 4) for v in x[-1]["shift"]])
print(f"NMAD after: kizashi {k[-1]['nmad_after']:.5f} m, xDEM {x[-1]['nmad_after']:.5f} m")
PY
