//! The command line as a user runs it: the sample survey is reproducible, the demo job runs
//! headless and says where it wrote, `info` describes and refuses files properly.

mod common;

use common::kizashi;
use kizashi::io::{las, raster};
use std::path::Path;
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn sample_survey_is_deterministic_and_committed() {
    let dir = tempfile::tempdir().unwrap();
    let st = Command::new(kizashi())
        .args(["demo", "--generate", "--sample-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(st.status.success());
    for f in [
        "epoch1_2025.laz",
        "epoch2_2026.laz",
        "ortho_2026.tif",
        "dtm_2025.tif",
        "truth.json",
        "site.toml",
    ] {
        let fresh = std::fs::read(dir.path().join(f)).unwrap();
        let committed = std::fs::read(root().join("sample_data").join(f)).unwrap();
        assert!(fresh == committed, "sample_data/{f} differs from what `kizashi demo --generate` writes: regenerate and commit it");
    }
}

#[test]
fn sample_epochs_carry_the_known_deformation_and_ortho_colours() {
    let e1 = las::read(&root().join("sample_data/epoch1_2025.laz")).unwrap();
    let e2 = las::read(&root().join("sample_data/epoch2_2026.laz")).unwrap();
    assert_eq!((e1.cloud.len(), e2.cloud.len()), (200_000, 200_000));
    for e in [&e1, &e2] {
        let c = e.cloud.crs.as_ref().unwrap();
        assert_eq!(c.epsg, Some(6671), "{}", c.name);
        assert!(
            c.name.contains("Japan Plane Rectangular CS III"),
            "{}",
            c.name
        );
        assert!(e.warnings.is_empty(), "{:?}", e.warnings);
    }
    let dz = &e2.cloud.scalar("true_dz").unwrap().values;
    let (lo, hi) = dz
        .iter()
        .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    assert!(
        (lo + 0.35).abs() < 0.01 && (hi - 0.30).abs() < 0.01,
        "{lo} {hi}"
    );
    let moved = dz.iter().filter(|v| v.abs() > 0.01).count();
    assert!(moved > 1000 && moved < 20_000, "{moved}");
    // Every point's colour is the orthophoto pixel under it (the ortho lines up with the points).
    let ortho = raster::Raster::open(&root().join("sample_data/ortho_2026.tif")).unwrap();
    let bands: Vec<Vec<f32>> = (1..=3).map(|b| ortho.read_band_f32(b).unwrap()).collect();
    let rgb = e1.cloud.rgb.as_ref().unwrap();
    for i in (0..e1.cloud.len()).step_by(997) {
        let w = e1.cloud.world(i);
        let want = rgb[i].map(|v| (v / 257) as f32).to_vec();
        // Coordinates are stored to 1 mm, so a point on a pixel edge may fall either side.
        let hit = [
            (0.0, 0.0),
            (0.001, 0.0),
            (-0.001, 0.0),
            (0.0, 0.001),
            (0.0, -0.001),
        ]
        .iter()
        .any(|(dx, dy)| {
            let px: Vec<f32> = bands
                .iter()
                .map(|b| ortho.sample_nearest(b, w[0] + dx, w[1] + dy))
                .collect();
            px == want
        });
        assert!(
            hit,
            "point {i} at {w:?}: colour {want:?} is not the ortho pixel under it"
        );
    }
}

#[test]
fn demo_runs_headless_and_writes_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let sample = dir.path().join("sample");
    std::fs::create_dir(&sample).unwrap();
    for f in ["epoch1_2025.laz", "epoch2_2026.laz", "ortho_2026.tif"] {
        std::fs::copy(root().join("sample_data").join(f), sample.join(f)).unwrap();
    }
    let out_dir = dir.path().join("out");
    let out = Command::new(kizashi())
        .args(["demo", "--json", "--sample-dir"])
        .arg(&sample)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["epochs"].as_array().unwrap().len(), 2);
    assert_eq!(s["epochs"][1]["point_count"], 200_000);
    assert_eq!(s["epochs"][1]["crs_epsg"], 6671);
    assert!(out_dir.join("summary.json").exists());
    assert!(out_dir.join("m3c2.laz").exists() && out_dir.join("m3c2.csv").exists());
    let sig = s["change"]["significant"].as_u64().unwrap();
    assert!(sig > 300 && sig < 6000, "{sig}");
    // Human output says where the summary went.
    let out = Command::new(kizashi())
        .args(["demo", "--sample-dir"])
        .arg(&sample)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("summary.json"));
}

#[test]
fn info_json_on_the_sample_and_errors_on_bad_paths() {
    let out = Command::new(kizashi())
        .args(["info", "--json"])
        .arg(root().join("sample_data/epoch2_2026.laz"))
        .arg(root().join("sample_data/ortho_2026.tif"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let pc = &v[0]["point_cloud"];
    assert_eq!(pc["point_count"], 200_000);
    assert_eq!(pc["point_format"], 7);
    assert_eq!(pc["crs"]["epsg"], 6671);
    assert_eq!(pc["extra_fields"][0]["name"], "true_dz");
    assert!((pc["point_density"].as_f64().unwrap() - 5.0).abs() < 0.05);
    let r = &v[1]["raster"];
    assert_eq!(
        (
            r["width"].as_u64(),
            r["height"].as_u64(),
            r["band_count"].as_u64()
        ),
        (Some(800), Some(800), Some(3))
    );
    assert_eq!(r["resolution"][0], 0.25);
    assert_eq!(r["extent"][0], -61500.0);

    let out = Command::new(kizashi())
        .args(["info", "/nonexistent/survey.laz"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let out = Command::new(kizashi())
        .args(["info", "--json", "/nonexistent/survey.laz"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("/nonexistent/survey.laz"), "{err}");
}
