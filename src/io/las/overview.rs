//! The overview of a large file: a spread of its points, read first so that a viewer draws
//! the whole survey at once and refines while the rest is read (`kizashi view`).
//!
//! - COPC: the top levels of its octree, which is what COPC was made for.
//! - LAZ: the first points of every chunk (of every k-th chunk when there are many). A chunk
//!   decodes from its start, so a prefix costs only its own points; the chunks follow the
//!   survey in file order (flight lines, tiles), so their prefixes spread over all of it.
//! - LAS: blocks of consecutive records at an even stride, read straight from their offsets.
//!
//! The overview has the origin a whole read of the file gets, so it can be swapped for the
//! whole cloud without moving.

use super::{copc, is_many, Chunk, Fields, LasReader, Loaded};
use crate::cloud::{origin_for, PointCloud};
use crate::io::Result;
use std::path::Path;

/// Points of an overview unless told otherwise: drawn at once even by a software renderer.
pub const OVERVIEW_POINTS: u64 = 1 << 20;
/// Consecutive LAS records read together.
const BLOCK: u64 = 256;
/// LAZ chunks read at most: each costs its bytes and its decoder's set-up, whatever the prefix
/// (a 100 M-point file: 2000 chunks in 2.2 s, 512 in 0.75 s). Below that, short prefixes from
/// many chunks spread the overview more evenly than long ones from a few.
const MAX_CHUNKS: u64 = 512;

/// About `max_points` points spread over the file; None when the file is small enough to read
/// whole at once (or is a set of files, or its header bounds are unusable).
pub fn read_overview(path: &Path, fields: Fields, max_points: u64) -> Result<Option<Loaded>> {
    if is_many(path) {
        return Ok(None);
    }
    let mut r = LasReader::open_with(path, fields)?;
    let h = r.header.clone();
    let bounds_ok = h
        .bounds
        .min
        .iter()
        .chain(h.bounds.max.iter())
        .all(|v| v.is_finite() && v.abs() < 1e12);
    if h.point_count <= max_points.max(1) || !bounds_ok {
        return Ok(None);
    }
    let mut cloud = PointCloud::with_origin(origin_for(&h.bounds));
    cloud.crs = h.crs.clone();
    if h.compressed {
        let copc = h
            .copc
            .then(|| copc::hierarchy(path, h.point_count))
            .flatten();
        let chunks = match copc {
            Some(hier) => hier.top_levels(max_points),
            None => prefixes(&h.chunks, max_points),
        };
        // In batches: the compressed bytes held at once stay small.
        let mut batch = Vec::new();
        let mut points = 0;
        for c in chunks {
            batch.push(c);
            points += c.points;
            if points >= 1 << 18 {
                r.read_chunks(&batch, &mut cloud)?;
                (batch, points) = (Vec::new(), 0);
            }
        }
        if !batch.is_empty() {
            r.read_chunks(&batch, &mut cloud)?;
        }
    } else {
        r.read_blocks(&blocks(h.point_count, max_points), &mut cloud)?;
    }
    // Points far from the header's bounds: the whole read re-centres them; no overview.
    let b = cloud.bounds();
    let far = (0..3).any(|k| {
        let (c, o) = (b.center()[k], cloud.origin[k]);
        !c.is_finite() || (c - o).abs() > 1e4 + h.bounds.size()[k]
    });
    if cloud.is_empty() || far {
        return Ok(None);
    }
    let warnings = h.warnings.clone();
    Ok(Some(Loaded {
        cloud,
        header: h,
        warnings,
    }))
}

/// The LAZ chunks to read and how many of each one's first points: about `max_points` in all,
/// from chunks evenly spread over the file.
fn prefixes(chunks: &[Chunk], max_points: u64) -> Vec<Chunk> {
    let n = chunks.len() as u64;
    if n == 0 {
        return Vec::new();
    }
    let per = (max_points / n).max(max_points / MAX_CHUNKS).max(1);
    let taken = (max_points / per).clamp(1, n);
    let step = n as f64 / taken as f64;
    (0..taken)
        .map(|k| chunks[(((k as f64 + 0.5) * step) as usize).min(n as usize - 1)])
        .map(|c| Chunk {
            points: c.points.min(per),
            ..c
        })
        .filter(|c| c.points > 0)
        .collect()
}

/// LAS: (first record, count) of about `max_points / BLOCK` blocks at an even stride.
fn blocks(total: u64, max_points: u64) -> Vec<(u64, u64)> {
    let block = BLOCK.min(max_points.max(1));
    let count = (max_points / block).max(1);
    let stride = (total / count).max(block);
    (0..count)
        .map(|k| (k * stride, block.min(total.saturating_sub(k * stride))))
        .filter(|b| b.1 > 0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn laz_prefixes_spread_over_the_file_and_add_up() {
        let chunks: Vec<Chunk> = (0..2000u64)
            .map(|k| Chunk {
                offset: 1000 + k * 100,
                points: if k == 1999 { 7 } else { 50_000 },
                bytes: 100,
            })
            .collect();
        // 1 M from 2000 chunks: 2048 points from each of 512, from the first chunks to the last.
        let p = prefixes(&chunks, 1 << 20);
        assert_eq!(p.len(), 512);
        assert!(p.iter().all(|c| c.points == 2048 && c.bytes == 100));
        assert!(p[0].offset < 1000 + 3 * 100 && p[511].offset > 1000 + 1995 * 100);
        assert!(p.windows(2).all(|w| w[0].offset < w[1].offset));
        // 0.5 M from 400 chunks: 1280 from each of them.
        let p = prefixes(&chunks[..400], 512_000);
        assert_eq!(p.len(), 400);
        assert!(p.iter().all(|c| c.points == 1280));
        // Few chunks: a longer prefix of each; a short last chunk gives what it has.
        let p = prefixes(&chunks[1990..], 1 << 20);
        assert_eq!(p.len(), 10);
        assert_eq!(p[9].points, 7);
        assert!(p[..9].iter().all(|c| c.points == 50_000));
        assert!(prefixes(&[], 100).is_empty());
    }

    #[test]
    fn las_blocks_stay_inside_the_file() {
        let b = blocks(10_000_000, 1 << 20);
        assert_eq!(b.len(), 4096);
        assert_eq!(b[0], (0, 256));
        assert!(b.iter().all(|&(s, c)| c == 256 && s + c <= 10_000_000));
        assert_eq!(b[1].0, 10_000_000 / 4096);
        assert_eq!(blocks(1000, 512), vec![(0, 256), (500, 256)]);
        // Blocks never overlap, even when the stride would be shorter than a block.
        assert_eq!(blocks(600, 768), vec![(0, 256), (256, 256), (512, 88)]);
        // Fewer points asked than a block: one shorter block.
        assert_eq!(blocks(1000, 100), vec![(0, 100)]);
    }
}
