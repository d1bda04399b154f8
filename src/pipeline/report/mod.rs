//! The deformation report job (`kizashi report`): reads a change result and what it recorded
//! (sidecar JSON: inputs, parameters), the epochs' headers, the registration beside epoch 2,
//! an optional DoD, change objects (given, or computed from the result), an orthophoto or a
//! hillshade for the map, hashes every input, and hands it all to `export::report`.

mod monitoring;
mod sources;

use super::change::ChangeSummary;
use super::{load_epoch, Cancel, PipelineError, Progress, Result};
use crate::export::report::plots::MapPoint;
use crate::export::report::{self, DodInfo, EpochInfo, InputFile, ObjectRow, ReportData};
use crate::io::raster::{GeoTransform, Raster};
use crate::io::{crs, las};
use crate::lang::Lang;
use serde::{Deserialize, Serialize};
use sources::*;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReportJob {
    pub result: PathBuf,
    pub dod: Option<PathBuf>,
    pub objects: Option<PathBuf>,
    pub ortho: Option<PathBuf>,
    pub lang: Lang,
    pub output: PathBuf,
    /// Site name on the title line; default: the result's file stem.
    pub title: Option<String>,
    /// Smallest object kept when objects are computed from the result (m2); default: five
    /// grid cells, so single noisy core points do not fill the table.
    pub min_area: Option<f64>,
    /// The command line to print in the reproducibility block; default: this process's.
    pub command: Option<String>,
}

impl super::Files for ReportJob {
    fn inputs(&self) -> Vec<PathBuf> {
        let mut v = vec![self.result.clone(), super::sidecar_path(&self.result)];
        v.extend(self.dod.clone());
        v.extend(self.objects.clone());
        v.extend(self.ortho.clone());
        v
    }
    fn outputs(&self) -> Vec<PathBuf> {
        vec![self.output.clone()]
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReportSummary {
    pub output: String,
    pub format: String,
    pub lang: Lang,
    pub method: String,
    pub core_points: usize,
    pub significant: usize,
    pub objects: usize,
    pub background: String,
    pub inputs: Vec<(String, String, Option<String>)>,
    pub warnings: Vec<String>,
    pub seconds: f64,
}

pub fn run_report(
    job: &ReportJob,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<ReportSummary> {
    let t0 = Instant::now();
    super::refuse_overwriting_inputs(job)?;
    let l = job.lang;
    let tr = |en: &'static str, ja: &'static str| l.tr(en, ja);
    // Refuse a wrong output name or a missing Chromium before any work.
    let format =
        report::format_of(&job.output).map_err(|e| PipelineError::Invalid(e.to_string()))?;
    if format == "pdf" {
        report::find_chromium().map_err(|e| PipelineError::Invalid(e.to_string()))?;
    }
    let mut warnings = Vec::new();
    let c = load_epoch(&job.result, las::Fields::ALL, progress, cancel)?.cloud;
    if c.scalar(crate::fields::VELOCITY).is_some() {
        return monitoring::run(job, &c, progress, cancel, t0);
    }
    let (method, dfield) = if c.scalar(crate::fields::M3C2_DISTANCE).is_some() {
        ("M3C2", crate::fields::M3C2_DISTANCE)
    } else if c.scalar(crate::fields::C2C_DISTANCE).is_some() {
        ("C2C", crate::fields::C2C_DISTANCE)
    } else {
        return Err(PipelineError::Invalid(format!(
            "{}: no m3c2_distance or c2c_distance field: not a result of `kizashi change`",
            job.result.display()
        )));
    };
    if c.is_empty() {
        return Err(PipelineError::Invalid(format!(
            "{}: no core points",
            job.result.display()
        )));
    }
    let side_path = super::sidecar_path(&job.result);
    // The sidecar is the change run's summary itself, read back as its type.
    let side: Option<ChangeSummary> = match std::fs::read_to_string(&side_path) {
        Ok(s) => match serde_json::from_str(&s) {
            Ok(v) => Some(v),
            Err(e) => {
                warnings.push(format!(
                    "{}: not a record of `kizashi change` ({e}); inputs and parameters unknown",
                    side_path.display()
                ));
                None
            }
        },
        Err(_) => {
            warnings.push(format!(
                "{}: missing; inputs and parameters unknown",
                side_path.display()
            ));
            None
        }
    };
    let field = |n: &str| c.scalar(n).map(|s| s.values.as_slice());
    let d = field(dfield).unwrap_or(&[]);
    let sig = field(crate::fields::M3C2_SIGNIFICANT);
    let normals = (
        field(crate::fields::NORMAL[0]),
        field(crate::fields::NORMAL[1]),
        field(crate::fields::NORMAL[2]),
    );
    let points: Vec<MapPoint> = (0..c.len())
        .map(|i| {
            let w = c.world(i);
            let normal = match normals {
                (Some(a), Some(b), Some(z)) => Some([a[i], b[i], z[i]]),
                _ => None,
            };
            MapPoint {
                x: w[0],
                y: w[1],
                z: w[2],
                d: d[i],
                significant: sig.map(|s| s[i] >= 0.5).unwrap_or(true),
                normal,
            }
        })
        .collect();
    let b = c.bounds();
    let extent = [b.min[0], b.min[1], b.max[0], b.max[1]];
    let spacing =
        (((b.max[0] - b.min[0]) * (b.max[1] - b.min[1])).max(1e-6) / c.len() as f64).sqrt();
    let lod_median =
        field(crate::fields::M3C2_LOD).and_then(|v| crate::colourmap::percentile(v.to_vec(), 0.5));

    // Inputs recorded by the change run.
    let mut inputs = vec![InputFile {
        role: tr("result", "結果"),
        path: job.result.display().to_string(),
        size: None,
        sha256: None,
    }];
    if side.is_some() {
        inputs.push(InputFile {
            role: tr("result record (JSON)", "結果の記録 (JSON)"),
            path: side_path.display().to_string(),
            size: None,
            sha256: None,
        });
    }
    let mut epochs: [EpochInfo; 2] = Default::default();
    let mut registration = None;
    for (k, key) in ["epoch1", "epoch2"].iter().enumerate() {
        let Some(rec) = side.as_ref().map(|s| {
            if k == 0 {
                s.epoch1.as_str()
            } else {
                s.epoch2.as_str()
            }
        }) else {
            continue;
        };
        let e = &mut epochs[k];
        e.path = rec.to_string();
        let role = if k == 0 {
            tr("epoch 1", "第1期")
        } else {
            tr("epoch 2", "第2期")
        };
        match resolve(rec, &job.result) {
            Some(p) => {
                e.found = true;
                match las::read_header(&p) {
                    Ok(h) => {
                        e.points = Some(h.point_count);
                        e.crs = h.crs.as_ref().map(crs_label);
                        e.date = h.creation_date.map(|d| d.format("%Y-%m-%d").to_string());
                        e.extent = Some([
                            h.bounds.min[0],
                            h.bounds.min[1],
                            h.bounds.max[0],
                            h.bounds.max[1],
                        ]);
                    }
                    Err(err) => warnings.push(err.to_string()),
                }
                inputs.push(InputFile {
                    role,
                    path: p.display().to_string(),
                    size: None,
                    sha256: None,
                });
                if k == 1 {
                    registration = read_registration(&p);
                }
            }
            None => {
                warnings.push(format!("{rec}: recorded as {key} but not found now"));
                inputs.push(InputFile {
                    role,
                    path: rec.to_string(),
                    size: None,
                    sha256: None,
                });
            }
        }
    }
    if let Some(r) = &registration {
        inputs.push(InputFile {
            role: tr("registration record", "位置合わせの記録"),
            path: r.source.clone(),
            size: None,
            sha256: None,
        });
    }

    // DEM of difference.
    let mut dod_info = None;
    let mut dod_heights: Option<(Vec<f32>, usize, usize, GeoTransform)> = None;
    if let Some(p) = &job.dod {
        let r = Raster::open(p)?;
        let gt = r.info.geotransform.ok_or_else(|| {
            PipelineError::Invalid(format!("{}: the DoD has no georeferencing", p.display()))
        })?;
        if r.info.band_count < 2 {
            return Err(PipelineError::Invalid(format!(
                "{}: not a DoD of `kizashi dod` (needs the difference and LoD95 bands)",
                p.display()
            )));
        }
        check_crs(p, "the DoD", r.info.crs.as_ref(), c.crs.as_ref())?;
        let (diff, lod) = (r.read_band_f32(1)?, r.read_band_f32(2)?);
        let cell = gt.resolution()[0].abs();
        // The DoD's record (`DOD.tif.json`), when `kizashi dod` left one: its co-registration.
        let record: Option<super::dod::DodSummary> = std::fs::read(super::sidecar_path(p))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        dod_info = Some(DodInfo {
            path: p.display().to_string(),
            cell,
            volumes: crate::analysis::dod::volumes(&diff, &lod, cell),
            coregistration: record
                .as_ref()
                .and_then(|r| r.coregistration.as_ref())
                .map(|c| (c.shift, c.cells, c.nmad_before, c.nmad_after)),
        });
        if r.info.band_count >= 3 {
            dod_heights = Some((r.read_band_f32(3)?, r.info.width, r.info.height, gt));
        }
        inputs.push(InputFile {
            role: tr("DEM of difference", "DEM差分"),
            path: p.display().to_string(),
            size: None,
            sha256: None,
        });
    }

    // Change objects: from the file, or computed from the result as `kizashi objects` would.
    let lonlat_of = |x: &mut Vec<f64>, y: &mut Vec<f64>| -> Option<()> {
        let data = c.crs.as_ref()?;
        let to = crs::from_epsg(4326, crate::cloud::CrsSource::User).ok()?;
        let t = crs::Transformer::new(data, &to).ok()?;
        let mut z = vec![0.0; x.len()];
        t.apply(x, y, &mut z).ok()
    };
    let (raw, objects_source) = match &job.objects {
        Some(p) => {
            let (objs, file_crs) = crate::io::vector::read_objects_geojson(p)?;
            inputs.push(InputFile {
                role: tr("change objects", "変化領域"),
                path: p.display().to_string(),
                size: None,
                sha256: None,
            });
            // Objects written with --wgs84 come back to the data CRS for the map.
            let objs = match (file_crs.as_ref(), c.crs.as_ref()) {
                (Some(from), Some(data)) if from.epsg == Some(4326) && data.epsg != Some(4326) => {
                    let t = crs::Transformer::new(from, data)?;
                    objs.into_iter()
                        .map(|(o, rings)| {
                            let rings = rings
                                .into_iter()
                                .map(|r| {
                                    let (mut xs, mut ys): (Vec<f64>, Vec<f64>) =
                                        r.iter().map(|p| (p[0], p[1])).unzip();
                                    let mut zs = vec![0.0; xs.len()];
                                    let _ = t.apply(&mut xs, &mut ys, &mut zs);
                                    xs.into_iter().zip(ys).map(|(x, y)| [x, y]).collect()
                                })
                                .collect();
                            (o, rings)
                        })
                        .collect()
                }
                _ => {
                    check_crs(p, "the objects", file_crs.as_ref(), c.crs.as_ref())?;
                    objs
                }
            };
            (objs, p.display().to_string())
        }
        None if method == "M3C2" => {
            let tmp = std::env::temp_dir()
                .join(format!("kizashi-objects-{}.geojson", std::process::id()));
            let oj = super::objects::ObjectsJob {
                result: job.result.clone(),
                cell: None,
                min_area: job.min_area.unwrap_or(5.0 * spacing * spacing),
                output: tmp.clone(),
                wgs84: false,
            };
            let s = super::objects::objects_of(&c, &oj);
            let read = s.and_then(|_| {
                crate::io::vector::read_objects_geojson(&tmp).map_err(PipelineError::from)
            });
            let _ = std::fs::remove_file(&tmp);
            (
                read?.0,
                tr(
                    "computed from the result (as `kizashi objects`)",
                    "結果から算出（`kizashi objects` と同じ）",
                )
                .to_string(),
            )
        }
        None => (
            Vec::new(),
            tr(
                "none (C2C has no level of detection)",
                "なし（C2Cには検出限界がない）",
            )
            .to_string(),
        ),
    };
    let objects: Vec<ObjectRow> = {
        let (mut xs, mut ys): (Vec<f64>, Vec<f64>) =
            raw.iter().map(|(o, _)| (o.centre[0], o.centre[1])).unzip();
        let ll = lonlat_of(&mut xs, &mut ys).map(|_| (xs, ys));
        raw.into_iter()
            .enumerate()
            .map(|(i, (object, rings))| ObjectRow {
                object,
                lonlat: ll.as_ref().map(|(x, y)| [x[i], y[i]]),
                rings,
            })
            .collect()
    };

    // Map background: the orthophoto, else a hillshade (DoD epoch-1 surface, else the core
    // points' own heights).
    let ortho = match &job.ortho {
        Some(p) => Some(open_ortho(p, c.crs.as_ref(), extent, &mut inputs, l)?),
        None => None,
    };
    let heights = match dod_heights {
        Some(h) => h,
        None => {
            let grid = crate::analysis::dod::Grid::covering(extent, spacing.max(1e-3));
            let s =
                crate::analysis::dod::surface(&c, &grid, crate::analysis::dod::Stat::Mean, &|_| {
                    true
                });
            (
                s.z,
                grid.width,
                grid.height,
                GeoTransform(grid.geotransform()),
            )
        }
    };
    let background_name = match (&job.ortho, &job.dod) {
        (Some(p), _) => format!("{} {}", tr("orthophoto", "オルソ画像"), p.display()),
        (None, Some(p)) if heights.0.len() > 1 => format!(
            "{} ({})",
            tr(
                "hillshade of the epoch-1 surface of the DoD",
                "DoDの第1期地表面の陰影図"
            ),
            p.display()
        ),
        _ => tr(
            "hillshade of the core points' heights",
            "コアポイント標高の陰影図",
        )
        .to_string(),
    };
    let shade =
        crate::colourmap::hillshade(&heights.0, (heights.1, heights.2), heights.3.resolution());
    let background = |e: [f64; 4], size: (u32, u32)| -> Option<image::RgbImage> {
        background_image(ortho.as_ref(), &heights, &shade, e, size)
    };

    // Hashes last: every input is known now.
    hash_inputs(&mut inputs, progress, cancel)?;
    let command = job.command.clone().unwrap_or_else(|| {
        std::env::args()
            .map(|a| {
                if a.contains(' ') {
                    format!("\"{a}\"")
                } else {
                    a
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    });
    let data = ReportData {
        lang: l,
        title: job.title.clone().unwrap_or_else(|| {
            job.result
                .file_stem()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_default()
        }),
        method: method.into(),
        result_path: job.result.display().to_string(),
        points,
        spacing,
        lod_median,
        crs: c.crs.as_ref().map(crs_label),
        epochs,
        registration,
        parameters: side
            .as_ref()
            .map(|s| parameter_rows(&s.parameters, &s.cores, l)),
        record: side
            .as_ref()
            .and_then(|s| serde_json::to_string_pretty(&s.parameters).ok()),
        registration_error: side
            .as_ref()
            .and_then(|s| s.parameters.m3c2.as_ref())
            .map(|p| p.registration_error),
        dod: dod_info,
        heights: side
            .as_ref()
            .map(|s| crate::export::report::Heights {
                epoch1: s.heights.epoch1.clone(),
                epoch2: s.heights.epoch2.clone(),
                converted: s.heights.mean_shift_m.filter(|_| s.heights.converted),
            })
            .unwrap_or_default(),
        objects,
        objects_source,
        background: &background,
        background_name: background_name.clone(),
        inputs,
        command,
        warnings: warnings.clone(),
    };
    progress.update("figures and layout", 0, 1);
    let out = report::render(&data, &job.output).map_err(export_error)?;
    progress.update("figures and layout", 1, 1);
    Ok(ReportSummary {
        output: out.output,
        format: out.format.to_string(),
        lang: l,
        method: method.into(),
        core_points: c.len(),
        significant: data
            .points
            .iter()
            .filter(|p| p.significant && p.d.is_finite())
            .count(),
        objects: data.objects.len(),
        background: background_name,
        inputs: data
            .inputs
            .iter()
            .map(|f| (f.role.to_string(), f.path.clone(), f.sha256.clone()))
            .collect(),
        warnings,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// Size and SHA-256 of every input, for the reproducibility block.
fn hash_inputs(inputs: &mut [InputFile], progress: &dyn Progress, cancel: &Cancel) -> Result<()> {
    let n_inputs = inputs.len() as u64;
    progress.update("hash inputs", 0, n_inputs);
    for (k, f) in inputs.iter_mut().enumerate() {
        if cancel.is_cancelled() {
            return Err(PipelineError::Cancelled);
        }
        if let Some((n, h)) = super::sha256_file(Path::new(&f.path)) {
            f.size = Some(n);
            f.sha256 = Some(h);
        }
        progress.update("hash inputs", k as u64 + 1, n_inputs);
    }
    Ok(())
}

fn export_error(e: crate::export::ExportError) -> PipelineError {
    match e {
        crate::export::ExportError::Io(io) => PipelineError::Io(io),
        e => PipelineError::Invalid(e.to_string()),
    }
}
