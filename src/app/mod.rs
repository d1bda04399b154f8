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
pub mod paging;
pub mod points;
pub mod series;
mod state;
mod systems;
pub mod ui;

pub use state::*;
use systems::*;

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

/// Set in the render world each frame: true when no pipeline is still compiling.
#[derive(Resource, Clone, Default)]
pub struct PipelinesReady(pub Arc<std::sync::atomic::AtomicBool>);

fn check_pipelines(
    cache: Res<bevy::render::render_resource::PipelineCache>,
    flag: Res<PipelinesReady>,
) {
    flag.0.store(
        cache.waiting_pipelines().next().is_none(),
        std::sync::atomic::Ordering::Relaxed,
    );
}

/// Opens the window and runs until it is closed (or a scripted run ends).
pub fn run(opts: ViewOptions) -> anyhow::Result<()> {
    crate::io::crs::quiet_gdal();
    let lang = opts.lang.unwrap_or_else(Lang::from_env);
    let mut settings = Settings::default();
    if let Some(b) = opts.budget {
        settings.budget = b.max(1000);
    }
    if let Some(n) = opts.overview_points {
        settings.overview_points = n;
    }
    if let Some(n) = opts.cache_bytes {
        settings.cache_bytes = n;
    }
    let mut viewer = Viewer::new(lang, settings);
    viewer.budget_explicit = opts.budget.is_some();
    viewer.initial_colour = opts.colour.clone();
    viewer.start_view = opts.start_view.unwrap_or_default();
    viewer.series.epoch_request = opts.series_epoch;
    viewer.series.pick_request = opts.pick;
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
                        resolution: WindowResolution::new(opts.size.0, opts.size.1)
                            .with_scale_factor_override(1.0),
                        ..default()
                    }),
                    ..default()
                })
                .set(bevy::log::LogPlugin {
                    level: bevy::log::Level::WARN,
                    filter: "wgpu=error,naga=warn,bevy_render=warn,bevy_winit=error".into(),
                    ..default()
                }),
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
            (
                poll_jobs,
                poll_dialogs,
                file_drops,
                sync_layers,
                camera::control,
                points::update_lod,
                inspect::click,
                auto::step,
                apply_viewport,
                sync_edl,
                know_renderer,
                pace_while_loading,
            )
                .chain(),
        )
        .add_systems(
            PreUpdate,
            drop_unchanged_modifiers
                .after(bevy_egui::EguiPreUpdateSet::ProcessInput)
                .before(bevy_egui::EguiPreUpdateSet::BeginPass),
        )
        .add_systems(Last, drop_redraws_while_idle)
        .add_systems(EguiPrimaryContextPass, ui::draw);
    bevy::asset::load_internal_asset!(
        app,
        points::POINT_SHADER,
        "../../shaders/points.wgsl",
        Shader::from_wgsl
    );
    if let Some(render_app) = app.get_sub_app_mut(bevy::render::RenderApp) {
        render_app.insert_resource(ready).add_systems(
            bevy::render::Render,
            check_pipelines.in_set(bevy::render::RenderSystems::Cleanup),
        );
    }
    app.run();
    exit.result()
}

fn setup(
    mut commands: Commands,
    mut egui_settings: ResMut<bevy_egui::EguiGlobalSettings>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<points::PointMaterial>>,
    mut buffers: ResMut<Assets<bevy::render::storage::ShaderBuffer>>,
    mut viewer: ResMut<Viewer>,
    proxy: Option<Res<bevy::winit::EventLoopProxyWrapper>>,
) {
    if let Some(proxy) = proxy {
        let proxy = (**proxy).clone();
        jobs::set_waker(move || {
            let _ = proxy.send_event(bevy::winit::WinitUserEvent::WakeUp);
        });
    }
    let luts = buffers.add(points::colour_luts());
    viewer.colour_luts = luts.clone();
    // A node of no points, never culled: the point pipeline compiles while the first file is
    // read, not after its first points arrive (~0.6 s on lavapipe).
    commands.spawn((
        points::NodeMesh,
        Mesh3d(meshes.add(points::splat_mesh(1))),
        MeshMaterial3d(materials.add(points::warm_up_material(&mut buffers, luts))),
        Transform::IDENTITY,
        bevy::camera::visibility::NoFrustumCulling,
    ));
    commands.spawn((
        // EDL samples the depth of the main pass.
        Camera3d {
            depth_texture_usages: (bevy::render::render_resource::TextureUsages::RENDER_ATTACHMENT
                | bevy::render::render_resource::TextureUsages::TEXTURE_BINDING)
                .into(),
            ..default()
        },
        Msaa::Off,
        bevy::core_pipeline::tonemapping::Tonemapping::None,
        Projection::Perspective(PerspectiveProjection {
            fov: 0.8,
            near: 0.1,
            ..default()
        }),
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
// The bevy resources it needs plus the layer's own parts: a struct would only rename them.
#[allow(clippy::too_many_arguments)]
pub fn add_cloud(
    viewer: &mut Viewer,
    commands: &mut Commands,
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
            Method::M3c2 => ColourMode::Deformation {
                field: crate::fields::M3C2_DISTANCE.into(),
                significance: Some(crate::fields::M3C2_SIGNIFICANT.into()),
            },
            Method::C2c => ColourMode::Deformation {
                field: crate::fields::C2C_DZ.into(),
                significance: None,
            },
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
    let colouring = colour::Colouring::new(&cloud, &mode);
    let root = commands
        .spawn((viewer.layer_transform(cloud.origin), Visibility::Inherited))
        .id();
    let id = viewer.next_id;
    viewer.next_id += 1;
    let is_result = summary.is_some();
    let cl = CloudLayer {
        cloud: Arc::new(cloud),
        octree: Arc::new(octree),
        colouring,
        colour_version: 0,
        mode,
        range,
        root,
        nodes: HashMap::new(),
        spacing: if is_result { spacing * 1.3 } else { spacing },
        drawn: 0,
        summary,
        histogram: Default::default(),
        overview_of: None,
        retired: Vec::new(),
        paged: None,
    };
    viewer.layers.push(Layer {
        id,
        name,
        path,
        visible: true,
        shown: true,
        swipe_side: 0.0,
        kind: LayerKind::Cloud(cl),
        warnings,
    });
    if !is_result {
        // In the order the files were opened (then loaded), whichever read finished first.
        let rank = |l: &Layer| {
            let k = l
                .path
                .as_ref()
                .and_then(|p| viewer.opened.iter().position(|o| o == p));
            (k.unwrap_or(usize::MAX), l.id)
        };
        let mut epochs: Vec<(usize, u32)> = viewer
            .layers
            .iter()
            .filter(|l| l.is_epoch())
            .map(|l| (rank(l).0, l.id))
            .collect();
        epochs.sort();
        let epochs: Vec<u32> = epochs.into_iter().map(|(_, id)| id).collect();
        if !viewer.change.epochs_chosen {
            viewer.change.e1 = None;
            viewer.change.e2 = None;
        }
        if viewer.change.e1.is_none() {
            viewer.change.e1 = epochs.first().copied();
        }
        if viewer.change.e2.is_none() || viewer.change.e2 == viewer.change.e1 {
            viewer.change.e2 = epochs
                .iter()
                .copied()
                .find(|&e| Some(e) != viewer.change.e1);
        }
        viewer.compare.a = viewer.change.e1;
        viewer.compare.b = viewer.change.e2;
    }
    id
}

/// The whole cloud of a file (or a denser overview) takes the place of its overview: same
/// layer, colour mode and range; the old meshes stay drawn until the new nodes are (no blank
/// frames).
pub fn replace_cloud(
    viewer: &mut Viewer,
    commands: &mut Commands,
    id: u32,
    cloud: PointCloud,
    octree: Octree,
    warnings: Vec<String>,
    overview_of: Option<u64>,
) {
    let transform = viewer.layer_transform(cloud.origin);
    let Some(l) = viewer.layers.iter_mut().find(|l| l.id == id) else {
        return;
    };
    let LayerKind::Cloud(c) = &mut l.kind else {
        return;
    };
    c.colouring = colour::Colouring::new(&cloud, &c.mode);
    c.spacing = mean_spacing(&cloud);
    c.retired.extend(c.nodes.drain().map(|(_, nd)| nd.entity));
    c.cloud = Arc::new(cloud);
    c.octree = Arc::new(octree);
    c.overview_of = overview_of;
    commands.entity(c.root).insert(transform);
    // A refreshed overview carries no warnings of its own: the first one's stay.
    if overview_of.is_none() || !warnings.is_empty() {
        l.warnings = warnings;
    }
    // Picks and the cross-section refine with the cloud.
    let (cloud, octree) = (c.cloud.clone(), c.octree.clone());
    inspect::repick(&mut viewer.picks, id, &cloud, &octree);
    if let Some(p) = &viewer.profile {
        let (a, b) = (p.a, p.b);
        viewer.profile = Some(inspect::make_profile(viewer, a, b));
    }
}

/// Layers read on demand (`paging`) take their newest snapshot: nodes on the GPU that it still
/// holds stay there (a node id is the same node of the file, with the same points), the others
/// go; picks and the cross-section move to it. Nodes that could not be read are said once.
fn take_snapshots(viewer: &mut Viewer, commands: &mut Commands) {
    let mut moved = Vec::new();
    let mut errors = Vec::new();
    for l in viewer.layers.iter_mut() {
        let LayerKind::Cloud(c) = &mut l.kind else {
            continue;
        };
        let Some(paged) = &c.paged else { continue };
        errors.extend(
            paged
                .take_errors()
                .into_iter()
                .map(|e| format!("{}: {e}", l.name)),
        );
        let Some(s) = paged.take() else { continue };
        c.nodes.retain(|&id, nd| {
            let keep = s
                .octree
                .nodes
                .get(id as usize)
                .is_some_and(|n| n.count == nd.count && n.count > 0);
            if !keep {
                commands.entity(nd.entity).despawn();
            }
            keep
        });
        c.cloud = Arc::new(s.cloud);
        c.octree = Arc::new(s.octree);
        moved.push((l.id, c.cloud.clone(), c.octree.clone()));
    }
    viewer.errors.extend(errors);
    if moved.is_empty() {
        return;
    }
    for (id, cloud, octree) in moved {
        inspect::repick(&mut viewer.picks, id, &cloud, &octree);
    }
    if let Some(p) = &viewer.profile {
        let (a, b) = (p.a, p.b);
        viewer.profile = Some(inspect::make_profile(viewer, a, b));
    }
}

fn add_raster(
    viewer: &mut Viewer,
    commands: &mut Commands,
    meshes: &mut Assets<Mesh>,
    images: &mut Assets<Image>,
    materials: &mut Assets<StandardMaterial>,
    path: PathBuf,
    raster: jobs::RasterLayer,
) {
    let [tl, _, br, _] = raster.corners;
    let centre = [(tl[0] + br[0]) * 0.5, (tl[1] + br[1]) * 0.5, 0.0];
    if viewer.scene_origin.is_none() {
        let z = raster
            .heights
            .as_ref()
            .and_then(|h| colour::percentile(h.clone(), 0.02))
            .unwrap_or(0.0);
        viewer.scene_origin = Some([centre[0], centre[1], f64::from(z)]);
    }
    let origin = viewer.scene_origin.unwrap_or(centre);
    let is_dem = raster.heights.is_some();
    let drape_z = ground_height(viewer).unwrap_or(origin[2] as f32) - origin[2] as f32;
    let (w, h) = raster.image.dimensions();
    let rgba: Vec<u8> = raster
        .image
        .pixels()
        .flat_map(|p| [p.0[0], p.0[1], p.0[2], 255])
        .collect();
    let image = Image::new(
        bevy::render::render_resource::Extent3d {
            width: w,
            height: h,
            depth_or_array_layers: 1,
        },
        bevy::render::render_resource::TextureDimension::D2,
        rgba,
        bevy::render::render_resource::TextureFormat::Rgba8UnormSrgb,
        bevy::asset::RenderAssetUsages::RENDER_WORLD,
    );
    let mat = materials.add(StandardMaterial {
        base_color_texture: Some(images.add(image)),
        unlit: true,
        cull_mode: None,
        ..default()
    });
    let mesh = meshes.add(points::raster_mesh(&raster, origin, drape_z));
    let root = commands
        .spawn((viewer.layer_transform(origin), Visibility::Inherited))
        .id();
    let entity = commands
        .spawn((
            Mesh3d(mesh),
            MeshMaterial3d(mat),
            Transform::IDENTITY,
            Visibility::Inherited,
            ChildOf(root),
        ))
        .id();
    let id = viewer.next_id;
    viewer.next_id += 1;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    // Drop the pixels: the texture has them now.
    let raster = jobs::RasterLayer {
        image: image::RgbImage::new(1, 1),
        ..raster
    };
    viewer.layers.push(Layer {
        id,
        name,
        path: Some(path),
        visible: true,
        shown: true,
        swipe_side: 0.0,
        kind: LayerKind::Raster(RasterView {
            raster,
            root,
            entity,
            origin,
            drape_z,
            placed_z: drape_z,
            is_dem,
            on_dem: true,
            placed_on_dem: false,
        }),
        warnings: Vec::new(),
    });
}

/// Where a photo lies by default: just under the lowest ground of the clouds (2nd percentile).
fn ground_height(viewer: &Viewer) -> Option<f32> {
    let mut zs = Vec::new();
    for l in &viewer.layers {
        if let LayerKind::Cloud(c) = &l.kind {
            let step = (c.cloud.len() / 20_000).max(1);
            zs.extend(
                c.cloud
                    .positions
                    .iter()
                    .step_by(step)
                    .map(|p| (f64::from(p[2]) + c.cloud.origin[2]) as f32),
            );
        }
    }
    colour::percentile(zs, 0.02).map(|z| z - 0.05)
}
