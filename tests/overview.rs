//! The overview a large file opens with (`io::las::read_overview`, `kizashi view`): exactly
//! the points it says it reads, checked against whole reads (ours and las-rs's COPC reader).

mod common;

use common::{data, kizashi};
use kizashi::io::las::{read_header, read_overview, read_with, Fields};
use std::path::Path;
use std::process::Command;

/// Positions in data coordinates, rounded to 1 cm, sorted (a multiset to compare).
fn world_cm(c: &kizashi::cloud::PointCloud, range: std::ops::Range<usize>) -> Vec<[i64; 3]> {
    let mut v: Vec<[i64; 3]> = range
        .map(|i| c.world(i).map(|x| (x * 100.0).round() as i64))
        .collect();
    v.sort_unstable();
    v
}

fn whole(p: &Path) -> kizashi::cloud::PointCloud {
    read_with(p, Fields::ALL, |_, _| true).unwrap().cloud
}

/// LAZ: the first points of chunks spread over the file, in file order; the same origin as a
/// whole read (the overview is swapped for the whole cloud in place).
#[test]
fn laz_overview_is_the_prefix_of_spread_chunks() {
    // 697 721 points, format 8 with extra bytes, 14 chunks of 50 000.
    let src = data("las/pdal/las_with_several_extra_byte_bloc.laz");
    let h = read_header(&src).unwrap();
    assert_eq!(h.chunks.len(), 14);
    assert_eq!(
        h.chunks.iter().map(|c| c.points).sum::<u64>(),
        h.point_count
    );
    let all = whole(&src);
    let o = read_overview(&src, Fields::ALL, 70_000).unwrap().unwrap();
    assert_eq!(o.cloud.origin, all.origin);
    // 70 000 / 14 = 5 000 from each chunk.
    assert_eq!(o.cloud.len(), 70_000);
    let mut expect = Vec::new();
    for k in 0..14 {
        expect.extend(k * 50_000..k * 50_000 + 5_000);
    }
    for (j, &i) in expect.iter().enumerate() {
        assert_eq!(
            o.cloud.positions[j], all.positions[i],
            "point {j} (file {i})"
        );
    }
    // Every attribute came along: RGB, extra bytes.
    assert_eq!(o.cloud.scalars.len(), all.scalars.len());
    assert_eq!(
        o.cloud.rgb.as_ref().unwrap()[5_000],
        all.rgb.as_ref().unwrap()[50_000]
    );
    // Fewer points than the limit: no overview, the file is read whole.
    assert!(read_overview(&src, Fields::ALL, 1_000_000)
        .unwrap()
        .is_none());
}

/// LAS: blocks of 256 records at an even stride, read straight from their offsets.
#[test]
fn las_overview_is_strided_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let all = whole(&data("epochs/ttp/ttp_2015.laz"));
    let las = dir.path().join("ttp.las");
    kizashi::io::las::write(&las, &all, &Default::default()).unwrap();
    let back = whole(&las);
    let o = read_overview(&las, Fields::ALL, 2_560).unwrap().unwrap();
    assert_eq!(o.cloud.len(), 2_560);
    let stride = back.len() / 10;
    for b in 0..10 {
        for k in 0..256 {
            assert_eq!(
                o.cloud.world(b * 256 + k),
                back.world(b * stride + k),
                "block {b} record {k}"
            );
        }
    }
}

/// COPC: whole top levels of the octree, as las-rs's COPC reader reads those levels.
#[test]
fn copc_overview_is_the_top_levels() {
    let dir = tempfile::tempdir().unwrap();
    let src = data("epochs/ttp/ttp_2015.laz");
    let copc = dir.path().join("ttp.copc.laz");
    let o = Command::new(kizashi())
        .args(["export", "copc"])
        .arg(&src)
        .arg("-o")
        .arg(&copc)
        .args(["--leaf-points", "3000"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut r = las::copc::CopcReader::from_path(&copc).unwrap();
    let mut levels = Vec::new();
    for d in 0..8 {
        let n = r
            .query(
                las::copc::LodSelection::LevelMinMax(0, d + 1),
                las::copc::BoundsSelection::All,
            )
            .unwrap();
        levels.push(n);
    }
    assert!(levels[2].len() < 89_815, "three levels at least");
    let limit = levels[1].len() as u64 + 10;
    let ov = read_overview(&copc, Fields::ALL, limit).unwrap().unwrap();
    // Levels 0 and 1 fit, level 2 does not: exactly the points of levels 0 and 1.
    let mut theirs: Vec<[i64; 3]> = levels[1]
        .points()
        .map(|p| p.unwrap())
        .map(|p| [p.x, p.y, p.z].map(|x| (x * 100.0).round() as i64))
        .collect();
    theirs.sort_unstable();
    assert_eq!(world_cm(&ov.cloud, 0..ov.cloud.len()), theirs);
    // Only the root fits: the root alone.
    let root = read_overview(&copc, Fields::ALL, 1).unwrap().unwrap();
    assert_eq!(root.cloud.len(), levels[0].len());
    // The overview spans the whole survey: its bounds are within 2 % of the file's.
    let (a, b) = (ov.cloud.bounds(), whole(&copc).bounds());
    for k in 0..2 {
        let size = b.max[k] - b.min[k];
        assert!((a.min[k] - b.min[k]).abs() < 0.02 * size, "{a:?} {b:?}");
        assert!((a.max[k] - b.max[k]).abs() < 0.02 * size, "{a:?} {b:?}");
    }
}

/// A corrupt file: the overview says why or steps aside; it never panics.
#[test]
fn corrupt_files_give_errors_not_overviews() {
    for f in [
        "broken_size",
        "broken_compressor",
        "broken_type",
        "broken_version",
    ] {
        let p = data(&format!("las/laszip/{f}.laz"));
        match read_overview(&p, Fields::ALL, 10_000) {
            Err(e) => assert!(e.to_string().contains(f), "{e}"),
            Ok(o) => assert!(o.is_none_or(|o| o.cloud.len() <= 213_093)),
        }
    }
}

/// Every LAS/LAZ/COPC file of the shared data, corrupt ones included, with overviews of a few
/// points: an error naming the file or an overview, never a panic; an overview holds at most
/// the points asked for, inside the header's bounds, and the same points a whole read gives.
#[test]
fn every_shared_file_gives_an_overview_or_an_error() {
    let mut seen = (0, 0, 0);
    for e in common::manifest() {
        let lower = e.path.to_lowercase();
        if !(lower.ends_with(".las") || lower.ends_with(".laz")) {
            continue;
        }
        let p = common::shared().join("data").join(&e.path);
        for max in [1, 100, 5000] {
            match read_overview(&p, Fields::ALL, max) {
                Err(err) => {
                    let name = p.file_name().unwrap().to_string_lossy().to_string();
                    assert!(err.to_string().contains(&name), "{}: {err}", e.path);
                    seen.0 += 1;
                }
                Ok(None) => seen.1 += 1,
                Ok(Some(o)) => {
                    seen.2 += 1;
                    let h = &o.header;
                    // (COPC: the root level at least, whatever was asked.)
                    let n = o.cloud.len() as u64;
                    assert!(h.copc || n <= max * 2, "{}: {n} points", e.path);
                    let tol = h.scale.map(|s| s.abs() * 2.0 + 1e-6);
                    for i in 0..o.cloud.len() {
                        let w = o.cloud.world(i);
                        for k in 0..3 {
                            assert!(
                                w[k] >= h.bounds.min[k] - tol[k] - 1e-6 * w[k].abs()
                                    && w[k] <= h.bounds.max[k] + tol[k] + 1e-6 * w[k].abs(),
                                "{}: point {i} {w:?} outside {:?}",
                                e.path,
                                h.bounds
                            );
                        }
                    }
                    // The whole read has these points (as a multiset, to the centimetre).
                    if let Ok(all) = read_with(&p, Fields::ALL, |_, _| true) {
                        let all = world_cm(&all.cloud, 0..all.cloud.len());
                        for q in world_cm(&o.cloud, 0..o.cloud.len()) {
                            assert!(all.binary_search(&q).is_ok(), "{}: {q:?}", e.path);
                        }
                    }
                }
            }
        }
    }
    eprintln!("errors, none, overviews: {seen:?}");
    assert!(seen.2 > 20, "{seen:?}");
}
