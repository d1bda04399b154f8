//! Japanese heights: the built-in geoids against japan-geoid's Python twin and against PROJ
//! with the same grid, and a pair of epochs on either side of the 2025-04-01 height revision
//! (converted, or warned about).

mod common;

use common::kizashi;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn py(args: &[&str]) -> String {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/py/heights_dem.py");
    let o = Command::new("python3")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 with pyproj, japan-geoid, laspy (scripts/setup-debian.sh)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

fn run_json(args: &[&str]) -> Value {
    let o = Command::new(kizashi()).args(args).output().unwrap();
    assert!(
        o.status.success(),
        "kizashi {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("JSON summary")
}

fn sample(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("sample_data")
        .join(name)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// ECEF -> ellipsoidal height (GRS80; JGD2011 and WGS 84 share the axes here).
fn ellipsoidal_height(e: [f64; 3]) -> f64 {
    let (a, f) = (6_378_137.0f64, 1.0 / 298.257_222_101);
    let b = a * (1.0 - f);
    let e2 = 1.0 - (b * b) / (a * a);
    let p = e[0].hypot(e[1]);
    let mut lat = (e[2] / (p * (1.0 - e2))).atan();
    let mut h = 0.0;
    for _ in 0..10 {
        let n = a / (1.0 - e2 * lat.sin().powi(2)).sqrt();
        h = p / lat.cos() - n;
        lat = (e[2] / (p * (1.0 - e2 * n / (n + h)))).atan();
    }
    h
}

#[test]
fn built_in_geoids_equal_japan_geoid_at_20_points() {
    // Land points from Wakkanai to Ishigaki (JGD2011 longitude, latitude).
    let pts = [
        (141.6730, 45.4156),
        (141.3544, 43.0618),
        (144.3814, 43.0667),
        (140.7402, 40.8246),
        (141.1527, 39.7036),
        (140.8719, 38.2682),
        (139.0364, 37.9161),
        (140.1233, 35.6047),
        (139.6917, 35.6895),
        (138.5686, 35.6642),
        (138.3828, 34.9756),
        (136.9066, 35.1815),
        (135.7681, 35.0116),
        (135.5023, 34.6937),
        (133.9350, 34.6618),
        (132.4553, 34.3853),
        (131.4706, 34.1858),
        (130.4017, 33.5904),
        (130.5581, 31.5602),
        (124.1557, 24.3448),
    ];
    let args: Vec<String> = pts.iter().map(|(x, y)| format!("{x},{y}")).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let reference: Vec<[f64; 2]> =
        serde_json::from_str(&py(&[&["geoid"], args.as_slice()].concat())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut worst: f64 = 0.0;
    for (k, (lon, lat)) in pts.iter().enumerate() {
        // One survey point at H = 0 m: the exported ellipsoidal height is the undulation.
        let las = dir.path().join(format!("p{k}.las"));
        let code = format!(
            "import laspy, pyproj, numpy as np; h = laspy.LasHeader(point_format=1, version='1.4'); \
             h.scales = [1e-7, 1e-7, 0.001]; h.offsets = [{lon}, {lat}, 0]; \
             h.add_crs(pyproj.CRS.from_epsg(6668)); l = laspy.LasData(h); \
             l.x = np.array([{lon}]); l.y = np.array([{lat}]); l.z = np.array([0.0]); l.write('{}')",
            las.display()
        );
        let o = Command::new("python3")
            .args(["-c", &code])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        for (m, model) in ["gsigeo2011", "jpgeo2024"].iter().enumerate() {
            let out = dir.path().join(format!("t{k}{model}"));
            let summary = run_json(&[
                "export",
                "tiles",
                s(&las),
                "-o",
                s(&out),
                "--geoid",
                model,
                "--json",
            ]);
            let ecef: Vec<f64> = summary["root_ecef"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            let h = ellipsoidal_height([ecef[0], ecef[1], ecef[2]]);
            let d = (h - reference[k][m]).abs();
            worst = worst.max(d);
            assert!(
                d < 0.001,
                "{model} at {lon}, {lat}: ours {h:.4}, japan-geoid {:.4}",
                reference[k][m]
            );
            let ts: Value =
                serde_json::from_slice(&std::fs::read(out.join("tileset.json")).unwrap()).unwrap();
            assert_eq!(ts["asset"]["extras"]["geoid"], *model);
        }
    }
    eprintln!("20 points x 2 models: worst |ours - japan-geoid| = {worst:.2e} m");
}

#[test]
fn tileset_root_equals_proj_with_the_same_grid() {
    let dir = tempfile::tempdir().unwrap();
    let tmerc = "+proj=tmerc +lat_0=36 +lon_0=132.166666666667 +k=0.9999 +x_0=0 +y_0=0 \
                 +ellps=GRS80 +units=m +no_defs +type=crs";
    for model in ["jpgeo2024", "gsigeo2011"] {
        let out = dir.path().join(model);
        let summary = run_json(&[
            "export",
            "tiles",
            s(&sample("epoch1_2025.laz")),
            "-o",
            s(&out),
            "--geoid",
            model,
            "--json",
        ]);
        let ts: Value =
            serde_json::from_slice(&std::fs::read(out.join("tileset.json")).unwrap()).unwrap();
        let extras = &ts["asset"]["extras"];
        assert!(
            extras["geoid_model"]
                .as_str()
                .unwrap()
                .contains(if model == "jpgeo2024" {
                    "JPGEO2024"
                } else {
                    "GSIGEO2011"
                }),
            "{extras}"
        );
        // The model's own nodes around the site as a GeoTIFF, then PROJ: tmerc + geoidgrids.
        let xyz = dir.path().join(format!("{model}.xyz"));
        let tif = dir.path().join(format!("{model}.tif"));
        py(&[
            "geoid-xyz",
            model,
            "131.4",
            "34.1",
            "131.6",
            "34.3",
            s(&xyz),
        ]);
        let o = Command::new("gdal_translate")
            .args(["-q", "-a_srs", "EPSG:6668", s(&xyz), s(&tif)])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let c = &summary["centre"];
        let input = format!("{} {} {}\n", c[0], c[1], c[2]);
        let mut child = Command::new("gdaltransform")
            .args([
                "-s_srs",
                &format!("{tmerc} +geoidgrids={}", tif.display()),
                "-t_srs",
                "EPSG:4978",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let o = child.wait_with_output().unwrap();
        let proj: Vec<f64> = String::from_utf8_lossy(&o.stdout)
            .split_whitespace()
            .map(|v| v.parse().unwrap())
            .collect();
        let ours: Vec<f64> = summary["root_ecef"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let d = (0..3)
            .map(|k| (ours[k] - proj[k]).powi(2))
            .sum::<f64>()
            .sqrt();
        eprintln!("{model}: root vs PROJ {d:.4} m");
        assert!(d < 0.01, "{model}: ours {ours:?}, PROJ {proj:?}");
    }
}

fn dod_mean(summary: &Value) -> f64 {
    let v = &summary["volumes"];
    let cell = summary["grid"]["cell"].as_f64().unwrap();
    v["net_all_m3"].as_f64().unwrap() / (v["cells_both"].as_f64().unwrap() * cell * cell)
}

#[test]
fn a_pair_across_the_2025_height_revision_is_converted_or_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    // Epoch 1 surveyed 2024-10-01 (GSIGEO2011 heights); epoch 2 2026-06-12 heighted with the
    // new geoid: the same ground reads lower by JPGEO2024 + Hrefconv2024 - GSIGEO2011.
    py(&[
        "set-date",
        s(&sample("epoch1_2025.laz")),
        s(&p("e1.laz")),
        "2024-10-01",
    ]);
    py(&[
        "shift-heights",
        s(&sample("epoch2_2026.laz")),
        s(&p("e2new.laz")),
        "gsigeo2011",
        "jpgeo2024",
        "2026-06-12",
    ]);
    let e1 = p("e1.laz");
    let dod = |e2: &Path, out: &str, extra: &[&str]| {
        let mut a = vec!["dod", s(&e1), s(e2), "--cell", "2", "-o"];
        let o = p(out);
        a.push(s(&o));
        a.extend_from_slice(extra);
        a.push("--json");
        run_json(&a)
    };
    let truth = dod(&sample("epoch2_2026.laz"), "truth.tif", &[]);
    let raw = dod(&p("e2new.laz"), "raw.tif", &[]);
    let converted = dod(
        &p("e2new.laz"),
        "conv.tif",
        &["--heights1", "gsigeo2011", "--heights2", "jpgeo2024"],
    );
    let by_date = dod(&p("e2new.laz"), "date.tif", &["--heights-by-date"]);
    let (t, r, c, d) = (
        dod_mean(&truth),
        dod_mean(&raw),
        dod_mean(&converted),
        dod_mean(&by_date),
    );
    eprintln!("mean change: true {t:.4}, unconverted {r:.4}, converted {c:.4}, by date {d:.4}");
    // Without conversion: a uniform false subsidence of ~0.111 m at the site.
    assert!((r - t + 0.111).abs() < 0.005, "{r} vs {t}");
    assert!((c - t).abs() < 0.002, "{c} vs {t}");
    assert!((d - t).abs() < 0.002, "{d} vs {t}");
    let warned = raw["warnings"].to_string();
    assert!(
        warned.contains("2025-04-01") && warned.contains("0.111"),
        "{warned}"
    );
    assert!(!converted["warnings"].to_string().contains("not known"));
    assert_eq!(converted["heights"]["converted"], true);
    assert_eq!(
        by_date["heights"]["epoch2"],
        "jpgeo2024 (survey date 2026-06-12)"
    );
    let shift = converted["heights"]["mean_shift_m"].as_f64().unwrap();
    assert!((shift - 0.111).abs() < 0.002, "{shift}");

    // The same from a job file: each epoch's system in its [[epoch]] table.
    let site = p("site.toml");
    std::fs::write(
        &site,
        format!(
            "[site]\noutput = \"{}\"\n[[epoch]]\npath = \"{}\"\nheights = \"gsigeo2011\"\n\
             [[epoch]]\npath = \"{}\"\nheights = \"jpgeo2024\"\n[dod]\ncell = 2.0\n",
            s(&p("site_out")),
            s(&e1),
            s(&p("e2new.laz"))
        ),
    )
    .unwrap();
    common::run_site(&site);
    let rec: Value =
        serde_json::from_slice(&std::fs::read(p("site_out/dod.tif.json")).unwrap()).unwrap();
    assert!((dod_mean(&rec) - t).abs() < 0.002, "{rec}");
    assert_eq!(rec["heights"]["epoch1"], "gsigeo2011 (job)");

    // M3C2 sees the same: converted, the mean distance is the true one.
    let change = |e2: &Path, extra: &[&str]| {
        let mut a = vec!["change", s(&e1), s(e2)];
        a.extend_from_slice(extra);
        a.push("--json");
        run_json(&a)["distance_mean"].as_f64().unwrap()
    };
    let (mt, mc) = (
        change(&sample("epoch2_2026.laz"), &[]),
        change(&p("e2new.laz"), &["--heights-by-date"]),
    );
    assert!((mt - mc).abs() < 0.002, "M3C2 mean {mc} vs {mt}");
}
