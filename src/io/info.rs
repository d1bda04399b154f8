//! `kizashi info`: what a survey file is, from its header (and a probe of its data), without
//! loading every point.

use super::las::{LasHeader, LasReader};
use super::raster::{Raster, RasterInfo};
use super::{file_kind, FileKind, IoError};
use crate::cloud::{Bounds, PointCloud};
use serde::Serialize;
use std::path::Path;

#[derive(Clone, Debug, Serialize)]
pub struct CrsSummary {
    pub name: String,
    pub epsg: Option<u32>,
    pub vertical_epsg: Option<u32>,
    pub source: String,
    pub is_geographic: bool,
    pub linear_unit: Option<String>,
}

impl CrsSummary {
    fn of(c: &crate::cloud::Crs, source: &str) -> CrsSummary {
        CrsSummary {
            name: c.name.clone(),
            epsg: c.epsg,
            vertical_epsg: c.vertical_epsg,
            source: source.to_string(),
            is_geographic: c.is_geographic,
            linear_unit: c.linear_unit.clone(),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct ExtraField {
    pub name: String,
    #[serde(rename = "type")]
    pub value_type: String,
    pub description: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct PointCloudInfo {
    /// "LAS", "LAZ" or "COPC"
    pub format: String,
    pub version: String,
    pub point_format: u8,
    pub record_length: u16,
    pub point_count: u64,
    pub bounds: Bounds,
    pub scale: [f64; 3],
    pub offset: [f64; 3],
    pub crs: Option<CrsSummary>,
    pub dimensions: Vec<String>,
    pub extra_fields: Vec<ExtraField>,
    /// Points per square CRS unit over the XY bounding box.
    pub point_density: Option<f64>,
    pub vlr_count: usize,
    pub evlr_count: usize,
    pub generating_software: String,
    pub file_size: u64,
    /// Points actually decoded by `info` (1 unless `--full`).
    pub points_decoded: u64,
    /// Bounds of the decoded points (with `--full`), which may differ from the header's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub point_bounds: Option<Bounds>,
}

#[derive(Clone, Debug, Serialize)]
pub struct RasterSummary {
    pub driver: String,
    pub width: usize,
    pub height: usize,
    pub band_count: usize,
    pub band_types: Vec<String>,
    pub nodata: Vec<Option<f64>>,
    pub resolution: Option<[f64; 2]>,
    pub extent: Option<[f64; 4]>,
    pub geotransform: Option<[f64; 6]>,
    pub rotated: bool,
    pub crs: Option<CrsSummary>,
}

/// One file's entry in `kizashi info --json`.
#[derive(Clone, Debug, Serialize)]
pub struct FileInfo {
    pub path: String,
    /// "point_cloud", "raster" or "unknown"
    pub kind: String,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub point_cloud: Option<PointCloudInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raster: Option<RasterSummary>,
    pub warnings: Vec<String>,
}

fn point_cloud_info(h: &LasHeader) -> PointCloudInfo {
    let mut dimensions = h.dimension_names();
    dimensions.extend(h.extra.dims.iter().map(|d| d.name.clone()));
    let b = h.bounds;
    let area = (b.max[0] - b.min[0]) * (b.max[1] - b.min[1]);
    PointCloudInfo {
        format: if h.copc {
            "COPC"
        } else if h.compressed {
            "LAZ"
        } else {
            "LAS"
        }
        .into(),
        version: h.version.clone(),
        point_format: h.point_format,
        record_length: h.record_length,
        point_count: h.point_count,
        bounds: b,
        scale: h.scale,
        offset: h.offset,
        crs: h.crs.as_ref().map(|c| CrsSummary::of(c, &h.crs_source)),
        dimensions,
        extra_fields: h
            .extra
            .dims
            .iter()
            .map(|d| ExtraField {
                name: d.name.clone(),
                value_type: d.type_name().into(),
                description: d.description.clone(),
            })
            .collect(),
        point_density: (area.is_finite() && area > 0.0 && h.point_count > 0)
            .then(|| h.point_count as f64 / area),
        vlr_count: h.vlr_count,
        evlr_count: h.evlr_count,
        generating_software: h.generating_software.clone(),
        file_size: h.file_size,
        points_decoded: 0,
        point_bounds: None,
    }
}

fn raster_summary(r: &RasterInfo) -> RasterSummary {
    RasterSummary {
        driver: r.driver.clone(),
        width: r.width,
        height: r.height,
        band_count: r.band_count,
        band_types: r.band_types.clone(),
        nodata: r.nodata.clone(),
        resolution: r.resolution,
        extent: r.extent,
        geotransform: r.geotransform.map(|g| g.0),
        rotated: r.rotated,
        crs: r.crs.as_ref().map(|c| CrsSummary::of(c, "wkt")),
    }
}

struct LasProbe {
    header: LasHeader,
    decoded: u64,
    bounds: Option<Bounds>,
}

fn inspect_las(path: &Path, full: bool) -> Result<LasProbe, IoError> {
    let mut r = LasReader::open(path)?;
    // Decode at least the first chunk: a LAZ file whose items cannot be decompressed is
    // reported here, not later in the middle of a job. With `full`, stream every point through
    // a buffer that is reused, so memory stays bounded whatever the file size.
    let hb = r.header.bounds;
    let finite = hb
        .min
        .iter()
        .chain(hb.max.iter())
        .all(|v| v.is_finite() && v.abs() < 1e12);
    let mut chunk = PointCloud::with_origin(if finite {
        crate::cloud::origin_for(&hb)
    } else {
        [0.0; 3]
    });
    let mut decoded = 0u64;
    let mut bounds = Bounds::empty();
    loop {
        chunk.positions.clear();
        chunk.scalars.clear();
        chunk.intensity = None;
        chunk.rgb = None;
        chunk.classification = None;
        chunk.return_number = None;
        chunk.number_of_returns = None;
        chunk.gps_time = None;
        let n = r.read_chunk(if full { super::las::CHUNK_POINTS } else { 1 }, &mut chunk)?;
        decoded += n as u64;
        if n > 0 {
            bounds = bounds.union(&chunk.bounds());
        }
        if n == 0 || !full {
            break;
        }
    }
    Ok(LasProbe {
        header: r.header,
        decoded,
        bounds: (full && !bounds.is_empty()).then_some(bounds),
    })
}

/// Rasters up to this many pixels per band are fully decoded by `info` (about a second for
/// 100 M JPEG pixels); larger ones only have their metadata checked.
const VERIFY_MAX_PIXELS: usize = 100_000_000;

/// Inspects one file. Never panics; a bad file gives `ok: false` and a one-line `error`.
pub fn inspect(path: &Path) -> FileInfo {
    inspect_with(path, false)
}

/// As `inspect`; with `full`, every point is decoded (streamed) and the points' own bounds
/// are reported.
pub fn inspect_with(path: &Path, full: bool) -> FileInfo {
    let mut info = FileInfo {
        path: path.display().to_string(),
        kind: "unknown".into(),
        ok: false,
        error: None,
        point_cloud: None,
        raster: None,
        warnings: Vec::new(),
    };
    match file_kind(path) {
        Err(e) => info.error = Some(e.to_string()),
        Ok(FileKind::PointCloud) => {
            info.kind = "point_cloud".into();
            match inspect_las(path, full) {
                Ok(p) => {
                    info.ok = true;
                    let mut pc = point_cloud_info(&p.header);
                    pc.points_decoded = p.decoded;
                    pc.point_bounds = p.bounds;
                    info.point_cloud = Some(pc);
                    info.warnings = p.header.warnings.clone();
                }
                Err(e) => info.error = Some(e.to_string()),
            }
        }
        Ok(FileKind::Raster) => {
            info.kind = "raster".into();
            match Raster::open(path)
                .and_then(|r| r.verify_pixels(VERIFY_MAX_PIXELS).map(|v| (r, v)))
            {
                Ok((r, verified)) => {
                    info.ok = true;
                    info.raster = Some(raster_summary(&r.info));
                    info.warnings = r.info.warnings.clone();
                    if !verified {
                        info.warnings
                            .push("large raster: pixels not decoded by info".into());
                    }
                }
                Err(e) => info.error = Some(e.to_string()),
            }
        }
    }
    info
}

/// Human-readable lines for one file (the non-JSON `info` output).
pub fn describe(i: &FileInfo) -> String {
    let mut s = format!("{}\n", i.path);
    if let Some(e) = &i.error {
        s.push_str(&format!("  error: {e}\n"));
    }
    let crs_line = |c: &Option<CrsSummary>| match c {
        Some(c) => format!(
            "{}{}{} (from {})",
            c.name,
            c.epsg.map(|e| format!(" EPSG:{e}")).unwrap_or_default(),
            c.vertical_epsg.map(|e| format!("+{e}")).unwrap_or_default(),
            c.source
        ),
        None => "none".into(),
    };
    if let Some(p) = &i.point_cloud {
        s.push_str(&format!(
            "  {} {} point format {} ({} bytes/point)\n",
            p.format, p.version, p.point_format, p.record_length
        ));
        s.push_str(&format!("  points: {}\n", p.point_count));
        s.push_str(&format!(
            "  bounds: {:.3} {:.3} {:.3} .. {:.3} {:.3} {:.3}\n",
            p.bounds.min[0],
            p.bounds.min[1],
            p.bounds.min[2],
            p.bounds.max[0],
            p.bounds.max[1],
            p.bounds.max[2]
        ));
        s.push_str(&format!("  scale: {:?}  offset: {:?}\n", p.scale, p.offset));
        s.push_str(&format!("  crs: {}\n", crs_line(&p.crs)));
        s.push_str(&format!("  dimensions: {}\n", p.dimensions.join(", ")));
        if let Some(b) = p.point_bounds {
            s.push_str(&format!(
                "  point bounds ({} decoded): {:.3} {:.3} {:.3} .. {:.3} {:.3} {:.3}\n",
                p.points_decoded, b.min[0], b.min[1], b.min[2], b.max[0], b.max[1], b.max[2]
            ));
        }
        if let Some(d) = p.point_density {
            s.push_str(&format!("  density: {d:.2} points per square unit\n"));
        }
    }
    if let Some(r) = &i.raster {
        s.push_str(&format!(
            "  {} raster {} x {}, {} band(s) {}\n",
            r.driver,
            r.width,
            r.height,
            r.band_count,
            r.band_types.join("/")
        ));
        if let Some(res) = r.resolution {
            s.push_str(&format!(
                "  resolution: {} x {}{}\n",
                res[0],
                res[1],
                if r.rotated { " (rotated)" } else { "" }
            ));
        }
        if let Some(e) = r.extent {
            s.push_str(&format!(
                "  extent: {:.3} {:.3} .. {:.3} {:.3}\n",
                e[0], e[1], e[2], e[3]
            ));
        }
        s.push_str(&format!("  nodata: {:?}\n", r.nodata));
        s.push_str(&format!("  crs: {}\n", crs_line(&r.crs)));
    }
    for w in &i.warnings {
        s.push_str(&format!("  warning: {w}\n"));
    }
    s
}
