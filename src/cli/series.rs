//! `kizashi series`: a monitoring series of N dated epochs.

use anyhow::Result;
use kizashi::analysis::series::Levels;
use kizashi::pipeline::change::{Cores, M3c2Settings};
use kizashi::pipeline::series::{self, SeriesEpoch, SeriesJob, SeriesRegister};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The epochs, oldest first (LAS/LAZ/COPC), at least 3.
    #[arg(required = true, num_args = 3..)]
    epochs: Vec<PathBuf>,
    /// Survey dates, one YYYY-MM-DD per line in epoch order [default: each LAS header's
    /// creation date].
    #[arg(long)]
    dates: Option<PathBuf>,
    /// The reference epoch (core points, normals, displacement 0).
    #[arg(long, default_value_t = 0)]
    reference: usize,
    /// Register every epoch onto the reference first (robust point-to-plane ICP); its error
    /// goes into that epoch's LoD.
    #[arg(long)]
    register: bool,
    /// With --register: stable ground in this XY box (data CRS: xmin,ymin,xmax,ymax).
    #[arg(
        long,
        value_delimiter = ',',
        num_args = 1,
        allow_hyphen_values = true,
        requires = "register"
    )]
    stable_box: Option<Vec<f64>>,
    /// With --register: stable ground inside these polygons (any vector file GDAL reads).
    #[arg(long, requires = "register")]
    stable_polygon: Option<PathBuf>,
    /// With --register: a second pass on points within this C2C distance (m) of the reference.
    #[arg(long, requires = "register")]
    stable_c2c: Option<f64>,
    /// Every N-th reference point is a core point.
    #[arg(long, conflicts_with_all = ["core_spacing", "cores"])]
    core_step: Option<usize>,
    /// One core point per cube of this size (m) [default: derived from the density].
    #[arg(long, allow_negative_numbers = true, conflicts_with = "cores")]
    core_spacing: Option<f64>,
    /// Core points from a file (LAS/LAZ, or CSV/text with X,Y,Z columns).
    #[arg(long)]
    cores: Option<PathBuf>,
    /// M3C2 cylinder radius [default: from the reference's density].
    #[arg(long, allow_negative_numbers = true)]
    cyl_radius: Option<f64>,
    /// Normal radii, comma-separated [default: 1 and 2 cylinder radii].
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    normal_radii: Option<Vec<f64>>,
    /// Cylinder half-length (m) [default: 2 cylinder radii].
    #[arg(long, allow_negative_numbers = true)]
    max_distance: Option<f64>,
    /// Registration error in every epoch's LoD (m) [default: 0; with --register, each
    /// epoch's own].
    #[arg(long, allow_negative_numbers = true)]
    registration_error: Option<f64>,
    /// Medians and interquartile ranges instead of means and standard deviations.
    #[arg(long)]
    robust: bool,
    /// False-alarm probability per stable core point (onset, acceleration and velocity tests
    /// together).
    #[arg(long, default_value_t = 0.01)]
    alpha: f64,
    /// Epochs that must depart from the stable level for an onset (1: the latest survey alone
    /// may show one, at more false alarms).
    #[arg(long, default_value_t = 2)]
    persistence: usize,
    /// Output LAZ/LAS: core points with velocity, acceleration, onset, class and d_K/lod_K.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Output CSV, one row per core point.
    #[arg(long)]
    csv: Option<PathBuf>,
    /// Change objects in time (GeoJSON).
    #[arg(long)]
    objects: Option<PathBuf>,
    /// Objects smaller than this (m2) are left out [default: five grid cells].
    #[arg(long)]
    min_area: Option<f64>,
    /// Objects in WGS84 longitude/latitude.
    #[arg(long)]
    wgs84: bool,
    /// Print one JSON summary line.
    #[arg(long)]
    json: bool,
}

impl TryFrom<&Args> for SeriesJob {
    type Error = anyhow::Error;
    fn try_from(a: &Args) -> Result<SeriesJob> {
        let dates = match &a.dates {
            Some(f) => {
                let d = series::read_dates_file(f)?;
                if d.len() != a.epochs.len() {
                    anyhow::bail!(
                        "{}: {} dates for {} epochs",
                        f.display(),
                        d.len(),
                        a.epochs.len()
                    );
                }
                d.into_iter().map(Some).collect()
            }
            None => vec![None; a.epochs.len()],
        };
        let stable_box = match &a.stable_box {
            Some(v) => match v.as_slice() {
                [a, b, c, d] => Some([*a, *b, *c, *d]),
                _ => anyhow::bail!("--stable-box needs xmin,ymin,xmax,ymax"),
            },
            None => None,
        };
        let cores = Cores::declared(a.cores.clone(), false, a.core_step, a.core_spacing);
        Ok(SeriesJob {
            epochs: a
                .epochs
                .iter()
                .zip(dates)
                .map(|(p, date)| SeriesEpoch {
                    path: p.clone(),
                    date,
                })
                .collect(),
            reference: a.reference,
            register: a.register.then(|| SeriesRegister {
                stable_box,
                stable_polygon: a.stable_polygon.clone(),
                stable_c2c: a.stable_c2c,
                ..Default::default()
            }),
            cores,
            m3c2: M3c2Settings {
                cyl_radius: a.cyl_radius,
                normal_radii: a.normal_radii.clone(),
                max_distance: a.max_distance,
                registration_error: a.registration_error.unwrap_or(0.0),
                robust: a.robust,
                ..Default::default()
            },
            levels: Levels {
                alpha: a.alpha,
                persistence: a.persistence,
                ..Default::default()
            },
            output: a.output.clone(),
            csv: a.csv.clone(),
            objects: a.objects.clone(),
            min_area: a.min_area,
            wgs84: a.wgs84,
        })
    }
}

pub fn run(a: Args) -> Result<i32> {
    let job = SeriesJob::try_from(&a)?;
    let cancel = super::cancel_on_ctrl_c();
    let bars = super::Bars::new(a.json);
    let outcome = series::run_series(&job, &bars, &cancel);
    drop(bars);
    let s = outcome?.summary;
    if a.json {
        return super::print_json(&s).map(|_| 0);
    }
    print_summary(&s);
    Ok(0)
}

/// The human-readable lines of a series summary (also printed by `kizashi run`).
pub fn print_summary(s: &series::SeriesSummary) {
    if let Some(p) = &s.parameters.m3c2 {
        println!(
            "{} epochs, reference {}; {} core points; cylinder radius {}, normal radii {}, max distance {}",
            s.epochs.len(),
            s.reference,
            s.core_points,
            p.cyl_radius,
            p.normal_radii.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(","),
            p.max_distance
        );
    }
    for (k, e) in s.epochs.iter().enumerate() {
        let reg = e
            .rms
            .map(|r| {
                format!(
                    ", registered (rms {r:.4} m, error {:.4} m)",
                    e.registration_error
                )
            })
            .unwrap_or_default();
        println!(
            "  epoch {k} {}  {} points, {} significant{reg}",
            e.date, e.points, e.significant
        );
    }
    let classes: Vec<String> = s
        .classes
        .iter()
        .map(|(c, n)| format!("{} {n}", c.name(kizashi::lang::Lang::En)))
        .collect();
    println!(
        "classes: {} (variance factor {:.2})",
        classes.join(", "),
        s.variance_factor
    );
    for o in s.objects.iter().take(10) {
        println!(
            "  object {}: {} {:.0} m2, velocity {:.4} m/yr{}",
            o.id,
            o.class.name(kizashi::lang::Lang::En),
            o.area_m2,
            o.velocity,
            o.onset_date
                .map(|d| format!(", onset {d}"))
                .unwrap_or_default()
        );
    }
    let t = s.timings;
    println!(
        "time: read {:.2}s, reference {:.2}s, register {:.2}s, M3C2 {:.2}s, statistics {:.2}s, write {:.2}s, total {:.2}s",
        t.read_s, t.reference_s, t.register_s, t.m3c2_s, t.statistics_s, t.write_s, t.total_s
    );
    for f in [&s.output, &s.csv, &s.objects_file].into_iter().flatten() {
        println!("wrote {f}");
    }
    for w in &s.warnings {
        eprintln!("warning: {w}");
    }
}
