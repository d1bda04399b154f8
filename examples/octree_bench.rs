//! Times the LOD octree build on N random terrain points (the viewer's and 3D Tiles' step).
//! `cargo run --example octree_bench -- [N]`
fn main() {
    use rand::{Rng, SeedableRng};
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5_000_000);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let pos: Vec<[f32; 3]> = (0..n)
        .map(|_| {
            let (x, y): (f32, f32) = (rng.random_range(0.0..1000.0), rng.random_range(0.0..1000.0));
            [x, y, (x * 0.01).sin() * 20.0 + y * 0.01]
        })
        .collect();
    for cap in [20_000usize, 50_000] {
        let t = std::time::Instant::now();
        let tree = kizashi::analysis::octree::Octree::build(
            &pos,
            kizashi::analysis::octree::Params {
                max_leaf: cap,
                max_node: cap,
                ..Default::default()
            },
        );
        println!(
            "{n} points, cap {cap}: {} nodes in {:.3} s",
            tree.nodes.len(),
            t.elapsed().as_secs_f64()
        );
    }
}
