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
    for k in 1..tx * ty {
        // The copy (i, j) of the survey, one survey width east and north per step.
        let (i, j) = ((k % tx) as f32, (k / tx) as f32);
        let d = kizashi::demo::SITE_SIZE as f32;
        cloud.positions.extend(
            tile.positions
                .iter()
                .map(|p| [p[0] + i * d, p[1] + j * d, p[2]]),
        );
        fn more<T: Clone>(a: &mut Option<Vec<T>>, b: &Option<Vec<T>>) {
            if let (Some(a), Some(b)) = (a, b) {
                a.extend_from_slice(b);
            }
        }
        more(&mut cloud.intensity, &tile.intensity);
        more(&mut cloud.rgb, &tile.rgb);
        more(&mut cloud.classification, &tile.classification);
        more(&mut cloud.return_number, &tile.return_number);
        more(&mut cloud.number_of_returns, &tile.number_of_returns);
        more(&mut cloud.gps_time, &tile.gps_time);
        for (s, t) in cloud.scalars.iter_mut().zip(&tile.scalars) {
            s.values.extend_from_slice(&t.values);
        }
    }
    if let Err(e) =
        kizashi::io::las::write(std::path::Path::new(&args[1]), &cloud, &Default::default())
    {
        eprintln!("synth_cloud: {e}");
        std::process::exit(1);
    }
}
