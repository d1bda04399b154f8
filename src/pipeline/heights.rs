//! The height systems of a pair of epochs: each epoch's from the job, from its CRS (a compound
//! CRS with a vertical datum) or, when the job asks, from its survey date (before or after
//! Japan's revision of 2025-04-01). When both are known and differ, epoch 2's heights are
//! converted into epoch 1's system point by point before anything is compared; when either is
//! unknown and the survey dates straddle the revision, a warning names the false change to
//! expect at the site.

use super::Result;
use crate::cloud::{Crs, PointCloud};
use crate::io::geoid::{revision_date, Conversion, HeightSystem};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// What a job says about heights (`[heights]` in job files; `--heights1/2`,
/// `--heights-by-date` on the command line).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Heights {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epoch1: Option<HeightSystem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epoch2: Option<HeightSystem>,
    /// An epoch whose system neither the job nor its CRS gives takes the Japanese system in
    /// force on its survey date.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub by_date: bool,
    /// Survey dates from the job file; they take precedence over the files' creation dates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date1: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date2: Option<NaiveDate>,
}

impl Heights {
    pub fn is_default(&self) -> bool {
        *self == Heights::default()
    }
}

/// One epoch as the height rules see it.
pub struct EpochHeights<'a> {
    pub crs: Option<&'a Crs>,
    pub date: Option<NaiveDate>,
    /// [xmin, ymin, xmax, ymax] in the epoch's CRS.
    pub bounds: [f64; 4],
}

/// What was decided, for the summary and the report.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HeightsNote {
    /// Each epoch's system and where it came from ("job", "crs", "survey date 2024-10-01").
    pub epoch1: Option<String>,
    pub epoch2: Option<String>,
    /// Epoch 2's heights were converted into epoch 1's system.
    pub converted: bool,
    /// Metres added to epoch 2's heights (mean over the area) by the conversion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_shift_m: Option<f64>,
}

fn system(
    given: Option<HeightSystem>,
    e: &EpochHeights,
    by_date: bool,
) -> Option<(HeightSystem, String)> {
    if let Some(s) = given {
        return Some((s, "job".into()));
    }
    if let Some(s) = e.crs.and_then(HeightSystem::from_crs) {
        return Some((s, "crs".into()));
    }
    if by_date {
        return e
            .date
            .map(|d| (HeightSystem::on(d), format!("survey date {d}")));
    }
    None
}

/// Decides both epochs' systems; returns the conversion of epoch 2's heights into epoch 1's
/// system when they differ (`None` when nothing is to be done), built over `at` (a CRS and
/// [xmin, ymin, xmax, ymax] in it: where epoch 2's heights will be converted; epoch 2's own
/// when `None`), the note, and warnings.
pub fn resolve(
    job: &Heights,
    e1: &EpochHeights,
    e2: &EpochHeights,
    at: Option<(&Crs, [f64; 4])>,
    warnings: &mut Vec<String>,
) -> Result<(Option<Conversion>, HeightsNote)> {
    let s1 = system(job.epoch1, e1, job.by_date);
    let s2 = system(job.epoch2, e2, job.by_date);
    let mut note = HeightsNote {
        epoch1: s1.as_ref().map(|(s, w)| format!("{} ({w})", s.name())),
        epoch2: s2.as_ref().map(|(s, w)| format!("{} ({w})", s.name())),
        ..Default::default()
    };
    match (s1, s2) {
        (Some((a, _)), Some((b, _))) if a != b => {
            let Some((crs, bounds)) = at.or(e2.crs.or(e1.crs).map(|c| (c, e2.bounds))) else {
                return Err(super::PipelineError::Invalid(format!(
                    "epoch 1 is in {} heights and epoch 2 in {}: converting needs a CRS, and \
                     neither epoch has one",
                    a.name(),
                    b.name()
                )));
            };
            let c = Conversion::new(b, a, crs, bounds)?;
            note.converted = true;
            note.mean_shift_m = Some(c.mean());
            warnings.push(format!(
                "heights: epoch 2 converted from {} to epoch 1's {} ({:+.3} m on average here)",
                b.name(),
                a.name(),
                c.mean()
            ));
            Ok((Some(c), note))
        }
        (Some(_), Some(_)) => Ok((None, note)),
        _ => {
            if let Some(w) = straddle_warning(e1, e2) {
                warnings.push(w);
            }
            Ok((None, note))
        }
    }
}

/// A pair of survey dates on either side of 2025-04-01 whose height systems are not both
/// known: the size of the false change GNSS heights would show at the site.
fn straddle_warning(e1: &EpochHeights, e2: &EpochHeights) -> Option<String> {
    let (d1, d2) = (e1.date?, e2.date?);
    let r = revision_date();
    if (d1 < r) == (d2 < r) {
        return None;
    }
    let crs = e1.crs.or(e2.crs)?;
    let b = e1.bounds;
    let c = Conversion::new(
        HeightSystem::Jpgeo2024,
        HeightSystem::Gsigeo2011,
        crs,
        [b[0], b[1], b[2], b[3]],
    )
    .ok()?;
    // JPGEO2024 + Hrefconv2024 minus GSIGEO2011 at the site.
    let offset = c.mean();
    Some(format!(
        "heights: the epochs were surveyed on {d1} and {d2}, on either side of Japan's height \
         revision of 2025-04-01, and their height systems are not known: a survey heighted with \
         the new geoid (JPGEO2024 + Hrefconv2024) reads {:.3} m {} here than one heighted with \
         GSIGEO2011 where nothing moved. Say each epoch's system ([heights] epoch1/epoch2 = \
         \"gsigeo2011\" | \"jpgeo2024\" | \"ellipsoidal\", or by_date = true; --heights1, \
         --heights2, --heights-by-date)",
        offset.abs(),
        if offset > 0.0 { "lower" } else { "higher" }
    ))
}

/// Puts epoch 2's heights into epoch 1's height system (`super::heights`).
pub fn convert(
    heights: &Heights,
    e1: &PointCloud,
    e2: &mut PointCloud,
    dates: [Option<chrono::NaiveDate>; 2],
    warnings: &mut Vec<String>,
) -> Result<HeightsNote> {
    fn epoch(c: &PointCloud, date: Option<NaiveDate>) -> EpochHeights<'_> {
        EpochHeights {
            crs: c.crs.as_ref(),
            date,
            bounds: xy_bounds(c),
        }
    }
    let (a, b) = (
        epoch(e1, heights.date1.or(dates[0])),
        epoch(e2, heights.date2.or(dates[1])),
    );
    let (conv, note) = resolve(heights, &a, &b, None, warnings)?;
    if let Some(c) = conv {
        apply(&c, e2);
    }
    Ok(note)
}

/// Adds the conversion to every point's height.
pub fn apply(c: &Conversion, cloud: &mut PointCloud) {
    use rayon::prelude::*;
    let o = cloud.origin;
    cloud.positions.par_iter_mut().for_each(|p| {
        let (x, y) = (f64::from(p[0]) + o[0], f64::from(p[1]) + o[1]);
        p[2] = (f64::from(p[2]) + c.at(x, y)) as f32;
    });
}

/// The xy bounds of a cloud.
pub fn xy_bounds(c: &PointCloud) -> [f64; 4] {
    let b = c.bounds();
    [b.min[0], b.min[1], b.max[0], b.max[1]]
}
