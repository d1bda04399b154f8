//! Level-of-detail octree over one point cloud (Potree's idea, and 3D Tiles' "refine ADD"):
//! every point lives in exactly one node; a node keeps one point per cell of a `grid`^3 voxel
//! grid over its cube (the point nearest the cell centre), and hands the rest to its eight
//! children. Drawing the nodes from the root down therefore shows the whole cloud at a
//! spacing that halves with each level, and the viewer (or a tileset) can stop at any depth.
//!
//! Written here rather than taken from a crate: the maintained Rust octrees are spatial
//! indexes (points in leaves only), not LOD hierarchies where inner nodes hold a subsample.

use rayon::prelude::*;
use std::collections::HashMap;

#[derive(Clone, Copy, Debug)]
pub struct Params {
    /// Cells per side of a node's sampling grid (Potree uses 128).
    pub grid: u32,
    /// A node with at most this many points keeps them all (a leaf).
    pub max_leaf: usize,
    /// Deepest level; the last level keeps whatever reaches it.
    pub max_depth: u8,
    /// An inner node keeps at most this many of its grid samples (evenly spread); the rest
    /// go down to its children. `usize::MAX`: one per occupied cell.
    pub max_node: usize,
}

impl Default for Params {
    fn default() -> Params {
        Params { grid: 128, max_leaf: 20_000, max_depth: 20, max_node: usize::MAX }
    }
}

#[derive(Clone, Debug)]
pub struct Node {
    /// Cube corner and side length, in the cloud's local frame.
    pub min: [f32; 3],
    pub size: f32,
    pub level: u8,
    /// Tight bounds of this node's own points and all its descendants'.
    pub tight_min: [f32; 3],
    pub tight_max: [f32; 3],
    /// This node's points: `order[start..start + count]`.
    pub start: usize,
    pub count: usize,
    /// Indices into `Octree::nodes`.
    pub children: Vec<u32>,
}

impl Node {
    /// Distance between neighbouring points of this node's sample (its grid cell).
    pub fn spacing(&self, grid: u32) -> f32 {
        self.size / grid as f32
    }

    pub fn center(&self) -> [f32; 3] {
        [0, 1, 2].map(|k| self.min[k] + 0.5 * self.size)
    }

    pub fn is_leaf(&self) -> bool {
        self.children.is_empty()
    }
}

#[derive(Clone, Debug, Default)]
pub struct Octree {
    /// Node 0 is the root (when there are points).
    pub nodes: Vec<Node>,
    /// Point indices into the source cloud, grouped by node.
    pub order: Vec<u32>,
    pub params: Params,
    /// Points that were left out because a coordinate was not finite.
    pub skipped: usize,
}

struct Tmp {
    min: [f32; 3],
    size: f32,
    level: u8,
    points: Vec<u32>,
    children: Vec<Tmp>,
    tight: ([f32; 3], [f32; 3]),
}

impl Octree {
    pub fn build(positions: &[[f32; 3]], params: Params) -> Octree {
        let params = Params { grid: params.grid.clamp(1, 1 << 20), max_leaf: params.max_leaf.max(1), ..params };
        let idx: Vec<u32> = (0..positions.len() as u32).filter(|&i| positions[i as usize].iter().all(|v| v.is_finite())).collect();
        let skipped = positions.len() - idx.len();
        if idx.is_empty() {
            return Octree { nodes: Vec::new(), order: Vec::new(), params, skipped };
        }
        let (lo, hi) = idx.par_iter().fold(
            || ([f32::MAX; 3], [f32::MIN; 3]),
            |(mut lo, mut hi), &i| {
                let p = positions[i as usize];
                for k in 0..3 {
                    lo[k] = lo[k].min(p[k]);
                    hi[k] = hi[k].max(p[k]);
                }
                (lo, hi)
            },
        ).reduce(|| ([f32::MAX; 3], [f32::MIN; 3]), |a, b| ([0, 1, 2].map(|k| a.0[k].min(b.0[k])), [0, 1, 2].map(|k| a.1[k].max(b.1[k]))));
        // A cube, slightly larger than the data so the maximum falls inside the last cell.
        let size = (0..3).map(|k| hi[k] - lo[k]).fold(0.0f32, f32::max).max(1e-3) * 1.0001;
        let root = build_node(positions, idx, lo, size, 0, &params);
        let mut tree = Octree { nodes: Vec::new(), order: Vec::with_capacity(positions.len()), params, skipped };
        flatten(root, &mut tree);
        tree
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    pub fn points(&self, node: usize) -> &[u32] {
        let n = &self.nodes[node];
        &self.order[n.start..n.start + n.count]
    }

    /// Nodes to draw for one view, most important first, until `budget` points: a node is
    /// taken when `visible(tight_min, tight_max)` and its children are considered only while
    /// `screen_size(node)` (e.g. its projected size in pixels) is at least `min_screen`.
    pub fn select(
        &self,
        budget: usize,
        min_screen: f32,
        visible: impl Fn(&[f32; 3], &[f32; 3]) -> bool,
        screen_size: impl Fn(&Node) -> f32,
    ) -> Vec<u32> {
        let mut out = Vec::new();
        if self.nodes.is_empty() {
            return out;
        }
        // Max-heap on screen size; f32 ordered through its bits (sizes are >= 0).
        let mut heap = std::collections::BinaryHeap::new();
        heap.push((screen_size(&self.nodes[0]).max(0.0).to_bits(), 0u32));
        let mut total = 0usize;
        while let Some((_, id)) = heap.pop() {
            let node = &self.nodes[id as usize];
            if !visible(&node.tight_min, &node.tight_max) {
                continue;
            }
            if total + node.count > budget && !out.is_empty() {
                break;
            }
            total += node.count;
            out.push(id);
            for &c in &node.children {
                let s = screen_size(&self.nodes[c as usize]);
                if s >= min_screen {
                    heap.push((s.max(0.0).to_bits(), c));
                }
            }
        }
        out
    }
}

fn build_node(pos: &[[f32; 3]], idx: Vec<u32>, min: [f32; 3], size: f32, level: u8, params: &Params) -> Tmp {
    let mut tight = ([f32::MAX; 3], [f32::MIN; 3]);
    let grow = |t: &mut ([f32; 3], [f32; 3]), p: &[f32; 3]| {
        for k in 0..3 {
            t.0[k] = t.0[k].min(p[k]);
            t.1[k] = t.1[k].max(p[k]);
        }
    };
    if idx.len() <= params.max_leaf.min(params.max_node) || level >= params.max_depth {
        for &i in &idx {
            grow(&mut tight, &pos[i as usize]);
        }
        return Tmp { min, size, level, points: idx, children: Vec::new(), tight };
    }
    let g = params.grid;
    let cell = size / g as f32;
    let cell_of = |p: &[f32; 3]| -> [u32; 3] { [0, 1, 2].map(|k| (((p[k] - min[k]) / cell) as u32).min(g - 1)) };
    // One point per cell: the one nearest the cell centre (ties: lower index), so the sample
    // looks even and does not depend on the file's point order.
    let mut best: HashMap<u64, (u32, f32)> = HashMap::with_capacity(idx.len().min((g * g * 4) as usize));
    for &i in &idx {
        let p = &pos[i as usize];
        let c = cell_of(p);
        let d2: f32 = (0..3).map(|k| {
            let centre = min[k] + (c[k] as f32 + 0.5) * cell;
            (p[k] - centre) * (p[k] - centre)
        }).sum();
        let key = (u64::from(c[0]) << 42) | (u64::from(c[1]) << 21) | u64::from(c[2]);
        best.entry(key).and_modify(|e| if d2 < e.1 || (d2 == e.1 && i < e.0) { *e = (i, d2) }).or_insert((i, d2));
    }
    let mut keep: Vec<u32> = if best.len() > params.max_node {
        // Every k-th cell in Morton-like key order keeps the cap evenly spread over the node.
        let mut cells: Vec<(u64, u32)> = best.iter().map(|(k, e)| (interleave(*k), e.0)).collect();
        cells.sort_unstable();
        let step = cells.len().div_ceil(params.max_node);
        cells.into_iter().step_by(step).map(|c| c.1).collect()
    } else {
        best.values().map(|e| e.0).collect()
    };
    keep.sort_unstable();
    let mut octants: [Vec<u32>; 8] = Default::default();
    let half = size * 0.5;
    let mut k_iter = keep.iter().peekable();
    for &i in &idx {
        if k_iter.peek() == Some(&&i) {
            k_iter.next();
            continue;
        }
        let p = &pos[i as usize];
        let o = (0..3).fold(0usize, |o, k| o | (usize::from(p[k] - min[k] >= half) << k));
        octants[o].push(i);
    }
    drop(idx);
    for &i in &keep {
        grow(&mut tight, &pos[i as usize]);
    }
    let children: Vec<Tmp> = octants
        .into_par_iter()
        .enumerate()
        .filter(|(_, v)| !v.is_empty())
        .map(|(o, v)| {
            let cmin = [0, 1, 2].map(|k| min[k] + if o >> k & 1 == 1 { half } else { 0.0 });
            build_node(pos, v, cmin, half, level + 1, params)
        })
        .collect();
    for c in &children {
        grow(&mut tight, &c.tight.0);
        grow(&mut tight, &c.tight.1);
    }
    Tmp { min, size, level, points: keep, children, tight }
}

/// Morton order of a packed (x << 42 | y << 21 | z) cell key.
fn interleave(key: u64) -> u64 {
    let spread = |v: u64| (0..21).fold(0u64, |acc, b| acc | (((v >> b) & 1) << (3 * b)));
    let (x, y, z) = ((key >> 42) & 0x1F_FFFF, (key >> 21) & 0x1F_FFFF, key & 0x1F_FFFF);
    spread(x) | (spread(y) << 1) | (spread(z) << 2)
}

/// Breadth-first, so a node's children are contiguous and parents come before children.
fn flatten(root: Tmp, tree: &mut Octree) {
    let mut queue = std::collections::VecDeque::new();
    queue.push_back((root, None::<usize>));
    while let Some((t, parent)) = queue.pop_front() {
        let id = tree.nodes.len();
        if let Some(p) = parent {
            tree.nodes[p].children.push(id as u32);
        }
        tree.nodes.push(Node {
            min: t.min,
            size: t.size,
            level: t.level,
            tight_min: t.tight.0,
            tight_max: t.tight.1,
            start: tree.order.len(),
            count: t.points.len(),
            children: Vec::new(),
        });
        tree.order.extend_from_slice(&t.points);
        for c in t.children {
            queue.push_back((c, Some(id)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn terrain(n: usize) -> Vec<[f32; 3]> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        (0..n).map(|_| {
            let x: f32 = rng.random_range(0.0..100.0);
            let y: f32 = rng.random_range(0.0..50.0);
            [x, y, (x * 0.1).sin() * 3.0 + y * 0.05]
        }).collect()
    }

    #[test]
    fn every_point_once_and_inside_its_node() {
        let mut pos = terrain(60_000);
        pos.push([f32::NAN, 0.0, 0.0]);
        let t = Octree::build(&pos, Params { grid: 32, max_leaf: 2_000, max_depth: 12, max_node: usize::MAX });
        assert_eq!(t.skipped, 1);
        assert_eq!(t.len(), 60_000);
        let mut seen = vec![false; pos.len()];
        for (id, n) in t.nodes.iter().enumerate() {
            for &i in t.points(id) {
                assert!(!seen[i as usize], "point {i} twice");
                seen[i as usize] = true;
                let p = pos[i as usize];
                for k in 0..3 {
                    assert!(p[k] >= n.min[k] && p[k] <= n.min[k] + n.size, "point outside its cube");
                    assert!(p[k] >= n.tight_min[k] && p[k] <= n.tight_max[k]);
                }
            }
            for &c in &n.children {
                let c = &t.nodes[c as usize];
                assert_eq!(c.level, n.level + 1);
                assert!((c.size - n.size * 0.5).abs() < 1e-4);
                for k in 0..3 {
                    assert!(c.tight_min[k] >= n.tight_min[k] && c.tight_max[k] <= n.tight_max[k]);
                }
            }
            // Inner nodes hold at most one point per grid cell.
            if !n.is_leaf() {
                assert!(n.count <= 32 * 32 * 32);
            } else {
                assert!(n.count <= 2_000 || n.level == 12);
            }
        }
        assert_eq!(seen.iter().filter(|s| **s).count(), 60_000);
        // The root samples at its cell size: no two root points share a cell.
        let root = &t.nodes[0];
        let cell = root.spacing(32);
        let mut cells = std::collections::HashSet::new();
        for &i in t.points(0) {
            let p = pos[i as usize];
            assert!(cells.insert([0, 1, 2].map(|k| ((p[k] - root.min[k]) / cell) as i32)));
        }
        assert!(root.count > 500, "root should cover the terrain: {}", root.count);
    }

    #[test]
    fn node_cap_holds_and_keeps_every_point() {
        let pos = terrain(60_000);
        let t = Octree::build(&pos, Params { grid: 64, max_leaf: 1_500, max_depth: 16, max_node: 1_500 });
        assert!(t.nodes.iter().all(|n| n.count <= 1_500), "max {}", t.nodes.iter().map(|n| n.count).max().unwrap_or(0));
        assert_eq!(t.len(), 60_000);
        // The capped root still covers the whole extent (evenly spread, not one corner).
        let root: Vec<[f32; 3]> = t.points(0).iter().map(|&i| pos[i as usize]).collect();
        assert!(root.iter().any(|p| p[0] < 20.0) && root.iter().any(|p| p[0] > 80.0));
        assert!(root.iter().any(|p| p[1] < 10.0) && root.iter().any(|p| p[1] > 40.0));
    }

    #[test]
    fn select_respects_budget_and_visibility() {
        let pos = terrain(60_000);
        let t = Octree::build(&pos, Params { grid: 32, max_leaf: 2_000, max_depth: 12, max_node: usize::MAX });
        let all = t.select(usize::MAX, 0.0, |_, _| true, |n| n.size);
        assert_eq!(all.len(), t.nodes.len());
        let some = t.select(10_000, 0.0, |_, _| true, |n| n.size);
        let drawn: usize = some.iter().map(|&i| t.nodes[i as usize].count).sum();
        assert!(drawn <= 10_000 && drawn > 2_000, "{drawn}");
        // Parents come before children: larger screen size first.
        assert_eq!(some[0], 0);
        // Nothing visible right of x = 50 -> no node entirely there is taken.
        let left = t.select(usize::MAX, 0.0, |lo, _| lo[0] < 50.0, |n| n.size);
        assert!(left.iter().all(|&i| t.nodes[i as usize].tight_min[0] < 50.0));
        assert!(left.len() < t.nodes.len());
        assert!(Octree::build(&[], Params::default()).select(10, 0.0, |_, _| true, |_| 1.0).is_empty());
    }
}
