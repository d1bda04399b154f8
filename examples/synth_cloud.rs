//! Writes the sample survey's epoch 1 (or 2) with N points, for viewer and change-detection
//! benchmarks at sizes the bundled sample does not have; with TILESxROWS, that many copies of
//! it side by side (N points each: a large survey at the sample's density).
//! `cargo run --example synth_cloud -- OUT.laz N [EPOCH] [5x2]`

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: synth_cloud OUT.laz N [EPOCH] [TILESxROWS]");
        std::process::exit(2);
    }
    let n: usize = args[2].parse().unwrap_or_else(|_| {
        eprintln!("N must be a number of points");
        std::process::exit(2)
    });
    let epoch: u8 = args.get(3).and_then(|e| e.parse().ok()).unwrap_or(1);
    let (tx, ty) = args
        .get(4)
        .and_then(|t| t.split_once('x'))
        .and_then(|(a, b)| Some((a.parse::<usize>().ok()?, b.parse::<usize>().ok()?)))
        .unwrap_or((1, 1));
    let tile = kizashi::demo::epoch_with(epoch, n, &kizashi::demo::ortho_image());
    let mut cloud = tile.clone();
    let d = kizashi::demo::SITE_SIZE;
    for k in 1..tx * ty {
        // The copy (i, j) of the survey, one survey width east and north per step.
        let mut copy = tile.clone();
        copy.origin[0] += (k % tx) as f64 * d;
        copy.origin[1] += (k / tx) as f64 * d;
        cloud.append(&copy);
    }
    if let Err(e) =
        kizashi::io::las::write(std::path::Path::new(&args[1]), &cloud, &Default::default())
    {
        eprintln!("synth_cloud: {e}");
        std::process::exit(1);
    }
}
