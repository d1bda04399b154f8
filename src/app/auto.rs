//! Scripted runs (`--screenshot`, `--stats`, `--change`): load, optionally run change
//! detection through the same code path as the panel's Run button, wait until every pipeline
//! is compiled and every wanted node is drawn, measure N frames, save the window, write what
//! was shown as JSON, exit. Tests and the viewer benchmark use this.

use super::{ui, JobKind, LayerKind, PipelinesReady, ViewOptions, Viewer};
use crate::pipeline::change::Method;
use bevy::prelude::*;
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The process's result: set when a scripted run fails (the window closes either way).
#[derive(Resource, Clone, Default)]
pub struct ExitCode(Arc<Mutex<Option<String>>>);

impl ExitCode {
    pub fn fail(&self, why: String) {
        if let Ok(mut e) = self.0.lock() {
            e.get_or_insert(why);
        }
    }
    pub fn result(&self) -> anyhow::Result<()> {
        match self.0.lock().ok().and_then(|e| e.clone()) {
            Some(why) => Err(anyhow::anyhow!(why)),
            None => Ok(()),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Loading,
    Changing,
    Settling,
    Measuring,
    Capturing,
    Done,
}

#[derive(Resource)]
pub struct Auto {
    screenshot: Option<PathBuf>,
    stats: Option<PathBuf>,
    change: Option<Method>,
    frames: u32,
    timeout_s: f64,
    stage: Stage,
    started: Instant,
    settled: u32,
    frame_ms: Vec<f32>,
    drawn: Vec<usize>,
    saved: Arc<Mutex<Option<Result<(), String>>>>,
    first_screenshot: Option<PathBuf>,
    first_saved: Arc<Mutex<Option<Result<(), String>>>>,
    /// The first frame drawn at all (the window is up), the first with points on screen
    /// (pipelines compiled), and the end of loading with every wanted node drawn.
    window_s: Option<f64>,
    /// Every pipeline compiled for the first time (the floor of the first frame).
    pipelines_s: Option<f64>,
    first_frame_s: Option<f64>,
    /// Points the cloud layers held at that first frame (an overview: fewer than the files').
    first_frame_points: Option<usize>,
    refined_s: Option<f64>,
    load_s: Option<f64>,
    change_s: Option<f64>,
    profile: Option<[f64; 4]>,
    export: Vec<PathBuf>,
    run_series: bool,
    classify_ground: bool,
    ground_only: bool,
}

impl Auto {
    pub fn new(o: &ViewOptions) -> Auto {
        Auto {
            screenshot: o.screenshot.clone(),
            stats: o.stats.clone(),
            change: o.change,
            frames: o.frames.max(1),
            timeout_s: o.timeout_s,
            stage: Stage::Loading,
            started: Instant::now(),
            settled: 0,
            frame_ms: Vec::new(),
            drawn: Vec::new(),
            saved: Arc::new(Mutex::new(None)),
            first_screenshot: o.first_screenshot.clone(),
            first_saved: Arc::new(Mutex::new(None)),
            window_s: None,
            pipelines_s: None,
            first_frame_s: None,
            first_frame_points: None,
            refined_s: None,
            load_s: None,
            change_s: None,
            profile: o.profile,
            export: o.export.clone(),
            run_series: o.run_series,
            classify_ground: o.classify_ground,
            ground_only: o.ground_only,
        }
    }

    pub fn active(&self) -> bool {
        self.screenshot.is_some() || self.stats.is_some()
    }
}

/// Saves the window to `path` when the frame is captured; `saved` says how it went.
fn capture(commands: &mut Commands, path: PathBuf, saved: Arc<Mutex<Option<Result<(), String>>>>) {
    commands
        .spawn(Screenshot::primary_window())
        .observe(move |shot: On<ScreenshotCaptured>| {
            let r = match shot.image.clone().try_into_dynamic() {
                Ok(img) => img
                    .to_rgb8()
                    .save(&path)
                    .map_err(|e| format!("{}: {e}", path.display())),
                Err(e) => Err(format!("screenshot: {e:?}")),
            };
            if let Ok(mut s) = saved.lock() {
                *s = Some(r);
            }
        });
}

#[allow(clippy::too_many_arguments)]
pub fn step(
    mut auto: ResMut<Auto>,
    mut viewer: ResMut<Viewer>,
    ready: Res<PipelinesReady>,
    time: Res<Time<Real>>,
    mut commands: Commands,
    exit_code: Res<ExitCode>,
    mut exit: MessageWriter<AppExit>,
    windows: Query<&Window>,
) {
    if !auto.active() || auto.stage == Stage::Done {
        return;
    }
    let elapsed = auto.started.elapsed().as_secs_f64();
    if elapsed > auto.timeout_s && auto.stage != Stage::Capturing {
        let why = format!("gave up after {:.0} s while {:?}", elapsed, auto.stage);
        write_stats(&auto, &viewer, &windows, Some(&why));
        exit_code.fail(why);
        auto.stage = Stage::Done;
        exit.write(AppExit::error());
        return;
    }
    if auto.window_s.is_none() && viewer.frame >= 1 {
        auto.window_s = Some(elapsed);
    }
    if auto.pipelines_s.is_none() && viewer.frame >= 1 && ready.0.load(Ordering::Relaxed) {
        auto.pipelines_s = Some(elapsed);
    }
    // Points on screen: some drawn, and no pipeline still compiling (those frames are black).
    if auto.first_frame_s.is_none() && viewer.points_drawn > 0 && ready.0.load(Ordering::Relaxed) {
        auto.first_frame_s = Some(elapsed);
        auto.first_frame_points = Some(
            viewer
                .layers
                .iter()
                .filter_map(|l| l.cloud())
                .map(|c| c.cloud.len())
                .sum(),
        );
        if let Some(path) = auto.first_screenshot.clone() {
            capture(&mut commands, path, auto.first_saved.clone());
        }
    }
    match auto.stage {
        Stage::Loading => {
            if !viewer.busy(JobKind::Load) {
                auto.load_s = Some(elapsed);
                if auto.classify_ground {
                    let epochs: Vec<u32> = viewer
                        .layers
                        .iter()
                        .filter(|l| l.is_epoch())
                        .map(|l| l.id)
                        .collect();
                    for id in epochs {
                        ui::start_classify(&mut viewer, id);
                    }
                }
                if let Some(m) = auto.change {
                    viewer.change.method = m;
                    viewer.change.ground_only = auto.ground_only;
                    ui::defaults_from_density(&mut viewer);
                    if let Err(e) = ui::start_change(&mut viewer) {
                        viewer.errors.push(e);
                    }
                    auto.stage = Stage::Changing;
                } else if auto.run_series {
                    viewer.start_series();
                    auto.stage = Stage::Changing;
                } else {
                    open_profile(&auto, &mut viewer);
                    // Exports that need no result (a session, a layer as COPC).
                    start_exports(&auto, &mut viewer);
                    auto.stage = Stage::Settling;
                }
            }
        }
        Stage::Changing => {
            if !viewer.busy(JobKind::Change) && !viewer.busy(JobKind::Load) {
                auto.change_s = Some(elapsed - auto.load_s.unwrap_or(0.0));
                open_profile(&auto, &mut viewer);
                start_exports(&auto, &mut viewer);
                auto.stage = Stage::Settling;
            }
        }
        Stage::Settling => {
            // Ready = nothing left to spawn and no pipeline compiling, three frames running
            // (a new mesh can queue a new pipeline the frame after it appears).
            let first_done = auto.first_screenshot.is_none()
                || auto.first_saved.lock().is_ok_and(|s| s.is_some());
            let ok = !viewer.lod_pending
                && viewer.jobs.is_empty()
                && !viewer.corridor.as_ref().is_some_and(|c| c.waiting())
                && ready.0.load(Ordering::Relaxed)
                && viewer.frame > 3
                && first_done;
            auto.settled = if ok { auto.settled + 1 } else { 0 };
            if auto.settled >= 3 {
                auto.refined_s = Some(elapsed);
                auto.stage = Stage::Measuring;
                viewer.auto_active = true;
            }
        }
        Stage::Measuring => {
            let ms = time.delta_secs() * 1000.0;
            auto.frame_ms.push(ms);
            auto.drawn.push(viewer.points_drawn);
            if auto.frame_ms.len() as u32 >= auto.frames {
                match auto.screenshot.clone() {
                    Some(path) => {
                        capture(&mut commands, path, auto.saved.clone());
                        auto.stage = Stage::Capturing;
                    }
                    None => finish(&mut auto, &viewer, &windows, &exit_code, &mut exit, None),
                }
            }
        }
        Stage::Capturing => {
            let first = auto.first_saved.lock().ok().and_then(|s| s.clone());
            let r = match (auto.saved.lock().ok().and_then(|s| s.clone()), first) {
                (Some(Ok(())), Some(Err(e))) => Some(Err(e)),
                (r, _) => r,
            };
            if let Some(r) = r {
                finish(&mut auto, &viewer, &windows, &exit_code, &mut exit, r.err());
            } else if elapsed > auto.timeout_s + 60.0 {
                finish(
                    &mut auto,
                    &viewer,
                    &windows,
                    &exit_code,
                    &mut exit,
                    Some("the screenshot never arrived".into()),
                );
            }
        }
        Stage::Done => {}
    }
}

/// `--export FILE...`: what the result panel's and change panel's export buttons do once a
/// file is chosen; Settling then waits for these jobs like any other.
fn start_exports(auto: &Auto, viewer: &mut Viewer) {
    let result = viewer
        .layers
        .iter()
        .find(|l| l.cloud().is_some_and(|c| c.summary.is_some()))
        .map(|l| l.id);
    for path in &auto.export {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or_default()
            .to_ascii_lowercase();
        match (ext.as_str(), result) {
            ("toml", _) => {
                if let Err(e) = ui::save_session(viewer, path.clone()) {
                    viewer.errors.push(e);
                }
            }
            ("tif" | "tiff", _) => {
                if let Err(e) = ui::export_dod(viewer, path.clone()) {
                    viewer.errors.push(e);
                }
            }
            ("geojson" | "json", Some(id)) => ui::export_objects(viewer, id, path.clone()),
            // A COPC copy of the first layer read from a file (its "COPC…" button).
            ("laz", _) if path.to_string_lossy().to_lowercase().ends_with(".copc.laz") => {
                match viewer
                    .layers
                    .iter()
                    .find(|l| l.path.is_some() && l.cloud().is_some())
                {
                    Some(l) => ui::export_copc(viewer, l.id, path.clone()),
                    None => viewer
                        .errors
                        .push(format!("--export {}: no cloud", path.display())),
                }
            }
            (_, Some(id)) => ui::export_report(viewer, id, path.clone()),
            (_, None) => viewer.errors.push(format!(
                "--export {}: no change result to export",
                path.display()
            )),
        }
    }
}

/// `--profile x1,y1,x2,y2`: the cross-section tool with those two picks.
fn open_profile(auto: &Auto, viewer: &mut Viewer) {
    let Some([x1, y1, x2, y2]) = auto.profile else {
        return;
    };
    viewer.tool = super::Tool::Profile;
    viewer.profile = Some(super::inspect::make_profile(viewer, [x1, y1], [x2, y2]));
}

fn finish(
    auto: &mut Auto,
    viewer: &Viewer,
    windows: &Query<&Window>,
    code: &ExitCode,
    exit: &mut MessageWriter<AppExit>,
    err: Option<String>,
) {
    write_stats(auto, viewer, windows, err.as_deref());
    auto.stage = Stage::Done;
    match err {
        Some(e) => {
            code.fail(e);
            exit.write(AppExit::error());
        }
        None => {
            exit.write(AppExit::Success);
        }
    }
}

fn write_stats(auto: &Auto, viewer: &Viewer, windows: &Query<&Window>, failure: Option<&str>) {
    let Some(path) = &auto.stats else { return };
    let layers: Vec<serde_json::Value> = viewer
        .layers
        .iter()
        .map(|l| match &l.kind {
            LayerKind::Cloud(c) => serde_json::json!({
                "name": l.name, "kind": if c.summary.is_some() { "result" } else { "cloud" },
                "points": c.cloud.len(), "drawn": c.drawn, "visible": l.visible,
                "colour": format!("{:?}", c.mode), "range": [c.range.0, c.range.1],
                "octree_nodes": c.octree.nodes.len(), "spacing": c.spacing, "warnings": l.warnings,
                "overview_of": c.overview_of,
                // Read on demand: the node cache (points, bytes) and its cap.
                "paged": c.paged.as_ref().map(|p| serde_json::json!({
                    "cached_points": p.cached().0, "cached_bytes": p.cached().1, "cap_bytes": p.cap,
                })),
                "crs_epsg": c.cloud.crs.as_ref().and_then(|c| c.epsg),
            }),
            LayerKind::Raster(r) => serde_json::json!({
                "name": l.name, "kind": if r.is_dem { "dem" } else { "orthophoto" }, "visible": l.visible,
                "size": [r.raster.size.0, r.raster.size.1], "drape_z": f64::from(r.drape_z) + r.origin[2],
                "on_dem": r.on_dem && viewer.layers.iter().any(|l| matches!(&l.kind, LayerKind::Raster(d) if d.is_dem)),
            }),
        })
        .collect();
    let change = viewer
        .layers
        .iter()
        .find_map(|l| l.cloud().and_then(|c| c.summary.clone()));
    let n = auto.frame_ms.len().max(1) as f32;
    let mean = auto.frame_ms.iter().sum::<f32>() / n;
    let win = windows
        .single()
        .ok()
        .map(|w| [w.physical_width(), w.physical_height()]);
    let json = serde_json::json!({
        "lang": viewer.lang,
        "window": win,
        "view_rect": viewer.view_rect.map(|r| [r.min.x, r.min.y, r.max.x, r.max.y]),
        "layers": layers,
        "errors": viewer.errors,
        "change": change,
        "registration": viewer.change.registration,
        "points_drawn": auto.drawn.last().copied().unwrap_or(viewer.points_drawn),
        "budget": viewer.settings.budget,
        // What we upload for points: 12 B per point of every held node (positions and
        // attributes, counted from the buffers we create) plus the shared splat meshes.
        "points_held": viewer.points_held,
        "gpu_point_bytes": viewer.gpu_point_bytes(),
        "gpu_bytes_per_point": viewer.gpu_point_bytes() as f64 / viewer.points_held.max(1) as f64,
        "frames_measured": auto.frame_ms.len(),
        "frame_ms_mean": mean,
        "frame_ms_max": auto.frame_ms.iter().cloned().fold(0.0f32, f32::max),
        "fps": if mean > 0.0 { 1000.0 / mean } else { 0.0 },
        "load_s": auto.load_s,
        "window_s": auto.window_s,
        "pipelines_s": auto.pipelines_s,
        "first_frame_s": auto.first_frame_s,
        "first_frame_points": auto.first_frame_points,
        "refined_s": auto.refined_s,
        "change_s": auto.change_s,
        "total_s": auto.started.elapsed().as_secs_f64(),
        "screenshot": auto.screenshot,
        "renderer": viewer.renderer.as_ref().map(|r| &r.0),
        "software_renderer": viewer.renderer.as_ref().map(|r| r.1),
        "profile": viewer.profile.as_ref().map(|p| serde_json::json!({
            "from": p.a, "to": p.b, "width": p.width,
            "series": p.series.iter().map(|s| serde_json::json!({
                "name": s.name, "points": s.points.len(), "full": s.full,
                "z_min": s.points.iter().map(|q| q[1]).fold(f32::INFINITY, f32::min),
                "z_max": s.points.iter().map(|q| q[1]).fold(f32::NEG_INFINITY, f32::max),
            })).collect::<Vec<_>>(),
        })),
        "series": viewer.series.view.as_ref().map(|s| serde_json::json!({
            "epoch": s.epoch,
            "date": s.summary.epochs.get(s.epoch).map(|e| e.date.to_string()),
            "colour": format!("{:?}", s.colour),
            "picked": viewer.picks.first().filter(|p| p.layer == s.layer).map(|p| p.index),
        })),
        "failure": failure,
    });
    if let Err(e) = crate::pipeline::write_json(path, &json) {
        eprintln!("kizashi: {e}");
    }
}
