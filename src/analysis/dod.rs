//! DEM of difference: both epochs gridded on one raster grid (mean, min, max or IDW per
//! cell), their difference, and a level of detection per cell from the cells' own statistics
//! (standard error of each cell's mean; Lane et al. 2003, Wheaton et al. 2010), with cut and
//! fill volumes and their uncertainty.

use crate::cloud::PointCloud;
use rayon::prelude::*;
use serde::Serialize;

/// A north-up raster grid in the data CRS: cell (col, row) covers x0 + col * cell ..,
/// y0 - row * cell .. (y0 is the north edge).
#[derive(Clone, Copy, Debug, Serialize, serde::Deserialize, PartialEq)]
pub struct Grid {
    pub x0: f64,
    pub y0: f64,
    pub cell: f64,
    pub width: usize,
    pub height: usize,
}

impl Grid {
    /// The grid over `[xmin, ymin, xmax, ymax]`, its edges on multiples of `cell` (so grids of
    /// different jobs line up).
    pub fn covering(b: [f64; 4], cell: f64) -> Grid {
        let x0 = (b[0] / cell).floor() * cell;
        let y0 = (b[3] / cell).ceil() * cell;
        let width = (((b[2] - x0) / cell).floor() as usize + 1).max(1);
        let height = (((y0 - b[1]) / cell).floor() as usize + 1).max(1);
        Grid {
            x0,
            y0,
            cell,
            width,
            height,
        }
    }

    pub fn index(&self, x: f64, y: f64) -> Option<usize> {
        let c = ((x - self.x0) / self.cell).floor();
        let r = ((self.y0 - y) / self.cell).floor();
        (c >= 0.0 && r >= 0.0 && (c as usize) < self.width && (r as usize) < self.height)
            .then(|| r as usize * self.width + c as usize)
    }

    pub fn centre(&self, i: usize) -> [f64; 2] {
        let (c, r) = (i % self.width, i / self.width);
        [
            self.x0 + (c as f64 + 0.5) * self.cell,
            self.y0 - (r as f64 + 0.5) * self.cell,
        ]
    }

    /// GDAL geotransform.
    pub fn geotransform(&self) -> [f64; 6] {
        [self.x0, self.cell, 0.0, self.y0, 0.0, -self.cell]
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stat {
    Mean,
    Min,
    Max,
    /// Inverse distance (squared) to the cell centre, over the cell's points.
    Idw,
}

/// One epoch on the grid: surface height, point count and the spread of heights per cell.
pub struct Surface {
    pub z: Vec<f32>,
    pub n: Vec<u32>,
    /// Standard deviation of the heights in the cell (NaN below two points).
    pub std: Vec<f32>,
}

#[derive(Clone, Copy, Default)]
struct Acc {
    n: u32,
    mean: f64,
    m2: f64,
    min: f64,
    max: f64,
    wz: f64,
    w: f64,
}

/// Grids the points of `cloud` for which `keep(i)` holds.
pub fn surface(
    cloud: &PointCloud,
    grid: &Grid,
    stat: Stat,
    keep: &(dyn Fn(usize) -> bool + Sync),
) -> Surface {
    let cells = grid.width * grid.height;
    let o = cloud.origin;
    // Cell of every point in parallel, then one serial pass: per-thread grids would cost
    // threads x cells of memory on large sites.
    let cell_of: Vec<u32> = (0..cloud.len())
        .into_par_iter()
        .map(|i| {
            let p = cloud.positions[i];
            let (x, y) = (f64::from(p[0]) + o[0], f64::from(p[1]) + o[1]);
            match grid.index(x, y) {
                Some(k) if keep(i) && p[2].is_finite() => k as u32,
                _ => u32::MAX,
            }
        })
        .collect();
    let mut acc = vec![
        Acc {
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            ..Default::default()
        };
        cells
    ];
    for (i, &k) in cell_of.iter().enumerate() {
        if k == u32::MAX {
            continue;
        }
        let p = cloud.positions[i];
        let (x, y, z) = (
            f64::from(p[0]) + o[0],
            f64::from(p[1]) + o[1],
            f64::from(p[2]) + o[2],
        );
        let c = &mut acc[k as usize];
        c.n += 1;
        let d = z - c.mean;
        c.mean += d / f64::from(c.n);
        c.m2 += d * (z - c.mean);
        c.min = c.min.min(z);
        c.max = c.max.max(z);
        let [cx, cy] = grid.centre(k as usize);
        let w = 1.0 / ((x - cx).powi(2) + (y - cy).powi(2) + 1e-6 * grid.cell * grid.cell);
        c.wz += w * z;
        c.w += w;
    }
    let z = acc
        .iter()
        .map(|c| {
            if c.n == 0 {
                return f32::NAN;
            }
            (match stat {
                Stat::Mean => c.mean,
                Stat::Min => c.min,
                Stat::Max => c.max,
                Stat::Idw => c.wz / c.w,
            }) as f32
        })
        .collect();
    let std = acc
        .iter()
        .map(|c| {
            if c.n >= 2 {
                (c.m2 / f64::from(c.n - 1)).sqrt() as f32
            } else {
                f32::NAN
            }
        })
        .collect();
    Surface {
        z,
        n: acc.iter().map(|c| c.n).collect(),
        std,
    }
}

#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct Volumes {
    /// m3, positive numbers; over significant cells only.
    pub cut_m3: f64,
    pub fill_m3: f64,
    /// 1-sigma uncertainty of cut and fill (independent cells).
    pub cut_sigma_m3: f64,
    pub fill_sigma_m3: f64,
    /// Over every cell with data in both epochs, significant or not.
    pub net_all_m3: f64,
    pub cells_both: usize,
    pub cells_significant: usize,
    pub area_significant_m2: f64,
}

pub struct Dod {
    pub diff: Vec<f32>,
    pub lod: Vec<f32>,
    pub volumes: Volumes,
}

/// Cut/fill volumes over the significant cells (|diff| > lod) with their 1-sigma
/// uncertainty (sigma = lod / 1.96, cells independent), and the net volume over every cell with
/// a difference. Works on the DoD bands as written, so a report can recompute them from a file.
pub fn volumes(diff: &[f32], lod: &[f32], cell: f64) -> Volumes {
    let area = cell * cell;
    let mut v = Volumes {
        cut_m3: 0.0,
        fill_m3: 0.0,
        cut_sigma_m3: 0.0,
        fill_sigma_m3: 0.0,
        net_all_m3: 0.0,
        cells_both: 0,
        cells_significant: 0,
        area_significant_m2: 0.0,
    };
    let (mut var_cut, mut var_fill) = (0.0, 0.0);
    for (&d, &l) in diff.iter().zip(lod) {
        if !d.is_finite() {
            continue;
        }
        let (d, l) = (f64::from(d), f64::from(l));
        v.cells_both += 1;
        v.net_all_m3 += d * area;
        if l.is_finite() && d.abs() > l {
            let sigma = l / 1.96;
            v.cells_significant += 1;
            v.area_significant_m2 += area;
            if d < 0.0 {
                v.cut_m3 += -d * area;
                var_cut += (sigma * area).powi(2);
            } else {
                v.fill_m3 += d * area;
                var_fill += (sigma * area).powi(2);
            }
        }
    }
    v.cut_sigma_m3 = var_cut.sqrt();
    v.fill_sigma_m3 = var_fill.sqrt();
    v
}

/// Epoch 2 minus epoch 1 where both have data; LoD95 = 1.96 sqrt(se1^2 + se2^2 + reg^2) with
/// se = cell std / sqrt(n) (cells with one point use the median std of their epoch).
pub fn difference(s1: &Surface, s2: &Surface, cell: f64, registration_error: f64) -> Dod {
    let median = |s: &Surface| {
        let mut v: Vec<f32> = s
            .std
            .iter()
            .copied()
            .filter(|x| x.is_finite() && *x > 0.0)
            .collect();
        if v.is_empty() {
            return 0.0;
        }
        let k = v.len() / 2;
        *v.select_nth_unstable_by(k, |a, b| a.total_cmp(b)).1
    };
    let (m1, m2) = (median(s1), median(s2));
    let n = s1.z.len();
    let mut diff = vec![f32::NAN; n];
    let mut lod = vec![f32::NAN; n];
    for i in 0..n {
        if !(s1.z[i].is_finite() && s2.z[i].is_finite()) {
            continue;
        }
        // A cell's own spread when it has one; cells of one point (or identical heights) take
        // their epoch's median spread, so no cell claims a zero level of detection.
        let se = |s: &Surface, m: f32| {
            f64::from(if s.std[i].is_finite() && s.std[i] > 0.0 {
                s.std[i]
            } else {
                m
            }) / f64::from(s.n[i].max(1)).sqrt()
        };
        let sigma =
            (se(s1, m1).powi(2) + se(s2, m2).powi(2) + registration_error * registration_error)
                .sqrt();
        diff[i] = (f64::from(s2.z[i]) - f64::from(s1.z[i])) as f32;
        lod[i] = (1.96 * sigma) as f32;
    }
    let v = volumes(&diff, &lod, cell);
    Dod {
        diff,
        lod,
        volumes: v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_cells_statistics_and_volumes() {
        let g = Grid::covering([10.2, 20.1, 11.9, 21.9], 1.0);
        assert_eq!(
            g,
            Grid {
                x0: 10.0,
                y0: 22.0,
                cell: 1.0,
                width: 2,
                height: 2
            }
        );
        assert_eq!(g.index(10.5, 21.5), Some(0));
        assert_eq!(g.index(11.5, 20.5), Some(3));
        assert_eq!(g.index(9.9, 21.5), None);
        let mut e1 = PointCloud::with_origin([10.0, 20.0, 100.0]);
        // Cell 0: heights 0, 2 (mean 1, std sqrt 2); cell 3: one point at 5.
        e1.positions = vec![[0.25, 1.5, 0.0], [0.75, 1.5, 2.0], [1.5, 0.5, 5.0]];
        let s = surface(&e1, &g, Stat::Mean, &|_| true);
        assert_eq!(s.n, vec![2, 0, 0, 1]);
        assert!((s.z[0] - 101.0).abs() < 1e-5 && s.z[1].is_nan() && (s.z[3] - 105.0).abs() < 1e-5);
        assert!((s.std[0] - 2f32.sqrt()).abs() < 1e-5 && s.std[3].is_nan());
        assert_eq!(surface(&e1, &g, Stat::Min, &|_| true).z[0], 100.0);
        assert_eq!(surface(&e1, &g, Stat::Max, &|_| true).z[0], 102.0);
        // Both points equally far from the centre: IDW = mean.
        assert!((surface(&e1, &g, Stat::Idw, &|_| true).z[0] - 101.0).abs() < 1e-5);
        assert_eq!(
            surface(&e1, &g, Stat::Mean, &|i| i == 2).n,
            vec![0, 0, 0, 1]
        );
        // Epoch 2: cell 0 up by 3 m (significant), cell 3 down 0.01 m (within LoD).
        let mut e2 = e1.clone();
        e2.positions = vec![[0.25, 1.5, 3.0], [0.75, 1.5, 5.0], [1.5, 0.5, 4.99]];
        let s2 = surface(&e2, &g, Stat::Mean, &|_| true);
        let d = difference(&s, &s2, 1.0, 0.0);
        assert!((d.diff[0] - 3.0).abs() < 1e-5);
        // LoD0 = 1.96 * sqrt(2/2 + 2/2) = 2.77.
        assert!((d.lod[0] - 1.96 * 2f32.sqrt()).abs() < 1e-4, "{}", d.lod[0]);
        assert_eq!(d.volumes.cells_both, 2);
        assert_eq!(d.volumes.cells_significant, 1);
        assert!((d.volumes.fill_m3 - 3.0).abs() < 1e-5 && d.volumes.cut_m3 == 0.0);
        assert!((d.volumes.net_all_m3 - 2.99).abs() < 1e-4);
        assert!(d.diff[1].is_nan());
    }
}
