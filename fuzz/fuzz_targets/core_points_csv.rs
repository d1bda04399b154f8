//! Core points from CSV/text (`kizashi change --cores FILE`), with and without normals.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let p = std::path::Path::new("cores.csv");
    for normals in [false, true] {
        if let Ok((xyz, n)) = kizashi::pipeline::change::parse_core_text(p, text, normals) {
            assert!(xyz.iter().flatten().all(|v| v.is_finite()));
            assert_eq!(n.map(|n| n.len()).unwrap_or(xyz.len()), xyz.len());
        }
    }
});
