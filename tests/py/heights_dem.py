#!/usr/bin/env python3
"""Independent helpers for the heights and DEM-epoch tests (tests/heights.rs, tests/dem_epochs.rs).

Nothing here uses Kizashi: GSI FG-GML is parsed with xml.etree, coordinates go through pyproj,
geoid heights through japan-geoid (the Rust crate's Python twin), DEM differences through xDEM.

  gsi-read XML                          -> JSON: corners, grid, first heights, no-data count
  gsi-split XML DIR                     -> DIR/west.xml, DIR/east.xml, DIR/tiles.zip (west.xml +
                                           inner.zip holding east.xml)
  gsi-cloud XML EPSG OFFSET N OUT.las   -> N points on the DEM (bilinear) + OFFSET m, in EPSG
  geoid LON,LAT ...                     -> JSON: [[gsigeo2011, jpgeo2024+hrefconv2024], ...]
  shift-heights IN OUT FROM TO DATE     -> heights of IN (EPSG from the file) converted from
                                           system FROM to TO, creation date DATE (YYYY-MM-DD)
  set-date IN OUT DATE                  -> a copy with another creation date
  xdem-dh REF TBA OUT.f32               -> xDEM's plain dh = TBA - REF, float32, NaN = masked
  geoid-xyz MODEL LON0 LAT0 LON1 LAT1 OUT.xyz -> the model's own grid nodes (1.5' x 1') over the
                                           box as "lon lat N" lines, for gdal_translate -> PROJ
"""
import datetime
import json
import sys
import xml.etree.ElementTree as ET
import zipfile

GML = "{http://www.opengis.net/gml/3.2}"


def gsi_parse(path):
    root = ET.parse(path).getroot()
    env = root.find(f".//{GML}Envelope")
    lo = [float(v) for v in env.find(f"{GML}lowerCorner").text.split()]
    up = [float(v) for v in env.find(f"{GML}upperCorner").text.split()]
    high = [int(v) for v in root.find(f".//{GML}high").text.split()]
    start = [int(v) for v in root.find(f".//{GML}startPoint").text.split()]
    cols, rows = high[0] + 1, high[1] + 1
    lines = [l for l in root.find(f".//{GML}tupleList").text.strip().splitlines() if l.strip()]
    z = [float("nan")] * (cols * rows)
    k = start[1] * cols + start[0]
    for l in lines:
        v = float(l.split(",")[1])
        z[k] = float("nan") if v <= -9998 else v
        k += 1
    return {"lat": [lo[0], up[0]], "lon": [lo[1], up[1]], "cols": cols, "rows": rows,
            "srs": env.get("srsName"), "z": z}


def gsi_read(path):
    d = gsi_parse(path)
    z = d.pop("z")
    finite = [v for v in z if v == v]
    d.update(first=z[:5], last=z[-5:], nodata=len(z) - len(finite), min=min(finite),
             max=max(finite), mean=sum(finite) / len(finite))
    print(json.dumps(d))


def gsi_split(path, out):
    """Two tiles, the west and east halves, written as GSI writes tiles."""
    import os
    text = open(path, encoding="utf-8").read()
    d = gsi_parse(path)
    cols, rows, z = d["cols"], d["rows"], d["z"]
    half = cols // 2
    dlon = (d["lon"][1] - d["lon"][0]) / cols
    head, rest = text.split("<gml:tupleList>")
    _, tail = rest.split("</gml:tupleList>")
    files = {}
    for name, c0, c1 in (("west", 0, half), ("east", half, cols)):
        lon0, lon1 = d["lon"][0] + c0 * dlon, d["lon"][0] + c1 * dlon
        h = head.replace(f"{d['lat'][0]} {d['lon'][0]}", f"{d['lat'][0]} {lon0:.9f}")
        h = h.replace(f"<gml:upperCorner>{d['lat'][1]:.9f} {d['lon'][1]}",
                      f"<gml:upperCorner>{d['lat'][1]:.9f} {lon1:.9f}")
        h = h.replace(f"<gml:high>{cols - 1} {rows - 1}</gml:high>",
                      f"<gml:high>{c1 - c0 - 1} {rows - 1}</gml:high>")
        vals = []
        for r in range(rows):
            for c in range(c0, c1):
                v = z[r * cols + c]
                vals.append("地表面,%.2f" % v if v == v else "データなし,-9999.")
        t = tail.replace("<gml:startPoint>0 0</gml:startPoint>", "<gml:startPoint>0 0</gml:startPoint>")
        files[name] = h + "<gml:tupleList>\n" + "\n".join(vals) + "\n</gml:tupleList>" + t
        with open(os.path.join(out, f"{name}.xml"), "w", encoding="utf-8") as f:
            f.write(files[name])
    inner = os.path.join(out, "inner.zip")
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("FG-GML-east-DEM5A.xml", files["east"])
    with zipfile.ZipFile(os.path.join(out, "tiles.zip"), "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("FG-GML-west-DEM5A.xml", files["west"])
        zf.write(inner, "inner.zip")
    os.remove(inner)


def gsi_cloud(path, epsg, offset, n, out):
    import laspy
    import numpy as np
    import pyproj
    d = gsi_parse(path)
    cols, rows = d["cols"], d["rows"]
    z = np.array(d["z"]).reshape(rows, cols)
    dlon = (d["lon"][1] - d["lon"][0]) / cols
    dlat = (d["lat"][1] - d["lat"][0]) / rows
    rng = np.random.default_rng(7)
    # Positions inside the centres' hull, heights bilinear between cell centres.
    fc = rng.uniform(0, cols - 1, n)
    fr = rng.uniform(0, rows - 1, n)
    c0 = np.minimum(fc.astype(int), cols - 2)
    r0 = np.minimum(fr.astype(int), rows - 2)
    tc, tr = fc - c0, fr - r0
    h = ((1 - tr) * ((1 - tc) * z[r0, c0] + tc * z[r0, c0 + 1])
         + tr * ((1 - tc) * z[r0 + 1, c0] + tc * z[r0 + 1, c0 + 1]))
    lon = d["lon"][0] + (fc + 0.5) * dlon
    lat = d["lat"][1] - (fr + 0.5) * dlat
    ok = np.isfinite(h)
    t = pyproj.Transformer.from_crs(6668, epsg, always_xy=True)
    x, y = t.transform(lon[ok], lat[ok])
    hdr = laspy.LasHeader(point_format=1, version="1.4")
    hdr.scales = [0.001, 0.001, 0.001]
    hdr.offsets = [float(np.floor(x.min())), float(np.floor(y.min())), 0.0]
    hdr.add_crs(pyproj.CRS.from_epsg(epsg))
    las = laspy.LasData(hdr)
    las.x, las.y, las.z = x, y, h[ok] + offset
    las.write(out)


def geoid(points):
    import japan_geoid
    g = japan_geoid.load_embedded_gsigeo2011()
    j = japan_geoid.load_embedded_jpgeo2024_hrefconv2024()
    out = []
    for p in points:
        lon, lat = (float(v) for v in p.split(","))
        out.append([g.get_height(lon, lat), j.get_height(lon, lat)])
    print(json.dumps(out))


def undulation(system, lon, lat):
    import japan_geoid
    import numpy as np
    if system == "ellipsoidal":
        return np.zeros_like(lon)
    model = {"gsigeo2011": japan_geoid.load_embedded_gsigeo2011,
             "jpgeo2024": japan_geoid.load_embedded_jpgeo2024_hrefconv2024}[system]()
    return model.get_heights(lon, lat)


def geoid_xyz(model, lon0, lat0, lon1, lat1, out):
    """Nodes of GSI's 1.5' x 1' grids, where bilinear interpolation returns the node value."""
    import math
    import numpy as np
    lons = np.arange(math.floor(lon0 * 40), math.ceil(lon1 * 40) + 1) / 40.0
    lats = np.arange(math.ceil(lat1 * 60), math.floor(lat0 * 60) - 1, -1) / 60.0
    with open(out, "w") as f:
        for la in lats:
            n = undulation(model, lons, np.full_like(lons, la))
            for lo, v in zip(lons, n):
                f.write(f"{lo:.10f} {la:.10f} {v:.6f}\n")


def shift_heights(src, dst, frm, to, date):
    import laspy
    import pyproj
    las = laspy.read(src)
    t = pyproj.Transformer.from_crs(las.header.parse_crs(), 6668, always_xy=True)
    lon, lat = t.transform(las.x, las.y)
    # H_to = h - N_to = H_from + N_from - N_to
    las.z = las.z + undulation(frm, lon, lat) - undulation(to, lon, lat)
    las.header.creation_date = datetime.date.fromisoformat(date)
    las.write(dst)


def set_date(src, dst, date):
    import laspy
    las = laspy.read(src)
    las.header.creation_date = datetime.date.fromisoformat(date)
    las.write(dst)


def xdem_dh(ref, tba, out):
    import numpy as np
    import xdem
    r, t = xdem.DEM(ref), xdem.DEM(tba)
    if not r.georeferenced_grid_equal(t):
        t = t.reproject(ref=r, resampling="bilinear")
    dh = t - r
    np.ma.filled(dh.data.astype("float32"), np.nan).tofile(out)
    print(json.dumps({"shape": list(dh.shape)}))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "gsi-read":
        gsi_read(args[0])
    elif cmd == "gsi-split":
        gsi_split(args[0], args[1])
    elif cmd == "gsi-cloud":
        gsi_cloud(args[0], int(args[1]), float(args[2]), int(args[3]), args[4])
    elif cmd == "geoid":
        geoid(args)
    elif cmd == "shift-heights":
        shift_heights(*args)
    elif cmd == "set-date":
        set_date(*args)
    elif cmd == "geoid-xyz":
        geoid_xyz(args[0], *(float(v) for v in args[1:5]), args[5])
    elif cmd == "xdem-dh":
        xdem_dh(*args)
    else:
        sys.exit(f"unknown command {cmd}")
