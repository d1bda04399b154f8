//! LAS "extra bytes" dimensions (LAS 1.4 R15, section 2.5, Extra Bytes VLR: user
//! `LASF_Spec`, record 4, 192-byte descriptors). las-rs keeps extra bytes as raw bytes per
//! point and leaves their meaning to the caller, so the descriptor is parsed here.

/// Extra Bytes VLR: user id and record id.
pub const VLR_USER: &str = "LASF_Spec";
pub const VLR_RECORD: u16 = 4;
const DESCRIPTOR_LEN: usize = 192;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueType {
    U8,
    I8,
    U16,
    I16,
    U32,
    I32,
    U64,
    I64,
    F32,
    F64,
}

impl ValueType {
    fn size(self) -> usize {
        match self {
            ValueType::U8 | ValueType::I8 => 1,
            ValueType::U16 | ValueType::I16 => 2,
            ValueType::U32 | ValueType::I32 | ValueType::F32 => 4,
            ValueType::U64 | ValueType::I64 | ValueType::F64 => 8,
        }
    }

    fn from_code(code: u8) -> Option<(ValueType, usize)> {
        let (base, count) = match code {
            1..=10 => (code, 1),
            11..=20 => (code - 10, 2),
            21..=30 => (code - 20, 3),
            _ => return None,
        };
        let t = match base {
            1 => ValueType::U8,
            2 => ValueType::I8,
            3 => ValueType::U16,
            4 => ValueType::I16,
            5 => ValueType::U32,
            6 => ValueType::I32,
            7 => ValueType::U64,
            8 => ValueType::I64,
            9 => ValueType::F32,
            _ => ValueType::F64,
        };
        Some((t, count))
    }

    /// Reads one value; `b` has exactly `size()` bytes.
    fn read(self, b: &[u8]) -> f64 {
        match self {
            ValueType::U8 => f64::from(b[0]),
            ValueType::I8 => f64::from(b[0] as i8),
            ValueType::U16 => f64::from(u16::from_le_bytes([b[0], b[1]])),
            ValueType::I16 => f64::from(i16::from_le_bytes([b[0], b[1]])),
            ValueType::U32 => f64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            ValueType::I32 => f64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            ValueType::F32 => f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            ValueType::U64 => u64::from_le_bytes(b[..8].try_into().unwrap_or([0; 8])) as f64,
            ValueType::I64 => i64::from_le_bytes(b[..8].try_into().unwrap_or([0; 8])) as f64,
            ValueType::F64 => f64::from_le_bytes(b[..8].try_into().unwrap_or([0; 8])),
        }
    }

    /// Reads a no-data / min / max slot, which stores integers as 8-byte u64/i64 and floats as f64.
    fn read_slot(self, b: &[u8]) -> f64 {
        let a: [u8; 8] = b[..8].try_into().unwrap_or([0; 8]);
        match self {
            ValueType::U8 | ValueType::U16 | ValueType::U32 | ValueType::U64 => {
                u64::from_le_bytes(a) as f64
            }
            ValueType::I8 | ValueType::I16 | ValueType::I32 | ValueType::I64 => {
                i64::from_le_bytes(a) as f64
            }
            ValueType::F32 | ValueType::F64 => f64::from_le_bytes(a),
        }
    }
}

/// One decodable scalar inside a point record's extra bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct ExtraDim {
    pub name: String,
    pub description: String,
    pub value_type: ValueType,
    /// Byte offset inside the extra-bytes block of a record.
    pub offset: usize,
    pub scale: f64,
    pub add: f64,
    pub no_data: Option<f64>,
}

impl ExtraDim {
    /// Decodes this dimension from a record's extra-bytes block (NaN for no-data).
    #[inline]
    pub fn decode(&self, extra: &[u8]) -> f32 {
        let n = self.value_type.size();
        let raw = self.value_type.read(&extra[self.offset..self.offset + n]);
        if self.no_data == Some(raw) {
            return f32::NAN;
        }
        (raw * self.scale + self.add) as f32
    }

    pub fn type_name(&self) -> &'static str {
        match self.value_type {
            ValueType::U8 => "u8",
            ValueType::I8 => "i8",
            ValueType::U16 => "u16",
            ValueType::I16 => "i16",
            ValueType::U32 => "u32",
            ValueType::I32 => "i32",
            ValueType::U64 => "u64",
            ValueType::I64 => "i64",
            ValueType::F32 => "f32",
            ValueType::F64 => "f64",
        }
    }
}

/// The layout of the extra bytes of every record, from the VLR (if any) and the number of
/// extra bytes the header's record length leaves after the standard fields.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExtraLayout {
    pub dims: Vec<ExtraDim>,
    /// Bytes not described by any descriptor (kept as unnamed, not decoded).
    pub undocumented_bytes: usize,
    pub warnings: Vec<String>,
}

fn c_string(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).trim().to_string()
}

/// Parses the descriptors in `vlr_data` against `extra_len` bytes per record.
/// `vlr_data` is `None` when the file has extra bytes but no descriptor VLR.
pub fn parse(vlr_data: Option<&[u8]>, extra_len: usize) -> ExtraLayout {
    let mut out = ExtraLayout::default();
    let Some(data) = vlr_data else {
        out.undocumented_bytes = extra_len;
        return out;
    };
    if data.len() % DESCRIPTOR_LEN != 0 {
        out.warnings.push(format!(
            "extra-bytes VLR is {} bytes, not a multiple of {DESCRIPTOR_LEN}; trailing bytes ignored",
            data.len()
        ));
    }
    let mut offset = 0usize;
    let mut seen: Vec<String> = Vec::new();
    for d in data.chunks_exact(DESCRIPTOR_LEN) {
        let code = d[2];
        let options = d[3];
        let base_name = c_string(&d[4..36]);
        let description = c_string(&d[160..192]);
        if code == 0 {
            // Undocumented bytes: `options` holds their count.
            offset += usize::from(options);
            continue;
        }
        let Some((vt, count)) = ValueType::from_code(code) else {
            out.warnings.push(format!(
                "extra-bytes dimension '{base_name}' has unknown data type {code}; rest ignored"
            ));
            break;
        };
        let size = vt.size() * count;
        if offset + size > extra_len {
            out.warnings.push(format!(
                "extra-bytes descriptors describe more bytes than the {extra_len} each record has; '{base_name}' and later ignored"
            ));
            break;
        }
        for k in 0..count {
            let slot = |start: usize| start + 8 * k;
            let no_data = (options & 1 != 0).then(|| vt.read_slot(&d[slot(40)..slot(40) + 8]));
            let scale = if options & 8 != 0 {
                f64::from_le_bytes(d[slot(112)..slot(112) + 8].try_into().unwrap_or([0; 8]))
            } else {
                1.0
            };
            let add = if options & 16 != 0 {
                f64::from_le_bytes(d[slot(136)..slot(136) + 8].try_into().unwrap_or([0; 8]))
            } else {
                0.0
            };
            let mut name = if count == 1 {
                base_name.clone()
            } else {
                format!("{base_name}_{k}")
            };
            if name.is_empty() {
                name = format!("extra_{offset}");
            }
            while seen.contains(&name) {
                name.push('_');
            }
            seen.push(name.clone());
            out.dims.push(ExtraDim {
                name,
                description: description.clone(),
                value_type: vt,
                offset: offset + k * vt.size(),
                scale: if scale.is_finite() && scale != 0.0 {
                    scale
                } else {
                    1.0
                },
                add: if add.is_finite() { add } else { 0.0 },
                no_data,
            });
        }
        offset += size;
    }
    out.undocumented_bytes = extra_len.saturating_sub(offset);
    out
}

/// One f32 descriptor, as we write them for computed fields (`m3c2_distance`, ...).
pub fn f32_descriptor(name: &str, description: &str) -> [u8; DESCRIPTOR_LEN] {
    let mut d = [0u8; DESCRIPTOR_LEN];
    d[2] = 9; // float
    let n = name.as_bytes();
    d[4..4 + n.len().min(32)].copy_from_slice(&n[..n.len().min(32)]);
    let t = description.as_bytes();
    d[160..160 + t.len().min(32)].copy_from_slice(&t[..t.len().min(32)]);
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_scaled_and_array_dims() {
        let mut vlr = Vec::new();
        let mut d = f32_descriptor("height", "m");
        vlr.extend_from_slice(&d);
        // u16 x3 array "rgbx", scaled by 0.5 with offset 10 on every element.
        d = [0u8; DESCRIPTOR_LEN];
        d[2] = 23;
        d[3] = 8 | 16;
        d[4..8].copy_from_slice(b"rgbx");
        for k in 0..3 {
            d[112 + 8 * k..120 + 8 * k].copy_from_slice(&0.5f64.to_le_bytes());
            d[136 + 8 * k..144 + 8 * k].copy_from_slice(&10f64.to_le_bytes());
        }
        vlr.extend_from_slice(&d);
        let layout = parse(Some(&vlr), 4 + 6 + 2);
        assert_eq!(layout.dims.len(), 4);
        assert_eq!(layout.undocumented_bytes, 2);
        let mut rec = Vec::new();
        rec.extend_from_slice(&1.5f32.to_le_bytes());
        for v in [2u16, 4, 6] {
            rec.extend_from_slice(&v.to_le_bytes());
        }
        rec.extend_from_slice(&[0, 0]);
        let vals: Vec<f32> = layout.dims.iter().map(|d| d.decode(&rec)).collect();
        assert_eq!(vals, vec![1.5, 11.0, 12.0, 13.0]);
        assert_eq!(layout.dims[2].name, "rgbx_1");
    }

    #[test]
    fn descriptors_longer_than_record_are_cut() {
        let vlr = [f32_descriptor("a", ""), f32_descriptor("b", "")].concat();
        let layout = parse(Some(&vlr), 4);
        assert_eq!(layout.dims.len(), 1);
        assert_eq!(layout.warnings.len(), 1);
    }
}
