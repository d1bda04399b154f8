//! The part of a tiled run one job computes: results only for its own area, points read from
//! that area grown by the halo (the farthest any result reaches).

use crate::io::las;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TileArea {
    /// `[xmin, ymin, xmax, ymax]`: the tile owns what lies in `[xmin, xmax) x [ymin, ymax)`,
    /// so a point on a shared edge belongs to exactly one tile.
    pub own: [f64; 4],
    /// Points are read this far around the own area (m).
    pub halo: f64,
    /// The DoD cells the tile writes, edges on the whole run's grid. The own area of a tile at
    /// the plan's edge reaches out by the halo (a core point's cube may start just outside the
    /// grid); the grid never does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grid: Option<[f64; 4]>,
    /// The whole run's local origins of epoch 1 and 2. f32 local coordinates round the same
    /// way only in the same frame, so with these a tile computes bit for bit what the whole
    /// run does; the plan gives them when that frame is precise over the whole area.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origins: Option<[[f64; 3]; 2]>,
}

impl TileArea {
    /// What the tile reads: its own area and the halo.
    pub fn read(&self) -> las::Area {
        let [a, b, c, d] = self.own;
        let h = self.halo;
        [a - h, b - h, c + h, d + h]
    }

    pub fn owns(&self, x: f64, y: f64) -> bool {
        x >= self.own[0] && x < self.own[2] && y >= self.own[1] && y < self.own[3]
    }
}

/// The files an epoch's reader opens: the path itself, or the survey files of a folder or glob
/// (only those meeting the area). The job runner hashes these; a name it cannot expand stays
/// as it is, and the step then fails saying why.
pub fn epoch_files(path: &Path, area: Option<&TileArea>) -> Vec<PathBuf> {
    // A folder of GSI DEM tiles: its XMLs and zips.
    if path.is_dir() && crate::io::dem::is_dem(path) {
        let mut v: Vec<PathBuf> = std::fs::read_dir(path)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| crate::io::dem::is_gsi(p) && p.is_file())
            .collect();
        v.sort();
        return v;
    }
    if area.is_none() && !las::is_many(path) {
        return vec![path.to_path_buf()];
    }
    match las::files_in(path, area.map(|a| a.read()).as_ref()) {
        Ok(v) if area.is_some() || !v.is_empty() => v.into_iter().map(|(f, _)| f).collect(),
        _ => vec![path.to_path_buf()],
    }
}

/// The `[tile]` table of a tile's job file, as `kizashi plan` writes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TileStep {
    /// The tile's name in the plan (e.g. `r0c1`: row 0 from the south, column 1 from the west).
    pub id: String,
    pub own: [f64; 4],
    pub halo: f64,
    pub grid: Option<[f64; 4]>,
    pub origins: Option<[[f64; 3]; 2]>,
}

impl TileStep {
    pub fn area(&self) -> TileArea {
        TileArea {
            own: self.own,
            halo: self.halo,
            grid: self.grid,
            origins: self.origins,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_edge_belongs_to_one_tile() {
        let a = TileArea {
            own: [0.0, 0.0, 10.0, 10.0],
            halo: 2.0,
            grid: None,
            origins: None,
        };
        let b = TileArea {
            own: [10.0, 0.0, 20.0, 10.0],
            ..a
        };
        assert!(!a.owns(10.0, 5.0) && b.owns(10.0, 5.0));
        assert!(a.owns(0.0, 0.0) && !a.owns(5.0, 10.0));
        assert_eq!(a.read(), [-2.0, -2.0, 12.0, 12.0]);
    }
}
