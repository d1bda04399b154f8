//! Helpers shared by the integration tests: where the shared real data lives, and its manifest.
#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `../shared` beside the checkout (CI lays it there), or `KIZASHI_SHARED`.
pub fn shared() -> PathBuf {
    let p = std::env::var_os("KIZASHI_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    assert!(
        p.join("data/MANIFEST.tsv").exists(),
        "shared data not found at {} (set KIZASHI_SHARED)",
        p.display()
    );
    p
}

pub fn data(rel: &str) -> PathBuf {
    shared().join("data").join(rel)
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub path: String,
    pub format: String,
    pub point_count: Option<u64>,
    pub crs: String,
    /// [minx, miny, (minz), maxx, maxy, (maxz)] as written.
    pub bbox: Vec<f64>,
    pub bbox_text: String,
}

/// Rows of `shared/data/MANIFEST.tsv`.
pub fn manifest() -> Vec<Entry> {
    let text = std::fs::read_to_string(shared().join("data/MANIFEST.tsv")).expect("manifest");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split('\t').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("column {name}"))
    };
    let (ip, ifm, ic, icrs, ib) = (
        col("local_path"),
        col("format_version_pf"),
        col("point_count"),
        col("crs"),
        col("bbox"),
    );
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let get = |i: usize| f.get(i).copied().unwrap_or("").to_string();
            let bbox_text = get(ib);
            let bbox = bbox_text
                .split([',', ' '])
                .filter_map(|t| t.trim().parse::<f64>().ok())
                .collect();
            Entry {
                path: get(ip),
                format: get(ifm),
                point_count: get(ic).trim().parse().ok(),
                crs: get(icrs),
                bbox,
                bbox_text,
            }
        })
        .collect()
}

/// The kizashi binary built for this test run.
pub fn kizashi() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kizashi"))
}

/// `kizashi run SITE.toml`, which must succeed.
pub fn run_site(site: &Path) {
    let o = Command::new(kizashi())
        .arg("run")
        .arg(site)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "kizashi run {}: {}",
        site.display(),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Khronos glTF-Validator over every glb under `dir` (tests/js/validate_gltf.js): its JSON.
pub fn gltf_validator(dir: &Path) -> Value {
    let node_dir =
        std::env::var("KIZASHI_NODE_DIR").unwrap_or_else(|_| "/var/cache/kizashi/node".into());
    let o = Command::new("node")
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/js/validate_gltf.js"))
        .arg(dir)
        .env("NODE_PATH", Path::new(&node_dir).join("node_modules"))
        .output()
        .expect("node (scripts/setup-debian.sh installs it and gltf-validator)");
    let text = String::from_utf8_lossy(&o.stdout);
    let v: Value = serde_json::from_str(text.trim()).unwrap_or_else(|_| {
        panic!(
            "validator output: {text} {}",
            String::from_utf8_lossy(&o.stderr)
        )
    });
    // "0 errors" over no file at all proves nothing.
    assert!(
        v["files"].as_u64().unwrap_or(0) > 0,
        "no glb files in {}: {v}",
        dir.display()
    );
    v
}

/// The shared structural check of a tileset (every point inside its tile's volume).
pub fn check_bounds(dir: &Path) -> String {
    let o = Command::new("python3")
        .arg(shared().join("bench/tiles/check_bounds.py"))
        .arg(dir)
        .output()
        .expect("python3");
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        o.status.success(),
        "check_bounds failed:\n{text}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    text
}

/// The real client: CesiumJS in headless Chromium (../shared/bench/tiles/cesium_screenshot.sh)
/// loads the tileset in `dir`, coloured by `prop`, and saves `png`; its JSON report.
pub fn cesium(dir: &Path, png: &Path, prop: &str) -> Value {
    let node_dir =
        std::env::var("KIZASHI_NODE_DIR").unwrap_or_else(|_| "/var/cache/kizashi/node".into());
    let o = Command::new("bash")
        .arg(shared().join("bench/tiles/cesium_screenshot.sh"))
        .arg(dir)
        .arg(png)
        .args(["--shaderProp", prop, "--range", "-1,1", "--timeout", "300"])
        .env(
            "TILES_NODE_MODULES",
            Path::new(&node_dir).join("node_modules"),
        )
        .output()
        .expect("bash");
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "cesium check failed:\n{text}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_str(text.trim()).unwrap_or_else(|_| panic!("cesium output: {text}"))
}
