//! `kizashi run SITE.toml` (a job file) and `kizashi demo` (the sample survey's).

use anyhow::Result;
use kizashi::pipeline::{self, site, tiling, Cancel};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The job file (TOML): epochs and steps; paths relative to it. Or a plan folder of
    /// `kizashi plan`: its unfinished tiles, --jobs at a time.
    file: PathBuf,
    /// With a plan folder: tile processes at a time.
    #[arg(long, short, default_value_t = 1)]
    jobs: usize,
    /// Say what would run and what is unchanged, and stop.
    #[arg(long)]
    dry_run: bool,
    /// Rerun every step, changed or not.
    #[arg(long)]
    force: bool,
    /// Print the run's summary as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(a: Args) -> Result<i32> {
    if a.file.join(tiling::MANIFEST).is_file() {
        return run_plan(a);
    }
    let plan = site::plan(&a.file)?;
    let cancel = super::cancel_on_ctrl_c();
    let bars = super::Bars::new(a.json);
    let outcome = site::run(&plan, a.force, a.dry_run, &bars, &cancel);
    drop(bars);
    let s = outcome?;
    if a.json {
        return super::print_json(&s).map(|_| 0);
    }
    for st in &s.steps {
        println!(
            "{:8} {:10} {:>7.2} s  {}",
            st.step,
            st.status,
            st.seconds,
            st.outputs.join(", ")
        );
    }
    println!(
        "{} steps in {:.2} s; outputs in {}",
        s.steps.len(),
        s.seconds,
        s.output
    );
    Ok(0)
}

/// The plan's unfinished tiles; exit 1 when any failed (they are named). With --dry-run,
/// where every tile stands.
fn run_plan(a: Args) -> Result<i32> {
    if a.dry_run {
        let m = tiling::read_manifest(&a.file)?;
        let states: Vec<(String, tiling::TileState)> = m
            .tiles
            .iter()
            .map(|t| (t.id.clone(), tiling::tile_state(&a.file, t)))
            .collect();
        if a.json {
            return super::print_json(&states).map(|_| 0);
        }
        for (id, s) in &states {
            match s {
                tiling::TileState::Done => println!("{id:8} done"),
                tiling::TileState::Missing => println!("{id:8} would run"),
                tiling::TileState::Failed(e) => println!("{id:8} would run (failed: {e})"),
            }
        }
        return Ok(0);
    }
    let cancel = super::cancel_on_ctrl_c();
    let bars = super::Bars::new(a.json);
    let s = tiling::run_plan(
        &tiling::RunPlanJob {
            plan: a.file.clone(),
            jobs: a.jobs,
            force: a.force,
            exe: std::env::current_exe()?,
        },
        &bars,
        &cancel,
    );
    drop(bars);
    let s = s?;
    if a.json {
        super::print_json(&s)?;
    } else {
        println!(
            "{} tiles ran, {} already done, {} failed in {:.2} s",
            s.ran.len(),
            s.skipped.len(),
            s.failed.len(),
            s.seconds
        );
        for (id, e) in &s.failed {
            eprintln!(
                "tile {id} failed: {e} (log: {}/logs/{id}.log)",
                a.file.display()
            );
        }
    }
    Ok(if s.failed.is_empty() { 0 } else { 1 })
}

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Where the sample survey lives (generated there when missing).
    #[arg(long, default_value = "sample_data")]
    sample_dir: PathBuf,
    /// Where the job writes its outputs.
    #[arg(long, short, default_value = "out/demo")]
    out: PathBuf,
    /// Only (re)generate the sample survey, then stop.
    #[arg(long)]
    generate: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

pub fn demo(a: DemoArgs) -> Result<i32> {
    if a.generate {
        for f in kizashi::demo::generate(&a.sample_dir)? {
            println!("wrote {}", f.display());
        }
        return Ok(0);
    }
    let bars = super::Bars::new(a.json);
    let summary = pipeline::run_demo(&a.sample_dir, &a.out, false, &bars, &Cancel::default())?;
    drop(bars);
    if a.json {
        return super::print_json(&summary).map(|_| 0);
    }
    for e in &summary.epochs {
        let b = e.bounds;
        let epsg = e
            .crs_epsg
            .map(|c| c.to_string())
            .unwrap_or_else(|| "?".into());
        println!(
            "epoch {}: {} points, EPSG:{epsg}, {:.2} {:.2} {:.2} .. {:.2} {:.2} {:.2}",
            e.path, e.point_count, b.min[0], b.min[1], b.min[2], b.max[0], b.max[1], b.max[2]
        );
    }
    let c = &summary.change;
    println!(
        "M3C2: {} core points, {} significant ({:.1} %), distance {:.3} .. {:.3} m",
        c.core_points,
        c.significant,
        100.0 * c.significant as f64 / c.core_points.max(1) as f64,
        c.distance_min.unwrap_or(f64::NAN),
        c.distance_max.unwrap_or(f64::NAN)
    );
    println!(
        "wrote {}/m3c2.laz, {}/m3c2.csv and {}/summary.json",
        summary.out_dir, summary.out_dir, summary.out_dir
    );
    Ok(0)
}
