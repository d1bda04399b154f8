//! DEM co-registration: Nuth & Kääb (2011) horizontal and vertical shift of epoch 2 onto
//! epoch 1 on stable terrain, computed as xDEM 0.2.3 computes it (`xdem.coreg.NuthKaab`
//! defaults), so the two agree on the same grids and mask:
//!
//! - slope tangent and aspect of epoch 1 from `np.gradient` in pixel units (central
//!   differences, one-sided at the edges), aspect = atan2(-gx, gy) + pi; flat cells left out;
//! - each iteration: dh = epoch 1 - epoch 2 bilinearly sampled at the shifted positions, the
//!   median of dh is the vertical shift and is taken off, dh / tan(slope) binned by aspect in 72
//!   equal bins (median per bin), `a cos(b - aspect) + c` fitted to the bins; east = a sin b,
//!   north = a cos b (pixels) are added to the shift;
//! - at most 10 iterations, stopping after the third once the increment is below 0.001 pixel.
//!
//! The fit is linear in (a cos b, a sin b, c), so it is solved exactly by least squares where
//! xDEM runs scipy's curve_fit to the same minimum.

use super::AnalysisError;
use serde::{Deserialize, Serialize};

/// One iteration: the shift so far (east, north, up; metres) and the increment (pixels).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Iteration {
    pub offset: [f64; 3],
    pub increment_px: f64,
}

/// The fitted shift, as applied to epoch 2 (east, north, up; metres): epoch 2 aligned is
/// `z2(x - sx, y - sy) + sz`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Coregistration {
    pub shift: [f64; 3],
    pub iterations: Vec<Iteration>,
    /// Cells used (stable, valid in both epochs, not flat).
    pub cells: usize,
}

/// Epoch 1 (`z1`) and epoch 2 (`z2`) on one north-up grid of `w` x `h` cells of `res` =
/// [x, y] metres; `stable[i]` marks the cells to fit on.
pub fn nuth_kaab(
    z1: &[f32],
    z2: &[f32],
    w: usize,
    h: usize,
    res: [f64; 2],
    stable: &[bool],
) -> Result<Coregistration, AnalysisError> {
    let (slope, aspect) = slope_aspect_px(z1, w, h);
    let cells: Vec<usize> = (0..w * h)
        .filter(|&i| {
            stable[i]
                && z1[i].is_finite()
                && z2[i].is_finite()
                && slope[i].is_finite()
                && aspect[i].is_finite()
        })
        .collect();
    if cells.len() < 100 {
        return Err(AnalysisError::InvalidParameter(format!(
            "co-registration needs stable sloped terrain: only {} usable cells",
            cells.len()
        )));
    }
    let mut off = [0.0f64; 3];
    let mut iterations = Vec::new();
    for i in 0..10 {
        let mut dh = Vec::with_capacity(cells.len());
        let mut idx = Vec::with_capacity(cells.len());
        for &k in &cells {
            let (c, r) = ((k % w) as f64 + 0.5, (k / w) as f64 + 0.5);
            let v = sample_strict(z2, w, h, c + off[0] / res[0], r - off[1] / res[1]);
            let d = f64::from(z1[k]) - v;
            if d.is_finite() {
                dh.push(d);
                idx.push(k);
            }
        }
        if dh.is_empty() {
            return Err(AnalysisError::InvalidParameter(
                "co-registration diverged: no cell left after shifting".into(),
            ));
        }
        let vshift = median(&mut dh.clone());
        let y: Vec<f64> = dh
            .iter()
            .zip(&idx)
            .map(|(d, &k)| (d - vshift) / f64::from(slope[k]))
            .collect();
        let asp: Vec<f64> = idx.iter().map(|&k| f64::from(aspect[k])).collect();
        let [north, east] = fit_cosine(&asp, &y)?;
        off = [off[0] + east * res[0], off[1] + north * res[1], vshift];
        let increment_px = (east * east + north * north).sqrt();
        iterations.push(Iteration {
            offset: off,
            increment_px,
        });
        if i > 1 && increment_px < 0.001 {
            break;
        }
    }
    Ok(Coregistration {
        shift: [-off[0], -off[1], off[2]],
        iterations,
        cells: cells.len(),
    })
}

/// Epoch 2 aligned onto the grid: `z2(x - sx, y - sy) + sz`, bilinear, NaN where a
/// neighbour is missing.
pub fn apply(z2: &[f32], w: usize, h: usize, res: [f64; 2], shift: [f64; 3]) -> Vec<f32> {
    (0..w * h)
        .map(|k| {
            let (c, r) = ((k % w) as f64 + 0.5, (k / w) as f64 + 0.5);
            (sample_strict(z2, w, h, c - shift[0] / res[0], r + shift[1] / res[1]) + shift[2])
                as f32
        })
        .collect()
}

/// Bilinear at pixel coordinates (c, r) (cell centres at +0.5) between the four surrounding
/// centres; NaN outside the centres' hull or when one of the four is NaN (scipy's
/// RegularGridInterpolator, as xDEM samples).
fn sample_strict(z: &[f32], w: usize, h: usize, c: f64, r: f64) -> f64 {
    let (fc, fr) = (c - 0.5, r - 0.5);
    if !(fc >= 0.0 && fr >= 0.0 && fc <= (w - 1) as f64 && fr <= (h - 1) as f64) {
        return f64::NAN;
    }
    let (c0, r0) = (
        (fc.floor() as usize).min(w.saturating_sub(2)),
        (fr.floor() as usize).min(h.saturating_sub(2)),
    );
    let (c1, r1) = ((c0 + 1).min(w - 1), (r0 + 1).min(h - 1));
    let (tc, tr) = (fc - c0 as f64, fr - r0 as f64);
    let g = |cc: usize, rr: usize| f64::from(z[rr * w + cc]);
    (1.0 - tr) * ((1.0 - tc) * g(c0, r0) + tc * g(c1, r0))
        + tr * ((1.0 - tc) * g(c0, r1) + tc * g(c1, r1))
}

/// `np.gradient` of a row-major grid along rows (gy) and columns (gx), in height per pixel.
fn gradient(z: &[f32], w: usize, h: usize) -> (Vec<f64>, Vec<f64>) {
    let at = |c: usize, r: usize| f64::from(z[r * w + c]);
    let d = |a: f64, b: f64, n: f64| (b - a) / n;
    let mut gx = vec![f64::NAN; w * h];
    let mut gy = vec![f64::NAN; w * h];
    for r in 0..h {
        for c in 0..w {
            let k = r * w + c;
            gx[k] = match (c, w) {
                (_, 1) => 0.0,
                (0, _) => d(at(0, r), at(1, r), 1.0),
                (c, w) if c == w - 1 => d(at(c - 1, r), at(c, r), 1.0),
                (c, _) => d(at(c - 1, r), at(c + 1, r), 2.0),
            };
            gy[k] = match (r, h) {
                (_, 1) => 0.0,
                (0, _) => d(at(c, 0), at(c, 1), 1.0),
                (r, h) if r == h - 1 => d(at(c, r - 1), at(c, r), 1.0),
                (r, _) => d(at(c, r - 1), at(c, r + 1), 2.0),
            };
        }
    }
    (gx, gy)
}

/// Slope tangent (per pixel; NaN where flat) and aspect (radians) as xDEM's Nuth & Kääb
/// derives them.
fn slope_aspect_px(z: &[f32], w: usize, h: usize) -> (Vec<f32>, Vec<f32>) {
    let (gx, gy) = gradient(z, w, h);
    let slope = gx
        .iter()
        .zip(&gy)
        .map(|(x, y)| {
            let s = (x * x + y * y).sqrt();
            // np.isclose(s, 0): |s| <= 1e-8.
            if s.abs() <= 1e-8 {
                f32::NAN
            } else {
                s as f32
            }
        })
        .collect();
    let aspect = gx
        .iter()
        .zip(&gy)
        .map(|(x, y)| ((-x).atan2(*y) + std::f64::consts::PI) as f32)
        .collect();
    (slope, aspect)
}

/// Slope in degrees from a grid of `res` metres (metric gradient), for statistics by slope.
pub fn slope_degrees(z: &[f32], w: usize, h: usize, res: [f64; 2]) -> Vec<f32> {
    let (gx, gy) = gradient(z, w, h);
    gx.iter()
        .zip(&gy)
        .map(|(x, y)| ((x / res[0]).hypot(y / res[1])).atan().to_degrees() as f32)
        .collect()
}

/// The median (mean of the middle two for an even count); sorts `v`.
pub fn median(v: &mut [f64]) -> f64 {
    let n = v.len();
    v.sort_unstable_by(|a, b| a.total_cmp(b));
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// NMAD = 1.4826 median(|x - median(x)|) of the finite values (NaN when none).
pub fn nmad(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    let m = median(&mut v);
    let mut dev: Vec<f64> = v.iter().map(|x| (x - m).abs()).collect();
    1.4826 * median(&mut dev)
}

/// Medians of `y` in 72 equal aspect bins over the data's range (scipy's binned_statistic:
/// the last bin closed), then `a cos(b - x) + c` = A cos x + B sin x + c by least squares on
/// the bin midpoints. Returns [A, B] = [north, east] in pixels.
fn fit_cosine(aspect: &[f64], y: &[f64]) -> Result<[f64; 2], AnalysisError> {
    const BINS: usize = 72;
    let (lo, hi) = aspect
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        });
    let width = (hi - lo) / BINS as f64;
    let mut bins: Vec<Vec<f64>> = vec![Vec::new(); BINS];
    for (&x, &v) in aspect.iter().zip(y) {
        if !v.is_finite() {
            continue;
        }
        let k = if width > 0.0 {
            (((x - lo) / width) as usize).min(BINS - 1)
        } else {
            0
        };
        bins[k].push(v);
    }
    // Normal equations of [cos x, sin x, 1].
    let mut ata = nalgebra::Matrix3::<f64>::zeros();
    let mut atb = nalgebra::Vector3::<f64>::zeros();
    let mut used = 0;
    for (k, b) in bins.iter_mut().enumerate() {
        if b.is_empty() {
            continue;
        }
        let m = median(b);
        let x = lo + (k as f64 + 0.5) * width;
        let row = nalgebra::Vector3::new(x.cos(), x.sin(), 1.0);
        ata += row * row.transpose();
        atb += row * m;
        used += 1;
    }
    let sol = (used >= 3)
        .then(|| ata.lu().solve(&atb))
        .flatten()
        .ok_or_else(|| {
            AnalysisError::InvalidParameter(
                "co-registration: too few aspect directions on stable terrain".into(),
            )
        })?;
    Ok([sol[0], sol[1]])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rolling terrain with slopes in every direction.
    fn terrain(w: usize, h: usize, res: f64, dx: f64, dy: f64, dz: f64) -> Vec<f32> {
        (0..w * h)
            .map(|k| {
                let (x, y) = (
                    (k % w) as f64 * res + 0.5 * res - dx,
                    -((k / w) as f64 * res + 0.5 * res) - dy,
                );
                (20.0 * (x / 37.0).sin() * (y / 53.0).cos() + 0.05 * x + dz) as f32
            })
            .collect()
    }

    #[test]
    fn recovers_a_known_shift() {
        let (w, h, res) = (300, 240, 1.0);
        let z1 = terrain(w, h, res, 0.0, 0.0, 0.0);
        // Epoch 2 is the same ground moved 0.6 m east, 0.35 m south and 0.5 m down: aligning
        // it moves it back.
        let z2 = terrain(w, h, res, 0.6, -0.35, -0.5);
        let stable = vec![true; w * h];
        let c = nuth_kaab(&z1, &z2, w, h, [res, res], &stable).unwrap();
        let s = c.shift;
        assert!((s[0] + 0.6).abs() < 0.01, "{s:?}");
        assert!((s[1] - 0.35).abs() < 0.01, "{s:?}");
        assert!((s[2] - 0.5).abs() < 0.01, "{s:?}");
        assert!(c.iterations.len() >= 3);
        let aligned = apply(&z2, w, h, [res, res], s);
        let err = nmad((0..w * h).map(|k| f64::from(aligned[k]) - f64::from(z1[k])));
        assert!(err < 0.005, "{err}");
    }

    #[test]
    fn flat_ground_is_refused() {
        let z = vec![5.0f32; 50 * 50];
        assert!(nuth_kaab(&z, &z, 50, 50, [1.0, 1.0], &vec![true; 2500]).is_err());
    }
}
