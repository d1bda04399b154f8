//! The COPC octree, for area reads: which nodes of a COPC file meet an area. Every chunk of a
//! COPC file is one node (COPC 1.0 spec) and the hierarchy gives each node's byte offset, size
//! and point count, so an area read decodes the chunks of the nodes it needs, in file order,
//! and nothing else. (laz-rs's `seek` assumes fixed-size chunks, so the chunks are decoded
//! from their bytes with `par_decompress_selective`.)
//!
//! Written by hand (about 100 lines) because `copc-rs` brings its own las/laz versions and
//! yields points node by node in hierarchy order, not the file order the core-point rule uses.
//! Anything that does not add up (offsets outside the file, counts that do not sum to the
//! header's) gives `None`, and the caller reads the file sequentially.

use super::{Area, Chunk};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// One hierarchy entry with points: its key (depth, x, y, z), byte offset, size and count.
struct Node {
    key: [i32; 4],
    offset: u64,
    bytes: u64,
    points: u64,
}

/// Nodes stored one after another: where the first starts, and each one's points and bytes.
pub struct Run {
    pub offset: u64,
    pub chunks: Vec<(u64, u64)>,
}

fn read_at(f: &mut File, at: u64, len: usize) -> Option<Vec<u8>> {
    let mut b = vec![0u8; len];
    f.seek(SeekFrom::Start(at)).ok()?;
    f.read_exact(&mut b).ok()?;
    Some(b)
}

fn u64_at(b: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or_default())
}

fn f64_at(b: &[u8], i: usize) -> f64 {
    f64::from_le_bytes(b[i..i + 8].try_into().unwrap_or_default())
}

fn i32_at(b: &[u8], i: usize) -> i32 {
    i32::from_le_bytes(b[i..i + 4].try_into().unwrap_or_default())
}

/// A COPC file's octree: the root cube (centre x, y; half edge) and every node with points,
/// in file order, checked against the file and the header's point count.
pub struct Hierarchy {
    cx: f64,
    cy: f64,
    half: f64,
    /// Centre z and the root's point spacing (the info VLR's); read by on-demand viewing.
    cz: f64,
    spacing: f64,
    nodes: Vec<Node>,
}

/// Reads and checks the hierarchy; None when the file is not a COPC file this can read.
pub fn hierarchy(path: &Path, total: u64) -> Option<Hierarchy> {
    let mut f = File::open(path).ok()?;
    let size = f.metadata().ok()?.len();
    // The info VLR comes first, right after the 375-byte LAS 1.4 header.
    let vlr = read_at(&mut f, 375, 54 + 160)?;
    if &vlr[2..6] != b"copc" || u16::from_le_bytes([vlr[18], vlr[19]]) != 1 {
        return None;
    }
    let info = &vlr[54..];
    let (cx, cy, half) = (f64_at(info, 0), f64_at(info, 8), f64_at(info, 24));
    let (cz, spacing) = (f64_at(info, 16), f64_at(info, 32));
    let (root, root_size) = (u64_at(info, 40), u64_at(info, 48));
    if !(half.is_finite() && half > 0.0 && cx.is_finite() && cy.is_finite() && cz.is_finite()) {
        return None;
    }
    let mut nodes = Vec::new();
    let mut pages = vec![(root, root_size)];
    let mut seen = 0;
    while let Some((at, len)) = pages.pop() {
        seen += 1;
        if len % 32 != 0 || at.checked_add(len)? > size || seen > 1_000_000 {
            return None;
        }
        let page = read_at(&mut f, at, usize::try_from(len).ok()?)?;
        for e in page.chunks_exact(32) {
            let key = [0, 4, 8, 12].map(|i| i32_at(e, i));
            let (offset, bytes, count) = (u64_at(e, 16), i32_at(e, 24), i32_at(e, 28));
            match count {
                -1 => pages.push((offset, u64::try_from(bytes).ok()?)),
                0 => {}
                n if n > 0 && bytes > 0 => nodes.push(Node {
                    key,
                    offset,
                    bytes: bytes as u64,
                    points: n as u64,
                }),
                _ => return None,
            }
        }
    }
    nodes.sort_by_key(|n| n.offset);
    if nodes.iter().map(|n| n.points).sum::<u64>() != total {
        return None;
    }
    // A node's points are decoded at once: a count no chunk of its size could hold is a lie
    // (the sequential reader, which grows with what decodes, then reads the file).
    if nodes
        .iter()
        .any(|n| n.points > 1 << 24 || n.points > n.bytes.saturating_mul(1000))
    {
        return None;
    }
    if nodes
        .windows(2)
        .any(|w| w[0].offset + w[0].bytes > w[1].offset)
        || nodes.last().is_some_and(|n| n.offset + n.bytes > size)
    {
        return None;
    }
    if nodes.iter().any(|n| !(0..32).contains(&n.key[0])) {
        return None;
    }
    Some(Hierarchy {
        cx,
        cy,
        half,
        cz,
        spacing,
        nodes,
    })
}

impl Hierarchy {
    /// The root cube: its centre and half edge (CRS units).
    pub fn cube(&self) -> ([f64; 3], f64) {
        ([self.cx, self.cy, self.cz], self.half)
    }

    /// The root's point spacing as the file states it (0 or less: not stated).
    pub fn spacing(&self) -> f64 {
        self.spacing
    }

    /// Every node with points, in file order: its key (depth, x, y, z) and its chunk.
    pub fn nodes(&self) -> impl Iterator<Item = ([i32; 4], Chunk)> + '_ {
        self.nodes.iter().map(|n| {
            (
                n.key,
                Chunk {
                    offset: n.offset,
                    points: n.points,
                    bytes: n.bytes,
                },
            )
        })
    }

    /// The overview: every node of the top levels, as many levels as fit in `max_points` (the
    /// root level at least), in file order. COPC's levels are what it was made for: each
    /// level halves the spacing of those above it, over the whole cube.
    pub fn top_levels(&self, max_points: u64) -> Vec<Chunk> {
        let deepest = self.nodes.iter().map(|n| n.key[0]).max().unwrap_or(0);
        let mut depth = 0;
        let mut sum = 0;
        for d in 0..=deepest {
            let level: u64 = self
                .nodes
                .iter()
                .filter(|n| n.key[0] == d)
                .map(|n| n.points)
                .sum();
            if d > 0 && sum + level > max_points {
                break;
            }
            sum += level;
            depth = d;
        }
        self.nodes
            .iter()
            .filter(|n| n.key[0] <= depth)
            .map(|n| Chunk {
                offset: n.offset,
                points: n.points,
                bytes: n.bytes,
            })
            .collect()
    }
}

/// The nodes meeting `area` (in x and y), in file order, as runs of adjacent nodes of at most
/// `max_points` (memory stays bounded); None when the file is not a COPC file this can read.
pub fn runs(path: &Path, total: u64, area: &Area, max_points: u64) -> Option<Vec<Run>> {
    let Hierarchy {
        cx,
        cy,
        half,
        nodes,
        ..
    } = hierarchy(path, total)?;
    let mut out: Vec<Run> = Vec::new();
    for n in &nodes {
        let [d, x, y, _] = n.key;
        let side = 2.0 * half / f64::from(1u32 << d);
        let (x0, y0) = (
            cx - half + f64::from(x) * side,
            cy - half + f64::from(y) * side,
        );
        let meets = x0 <= area[2] && area[0] <= x0 + side && y0 <= area[3] && area[1] <= y0 + side;
        if !meets {
            continue;
        }
        match out.last_mut() {
            Some(r)
                if r.offset + r.chunks.iter().map(|c| c.1).sum::<u64>() == n.offset
                    && r.chunks.iter().map(|c| c.0).sum::<u64>() + n.points <= max_points =>
            {
                r.chunks.push((n.points, n.bytes))
            }
            _ => out.push(Run {
                offset: n.offset,
                chunks: vec![(n.points, n.bytes)],
            }),
        }
    }
    Some(out)
}
