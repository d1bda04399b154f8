//! The deformation report, opened by other programs: the PDF through poppler (pdfinfo,
//! pdftotext, pdftoppm), the HTML as text; every figure it states is checked against the
//! files it was made from (sidecar parameters, GeoJSON objects, sha256sum of the inputs).

mod common;

use common::{data, kizashi};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn sample(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("sample_data")
        .join(name)
}

fn run(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(kizashi()).args(args).output().unwrap()
}

fn ok_json(args: &[&std::ffi::OsStr]) -> Value {
    let o = run(args);
    assert!(
        o.status.success(),
        "{:?}: {}",
        args,
        String::from_utf8_lossy(&o.stderr)
    );
    let line = String::from_utf8_lossy(&o.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_string();
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
}

fn os<S: AsRef<std::ffi::OsStr> + ?Sized>(s: &S) -> &std::ffi::OsStr {
    s.as_ref()
}

/// M3C2 of the sample survey (1 m core spacing, the demo's parameters) into `dir`.
fn sample_change(dir: &Path, e2: &Path) -> PathBuf {
    let out = dir.join("m3c2.laz");
    let s = ok_json(&[
        os("change"),
        sample("epoch1_2025.laz").as_os_str(),
        e2.as_os_str(),
        os("--core-spacing"),
        os("1"),
        os("--cyl-radius"),
        os("1"),
        os("--normal-radii"),
        os("1,2"),
        os("--max-distance"),
        os("2"),
        os("-o"),
        out.as_os_str(),
        os("--json"),
    ]);
    assert_eq!(s["core_points"], 47017);
    out
}

fn sha256sum(p: &Path) -> String {
    let o = Command::new("sha256sum").arg(p).output().unwrap();
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

fn tool(name: &str, args: &[&std::ffi::OsStr]) -> String {
    let o = Command::new(name)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{name} (poppler-utils, scripts/setup-debian.sh): {e}"));
    assert!(
        o.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).to_string()
}

#[test]
fn japanese_pdf_with_dod_objects_and_ortho() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let result = sample_change(d, &sample("epoch2_2026.laz"));
    let (dod, objects) = (d.join("dod.tif"), d.join("objects.geojson"));
    let dsum = ok_json(&[
        os("dod"),
        sample("epoch1_2025.laz").as_os_str(),
        sample("epoch2_2026.laz").as_os_str(),
        os("--cell"),
        os("2"),
        os("--ground"),
        os("-o"),
        dod.as_os_str(),
        os("--json"),
    ]);
    let objs = ok_json(&[
        os("objects"),
        result.as_os_str(),
        os("-o"),
        objects.as_os_str(),
        os("--min-area"),
        os("4"),
        os("--json"),
    ]);
    let pdf = d.join("report.pdf");
    let s = ok_json(&[
        os("report"),
        result.as_os_str(),
        os("--dod"),
        dod.as_os_str(),
        os("--objects"),
        objects.as_os_str(),
        os("--ortho"),
        sample("ortho_2026.tif").as_os_str(),
        os("--lang"),
        os("ja"),
        os("-o"),
        pdf.as_os_str(),
        os("--json"),
    ]);
    assert_eq!(s["format"], "pdf");
    let list = objs["objects"].as_array().unwrap();
    assert_eq!(s["objects"].as_u64().unwrap() as usize, list.len());
    assert!(list.len() >= 3, "{}", list.len());
    let info = tool("pdfinfo", &[pdf.as_os_str()]);
    let pages: usize = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!((3..=8).contains(&pages), "{pages} pages");
    assert!(info.contains("A4") || info.contains("595"), "{info}");
    let text = tool("pdftotext", &[pdf.as_os_str(), os("-")]);
    // Headings in Japanese, the parameters as recorded, the site's CRS and epochs.
    for needle in [
        "変状調査レポート",
        "手法とパラメータ",
        "円柱半径",
        "変化領域",
        "再現性",
        "EPSG:6671",
        "2025-06-10",
        "2026-06-12",
        "オルソ画像",
        "DEM差分",
    ] {
        assert!(text.contains(needle), "{needle} missing from the PDF text");
    }
    let flat: String = text.split_whitespace().collect();
    assert!(flat.contains("\"cyl_radius\":1.0"), "parameters block");
    assert!(flat.contains("\"max_distance\":2.0"));
    // Every object of the GeoJSON in the table: its area and volume as printed.
    for o in list {
        let area = format!("{:.1}", o["area_m2"].as_f64().unwrap());
        let vol = format!("{:.2}±", o["volume_m3"].as_f64().unwrap());
        assert!(
            flat.contains(&area) && flat.contains(&vol),
            "object {} ({area} m2, {vol}) not in the table",
            o["id"]
        );
    }
    // The DoD's own cut and fill volumes (from its JSON summary; the report recomputes them
    // from the bands), as printed in the volumes table.
    let v = &dsum["volumes"];
    for k in ["cut_m3", "fill_m3"] {
        let x = format!("{:.2}", v[k].as_f64().unwrap());
        assert!(
            v[k].as_f64().unwrap() > 1.0 && flat.contains(&x),
            "DoD {k} {x} not in the report"
        );
    }
    // Rendered pages: the map and the 3D view show red and blue (the bulge and the slump). The
    // colour bar and the histogram are red and blue too, so the pixels are counted against the
    // same report of a result without change (epoch 1 against itself): the result's own colour
    // is what is left.
    let same = dir.path().join("same");
    std::fs::create_dir(&same).unwrap();
    let flat_result = sample_change(&same, &sample("epoch1_2025.laz"));
    let flat_pdf = same.join("report.pdf");
    ok_json(&[
        os("report"),
        flat_result.as_os_str(),
        os("--ortho"),
        sample("ortho_2026.tif").as_os_str(),
        os("--lang"),
        os("ja"),
        os("-o"),
        flat_pdf.as_os_str(),
        os("--json"),
    ]);
    let colours = |pdf: &Path, prefix: &Path| -> Vec<(usize, usize)> {
        tool(
            "pdftoppm",
            &[
                os("-r"),
                os("100"),
                os("-png"),
                pdf.as_os_str(),
                prefix.as_os_str(),
            ],
        );
        let mut out = Vec::new();
        for k in 1.. {
            let p = PathBuf::from(format!("{}-{k}.png", prefix.display()));
            let Ok(img) = image::open(&p) else { break };
            let img = img.to_rgb8();
            let red = img
                .pixels()
                .filter(|p| p[0] > 150 && p[1] < 90 && p[2] < 90)
                .count();
            let blue = img
                .pixels()
                .filter(|p| p[2] > 120 && p[0] < 60 && p[1] < 110)
                .count();
            out.push((red, blue));
        }
        out
    };
    let with = colours(&pdf, &d.join("page"));
    let without = colours(&flat_pdf, &same.join("page"));
    assert_eq!(with.len(), pages);
    assert_eq!(without.len(), pages, "same layout without change");
    eprintln!("red/blue pixels per page (100 dpi): {with:?}; without change: {without:?}");
    let coloured = with
        .iter()
        .zip(&without)
        .filter(|((r, b), (r0, b0))| *r > r0 + 100 && *b > b0 + 100)
        .count();
    assert!(
        coloured >= 2,
        "map and 3D view pages with red and blue beyond the legend's: {with:?} vs {without:?}"
    );
}

#[test]
fn english_html_names_registration_and_hashes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let aligned = d.join("e2_aligned.laz");
    let reg = ok_json(&[
        os("register"),
        sample("epoch1_2025.laz").as_os_str(),
        sample("epoch2_2026.laz").as_os_str(),
        os("-o"),
        aligned.as_os_str(),
        os("--rotation"),
        os("full"),
        os("--json"),
    ]);
    assert!(
        Path::new(&format!("{}.json", aligned.display())).is_file(),
        "register writes its sidecar"
    );
    let result = sample_change(d, &aligned);
    // Objects written in EPSG:4326 come back onto the data CRS.
    let objects = d.join("objects_wgs84.geojson");
    let objs = ok_json(&[
        os("objects"),
        result.as_os_str(),
        os("-o"),
        objects.as_os_str(),
        os("--min-area"),
        os("4"),
        os("--wgs84"),
        os("--json"),
    ]);
    let html = d.join("report.html");
    let s = ok_json(&[
        os("report"),
        result.as_os_str(),
        os("--objects"),
        objects.as_os_str(),
        os("--lang"),
        os("en"),
        os("--title"),
        os("Sample slope"),
        os("-o"),
        html.as_os_str(),
        os("--json"),
    ]);
    assert_eq!(s["format"], "html");
    assert_eq!(s["objects"], objs["objects"].as_array().unwrap().len());
    let text = std::fs::read_to_string(&html).unwrap();
    for needle in [
        "Deformation report",
        "Sample slope",
        "Registration",
        "point-to-plane ICP",
        "about all three axes",
        "cylinder radius (m)",
        "Change objects",
        "Reproducibility",
        "hillshade",
    ] {
        assert!(text.contains(needle), "{needle} missing");
    }
    // No Japanese in the English report (the font stack name aside).
    let body = &text[text.find("<body>").unwrap()..];
    assert!(
        !body.chars().any(|c| ('\u{3040}'..='\u{30ff}').contains(&c)),
        "kana in the English report"
    );
    assert!(text.contains(&format!("RMS {:.4} m", reg["rms"].as_f64().unwrap())));
    for input in [sample("epoch1_2025.laz"), aligned.clone(), result.clone()] {
        assert!(
            text.contains(&sha256sum(&input)),
            "hash of {} missing",
            input.display()
        );
    }
    // The object table has the largest object with its latitude/longitude near the site.
    let first = &objs["objects"][0];
    assert!(text.contains(&format!("{:.1}", first["area_m2"].as_f64().unwrap())));
    assert!(
        text.contains("34.18"),
        "latitude of the sample site (JGD2011 zone III)"
    );
    // Three figures embedded.
    assert_eq!(text.matches("data:image/png;base64,").count(), 3);
}

#[test]
fn bad_inputs_are_refused_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = d.join("r.html");
    let refuse = |args: &[&std::ffi::OsStr], needle: &str| {
        let o = run(args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{args:?} succeeded");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(
            !out.exists() && !d.join("r.docx").exists(),
            "output written"
        );
    };
    // Not a change result.
    refuse(
        &[
            os("report"),
            sample("epoch1_2025.laz").as_os_str(),
            os("-o"),
            out.as_os_str(),
        ],
        "not a result of `kizashi change`",
    );
    refuse(
        &[
            os("report"),
            d.join("missing.laz").as_os_str(),
            os("-o"),
            out.as_os_str(),
        ],
        "missing.laz",
    );
    let result = sample_change(d, &sample("epoch2_2026.laz"));
    refuse(
        &[
            os("report"),
            result.as_os_str(),
            os("-o"),
            d.join("r.docx").as_os_str(),
        ],
        ".pdf or .html",
    );
    refuse(
        &[
            os("report"),
            result.as_os_str(),
            os("--lang"),
            os("fr"),
            os("-o"),
            out.as_os_str(),
        ],
        "unknown language",
    );
    // An orthophoto elsewhere: the Toronto DTM (EPSG:26917) under the Japanese sample.
    refuse(
        &[
            os("report"),
            result.as_os_str(),
            os("--ortho"),
            data("epochs/ttp/ttp_dtm_2015.tif").as_os_str(),
            os("-o"),
            out.as_os_str(),
        ],
        "EPSG:26917",
    );
    // A corrupt DoD.
    let bad = d.join("bad.tif");
    std::fs::write(&bad, b"II*\0garbage").unwrap();
    refuse(
        &[
            os("report"),
            result.as_os_str(),
            os("--dod"),
            bad.as_os_str(),
            os("-o"),
            out.as_os_str(),
        ],
        "bad.tif",
    );
}
