//! Displacement against date: the mean series of a change object (or one core point) with its
//! 95 % uncertainty as error bars, the fitted trend, and the onset marked.

use super::{err, font};
use image::RgbImage;
use plotters::prelude::*;

pub struct SeriesPlot<'a> {
    /// Epoch dates as decimal years.
    pub years: &'a [f64],
    /// Displacement per epoch (m) and its 95 % uncertainty.
    pub d: &'a [f64],
    pub uncertainty: &'a [f64],
    /// Velocity (m/year) of the fitted line through the epochs (drawn when given).
    pub trend: bool,
    /// Onset date (decimal year).
    pub onset: Option<f64>,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub onset_label: &'a str,
}

/// Weighted line through the points (weights 1 / u^2): (intercept at t = 0, slope). The
/// viewer's plot draws the same trend.
pub fn fit_line(t: &[f64], y: &[f64], u: &[f64]) -> Option<(f64, f64)> {
    let w: Vec<f64> = u.iter().map(|u| 1.0 / u.max(1e-6).powi(2)).collect();
    let sw: f64 = w.iter().sum();
    let tm = t.iter().zip(&w).map(|(t, w)| t * w).sum::<f64>() / sw;
    let ym = y.iter().zip(&w).map(|(y, w)| y * w).sum::<f64>() / sw;
    let sxx: f64 = t.iter().zip(&w).map(|(t, w)| w * (t - tm).powi(2)).sum();
    let sxy: f64 = (0..t.len()).map(|k| w[k] * (t[k] - tm) * (y[k] - ym)).sum();
    (sxx > 0.0).then(|| (ym - sxy / sxx * tm, sxy / sxx))
}

pub fn series(p: &SeriesPlot) -> Result<RgbImage, String> {
    let (w, h) = (1500u32, 640u32);
    let pts: Vec<(f64, f64, f64)> = (0..p.years.len())
        .filter(|&k| p.d[k].is_finite())
        .map(|k| (p.years[k], p.d[k], p.uncertainty[k].max(0.0)))
        .collect();
    if pts.is_empty() {
        return Err("no displacement to plot".into());
    }
    let (t0, t1) = (pts[0].0, pts[pts.len() - 1].0);
    let pad = ((t1 - t0) * 0.04).max(0.05);
    let (lo, hi) = pts.iter().fold((0.0f64, 0.0f64), |(a, b), (_, d, u)| {
        (a.min(d - u), b.max(d + u))
    });
    let ypad = ((hi - lo) * 0.08).max(0.002);
    let mut buf = vec![255u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        let mut chart = ChartBuilder::on(&root)
            .margin(20)
            .x_label_area_size(80)
            .y_label_area_size(130)
            .build_cartesian_2d((t0 - pad)..(t1 + pad), (lo - ypad)..(hi + ypad))
            .map_err(err)?;
        chart
            .configure_mesh()
            .light_line_style(RGBColor(235, 235, 235))
            .label_style(font(30.0))
            .axis_desc_style(font(32.0))
            .x_desc(p.x_label)
            .y_desc(p.y_label)
            .x_label_formatter(&|v| format!("{v:.1}"))
            .y_label_formatter(&|v| format!("{v:.3}"))
            .draw()
            .map_err(err)?;
        let blue = RGBColor(31, 78, 121);
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(t0 - pad, 0.0), (t1 + pad, 0.0)],
                RGBColor(150, 150, 150).stroke_width(2),
            )))
            .map_err(err)?;
        if let Some(o) = p.onset {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(o, lo - ypad), (o, hi + ypad)],
                    RGBColor(200, 60, 20).stroke_width(4),
                )))
                .map_err(err)?;
            chart
                .draw_series(std::iter::once(Text::new(
                    p.onset_label.to_string(),
                    (o + pad * 0.2, hi + ypad * 0.2),
                    font(30.0).color(&RGBColor(200, 60, 20)),
                )))
                .map_err(err)?;
        }
        if p.trend {
            let (t, y, u): (Vec<f64>, Vec<f64>, Vec<f64>) = {
                let mut a = (Vec::new(), Vec::new(), Vec::new());
                for (t, d, u) in &pts {
                    a.0.push(*t);
                    a.1.push(*d);
                    a.2.push(*u);
                }
                a
            };
            if let Some((a, b)) = fit_line(&t, &y, &u) {
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(t0, a + b * t0), (t1, a + b * t1)],
                        RGBColor(120, 160, 200).stroke_width(3),
                    )))
                    .map_err(err)?;
            }
        }
        for (t, d, u) in &pts {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(*t, d - u), (*t, d + u)],
                    blue.stroke_width(3),
                )))
                .map_err(err)?;
        }
        chart
            .draw_series(LineSeries::new(
                pts.iter().map(|(t, d, _)| (*t, *d)),
                blue.stroke_width(3),
            ))
            .map_err(err)?;
        chart
            .draw_series(
                pts.iter()
                    .map(|(t, d, _)| Circle::new((*t, *d), 7, blue.filled())),
            )
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    RgbImage::from_raw(w, h, buf).ok_or_else(|| "figure buffer".to_string())
}
