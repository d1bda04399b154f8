//! Reading LAS and LAZ into a PointCloud. Real files from ../shared/data and the bundled
//! sample epoch; scripts/bench_read.sh compares the same files with laspy + lazrs.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kizashi::io::las;
use std::path::PathBuf;

fn files() -> Vec<(&'static str, PathBuf)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let shared = std::env::var_os("KIZASHI_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared"));
    vec![
        (
            "las_pf7_110k",
            shared.join("data/las/pdal/autzen_trim_7.las"),
        ),
        (
            "laz_pf8_698k",
            shared.join("data/las/pdal/las_with_several_extra_byte_bloc.laz"),
        ),
        ("laz_pf1_90k", shared.join("data/epochs/ttp/ttp_2015.laz")),
        (
            "laz_pf7_200k_sample",
            root.join("sample_data/epoch1_2025.laz"),
        ),
    ]
}

fn read(c: &mut Criterion) {
    let mut g = c.benchmark_group("read");
    g.sample_size(10);
    for (name, path) in files() {
        let n = las::read_header(&path).map(|h| h.point_count).unwrap_or(0);
        g.throughput(Throughput::Elements(n));
        g.bench_function(name, |b| {
            b.iter(|| las::read(&path).map(|l| l.cloud.len()).unwrap_or(0))
        });
        g.bench_function(format!("{name}_header_only"), |b| {
            b.iter(|| las::read_header(&path).map(|h| h.point_count).unwrap_or(0))
        });
    }
    g.finish();
}

criterion_group!(benches, read);
criterion_main!(benches);
