//! Every real file in ../shared/data/las and ../shared/data/ortho either loads with the values
//! the manifest records, or fails with a one-line error naming the file; `kizashi info --json`
//! agrees, and never panics.

mod common;

use common::{data, kizashi, manifest, Entry};
use kizashi::io::{info, las, raster};
use std::process::Command;
use std::time::{Duration, Instant};

/// Files the manifest marks as unreadable (by laspy / lazrs): we must refuse them too.
fn expect_failure(e: &Entry) -> bool {
    e.format.contains("FULL READ FAILS")
        || e.format.contains("pts != header")
        || e.path.ends_with("corrupt.tif")
}

fn in_scope(e: &Entry) -> bool {
    (e.path.starts_with("las/") || e.path.starts_with("ortho/") || e.path.starts_with("epochs/"))
        && [".las", ".laz", ".tif"].iter().any(|x| e.path.ends_with(x))
}

fn close(a: f64, b: f64) -> bool {
    // The manifest prints 3 decimals.
    (a - b).abs() <= 0.0015 + 1e-9 * b.abs()
}

fn check_point_cloud(e: &Entry) -> Result<(), String> {
    let path = data(&e.path);
    if expect_failure(e) {
        let err = las::read(&path)
            .err()
            .ok_or("corrupt file was read without error")?;
        let msg = err.to_string();
        if !msg.contains(&e.path.rsplit('/').next().unwrap_or_default().to_string())
            || msg.contains('\n')
        {
            return Err(format!("error must be one line naming the file: {msg}"));
        }
        return Ok(());
    }
    let loaded = las::read(&path).map_err(|x| x.to_string())?;
    let c = &loaded.cloud;
    let want = e.point_count.ok_or("manifest has no point count")?;
    if c.len() as u64 != want {
        return Err(format!("{} points, manifest says {want}", c.len()));
    }
    if want > 0 {
        // The manifest records the header's bounds. The points must match them to the
        // coordinate resolution, or the reader must have said that the header is wrong.
        let h = &loaded.header;
        let hb = [
            h.bounds.min[0],
            h.bounds.min[1],
            h.bounds.min[2],
            h.bounds.max[0],
            h.bounds.max[1],
            h.bounds.max[2],
        ];
        if e.bbox.len() != 6 || !hb.iter().zip(&e.bbox).all(|(a, b)| close(*a, *b)) {
            return Err(format!("header bounds {hb:?}, manifest {:?}", e.bbox));
        }
        let b = c.bounds();
        let got = [b.min[0], b.min[1], b.min[2], b.max[0], b.max[1], b.max[2]];
        let fits = got
            .iter()
            .zip(&e.bbox)
            .enumerate()
            .all(|(i, (a, m))| (a - m).abs() <= 0.0015 + h.scale[i % 3].abs() + 1e-9 * m.abs());
        let warned = loaded
            .warnings
            .iter()
            .any(|w| w.contains("header bounds differ"));
        if fits == warned {
            return Err(format!(
                "point bounds {got:?} vs header {:?}: warned={warned}",
                e.bbox
            ));
        }
    }
    // Attributes are columns of the same length.
    for (name, n) in [
        ("intensity", c.intensity.as_ref().map(|v| v.len())),
        ("classification", c.classification.as_ref().map(|v| v.len())),
        ("rgb", c.rgb.as_ref().map(|v| v.len())),
        ("gps_time", c.gps_time.as_ref().map(|v| v.len())),
    ] {
        if let Some(n) = n {
            if n != c.len() {
                return Err(format!("{name} has {n} values for {} points", c.len()));
            }
        }
    }
    for s in &c.scalars {
        if s.values.len() != c.len() {
            return Err(format!("field {} has {} values", s.name, s.values.len()));
        }
    }
    // The CRS the manifest names (by EPSG code) is the one we found.
    if let Some(code) = e
        .crs
        .split("EPSG:")
        .nth(1)
        .and_then(|t| t.split(|ch: char| !ch.is_ascii_digit()).next())
        .and_then(|t| t.parse::<u32>().ok())
    {
        let got = c.crs.as_ref().and_then(|x| x.epsg);
        if got != Some(code) {
            return Err(format!(
                "CRS EPSG {got:?}, manifest says {code} ({})",
                e.crs
            ));
        }
    }
    Ok(())
}

fn check_raster(e: &Entry) -> Result<(), String> {
    let path = data(&e.path);
    let opened = raster::Raster::open(&path).and_then(|r| r.read_band_f32(1).map(|v| (r, v)));
    if expect_failure(e) {
        let msg = opened
            .err()
            .ok_or("corrupt raster read without error")?
            .to_string();
        if msg.contains('\n') || !msg.contains("corrupt.tif") {
            return Err(format!("bad error message: {msg}"));
        }
        return Ok(());
    }
    let (r, band) = opened.map_err(|x| x.to_string())?;
    // "GTiff 506x760 1band Float32 LZW"
    let mut words = e.format.split_whitespace().skip(1);
    let size = words.next().ok_or("no size")?;
    let (w, h) = size.split_once('x').ok_or("size")?;
    let bands: usize = words
        .next()
        .ok_or("bands")?
        .trim_end_matches("band")
        .parse()
        .map_err(|_| "bands")?;
    if (r.info.width, r.info.height, r.info.band_count)
        != (w.parse().unwrap_or(0), h.parse().unwrap_or(0), bands)
    {
        return Err(format!(
            "{}x{}x{}, manifest {}",
            r.info.width, r.info.height, r.info.band_count, e.format
        ));
    }
    if band.len() != r.info.width * r.info.height {
        return Err("band size".into());
    }
    if e.bbox.len() >= 4 {
        // The manifest gives two opposite corners; both must be corners of our georeferencing.
        let g = r.info.geotransform.ok_or("no geotransform")?;
        let (w, h) = (r.info.width as f64, r.info.height as f64);
        let corners = [(0.0, 0.0), (w, 0.0), (0.0, h), (w, h)].map(|(c, r)| g.pixel_to_world(c, r));
        for m in [[e.bbox[0], e.bbox[1]], [e.bbox[2], e.bbox[3]]] {
            if !corners
                .iter()
                .any(|c| close(c[0], m[0]) && close(c[1], m[1]))
            {
                return Err(format!("corner {m:?} not among {corners:?}"));
            }
        }
        let ext = r.info.extent.ok_or("no extent")?;
        for c in corners {
            if c[0] < ext[0] || c[0] > ext[2] || c[1] < ext[1] || c[1] > ext[3] {
                return Err(format!("extent {ext:?} misses corner {c:?}"));
            }
        }
    } else if r.info.geotransform.is_some() {
        return Err("manifest says not georeferenced".into());
    }
    Ok(())
}

#[test]
fn every_shared_file_loads_or_fails_cleanly() {
    let entries: Vec<Entry> = manifest().into_iter().filter(in_scope).collect();
    assert!(
        entries.len() >= 80,
        "only {} files in the manifest",
        entries.len()
    );
    let mut failures = Vec::new();
    for e in &entries {
        let t = Instant::now();
        let r = if e.path.ends_with(".tif") {
            check_raster(e)
        } else {
            check_point_cloud(e)
        };
        if let Err(msg) = r {
            failures.push(format!("{}: {msg}", e.path));
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "{} took {:?}",
            e.path,
            t.elapsed()
        );
    }
    assert!(
        failures.is_empty(),
        "{} of {} files wrong:\n{}",
        failures.len(),
        entries.len(),
        failures.join("\n")
    );
}

#[test]
fn info_json_agrees_with_the_manifest() {
    let entries: Vec<Entry> = manifest().into_iter().filter(in_scope).collect();
    let out = Command::new(kizashi())
        .arg("info")
        .arg("--json")
        .args(entries.iter().map(|e| data(&e.path)))
        .output()
        .expect("run kizashi");
    assert_eq!(
        out.status.code(),
        Some(1),
        "some files are corrupt, so exit code 1; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let infos: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON array");
    let infos = infos.as_array().expect("array");
    assert_eq!(infos.len(), entries.len());
    for (e, i) in entries.iter().zip(infos) {
        let ok = i["ok"].as_bool().unwrap_or(false);
        assert_eq!(ok, !expect_failure(e), "{}: {i}", e.path);
        if !ok {
            let msg = i["error"].as_str().unwrap_or("");
            assert!(!msg.is_empty() && !msg.contains('\n'), "{}: {msg}", e.path);
            continue;
        }
        if let Some(n) = e.point_count {
            assert_eq!(
                i["point_cloud"]["point_count"].as_u64(),
                Some(n),
                "{}",
                e.path
            );
            assert!(i["point_cloud"]["bounds"]["min"].is_array(), "{}", e.path);
            assert!(i["point_cloud"]["crs"].is_object() || i["point_cloud"]["crs"].is_null());
        } else {
            assert!(i["raster"]["width"].as_u64().unwrap_or(0) > 0, "{}", e.path);
        }
    }
    // Library and CLI give the same answer.
    let lib = info::inspect(&data("epochs/ttp/ttp_2015.laz"));
    let pc = lib.point_cloud.expect("point cloud");
    assert_eq!(pc.point_count, 89_815);
    assert_eq!(pc.crs.as_ref().and_then(|c| c.epsg), Some(26917));
    assert_eq!(pc.format, "LAZ");
}

#[test]
fn crs_edge_cases_are_reported() {
    let warn = |rel: &str| info::inspect(&data(rel)).warnings.join("; ");
    assert!(warn("las/laspy/file_with_both_wkt_and_geotiff_vlrs.las").contains("contradictory CRS"));
    assert!(warn("las/pdal/warsaw_small.las").contains("WKT CRS VLR unusable"));
    assert!(warn("las/laspy/simple.las").contains("no CRS"));
    assert!(warn("las/pdal/test_epsg_4326_axis.las").contains("swapped"));
    assert!(warn("las/pdal/bad_vlr_count.las").contains("VLRs"));
    let gps = las::read(&data("las/pdal/gps-time-nan.las")).unwrap();
    assert!(
        gps.warnings.iter().any(|w| w.contains("NaN GPS time")),
        "{:?}",
        gps.warnings
    );
    // A user-defined projection in GeoTIFF keys (no EPSG code) is still understood.
    let thin = info::inspect(&data("las/pdal/thin-1.las"));
    let crs = thin.point_cloud.and_then(|p| p.crs).expect("crs from keys");
    assert!(crs.name.contains("Lambert"), "{}", crs.name);
    assert_eq!(crs.linear_unit.as_deref(), Some("foot"));
    // Compound CRS in a COPC WKT: horizontal and vertical codes.
    let copc = info::inspect(&data("las/laspy/simple.copc.laz"))
        .point_cloud
        .expect("copc");
    assert_eq!(copc.format, "COPC");
    let c = copc.crs.expect("crs");
    assert_eq!((c.epsg, c.vertical_epsg), (Some(2991), Some(6360)));
}

#[test]
fn extra_bytes_are_named_fields() {
    let l = las::read(&data("las/laspy/extra.laz")).unwrap();
    let names: Vec<&str> = l.cloud.scalars.iter().map(|s| s.name.as_str()).collect();
    assert!(
        names.contains(&"Time") && names.contains(&"Colors_0"),
        "{names:?}"
    );
    // 5points_14.las: "height above ground" and "coverage count".
    let l = las::read(&data("las/laszip/5points_14.las")).unwrap();
    let hag = l.cloud.scalar("height above ground").expect("field");
    assert_eq!(hag.values.len(), 5);
    assert!(hag.values.iter().all(|v| v.is_finite()));
}

#[test]
fn empty_and_garbage_files_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.las");
    std::fs::write(&empty, b"").unwrap();
    let msg = las::read(&empty).unwrap_err().to_string();
    assert!(msg.contains("empty.las") && msg.contains("empty"), "{msg}");
    // A real header that claims 4 billion points in a 2 kB file: an error, not a 16 GB buffer.
    let src = std::fs::read(data("las/pdal/100-points.las")).unwrap();
    let mut lying = src[..2048.min(src.len())].to_vec();
    lying[107..111].copy_from_slice(&u32::MAX.to_le_bytes());
    let p = dir.path().join("lying.las");
    std::fs::write(&p, &lying).unwrap();
    let msg = las::read(&p).unwrap_err().to_string();
    assert!(msg.contains("claims 4294967295 points"), "{msg}");
    // Truncated LAZ: the decoder runs out of data.
    let laz = std::fs::read(data("epochs/ttp/ttp_2015.laz")).unwrap();
    let p = dir.path().join("cut.laz");
    std::fs::write(&p, &laz[..laz.len() / 2]).unwrap();
    assert!(las::read(&p).is_err());
    // A text file named .tif.
    let p = dir.path().join("fake.tif");
    std::fs::write(&p, b"hello").unwrap();
    let msg = raster::Raster::open(&p).err().expect("error").to_string();
    assert!(msg.contains("fake.tif"), "{msg}");
}
