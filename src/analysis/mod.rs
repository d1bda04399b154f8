//! Pure computation on point clouds: no files, no UI. Everything here works on f32 local
//! coordinates that share one origin (see `cloud.rs`), accumulates in f64, and runs in
//! parallel with rayon.

pub mod c2c;
pub mod columns;
pub mod coreg;
pub mod dod;
pub mod ground;
pub mod icp;
pub mod index;
pub mod m3c2;
pub mod normals;
pub mod objects;
pub mod octree;
pub mod series;
pub mod tin;

/// Why an analysis could not run.
#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    #[error("{0} has no points")]
    EmptyEpoch(&'static str),
    #[error("the epochs do not overlap (epoch 1: {0}; epoch 2: {1})")]
    NoOverlap(String, String),
    #[error("cancelled")]
    Cancelled,
}

pub type Result<T> = std::result::Result<T, AnalysisError>;

pub(crate) fn check_positive(name: &str, v: f64) -> Result<()> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(AnalysisError::InvalidParameter(format!(
            "{name} must be a positive number, got {v}"
        )))
    }
}
