//! `kizashi view` (and `kizashi` alone): the 3D viewer.

use super::change::MethodArg;
use anyhow::Result;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Point clouds (LAS/LAZ/COPC) and rasters (GeoTIFF orthophoto or DEM) to open.
    pub files: Vec<PathBuf>,
    /// Run change detection between the first two point clouds once they are loaded.
    #[arg(long, value_enum)]
    change: Option<MethodArg>,
    /// Save the window (3D view and panels) to this PNG once everything is drawn, then exit.
    #[arg(long)]
    pub screenshot: Option<PathBuf>,
    /// Also save the window at the first frame that shows points (a large file: its overview,
    /// drawn while the rest is read).
    #[arg(long)]
    pub first_screenshot: Option<PathBuf>,
    /// Files of more points than this show an overview of about as many at once, refined
    /// while the rest is read (0: read every file whole first).
    #[arg(long, default_value_t = kizashi::io::las::OVERVIEW_POINTS)]
    pub overview_points: u64,
    /// Memory for the points of a COPC file, in MB: a COPC file that would take more is read
    /// node by node as the view needs it (least recently used nodes dropped), never whole.
    #[arg(long, default_value_t = 2048)]
    pub cache_mb: u64,
    /// Frames to render (and time) before the screenshot.
    #[arg(long, default_value_t = 5)]
    pub frames: u32,
    /// Write what was shown (layers, errors, result, points drawn, frame times) as JSON, then exit.
    #[arg(long)]
    stats: Option<PathBuf>,
    /// Interface language (default: Japanese when the locale is ja, else English).
    #[arg(long)]
    lang: Option<String>,
    /// Points drawn per frame over all layers.
    #[arg(long)]
    pub budget: Option<usize>,
    /// Window size, WIDTHxHEIGHT.
    #[arg(long, default_value = "1280x800")]
    pub size: String,
    /// Initial colour of point clouds: rgb, elevation, intensity, classification.
    #[arg(long)]
    colour: Option<String>,
    /// Open a cross-section between two points (data CRS): x1,y1,x2,y2.
    #[arg(long, value_delimiter = ',', num_args = 1, allow_hyphen_values = true)]
    profile: Option<Vec<f64>>,
    /// Once loaded (after --change when given), export through the viewer's own buttons:
    /// REPORT.pdf|.html, OBJECTS.geojson, DOD.tif (these after --change), SESSION.toml, or
    /// NAME.copc.laz (the first cloud's file as COPC); repeatable, for scripted runs and tests.
    #[arg(long)]
    export: Vec<PathBuf>,
    /// Run the monitoring series over the epochs once loaded (the series panel's button).
    #[arg(long)]
    run_series: bool,
    /// Classify ground on every epoch once loaded (the layer's "classify ground" button).
    #[arg(long)]
    classify_ground: bool,
    /// With --change: compare ground points only (the change panel's checkbox).
    #[arg(long)]
    ground_only: bool,
    /// A series result: show the displacement at this epoch (0 = the first).
    #[arg(long)]
    series_epoch: Option<usize>,
    /// Pick the point nearest x,y (data CRS) as a click would (a series: its plot).
    #[arg(long, value_delimiter = ',', num_args = 1, allow_hyphen_values = true)]
    pick: Option<Vec<f64>>,
    /// The view the data is first framed in: oblique (default), top or side.
    #[arg(long, default_value = "oblique", value_parser = ["oblique", "top", "side"])]
    view: String,
    /// Scripted runs (--screenshot/--stats) fail after this many seconds.
    #[arg(long, default_value_t = 900.0)]
    pub timeout: f64,
}

/// `kizashi` alone: the viewer with exactly `kizashi view`'s defaults (clap's, not a copy).
pub fn defaults() -> Args {
    use clap::Parser;
    match super::Cli::parse_from(["kizashi", "view"]).command {
        Some(super::Command::View(a)) => a,
        _ => unreachable!("`view` parses"),
    }
}

#[cfg(feature = "gui")]
pub fn run(a: Args) -> Result<i32> {
    use kizashi::app::ViewOptions;
    let lang = a
        .lang
        .as_deref()
        .map(super::report::parse_lang)
        .transpose()?;
    let size = a
        .size
        .split_once(['x', 'X'])
        .and_then(|(w, h)| Some((w.trim().parse::<u32>().ok()?, h.trim().parse::<u32>().ok()?)))
        .filter(|&(w, h)| (320..=8192).contains(&w) && (240..=8192).contains(&h))
        .ok_or_else(|| {
            anyhow::anyhow!("--size {:?}: expected WIDTHxHEIGHT, e.g. 1280x800", a.size)
        })?;
    if let Some(c) = &a.colour {
        if !["rgb", "elevation", "intensity", "classification"].contains(&c.as_str()) {
            anyhow::bail!("--colour {c:?}: use rgb, elevation, intensity or classification");
        }
    }
    let profile = match &a.profile {
        Some(v) if v.len() == 4 && v.iter().all(|x| x.is_finite()) => {
            Some([v[0], v[1], v[2], v[3]])
        }
        Some(v) => anyhow::bail!("--profile needs four numbers x1,y1,x2,y2, got {v:?}"),
        None => None,
    };
    let pick = match &a.pick {
        Some(v) if v.len() == 2 && v.iter().all(|x| x.is_finite()) => Some([v[0], v[1]]),
        Some(v) => anyhow::bail!("--pick needs two numbers x,y, got {v:?}"),
        None => None,
    };
    let opts = ViewOptions {
        files: a.files,
        change: a.change.map(Into::into),
        screenshot: a.screenshot,
        first_screenshot: a.first_screenshot,
        overview_points: Some(a.overview_points),
        cache_bytes: Some(
            usize::try_from(a.cache_mb.saturating_mul(1 << 20)).unwrap_or(usize::MAX),
        ),
        frames: a.frames,
        stats: a.stats,
        lang,
        budget: a.budget,
        size,
        timeout_s: a.timeout,
        colour: a.colour,
        profile,
        export: a.export,
        run_series: a.run_series,
        classify_ground: a.classify_ground,
        ground_only: a.ground_only,
        series_epoch: a.series_epoch,
        pick,
        start_view: Some(match a.view.as_str() {
            "top" => kizashi::app::camera::Preset::Top,
            "side" => kizashi::app::camera::Preset::Side,
            _ => kizashi::app::camera::Preset::Reset,
        }),
    };
    kizashi::app::run(opts)?;
    Ok(0)
}

#[cfg(not(feature = "gui"))]
pub fn run(_: Args) -> Result<i32> {
    eprintln!(
        "kizashi: this build has no viewer (built without the `gui` feature); try `kizashi --help`"
    );
    Ok(2)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    /// `kizashi` alone opens the viewer with exactly the defaults of `kizashi view`.
    #[test]
    fn no_subcommand_means_view_with_its_defaults() {
        let Some(super::super::Command::View(parsed)) =
            super::super::Cli::parse_from(["kizashi", "view"]).command
        else {
            panic!("view")
        };
        let d = super::defaults();
        assert_eq!(
            (parsed.frames, parsed.size.as_str(), parsed.timeout),
            (d.frames, d.size.as_str(), d.timeout)
        );
        assert!(parsed.files.is_empty() && parsed.screenshot.is_none() && parsed.budget.is_none());
        assert!(super::super::Cli::parse_from(["kizashi"]).command.is_none());
    }
}
