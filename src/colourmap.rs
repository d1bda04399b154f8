//! Colour maps shared by the viewer and the exports, so a tileset, a report and the screen
//! show the same colours for the same values.

/// Viridis at 9 stops (sequential, perceptually uniform, colour-blind safe).
pub const VIRIDIS: [[u8; 3]; 9] = [
    [68, 1, 84],
    [71, 44, 122],
    [59, 81, 139],
    [44, 113, 142],
    [33, 144, 141],
    [39, 173, 129],
    [92, 200, 99],
    [170, 220, 50],
    [253, 231, 37],
];
/// ColorBrewer RdBu reversed, 11 stops: blue = negative (loss, subsidence), red = positive.
pub const RDBU: [[u8; 3]; 11] = [
    [5, 48, 97],
    [33, 102, 172],
    [67, 147, 195],
    [146, 197, 222],
    [209, 229, 240],
    [247, 247, 247],
    [253, 219, 199],
    [244, 165, 130],
    [214, 96, 77],
    [178, 24, 43],
    [103, 0, 31],
];

fn ramp(stops: &[[u8; 3]], t: f32) -> [u8; 3] {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = t * (stops.len() - 1) as f32;
    let i = (x.floor() as usize).min(stops.len() - 2);
    let f = x - i as f32;
    [0, 1, 2].map(|k| {
        (f32::from(stops[i][k]) * (1.0 - f) + f32::from(stops[i + 1][k]) * f).round() as u8
    })
}

/// `t` in [0, 1] (clamped; NaN -> 0).
pub fn viridis(t: f32) -> [u8; 3] {
    ramp(&VIRIDIS, t)
}

/// `t` in [-1, 1] (clamped): blue .. white (0) .. red.
pub fn diverging(t: f32) -> [u8; 3] {
    ramp(&RDBU, 0.5 + 0.5 * t)
}

/// LAS RGB (16-bit) to 8-bit; files written by 8-bit tools keep every value <= 255 and are
/// taken as they are.
pub fn rgb8(rgb: &[[u16; 3]]) -> Vec<[u8; 3]> {
    use rayon::prelude::*;
    let eight_bit = rgb.par_iter().all(|c| c.iter().all(|&v| v <= 255));
    rgb.par_iter()
        .map(|c| {
            if eight_bit {
                c.map(|v| v as u8)
            } else {
                c.map(|v| (v >> 8) as u8)
            }
        })
        .collect()
}

/// The q-quantile of the finite values (nearest rank).
pub fn percentile(mut v: Vec<f32>, q: f32) -> Option<f32> {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return None;
    }
    let k = ((v.len() - 1) as f32 * q.clamp(0.0, 1.0)).round() as usize;
    let (_, x, _) = v.select_nth_unstable_by(k, |a, b| a.total_cmp(b));
    Some(*x)
}

/// Histogram of the finite values of a field over `range`: counts per bin.
pub fn histogram(values: &[f32], range: (f32, f32), bins: usize) -> Vec<usize> {
    let mut h = vec![0usize; bins.max(1)];
    let (lo, hi) = range;
    if !(hi > lo) {
        return h;
    }
    for &v in values.iter().filter(|v| v.is_finite()) {
        let b = ((v - lo) / (hi - lo) * bins as f32).floor();
        let b = (b.max(0.0) as usize).min(bins - 1);
        h[b] += 1;
    }
    h
}

/// Half-width of the symmetric colour range for a deformation field: the 98th percentile of
/// |d| over the significant values when there are some (at least 10), else over all. Over the
/// significant ones because otherwise the noise (most points) sets the scale and every real
/// change saturates. None when there is no finite value.
pub fn deformation_limit(values: &[f32], significant: Option<&[f32]>) -> Option<f32> {
    let mut v: Vec<f32> = match significant {
        Some(s) => values
            .iter()
            .zip(s)
            .filter(|(_, s)| **s >= 0.5)
            .map(|(v, _)| v.abs())
            .collect(),
        None => Vec::new(),
    };
    if v.iter().filter(|x| x.is_finite()).count() < 10 {
        v = values.iter().map(|v| v.abs()).collect();
    }
    let hi = percentile(v, 0.98)?;
    Some(if hi > 0.0 { hi } else { 1.0 })
}

/// Hillshade factor in [0, 1] per cell of a north-up grid (rows going south), sun from the
/// north-west at 45 degrees; NaN where the grid has no height.
pub fn hillshade(z: &[f32], (w, h): (usize, usize), cell: [f64; 2]) -> Vec<f32> {
    let at = |x: usize, y: usize| z[y.min(h - 1) * w + x.min(w - 1)];
    let (az, alt) = (315f64.to_radians(), 45f64.to_radians());
    let light = [alt.cos() * az.sin(), alt.cos() * az.cos(), alt.sin()];
    let mut out = vec![f32::NAN; w * h];
    for y in 0..h {
        for x in 0..w {
            if !at(x, y).is_finite() {
                continue;
            }
            let d = |a: f32, b: f32| {
                if a.is_finite() && b.is_finite() {
                    f64::from(a - b)
                } else {
                    0.0
                }
            };
            let dzdx =
                d(at(x + 1, y), at(x.saturating_sub(1), y)) / (2.0 * cell[0].abs().max(1e-9));
            // Rows go south, so north is -row.
            let dzdy =
                d(at(x, y.saturating_sub(1)), at(x, y + 1)) / (2.0 * cell[1].abs().max(1e-9));
            let len = (dzdx * dzdx + dzdy * dzdy + 1.0).sqrt();
            out[y * w + x] =
                ((-dzdx * light[0] - dzdy * light[1] + light[2]) / len).clamp(0.0, 1.0) as f32;
        }
    }
    out
}
