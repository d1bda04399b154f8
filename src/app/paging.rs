//! COPC out of core, the way Potree draws its own octrees but with no conversion: a COPC
//! file's hierarchy already is a level-of-detail octree like ours (each node a sample of its
//! cube, the rest in its children: "refine ADD"), so the viewer selects nodes from the
//! hierarchy and reads only those the view wants, on the layer's own thread, into a node
//! cache with a memory cap (least recently used nodes dropped first).
//!
//! What the layer holds is a snapshot: the wanted nodes that are in the cache, as one cloud
//! and an octree of the hierarchy's shape whose node ids are the hierarchy's, so nodes already
//! on the GPU stay there when the next snapshot comes. Picking and histograms see the
//! snapshot; change detection, exports and cross-sections (`io::las::read_corridor`) read the
//! file.

use crate::analysis::octree::{Node, Octree, Params};
use crate::cloud::{origin_for, Bounds, Crs, PointCloud};
use crate::io::las::{copc, Chunk, Fields, LasReader};
use crate::pipeline::Cancel;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The node cache's default cap (bytes of points held, every column counted).
pub const CACHE_BYTES: usize = 2 << 30;

/// A file's octree as the view selects from it: node ids, cubes and the file's point counts
/// (`Octree::order` is empty: no point is held here), and where each node's points are.
pub struct Hierarchy {
    pub octree: Arc<Octree>,
    chunks: Vec<Option<Chunk>>,
    pub origin: [f64; 3],
    crs: Option<Crs>,
}

/// What the layer draws: the wanted nodes that were in the cache.
pub struct Snapshot {
    pub cloud: PointCloud,
    pub octree: Octree,
}

struct State {
    /// Node ids in the order they should be read (most important first).
    wanted: Vec<u32>,
    /// Bumped with every new `wanted`.
    version: u64,
    stop: bool,
    /// The latest snapshot, not yet taken by the viewer.
    snapshot: Option<Snapshot>,
    /// The reader has not caught up with `version`.
    busy: bool,
    errors: Vec<String>,
    /// Points and bytes in the cache.
    cached: (usize, usize),
}

struct Shared {
    state: Mutex<State>,
    /// Wakes the reader on a new `wanted` (or stop), and whoever waits for a snapshot.
    wake: Condvar,
}

impl Shared {
    fn lock(&self) -> Option<MutexGuard<'_, State>> {
        self.state.lock().ok()
    }
}

/// A layer's handle on its reader thread; dropping it stops the thread.
pub struct Paged {
    /// The whole hierarchy with the file's counts: what the view selects from.
    pub tree: Arc<Octree>,
    /// Points in the file.
    pub total: u64,
    /// The file's mean point spacing (from its header): splats never get smaller.
    pub spacing: f32,
    /// The cache's cap in bytes.
    pub cap: usize,
    shared: Arc<Shared>,
    sent: Vec<u32>,
}

impl Paged {
    /// The nodes the view wants now, most important first. The reader reads the missing ones
    /// and drops the rest when the cache is over its cap.
    pub fn want(&mut self, ids: Vec<u32>) {
        if ids == self.sent {
            return;
        }
        if let Some(mut st) = self.shared.lock() {
            st.wanted.clone_from(&ids);
            st.version += 1;
            st.busy = true;
            self.shared.wake.notify_all();
        }
        self.sent = ids;
    }

    /// A new snapshot, if one came since the last call.
    pub fn take(&self) -> Option<Snapshot> {
        self.shared.lock().and_then(|mut st| st.snapshot.take())
    }

    /// Still reading what the view wants, or a snapshot not taken yet.
    pub fn busy(&self) -> bool {
        self.shared
            .lock()
            .is_some_and(|st| st.busy || st.snapshot.is_some())
    }

    /// Nodes that could not be read since the last call (each said once).
    pub fn take_errors(&self) -> Vec<String> {
        self.shared
            .lock()
            .map(|mut st| std::mem::take(&mut st.errors))
            .unwrap_or_default()
    }

    /// Points and bytes in the node cache.
    pub fn cached(&self) -> (usize, usize) {
        self.shared.lock().map(|st| st.cached).unwrap_or_default()
    }
}

impl Drop for Paged {
    fn drop(&mut self) {
        if let Some(mut st) = self.shared.lock() {
            st.stop = true;
            self.shared.wake.notify_all();
        }
    }
}

/// Opens a COPC file on demand when its points, held whole, would take more than `cap`
/// bytes; None when it is not COPC, its hierarchy is not one this can use, or it fits (the
/// caller reads it as usual, which also says why a bad file is bad). Returns once the first
/// snapshot is read: the hierarchy's top levels, about `first_points` points (the root
/// level at least). Also the header's warnings.
pub fn open(
    path: &Path,
    fields: Fields,
    first_points: u64,
    cap: usize,
    cancel: &Cancel,
) -> Result<Option<(Paged, Snapshot, Vec<String>)>, String> {
    let Ok(mut reader) = LasReader::open_with(path, fields) else {
        return Ok(None);
    };
    let h = reader.header.clone();
    if !(h.copc && h.compressed) || h.point_count == 0 {
        return Ok(None);
    }
    let Some(tree) = copc::hierarchy(path, h.point_count)
        .and_then(|c| Hierarchy::new(&c, &h.bounds, h.crs.clone()))
    else {
        return Ok(None);
    };
    // What a point costs held: measured on the first node with points (the root, as a rule).
    let Some((root_id, root)) = tree
        .chunks
        .iter()
        .enumerate()
        .find_map(|(i, c)| Some((i as u32, (*c)?)))
    else {
        return Ok(None);
    };
    let mut first = PointCloud::with_origin(tree.origin);
    reader
        .read_chunks(&[root], &mut first)
        .map_err(|e| e.to_string())?;
    let per_point = first.heap_bytes() as f64 / first.len().max(1) as f64;
    if h.point_count as f64 * per_point <= cap as f64 {
        return Ok(None);
    }
    let top = tree.top_levels(first_points);
    let octree = tree.octree.clone();
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            wanted: top.clone(),
            version: 1,
            stop: false,
            snapshot: None,
            busy: true,
            errors: Vec::new(),
            cached: (0, 0),
        }),
        wake: Condvar::new(),
    });
    let mut cache = Cache::default();
    cache.insert(root_id, first, 0);
    let s = shared.clone();
    drop(reader);
    // The reader is opened again on its thread (las-rs's readers are not `Send`).
    let path = path.to_path_buf();
    std::thread::Builder::new()
        .name("kizashi-copc".into())
        .spawn(move || {
            // A panic outside the decoder's guard must not leave the layer waiting forever.
            let r =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(
                    || match LasReader::open_with(&path, fields) {
                        Ok(reader) => read_loop(reader, tree, s.clone(), cache, cap),
                        Err(e) => Err(e.to_string()),
                    },
                ))
                .unwrap_or_else(|_| Err("internal error while reading COPC nodes".into()));
            if let Err(e) = r {
                if let Some(mut st) = s.lock() {
                    st.errors.push(e);
                    st.busy = false;
                    s.wake.notify_all();
                }
            }
        })
        .map_err(|e| format!("cannot start a thread: {e}"))?;
    let spacing = crate::pipeline::params::spacing_of(&h.bounds, h.point_count);
    let mut paged = Paged {
        tree: octree,
        total: h.point_count,
        spacing,
        cap,
        shared,
        sent: top,
    };
    // The first snapshot: what the layer starts with.
    let snapshot = loop {
        if cancel.is_cancelled() {
            paged.want(Vec::new());
            return Err("cancelled".into());
        }
        let Some(mut st) = paged.shared.lock() else {
            return Err("the reader stopped".into());
        };
        if !st.busy {
            if let Some(s) = st.snapshot.take() {
                break s;
            }
        }
        if let Some(e) = st.errors.first() {
            return Err(e.clone());
        }
        let _ = paged
            .shared
            .wake
            .wait_timeout(st, Duration::from_millis(100))
            .map_err(|_| "the reader stopped".to_string())?;
    };
    Ok(Some((paged, snapshot, h.warnings.clone())))
}

impl Hierarchy {
    /// The file's hierarchy as an octree in the local frame of `origin_for(bounds)`; every
    /// node's tight box is its cube within the header's bounds. None when a key lies outside
    /// its level's grid.
    fn new(h: &copc::Hierarchy, bounds: &Bounds, crs: Option<Crs>) -> Option<Hierarchy> {
        let origin = origin_for(bounds);
        let (centre, half) = h.cube();
        // The root's spacing as the file states it; COPC writers sample on 128^3 grids.
        let stated = 2.0 * half / h.spacing();
        let grid = if stated.is_finite() && stated >= 1.0 {
            (stated.round() as u32).clamp(8, 4096)
        } else {
            128
        };
        let mut entries: Vec<([i32; 4], Chunk)> = h.nodes().collect();
        entries.sort_by_key(|e| e.0);
        let cube = |key: [i32; 4]| -> Node {
            let side = 2.0 * half / f64::from(1u32 << key[0]);
            let min = [0, 1, 2].map(|k| centre[k] - half + f64::from(key[k + 1]) * side);
            let lo = [0, 1, 2].map(|k| (min[k].max(bounds.min[k]) - origin[k]) as f32);
            let hi = [0, 1, 2].map(|k| ((min[k] + side).min(bounds.max[k]) - origin[k]) as f32);
            let cube_lo = [0, 1, 2].map(|k| (min[k] - origin[k]) as f32);
            let cube_hi = [0, 1, 2].map(|k| (min[k] + side - origin[k]) as f32);
            let inside = (0..3).all(|k| lo[k] <= hi[k]);
            Node {
                min: cube_lo,
                size: side as f32,
                level: key[0] as u8,
                tight_min: if inside { lo } else { cube_lo },
                tight_max: if inside { hi } else { cube_hi },
                start: 0,
                count: 0,
                children: Vec::new(),
            }
        };
        let mut ids: HashMap<[i32; 4], u32> = HashMap::new();
        let mut nodes: Vec<Node> = Vec::new();
        let mut chunks: Vec<Option<Chunk>> = Vec::new();
        for (key, chunk) in entries {
            let cells = 1i64 << key[0];
            if key[1..].iter().any(|&v| v < 0 || i64::from(v) >= cells) {
                return None;
            }
            // The node and any ancestor the hierarchy skipped (no points of its own).
            let mut chain = vec![key];
            let mut k = key;
            while k[0] > 0 && !ids.contains_key(&k) {
                k = [k[0] - 1, k[1] >> 1, k[2] >> 1, k[3] >> 1];
                chain.push(k);
            }
            let mut parent: Option<u32> = None;
            for k in chain.into_iter().rev() {
                let id = match ids.get(&k) {
                    Some(&id) => id,
                    None => {
                        let id = nodes.len() as u32;
                        nodes.push(cube(k));
                        chunks.push(None);
                        ids.insert(k, id);
                        if let Some(p) = parent {
                            nodes[p as usize].children.push(id);
                        }
                        id
                    }
                };
                parent = Some(id);
            }
            let id = ids[&key] as usize;
            nodes[id].count = chunk.points as usize;
            chunks[id] = Some(chunk);
        }
        // Node 0 must be the root.
        if nodes.is_empty() || nodes[0].level != 0 {
            return None;
        }
        Some(Hierarchy {
            octree: Arc::new(Octree {
                nodes,
                order: Vec::new(),
                params: Params {
                    grid,
                    ..Params::default()
                },
                skipped: 0,
            }),
            chunks,
            origin,
            crs,
        })
    }

    /// Whole top levels, as many as fit in `max_points` (the root level at least).
    fn top_levels(&self, max_points: u64) -> Vec<u32> {
        let nodes = &self.octree.nodes;
        let deepest = nodes.iter().map(|n| n.level).max().unwrap_or(0);
        let mut sum = 0u64;
        let mut depth = 0;
        for d in 0..=deepest {
            let level: u64 = nodes
                .iter()
                .filter(|n| n.level == d)
                .map(|n| n.count as u64)
                .sum();
            if d > 0 && sum + level > max_points {
                break;
            }
            sum += level;
            depth = d;
        }
        (0..nodes.len() as u32)
            .filter(|&i| nodes[i as usize].level <= depth && nodes[i as usize].count > 0)
            .collect()
    }

    /// The nodes `ids` that are in the cache, as one cloud and an octree of the hierarchy's
    /// shape (the others hold no points; their boxes stay the hierarchy's).
    fn snapshot(&self, ids: &[u32], cache: &Cache) -> Snapshot {
        let mut cloud = PointCloud::with_origin(self.origin);
        let mut nodes = self.octree.nodes.clone();
        for n in nodes.iter_mut() {
            (n.start, n.count) = (0, 0);
        }
        let mut own: HashMap<u32, ([f32; 3], [f32; 3])> = HashMap::new();
        let mut seen = HashSet::new();
        for &id in ids {
            let Some(c) = cache.nodes.get(&id) else {
                continue;
            };
            if !seen.insert(id) || c.cloud.is_empty() {
                continue;
            }
            let n = &mut nodes[id as usize];
            (n.start, n.count) = (cloud.len(), c.cloud.len());
            if cloud.is_empty() {
                // `append` keeps only the columns both sides have: an empty cloud has none.
                cloud = c.cloud.clone();
            } else {
                cloud.append(&c.cloud);
            }
            own.insert(id, c.bounds);
        }
        // Tight boxes from the points held, children first (ids grow with depth).
        let mut held: HashMap<u32, ([f32; 3], [f32; 3])> = HashMap::new();
        for id in (0..nodes.len() as u32).rev() {
            let mut b = own.get(&id).copied();
            for c in &nodes[id as usize].children {
                if let Some(cb) = held.get(c) {
                    b = Some(match b {
                        Some(a) => (
                            [0, 1, 2].map(|k| a.0[k].min(cb.0[k])),
                            [0, 1, 2].map(|k| a.1[k].max(cb.1[k])),
                        ),
                        None => *cb,
                    });
                }
            }
            if let Some(b) = b {
                held.insert(id, b);
                let n = &mut nodes[id as usize];
                (n.tight_min, n.tight_max) = b;
            }
        }
        cloud.crs.clone_from(&self.crs);
        let order = (0..cloud.len() as u32).collect();
        Snapshot {
            cloud,
            octree: Octree {
                nodes,
                order,
                params: self.octree.params,
                skipped: 0,
            },
        }
    }
}

/// One node's points in the cache.
struct Cached {
    cloud: PointCloud,
    bounds: ([f32; 3], [f32; 3]),
    bytes: usize,
    used: u64,
}

#[derive(Default)]
struct Cache {
    nodes: HashMap<u32, Cached>,
    bytes: usize,
    points: usize,
}

impl Cache {
    fn insert(&mut self, id: u32, cloud: PointCloud, used: u64) {
        let mut lo = [f32::MAX; 3];
        let mut hi = [f32::MIN; 3];
        for p in &cloud.positions {
            for k in 0..3 {
                lo[k] = lo[k].min(p[k]);
                hi[k] = hi[k].max(p[k]);
            }
        }
        let bytes = cloud.heap_bytes();
        self.bytes += bytes;
        self.points += cloud.len();
        if let Some(old) = self.nodes.insert(
            id,
            Cached {
                cloud,
                bounds: (lo, hi),
                bytes,
                used,
            },
        ) {
            self.bytes -= old.bytes;
            self.points -= old.cloud.len();
        }
    }

    /// Drops the least recently used nodes not in `keep` until the cache is within `cap`.
    fn evict(&mut self, cap: usize, keep: &HashSet<u32>) {
        if self.bytes <= cap {
            return;
        }
        let mut old: Vec<(u64, u32)> = self
            .nodes
            .iter()
            .filter(|(id, _)| !keep.contains(id))
            .map(|(&id, c)| (c.used, id))
            .collect();
        old.sort_unstable();
        for (_, id) in old {
            if self.bytes <= cap {
                break;
            }
            if let Some(c) = self.nodes.remove(&id) {
                self.bytes -= c.bytes;
                self.points -= c.cloud.len();
            }
        }
    }
}

/// Points read per batch: decoded in parallel (one chunk per thread), few enough that a new
/// view is taken up soon.
const BATCH_POINTS: u64 = 1 << 18;

/// How often a snapshot is made while the view's nodes are being read.
const PUBLISH_EVERY: Duration = Duration::from_millis(500);

/// The reader thread: waits for a new `wanted`, reads what the cache lacks in batches (a
/// snapshot every `PUBLISH_EVERY`, and when done), then trims the cache to its cap.
fn read_loop(
    mut reader: LasReader,
    tree: Hierarchy,
    shared: Arc<Shared>,
    mut cache: Cache,
    cap: usize,
) -> Result<(), String> {
    let mut seen = 0u64;
    let mut tick = 0u64;
    let mut failed: HashSet<u32> = HashSet::new();
    let mut published: Option<Vec<u32>> = None;
    let version = |shared: &Shared| shared.lock().map_or(u64::MAX, |st| st.version);
    loop {
        let wanted = {
            let Some(mut st) = shared.lock() else {
                return Ok(());
            };
            while !st.stop && st.version == seen {
                st = match shared.wake.wait(st) {
                    Ok(s) => s,
                    Err(_) => return Ok(()),
                };
            }
            if st.stop {
                return Ok(());
            }
            seen = st.version;
            st.wanted.clone()
        };
        tick += 1;
        for id in &wanted {
            if let Some(c) = cache.nodes.get_mut(id) {
                c.used = tick;
            }
        }
        let missing: Vec<(u32, Chunk)> = wanted
            .iter()
            .filter(|id| !cache.nodes.contains_key(id) && !failed.contains(id))
            .filter_map(|&id| Some((id, tree.chunks.get(id as usize).copied().flatten()?)))
            .collect();
        let publish = |cache: &Cache, published: &mut Option<Vec<u32>>| {
            let held: Vec<u32> = wanted
                .iter()
                .copied()
                .filter(|id| cache.nodes.contains_key(id))
                .collect();
            if published.as_ref() == Some(&held) {
                return;
            }
            let s = tree.snapshot(&held, cache);
            if let Some(mut st) = shared.lock() {
                st.snapshot = Some(s);
                st.cached = (cache.points, cache.bytes);
                shared.wake.notify_all();
            }
            *published = Some(held);
        };
        let mut last = Instant::now();
        let mut at = 0;
        while at < missing.len() {
            let mut end = at;
            let mut points = 0;
            while end < missing.len()
                && (end == at || points + missing[end].1.points <= BATCH_POINTS)
            {
                points += missing[end].1.points;
                end += 1;
            }
            let batch = &missing[at..end];
            at = end;
            let chunks: Vec<Chunk> = batch.iter().map(|b| b.1).collect();
            let mut read = PointCloud::with_origin(tree.origin);
            match reader.read_chunks(&chunks, &mut read) {
                Ok(n) if n == read.len() && n as u64 == points => {
                    let mut from = 0;
                    for &(id, c) in batch {
                        let to = from + c.points as usize;
                        let idx: Vec<usize> = (from..to).collect();
                        cache.insert(id, read.subset(&idx), tick);
                        from = to;
                    }
                }
                Ok(_) | Err(_) if batch.len() > 1 => {
                    // Read them one by one to find which node is bad: the rest still show.
                    for &(id, c) in batch {
                        let mut one = PointCloud::with_origin(tree.origin);
                        match reader.read_chunks(&[c], &mut one) {
                            Ok(n) if n == one.len() && n as u64 == c.points => {
                                cache.insert(id, one, tick)
                            }
                            r => fail(&shared, &mut failed, id, r.err()),
                        }
                    }
                }
                r => fail(&shared, &mut failed, batch[0].0, r.err()),
            }
            if version(&shared) != seen {
                break;
            }
            if last.elapsed() >= PUBLISH_EVERY {
                publish(&cache, &mut published);
                last = Instant::now();
            }
        }
        publish(&cache, &mut published);
        cache.evict(cap, &wanted.iter().copied().collect());
        if let Some(mut st) = shared.lock() {
            st.cached = (cache.points, cache.bytes);
            if st.version == seen {
                st.busy = false;
            }
            shared.wake.notify_all();
        }
    }
}

/// A node that cannot be read is said once and not asked for again.
fn fail(shared: &Shared, failed: &mut HashSet<u32>, id: u32, e: Option<crate::io::IoError>) {
    failed.insert(id);
    if let Some(mut st) = shared.lock() {
        st.errors.push(match e {
            Some(e) => e.to_string(),
            None => format!("COPC node {id}: fewer points than its hierarchy entry says"),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::las::{read_with, write_copc, CopcOptions};

    /// A COPC file of `n` points with small leaves (many nodes), and the same survey read whole.
    fn survey(dir: &Path, n: usize) -> (std::path::PathBuf, PointCloud) {
        let laz = dir.join("s.laz");
        let c = crate::demo::epoch_with(1, n, &crate::demo::ortho_image());
        crate::io::las::write(&laz, &c, &Default::default()).unwrap();
        let copc = dir.join("s.copc.laz");
        let opts = CopcOptions { leaf_points: 4000 };
        write_copc(&laz, &copc, &opts, &mut |_, _, _| true).unwrap();
        let whole = read_with(&copc, crate::app::jobs::VIEW_FIELDS, |_, _| true)
            .unwrap()
            .cloud;
        (copc, whole)
    }

    /// Points as (x, y, z in mm, intensity, class), sorted: two reads compared as sets.
    fn keys(c: &PointCloud, idx: impl Iterator<Item = usize>) -> Vec<[i64; 5]> {
        let mut v: Vec<[i64; 5]> = idx
            .map(|i| {
                let w = c.world(i);
                [
                    (w[0] * 1000.0).round() as i64,
                    (w[1] * 1000.0).round() as i64,
                    (w[2] * 1000.0).round() as i64,
                    i64::from(c.intensity.as_ref().unwrap()[i]),
                    i64::from(c.classification.as_ref().unwrap()[i]),
                ]
            })
            .collect();
        v.sort_unstable();
        v
    }

    fn settle(p: &Paged) -> Snapshot {
        let t = Instant::now();
        loop {
            if !p.shared.lock().unwrap().busy {
                if let Some(s) = p.take() {
                    return s;
                }
            }
            assert!(t.elapsed().as_secs() < 60, "the reader never settled");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// A file larger than the cache opens with its top levels; asked for every node, the
    /// snapshots hold exactly the file's points (same coordinates and attributes as a whole
    /// read), each node's points inside its cube, in the hierarchy's shape.
    #[test]
    fn nodes_read_on_demand_are_the_files_points() {
        let dir = tempfile::tempdir().unwrap();
        let (copc, whole) = survey(dir.path(), 200_000);
        let cancel = Cancel::default();
        // Fits in the cache: read whole as before.
        let fits = open(
            &copc,
            crate::app::jobs::VIEW_FIELDS,
            20_000,
            1 << 30,
            &cancel,
        )
        .unwrap();
        assert!(fits.is_none());
        let (mut p, first, _) = open(
            &copc,
            crate::app::jobs::VIEW_FIELDS,
            20_000,
            1 << 20,
            &cancel,
        )
        .unwrap()
        .unwrap();
        assert_eq!(p.total, 200_000);
        let tree = p.tree.clone();
        assert!(tree.nodes.len() > 20, "{} nodes", tree.nodes.len());
        assert_eq!(tree.nodes.iter().map(|n| n.count).sum::<usize>(), 200_000);
        // The first snapshot: whole top levels, the root's at least, within 20 000 points.
        let levels: Vec<u8> = first
            .octree
            .nodes
            .iter()
            .filter(|n| n.count > 0)
            .map(|n| n.level)
            .collect();
        assert!(levels.contains(&0));
        let deepest = *levels.iter().max().unwrap();
        for (i, n) in tree.nodes.iter().enumerate() {
            let held = first.octree.nodes[i].count;
            assert_eq!(held, if n.level <= deepest { n.count } else { 0 });
        }
        assert!(first.cloud.len() <= 20_000 || deepest == 0);
        // Every node: the whole file.
        p.want((0..tree.nodes.len() as u32).collect());
        let all = settle(&p);
        assert_eq!(all.cloud.len(), 200_000);
        assert_eq!(
            keys(&all.cloud, 0..all.cloud.len()),
            keys(&whole, 0..whole.len())
        );
        for (i, n) in all.octree.nodes.iter().enumerate() {
            assert_eq!(n.count, tree.nodes[i].count);
            assert_eq!(n.children, tree.nodes[i].children);
            for &j in all.octree.points(i) {
                let q = all.cloud.positions[j as usize];
                for k in 0..3 {
                    assert!(q[k] >= n.min[k] - 1e-2 && q[k] <= n.min[k] + n.size + 1e-2);
                    assert!(q[k] >= n.tight_min[k] && q[k] <= n.tight_max[k]);
                }
            }
            for &c in &n.children {
                let c = &all.octree.nodes[c as usize];
                assert_eq!(c.level, n.level + 1);
                assert!((c.size * 2.0 - n.size).abs() < 1e-3 * n.size);
            }
        }
        // The cache kept what it was asked for, over its cap (wanted nodes are never dropped).
        assert_eq!(p.cached().0, 200_000);
    }

    /// The cache stays within its cap: nodes no longer wanted go, least recently used first;
    /// nodes wanted again are read again, nodes still cached are not.
    #[test]
    fn the_node_cache_drops_least_recently_used_nodes() {
        let dir = tempfile::tempdir().unwrap();
        let (copc, whole) = survey(dir.path(), 200_000);
        let all = keys(&whole, 0..whole.len());
        let per_point = whole.heap_bytes() / whole.len();
        let fields = crate::app::jobs::VIEW_FIELDS;
        let tree = open(&copc, fields, 1, 1, &Cancel::default())
            .unwrap()
            .unwrap()
            .0
            .tree
            .clone();
        // Every node but the root in three groups of about equal points.
        let third = (whole.len() - tree.nodes[0].count) / 3;
        let mut groups: Vec<Vec<u32>> = vec![Vec::new()];
        let mut points = 0;
        for id in 1..tree.nodes.len() as u32 {
            if points >= third && groups.len() < 3 {
                groups.push(Vec::new());
                points = 0;
            }
            groups.last_mut().unwrap().push(id);
            points += tree.nodes[id as usize].count;
        }
        let count = |g: &[u32]| {
            g.iter()
                .map(|&i| tree.nodes[i as usize].count)
                .sum::<usize>()
        };
        let big = groups.iter().map(|g| count(g)).max().unwrap();
        // Room for two groups and a half.
        let cap = big * per_point * 5 / 2;
        let (mut p, _, _) = open(&copc, fields, 1, cap, &Cancel::default())
            .unwrap()
            .unwrap();
        for g in &groups {
            p.want(g.clone());
            let s = settle(&p);
            let held: Vec<u32> = (0..s.octree.nodes.len() as u32)
                .filter(|&i| s.octree.nodes[i as usize].count > 0)
                .collect();
            let mut want = g.clone();
            want.sort_unstable();
            assert_eq!(held, want);
            assert!(p.cached().1 <= cap, "{:?} cached, cap {cap}", p.cached());
            // The group's points, each one of the file's (as the whole read has it).
            assert_eq!(s.cloud.len(), count(g));
            for k in keys(&s.cloud, 0..s.cloud.len()) {
                assert!(all.binary_search(&k).is_ok(), "{k:?} is not in the file");
            }
        }
        // Three groups do not fit: the first went (least recently used), the second stayed.
        let (after, _) = p.cached();
        assert!(after < count(&groups[0]) + count(&groups[1]) + count(&groups[2]));
        assert!(after >= count(&groups[1]) + count(&groups[2]));
        p.want(groups[1].clone());
        settle(&p);
        assert_eq!(p.cached().0, after, "the second group was read again");
        p.want(groups[0].clone());
        assert_eq!(settle(&p).cloud.len(), count(&groups[0]));
        assert!(p.cached().0 != after && p.cached().1 <= cap);
    }
}
