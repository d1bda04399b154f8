//! `kizashi` command line. Every subcommand can print a JSON summary (`--json`); errors are one
//! line on stderr and exit code 1.

use anyhow::Result;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use kizashi::io::info;
use kizashi::pipeline::{self, Cancel, Progress};
use std::path::PathBuf;
use std::sync::Mutex;

#[derive(Parser)]
#[command(name = "kizashi", version, about = "Kizashi (兆し): survey point clouds, change detection between epochs, 3D viewer and exports")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Describe LAS/LAZ/COPC point clouds and GeoTIFF rasters without loading every point.
    Info {
        /// Files to describe.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print a JSON array with one object per file.
        #[arg(long)]
        json: bool,
        /// Decode every point (streamed, bounded memory) and report the points' own bounds.
        #[arg(long)]
        full: bool,
    },
    /// Run the main job on the bundled sample survey (generated deterministically if missing).
    Demo {
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
    },
}

/// Progress on stderr with indicatif, one bar per step.
struct Bars {
    bar: Mutex<Option<(String, ProgressBar)>>,
    hidden: bool,
}

impl Progress for Bars {
    fn update(&self, step: &str, done: u64, total: u64) {
        if self.hidden {
            return;
        }
        let Ok(mut slot) = self.bar.lock() else { return };
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

fn run() -> Result<i32> {
    let cli = Cli::parse();
    match cli.command {
        None => {
            eprintln!("kizashi: the 3D viewer is not part of this build yet; try `kizashi demo` or `kizashi --help`");
            Ok(2)
        }
        Some(Command::Info { files, json, full }) => {
            let infos: Vec<info::FileInfo> = files.iter().map(|p| info::inspect_with(p, full)).collect();
            if json {
                println!("{}", serde_json::to_string(&infos)?);
            } else {
                for i in &infos {
                    print!("{}", info::describe(i));
                }
            }
            for i in infos.iter().filter(|i| !i.ok) {
                if json {
                    eprintln!("kizashi: {}", i.error.as_deref().unwrap_or("failed"));
                }
            }
            Ok(if infos.iter().all(|i| i.ok) { 0 } else { 1 })
        }
        Some(Command::Demo { sample_dir, out, generate, json }) => {
            if generate {
                let files = kizashi::demo::generate(&sample_dir)?;
                for f in files {
                    println!("wrote {}", f.display());
                }
                return Ok(0);
            }
            let bars = Bars { bar: Mutex::new(None), hidden: json };
            let summary = pipeline::run_demo(&sample_dir, &out, false, &bars, &Cancel::default())?;
            drop(bars);
            if json {
                println!("{}", serde_json::to_string(&summary)?);
            } else {
                for e in &summary.epochs {
                    let b = e.bounds;
                    println!(
                        "epoch {}: {} points, EPSG:{}, {:.2} {:.2} {:.2} .. {:.2} {:.2} {:.2}",
                        e.path,
                        e.point_count,
                        e.crs_epsg.map(|c| c.to_string()).unwrap_or_else(|| "?".into()),
                        b.min[0],
                        b.min[1],
                        b.min[2],
                        b.max[0],
                        b.max[1],
                        b.max[2]
                    );
                }
                println!("summary written to {}/summary.json", summary.out_dir);
            }
            Ok(0)
        }
    }
}

fn main() {
    match run() {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            // One line: the chain of causes joined, never a backtrace.
            let msg = e.chain().map(|c| c.to_string()).collect::<Vec<_>>().join(": ");
            eprintln!("kizashi: {msg}");
            std::process::exit(1);
        }
    }
}
