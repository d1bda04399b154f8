//! A TIN (Delaunay triangulation, `delaunator`) of points, sampled linearly at the cell
//! centres of a grid: the DTM from ground points, as `gdal_grid -a linear` and PDAL's
//! `writers.gdal` with a TIN give it. Cells outside the points' convex hull stay NaN.

use super::dod::Grid;

/// Heights at every cell centre of `grid` (row-major, north row first), linear within the
/// triangle holding the centre.
pub fn rasterize(points: &[[f64; 3]], grid: &Grid) -> Vec<f32> {
    let mut out = vec![f32::NAN; grid.width * grid.height];
    let pts: Vec<delaunator::Point> = points
        .iter()
        .map(|p| delaunator::Point { x: p[0], y: p[1] })
        .collect();
    let t = delaunator::triangulate(&pts);
    for tri in t.triangles.chunks_exact(3) {
        let [a, b, c] = [tri[0], tri[1], tri[2]].map(|i| points[i]);
        let det = (b[1] - c[1]) * (a[0] - c[0]) + (c[0] - b[0]) * (a[1] - c[1]);
        if det.abs() < 1e-12 {
            continue;
        }
        let (xmin, xmax) = (a[0].min(b[0]).min(c[0]), a[0].max(b[0]).max(c[0]));
        let (ymin, ymax) = (a[1].min(b[1]).min(c[1]), a[1].max(b[1]).max(c[1]));
        // Columns and rows whose centres may fall inside the triangle's box.
        let c0 = ((xmin - grid.x0) / grid.cell - 0.5).ceil().max(0.0) as usize;
        let c1 = ((xmax - grid.x0) / grid.cell - 0.5).floor();
        let r0 = ((grid.y0 - ymax) / grid.cell - 0.5).ceil().max(0.0) as usize;
        let r1 = ((grid.y0 - ymin) / grid.cell - 0.5).floor();
        if c1 < 0.0 || r1 < 0.0 {
            continue;
        }
        let c1 = (c1 as usize).min(grid.width.saturating_sub(1));
        let r1 = (r1 as usize).min(grid.height.saturating_sub(1));
        for r in r0..=r1 {
            for col in c0..=c1 {
                let [x, y] = grid.centre(r * grid.width + col);
                let l1 = ((b[1] - c[1]) * (x - c[0]) + (c[0] - b[0]) * (y - c[1])) / det;
                let l2 = ((c[1] - a[1]) * (x - c[0]) + (a[0] - c[0]) * (y - c[1])) / det;
                let l3 = 1.0 - l1 - l2;
                let eps = -1e-9;
                if l1 >= eps && l2 >= eps && l3 >= eps {
                    out[r * grid.width + col] = (l1 * a[2] + l2 * b[2] + l3 * c[2]) as f32;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plane_is_exact_inside_the_hull_and_empty_outside() {
        // Scattered points on z = 2x + 3y + 1 over [0, 10]^2.
        let mut pts = Vec::new();
        for i in 0..=20 {
            for j in 0..=20 {
                let (x, y) = (i as f64 * 0.5 + 0.01 * ((i * j) % 3) as f64, j as f64 * 0.5);
                pts.push([x, y, 2.0 * x + 3.0 * y + 1.0]);
            }
        }
        let g = Grid::covering([-2.0, -2.0, 12.0, 12.0], 1.0);
        let z = rasterize(&pts, &g);
        let mut inside = 0;
        for (k, v) in z.iter().enumerate() {
            let [x, y] = g.centre(k);
            if (0.6..9.4).contains(&x) && (0.6..9.4).contains(&y) {
                assert!(
                    (f64::from(*v) - (2.0 * x + 3.0 * y + 1.0)).abs() < 1e-4,
                    "{x} {y} {v}"
                );
                inside += 1;
            }
            if !(-0.1..10.2).contains(&x) || !(-0.1..10.1).contains(&y) {
                assert!(v.is_nan(), "{x} {y}");
            }
        }
        assert!(inside > 60);
    }
}
