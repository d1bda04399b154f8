//! The report of a series result (`kizashi series` / the `[series]` step): its record beside
//! it (the series summary), the core points' velocity and onset, the objects in time.

use super::sources::{background_image, crs_label, open_ortho, parameter_rows};
use super::{ReportJob, ReportSummary};
use crate::analysis::series::MotionClass;
use crate::cloud::PointCloud;
use crate::export::report::monitoring::{EpochRow, MonitoringData, ObjectSeries};
use crate::export::report::plots::MapPoint;
use crate::export::report::{self, InputFile};
use crate::io::raster::GeoTransform;
use crate::pipeline::series::SeriesSummary;
use crate::pipeline::{Cancel, PipelineError, Progress, Result};
use std::time::Instant;

pub(super) fn run(
    job: &ReportJob,
    c: &PointCloud,
    progress: &dyn Progress,
    cancel: &Cancel,
    t0: Instant,
) -> Result<ReportSummary> {
    let l = job.lang;
    let tr = |en: &'static str, ja: &'static str| l.tr(en, ja);
    let side_path = crate::pipeline::sidecar_path(&job.result);
    let side: SeriesSummary = std::fs::read_to_string(&side_path)
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .ok_or_else(|| {
            PipelineError::Invalid(format!(
                "{}: missing or not the record of `kizashi series`; the monitoring report needs it (dates, epochs)",
                side_path.display()
            ))
        })?;
    let field = |n: &str| c.scalar(n).map(|s| s.values.as_slice()).unwrap_or(&[]);
    let (vel, class, onset_year) = (
        field(crate::fields::VELOCITY),
        field(crate::fields::MOTION_CLASS),
        field(crate::fields::ONSET_YEAR),
    );
    if vel.len() != c.len() || class.len() != c.len() || onset_year.len() != c.len() {
        return Err(PipelineError::Invalid(format!(
            "{}: not a series result (velocity, motion_class, onset_year)",
            job.result.display()
        )));
    }
    let first_year = side.epochs.first().map_or(0.0, |e| e.decimal_year);
    let point = |i: usize, d: f32, significant: bool| {
        let w = c.world(i);
        MapPoint {
            x: w[0],
            y: w[1],
            z: w[2],
            d,
            significant,
            normal: None,
        }
    };
    let moving = |i: usize| {
        !matches!(
            MotionClass::from_code(class[i]),
            MotionClass::Stable | MotionClass::Undetermined
        )
    };
    let velocity: Vec<MapPoint> = (0..c.len()).map(|i| point(i, vel[i], moving(i))).collect();
    let onset: Vec<MapPoint> = (0..c.len())
        .map(|i| {
            let y = onset_year[i];
            point(i, (f64::from(y) - first_year) as f32, y.is_finite())
        })
        .collect();
    let b = c.bounds();
    let extent = [b.min[0], b.min[1], b.max[0], b.max[1]];
    let spacing =
        (((b.max[0] - b.min[0]) * (b.max[1] - b.min[1])).max(1e-6) / c.len().max(1) as f64).sqrt();

    let mut inputs = vec![
        InputFile {
            role: tr("result", "結果"),
            path: job.result.display().to_string(),
            size: None,
            sha256: None,
        },
        InputFile {
            role: tr("result record (JSON)", "結果の記録 (JSON)"),
            path: side_path.display().to_string(),
            size: None,
            sha256: None,
        },
    ];
    for e in &side.epochs {
        inputs.push(InputFile {
            role: tr("epoch", "エポック"),
            path: e.path.clone(),
            size: None,
            sha256: None,
        });
    }
    let ortho = match &job.ortho {
        Some(p) => Some(open_ortho(p, c.crs.as_ref(), extent, &mut inputs, l)?),
        None => None,
    };
    let grid = crate::analysis::dod::Grid::covering(extent, spacing.max(1e-3));
    let s = crate::analysis::dod::surface(c, &grid, crate::analysis::dod::Stat::Mean, &|_| true);
    let heights = (
        s.z,
        grid.width,
        grid.height,
        GeoTransform(grid.geotransform()),
    );
    let shade =
        crate::colourmap::hillshade(&heights.0, (heights.1, heights.2), heights.3.resolution());
    let background = |e: [f64; 4], size: (u32, u32)| -> Option<image::RgbImage> {
        background_image(ortho.as_ref(), &heights, &shade, e, size)
    };
    let background_name = match &job.ortho {
        Some(p) => format!("{} {}", tr("orthophoto", "オルソ画像"), p.display()),
        None => tr(
            "hillshade of the core points' heights",
            "コアポイント標高の陰影図",
        )
        .into(),
    };
    super::hash_inputs(&mut inputs, progress, cancel)?;
    let class_name = |c: MotionClass| c.name(l).to_string();
    let data = MonitoringData {
        lang: l,
        title: job.title.clone().unwrap_or_else(|| {
            job.result
                .file_stem()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_default()
        }),
        result_path: job.result.display().to_string(),
        crs: c.crs.as_ref().map(crs_label),
        reference: side.reference,
        epochs: side
            .epochs
            .iter()
            .map(|e| EpochRow {
                date: e.date.to_string(),
                decimal_year: e.decimal_year,
                path: e.path.clone(),
                points: e.points,
                rms: e.rms,
                registration_error: e.registration_error,
                significant: e.significant,
            })
            .collect(),
        classes: side
            .classes
            .iter()
            .filter(|(c, n)| *c != MotionClass::Undetermined || *n > 0)
            .map(|(c, n)| (class_name(*c), *n))
            .collect(),
        core_points: c.len(),
        variance_factor: side.variance_factor,
        alpha: side.levels.alpha,
        velocity,
        onset,
        spacing,
        objects: side
            .objects
            .iter()
            .map(|o| ObjectSeries {
                id: o.id,
                class: class_name(o.class),
                area_m2: o.area_m2,
                onset: o.onset_date.map(|d| d.to_string()),
                onset_year: o.onset_date.map(crate::analysis::series::decimal_year),
                velocity: o.velocity,
                acceleration: o.acceleration,
                centre: o.centre,
                displacement: o.displacement.clone(),
                uncertainty: o.uncertainty.clone(),
            })
            .collect(),
        background: &background,
        background_name: background_name.clone(),
        parameters: parameter_rows(&side.parameters, &side.cores, l),
        inputs,
        command: job
            .command
            .clone()
            .unwrap_or_else(|| std::env::args().collect::<Vec<_>>().join(" ")),
        warnings: side.warnings.clone(),
    };
    progress.update("figures and layout", 0, 1);
    let out = report::monitoring::render(&data, &job.output).map_err(super::export_error)?;
    progress.update("figures and layout", 1, 1);
    Ok(ReportSummary {
        output: out.output,
        format: out.format.to_string(),
        lang: l,
        method: "M3C2 series".into(),
        core_points: c.len(),
        significant: (0..c.len()).filter(|&i| moving(i)).count(),
        objects: data.objects.len(),
        background: background_name,
        inputs: data
            .inputs
            .iter()
            .map(|f| (f.role.to_string(), f.path.clone(), f.sha256.clone()))
            .collect(),
        warnings: data.warnings.clone(),
        seconds: t0.elapsed().as_secs_f64(),
    })
}
