//! `kizashi info`: describe files without loading every point.

use anyhow::Result;
use kizashi::io::info;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Files to describe.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Print a JSON array with one object per file.
    #[arg(long)]
    json: bool,
    /// Decode every point (streamed, bounded memory) and report the points' own bounds.
    #[arg(long)]
    full: bool,
}

pub fn run(a: Args) -> Result<i32> {
    let infos: Vec<info::FileInfo> = a
        .files
        .iter()
        .map(|p| info::inspect_with(p, a.full))
        .collect();
    if a.json {
        super::print_json(&infos)?;
        for i in infos.iter().filter(|i| !i.ok) {
            eprintln!("kizashi: {}", i.error.as_deref().unwrap_or("failed"));
        }
    } else {
        for i in &infos {
            print!("{}", info::describe(i));
        }
    }
    Ok(if infos.iter().all(|i| i.ok) { 0 } else { 1 })
}
