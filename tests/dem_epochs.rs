//! DEMs as epochs: the Toronto DTMs against xDEM (plain difference cell by cell, Nuth & Kääb
//! shifts and the NMAD after), GSI's FG-GML DEM5A tile (grid, CRS, heights against an
//! independent parse; mosaicked from tiles in folders and nested zips) and a GSI DEM against a
//! point cloud in another CRS.

mod common;

use common::{data, kizashi};
use kizashi::io::dem::Dem;
use kizashi::io::raster::Raster;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/py/heights_dem.py")
}

fn py_with(python: &str, args: &[&str]) -> String {
    let o = Command::new(python)
        .arg(script())
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{python}: {e} (scripts/setup-debian.sh installs it)"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

/// The xDEM venv's Python (scripts/setup-debian.sh).
fn xdem_python() -> String {
    std::env::var("KIZASHI_XDEM_VENV").unwrap_or_else(|_| "/var/cache/kizashi/xdem-venv".into())
        + "/bin/python"
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn dod(e1: &Path, e2: &Path, out: &Path, extra: &[&str]) -> Value {
    let o = Command::new(kizashi())
        .args(["dod", s(e1), s(e2), "-o", s(out)])
        .args(extra)
        .arg("--json")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).expect("JSON summary")
}

fn gsi_tile() -> PathBuf {
    data("gsi/FG-GML-5238-74-00-DEM5A-20161001.xml")
}

#[test]
fn toronto_dtm_dod_equals_xdem_cell_by_cell() {
    let dir = tempfile::tempdir().unwrap();
    let (r, t) = (
        data("epochs/ttp/ttp_dtm_2015.tif"),
        data("epochs/ttp/ttp_dtm_2023.tif"),
    );
    let out = dir.path().join("dod.tif");
    let summary = dod(&r, &t, &out, &[]);
    // Epoch 1's own grid: 1 m cells, 506 x 760.
    assert_eq!(summary["grid"]["cell"], 1.0);
    assert_eq!(summary["grid"]["width"], 506);
    assert_eq!(summary["grid"]["height"], 760);
    assert_eq!(summary["crs_epsg"], 26917);
    let raw = dir.path().join("xdem.f32");
    py_with(&xdem_python(), &["xdem-dh", s(&r), s(&t), s(&raw)]);
    let reference: Vec<f32> = std::fs::read(&raw)
        .unwrap()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let ours = Raster::open(&out).unwrap().read_band_f32(1).unwrap();
    assert_eq!(ours.len(), reference.len());
    let (mut both, mut worst) = (0, 0.0f32);
    for (a, b) in ours.iter().zip(&reference) {
        assert_eq!(a.is_finite(), b.is_finite(), "no-data masks differ");
        if a.is_finite() {
            both += 1;
            worst = worst.max((a - b).abs());
        }
    }
    eprintln!("{both} cells, worst |ours - xDEM| = {worst:e} m");
    assert!(both > 180_000 && worst < 0.001);
}

#[test]
fn nuth_kaab_matches_xdem_on_the_toronto_dtms() {
    let dir = tempfile::tempdir().unwrap();
    let bench = common::shared().join("bench/dem/run_xdem.py");
    let o = Command::new(xdem_python()).arg(&bench).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let x: Value = serde_json::from_slice(&o.stdout).unwrap();
    let nk = &x["nuth_kaab"]["stable_cells"];
    let xs = ["shift_x_m", "shift_y_m", "shift_z_m"].map(|k| nk[k].as_f64().unwrap());
    let x_nmad = nk["dod_after_on_stable"]["nmad"].as_f64().unwrap();
    let t0 = std::time::Instant::now();
    let out = dir.path().join("dod.tif");
    let summary = dod(
        &data("epochs/ttp/ttp_dtm_2015.tif"),
        &data("epochs/ttp/ttp_dtm_2023.tif"),
        &out,
        &["--coregister", "--stable-dh", "1"],
    );
    let ours_s = t0.elapsed().as_secs_f64();
    let c = &summary["coregistration"];
    let shift: Vec<f64> = c["shift"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    eprintln!(
        "shift ours {shift:?} xDEM {xs:?}; NMAD after ours {} xDEM {x_nmad}; ours {ours_s:.2} s \
         (whole run), xDEM fit {:.2} s",
        c["nmad_after"], nk["fit_s"]
    );
    for k in 0..3 {
        assert!((shift[k] - xs[k]).abs() < 0.05, "{shift:?} vs {xs:?}");
    }
    assert!((c["nmad_after"].as_f64().unwrap() - x_nmad).abs() < 0.002);
    assert!(c["iterations"].as_u64().unwrap() >= 3);
    // The half metre of "subsidence" over the whole park is gone after co-registration.
    let v = &summary["volumes"];
    let mean = v["net_all_m3"].as_f64().unwrap() / v["cells_both"].as_f64().unwrap();
    assert!(mean.abs() < 0.03, "mean dh after co-registration {mean}");
    // Statistics by slope class, the steeper the wider.
    let classes = summary["by_slope"].as_array().unwrap();
    assert_eq!(classes.len(), 5);
    let nmad = |k: usize| classes[k]["nmad"].as_f64().unwrap();
    assert!(nmad(0) < nmad(2), "{classes:?}");

    // The same from a job file: two DEM epochs, [dod] with co-registration.
    let site = dir.path().join("site.toml");
    std::fs::write(
        &site,
        format!(
            "[site]\noutput = \"{}\"\n[[epoch]]\npath = \"{}\"\n[[epoch]]\npath = \"{}\"\n\
             [dod]\ncoregister = true\nstable_dh = 1.0\n",
            s(&dir.path().join("out")),
            s(&data("epochs/ttp/ttp_dtm_2015.tif")),
            s(&data("epochs/ttp/ttp_dtm_2023.tif"))
        ),
    )
    .unwrap();
    common::run_site(&site);
    let rec: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("out/dod.tif.json")).unwrap())
            .unwrap();
    assert_eq!(rec["coregistration"]["shift"], c["shift"]);
    assert_eq!(rec["grid"]["cell"], 1.0);
}

#[test]
fn gsi_dem5a_opens_with_its_grid_crs_and_heights() {
    let d = Dem::open(&gsi_tile()).unwrap();
    let r: Value =
        serde_json::from_str(&py_with("python3", &["gsi-read", s(&gsi_tile())])).unwrap();
    assert_eq!((d.width, d.height), (225, 150));
    assert_eq!(d.crs.as_ref().and_then(|c| c.epsg), Some(6668));
    let res = d.resolution();
    // 0.2" cells: mesh 52387400 spans 0.0125 x 0.00833 degrees.
    assert!((res[0] - 0.2 / 3600.0).abs() < 1e-12 && (res[1] - 0.2 / 3600.0).abs() < 1e-12);
    let e = d.extent();
    assert!((e[0] - 138.5).abs() < 1e-9 && (e[1] - 35.25).abs() < 1e-9);
    assert!((e[2] - 138.5125).abs() < 1e-9 && (e[3] - (35.25 + 30.0 / 3600.0)).abs() < 1e-9);
    for (k, v) in r["first"].as_array().unwrap().iter().enumerate() {
        assert_eq!(d.z[k], v.as_f64().unwrap() as f32);
    }
    let nan = d.z.iter().filter(|v| v.is_nan()).count();
    assert_eq!(nan as u64, r["nodata"].as_u64().unwrap());
    let finite: Vec<f64> =
        d.z.iter()
            .filter(|v| v.is_finite())
            .map(|&v| v.into())
            .collect();
    let mean = finite.iter().sum::<f64>() / finite.len() as f64;
    assert!((mean - r["mean"].as_f64().unwrap()).abs() < 1e-3);
    assert_eq!(d.date, chrono::NaiveDate::from_ymd_opt(2016, 10, 1));
    // The viewer's path (GDAL dataset in memory) gives the same grid.
    let ras = Raster::open(&gsi_tile()).unwrap();
    assert_eq!((ras.info.width, ras.info.height), (225, 150));
    assert_eq!(ras.info.crs.as_ref().and_then(|c| c.epsg), Some(6668));
    let band = ras.read_band_f32(1).unwrap();
    assert!(band
        .iter()
        .zip(&d.z)
        .all(|(a, b)| a == b || (a.is_nan() && b.is_nan())));
}

#[test]
fn gsi_tiles_in_folders_and_nested_zips_mosaic_to_the_tile() {
    let dir = tempfile::tempdir().unwrap();
    let split = dir.path().join("split");
    std::fs::create_dir(&split).unwrap();
    py_with("python3", &["gsi-split", s(&gsi_tile()), s(&split)]);
    let whole = Dem::open(&gsi_tile()).unwrap();
    // A folder of the two XML halves, and the zip (west.xml + inner.zip holding east.xml).
    let folder = dir.path().join("folder");
    std::fs::create_dir(&folder).unwrap();
    for f in ["west.xml", "east.xml"] {
        std::fs::copy(split.join(f), folder.join(f)).unwrap();
    }
    for path in [folder, split.join("tiles.zip")] {
        let m = Dem::open(&path).unwrap();
        assert_eq!((m.width, m.height), (225, 150), "{}", m.source);
        assert!(m.source.starts_with("2 GSI"), "{}", m.source);
        for (a, b) in m.gt.0.iter().zip(&whole.gt.0) {
            assert!((a - b).abs() < 1e-12, "{:?} vs {:?}", m.gt, whole.gt);
        }
        assert!(m
            .z
            .iter()
            .zip(&whole.z)
            .all(|(a, b)| a == b || (a.is_nan() && b.is_nan())));
    }
    // A broken tile: an error naming it, no output.
    let bad = dir.path().join("bad.xml");
    std::fs::write(&bad, "<Dataset><DEM><coverage>").unwrap();
    let out = dir.path().join("never.tif");
    let o = Command::new(kizashi())
        .args(["dod", s(&bad), s(&gsi_tile()), "-o", s(&out)])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.xml") && err.contains("FG-GML"), "{err}");
    assert!(!out.exists());
}

#[test]
fn gsi_dem_against_a_point_cloud_in_another_crs() {
    let dir = tempfile::tempdir().unwrap();
    // 300 k points on the DEM (bilinear) 0.30 m higher, in JGD2011 / Plane Rectangular VIII.
    let cloud = dir.path().join("cloud.las");
    py_with(
        "python3",
        &[
            "gsi-cloud",
            s(&gsi_tile()),
            "6676",
            "0.3",
            "300000",
            s(&cloud),
        ],
    );
    let out = dir.path().join("dod.tif");
    let summary = dod(&gsi_tile(), &cloud, &out, &[]);
    assert_eq!(summary["crs_epsg"], 6676);
    let cell = summary["grid"]["cell"].as_f64().unwrap();
    assert!((cell - 5.6).abs() < 0.2, "{cell}");
    let band = Raster::open(&out).unwrap().read_band_f32(1).unwrap();
    let mut d: Vec<f32> = band.into_iter().filter(|v| v.is_finite()).collect();
    d.sort_by(f32::total_cmp);
    let median = d[d.len() / 2];
    eprintln!("GSI DEM vs cloud: {} cells, median {median}", d.len());
    assert!(d.len() > 10_000 && (median - 0.3).abs() < 0.02, "{median}");
    // The other way round: the cloud gives the grid, the DEM is sampled (metric cell from it).
    let summary = dod(
        &cloud,
        &gsi_tile(),
        &dir.path().join("rev.tif"),
        &["--cell", "5"],
    );
    assert_eq!(summary["crs_epsg"], 6676);
    let band = Raster::open(&dir.path().join("rev.tif"))
        .unwrap()
        .read_band_f32(1)
        .unwrap();
    let mut d: Vec<f32> = band.into_iter().filter(|v| v.is_finite()).collect();
    d.sort_by(f32::total_cmp);
    let median = d[d.len() / 2];
    assert!((median + 0.3).abs() < 0.02, "{median}");
}
