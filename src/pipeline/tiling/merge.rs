//! `kizashi merge PLAN/ -o OUT/`: the finished tiles of a plan as one result. Core points:
//! each tile wrote only its own, so the merged LAZ is their concatenation. DoD: each tile
//! wrote its cells of the whole run's grid; the mosaic pastes them (a COG). Change objects are
//! found again on the merged result and mosaic, so an object crossing a tile edge is one
//! object, its area and volume whole. 3D Tiles: one root tileset whose children are the
//! tiles' tilesets (external tilesets). The report is the site's, on the merged products.
//! A plan with a missing or failed tile is refused, naming every such tile.

use super::plan::{read_manifest, Manifest};
use super::run::{tile_state, TileState};
use crate::analysis::dod::{self, Grid};
use crate::cloud::PointCloud;
use crate::io::{las, raster, IoError};
use crate::pipeline::change::ChangeSummary;
use crate::pipeline::objects::ObjectsJob;
use crate::pipeline::report::ReportJob;
use crate::pipeline::site::{self, StepJob};
use crate::pipeline::{Cancel, PipelineError, Progress, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
pub struct MergeJob {
    pub plan: PathBuf,
    pub output: PathBuf,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct MergeSummary {
    pub plan: String,
    pub output: String,
    pub tiles: usize,
    pub core_points: usize,
    pub significant: usize,
    pub dod_cells: Option<[usize; 2]>,
    pub dod_volumes: Option<dod::Volumes>,
    pub dod_objects: Option<usize>,
    pub objects: Option<usize>,
    pub outputs: Vec<String>,
    pub seconds: f64,
}

fn invalid(msg: impl std::fmt::Display) -> PipelineError {
    PipelineError::Invalid(msg.to_string())
}

/// Merges a plan whose tiles are all finished.
pub fn merge(job: &MergeJob, progress: &dyn Progress, cancel: &Cancel) -> Result<MergeSummary> {
    let t0 = std::time::Instant::now();
    let m = read_manifest(&job.plan)?;
    if m.tiles.is_empty() {
        return Err(invalid(format!(
            "{}: the plan has no tiles",
            job.plan.display()
        )));
    }
    let mut unfinished = Vec::new();
    for t in &m.tiles {
        match tile_state(&job.plan, t) {
            TileState::Done => {}
            TileState::Failed(e) => unfinished.push(format!("{} (failed: {e})", t.id)),
            TileState::Missing => unfinished.push(format!("{} (not finished)", t.id)),
        }
    }
    if !unfinished.is_empty() {
        return Err(invalid(format!(
            "cannot merge {}: {} of {} tiles are not done: {}; rerun them with `kizashi run {}`",
            job.plan.display(),
            unfinished.len(),
            m.tiles.len(),
            unfinished.join(", "),
            job.plan.display()
        )));
    }
    if site::job_sha256(&m.site).ok().as_deref() != Some(m.site_sha256.as_str()) {
        return Err(invalid(format!(
            "{} changed since it was planned; plan it again",
            m.site.display()
        )));
    }
    let whole = site::plan(&m.site)?;
    let out = &job.output;
    // Never into the plan itself: the tiles' outputs are the merge's inputs.
    let canon = |p: &Path| {
        std::fs::canonicalize(p)
            .or_else(|_| std::path::absolute(p))
            .unwrap_or_else(|_| p.to_path_buf())
    };
    if canon(out).starts_with(canon(&job.plan)) {
        return Err(invalid(format!(
            "{}: inside the plan {}; merge into another folder",
            out.display(),
            job.plan.display()
        )));
    }
    std::fs::create_dir_all(out).map_err(|e| IoError::io(out, e))?;
    let tile_out = |id: &str, name: &str| job.plan.join("tiles").join(id).join(name);
    let mut s = MergeSummary {
        plan: job.plan.display().to_string(),
        output: out.display().to_string(),
        tiles: m.tiles.len(),
        ..Default::default()
    };
    let step = |name: &str| whole.steps.iter().find(|s| s.name() == name);

    let mut result = None;
    if let Some(StepJob::Change(c)) = step("change") {
        progress.update("merge change", 0, m.tiles.len() as u64);
        let laz = out.join("change.laz");
        let files: Vec<PathBuf> = m
            .tiles
            .iter()
            .map(|t| tile_out(&t.id, "change.laz"))
            .collect();
        let merged = merge_change(&m, &files, cancel)?;
        let summary = merged_summary(&m, &files[0], &merged, &laz)?;
        s.core_points = summary.core_points;
        s.significant = summary.significant;
        crate::pipeline::change::write_result(&laz, &merged, &summary)?;
        s.outputs.push(laz.display().to_string());
        if c.csv.is_some() {
            let csv = out.join("change.csv");
            crate::pipeline::change::write_csv(&csv, &merged, c.method)?;
            s.outputs.push(csv.display().to_string());
        }
        result = Some(laz);
    }
    let mut dod_file = None;
    if let (Some(StepJob::Dod(d)), Some(g)) = (step("dod"), m.dod_grid) {
        progress.update("merge DoD", 0, 1);
        let tif = out.join("dod.tif");
        let (cells, volumes, n_obj) = merge_dod(&m, &g, d, &job.plan, &tif, out)?;
        s.dod_cells = Some(cells);
        s.dod_volumes = Some(volumes);
        s.dod_objects = n_obj;
        s.outputs.push(tif.display().to_string());
        dod_file = Some(tif);
    }
    if cancel.is_cancelled() {
        return Err(PipelineError::Cancelled);
    }
    // The site's own steps on the merged products.
    let mut objects_file = None;
    let mut followers = Vec::new();
    if let (Some(StepJob::Objects(o)), Some(r)) = (step("objects"), &result) {
        let g = out.join("objects.geojson");
        followers.push(StepJob::Objects(ObjectsJob {
            result: r.clone(),
            output: g.clone(),
            ..o.clone()
        }));
        objects_file = Some(g);
    }
    if let (Some(StepJob::Report(rp)), Some(r)) = (step("report"), &result) {
        let name = rp.output.file_name().unwrap_or_default();
        followers.push(StepJob::Report(ReportJob {
            result: r.clone(),
            dod: dod_file.clone(),
            objects: objects_file.clone(),
            output: out.join(name),
            command: Some(format!("kizashi merge {}", job.plan.display())),
            ..rp.clone()
        }));
    }
    for f in &followers {
        let v = f.run(progress, cancel)?;
        if let StepJob::Objects(o) = f {
            s.objects = v["objects"].as_array().map(Vec::len);
            s.outputs.push(o.output.display().to_string());
        }
        if let StepJob::Report(r) = f {
            s.outputs.push(r.output.display().to_string());
        }
    }
    if step("tiles").is_some() {
        progress.update("merge 3D Tiles", 0, 1);
        let dir = out.join("tiles");
        root_tileset(&m, &job.plan, &dir)?;
        s.outputs
            .push(dir.join("tileset.json").display().to_string());
    }
    s.seconds = t0.elapsed().as_secs_f64();
    crate::pipeline::write_json(&out.join("merge.json"), &s)?;
    Ok(s)
}

/// The tiles' core points in one cloud (tile order, each tile's own order).
fn merge_change(m: &Manifest, files: &[PathBuf], cancel: &Cancel) -> Result<PointCloud> {
    let [x0, y0, x1, y1] = m.extent;
    let mut all =
        PointCloud::with_origin([((x0 + x1) / 2.0).round(), ((y0 + y1) / 2.0).round(), 0.0]);
    for f in files {
        if cancel.is_cancelled() {
            return Err(PipelineError::Cancelled);
        }
        let mut c = las::read(f)?.cloud;
        // A tile without core points (an empty part of the area).
        if c.is_empty() {
            continue;
        }
        if all.is_empty() {
            all.origin[2] = c.origin[2];
            all.crs = c.crs.clone();
            for s in &c.scalars {
                let mut e = s.clone();
                e.values.clear();
                all.scalars.push(e);
            }
        }
        let names: Vec<String> = all.scalars.iter().map(|s| s.name.clone()).collect();
        let theirs: Vec<String> = c.scalars.iter().map(|s| s.name.clone()).collect();
        if names != theirs {
            return Err(invalid(format!(
                "{}: fields {theirs:?} differ from the other tiles' {names:?}",
                f.display()
            )));
        }
        c.rebase(all.origin);
        all.positions.extend_from_slice(&c.positions);
        for (a, b) in all.scalars.iter_mut().zip(&c.scalars) {
            a.values.extend_from_slice(&b.values);
        }
    }
    Ok(all)
}

/// The whole run's change summary: a tile's, with the whole run's inputs and counts.
fn merged_summary(m: &Manifest, first: &Path, c: &PointCloud, out: &Path) -> Result<ChangeSummary> {
    let side = crate::pipeline::sidecar_path(first);
    let text = std::fs::read_to_string(&side).map_err(|e| IoError::io(&side, e))?;
    let mut s: ChangeSummary =
        serde_json::from_str(&text).map_err(|e| invalid(format!("{}: {e}", side.display())))?;
    s.epoch1 = m.epochs[0].display().to_string();
    s.epoch2 = m.epochs[1].display().to_string();
    s.epoch1_points = m.points[0] as usize;
    s.epoch2_points = m.points[1] as usize;
    s.core_points = c.len();
    let col = |n: &str| c.scalar(n).map(|f| f.values.as_slice()).unwrap_or(&[]);
    let d = match s.method {
        crate::pipeline::change::Method::M3c2 => col(crate::fields::M3C2_DISTANCE),
        crate::pipeline::change::Method::C2c => col(crate::fields::C2C_DISTANCE),
    };
    s.nan = d.iter().filter(|v| !v.is_finite()).count();
    s.significant = col(crate::fields::M3C2_SIGNIFICANT)
        .iter()
        .filter(|&&v| v > 0.5)
        .count();
    [s.distance_min, s.distance_max, s.distance_mean] =
        crate::pipeline::change::distance_stats(d.iter().map(|&v| f64::from(v)));
    s.output = Some(out.display().to_string());
    s.csv = None;
    s.warnings
        .push(format!("merged from {} tiles of a plan", m.tiles.len()));
    Ok(s)
}

/// The DoD mosaic on the whole run's grid, its volumes and (when the site asks) its objects.
fn merge_dod(
    m: &Manifest,
    g: &Grid,
    d: &crate::pipeline::dod::DodJob,
    plan: &Path,
    tif: &Path,
    out: &Path,
) -> Result<([usize; 2], dod::Volumes, Option<usize>)> {
    let n = g.width * g.height;
    // Heights, spreads and counts of both epochs (bands 3-4 and the tile bands 5-8).
    let mut bands = vec![vec![f32::NAN; n]; 8];
    let mut crs = None;
    for t in &m.tiles {
        let Some(tg) = t.grid else { continue };
        let f = plan.join("tiles").join(&t.id).join("dod.tif");
        let r = raster::Raster::open(&f)?;
        if crs.is_none() {
            crs = r.info.crs.clone();
        }
        let c0 = ((tg[0] - g.x0) / g.cell).round() as usize;
        let r0 = ((g.y0 - tg[3]) / g.cell).round() as usize;
        if r.info.band_count < 8 {
            return Err(invalid(format!(
                "{}: not a tile's DoD (needs 8 bands, has {}); rerun the plan with --force",
                f.display(),
                r.info.band_count
            )));
        }
        let (w, h) = (r.info.width, r.info.height);
        if c0 + w > g.width || r0 + h > g.height {
            return Err(invalid(format!("{}: outside the plan's grid", f.display())));
        }
        for (b, band) in bands.iter_mut().enumerate() {
            let v = r.read_band_f32(b + 1)?;
            for row in 0..h {
                let dst = (r0 + row) * g.width + c0;
                band[dst..dst + w].copy_from_slice(&v[row * w..(row + 1) * w]);
            }
        }
    }
    // The difference and LoD again over the whole grid, as the whole run computes them (a
    // cell of one point takes its epoch's median spread over all cells).
    let surface = |k: usize| dod::Surface {
        z: bands[2 + k].clone(),
        std: bands[4 + k].clone(),
        n: bands[6 + k]
            .iter()
            .map(|v| if v.is_finite() { *v as u32 } else { 0 })
            .collect(),
    };
    let diff = dod::difference(&surface(0), &surface(1), g.cell, d.registration_error);
    bands[0] = diff.diff;
    bands[1] = diff.lod;
    let named: Vec<(&str, &[f32])> = crate::pipeline::dod::BANDS
        .iter()
        .zip(&bands)
        .map(|(n, b)| (*n, b.as_slice()))
        .collect();
    raster::write_f32_bands_as(
        tif,
        g.width,
        g.height,
        raster::GeoTransform(g.geotransform()),
        crs.as_ref(),
        -9999.0,
        &named,
        raster::Layout::Cog,
    )?;
    let cells = [2, 3].map(|b| bands[b].iter().filter(|v| v.is_finite()).count());
    let volumes = dod::volumes(&bands[0], &bands[1], g.cell);
    let mut n_obj = None;
    if d.objects.is_some() {
        let (labels, objects) = crate::analysis::objects::find(
            &bands[0],
            &bands[1],
            None,
            g.width,
            g.height,
            g.cell,
            d.min_area,
            |i| g.centre(i),
        );
        crate::io::vector::write_objects_geojson(
            &out.join("dod_objects.geojson"),
            &labels,
            g.width,
            g.height,
            g.geotransform(),
            crs.as_ref(),
            &objects,
            d.wgs84,
        )?;
        n_obj = Some(objects.len());
    }
    Ok((cells, volumes, n_obj))
}

/// A 3D Tiles box moved by a tile transform (column-major 4x4): centre and half-axes.
fn transform_box(b: &[f64], t: &[f64]) -> [f64; 12] {
    let m = |r: usize, c: usize| t[c * 4 + r];
    let mut o = [0.0; 12];
    for r in 0..3 {
        o[r] = m(r, 0) * b[0] + m(r, 1) * b[1] + m(r, 2) * b[2] + m(r, 3);
        for a in 0..3 {
            let v = &b[3 + 3 * a..6 + 3 * a];
            o[3 + 3 * a + r] = m(r, 0) * v[0] + m(r, 1) * v[1] + m(r, 2) * v[2];
        }
    }
    o
}

/// The corners of a 3D Tiles box.
fn corners(b: &[f64; 12]) -> Vec<[f64; 3]> {
    let mut v = Vec::with_capacity(8);
    for s in 0..8 {
        let sign = |k: usize| if s >> k & 1 == 1 { 1.0 } else { -1.0 };
        v.push(
            [0, 1, 2].map(|r| b[r] + sign(0) * b[3 + r] + sign(1) * b[6 + r] + sign(2) * b[9 + r]),
        );
    }
    v
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).map_err(|e| IoError::io(to, e))?;
    for e in std::fs::read_dir(from).map_err(|e| IoError::io(from, e))? {
        let e = e.map_err(|e| IoError::io(from, e))?;
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if src.is_dir() {
            copy_tree(&src, &dst)?;
        } else if std::fs::hard_link(&src, &dst).is_err() {
            std::fs::copy(&src, &dst).map_err(|e| IoError::io(&src, e))?;
        }
    }
    Ok(())
}

/// One tileset for the portal: each tile's tileset under `ID/`, referenced from the root as an
/// external tileset; each child's box is its root box moved by its root transform (exact: a
/// rigid motion keeps a box a box), the root's an ECEF box around them all.
fn root_tileset(m: &Manifest, plan: &Path, dir: &Path) -> Result<()> {
    let mut children = Vec::new();
    let (mut lo, mut hi) = ([f64::INFINITY; 3], [f64::NEG_INFINITY; 3]);
    let mut error: f64 = 0.0;
    let mut extras = Value::Null;
    let mut used = Vec::new();
    for t in &m.tiles {
        let ts = plan
            .join("tiles")
            .join(&t.id)
            .join("tiles")
            .join("tileset.json");
        // A tile without core points has an empty folder.
        if !ts.exists() {
            continue;
        }
        used.push(t.id.clone());
        let text = std::fs::read_to_string(&ts).map_err(|e| IoError::io(&ts, e))?;
        let v: Value =
            serde_json::from_str(&text).map_err(|e| invalid(format!("{}: {e}", ts.display())))?;
        let root = &v["root"];
        let b: Vec<f64> = serde_json::from_value(root["boundingVolume"]["box"].clone())
            .map_err(|_| invalid(format!("{}: root has no box", ts.display())))?;
        let tr: Vec<f64> = serde_json::from_value(root["transform"].clone()).unwrap_or_else(|_| {
            vec![
                1., 0., 0., 0., 0., 1., 0., 0., 0., 0., 1., 0., 0., 0., 0., 1.,
            ]
        });
        if b.len() != 12 || tr.len() != 16 {
            return Err(invalid(format!(
                "{}: bad root box or transform",
                ts.display()
            )));
        }
        let world = transform_box(&b, &tr);
        for c in corners(&world) {
            for k in 0..3 {
                lo[k] = lo[k].min(c[k]);
                hi[k] = hi[k].max(c[k]);
            }
        }
        let ge = v["geometricError"].as_f64().unwrap_or(0.0);
        error = error.max(ge);
        if extras.is_null() {
            extras = v["asset"]["extras"].clone();
        }
        children.push(json!({
            "boundingVolume": { "box": world },
            "geometricError": ge,
            "content": { "uri": format!("{}/tileset.json", t.id) },
        }));
    }
    let c = [0, 1, 2].map(|k| (lo[k] + hi[k]) / 2.0);
    let h = [0, 1, 2].map(|k| (hi[k] - lo[k]) / 2.0);
    // The root has no content: showing it instead of its children is the whole area's error,
    // so its geometric error is the area's size (a viewer then always opens the children; the
    // children, external tilesets, are always traversed).
    let diagonal = 2.0 * (h[0] * h[0] + h[1] * h[1] + h[2] * h[2]).sqrt();
    let error = error.max(diagonal);
    let mut asset = json!({ "version": "1.1", "generator": concat!("Kizashi ", env!("CARGO_PKG_VERSION"), " merge") });
    if let Value::Object(mut e) = extras {
        e.insert("tiles".into(), json!(used.len()));
        asset["extras"] = Value::Object(e);
    }
    let tileset = json!({
        "asset": asset,
        "geometricError": error,
        "root": {
            "boundingVolume": { "box": [c[0], c[1], c[2], h[0], 0.0, 0.0, 0.0, h[1], 0.0, 0.0, 0.0, h[2]] },
            "geometricError": error,
            "refine": "ADD",
            "children": children,
        }
    });
    crate::io::safe::write_dir(dir, true, |tmp| -> Result<()> {
        for id in &used {
            copy_tree(&plan.join("tiles").join(id).join("tiles"), &tmp.join(id))?;
        }
        let text = serde_json::to_string_pretty(&tileset).map_err(|e| invalid(e.to_string()))?;
        std::fs::write(tmp.join("tileset.json"), text).map_err(|e| IoError::io(tmp, e).into())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A box moved by a rotation of 90 degrees about z and a translation stays the same box.
    #[test]
    fn boxes_move_with_their_transform() {
        let b = [1.0, 2.0, 3.0, 10.0, 0.0, 0.0, 0.0, 5.0, 0.0, 0.0, 0.0, 1.0];
        // Column-major: x -> y, y -> -x, then + (100, 200, 300).
        let t = [
            0.0, 1.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 100.0, 200.0, 300.0, 1.0,
        ];
        let w = transform_box(&b, &t);
        let want = [
            98.0, 201.0, 303.0, 0.0, 10.0, 0.0, -5.0, 0.0, 0.0, 0.0, 0.0, 1.0,
        ];
        assert!(
            w.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-12),
            "{w:?}"
        );
        let c = corners(&w);
        assert_eq!(c.len(), 8);
        let xs: Vec<f64> = c.iter().map(|p| p[0]).collect();
        assert_eq!(xs.iter().cloned().fold(f64::INFINITY, f64::min), 93.0);
        assert_eq!(xs.iter().cloned().fold(f64::NEG_INFINITY, f64::max), 103.0);
    }
}
