#!/usr/bin/env bash
# Scale-out benchmark: M3C2 over NX x NY survey files per epoch (copies of the 10 M generator's
# epochs laid side by side, as a prefecture publishes tiles), untiled (`kizashi run`) against
# plan / run --jobs 2 / merge, in one run: wall times, peak memory per tile process, and the
# merged result compared core point by core point with the untiled one.
# Usage: scripts/bench_scaleout.sh [POINTS_PER_FILE=10M] [NX=5] [NY=2] [JOBS=2]
# KIZASHI_BIN overrides the binary (default: a release build without the GUI); the generator
# needs python3 with numpy, laspy and pyproj (the first two from scripts/setup-debian.sh; or
# set ANCHORS_PY to the anchors venv of ../shared/bench/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
SIZE="${1:-10M}"
NX="${2:-5}"
NY="${3:-2}"
JOBS="${4:-2}"
SHARED="${KIZASHI_SHARED:-../shared}"
if [ -z "${KIZASHI_BIN:-}" ]; then
  cargo build --release --locked --no-default-features --bin kizashi -q
  KIZASHI_BIN="$CARGO_TARGET_DIR/release/kizashi"
fi
K="$KIZASHI_BIN"
WORK="${TMPDIR:-/tmp}/kizashi-bench/scaleout-$SIZE-${NX}x$NY"
BASE="${TMPDIR:-/tmp}/kizashi-bench/syn$SIZE"
mkdir -p "$WORK/files"
[ -f "$BASE/epoch1.las" ] || "${ANCHORS_PY:-python3}" "$SHARED/bench/m3c2/gen_epochs.py" --n "$SIZE" --out "$BASE" >/dev/null
# NX x NY copies of each epoch, shifted by the scene's width: same bytes, header offsets and
# bounds moved (LAS 1.4 header: offsets at byte 155, bounds at 179..226).
python3 - "$BASE" "$WORK/files" "$NX" "$NY" <<'PY'
import os, struct, sys
base, out, nx, ny = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
for e in ("epoch1", "epoch2"):
    src = os.path.join(base, e + ".las")
    with open(src, "rb") as f:
        head = bytearray(f.read(375))
    off = list(struct.unpack_from("<3d", head, 155))
    maxx, minx, maxy, miny = struct.unpack_from("<4d", head, 179)
    w = max(maxx - minx, maxy - miny)
    step = round(w + 0.5)
    for i in range(nx):
        for j in range(ny):
            dst = os.path.join(out, f"{e}_{j}_{i}.las")
            if os.path.exists(dst):
                continue
            h = bytearray(head)
            struct.pack_into("<3d", h, 155, off[0] + i * step, off[1] + j * step, off[2])
            struct.pack_into("<4d", h, 179, maxx + i * step, minx + i * step, maxy + j * step, miny + j * step)
            tmp = dst + ".tmp"
            os.system(f"cp --reflink=auto '{src}' '{tmp}'")
            with open(tmp, "r+b") as f:
                f.write(h)
            os.replace(tmp, dst)
PY
cat > "$WORK/site.toml" <<EOF
[site]
name = "scale-out benchmark"
output = "whole"

[[epoch]]
path = "$WORK/files/epoch1_*.las"

[[epoch]]
path = "$WORK/files/epoch2_*.las"

[change]
method = "m3c2"
core_spacing = 1.0
cyl_radius = 1.0
normal_radii = [0.5, 1.0, 2.0]
max_distance = 3.0
csv = false
EOF
# NX x NY tiles: the files' union cut evenly (each tile meets its file and the halos of the
# files around it).
TILE=$(python3 - "$WORK/files" "$NX" "$NY" <<'PY'
import glob, math, struct, sys
lo, hi = [math.inf] * 2, [-math.inf] * 2
for f in glob.glob(sys.argv[1] + "/epoch1_*.las"):
    with open(f, "rb") as fh:
        maxx, minx, maxy, miny = struct.unpack_from("<4d", fh.read(227), 179)
    lo = [min(lo[0], minx), min(lo[1], miny)]
    hi = [max(hi[0], maxx), max(hi[1], maxy)]
print(math.ceil(max((hi[0] - lo[0]) / int(sys.argv[2]), (hi[1] - lo[1]) / int(sys.argv[3]))) + 1)
PY
)
rm -rf "$WORK/whole" "$WORK/plan" "$WORK/merged"
# t OUT CMD...: runs CMD with its stdout in OUT; prints "seconds peak_kb".
t() { local out="$1"; shift; /usr/bin/time -f '%e %M' -o "$WORK/time.txt" "$@" > "$out"; cat "$WORK/time.txt"; }
echo "untiled: kizashi run site.toml"
read -r W_S W_KB < <(t "$WORK/whole.json" "$K" run "$WORK/site.toml" --json)
echo "plan / run --jobs $JOBS / merge"
read -r P_S _ < <(t "$WORK/plan.json" "$K" plan "$WORK/site.toml" --tile-size "$TILE" -o "$WORK/plan" --json)
read -r R_S _ < <(t "$WORK/run.json" "$K" run "$WORK/plan" --jobs "$JOBS" --json)
read -r M_S M_KB < <(t "$WORK/merge.json" "$K" merge "$WORK/plan" -o "$WORK/merged" --json)
python3 - "$WORK" "$W_S" "$W_KB" "$P_S" "$R_S" "$M_S" "$M_KB" "$JOBS" <<'PY'
import json, sys
import laspy, numpy as np
work, w_s, w_kb, p_s, r_s, m_s, m_kb, jobs = sys.argv[1:]
w_s, p_s, r_s, m_s = map(float, (w_s, p_s, r_s, m_s))
run = json.load(open(f"{work}/run.json"))
plan = json.load(open(f"{work}/plan.json"))
peaks = [f["peak_rss_mb"] for f in run["figures"] if f.get("peak_rss_mb")]
secs = [f["seconds"] for f in run["figures"]]
def load(p):
    f = laspy.read(p)
    key = np.round(np.c_[f.x, f.y, f.z] * 1000).astype(np.int64)
    order = np.lexsort(key.T[::-1])
    return key[order], np.asarray(f.m3c2_distance)[order]
ka, da = load(f"{work}/whole/change.laz")
kb, db = load(f"{work}/merged/change.laz")
same = ka.shape == kb.shape and bool((ka == kb).all())
both = np.isfinite(da) & np.isfinite(db) if same else np.array([False])
maxdiff = float(np.abs(da[both] - db[both]).max()) if same else float("nan")
nan_same = bool((np.isnan(da) == np.isnan(db)).all()) if same else False
total = p_s + r_s + m_s
print(json.dumps({
    "tiles": len(plan["tiles"]), "halo_m": plan["halo"], "jobs": int(jobs),
    "untiled_s": w_s, "untiled_peak_mb": round(int(w_kb) / 1024),
    "plan_s": p_s, "run_s": r_s, "merge_s": m_s, "tiled_total_s": round(total, 2),
    "ratio_tiled_over_untiled": round(total / w_s, 3),
    "tile_peak_mb_max": round(max(peaks)) if peaks else None,
    "tile_seconds_max": round(max(secs), 2) if secs else None,
    "merge_peak_mb": round(int(m_kb) / 1024),
    "core_points": int(len(ka)), "same_core_points": same, "same_nan": nan_same,
    "max_abs_distance_diff_m": maxdiff,
}, indent=1))
PY
