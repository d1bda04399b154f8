//! The bundled sample survey: two drone epochs of a river embankment and a hillslope in
//! Yamaguchi (JGD2011 / Japan Plane Rectangular CS III, EPSG:6671), a year apart, with a known
//! slump on the hillslope and a bulge on the embankment's landside slope, plus the orthophoto
//! their colours come from. Everything is generated from a fixed seed, so the files are the
//! same on every machine and tests can compare against the truth stored beside them.

use crate::cloud::{CrsSource, PointCloud};
use crate::io::{self, crs, las, raster};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use serde::Serialize;
use std::path::Path;

pub const EPSG: u32 = 6671;
/// South-west corner of the site (easting, northing), metres in CS III; near the Fushino river.
pub const SITE_ORIGIN: [f64; 2] = [-61_500.0, -201_200.0];
pub const SITE_SIZE: f64 = 200.0;
pub const POINTS_PER_EPOCH: usize = 200_000;
pub const NOISE_M: f64 = 0.01;
pub const ORTHO_RES: f64 = 0.25;
pub const EPOCH1_FILE: &str = "epoch1_2025.laz";
pub const EPOCH2_FILE: &str = "epoch2_2026.laz";
pub const ORTHO_FILE: &str = "ortho_2026.tif";
/// Epoch 1's bare-earth model at 1 m (what a survey company delivers with the points).
pub const DTM_FILE: &str = "dtm_2025.tif";
pub const TRUTH_FILE: &str = "truth.json";

/// One deformation feature, in site-local metres (origin at the south-west corner).
#[derive(Clone, Debug, Serialize)]
pub struct Feature {
    pub name: String,
    pub kind: String,
    pub center: [f64; 2],
    /// Semi-axes of the elliptical footprint (across, along the slope), metres.
    pub radii: [f64; 2],
    /// Peak vertical displacement, metres (negative: subsidence).
    pub peak_dz: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Truth {
    pub epsg: u32,
    pub site_origin: [f64; 2],
    pub site_size_m: f64,
    pub points_per_epoch: usize,
    pub noise_sigma_m: f64,
    pub features: Vec<Feature>,
    pub note: String,
}

/// The displacements applied to epoch 2 (also written to truth.json).
pub fn features() -> Vec<Feature> {
    vec![
        Feature {
            name: "hillslope slump (head)".into(),
            kind: "slump".into(),
            center: [172.0, 120.0],
            radii: [9.0, 14.0],
            peak_dz: -0.35,
        },
        Feature {
            name: "hillslope slump (toe)".into(),
            kind: "slump".into(),
            center: [156.0, 120.0],
            radii: [6.0, 13.0],
            peak_dz: 0.20,
        },
        Feature {
            name: "embankment landside bulge".into(),
            kind: "bulge".into(),
            center: [82.0, 50.0],
            radii: [6.0, 10.0],
            peak_dz: 0.30,
        },
    ]
}

/// Smooth bump: 1 at the centre, 0 on and outside the ellipse (cosine taper).
fn bump(f: &Feature, u: f64, v: f64) -> f64 {
    let r = (((u - f.center[0]) / f.radii[0]).powi(2) + ((v - f.center[1]) / f.radii[1]).powi(2))
        .sqrt();
    if r >= 1.0 {
        0.0
    } else {
        0.5 * (1.0 + (std::f64::consts::PI * r).cos())
    }
}

/// True vertical displacement from epoch 1 to epoch 2 at site-local (u, v).
pub fn true_dz(u: f64, v: f64) -> f64 {
    features().iter().map(|f| f.peak_dz * bump(f, u, v)).sum()
}

#[derive(Clone, Copy, PartialEq)]
enum Cover {
    Water,
    Grass,
    Road,
    Paddy,
    Forest,
}

/// Cross-section of the site along u (west -> east): river, riverside slope, crest road,
/// landside slope, paddies, hillslope.
fn cover_and_height(u: f64, v: f64) -> (Cover, f64) {
    let texture = 0.15 * (u * 0.21 + v * 0.13).sin() * (v * 0.17).cos()
        + 0.05 * (u * 1.3).sin() * (v * 0.9).sin();
    if u < 50.0 {
        (
            Cover::Water,
            4.5 + 0.2 * ((u - 25.0) / 25.0).powi(2) + 0.02 * (v * 0.3).sin(),
        )
    } else if u < 64.0 {
        (
            Cover::Grass,
            5.0 + (u - 50.0) * (6.0 / 14.0) + 0.3 * texture,
        )
    } else if u < 70.0 {
        (Cover::Road, 11.0 + 0.01 * (v * 0.05).sin())
    } else if u < 86.0 {
        (
            Cover::Grass,
            11.0 - (u - 70.0) * (4.0 / 16.0) + 0.3 * texture,
        )
    } else if u < 140.0 {
        (
            Cover::Paddy,
            7.0 + 0.02 * ((u / 18.0).floor() + (v / 25.0).floor()).rem_euclid(3.0) + 0.02 * texture,
        )
    } else {
        (
            Cover::Forest,
            7.0 + (u - 140.0) * 0.5 + 1.5 * texture + 0.8 * (v * 0.04).sin(),
        )
    }
}

/// Deterministic per-pixel variation for the orthophoto.
fn hash_noise(a: i64, b: i64) -> f64 {
    let mut h = (a as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (b as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    h ^= h >> 31;
    h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h ^= h >> 29;
    (h % 10_000) as f64 / 10_000.0
}

fn colour(u: f64, v: f64) -> [u8; 3] {
    let (cover, _) = cover_and_height(u, v);
    let n = hash_noise((u * 4.0) as i64, (v * 4.0) as i64) - 0.5;
    let coarse = hash_noise((u / 3.0) as i64, (v / 3.0) as i64) - 0.5;
    let base: [f64; 3] = match cover {
        Cover::Water => [70.0, 92.0, 88.0],
        Cover::Grass => [110.0, 140.0, 70.0],
        Cover::Road => [128.0, 126.0, 122.0],
        Cover::Paddy => {
            if ((u / 18.0).floor() + (v / 25.0).floor()).rem_euclid(2.0) == 0.0 {
                [120.0, 150.0, 60.0]
            } else {
                [95.0, 125.0, 55.0]
            }
        }
        Cover::Forest => [45.0, 80.0, 40.0],
    };
    // Bare soil where the slump scarp broke the forest cover (seen in the 2026 photo).
    let scar = features()
        .iter()
        .filter(|f| f.kind == "slump")
        .map(|f| bump(f, u, v))
        .fold(0.0, f64::max);
    let soil = [140.0, 110.0, 80.0];
    let mut c = [0.0; 3];
    for k in 0..3 {
        let b = base[k] * (1.0 + 0.25 * coarse + 0.15 * n);
        c[k] = b * (1.0 - scar.min(0.8)) + soil[k] * scar.min(0.8);
    }
    // Paddy bunds (畦) as light lines.
    if cover == Cover::Paddy && ((u % 18.0) < 0.5 || (v % 25.0) < 0.5) {
        c = [150.0, 145.0, 120.0];
    }
    c.map(|x| x.round().clamp(0.0, 255.0) as u8)
}

/// Renders the orthophoto (north up) covering the site.
pub fn ortho_image() -> image::RgbImage {
    let n = (SITE_SIZE / ORTHO_RES) as u32;
    image::RgbImage::from_fn(n, n, |col, row| {
        let u = (f64::from(col) + 0.5) * ORTHO_RES;
        let v = SITE_SIZE - (f64::from(row) + 0.5) * ORTHO_RES;
        image::Rgb(colour(u, v))
    })
}

/// Generates one epoch. `epoch` is 1 or 2; epoch 2 carries the deformation and a `true_dz`
/// field with the displacement applied to each point.
pub fn epoch(epoch: u8, ortho: &image::RgbImage) -> PointCloud {
    epoch_with(epoch, POINTS_PER_EPOCH, ortho)
}

/// As `epoch`, with `n` points (benchmarks use millions).
pub fn epoch_with(epoch: u8, n: usize, ortho: &image::RgbImage) -> PointCloud {
    let mut rng = ChaCha8Rng::seed_from_u64(0x4B49_5A41_5348_4900 + u64::from(epoch));
    let noise = Normal::new(0.0, NOISE_M).unwrap_or_else(|_| unreachable!("constant sigma"));
    let origin = [
        SITE_ORIGIN[0] + SITE_SIZE / 2.0,
        SITE_ORIGIN[1] + SITE_SIZE / 2.0,
        0.0,
    ];
    let mut c = PointCloud::with_origin(origin);
    c.positions.reserve(n);
    let (mut rgb, mut inten, mut class, mut time, mut tdz) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let t0 = if epoch == 1 { 4.05e8 } else { 4.37e8 };
    while c.positions.len() < n {
        let u = rng.random::<f64>() * SITE_SIZE;
        let v = rng.random::<f64>() * SITE_SIZE;
        let (cover, z) = cover_and_height(u, v);
        // Lidar returns from water are sparse.
        if cover == Cover::Water && rng.random::<f64>() < 0.8 {
            continue;
        }
        let dz = if epoch == 2 { true_dz(u, v) } else { 0.0 };
        let zz = z + dz + noise.sample(&mut rng);
        c.positions.push([
            (u - SITE_SIZE / 2.0) as f32,
            (v - SITE_SIZE / 2.0) as f32,
            zz as f32,
        ]);
        let col = ((u / ORTHO_RES) as u32).min(ortho.width() - 1);
        let row = (((SITE_SIZE - v) / ORTHO_RES) as u32).min(ortho.height() - 1);
        let p = ortho.get_pixel(col, row).0;
        rgb.push(p.map(|x| u16::from(x) * 257));
        let lum = 0.3 * f64::from(p[0]) + 0.59 * f64::from(p[1]) + 0.11 * f64::from(p[2]);
        inten.push((lum * 180.0 + rng.random::<f64>() * 400.0) as u16);
        class.push(if cover == Cover::Water { 9 } else { 2 });
        // Flight lines run north-south, 20 m apart, 8 m/s.
        let line = (u / 20.0).floor();
        time.push(
            t0 + line * 60.0
                + if line as i64 % 2 == 0 {
                    v
                } else {
                    SITE_SIZE - v
                } / 8.0,
        );
        tdz.push(dz as f32);
    }
    // Store points in acquisition (GPS time) order, as a real survey file is.
    let mut order: Vec<usize> = (0..c.positions.len()).collect();
    order.sort_by(|&a, &b| time[a].total_cmp(&time[b]));
    let pick = |v: &[f32]| order.iter().map(|&i| v[i]).collect::<Vec<_>>();
    c.positions = order.iter().map(|&i| c.positions[i]).collect();
    c.rgb = Some(order.iter().map(|&i| rgb[i]).collect());
    c.intensity = Some(order.iter().map(|&i| inten[i]).collect());
    c.classification = Some(order.iter().map(|&i| class[i]).collect());
    c.gps_time = Some(order.iter().map(|&i| time[i]).collect());
    if epoch == 2 {
        c.set_scalar("true_dz", pick(&tdz), "true vertical change (m)");
    }
    c.crs = crs::from_epsg(EPSG, CrsSource::User).ok();
    c
}

/// The sample site's job file (`kizashi run sample_data/site.toml`): the main job.
pub const SITE_FILE: &str = "site.toml";
const SITE_TOML: &str = r#"# The sample site's monitoring job: `kizashi run sample_data/site.toml`.
# Paths are relative to this file. A second run skips every step whose inputs and parameters
# did not change; `--force` reruns all, `--dry-run` says what would run.

[site]
name = "サンプル地区（山口）"
output = "../out/site"

[[epoch]]
path = "epoch1_2025.laz"
date = 2025-06-10

[[epoch]]
path = "epoch2_2026.laz"
date = 2026-06-12

# M3C2; parameters left out (or "auto") come from epoch 1's point density, by the same rule
# as the viewer: a cylinder of ~20 points, normals at 1 and 2 radii, half-length 2 radii.
[change]
method = "m3c2"
cyl_radius = "auto"

# DEM of difference on ground points, with its change objects.
[dod]
cell = 2.0
ground = true
min_area = 8.0

# Change objects from the M3C2 result.
[objects]
min_area = 8.0

[report]
lang = "ja"
ortho = "ortho_2026.tif"

[tiles]
"#;

/// Writes the sample survey into `dir`: two LAZ epochs, the orthophoto GeoTIFF, truth.json.
pub fn generate(dir: &Path) -> Result<Vec<std::path::PathBuf>, io::IoError> {
    std::fs::create_dir_all(dir).map_err(|e| io::IoError::io(dir, e))?;
    let img = ortho_image();
    let c = crs::from_epsg(EPSG, CrsSource::User)?;
    let ortho_path = dir.join(ORTHO_FILE);
    let gt = raster::GeoTransform([
        SITE_ORIGIN[0],
        ORTHO_RES,
        0.0,
        SITE_ORIGIN[1] + SITE_SIZE,
        0.0,
        -ORTHO_RES,
    ]);
    raster::write_rgb(&ortho_path, &img, gt, Some(&c))?;
    let mut out = vec![ortho_path];
    let dtm_path = dir.join(DTM_FILE);
    let n = SITE_SIZE as usize;
    let heights: Vec<f32> = (0..n * n)
        .map(|k| {
            let (col, row) = (k % n, k / n);
            cover_and_height(col as f64 + 0.5, SITE_SIZE - (row as f64 + 0.5)).1 as f32
        })
        .collect();
    let dgt = raster::GeoTransform([
        SITE_ORIGIN[0],
        1.0,
        0.0,
        SITE_ORIGIN[1] + SITE_SIZE,
        0.0,
        -1.0,
    ]);
    raster::write_f32(&dtm_path, n, n, dgt, Some(&c), -9999.0, &heights)?;
    out.push(dtm_path);
    for (e, name, date) in [
        (1u8, EPOCH1_FILE, (2025, 6, 10)),
        (2u8, EPOCH2_FILE, (2026, 6, 12)),
    ] {
        let cloud = epoch(e, &img);
        let p = dir.join(name);
        let opts = las::WriteOptions {
            date: chrono::NaiveDate::from_ymd_opt(date.0, date.1, date.2),
            system_identifier: format!("Kizashi sample epoch {e}"),
            ..Default::default()
        };
        las::write(&p, &cloud, &opts)?;
        out.push(p);
    }
    let truth = Truth {
        epsg: EPSG,
        site_origin: SITE_ORIGIN,
        site_size_m: SITE_SIZE,
        points_per_epoch: POINTS_PER_EPOCH,
        noise_sigma_m: NOISE_M,
        features: features(),
        note: "Feature centres are site-local metres from site_origin (easting, northing). Epoch 2 = epoch 1 surface + sum of peak_dz * cosine bump; \
               points are sampled independently per epoch; epoch 2 carries the applied displacement as the extra field true_dz."
            .into(),
    };
    let tp = dir.join(TRUTH_FILE);
    let json = serde_json::to_string_pretty(&truth).map_err(|e| io::IoError::Write {
        path: tp.clone(),
        reason: e.to_string(),
    })?;
    io::safe::write_bytes(&tp, (json + "\n").as_bytes())?;
    out.push(tp);
    let site = dir.join(SITE_FILE);
    io::safe::write_bytes(&site, SITE_TOML.as_bytes())?;
    out.push(site);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deformation_is_where_the_truth_says() {
        assert_eq!(true_dz(172.0, 120.0), -0.35);
        assert_eq!(true_dz(82.0, 50.0), 0.30);
        assert_eq!(true_dz(10.0, 10.0), 0.0);
        // The embankment crest is 11 m, the paddies 7 m, the hill rises to the east.
        assert!((cover_and_height(67.0, 100.0).1 - 11.0).abs() < 0.05);
        assert!((cover_and_height(120.0, 100.0).1 - 7.0).abs() < 0.1);
        assert!(cover_and_height(199.0, 100.0).1 > 30.0);
    }
}
