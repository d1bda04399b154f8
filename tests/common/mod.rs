//! Helpers shared by the integration tests: where the shared real data lives, and its manifest.
#![allow(dead_code)]

use std::path::PathBuf;

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
