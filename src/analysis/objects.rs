//! Change objects: connected regions (8-neighbourhood) of significant DoD cells of the same
//! sign, at least `min_area` large, with area, volume and displacement statistics.

use serde::Serialize;

#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct ChangeObject {
    /// 1-based, largest volume first.
    pub id: i32,
    /// "fill" (surface rose) or "cut" (surface fell).
    pub sign: String,
    pub cells: usize,
    pub area_m2: f64,
    /// Signed, m3.
    pub volume_m3: f64,
    pub volume_sigma_m3: f64,
    pub mean_m: f64,
    /// The largest displacement in magnitude, signed.
    pub max_m: f64,
    /// Centroid in the data CRS.
    pub centre: [f64; 2],
}

/// Labels (0 = no object) per cell and the objects, largest |volume| first. `diff` and `lod`
/// are the DoD bands (NaN = no data); a cell is significant when |diff| > lod, or, when
/// `significant` is given (M3C2 core points gridded), when it says so. `centre(i)` gives a
/// cell's centre.
#[allow(clippy::too_many_arguments)]
pub fn find(
    diff: &[f32],
    lod: &[f32],
    significant: Option<&[bool]>,
    width: usize,
    height: usize,
    cell: f64,
    min_area: f64,
    centre: impl Fn(usize) -> [f64; 2],
) -> (Vec<i32>, Vec<ChangeObject>) {
    let n = width * height;
    let sign_of = |i: usize| -> i8 {
        let (d, l) = (diff[i], lod[i]);
        let sig = match significant {
            Some(s) => s[i] && d.is_finite(),
            None => d.is_finite() && l.is_finite() && d.abs() > l,
        };
        if sig && d != 0.0 {
            if d > 0.0 {
                1
            } else {
                -1
            }
        } else {
            0
        }
    };
    let mut comp = vec![0i32; n];
    let mut regions: Vec<Vec<usize>> = Vec::new();
    let mut stack = Vec::new();
    for start in 0..n {
        let s = sign_of(start);
        if s == 0 || comp[start] != 0 {
            continue;
        }
        let label = regions.len() as i32 + 1;
        let mut cells = Vec::new();
        comp[start] = label;
        stack.push(start);
        while let Some(i) = stack.pop() {
            cells.push(i);
            let (c, r) = ((i % width) as i64, (i / width) as i64);
            for dr in -1..=1i64 {
                for dc in -1..=1i64 {
                    let (cc, rr) = (c + dc, r + dr);
                    if (dr, dc) == (0, 0)
                        || cc < 0
                        || rr < 0
                        || cc >= width as i64
                        || rr >= height as i64
                    {
                        continue;
                    }
                    let j = rr as usize * width + cc as usize;
                    if comp[j] == 0 && sign_of(j) == s {
                        comp[j] = label;
                        stack.push(j);
                    }
                }
            }
        }
        regions.push(cells);
    }
    let a = cell * cell;
    let mut objects: Vec<(usize, ChangeObject)> = regions
        .iter()
        .enumerate()
        .filter(|(_, cells)| cells.len() as f64 * a >= min_area)
        .map(|(k, cells)| {
            let (mut vol, mut var, mut max, mut cx, mut cy) = (0.0, 0.0, 0.0f64, 0.0, 0.0);
            for &i in cells {
                let d = f64::from(diff[i]);
                vol += d * a;
                let l = f64::from(lod[i]);
                if l.is_finite() {
                    var += (l / 1.96 * a).powi(2);
                }
                if d.abs() > max.abs() {
                    max = d;
                }
                let c = centre(i);
                cx += c[0];
                cy += c[1];
            }
            let m = cells.len() as f64;
            (
                k,
                ChangeObject {
                    id: 0,
                    sign: if vol > 0.0 { "fill" } else { "cut" }.into(),
                    cells: cells.len(),
                    area_m2: m * a,
                    volume_m3: vol,
                    volume_sigma_m3: var.sqrt(),
                    mean_m: vol / (m * a),
                    max_m: max,
                    centre: [cx / m, cy / m],
                },
            )
        })
        .collect();
    objects.sort_by(|x, y| y.1.volume_m3.abs().total_cmp(&x.1.volume_m3.abs()));
    let mut labels = vec![0i32; n];
    let mut out = Vec::with_capacity(objects.len());
    for (rank, (k, mut o)) in objects.into_iter().enumerate() {
        o.id = rank as i32 + 1;
        for &i in &regions[k] {
            labels[i] = o.id;
        }
        out.push(o);
    }
    (labels, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_by_sign_size_and_volume() {
        // 5 x 3 grid, 2 m cells: a fill region of 3 cells (diagonal link), a cut of 1 cell,
        // one cell below its LoD, one without data.
        let nan = f32::NAN;
        let diff = [
            0.5, 0.0, 0.0, -0.4, 0.0, 0.0, 0.6, 0.0, 0.0, nan, 0.0, 0.0, 0.7, 0.05, 0.0,
        ];
        let lod = [0.1f32; 15];
        let (labels, objs) = find(&diff, &lod, None, 5, 3, 2.0, 0.0, |i| {
            [(i % 5) as f64 * 2.0 + 1.0, -((i / 5) as f64) * 2.0 - 1.0]
        });
        assert_eq!(objs.len(), 2);
        let fill = &objs[0];
        assert_eq!((fill.id, fill.sign.as_str(), fill.cells), (1, "fill", 3));
        assert!((fill.area_m2 - 12.0).abs() < 1e-9 && (fill.volume_m3 - 7.2).abs() < 1e-5);
        assert!((fill.max_m - 0.7).abs() < 1e-6 && (fill.mean_m - 0.6).abs() < 1e-6);
        assert_eq!(objs[1].sign, "cut");
        assert_eq!(labels[0], 1);
        assert_eq!(labels[6], 1);
        assert_eq!(labels[12], 1);
        assert_eq!(labels[3], 2);
        assert_eq!(labels[13], 0);
        // A minimum area drops the single cell.
        let (_, big) = find(&diff, &lod, None, 5, 3, 2.0, 5.0, |_| [0.0, 0.0]);
        assert_eq!(big.len(), 1);
    }
}
