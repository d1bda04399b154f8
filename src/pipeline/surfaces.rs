//! Epochs onto the DoD grid when one of them is a DEM (GeoTIFF, GSI FG-GML): a DEM epoch 1 gives
//! the grid (its own cells, or its extent at `--cell`; a geographic one, such as GSI's, goes
//! onto the other epoch's projected CRS), a DEM elsewhere is sampled bilinearly at the cell
//! centres through PROJ, and a point cloud in another CRS is reprojected before it is gridded.

use super::dod::DodJob;
use super::heights::{self, EpochHeights, HeightsNote};
use super::{load_epoch, Cancel, PipelineError, Progress, Result};
use crate::analysis::dod::{self, Grid, Surface};
use crate::cloud::{Crs, PointCloud};
use crate::io::crs::Transformer;
use crate::io::dem::{self, Dem};
use crate::io::las;
use std::path::Path;

/// One epoch as read.
pub enum EpochData {
    Cloud(las::Loaded),
    Dem(Dem),
}

impl EpochData {
    pub fn load(
        path: &Path,
        fields: las::Fields,
        progress: &dyn Progress,
        cancel: &Cancel,
    ) -> Result<EpochData> {
        if dem::is_dem(path) {
            progress.update("read DEM", 0, 1);
            let d = Dem::open(path)?;
            progress.update("read DEM", 1, 1);
            return Ok(EpochData::Dem(d));
        }
        Ok(EpochData::Cloud(load_epoch(
            path, fields, progress, cancel,
        )?))
    }

    fn crs(&self) -> Option<&Crs> {
        match self {
            EpochData::Cloud(l) => l.cloud.crs.as_ref(),
            EpochData::Dem(d) => d.crs.as_ref(),
        }
    }

    fn heights(&self) -> EpochHeights<'_> {
        match self {
            EpochData::Cloud(l) => EpochHeights {
                crs: l.cloud.crs.as_ref(),
                date: l.header.creation_date,
                bounds: heights::xy_bounds(&l.cloud),
            },
            EpochData::Dem(d) => EpochHeights {
                crs: d.crs.as_ref(),
                date: d.date,
                bounds: d.extent(),
            },
        }
    }
}

/// Both epochs on one grid.
pub struct OnGrid {
    pub grid: Grid,
    pub crs: Option<Crs>,
    pub s1: Surface,
    pub s2: Surface,
    /// Points gridded (a DEM: cells with a height).
    pub points_used: [usize; 2],
    pub heights: HeightsNote,
    /// What each epoch was ("point cloud", "1 GSI 5mメッシュ（標高） tile (...)").
    pub sources: [String; 2],
}

fn geographic(c: Option<&Crs>) -> bool {
    c.is_some_and(|c| c.is_geographic)
}

fn differ(a: Option<&Crs>, b: Option<&Crs>) -> bool {
    matches!((a, b), (Some(a), Some(b)) if !a.same_as(b))
}

/// A DEM sampled at every cell centre of `grid` (in `crs`).
fn sample_dem(d: &Dem, grid: &Grid, crs: Option<&Crs>) -> Result<Surface> {
    let r = d.resampled(
        crate::io::raster::GeoTransform(grid.geotransform()),
        grid.width,
        grid.height,
        crs,
    )?;
    Ok(Surface {
        n: r.z.iter().map(|v| u32::from(v.is_finite())).collect(),
        std: vec![f32::NAN; r.z.len()],
        z: r.z,
    })
}

/// A point cloud's positions in another CRS (heights kept).
fn reproject(c: &PointCloud, to: &Crs) -> Result<PointCloud> {
    let from = c.crs.as_ref().expect("checked by the caller");
    let t = Transformer::new(
        &crate::io::crs::horizontal(from)?,
        &crate::io::crs::horizontal(to)?,
    )?;
    let (mut x, mut y): (Vec<f64>, Vec<f64>) = (0..c.len())
        .map(|i| c.world(i))
        .map(|w| (w[0], w[1]))
        .unzip();
    t.apply(&mut x, &mut y, &mut [])?;
    let n = x.len().max(1) as f64;
    let o = [
        x.iter().sum::<f64>() / n,
        y.iter().sum::<f64>() / n,
        c.origin[2],
    ];
    let mut out = c.clone();
    out.origin = o;
    for (i, p) in out.positions.iter_mut().enumerate() {
        p[0] = (x[i] - o[0]) as f32;
        p[1] = (y[i] - o[1]) as f32;
    }
    out.crs = Some(to.clone());
    Ok(out)
}

/// Grids a point-cloud epoch (reprojected into `crs` when it is in another).
fn grid_cloud(
    job: &DodJob,
    warnings: &mut Vec<String>,
    l: &las::Loaded,
    grid: &Grid,
    crs: Option<&Crs>,
    name: &str,
) -> Result<(Surface, usize)> {
    let moved;
    let c = match crs {
        Some(to) if differ(l.cloud.crs.as_ref(), Some(to)) => {
            moved = reproject(&l.cloud, to)?;
            &moved
        }
        _ => &l.cloud,
    };
    let mask = job
        .ground
        .then(|| super::classify::ground_mask(c, name, true, warnings));
    let used = mask
        .as_ref()
        .map_or(c.len(), |m| m.iter().filter(|&&k| k).count());
    let keep = |i: usize| mask.as_ref().is_none_or(|m| m[i]);
    Ok((dod::surface(c, grid, job.stat, &keep), used))
}

/// The grid and both surfaces when at least one epoch is a DEM.
pub fn on_grid(
    job: &DodJob,
    e1: &EpochData,
    e2: &EpochData,
    warnings: &mut Vec<String>,
) -> Result<OnGrid> {
    let bad = |m: String| PipelineError::Invalid(m);
    let (c1, c2) = (e1.crs(), e2.crs());
    if c1.is_none() || c2.is_none() {
        warnings.push("an epoch has no CRS; assuming both are in the same one".into());
    }
    // The grid's CRS: epoch 1's unless it is geographic (cells must be metres).
    let crs = match (geographic(c1), geographic(c2)) {
        (false, _) => c1.or(c2).cloned(),
        (true, false) => c2.cloned(),
        (true, true) => {
            return Err(bad(
                "both epochs are in geographic coordinates: reproject one into a metric CRS \
                 first (e.g. gdalwarp -t_srs EPSG:6677)"
                    .into(),
            ))
        }
    };
    let cell = |default: Option<f64>| -> Result<f64> {
        match job.cell.or(default) {
            Some(c) if c.is_finite() && c > 0.0 => Ok(c),
            Some(c) => Err(bad(format!("cell size must be positive, got {c}"))),
            None => Err(bad(
                "give --cell: no epoch is a DEM in a metric CRS to take it from".into(),
            )),
        }
    };
    let grid = match e1 {
        EpochData::Dem(d) if !geographic(c1) => {
            let r = d.resolution();
            let square = (r[0] - r[1]).abs() <= 1e-9 * r[0];
            let c = cell(square.then_some(r[0]))?;
            if (c - r[0]).abs() <= 1e-9 * r[0] && square && d.gt.0[5] < 0.0 {
                Grid {
                    x0: d.gt.0[0],
                    y0: d.gt.0[3],
                    cell: c,
                    width: d.width,
                    height: d.height,
                }
            } else {
                Grid::covering(d.extent(), c)
            }
        }
        EpochData::Dem(d) => {
            let c = cell(Some(d.metric_cell()))?;
            if job.cell.is_none() {
                warnings.push(format!(
                    "epoch 1 is geographic: the DoD grid is in epoch 2's CRS with {c} m cells"
                ));
            }
            let Some(to) = crs.as_ref() else {
                return Err(bad(
                    "epoch 1 is geographic and epoch 2 names no CRS: no metric grid to put \
                     them on"
                        .into(),
                ));
            };
            Grid::covering(d.extent_in(to)?, c)
        }
        EpochData::Cloud(l) => {
            let default = match e2 {
                EpochData::Dem(d) if !geographic(c2) => Some(d.resolution()[0]),
                EpochData::Dem(d) => Some(d.metric_cell()),
                _ => None,
            };
            let b = l.cloud.bounds();
            let mut ext = [b.min[0], b.min[1], b.max[0], b.max[1]];
            if let (Some(from), Some(to)) = (c1, crs.as_ref()) {
                if differ(Some(from), Some(to)) {
                    // A geographic cloud onto epoch 2's metric CRS: its box's corners moved.
                    let (mut x, mut y) = (
                        vec![ext[0], ext[2], ext[0], ext[2]],
                        vec![ext[1], ext[1], ext[3], ext[3]],
                    );
                    Transformer::new(from, to)?.apply(&mut x, &mut y, &mut [])?;
                    let f =
                        |v: &[f64], m: fn(f64, f64) -> f64, i: f64| v.iter().copied().fold(i, m);
                    ext = [
                        f(&x, f64::min, f64::INFINITY),
                        f(&y, f64::min, f64::INFINITY),
                        f(&x, f64::max, f64::NEG_INFINITY),
                        f(&y, f64::max, f64::NEG_INFINITY),
                    ];
                }
            }
            Grid::covering(ext, cell(default)?)
        }
    };
    if grid.width.saturating_mul(grid.height) > super::dod::MAX_CELLS {
        return Err(bad(format!(
            "a {} m grid over this area has {} x {} cells; use a larger --cell",
            grid.cell, grid.width, grid.height
        )));
    }
    if job.ground && (matches!(e1, EpochData::Dem(_)) || matches!(e2, EpochData::Dem(_))) {
        warnings
            .push("--ground applies to point-cloud epochs only; DEMs are used as they are".into());
    }
    let mut surface = |e: &EpochData, name: &str| -> Result<(Surface, usize, String)> {
        match e {
            EpochData::Dem(d) => {
                let s = sample_dem(d, &grid, crs.as_ref())?;
                let n = s.n.iter().filter(|&&k| k > 0).count();
                Ok((s, n, d.source.clone()))
            }
            EpochData::Cloud(l) => {
                let (s, n) = grid_cloud(job, warnings, l, &grid, crs.as_ref(), name)?;
                Ok((s, n, format!("point cloud ({} points)", l.cloud.len())))
            }
        }
    };
    let (s1, n1, src1) = surface(e1, "epoch 1")?;
    let (mut s2, n2, src2) = surface(e2, "epoch 2")?;
    if !s1
        .z
        .iter()
        .zip(&s2.z)
        .any(|(a, b)| a.is_finite() && b.is_finite())
    {
        return Err(bad(
            "the epochs do not overlap on the grid (no cell has a height in both)".into(),
        ));
    }
    // Heights into epoch 1's system, at the cell centres.
    let g = grid.geotransform();
    let bounds = [
        g[0],
        g[3] - grid.height as f64 * grid.cell,
        g[0] + grid.width as f64 * grid.cell,
        g[3],
    ];
    let at = crs.as_ref().map(|c| (c, bounds));
    // Dates from the job file come first, as for point-cloud pairs.
    let (mut h1, mut h2) = (e1.heights(), e2.heights());
    h1.date = job.heights.date1.or(h1.date);
    h2.date = job.heights.date2.or(h2.date);
    let (conv, note) = heights::resolve(&job.heights, &h1, &h2, at, warnings)?;
    if let Some(c) = conv {
        for (i, z) in s2.z.iter_mut().enumerate() {
            let p = grid.centre(i);
            *z = (f64::from(*z) + c.at(p[0], p[1])) as f32;
        }
    }
    Ok(OnGrid {
        grid,
        crs,
        s1,
        s2,
        points_used: [n1, n2],
        heights: note,
        sources: [src1, src2],
    })
}
