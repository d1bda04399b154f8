//! The header and layout checks every read starts with: a LAS/LAZ file whose header, VLRs,
//! chunk table or point count lie is refused with the reason before any point is decoded.

use super::{LasHeader, LASZIP_RECORD, LASZIP_USER};
use crate::cloud::{Bounds, Crs, CrsSource};
use crate::io::extra_bytes;
use crate::io::{crs, guard, IoError, Result};
use std::fs::File;
use std::io::{BufReader, Cursor, Read, Seek, SeekFrom};
use std::path::Path;

pub(super) fn corrupt(path: &Path, reason: impl Into<String>) -> IoError {
    IoError::CorruptHeader {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

pub(super) fn las_err(path: &Path, e: las::Error) -> IoError {
    IoError::Points {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

pub(super) fn c_text(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).trim().to_string()
}

/// A file whose header bytes may be corrected in memory (a wrong VLR count that every other
/// reader tolerates), read through a buffer.
pub(super) struct PatchedFile {
    pub(super) inner: BufReader<File>,
    pub(super) head: Vec<u8>,
    pub(super) pos: u64,
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

pub(super) struct VlrRef {
    pub(super) user: String,
    pub(super) record: u16,
    pub(super) data: Vec<u8>,
}

pub(super) fn read_exact_at(f: &mut File, pos: u64, buf: &mut [u8]) -> std::io::Result<()> {
    f.seek(SeekFrom::Start(pos))?;
    f.read_exact(buf)
}

/// Walks the header, VLRs, EVLRs and (for LAZ) the chunk table, checking every size against
/// the file. Returns the parsed header and the (possibly corrected) header bytes.
pub(super) fn check_layout(path: &Path) -> Result<(LasHeader, Vec<u8>)> {
    let mut f = File::open(path).map_err(|e| IoError::io(path, e))?;
    let file_size = f.metadata().map_err(|e| IoError::io(path, e))?.len();
    if file_size == 0 {
        return Err(IoError::NotLas {
            path: path.to_path_buf(),
            reason: "empty file".into(),
        });
    }
    let mut head = vec![0u8; file_size.min(375) as usize];
    read_exact_at(&mut f, 0, &mut head).map_err(|e| IoError::io(path, e))?;
    if !head.starts_with(b"LASF") {
        return Err(IoError::NotLas {
            path: path.to_path_buf(),
            reason: "no LASF signature".into(),
        });
    }
    let raw = las::raw::Header::read_from(Cursor::new(&head))
        .map_err(|e| corrupt(path, format!("header truncated or unreadable ({e})")))?;
    let version = raw.version;
    if version.major != 1 || version.minor > 4 {
        return Err(IoError::Unsupported {
            path: path.to_path_buf(),
            reason: format!("LAS version {}.{}", version.major, version.minor),
        });
    }
    let header_size = u64::from(raw.header_size);
    let offset_to_points = u64::from(raw.offset_to_point_data);
    if header_size < 227 || header_size > file_size {
        return Err(corrupt(
            path,
            format!("header size {header_size} (file is {file_size} bytes)"),
        ));
    }
    if offset_to_points < header_size || offset_to_points > file_size {
        return Err(corrupt(
            path,
            format!("offset to point data {offset_to_points} outside the file ({file_size} bytes)"),
        ));
    }
    let compressed = raw.point_data_record_format & 0xC0 != 0;
    let format_id = raw.point_data_record_format & 0x3F;
    let format = las::point::Format::new(format_id).map_err(|_| IoError::Unsupported {
        path: path.to_path_buf(),
        reason: format!("point format {format_id}"),
    })?;
    let base_len = u64::from(format.len());
    let record_len = u64::from(raw.point_data_record_length);
    if record_len < base_len {
        return Err(corrupt(path, format!("point record length {record_len} shorter than format {format_id} needs ({base_len})")));
    }
    let point_count = if raw.number_of_point_records > 0 {
        u64::from(raw.number_of_point_records)
    } else {
        raw.large_file
            .map(|l| l.number_of_point_records)
            .unwrap_or(0)
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
            return Err(corrupt(
                path,
                format!("VLR {i} claims {len} bytes, past the start of point data"),
            ));
        }
        let mut data = vec![0u8; len as usize];
        read_exact_at(&mut f, pos + 54, &mut data).map_err(|e| IoError::io(path, e))?;
        vlrs.push(VlrRef {
            user: c_text(&vh[2..18]),
            record: u16::from_le_bytes([vh[18], vh[19]]),
            data,
        });
        pos += 54 + len;
    }

    // EVLRs (LAS 1.4): only small ones are loaded (CRS, extra bytes, COPC info); large ones
    // (waveforms, COPC hierarchy) are checked for size and skipped.
    let mut evlr_count = 0;
    if let Some(evlr) = raw.evlr {
        let mut epos = evlr.start_of_first_evlr;
        for i in 0..evlr.number_of_evlrs {
            if epos.checked_add(60).is_none_or(|e| e > file_size) {
                return Err(corrupt(
                    path,
                    format!(
                        "EVLR {i} starts at {epos}, past the end of the file ({file_size} bytes)"
                    ),
                ));
            }
            let mut vh = [0u8; 60];
            read_exact_at(&mut f, epos, &mut vh).map_err(|e| IoError::io(path, e))?;
            let len = u64::from_le_bytes(vh[20..28].try_into().unwrap_or([0; 8]));
            let end = epos.checked_add(60).and_then(|p| p.checked_add(len));
            if end.is_none_or(|e| e > file_size) {
                return Err(corrupt(
                    path,
                    format!("EVLR {i} claims {len} bytes; the file has {file_size}"),
                ));
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
    let mut chunks = Vec::new();
    if compressed {
        chunks = check_laz(
            path,
            &mut f,
            &vlrs,
            offset_to_points,
            file_size,
            point_count,
            record_len,
        )?;
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
    let eb_vlr = vlrs
        .iter()
        .find(|v| v.user == extra_bytes::VLR_USER && v.record == extra_bytes::VLR_RECORD);
    let extra = extra_bytes::parse(eb_vlr.map(|v| v.data.as_slice()), extra_len);
    warnings.extend(extra.warnings.iter().cloned());

    let (crs, crs_source, crs_warnings) = crs_of(&vlrs, raw.global_encoding & 16 != 0);
    warnings.extend(crs_warnings);
    let bounds = Bounds {
        min: [raw.min_x, raw.min_y, raw.min_z],
        max: [raw.max_x, raw.max_y, raw.max_z],
    };
    if let Some(c) = &crs {
        if c.is_geographic
            && point_count > 0
            && bounds
                .min
                .iter()
                .chain(bounds.max.iter())
                .all(|v| v.is_finite())
        {
            let lon_ok = bounds.min[0] >= -180.0 && bounds.max[0] <= 180.0;
            let lat_ok = bounds.min[1] >= -90.0 && bounds.max[1] <= 90.0;
            // Latitude first (EPSG axis order) is still degrees.
            let swapped = bounds.min[1].abs() <= 180.0
                && bounds.max[1].abs() <= 180.0
                && bounds.min[0].abs() <= 90.0
                && bounds.max[0].abs() <= 90.0;
            let degrees = (lon_ok && lat_ok) || swapped;
            if !degrees {
                warnings.push(format!(
                    "CRS {} is geographic but the bounds are not longitude/latitude degrees",
                    c.name
                ));
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
    if bounds
        .min
        .iter()
        .chain(bounds.max.iter())
        .any(|v| !v.is_finite())
    {
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
        chunks,
        data_offset: offset_to_points,
        warnings,
    };
    for (k, s) in header.scale.iter().enumerate() {
        if !s.is_finite() || *s == 0.0 {
            return Err(corrupt(
                path,
                format!("scale factor {} is {s}", ["x", "y", "z"][k]),
            ));
        }
    }
    Ok((header, head))
}

/// LAZ: the laszip VLR must be there and sane, and the chunk table must fit in the file before
/// laz-rs sizes its buffers from it. Gives the chunks (empty when the file has no points).
pub(super) fn check_laz(
    path: &Path,
    f: &mut File,
    vlrs: &[VlrRef],
    offset_to_points: u64,
    file_size: u64,
    point_count: u64,
    record_len: u64,
) -> Result<Vec<Chunk>> {
    let Some(v) = vlrs
        .iter()
        .find(|v| v.user == LASZIP_USER && v.record == LASZIP_RECORD)
    else {
        return Err(corrupt(path, "compressed point format but no laszip VLR"));
    };
    let vlr =
        laz::LazVlr::from_buffer(&v.data).map_err(|e| corrupt(path, format!("laszip VLR: {e}")))?;
    if vlr.items_size() != record_len {
        return Err(corrupt(
            path,
            format!(
                "laszip items are {} bytes per point, header says {record_len}",
                vlr.items_size()
            ),
        ));
    }
    let variable = vlr.uses_variable_size_chunks();
    if !variable && u64::from(vlr.chunk_size()) * record_len > 512 << 20 {
        return Err(IoError::Unsupported {
            path: path.to_path_buf(),
            reason: format!(
                "LAZ chunk size {} points (over 512 MB per chunk)",
                vlr.chunk_size()
            ),
        });
    }
    // With no points the table is still read (by laz-rs, when the reader opens): its chunk
    // count is checked all the same (a fuzzed empty file asked for a 29 GB table); a table
    // that cannot be found is left to laz-rs's own error.
    let empty = point_count == 0;
    let mut b8 = [0u8; 8];
    if let Err(e) = read_exact_at(f, offset_to_points, &mut b8) {
        return if empty {
            Ok(Vec::new())
        } else {
            Err(corrupt(path, format!("LAZ data truncated ({e})")))
        };
    }
    let mut table_at = i64::from_le_bytes(b8);
    if table_at <= offset_to_points as i64 {
        // laszip writes the offset at the end when it could not seek back (streaming).
        read_exact_at(f, file_size.saturating_sub(8), &mut b8).map_err(|e| IoError::io(path, e))?;
        table_at = i64::from_le_bytes(b8);
    }
    let data_start = offset_to_points + 8;
    if table_at < data_start as i64 || (table_at as u64).saturating_add(8) > file_size {
        if empty {
            return Ok(Vec::new());
        }
        return Err(corrupt(
            path,
            format!("LAZ chunk table offset {table_at} outside the file ({file_size} bytes)"),
        ));
    }
    let table_at = table_at as u64;
    let mut b4 = [0u8; 8];
    read_exact_at(f, table_at, &mut b4).map_err(|e| IoError::io(path, e))?;
    let n_chunks = u64::from(u32::from_le_bytes([b4[4], b4[5], b4[6], b4[7]]));
    let compressed_bytes = table_at - data_start;
    // Every chunk starts with one raw point, so there cannot be more chunks than that allows.
    if n_chunks > compressed_bytes / record_len.max(1) + 1 {
        return Err(corrupt(
            path,
            format!("LAZ chunk table claims {n_chunks} chunks in {compressed_bytes} bytes of data"),
        ));
    }
    if empty {
        return Ok(Vec::new());
    }
    f.seek(SeekFrom::Start(table_at))
        .map_err(|e| IoError::io(path, e))?;
    let mut rd = BufReader::new(&mut *f);
    let table = guard::contain(|| laz::laszip::ChunkTable::read(&mut rd, variable))
        .map_err(|e| corrupt(path, format!("LAZ chunk table: {e}")))?
        .map_err(|e| corrupt(path, format!("LAZ chunk table unreadable ({e})")))?;
    let mut bytes = 0u64;
    let mut points = 0u64;
    for e in table.as_ref() {
        bytes = bytes.saturating_add(e.byte_count);
        points = points.saturating_add(if variable {
            e.point_count
        } else {
            u64::from(vlr.chunk_size())
        });
        if variable && e.point_count.saturating_mul(record_len) > 512 << 20 {
            return Err(corrupt(
                path,
                format!("LAZ chunk of {} points", e.point_count),
            ));
        }
    }
    if bytes > compressed_bytes {
        return Err(corrupt(
            path,
            format!("LAZ chunks claim {bytes} bytes but the file has {compressed_bytes}"),
        ));
    }
    check_layered_chunks(path, f, &vlr, table.as_ref(), data_start)?;
    if points < point_count {
        return Err(corrupt(
            path,
            format!(
                "header claims {point_count} points but the LAZ chunk table holds at most {points}"
            ),
        ));
    }
    // Where each chunk starts, and its real point count (fixed-size tables give every chunk
    // the chunk size: the last ones hold what is left).
    let mut chunks = Vec::with_capacity(table.len());
    let (mut at, mut left) = (data_start, point_count);
    for e in table.as_ref() {
        let n = if variable {
            e.point_count
        } else {
            u64::from(vlr.chunk_size())
        }
        .min(left);
        chunks.push(Chunk {
            offset: at,
            points: n,
            bytes: e.byte_count,
        });
        at += e.byte_count;
        left -= n;
    }
    Ok(chunks)
}

/// One LAZ chunk: where it starts in the file, its points and its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chunk {
    pub offset: u64,
    pub points: u64,
    pub bytes: u64,
}

/// Layered LAZ (point formats 6-10) starts every chunk with the raw first point, a point count
/// and one u32 byte size per layer; laz-rs allocates each layer at the size it reads. A chunk
/// whose layer sizes add up to more than the chunk itself is corrupt and is refused here,
/// before a flipped bit becomes a multi-gigabyte allocation.
pub(super) fn check_layered_chunks(
    path: &Path,
    f: &mut File,
    vlr: &laz::LazVlr,
    table: &[laz::laszip::ChunkTableEntry],
    data_start: u64,
) -> Result<()> {
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
            let sum: u64 = buf
                .chunks_exact(4)
                .map(|b| u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])))
                .sum();
            if sum > e.byte_count - head as u64 {
                return Err(corrupt(
                    path,
                    format!(
                        "LAZ chunk {i}: layers claim {sum} bytes in a {}-byte chunk",
                        e.byte_count
                    ),
                ));
            }
        }
        at += e.byte_count;
    }
    Ok(())
}

/// Reads the CRS from the WKT VLR or the GeoTIFF keys; says which, and what was odd.
pub(super) fn crs_of(vlrs: &[VlrRef], wkt_bit: bool) -> (Option<Crs>, String, Vec<String>) {
    let mut warnings = Vec::new();
    let wkt_vlr = vlrs
        .iter()
        .find(|v| v.user == "LASF_Projection" && v.record == 2112);
    let keys_vlr = vlrs
        .iter()
        .find(|v| v.user == "LASF_Projection" && v.record == 34735);
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
                let find = |rec: u16| {
                    vlrs.iter()
                        .find(|v| v.user == "LASF_Projection" && v.record == rec)
                        .map(|v| v.data.as_slice())
                };
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
                warnings.push(format!(
                    "WKT names no EPSG code; taking EPSG:{} from the GeoTIFF keys",
                    k.epsg.unwrap_or(0)
                ));
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
pub(super) fn geokeys(data: &[u8]) -> Option<(Option<u32>, Option<u32>)> {
    let word = |i: usize| {
        data.get(2 * i..2 * i + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let n = usize::from(word(3)?);
    let (mut proj, mut geog, mut vert) = (None, None, None);
    for k in 0..n {
        let base = 4 + 4 * k;
        let (id, loc, _count, value) = (
            word(base)?,
            word(base + 1)?,
            word(base + 2)?,
            word(base + 3)?,
        );
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
