//! The monitoring series on ../shared/data/synthetic/series9 (9 dated epochs with creep, an
//! onset and a seasonal trap): per-epoch distances and LoDs against py4dgeo 1.2's
//! SpatiotemporalAnalysis (golden/series9.m3c2.csv), and velocity, onset and class against
//! the generator's truth (truth.npz, read with numpy).

mod common;

use common::{data, kizashi, shared};
use kizashi::analysis::series::MotionClass;
use kizashi::pipeline::change::{Cores, M3c2Settings};
use kizashi::pipeline::series::{run_series, SeriesEpoch, SeriesJob, SeriesOutcome};
use kizashi::pipeline::{Cancel, Silent};
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

const EPOCHS: usize = 9;

fn epochs() -> Vec<SeriesEpoch> {
    (0..EPOCHS)
        .map(|k| SeriesEpoch {
            path: data(&format!("synthetic/series9/epoch_{k}.laz")),
            date: None,
        })
        .collect()
}

/// The golden run's parameters: cores every 10th epoch-0 point, cylinder 1, radii 0.5/1/2,
/// max distance 3.
fn job() -> SeriesJob {
    SeriesJob {
        epochs: epochs(),
        reference: 0,
        register: None,
        cores: Some(Cores::Step(10)),
        m3c2: M3c2Settings {
            cyl_radius: Some(1.0),
            normal_radii: Some(vec![0.5, 1.0, 2.0]),
            max_distance: Some(3.0),
            ..Default::default()
        },
        levels: Default::default(),
        output: None,
        csv: None,
        objects: None,
        min_area: Some(0.0),
        wgs84: false,
    }
}

fn outcome() -> &'static SeriesOutcome {
    static RUN: OnceLock<SeriesOutcome> = OnceLock::new();
    RUN.get_or_init(|| run_series(&job(), &Silent, &Cancel::default()).expect("series runs"))
}

fn field<'a>(o: &'a SeriesOutcome, name: &str) -> &'a [f32] {
    &o.result
        .scalar(name)
        .unwrap_or_else(|| panic!("field {name}"))
        .values
}

#[test]
fn distances_and_lods_equal_py4dgeo_spatiotemporal_analysis() {
    let text = std::fs::read_to_string(shared().join("golden/series9.m3c2.csv")).unwrap();
    let mut lines = text.lines();
    let cols: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<Vec<f64>> = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            l.split(',')
                .map(|v| v.parse().unwrap_or(f64::NAN))
                .collect()
        })
        .collect();
    let o = outcome();
    assert_eq!(o.result.len(), rows.len(), "core points");
    // Same core points in the same order.
    for (i, r) in rows.iter().enumerate().step_by(97) {
        let w = o.result.world(i);
        assert!(
            (0..3).all(|k| (w[k] - r[k]).abs() < 1e-3),
            "core {i}: {w:?} vs {r:?}"
        );
    }
    let (mut total, mut within, mut nan_mismatch) = (0usize, 0usize, 0usize);
    for k in 1..EPOCHS {
        let gd = cols
            .iter()
            .position(|c| *c == format!("distance_{k}"))
            .unwrap();
        let gl = cols.iter().position(|c| *c == format!("lod_{k}")).unwrap();
        let d = field(o, &format!("d_{k}"));
        let l = field(o, &format!("lod_{k}"));
        for (i, r) in rows.iter().enumerate() {
            total += 1;
            let (a, b) = (f64::from(d[i]), r[gd]);
            if a.is_nan() || b.is_nan() {
                nan_mismatch += usize::from(a.is_nan() != b.is_nan());
                within += usize::from(a.is_nan() && b.is_nan());
                continue;
            }
            if (a - b).abs() <= 1e-3 && (f64::from(l[i]) - r[gl]).abs() <= 1e-3 {
                within += 1;
            }
        }
    }
    let share = within as f64 / total as f64;
    eprintln!("series9: {within}/{total} core-point-epochs within 1 mm ({share:.5}), {nan_mismatch} NaN mismatches");
    assert!(share >= 0.999, "{share}");
}

/// Per core point of the run: truth label and true vertical displacement per epoch (the
/// core points are every 10th epoch-0 point, the truth is per epoch-0 point).
fn truth() -> Vec<(u8, Vec<f64>)> {
    let npz = data("synthetic/series9/truth.npz");
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys, numpy as np; t = np.load(sys.argv[1]); \
             np.savetxt(sys.stdout, np.column_stack([t['label'], t['dz']])[::10], fmt='%.6f', delimiter=',')",
        ])
        .arg(&npz)
        .output()
        .expect("python3 with numpy (scripts/setup-debian.sh installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Vec<f64> = l.split(',').map(|x| x.parse().unwrap()).collect();
            (v[0] as u8, v[1..].to_vec())
        })
        .collect()
}

#[test]
fn velocity_onset_and_classes_match_the_truth() {
    let o = outcome();
    let truth = truth();
    assert_eq!(truth.len(), o.result.len());
    let (vel, nz, onset, class) = (
        field(o, "velocity"),
        field(o, "normal_z"),
        field(o, "onset_index"),
        field(o, "motion_class"),
    );
    let share = |label: u8, ok: &dyn Fn(usize) -> bool| {
        let idx: Vec<usize> = (0..truth.len()).filter(|&i| truth[i].0 == label).collect();
        idx.iter().filter(|&&i| ok(i)).count() as f64 / idx.len() as f64
    };
    let creep_v = share(1, &|i| {
        let want = 0.06 * f64::from(nz[i]);
        (f64::from(vel[i]) - want).abs() <= 0.05 * want.abs()
    });
    let creep_class = share(1, &|i| {
        matches!(
            MotionClass::from_code(class[i]),
            MotionClass::Steady | MotionClass::Accelerating
        )
    });
    let stable_v = share(0, &|i| f64::from(vel[i]).abs() < 0.003);
    let stable_onset = share(0, &|i| onset[i] >= 0.0);
    let seasonal_onset = share(3, &|i| onset[i] >= 0.0);
    let stable_alarm = share(0, &|i| {
        MotionClass::from_code(class[i]) != MotionClass::Stable
    });
    let onset_ok = share(2, &|i| (4.0..=6.0).contains(&onset[i]));
    let onset_exact = share(2, &|i| onset[i] == 5.0);
    eprintln!(
        "creep: velocity within 5 % {creep_v:.4}, steady/accelerating {creep_class:.4}; stable: |v| < 3 mm/yr {stable_v:.4}, onset {stable_onset:.4}, any alarm {stable_alarm:.4}; seasonal onset {seasonal_onset:.4}; onset region: epoch 5 +-1 {onset_ok:.4} (exactly 5: {onset_exact:.4}); variance factor {:.3}",
        o.summary.variance_factor
    );
    assert!(creep_v >= 0.95, "creep velocity {creep_v}");
    assert!(creep_class >= 0.95, "creep class {creep_class}");
    assert!(stable_v >= 0.99, "stable velocity {stable_v}");
    assert!(onset_ok >= 0.95, "onset {onset_ok}");
    assert!(stable_onset <= 0.01, "stable with an onset {stable_onset}");
    assert!(
        seasonal_onset <= 0.02,
        "seasonal with an onset {seasonal_onset}"
    );
    // The onset date is the epoch's (2023-06-20 as a decimal year).
    let years = field(o, "onset_year");
    let i = (0..truth.len()).find(|&i| onset[i] == 5.0).unwrap();
    assert!(
        (f64::from(years[i]) - 2023.465).abs() < 0.01,
        "{}",
        years[i]
    );
    // Dates came from the LAS headers.
    assert_eq!(o.summary.epochs[5].date.to_string(), "2023-06-20");
}

#[test]
fn objects_in_time_find_the_creep_and_the_onset() {
    let o = outcome();
    let objs = &o.summary.objects;
    let big: Vec<_> = objs.iter().filter(|ob| ob.area_m2 > 100.0).collect();
    let creep = big
        .iter()
        .find(|ob| ob.class != MotionClass::Onset)
        .expect("creep object");
    let onset = big
        .iter()
        .find(|ob| ob.class == MotionClass::Onset)
        .expect("onset object");
    // Creep circle r = 0.15 L (L = 89.4 m): 565 m2 inside the taper.
    assert!(
        creep.area_m2 > 300.0 && creep.area_m2 < 1100.0,
        "{}",
        creep.area_m2
    );
    assert!(creep.velocity > 0.03, "{}", creep.velocity);
    assert_eq!(
        onset.onset_date.map(|d| d.to_string()).as_deref(),
        Some("2023-06-20")
    );
    // Its mean series: still before the onset, falling after, uncertainty below the signal.
    assert!(
        onset.displacement[4].abs() < 0.005,
        "{:?}",
        onset.displacement
    );
    assert!(onset.displacement[8] < -0.1, "{:?}", onset.displacement);
    assert!(onset.uncertainty[8] < 0.01);
    // No object over the seasonal trap ((0.75 L, 0.75 L) from the origin corner).
    let l = 89.442_719_1;
    let (cx, cy) = (-8000.0 + 0.75 * l, -36000.0 + 0.75 * l);
    assert!(
        big.iter()
            .all(|ob| (ob.centre[0] - cx).hypot(ob.centre[1] - cy) > 8.0),
        "{big:?}"
    );
}

/// The command line writes LAZ (read back by laspy), CSV with the documented columns and
/// GeoJSON objects; a missing date, decreasing dates and outputs over inputs are refused.
#[test]
fn cli_writes_laz_csv_and_objects_and_refuses_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let laz = dir.path().join("series.laz");
    let csv = dir.path().join("series.csv");
    let geo = dir.path().join("objects.geojson");
    let mut cmd = Command::new(kizashi());
    cmd.arg("series");
    for e in epochs() {
        cmd.arg(e.path);
    }
    let out = cmd
        .args(["--dates"])
        .arg(data("synthetic/series9/dates.txt"))
        .args([
            "--core-spacing",
            "2",
            "--cyl-radius",
            "1",
            "--normal-radii",
            "0.5,1,2",
        ])
        .args(["--max-distance", "3", "-o"])
        .arg(&laz)
        .arg("--csv")
        .arg(&csv)
        .arg("--objects")
        .arg(&geo)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cores = s["core_points"].as_u64().unwrap();
    assert!(cores > 1000, "{s}");
    let header = std::fs::read_to_string(&csv).unwrap();
    let mut lines = header.lines();
    let mut want = "x,y,z,nx,ny,nz,velocity,velocity_se,acceleration,acceleration_se,onset_index,onset_year,motion_class".to_string();
    for k in 1..EPOCHS {
        want.push_str(&format!(",d_{k},lod_{k}"));
    }
    assert_eq!(lines.next().unwrap(), want);
    assert_eq!(lines.count() as u64, cores);
    // laspy reads every field back.
    let py = Command::new("python3")
        .args([
            "-c",
            "import sys, laspy, numpy as np; f = laspy.read(sys.argv[1]); \
             names = list(f.point_format.extra_dimension_names); \
             print(len(f.points), ','.join(names), int((f['motion_class'] == 3).sum()), float(np.nanmax(f['d_8'])))",
        ])
        .arg(&laz)
        .output()
        .unwrap();
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );
    let text = String::from_utf8(py.stdout).unwrap();
    let parts: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(parts[0].parse::<u64>().unwrap(), cores);
    for f in [
        "velocity",
        "velocity_se",
        "acceleration_se",
        "onset_year",
        "d_1",
        "lod_8",
    ] {
        assert!(parts[1].split(',').any(|n| n == f), "{f} in {}", parts[1]);
    }
    assert!(
        parts[2].parse::<u64>().unwrap() > 50,
        "onset core points {text}"
    );
    assert!(
        parts[3].parse::<f64>().unwrap() > 0.1,
        "creep at the last epoch {text}"
    );
    let gj: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&geo).unwrap()).unwrap();
    let feats = gj["features"].as_array().unwrap();
    let onset = feats
        .iter()
        .find(|f| f["properties"]["onset_date"] == "2023-06-20")
        .expect("an onset object");
    assert_eq!(
        onset["properties"]["displacement_m"]
            .as_array()
            .unwrap()
            .len(),
        EPOCHS
    );
    assert_eq!(onset["properties"]["dates"][0], "2021-03-10");

    // Dates that do not increase.
    let bad = dir.path().join("dates.txt");
    std::fs::write(&bad, "2021-01-01\n2020-01-01\n2022-01-01\n").unwrap();
    let e: Vec<PathBuf> = epochs().into_iter().take(3).map(|e| e.path).collect();
    let out = Command::new(kizashi())
        .arg("series")
        .args(&e)
        .arg("--dates")
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("must increase"));
    // A file without a header date and no --dates.
    let nodate = dir.path().join("nodate.las");
    let mut c = kizashi::cloud::PointCloud::with_origin([0.0; 3]);
    c.positions = (0..100).map(|i| [i as f32, 0.0, 0.0]).collect();
    kizashi::io::las::write(&nodate, &c, &Default::default()).unwrap();
    // Creation day of year and year (header bytes 90..94) set to 0: no date.
    let mut bytes = std::fs::read(&nodate).unwrap();
    bytes[90..94].fill(0);
    std::fs::write(&nodate, bytes).unwrap();
    let out = Command::new(kizashi())
        .arg("series")
        .arg(&nodate)
        .args(&e[1..])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no survey date"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Output over an input: refused, the input intact.
    let copy = dir.path().join("e0.laz");
    std::fs::copy(&e[0], &copy).unwrap();
    let before = std::fs::read(&copy).unwrap();
    let out = Command::new(kizashi())
        .arg("series")
        .arg(&copy)
        .args(&e[1..])
        .arg("-o")
        .arg(&copy)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(std::fs::read(&copy).unwrap(), before);
}

/// A job file with nine epochs and a [series] step: the series, its monitoring report (PDF,
/// pdftotext finds the onset date) and 3D Tiles with velocity, onset and per-epoch
/// displacement as properties; the second run skips every step.
#[test]
fn job_file_series_report_and_tiles() {
    let dir = tempfile::tempdir().unwrap();
    let dates = std::fs::read_to_string(data("synthetic/series9/dates.txt")).unwrap();
    let mut toml = String::from("[site]\nname = \"series9\"\noutput = \"out\"\n");
    for (k, d) in dates.split_whitespace().enumerate() {
        toml.push_str(&format!(
            "\n[[epoch]]\npath = \"{}\"\ndate = {d}\n",
            data(&format!("synthetic/series9/epoch_{k}.laz")).display()
        ));
    }
    toml.push_str("\n[series]\ncore_spacing = 2.0\ncyl_radius = 1.0\nnormal_radii = [0.5, 1.0, 2.0]\nmax_distance = 3.0\nmin_area = 20.0\n\n[report]\nlang = \"en\"\n\n[tiles]\n");
    let job = dir.path().join("site.toml");
    std::fs::write(&job, toml).unwrap();
    let run = || {
        let out = Command::new(kizashi())
            .args(["run"])
            .arg(&job)
            .arg("--json")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let first = run();
    let steps: Vec<&str> = first["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["series", "report", "tiles"], "{first}");
    let out = dir.path().join("out");
    for f in [
        "series.laz",
        "series.laz.json",
        "series.csv",
        "series_objects.geojson",
        "monitoring.pdf",
        "tiles/tileset.json",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let text = Command::new("pdftotext")
        .arg(out.join("monitoring.pdf"))
        .arg("-")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("Monitoring report"), "{text}");
    assert!(
        text.contains("2023-06-20"),
        "onset date in the report: {text}"
    );
    assert!(text.contains("onset of movement"), "{text}");
    let ts: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("tiles/tileset.json")).unwrap())
            .unwrap();
    let props = &ts["schema"]["classes"]["point"]["properties"];
    for p in ["velocity", "onset_year", "motion_class", "d_1", "d_8"] {
        assert!(props.get(p).is_some(), "{p} in {props}");
    }
    let again = run();
    assert!(
        again["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] == "skipped"),
        "{again}"
    );
}

/// `--register`: an epoch lifted by 5 cm is put back onto the reference by the ICP (its
/// matrix says so, its error enters its LoD) and its stable ground reads about 0 again.
#[test]
fn registration_of_every_epoch_takes_out_a_survey_offset() {
    use kizashi::pipeline::series::SeriesRegister;
    let dir = tempfile::tempdir().unwrap();
    let mut eps: Vec<SeriesEpoch> = epochs().into_iter().take(4).collect();
    let mut c = kizashi::io::las::read(&eps[2].path).unwrap().cloud;
    for p in &mut c.positions {
        p[2] += 0.05;
    }
    let lifted = dir.path().join("epoch_2_lifted.laz");
    kizashi::io::las::write(&lifted, &c, &Default::default()).unwrap();
    eps[2] = SeriesEpoch {
        path: lifted,
        date: Some(chrono::NaiveDate::from_ymd_opt(2022, 3, 15).unwrap()),
    };
    let mut j = job();
    j.epochs = eps;
    j.cores = Some(Cores::Step(40));
    // Stable ground: the north-east quarter holds neither the creep nor the failing slope
    // (the seasonal trap there moves 6 mm at most).
    j.register = Some(SeriesRegister {
        stable_box: Some([-7955.0, -35955.0, -7910.0, -35910.0]),
        ..Default::default()
    });
    let o = run_series(&j, &Silent, &Cancel::default()).unwrap();
    let e = &o.summary.epochs[2];
    let m = e.matrix.expect("registered");
    // The transform moves the site's centre down by the lift.
    let (x, y, z) = (-7955.0, -35955.0, 110.0);
    let dz = m[2][0] * x + m[2][1] * y + m[2][2] * z + m[2][3] - z;
    assert!((dz + 0.05).abs() < 0.005, "z shift at the centre {dz}");
    assert!(
        e.registration_error > 0.0 && e.registration_error < 0.01,
        "{}",
        e.registration_error
    );
    assert!(
        o.summary.epochs[0].matrix.is_none(),
        "the reference is not registered"
    );
    let d = field(&o, "d_2");
    let truth = truth();
    let stable: Vec<f32> = (0..d.len())
        .filter(|&i| truth[4 * i].0 == 0 && d[i].is_finite())
        .map(|i| d[i])
        .collect();
    let mean = stable.iter().sum::<f32>() / stable.len() as f32;
    assert!(
        mean.abs() < 0.005,
        "stable ground after registration: {mean}"
    );
}
