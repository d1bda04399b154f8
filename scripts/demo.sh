#!/usr/bin/env bash
# Installs what is missing, then runs the main job on the bundled sample survey: the job file
# sample_data/site.toml (change detection, DEM of difference, change objects, the deformation
# report out/site/report.pdf, 3D Tiles), then the viewer on the same epochs. With a display
# the viewer opens; without one it renders under Xvfb (software Vulkan) and saves
# out/demo/viewer.png.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-debian.sh
. scripts/env.sh
cargo build --locked --quiet
bin="$CARGO_TARGET_DIR/debug/kizashi"
# The main job: the sample site's job file (M3C2, DoD + objects, change objects, report, 3D
# Tiles into out/site/). A second run skips every step whose inputs did not change.
[ -f sample_data/site.toml ] || "$bin" demo --generate
"$bin" run sample_data/site.toml "$@"
mkdir -p out/demo
files=(sample_data/epoch1_2025.laz sample_data/epoch2_2026.laz sample_data/ortho_2026.tif sample_data/dtm_2025.tif)
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  "$bin" view "${files[@]}" --change m3c2
else
  xvfb-run -a -s '-screen 0 1280x800x24' "$bin" view "${files[@]}" --change m3c2 \
    --screenshot out/demo/viewer.png --stats out/demo/viewer.json 2>/dev/null
  echo "viewer (no display): rendered under Xvfb to out/demo/viewer.png"
fi
