//! Parameters derived from the data: one rule for the CLI, job files and the viewer, so the
//! same pair of epochs gets the same numbers whichever door it came through.
//!
//! The rule starts from epoch 1's mean point spacing `s` (XY extent / count): an M3C2 cylinder
//! that holds ~20 points of each epoch (r = sqrt(20 / pi) s, rounded to 1, 2, 2.5 or 5 x 10^k
//! so people can read it), normals at one and two cylinder radii, half-length twice the
//! radius, core points one radius apart, DoD cells two radii, ICP planes over the same radius
//! (at least 0.5 m: planes need ~20 points of a sparse survey too).

use crate::cloud::PointCloud;
use serde::{Deserialize, Serialize};

/// Mean spacing between points (m): sqrt(XY area / n) over the cloud's extent.
pub fn mean_spacing(c: &PointCloud) -> f32 {
    spacing_of(&c.bounds(), c.len() as u64)
}

/// `mean_spacing` of `n` points within `b` (a header's bounds and count: no point read).
pub fn spacing_of(b: &crate::cloud::Bounds, n: u64) -> f32 {
    let area = ((b.max[0] - b.min[0]) * (b.max[1] - b.min[1])).max(1e-6);
    ((area / n.max(1) as f64).sqrt() as f32).max(1e-3)
}

/// A round number near x (1, 2, 2.5, 5 x 10^k), for defaults people can read.
pub fn nice(x: f64) -> f64 {
    if !(x.is_finite() && x > 0.0) {
        return 1.0;
    }
    let k = x.log10().floor();
    let base = 10f64.powf(k);
    let m = x / base;
    let n = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .min_by(|a, b| (m - a).abs().total_cmp(&(m - b).abs()))
        .unwrap_or(1.0);
    n * base
}

/// Everything the rule derives from one spacing; recorded in the result's sidecar.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Derived {
    /// Epoch 1's mean point spacing (m) the rule started from.
    pub spacing: f64,
    pub cyl_radius: f64,
    pub normal_radii: Vec<f64>,
    pub max_distance: f64,
    pub core_spacing: f64,
    pub dod_cell: f64,
    pub plane_radius: f64,
}

/// The rule (see the module doc).
///
/// ```
/// // A drone survey of 5 points/m2 (0.45 m apart): 1 m cylinders, normals at 1 and 2 m.
/// let d = kizashi::pipeline::params::derive(0.447);
/// assert_eq!((d.cyl_radius, d.normal_radii.as_slice(), d.max_distance), (1.0, &[1.0, 2.0][..], 2.0));
/// ```
pub fn derive(spacing: f32) -> Derived {
    let s = f64::from(spacing);
    let r = nice((20.0 / std::f64::consts::PI).sqrt() * s);
    Derived {
        spacing: s,
        cyl_radius: r,
        normal_radii: vec![r, 2.0 * r],
        max_distance: 2.0 * r,
        core_spacing: r,
        dod_cell: 2.0 * r,
        plane_radius: r.max(0.5),
    }
}

/// `derive` for a cloud.
pub fn derive_for(c: &PointCloud) -> Derived {
    derive(mean_spacing(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_numbers() {
        assert_eq!(nice(0.93), 1.0);
        assert_eq!(nice(2.3), 2.5);
        assert_eq!(nice(3.9), 5.0);
        assert_eq!(nice(0.0173), 0.02);
        assert_eq!(nice(f64::NAN), 1.0);
    }

    #[test]
    fn rule_for_a_drone_and_an_airborne_survey() {
        // 5 points/m2 (0.45 m spacing): r = 2.52 * 0.447 = 1.13 -> 1 m.
        let d = derive(0.447);
        assert_eq!(
            (
                d.cyl_radius,
                d.normal_radii.clone(),
                d.max_distance,
                d.core_spacing,
                d.dod_cell,
                d.plane_radius
            ),
            (1.0, vec![1.0, 2.0], 2.0, 1.0, 2.0, 1.0)
        );
        // Toronto's ~0.5 points/m2 airborne epochs (1.9 m): r = 4.9 -> 5 m.
        let d = derive(1.9);
        assert_eq!((d.cyl_radius, d.max_distance), (5.0, 10.0));
        // Dense TLS (1 cm): planes no smaller than 0.5 m.
        assert_eq!(derive(0.01).plane_radius, 0.5);
    }
}
