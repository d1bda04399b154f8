//! Coordinate reference systems through GDAL/OSR (PROJ underneath).
//!
//! Axis order: OSR honours the authority's axis order by default, so EPSG:4326 is lat/lon and
//! EPSG:6669-6687 (JGD2011 plane rectangular) are northing/easting. LAS files and GeoTIFFs
//! store easting first, so every SpatialRef made here is switched to the traditional GIS order
//! before use; forgetting it puts a Japanese survey ~40 km off.

use super::IoError;
use crate::cloud::{Crs, CrsSource};
use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
use std::ffi::{CStr, CString};
use std::sync::Once;

static QUIET: Once = Once::new();

/// GDAL prints its own errors to stderr by default; we turn each failure into one error of
/// ours instead, so the C library is told to stay quiet (warnings go to the log).
pub fn quiet_gdal() {
    QUIET.call_once(|| {
        // PROJ logs its own errors straight to stderr unless told otherwise.
        if std::env::var_os("PROJ_DEBUG").is_none() {
            std::env::set_var("PROJ_DEBUG", "0");
        }
        gdal::config::set_error_handler(|kind, _code, msg| {
            if matches!(
                kind,
                gdal::errors::CplErrType::Debug | gdal::errors::CplErrType::None
            ) {
                return;
            }
            if std::env::var_os("KIZASHI_GDAL_VERBOSE").is_some() {
                eprintln!("GDAL {kind:?}: {msg}");
            }
        });
    });
}

fn authority_code(srs: &SpatialRef, key: Option<&str>) -> Option<u32> {
    let key_c = key.and_then(|k| CString::new(k).ok());
    let key_ptr = key_c.as_ref().map_or(std::ptr::null(), |k| k.as_ptr());
    // SAFETY: srs owns a valid handle for the duration of the call; the returned pointer is
    // owned by OSR and copied before the handle is used again.
    unsafe {
        let name = gdal_sys::OSRGetAuthorityName(srs.to_c_hsrs(), key_ptr);
        if name.is_null() || CStr::from_ptr(name).to_str().ok()? != "EPSG" {
            return None;
        }
        let code = gdal_sys::OSRGetAuthorityCode(srs.to_c_hsrs(), key_ptr);
        if code.is_null() {
            return None;
        }
        CStr::from_ptr(code).to_str().ok()?.parse().ok()
    }
}

/// The EPSG code PROJ finds for a CRS without an authority node, when its best match is
/// confident (>= 70 %, PROJ's "equivalent up to names" level).
fn identify(srs: &SpatialRef) -> Option<u32> {
    let mut n: std::ffi::c_int = 0;
    let mut conf: *mut std::ffi::c_int = std::ptr::null_mut();
    // SAFETY: OSRFindMatches returns an array of `n` handles and `n` confidences that we free
    // with the matching OSR/CPL functions; handles are only read inside this block.
    unsafe {
        let matches =
            gdal_sys::OSRFindMatches(srs.to_c_hsrs(), std::ptr::null_mut(), &mut n, &mut conf);
        if matches.is_null() {
            return None;
        }
        let mut best = None;
        if n > 0 && !conf.is_null() && *conf >= 70 {
            let h = *matches;
            let name = gdal_sys::OSRGetAuthorityName(h, std::ptr::null());
            let code = gdal_sys::OSRGetAuthorityCode(h, std::ptr::null());
            if !name.is_null() && !code.is_null() && CStr::from_ptr(name).to_str() == Ok("EPSG") {
                best = CStr::from_ptr(code)
                    .to_str()
                    .ok()
                    .and_then(|c| c.parse().ok());
            }
        }
        gdal_sys::OSRFreeSRSArray(matches);
        gdal_sys::VSIFree(conf.cast());
        best
    }
}

/// Describes an OSR spatial reference as our `Crs`.
pub fn describe(srs: &SpatialRef, source: CrsSource) -> Result<Crs, IoError> {
    let wkt = srs.to_wkt().map_err(|e| IoError::Crs(e.to_string()))?;
    let mut epsg = authority_code(srs, None);
    let mut vertical_epsg = None;
    if srs.is_compound() {
        epsg = authority_code(srs, Some("PROJCS")).or_else(|| authority_code(srs, Some("GEOGCS")));
        vertical_epsg = authority_code(srs, Some("VERT_CS"));
    }
    if epsg.is_none() {
        // Many LAS writers emit ESRI-flavoured WKT without authority nodes; let PROJ find it.
        epsg = identify(srs);
    }
    let is_geographic = srs.is_geographic();
    let linear_unit = if is_geographic {
        None
    } else {
        srs.linear_units_name()
    };
    Ok(Crs {
        name: srs.name().unwrap_or_else(|| "unnamed".into()),
        epsg,
        vertical_epsg,
        wkt,
        source,
        is_geographic,
        linear_unit,
    })
}

/// PROJ's identification of a CRS without an authority code searches its database (~60 ms);
/// surveys come in series with the same WKT, so parsed CRSs are remembered.
static PARSED: std::sync::Mutex<Vec<(String, Crs)>> = std::sync::Mutex::new(Vec::new());

/// Parses a WKT string (LAS WKT VLR, raster projection).
pub fn from_wkt(wkt: &str, source: CrsSource) -> Result<Crs, IoError> {
    if let Ok(cache) = PARSED.lock() {
        if let Some((_, c)) = cache.iter().find(|(w, c)| w == wkt && c.source == source) {
            return Ok(c.clone());
        }
    }
    let c = parse_wkt(wkt, source)?;
    if let Ok(mut cache) = PARSED.lock() {
        if cache.len() < 64 {
            cache.push((wkt.to_string(), c.clone()));
        }
    }
    Ok(c)
}

fn parse_wkt(wkt: &str, source: CrsSource) -> Result<Crs, IoError> {
    quiet_gdal();
    let trimmed = wkt.trim_end_matches('\0').trim();
    if trimmed.is_empty() {
        return Err(IoError::Crs("empty WKT".into()));
    }
    let srs = SpatialRef::from_wkt(trimmed)
        .or_else(|_| SpatialRef::from_esri(trimmed))
        .map_err(|e| IoError::Crs(format!("cannot parse WKT ({e})")))?;
    describe(&srs, source)
}

pub fn from_epsg(code: u32, source: CrsSource) -> Result<Crs, IoError> {
    quiet_gdal();
    let srs = SpatialRef::from_epsg(code).map_err(|e| IoError::Crs(format!("EPSG:{code}: {e}")))?;
    describe(&srs, source)
}

/// A compound "horizontal + vertical" CRS from two EPSG codes (LAS GeoTIFF keys give them
/// separately).
pub fn from_epsg_pair(
    horizontal: u32,
    vertical: Option<u32>,
    source: CrsSource,
) -> Result<Crs, IoError> {
    let Some(v) = vertical else {
        return from_epsg(horizontal, source);
    };
    quiet_gdal();
    match SpatialRef::from_definition(&format!("EPSG:{horizontal}+{v}")) {
        Ok(srs) => {
            let mut crs = describe(&srs, source)?;
            crs.epsg = Some(horizontal);
            crs.vertical_epsg = Some(v);
            Ok(crs)
        }
        // An unknown vertical code should not lose the horizontal CRS.
        Err(_) => from_epsg(horizontal, source),
    }
}

/// A CRS from LAS GeoTIFF key VLRs (directory, doubles, ASCII) that name no EPSG code
/// ("user-defined" projections, common in older LAS files). GDAL only reads GeoTIFF keys from
/// TIFF files, so the keys are wrapped in a 1x1 in-memory GeoTIFF and opened with GDAL; this is
/// how PDAL and laspy-via-pyproj get the same answer from libgeotiff.
pub fn from_geotiff_keys(
    directory: &[u8],
    doubles: Option<&[u8]>,
    ascii: Option<&[u8]>,
) -> Result<Crs, IoError> {
    quiet_gdal();
    let tiff = geotiff_stub(directory, doubles.unwrap_or(&[]), ascii.unwrap_or(&[]))
        .ok_or_else(|| IoError::Crs("GeoTIFF key directory too large".into()))?;
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let name = format!(
        "/vsimem/kizashi_geokeys_{}.tif",
        COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    gdal::vsi::create_mem_file(&name, tiff).map_err(|e| IoError::Crs(e.to_string()))?;
    let result = gdal::Dataset::open(&name).map(|ds| ds.projection());
    let _ = gdal::vsi::unlink_mem_file(&name);
    let wkt = result.map_err(|e| IoError::Crs(format!("GeoTIFF keys unreadable ({e})")))?;
    let srs = SpatialRef::from_wkt(&wkt)
        .map_err(|_| IoError::Crs("GeoTIFF keys describe no CRS".into()))?;
    // Keys that only give units (or a projected CRS with no projection) are not a CRS.
    let usable = srs.is_geographic() || (srs.is_projected() && wkt.contains("PROJECTION["));
    if !usable {
        return Err(IoError::Crs(
            "GeoTIFF keys describe no usable CRS (no model or projection)".into(),
        ));
    }
    describe(&srs, CrsSource::GeotiffKeys)
}

/// A minimal little-endian 1x1 8-bit TIFF carrying the three GeoTIFF tags.
fn geotiff_stub(directory: &[u8], doubles: &[u8], ascii: &[u8]) -> Option<Vec<u8>> {
    // (tag, type, count, payload bytes or inline value)
    const SHORT: u16 = 3;
    const LONG: u16 = 4;
    const DOUBLE: u16 = 12;
    const ASCII: u16 = 2;
    let dir = &directory[..directory.len() & !1];
    let dbl = &doubles[..doubles.len() & !7];
    let mut asc = ascii.to_vec();
    if asc.last() != Some(&0) {
        asc.push(0);
    }
    let scale: Vec<u8> = [1.0f64, 1.0, 0.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let tie: Vec<u8> = [0.0f64; 6].iter().flat_map(|v| v.to_le_bytes()).collect();
    let mut entries: Vec<(u16, u16, u32, Vec<u8>)> = vec![
        (256, SHORT, 1, 1u16.to_le_bytes().to_vec()),
        (257, SHORT, 1, 1u16.to_le_bytes().to_vec()),
        (258, SHORT, 1, 8u16.to_le_bytes().to_vec()),
        (259, SHORT, 1, 1u16.to_le_bytes().to_vec()),
        (262, SHORT, 1, 1u16.to_le_bytes().to_vec()),
        (273, LONG, 1, vec![]), // strip offset, patched below
        (277, SHORT, 1, 1u16.to_le_bytes().to_vec()),
        (278, SHORT, 1, 1u16.to_le_bytes().to_vec()),
        (279, LONG, 1, 1u32.to_le_bytes().to_vec()),
        (33550, DOUBLE, 3, scale),
        (33922, DOUBLE, 6, tie),
        (
            34735,
            SHORT,
            u32::try_from(dir.len() / 2).ok()?,
            dir.to_vec(),
        ),
    ];
    if !dbl.is_empty() {
        entries.push((
            34736,
            DOUBLE,
            u32::try_from(dbl.len() / 8).ok()?,
            dbl.to_vec(),
        ));
    }
    if asc.len() > 1 {
        entries.push((34737, ASCII, u32::try_from(asc.len()).ok()?, asc));
    }
    let ifd_len = 2 + 12 * entries.len() + 4;
    let mut blob_at = 8 + ifd_len;
    let pixel_at = blob_at;
    blob_at += 2; // the pixel, padded to an even offset
    let mut out = Vec::with_capacity(blob_at + directory.len() + doubles.len() + ascii.len() + 64);
    out.extend_from_slice(b"II");
    out.extend_from_slice(&42u16.to_le_bytes());
    out.extend_from_slice(&8u32.to_le_bytes());
    out.extend_from_slice(&u16::try_from(entries.len()).ok()?.to_le_bytes());
    let mut blobs: Vec<u8> = vec![0, 0];
    for (tag, typ, count, mut payload) in entries {
        if tag == 273 {
            payload = u32::try_from(pixel_at).ok()?.to_le_bytes().to_vec();
        }
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&typ.to_le_bytes());
        out.extend_from_slice(&count.to_le_bytes());
        if payload.len() <= 4 {
            let mut v = payload.clone();
            v.resize(4, 0);
            out.extend_from_slice(&v);
        } else {
            let at = u32::try_from(pixel_at + blobs.len()).ok()?;
            out.extend_from_slice(&at.to_le_bytes());
            blobs.extend_from_slice(&payload);
            if blobs.len() % 2 == 1 {
                blobs.push(0);
            }
        }
    }
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&blobs);
    Some(out)
}

fn spatial_ref(crs: &Crs) -> Result<SpatialRef, IoError> {
    quiet_gdal();
    let mut srs =
        SpatialRef::from_wkt(&crs.wkt).map_err(|e| IoError::Crs(format!("{}: {e}", crs.name)))?;
    srs.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    Ok(srs)
}

/// The horizontal part of a CRS (by its EPSG code): heights are converted by our geoid code,
/// so a vertical datum must not make PROJ look for a geoid grid of its own.
pub fn horizontal(c: &Crs) -> Result<Crs, IoError> {
    match c.epsg {
        Some(code) => from_epsg(code, CrsSource::User),
        _ => Ok(c.clone()),
    }
}

/// A coordinate transformation in traditional GIS axis order (x = easting / longitude).
pub struct Transformer {
    inner: CoordTransform,
}

impl Transformer {
    pub fn new(from: &Crs, to: &Crs) -> Result<Transformer, IoError> {
        let a = spatial_ref(from)?;
        let b = spatial_ref(to)?;
        let inner = CoordTransform::new(&a, &b)
            .map_err(|e| IoError::Crs(format!("{} -> {}: {e}", from.name, to.name)))?;
        Ok(Transformer { inner })
    }

    pub fn to_epsg(from: &Crs, code: u32) -> Result<Transformer, IoError> {
        Transformer::new(from, &from_epsg(code, CrsSource::User)?)
    }

    /// Transforms points in place (z may be empty).
    pub fn apply(&self, x: &mut [f64], y: &mut [f64], z: &mut [f64]) -> Result<(), IoError> {
        if x.len() != y.len() || (!z.is_empty() && z.len() != x.len()) {
            return Err(IoError::Crs(
                "coordinate arrays of different lengths".into(),
            ));
        }
        self.inner
            .transform_coords(x, y, z)
            .map_err(|e| IoError::Crs(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jgd2011_to_ecef_in_easting_first_order() {
        // DESIGN.md: EPSG:6677 (0,0,0) -> ECEF (-3947708.577, 3332137.506, 3728191.676).
        let from = from_epsg(6677, CrsSource::User).unwrap();
        assert_eq!(from.epsg, Some(6677));
        assert!(!from.is_geographic);
        let t = Transformer::to_epsg(&from, 4978).unwrap();
        let (mut x, mut y, mut z) = ([0.0], [0.0], [0.0]);
        t.apply(&mut x, &mut y, &mut z).unwrap();
        assert!((x[0] - -3947708.577).abs() < 0.01, "{x:?}");
        assert!((y[0] - 3332137.506).abs() < 0.01, "{y:?}");
        assert!((z[0] - 3728191.676).abs() < 0.01, "{z:?}");
    }

    #[test]
    fn esri_wkt_is_identified() {
        let wkt = r#"GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]"#;
        let c = from_wkt(wkt, CrsSource::Wkt).unwrap();
        assert!(c.is_geographic);
        assert_eq!(c.epsg, Some(4326));
    }

    #[test]
    fn empty_and_garbage_wkt_are_errors() {
        assert!(from_wkt("", CrsSource::Wkt).is_err());
        assert!(from_wkt("\0\0", CrsSource::Wkt).is_err());
        assert!(from_wkt("not a crs", CrsSource::Wkt).is_err());
    }

    #[test]
    fn compound_keeps_both_codes() {
        let c = from_epsg_pair(6671, Some(6695), CrsSource::GeotiffKeys).unwrap();
        assert_eq!(c.epsg, Some(6671));
        assert_eq!(c.vertical_epsg, Some(6695));
    }
}
