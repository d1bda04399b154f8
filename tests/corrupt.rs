//! Files damaged in ways the owner's unseen corrupt files might be: every byte-level mutation
//! of real LAS/LAZ/COPC/GeoTIFF headers must give a clean error (exit 1, one line on stderr,
//! no panic, exit code 101 never) or a clean read, in under 10 s and 1 GB, with `kizashi info
//! --full` (which decodes every point).

mod common;

use common::{data, kizashi};
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Runs `kizashi info --json --full FILE`; returns (exit code, stderr, wall time, peak RSS kB).
fn run_info(file: &Path) -> (Option<i32>, String, Duration, i64) {
    let t = Instant::now();
    let err_path = file.with_extension("stderr");
    let err_file = std::fs::File::create(&err_path).unwrap();
    // Reaped by wait4 below (which also gives the child's peak memory).
    #[allow(clippy::zombie_processes)]
    let child = Command::new(kizashi())
        .args(["info", "--json", "--full"])
        .arg(file)
        .stdout(std::process::Stdio::null())
        .stderr(err_file)
        .spawn()
        .expect("run kizashi");
    let mut status: libc::c_int = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child and fills structs we own (getrusage of that child only).
    let r = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert!(r > 0, "wait4 failed");
    let code = if libc::WIFEXITED(status) {
        Some(libc::WEXITSTATUS(status))
    } else {
        None
    };
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    (code, stderr, t.elapsed(), usage.ru_maxrss)
}

fn check(file: &Path, what: &str) {
    let (code, stderr, took, rss_kb) = run_info(file);
    let rss_mb = rss_kb / 1024;
    if took > Duration::from_secs(2) || rss_mb > 200 {
        eprintln!("heavy: {what} {took:?} {rss_mb} MB");
    }
    let bad = !(code == Some(0) || code == Some(1))
        || stderr.contains("panicked")
        || took >= Duration::from_secs(10)
        || rss_mb >= 1024;
    if bad {
        // Keep the offending file for whoever debugs this.
        let keep = std::env::temp_dir().join(format!(
            "kizashi-corrupt-{}",
            file.file_name().unwrap().to_string_lossy()
        ));
        let _ = std::fs::copy(file, &keep);
        eprintln!("kept {}", keep.display());
    }
    assert!(
        code == Some(0) || code == Some(1),
        "{what}: exit {code:?}, stderr: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    if code == Some(1) {
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{what}: one error line expected: {stderr}");
    }
    assert!(took < Duration::from_secs(10), "{what}: took {took:?}");
    assert!(rss_mb < 1024, "{what}: used {rss_mb} MB");
}

enum Mutation {
    Fill { off: usize, len: usize, byte: u8 },
    Bytes(Vec<(usize, u8)>),
    Truncate(usize),
}

/// Deterministic mutations: header fields overwritten with extreme values, random bytes in
/// the first 4 kB (header, VLRs, LAZ chunk table pointer, first chunk), and truncations.
/// Described first and applied one at a time, so this process stays small (its memory would
/// otherwise show up in the child's peak RSS through vfork).
fn mutations(len: usize, seed: u64, n: usize) -> Vec<(String, Mutation)> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::new();
    // LAS header fields that size allocations or seeks.
    let fields: [(usize, usize); 9] = [
        (94, 2),
        (96, 4),
        (100, 4),
        (104, 1),
        (105, 2),
        (107, 4),
        (235, 8),
        (243, 4),
        (247, 8),
    ];
    for (off, flen) in fields {
        for byte in [0xFFu8, 0x7F, 0x00] {
            if off + flen <= len {
                out.push((
                    format!("field@{off}={byte:#x}"),
                    Mutation::Fill {
                        off,
                        len: flen,
                        byte,
                    },
                ));
            }
        }
    }
    for i in 0..n {
        let span = len.min(4096);
        let k = rng.random_range(1..8);
        let edits = (0..k)
            .map(|_| (rng.random_range(0..span), rng.random()))
            .collect();
        out.push((format!("random#{i}"), Mutation::Bytes(edits)));
    }
    for frac in [0.1, 0.5, 0.9, 0.999] {
        out.push((
            format!("truncated@{frac}"),
            Mutation::Truncate((len as f64 * frac) as usize),
        ));
    }
    out
}

fn apply(src: &[u8], m: &Mutation) -> Vec<u8> {
    match m {
        Mutation::Fill { off, len, byte } => {
            let mut v = src.to_vec();
            v[*off..off + len].iter_mut().for_each(|b| *b = *byte);
            v
        }
        Mutation::Bytes(edits) => {
            let mut v = src.to_vec();
            for (at, b) in edits {
                v[*at] = *b;
            }
            v
        }
        Mutation::Truncate(n) => src[..*n].to_vec(),
    }
}

#[test]
fn mutated_files_fail_cleanly_fast_and_small() {
    let dir = tempfile::tempdir().unwrap();
    let sources = [
        "las/laspy/simple.laz",
        "las/laspy/simple.copc.laz",
        "las/laspy/1_4_w_evlr.las",
        "las/laszip/5points_14.las",
        "las/pdal/autzen_trim_7.las",
        "ortho/byte.tif",
        "ortho/cogeo.tif",
    ];
    let mut count = 0;
    for (k, rel) in sources.iter().enumerate() {
        let src = std::fs::read(data(rel)).unwrap();
        let ext = Path::new(rel)
            .extension()
            .unwrap()
            .to_string_lossy()
            .to_string();
        for (what, m) in mutations(src.len(), 1000 + k as u64, 25) {
            let p = dir.path().join(format!("m{count}.{ext}"));
            std::fs::write(&p, apply(&src, &m)).unwrap();
            check(&p, &format!("{rel} {what}"));
            count += 1;
        }
    }
    assert!(count > 200, "{count}");
}

/// Inputs the fuzzer (scripts/fuzz.sh) found crashing the reader, kept as regression tests:
/// each file in tests/fuzz/ is the fuzz target's input (first byte: even .las, odd .laz).
#[test]
fn fuzzer_findings_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let found =
        std::fs::read_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz")).unwrap();
    let mut n = 0;
    for f in found {
        let f = f.unwrap().path();
        if !f
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("las_reader-")
        {
            continue;
        }
        let bytes = std::fs::read(&f).unwrap();
        let ext = if bytes[0] & 1 == 0 { "las" } else { "laz" };
        let p = dir.path().join(format!("case{n}.{ext}"));
        std::fs::write(&p, &bytes[1..]).unwrap();
        // A clean error or a clean read, in this process (an abort or a panic fails the test).
        let r = kizashi::io::las::read(&p);
        if let Err(e) = &r {
            assert!(e.to_string().contains(&format!("case{n}")), "{e}");
        }
        let (code, err, _, _) = run_info(&p);
        assert!(
            code == Some(0) || code == Some(1),
            "{}: info exited {code:?}: {err}",
            f.display()
        );
        n += 1;
    }
    assert!(n >= 1);
}
