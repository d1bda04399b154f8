//! Scale-out: a job file planned into tiles with halos, the tiles run locally (`kizashi run
//! PLAN/ --jobs 2`), on Dask (a LocalCluster of 2 workers through scripts/dask_run.py) and as
//! the Slurm array script's tasks, merged — and the merged products equal the untiled run's:
//! the same core points with the same M3C2 values, the same DoD cells, the same change
//! objects; the merged tileset passes glTF-Validator and the bounds check. A killed tile is
//! named by the merge and is the only one a rerun redoes.

mod common;
use common::{cesium, check_bounds, data, gltf_validator, kizashi};
use serde_json::Value;
use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs kizashi; exit code, stdout as JSON (Null if none), stderr.
fn cli<S: AsRef<OsStr>>(args: &[S]) -> (Option<i32>, Value, String) {
    let o = Command::new(kizashi()).args(args).output().unwrap();
    (
        o.status.code(),
        serde_json::from_slice(&o.stdout).unwrap_or(Value::Null),
        String::from_utf8_lossy(&o.stderr).to_string(),
    )
}

fn ok<S: AsRef<OsStr>>(args: &[S]) -> Value {
    let (code, v, err) = cli(args);
    assert_eq!(code, Some(0), "{err}");
    v
}

/// `kizashi plan JOB --tile-size SIZE -o PLAN [extra] --json`: the manifest.
fn plan_tiles(job: &Path, size: &str, plan: &Path, extra: &[&str]) -> Value {
    let mut a: Vec<&OsStr> = vec![
        OsStr::new("plan"),
        job.as_os_str(),
        OsStr::new("--tile-size"),
        OsStr::new(size),
        OsStr::new("-o"),
        plan.as_os_str(),
        OsStr::new("--json"),
    ];
    a.extend(extra.iter().map(OsStr::new));
    ok(&a)
}

/// `kizashi run PLAN --jobs 2 --json`: what ran, what was skipped.
fn run_tiles(plan: &Path) -> Value {
    ok(&[
        OsStr::new("run"),
        plan.as_os_str(),
        OsStr::new("--jobs"),
        OsStr::new("2"),
        OsStr::new("--json"),
    ])
}

/// `kizashi merge PLAN -o OUT --json`.
fn merge_tiles(plan: &Path, out: &Path) -> (Option<i32>, Value, String) {
    cli(&[
        OsStr::new("merge"),
        plan.as_os_str(),
        OsStr::new("-o"),
        out.as_os_str(),
        OsStr::new("--json"),
    ])
}

fn ok_merge(plan: &Path, out: &Path) -> Value {
    let (code, v, err) = merge_tiles(plan, out);
    assert_eq!(code, Some(0), "{err}");
    v
}

/// Dask: scripts/dask_run.py on a LocalCluster of 2 workers; its JSON summary.
fn dask(plan: &Path) -> Value {
    let o = Command::new("python3")
        .arg(root().join("scripts/dask_run.py"))
        .arg(plan)
        .args(["--local", "2", "--kizashi"])
        .arg(kizashi())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "dask_run: {text}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_str(&text).unwrap()
}

/// A job file over two epochs with `steps`, writing to `dir/whole`.
fn site(dir: &Path, e1: &Path, e2: &Path, steps: &str) -> PathBuf {
    let f = dir.join("site.toml");
    let text = format!(
        "[site]\nname = \"tiled\"\noutput = \"whole\"\n\n[[epoch]]\npath = \"{}\"\ndate = 2015-05-01\n\n[[epoch]]\npath = \"{}\"\ndate = 2023-05-01\n\n{steps}",
        e1.display(),
        e2.display()
    );
    std::fs::write(&f, text).unwrap();
    f
}

/// A tile size giving at least 2 x 2 tiles over the file.
fn quarter(file: &Path) -> String {
    let b = kizashi::io::las::read_header(file).unwrap().bounds;
    let side = (b.max[0] - b.min[0]).min(b.max[1] - b.min[1]);
    format!("{}", (side / 2.0 * 0.95).floor())
}

/// Core points by position (mm) -> (distance, lod, significant).
fn m3c2_by_point(file: &Path) -> HashMap<[i64; 3], [f32; 3]> {
    let c = kizashi::io::las::read(file).unwrap().cloud;
    let col = |n: &str| c.scalar(n).unwrap().values.clone();
    let (d, l, s) = (
        col(kizashi::fields::M3C2_DISTANCE),
        col(kizashi::fields::M3C2_LOD),
        col(kizashi::fields::M3C2_SIGNIFICANT),
    );
    let mut m = HashMap::new();
    for i in 0..c.len() {
        let w = c.world(i).map(|v| (v * 1000.0).round() as i64);
        assert!(
            m.insert(w, [d[i], l[i], s[i]]).is_none(),
            "core point twice: {w:?}"
        );
    }
    m
}

/// Same core points, values within 0.01 mm (only float rounding may differ).
fn same_m3c2(whole: &Path, merged: &Path) -> usize {
    let (a, b) = (m3c2_by_point(whole), m3c2_by_point(merged));
    assert_eq!(a.len(), b.len(), "core point counts");
    let mut nan = 0;
    for (p, x) in &a {
        let y = b
            .get(p)
            .unwrap_or_else(|| panic!("core point {p:?} missing in the merge"));
        for k in 0..2 {
            if x[k].is_nan() {
                assert!(y[k].is_nan(), "{p:?}: {x:?} vs {y:?}");
                nan += 1;
            } else {
                assert!((x[k] - y[k]).abs() <= 1e-5, "{p:?}: {x:?} vs {y:?}");
            }
        }
        // Significance flips only where |distance| sits on the LoD.
        if x[2] != y[2] {
            assert!((x[0].abs() - x[1]).abs() < 1e-5, "{p:?}: {x:?} vs {y:?}");
        }
    }
    assert!(nan < a.len() / 2);
    a.len()
}

/// Same grid, same cells (all four bands).
fn same_dod(whole: &Path, merged: &Path) -> usize {
    let (a, b) = (
        kizashi::io::raster::Raster::open(whole).unwrap(),
        kizashi::io::raster::Raster::open(merged).unwrap(),
    );
    assert_eq!((a.info.width, a.info.height), (b.info.width, b.info.height));
    let (ga, gb) = (
        a.info.geotransform.unwrap().0,
        b.info.geotransform.unwrap().0,
    );
    assert!(
        (0..6).all(|k| (ga[k] - gb[k]).abs() < 1e-9),
        "{ga:?} {gb:?}"
    );
    let mut cells = 0;
    for band in 1..=4 {
        let (x, y) = (
            a.read_band_f32(band).unwrap(),
            b.read_band_f32(band).unwrap(),
        );
        for i in 0..x.len() {
            if x[i].is_nan() {
                assert!(y[i].is_nan(), "band {band} cell {i}: {} vs {}", x[i], y[i]);
            } else {
                assert!(
                    (x[i] - y[i]).abs() <= 1e-5,
                    "band {band} cell {i}: {} vs {}",
                    x[i],
                    y[i]
                );
                cells += usize::from(band == 1);
            }
        }
    }
    assert!(cells > 100);
    cells
}

/// Objects' (area, volume), largest first.
fn objects(file: &Path) -> Vec<(f64, f64)> {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let mut o: Vec<(f64, f64)> = v["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let p = &f["properties"];
            (
                p["area_m2"].as_f64().unwrap(),
                p["volume_m3"].as_f64().unwrap(),
            )
        })
        .collect();
    o.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.total_cmp(&a.1)));
    o
}

fn same_objects(whole: &Path, merged: &Path) -> usize {
    let (a, b) = (objects(whole), objects(merged));
    assert_eq!(a.len(), b.len(), "{a:?}\n{b:?}");
    for (x, y) in a.iter().zip(&b) {
        assert!((x.0 - y.0).abs() <= 1e-3 * x.0.abs(), "{x:?} {y:?}");
        assert!(
            (x.1 - y.1).abs() <= 1e-3 * x.1.abs().max(1e-3),
            "{x:?} {y:?}"
        );
    }
    a.len()
}

const SAMPLE_STEPS: &str = "[change]\nmethod = \"m3c2\"\n\n[dod]\ncell = 2.0\nground = true\nmin_area = 8.0\n\n[objects]\nmin_area = 8.0\n\n[report]\nlang = \"en\"\n\n[tiles]\n";

/// The sample survey: untiled run, a 2 x 2+ plan run locally and merged; equal products; a
/// tileset the validators accept; one report; the same plan on Dask, and as the Slurm array
/// script's tasks.
#[test]
fn sample_survey_tiled_equals_untiled() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (e1, e2) = (
        root().join("sample_data/epoch1_2025.laz"),
        root().join("sample_data/epoch2_2026.laz"),
    );
    let job = site(d, &e1, &e2, SAMPLE_STEPS);
    ok(&[OsStr::new("run"), job.as_os_str(), OsStr::new("--json")]);
    let plan = d.join("plan");
    let size = quarter(&e1);
    let m = plan_tiles(&job, &size, &plan, &["--slurm"]);
    let tiles = m["tiles"].as_array().unwrap().len();
    assert!(tiles >= 4, "{m}");
    // Derived once for the whole run: the tile jobs carry the untiled run's parameters.
    let whole_change: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("whole/change.laz.json")).unwrap())
            .unwrap();
    assert_eq!(
        m["change"]["m3c2"]["cyl_radius"],
        whole_change["parameters"]["m3c2"]["cyl_radius"]
    );
    let r = run_tiles(&plan);
    assert_eq!(r["ran"].as_array().unwrap().len(), tiles, "{r}");
    let out = d.join("merged");
    let s = ok_merge(&plan, &out);
    let w = d.join("whole");
    let cores = same_m3c2(&w.join("change.laz"), &out.join("change.laz"));
    assert_eq!(s["core_points"].as_u64(), Some(cores as u64));
    same_dod(&w.join("dod.tif"), &out.join("dod.tif"));
    assert!(
        same_objects(
            &w.join("dod_objects.geojson"),
            &out.join("dod_objects.geojson")
        ) > 0
    );
    assert!(same_objects(&w.join("objects.geojson"), &out.join("objects.geojson")) > 0);
    // The mosaic is a Cloud Optimized GeoTIFF (GDAL says so).
    let info = Command::new("gdalinfo")
        .arg(out.join("dod.tif"))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&info.stdout).contains("LAYOUT=COG"),
        "{}",
        String::from_utf8_lossy(&info.stdout)
    );
    // One report over the merged products.
    let pdf = std::fs::read(out.join("report.pdf")).unwrap();
    assert!(pdf.starts_with(b"%PDF"));
    // One tileset: every tile's as an external tileset, all points inside their volumes.
    let ts: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("tiles/tileset.json")).unwrap())
            .unwrap();
    assert_eq!(ts["root"]["children"].as_array().unwrap().len(), tiles);
    let v = gltf_validator(&out.join("tiles"));
    assert_eq!(v["errors"], 0, "{v}");
    let text = check_bounds(&out.join("tiles"));
    assert!(text.contains("tiles_outside=0"), "{text}");
    let checked: usize = text
        .split("tiles_checked=")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .and_then(|t| t.parse().ok())
        .unwrap();
    assert!(checked >= tiles, "{text}");

    // The same plan again, run on Dask: the same result.
    let plan2 = d.join("plan_dask");
    plan_tiles(&job, &size, &plan2, &[]);
    assert_eq!(dask(&plan2)["ran"].as_array().unwrap().len(), tiles);
    ok_merge(&plan2, &d.join("merged_dask"));
    same_m3c2(&w.join("change.laz"), &d.join("merged_dask/change.laz"));
    same_dod(&w.join("dod.tif"), &d.join("merged_dask/dod.tif"));

    // The Slurm array script, its tasks run as Slurm would run them (one per tile).
    let script = plan.join("run.sbatch");
    let text = std::fs::read_to_string(&script).unwrap();
    assert!(
        text.contains(&format!("#SBATCH --array=0-{}", tiles - 1)),
        "{text}"
    );
    // Task 0's tile is gone (outputs and records): it runs again; the others are finished and
    // skip every step.
    let first = m["tiles"][0]["output"].as_str().unwrap();
    std::fs::remove_dir_all(plan.join(first)).unwrap();
    for k in 0..tiles {
        let o = Command::new("bash")
            .arg(&script)
            .env("SLURM_ARRAY_TASK_ID", k.to_string())
            .env("KIZASHI", kizashi())
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        // `kizashi run` prints one line per step: "STEP STATUS SECONDS s OUTPUTS".
        let text = String::from_utf8_lossy(&o.stdout);
        let statuses: Vec<&str> = text
            .lines()
            .filter(|l| l.contains(" s  "))
            .filter_map(|l| l.split_whitespace().nth(1))
            .collect();
        let want = if k == 0 { "ran" } else { "skipped" };
        assert!(
            statuses.len() >= 3 && statuses.iter().all(|s| *s == want),
            "task {k}: {text}"
        );
    }
    assert!(plan.join(first).join(".kizashi/done.json").exists());
    ok_merge(&plan, &d.join("merged_slurm"));
    same_m3c2(&w.join("change.laz"), &d.join("merged_slurm/change.laz"));
}

/// The Toronto pair (real airborne lidar, EPSG:2958): M3C2 and DoD, tiles on Dask's
/// LocalCluster (2 workers), merged = untiled; then a tile's process killed mid-run: the merge
/// names it, and rerunning the plan redoes only that tile.
#[test]
fn toronto_pair_on_dask_then_a_killed_tile() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (e1, e2) = (
        data("epochs/ttp/ttp_2015.laz"),
        data("epochs/ttp/ttp_2023.laz"),
    );
    let steps = "[change]\nmethod = \"m3c2\"\ncore_spacing = 2.0\ncyl_radius = 3.0\nnormal_radii = [3.0, 6.0]\nmax_distance = 6.0\n\n[dod]\ncell = 2.0\nmin_area = 20.0\n\n[tiles]\nattributes = [\"m3c2_distance\"]\ngeoid_offset = -36.0\n";
    let job = site(d, &e1, &e2, steps);
    ok(&[OsStr::new("run"), job.as_os_str(), OsStr::new("--json")]);
    let plan = d.join("plan");
    let size = quarter(&e1);
    let m = plan_tiles(&job, &size, &plan, &[]);
    let tiles: Vec<String> = m["tiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect();
    assert!(tiles.len() >= 4, "{m}");
    let v = dask(&plan);
    assert_eq!(v["ran"].as_array().unwrap().len(), tiles.len(), "{v}");
    let out = d.join("merged");
    let merge = |out: &Path| merge_tiles(&plan, out);
    let (code, s, err) = merge(&out);
    assert_eq!(code, Some(0), "{err}");
    let w = d.join("whole");
    let cores = same_m3c2(&w.join("change.laz"), &out.join("change.laz"));
    same_dod(&w.join("dod.tif"), &out.join("dod.tif"));
    assert!(
        same_objects(
            &w.join("dod_objects.geojson"),
            &out.join("dod_objects.geojson")
        ) > 0
    );
    // The real client: CesiumJS (headless Chromium) loads the merged tileset, through every
    // external tileset, and counts every core point.
    let c = cesium(&out.join("tiles"), &d.join("cesium.png"), "m3c2_distance");
    assert_eq!(c["ok"], true, "{c}");
    assert_eq!(c["pointsLoaded"].as_u64(), Some(cores as u64), "{c}");
    assert_eq!(s["core_points"].as_u64(), Some(cores as u64));
    assert_eq!(c["failedRequests"].as_array().map(Vec::len), Some(0), "{c}");
    let v = gltf_validator(&out.join("tiles"));
    assert_eq!(v["errors"], 0, "{v}");
    assert!(check_bounds(&out.join("tiles")).contains("tiles_outside=0"));

    // Kill one tile's process while it runs (after it dropped its completion record).
    let victim = &tiles[1];
    let done = plan.join("tiles").join(victim).join(".kizashi/done.json");
    assert!(done.exists());
    let mut child = Command::new(kizashi())
        .arg("run")
        .arg(plan.join("tiles").join(format!("{victim}.toml")))
        .arg("--force")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    while done.exists() {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!done.exists(), "the tile finished before it was killed");
    let (code, _, err) = merge(&d.join("merged2"));
    assert_eq!(code, Some(1));
    assert!(
        err.contains(&format!("{victim} (not finished)")) && err.contains("1 of"),
        "{err}"
    );
    assert!(!d.join("merged2/change.laz").exists());
    // --dry-run says where every tile stands.
    let st = ok(&[
        OsStr::new("run"),
        plan.as_os_str(),
        OsStr::new("--dry-run"),
        OsStr::new("--json"),
    ]);
    let missing: Vec<&str> = st
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t[1]["state"] != "done")
        .map(|t| t[0].as_str().unwrap())
        .collect();
    assert_eq!(missing, [victim.as_str()], "{st}");
    // The rerun redoes only the killed tile; then the merge goes through.
    let r = run_tiles(&plan);
    assert_eq!(r["ran"], serde_json::json!([victim]), "{r}");
    assert_eq!(r["skipped"].as_array().unwrap().len(), tiles.len() - 1);
    let (code, _, err) = merge(&plan.join("out"));
    assert_eq!(code, Some(1));
    assert!(err.contains("inside the plan"), "{err}");
    let (code, _, err) = merge(&d.join("merged2"));
    assert_eq!(code, Some(0), "{err}");
    same_m3c2(&w.join("change.laz"), &d.join("merged2/change.laz"));
}

/// An epoch as a glob of survey tiles (the sample epochs cut into 2 x 2 files by laspy): the
/// untiled run reads them all; each planned tile reads only the files that meet it; merged =
/// untiled.
#[test]
fn glob_of_survey_files_each_tile_reads_what_meets_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let split = r#"
import sys, laspy, numpy as np
src, dst, name = sys.argv[1], sys.argv[2], sys.argv[3]
f = laspy.read(src)
mx, my = (f.header.mins[0] + f.header.maxs[0]) / 2, (f.header.mins[1] + f.header.maxs[1]) / 2
for i, fx in enumerate([f.x < mx, f.x >= mx]):
    for j, fy in enumerate([f.y < my, f.y >= my]):
        out = laspy.LasData(f.header)
        out.points = f.points[fx & fy]
        out.write(f"{dst}/{name}_{j}{i}.laz")
"#;
    for (k, e) in ["epoch1_2025", "epoch2_2026"].iter().enumerate() {
        let o = Command::new("python3")
            .args(["-c", split])
            .arg(root().join(format!("sample_data/{e}.laz")))
            .arg(d)
            .arg(format!("e{}", k + 1))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let job = site(
        d,
        &d.join("e1_*.laz"),
        &d.join("e2_*.laz"),
        "[change]\nmethod = \"m3c2\"\n",
    );
    ok(&[OsStr::new("run"), job.as_os_str(), OsStr::new("--json")]);
    let plan = d.join("plan");
    let m = plan_tiles(&job, "60", &plan, &[]);
    let tiles = m["tiles"].as_array().unwrap();
    assert!(tiles.len() >= 9, "{m}");
    // A corner tile meets one file of each epoch (the halo is far smaller than a file).
    let fewest = tiles
        .iter()
        .map(|t| t["inputs"].as_array().unwrap().len())
        .min()
        .unwrap();
    assert_eq!(fewest, 2, "{m}");
    run_tiles(&plan);
    let out = d.join("merged");
    ok_merge(&plan, &out);
    same_m3c2(&d.join("whole/change.laz"), &out.join("change.laz"));
}

/// Plans refuse what cannot be tiled, with the reason.
#[test]
fn plan_refuses_what_cannot_be_tiled() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let e = root().join("sample_data/epoch1_2025.laz");
    for (steps, size, want) in [
        ("[change]\ncore_step = 10\n", "50", "core_spacing"),
        ("[register]\n[change]\n", "50", "register first"),
        ("[change]\nmethod = \"c2c\"\n", "50", "max_distance"),
        (
            "[change]\nground = true\n",
            "50",
            "derives them from the ground points",
        ),
        ("[dtm]\ncell = 1.0\n[change]\n", "50", "kizashi dtm"),
        ("[change]\n", "0", "tile size must be positive"),
    ] {
        let job = site(d, &e, &root().join("sample_data/epoch2_2026.laz"), steps);
        let (code, _, err) = cli(&[
            OsStr::new("plan"),
            job.as_os_str(),
            OsStr::new("--tile-size"),
            OsStr::new(size),
            OsStr::new("-o"),
            d.join("plan").as_os_str(),
        ]);
        assert_eq!(code, Some(1), "{steps}");
        assert!(err.contains(want), "{steps}: {err}");
    }
}

/// COPC area reads decode only the octree nodes meeting the area, and keep exactly the points
/// (in the same order) that a whole read keeps there: every COPC file of the shared data.
#[test]
fn copc_area_reads_decode_only_the_nodes_they_need() {
    use kizashi::io::las::{contains, read_area, read_with, Fields};
    let mut skipped_some = false;
    for rel in [
        "las/las-rs/autzen.copc.laz",
        "las/laspy/simple.copc.laz",
        "las/laspy/simple_with_page.copc.laz",
        "las/pdal/1.2-with-color.copc.laz",
        "las/pdal/autzen_clip_native.copc.laz",
    ] {
        let f = data(rel);
        let all = read_with(&f, Fields::ALL, |_, _| true).unwrap().cloud;
        let b = all.bounds();
        // Edges between the files' 1 cm (or finer) steps: no point lies on them.
        let mid = |k: usize| ((b.min[k] + b.max[k]) / 2.0 * 100.0).floor() / 100.0 + 0.0043;
        let a = [b.min[0] - 1.0, b.min[1] - 1.0, mid(0), mid(1)];
        let mut decoded = 0;
        let part = read_area(&f, Fields::ALL, Some(a), None, |d, _| {
            decoded = d;
            true
        })
        .unwrap()
        .cloud;
        let inside: Vec<usize> = (0..all.len())
            .filter(|&i| contains(&a, all.world(i)))
            .collect();
        assert_eq!(part.len(), inside.len(), "{rel}");
        for (k, &i) in inside.iter().enumerate() {
            let (p, q) = (all.world(i), part.world(k));
            assert!(
                (0..3).all(|d| (p[d] - q[d]).abs() < 1e-3),
                "{rel}: {p:?} {q:?}"
            );
        }
        assert_eq!(
            all.intensity
                .as_ref()
                .map(|v| inside.iter().map(|&i| v[i]).collect::<Vec<_>>()),
            part.intensity.clone(),
            "{rel}"
        );
        assert!(decoded as usize >= inside.len() && decoded as usize <= all.len());
        skipped_some |= (decoded as usize) < all.len() * 3 / 4;
    }
    assert!(skipped_some, "no COPC file had nodes to skip");
}
