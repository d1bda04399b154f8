//! Formats only: LAS/LAZ/COPC point clouds, GeoTIFF rasters through GDAL, CRS through OSR.
//! Nothing here computes change; everything here refuses bad files with a message that names
//! the file and the problem.

pub mod crs;
pub mod dem;
pub mod extra_bytes;
pub mod geoid;
mod guard;
pub mod info;
pub mod las;
pub mod raster;
pub mod safe;
pub mod vector;

use std::path::{Path, PathBuf};

/// Every way reading or writing a survey file can fail. Each message names the file.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a LAS/LAZ file ({reason})")]
    NotLas { path: PathBuf, reason: String },
    /// The header (or a VLR) claims something the file cannot hold.
    #[error("{path}: corrupt header: {reason}")]
    CorruptHeader { path: PathBuf, reason: String },
    #[error("{path}: unsupported: {reason}")]
    Unsupported { path: PathBuf, reason: String },
    /// Point records could not be decoded (truncated file, bad LAZ stream, ...).
    #[error("{path}: cannot read points: {reason}")]
    Points { path: PathBuf, reason: String },
    #[error("{path}: cannot write: {reason}")]
    Write { path: PathBuf, reason: String },
    #[error("{path}: raster: {reason}")]
    Raster { path: PathBuf, reason: String },
    #[error("{path}: vector: {reason}")]
    Vector { path: PathBuf, reason: String },
    #[error("CRS: {0}")]
    Crs(String),
    /// A geoid model or grid that cannot give a height where one is needed.
    #[error("heights: {0}")]
    Heights(String),
    /// An output that would overwrite (or replace a folder holding) an input.
    #[error("{output}: is an input ({input}); choose another output")]
    OutputIsInput { output: PathBuf, input: PathBuf },
    #[error("cancelled")]
    Cancelled,
    #[error(
        "{path}: unknown file type (expected .las, .laz, .copc.laz, .tif, .tiff, GSI .xml or .zip)"
    )]
    UnknownType { path: PathBuf },
}

impl IoError {
    pub fn io(path: &Path, source: std::io::Error) -> IoError {
        IoError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

pub type Result<T> = std::result::Result<T, IoError>;

/// What kind of survey file a path holds, judged by its extension (then its magic bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    PointCloud,
    Raster,
}

pub fn file_kind(path: &Path) -> Result<FileKind> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("las") | Some("laz") => Ok(FileKind::PointCloud),
        Some("tif") | Some("tiff") | Some("vrt") | Some("img") | Some("asc") | Some("xml")
        | Some("zip") => Ok(FileKind::Raster),
        _ => {
            // Fall back on magic bytes, so a LAS file without extension still opens.
            let mut magic = [0u8; 4];
            let f = std::fs::File::open(path).map_err(|e| IoError::io(path, e))?;
            use std::io::Read;
            let n = f
                .take(4)
                .read(&mut magic)
                .map_err(|e| IoError::io(path, e))?;
            match &magic[..n] {
                b"LASF" => Ok(FileKind::PointCloud),
                b"II*\0" | b"MM\0*" | b"II+\0" | b"MM\0+" => Ok(FileKind::Raster),
                _ => Err(IoError::UnknownType {
                    path: path.to_path_buf(),
                }),
            }
        }
    }
}
