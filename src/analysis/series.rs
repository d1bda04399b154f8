//! Monitoring statistics of one core point over N epochs: velocity, acceleration, the onset of
//! movement and a motion class, from the M3C2 displacements of every epoch against the
//! reference epoch (epoch 0) along the reference normal.
//!
//! **Observations.** Epoch k's mean position along the normal in the cylinder, m_k, with
//! standard error sigma_k = s_k / sqrt(n_k) + e_k (spread and count in the cylinder, e_k that
//! epoch's registration error, added linearly as M3C2's LoD adds it). The displacement is
//! y_k = m_k - m_0 (y_0 = 0). Every estimator below is invariant to a common shift of the m_k,
//! so fitting the y_k with the independent weights 1 / sigma_k^2 (sigma_0 for y_0 = 0) is the
//! fit of the independent m_k: the reference's error is counted once, not once per epoch.
//! Epochs without a value (empty cylinder) are left out.
//!
//! **Velocity** (m/year): slope of the weighted least-squares line y = a + b t (t in years);
//! its standard error from (X'WX)^-1, scaled by the variance factor below. **Acceleration**
//! (m/year^2): 2 c of the weighted quadratic y = a + b t + c t^2, with its standard error.
//!
//! **Onset** (the first signs): epoch j >= 2 (at least two epochs before it) is the onset when
//! (1) epochs 0..j-1 are consistent with no movement: the chi-square of their weighted mean is
//! below its 1 - `alpha_stable` quantile; (2) every epoch k >= j departs from that mean,
//! |y_k - base| > z sqrt(sigma_k^2 + var(base)), all on the same side: the point left its
//! stable level and stayed away; (3) the straight line through all epochs does not fit (its
//! chi-square above the same quantile): a slow steady creep passes (1) and (2) once its
//! displacement grows past the LoD, and it is steady motion, not an onset. The onset is the
//! first such j.
//!
//! Persistence is what controls false alarms across epochs. With 9 epochs, a per-epoch 95 %
//! test flags 1 - 0.95^8 = 34 % of stable points at least once; here every candidate j needs
//! the last epoch departed too, so over the candidates with at least p = `persistence` (2)
//! departed epochs, j <= N - p, the union is bounded (Bonferroni) by N - 1 - p last-epoch
//! tests: at z for alpha_onset / (N - 1 - p) two-sided, P(a stable point gets an onset) <=
//! alpha_onset. Why p = 2: a departure in the latest survey alone cannot "stay", and a seasonal
//! swing at its peak or one bad survey looks the same (on a 10-epoch series with a +-6 mm
//! cycle, p = 1 flagged 2.7 % of the seasonal area). A departure in fewer than p epochs still
//! counts beyond twice the critical value: a slope failing in the latest survey must not wait
//! for the next one, and no seasonal swing or noise reaches that far. A seasonal swing (one
//! epoch up, a later one down, back in between) breaks (1) and (2).
//!
//! **Classes**, tested in this order: onset at epoch j; accelerating (|acceleration| / se >
//! z(alpha_trend), two-sided); steady motion (|velocity| / se > z(alpha_trend)); stable. With
//! the defaults (alpha = 1 % split in three: onset, acceleration, velocity) a stable core point
//! is given a class other than stable with probability at most 1 %.
//!
//! **Variance factor.** M3C2's spreads can misjudge the real scatter (roughness, sampling). The
//! a-posteriori variance factor of geodetic deformation analysis, here the median over all core
//! points of the linear fit's chi^2 / dof divided by the median of chi^2(dof) / dof, rescales
//! every sigma when above 1 (never below: a series that agrees better than its LoD keeps the
//! LoD's caution). It is robust while fewer than half the core points move.

use serde::{Deserialize, Serialize};

/// Motion class per core point (stored as `motion_class` in results).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum MotionClass {
    #[default]
    Stable = 0,
    Steady = 1,
    Accelerating = 2,
    Onset = 3,
    /// Too few epochs with a value to say.
    Undetermined = 255,
}

impl MotionClass {
    pub const ALL: [MotionClass; 5] = [
        MotionClass::Stable,
        MotionClass::Steady,
        MotionClass::Accelerating,
        MotionClass::Onset,
        MotionClass::Undetermined,
    ];
    pub fn code(self) -> u8 {
        self as u8
    }
    pub fn from_code(c: f32) -> MotionClass {
        MotionClass::ALL
            .into_iter()
            .find(|m| f32::from(m.code()) == c)
            .unwrap_or(MotionClass::Undetermined)
    }
    /// English and Japanese names (legends, reports).
    pub fn name(self, lang: crate::lang::Lang) -> &'static str {
        match self {
            MotionClass::Stable => lang.tr("stable", "安定"),
            MotionClass::Steady => lang.tr("steady motion", "定常的な変動"),
            MotionClass::Accelerating => lang.tr("accelerating", "加速する変動"),
            MotionClass::Onset => lang.tr("onset of movement", "変動の始まり"),
            MotionClass::Undetermined => lang.tr("undetermined", "判定不能"),
        }
    }
}

/// Test levels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Levels {
    /// False-alarm probability per stable core point, split equally between the onset, the
    /// acceleration and the velocity tests.
    pub alpha: f64,
    /// Level of the stable-before-onset test (a chi-square upper tail).
    pub alpha_stable: f64,
    /// Epochs that must depart for an onset (1 = the latest survey alone may show one).
    pub persistence: usize,
    /// Rescale the sigmas by the variance factor when above 1.
    pub variance_factor: bool,
}

impl Default for Levels {
    fn default() -> Self {
        Levels {
            alpha: 0.01,
            alpha_stable: 0.001,
            persistence: 2,
            variance_factor: true,
        }
    }
}

impl Levels {
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [("alpha", self.alpha), ("alpha_stable", self.alpha_stable)] {
            if !(v > 0.0 && v < 1.0) {
                return Err(format!("{name} must be between 0 and 1, got {v}"));
            }
        }
        if self.persistence == 0 {
            return Err("persistence must be at least 1 epoch".into());
        }
        Ok(())
    }
}

/// One core point's results. NaN / None where undefined.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Motion {
    pub velocity: f64,
    pub velocity_se: f64,
    pub acceleration: f64,
    pub acceleration_se: f64,
    /// First epoch of the movement (index into the series).
    pub onset: Option<usize>,
    pub class: MotionClass,
}

impl Motion {
    pub const NONE: Motion = Motion {
        velocity: f64::NAN,
        velocity_se: f64::NAN,
        acceleration: f64::NAN,
        acceleration_se: f64::NAN,
        onset: None,
        class: MotionClass::Undetermined,
    };
}

/// Critical values for a series of `epochs` epochs.
#[derive(Clone, Copy, Debug)]
pub struct Critical {
    z_trend: f64,
    z_onset: f64,
    alpha_stable: f64,
    persistence: usize,
}

impl Critical {
    pub fn new(levels: &Levels, epochs: usize) -> Critical {
        let a = levels.alpha / 3.0;
        let p = levels.persistence.max(1);
        // Candidate onsets j in 2..=N-p.
        let candidates = (epochs + 1).saturating_sub(2 + p).max(1) as f64;
        Critical {
            z_trend: normal_quantile(1.0 - a / 2.0),
            z_onset: normal_quantile(1.0 - a / candidates / 2.0),
            alpha_stable: levels.alpha_stable,
            persistence: p,
        }
    }
}

/// Weighted polynomial fit of degree 1 or 2: coefficients, their covariance, chi^2.
fn polyfit(t: &[f64], y: &[f64], w: &[f64], degree: usize) -> Option<(Vec<f64>, Vec<f64>, f64)> {
    let m = degree + 1;
    if t.len() < m + 1 {
        return None;
    }
    // Centre the times for conditioning (the slope of a line does not depend on it; the
    // curvature of a parabola neither).
    let sw: f64 = w.iter().sum();
    let tc = t.iter().zip(w).map(|(t, w)| t * w).sum::<f64>() / sw;
    let mut a = nalgebra::DMatrix::<f64>::zeros(m, m);
    let mut b = nalgebra::DVector::<f64>::zeros(m);
    for k in 0..t.len() {
        let x = t[k] - tc;
        let row: Vec<f64> = (0..m).map(|p| x.powi(p as i32)).collect();
        for i in 0..m {
            b[i] += w[k] * row[i] * y[k];
            for j in 0..m {
                a[(i, j)] += w[k] * row[i] * row[j];
            }
        }
    }
    let inv = a.try_inverse()?;
    let c = &inv * b;
    let chi2 = (0..t.len())
        .map(|k| {
            let x = t[k] - tc;
            let f: f64 = (0..m).map(|p| c[p] * x.powi(p as i32)).sum();
            w[k] * (y[k] - f).powi(2)
        })
        .sum();
    let var = (0..m).map(|i| inv[(i, i)]).collect();
    Some((c.iter().copied().collect(), var, chi2))
}

/// chi^2 / dof of the linear fit (for the variance factor), None with fewer than 3 epochs.
pub fn linear_chi2_per_dof(t: &[f64], y: &[f64], sigma: &[f64]) -> Option<(f64, usize)> {
    let (t, y, w) = valid(t, y, sigma, 1.0);
    let dof = t.len().checked_sub(2).filter(|d| *d > 0)?;
    polyfit(&t, &y, &w, 1).map(|(_, _, chi2)| (chi2 / dof as f64, dof))
}

/// The epochs with a value, as (t, y, 1 / (f sigma)^2).
fn valid(t: &[f64], y: &[f64], sigma: &[f64], f: f64) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut out = (Vec::new(), Vec::new(), Vec::new());
    for k in 0..t.len() {
        let s = sigma[k] * f;
        if y[k].is_finite() && s.is_finite() && s > 0.0 {
            out.0.push(t[k]);
            out.1.push(y[k]);
            out.2.push(1.0 / (s * s));
        }
    }
    out
}

/// The variance factor from the per-point chi^2 / dof of the linear fit (see the module
/// doc); 1 when there is nothing to judge.
pub fn variance_factor(per_dof: &mut [(f64, usize)]) -> f64 {
    if per_dof.is_empty() {
        return 1.0;
    }
    per_dof.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (median, dof) = per_dof[per_dof.len() / 2];
    // Median of chi^2(v) / v (Wilson-Hilferty at z = 0).
    let v = dof as f64;
    let expected = (1.0 - 2.0 / (9.0 * v)).powi(3);
    (median / expected).max(1.0)
}

/// Velocity, acceleration, onset and class of one core point. `t`: epoch times in years,
/// `y`: displacement per epoch (y[0] = 0 for the reference), `sigma`: standard error of each
/// epoch's mean position; `factor`: the variance factor (multiplies the variances).
pub fn analyse(t: &[f64], y: &[f64], sigma: &[f64], factor: f64, crit: &Critical) -> Motion {
    let f = factor.max(1e-12).sqrt();
    let (tv, yv, wv) = valid(t, y, sigma, f);
    let mut m = Motion::NONE;
    let Some((c1, v1, chi2_line)) = polyfit(&tv, &yv, &wv, 1) else {
        return m;
    };
    m.velocity = c1[1];
    m.velocity_se = v1[1].sqrt();
    if let Some((c2, v2, _)) = polyfit(&tv, &yv, &wv, 2) {
        m.acceleration = 2.0 * c2[2];
        m.acceleration_se = 2.0 * v2[2].sqrt();
    }
    // A straight line that explains every epoch is steady motion (or none), not an onset: a
    // slow creep only becomes significant after a few epochs, yet it did not start then.
    let line_fits = chi2_line <= chi2_quantile(1.0 - crit.alpha_stable, (tv.len() - 2) as f64);
    m.onset = if line_fits {
        None
    } else {
        onset(t, y, sigma, f, crit)
    };
    m.class = if m.onset.is_some() {
        MotionClass::Onset
    } else if (m.acceleration / m.acceleration_se).abs() > crit.z_trend {
        MotionClass::Accelerating
    } else if (m.velocity / m.velocity_se).abs() > crit.z_trend {
        MotionClass::Steady
    } else {
        MotionClass::Stable
    };
    m
}

/// The onset epoch (module doc): stable before, departed on the same side from there on.
fn onset(t: &[f64], y: &[f64], sigma: &[f64], f: f64, crit: &Critical) -> Option<usize> {
    let n = t.len();
    let ok = |k: usize| y[k].is_finite() && sigma[k].is_finite() && sigma[k] > 0.0;
    'candidates: for j in 2..n {
        // Fewer departed epochs than the persistence asks: only a movement far beyond the
        // noise counts (twice the critical value: a slope failing now should not wait).
        let z = if n - j < crit.persistence {
            2.0 * crit.z_onset
        } else {
            crit.z_onset
        };
        // Weighted mean of the epochs before j and its chi^2.
        let (mut sw, mut swy, mut used) = (0.0, 0.0, 0usize);
        for k in (0..j).filter(|&k| ok(k)) {
            let w = 1.0 / (sigma[k] * f).powi(2);
            sw += w;
            swy += w * y[k];
            used += 1;
        }
        if used < 2 || !ok(j) {
            continue;
        }
        let base = swy / sw;
        let chi2: f64 = (0..j)
            .filter(|&k| ok(k))
            .map(|k| ((y[k] - base) / (sigma[k] * f)).powi(2))
            .sum();
        if chi2 > chi2_quantile(1.0 - crit.alpha_stable, (used - 1) as f64) {
            // Already moving before j: later candidates include these epochs too.
            return None;
        }
        let mut side = 0.0f64;
        for k in (j..n).filter(|&k| ok(k)) {
            let dev = y[k] - base;
            let se = ((sigma[k] * f).powi(2) + 1.0 / sw).sqrt();
            if dev.abs() <= z * se || (side != 0.0 && dev.signum() != side) {
                continue 'candidates;
            }
            side = dev.signum();
        }
        return Some(j);
    }
    None
}

/// Standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9; one
/// function does not justify a statistics crate that would bring a second nalgebra).
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.383_577_518_672_69e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-3,
        3.224671290700398e-1,
        2.445134137142996,
        3.754408661907416,
    ];
    if !(p > 0.0 && p < 1.0) {
        return f64::NAN;
    }
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// Chi-square quantile, Wilson-Hilferty (within 1 % of the exact value for dof >= 2 at the
/// upper tails used here).
pub fn chi2_quantile(p: f64, dof: f64) -> f64 {
    let z = normal_quantile(p);
    let a = 2.0 / (9.0 * dof);
    (dof * (1.0 - a + z * a.sqrt()).powi(3)).max(0.0)
}

/// Decimal year of a date (2023-07-02 is about 2023.5).
pub fn decimal_year(d: chrono::NaiveDate) -> f64 {
    use chrono::Datelike;
    let start = chrono::NaiveDate::from_ymd_opt(d.year(), 1, 1).unwrap_or(d);
    let next = chrono::NaiveDate::from_ymd_opt(d.year() + 1, 1, 1).unwrap_or(d);
    let len = (next - start).num_days().max(1) as f64;
    f64::from(d.year()) + (d - start).num_days() as f64 / len
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic normal generator (Box-Muller on an LCG) for the tests.
    fn noise(seed: u64) -> impl FnMut() -> f64 {
        let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        let mut u = move || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        move || (-2.0 * u().ln()).sqrt() * (2.0 * std::f64::consts::PI * u()).cos()
    }

    #[test]
    fn quantiles() {
        assert!((normal_quantile(0.975) - 1.959964).abs() < 1e-5);
        assert!((normal_quantile(0.005) + 2.575829).abs() < 1e-5);
        // chi2(7) 0.999 = 24.322; chi2(2) 0.999 = 13.816
        assert!((chi2_quantile(0.999, 7.0) - 24.322).abs() < 0.25);
        assert!((chi2_quantile(0.999, 2.0) - 13.816).abs() < 0.5);
        assert!(
            (decimal_year(chrono::NaiveDate::from_ymd_opt(2023, 7, 2).unwrap()) - 2023.4986).abs()
                < 1e-3
        );
    }

    const T: [f64; 9] = [0.0, 0.48, 1.01, 1.47, 1.99, 2.28, 2.51, 2.74, 3.01];

    #[test]
    fn velocity_of_a_line_and_its_error() {
        let y: Vec<f64> = T.iter().map(|t| 0.05 * t).collect();
        let s = [0.002; 9];
        let m = analyse(&T, &y, &s, 1.0, &Critical::new(&Levels::default(), 9));
        assert!((m.velocity - 0.05).abs() < 1e-12);
        assert!(m.acceleration.abs() < 1e-9);
        // se = sigma / sqrt(sum (t - tbar)^2)
        let tb = T.iter().sum::<f64>() / 9.0;
        let sxx: f64 = T.iter().map(|t| (t - tb).powi(2)).sum();
        assert!((m.velocity_se - 0.002 / sxx.sqrt()).abs() < 1e-12);
        assert_eq!(m.class, MotionClass::Steady);
        assert_eq!(m.onset, None);
    }

    #[test]
    fn onset_found_after_stable_epochs_and_not_for_a_seasonal_swing() {
        let crit = Critical::new(&Levels::default(), 9);
        let s = [0.003; 9];
        let fail: Vec<f64> = T
            .iter()
            .map(|t| {
                if *t > 2.0 {
                    -0.02 * ((t - 2.0) * 4.0).powi(2)
                } else {
                    0.0
                }
            })
            .collect();
        let m = analyse(&T, &fail, &s, 1.0, &crit);
        assert_eq!((m.onset, m.class), (Some(5), MotionClass::Onset));
        let seasonal: Vec<f64> = T
            .iter()
            .map(|t| 0.006 * (2.0 * std::f64::consts::PI * t).sin())
            .collect();
        let m = analyse(&T, &seasonal, &s, 1.0, &crit);
        assert_eq!(m.onset, None);
        // In the latest survey alone: a large movement is an onset, a 2-sigma one is not.
        let mut last = vec![0.0; 9];
        last[8] = -0.05;
        assert_eq!(analyse(&T, &last, &s, 1.0, &crit).onset, Some(8));
        last[8] = -0.006;
        assert_eq!(analyse(&T, &last, &s, 1.0, &crit).onset, None);
        // Missing epochs are left out, not zeros.
        let mut gap = fail.clone();
        gap[6] = f64::NAN;
        assert_eq!(analyse(&T, &gap, &s, 1.0, &crit).onset, Some(5));
        assert_eq!(
            analyse(&T[..2], &fail[..2], &s[..2], 1.0, &crit).class,
            MotionClass::Undetermined
        );
    }

    /// The false-alarm bound holds for pure noise, where a per-epoch test would not.
    #[test]
    fn false_alarms_on_noise_stay_below_alpha() {
        let levels = Levels::default();
        let crit = Critical::new(&levels, 9);
        let mut g = noise(3);
        let (mut alarms, mut naive, trials) = (0, 0, 20_000);
        for _ in 0..trials {
            let m0 = 0.003 * g();
            let y: Vec<f64> = (0..9)
                .map(|k| if k == 0 { 0.0 } else { 0.003 * g() - m0 })
                .collect();
            let s = [0.003; 9];
            if analyse(&T, &y, &s, 1.0, &crit).class != MotionClass::Stable {
                alarms += 1;
            }
            let lod = 1.96 * (2.0f64).sqrt() * 0.003;
            if y[1..].iter().any(|d| d.abs() > lod) {
                naive += 1;
            }
        }
        let rate = f64::from(alarms) / f64::from(trials);
        assert!(rate <= levels.alpha, "{rate}");
        assert!(f64::from(naive) / f64::from(trials) > 0.2, "{naive}");
    }

    #[test]
    fn variance_factor_only_inflates() {
        assert_eq!(variance_factor(&mut []), 1.0);
        assert_eq!(variance_factor(&mut [(0.2, 7), (0.3, 7), (0.4, 7)]), 1.0);
        let f = variance_factor(&mut [(3.0, 7), (4.0, 7), (5.0, 7)]);
        assert!((f - 4.0 / (1.0 - 2.0 / 63.0f64).powi(3)).abs() < 1e-12);
    }
}
