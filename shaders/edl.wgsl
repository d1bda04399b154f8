// Eye-dome lighting (Boucheny 2009, as in Potree and CloudCompare): a pixel whose neighbours
// are closer to the eye (in log depth) is darkened, which outlines silhouettes and reveals
// relief in point clouds without normals. Reads the main pass's colour and depth.

#import bevy_core_pipeline::fullscreen_vertex_shader::FullscreenVertexOutput

struct Edl {
    strength: f32,
    radius: f32,
    _pad0: f32,
    _pad1: f32,
}

@group(0) @binding(0) var screen: texture_2d<f32>;
@group(0) @binding(1) var depth: texture_depth_2d;
@group(0) @binding(2) var<uniform> edl: Edl;

@fragment
fn fragment(in: FullscreenVertexOutput) -> @location(0) vec4<f32> {
    let size = vec2<i32>(textureDimensions(depth));
    let p = vec2<i32>(in.position.xy);
    let c = textureLoad(screen, p, 0);
    // Reverse-Z: depth = near / view distance, 0 for the background.
    let d = textureLoad(depth, p, 0);
    if d <= 0.0 {
        return c;
    }
    let lc = log2(d);
    var sum = 0.0;
    for (var i = 0; i < 8; i++) {
        let a = f32(i) * 0.7853982;
        let q = clamp(p + vec2<i32>(round(vec2(cos(a), sin(a)) * edl.radius)), vec2(0), size - 1);
        let dn = textureLoad(depth, q, 0);
        if dn > 0.0 {
            // log(view distance) difference = log(d) - log(dn) reversed: closer neighbours count.
            sum += max(0.0, log2(dn) - lc);
        }
    }
    let shade = exp(-sum / 8.0 * 300.0 * edl.strength);
    return vec4(c.rgb * shade, c.a);
}
