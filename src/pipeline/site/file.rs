//! The job file as written: `[[epoch]]` tables and one table per step, checked by serde
//! (unknown keys refused with a suggestion by `describe_error`).

use super::series::SeriesStep;
use crate::analysis::dod::Stat;
use crate::analysis::icp::Rotation;
use crate::io::geoid::{GeoidSpec, HeightSystem};
use crate::lang::Lang;
use crate::pipeline::change::Method;
use serde::{Deserialize, Deserializer};
use std::path::PathBuf;

/// The job file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteFile {
    #[serde(default)]
    pub site: Site,
    /// Survey epochs, oldest first (`[[epoch]]` tables).
    #[serde(rename = "epoch", default)]
    pub epochs: Vec<Epoch>,
    pub classify: Option<ClassifyStep>,
    pub register: Option<RegisterStep>,
    pub dtm: Option<DtmStep>,
    pub change: Option<ChangeStep>,
    pub dod: Option<DodStep>,
    pub objects: Option<ObjectsStep>,
    pub report: Option<ReportStep>,
    pub tiles: Option<TilesStep>,
    pub copc: Option<CopcStep>,
    pub series: Option<SeriesStep>,
    /// Set in the job files `kizashi plan` writes: this job is one tile of a planned run.
    pub tile: Option<crate::pipeline::tiling::TileStep>,
    pub heights: Option<HeightsStep>,
}

/// `[heights]`: how epochs without a declared height system get one.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HeightsStep {
    /// Epochs with no `heights` and no vertical CRS take Japan's system on their date.
    pub by_date: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    /// Site name (the report's title).
    pub name: Option<String>,
    /// Output folder [default: `out` beside the job file].
    pub output: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Epoch {
    pub path: PathBuf,
    /// Survey date (TOML date, e.g. 2025-05-01).
    pub date: Option<toml::value::Datetime>,
    pub name: Option<String>,
    /// The epoch's height system: `gsigeo2011`, `jpgeo2024` or `ellipsoidal`.
    pub heights: Option<HeightSystem>,
}

/// A number, or the word "auto" (= derived from the point density, as when left out).
pub(super) fn auto<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> std::result::Result<Option<T>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OrAuto<T> {
        Value(T),
        Word(String),
    }
    match OrAuto::<T>::deserialize(d)? {
        OrAuto::Value(v) => Ok(Some(v)),
        OrAuto::Word(w) if w == "auto" => Ok(None),
        OrAuto::Word(w) => Err(serde::de::Error::custom(format!(
            "expected a value or \"auto\", got \"{w}\""
        ))),
    }
}

/// Ground classification of the compared epochs first (`epochN_classified.laz`); the later
/// steps read the classified copies. Parameters in metres, defaults as `kizashi classify`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClassifyStep {
    pub cell: Option<f64>,
    pub slope: Option<f64>,
    pub window: Option<f64>,
    pub threshold: Option<f64>,
    pub scalar: Option<f64>,
    pub low: Option<f64>,
    pub hag: bool,
    pub vegetation: bool,
}

/// A DTM GeoTIFF of each compared epoch (`epochN_dtm.tif`, after classification and
/// registration): a TIN through its ground points, as `kizashi dtm`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DtmStep {
    /// Cell size in CRS units.
    pub cell: f64,
}

/// Epoch 2 registered onto epoch 1; the change and DoD steps then compare the aligned copy.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegisterStep {
    pub stable_box: Option<[f64; 4]>,
    pub stable_polygon: Option<PathBuf>,
    pub stable_c2c: Option<f64>,
    pub rotation: Rotation,
    #[serde(deserialize_with = "auto")]
    pub plane_radius: Option<f64>,
    /// Fit on ground points only (classified on the fly where an epoch has no ground class).
    pub ground: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChangeStep {
    pub method: Method,
    #[serde(deserialize_with = "auto")]
    pub cyl_radius: Option<f64>,
    #[serde(deserialize_with = "auto")]
    pub normal_radii: Option<Vec<f64>>,
    #[serde(deserialize_with = "auto")]
    pub max_distance: Option<f64>,
    #[serde(deserialize_with = "auto")]
    pub core_spacing: Option<f64>,
    pub core_step: Option<usize>,
    /// Core points from a file (LAS/LAZ or CSV).
    pub cores: Option<PathBuf>,
    /// With `cores`: the normals from that file.
    pub core_normals: bool,
    pub registration_error: f64,
    pub robust: bool,
    pub orientation: Option<[f64; 3]>,
    pub sensor: Option<[f64; 3]>,
    pub exact_normals: bool,
    /// Also write `change.csv` [default: true].
    pub csv: Option<bool>,
    /// Compare ground points only (classified on the fly where an epoch has no ground class).
    pub ground: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DodStep {
    #[serde(deserialize_with = "auto")]
    pub cell: Option<f64>,
    pub stat: Option<Stat>,
    pub ground: bool,
    pub registration_error: f64,
    /// Also write the DoD's change objects [default: true].
    pub objects: Option<bool>,
    pub min_area: f64,
    pub wgs84: bool,
    /// Nuth & Kääb co-registration of epoch 2 onto epoch 1 first.
    pub coregister: bool,
    /// Stable ground for it: polygons (relative to the job file) and/or |plain DoD| below.
    pub stable_polygon: Option<PathBuf>,
    pub stable_dh: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ObjectsStep {
    #[serde(deserialize_with = "auto")]
    pub cell: Option<f64>,
    pub min_area: f64,
    pub wgs84: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    #[default]
    Pdf,
    Html,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportStep {
    pub lang: Option<Lang>,
    pub title: Option<String>,
    pub ortho: Option<PathBuf>,
    pub format: ReportFormat,
    pub min_area: Option<f64>,
}

/// COPC copies for portals and PDAL/QGIS: the change (or series) result as
/// `change.copc.laz` (`series.copc.laz`), and with `epochs` every survey as `epochK.copc.laz`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CopcStep {
    pub epochs: bool,
    pub leaf_points: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TilesStep {
    /// Fields carried as properties [default: every field of the change result].
    pub attributes: Option<Vec<String>>,
    pub geoid_offset: f64,
    /// `jpgeo2024`, `gsigeo2011`, `none` or a grid file (relative to the job file).
    pub geoid: GeoidSpec,
    pub max_points_per_tile: Option<usize>,
}
