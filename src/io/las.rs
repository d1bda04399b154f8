//! LAS 1.0-1.4, LAZ and COPC (read as plain LAZ) through las-rs / laz-rs.
//!
//! las-rs trusts the header: a file that claims 4 G points, a 1 TB EVLR or 4 G LAZ chunks makes
//! it (or laz-rs) allocate that much before noticing the file is short, and some corrupt LAZ
//! streams make laz-rs panic. So every file is checked here first against its real size
//! (`check_layout`), the decoder runs inside `guard::contain`, and points are read in chunks so
//! memory grows with what actually decodes, never with what a header claims.

use super::extra_bytes::{self, ExtraLayout};
use super::{crs, guard, IoError, Result};
use crate::cloud::{origin_for, Bounds, Crs, CrsSource, PointCloud, ScalarField};
use las::{PointData, PointDataBuilder, Reader, ReaderOptions};
use serde::Serialize;
use std::fs::File;
use std::io::{BufReader, Cursor, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Points decoded per call: large enough to give laz-parallel many 50 k-point chunks to spread
/// over threads, small enough to bound memory for files larger than RAM.
pub const CHUNK_POINTS: u64 = 1 << 20;

const LASZIP_USER: &str = "laszip encoded";
const LASZIP_RECORD: u16 = 22204;

/// Everything the header and (E)VLRs say about a LAS/LAZ file, checked against the file size.
#[derive(Clone, Debug, Serialize)]
pub struct LasHeader {
    #[serde(skip)]
    pub path: PathBuf,
    pub file_size: u64,
    /// "1.4"
    pub version: String,
    pub point_format: u8,
    pub record_length: u16,
    pub point_count: u64,
    pub compressed: bool,
    pub copc: bool,
    /// Bounds as written in the header (not recomputed).
    pub bounds: Bounds,
    pub scale: [f64; 3],
    pub offset: [f64; 3],
    pub crs: Option<Crs>,
    /// Where the CRS was found: "wkt", "geotiff_keys" or "none".
    pub crs_source: String,
    pub has_gps_time: bool,
    pub has_rgb: bool,
    pub has_nir: bool,
    pub has_waveform: bool,
    pub vlr_count: usize,
    pub evlr_count: usize,
    pub system_identifier: String,
    pub generating_software: String,
    /// File creation date from the header (day of year + year), when set and valid.
    pub creation_date: Option<chrono::NaiveDate>,
    #[serde(skip)]
    pub extra: ExtraLayout,
    pub warnings: Vec<String>,
}

impl LasHeader {
    /// The standard per-point dimensions of this point format, in LAS names.
    pub fn dimension_names(&self) -> Vec<String> {
        let mut v: Vec<String> = ["X", "Y", "Z", "Intensity", "ReturnNumber", "NumberOfReturns", "Classification", "ScanAngle", "UserData", "PointSourceId"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        if self.has_gps_time {
            v.push("GpsTime".into());
        }
        if self.has_rgb {
            v.extend(["Red", "Green", "Blue"].map(String::from));
        }
        if self.has_nir {
            v.push("Nir".into());
        }
        if self.has_waveform {
            v.push("Waveform".into());
        }
        v
    }
}

/// A cloud read from a file, with what the reader noticed.
#[derive(Debug)]
pub struct Loaded {
    pub cloud: PointCloud,
    pub header: LasHeader,
    pub warnings: Vec<String>,
}

fn corrupt(path: &Path, reason: impl Into<String>) -> IoError {
    IoError::CorruptHeader { path: path.to_path_buf(), reason: reason.into() }
}

fn las_err(path: &Path, e: las::Error) -> IoError {
    IoError::Points { path: path.to_path_buf(), reason: e.to_string() }
}

fn c_text(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).trim().to_string()
}

/// A file whose header bytes may be corrected in memory (a wrong VLR count that every other
/// reader tolerates), read through a buffer.
struct PatchedFile {
    inner: BufReader<File>,
    head: Vec<u8>,
    pos: u64,
}

impl Read for PatchedFile {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if (self.pos as usize) < self.head.len() {
            let start = self.pos as usize;
            let n = buf.len().min(self.head.len() - start);
            buf[..n].copy_from_slice(&self.head[start..start + n]);
            self.pos += n as u64;
            self.inner.seek(SeekFrom::Start(self.pos))?;
            return Ok(n);
        }
        let n = self.inner.read(buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for PatchedFile {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        self.pos = self.inner.seek(to)?;
        Ok(self.pos)
    }
}

struct VlrRef {
    user: String,
    record: u16,
    data: Vec<u8>,
}

fn read_exact_at(f: &mut File, pos: u64, buf: &mut [u8]) -> std::io::Result<()> {
    f.seek(SeekFrom::Start(pos))?;
    f.read_exact(buf)
}

/// Walks the header, VLRs, EVLRs and (for LAZ) the chunk table, checking every size against
/// the file. Returns the parsed header and the (possibly corrected) header bytes.
fn check_layout(path: &Path) -> Result<(LasHeader, Vec<u8>)> {
    let mut f = File::open(path).map_err(|e| IoError::io(path, e))?;
    let file_size = f.metadata().map_err(|e| IoError::io(path, e))?.len();
    if file_size == 0 {
        return Err(IoError::NotLas { path: path.to_path_buf(), reason: "empty file".into() });
    }
    let mut head = vec![0u8; file_size.min(375) as usize];
    read_exact_at(&mut f, 0, &mut head).map_err(|e| IoError::io(path, e))?;
    if !head.starts_with(b"LASF") {
        return Err(IoError::NotLas { path: path.to_path_buf(), reason: "no LASF signature".into() });
    }
    let raw = las::raw::Header::read_from(Cursor::new(&head))
        .map_err(|e| corrupt(path, format!("header truncated or unreadable ({e})")))?;
    let version = raw.version;
    if version.major != 1 || version.minor > 4 {
        return Err(IoError::Unsupported { path: path.to_path_buf(), reason: format!("LAS version {}.{}", version.major, version.minor) });
    }
    let header_size = u64::from(raw.header_size);
    let offset_to_points = u64::from(raw.offset_to_point_data);
    if header_size < 227 || header_size > file_size {
        return Err(corrupt(path, format!("header size {header_size} (file is {file_size} bytes)")));
    }
    if offset_to_points < header_size || offset_to_points > file_size {
        return Err(corrupt(path, format!("offset to point data {offset_to_points} outside the file ({file_size} bytes)")));
    }
    let compressed = raw.point_data_record_format & 0xC0 != 0;
    let format_id = raw.point_data_record_format & 0x3F;
    let format = las::point::Format::new(format_id)
        .map_err(|_| IoError::Unsupported { path: path.to_path_buf(), reason: format!("point format {format_id}") })?;
    let base_len = u64::from(format.len());
    let record_len = u64::from(raw.point_data_record_length);
    if record_len < base_len {
        return Err(corrupt(path, format!("point record length {record_len} shorter than format {format_id} needs ({base_len})")));
    }
    let point_count = if raw.number_of_point_records > 0 {
        u64::from(raw.number_of_point_records)
    } else {
        raw.large_file.map(|l| l.number_of_point_records).unwrap_or(0)
    };
    let mut warnings = Vec::new();

    // VLRs: each must lie between the header and the point data. A count that runs past the
    // point data is a known writer bug (PDAL's bad_vlr_count.las): keep the VLRs that fit.
    let mut vlrs = Vec::new();
    let mut pos = header_size;
    let claimed_vlrs = raw.number_of_variable_length_records;
    for i in 0..claimed_vlrs {
        if pos + 54 > offset_to_points {
            warnings.push(format!("header claims {claimed_vlrs} VLRs but only {i} fit before the point data; using {i}"));
            let n = i.to_le_bytes();
            if head.len() >= 104 {
                head[100..104].copy_from_slice(&n);
            }
            break;
        }
        let mut vh = [0u8; 54];
        read_exact_at(&mut f, pos, &mut vh).map_err(|e| IoError::io(path, e))?;
        let len = u64::from(u16::from_le_bytes([vh[20], vh[21]]));
        if pos + 54 + len > offset_to_points {
            return Err(corrupt(path, format!("VLR {i} claims {len} bytes, past the start of point data")));
        }
        let mut data = vec![0u8; len as usize];
        read_exact_at(&mut f, pos + 54, &mut data).map_err(|e| IoError::io(path, e))?;
        vlrs.push(VlrRef { user: c_text(&vh[2..18]), record: u16::from_le_bytes([vh[18], vh[19]]), data });
        pos += 54 + len;
    }

    // EVLRs (LAS 1.4): only small ones are loaded (CRS, extra bytes, COPC info); large ones
    // (waveforms, COPC hierarchy) are checked for size and skipped.
    let mut evlr_count = 0;
    if let Some(evlr) = raw.evlr {
        let mut epos = evlr.start_of_first_evlr;
        for i in 0..evlr.number_of_evlrs {
            if epos.checked_add(60).is_none_or(|e| e > file_size) {
                return Err(corrupt(path, format!("EVLR {i} starts at {epos}, past the end of the file ({file_size} bytes)")));
            }
            let mut vh = [0u8; 60];
            read_exact_at(&mut f, epos, &mut vh).map_err(|e| IoError::io(path, e))?;
            let len = u64::from_le_bytes(vh[20..28].try_into().unwrap_or([0; 8]));
            let end = epos.checked_add(60).and_then(|p| p.checked_add(len));
            if end.is_none_or(|e| e > file_size) {
                return Err(corrupt(path, format!("EVLR {i} claims {len} bytes; the file has {file_size}")));
            }
            let user = c_text(&vh[2..18]);
            let record = u16::from_le_bytes([vh[18], vh[19]]);
            if len <= 1 << 20 && (user == "LASF_Projection" || user == extra_bytes::VLR_USER) {
                let mut data = vec![0u8; len as usize];
                read_exact_at(&mut f, epos + 60, &mut data).map_err(|e| IoError::io(path, e))?;
                vlrs.push(VlrRef { user, record, data });
            }
            evlr_count += 1;
            epos = end.unwrap_or(file_size);
        }
    }

    let data_bytes = file_size - offset_to_points;
    if compressed {
        check_laz(path, &mut f, &vlrs, offset_to_points, file_size, point_count, record_len)?;
    } else {
        let need = point_count.checked_mul(record_len);
        if need.is_none_or(|n| n > data_bytes) {
            return Err(corrupt(
                path,
                format!(
                    "header claims {point_count} points ({} bytes) but the file holds {} after the header",
                    point_count.saturating_mul(record_len),
                    data_bytes
                ),
            ));
        }
    }

    let extra_len = (record_len - base_len) as usize;
    let eb_vlr = vlrs.iter().find(|v| v.user == extra_bytes::VLR_USER && v.record == extra_bytes::VLR_RECORD);
    let extra = extra_bytes::parse(eb_vlr.map(|v| v.data.as_slice()), extra_len);
    warnings.extend(extra.warnings.iter().cloned());

    let (crs, crs_source, crs_warnings) = crs_of(&vlrs, raw.global_encoding & 16 != 0);
    warnings.extend(crs_warnings);
    let bounds = Bounds { min: [raw.min_x, raw.min_y, raw.min_z], max: [raw.max_x, raw.max_y, raw.max_z] };
    if let Some(c) = &crs {
        if c.is_geographic && point_count > 0 && bounds.min.iter().chain(bounds.max.iter()).all(|v| v.is_finite()) {
            let lon_ok = bounds.min[0] >= -180.0 && bounds.max[0] <= 180.0;
            let lat_ok = bounds.min[1] >= -90.0 && bounds.max[1] <= 90.0;
            if !(lon_ok && lat_ok) && !(bounds.min[1].abs() <= 180.0 && bounds.max[1].abs() <= 180.0 && bounds.min[0].abs() <= 90.0 && bounds.max[0].abs() <= 90.0) {
                warnings.push(format!("CRS {} is geographic but the bounds are not longitude/latitude degrees", c.name));
            }
            // LAS stores longitude in X. Latitude-first data (EPSG:4326's official axis order)
            // shows up as |Y| > 90, or as a survey "near the pole" whose swap is not polar.
            let xmax = bounds.min[0].abs().max(bounds.max[0].abs());
            let ymax = bounds.min[1].abs().max(bounds.max[1].abs());
            if xmax <= 90.0 && (ymax > 90.0 || (ymax > 80.0 && xmax < 80.0)) {
                warnings.push(format!(
                    "X ({:.3}) looks like latitude and Y ({:.3}) like longitude: axes may be swapped (LAS stores longitude in X)",
                    bounds.min[0], bounds.min[1]
                ));
            }
        }
    }
    if bounds.min.iter().chain(bounds.max.iter()).any(|v| !v.is_finite()) {
        warnings.push("header bounds are not finite".into());
    }

    let copc = vlrs.iter().any(|v| v.user == "copc" && v.record == 1);
    let header = LasHeader {
        path: path.to_path_buf(),
        file_size,
        version: format!("{}.{}", version.major, version.minor),
        point_format: format_id,
        record_length: raw.point_data_record_length,
        point_count,
        compressed,
        copc,
        bounds,
        scale: [raw.x_scale_factor, raw.y_scale_factor, raw.z_scale_factor],
        offset: [raw.x_offset, raw.y_offset, raw.z_offset],
        crs,
        crs_source,
        has_gps_time: format.has_gps_time,
        has_rgb: format.has_color,
        has_nir: format.has_nir,
        has_waveform: format.has_waveform,
        vlr_count: vlrs.len() - evlr_count.min(vlrs.len()),
        evlr_count,
        system_identifier: c_text(&raw.system_identifier),
        generating_software: c_text(&raw.generating_software),
        creation_date: match (raw.file_creation_year, raw.file_creation_day_of_year) {
            (y, d) if y > 0 && d > 0 => chrono::NaiveDate::from_yo_opt(i32::from(y), u32::from(d)),
            _ => None,
        },
        extra,
        warnings,
    };
    for (k, s) in header.scale.iter().enumerate() {
        if !s.is_finite() || *s == 0.0 {
            return Err(corrupt(path, format!("scale factor {} is {s}", ["x", "y", "z"][k])));
        }
    }
    Ok((header, head))
}

/// LAZ: the laszip VLR must be there and sane, and the chunk table must fit in the file before
/// laz-rs sizes its buffers from it.
fn check_laz(path: &Path, f: &mut File, vlrs: &[VlrRef], offset_to_points: u64, file_size: u64, point_count: u64, record_len: u64) -> Result<()> {
    let Some(v) = vlrs.iter().find(|v| v.user == LASZIP_USER && v.record == LASZIP_RECORD) else {
        return Err(corrupt(path, "compressed point format but no laszip VLR"));
    };
    let vlr = laz::LazVlr::from_buffer(&v.data).map_err(|e| corrupt(path, format!("laszip VLR: {e}")))?;
    if vlr.items_size() != record_len {
        return Err(corrupt(path, format!("laszip items are {} bytes per point, header says {record_len}", vlr.items_size())));
    }
    let variable = vlr.uses_variable_size_chunks();
    if !variable && u64::from(vlr.chunk_size()) * record_len > 512 << 20 {
        return Err(IoError::Unsupported { path: path.to_path_buf(), reason: format!("LAZ chunk size {} points (over 512 MB per chunk)", vlr.chunk_size()) });
    }
    if point_count == 0 {
        return Ok(());
    }
    let mut b8 = [0u8; 8];
    read_exact_at(f, offset_to_points, &mut b8).map_err(|e| corrupt(path, format!("LAZ data truncated ({e})")))?;
    let mut table_at = i64::from_le_bytes(b8);
    if table_at <= offset_to_points as i64 {
        // laszip writes the offset at the end when it could not seek back (streaming).
        read_exact_at(f, file_size.saturating_sub(8), &mut b8).map_err(|e| IoError::io(path, e))?;
        table_at = i64::from_le_bytes(b8);
    }
    let data_start = offset_to_points + 8;
    if table_at < data_start as i64 || (table_at as u64).saturating_add(8) > file_size {
        return Err(corrupt(path, format!("LAZ chunk table offset {table_at} outside the file ({file_size} bytes)")));
    }
    let table_at = table_at as u64;
    let mut b4 = [0u8; 8];
    read_exact_at(f, table_at, &mut b4).map_err(|e| IoError::io(path, e))?;
    let n_chunks = u64::from(u32::from_le_bytes([b4[4], b4[5], b4[6], b4[7]]));
    let compressed_bytes = table_at - data_start;
    // Every chunk starts with one raw point, so there cannot be more chunks than that allows.
    if n_chunks > compressed_bytes / record_len.max(1) + 1 {
        return Err(corrupt(path, format!("LAZ chunk table claims {n_chunks} chunks in {compressed_bytes} bytes of data")));
    }
    f.seek(SeekFrom::Start(table_at)).map_err(|e| IoError::io(path, e))?;
    let mut rd = BufReader::new(&mut *f);
    let table = guard::contain(|| laz::laszip::ChunkTable::read(&mut rd, variable))
        .map_err(|e| corrupt(path, format!("LAZ chunk table: {e}")))?
        .map_err(|e| corrupt(path, format!("LAZ chunk table unreadable ({e})")))?;
    let mut bytes = 0u64;
    let mut points = 0u64;
    for e in table.as_ref() {
        bytes = bytes.saturating_add(e.byte_count);
        points = points.saturating_add(if variable { e.point_count } else { u64::from(vlr.chunk_size()) });
        if variable && e.point_count.saturating_mul(record_len) > 512 << 20 {
            return Err(corrupt(path, format!("LAZ chunk of {} points", e.point_count)));
        }
    }
    if bytes > compressed_bytes {
        return Err(corrupt(path, format!("LAZ chunks claim {bytes} bytes but the file has {compressed_bytes}")));
    }
    check_layered_chunks(path, f, &vlr, table.as_ref(), data_start)?;
    if points < point_count {
        return Err(corrupt(path, format!("header claims {point_count} points but the LAZ chunk table holds at most {points}")));
    }
    Ok(())
}

/// Layered LAZ (point formats 6-10) starts every chunk with the raw first point, a point count
/// and one u32 byte size per layer; laz-rs allocates each layer at the size it reads. A chunk
/// whose layer sizes add up to more than the chunk itself is corrupt and is refused here,
/// before a flipped bit becomes a multi-gigabyte allocation.
fn check_layered_chunks(path: &Path, f: &mut File, vlr: &laz::LazVlr, table: &[laz::laszip::ChunkTableEntry], data_start: u64) -> Result<()> {
    use laz::LazItemType as T;
    let mut layers = 0usize;
    for item in vlr.items() {
        layers += match item.item_type() {
            T::Point14 => 9,
            T::RGB14 | T::WavePacket14 => 1,
            T::RGBNIR14 => 2,
            T::Byte14(n) => usize::from(n),
            _ => return Ok(()), // point-wise (v1/v2) items read no sizes from the stream
        };
    }
    let first = vlr.items_size() as usize;
    let head = first + 4 + 4 * layers;
    let mut buf = vec![0u8; 4 * layers];
    let mut at = data_start;
    for (i, e) in table.iter().enumerate() {
        if e.byte_count > head as u64 {
            read_exact_at(f, at + first as u64 + 4, &mut buf).map_err(|e| IoError::io(path, e))?;
            let sum: u64 = buf.chunks_exact(4).map(|b| u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))).sum();
            if sum > e.byte_count - head as u64 {
                return Err(corrupt(path, format!("LAZ chunk {i}: layers claim {sum} bytes in a {}-byte chunk", e.byte_count)));
            }
        }
        at += e.byte_count;
    }
    Ok(())
}

/// Reads the CRS from the WKT VLR or the GeoTIFF keys; says which, and what was odd.
fn crs_of(vlrs: &[VlrRef], wkt_bit: bool) -> (Option<Crs>, String, Vec<String>) {
    let mut warnings = Vec::new();
    let wkt_vlr = vlrs.iter().find(|v| v.user == "LASF_Projection" && v.record == 2112);
    let keys_vlr = vlrs.iter().find(|v| v.user == "LASF_Projection" && v.record == 34735);
    let mut from_wkt = None;
    if let Some(v) = wkt_vlr {
        match crs::from_wkt(&String::from_utf8_lossy(&v.data), CrsSource::Wkt) {
            Ok(c) => from_wkt = Some(c),
            Err(e) => warnings.push(format!("WKT CRS VLR unusable: {e}")),
        }
    } else if wkt_bit {
        warnings.push("global encoding says WKT CRS but there is no WKT VLR".into());
    }
    let mut from_keys = None;
    if let Some(v) = keys_vlr {
        let by_code = match geokeys(&v.data) {
            Some((Some(h), vert)) => crs::from_epsg_pair(h, vert, CrsSource::GeotiffKeys).ok(),
            _ => None,
        };
        from_keys = match by_code {
            Some(c) => Some(c),
            None => {
                // User-defined projection: let GDAL's GeoTIFF reader interpret all the keys.
                let find = |rec: u16| vlrs.iter().find(|v| v.user == "LASF_Projection" && v.record == rec).map(|v| v.data.as_slice());
                match crs::from_geotiff_keys(&v.data, find(34736), find(34737)) {
                    Ok(c) => Some(c),
                    Err(e) => {
                        warnings.push(format!("GeoTIFF keys unusable: {e}"));
                        None
                    }
                }
            }
        };
    }
    match (from_wkt, from_keys) {
        (Some(mut w), Some(k)) => {
            if w.epsg.is_none() && k.epsg.is_some() && w.is_geographic == k.is_geographic {
                warnings.push(format!("WKT names no EPSG code; taking EPSG:{} from the GeoTIFF keys", k.epsg.unwrap_or(0)));
                w.epsg = k.epsg;
                w.vertical_epsg = w.vertical_epsg.or(k.vertical_epsg);
            }
            if w.epsg.is_some() && k.epsg.is_some() && w.epsg != k.epsg {
                warnings.push(format!(
                    "contradictory CRS: WKT says {} (EPSG:{}), GeoTIFF keys say {} (EPSG:{}); using the WKT",
                    w.name,
                    w.epsg.unwrap_or(0),
                    k.name,
                    k.epsg.unwrap_or(0)
                ));
            }
            (Some(w), "wkt".into(), warnings)
        }
        (Some(w), None) => (Some(w), "wkt".into(), warnings),
        (None, Some(k)) => (Some(k), "geotiff_keys".into(), warnings),
        (None, None) => {
            warnings.push("no CRS in the file".into());
            (None, "none".into(), warnings)
        }
    }
}

/// (horizontal EPSG, vertical EPSG) from a GeoKeyDirectory: ProjectedCSTypeGeoKey (3072),
/// else GeographicTypeGeoKey (2048); VerticalCSTypeGeoKey (4096). 32767 = user-defined.
fn geokeys(data: &[u8]) -> Option<(Option<u32>, Option<u32>)> {
    let word = |i: usize| data.get(2 * i..2 * i + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let n = usize::from(word(3)?);
    let (mut proj, mut geog, mut vert) = (None, None, None);
    for k in 0..n {
        let base = 4 + 4 * k;
        let (id, loc, _count, value) = (word(base)?, word(base + 1)?, word(base + 2)?, word(base + 3)?);
        if loc != 0 || value == 0 || value == 32767 {
            continue;
        }
        match id {
            3072 => proj = Some(u32::from(value)),
            2048 => geog = Some(u32::from(value)),
            4096 => vert = Some(u32::from(value)),
            _ => {}
        }
    }
    Some((proj.or(geog), vert))
}

/// Checks a file and reads its header. Does not decode points.
pub fn read_header(path: &Path) -> Result<LasHeader> {
    check_layout(path).map(|(h, _)| h)
}

/// Which per-point attributes to decode. Positions are always read. Layered LAZ (point
/// formats 6-10) stores each attribute in its own compressed layer, so attributes left out
/// are not even decompressed: change detection needs only positions and reads 2-3x faster.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fields {
    pub intensity: bool,
    pub returns: bool,
    pub classification: bool,
    pub gps_time: bool,
    pub rgb: bool,
    pub extra: bool,
}

impl Fields {
    pub const ALL: Fields = Fields { intensity: true, returns: true, classification: true, gps_time: true, rgb: true, extra: true };
    pub const POSITIONS: Fields = Fields { intensity: false, returns: false, classification: false, gps_time: false, rgb: false, extra: false };

    fn selection(&self) -> laz::DecompressionSelection {
        use laz::DecompressionSelection as S;
        // XY and returns share one layer that is always decoded.
        let mut bits = S::XY_RETURNS_CHANNEL | S::Z;
        if self.intensity {
            bits |= S::INTENSITY;
        }
        if self.classification {
            bits |= S::CLASSIFICATION | S::FLAGS;
        }
        if self.gps_time {
            bits |= S::GPS_TIME;
        }
        if self.rgb {
            bits |= S::RGB;
        }
        if self.extra {
            bits |= S::ALL_EXTRA_BYTES;
        }
        laz::DecompressionSelection(bits)
    }
}

enum Source {
    Las(Reader),
    Laz(laz::ParLasZipDecompressor<PatchedFile>),
}

/// An open, checked file, ready to stream points.
pub struct LasReader {
    pub header: LasHeader,
    source: Source,
    fields: Fields,
    data: PointData,
    read_so_far: u64,
}

impl LasReader {
    pub fn open(path: &Path) -> Result<LasReader> {
        LasReader::open_with(path, Fields::ALL)
    }

    pub fn open_with(path: &Path, fields: Fields) -> Result<LasReader> {
        let (header, head) = check_layout(path)?;
        let file = File::open(path).map_err(|e| IoError::io(path, e))?;
        let mut patched = PatchedFile { inner: BufReader::with_capacity(1 << 20, file), head, pos: 0 };
        let pts = |e: String| IoError::Points { path: path.to_path_buf(), reason: e };
        let (source, las_header) = if header.compressed {
            // Same steps as las-rs's parallel LAZ reader, plus the field selection.
            let h = guard::contain(|| las::Header::new(&mut patched)).map_err(pts)?.map_err(|e| corrupt(path, e.to_string()))?;
            let vlr = h.laz_vlr().map_err(|e| corrupt(path, e.to_string()))?;
            let dec = guard::contain(|| laz::ParLasZipDecompressor::selective(patched, vlr, fields.selection()))
                .map_err(pts)?
                .map_err(|e| corrupt(path, format!("LAZ: {e}")))?;
            (Source::Laz(dec), h)
        } else {
            let r = guard::contain(|| Reader::with_options(patched, ReaderOptions::default()))
                .map_err(pts)?
                .map_err(|e| corrupt(path, e.to_string()))?;
            let h = r.header().clone();
            (Source::Las(r), h)
        };
        let mut format = *las_header.point_format();
        format.is_compressed = false;
        let transforms = *las_header.transforms();
        let data = PointDataBuilder::new().with_format(format).with_transforms(transforms).build();
        Ok(LasReader { header, source, fields, data, read_so_far: 0 })
    }

    /// Decodes the next chunk of at most `max` points into `out` (appending). Returns how many
    /// points were added; 0 at the end.
    pub fn read_chunk(&mut self, max: u64, out: &mut PointCloud) -> Result<usize> {
        let left = self.header.point_count - self.read_so_far;
        if left == 0 {
            return Ok(0);
        }
        let path = self.header.path.clone();
        let want = left.min(max);
        let data = &mut self.data;
        let n = match &mut self.source {
            Source::Las(reader) => guard::contain(|| reader.fill_points(want, data))
                .map_err(|e| IoError::Points { path: path.clone(), reason: e })?
                .map_err(|e| las_err(&path, e))?,
            Source::Laz(dec) => {
                let n = usize::try_from(want).map_err(|_| IoError::Points { path: path.clone(), reason: "chunk too large".into() })?;
                let buf = data.resize_for(n);
                guard::contain(|| dec.decompress_many(buf))
                    .map_err(|e| IoError::Points { path: path.clone(), reason: e })?
                    .map_err(|e| IoError::Points { path: path.clone(), reason: format!("LAZ data: {e}") })?;
                want
            }
        };
        if n == 0 {
            return Err(IoError::Points { path, reason: format!("file ends after {} of {} points", self.read_so_far, self.header.point_count) });
        }
        self.read_so_far += n;
        append(&self.header, &self.data, self.fields, out);
        Ok(n as usize)
    }

    pub fn points_read(&self) -> u64 {
        self.read_so_far
    }
}

/// Byte offsets of the standard fields in a point record (LAS 1.4 R15, tables 7-17).
struct Offsets {
    legacy: bool,
    gps: Option<usize>,
    rgb: Option<usize>,
}

impl Offsets {
    fn of(format: u8) -> Offsets {
        match format {
            0 => Offsets { legacy: true, gps: None, rgb: None },
            1 | 4 => Offsets { legacy: true, gps: Some(20), rgb: None },
            2 => Offsets { legacy: true, gps: None, rgb: Some(20) },
            3 | 5 => Offsets { legacy: true, gps: Some(20), rgb: Some(28) },
            6 | 9 => Offsets { legacy: false, gps: Some(22), rgb: None },
            _ => Offsets { legacy: false, gps: Some(22), rgb: Some(30) },
        }
    }
}

/// One block of output columns, filled by one rayon task.
struct Block<'a> {
    pos: &'a mut [[f32; 3]],
    intensity: Option<&'a mut [u16]>,
    ret: Option<(&'a mut [u8], &'a mut [u8])>,
    class: Option<&'a mut [u8]>,
    gps: Option<&'a mut [f64]>,
    rgb: Option<&'a mut [[u16; 3]]>,
}

fn grow<T: Clone + Default>(col: &mut Option<Vec<T>>, wanted: bool, start: usize, len: usize) {
    if wanted {
        let v = col.get_or_insert_with(Vec::new);
        v.resize(start, T::default()); // a column that appeared late is padded, never misaligned
        v.resize(start + len, T::default());
    }
}

fn split<T>(col: &mut Option<Vec<T>>, start: usize, block: usize) -> Vec<Option<&mut [T]>> {
    match col {
        Some(v) => v[start..].chunks_mut(block).map(Some).collect(),
        None => Vec::new(),
    }
}

/// Appends the decoded records of `pd` to `out`, converting to `out`'s local frame, all
/// columns in one parallel pass over the records (the decompressor already used both cores;
/// this keeps our own share of the read small).
fn append(h: &LasHeader, pd: &PointData, f: Fields, out: &mut PointCloud) {
    use rayon::prelude::*;
    const B: usize = 1 << 14;
    let n = pd.len();
    if n == 0 {
        return;
    }
    let o = out.origin;
    let rec = pd.record_len();
    let t = *pd.transforms();
    let off = Offsets::of(h.point_format);
    let start = out.positions.len();
    out.positions.resize(start + n, [0.0; 3]);
    grow(&mut out.intensity, f.intensity, start, n);
    grow(&mut out.return_number, f.returns, start, n);
    grow(&mut out.number_of_returns, f.returns, start, n);
    grow(&mut out.classification, f.classification, start, n);
    grow(&mut out.gps_time, f.gps_time && off.gps.is_some(), start, n);
    grow(&mut out.rgb, f.rgb && off.rgb.is_some(), start, n);

    let mut blocks: Vec<Block> = out.positions[start..].chunks_mut(B).map(|pos| Block { pos, intensity: None, ret: None, class: None, gps: None, rgb: None }).collect();
    for (b, s) in blocks.iter_mut().zip(split(&mut out.intensity, start, B)) {
        b.intensity = s;
    }
    let rn = split(&mut out.return_number, start, B);
    let nr = split(&mut out.number_of_returns, start, B);
    for (b, (r, m)) in blocks.iter_mut().zip(rn.into_iter().zip(nr)) {
        b.ret = r.zip(m);
    }
    for (b, s) in blocks.iter_mut().zip(split(&mut out.classification, start, B)) {
        b.class = s;
    }
    for (b, s) in blocks.iter_mut().zip(split(&mut out.gps_time, start, B)) {
        b.gps = s;
    }
    for (b, s) in blocks.iter_mut().zip(split(&mut out.rgb, start, B)) {
        b.rgb = s;
    }
    let u16_at = |r: &[u8], i: usize| u16::from_le_bytes([r[i], r[i + 1]]);
    blocks.into_par_iter().zip(pd.raw_bytes().par_chunks(rec * B)).for_each(|(mut b, src)| {
        for (i, r) in src.chunks_exact(rec).enumerate() {
            let raw = |k: usize| i32::from_le_bytes([r[4 * k], r[4 * k + 1], r[4 * k + 2], r[4 * k + 3]]);
            b.pos[i] = [(t.x.direct(raw(0)) - o[0]) as f32, (t.y.direct(raw(1)) - o[1]) as f32, (t.z.direct(raw(2)) - o[2]) as f32];
            if let Some(v) = b.intensity.as_deref_mut() {
                v[i] = u16_at(r, 12);
            }
            if let Some((rn, nr)) = b.ret.as_mut() {
                let byte = r[14];
                (rn[i], nr[i]) = if off.legacy { (byte & 7, (byte >> 3) & 7) } else { (byte & 15, byte >> 4) };
            }
            if let Some(v) = b.class.as_deref_mut() {
                v[i] = if off.legacy { r[15] & 31 } else { r[16] };
            }
            if let (Some(v), Some(g)) = (b.gps.as_deref_mut(), off.gps) {
                v[i] = f64::from_le_bytes(r[g..g + 8].try_into().unwrap_or([0; 8]));
            }
            if let (Some(v), Some(c)) = (b.rgb.as_deref_mut(), off.rgb) {
                v[i] = [u16_at(r, c), u16_at(r, c + 2), u16_at(r, c + 4)];
            }
        }
    });
    if f.extra && !h.extra.dims.is_empty() {
        let xs = rec.saturating_sub(extra_len(h));
        for d in &h.extra.dims {
            let field = match out.scalars.iter_mut().position(|s| s.name == d.name) {
                Some(i) => &mut out.scalars[i],
                None => {
                    out.scalars.push(ScalarField { name: d.name.clone(), values: Vec::new(), description: d.description.clone() });
                    let last = out.scalars.len() - 1;
                    &mut out.scalars[last]
                }
            };
            field.values.resize(start, f32::NAN);
            field.values.extend(pd.raw_bytes().chunks_exact(rec).map(|r| d.decode(&r[xs..])));
        }
    }
}

fn extra_len(h: &LasHeader) -> usize {
    let base = las::point::Format::new(h.point_format).map(|f| f.len()).unwrap_or(0);
    usize::from(h.record_length.saturating_sub(base))
}

/// Reads a whole file into memory.
pub fn read(path: &Path) -> Result<Loaded> {
    read_with(path, Fields::ALL, |_, _| true)
}

/// Reads a whole file with the chosen attributes, calling `progress(points_read, total)` after
/// each chunk; the read stops with `IoError::Cancelled` when it returns false.
pub fn read_with(path: &Path, fields: Fields, mut progress: impl FnMut(u64, u64) -> bool) -> Result<Loaded> {
    let mut r = LasReader::open_with(path, fields)?;
    let h = r.header.clone();
    let mut warnings = h.warnings.clone();
    let mut origin = origin_for(&h.bounds);
    let header_bounds_ok = h.bounds.min.iter().chain(h.bounds.max.iter()).all(|v| v.is_finite() && v.abs() < 1e12);
    if !header_bounds_ok {
        origin = [0.0; 3];
    }
    let mut cloud = PointCloud::with_origin(origin);
    cloud.crs = h.crs.clone();
    // Reserve what the file can plausibly hold, never what the header merely claims.
    // (LAS: the count was checked against the file size. LAZ: a count cannot be checked before
    // decoding, so reserve a bounded amount and let the vectors grow with what decodes.)
    let plausible = if h.compressed { h.point_count.min(h.file_size / 2).min(1 << 24) } else { h.point_count };
    cloud.positions.reserve(plausible as usize);
    let total = h.point_count;
    let mut first = true;
    while r.read_chunk(CHUNK_POINTS, &mut cloud)? > 0 {
        if first && !cloud.is_empty() {
            first = false;
            // A header whose bounds do not contain the data would cost f32 precision: re-centre.
            let b = cloud.bounds();
            let c = b.center();
            let far = (0..3).any(|k| (c[k] - origin[k]).abs() > 1e4 + b.size()[k]);
            if far || !header_bounds_ok {
                if header_bounds_ok {
                    warnings.push("header bounds do not match the points; using the points' own".into());
                }
                let new_origin = origin_for(&b);
                cloud.rebase(new_origin);
                origin = new_origin;
            }
        }
        if !progress(r.points_read(), total) {
            return Err(IoError::Cancelled);
        }
    }
    let _ = origin;
    if !cloud.is_empty() && header_bounds_ok {
        let b = cloud.bounds();
        let tol = [0, 1, 2].map(|k| h.scale[k].abs() + 1e-9 * b.max[k].abs().max(b.min[k].abs()) + 1e-6);
        let off = (0..3).any(|k| (b.min[k] - h.bounds.min[k]).abs() > tol[k] || (b.max[k] - h.bounds.max[k]).abs() > tol[k]);
        if off {
            warnings.push(format!(
                "header bounds differ from the points' bounds ({:.3} {:.3} {:.3} .. {:.3} {:.3} {:.3})",
                b.min[0], b.min[1], b.min[2], b.max[0], b.max[1], b.max[2]
            ));
        }
    }
    let bad = cloud.positions.iter().filter(|p| !p.iter().all(|v| v.is_finite())).count();
    if bad > 0 {
        warnings.push(format!("{bad} points have non-finite coordinates"));
    }
    if let Some(t) = &cloud.gps_time {
        let nan = t.iter().filter(|v| v.is_nan()).count();
        if nan > 0 {
            warnings.push(format!("{nan} points have NaN GPS time"));
        }
    }
    if h.extra.undocumented_bytes > 0 {
        warnings.push(format!("{} undocumented extra bytes per point were not decoded", h.extra.undocumented_bytes));
    }
    if h.point_count == 0 {
        warnings.push("file has no points".into());
    }
    Ok(Loaded { cloud, header: h, warnings })
}

/// How to write a cloud.
#[derive(Clone, Debug)]
pub struct WriteOptions {
    /// Coordinate resolution (LAS scale), per axis.
    pub scale: [f64; 3],
    /// Names of `cloud.scalars` to write as f32 extra bytes (all when `None`).
    pub fields: Option<Vec<String>>,
    pub system_identifier: String,
    /// Survey (file creation) date; today's when `None`. Fixed dates make outputs reproducible.
    pub date: Option<chrono::NaiveDate>,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions { scale: [0.001; 3], fields: None, system_identifier: "Kizashi".into(), date: None }
    }
}

/// Writes LAS 1.4 (point format 6, or 7 with RGB) or, for a `.laz` path, LAZ; every scalar
/// field as an f32 extra-bytes dimension; the CRS as a WKT VLR.
pub fn write(path: &Path, cloud: &PointCloud, opts: &WriteOptions) -> Result<()> {
    let werr = |reason: String| IoError::Write { path: path.to_path_buf(), reason };
    let laz = path.extension().and_then(|e| e.to_str()).is_some_and(|e| e.eq_ignore_ascii_case("laz"));
    let fields: Vec<&ScalarField> = match &opts.fields {
        None => cloud.scalars.iter().collect(),
        Some(names) => names
            .iter()
            .map(|n| cloud.scalar(n).ok_or_else(|| werr(format!("no field named {n}"))))
            .collect::<Result<_>>()?,
    };
    for s in &fields {
        if s.values.len() != cloud.len() {
            return Err(werr(format!("field {} has {} values for {} points", s.name, s.values.len(), cloud.len())));
        }
    }
    let n_extra = fields.len();
    let format_id = if cloud.rgb.is_some() { 7 } else { 6 };
    let mut format = las::point::Format::new(format_id).map_err(|e| werr(e.to_string()))?;
    format.extra_bytes = u16::try_from(4 * n_extra).map_err(|_| werr("too many fields".into()))?;
    format.is_compressed = laz;

    let b = cloud.bounds();
    // Offsets on a whole multiple of the scale near the data keep every i32 small and exact.
    let offset = if b.is_empty() { [0.0; 3] } else { [0, 1, 2].map(|k| (b.min[k] / opts.scale[k]).floor() * opts.scale[k]) };
    if !b.is_empty() {
        for k in 0..3 {
            let span = (b.max[k] - offset[k]) / opts.scale[k];
            if !span.is_finite() || span > f64::from(i32::MAX) {
                return Err(werr(format!("coordinates span too much for scale {} on axis {k}", opts.scale[k])));
            }
        }
    }
    let mut builder = las::Builder::from((1, 4));
    builder.point_format = format;
    builder.system_identifier = opts.system_identifier.clone();
    builder.generating_software = format!("Kizashi {}", env!("CARGO_PKG_VERSION"));
    builder.date = Some(opts.date.unwrap_or_else(|| chrono::Utc::now().date_naive()));
    builder.transforms = las::Vector {
        x: las::Transform { scale: opts.scale[0], offset: offset[0] },
        y: las::Transform { scale: opts.scale[1], offset: offset[1] },
        z: las::Transform { scale: opts.scale[2], offset: offset[2] },
    };
    if n_extra > 0 {
        let mut data = Vec::with_capacity(192 * n_extra);
        for s in &fields {
            data.extend_from_slice(&extra_bytes::f32_descriptor(&s.name, &s.description));
        }
        builder.vlrs.push(las::Vlr { user_id: extra_bytes::VLR_USER.into(), record_id: extra_bytes::VLR_RECORD, description: "Extra Bytes".into(), data });
    }
    let mut header = builder.into_header().map_err(|e| werr(e.to_string()))?;
    if let Some(c) = &cloud.crs {
        header.set_wkt_crs(c.wkt.as_bytes().to_vec()).map_err(|e| werr(format!("CRS: {e}")))?;
    }

    let record_len = usize::from(format.len()); // includes the extra bytes
    let mut bytes = vec![0u8; record_len * cloud.len()];
    let inv = [0, 1, 2].map(|k| 1.0 / opts.scale[k]);
    for (i, rec) in bytes.chunks_exact_mut(record_len).enumerate() {
        let w = cloud.world(i);
        for k in 0..3 {
            let q = ((w[k] - offset[k]) * inv[k]).round();
            let q = if q.is_finite() { q as i32 } else { 0 };
            rec[4 * k..4 * k + 4].copy_from_slice(&q.to_le_bytes());
        }
        if let Some(v) = &cloud.intensity {
            rec[12..14].copy_from_slice(&v[i].to_le_bytes());
        }
        let rn = cloud.return_number.as_ref().map_or(1, |v| v[i].clamp(1, 15));
        let nr = cloud.number_of_returns.as_ref().map_or(1, |v| v[i].clamp(1, 15));
        rec[14] = (rn & 0x0F) | ((nr & 0x0F) << 4);
        rec[16] = cloud.classification.as_ref().map_or(0, |v| v[i]);
        let t = cloud.gps_time.as_ref().map_or(0.0, |v| v[i]);
        rec[22..30].copy_from_slice(&t.to_le_bytes());
        let mut at = 30;
        if let Some(c) = &cloud.rgb {
            for k in 0..3 {
                rec[30 + 2 * k..32 + 2 * k].copy_from_slice(&c[i][k].to_le_bytes());
            }
            at = 36;
        }
        for (j, s) in fields.iter().enumerate() {
            rec[at + 4 * j..at + 4 * j + 4].copy_from_slice(&s.values[i].to_le_bytes());
        }
    }
    let pd = PointDataBuilder::new().for_header(&header).build_from_bytes(bytes).map_err(|e| werr(e.to_string()))?;
    super::safe::write_file(path, |tmp| {
        let mut writer = las::Writer::from_path(tmp, header).map_err(|e| werr(e.to_string()))?;
        writer.write_points(&pd).map_err(|e| werr(e.to_string()))?;
        writer.close().map_err(|e| werr(e.to_string()))
    })
}
