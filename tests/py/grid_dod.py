#!/usr/bin/env python3
"""Independent DEM of difference for tests/dod.rs: laspy reads both epochs, numpy grids the
mean height per cell on the grid given (x0 = west edge, y0 = north edge, cell, width, height),
and the difference (epoch 2 - epoch 1, NaN where a cell lacks either epoch) is written as raw
little-endian float32, row-major from the north-west corner.

usage: grid_dod.py E1.laz E2.laz X0 Y0 CELL WIDTH HEIGHT OUT.f32
"""
import sys

import laspy
import numpy as np


def mean_grid(path, x0, y0, cell, w, h):
    las = laspy.read(path)
    x, y, z = np.asarray(las.x), np.asarray(las.y), np.asarray(las.z)
    col = np.floor((x - x0) / cell).astype(np.int64)
    row = np.floor((y0 - y) / cell).astype(np.int64)
    ok = (col >= 0) & (col < w) & (row >= 0) & (row < h)
    idx = row[ok] * w + col[ok]
    s = np.bincount(idx, weights=z[ok], minlength=w * h)
    n = np.bincount(idx, minlength=w * h)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, s / n, np.nan)


e1, e2, x0, y0, cell, w, h, out = sys.argv[1:9]
x0, y0, cell, w, h = float(x0), float(y0), float(cell), int(w), int(h)
d = mean_grid(e2, x0, y0, cell, w, h) - mean_grid(e1, x0, y0, cell, w, h)
d.astype("<f4").tofile(out)
print(int(np.isfinite(d).sum()))
