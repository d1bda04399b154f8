//! Background work: every file read and every computation runs on its own thread and reports
//! through `pipeline::Progress`, so the window keeps drawing; a job ends with one message.

use crate::analysis::octree::{self, Octree};
use crate::cloud::PointCloud;
use crate::pipeline::{self, Cancel, Progress};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, TryRecvError};
use std::sync::{Arc, Mutex, OnceLock};

/// Wakes the window's event loop: while a file loads untouched, a software renderer waits
/// between frames (`systems::pace_while_loading`), and a job that publishes or ends must show
/// at once. One event loop a process, so one waker, set when the app starts.
static WAKER: OnceLock<Box<dyn Fn() + Send + Sync>> = OnceLock::new();

pub fn set_waker(wake: impl Fn() + Send + Sync + 'static) {
    let _ = WAKER.set(Box::new(wake));
}

fn wake() {
    if let Some(w) = WAKER.get() {
        w();
    }
}

#[derive(Default)]
pub struct JobProgress {
    step: Mutex<String>,
    done: AtomicU64,
    total: AtomicU64,
    /// Results handed over before the job ends (a file's overview while the rest is read).
    early: Mutex<Vec<Output>>,
    /// The window shows points, every render pipeline compiled (`mark_shown`).
    shown: AtomicBool,
    /// The view of the file being read would draw more points than it holds (`want_views`).
    views_wanted: AtomicBool,
}

impl JobProgress {
    /// (step, fraction 0..1 or None when the total is unknown)
    pub fn get(&self) -> (String, Option<f32>) {
        let step = self.step.lock().map(|s| s.clone()).unwrap_or_default();
        let (d, t) = (
            self.done.load(Ordering::Relaxed),
            self.total.load(Ordering::Relaxed),
        );
        (step, (t > 0).then(|| (d as f64 / t as f64).min(1.0) as f32))
    }

    /// Hands a result to the viewer now; the job goes on.
    pub fn publish(&self, o: Output) {
        if let Ok(mut e) = self.early.lock() {
            e.push(o);
        }
        wake();
    }

    /// What the job published since the last call.
    pub fn take_published(&self) -> Vec<Output> {
        self.early
            .lock()
            .map(|mut e| std::mem::take(&mut *e))
            .unwrap_or_default()
    }

    /// Said by the viewer once a frame with points is on screen and no pipeline is compiling.
    pub fn mark_shown(&self) {
        self.shown.store(true, Ordering::Relaxed);
    }

    /// Waits until the viewer shows points (`mark_shown`), at most `max` seconds. On a few
    /// cores a read that goes on while the renderer starts up delays the first frame by half:
    /// bevy compiles its pipelines on one thread and a software renderer draws on the same
    /// cores (10 M LAS, 2 cores, lavapipe: first frame 1.2-1.8 s reading on, 0.8-1.3 s
    /// waiting; the whole cloud comes ~0.5 s later).
    fn wait_shown(&self, max: f64, cancel: &Cancel) {
        let t = std::time::Instant::now();
        while !self.shown.load(Ordering::Relaxed)
            && !cancel.is_cancelled()
            && t.elapsed().as_secs_f64() < max
        {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// Said by the viewer each frame: whether the view of a file being read would draw more
    /// points than the overview it holds (its point budget not full). Only then are denser
    /// views of the part read so far worth their cost (`stream`).
    pub fn want_views(&self, wanted: bool) {
        self.views_wanted.store(wanted, Ordering::Relaxed);
    }

    pub fn set_step(&self, step: &str) {
        if let Ok(mut s) = self.step.lock() {
            step.clone_into(&mut s);
        }
        self.total.store(0, Ordering::Relaxed);
    }
}

impl Progress for JobProgress {
    fn update(&self, step: &str, done: u64, total: u64) {
        if let Ok(mut s) = self.step.lock() {
            if *s != step {
                step.clone_into(&mut s);
            }
        }
        self.done.store(done, Ordering::Relaxed);
        self.total.store(total, Ordering::Relaxed);
    }
}

pub use crate::pipeline::layers::RasterLayer;

pub enum Output {
    Cloud {
        path: PathBuf,
        cloud: PointCloud,
        octree: Octree,
        warnings: Vec<String>,
        /// An overview of a file of this many points; the whole cloud follows.
        overview_of: Option<u64>,
        /// A COPC file read on demand: this is its first snapshot, the rest come from here.
        paged: Option<super::paging::Paged>,
    },
    Raster {
        path: PathBuf,
        raster: RasterLayer,
    },
    Change {
        outcome: Box<pipeline::change::ChangeOutcome>,
        registration: Option<crate::analysis::icp::IcpResult>,
    },
    Colourised {
        layer: u32,
        rgb: Vec<[u16; 3]>,
        covered: usize,
    },
    Classified {
        layer: u32,
        class: Vec<u8>,
        ground: usize,
    },
    Saved {
        path: PathBuf,
    },
    /// A cross-section's series read from files (`inspect::follow_corridor`), by layer id.
    Corridor {
        key: super::inspect::ProfileKey,
        series: Vec<(u32, Vec<[f32; 2]>)>,
    },
}

pub struct Job {
    pub label: String,
    pub progress: Arc<JobProgress>,
    pub cancel: Cancel,
    /// The file a load job reads (its layer, once removed, cancels it).
    pub file: Option<PathBuf>,
    rx: Mutex<Receiver<Result<Output, String>>>,
}

pub enum Poll {
    Running,
    Done(Result<Output, String>),
}

impl Job {
    pub fn spawn(
        label: String,
        work: impl FnOnce(&JobProgress, &Cancel) -> Result<Output, String> + Send + 'static,
    ) -> Job {
        let progress = Arc::new(JobProgress::default());
        let cancel = Cancel::default();
        let (tx, rx) = channel();
        let (p, c) = (progress.clone(), cancel.clone());
        let spawned = std::thread::Builder::new()
            .name("kizashi-job".into())
            .spawn(move || {
                // A panic in a decoder or a computation must not take the viewer down with it.
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&p, &c)))
                    .unwrap_or_else(|e| {
                        let msg = e
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()));
                        Err(format!(
                            "internal error: {}",
                            msg.unwrap_or_else(|| "panic".into())
                        ))
                    });
                let _ = tx.send(r);
                wake();
            });
        if let Err(e) = spawned {
            let (tx, rx2) = channel();
            let _ = tx.send(Err(format!("cannot start a thread: {e}")));
            return Job {
                label,
                progress,
                cancel,
                file: None,
                rx: Mutex::new(rx2),
            };
        }
        Job {
            label,
            progress,
            cancel,
            file: None,
            rx: Mutex::new(rx),
        }
    }

    pub fn poll(&self) -> Poll {
        let Ok(rx) = self.rx.lock() else {
            return Poll::Done(Err("the job's channel is poisoned".into()));
        };
        match rx.try_recv() {
            Ok(r) => Poll::Done(r),
            Err(TryRecvError::Empty) => Poll::Running,
            Err(TryRecvError::Disconnected) => {
                Poll::Done(Err("the job stopped without a result".into()))
            }
        }
    }
}

/// Opens one file: a point cloud (all attributes, plus its LOD octree) or a raster. A large
/// cloud publishes its overview first (`io::las::read_overview`), drawn while the rest is read.
pub fn load(
    path: PathBuf,
    overview_points: u64,
    cache_bytes: usize,
    p: &JobProgress,
    cancel: &Cancel,
) -> Result<Output, String> {
    if pipeline::layers::is_raster(&path) {
        p.set_step("raster");
        let raster = pipeline::layers::open_raster(&path).map_err(|e| e.to_string())?;
        return Ok(Output::Raster { path, raster });
    }
    p.set_step("overview");
    // A COPC file larger than the node cache is read on demand, never whole.
    if overview_points > 0 {
        let paged = super::paging::open(&path, VIEW_FIELDS, overview_points, cache_bytes, cancel)?;
        if let Some((paged, first, warnings)) = paged {
            return Ok(Output::Cloud {
                path,
                cloud: first.cloud,
                octree: first.octree,
                warnings,
                overview_of: Some(paged.total),
                paged: Some(paged),
            });
        }
    }
    // A file the overview cannot read is left to the whole read, which says why.
    let fields = VIEW_FIELDS;
    let overview = (overview_points > 0)
        .then(|| crate::io::las::read_overview(&path, fields, overview_points))
        .and_then(Result::ok)
        .flatten();
    let loaded = match overview {
        Some(o) => stream(
            &path,
            o,
            overview_points,
            REFRESH_S,
            SHOWN_WAIT_S,
            p,
            cancel,
        )?,
        None => pipeline::load_epoch(&path, fields, p, cancel).map_err(|e| e.to_string())?,
    };
    if loaded.cloud.is_empty() {
        return Err(format!("{}: no points", path.display()));
    }
    p.set_step("octree");
    let octree = Octree::build(&loaded.cloud.positions, octree::Params::default());
    Ok(Output::Cloud {
        path,
        cloud: loaded.cloud,
        octree,
        warnings: loaded.warnings,
        overview_of: None,
        paged: None,
    })
}

/// What a layer holds: every attribute but the GPS time, which nothing in the viewer shows or
/// uses (8 bytes a point: 0.8 GB of a 100 M-point file; layered LAZ skips its layer). Exports
/// that keep every attribute (COPC) read the file.
pub const VIEW_FIELDS: crate::io::las::Fields = crate::io::las::Fields {
    gps_time: false,
    ..crate::io::las::Fields::ALL
};

/// Seconds to the first view of a file being read after its overview; each wait after is twice
/// the one before (4, 8, 16 s: a view costs a sample, its octree and ~3 frames, each ~0.25 s of
/// both cores on lavapipe; five views at a fixed 4 s slowed a 100 M LAZ's read).
const REFRESH_S: f64 = 4.0;

/// Longest wait for the overview to be on screen before the rest of the file is read (a window
/// that draws nothing, minimised or hidden, must not hold the read up).
const SHOWN_WAIT_S: f64 = 2.0;

/// Publishes the overview, waits until it is on screen (at most `shown_wait_s`), then reads
/// every point. On the way, while the viewer says the view would draw more points than it
/// holds (`JobProgress::want_views`: zoomed in, or a point budget larger than the overview),
/// after `refresh_s` and then after waits twice as long, the overview plus an even sample of
/// what has been read (as many points again) replaces it, so the part read so far shows at an
/// even density (a LAZ overview follows the file order). A view its overview already fills
/// gets none (lavapipe's budget, 0.3 M points, under the overview's 1 M): each cost a sample,
/// its octree and a few frames on the cores the reader needs. Memory: the whole cloud being
/// read, plus two samples of `budget` points.
fn stream(
    path: &std::path::Path,
    overview: crate::io::las::Loaded,
    budget: u64,
    refresh_s: f64,
    shown_wait_s: f64,
    p: &JobProgress,
    cancel: &Cancel,
) -> Result<crate::io::las::Loaded, String> {
    let total = overview.header.point_count;
    let publish = |cloud: PointCloud, warnings: Vec<String>| {
        let octree = Octree::build(&cloud.positions, octree::Params::default());
        p.publish(Output::Cloud {
            path: path.to_path_buf(),
            cloud,
            octree,
            warnings,
            overview_of: Some(total),
            paged: None,
        });
    };
    let first = overview.cloud;
    publish(first.clone(), overview.warnings);
    p.wait_shown(shown_wait_s, cancel);
    let step = pipeline::read_step(path);
    let mut last = std::time::Instant::now();
    let mut wait_s = refresh_s;
    crate::io::las::read_streaming(path, VIEW_FIELDS, |done, total, so_far| {
        p.update(&step, done, total);
        // Not near the end: the whole cloud comes soon enough.
        if p.views_wanted.load(Ordering::Relaxed)
            && last.elapsed().as_secs_f64() >= wait_s
            && done < total / 10 * 8
        {
            let stride = so_far.len().div_ceil(budget.max(1) as usize).max(1);
            let idx: Vec<usize> = (0..so_far.len()).step_by(stride).collect();
            let mut view = first.clone();
            view.append(&so_far.subset(&idx));
            publish(view, Vec::new());
            last = std::time::Instant::now();
            // Each view costs its octree and a few frames: fewer as the read goes on.
            wait_s *= 2.0;
        }
        !cancel.is_cancelled()
    })
    .map_err(|e| pipeline::PipelineError::from(e).to_string())
}

/// Ground classification of a cloud layer (`pipeline::classify`, SMRF): 2 ground, 1 other,
/// 7 low noise.
pub fn classify(layer: u32, cloud: Arc<PointCloud>, p: &JobProgress) -> Result<Output, String> {
    p.set_step("ground");
    let (g, _) = pipeline::classify::classify_cloud(&cloud, &Default::default());
    let class: Vec<u8> = g
        .class
        .iter()
        .map(|c| match c {
            crate::analysis::ground::Class::Ground => 2,
            crate::analysis::ground::Class::LowNoise => 7,
            crate::analysis::ground::Class::Object => 1,
        })
        .collect();
    let ground = class.iter().filter(|&&k| k == 2).count();
    Ok(Output::Classified {
        layer,
        class,
        ground,
    })
}

/// Colours a cloud layer from an orthophoto (`pipeline::layers::colourise`).
pub fn colourise(
    layer: u32,
    cloud: Arc<PointCloud>,
    ortho: PathBuf,
    p: &JobProgress,
) -> Result<Output, String> {
    p.set_step("colourise");
    let (rgb, covered) = pipeline::layers::colourise(&cloud, &ortho).map_err(|e| e.to_string())?;
    Ok(Output::Colourised {
        layer,
        rgb,
        covered,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A job that publishes or ends wakes the viewer (which may be waiting for input): the
    /// only test in this binary that sets the waker.
    #[test]
    fn publishing_and_ending_wake_the_viewer() {
        static WAKES: AtomicU64 = AtomicU64::new(0);
        set_waker(|| {
            WAKES.fetch_add(1, Ordering::SeqCst);
        });
        let job = Job::spawn("t".into(), |p, _| {
            p.publish(Output::Saved {
                path: PathBuf::from("a"),
            });
            Ok(Output::Saved {
                path: PathBuf::from("b"),
            })
        });
        let t = std::time::Instant::now();
        while matches!(job.poll(), Poll::Running) && t.elapsed().as_secs() < 10 {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        // The result is sent before the wake: wait for the second wake itself.
        while WAKES.load(Ordering::SeqCst) < 2 && t.elapsed().as_secs() < 10 {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(job.progress.take_published().len(), 1);
        assert_eq!(WAKES.load(Ordering::SeqCst), 2);
    }

    /// A file read with an overview: the overview first, then, while the view wants more
    /// points (here after every 1 M-point chunk read, before the last 20 %), the overview plus
    /// an even sample of the points read so far, in file order; then the whole cloud.
    #[test]
    fn streaming_publishes_the_overview_then_denser_views() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.laz");
        let n = 3_000_000;
        let c = crate::demo::epoch_with(1, n, &crate::demo::ortho_image());
        crate::io::las::write(&path, &c, &Default::default()).unwrap();
        drop(c);
        let fields = VIEW_FIELDS;
        let ov = crate::io::las::read_overview(&path, fields, 50_000)
            .unwrap()
            .unwrap();
        let ov_points = ov.cloud.positions.clone();
        // A view that its overview fills (a small point budget) wants nothing more: the
        // overview, then the whole cloud.
        let p = JobProgress::default();
        p.mark_shown();
        let again = crate::io::las::read_overview(&path, fields, 50_000)
            .unwrap()
            .unwrap();
        let whole = stream(&path, again, 50_000, 0.0, 600.0, &p, &Cancel::default()).unwrap();
        assert_eq!(whole.cloud.len(), n);
        let published = p.take_published();
        assert_eq!(published.len(), 1);
        assert!(
            matches!(&published[0], Output::Cloud { cloud, .. } if cloud.positions == ov_points)
        );
        // A view that would draw more gets denser views on the way.
        let p = Arc::new(JobProgress::default());
        p.want_views(true);
        let reader = {
            let p = p.clone();
            // A wait far longer than the test's pause: only `mark_shown` lets the read go on.
            std::thread::spawn(move || {
                stream(&path, ov, 50_000, 0.0, 600.0, &p, &Cancel::default())
            })
        };
        // Nothing more is read until the viewer shows the overview.
        while p.early.lock().unwrap().is_empty() {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        std::thread::sleep(std::time::Duration::from_millis(1000));
        assert_eq!(p.done.load(Ordering::Relaxed), 0);
        assert!(!reader.is_finished());
        p.mark_shown();
        let whole = reader.join().unwrap().unwrap();
        assert_eq!(whole.cloud.len(), n);
        let views: Vec<PointCloud> = p
            .take_published()
            .into_iter()
            .map(|o| match o {
                Output::Cloud {
                    cloud, overview_of, ..
                } => {
                    assert_eq!(overview_of, Some(n as u64));
                    cloud
                }
                _ => panic!("not a cloud"),
            })
            .collect();
        // The overview, then after 1 M and 2 M points read (3 M is the end).
        assert_eq!(views.len(), 3);
        assert_eq!(views[0].positions, ov_points);
        for (k, v) in views[1..].iter().enumerate() {
            let read = (k + 1) * (1 << 20);
            let stride = read.div_ceil(50_000);
            let sample: Vec<usize> = (0..read).step_by(stride).collect();
            assert_eq!(v.len(), ov_points.len() + sample.len());
            assert_eq!(v.positions[..ov_points.len()], ov_points[..]);
            for (j, &i) in sample.iter().enumerate() {
                assert_eq!(v.world(ov_points.len() + j), whole.cloud.world(i));
            }
            assert_eq!(v.rgb.as_ref().map(Vec::len), Some(v.len()));
        }
    }
}
