//! GeoTIFF orthophotos and DEMs through GDAL: metadata, windows as RGB or f32, and a
//! single-band f32 GeoTIFF writer (DEM of difference).

use super::{crs, IoError, Result};
use crate::cloud::{Crs, CrsSource};
use gdal::raster::{Buffer, GdalDataType, ResampleAlg};
use gdal::{Dataset, DriverManager};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Refuse single reads larger than this many bytes: a corrupt size must not become a huge
/// allocation, and the viewer tiles anything bigger.
const MAX_READ_BYTES: usize = 1 << 30;

/// Affine pixel -> world mapping as GDAL gives it: x = g0 + col*g1 + row*g2,
/// y = g3 + col*g4 + row*g5 (g2, g4 non-zero for rotated rasters).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct GeoTransform(pub [f64; 6]);

impl GeoTransform {
    pub fn pixel_to_world(&self, col: f64, row: f64) -> [f64; 2] {
        let g = self.0;
        [
            g[0] + col * g[1] + row * g[2],
            g[3] + col * g[4] + row * g[5],
        ]
    }

    /// Inverse mapping; `None` for a degenerate transform.
    pub fn world_to_pixel(&self, x: f64, y: f64) -> Option<[f64; 2]> {
        let g = self.0;
        let det = g[1] * g[5] - g[2] * g[4];
        if det == 0.0 || !det.is_finite() {
            return None;
        }
        let (dx, dy) = (x - g[0], y - g[3]);
        Some([
            (g[5] * dx - g[2] * dy) / det,
            (-g[4] * dx + g[1] * dy) / det,
        ])
    }

    pub fn is_rotated(&self) -> bool {
        self.0[2] != 0.0 || self.0[4] != 0.0
    }

    /// Ground size of one pixel along its column and row directions.
    pub fn resolution(&self) -> [f64; 2] {
        let g = self.0;
        [
            (g[1] * g[1] + g[4] * g[4]).sqrt(),
            (g[2] * g[2] + g[5] * g[5]).sqrt(),
        ]
    }
}

/// What a raster is, without its pixels.
#[derive(Clone, Debug, Serialize)]
pub struct RasterInfo {
    #[serde(skip)]
    pub path: PathBuf,
    pub driver: String,
    pub width: usize,
    pub height: usize,
    pub band_count: usize,
    pub band_types: Vec<String>,
    pub nodata: Vec<Option<f64>>,
    /// `None` when the file is not georeferenced.
    pub geotransform: Option<GeoTransform>,
    pub rotated: bool,
    pub resolution: Option<[f64; 2]>,
    /// [min_x, min_y, max_x, max_y] of the four corners.
    pub extent: Option<[f64; 4]>,
    pub crs: Option<Crs>,
    pub warnings: Vec<String>,
}

/// An open raster.
pub struct Raster {
    pub info: RasterInfo,
    ds: Dataset,
}

/// GDAL's error text without the "CPL error class: '3', error number: ..." wrapper.
fn gdal_msg(e: &gdal::errors::GdalError) -> String {
    let s = e.to_string();
    match s.find("error msg: '") {
        Some(i) => s[i + 12..]
            .trim_end()
            .trim_end_matches('\'')
            .trim()
            .to_string(),
        None => s.trim().to_string(),
    }
}

fn rerr(path: &Path, reason: impl std::fmt::Display) -> IoError {
    IoError::Raster {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

impl Raster {
    /// Opens a raster GDAL reads, or a GSI FG-GML DEM (XML, zip, folder) as an in-memory one.
    pub fn open(path: &Path) -> Result<Raster> {
        crs::quiet_gdal();
        if super::dem::is_gsi(path) {
            return Raster::from_dem(path, &super::dem::Dem::open(path)?);
        }
        let meta = std::fs::metadata(path).map_err(|e| IoError::io(path, e))?;
        if meta.len() == 0 {
            return Err(rerr(path, "empty file"));
        }
        let ds = Dataset::open(path)
            .map_err(|e| rerr(path, format!("GDAL cannot open it ({})", gdal_msg(&e))))?;
        Raster::from_dataset(path, ds)
    }

    /// A DEM read by our own reader as a GDAL in-memory dataset (NaN = no data), so the
    /// viewer and every raster reader see it as they see a GeoTIFF.
    pub fn from_dem(path: &Path, d: &super::dem::Dem) -> Result<Raster> {
        let e = |e: gdal::errors::GdalError| rerr(path, gdal_msg(&e));
        let drv = gdal::DriverManager::get_driver_by_name("MEM").map_err(e)?;
        let mut ds = drv
            .create_with_band_type::<f32, _>("", d.width, d.height, 1)
            .map_err(e)?;
        ds.set_geo_transform(&d.gt.0).map_err(e)?;
        if let Some(c) = &d.crs {
            ds.set_projection(&c.wkt).map_err(e)?;
        }
        {
            let mut b = ds.rasterband(1).map_err(e)?;
            b.set_no_data_value(Some(f64::NAN)).map_err(e)?;
            let mut buf = Buffer::new((d.width, d.height), d.z.clone());
            b.write((0, 0), (d.width, d.height), &mut buf).map_err(e)?;
        }
        Raster::from_dataset(path, ds)
    }

    fn from_dataset(path: &Path, ds: Dataset) -> Result<Raster> {
        let (width, height) = ds.raster_size();
        let band_count = ds.raster_count();
        if width == 0 || height == 0 || band_count == 0 {
            return Err(rerr(
                path,
                format!("no pixels ({width} x {height}, {band_count} bands)"),
            ));
        }
        let mut warnings = Vec::new();
        let mut band_types = Vec::new();
        let mut nodata = Vec::new();
        for b in 1..=band_count {
            let band = ds.rasterband(b).map_err(|e| rerr(path, e))?;
            band_types.push(band.band_type().name());
            nodata.push(band.no_data_value());
        }
        let geotransform = ds
            .geo_transform()
            .ok()
            .map(GeoTransform)
            .filter(|g| *g != GeoTransform([0.0, 1.0, 0.0, 0.0, 0.0, 1.0]));
        if geotransform.is_none() {
            warnings.push("not georeferenced (no geotransform)".into());
        }
        let wkt = ds.projection();
        let crs = if wkt.trim().is_empty() {
            warnings.push("no CRS in the file".into());
            None
        } else {
            match crs::from_wkt(&wkt, CrsSource::Wkt) {
                Ok(c) => Some(c),
                Err(e) => {
                    warnings.push(format!("CRS unusable: {e}"));
                    None
                }
            }
        };
        let extent = geotransform.map(|g| {
            let corners = [
                (0.0, 0.0),
                (width as f64, 0.0),
                (0.0, height as f64),
                (width as f64, height as f64),
            ]
            .map(|(c, r)| g.pixel_to_world(c, r));
            let xs = corners.map(|p| p[0]);
            let ys = corners.map(|p| p[1]);
            [
                xs.iter().cloned().fold(f64::INFINITY, f64::min),
                ys.iter().cloned().fold(f64::INFINITY, f64::min),
                xs.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
                ys.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
            ]
        });
        let info = RasterInfo {
            path: path.to_path_buf(),
            driver: ds.driver().short_name(),
            width,
            height,
            band_count,
            band_types,
            nodata,
            rotated: geotransform.is_some_and(|g| g.is_rotated()),
            resolution: geotransform.map(|g| g.resolution()),
            geotransform,
            extent,
            crs,
            warnings,
        };
        Ok(Raster { info, ds })
    }

    fn check_window(
        &self,
        x: usize,
        y: usize,
        w: usize,
        h: usize,
        out: (usize, usize),
        bytes_per: usize,
    ) -> Result<()> {
        let p = &self.info.path;
        if w == 0
            || h == 0
            || x.checked_add(w).is_none_or(|e| e > self.info.width)
            || y.checked_add(h).is_none_or(|e| e > self.info.height)
        {
            return Err(rerr(
                p,
                format!(
                    "window {x},{y} {w}x{h} outside the {}x{} raster",
                    self.info.width, self.info.height
                ),
            ));
        }
        if out
            .0
            .checked_mul(out.1)
            .and_then(|n| n.checked_mul(bytes_per))
            .is_none_or(|n| n > MAX_READ_BYTES)
        {
            return Err(rerr(
                p,
                format!(
                    "a {}x{} read is too large; read smaller windows",
                    out.0, out.1
                ),
            ));
        }
        Ok(())
    }

    /// Reads band `band` (1-based) in the pixel window (x, y, w, h), resampled to `out` size,
    /// as f32 with no-data (and NaN) as NaN.
    pub fn read_f32(
        &self,
        band: usize,
        x: usize,
        y: usize,
        w: usize,
        h: usize,
        out: (usize, usize),
    ) -> Result<Vec<f32>> {
        self.check_window(x, y, w, h, out, 4)?;
        let p = &self.info.path;
        let b = self.ds.rasterband(band).map_err(|e| rerr(p, e))?;
        let alg = if out == (w, h) {
            None
        } else {
            Some(ResampleAlg::Average)
        };
        let buf: Buffer<f32> = b
            .read_as::<f32>((x as isize, y as isize), (w, h), out, alg)
            .map_err(|e| rerr(p, format!("cannot read pixels ({})", gdal_msg(&e))))?;
        let nd = b.no_data_value();
        let (_, mut v) = buf.into_shape_and_vec();
        if let Some(nd) = nd {
            let nd32 = nd as f32;
            for val in &mut v {
                if *val == nd32 {
                    *val = f32::NAN;
                }
            }
        }
        Ok(v)
    }

    /// Reads the whole of band `band` at full resolution.
    pub fn read_band_f32(&self, band: usize) -> Result<Vec<f32>> {
        let (w, h) = (self.info.width, self.info.height);
        self.read_f32(band, 0, 0, w, h, (w, h))
    }

    /// Reads a window as 8-bit RGB (one band: grey; two: grey + alpha ignored). 16-bit or float
    /// imagery is stretched from the band's min/max.
    pub fn read_rgb(
        &self,
        x: usize,
        y: usize,
        w: usize,
        h: usize,
        out: (usize, usize),
    ) -> Result<image::RgbImage> {
        self.check_window(x, y, w, h, out, 3)?;
        let p = &self.info.path;
        let bands: Vec<usize> = if self.info.band_count >= 3 {
            vec![1, 2, 3]
        } else {
            vec![1, 1, 1]
        };
        let alg = if out == (w, h) {
            None
        } else {
            Some(ResampleAlg::Average)
        };
        let mut planes: Vec<Vec<u8>> = Vec::with_capacity(3);
        for &bi in &bands {
            let b = self.ds.rasterband(bi).map_err(|e| rerr(p, e))?;
            let plane = if b.band_type() == GdalDataType::UInt8 {
                b.read_as::<u8>((x as isize, y as isize), (w, h), out, alg)
                    .map_err(|e| rerr(p, format!("cannot read pixels ({})", gdal_msg(&e))))?
                    .into_shape_and_vec()
                    .1
            } else {
                let v: Vec<f32> = b
                    .read_as::<f32>((x as isize, y as isize), (w, h), out, alg)
                    .map_err(|e| rerr(p, format!("cannot read pixels ({})", gdal_msg(&e))))?
                    .into_shape_and_vec()
                    .1;
                let (lo, hi) = v
                    .iter()
                    .filter(|f| f.is_finite())
                    .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &f| {
                        (a.min(f), b.max(f))
                    });
                let span = if hi > lo { hi - lo } else { 1.0 };
                v.iter()
                    .map(|f| {
                        if f.is_finite() {
                            (((f - lo) / span) * 255.0).round().clamp(0.0, 255.0) as u8
                        } else {
                            0
                        }
                    })
                    .collect()
            };
            planes.push(plane);
        }
        let mut img = image::RgbImage::new(out.0 as u32, out.1 as u32);
        for (i, px) in img.pixels_mut().enumerate() {
            *px = image::Rgb([planes[0][i], planes[1][i], planes[2][i]]);
        }
        Ok(img)
    }

    /// A preview of the whole raster, at most `max_side` pixels on its longer side. Reading it
    /// touches every block, so it also proves the pixels decode.
    pub fn preview(&self, max_side: usize) -> Result<image::RgbImage> {
        let (w, h) = (self.info.width, self.info.height);
        let s = (max_side as f64 / w.max(h) as f64).min(1.0);
        let out = (
            ((w as f64) * s).round().max(1.0) as usize,
            ((h as f64) * s).round().max(1.0) as usize,
        );
        self.read_rgb(0, 0, w, h, out)
    }

    /// Decodes every block of every band at full resolution (GDAL checksum, no big buffer), so
    /// a corrupt tile is found when the file is opened, not half-way through a job. Rasters
    /// over `max_pixels` per band are left unverified (returns false).
    pub fn verify_pixels(&self, max_pixels: usize) -> Result<bool> {
        let (w, h) = (self.info.width, self.info.height);
        if w.saturating_mul(h) > max_pixels {
            return Ok(false);
        }
        for b in 1..=self.info.band_count {
            let band = self
                .ds
                .rasterband(b)
                .map_err(|e| rerr(&self.info.path, e))?;
            band.checksum((0, 0), (w, h)).map_err(|e| {
                rerr(
                    &self.info.path,
                    format!("band {b}: pixels cannot be decoded ({})", gdal_msg(&e)),
                )
            })?;
        }
        Ok(true)
    }

    /// Samples band 1 at world coordinates (nearest pixel); NaN outside or on no-data.
    pub fn sample_nearest(&self, band_values: &[f32], x: f64, y: f64) -> f32 {
        let Some(g) = self.info.geotransform else {
            return f32::NAN;
        };
        let Some([c, r]) = g.world_to_pixel(x, y) else {
            return f32::NAN;
        };
        if c < 0.0 || r < 0.0 {
            return f32::NAN;
        }
        let (c, r) = (c.floor() as usize, r.floor() as usize);
        if c >= self.info.width || r >= self.info.height {
            return f32::NAN;
        }
        band_values
            .get(r * self.info.width + c)
            .copied()
            .unwrap_or(f32::NAN)
    }
}

/// Writes a single-band f32 GeoTIFF (deflate-compressed, tiled) with CRS and no-data.
/// NaN values are written as `nodata`.
pub fn write_f32(
    path: &Path,
    width: usize,
    height: usize,
    gt: GeoTransform,
    crs: Option<&Crs>,
    nodata: f32,
    values: &[f32],
) -> Result<()> {
    write_f32_bands(path, width, height, gt, crs, nodata, &[("", values)])
}

/// As `write_f32` with several bands, each with a description (GDAL band description).
pub fn write_f32_bands(
    path: &Path,
    width: usize,
    height: usize,
    gt: GeoTransform,
    crs: Option<&Crs>,
    nodata: f32,
    bands: &[(&str, &[f32])],
) -> Result<()> {
    write_f32_bands_as(path, width, height, gt, crs, nodata, bands, Layout::Tiled)
}

/// How a GeoTIFF is laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Tiled, deflate (GDAL's GTiff driver).
    Tiled,
    /// Cloud Optimized GeoTIFF (GDAL's COG driver: tiled, overviews, deflate), for a mosaic
    /// that portals and QGIS read over HTTP range requests.
    Cog,
}

/// `write_f32_bands` in the given layout.
#[allow(clippy::too_many_arguments)]
pub fn write_f32_bands_as(
    path: &Path,
    width: usize,
    height: usize,
    gt: GeoTransform,
    crs: Option<&Crs>,
    nodata: f32,
    bands: &[(&str, &[f32])],
    layout: Layout,
) -> Result<()> {
    let cog = layout == Layout::Cog;
    use gdal::Metadata;
    crs::quiet_gdal();
    let werr = |reason: String| IoError::Write {
        path: path.to_path_buf(),
        reason,
    };
    if width == 0
        || height == 0
        || bands.is_empty()
        || bands.iter().any(|b| b.1.len() != width * height)
    {
        return Err(werr(format!(
            "band sizes do not match a {width}x{height} raster"
        )));
    }
    let driver = DriverManager::get_driver_by_name(if cog { "MEM" } else { "GTiff" })
        .map_err(|e| werr(e.to_string()))?;
    let opts: gdal::raster::RasterCreationOptions = if cog {
        Default::default()
    } else {
        ["COMPRESS=DEFLATE", "TILED=YES", "PREDICTOR=3"]
            .into_iter()
            .collect()
    };
    super::safe::write_file(path, |tmp| {
        // COG is a copy-only driver: the bands are built in memory, then copied.
        let target = if cog { Path::new("") } else { tmp };
        let mut ds = driver
            .create_with_band_type_with_options::<f32, _>(target, width, height, bands.len(), &opts)
            .map_err(|e| werr(e.to_string()))?;
        ds.set_geo_transform(&gt.0)
            .map_err(|e| werr(e.to_string()))?;
        if let Some(c) = crs {
            ds.set_projection(&c.wkt).map_err(|e| werr(e.to_string()))?;
        }
        for (k, (name, values)) in bands.iter().enumerate() {
            let mut band = ds.rasterband(k + 1).map_err(|e| werr(e.to_string()))?;
            band.set_no_data_value(Some(f64::from(nodata)))
                .map_err(|e| werr(e.to_string()))?;
            if !name.is_empty() {
                band.set_description(name)
                    .map_err(|e| werr(e.to_string()))?;
            }
            let data: Vec<f32> = values
                .iter()
                .map(|v| if v.is_nan() { nodata } else { *v })
                .collect();
            let mut buf = Buffer::new((width, height), data);
            band.write((0, 0), (width, height), &mut buf)
                .map_err(|e| werr(e.to_string()))?;
        }
        if cog {
            let d = DriverManager::get_driver_by_name("COG").map_err(|e| werr(e.to_string()))?;
            let o: gdal::raster::RasterCreationOptions =
                ["COMPRESS=DEFLATE", "PREDICTOR=YES", "BLOCKSIZE=512"]
                    .into_iter()
                    .collect();
            let copy = ds
                .create_copy(&d, tmp, &o)
                .map_err(|e| werr(e.to_string()))?;
            return copy.close().map_err(|e| werr(e.to_string()));
        }
        ds.close().map_err(|e| werr(e.to_string()))
    })
}

/// Writes an 8-bit RGB GeoTIFF (the generated sample orthophoto).
pub fn write_rgb(
    path: &Path,
    img: &image::RgbImage,
    gt: GeoTransform,
    crs: Option<&Crs>,
) -> Result<()> {
    crs::quiet_gdal();
    let werr = |reason: String| IoError::Write {
        path: path.to_path_buf(),
        reason,
    };
    let (w, h) = (img.width() as usize, img.height() as usize);
    let driver = DriverManager::get_driver_by_name("GTiff").map_err(|e| werr(e.to_string()))?;
    let opts: gdal::raster::RasterCreationOptions =
        ["COMPRESS=DEFLATE", "TILED=YES", "PHOTOMETRIC=RGB"]
            .into_iter()
            .collect();
    super::safe::write_file(path, |tmp| {
        let mut ds = driver
            .create_with_band_type_with_options::<u8, _>(tmp, w, h, 3, &opts)
            .map_err(|e| werr(e.to_string()))?;
        ds.set_geo_transform(&gt.0)
            .map_err(|e| werr(e.to_string()))?;
        if let Some(c) = crs {
            ds.set_projection(&c.wkt).map_err(|e| werr(e.to_string()))?;
        }
        for k in 0..3 {
            let plane: Vec<u8> = img.pixels().map(|p| p.0[k]).collect();
            let mut band = ds.rasterband(k + 1).map_err(|e| werr(e.to_string()))?;
            let mut buf = Buffer::new((w, h), plane);
            band.write((0, 0), (w, h), &mut buf)
                .map_err(|e| werr(e.to_string()))?;
        }
        ds.close().map_err(|e| werr(e.to_string()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotated_transform_inverts() {
        let g = GeoTransform([100.0, 8.660254, -5.0, 300.0, 5.0, 8.660254]);
        assert!(g.is_rotated());
        let w = g.pixel_to_world(3.0, 7.0);
        let p = g.world_to_pixel(w[0], w[1]).unwrap();
        assert!((p[0] - 3.0).abs() < 1e-9 && (p[1] - 7.0).abs() < 1e-9);
        let r = g.resolution();
        assert!((r[0] - 10.0).abs() < 1e-5 && (r[1] - 10.0).abs() < 1e-5);
    }

    #[test]
    fn f32_geotiff_round_trip_with_nodata_and_crs() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d.tif");
        let c = crs::from_epsg(6671, CrsSource::User).unwrap();
        let vals = vec![1.5, f32::NAN, -2.25, 0.0, 7.0, 8.5];
        let gt = GeoTransform([-8000.0, 0.5, 0.0, -36000.0, 0.0, -0.5]);
        write_f32(&p, 3, 2, gt, Some(&c), -9999.0, &vals).unwrap();
        let r = Raster::open(&p).unwrap();
        assert_eq!((r.info.width, r.info.height, r.info.band_count), (3, 2, 1));
        assert_eq!(r.info.nodata, vec![Some(-9999.0)]);
        assert_eq!(r.info.crs.as_ref().and_then(|c| c.epsg), Some(6671));
        assert_eq!(r.info.geotransform, Some(gt));
        assert_eq!(r.info.extent, Some([-8000.0, -36001.0, -7998.5, -36000.0]));
        let back = r.read_band_f32(1).unwrap();
        assert!(back[1].is_nan());
        assert_eq!(back[0], 1.5);
        assert_eq!(back[5], 8.5);
        assert_eq!(r.sample_nearest(&back, -7999.9, -36000.1), 1.5);
        assert!(r.sample_nearest(&back, -7000.0, -36000.1).is_nan());
    }
}
