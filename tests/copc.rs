//! COPC export (`kizashi export copc`) checked by independent readers: copclib (the reference
//! C++ library, PyPI) and copc.js (npm `copc`, what web viewers use) read the hierarchy and
//! every point back, compared with laspy's read of the source; las-rs's own COPC reader and
//! our area reads agree too.

mod common;

use common::{data, kizashi};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn export(input: &Path, out: &Path, extra: &[&str]) -> Value {
    let o = Command::new(kizashi())
        .args(["export", "copc"])
        .arg(input)
        .arg("-o")
        .arg(out)
        .args(extra)
        .arg("--json")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// tests/py/copc_check.py: copclib against laspy, and copc.js's read when `js` is given.
fn check(src: &Path, out: &Path, js: Option<&Path>) -> Value {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let o = Command::new("python3")
        .arg(root.join("tests/py/copc_check.py"))
        .arg(src)
        .arg(out)
        .args(js)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// tests/js/copc_read.js's output for `out`, saved as `json`.
fn copc_js(out: &Path, json: &Path) {
    let node_dir =
        std::env::var("KIZASHI_NODE_DIR").unwrap_or_else(|_| "/var/cache/kizashi/node".into());
    let o = Command::new("node")
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/js/copc_read.js"))
        .arg(out)
        .env("NODE_PATH", Path::new(&node_dir).join("node_modules"))
        .output()
        .expect("node (scripts/setup-debian.sh installs it and copc)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::write(json, &o.stdout).unwrap();
}

#[test]
fn every_point_and_attribute_read_back_by_copclib_and_copc_js() {
    let dir = tempfile::tempdir().unwrap();
    let sample = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample_data");
    // (source, leaf points, what it exercises)
    let cases: [(PathBuf, &str); 7] = [
        (data("epochs/ttp/ttp_2015.laz"), "5000"), // real lidar, format 6, 4 levels
        (sample.join("epoch2_2026.laz"), "20000"), // RGB and an f32 extra field (true_dz)
        (data("las/las-rs/autzen.copc.laz"), "100000"), // a COPC file in
        (data("las/laspy/extra.laz"), "100"),      // five extra-bytes dimensions
        (data("las/pdal/1.2-with-color.las"), "200"), // legacy format 3 -> 7
        (data("las/laspy/fullwave.laz"), "2000"),  // format 10 (NIR, waveform) -> 8
        (data("las/laspy/1_4_w_evlr.laz"), "100000"), // EVLRs in
    ];
    for (k, (src, leaf)) in cases.iter().enumerate() {
        let out = dir.path().join(format!("c{k}.copc.laz"));
        let s = export(src, &out, &["--leaf-points", leaf]);
        // copc.js 0.0.8 refuses the deprecated extra-bytes array types (laspy's extra.laz).
        let js = dir.path().join(format!("c{k}.js.json"));
        let js = (!src.ends_with("extra.laz")).then(|| {
            copc_js(&out, &js);
            js
        });
        let c = check(src, &out, js.as_deref());
        eprintln!("{}: {s}\n  {c}", src.display());
        assert_eq!(
            c["mismatched"],
            serde_json::json!([]),
            "{}: {c}",
            src.display()
        );
        let js_ok = c["copcjs_mismatched"] == serde_json::json!([]);
        assert!(js_ok || js.is_none(), "copc.js: {}: {c}", src.display());
        assert!(c["bounds_valid"].as_bool().unwrap(), "{c}");
        assert_eq!(c["nodes"], s["nodes"]);
        assert_eq!(c["points"], s["points"]);
    }
    // The multi-level ones really are octrees.
    let s = export(
        &data("epochs/ttp/ttp_2015.laz"),
        &dir.path().join("t.copc.laz"),
        &["--leaf-points", "5000"],
    );
    assert!(
        s["depth"].as_i64().unwrap() >= 3 && s["nodes"].as_u64().unwrap() > 20,
        "{s}"
    );
}

#[test]
fn our_reader_and_las_rs_read_the_octree() {
    use kizashi::io::las::{read_area, read_with, Fields};
    let dir = tempfile::tempdir().unwrap();
    let src = data("epochs/ttp/ttp_2015.laz");
    let out = dir.path().join("t.copc.laz");
    let s = export(&src, &out, &["--leaf-points", "5000"]);
    let h = kizashi::io::las::read_header(&out).unwrap();
    assert!(h.copc && h.compressed && h.version == "1.4", "{h:?}");
    let src_epsg = kizashi::io::las::read_header(&src)
        .unwrap()
        .crs
        .and_then(|c| c.epsg);
    assert!(src_epsg.is_some());
    assert_eq!(h.crs.as_ref().and_then(|c| c.epsg), src_epsg);
    // las-rs's COPC reader: the same hierarchy, every point through its query.
    let mut r = las::copc::CopcReader::from_path(&out).unwrap();
    assert_eq!(
        r.hierarchy_entries().count() as u64,
        s["nodes"].as_u64().unwrap()
    );
    let all = r
        .query(
            las::copc::LodSelection::All,
            las::copc::BoundsSelection::All,
        )
        .unwrap();
    assert_eq!(all.len(), 89_815);
    // An area read decodes only the nodes meeting the area and keeps exactly its points.
    let whole = read_with(&out, Fields::ALL, |_, _| true).unwrap().cloud;
    let b = whole.bounds();
    let a = [b.min[0], b.min[1], b.min[0] + 200.0, b.min[1] + 200.0];
    let mut decoded = 0;
    let part = read_area(&out, Fields::POSITIONS, Some(a), None, |d, _| {
        decoded = d;
        true
    })
    .unwrap()
    .cloud;
    let inside = (0..whole.len())
        .filter(|&i| kizashi::io::las::contains(&a, whole.world(i)))
        .count();
    assert_eq!(part.len(), inside);
    assert!(decoded < 89_815 / 2, "decoded {decoded}");
}

#[test]
fn refuses_bad_names_inputs_and_overwrites_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = |args: &[&std::ffi::OsStr]| {
        let o = Command::new(kizashi())
            .args(["export", "copc"])
            .args(args)
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).to_string(),
        )
    };
    // The output is the input.
    let copy = d.join("in.copc.laz");
    std::fs::copy(data("las/las-rs/autzen.copc.laz"), &copy).unwrap();
    let before = std::fs::read(&copy).unwrap();
    let (code, err) = run(&[copy.as_os_str(), "-o".as_ref(), copy.as_os_str()]);
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(std::fs::read(&copy).unwrap(), before);
    // Not named *.copc.laz.
    let plain = d.join("out.laz");
    let (code, err) = run(&[copy.as_os_str(), "-o".as_ref(), plain.as_os_str()]);
    assert!(code == Some(1) && err.contains(".copc.laz"), "{err}");
    assert!(!plain.exists());
    // A corrupt input: an error naming it, and no output or temporary file left.
    let out = d.join("bad.copc.laz");
    let (code, err) = run(&[
        data("las/laszip/broken_size.laz").as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("broken_size"), "{err}");
    let left: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 1, "{left:?}");
}

/// The `[copc]` job step: the change result and every survey as COPC, each read back whole by
/// copclib (the result's extra-bytes fields included); a second run skips it.
#[test]
fn copc_job_step_writes_the_result_and_the_epochs() {
    let dir = tempfile::tempdir().unwrap();
    let sample = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample_data");
    let out = dir.path().join("out");
    let site = dir.path().join("site.toml");
    std::fs::write(
        &site,
        format!(
            "[site]\noutput = \"{}\"\n[[epoch]]\npath = \"{}\"\n[[epoch]]\npath = \"{}\"\n\
             [change]\n[copc]\nepochs = true\nleaf_points = 20000\n",
            out.display(),
            sample.join("epoch1_2025.laz").display(),
            sample.join("epoch2_2026.laz").display()
        ),
    )
    .unwrap();
    common::run_site(&site);
    for (src, copc) in [
        (out.join("change.laz"), "change.copc.laz"),
        (sample.join("epoch1_2025.laz"), "epoch1.copc.laz"),
        (sample.join("epoch2_2026.laz"), "epoch2.copc.laz"),
    ] {
        let c = check(&src, &out.join(copc), None);
        assert_eq!(c["mismatched"], serde_json::json!([]), "{copc}: {c}");
        assert!(c["bounds_valid"].as_bool().unwrap() && c["crs"].as_bool().unwrap());
        if copc == "change.copc.laz" {
            assert!(c["extra"].to_string().contains("m3c2_distance"), "{c}");
        }
    }
    let o = Command::new(kizashi())
        .args(["run", "--json"])
        .arg(&site)
        .output()
        .unwrap();
    let again = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success() && !again.contains("\"ran\""), "{again}");
}
