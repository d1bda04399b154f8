//! The DEM-of-difference job (`kizashi dod`): read both epochs (ground points only when
//! asked and classified), grid them on one grid, difference with a level of detection per
//! cell, GeoTIFF out (band 1 difference, band 2 LoD95, bands 3-4 the two surfaces), volumes.

use super::change::check_pair;
use super::{load_epoch, Cancel, PipelineError, Progress, Result};
use crate::analysis::dod::{self, Grid, Stat};
use crate::analysis::AnalysisError;
use crate::io::{las, raster};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DodJob {
    pub epoch1: PathBuf,
    pub epoch2: PathBuf,
    pub cell: f64,
    pub stat: Stat,
    /// Only points classified ground (2); refused when an epoch has no classification.
    pub ground: bool,
    pub registration_error: f64,
    pub output: PathBuf,
    /// Change objects (connected significant cells) as GeoJSON polygons.
    pub objects: Option<PathBuf>,
    /// Smallest object kept (m2).
    pub min_area: f64,
    /// Objects in EPSG:4326 instead of the data CRS.
    pub wgs84: bool,
}

impl super::Files for DodJob {
    fn inputs(&self) -> Vec<PathBuf> {
        vec![self.epoch1.clone(), self.epoch2.clone()]
    }
    fn outputs(&self) -> Vec<PathBuf> {
        let mut v = vec![self.output.clone()];
        v.extend(self.objects.clone());
        v
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DodSummary {
    pub epoch1: String,
    pub epoch2: String,
    pub output: String,
    pub crs_epsg: Option<u32>,
    pub grid: Grid,
    pub stat: Stat,
    pub ground_only: bool,
    pub points_used: [usize; 2],
    pub cells_epoch1: usize,
    pub cells_epoch2: usize,
    pub volumes: dod::Volumes,
    pub registration_error: f64,
    pub objects: Vec<crate::analysis::objects::ChangeObject>,
    pub objects_file: Option<String>,
    pub warnings: Vec<String>,
    pub seconds: f64,
}

/// More cells than this is a mistake (a cell size in the wrong unit), not a job.
const MAX_CELLS: usize = 200_000_000;

pub fn run_dod(job: &DodJob, progress: &dyn Progress, cancel: &Cancel) -> Result<DodSummary> {
    let t0 = Instant::now();
    super::refuse_overwriting_inputs(job)?;
    if !(job.cell.is_finite() && job.cell > 0.0) {
        return Err(AnalysisError::InvalidParameter(format!(
            "cell size must be positive, got {}",
            job.cell
        ))
        .into());
    }
    if !(job.registration_error.is_finite() && job.registration_error >= 0.0) {
        return Err(
            AnalysisError::InvalidParameter("registration error must be >= 0".into()).into(),
        );
    }
    let fields = if job.ground {
        las::Fields::ALL
    } else {
        las::Fields::POSITIONS
    };
    let e1 = load_epoch(&job.epoch1, fields, progress, cancel)?.cloud;
    let mut e2 = load_epoch(&job.epoch2, fields, progress, cancel)?.cloud;
    let mut warnings = Vec::new();
    check_pair(&e1, &mut e2, &mut warnings)?;
    let (b1, b2) = (e1.bounds(), e2.bounds());
    let b = [
        b1.min[0].min(b2.min[0]),
        b1.min[1].min(b2.min[1]),
        b1.max[0].max(b2.max[0]),
        b1.max[1].max(b2.max[1]),
    ];
    let grid = Grid::covering(b, job.cell);
    if grid.width.saturating_mul(grid.height) > MAX_CELLS {
        return Err(PipelineError::Invalid(format!(
            "a {} m grid over this area has {} x {} cells; use a larger --cell",
            job.cell, grid.width, grid.height
        )));
    }
    let ground_mask = |c: &crate::cloud::PointCloud, name: &str| -> Result<Option<Vec<bool>>> {
        if !job.ground {
            return Ok(None);
        }
        match &c.classification {
            Some(cl) => Ok(Some(cl.iter().map(|&k| k == 2).collect())),
            None => Err(PipelineError::Invalid(format!(
                "{name} has no classification: --ground needs ground points (class 2)"
            ))),
        }
    };
    let (m1, m2) = (ground_mask(&e1, "epoch 1")?, ground_mask(&e2, "epoch 2")?);
    let used = |m: &Option<Vec<bool>>, n: usize| {
        m.as_ref()
            .map(|m| m.iter().filter(|&&x| x).count())
            .unwrap_or(n)
    };
    let points_used = [used(&m1, e1.len()), used(&m2, e2.len())];
    if points_used.contains(&0) {
        return Err(PipelineError::Invalid(
            "no ground points in one of the epochs".into(),
        ));
    }
    progress.update("grid", 0, 2);
    let keep1 = |i: usize| m1.as_ref().is_none_or(|m| m[i]);
    let keep2 = |i: usize| m2.as_ref().is_none_or(|m| m[i]);
    let (s1, s2) = rayon::join(
        || dod::surface(&e1, &grid, job.stat, &keep1),
        || dod::surface(&e2, &grid, job.stat, &keep2),
    );
    progress.update("grid", 2, 2);
    if cancel.is_cancelled() {
        return Err(PipelineError::Cancelled);
    }
    let d = dod::difference(&s1, &s2, job.cell, job.registration_error);
    let crs = e1.crs.clone().or(e2.crs.clone());
    raster::write_f32_bands(
        &job.output,
        grid.width,
        grid.height,
        raster::GeoTransform(grid.geotransform()),
        crs.as_ref(),
        -9999.0,
        &[
            ("dod (epoch2 - epoch1, m)", &d.diff),
            ("lod95 (m)", &d.lod),
            ("epoch1 surface (m)", &s1.z),
            ("epoch2 surface (m)", &s2.z),
        ],
    )?;
    let (labels, objects) = crate::analysis::objects::find(
        &d.diff,
        &d.lod,
        None,
        grid.width,
        grid.height,
        job.cell,
        job.min_area,
        |i| grid.centre(i),
    );
    if let Some(path) = &job.objects {
        crate::io::vector::write_objects_geojson(
            path,
            &labels,
            grid.width,
            grid.height,
            grid.geotransform(),
            crs.as_ref(),
            &objects,
            job.wgs84,
        )?;
    }
    Ok(DodSummary {
        epoch1: job.epoch1.display().to_string(),
        epoch2: job.epoch2.display().to_string(),
        output: job.output.display().to_string(),
        crs_epsg: crs.as_ref().and_then(|c| c.epsg),
        grid,
        stat: job.stat,
        ground_only: job.ground,
        points_used,
        cells_epoch1: s1.n.iter().filter(|&&n| n > 0).count(),
        cells_epoch2: s2.n.iter().filter(|&&n| n > 0).count(),
        volumes: d.volumes,
        registration_error: job.registration_error,
        objects,
        objects_file: job.objects.as_ref().map(|p| p.display().to_string()),
        warnings,
        seconds: t0.elapsed().as_secs_f64(),
    })
}
