//! Job files (`kizashi run SITE.toml`): parsing, schema, error messages (one line, a line
//! number inside the text) and planning.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let p = std::path::Path::new("site.toml");
    match kizashi::pipeline::site::parse(p, text) {
        Ok(site) => {
            // Planning resolves paths against the job file's folder: a real file here.
            let dir = std::env::var_os("KIZASHI_FUZZ_TMP")
                .map(std::path::PathBuf::from)
                .unwrap_or_else(std::env::temp_dir);
            let f = dir.join(format!("kizashi-fuzz-{}.toml", std::process::id()));
            if std::fs::write(&f, text).is_ok() {
                let _ = kizashi::pipeline::site::plan_site(&f, &site);
            }
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(!msg.contains('\n'), "{msg}");
            if let Some(rest) = msg.strip_prefix("site.toml line ") {
                let n: usize = rest.split(':').next().unwrap().parse().unwrap();
                assert!(n >= 1 && n <= text.lines().count().max(1) + 1, "{msg}");
            }
        }
    }
});
