//! The viewer (bevy + egui). It shows and asks; all processing goes through `pipeline`, on
//! background threads (`jobs`). Layout: `points` (splat material, LOD), `camera` (orbit),
//! `ui` (egui panels), `inspect` (picking, measuring, cross-sections), `auto` (scripted runs:
//! screenshot and statistics for tests and benchmarks), `colour` and `i18n`.

pub mod auto;
pub mod camera;
pub mod colour;
pub mod edl;
pub mod i18n;
pub mod inspect;
pub mod jobs;
pub mod points;
pub mod ui;

use crate::analysis::octree::Octree;
use crate::cloud::PointCloud;
use crate::pipeline::change::{ChangeSummary, Method};
use bevy::prelude::*;
use bevy::window::WindowResolution;
use bevy_egui::{EguiPlugin, EguiPrimaryContextPass};
use colour::ColourMode;
use i18n::{Lang, S};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

/// `kizashi view` options.
#[derive(Clone, Debug)]
pub struct ViewOptions {
    pub files: Vec<PathBuf>,
    /// Run change detection between the first two epochs once they are loaded.
    pub change: Option<Method>,
    /// Save the window to this PNG after `frames` settled frames, then exit.
    pub screenshot: Option<PathBuf>,
    pub frames: u32,
    /// Write what was shown (layers, errors, points drawn, frame times) as JSON on exit.
    pub stats: Option<PathBuf>,
    pub lang: Option<Lang>,
    pub budget: Option<usize>,
    pub size: (u32, u32),
    /// Scripted runs give up (exit 1) after this long.
    pub timeout_s: f64,
    /// Start with this colour mode on every cloud ("rgb", "elevation", ...).
    pub colour: Option<String>,
    /// Open a cross-section from (x1, y1) to (x2, y2), data CRS, once loaded.
    pub profile: Option<[f64; 4]>,
    /// After `change`, run the viewer's exports to these files (by extension: .pdf/.html
    /// report, .geojson objects, .tif DoD).
    pub export: Vec<PathBuf>,
}

#[derive(Clone, Debug)]
pub struct Settings {
    /// Points drawn per frame, over all layers.
    pub budget: usize,
    /// Splat size as a multiple of the cloud's mean spacing.
    pub point_size: f32,
    pub min_px: f32,
    /// Nodes smaller than this on screen are not refined.
    pub min_node_px: f32,
    pub exaggeration: f32,
    pub rim: bool,
    pub edl: bool,
    pub edl_strength: f32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { budget: 1_000_000, point_size: 1.0, min_px: 2.0, min_node_px: 60.0, exaggeration: 1.0, rim: false, edl: true, edl_strength: 0.5 }
    }
}

pub struct CloudLayer {
    pub cloud: Arc<PointCloud>,
    pub octree: Arc<Octree>,
    /// One colour per point for the current mode.
    pub colours: Vec<[u8; 3]>,
    pub mode: ColourMode,
    pub range: (f32, f32),
    pub material: Handle<points::PointMaterial>,
    pub root: Entity,
    /// Spawned node meshes: node id -> (entity, last frame wanted).
    pub nodes: HashMap<u32, (Entity, u64)>,
    /// Mean point spacing (m), for splat size and default parameters.
    pub spacing: f32,
    pub drawn: usize,
    /// Result of change detection (not an epoch).
    pub summary: Option<ChangeSummary>,
}

pub struct RasterView {
    pub raster: jobs::RasterLayer,
    pub root: Entity,
    pub entity: Entity,
    pub origin: [f64; 3],
    pub drape_z: f32,
    pub placed_z: f32,
    pub is_dem: bool,
    /// Orthophoto laid on the (first) DEM layer, when there is one, instead of flat.
    pub on_dem: bool,
    /// Whether the current mesh lies on a DEM.
    placed_on_dem: bool,
}

pub enum LayerKind {
    Cloud(CloudLayer),
    Raster(RasterView),
}

pub struct Layer {
    pub id: u32,
    pub name: String,
    pub path: Option<PathBuf>,
    pub visible: bool,
    /// Visible this frame (after blink).
    pub shown: bool,
    /// Swipe: 0 none, 1 keep left, 2 keep right.
    pub swipe_side: f32,
    pub kind: LayerKind,
    pub warnings: Vec<String>,
}

impl Layer {
    pub fn cloud(&self) -> Option<&CloudLayer> {
        match &self.kind {
            LayerKind::Cloud(c) => Some(c),
            _ => None,
        }
    }
    pub fn is_epoch(&self) -> bool {
        self.cloud().is_some_and(|c| c.summary.is_none())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareMode {
    Off,
    Swipe,
    Blink,
}

pub struct Compare {
    pub mode: CompareMode,
    pub a: Option<u32>,
    pub b: Option<u32>,
    /// Swipe line as a fraction of the 3D view's width.
    pub swipe: f32,
    pub blink_s: f32,
}

pub struct ChangePanel {
    pub e1: Option<u32>,
    pub e2: Option<u32>,
    pub method: Method,
    pub core_spacing: f64,
    pub cyl_radius: f64,
    pub normal_radii: String,
    pub max_distance: f64,
    pub registration_error: f64,
    pub robust: bool,
    pub register: bool,
    /// Registration estimates the heading only (no tilt), as `kizashi register --rotation vertical`.
    pub register_heading_only: bool,
    /// DEM-of-difference cell (m); the density defaults set it to twice the core spacing.
    pub dod_cell: f64,
    pub defaults_for: Option<(u32, u32)>,
    pub registration: Option<crate::analysis::icp::IcpResult>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    Inspect,
    Measure,
    Profile,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum JobKind {
    Load,
    Change,
    Colourise,
    Save,
    Export,
}

#[derive(Resource)]
pub struct Viewer {
    pub lang: Lang,
    pub layers: Vec<Layer>,
    next_id: u32,
    /// Shared origin of the scene (data CRS): layers are placed relative to it.
    pub scene_origin: Option<[f64; 3]>,
    pub errors: Vec<String>,
    pub notices: Vec<String>,
    pub jobs: Vec<(JobKind, jobs::Job)>,
    pub settings: Settings,
    pub compare: Compare,
    pub change: ChangePanel,
    pub tool: Tool,
    pub picks: Vec<inspect::Pick>,
    pub profile: Option<inspect::Profile>,
    pub profile_width: f64,
    pub view: Option<points::ViewInfo>,
    /// The 3D view's rectangle (physical pixels) left by the panels.
    pub view_rect: Option<Rect>,
    pub frame: u64,
    pub points_drawn: usize,
    pub lod_pending: bool,
    pub auto_active: bool,
    pub drag_in_view: bool,
    pub drag_px: f32,
    pub preset_request: Option<camera::Preset>,
    pub focus_request: Option<Vec3>,
    pub frame_ms: f32,
    pub dialogs: Vec<std::sync::Mutex<std::sync::mpsc::Receiver<DialogResult>>>,
    pub initial_colour: Option<String>,
    /// The GPU (or software renderer) in use, once known.
    pub renderer: Option<(String, bool)>,
    budget_explicit: bool,
    framed: bool,
    framed_cloud: bool,
}

pub enum DialogResult {
    Open(Vec<PathBuf>),
    Save(u32, PathBuf),
    Tiles(u32, PathBuf),
    Objects(u32, PathBuf),
    Report(u32, PathBuf),
    Dod(PathBuf),
}

impl Viewer {
    fn new(lang: Lang, settings: Settings) -> Viewer {
        Viewer {
            lang,
            layers: Vec::new(),
            next_id: 1,
            scene_origin: None,
            errors: Vec::new(),
            notices: Vec::new(),
            jobs: Vec::new(),
            settings,
            compare: Compare { mode: CompareMode::Off, a: None, b: None, swipe: 0.5, blink_s: 0.8 },
            change: ChangePanel {
                e1: None,
                e2: None,
                method: Method::M3c2,
                core_spacing: 1.0,
                cyl_radius: 1.0,
                normal_radii: "1, 2".into(),
                max_distance: 2.0,
                registration_error: 0.0,
                robust: false,
                register: false,
                register_heading_only: true,
                dod_cell: 2.0,
                defaults_for: None,
                registration: None,
            },
            tool: Tool::Inspect,
            picks: Vec::new(),
            profile: None,
            profile_width: 1.0,
            view: None,
            view_rect: None,
            frame: 0,
            points_drawn: 0,
            lod_pending: false,
            auto_active: false,
            drag_in_view: false,
            drag_px: 0.0,
            preset_request: None,
            focus_request: None,
            frame_ms: 0.0,
            dialogs: Vec::new(),
            initial_colour: None,
            renderer: None,
            budget_explicit: false,
            framed: false,
            framed_cloud: false,
        }
    }

    pub fn t(&self, s: S) -> &'static str {
        s.t(self.lang)
    }

    pub fn layer(&self, id: u32) -> Option<&Layer> {
        self.layers.iter().find(|l| l.id == id)
    }

    pub fn open(&mut self, path: PathBuf) {
        let label = format!("{} {}", self.t(S::Loading), path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default());
        let job = jobs::Job::spawn(label, move |p, c| jobs::load(path, p, c));
        self.jobs.push((JobKind::Load, job));
    }

    pub fn busy(&self, kind: JobKind) -> bool {
        self.jobs.iter().any(|(k, _)| *k == kind)
    }

    /// Union of the shown layers' bounds in bevy space.
    pub fn scene_bounds(&self) -> Option<(Vec3, Vec3)> {
        let origin = self.scene_origin?;
        let mut lo = Vec3::splat(f32::MAX);
        let mut hi = Vec3::splat(f32::MIN);
        let mut any = false;
        // Clouds are what people look at: a photo or DEM often reaches far beyond them.
        let any_cloud = self.layers.iter().any(|l| l.visible && l.cloud().is_some());
        for l in self.layers.iter().filter(|l| l.visible && (!any_cloud || l.cloud().is_some())) {
            let (bmin, bmax) = match &l.kind {
                LayerKind::Cloud(c) => {
                    let b = c.cloud.bounds();
                    (b.min, b.max)
                }
                LayerKind::Raster(r) => {
                    let xs = r.raster.corners.map(|c| c[0]);
                    let ys = r.raster.corners.map(|c| c[1]);
                    let z = f64::from(r.placed_z) + r.origin[2];
                    ([xs.iter().cloned().fold(f64::MAX, f64::min), ys.iter().cloned().fold(f64::MAX, f64::min), z], [xs.iter().cloned().fold(f64::MIN, f64::max), ys.iter().cloned().fold(f64::MIN, f64::max), z])
                }
            };
            for c in 0..8 {
                let p = [if c & 1 == 0 { bmin[0] } else { bmax[0] }, if c & 2 == 0 { bmin[1] } else { bmax[1] }, if c & 4 == 0 { bmin[2] } else { bmax[2] }];
                let v = self.data_to_bevy(p, origin);
                lo = lo.min(v);
                hi = hi.max(v);
                any = true;
            }
        }
        any.then_some((lo, hi))
    }

    /// Data CRS coordinates -> bevy world (x east, y up, z south), with exaggeration.
    pub fn data_to_bevy(&self, p: [f64; 3], origin: [f64; 3]) -> Vec3 {
        let d = [0, 1, 2].map(|k| (p[k] - origin[k]) as f32);
        Vec3::new(d[0], d[2] * self.settings.exaggeration, -d[1])
    }

    pub fn bevy_to_data(&self, v: Vec3) -> Option<[f64; 3]> {
        let o = self.scene_origin?;
        Some([o[0] + f64::from(v.x), o[1] - f64::from(v.z), o[2] + f64::from(v.y / self.settings.exaggeration)])
    }

    /// The transform that places a layer whose local frame starts at `origin`.
    pub fn layer_transform(&self, origin: [f64; 3]) -> Transform {
        let so = self.scene_origin.unwrap_or(origin);
        Transform {
            translation: self.data_to_bevy(origin, so),
            rotation: Quat::from_rotation_x(-std::f32::consts::FRAC_PI_2),
            scale: Vec3::new(1.0, 1.0, self.settings.exaggeration),
        }
    }

    /// Sets a cloud layer's colour mode and recomputes its colours (meshes follow).
    pub fn set_colour(&mut self, commands: &mut Commands, id: u32, mode: ColourMode) {
        let Some(l) = self.layers.iter_mut().find(|l| l.id == id) else { return };
        let LayerKind::Cloud(c) = &mut l.kind else { return };
        let range = colour::default_range(&c.cloud, &mode).unwrap_or((0.0, 1.0));
        c.colours = colour::colours(&c.cloud, &mode, range);
        c.mode = mode;
        c.range = range;
        points::clear_nodes(commands, c);
    }

    pub fn set_range(&mut self, commands: &mut Commands, id: u32, range: (f32, f32)) {
        let Some(l) = self.layers.iter_mut().find(|l| l.id == id) else { return };
        let LayerKind::Cloud(c) = &mut l.kind else { return };
        c.range = range;
        c.colours = colour::colours(&c.cloud, &c.mode, range);
        points::clear_nodes(commands, c);
    }

    pub fn remove_layer(&mut self, commands: &mut Commands, id: u32) {
        if let Some(i) = self.layers.iter().position(|l| l.id == id) {
            let l = self.layers.remove(i);
            let root = match l.kind {
                LayerKind::Cloud(c) => c.root,
                LayerKind::Raster(r) => r.root,
            };
            commands.entity(root).despawn();
        }
        for o in [&mut self.change.e1, &mut self.change.e2, &mut self.compare.a, &mut self.compare.b] {
            if *o == Some(id) {
                *o = None;
            }
        }
        self.profile = None;
        self.picks.retain(|p| p.layer != id);
    }
}

/// Set in the render world each frame: true when no pipeline is still compiling.
#[derive(Resource, Clone, Default)]
pub struct PipelinesReady(pub Arc<std::sync::atomic::AtomicBool>);

fn check_pipelines(cache: Res<bevy::render::render_resource::PipelineCache>, flag: Res<PipelinesReady>) {
    flag.0.store(cache.waiting_pipelines().next().is_none(), std::sync::atomic::Ordering::Relaxed);
}

/// Opens the window and runs until it is closed (or a scripted run ends).
pub fn run(opts: ViewOptions) -> anyhow::Result<()> {
    crate::io::crs::quiet_gdal();
    let lang = opts.lang.unwrap_or_else(Lang::from_env);
    let mut settings = Settings::default();
    if let Some(b) = opts.budget {
        settings.budget = b.max(1000);
    }
    let mut viewer = Viewer::new(lang, settings);
    viewer.budget_explicit = opts.budget.is_some();
    viewer.initial_colour = opts.colour.clone();
    for f in &opts.files {
        viewer.open(f.clone());
    }
    let auto = auto::Auto::new(&opts);
    viewer.auto_active = auto.active();
    let ready = PipelinesReady::default();
    let exit = auto::ExitCode::default();

    let mut app = App::new();
    app.insert_resource(ClearColor(Color::srgb(0.11, 0.12, 0.14)))
        .add_plugins(
            DefaultPlugins
                .set(WindowPlugin {
                    primary_window: Some(Window {
                        title: S::AppTitle.t(lang).into(),
                        resolution: WindowResolution::new(opts.size.0, opts.size.1).with_scale_factor_override(1.0),
                        ..default()
                    }),
                    ..default()
                })
                .set(bevy::log::LogPlugin { level: bevy::log::Level::WARN, filter: "wgpu=error,naga=warn,bevy_render=warn,bevy_winit=error".into(), ..default() }),
        )
        .add_plugins(MaterialPlugin::<points::PointMaterial>::default())
        .add_plugins(edl::EdlPlugin)
        .add_plugins(EguiPlugin::default())
        .insert_resource(viewer)
        .insert_resource(auto)
        .insert_resource(ready.clone())
        .insert_resource(exit.clone())
        .add_systems(Startup, setup)
        .add_systems(
            Update,
            (poll_jobs, poll_dialogs, file_drops, sync_layers, camera::control, points::update_lod, inspect::click, auto::step, apply_viewport, sync_edl, know_renderer).chain(),
        )
        .add_systems(EguiPrimaryContextPass, ui::draw);
    bevy::asset::load_internal_asset!(app, points::POINT_SHADER, "../../shaders/points.wgsl", Shader::from_wgsl);
    if let Some(render_app) = app.get_sub_app_mut(bevy::render::RenderApp) {
        render_app.insert_resource(ready).add_systems(bevy::render::Render, check_pipelines.in_set(bevy::render::RenderSystems::Cleanup));
    }
    app.run();
    exit.result()
}

fn setup(mut commands: Commands, mut egui_settings: ResMut<bevy_egui::EguiGlobalSettings>) {
    commands.spawn((
        // EDL samples the depth of the main pass.
        Camera3d { depth_texture_usages: (bevy::render::render_resource::TextureUsages::RENDER_ATTACHMENT | bevy::render::render_resource::TextureUsages::TEXTURE_BINDING).into(), ..default() },
        Msaa::Off,
        bevy::core_pipeline::tonemapping::Tonemapping::None,
        Projection::Perspective(PerspectiveProjection { fov: 0.8, near: 0.1, ..default() }),
        camera::OrbitCamera::default(),
        camera::OrbitCamera::default().transform(),
    ));
    // egui gets its own camera over the whole window: the 3D camera's viewport is only the
    // part the panels leave, and egui would otherwise be clipped to it.
    egui_settings.auto_create_primary_context = false;
    commands.spawn((
        bevy_egui::PrimaryEguiContext,
        Camera2d,
        Msaa::Off,
        bevy::camera::visibility::RenderLayers::none(),
        Camera {
            order: 1,
            output_mode: bevy::camera::CameraOutputMode::Write {
                blend_state: Some(bevy::render::render_resource::BlendState::ALPHA_BLENDING),
                clear_color: ClearColorConfig::None,
            },
            clear_color: ClearColorConfig::Custom(Color::NONE),
            ..default()
        },
    ));
}

use crate::pipeline::params::mean_spacing;

/// Adds a finished point cloud as a layer.
pub fn add_cloud(
    viewer: &mut Viewer,
    commands: &mut Commands,
    materials: &mut Assets<points::PointMaterial>,
    name: String,
    path: Option<PathBuf>,
    cloud: PointCloud,
    octree: Octree,
    warnings: Vec<String>,
    summary: Option<ChangeSummary>,
) -> u32 {
    if viewer.scene_origin.is_none() {
        viewer.scene_origin = Some(cloud.origin);
    }
    let spacing = mean_spacing(&cloud);
    let mode = if let Some(s) = &summary {
        match s.method {
            Method::M3c2 => ColourMode::Deformation { field: crate::fields::M3C2_DISTANCE.into(), significance: Some(crate::fields::M3C2_SIGNIFICANT.into()) },
            Method::C2c => ColourMode::Deformation { field: crate::fields::C2C_DZ.into(), significance: None },
        }
    } else {
        match viewer.initial_colour.as_deref() {
            Some("elevation") => ColourMode::Elevation,
            Some("intensity") if cloud.intensity.is_some() => ColourMode::Intensity,
            Some("classification") if cloud.classification.is_some() => ColourMode::Classification,
            _ if cloud.rgb.is_some() => ColourMode::Rgb,
            _ => ColourMode::Elevation,
        }
    };
    let range = colour::default_range(&cloud, &mode).unwrap_or((0.0, 1.0));
    let colours = colour::colours(&cloud, &mode, range);
    let material = materials.add(points::PointMaterial { params: points::PointParams { size_world: spacing, min_px: 2.0, max_px: 32.0, ..Default::default() } });
    let root = commands.spawn((viewer.layer_transform(cloud.origin), Visibility::Inherited)).id();
    let id = viewer.next_id;
    viewer.next_id += 1;
    let is_result = summary.is_some();
    let cl = CloudLayer {
        cloud: Arc::new(cloud),
        octree: Arc::new(octree),
        colours,
        mode,
        range,
        material,
        root,
        nodes: HashMap::new(),
        spacing: if is_result { spacing * 1.3 } else { spacing },
        drawn: 0,
        summary,
    };
    viewer.layers.push(Layer { id, name, path, visible: true, shown: true, swipe_side: 0.0, kind: LayerKind::Cloud(cl), warnings });
    if !is_result {
        let epochs: Vec<u32> = viewer.layers.iter().filter(|l| l.is_epoch()).map(|l| l.id).collect();
        if viewer.change.e1.is_none() {
            viewer.change.e1 = epochs.first().copied();
        }
        if viewer.change.e2.is_none() || viewer.change.e2 == viewer.change.e1 {
            viewer.change.e2 = epochs.iter().copied().find(|&e| Some(e) != viewer.change.e1);
        }
        viewer.compare.a = viewer.change.e1;
        viewer.compare.b = viewer.change.e2;
    }
    id
}

fn add_raster(viewer: &mut Viewer, commands: &mut Commands, meshes: &mut Assets<Mesh>, images: &mut Assets<Image>, materials: &mut Assets<StandardMaterial>, path: PathBuf, raster: jobs::RasterLayer) {
    let [tl, _, br, _] = raster.corners;
    let centre = [(tl[0] + br[0]) * 0.5, (tl[1] + br[1]) * 0.5, 0.0];
    if viewer.scene_origin.is_none() {
        let z = raster.heights.as_ref().and_then(|h| colour::percentile(h.clone(), 0.02)).unwrap_or(0.0);
        viewer.scene_origin = Some([centre[0], centre[1], f64::from(z)]);
    }
    let origin = viewer.scene_origin.unwrap_or(centre);
    let is_dem = raster.heights.is_some();
    let drape_z = ground_height(viewer).unwrap_or(origin[2] as f32) - origin[2] as f32;
    let (w, h) = raster.image.dimensions();
    let rgba: Vec<u8> = raster.image.pixels().flat_map(|p| [p.0[0], p.0[1], p.0[2], 255]).collect();
    let image = Image::new(
        bevy::render::render_resource::Extent3d { width: w, height: h, depth_or_array_layers: 1 },
        bevy::render::render_resource::TextureDimension::D2,
        rgba,
        bevy::render::render_resource::TextureFormat::Rgba8UnormSrgb,
        bevy::asset::RenderAssetUsages::RENDER_WORLD,
    );
    let mat = materials.add(StandardMaterial { base_color_texture: Some(images.add(image)), unlit: true, cull_mode: None, ..default() });
    let mesh = meshes.add(points::raster_mesh(&raster, origin, drape_z));
    let root = commands.spawn((viewer.layer_transform(origin), Visibility::Inherited)).id();
    let entity = commands.spawn((Mesh3d(mesh), MeshMaterial3d(mat), Transform::IDENTITY, Visibility::Inherited, ChildOf(root))).id();
    let id = viewer.next_id;
    viewer.next_id += 1;
    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    // Drop the pixels: the texture has them now.
    let raster = jobs::RasterLayer { image: image::RgbImage::new(1, 1), ..raster };
    viewer.layers.push(Layer {
        id,
        name,
        path: Some(path),
        visible: true,
        shown: true,
        swipe_side: 0.0,
        kind: LayerKind::Raster(RasterView { raster, root, entity, origin, drape_z, placed_z: drape_z, is_dem, on_dem: true, placed_on_dem: false }),
        warnings: Vec::new(),
    });
}

/// Where a photo lies by default: just under the lowest ground of the clouds (2nd percentile).
fn ground_height(viewer: &Viewer) -> Option<f32> {
    let mut zs = Vec::new();
    for l in &viewer.layers {
        if let LayerKind::Cloud(c) = &l.kind {
            let step = (c.cloud.len() / 20_000).max(1);
            zs.extend(c.cloud.positions.iter().step_by(step).map(|p| (f64::from(p[2]) + c.cloud.origin[2]) as f32));
        }
    }
    colour::percentile(zs, 0.02).map(|z| z - 0.05)
}

#[allow(clippy::too_many_arguments)]
fn poll_jobs(
    mut commands: Commands,
    mut viewer: ResMut<Viewer>,
    mut materials: ResMut<Assets<points::PointMaterial>>,
    mut std_materials: ResMut<Assets<StandardMaterial>>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut images: ResMut<Assets<Image>>,
) {
    let mut finished = Vec::new();
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
    for (kind, label, r) in finished {
        match r {
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
            Ok(jobs::Output::Saved { path }) => {
                let msg = format!("{}: {}", viewer.t(S::Saved), path.display());
                viewer.notices.push(msg);
            }
            Ok(jobs::Output::Cloud { path, cloud, octree, warnings }) => {
                let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
                add_cloud(&mut viewer, &mut commands, &mut materials, name, Some(path), cloud, octree, warnings, None);
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
            Ok(jobs::Output::Raster { path, raster }) => add_raster(&mut viewer, &mut commands, &mut meshes, &mut images, &mut std_materials, path, raster),
            Ok(jobs::Output::Change { outcome, registration }) => {
                viewer.change.registration = registration;
                let outcome = *outcome;
                let name = match outcome.summary.method {
                    Method::M3c2 => "M3C2".to_string(),
                    Method::C2c => "C2C".to_string(),
                };
                let oct = Octree::build(&outcome.result.positions, crate::analysis::octree::Params::default());
                // Replace an earlier result: one result layer at a time keeps the panels simple.
                let old: Vec<u32> = viewer.layers.iter().filter(|l| l.cloud().is_some_and(|c| c.summary.is_some())).map(|l| l.id).collect();
                for id in old {
                    viewer.remove_layer(&mut commands, id);
                }
                add_cloud(&mut viewer, &mut commands, &mut materials, name, None, outcome.result, oct, outcome.summary.warnings.clone(), Some(outcome.summary));
                // The result is what the user asked to see: the epochs step back.
                for l in viewer.layers.iter_mut() {
                    if l.is_epoch() {
                        l.visible = false;
                    }
                }
            }
            Ok(jobs::Output::Colourised { layer, rgb, covered }) => {
                if let Some(l) = viewer.layers.iter_mut().find(|l| l.id == layer) {
                    if let LayerKind::Cloud(c) = &mut l.kind {
                        let mut cloud = (*c.cloud).clone();
                        cloud.rgb = Some(rgb);
                        c.cloud = Arc::new(cloud);
                    }
                    l.warnings.push(format!("{covered} points coloured from the orthophoto"));
                }
                viewer.set_colour(&mut commands, layer, ColourMode::Rgb);
            }
        }
    }
}

fn poll_dialogs(mut viewer: ResMut<Viewer>) {
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
            DialogResult::Objects(id, path) => ui::export_objects(&mut viewer, id, path),
            DialogResult::Report(id, path) => ui::export_report(&mut viewer, id, path),
            DialogResult::Dod(path) => {
                if let Err(e) = ui::export_dod(&mut viewer, path) {
                    viewer.errors.push(e);
                }
            }
        }
    }
}

fn file_drops(mut drops: MessageReader<bevy::window::FileDragAndDrop>, mut viewer: ResMut<Viewer>) {
    for d in drops.read() {
        if let bevy::window::FileDragAndDrop::DroppedFile { path_buf, .. } = d {
            viewer.open(path_buf.clone());
        }
    }
}

/// Layer transforms (exaggeration), visibility (blink), raster drape height, first framing.
fn sync_layers(
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
    viewer.frame_ms = if viewer.frame_ms > 0.0 { viewer.frame_ms * 0.9 + ms * 0.1 } else { ms };
    let blink_a = ((time.elapsed_secs() / viewer.compare.blink_s.max(0.1)) as u64).is_multiple_of(2);
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
    let has_dem = viewer.layers.iter().any(|l| matches!(&l.kind, LayerKind::Raster(r) if r.is_dem));
    let relay = viewer.layers.iter().any(|l| matches!(&l.kind, LayerKind::Raster(r) if !r.is_dem && (r.drape_z != r.placed_z || (r.on_dem && has_dem) != r.placed_on_dem)));
    let dem = if relay {
        viewer.layers.iter().find_map(|l| match &l.kind {
            LayerKind::Raster(r) if r.is_dem => Some(jobs::RasterLayer { image: image::RgbImage::new(1, 1), corners: r.raster.corners, heights: r.raster.heights.clone(), crs: None, size: r.raster.size }),
            _ => None,
        })
    } else {
        None
    };
    let ortho_on_dem = has_dem && viewer.layers.iter().any(|l| l.visible && matches!(&l.kind, LayerKind::Raster(r) if !r.is_dem && r.on_dem));
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
                if (r.drape_z != r.placed_z || (r.on_dem && has_dem) != r.placed_on_dem) && !r.is_dem {
                    if let Ok(h) = mesh_handles.get(r.entity) {
                        if let Some(mut m) = meshes.get_mut(&h.0) {
                            *m = match (&dem, r.on_dem) {
                                (Some(d), true) => points::ortho_on_dem_mesh(&r.raster, r.origin, d, r.drape_z),
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
            v.set_if_neq(if l.shown { Visibility::Inherited } else { Visibility::Hidden });
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
                let fov = if let Projection::Perspective(p) = p { p.fov } else { 0.8 };
                camera::apply_preset(&mut c, camera::Preset::Reset, Some(b), fov);
                viewer.framed = true;
                viewer.framed_cloud = has_cloud;
            }
        }
    }
}

/// A software renderer (lavapipe, llvmpipe) draws ~1 M points a second: start with a budget
/// that keeps the view interactive there, unless the user chose one.
fn know_renderer(mut viewer: ResMut<Viewer>, info: Option<Res<bevy::render::renderer::RenderAdapterInfo>>) {
    if viewer.renderer.is_some() {
        return;
    }
    let Some(info) = info else { return };
    // wgpu's DeviceType is not re-exported by bevy; its Debug name is stable ("Cpu").
    let software = format!("{:?}", info.device_type) == "Cpu";
    viewer.renderer = Some((format!("{} ({:?}, {})", info.name, info.device_type, info.driver), software));
    if software && !viewer.budget_explicit {
        viewer.settings.budget = 300_000;
    }
}

/// Eye-dome lighting on the 3D camera follows the setting.
fn sync_edl(viewer: Res<Viewer>, mut commands: Commands, cams: Query<(Entity, Option<&edl::EyeDome>), With<camera::OrbitCamera>>) {
    let Ok((e, current)) = cams.single() else { return };
    let want = viewer.settings.edl.then(|| edl::EyeDome { strength: viewer.settings.edl_strength, radius: 1.4, ..Default::default() });
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
fn apply_viewport(viewer: Res<Viewer>, mut cams: Query<&mut Camera, With<camera::OrbitCamera>>, windows: Query<&Window>) {
    let (Some(r), Ok(mut cam), Ok(win)) = (viewer.view_rect, cams.single_mut(), windows.single()) else { return };
    let (ww, wh) = (win.physical_width(), win.physical_height());
    let x0 = (r.min.x.max(0.0) as u32).min(ww.saturating_sub(1));
    let y0 = (r.min.y.max(0.0) as u32).min(wh.saturating_sub(1));
    let w = ((r.width().max(1.0)) as u32).min(ww - x0).max(1);
    let h = ((r.height().max(1.0)) as u32).min(wh - y0).max(1);
    let vp = bevy::camera::Viewport { physical_position: UVec2::new(x0, y0), physical_size: UVec2::new(w, h), ..default() };
    if cam.viewport.as_ref().is_none_or(|v| v.physical_position != vp.physical_position || v.physical_size != vp.physical_size) {
        cam.viewport = Some(vp);
    }
}
