//! Jobs as steps (reader -> filter -> writer, as in PDAL), with progress reporting and a cancel
//! flag. The CLI and the GUI call these functions and nothing else for processing.

pub mod ccparams;
pub mod change;
pub mod classify;
pub mod copc;
mod cores;
pub mod dod;
pub mod heights;
pub mod layers;
pub mod objects;
mod pair;
mod panel;
pub mod params;
mod register;
pub mod report;
pub mod series;
pub mod site;
pub mod surfaces;
pub mod tiles;
pub mod tiling;

use crate::analysis::AnalysisError;
use crate::cloud::PointCloud;
use crate::io::{info, las, IoError};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Io(IoError),
    #[error(transparent)]
    Analysis(AnalysisError),
    #[error("cancelled")]
    Cancelled,
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T> = std::result::Result<T, PipelineError>;

impl From<IoError> for PipelineError {
    fn from(e: IoError) -> Self {
        match e {
            IoError::Cancelled => PipelineError::Cancelled,
            e => PipelineError::Io(e),
        }
    }
}

impl From<AnalysisError> for PipelineError {
    fn from(e: AnalysisError) -> Self {
        match e {
            AnalysisError::Cancelled => PipelineError::Cancelled,
            e => PipelineError::Analysis(e),
        }
    }
}

/// What a step reads and what it writes (PDAL's stages declare their outputs the same way):
/// the guard against overwriting inputs, and the job runner's hashes, read these.
pub trait Files {
    fn inputs(&self) -> Vec<PathBuf>;
    /// Every file or folder the step writes, sidecars included.
    fn outputs(&self) -> Vec<PathBuf>;
}

/// A job file's step run on several files (`[classify]` and `[dtm]` on each compared epoch,
/// `[copc]` on the results): one record for all.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EachFile<J> {
    pub files: Vec<J>,
}

impl<J: Files> Files for EachFile<J> {
    fn inputs(&self) -> Vec<PathBuf> {
        self.files.iter().flat_map(|j| j.inputs()).collect()
    }
    fn outputs(&self) -> Vec<PathBuf> {
        self.files.iter().flat_map(|j| j.outputs()).collect()
    }
}

/// Refuses, before any work, a step whose output is one of its inputs (also through a link or
/// a hard link), or whose outputs collide with each other.
pub fn refuse_overwriting_inputs(step: &dyn Files) -> Result<()> {
    let inputs = step.inputs();
    let refs: Vec<&Path> = inputs.iter().map(PathBuf::as_path).collect();
    let outputs = step.outputs();
    for (k, out) in outputs.iter().enumerate() {
        crate::io::safe::refuse_inputs(out, &refs)?;
        if outputs[..k].iter().any(|o| o == out) {
            return Err(PipelineError::Invalid(format!(
                "{}: given for two outputs",
                out.display()
            )));
        }
    }
    Ok(())
}

/// `OUT.json` beside an output: the record of what made it.
pub fn sidecar_path(out: &Path) -> PathBuf {
    PathBuf::from(format!("{}.json", out.display()))
}

/// A warning when both epochs are one file (comparing a survey with itself finds nothing).
pub fn same_epochs_warning(e1: &Path, e2: &Path) -> Vec<String> {
    if crate::io::safe::same_file(e1, e2) {
        vec![format!(
            "both epochs are the same file ({}): every distance will be 0",
            e1.display()
        )]
    } else {
        Vec::new()
    }
}

/// Shared cancel flag (Ctrl-C in the CLI, a button in the GUI).
#[derive(Clone, Debug, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// The flag itself, for the analysis loops.
    pub fn flag(&self) -> Arc<AtomicBool> {
        self.0.clone()
    }
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Progress sink: `(step name, done, total)`.
pub trait Progress: Send + Sync {
    fn update(&self, step: &str, done: u64, total: u64);
}

/// No progress display.
pub struct Silent;
impl Progress for Silent {
    fn update(&self, _: &str, _: u64, _: u64) {}
}

/// Reads one survey epoch (LAS/LAZ/COPC; a file, a folder or a glob of files) with progress;
/// stops between chunks when cancelled.
pub fn load_epoch(
    path: &Path,
    fields: las::Fields,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<las::Loaded> {
    load_epoch_in(path, fields, None, progress, cancel)
}

/// `load_epoch` for a tile: only the points of its area and halo, in the whole run's local
/// frame when the plan gave it (`tile.1`: which epoch, 0 or 1).
pub fn load_epoch_in(
    path: &Path,
    fields: las::Fields,
    tile: Option<(&tiling::TileArea, usize)>,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<las::Loaded> {
    let area = tile.map(|(t, _)| t.read());
    let origin = tile.and_then(|(t, k)| t.origins.map(|o| o[k]));
    let step = read_step(path);
    las::read_area(path, fields, area, origin, |done, total| {
        progress.update(&step, done, total);
        !cancel.is_cancelled()
    })
    .map_err(PipelineError::from)
}

/// The progress step of reading a file: "read NAME".
pub fn read_step(path: &Path) -> String {
    format!(
        "read {}",
        path.file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default()
    )
}

/// What `kizashi demo` produced.
#[derive(Debug, Serialize)]
pub struct DemoSummary {
    pub sample_dir: String,
    pub generated: Vec<String>,
    pub out_dir: String,
    pub files: Vec<info::FileInfo>,
    pub epochs: Vec<EpochSummary>,
    /// M3C2 between the two epochs (written to `out_dir/m3c2.laz` and `.csv`).
    pub change: change::ChangeSummary,
}

#[derive(Debug, Serialize)]
pub struct EpochSummary {
    pub path: String,
    pub point_count: usize,
    pub bounds: crate::cloud::Bounds,
    pub crs_epsg: Option<u32>,
    pub dimensions: Vec<String>,
    pub warnings: Vec<String>,
}

fn epoch_summary(path: &Path, c: &PointCloud, warnings: Vec<String>) -> EpochSummary {
    EpochSummary {
        path: path.display().to_string(),
        point_count: c.len(),
        bounds: c.bounds(),
        crs_epsg: c.crs.as_ref().and_then(|c| c.epsg),
        dimensions: c.dimension_names(),
        warnings,
    }
}

/// The main job on the bundled sample survey: generate it when missing, load both epochs and
/// the orthophoto through the same steps as user data, and write a summary to `out_dir`.
pub fn run_demo(
    sample_dir: &Path,
    out_dir: &Path,
    regenerate: bool,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<DemoSummary> {
    use crate::demo;
    let e1 = sample_dir.join(demo::EPOCH1_FILE);
    let e2 = sample_dir.join(demo::EPOCH2_FILE);
    let ortho = sample_dir.join(demo::ORTHO_FILE);
    let mut generated = Vec::new();
    if regenerate || !e1.exists() || !e2.exists() || !ortho.exists() {
        progress.update("generate sample survey", 0, 1);
        generated = demo::generate(sample_dir)?
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        progress.update("generate sample survey", 1, 1);
    }
    let files: Vec<info::FileInfo> = [&e1, &e2, &ortho]
        .iter()
        .map(|p| info::inspect(p))
        .collect();
    let mut epochs = Vec::new();
    for p in [&e1, &e2] {
        let l = load_epoch(p, las::Fields::ALL, progress, cancel)?;
        epochs.push(epoch_summary(p, &l.cloud, l.warnings));
    }
    // `info::inspect` above already decoded every block of the orthophoto.
    if let Some(bad) = files.iter().find(|f| !f.ok) {
        return Err(PipelineError::Invalid(
            bad.error
                .clone()
                .unwrap_or_else(|| format!("{}: unreadable", bad.path)),
        ));
    }
    std::fs::create_dir_all(out_dir).map_err(|e| IoError::io(out_dir, e))?;
    // Parameters for a 5 pts/m2 drone survey: ~15 points per 1 m cylinder, normals from
    // 1-2 m neighbourhoods, cylinders long enough for decimetre movements on the slope.
    let job = change::ChangeJob {
        epoch1: e1.clone(),
        epoch2: e2.clone(),
        method: change::Method::M3c2,
        cores: Some(change::Cores::Spacing(1.0)),
        m3c2: crate::analysis::m3c2::Params {
            cyl_radius: 1.0,
            normal_radii: vec![1.0, 2.0],
            max_distance: 2.0,
            ..Default::default()
        }
        .into(),
        output: Some(out_dir.join("m3c2.laz")),
        csv: Some(out_dir.join("m3c2.csv")),
        area: None,
        heights: Default::default(),
        ground: false,
    };
    let change = change::run_change(&job, progress, cancel)?.summary;
    let summary = DemoSummary {
        sample_dir: sample_dir.display().to_string(),
        generated,
        out_dir: out_dir.display().to_string(),
        files,
        epochs,
        change,
    };
    write_json(&out_dir.join("summary.json"), &summary)?;
    Ok(summary)
}

/// Size and SHA-256 (hex) of a file's content; None when it cannot be read. The report's input
/// hashes and the job runner's step keys.
pub fn sha256_file(path: &Path) -> Option<(u64, String)> {
    use sha2::{Digest, Sha256};
    let mut f = std::fs::File::open(path).ok()?;
    let mut h = Sha256::new();
    let n = std::io::copy(&mut f, &mut h).ok()?;
    Some((n, h.finalize().iter().map(|b| format!("{b:02x}")).collect()))
}

/// Pretty JSON to `path`, atomically (the viewer's `--stats`, the demo's summary).
pub fn write_json<T: Serialize>(path: &Path, what: &T) -> Result<()> {
    let json =
        serde_json::to_string_pretty(what).map_err(|e| PipelineError::Invalid(e.to_string()))?;
    crate::io::safe::write_bytes(path, (json + "\n").as_bytes())?;
    Ok(())
}

/// `OUT.json` beside an output file: what made it (inputs, parameters, results).
pub(crate) fn write_sidecar<T: Serialize>(out: &Path, what: &T) -> Result<()> {
    write_json(&sidecar_path(out), what)
}
