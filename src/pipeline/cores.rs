//! Core points of a change job: every n-th point, one per cube, all, or from a file (LAS/LAZ,
//! CSV/text with X, Y, Z and optionally the normals nx, ny, nz).
//!
//! The cubes of a core spacing are anchored to the CRS origin (not to the data), and a point's
//! cube is judged on its coordinates rounded to the millimetre, so a tile of a planned run
//! (which reads a part of the data, in another local frame) picks exactly the core points the
//! whole run picks in its area: the first point of each cube, in file order. A tile keeps the
//! cubes whose south-west corner it owns.

use super::change::Cores;
use super::tiling::TileArea;
use super::{PipelineError, Result};
use crate::analysis::AnalysisError;
use crate::cloud::PointCloud;
use crate::io::{las, IoError};
use std::path::Path;

/// Core points and, when the file gives them, their normals.
pub type WithNormals<T> = (Vec<[T; 3]>, Option<Vec<[T; 3]>>);

/// Core points in epoch 1's local frame, and their normals when the user supplies them; in a
/// tile, only those it owns.
pub(crate) fn select_cores(
    e1: &PointCloud,
    cores: &Cores,
    tile: Option<&TileArea>,
) -> Result<WithNormals<f32>> {
    let (picked, normals) = all_cores(e1, cores)?;
    let Some(t) = tile else {
        return Ok((picked, normals));
    };
    if matches!(cores, Cores::Step(_)) {
        return Err(PipelineError::Invalid(
            "a tile cannot take every n-th point as core points (that depends on the tiling); use a core spacing".into(),
        ));
    }
    let keep: Vec<bool> = picked
        .iter()
        .map(|p| {
            let w = [0, 1].map(|k| e1.origin[k] + f64::from(p[k]));
            match cores {
                // The cube's south-west corner decides, so a cube is never split.
                Cores::Spacing(s) => {
                    let [cx, cy] =
                        [0, 1].map(|k| cube_of(w[k], *s) as f64 * spacing_mm(*s) as f64 / 1000.0);
                    t.owns(cx, cy)
                }
                _ => t.owns(w[0], w[1]),
            }
        })
        .collect();
    let pick = |v: Vec<[f32; 3]>| {
        v.into_iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|(p, _)| p)
            .collect::<Vec<_>>()
    };
    Ok((pick(picked), normals.map(pick)))
}

/// The core spacing in whole millimetres (at least one).
fn spacing_mm(s: f64) -> i64 {
    ((s * 1000.0).round() as i64).max(1)
}

/// The cube index of a coordinate along one axis: anchored to 0, judged in millimetres.
fn cube_of(w: f64, s: f64) -> i64 {
    ((w * 1000.0).round() as i64).div_euclid(spacing_mm(s))
}

fn all_cores(e1: &PointCloud, cores: &Cores) -> Result<WithNormals<f32>> {
    let local = |world: &[[f64; 3]]| {
        world
            .iter()
            .map(|w| [0, 1, 2].map(|k| (w[k] - e1.origin[k]) as f32))
            .collect::<Vec<_>>()
    };
    match cores {
        Cores::All => Ok((e1.positions.clone(), None)),
        Cores::Step(n) => {
            if *n == 0 {
                return Err(
                    AnalysisError::InvalidParameter("core step must be at least 1".into()).into(),
                );
            }
            Ok((e1.positions.iter().step_by(*n).copied().collect(), None))
        }
        Cores::Spacing(s) => {
            if !(s.is_finite() && *s > 0.0) {
                return Err(AnalysisError::InvalidParameter(format!(
                    "core spacing must be positive, got {s}"
                ))
                .into());
            }
            let mut seen = std::collections::HashSet::new();
            let picked = e1
                .positions
                .iter()
                .filter(|p| p.iter().all(|v| v.is_finite()))
                .filter(|p| {
                    seen.insert([0, 1, 2].map(|k| cube_of(e1.origin[k] + f64::from(p[k]), *s)))
                })
                .copied()
                .collect();
            Ok((picked, None))
        }
        Cores::File(path) | Cores::FileWithNormals(path) => {
            let with_normals = matches!(cores, Cores::FileWithNormals(_));
            let ext = path
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or("")
                .to_ascii_lowercase();
            let (world, normals) = if ext == "las" || ext == "laz" {
                let fields = if with_normals {
                    las::Fields::ALL
                } else {
                    las::Fields::POSITIONS
                };
                let c = las::read_with(path, fields, |_, _| true)?.cloud;
                let normals = if with_normals {
                    let names: Vec<&str> = c.scalars.iter().map(|f| f.name.as_str()).collect();
                    let k = normal_columns(&names).ok_or_else(|| no_normals(path, &names))?;
                    let [x, y, z] = k.map(|i| &c.scalars[i].values);
                    Some((0..c.len()).map(|i| [x[i], y[i], z[i]]).collect())
                } else {
                    None
                };
                ((0..c.len()).map(|i| c.world(i)).collect(), normals)
            } else {
                let (xyz, normals) = read_text_columns(path, with_normals)?;
                (
                    xyz,
                    normals.map(|n| n.iter().map(|v| v.map(|x| x as f32)).collect()),
                )
            };
            if world.is_empty() {
                return Err(PipelineError::Invalid(format!(
                    "{}: no core points",
                    path.display()
                )));
            }
            Ok((local(&world), normals))
        }
    }
}

/// Indices of the normal's three components among `names`: nx/ny/nz, normal_x.., NormalX..,
/// "normal x".. (any case, separators ignored).
fn normal_columns(names: &[&str]) -> Option<[usize; 3]> {
    let key = |n: &str| {
        n.chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase()
    };
    let find = |axis: char| {
        names.iter().position(|n| matches!(key(n).as_str(), k if k == format!("n{axis}") || k == format!("normal{axis}")))
    };
    Some([find('x')?, find('y')?, find('z')?])
}

fn no_normals(path: &Path, names: &[&str]) -> PipelineError {
    PipelineError::Invalid(format!(
        "{}: no normal columns (nx, ny, nz or NormalX, NormalY, NormalZ) for --core-normals; it has: {}",
        path.display(),
        if names.is_empty() { "no extra fields".to_string() } else { names.join(", ") }
    ))
}

/// X, Y, Z from a CSV or whitespace-separated text file. A header row (possibly quoted) is
/// recognised by its non-numeric fields; columns named x, y, z (any case) are used when
/// present, else the first three.
pub fn read_xyz_text(path: &Path) -> Result<Vec<[f64; 3]>> {
    Ok(read_text_columns(path, false)?.0)
}

/// `read_xyz_text`, and with `normals` the nx, ny, nz columns too (a header must name them).
fn read_text_columns(path: &Path, normals: bool) -> Result<WithNormals<f64>> {
    let text = std::fs::read_to_string(path).map_err(|e| IoError::io(path, e))?;
    parse_core_text(path, &text, normals)
}

/// Core points (and with `normals` their nx, ny, nz) from CSV or whitespace-separated text;
/// `path` only names the file in errors.
pub fn parse_core_text(path: &Path, text: &str, normals: bool) -> Result<WithNormals<f64>> {
    let split = |l: &str| -> Vec<String> {
        let sep: &[char] = if l.contains(',') {
            &[',']
        } else if l.contains(';') {
            &[';']
        } else {
            &[' ', '\t']
        };
        l.split(sep)
            .map(|t| t.trim().trim_matches(|c| c == '"' || c == '\'').to_string())
            .filter(|t| !t.is_empty())
            .collect()
    };
    let mut lines = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .peekable();
    let mut cols = vec![0usize, 1, 2];
    let mut header = Vec::new();
    if let Some(first) = lines.peek() {
        // CloudCompare's ASCII export starts its header with "//".
        let fields = split(first.trim_start_matches("//"));
        if fields.iter().any(|f| f.parse::<f64>().is_err()) {
            let find = |n: &str| {
                fields.iter().position(|f| {
                    f.eq_ignore_ascii_case(n)
                        || f.to_ascii_lowercase().starts_with(&format!("{n}_"))
                })
            };
            match (find("x"), find("y"), find("z")) {
                (Some(x), Some(y), Some(z)) => cols = vec![x, y, z],
                _ => {
                    return Err(PipelineError::Invalid(format!(
                        "{}: header has no X, Y and Z columns ({})",
                        path.display(),
                        fields.join(", ")
                    )));
                }
            }
            header = fields;
            lines.next();
        }
    }
    if normals {
        let names: Vec<&str> = header.iter().map(String::as_str).collect();
        cols.extend(normal_columns(&names).ok_or_else(|| no_normals(path, &names))?);
    }
    let (mut xyz, mut nrm) = (Vec::new(), Vec::new());
    for (n, l) in lines.enumerate() {
        let f = split(l);
        let v: Option<Vec<f64>> = cols
            .iter()
            .map(|&c| {
                f.get(c)
                    .and_then(|t| t.parse::<f64>().ok())
                    .filter(|v| v.is_finite())
            })
            .collect();
        match v {
            Some(v) => {
                xyz.push([v[0], v[1], v[2]]);
                if normals {
                    nrm.push([v[3], v[4], v[5]]);
                }
            }
            None => {
                let what = if normals {
                    "X, Y, Z, nx, ny, nz"
                } else {
                    "X, Y, Z"
                };
                return Err(PipelineError::Invalid(format!(
                    "{}: row {} has no numeric {what}: {l}",
                    path.display(),
                    n + 1
                )));
            }
        }
    }
    Ok((xyz, normals.then_some(nrm)))
}
