//! Names of the fields a change result carries (LAS extra bytes, 3D Tiles properties, the
//! viewer's colour modes). One place, so a writer and its readers cannot drift apart.

/// M3C2 distance along the normal (m), NaN where a cylinder is empty.
pub const M3C2_DISTANCE: &str = "m3c2_distance";
/// Level of detection at 95 % (m).
pub const M3C2_LOD: &str = "m3c2_lod";
/// 1 where |distance| > LoD, else 0.
pub const M3C2_SIGNIFICANT: &str = "m3c2_significant";
pub const M3C2_SPREAD1: &str = "m3c2_spread1";
pub const M3C2_SPREAD2: &str = "m3c2_spread2";
pub const M3C2_N1: &str = "m3c2_n1";
pub const M3C2_N2: &str = "m3c2_n2";
/// The normal radius that won (most planar), m.
pub const M3C2_NORMAL_RADIUS: &str = "m3c2_normal_radius";
/// The M3C2 normal's components.
pub const NORMAL: [&str; 3] = ["normal_x", "normal_y", "normal_z"];
/// C2C: distance to the nearest epoch-2 point, and its vertical and horizontal parts (m).
pub const C2C_DISTANCE: &str = "c2c_distance";
pub const C2C_DZ: &str = "c2c_dz";
pub const C2C_DH: &str = "c2c_dh";
