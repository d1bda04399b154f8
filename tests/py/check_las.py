"""Reads a LAS/LAZ file with laspy (lazrs backend) and compares it with what Kizashi wrote.

usage: check_las.py FILE EXPECTED.json
EXPECTED.json: {"xyz": "coords.f64" (raw little-endian f64 x,y,z per point), "scale": [..],
"fields": {"name": "values.f32"}, "epsg": 6671 or null, "rgb": bool}
Prints one JSON line with the comparison; exits 1 on any mismatch.
"""
import json
import sys

import laspy
import numpy as np


def main():
    path, exp_path = sys.argv[1], sys.argv[2]
    exp = json.load(open(exp_path))
    las = laspy.read(path)
    xyz = np.fromfile(exp["xyz"], dtype="<f8").reshape(-1, 3)
    got = np.stack([np.asarray(las.x), np.asarray(las.y), np.asarray(las.z)], axis=1)
    out = {"points": int(len(las.points)), "expected_points": int(len(xyz)), "errors": []}
    if len(got) != len(xyz):
        out["errors"].append("point count")
    else:
        scale = np.asarray(exp["scale"])
        err = np.abs(got - xyz).max(axis=0) if len(xyz) else np.zeros(3)
        out["max_abs_coord_error"] = err.tolist()
        if np.any(err > scale / 2 + 1e-9):
            out["errors"].append("coordinates differ by more than half the scale")
    names = list(las.point_format.extra_dimension_names)
    out["extra_dimensions"] = names
    for name, f in exp["fields"].items():
        want = np.fromfile(f, dtype="<f4")
        if name not in names:
            out["errors"].append("missing field " + name)
            continue
        have = np.asarray(las[name], dtype="<f4")
        same = np.array_equal(have, want, equal_nan=True)
        out["field_" + name + "_equal"] = bool(same)
        if not same:
            out["errors"].append("field " + name + " differs")
    crs = None
    try:
        for v in las.header.vlrs:
            if v.record_id == 2112:
                crs = v.string
    except Exception as e:  # noqa: BLE001
        out["errors"].append("crs: %s" % e)
    if exp.get("epsg"):
        flat = (crs or "").replace(" ", "")
        if not any(t in flat for t in ('"EPSG","%d"' % exp["epsg"], '"EPSG",%d' % exp["epsg"])):
            out["errors"].append("WKT VLR does not name EPSG:%d" % exp["epsg"])
    out["version"] = "%d.%d" % (las.header.version.major, las.header.version.minor)
    out["point_format"] = las.point_format.id
    if exp.get("rgb") and not {"red", "green", "blue"} <= set(las.point_format.dimension_names):
        out["errors"].append("rgb missing")
    print(json.dumps(out))
    sys.exit(1 if out["errors"] else 0)


if __name__ == "__main__":
    main()
