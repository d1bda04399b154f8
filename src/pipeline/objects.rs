//! Change objects from a `kizashi change` M3C2 result (`kizashi objects`): the core points
//! are gridded at about their spacing (mean distance and LoD per cell; a cell is significant
//! when most of its core points are), then connected into objects as for the DoD. Volumes are
//! distance x cell area: along the normals, i.e. vertical on gentle ground.

use super::{load_epoch, Cancel, PipelineError, Progress, Result};
use crate::analysis::dod::Grid;
use crate::analysis::objects::{self, ChangeObject};
use crate::io::las;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObjectsJob {
    pub result: PathBuf,
    /// Grid cell (m); default: the core points' mean spacing.
    pub cell: Option<f64>,
    pub min_area: f64,
    pub output: PathBuf,
    pub wgs84: bool,
}

impl super::Files for ObjectsJob {
    fn inputs(&self) -> Vec<PathBuf> {
        vec![self.result.clone()]
    }
    fn outputs(&self) -> Vec<PathBuf> {
        vec![self.output.clone()]
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ObjectsSummary {
    pub result: String,
    pub output: String,
    pub core_points: usize,
    pub significant_core_points: usize,
    pub cell: f64,
    pub objects: Vec<ChangeObject>,
}

pub fn run_objects(
    job: &ObjectsJob,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<ObjectsSummary> {
    super::refuse_overwriting_inputs(job)?;
    let c = load_epoch(&job.result, las::Fields::ALL, progress, cancel)?.cloud;
    objects_of(&c, job)
}

/// As `run_objects`, on a result already read (`job.result` only names it).
pub fn objects_of(c: &crate::cloud::PointCloud, job: &ObjectsJob) -> Result<ObjectsSummary> {
    super::refuse_overwriting_inputs(job)?;
    let field = |n: &str| {
        c.scalar(n).map(|s| s.values.clone()).ok_or_else(|| {
            PipelineError::Invalid(format!(
                "{}: no {n} field: not an M3C2 result of `kizashi change`",
                job.result.display()
            ))
        })
    };
    let (dist, sig, lod) = (
        field(crate::fields::M3C2_DISTANCE)?,
        field(crate::fields::M3C2_SIGNIFICANT)?,
        field(crate::fields::M3C2_LOD)?,
    );
    if c.is_empty() {
        return Err(PipelineError::Invalid(format!(
            "{}: no core points",
            job.result.display()
        )));
    }
    let b = c.bounds();
    let cell = match job.cell {
        Some(v) if v.is_finite() && v > 0.0 => v,
        Some(v) => {
            return Err(PipelineError::Invalid(format!(
                "cell size must be positive, got {v}"
            )))
        }
        None => (((b.max[0] - b.min[0]) * (b.max[1] - b.min[1])).max(1e-6) / c.len() as f64).sqrt(),
    };
    let grid = Grid::covering([b.min[0], b.min[1], b.max[0], b.max[1]], cell);
    if grid.width.saturating_mul(grid.height) > 50_000_000 {
        return Err(PipelineError::Invalid(format!(
            "a {cell} m grid over these core points has {} x {} cells; use a larger --cell",
            grid.width, grid.height
        )));
    }
    let n = grid.width * grid.height;
    let (mut sum, mut lsum, mut cnt, mut scnt) = (
        vec![0.0f64; n],
        vec![0.0f64; n],
        vec![0u32; n],
        vec![0u32; n],
    );
    for i in 0..c.len() {
        let w = c.world(i);
        let Some(k) = grid.index(w[0], w[1]) else {
            continue;
        };
        if !dist[i].is_finite() {
            continue;
        }
        sum[k] += f64::from(dist[i]);
        if lod[i].is_finite() {
            lsum[k] += f64::from(lod[i]);
        }
        cnt[k] += 1;
        if sig[i] >= 0.5 {
            scnt[k] += 1;
        }
    }
    let diff: Vec<f32> = (0..n)
        .map(|k| {
            if cnt[k] > 0 {
                (sum[k] / f64::from(cnt[k])) as f32
            } else {
                f32::NAN
            }
        })
        .collect();
    let lodg: Vec<f32> = (0..n)
        .map(|k| {
            if cnt[k] > 0 {
                (lsum[k] / f64::from(cnt[k])) as f32
            } else {
                f32::NAN
            }
        })
        .collect();
    let significant: Vec<bool> = (0..n).map(|k| cnt[k] > 0 && 2 * scnt[k] > cnt[k]).collect();
    let (labels, objs) = objects::find(
        &diff,
        &lodg,
        Some(&significant),
        grid.width,
        grid.height,
        cell,
        job.min_area,
        |i| grid.centre(i),
    );
    crate::io::vector::write_objects_geojson(
        &job.output,
        &labels,
        grid.width,
        grid.height,
        grid.geotransform(),
        c.crs.as_ref(),
        &objs,
        job.wgs84,
    )?;
    Ok(ObjectsSummary {
        result: job.result.display().to_string(),
        output: job.output.display().to_string(),
        core_points: c.len(),
        significant_core_points: sig.iter().filter(|&&s| s >= 0.5).count(),
        cell,
        objects: objs,
    })
}
