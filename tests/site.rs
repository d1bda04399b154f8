//! Job files (`kizashi run SITE.toml`) and the one rule for parameters: the sample site's
//! whole chain, make-like reruns, misspelt keys, and the same change job through the CLI, a
//! job file and the viewer's code path giving byte-identical results.

mod common;
use common::{data, kizashi};
use kizashi::pipeline::{self, change, Cancel, Silent};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The sample folder copied (job file included) into `dir/sample`; outputs go to `dir/out/site`.
fn sample_site(dir: &Path) -> PathBuf {
    let s = dir.join("sample");
    std::fs::create_dir_all(&s).unwrap();
    for f in [
        "epoch1_2025.laz",
        "epoch2_2026.laz",
        "ortho_2026.tif",
        "site.toml",
    ] {
        std::fs::copy(root().join("sample_data").join(f), s.join(f)).unwrap();
    }
    s.join("site.toml")
}

fn run(job: &Path, extra: &[&str]) -> (Option<i32>, Value, String) {
    let o = Command::new(kizashi())
        .arg("run")
        .arg(job)
        .args(extra)
        .arg("--json")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    let v = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    (o.status.code(), v, err)
}

fn statuses(v: &Value) -> Vec<(String, String)> {
    v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["step"].as_str().unwrap().to_string(),
                s["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn sample_site_runs_whole_then_only_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    let job = sample_site(dir.path());
    let out = dir.path().join("out/site");
    let (code, v, err) = run(&job, &[]);
    assert_eq!(code, Some(0), "{err}");
    let names = ["change", "dod", "objects", "report", "tiles"];
    assert_eq!(
        statuses(&v),
        names
            .iter()
            .map(|n| (n.to_string(), "ran".to_string()))
            .collect::<Vec<_>>()
    );
    // Every output is there and is what its reader expects.
    let result = kizashi::io::las::read(&out.join("change.laz"))
        .unwrap()
        .cloud;
    let d = result.scalar(kizashi::fields::M3C2_DISTANCE).unwrap();
    let change_summary = &v["steps"][0]["summary"];
    assert_eq!(
        change_summary["core_points"].as_u64().unwrap() as usize,
        result.len()
    );
    // Parameters left to the rule are recorded with the spacing they came from: the sample's
    // 5 points/m2 give a 1 m cylinder, as the demo's hand-picked parameters.
    let p = &change_summary["parameters"];
    assert_eq!(p["m3c2"]["cyl_radius"], 1.0, "{p}");
    assert_eq!(p["m3c2"]["normal_radii"], serde_json::json!([1.0, 2.0]));
    assert!(
        (p["derived"]["spacing"].as_f64().unwrap() - 0.447).abs() < 0.01,
        "{p}"
    );
    // The slump's head (-0.35 m) is found.
    let min = d
        .values
        .iter()
        .copied()
        .filter(|x| x.is_finite())
        .fold(f32::INFINITY, f32::min);
    assert!((-0.45..-0.25).contains(&min), "{min}");
    let dod = kizashi::io::raster::Raster::open(&out.join("dod.tif")).unwrap();
    assert_eq!(dod.info.band_count, 4);
    for g in ["objects.geojson", "dod_objects.geojson"] {
        let (objs, _) = kizashi::io::vector::read_objects_geojson(&out.join(g)).unwrap();
        assert!(
            objs.iter().any(|(o, _)| o.sign == "cut") && objs.iter().any(|(o, _)| o.sign == "fill"),
            "{g}"
        );
    }
    let pdf = std::fs::read(out.join("report.pdf")).unwrap();
    assert!(pdf.starts_with(b"%PDF"));
    let ts: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("tiles/tileset.json")).unwrap())
            .unwrap();
    assert_eq!(ts["asset"]["version"], "1.1");
    assert_eq!(
        std::fs::read_dir(out.join("tiles/tiles")).unwrap().count(),
        v["steps"][4]["summary"]["tiles"].as_u64().unwrap() as usize
    );

    // Nothing changed: nothing runs, nothing is rewritten.
    let before = std::fs::metadata(out.join("change.laz"))
        .unwrap()
        .modified()
        .unwrap();
    let (code, v2, err) = run(&job, &[]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        statuses(&v2).iter().all(|(_, s)| s == "skipped"),
        "{:?}",
        statuses(&v2)
    );
    assert_eq!(
        std::fs::metadata(out.join("change.laz"))
            .unwrap()
            .modified()
            .unwrap(),
        before
    );
    eprintln!("second run: {:.2} s", v2["seconds"].as_f64().unwrap());

    // A changed cylinder radius reruns change and what reads its result, not the DoD.
    let text = std::fs::read_to_string(&job)
        .unwrap()
        .replace("cyl_radius = \"auto\"", "cyl_radius = 1.5");
    std::fs::write(&job, text).unwrap();
    let (code, v3, _) = run(&job, &["--dry-run"]);
    assert_eq!(code, Some(0));
    let want = |run: &str, skip: &str| -> Vec<(String, String)> {
        names
            .iter()
            .map(|n| {
                (
                    n.to_string(),
                    if *n == "dod" {
                        skip.to_string()
                    } else {
                        run.to_string()
                    },
                )
            })
            .collect()
    };
    assert_eq!(statuses(&v3), want("would run", "would skip"));
    let (code, v4, err) = run(&job, &[]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(statuses(&v4), want("ran", "skipped"));
    assert_eq!(
        v4["steps"][0]["summary"]["parameters"]["m3c2"]["cyl_radius"],
        1.5
    );
    // --force reruns everything.
    let (_, v5, _) = run(&job, &["--force"]);
    assert!(statuses(&v5).iter().all(|(_, s)| s == "ran"));
}

#[test]
fn misspelt_or_unknown_keys_name_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let job = sample_site(dir.path());
    let text = std::fs::read_to_string(&job).unwrap();
    let line = text
        .lines()
        .position(|l| l.starts_with("cyl_radius"))
        .unwrap()
        + 1;
    std::fs::write(
        &job,
        text.replace("cyl_radius = \"auto\"", "cyl_raduis = 2"),
    )
    .unwrap();
    let (code, _, err) = run(&job, &[]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains(&format!("line {line}"))
            && err.contains("cyl_raduis")
            && err.contains("did you mean `cyl_radius`"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(!dir.path().join("out").exists(), "nothing written");
}

/// The same change job from the CLI (no parameters), a job file (no parameters) and the
/// viewer's code path (its panel filled by the same rule, epochs read as the viewer reads them)
/// writes the same bytes.
#[test]
fn cli_job_file_and_viewer_path_give_byte_identical_results() {
    let dir = tempfile::tempdir().unwrap();
    let (e1, e2) = (
        root().join("sample_data/epoch1_2025.laz"),
        root().join("sample_data/epoch2_2026.laz"),
    );
    let cli = dir.path().join("cli.laz");
    let o = Command::new(kizashi())
        .arg("change")
        .arg(&e1)
        .arg(&e2)
        .arg("-o")
        .arg(&cli)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("parameters from epoch 1's density"),
        "the derived parameters are printed: {stdout}"
    );

    let job = dir.path().join("site.toml");
    std::fs::write(&job, format!("[site]\noutput = \"job\"\n[[epoch]]\npath = \"{}\"\n[[epoch]]\npath = \"{}\"\n[change]\ncsv = false\n", e1.display(), e2.display())).unwrap();
    let (code, _, err) = run(&job, &[]);
    assert_eq!(code, Some(0), "{err}");

    // The viewer: both epochs loaded as its loader does, the panel's defaults from the rule,
    // the panel's job, the viewer's run, "save result".
    let load = |p: &Path| {
        pipeline::load_epoch(
            p,
            kizashi::io::las::Fields::ALL,
            &Silent,
            &Cancel::default(),
        )
        .unwrap()
        .cloud
    };
    let (c1, c2) = (load(&e1), load(&e2));
    let d = pipeline::params::derive_for(&c1);
    let panel = change::Panel {
        method: change::Method::M3c2,
        cyl_radius: d.cyl_radius,
        normal_radii: d.normal_radii.clone(),
        max_distance: d.max_distance,
        registration_error: 0.0,
        robust: false,
        core_spacing: d.core_spacing,
    };
    let (outcome, _) = change::run_change_registered(
        &panel.job(e1.clone(), e2.clone()),
        &c1,
        &c2,
        None,
        &Silent,
        &Cancel::default(),
    )
    .unwrap();
    let viewer = dir.path().join("viewer.laz");
    change::write_result(&viewer, &outcome.result, &outcome.summary).unwrap();

    // The viewer's "save result" never writes over an epoch.
    let copy = dir.path().join("e1_copy.laz");
    std::fs::copy(&e1, &copy).unwrap();
    let mut s = outcome.summary.clone();
    s.epoch1 = copy.display().to_string();
    let before = std::fs::read(&copy).unwrap();
    assert!(change::write_result(&copy, &outcome.result, &s)
        .unwrap_err()
        .to_string()
        .contains("is an input"));
    assert!(std::fs::read(&copy).unwrap() == before);

    let bytes = std::fs::read(&cli).unwrap();
    assert!(bytes.len() > 10_000);
    assert!(
        std::fs::read(dir.path().join("job/change.laz")).unwrap() == bytes,
        "job file result differs from the CLI's"
    );
    assert!(
        std::fs::read(&viewer).unwrap() == bytes,
        "viewer result differs from the CLI's"
    );
}

/// Toronto with no parameters: the density rule (5 m cylinders for ~0.5 points/m2 airborne
/// data) leaves few empty cylinders; the old fixed 1 m defaults left 52 % NaN.
#[test]
fn toronto_without_parameters_uses_the_density_rule() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.laz");
    let o = Command::new(kizashi())
        .arg("change")
        .arg(data("epochs/ttp/ttp_2015.laz"))
        .arg(data("epochs/ttp/ttp_2023.laz"))
        .arg("-o")
        .arg(&out)
        .arg("--json")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s: Value = serde_json::from_slice(&o.stdout).unwrap();
    let (nan, n) = (
        s["nan"].as_f64().unwrap(),
        s["core_points"].as_f64().unwrap(),
    );
    // 12 % with the core cubes anchored to the CRS origin (tiling-independent), 11 % when
    // they were anchored to the data's centre: which point starts a cube is chance.
    assert!(nan / n <= 0.13, "{nan} NaN of {n}");
    assert_eq!(
        s["parameters"]["m3c2"]["cyl_radius"], 5.0,
        "{}",
        s["parameters"]
    );
    // Recorded beside the result as the same typed summary.
    let side: change::ChangeSummary =
        serde_json::from_str(&std::fs::read_to_string(format!("{}.json", out.display())).unwrap())
            .unwrap();
    assert_eq!(side.parameters.m3c2.unwrap().normal_radii, vec![5.0, 10.0]);
    assert!(side.parameters.derived.is_some());
}
