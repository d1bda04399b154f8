//! Kizashi (兆し): survey point clouds and rasters in, deformation between epochs out.
//!
//! Rooms: [`io`] reads and writes formats, `analysis` computes (no I/O), `app` is the viewer;
//! [`pipeline`] is the one entry point both the CLI and the GUI use for processing.

pub mod analysis;
#[cfg(feature = "gui")]
pub mod app;
pub mod cloud;
pub mod colourmap;
pub mod demo;
pub mod export;
pub mod fields;
pub mod io;
pub mod lang;
pub mod pipeline;

pub use cloud::{Bounds, Crs, PointCloud, ScalarField};
