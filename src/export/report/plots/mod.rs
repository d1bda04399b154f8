//! The report's figures as PNG: plan-view map (plotters chart with the background image,
//! points and object outlines), histogram (plotters), and an oblique 3D view (a small CPU
//! splat renderer with a depth buffer: plotters has no 3D point splats with occlusion).
//! Text goes through plotters' ab_glyph backend with our bundled Japanese font, so figures
//! look the same on every machine.

mod series;
mod view3d;

use crate::colourmap;
use image::RgbImage;
use plotters::prelude::*;
use plotters::style::FontStyle;
pub use series::{fit_line, series, SeriesPlot};
use std::sync::Once;
pub use view3d::view3d;

/// The font every figure uses (also the viewer's): Noto Sans CJK JP, cut to kana + JIS X 0208.
pub const FONT: &[u8] = include_bytes!("../../../../assets/fonts/KizashiSansJP.otf");
const FAMILY: &str = "kizashi";
static FONT_ONCE: Once = Once::new();

fn font(size: f64) -> TextStyle<'static> {
    FONT_ONCE.call_once(|| {
        // Fails only if the bundled file is not a font; the figures then show no text, which
        // the report test would catch.
        let _ = plotters::style::register_font(FAMILY, FontStyle::Normal, FONT);
    });
    (FAMILY, size).into_font().color(&BLACK)
}

fn err(e: impl std::fmt::Display) -> String {
    format!("cannot draw the figure: {e}")
}

pub fn png(img: &RgbImage) -> Result<Vec<u8>, String> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .map_err(err)?;
    Ok(out.into_inner())
}

/// One core point on the map and in the 3D view.
#[derive(Clone, Copy, Debug)]
pub struct MapPoint {
    /// Data CRS.
    pub x: f64,
    pub y: f64,
    pub z: f64,
    pub d: f32,
    pub significant: bool,
    pub normal: Option<[f32; 3]>,
}

/// Colour of a point: diverging by d over ±limit when significant (or when there is no
/// significance, as for C2C), grey otherwise.
pub fn point_colour(p: &MapPoint, limit: f32, signed: bool) -> [u8; 3] {
    if !p.d.is_finite() {
        return [60, 60, 60];
    }
    if !p.significant {
        return [170, 170, 170];
    }
    if signed {
        diverging_vivid(p.d / limit)
    } else {
        colourmap::viridis(p.d / limit)
    }
}

/// The diverging map without its white middle: a significant change, however small, never
/// looks like the white of "no change" or of the paper. `t` in [-1, 1].
pub fn diverging_vivid(t: f32) -> [u8; 3] {
    let t = if t.is_finite() {
        t.clamp(-1.0, 1.0)
    } else {
        0.0
    };
    colourmap::diverging(t.signum() * (0.25 + 0.75 * t.abs()))
}

/// The XY extent of the points ([0, 0, 1, 1] without any).
pub fn extent_of(points: &[MapPoint]) -> [f64; 4] {
    let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
    for p in points {
        lo = [lo[0].min(p.x), lo[1].min(p.y)];
        hi = [hi[0].max(p.x), hi[1].max(p.y)];
    }
    if lo[0].is_finite() {
        [lo[0], lo[1], hi[0], hi[1]]
    } else {
        [0.0, 0.0, 1.0, 1.0]
    }
}

/// The colour map's limit for the points' values (signed: from the significant ones).
pub fn colour_limit(points: &[MapPoint], signed: bool) -> f32 {
    let v: Vec<f32> = points.iter().map(|p| p.d).collect();
    let s: Vec<f32> = points
        .iter()
        .map(|p| if p.significant { 1.0 } else { 0.0 })
        .collect();
    colourmap::deformation_limit(&v, if signed { Some(&s) } else { None }).unwrap_or(1.0)
}

/// The map's pixel frame: an extent with equal scale on both axes.
#[derive(Clone, Copy, Debug)]
pub struct MapFrame {
    pub extent: [f64; 4],
    pub size: (u32, u32),
}

const MAP_W: u32 = 1700;
const BAR_W: u32 = 190;
const MARGIN: u32 = 20;
const XLAB: u32 = 70;
const YLAB: u32 = 130;

/// An equal-scale frame around `bounds` (xmin, ymin, xmax, ymax), 3 % padding.
pub fn map_frame(b: [f64; 4]) -> MapFrame {
    let pad = 0.03 * (b[2] - b[0]).max(b[3] - b[1]).max(1.0);
    let (mut x0, mut y0, mut x1, mut y1) = (b[0] - pad, b[1] - pad, b[2] + pad, b[3] + pad);
    let pw = f64::from(MAP_W - BAR_W - 2 * MARGIN - YLAB);
    let mut ph = pw * (y1 - y0) / (x1 - x0);
    if ph > 1500.0 {
        ph = 1500.0;
        let dx = (y1 - y0) * pw / ph;
        let c = 0.5 * (x0 + x1);
        (x0, x1) = (c - dx / 2.0, c + dx / 2.0);
    } else if ph < 600.0 {
        ph = 600.0;
        let dy = (x1 - x0) * ph / pw;
        let c = 0.5 * (y0 + y1);
        (y0, y1) = (c - dy / 2.0, c + dy / 2.0);
    }
    MapFrame {
        extent: [x0, y0, x1, y1],
        size: (MAP_W, ph.round() as u32 + 2 * MARGIN + XLAB),
    }
}

/// A "nice" number near `x` (1, 2 or 5 times a power of ten, not above x).
fn nice_floor(x: f64) -> f64 {
    if !(x > 0.0) {
        return 1.0;
    }
    let p = 10f64.powf(x.log10().floor());
    [5.0, 2.0, 1.0]
        .into_iter()
        .map(|m| m * p)
        .find(|v| *v <= x)
        .unwrap_or(p)
}

pub struct MapInput<'a> {
    pub frame: MapFrame,
    /// Returns the background for an extent at a pixel size (orthophoto or hillshade).
    pub background: &'a dyn Fn([f64; 4], (u32, u32)) -> Option<RgbImage>,
    pub points: &'a [MapPoint],
    /// Mean spacing of the points (m): the size of their squares.
    pub spacing: f64,
    pub limit: f32,
    pub signed: bool,
    /// Object id and its outline rings (data CRS).
    pub outlines: &'a [(i32, Vec<Vec<[f64; 2]>>)],
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub bar_label: &'a str,
    pub grey_label: &'a str,
}

pub fn map(m: &MapInput) -> Result<RgbImage, String> {
    let (w, h) = m.frame.size;
    let mut buf = vec![255u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        let (left, right) = root.split_horizontally(w - BAR_W);
        let [x0, y0, x1, y1] = m.frame.extent;
        let mut chart = ChartBuilder::on(&left)
            .margin(MARGIN)
            .x_label_area_size(XLAB)
            .y_label_area_size(YLAB)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(6)
            .y_labels(6)
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| format!("{v:.0}"))
            .label_style(font(30.0))
            .x_desc(m.x_label)
            .y_desc(m.y_label)
            .axis_desc_style(font(32.0))
            .draw()
            .map_err(err)?;
        let (px, py) = chart.plotting_area().get_pixel_range();
        let (pw, ph) = (
            (px.end - px.start).max(1) as u32,
            (py.end - py.start).max(1) as u32,
        );
        if let Some(bg) = (m.background)(m.frame.extent, (pw, ph)) {
            let bg = if bg.dimensions() == (pw, ph) {
                bg
            } else {
                image::imageops::resize(&bg, pw, ph, image::imageops::FilterType::Triangle)
            };
            let el = BitMapElement::<_, plotters::backend::RGBPixel>::with_owned_buffer(
                (x0, y1),
                (pw, ph),
                bg.into_raw(),
            )
            .ok_or("background size")?;
            chart.draw_series(std::iter::once(el)).map_err(err)?;
        }
        let half = (m.spacing * 0.5).max((x1 - x0) / f64::from(pw));
        let square = |p: &MapPoint, c: RGBAColor| {
            Rectangle::new(
                [(p.x - half, p.y - half), (p.x + half, p.y + half)],
                c.filled(),
            )
        };
        // Not significant first and faint, so the background shows; then the significant ones,
        // the largest on top.
        chart
            .draw_series(
                m.points
                    .iter()
                    .filter(|p| !p.significant || !p.d.is_finite())
                    .map(|p| square(p, RGBColor(150, 150, 150).mix(0.45))),
            )
            .map_err(err)?;
        let mut sig: Vec<&MapPoint> = m
            .points
            .iter()
            .filter(|p| p.significant && p.d.is_finite())
            .collect();
        sig.sort_by(|a, b| a.d.abs().total_cmp(&b.d.abs()));
        chart
            .draw_series(sig.iter().map(|p| {
                let c = point_colour(p, m.limit, m.signed);
                square(p, RGBColor(c[0], c[1], c[2]).mix(1.0))
            }))
            .map_err(err)?;
        for (_, rings) in m.outlines {
            for ring in rings {
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        ring.iter().map(|p| (p[0], p[1])).collect::<Vec<_>>(),
                        BLACK.stroke_width(3),
                    )))
                    .map_err(err)?;
            }
        }
        // Numbers on white tags just above each object's highest vertex.
        let area = chart.plotting_area().strip_coord_spec();
        for (id, rings) in m.outlines {
            if let Some(top) = rings
                .first()
                .and_then(|r| r.iter().max_by(|a, b| a[1].total_cmp(&b[1])))
            {
                let (px, py) = chart.backend_coord(&(top[0], top[1]));
                let (ox, oy) = (
                    px - chart.plotting_area().get_base_pixel().0,
                    py - chart.plotting_area().get_base_pixel().1,
                );
                let label = format!("{id}");
                let tw = 20 * label.len() as i32 + 10;
                area.draw(&Rectangle::new(
                    [(ox - 4, oy - 44), (ox + tw, oy - 6)],
                    WHITE.mix(0.9).filled(),
                ))
                .map_err(err)?;
                area.draw(&Rectangle::new(
                    [(ox - 4, oy - 44), (ox + tw, oy - 6)],
                    BLACK.stroke_width(1),
                ))
                .map_err(err)?;
                area.draw(&Text::new(label, (ox + 2, oy - 42), font(32.0)))
                    .map_err(err)?;
            }
        }
        // Scale bar (bottom left) and north arrow (top right), in plot pixels.
        let scale = f64::from(pw) / (x1 - x0);
        let len = nice_floor((x1 - x0) / 5.0);
        let (bx, by) = (30, ph as i32 - 40);
        let bl = (len * scale).round() as i32;
        area.draw(&Rectangle::new(
            [(bx - 8, by - 46), (bx + bl + 8, by + 14)],
            WHITE.mix(0.8).filled(),
        ))
        .map_err(err)?;
        area.draw(&Rectangle::new(
            [(bx, by), (bx + bl, by + 8)],
            BLACK.filled(),
        ))
        .map_err(err)?;
        area.draw(&Text::new(format!("{len} m"), (bx, by - 42), font(30.0)))
            .map_err(err)?;
        let (nx, ny) = (pw as i32 - 50, 30);
        area.draw(&Rectangle::new(
            [(nx - 26, ny - 8), (nx + 26, ny + 90)],
            WHITE.mix(0.8).filled(),
        ))
        .map_err(err)?;
        area.draw(&Polygon::new(
            vec![(nx, ny), (nx - 14, ny + 36), (nx + 14, ny + 36)],
            BLACK.filled(),
        ))
        .map_err(err)?;
        area.draw(&Text::new("N", (nx - 10, ny + 44), font(35.0)))
            .map_err(err)?;
        colour_bar(&right, m, ph)?;
        root.present().map_err(err)?;
    }
    RgbImage::from_raw(w, h, buf).ok_or_else(|| "figure buffer".into())
}

fn colour_bar<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    m: &MapInput,
    ph: u32,
) -> Result<(), String> {
    let (x, top, bw) = (20i32, MARGIN as i32 + 40, 36i32);
    let hgt = (ph as i32 - 140).clamp(200, 900);
    let (lo, hi) = if m.signed {
        (-m.limit, m.limit)
    } else {
        (0.0, m.limit)
    };
    let e =
        |r: Result<(), DrawingAreaErrorKind<DB::ErrorType>>| r.map_err(|e| err(format!("{e:?}")));
    e(area.draw(&Text::new(m.bar_label, (x - 10, top - 46), font(30.0))))?;
    for k in 0..hgt {
        let t = 1.0 - k as f32 / (hgt - 1) as f32;
        let c = if m.signed {
            diverging_vivid(2.0 * t - 1.0)
        } else {
            colourmap::viridis(t)
        };
        e(area.draw(&Rectangle::new(
            [(x, top + k), (x + bw, top + k + 1)],
            RGBColor(c[0], c[1], c[2]).filled(),
        )))?;
    }
    e(area.draw(&Rectangle::new(
        [(x, top), (x + bw, top + hgt)],
        BLACK.stroke_width(1),
    )))?;
    for k in 0..=4 {
        let v = hi - (hi - lo) * k as f32 / 4.0;
        let yy = top + (hgt - 1) * k / 4;
        e(area.draw(&PathElement::new(
            vec![(x + bw, yy), (x + bw + 8, yy)],
            BLACK,
        )))?;
        e(area.draw(&Text::new(
            format!("{v:+.3}"),
            (x + bw + 12, yy - 15),
            font(27.0),
        )))?;
    }
    let gy = top + hgt + 30;
    e(area.draw(&Rectangle::new(
        [(x, gy), (x + bw, gy + 24)],
        RGBColor(150, 150, 150).mix(0.45).filled(),
    )))?;
    for (i, line) in wrap(m.grey_label, 10).iter().enumerate() {
        e(area.draw(&Text::new(
            line.clone(),
            (x, gy + 34 + 34 * i as i32),
            font(27.0),
        )))?;
    }
    Ok(())
}

/// Splits text into lines of at most `n` characters at spaces (or anywhere for Japanese).
fn wrap(s: &str, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut line = String::new();
    for word in s.split(' ') {
        for ch in word.chars() {
            if line.chars().count() >= n && !ch.is_ascii_alphanumeric() {
                out.push(std::mem::take(&mut line));
            }
            line.push(ch);
        }
        if line.chars().count() >= n {
            out.push(std::mem::take(&mut line));
        } else if !line.is_empty() {
            line.push(' ');
        }
    }
    if !line.trim().is_empty() {
        out.push(line.trim().to_string());
    }
    out
}

pub struct HistInput<'a> {
    pub values: &'a [MapPoint],
    pub limit: f32,
    pub signed: bool,
    /// Median LoD95, drawn as dashed lines at ±LoD.
    pub lod: Option<f32>,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub sig_label: &'a str,
    pub nonsig_label: &'a str,
}

/// Stacked histogram: significant (coloured by the bin's value) over not significant (grey).
pub fn histogram(hi: &HistInput) -> Result<RgbImage, String> {
    let (w, h) = (1500u32, 620u32);
    let finite: Vec<f32> = hi
        .values
        .iter()
        .map(|p| p.d)
        .filter(|d| d.is_finite())
        .collect();
    let abs: Vec<f32> = finite.iter().map(|d| d.abs()).collect();
    let span = colourmap::percentile(abs, 0.995)
        .unwrap_or(1.0)
        .max(hi.limit)
        .max(1e-3);
    let (lo, up) = if hi.signed {
        (-span, span)
    } else {
        (0.0, span)
    };
    let bins = 80usize;
    let bin =
        |d: f32| (((d - lo) / (up - lo) * bins as f32).floor().max(0.0) as usize).min(bins - 1);
    let (mut all, mut sig) = (vec![0u32; bins], vec![0u32; bins]);
    for p in hi.values.iter().filter(|p| p.d.is_finite()) {
        all[bin(p.d)] += 1;
        if p.significant {
            sig[bin(p.d)] += 1;
        }
    }
    let ymax = all.iter().copied().max().unwrap_or(1).max(1);
    let mut buf = vec![255u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        // Log counts: the unchanged peak is orders of magnitude above the significant tails.
        let mut chart = ChartBuilder::on(&root)
            .margin(20)
            .x_label_area_size(80)
            .y_label_area_size(120)
            .build_cartesian_2d(
                f64::from(lo)..f64::from(up),
                (0.8f64..f64::from(ymax) * 2.0).log_scale(),
            )
            .map_err(err)?;
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .label_style(font(30.0))
            .axis_desc_style(font(32.0))
            .x_desc(hi.x_label)
            .y_desc(hi.y_label)
            .x_label_formatter(&|v| format!("{v:.2}"))
            .y_label_formatter(&|v| format!("{v:.0}"))
            .draw()
            .map_err(err)?;
        let bw = f64::from(up - lo) / bins as f64;
        // All core points in grey, the significant ones over them in colour.
        for k in 0..bins {
            let x0 = f64::from(lo) + bw * k as f64;
            let centre = (x0 + bw / 2.0) as f32;
            let c = point_colour(
                &MapPoint {
                    x: 0.0,
                    y: 0.0,
                    z: 0.0,
                    d: centre,
                    significant: true,
                    normal: None,
                },
                hi.limit,
                hi.signed,
            );
            if all[k] > 0 {
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(x0, 0.8), (x0 + bw, f64::from(all[k]))],
                        RGBColor(170, 170, 170).filled(),
                    )))
                    .map_err(err)?;
            }
            if sig[k] > 0 {
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(x0, 0.8), (x0 + bw, f64::from(sig[k]))],
                        RGBColor(c[0], c[1], c[2]).filled(),
                    )))
                    .map_err(err)?;
            }
        }
        if let Some(l) = hi.lod.filter(|l| l.is_finite()) {
            for x in [-l, l].into_iter().filter(|x| *x >= lo && *x <= up) {
                let top = f64::from(ymax) * 1.5;
                let n = 30;
                for i in (0..n).step_by(2) {
                    // Dashes evenly spaced on the log axis.
                    let at = |i: usize| 0.8 * (top / 0.8).powf(i as f64 / n as f64);
                    chart
                        .draw_series(std::iter::once(PathElement::new(
                            vec![(f64::from(x), at(i)), (f64::from(x), at(i + 1))],
                            BLACK.stroke_width(2),
                        )))
                        .map_err(err)?;
                }
            }
        }
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(0.0, 1.0), (0.0, 1.0)],
                RGBColor(170, 170, 170).filled(),
            )))
            .map_err(err)?
            .label(hi.nonsig_label)
            .legend(|(x, y)| {
                Rectangle::new(
                    [(x, y - 8), (x + 20, y + 8)],
                    RGBColor(170, 170, 170).filled(),
                )
            });
        let c = point_colour(
            &MapPoint {
                x: 0.0,
                y: 0.0,
                z: 0.0,
                d: -hi.limit,
                significant: true,
                normal: None,
            },
            hi.limit,
            hi.signed,
        );
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(0.0, 1.0), (0.0, 1.0)],
                RGBColor(c[0], c[1], c[2]).filled(),
            )))
            .map_err(err)?
            .label(hi.sig_label)
            .legend(move |(x, y)| {
                Rectangle::new(
                    [(x, y - 8), (x + 20, y + 8)],
                    RGBColor(c[0], c[1], c[2]).filled(),
                )
            });
        chart
            .configure_series_labels()
            .label_font(font(30.0))
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    RgbImage::from_raw(w, h, buf).ok_or_else(|| "figure buffer".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_keeps_equal_scale() {
        for b in [
            [0.0, 0.0, 200.0, 200.0],
            [0.0, 0.0, 1000.0, 50.0],
            [0.0, 0.0, 50.0, 1000.0],
        ] {
            let f = map_frame(b);
            let pw = f64::from(MAP_W - BAR_W - 2 * MARGIN - YLAB);
            let ph = f64::from(f.size.1 - 2 * MARGIN - XLAB);
            let e = f.extent;
            assert!(
                ((e[2] - e[0]) / pw - (e[3] - e[1]) / ph).abs() / ((e[2] - e[0]) / pw) < 0.01,
                "{b:?} {f:?}"
            );
            assert!(e[0] <= b[0] && e[1] <= b[1] && e[2] >= b[2] && e[3] >= b[3]);
        }
    }

    #[test]
    fn nice_numbers() {
        assert_eq!(nice_floor(37.0), 20.0);
        assert_eq!(nice_floor(0.7), 0.5);
        assert_eq!(nice_floor(100.0), 100.0);
    }

    #[test]
    fn figures_have_text_and_colour() {
        let pts: Vec<MapPoint> = (0..400)
            .map(|i| {
                let (x, y) = (f64::from(i % 20), f64::from(i / 20));
                MapPoint {
                    x,
                    y,
                    z: 0.1 * x,
                    d: if x > 10.0 { 0.3 } else { 0.01 },
                    significant: x > 10.0,
                    normal: Some([0.0, 0.0, 1.0]),
                }
            })
            .collect();
        let frame = map_frame([0.0, 0.0, 19.0, 19.0]);
        let bg = |_: [f64; 4], (w, h): (u32, u32)| {
            Some(RgbImage::from_pixel(w, h, image::Rgb([0, 200, 0])))
        };
        let outlines = vec![(
            1,
            vec![vec![
                [10.5, 0.0],
                [19.0, 0.0],
                [19.0, 19.0],
                [10.5, 19.0],
                [10.5, 0.0],
            ]],
        )];
        let img = map(&MapInput {
            frame,
            background: &bg,
            points: &pts,
            spacing: 1.0,
            limit: 0.3,
            signed: true,
            outlines: &outlines,
            x_label: "E",
            y_label: "N",
            bar_label: "m",
            grey_label: "not significant",
        })
        .unwrap();
        let count = |f: &dyn Fn(&image::Rgb<u8>) -> bool| img.pixels().filter(|p| f(p)).count();
        // The background shows through, the significant half is deep red, text is drawn.
        assert!(count(&|p| p.0 == [0, 200, 0]) > 1000);
        assert!(count(&|p| p.0[0] > 90 && p.0[1] < 40 && p.0[2] < 60) > 10_000);
        assert!(count(&|p| p.0 == [0, 0, 0]) > 500);
        let v = view3d(&pts, 1.0, 0.3, true, 1.0);
        assert!(
            v.pixels()
                .filter(|p| p.0[0] > 45 && p.0[1] < 15 && p.0[0] > 2 * p.0[2])
                .count()
                > 1000
        );
        let hist = histogram(&HistInput {
            values: &pts,
            limit: 0.3,
            signed: true,
            lod: Some(0.05),
            x_label: "d",
            y_label: "n",
            sig_label: "sig",
            nonsig_label: "not",
        })
        .unwrap();
        assert!(hist.pixels().filter(|p| p.0 == [170, 170, 170]).count() > 1000);
    }
}
