//! Point colours: colour maps and what each colour mode means. Pure functions (no bevy), so
//! the legend, the histogram and the points use the same mapping.

use crate::cloud::PointCloud;
use rayon::prelude::*;

#[derive(Clone, Debug, PartialEq)]
pub enum ColourMode {
    Rgb,
    Intensity,
    Elevation,
    Classification,
    /// A named scalar field with a sequential map.
    Field(String),
    /// A signed displacement field: diverging map centred on 0, grey where `significance`
    /// (a 0/1 field) says the change is within the level of detection.
    Deformation {
        field: String,
        significance: Option<String>,
    },
}

/// Grey for "within the level of detection": neither end of the diverging map.
pub const NOT_SIGNIFICANT: [u8; 3] = [150, 150, 150];
/// Points with no value (NaN): dark, so they read as "no data", not as a value.
pub const NO_DATA: [u8; 3] = [60, 60, 66];

pub fn sequential(t: f32) -> [u8; 3] {
    crate::colourmap::viridis(t)
}

/// `v` in [-limit, limit] -> blue .. white .. red.
pub fn diverging(v: f32, limit: f32) -> [u8; 3] {
    let l = if limit > 0.0 { limit } else { 1.0 };
    crate::colourmap::diverging(v / l)
}

/// ASPRS LAS classes (1.4, table 17) in the colours most viewers use.
pub fn class_colour(c: u8) -> [u8; 3] {
    match c {
        2 => [166, 120, 75],        // ground
        3 => [150, 210, 120],       // low vegetation
        4 => [70, 170, 70],         // medium vegetation
        5 => [20, 110, 40],         // high vegetation
        6 => [220, 90, 60],         // building
        7 => [255, 0, 255],         // low point (noise)
        9 => [60, 120, 230],        // water
        10 | 11 => [120, 120, 120], // rail, road surface
        17 => [240, 200, 60],       // bridge deck
        18 => [255, 0, 180],        // high noise
        _ => [200, 200, 200],       // never classified / unclassified / other
    }
}

/// The value range a mode is drawn over: robust (2nd..98th percentile) for sequential maps,
/// symmetric around 0 for deformation. None when the mode has no values.
pub fn default_range(cloud: &PointCloud, mode: &ColourMode) -> Option<(f32, f32)> {
    let values: Vec<f32> = match mode {
        ColourMode::Elevation => cloud.positions.iter().map(|p| p[2]).collect(),
        ColourMode::Intensity => cloud
            .intensity
            .as_ref()?
            .iter()
            .map(|&v| f32::from(v))
            .collect(),
        ColourMode::Field(name) => cloud.scalar(name)?.values.clone(),
        ColourMode::Deformation {
            field,
            significance,
        } => {
            let f = &cloud.scalar(field)?.values;
            let sig = significance
                .as_ref()
                .and_then(|s| cloud.scalar(s))
                .map(|s| s.values.as_slice());
            let hi = crate::colourmap::deformation_limit(f, sig)?;
            return Some((-hi, hi));
        }
        ColourMode::Rgb | ColourMode::Classification => return None,
    };
    let lo = percentile(values.clone(), 0.02)?;
    let hi = percentile(values, 0.98)?;
    Some(if hi > lo {
        (lo, hi)
    } else {
        (lo - 0.5, lo + 0.5)
    })
}

pub use crate::colourmap::{histogram, percentile};

/// One colour per point of `cloud` (in its order); falls back to elevation when the mode's
/// attribute is missing, so a point is never left black by accident.
pub fn colours(cloud: &PointCloud, mode: &ColourMode, range: (f32, f32)) -> Vec<[u8; 3]> {
    let n = cloud.len();
    let (lo, hi) = range;
    let t = |v: f32| if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
    let seq = |v: f32| {
        if v.is_finite() {
            sequential(t(v))
        } else {
            NO_DATA
        }
    };
    match mode {
        ColourMode::Rgb => match &cloud.rgb {
            Some(rgb) => crate::colourmap::rgb8(rgb),
            None => colours(
                cloud,
                &ColourMode::Elevation,
                default_range(cloud, &ColourMode::Elevation).unwrap_or(range),
            ),
        },
        ColourMode::Intensity => match &cloud.intensity {
            Some(i) => i
                .par_iter()
                .map(|&v| {
                    let g = (t(f32::from(v)).clamp(0.0, 1.0) * 255.0) as u8;
                    [g, g, g]
                })
                .collect(),
            None => vec![[200, 200, 200]; n],
        },
        ColourMode::Elevation => cloud.positions.par_iter().map(|p| seq(p[2])).collect(),
        ColourMode::Classification => match &cloud.classification {
            Some(c) => c.par_iter().map(|&c| class_colour(c)).collect(),
            None => vec![[200, 200, 200]; n],
        },
        ColourMode::Field(name) => match cloud.scalar(name) {
            Some(f) => f.values.par_iter().map(|&v| seq(v)).collect(),
            None => vec![NO_DATA; n],
        },
        ColourMode::Deformation {
            field,
            significance,
        } => {
            let Some(f) = cloud.scalar(field) else {
                return vec![NO_DATA; n];
            };
            let sig = significance.as_ref().and_then(|s| cloud.scalar(s));
            let limit = hi.abs().max(lo.abs());
            f.values
                .par_iter()
                .enumerate()
                .map(|(i, &v)| {
                    if !v.is_finite() {
                        NO_DATA
                    } else if sig.is_some_and(|s| s.values.get(i).is_some_and(|&x| x < 0.5)) {
                        NOT_SIGNIFICANT
                    } else {
                        diverging(v, limit)
                    }
                })
                .collect()
        }
    }
}

/// How the shader turns a point's 4-byte attribute into a colour (`shaders/points.wgsl`):
/// colours that need no range (RGB, classes) are packed on the CPU; scalar modes keep the
/// value and the shader applies the map and the range, so a range change re-uploads nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shading {
    /// sRGB in the low three bytes.
    Packed = 0,
    /// f32 bits, viridis over the range.
    Sequential = 1,
    /// f32 bits, grey over the range (intensity).
    Grey = 2,
    /// f32 bits, blue-white-red over +-max(|lo|, |hi|).
    Diverging = 3,
}

/// Attribute of a value without data (any NaN or infinity reads so).
pub const ATTR_NO_DATA: u32 = 0x7fc0_0000;
/// Attribute of a change within the level of detection (a NaN payload no f32 op produces).
pub const ATTR_NOT_SIGNIFICANT: u32 = 0x7fa0_0001;

fn pack(c: [u8; 3]) -> u32 {
    u32::from(c[0]) | (u32::from(c[1]) << 8) | (u32::from(c[2]) << 16)
}

fn value_bits(v: f32) -> u32 {
    if v.is_finite() {
        v.to_bits()
    } else {
        ATTR_NO_DATA
    }
}

/// What a colour mode needs to give any point its 4-byte attribute: made once per mode over
/// the whole cloud (one pass at most), then asked per node, so the viewer keeps no array of
/// colours or attributes beside the cloud (4 bytes a point: 400 MB at 100 M points).
#[derive(Clone, Debug)]
pub struct Colouring {
    pub mode: ColourMode,
    pub shading: Shading,
    /// RGB stored as 8-bit values (see `colourmap::rgb8`).
    rgb_eight_bit: bool,
    /// RGB mode without RGB: elevation over its own range.
    fallback: Option<(f32, f32)>,
}

impl Colouring {
    /// Falls back like [`colours`] when the mode's attribute is missing.
    pub fn new(cloud: &PointCloud, mode: &ColourMode) -> Colouring {
        let shading = match mode {
            ColourMode::Rgb | ColourMode::Classification => Shading::Packed,
            ColourMode::Intensity if cloud.intensity.is_some() => Shading::Grey,
            ColourMode::Elevation => Shading::Sequential,
            ColourMode::Field(name) if cloud.scalar(name).is_some() => Shading::Sequential,
            ColourMode::Deformation { field, .. } if cloud.scalar(field).is_some() => {
                Shading::Diverging
            }
            _ => Shading::Packed,
        };
        // One pass over the RGB, and only for the RGB mode.
        let rgb_eight_bit = matches!(mode, ColourMode::Rgb)
            && cloud
                .rgb
                .as_ref()
                .is_some_and(|rgb| rgb.par_iter().all(|c| c.iter().all(|&v| v <= 255)));
        let fallback = (matches!(mode, ColourMode::Rgb) && cloud.rgb.is_none())
            .then(|| default_range(cloud, &ColourMode::Elevation).unwrap_or((0.0, 1.0)));
        Colouring {
            mode: mode.clone(),
            shading,
            rgb_eight_bit,
            fallback,
        }
    }

    /// The attributes of the points `idx` (in that order); an index past a field reads as
    /// no data (never a panic).
    pub fn attributes(&self, cloud: &PointCloud, idx: &[u32]) -> Vec<u32> {
        let at = |i: &u32| *i as usize;
        let z = |i: &u32| cloud.positions.get(at(i)).map_or(f32::NAN, |p| p[2]);
        match &self.mode {
            ColourMode::Rgb => match (&cloud.rgb, self.fallback) {
                (Some(rgb), _) => idx
                    .iter()
                    .map(|i| {
                        let c = rgb.get(at(i)).copied().unwrap_or_default();
                        pack(c.map(|v| {
                            if self.rgb_eight_bit {
                                v as u8
                            } else {
                                (v >> 8) as u8
                            }
                        }))
                    })
                    .collect(),
                (None, r) => {
                    let r = r.unwrap_or((0.0, 1.0));
                    idx.iter()
                        .map(|i| pack(shade(value_bits(z(i)), Shading::Sequential, r)))
                        .collect()
                }
            },
            ColourMode::Classification => match &cloud.classification {
                Some(c) => idx
                    .iter()
                    .map(|i| pack(class_colour(c.get(at(i)).copied().unwrap_or(0))))
                    .collect(),
                None => vec![pack([200, 200, 200]); idx.len()],
            },
            ColourMode::Intensity => match &cloud.intensity {
                Some(v) => idx
                    .iter()
                    .map(|i| {
                        v.get(at(i))
                            .map_or(ATTR_NO_DATA, |&x| f32::from(x).to_bits())
                    })
                    .collect(),
                None => vec![pack([200, 200, 200]); idx.len()],
            },
            ColourMode::Elevation => idx.iter().map(|i| value_bits(z(i))).collect(),
            ColourMode::Field(name) => match cloud.scalar(name) {
                Some(f) => idx
                    .iter()
                    .map(|i| value_bits(f.values.get(at(i)).copied().unwrap_or(f32::NAN)))
                    .collect(),
                None => vec![pack(NO_DATA); idx.len()],
            },
            ColourMode::Deformation {
                field,
                significance,
            } => {
                let Some(f) = cloud.scalar(field) else {
                    return vec![pack(NO_DATA); idx.len()];
                };
                let sig = significance.as_ref().and_then(|s| cloud.scalar(s));
                idx.iter()
                    .map(|i| {
                        let v = f.values.get(at(i)).copied().unwrap_or(f32::NAN);
                        if !v.is_finite() {
                            ATTR_NO_DATA
                        } else if sig.is_some_and(|s| s.values.get(at(i)).is_some_and(|&x| x < 0.5))
                        {
                            ATTR_NOT_SIGNIFICANT
                        } else {
                            v.to_bits()
                        }
                    })
                    .collect()
            }
        }
    }
}

/// The colour the shader draws for one attribute (its CPU twin: tests hold them together).
pub fn shade(a: u32, shading: Shading, (lo, hi): (f32, f32)) -> [u8; 3] {
    if shading == Shading::Packed {
        return [a as u8, (a >> 8) as u8, (a >> 16) as u8];
    }
    if a == ATTR_NOT_SIGNIFICANT && shading == Shading::Diverging {
        return NOT_SIGNIFICANT;
    }
    let v = f32::from_bits(a);
    if !v.is_finite() {
        return if shading == Shading::Grey {
            [0, 0, 0]
        } else {
            NO_DATA
        };
    }
    let t = if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
    match shading {
        Shading::Grey => [(t.clamp(0.0, 1.0) * 255.0) as u8; 3],
        Shading::Diverging => diverging(v, hi.abs().max(lo.abs())),
        _ => sequential(t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_have_their_ends_and_centre() {
        use crate::colourmap::{RDBU, VIRIDIS};
        assert_eq!(sequential(0.0), VIRIDIS[0]);
        assert_eq!(sequential(1.0), VIRIDIS[8]);
        assert_eq!(sequential(f32::NAN), VIRIDIS[0]);
        assert_eq!(diverging(0.0, 0.3), [247, 247, 247]);
        assert_eq!(diverging(-0.3, 0.3), RDBU[0]);
        assert_eq!(diverging(5.0, 0.3), RDBU[10]);
        let neg = diverging(-0.1, 0.3);
        assert!(neg[2] > neg[0], "negative is blue: {neg:?}");
        let pos = diverging(0.1, 0.3);
        assert!(pos[0] > pos[2], "positive is red: {pos:?}");
    }

    #[test]
    fn deformation_greys_out_non_significant_and_nan() {
        use crate::colourmap::RDBU;
        let mut c = PointCloud::with_origin([0.0; 3]);
        c.positions = vec![[0.0; 3]; 4];
        c.set_scalar("d", vec![0.2, 0.2, f32::NAN, -0.2], "");
        c.set_scalar("sig", vec![1.0, 0.0, 0.0, 1.0], "");
        let mode = ColourMode::Deformation {
            field: "d".into(),
            significance: Some("sig".into()),
        };
        let r = default_range(&c, &mode).unwrap();
        assert_eq!(r, (-0.2, 0.2));
        let col = colours(&c, &mode, r);
        assert_eq!(col[0], RDBU[10]);
        assert_eq!(col[1], NOT_SIGNIFICANT);
        assert_eq!(col[2], NO_DATA);
        assert_eq!(col[3], RDBU[0]);
    }

    #[test]
    fn rgb_sixteen_and_eight_bit() {
        let mut c = PointCloud::with_origin([0.0; 3]);
        c.positions = vec![[0.0; 3]; 2];
        c.rgb = Some(vec![[65535, 32768, 0], [256, 512, 1024]]);
        assert_eq!(
            colours(&c, &ColourMode::Rgb, (0.0, 1.0)),
            vec![[255, 128, 0], [1, 2, 4]]
        );
        c.rgb = Some(vec![[255, 128, 0], [1, 2, 4]]);
        assert_eq!(
            colours(&c, &ColourMode::Rgb, (0.0, 1.0)),
            vec![[255, 128, 0], [1, 2, 4]]
        );
    }

    #[test]
    fn attributes_shade_to_the_colours_of_every_mode() {
        let mut c = PointCloud::with_origin([0.0; 3]);
        c.positions = (0..6).map(|i| [0.0, 0.0, i as f32]).collect();
        c.positions[5][2] = f32::NAN;
        c.intensity = Some(vec![0, 100, 200, 300, 400, 500]);
        c.classification = Some(vec![2, 3, 6, 9, 1, 17]);
        c.set_scalar("d", vec![0.2, 0.05, f32::NAN, -0.2, 0.0, f32::INFINITY], "");
        c.set_scalar("sig", vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0], "");
        let modes = [
            ColourMode::Rgb,
            ColourMode::Intensity,
            ColourMode::Elevation,
            ColourMode::Classification,
            ColourMode::Field("d".into()),
            ColourMode::Field("missing".into()),
            ColourMode::Deformation {
                field: "d".into(),
                significance: Some("sig".into()),
            },
            ColourMode::Deformation {
                field: "d".into(),
                significance: None,
            },
        ];
        let all: Vec<u32> = (0..c.len() as u32).collect();
        for mode in modes {
            let colouring = Colouring::new(&c, &mode);
            let (attrs, shading) = (colouring.attributes(&c, &all), colouring.shading);
            assert_eq!(attrs.len(), c.len());
            // Per node (any subset, any order): the same attributes.
            assert_eq!(colouring.attributes(&c, &[4, 1]), vec![attrs[4], attrs[1]]);
            // The layer's range and a user's range: the attributes do not depend on it.
            let ranges = [default_range(&c, &mode).unwrap_or((0.0, 1.0)), (-1.0, 7.5)];
            for r in ranges {
                let want = colours(&c, &mode, r);
                let got: Vec<[u8; 3]> = attrs.iter().map(|&a| shade(a, shading, r)).collect();
                assert_eq!(got, want, "{mode:?} {r:?}");
            }
        }
        for rgb in [vec![[65535, 32768, 0]; 6], vec![[255, 128, 7]; 6]] {
            c.rgb = Some(rgb);
            let k = Colouring::new(&c, &ColourMode::Rgb);
            let got: Vec<[u8; 3]> = k
                .attributes(&c, &all)
                .iter()
                .map(|&a| shade(a, k.shading, (0.0, 1.0)))
                .collect();
            assert_eq!(got, colours(&c, &ColourMode::Rgb, (0.0, 1.0)));
        }
    }

    #[test]
    fn histogram_counts_finite_values_and_clamps() {
        let h = histogram(&[-5.0, 0.0, 0.49, 0.5, 1.0, 9.0, f32::NAN], (0.0, 1.0), 2);
        assert_eq!(h, vec![3, 3]);
        assert_eq!(percentile(vec![3.0, f32::NAN, 1.0, 2.0], 0.5), Some(2.0));
        assert_eq!(percentile(vec![f32::NAN], 0.5), None);
    }
}
