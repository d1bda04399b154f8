//! Ground filter scores on reference-classified files (2 = ground): type I, type II, total
//! error and kappa per file and their means. Parameters: KEY=VALUE after the files
//! (cell, slope, window, threshold, scalar, low).
//! `cargo run --release --no-default-features --example ground_scores -- ../shared/data/ground/*.laz slope=0.2`
use kizashi::analysis::ground::{scores, Class, Params};
use kizashi::io::las;
use kizashi::pipeline::classify::classify_cloud;

fn main() -> anyhow::Result<()> {
    let mut p = Params::default();
    let mut files = Vec::new();
    for a in std::env::args().skip(1) {
        match a.split_once('=') {
            Some((k, v)) => {
                let v: f64 = v.parse()?;
                match k {
                    "cell" => p.cell = v,
                    "slope" => p.slope = v,
                    "window" => p.window = v,
                    "threshold" => p.threshold = v,
                    "scalar" => p.scalar = v,
                    "low" => p.low = v,
                    _ => anyhow::bail!("unknown parameter {k}"),
                }
            }
            None => files.push(a),
        }
    }
    let (mut tot, mut kap, mut secs) = (0.0, 0.0, 0.0);
    for f in &files {
        let l = las::read(std::path::Path::new(f))?;
        let reference: Vec<bool> = l
            .cloud
            .classification
            .as_ref()
            .unwrap()
            .iter()
            .map(|&c| c == 2)
            .collect();
        let t = std::time::Instant::now();
        let (g, _) = classify_cloud(&l.cloud, &p);
        secs += t.elapsed().as_secs_f64();
        let pred: Vec<bool> = g.class.iter().map(|&c| c == Class::Ground).collect();
        let s = scores(&reference, &pred);
        println!(
            "{f}: type I {:.2} % type II {:.2} % total {:.2} % kappa {:.3}",
            100.0 * s.type1,
            100.0 * s.type2,
            100.0 * s.total,
            s.kappa
        );
        if std::env::var_os("BY_CLASS").is_some() {
            let cl = l.cloud.classification.as_ref().unwrap();
            for k in 0..=18u8 {
                let idx: Vec<usize> = (0..cl.len()).filter(|&i| cl[i] == k).collect();
                if idx.is_empty() {
                    continue;
                }
                let mut hag: Vec<f32> = idx.iter().map(|&i| g.hag[i]).collect();
                hag.sort_by(f32::total_cmp);
                let ground = idx.iter().filter(|&&i| pred[i]).count();
                let q = |f: f64| hag[((hag.len() - 1) as f64 * f) as usize];
                println!("  class {k}: {} points, {ground} called ground; hag p10 {:.2} p50 {:.2} p90 {:.2}", idx.len(), q(0.1), q(0.5), q(0.9));
            }
        }
        tot += s.total;
        kap += s.kappa;
    }
    let n = files.len() as f64;
    println!(
        "mean total {:.2} % mean kappa {:.3} ({:.3} s) {p:?}",
        100.0 * tot / n,
        kap / n,
        secs
    );
    Ok(())
}
