//! Writes the sample survey's epoch 1 (or 2) with N points, for viewer and change-detection
//! benchmarks at sizes the bundled sample does not have.
//! `cargo run --example synth_cloud -- OUT.laz N [EPOCH]`

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: synth_cloud OUT.laz N [EPOCH]");
        std::process::exit(2);
    }
    let n: usize = args[2].parse().unwrap_or_else(|_| {
        eprintln!("N must be a number of points");
        std::process::exit(2)
    });
    let epoch: u8 = args.get(3).and_then(|e| e.parse().ok()).unwrap_or(1);
    let cloud = kizashi::demo::epoch_with(epoch, n, &kizashi::demo::ortho_image());
    if let Err(e) =
        kizashi::io::las::write(std::path::Path::new(&args[1]), &cloud, &Default::default())
    {
        eprintln!("synth_cloud: {e}");
        std::process::exit(1);
    }
}
