//! `kizashi plan SITE.toml --tile-size S -o PLAN/`: the job file's area cut into square tiles,
//! one job file per tile (`PLAN/tiles/ID.toml`, an ordinary job file with a `[tile]` table)
//! and a manifest (`PLAN/manifest.json`).
//!
//! Everything the whole run would derive from the data (cylinder and normal radii, core
//! spacing, DoD cell) is derived here once, from the files' headers, by the same rule, and
//! written into every tile's job: a tile never derives from its own part. The halo is the
//! farthest any result reaches (M3C2: cylinder radius + half-length + largest normal radius,
//! plus one core cube; DoD: one cell); tile edges lie on the DoD grid's lines.

use super::TileStep;
use crate::analysis::dod::Grid;
use crate::cloud::{origin_for, Bounds};
use crate::io::{las, IoError};
use crate::pipeline::change::{ChangeJob, Cores, Method};
use crate::pipeline::dod::DodJob;
use crate::pipeline::site::{self, StepJob};
use crate::pipeline::{params, PipelineError, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
pub struct PlanJob {
    pub site: PathBuf,
    /// Tile side (m); rounded up to whole DoD cells.
    pub tile_size: f64,
    pub output: PathBuf,
    /// Also write `PLAN/run.sbatch` (a Slurm job array, one task per tile) running this
    /// executable.
    pub slurm: Option<PathBuf>,
}

/// One tile of the plan (paths relative to the plan folder).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PlannedTile {
    pub id: String,
    pub job: PathBuf,
    pub output: PathBuf,
    pub own: [f64; 4],
    pub grid: Option<[f64; 4]>,
    /// The input files the tile reads (those meeting its area and halo).
    pub inputs: Vec<PathBuf>,
    pub outputs: Vec<PathBuf>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub kizashi: String,
    /// The job file planned (absolute) and the SHA-256 of its text when planned.
    pub site: PathBuf,
    pub site_sha256: String,
    pub tile_size: f64,
    pub halo: f64,
    /// The area tiled: the DoD grid's extent, or the epochs' bounds.
    pub extent: [f64; 4],
    pub epochs: [PathBuf; 2],
    pub points: [u64; 2],
    /// The whole run's DoD grid (None without a DoD step).
    pub dod_grid: Option<Grid>,
    /// The change job of the whole run with every derived value resolved (None without one).
    pub change: Option<ChangeJob>,
    pub tiles: Vec<PlannedTile>,
}

pub const MANIFEST: &str = "manifest.json";

fn invalid(msg: impl std::fmt::Display) -> PipelineError {
    PipelineError::Invalid(msg.to_string())
}

/// An epoch's files with their header bounds (read once for the whole plan), the union of
/// those bounds and the total point count.
struct EpochFiles {
    files: Vec<(PathBuf, Bounds)>,
    bounds: Bounds,
    points: u64,
}

impl EpochFiles {
    fn read(path: &Path) -> Result<EpochFiles> {
        let mut e = EpochFiles {
            files: Vec::new(),
            bounds: Bounds::empty(),
            points: 0,
        };
        for (f, h) in las::files_in(path, None)? {
            e.bounds = e.bounds.union(&h.bounds);
            e.points += h.point_count;
            e.files.push((f, h.bounds));
        }
        Ok(e)
    }

    /// The files a tile reads: those meeting its area and halo (as its reader judges them).
    fn meeting(&self, area: &super::TileArea) -> Vec<PathBuf> {
        let a = area.read();
        self.files
            .iter()
            .filter(|(_, b)| las::meets(b, &a))
            .map(|(f, _)| f.clone())
            .collect()
    }
}

/// Plans the tiles and writes their job files, the manifest and (when asked) the Slurm array.
pub fn plan(job: &PlanJob) -> Result<Manifest> {
    if !(job.tile_size.is_finite() && job.tile_size > 0.0) {
        return Err(invalid(format!(
            "tile size must be positive, got {}",
            job.tile_size
        )));
    }
    let text = std::fs::read_to_string(&job.site).map_err(|e| IoError::io(&job.site, e))?;
    let sf = site::parse(&job.site, &text)?;
    let refuse = |what: &str, why: &str| {
        invalid(format!(
            "{}: [{what}] cannot be tiled ({why})",
            job.site.display()
        ))
    };
    if sf.tile.is_some() {
        return Err(refuse("tile", "it is already one tile of a plan"));
    }
    if sf.classify.is_some() {
        return Err(refuse(
            "classify",
            "a tile sees part of the terrain; classify the survey first, then plan",
        ));
    }
    if sf.copc.is_some() {
        return Err(refuse(
            "copc",
            "one octree covers the whole area; export the merged result with `kizashi export copc`",
        ));
    }
    if sf.dtm.is_some() {
        return Err(refuse(
            "dtm",
            "a TIN over a tile's ground is cut at its edges; make the DTMs with `kizashi dtm`",
        ));
    }
    if sf.register.is_some() {
        return Err(refuse(
            "register",
            "ICP needs the whole overlap; register first, then plan with the aligned epoch",
        ));
    }
    if sf.series.is_some() {
        return Err(refuse(
            "series",
            "plan the pairwise steps; series are not tiled yet",
        ));
    }
    let whole = site::plan_site(&job.site, &sf)?;
    let change = whole.steps.iter().find_map(|s| match s {
        StepJob::Change(c) => Some(c.clone()),
        _ => None,
    });
    let dod = whole.steps.iter().find_map(|s| match s {
        StepJob::Dod(d) => Some(d.clone()),
        _ => None,
    });
    if let Some(d) = &dod {
        if d.coregister.is_some() {
            return Err(refuse(
                "dod",
                "co-registration fits one shift on the whole area; co-register first",
            ));
        }
        if d.cell.is_none() {
            return Err(refuse("dod", "a plan tiles point-cloud epochs, not DEMs"));
        }
    }
    let (e1, e2) = match (&change, &dod) {
        (Some(c), _) => (c.epoch1.clone(), c.epoch2.clone()),
        (None, Some(d)) => (d.epoch1.clone(), d.epoch2.clone()),
        (None, None) => return Err(invalid("nothing to tile: add [change] or [dod]")),
    };
    let (f1, f2) = (EpochFiles::read(&e1)?, EpochFiles::read(&e2)?);
    let (b1, n1, b2, n2) = (f1.bounds, f1.points, f2.bounds, f2.points);
    let both = b1.union(&b2);

    // The whole run's parameters, resolved by the one rule from epoch 1's headers.
    let derived = params::derive(params::spacing_of(&b1, n1));
    let mut halo: f64 = 0.0;
    let change = match change {
        Some(mut c) => {
            if c.ground
                && c.method == Method::M3c2
                && (c.m3c2.cyl_radius.is_none()
                    || c.m3c2.normal_radii.is_none()
                    || c.m3c2.max_distance.is_none()
                    || c.cores.is_none())
            {
                // The untiled run derives them from epoch 1's ground points; the headers
                // count every point.
                return Err(refuse(
                    "change",
                    "with ground = true, declare cyl_radius, normal_radii, max_distance and \
                     core_spacing (the whole run derives them from the ground points)",
                ));
            }
            match c.method {
                Method::M3c2 => {
                    let p = c.m3c2.resolve(&derived);
                    c.m3c2 = p.clone().into();
                    let cores = c
                        .cores
                        .clone()
                        .unwrap_or(Cores::Spacing(derived.core_spacing));
                    let cube = match &cores {
                        Cores::Spacing(s) => *s,
                        Cores::Step(_) => return Err(refuse(
                            "change",
                            "core_step takes every n-th point of the whole file; use core_spacing",
                        )),
                        _ => 0.0,
                    };
                    c.cores = Some(cores);
                    let normal = p.normal_radii.iter().cloned().fold(0.0, f64::max);
                    halo = halo.max(p.cyl_radius + p.max_distance + normal + cube);
                }
                Method::C2c => {
                    let Some(d) = c.m3c2.max_distance else {
                        return Err(refuse(
                            "change",
                            "C2C without max_distance reaches any distance; set max_distance",
                        ));
                    };
                    halo = halo.max(d);
                }
            }
            Some(c)
        }
        None => None,
    };
    let dod_grid = dod.as_ref().map(|d| {
        Grid::covering(
            [both.min[0], both.min[1], both.max[0], both.max[1]]
                .map(|v| (v * 1000.0).round() / 1000.0),
            d.cell.unwrap_or(1.0),
        )
    });
    if let Some(g) = &dod_grid {
        halo = halo.max(g.cell);
    }
    let extent = match &dod_grid {
        Some(g) => [
            g.x0,
            g.y0 - g.height as f64 * g.cell,
            g.x0 + g.width as f64 * g.cell,
            g.y0,
        ],
        None => [both.min[0], both.min[1], both.max[0], both.max[1]],
    };
    let size = match &dod_grid {
        Some(g) => (job.tile_size / g.cell).ceil().max(1.0) * g.cell,
        None => job.tile_size,
    };
    let count = |len: f64| ((len / size).ceil() as usize).max(1);
    let (nx, ny) = (count(extent[2] - extent[0]), count(extent[3] - extent[1]));
    if nx * ny > 100_000 {
        return Err(invalid(format!(
            "{nx} x {ny} tiles: use a larger --tile-size"
        )));
    }

    // The whole run's local frames (each epoch's centre), when f32 steps stay under 0.25 mm
    // over the whole area (within 2 km of the centre): then tiles round as the whole run does.
    let (o1, o2) = (origin_for(&b1), origin_for(&b2));
    let reach = (0..2)
        .map(|k| (both.min[k] - o1[k]).abs().max((both.max[k] - o1[k]).abs()))
        .fold(0.0, f64::max);
    let origins = (reach <= 2048.0).then_some([o1, o2]);
    let dir = &job.output;
    std::fs::create_dir_all(dir.join("tiles")).map_err(|e| IoError::io(dir, e))?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
    let base = tile_base(&table, [&e1, &e2], &whole, change.as_ref(), dod.as_ref());
    let mut tiles = Vec::new();
    for r in 0..ny {
        for c in 0..nx {
            let x0 = extent[0] + c as f64 * size;
            let y0 = extent[1] + r as f64 * size;
            let rect = [
                x0,
                y0,
                (x0 + size).min(extent[2]),
                (y0 + size).min(extent[3]),
            ];
            // Outer edges reach out by the halo: nothing near the border is left unowned.
            let own = [
                if c == 0 { rect[0] - halo } else { rect[0] },
                if r == 0 { rect[1] - halo } else { rect[1] },
                if c + 1 == nx { rect[2] + halo } else { rect[2] },
                if r + 1 == ny { rect[3] + halo } else { rect[3] },
            ];
            let id = format!("r{r}c{c}");
            let step = TileStep {
                id: id.clone(),
                own,
                halo,
                grid: dod_grid.map(|_| rect),
                origins,
            };
            let area = step.area();
            let mut inputs = f1.meeting(&area);
            // A tile with no epoch-1 point in reach has nothing to compute.
            if inputs.is_empty() {
                continue;
            }
            inputs.extend(f2.meeting(&area));
            let text = tile_job(&base, &step, &whole.file)?;
            let file = dir.join("tiles").join(format!("{id}.toml"));
            // Unchanged text is left alone, so a finished tile stays finished.
            if std::fs::read_to_string(&file).ok().as_deref() != Some(text.as_str()) {
                crate::io::safe::write_bytes(&file, text.as_bytes())?;
            }
            let planned = site::plan(&file)?;
            let outputs = planned
                .steps
                .iter()
                .flat_map(|s| s.files().outputs())
                .filter_map(|p| p.strip_prefix(dir).ok().map(Path::to_path_buf))
                .collect();
            tiles.push(PlannedTile {
                id: id.clone(),
                job: PathBuf::from("tiles").join(format!("{id}.toml")),
                output: PathBuf::from("tiles").join(&id),
                own,
                grid: step.grid,
                inputs,
                outputs,
            });
        }
    }
    if tiles.is_empty() {
        return Err(invalid(format!(
            "no tile meets epoch 1's files ({})",
            e1.display()
        )));
    }
    let manifest = Manifest {
        kizashi: env!("CARGO_PKG_VERSION").into(),
        site: whole.file.clone(),
        site_sha256: site::job_sha256(&job.site)?,
        tile_size: size,
        halo,
        extent,
        epochs: [e1, e2],
        points: [n1, n2],
        dod_grid,
        change,
        tiles,
    };
    crate::pipeline::write_json(&dir.join(MANIFEST), &manifest)?;
    if let Some(exe) = &job.slurm {
        std::fs::create_dir_all(dir.join("logs")).map_err(|e| IoError::io(dir, e))?;
        let script = super::run::sbatch_script(dir, &manifest, exe)?;
        crate::io::safe::write_bytes(&dir.join("run.sbatch"), script.as_bytes())?;
    }
    Ok(manifest)
}

/// One tile's job file: the common part, its output folder and its `[tile]` table.
fn tile_job(base: &toml::Table, step: &TileStep, site_file: &Path) -> Result<String> {
    let mut t = base.clone();
    if let Some(toml::Value::Table(s)) = t.get_mut("site") {
        s.insert("output".into(), toml::Value::String(step.id.clone()));
    }
    let tile = toml::Value::try_from(step).map_err(|e| invalid(e.to_string()))?;
    t.insert("tile".into(), tile);
    let body = toml::to_string(&t).map_err(|e| invalid(e.to_string()))?;
    Ok(format!(
        "# Tile {} of a plan by `kizashi plan` from {}; run it with `kizashi run` on this file.\n\n{body}",
        step.id,
        site_file.display()
    ))
}

/// What every tile's job file shares: the site's, with absolute paths, every derived value
/// written out, and the merged-only steps (objects, report) left to the merge.
fn tile_base(
    table: &toml::Table,
    epochs: [&Path; 2],
    whole: &site::Plan,
    change: Option<&ChangeJob>,
    dod: Option<&DodJob>,
) -> toml::Table {
    use toml::Value;
    let path = |p: &Path| Value::String(p.display().to_string());
    let mut t = table.clone();
    for k in ["objects", "report", "register", "series"] {
        t.remove(k);
    }
    let mut s = toml::Table::new();
    if let Some(n) = table
        .get("site")
        .and_then(|v| v.get("name"))
        .and_then(|v| v.as_str())
    {
        s.insert("name".into(), Value::String(n.into()));
    }
    t.insert("site".into(), Value::Table(s));
    // Epoch paths absolute (the tile's job file lives elsewhere); the pairwise steps read the
    // first and the last.
    let mut list = Vec::new();
    for (k, e) in epochs.iter().enumerate() {
        let mut et = toml::Table::new();
        et.insert("path".into(), path(e));
        let src = table.get("epoch").and_then(|v| v.as_array()).and_then(|a| {
            if k == 0 {
                a.first()
            } else {
                a.last()
            }
        });
        if let Some(d) = src.and_then(|v| v.get("date")) {
            et.insert("date".into(), d.clone());
        }
        list.push(Value::Table(et));
    }
    t.insert("epoch".into(), Value::Array(list));
    if let Some(c) = change {
        let ct = t
            .entry("change")
            .or_insert_with(|| Value::Table(Default::default()));
        if let Value::Table(ct) = ct {
            let m = &c.m3c2;
            let f = |v: f64| Value::Float(v);
            if let Some(r) = m.cyl_radius {
                ct.insert("cyl_radius".into(), f(r));
            }
            if let Some(r) = &m.normal_radii {
                ct.insert(
                    "normal_radii".into(),
                    Value::Array(r.iter().map(|v| f(*v)).collect()),
                );
            }
            if let Some(d) = m.max_distance {
                ct.insert("max_distance".into(), f(d));
            }
            ct.remove("core_step");
            match &c.cores {
                Some(Cores::Spacing(s)) => {
                    ct.insert("core_spacing".into(), f(*s));
                }
                Some(Cores::File(p) | Cores::FileWithNormals(p)) => {
                    ct.insert("cores".into(), path(p));
                }
                _ => {}
            }
            // The merge writes the one CSV.
            ct.insert("csv".into(), Value::Boolean(false));
        }
    }
    if let (Some(d), Some(Value::Table(dt))) = (dod, t.get_mut("dod")) {
        dt.insert("cell".into(), Value::Float(d.cell.unwrap_or(1.0)));
        dt.insert("objects".into(), Value::Boolean(false));
    }
    if let Some(Value::Table(tt)) = t.get_mut("tiles") {
        let g = whole.steps.iter().find_map(|s| match s {
            StepJob::Tiles(j) => j.geoid.grid().map(PathBuf::from),
            _ => None,
        });
        // The grid's path resolved against the site's folder; a model name stays as it is.
        if let Some(g) = g {
            tt.insert("geoid".into(), path(&g));
        }
    }
    t
}

/// Reads a plan's manifest.
pub fn read_manifest(dir: &Path) -> Result<Manifest> {
    let p = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&p).map_err(|e| IoError::io(&p, e))?;
    serde_json::from_str(&text)
        .map_err(|e| invalid(format!("{}: not a plan manifest: {e}", p.display())))
}
