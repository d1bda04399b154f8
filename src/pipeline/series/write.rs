//! The series result as fields of the core points, and its LAZ and CSV files.

use super::{Column, EpochRecord, SeriesSummary};
use crate::analysis::series::Motion;
use crate::cloud::PointCloud;
use crate::fields;
use crate::io::{las, IoError};
use crate::pipeline::{PipelineError, Result};
use std::io::Write;
use std::path::Path;

/// Puts normals, velocity, acceleration, onset, class and per-epoch displacement and LoD on
/// the core points (epoch `r` is the reference and has none).
pub(super) fn set_fields(
    c: &mut PointCloud,
    normals: &[[f32; 3]],
    motions: &[Motion],
    columns: &[Option<Column>],
    records: &[EpochRecord],
    r: usize,
) {
    for (k, name) in fields::NORMAL.iter().enumerate() {
        c.set_scalar(name, normals.iter().map(|v| v[k]).collect(), "M3C2 normal");
    }
    let col = |f: &dyn Fn(&Motion) -> f64| motions.iter().map(|m| f(m) as f32).collect();
    c.set_scalar(
        fields::VELOCITY,
        col(&|m| m.velocity),
        "velocity along the normal (m/year)",
    );
    c.set_scalar(
        fields::VELOCITY_SE,
        col(&|m| m.velocity_se),
        "velocity standard error (m/year)",
    );
    c.set_scalar(
        fields::ACCELERATION,
        col(&|m| m.acceleration),
        "acceleration along the normal (m/year2)",
    );
    c.set_scalar(
        fields::ACCELERATION_SE,
        col(&|m| m.acceleration_se),
        "acceleration standard error (m/year2)",
    );
    c.set_scalar(
        fields::ONSET_INDEX,
        col(&|m| m.onset.map_or(-1.0, |j| j as f64)),
        "first epoch of movement (-1 none)",
    );
    c.set_scalar(
        fields::ONSET_YEAR,
        col(&|m| m.onset.map_or(f64::NAN, |j| records[j].decimal_year)),
        "onset date (decimal year)",
    );
    c.set_scalar(
        fields::MOTION_CLASS,
        col(&|m| f64::from(m.class.code())),
        "0 stable 1 steady 2 accelerating 3 onset",
    );
    for (k, column) in columns.iter().enumerate() {
        if k == r {
            continue;
        }
        if let Some(col) = column {
            let date = records[k].date;
            c.set_scalar(
                &fields::displacement(k),
                col.d.clone(),
                &format!("displacement {date} (m)"),
            );
            c.set_scalar(
                &fields::lod(k),
                col.lod.clone(),
                &format!("LoD95 {date} (m)"),
            );
        }
    }
}

/// LAZ/LAS of the core points with the series fields, and `OUT.json` with the summary.
pub(super) fn laz(out: &Path, result: &PointCloud, summary: &SeriesSummary) -> Result<()> {
    las::write(
        out,
        result,
        &las::WriteOptions {
            system_identifier: "Kizashi series".into(),
            date: summary.epochs.last().map(|e| e.date),
            ..Default::default()
        },
    )?;
    let mut s = summary.clone();
    s.output = Some(out.display().to_string());
    crate::pipeline::write_sidecar(out, &s)
}

/// CSV: x,y,z,nx,ny,nz,velocity,velocity_se,acceleration,acceleration_se,onset_index,
/// onset_year,motion_class, then d_K,lod_K for every epoch K but the reference.
pub(super) fn csv(path: &Path, r: &PointCloud, epochs: usize, reference: usize) -> Result<()> {
    crate::io::safe::write_file(path, |tmp| {
        let f = std::fs::File::create(tmp).map_err(|e| IoError::io(path, e))?;
        let mut w = std::io::BufWriter::new(f);
        let werr = |e: std::io::Error| PipelineError::from(IoError::io(path, e));
        let mut names: Vec<String> = fields::NORMAL
            .iter()
            .chain(&[
                fields::VELOCITY,
                fields::VELOCITY_SE,
                fields::ACCELERATION,
                fields::ACCELERATION_SE,
                fields::ONSET_INDEX,
                fields::ONSET_YEAR,
                fields::MOTION_CLASS,
            ])
            .map(|s| s.to_string())
            .collect();
        let mut header = "x,y,z,nx,ny,nz,velocity,velocity_se,acceleration,acceleration_se,onset_index,onset_year,motion_class".to_string();
        for k in (0..epochs).filter(|&k| k != reference) {
            names.push(fields::displacement(k));
            names.push(fields::lod(k));
            header.push_str(&format!(",d_{k},lod_{k}"));
        }
        writeln!(w, "{header}").map_err(werr)?;
        let cols: Vec<&[f32]> = names
            .iter()
            .map(|n| r.scalar(n).map(|s| s.values.as_slice()).unwrap_or(&[]))
            .collect();
        let mut line = String::new();
        for i in 0..r.len() {
            let p = r.world(i);
            line.clear();
            line.push_str(&format!("{:.3},{:.3},{:.3}", p[0], p[1], p[2]));
            for (c, name) in cols.iter().zip(&names) {
                line.push(',');
                match c.get(i) {
                    Some(x) if x.is_finite() => {
                        if name == fields::ONSET_INDEX || name == fields::MOTION_CLASS {
                            line.push_str(&format!("{}", *x as i32));
                        } else {
                            line.push_str(&format!("{x}"));
                        }
                    }
                    _ => line.push_str("NaN"),
                }
            }
            writeln!(w, "{line}").map_err(werr)?;
        }
        w.flush().map_err(werr)?;
        Ok(())
    })
}
