//! Background work: every file read and every computation runs on its own thread and reports
//! through `pipeline::Progress`, so the window keeps drawing; a job ends with one message.

use crate::analysis::octree::{self, Octree};
use crate::cloud::{Crs, PointCloud};
use crate::io::raster::Raster;
use crate::pipeline::{self, Cancel, Progress};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, TryRecvError};
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub struct JobProgress {
    step: Mutex<String>,
    done: AtomicU64,
    total: AtomicU64,
}

impl JobProgress {
    /// (step, fraction 0..1 or None when the total is unknown)
    pub fn get(&self) -> (String, Option<f32>) {
        let step = self.step.lock().map(|s| s.clone()).unwrap_or_default();
        let (d, t) = (self.done.load(Ordering::Relaxed), self.total.load(Ordering::Relaxed));
        (step, (t > 0).then(|| (d as f64 / t as f64).min(1.0) as f32))
    }

    pub fn set_step(&self, step: &str) {
        if let Ok(mut s) = self.step.lock() {
            step.clone_into(&mut s);
        }
        self.total.store(0, Ordering::Relaxed);
    }
}

impl Progress for JobProgress {
    fn update(&self, step: &str, done: u64, total: u64) {
        if let Ok(mut s) = self.step.lock() {
            if *s != step {
                step.clone_into(&mut s);
            }
        }
        self.done.store(done, Ordering::Relaxed);
        self.total.store(total, Ordering::Relaxed);
    }
}

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

pub enum Output {
    Cloud { path: PathBuf, cloud: PointCloud, octree: Octree, warnings: Vec<String> },
    Raster { path: PathBuf, raster: RasterLayer },
    Change { outcome: Box<pipeline::change::ChangeOutcome>, registration: Option<crate::analysis::icp::IcpResult> },
    Colourised { layer: u32, rgb: Vec<[u16; 3]>, covered: usize },
    Saved { path: PathBuf },
}

pub struct Job {
    pub label: String,
    pub progress: Arc<JobProgress>,
    pub cancel: Cancel,
    rx: Mutex<Receiver<Result<Output, String>>>,
}

pub enum Poll {
    Running,
    Done(Result<Output, String>),
}

impl Job {
    pub fn spawn(label: String, work: impl FnOnce(&JobProgress, &Cancel) -> Result<Output, String> + Send + 'static) -> Job {
        let progress = Arc::new(JobProgress::default());
        let cancel = Cancel::default();
        let (tx, rx) = channel();
        let (p, c) = (progress.clone(), cancel.clone());
        let spawned = std::thread::Builder::new().name("kizashi-job".into()).spawn(move || {
            // A panic in a decoder or a computation must not take the viewer down with it.
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&p, &c)))
                .unwrap_or_else(|e| {
                    let msg = e.downcast_ref::<String>().cloned().or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()));
                    Err(format!("internal error: {}", msg.unwrap_or_else(|| "panic".into())))
                });
            let _ = tx.send(r);
        });
        if let Err(e) = spawned {
            let (tx, rx2) = channel();
            let _ = tx.send(Err(format!("cannot start a thread: {e}")));
            return Job { label, progress, cancel, rx: Mutex::new(rx2) };
        }
        Job { label, progress, cancel, rx: Mutex::new(rx) }
    }

    pub fn poll(&self) -> Poll {
        let Ok(rx) = self.rx.lock() else { return Poll::Done(Err("the job's channel is poisoned".into())) };
        match rx.try_recv() {
            Ok(r) => Poll::Done(r),
            Err(TryRecvError::Empty) => Poll::Running,
            Err(TryRecvError::Disconnected) => Poll::Done(Err("the job stopped without a result".into())),
        }
    }
}

pub fn is_raster(path: &Path) -> bool {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    matches!(ext.as_str(), "tif" | "tiff" | "vrt" | "jp2" | "png" | "jpg" | "jpeg" | "img")
}

/// Opens one file: a point cloud (all attributes, plus its LOD octree) or a raster.
pub fn load(path: PathBuf, p: &JobProgress, cancel: &Cancel) -> Result<Output, String> {
    if is_raster(&path) {
        p.set_step("raster");
        let raster = load_raster(&path).map_err(|e| e.to_string())?;
        return Ok(Output::Raster { path, raster });
    }
    let loaded = pipeline::load_epoch(&path, crate::io::las::Fields::ALL, p, cancel).map_err(|e| e.to_string())?;
    if loaded.cloud.is_empty() {
        return Err(format!("{}: no points", path.display()));
    }
    p.set_step("octree");
    let octree = Octree::build(&loaded.cloud.positions, octree::Params::default());
    Ok(Output::Cloud { path, cloud: loaded.cloud, octree, warnings: loaded.warnings })
}

/// Largest texture side: what every GPU (and lavapipe) accepts.
const MAX_TEXTURE: usize = 4096;
const MAX_DEM_SIDE: usize = 512;

fn load_raster(path: &Path) -> Result<RasterLayer, crate::io::IoError> {
    let r = Raster::open(path)?;
    let info = &r.info;
    let Some(g) = info.geotransform else {
        return Err(crate::io::IoError::Raster { path: path.to_path_buf(), reason: "not georeferenced: no place to show it".into() });
    };
    let (w, h) = (info.width as f64, info.height as f64);
    let corners = [g.pixel_to_world(0.0, 0.0), g.pixel_to_world(w, 0.0), g.pixel_to_world(w, h), g.pixel_to_world(0.0, h)];
    let is_dem = info.band_count == 1 && info.band_types.first().is_some_and(|t| t != "UInt8");
    if is_dem {
        let s = (MAX_DEM_SIDE as f64 / w.max(h)).min(1.0);
        let out = (((w * s).round() as usize).max(2), ((h * s).round() as usize).max(2));
        let heights = r.read_f32(1, 0, 0, info.width, info.height, out)?;
        let image = hillshade(&heights, out, [(w / out.0 as f64) * g.resolution()[0], (h / out.1 as f64) * g.resolution()[1]]);
        return Ok(RasterLayer { image, corners, heights: Some(heights), crs: info.crs.clone(), size: out });
    }
    let image = r.preview(MAX_TEXTURE)?;
    let size = (image.width() as usize, image.height() as usize);
    Ok(RasterLayer { image, corners, heights: None, crs: info.crs.clone(), size })
}

/// Elevation tint times a hillshade (sun from the north-west, 45 degrees up): how GIS shows a DEM.
pub fn hillshade(z: &[f32], (w, h): (usize, usize), cell: [f64; 2]) -> image::RgbImage {
    let finite: Vec<f32> = z.iter().copied().filter(|v| v.is_finite()).collect();
    let lo = super::colour::percentile(finite.clone(), 0.02).unwrap_or(0.0);
    let hi = super::colour::percentile(finite, 0.98).unwrap_or(1.0);
    let shade = crate::colourmap::hillshade(z, (w, h), cell);
    let mut img = image::RgbImage::new(w as u32, h as u32);
    for (i, (px, &v)) in img.pixels_mut().zip(z).enumerate() {
        if !shade[i].is_finite() {
            *px = image::Rgb([0, 0, 0]);
            continue;
        }
        let t = if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
        let f = 0.35 + 0.65 * f64::from(shade[i]);
        *px = image::Rgb(super::colour::sequential(t).map(|c| (f64::from(c) * f).round() as u8));
    }
    img
}

/// RGB for every point from the orthophoto under it (nearest pixel, full resolution up to
/// MAX_TEXTURE^2 over the cloud's extent). Points outside the photo keep their colour.
pub fn colourise(layer: u32, cloud: Arc<PointCloud>, ortho: PathBuf, p: &JobProgress) -> Result<Output, String> {
    p.set_step("colourise");
    let r = Raster::open(&ortho).map_err(|e| e.to_string())?;
    let g = r.info.geotransform.ok_or("the orthophoto is not georeferenced")?;
    let (w, h) = (r.info.width, r.info.height);
    // Pixel window covering the cloud.
    let b = cloud.bounds();
    let mut cols = Vec::new();
    let mut rows = Vec::new();
    for (x, y) in [(b.min[0], b.min[1]), (b.max[0], b.min[1]), (b.max[0], b.max[1]), (b.min[0], b.max[1])] {
        if let Some([c, r]) = g.world_to_pixel(x, y) {
            cols.push(c);
            rows.push(r);
        }
    }
    if cols.is_empty() {
        return Err("the orthophoto's geotransform cannot be inverted".into());
    }
    let clampf = |v: f64, n: usize| v.clamp(0.0, n as f64);
    let c0 = clampf(cols.iter().cloned().fold(f64::INFINITY, f64::min).floor(), w) as usize;
    let c1 = clampf(cols.iter().cloned().fold(f64::NEG_INFINITY, f64::max).ceil(), w) as usize;
    let r0 = clampf(rows.iter().cloned().fold(f64::INFINITY, f64::min).floor(), h) as usize;
    let r1 = clampf(rows.iter().cloned().fold(f64::NEG_INFINITY, f64::max).ceil(), h) as usize;
    if c1 <= c0 || r1 <= r0 {
        return Err("the orthophoto does not cover this point cloud".into());
    }
    let (ww, wh) = (c1 - c0, r1 - r0);
    let s = (MAX_TEXTURE as f64 / ww.max(wh) as f64).min(1.0);
    let out = (((ww as f64 * s).round() as usize).max(1), ((wh as f64 * s).round() as usize).max(1));
    let img = r.read_rgb(c0, r0, ww, wh, out).map_err(|e| e.to_string())?;
    let old = cloud.rgb.clone();
    let mut covered = 0usize;
    let rgb: Vec<[u16; 3]> = (0..cloud.len())
        .map(|i| {
            let wp = cloud.world(i);
            let px = g.world_to_pixel(wp[0], wp[1]).and_then(|[c, rr]| {
                let (x, y) = ((c - c0 as f64) * s, (rr - r0 as f64) * s);
                (x >= 0.0 && y >= 0.0 && (x as usize) < out.0 && (y as usize) < out.1).then(|| img.get_pixel(x as u32, y as u32).0)
            });
            match px {
                Some(c) => {
                    covered += 1;
                    c.map(|v| u16::from(v) * 257)
                }
                None => old.as_ref().and_then(|o| o.get(i).copied()).unwrap_or([32768; 3]),
            }
        })
        .collect();
    Ok(Output::Colourised { layer, rgb, covered })
}
