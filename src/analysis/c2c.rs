//! Cloud-to-cloud distance: for each query point, the nearest point of the other epoch, its
//! Euclidean distance and that distance's vertical and horizontal parts.

use super::index::{morton_order, Index};
use rayon::prelude::*;

#[derive(Clone, Debug, Default)]
pub struct C2cResult {
    /// Euclidean distance to the nearest point (NaN when farther than `max_distance`).
    pub distance: Vec<f32>,
    /// Signed vertical component, nearest.z - query.z.
    pub dz: Vec<f32>,
    /// Horizontal component.
    pub dh: Vec<f32>,
}

/// Nearest-neighbour distances from `queries` to the points in `target`.
pub fn compute(target: &Index<'_>, queries: &[[f32; 3]], max_distance: Option<f32>) -> C2cResult {
    let order = morton_order(queries);
    let per: Vec<(f32, f32, f32)> = order
        .par_iter()
        .map(|&i| {
            let q = &queries[i as usize];
            match target.nearest(q) {
                Some((d2, p)) => {
                    let d = f64::from(d2).sqrt() as f32;
                    if max_distance.is_some_and(|m| d > m) {
                        return (f32::NAN, f32::NAN, f32::NAN);
                    }
                    let (dx, dy) = (f64::from(p[0]) - f64::from(q[0]), f64::from(p[1]) - f64::from(q[1]));
                    (d, p[2] - q[2], (dx * dx + dy * dy).sqrt() as f32)
                }
                None => (f32::NAN, f32::NAN, f32::NAN),
            }
        })
        .collect();
    let n = queries.len();
    let mut r = C2cResult { distance: vec![f32::NAN; n], dz: vec![f32::NAN; n], dh: vec![f32::NAN; n] };
    for (j, &i) in order.iter().enumerate() {
        let (d, z, h) = per[j];
        r.distance[i as usize] = d;
        r.dz[i as usize] = z;
        r.dh[i as usize] = h;
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_distances_and_components() {
        let target = Index::build(&[[0.0, 0.0, 0.0], [10.0, 0.0, 0.0]]);
        let r = compute(&target, &[[3.0, 4.0, 0.0], [10.0, 0.0, 2.0], [50.0, 0.0, 0.0]], Some(20.0));
        assert_eq!(r.distance[0], 5.0);
        assert_eq!((r.dz[1], r.dh[1]), (-2.0, 0.0));
        assert!(r.distance[2].is_nan());
    }
}
