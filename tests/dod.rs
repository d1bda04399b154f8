//! DEM of difference: the Toronto pair at 1 m against an independent gridding (laspy + numpy,
//! tests/py/grid_dod.py) of the same points, and the sample survey's known slump and bulge.

mod common;

use common::{data, kizashi};
use kizashi::io::raster::Raster;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn dod(e1: &Path, e2: &Path, out: &Path, extra: &[&str]) -> Value {
    let o = Command::new(kizashi())
        .arg("dod")
        .arg(e1)
        .arg(e2)
        .arg("-o")
        .arg(out)
        .args(extra)
        .arg("--json")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).expect("JSON summary")
}

#[test]
fn toronto_dod_matches_an_independent_gridding() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("dod.tif");
    let (e1, e2) = (
        data("epochs/ttp/ttp_2015.laz"),
        data("epochs/ttp/ttp_2023.laz"),
    );
    let s = dod(&e1, &e2, &out, &["--cell", "1"]);
    let g = &s["grid"];
    let (w, h) = (
        g["width"].as_u64().unwrap() as usize,
        g["height"].as_u64().unwrap() as usize,
    );
    assert_eq!(s["crs_epsg"], 26917);
    let raw = dir.path().join("ref.f32");
    let o = Command::new("python3")
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/py/grid_dod.py"))
        .arg(&e1)
        .arg(&e2)
        .args([
            g["x0"].to_string(),
            g["y0"].to_string(),
            g["cell"].to_string(),
            w.to_string(),
            h.to_string(),
        ])
        .arg(&raw)
        .output()
        .expect("python3 with laspy (scripts/setup-debian.sh)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let reference: Vec<f32> = std::fs::read(&raw)
        .unwrap()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    assert_eq!(reference.len(), w * h);
    // Our GeoTIFF, read back through GDAL: band 1 is the difference, nodata -> NaN.
    let r = Raster::open(&out).unwrap();
    assert_eq!((r.info.width, r.info.height, r.info.band_count), (w, h, 4));
    assert_eq!(r.info.crs.as_ref().and_then(|c| c.epsg), Some(26917));
    let ours = r.read_band_f32(1).unwrap();
    let (mut both, mut worst, mut pattern) = (0usize, 0f32, 0usize);
    for (a, b) in ours.iter().zip(&reference) {
        if a.is_finite() != b.is_finite() {
            pattern += 1;
        }
        if a.is_finite() && b.is_finite() {
            both += 1;
            worst = worst.max((a - b).abs());
        }
    }
    assert_eq!(pattern, 0, "cells with data in one gridding only");
    assert_eq!(both as u64, s["volumes"]["cells_both"].as_u64().unwrap());
    assert!(both > 20_000, "{both}");
    // Float32 storage of ~100 m heights: ~1e-5 m.
    assert!(worst < 1e-3, "largest difference {worst} m");
    // LoD band: positive wherever there is a difference.
    let lod = r.read_band_f32(2).unwrap();
    assert!(ours
        .iter()
        .zip(&lod)
        .filter(|(d, _)| d.is_finite())
        .all(|(_, l)| *l > 0.0));
}

/// Cut and fill of the sample's true displacement (truth.json's bumps), integrated on 0.1 m
/// steps over the site (m3).
fn truth_volumes() -> (f64, f64) {
    let (mut cut, mut fill) = (0.0, 0.0);
    for i in 0..2000 {
        for j in 0..2000 {
            let dz =
                kizashi::demo::true_dz(0.05 + 0.1 * f64::from(i), 0.05 + 0.1 * f64::from(j)) * 0.01;
            if dz < 0.0 {
                cut -= dz
            } else {
                fill += dz
            }
        }
    }
    (cut, fill)
}

#[test]
fn sample_dod_finds_the_slump_and_the_bulge() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("dod.tif");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample_data");
    let s = dod(
        &root.join("epoch1_2025.laz"),
        &root.join("epoch2_2026.laz"),
        &out,
        &["--cell", "2", "--ground"],
    );
    assert_eq!(s["ground_only"], true);
    // Water (class 9) is left out.
    assert!(s["points_used"][0].as_u64().unwrap() < 200_000);
    let r = Raster::open(&out).unwrap();
    let d = r.read_band_f32(1).unwrap();
    let lod = r.read_band_f32(2).unwrap();
    let gt = r.info.geotransform.unwrap();
    let at = |u: f64, v: f64| {
        let [c, rr] = gt.world_to_pixel(-61_500.0 + u, -201_200.0 + v).unwrap();
        let i = rr as usize * r.info.width + c as usize;
        (d[i], lod[i])
    };
    // truth.json: slump head -0.35 m at (172, 120) under forest (cell means of canopy and
    // ground points are noisy there: a wide LoD), bulge +0.30 m at (82, 50) on grass.
    let (head, l1) = at(172.0, 120.0);
    // Within its own level of detection of the truth, and significant.
    assert!(
        (head + 0.35).abs() < l1 && head.abs() > l1,
        "slump head {head} (LoD {l1})"
    );
    let (bulge, l2) = at(82.0, 50.0);
    assert!(
        (bulge - 0.30).abs() < 0.1 && bulge.abs() > l2,
        "bulge {bulge} (LoD {l2})"
    );
    let (still, _) = at(120.0, 100.0);
    assert!(still.abs() < 0.1, "paddies {still}");
    // Volume where the ground moved: over the cells inside the features' footprints, the DoD's
    // sum of differences against the truth integrated over the same cells (0.1 m steps).
    let (res, cell_area) = (
        gt.resolution(),
        (gt.resolution()[0] * gt.resolution()[1]).abs(),
    );
    let (mut measured, mut truth, mut cells, mut var) = (0.0, 0.0, 0, 0.0);
    for row in 0..r.info.height {
        for col in 0..r.info.width {
            let [x, y] = gt.pixel_to_world(col as f64 + 0.5, row as f64 + 0.5);
            let (u, w) = (x + 61_500.0, y + 201_200.0);
            let inside = |f: &kizashi::demo::Feature| {
                ((u - f.center[0]) / f.radii[0]).powi(2) + ((w - f.center[1]) / f.radii[1]).powi(2)
                    < 1.0
            };
            let diff = d[row * r.info.width + col];
            if !diff.is_finite() || !kizashi::demo::features().iter().any(inside) {
                continue;
            }
            cells += 1;
            measured += f64::from(diff) * cell_area;
            var += (f64::from(lod[row * r.info.width + col]) / 1.96 * cell_area).powi(2);
            let n = 20;
            for i in 0..n {
                for j in 0..n {
                    let (du, dv) = (
                        (f64::from(i) + 0.5) / f64::from(n) - 0.5,
                        (f64::from(j) + 0.5) / f64::from(n) - 0.5,
                    );
                    truth += kizashi::demo::true_dz(u + du * res[0].abs(), w + dv * res[1].abs())
                        * cell_area
                        / f64::from(n * n);
                }
            }
        }
    }
    eprintln!("{cells} cells in the footprints: DoD {measured:.2} m3, truth {truth:.2} m3, sigma {:.2} m3", var.sqrt());
    // Within the 95 % interval of the cells' own uncertainty (LoD95 / 1.96 each, independent).
    let sigma = var.sqrt();
    assert!(
        cells > 100 && sigma > 0.0 && (measured - truth).abs() < 1.96 * sigma,
        "DoD {measured} m3 vs truth {truth} m3 (sigma {sigma}) over {cells} cells"
    );
    // Significant cut and fill: at least the truth's, plus the ~5 % of stable cells a per-cell
    // 95 % test flags by chance (478 significant cells for ~210 in the footprints), which the
    // volumes then include; bounded above so a regression that flags far more shows.
    let (cut, fill) = truth_volumes();
    let v = &s["volumes"];
    let (c, f) = (
        v["cut_m3"].as_f64().unwrap(),
        v["fill_m3"].as_f64().unwrap(),
    );
    eprintln!("significant cut {c:.1} m3 (truth {cut:.1}), fill {f:.1} m3 (truth {fill:.1})");
    assert!(
        (0.8 * cut..4.0 * cut).contains(&c),
        "cut {c} vs truth {cut}: {v}"
    );
    assert!(
        (0.8 * fill..4.0 * fill).contains(&f),
        "fill {f} vs truth {fill}: {v}"
    );
    let sigma = v["cut_sigma_m3"].as_f64().unwrap();
    assert!(sigma > 0.0 && sigma < 0.2 * c, "{v}");
}

#[test]
fn bad_dod_requests_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.tif");
    let (e1, e2) = (
        data("epochs/ttp/ttp_2015.laz"),
        data("epochs/ttp/ttp_2023.laz"),
    );
    for (args, needle) in [
        (vec!["--cell", "0"], "cell size must be positive"),
        (vec!["--cell", "0.0001"], "use a larger --cell"),
    ] {
        let o = Command::new(kizashi())
            .arg("dod")
            .arg(&e1)
            .arg(&e2)
            .arg("-o")
            .arg(&out)
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(needle), "{err}");
    }
    assert!(!out.exists(), "nothing written on refusal");
}

/// Change objects from the sample's DoD: GeoJSON polygons (read back by GDAL's ogrinfo) at the
/// slump head and the bulge, with areas and volumes; the same in EPSG:4326.
#[test]
fn sample_change_objects_as_geojson() {
    let dir = tempfile::tempdir().unwrap();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample_data");
    let (e1, e2) = (root.join("epoch1_2025.laz"), root.join("epoch2_2026.laz"));
    let obj = dir.path().join("objects.geojson");
    let o = obj.to_str().unwrap();
    let s = dod(
        &e1,
        &e2,
        &dir.path().join("d.tif"),
        &[
            "--cell",
            "2",
            "--ground",
            "--objects",
            o,
            "--min-area",
            "20",
        ],
    );
    let objects = s["objects"].as_array().expect("objects");
    assert!(objects.len() >= 2, "{objects:?}");
    let near = |o: &Value, u: f64, v: f64| {
        let c = &o["centre"];
        ((c[0].as_f64().unwrap() + 61_500.0 - u).powi(2)
            + (c[1].as_f64().unwrap() + 201_200.0 - v).powi(2))
        .sqrt()
    };
    // Largest first: the slump head (cut) within 5 m of its centre, then the bulge (fill).
    assert_eq!(objects[0]["sign"], "cut");
    assert!(near(&objects[0], 172.0, 120.0) < 5.0, "{}", objects[0]);
    // The slump head is the site's only lowering: its object holds most of the true cut.
    let (cut, _) = truth_volumes();
    let head = -objects[0]["volume_m3"].as_f64().unwrap();
    eprintln!("slump head object {head:.1} m3 (true cut {cut:.1})");
    assert!(
        (0.5 * cut..1.1 * cut).contains(&head),
        "slump head {head} m3 vs true cut {cut} m3"
    );
    assert!(objects
        .iter()
        .any(|x| x["sign"] == "fill" && near(x, 82.0, 50.0) < 5.0));
    let gj: Value = serde_json::from_str(&std::fs::read_to_string(&obj).unwrap()).unwrap();
    let feats = gj["features"].as_array().unwrap();
    assert_eq!(feats.len(), objects.len());
    for f in feats {
        let ring = f["geometry"]["coordinates"][0].as_array().unwrap();
        assert!(
            ring.len() >= 5 && ring.first() == ring.last(),
            "closed ring"
        );
        let area = f["properties"]["area_m2"].as_f64().unwrap();
        assert!(area >= 20.0);
    }
    // GDAL reads it back with the data CRS.
    let info = Command::new("ogrinfo")
        .args(["-so", "-al"])
        .arg(&obj)
        .output()
        .expect("ogrinfo (gdal-bin)");
    let text = String::from_utf8_lossy(&info.stdout);
    assert!(
        text.contains(&format!("Feature Count: {}", feats.len()))
            && text.contains("Japan Plane Rectangular CS III"),
        "{text}"
    );
    // WGS84: longitude, latitude in Yamaguchi.
    let obj84 = dir.path().join("objects84.geojson");
    dod(
        &e1,
        &e2,
        &dir.path().join("d2.tif"),
        &[
            "--cell",
            "2",
            "--ground",
            "--objects",
            obj84.to_str().unwrap(),
            "--min-area",
            "20",
            "--wgs84",
        ],
    );
    let gj: Value = serde_json::from_str(&std::fs::read_to_string(&obj84).unwrap()).unwrap();
    let p = &gj["features"][0]["geometry"]["coordinates"][0][0];
    let (lon, lat) = (p[0].as_f64().unwrap(), p[1].as_f64().unwrap());
    assert!(
        (131.4..131.6).contains(&lon) && (34.1..34.3).contains(&lat),
        "{lon} {lat}"
    );
}

/// Change objects from an M3C2 result: the slump head (cut), the bulge and the slump's toe
/// (fills), each where truth.json puts it.
#[test]
fn change_objects_from_m3c2_core_points() {
    let dir = tempfile::tempdir().unwrap();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample_data");
    let result = dir.path().join("m3c2.laz");
    let o = Command::new(kizashi())
        .arg("change")
        .arg(root.join("epoch1_2025.laz"))
        .arg(root.join("epoch2_2026.laz"))
        .args([
            "--core-spacing",
            "1",
            "--cyl-radius",
            "1",
            "--normal-radii",
            "1,2",
            "--max-distance",
            "2",
            "-o",
        ])
        .arg(&result)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let geo = dir.path().join("objects.geojson");
    let o = Command::new(kizashi())
        .arg("objects")
        .arg(&result)
        .arg("-o")
        .arg(&geo)
        .args(["--min-area", "20", "--json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s: Value = serde_json::from_slice(&o.stdout).unwrap();
    let objs = s["objects"].as_array().unwrap();
    let at = |sign: &str, u: f64, v: f64| {
        objs.iter().any(|x| {
            let c = &x["centre"];
            let d = ((c[0].as_f64().unwrap() + 61_500.0 - u).powi(2)
                + (c[1].as_f64().unwrap() + 201_200.0 - v).powi(2))
            .sqrt();
            x["sign"] == sign && d < 6.0
        })
    };
    assert_eq!(objs[0]["sign"], "cut");
    assert!(at("cut", 172.0, 120.0), "slump head: {objs:?}");
    assert!(at("fill", 82.0, 50.0), "bulge: {objs:?}");
    assert!(at("fill", 156.0, 120.0), "slump toe: {objs:?}");
    let gj: Value = serde_json::from_str(&std::fs::read_to_string(&geo).unwrap()).unwrap();
    assert_eq!(gj["features"].as_array().unwrap().len(), objs.len());
    // Not a change result: refused.
    let o = Command::new(kizashi())
        .arg("objects")
        .arg(root.join("epoch1_2025.laz"))
        .arg("-o")
        .arg(dir.path().join("x.geojson"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not an M3C2 result"));
}
