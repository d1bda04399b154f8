//! Reading speed, for scripts/bench_read.sh (run side by side with bench/read_laspy.py).
//!
//!   read_bench make N OUT.laz     write an N-point survey epoch (deterministic)
//!   read_bench read FILE [REPEAT] read FILE REPEAT times; print JSON with the best time
//!   read_bench header FILE        time the header checks alone
//!   read_bench decomp FILE        time las-rs/laz-rs decoding alone (the floor for any reader)

use kizashi::io::las;
use std::path::Path;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("make") => {
            let n: usize = args.get(2).ok_or("N")?.parse()?;
            let out = Path::new(args.get(3).ok_or("OUT")?);
            let img = kizashi::demo::ortho_image();
            let cloud = kizashi::demo::epoch_with(1, n, &img);
            las::write(out, &cloud, &las::WriteOptions::default())?;
            println!("wrote {} points to {}", cloud.len(), out.display());
        }
        Some("read") => {
            let file = Path::new(args.get(2).ok_or("FILE")?);
            let repeat: usize = args.get(3).map(|r| r.parse()).transpose()?.unwrap_or(3);
            for (name, fields) in [
                ("all_fields", las::Fields::ALL),
                ("positions", las::Fields::POSITIONS),
            ] {
                let mut best = f64::INFINITY;
                let mut n = 0;
                for _ in 0..repeat {
                    let t = Instant::now();
                    let l = las::read_with(file, fields, |_, _| true)?;
                    best = best.min(t.elapsed().as_secs_f64());
                    n = l.cloud.len();
                }
                println!(
                    "{{\"tool\":\"kizashi\",\"fields\":\"{name}\",\"file\":\"{}\",\"points\":{n},\"best_s\":{best:.4},\"points_per_s\":{:.0},\"threads\":{}}}",
                    file.display(),
                    n as f64 / best,
                    rayon::current_num_threads()
                );
            }
        }
        Some("header") => {
            let file = Path::new(args.get(2).ok_or("FILE")?);
            for _ in 0..3 {
                let t = Instant::now();
                let h = las::read_header(file)?;
                println!("header {:.4}s {}", t.elapsed().as_secs_f64(), h.point_count);
            }
        }
        Some("decomp") => {
            // Decompression alone (laz-rs, parallel), the floor for any LAZ reader.
            let file = Path::new(args.get(2).ok_or("FILE")?);
            let mut r = ::las::Reader::from_path(file)?;
            let t = Instant::now();
            let pd = r.read_all()?;
            let s = t.elapsed().as_secs_f64();
            println!(
                "{{\"decompress_only_s\":{s:.4},\"points_per_s\":{:.0}}}",
                pd.len() as f64 / s
            );
        }
        _ => return Err("usage: read_bench make N OUT.laz | read FILE [REPEAT]".into()),
    }
    Ok(())
}
