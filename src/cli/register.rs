//! `kizashi register`: robust point-to-plane ICP of epoch 2 onto epoch 1.

use anyhow::Result;
use kizashi::analysis::icp::{IcpParams, Rotation};
use kizashi::pipeline::change::{run_register, RegisterJob};
use std::path::PathBuf;

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum RotationArg {
    Full,
    Vertical,
    None,
}

#[derive(clap::Args)]
pub struct Args {
    epoch1: PathBuf,
    epoch2: PathBuf,
    /// Use only epoch-2 points in this stable XY box: xmin,ymin,xmax,ymax (data CRS).
    #[arg(long, value_delimiter = ',', num_args = 1, allow_hyphen_values = true)]
    stable_box: Option<Vec<f64>>,
    /// Use only epoch-2 points inside these polygons (GeoJSON, Shapefile, GeoPackage...;
    /// reprojected into the epochs' CRS when the file states another).
    #[arg(long)]
    stable_polygon: Option<PathBuf>,
    /// Two passes: the second uses only points whose C2C distance after the first is below
    /// this (m), leaving out ground that really moved.
    #[arg(long, allow_negative_numbers = true)]
    stable_c2c: Option<f64>,
    /// Rotations to estimate: vertical (heading only; surveys levelled by their IMU or
    /// inclinometer), full (3 axes; data not levelled), none (translation only).
    #[arg(long, value_enum, default_value = "vertical")]
    rotation: RotationArg,
    /// Radius of the local planes of epoch 1 (m) [default: from epoch 1's density, as the
    /// M3C2 cylinder radius, at least 0.5].
    #[arg(long, allow_negative_numbers = true)]
    plane_radius: Option<f64>,
    /// Fit on ground points (class 2) only, so that vegetation growth and new buildings do
    /// not pull the fit; an epoch without a ground class is classified on the fly.
    #[arg(long)]
    ground: bool,
    /// Aligned epoch 2 (LAS/LAZ, all attributes kept).
    #[arg(short, long)]
    output: Option<PathBuf>,
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    heights: super::HeightOpts,
}

impl TryFrom<&Args> for RegisterJob {
    type Error = anyhow::Error;
    fn try_from(a: &Args) -> Result<RegisterJob> {
        let stable_box = match &a.stable_box {
            Some(b) if b.len() == 4 => Some([b[0], b[1], b[2], b[3]]),
            Some(b) => anyhow::bail!(
                "--stable-box needs four numbers xmin,ymin,xmax,ymax, got {}",
                b.len()
            ),
            None => None,
        };
        let rotation = match a.rotation {
            RotationArg::Full => Rotation::Full,
            RotationArg::Vertical => Rotation::Vertical,
            RotationArg::None => Rotation::None,
        };
        Ok(RegisterJob {
            epoch1: a.epoch1.clone(),
            epoch2: a.epoch2.clone(),
            stable_box,
            stable_polygon: a.stable_polygon.clone(),
            stable_c2c: a.stable_c2c,
            plane_radius: a.plane_radius,
            params: IcpParams {
                rotation,
                ..Default::default()
            },
            output: a.output.clone(),
            heights: a.heights.job(),
            ground: a.ground,
        })
    }
}

pub fn run(a: Args) -> Result<i32> {
    let job = RegisterJob::try_from(&a)?;
    let cancel = super::cancel_on_ctrl_c();
    let bars = super::Bars::new(a.json);
    let outcome = run_register(&job, &bars, &cancel);
    drop(bars);
    let s = outcome?;
    if a.json {
        return super::print_json(&s).map(|_| 0);
    }
    for row in &s.matrix {
        println!(
            "{:>14.9} {:>14.9} {:>14.9} {:>14.6}",
            row[0], row[1], row[2], row[3]
        );
    }
    println!(
        "{} pairs, rms {:.4} m, registration error {:.4} m, {} iterations (planes of {} m)",
        s.pairs, s.rms, s.registration_error, s.iterations, s.plane_radius
    );
    println!(
        "stable area: {} ({} points of epoch 2)",
        s.stable, s.stable_points
    );
    if let Some(o) = &s.output {
        println!("wrote {o}");
    }
    for w in &s.warnings {
        eprintln!("warning: {w}");
    }
    Ok(0)
}
