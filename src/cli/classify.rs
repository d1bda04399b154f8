//! `kizashi classify`: ground classification (SMRF) of an unclassified cloud.

use anyhow::Result;
use kizashi::analysis::ground::Params;
use kizashi::pipeline::classify::{run_classify, run_dtm, ClassifyJob, DtmJob};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// LAS/LAZ/COPC (a file, folder or glob).
    input: PathBuf,
    /// Output LAS/LAZ: class 2 ground, 1 unclassified, 7 low noise; every attribute kept.
    #[arg(short, long)]
    output: PathBuf,
    /// Minimum-surface cell (m).
    #[arg(long, default_value_t = Params::default().cell)]
    cell: f64,
    /// Terrain slope the openings allow (rise over run).
    #[arg(long, default_value_t = Params::default().slope)]
    slope: f64,
    /// Largest opening window (m): about the largest building's half width.
    #[arg(long, default_value_t = Params::default().window)]
    window: f64,
    /// Height above the ground surface still ground (m).
    #[arg(long, default_value_t = Params::default().threshold)]
    threshold: f64,
    /// Added to the threshold per unit of the surface's slope.
    #[arg(long, default_value_t = Params::default().scalar)]
    scalar: f64,
    /// Points further below the ground than this are low noise (m).
    #[arg(long, default_value_t = Params::default().low)]
    low: f64,
    /// Add the height above ground as the field `hag`.
    #[arg(long)]
    hag: bool,
    /// Non-ground points by height above ground: 3 (<= 0.5 m), 4 (<= 2 m), 5 (higher).
    #[arg(long)]
    vegetation: bool,
    #[arg(long)]
    json: bool,
}

pub fn run(a: Args) -> Result<i32> {
    for (name, v) in [
        ("cell", a.cell),
        ("window", a.window),
        ("threshold", a.threshold),
        ("low", a.low),
    ] {
        anyhow::ensure!(
            v.is_finite() && v > 0.0,
            "--{name} must be positive, got {v}"
        );
    }
    anyhow::ensure!(
        a.slope.is_finite() && a.slope > 0.0 && a.scalar.is_finite() && a.scalar >= 0.0,
        "--slope must be positive and --scalar >= 0"
    );
    let job = ClassifyJob {
        input: a.input.clone(),
        output: a.output.clone(),
        params: Params {
            cell: a.cell,
            slope: a.slope,
            window: a.window,
            threshold: a.threshold,
            scalar: a.scalar,
            low: a.low,
        },
        hag: a.hag,
        vegetation: a.vegetation,
    };
    let cancel = super::cancel_on_ctrl_c();
    let s = run_classify(&job, &kizashi::pipeline::Silent, &cancel)?;
    if a.json {
        return super::print_json(&s).map(|_| 0);
    }
    println!(
        "wrote {}: {} points, {} ground, {} low noise, {} other ({:.2} s classifying)",
        s.output, s.points, s.ground, s.low_noise, s.other, s.classify_s
    );
    Ok(0)
}

#[derive(clap::Args)]
pub struct DtmArgs {
    /// LAS/LAZ/COPC: its ground points (class 2), classified here when it has none.
    input: PathBuf,
    /// Cell size in CRS units.
    #[arg(long)]
    cell: f64,
    /// GeoTIFF of the TIN through the ground points at the cell centres (nodata -9999).
    #[arg(short, long)]
    output: PathBuf,
    #[arg(long)]
    json: bool,
}

pub fn dtm(a: DtmArgs) -> Result<i32> {
    let job = DtmJob {
        input: a.input,
        output: a.output,
        cell: a.cell,
    };
    let cancel = super::cancel_on_ctrl_c();
    let s = run_dtm(&job, &kizashi::pipeline::Silent, &cancel)?;
    if a.json {
        return super::print_json(&s).map(|_| 0);
    }
    println!(
        "wrote {} ({} x {} cells of {}): {} ground points, {} cells with a height",
        s.output, s.grid.width, s.grid.height, s.grid.cell, s.ground_points, s.cells
    );
    for w in &s.warnings {
        eprintln!("warning: {w}");
    }
    Ok(0)
}
