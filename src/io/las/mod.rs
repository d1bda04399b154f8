//! LAS 1.0-1.4, LAZ and COPC (read as plain LAZ) through las-rs / laz-rs.
//!
//! las-rs trusts the header: a file that claims 4 G points, a 1 TB EVLR or 4 G LAZ chunks makes
//! it (or laz-rs) allocate that much before noticing the file is short, and some corrupt LAZ
//! streams make laz-rs panic. So every file is checked here first against its real size
//! (`check_layout`), the decoder runs inside `guard::contain`, and points are read in chunks so
//! memory grows with what actually decodes, never with what a header claims.

mod area;
pub mod copc;
mod copc_write;
mod corridor;
mod header;
mod overview;
mod write;

use super::extra_bytes::ExtraLayout;
use super::{guard, IoError, Result};
use crate::cloud::{origin_for, Bounds, Crs, PointCloud, ScalarField};
pub use area::{contains, expand, files_in, is_many, meets, read_area, Area};
pub use copc_write::{write_copc, CopcOptions, CopcWritten};
pub use corridor::{read_corridor, Corridor};
pub use header::Chunk;
use header::*;
use las::{PointData, PointDataBuilder, Reader, ReaderOptions};
pub use overview::{read_overview, OVERVIEW_POINTS};
use serde::Serialize;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
pub use write::{write, WriteOptions};

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
    /// LAZ: its chunks, from the chunk table (empty for LAS).
    #[serde(skip)]
    pub chunks: Vec<Chunk>,
    /// Where the point records start.
    #[serde(skip)]
    pub data_offset: u64,
    pub warnings: Vec<String>,
}

impl LasHeader {
    /// The standard per-point dimensions of this point format, in LAS names.
    pub fn dimension_names(&self) -> Vec<String> {
        let mut v: Vec<String> = [
            "X",
            "Y",
            "Z",
            "Intensity",
            "ReturnNumber",
            "NumberOfReturns",
            "Classification",
            "ScanAngle",
            "UserData",
            "PointSourceId",
        ]
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
    pub const ALL: Fields = Fields {
        intensity: true,
        returns: true,
        classification: true,
        gps_time: true,
        rgb: true,
        extra: true,
    };
    pub const POSITIONS: Fields = Fields {
        intensity: false,
        returns: false,
        classification: false,
        gps_time: false,
        rgb: false,
        extra: false,
    };
    /// These fields, plus the classification when `on` (what `--ground` needs).
    pub const fn with_classes(self, on: bool) -> Fields {
        Fields {
            classification: self.classification || on,
            ..self
        }
    }

    fn selection(&self) -> laz::DecompressionSelection {
        use laz::DecompressionSelection as S;
        if *self == Fields::ALL {
            // Every layer, scan angle, user data and point source too: whole records.
            return S::all();
        }
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
    /// LAZ: how the points are compressed (COPC nodes are decoded from it directly).
    vlr: Option<laz::LazVlr>,
    /// The file's (E)VLRs as las-rs read them (what a COPC export carries over).
    pub(crate) vlrs: Vec<las::Vlr>,
}

impl LasReader {
    pub fn open(path: &Path) -> Result<LasReader> {
        LasReader::open_with(path, Fields::ALL)
    }

    pub fn open_with(path: &Path, fields: Fields) -> Result<LasReader> {
        let (header, head) = check_layout(path)?;
        let file = File::open(path).map_err(|e| IoError::io(path, e))?;
        let mut patched = PatchedFile {
            inner: BufReader::with_capacity(1 << 20, file),
            head,
            pos: 0,
        };
        let pts = |e: String| IoError::Points {
            path: path.to_path_buf(),
            reason: e,
        };
        let mut laz_vlr = None;
        let (source, las_header) = if header.compressed {
            // Same steps as las-rs's parallel LAZ reader, plus the field selection.
            let h = guard::contain(|| las::Header::new(&mut patched))
                .map_err(pts)?
                .map_err(|e| corrupt(path, e.to_string()))?;
            let vlr = h.laz_vlr().map_err(|e| corrupt(path, e.to_string()))?;
            laz_vlr = Some(vlr.clone());
            let dec = guard::contain(|| {
                laz::ParLasZipDecompressor::selective(patched, vlr, fields.selection())
            })
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
        let vlrs = las_header
            .vlrs()
            .iter()
            .chain(las_header.evlrs())
            .cloned()
            .collect();
        let mut format = *las_header.point_format();
        format.is_compressed = false;
        let transforms = *las_header.transforms();
        let data = PointDataBuilder::new()
            .with_format(format)
            .with_transforms(transforms)
            .build();
        Ok(LasReader {
            header,
            source,
            fields,
            data,
            read_so_far: 0,
            vlr: laz_vlr,
            vlrs,
        })
    }

    /// Decodes the next chunk of at most `max` points into `out` (appending). Returns how many
    /// points were added; 0 at the end.
    pub fn read_chunk(&mut self, max: u64, out: &mut PointCloud) -> Result<usize> {
        let n = self.decode(max)?;
        if n > 0 {
            append(&self.header, &self.data, self.fields, out);
        }
        Ok(n)
    }

    /// Decodes the next chunk of at most `max` points and gives its records as stored (the
    /// file's point format, uncompressed); None at the end. For writers that keep every byte.
    pub fn read_records(&mut self, max: u64) -> Result<Option<&PointData>> {
        Ok((self.decode(max)? > 0).then_some(&self.data))
    }

    fn decode(&mut self, max: u64) -> Result<usize> {
        let left = self.header.point_count - self.read_so_far;
        if left == 0 {
            return Ok(0);
        }
        let path = self.header.path.clone();
        let want = left.min(max);
        let data = &mut self.data;
        let n = match &mut self.source {
            Source::Las(reader) => guard::contain(|| reader.fill_points(want, data))
                .map_err(|e| IoError::Points {
                    path: path.clone(),
                    reason: e,
                })?
                .map_err(|e| las_err(&path, e))?,
            Source::Laz(dec) => {
                let n = usize::try_from(want).map_err(|_| IoError::Points {
                    path: path.clone(),
                    reason: "chunk too large".into(),
                })?;
                let buf = data.resize_for(n);
                guard::contain(|| dec.decompress_many(buf))
                    .map_err(|e| IoError::Points {
                        path: path.clone(),
                        reason: e,
                    })?
                    .map_err(|e| IoError::Points {
                        path: path.clone(),
                        reason: format!("LAZ data: {e}"),
                    })?;
                want
            }
        };
        if n == 0 {
            return Err(IoError::Points {
                path,
                reason: format!(
                    "file ends after {} of {} points",
                    self.read_so_far, self.header.point_count
                ),
            });
        }
        self.read_so_far += n;
        Ok(n as usize)
    }

    pub fn points_read(&self) -> u64 {
        self.read_so_far
    }

    /// Decodes LAZ chunks stored one after another from `byte_offset` (`chunks`: points and
    /// bytes of each; COPC nodes) and appends their points to `out`. The number of points added.
    pub fn read_nodes(
        &mut self,
        byte_offset: u64,
        chunks: &[(u64, u64)],
        out: &mut PointCloud,
    ) -> Result<usize> {
        let mut at = byte_offset;
        let list: Vec<Chunk> = chunks
            .iter()
            .map(|&(points, bytes)| {
                let c = Chunk {
                    offset: at,
                    points,
                    bytes,
                };
                at = at.saturating_add(bytes);
                c
            })
            .collect();
        self.read_chunks(&list, out)
    }

    /// Decodes LAZ chunks anywhere in the file (each read from its offset, adjacent ones in
    /// one read) and appends their points to `out`, in parallel and with the field selection
    /// of a whole read. A chunk whose `points` is less than it holds gives its first points
    /// (a chunk decodes from its start: the overview reads prefixes). The number of points added.
    pub fn read_chunks(&mut self, chunks: &[Chunk], out: &mut PointCloud) -> Result<usize> {
        use std::io::{Read, Seek, SeekFrom};
        let path = self.header.path.clone();
        let fail = |reason: String| IoError::Points {
            path: path.clone(),
            reason,
        };
        let vlr = self.vlr.as_ref().ok_or_else(|| fail("not LAZ".into()))?;
        let mut points = 0u64;
        let mut bytes = 0u64;
        for c in chunks {
            let end = c
                .offset
                .checked_add(c.bytes)
                .ok_or_else(|| fail("bad chunk".into()))?;
            if end > self.header.file_size {
                return Err(fail(format!(
                    "chunk bytes {}..{end} outside the file",
                    c.offset
                )));
            }
            points = points.saturating_add(c.points);
            bytes += c.bytes;
        }
        if points > self.header.point_count {
            return Err(fail(format!(
                "{points} points asked of {}",
                self.header.point_count
            )));
        }
        let mut compressed = vec![0u8; bytes as usize];
        let mut f = File::open(&path).map_err(|e| IoError::io(&path, e))?;
        let (mut k, mut filled) = (0, 0usize);
        while k < chunks.len() {
            // A run of adjacent chunks: one seek, one read.
            let mut end = k + 1;
            while end < chunks.len()
                && chunks[end - 1].offset + chunks[end - 1].bytes == chunks[end].offset
            {
                end += 1;
            }
            let len: u64 = chunks[k..end].iter().map(|c| c.bytes).sum();
            let dst = &mut compressed[filled..filled + len as usize];
            f.seek(SeekFrom::Start(chunks[k].offset))
                .and_then(|_| f.read_exact(dst))
                .map_err(|e| IoError::io(&path, e))?;
            filled += len as usize;
            k = end;
        }
        let table: Vec<laz::laszip::ChunkTableEntry> = chunks
            .iter()
            .map(|c| laz::laszip::ChunkTableEntry {
                point_count: c.points,
                byte_count: c.bytes,
            })
            .collect();
        let n = points as usize;
        let buf = self.data.resize_for(n);
        let selection = self.fields.selection();
        guard::contain(|| laz::par_decompress_selective(&compressed, buf, vlr, &table, selection))
            .map_err(fail)?
            .map_err(|e| fail(format!("LAZ data: {e}")))?;
        self.read_so_far += points;
        append(&self.header, &self.data, self.fields, out);
        Ok(n)
    }

    /// LAS: the records of `blocks` (first record, count; within the file) appended to `out`,
    /// as stored (the overview's strided blocks). The number of points added.
    pub fn read_blocks(&mut self, blocks: &[(u64, u64)], out: &mut PointCloud) -> Result<usize> {
        use std::io::{Read, Seek, SeekFrom};
        let path = self.header.path.clone();
        let (total, len) = (self.header.point_count, self.data.record_len() as u64);
        if self.header.compressed || blocks.iter().any(|b| b.0.saturating_add(b.1) > total) {
            return Err(IoError::Points {
                path,
                reason: "records outside the file".into(),
            });
        }
        let n: u64 = blocks.iter().map(|b| b.1).sum();
        let buf = self.data.resize_for(n as usize);
        let mut f = File::open(&path).map_err(|e| IoError::io(&path, e))?;
        let mut at = 0usize;
        for &(start, count) in blocks {
            let bytes = (count * len) as usize;
            f.seek(SeekFrom::Start(self.header.data_offset + start * len))
                .and_then(|_| f.read_exact(&mut buf[at..at + bytes]))
                .map_err(|e| IoError::io(&path, e))?;
            at += bytes;
        }
        append(&self.header, &self.data, self.fields, out);
        Ok(n as usize)
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
            0 => Offsets {
                legacy: true,
                gps: None,
                rgb: None,
            },
            1 | 4 => Offsets {
                legacy: true,
                gps: Some(20),
                rgb: None,
            },
            2 => Offsets {
                legacy: true,
                gps: None,
                rgb: Some(20),
            },
            3 | 5 => Offsets {
                legacy: true,
                gps: Some(20),
                rgb: Some(28),
            },
            6 | 9 => Offsets {
                legacy: false,
                gps: Some(22),
                rgb: None,
            },
            _ => Offsets {
                legacy: false,
                gps: Some(22),
                rgb: Some(30),
            },
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

    let mut blocks: Vec<Block> = out.positions[start..]
        .chunks_mut(B)
        .map(|pos| Block {
            pos,
            intensity: None,
            ret: None,
            class: None,
            gps: None,
            rgb: None,
        })
        .collect();
    for (b, s) in blocks.iter_mut().zip(split(&mut out.intensity, start, B)) {
        b.intensity = s;
    }
    let rn = split(&mut out.return_number, start, B);
    let nr = split(&mut out.number_of_returns, start, B);
    for (b, (r, m)) in blocks.iter_mut().zip(rn.into_iter().zip(nr)) {
        b.ret = r.zip(m);
    }
    for (b, s) in blocks
        .iter_mut()
        .zip(split(&mut out.classification, start, B))
    {
        b.class = s;
    }
    for (b, s) in blocks.iter_mut().zip(split(&mut out.gps_time, start, B)) {
        b.gps = s;
    }
    for (b, s) in blocks.iter_mut().zip(split(&mut out.rgb, start, B)) {
        b.rgb = s;
    }
    let u16_at = |r: &[u8], i: usize| u16::from_le_bytes([r[i], r[i + 1]]);
    blocks
        .into_par_iter()
        .zip(pd.raw_bytes().par_chunks(rec * B))
        .for_each(|(mut b, src)| {
            for (i, r) in src.chunks_exact(rec).enumerate() {
                let raw = |k: usize| {
                    i32::from_le_bytes([r[4 * k], r[4 * k + 1], r[4 * k + 2], r[4 * k + 3]])
                };
                b.pos[i] = [
                    (t.x.direct(raw(0)) - o[0]) as f32,
                    (t.y.direct(raw(1)) - o[1]) as f32,
                    (t.z.direct(raw(2)) - o[2]) as f32,
                ];
                if let Some(v) = b.intensity.as_deref_mut() {
                    v[i] = u16_at(r, 12);
                }
                if let Some((rn, nr)) = b.ret.as_mut() {
                    let byte = r[14];
                    (rn[i], nr[i]) = if off.legacy {
                        (byte & 7, (byte >> 3) & 7)
                    } else {
                        (byte & 15, byte >> 4)
                    };
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
                    out.scalars.push(ScalarField {
                        name: d.name.clone(),
                        values: Vec::new(),
                        description: d.description.clone(),
                    });
                    let last = out.scalars.len() - 1;
                    &mut out.scalars[last]
                }
            };
            field.values.resize(start, f32::NAN);
            field
                .values
                .extend(pd.raw_bytes().chunks_exact(rec).map(|r| d.decode(&r[xs..])));
        }
    }
}

fn extra_len(h: &LasHeader) -> usize {
    let base = las::point::Format::new(h.point_format)
        .map(|f| f.len())
        .unwrap_or(0);
    usize::from(h.record_length.saturating_sub(base))
}

/// Reads a whole file into memory.
pub fn read(path: &Path) -> Result<Loaded> {
    read_with(path, Fields::ALL, |_, _| true)
}

/// Reads a whole file with the chosen attributes, calling `progress(points_read, total)` after
/// each chunk; the read stops with `IoError::Cancelled` when it returns false.
pub fn read_with(
    path: &Path,
    fields: Fields,
    mut progress: impl FnMut(u64, u64) -> bool,
) -> Result<Loaded> {
    read_streaming(path, fields, |done, total, _| progress(done, total))
}

/// `read_with` that also shows `progress` the points read so far (a viewer draws them while
/// the rest is read).
pub fn read_streaming(
    path: &Path,
    fields: Fields,
    mut progress: impl FnMut(u64, u64, &PointCloud) -> bool,
) -> Result<Loaded> {
    let mut r = LasReader::open_with(path, fields)?;
    let h = r.header.clone();
    let mut warnings = h.warnings.clone();
    let mut origin = origin_for(&h.bounds);
    let header_bounds_ok = h
        .bounds
        .min
        .iter()
        .chain(h.bounds.max.iter())
        .all(|v| v.is_finite() && v.abs() < 1e12);
    if !header_bounds_ok {
        origin = [0.0; 3];
    }
    let mut cloud = PointCloud::with_origin(origin);
    cloud.crs = h.crs.clone();
    // Reserve what the file can plausibly hold, never what the header merely claims.
    // (LAS: the count was checked against the file size. LAZ: a count cannot be checked before
    // decoding, so reserve a bounded amount and let the vectors grow with what decodes.)
    let plausible = if h.compressed {
        h.point_count.min(h.file_size / 2).min(1 << 24)
    } else {
        h.point_count
    };
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
                    warnings.push(
                        "header bounds do not match the points; using the points' own".into(),
                    );
                }
                let new_origin = origin_for(&b);
                cloud.rebase(new_origin);
                origin = new_origin;
            }
        }
        if !progress(r.points_read(), total, &cloud) {
            return Err(IoError::Cancelled);
        }
    }
    let _ = origin;
    if !cloud.is_empty() && header_bounds_ok {
        let b = cloud.bounds();
        let tol =
            [0, 1, 2].map(|k| h.scale[k].abs() + 1e-9 * b.max[k].abs().max(b.min[k].abs()) + 1e-6);
        let off = (0..3).any(|k| {
            (b.min[k] - h.bounds.min[k]).abs() > tol[k]
                || (b.max[k] - h.bounds.max[k]).abs() > tol[k]
        });
        if off {
            warnings.push(format!(
                "header bounds differ from the points' bounds ({:.3} {:.3} {:.3} .. {:.3} {:.3} {:.3})",
                b.min[0], b.min[1], b.min[2], b.max[0], b.max[1], b.max[2]
            ));
        }
    }
    let bad = cloud
        .positions
        .iter()
        .filter(|p| !p.iter().all(|v| v.is_finite()))
        .count();
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
        warnings.push(format!(
            "{} undocumented extra bytes per point were not decoded",
            h.extra.undocumented_bytes
        ));
    }
    if h.point_count == 0 {
        warnings.push("file has no points".into());
    }
    Ok(Loaded {
        cloud,
        header: h,
        warnings,
    })
}
