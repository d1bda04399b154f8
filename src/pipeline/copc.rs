//! The COPC export job (`kizashi export copc`, the `[copc]` job step, the viewer's layer
//! button): a LAS/LAZ/COPC file rewritten as COPC with every attribute (`io::las::write_copc`).

use super::{Cancel, Files, PipelineError, Progress, Result};
use crate::io::las;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CopcJob {
    pub input: PathBuf,
    /// `*.copc.laz`.
    pub output: PathBuf,
    /// A node with at most this many points keeps them all [default: 100 000].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leaf_points: Option<usize>,
}

impl Files for CopcJob {
    fn inputs(&self) -> Vec<PathBuf> {
        vec![self.input.clone()]
    }
    fn outputs(&self) -> Vec<PathBuf> {
        vec![self.output.clone()]
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CopcSummary {
    pub input: String,
    pub output: String,
    /// Points, nodes, depth, root spacing, point format, bytes, warnings.
    #[serde(flatten)]
    pub written: las::CopcWritten,
    pub seconds: f64,
}

pub fn run_copc(job: &CopcJob, progress: &dyn Progress, cancel: &Cancel) -> Result<CopcSummary> {
    let t0 = Instant::now();
    super::refuse_overwriting_inputs(job)?;
    let name = job.output.to_string_lossy().to_lowercase();
    if !name.ends_with(".copc.laz") {
        return Err(PipelineError::Invalid(format!(
            "{}: a COPC file is named *.copc.laz (readers go by the name)",
            job.output.display()
        )));
    }
    let d = las::CopcOptions::default();
    let opts = las::CopcOptions {
        leaf_points: job.leaf_points.unwrap_or(d.leaf_points).max(1),
    };
    let w = las::write_copc(&job.input, &job.output, &opts, &mut |step, done, total| {
        progress.update(step, done, total);
        !cancel.is_cancelled()
    })?;
    Ok(CopcSummary {
        input: job.input.display().to_string(),
        output: job.output.display().to_string(),
        written: w,
        seconds: t0.elapsed().as_secs_f64(),
    })
}
