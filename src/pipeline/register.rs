//! Registration of epoch 2 onto epoch 1 (`kizashi register`): robust point-to-plane ICP on
//! stable ground (box, polygons, C2C after a first pass), the aligned epoch written with all
//! its attributes and its record beside it.

use super::change::load_pair;
use super::{Cancel, PipelineError, Progress, Result};
use crate::analysis::index::{morton_sorted, Index};
use crate::cloud::PointCloud;
use crate::io::las;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Instant;

/// Registration of epoch 2 onto epoch 1 (`kizashi register`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegisterJob {
    pub epoch1: PathBuf,
    pub epoch2: PathBuf,
    /// Only epoch-2 points inside this XY box (data CRS: xmin, ymin, xmax, ymax) are used.
    pub stable_box: Option<[f64; 4]>,
    /// Only epoch-2 points inside these polygons (any vector file GDAL reads; reprojected into
    /// the epochs' CRS when the file states another).
    pub stable_polygon: Option<PathBuf>,
    /// Two passes: after the first, only points whose C2C distance to epoch 1 is below this
    /// (m) are used (ground that moved more than this is left out).
    pub stable_c2c: Option<f64>,
    /// `plane_radius` None: derived from epoch 1's density (the one rule).
    pub plane_radius: Option<f64>,
    pub params: crate::analysis::icp::IcpParams,
    /// Epoch 2 with the transform applied, all its attributes kept.
    pub output: Option<PathBuf>,
    /// The epochs' height systems: epoch 2 is converted into epoch 1's before the fit, so the
    /// aligned copy is in epoch 1's system.
    #[serde(default, skip_serializing_if = "super::heights::Heights::is_default")]
    pub heights: super::heights::Heights,
    /// Fit on ground points (class 2) only, classified on the fly where an epoch has no
    /// ground class; every point of epoch 2 is still moved and written.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ground: bool,
}

impl super::Files for RegisterJob {
    fn inputs(&self) -> Vec<PathBuf> {
        let mut v = vec![self.epoch1.clone(), self.epoch2.clone()];
        v.extend(self.stable_polygon.clone());
        v
    }
    fn outputs(&self) -> Vec<PathBuf> {
        self.output
            .iter()
            .flat_map(|o| [o.clone(), super::sidecar_path(o)])
            .collect()
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RegisterSummary {
    pub epoch1: String,
    pub epoch2: String,
    /// Row-major 4x4 transform in data-CRS coordinates (epoch 2 -> epoch 1).
    pub matrix: [[f64; 4]; 4],
    pub rms: f64,
    pub pairs: usize,
    pub iterations: usize,
    pub registration_error: f64,
    pub rotation: crate::analysis::icp::Rotation,
    pub plane_radius: f64,
    /// How the stable area was chosen ("all", "box", "polygon FILE", "c2c < T"; joined by " + ").
    pub stable: String,
    /// Epoch-2 points in the stable area (the last pass's candidates).
    pub stable_points: usize,
    pub output: Option<String>,
    pub warnings: Vec<String>,
    pub seconds: f64,
}

pub fn run_register(
    job: &RegisterJob,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<RegisterSummary> {
    let t0 = Instant::now();
    super::refuse_overwriting_inputs(job)?;
    if let Some(r) = job.plane_radius.filter(|r| !(r.is_finite() && *r > 0.0)) {
        return Err(PipelineError::Invalid(format!(
            "plane radius must be positive, got {r}"
        )));
    }
    let mut warnings = super::same_epochs_warning(&job.epoch1, &job.epoch2);
    let fields1 = las::Fields::POSITIONS.with_classes(job.ground);
    let (e1, mut e2, _) = load_pair(
        [&job.epoch1, &job.epoch2],
        [fields1, las::Fields::ALL],
        None,
        &job.heights,
        &mut warnings,
        progress,
        cancel,
    )?;
    // With --ground: epoch 1's ground is the reference surface, epoch 2's ground the
    // candidates (the fit never pairs a roof or a tree with the terrain).
    let (g1, m2) = if job.ground {
        progress.update("ground", 0, 2);
        let g1 = super::classify::ground_only(&e1, "epoch 1", true, &mut warnings);
        let m2 = super::classify::ground_mask(&e2, "epoch 2", true, &mut warnings);
        progress.update("ground", 2, 2);
        if g1.is_empty() || !m2.contains(&true) {
            return Err(PipelineError::Invalid(
                "no ground points in one of the epochs (--ground)".into(),
            ));
        }
        (Some(g1), Some(m2))
    } else {
        (None, None)
    };
    let reference = g1.as_ref().unwrap_or(&e1);
    let mut params = job.params.clone();
    params.plane_radius = job
        .plane_radius
        .unwrap_or_else(|| super::params::derive_for(reference).plane_radius);
    let sorted = morton_sorted(&reference.positions);
    let index = Index::build(&sorted);
    let aligned = align(job, &e1, &index, &mut e2, m2.as_deref(), &params, cancel)?;
    let (r, m, stable, candidates) = (
        aligned.icp,
        aligned.matrix,
        aligned.stable,
        aligned.candidates,
    );
    if let Some(out) = &job.output {
        // The aligned file is still epoch 2's survey: it keeps its date.
        let date = las::read_header(&job.epoch2)
            .ok()
            .and_then(|h| h.creation_date);
        las::write(
            out,
            &e2,
            &las::WriteOptions {
                system_identifier: "Kizashi register".into(),
                date,
                ..Default::default()
            },
        )?;
    }
    let summary = RegisterSummary {
        epoch1: job.epoch1.display().to_string(),
        epoch2: job.epoch2.display().to_string(),
        matrix: m,
        rms: r.rms,
        pairs: r.pairs,
        iterations: r.iterations,
        registration_error: r.registration_error,
        rotation: params.rotation,
        plane_radius: params.plane_radius,
        stable: stable.join(" + "),
        stable_points: candidates,
        output: job.output.as_ref().map(|p| p.display().to_string()),
        warnings,
        seconds: t0.elapsed().as_secs_f64(),
    };
    // Beside the aligned epoch, as for change results: a report on a change computed from it
    // finds the registration there.
    if let Some(out) = &job.output {
        super::write_sidecar(out, &summary)?;
    }
    Ok(summary)
}

/// What aligning one epoch found.
pub(crate) struct Aligned {
    pub icp: crate::analysis::icp::IcpResult,
    /// Row-major 4x4 transform in data-CRS coordinates.
    pub matrix: [[f64; 4]; 4],
    pub stable: Vec<String>,
    pub candidates: usize,
}

/// Registers `e2` (already in `e1`'s frame) onto `e1` (indexed as `index`) on the stable
/// ground `job` declares (and among the points `only` marks, when given), and moves all of
/// `e2`'s points. The series registers every epoch with it.
pub(crate) fn align(
    job: &RegisterJob,
    e1: &PointCloud,
    index: &Index,
    e2: &mut PointCloud,
    only: Option<&[bool]>,
    params: &crate::analysis::icp::IcpParams,
    cancel: &Cancel,
) -> Result<Aligned> {
    let o = e1.origin;
    let mut stable = Vec::new();
    if let Some(b) = job.stable_box {
        if !(b[0] < b[2] && b[1] < b[3]) || b.iter().any(|v| !v.is_finite()) {
            return Err(PipelineError::Invalid(format!(
                "--stable-box {b:?}: needs xmin < xmax and ymin < ymax"
            )));
        }
        stable.push(format!("box {},{},{},{}", b[0], b[1], b[2], b[3]));
    }
    let polygons = match &job.stable_polygon {
        Some(path) => {
            stable.push(format!("polygon {}", path.display()));
            Some(crate::io::vector::read_polygons(path, e1.crs.as_ref())?)
        }
        None => None,
    };
    let keep = |p: [f64; 3]| {
        let (x, y) = (p[0] + o[0], p[1] + o[1]);
        job.stable_box
            .is_none_or(|b| x >= b[0] && x <= b[2] && y >= b[1] && y <= b[3])
            && polygons
                .as_ref()
                .is_none_or(|f| crate::io::vector::inside_polygons(f, [x, y]))
    };
    if only.is_some() {
        stable.push("ground".into());
    }
    let mut candidates: Vec<[f32; 3]> = e2
        .positions
        .iter()
        .enumerate()
        .filter(|&(i, p)| only.is_none_or(|m| m[i]) && keep(p.map(f64::from)))
        .map(|(_, p)| *p)
        .collect();
    if candidates.is_empty() {
        return Err(PipelineError::Invalid(format!(
            "no point of epoch 2 lies in the stable area ({})",
            stable.join(" + ")
        )));
    }
    if let Some(t) = job.stable_c2c.filter(|t| !(*t > 0.0 && t.is_finite())) {
        return Err(PipelineError::Invalid(format!(
            "--stable-c2c {t}: must be a positive distance"
        )));
    }
    let mut r = crate::analysis::icp::register(index, &candidates, params)?;
    if let Some(t) = job.stable_c2c {
        stable.push(format!("c2c < {t}"));
        if cancel.is_cancelled() {
            return Err(PipelineError::Cancelled);
        }
        // Second pass from scratch on the points that the first pass found on stable ground.
        let t2 = (t * t) as f32;
        candidates = candidates
            .into_par_iter()
            .filter(|p| {
                index
                    .nearest(&r.apply(p.map(f64::from)).map(|v| v as f32))
                    .is_some_and(|(d2, _)| d2 < t2)
            })
            .collect();
        if candidates.len() < 100 {
            return Err(PipelineError::Invalid(format!(
                "only {} points of epoch 2 are within {t} m of epoch 1 after a first registration: raise --stable-c2c",
                candidates.len()
            )));
        }
        r = crate::analysis::icp::register(index, &candidates, params)?;
    }
    if stable.is_empty() {
        stable.push("all".into());
    }
    for p in &mut e2.positions {
        let q = r.apply(p.map(f64::from));
        *p = q.map(|v| v as f32);
    }
    // Local -> data CRS: x' = R (x - o) + t + o.
    let mut m = r.matrix;
    for row in 0..3 {
        let ro: f64 = (0..3).map(|c| r.matrix[row][c] * o[c]).sum();
        m[row][3] = r.matrix[row][3] + o[row] - ro;
    }
    Ok(Aligned {
        icp: r,
        matrix: m,
        stable,
        candidates: candidates.len(),
    })
}

/// Registration of epochs already in memory (the viewer's): returns the ICP result (in
/// epoch 1's local frame) and a positions-only copy of epoch 2 moved onto epoch 1, in epoch 1's
/// frame, ready for `run_change_loaded`.
pub fn register_loaded(
    e1: &PointCloud,
    e2: &PointCloud,
    params: &crate::analysis::icp::IcpParams,
    cancel: &Cancel,
) -> Result<(crate::analysis::icp::IcpResult, PointCloud)> {
    let mut moved = PointCloud::with_origin(e2.origin);
    moved.positions = e2.positions.clone();
    moved.crs = e2.crs.clone();
    super::change::check_pair(e1, &mut moved, &mut Vec::new())?;
    let sorted = morton_sorted(&e1.positions);
    let index = Index::build(&sorted);
    if cancel.is_cancelled() {
        return Err(PipelineError::Cancelled);
    }
    let r = crate::analysis::icp::register(&index, &moved.positions, params)?;
    for p in &mut moved.positions {
        *p = r.apply(p.map(f64::from)).map(|v| v as f32);
    }
    Ok((r, moved))
}
