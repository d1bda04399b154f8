//! Colour maps shared by the viewer and the exports, so a tileset, a report and the screen
//! show the same colours for the same values.

/// Viridis at 9 stops (sequential, perceptually uniform, colour-blind safe).
pub const VIRIDIS: [[u8; 3]; 9] = [
    [68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141],
    [39, 173, 129], [92, 200, 99], [170, 220, 50], [253, 231, 37],
];
/// ColorBrewer RdBu reversed, 11 stops: blue = negative (loss, subsidence), red = positive.
pub const RDBU: [[u8; 3]; 11] = [
    [5, 48, 97], [33, 102, 172], [67, 147, 195], [146, 197, 222], [209, 229, 240], [247, 247, 247],
    [253, 219, 199], [244, 165, 130], [214, 96, 77], [178, 24, 43], [103, 0, 31],
];

fn ramp(stops: &[[u8; 3]], t: f32) -> [u8; 3] {
    let t = if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.0 };
    let x = t * (stops.len() - 1) as f32;
    let i = (x.floor() as usize).min(stops.len() - 2);
    let f = x - i as f32;
    [0, 1, 2].map(|k| (f32::from(stops[i][k]) * (1.0 - f) + f32::from(stops[i + 1][k]) * f).round() as u8)
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
    rgb.par_iter().map(|c| if eight_bit { c.map(|v| v as u8) } else { c.map(|v| (v >> 8) as u8) }).collect()
}
