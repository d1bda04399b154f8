//! Job files (`kizashi run SITE.toml`): a site's whole chain declared once — epochs,
//! registration, change, DoD, change objects, report, 3D Tiles — with every output in one
//! folder. Paths are relative to the job file.
//!
//! Make-like: each step's key is a SHA-256 of its job (the same typed job the CLI builds, as
//! JSON) and of the content of every file it reads. The key is recorded with the step's job and
//! summary in `OUT/.kizashi/STEP.json`, written after the step's outputs; a step whose key is
//! unchanged and whose outputs are all there is skipped. A step's inputs include the outputs
//! of the steps before it, so a changed cylinder radius reruns change and what reads its
//! result (objects, report, tiles) but not the DoD. `--force` reruns everything.
//!
//! Keys not in the schema are errors with their line and the nearest known key.

mod file;
mod run;
mod series;
mod session;

pub use file::*;

use super::change::{ChangeJob, Cores, M3c2Settings, Method, RegisterJob};
use super::dod::DodJob;
use super::heights::Heights;
use super::objects::ObjectsJob;
use super::report::ReportJob;
use super::series::SeriesJob;
use super::tiles::TilesJob;
use super::{Cancel, Files, PipelineError, Progress, Result};
use crate::analysis::dod::Stat;
use crate::analysis::icp::IcpParams;
use crate::analysis::normals::{Neighbourhoods, Orientation};
use crate::io::geoid::GeoidSpec;
use crate::io::IoError;
use crate::lang::Lang;
pub use run::{done_paths, job_sha256, run, DoneRecord, RunSummary, StepOutcome, StepRecord};
use serde::{Deserialize, Serialize};
pub use series::SeriesStep;
pub use session::{save_session, session, session_toml, Session};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// One step of a planned run: the same typed job the CLI would build.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepJob {
    Classify(super::classify::ClassifyEpochs),
    Register(RegisterJob),
    Dtm(super::classify::DtmEpochs),
    Change(ChangeJob),
    Dod(DodJob),
    Objects(ObjectsJob),
    Report(ReportJob),
    Tiles(TilesJob),
    Copc(super::EachFile<super::copc::CopcJob>),
    Series(SeriesJob),
}

impl StepJob {
    pub fn name(&self) -> &'static str {
        match self {
            StepJob::Classify(_) => "classify",
            StepJob::Register(_) => "register",
            StepJob::Dtm(_) => "dtm",
            StepJob::Change(_) => "change",
            StepJob::Dod(_) => "dod",
            StepJob::Objects(_) => "objects",
            StepJob::Report(_) => "report",
            StepJob::Tiles(_) => "tiles",
            StepJob::Copc(_) => "copc",
            StepJob::Series(_) => "series",
        }
    }
    /// What the step reads and writes.
    pub fn files(&self) -> &dyn Files {
        match self {
            StepJob::Classify(j) => j,
            StepJob::Register(j) => j,
            StepJob::Dtm(j) => j,
            StepJob::Change(j) => j,
            StepJob::Dod(j) => j,
            StepJob::Objects(j) => j,
            StepJob::Report(j) => j,
            StepJob::Tiles(j) => j,
            StepJob::Copc(j) => j,
            StepJob::Series(j) => j,
        }
    }
    /// Runs the step through the pipeline; its summary as JSON.
    pub fn run(&self, progress: &dyn Progress, cancel: &Cancel) -> Result<serde_json::Value> {
        let json = |v: std::result::Result<serde_json::Value, serde_json::Error>| {
            v.map_err(|e| PipelineError::Invalid(e.to_string()))
        };
        match self {
            StepJob::Classify(j) => json(serde_json::to_value(
                super::classify::run_classify_epochs(j, progress, cancel)?,
            )),
            StepJob::Register(j) => json(serde_json::to_value(super::change::run_register(
                j, progress, cancel,
            )?)),
            StepJob::Dtm(j) => json(serde_json::to_value(super::classify::run_dtm_epochs(
                j, progress, cancel,
            )?)),
            StepJob::Change(j) => json(serde_json::to_value(
                super::change::run_change(j, progress, cancel)?.summary,
            )),
            StepJob::Dod(j) => json(serde_json::to_value(super::dod::run_dod(
                j, progress, cancel,
            )?)),
            StepJob::Objects(j) => json(serde_json::to_value(super::objects::run_objects(
                j, progress, cancel,
            )?)),
            StepJob::Report(j) => json(serde_json::to_value(super::report::run_report(
                j, progress, cancel,
            )?)),
            StepJob::Tiles(j) => json(serde_json::to_value(super::tiles::run_tiles(
                j, progress, cancel,
            )?)),
            StepJob::Copc(j) => {
                let run = |c| super::copc::run_copc(c, progress, cancel);
                json(serde_json::to_value(
                    j.files.iter().map(run).collect::<Result<Vec<_>>>()?,
                ))
            }
            StepJob::Series(j) => json(serde_json::to_value(
                super::series::run_series(j, progress, cancel)?.summary,
            )),
        }
    }
}

/// A job file read and planned.
#[derive(Clone, Debug)]
pub struct Plan {
    pub file: PathBuf,
    pub output: PathBuf,
    pub steps: Vec<StepJob>,
    /// A tile of a planned run: survey inputs are keyed by size and modification time, not
    /// hashed (each tile would hash every survey file it meets: a prefecture many times).
    pub tile: bool,
}

fn invalid(file: &Path, msg: impl std::fmt::Display) -> PipelineError {
    PipelineError::Invalid(format!("{}: {msg}", file.display()))
}

/// The nearest of `known` to `word` (edit distance at most 3), for "did you mean".
fn nearest<'a>(word: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    known
        .into_iter()
        .map(|k| (strsim::levenshtein(word, k), k))
        .filter(|(d, _)| *d <= 3)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// A TOML or schema error as one line: the file, the line, the message, a suggestion.
fn describe_error(file: &Path, text: &str, e: &toml::de::Error) -> PipelineError {
    let line = e
        .span()
        .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
    let msg = e.message().trim().replace('\n', " ");
    let mut out = match line {
        Some(l) => format!("{} line {l}: {msg}", file.display()),
        None => format!("{}: {msg}", file.display()),
    };
    // serde's wording: "unknown field `cyl_radiu`, expected one of `method`, `cyl_radius`, ..."
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        if let Some((word, expected)) = rest.split_once('`') {
            let known: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
            if let Some(k) = nearest(word, known) {
                out.push_str(&format!("; did you mean `{k}`?"));
            }
        }
    }
    PipelineError::Invalid(out)
}

/// Reads and checks a job file.
pub fn read(file: &Path) -> Result<SiteFile> {
    let text = std::fs::read_to_string(file).map_err(|e| IoError::io(file, e))?;
    parse(file, &text)
}

/// Parses job-file text (`file` names it in errors).
///
/// ```
/// use std::path::Path;
/// use kizashi::pipeline::site;
/// let text = "[[epoch]]\npath = \"a.laz\"\n[[epoch]]\npath = \"b.laz\"\n[change]\ncyl_radius = 2.5\n";
/// let job = site::parse(Path::new("site.toml"), text).unwrap();
/// assert_eq!(job.change.unwrap().cyl_radius, Some(2.5));
/// // A misspelt key names its line and the nearest key.
/// let e = site::parse(Path::new("site.toml"), "[change]\ncyl_radios = 2\n").unwrap_err();
/// assert!(e.to_string().starts_with("site.toml line 2: unknown field `cyl_radios`"));
/// assert!(e.to_string().ends_with("did you mean `cyl_radius`?"));
/// ```
pub fn parse(file: &Path, text: &str) -> Result<SiteFile> {
    toml::from_str(text).map_err(|e| describe_error(file, text, &e))
}

/// `p` relative to the job file's (canonical) folder; leading `..` go up from that folder, so
/// outputs are named `/site/out`, not `/site/data/../out` (later ones are left to the system:
/// through a symbolic link they mean something else).
fn beside(dir: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        return p.to_path_buf();
    }
    let mut base = dir.to_path_buf();
    let mut rest = p.components().peekable();
    while let Some(c) = rest.peek() {
        match c {
            std::path::Component::ParentDir if base.parent().is_some() => {
                base.pop();
            }
            std::path::Component::CurDir => {}
            _ => break,
        }
        rest.next();
    }
    base.join(rest.collect::<PathBuf>())
}

/// The steps of a job file, in order, as pipeline jobs with absolute paths.
pub fn plan(file: &Path) -> Result<Plan> {
    let site = read(file)?;
    plan_site(file, &site)
}

/// `plan` of a file already read.
pub fn plan_site(file: &Path, site: &SiteFile) -> Result<Plan> {
    let base = std::fs::canonicalize(file).map_err(|e| IoError::io(file, e))?;
    let dir = base.parent().map(Path::to_path_buf).unwrap_or_default();
    let at = |p: &Path| beside(&dir, p);
    let out = at(site.site.output.as_deref().unwrap_or(Path::new("out")));
    let o = |name: &str| out.join(name);
    let n = site.epochs.len();
    if n < 2 {
        return Err(invalid(
            file,
            format!("needs at least two [[epoch]] tables (found {n})"),
        ));
    }
    let mut dates = Vec::with_capacity(n);
    for (k, e) in site.epochs.iter().enumerate() {
        let d = match &e.date {
            Some(d) => Some(
                chrono::NaiveDate::parse_from_str(&d.to_string(), "%Y-%m-%d").map_err(|_| {
                    invalid(
                        file,
                        format!("epoch {k}: date {d} is not a day (YYYY-MM-DD)"),
                    )
                })?,
            ),
            None => None,
        };
        if let (Some(Some(prev)), Some(d)) = (dates.last(), d) {
            if d <= *prev {
                return Err(invalid(
                    file,
                    format!("epoch dates must increase: {prev} then {d}"),
                ));
            }
        }
        dates.push(d);
    }
    if n > 2 && site.series.is_none() {
        return Err(invalid(
            file,
            format!("{n} epochs need a [series] step (the pairwise steps compare the first and the last)"),
        ));
    }
    let area = site.tile.as_ref().map(|t| t.area());
    if area.is_some()
        && (site.register.is_some()
            || site.dtm.is_some()
            || site.copc.is_some()
            || site.series.is_some()
            || site.objects.is_some()
            || site.report.is_some())
    {
        return Err(invalid(
            file,
            "a [tile] job runs [change], [dod] and [tiles] only (objects and the report come from the merge)",
        ));
    }
    // Pairwise steps compare the oldest epoch with the latest.
    let mut e1 = at(&site.epochs[0].path);
    let mut e2 = at(&site.epochs[n - 1].path);
    let mut heights = Heights {
        epoch1: site.epochs[0].heights,
        epoch2: site.epochs[n - 1].heights,
        by_date: site.heights.as_ref().is_some_and(|h| h.by_date),
        date1: dates[0],
        date2: dates[n - 1],
    };
    // Epoch 1 as surveyed: what parameters are derived from (a classified copy has the same
    // header but does not exist yet when the plan is made).
    let surveyed = e1.clone();
    let mut steps = Vec::new();
    if let Some(c) = &site.classify {
        if site.series.is_some() {
            return Err(invalid(
                file,
                "[classify] runs before the pairwise steps; classify a series' epochs with \
                 `kizashi classify` first",
            ));
        }
        let d = crate::analysis::ground::Params::default();
        let params = crate::analysis::ground::Params {
            cell: c.cell.unwrap_or(d.cell),
            slope: c.slope.unwrap_or(d.slope),
            window: c.window.unwrap_or(d.window),
            threshold: c.threshold.unwrap_or(d.threshold),
            scalar: c.scalar.unwrap_or(d.scalar),
            low: c.low.unwrap_or(d.low),
        };
        let (c1, c2) = (o("epoch1_classified.laz"), o("epoch2_classified.laz"));
        let job = |input: &PathBuf, output: &PathBuf| super::classify::ClassifyJob {
            input: input.clone(),
            output: output.clone(),
            params,
            hag: c.hag,
            vegetation: c.vegetation,
        };
        steps.push(StepJob::Classify(super::classify::ClassifyEpochs {
            files: vec![job(&e1, &c1), job(&e2, &c2)],
        }));
        (e1, e2) = (c1, c2);
    }
    if let Some(r) = &site.register {
        let aligned = o("epoch2_aligned.laz");
        steps.push(StepJob::Register(RegisterJob {
            epoch1: e1.clone(),
            epoch2: e2.clone(),
            stable_box: r.stable_box,
            stable_polygon: r.stable_polygon.as_deref().map(at),
            stable_c2c: r.stable_c2c,
            plane_radius: r.plane_radius,
            params: IcpParams {
                rotation: r.rotation,
                ..Default::default()
            },
            output: Some(aligned.clone()),
            heights: heights.clone(),
            ground: r.ground,
        }));
        e2 = aligned;
        // The aligned copy is in epoch 1's height system: nothing left to convert or warn of.
        heights = Heights {
            date2: heights.date1,
            ..Default::default()
        };
    }
    if let Some(d) = &site.dtm {
        if site.series.is_some() {
            return Err(invalid(
                file,
                "[dtm] makes the compared pair's DTMs; make a series' with `kizashi dtm`",
            ));
        }
        let job = |input: &PathBuf, name: &str| super::classify::DtmJob {
            input: input.clone(),
            output: o(name),
            cell: d.cell,
        };
        steps.push(StepJob::Dtm(super::classify::DtmEpochs {
            files: vec![job(&e1, "epoch1_dtm.tif"), job(&e2, "epoch2_dtm.tif")],
        }));
    }
    let mut result = None;
    if let Some(c) = &site.change {
        let cores = Cores::declared(
            c.cores.as_deref().map(at),
            c.core_normals,
            c.core_step,
            c.core_spacing,
        );
        let orientation = match (c.orientation, c.sensor) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    file,
                    "[change] takes orientation or sensor, not both",
                ))
            }
            (Some(v), None) => Orientation::Vector(v),
            (None, Some(s)) => Orientation::Sensor(s),
            (None, None) => Orientation::default(),
        };
        let laz = o("change.laz");
        steps.push(StepJob::Change(ChangeJob {
            epoch1: e1.clone(),
            epoch2: e2.clone(),
            method: c.method,
            cores,
            m3c2: M3c2Settings {
                cyl_radius: c.cyl_radius,
                normal_radii: c.normal_radii.clone(),
                max_distance: c.max_distance,
                registration_error: c.registration_error,
                robust: c.robust,
                orientation,
                neighbourhoods: if c.exact_normals {
                    Neighbourhoods::Exact
                } else {
                    Neighbourhoods::Py4dgeo
                },
            },
            output: Some(laz.clone()),
            csv: c.csv.unwrap_or(true).then(|| o("change.csv")),
            area,
            heights: heights.clone(),
            ground: c.ground,
        }));
        result = Some((laz, c.method));
    }
    let mut dod_file = None;
    if let Some(d) = &site.dod {
        let cell = match d.cell {
            Some(c) => Some(c),
            // A DEM epoch 1 gives its own cells.
            None if crate::io::dem::is_dem(&surveyed) => None,
            // The one rule, from epoch 1's header (bounds and count): no need to read points.
            None => {
                let h = crate::io::las::read_header(&surveyed)?;
                Some(
                    super::params::derive(super::params::spacing_of(&h.bounds, h.point_count))
                        .dod_cell,
                )
            }
        };
        let tif = o("dod.tif");
        steps.push(StepJob::Dod(DodJob {
            epoch1: e1.clone(),
            epoch2: e2.clone(),
            cell,
            stat: d.stat.unwrap_or(Stat::Mean),
            ground: d.ground,
            registration_error: d.registration_error,
            output: tif.clone(),
            objects: d.objects.unwrap_or(true).then(|| o("dod_objects.geojson")),
            min_area: d.min_area,
            wgs84: d.wgs84,
            area,
            heights: heights.clone(),
            coregister: (d.coregister || d.stable_polygon.is_some() || d.stable_dh.is_some()).then(
                || super::dod::Coregister {
                    stable_polygon: d.stable_polygon.as_deref().map(at),
                    stable_dh: d.stable_dh,
                },
            ),
        }));
        dod_file = Some(tif);
    }
    let mut series_result = None;
    if let Some(st) = &site.series {
        if n < 3 {
            return Err(invalid(
                file,
                format!("[series] needs at least 3 epochs (found {n})"),
            ));
        }
        steps.push(StepJob::Series(series::job(
            st,
            &site.epochs,
            &dates,
            &at,
            &o,
        )));
        series_result = Some(o("series.laz"));
    }
    let need_result = |what: &str| -> Result<(PathBuf, Method)> {
        result.clone().ok_or_else(|| {
            invalid(
                file,
                format!("[{what}] needs a [change] step (it reads the change result)"),
            )
        })
    };
    let mut objects_file = None;
    if let Some(ob) = &site.objects {
        let (r, method) = need_result("objects")?;
        if method != Method::M3c2 {
            return Err(invalid(
                file,
                "[objects] needs M3C2 (C2C has no level of detection)",
            ));
        }
        let g = o("objects.geojson");
        steps.push(StepJob::Objects(ObjectsJob {
            result: r,
            cell: ob.cell,
            min_area: ob.min_area,
            output: g.clone(),
            wgs84: ob.wgs84,
        }));
        objects_file = Some(g);
    }
    if let Some(rp) = &site.report {
        let ext = match rp.format {
            ReportFormat::Pdf => "pdf",
            ReportFormat::Html => "html",
        };
        // The deformation report of the change step, the monitoring report of the series.
        let mut reports = Vec::new();
        if series_result.is_none() || result.is_some() {
            reports.push((need_result("report")?.0, format!("report.{ext}")));
        }
        if let Some(s) = &series_result {
            reports.push((s.clone(), format!("monitoring.{ext}")));
        }
        for (r, name) in reports {
            let is_series = Some(&r) == series_result.as_ref();
            steps.push(StepJob::Report(ReportJob {
                result: r,
                dod: dod_file.clone().filter(|_| !is_series),
                objects: objects_file.clone().filter(|_| !is_series),
                ortho: rp.ortho.as_deref().map(at),
                lang: rp.lang.unwrap_or_else(Lang::from_env),
                output: o(&name),
                title: rp.title.clone().or_else(|| site.site.name.clone()),
                min_area: rp.min_area,
                command: Some(format!("kizashi run {}", file.display())),
            }));
        }
    }
    if let Some(t) = &site.tiles {
        // A series is the monitoring product: its tiles carry velocity, onset and the
        // displacement of every epoch.
        let (r, method) = match &series_result {
            Some(s) => (s.clone(), None),
            None => need_result("tiles").map(|(r, m)| (r, Some(m)))?,
        };
        let attributes = t.attributes.clone().unwrap_or_else(|| match method {
            None => {
                let mut v: Vec<String> = [
                    crate::fields::VELOCITY,
                    crate::fields::VELOCITY_SE,
                    crate::fields::ACCELERATION,
                    crate::fields::ONSET_YEAR,
                    crate::fields::MOTION_CLASS,
                ]
                .map(String::from)
                .to_vec();
                let reference = site.series.as_ref().map_or(0, |s| s.reference);
                v.extend(
                    (0..n)
                        .filter(|&k| k != reference)
                        .map(crate::fields::displacement),
                );
                v
            }
            Some(Method::M3c2) => vec![
                crate::fields::M3C2_DISTANCE.into(),
                crate::fields::M3C2_LOD.into(),
                crate::fields::M3C2_SIGNIFICANT.into(),
            ],
            Some(Method::C2c) => vec![
                crate::fields::C2C_DISTANCE.into(),
                crate::fields::C2C_DZ.into(),
            ],
        });
        steps.push(StepJob::Tiles(TilesJob {
            input: r,
            output: o("tiles"),
            attributes,
            geoid_offset: t.geoid_offset,
            geoid: match &t.geoid {
                GeoidSpec::Grid(p) => GeoidSpec::Grid(at(p)),
                g => g.clone(),
            },
            max_points_per_tile: t.max_points_per_tile.unwrap_or(50_000),
            // The runner owns its output folder: a rerun replaces the tileset whole.
            overwrite: true,
            tile: area.is_some(),
        }));
    }
    if let Some(c) = &site.copc {
        let job = |input: PathBuf, name: String| super::copc::CopcJob {
            input,
            output: o(&name),
            leaf_points: c.leaf_points,
        };
        let mut files = Vec::new();
        match (&series_result, &result) {
            (Some(s), _) => files.push(job(s.clone(), "series.copc.laz".into())),
            (None, Some((r, _))) => files.push(job(r.clone(), "change.copc.laz".into())),
            (None, None) if !c.epochs => {
                return Err(invalid(
                    file,
                    "[copc] needs [change] or [series] (or epochs = true)",
                ))
            }
            _ => {}
        }
        for (k, e) in site.epochs.iter().enumerate().filter(|_| c.epochs) {
            if crate::io::las::is_many(&at(&e.path)) {
                return Err(invalid(
                    file,
                    "[copc] epochs = true takes one file per epoch",
                ));
            }
            files.push(job(at(&e.path), format!("epoch{}.copc.laz", k + 1)));
        }
        steps.push(StepJob::Copc(super::EachFile { files }));
    }
    if steps.is_empty() {
        return Err(invalid(
            file,
            "no steps: add [change], [dod], [objects], [report], [tiles] or [series]",
        ));
    }
    Ok(Plan {
        file: base,
        output: out,
        steps,
        tile: area.is_some(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse(Path::new("site.toml"), text).unwrap_err().to_string()
    }

    #[test]
    fn misspelt_key_names_its_line_and_the_nearest_key() {
        let e = err("[[epoch]]\npath = \"a.laz\"\n\n[change]\nmethod = \"m3c2\"\ncyl_radiu = 5\n");
        assert!(
            e.starts_with("site.toml line 6: unknown field `cyl_radiu`"),
            "{e}"
        );
        assert!(e.ends_with("did you mean `cyl_radius`?"), "{e}");
        assert!(!e.contains('\n'));
        let e = err("[chnage]\n");
        assert!(
            e.contains("line 1") && e.contains("did you mean `change`?"),
            "{e}"
        );
    }

    /// The viewer's saved session reads back as the same change job.
    #[test]
    fn saved_session_plans_the_same_change_job() {
        let dir = tempfile::tempdir().unwrap();
        let (e1, e2) = (dir.path().join("a b.laz"), dir.path().join("e2.laz"));
        std::fs::write(&e1, b"survey 1").unwrap();
        std::fs::write(&e2, b"survey 2").unwrap();
        let panel = super::super::change::Panel {
            method: Method::M3c2,
            cyl_radius: 2.5,
            normal_radii: vec![2.5, 5.0],
            max_distance: 5.0,
            registration_error: 0.02,
            robust: true,
            core_spacing: 2.5,
        };
        let mut job = panel.job(e1, e2);
        job.output = Some(dir.path().join("out/change.laz"));
        job.csv = Some(dir.path().join("out/change.csv"));
        let f = dir.path().join("session.toml");
        save_session(&f, &job, 5.0, None, Lang::Ja).unwrap();
        let s = session(&f).unwrap();
        assert_eq!(s.change.as_ref(), Some(&job));
        assert_eq!(s.files.len(), 2);
        let plan = plan(&f).unwrap();
        let names: Vec<&str> = plan.steps.iter().map(StepJob::name).collect();
        assert_eq!(names, ["change", "dod", "objects", "report", "tiles"]);
        // Never over an input.
        assert!(save_session(&job.epoch1, &job, 5.0, None, Lang::Ja).is_err());
        assert_eq!(std::fs::read(&job.epoch1).unwrap(), b"survey 1");
    }

    #[test]
    fn auto_or_a_value_nothing_else() {
        let s = parse(
            Path::new("s.toml"),
            "[change]\ncyl_radius = \"auto\"\nnormal_radii = [1.0, 2.0]\n",
        )
        .unwrap();
        let c = s.change.unwrap();
        assert_eq!((c.cyl_radius, c.normal_radii), (None, Some(vec![1.0, 2.0])));
        let e = err("[change]\ncyl_radius = \"big\"\n");
        assert!(e.contains("line 2") && e.contains("\"auto\""), "{e}");
        let e = err("[change]\nmethod = \"m3c3\"\n");
        assert!(e.contains("line 2") && e.contains("m3c2"), "{e}");
    }
}
