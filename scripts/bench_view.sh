#!/usr/bin/env bash
# Viewer frame time and points drawn at 1 M and 20 M points (issue 4's benchmark; not a test).
# Renders under Xvfb with Mesa's software Vulkan (lavapipe) unless a display/GPU is given:
#   scripts/bench_view.sh                 # software renderer
#   KIZASHI_BENCH_NO_XVFB=1 scripts/bench_view.sh   # the current display (a real GPU)
# Sizes: KIZASHI_BENCH_SIZES ("1000000 20000000"); budgets: KIZASHI_BENCH_BUDGETS ("300000 1000000");
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
  for budget in ${KIZASHI_BENCH_BUDGETS:-300000 1000000}; do
    out="$WORK/view_${n}_b$budget.json"
    run=("$BIN" view "$f" --lang en --budget "$budget" --frames "$FRAMES" --stats "$out" --screenshot "$WORK/view_${n}_b$budget.png")
    if [ -n "${KIZASHI_BENCH_NO_XVFB:-}" ]; then "${run[@]}" 2>/dev/null; else xvfb-run -a -s '-screen 0 1280x800x24' "${run[@]}" 2>/dev/null; fi
    python3 - "$out" "$n" "$budget" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print(f"points {int(sys.argv[2]):>9,}  budget {int(sys.argv[3]):>9,}  drawn {d['points_drawn']:>9,}  "
      f"frame {d['frame_ms_mean']:8.1f} ms (max {d['frame_ms_max']:.1f})  fps {d['fps']:6.2f}  load {d['load_s']:.1f} s")
PY
  done
done
