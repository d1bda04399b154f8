//! CloudCompare's M3C2 parameter file (qM3C2 "Save parameters": a Qt INI with `M3C2VER`), read
//! into our parameters. CloudCompare's scales are diameters (NormalScale, NormalMinScale,
//! NormalStep, NormalMaxScale, SearchScale); SearchDepth is already the cylinder's half-height.

use super::change::Cores;
use super::{PipelineError, Result};
use crate::analysis::m3c2;
use crate::analysis::normals::Orientation;
use std::collections::HashMap;

#[derive(Debug)]
pub struct CcParams {
    pub params: m3c2::Params,
    /// From SubsampleEnabled / SubsampleRadius (CloudCompare subsamples core points by a
    /// minimum distance; our nearest equivalent is one core point per cube of that size).
    pub cores: Option<Cores>,
    pub warnings: Vec<String>,
}

fn bad(msg: impl Into<String>) -> PipelineError {
    PipelineError::Invalid(format!("CloudCompare M3C2 parameters: {}", msg.into()))
}

pub fn parse(text: &str) -> Result<CcParams> {
    // Keys of every section (qM3C2 writes them under [General]).
    let kv: HashMap<String, String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with(['#', ';', '[']))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('"').to_string()))
        .collect();
    if !kv.contains_key("M3C2VER") {
        return Err(bad("not a qM3C2 parameter file ('M3C2VER' not found)"));
    }
    let num = |k: &str| -> Result<Option<f64>> {
        match kv.get(k) {
            None => Ok(None),
            Some(v) => v
                .parse::<f64>()
                .map(Some)
                .map_err(|_| bad(format!("{k}={v} is not a number"))),
        }
    };
    let flag = |k: &str| {
        kv.get(k)
            .map(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1"))
    };
    let mut p = m3c2::Params::default();
    let mut warnings = Vec::new();
    if let Some(d) = num("SearchScale")? {
        p.cyl_radius = d / 2.0;
    }
    if let Some(h) = num("SearchDepth")? {
        p.max_distance = h;
    }
    let mode = num("NormalMode")?.unwrap_or(0.0) as i64;
    p.normal_radii = match mode {
        0 => vec![num("NormalScale")?.ok_or_else(|| bad("NormalScale missing"))? / 2.0],
        2 => {
            let (lo, step, hi) = (num("NormalMinScale")?, num("NormalStep")?, num("NormalMaxScale")?);
            let (Some(lo), Some(step), Some(hi)) = (lo, step, hi) else { return Err(bad("multi-scale normals need NormalMinScale, NormalStep and NormalMaxScale")) };
            if !(lo > 0.0 && step > 0.0 && hi >= lo) {
                return Err(bad(format!("multi-scale normals from {lo} by {step} to {hi}")));
            }
            let mut r = Vec::new();
            let mut d = lo;
            while d <= hi * (1.0 + 1e-9) && r.len() < 100 {
                r.push(d / 2.0);
                d += step;
            }
            r
        }
        1 | 5 => return Err(bad("normals taken from cloud #1 or the core points are not supported; compute them (NormalMode 0 or 2)")),
        3 | 4 => return Err(bad("vertical or horizontal normals (NormalMode 3/4) are not supported")),
        m => return Err(bad(format!("unknown NormalMode {m}"))),
    };
    if let Some(o) = num("NormalPreferedOri")? {
        let o = o as i64;
        p.orientation = match o {
            0..=5 => {
                let mut v = [0.0; 3];
                v[(o / 2) as usize] = if o % 2 == 0 { 1.0 } else { -1.0 };
                Orientation::Vector(v)
            }
            _ => return Err(bad(format!("NormalPreferedOri {o} (barycentre / origin / previous normal) is not supported; use an axis"))),
        };
    }
    if flag("RegistrationErrorEnabled") == Some(true) {
        p.registration_error = num("RegistrationError")?.unwrap_or(0.0);
    }
    if flag("UseMedian") == Some(true) {
        p.robust = true;
    }
    if flag("UseMin") == Some(true) || flag("UsePrctile") == Some(true) {
        return Err(bad(
            "distance by minimum or percentiles is not supported (UseMean or UseMedian)",
        ));
    }
    if flag("PositiveSearchOnly") == Some(true) {
        warnings.push("PositiveSearchOnly is ignored: the cylinder extends both ways".into());
    }
    if flag("UseMinPoints4Stat") == Some(true) {
        warnings.push(format!(
            "MinPoints4Stat={} is ignored: statistics use every point in the cylinder, as py4dgeo",
            kv.get("MinPoints4Stat").map(String::as_str).unwrap_or("?")
        ));
    }
    let cores = if flag("SubsampleEnabled") == Some(true) {
        num("SubsampleRadius")?.map(Cores::Spacing)
    } else {
        None
    };
    p.validate().map_err(|e| bad(e.to_string()))?;
    Ok(CcParams {
        params: p,
        cores,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "[General]\nM3C2VER=1\nNormalScale=2\nNormalMode=2\nNormalMinScale=1\nNormalStep=1\nNormalMaxScale=4\n\
NormalUseCorePoints=false\nNormalPreferedOri=4\nSearchScale=2\nSearchDepth=3\nSubsampleRadius=0.5\nSubsampleEnabled=true\n\
RegistrationError=0.02\nRegistrationErrorEnabled=true\nUseSinglePass4Depth=false\nPositiveSearchOnly=false\nUseMean=false\n\
UseMedian=true\nUseMin=false\nUsePrctile=false\nUseMinPoints4Stat=false\nMinPoints4Stat=5\nMaxThreadCount=8\n";

    #[test]
    fn diameters_become_radii() {
        let c = parse(FILE).unwrap();
        assert_eq!(c.params.cyl_radius, 1.0);
        assert_eq!(c.params.max_distance, 3.0);
        assert_eq!(c.params.normal_radii, vec![0.5, 1.0, 1.5, 2.0]);
        assert_eq!(c.params.registration_error, 0.02);
        assert!(c.params.robust);
        assert!(matches!(c.params.orientation, Orientation::Vector(v) if v == [0.0, 0.0, 1.0]));
        assert_eq!(c.cores, Some(Cores::Spacing(0.5)));
        assert!(c.warnings.is_empty());
        let single = parse(
            &FILE
                .replace("NormalMode=2", "NormalMode=0")
                .replace("NormalPreferedOri=4", "NormalPreferedOri=1"),
        )
        .unwrap();
        assert_eq!(single.params.normal_radii, vec![1.0]);
        assert!(
            matches!(single.params.orientation, Orientation::Vector(v) if v == [-1.0, 0.0, 0.0])
        );
    }

    #[test]
    fn unsupported_or_broken_files_are_refused() {
        assert!(parse("[General]\nNormalScale=1\n")
            .unwrap_err()
            .to_string()
            .contains("M3C2VER"));
        assert!(parse(&FILE.replace("NormalMode=2", "NormalMode=3")).is_err());
        assert!(parse(&FILE.replace("UseMin=false", "UseMin=true")).is_err());
        assert!(parse(&FILE.replace("SearchScale=2", "SearchScale=abc"))
            .unwrap_err()
            .to_string()
            .contains("SearchScale=abc"));
        assert!(parse(&FILE.replace("NormalPreferedOri=4", "NormalPreferedOri=7")).is_err());
        assert!(parse(&FILE.replace("SearchScale=2", "SearchScale=-2")).is_err());
        let w = parse(&FILE.replace("UseMinPoints4Stat=false", "UseMinPoints4Stat=true")).unwrap();
        assert_eq!(w.warnings.len(), 1);
    }
}
