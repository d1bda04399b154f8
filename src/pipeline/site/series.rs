//! The `[series]` step of job files: the monitoring series over every epoch.

use super::file::auto;
use crate::pipeline::change::{Cores, M3c2Settings};
use crate::pipeline::series::{SeriesEpoch, SeriesJob, SeriesRegister};
use chrono::NaiveDate;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The monitoring series over every epoch (at least 3, each with a date here or in its header).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SeriesStep {
    /// Index of the reference epoch [default: 0, the oldest].
    pub reference: usize,
    /// Register every epoch onto the reference first (with the stable_* keys).
    pub register: bool,
    pub stable_box: Option<[f64; 4]>,
    pub stable_polygon: Option<PathBuf>,
    pub stable_c2c: Option<f64>,
    #[serde(deserialize_with = "auto")]
    pub cyl_radius: Option<f64>,
    #[serde(deserialize_with = "auto")]
    pub normal_radii: Option<Vec<f64>>,
    #[serde(deserialize_with = "auto")]
    pub max_distance: Option<f64>,
    #[serde(deserialize_with = "auto")]
    pub core_spacing: Option<f64>,
    pub core_step: Option<usize>,
    pub cores: Option<PathBuf>,
    pub registration_error: f64,
    pub robust: bool,
    /// False-alarm probability per stable core point [default: 0.01].
    pub alpha: Option<f64>,
    /// Epochs that must depart for an onset [default: 2].
    pub persistence: Option<usize>,
    /// Also write `series.csv` [default: true].
    pub csv: Option<bool>,
    /// Also write the objects in time, `series_objects.geojson` [default: true].
    pub objects: Option<bool>,
    pub min_area: Option<f64>,
    pub wgs84: bool,
}

/// The series job of a `[series]` table, paths through `at` (beside the job file) and `o`
/// (in the output folder).
pub(super) fn job(
    st: &SeriesStep,
    epochs: &[super::Epoch],
    dates: &[Option<NaiveDate>],
    at: &dyn Fn(&Path) -> PathBuf,
    o: &dyn Fn(&str) -> PathBuf,
) -> SeriesJob {
    let cores = Cores::declared(
        st.cores.as_deref().map(at),
        false,
        st.core_step,
        st.core_spacing,
    );
    SeriesJob {
        epochs: epochs
            .iter()
            .zip(dates)
            .map(|(e, d)| SeriesEpoch {
                path: at(&e.path),
                date: *d,
            })
            .collect(),
        reference: st.reference,
        register: st.register.then(|| SeriesRegister {
            stable_box: st.stable_box,
            stable_polygon: st.stable_polygon.as_deref().map(at),
            stable_c2c: st.stable_c2c,
            ..Default::default()
        }),
        cores,
        m3c2: M3c2Settings {
            cyl_radius: st.cyl_radius,
            normal_radii: st.normal_radii.clone(),
            max_distance: st.max_distance,
            registration_error: st.registration_error,
            robust: st.robust,
            ..Default::default()
        },
        levels: crate::analysis::series::Levels {
            alpha: st.alpha.unwrap_or(0.01),
            persistence: st.persistence.unwrap_or(2),
            ..Default::default()
        },
        output: Some(o("series.laz")),
        csv: st.csv.unwrap_or(true).then(|| o("series.csv")),
        objects: st
            .objects
            .unwrap_or(true)
            .then(|| o("series_objects.geojson")),
        min_area: st.min_area,
        wgs84: st.wgs84,
    }
}
