//! M3C2 and C2C against py4dgeo 1.2.0's outputs in ../shared/golden: same NaN pattern,
//! |distance| and |lod| within 1 mm on >= 99.9 % of core points, C2C within 0.1 mm.

mod common;

use common::{data, shared};
use kizashi::analysis::{c2c, columns::Columns, index::Index, m3c2, normals::Orientation};
use kizashi::io::las;
use std::sync::atomic::AtomicBool;

struct Golden {
    cols: Vec<String>,
    rows: Vec<Vec<f64>>,
}

impl Golden {
    fn read(name: &str) -> Golden {
        let text = std::fs::read_to_string(shared().join("golden").join(name)).unwrap();
        let mut lines = text.lines();
        let cols = lines.next().unwrap().split(',').map(String::from).collect();
        let rows = lines.filter(|l| !l.is_empty()).map(|l| l.split(',').map(|v| v.parse::<f64>().unwrap_or(f64::NAN)).collect()).collect();
        Golden { cols, rows }
    }
    fn col(&self, name: &str) -> Vec<f64> {
        let i = self.cols.iter().position(|c| c == name).unwrap_or_else(|| panic!("column {name}"));
        self.rows.iter().map(|r| r[i]).collect()
    }
}

struct Params {
    p: m3c2::Params,
}

fn params(name: &str) -> Params {
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(shared().join("golden").join(name)).unwrap()).unwrap();
    let o = &v["orientation_vector"];
    Params {
        p: m3c2::Params {
            cyl_radius: v["cyl_radius"].as_f64().unwrap(),
            normal_radii: v["normal_radii"].as_array().unwrap().iter().map(|r| r.as_f64().unwrap()).collect(),
            max_distance: v["max_distance"].as_f64().unwrap(),
            registration_error: v["registration_error"].as_f64().unwrap(),
            robust: v["robust_aggr"].as_bool().unwrap(),
            orientation: Orientation::Vector([o[0].as_f64().unwrap(), o[1].as_f64().unwrap(), o[2].as_f64().unwrap()]),
            ..Default::default()
        },
    }
}

/// Both epochs in epoch 1's local frame, epoch-1 points in file order.
fn epochs(dir: &str, e1: &str, e2: &str) -> (kizashi::PointCloud, kizashi::PointCloud) {
    let a = las::read_with(&data(&format!("{dir}/{e1}")), las::Fields::POSITIONS, |_, _| true).unwrap().cloud;
    let mut b = las::read_with(&data(&format!("{dir}/{e2}")), las::Fields::POSITIONS, |_, _| true).unwrap().cloud;
    b.rebase(a.origin);
    (a, b)
}

fn compare(label: &str, got: &[f64], want: &[f64], tol: f64) -> (usize, usize) {
    assert_eq!(got.len(), want.len(), "{label}: lengths");
    let mut nan_mismatch = 0;
    let mut off = 0;
    let mut worst = 0.0f64;
    for (g, w) in got.iter().zip(want) {
        if g.is_nan() != w.is_nan() {
            nan_mismatch += 1;
        } else if !g.is_nan() {
            let e = (g - w).abs();
            worst = worst.max(e);
            if e > tol {
                off += 1;
            }
        }
    }
    eprintln!("{label}: {nan_mismatch} NaN mismatches, {off} of {} beyond {tol} (worst {worst:.6})", got.len());
    (nan_mismatch, off)
}

fn check_m3c2(dir: &str, e1: &str, e2: &str, golden: &str, params_file: &str) {
    let (a, b) = epochs(dir, e1, e2);
    let cores: Vec<[f32; 3]> = a.positions.iter().step_by(10).copied().collect();
    let g = Golden::read(golden);
    assert_eq!(cores.len(), g.rows.len(), "core point count");
    // Same core points as py4dgeo (to the file's 1 mm).
    let (gx, gy, gz) = (g.col("x"), g.col("y"), g.col("z"));
    for (i, c) in cores.iter().enumerate().step_by(97) {
        let w = [a.origin[0] + f64::from(c[0]), a.origin[1] + f64::from(c[1]), a.origin[2] + f64::from(c[2])];
        assert!((w[0] - gx[i]).abs() < 1e-3 && (w[1] - gy[i]).abs() < 1e-3 && (w[2] - gz[i]).abs() < 1e-3, "core {i}");
    }
    let p = params(params_file).p;
    let cell = m3c2::column_size(&p);
    let (ia, ib) = (Columns::build(&a.positions, cell), Columns::build(&b.positions, cell));
    let (r, _) = m3c2::compute(&ia, &ib, &cores, None, &p, &|_, _| {}, &AtomicBool::new(false)).unwrap();
    let n = cores.len();
    let allowed = n / 1000; // 99.9 %
    let (nan_d, off_d) = compare(&format!("{golden} distance"), &r.distance, &g.col("distance"), 1e-3);
    let (nan_l, off_l) = compare(&format!("{golden} lod"), &r.lod, &g.col("lod"), 1e-3);
    let n1: Vec<f64> = r.n1.iter().map(|&v| f64::from(v)).collect();
    compare(&format!("{golden} n1"), &n1, &g.col("n1"), 0.5);
    assert_eq!(nan_d, 0, "{golden}: NaN pattern of distance differs");
    assert_eq!(nan_l, 0, "{golden}: NaN pattern of lod differs");
    assert!(off_d <= allowed, "{golden}: {off_d} distances off by > 1 mm (allowed {allowed})");
    assert!(off_l <= allowed, "{golden}: {off_l} LoDs off by > 1 mm (allowed {allowed})");
}

#[test]
fn m3c2_synthetic_matches_py4dgeo() {
    check_m3c2("synthetic/syn100k", "epoch1.laz", "epoch2.laz", "syn100k.m3c2.csv", "syn100k.params.json");
}

#[test]
fn m3c2_robust_matches_py4dgeo() {
    check_m3c2("synthetic/syn100k", "epoch1.laz", "epoch2.laz", "syn100k_robust.m3c2.csv", "syn100k_robust.params.json");
}

#[test]
fn m3c2_with_registration_error_matches_py4dgeo() {
    check_m3c2("synthetic/syn100k_misaligned", "epoch1.laz", "epoch2.laz", "syn100k_mis_reg.m3c2.csv", "syn100k_mis_reg.params.json");
}

#[test]
#[ignore = "open: py4dgeo 1.2's epoch-1 cylinder counts on this pair differ from an exact cylinder by +-1 point on almost every core point while normals and all epoch-2 statistics match exactly; see the issue 3 notes"]
fn m3c2_real_toronto_lidar_matches_py4dgeo() {
    check_m3c2("epochs/ttp", "ttp_2015.laz", "ttp_2023.laz", "ttp.m3c2.csv", "ttp.params.json");
}

fn check_c2c(dir: &str, e1: &str, e2: &str, golden: &str) {
    let (a, b) = epochs(dir, e1, e2);
    let r = c2c::compute(&Index::build(&b.positions), &a.positions, None);
    let g = Golden::read(golden);
    let got: Vec<f64> = r.distance.iter().map(|&v| f64::from(v)).collect();
    let (nan, off) = compare(golden, &got, &g.col("c2c_distance"), 1e-4);
    assert_eq!((nan, off), (0, 0), "{golden}");
}

#[test]
fn c2c_matches_py4dgeo() {
    check_c2c("synthetic/syn100k", "epoch1.laz", "epoch2.laz", "syn100k.c2c.csv");
    check_c2c("epochs/ttp", "ttp_2015.laz", "ttp_2023.laz", "ttp.c2c.csv");
}
