//! Writing COPC 1.0 (`kizashi export copc`): any LAS/LAZ/COPC in, a LAS 1.4 LAZ out whose
//! chunks are the nodes of an octree, with the hierarchy in an EVLR, so that viewers and
//! PDAL/QGIS read only the nodes they need.
//!
//! Every record keeps every byte (intensity, returns, flags, scan angle, user data, point
//! source, GPS time, RGB/NIR, extra bytes) and its integer coordinates with the input's scale
//! and offset. Point formats 0-5 become 6/7 (the COPC spec allows 6-8): fields are moved to
//! their 1.4 places, the scan angle rank to 0.006° steps; waveform packets are dropped.
//!
//! Nodes are sampled as untwine does: a node keeps the first point (in file order) of each
//! cell of a 128³ grid over its cube and passes the rest to its 8 children; a node with at
//! most `leaf_points` points keeps them all. The root spacing is the cube's edge / 128.
//!
//! Written by hand rather than with `copc-rs` 0.5: that crate brings las 0.9 / laz 0.9 beside
//! our 0.11 / 0.13, compresses on one thread, fills nodes at random (outputs differ from run
//! to run) and refuses files whose CRS it cannot turn into an EPSG code. Here the chunks are
//! compressed in parallel with laz-rs, the output is reproducible, and the CRS is the one the
//! reader found (WKT or GeoTIFF keys).

use super::{header::las_err, Fields, LasReader, CHUNK_POINTS};
use crate::io::{IoError, Result};
use rayon::prelude::*;
use std::io::{Cursor, Seek, SeekFrom, Write};
use std::path::Path;

/// Cells per side of a node's sampling grid (untwine's and PDAL's choice).
const GRID: u32 = 128;
/// Nodes no deeper than this; deeper points (duplicates) stay in the deepest node.
const MAX_DEPTH: i32 = 24;

/// How to build the octree.
#[derive(Clone, Copy, Debug)]
pub struct CopcOptions {
    /// A node with at most this many points keeps them all (no children).
    pub leaf_points: usize,
}

impl Default for CopcOptions {
    fn default() -> Self {
        CopcOptions {
            leaf_points: 100_000,
        }
    }
}

/// What was written.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct CopcWritten {
    pub points: u64,
    pub nodes: usize,
    pub depth: i32,
    /// Point spacing at the root (CRS units), halved at each level.
    pub spacing: f64,
    pub point_format: u8,
    pub bytes: u64,
    pub warnings: Vec<String>,
}

/// Record layout: base length of a point format (without extra bytes).
fn base_len(format: u8) -> usize {
    [20, 28, 26, 34, 57, 63, 30, 36, 38, 59, 67][format as usize]
}

/// Moves one record of `src_format` into the 1.4 layout of `dst_format` (6, 7 or 8).
fn convert(src: &[u8], src_format: u8, extra: usize, dst: &mut [u8], dst_format: u8) {
    let (sb, db) = (base_len(src_format), base_len(dst_format));
    if src_format >= 6 {
        let common = db.min(sb).min(if src_format == 9 { 30 } else { 38 });
        dst[..common].copy_from_slice(&src[..common]);
    } else {
        dst[..14].copy_from_slice(&src[..14]);
        let (b, c) = (src[14], src[15]);
        dst[14] = (b & 7) | (((b >> 3) & 7) << 4);
        // synthetic, key-point, withheld; scan direction and edge of flight line.
        dst[15] = ((c >> 5) & 7) | (((b >> 6) & 1) << 6) | (((b >> 7) & 1) << 7);
        dst[16] = c & 31;
        dst[17] = src[17];
        let angle = ((src[16] as i8) as f64 / 0.006).round() as i16;
        dst[18..20].copy_from_slice(&angle.to_le_bytes());
        dst[20..22].copy_from_slice(&src[18..20]);
        if matches!(src_format, 1 | 3 | 4 | 5) {
            dst[22..30].copy_from_slice(&src[20..28]);
        }
        match src_format {
            2 => dst[30..36].copy_from_slice(&src[20..26]),
            3 | 5 => dst[30..36].copy_from_slice(&src[28..34]),
            _ => {}
        }
    }
    dst[db..db + extra].copy_from_slice(&src[sb..sb + extra]);
}

/// The octree's cube: lowest corner and half edge (CRS units), and the records' transforms.
struct Cube {
    min: [f64; 3],
    half: f64,
    scale: [f64; 3],
    offset: [f64; 3],
}

impl Cube {
    fn world(&self, rec: &[u8]) -> [f64; 3] {
        [0, 1, 2].map(|k| {
            let q = i32::from_le_bytes(rec[4 * k..4 * k + 4].try_into().unwrap_or_default());
            f64::from(q) * self.scale[k] + self.offset[k]
        })
    }
}

/// Splits the points `idx` of node `key` (depth, x, y, z) into the nodes of its subtree.
fn build(
    cube: &Cube,
    recs: &[u8],
    len: usize,
    key: [i32; 4],
    idx: Vec<u32>,
    leaf: usize,
) -> Vec<([i32; 4], Vec<u32>)> {
    if idx.len() <= leaf || key[0] >= MAX_DEPTH {
        return vec![(key, idx)];
    }
    let size = 2.0 * cube.half / f64::from(1u32 << key[0]);
    let min = [1, 2, 3].map(|k| cube.min[k - 1] + f64::from(key[k]) * size);
    let cell = size / f64::from(GRID);
    let mut taken = vec![0u64; (GRID * GRID * GRID / 64) as usize];
    let mut own = Vec::new();
    let mut children: [Vec<u32>; 8] = Default::default();
    for i in idx {
        let p = cube.world(&recs[i as usize * len..]);
        let c = [0, 1, 2].map(|k| ((p[k] - min[k]) / cell).clamp(0.0, f64::from(GRID - 1)) as u32);
        let bit = ((c[2] * GRID + c[1]) * GRID + c[0]) as usize;
        if taken[bit / 64] & (1 << (bit % 64)) == 0 {
            taken[bit / 64] |= 1 << (bit % 64);
            own.push(i);
        } else {
            let o = [0, 1, 2].map(|k| usize::from(c[k] >= GRID / 2));
            children[o[0] | o[1] << 1 | o[2] << 2].push(i);
        }
    }
    let mut nodes = vec![(key, own)];
    let sub: Vec<_> = children
        .into_par_iter()
        .enumerate()
        .filter(|(_, v)| !v.is_empty())
        .flat_map_iter(|(o, v)| {
            let k = [
                key[0] + 1,
                2 * key[1] + (o & 1) as i32,
                2 * key[2] + (o >> 1 & 1) as i32,
                2 * key[3] + (o >> 2 & 1) as i32,
            ];
            build(cube, recs, len, k, v, leaf)
        })
        .collect();
    nodes.extend(sub);
    nodes
}

/// One LAZ chunk of the records `idx` (variable-size chunks: the node's own).
fn compress(vlr: &laz::LazVlr, recs: &[u8], len: usize, idx: &[u32]) -> std::io::Result<Vec<u8>> {
    let mut raw = Vec::with_capacity(idx.len() * len);
    for &i in idx {
        raw.extend_from_slice(&recs[i as usize * len..(i as usize + 1) * len]);
    }
    let mut c = laz::LasZipCompressor::new(Cursor::new(Vec::new()), vlr.clone())
        .map_err(std::io::Error::other)?;
    c.compress_many(&raw)?;
    c.finish_current_chunk()?;
    // The compressor starts with the 8-byte offset to its chunk table: not part of the chunk.
    Ok(c.into_inner().into_inner().split_off(8))
}

fn vlr_bytes(user: &str, record: u16, description: &str, data: &[u8], extended: bool) -> Vec<u8> {
    let mut b = vec![0u8; 2];
    let field = |s: &str, n: usize| {
        let mut f = s.as_bytes().to_vec();
        f.resize(n, 0);
        f
    };
    b.extend(field(user, 16));
    b.extend(record.to_le_bytes());
    if extended {
        b.extend((data.len() as u64).to_le_bytes());
    } else {
        b.extend((data.len() as u16).to_le_bytes());
    }
    b.extend(field(description, 32));
    b.extend_from_slice(data);
    b
}

/// COPC info VLR payload (160 bytes).
fn info(cube: &Cube, spacing: f64, hier: [u64; 2], gps: [f64; 2]) -> Vec<u8> {
    let mut b = Vec::with_capacity(160);
    let c = cube.min.map(|m| m + cube.half);
    for v in [c[0], c[1], c[2], cube.half, spacing] {
        b.extend(v.to_le_bytes());
    }
    b.extend(hier[0].to_le_bytes());
    b.extend(hier[1].to_le_bytes());
    b.extend(gps[0].to_le_bytes());
    b.extend(gps[1].to_le_bytes());
    b.resize(160, 0);
    b
}

/// Writes `input` (LAS/LAZ/COPC) as COPC to `output`, through a temporary file renamed into
/// place. `progress(step, done, total)` returns false to cancel.
pub fn write_copc(
    input: &Path,
    output: &Path,
    opts: &CopcOptions,
    progress: &mut dyn FnMut(&str, u64, u64) -> bool,
) -> Result<CopcWritten> {
    let werr = |reason: String| IoError::Write {
        path: output.to_path_buf(),
        reason,
    };
    let mut reader = LasReader::open_with(input, Fields::ALL)?;
    let h = reader.header.clone();
    let total = h.point_count;
    let mut warnings = Vec::new();
    if h.has_waveform {
        warnings.push("waveform packets are not carried into COPC (point format 6-8)".into());
    }
    let src_format = h.point_format;
    let dst_format = if h.has_nir {
        8
    } else if h.has_rgb {
        7
    } else {
        6
    };
    let extra = usize::from(h.record_length).saturating_sub(base_len(src_format));
    let len = base_len(dst_format) + extra;
    let mut recs: Vec<u8> = Vec::new();
    while let Some(pd) = reader.read_records(CHUNK_POINTS)? {
        let (src, sl) = (pd.raw_bytes(), pd.record_len());
        let at = recs.len();
        recs.resize(at + src.len() / sl * len, 0);
        recs[at..]
            .par_chunks_mut(len)
            .zip(src.par_chunks(sl))
            .for_each(|(d, s)| convert(s, src_format, extra, d, dst_format));
        if !progress("read", (recs.len() / len) as u64, total) {
            return Err(IoError::Cancelled);
        }
    }
    let n = recs.len() / len;
    if n == 0 || n > u32::MAX as usize {
        return Err(werr(format!("{n} points: COPC needs 1 to 4 G points")));
    }
    // Bounds, GPS time range and returns over the records.
    let mut cube = Cube {
        min: [0.0; 3],
        half: 0.0,
        scale: h.scale,
        offset: h.offset,
    };
    let (lo, hi, gps, by_return) = recs
        .par_chunks(len)
        .fold(
            || {
                (
                    [f64::MAX; 3],
                    [f64::MIN; 3],
                    [f64::MAX, f64::MIN],
                    [0u64; 15],
                )
            },
            |(mut lo, mut hi, mut g, mut r), rec| {
                let p = cube.world(rec);
                for k in 0..3 {
                    lo[k] = lo[k].min(p[k]);
                    hi[k] = hi[k].max(p[k]);
                }
                let t = f64::from_le_bytes(rec[22..30].try_into().unwrap_or_default());
                g = [g[0].min(t), g[1].max(t)];
                let ret = usize::from(rec[14] & 15);
                if (1..=15).contains(&ret) {
                    r[ret - 1] += 1;
                }
                (lo, hi, g, r)
            },
        )
        .reduce(
            || {
                (
                    [f64::MAX; 3],
                    [f64::MIN; 3],
                    [f64::MAX, f64::MIN],
                    [0u64; 15],
                )
            },
            |a, b| {
                let mut r = a.3;
                r.iter_mut().zip(b.3).for_each(|(x, y)| *x += y);
                (
                    [0, 1, 2].map(|k| a.0[k].min(b.0[k])),
                    [0, 1, 2].map(|k| a.1[k].max(b.1[k])),
                    [a.2[0].min(b.2[0]), a.2[1].max(b.2[1])],
                    r,
                )
            },
        );
    // A hair larger than the data, so that the maximum falls inside the last cell. The cube
    // starts at the data's minimum on every axis, as PDAL and untwine write it (copclib
    // places nodes from the header's minimum).
    cube.half = (0..3).map(|k| (hi[k] - lo[k]) / 2.0).fold(0.0, f64::max) * 1.000_001 + 1e-9;
    cube.min = lo;
    let spacing = 2.0 * cube.half / f64::from(GRID);
    if !progress("octree", 0, 1) {
        return Err(IoError::Cancelled);
    }
    let mut nodes = build(
        &cube,
        &recs,
        len,
        [0; 4],
        (0..n as u32).collect(),
        opts.leaf_points,
    );
    nodes.sort_by_key(|(k, _)| *k);
    let depth = nodes.iter().map(|(k, _)| k[0]).max().unwrap_or(0);

    // Header and VLRs: the COPC info first (the spec's offset 375), then LASzip, then the
    // input's other VLRs (extra-bytes descriptions...) and the CRS as WKT.
    let items = laz::LazItemRecordBuilder::default_for_point_format_id(dst_format, extra as u16)
        .map_err(|e| werr(e.to_string()))?;
    let laz_vlr = laz::LazVlrBuilder::new(items)
        .with_variable_chunk_size()
        .build();
    let mut laz_data = Vec::new();
    laz_vlr
        .write_to(&mut laz_data)
        .map_err(|e| werr(e.to_string()))?;
    let mut builder = las::Builder::from((1, 4));
    let mut format = las::point::Format::new(dst_format).map_err(|e| werr(e.to_string()))?;
    format.extra_bytes = extra as u16;
    format.is_compressed = true;
    builder.point_format = format;
    builder.system_identifier = h.system_identifier.clone();
    builder.generating_software = format!("Kizashi {}", env!("CARGO_PKG_VERSION"));
    builder.date = h.creation_date;
    builder.transforms = las::Vector {
        x: las::Transform {
            scale: h.scale[0],
            offset: h.offset[0],
        },
        y: las::Transform {
            scale: h.scale[1],
            offset: h.offset[1],
        },
        z: las::Transform {
            scale: h.scale[2],
            offset: h.offset[2],
        },
    };
    let mut vlrs: Vec<(String, u16, String, Vec<u8>)> = vec![
        (
            "copc".into(),
            1,
            "COPC info".into(),
            info(&cube, spacing, [0; 2], gps),
        ),
        ("laszip encoded".into(), 22204, "laz-rs".into(), laz_data),
    ];
    for v in &reader.vlrs {
        let user = v.user_id.to_lowercase();
        let skip = matches!(user.as_str(), "laszip encoded" | "copc" | "lasf_projection")
            || (user == "lasf_spec" && (100..355).contains(&v.record_id));
        if !skip && v.data.len() <= usize::from(u16::MAX) {
            vlrs.push((
                v.user_id.clone(),
                v.record_id,
                v.description.clone(),
                v.data.clone(),
            ));
        }
    }
    match &h.crs {
        Some(c) if c.wkt.len() <= usize::from(u16::MAX) => vlrs.push((
            "LASF_Projection".into(),
            2112,
            "WKT".into(),
            c.wkt.as_bytes().to_vec(),
        )),
        _ => warnings.push("the input has no CRS; the COPC file names none".into()),
    }
    let header = builder.into_header().map_err(|e| las_err(output, e))?;
    let mut raw = header.into_raw().map_err(|e| las_err(output, e))?;
    raw.global_encoding |= 16; // WKT
    raw.number_of_variable_length_records = vlrs.len() as u32;
    let vlr_len: usize = vlrs.iter().map(|v| 54 + v.3.len()).sum();
    raw.offset_to_point_data = u32::from(raw.header_size) + vlr_len as u32;
    (raw.min_x, raw.min_y, raw.min_z) = (lo[0], lo[1], lo[2]);
    (raw.max_x, raw.max_y, raw.max_z) = (hi[0], hi[1], hi[2]);
    raw.number_of_point_records = 0;
    raw.number_of_points_by_return = [0; 5];
    raw.large_file = Some(las::raw::header::LargeFile {
        number_of_point_records: n as u64,
        number_of_points_by_return: by_return,
    });
    let head = |raw: &las::raw::Header, vlrs: &[(String, u16, String, Vec<u8>)]| {
        let mut b = Vec::new();
        raw.write_to(&mut b).map_err(|e| las_err(output, e))?;
        for v in vlrs {
            b.extend(vlr_bytes(&v.0, v.1, &v.2, &v.3, false));
        }
        Ok::<_, IoError>(b)
    };
    raw.evlr = Some(las::raw::header::Evlr {
        start_of_first_evlr: 0,
        number_of_evlrs: 1,
    });

    let file_err = |e: std::io::Error| IoError::io(output, e);
    let bytes = crate::io::safe::write_file(output, |tmp| {
        let mut f = std::io::BufWriter::new(std::fs::File::create(tmp).map_err(file_err)?);
        let first = head(&raw, &vlrs)?;
        if first.len() != raw.offset_to_point_data as usize || first[375 + 2..375 + 6] != *b"copc" {
            return Err(werr("header layout".into()));
        }
        f.write_all(&first).map_err(file_err)?;
        let data_start = first.len() as u64;
        f.write_all(&0i64.to_le_bytes()).map_err(file_err)?;
        let mut at = data_start + 8;
        let mut table = laz::laszip::ChunkTable::with_capacity(nodes.len());
        let mut entries = Vec::with_capacity(nodes.len() * 32);
        let mut done = 0u64;
        // Batches of nodes compressed in parallel, written in order.
        for batch in nodes.chunks(64) {
            let chunks: Vec<std::io::Result<Vec<u8>>> = batch
                .par_iter()
                .map(|(_, idx)| compress(&laz_vlr, &recs, len, idx))
                .collect();
            for ((key, idx), c) in batch.iter().zip(chunks) {
                let c = c.map_err(file_err)?;
                f.write_all(&c).map_err(file_err)?;
                for v in key {
                    entries.extend(v.to_le_bytes());
                }
                entries.extend(at.to_le_bytes());
                entries.extend((c.len() as i32).to_le_bytes());
                entries.extend((idx.len() as i32).to_le_bytes());
                table.push(laz::laszip::ChunkTableEntry {
                    point_count: idx.len() as u64,
                    byte_count: c.len() as u64,
                });
                at += c.len() as u64;
                done += idx.len() as u64;
            }
            if !progress("write", done, n as u64) {
                return Err(IoError::Cancelled);
            }
        }
        let table_at = at;
        table.write_to(&mut f, &laz_vlr).map_err(file_err)?;
        let evlr_at = f.stream_position().map_err(file_err)?;
        f.write_all(&vlr_bytes("copc", 1000, "EPT hierarchy", &entries, true))
            .map_err(file_err)?;
        let end = f.stream_position().map_err(file_err)?;
        // Now that every offset is known: the header, the COPC info, the chunk table offset.
        raw.evlr = Some(las::raw::header::Evlr {
            start_of_first_evlr: evlr_at,
            number_of_evlrs: 1,
        });
        vlrs[0].3 = info(&cube, spacing, [evlr_at + 60, entries.len() as u64], gps);
        f.seek(SeekFrom::Start(0)).map_err(file_err)?;
        f.write_all(&head(&raw, &vlrs)?).map_err(file_err)?;
        f.seek(SeekFrom::Start(data_start)).map_err(file_err)?;
        f.write_all(&(table_at as i64).to_le_bytes())
            .map_err(file_err)?;
        f.flush().map_err(file_err)?;
        Ok::<_, IoError>(end)
    })?;
    Ok(CopcWritten {
        points: n as u64,
        nodes: nodes.len(),
        depth,
        spacing,
        point_format: dst_format,
        bytes,
        warnings,
    })
}
