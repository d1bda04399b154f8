//! `kizashi report`: the deformation report (PDF or HTML).

use anyhow::Result;
use kizashi::lang::Lang;
use kizashi::pipeline::report::{run_report, ReportJob};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The LAZ/LAS that `kizashi change` wrote (its .json sidecar names inputs and parameters).
    result: PathBuf,
    /// Output: REPORT.pdf (printed by Chromium) or REPORT.html.
    #[arg(short, long)]
    output: PathBuf,
    /// DEM of difference from `kizashi dod`: its volumes and hillshade.
    #[arg(long)]
    dod: Option<PathBuf>,
    /// Change objects GeoJSON (default: computed from the result as `kizashi objects`).
    #[arg(long)]
    objects: Option<PathBuf>,
    /// Orthophoto under the map (default: a hillshade).
    #[arg(long)]
    ortho: Option<PathBuf>,
    /// ja or en (default: Japanese when the locale is ja, else English).
    #[arg(long)]
    lang: Option<String>,
    /// Site name on the title line (default: the result's file name).
    #[arg(long)]
    title: Option<String>,
    /// Smallest change object kept when they are computed from the result (m2; default:
    /// five cells of the core points' spacing).
    #[arg(long)]
    min_area: Option<f64>,
    #[arg(long)]
    json: bool,
}

/// A `--lang` value.
pub fn parse_lang(l: &str) -> Result<Lang> {
    Lang::parse(l).ok_or_else(|| anyhow::anyhow!("unknown language {l:?}: use ja or en"))
}

/// `--lang`, or the locale's language.
pub fn lang(l: &Option<String>) -> Result<Lang> {
    l.as_deref()
        .map(parse_lang)
        .unwrap_or_else(|| Ok(Lang::from_env()))
}

impl TryFrom<&Args> for ReportJob {
    type Error = anyhow::Error;
    fn try_from(a: &Args) -> Result<ReportJob> {
        Ok(ReportJob {
            result: a.result.clone(),
            dod: a.dod.clone(),
            objects: a.objects.clone(),
            ortho: a.ortho.clone(),
            lang: lang(&a.lang)?,
            output: a.output.clone(),
            title: a.title.clone(),
            min_area: a.min_area,
            command: None,
        })
    }
}

pub fn run(a: Args) -> Result<i32> {
    let job = ReportJob::try_from(&a)?;
    let cancel = super::cancel_on_ctrl_c();
    let bars = super::Bars::new(a.json);
    let outcome = run_report(&job, &bars, &cancel);
    drop(bars);
    let s = outcome?;
    if a.json {
        return super::print_json(&s).map(|_| 0);
    }
    print_summary(&s);
    Ok(0)
}

pub fn print_summary(s: &kizashi::pipeline::report::ReportSummary) {
    println!(
        "{} report ({} core points, {} significant, {} change objects) -> {}",
        s.method, s.core_points, s.significant, s.objects, s.output
    );
    for w in &s.warnings {
        eprintln!("warning: {w}");
    }
}
