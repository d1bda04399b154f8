//! Point rendering: our WGSL splat material pulling each octree node's points from storage
//! buffers (12 bytes per point on the GPU), colour maps applied in the shader, and the
//! per-frame choice of nodes within the point budget (nearest and largest on screen first).

use super::{CloudLayer, LayerKind, Viewer};
use bevy::asset::RenderAssetUsages;
use bevy::camera::primitives::Aabb;
use bevy::mesh::{
    Indices, MeshVertexAttribute, MeshVertexBufferLayoutRef, PrimitiveTopology,
    VertexAttributeValues,
};
use bevy::pbr::{MaterialPipeline, MaterialPipelineKey};
use bevy::prelude::*;
use bevy::render::render_resource::{
    AsBindGroup, RenderPipelineDescriptor, ShaderType, SpecializedMeshPipelineError, VertexFormat,
};
use bevy::render::storage::ShaderBuffer;
use bevy::shader::ShaderRef;

pub const POINT_SHADER: Handle<Shader> =
    bevy::asset::uuid_handle!("5b0c6f0e-6a3c-4d5e-9a51-7c1f3c2e9b42");

/// The number of a splat's vertex (point = number / 3, corner = number % 3).
pub const ATTRIBUTE_SPLAT_NUMBER: MeshVertexAttribute = MeshVertexAttribute::new(
    "KizashiSplatNumber",
    0x6b69_7a61_7368_6902,
    VertexFormat::Uint32,
);

/// GPU bytes per point of a node: u16 x 3 position (+ 2 spare) and one 4-byte attribute.
pub const GPU_BYTES_PER_POINT: usize = 12;

#[derive(Clone, Copy, Debug, Default, PartialEq, ShaderType)]
pub struct PointParams {
    pub size_world: f32,
    pub min_px: f32,
    pub max_px: f32,
    pub swipe_x: f32,
    pub swipe_side: f32,
    pub rim: f32,
    pub shading: u32,
    pub count: u32,
    pub lo: f32,
    pub hi: f32,
    /// The node cube's corner and its quantum (`positions_buffer`).
    pub node_min: Vec3,
    pub step: f32,
}

/// One octree node's points: its positions and attributes live in its own storage buffers.
#[derive(Asset, TypePath, AsBindGroup, Debug, Clone)]
pub struct PointMaterial {
    #[uniform(0)]
    pub params: PointParams,
    #[storage(1, read_only, visibility(vertex))]
    pub positions: Handle<ShaderBuffer>,
    #[storage(2, read_only, visibility(vertex))]
    pub attributes: Handle<ShaderBuffer>,
    /// `colour_luts`, shared.
    #[storage(3, read_only, visibility(vertex))]
    pub luts: Handle<ShaderBuffer>,
}

impl Material for PointMaterial {
    fn vertex_shader() -> ShaderRef {
        ShaderRef::Handle(POINT_SHADER)
    }
    fn fragment_shader() -> ShaderRef {
        ShaderRef::Handle(POINT_SHADER)
    }
    fn enable_prepass() -> bool {
        false
    }
    fn enable_shadows() -> bool {
        false
    }
    fn specialize(
        _pipeline: &MaterialPipeline,
        descriptor: &mut RenderPipelineDescriptor,
        layout: &MeshVertexBufferLayoutRef,
        _key: MaterialPipelineKey<Self>,
    ) -> Result<(), SpecializedMeshPipelineError> {
        let vertex_layout = layout
            .0
            .get_layout(&[ATTRIBUTE_SPLAT_NUMBER.at_shader_location(0)])?;
        descriptor.vertex.buffers = vec![vertex_layout];
        // Both faces: a splat is a screen-facing triangle, its winding depends on nothing we control.
        descriptor.primitive.cull_mode = None;
        Ok(())
    }
}

/// The colour tables every node's material binds (`shaders/points.wgsl`, binding 3): the
/// stops of `crate::colourmap` (one source for the screen, the legend and the exports) and
/// sRGB -> linear for 256 values.
pub fn colour_luts() -> ShaderBuffer {
    let mut v: Vec<f32> = Vec::new();
    for c in crate::colourmap::VIRIDIS
        .iter()
        .chain(&crate::colourmap::RDBU)
    {
        v.extend([f32::from(c[0]), f32::from(c[1]), f32::from(c[2]), 0.0]);
    }
    v.extend((0..256).map(|k| {
        let c = k as f32 / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    }));
    gpu_buffer(v.iter().flat_map(|x| x.to_le_bytes()).collect())
}

/// Splats in the shared splat meshes: 256 growing by half, so a node draws at most a third
/// more splats than it has points (the extra ones are dropped in the vertex shader).
pub fn splat_count(points: usize) -> usize {
    let mut n = 256usize;
    while n < points {
        n += n / 2;
    }
    n
}

/// `splats` numbered splats, shared by every node that fits: the point data is in the node's
/// material. A splat is one triangle around the point's disc, not a quad: on lavapipe one
/// triangle of 3 vertices drew 1 M points ~20 % faster than two of 4, despite 30 % more
/// area (triangle setup and vertex work, not pixels, set the frame time there).
pub fn splat_mesh(splats: usize) -> Mesh {
    Mesh::new(
        PrimitiveTopology::TriangleList,
        RenderAssetUsages::RENDER_WORLD,
    )
    .with_inserted_attribute(
        ATTRIBUTE_SPLAT_NUMBER,
        VertexAttributeValues::Uint32((0..3 * splats as u32).collect()),
    )
}

/// Bytes of a shared splat mesh of `splats` splats (3 u32 numbers each, no index buffer).
pub fn splat_mesh_bytes(splats: usize) -> usize {
    splats * 12
}

fn bytes_of<T: Copy, const N: usize>(
    v: impl Iterator<Item = T>,
    f: impl Fn(T) -> [u8; N],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.size_hint().0 * N);
    for x in v {
        out.extend_from_slice(&f(x));
    }
    // wgpu refuses empty buffers.
    if out.is_empty() {
        out.resize(16, 0);
    }
    out
}

/// A storage buffer uploaded once and not kept in main memory.
fn gpu_buffer(data: Vec<u8>) -> ShaderBuffer {
    ShaderBuffer {
        data: Some(data),
        buffer_description: bevy::render::render_resource::BufferDescriptor {
            label: Some("kizashi_points"),
            size: 0,
            usage: bevy::render::render_resource::BufferUsages::STORAGE
                | bevy::render::render_resource::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        },
        asset_usage: RenderAssetUsages::RENDER_WORLD,
        copy_on_resize: false,
    }
}

/// A node cube's quantum: u16 steps over its side.
pub fn node_step(n: &crate::analysis::octree::Node) -> f32 {
    n.size / 65535.0
}

/// A node's positions as u16 x 3 over its cube (Potree's layout): 8 bytes a point, x | y << 16
/// then z. The step is the cube's side / 65535: 1.5 cm for a 1 km root, whose points are only
/// drawn from far away; finer in every deeper node. Picking and measuring use the f32 points.
pub fn positions_buffer(layer: &CloudLayer, node: usize) -> ShaderBuffer {
    let n = &layer.octree.nodes[node];
    let step = node_step(n);
    let p = &layer.cloud.positions;
    let q = |v: f32, k: usize| ((v - n.min[k]) / step).round().clamp(0.0, 65535.0) as u32;
    gpu_buffer(bytes_of(layer.octree.points(node).iter(), |&i| {
        let v = p[i as usize];
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&(q(v[0], 0) | (q(v[1], 1) << 16)).to_le_bytes());
        b[4..].copy_from_slice(&q(v[2], 2).to_le_bytes());
        b
    }))
}

/// A node's attributes (`colour::Colouring`) as a storage buffer.
pub fn attributes_buffer(
    colouring: &super::colour::Colouring,
    cloud: &crate::cloud::PointCloud,
    idx: &[u32],
) -> ShaderBuffer {
    let a = colouring.attributes(cloud, idx);
    gpu_buffer(bytes_of(a.into_iter(), u32::to_le_bytes))
}

/// The pipeline warm-up's material: no points (every splat dropped, no pixels).
pub fn warm_up_material(
    buffers: &mut Assets<ShaderBuffer>,
    luts: Handle<ShaderBuffer>,
) -> PointMaterial {
    PointMaterial {
        params: PointParams::default(),
        positions: buffers.add(gpu_buffer(vec![0; 16])),
        attributes: buffers.add(gpu_buffer(vec![0; 16])),
        luts,
    }
}

/// A drawn (or recently drawn) octree node.
pub struct NodeDraw {
    pub entity: Entity,
    /// Frame it was last wanted in.
    pub last: u64,
    pub material: Handle<PointMaterial>,
    /// `CloudLayer::colour_version` its attributes were made for.
    pub colour_version: u64,
    pub count: usize,
}

/// One drawn node.
#[derive(Component)]
pub struct NodeMesh;

/// What the camera sees this frame, for node selection and picking.
#[derive(Clone, Copy)]
pub struct ViewInfo {
    pub clip_from_world: Mat4,
    pub camera_pos: Vec3,
    /// Viewport origin and size in physical pixels.
    pub viewport: Vec4,
    pub focal_px: f32,
}

impl ViewInfo {
    pub fn from_camera(cam: &Camera, proj: &Projection, gt: &GlobalTransform) -> Option<ViewInfo> {
        let rect = cam.physical_viewport_rect()?;
        let size = rect.size().as_vec2();
        if size.x < 1.0 || size.y < 1.0 {
            return None;
        }
        let clip_from_view = proj.get_clip_from_view();
        Some(ViewInfo {
            clip_from_world: clip_from_view * gt.to_matrix().inverse(),
            camera_pos: gt.translation(),
            viewport: Vec4::new(rect.min.x as f32, rect.min.y as f32, size.x, size.y),
            focal_px: clip_from_view.y_axis.y * 0.5 * size.y,
        })
    }

    /// Physical pixel position and clip w of a world point; None behind the camera.
    pub fn project(&self, world: Vec3) -> Option<(Vec2, f32)> {
        let c = self.clip_from_world * world.extend(1.0);
        if c.w <= 1e-6 {
            return None;
        }
        let ndc = c.truncate() / c.w;
        Some((
            Vec2::new(
                self.viewport.x + (ndc.x + 1.0) * 0.5 * self.viewport.z,
                self.viewport.y + (1.0 - ndc.y) * 0.5 * self.viewport.w,
            ),
            c.w,
        ))
    }
}

/// Box in a layer's local frame against the view frustum (conservative: false only when all
/// eight corners are outside one clip plane).
fn box_visible(clip_from_local: &Mat4, lo: &[f32; 3], hi: &[f32; 3]) -> bool {
    let mut out = [0u8; 5];
    for c in 0..8 {
        let p = Vec3::new(
            if c & 1 == 0 { lo[0] } else { hi[0] },
            if c & 2 == 0 { lo[1] } else { hi[1] },
            if c & 4 == 0 { lo[2] } else { hi[2] },
        );
        let v = *clip_from_local * p.extend(1.0);
        out[0] += u8::from(v.x < -v.w);
        out[1] += u8::from(v.x > v.w);
        out[2] += u8::from(v.y < -v.w);
        out[3] += u8::from(v.y > v.w);
        out[4] += u8::from(v.w <= 0.0);
    }
    !out.contains(&8)
}

/// Per frame: pick each visible cloud layer's nodes within its share of the budget, spawn
/// the missing ones (a bounded number of points per frame, so the window stays fluid), size
/// each node's splats to the finest level drawn over it, hide the rest, and free nodes that
/// have not been wanted for a while.
#[allow(clippy::too_many_arguments)]
pub fn update_lod(
    mut commands: Commands,
    mut viewer: ResMut<Viewer>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<PointMaterial>>,
    mut buffers: ResMut<Assets<ShaderBuffer>>,
    camera: Query<(&Camera, &Projection, &GlobalTransform), With<super::camera::OrbitCamera>>,
    roots: Query<&GlobalTransform, Without<super::camera::OrbitCamera>>,
    mut vis: Query<&mut Visibility, With<NodeMesh>>,
    ready: Res<super::PipelinesReady>,
) {
    let Ok((cam, proj, gt)) = camera.single() else {
        return;
    };
    let Some(view) = ViewInfo::from_camera(cam, proj, gt) else {
        return;
    };
    viewer.view = Some(view);
    let settings = viewer.settings.clone();
    let frame = viewer.frame;
    let shown: Vec<usize> = viewer
        .layers
        .iter()
        .enumerate()
        .filter(|(_, l)| l.shown && matches!(l.kind, LayerKind::Cloud(_)))
        .map(|(i, _)| i)
        .collect();
    // Until bevy has compiled its pipelines once, a quarter of the budget: on a software
    // renderer every point drawn takes CPU from the compile, which sets the first frame (10 M
    // LAS, 2 cores, lavapipe: 0.73-0.96 s against 0.77-1.33 s with the whole budget).
    viewer.started_up |= ready.0.load(std::sync::atomic::Ordering::Relaxed);
    let budget = if viewer.started_up {
        settings.budget
    } else {
        settings.budget / 4
    };
    let share = budget / shown.len().max(1);
    let mut spawn_left = if viewer.auto_active {
        usize::MAX
    } else {
        settings.budget.min(1_500_000) / 3
    };
    let mut pending = false;
    // Layers of files being read whose view would draw more points than their overview holds.
    let mut short = Vec::new();
    let mut drawn = 0usize;
    let mut held = 0usize;
    let swipe_px = view.viewport.x + viewer.compare.swipe * view.viewport.z;
    let viewer = &mut *viewer;
    for li in 0..viewer.layers.len() {
        let shown_now = shown.contains(&li);
        let layer = &mut viewer.layers[li];
        let (swipe_side, layer_id) = (layer.swipe_side, layer.id);
        let LayerKind::Cloud(cl) = &mut layer.kind else {
            continue;
        };
        let world_from_local = roots.get(cl.root).ok().map(|g| g.to_matrix());
        let clip_from_local = world_from_local.map(|m| view.clip_from_world * m);
        let selection = match (shown_now, world_from_local, clip_from_local) {
            (true, Some(world_from_local), Some(clip_from_local)) => {
                let cam = view.camera_pos;
                // A file read on demand: select from its whole hierarchy.
                let tree = cl.paged.as_ref().map_or(&cl.octree, |p| &p.tree);
                let grid = tree.params.grid;
                tree.select(
                    share,
                    settings.min_node_px,
                    |lo, hi| box_visible(&clip_from_local, lo, hi),
                    |n| {
                        let c = world_from_local.transform_point3(Vec3::from(n.center()));
                        let d = (c - cam).length().max(1e-3);
                        // Projected size of the node's sample spacing x grid = node size.
                        n.spacing(grid) * grid as f32 * view.focal_px / d
                    },
                )
            }
            (true, ..) => continue,
            _ => Default::default(),
        };
        if shown_now && !selection.budget_full && cl.overview_of.is_some() && cl.paged.is_none() {
            short.push(li);
        }
        let wanted = selection.nodes;
        let wanted_set: std::collections::HashSet<u32> = wanted.iter().copied().collect();
        let mut layer_pending = false;
        if let (Some(paged), true) = (&mut cl.paged, shown_now) {
            // Nodes holding this layer's picks stay read, so that the picks stay.
            let mut ask = wanted.clone();
            for p in viewer.picks.iter().filter(|p| p.layer == layer_id) {
                if let Some(id) = node_of(&cl.octree, p.index) {
                    if !wanted_set.contains(&id) && !ask.contains(&id) {
                        ask.push(id);
                    }
                }
            }
            paged.want(ask);
            if paged.busy() {
                pending = true;
                layer_pending = true;
            }
        }
        for &id in &wanted {
            if let Some(nd) = cl.nodes.get_mut(&id) {
                nd.last = frame;
                if let Ok(mut v) = vis.get_mut(nd.entity) {
                    v.set_if_neq(Visibility::Inherited);
                }
                continue;
            }
            // A node read on demand that is not read yet (or could not be).
            let Some(n) = cl.octree.nodes.get(id as usize).filter(|n| n.count > 0) else {
                continue;
            };
            if n.count > spawn_left {
                pending = true;
                layer_pending = true;
                continue;
            }
            spawn_left -= n.count;
            let splats = splat_count(n.count);
            let mesh = viewer
                .splat_meshes
                .entry(splats)
                .or_insert_with(|| meshes.add(splat_mesh(splats)))
                .clone();
            let material = materials.add(PointMaterial {
                params: PointParams::default(),
                positions: buffers.add(positions_buffer(cl, id as usize)),
                attributes: buffers.add(attributes_buffer(
                    &cl.colouring,
                    &cl.cloud,
                    cl.octree.points(id as usize),
                )),
                luts: viewer.colour_luts.clone(),
            });
            let e = commands
                .spawn((
                    NodeMesh,
                    Mesh3d(mesh),
                    MeshMaterial3d(material.clone()),
                    Transform::IDENTITY,
                    Visibility::Inherited,
                    Aabb::from_min_max(Vec3::from(n.tight_min), Vec3::from(n.tight_max)),
                    ChildOf(cl.root),
                ))
                .id();
            cl.nodes.insert(
                id,
                NodeDraw {
                    entity: e,
                    last: frame,
                    material,
                    colour_version: cl.colour_version,
                    count: n.count,
                },
            );
        }
        // An overview replaced by its whole cloud goes once the cloud's nodes are all drawn.
        if !layer_pending || !shown_now {
            for e in cl.retired.drain(..) {
                commands.entity(e).despawn();
            }
        }
        // Hide what is not wanted; free what has been unwanted for ~2 s.
        let mut free = Vec::new();
        for (&id, nd) in cl.nodes.iter() {
            if !wanted_set.contains(&id) {
                if let Ok(mut v) = vis.get_mut(nd.entity) {
                    v.set_if_neq(Visibility::Hidden);
                }
                if frame.saturating_sub(nd.last) > 120 || !shown_now {
                    free.push(id);
                }
            }
        }
        for id in free {
            if let Some(nd) = cl.nodes.remove(&id) {
                commands.entity(nd.entity).despawn();
            }
        }
        // Splat sizes: each drawn node's cover spacing (never below the cloud's own).
        let drawn_set: std::collections::HashSet<u32> = wanted
            .iter()
            .copied()
            .filter(|id| cl.nodes.contains_key(id))
            .collect();
        let cover = match clip_from_local {
            Some(m) => cl
                .octree
                .cover_spacing(&drawn_set, |n| box_visible(&m, &n.tight_min, &n.tight_max)),
            None => Default::default(),
        };
        let (shading, range) = (cl.colouring.shading as u32, cl.range);
        // COPC writers keep any point of a cell (untwine, PDAL, ours: the first), not the
        // one nearest its centre as our octree does: neighbours can be two cells apart.
        let splat_cover = if cl.paged.is_some() { 2.0 } else { SPLAT_COVER };
        let layer_params = PointParams {
            size_world: cl.spacing * settings.point_size,
            min_px: settings.min_px,
            max_px: 32.0,
            swipe_x: swipe_px,
            swipe_side,
            rim: if settings.rim { 0.35 } else { 0.0 },
            shading,
            lo: range.0,
            hi: range.1,
            ..Default::default()
        };
        for (id, nd) in cl.nodes.iter_mut() {
            held += nd.count;
            let recolour = nd.colour_version != cl.colour_version;
            let size = cover
                .get(id)
                .map(|&s| s.max(cl.spacing) * splat_cover * settings.point_size);
            let Some(m) = materials.get(&nd.material) else {
                continue;
            };
            let node = &cl.octree.nodes[*id as usize];
            let want = PointParams {
                size_world: size.unwrap_or(m.params.size_world),
                count: nd.count as u32,
                node_min: Vec3::from(node.min),
                step: node_step(node),
                ..layer_params
            };
            if m.params == want && !recolour {
                continue;
            }
            let Some(mut m) = materials.get_mut(&nd.material) else {
                continue;
            };
            m.params = want;
            if recolour {
                // A new buffer, not an update: the old one may be bound in a frame in flight.
                let idx = cl.octree.points(*id as usize);
                m.attributes = buffers.add(attributes_buffer(&cl.colouring, &cl.cloud, idx));
                nd.colour_version = cl.colour_version;
            }
        }
        cl.drawn = drawn_set
            .iter()
            .map(|&id| cl.octree.nodes[id as usize].count)
            .sum();
        drawn += cl.drawn;
    }
    viewer.points_drawn = drawn;
    viewer.points_held = held;
    viewer.lod_pending = pending;
    for (_, job) in &viewer.jobs {
        let wants = short
            .iter()
            .any(|&li| job.file.is_some() && viewer.layers[li].path == job.file);
        job.progress.want_views(wants);
    }
}

/// A splat's diameter over its node's spacing: discs as wide as the spacing leave a fifth of
/// a sampled level's grid uncovered (pi / 4), stipple where a coarse level is drawn alone;
/// as wide as a cell's diagonal they close it.
const SPLAT_COVER: f32 = std::f32::consts::SQRT_2;

/// The node of a snapshot's octree (`paging`: points in node order) that holds point `index`.
fn node_of(octree: &crate::analysis::octree::Octree, index: usize) -> Option<u32> {
    octree
        .nodes
        .iter()
        .position(|n| n.count > 0 && (n.start..n.start + n.count).contains(&index))
        .map(|i| i as u32)
}

/// Despawns every node of a layer (its buffers go with their materials).
pub fn clear_nodes(commands: &mut Commands, cl: &mut CloudLayer) {
    for (_, nd) in cl.nodes.drain() {
        commands.entity(nd.entity).despawn();
    }
    for e in cl.retired.drain(..) {
        commands.entity(e).despawn();
    }
}

/// A quad (orthophoto) or height field (DEM) in a layer's local frame.
pub fn raster_mesh(r: &super::jobs::RasterLayer, origin: [f64; 3], z: f32) -> Mesh {
    let local = |p: [f64; 2]| [(p[0] - origin[0]) as f32, (p[1] - origin[1]) as f32];
    match &r.heights {
        None => {
            let c = r.corners.map(local);
            let pos: Vec<[f32; 3]> = c.iter().map(|p| [p[0], p[1], z]).collect();
            let uv = vec![[0.0f32, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]];
            surface_mesh(pos, uv, vec![0, 2, 1, 0, 3, 2])
        }
        Some(h) => {
            let (w, hh) = r.size;
            let [tl, tr, _br, bl] = r.corners;
            let mut pos = Vec::with_capacity(w * hh);
            let mut uv = Vec::with_capacity(w * hh);
            let fill = super::colour::percentile(h.clone(), 0.02).unwrap_or(0.0);
            for y in 0..hh {
                for x in 0..w {
                    // Cell centres.
                    let (fx, fy) = ((x as f64 + 0.5) / w as f64, (y as f64 + 0.5) / hh as f64);
                    let wx = tl[0] + (tr[0] - tl[0]) * fx + (bl[0] - tl[0]) * fy;
                    let wy = tl[1] + (tr[1] - tl[1]) * fx + (bl[1] - tl[1]) * fy;
                    let v = h[y * w + x];
                    let l = local([wx, wy]);
                    pos.push([
                        l[0],
                        l[1],
                        (if v.is_finite() { v } else { fill }) - origin[2] as f32,
                    ]);
                    uv.push([fx as f32, fy as f32]);
                }
            }
            let mut ind = Vec::with_capacity((w - 1) * (hh - 1) * 6);
            for y in 0..hh - 1 {
                for x in 0..w - 1 {
                    let i = (y * w + x) as u32;
                    let (a, b, c, d) = (i, i + 1, i + w as u32 + 1, i + w as u32);
                    // No triangles over no-data.
                    if [a, b, c, d].iter().all(|&k| h[k as usize].is_finite()) {
                        ind.extend_from_slice(&[a, c, b, a, d, c]);
                    }
                }
            }
            surface_mesh(pos, uv, ind)
        }
    }
}

/// A textured, unlit surface (normals only satisfy the standard material's layout).
fn surface_mesh(pos: Vec<[f32; 3]>, uv: Vec<[f32; 2]>, ind: Vec<u32>) -> Mesh {
    let n = pos.len();
    Mesh::new(
        PrimitiveTopology::TriangleList,
        RenderAssetUsages::default(),
    )
    .with_inserted_attribute(Mesh::ATTRIBUTE_POSITION, pos)
    .with_inserted_attribute(Mesh::ATTRIBUTE_NORMAL, vec![[0.0f32, 0.0, 1.0]; n])
    .with_inserted_attribute(Mesh::ATTRIBUTE_UV_0, uv)
    .with_inserted_indices(Indices::U32(ind))
}

/// Height of a DEM at world (x, y), bilinear between cell centres; None outside the grid or
/// where a neighbouring cell has no data.
pub fn dem_height(dem: &super::jobs::RasterLayer, x: f64, y: f64) -> Option<f32> {
    let h = dem.heights.as_ref()?;
    let [tl, tr, _, bl] = dem.corners;
    // Solve tl + fx (tr - tl) + fy (bl - tl) = (x, y): the grid may be rotated.
    let (ax, ay, bx, by) = (tr[0] - tl[0], tr[1] - tl[1], bl[0] - tl[0], bl[1] - tl[1]);
    let det = ax * by - ay * bx;
    if det.abs() < 1e-12 {
        return None;
    }
    let (dx, dy) = (x - tl[0], y - tl[1]);
    let fx = (dx * by - dy * bx) / det;
    let fy = (ax * dy - ay * dx) / det;
    if !(0.0..1.0).contains(&fx) || !(0.0..1.0).contains(&fy) {
        return None;
    }
    let (w, hh) = dem.size;
    // Continuous cell coordinates with centres at integers, clamped at the edges.
    let cx = (fx * w as f64 - 0.5).clamp(0.0, (w - 1) as f64);
    let cy = (fy * hh as f64 - 0.5).clamp(0.0, (hh - 1) as f64);
    let (x0, y0) = (cx.floor() as usize, cy.floor() as usize);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(hh - 1));
    let (tx, ty) = ((cx - x0 as f64) as f32, (cy - y0 as f64) as f32);
    // Weights over the neighbours that have data (an edge of no-data does not swallow the
    // cells next to it); None when only no-data cells carry weight.
    let mut sum = 0.0f32;
    let mut wsum = 0.0f32;
    for (c, r, wt) in [
        (x0, y0, (1.0 - tx) * (1.0 - ty)),
        (x1, y0, tx * (1.0 - ty)),
        (x0, y1, (1.0 - tx) * ty),
        (x1, y1, tx * ty),
    ] {
        if let Some(v) = h.get(r * w + c).copied().filter(|v| v.is_finite()) {
            sum += v * wt;
            wsum += wt;
        }
    }
    (wsum > 1e-3).then(|| sum / wsum)
}

/// An orthophoto laid on a DEM: a 256 x 256 grid over the photo, each vertex at the DEM's
/// height (the flat drape height where the DEM has none), a hair above so the photo wins.
pub fn ortho_on_dem_mesh(
    r: &super::jobs::RasterLayer,
    origin: [f64; 3],
    dem: &super::jobs::RasterLayer,
    fallback_z: f32,
) -> Mesh {
    let n = 256usize;
    let [tl, tr, _, bl] = r.corners;
    let mut pos = Vec::with_capacity(n * n);
    let mut uv = Vec::with_capacity(n * n);
    for j in 0..n {
        for i in 0..n {
            let (fx, fy) = (i as f64 / (n - 1) as f64, j as f64 / (n - 1) as f64);
            let x = tl[0] + (tr[0] - tl[0]) * fx + (bl[0] - tl[0]) * fy;
            let y = tl[1] + (tr[1] - tl[1]) * fx + (bl[1] - tl[1]) * fy;
            let z = dem_height(dem, x, y)
                .map(|z| z - origin[2] as f32 + 0.05)
                .unwrap_or(fallback_z);
            pos.push([(x - origin[0]) as f32, (y - origin[1]) as f32, z]);
            uv.push([fx as f32, fy as f32]);
        }
    }
    let mut ind = Vec::with_capacity((n - 1) * (n - 1) * 6);
    for j in 0..n - 1 {
        for i in 0..n - 1 {
            let a = (j * n + i) as u32;
            let (b, c, d) = (a + 1, a + n as u32 + 1, a + n as u32);
            ind.extend_from_slice(&[a, c, b, a, d, c]);
        }
    }
    surface_mesh(pos, uv, ind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dem_height_follows_the_grid_and_its_rotation() {
        // 3 x 2 cells of 10 m, north up, top-left at (100, 220); one cell without data.
        let dem = super::super::jobs::RasterLayer {
            image: image::RgbImage::new(1, 1),
            corners: [
                [100.0, 220.0],
                [130.0, 220.0],
                [130.0, 200.0],
                [100.0, 200.0],
            ],
            heights: Some(vec![1.0, 2.0, 4.0, 3.0, 4.0, f32::NAN]),
            crs: None,
            size: (3, 2),
        };
        // Cell centres give the cell's value; half-way between two centres, the mean.
        assert_eq!(dem_height(&dem, 105.0, 215.0), Some(1.0));
        assert_eq!(dem_height(&dem, 110.0, 215.0), Some(1.5));
        assert_eq!(dem_height(&dem, 105.0, 205.0), Some(3.0));
        assert_eq!(dem_height(&dem, 110.0, 210.0), Some(2.5));
        // Edges clamp to the outer centres; no data anywhere near -> None; outside -> None.
        assert_eq!(dem_height(&dem, 101.0, 219.0), Some(1.0));
        assert_eq!(dem_height(&dem, 128.0, 202.0), None);
        assert_eq!(dem_height(&dem, 120.0, 205.0), Some(4.0));
        assert_eq!(dem_height(&dem, 95.0, 205.0), None);
        // Rotated 90 degrees: "right" along the grid is south.
        let rot = super::super::jobs::RasterLayer {
            corners: [[100.0, 220.0], [100.0, 190.0], [80.0, 190.0], [80.0, 220.0]],
            ..dem
        };
        assert_eq!(dem_height(&rot, 95.0, 215.0), Some(1.0));
        assert_eq!(dem_height(&rot, 95.0, 205.0), Some(2.0));
        assert_eq!(dem_height(&rot, 85.0, 215.0), Some(3.0));
    }
}
