//! The ground classification job (`kizashi classify`): read a cloud, classify it with SMRF
//! (`analysis::ground`), write it with every attribute kept: class 2 ground, 1 unclassified,
//! 7 low noise, optionally 3/4/5 low/medium/high vegetation by height above ground and a
//! `hag` field.

use super::{load_epoch, Cancel, Files, Progress, Result};
use crate::analysis::ground::{self, Class, Params};
use crate::cloud::PointCloud;
use crate::io::las;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassifyJob {
    pub input: PathBuf,
    pub output: PathBuf,
    /// In metres, whatever the CRS unit (a foot CRS is converted).
    pub params: Params,
    /// Add the height above ground as the field `hag`.
    pub hag: bool,
    /// Non-ground points up to 0.5 m above ground class 3, to 2 m class 4, above class 5.
    pub vegetation: bool,
}

impl Files for ClassifyJob {
    fn inputs(&self) -> Vec<PathBuf> {
        vec![self.input.clone()]
    }
    fn outputs(&self) -> Vec<PathBuf> {
        vec![self.output.clone()]
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClassifySummary {
    pub input: String,
    pub output: String,
    pub points: usize,
    pub ground: usize,
    pub low_noise: usize,
    pub other: usize,
    /// Metres per CRS unit the parameters were scaled by.
    pub unit_m: f64,
    pub params: Params,
    pub classify_s: f64,
    pub seconds: f64,
}

/// Metres per horizontal CRS unit (feet are common in US data; the filter's parameters are
/// metres).
pub fn unit_metres(c: &PointCloud) -> f64 {
    let unit = c
        .crs
        .as_ref()
        .and_then(|c| c.linear_unit.clone())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if unit.contains("us survey") {
        1200.0 / 3937.0
    } else if unit.contains("foot") || unit.contains("feet") {
        0.3048
    } else {
        1.0
    }
}

/// Classifies a cloud in memory (parameters in metres, scaled to its unit).
pub fn classify_cloud(c: &PointCloud, p: &Params) -> (ground::Ground, f64) {
    let u = unit_metres(c);
    let scaled = Params {
        cell: p.cell / u,
        window: p.window / u,
        threshold: p.threshold / u,
        low: p.low / u,
        ..*p
    };
    (ground::classify(c, &scaled), u)
}

/// The ground points of an epoch for `--ground`: its own class 2 when it was classified, else
/// (no classification, or only classes 0 and 1: never classified) ground classified here with
/// the default parameters, and a warning saying so. A tile of a plan (`on_the_fly` false)
/// always takes the file's classes: a part of a classified survey may hold no ground.
pub fn ground_mask(
    c: &PointCloud,
    name: &str,
    on_the_fly: bool,
    warnings: &mut Vec<String>,
) -> Vec<bool> {
    if let Some(cl) = &c.classification {
        if !on_the_fly || cl.iter().any(|&k| k > 1) {
            return cl.iter().map(|&k| k == 2).collect();
        }
    }
    if c.is_empty() || !on_the_fly {
        if !c.is_empty() {
            warnings.push(format!(
                "{name} has no classification: a plan's tile keeps no ground point (classify \
                 the survey first with `kizashi classify`)"
            ));
        }
        return vec![false; c.len()];
    }
    let (g, _) = classify_cloud(c, &Params::default());
    warnings.push(format!(
        "{name} has no ground class: ground classified on the fly (SMRF, default parameters; \
         `kizashi classify` to keep or tune it)"
    ));
    g.class.iter().map(|&k| k == Class::Ground).collect()
}

/// The ground points of an epoch (positions and CRS: what M3C2/C2C and ICP compare with
/// `--ground`, and the change panel when "ground only" is on), classified on the fly when it
/// has no ground class (see [`ground_mask`]).
pub fn ground_only(
    c: &PointCloud,
    name: &str,
    on_the_fly: bool,
    warnings: &mut Vec<String>,
) -> PointCloud {
    let m = ground_mask(c, name, on_the_fly, warnings);
    let mut g = PointCloud::with_origin(c.origin);
    g.positions = c
        .positions
        .iter()
        .zip(&m)
        .filter(|(_, &k)| k)
        .map(|(p, _)| *p)
        .collect();
    g.crs = c.crs.clone();
    g
}

pub fn run_classify(
    job: &ClassifyJob,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<ClassifySummary> {
    let t0 = Instant::now();
    super::refuse_overwriting_inputs(job)?;
    let mut cloud = load_epoch(&job.input, las::Fields::ALL, progress, cancel)?.cloud;
    progress.update("ground", 0, 1);
    let t1 = Instant::now();
    let (g, u) = classify_cloud(&cloud, &job.params);
    let classify_s = t1.elapsed().as_secs_f64();
    progress.update("ground", 1, 1);
    let class: Vec<u8> = g
        .class
        .iter()
        .zip(&g.hag)
        .map(|(c, &h)| match c {
            Class::Ground => 2,
            Class::LowNoise => 7,
            Class::Object if job.vegetation => {
                let h = f64::from(h) * u;
                if h <= 0.5 {
                    3
                } else if h <= 2.0 {
                    4
                } else {
                    5
                }
            }
            Class::Object => 1,
        })
        .collect();
    let count = |k: u8| class.iter().filter(|&&c| c == k).count();
    let (ground, low_noise) = (count(2), count(7));
    cloud.classification = Some(class);
    if job.hag {
        let hag = g.hag.iter().map(|&h| (f64::from(h) * u) as f32).collect();
        cloud.set_scalar("hag", hag, "height above ground (m)");
    }
    las::write(
        &job.output,
        &cloud,
        &las::WriteOptions {
            system_identifier: "Kizashi classify".into(),
            ..Default::default()
        },
    )?;
    Ok(ClassifySummary {
        input: job.input.display().to_string(),
        output: job.output.display().to_string(),
        points: cloud.len(),
        ground,
        low_noise,
        other: cloud.len() - ground - low_noise,
        unit_m: u,
        params: job.params,
        classify_s,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

pub type ClassifyEpochs = super::EachFile<ClassifyJob>;
pub type DtmEpochs = super::EachFile<DtmJob>;

pub fn run_classify_epochs(
    job: &ClassifyEpochs,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<Vec<ClassifySummary>> {
    job.files
        .iter()
        .map(|j| run_classify(j, progress, cancel))
        .collect()
}

/// `kizashi dtm`: the ground points (the file's class 2, or classified here) as a TIN sampled
/// at the cell centres of a GeoTIFF.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DtmJob {
    pub input: PathBuf,
    pub output: PathBuf,
    /// Cell size in CRS units.
    pub cell: f64,
}

impl Files for DtmJob {
    fn inputs(&self) -> Vec<PathBuf> {
        vec![self.input.clone()]
    }
    fn outputs(&self) -> Vec<PathBuf> {
        vec![self.output.clone()]
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DtmSummary {
    pub input: String,
    pub output: String,
    pub ground_points: usize,
    pub grid: crate::analysis::dod::Grid,
    /// Cells with a height (inside the ground points' hull).
    pub cells: usize,
    pub warnings: Vec<String>,
    pub seconds: f64,
}

pub fn run_dtm(job: &DtmJob, progress: &dyn Progress, cancel: &Cancel) -> Result<DtmSummary> {
    let t0 = Instant::now();
    super::refuse_overwriting_inputs(job)?;
    if !(job.cell.is_finite() && job.cell > 0.0) {
        return Err(super::PipelineError::Invalid(format!(
            "cell size must be positive, got {}",
            job.cell
        )));
    }
    let cloud = load_epoch(&job.input, las::Fields::ALL, progress, cancel)?.cloud;
    let mut warnings = Vec::new();
    let mask = ground_mask(&cloud, "the survey", true, &mut warnings);
    let pts: Vec<[f64; 3]> = (0..cloud.len())
        .filter(|&i| mask[i])
        .map(|i| cloud.world(i))
        .collect();
    if pts.len() < 3 {
        return Err(super::PipelineError::Invalid(format!(
            "{}: {} ground points; a DTM needs at least 3",
            job.input.display(),
            pts.len()
        )));
    }
    let b = pts.iter().fold(
        [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ],
        |b, p| {
            [
                b[0].min(p[0]),
                b[1].min(p[1]),
                b[2].max(p[0]),
                b[3].max(p[1]),
            ]
        },
    );
    let grid = crate::analysis::dod::Grid::covering(b, job.cell);
    if grid.width.saturating_mul(grid.height) > super::dod::MAX_CELLS {
        return Err(super::PipelineError::Invalid(format!(
            "a {} m grid over this area has {} x {} cells; use a larger --cell",
            job.cell, grid.width, grid.height
        )));
    }
    progress.update("TIN", 0, 1);
    let z = crate::analysis::tin::rasterize(&pts, &grid);
    progress.update("TIN", 1, 1);
    crate::io::raster::write_f32(
        &job.output,
        grid.width,
        grid.height,
        crate::io::raster::GeoTransform(grid.geotransform()),
        cloud.crs.as_ref(),
        -9999.0,
        &z,
    )?;
    Ok(DtmSummary {
        input: job.input.display().to_string(),
        output: job.output.display().to_string(),
        ground_points: pts.len(),
        grid,
        cells: z.iter().filter(|v| v.is_finite()).count(),
        warnings,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

pub fn run_dtm_epochs(
    job: &DtmEpochs,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<Vec<DtmSummary>> {
    job.files
        .iter()
        .map(|j| run_dtm(j, progress, cancel))
        .collect()
}
