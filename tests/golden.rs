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
        let rows = lines
            .filter(|l| !l.is_empty())
            .map(|l| {
                l.split(',')
                    .map(|v| v.parse::<f64>().unwrap_or(f64::NAN))
                    .collect()
            })
            .collect();
        Golden { cols, rows }
    }
    fn col(&self, name: &str) -> Vec<f64> {
        let i = self
            .cols
            .iter()
            .position(|c| c == name)
            .unwrap_or_else(|| panic!("column {name}"));
        self.rows.iter().map(|r| r[i]).collect()
    }
}

struct Params {
    p: m3c2::Params,
}

fn params(name: &str) -> Params {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(shared().join("golden").join(name)).unwrap())
            .unwrap();
    let o = &v["orientation_vector"];
    Params {
        p: m3c2::Params {
            cyl_radius: v["cyl_radius"].as_f64().unwrap(),
            normal_radii: v["normal_radii"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_f64().unwrap())
                .collect(),
            max_distance: v["max_distance"].as_f64().unwrap(),
            registration_error: v["registration_error"].as_f64().unwrap(),
            robust: v["robust_aggr"].as_bool().unwrap(),
            orientation: Orientation::Vector([
                o[0].as_f64().unwrap(),
                o[1].as_f64().unwrap(),
                o[2].as_f64().unwrap(),
            ]),
            ..Default::default()
        },
    }
}

/// Both epochs in epoch 1's local frame, epoch-1 points in file order.
fn epochs(dir: &str, e1: &str, e2: &str) -> (kizashi::PointCloud, kizashi::PointCloud) {
    let a = las::read_with(
        &data(&format!("{dir}/{e1}")),
        las::Fields::POSITIONS,
        |_, _| true,
    )
    .unwrap()
    .cloud;
    let mut b = las::read_with(
        &data(&format!("{dir}/{e2}")),
        las::Fields::POSITIONS,
        |_, _| true,
    )
    .unwrap()
    .cloud;
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
    eprintln!(
        "{label}: {nan_mismatch} NaN mismatches, {off} of {} beyond {tol} (worst {worst:.6})",
        got.len()
    );
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
        let w = [
            a.origin[0] + f64::from(c[0]),
            a.origin[1] + f64::from(c[1]),
            a.origin[2] + f64::from(c[2]),
        ];
        assert!(
            (w[0] - gx[i]).abs() < 1e-3
                && (w[1] - gy[i]).abs() < 1e-3
                && (w[2] - gz[i]).abs() < 1e-3,
            "core {i}"
        );
    }
    let p = params(params_file).p;
    let cell = m3c2::column_size(&p);
    let (ia, ib) = (
        Columns::build(&a.positions, cell),
        Columns::build(&b.positions, cell),
    );
    let (r, _) = m3c2::compute(
        &ia,
        &ib,
        &cores,
        None,
        &p,
        &|_, _| {},
        &AtomicBool::new(false),
    )
    .unwrap();
    let n = cores.len();
    let allowed = n / 1000; // 99.9 %
    let (nan_d, off_d) = compare(
        &format!("{golden} distance"),
        &r.distance,
        &g.col("distance"),
        1e-3,
    );
    let (nan_l, off_l) = compare(&format!("{golden} lod"), &r.lod, &g.col("lod"), 1e-3);
    // The cylinders hold the same points as py4dgeo's (counts exact, same NaN where empty).
    let n1: Vec<f64> = r.n1.iter().map(|&v| f64::from(v)).collect();
    let n2: Vec<f64> = r.n2.iter().map(|&v| f64::from(v)).collect();
    let (nan_n1, off_n1) = compare(&format!("{golden} n1"), &n1, &g.col("n1"), 0.5);
    let (nan_n2, off_n2) = compare(&format!("{golden} n2"), &n2, &g.col("n2"), 0.5);
    assert_eq!(
        (nan_n1, nan_n2),
        (0, 0),
        "{golden}: NaN pattern of the counts differs"
    );
    assert!(
        off_n1 <= allowed && off_n2 <= allowed,
        "{golden}: {off_n1} n1 and {off_n2} n2 counts differ from py4dgeo (allowed {allowed})"
    );
    assert_eq!(nan_d, 0, "{golden}: NaN pattern of distance differs");
    assert_eq!(nan_l, 0, "{golden}: NaN pattern of lod differs");
    assert!(
        off_d <= allowed,
        "{golden}: {off_d} distances off by > 1 mm (allowed {allowed})"
    );
    assert!(
        off_l <= allowed,
        "{golden}: {off_l} LoDs off by > 1 mm (allowed {allowed})"
    );
}

#[test]
fn m3c2_synthetic_matches_py4dgeo() {
    check_m3c2(
        "synthetic/syn100k",
        "epoch1.laz",
        "epoch2.laz",
        "syn100k.m3c2.csv",
        "syn100k.params.json",
    );
}

#[test]
fn m3c2_robust_matches_py4dgeo() {
    check_m3c2(
        "synthetic/syn100k",
        "epoch1.laz",
        "epoch2.laz",
        "syn100k_robust.m3c2.csv",
        "syn100k_robust.params.json",
    );
}

#[test]
fn m3c2_with_registration_error_matches_py4dgeo() {
    check_m3c2(
        "synthetic/syn100k_misaligned",
        "epoch1.laz",
        "epoch2.laz",
        "syn100k_mis_reg.m3c2.csv",
        "syn100k_mis_reg.params.json",
    );
}

/// Toronto (real airborne lidar, cyl 3 m, max distance 10 m). py4dgeo 1.2 gathers a cylinder as
/// N = ceil(L / r) slabs, each kept with a strict |t| < L / N about its midpoint. With N even
/// (10 / 3 -> 4) a slab boundary passes through the core point itself, an epoch-1 point, which
/// then falls in both neighbouring slabs or in neither, as the rounding of the slab midpoints in
/// absolute coordinates goes (a coin no other implementation can reproduce: it turns on the
/// last bits of py4dgeo's own normal). The golden's n1 is the exact count +1 or -1 on 8981 of
/// 8982 core points. The synthetic cases (3 / 1 -> 3 slabs) have no boundary at the core point
/// and match without this.
///
/// So this test checks two things: our M3C2 equals an exact cylinder computed here by brute
/// force, and that exact cylinder, with the core point counted as py4dgeo's n1 says (0 or 2
/// times), gives py4dgeo's distance and LoD within 1 mm on >= 99.9 % of core points, with the
/// same NaN pattern.
#[test]
fn m3c2_real_toronto_lidar_matches_py4dgeo_up_to_its_slab_quirk() {
    let (a, b) = epochs("epochs/ttp", "ttp_2015.laz", "ttp_2023.laz");
    let cores: Vec<[f32; 3]> = a.positions.iter().step_by(10).copied().collect();
    let g = Golden::read("ttp.m3c2.csv");
    assert_eq!(cores.len(), g.rows.len());
    let p = params("ttp.params.json").p;
    let cell = m3c2::column_size(&p);
    let (ca, cb) = (
        Columns::build(&a.positions, cell),
        Columns::build(&b.positions, cell),
    );
    let (r, _) = m3c2::compute(
        &ca,
        &cb,
        &cores,
        None,
        &p,
        &|_, _| {},
        &AtomicBool::new(false),
    )
    .unwrap();
    let (ia, ib) = (Index::build(&a.positions), Index::build(&b.positions));
    let (rad, len) = (p.cyl_radius, p.max_distance);
    let reach = (rad * rad + len * len).sqrt() as f32 + 1e-3;
    // Positions along the axis of the points in the exact cylinder.
    let along = |ix: &Index<'_>, c: [f32; 3], n: [f64; 3]| {
        let mut t = Vec::new();
        ix.within(&c, reach, |q, _| {
            let d = [0, 1, 2].map(|k| f64::from(q[k]) - f64::from(c[k]));
            let tt = d[0] * n[0] + d[1] * n[1] + d[2] * n[2];
            let perp2 = (0..3).map(|k| (d[k] - tt * n[k]).powi(2)).sum::<f64>();
            if perp2 <= rad * rad && tt.abs() <= len {
                t.push(tt);
            }
        });
        t
    };
    let stats = |t: &[f64]| {
        let n = t.len() as f64;
        let m = t.iter().sum::<f64>() / n;
        let s = (t.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        (m, s, n)
    };
    let (gd, gl, gn1, gn2) = (g.col("distance"), g.col("lod"), g.col("n1"), g.col("n2"));
    let (gnx, gny, gnz) = (g.col("nx"), g.col("ny"), g.col("nz"));
    let (mut ours_off, mut quirk_off, mut nan_off, mut normal_off, mut n2_off, mut counted) =
        (0, 0, 0, 0, 0, [0usize; 4]);
    for i in 0..cores.len() {
        let nf = r.normal[i];
        if nf[0].is_nan() {
            nan_off += usize::from(!gd[i].is_nan());
            continue;
        }
        let n = nf.map(f64::from);
        if !gnx[i].is_nan()
            && ((n[0] - gnx[i]).abs() > 1e-4
                || (n[1] - gny[i]).abs() > 1e-4
                || (n[2] - gnz[i]).abs() > 1e-4)
        {
            normal_off += 1;
        }
        let (t1, t2) = (along(&ia, cores[i], n), along(&ib, cores[i], n));
        // Ours = the exact cylinder.
        let same = t1.len() as u32 == r.n1[i] && t2.len() as u32 == r.n2[i] && {
            let want = if t1.is_empty() || t2.is_empty() {
                f64::NAN
            } else {
                stats(&t2).0 - stats(&t1).0
            };
            (want.is_nan() && r.distance[i].is_nan()) || (want - r.distance[i]).abs() < 1e-6
        };
        ours_off += usize::from(!same);
        // py4dgeo = the exact cylinder with the core point (t = 0) counted `copies` times.
        n2_off += usize::from(gn2[i] != t2.len() as f64 && !gd[i].is_nan());
        let copies = gn1[i] - t1.len() as f64 + 1.0;
        counted[(copies.max(0.0) as usize).min(3)] += 1;
        let mut q1: Vec<f64> = t1.iter().copied().filter(|v| *v != 0.0).collect();
        let zeros = t1.len() - q1.len();
        q1.extend(std::iter::repeat_n(
            0.0,
            (zeros as f64 - 1.0 + copies).max(0.0) as usize,
        ));
        let (d, lod) = if q1.is_empty() || t2.is_empty() {
            (f64::NAN, f64::NAN)
        } else {
            let ((m1, s1, n1), (m2, s2, n2)) = (stats(&q1), stats(&t2));
            (
                m2 - m1,
                1.96 * ((s1 * s1 / n1 + s2 * s2 / n2).sqrt() + p.registration_error),
            )
        };
        let close = |x: f64, y: f64| (x.is_nan() && y.is_nan()) || (x - y).abs() <= 1e-3;
        if d.is_nan() != gd[i].is_nan() {
            nan_off += 1;
        } else if !close(d, gd[i]) || !close(lod, gl[i]) {
            quirk_off += 1;
        }
    }
    let allowed = cores.len() / 1000;
    eprintln!(
        "Toronto: core point counted 0/1/2/3+ times by py4dgeo: {counted:?}; ours vs exact cylinder: {ours_off} differ; \
         golden vs exact cylinder + quirk: {quirk_off} beyond 1 mm, {nan_off} NaN mismatches; normals off: {normal_off}; n2 off: {n2_off}"
    );
    assert!(
        counted[0] + counted[2] >= cores.len() * 8 / 10,
        "the quirk explains n1: {counted:?}"
    );
    assert!(
        ours_off <= allowed,
        "{ours_off} core points differ from the exact cylinder"
    );
    assert!(
        normal_off <= allowed,
        "{normal_off} normals differ from py4dgeo's"
    );
    assert!(
        n2_off <= allowed,
        "{n2_off} epoch-2 counts differ from py4dgeo's"
    );
    assert!(nan_off <= allowed, "{nan_off} NaN mismatches");
    assert!(
        quirk_off <= allowed,
        "{quirk_off} core points beyond 1 mm of py4dgeo"
    );
}

fn check_c2c(dir: &str, e1: &str, e2: &str, golden: &str) {
    let (a, b) = epochs(dir, e1, e2);
    let g = Golden::read(golden);
    // Both exact searches: the kd-tree (ICP's) and the columns (`kizashi change --method c2c`),
    // the latter at its own cell size (~6 points) and with ~3x smaller and larger cells.
    let kd = c2c::compute(&Index::build(&b.positions), &a.positions, None);
    let cell = c2c::column_size(&b.positions);
    for r in std::iter::once(kd).chain([1.0, 0.3, 3.0].map(|k| {
        let cols = Columns::build(&b.positions, cell * k);
        c2c::compute_with(|q| cols.nearest(q), &a.positions, None)
    })) {
        let got: Vec<f64> = r.distance.iter().map(|&v| f64::from(v)).collect();
        let (nan, off) = compare(golden, &got, &g.col("c2c_distance"), 1e-4);
        assert_eq!((nan, off), (0, 0), "{golden}");
    }
}

#[test]
fn c2c_matches_py4dgeo() {
    check_c2c(
        "synthetic/syn100k",
        "epoch1.laz",
        "epoch2.laz",
        "syn100k.c2c.csv",
    );
    check_c2c("epochs/ttp", "ttp_2015.laz", "ttp_2023.laz", "ttp.c2c.csv");
}
