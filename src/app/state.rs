//! What the viewer holds: its options, layers, panels and the state the systems share.

use super::*;

/// `kizashi view` options.
#[derive(Clone, Debug)]
pub struct ViewOptions {
    pub files: Vec<PathBuf>,
    /// Run change detection between the first two epochs once they are loaded.
    pub change: Option<Method>,
    /// Save the window to this PNG after `frames` settled frames, then exit.
    pub screenshot: Option<PathBuf>,
    /// Also save the window at the first frame that shows points (a large file's overview).
    pub first_screenshot: Option<PathBuf>,
    /// Files of more points than this open with an overview first (`Settings`).
    pub overview_points: Option<u64>,
    /// A COPC file whose points would take more than this is read on demand (`Settings`).
    pub cache_bytes: Option<usize>,
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
    /// Run the series over the loaded epochs once they are loaded (the panel's button).
    pub run_series: bool,
    /// Classify ground on every epoch layer once loaded (the layer's button).
    pub classify_ground: bool,
    /// Change detection on ground points only (the change panel's checkbox).
    pub ground_only: bool,
    /// A series result: show this epoch's displacement.
    pub series_epoch: Option<usize>,
    /// Pick the core point nearest this XY (data CRS), as a click would.
    pub pick: Option<[f64; 2]>,
    /// The view the data is first framed in (the Top / Side / Reset buttons' presets).
    pub start_view: Option<camera::Preset>,
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
    /// Files of more points than this show an overview of about as many first (0: never).
    pub overview_points: u64,
    /// The node cache's cap for COPC files read on demand (`paging`).
    pub cache_bytes: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            budget: 1_000_000,
            point_size: 1.0,
            min_px: 2.0,
            min_node_px: 60.0,
            exaggeration: 1.0,
            rim: false,
            edl: true,
            edl_strength: 0.5,
            overview_points: crate::io::las::OVERVIEW_POINTS,
            cache_bytes: super::paging::CACHE_BYTES,
        }
    }
}

pub struct CloudLayer {
    pub cloud: Arc<PointCloud>,
    pub octree: Arc<Octree>,
    /// Gives each drawn node's points their attributes for the current mode; the shader
    /// colours them over `range`.
    pub colouring: colour::Colouring,
    /// Bumped when the mode changes: drawn nodes re-upload their attributes.
    pub colour_version: u64,
    pub mode: ColourMode,
    pub range: (f32, f32),
    pub root: Entity,
    /// Spawned nodes by octree node id.
    pub nodes: HashMap<u32, points::NodeDraw>,
    /// Mean point spacing (m), for splat size and default parameters.
    pub spacing: f32,
    pub drawn: usize,
    /// Result of change detection (not an epoch).
    pub summary: Option<ChangeSummary>,
    /// The result panel's histogram, kept until its field or range changes (not recounted
    /// over every point each frame).
    pub histogram: HistogramCache,
    /// Only an overview of a file of this many points is held; the whole cloud is being read
    /// and replaces it (`jobs::load`). Whatever needs every point waits for it.
    pub overview_of: Option<u64>,
    /// The overview's meshes, drawn until the whole cloud's nodes are, then despawned.
    pub retired: Vec<Entity>,
    /// A COPC file read on demand: the view selects from its hierarchy and `cloud` holds the
    /// nodes read for it (`paging`). `overview_of` stays set: this never holds every point.
    pub paged: Option<super::paging::Paged>,
}

impl CloudLayer {
    /// The mean point spacing of the whole file (not of the overview or the nodes held): the
    /// density that change detection's defaults derive from.
    pub fn file_spacing(&self) -> f32 {
        match (&self.paged, self.overview_of) {
            (Some(p), _) => p.spacing,
            (None, Some(total)) => crate::pipeline::params::spacing_of(&self.cloud.bounds(), total),
            (None, None) => crate::pipeline::params::mean_spacing(&self.cloud),
        }
    }
}

/// Histogram bins of one field over one range.
#[derive(Default)]
pub struct HistogramCache(std::sync::Mutex<Option<Counted>>);

/// Field, range and the bins counted for them.
type Counted = (String, (f32, f32), Vec<usize>);

impl HistogramCache {
    /// The bins of `values` (the field `field`) over `range`, counted once per field and range.
    pub fn bins(&self, field: &str, values: &[f32], range: (f32, f32), n: usize) -> Vec<usize> {
        let Ok(mut slot) = self.0.lock() else {
            return crate::colourmap::histogram(values, range, n);
        };
        match slot.as_ref() {
            Some((f, r, h)) if f == field && *r == range && h.len() == n => h.clone(),
            _ => {
                let h = crate::colourmap::histogram(values, range, n);
                *slot = Some((field.to_string(), range, h.clone()));
                h
            }
        }
    }
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
    pub(crate) placed_on_dem: bool,
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
    /// A cloud whose every point is here (not an overview still loading).
    pub fn complete(&self) -> bool {
        self.cloud().is_some_and(|c| c.overview_of.is_none())
    }
    /// A COPC file read on demand (`paging`): never every point in memory.
    pub fn on_demand(&self) -> bool {
        self.cloud().is_some_and(|c| c.paged.is_some())
    }
    /// Why an action that needs every point of the layer in memory cannot run now.
    pub fn whole_cloud_missing(&self) -> Option<S> {
        if self.on_demand() {
            Some(S::NeedsWholeCloud)
        } else if !self.complete() {
            Some(S::StillLoading)
        } else {
            None
        }
    }
    /// A survey epoch: not a change result, not a series result.
    pub fn is_epoch(&self) -> bool {
        self.cloud().is_some_and(|c| {
            c.summary.is_none() && c.cloud.scalar(crate::fields::VELOCITY).is_none()
        })
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
    /// Compare ground points only (classified on the fly when an epoch has no ground class).
    pub ground_only: bool,
    /// DEM-of-difference cell (m); the density defaults set it to twice the core spacing.
    pub dod_cell: f64,
    pub defaults_for: Option<(u32, u32)>,
    pub registration: Option<crate::analysis::icp::IcpResult>,
    /// The change step of an opened job file: its declared values win over the density rule.
    pub session: Option<crate::pipeline::change::ChangeJob>,
    /// The user picked the epochs: loading more files no longer reorders them.
    pub epochs_chosen: bool,
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
    /// A cross-section's corridor read from files.
    Profile,
}

#[derive(Resource)]
pub struct Viewer {
    pub lang: Lang,
    pub layers: Vec<Layer>,
    pub(crate) next_id: u32,
    /// Shared origin of the scene (data CRS): layers are placed relative to it.
    pub scene_origin: Option<[f64; 3]>,
    pub errors: Vec<String>,
    pub notices: Vec<String>,
    /// Files in the order they were opened: epochs 1 and 2 follow it, not the order in which
    /// their background reads finish.
    pub(crate) opened: Vec<PathBuf>,
    pub jobs: Vec<(JobKind, jobs::Job)>,
    pub settings: Settings,
    pub compare: Compare,
    pub change: ChangePanel,
    pub tool: Tool,
    pub picks: Vec<inspect::Pick>,
    pub profile: Option<inspect::Profile>,
    pub series: super::series::SeriesState,
    pub profile_width: f64,
    /// The open cross-section's corridor, read from the files of partly held layers.
    pub corridor: Option<inspect::CorridorRead>,
    pub view: Option<points::ViewInfo>,
    /// The 3D view's rectangle (physical pixels) left by the panels.
    pub view_rect: Option<Rect>,
    pub frame: u64,
    pub points_drawn: usize,
    /// Points of every spawned node (drawn or kept hidden for a while): what is on the GPU.
    pub points_held: usize,
    /// Shared splat meshes by their number of splats (`points::splat_count`).
    pub splat_meshes: HashMap<usize, Handle<Mesh>>,
    /// `points::colour_luts`, made at start-up.
    pub colour_luts: Handle<bevy::render::storage::ShaderBuffer>,
    pub lod_pending: bool,
    pub auto_active: bool,
    pub drag_in_view: bool,
    pub drag_px: f32,
    pub preset_request: Option<camera::Preset>,
    /// The preset the data is framed in when it arrives.
    pub start_view: camera::Preset,
    pub focus_request: Option<Vec3>,
    pub frame_ms: f32,
    pub dialogs: Vec<std::sync::Mutex<std::sync::mpsc::Receiver<DialogResult>>>,
    pub initial_colour: Option<String>,
    /// The GPU (or software renderer) in use, once known.
    pub renderer: Option<(String, bool)>,
    /// Every render pipeline has compiled once (start-up is over).
    pub(crate) started_up: bool,
    /// Job outputs taken in so far (`poll_jobs`): a frame that took one changed the scene.
    pub(crate) outputs_taken: u64,
    pub(crate) budget_explicit: bool,
    pub(crate) framed: bool,
    pub(crate) framed_cloud: bool,
}

pub enum DialogResult {
    Open(Vec<PathBuf>),
    Save(u32, PathBuf),
    Tiles(u32, PathBuf),
    Copc(u32, PathBuf),
    Objects(u32, PathBuf),
    Report(u32, PathBuf),
    Dod(PathBuf),
    Session(PathBuf),
}

impl Viewer {
    pub(crate) fn new(lang: Lang, settings: Settings) -> Viewer {
        Viewer {
            lang,
            layers: Vec::new(),
            next_id: 1,
            scene_origin: None,
            errors: Vec::new(),
            notices: Vec::new(),
            opened: Vec::new(),
            jobs: Vec::new(),
            settings,
            compare: Compare {
                mode: CompareMode::Off,
                a: None,
                b: None,
                swipe: 0.5,
                blink_s: 0.8,
            },
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
                ground_only: false,
                dod_cell: 2.0,
                defaults_for: None,
                registration: None,
                session: None,
                epochs_chosen: false,
            },
            tool: Tool::Inspect,
            picks: Vec::new(),
            profile: None,
            series: Default::default(),
            profile_width: 1.0,
            corridor: None,
            view: None,
            view_rect: None,
            frame: 0,
            points_drawn: 0,
            points_held: 0,
            splat_meshes: HashMap::new(),
            colour_luts: Handle::default(),
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
            started_up: false,
            outputs_taken: 0,
            budget_explicit: false,
            start_view: camera::Preset::Reset,
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
        // A job file opens as its session: its epochs and orthophoto, its change parameters.
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("toml"))
        {
            match crate::pipeline::site::session(&path) {
                Ok(s) => {
                    self.change.session = s.change;
                    self.change.defaults_for = None;
                    for f in s.files {
                        self.open(f);
                    }
                }
                Err(e) => self.errors.push(e.to_string()),
            }
            return;
        }
        self.opened.push(path.clone());
        let label = format!(
            "{} {}",
            self.t(S::Loading),
            path.file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default()
        );
        let file = Some(path.clone());
        let (overview, cache) = (self.settings.overview_points, self.settings.cache_bytes);
        let mut job = jobs::Job::spawn(label, move |p, c| jobs::load(path, overview, cache, p, c));
        job.file = file;
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
        for l in self
            .layers
            .iter()
            .filter(|l| l.visible && (!any_cloud || l.cloud().is_some()))
        {
            let (bmin, bmax) = match &l.kind {
                LayerKind::Cloud(c) => {
                    let b = c.cloud.bounds();
                    (b.min, b.max)
                }
                LayerKind::Raster(r) => {
                    let xs = r.raster.corners.map(|c| c[0]);
                    let ys = r.raster.corners.map(|c| c[1]);
                    let z = f64::from(r.placed_z) + r.origin[2];
                    (
                        [
                            xs.iter().cloned().fold(f64::MAX, f64::min),
                            ys.iter().cloned().fold(f64::MAX, f64::min),
                            z,
                        ],
                        [
                            xs.iter().cloned().fold(f64::MIN, f64::max),
                            ys.iter().cloned().fold(f64::MIN, f64::max),
                            z,
                        ],
                    )
                }
            };
            for c in 0..8 {
                let p = [
                    if c & 1 == 0 { bmin[0] } else { bmax[0] },
                    if c & 2 == 0 { bmin[1] } else { bmax[1] },
                    if c & 4 == 0 { bmin[2] } else { bmax[2] },
                ];
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
        Some([
            o[0] + f64::from(v.x),
            o[1] - f64::from(v.z),
            o[2] + f64::from(v.y / self.settings.exaggeration),
        ])
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

    /// GPU bytes of the point buffers of every held node and of the shared splat meshes.
    pub fn gpu_point_bytes(&self) -> usize {
        self.points_held * points::GPU_BYTES_PER_POINT
            + self
                .splat_meshes
                .keys()
                .map(|&n| points::splat_mesh_bytes(n))
                .sum::<usize>()
    }

    /// Sets a cloud layer's colour mode and recomputes its attributes (drawn nodes re-upload
    /// theirs; positions stay on the GPU).
    pub fn set_colour(&mut self, id: u32, mode: ColourMode) {
        let Some(l) = self.layers.iter_mut().find(|l| l.id == id) else {
            return;
        };
        let LayerKind::Cloud(c) = &mut l.kind else {
            return;
        };
        let range = colour::default_range(&c.cloud, &mode).unwrap_or((0.0, 1.0));
        c.colouring = colour::Colouring::new(&c.cloud, &mode);
        c.colour_version += 1;
        c.mode = mode;
        c.range = range;
    }

    /// A cloud layer's colour range: a shader uniform, nothing is re-uploaded.
    pub fn set_range(&mut self, id: u32, range: (f32, f32)) {
        let Some(l) = self.layers.iter_mut().find(|l| l.id == id) else {
            return;
        };
        let LayerKind::Cloud(c) = &mut l.kind else {
            return;
        };
        c.range = range;
    }

    pub fn remove_layer(&mut self, commands: &mut Commands, id: u32) {
        if let Some(i) = self.layers.iter().position(|l| l.id == id) {
            let l = self.layers.remove(i);
            // Removed while its whole cloud is still being read: that read stops.
            if l.cloud().is_some_and(|c| c.overview_of.is_some()) {
                for (_, j) in &self.jobs {
                    if j.file.is_some() && j.file == l.path {
                        j.cancel.cancel();
                    }
                }
            }
            let root = match l.kind {
                LayerKind::Cloud(c) => c.root,
                LayerKind::Raster(r) => r.root,
            };
            commands.entity(root).despawn();
        }
        for o in [
            &mut self.change.e1,
            &mut self.change.e2,
            &mut self.compare.a,
            &mut self.compare.b,
        ] {
            if *o == Some(id) {
                *o = None;
            }
        }
        self.profile = None;
        self.picks.retain(|p| p.layer != id);
    }
}
