//! No output ever destroys an input, and no kill leaves a half-written file: every subcommand
//! and job step refuses an output that is an input (also through a symlink or a hard link)
//! with exit 1, leaving the input's bytes unchanged; SIGKILL at any moment of a write leaves
//! the old output or a complete new one.

mod common;
use common::kizashi;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn sha(p: &Path) -> String {
    format!("{:x}", Sha256::digest(std::fs::read(p).unwrap()))
}

/// Copies of the sample epochs (and the orthophoto) in a fresh folder, so a bug cannot touch
/// the committed files.
fn copies(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let f = |n: &str| {
        let p = dir.join(n);
        std::fs::copy(root().join("sample_data").join(n), &p).unwrap();
        p
    };
    (
        f("epoch1_2025.laz"),
        f("epoch2_2026.laz"),
        f("ortho_2026.tif"),
    )
}

fn refused(args: &[&std::ffi::OsStr], victim: &Path) {
    let before = sha(victim);
    let o = Command::new(kizashi()).args(args).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
    assert!(err.contains("is an input"), "{args:?}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert_eq!(sha(victim), before, "{args:?} changed {}", victim.display());
}

#[test]
fn every_subcommand_refuses_to_overwrite_an_input() {
    let dir = tempfile::tempdir().unwrap();
    let (e1, e2, ortho) = copies(dir.path());
    let link = dir.path().join("link.laz");
    std::os::unix::fs::symlink(&e2, &link).unwrap();
    let hard = dir.path().join("hard.laz");
    std::fs::hard_link(&e1, &hard).unwrap();
    // A result to feed the result-reading subcommands.
    let result = dir.path().join("m3c2.laz");
    let o = Command::new(kizashi())
        .arg("change")
        .arg(&e1)
        .arg(&e2)
        .args(["--core-spacing", "4", "-o"])
        .arg(&result)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = |p: &Path| p.as_os_str().to_owned();
    let a = |x: &str| std::ffi::OsString::from(x);
    let cases: Vec<(Vec<std::ffi::OsString>, PathBuf)> = vec![
        (
            vec![a("change"), s(&e1), s(&e2), a("-o"), s(&e2)],
            e2.clone(),
        ),
        (
            vec![a("change"), s(&e1), s(&e2), a("-o"), s(&link)],
            e2.clone(),
        ),
        (
            vec![a("change"), s(&e1), s(&e2), a("-o"), s(&hard)],
            e1.clone(),
        ),
        (
            vec![a("change"), s(&e1), s(&e2), a("--csv"), s(&e1)],
            e1.clone(),
        ),
        (
            vec![a("register"), s(&e1), s(&e2), a("-o"), s(&e2)],
            e2.clone(),
        ),
        (
            vec![a("register"), s(&e1), s(&e2), a("-o"), s(&link)],
            e2.clone(),
        ),
        (
            vec![
                a("dod"),
                s(&e1),
                s(&e2),
                a("--cell"),
                a("2"),
                a("-o"),
                s(&e1),
            ],
            e1.clone(),
        ),
        (
            vec![
                a("dod"),
                s(&e1),
                s(&e2),
                a("--cell"),
                a("2"),
                a("-o"),
                dir.path().join("d.tif").into(),
                a("--objects"),
                s(&link),
            ],
            e2.clone(),
        ),
        (
            vec![a("objects"), s(&result), a("-o"), s(&result)],
            result.clone(),
        ),
        (
            vec![
                a("report"),
                s(&result),
                a("--ortho"),
                s(&ortho),
                a("-o"),
                s(&ortho),
            ],
            ortho.clone(),
        ),
        (
            vec![
                a("report"),
                s(&result),
                a("-o"),
                dir.path().join("m3c2.laz.json").into(),
            ],
            dir.path().join("m3c2.laz.json"),
        ),
        (
            vec![
                a("export"),
                a("tiles"),
                s(&result),
                a("-o"),
                dir.path().into(),
            ],
            result.clone(),
        ),
    ];
    for (args, victim) in &cases {
        let args: Vec<&std::ffi::OsStr> = args.iter().map(|x| x.as_os_str()).collect();
        refused(&args, victim);
    }
    // Both epochs one file: allowed, with a warning.
    let o = Command::new(kizashi())
        .arg("change")
        .arg(&e1)
        .arg(&hard)
        .args(["--core-spacing", "8", "--json"])
        .output()
        .unwrap();
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["warnings"].to_string().contains("same file"), "{v}");
}

#[test]
fn a_job_step_refuses_to_overwrite_an_input() {
    let dir = tempfile::tempdir().unwrap();
    let (e1, _, _) = copies(dir.path());
    // The user keeps epoch 2 where the change step writes its result.
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let e2 = out.join("change.laz");
    std::fs::copy(root().join("sample_data/epoch2_2026.laz"), &e2).unwrap();
    let job = dir.path().join("site.toml");
    std::fs::write(&job, format!("[site]\noutput = \"out\"\n[[epoch]]\npath = \"{}\"\n[[epoch]]\npath = \"out/change.laz\"\n[change]\n", e1.display())).unwrap();
    refused(&[std::ffi::OsStr::new("run"), job.as_os_str()], &e2);
}

/// Runs `args` and kills it with SIGKILL after `after`; true when it finished first.
fn kill_after(args: &[&std::ffi::OsStr], after: Duration) -> bool {
    let mut child = Command::new(kizashi())
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while t.elapsed() < after {
        if child.try_wait().unwrap().is_some() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = child.kill();
    let _ = child.wait();
    false
}

/// SIGKILL at many moments of `kizashi change -o` (200 000 core points: the LAZ write takes a
/// while) and `kizashi export tiles`: the output is the old file (or nothing) or a complete one.
#[test]
fn sigkill_never_leaves_a_partial_output() {
    let dir = tempfile::tempdir().unwrap();
    let (e1, e2, _) = copies(dir.path());
    let out = dir.path().join("result.laz");
    let csv = dir.path().join("result.csv");
    let args: Vec<&std::ffi::OsStr> = vec![
        "change".as_ref(),
        e1.as_os_str(),
        e2.as_os_str(),
        "--core-step".as_ref(),
        "1".as_ref(),
        "-o".as_ref(),
        out.as_os_str(),
        "--csv".as_ref(),
        csv.as_os_str(),
    ];
    // How long a whole run takes, then kills spread over it (and a complete run between, so
    // later kills hit a write over an existing file).
    let t = Instant::now();
    assert!(kill_after(&args, Duration::from_secs(600)));
    let full = t.elapsed();
    let complete = std::fs::read(&out).unwrap();
    let complete_csv_lines = std::fs::read_to_string(&csv).unwrap().lines().count();
    let mut killed = 0;
    for k in 1..=12 {
        let finished = kill_after(&args, full.mul_f64(f64::from(k) / 12.0 * 1.05));
        killed += usize::from(!finished);
        // Old or new, never partial: the same points either way (same job, same bytes but
        // for the header date, which is the same day).
        let now = std::fs::read(&out).unwrap();
        assert_eq!(
            now.len(),
            complete.len(),
            "kill {k}: result.laz has {} bytes, a complete one {}",
            now.len(),
            complete.len()
        );
        let c = kizashi::io::las::read(&out).unwrap().cloud;
        assert_eq!(c.len(), 200_000, "kill {k}");
        assert_eq!(
            std::fs::read_to_string(&csv).unwrap().lines().count(),
            complete_csv_lines,
            "kill {k}"
        );
        let side: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(format!("{}.json", out.display())).unwrap(),
        )
        .unwrap();
        assert_eq!(side["core_points"], 200_000, "kill {k}");
    }
    assert!(
        killed >= 6,
        "only {killed} of 12 runs were killed before they finished"
    );

    // 3D Tiles: the folder is the old tileset or the new one, never a mix or a half.
    let tiles = dir.path().join("tiles");
    let targs: Vec<&std::ffi::OsStr> = vec![
        "export".as_ref(),
        "tiles".as_ref(),
        e1.as_os_str(),
        "-o".as_ref(),
        tiles.as_os_str(),
        "--max-points-per-tile".as_ref(),
        "5000".as_ref(),
        "--overwrite".as_ref(),
    ];
    let t = Instant::now();
    assert!(kill_after(&targs, Duration::from_secs(600)));
    let full = t.elapsed();
    let listing = |d: &Path| {
        let mut v: Vec<(String, u64)> = std::fs::read_dir(d.join("tiles"))
            .unwrap()
            .map(|e| e.unwrap())
            .map(|e| {
                (
                    e.file_name().to_string_lossy().to_string(),
                    e.metadata().unwrap().len(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let reference = listing(&tiles);
    assert!(reference.len() > 10, "{} tiles", reference.len());
    let mut killed = 0;
    for k in 1..=10 {
        let finished = kill_after(&targs, full.mul_f64(f64::from(k) / 10.0 * 1.05));
        killed += usize::from(!finished);
        assert!(
            tiles.join("tileset.json").is_file(),
            "kill {k}: no tileset.json"
        );
        serde_json::from_str::<serde_json::Value>(
            &std::fs::read_to_string(tiles.join("tileset.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(
            listing(&tiles),
            reference,
            "kill {k}: tiles differ from a complete export"
        );
        assert_eq!(
            std::fs::read_dir(&tiles).unwrap().count(),
            2,
            "kill {k}: only tileset.json and tiles/"
        );
    }
    assert!(
        killed >= 5,
        "only {killed} of 10 exports were killed before they finished"
    );
}
