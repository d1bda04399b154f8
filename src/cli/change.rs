//! `kizashi change`: M3C2 or C2C between two epochs.

use anyhow::Result;
use kizashi::analysis::normals::{Neighbourhoods, Orientation};
use kizashi::pipeline::change::{self, ChangeJob, Cores, M3c2Settings, Method};
use std::path::PathBuf;

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum MethodArg {
    M3c2,
    C2c,
}

impl From<MethodArg> for Method {
    fn from(m: MethodArg) -> Method {
        match m {
            MethodArg::M3c2 => Method::M3c2,
            MethodArg::C2c => Method::C2c,
        }
    }
}

#[derive(clap::Args)]
pub struct Args {
    /// Epoch 1 (reference), LAS/LAZ/COPC.
    epoch1: PathBuf,
    /// Epoch 2 (compared), LAS/LAZ/COPC.
    epoch2: PathBuf,
    #[arg(long, value_enum, default_value = "m3c2")]
    method: MethodArg,
    /// Core points from a file (LAS/LAZ, or CSV/text with X,Y,Z columns).
    #[arg(long, conflicts_with_all = ["core_step", "core_spacing"])]
    cores: Option<PathBuf>,
    /// Take the M3C2 normals from the --cores file (CSV columns nx,ny,nz or NormalX..; LAS
    /// extra fields normal_x.. as `kizashi change` writes them, or NormalX..) instead of
    /// estimating them.
    #[arg(long, requires = "cores")]
    core_normals: bool,
    /// Every N-th epoch-1 point is a core point.
    #[arg(long, conflicts_with = "core_spacing")]
    core_step: Option<usize>,
    /// One core point per cube of this size (metres) [default: the cylinder radius derived
    /// from the density; C2C: every point].
    #[arg(long, allow_negative_numbers = true)]
    core_spacing: Option<f64>,
    /// M3C2 cylinder radius [default: from epoch 1's density, ~20 points per cylinder].
    #[arg(long, allow_negative_numbers = true)]
    cyl_radius: Option<f64>,
    /// Normal radii, comma-separated; the most planar wins [default: 1 and 2 cylinder radii].
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    normal_radii: Option<Vec<f64>>,
    /// Cylinder half-length along the normal (M3C2) [default: 2 cylinder radii] or cut-off
    /// distance (C2C) [default: none].
    #[arg(long, allow_negative_numbers = true)]
    max_distance: Option<f64>,
    /// Registration error added to the level of detection [default: 0].
    #[arg(long, allow_negative_numbers = true)]
    registration_error: Option<f64>,
    /// CloudCompare qM3C2 parameter file (scales there are diameters); flags given here win.
    #[arg(long)]
    cc_params: Option<PathBuf>,
    /// Medians and interquartile ranges instead of means and standard deviations.
    #[arg(long)]
    robust: bool,
    /// Normal orientation vector x,y,z (default up).
    #[arg(long, value_delimiter = ',', num_args = 1, allow_hyphen_values = true)]
    orientation: Option<Vec<f64>>,
    /// Orient normals towards this sensor position x,y,z (data CRS), e.g. a TLS station.
    #[arg(
        long,
        value_delimiter = ',',
        num_args = 1,
        allow_hyphen_values = true,
        conflicts_with = "orientation"
    )]
    sensor: Option<Vec<f64>>,
    /// Textbook normal neighbourhoods instead of py4dgeo 1.2's (see the docs).
    #[arg(long)]
    exact_normals: bool,
    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Output LAZ/LAS: core points with result fields (plus OUT.json with the job).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Output CSV, one row per core point.
    #[arg(long)]
    csv: Option<PathBuf>,
    /// Compare ground points (class 2) only; an epoch without a ground class is classified
    /// on the fly (SMRF, as `kizashi classify`).
    #[arg(long)]
    ground: bool,
    /// Print one JSON summary line.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    heights: super::HeightOpts,
}

/// The job these arguments declare, with the warnings of a CloudCompare parameter file.
/// Parameters given neither here nor in the file are left to the pipeline's density rule.
pub struct Declared(pub ChangeJob, pub Vec<String>);

impl TryFrom<&Args> for Declared {
    type Error = anyhow::Error;
    fn try_from(a: &Args) -> Result<Declared> {
        let mut m3c2 = M3c2Settings::default();
        let mut file_cores = None;
        let mut warnings = Vec::new();
        if let Some(f) = &a.cc_params {
            let text =
                std::fs::read_to_string(f).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?;
            let cc = kizashi::pipeline::ccparams::parse(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?;
            m3c2 = cc.params.into();
            file_cores = cc.cores;
            warnings = cc.warnings;
        }
        let cores = Cores::declared(a.cores.clone(), a.core_normals, a.core_step, a.core_spacing)
            .or(file_cores);
        m3c2.orientation = match (&a.orientation, &a.sensor) {
            (Some(v), _) => Orientation::Vector(super::xyz("--orientation", v)?),
            (None, Some(v)) => Orientation::Sensor(super::xyz("--sensor", v)?),
            (None, None) => m3c2.orientation,
        };
        m3c2.cyl_radius = a.cyl_radius.or(m3c2.cyl_radius);
        m3c2.normal_radii = a.normal_radii.clone().or(m3c2.normal_radii);
        m3c2.max_distance = a.max_distance.or(m3c2.max_distance);
        m3c2.registration_error = a.registration_error.unwrap_or(m3c2.registration_error);
        m3c2.robust |= a.robust;
        if a.exact_normals {
            m3c2.neighbourhoods = Neighbourhoods::Exact;
        }
        let job = ChangeJob {
            epoch1: a.epoch1.clone(),
            epoch2: a.epoch2.clone(),
            method: a.method.into(),
            cores,
            m3c2,
            output: a.output.clone(),
            csv: a.csv.clone(),
            area: None,
            heights: a.heights.job(),
            ground: a.ground,
        };
        Ok(Declared(job, warnings))
    }
}

pub fn run(a: Args) -> Result<i32> {
    if let Some(t) = a.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(t.max(1))
            .build_global()?;
    }
    let Declared(job, file_warnings) = Declared::try_from(&a)?;
    let cancel = super::cancel_on_ctrl_c();
    let bars = super::Bars::new(a.json);
    let outcome = change::run_change(&job, &bars, &cancel);
    drop(bars);
    let mut s = outcome?.summary;
    s.warnings.extend(file_warnings);
    if a.json {
        return super::print_json(&s).map(|_| 0);
    }
    print_summary(&s);
    Ok(0)
}

/// The human-readable lines of a change summary (also printed by `kizashi run`).
pub fn print_summary(s: &change::ChangeSummary) {
    if let (Some(d), Some(p)) = (&s.parameters.derived, &s.parameters.m3c2) {
        println!(
            "parameters from epoch 1's density (mean spacing {:.3} m): cylinder radius {}, normal radii {}, max distance {}, cores {}",
            d.spacing,
            p.cyl_radius,
            p.normal_radii.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(","),
            p.max_distance,
            serde_json::to_string(&s.cores).unwrap_or_default()
        );
    }
    println!(
        "{} core points, {} NaN, {} significant",
        s.core_points, s.nan, s.significant
    );
    if let (Some(lo), Some(hi), Some(m)) = (s.distance_min, s.distance_max, s.distance_mean) {
        println!("distance: min {lo:.3}  max {hi:.3}  mean {m:.3}");
    }
    let t = s.timings;
    println!(
        "time: read {:.2}s, index {:.2}s, normals {:.2}s, distances {:.2}s, write {:.2}s",
        t.read_s, t.index_s, t.normals_s, t.distances_s, t.write_s
    );
    if let Some(o) = &s.output {
        println!("wrote {o} (+ {o}.json)");
    }
    if let Some(c) = &s.csv {
        println!("wrote {c}");
    }
    for w in &s.warnings {
        eprintln!("warning: {w}");
    }
}
