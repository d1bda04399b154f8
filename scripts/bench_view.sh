#!/usr/bin/env bash
# Viewer frame time and points drawn at 1 M and 20 M points (issue 4), then opening large files
# with and without the overview (issue 15; below). A benchmark, not a test.
# Renders under Xvfb with Mesa's software Vulkan (lavapipe) unless a display/GPU is given:
#   scripts/bench_view.sh                 # software renderer
#   KIZASHI_BENCH_NO_XVFB=1 scripts/bench_view.sh   # the current display (a real GPU)
# Sizes: KIZASHI_BENCH_SIZES ("1000000 20000000"); budgets: KIZASHI_BENCH_BUDGETS ("300000 1000000 3000000");
# frames timed: KIZASHI_BENCH_FRAMES (10).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cargo build --locked --bin kizashi --example synth_cloud
BIN="$CARGO_TARGET_DIR/debug/kizashi"
SYN="$CARGO_TARGET_DIR/debug/examples/synth_cloud"
WORK="${KIZASHI_BENCH_DIR:-/tmp/kizashi-bench-view}"
mkdir -p "$WORK"
FRAMES="${KIZASHI_BENCH_FRAMES:-10}"
for n in ${KIZASHI_BENCH_SIZES:-1000000 20000000}; do
  f="$WORK/view_$n.laz"
  [ -s "$f" ] || "$SYN" "$f" "$n"
  for budget in ${KIZASHI_BENCH_BUDGETS:-300000 1000000 3000000}; do
    out="$WORK/view_${n}_b$budget.json"
    run=("$BIN" view "$f" --lang en --budget "$budget" --frames "$FRAMES" --stats "$out" --screenshot "$WORK/view_${n}_b$budget.png")
    if [ -n "${KIZASHI_BENCH_NO_XVFB:-}" ]; then "${run[@]}" 2>/dev/null; else xvfb-run -a -s '-screen 0 1280x800x24' "${run[@]}" 2>/dev/null; fi
    python3 - "$out" "$n" "$budget" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print(f"points {int(sys.argv[2]):>9,}  budget {int(sys.argv[3]):>9,}  drawn {d['points_drawn']:>9,}  "
      f"frame {d['frame_ms_mean']:8.1f} ms (max {d['frame_ms_max']:.1f})  fps {d['fps']:6.2f}  load {d['load_s']:.1f} s  "
      f"GPU {d['gpu_bytes_per_point']:.1f} B/point held ({d['points_held']:,} held)")
PY
  done
done

# Opening large files (issue 15): time to the first frame with points (the overview), time until
# the view is fully refined (every point read, every wanted node drawn), peak memory; LAS, LAZ
# and COPC (from our exporter) of the same survey, each opened with the overview and without it
# (--overview-points 0: every point read first, as before), interleaved over rounds; the COPC
# also read on demand (node cache of KIZASHI_BENCH_CACHE_MB, 64: smaller than the file, so only
# the nodes the view wants are read; the other runs get a cache larger than any file: read whole).
# Sizes: KIZASHI_BENCH_OPEN_SIZES ("10000000"; 100 M needs ~8 GB of disk and ~20 min to make);
# rounds: KIZASHI_BENCH_ROUNDS (2). KIZASHI_BENCH_OPEN=0 skips this part.
[ "${KIZASHI_BENCH_OPEN:-1}" = "0" ] && exit 0
ROUNDS="${KIZASHI_BENCH_ROUNDS:-2}"
peak() { # runs "$@"; prints the child's peak resident memory in MB on fd 3
  python3 -c 'import resource, subprocess, sys
r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024, r.returncode)' "$@"
}
for n in ${KIZASHI_BENCH_OPEN_SIZES:-10000000}; do
  laz="$WORK/view_$n.laz"; las="$WORK/view_$n.las"; copc="$WORK/view_$n.copc.laz"
  [ -s "$laz" ] || "$SYN" "$laz" "$n"
  [ -s "$las" ] || "$SYN" "$las" "$n"
  [ -s "$copc" ] || "$BIN" export copc "$laz" -o "$copc" >/dev/null
  for round in $(seq "$ROUNDS"); do
    for f in "$las" "$laz" "$copc"; do
      modes="1048576 0"; [ "$f" = "$copc" ] && modes="1048576 0 demand"
      for ov in $modes; do
        out="$WORK/open_$(basename "$f")_$ov.json"
        if [ "$ov" = demand ]; then opts=(--overview-points 1048576 --cache-mb "${KIZASHI_BENCH_CACHE_MB:-64}")
        else opts=(--overview-points "$ov" --cache-mb 1000000); fi
        run=("$BIN" view "$f" --lang en --frames 3 "${opts[@]}" --stats "$out")
        if [ -n "${KIZASHI_BENCH_NO_XVFB:-}" ]; then mem=$(peak "${run[@]}")
        else mem=$(peak xvfb-run -a -s '-screen 0 1280x800x24' "${run[@]}"); fi
        python3 - "$out" "$f" "$ov" "$mem" "$round" <<'PY'
import json, os, sys
d = json.load(open(sys.argv[1]))
mem, rc = sys.argv[4].split()
f = lambda k: f"{d[k]:6.2f}" if d.get(k) is not None else "     -"
mode = {"0": "off      ", "demand": "on demand"}.get(sys.argv[3], "on       ")
print(f"round {sys.argv[5]}  {os.path.basename(sys.argv[2]):>24}  overview {mode}  "
      f"window {f('window_s')} s  pipelines {f('pipelines_s')} s  first frame {f('first_frame_s')} s  refined {f('refined_s')} s  "
      f"peak {int(mem):>6} MB  frame {d['frame_ms_mean']:7.1f} ms  rc {rc}")
PY
      done
    done
  done
done
