//! One epoch as many survey files (a folder or a glob of LAS/LAZ/COPC tiles, as prefectures
//! publish them), and reads of one area only: files whose header bounds miss the area are not
//! opened, and every decoded chunk is filtered at once, so memory follows the area and one
//! chunk, never the dataset.
//!
//! A COPC file read for an area decodes only the octree nodes that meet it (`copc.rs`), in
//! file order, so the points kept are those a whole read would keep, in the same order.

use super::{read_with, Fields, LasHeader, LasReader, Loaded, CHUNK_POINTS};
use crate::cloud::{origin_for, Bounds, PointCloud};
use crate::io::{IoError, Result};
use std::path::{Path, PathBuf};

/// `[xmin, ymin, xmax, ymax]` in the data CRS (edges included).
pub type Area = [f64; 4];

/// Whether `path` names many files: a folder, or a pattern with `*`, `?` or `[`.
pub fn is_many(path: &Path) -> bool {
    path.is_dir() || path.to_string_lossy().contains(['*', '?', '['])
}

fn is_survey(p: &Path) -> bool {
    p.is_file()
        && p.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("las") || e.eq_ignore_ascii_case("laz"))
}

/// The survey files `path` names, sorted (the order points are read in): the file itself, the
/// LAS/LAZ files of a folder (not its subfolders), or those matching a glob pattern.
pub fn expand(path: &Path) -> Result<Vec<PathBuf>> {
    if !is_many(path) {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> = if path.is_dir() {
        std::fs::read_dir(path)
            .map_err(|e| IoError::io(path, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| is_survey(p))
            .collect()
    } else {
        let pattern = path.to_string_lossy();
        glob::glob(&pattern)
            .map_err(|e| IoError::Unsupported {
                path: path.to_path_buf(),
                reason: format!("not a valid file pattern: {e}"),
            })?
            .filter_map(|p| p.ok())
            .filter(|p| is_survey(p))
            .collect()
    };
    files.sort();
    if files.is_empty() {
        return Err(IoError::Unsupported {
            path: path.to_path_buf(),
            reason: "no .las or .laz files there".into(),
        });
    }
    Ok(files)
}

/// Whether a point lies in an area (in x and y, edges included).
pub fn contains(a: &Area, p: [f64; 3]) -> bool {
    p[0] >= a[0] && p[0] <= a[2] && p[1] >= a[1] && p[1] <= a[3]
}

/// Whether bounds meet an area (in x and y).
pub fn meets(b: &Bounds, a: &Area) -> bool {
    b.min[0] <= a[2] && a[0] <= b.max[0] && b.min[1] <= a[3] && a[1] <= b.max[1]
}

/// The files of `path` whose header bounds meet `area` (every file when None), with their
/// headers. Reading headers only: cheap for hundreds of tiles.
pub fn files_in(path: &Path, area: Option<&Area>) -> Result<Vec<(PathBuf, LasHeader)>> {
    let mut out = Vec::new();
    for f in expand(path)? {
        let h = super::read_header(&f)?;
        if area.is_none_or(|a| meets(&h.bounds, a)) {
            out.push((f, h));
        }
    }
    Ok(out)
}

/// Reads an epoch — one file or many — keeping only the points inside `area` (all when None).
/// `progress(points_read, total)` as in [`read_with`]; returning false cancels.
///
/// A single file with no area is [`read_with`] itself. Otherwise the local origin is `origin`
/// when given, else the area's (or the files') centre; the header returned is the first
/// file's with the count and bounds of what was kept, and the files must share one CRS.
pub fn read_area(
    path: &Path,
    fields: Fields,
    area: Option<Area>,
    origin: Option<[f64; 3]>,
    mut progress: impl FnMut(u64, u64) -> bool,
) -> Result<Loaded> {
    let given = origin;
    if area.is_none() && origin.is_none() && !is_many(path) {
        return read_with(path, fields, progress);
    }
    let files = files_in(path, area.as_ref())?;
    let mut extent = Bounds::empty();
    for (_, h) in &files {
        extent = extent.union(&h.bounds);
    }
    let mut origin = origin_for(&extent);
    if let Some(a) = area {
        origin[0] = ((a[0] + a[2]) / 2.0).round();
        origin[1] = ((a[1] + a[3]) / 2.0).round();
    }
    let mut cloud = PointCloud::with_origin(given.unwrap_or(origin));
    let mut warnings = Vec::new();
    let total: u64 = files.iter().map(|(_, h)| h.point_count).sum();
    let mut done = 0u64;
    let mut first: Option<LasHeader> = None;
    for (f, h) in &files {
        match (&first, &h.crs) {
            (Some(h0), Some(c)) if h0.crs.as_ref().is_some_and(|c0| !c0.same_as(c)) => {
                return Err(IoError::Unsupported {
                    path: f.clone(),
                    reason: format!(
                        "its CRS ({}) is not that of {} ({}); the files of one epoch share one CRS",
                        c.name,
                        h0.path.display(),
                        h0.crs.as_ref().map(|c| c.name.as_str()).unwrap_or("none")
                    ),
                })
            }
            _ => {}
        }
        if first.is_none() {
            cloud.crs = h.crs.clone();
            first = Some(h.clone());
        }
        let name = f.file_name().unwrap_or_default().to_string_lossy();
        warnings.extend(h.warnings.iter().map(|w| format!("{name}: {w}")));
        let mut r = LasReader::open_with(f, fields)?;
        // A COPC file: only the nodes meeting the area.
        let runs = match (area, h.copc && h.compressed) {
            (Some(a), true) => super::copc::runs(f, h.point_count, &a, CHUNK_POINTS),
            _ => None,
        };
        if let (Some(runs), Some(a)) = (runs, area) {
            for run in runs {
                let start = cloud.len();
                done += r.read_nodes(run.offset, &run.chunks, &mut cloud)? as u64;
                cloud.retain_from(start, |p| contains(&a, p));
                if !progress(done, total) {
                    return Err(IoError::Cancelled);
                }
            }
            continue;
        }
        loop {
            let start = cloud.len();
            let n = r.read_chunk(CHUNK_POINTS, &mut cloud)?;
            if n == 0 {
                break;
            }
            if let Some(a) = area {
                cloud.retain_from(start, |p| contains(&a, p));
            }
            done += n as u64;
            if !progress(done, total) {
                return Err(IoError::Cancelled);
            }
        }
    }
    let mut header = match first {
        Some(h) => h,
        // No file meets the area: an empty epoch there (the caller says what that means).
        None => super::read_header(&expand(path)?[0])?,
    };
    header.path = path.to_path_buf();
    header.point_count = cloud.len() as u64;
    // An area read: what was kept; a whole read of many files: their headers' union.
    header.bounds = if area.is_some() {
        cloud.bounds()
    } else {
        extent
    };
    Ok(Loaded {
        cloud,
        header,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("sample_data")
            .join(name)
    }

    /// An area read keeps exactly the points a full read has inside the area, in file order.
    #[test]
    fn area_read_is_the_full_read_filtered() {
        let f = sample("epoch1_2025.laz");
        let all = read_with(&f, Fields::ALL, |_, _| true).unwrap().cloud;
        let b = all.bounds();
        let a = [
            b.min[0] + 10.0,
            b.min[1] + 20.0,
            (b.min[0] + b.max[0]) / 2.0,
            (b.min[1] + b.max[1]) / 2.0,
        ];
        let part = read_area(&f, Fields::ALL, Some(a), None, |_, _| true)
            .unwrap()
            .cloud;
        let inside: Vec<usize> = (0..all.len())
            .filter(|&i| contains(&a, all.world(i)))
            .collect();
        assert!(inside.len() > 1000 && inside.len() < all.len() / 2);
        assert_eq!(part.len(), inside.len());
        for (k, &i) in inside.iter().enumerate() {
            let (p, q) = (all.world(i), part.world(k));
            assert!((0..3).all(|d| (p[d] - q[d]).abs() < 1e-3), "{p:?} {q:?}");
        }
        let (c1, c2) = (all.classification.unwrap(), part.classification.unwrap());
        assert!(inside.iter().enumerate().all(|(k, &i)| c1[i] == c2[k]));
    }

    #[test]
    fn folder_and_glob_name_the_same_sorted_files() {
        let dir = tempfile::tempdir().unwrap();
        for n in ["b.laz", "a.LAS", "notes.txt"] {
            std::fs::write(dir.path().join(n), b"x").unwrap();
        }
        let names = |v: Vec<PathBuf>| -> Vec<String> {
            v.iter()
                .map(|p| p.file_name().unwrap().to_string_lossy().into())
                .collect()
        };
        assert_eq!(names(expand(dir.path()).unwrap()), ["a.LAS", "b.laz"]);
        assert_eq!(names(expand(&dir.path().join("*.laz")).unwrap()), ["b.laz"]);
        let e = expand(&dir.path().join("*.copc")).unwrap_err().to_string();
        assert!(e.contains("no .las or .laz files"), "{e}");
    }
}
