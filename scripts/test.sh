#!/usr/bin/env bash
# Installs what is missing, then runs every test (unit, integration on ../shared data, doc).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-debian.sh
. scripts/env.sh
cargo test --locked "$@"
