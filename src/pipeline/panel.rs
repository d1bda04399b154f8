//! The viewer's change panel as a pipeline job, and the viewer's run (optionally ICP first) on
//! epochs it already holds. Here, not in `app/`: the viewer builds no job itself.

use super::change::{
    run_change_loaded, validate_declared, ChangeJob, ChangeOutcome, Cores, Method,
};
use super::register::register_loaded;
use super::{Cancel, Progress, Result};
use crate::analysis::m3c2;
use crate::cloud::PointCloud;
use std::path::PathBuf;

/// The viewer's change panel: explicit numbers (it starts from [`super::params::derive`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Panel {
    pub method: Method,
    pub cyl_radius: f64,
    pub normal_radii: Vec<f64>,
    pub max_distance: f64,
    pub registration_error: f64,
    pub robust: bool,
    pub core_spacing: f64,
}

impl Panel {
    /// The job the panel's button runs. C2C takes every point and no cut-off, as
    /// `kizashi change --method c2c` without flags.
    pub fn job(&self, epoch1: PathBuf, epoch2: PathBuf) -> ChangeJob {
        let m3c2 = m3c2::Params {
            cyl_radius: self.cyl_radius,
            normal_radii: self.normal_radii.clone(),
            max_distance: self.max_distance,
            registration_error: self.registration_error,
            robust: self.robust,
            ..Default::default()
        };
        let mut job = ChangeJob {
            epoch1,
            epoch2,
            method: self.method,
            cores: Some(Cores::Spacing(self.core_spacing)),
            m3c2: m3c2.into(),
            output: None,
            csv: None,
            area: None,
            heights: Default::default(),
            ground: false,
        };
        if self.method == Method::C2c {
            job.cores = Some(Cores::All);
            job.m3c2.max_distance = None;
        }
        job
    }
}

/// A job's declared parameters, checked (the viewer checks before starting a background job).
pub fn validate_job(job: &ChangeJob) -> Result<()> {
    validate_declared(job)
}

/// The viewer's run: optionally ICP of epoch 2 onto epoch 1 first (planes by the one rule, the
/// registration error raised to the ICP's estimate), then the change job on epochs in memory.
pub fn run_change_registered(
    job: &ChangeJob,
    e1: &PointCloud,
    e2: &PointCloud,
    register: Option<crate::analysis::icp::Rotation>,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<(ChangeOutcome, Option<crate::analysis::icp::IcpResult>)> {
    let Some(rotation) = register else {
        return Ok((run_change_loaded(job, e1, e2, progress, cancel)?, None));
    };
    let icp = crate::analysis::icp::IcpParams {
        plane_radius: super::params::derive_for(e1).plane_radius,
        rotation,
        ..Default::default()
    };
    let (r, moved) = register_loaded(e1, e2, &icp, cancel)?;
    let mut job = job.clone();
    job.m3c2.registration_error = job.m3c2.registration_error.max(r.registration_error);
    Ok((
        run_change_loaded(&job, e1, &moved, progress, cancel)?,
        Some(r),
    ))
}
