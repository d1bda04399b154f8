# Sourced by the other scripts: one persistent build directory outside the clone, so CI runs
# and fresh clones on the same machine build incrementally (bevy is heavy on 2 cores).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/kizashi/target}"
mkdir -p "$CARGO_TARGET_DIR" 2>/dev/null || export CARGO_TARGET_DIR="$HOME/.cache/kizashi/target"
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
