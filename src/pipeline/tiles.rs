//! The 3D Tiles job (`kizashi export tiles`): read a point cloud, write an OGC 3D Tiles 1.1
//! tileset folder through `export::tiles3d` (into a temporary folder swapped in whole).

use super::{load_epoch, Cancel, Files, Progress, Result};
use crate::export::tiles3d;
use crate::io::geoid::GeoidSpec;
use crate::io::las;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TilesJob {
    pub input: PathBuf,
    /// The tileset folder (tileset.json and tiles/).
    pub output: PathBuf,
    /// Scalar fields carried as property attributes; the first colours points without RGB.
    pub attributes: Vec<String>,
    /// Orthometric -> ellipsoidal: metres added to every height (without `geoid`).
    pub geoid_offset: f64,
    /// Or a built-in model (`jpgeo2024`, `gsigeo2011`) or an undulation grid (GeoTIFF,
    /// metres), bilinear under every point.
    #[serde(default)]
    pub geoid: GeoidSpec,
    pub max_points_per_tile: usize,
    /// Replace a non-empty output folder whole.
    pub overwrite: bool,
    /// A tile of a plan: no point (an empty part of the area) gives an empty folder, which
    /// the merge leaves out, instead of an error.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tile: bool,
}

impl Files for TilesJob {
    fn inputs(&self) -> Vec<PathBuf> {
        let mut v = vec![self.input.clone()];
        v.extend(self.geoid.grid().map(PathBuf::from));
        v
    }
    fn outputs(&self) -> Vec<PathBuf> {
        vec![self.output.clone()]
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TilesSummary {
    #[serde(flatten)]
    pub tileset: tiles3d::Summary,
    pub read_s: f64,
}

pub fn run_tiles(job: &TilesJob, progress: &dyn Progress, cancel: &Cancel) -> Result<TilesSummary> {
    super::refuse_overwriting_inputs(job)?;
    let t0 = std::time::Instant::now();
    let cloud = load_epoch(&job.input, las::Fields::ALL, progress, cancel)?.cloud;
    let read_s = t0.elapsed().as_secs_f64();
    if cloud.is_empty() && job.tile {
        crate::io::safe::write_dir(&job.output, true, |_| Ok::<_, super::PipelineError>(()))?;
        return Ok(TilesSummary {
            tileset: tiles3d::Summary {
                output: job.output.display().to_string(),
                ..Default::default()
            },
            read_s,
        });
    }
    let opts = tiles3d::Options {
        attributes: job.attributes.clone(),
        geoid_offset: job.geoid_offset,
        geoid: job.geoid.clone(),
        max_points_per_tile: job.max_points_per_tile,
        sources: vec![job.input.display().to_string()],
        overwrite: job.overwrite,
    };
    progress.update("3D Tiles", 0, 1);
    let tileset = tiles3d::write_tileset(&cloud, &job.output, &opts)
        .map_err(|e| super::PipelineError::Invalid(e.to_string()))?;
    progress.update("3D Tiles", 1, 1);
    Ok(TilesSummary { tileset, read_s })
}
