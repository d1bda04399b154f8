//! `kizashi plan` (a job file cut into tiles) and `kizashi merge` (the tiles as one result);
//! `kizashi run PLAN/` runs the tiles (see `run.rs`).

use anyhow::Result;
use kizashi::pipeline::tiling;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The job file (TOML) to cut into tiles.
    site: PathBuf,
    /// Tile side in metres (rounded up to whole DoD cells).
    #[arg(long)]
    tile_size: f64,
    /// The plan folder: tiles/ID.toml per tile and manifest.json.
    #[arg(short, long)]
    output: PathBuf,
    /// Also write PLAN/run.sbatch, a Slurm job array with one task per tile.
    #[arg(long)]
    slurm: bool,
    /// Print the manifest as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(a: Args) -> Result<i32> {
    let exe = std::env::current_exe()?;
    let m = tiling::plan(&tiling::PlanJob {
        site: a.site,
        tile_size: a.tile_size,
        output: a.output.clone(),
        slurm: a.slurm.then_some(exe),
    })?;
    if a.json {
        return super::print_json(&m).map(|_| 0);
    }
    println!(
        "{} tiles of {:.1} m (halo {:.2} m) over {:.1} x {:.1} m; run: kizashi run {}{}",
        m.tiles.len(),
        m.tile_size,
        m.halo,
        m.extent[2] - m.extent[0],
        m.extent[3] - m.extent[1],
        a.output.display(),
        if a.slurm {
            format!(" (or sbatch {}/run.sbatch)", a.output.display())
        } else {
            String::new()
        }
    );
    Ok(0)
}

#[derive(clap::Args)]
pub struct MergeArgs {
    /// The plan folder, every tile finished.
    plan: PathBuf,
    /// Where the merged results go.
    #[arg(short, long)]
    output: PathBuf,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

pub fn merge(a: MergeArgs) -> Result<i32> {
    let cancel = super::cancel_on_ctrl_c();
    let bars = super::Bars::new(a.json);
    let s = tiling::merge(
        &tiling::MergeJob {
            plan: a.plan,
            output: a.output,
        },
        &bars,
        &cancel,
    );
    drop(bars);
    let s = s?;
    if a.json {
        return super::print_json(&s).map(|_| 0);
    }
    println!(
        "{} tiles merged: {} core points ({} significant) in {:.2} s",
        s.tiles, s.core_points, s.significant, s.seconds
    );
    for o in &s.outputs {
        println!("  {o}");
    }
    Ok(0)
}
