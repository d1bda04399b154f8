//! The change-detection job: read two epochs -> shared local frame -> core points -> index ->
//! M3C2 or C2C -> LAZ (+ CSV, + sidecar JSON with inputs and parameters).

use super::cores::select_cores;
pub use super::cores::{parse_core_text, read_xyz_text};
use super::heights::{Heights, HeightsNote};
pub(crate) use super::pair::{check_pair, load_pair};
pub use super::panel::{run_change_registered, validate_job, Panel};
pub use super::register::{register_loaded, run_register, RegisterJob, RegisterSummary};
use super::{write_sidecar, Cancel, PipelineError, Progress, Result};
use crate::analysis::columns::Columns;
use crate::analysis::normals::Orientation;
use crate::analysis::{c2c, m3c2, AnalysisError};
use crate::cloud::PointCloud;
use crate::io::{las, IoError};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    #[default]
    M3c2,
    C2c,
}

/// Where core points come from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Cores {
    /// Every n-th epoch-1 point in file order (py4dgeo's usual `cloud[::n]`).
    Step(usize),
    /// One epoch-1 point per cube of this size (the first in file order).
    Spacing(f64),
    /// A LAS/LAZ file, or a CSV/text file with X, Y, Z columns (header optional).
    File(PathBuf),
    /// The same, with the M3C2 normal of every core point taken from the file (CSV columns
    /// nx, ny, nz or NormalX...; LAS extra fields normal_x... as our results write them, or
    /// NormalX... as CloudCompare writes them) instead of estimated.
    FileWithNormals(PathBuf),
    /// All epoch-1 points.
    All,
}

impl Cores {
    /// The core points a command line or a job file declares, in that precedence: a file
    /// (with its normals when asked), every n-th point, a spacing; None when none is given.
    pub fn declared(
        file: Option<PathBuf>,
        with_normals: bool,
        step: Option<usize>,
        spacing: Option<f64>,
    ) -> Option<Cores> {
        match (file, step, spacing) {
            (Some(f), _, _) if with_normals => Some(Cores::FileWithNormals(f)),
            (Some(f), _, _) => Some(Cores::File(f)),
            (None, Some(n), _) => Some(Cores::Step(n)),
            (None, None, Some(s)) => Some(Cores::Spacing(s)),
            (None, None, None) => None,
        }
    }
}

/// M3C2 parameters as declared. Each `None` is derived from epoch 1's point density by the
/// one rule of [`super::params`] (the viewer's panel starts from the same numbers).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct M3c2Settings {
    pub cyl_radius: Option<f64>,
    pub normal_radii: Option<Vec<f64>>,
    /// M3C2: the cylinder's half-length; C2C: the cut-off (None: no cut-off).
    pub max_distance: Option<f64>,
    pub registration_error: f64,
    pub robust: bool,
    pub orientation: Orientation,
    pub neighbourhoods: crate::analysis::normals::Neighbourhoods,
}

impl From<m3c2::Params> for M3c2Settings {
    fn from(p: m3c2::Params) -> Self {
        M3c2Settings {
            cyl_radius: Some(p.cyl_radius),
            normal_radii: Some(p.normal_radii),
            max_distance: Some(p.max_distance),
            registration_error: p.registration_error,
            robust: p.robust,
            orientation: p.orientation,
            neighbourhoods: p.neighbourhoods,
        }
    }
}

impl M3c2Settings {
    /// Declared values, the rest from `d`.
    pub fn resolve(&self, d: &super::params::Derived) -> m3c2::Params {
        m3c2::Params {
            cyl_radius: self.cyl_radius.unwrap_or(d.cyl_radius),
            normal_radii: self
                .normal_radii
                .clone()
                .unwrap_or_else(|| d.normal_radii.clone()),
            max_distance: self.max_distance.unwrap_or(d.max_distance),
            registration_error: self.registration_error,
            robust: self.robust,
            orientation: self.orientation,
            neighbourhoods: self.neighbourhoods,
        }
    }
    fn is_complete(&self) -> bool {
        self.cyl_radius.is_some() && self.normal_radii.is_some() && self.max_distance.is_some()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChangeJob {
    pub epoch1: PathBuf,
    pub epoch2: PathBuf,
    pub method: Method,
    /// None: M3C2 one core point per cube of the derived core spacing; C2C every point.
    pub cores: Option<Cores>,
    pub m3c2: M3c2Settings,
    pub output: Option<PathBuf>,
    pub csv: Option<PathBuf>,
    /// A tile of a planned run: core points only in its own area, points read around it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area: Option<super::tiling::TileArea>,
    /// The epochs' height systems (epoch 2 converted into epoch 1's when they differ).
    #[serde(default, skip_serializing_if = "Heights::is_default")]
    pub heights: Heights,
    /// Only ground points (class 2) of both epochs; an epoch without a ground class is
    /// classified on the fly (not in a plan's tile: there the file's classes are taken).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ground: bool,
}

impl super::Files for ChangeJob {
    fn inputs(&self) -> Vec<PathBuf> {
        let a = self.area.as_ref();
        let mut v = super::tiling::epoch_files(&self.epoch1, a);
        v.extend(super::tiling::epoch_files(&self.epoch2, a));
        if let Some(Cores::File(p) | Cores::FileWithNormals(p)) = &self.cores {
            v.push(p.clone());
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
        v
    }
}

/// What the change run used, as recorded in the sidecar: the resolved parameters and, when any
/// was derived, the rule's numbers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChangeParameters {
    /// M3C2 parameters (None for C2C).
    pub m3c2: Option<m3c2::Params>,
    /// C2C cut-off distance (m); None: none.
    pub c2c_max_distance: Option<f64>,
    /// Normals taken from the core point file instead of estimated.
    pub normals_from_file: bool,
    /// Set when some parameter was derived from the point density.
    pub derived: Option<super::params::Derived>,
}

#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct ChangeTimings {
    pub read_s: f64,
    pub index_s: f64,
    pub normals_s: f64,
    pub distances_s: f64,
    pub write_s: f64,
    /// index + normals + distances: the change-detection time proper, without file I/O.
    pub m3c2_s: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChangeSummary {
    pub method: Method,
    pub epoch1: String,
    pub epoch2: String,
    pub epoch1_points: usize,
    pub epoch2_points: usize,
    pub crs_epsg: Option<u32>,
    pub cores: Cores,
    pub core_points: usize,
    pub nan: usize,
    pub significant: usize,
    pub parameters: ChangeParameters,
    pub output: Option<String>,
    pub csv: Option<String>,
    pub timings: ChangeTimings,
    pub warnings: Vec<String>,
    /// The epochs' height systems and whether epoch 2 was converted.
    #[serde(default)]
    pub heights: HeightsNote,
    /// Ground points only were compared (`epochN_points` count those).
    #[serde(default)]
    pub ground_only: bool,
    /// Distance statistics over the non-NaN core points (metres).
    pub distance_min: Option<f64>,
    pub distance_max: Option<f64>,
    pub distance_mean: Option<f64>,
}

/// Everything the job computed, for the GUI (colour by result) and for tests.
pub struct ChangeOutcome {
    pub summary: ChangeSummary,
    /// Core points with the result fields, in epoch 1's local frame.
    pub result: PointCloud,
}

/// Runs the job. The CLI and the GUI both call this. Parameters left `None` are derived from
/// epoch 1's density ([`super::params`]); an output that is an input is refused first.
///
/// ```
/// use kizashi::pipeline::change::{run_change, ChangeJob, Method};
/// use kizashi::pipeline::{Cancel, Silent};
/// let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_data");
/// let job = ChangeJob {
///     epoch1: dir.join("epoch1_2025.laz"),
///     epoch2: dir.join("epoch2_2026.laz"),
///     method: Method::M3c2,
///     cores: None,
///     m3c2: Default::default(),
///     output: None,
///     csv: None,
///     area: None,
///     heights: Default::default(),
///     ground: false,
/// };
/// let s = run_change(&job, &Silent, &Cancel::default()).unwrap().summary;
/// assert_eq!(s.parameters.m3c2.unwrap().cyl_radius, 1.0); // from 5 points/m2
/// assert!(s.distance_min.unwrap() < -0.25); // the slump's head
/// ```
pub fn run_change(
    job: &ChangeJob,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<ChangeOutcome> {
    super::refuse_overwriting_inputs(job)?;
    validate_declared(job)?;
    let mut warnings = super::same_epochs_warning(&job.epoch1, &job.epoch2);
    let t_read = Instant::now();
    let fields = las::Fields::POSITIONS.with_classes(job.ground);
    let (mut e1, mut e2, heights) = load_pair(
        [&job.epoch1, &job.epoch2],
        [fields; 2],
        job.area.as_ref(),
        &job.heights,
        &mut warnings,
        progress,
        cancel,
    )?;
    if job.ground {
        progress.update("ground", 0, 2);
        (e1, e2) = ground_pair(&e1, &e2, job.area.is_none(), &mut warnings)?;
        progress.update("ground", 2, 2);
    }
    let read_s = t_read.elapsed().as_secs_f64();
    change_between(job, (e1, e2), heights, read_s, warnings, progress, cancel)
}

/// The ground points of both epochs for `--ground` (classified on the fly where an epoch has
/// no ground class and `on_the_fly`); an epoch left without any is refused, except in a
/// plan's tile, where an empty part compares to nothing.
pub(crate) fn ground_pair(
    e1: &PointCloud,
    e2: &PointCloud,
    on_the_fly: bool,
    warnings: &mut Vec<String>,
) -> Result<(PointCloud, PointCloud)> {
    use super::classify::ground_only;
    let (g1, g2) = (
        ground_only(e1, "epoch 1", on_the_fly, warnings),
        ground_only(e2, "epoch 2", on_the_fly, warnings),
    );
    for (g, name) in [(&g1, "epoch 1"), (&g2, "epoch 2")] {
        if g.is_empty() && on_the_fly {
            return Err(PipelineError::Invalid(format!(
                "no ground points in {name} (--ground)"
            )));
        }
    }
    Ok((g1, g2))
}

/// The same job on epochs already in memory (the viewer's): only positions, origin and CRS
/// are used; epoch 2 is put into epoch 1's frame here. `job.epoch1/2` only name the inputs.
pub fn run_change_loaded(
    job: &ChangeJob,
    e1: &PointCloud,
    e2: &PointCloud,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<ChangeOutcome> {
    validate_declared(job)?;
    let positions_only = |c: &PointCloud| {
        let mut p = PointCloud::with_origin(c.origin);
        p.positions = c.positions.clone();
        p.crs = c.crs.clone();
        p
    };
    let (e1, mut e2) = (positions_only(e1), positions_only(e2));
    let mut warnings = Vec::new();
    check_pair(&e1, &mut e2, &mut warnings)?;
    let heights = super::heights::convert(&job.heights, &e1, &mut e2, [None; 2], &mut warnings)?;
    change_between(job, (e1, e2), heights, 0.0, warnings, progress, cancel)
}

/// Declared parameters checked before any reading (derived ones are valid by construction).
pub(crate) fn validate_declared(job: &ChangeJob) -> Result<()> {
    if job.method == Method::M3c2 {
        job.m3c2.resolve(&super::params::derive(1.0)).validate()?;
    }
    if let Some(d) = job
        .m3c2
        .max_distance
        .filter(|d| !(d.is_finite() && *d > 0.0))
    {
        return Err(AnalysisError::InvalidParameter(format!(
            "max distance must be positive, got {d}"
        ))
        .into());
    }
    Ok(())
}

fn change_between(
    job: &ChangeJob,
    (mut e1, mut e2): (PointCloud, PointCloud),
    heights: HeightsNote,
    read_s: f64,
    warnings: Vec<String>,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<ChangeOutcome> {
    // Parameters not declared come from epoch 1's density (the one rule, also the viewer's).
    let needs_rule = job.method == Method::M3c2 && (job.cores.is_none() || !job.m3c2.is_complete());
    let derived = needs_rule.then(|| super::params::derive_for(&e1));
    let rule = derived
        .clone()
        .unwrap_or_else(|| super::params::derive(1.0));
    let params = job.m3c2.resolve(&rule);
    let core_rule = match job.method {
        Method::M3c2 => Cores::Spacing(rule.core_spacing),
        Method::C2c => Cores::All,
    };
    let cores_used = job.cores.clone().unwrap_or(core_rule);
    let (cores, user_normals) = select_cores(&e1, &cores_used, job.area.as_ref())?;
    if user_normals.is_some() && job.method != Method::M3c2 {
        return Err(PipelineError::Invalid(
            "core normals are for M3C2; C2C has no normals".into(),
        ));
    }

    let t_index = Instant::now();
    // Core points are taken (in file order) before the epochs are indexed, as columns: M3C2
    // asks fixed-radius questions of both epochs, C2C nearest-point questions of epoch 2 (with
    // columns of ~6 points). The columns hold their own copy, so an epoch's positions are let
    // go as soon as they are built (both epochs at once for M3C2: the counting sort of one is
    // sequential; 2 x 10 M points peak at ~0.6 GB).
    let (n1, n2) = (e1.len(), e2.len());
    let (c1, c2);
    match job.method {
        Method::M3c2 => {
            let cell = m3c2::column_size(&params);
            let (p1, p2) = (
                std::mem::take(&mut e1.positions),
                std::mem::take(&mut e2.positions),
            );
            let (a, b) = rayon::join(
                move || Columns::build(&p1, cell),
                move || Columns::build(&p2, cell),
            );
            (c1, c2) = (Some(a), Some(b));
        }
        Method::C2c => {
            let cell = c2c::column_size(&e2.positions);
            (c1, c2) = (
                None,
                Some(Columns::build(&std::mem::take(&mut e2.positions), cell)),
            );
        }
    }
    let mut timings = ChangeTimings {
        read_s,
        index_s: t_index.elapsed().as_secs_f64(),
        ..Default::default()
    };
    if cancel.is_cancelled() {
        return Err(PipelineError::Cancelled);
    }
    let mut result = PointCloud::with_origin(e1.origin);
    result.positions = cores.clone();
    result.crs = e1.crs.clone().or(e2.crs.clone());
    let n = cores.len();
    let (nan, significant, dist): (usize, usize, Vec<f64>);
    let parameters;
    match job.method {
        Method::M3c2 => {
            let total = n as u64;
            let report = |d: usize, _t: usize| progress.update("M3C2", d as u64, total);
            let (Some(c1), Some(c2)) = (&c1, &c2) else {
                unreachable!("columns built for M3C2")
            };
            // A sensor position comes in the data CRS; the analysis works in epoch 1's frame.
            let mut local = params.clone();
            if let Orientation::Sensor(s) = local.orientation {
                local.orientation = Orientation::Sensor([
                    s[0] - e1.origin[0],
                    s[1] - e1.origin[1],
                    s[2] - e1.origin[2],
                ]);
            }
            let (r, t) = m3c2::compute(
                c1,
                c2,
                &cores,
                user_normals.as_deref(),
                &local,
                &report,
                &cancel.flag(),
            )
            .map_err(PipelineError::from)?;
            timings.index_s += t.index_s;
            timings.normals_s = t.normals_s;
            timings.distances_s = t.distances_s;
            nan = r.nan_count();
            significant = r.significant_count();
            let f = |v: &[f64]| v.iter().map(|x| *x as f32).collect::<Vec<f32>>();
            result.set_scalar(
                crate::fields::M3C2_DISTANCE,
                f(&r.distance),
                "M3C2 distance (m)",
            );
            result.set_scalar(
                crate::fields::M3C2_LOD,
                f(&r.lod),
                "level of detection 95% (m)",
            );
            result.set_scalar(
                crate::fields::M3C2_SIGNIFICANT,
                (0..n)
                    .map(|i| if r.significant(i) { 1.0 } else { 0.0 })
                    .collect(),
                "|distance| > LoD",
            );
            result.set_scalar(
                crate::fields::M3C2_SPREAD1,
                f(&r.spread1),
                "epoch 1 spread along n (m)",
            );
            result.set_scalar(
                crate::fields::M3C2_SPREAD2,
                f(&r.spread2),
                "epoch 2 spread along n (m)",
            );
            result.set_scalar(
                crate::fields::M3C2_N1,
                r.n1.iter().map(|&v| v as f32).collect(),
                "epoch 1 points in cylinder",
            );
            result.set_scalar(
                crate::fields::M3C2_N2,
                r.n2.iter().map(|&v| v as f32).collect(),
                "epoch 2 points in cylinder",
            );
            for (k, name) in crate::fields::NORMAL.iter().enumerate() {
                result.set_scalar(name, r.normal.iter().map(|v| v[k]).collect(), "M3C2 normal");
            }
            result.set_scalar(
                crate::fields::M3C2_NORMAL_RADIUS,
                r.normal_radius.clone(),
                "normal radius used (m)",
            );
            dist = r.distance.clone();
            parameters = ChangeParameters {
                m3c2: Some(params.clone()),
                c2c_max_distance: None,
                normals_from_file: user_normals.is_some(),
                derived: derived.clone(),
            };
        }
        Method::C2c => {
            let t = Instant::now();
            let Some(c2) = &c2 else {
                unreachable!("columns built for C2C")
            };
            let r = c2c::compute_with(
                |q| c2.nearest(q),
                &cores,
                job.m3c2.max_distance.map(|m| m as f32),
            );
            timings.distances_s = t.elapsed().as_secs_f64();
            nan = r.distance.iter().filter(|d| d.is_nan()).count();
            significant = 0;
            dist = r.distance.iter().map(|&v| f64::from(v)).collect();
            result.set_scalar(
                crate::fields::C2C_DISTANCE,
                r.distance,
                "distance to nearest epoch-2 point (m)",
            );
            result.set_scalar(crate::fields::C2C_DZ, r.dz, "vertical component (m)");
            result.set_scalar(crate::fields::C2C_DH, r.dh, "horizontal component (m)");
            parameters = ChangeParameters {
                m3c2: None,
                c2c_max_distance: job.m3c2.max_distance,
                normals_from_file: false,
                derived: derived.clone(),
            };
        }
    }
    timings.m3c2_s = timings.index_s + timings.normals_s + timings.distances_s;
    let [distance_min, distance_max, distance_mean] = distance_stats(dist.iter().copied());
    let mut summary = ChangeSummary {
        method: job.method,
        epoch1: job.epoch1.display().to_string(),
        epoch2: job.epoch2.display().to_string(),
        epoch1_points: n1,
        epoch2_points: n2,
        crs_epsg: result.crs.as_ref().and_then(|c| c.epsg),
        cores: cores_used,
        core_points: n,
        nan,
        significant,
        parameters,
        output: job.output.as_ref().map(|p| p.display().to_string()),
        csv: job.csv.as_ref().map(|p| p.display().to_string()),
        timings,
        warnings,
        heights,
        ground_only: job.ground,
        distance_min,
        distance_max,
        distance_mean,
    };
    let t_write = Instant::now();
    if let Some(out) = &job.output {
        write_result(out, &result, &summary)?;
    }
    if let Some(csv) = &job.csv {
        write_csv(csv, &result, job.method)?;
    }
    summary.timings.write_s = t_write.elapsed().as_secs_f64();
    Ok(ChangeOutcome { summary, result })
}

/// Minimum, maximum and mean of the finite distances (None when there is none).
pub(crate) fn distance_stats(d: impl Iterator<Item = f64>) -> [Option<f64>; 3] {
    let finite: Vec<f64> = d.filter(|v| v.is_finite()).collect();
    let mean = (!finite.is_empty()).then(|| finite.iter().sum::<f64>() / finite.len() as f64);
    [
        finite.iter().cloned().reduce(f64::min),
        finite.iter().cloned().reduce(f64::max),
        mean,
    ]
}

/// Writes a change result: LAZ/LAS with the result fields, and beside it `OUT.json` with the
/// job's inputs and parameters, so a report can name them later.
pub fn write_result(out: &Path, result: &PointCloud, summary: &ChangeSummary) -> Result<()> {
    // The viewer's "save result" comes here directly: never over the epochs it came from.
    let (e1, e2) = (
        PathBuf::from(&summary.epoch1),
        PathBuf::from(&summary.epoch2),
    );
    for o in [out.to_path_buf(), super::sidecar_path(out)] {
        crate::io::safe::refuse_inputs(&o, &[e1.as_path(), e2.as_path()])?;
    }
    las::write(
        out,
        result,
        &las::WriteOptions {
            system_identifier: "Kizashi change".into(),
            ..Default::default()
        },
    )?;
    let mut summary = summary.clone();
    summary.output = Some(out.display().to_string());
    write_sidecar(out, &summary)
}

pub(crate) fn write_csv(path: &Path, r: &PointCloud, method: Method) -> Result<()> {
    crate::io::safe::write_file(path, |tmp| write_csv_to(tmp, path, r, method))
}

fn write_csv_to(tmp: &Path, path: &Path, r: &PointCloud, method: Method) -> Result<()> {
    use std::io::Write;
    let f = std::fs::File::create(tmp).map_err(|e| IoError::io(path, e))?;
    let mut w = std::io::BufWriter::new(f);
    let col = |name: &str| r.scalar(name).map(|s| s.values.as_slice()).unwrap_or(&[]);
    let v = |s: &[f32], i: usize| -> String {
        match s.get(i) {
            Some(x) if x.is_finite() => format!("{x}"),
            _ => "NaN".into(),
        }
    };
    let werr = |e: std::io::Error| PipelineError::from(IoError::io(path, e));
    match method {
        Method::M3c2 => {
            writeln!(
                w,
                "x,y,z,nx,ny,nz,distance,lod,spread1,n1,spread2,n2,significant"
            )
            .map_err(werr)?;
            let names = [
                crate::fields::NORMAL[0],
                crate::fields::NORMAL[1],
                crate::fields::NORMAL[2],
                crate::fields::M3C2_DISTANCE,
                crate::fields::M3C2_LOD,
                crate::fields::M3C2_SPREAD1,
                crate::fields::M3C2_N1,
                crate::fields::M3C2_SPREAD2,
                crate::fields::M3C2_N2,
                crate::fields::M3C2_SIGNIFICANT,
            ];
            let cols: Vec<&[f32]> = names.iter().map(|n| col(n)).collect();
            for i in 0..r.len() {
                let p = r.world(i);
                let rest: Vec<String> = cols.iter().map(|c| v(c, i)).collect();
                writeln!(w, "{:.3},{:.3},{:.3},{}", p[0], p[1], p[2], rest.join(","))
                    .map_err(werr)?;
            }
        }
        Method::C2c => {
            writeln!(w, "x,y,z,c2c_distance,c2c_dz,c2c_dh").map_err(werr)?;
            let cols: Vec<&[f32]> = [
                crate::fields::C2C_DISTANCE,
                crate::fields::C2C_DZ,
                crate::fields::C2C_DH,
            ]
            .iter()
            .map(|n| col(n))
            .collect();
            for i in 0..r.len() {
                let p = r.world(i);
                writeln!(
                    w,
                    "{:.3},{:.3},{:.3},{},{},{}",
                    p[0],
                    p[1],
                    p[2],
                    v(cols[0], i),
                    v(cols[1], i),
                    v(cols[2], i)
                )
                .map_err(werr)?;
            }
        }
    }
    w.flush().map_err(werr)?;
    Ok(())
}
