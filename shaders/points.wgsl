// Point splats pulled from storage buffers: a node's points are 8 bytes of position (u16 x 3
// over the node's cube) and 4 of attribute (12 bytes per point on the GPU). The mesh drawn is a shared run of triangles whose
// one vertex attribute is its own number (point = number / 3, corner = number % 3), so it holds
// no point data and serves every node of up to its size; splats past the node's count are
// dropped. The vertex shader spreads the three corners in screen space around a disc whose size follows the
// distance (the node's spacing in world units, clamped to a pixel range) and colours the point
// from its attribute (the colour map and the range are uniforms: changing them uploads nothing).
// The fragment shader cuts the disc and shades its rim.

#import bevy_pbr::{mesh_functions, mesh_view_bindings::view}

struct PointParams {
    size_world: f32,
    min_px: f32,
    max_px: f32,
    // Swipe: keep fragments left (side 1) or right (side 2) of swipe_x (framebuffer pixels).
    swipe_x: f32,
    swipe_side: f32,
    rim: f32,
    // colour::Shading: 0 packed sRGB, 1 viridis, 2 grey, 3 diverging.
    shading: u32,
    count: u32,
    lo: f32,
    hi: f32,
    // The node cube's corner and quantum: positions are u16 x 3 steps from the corner.
    node_min: vec3<f32>,
    step: f32,
}

@group(#{MATERIAL_BIND_GROUP}) @binding(0) var<uniform> params: PointParams;
@group(#{MATERIAL_BIND_GROUP}) @binding(1) var<storage, read> positions: array<vec2<u32>>;
@group(#{MATERIAL_BIND_GROUP}) @binding(2) var<storage, read> attributes: array<u32>;

// Colour map stops and sRGB -> linear, one buffer shared by every node (`points::colour_luts`):
// 0..9 viridis, 9..20 RdBu (rgb 0..255 in xyz), then 256 linear values, four to an entry.
// A buffer, not WGSL arrays: lavapipe copies a private array into every vertex invocation.
@group(#{MATERIAL_BIND_GROUP}) @binding(3) var<storage, read> luts: array<vec4<f32>>;

struct Vertex {
    @builtin(instance_index) instance_index: u32,
    @location(0) number: u32,
};

struct VertexOutput {
    @builtin(position) clip_position: vec4<f32>,
    @location(0) colour: vec3<f32>,
    @location(1) corner: vec2<f32>,
};

// One 8-bit sRGB channel (0..1) to linear, from the table (no pow per vertex).
fn channel_to_linear(c: f32) -> f32 {
    let k = u32(round(clamp(c, 0.0, 1.0) * 255.0));
    return luts[20u + (k >> 2u)][k & 3u];
}

fn srgb_to_linear(c: vec3<f32>) -> vec3<f32> {
    return vec3(channel_to_linear(c.r), channel_to_linear(c.g), channel_to_linear(c.b));
}

fn viridis(t: f32) -> vec3<f32> {
    let x = clamp(t, 0.0, 1.0) * 8.0;
    let i = min(u32(floor(x)), 7u);
    return mix(luts[i].xyz, luts[i + 1u].xyz, x - f32(i));
}

fn diverging(t: f32) -> vec3<f32> {
    let x = clamp(0.5 + 0.5 * t, 0.0, 1.0) * 10.0;
    let i = min(u32(floor(x)), 9u);
    return mix(luts[9u + i].xyz, luts[10u + i].xyz, x - f32(i));
}

// sRGB in 0..1 of an attribute (colour::shade is its CPU twin).
fn shade(a: u32) -> vec3<f32> {
    if params.shading == 0u {
        return unpack4x8unorm(a).rgb;
    }
    if params.shading == 3u && a == 0x7fa00001u {
        return vec3(150.0, 150.0, 150.0) / 255.0;
    }
    if (a & 0x7f800000u) == 0x7f800000u {
        return select(vec3(60.0, 60.0, 66.0) / 255.0, vec3(0.0), params.shading == 2u);
    }
    let v = bitcast<f32>(a);
    var t = 0.5;
    if params.hi > params.lo {
        t = (v - params.lo) / (params.hi - params.lo);
    }
    if params.shading == 2u {
        return vec3(floor(clamp(t, 0.0, 1.0) * 255.0) / 255.0);
    }
    if params.shading == 3u {
        var limit = max(abs(params.lo), abs(params.hi));
        if limit <= 0.0 {
            limit = 1.0;
        }
        return diverging(v / limit) / 255.0;
    }
    return viridis(t) / 255.0;
}

@vertex
fn vertex(v: Vertex) -> VertexOutput {
    var out: VertexOutput;
    let point = v.number / 3u;
    let c = v.number % 3u;
    // An equilateral triangle around the unit disc (the fragment shader cuts the disc).
    var corner = vec2(0.0, 2.0);
    if c == 0u {
        corner = vec2(-1.7320508, -1.0);
    } else if c == 1u {
        corner = vec2(1.7320508, -1.0);
    }
    out.corner = corner;
    if point >= params.count {
        // Past this node's points: outside every clip plane, so the splat is dropped.
        out.clip_position = vec4(2.0, 2.0, 2.0, 1.0);
        out.colour = vec3(0.0);
        return out;
    }
    let q = positions[point];
    let p = params.node_min
        + vec3(f32(q.x & 0xffffu), f32(q.x >> 16u), f32(q.y & 0xffffu)) * params.step;
    let world_from_local = mesh_functions::get_world_from_local(v.instance_index);
    var clip = mesh_functions::mesh_position_local_to_clip(world_from_local, vec4(p, 1.0));
    // Pixels per world unit at this depth: focal length in pixels over the view depth (w is 1
    // for an orthographic camera, whose clip_from_view[1][1] already carries the scale).
    let focal_px = view.clip_from_view[1][1] * 0.5 * view.viewport.w;
    let px = clamp(params.size_world * focal_px / max(clip.w, 1e-6), params.min_px, params.max_px);
    clip.x += corner.x * px / view.viewport.z * clip.w;
    clip.y += corner.y * px / view.viewport.w * clip.w;
    out.clip_position = clip;
    out.colour = srgb_to_linear(shade(attributes[point]));
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
