//! `kizashi` command line. Every subcommand can print a JSON summary (`--json`); errors are one
//! line on stderr and exit code 1.

use anyhow::Result;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use kizashi::io::info;
use kizashi::lang::Lang;
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
    /// Open the 3D viewer (also what `kizashi` with no subcommand does).
    View(ViewArgs),
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
    /// Change detection between two epochs: M3C2 (with level of detection) or C2C.
    Change(ChangeArgs),
    /// Register epoch 2 onto epoch 1 (robust point-to-plane ICP) and write it aligned.
    Register {
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
        /// Radius of the local planes of epoch 1 (m).
        #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
        plane_radius: f64,
        /// Aligned epoch 2 (LAS/LAZ, all attributes kept).
        #[arg(short, long)]
        output: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// DEM of difference: both epochs gridded, difference GeoTIFF with a level of detection per
    /// cell, cut and fill volumes.
    Dod {
        epoch1: PathBuf,
        epoch2: PathBuf,
        /// Cell size in CRS units (m).
        #[arg(long, allow_negative_numbers = true)]
        cell: f64,
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
        shape: ObjectOpts,
        #[arg(long)]
        json: bool,
    },
    /// Change objects from an M3C2 result of `kizashi change`: connected significant change,
    /// as GeoJSON polygons with area, volume and displacement.
    Objects {
        /// The LAZ/LAS that `kizashi change` wrote.
        result: PathBuf,
        /// GeoJSON output.
        #[arg(short, long)]
        output: PathBuf,
        /// Grid cell for connecting core points (m); default: their mean spacing.
        #[arg(long, allow_negative_numbers = true)]
        cell: Option<f64>,
        #[command(flatten)]
        shape: ObjectOpts,
        #[arg(long)]
        json: bool,
    },
    /// Deformation report (PDF or HTML, A4) of a `kizashi change` result: epochs, registration,
    /// parameters, map over the orthophoto or a hillshade, 3D view, histogram, areas and
    /// volumes, change objects, input hashes.
    Report {
        /// The LAZ/LAS that `kizashi change` wrote (its .json sidecar names inputs and parameters).
        result: PathBuf,
        /// Output: REPORT.pdf (printed by Chromium) or REPORT.html.
        #[arg(short, long)]
        output: PathBuf,
        /// DEM of difference from `kizashi dod`: its volumes and hillshade.
        #[arg(long)]
        dod: Option<PathBuf>,
        /// Change objects GeoJSON (default: computed from the result as `kizashi objects`).
        #[arg(long)]
        objects: Option<PathBuf>,
        /// Orthophoto under the map (default: a hillshade).
        #[arg(long)]
        ortho: Option<PathBuf>,
        /// ja or en (default: Japanese when the locale is ja, else English).
        #[arg(long)]
        lang: Option<String>,
        /// Site name on the title line (default: the result's file name).
        #[arg(long)]
        title: Option<String>,
        /// Smallest change object kept when they are computed from the result (m2; default:
        /// five cells of the core points' spacing).
        #[arg(long)]
        min_area: Option<f64>,
        #[arg(long)]
        json: bool,
    },
    /// Export for GIS and open-data portals.
    #[command(subcommand)]
    Export(ExportCommand),
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

#[derive(clap::Args)]
struct ChangeArgs {
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
    /// One core point per cube of this size (metres).
    #[arg(long, allow_negative_numbers = true)]
    core_spacing: Option<f64>,
    /// M3C2 cylinder radius [default: 1].
    #[arg(long, allow_negative_numbers = true)]
    cyl_radius: Option<f64>,
    /// Normal radii, comma-separated; the most planar wins [default: 0.5,1,2].
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    normal_radii: Option<Vec<f64>>,
    /// Cylinder half-length along the normal (M3C2) or cut-off distance (C2C) [default: 3].
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
    #[arg(long, value_delimiter = ',', num_args = 1, allow_hyphen_values = true, conflicts_with = "orientation")]
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
    /// Print one JSON summary line.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum ExportCommand {
    /// OGC 3D Tiles 1.1 (glb tiles, refine ADD) for CesiumJS and other 3D Tiles clients.
    Tiles {
        /// Point cloud (LAS/LAZ/COPC), e.g. a `kizashi change` result.
        input: PathBuf,
        /// Output directory (tileset.json and tiles/).
        #[arg(short, long)]
        output: PathBuf,
        /// Scalar field to carry as a property attribute (repeatable); the first one colours
        /// the points when the file has no RGB.
        #[arg(long)]
        attribute: Vec<String>,
        /// Orthometric -> ellipsoidal: metres to add to every height (the geoid undulation).
        #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
        geoid_offset: f64,
        /// Orthometric -> ellipsoidal with a geoid undulation grid (GeoTIFF of N in metres,
        /// e.g. GSIGEO2011 or EGM2008 converted by gdal_translate), bilinear under every point.
        #[arg(long, conflicts_with = "geoid_offset")]
        geoid: Option<PathBuf>,
        /// Most points in one tile.
        #[arg(long, default_value_t = 50_000)]
        max_points_per_tile: usize,
        /// Print the summary as one JSON line.
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Args)]
struct ViewArgs {
    /// Point clouds (LAS/LAZ/COPC) and rasters (GeoTIFF orthophoto or DEM) to open.
    files: Vec<PathBuf>,
    /// Run change detection between the first two point clouds once they are loaded.
    #[arg(long, value_enum)]
    change: Option<MethodArg>,
    /// Save the window (3D view and panels) to this PNG once everything is drawn, then exit.
    #[arg(long)]
    screenshot: Option<PathBuf>,
    /// Frames to render (and time) before the screenshot.
    #[arg(long, default_value_t = 5)]
    frames: u32,
    /// Write what was shown (layers, errors, result, points drawn, frame times) as JSON, then exit.
    #[arg(long)]
    stats: Option<PathBuf>,
    /// Interface language (default: Japanese when the locale is ja, else English).
    #[arg(long)]
    lang: Option<String>,
    /// Points drawn per frame over all layers.
    #[arg(long)]
    budget: Option<usize>,
    /// Window size, WIDTHxHEIGHT.
    #[arg(long, default_value = "1280x800")]
    size: String,
    /// Initial colour of point clouds: rgb, elevation, intensity, classification.
    #[arg(long)]
    colour: Option<String>,
    /// Open a cross-section between two points (data CRS): x1,y1,x2,y2.
    #[arg(long, value_delimiter = ',', num_args = 1, allow_hyphen_values = true)]
    profile: Option<Vec<f64>>,
    /// After --change, export through the viewer's own export buttons: REPORT.pdf|.html, OBJECTS.geojson
    /// or DOD.tif (repeatable; for scripted runs and tests).
    #[arg(long)]
    export: Vec<PathBuf>,
    /// Scripted runs (--screenshot/--stats) fail after this many seconds.
    #[arg(long, default_value_t = 900.0)]
    timeout: f64,
}

/// How change objects are kept and written (dod --objects, objects).
#[derive(clap::Args)]
struct ObjectOpts {
    /// Smallest change object kept (m2).
    #[arg(long, default_value_t = 0.0)]
    min_area: f64,
    /// Write the objects in EPSG:4326 (longitude, latitude) instead of the data CRS.
    #[arg(long)]
    wgs84: bool,
}

/// The largest change objects, one line each.
fn print_objects(objects: &[kizashi::analysis::objects::ChangeObject], n: usize) {
    for o in objects.iter().take(n) {
        println!(
            "  #{} {} {:.1} m2, {:+.2} +- {:.2} m3, mean {:+.3} m, max {:+.3} m at ({:.2}, {:.2})",
            o.id, o.sign, o.area_m2, o.volume_m3, o.volume_sigma_m3, o.mean_m, o.max_m, o.centre[0], o.centre[1]
        );
    }
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum RotationArg {
    Full,
    Vertical,
    None,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum StatArg {
    Mean,
    Min,
    Max,
    Idw,
}

/// `kizashi` alone: the viewer with exactly `kizashi view`'s defaults (clap's, not a copy).
fn view_defaults() -> ViewArgs {
    Cli::parse_from(["kizashi", "view"]).command.and_then(|c| if let Command::View(a) = c { Some(a) } else { None }).unwrap_or_else(|| unreachable!("`view` parses"))
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum MethodArg {
    M3c2,
    C2c,
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

/// A cancel flag that Ctrl-C sets: long jobs stop between chunks and exit with a message,
/// leaving no partial output.
fn cancel_on_ctrl_c() -> Cancel {
    let cancel = Cancel::default();
    let c = cancel.clone();
    let _ = ctrlc::set_handler(move || c.cancel());
    cancel
}

fn run() -> Result<i32> {
    let cli = Cli::parse();
    match cli.command {
        None => view(view_defaults()),
        Some(Command::View(a)) => view(a),
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
        Some(Command::Change(a)) => {
            use kizashi::analysis::{m3c2, normals};
            use kizashi::pipeline::change::{ChangeJob, Cores, Method};
            if let Some(t) = a.threads {
                rayon::ThreadPoolBuilder::new().num_threads(t.max(1)).build_global()?;
            }
            let cancel = cancel_on_ctrl_c();
            // Defaults, then a CloudCompare parameter file, then the flags given here.
            let mut params = m3c2::Params::default();
            let mut file_cores = None;
            let mut file_warnings = Vec::new();
            if let Some(f) = &a.cc_params {
                let text = std::fs::read_to_string(f).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?;
                let cc = pipeline::ccparams::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?;
                params = cc.params;
                file_cores = cc.cores;
                file_warnings = cc.warnings;
            }
            let cores = match (a.cores, a.core_step, a.core_spacing, file_cores) {
                (Some(f), _, _, _) if a.core_normals => Cores::FileWithNormals(f),
                (Some(f), _, _, _) => Cores::File(f),
                (None, Some(n), _, _) => Cores::Step(n),
                (None, None, Some(s), _) => Cores::Spacing(s),
                (None, None, None, Some(c)) => c,
                (None, None, None, None) => Cores::Step(10),
            };
            let orientation = match (a.orientation, a.sensor) {
                (Some(v), _) if v.len() == 3 => normals::Orientation::Vector([v[0], v[1], v[2]]),
                (Some(v), _) => anyhow::bail!("--orientation needs three numbers x,y,z, got {}", v.len()),
                (None, Some(v)) if v.len() == 3 => normals::Orientation::Sensor([v[0], v[1], v[2]]),
                (None, Some(v)) => anyhow::bail!("--sensor needs three numbers x,y,z, got {}", v.len()),
                (None, None) => params.orientation,
            };
            let job = ChangeJob {
                epoch1: a.epoch1,
                epoch2: a.epoch2,
                method: match a.method {
                    MethodArg::M3c2 => Method::M3c2,
                    MethodArg::C2c => Method::C2c,
                },
                cores,
                m3c2: m3c2::Params {
                    cyl_radius: a.cyl_radius.unwrap_or(params.cyl_radius),
                    normal_radii: a.normal_radii.unwrap_or(params.normal_radii),
                    max_distance: a.max_distance.unwrap_or(params.max_distance),
                    registration_error: a.registration_error.unwrap_or(params.registration_error),
                    robust: a.robust || params.robust,
                    orientation,
                    neighbourhoods: if a.exact_normals { normals::Neighbourhoods::Exact } else { normals::Neighbourhoods::Py4dgeo },
                },
                c2c_max_distance: Some(a.max_distance.unwrap_or(params.max_distance)),
                output: a.output,
                csv: a.csv,
            };
            let bars = Bars { bar: Mutex::new(None), hidden: a.json };
            let outcome = pipeline::change::run_change(&job, &bars, &cancel);
            drop(bars);
            let mut s = outcome?.summary;
            s.warnings.extend(file_warnings);
            if a.json {
                println!("{}", serde_json::to_string(&s)?);
            } else {
                println!("{} core points, {} NaN, {} significant", s.core_points, s.nan, s.significant);
                if let (Some(lo), Some(hi), Some(m)) = (s.distance_min, s.distance_max, s.distance_mean) {
                    println!("distance: min {lo:.3}  max {hi:.3}  mean {m:.3}");
                }
                let t = s.timings;
                println!("time: read {:.2}s, index {:.2}s, normals {:.2}s, distances {:.2}s, write {:.2}s", t.read_s, t.index_s, t.normals_s, t.distances_s, t.write_s);
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
            Ok(0)
        }
        Some(Command::Register { epoch1, epoch2, stable_box, stable_polygon, stable_c2c, rotation, plane_radius, output, json }) => {
            use kizashi::analysis::icp::Rotation;
            use kizashi::pipeline::change::{run_register, RegisterJob};
            let cancel = cancel_on_ctrl_c();
            let job = RegisterJob {
                epoch1,
                epoch2,
                stable_box: match stable_box {
                    Some(b) if b.len() == 4 => Some([b[0], b[1], b[2], b[3]]),
                    Some(b) => anyhow::bail!("--stable-box needs four numbers xmin,ymin,xmax,ymax, got {}", b.len()),
                    None => None,
                },
                stable_polygon,
                stable_c2c,
                params: kizashi::analysis::icp::IcpParams {
                    plane_radius,
                    rotation: match rotation {
                        RotationArg::Full => Rotation::Full,
                        RotationArg::Vertical => Rotation::Vertical,
                        RotationArg::None => Rotation::None,
                    },
                    ..Default::default()
                },
                output,
            };
            let bars = Bars { bar: Mutex::new(None), hidden: json };
            let outcome = run_register(&job, &bars, &cancel);
            drop(bars);
            let s = outcome?;
            if json {
                println!("{}", serde_json::to_string(&s)?);
            } else {
                for row in &s.matrix {
                    println!("{:>14.9} {:>14.9} {:>14.9} {:>14.6}", row[0], row[1], row[2], row[3]);
                }
                println!("{} pairs, rms {:.4} m, registration error {:.4} m, {} iterations", s.pairs, s.rms, s.registration_error, s.iterations);
                println!("stable area: {} ({} points of epoch 2)", s.stable, s.stable_points);
                if let Some(o) = &s.output {
                    println!("wrote {o}");
                }
            }
            Ok(0)
        }
        Some(Command::Dod { epoch1, epoch2, cell, stat, ground, registration_error, output, objects, shape, json }) => {
            use kizashi::analysis::dod::Stat;
            let cancel = cancel_on_ctrl_c();
            let job = kizashi::pipeline::dod::DodJob {
                epoch1,
                epoch2,
                cell,
                stat: match stat {
                    StatArg::Mean => Stat::Mean,
                    StatArg::Min => Stat::Min,
                    StatArg::Max => Stat::Max,
                    StatArg::Idw => Stat::Idw,
                },
                ground,
                registration_error,
                output,
                objects,
                min_area: shape.min_area,
                wgs84: shape.wgs84,
            };
            let s = kizashi::pipeline::dod::run_dod(&job, &pipeline::Silent, &cancel)?;
            if json {
                println!("{}", serde_json::to_string(&s)?);
            } else {
                let v = &s.volumes;
                println!(
                    "wrote {} ({} x {} cells of {} m): {} cells with both epochs, {} significant ({:.1} m2); cut {:.2} +- {:.2} m3, fill {:.2} +- {:.2} m3",
                    s.output, s.grid.width, s.grid.height, s.grid.cell, v.cells_both, v.cells_significant, v.area_significant_m2, v.cut_m3, v.cut_sigma_m3, v.fill_m3, v.fill_sigma_m3
                );
                if let Some(f) = &s.objects_file {
                    println!("{} change objects -> {f}", s.objects.len());
                    print_objects(&s.objects, 5);
                }
            }
            Ok(0)
        }
        Some(Command::Report { result, output, dod, objects, ortho, lang, title, min_area, json }) => {
            let cancel = cancel_on_ctrl_c();
            let lang = match &lang {
                Some(l) => Lang::parse(l).ok_or_else(|| anyhow::anyhow!("unknown language {l:?}: use ja or en"))?,
                None => Lang::from_env(),
            };
            let job = kizashi::pipeline::report::ReportJob { result, dod, objects, ortho, lang, output, title, min_area, command: None };
            let bars = Bars { bar: Mutex::new(None), hidden: json };
            let outcome = kizashi::pipeline::report::run_report(&job, &bars, &cancel);
            drop(bars);
            let s = outcome?;
            if json {
                println!("{}", serde_json::to_string(&s)?);
            } else {
                println!("{} report ({} core points, {} significant, {} change objects) -> {}", s.method, s.core_points, s.significant, s.objects, s.output);
                for w in &s.warnings {
                    eprintln!("warning: {w}");
                }
            }
            Ok(0)
        }
        Some(Command::Objects { result, output, cell, shape, json }) => {
            let cancel = cancel_on_ctrl_c();
            let job = kizashi::pipeline::objects::ObjectsJob { result, cell, min_area: shape.min_area, output, wgs84: shape.wgs84 };
            let s = kizashi::pipeline::objects::run_objects(&job, &pipeline::Silent, &cancel)?;
            if json {
                println!("{}", serde_json::to_string(&s)?);
            } else {
                println!("{} change objects ({} m cells) -> {}", s.objects.len(), s.cell, s.output);
                print_objects(&s.objects, 10);
            }
            Ok(0)
        }
        Some(Command::Export(ExportCommand::Tiles { input, output, attribute, geoid_offset, geoid, max_points_per_tile, json })) => {
            let cancel = cancel_on_ctrl_c();
            let t0 = std::time::Instant::now();
            let cloud = kizashi::pipeline::load_epoch(&input, kizashi::io::las::Fields::ALL, &pipeline::Silent, &cancel)?.cloud;
            let read_s = t0.elapsed().as_secs_f64();
            let opts = kizashi::export::tiles3d::Options {
                attributes: attribute,
                geoid_offset,
                geoid_grid: geoid,
                max_points_per_tile,
                sources: vec![input.display().to_string()],
            };
            let summary = kizashi::export::tiles3d::write_tileset(&cloud, &output, &opts)?;
            if json {
                let mut v = serde_json::to_value(&summary)?;
                v["read_s"] = serde_json::json!(read_s);
                println!("{}", serde_json::to_string(&v)?);
            } else {
                println!(
                    "wrote {} ({} tiles, {} points, depth {}) in {:.2} s; centre lon {:.6} lat {:.6}, ECEF {:.3} {:.3} {:.3}",
                    kizashi::export::tiles3d::tileset_path(&output).display(),
                    summary.tiles,
                    summary.points,
                    summary.depth,
                    summary.seconds,
                    summary.lon_lat[0],
                    summary.lon_lat[1],
                    summary.root_ecef[0],
                    summary.root_ecef[1],
                    summary.root_ecef[2]
                );
            }
            Ok(0)
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
                let c = &summary.change;
                println!(
                    "M3C2: {} core points, {} significant ({:.1} %), distance {:.3} .. {:.3} m",
                    c.core_points,
                    c.significant,
                    100.0 * c.significant as f64 / c.core_points.max(1) as f64,
                    c.distance_min.unwrap_or(f64::NAN),
                    c.distance_max.unwrap_or(f64::NAN)
                );
                println!("wrote {}/m3c2.laz, {}/m3c2.csv and {}/summary.json", summary.out_dir, summary.out_dir, summary.out_dir);
            }
            Ok(0)
        }
    }
}

#[cfg(feature = "gui")]
fn view(a: ViewArgs) -> Result<i32> {
    use kizashi::app::ViewOptions;
    let lang = match &a.lang {
        Some(l) => Some(Lang::parse(l).ok_or_else(|| anyhow::anyhow!("unknown language {l:?}: use ja or en"))?),
        None => None,
    };
    let size = a
        .size
        .split_once(['x', 'X'])
        .and_then(|(w, h)| Some((w.trim().parse::<u32>().ok()?, h.trim().parse::<u32>().ok()?)))
        .filter(|&(w, h)| (320..=8192).contains(&w) && (240..=8192).contains(&h))
        .ok_or_else(|| anyhow::anyhow!("--size {:?}: expected WIDTHxHEIGHT, e.g. 1280x800", a.size))?;
    if let Some(c) = &a.colour {
        if !["rgb", "elevation", "intensity", "classification"].contains(&c.as_str()) {
            anyhow::bail!("--colour {c:?}: use rgb, elevation, intensity or classification");
        }
    }
    let profile = match &a.profile {
        Some(v) if v.len() == 4 && v.iter().all(|x| x.is_finite()) => Some([v[0], v[1], v[2], v[3]]),
        Some(v) => anyhow::bail!("--profile needs four numbers x1,y1,x2,y2, got {v:?}"),
        None => None,
    };
    let opts = ViewOptions {
        files: a.files,
        change: a.change.map(|m| match m {
            MethodArg::M3c2 => kizashi::pipeline::change::Method::M3c2,
            MethodArg::C2c => kizashi::pipeline::change::Method::C2c,
        }),
        screenshot: a.screenshot,
        frames: a.frames,
        stats: a.stats,
        lang,
        budget: a.budget,
        size,
        timeout_s: a.timeout,
        colour: a.colour,
        profile,
        export: a.export,
    };
    kizashi::app::run(opts)?;
    Ok(0)
}

#[cfg(not(feature = "gui"))]
fn view(_: ViewArgs) -> Result<i32> {
    eprintln!("kizashi: this build has no viewer (built without the `gui` feature); try `kizashi --help`");
    Ok(2)
}

fn main() {
    match run() {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            // One line: the chain of causes joined (skipping causes the message already quotes),
            // never a backtrace.
            let mut msg = String::new();
            for c in e.chain() {
                let part = c.to_string();
                if !msg.contains(&part) {
                    if !msg.is_empty() {
                        msg.push_str(": ");
                    }
                    msg.push_str(&part);
                }
            }
            eprintln!("kizashi: {msg}");
            std::process::exit(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `kizashi` alone opens the viewer with exactly the defaults of `kizashi view`.
    #[test]
    fn no_subcommand_means_view_with_its_defaults() {
        let Some(Command::View(parsed)) = Cli::parse_from(["kizashi", "view"]).command else { panic!("view") };
        let d = view_defaults();
        assert_eq!((parsed.frames, parsed.size.as_str(), parsed.timeout), (d.frames, d.size.as_str(), d.timeout));
        assert!(parsed.files.is_empty() && parsed.screenshot.is_none() && parsed.budget.is_none());
        assert!(Cli::parse_from(["kizashi"]).command.is_none());
    }
}
