//! DEM epochs: a GeoTIFF (or any raster GDAL reads) of heights, or GSI's 基盤地図情報 DEM in
//! FG-GML (JPGIS) XML — one mesh tile, a folder of them, or the zips GSI's download service
//! hands out (zips inside zips included) — mosaicked on one grid.
//!
//! The FG-GML reader is ours: GDAL has no driver for it, and the format is one `Envelope`
//! (lower/upper corner as latitude longitude), a `GridEnvelope` (cells - 1), a `startPoint`
//! and a `tupleList` of "type,height" lines in `+x-y` order (west to east, north to south),
//! -9999 where there is no height. quick-xml walks it.

use super::raster::{GeoTransform, Raster};
use super::{crs, IoError, Result};
use crate::cloud::{Crs, CrsSource};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Heights on a north-up grid (NaN: no data).
#[derive(Clone, Debug)]
pub struct Dem {
    pub z: Vec<f32>,
    pub width: usize,
    pub height: usize,
    pub gt: GeoTransform,
    pub crs: Option<Crs>,
    /// The raster's date when it states one (FG-GML `devDate`).
    pub date: Option<chrono::NaiveDate>,
    /// What was read, for messages ("3 GSI DEM5A tiles").
    pub source: String,
}

fn derr(path: &Path, reason: impl std::fmt::Display) -> IoError {
    IoError::Raster {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

fn ext(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// An epoch path that is a DEM rather than a point cloud: a raster file, a GSI XML or zip,
/// or a folder holding GSI XMLs or zips (and no LAS/LAZ).
pub fn is_dem(path: &Path) -> bool {
    if path.is_dir() {
        let Ok(rd) = std::fs::read_dir(path) else {
            return false;
        };
        let exts: Vec<String> = rd.flatten().map(|e| ext(&e.path())).collect();
        return exts.iter().any(|e| e == "xml" || e == "zip")
            && !exts.iter().any(|e| e == "las" || e == "laz");
    }
    matches!(
        ext(path).as_str(),
        "tif" | "tiff" | "vrt" | "img" | "asc" | "xml" | "zip"
    )
}

/// A GSI FG-GML DEM source: an XML file, a zip of them, or a folder of either.
pub fn is_gsi(path: &Path) -> bool {
    path.is_dir() || matches!(ext(path).as_str(), "xml" | "zip")
}

impl Dem {
    /// Opens a DEM epoch (see [`is_dem`]).
    pub fn open(path: &Path) -> Result<Dem> {
        if is_gsi(path) {
            return open_gsi(path);
        }
        let r = Raster::open(path)?;
        let gt = r
            .info
            .geotransform
            .ok_or_else(|| derr(path, "not georeferenced (no geotransform)"))?;
        if gt.is_rotated() {
            return Err(derr(path, "a rotated grid is not supported as a DEM epoch"));
        }
        if r.info.band_count != 1 {
            return Err(derr(
                path,
                format!(
                    "{} bands: a DEM epoch has one band of heights",
                    r.info.band_count
                ),
            ));
        }
        Ok(Dem {
            z: r.read_band_f32(1)?,
            width: r.info.width,
            height: r.info.height,
            gt,
            crs: r.info.crs.clone(),
            date: None,
            source: format!(
                "{} ({} x {} cells)",
                path.display(),
                r.info.width,
                r.info.height
            ),
        })
    }

    /// Cell size [x, y] in CRS units (positive).
    pub fn resolution(&self) -> [f64; 2] {
        [self.gt.0[1].abs(), self.gt.0[5].abs()]
    }

    /// [xmin, ymin, xmax, ymax] in the DEM's CRS.
    pub fn extent(&self) -> [f64; 4] {
        let g = self.gt.0;
        let (x1, y1) = (
            g[0] + g[1] * self.width as f64,
            g[3] + g[5] * self.height as f64,
        );
        [g[0].min(x1), g[3].min(y1), g[0].max(x1), g[3].max(y1)]
    }

    /// Cell size in metres (geometric mean of x and y; at the centre for a geographic DEM,
    /// to 0.1 m).
    pub fn metric_cell(&self) -> f64 {
        let r = self.resolution();
        if !self.crs.as_ref().is_some_and(|c| c.is_geographic) {
            return (r[0] * r[1]).sqrt();
        }
        let e = self.extent();
        let lat = (0.5 * (e[1] + e[3])).to_radians();
        let (mx, my) = (111_320.0 * lat.cos(), 110_574.0);
        ((r[0] * mx * r[1] * my).sqrt() * 10.0).round() / 10.0
    }

    /// The extent in another CRS (the edges sampled at 33 points each).
    pub fn extent_in(&self, to: &Crs) -> Result<[f64; 4]> {
        let e = self.extent();
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for k in 0..=32 {
            let t = k as f64 / 32.0;
            for (px, py) in [
                (e[0] + t * (e[2] - e[0]), e[1]),
                (e[0] + t * (e[2] - e[0]), e[3]),
                (e[0], e[1] + t * (e[3] - e[1])),
                (e[2], e[1] + t * (e[3] - e[1])),
            ] {
                x.push(px);
                y.push(py);
            }
        }
        if let Some(from) = &self.crs {
            crs::Transformer::new(from, to)?.apply(&mut x, &mut y, &mut [])?;
        }
        let min = |v: &[f64]| v.iter().cloned().fold(f64::INFINITY, f64::min);
        let max = |v: &[f64]| v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        Ok([min(&x), min(&y), max(&x), max(&y)])
    }

    /// Heights at the cell centres of a north-up grid (`gt`, `width` x `height`) in `to`
    /// (the DEM's own CRS when `None`), bilinear; the DEM itself when the grid is its own.
    pub fn resampled(
        &self,
        gt: GeoTransform,
        width: usize,
        height: usize,
        to: Option<&Crs>,
    ) -> Result<Dem> {
        let other_crs = matches!((to, &self.crs), (Some(a), Some(b)) if !a.same_as(b));
        if gt == self.gt && width == self.width && height == self.height && !other_crs {
            return Ok(self.clone());
        }
        let (mut x, mut y) = (
            Vec::with_capacity(width * height),
            Vec::with_capacity(width * height),
        );
        for r in 0..height {
            for c in 0..width {
                let p = gt.pixel_to_world(c as f64 + 0.5, r as f64 + 0.5);
                x.push(p[0]);
                y.push(p[1]);
            }
        }
        if let (true, Some(from), Some(dem)) = (other_crs, to, &self.crs) {
            crs::Transformer::new(from, dem)?.apply(&mut x, &mut y, &mut [])?;
        }
        Ok(Dem {
            z: x.iter().zip(&y).map(|(&x, &y)| self.sample(x, y)).collect(),
            width,
            height,
            gt,
            crs: to.cloned().or_else(|| self.crs.clone()),
            date: self.date,
            source: self.source.clone(),
        })
    }

    /// A geographic DEM on a metric grid (its UTM zone: JGD2011 / JGD2000 UTM for Japanese
    /// datums, WGS 84 UTM otherwise) at its metric cell size; a projected one as it is.
    pub fn to_metric(&self) -> Result<Dem> {
        let Some(c) = self.crs.as_ref().filter(|c| c.is_geographic) else {
            return Ok(self.clone());
        };
        let e = self.extent();
        let (lon, lat) = (0.5 * (e[0] + e[2]), 0.5 * (e[1] + e[3]));
        let zone = (((lon + 180.0) / 6.0).floor() as u32 + 1).clamp(1, 60);
        let code = match (c.epsg, zone) {
            (Some(6668), 51..=55) => 6688 + zone - 51,
            (Some(4612), 51..=55) => 3097 + zone - 51,
            _ if lat >= 0.0 => 32600 + zone,
            _ => 32700 + zone,
        };
        let to = crs::from_epsg(code, CrsSource::User)?;
        let cell = self.metric_cell();
        let b = self.extent_in(&to)?;
        let x0 = (b[0] / cell).floor() * cell;
        let y0 = (b[3] / cell).ceil() * cell;
        let w = (((b[2] - x0) / cell).ceil() as usize).max(1);
        let h = (((y0 - b[1]) / cell).ceil() as usize).max(1);
        if w.saturating_mul(h) > 400_000_000 {
            return Err(derr(
                Path::new(&self.source),
                "too large to put on a metric grid",
            ));
        }
        self.resampled(
            GeoTransform([x0, cell, 0.0, y0, 0.0, -cell]),
            w,
            h,
            Some(&to),
        )
    }

    /// Bilinear height between cell centres at a position of the DEM's CRS; NaN outside the
    /// grid or next to a no-data cell (as GDAL's bilinear warp leaves them).
    pub fn sample(&self, x: f64, y: f64) -> f32 {
        let Some([c, r]) = self.gt.world_to_pixel(x, y) else {
            return f32::NAN;
        };
        let (w, h) = (self.width, self.height);
        if !(c >= 0.0 && r >= 0.0 && c <= w as f64 && r <= h as f64) {
            return f32::NAN;
        }
        super::geoid::bilinear(&self.z, w, h, c, r) as f32
    }
}

/// One FG-GML DEM tile as parsed.
struct GsiTile {
    /// South-west and north-east corners (longitude, latitude), snapped to 0.01".
    lower: [f64; 2],
    upper: [f64; 2],
    cols: usize,
    rows: usize,
    crs_epsg: u32,
    z: Vec<f32>,
    date: Option<chrono::NaiveDate>,
    kind: String,
}

/// Seconds of arc to 1/100: GSI writes corners to 9 decimals (35.258333333), the mesh lines
/// are whole fractions of a second.
fn snap(deg: f64) -> f64 {
    (deg * 360_000.0).round() / 360_000.0
}

fn parse_gsi(text: &str, path: &Path) -> Result<GsiTile> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(text);
    let bad = |why: &str| derr(path, format!("not a GSI FG-GML DEM: {why}"));
    let mut current = String::new();
    let mut in_dev_date = false;
    let (mut lower, mut upper, mut high, mut start) = (None, None, None, None);
    let mut srs = None;
    let mut tuples: Option<String> = None;
    let mut date = None;
    let mut kind = String::new();
    let pair = |s: &str| -> Option<[f64; 2]> {
        let v: Vec<f64> = s
            .split_whitespace()
            .filter_map(|t| t.parse().ok())
            .collect();
        (v.len() == 2).then(|| [v[0], v[1]])
    };
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                current = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                match current.as_str() {
                    "Envelope" => {
                        if let Ok(Some(a)) = e.try_get_attribute("srsName") {
                            srs = Some(String::from_utf8_lossy(&a.value).into_owned());
                        }
                    }
                    "devDate" => in_dev_date = true,
                    "tupleList" => tuples = Some(String::new()),
                    _ => {}
                }
            }
            Ok(Event::End(e)) => {
                if e.local_name().as_ref() == b"devDate" {
                    in_dev_date = false;
                }
                current.clear();
            }
            Ok(Event::Text(t)) => {
                let s = t.decode().map_err(|e| bad(&e.to_string()))?;
                match current.as_str() {
                    "lowerCorner" => lower = pair(&s),
                    "upperCorner" => upper = pair(&s),
                    "high" => high = pair(&s),
                    "startPoint" => start = pair(&s),
                    "type" => kind = s.trim().to_string(),
                    "timePosition" if in_dev_date => {
                        date = chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
                    }
                    "tupleList" => {
                        if let Some(t) = tuples.as_mut() {
                            t.push_str(&s);
                        }
                    }
                    _ => {}
                }
            }
            Ok(Event::Eof) => break,
            Err(e) => {
                return Err(bad(&format!(
                    "XML error at byte {}: {e}",
                    reader.error_position()
                )))
            }
            _ => {}
        }
    }
    let (Some(lo), Some(up), Some(hi)) = (lower, upper, high) else {
        return Err(bad("no gml:Envelope or gml:GridEnvelope"));
    };
    let tuples = tuples.ok_or_else(|| bad("no gml:tupleList"))?;
    let crs_epsg = match srs.as_deref().map(|s| s.to_ascii_lowercase()) {
        Some(s) if s.contains("jgd2011") => 6668,
        Some(s) if s.contains("jgd2000") => 4612,
        other => {
            return Err(bad(&format!(
                "unknown srsName {:?} (expected fguuid:jgd2011.bl or fguuid:jgd2000.bl)",
                other.unwrap_or_default()
            )))
        }
    };
    if !(hi[0] >= 0.0 && hi[1] >= 0.0 && hi[0] < 100_000.0 && hi[1] < 100_000.0) {
        return Err(bad("implausible grid size"));
    }
    let (cols, rows) = (hi[0] as usize + 1, hi[1] as usize + 1);
    // A mesh tile is at most a few thousand cells a side (DEM1A: 1125 x 750).
    if cols * rows > 50_000_000 {
        return Err(bad("implausible grid size"));
    }
    // Corners are "latitude longitude".
    let lower = [snap(lo[1]), snap(lo[0])];
    let upper = [snap(up[1]), snap(up[0])];
    if !(upper[0] > lower[0] && upper[1] > lower[1]) {
        return Err(bad(
            "the envelope's upper corner is not north-east of its lower",
        ));
    }
    let mut z = vec![f32::NAN; cols * rows];
    let s = start.unwrap_or([0.0, 0.0]);
    let first = (s[1] as usize)
        .saturating_mul(cols)
        .saturating_add(s[0] as usize);
    let lines = tuples.lines().map(str::trim).filter(|l| !l.is_empty());
    for (k, line) in (first..).zip(lines) {
        let v = line
            .rsplit(',')
            .next()
            .and_then(|v| v.trim().parse::<f32>().ok())
            .ok_or_else(|| bad(&format!("bad tuple {line:?}")))?;
        if k >= z.len() {
            return Err(bad(&format!(
                "more heights than the {cols} x {rows} grid holds"
            )));
        }
        // -9999: no data (sea, or no measurement).
        z[k] = if v <= -9998.0 { f32::NAN } else { v };
    }
    Ok(GsiTile {
        lower,
        upper,
        cols,
        rows,
        crs_epsg,
        z,
        date,
        kind,
    })
}

/// Every FG-GML text under a path: the file, each XML in a zip (zips inside it too), each
/// XML or zip in a folder (sorted, not recursive).
fn gsi_texts(path: &Path, out: &mut Vec<(PathBuf, String)>) -> Result<()> {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| IoError::io(path, e))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| matches!(ext(p).as_str(), "xml" | "zip"))
            .collect();
        entries.sort();
        for p in entries {
            gsi_texts(&p, out)?;
        }
        return Ok(());
    }
    let bytes = std::fs::read(path).map_err(|e| IoError::io(path, e))?;
    texts_of(path, bytes, 0, out)
}

fn texts_of(
    path: &Path,
    bytes: Vec<u8>,
    depth: usize,
    out: &mut Vec<(PathBuf, String)>,
) -> Result<()> {
    if bytes.starts_with(b"PK") {
        if depth > 2 {
            return Err(derr(path, "zips nested more than 3 deep"));
        }
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes))
            .map_err(|e| derr(path, format!("not a readable zip ({e})")))?;
        for i in 0..zip.len() {
            let mut f = zip
                .by_index(i)
                .map_err(|e| derr(path, format!("zip entry {i}: {e}")))?;
            let name = f
                .name()
                .map_err(|e| derr(path, format!("zip entry {i}: {e}")))?
                .to_string();
            let lower = name.to_ascii_lowercase();
            if f.is_dir() || !(lower.ends_with(".xml") || lower.ends_with(".zip")) {
                continue;
            }
            // DEM XML tiles are a few MB; a bigger entry is not one.
            if f.size() > 512 * 1024 * 1024 {
                return Err(derr(
                    path,
                    format!("{name}: {} bytes is not a DEM tile", f.size()),
                ));
            }
            let mut buf = Vec::with_capacity(f.size() as usize);
            f.read_to_end(&mut buf)
                .map_err(|e| derr(path, format!("{name}: {e}")))?;
            texts_of(&path.join(&name), buf, depth + 1, out)?;
        }
        return Ok(());
    }
    let text =
        String::from_utf8(bytes).map_err(|_| derr(path, "not UTF-8 text (FG-GML is UTF-8 XML)"))?;
    out.push((path.to_path_buf(), text));
    Ok(())
}

/// GSI DEM tiles mosaicked on their common grid (they must share one cell size).
fn open_gsi(path: &Path) -> Result<Dem> {
    let mut texts = Vec::new();
    gsi_texts(path, &mut texts)?;
    if texts.is_empty() {
        return Err(derr(path, "no FG-GML DEM XML in it"));
    }
    let tiles: Vec<GsiTile> = texts
        .iter()
        .map(|(p, t)| parse_gsi(t, p))
        .collect::<Result<_>>()?;
    let t0 = &tiles[0];
    let res = |t: &GsiTile| {
        [
            (t.upper[0] - t.lower[0]) / t.cols as f64,
            (t.upper[1] - t.lower[1]) / t.rows as f64,
        ]
    };
    let r0 = res(t0);
    for (t, (p, _)) in tiles.iter().zip(&texts) {
        let r = res(t);
        if (r[0] - r0[0]).abs() > 1e-9 || (r[1] - r0[1]).abs() > 1e-9 || t.crs_epsg != t0.crs_epsg {
            return Err(derr(
                p,
                format!(
                    "a {} tile with another grid or datum than the first ({}): mosaic one \
                     kind of DEM at a time",
                    t.kind, t0.kind
                ),
            ));
        }
    }
    let west = tiles
        .iter()
        .map(|t| t.lower[0])
        .fold(f64::INFINITY, f64::min);
    let north = tiles
        .iter()
        .map(|t| t.upper[1])
        .fold(f64::NEG_INFINITY, f64::max);
    let east = tiles
        .iter()
        .map(|t| t.upper[0])
        .fold(f64::NEG_INFINITY, f64::max);
    let south = tiles
        .iter()
        .map(|t| t.lower[1])
        .fold(f64::INFINITY, f64::min);
    let width = ((east - west) / r0[0]).round() as usize;
    let height = ((north - south) / r0[1]).round() as usize;
    if width.saturating_mul(height) > 400_000_000 {
        return Err(derr(
            path,
            format!("a {width} x {height} mosaic is too large"),
        ));
    }
    let mut z = vec![f32::NAN; width * height];
    for t in &tiles {
        let c0 = ((t.lower[0] - west) / r0[0]).round() as usize;
        let r0_ = ((north - t.upper[1]) / r0[1]).round() as usize;
        for r in 0..t.rows {
            for c in 0..t.cols {
                let v = t.z[r * t.cols + c];
                let (cc, rr) = (c0 + c, r0_ + r);
                if v.is_finite() && cc < width && rr < height {
                    z[rr * width + cc] = v;
                }
            }
        }
    }
    let crs = crs::from_epsg(t0.crs_epsg, CrsSource::User)?;
    let date = tiles.iter().filter_map(|t| t.date).max();
    Ok(Dem {
        z,
        width,
        height,
        gt: GeoTransform([west, r0[0], 0.0, north, 0.0, -r0[1]]),
        crs: Some(crs),
        date,
        source: format!(
            "{} GSI {} tile{} ({width} x {height} cells)",
            tiles.len(),
            t0.kind,
            if tiles.len() == 1 { "" } else { "s" }
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TILE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Dataset xmlns:gml="http://www.opengis.net/gml/3.2" xmlns="http://fgd.gsi.go.jp/spec/2008/FGD_GMLSchema">
<DEM><type>5mメッシュ（標高）</type><mesh>52387400</mesh>
<devDate><gml:timePosition>2016-10-01</gml:timePosition></devDate>
<coverage><gml:boundedBy><gml:Envelope srsName="fguuid:jgd2011.bl">
<gml:lowerCorner>35.25 138.5</gml:lowerCorner><gml:upperCorner>35.250555556 138.500833333</gml:upperCorner>
</gml:Envelope></gml:boundedBy>
<gml:gridDomain><gml:Grid><gml:limits><gml:GridEnvelope><gml:low>0 0</gml:low><gml:high>2 1</gml:high></gml:GridEnvelope></gml:limits></gml:Grid></gml:gridDomain>
<gml:rangeSet><gml:DataBlock><gml:tupleList>
地表面,10.5
地表面,-9999.
地表面,12.25
地表面,13.0
</gml:tupleList></gml:DataBlock></gml:rangeSet>
<gml:coverageFunction><gml:GridFunction><gml:sequenceRule order="+x-y">Linear</gml:sequenceRule><gml:startPoint>1 0</gml:startPoint></gml:GridFunction></gml:coverageFunction>
</coverage></DEM></Dataset>"#;

    #[test]
    fn fg_gml_tile_grid_start_point_and_no_data() {
        let t = parse_gsi(TILE, Path::new("t.xml")).unwrap();
        assert_eq!((t.cols, t.rows, t.crs_epsg), (3, 2, 6668));
        assert_eq!(t.date, chrono::NaiveDate::from_ymd_opt(2016, 10, 1));
        // The list starts at x = 1: cell 0 has no height, -9999 is none, the last is missing.
        assert!(t.z[0].is_nan() && t.z[2].is_nan() && t.z[5].is_nan());
        assert_eq!((t.z[1], t.z[3], t.z[4]), (10.5, 12.25, 13.0));
        // A 3" x 2" tile (1" cells) on snapped corners.
        assert!((t.upper[1] - (35.25 + 2.0 / 3600.0)).abs() < 1e-12);
        assert!((t.upper[0] - (138.5 + 3.0 / 3600.0)).abs() < 1e-12);
        // Older downloads are on JGD2000.
        let old = parse_gsi(
            &TILE.replace("jgd2011.bl", "jgd2000.bl"),
            Path::new("t.xml"),
        );
        assert_eq!(old.unwrap().crs_epsg, 4612);
    }

    #[test]
    fn bad_fg_gml_is_an_error_not_a_panic() {
        for bad in [
            "",
            "<a>",
            &TILE.replace("jgd2011.bl", "tokyo.bl"),
            &TILE.replace("<gml:high>2 1</gml:high>", "<gml:high>0 0</gml:high>"),
            &TILE.replace("13.0", "x"),
        ] {
            assert!(parse_gsi(bad, Path::new("t.xml")).is_err(), "{bad:.40}");
        }
    }
}
