//! One tile's glb: a POINTS primitive with u16 positions quantized to the tile's tight box
//! (KHR_mesh_quantization), COLOR_0 normalized u8, and the fields as FLOAT32 property
//! attributes (EXT_structural_metadata); the tileset's schema and the points' colours.

use super::{CLASS, NO_DATA};
use crate::cloud::PointCloud;
use rayon::prelude::*;
use serde_json::{json, Value};

/// A property name as EXT_structural_metadata wants it, and its glTF attribute semantic.
pub(super) fn property_names(field: &str) -> (String, String) {
    let mut p: String = field
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if p.is_empty() || p.starts_with(|c: char| c.is_ascii_digit()) {
        p.insert(0, '_');
    }
    let attr = format!("_{}", p.trim_start_matches('_').to_ascii_uppercase());
    (p, attr)
}

pub(super) fn schema(fields: &[(String, String, String)]) -> Value {
    let props: serde_json::Map<String, Value> = fields
        .iter()
        .map(|(name, _, desc)| (name.clone(), json!({ "type": "SCALAR", "componentType": "FLOAT32", "noData": NO_DATA, "description": desc })))
        .collect();
    json!({ "id": "kizashi", "classes": { CLASS: { "name": "Survey point", "properties": props } } })
}

/// One tile as a binary glTF.
pub(super) fn glb(
    positions: &[[f32; 3]],
    colours: &[[u8; 4]],
    attrs: &[(String, Vec<f32>)],
    fields: &[(String, String, String)],
    lo: [f32; 3],
    hi: [f32; 3],
) -> Vec<u8> {
    let n = positions.len();
    let extent = [0, 1, 2].map(|k| (hi[k] - lo[k]).max(1e-6));
    let mut bin: Vec<u8> = Vec::with_capacity(n * (12 + 4 * attrs.len()));
    let mut views = Vec::new();
    let mut accessors = Vec::new();
    // Positions: u16 x 3, padded to an 8-byte stride (vertex attributes are 4-byte aligned).
    let (mut qmin, mut qmax) = ([u16::MAX; 3], [0u16; 3]);
    let start = bin.len();
    for p in positions {
        for k in 0..3 {
            let q = (((p[k] - lo[k]) / extent[k]) * 65535.0)
                .round()
                .clamp(0.0, 65535.0) as u16;
            qmin[k] = qmin[k].min(q);
            qmax[k] = qmax[k].max(q);
            bin.extend_from_slice(&q.to_le_bytes());
        }
        bin.extend_from_slice(&[0, 0]);
    }
    views.push(json!({ "buffer": 0, "byteOffset": start, "byteLength": bin.len() - start, "byteStride": 8, "target": 34962 }));
    accessors.push(json!({ "bufferView": 0, "componentType": 5123, "count": n, "type": "VEC3", "min": qmin, "max": qmax }));
    let start = bin.len();
    for c in colours {
        bin.extend_from_slice(c);
    }
    views.push(json!({ "buffer": 0, "byteOffset": start, "byteLength": bin.len() - start, "target": 34962 }));
    accessors.push(json!({ "bufferView": 1, "componentType": 5121, "normalized": true, "count": n, "type": "VEC4" }));
    let mut attributes = serde_json::Map::new();
    attributes.insert("POSITION".into(), json!(0));
    attributes.insert("COLOR_0".into(), json!(1));
    let mut prop_attrs = serde_json::Map::new();
    for (k, (_, values)) in attrs.iter().enumerate() {
        let start = bin.len();
        let (mut mn, mut mx) = (f32::MAX, f32::MIN);
        for v in values {
            mn = mn.min(*v);
            mx = mx.max(*v);
            bin.extend_from_slice(&v.to_le_bytes());
        }
        views.push(json!({ "buffer": 0, "byteOffset": start, "byteLength": bin.len() - start, "target": 34962 }));
        accessors.push(json!({ "bufferView": views.len() - 1, "componentType": 5126, "count": n, "type": "SCALAR", "min": [mn], "max": [mx] }));
        let (name, attr, _) = &fields[k];
        attributes.insert(attr.clone(), json!(accessors.len() - 1));
        prop_attrs.insert(name.clone(), json!({ "attribute": attr }));
    }
    let mut primitive = json!({ "attributes": attributes, "mode": 0 });
    let mut extensions_used = vec!["KHR_mesh_quantization"];
    let mut gltf_ext = serde_json::Map::new();
    if !attrs.is_empty() {
        primitive["extensions"] =
            json!({ "EXT_structural_metadata": { "propertyAttributes": [0] } });
        extensions_used.push("EXT_structural_metadata");
        gltf_ext.insert("EXT_structural_metadata".into(), json!({ "schema": schema(fields), "propertyAttributes": [{ "class": CLASS, "properties": prop_attrs }] }));
    }
    let scale = [0, 1, 2].map(|k| f64::from(extent[k]) / 65535.0);
    let h = std::f64::consts::FRAC_1_SQRT_2;
    let mut doc = json!({
        "asset": { "version": "2.0", "generator": concat!("Kizashi ", env!("CARGO_PKG_VERSION")) },
        "extensionsUsed": extensions_used,
        "extensionsRequired": ["KHR_mesh_quantization"],
        "scene": 0,
        "scenes": [{ "nodes": [0] }],
        // glTF is y-up: the points stay z-up (ENU) and the root node turns them, so 3D Tiles'
        // y-up -> z-up brings them back exactly.
        "nodes": [
            { "rotation": [-h, 0.0, 0.0, h], "children": [1] },
            { "mesh": 0, "translation": lo.map(f64::from), "scale": scale },
        ],
        "meshes": [{ "primitives": [primitive] }],
        "accessors": accessors,
        "bufferViews": views,
        "buffers": [{ "byteLength": bin.len() }],
    });
    if !gltf_ext.is_empty() {
        doc["extensions"] = Value::Object(gltf_ext);
    }
    let mut js = serde_json::to_vec(&doc).unwrap_or_default();
    while !js.len().is_multiple_of(4) {
        js.push(b' ');
    }
    while !bin.len().is_multiple_of(4) {
        bin.push(0);
    }
    let total = 12 + 8 + js.len() + 8 + bin.len();
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(b"glTF");
    out.extend_from_slice(&2u32.to_le_bytes());
    out.extend_from_slice(&(total as u32).to_le_bytes());
    out.extend_from_slice(&(js.len() as u32).to_le_bytes());
    out.extend_from_slice(b"JSON");
    out.extend_from_slice(&js);
    out.extend_from_slice(&(bin.len() as u32).to_le_bytes());
    out.extend_from_slice(b"BIN\0");
    out.extend_from_slice(&bin);
    out
}

/// Colours: the file's RGB, else the first attribute on a map (diverging around 0 for
/// signed change fields), else elevation.
pub(super) fn colours(cloud: &PointCloud, attrs: &[String]) -> (Vec<[u8; 4]>, String) {
    if let Some(rgb) = &cloud.rgb {
        let c = crate::colourmap::rgb8(rgb)
            .into_par_iter()
            .map(|b| [b[0], b[1], b[2], 255]);
        return (c.collect(), "rgb".into());
    }
    let ramp = |t: f32| crate::colourmap::viridis(t);
    if let Some(f) = attrs.first().and_then(|a| cloud.scalar(a)) {
        let signed = f.values.iter().any(|v| *v < 0.0) && f.values.iter().any(|v| *v > 0.0);
        let mut abs: Vec<f32> = f
            .values
            .iter()
            .filter(|v| v.is_finite())
            .map(|v| v.abs())
            .collect();
        let k = ((abs.len().saturating_sub(1)) as f32 * 0.98) as usize;
        let lim = if abs.is_empty() {
            1.0
        } else {
            *abs.select_nth_unstable_by(k, |a, b| a.total_cmp(b)).1
        }
        .max(1e-6);
        let (lo, hi) = f
            .values
            .iter()
            .filter(|v| v.is_finite())
            .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
        let c = f.values.par_iter().map(|&v| {
            if !v.is_finite() {
                [60, 60, 66, 255]
            } else if signed {
                let c = crate::colourmap::diverging(v / lim);
                [c[0], c[1], c[2], 255]
            } else {
                let c = ramp(if hi > lo { (v - lo) / (hi - lo) } else { 0.5 });
                [c[0], c[1], c[2], 255]
            }
        });
        return (
            c.collect(),
            format!(
                "{} ({})",
                f.name,
                if signed { "diverging" } else { "viridis" }
            ),
        );
    }
    let (lo, hi) = cloud
        .positions
        .iter()
        .fold((f32::MAX, f32::MIN), |(a, b), p| (a.min(p[2]), b.max(p[2])));
    let c = cloud.positions.par_iter().map(|p| {
        let c = ramp(if hi > lo {
            (p[2] - lo) / (hi - lo)
        } else {
            0.5
        });
        [c[0], c[1], c[2], 255]
    });
    (c.collect(), "elevation (viridis)".into())
}
