#!/bin/bash
# Viewer timings on a real GPU, when the workplace lends a device machine (issue 15; dry-run here
# with LOCAL=1 only; its figures on a GPU are not measured yet). Packs
# into .dev/bundle.txz (ignored; carry it) what that bare machine lacks: our binaries, Xvfb + xkbcomp + XKB data, and the shared
# libraries they and winit (dlopen) need, minus glibc/libstdc++ (the device's are newer).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/env.sh
cargo build --locked --bin kizashi --example synth_cloud
mkdir -p .dev .git/info; grep -qx '/.dev/' .git/info/exclude 2>/dev/null || echo /.dev/ >> .git/info/exclude
T=$CARGO_TARGET_DIR/debug
B=/tmp/devbundle; rm -rf $B; mkdir -p $B/bin $B/lib
cp $T/kizashi $T/examples/synth_cloud $B/bin/; strip $B/bin/*
cp /usr/bin/Xvfb /usr/bin/xkbcomp $B/bin/
cp -r /usr/share/X11/xkb $B/xkb
# GDAL (and its ~150 MB of dependencies) is replaced by a stub: the viewer on a synthetic LAS
# never needs it, and the carry limit is 64 MiB. Every GDAL function returns 0 (null).
nm -D --defined-only /usr/lib/x86_64-linux-gnu/libgdal.so.32 | awk '{print $3}' | sort -u > $B/gdal.syms
nm -D --undefined-only $B/bin/kizashi $B/bin/synth_cloud | awk '{print $2}' | sed 's/@.*//' | sort -u \
  | comm -12 $B/gdal.syms - | awk '{print "long " $1 "(void) { return 0; }"}' > $B/stub.c
gcc -shared -fPIC -O1 -w -Wl,-soname,libgdal.so.32 -o $B/lib/libgdal.so.32 $B/stub.c; rm $B/gdal.syms $B/stub.c
objs=(/usr/bin/Xvfb /usr/bin/xkbcomp /usr/lib/x86_64-linux-gnu/libwayland-client.so.0)
for n in libX11.so.6 libX11-xcb.so.1 libXcursor.so.1 libXrandr.so.2 libXi.so.6 libxkbcommon.so.0 libxkbcommon-x11.so.0 libXext.so.6 libXrender.so.1 libXfixes.so.3 libxcb.so.1; do
  p=$(ldconfig -p | awk -v n="$n" '$1==n && /x86-64/ {print $NF; exit}'); [ -n "$p" ] && objs+=("$p") || echo "missing $n"
done
for o in "${objs[@]}"; do
  case $o in */lib/*) cp -L "$o" $B/lib/;; esac
  ldd "$o" | awk '/=> \//{print $3}'
done | sort -u | grep -v -E '/(libc|libm|libpthread|libdl|librt|ld-linux-x86-64|libgcc_s|libstdc\+\+|libresolv)\.so' | while read -r l; do cp -L "$l" $B/lib/; done
du -sh $B/bin $B/lib $B/xkb
tar -C $B -cf - . | xz -T2 -6 > $PWD/.dev/bundle.txz
ls -la $PWD/.dev/bundle.txz; rm -f $PWD/.dev/bundle.tgz
