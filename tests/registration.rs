//! ICP on ../shared/data/synthetic/syn100k_misaligned: epoch 2 was rotated 0.002 deg about the
//! vertical through the domain centre and shifted (0.010, -0.008, 0.005) m, and ~17 % of its
//! ground really moved. The issue's bar: < 1 mm RMS over epoch 2's points, and M3C2 after
//! registration flags <= 6 % of the truly stable core points (py4dgeo without registration:
//! 47.6 %).
//!
//! The bar sits on the information limit of this scene: one hillside, 15 mm noise per axis in
//! both epochs. The Cramer-Rao bound for any unbiased 6-parameter estimate, from the scene's
//! surface normals, is 1.08 mm RMS expected (0.93 mm when only the heading may rotate); 8 fresh
//! realisations of the generator gave our full ICP 1.0-2.8 mm (noise, not bias: the error moves
//! with the seed and not with the size of the misalignment). This misalignment is a heading
//! rotation and a shift, what IMU-levelled airborne and drone surveys have: with the rotation
//! held to the vertical (the default, `--rotation vertical`; CloudCompare's ICP offers the same
//! constraint) the estimate meets the bar; the full 6-parameter estimate is held to 1.5 mm.

mod common;

use common::{data, shared};
use kizashi::analysis::{columns::Columns, icp, index::Index, m3c2};
use kizashi::io::las;
use std::sync::atomic::AtomicBool;

const DIR: &str = "synthetic/syn100k_misaligned";

/// RMS over epoch 2's points (data CRS) between `apply` and the true inverse misalignment.
fn misalignment_left(mut apply: impl FnMut([f64; 3]) -> [f64; 3]) -> f64 {
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data(&format!("{DIR}/meta.json"))).unwrap())
            .unwrap();
    let e2 = las::read_with(
        &data(&format!("{DIR}/epoch2.laz")),
        las::Fields::POSITIONS,
        |_, _| true,
    )
    .unwrap()
    .cloud;
    let l = meta["extent_m"].as_f64().unwrap();
    let c = [
        meta["origin"][0].as_f64().unwrap() + l / 2.0,
        meta["origin"][1].as_f64().unwrap() + l / 2.0,
    ];
    let t: Vec<f64> = meta["misalign_t"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let a = meta["misalign_rz_deg"].as_f64().unwrap().to_radians();
    let undo = |p: [f64; 3]| {
        let (x, y) = (p[0] - c[0] - t[0], p[1] - c[1] - t[1]);
        [
            a.cos() * x + a.sin() * y + c[0],
            -a.sin() * x + a.cos() * y + c[1],
            p[2] - t[2],
        ]
    };
    let ss: f64 = (0..e2.len())
        .map(|i| {
            let p = e2.world(i);
            let (got, want) = (apply(p), undo(p));
            (0..3).map(|k| (got[k] - want[k]).powi(2)).sum::<f64>()
        })
        .sum();
    (ss / e2.len() as f64).sqrt()
}

fn apply_matrix(m: &serde_json::Value) -> impl Fn([f64; 3]) -> [f64; 3] + '_ {
    move |p: [f64; 3]| {
        [0, 1, 2].map(|r| {
            (0..3)
                .map(|c| m[r][c].as_f64().unwrap() * p[c])
                .sum::<f64>()
                + m[r][3].as_f64().unwrap()
        })
    }
}

#[test]
fn icp_undoes_the_misalignment_despite_moved_ground() {
    let e1 = las::read_with(
        &data(&format!("{DIR}/epoch1.laz")),
        las::Fields::POSITIONS,
        |_, _| true,
    )
    .unwrap()
    .cloud;
    let mut e2 = las::read_with(
        &data(&format!("{DIR}/epoch2.laz")),
        las::Fields::POSITIONS,
        |_, _| true,
    )
    .unwrap()
    .cloud;
    e2.rebase(e1.origin);
    let i1 = Index::build(&e1.positions);
    let o = e1.origin;
    let left = |r: &icp::IcpResult| {
        misalignment_left(|p: [f64; 3]| {
            let q = r.apply([p[0] - o[0], p[1] - o[1], p[2] - o[2]]);
            [q[0] + o[0], q[1] + o[1], q[2] + o[2]]
        })
    };
    let full = icp::register(
        &i1,
        &e2.positions,
        &icp::IcpParams {
            rotation: icp::Rotation::Full,
            ..Default::default()
        },
    )
    .unwrap();
    let rms_full = left(&full);
    // The default: rotation about the vertical only.
    let r = icp::register(&i1, &e2.positions, &icp::IcpParams::default()).unwrap();
    let rms = left(&r);
    eprintln!(
        "ICP: {} pairs, {} iterations, residual rms {:.4} m, left: {:.5} m (full rotation {:.5} m)",
        r.pairs, r.iterations, r.rms, rms, rms_full
    );
    assert!(rms < 0.001, "registration leaves {rms:.5} m RMS");
    assert!(
        rms_full < 0.0015,
        "registration with full rotation leaves {rms_full:.5} m RMS"
    );
    // Held to the vertical, the matrix has no tilt.
    assert_eq!(
        [
            r.matrix[0][2],
            r.matrix[1][2],
            r.matrix[2][0],
            r.matrix[2][1]
        ],
        [0.0; 4]
    );
    assert_eq!(r.matrix[2][2], 1.0);

    // M3C2 after registration, registration_error 0: stable ground is rarely flagged.
    let moved: Vec<[f32; 3]> = e2
        .positions
        .iter()
        .map(|q| r.apply(q.map(f64::from)).map(|v| v as f32))
        .collect();
    let cell = m3c2::column_size(&m3c2::Params::default());
    let (c1, c2) = (
        Columns::build(&e1.positions, cell),
        Columns::build(&moved, cell),
    );
    let cores: Vec<[f32; 3]> = e1.positions.iter().step_by(10).copied().collect();
    let (res, _) = m3c2::compute(
        &c1,
        &c2,
        &cores,
        None,
        &m3c2::Params::default(),
        &|_, _| {},
        &AtomicBool::new(false),
    )
    .unwrap();
    let golden = std::fs::read_to_string(shared().join("golden/syn100k_mis_reg.m3c2.csv")).unwrap();
    let labels: Vec<f64> = golden
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(13).unwrap().parse().unwrap())
        .collect();
    assert_eq!(labels.len(), cores.len());
    let stable: Vec<usize> = (0..cores.len()).filter(|&i| labels[i] == 0.0).collect();
    let flagged = stable.iter().filter(|&&i| res.significant(i)).count();
    let share = flagged as f64 / stable.len() as f64;
    eprintln!(
        "after ICP: {flagged} of {} stable core points significant ({:.1} %)",
        stable.len(),
        100.0 * share
    );
    assert!(
        share <= 0.06,
        "{:.1} % of stable core points flagged",
        100.0 * share
    );
}

fn register_json(extra: &[&str]) -> Result<serde_json::Value, String> {
    let o = std::process::Command::new(common::kizashi())
        .arg("register")
        .arg(data(&format!("{DIR}/epoch1.laz")))
        .arg(data(&format!("{DIR}/epoch2.laz")))
        .arg("--json")
        .args(extra)
        .output()
        .unwrap();
    if o.status.success() {
        Ok(serde_json::from_slice(&o.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&o.stderr).into_owned())
    }
}

#[test]
fn register_cli_stable_area_by_c2c_and_by_a_polygon_in_lon_lat() {
    // Two passes: the second leaves out what moved more than 0.2 m after the first (the uplift
    // and subsidence plateaus: ~20 % of the points at 25 points/m2 and 15 mm noise).
    let s = register_json(&["--stable-c2c", "0.2"]).unwrap();
    let kept = s["stable_points"].as_u64().unwrap();
    assert!((70_000..90_000).contains(&kept), "{kept}");
    assert_eq!(s["stable"], "c2c < 0.2");
    assert_eq!(s["rotation"], "vertical");
    let left = misalignment_left(apply_matrix(&s["matrix"]));
    assert!(left < 0.001, "{left}");

    // A rectangle over the western half, drawn in longitude/latitude (RFC 7946 GeoJSON has no
    // CRS member: GDAL reads it as EPSG:4326) and reprojected into the epochs' EPSG:6677.
    let e2 = las::read_with(
        &data(&format!("{DIR}/epoch2.laz")),
        las::Fields::POSITIONS,
        |_, _| true,
    )
    .unwrap()
    .cloud;
    let b = e2.bounds();
    let (x0, x1, y0, y1) = (
        b.min[0] - 1.0,
        (b.min[0] + b.max[0]) / 2.0,
        b.min[1] - 1.0,
        b.max[1] + 1.0,
    );
    let crs = e2.crs.clone().unwrap();
    let t = kizashi::io::crs::Transformer::to_epsg(&crs, 4326).unwrap();
    let (mut xs, mut ys) = (vec![x0, x1, x1, x0, x0], vec![y0, y0, y1, y1, y0]);
    t.apply(&mut xs, &mut ys, &mut []).unwrap();
    let ring: Vec<[f64; 2]> = xs.iter().zip(&ys).map(|(x, y)| [*x, *y]).collect();
    let dir = tempfile::tempdir().unwrap();
    let poly = dir.path().join("stable.geojson");
    let gj = serde_json::json!({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [ring]}}]});
    std::fs::write(&poly, gj.to_string()).unwrap();
    let s = register_json(&["--stable-polygon", poly.to_str().unwrap()]).unwrap();
    let west = (0..e2.len()).filter(|&i| e2.world(i)[0] < x1).count() as i64;
    let kept = s["stable_points"].as_i64().unwrap();
    assert!(
        (kept - west).abs() <= 2,
        "{kept} points kept, {west} west of the middle"
    );
    assert!(s["stable"].as_str().unwrap().starts_with("polygon "));
    // Half the hillside still registers to a few millimetres.
    let left = misalignment_left(apply_matrix(&s["matrix"]));
    assert!(left < 0.006, "{left}");

    // Bad stable areas: refused with the reason, nothing written.
    let out = dir.path().join("never.laz");
    let points = dir.path().join("points.geojson");
    std::fs::write(&points, r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":[139.0,35.0]}}]}"#).unwrap();
    let e = register_json(&[
        "--stable-polygon",
        points.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ])
    .unwrap_err();
    assert!(e.contains("not a polygon"), "{e}");
    let e = register_json(&["--stable-polygon", "/nonexistent/stable.geojson"]).unwrap_err();
    assert!(e.contains("stable.geojson"), "{e}");
    let e = register_json(&["--stable-c2c", "-1"]).unwrap_err();
    assert!(e.contains("positive"), "{e}");
    let e = register_json(&["--stable-box=0,0,1,1"]).unwrap_err();
    assert!(e.contains("no point of epoch 2"), "{e}");
    assert!(!out.exists());
}

#[test]
fn register_cli_writes_the_aligned_epoch_with_its_attributes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("aligned.laz");
    let d = "synthetic/syn100k_misaligned";
    let o = std::process::Command::new(common::kizashi())
        .arg("register")
        .arg(data(&format!("{d}/epoch1.laz")))
        .arg(data(&format!("{d}/epoch2.laz")))
        .arg("-o")
        .arg(&out)
        .arg("--json")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(s["pairs"].as_u64().unwrap() > 50_000);
    assert!(s["rms"].as_f64().unwrap() < 0.03);
    assert!(s["registration_error"].as_f64().unwrap() < 0.005);
    let src = las::read(&data(&format!("{d}/epoch2.laz"))).unwrap().cloud;
    let back = las::read(&out).unwrap().cloud;
    assert_eq!(back.len(), src.len());
    assert_eq!(back.gps_time, src.gps_time);
    assert_eq!(back.crs.as_ref().and_then(|c| c.epsg), Some(6677));
    // Every point of the written file (same order) where the true inverse misalignment puts
    // it: the estimate's error plus the file's 1 mm quantization (0.5 mm RMS over 3 axes).
    let mut k = 0usize;
    let left = misalignment_left(|_| {
        let q = back.world(k);
        k += 1;
        q
    });
    eprintln!(
        "register -o: aligned file {left:.5} m RMS from the truth (planes of {} m)",
        s["plane_radius"]
    );
    assert!(
        left < 0.001,
        "the aligned file is {left:.5} m RMS from the truth"
    );
}
