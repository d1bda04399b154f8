//! Normals, M3C2 and C2C on the synthetic 100 k-point pair (../shared/data/synthetic/syn100k,
//! every 10th point a core point, cyl 1.0, radii 0.5/1/2, half-length 3) — the golden case.
//! scripts/bench_m3c2.sh runs us and py4dgeo side by side at 1 M and 10 M points.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kizashi::analysis::{c2c, columns::Columns, index::Index, m3c2, normals};
use kizashi::io::las;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

fn epochs() -> (kizashi::PointCloud, kizashi::PointCloud) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let shared = std::env::var_os("KIZASHI_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared"));
    let d = shared.join("data/synthetic/syn100k");
    let a = las::read_with(&d.join("epoch1.laz"), las::Fields::POSITIONS, |_, _| true)
        .expect("epoch 1")
        .cloud;
    let mut b = las::read_with(&d.join("epoch2.laz"), las::Fields::POSITIONS, |_, _| true)
        .expect("epoch 2")
        .cloud;
    b.rebase(a.origin);
    (a, b)
}

fn bench(c: &mut Criterion) {
    let (a, b) = epochs();
    let cores: Vec<[f32; 3]> = a.positions.iter().step_by(10).copied().collect();
    let p = m3c2::Params::default();
    let mut g = c.benchmark_group("change_100k");
    g.sample_size(10);
    g.throughput(Throughput::Elements(cores.len() as u64));
    let cell = m3c2::column_size(&p);
    g.bench_function("columns_both_epochs", |bn| {
        bn.iter(|| {
            (
                Columns::build(&a.positions, cell).len(),
                Columns::build(&b.positions, cell).len(),
            )
        })
    });
    g.bench_function("kdtree_epoch2_for_c2c", |bn| {
        bn.iter(|| Index::build(&b.positions).len())
    });
    let (ia, ib) = (
        Columns::build(&a.positions, cell),
        Columns::build(&b.positions, cell),
    );
    let kd = Index::build(&b.positions);
    g.bench_function("normals_3_radii", |bn| {
        bn.iter(|| {
            cores
                .iter()
                .filter_map(|c| {
                    normals::normal_at(&ia, c, &p.normal_radii, &p.orientation, p.neighbourhoods)
                })
                .count()
        })
    });
    g.bench_function("m3c2_full", |bn| {
        bn.iter(|| {
            m3c2::compute(
                &ia,
                &ib,
                &cores,
                None,
                &p,
                &|_, _| {},
                &AtomicBool::new(false),
            )
            .map(|r| r.0.len())
        })
    });
    g.throughput(Throughput::Elements(a.len() as u64));
    g.bench_function("c2c_all_points_kdtree", |bn| {
        bn.iter(|| c2c::compute(&kd, &a.positions, None).distance.len())
    });
    let cb = Columns::build(&b.positions, c2c::column_size(&b.positions));
    g.bench_function("c2c_all_points_columns", |bn| {
        bn.iter(|| {
            c2c::compute_with(|q| cb.nearest(q), &a.positions, None)
                .distance
                .len()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
