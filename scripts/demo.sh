#!/usr/bin/env bash
# Installs what is missing, then runs the main job on the bundled sample survey.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-debian.sh
. scripts/env.sh
cargo run --locked --quiet -- demo "$@"
