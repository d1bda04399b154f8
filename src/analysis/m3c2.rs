//! M3C2 (Lague, Brodu & Leroux 2013) with level of detection, as py4dgeo computes it: per core
//! point, a normal from epoch 1 (see `normals`), a cylinder of radius `cyl_radius` and
//! half-length `max_distance` along it, distance = n . (mean(P2) - mean(P1)), spreads = standard
//! deviation along n (n - 1), LoD95 = 1.96 (sqrt(s1^2/n1 + s2^2/n2) + registration_error);
//! robust variant: medians and interquartile ranges. Empty cylinder -> NaN.
//!
//! Unlike py4dgeo, the half-length is `max_distance` exactly even when it is shorter than the
//! radius (as CloudCompare and PDAL's filters.m3c2 do).

use super::columns::Columns;
use super::index::morton_order;
use super::normals::{normal_at, Neighbourhoods, Orientation, MAX_RADII};
use super::{check_positive, AnalysisError, Result};
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Params {
    pub cyl_radius: f64,
    pub normal_radii: Vec<f64>,
    pub max_distance: f64,
    pub registration_error: f64,
    pub robust: bool,
    pub orientation: Orientation,
    pub neighbourhoods: Neighbourhoods,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            cyl_radius: 1.0,
            normal_radii: vec![0.5, 1.0, 2.0],
            max_distance: 3.0,
            registration_error: 0.0,
            robust: false,
            orientation: Orientation::default(),
            neighbourhoods: Neighbourhoods::default(),
        }
    }
}

impl Params {
    pub fn validate(&self) -> Result<()> {
        check_positive("cylinder radius", self.cyl_radius)?;
        check_positive("max distance", self.max_distance)?;
        if self.normal_radii.is_empty() || self.normal_radii.len() > MAX_RADII {
            return Err(AnalysisError::InvalidParameter(format!(
                "give 1 to {MAX_RADII} normal radii"
            )));
        }
        for r in &self.normal_radii {
            check_positive("normal radius", *r)?;
        }
        if !(self.registration_error.is_finite() && self.registration_error >= 0.0) {
            return Err(AnalysisError::InvalidParameter(format!(
                "registration error must be >= 0, got {}",
                self.registration_error
            )));
        }
        let (Orientation::Vector(v) | Orientation::Sensor(v)) = self.orientation;
        {
            if !v.iter().all(|x| x.is_finite()) {
                return Err(AnalysisError::InvalidParameter(
                    "orientation must be finite".into(),
                ));
            }
        }
        if let Orientation::Vector(v) = self.orientation {
            if v.iter().all(|x| *x == 0.0) {
                return Err(AnalysisError::InvalidParameter(
                    "orientation vector is zero".into(),
                ));
            }
        }
        Ok(())
    }
}

/// Per-core-point results, in core-point order. NaN where undefined.
#[derive(Clone, Debug, Default)]
pub struct M3c2Result {
    pub normal: Vec<[f32; 3]>,
    /// The normal radius that won (NaN without a normal).
    pub normal_radius: Vec<f32>,
    pub distance: Vec<f64>,
    pub lod: Vec<f64>,
    pub spread1: Vec<f64>,
    pub spread2: Vec<f64>,
    pub n1: Vec<u32>,
    pub n2: Vec<u32>,
}

impl M3c2Result {
    pub fn len(&self) -> usize {
        self.distance.len()
    }
    pub fn is_empty(&self) -> bool {
        self.distance.is_empty()
    }
    /// |distance| > LoD (false where either is NaN).
    pub fn significant(&self, i: usize) -> bool {
        self.distance[i].abs() > self.lod[i]
    }
    pub fn nan_count(&self) -> usize {
        self.distance.iter().filter(|d| d.is_nan()).count()
    }
    pub fn significant_count(&self) -> usize {
        (0..self.len()).filter(|&i| self.significant(i)).count()
    }
}

/// Seconds spent in each stage.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct Timings {
    pub index_s: f64,
    pub normals_s: f64,
    pub distances_s: f64,
}

#[derive(Clone, Copy, Default)]
struct Core {
    normal: [f32; 3],
    radius: f32,
    d: f64,
    lod: f64,
    s1: f64,
    s2: f64,
    n1: u32,
    n2: u32,
}

/// Projections along the axis of the points of one epoch inside the cylinder, relative to the
/// core point. Also the scratch buffer for the robust variant (reused, not reallocated).
fn cylinder(
    index: &Columns,
    c: [f64; 3],
    n: [f64; 3],
    r: f64,
    half: f64,
    t_out: &mut Vec<f64>,
) -> usize {
    // The buffer is scratch that only grows (see the branch-free keep below); the first
    // returned count of its values are this cylinder's.
    let r2 = r * r;
    // Branch-free keep: every candidate is written at `len`, and `len` advances only for the
    // points inside (whether a point is inside is unpredictable; a mispredicted branch per
    // candidate cost more than the arithmetic).
    let mut len = 0usize;
    // The exact test below rejects what the runs hold outside the cylinder.
    index.spans_cylinder(c, n, r, half, |span| {
        for p in span {
            let d = [
                f64::from(p[0]) - c[0],
                f64::from(p[1]) - c[1],
                f64::from(p[2]) - c[2],
            ];
            let t = d[0] * n[0] + d[1] * n[1] + d[2] * n[2];
            let a2 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2] - t * t;
            if len < t_out.len() {
                t_out[len] = t;
            } else {
                t_out.push(t);
            }
            len += usize::from((t.abs() <= half) & (a2 <= r2));
        }
    });
    len
}

/// Mean and sample standard deviation.
fn mean_std(t: &[f64]) -> (f64, f64) {
    let n = t.len() as f64;
    if t.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let m = t.iter().sum::<f64>() / n;
    let v = t.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0);
    (m, v.sqrt())
}

/// Median and interquartile range exactly as py4dgeo's `median_iqr_distance`: quartile k at
/// sorted position floor(k n / 4), averaged with the element before it when 4 (or 2 for the
/// median) divides n.
fn median_iqr(t: &mut [f64]) -> (f64, f64) {
    let n = t.len();
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    t.sort_unstable_by(f64::total_cmp);
    let at = |pos: usize, avg: bool| {
        if avg {
            (t[pos - 1] + t[pos]) / 2.0
        } else {
            t[pos]
        }
    };
    let q1 = at(n / 4, n.is_multiple_of(4));
    let q2 = at(n / 2, n.is_multiple_of(2));
    let q3 = at(3 * n / 4, n.is_multiple_of(4));
    (q2, q3 - q1)
}

/// A good column size for these parameters: half the cylinder radius (a cylinder then reads
/// about 16 columns, a normal ball about (2 r / cell)^2).
pub fn column_size(p: &Params) -> f32 {
    (p.cyl_radius * 0.5) as f32
}

/// What M3C2 needs of the reference epoch, computed once for any number of compared epochs
/// (a monitoring series): the core points' Morton order, their normals, and per core point
/// the reference's position along the normal, spread and count in the cylinder.
pub struct Reference {
    order: Vec<u32>,
    normals: Vec<Option<([f64; 3], f32)>>,
    /// (mean or median, spread, count), in Morton order.
    stats: Vec<(f64, f64, u32)>,
    cores: usize,
}

impl Reference {
    /// The standard error of the reference's position along the normal per core point,
    /// spread / sqrt(count) (NaN with an empty cylinder or no normal), in core-point order.
    pub fn standard_errors(&self) -> Vec<f32> {
        let mut out = vec![f32::NAN; self.cores];
        for (j, &i) in self.order.iter().enumerate() {
            let (_, s, n) = self.stats[j];
            if n > 0 {
                out[i as usize] = (s / f64::from(n).sqrt()) as f32;
            }
        }
        out
    }

    /// The normal per core point (NaN without one), in core-point order.
    pub fn normals(&self) -> Vec<[f32; 3]> {
        let mut out = vec![[f32::NAN; 3]; self.cores];
        for (j, &i) in self.order.iter().enumerate() {
            if let Some((n, _)) = self.normals[j] {
                out[i as usize] = n.map(|v| v as f32);
            }
        }
        out
    }
}

/// The reference half of M3C2 (see [`Reference`]); `user_normals` optionally gives a normal
/// per core point (no PCA).
pub fn prepare(
    epoch1: &Columns,
    cores: &[[f32; 3]],
    user_normals: Option<&[[f32; 3]]>,
    p: &Params,
    cancel: &AtomicBool,
) -> Result<(Reference, Timings)> {
    p.validate()?;
    if let Some(u) = user_normals {
        if u.len() != cores.len() {
            return Err(AnalysisError::InvalidParameter(format!(
                "{} normals for {} core points",
                u.len(),
                cores.len()
            )));
        }
    }
    let mut timings = Timings::default();
    let t0 = std::time::Instant::now();
    let order = morton_order(cores);
    timings.index_s += t0.elapsed().as_secs_f64();

    // Normals, in Morton order of the core points.
    let t1 = std::time::Instant::now();
    let normals: Vec<Option<([f64; 3], f32)>> = order
        .par_iter()
        .map(|&i| {
            let i = i as usize;
            match user_normals {
                Some(u) => {
                    let v = u[i].map(f64::from);
                    let len = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
                    (len > 0.0 && len.is_finite())
                        .then(|| ([v[0] / len, v[1] / len, v[2] / len], f32::NAN))
                }
                None => normal_at(
                    epoch1,
                    &cores[i],
                    &p.normal_radii,
                    &p.orientation,
                    p.neighbourhoods,
                )
                .map(|nm| (nm.n, p.normal_radii[nm.radius_index] as f32)),
            }
        })
        .collect();
    timings.normals_s = t1.elapsed().as_secs_f64();
    if cancel.load(Ordering::Relaxed) {
        return Err(AnalysisError::Cancelled);
    }
    let t2 = std::time::Instant::now();
    let stats = order
        .par_chunks(CHUNK)
        .zip(normals.par_chunks(CHUNK))
        .flat_map_iter(|(idx, nrm)| {
            let mut buf = Vec::with_capacity(256);
            idx.iter()
                .zip(nrm)
                .map(|(&i, nm)| match nm {
                    None => (f64::NAN, f64::NAN, 0),
                    Some((n, _)) => {
                        let c = cores[i as usize].map(f64::from);
                        let k = cylinder(epoch1, c, *n, p.cyl_radius, p.max_distance, &mut buf);
                        let (m, s) = centre_spread(&mut buf[..k], p.robust);
                        (m, s, k as u32)
                    }
                })
                .collect::<Vec<_>>()
        })
        .collect();
    timings.distances_s = t2.elapsed().as_secs_f64();
    let reference = Reference {
        order,
        normals,
        stats,
        cores: cores.len(),
    };
    Ok((reference, timings))
}

const CHUNK: usize = 4096;

fn centre_spread(t: &mut [f64], robust: bool) -> (f64, f64) {
    if robust {
        median_iqr(t)
    } else {
        mean_std(t)
    }
}

/// M3C2 of one epoch against a prepared reference. `cores` are the ones `prepare` was given.
/// `progress(done, total)` is called from worker threads.
pub fn against(
    reference: &Reference,
    epoch2: &Columns,
    cores: &[[f32; 3]],
    p: &Params,
    progress: &(dyn Fn(usize, usize) + Sync),
    cancel: &AtomicBool,
) -> Result<M3c2Result> {
    if cores.len() != reference.cores {
        return Err(AnalysisError::InvalidParameter(format!(
            "{} core points for a reference of {}",
            cores.len(),
            reference.cores
        )));
    }
    let done = AtomicUsize::new(0);
    let total = cores.len();
    let per_core: Vec<Core> = reference
        .order
        .par_chunks(CHUNK)
        .zip(reference.normals.par_chunks(CHUNK))
        .zip(reference.stats.par_chunks(CHUNK))
        .flat_map_iter(|((idx, nrm), st)| {
            let mut t2 = Vec::with_capacity(256);
            let out: Vec<Core> = if cancel.load(Ordering::Relaxed) {
                Vec::new()
            } else {
                idx.iter()
                    .zip(nrm)
                    .zip(st)
                    .map(|((&i, nm), &(m1, s1, k1))| {
                        let mut r = Core {
                            normal: [f32::NAN; 3],
                            radius: f32::NAN,
                            d: f64::NAN,
                            lod: f64::NAN,
                            s1: f64::NAN,
                            s2: f64::NAN,
                            n1: 0,
                            n2: 0,
                        };
                        let Some((n, rad)) = nm else { return r };
                        r.normal = n.map(|v| v as f32);
                        r.radius = *rad;
                        let c = cores[i as usize].map(f64::from);
                        let k2 = cylinder(epoch2, c, *n, p.cyl_radius, p.max_distance, &mut t2);
                        let (m2, s2) = centre_spread(&mut t2[..k2], p.robust);
                        r.n1 = k1;
                        r.n2 = k2 as u32;
                        r.d = m2 - m1;
                        r.s1 = s1;
                        r.s2 = s2;
                        let (n1, n2) = (f64::from(r.n1), f64::from(r.n2));
                        r.lod =
                            1.96 * ((s1 * s1 / n1 + s2 * s2 / n2).sqrt() + p.registration_error);
                        r
                    })
                    .collect()
            };
            let d = done.fetch_add(idx.len(), Ordering::Relaxed) + idx.len();
            progress(d, total);
            out
        })
        .collect();
    if cancel.load(Ordering::Relaxed) || per_core.len() != cores.len() {
        return Err(AnalysisError::Cancelled);
    }
    let n = cores.len();
    let mut res = M3c2Result {
        normal: vec![[f32::NAN; 3]; n],
        normal_radius: vec![f32::NAN; n],
        distance: vec![f64::NAN; n],
        lod: vec![f64::NAN; n],
        spread1: vec![f64::NAN; n],
        spread2: vec![f64::NAN; n],
        n1: vec![0; n],
        n2: vec![0; n],
    };
    for (j, &i) in reference.order.iter().enumerate() {
        let (i, c) = (i as usize, per_core[j]);
        res.normal[i] = c.normal;
        res.normal_radius[i] = c.radius;
        res.distance[i] = c.d;
        res.lod[i] = c.lod;
        res.spread1[i] = c.s1;
        res.spread2[i] = c.s2;
        res.n1[i] = c.n1;
        res.n2[i] = c.n2;
    }
    Ok(res)
}

/// Runs M3C2. `epoch1` and `epoch2` are the indexes of both epochs (same local frame);
/// `cores` are the core points; `normals` optionally gives a normal per core point (user
/// normals: no PCA). `progress(done, total)` is called from worker threads.
pub fn compute(
    epoch1: &Columns,
    epoch2: &Columns,
    cores: &[[f32; 3]],
    user_normals: Option<&[[f32; 3]]>,
    p: &Params,
    progress: &(dyn Fn(usize, usize) + Sync),
    cancel: &AtomicBool,
) -> Result<(M3c2Result, Timings)> {
    let (reference, mut timings) = prepare(epoch1, cores, user_normals, p, cancel)?;
    let t = std::time::Instant::now();
    let r = against(&reference, epoch2, cores, p, progress, cancel)?;
    timings.distances_s += t.elapsed().as_secs_f64();
    Ok((r, timings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quartiles_follow_py4dgeo() {
        assert_eq!(median_iqr(&mut [3.0]), (3.0, 0.0));
        assert_eq!(median_iqr(&mut [2.0, 1.0]), (1.5, 2.0 - 1.0));
        // n = 4: q1 = (s0+s1)/2, q2 = (s1+s2)/2, q3 = (s2+s3)/2
        assert_eq!(median_iqr(&mut [4.0, 1.0, 3.0, 2.0]), (2.5, 3.5 - 1.5));
        // n = 5: q1 = s1, q2 = s2, q3 = s3
        assert_eq!(median_iqr(&mut [5.0, 1.0, 4.0, 2.0, 3.0]), (3.0, 4.0 - 2.0));
        assert!(median_iqr(&mut []).0.is_nan());
    }

    #[test]
    fn flat_planes_one_decimetre_apart() {
        let grid = |z: f32| -> Vec<[f32; 3]> {
            (0..4000)
                .map(|i| {
                    [
                        ((i % 80) as f32) * 0.05 - 2.0,
                        ((i / 80) as f32) * 0.05 - 1.25,
                        z + 0.001 * ((i * 7 % 11) as f32 - 5.0),
                    ]
                })
                .collect()
        };
        let (a, b) = (grid(0.0), grid(0.1));
        let (ia, ib) = (Columns::build(&a, 0.15), Columns::build(&b, 0.15));
        let cores = vec![[0.0, 0.0, 0.0], [100.0, 100.0, 0.0]];
        let p = Params {
            cyl_radius: 0.3,
            normal_radii: vec![0.5],
            max_distance: 1.0,
            ..Default::default()
        };
        let (r, _) = compute(
            &ia,
            &ib,
            &cores,
            None,
            &p,
            &|_, _| {},
            &AtomicBool::new(false),
        )
        .unwrap();
        assert!((r.distance[0] - 0.1).abs() < 1e-3, "{}", r.distance[0]);
        assert!(r.normal[0][2] > 0.999);
        assert!(r.significant(0));
        assert!(r.n1[0] > 50 && r.n2[0] > 50);
        // Far from the data: no normal, NaN everywhere.
        assert!(r.distance[1].is_nan() && r.lod[1].is_nan() && !r.significant(1));
        assert_eq!(r.nan_count(), 1);
        // Bad parameters are errors, not garbage.
        let bad = Params {
            cyl_radius: f64::NAN,
            ..p.clone()
        };
        assert!(compute(
            &ia,
            &ib,
            &cores,
            None,
            &bad,
            &|_, _| {},
            &AtomicBool::new(false)
        )
        .is_err());
    }
}
