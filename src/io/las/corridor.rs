//! A cross-section's corridor read from its file at full resolution, whatever the viewer
//! holds: from a COPC file only the nodes whose cube meets the corridor (the hierarchy gives
//! their bytes), from any other file every chunk in turn, each filtered as it is decoded, so
//! memory holds the corridor's points and one chunk, never the file.

use super::{copc, Chunk, Fields, LasReader, Result, CHUNK_POINTS};
use crate::cloud::PointCloud;
use std::path::Path;

/// The ground within `half_width` of the segment a-b (XY, data CRS).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Corridor {
    pub a: [f64; 2],
    pub b: [f64; 2],
    pub half_width: f64,
}

impl Corridor {
    /// Distance from (x, y) to the segment.
    fn distance(&self, x: f64, y: f64) -> f64 {
        let (dx, dy) = (self.b[0] - self.a[0], self.b[1] - self.a[1]);
        let len2 = dx * dx + dy * dy;
        let t = if len2 > 0.0 {
            (((x - self.a[0]) * dx + (y - self.a[1]) * dy) / len2).clamp(0.0, 1.0)
        } else {
            0.0
        };
        (x - self.a[0] - t * dx).hypot(y - self.a[1] - t * dy)
    }

    pub fn contains(&self, x: f64, y: f64) -> bool {
        self.distance(x, y) <= self.half_width
    }

    /// Whether the box lo-hi (XY) comes within the corridor: the segment crosses the box, or
    /// the nearest of a box corner to the segment or a segment end to the box is within
    /// `half_width` (the distance between a segment and a box is one of these).
    pub fn meets(&self, lo: [f64; 2], hi: [f64; 2]) -> bool {
        let to_box = |p: [f64; 2]| {
            let d = [0, 1].map(|k| (lo[k] - p[k]).max(p[k] - hi[k]).max(0.0));
            d[0].hypot(d[1])
        };
        let corners = [
            [lo[0], lo[1]],
            [lo[0], hi[1]],
            [hi[0], lo[1]],
            [hi[0], hi[1]],
        ];
        let near = corners
            .iter()
            .map(|c| self.distance(c[0], c[1]))
            .chain([to_box(self.a), to_box(self.b)])
            .fold(f64::INFINITY, f64::min);
        near <= self.half_width || self.crosses(lo, hi)
    }

    /// The segment passes through the box (Liang-Barsky clipping).
    fn crosses(&self, lo: [f64; 2], hi: [f64; 2]) -> bool {
        let d = [self.b[0] - self.a[0], self.b[1] - self.a[1]];
        let (mut t0, mut t1) = (0.0f64, 1.0f64);
        for k in 0..2 {
            for (p, q) in [(-d[k], self.a[k] - lo[k]), (d[k], hi[k] - self.a[k])] {
                if p == 0.0 {
                    if q < 0.0 {
                        return false;
                    }
                } else {
                    let r = q / p;
                    if p < 0.0 {
                        t0 = t0.max(r);
                    } else {
                        t1 = t1.min(r);
                    }
                }
            }
        }
        t0 <= t1
    }
}

/// Every point of `path` within the corridor, in the local frame of `origin`.
/// `progress(points decoded, points to decode)`; returning false cancels (an error).
pub fn read_corridor(
    path: &Path,
    fields: Fields,
    corridor: &Corridor,
    origin: [f64; 3],
    mut progress: impl FnMut(u64, u64) -> bool,
) -> Result<PointCloud> {
    let mut r = LasReader::open_with(path, fields)?;
    let h = r.header.clone();
    let mut out = PointCloud::with_origin(origin);
    out.crs = h.crs.clone();
    let keep = |read: PointCloud, out: &mut PointCloud| {
        let idx: Vec<usize> = (0..read.len())
            .filter(|&i| {
                let w = read.world(i);
                corridor.contains(w[0], w[1])
            })
            .collect();
        if idx.is_empty() {
            return;
        }
        let part = read.subset(&idx);
        if out.is_empty() {
            // `append` keeps only the columns both sides have: an empty cloud has none.
            let crs = out.crs.take();
            *out = part;
            out.crs = crs;
        } else {
            out.append(&part);
        }
    };
    let cancelled = || super::IoError::Points {
        path: path.to_path_buf(),
        reason: "cancelled".into(),
    };
    let nodes = (h.copc && h.compressed)
        .then(|| copc::hierarchy(path, h.point_count))
        .flatten();
    if let Some(hier) = nodes {
        let (c, half) = hier.cube();
        let chunks: Vec<Chunk> = hier
            .nodes()
            .filter(|(key, _)| {
                let side = 2.0 * half / f64::from(1u32 << key[0]);
                let lo = [0, 1].map(|k| c[k] - half + f64::from(key[k + 1]) * side);
                corridor.meets(lo, [lo[0] + side, lo[1] + side])
            })
            .map(|(_, chunk)| chunk)
            .collect();
        let total: u64 = chunks.iter().map(|c| c.points).sum();
        let mut done = 0;
        let mut at = 0;
        while at < chunks.len() {
            let mut end = at;
            let mut points = 0;
            while end < chunks.len() && (end == at || points + chunks[end].points <= CHUNK_POINTS) {
                points += chunks[end].points;
                end += 1;
            }
            let mut read = PointCloud::with_origin(origin);
            r.read_chunks(&chunks[at..end], &mut read)?;
            keep(read, &mut out);
            done += points;
            at = end;
            if !progress(done, total) {
                return Err(cancelled());
            }
        }
        return Ok(out);
    }
    loop {
        let mut read = PointCloud::with_origin(origin);
        if r.read_chunk(CHUNK_POINTS, &mut read)? == 0 {
            return Ok(out);
        }
        keep(read, &mut out);
        if !progress(r.points_read(), h.point_count) {
            return Err(cancelled());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_corridor_meets_the_boxes_it_comes_near() {
        let c = Corridor {
            a: [0.0, 0.0],
            b: [10.0, 10.0],
            half_width: 1.0,
        };
        assert!(c.contains(5.0, 5.5) && !c.contains(5.0, 7.0));
        // Crossed by the line, though no corner is near.
        assert!(c.meets([2.0, -5.0], [8.0, 20.0]));
        // Near a corner, or an end near a side.
        assert!(c.meets([5.5, 3.0], [9.0, 4.9]));
        assert!(c.meets([10.5, 9.0], [12.0, 12.0]));
        // Beside the line, farther than the half width; beyond its end.
        assert!(!c.meets([6.0, 0.0], [9.0, 4.0]));
        assert!(!c.meets([11.0, 11.5], [13.0, 13.0]));
        // A degenerate segment: a disc.
        let p = Corridor {
            a: [0.0, 0.0],
            b: [0.0, 0.0],
            half_width: 1.0,
        };
        assert!(p.meets([0.5, 0.5], [2.0, 2.0]) && !p.meets([0.8, 0.8], [2.0, 2.0]));
    }

    /// From COPC (the nodes meeting the corridor) and from LAZ (every chunk): exactly the
    /// points of a whole read that lie in the corridor, same attributes.
    #[test]
    fn corridor_reads_are_the_whole_reads_points_in_it() {
        let dir = tempfile::tempdir().unwrap();
        let laz = dir.path().join("s.laz");
        let c = crate::demo::epoch_with(1, 300_000, &crate::demo::ortho_image());
        super::super::write(&laz, &c, &Default::default()).unwrap();
        let copc = dir.path().join("s.copc.laz");
        let opts = super::super::CopcOptions { leaf_points: 5000 };
        super::super::write_copc(&laz, &copc, &opts, &mut |_, _, _| true).unwrap();
        let whole = super::super::read(&laz).unwrap().cloud;
        let b = whole.bounds();
        let corridor = Corridor {
            a: [b.min[0] + 3.0, b.min[1] + 10.0],
            b: [b.max[0] - 5.0, b.max[1] - 20.0],
            half_width: 0.5,
        };
        let key = |c: &PointCloud, i: usize| {
            let w = c.world(i);
            (
                [0, 1, 2].map(|k| (w[k] * 1000.0).round() as i64),
                c.intensity.as_ref().unwrap()[i],
                c.rgb.as_ref().unwrap()[i],
            )
        };
        let mut want: Vec<_> = (0..whole.len())
            .filter(|&i| {
                let w = whole.world(i);
                corridor.contains(w[0], w[1])
            })
            .map(|i| key(&whole, i))
            .collect();
        want.sort_unstable();
        assert!(want.len() > 1000, "{} points in the corridor", want.len());
        for file in [&laz, &copc] {
            let mut decoded = 0;
            let got = read_corridor(file, Fields::ALL, &corridor, whole.origin, |d, _| {
                decoded = d;
                true
            })
            .unwrap();
            let mut got: Vec<_> = (0..got.len()).map(|i| key(&got, i)).collect();
            got.sort_unstable();
            assert_eq!(got, want, "{}", file.display());
            // COPC decodes only the nodes near the corridor.
            if file == &copc {
                assert!(decoded < 150_000, "{decoded} points decoded");
            }
        }
    }
}
