//! The report's oblique 3D view: a small CPU splat renderer with a depth buffer (plotters has
//! no 3D point splats with occlusion), Lambert shading from the points' normals.

use super::{point_colour, MapPoint};
use image::RgbImage;

/// Oblique view from the south-west, 35 degrees up, orthographic, with Lambert shading from
/// the points' normals; `exaggeration` multiplies heights. Returns the image.
pub fn view3d(
    points: &[MapPoint],
    spacing: f64,
    limit: f32,
    signed: bool,
    exaggeration: f64,
) -> RgbImage {
    let (w, h) = (1600u32, 900u32);
    let mut img = RgbImage::from_pixel(w, h, image::Rgb([255, 255, 255]));
    let pts: Vec<&MapPoint> = points
        .iter()
        .filter(|p| p.x.is_finite() && p.y.is_finite() && p.z.is_finite())
        .collect();
    if pts.is_empty() {
        return img;
    }
    let n = pts.len() as f64;
    let c = pts.iter().fold([0.0; 3], |a, p| {
        [a[0] + p.x / n, a[1] + p.y / n, a[2] + p.z / n]
    });
    let (az, el) = (225f64.to_radians(), 35f64.to_radians());
    // Camera looks from azimuth `az` (from north, clockwise) down at `el`.
    let back = [az.sin() * el.cos(), az.cos() * el.cos(), el.sin()];
    let cross = |a: [f64; 3], b: [f64; 3]| {
        [
            a[1] * b[2] - a[2] * b[1],
            a[2] * b[0] - a[0] * b[2],
            a[0] * b[1] - a[1] * b[0],
        ]
    };
    let forward = back.map(|v| -v);
    let right = cross(forward, [0.0, 0.0, 1.0]);
    let rl = (right[0] * right[0] + right[1] * right[1]).sqrt().max(1e-9);
    let right = right.map(|v| v / rl);
    let up = cross(right, forward);
    let dot = |a: [f64; 3], b: [f64; 3]| a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
    let proj: Vec<[f64; 3]> = pts
        .iter()
        .map(|p| {
            let v = [p.x - c[0], p.y - c[1], (p.z - c[2]) * exaggeration];
            [dot(v, right), dot(v, up), dot(v, back)]
        })
        .collect();
    let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
    for q in &proj {
        for k in 0..2 {
            lo[k] = lo[k].min(q[k]);
            hi[k] = hi[k].max(q[k]);
        }
    }
    let s = ((f64::from(w) * 0.92) / (hi[0] - lo[0]).max(1e-9))
        .min((f64::from(h) * 0.9) / (hi[1] - lo[1]).max(1e-9));
    let (ox, oy) = (
        f64::from(w) / 2.0 - s * (lo[0] + hi[0]) / 2.0,
        f64::from(h) / 2.0 + s * (lo[1] + hi[1]) / 2.0,
    );
    let r = ((spacing * s * 0.75).ceil() as i64).clamp(1, 12);
    let mut depth = vec![f64::NEG_INFINITY; (w * h) as usize];
    let light = {
        let l = [-0.5f64, 0.6, 0.8];
        let n = dot(l, l).sqrt();
        l.map(|v| v / n)
    };
    for (p, q) in pts.iter().zip(&proj) {
        let (sx, sy) = (
            (ox + s * q[0]).round() as i64,
            (oy - s * q[1]).round() as i64,
        );
        let base = point_colour(p, limit, signed);
        let shade = match p.normal {
            Some(nv) if nv.iter().all(|v| v.is_finite()) => {
                let nz = [
                    f64::from(nv[0]),
                    f64::from(nv[1]),
                    f64::from(nv[2]) / exaggeration.max(1e-9),
                ];
                let len = dot(nz, nz).sqrt().max(1e-9);
                (dot(nz, light).abs() / len).clamp(0.0, 1.0)
            }
            _ => 0.8,
        };
        let f = 0.45 + 0.55 * shade;
        let col = image::Rgb(base.map(|v| (f64::from(v) * f).round().min(255.0) as u8));
        for yy in (sy - r)..=(sy + r) {
            for xx in (sx - r)..=(sx + r) {
                if xx < 0 || yy < 0 || xx >= i64::from(w) || yy >= i64::from(h) {
                    continue;
                }
                let k = (yy as u32 * w + xx as u32) as usize;
                // Nearer to the camera = larger along `back`.
                if q[2] > depth[k] {
                    depth[k] = q[2];
                    img.put_pixel(xx as u32, yy as u32, col);
                }
            }
        }
    }
    img
}
