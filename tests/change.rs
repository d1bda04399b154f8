//! `kizashi change` as engineers run it: outputs, core-point sources, and refusals.

mod common;

use common::{data, kizashi};
use kizashi::analysis::m3c2;
use kizashi::io::las;
use kizashi::pipeline::change::{read_xyz_text, run_change, ChangeJob, Cores, Method};
use kizashi::pipeline::{Cancel, Silent};
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn job(e1: PathBuf, e2: PathBuf) -> ChangeJob {
    ChangeJob {
        epoch1: e1,
        epoch2: e2,
        method: Method::M3c2,
        cores: Some(Cores::Step(10)),
        m3c2: m3c2::Params {
            cyl_radius: 1.0,
            normal_radii: vec![1.0, 2.0],
            max_distance: 2.0,
            ..Default::default()
        }
        .into(),
        output: None,
        csv: None,
        area: None,
        heights: Default::default(),
        ground: false,
    }
}

#[test]
fn sample_survey_deformation_is_found_where_it_was_made() {
    let j = job(
        root().join("sample_data/epoch1_2025.laz"),
        root().join("sample_data/epoch2_2026.laz"),
    );
    let out = run_change(&j, &Silent, &Cancel::default()).unwrap();
    let r = &out.result;
    let d = &r.scalar("m3c2_distance").unwrap().values;
    let sig = &r.scalar("m3c2_significant").unwrap().values;
    let nz = &r.scalar("normal_z").unwrap().values;
    let (mut checked, mut moved_found, mut stable_flagged, mut stable) = (0, 0, 0, 0);
    for i in 0..r.len() {
        if d[i].is_nan() {
            continue;
        }
        let w = r.world(i);
        let (u, v) = (
            w[0] - kizashi::demo::SITE_ORIGIN[0],
            w[1] - kizashi::demo::SITE_ORIGIN[1],
        );
        let dz = kizashi::demo::true_dz(u, v);
        // The displacement is vertical; M3C2 measures it along the normal.
        let want = dz * f64::from(nz[i]);
        if dz.abs() > 0.15 {
            checked += 1;
            assert!(
                (f64::from(d[i]) - want).abs() < 0.06,
                "core {i} at ({u:.1},{v:.1}): {} vs {want:.3}",
                d[i]
            );
            if sig[i] == 1.0 {
                moved_found += 1;
            }
        } else if dz == 0.0 {
            stable += 1;
            if sig[i] == 1.0 {
                stable_flagged += 1;
            }
        }
    }
    assert!(checked > 100, "{checked}");
    assert_eq!(
        moved_found, checked,
        "every core point that moved > 15 cm is significant"
    );
    // 1 cm noise: the 95 % level of detection flags about 5 % of stable ground.
    let share = stable_flagged as f64 / stable as f64;
    assert!(
        share < 0.08,
        "{stable_flagged} of {stable} stable core points flagged"
    );
}

#[test]
fn cli_writes_laz_csv_and_sidecar_in_the_documented_layout() {
    let dir = tempfile::tempdir().unwrap();
    let (o, c) = (dir.path().join("r.laz"), dir.path().join("r.csv"));
    let out = Command::new(kizashi())
        .args([
            "change",
            "--method",
            "m3c2",
            "--core-step",
            "50",
            "--cyl-radius",
            "1",
            "--normal-radii",
            "0.5,1,2",
            "--max-distance",
            "3",
            "--json",
        ])
        .arg(data("synthetic/syn100k/epoch1.laz"))
        .arg(data("synthetic/syn100k/epoch2.laz"))
        .arg("-o")
        .arg(&o)
        .arg("--csv")
        .arg(&c)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["core_points"], 2000);
    assert_eq!(s["nan"], 0);
    for k in [
        "read_s",
        "index_s",
        "normals_s",
        "distances_s",
        "write_s",
        "m3c2_s",
    ] {
        assert!(s["timings"][k].as_f64().is_some(), "{k}");
    }
    let csv = std::fs::read_to_string(&c).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "x,y,z,nx,ny,nz,distance,lod,spread1,n1,spread2,n2,significant"
    );
    assert_eq!(lines.count(), 2000);
    let back = las::read(&o).unwrap();
    assert_eq!(back.cloud.len(), 2000);
    for f in [
        "m3c2_distance",
        "m3c2_lod",
        "m3c2_significant",
        "m3c2_spread1",
        "m3c2_spread2",
        "m3c2_n1",
        "m3c2_n2",
        "normal_x",
        "normal_y",
        "normal_z",
    ] {
        assert!(back.cloud.scalar(f).is_some(), "{f}");
    }
    assert_eq!(back.cloud.crs.and_then(|c| c.epsg), Some(6677));
    let side: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("r.laz.json")).unwrap())
            .unwrap();
    assert_eq!(side["parameters"]["m3c2"]["cyl_radius"], 1.0);
    assert!(side["epoch1"].as_str().unwrap().ends_with("epoch1.laz"));
}

#[test]
fn core_points_from_a_quoted_csv_and_from_spacing() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cores.csv");
    std::fs::write(&p, "\"ID\";\"X\";\"Y\";\"Z\"\n1;-7981.459;-35954.948;113.901\n2;-7972.006;-35953.837;116.209\n").unwrap();
    assert_eq!(
        read_xyz_text(&p).unwrap(),
        vec![
            [-7981.459, -35954.948, 113.901],
            [-7972.006, -35953.837, 116.209]
        ]
    );
    let mut j = job(
        data("synthetic/syn100k/epoch1.laz"),
        data("synthetic/syn100k/epoch2.laz"),
    );
    j.cores = Some(Cores::File(p));
    j.m3c2 = m3c2::Params::default().into();
    let r = run_change(&j, &Silent, &Cancel::default()).unwrap();
    // The first golden core point: py4dgeo says 0.475778.
    let d = r.result.scalar("m3c2_distance").unwrap().values[0];
    assert!((d - 0.475778).abs() < 1e-3, "{d}");
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "a,b,c\n1,2,3\n").unwrap();
    assert!(read_xyz_text(&bad)
        .unwrap_err()
        .to_string()
        .contains("no X, Y and Z"));
    j.cores = Some(Cores::Spacing(5.0));
    let r = run_change(&j, &Silent, &Cancel::default()).unwrap();
    assert!(
        r.summary.core_points > 100 && r.summary.core_points < 400,
        "{}",
        r.summary.core_points
    );
}

#[test]
fn bad_inputs_are_refused_with_clear_messages() {
    let dir = tempfile::tempdir().unwrap();
    let e1 = data("synthetic/syn100k/epoch1.laz");
    // Different CRSs: both named.
    let msg = run_change(
        &job(data("epochs/ttp/ttp_2015.laz"), e1.clone()),
        &Silent,
        &Cancel::default(),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(
        msg.contains("EPSG:26917") && msg.contains("EPSG:6677"),
        "{msg}"
    );
    // Epochs that do not overlap.
    let mut far = las::read(&e1).unwrap().cloud;
    far.origin[0] += 10_000.0;
    let fp = dir.path().join("far.laz");
    las::write(&fp, &far, &las::WriteOptions::default()).unwrap();
    let msg = run_change(&job(e1.clone(), fp), &Silent, &Cancel::default())
        .err()
        .unwrap()
        .to_string();
    assert!(msg.contains("do not overlap"), "{msg}");
    // An empty epoch.
    let ep = dir.path().join("empty.laz");
    las::write(
        &ep,
        &kizashi::PointCloud::default(),
        &las::WriteOptions::default(),
    )
    .unwrap();
    let msg = run_change(&job(e1.clone(), ep), &Silent, &Cancel::default())
        .err()
        .unwrap()
        .to_string();
    assert!(msg.contains("epoch 2 has no points"), "{msg}");
    // Radii that make no sense.
    for bad in [0.0, -1.0, f64::NAN] {
        let mut j = job(e1.clone(), e1.clone());
        j.m3c2.cyl_radius = Some(bad);
        let msg = run_change(&j, &Silent, &Cancel::default())
            .err()
            .unwrap()
            .to_string();
        assert!(msg.contains("cylinder radius"), "{msg}");
    }
    let out = Command::new(kizashi())
        .args(["change", "--normal-radii", "0,1"])
        .arg(&e1)
        .arg(&e1)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("normal radius"));
}

/// A CloudCompare qM3C2 parameter file (diameters) gives the same run as the same parameters
/// as flags (radii); a flag given beside the file wins.
#[test]
fn cloudcompare_parameter_file_matches_flags() {
    let dir = tempfile::tempdir().unwrap();
    let ini = dir.path().join("m3c2_params.txt");
    std::fs::write(
        &ini,
        "[General]\nM3C2VER=1\nNormalScale=2\nNormalMode=2\nNormalMinScale=2\nNormalStep=2\nNormalMaxScale=4\nNormalPreferedOri=4\n\
SearchScale=2\nSearchDepth=2\nSubsampleRadius=1\nSubsampleEnabled=true\nRegistrationError=0\nRegistrationErrorEnabled=false\n\
UseMean=true\nUseMedian=false\nUseMin=false\nUsePrctile=false\n",
    )
    .unwrap();
    let e1 = root().join("sample_data/epoch1_2025.laz");
    let e2 = root().join("sample_data/epoch2_2026.laz");
    let run = |args: &[&str]| -> serde_json::Value {
        let o = std::process::Command::new(common::kizashi())
            .arg("change")
            .arg(&e1)
            .arg(&e2)
            .args(args)
            .arg("--json")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let from_file = run(&["--cc-params", ini.to_str().unwrap()]);
    let from_flags = run(&[
        "--core-spacing",
        "1",
        "--cyl-radius",
        "1",
        "--normal-radii",
        "1,2",
        "--max-distance",
        "2",
    ]);
    for k in ["core_points", "nan", "significant", "distance_mean"] {
        assert_eq!(from_file[k], from_flags[k], "{k}");
    }
    assert_eq!(from_file["parameters"]["m3c2"]["cyl_radius"], 1.0);
    assert_eq!(
        from_file["parameters"]["m3c2"]["normal_radii"],
        serde_json::json!([1.0, 2.0])
    );
    let overridden = run(&["--cc-params", ini.to_str().unwrap(), "--cyl-radius", "0.5"]);
    assert_eq!(overridden["parameters"]["m3c2"]["cyl_radius"], 0.5);
    // Not a parameter file: one clear line.
    std::fs::write(&ini, "NormalScale=2\n").unwrap();
    let o = std::process::Command::new(common::kizashi())
        .arg("change")
        .arg(&e1)
        .arg(&e2)
        .args(["--cc-params", ini.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("M3C2VER"));
}

/// `--sensor`: normals point towards a position given in the data CRS. High above the site it
/// is the default "up"; below the ground every normal, and so every distance, flips.
#[test]
fn sensor_position_orients_the_normals() {
    let (e1, e2) = (
        root().join("sample_data/epoch1_2025.laz"),
        root().join("sample_data/epoch2_2026.laz"),
    );
    let run = |o: kizashi::analysis::normals::Orientation| {
        let mut j = job(e1.clone(), e2.clone());
        j.cores = Some(Cores::Step(50));
        j.m3c2.orientation = o;
        let r = run_change(&j, &Silent, &Cancel::default()).unwrap().result;
        r.scalar("m3c2_distance").unwrap().values.clone()
    };
    use kizashi::analysis::normals::Orientation;
    let c = kizashi::demo::SITE_ORIGIN;
    let (up, above, below) = (
        run(Orientation::default()),
        run(Orientation::Sensor([c[0] + 100.0, c[1] + 100.0, 5000.0])),
        run(Orientation::Sensor([c[0] + 100.0, c[1] + 100.0, -5000.0])),
    );
    let finite = up.iter().filter(|d| d.is_finite()).count();
    assert!(finite > 3000, "{finite}");
    for i in 0..up.len() {
        if up[i].is_finite() {
            assert_eq!(above[i], up[i], "core {i}");
            assert_eq!(below[i], -up[i], "core {i}");
        }
    }
    // The CLI flag, and its refusal of a bad position.
    let o = Command::new(kizashi())
        .args(["change"])
        .arg(&e1)
        .arg(&e2)
        .args(["--core-step", "50", "--sensor", "1,2", "--json"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--sensor needs three numbers"));
}

/// Normals supplied with the core points replace the estimated ones: vertical normals on the
/// synthetic uplift plateau measure the full +0.5 m (estimated, slope-normal ones measure
/// 0.5 m x n_z); a result's own normals, fed back through its LAZ, give the same distances.
#[test]
fn core_normals_from_a_csv_and_from_a_result() {
    let dir = tempfile::tempdir().unwrap();
    let golden = std::fs::read_to_string(common::shared().join("golden/syn100k.m3c2.csv")).unwrap();
    let rows: Vec<Vec<f64>> = golden
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    // Plateau core points (truth label 1), CloudCompare's ASCII header names.
    let plateau: Vec<&Vec<f64>> = rows.iter().filter(|r| r[13] == 1.0).collect();
    assert!(plateau.len() > 300);
    let csv = dir.path().join("cores.csv");
    let mut text = String::from("//X,Y,Z,Nx,Ny,Nz\n");
    for r in &plateau {
        text += &format!("{},{},{},0,0,1\n", r[0], r[1], r[2]);
    }
    std::fs::write(&csv, text).unwrap();
    let mut j = job(
        data("synthetic/syn100k/epoch1.laz"),
        data("synthetic/syn100k/epoch2.laz"),
    );
    j.m3c2 = m3c2::Params::default().into();
    j.cores = Some(Cores::FileWithNormals(csv.clone()));
    let out = run_change(&j, &Silent, &Cancel::default()).unwrap();
    let d = &out.result.scalar("m3c2_distance").unwrap().values;
    let nz = &out.result.scalar("normal_z").unwrap().values;
    assert!(nz.iter().all(|&v| v == 1.0));
    let mean = d.iter().map(|&v| f64::from(v)).sum::<f64>() / d.len() as f64;
    assert!(
        (mean - 0.5).abs() < 0.005,
        "vertical M3C2 on the plateau: {mean}"
    );
    assert!(out.summary.parameters.normals_from_file);
    // The same cores with estimated normals: the distance along the slope normal, as py4dgeo's.
    j.cores = Some(Cores::File(csv));
    let est = run_change(&j, &Silent, &Cancel::default()).unwrap();
    let de = &est.result.scalar("m3c2_distance").unwrap().values;
    for (k, r) in plateau.iter().enumerate() {
        assert!(
            (f64::from(de[k]) - r[6]).abs() < 1e-3,
            "core {k}: {} vs py4dgeo {}",
            de[k],
            r[6]
        );
    }

    // A result's LAZ as core points with its normals (CLI): same normals, same distances.
    let first = dir.path().join("first.laz");
    let e1 = data("synthetic/syn100k/epoch1.laz");
    let e2 = data("synthetic/syn100k/epoch2.laz");
    let run = |args: &[&std::ffi::OsStr]| {
        let o = Command::new(kizashi())
            .arg("change")
            .arg(&e1)
            .arg(&e2)
            .args(args)
            .arg("--json")
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (code, _, err) = run(&[
        "--core-step".as_ref(),
        "50".as_ref(),
        "-o".as_ref(),
        first.as_os_str(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    let again = dir.path().join("again.laz");
    let (code, _, err) = run(&[
        "--cores".as_ref(),
        first.as_os_str(),
        "--core-normals".as_ref(),
        "-o".as_ref(),
        again.as_os_str(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    let (a, b) = (
        las::read(&first).unwrap().cloud,
        las::read(&again).unwrap().cloud,
    );
    assert_eq!(a.len(), b.len());
    for f in ["normal_x", "normal_y", "normal_z"] {
        let (x, y) = (&a.scalar(f).unwrap().values, &b.scalar(f).unwrap().values);
        assert!(
            x.iter()
                .zip(y)
                .all(|(p, q)| (p.is_nan() && q.is_nan()) || (p - q).abs() < 1e-6),
            "{f}"
        );
    }
    let (x, y) = (
        &a.scalar("m3c2_distance").unwrap().values,
        &b.scalar("m3c2_distance").unwrap().values,
    );
    let same = x
        .iter()
        .zip(y)
        .filter(|(p, q)| (p.is_nan() && q.is_nan()) || (*p - *q).abs() < 1e-4)
        .count();
    assert!(
        same as f64 >= 0.999 * x.len() as f64,
        "{same} of {}",
        x.len()
    );

    // Refusals: no normal columns, no --cores, C2C.
    let plain = dir.path().join("plain.csv");
    std::fs::write(&plain, "x,y,z\n-7981.459,-35954.948,113.901\n").unwrap();
    let (code, _, err) = run(&[
        "--cores".as_ref(),
        plain.as_os_str(),
        "--core-normals".as_ref(),
    ]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("no normal columns") && err.contains("plain.csv"),
        "{err}"
    );
    let (code, _, err) = run(&["--core-normals".as_ref()]);
    assert_ne!(code, Some(0));
    assert!(err.contains("--cores"), "{err}");
    let (code, _, err) = run(&[
        "--cores".as_ref(),
        first.as_os_str(),
        "--core-normals".as_ref(),
        "--method".as_ref(),
        "c2c".as_ref(),
    ]);
    assert_eq!(code, Some(1));
    assert!(err.contains("C2C"), "{err}");
}
