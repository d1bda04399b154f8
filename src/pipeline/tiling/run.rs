//! Running a plan's tiles: each tile is `kizashi run TILE.toml` in its own process, so any
//! engine that runs processes can run them — here N at a time on this machine
//! (`kizashi run PLAN/ --jobs N`), a Slurm job array (`run.sbatch`), or Dask
//! (`scripts/dask_run.py`). A tile is finished when its completion record matches its job
//! file; reruns start only the others.

use super::plan::{read_manifest, Manifest, PlannedTile};
use crate::pipeline::site::{self, DoneRecord};
use crate::pipeline::{Cancel, PipelineError, Progress, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "error")]
pub enum TileState {
    Done,
    /// Its run failed, with the error it recorded.
    Failed(String),
    /// Never run, still running, or killed.
    Missing,
}

/// A tile's completion record, when it names the tile's current job file.
fn done_record(dir: &Path, t: &PlannedTile) -> Option<DoneRecord> {
    let (done, _) = site::done_paths(&dir.join(&t.output));
    let sha = site::job_sha256(&dir.join(&t.job)).ok()?;
    let rec: DoneRecord = serde_json::from_str(&std::fs::read_to_string(&done).ok()?).ok()?;
    (rec.job_sha256 == sha).then_some(rec)
}

/// Where a tile stands, from its records.
pub fn tile_state(dir: &Path, t: &PlannedTile) -> TileState {
    if done_record(dir, t).is_some() {
        return TileState::Done;
    }
    let (_, failed) = site::done_paths(&dir.join(&t.output));
    if let Some(v) = std::fs::read_to_string(&failed)
        .ok()
        .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
    {
        return TileState::Failed(v["error"].as_str().unwrap_or("failed").to_string());
    }
    TileState::Missing
}

#[derive(Clone, Debug)]
pub struct RunPlanJob {
    pub plan: PathBuf,
    /// Tile processes at a time.
    pub jobs: usize,
    /// Rerun finished tiles too.
    pub force: bool,
    /// The `kizashi` executable the tiles run with.
    pub exe: PathBuf,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RunPlanSummary {
    pub plan: String,
    pub ran: Vec<String>,
    /// Finished before, not run again.
    pub skipped: Vec<String>,
    /// Tile id and its error (the log is `PLAN/logs/ID.log`).
    pub failed: Vec<(String, String)>,
    /// Per tile that ran: its seconds and peak memory (MB), from its completion record.
    pub figures: Vec<TileFigures>,
    pub seconds: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TileFigures {
    pub id: String,
    pub seconds: f64,
    pub peak_rss_mb: Option<f64>,
}

fn spawn(job: &RunPlanJob, t: &PlannedTile) -> Result<Child> {
    let logs = job.plan.join("logs");
    std::fs::create_dir_all(&logs).map_err(|e| crate::io::IoError::io(&logs, e))?;
    let log_path = logs.join(format!("{}.log", t.id));
    let log = std::fs::File::create(&log_path).map_err(|e| crate::io::IoError::io(&log_path, e))?;
    let err = log
        .try_clone()
        .map_err(|e| crate::io::IoError::io(&log_path, e))?;
    let mut c = Command::new(&job.exe);
    c.arg("run").arg(job.plan.join(&t.job)).arg("--json");
    // N tiles at once share the cores instead of each spawning a thread per core.
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        c.env(
            "RAYON_NUM_THREADS",
            (cores / job.jobs.max(1)).max(1).to_string(),
        );
    }
    if job.force {
        c.arg("--force");
    }
    c.stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        .spawn()
        .map_err(|e| PipelineError::Invalid(format!("{}: cannot start: {e}", job.exe.display())))
}

/// Runs the plan's unfinished tiles, `jobs` at a time; a failed tile does not stop the others.
pub fn run_plan(
    job: &RunPlanJob,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<RunPlanSummary> {
    let t0 = Instant::now();
    let m = read_manifest(&job.plan)?;
    let mut s = RunPlanSummary {
        plan: job.plan.display().to_string(),
        ..Default::default()
    };
    let mut todo: Vec<&PlannedTile> = Vec::new();
    for t in &m.tiles {
        if !job.force && tile_state(&job.plan, t) == TileState::Done {
            s.skipped.push(t.id.clone());
        } else {
            todo.push(t);
        }
    }
    let total = todo.len() as u64;
    let mut queue = todo.into_iter();
    let mut running: Vec<(&PlannedTile, Child)> = Vec::new();
    let mut finished = 0u64;
    progress.update("tiles", 0, total);
    loop {
        while running.len() < job.jobs.max(1) && !cancel.is_cancelled() {
            let Some(t) = queue.next() else { break };
            running.push((t, spawn(job, t)?));
        }
        if running.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
        let mut k = 0;
        while k < running.len() {
            if cancel.is_cancelled() {
                let _ = running[k].1.kill();
            }
            match running[k].1.try_wait() {
                Ok(Some(_)) => {
                    let (t, _) = running.swap_remove(k);
                    finished += 1;
                    progress.update("tiles", finished, total);
                    if let Some(r) = done_record(&job.plan, t) {
                        s.ran.push(t.id.clone());
                        s.figures.push(TileFigures {
                            id: t.id.clone(),
                            seconds: r.seconds,
                            peak_rss_mb: r.peak_rss_mb,
                        });
                        continue;
                    }
                    match tile_state(&job.plan, t) {
                        // Finished between the two reads (another runner): no figures.
                        TileState::Done => s.ran.push(t.id.clone()),
                        TileState::Failed(e) => s.failed.push((t.id.clone(), e)),
                        TileState::Missing => s
                            .failed
                            .push((t.id.clone(), "stopped before it finished".into())),
                    }
                }
                Ok(None) => k += 1,
                Err(e) => return Err(PipelineError::Invalid(e.to_string())),
            }
        }
    }
    if cancel.is_cancelled() {
        return Err(PipelineError::Cancelled);
    }
    s.ran.sort();
    s.failed.sort();
    s.seconds = t0.elapsed().as_secs_f64();
    Ok(s)
}

/// A Slurm job array over the tiles: task k runs tile k. Finished tiles exit at once (their
/// records say so), so resubmitting the whole array redoes only the others.
pub fn sbatch_script(dir: &Path, m: &Manifest, exe: &Path) -> Result<String> {
    let dir = std::fs::canonicalize(dir).map_err(|e| crate::io::IoError::io(dir, e))?;
    let q = |p: &Path| format!("'{}'", p.display().to_string().replace('\'', r"'\''"));
    let ids: Vec<&str> = m.tiles.iter().map(|t| t.id.as_str()).collect();
    let n = ids.len().max(1);
    Ok(format!(
        "#!/bin/bash\n\
         # Slurm job array written by `kizashi plan --slurm`: one task per tile.\n\
         # Submit: sbatch {plan}/run.sbatch ; then: kizashi merge {plan} -o OUT\n\
         #SBATCH --job-name=kizashi-tiles\n\
         #SBATCH --array=0-{last}\n\
         #SBATCH --cpus-per-task=2\n\
         #SBATCH --mem=4G\n\
         #SBATCH --output={raw}/logs/slurm-%a.log\n\
         set -euo pipefail\n\
         KIZASHI=\"${{KIZASHI:-{exe}}}\"\n\
         TILES=({ids})\n\
         ID=\"${{TILES[$SLURM_ARRAY_TASK_ID]}}\"\n\
         exec \"$KIZASHI\" run {plan}/tiles/\"$ID\".toml\n",
        plan = q(&dir),
        raw = dir.display(),
        last = n - 1,
        exe = exe.display(),
        ids = ids.join(" "),
    ))
}
