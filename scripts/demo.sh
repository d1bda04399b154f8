#!/usr/bin/env bash
# Installs what is missing, then runs the main job on the bundled sample survey: change
# detection (CLI, writes out/demo/), DEM of difference and the deformation report
# (out/demo/report.pdf), then the viewer on the same epochs with the result. With a
# display the viewer opens; without one it renders under Xvfb (software Vulkan) and saves
# out/demo/viewer.png.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-debian.sh
. scripts/env.sh
cargo build --locked --quiet
bin="$CARGO_TARGET_DIR/debug/kizashi"
"$bin" demo "$@"
# The exports of the same run: DEM of difference with its change objects, and the report.
"$bin" dod sample_data/epoch1_2025.laz sample_data/epoch2_2026.laz --cell 2 --ground \
  -o out/demo/dod.tif --objects out/demo/dod_objects.geojson --min-area 8
report_out=out/demo/report.pdf
command -v chromium >/dev/null || report_out=out/demo/report.html
"$bin" report out/demo/m3c2.laz --dod out/demo/dod.tif --ortho sample_data/ortho_2026.tif \
  --lang ja --title "サンプル地区（山口）" -o "$report_out"
files=(sample_data/epoch1_2025.laz sample_data/epoch2_2026.laz sample_data/ortho_2026.tif sample_data/dtm_2025.tif)
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  "$bin" view "${files[@]}" --change m3c2
else
  xvfb-run -a -s '-screen 0 1280x800x24' "$bin" view "${files[@]}" --change m3c2 \
    --screenshot out/demo/viewer.png --stats out/demo/viewer.json 2>/dev/null
  echo "viewer (no display): rendered under Xvfb to out/demo/viewer.png"
fi
