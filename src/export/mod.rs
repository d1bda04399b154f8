//! Outputs people hand on: OGC 3D Tiles 1.1 for CesiumJS portals and the deformation report
//! (the DoD GeoTIFF and GeoJSON objects are written through `io`).

pub mod report;
pub mod tiles3d;

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Io(#[from] crate::io::IoError),
    #[error("{0}")]
    Invalid(String),
    #[error("{path}: cannot write: {reason}")]
    Write { path: PathBuf, reason: String },
    #[error("cancelled")]
    Cancelled,
}

pub type Result<T> = std::result::Result<T, ExportError>;
