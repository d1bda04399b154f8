//! Eye-dome lighting as a post-process on the 3D camera (shaders/edl.wgsl). Bevy's
//! `FullscreenMaterial` binds only the colour texture; EDL needs the main pass's depth too, so
//! this is that plugin with one more binding. The camera's depth texture is made sampleable in
//! `setup` (`Camera3d::depth_texture_usages`).

use bevy::core_pipeline::{tonemapping::tonemapping, Core3d, Core3dSystems, FullscreenShader};
use bevy::prelude::*;
use bevy::render::extract_component::{
    ComponentUniforms, DynamicUniformIndex, ExtractComponent, ExtractComponentPlugin,
    UniformComponentPlugin,
};
use bevy::render::render_resource::binding_types::{texture_2d, texture_depth_2d, uniform_buffer};
use bevy::render::render_resource::{
    BindGroup, BindGroupEntries, BindGroupLayoutDescriptor, BindGroupLayoutEntries,
    CachedRenderPipelineId, ColorTargetState, ColorWrites, FragmentState, Operations,
    PipelineCache, RenderPassColorAttachment, RenderPassDescriptor, RenderPipelineDescriptor,
    ShaderStages, ShaderType, TextureFormat, TextureSampleType,
};
use bevy::render::renderer::{RenderContext, ViewQuery};
use bevy::render::view::{ExtractedView, ViewDepthTexture, ViewTarget};
use bevy::render::{Render, RenderApp, RenderStartup, RenderSystems};
use std::collections::HashMap;

pub const EDL_SHADER: Handle<Shader> =
    bevy::asset::uuid_handle!("0f3a1c52-8d4e-4b7a-a0c6-2e9f5d1b7c33");

/// On the 3D camera while EDL is on.
#[derive(Component, ExtractComponent, Clone, Copy, ShaderType, Default)]
pub struct EyeDome {
    pub strength: f32,
    pub radius: f32,
    pub _pad0: f32,
    pub _pad1: f32,
}

pub struct EdlPlugin;

impl Plugin for EdlPlugin {
    fn build(&self, app: &mut App) {
        bevy::asset::load_internal_asset!(
            app,
            EDL_SHADER,
            "../../shaders/edl.wgsl",
            Shader::from_wgsl
        );
        app.add_plugins((
            ExtractComponentPlugin::<EyeDome>::default(),
            UniformComponentPlugin::<EyeDome>::default(),
        ));
        let Some(render_app) = app.get_sub_app_mut(RenderApp) else {
            return;
        };
        render_app
            .add_systems(RenderStartup, init_pipeline)
            .add_systems(
                Render,
                (
                    prepare_pipelines.in_set(RenderSystems::Prepare),
                    prepare_bind_groups.in_set(RenderSystems::PrepareBindGroups),
                ),
            )
            .add_systems(
                Core3d,
                edl_pass
                    .in_set(Core3dSystems::PostProcess)
                    .before(tonemapping),
            );
    }
}

#[derive(Resource)]
struct EdlPipeline {
    layout: BindGroupLayoutDescriptor,
    base: RenderPipelineDescriptor,
    by_format: HashMap<TextureFormat, CachedRenderPipelineId>,
}

fn init_pipeline(mut commands: Commands, fullscreen: Res<FullscreenShader>) {
    let layout = BindGroupLayoutDescriptor::new(
        "kizashi_edl_layout",
        &BindGroupLayoutEntries::sequential(
            ShaderStages::FRAGMENT,
            (
                texture_2d(TextureSampleType::Float { filterable: false }),
                texture_depth_2d(),
                uniform_buffer::<EyeDome>(true),
            ),
        ),
    );
    let base = RenderPipelineDescriptor {
        label: Some("kizashi_edl".into()),
        layout: vec![layout.clone()],
        vertex: fullscreen.to_vertex_state(),
        fragment: Some(FragmentState {
            shader: EDL_SHADER,
            targets: vec![Some(ColorTargetState {
                format: TextureFormat::Rgba8UnormSrgb,
                blend: None,
                write_mask: ColorWrites::ALL,
            })],
            ..default()
        }),
        ..default()
    };
    commands.insert_resource(EdlPipeline {
        layout,
        base,
        by_format: HashMap::new(),
    });
}

#[derive(Component)]
struct EdlPipelineId(CachedRenderPipelineId);

fn prepare_pipelines(
    mut commands: Commands,
    cache: Res<PipelineCache>,
    pipeline: Option<ResMut<EdlPipeline>>,
    views: Query<(Entity, &ExtractedView, Option<&EyeDome>)>,
) {
    let Some(mut pipeline) = pipeline else { return };
    for (e, view, edl) in &views {
        if edl.is_none() {
            commands.entity(e).remove::<EdlPipelineId>();
            continue;
        }
        let fmt = view.target_format;
        let id = match pipeline.by_format.get(&fmt) {
            Some(id) => *id,
            None => {
                let mut desc = pipeline.base.clone();
                if let Some(Some(t)) = desc.fragment.as_mut().and_then(|f| f.targets.first_mut()) {
                    t.format = fmt;
                }
                let id = cache.queue_render_pipeline(desc);
                pipeline.by_format.insert(fmt, id);
                id
            }
        };
        commands.entity(e).insert(EdlPipelineId(id));
    }
}

/// Bind groups for both ping-pong main textures (which one is the source changes per frame).
#[derive(Component)]
struct EdlBindGroups(
    Vec<(
        bevy::render::render_resource::TextureViewId,
        bevy::render::render_resource::TextureViewId,
        BindGroup,
    )>,
);

fn prepare_bind_groups(
    mut commands: Commands,
    views: Query<(Entity, &ViewTarget, &ViewDepthTexture, Option<&EyeDome>)>,
    pipeline: Option<Res<EdlPipeline>>,
    cache: Res<PipelineCache>,
    uniforms: Res<ComponentUniforms<EyeDome>>,
    device: Res<bevy::render::renderer::RenderDevice>,
) {
    let (Some(pipeline), Some(binding)) = (pipeline, uniforms.uniforms().binding()) else {
        return;
    };
    for (e, target, depth, edl) in &views {
        if edl.is_none() {
            commands.entity(e).remove::<EdlBindGroups>();
            continue;
        }
        let layout = cache.get_bind_group_layout(&pipeline.layout);
        let groups = [target.main_texture_view(), target.main_texture_other_view()]
            .iter()
            .map(|tex| {
                (
                    tex.id(),
                    depth.view().id(),
                    device.create_bind_group(
                        "kizashi_edl_bind_group",
                        &layout,
                        &BindGroupEntries::sequential((*tex, depth.view(), binding.clone())),
                    ),
                )
            })
            .collect();
        commands.entity(e).insert(EdlBindGroups(groups));
    }
}

fn edl_pass(
    view: ViewQuery<(
        &ViewTarget,
        &DynamicUniformIndex<EyeDome>,
        &EdlBindGroups,
        &EdlPipelineId,
    )>,
    cache: Res<PipelineCache>,
    mut ctx: RenderContext,
) {
    let (target, index, groups, id) = view.into_inner();
    let Some(pipeline) = cache.get_render_pipeline(id.0) else {
        return;
    };
    // Find the bind group before flipping the ping-pong textures: a flip without a write
    // would show last frame's image.
    let source = target.main_texture_view().id();
    let Some((_, _, group)) = groups.0.iter().find(|g| g.0 == source) else {
        return;
    };
    let post = target.post_process_write();
    let desc = RenderPassDescriptor {
        label: Some("kizashi_edl_pass"),
        color_attachments: &[Some(RenderPassColorAttachment {
            view: post.destination,
            depth_slice: None,
            resolve_target: None,
            ops: Operations::default(),
        })],
        depth_stencil_attachment: None,
        timestamp_writes: None,
        occlusion_query_set: None,
        multiview_mask: None,
    };
    let mut pass = ctx.command_encoder().begin_render_pass(&desc);
    pass.set_pipeline(pipeline);
    pass.set_bind_group(0, group, &[index.index()]);
    pass.draw(0..3, 0..1);
}
