"""laspy + lazrs reading speed on the same file as examples/read_bench.rs.

usage: read_laspy.py FILE [REPEAT]; prints one JSON line with the best time.
laspy decodes to numpy arrays; touching x/y/z applies scale and offset, as Kizashi does when
it converts to its in-memory cloud, so both sides do equivalent work.
"""
import json
import sys
import time

import laspy


def main():
    path = sys.argv[1]
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    backend = laspy.LazBackend.LazrsParallel
    sel = laspy.DecompressionSelection
    for name, selection in [("all_fields", sel.all()), ("positions", sel.XY_RETURNS_CHANNEL | sel.Z)]:
        best = float("inf")
        n = 0
        for _ in range(repeat):
            t = time.perf_counter()
            las = laspy.read(path, laz_backend=backend, decompression_selection=selection)
            _ = (las.x.scaled_array(), las.y.scaled_array(), las.z.scaled_array())
            best = min(best, time.perf_counter() - t)
            n = len(las.points)
        print(json.dumps({"tool": "laspy+lazrs", "fields": name, "backend": str(backend), "file": path, "points": n, "best_s": round(best, 4), "points_per_s": round(n / best)}))


if __name__ == "__main__":
    main()
