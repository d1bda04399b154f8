//! A pair of epochs fit to compare: both read, neither empty, in one CRS (or a warning),
//! overlapping, epoch 2 in epoch 1's local frame and height system.

use super::heights::{Heights, HeightsNote};
use super::{load_epoch_in, Cancel, PipelineError, Progress, Result};
use crate::analysis::AnalysisError;
use crate::cloud::PointCloud;
use crate::io::las;
use std::path::Path;

fn crs_compatible(a: &PointCloud, b: &PointCloud, warnings: &mut Vec<String>) -> Result<()> {
    match (&a.crs, &b.crs) {
        (Some(x), Some(y)) => {
            if !x.same_as(y) {
                let name = |c: &crate::cloud::Crs| {
                    format!(
                        "{}{}",
                        c.name,
                        c.epsg.map(|e| format!(" (EPSG:{e})")).unwrap_or_default()
                    )
                };
                return Err(PipelineError::Invalid(format!(
                    "the epochs are in different CRSs: epoch 1 {}, epoch 2 {}; reproject one first",
                    name(x),
                    name(y)
                )));
            }
        }
        (None, None) => {
            warnings.push("neither epoch names a CRS; assuming both are in the same one".into())
        }
        (None, Some(_)) => warnings.push("epoch 1 has no CRS; assuming it is epoch 2's".into()),
        (Some(_), None) => warnings.push("epoch 2 has no CRS; assuming it is epoch 1's".into()),
    }
    Ok(())
}

fn overlap(a: &PointCloud, b: &PointCloud) -> Result<()> {
    let (p, q) = (a.bounds(), b.bounds());
    let xy = p.min[0] <= q.max[0]
        && q.min[0] <= p.max[0]
        && p.min[1] <= q.max[1]
        && q.min[1] <= p.max[1];
    if !xy {
        let f = |b: crate::cloud::Bounds| {
            format!(
                "{:.2} {:.2} .. {:.2} {:.2}",
                b.min[0], b.min[1], b.max[0], b.max[1]
            )
        };
        return Err(AnalysisError::NoOverlap(f(p), f(q)).into());
    }
    Ok(())
}

/// Reads both epochs (with `fields`; only points inside `area` when given), checks them, and
/// puts epoch 2 in epoch 1's local frame.
pub(crate) fn load_pair(
    [p1, p2]: [&Path; 2],
    [fields1, fields2]: [las::Fields; 2],
    area: Option<&super::tiling::TileArea>,
    heights: &Heights,
    warnings: &mut Vec<String>,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<(PointCloud, PointCloud, HeightsNote)> {
    let tile = |k| area.map(|a| (a, k));
    let l1 = load_epoch_in(p1, fields1, tile(0), progress, cancel)?;
    let l2 = load_epoch_in(p2, fields2, tile(1), progress, cancel)?;
    let (e1, mut e2) = (l1.cloud, l2.cloud);
    if area.is_some() && (e1.is_empty() || e2.is_empty()) {
        // A tile where an epoch has no point: nothing to compare there, not an error.
        e2.rebase(e1.origin);
        return Ok((e1, e2, HeightsNote::default()));
    }
    check_pair(&e1, &mut e2, warnings)?;
    let dates = [l1.header.creation_date, l2.header.creation_date];
    let note = super::heights::convert(heights, &e1, &mut e2, dates, warnings)?;
    Ok((e1, e2, note))
}

/// Two epochs fit to compare: neither empty, same CRS (or a warning), overlapping; epoch 2 is
/// moved into epoch 1's local frame.
pub(crate) fn check_pair(
    e1: &PointCloud,
    e2: &mut PointCloud,
    warnings: &mut Vec<String>,
) -> Result<()> {
    if e1.is_empty() {
        return Err(AnalysisError::EmptyEpoch("epoch 1").into());
    }
    if e2.is_empty() {
        return Err(AnalysisError::EmptyEpoch("epoch 2").into());
    }
    crs_compatible(e1, e2, warnings)?;
    e2.rebase(e1.origin);
    overlap(e1, e2)
}
