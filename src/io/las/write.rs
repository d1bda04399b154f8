//! Writing LAS 1.4 / LAZ: point format 6 (7 with RGB), scalar fields as f32 extra bytes, the
//! CRS as a WKT VLR; through a temporary file renamed into place.

use crate::cloud::{PointCloud, ScalarField};
use crate::io::{extra_bytes, IoError, Result};
use las::PointDataBuilder;
use std::path::Path;

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
        WriteOptions {
            scale: [0.001; 3],
            fields: None,
            system_identifier: "Kizashi".into(),
            date: None,
        }
    }
}

/// Writes LAS 1.4 (point format 6, or 7 with RGB) or, for a `.laz` path, LAZ; every scalar
/// field as an f32 extra-bytes dimension; the CRS as a WKT VLR.
pub fn write(path: &Path, cloud: &PointCloud, opts: &WriteOptions) -> Result<()> {
    let werr = |reason: String| IoError::Write {
        path: path.to_path_buf(),
        reason,
    };
    let laz = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("laz"));
    let fields: Vec<&ScalarField> = match &opts.fields {
        None => cloud.scalars.iter().collect(),
        Some(names) => names
            .iter()
            .map(|n| {
                cloud
                    .scalar(n)
                    .ok_or_else(|| werr(format!("no field named {n}")))
            })
            .collect::<Result<_>>()?,
    };
    for s in &fields {
        if s.values.len() != cloud.len() {
            return Err(werr(format!(
                "field {} has {} values for {} points",
                s.name,
                s.values.len(),
                cloud.len()
            )));
        }
    }
    let n_extra = fields.len();
    let format_id = if cloud.rgb.is_some() { 7 } else { 6 };
    let mut format = las::point::Format::new(format_id).map_err(|e| werr(e.to_string()))?;
    format.extra_bytes = u16::try_from(4 * n_extra).map_err(|_| werr("too many fields".into()))?;
    format.is_compressed = laz;

    let b = cloud.bounds();
    // Offsets on a whole multiple of the scale near the data keep every i32 small and exact.
    let offset = if b.is_empty() {
        [0.0; 3]
    } else {
        [0, 1, 2].map(|k| (b.min[k] / opts.scale[k]).floor() * opts.scale[k])
    };
    if !b.is_empty() {
        for k in 0..3 {
            let span = (b.max[k] - offset[k]) / opts.scale[k];
            if !span.is_finite() || span > f64::from(i32::MAX) {
                return Err(werr(format!(
                    "coordinates span too much for scale {} on axis {k}",
                    opts.scale[k]
                )));
            }
        }
    }
    let mut builder = las::Builder::from((1, 4));
    builder.point_format = format;
    builder.system_identifier = opts.system_identifier.clone();
    builder.generating_software = format!("Kizashi {}", env!("CARGO_PKG_VERSION"));
    builder.date = Some(opts.date.unwrap_or_else(|| chrono::Utc::now().date_naive()));
    builder.transforms = las::Vector {
        x: las::Transform {
            scale: opts.scale[0],
            offset: offset[0],
        },
        y: las::Transform {
            scale: opts.scale[1],
            offset: offset[1],
        },
        z: las::Transform {
            scale: opts.scale[2],
            offset: offset[2],
        },
    };
    if n_extra > 0 {
        let mut data = Vec::with_capacity(192 * n_extra);
        for s in &fields {
            data.extend_from_slice(&extra_bytes::f32_descriptor(&s.name, &s.description));
        }
        builder.vlrs.push(las::Vlr {
            user_id: extra_bytes::VLR_USER.into(),
            record_id: extra_bytes::VLR_RECORD,
            description: "Extra Bytes".into(),
            data,
        });
    }
    let mut header = builder.into_header().map_err(|e| werr(e.to_string()))?;
    if let Some(c) = &cloud.crs {
        header
            .set_wkt_crs(c.wkt.as_bytes().to_vec())
            .map_err(|e| werr(format!("CRS: {e}")))?;
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
        let rn = cloud
            .return_number
            .as_ref()
            .map_or(1, |v| v[i].clamp(1, 15));
        let nr = cloud
            .number_of_returns
            .as_ref()
            .map_or(1, |v| v[i].clamp(1, 15));
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
    let pd = PointDataBuilder::new()
        .for_header(&header)
        .build_from_bytes(bytes)
        .map_err(|e| werr(e.to_string()))?;
    crate::io::safe::write_file(path, |tmp| {
        let mut writer = las::Writer::from_path(tmp, header).map_err(|e| werr(e.to_string()))?;
        writer.write_points(&pd).map_err(|e| werr(e.to_string()))?;
        writer.close().map_err(|e| werr(e.to_string()))
    })
}
