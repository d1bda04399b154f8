//! The in-memory point cloud every room shares.
//!
//! Survey coordinates are large (UTM northings ~5e6, JGD2011 plane rectangular ~-4e4), so a
//! cloud keeps one f64 `origin` and f32 offsets from it: 1 mm at 10 km fits in f32, and f32
//! halves memory and is what kd-trees and GPU vertex buffers take. Positions are stored as
//! `[f32; 3]` per point (not three separate columns) because kiddo and wgpu both consume
//! that layout directly without a copy; every other attribute is its own column.

use serde::Serialize;

/// Where a cloud's coordinate reference system came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CrsSource {
    /// OGC WKT (E)VLR of a LAS file, or a raster's WKT.
    Wkt,
    /// GeoTIFF keys (LAS GeoKeyDirectory VLR).
    GeotiffKeys,
    /// Given by the user or by the program that made the data.
    User,
}

/// A coordinate reference system as read from a file.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Crs {
    /// Human name, e.g. "JGD2011 / Japan Plane Rectangular CS III".
    pub name: String,
    /// EPSG code of the horizontal (or whole) CRS when known.
    pub epsg: Option<u32>,
    /// EPSG code of a vertical CRS when the file gives one (compound CRS).
    pub vertical_epsg: Option<u32>,
    /// WKT (WKT1 or WKT2, as GDAL exports it).
    #[serde(skip)]
    pub wkt: String,
    pub source: CrsSource,
    /// Geographic (lon/lat degrees) rather than projected metres/feet.
    pub is_geographic: bool,
    /// Linear unit name of a projected CRS ("metre", "US survey foot", ...).
    pub linear_unit: Option<String>,
}

impl Crs {
    /// The same CRS: same EPSG code when both have one, else the same WKT or name.
    pub fn same_as(&self, other: &Crs) -> bool {
        match (self.epsg, other.epsg) {
            (Some(p), Some(q)) => p == q,
            _ => self.wkt == other.wkt || self.name == other.name,
        }
    }
}

/// An axis-aligned box in the data CRS.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Bounds {
    pub min: [f64; 3],
    pub max: [f64; 3],
}

impl Bounds {
    pub fn empty() -> Bounds {
        Bounds {
            min: [f64::INFINITY; 3],
            max: [f64::NEG_INFINITY; 3],
        }
    }

    pub fn is_empty(&self) -> bool {
        (0..3).any(|i| self.min[i] > self.max[i])
    }

    pub fn grow(&mut self, p: [f64; 3]) {
        for i in 0..3 {
            self.min[i] = self.min[i].min(p[i]);
            self.max[i] = self.max[i].max(p[i]);
        }
    }

    pub fn union(&self, other: &Bounds) -> Bounds {
        let mut b = *self;
        b.grow(other.min);
        b.grow(other.max);
        b
    }

    pub fn center(&self) -> [f64; 3] {
        [
            0.5 * (self.min[0] + self.max[0]),
            0.5 * (self.min[1] + self.max[1]),
            0.5 * (self.min[2] + self.max[2]),
        ]
    }

    pub fn size(&self) -> [f64; 3] {
        [
            self.max[0] - self.min[0],
            self.max[1] - self.min[1],
            self.max[2] - self.min[2],
        ]
    }
}

/// A named per-point f32 value (LAS extra-byte dimension, or a computed result such as
/// `m3c2_distance`). NaN means "no value".
#[derive(Clone, Debug, PartialEq)]
pub struct ScalarField {
    pub name: String,
    pub values: Vec<f32>,
    /// Free text carried to the LAS extra-bytes description (e.g. the unit).
    pub description: String,
}

/// A survey epoch or a result set: positions and the attributes the file had.
#[derive(Clone, Debug, Default)]
pub struct PointCloud {
    /// Added to every local position to get data-CRS coordinates.
    pub origin: [f64; 3],
    /// Local positions, metres (or the CRS unit) from `origin`.
    pub positions: Vec<[f32; 3]>,
    pub intensity: Option<Vec<u16>>,
    /// 16-bit RGB as LAS stores it.
    pub rgb: Option<Vec<[u16; 3]>>,
    pub classification: Option<Vec<u8>>,
    pub return_number: Option<Vec<u8>>,
    pub number_of_returns: Option<Vec<u8>>,
    pub gps_time: Option<Vec<f64>>,
    pub scalars: Vec<ScalarField>,
    pub crs: Option<Crs>,
}

impl PointCloud {
    /// An empty cloud whose local frame starts at `origin`.
    pub fn with_origin(origin: [f64; 3]) -> PointCloud {
        PointCloud {
            origin,
            ..Default::default()
        }
    }

    pub fn len(&self) -> usize {
        self.positions.len()
    }

    /// Bytes its columns take (what a cache of clouds counts against its cap).
    pub fn heap_bytes(&self) -> usize {
        fn col<T>(v: &Option<Vec<T>>) -> usize {
            v.as_ref().map_or(0, |v| v.len() * std::mem::size_of::<T>())
        }
        self.positions.len() * 12
            + col(&self.intensity)
            + col(&self.rgb)
            + col(&self.classification)
            + col(&self.return_number)
            + col(&self.number_of_returns)
            + col(&self.gps_time)
            + self
                .scalars
                .iter()
                .map(|s| s.values.len() * 4)
                .sum::<usize>()
    }

    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }

    /// Data-CRS coordinates of point `i`.
    pub fn world(&self, i: usize) -> [f64; 3] {
        let p = self.positions[i];
        [
            self.origin[0] + f64::from(p[0]),
            self.origin[1] + f64::from(p[1]),
            self.origin[2] + f64::from(p[2]),
        ]
    }

    /// Bounds in data-CRS coordinates, computed from the points (not a file header).
    pub fn bounds(&self) -> Bounds {
        let mut lo = [f32::INFINITY; 3];
        let mut hi = [f32::NEG_INFINITY; 3];
        for p in &self.positions {
            for k in 0..3 {
                lo[k] = lo[k].min(p[k]);
                hi[k] = hi[k].max(p[k]);
            }
        }
        if self.positions.is_empty() {
            return Bounds::empty();
        }
        Bounds {
            min: [0, 1, 2].map(|k| self.origin[k] + f64::from(lo[k])),
            max: [0, 1, 2].map(|k| self.origin[k] + f64::from(hi[k])),
        }
    }

    pub fn scalar(&self, name: &str) -> Option<&ScalarField> {
        self.scalars.iter().find(|s| s.name == name)
    }

    /// Adds or replaces a named field. Its length must match the point count.
    pub fn set_scalar(&mut self, name: &str, values: Vec<f32>, description: &str) {
        debug_assert_eq!(values.len(), self.len());
        let field = ScalarField {
            name: name.to_string(),
            values,
            description: description.to_string(),
        };
        match self.scalars.iter_mut().find(|s| s.name == name) {
            Some(s) => *s = field,
            None => self.scalars.push(field),
        }
    }

    /// Moves the local frame to `new_origin` (both epochs of a comparison must share one).
    /// Positions are re-expressed in f64 then rounded to f32 once.
    pub fn rebase(&mut self, new_origin: [f64; 3]) {
        let d = [0, 1, 2].map(|k| self.origin[k] - new_origin[k]);
        for p in &mut self.positions {
            for k in 0..3 {
                p[k] = (f64::from(p[k]) + d[k]) as f32;
            }
        }
        self.origin = new_origin;
    }

    /// Keeps, among the points from `start` on, those whose data-CRS position passes `keep`
    /// (in order); points before `start` are untouched. A reader calls it after each chunk,
    /// so an area read holds the area and one chunk, never the whole file.
    pub fn retain_from(&mut self, start: usize, keep: impl Fn([f64; 3]) -> bool) {
        let n = self.len();
        let mask: Vec<bool> = (start..n).map(|i| keep(self.world(i))).collect();
        fn compact<T: Copy>(v: &mut Vec<T>, start: usize, mask: &[bool]) {
            // Columns shorter than the positions (an attribute a later file lacks) stay short.
            if v.len() != start + mask.len() {
                return;
            }
            let mut w = start;
            for (k, &m) in mask.iter().enumerate() {
                if m {
                    v[w] = v[start + k];
                    w += 1;
                }
            }
            v.truncate(w);
        }
        compact(&mut self.positions, start, &mask);
        macro_rules! each {
            ($($col:ident),*) => { $( if let Some(v) = &mut self.$col { compact(v, start, &mask); } )* };
        }
        each!(
            intensity,
            rgb,
            classification,
            return_number,
            number_of_returns,
            gps_time
        );
        for s in &mut self.scalars {
            compact(&mut s.values, start, &mask);
        }
    }

    /// The points `idx` (every attribute) as a cloud of their own, in the same frame.
    pub fn subset(&self, idx: &[usize]) -> PointCloud {
        fn pick<T: Copy>(v: &Option<Vec<T>>, idx: &[usize]) -> Option<Vec<T>> {
            v.as_ref()
                .map(|v| idx.iter().filter_map(|&i| v.get(i).copied()).collect())
        }
        PointCloud {
            origin: self.origin,
            positions: idx.iter().map(|&i| self.positions[i]).collect(),
            intensity: pick(&self.intensity, idx),
            rgb: pick(&self.rgb, idx),
            classification: pick(&self.classification, idx),
            return_number: pick(&self.return_number, idx),
            number_of_returns: pick(&self.number_of_returns, idx),
            gps_time: pick(&self.gps_time, idx),
            scalars: self
                .scalars
                .iter()
                .map(|s| ScalarField {
                    name: s.name.clone(),
                    values: idx.iter().map(|&i| s.values[i]).collect(),
                    description: s.description.clone(),
                })
                .collect(),
            crs: self.crs.clone(),
        }
    }

    /// Appends the points of `other` (moved into this cloud's frame). An attribute only one
    /// of them has is dropped, a field only one has too: every column stays as long as the
    /// positions.
    pub fn append(&mut self, other: &PointCloud) {
        let d = [0, 1, 2].map(|k| other.origin[k] - self.origin[k]);
        self.positions.extend(
            other
                .positions
                .iter()
                .map(|p| [0, 1, 2].map(|k| (f64::from(p[k]) + d[k]) as f32)),
        );
        fn join<T: Clone>(a: &mut Option<Vec<T>>, b: &Option<Vec<T>>) {
            match b {
                Some(b) if a.is_some() => a.iter_mut().for_each(|a| a.extend_from_slice(b)),
                _ => *a = None,
            }
        }
        join(&mut self.intensity, &other.intensity);
        join(&mut self.rgb, &other.rgb);
        join(&mut self.classification, &other.classification);
        join(&mut self.return_number, &other.return_number);
        join(&mut self.number_of_returns, &other.number_of_returns);
        join(&mut self.gps_time, &other.gps_time);
        self.scalars.retain_mut(|s| match other.scalar(&s.name) {
            Some(o) => {
                s.values.extend_from_slice(&o.values);
                true
            }
            None => false,
        });
    }

    /// Names of the per-point attributes present, in LAS terms.
    pub fn dimension_names(&self) -> Vec<String> {
        let mut v = vec!["X".to_string(), "Y".to_string(), "Z".to_string()];
        if self.intensity.is_some() {
            v.push("Intensity".into());
        }
        if self.return_number.is_some() {
            v.push("ReturnNumber".into());
            v.push("NumberOfReturns".into());
        }
        if self.classification.is_some() {
            v.push("Classification".into());
        }
        if self.gps_time.is_some() {
            v.push("GpsTime".into());
        }
        if self.rgb.is_some() {
            v.extend(["Red", "Green", "Blue"].map(String::from));
        }
        v.extend(self.scalars.iter().map(|s| s.name.clone()));
        v
    }
}

/// A sensible local origin for data with these bounds: the centre, rounded to whole units so
/// that origins of nearby epochs are easy to compare and the f32 offsets stay exact-ish.
pub fn origin_for(bounds: &Bounds) -> [f64; 3] {
    if bounds.is_empty() {
        return [0.0; 3];
    }
    bounds
        .center()
        .map(|c| if c.is_finite() { c.round() } else { 0.0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subset_and_append_keep_every_column_aligned() {
        let mut a = PointCloud::with_origin([100.0, 200.0, 0.0]);
        a.positions = vec![[0.0, 0.0, 0.0], [1.0, 2.0, 3.0], [4.0, 5.0, 6.0]];
        a.intensity = Some(vec![10, 11, 12]);
        a.rgb = Some(vec![[1, 2, 3]; 3]);
        a.set_scalar("dz", vec![0.5, 1.5, 2.5], "m");
        let s = a.subset(&[2, 0]);
        assert_eq!(s.positions, vec![[4.0, 5.0, 6.0], [0.0, 0.0, 0.0]]);
        assert_eq!(s.intensity, Some(vec![12, 10]));
        assert_eq!(s.scalar("dz").unwrap().values, vec![2.5, 0.5]);
        // Another frame: moved into this one; a column the other lacks is dropped.
        let mut b = PointCloud::with_origin([90.0, 200.0, 1.0]);
        b.positions = vec![[10.0, 0.0, 0.0]];
        b.intensity = Some(vec![99]);
        b.set_scalar("dz", vec![9.0], "m");
        let mut j = s.clone();
        j.append(&b);
        assert_eq!(j.len(), 3);
        assert_eq!(j.world(2), [100.0, 200.0, 1.0]);
        assert_eq!(j.intensity, Some(vec![12, 10, 99]));
        assert_eq!(j.rgb, None);
        assert_eq!(j.scalar("dz").unwrap().values, vec![2.5, 0.5, 9.0]);
    }

    #[test]
    fn rebase_keeps_world_coordinates() {
        let mut c = PointCloud::with_origin([500_000.0, 4_800_000.0, 100.0]);
        c.positions = vec![[1.25, -2.5, 0.125], [-300.0, 250.5, 3.0]];
        let before: Vec<_> = (0..2).map(|i| c.world(i)).collect();
        c.rebase([500_010.0, 4_799_990.0, 90.0]);
        for (i, w) in before.iter().enumerate() {
            let now = c.world(i);
            for k in 0..3 {
                assert!((now[k] - w[k]).abs() < 1e-4, "{now:?} vs {w:?}");
            }
        }
        assert_eq!(c.positions[0], [-8.75, 7.5, 10.125]);
    }

    #[test]
    fn bounds_from_points() {
        let mut c = PointCloud::with_origin([10.0, 20.0, 30.0]);
        assert!(c.bounds().is_empty());
        c.positions = vec![[1.0, 2.0, 3.0], [-1.0, 5.0, 0.0]];
        let b = c.bounds();
        assert_eq!(b.min, [9.0, 22.0, 30.0]);
        assert_eq!(b.max, [11.0, 25.0, 33.0]);
        assert_eq!(origin_for(&b), [10.0, 24.0, 32.0]);
    }
}
