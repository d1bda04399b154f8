//! The monitoring series (`kizashi series`, the `[series]` step of job files): N dated epochs,
//! M3C2 of every epoch against one reference (epoch 0 by default) at the reference's core
//! points and normals, computed once; per core point velocity, acceleration, onset and motion
//! class ([`crate::analysis::series`]); change objects in time; LAZ, CSV, GeoJSON.
//!
//! Epochs are streamed: the reference stays in memory (its index and per-core cylinder
//! statistics), every other epoch is read, optionally registered onto the reference, compared
//! and dropped before the next is read, so memory follows one epoch, not the series.

mod objects;
mod write;

use super::change::{check_pair, Cores, M3c2Settings, RegisterJob};
use super::cores::select_cores;
use super::{load_epoch, Cancel, Files, PipelineError, Progress, Result};
use crate::analysis::columns::Columns;
use crate::analysis::index::{morton_sorted, Index};
use crate::analysis::normals::Orientation;
use crate::analysis::series::{self as stats, Critical, Levels, MotionClass};
use crate::analysis::{m3c2, AnalysisError};
use crate::cloud::PointCloud;
use crate::io::las;
use chrono::NaiveDate;
pub use objects::SeriesObject;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeriesEpoch {
    pub path: PathBuf,
    /// Survey date; None: the LAS header's creation date.
    pub date: Option<NaiveDate>,
}

/// Registration of every epoch onto the reference on stable ground (the `register` step's
/// settings, without its files).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SeriesRegister {
    pub stable_box: Option<[f64; 4]>,
    pub stable_polygon: Option<PathBuf>,
    pub stable_c2c: Option<f64>,
    pub plane_radius: Option<f64>,
    pub params: crate::analysis::icp::IcpParams,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeriesJob {
    /// Oldest first.
    pub epochs: Vec<SeriesEpoch>,
    /// The reference epoch (core points, normals, displacement 0).
    pub reference: usize,
    pub register: Option<SeriesRegister>,
    /// None: one core point per cube of the derived spacing.
    pub cores: Option<Cores>,
    /// `registration_error` here is every epoch's unless the epoch is registered (then the
    /// registration's own estimate).
    pub m3c2: M3c2Settings,
    pub levels: Levels,
    pub output: Option<PathBuf>,
    pub csv: Option<PathBuf>,
    /// Change objects in time (GeoJSON).
    pub objects: Option<PathBuf>,
    /// Objects smaller than this (m2) are dropped; None: five grid cells (lone core points
    /// that a false alarm or an edge moved are not objects).
    pub min_area: Option<f64>,
    /// Objects in WGS84 longitude/latitude instead of the data CRS.
    pub wgs84: bool,
}

impl Files for SeriesJob {
    fn inputs(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = self.epochs.iter().map(|e| e.path.clone()).collect();
        if let Some(Cores::File(p) | Cores::FileWithNormals(p)) = &self.cores {
            v.push(p.clone());
        }
        if let Some(p) = self
            .register
            .as_ref()
            .and_then(|r| r.stable_polygon.clone())
        {
            v.push(p);
        }
        v
    }
    fn outputs(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = self
            .output
            .iter()
            .flat_map(|o| [o.clone(), super::sidecar_path(o)])
            .collect();
        v.extend(self.csv.clone());
        v.extend(self.objects.clone());
        v
    }
}

/// How one epoch entered the series.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EpochRecord {
    pub path: String,
    pub date: NaiveDate,
    pub decimal_year: f64,
    pub points: usize,
    /// Registration onto the reference, when asked for (row-major 4x4, data CRS).
    pub matrix: Option<[[f64; 4]; 4]>,
    pub rms: Option<f64>,
    /// The registration error in this epoch's LoD (m).
    pub registration_error: f64,
    /// Core points with a displacement, and with |d| > LoD.
    pub valid: usize,
    pub significant: usize,
}

#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct SeriesTimings {
    pub read_s: f64,
    pub reference_s: f64,
    pub register_s: f64,
    pub m3c2_s: f64,
    pub statistics_s: f64,
    pub write_s: f64,
    pub total_s: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SeriesSummary {
    pub epochs: Vec<EpochRecord>,
    pub reference: usize,
    pub crs_epsg: Option<u32>,
    pub cores: Cores,
    pub core_points: usize,
    pub parameters: super::change::ChangeParameters,
    pub levels: Levels,
    /// The variance factor applied to every sigma (1 = the LoDs as computed).
    pub variance_factor: f64,
    /// Core points per motion class (stable, steady, accelerating, onset, undetermined).
    pub classes: Vec<(MotionClass, usize)>,
    /// Core points whose onset is each epoch (0 for the epochs that cannot be one).
    pub onsets: Vec<usize>,
    pub objects: Vec<SeriesObject>,
    pub output: Option<String>,
    pub csv: Option<String>,
    pub objects_file: Option<String>,
    pub timings: SeriesTimings,
    pub warnings: Vec<String>,
}

pub struct SeriesOutcome {
    pub summary: SeriesSummary,
    /// Core points with the series fields, in the reference's local frame.
    pub result: PointCloud,
}

/// Per epoch, per core point: displacement, LoD and the standard error of the epoch's mean.
struct Column {
    d: Vec<f32>,
    lod: Vec<f32>,
    sigma: Vec<f32>,
}

/// Survey dates: declared, or from each header; refused when missing or not increasing.
pub fn resolve_dates(epochs: &[SeriesEpoch]) -> Result<Vec<NaiveDate>> {
    let mut dates = Vec::with_capacity(epochs.len());
    for (k, e) in epochs.iter().enumerate() {
        let d = match e.date {
            Some(d) => d,
            None => las::read_header(&e.path)?.creation_date.ok_or_else(|| {
                PipelineError::Invalid(format!(
                    "epoch {k} ({}): no survey date: give it in the job file or with --dates, or set the LAS header's creation date",
                    e.path.display()
                ))
            })?,
        };
        if let Some(prev) = dates.last() {
            if d <= *prev {
                return Err(PipelineError::Invalid(format!(
                    "survey dates must increase: epoch {} is {prev}, epoch {k} ({}) is {d}",
                    k - 1,
                    e.path.display()
                )));
            }
        }
        dates.push(d);
    }
    Ok(dates)
}

/// Reads a `--dates` file: one ISO date (YYYY-MM-DD) per line, in epoch order; blank lines
/// and `#` comments are skipped.
pub fn read_dates_file(path: &Path) -> Result<Vec<NaiveDate>> {
    let text = std::fs::read_to_string(path).map_err(|e| crate::io::IoError::io(path, e))?;
    text.lines()
        .enumerate()
        .map(|(i, l)| (i, l.split('#').next().unwrap_or("").trim()))
        .filter(|(_, l)| !l.is_empty())
        .map(|(i, l)| {
            NaiveDate::parse_from_str(l, "%Y-%m-%d").map_err(|_| {
                PipelineError::Invalid(format!(
                    "{} line {}: \"{l}\" is not a date (YYYY-MM-DD)",
                    path.display(),
                    i + 1
                ))
            })
        })
        .collect()
}

fn validate(job: &SeriesJob) -> Result<()> {
    let n = job.epochs.len();
    if n < 3 {
        return Err(PipelineError::Invalid(format!(
            "a series needs at least 3 epochs (got {n}); compare two with `kizashi change`"
        )));
    }
    if job.reference >= n {
        return Err(PipelineError::Invalid(format!(
            "reference epoch {} does not exist (epochs 0..{})",
            job.reference,
            n - 1
        )));
    }
    job.levels.validate().map_err(PipelineError::Invalid)?;
    job.m3c2.resolve(&super::params::derive(1.0)).validate()?;
    if let Some(a) = job.min_area.filter(|a| !(a.is_finite() && *a >= 0.0)) {
        return Err(PipelineError::Invalid(format!(
            "minimum area must be >= 0, got {}",
            a
        )));
    }
    Ok(())
}

/// Runs the series. The CLI and job files call this; the viewer opens its result.
pub fn run_series(
    job: &SeriesJob,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<SeriesOutcome> {
    let t_all = Instant::now();
    super::refuse_overwriting_inputs(job)?;
    validate(job)?;
    let dates = resolve_dates(&job.epochs)?;
    let n = job.epochs.len();
    let r = job.reference;
    let mut warnings = Vec::new();
    let mut timings = SeriesTimings::default();

    // The reference: core points, normals and cylinder statistics, once.
    let t = Instant::now();
    let reference = load_epoch(
        &job.epochs[r].path,
        las::Fields::POSITIONS,
        progress,
        cancel,
    )?
    .cloud;
    timings.read_s += t.elapsed().as_secs_f64();
    if reference.is_empty() {
        return Err(AnalysisError::EmptyEpoch("the reference epoch").into());
    }
    let t = Instant::now();
    let needs_rule = job.cores.is_none()
        || job.m3c2.cyl_radius.is_none()
        || job.m3c2.normal_radii.is_none()
        || job.m3c2.max_distance.is_none();
    let derived = needs_rule.then(|| super::params::derive_for(&reference));
    let rule = derived
        .clone()
        .unwrap_or_else(|| super::params::derive(1.0));
    let params = job.m3c2.resolve(&rule);
    let cores_used = job
        .cores
        .clone()
        .unwrap_or(Cores::Spacing(rule.core_spacing));
    let (cores, user_normals) = select_cores(&reference, &cores_used, None)?;
    let mut local = params.clone();
    if let Orientation::Sensor(s) = local.orientation {
        let o = reference.origin;
        local.orientation = Orientation::Sensor([s[0] - o[0], s[1] - o[1], s[2] - o[2]]);
    }
    let cell = m3c2::column_size(&params);
    let density_plane_radius = derived
        .as_ref()
        .map_or_else(|| super::params::derive_for(&reference), Clone::clone)
        .plane_radius;
    // ICP needs its own index of the reference; built only when registering.
    let icp_points = job
        .register
        .as_ref()
        .map(|_| morton_sorted(&reference.positions));
    let icp_index = icp_points.as_deref().map(Index::build);
    let ref_columns = Columns::build(&reference.positions, cell);
    let (prepared, _) = m3c2::prepare(
        &ref_columns,
        &cores,
        user_normals.as_deref(),
        &local,
        &cancel.flag(),
    )?;
    timings.reference_s = t.elapsed().as_secs_f64();

    let mut columns: Vec<Option<Column>> = (0..n).map(|_| None).collect();
    let mut records = Vec::with_capacity(n);
    // The reference's own standard error per core point (its y is 0 by definition).
    let sigma_ref = prepared.standard_errors();
    let ref_points = reference.len();
    for k in 0..n {
        if cancel.is_cancelled() {
            return Err(PipelineError::Cancelled);
        }
        let path = &job.epochs[k].path;
        let mut rec = EpochRecord {
            path: path.display().to_string(),
            date: dates[k],
            decimal_year: stats::decimal_year(dates[k]),
            points: ref_points,
            matrix: None,
            rms: None,
            registration_error: 0.0,
            valid: cores.len(),
            significant: 0,
        };
        if k == r {
            records.push(rec);
            continue;
        }
        let t = Instant::now();
        let mut e = load_epoch(path, las::Fields::POSITIONS, progress, cancel)?.cloud;
        timings.read_s += t.elapsed().as_secs_f64();
        rec.points = e.len();
        check_pair(&reference, &mut e, &mut warnings).map_err(|err| {
            PipelineError::Invalid(format!("epoch {k} ({}): {err}", path.display()))
        })?;
        if crate::io::safe::same_file(path, &job.epochs[r].path) {
            warnings.push(format!(
                "epoch {k} is the reference's file ({}): its displacements are 0",
                path.display()
            ));
        }
        let mut p = local.clone();
        if let (Some(reg), Some(index)) = (&job.register, &icp_index) {
            let t = Instant::now();
            let mut icp = reg.params.clone();
            // Planes from the reference's own density even when every M3C2 parameter was
            // declared (the rule's r at a nominal spacing made 2.5 m planes on rough ground:
            // a 1 cm bias).
            icp.plane_radius = reg.plane_radius.unwrap_or(density_plane_radius);
            let rj = RegisterJob {
                epoch1: job.epochs[r].path.clone(),
                epoch2: path.clone(),
                stable_box: reg.stable_box,
                stable_polygon: reg.stable_polygon.clone(),
                stable_c2c: reg.stable_c2c,
                plane_radius: Some(icp.plane_radius),
                params: icp.clone(),
                output: None,
                heights: Default::default(),
                ground: false,
            };
            let a = super::register::align(&rj, &reference, index, &mut e, None, &icp, cancel)
                .map_err(|err| {
                    PipelineError::Invalid(format!(
                        "registering epoch {k} ({}): {err}",
                        path.display()
                    ))
                })?;
            rec.matrix = Some(a.matrix);
            rec.rms = Some(a.icp.rms);
            p.registration_error = a.icp.registration_error;
            timings.register_s += t.elapsed().as_secs_f64();
        }
        rec.registration_error = p.registration_error;
        let t = Instant::now();
        let epoch_columns = Columns::build(&std::mem::take(&mut e.positions), cell);
        drop(e);
        let step = format!("M3C2 epoch {k}");
        let report = |d: usize, total: usize| progress.update(&step, d as u64, total as u64);
        let res = m3c2::against(
            &prepared,
            &epoch_columns,
            &cores,
            &p,
            &report,
            &cancel.flag(),
        )?;
        drop(epoch_columns);
        timings.m3c2_s += t.elapsed().as_secs_f64();
        rec.valid = res.len() - res.nan_count();
        rec.significant = res.significant_count();
        let reg = p.registration_error;
        let se = |s: f64, n: u32| {
            if n > 0 {
                (s / f64::from(n).sqrt()) as f32
            } else {
                f32::NAN
            }
        };
        columns[k] = Some(Column {
            d: res.distance.iter().map(|&v| v as f32).collect(),
            lod: res.lod.iter().map(|&v| v as f32).collect(),
            sigma: (0..res.len())
                .map(|i| se(res.spread2[i], res.n2[i]) + reg as f32)
                .collect(),
        });
        records.push(rec);
    }
    drop(ref_columns);
    drop(icp_index);
    drop(icp_points);

    // Statistics per core point.
    let t = Instant::now();
    let t_years: Vec<f64> = dates
        .iter()
        .map(|d| (*d - dates[0]).num_days() as f64 / 365.25)
        .collect();
    let series_of = |i: usize| -> (Vec<f64>, Vec<f64>) {
        let mut y = Vec::with_capacity(n);
        let mut s = Vec::with_capacity(n);
        for c in &columns {
            match c {
                Some(c) => {
                    y.push(f64::from(c.d[i]));
                    s.push(f64::from(c.sigma[i]));
                }
                None => {
                    y.push(if sigma_ref[i].is_finite() {
                        0.0
                    } else {
                        f64::NAN
                    });
                    s.push(f64::from(sigma_ref[i]));
                }
            }
        }
        (y, s)
    };
    let variance_factor = if job.levels.variance_factor {
        let mut per_dof: Vec<(f64, usize)> = (0..cores.len())
            .into_par_iter()
            .filter_map(|i| {
                let (y, s) = series_of(i);
                stats::linear_chi2_per_dof(&t_years, &y, &s)
            })
            .collect();
        stats::variance_factor(&mut per_dof)
    } else {
        1.0
    };
    let crit = Critical::new(&job.levels, n);
    let motions: Vec<stats::Motion> = (0..cores.len())
        .into_par_iter()
        .map(|i| {
            let (y, s) = series_of(i);
            stats::analyse(&t_years, &y, &s, variance_factor, &crit)
        })
        .collect();
    timings.statistics_s = t.elapsed().as_secs_f64();

    let normals = prepared.normals();
    let mut result = PointCloud::with_origin(reference.origin);
    result.crs = reference.crs.clone();
    result.positions = cores;
    drop(reference);
    write::set_fields(&mut result, &normals, &motions, &columns, &records, r);
    let mut classes: Vec<(MotionClass, usize)> = MotionClass::ALL.iter().map(|&c| (c, 0)).collect();
    let mut onsets = vec![0usize; n];
    for m in &motions {
        if let Some(c) = classes.iter_mut().find(|c| c.0 == m.class) {
            c.1 += 1;
        }
        if let Some(j) = m.onset {
            onsets[j] += 1;
        }
    }
    let objs = objects::find(&result, &motions, &records, job.min_area);
    let mut summary = SeriesSummary {
        epochs: records,
        reference: r,
        crs_epsg: result.crs.as_ref().and_then(|c| c.epsg),
        cores: cores_used,
        core_points: result.len(),
        parameters: super::change::ChangeParameters {
            m3c2: Some(params),
            c2c_max_distance: None,
            normals_from_file: user_normals.is_some(),
            derived,
        },
        levels: job.levels.clone(),
        variance_factor,
        classes,
        onsets,
        objects: objs.objects.clone(),
        output: job.output.as_ref().map(|p| p.display().to_string()),
        csv: job.csv.as_ref().map(|p| p.display().to_string()),
        objects_file: job.objects.as_ref().map(|p| p.display().to_string()),
        timings,
        warnings,
    };
    let t = Instant::now();
    if let Some(g) = &job.objects {
        objects::write_geojson(g, &objs, result.crs.as_ref(), job.wgs84)?;
    }
    if let Some(csv) = &job.csv {
        write::csv(csv, &result, n, r)?;
    }
    summary.timings.write_s = t.elapsed().as_secs_f64();
    summary.timings.total_s = t_all.elapsed().as_secs_f64();
    if let Some(out) = &job.output {
        write::laz(out, &result, &summary)?;
    }
    Ok(SeriesOutcome { summary, result })
}
