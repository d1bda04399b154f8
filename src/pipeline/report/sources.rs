//! What the report reads besides the result, and how it is named: records of the change and
//! registration runs (read back as their types), parameters in words, CRS checks, input
//! hashes, the orthophoto under the map.

use crate::analysis::icp::Rotation;
use crate::analysis::normals::{Neighbourhoods, Orientation};
use crate::cloud::Crs;
use crate::export::report::Registration;
use crate::io::raster::{GeoTransform, Raster};
use crate::io::IoError;
use crate::lang::Lang;
use crate::pipeline::change::{ChangeParameters, Cores, RegisterSummary};
use crate::pipeline::{PipelineError, Result};
use std::path::{Path, PathBuf};

/// A path recorded in a sidecar: as written (relative to where the run was), else relative to
/// the sidecar's folder, else the bare file name in that folder.
pub(super) fn resolve(recorded: &str, beside: &Path) -> Option<PathBuf> {
    let p = PathBuf::from(recorded);
    let dir = beside.parent().unwrap_or(Path::new("."));
    [
        p.clone(),
        dir.join(&p),
        p.file_name().map(|n| dir.join(n)).unwrap_or_default(),
    ]
    .into_iter()
    .find(|c| c.is_file())
}

pub(super) fn crs_label(c: &Crs) -> String {
    match c.epsg {
        Some(e) => format!("{} (EPSG:{e})", c.name),
        None => c.name.clone(),
    }
}

/// Either CRS unknown counts as the same (nothing to check against).
pub(super) fn same_crs(a: Option<&Crs>, b: Option<&Crs>) -> bool {
    match (a, b) {
        (Some(x), Some(y)) => x.same_as(y),
        _ => true,
    }
}

/// An input in another CRS than the result is refused, naming both (reprojecting is the
/// user's call: gdalwarp / ogr2ogr -t_srs).
pub(super) fn check_crs(
    path: &Path,
    what: &str,
    file: Option<&Crs>,
    result: Option<&Crs>,
) -> Result<()> {
    if same_crs(file, result) {
        return Ok(());
    }
    let name = |c: Option<&Crs>| c.map(crs_label).unwrap_or_default();
    Err(PipelineError::Invalid(format!(
        "{}: {what} is in {}, the result in {}; reproject it first (-t_srs)",
        path.display(),
        name(file),
        name(result)
    )))
}

pub(super) fn overlaps(a: [f64; 4], b: [f64; 4]) -> bool {
    a[0] <= b[2] && b[0] <= a[2] && a[1] <= b[3] && b[1] <= a[3]
}

/// The orthophoto resampled onto the map frame (white outside it).
pub(super) fn ortho_window(
    r: &Raster,
    e: [f64; 4],
    (w, h): (u32, u32),
) -> std::result::Result<image::RgbImage, IoError> {
    let gt = r
        .info
        .geotransform
        .unwrap_or(GeoTransform([0.0, 1.0, 0.0, 0.0, 0.0, -1.0]));
    let (rw, rh) = (r.info.width as f64, r.info.height as f64);
    // Pixel window of the raster under the frame.
    let corners = [[e[0], e[1]], [e[0], e[3]], [e[2], e[1]], [e[2], e[3]]];
    let (mut c0, mut r0, mut c1, mut r1) = (
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    );
    for [x, y] in corners {
        if let Some([c, rr]) = gt.world_to_pixel(x, y) {
            (c0, r0, c1, r1) = (c0.min(c), r0.min(rr), c1.max(c), r1.max(rr));
        }
    }
    let (c0, r0) = (
        c0.floor().clamp(0.0, rw - 1.0),
        r0.floor().clamp(0.0, rh - 1.0),
    );
    let (c1, r1) = (c1.ceil().clamp(c0 + 1.0, rw), r1.ceil().clamp(r0 + 1.0, rh));
    let (ww, wh) = ((c1 - c0) as usize, (r1 - r0) as usize);
    let out = (ww.min(2 * w as usize).max(1), wh.min(2 * h as usize).max(1));
    let win = r.read_rgb(c0 as usize, r0 as usize, ww, wh, out)?;
    let (sx, sy) = (out.0 as f64 / ww as f64, out.1 as f64 / wh as f64);
    let mut img = image::RgbImage::from_pixel(w, h, image::Rgb([255, 255, 255]));
    for j in 0..h {
        for i in 0..w {
            let x = e[0] + (f64::from(i) + 0.5) / f64::from(w) * (e[2] - e[0]);
            let y = e[3] - (f64::from(j) + 0.5) / f64::from(h) * (e[3] - e[1]);
            let Some([c, rr]) = gt.world_to_pixel(x, y) else {
                continue;
            };
            let (u, v) = ((c - c0) * sx, (rr - r0) * sy);
            if u >= 0.0
                && v >= 0.0
                && (u as usize) < out.0
                && (v as usize) < out.1
                && c < rw
                && rr < rh
                && c >= 0.0
                && rr >= 0.0
            {
                img.put_pixel(i, j, *win.get_pixel(u as u32, v as u32));
            }
        }
    }
    Ok(img)
}

/// The ICP result recorded beside epoch 2 by `kizashi register -o E2_ALIGNED.laz` (its
/// summary, read back as its type).
pub(super) fn read_registration(epoch2: &Path) -> Option<Registration> {
    let side = crate::pipeline::sidecar_path(epoch2);
    let r: RegisterSummary = serde_json::from_str(&std::fs::read_to_string(&side).ok()?).ok()?;
    let rotation = match r.rotation {
        Rotation::Full => "full",
        Rotation::Vertical => "vertical",
        Rotation::None => "none",
    };
    Some(Registration {
        source: side.display().to_string(),
        matrix: r.matrix,
        rms: r.rms,
        pairs: r.pairs as u64,
        registration_error: r.registration_error,
        rotation: Some(rotation.into()),
        stable: Some(r.stable),
    })
}

/// The change run's parameters as table rows, in words and numbers.
pub(super) fn parameter_rows(
    p: &ChangeParameters,
    cores: &Cores,
    l: Lang,
) -> Vec<(String, String)> {
    let tr = |en: &'static str, ja: &'static str| l.tr(en, ja).to_string();
    let n = |v: f64| format!("{v}");
    let xyz = |v: [f64; 3]| format!("{}, {}, {}", v[0], v[1], v[2]);
    let mut rows = Vec::new();
    if let Some(m) = &p.m3c2 {
        rows.push((tr("cylinder radius (m)", "円柱半径 (m)"), n(m.cyl_radius)));
        rows.push((
            tr(
                "cylinder half-length = max distance (m)",
                "円柱の半長＝最大距離 (m)",
            ),
            n(m.max_distance),
        ));
        rows.push((
            tr("normal radii (m)", "法線推定半径 (m)"),
            m.normal_radii
                .iter()
                .map(|r| n(*r))
                .collect::<Vec<_>>()
                .join(", "),
        ));
        let nb = match m.neighbourhoods {
            Neighbourhoods::Py4dgeo => tr(
                "as py4dgeo 1.2 (points of all radii up to each)",
                "py4dgeo 1.2 と同じ（各半径までの全点）",
            ),
            Neighbourhoods::Exact => tr("each radius's own ball", "各半径の球内の点のみ"),
        };
        rows.push((tr("normal neighbourhoods", "法線の近傍"), nb));
        let source = if p.normals_from_file {
            tr("from the core point file", "コアポイントファイルから")
        } else {
            tr("estimated (PCA)", "推定（主成分分析）")
        };
        rows.push((tr("normals", "法線"), source));
        let o = match m.orientation {
            Orientation::Vector([0.0, 0.0, 1.0]) => tr("upwards (+Z)", "上向き（+Z）"),
            Orientation::Vector(v) => format!(
                "{} ({})",
                tr("towards the vector", "次のベクトルの向き"),
                xyz(v)
            ),
            Orientation::Sensor(v) => format!(
                "{} ({})",
                tr("towards the sensor at", "センサー位置の方向"),
                xyz(v)
            ),
        };
        rows.push((tr("normal orientation", "法線の向き"), o));
        rows.push((
            tr("registration error (m)", "位置合わせ誤差 (m)"),
            n(m.registration_error),
        ));
        let robust = if m.robust {
            tr("yes (median / IQR)", "あり（中央値／IQR）")
        } else {
            tr("no (mean / standard deviation)", "なし（平均／標準偏差）")
        };
        rows.push((tr("robust statistics", "ロバスト統計"), robust));
    } else {
        let d = p
            .c2c_max_distance
            .map(n)
            .unwrap_or_else(|| tr("none", "なし"));
        rows.push((tr("maximum distance (m)", "最大距離 (m)"), d));
    }
    let c = match cores {
        Cores::Step(k) => format!(
            "{} {k} {}",
            tr("every", "第1期の"),
            tr("th point of epoch 1", "点ごとに1点")
        ),
        Cores::Spacing(s) => format!(
            "{} {s} m",
            tr(
                "one point of epoch 1 per cube of",
                "第1期の点を立方体ごとに1点、一辺"
            )
        ),
        Cores::File(f) | Cores::FileWithNormals(f) => {
            format!("{} {}", tr("from the file", "ファイルから"), f.display())
        }
        Cores::All => tr("every point of epoch 1", "第1期の全点"),
    };
    rows.push((tr("core points", "コアポイント"), c));
    if let Some(d) = &p.derived {
        rows.push((
            tr("derived from the point density", "点密度から導出"),
            format!(
                "{} {} m {}",
                tr("mean spacing", "平均点間隔"),
                (d.spacing * 1000.0).round() / 1000.0,
                tr(
                    "(parameters not given were set from it)",
                    "（未指定のパラメータをこれから設定）"
                )
            ),
        ));
    }
    rows
}

/// The map background for an extent at a pixel size: the orthophoto's window, else the
/// hillshade `shade` of the height grid `heights` (values, width, height, georeferencing).
pub(super) fn background_image(
    ortho: Option<&Raster>,
    heights: &(Vec<f32>, usize, usize, GeoTransform),
    shade: &[f32],
    e: [f64; 4],
    (w, h): (u32, u32),
) -> Option<image::RgbImage> {
    let px = |i: u32, j: u32| {
        [
            e[0] + (f64::from(i) + 0.5) / f64::from(w) * (e[2] - e[0]),
            e[3] - (f64::from(j) + 0.5) / f64::from(h) * (e[3] - e[1]),
        ]
    };
    match ortho {
        Some(r) => ortho_window(r, e, (w, h)).ok(),
        None => {
            let gt = heights.3;
            let mut img = image::RgbImage::from_pixel(w, h, image::Rgb([255, 255, 255]));
            for j in 0..h {
                for i in 0..w {
                    let [x, y] = px(i, j);
                    let Some([col, row]) = gt.world_to_pixel(x, y) else {
                        continue;
                    };
                    if col < 0.0 || row < 0.0 || col >= heights.1 as f64 || row >= heights.2 as f64
                    {
                        continue;
                    }
                    let s = shade[row as usize * heights.1 + col as usize];
                    if s.is_finite() {
                        let g = (60.0 + 190.0 * s).round() as u8;
                        img.put_pixel(i, j, image::Rgb([g, g, g]));
                    }
                }
            }
            Some(img)
        }
    }
}

/// An orthophoto for the map: georeferenced, in the result's CRS, overlapping `extent`;
/// listed among the report's inputs.
pub(super) fn open_ortho(
    p: &Path,
    result_crs: Option<&Crs>,
    extent: [f64; 4],
    inputs: &mut Vec<crate::export::report::InputFile>,
    l: Lang,
) -> Result<Raster> {
    let r = Raster::open(p)?;
    if r.info.geotransform.is_none() {
        return Err(PipelineError::Invalid(format!(
            "{}: the orthophoto has no georeferencing",
            p.display()
        )));
    }
    check_crs(p, "the orthophoto", r.info.crs.as_ref(), result_crs)?;
    if !r.info.extent.is_some_and(|e| overlaps(e, extent)) {
        return Err(PipelineError::Invalid(format!(
            "{}: the orthophoto does not overlap the result",
            p.display()
        )));
    }
    inputs.push(crate::export::report::InputFile {
        role: l.tr("orthophoto", "オルソ画像"),
        path: p.display().to_string(),
        size: None,
        sha256: None,
    });
    Ok(r)
}
