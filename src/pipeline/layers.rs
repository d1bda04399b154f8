//! What the viewer shows, prepared below it (so `app/` reads no file itself): rasters
//! as layers (DEM hillshade, image previews within texture limits) and point colours from an
//! orthophoto.

use super::{PipelineError, Result};
use crate::cloud::{Crs, PointCloud};
use crate::io::raster::Raster;
use crate::io::IoError;
use std::path::Path;

/// A raster as the viewer needs it: pixels for a texture and where its corners are.
pub struct RasterLayer {
    pub image: image::RgbImage,
    /// World (x, y) of the top-left, top-right, bottom-right, bottom-left pixel corners.
    pub corners: [[f64; 2]; 4],
    /// A DEM (one band, not 8-bit): heights on the same grid as `image`, NaN where no data.
    pub heights: Option<Vec<f32>>,
    pub crs: Option<Crs>,
    pub size: (usize, usize),
}

/// A raster file by its extension (the viewer opens it as a raster layer).
pub fn is_raster(path: &Path) -> bool {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    matches!(
        ext.as_str(),
        "tif" | "tiff" | "vrt" | "jp2" | "png" | "jpg" | "jpeg" | "img" | "xml" | "zip"
    )
}

/// Largest texture side: what every GPU (and lavapipe) accepts.
const MAX_TEXTURE: usize = 4096;
const MAX_DEM_SIDE: usize = 512;

/// A raster as a viewer layer: a DEM (one band, not 8-bit) as heights and a hillshade at most
/// MAX_DEM_SIDE on a side, an image as an RGB preview at most MAX_TEXTURE on a side.
pub fn open_raster(path: &Path) -> Result<RasterLayer> {
    let mut r = Raster::open(path)?;
    // A geographic DEM (GSI's are) is shown on its UTM grid, so cells and heights are metres.
    let info = &r.info;
    if info.crs.as_ref().is_some_and(|c| c.is_geographic)
        && info.band_count == 1
        && info.band_types.first().is_some_and(|t| t != "UInt8")
    {
        let d = crate::io::dem::Dem::open(path)?.to_metric()?;
        r = Raster::from_dem(path, &d)?;
    }
    let info = &r.info;
    let Some(g) = info.geotransform else {
        return Err(IoError::Raster {
            path: path.to_path_buf(),
            reason: "not georeferenced: no place to show it".into(),
        }
        .into());
    };
    let (w, h) = (info.width as f64, info.height as f64);
    let corners = [
        g.pixel_to_world(0.0, 0.0),
        g.pixel_to_world(w, 0.0),
        g.pixel_to_world(w, h),
        g.pixel_to_world(0.0, h),
    ];
    let is_dem = info.band_count == 1 && info.band_types.first().is_some_and(|t| t != "UInt8");
    if is_dem {
        let s = (MAX_DEM_SIDE as f64 / w.max(h)).min(1.0);
        let out = (
            ((w * s).round() as usize).max(2),
            ((h * s).round() as usize).max(2),
        );
        let heights = r.read_f32(1, 0, 0, info.width, info.height, out)?;
        let image = hillshade(
            &heights,
            out,
            [
                (w / out.0 as f64) * g.resolution()[0],
                (h / out.1 as f64) * g.resolution()[1],
            ],
        );
        return Ok(RasterLayer {
            image,
            corners,
            heights: Some(heights),
            crs: info.crs.clone(),
            size: out,
        });
    }
    let image = r.preview(MAX_TEXTURE)?;
    let size = (image.width() as usize, image.height() as usize);
    Ok(RasterLayer {
        image,
        corners,
        heights: None,
        crs: info.crs.clone(),
        size,
    })
}

/// Elevation tint times a hillshade (sun from the north-west, 45 degrees up): how GIS shows a DEM.
pub fn hillshade(z: &[f32], (w, h): (usize, usize), cell: [f64; 2]) -> image::RgbImage {
    let finite: Vec<f32> = z.iter().copied().filter(|v| v.is_finite()).collect();
    let lo = crate::colourmap::percentile(finite.clone(), 0.02).unwrap_or(0.0);
    let hi = crate::colourmap::percentile(finite, 0.98).unwrap_or(1.0);
    let shade = crate::colourmap::hillshade(z, (w, h), cell);
    let mut img = image::RgbImage::new(w as u32, h as u32);
    for (i, (px, &v)) in img.pixels_mut().zip(z).enumerate() {
        if !shade[i].is_finite() {
            *px = image::Rgb([0, 0, 0]);
            continue;
        }
        let t = if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
        let f = 0.35 + 0.65 * f64::from(shade[i]);
        *px = image::Rgb(crate::colourmap::viridis(t).map(|c| (f64::from(c) * f).round() as u8));
    }
    img
}

/// RGB for every point from the orthophoto under it (nearest pixel, full resolution up to
/// MAX_TEXTURE^2 over the cloud's extent). Points outside the photo keep their colour.
pub fn colourise(cloud: &PointCloud, ortho: &Path) -> Result<(Vec<[u16; 3]>, usize)> {
    let invalid = |m: &str| PipelineError::Invalid(format!("{}: {m}", ortho.display()));
    let r = Raster::open(ortho)?;
    let g = r
        .info
        .geotransform
        .ok_or_else(|| invalid("the orthophoto is not georeferenced"))?;
    let (w, h) = (r.info.width, r.info.height);
    // Pixel window covering the cloud.
    let b = cloud.bounds();
    let mut cols = Vec::new();
    let mut rows = Vec::new();
    for (x, y) in [
        (b.min[0], b.min[1]),
        (b.max[0], b.min[1]),
        (b.max[0], b.max[1]),
        (b.min[0], b.max[1]),
    ] {
        if let Some([c, r]) = g.world_to_pixel(x, y) {
            cols.push(c);
            rows.push(r);
        }
    }
    if cols.is_empty() {
        return Err(invalid("the orthophoto's geotransform cannot be inverted"));
    }
    let clampf = |v: f64, n: usize| v.clamp(0.0, n as f64);
    let c0 = clampf(
        cols.iter().cloned().fold(f64::INFINITY, f64::min).floor(),
        w,
    ) as usize;
    let c1 = clampf(
        cols.iter()
            .cloned()
            .fold(f64::NEG_INFINITY, f64::max)
            .ceil(),
        w,
    ) as usize;
    let r0 = clampf(
        rows.iter().cloned().fold(f64::INFINITY, f64::min).floor(),
        h,
    ) as usize;
    let r1 = clampf(
        rows.iter()
            .cloned()
            .fold(f64::NEG_INFINITY, f64::max)
            .ceil(),
        h,
    ) as usize;
    if c1 <= c0 || r1 <= r0 {
        return Err(invalid("the orthophoto does not cover this point cloud"));
    }
    let (ww, wh) = (c1 - c0, r1 - r0);
    let s = (MAX_TEXTURE as f64 / ww.max(wh) as f64).min(1.0);
    let out = (
        ((ww as f64 * s).round() as usize).max(1),
        ((wh as f64 * s).round() as usize).max(1),
    );
    let img = r.read_rgb(c0, r0, ww, wh, out)?;
    let old = cloud.rgb.clone();
    let mut covered = 0usize;
    let rgb: Vec<[u16; 3]> = (0..cloud.len())
        .map(|i| {
            let wp = cloud.world(i);
            let px = g.world_to_pixel(wp[0], wp[1]).and_then(|[c, rr]| {
                let (x, y) = ((c - c0 as f64) * s, (rr - r0 as f64) * s);
                (x >= 0.0 && y >= 0.0 && (x as usize) < out.0 && (y as usize) < out.1)
                    .then(|| img.get_pixel(x as u32, y as u32).0)
            });
            match px {
                Some(c) => {
                    covered += 1;
                    c.map(|v| u16::from(v) * 257)
                }
                None => old
                    .as_ref()
                    .and_then(|o| o.get(i).copied())
                    .unwrap_or([32768; 3]),
            }
        })
        .collect();
    Ok((rgb, covered))
}
