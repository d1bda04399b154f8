//! Level-of-detail octree over one point cloud (Potree's idea, and 3D Tiles' "refine ADD"):
//! every point lives in exactly one node; a node keeps one point per cell of a `grid`^3 voxel
//! grid over its cube (the point nearest the cell centre), and hands the rest to its eight
//! children. Drawing the nodes from the root down therefore shows the whole cloud at a
//! spacing that halves with each level, and the viewer (or a tileset) can stop at any depth.
//!
//! Written here rather than taken from a crate: the maintained Rust octrees are spatial
//! indexes (points in leaves only), not LOD hierarchies where inner nodes hold a subsample.

use rayon::prelude::*;

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
        Params {
            grid: 128,
            max_leaf: 20_000,
            max_depth: 20,
            max_node: usize::MAX,
        }
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

    /// The spacing its own points show from above: its level's cell, or wider where the data
    /// are sparser than the cell (a leaf keeps every point that reached it, however few), up
    /// to 4 cells (a few points strung along a wire should not become blobs).
    pub fn sample_spacing(&self, grid: u32) -> f32 {
        let cell = self.spacing(grid);
        let area =
            (self.tight_max[0] - self.tight_min[0]) * (self.tight_max[1] - self.tight_min[1]);
        let data = (area.max(0.0) / self.count.max(1) as f32).sqrt();
        if data.is_finite() {
            cell.max(data.min(4.0 * cell))
        } else {
            cell
        }
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
        // The grid is a power of two so a node's cells are octree cells GRID_BITS levels down:
        // then one Morton sort serves every node (its points and its cells are runs of it).
        let grid = params.grid.clamp(1, 1 << 10).next_power_of_two();
        let gbits = grid.trailing_zeros() as u8;
        let params = Params {
            grid,
            max_leaf: params.max_leaf.max(1),
            max_node: params.max_node.max(1),
            max_depth: params.max_depth.min(MORTON_BITS - gbits),
        };
        let idx: Vec<u32> = (0..positions.len() as u32)
            .filter(|&i| positions[i as usize].iter().all(|v| v.is_finite()))
            .collect();
        let skipped = positions.len() - idx.len();
        if idx.is_empty() {
            return Octree {
                nodes: Vec::new(),
                order: Vec::new(),
                params,
                skipped,
            };
        }
        let (lo, hi) = idx
            .par_iter()
            .fold(
                || ([f32::MAX; 3], [f32::MIN; 3]),
                |(mut lo, mut hi), &i| {
                    let p = positions[i as usize];
                    for k in 0..3 {
                        lo[k] = lo[k].min(p[k]);
                        hi[k] = hi[k].max(p[k]);
                    }
                    (lo, hi)
                },
            )
            .reduce(
                || ([f32::MAX; 3], [f32::MIN; 3]),
                |a, b| {
                    (
                        [0, 1, 2].map(|k| a.0[k].min(b.0[k])),
                        [0, 1, 2].map(|k| a.1[k].max(b.1[k])),
                    )
                },
            );
        // A cube, slightly larger than the data so the maximum falls inside the last cell.
        let size = (0..3)
            .map(|k| hi[k] - lo[k])
            .fold(0.0f32, f32::max)
            .max(1e-3)
            * 1.0001;
        let scale = (1u64 << MORTON_BITS) as f64 / f64::from(size);
        let mut items: Vec<(u64, u32)> = idx
            .par_iter()
            .map(|&i| {
                let p = positions[i as usize];
                let q = [0, 1, 2].map(|k| {
                    ((f64::from(p[k] - lo[k]) * scale) as u64).min((1 << MORTON_BITS) - 1)
                });
                (spread(q[0]) | (spread(q[1]) << 1) | (spread(q[2]) << 2), i)
            })
            .collect();
        drop(idx);
        items.par_sort_unstable();
        let frame = Frame {
            min: lo.map(f64::from),
            quantum: f64::from(size) / (1u64 << MORTON_BITS) as f64,
        };
        let root = build_node(&frame, &mut items, lo, size, 0, &params);
        // The codes (16 bytes a point) go before `order` is made: the build's peak is then the
        // codes and the nodes' point lists (20 bytes a point), not that and `order` (24).
        drop(items);
        let mut tree = Octree {
            nodes: Vec::new(),
            order: Vec::with_capacity(positions.len()),
            params,
            skipped,
        };
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
    ) -> Selection {
        let mut out = Selection::default();
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
            if total + node.count > budget && !out.nodes.is_empty() {
                out.budget_full = true;
                break;
            }
            total += node.count;
            out.nodes.push(id);
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

/// What `Octree::select` picked for a view.
#[derive(Debug, Default)]
pub struct Selection {
    /// Node ids, most important first.
    pub nodes: Vec<u32>,
    /// The budget stopped the choice: more points in the cloud would not be drawn. Otherwise
    /// every node that the view wants is drawn, and a denser cloud would draw more.
    pub budget_full: bool,
}

impl Octree {
    /// For each drawn node, the sample spacing that covers its cube: its own
    /// (`Node::sample_spacing`) where the view stops at it; the coarsest of its children's where every child that can be seen is drawn
    /// too (their points fill in between its own, "refine ADD"). Splats of that size close
    /// the surface where levels mix and stay small where a finer level is drawn: Potree's
    /// adaptive point size, per node instead of per point.
    pub fn cover_spacing(
        &self,
        drawn: &std::collections::HashSet<u32>,
        visible: impl Fn(&Node) -> bool,
    ) -> std::collections::HashMap<u32, f32> {
        let grid = self.params.grid;
        let mut ids: Vec<u32> = drawn
            .iter()
            .copied()
            .filter(|&i| (i as usize) < self.nodes.len())
            .collect();
        // Children (deeper) first, so a parent finds theirs done.
        ids.sort_by_key(|&i| std::cmp::Reverse(self.nodes[i as usize].level));
        let mut cover = std::collections::HashMap::with_capacity(ids.len());
        for id in ids {
            let n = &self.nodes[id as usize];
            let mut finer: Option<f32> = None;
            let mut complete = !n.children.is_empty();
            for &c in &n.children {
                match cover.get(&c) {
                    Some(&s) => finer = Some(finer.map_or(s, |f: f32| f.max(s))),
                    None if !visible(&self.nodes[c as usize]) => {}
                    None => {
                        complete = false;
                        break;
                    }
                }
            }
            let own = n.sample_spacing(grid);
            cover.insert(
                id,
                match finer {
                    Some(f) if complete => f.min(own),
                    _ => own,
                },
            );
        }
        cover
    }
}

/// The root cube's corner and the size of one Morton quantum.
struct Frame {
    min: [f64; 3],
    quantum: f64,
}

/// Bits per axis of the Morton codes: node levels + grid levels fit in it.
const MORTON_BITS: u8 = 21;

/// The 21 bits of `v` spread to every third bit.
fn spread(v: u64) -> u64 {
    let mut x = v & 0x1F_FFFF;
    x = (x | (x << 32)) & 0x1F00000000FFFF;
    x = (x | (x << 16)) & 0x1F0000FF0000FF;
    x = (x | (x << 8)) & 0x100F00F00F00F00F;
    x = (x | (x << 4)) & 0x10C30C30C30C30C3;
    (x | (x << 2)) & 0x1249249249249249
}

/// Inverse of `spread`: every third bit of `v` gathered into 21 bits.
fn compact(v: u64) -> u64 {
    let mut x = v & 0x1249249249249249;
    x = (x | (x >> 2)) & 0x10C30C30C30C30C3;
    x = (x | (x >> 4)) & 0x100F00F00F00F00F;
    x = (x | (x >> 8)) & 0x1F0000FF0000FF;
    x = (x | (x >> 16)) & 0x1F00000000FFFF;
    (x | (x >> 32)) & 0x1F_FFFF
}

/// `items`: this node's points as (Morton code, index), sorted. The node keeps one point per
/// grid cell (a run of equal code prefixes): the one nearest the cell centre (ties: lower
/// index); the rest, still sorted, split into the eight children's runs.
fn build_node(
    frame: &Frame,
    items: &mut [(u64, u32)],
    min: [f32; 3],
    size: f32,
    level: u8,
    params: &Params,
) -> Tmp {
    let mut tight = ([f32::MAX; 3], [f32::MIN; 3]);
    let grow = |t: &mut ([f32; 3], [f32; 3]), p: &[f32; 3]| {
        for k in 0..3 {
            t.0[k] = t.0[k].min(p[k]);
            t.1[k] = t.1[k].max(p[k]);
        }
    };
    // Bounds from the codes: the quantum cell of each point, so they always contain it.
    let grow_code = |t: &mut ([f32; 3], [f32; 3]), code: u64| {
        for k in 0..3 {
            let q = compact(code >> k) as f64;
            t.0[k] = t.0[k].min((frame.min[k] + q * frame.quantum) as f32);
            t.1[k] = t.1[k].max((frame.min[k] + (q + 1.0) * frame.quantum) as f32);
        }
    };
    if items.len() <= params.max_leaf.min(params.max_node) || level >= params.max_depth {
        for &(c, _) in items.iter() {
            grow_code(&mut tight, c);
        }
        return Tmp {
            min,
            size,
            level,
            points: items.iter().map(|it| it.1).collect(),
            children: Vec::new(),
            tight,
        };
    }
    let gbits = params.grid.trailing_zeros() as u8;
    let cell_level = (level + gbits).min(MORTON_BITS);
    let vshift = 3 * u32::from(MORTON_BITS - cell_level);
    let n = items.len();
    // Distances to the cell centre from the codes themselves (21-bit quantized coordinates):
    // no random reads of the positions, which made this ~5x slower on millions of points.
    let cbits = u32::from(MORTON_BITS - cell_level);
    let half_cell = if cbits == 0 { 0 } else { 1i64 << (cbits - 1) };
    let best_in = |lo: usize, hi: usize| -> Vec<usize> {
        let mut chosen = Vec::new();
        let mut i = lo;
        while i < hi {
            let key = items[i].0 >> vshift;
            let (mut best, mut best_d) = (i, u64::MAX);
            let mut j = i;
            while j < hi && items[j].0 >> vshift == key {
                let c = items[j].0;
                let d: u64 = (0..3)
                    .map(|k| {
                        let q = compact(c >> k) as i64;
                        let off = (q & ((1i64 << cbits) - 1)) - half_cell;
                        (off * off) as u64
                    })
                    .sum();
                if d < best_d || (d == best_d && items[j].1 < items[best].1) {
                    best = j;
                    best_d = d;
                }
                j += 1;
            }
            chosen.push(best);
            i = j;
        }
        chosen
    };
    // Large nodes: scan in parallel pieces cut at cell boundaries.
    let mut cuts = vec![0usize];
    if n > 262_144 {
        let pieces = 4 * rayon::current_num_threads();
        for p in 1..pieces {
            let at = n * p / pieces;
            let key = items[at].0 >> vshift;
            let at = at + items[at..].partition_point(|it| it.0 >> vshift == key);
            if at > *cuts.last().unwrap_or(&0) && at < n {
                cuts.push(at);
            }
        }
    }
    cuts.push(n);
    let mut chosen: Vec<usize> = cuts
        .par_windows(2)
        .flat_map_iter(|w| best_in(w[0], w[1]))
        .collect();
    if chosen.len() > params.max_node {
        // Every k-th cell in Morton order keeps the cap evenly spread over the node.
        let step = chosen.len().div_ceil(params.max_node);
        chosen = chosen.into_iter().step_by(step).collect();
    }
    for &c in &chosen {
        grow_code(&mut tight, items[c].0);
    }
    let mut points: Vec<u32> = chosen.iter().map(|&c| items[c].1).collect();
    points.sort_unstable();
    // Compact the rest in place (chosen positions ascend): it stays sorted for the children.
    let mut m = 0;
    let mut next = chosen.iter().peekable();
    for r in 0..n {
        if next.peek() == Some(&&r) {
            next.next();
            continue;
        }
        items[m] = items[r];
        m += 1;
    }
    let child_shift = 3 * u32::from(MORTON_BITS - level - 1);
    let mut slices: Vec<(usize, &mut [(u64, u32)])> = Vec::with_capacity(8);
    let mut remaining = &mut items[..m];
    for o in 0..8u64 {
        let cut = remaining.partition_point(|it| (it.0 >> child_shift) & 7 <= o);
        let (head, tail) = remaining.split_at_mut(cut);
        if !head.is_empty() {
            slices.push((o as usize, head));
        }
        remaining = tail;
    }
    let half = size * 0.5;
    let children: Vec<Tmp> = slices
        .into_par_iter()
        .map(|(o, sl)| {
            let cmin = [0, 1, 2].map(|k| min[k] + if o >> k & 1 == 1 { half } else { 0.0 });
            build_node(frame, sl, cmin, half, level + 1, params)
        })
        .collect();
    for c in &children {
        grow(&mut tight, &c.tight.0);
        grow(&mut tight, &c.tight.1);
    }
    Tmp {
        min,
        size,
        level,
        points,
        children,
        tight,
    }
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

    /// Small nodes, so 60 k points make several levels.
    const SMALL: Params = Params {
        grid: 32,
        max_leaf: 2_000,
        max_depth: 12,
        max_node: usize::MAX,
    };

    fn terrain(n: usize) -> Vec<[f32; 3]> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        (0..n)
            .map(|_| {
                let x: f32 = rng.random_range(0.0..100.0);
                let y: f32 = rng.random_range(0.0..50.0);
                [x, y, (x * 0.1).sin() * 3.0 + y * 0.05]
            })
            .collect()
    }

    #[test]
    fn every_point_once_and_inside_its_node() {
        let mut pos = terrain(60_000);
        pos.push([f32::NAN, 0.0, 0.0]);
        let t = Octree::build(&pos, SMALL);
        assert_eq!(t.skipped, 1);
        assert_eq!(t.len(), 60_000);
        let mut seen = vec![false; pos.len()];
        for (id, n) in t.nodes.iter().enumerate() {
            for &i in t.points(id) {
                assert!(!seen[i as usize], "point {i} twice");
                seen[i as usize] = true;
                let p = pos[i as usize];
                for k in 0..3 {
                    assert!(
                        p[k] >= n.min[k] && p[k] <= n.min[k] + n.size,
                        "point outside its cube"
                    );
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
        assert!(
            root.count > 500,
            "root should cover the terrain: {}",
            root.count
        );
    }

    #[test]
    fn morton_spread_and_compact_are_inverse() {
        for v in [0u64, 1, 2, 3, 0x15_5555, 0x1F_FFFF, 123_456] {
            assert_eq!(compact(spread(v)), v);
        }
        assert_eq!(spread(0b111), 0b1001001);
    }

    #[test]
    fn node_cap_holds_and_keeps_every_point() {
        let pos = terrain(60_000);
        let t = Octree::build(
            &pos,
            Params {
                grid: 64,
                max_leaf: 1_500,
                max_depth: 16,
                max_node: 1_500,
            },
        );
        assert!(
            t.nodes.iter().all(|n| n.count <= 1_500),
            "max {}",
            t.nodes.iter().map(|n| n.count).max().unwrap_or(0)
        );
        assert_eq!(t.len(), 60_000);
        // The capped root still covers the whole extent (evenly spread, not one corner).
        let root: Vec<[f32; 3]> = t.points(0).iter().map(|&i| pos[i as usize]).collect();
        assert!(root.iter().any(|p| p[0] < 20.0) && root.iter().any(|p| p[0] > 80.0));
        assert!(root.iter().any(|p| p[1] < 10.0) && root.iter().any(|p| p[1] > 40.0));
    }

    #[test]
    fn cover_spacing_is_the_finest_level_drawn_everywhere_below() {
        let pos = terrain(60_000);
        let t = Octree::build(&pos, SMALL);
        let root = &t.nodes[0];
        assert!(root.children.len() >= 2);
        let own = root.sample_spacing(32);
        let set = |ids: &[u32]| {
            ids.iter()
                .copied()
                .collect::<std::collections::HashSet<u32>>()
        };
        // The root alone: its own spacing.
        let c = t.cover_spacing(&set(&[0]), |_| true);
        assert_eq!(c[&0], own);
        // The root and every child: the coarsest child's.
        let mut all = vec![0];
        all.extend(&root.children);
        let c = t.cover_spacing(&set(&all), |_| true);
        let kids = root
            .children
            .iter()
            .map(|&k| t.nodes[k as usize].sample_spacing(32));
        let coarsest_kid = kids.fold(0.0f32, f32::max);
        assert!(coarsest_kid < own, "{coarsest_kid} vs {own}");
        assert_eq!(c[&0], coarsest_kid);
        let k0 = root.children[0];
        assert_eq!(c[&k0], t.nodes[k0 as usize].sample_spacing(32));
        // One child missing: the root's points must still close the gap there.
        let c = t.cover_spacing(&set(&all[..all.len() - 1]), |_| true);
        assert_eq!(c[&0], own);
        // ... unless that child is out of view.
        let gone = *all.last().unwrap();
        let c = t.cover_spacing(&set(&all[..all.len() - 1]), |n| {
            !std::ptr::eq(n, &t.nodes[gone as usize])
        });
        let kept = all[1..all.len() - 1]
            .iter()
            .map(|&k| t.nodes[k as usize].sample_spacing(32))
            .fold(0.0f32, f32::max);
        assert_eq!(c[&0], kept);
        // Every node drawn: each inner node is covered by the coarsest of its leaves below.
        let every: Vec<u32> = (0..t.nodes.len() as u32).collect();
        let c = t.cover_spacing(&set(&every), |_| true);
        for (i, n) in t.nodes.iter().enumerate() {
            assert!(c[&(i as u32)] <= n.sample_spacing(32));
            if n.is_leaf() {
                assert_eq!(c[&(i as u32)], n.sample_spacing(32));
            }
        }
        // A leaf of few points over a wide box: the data's spacing, not its level's cell.
        let sparse = Node {
            min: [0.0; 3],
            size: 256.0,
            level: 3,
            tight_min: [0.0; 3],
            tight_max: [40.0, 10.0, 1.0],
            start: 0,
            count: 4,
            children: Vec::new(),
        };
        assert_eq!(sparse.sample_spacing(32), 10.0);
        let wire = Node {
            size: 64.0,
            ..sparse
        };
        assert_eq!(wire.sample_spacing(32), 8.0);
    }

    #[test]
    fn select_respects_budget_and_visibility() {
        let pos = terrain(60_000);
        let t = Octree::build(&pos, SMALL);
        let all = t.select(usize::MAX, 0.0, |_, _| true, |n| n.size);
        assert_eq!(all.nodes.len(), t.nodes.len());
        assert!(!all.budget_full);
        let some = t.select(10_000, 0.0, |_, _| true, |n| n.size);
        let drawn: usize = some.nodes.iter().map(|&i| t.nodes[i as usize].count).sum();
        assert!(drawn <= 10_000 && drawn > 2_000, "{drawn}");
        assert!(some.budget_full);
        // Parents come before children: larger screen size first.
        assert_eq!(some.nodes[0], 0);
        // Nothing visible right of x = 50 -> no node entirely there is taken.
        let left = t.select(usize::MAX, 0.0, |lo, _| lo[0] < 50.0, |n| n.size);
        assert!(left
            .nodes
            .iter()
            .all(|&i| t.nodes[i as usize].tight_min[0] < 50.0));
        assert!(left.nodes.len() < t.nodes.len());
        // Children too small on screen are not wanted: all of a far view fits a budget.
        let far = t.select(usize::MAX - 1, 1e9, |_, _| true, |n| n.size);
        assert_eq!(far.nodes, vec![0]);
        assert!(!far.budget_full);
        let empty = Octree::build(&[], Params::default()).select(10, 0.0, |_, _| true, |_| 1.0);
        assert!(empty.nodes.is_empty() && !empty.budget_full);
    }
}
