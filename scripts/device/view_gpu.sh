#!/bin/bash
# Viewer timings on the device machine (issue 15), run there from the repository root after
# scripts/device/bundle.sh here. The machine is bare: carry .gl (the Vulkan/GL loaders' .debs,
# /work/.library/device/README.md) and .dev (the bundle), e.g.
#   run(command="DEADLINE=240 timeout 470 bash scripts/device/view_gpu.sh", carry=[".gl", ".dev"], timeout_s=480)
# It generates the 10 M (and, time allowing, 100 M) synthetic survey there, times frames at
# 0.3 / 1 / 3 M drawn with GPU memory sampled by nvidia-smi, then opens LAS / LAZ / COPC with the
# overview, without, and COPC on demand, 3 rounds. At most 8 files come back from $OUT: the
# stats are packed into json.tgz. Everything printed also goes to $OUT/log.txt.
# LOCAL=1 N10=1000000 ROUNDS=1 DEADLINE=0: a dry run on this machine (lavapipe), ~35 s.
set -u
OUT=${OUT:-/tmp/gpuout}; mkdir -p $OUT
exec > >(tee $OUT/log.txt) 2>&1
DEADLINE=${DEADLINE:-420}   # seconds of this script after which optional parts are skipped
t0=$SECONDS
X=/tmp/x; rm -rf $X; mkdir -p $X; python3 -c 'import tarfile; tarfile.open(".dev/bundle.txz").extractall("/tmp/x")'
if [ -z "${LOCAL:-}" ]; then
  for f in .gl/*.deb; do dpkg -x $f /; done; ldconfig
  cp $X/bin/xkbcomp /usr/bin/; mkdir -p /usr/share/X11; rm -rf /usr/share/X11/xkb; cp -r $X/xkb /usr/share/X11/xkb
  ICD=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  [ -f $ICD ] || ICD=$(find / -name 'nvidia_icd*.json' -not -path '/proc/*' 2>/dev/null | head -1)
  echo "ICD: $ICD"; [ -n "$ICD" ] && cat $ICD
  export VK_DRIVER_FILES=$ICD VK_ICD_FILENAMES=$ICD
  export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
  nvidia-smi -L; nvidia-smi --query-gpu=driver_version,memory.used,memory.total --format=csv
  cat /etc/os-release | head -2; nproc; free -g | head -2
fi
L="env LD_LIBRARY_PATH=$X/lib"   # our libraries for our programs only, not python's
$L $X/bin/Xvfb :99 -screen 0 1280x800x24 -nolisten tcp >$OUT/xvfb.txt 2>&1 &
sleep 2; export DISPLAY=:99
K="$L $X/bin/kizashi"; S="$L $X/bin/synth_cloud"
XR=()
W=/tmp/w; mkdir -p $W
view() { # view NAME FILE ARGS...: one viewer run; prints its stats line and peak RSS
  local name=$1 f=$2; shift 2
  local st=$W/$name.json
  python3 -c 'import resource, subprocess, sys, time
t = time.time(); r = subprocess.run(sys.argv[2:], stdout=open(sys.argv[1], "w"), stderr=subprocess.STDOUT)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024, r.returncode, round(time.time() - t, 2))' $W/$name.err "${XR[@]}" $K view "$f" --lang en --stats $st "$@" > $W/$name.mem
  python3 - $st $name $W/$name.mem $W/$name.err <<'PY'
import json, sys
mem, rc, wall = open(sys.argv[3]).read().split()
try: d = json.load(open(sys.argv[1]))
except Exception as e:
    print(f"{sys.argv[2]:<28} rc {rc} NO STATS ({e}); log tail:"); print(open(sys.argv[4]).read()[-1500:]); sys.exit()
g = lambda k: f"{d[k]:.2f}" if isinstance(d.get(k), (int, float)) else "-"
print(f"{sys.argv[2]:<28} rc {rc} renderer {d.get('renderer')!r} sw {d.get('software_renderer')} window {g('window_s')} pipelines {g('pipelines_s')} "
      f"first {g('first_frame_s')} refined {g('refined_s')} drawn {d.get('points_drawn')} held {d.get('points_held')} "
      f"frame {g('frame_ms_mean')} ms (max {g('frame_ms_max')}) fps {g('fps')} gpuB/pt {g('gpu_bytes_per_point')} peak {mem} MB wall {wall} s")
PY
}
echo "== setup done at $((SECONDS-t0)) s"
$S $W/p1.las 1000000 >/dev/null
view probe $W/p1.las --frames 3
grep -i -m5 'error\|panic\|adapter' $W/probe.err
if ! grep -q -i 'nvidia' $W/probe.json 2>/dev/null && [ -z "${LOCAL:-}" ]; then
  echo "== no NVIDIA renderer with Vulkan/X11; trying WGPU_BACKEND=gl"; WGPU_BACKEND=gl view probe_gl $W/p1.las --frames 3
  grep -i -m5 'error\|panic\|adapter' $W/probe_gl.err
  if grep -q -i 'nvidia' $W/probe_gl.json 2>/dev/null; then export WGPU_BACKEND=gl; else echo "== no GPU renderer; stopping"; exit 0; fi
fi
echo "== generating 10 M at $((SECONDS-t0)) s"
N10=${N10:-10000000}; $S $W/v10.las $N10 >/dev/null & G=$!; $S $W/v10.laz $N10 >/dev/null; wait $G
$K export copc $W/v10.laz -o $W/v10.copc.laz >/dev/null
ls -la $W; echo "== data at $((SECONDS-t0)) s"
( while :; do nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits; sleep 0.2; done ) > $W/gpumem.txt 2>/dev/null &
SMI=$!
for b in 300000 1000000 3000000; do
  echo "mark $b $(date +%s.%N)" >> $W/marks.txt
  shot=(); [ $b = 1000000 ] && shot=(--screenshot $OUT/v10_b$b.png)
  view budget_$b $W/v10.las --budget $b --frames 10 "${shot[@]}"
  echo "end $b $(date +%s.%N)" >> $W/marks.txt
done
kill $SMI
python3 - $W/gpumem.txt <<'PY'
import sys
v = [int(x) for x in open(sys.argv[1]).read().split() if x.strip().isdigit()]
if v: print("GPU memory.used samples (MiB): min", min(v), "max", max(v), "n", len(v))
PY
for r in $(seq ${ROUNDS:-3}); do
  fs=(); [ $r = 1 ] && fs=(--first-screenshot $OUT/v10_first.png)
  view r${r}_las_ov $W/v10.las --frames 3 --overview-points 1048576 --cache-mb 1000000 "${fs[@]}"
  view r${r}_las_plain $W/v10.las --frames 3 --overview-points 0 --cache-mb 1000000
  view r${r}_laz_ov $W/v10.laz --frames 3 --overview-points 1048576 --cache-mb 1000000
  view r${r}_laz_plain $W/v10.laz --frames 3 --overview-points 0 --cache-mb 1000000
  view r${r}_copc_demand $W/v10.copc.laz --frames 3 --overview-points 1048576 --cache-mb 64
  view r${r}_copc_whole $W/v10.copc.laz --frames 3 --overview-points 1048576 --cache-mb 1000000
done
echo "== 10 M done at $((SECONDS-t0)) s"
if [ $((SECONDS-t0)) -lt $DEADLINE ]; then
  $S $W/v100.laz 10000000 1 5x2 >/dev/null; ls -la $W/v100.laz; echo "== 100 M LAZ made at $((SECONDS-t0)) s"
  view r1_laz100_ov $W/v100.laz --frames 3 --overview-points 1048576 --cache-mb 1000000 --first-screenshot $OUT/v100_first.png
  [ $((SECONDS-t0)) -lt $((DEADLINE+60)) ] && view r1_laz100_plain $W/v100.laz --frames 3 --overview-points 0 --cache-mb 1000000
fi
(cd $W && tar -czf $OUT/json.tgz *.json *.err gpumem.txt marks.txt 2>/dev/null)
echo "== end at $((SECONDS-t0)) s"
kill %1 2>/dev/null; pkill -f /tmp/x/bin/Xvfb
