#!/usr/bin/env bash
# Installs the Debian packages Kizashi needs to build, run and test, and the Python
# reference readers used by tests (laspy + lazrs). Idempotent: only what is missing.
set -euo pipefail

PKGS=(
  pkg-config gcc g++ mold
  libgdal-dev gdal-bin            # GDAL + PROJ (gdal crate links against them), gdalinfo for tests
  libx11-dev libxkbcommon-dev libwayland-dev libxcursor1 libxrandr2 libxi6
  libvulkan1 mesa-vulkan-drivers xvfb xauth
  fonts-noto-cjk
  python3-pip python3-venv         # the xDEM anchor runs in its own venv
  chromium                        # headless CesiumJS check of the 3D Tiles export; report PDF
  poppler-utils                   # pdftotext/pdftoppm: tests reopen the report PDF
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: Debian packages already present"
fi

# Reference reader for round-trip tests (the field's Python LAS stack).
PY=python3
if ! $PY -c 'import laspy, lazrs, numpy' 2>/dev/null; then
  echo "setup: installing laspy[lazrs] numpy"
  $PY -m pip install -q "laspy[lazrs]>=2.5" numpy || \
    $PY -m pip install -q --break-system-packages "laspy[lazrs]>=2.5" numpy
fi

# Dask distributed: the scale-out tests run tile jobs on a LocalCluster (scripts/dask_run.py).
if ! $PY -c 'import dask.distributed' 2>/dev/null; then
  echo "setup: installing dask[distributed]"
  $PY -m pip install -q "dask[distributed]>=2024.1" || \
    $PY -m pip install -q --break-system-packages "dask[distributed]>=2024.1"
fi

# pyproj + japan-geoid (the geoid crate's Python twin): independent heights for the geoid and
# height-system tests.
if ! $PY -c 'import pyproj, japan_geoid' 2>/dev/null; then
  echo "setup: installing pyproj japan-geoid"
  $PY -m pip install -q "pyproj>=3.6" "japan-geoid>=0.6" || \
    $PY -m pip install -q --break-system-packages "pyproj>=3.6" "japan-geoid>=0.6"
fi

# CSF (cloth simulation filter), the ground classification anchor (../shared/bench/ground).
if ! $PY -c 'import CSF' 2>/dev/null; then
  echo "setup: installing cloth-simulation-filter"
  $PY -m pip install -q "cloth-simulation-filter==1.1.7" || \
    $PY -m pip install -q --break-system-packages "cloth-simulation-filter==1.1.7"
fi

# copclib (the reference C++ COPC library): an independent reader for the COPC export tests.
if ! $PY -c 'import copclib' 2>/dev/null; then
  echo "setup: installing copclib"
  $PY -m pip install -q "copclib==2.6.3" || \
    $PY -m pip install -q --break-system-packages "copclib==2.6.3"
fi

# xDEM 0.2.3 (the DEM co-registration anchor, ../shared/bench/dem/run_xdem.py) in its own venv:
# its rasterio/geopandas stack stays apart from the system Python.
XDEM_VENV="${KIZASHI_XDEM_VENV:-/var/cache/kizashi/xdem-venv}"
if ! "$XDEM_VENV/bin/python" -c 'import xdem' 2>/dev/null; then
  echo "setup: installing xdem==0.2.3 into $XDEM_VENV"
  mkdir -p "$(dirname "$XDEM_VENV")"
  $PY -m venv "$XDEM_VENV"
  "$XDEM_VENV/bin/pip" install -q "xdem==0.2.3"
fi

# Khronos glTF-Validator (npm) for the 3D Tiles tests; node from Debian when there is none.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "setup: installing nodejs npm"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends nodejs npm
fi
NODE_DIR="${KIZASHI_NODE_DIR:-/var/cache/kizashi/node}"
if [ ! -f "$NODE_DIR/node_modules/gltf-validator/package.json" ] || [ ! -f "$NODE_DIR/node_modules/cesium/package.json" ] \
   || [ ! -f "$NODE_DIR/node_modules/playwright-core/package.json" ] \
   || [ ! -f "$NODE_DIR/node_modules/copc/package.json" ]; then
  echo "setup: installing gltf-validator, cesium, playwright-core, copc into $NODE_DIR"
  mkdir -p "$NODE_DIR"
  (cd "$NODE_DIR" && npm install --silent --no-audit --no-fund gltf-validator@2.0.0-dev.3.10 cesium@1.145.0 playwright-core@1.65.1 copc@0.0.8)
fi

# Rust toolchain: use the one on PATH (rustup-managed on our machines).
if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then export PATH="$HOME/.cargo/bin:$PATH"; else
    echo "setup: cargo not found; install Rust (rustup) first" >&2; exit 1; fi
fi
echo "setup: done"
