//! `kizashi dod`: DEM of difference with a level of detection per cell.

use anyhow::Result;
use kizashi::analysis::dod::Stat;
use kizashi::pipeline::dod::{run_dod, DodJob};
use std::path::PathBuf;

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum StatArg {
    Mean,
    Min,
    Max,
    Idw,
}

#[derive(clap::Args)]
pub struct Args {
    /// Epoch 1 (reference): LAS/LAZ/COPC (a file, folder or glob), or a DEM: GeoTIFF, GSI
    /// 基盤地図情報 FG-GML XML, a zip of them or a folder.
    epoch1: PathBuf,
    /// Epoch 2 (compared), the same kinds; a DEM in another CRS is reprojected.
    epoch2: PathBuf,
    /// Cell size in CRS units (m) [default: a DEM epoch 1's resolution, else derived from
    /// epoch 1's point density].
    #[arg(long, allow_negative_numbers = true)]
    cell: Option<f64>,
    /// Height of a cell from its points.
    #[arg(long, value_enum, default_value = "mean")]
    stat: StatArg,
    /// Only ground points (class 2).
    #[arg(long)]
    ground: bool,
    /// Registration error added to every cell's level of detection (m).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    registration_error: f64,
    /// GeoTIFF: band 1 difference, 2 LoD95, 3-4 the two surfaces; nodata -9999.
    #[arg(short, long)]
    output: PathBuf,
    /// Change objects (connected significant cells of one sign) as GeoJSON polygons.
    #[arg(long)]
    objects: Option<PathBuf>,
    #[command(flatten)]
    shape: super::ObjectOpts,
    #[command(flatten)]
    heights: super::HeightOpts,
    /// Nuth & Kääb (2011) co-registration of epoch 2 onto epoch 1 (horizontal and vertical
    /// shift on stable terrain) before differencing; its residual joins the LoD.
    #[arg(long)]
    coregister: bool,
    /// Stable terrain for --coregister: inside these polygons (GeoJSON, Shapefile, ...).
    #[arg(long, requires = "coregister")]
    stable_polygon: Option<PathBuf>,
    /// Stable terrain for --coregister: where the plain DoD is within +-T m.
    #[arg(long, requires = "coregister")]
    stable_dh: Option<f64>,
    #[arg(long)]
    json: bool,
}

impl From<&Args> for DodJob {
    fn from(a: &Args) -> DodJob {
        DodJob {
            epoch1: a.epoch1.clone(),
            epoch2: a.epoch2.clone(),
            cell: a.cell,
            stat: match a.stat {
                StatArg::Mean => Stat::Mean,
                StatArg::Min => Stat::Min,
                StatArg::Max => Stat::Max,
                StatArg::Idw => Stat::Idw,
            },
            ground: a.ground,
            registration_error: a.registration_error,
            output: a.output.clone(),
            objects: a.objects.clone(),
            min_area: a.shape.min_area,
            wgs84: a.shape.wgs84,
            area: None,
            heights: a.heights.job(),
            coregister: a.coregister.then(|| kizashi::pipeline::dod::Coregister {
                stable_polygon: a.stable_polygon.clone(),
                stable_dh: a.stable_dh,
            }),
        }
    }
}

pub fn run(a: Args) -> Result<i32> {
    let cancel = super::cancel_on_ctrl_c();
    let s = run_dod(&DodJob::from(&a), &kizashi::pipeline::Silent, &cancel)?;
    if a.json {
        return super::print_json(&s).map(|_| 0);
    }
    print_summary(&s);
    Ok(0)
}

pub fn print_summary(s: &kizashi::pipeline::dod::DodSummary) {
    let v = &s.volumes;
    println!(
        "wrote {} ({} x {} cells of {} m): {} cells with both epochs, {} significant ({:.1} m2); cut {:.2} +- {:.2} m3, fill {:.2} +- {:.2} m3",
        s.output, s.grid.width, s.grid.height, s.grid.cell, v.cells_both, v.cells_significant, v.area_significant_m2, v.cut_m3, v.cut_sigma_m3, v.fill_m3, v.fill_sigma_m3
    );
    if let Some(c) = &s.coregistration {
        println!(
            "co-registration (Nuth & Kääb, {} iterations, {} stable cells): epoch 2 shifted by \
             {:+.3} {:+.3} {:+.3} m; NMAD on stable ground {:.3} -> {:.3} m",
            c.iterations, c.cells, c.shift[0], c.shift[1], c.shift[2], c.nmad_before, c.nmad_after
        );
    }
    if let Some(f) = &s.objects_file {
        println!("{} change objects -> {f}", s.objects.len());
        super::print_objects(&s.objects, 5);
    }
    for w in &s.warnings {
        eprintln!("warning: {w}");
    }
}
