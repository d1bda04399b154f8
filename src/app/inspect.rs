//! Clicking in the 3D view: pick the point under the cursor (among the drawn ones), then
//! inspect it, measure between two picks, or cut a cross-section between two picks.

use super::{i18n::S, JobKind, LayerKind, Tool, Viewer};
use crate::analysis::octree::Octree;
use crate::cloud::PointCloud;
use bevy::prelude::*;
use bevy_egui::input::EguiWantsInput;
use rayon::prelude::*;
use std::collections::HashMap;

#[derive(Clone, Debug)]
pub struct Pick {
    pub layer: u32,
    pub index: usize,
    /// Data CRS coordinates.
    pub world: [f64; 3],
}

#[derive(Clone, Debug)]
pub struct Series {
    pub name: String,
    pub colour: [u8; 3],
    /// (distance along the line, height) in metres.
    pub points: Vec<[f32; 2]>,
    /// Every point of the layer's file in the corridor (a whole cloud, or read from its file);
    /// false while only the points the view holds are shown.
    pub full: bool,
}

/// A cross-section's line and width: what a file's corridor is read for.
pub type ProfileKey = ([f64; 2], [f64; 2], f64);

/// Full-resolution series of the open cross-section, read from the files of the layers that
/// hold only part of theirs (an overview being refined, a COPC file read on demand).
pub struct CorridorRead {
    pub key: ProfileKey,
    /// Each layer's series, as `cross_section` cuts it from the corridor's points.
    pub series: HashMap<u32, Vec<[f32; 2]>>,
    /// The layers read (a layer opened since is read again with the others).
    layers: Vec<u32>,
    /// The frame the line was first seen (a width being dragged does not start reads).
    since: u64,
    started: bool,
}

impl CorridorRead {
    /// The line is new: its read starts in a few frames.
    pub fn waiting(&self) -> bool {
        !self.started
    }
}

/// Per frame: when the open cross-section crosses layers that hold only part of their file
/// and has stayed put for a few frames, reads its corridor from those files in the
/// background (`io::las::read_corridor`); a read for an older line is cancelled.
pub fn follow_corridor(viewer: &mut Viewer) {
    let Some(p) = &viewer.profile else {
        viewer.corridor = None;
        return;
    };
    let key: ProfileKey = (p.a, p.b, p.width);
    let partial: Vec<(u32, std::path::PathBuf, [f64; 3])> = viewer
        .layers
        .iter()
        .filter_map(|l| {
            let c = l.cloud()?;
            c.overview_of?;
            Some((l.id, l.path.clone()?, c.cloud.origin))
        })
        .collect();
    if partial.is_empty() {
        return;
    }
    let layers: Vec<u32> = partial.iter().map(|p| p.0).collect();
    match &mut viewer.corridor {
        Some(c) if c.key == key && c.layers == layers => {
            if c.started || viewer.frame < c.since + 10 {
                return;
            }
            c.started = true;
        }
        _ => {
            viewer.corridor = Some(CorridorRead {
                key,
                series: HashMap::new(),
                layers,
                since: viewer.frame,
                started: false,
            });
            return;
        }
    }
    for (kind, job) in &viewer.jobs {
        if *kind == JobKind::Profile {
            job.cancel.cancel();
        }
    }
    let (a, b, width) = key;
    let label = viewer.t(S::Profile).to_string();
    let job = super::jobs::Job::spawn(label, move |p, cancel| {
        let corridor = crate::io::las::Corridor {
            a,
            b,
            half_width: width / 2.0,
        };
        let mut series = Vec::new();
        for (id, path, origin) in partial {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            let step = name.as_ref();
            p.set_step(step);
            let fields = super::jobs::VIEW_FIELDS;
            let cloud = crate::io::las::read_corridor(&path, fields, &corridor, origin, |d, t| {
                crate::pipeline::Progress::update(p, step, d, t);
                !cancel.is_cancelled()
            })
            .map_err(|e| {
                if cancel.is_cancelled() {
                    "cancelled".to_string()
                } else {
                    e.to_string()
                }
            })?;
            series.push((id, cross_section(&cloud, a, b, width, PROFILE_POINTS)));
        }
        Ok(super::jobs::Output::Corridor { key, series })
    });
    viewer.jobs.push((JobKind::Profile, job));
}

/// Points a cross-section shows per layer at most (evenly thinned beyond).
const PROFILE_POINTS: usize = 20_000;

#[derive(Clone, Debug)]
pub struct Profile {
    pub a: [f64; 2],
    pub b: [f64; 2],
    pub width: f64,
    pub series: Vec<Series>,
}

/// Points of `cloud` within `width / 2` of the segment a-b (XY), as (distance along, z), at
/// most `max` of them (evenly thinned), sorted along the line.
pub fn cross_section(
    cloud: &PointCloud,
    a: [f64; 2],
    b: [f64; 2],
    width: f64,
    max: usize,
) -> Vec<[f32; 2]> {
    let o = cloud.origin;
    let (ax, ay) = (a[0] - o[0], a[1] - o[1]);
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let len = (dx * dx + dy * dy).sqrt();
    if len <= 0.0 || !(width > 0.0) {
        return Vec::new();
    }
    let (ux, uy) = (dx / len, dy / len);
    let half = width * 0.5;
    let mut v: Vec<[f32; 2]> = cloud
        .positions
        .par_iter()
        .filter_map(|p| {
            let (px, py) = (f64::from(p[0]) - ax, f64::from(p[1]) - ay);
            let t = px * ux + py * uy;
            let off = (-px * uy + py * ux).abs();
            (t >= 0.0 && t <= len && off <= half && p[2].is_finite())
                .then(|| [t as f32, (f64::from(p[2]) + o[2]) as f32])
        })
        .collect();
    if v.len() > max {
        let step = v.len().div_ceil(max);
        v = v.into_iter().step_by(step).collect();
    }
    v.sort_by(|p, q| p[0].total_cmp(&q[0]));
    v
}

/// The drawn point nearest the camera within a few pixels of `cursor` (physical pixels).
pub fn pick(viewer: &Viewer, cursor: Vec2) -> Option<Pick> {
    let view = viewer.view?;
    let mut best: Option<(f32, Pick)> = None;
    for l in viewer.layers.iter().filter(|l| l.shown) {
        let LayerKind::Cloud(c) = &l.kind else {
            continue;
        };
        let m = view.clip_from_world * viewer.layer_transform(c.cloud.origin).to_matrix();
        let radius = 6.0f32;
        for (&id, nd) in &c.nodes {
            if nd.last != viewer.frame && nd.last + 1 != viewer.frame {
                continue;
            }
            let found = c
                .octree
                .points(id as usize)
                .par_iter()
                .filter_map(|&i| {
                    let p = c.cloud.positions[i as usize];
                    let clip = m * Vec3::from(p).extend(1.0);
                    if clip.w <= 1e-6 {
                        return None;
                    }
                    let ndc = clip.truncate() / clip.w;
                    let px = Vec2::new(
                        view.viewport.x + (ndc.x + 1.0) * 0.5 * view.viewport.z,
                        view.viewport.y + (1.0 - ndc.y) * 0.5 * view.viewport.w,
                    );
                    (px.distance(cursor) <= radius).then_some((clip.w, i))
                })
                .min_by(|a, b| a.0.total_cmp(&b.0));
            if let Some((w, i)) = found {
                if best.as_ref().is_none_or(|(bw, _)| w < *bw) {
                    best = Some((
                        w,
                        Pick {
                            layer: l.id,
                            index: i as usize,
                            world: c.cloud.world(i as usize),
                        },
                    ));
                }
            }
        }
    }
    best.map(|(_, p)| p)
}

#[derive(Default)]
pub struct ClickState {
    last: Option<(f64, Vec2)>,
}

/// Single click: the current tool; double click: focus the camera on the point.
pub fn click(
    buttons: Res<ButtonInput<MouseButton>>,
    windows: Query<&Window>,
    egui: Res<EguiWantsInput>,
    time: Res<Time>,
    mut viewer: ResMut<Viewer>,
    mut state: Local<ClickState>,
) {
    if !buttons.just_released(MouseButton::Left)
        || !viewer.drag_in_view
        || viewer.drag_px > 4.0
        || egui.is_pointer_over_area()
    {
        return;
    }
    let Ok(win) = windows.single() else { return };
    let Some(cursor) = win.physical_cursor_position() else {
        return;
    };
    let now = time.elapsed_secs_f64();
    let double = state
        .last
        .is_some_and(|(t, p)| now - t < 0.4 && p.distance(cursor) < 6.0);
    state.last = Some((now, cursor));
    let Some(p) = pick(&viewer, cursor) else {
        return;
    };
    if double {
        if let Some(o) = viewer.scene_origin {
            viewer.focus_request = Some(viewer.data_to_bevy(p.world, o));
        }
        return;
    }
    apply_pick(&mut viewer, p);
}

pub fn apply_pick(viewer: &mut Viewer, p: Pick) {
    match viewer.tool {
        Tool::Inspect => viewer.picks = vec![p],
        Tool::Measure | Tool::Profile => {
            if viewer.picks.len() >= 2 {
                viewer.picks.clear();
            }
            viewer.picks.push(p);
        }
    }
    if viewer.tool == Tool::Profile && viewer.picks.len() == 2 {
        let (a, b) = (viewer.picks[0].world, viewer.picks[1].world);
        viewer.profile = Some(make_profile(viewer, [a[0], a[1]], [b[0], b[1]]));
    }
}

/// After a layer's overview is replaced by a denser cloud (or the whole one), its picks point
/// at the new cloud's point at the same place (the overview's points are the file's, so it
/// is there), and keep its attributes honest; a pick with no point within 1 mm goes. Looked
/// up through the octree: only the nodes whose box holds the place.
pub fn repick(picks: &mut Vec<Pick>, layer: u32, cloud: &PointCloud, octree: &Octree) {
    picks.retain_mut(|p| {
        if p.layer != layer {
            return true;
        }
        let q = [0, 1, 2].map(|k| (p.world[k] - cloud.origin[k]) as f32);
        let mut best: Option<(usize, f32)> = None;
        let mut stack = if octree.nodes.is_empty() {
            vec![]
        } else {
            vec![0usize]
        };
        while let Some(n) = stack.pop() {
            let node = &octree.nodes[n];
            let inside = (0..3)
                .all(|k| node.tight_min[k] - 1e-3 <= q[k] && q[k] <= node.tight_max[k] + 1e-3);
            if !inside {
                continue;
            }
            for &i in octree.points(n) {
                let Some(x) = cloud.positions.get(i as usize) else {
                    continue;
                };
                let d2 = (0..3).map(|k| (x[k] - q[k]).powi(2)).sum::<f32>();
                if best.is_none_or(|(_, b)| d2 < b) {
                    best = Some((i as usize, d2));
                }
            }
            stack.extend(node.children.iter().map(|&c| c as usize));
        }
        match best {
            Some((i, d2)) if d2 <= 1e-6 => {
                p.index = i;
                p.world = cloud.world(i);
                true
            }
            _ => false,
        }
    });
}

/// Both epochs' (every cloud's) profile along a-b.
pub fn make_profile(viewer: &Viewer, a: [f64; 2], b: [f64; 2]) -> Profile {
    let palette = [
        [255, 170, 40],
        [60, 200, 255],
        [120, 230, 120],
        [240, 90, 200],
    ];
    let series = viewer
        .layers
        .iter()
        .filter_map(|l| l.cloud().map(|c| (l, c)))
        .enumerate()
        .map(|(k, (l, c))| {
            let width = viewer.profile_width;
            // The corridor read from the file, once there is one for this line.
            let read = viewer
                .corridor
                .as_ref()
                .filter(|r| r.key == (a, b, width))
                .and_then(|r| r.series.get(&l.id));
            Series {
                name: l.name.clone(),
                colour: palette[k % palette.len()],
                full: read.is_some() || c.overview_of.is_none(),
                points: match read {
                    Some(p) => p.clone(),
                    None => cross_section(&c.cloud, a, b, width, PROFILE_POINTS),
                },
            }
        })
        .filter(|s| !s.points.is_empty())
        .collect();
    Profile {
        a,
        b,
        width: viewer.profile_width,
        series,
    }
}

/// Distances between two picks: 3D, horizontal, vertical.
pub fn measure(a: [f64; 3], b: [f64; 3]) -> (f64, f64, f64) {
    let (dx, dy, dz) = (b[0] - a[0], b[1] - a[1], b[2] - a[2]);
    let h = (dx * dx + dy * dy).sqrt();
    ((h * h + dz * dz).sqrt(), h, dz)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A click on the pixel where a point is drawn picks that point (the nearest of those
    /// under the cursor), with its world coordinates; a click on empty sky picks nothing.
    #[test]
    fn pick_finds_the_point_under_the_cursor() {
        use crate::analysis::octree::{Octree, Params};
        let mut c = PointCloud::with_origin([500_000.0, 4_000_000.0, 100.0]);
        for i in 0..50 {
            for j in 0..50 {
                c.positions.push([i as f32, j as f32, 0.0]);
            }
        }
        // A point on a post, 5 m above the ground point at (10, 10): nearer to a camera above.
        c.positions.push([10.0, 10.0, 5.0]);
        let octree = Octree::build(&c.positions, Params::default());
        let mut v = super::super::Viewer::new(super::super::i18n::Lang::En, Default::default());
        v.scene_origin = Some(c.origin);
        let mut nodes = std::collections::HashMap::new();
        for id in 0..octree.nodes.len() as u32 {
            nodes.insert(
                id,
                super::super::points::NodeDraw {
                    entity: Entity::PLACEHOLDER,
                    last: v.frame,
                    material: Handle::default(),
                    colour_version: 0,
                    count: octree.nodes[id as usize].count,
                },
            );
        }
        let colouring =
            super::super::colour::Colouring::new(&c, &super::super::colour::ColourMode::Elevation);
        let layer = super::super::CloudLayer {
            cloud: std::sync::Arc::new(c),
            octree: std::sync::Arc::new(octree),
            colouring,
            colour_version: 0,
            mode: super::super::colour::ColourMode::Elevation,
            range: (0.0, 1.0),
            root: Entity::PLACEHOLDER,
            nodes,
            spacing: 1.0,
            drawn: 0,
            summary: None,
            histogram: Default::default(),
            overview_of: None,
            retired: Vec::new(),
            paged: None,
        };
        v.layers.push(super::super::Layer {
            id: 7,
            name: "e1".into(),
            path: None,
            visible: true,
            shown: true,
            swipe_side: 0.0,
            kind: LayerKind::Cloud(layer),
            warnings: Vec::new(),
        });
        // Camera 100 m above the site centre looking straight down (bevy: y up).
        let eye = Vec3::new(25.0, 100.0, -25.0);
        let view =
            Transform::from_translation(eye).looking_at(Vec3::new(25.0, 0.0, -25.0), Vec3::NEG_Z);
        let proj = Mat4::perspective_infinite_reverse_rh(0.8, 800.0 / 600.0, 0.1);
        let info = super::super::points::ViewInfo {
            clip_from_world: proj * view.to_matrix().inverse(),
            camera_pos: eye,
            viewport: Vec4::new(100.0, 50.0, 800.0, 600.0),
            focal_px: proj.y_axis.y * 0.5 * 600.0,
        };
        v.view = Some(info);
        let o = v.scene_origin.unwrap();
        // The post top (index 2500) is nearer the eye than the ground points around its pixel.
        let (px, _) = info
            .project(v.data_to_bevy([500_010.0, 4_000_010.0, 105.0], o))
            .expect("in view");
        let p = pick(&v, px + Vec2::new(1.0, -1.0)).expect("a point under the cursor");
        assert_eq!(p.layer, 7);
        assert_eq!(p.index, 2500);
        assert!((p.world[2] - 105.0).abs() < 1e-4 && (p.world[0] - 500_010.0).abs() < 1e-4);
        let (q, _) = info
            .project(v.data_to_bevy([500_030.0, 4_000_020.0, 100.0], o))
            .expect("in view");
        let p = pick(&v, q).expect("ground point");
        assert_eq!(p.index, 30 * 50 + 20);
        // Far outside the data.
        let (sky, _) = info
            .project(v.data_to_bevy([500_200.0, 4_000_020.0, 100.0], o))
            .unwrap_or((Vec2::new(5.0, 5.0), 0.0));
        assert!(pick(&v, sky).is_none());

        // Colour changes keep every drawn node (positions stay on the GPU): a new mode asks
        // them to re-upload their attributes, a new range changes a uniform only.
        let held = v.layers[0].cloud().map(|c| c.nodes.len());
        v.set_range(7, (-2.0, 3.0));
        let c = v.layers[0].cloud().unwrap();
        assert_eq!(
            (c.range, c.colour_version, Some(c.nodes.len())),
            ((-2.0, 3.0), 0, held)
        );
        v.set_colour(7, super::super::colour::ColourMode::Intensity);
        let c = v.layers[0].cloud().unwrap();
        assert_eq!((c.colour_version, Some(c.nodes.len())), (1, held));
        assert!(c.nodes.values().all(|n| n.colour_version == 0));
    }

    #[test]
    fn picks_follow_their_point_into_the_refined_cloud() {
        let mut whole = PointCloud::with_origin([1000.0, 2000.0, 50.0]);
        whole.positions = (0..100).map(|i| [i as f32, 0.5 * i as f32, 1.0]).collect();
        whole.intensity = Some((0..100).collect());
        // An overview of every 10th point: its index 3 is the whole cloud's 30.
        let overview = whole.subset(&(0..10).map(|i| 10 * i).collect::<Vec<usize>>());
        let pick = |layer, index| Pick {
            layer,
            index,
            world: overview.world(index),
        };
        let mut picks = vec![pick(1, 3), pick(2, 3), pick(1, 7)];
        // Coarse nodes, so the points spread over several levels.
        let small = crate::analysis::octree::Params {
            grid: 4,
            max_leaf: 8,
            ..Default::default()
        };
        let octree = Octree::build(&whole.positions, small);
        assert!(octree.nodes.len() > 3);
        repick(&mut picks, 1, &whole, &octree);
        assert_eq!(
            picks.iter().map(|p| (p.layer, p.index)).collect::<Vec<_>>(),
            vec![(1, 30), (2, 3), (1, 70)]
        );
        assert_eq!(picks[0].world, whole.world(30));
        // A point no longer there: the pick goes.
        let mut moved = whole.clone();
        moved.positions[30][2] += 0.5;
        let octree = Octree::build(&moved.positions, small);
        repick(&mut picks, 1, &moved, &octree);
        assert_eq!(picks.len(), 2);
    }

    #[test]
    fn cross_section_keeps_the_corridor_in_world_heights() {
        let mut c = PointCloud::with_origin([1000.0, 2000.0, 50.0]);
        // A line of points along x at y = 0, and some 3 m off the line.
        for i in 0..=10 {
            c.positions.push([i as f32, 0.2, i as f32 * 0.1]);
            c.positions.push([i as f32, 3.0, 99.0]);
        }
        let s = cross_section(&c, [1000.0, 2000.0], [1010.0, 2000.0], 1.0, 1000);
        assert_eq!(s.len(), 11);
        assert!((s[0][0] - 0.0).abs() < 1e-6 && (s[0][1] - 50.0).abs() < 1e-4);
        assert!((s[10][0] - 10.0).abs() < 1e-5 && (s[10][1] - 51.0).abs() < 1e-4);
        // Reversed line: distances measured from the new start.
        let r = cross_section(&c, [1010.0, 2000.0], [1000.0, 2000.0], 1.0, 1000);
        assert!((r[0][1] - 51.0).abs() < 1e-4);
        assert_eq!(
            cross_section(&c, [1000.0, 2000.0], [1010.0, 2000.0], 1.0, 4).len(),
            4
        );
        assert!(cross_section(&c, [0.0, 0.0], [0.0, 0.0], 1.0, 10).is_empty());
        let (d, h, v) = measure([0.0, 0.0, 0.0], [3.0, 4.0, 12.0]);
        assert!((d - 13.0).abs() < 1e-12 && (h - 5.0).abs() < 1e-12 && (v - 12.0).abs() < 1e-12);
    }
}
