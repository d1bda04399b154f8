//! The command line: one file per subcommand, each turning its arguments into a pipeline job
//! (`TryFrom`), calling the pipeline once and printing the summary. `run` only dispatches.

mod change;
mod classify;
mod dod;
mod export;
mod info;
mod objects;
mod plan;
mod register;
mod report;
mod run;
mod series;
mod view;

use anyhow::Result;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use kizashi::pipeline::{Cancel, Progress};
use std::sync::Mutex;

#[derive(Parser)]
#[command(
    name = "kizashi",
    version,
    about = "Kizashi (兆し): survey point clouds, change detection between epochs, 3D viewer and exports"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Open the 3D viewer (also what `kizashi` with no subcommand does).
    View(view::Args),
    /// Describe LAS/LAZ/COPC point clouds and GeoTIFF rasters without loading every point.
    Info(info::Args),
    /// Change detection between two epochs: M3C2 (with level of detection) or C2C.
    Change(change::Args),
    /// Monitoring series of N dated epochs: displacement per epoch against a reference,
    /// velocity, acceleration, onset of movement and motion class per core point, change
    /// objects in time.
    Series(series::Args),
    /// Register epoch 2 onto epoch 1 (robust point-to-plane ICP) and write it aligned.
    Register(register::Args),
    /// Ground classification of an unclassified cloud (SMRF): class 2 ground, 1 other, 7 low
    /// noise; optionally height above ground and vegetation classes.
    Classify(classify::Args),
    /// DTM GeoTIFF from the ground points (TIN, linear within each triangle).
    Dtm(classify::DtmArgs),
    /// DEM of difference: both epochs gridded, difference GeoTIFF with a level of detection per
    /// cell, cut and fill volumes.
    Dod(dod::Args),
    /// Change objects from an M3C2 result of `kizashi change`: connected significant change,
    /// as GeoJSON polygons with area, volume and displacement.
    Objects(objects::Args),
    /// Deformation report (PDF or HTML, A4) of a `kizashi change` result: epochs, registration,
    /// parameters, map over the orthophoto or a hillshade, 3D view, histogram, areas and
    /// volumes, change objects, input hashes.
    Report(report::Args),
    /// Export for GIS and open-data portals.
    #[command(subcommand)]
    Export(export::Command),
    /// Run a job file (SITE.toml): a site's whole chain, each step skipped when its inputs and
    /// parameters did not change. Given a plan folder, run its unfinished tiles.
    Run(run::Args),
    /// Cut a job file into square tiles with halos: one job file per tile and a manifest,
    /// to run with `kizashi run PLAN/`, a Slurm array (--slurm) or Dask.
    Plan(plan::Args),
    /// Merge a plan's finished tiles into one result (LAZ, DoD mosaic, objects, 3D Tiles,
    /// report).
    Merge(plan::MergeArgs),
    /// Run the main job on the bundled sample survey (generated deterministically if missing).
    Demo(run::DemoArgs),
}

/// Parses the command line and runs it; the exit code.
pub fn run() -> Result<i32> {
    match Cli::parse().command {
        None => view::run(view::defaults()),
        Some(Command::View(a)) => view::run(a),
        Some(Command::Info(a)) => info::run(a),
        Some(Command::Change(a)) => change::run(a),
        Some(Command::Series(a)) => series::run(a),
        Some(Command::Register(a)) => register::run(a),
        Some(Command::Classify(a)) => classify::run(a),
        Some(Command::Dtm(a)) => classify::dtm(a),
        Some(Command::Dod(a)) => dod::run(a),
        Some(Command::Objects(a)) => objects::run(a),
        Some(Command::Report(a)) => report::run(a),
        Some(Command::Export(c)) => export::run(c),
        Some(Command::Run(a)) => run::run(a),
        Some(Command::Plan(a)) => plan::run(a),
        Some(Command::Merge(a)) => plan::merge(a),
        Some(Command::Demo(a)) => run::demo(a),
    }
}

/// Progress on stderr with indicatif, one bar per step.
pub struct Bars {
    bar: Mutex<Option<(String, ProgressBar)>>,
    hidden: bool,
}

impl Bars {
    /// Bars, or nothing when the output is JSON for another program.
    pub fn new(hidden: bool) -> Bars {
        Bars {
            bar: Mutex::new(None),
            hidden,
        }
    }
}

impl Progress for Bars {
    fn update(&self, step: &str, done: u64, total: u64) {
        if self.hidden {
            return;
        }
        let Ok(mut slot) = self.bar.lock() else {
            return;
        };
        let same = slot.as_ref().is_some_and(|(s, _)| s == step);
        if !same {
            if let Some((_, b)) = slot.take() {
                b.finish();
            }
            let b = ProgressBar::new(total.max(1));
            let style = ProgressStyle::with_template("{msg:30} [{bar:40}] {pos}/{len} ({per_sec})")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
            b.set_style(style);
            b.set_message(step.to_string());
            *slot = Some((step.to_string(), b));
        }
        if let Some((_, b)) = slot.as_ref() {
            b.set_length(total.max(1));
            b.set_position(done);
        }
    }
}

impl Drop for Bars {
    fn drop(&mut self) {
        if let Ok(mut slot) = self.bar.lock() {
            if let Some((_, b)) = slot.take() {
                b.finish();
            }
        }
    }
}

/// A cancel flag that Ctrl-C sets: long jobs stop between chunks and exit with a message,
/// leaving no partial output.
pub fn cancel_on_ctrl_c() -> Cancel {
    let cancel = Cancel::default();
    let c = cancel.clone();
    let _ = ctrlc::set_handler(move || c.cancel());
    cancel
}

/// Three numbers x,y,z from a comma-separated flag.
pub fn xyz(flag: &str, v: &[f64]) -> Result<[f64; 3]> {
    match v {
        [x, y, z] => Ok([*x, *y, *z]),
        _ => anyhow::bail!("{flag} needs three numbers x,y,z, got {}", v.len()),
    }
}

/// The epochs' height systems (change, dod, register).
#[derive(clap::Args)]
pub struct HeightOpts {
    /// Epoch 1's height system: gsigeo2011 (Japan before 2025-04-01), jpgeo2024 (Japan from
    /// 2025-04-01: JPGEO2024 + Hrefconv2024) or ellipsoidal [default: from its CRS].
    #[arg(long)]
    pub heights1: Option<kizashi::io::geoid::HeightSystem>,
    /// Epoch 2's height system; converted into epoch 1's when they differ.
    #[arg(long)]
    pub heights2: Option<kizashi::io::geoid::HeightSystem>,
    /// Epochs with no declared system take Japan's system on their survey date (the files'
    /// creation dates).
    #[arg(long)]
    pub heights_by_date: bool,
}

impl HeightOpts {
    pub fn job(&self) -> kizashi::pipeline::heights::Heights {
        kizashi::pipeline::heights::Heights {
            epoch1: self.heights1,
            epoch2: self.heights2,
            by_date: self.heights_by_date,
            ..Default::default()
        }
    }
}

/// How change objects are kept and written (dod --objects, objects).
#[derive(clap::Args)]
pub struct ObjectOpts {
    /// Smallest change object kept (m2).
    #[arg(long, default_value_t = 0.0)]
    pub min_area: f64,
    /// Write the objects in EPSG:4326 (longitude, latitude) instead of the data CRS.
    #[arg(long)]
    pub wgs84: bool,
}

/// The largest change objects, one line each.
pub fn print_objects(objects: &[kizashi::analysis::objects::ChangeObject], n: usize) {
    for o in objects.iter().take(n) {
        println!(
            "  #{} {} {:.1} m2, {:+.2} +- {:.2} m3, mean {:+.3} m, max {:+.3} m at ({:.2}, {:.2})",
            o.id,
            o.sign,
            o.area_m2,
            o.volume_m3,
            o.volume_sigma_m3,
            o.mean_m,
            o.max_m,
            o.centre[0],
            o.centre[1]
        );
    }
}

/// Prints a summary as one JSON line.
pub fn print_json<T: serde::Serialize>(v: &T) -> Result<()> {
    println!("{}", serde_json::to_string(v)?);
    Ok(())
}
