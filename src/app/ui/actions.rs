//! The commands the panels emit: change detection and the exports, each built as a pipeline
//! job and run in the background (the same jobs as the CLI).

use super::*;

/// The panel's parameters from epoch 1's point density, by the pipeline's one rule (the same
/// numbers `kizashi change` derives when given none).
pub fn defaults_from_density(v: &mut Viewer) {
    let Some(d) = v
        .change
        .e1
        .and_then(|id| v.layer(id))
        .and_then(|l| l.cloud())
        .map(|c| crate::pipeline::params::derive(c.file_spacing()))
    else {
        return;
    };
    v.change.cyl_radius = d.cyl_radius;
    v.change.normal_radii = d
        .normal_radii
        .iter()
        .map(|r| r.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    v.change.max_distance = d.max_distance;
    v.change.core_spacing = d.core_spacing;
    v.change.dod_cell = d.dod_cell;
    if let Some(job) = &v.change.session {
        let m = &job.m3c2;
        v.change.method = job.method;
        v.change.cyl_radius = m.cyl_radius.unwrap_or(v.change.cyl_radius);
        if let Some(r) = &m.normal_radii {
            v.change.normal_radii = r
                .iter()
                .map(|r| r.to_string())
                .collect::<Vec<_>>()
                .join(", ");
        }
        v.change.max_distance = m.max_distance.unwrap_or(v.change.max_distance);
        v.change.registration_error = m.registration_error;
        v.change.robust = m.robust;
        if let Some(crate::pipeline::change::Cores::Spacing(s)) = job.cores {
            v.change.core_spacing = s;
        }
    }
    v.change.defaults_for = v.change.e1.zip(v.change.e2);
}

/// The change panel's values (the radii field parsed).
fn panel(v: &Viewer) -> Result<change::Panel, String> {
    let radii: Result<Vec<f64>, _> = v
        .change
        .normal_radii
        .split([',', ' ', ';'])
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse::<f64>())
        .collect();
    let normal_radii =
        radii.map_err(|_| format!("{}: {}", S::NormalRadii.t(v.lang), v.change.normal_radii))?;
    Ok(change::Panel {
        method: v.change.method,
        cyl_radius: v.change.cyl_radius,
        normal_radii,
        max_distance: v.change.max_distance,
        registration_error: v.change.registration_error,
        robust: v.change.robust,
        core_spacing: v.change.core_spacing,
    })
}

/// The files of the two chosen epochs (jobs that read them again: DoD, saved sessions).
fn saved_epochs(v: &Viewer) -> Result<(std::path::PathBuf, std::path::PathBuf), String> {
    let (Some(a), Some(b)) = (v.change.e1, v.change.e2) else {
        return Err(S::NeedTwoEpochs.t(v.lang).into());
    };
    let file = |id: u32| {
        v.layer(id)
            .and_then(|l| l.path.clone())
            .filter(|p| p.is_file())
    };
    match (file(a), file(b)) {
        (Some(e1), Some(e2)) => Ok((e1, e2)),
        _ => Err(S::NeedSavedEpochs.t(v.lang).into()),
    }
}

/// The first orthophoto layer's file (under the report's map, in a saved session).
fn first_ortho(v: &Viewer) -> Option<std::path::PathBuf> {
    v.layers.iter().find_map(|l| match &l.kind {
        LayerKind::Raster(r) if !r.is_dem => l.path.clone(),
        _ => None,
    })
}

/// "Save session as job file": the panel's job, its DoD cell, the first orthophoto layer.
pub fn save_session(v: &mut Viewer, path: std::path::PathBuf) -> Result<(), String> {
    let (e1, e2) = saved_epochs(v)?;
    let job = panel(v)?.job(e1, e2);
    let ortho = first_ortho(v);
    crate::pipeline::site::save_session(&path, &job, v.change.dod_cell, ortho.as_deref(), v.lang)
        .map_err(|e| e.to_string())?;
    v.notices
        .push(format!("{}: {}", S::Saved.t(v.lang), path.display()));
    Ok(())
}

/// Starts change detection between the panel's two epochs (the same pipeline as the CLI).
pub fn start_change(v: &mut Viewer) -> Result<(), String> {
    let lang = v.lang;
    let (Some(a), Some(b)) = (v.change.e1, v.change.e2) else {
        return Err(S::NeedTwoEpochs.t(lang).into());
    };
    if a == b {
        return Err(S::NeedTwoEpochs.t(lang).into());
    }
    // A layer read on demand holds what the view needs: the job reads its file.
    let get = |id: u32| {
        v.layer(id).and_then(|l| {
            l.cloud().map(|c| {
                (
                    (!l.on_demand()).then(|| c.cloud.clone()),
                    l.path.clone().unwrap_or_else(|| l.name.clone().into()),
                )
            })
        })
    };
    let (Some((c1, p1)), Some((c2, p2))) = (get(a), get(b)) else {
        return Err(S::NeedTwoEpochs.t(lang).into());
    };
    // An overview is a sample: change detection waits for every point.
    if [a, b]
        .iter()
        .any(|&id| v.layer(id).is_some_and(|l| !l.complete() && !l.on_demand()))
    {
        return Err(S::StillLoading.t(lang).into());
    }
    let (f1, f2) = (p1.clone(), p2.clone());
    let job = panel(v)?.job(p1, p2);
    change::validate_job(&job).map_err(|e| e.to_string())?;
    let register = v
        .change
        .register
        .then_some(if v.change.register_heading_only {
            crate::analysis::icp::Rotation::Vertical
        } else {
            crate::analysis::icp::Rotation::Full
        });
    let label = format!(
        "{} ({})",
        S::ChangeDetection.t(lang),
        if job.method == Method::M3c2 {
            "M3C2"
        } else {
            "C2C"
        }
    );
    let ground_only = v.change.ground_only;
    let j = jobs::Job::spawn(label, move |p, cancel| {
        let mut notes = Vec::new();
        let read = |held: Option<std::sync::Arc<crate::cloud::PointCloud>>,
                    file: &std::path::Path| {
            match held {
                Some(c) => Ok(c),
                None => crate::pipeline::load_epoch(file, jobs::VIEW_FIELDS, p, cancel)
                    .map(|l| std::sync::Arc::new(l.cloud))
                    .map_err(|e| e.to_string()),
            }
        };
        let (c1, c2) = (read(c1, &f1)?, read(c2, &f2)?);
        let (c1, c2) = if ground_only {
            p.set_step("ground");
            let g = |c: &crate::cloud::PointCloud, n: &str, w: &mut Vec<String>| {
                std::sync::Arc::new(crate::pipeline::classify::ground_only(c, n, true, w))
            };
            (g(&c1, "epoch 1", &mut notes), g(&c2, "epoch 2", &mut notes))
        } else {
            (c1, c2)
        };
        p.set_step("ICP");
        let (mut outcome, registration) =
            change::run_change_registered(&job, &c1, &c2, register, p, cancel)
                .map_err(|e| e.to_string())?;
        outcome.summary.warnings.extend(notes);
        Ok(jobs::Output::Change {
            outcome: Box::new(outcome),
            registration,
        })
    });
    v.jobs.push((JobKind::Change, j));
    Ok(())
}

pub fn save_result(v: &mut Viewer, id: u32, path: std::path::PathBuf) {
    let Some((cloud, summary)) = v
        .layer(id)
        .and_then(|l| l.cloud())
        .and_then(|c| c.summary.clone().map(|s| (c.cloud.clone(), s)))
    else {
        return;
    };
    let label = format!("{} {}", S::SaveResult.t(v.lang), path.display());
    let j = jobs::Job::spawn(label, move |p, _| {
        p.set_step("write");
        change::write_result(&path, &cloud, &summary).map_err(|e| e.to_string())?;
        Ok(jobs::Output::Saved { path })
    });
    v.jobs.push((JobKind::Save, j));
}

/// 3D Tiles of a cloud layer (through `export::tiles3d`, as `kizashi export tiles`), with
/// every scalar field as a property attribute (a result's deformation first).
pub fn export_tiles(v: &mut Viewer, id: u32, dir: std::path::PathBuf) {
    let Some(l) = v.layer(id) else { return };
    // A layer read on demand is exported from its file, as `kizashi export tiles` does.
    if let (true, Some(input)) = (l.on_demand(), l.path.clone()) {
        let attributes = l
            .cloud()
            .map(|c| c.cloud.scalars.iter().map(|s| s.name.clone()).collect())
            .unwrap_or_default();
        let label = format!("{} {}", S::ExportTiles.t(v.lang), dir.display());
        let j = jobs::Job::spawn(label, move |p, cancel| {
            let defaults = crate::export::tiles3d::Options::default();
            let job = crate::pipeline::tiles::TilesJob {
                input,
                output: dir.clone(),
                attributes,
                geoid_offset: defaults.geoid_offset,
                geoid: defaults.geoid,
                max_points_per_tile: defaults.max_points_per_tile,
                overwrite: defaults.overwrite,
                tile: false,
            };
            crate::pipeline::tiles::run_tiles(&job, p, cancel).map_err(|e| e.to_string())?;
            Ok(jobs::Output::Saved {
                path: crate::export::tiles3d::tileset_path(&dir),
            })
        });
        v.jobs.push((JobKind::Export, j));
        return;
    }
    if let Some(why) = l.whole_cloud_missing() {
        v.errors.push(why.t(v.lang).into());
        return;
    }
    let Some(c) = l.cloud() else { return };
    let cloud = c.cloud.clone();
    let mut attributes: Vec<String> = cloud.scalars.iter().map(|s| s.name.clone()).collect();
    if let ColourMode::Deformation { field, .. } = &c.mode {
        attributes.retain(|a| a != field);
        attributes.insert(0, field.clone());
    }
    let sources = vec![l
        .path
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| l.name.clone())];
    let label = format!("{} {}", S::ExportTiles.t(v.lang), dir.display());
    let j = jobs::Job::spawn(label, move |p, _| {
        p.set_step("3D Tiles");
        let opts = crate::export::tiles3d::Options {
            attributes,
            sources,
            ..Default::default()
        };
        crate::export::tiles3d::write_tileset(&cloud, &dir, &opts).map_err(|e| e.to_string())?;
        Ok(jobs::Output::Saved {
            path: crate::export::tiles3d::tileset_path(&dir),
        })
    });
    v.jobs.push((JobKind::Export, j));
}

/// A layer's file rewritten as COPC (`kizashi export copc`), in the background.
pub fn export_copc(v: &mut Viewer, id: u32, output: std::path::PathBuf) {
    let Some(input) = v.layer(id).and_then(|l| l.path.clone()) else {
        return;
    };
    let label = format!("{} {}", S::ExportCopc.t(v.lang), output.display());
    let j = jobs::Job::spawn(label, move |p, cancel| {
        let job = crate::pipeline::copc::CopcJob {
            input,
            output: output.clone(),
            leaf_points: None,
        };
        crate::pipeline::copc::run_copc(&job, p, cancel).map_err(|e| e.to_string())?;
        Ok(jobs::Output::Saved { path: output })
    });
    v.jobs.push((JobKind::Export, j));
}

/// Change objects of a result layer (as `kizashi objects`), GeoJSON in the data CRS.
pub fn export_objects(v: &mut Viewer, id: u32, path: std::path::PathBuf) {
    let Some(l) = v.layer(id) else { return };
    let Some(c) = l.cloud() else { return };
    let cloud = c.cloud.clone();
    let result = l.path.clone().unwrap_or_else(|| l.name.clone().into());
    let label = format!("{} {}", S::ExportObjects.t(v.lang), path.display());
    let j = jobs::Job::spawn(label, move |p, _| {
        p.set_step("objects");
        let job = crate::pipeline::objects::ObjectsJob {
            result,
            cell: None,
            min_area: 0.0,
            output: path.clone(),
            wgs84: false,
        };
        crate::pipeline::objects::objects_of(&cloud, &job).map_err(|e| e.to_string())?;
        Ok(jobs::Output::Saved { path })
    });
    v.jobs.push((JobKind::Export, j));
}

/// The deformation report of a result layer (as `kizashi report`), in the viewer's language,
/// over the first orthophoto layer when there is one. A result computed in the viewer is
/// saved beside the report first: the report names its file and hash.
pub fn export_report(v: &mut Viewer, id: u32, path: std::path::PathBuf) {
    let Some(l) = v.layer(id) else { return };
    let Some(c) = l.cloud() else { return };
    let (cloud, summary, saved) = (
        c.cloud.clone(),
        c.summary.clone(),
        l.path.clone().filter(|p| p.is_file()),
    );
    let ortho = first_ortho(v);
    let lang = v.lang;
    let label = format!("{} {}", S::ExportReport.t(lang), path.display());
    let not_a_result = S::NotAResult.t(lang);
    let j = jobs::Job::spawn(label, move |p, cancel| {
        let result = match (saved, summary) {
            (Some(r), _) => r,
            (None, Some(s)) => {
                p.set_step("write");
                let r = path.with_extension("laz");
                change::write_result(&r, &cloud, &s).map_err(|e| e.to_string())?;
                r
            }
            (None, None) => return Err(not_a_result.into()),
        };
        let job = crate::pipeline::report::ReportJob {
            result,
            dod: None,
            objects: None,
            ortho,
            lang,
            output: path.clone(),
            title: None,
            min_area: None,
            command: Some("kizashi view (report from the viewer)".into()),
        };
        crate::pipeline::report::run_report(&job, p, cancel).map_err(|e| e.to_string())?;
        Ok(jobs::Output::Saved { path })
    });
    v.jobs.push((JobKind::Export, j));
}

/// DEM of difference of the two chosen epochs (as `kizashi dod`) with its change objects
/// beside it (`DOD.geojson`); the epochs are read again from their files.
pub fn export_dod(v: &mut Viewer, path: std::path::PathBuf) -> Result<(), String> {
    let lang = v.lang;
    let (e1, e2) = saved_epochs(v)?;
    let job = crate::pipeline::dod::DodJob {
        epoch1: e1,
        epoch2: e2,
        cell: Some(v.change.dod_cell),
        stat: crate::analysis::dod::Stat::Mean,
        ground: false,
        registration_error: v.change.registration_error,
        objects: Some(path.with_extension("geojson")),
        output: path.clone(),
        min_area: 0.0,
        wgs84: false,
        area: None,
        heights: Default::default(),
        coregister: None,
    };
    let label = format!("{} {}", S::ExportDod.t(lang), path.display());
    let j = jobs::Job::spawn(label, move |p, cancel| {
        crate::pipeline::dod::run_dod(&job, p, cancel).map_err(|e| e.to_string())?;
        Ok(jobs::Output::Saved { path })
    });
    v.jobs.push((JobKind::Export, j));
    Ok(())
}
