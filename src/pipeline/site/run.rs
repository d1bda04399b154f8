//! Running a planned job file: step keys (job + input contents), records beside the outputs,
//! make-like skipping.

use super::*;

/// What happened to one step.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StepOutcome {
    pub step: String,
    /// "ran", "skipped" (unchanged), "would run", "would skip" (dry run).
    pub status: String,
    pub key: Option<String>,
    pub outputs: Vec<String>,
    pub seconds: f64,
    pub summary: Option<serde_json::Value>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunSummary {
    pub file: String,
    pub output: String,
    pub steps: Vec<StepOutcome>,
    pub seconds: f64,
}

/// The record beside a step's outputs (`OUT/.kizashi/STEP.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StepRecord {
    pub step: String,
    pub key: String,
    pub job: StepJob,
    pub summary: serde_json::Value,
}

/// File hashes of one run: an input read by several steps (both epochs: change, DoD) is hashed
/// once; a step's outputs are dropped from it when the step runs.
type FileHashes = std::collections::HashMap<PathBuf, Option<String>>;

/// The step's key: its job and the content of every file it reads (in a tile, each file's
/// size and time: `quick`). A missing input is part of the key too (the step will then fail
/// and say so).
fn step_key(job: &StepJob, hashes: &mut FileHashes, quick: bool) -> Result<String> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(concat!("kizashi ", env!("CARGO_PKG_VERSION"), "\n").as_bytes());
    h.update(serde_json::to_vec(job).map_err(|e| PipelineError::Invalid(e.to_string()))?);
    for input in job.files().inputs() {
        let digest = hashes.entry(input.clone()).or_insert_with(|| match quick {
            true => std::fs::metadata(&input).ok().map(|m| {
                let t = m
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
                format!("size {} mtime {:?}", m.len(), t)
            }),
            false => crate::pipeline::sha256_file(&input).map(|(_, d)| d),
        });
        h.update(b"\n");
        h.update(input.to_string_lossy().as_bytes());
        h.update(digest.as_deref().unwrap_or("(missing)").as_bytes());
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

fn record_path(out: &Path, step: &str) -> PathBuf {
    out.join(".kizashi").join(format!("{step}.json"))
}

/// The record of a whole run (`OUT/.kizashi/done.json`): written last, after every step's
/// outputs and records, so a run killed anywhere leaves none; a failed run leaves
/// `failed.json` with its error instead. A planned run's tiles are judged by these.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DoneRecord {
    /// SHA-256 of the job file's text: a rewritten job file is not done.
    pub job_sha256: String,
    pub steps: Vec<String>,
    pub seconds: f64,
    /// The process's peak resident memory (MB) when it finished: a tile's memory, for sizing
    /// workers.
    pub peak_rss_mb: Option<f64>,
}

/// This process's peak resident set (getrusage; Linux reports kilobytes).
fn peak_rss_mb() -> Option<f64> {
    let mut u = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; RUSAGE_SELF is always valid.
    let r = unsafe { libc::getrusage(libc::RUSAGE_SELF, u.as_mut_ptr()) };
    // SAFETY: initialised by the successful call above (and zeroed before).
    (r == 0).then(|| unsafe { u.assume_init() }.ru_maxrss as f64 / 1024.0)
}

/// Where a run's completion record and failure record lie.
pub fn done_paths(out: &Path) -> (PathBuf, PathBuf) {
    let d = out.join(".kizashi");
    (d.join("done.json"), d.join("failed.json"))
}

/// SHA-256 of a job file's text.
pub fn job_sha256(file: &Path) -> Result<String> {
    crate::pipeline::sha256_file(file)
        .map(|(_, d)| d)
        .ok_or_else(|| PipelineError::Invalid(format!("{}: cannot read", file.display())))
}

/// Runs a planned job: each step in order, skipped when its key and outputs are unchanged.
/// Ends with the completion record (or the failure record).
pub fn run(
    plan: &Plan,
    force: bool,
    dry_run: bool,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<RunSummary> {
    if dry_run {
        return run_steps(plan, force, true, progress, cancel);
    }
    let (done, failed) = done_paths(&plan.output);
    let _ = std::fs::remove_file(&done);
    let _ = std::fs::remove_file(&failed);
    let sha = job_sha256(&plan.file)?;
    match run_steps(plan, force, false, progress, cancel) {
        Ok(s) => {
            let rec = DoneRecord {
                job_sha256: sha,
                steps: s.steps.iter().map(|o| o.step.clone()).collect(),
                seconds: s.seconds,
                peak_rss_mb: peak_rss_mb(),
            };
            crate::pipeline::write_json(&done, &rec)?;
            Ok(s)
        }
        Err(e) => {
            if plan.output.join(".kizashi").is_dir() {
                let _ = crate::pipeline::write_json(
                    &failed,
                    &serde_json::json!({ "job_sha256": sha, "error": e.to_string() }),
                );
            }
            Err(e)
        }
    }
}

fn run_steps(
    plan: &Plan,
    force: bool,
    dry_run: bool,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<RunSummary> {
    let t0 = Instant::now();
    // Every step refuses an output that is one of its inputs (a survey named like a step's
    // output, e.g. OUT/change.laz, is never overwritten).
    for s in &plan.steps {
        crate::pipeline::refuse_overwriting_inputs(s.files())?;
    }
    if !dry_run {
        std::fs::create_dir_all(plan.output.join(".kizashi"))
            .map_err(|e| IoError::io(&plan.output, e))?;
    }
    let mut outcomes = Vec::new();
    // Dry run: outputs of steps that would run (their readers would run too).
    let mut changing: Vec<PathBuf> = Vec::new();
    let mut hashes = FileHashes::new();
    for s in &plan.steps {
        if cancel.is_cancelled() {
            return Err(PipelineError::Cancelled);
        }
        let t = Instant::now();
        let name = s.name();
        let outputs = s.files().outputs();
        let key = step_key(s, &mut hashes, plan.tile)?;
        let rec_path = record_path(&plan.output, name);
        let recorded: Option<StepRecord> = std::fs::read_to_string(&rec_path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok());
        let upstream_changed = s.files().inputs().iter().any(|i| changing.contains(i));
        let unchanged = !force
            && !upstream_changed
            && recorded.as_ref().is_some_and(|r| r.key == key)
            && outputs.iter().all(|o| o.exists());
        let outs: Vec<String> = outputs.iter().map(|p| p.display().to_string()).collect();
        if unchanged {
            let status = if dry_run { "would skip" } else { "skipped" };
            outcomes.push(StepOutcome {
                step: name.into(),
                status: status.into(),
                key: Some(key),
                outputs: outs,
                seconds: t.elapsed().as_secs_f64(),
                summary: recorded.map(|r| r.summary),
            });
            continue;
        }
        if dry_run {
            changing.extend(outputs.iter().cloned());
            outcomes.push(StepOutcome {
                step: name.into(),
                status: "would run".into(),
                key: Some(key),
                outputs: outs,
                seconds: 0.0,
                summary: None,
            });
            continue;
        }
        // The old record goes first: a run killed inside the step reruns it next time.
        let _ = std::fs::remove_file(&rec_path);
        let summary = s
            .run(progress, cancel)
            .map_err(|e| PipelineError::Invalid(format!("step {name}: {e}")))?;
        // Its outputs are new: later steps that read them hash them afresh.
        for o in &outputs {
            hashes.remove(o);
        }
        let rec = StepRecord {
            step: name.into(),
            key: key.clone(),
            job: s.clone(),
            summary: summary.clone(),
        };
        crate::pipeline::write_json(&rec_path, &rec)?;
        outcomes.push(StepOutcome {
            step: name.into(),
            status: "ran".into(),
            key: Some(key),
            outputs: outs,
            seconds: t.elapsed().as_secs_f64(),
            summary: Some(summary),
        });
    }
    Ok(RunSummary {
        file: plan.file.display().to_string(),
        output: plan.output.display().to_string(),
        steps: outcomes,
        seconds: t0.elapsed().as_secs_f64(),
    })
}
