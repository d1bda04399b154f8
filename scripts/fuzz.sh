#!/usr/bin/env bash
# Coverage-guided fuzzing on the stable toolchain (cargo-fuzz needs nightly): libFuzzer through
# libfuzzer-sys, with rustc's stable SanitizerCoverage flags.
#   scripts/fuzz.sh TARGET [SECONDS] [JOBS]     TARGET: las_reader | core_points_csv | job_file | all
# Corpora live in fuzz/corpus/TARGET (seeded from ../shared/data/las, the core-point CSVs of the
# tests and sample_data/site.toml); crashes land in fuzz/artifacts/TARGET. Exit 1 on a crash.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
target="${1:?target: las_reader | core_points_csv | job_file | all}"
secs="${2:-60}"
shared="${KIZASHI_SHARED:-../shared}"
if [ "$target" = all ]; then
  for t in las_reader core_points_csv job_file; do "$0" "$t" "$secs"; done
  exit 0
fi
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
  -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
  -Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing"
export CARGO_TARGET_DIR="$CARGO_TARGET_DIR/fuzz"
# An explicit --target keeps RUSTFLAGS off build scripts and proc macros (as cargo-fuzz does).
host="$(rustc -vV | sed -n 's/^host: //p')"
(cd fuzz && cargo build --release --quiet --target "$host" --bin "$target")
bin="$CARGO_TARGET_DIR/$host/release/$target"
corpus="fuzz/corpus/$target"
mkdir -p "$corpus" "fuzz/artifacts/$target"
if [ -z "$(ls -A "$corpus")" ]; then
  case "$target" in
    las_reader)
      # First byte picks the extension (even: .las, odd: .laz); small real files only.
      find "$shared/data/las" -type f \( -name '*.las' -o -name '*.laz' \) -size -400k | while read -r f; do
        h=$(sha1sum "$f" | cut -c1-16)
        case "$f" in *.laz) printf '\001' ;; *) printf '\000' ;; esac > "$corpus/$h"
        cat "$f" >> "$corpus/$h"
      done ;;
    core_points_csv)
      printf 'x,y,z\n1,2,3\n4.5,6,7e2\n' > "$corpus/plain"
      printf '//X Y Z Nx Ny Nz\n1 2 3 0 0 1\n' > "$corpus/cloudcompare"
      printf '"X";"Y";"Z";"nx";"ny";"nz"\n1;2;3;0;0;1\n' > "$corpus/quoted" ;;
    job_file)
      cp sample_data/site.toml "$corpus/site.toml"
      printf '[[epoch]]\npath = "a.laz"\n[[epoch]]\npath = "b.laz"\n[change]\nmethod = "c2c"\nmax_distance = 3\n[register]\nstable_box = [0, 0, 1, 1]\n' > "$corpus/c2c" ;;
  esac
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "fuzz: $target for $secs s (corpus $(ls "$corpus" | wc -l) files)"
RAYON_NUM_THREADS="${RAYON_NUM_THREADS:-1}" KIZASHI_FUZZ_TMP="$tmp" "$bin" "$corpus" -max_total_time="$secs" -timeout=20 -rss_limit_mb=4096 \
  -max_len=1048576 -artifact_prefix="fuzz/artifacts/$target/" -print_final_stats=1 2>&1 | tail -25
