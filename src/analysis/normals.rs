//! Surface normals at core points by PCA, at one or several radii: the radius whose
//! neighbourhood is most planar, (l2 - l1) / l3 with eigenvalues l1 <= l2 <= l3, wins (Lague
//! et al. 2013; py4dgeo's `compute_multiscale_directions`). One ball query at the largest
//! radius serves every radius: each neighbour is added to the moments of the smallest ball
//! that holds it (a ring), and the balls are sums of rings.
//!
//! py4dgeo 1.2 reuses one neighbour list across the radii without clearing it, so the
//! neighbourhood it analyses at the k-th radius is the union, with repeats, of the balls of
//! radii 1..=k (found by comparing with its published outputs: with this, our normals match
//! all 10 000 of its core points; without it, 3.7 % pick another radius). `Neighbourhoods`
//! chooses between that and the textbook ball.

use super::columns::Columns;
use nalgebra::{Matrix3, SymmetricEigen, Vector3};

/// Which way normals point: the side where `n . v >= 0`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Orientation {
    /// A fixed vector (default +Z: normals point up).
    Vector([f64; 3]),
    /// Towards a sensor position, in the same local frame as the points.
    Sensor([f64; 3]),
}

impl Default for Orientation {
    fn default() -> Self {
        Orientation::Vector([0.0, 0.0, 1.0])
    }
}

/// Which points a radius's covariance is computed from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Neighbourhoods {
    /// As py4dgeo 1.2 computes it (default, so results match the field's reference): the
    /// k-th radius sees the points of every radius up to k, inner points repeated.
    #[default]
    Py4dgeo,
    /// Each radius sees exactly the points of its own ball.
    Exact,
}

/// The normal at one core point, or `None` when no radius had at least 3 neighbours and a
/// non-degenerate spread.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Normal {
    pub n: [f64; 3],
    /// Index into the radii of the radius used.
    pub radius_index: usize,
}

/// Running sums of neighbour offsets from the core point, for one radius.
#[derive(Clone, Copy, Default)]
struct Moments {
    n: u32,
    s: [f64; 3],
    ss: [f64; 6], // xx xy xz yy yz zz
}

impl Moments {
    #[inline]
    fn add(&mut self, d: [f64; 3]) {
        self.n += 1;
        for k in 0..3 {
            self.s[k] += d[k];
        }
        self.ss[0] += d[0] * d[0];
        self.ss[1] += d[0] * d[1];
        self.ss[2] += d[0] * d[2];
        self.ss[3] += d[1] * d[1];
        self.ss[4] += d[1] * d[2];
        self.ss[5] += d[2] * d[2];
    }

    fn merge(&mut self, o: &Moments) {
        self.n += o.n;
        for j in 0..3 {
            self.s[j] += o.s[j];
        }
        for j in 0..6 {
            self.ss[j] += o.ss[j];
        }
    }

    /// Sample covariance (n - 1 denominator).
    fn covariance(&self) -> Matrix3<f64> {
        let n = f64::from(self.n);
        let m = [self.s[0] / n, self.s[1] / n, self.s[2] / n];
        let c = |a: usize, i: usize, j: usize| (self.ss[a] - n * m[i] * m[j]) / (n - 1.0);
        let (xx, xy, xz, yy, yz, zz) = (
            c(0, 0, 0),
            c(1, 0, 1),
            c(2, 0, 2),
            c(3, 1, 1),
            c(4, 1, 2),
            c(5, 2, 2),
        );
        Matrix3::new(xx, xy, xz, xy, yy, yz, xz, yz, zz)
    }
}

pub const MAX_RADII: usize = 8;

/// Computes the normal at `core` (local coordinates) from the points of `index`.
/// `radii` must be positive and at most `MAX_RADII`.
pub fn normal_at(
    index: &Columns,
    core: &[f32; 3],
    radii: &[f64],
    orientation: &Orientation,
    hoods: Neighbourhoods,
) -> Option<Normal> {
    let nr = radii.len().min(MAX_RADII);
    // Radii ascending; `rank[k]` is radius k's place in that order.
    let mut asc: [usize; MAX_RADII] = [0; MAX_RADII];
    for (k, a) in asc.iter_mut().enumerate().take(nr) {
        *a = k;
    }
    asc[..nr].sort_by(|&a, &b| radii[a].total_cmp(&radii[b]));
    let mut rank = [0usize; MAX_RADII];
    for (p, &k) in asc[..nr].iter().enumerate() {
        rank[k] = p;
    }
    let r2: [f64; MAX_RADII] = std::array::from_fn(|p| {
        if p < nr {
            radii[asc[p]] * radii[asc[p]]
        } else {
            0.0
        }
    });
    let rmax = radii.iter().cloned().fold(0.0, f64::max);
    let c = [f64::from(core[0]), f64::from(core[1]), f64::from(core[2])];
    // One slot per ring plus one for the points outside every ball, computed without
    // branches (inside or not is a coin toss for the branch predictor). Summing in registers
    // per ball, or rings split into buffers, measured no faster on the benchmark epochs.
    let mut rings = [Moments::default(); MAX_RADII + 1];
    let rb = rmax as f32;
    // Whole runs of points per call, the loop here: the per-point closure was not inlined.
    // No z test needed: points outside the ball land in the last slot.
    index.spans_disc(
        [core[0], core[1]],
        rb,
        [core[2] - rb, core[2] + rb],
        |span| {
            for p in span {
                let d = [
                    f64::from(p[0]) - c[0],
                    f64::from(p[1]) - c[1],
                    f64::from(p[2]) - c[2],
                ];
                let d2 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
                // Strictly inside, as nanoflann's radius search (used by py4dgeo) counts: the ring is
                // the number of balls the point is not strictly inside.
                let mut slot = 0;
                for rr in &r2[..nr] {
                    slot += usize::from(d2 >= *rr);
                }
                rings[slot].add(d);
            }
        },
    );
    // Balls (ascending) = running sums of the rings; then back to the radii's given order.
    for p in 1..nr {
        let prev = rings[p - 1];
        rings[p].merge(&prev);
    }
    let mut moments = [Moments::default(); MAX_RADII];
    for k in 0..nr {
        moments[k] = rings[rank[k]];
    }
    if hoods == Neighbourhoods::Py4dgeo {
        for k in 1..nr {
            let prev = moments[k - 1];
            moments[k].merge(&prev);
        }
    }
    // Planarity from the eigenvalues alone (closed form); the eigenvector only for the winner.
    let mut best: Option<(usize, [f64; 3], Matrix3<f64>)> = None;
    let mut best_planarity = 0.0;
    for (k, m) in moments.iter().take(radii.len()).enumerate() {
        if m.n < 3 {
            continue;
        }
        let cov = m.covariance();
        let l = eigenvalues(&cov);
        let planarity = (l[1] - l[0]) / l[2];
        // Strictly better: on a tie the first radius given wins, as in py4dgeo.
        if planarity > best_planarity {
            best_planarity = planarity;
            best = Some((k, l, cov));
        }
    }
    let (k, l, cov) = best?;
    let v = smallest_eigenvector(&cov, &l).unwrap_or_else(|| {
        // Repeated smallest eigenvalues (no unique normal direction): the iterative solver's
        // choice, as before.
        let eig = SymmetricEigen::new(cov);
        let i = (0..3)
            .min_by(|&a, &b| eig.eigenvalues[a].total_cmp(&eig.eigenvalues[b]))
            .unwrap_or(0);
        let v: Vector3<f64> = eig.eigenvectors.column(i).into_owned();
        [v[0], v[1], v[2]]
    });
    let o = match orientation {
        Orientation::Vector(v) => *v,
        Orientation::Sensor(s) => [s[0] - c[0], s[1] - c[1], s[2] - c[2]],
    };
    let sign = if v[0] * o[0] + v[1] * o[1] + v[2] * o[2] < 0.0 {
        -1.0
    } else {
        1.0
    };
    let len = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
    Some(Normal {
        n: [sign * v[0] / len, sign * v[1] / len, sign * v[2] / len],
        radius_index: k,
    })
}

/// Eigenvalues of a symmetric 3x3 matrix, ascending, in closed form (the trigonometric
/// solution of the characteristic cubic; Smith 1961). Several times faster than an iterative
/// solver, and exact enough here: covariances of survey neighbourhoods have a well separated
/// smallest eigenvalue wherever a normal is meaningful.
fn eigenvalues(a: &Matrix3<f64>) -> [f64; 3] {
    let p1 = a[(0, 1)].powi(2) + a[(0, 2)].powi(2) + a[(1, 2)].powi(2);
    if p1 == 0.0 {
        let mut d = [a[(0, 0)], a[(1, 1)], a[(2, 2)]];
        d.sort_by(f64::total_cmp);
        return d;
    }
    let q = (a[(0, 0)] + a[(1, 1)] + a[(2, 2)]) / 3.0;
    let p2 = (a[(0, 0)] - q).powi(2) + (a[(1, 1)] - q).powi(2) + (a[(2, 2)] - q).powi(2) + 2.0 * p1;
    let p = (p2 / 6.0).sqrt();
    let b = (a - Matrix3::identity() * q) / p;
    let r = (b.determinant() / 2.0).clamp(-1.0, 1.0);
    let phi = r.acos() / 3.0;
    let hi = q + 2.0 * p * phi.cos();
    let lo = q + 2.0 * p * (phi + 2.0 * std::f64::consts::PI / 3.0).cos();
    [lo, 3.0 * q - hi - lo, hi]
}

/// Unit eigenvector of the smallest eigenvalue `l[0]`: the largest cross product of two rows
/// of A - l0 I (they span the plane orthogonal to it). None when that eigenvalue is repeated.
fn smallest_eigenvector(a: &Matrix3<f64>, l: &[f64; 3]) -> Option<[f64; 3]> {
    let m = a - Matrix3::identity() * l[0];
    let rows = [
        m.row(0).transpose(),
        m.row(1).transpose(),
        m.row(2).transpose(),
    ];
    let cands = [
        rows[0].cross(&rows[1]),
        rows[0].cross(&rows[2]),
        rows[1].cross(&rows[2]),
    ];
    let best = cands
        .iter()
        .max_by(|x, y| x.norm_squared().total_cmp(&y.norm_squared()))?;
    let n = best.norm();
    let scale = m.norm().powi(2).max(f64::MIN_POSITIVE);
    if !(n > 1e-12 * scale) || (l[1] - l[0]) <= 1e-12 * l[2].abs() {
        return None;
    }
    Some([best[0] / n, best[1] / n, best[2] / n])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plane(a: f32, b: f32) -> Vec<[f32; 3]> {
        let mut v = Vec::new();
        for i in -20..=20 {
            for j in -20..=20 {
                let (x, y) = (i as f32 * 0.1, j as f32 * 0.1);
                // A tilted plane with a deterministic ripple (so it is not perfectly flat).
                v.push([x, y, a * x + b * y + 0.002 * ((i * 7 + j * 3) % 5) as f32]);
            }
        }
        v
    }

    #[test]
    fn tilted_plane_normal_points_up() {
        let pts = plane(0.5, -0.25);
        let idx = Columns::build(&pts, 0.5);
        let n = normal_at(
            &idx,
            &[0.0, 0.0, 0.0],
            &[0.5, 1.0],
            &Orientation::default(),
            Neighbourhoods::Exact,
        )
        .unwrap();
        let want = Vector3::new(-0.5, 0.25, 1.0).normalize();
        let got = Vector3::new(n.n[0], n.n[1], n.n[2]);
        assert!(got.dot(&want) > 0.999, "{got:?} vs {want:?}");
        // Towards a sensor below the plane, the normal flips.
        let down = normal_at(
            &idx,
            &[0.0, 0.0, 0.0],
            &[1.0],
            &Orientation::Sensor([0.0, 0.0, -50.0]),
            Neighbourhoods::Py4dgeo,
        )
        .unwrap();
        assert!(down.n[2] < 0.0);
    }

    #[test]
    fn radii_in_any_order_select_like_single_radius_runs() {
        let pts = plane(0.3, 0.1);
        let idx = Columns::build(&pts, 0.5);
        let q = [0.05, -0.05, 0.0];
        let radii = [1.5, 0.3, 0.8];
        let all = normal_at(
            &idx,
            &q,
            &radii,
            &Orientation::default(),
            Neighbourhoods::Exact,
        )
        .unwrap();
        let single = normal_at(
            &idx,
            &q,
            &[radii[all.radius_index]],
            &Orientation::default(),
            Neighbourhoods::Exact,
        )
        .unwrap();
        assert!(
            (0..3).all(|k| (all.n[k] - single.n[k]).abs() < 1e-12),
            "{:?} vs {:?}",
            all.n,
            single.n
        );
    }

    #[test]
    fn closed_form_eigen_matches_the_iterative_solver() {
        let mats = [
            Matrix3::new(0.5, 0.02, 0.1, 0.02, 0.3, 0.05, 0.1, 0.05, 0.04),
            Matrix3::new(1.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.003),
            Matrix3::new(0.33, -0.01, 0.116, -0.01, 0.34, -0.05, 0.116, -0.05, 0.0412),
        ];
        for a in mats {
            let l = eigenvalues(&a);
            let e = SymmetricEigen::new(a);
            let mut want: Vec<f64> = e.eigenvalues.iter().copied().collect();
            want.sort_by(f64::total_cmp);
            for k in 0..3 {
                assert!((l[k] - want[k]).abs() < 1e-12, "{l:?} vs {want:?}");
            }
            let v = smallest_eigenvector(&a, &l).unwrap();
            let i = (0..3)
                .min_by(|&x, &y| e.eigenvalues[x].total_cmp(&e.eigenvalues[y]))
                .unwrap();
            let w = e.eigenvectors.column(i);
            let dot = (v[0] * w[0] + v[1] * w[1] + v[2] * w[2]).abs();
            assert!(dot > 1.0 - 1e-12, "{v:?} vs {w:?}");
        }
        // Repeated smallest eigenvalue: no unique direction.
        assert!(smallest_eigenvector(&Matrix3::identity(), &[1.0, 1.0, 1.0]).is_none());
    }

    #[test]
    fn too_few_neighbours_give_no_normal() {
        let idx = Columns::build(&[[0.0, 0.0, 0.0], [0.1, 0.0, 0.0]], 0.5);
        assert!(normal_at(
            &idx,
            &[0.0, 0.0, 0.0],
            &[1.0],
            &Orientation::default(),
            Neighbourhoods::Exact
        )
        .is_none());
    }
}
