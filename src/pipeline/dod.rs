//! The DEM-of-difference job (`kizashi dod`): read both epochs (ground points only when
//! asked and classified), grid them on one grid, difference with a level of detection per
//! cell, GeoTIFF out (band 1 difference, band 2 LoD95, bands 3-4 the two surfaces), volumes.

use super::change::check_pair;
use super::heights::{Heights, HeightsNote};
use super::surfaces::{self, EpochData, OnGrid};
use super::{load_epoch_in, Cancel, PipelineError, Progress, Result};
use crate::analysis::coreg;
use crate::analysis::dod::{self, Grid, Stat};
use crate::analysis::AnalysisError;
use crate::io::{dem, las, raster};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DodJob {
    /// A point cloud (LAS/LAZ/COPC, file, folder or glob) or a DEM (GeoTIFF; GSI FG-GML XML,
    /// zip or folder).
    pub epoch1: PathBuf,
    pub epoch2: PathBuf,
    /// Cell size (m) [default: a DEM epoch 1's resolution, else the one rule's from epoch 1's
    /// density].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cell: Option<f64>,
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
    /// A tile of a planned run: the grid is its own area (edges on the whole run's grid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area: Option<super::tiling::TileArea>,
    /// The epochs' height systems (epoch 2 converted into epoch 1's when they differ).
    #[serde(default, skip_serializing_if = "Heights::is_default")]
    pub heights: Heights,
    /// Nuth & Kääb co-registration of epoch 2 onto epoch 1 before differencing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coregister: Option<Coregister>,
}

/// Where the ground is stable for the co-registration: inside the polygons and/or where the
/// plain DoD is within `stable_dh` (both when both are given; every cell when neither).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Coregister {
    pub stable_polygon: Option<PathBuf>,
    pub stable_dh: Option<f64>,
}

/// What the co-registration found.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CoregSummary {
    /// Applied to epoch 2 (east, north, up; metres).
    pub shift: [f64; 3],
    pub iterations: usize,
    pub steps: Vec<coreg::Iteration>,
    /// Stable cells fitted on.
    pub cells: usize,
    /// NMAD of the DoD on those cells before and after (m); the one after joins the LoD.
    pub nmad_before: f64,
    pub nmad_after: f64,
}

/// DoD statistics of one slope class (epoch 1's slope), as CNES demcompare reports them.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SlopeClass {
    pub slope_deg: [f64; 2],
    pub cells: usize,
    pub mean: Option<f64>,
    pub median: Option<f64>,
    pub nmad: Option<f64>,
}

impl super::Files for DodJob {
    fn inputs(&self) -> Vec<PathBuf> {
        let a = self.area.as_ref();
        let mut v = super::tiling::epoch_files(&self.epoch1, a);
        v.extend(super::tiling::epoch_files(&self.epoch2, a));
        v.extend(
            self.coregister
                .as_ref()
                .and_then(|c| c.stable_polygon.clone()),
        );
        v
    }
    fn outputs(&self) -> Vec<PathBuf> {
        let mut v = vec![self.output.clone(), super::sidecar_path(&self.output)];
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
    #[serde(default)]
    pub heights: HeightsNote,
    /// What each epoch was: a point cloud, or the DEM read.
    #[serde(default)]
    pub sources: Vec<String>,
    #[serde(default)]
    pub coregistration: Option<CoregSummary>,
    #[serde(default)]
    pub by_slope: Vec<SlopeClass>,
    pub seconds: f64,
}

/// The DoD GeoTIFF's bands, in order.
pub const BANDS: [&str; 4] = [
    "dod (epoch2 - epoch1, m)",
    "lod95 (m)",
    "epoch1 surface (m)",
    "epoch2 surface (m)",
];

/// The bands a tile of a plan adds after [`BANDS`], for the merge to redo the LoD.
pub const TILE_BANDS: [&str; 4] = [
    "epoch1 spread (m)",
    "epoch2 spread (m)",
    "epoch1 points",
    "epoch2 points",
];

/// More cells than this is a mistake (a cell size in the wrong unit), not a job.
pub(crate) const MAX_CELLS: usize = 200_000_000;

pub fn run_dod(job: &DodJob, progress: &dyn Progress, cancel: &Cancel) -> Result<DodSummary> {
    let t0 = Instant::now();
    super::refuse_overwriting_inputs(job)?;
    if let Some(c) = job.cell.filter(|c| !(c.is_finite() && *c > 0.0)) {
        return Err(AnalysisError::InvalidParameter(format!(
            "cell size must be positive, got {c}"
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
    let mut warnings = Vec::new();
    let g = if dem::is_dem(&job.epoch1) || dem::is_dem(&job.epoch2) {
        if job.area.is_some() {
            return Err(PipelineError::Invalid(
                "a plan's tiles take point-cloud epochs only".into(),
            ));
        }
        let e1 = EpochData::load(&job.epoch1, fields, progress, cancel)?;
        let e2 = EpochData::load(&job.epoch2, fields, progress, cancel)?;
        progress.update("grid", 0, 1);
        let g = surfaces::on_grid(job, &e1, &e2, &mut warnings)?;
        progress.update("grid", 1, 1);
        g
    } else {
        clouds_on_grid(job, fields, &mut warnings, progress, cancel)?
    };
    if cancel.is_cancelled() {
        return Err(PipelineError::Cancelled);
    }
    let OnGrid {
        grid,
        crs,
        s1,
        mut s2,
        points_used,
        heights,
        sources,
    } = g;
    let mut registration_error = job.registration_error;
    let coregistration = match &job.coregister {
        Some(c) => {
            progress.update("co-registration", 0, 1);
            let plain = dod::difference(&s1, &s2, grid.cell, 0.0).diff;
            let (co, aligned, residual) = coregister(c, &grid, crs.as_ref(), &s1, &s2, &plain)?;
            s2.z = aligned;
            // What stays between the aligned epochs on stable ground bounds every cell's error.
            registration_error = registration_error.hypot(residual);
            progress.update("co-registration", 1, 1);
            Some(co)
        }
        None => None,
    };
    let rasters = sources.iter().any(|s| !s.starts_with("point cloud"));
    if rasters && coregistration.is_none() && job.registration_error == 0.0 {
        warnings.push(
            "DEM epochs carry no spread per cell: the LoD is only what --registration-error \
             (or --coregister) gives, zero here"
                .into(),
        );
    }
    let d = dod::difference(&s1, &s2, grid.cell, registration_error);
    let by_slope = slope_classes(&s1.z, &d.diff, &grid);
    let mut bands: Vec<(&str, &[f32])> = vec![
        (BANDS[0], &d.diff),
        (BANDS[1], &d.lod),
        (BANDS[2], &s1.z),
        (BANDS[3], &s2.z),
    ];
    // A tile also keeps each cell's spread and count: a cell of one point takes its epoch's
    // median spread, a statistic of the whole run that only the merge knows.
    let counts = [&s1.n, &s2.n].map(|n| n.iter().map(|&v| v as f32).collect::<Vec<f32>>());
    if job.area.is_some() {
        bands.extend([
            (TILE_BANDS[0], s1.std.as_slice()),
            (TILE_BANDS[1], s2.std.as_slice()),
            (TILE_BANDS[2], counts[0].as_slice()),
            (TILE_BANDS[3], counts[1].as_slice()),
        ]);
    }
    raster::write_f32_bands(
        &job.output,
        grid.width,
        grid.height,
        raster::GeoTransform(grid.geotransform()),
        crs.as_ref(),
        -9999.0,
        &bands,
    )?;
    let (labels, objects) = crate::analysis::objects::find(
        &d.diff,
        &d.lod,
        None,
        grid.width,
        grid.height,
        grid.cell,
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
    let summary = DodSummary {
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
        heights,
        sources: sources.to_vec(),
        coregistration,
        by_slope,
        seconds: t0.elapsed().as_secs_f64(),
    };
    // The record beside the raster: what a report later says about heights and alignment.
    super::write_sidecar(&job.output, &summary)?;
    Ok(summary)
}

/// Both point-cloud epochs gridded on the grid over their extent (a tile: its own area).
fn clouds_on_grid(
    job: &DodJob,
    fields: las::Fields,
    warnings: &mut Vec<String>,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<OnGrid> {
    let a = job.area.as_ref();
    let l1 = load_epoch_in(&job.epoch1, fields, a.map(|a| (a, 0)), progress, cancel)?;
    let l2 = load_epoch_in(&job.epoch2, fields, a.map(|a| (a, 1)), progress, cancel)?;
    let headers = l1.header.bounds.union(&l2.header.bounds);
    // Without a cell size, the one rule's from epoch 1's header (as a job file's [dod]).
    let cell = job.cell.unwrap_or_else(|| {
        let h = &l1.header;
        super::params::derive(super::params::spacing_of(&h.bounds, h.point_count)).dod_cell
    });
    let dates = [l1.header.creation_date, l2.header.creation_date];
    let (e1, mut e2) = (l1.cloud, l2.cloud);
    let empty_tile = job.area.is_some() && (e1.is_empty() || e2.is_empty());
    let mut heights = HeightsNote::default();
    if empty_tile {
        e2.rebase(e1.origin);
    } else {
        check_pair(&e1, &mut e2, warnings)?;
        heights = super::heights::convert(&job.heights, &e1, &mut e2, dates, warnings)?;
    }
    let (b1, b2) = (e1.bounds(), e2.bounds());
    // The grid a plan derives from the files' headers: a header's edge within a cell of the
    // points' is taken when wider (a survey's nominal extent, e.g. exactly on a cell line),
    // and edges go to the millimetre, so the f32 frame's rounding never moves the grid.
    let pts = [
        b1.min[0].min(b2.min[0]),
        b1.min[1].min(b2.min[1]),
        b1.max[0].max(b2.max[0]),
        b1.max[1].max(b2.max[1]),
    ];
    let hdr = [
        headers.min[0],
        headers.min[1],
        headers.max[0],
        headers.max[1],
    ];
    let mut b = pts;
    for k in 0..4 {
        if (hdr[k] - pts[k]).abs() <= cell {
            b[k] = if k < 2 {
                pts[k].min(hdr[k])
            } else {
                pts[k].max(hdr[k])
            };
        }
    }
    let b = b.map(|v| (v * 1000.0).round() / 1000.0);
    let grid = match job.area {
        // The plan put the tile's edges on the whole run's grid lines.
        Some(a) => {
            let g = a.grid.unwrap_or(a.own);
            let n = |len: f64| ((len / cell).round() as usize).max(1);
            Grid {
                x0: g[0],
                y0: g[3],
                cell,
                width: n(g[2] - g[0]),
                height: n(g[3] - g[1]),
            }
        }
        None => Grid::covering(b, cell),
    };
    if grid.width.saturating_mul(grid.height) > MAX_CELLS {
        return Err(PipelineError::Invalid(format!(
            "a {} m grid over this area has {} x {} cells; use a larger --cell",
            cell, grid.width, grid.height
        )));
    }
    let mask = |c: &crate::cloud::PointCloud, name: &str, w: &mut Vec<String>| {
        job.ground
            .then(|| super::classify::ground_mask(c, name, job.area.is_none(), w))
    };
    let (m1, m2) = (
        mask(&e1, "epoch 1", warnings),
        mask(&e2, "epoch 2", warnings),
    );
    let used = |m: &Option<Vec<bool>>, n: usize| {
        m.as_ref()
            .map(|m| m.iter().filter(|&&x| x).count())
            .unwrap_or(n)
    };
    let points_used = [used(&m1, e1.len()), used(&m2, e2.len())];
    if points_used.contains(&0) && job.area.is_none() {
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
    Ok(OnGrid {
        grid,
        crs: e1.crs.clone().or(e2.crs.clone()),
        s1,
        s2,
        points_used,
        heights,
        sources: [e1.len(), e2.len()].map(|n| format!("point cloud ({n} points)")),
    })
}

/// Nuth & Kääb on the stable cells; returns the summary, epoch 2 aligned, and the NMAD of the
/// aligned DoD on the stable cells.
fn coregister(
    c: &Coregister,
    grid: &Grid,
    crs: Option<&crate::cloud::Crs>,
    s1: &dod::Surface,
    s2: &dod::Surface,
    plain: &[f32],
) -> Result<(CoregSummary, Vec<f32>, f64)> {
    if let Some(t) = c.stable_dh.filter(|t| !(t.is_finite() && *t > 0.0)) {
        return Err(PipelineError::Invalid(format!(
            "stable dh must be positive, got {t}"
        )));
    }
    let polygons = match &c.stable_polygon {
        Some(p) => Some(crate::io::vector::read_polygons(p, crs)?),
        None => None,
    };
    let stable: Vec<bool> = (0..plain.len())
        .map(|i| {
            plain[i].is_finite()
                && c.stable_dh.is_none_or(|t| f64::from(plain[i]).abs() < t)
                && polygons
                    .as_ref()
                    .is_none_or(|f| crate::io::vector::inside_polygons(f, grid.centre(i)))
        })
        .collect();
    let (w, h, res) = (grid.width, grid.height, [grid.cell, grid.cell]);
    let fit = coreg::nuth_kaab(&s1.z, &s2.z, w, h, res, &stable)?;
    let aligned = coreg::apply(&s2.z, w, h, res, fit.shift);
    let on_stable = |z2: &[f32]| {
        coreg::nmad(
            (0..plain.len())
                .filter(|&i| stable[i])
                .map(|i| f64::from(z2[i]) - f64::from(s1.z[i])),
        )
    };
    let (before, after) = (on_stable(&s2.z), on_stable(&aligned));
    Ok((
        CoregSummary {
            shift: fit.shift,
            iterations: fit.iterations.len(),
            steps: fit.iterations,
            cells: fit.cells,
            nmad_before: before,
            nmad_after: after,
        },
        aligned,
        if after.is_finite() { after } else { 0.0 },
    ))
}

/// The DoD's statistics by epoch 1's slope: 0-5, 5-10, 10-25, 25-45, 45-90 degrees.
fn slope_classes(z1: &[f32], diff: &[f32], grid: &Grid) -> Vec<SlopeClass> {
    let slope = coreg::slope_degrees(z1, grid.width, grid.height, [grid.cell, grid.cell]);
    let edges = [0.0, 5.0, 10.0, 25.0, 45.0, 90.0];
    edges
        .windows(2)
        .map(|e| {
            let mut v: Vec<f64> = (0..diff.len())
                .filter(|&i| {
                    let s = f64::from(slope[i]);
                    diff[i].is_finite() && s >= e[0] && (s < e[1] || e[1] == 90.0)
                })
                .map(|i| f64::from(diff[i]))
                .collect();
            let n = v.len();
            let mean = (n > 0).then(|| v.iter().sum::<f64>() / n as f64);
            let nmad = (n > 0).then(|| coreg::nmad(v.iter().copied()));
            let median = (n > 0).then(|| coreg::median(&mut v));
            SlopeClass {
                slope_deg: [e[0], e[1]],
                cells: n,
                mean,
                median,
                nmad,
            }
        })
        .collect()
}
