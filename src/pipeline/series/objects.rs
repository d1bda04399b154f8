//! Change objects in time: core points gridded at about their spacing, each cell taking the
//! motion class most of its core points have (and their median onset); neighbouring cells
//! (8-neighbourhood) of one moving class join, onsets joining when at most one epoch apart.
//! Each object has its area, onset, mean velocity and acceleration, and the mean displacement
//! series of its core points with a 95 % uncertainty (the core points' LoDs taken as
//! independent: 1.96 sqrt(sum sigma^2) / n).

use super::EpochRecord;
use crate::analysis::dod::Grid;
use crate::analysis::series::{Motion, MotionClass};
use crate::cloud::{Crs, PointCloud};
use crate::io::vector::{write_polygons_geojson, LabelGrid};
use crate::pipeline::Result;
use chrono::NaiveDate;
use gdal::vector::{FieldValue, OGRFieldType};
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SeriesObject {
    /// 1-based, largest first.
    pub id: i32,
    pub class: MotionClass,
    pub cells: usize,
    pub area_m2: f64,
    pub core_points: usize,
    pub onset_index: Option<usize>,
    pub onset_date: Option<NaiveDate>,
    /// Means over the object's core points (m/year, m/year^2).
    pub velocity: f64,
    pub acceleration: f64,
    /// Centroid in the data CRS.
    pub centre: [f64; 2],
    pub dates: Vec<NaiveDate>,
    /// Mean displacement per epoch (m; 0 at the reference) and its 95 % uncertainty.
    pub displacement: Vec<f64>,
    pub uncertainty: Vec<f64>,
}

pub(super) struct Found {
    pub labels: Vec<i32>,
    pub grid: Grid,
    pub objects: Vec<SeriesObject>,
}

/// Objects of the moving classes (see the module doc).
pub(super) fn find(
    c: &PointCloud,
    motions: &[Motion],
    records: &[EpochRecord],
    min_area: Option<f64>,
) -> Found {
    let b = c.bounds();
    let area = ((b.max[0] - b.min[0]) * (b.max[1] - b.min[1])).max(1e-6);
    let mut cell = (area / c.len().max(1) as f64).sqrt();
    // Never more than ~4 M cells, whatever the core points.
    cell = cell.max((area / 4e6).sqrt());
    let grid = Grid::covering([b.min[0], b.min[1], b.max[0], b.max[1]], cell);
    let n = grid.width * grid.height;
    let cell_of: Vec<Option<usize>> = (0..c.len())
        .map(|i| {
            let w = c.world(i);
            grid.index(w[0], w[1])
        })
        .collect();
    // Class votes and onsets per cell.
    let mut votes = vec![[0u32; 4]; n];
    let mut onsets: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, m) in motions.iter().enumerate() {
        let Some(k) = cell_of[i] else { continue };
        if m.class != MotionClass::Undetermined {
            votes[k][m.class.code() as usize] += 1;
        }
        if let Some(j) = m.onset {
            onsets[k].push(j);
        }
    }
    let key: Vec<(u8, i32)> = (0..n)
        .map(|k| {
            let v = votes[k];
            let total: u32 = v.iter().sum();
            let (best, count) = (1..4)
                .map(|c| (c, v[c]))
                .max_by_key(|x| x.1)
                .unwrap_or((0, 0));
            if total == 0 || 2 * count <= total {
                return (0, -1);
            }
            let onset = if best == 3 {
                let o = &mut onsets[k];
                o.sort_unstable();
                o.get(o.len() / 2).map_or(-1, |&j| j as i32)
            } else {
                -1
            };
            (best as u8, onset)
        })
        .collect();
    let joins = |a: (u8, i32), b: (u8, i32)| a.0 == b.0 && (a.0 != 3 || (a.1 - b.1).abs() <= 1);
    let mut comp = vec![0i32; n];
    let mut regions: Vec<Vec<usize>> = Vec::new();
    let mut stack = Vec::new();
    for start in 0..n {
        if key[start].0 == 0 || comp[start] != 0 {
            continue;
        }
        let label = regions.len() as i32 + 1;
        comp[start] = label;
        stack.push(start);
        let mut cells = Vec::new();
        while let Some(i) = stack.pop() {
            cells.push(i);
            let (x, y) = ((i % grid.width) as i64, (i / grid.width) as i64);
            for dy in -1..=1i64 {
                for dx in -1..=1i64 {
                    let (xx, yy) = (x + dx, y + dy);
                    if xx < 0 || yy < 0 || xx >= grid.width as i64 || yy >= grid.height as i64 {
                        continue;
                    }
                    let j = yy as usize * grid.width + xx as usize;
                    if comp[j] == 0 && key[j].0 != 0 && joins(key[start], key[j]) {
                        comp[j] = label;
                        stack.push(j);
                    }
                }
            }
        }
        regions.push(cells);
    }
    // Core points per region.
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); regions.len()];
    for (i, k) in cell_of.iter().enumerate() {
        if let Some(k) = k {
            let l = comp[*k];
            if l > 0 && motions[i].class.code() == key[*k].0 {
                members[l as usize - 1].push(i);
            }
        }
    }
    let epochs = records.len();
    let d_of = |k: usize| c.scalar(&crate::fields::displacement(k)).map(|s| &s.values);
    let lod_of = |k: usize| c.scalar(&crate::fields::lod(k)).map(|s| &s.values);
    let a = cell * cell;
    let min_area = min_area.unwrap_or(5.0 * a);
    let mut objects: Vec<(usize, SeriesObject)> = Vec::new();
    for (r, cells) in regions.iter().enumerate() {
        let m = &members[r];
        if (cells.len() as f64) * a < min_area || m.is_empty() {
            continue;
        }
        let class = MotionClass::from_code(f32::from(key[cells[0]].0));
        let mean = |f: &dyn Fn(usize) -> f64| {
            let v: Vec<f64> = m.iter().map(|&i| f(i)).filter(|x| x.is_finite()).collect();
            if v.is_empty() {
                f64::NAN
            } else {
                v.iter().sum::<f64>() / v.len() as f64
            }
        };
        let mut on: Vec<usize> = m.iter().filter_map(|&i| motions[i].onset).collect();
        on.sort_unstable();
        let onset_index = (class == MotionClass::Onset)
            .then(|| on.get(on.len() / 2).copied())
            .flatten();
        let (mut displacement, mut uncertainty) = (vec![0.0; epochs], vec![0.0; epochs]);
        for k in 0..epochs {
            if let (Some(d), Some(l)) = (d_of(k), lod_of(k)) {
                let (mut s, mut v, mut cnt) = (0.0, 0.0, 0usize);
                for &i in m {
                    if d[i].is_finite() && l[i].is_finite() {
                        s += f64::from(d[i]);
                        v += (f64::from(l[i]) / 1.96).powi(2);
                        cnt += 1;
                    }
                }
                let cnt = cnt.max(1) as f64;
                displacement[k] = s / cnt;
                uncertainty[k] = 1.96 * v.sqrt() / cnt;
            }
        }
        objects.push((
            r,
            SeriesObject {
                id: 0,
                class,
                cells: cells.len(),
                area_m2: cells.len() as f64 * a,
                core_points: m.len(),
                onset_index,
                onset_date: onset_index.map(|j| records[j].date),
                velocity: mean(&|i| motions[i].velocity),
                acceleration: mean(&|i| motions[i].acceleration),
                centre: [mean(&|i| c.world(i)[0]), mean(&|i| c.world(i)[1])],
                dates: records.iter().map(|e| e.date).collect(),
                displacement,
                uncertainty,
            },
        ));
    }
    objects.sort_by(|x, y| y.1.area_m2.total_cmp(&x.1.area_m2));
    let mut labels = vec![0i32; n];
    let mut out = Vec::with_capacity(objects.len());
    for (rank, (r, mut o)) in objects.into_iter().enumerate() {
        o.id = rank as i32 + 1;
        for &k in &regions[r] {
            labels[k] = o.id;
        }
        out.push(o);
    }
    Found {
        labels,
        grid,
        objects: out,
    }
}

/// GeoJSON polygons with the objects' attributes; the series as arrays (`dates`,
/// `displacement_m`, `uncertainty_m`).
pub(super) fn write_geojson(
    path: &Path,
    f: &Found,
    crs: Option<&Crs>,
    wgs84: bool,
) -> Result<usize> {
    let fields = [
        ("id", OGRFieldType::OFTInteger),
        ("class", OGRFieldType::OFTString),
        ("area_m2", OGRFieldType::OFTReal),
        ("core_points", OGRFieldType::OFTInteger),
        ("onset_index", OGRFieldType::OFTInteger),
        ("onset_date", OGRFieldType::OFTString),
        ("velocity_m_per_year", OGRFieldType::OFTReal),
        ("acceleration_m_per_year2", OGRFieldType::OFTReal),
        ("centre_x", OGRFieldType::OFTReal),
        ("centre_y", OGRFieldType::OFTReal),
        ("dates", OGRFieldType::OFTStringList),
        ("displacement_m", OGRFieldType::OFTRealList),
        ("uncertainty_m", OGRFieldType::OFTRealList),
    ];
    let real = |x: f64| x.is_finite().then_some(FieldValue::RealValue(x));
    let props = |id: i32| {
        let o = f.objects.iter().find(|o| o.id == id)?;
        let class = serde_json::to_value(o.class)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        Some(vec![
            Some(FieldValue::IntegerValue(o.id)),
            Some(FieldValue::StringValue(class)),
            real(o.area_m2),
            Some(FieldValue::IntegerValue(o.core_points as i32)),
            o.onset_index.map(|j| FieldValue::IntegerValue(j as i32)),
            o.onset_date.map(|d| FieldValue::StringValue(d.to_string())),
            real(o.velocity),
            real(o.acceleration),
            real(o.centre[0]),
            real(o.centre[1]),
            Some(FieldValue::StringListValue(
                o.dates.iter().map(|d| d.to_string()).collect(),
            )),
            Some(FieldValue::RealListValue(o.displacement.clone())),
            Some(FieldValue::RealListValue(o.uncertainty.clone())),
        ])
    };
    let grid = LabelGrid {
        labels: &f.labels,
        width: f.grid.width,
        height: f.grid.height,
        geotransform: f.grid.geotransform(),
    };
    Ok(write_polygons_geojson(
        path,
        &grid,
        crs,
        "series_objects",
        &fields,
        &props,
        wgs84,
    )?)
}
