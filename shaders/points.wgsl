// Point splats: every point is a quad of four vertices at the same position; the vertex shader
// spreads them in screen space to a disc whose size follows the distance (a fixed size in
// world units, clamped to a pixel range), the fragment shader cuts the disc and shades its rim.
// The corner (0..3) travels in the colour's alpha byte, so a vertex is 16 bytes.

#import bevy_pbr::{mesh_functions, mesh_view_bindings::view}

struct PointParams {
    size_world: f32,
    min_px: f32,
    max_px: f32,
    // Swipe: keep fragments left (side 1) or right (side 2) of swipe_x (framebuffer pixels).
    swipe_x: f32,
    swipe_side: f32,
    rim: f32,
    _pad0: f32,
    _pad1: f32,
}

@group(#{MATERIAL_BIND_GROUP}) @binding(0) var<uniform> params: PointParams;

struct Vertex {
    @builtin(instance_index) instance_index: u32,
    @location(0) position: vec3<f32>,
    @location(1) colour: vec4<f32>,
};

struct VertexOutput {
    @builtin(position) clip_position: vec4<f32>,
    @location(0) colour: vec3<f32>,
    @location(1) corner: vec2<f32>,
};

fn srgb_to_linear(c: vec3<f32>) -> vec3<f32> {
    let lo = c / 12.92;
    let hi = pow((c + 0.055) / 1.055, vec3(2.4));
    return select(hi, lo, c <= vec3(0.04045));
}

@vertex
fn vertex(v: Vertex) -> VertexOutput {
    var out: VertexOutput;
    let world_from_local = mesh_functions::get_world_from_local(v.instance_index);
    var clip = mesh_functions::mesh_position_local_to_clip(world_from_local, vec4(v.position, 1.0));
    let c = u32(round(v.colour.a * 255.0)) & 3u;
    let corner = vec2(select(-1.0, 1.0, c == 1u || c == 2u), select(-1.0, 1.0, c >= 2u));
    // Pixels per world unit at this depth: focal length in pixels over the view depth (w is 1
    // for an orthographic camera, whose clip_from_view[1][1] already carries the scale).
    let focal_px = view.clip_from_view[1][1] * 0.5 * view.viewport.w;
    let px = clamp(params.size_world * focal_px / max(clip.w, 1e-6), params.min_px, params.max_px);
    clip.x += corner.x * px / view.viewport.z * clip.w;
    clip.y += corner.y * px / view.viewport.w * clip.w;
    out.clip_position = clip;
    out.colour = srgb_to_linear(v.colour.rgb);
    out.corner = corner;
    return out;
}

@fragment
fn fragment(in: VertexOutput) -> @location(0) vec4<f32> {
    let r2 = dot(in.corner, in.corner);
    if r2 > 1.0 {
        discard;
    }
    if params.swipe_side > 0.5 {
        let left = in.clip_position.x < params.swipe_x;
        if (params.swipe_side < 1.5 && !left) || (params.swipe_side > 1.5 && left) {
            discard;
        }
    }
    let shade = 1.0 - params.rim * r2;
    return vec4(in.colour * shade, 1.0);
}
