//! Ground classification of unclassified airborne and drone clouds.
//!
//! The filter is SMRF, the simple morphological filter of Pingel, Clarke & McBride (2013),
//! chosen over a cloth simulation (Zhang et al. 2016) because it works on a raster of the
//! lowest points instead of iterating particles, so it is linear in the points and cells and
//! parallel per row, and because Pingel et al. report lower total errors on the ISPRS filter
//! test (Sithole & Vosselman 2004) with one global parameter set than CSF or PMF:
//!
//! 1. the lowest point per cell (`cell`, 1 m) gives a minimum surface; empty cells are filled
//!    from their neighbours (a coarse-to-fine pyramid, then smoothing);
//! 2. low outliers are pits of that surface: a progressive opening of the negated surface with
//!    a steep slope (5) over one cell marks them, and so does a cell lower than all eight
//!    neighbours by more than `low`; they are filled like empty cells;
//! 3. objects: openings with square windows of radius 1 .. `window` / `cell` cells, each
//!    compared with the previous one; a cell is an object where it rises above the opening
//!    by more than `slope` x window size;
//! 4. the ground surface is the minimum surface without objects, filled again; a point is
//!    ground when it lies within `threshold` + `scalar` x the surface's local slope of it,
//!    low noise (class 7) when further below it than `low` metres.
//!
//! Square windows (separable min/max filters, O(cells) per window whatever its size) replace
//! Pingel's discs: the same filter up to the window's shape, and 18 m windows on a 1 km² grid
//! in milliseconds.

use crate::cloud::PointCloud;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// SMRF parameters (one set for flat towns, steep forested slopes and embankments).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    /// Cell of the minimum surface (m).
    pub cell: f64,
    /// Terrain slope the openings allow (rise over run).
    pub slope: f64,
    /// Largest opening window (m): about the largest building's half width.
    pub window: f64,
    /// Height above the ground surface still called ground (m).
    pub threshold: f64,
    /// Added to the threshold per unit of the surface's slope.
    pub scalar: f64,
    /// Points further below the ground surface than this are low noise (m).
    pub low: f64,
}

impl Default for Params {
    fn default() -> Params {
        Params {
            cell: 1.0,
            slope: 0.15,
            window: 18.0,
            threshold: 0.5,
            scalar: 1.25,
            low: 1.0,
        }
    }
}

/// What each point is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    Ground,
    Object,
    LowNoise,
}

/// The classification and the ground surface it came from.
pub struct Ground {
    pub class: Vec<Class>,
    /// Height above the ground surface of every point (m).
    pub hag: Vec<f32>,
}

/// A north-up grid over the cloud's local frame.
struct Raster {
    x0: f64,
    y0: f64,
    cell: f64,
    w: usize,
    h: usize,
    z: Vec<f64>,
}

impl Raster {
    fn at(&self, c: usize, r: usize) -> f64 {
        self.z[r * self.w + c]
    }

    /// Bilinear between cell centres (clamped at the border).
    fn sample(&self, x: f64, y: f64) -> f64 {
        let fc = ((x - self.x0) / self.cell - 0.5).clamp(0.0, (self.w - 1) as f64);
        let fr = ((y - self.y0) / self.cell - 0.5).clamp(0.0, (self.h - 1) as f64);
        let (c0, r0) = (
            (fc as usize).min(self.w.saturating_sub(2)),
            (fr as usize).min(self.h.saturating_sub(2)),
        );
        let (c1, r1) = ((c0 + 1).min(self.w - 1), (r0 + 1).min(self.h - 1));
        let (tc, tr) = (fc - c0 as f64, fr - r0 as f64);
        (1.0 - tr) * ((1.0 - tc) * self.at(c0, r0) + tc * self.at(c1, r0))
            + tr * ((1.0 - tc) * self.at(c0, r1) + tc * self.at(c1, r1))
    }
}

/// Classifies every point of `cloud`.
pub fn classify(cloud: &PointCloud, p: &Params) -> Ground {
    let n = cloud.len();
    if n == 0 {
        return Ground {
            class: Vec::new(),
            hag: Vec::new(),
        };
    }
    let b = cloud.positions.iter().fold(
        [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ],
        |b, q| {
            let (x, y) = (f64::from(q[0]), f64::from(q[1]));
            [b[0].min(x), b[1].min(y), b[2].max(x), b[3].max(y)]
        },
    );
    let cell = p.cell.max(1e-3);
    let w = (((b[2] - b[0]) / cell).floor() as usize + 1).max(2);
    let h = (((b[3] - b[1]) / cell).floor() as usize + 1).max(2);
    // Rows run from the south here (y0 is the minimum): only the local frame matters.
    let mut min = Raster {
        x0: b[0],
        y0: b[1],
        cell,
        w,
        h,
        z: vec![f64::NAN; w * h],
    };
    let cell_of = |q: &[f32; 3]| {
        let c = ((f64::from(q[0]) - b[0]) / cell) as usize;
        let r = ((f64::from(q[1]) - b[1]) / cell) as usize;
        r.min(h - 1) * w + c.min(w - 1)
    };
    for q in &cloud.positions {
        if !q[2].is_finite() {
            continue;
        }
        let k = cell_of(q);
        let z = f64::from(q[2]);
        if !(min.z[k] <= z) {
            min.z[k] = z;
        }
    }
    fill(&mut min.z, w, h);
    // Low outliers: pits one cell wide and steep (slope 5) in the negated surface.
    let neg: Vec<f64> = min.z.iter().map(|v| -v).collect();
    let pits = progressive(&neg, w, h, 5.0, 1, cell);
    // And single cells lower than all eight neighbours by more than `low`: a monotonic slope
    // never is, an isolated low outlier too shallow for the slope-5 test is.
    let alone: Vec<bool> = (0..w * h)
        .into_par_iter()
        .map(|k| {
            let (r, c) = (k / w, k % w);
            let mut lowest = f64::INFINITY;
            for dr in -1i64..=1 {
                for dc in -1i64..=1 {
                    let (rr, cc) = (r as i64 + dr, c as i64 + dc);
                    if (dr, dc) != (0, 0)
                        && rr >= 0
                        && cc >= 0
                        && (rr as usize) < h
                        && (cc as usize) < w
                    {
                        lowest = lowest.min(min.z[rr as usize * w + cc as usize]);
                    }
                }
            }
            min.z[k] < lowest - p.low
        })
        .collect();
    for (k, (&pit, &alone)) in pits.iter().zip(&alone).enumerate() {
        if pit || alone {
            min.z[k] = f64::NAN;
        }
    }
    fill(&mut min.z, w, h);
    let radius = ((p.window / cell).round() as usize).max(1);
    let objects = progressive(&min.z, w, h, p.slope, radius, cell);
    let mut ground = Raster {
        z: min.z.clone(),
        ..min
    };
    for (k, &o) in objects.iter().enumerate() {
        if o {
            ground.z[k] = f64::NAN;
        }
    }
    fill(&mut ground.z, w, h);
    let slope = gradient(&ground.z, w, h, cell);
    let slope = Raster {
        z: slope,
        x0: ground.x0,
        y0: ground.y0,
        cell,
        w,
        h,
    };
    let (class, hag): (Vec<Class>, Vec<f32>) = cloud
        .positions
        .par_iter()
        .map(|q| {
            let (x, y) = (f64::from(q[0]), f64::from(q[1]));
            let d = f64::from(q[2]) - ground.sample(x, y);
            let t = p.threshold + p.scalar * slope.sample(x, y);
            let c = if !d.is_finite() {
                Class::Object
            } else if d < -p.low.max(t) {
                Class::LowNoise
            } else if d.abs() <= t {
                Class::Ground
            } else {
                Class::Object
            };
            (c, d as f32)
        })
        .unzip();
    Ground { class, hag }
}

/// Pingel's progressive filter: openings with windows of radius 1 ..= `radius` cells, each
/// compared with the previous surface; a cell rising above its opening by more than
/// `slope` x r x cell is an object.
fn progressive(z: &[f64], w: usize, h: usize, slope: f64, radius: usize, cell: f64) -> Vec<bool> {
    let mut last = z.to_vec();
    let mut object = vec![false; w * h];
    for r in 1..=radius {
        let open = dilate(&erode(&last, w, h, r), w, h, r);
        let t = slope * r as f64 * cell;
        for k in 0..w * h {
            if last[k] - open[k] > t {
                object[k] = true;
            }
        }
        last = open;
    }
    object
}

fn erode(z: &[f64], w: usize, h: usize, r: usize) -> Vec<f64> {
    window(z, w, h, r, f64::min, f64::INFINITY)
}

fn dilate(z: &[f64], w: usize, h: usize, r: usize) -> Vec<f64> {
    window(z, w, h, r, f64::max, f64::NEG_INFINITY)
}

/// A square (2r+1)² min or max filter as two 1D passes (van Herk / Gil-Werman: prefix and
/// suffix extremes per block, O(1) per cell); `id` is the operation's neutral value.
fn window(z: &[f64], w: usize, h: usize, r: usize, f: fn(f64, f64) -> f64, id: f64) -> Vec<f64> {
    let rows: Vec<f64> = z
        .par_chunks(w)
        .flat_map_iter(|row| line(row, r, f, id))
        .collect();
    // Columns: transpose, filter, transpose back.
    let mut t = vec![0.0; w * h];
    for rr in 0..h {
        for c in 0..w {
            t[c * h + rr] = rows[rr * w + c];
        }
    }
    let cols: Vec<f64> = t
        .par_chunks(h)
        .flat_map_iter(|col| line(col, r, f, id))
        .collect();
    let mut out = vec![0.0; w * h];
    for c in 0..w {
        for rr in 0..h {
            out[rr * w + c] = cols[c * h + rr];
        }
    }
    out
}

/// The 1D filter over windows [i - r, i + r], the ends padded with `id` so that every window
/// is a whole block or spans two.
fn line(v: &[f64], r: usize, f: fn(f64, f64) -> f64, id: f64) -> Vec<f64> {
    let n = v.len();
    let k = 2 * r + 1;
    let mut p = vec![id; n + 2 * r];
    p[r..r + n].copy_from_slice(v);
    let m = p.len();
    let mut pre = p.clone();
    let mut suf = p.clone();
    for i in 1..m {
        if i % k != 0 {
            pre[i] = f(pre[i - 1], p[i]);
        }
    }
    for i in (0..m.saturating_sub(1)).rev() {
        if (i + 1) % k != 0 {
            suf[i] = f(suf[i + 1], p[i]);
        }
    }
    (0..n)
        .map(|i| {
            // The window p[i ..= i + 2r].
            if i % k == 0 {
                pre[i + k - 1]
            } else {
                f(suf[i], pre[i + k - 1])
            }
        })
        .collect()
}

/// Fills NaN cells from their neighbours: a pyramid of means down to a few cells, filled
/// coarse to fine, then relaxed (Laplace) where it was empty.
fn fill(z: &mut [f64], w: usize, h: usize) {
    if z.iter().all(|v| v.is_finite()) {
        return;
    }
    if z.iter().all(|v| !v.is_finite()) {
        z.iter_mut().for_each(|v| *v = 0.0);
        return;
    }
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let mut coarse = vec![f64::NAN; cw * ch];
    for r in 0..ch {
        for c in 0..cw {
            let (mut s, mut k) = (0.0, 0);
            for (dr, dc) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                let (rr, cc) = (2 * r + dr, 2 * c + dc);
                if rr < h && cc < w && z[rr * w + cc].is_finite() {
                    s += z[rr * w + cc];
                    k += 1;
                }
            }
            if k > 0 {
                coarse[r * cw + c] = s / f64::from(k);
            }
        }
    }
    if cw * ch < w * h {
        fill(&mut coarse, cw, ch);
    } else {
        coarse.iter_mut().for_each(|v| {
            if !v.is_finite() {
                *v = 0.0
            }
        });
    }
    let empty: Vec<usize> = (0..w * h).filter(|&k| !z[k].is_finite()).collect();
    for &k in &empty {
        let (r, c) = (k / w, k % w);
        z[k] = coarse[(r / 2) * cw + c / 2];
    }
    for _ in 0..4 {
        for &k in &empty {
            let (r, c) = (k / w, k % w);
            let (mut s, mut m) = (0.0, 0);
            if c > 0 {
                s += z[k - 1];
                m += 1;
            }
            if c + 1 < w {
                s += z[k + 1];
                m += 1;
            }
            if r > 0 {
                s += z[k - w];
                m += 1;
            }
            if r + 1 < h {
                s += z[k + w];
                m += 1;
            }
            z[k] = s / f64::from(m);
        }
    }
}

/// Slope (rise over run) by central differences.
fn gradient(z: &[f64], w: usize, h: usize, cell: f64) -> Vec<f64> {
    (0..w * h)
        .into_par_iter()
        .map(|k| {
            let (r, c) = (k / w, k % w);
            let (c0, c1) = (c.saturating_sub(1), (c + 1).min(w - 1));
            let (r0, r1) = (r.saturating_sub(1), (r + 1).min(h - 1));
            let gx = (z[r * w + c1] - z[r * w + c0]) / ((c1 - c0).max(1) as f64 * cell);
            let gy = (z[r1 * w + c] - z[r0 * w + c]) / ((r1 - r0).max(1) as f64 * cell);
            gx.hypot(gy)
        })
        .collect()
}

/// Sithole & Vosselman's scores of a prediction against a reference (true = ground).
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Scores {
    /// Ground called object, over the reference ground.
    pub type1: f64,
    /// Object called ground, over the reference objects.
    pub type2: f64,
    pub total: f64,
    pub kappa: f64,
}

pub fn scores(reference: &[bool], predicted: &[bool]) -> Scores {
    let (mut a, mut b, mut c, mut d) = (0f64, 0f64, 0f64, 0f64);
    for (&r, &p) in reference.iter().zip(predicted) {
        match (r, p) {
            (true, true) => a += 1.0,
            (true, false) => b += 1.0,
            (false, true) => c += 1.0,
            (false, false) => d += 1.0,
        }
    }
    let n = (a + b + c + d).max(1.0);
    let po = (a + d) / n;
    let pe = ((a + b) * (a + c) + (c + d) * (b + d)) / (n * n);
    Scores {
        type1: b / (a + b).max(1.0),
        type2: c / (c + d).max(1.0),
        total: (b + c) / n,
        kappa: if pe < 1.0 {
            (po - pe) / (1.0 - pe)
        } else {
            1.0
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_house_on_a_slope_and_a_low_outlier() {
        // A 60 x 60 m slope of 10 %, a 10 x 10 m house 6 m tall, one point 5 m below ground.
        let mut c = PointCloud::with_origin([0.0; 3]);
        for i in 0..240 {
            for j in 0..240 {
                let (x, y) = (i as f32 * 0.25, j as f32 * 0.25);
                let mut z = 0.1 * x;
                if (25.0..35.0).contains(&x) && (25.0..35.0).contains(&y) {
                    z += 6.0;
                }
                c.positions.push([x, y, z]);
            }
        }
        c.positions.push([10.1, 10.1, -4.0]);
        let g = classify(&c, &Params::default());
        let n = c.len();
        assert_eq!(g.class[n - 1], Class::LowNoise);
        let house = c
            .positions
            .iter()
            .zip(&g.class)
            .filter(|(q, _)| (26.0..34.0).contains(&q[0]) && (26.0..34.0).contains(&q[1]));
        assert!(house.clone().all(|(_, k)| *k == Class::Object));
        let ground = c.positions[..n - 1]
            .iter()
            .zip(&g.class)
            .filter(|(q, _)| !((24.0..36.0).contains(&q[0]) && (24.0..36.0).contains(&q[1])));
        let (all, ok) = ground.fold((0, 0), |(a, o), (_, k)| {
            (a + 1, o + usize::from(*k == Class::Ground))
        });
        assert!(ok as f64 / all as f64 > 0.99, "{ok} / {all}");
    }

    #[test]
    fn square_windows_are_exact_min_filters() {
        let v = [5.0, 3.0, 8.0, 1.0, 9.0, 7.0, 2.0];
        let ext = |r: usize, f: fn(f64, f64) -> f64, id: f64| -> Vec<f64> {
            (0..v.len())
                .map(|i| {
                    v[i.saturating_sub(r)..=(i + r).min(v.len() - 1)]
                        .iter()
                        .fold(id, |a, &b| f(a, b))
                })
                .collect()
        };
        assert_eq!(
            line(&v, 2, f64::max, f64::NEG_INFINITY),
            vec![8.0, 8.0, 9.0, 9.0, 9.0, 9.0, 9.0]
        );
        for r in 0..5 {
            let lo = line(&v, r, f64::min, f64::INFINITY);
            assert_eq!(lo, ext(r, f64::min, f64::INFINITY), "r = {r}");
            let hi = line(&v, r, f64::max, f64::NEG_INFINITY);
            assert_eq!(hi, ext(r, f64::max, f64::NEG_INFINITY), "r = {r}");
        }
    }
}
