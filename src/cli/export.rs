//! `kizashi export tiles`: OGC 3D Tiles 1.1; `kizashi export copc`: COPC.

use anyhow::Result;
use kizashi::io::geoid::GeoidSpec;
use kizashi::pipeline::tiles::{run_tiles, TilesJob};
use std::path::PathBuf;

#[derive(clap::Subcommand)]
pub enum Command {
    /// OGC 3D Tiles 1.1 (glb tiles, refine ADD) for CesiumJS and other 3D Tiles clients.
    Tiles(TilesArgs),
    /// COPC (cloud-optimized LAZ: an octree of LAZ chunks, for PDAL, QGIS, Potree and web
    /// viewers), every attribute kept.
    Copc(CopcArgs),
}

#[derive(clap::Args)]
pub struct CopcArgs {
    /// Point cloud (LAS/LAZ/COPC).
    input: PathBuf,
    /// Output `*.copc.laz`.
    #[arg(short, long)]
    output: PathBuf,
    /// A node with at most this many points keeps them all.
    #[arg(long, default_value_t = 100_000)]
    leaf_points: usize,
    /// Print the summary as one JSON line.
    #[arg(long)]
    json: bool,
}

fn run_copc(a: CopcArgs) -> Result<i32> {
    let job = kizashi::pipeline::copc::CopcJob {
        input: a.input,
        output: a.output,
        leaf_points: Some(a.leaf_points),
    };
    let cancel = super::cancel_on_ctrl_c();
    let s = kizashi::pipeline::copc::run_copc(&job, &kizashi::pipeline::Silent, &cancel)?;
    if a.json {
        return super::print_json(&s).map(|_| 0);
    }
    let w = &s.written;
    for x in &w.warnings {
        eprintln!("warning: {x}");
    }
    println!(
        "wrote {} ({} points, point format {}, {} nodes, depth {}, root spacing {:.3}) in {:.2} s",
        s.output, w.points, w.point_format, w.nodes, w.depth, w.spacing, s.seconds
    );
    Ok(0)
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
    let a = match c {
        Command::Tiles(a) => a,
        Command::Copc(a) => return run_copc(a),
    };
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
