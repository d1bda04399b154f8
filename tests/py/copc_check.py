"""A COPC file against its source, by independent readers: copclib (the reference C++
library) reads the hierarchy and every node, laspy the source. Prints one JSON line.

usage: copc_check.py SOURCE.las|laz OUT.copc.laz [COPCJS.json]
(the third: what tests/js/copc_read.js printed for OUT, checked the same way).
Every point of the source must be in the COPC file once, with the same integer coordinates
(same scale and offset) and the same attributes; every node's points inside its cube.
"""
import json
import sys

import copclib
import laspy
import numpy as np

src, out = sys.argv[1], sys.argv[2]
s = laspy.read(src)
r = copclib.FileReader(out)
h = r.copc_config.las_header
info = r.copc_config.copc_info
nodes = r.GetAllNodes()
assert sum(n.point_count for n in nodes) == h.point_count == len(s.x), "point counts"
v3 = lambda v: np.array([v.x, v.y, v.z])
scale, offset = v3(h.scale), v3(h.offset)
assert np.allclose(scale, s.header.scales) and np.allclose(offset, s.header.offsets)
keys = {(n.key.d, n.key.x, n.key.y, n.key.z) for n in nodes}
for (d, x, y, z) in keys:  # every node's parent is in the hierarchy
    assert d == 0 or (d - 1, x // 2, y // 2, z // 2) in keys, (d, x, y, z)

names = ["intensity", "return_number", "number_of_returns", "classification", "user_data",
         "point_source_id", "synthetic", "key_point", "withheld", "scan_direction_flag",
         "edge_of_flight_line"]
has_gps = "gps_time" in s.point_format.dimension_names
has_rgb = "red" in s.point_format.dimension_names
extra = list(s.point_format.extra_dimension_names)
cols = {k: [] for k in ["X", "Y", "Z", "scan_angle"] + names + ["gps_time", "rgb", "eb"]}
for n in nodes:
    pts = r.GetPoints(n)
    for p in pts:
        cols["X"].append(round((p.x - offset[0]) / scale[0]))
        cols["Y"].append(round((p.y - offset[1]) / scale[1]))
        cols["Z"].append(round((p.z - offset[2]) / scale[2]))
        cols["scan_angle"].append(p.scan_angle_degrees)
        for k in names:
            cols[k].append(int(getattr(p, k)))
        cols["gps_time"].append(p.gps_time)
        cols["rgb"].append((p.red, p.green, p.blue) if has_rgb else (0, 0, 0))
        cols["eb"].append(bytes(p.extra_bytes))
# Same points: sort both by coordinates, GPS time and intensity, then compare every column.
c = {k: np.asarray(v) for k, v in cols.items() if k not in ("rgb", "eb")}
gps_s = np.asarray(s.gps_time) if has_gps else np.zeros(len(s.x))
key_c = np.lexsort((c["intensity"], c["gps_time"], c["Z"], c["Y"], c["X"]))
key_s = np.lexsort((np.asarray(s.intensity), gps_s, np.asarray(s.Z), np.asarray(s.Y), np.asarray(s.X)))
bad = []
for k in ["X", "Y", "Z"] + names:
    a = c[k][key_c]
    b = np.asarray(getattr(s, k)).astype(np.int64)[key_s]
    if not np.array_equal(a, b):
        bad.append(k)
if not np.allclose(c["gps_time"][key_c], gps_s[key_s], rtol=0, atol=0):
    bad.append("gps_time")
angle_s = np.asarray(s.scan_angle_rank if "scan_angle_rank" in s.point_format.dimension_names
                     else s.scan_angle * 0.006, dtype=float)
if not np.allclose(c["scan_angle"][key_c], angle_s[key_s], atol=0.0031):
    bad.append("scan_angle")
if has_rgb:
    rgb_s = np.stack([s.red, s.green, s.blue], 1)[key_s]
    if not np.array_equal(np.asarray(cols["rgb"])[key_c], rgb_s):
        bad.append("rgb")
if extra:
    eb = np.frombuffer(b"".join(cols["eb"]), np.uint8).reshape(len(s.x), -1)[key_c]
    src_eb = np.concatenate([np.asarray(s[n]).reshape(len(s.x), -1).view(np.uint8).reshape(len(s.x), -1)
                             for n in extra], 1)[key_s]
    if not np.array_equal(eb, src_eb):
        bad.append("extra_bytes")
js_bad = None
if len(sys.argv) > 3:
    js = json.load(open(sys.argv[3]))
    js_bad = []
    counts = {"%d-%d-%d-%d" % (n.key.d, n.key.x, n.key.y, n.key.z): n.point_count for n in nodes}
    if {k: v for k, v in js["nodes"].items() if v} != counts or js["pointCount"] != len(s.x):
        js_bad.append("hierarchy")
    j = {k: np.asarray(v) for k, v in js["columns"].items()}
    if len(j["X"]) != len(s.x):
        js_bad.append("points")
    else:
        q = lambda v, k: np.round((v - offset[k]) / scale[k]).astype(np.int64)
        key_j = np.lexsort((j["Intensity"], j["GpsTime"], q(j["Z"], 2), q(j["Y"], 1), q(j["X"], 0)))
        for k, name in enumerate("XYZ"):
            if not np.array_equal(q(j[name], k)[key_j], np.asarray(getattr(s, name))[key_s]):
                js_bad.append(name)
        for name, col in [("Intensity", "intensity"), ("Classification", "classification")]:
            if not np.array_equal(j[name][key_j], np.asarray(getattr(s, col))[key_s]):
                js_bad.append(name)
        if not np.array_equal(j["GpsTime"][key_j], gps_s[key_s]):
            js_bad.append("GpsTime")
print(json.dumps(dict(copcjs_mismatched=js_bad,
    points=int(h.point_count), nodes=len(nodes), depth=int(r.GetMaxDepth()),
    point_format=int(h.point_format_id), spacing=float(info.spacing),
    bounds_valid=bool(r.ValidateSpatialBounds(False)), extra=extra, mismatched=bad,
    # (copclib's Python wkt reads past the VLR's end, on PDAL's files too: laspy here.)
    crs=(laspy.open(out).header.parse_crs() or "") != "")))
