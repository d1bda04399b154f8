//! Read -> write LAZ/LAS with extra f32 fields -> reopen in laspy (the field's reference
//! reader) and in Kizashi: same coordinates to the scale, same field values, CRS kept.

mod common;

use common::data;
use kizashi::io::las;
use std::path::Path;
use std::process::Command;

fn python() -> String {
    std::env::var("KIZASHI_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Writes what laspy must find, runs tests/py/check_las.py, returns its JSON report.
fn laspy_check(
    file: &Path,
    cloud: &kizashi::PointCloud,
    fields: &[&str],
    epsg: Option<u32>,
    dir: &Path,
) -> serde_json::Value {
    let xyz: Vec<u8> = (0..cloud.len())
        .flat_map(|i| cloud.world(i))
        .flat_map(|v| v.to_le_bytes())
        .collect();
    std::fs::write(dir.join("xyz.f64"), xyz).unwrap();
    let mut fmap = serde_json::Map::new();
    for f in fields {
        let vals: Vec<u8> = cloud
            .scalar(f)
            .unwrap()
            .values
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let p = dir.join(format!("{f}.f32"));
        std::fs::write(&p, vals).unwrap();
        fmap.insert(f.to_string(), p.display().to_string().into());
    }
    let exp = serde_json::json!({
        "xyz": dir.join("xyz.f64").display().to_string(),
        "scale": [0.001, 0.001, 0.001],
        "fields": fmap,
        "epsg": epsg,
        "rgb": cloud.rgb.is_some(),
    });
    let ep = dir.join("expected.json");
    std::fs::write(&ep, exp.to_string()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/check_las.py");
    let out = Command::new(python())
        .arg(script)
        .arg(file)
        .arg(&ep)
        .output()
        .expect("python3 with laspy (scripts/setup-debian.sh installs it)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "laspy check failed: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).expect("json report")
}

#[test]
fn real_epoch_round_trips_through_laz_with_two_fields() {
    let src = las::read(&data("epochs/ttp/ttp_2015.laz")).unwrap();
    let mut cloud = src.cloud;
    let n = cloud.len();
    // Two computed fields, with NaN (empty cylinder) in some points, as M3C2 output has.
    let d: Vec<f32> = (0..n)
        .map(|i| {
            if i % 97 == 0 {
                f32::NAN
            } else {
                (i as f32 * 0.37).sin() * 0.5
            }
        })
        .collect();
    let lod: Vec<f32> = (0..n).map(|i| 0.01 + (i % 13) as f32 * 1e-3).collect();
    cloud.set_scalar("m3c2_distance", d, "metres");
    cloud.set_scalar("m3c2_lod", lod, "metres");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("result.laz");
    las::write(&out, &cloud, &las::WriteOptions::default()).unwrap();

    let report = laspy_check(
        &out,
        &cloud,
        &["m3c2_distance", "m3c2_lod"],
        Some(26917),
        dir.path(),
    );
    assert_eq!(report["points"], 89_815);
    assert_eq!(report["version"], "1.4");
    assert_eq!(report["point_format"], 6);
    assert_eq!(report["field_m3c2_distance_equal"], true);

    // Kizashi reads back identical values.
    let back = las::read(&out).unwrap();
    assert_eq!(back.cloud.len(), n);
    assert_eq!(back.cloud.crs.as_ref().and_then(|c| c.epsg), Some(26917));
    for i in (0..n).step_by(101) {
        let (a, b) = (cloud.world(i), back.cloud.world(i));
        for k in 0..3 {
            assert!(
                (a[k] - b[k]).abs() <= 0.0005 + 1e-9,
                "point {i}: {a:?} vs {b:?}"
            );
        }
    }
    for name in ["m3c2_distance", "m3c2_lod"] {
        let (a, b) = (
            &cloud.scalar(name).unwrap().values,
            &back.cloud.scalar(name).unwrap().values,
        );
        assert!(
            a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()),
            "{name}"
        );
    }
    assert_eq!(back.cloud.intensity, cloud.intensity);
    assert_eq!(back.cloud.classification, cloud.classification);
    assert_eq!(back.cloud.gps_time, cloud.gps_time);
}

#[test]
fn rgb_cloud_round_trips_through_las() {
    let src = las::read(&data("ortho/autzen_trim.laz")).unwrap();
    let mut cloud = src.cloud;
    let z: Vec<f32> = cloud.positions.iter().map(|p| p[2]).collect();
    cloud.set_scalar("height", z, "");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("autzen.las");
    las::write(&out, &cloud, &las::WriteOptions::default()).unwrap();
    let report = laspy_check(&out, &cloud, &["height"], None, dir.path());
    assert_eq!(report["point_format"], 7);
    let back = las::read(&out).unwrap();
    assert_eq!(back.cloud.rgb, cloud.rgb);
    // The user-defined Lambert CRS from the GeoTIFF keys survives as WKT.
    let c = back.cloud.crs.expect("crs");
    assert!(c.name.contains("Lambert"), "{}", c.name);
}

#[test]
fn empty_cloud_writes_a_valid_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("empty.laz");
    las::write(
        &out,
        &kizashi::PointCloud::default(),
        &las::WriteOptions::default(),
    )
    .unwrap();
    let back = las::read(&out).unwrap();
    assert_eq!(back.cloud.len(), 0);
    assert!(back.warnings.iter().any(|w| w.contains("no points")));
}

#[test]
fn positions_only_read_matches_the_full_read() {
    for rel in [
        "las/pdal/las_with_several_extra_byte_bloc.laz",
        "epochs/ttp/ttp_2015.laz",
        "las/pdal/autzen_trim_7.las",
    ] {
        let full = las::read(&data(rel)).unwrap();
        let pos = las::read_with(&data(rel), las::Fields::POSITIONS, |_, _| true).unwrap();
        assert_eq!(pos.cloud.positions, full.cloud.positions, "{rel}");
        assert_eq!(pos.cloud.origin, full.cloud.origin);
        assert!(
            pos.cloud.intensity.is_none()
                && pos.cloud.rgb.is_none()
                && pos.cloud.scalars.is_empty(),
            "{rel}"
        );
        assert!(full.cloud.intensity.is_some());
    }
}
