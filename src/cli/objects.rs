//! `kizashi objects`: change objects from an M3C2 result.

use anyhow::Result;
use kizashi::pipeline::objects::{run_objects, ObjectsJob};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The LAZ/LAS that `kizashi change` wrote.
    result: PathBuf,
    /// GeoJSON output.
    #[arg(short, long)]
    output: PathBuf,
    /// Grid cell for connecting core points (m); default: their mean spacing.
    #[arg(long, allow_negative_numbers = true)]
    cell: Option<f64>,
    #[command(flatten)]
    shape: super::ObjectOpts,
    #[arg(long)]
    json: bool,
}

impl From<&Args> for ObjectsJob {
    fn from(a: &Args) -> ObjectsJob {
        ObjectsJob {
            result: a.result.clone(),
            cell: a.cell,
            min_area: a.shape.min_area,
            output: a.output.clone(),
            wgs84: a.shape.wgs84,
        }
    }
}

pub fn run(a: Args) -> Result<i32> {
    let cancel = super::cancel_on_ctrl_c();
    let s = run_objects(&ObjectsJob::from(&a), &kizashi::pipeline::Silent, &cancel)?;
    if a.json {
        return super::print_json(&s).map(|_| 0);
    }
    print_summary(&s);
    Ok(0)
}

pub fn print_summary(s: &kizashi::pipeline::objects::ObjectsSummary) {
    println!(
        "{} change objects ({} m cells) -> {}",
        s.objects.len(),
        s.cell,
        s.output
    );
    super::print_objects(&s.objects, 10);
}
