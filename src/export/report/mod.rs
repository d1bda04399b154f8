//! The deformation report: one HTML page laid out for A4 (figures embedded as PNG), printed
//! to PDF by headless Chromium when asked for a .pdf. Chromium because no maintained Rust crate
//! lays out Japanese text, tables and figures across pages; it is already a dependency of the
//! 3D Tiles check. `pipeline::report` gathers the data; this module only presents it.

mod html;
pub mod monitoring;
pub mod plots;

use super::{ExportError, Result};
use crate::lang::Lang;
use base64::Engine;
use plots::MapPoint;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// One survey epoch as the report names it.
#[derive(Clone, Debug, Default)]
pub struct EpochInfo {
    pub path: String,
    pub found: bool,
    pub points: Option<u64>,
    pub crs: Option<String>,
    pub date: Option<String>,
    pub extent: Option<[f64; 4]>,
}

/// An input file with its hash, for the reproducibility block.
#[derive(Clone, Debug)]
pub struct InputFile {
    pub role: &'static str,
    pub path: String,
    pub size: Option<u64>,
    pub sha256: Option<String>,
}

#[derive(Clone, Debug)]
pub struct ObjectRow {
    pub object: crate::analysis::objects::ChangeObject,
    /// Centre as longitude, latitude (when the data CRS is known).
    pub lonlat: Option<[f64; 2]>,
    /// Outline rings in the data CRS.
    pub rings: Vec<Vec<[f64; 2]>>,
}

#[derive(Clone, Debug)]
pub struct DodInfo {
    pub path: String,
    pub cell: f64,
    pub volumes: crate::analysis::dod::Volumes,
    /// Nuth & Kääb shift applied to epoch 2 (east, north, up), stable cells, NMAD before and
    /// after, as the DoD's record gives them.
    pub coregistration: Option<([f64; 3], usize, f64, f64)>,
}

/// Each epoch's height system and where it came from; whether epoch 2 was converted and by
/// how much on average (m).
#[derive(Clone, Debug, Default)]
pub struct Heights {
    pub epoch1: Option<String>,
    pub epoch2: Option<String>,
    pub converted: Option<f64>,
}

#[derive(Clone, Debug)]
pub struct Registration {
    pub source: String,
    pub matrix: [[f64; 4]; 4],
    pub rms: f64,
    pub pairs: u64,
    pub registration_error: f64,
    /// "full", "vertical" or "none" (absent in records older than the option).
    pub rotation: Option<String>,
    /// How the stable area was chosen, as `kizashi register` records it.
    pub stable: Option<String>,
}

pub struct ReportData<'a> {
    pub lang: Lang,
    pub title: String,
    /// "M3C2" or "C2C"
    pub method: String,
    pub result_path: String,
    pub points: Vec<MapPoint>,
    pub spacing: f64,
    /// Median LoD95 over the core points (M3C2).
    pub lod_median: Option<f32>,
    pub crs: Option<String>,
    pub epochs: [EpochInfo; 2],
    pub registration: Option<Registration>,
    /// The change run's parameters as (name, value) rows in the report's language; None when
    /// the result has no record.
    pub parameters: Option<Vec<(String, String)>>,
    /// The same, as the change run recorded them (JSON), for the reproducibility block.
    pub record: Option<String>,
    /// The registration error the LoD included (m).
    pub registration_error: Option<f64>,
    pub dod: Option<DodInfo>,
    pub heights: Heights,
    pub objects: Vec<ObjectRow>,
    /// Where the objects came from (file, or computed from the result).
    pub objects_source: String,
    pub background: &'a dyn Fn([f64; 4], (u32, u32)) -> Option<image::RgbImage>,
    /// "orthophoto FILE" / "hillshade of ..."
    pub background_name: String,
    pub inputs: Vec<InputFile>,
    pub command: String,
    pub warnings: Vec<String>,
}

/// What `render` made.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Rendered {
    pub output: String,
    pub format: &'static str,
    pub html_bytes: usize,
    pub seconds: f64,
}

pub(super) fn t(lang: Lang, en: &'static str, ja: &'static str) -> &'static str {
    lang.tr(en, ja)
}

pub(super) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub(super) fn img_tag(png: &[u8], alt: &str) -> String {
    format!(
        "<img alt=\"{}\" src=\"data:image/png;base64,{}\">",
        esc(alt),
        base64::engine::general_purpose::STANDARD.encode(png)
    )
}

/// Output format from the file name: PDF or HTML.
pub fn format_of(path: &Path) -> Result<&'static str> {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("pdf") => Ok("pdf"),
        Some("html") | Some("htm") => Ok("html"),
        _ => Err(ExportError::Invalid(format!(
            "{}: the report is written as .pdf or .html",
            path.display()
        ))),
    }
}

/// Chromium (or Chrome) for printing to PDF: $KIZASHI_CHROMIUM, else the first on PATH.
pub fn find_chromium() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("KIZASHI_CHROMIUM") {
        return Ok(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in [
            "chromium",
            "chromium-browser",
            "google-chrome",
            "google-chrome-stable",
        ] {
            let p = dir.join(name);
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    Err(ExportError::Invalid(
        "a PDF report needs Chromium to print it (scripts/setup-debian.sh installs it, or set KIZASHI_CHROMIUM); write a .html report instead".into(),
    ))
}

pub(super) fn num(v: f64, digits: usize) -> String {
    if v.is_finite() {
        format!("{v:.digits$}")
    } else {
        "–".into()
    }
}

/// Renders the report to `output` (.pdf or .html).
pub fn render(d: &ReportData, output: &Path) -> Result<Rendered> {
    render_page(output, &|font_url| html::html(d, font_url))
}

/// The page `html(font_url)` makes, to `output`: printed to PDF by Chromium, or as HTML.
pub(super) fn render_page(
    output: &Path,
    html: &dyn Fn(Option<&str>) -> Result<String>,
) -> Result<Rendered> {
    let t0 = Instant::now();
    let format = format_of(output)?;
    let chromium = if format == "pdf" {
        Some(find_chromium()?)
    } else {
        None
    };
    let tmp = std::env::temp_dir().join(format!(
        "kizashi-report-{}-{}",
        std::process::id(),
        t0.elapsed().as_nanos() ^ (chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0) as u128)
    ));
    std::fs::create_dir_all(&tmp).map_err(|e| crate::io::IoError::io(&tmp, e))?;
    let result = (|| -> Result<usize> {
        let font_url = if format == "pdf" {
            let f = tmp.join("KizashiSansJP.otf");
            std::fs::write(&f, plots::FONT).map_err(|e| crate::io::IoError::io(&f, e))?;
            Some(format!("file://{}", f.display()))
        } else {
            None
        };
        let html = html(font_url.as_deref())?;
        let n = html.len();
        match chromium {
            None => crate::io::safe::write_bytes(output, html.as_bytes())?,
            Some(c) => {
                let page = tmp.join("report.html");
                std::fs::write(&page, &html).map_err(|e| crate::io::IoError::io(&page, e))?;
                print_pdf(&c, &page, output, &tmp)?;
            }
        }
        Ok(n)
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    let n = result?;
    Ok(Rendered {
        output: output.display().to_string(),
        format,
        html_bytes: n,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

fn print_pdf(chromium: &Path, page: &Path, output: &Path, tmp: &Path) -> Result<()> {
    let werr = |reason: String| ExportError::Write {
        path: output.to_path_buf(),
        reason,
    };
    // Printed next to the page first, then moved: a failed print leaves no half file.
    let pdf = tmp.join("report.pdf");
    let mut child = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-pdf-header-footer",
            "--allow-file-access-from-files",
        ])
        .arg(format!("--user-data-dir={}", tmp.join("profile").display()))
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(format!("file://{}", page.display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| werr(format!("cannot start {}: {e}", chromium.display())))?;
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if start.elapsed() > Duration::from_secs(180) => {
                let _ = child.kill();
                return Err(werr("Chromium did not finish printing within 180 s".into()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(werr(e.to_string())),
        }
    };
    let ok = std::fs::read(&pdf)
        .map(|b| b.starts_with(b"%PDF"))
        .unwrap_or(false);
    if !status.success() || !ok {
        let mut msg = String::new();
        if let Some(mut e) = child.stderr.take() {
            use std::io::Read;
            let _ = e.read_to_string(&mut msg);
        }
        let last: Vec<&str> = msg.lines().rev().take(3).collect();
        return Err(werr(format!(
            "Chromium could not print the report ({status}): {}",
            last.join(" / ")
        )));
    }
    crate::io::safe::write_file(output, |tmp| {
        std::fs::copy(&pdf, tmp)
            .map(|_| ())
            .map_err(|e| werr(e.to_string()))
    })
}
