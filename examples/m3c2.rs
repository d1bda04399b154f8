//! M3C2 from Rust, through the same pipeline call as `kizashi change`:
//!
//!     cargo run --release --example m3c2 -- E1.laz E2.laz [OUT.laz]
//!
//! (without arguments: the bundled sample survey). Parameters not set here come from epoch 1's
//! point density, as on the command line.

use kizashi::pipeline::change::{run_change, ChangeJob, Method};
use kizashi::pipeline::{Cancel, Silent};
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let sample = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample_data");
    let (e1, e2) = match args.as_slice() {
        [a, b, ..] => (a.clone(), b.clone()),
        _ => (
            sample.join("epoch1_2025.laz"),
            sample.join("epoch2_2026.laz"),
        ),
    };
    let job = ChangeJob {
        epoch1: e1,
        epoch2: e2,
        method: Method::M3c2,
        cores: None,
        m3c2: Default::default(),
        output: args.get(2).cloned(),
        csv: None,
        area: None,
        heights: Default::default(),
        ground: false,
    };
    let outcome = run_change(&job, &Silent, &Cancel::default())?;
    let s = &outcome.summary;
    let p = s.parameters.m3c2.as_ref().ok_or("no M3C2 parameters")?;
    println!(
        "{} core points, {} significant; cylinder {} m, normals {:?} m; distance {:.3} .. {:.3} m",
        s.core_points,
        s.significant,
        p.cyl_radius,
        p.normal_radii,
        s.distance_min.unwrap_or(f64::NAN),
        s.distance_max.unwrap_or(f64::NAN)
    );
    Ok(())
}
