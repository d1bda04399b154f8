//! Ground classification (SMRF) on the ISPRS filter-test samples against their reference and
//! against CSF (`cloth-simulation-filter`, its best global setting) in the same run, scored by
//! Python on files reopened by laspy; and the Toronto 2015 survey against its vendor's classes.

mod common;

use common::{data, kizashi};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// Scores of predictions in `dir` (same file names) against the reference files, by laspy.
fn score(refs: &[std::path::PathBuf], dir: &Path, reference_classes: &str) -> Vec<Value> {
    let code = format!(
        "import sys, json, os, laspy, numpy as np\n\
         for f in sys.argv[2:]:\n\
         \x20   r = np.isin(np.asarray(laspy.read(f).classification), [{reference_classes}])\n\
         \x20   p = np.asarray(laspy.read(os.path.join(sys.argv[1], os.path.basename(f))).classification) == 2\n\
         \x20   a = np.sum(r & p); b = np.sum(r & ~p); c = np.sum(~r & p); d = np.sum(~r & ~p); n = a + b + c + d\n\
         \x20   po = (a + d) / n; pe = ((a + b) * (a + c) + (c + d) * (b + d)) / n**2\n\
         \x20   print(json.dumps(dict(file=os.path.basename(f), total=float((b + c) / n), kappa=float((po - pe) / (1 - pe)))))\n"
    );
    let o = Command::new("python3")
        .args(["-c", &code])
        .arg(dir)
        .args(refs)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn mean(rows: &[Value], key: &str) -> f64 {
    rows.iter().map(|r| r[key].as_f64().unwrap()).sum::<f64>() / rows.len() as f64
}

#[test]
fn isprs_samples_beat_csf_with_one_parameter_set() {
    let dir = tempfile::tempdir().unwrap();
    let refs: Vec<_> = ["11", "12", "21", "31", "41", "51", "61"]
        .iter()
        .map(|s| data(&format!("ground/samp{s}.laz")))
        .collect();
    let mut ours_s = 0.0;
    for f in &refs {
        let out = dir.path().join(f.file_name().unwrap());
        let o = Command::new(kizashi())
            .arg("classify")
            .arg(f)
            .arg("-o")
            .arg(&out)
            .arg("--json")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let s: Value = serde_json::from_slice(&o.stdout).unwrap();
        ours_s += s["classify_s"].as_f64().unwrap();
    }
    let ours = score(&refs, dir.path(), "2");
    // CSF, best global setting measured for the issue (cloth 1.0, rigidness 1, slope smoothing).
    let csf_dir = dir.path().join("csf");
    let o = Command::new("python3")
        .arg(common::shared().join("bench/ground/run_csf.py"))
        .args(&refs)
        .args([
            "--cloth",
            "1.0",
            "--rigidness",
            "1",
            "--slope-smooth",
            "--pred",
        ])
        .arg(&csf_dir)
        .output()
        .expect("python3 with cloth-simulation-filter (scripts/setup-debian.sh)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let csf_summary: Value =
        serde_json::from_str(String::from_utf8_lossy(&o.stdout).lines().last().unwrap()).unwrap();
    let csf = score(&refs, &csf_dir, "2");
    let (t, k) = (mean(&ours, "total"), mean(&ours, "kappa"));
    let (ct, ck) = (mean(&csf, "total"), mean(&csf, "kappa"));
    eprintln!(
        "ISPRS 7: ours total {:.2} % kappa {k:.3} ({ours_s:.2} s); CSF total {:.2} % kappa {ck:.3} ({:.2} s)",
        100.0 * t,
        100.0 * ct,
        csf_summary["seconds"]
    );
    for r in &ours {
        eprintln!("  {r}");
    }
    assert!(t <= 0.08 && k >= 0.80, "mean total {t}, kappa {k}");
    assert!(t < ct && k > ck);
}

#[test]
fn toronto_ground_and_low_vegetation_match_the_vendor() {
    let dir = tempfile::tempdir().unwrap();
    let f = data("epochs/ttp/ttp_2015.laz");
    let out = dir.path().join("ttp_2015.laz");
    let o = Command::new(kizashi())
        .arg("classify")
        .arg(&f)
        .arg("-o")
        .arg(&out)
        .args(["--hag", "--json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The vendor's class 3 (low vegetation) lies on the ground (median 2 cm above it): no
    // geometric filter separates it from class 2, so the reference is bare earth + grass.
    let rows = score(&[f], dir.path(), "2, 3");
    let k = rows[0]["kappa"].as_f64().unwrap();
    eprintln!("Toronto 2015 against classes 2 + 3: {}", rows[0]);
    assert!(k >= 0.85, "{k}");
    // Every attribute kept, and the height above ground added.
    let code = "import sys, laspy; a = laspy.read(sys.argv[1]); b = laspy.read(sys.argv[2]); \
                assert len(a.x) == len(b.x) and (a.intensity == b.intensity).all() and \
                (a.gps_time == b.gps_time).all() and 'hag' in b.point_format.dimension_names";
    let o = Command::new("python3")
        .args(["-c", code])
        .arg(data("epochs/ttp/ttp_2015.laz"))
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn unclassified_epochs_classify_on_the_fly_or_in_a_job_step() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    // The Toronto pair with its classes removed.
    for (src, dst) in [("ttp_2015.laz", "u2015.laz"), ("ttp_2023.laz", "u2023.laz")] {
        let code = "import sys, laspy, numpy as np; l = laspy.read(sys.argv[1]); \
                    l.classification = np.zeros(len(l.x), np.uint8); l.write(sys.argv[2])";
        let o = Command::new("python3")
            .args(["-c", code])
            .arg(data(&format!("epochs/ttp/{src}")))
            .arg(p(dst))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let o = Command::new(kizashi())
        .arg("dod")
        .arg(p("u2015.laz"))
        .arg(p("u2023.laz"))
        .args(["--cell", "1", "--ground", "-o"])
        .arg(p("fly.tif"))
        .arg("--json")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let fly: Value = serde_json::from_slice(&o.stdout).unwrap();
    let w = fly["warnings"].to_string();
    assert!(
        w.contains("epoch 1 has no ground class") && w.contains("epoch 2"),
        "{w}"
    );
    let used = fly["points_used"][0].as_u64().unwrap();
    assert!(used > 60_000 && used < 89_815, "{used}");
    // M3C2 and ICP with --ground on the unclassified pair against the vendor's ground: the
    // same change (median within 3 cm, spread far below all points'), and a tighter fit.
    let json = |args: &[&std::ffi::OsStr]| -> Value {
        let o = Command::new(kizashi())
            .args(args)
            .arg("--json")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let (v15, v23) = (
        data("epochs/ttp/ttp_2015.laz"),
        data("epochs/ttp/ttp_2023.laz"),
    );
    let (u15, u23) = (p("u2015.laz"), p("u2023.laz"));
    let distances = |e1: &Path, e2: &Path, ground: bool, out: &str| {
        let mut a: Vec<&std::ffi::OsStr> = vec!["change".as_ref(), e1.as_ref(), e2.as_ref()];
        if ground {
            a.push("--ground".as_ref());
        }
        let o = p(out);
        a.extend(["-o".as_ref(), o.as_os_str()]);
        let s = json(&a);
        let r = kizashi::io::las::read(&o).unwrap().cloud;
        let mut d: Vec<f32> = r.scalar("m3c2_distance").unwrap().values.clone();
        d.retain(|v| v.is_finite());
        d.sort_by(f32::total_cmp);
        let q = |f: f64| d[((d.len() - 1) as f64 * f) as usize];
        (s, q(0.5), q(0.95) - q(0.05))
    };
    let (s_ours, med_ours, spread_ours) = distances(&u15, &u23, true, "ours.laz");
    let (s_vendor, med_vendor, spread_vendor) = distances(&v15, &v23, true, "vendor.laz");
    let (s_all, _, spread_all) = distances(&v15, &v23, false, "all.laz");
    let w = s_ours["warnings"].to_string();
    assert!(
        w.contains("epoch 1 has no ground class") && w.contains("epoch 2"),
        "{w}"
    );
    assert_eq!(s_ours["epoch1_points"].as_u64(), Some(used));
    assert!(s_ours["ground_only"].as_bool().unwrap() && !s_all["ground_only"].as_bool().unwrap());
    // The vendor's file is classified: its own class 2 is taken, no classification here.
    assert!(s_vendor["warnings"].as_array().unwrap().is_empty());
    assert_eq!(s_vendor["epoch1_points"].as_u64(), Some(45_955));
    eprintln!(
        "M3C2 --ground median/spread: ours {med_ours:.3}/{spread_ours:.3}, vendor's \
         {med_vendor:.3}/{spread_vendor:.3}, all points spread {spread_all:.3}"
    );
    assert!(
        (med_ours - med_vendor).abs() < 0.03,
        "{med_ours} {med_vendor}"
    );
    assert!(spread_ours < spread_all / 5.0, "{spread_ours} {spread_all}");
    let rms = |e1: &Path, e2: &Path, ground: bool| {
        let mut a: Vec<&std::ffi::OsStr> = vec!["register".as_ref(), e1.as_ref(), e2.as_ref()];
        if ground {
            a.push("--ground".as_ref());
        }
        let s = json(&a);
        assert_eq!(s["stable"] == "ground", ground, "{}", s["stable"]);
        s["rms"].as_f64().unwrap()
    };
    let (r_all, r_ours) = (rms(&u15, &u23, false), rms(&u15, &u23, true));
    eprintln!("ICP rms: all points {r_all:.3}, --ground {r_ours:.3}");
    assert!(r_ours < 0.6 * r_all, "{r_ours} {r_all}");
    // A job file: [classify] first, the DoD reads the classified copies (no warning), and a
    // second run skips both steps.
    let site = p("site.toml");
    std::fs::write(
        &site,
        format!(
            "[site]\noutput = \"{}\"\n[[epoch]]\npath = \"{}\"\n[[epoch]]\npath = \"{}\"\n\
             [classify]\nhag = true\n[dtm]\ncell = 2.0\n[dod]\ncell = 1.0\nground = true\n",
            p("out").display(),
            p("u2015.laz").display(),
            p("u2023.laz").display()
        ),
    )
    .unwrap();
    common::run_site(&site);
    let rec: Value =
        serde_json::from_slice(&std::fs::read(p("out/dod.tif.json")).unwrap()).unwrap();
    assert!(!rec["warnings"].to_string().contains("no ground class"));
    // The same ground but for f32 rounding at the threshold (the DoD reads epoch 2 in epoch
    // 1's local frame, the classify step in its own).
    for k in 0..2 {
        let (a, b) = (
            rec["points_used"][k].as_i64().unwrap(),
            fly["points_used"][k].as_i64().unwrap(),
        );
        assert!((a - b).abs() <= a / 1000, "{a} vs {b}");
    }
    assert!(p("out/epoch1_classified.laz").exists() && p("out/epoch2_classified.laz").exists());
    // [dtm]: each epoch's TIN through its ground on 2 m cells, reopened by GDAL; the two
    // surveys' bare earth agrees but for the pair's known ~0.5 m bias.
    let dtm = |n: &str| kizashi::io::raster::Raster::open(&p(n)).unwrap();
    let (r1, r2) = (dtm("out/epoch1_dtm.tif"), dtm("out/epoch2_dtm.tif"));
    let (g1, g2) = (r1.info.geotransform.unwrap(), r2.info.geotransform.unwrap());
    assert_eq!((g1.0[1], g2.0[1]), (2.0, 2.0));
    let (z1, z2) = (r1.read_band_f32(1).unwrap(), r2.read_band_f32(1).unwrap());
    let mut dz = Vec::new();
    for (k, a) in z1.iter().enumerate().filter(|(_, a)| a.is_finite()) {
        let (c, r) = (k % r1.info.width, k / r1.info.width);
        let [x, y] = g1.pixel_to_world(c as f64 + 0.5, r as f64 + 0.5);
        let [c2, r2c] = g2.world_to_pixel(x, y).unwrap();
        let (c2, r2c) = (c2.floor(), r2c.floor());
        if c2 >= 0.0
            && r2c >= 0.0
            && (c2 as usize) < r2.info.width
            && (r2c as usize) < r2.info.height
        {
            let b = z2[r2c as usize * r2.info.width + c2 as usize];
            if b.is_finite() {
                dz.push(b - a);
            }
        }
    }
    dz.sort_by(f32::total_cmp);
    assert!(dz.len() > 15_000, "{}", dz.len());
    let med = dz[dz.len() / 2];
    eprintln!("DTM 2023 - 2015 median {med:.3} m over {} cells", dz.len());
    assert!((-0.6..-0.25).contains(&med), "{med}");
    let o = Command::new(kizashi())
        .args(["run", "--json"])
        .arg(&site)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let again = String::from_utf8_lossy(&o.stdout);
    assert!(!again.contains("\"ran\""), "{again}");
}

#[test]
fn dtm_from_ground_points_matches_the_sample_bare_earth() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample_data");
    let out = dir.path().join("dtm.tif");
    let o = Command::new(kizashi())
        .arg("dtm")
        .arg(root.join("epoch1_2025.laz"))
        .args(["--cell", "1", "-o"])
        .arg(&out)
        .arg("--json")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let ours = kizashi::io::raster::Raster::open(&out).unwrap();
    let truth = kizashi::io::raster::Raster::open(&root.join("dtm_2025.tif")).unwrap();
    let (zo, zt) = (
        ours.read_band_f32(1).unwrap(),
        truth.read_band_f32(1).unwrap(),
    );
    let (go, gt) = (
        ours.info.geotransform.unwrap(),
        truth.info.geotransform.unwrap(),
    );
    let mut d = Vec::new();
    for (k, v) in zo.iter().enumerate() {
        let (c, r) = (k % ours.info.width, k / ours.info.width);
        let [x, y] = go.pixel_to_world(c as f64 + 0.5, r as f64 + 0.5);
        let [tc, tr] = gt.world_to_pixel(x, y).unwrap();
        let (tc, tr) = (tc.floor(), tr.floor());
        if v.is_finite() && tc >= 0.0 && tr >= 0.0 {
            let (tc, tr) = (tc as usize, tr as usize);
            if tc < truth.info.width && tr < truth.info.height {
                let t = zt[tr * truth.info.width + tc];
                if t.is_finite() {
                    d.push((v - t).abs());
                }
            }
        }
    }
    d.sort_by(f32::total_cmp);
    let (med, p95) = (d[d.len() / 2], d[d.len() * 95 / 100]);
    eprintln!(
        "DTM vs sample bare earth: {} cells, median {med:.3} m, p95 {p95:.3} m",
        d.len()
    );
    assert!(d.len() > 25_000 && med < 0.05 && p95 < 0.3, "{med} {p95}");
}
