//! 3D Tiles export, checked by other programs: Khronos glTF-Validator on every glb, the
//! shared structural check (every point inside its tile's volume through the transform chain),
//! GDAL's own transform of the data centre for the ECEF origin, and our own count of points.

mod common;

use common::{cesium, check_bounds, data, gltf_validator, kizashi};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn export(input: &Path, out: &Path, extra: &[&str]) -> Value {
    let o = Command::new(kizashi())
        .args(["export", "tiles"])
        .arg(input)
        .arg("-o")
        .arg(out)
        .args(extra)
        .arg("--json")
        .output()
        .expect("kizashi");
    assert!(
        o.status.success(),
        "export failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("summary JSON")
}

/// POSITION count of a glb, read from its JSON chunk.
fn glb_points(path: &Path) -> (u64, Value) {
    let b = std::fs::read(path).expect("glb");
    assert_eq!(&b[0..4], b"glTF");
    let len = u32::from_le_bytes(b[12..16].try_into().unwrap()) as usize;
    assert_eq!(&b[16..20], b"JSON");
    let doc: Value = serde_json::from_slice(&b[20..20 + len]).expect("glTF JSON");
    let acc = doc["meshes"][0]["primitives"][0]["attributes"]["POSITION"]
        .as_u64()
        .unwrap() as usize;
    (doc["accessors"][acc]["count"].as_u64().unwrap(), doc)
}

/// `gdaltransform` (GDAL's CLI, independent of our code) from a CRS to ECEF.
fn gdal_ecef(epsg: u32, x: f64, y: f64, z: f64) -> [f64; 3] {
    use std::io::Write;
    let mut child = Command::new("gdaltransform")
        .args(["-s_srs", &format!("EPSG:{epsg}"), "-t_srs", "EPSG:4978"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("gdaltransform (gdal-bin)");
    writeln!(child.stdin.take().unwrap(), "{x} {y} {z}").unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let v: Vec<f64> = text
        .split_whitespace()
        .filter_map(|t| t.parse().ok())
        .collect();
    assert_eq!(v.len(), 3, "gdaltransform: {text}");
    [v[0], v[1], v[2]]
}

fn check_tileset(dir: &Path, summary: &Value, points: u64, epsg: u32, attrs: &[&str]) {
    // Khronos validator: 0 errors (and we keep 0 warnings).
    let v = gltf_validator(&dir.join("tiles"));
    assert_eq!(v["errors"], 0, "{v}");
    assert_eq!(v["warnings"], 0, "{v}");
    assert_eq!(v["files"].as_u64(), summary["tiles"].as_u64());
    // Structural: every point inside its tile's box, through transforms and the y-up node.
    let cb = check_bounds(dir);
    assert!(cb.trim_end().ends_with("tiles_outside=0"), "{cb}");
    // Every point exactly once (refine ADD), tiles as the tileset says.
    let ts: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("tileset.json")).unwrap()).unwrap();
    assert_eq!(ts["asset"]["version"], "1.1");
    assert_eq!(ts["root"]["refine"], "ADD");
    let mut total = 0;
    let mut stack = vec![&ts["root"]];
    let mut leaves = 0;
    while let Some(t) = stack.pop() {
        let uri = t["content"]["uri"].as_str().expect("content");
        let (n, doc) = glb_points(&dir.join(uri));
        total += n;
        // z-up -> y-up rotation on the glTF root node; colours normalized u8.
        let r = doc["nodes"][0]["rotation"]
            .as_array()
            .expect("root rotation");
        assert!((r[0].as_f64().unwrap() + std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-9);
        let c = doc["meshes"][0]["primitives"][0]["attributes"]["COLOR_0"]
            .as_u64()
            .unwrap() as usize;
        assert_eq!(doc["accessors"][c]["normalized"], true);
        assert_eq!(doc["accessors"][c]["componentType"], 5121);
        let children = t["children"]
            .as_array()
            .map(|a| a.iter().collect::<Vec<_>>())
            .unwrap_or_default();
        if children.is_empty() {
            leaves += 1;
            assert_eq!(t["geometricError"], 0.0);
        } else {
            for ch in &children {
                assert!(
                    ch["geometricError"].as_f64().unwrap() <= t["geometricError"].as_f64().unwrap()
                );
            }
        }
        stack.extend(children);
    }
    assert_eq!(total, points, "points over all tiles");
    assert!(leaves > 0);
    // Root transform origin = GDAL's ECEF of the data centre, to < 1 cm.
    let m: Vec<f64> = ts["root"]["transform"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    let c = &summary["centre"];
    let g = gdal_ecef(
        epsg,
        c[0].as_f64().unwrap(),
        c[1].as_f64().unwrap(),
        c[2].as_f64().unwrap(),
    );
    for k in 0..3 {
        assert!(
            (m[12 + k] - g[k]).abs() < 0.01,
            "ECEF origin {:?} vs GDAL {g:?}",
            &m[12..15]
        );
    }
    // The ENU up axis points away from the earth's centre.
    let up = [m[8], m[9], m[10]];
    let r = (g[0] * g[0] + g[1] * g[1] + g[2] * g[2]).sqrt();
    let dot = (up[0] * g[0] + up[1] * g[1] + up[2] * g[2]) / r;
    assert!(dot > 0.99, "up axis {up:?}");
    // Metadata: schema, statistics with min/max.
    for a in attrs {
        let p = &ts["schema"]["classes"]["point"]["properties"][a];
        assert_eq!(p["componentType"], "FLOAT32", "{a}");
        let st = &ts["statistics"]["classes"]["point"]["properties"][a];
        assert!(st["min"].as_f64().unwrap() <= st["max"].as_f64().unwrap());
    }
}

#[test]
fn sample_m3c2_result_as_3d_tiles() {
    let dir = tempfile::tempdir().unwrap();
    let result = dir.path().join("m3c2.laz");
    let o = Command::new(kizashi())
        .args(["change"])
        .arg(root().join("sample_data/epoch1_2025.laz"))
        .arg(root().join("sample_data/epoch2_2026.laz"))
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
    let out = dir.path().join("tiles");
    let s = export(
        &result,
        &out,
        &[
            "--attribute",
            "m3c2_distance",
            "--attribute",
            "m3c2_lod",
            "--max-points-per-tile",
            "5000",
        ],
    );
    let points = s["points"].as_u64().unwrap();
    assert!(points > 40_000);
    assert!(s["tiles"].as_u64().unwrap() >= 9, "{s}");
    // Deformation colours when there is no RGB; NaN distances became no-data.
    assert!(s["colour"].as_str().unwrap().contains("diverging"), "{s}");
    let d = &s["attributes"][0];
    assert!(
        d["min"].as_f64().unwrap() < -0.25 && d["max"].as_f64().unwrap() > 0.25,
        "{d}"
    );
    assert!(d["no_data"].as_u64().unwrap() > 0);
    check_tileset(&out, &s, points, 6671, &["m3c2_distance", "m3c2_lod"]);
    // Japan (Yamaguchi).
    let ll = &s["lon_lat"];
    assert!(
        (131.0..132.0).contains(&ll[0].as_f64().unwrap())
            && (34.0..34.5).contains(&ll[1].as_f64().unwrap()),
        "{ll}"
    );
}

#[test]
fn toronto_epoch_as_3d_tiles_with_geoid_offset() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tiles");
    // Toronto: geoid undulation about -36 m (heights are orthometric CGVD2013).
    let s = export(
        &data("epochs/ttp/ttp_2015.laz"),
        &out,
        &["--geoid-offset", "-36", "--max-points-per-tile", "10000"],
    );
    assert_eq!(s["points"], 89815);
    assert_eq!(s["colour"], "elevation (viridis)");
    // The offset moves the origin down along the normal, by 36 m.
    let c = &s["centre"];
    let g = gdal_ecef(
        26917,
        c[0].as_f64().unwrap(),
        c[1].as_f64().unwrap(),
        c[2].as_f64().unwrap() - 36.0,
    );
    let e: Vec<f64> = s["root_ecef"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    for k in 0..3 {
        assert!((e[k] - g[k]).abs() < 0.01, "{e:?} vs {g:?}");
    }
    let ts: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("tileset.json")).unwrap()).unwrap();
    assert_eq!(ts["asset"]["extras"]["geoid_offset_m"], -36.0);
    assert_eq!(ts["asset"]["extras"]["crs"]["epsg"], 26917);
    // check_tileset compares with the un-offset centre: use the offset one instead.
    let v = gltf_validator(&out.join("tiles"));
    assert_eq!(v["errors"], 0, "{v}");
    assert_eq!(v["files"], s["tiles"], "every tile validated");
    assert!(check_bounds(&out).trim_end().ends_with("tiles_outside=0"));
}

/// A geoid grid (GeoTIFF of N, EPSG:4326) instead of a constant: a constant -36 m grid puts the
/// root exactly where --geoid-offset -36 does; a grid that misses the site is refused.
#[test]
fn toronto_epoch_with_a_geoid_grid() {
    let dir = tempfile::tempdir().unwrap();
    let wgs84 = kizashi::io::crs::from_epsg(4326, kizashi::cloud::CrsSource::User).unwrap();
    let grid = |name: &str, lon0: f64| {
        let p = dir.path().join(name);
        let gt = kizashi::io::raster::GeoTransform([lon0, 0.01, 0.0, 43.7, 0.0, -0.01]);
        kizashi::io::raster::write_f32(&p, 20, 20, gt, Some(&wgs84), -9999.0, &[-36.0f32; 400])
            .unwrap();
        p
    };
    let good = grid("geoid.tif", -79.4);
    let s = export(
        &data("epochs/ttp/ttp_2015.laz"),
        &dir.path().join("a"),
        &["--geoid", good.to_str().unwrap()],
    );
    let o = export(
        &data("epochs/ttp/ttp_2015.laz"),
        &dir.path().join("b"),
        &["--geoid-offset", "-36"],
    );
    for k in 0..3 {
        let (a, b) = (
            s["root_ecef"][k].as_f64().unwrap(),
            o["root_ecef"][k].as_f64().unwrap(),
        );
        assert!((a - b).abs() < 1e-4, "{a} vs {b}");
    }
    let ts: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("a/tileset.json")).unwrap())
            .unwrap();
    assert!(ts["asset"]["extras"]["heights"]
        .as_str()
        .unwrap()
        .contains("geoid.tif"));
    assert_eq!(ts["asset"]["extras"]["geoid_at_centre_m"], -36.0);
    let far = grid("far.tif", 10.0);
    let e = Command::new(kizashi())
        .args(["export", "tiles"])
        .arg(data("epochs/ttp/ttp_2015.laz"))
        .arg("-o")
        .arg(dir.path().join("c"))
        .arg("--geoid")
        .arg(&far)
        .output()
        .unwrap();
    assert_eq!(e.status.code(), Some(1));
    let err = String::from_utf8_lossy(&e.stderr);
    assert!(err.contains("far.tif") && err.contains("no value"), "{err}");
}

#[test]
fn bad_inputs_are_refused_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str], input: &Path| {
        let o = Command::new(kizashi())
            .args(["export", "tiles"])
            .arg(input)
            .arg("-o")
            .arg(dir.path().join("t"))
            .args(args)
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).to_string(),
        )
    };
    let (code, err) = run(&["--attribute", "nope"], &data("epochs/ttp/ttp_2015.laz"));
    assert_eq!(code, Some(1));
    assert!(err.contains("no field \"nope\""), "{err}");
    // A file without a CRS cannot be placed on the globe.
    let no_crs = common::manifest()
        .into_iter()
        .find(|e| e.crs == "none" && e.path.ends_with(".las") && e.point_count.unwrap_or(0) > 0)
        .expect("a LAS without CRS");
    let (code, err) = run(&[], &data(&no_crs.path));
    assert_eq!(code, Some(1));
    assert!(err.contains("no CRS"), "{err}");
    let (code, err) = run(&[], &data("las/laszip/broken_type.laz"));
    assert_eq!(code, Some(1));
    assert!(err.contains("broken_type.laz"), "{err}");
}

/// The real client: CesiumJS in headless Chromium (../shared/bench/tiles/cesium_screenshot.sh)
/// loads every tile of the Toronto M3C2 result and counts every point.
#[test]
fn cesium_loads_every_point_of_the_toronto_result() {
    let dir = tempfile::tempdir().unwrap();
    let result = dir.path().join("ttp_m3c2.laz");
    let o = Command::new(kizashi())
        .arg("change")
        .arg(data("epochs/ttp/ttp_2015.laz"))
        .arg(data("epochs/ttp/ttp_2023.laz"))
        .args([
            "--core-spacing",
            "2",
            "--cyl-radius",
            "3",
            "--normal-radii",
            "3,6",
            "--max-distance",
            "6",
            "-o",
        ])
        .arg(&result)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = dir.path().join("tiles");
    let s = export(
        &result,
        &out,
        &["--attribute", "m3c2_distance", "--geoid-offset", "-36"],
    );
    let points = s["points"].as_u64().unwrap();
    let png = dir.path().join("cesium.png");
    let v = cesium(&out, &png, "m3c2_distance");
    assert_eq!(v["ok"], true);
    assert_eq!(v["pointsLoaded"].as_u64(), Some(points), "{v}");
    assert_eq!(v["tilesWithContentReady"], v["tilesTotal"]);
    assert_eq!(v["failedRequests"].as_array().map(|a| a.len()), Some(0));
    // The park lies where it is: Cesium's root centre is Toronto (lon -79.34, lat 43.63).
    let c = &v["rootCenterCartographicDeg"];
    assert!(
        (c[0].as_f64().unwrap() + 79.336).abs() < 0.01
            && (c[1].as_f64().unwrap() - 43.626).abs() < 0.01,
        "{c}"
    );
    // Lying flat: the screenshot is mostly background with the park in the middle, not a thin wall.
    let img = image::open(&png).expect("png").to_rgb8();
    let bg = img.get_pixel(5, 5).0;
    let filled = img
        .pixels()
        .filter(|p| {
            p.0.iter()
                .zip(bg)
                .map(|(a, b)| a.abs_diff(b) as u32)
                .sum::<u32>()
                > 40
        })
        .count() as f64
        / (img.width() * img.height()) as f64;
    assert!(
        filled > 0.08,
        "the park covers only {filled:.3} of the view"
    );
}
