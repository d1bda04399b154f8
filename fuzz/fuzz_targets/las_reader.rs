//! LAS/LAZ/COPC reader: any bytes, as .las or .laz (first byte), through the header checks,
//! the full decode, the overview and `kizashi info`. An error is fine; a panic or a hang is a bug.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, bytes)) = data.split_first() else {
        return;
    };
    let ext = if kind & 1 == 0 { "las" } else { "laz" };
    let dir = std::env::var_os("KIZASHI_FUZZ_TMP")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let path = dir.join(format!("kizashi-fuzz-{}.{ext}", std::process::id()));
    if std::fs::write(&path, bytes).is_err() {
        return;
    }
    let _ = kizashi::io::las::read_header(&path);
    let _ = kizashi::io::las::read_with(&path, kizashi::io::las::Fields::ALL, |_, _| true);
    // The viewer's overview (chunk prefixes, strided blocks, COPC levels) of a few points.
    let _ = kizashi::io::las::read_overview(&path, kizashi::io::las::Fields::ALL, 64);
    let _ = kizashi::io::info::inspect(&path);
});
