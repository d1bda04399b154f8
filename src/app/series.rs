//! A monitoring series in the viewer: a result of `kizashi series` (core points with
//! `velocity`, `d_K`, ...) and its record beside it (dates, epochs, objects). The panel picks
//! the epoch shown, the colour (displacement at that date, velocity, acceleration, onset) and
//! lists the objects; a picked core point gets its displacement-versus-date plot.

use super::colour::ColourMode;
use super::{inspect::Pick, LayerKind, Viewer};
use crate::analysis::series::MotionClass;
use crate::cloud::PointCloud;
use crate::pipeline::series::{SeriesEpoch, SeriesJob, SeriesSummary};
use std::path::PathBuf;

/// What the series panel shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeriesColour {
    /// Displacement at the chosen epoch, on one range for every epoch.
    Displacement,
    Velocity,
    Acceleration,
    Onset,
}

pub struct SeriesView {
    pub layer: u32,
    pub summary: SeriesSummary,
    pub epoch: usize,
    pub colour: SeriesColour,
    /// |d| limit shared by every epoch's map (the latest epoch's), so colours compare.
    pub limit: f32,
}

#[derive(Default)]
pub struct SeriesState {
    pub view: Option<SeriesView>,
    /// Layers already looked at (with or without a record), not read again each frame.
    checked: Vec<u32>,
    /// Scripted runs: show this epoch once the series is there.
    pub epoch_request: Option<usize>,
    /// Scripted runs: pick the core point nearest this XY (data CRS).
    pub pick_request: Option<[f64; 2]>,
}

/// One core point's series: (decimal years, displacement, LoD95) per epoch, the reference
/// at 0 ± 0.
pub fn point_series(c: &PointCloud, s: &SeriesSummary, i: usize) -> Vec<(f64, f32, f32)> {
    s.epochs
        .iter()
        .enumerate()
        .map(|(k, e)| {
            if k == s.reference {
                return (e.decimal_year, 0.0, 0.0);
            }
            let get = |name: String| {
                c.scalar(&name)
                    .and_then(|f| f.values.get(i).copied())
                    .unwrap_or(f32::NAN)
            };
            (
                e.decimal_year,
                get(crate::fields::displacement(k)),
                get(crate::fields::lod(k)),
            )
        })
        .collect()
}

/// A field of the series layer at one core point (NaN when missing).
pub fn value(c: &PointCloud, name: &str, i: usize) -> f32 {
    c.scalar(name)
        .and_then(|f| f.values.get(i).copied())
        .unwrap_or(f32::NAN)
}

pub fn class_at(c: &PointCloud, i: usize) -> MotionClass {
    MotionClass::from_code(value(c, crate::fields::MOTION_CLASS, i))
}

impl Viewer {
    /// Finds a series among the cloud layers (once per layer), and drops a view whose layer
    /// was removed. True when a series was just found.
    pub fn refresh_series(&mut self) -> bool {
        if let Some(v) = &self.series.view {
            if self.layer(v.layer).is_none() {
                self.series.view = None;
            }
        }
        if self.series.view.is_some() {
            return false;
        }
        let found = self.layers.iter().find_map(|l| {
            if self.series.checked.contains(&l.id) {
                return None;
            }
            let c = l.cloud()?;
            c.cloud.scalar(crate::fields::VELOCITY)?;
            Some((l.id, l.path.clone(), c.cloud.clone()))
        });
        let Some((id, path, cloud)) = found else {
            return false;
        };
        self.series.checked.push(id);
        let record = path.as_ref().and_then(|p| {
            let s = std::fs::read_to_string(crate::pipeline::sidecar_path(p)).ok()?;
            serde_json::from_str::<SeriesSummary>(&s)
                .ok()
                .filter(|r| r.epochs.len() >= 3 && r.reference < r.epochs.len())
        });
        let Some(summary) = record else {
            self.notices.push(format!(
                "{}: {}",
                path.map(|p| p.display().to_string()).unwrap_or_default(),
                self.t(super::S::SeriesNoRecord)
            ));
            return false;
        };
        let last = summary.epochs.len().saturating_sub(1);
        let limit = cloud
            .scalar(&crate::fields::displacement(last))
            .and_then(|f| crate::colourmap::deformation_limit(&f.values, None))
            .unwrap_or(0.01);
        // The result is what to look at: the epochs it came from step back (still listed).
        for l in self.layers.iter_mut().filter(|l| l.is_epoch()) {
            l.visible = false;
        }
        self.series.view = Some(SeriesView {
            layer: id,
            summary,
            epoch: last,
            colour: SeriesColour::Displacement,
            limit,
        });
        true
    }

    /// Recolours the series layer for its view's epoch and colour.
    pub fn show_series(&mut self) {
        let Some(v) = &self.series.view else { return };
        let (id, epoch, colour, limit) = (v.layer, v.epoch, v.colour, v.limit);
        let reference = v.summary.reference;
        let years = (
            v.summary.epochs.first().map_or(0.0, |e| e.decimal_year) as f32,
            v.summary.epochs.last().map_or(1.0, |e| e.decimal_year) as f32,
        );
        let (mode, range) = match colour {
            SeriesColour::Displacement if epoch != reference => (
                ColourMode::Deformation {
                    field: crate::fields::displacement(epoch),
                    significance: None,
                },
                Some((-limit, limit)),
            ),
            // The reference epoch has no displacement: velocity instead.
            SeriesColour::Displacement | SeriesColour::Velocity => (
                ColourMode::Deformation {
                    field: crate::fields::VELOCITY.into(),
                    significance: None,
                },
                None,
            ),
            SeriesColour::Acceleration => (
                ColourMode::Deformation {
                    field: crate::fields::ACCELERATION.into(),
                    significance: None,
                },
                None,
            ),
            SeriesColour::Onset => (
                ColourMode::Field(crate::fields::ONSET_YEAR.into()),
                Some(years),
            ),
        };
        self.set_colour(id, mode);
        if let Some(r) = range {
            self.set_range(id, r);
        }
    }

    /// The core point of the series layer nearest `xy` (data CRS), as a pick.
    pub fn series_pick_near(&self, xy: [f64; 2]) -> Option<Pick> {
        let v = self.series.view.as_ref()?;
        let l = self.layer(v.layer)?;
        let LayerKind::Cloud(c) = &l.kind else {
            return None;
        };
        let o = c.cloud.origin;
        let (x, y) = (xy[0] - o[0], xy[1] - o[1]);
        let i = c
            .cloud
            .positions
            .iter()
            .enumerate()
            .map(|(i, p)| {
                (
                    i,
                    (f64::from(p[0]) - x).powi(2) + (f64::from(p[1]) - y).powi(2),
                )
            })
            .min_by(|a, b| a.1.total_cmp(&b.1))?
            .0;
        Some(Pick {
            layer: l.id,
            index: i,
            world: c.cloud.world(i),
        })
    }
}

impl Viewer {
    /// The loaded epochs (files) a series can run over, oldest survey first (header dates;
    /// in open order when a date is missing, and the series then says which).
    pub fn series_epochs(&self) -> Vec<PathBuf> {
        let mut files: Vec<(usize, PathBuf)> = self
            .layers
            .iter()
            .filter(|l| l.is_epoch())
            .filter_map(|l| l.path.clone())
            .map(|p| {
                let rank = self
                    .opened
                    .iter()
                    .position(|o| *o == p)
                    .unwrap_or(usize::MAX);
                (rank, p)
            })
            .collect();
        files.sort();
        let mut files: Vec<PathBuf> = files.into_iter().map(|(_, p)| p).collect();
        let dates: Vec<Option<chrono::NaiveDate>> = files
            .iter()
            .map(|p| {
                crate::io::las::read_header(p)
                    .ok()
                    .and_then(|h| h.creation_date)
            })
            .collect();
        if dates.iter().all(Option::is_some) {
            let mut both: Vec<_> = dates.into_iter().zip(files).collect();
            both.sort_by_key(|(d, _)| *d);
            files = both.into_iter().map(|(_, p)| p).collect();
        }
        files
    }

    /// Runs the series over the loaded epochs in the background (the same pipeline call as
    /// `kizashi series`, parameters from the density rule); its result, written with its
    /// record to a folder of its own, opens as a layer.
    pub fn start_series(&mut self) {
        let epochs = self.series_epochs();
        if epochs.len() < 3 {
            self.errors.push(self.t(super::S::SeriesNeedsEpochs).into());
            return;
        }
        let dir = std::env::temp_dir().join(format!(
            "kizashi-series-{}-{}",
            std::process::id(),
            chrono::Local::now().format("%Y%m%d-%H%M%S")
        ));
        let out = dir.join("series.laz");
        self.notices
            .push(format!("{}: {}", self.t(super::S::Series), out.display()));
        let job = SeriesJob {
            epochs: epochs
                .into_iter()
                .map(|path| SeriesEpoch { path, date: None })
                .collect(),
            reference: 0,
            register: None,
            cores: None,
            m3c2: Default::default(),
            levels: Default::default(),
            output: Some(out.clone()),
            csv: None,
            objects: None,
            min_area: None,
            wgs84: false,
        };
        let label = self.t(super::S::Series).to_string();
        let (overview, cache) = (self.settings.overview_points, self.settings.cache_bytes);
        let j = super::jobs::Job::spawn(label, move |p, c| {
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            crate::pipeline::series::run_series(&job, p, c).map_err(|e| e.to_string())?;
            super::jobs::load(out, overview, cache, p, c)
        });
        self.jobs.push((super::JobKind::Change, j));
    }
}
