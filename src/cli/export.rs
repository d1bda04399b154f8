//! `kizashi export tiles`: OGC 3D Tiles 1.1.

use anyhow::Result;
use kizashi::io::geoid::GeoidSpec;
use kizashi::pipeline::tiles::{run_tiles, TilesJob};
use std::path::PathBuf;

#[derive(clap::Subcommand)]
pub enum Command {
    /// OGC 3D Tiles 1.1 (glb tiles, refine ADD) for CesiumJS and other 3D Tiles clients.
    Tiles(TilesArgs),
}

#[derive(clap::Args)]
pub struct TilesArgs {
    /// Point cloud (LAS/LAZ/COPC), e.g. a `kizashi change` result.
    input: PathBuf,
    /// Output folder (tileset.json and tiles/); must be new or empty unless --overwrite.
    #[arg(short, long)]
    output: PathBuf,
    /// Scalar field to carry as a property attribute (repeatable); the first one colours
    /// the points when the file has no RGB.
    #[arg(long)]
    attribute: Vec<String>,
    /// Orthometric -> ellipsoidal: metres to add to every height (the geoid undulation).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    geoid_offset: f64,
    /// Orthometric -> ellipsoidal: `jpgeo2024` (Japan from 2025-04-01: JPGEO2024 +
    /// Hrefconv2024), `gsigeo2011` (Japan before), a geoid undulation grid (GeoTIFF of N in
    /// metres, e.g. EGM2008), bilinear under every point, or `none`.
    #[arg(long, default_value = "none", conflicts_with = "geoid_offset")]
    geoid: GeoidSpec,
    /// Most points in one tile.
    #[arg(long, default_value_t = 50_000)]
    max_points_per_tile: usize,
    /// Replace a non-empty output folder whole (its old files are removed).
    #[arg(long)]
    overwrite: bool,
    /// Print the summary as one JSON line.
    #[arg(long)]
    json: bool,
}

impl From<&TilesArgs> for TilesJob {
    fn from(a: &TilesArgs) -> TilesJob {
        TilesJob {
            input: a.input.clone(),
            output: a.output.clone(),
            attributes: a.attribute.clone(),
            geoid_offset: a.geoid_offset,
            geoid: a.geoid.clone(),
            max_points_per_tile: a.max_points_per_tile,
            overwrite: a.overwrite,
            tile: false,
        }
    }
}

pub fn run(c: Command) -> Result<i32> {
    let Command::Tiles(a) = c;
    let cancel = super::cancel_on_ctrl_c();
    let s = run_tiles(&TilesJob::from(&a), &kizashi::pipeline::Silent, &cancel)?;
    if a.json {
        return super::print_json(&s).map(|_| 0);
    }
    print_summary(&s);
    Ok(0)
}

pub fn print_summary(s: &kizashi::pipeline::tiles::TilesSummary) {
    let t = &s.tileset;
    println!(
        "wrote {} ({} tiles, {} points, depth {}) in {:.2} s; centre lon {:.6} lat {:.6}, ECEF {:.3} {:.3} {:.3}",
        kizashi::export::tiles3d::tileset_path(std::path::Path::new(&t.output)).display(),
        t.tiles,
        t.points,
        t.depth,
        t.seconds,
        t.lon_lat[0],
        t.lon_lat[1],
        t.root_ecef[0],
        t.root_ecef[1],
        t.root_ecef[2]
    );
}
