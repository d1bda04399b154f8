//! The bevy systems that follow the state each frame: finished jobs and dialogs in, layers,
//! eye-dome lighting and the viewport out.

use super::*;

#[allow(clippy::too_many_arguments)]
pub(super) fn poll_jobs(
    mut commands: Commands,
    mut viewer: ResMut<Viewer>,
    mut std_materials: ResMut<Assets<StandardMaterial>>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut images: ResMut<Assets<Image>>,
    ready: Res<super::PipelinesReady>,
) {
    // Points are on screen: reads that waited for their overview to show go on.
    if viewer.points_drawn > 0 && ready.0.load(std::sync::atomic::Ordering::Relaxed) {
        for (_, job) in &viewer.jobs {
            job.progress.mark_shown();
        }
    }
    let mut finished = Vec::new();
    // What running jobs handed over early (overviews), before what ended.
    for (kind, job) in &viewer.jobs {
        for o in job.progress.take_published() {
            finished.push((*kind, job.label.clone(), Ok(o)));
        }
    }
    // Layers read on demand: the nodes read for the view since the last frame.
    take_snapshots(&mut viewer, &mut commands);
    inspect::follow_corridor(&mut viewer);
    let mut i = 0;
    while i < viewer.jobs.len() {
        match viewer.jobs[i].1.poll() {
            jobs::Poll::Running => i += 1,
            jobs::Poll::Done(r) => {
                let (kind, job) = viewer.jobs.remove(i);
                finished.push((kind, job.label, r));
            }
        }
    }
    viewer.outputs_taken += finished.len() as u64;
    for (kind, label, r) in finished {
        match r {
            // A corridor read for a line since moved: nothing to say.
            Err(e) if kind == JobKind::Profile && e == "cancelled" => {}
            Err(e) => {
                let msg = if e == "cancelled" {
                    format!("{}: {}", label, viewer.t(S::Cancelled))
                } else if kind == JobKind::Load {
                    format!("{}: {e}", viewer.t(S::CannotOpen))
                } else {
                    format!("{label}: {e}")
                };
                viewer.errors.push(msg);
            }
            Ok(jobs::Output::Corridor { key, series }) => {
                if let Some(c) = viewer.corridor.as_mut().filter(|c| c.key == key) {
                    c.series.extend(series);
                    if let Some(p) = viewer
                        .profile
                        .as_ref()
                        .filter(|p| (p.a, p.b, p.width) == key)
                    {
                        let (a, b) = (p.a, p.b);
                        viewer.profile = Some(inspect::make_profile(&viewer, a, b));
                    }
                }
            }
            Ok(jobs::Output::Saved { path }) => {
                let msg = format!("{}: {}", viewer.t(S::Saved), path.display());
                viewer.notices.push(msg);
            }
            Ok(jobs::Output::Cloud {
                path,
                cloud,
                octree,
                warnings,
                overview_of,
                paged,
            }) => {
                // The whole cloud of a file whose overview is shown takes its place (a file
                // read on demand is a layer of its own from the start).
                let streaming = viewer
                    .layers
                    .iter()
                    .find(|l| {
                        paged.is_none()
                            && l.path.as_ref() == Some(&path)
                            && l.cloud()
                                .is_some_and(|c| c.overview_of.is_some() && c.paged.is_none())
                    })
                    .map(|l| l.id);
                if let Some(id) = streaming {
                    replace_cloud(
                        &mut viewer,
                        &mut commands,
                        id,
                        cloud,
                        octree,
                        warnings,
                        overview_of,
                    );
                    continue;
                }
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default();
                let id = add_cloud(
                    &mut viewer,
                    &mut commands,
                    name,
                    Some(path),
                    cloud,
                    octree,
                    warnings,
                    None,
                );
                if let Some(LayerKind::Cloud(c)) = viewer
                    .layers
                    .iter_mut()
                    .find(|l| l.id == id)
                    .map(|l| &mut l.kind)
                {
                    c.overview_of = overview_of;
                    if let Some(p) = &paged {
                        c.spacing = p.spacing;
                    }
                    c.paged = paged;
                }
                // A photo opened before the clouds moves down to their ground.
                if let Some(z) = ground_height(&viewer) {
                    for l in viewer.layers.iter_mut() {
                        if let LayerKind::Raster(r) = &mut l.kind {
                            if !r.is_dem && r.drape_z == r.placed_z {
                                r.drape_z = z - r.origin[2] as f32;
                            }
                        }
                    }
                }
            }
            Ok(jobs::Output::Raster { path, raster }) => add_raster(
                &mut viewer,
                &mut commands,
                &mut meshes,
                &mut images,
                &mut std_materials,
                path,
                raster,
            ),
            Ok(jobs::Output::Change {
                outcome,
                registration,
            }) => {
                viewer.change.registration = registration;
                let outcome = *outcome;
                let name = match outcome.summary.method {
                    Method::M3c2 => "M3C2".to_string(),
                    Method::C2c => "C2C".to_string(),
                };
                let oct = Octree::build(
                    &outcome.result.positions,
                    crate::analysis::octree::Params::default(),
                );
                // Replace an earlier result: one result layer at a time keeps the panels simple.
                let old: Vec<u32> = viewer
                    .layers
                    .iter()
                    .filter(|l| l.cloud().is_some_and(|c| c.summary.is_some()))
                    .map(|l| l.id)
                    .collect();
                for id in old {
                    viewer.remove_layer(&mut commands, id);
                }
                add_cloud(
                    &mut viewer,
                    &mut commands,
                    name,
                    None,
                    outcome.result,
                    oct,
                    outcome.summary.warnings.clone(),
                    Some(outcome.summary),
                );
                // The result is what the user asked to see: the epochs step back.
                for l in viewer.layers.iter_mut() {
                    if l.is_epoch() {
                        l.visible = false;
                    }
                }
            }
            Ok(jobs::Output::Colourised {
                layer,
                rgb,
                covered,
            }) => {
                if let Some(l) = viewer.layers.iter_mut().find(|l| l.id == layer) {
                    if let LayerKind::Cloud(c) = &mut l.kind {
                        let mut cloud = (*c.cloud).clone();
                        cloud.rgb = Some(rgb);
                        c.cloud = Arc::new(cloud);
                    }
                    l.warnings
                        .push(format!("{covered} points coloured from the orthophoto"));
                }
                viewer.set_colour(layer, ColourMode::Rgb);
            }
            Ok(jobs::Output::Classified {
                layer,
                class,
                ground,
            }) => {
                let lang = viewer.lang;
                if let Some(l) = viewer.layers.iter_mut().find(|l| l.id == layer) {
                    if let LayerKind::Cloud(c) = &mut l.kind {
                        let mut cloud = (*c.cloud).clone();
                        cloud.classification = Some(class);
                        c.cloud = Arc::new(cloud);
                    }
                    l.warnings
                        .push(format!("{ground} {}", S::GroundPoints.t(lang)));
                }
                viewer.set_colour(layer, ColourMode::Classification);
            }
        }
    }
}

pub(super) fn poll_dialogs(mut viewer: ResMut<Viewer>) {
    let mut results = Vec::new();
    viewer.dialogs.retain(|rx| {
        let Ok(r) = rx.lock() else { return false };
        match r.try_recv() {
            Ok(x) => {
                results.push(x);
                false
            }
            Err(std::sync::mpsc::TryRecvError::Empty) => true,
            Err(_) => false,
        }
    });
    for r in results {
        match r {
            DialogResult::Open(paths) => {
                for p in paths {
                    viewer.open(p);
                }
            }
            DialogResult::Save(id, path) => ui::save_result(&mut viewer, id, path),
            DialogResult::Tiles(id, dir) => ui::export_tiles(&mut viewer, id, dir),
            DialogResult::Copc(id, path) => ui::export_copc(&mut viewer, id, path),
            DialogResult::Objects(id, path) => ui::export_objects(&mut viewer, id, path),
            DialogResult::Report(id, path) => ui::export_report(&mut viewer, id, path),
            DialogResult::Session(path) => {
                if let Err(e) = ui::save_session(&mut viewer, path) {
                    viewer.errors.push(e);
                }
            }
            DialogResult::Dod(path) => {
                if let Err(e) = ui::export_dod(&mut viewer, path) {
                    viewer.errors.push(e);
                }
            }
        }
    }
}

pub(super) fn file_drops(
    mut drops: MessageReader<bevy::window::FileDragAndDrop>,
    mut viewer: ResMut<Viewer>,
) {
    for d in drops.read() {
        if let bevy::window::FileDragAndDrop::DroppedFile { path_buf, .. } = d {
            viewer.open(path_buf.clone());
        }
    }
}

/// Layer transforms (exaggeration), visibility (blink), raster drape height, first framing.
pub(super) fn sync_layers(
    mut viewer: ResMut<Viewer>,
    time: Res<Time<Real>>,
    mut transforms: Query<&mut Transform, Without<camera::OrbitCamera>>,
    mut vis: Query<&mut Visibility, Without<points::NodeMesh>>,
    mut meshes: ResMut<Assets<Mesh>>,
    mesh_handles: Query<&Mesh3d>,
    mut cam: Query<(&mut camera::OrbitCamera, &Projection)>,
) {
    viewer.frame += 1;
    let ms = time.delta_secs() * 1000.0;
    viewer.frame_ms = if viewer.frame_ms > 0.0 {
        viewer.frame_ms * 0.9 + ms * 0.1
    } else {
        ms
    };
    let blink_a =
        ((time.elapsed_secs() / viewer.compare.blink_s.max(0.1)) as u64).is_multiple_of(2);
    let (mode, a, b) = (viewer.compare.mode, viewer.compare.a, viewer.compare.b);
    let transforms_now: Vec<(Entity, Transform)> = viewer
        .layers
        .iter()
        .map(|l| match &l.kind {
            LayerKind::Cloud(c) => (c.root, viewer.layer_transform(c.cloud.origin)),
            LayerKind::Raster(r) => (r.root, viewer.layer_transform(r.origin)),
        })
        .collect();
    // Photos to re-lay (height or DEM changed) need the DEM's grid: taken out of its layer
    // only then.
    let has_dem = viewer
        .layers
        .iter()
        .any(|l| matches!(&l.kind, LayerKind::Raster(r) if r.is_dem));
    let relay = viewer.layers.iter().any(|l| matches!(&l.kind, LayerKind::Raster(r) if !r.is_dem && (r.drape_z != r.placed_z || (r.on_dem && has_dem) != r.placed_on_dem)));
    let dem = if relay {
        viewer.layers.iter().find_map(|l| match &l.kind {
            LayerKind::Raster(r) if r.is_dem => Some(jobs::RasterLayer {
                image: image::RgbImage::new(1, 1),
                corners: r.raster.corners,
                heights: r.raster.heights.clone(),
                crs: None,
                size: r.raster.size,
            }),
            _ => None,
        })
    } else {
        None
    };
    let ortho_on_dem = has_dem
        && viewer
            .layers
            .iter()
            .any(|l| l.visible && matches!(&l.kind, LayerKind::Raster(r) if !r.is_dem && r.on_dem));
    for l in viewer.layers.iter_mut() {
        let in_pair = Some(l.id) == a || Some(l.id) == b;
        l.shown = l.visible;
        l.swipe_side = 0.0;
        if in_pair && a != b {
            match mode {
                CompareMode::Blink => l.shown = (Some(l.id) == a) == blink_a,
                CompareMode::Swipe => {
                    l.shown = true;
                    l.swipe_side = if Some(l.id) == a { 1.0 } else { 2.0 };
                }
                CompareMode::Off => {}
            }
        }
        // A photo laid on the DEM textures it: drawing the DEM too would only z-fight.
        if matches!(&l.kind, LayerKind::Raster(r) if r.is_dem) && ortho_on_dem {
            l.shown = false;
        }
        let root = match &mut l.kind {
            LayerKind::Cloud(c) => c.root,
            LayerKind::Raster(r) => {
                if (r.drape_z != r.placed_z || (r.on_dem && has_dem) != r.placed_on_dem)
                    && !r.is_dem
                {
                    if let Ok(h) = mesh_handles.get(r.entity) {
                        if let Some(mut m) = meshes.get_mut(&h.0) {
                            *m = match (&dem, r.on_dem) {
                                (Some(d), true) => {
                                    points::ortho_on_dem_mesh(&r.raster, r.origin, d, r.drape_z)
                                }
                                _ => points::raster_mesh(&r.raster, r.origin, r.drape_z),
                            };
                        }
                    }
                    r.placed_z = r.drape_z;
                    r.placed_on_dem = r.on_dem && dem.is_some();
                }
                r.root
            }
        };
        if let Ok(mut v) = vis.get_mut(root) {
            v.set_if_neq(if l.shown {
                Visibility::Inherited
            } else {
                Visibility::Hidden
            });
        }
    }
    for (e, t) in transforms_now {
        if let Ok(mut tf) = transforms.get_mut(e) {
            if *tf != t {
                *tf = t;
            }
        }
    }
    // Frame the data when the first layer arrives, and again when the first cloud does
    // (a photo opened first is usually much larger than the survey).
    let has_cloud = viewer.layers.iter().any(|l| l.cloud().is_some());
    if viewer.framed && has_cloud && !viewer.framed_cloud && !viewer.drag_in_view {
        viewer.framed = false;
    }
    if !viewer.framed {
        if let Some(b) = viewer.scene_bounds() {
            if let Ok((mut c, p)) = cam.single_mut() {
                let fov = if let Projection::Perspective(p) = p {
                    p.fov
                } else {
                    0.8
                };
                camera::apply_preset(&mut c, viewer.start_view, Some(b), fov);
                viewer.framed = true;
                viewer.framed_cloud = has_cloud;
            }
        }
    }
}

/// A software renderer (lavapipe, llvmpipe) draws ~1 M points a second: start with a budget
/// that keeps the view interactive there, unless the user chose one.
pub(super) fn know_renderer(
    mut viewer: ResMut<Viewer>,
    info: Option<Res<bevy::render::renderer::RenderAdapterInfo>>,
) {
    if viewer.renderer.is_some() {
        return;
    }
    let Some(info) = info else { return };
    // wgpu's DeviceType is not re-exported by bevy; its Debug name is stable ("Cpu").
    let software = format!("{:?}", info.device_type) == "Cpu";
    viewer.renderer = Some((
        format!("{} ({:?}, {})", info.name, info.device_type, info.driver),
        software,
    ));
    if software && !viewer.budget_explicit {
        viewer.settings.budget = 300_000;
    }
}

/// Eye-dome lighting on the 3D camera follows the setting.
pub(super) fn sync_edl(
    viewer: Res<Viewer>,
    mut commands: Commands,
    cams: Query<(Entity, Option<&edl::EyeDome>), With<camera::OrbitCamera>>,
) {
    let Ok((e, current)) = cams.single() else {
        return;
    };
    let want = viewer.settings.edl.then(|| edl::EyeDome {
        strength: viewer.settings.edl_strength,
        radius: 1.4,
        ..Default::default()
    });
    match (want, current) {
        (Some(w), Some(c)) if w.strength == c.strength => {}
        (Some(w), _) => {
            commands.entity(e).insert(w);
        }
        (None, Some(_)) => {
            commands.entity(e).remove::<edl::EyeDome>();
        }
        (None, None) => {}
    }
}

/// The 3D view fills what the panels leave.
pub(super) fn apply_viewport(
    viewer: Res<Viewer>,
    mut cams: Query<&mut Camera, With<camera::OrbitCamera>>,
    windows: Query<&Window>,
) {
    let (Some(r), Ok(mut cam), Ok(win)) = (viewer.view_rect, cams.single_mut(), windows.single())
    else {
        return;
    };
    let (ww, wh) = (win.physical_width(), win.physical_height());
    let x0 = (r.min.x.max(0.0) as u32).min(ww.saturating_sub(1));
    let y0 = (r.min.y.max(0.0) as u32).min(wh.saturating_sub(1));
    let w = ((r.width().max(1.0)) as u32).min(ww - x0).max(1);
    let h = ((r.height().max(1.0)) as u32).min(wh - y0).max(1);
    let vp = bevy::camera::Viewport {
        physical_position: UVec2::new(x0, y0),
        physical_size: UVec2::new(w, h),
        ..default()
    };
    if cam.viewport.as_ref().is_none_or(|v| {
        v.physical_position != vp.physical_position || v.physical_size != vp.physical_size
    }) {
        cam.viewport = Some(vp);
    }
}

/// While a file is read in the background and nobody touches the view, a software renderer
/// stops drawing: on 2 cores, lavapipe drawing the same picture again and again took the CPU
/// the reader needs (the overview's refined view of a 100 M LAZ came in 53-55 s; with a 0.5 s
/// sleep after each frame 42 s; see docs/large-files.md). The app then waits in winit's
/// reactive mode: input wakes it at once (a window event), so does a job that publishes or
/// ends (`jobs::wake`), else it draws once in a while for the progress shown (`idle_wait_s`:
/// each such frame costs lavapipe ~0.25 s of both cores, so they come at most 1/20 of the time;
/// `NO_FRACTION_WAIT_S` while no job shows a fraction).
/// egui's own repaint requests are dropped meanwhile (`IDLE_LOADING`): bevy_egui turns them
/// into wake-ups, and egui asks for one on any input event. A frame that took a job's output,
/// or whose drawn nodes are still coming or changed, is followed by the next at once, so new
/// points show; input in the last second keeps every frame drawn; a GPU is never paced.
// Bevy's input resources, the viewer and the clocks: a struct would only rename them.
#[allow(clippy::too_many_arguments)]
pub(super) fn pace_while_loading(
    viewer: Res<Viewer>,
    buttons: Res<ButtonInput<MouseButton>>,
    keys: Res<ButtonInput<KeyCode>>,
    motion: Res<bevy::input::mouse::AccumulatedMouseMotion>,
    scroll: Res<bevy::input::mouse::AccumulatedMouseScroll>,
    time: Res<Time<Real>>,
    mut winit: ResMut<bevy::winit::WinitSettings>,
    shots: Query<(), With<bevy::render::view::screenshot::Screenshot>>,
    mut last_input: Local<f64>,
    mut last_scene: Local<(u64, usize, usize)>,
    mut frame_s: Local<FrameCost>,
) {
    let now = time.elapsed_secs_f64();
    // Frames drawn one after the other (not after an idle wait) tell what one costs.
    if !idle_loading() {
        frame_s.observe(time.delta_secs_f64());
    }
    if buttons.get_pressed().next().is_some()
        || keys.get_pressed().next().is_some()
        || motion.delta != Vec2::ZERO
        || scroll.delta != Vec2::ZERO
    {
        *last_input = now;
    }
    let scene = (
        viewer.outputs_taken,
        viewer.points_drawn,
        viewer.points_held,
    );
    let same_scene = scene == *last_scene && !viewer.lod_pending;
    *last_scene = scene;
    let software = matches!(viewer.renderer, Some((_, true)));
    let loading = viewer.busy(JobKind::Load);
    // A screenshot asked for is taken in the frames that follow: those come at once.
    let idle = idles(
        software && loading && viewer.started_up && same_scene && shots.is_empty(),
        now - *last_input,
    );
    IDLE_LOADING.store(idle, std::sync::atomic::Ordering::Relaxed);
    let mode = if idle {
        bevy::winit::UpdateMode::reactive_low_power(std::time::Duration::from_secs_f64(
            if viewer
                .jobs
                .iter()
                .any(|(_, j)| j.progress.get().1.is_some())
            {
                idle_wait_s(frame_s.0)
            } else {
                NO_FRACTION_WAIT_S
            },
        ))
    } else {
        bevy::winit::UpdateMode::Continuous
    };
    if winit.focused_mode != mode || winit.unfocused_mode != mode {
        winit.focused_mode = mode;
        winit.unfocused_mode = mode;
    }
}

/// Seconds between two frames while a file loads untouched (`pace_while_loading`), for the
/// progress shown; new points and input wake the app sooner. Twenty frames' time, so redrawing
/// the same view takes at most 1/20 of the CPU the reader needs: on 2 cores lavapipe draws a
/// 0.3 M-point frame in ~0.25 s while a file is read, and a frame every 2 s with a view every
/// 4 s took 8-15 core-s more than a plain read's ~60 (docs/large-files.md). 2 s to 8 s.
fn idle_wait_s(frame_s: f64) -> f64 {
    (20.0 * frame_s).clamp(2.0, 8.0)
}

/// Seconds between two frames while a file loads untouched and no job has a fraction to show
/// (the octree built after a read: 10-13 s at 100 M points): the picture and the bar would not
/// change; the job's end wakes the app. Measured together with the denser views made only
/// when wanted (`jobs::stream`; docs/large-files.md).
const NO_FRACTION_WAIT_S: f64 = 30.0;

/// A smoothed time between frames drawn back to back.
#[derive(Default)]
pub(super) struct FrameCost(f64);

impl FrameCost {
    fn observe(&mut self, delta_s: f64) {
        // A frame that waited (a window hidden, a stall) is not a frame's cost.
        if delta_s.is_finite() && delta_s > 0.0 && delta_s < 2.0 {
            self.0 = if self.0 == 0.0 {
                delta_s
            } else {
                0.8 * self.0 + 0.2 * delta_s
            };
        }
    }
}

/// `pace_while_loading` idles: egui's repaint requests do not wake the app (`ui::draw`) and the
/// progress bar does not animate. An atomic: egui's repaint callback may run on any thread.
static IDLE_LOADING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether the app idles between frames on a file being loaded (`pace_while_loading`).
pub(super) fn idle_loading() -> bool {
    IDLE_LOADING.load(std::sync::atomic::Ordering::Relaxed)
}

/// Whether the app idles after this frame: once the view has been left alone for a second
/// while `idle_loading` (software renderer, a file loading, pipelines compiled, the scene as
/// in the frame before) holds.
fn idles(idle_loading: bool, since_input_s: f64) -> bool {
    idle_loading && since_input_s >= 1.0
}

/// bevy_egui 0.42 queues a `ModifiersChanged` event every frame, changed or not, and egui
/// repaints at once on any event: the app never idled in a reactive update mode. Only real
/// changes go through.
pub(super) fn drop_unchanged_modifiers(
    mut inputs: Query<&mut bevy_egui::EguiInput>,
    mut last: Local<Option<bevy_egui::egui::Modifiers>>,
) {
    for mut input in &mut inputs {
        input.events.retain(|e| match e {
            bevy_egui::egui::Event::ModifiersChanged(m) => last.replace(*m) != Some(*m),
            _ => true,
        });
    }
}

/// While the app idles on a file being loaded (`pace_while_loading`), egui's requests for the
/// next frame (bevy_egui turns any repaint egui asks for into a `RequestRedraw`) are dropped.
pub(super) fn drop_redraws_while_idle(mut redraws: ResMut<Messages<bevy::window::RequestRedraw>>) {
    if idle_loading() {
        redraws.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::idles;

    #[test]
    fn idle_frames_take_a_twentieth_of_the_time() {
        use super::{idle_wait_s, FrameCost};
        // 0.25 s a frame -> one every 5 s (on lavapipe the smoothed cost reads ~0.19 s).
        assert_eq!(idle_wait_s(0.25), 5.0);
        // A fast renderer still shows progress every 2 s; a very slow one every 8 s.
        assert_eq!(idle_wait_s(0.01), 2.0);
        assert_eq!(idle_wait_s(1.5), 8.0);
        let mut c = FrameCost::default();
        c.observe(0.25);
        assert_eq!(c.0, 0.25);
        // A frame after a wait is no measure of the cost; a slower frame moves it a fifth.
        c.observe(5.0);
        assert_eq!(c.0, 0.25);
        c.observe(0.5);
        assert!((c.0 - 0.3).abs() < 1e-9);
    }

    #[test]
    fn idles_only_while_loading_untouched() {
        assert!(idles(true, 5.0));
        assert!(idles(true, 1.0));
        // Touched within the last second, or nothing loading: every frame drawn.
        assert!(!idles(true, 0.5));
        assert!(!idles(false, 5.0));
    }
}
