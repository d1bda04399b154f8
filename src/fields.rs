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
/// Series: velocity along the normal (m/year) and its standard error.
pub const VELOCITY: &str = "velocity";
pub const VELOCITY_SE: &str = "velocity_se";
/// Series: acceleration along the normal (m/year^2, twice the quadratic term) and its error.
pub const ACCELERATION: &str = "acceleration";
pub const ACCELERATION_SE: &str = "acceleration_se";
/// Series: the first epoch of the movement, -1 = none.
pub const ONSET_INDEX: &str = "onset_index";
/// Series: that epoch's date as a decimal year, NaN = none.
pub const ONSET_YEAR: &str = "onset_year";
/// Series: `analysis::series::MotionClass` code.
pub const MOTION_CLASS: &str = "motion_class";

/// Series: displacement of epoch `k` against the reference along the normal (m).
pub fn displacement(k: usize) -> String {
    format!("d_{k}")
}
/// Series: level of detection (95 %) of epoch `k`'s displacement (m).
pub fn lod(k: usize) -> String {
    format!("lod_{k}")
}
