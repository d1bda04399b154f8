//! Tools (right) and the cross-section panel (bottom): inspect, measure, profiles.

use super::*;

pub(super) fn tools_panel(ui: &mut egui::Ui, v: &mut Viewer) {
    let lang = v.lang;
    ui.heading(S::Tool.t(lang));
    ui.horizontal(|ui| {
        let before = v.tool;
        ui.selectable_value(&mut v.tool, Tool::Inspect, S::Inspect.t(lang));
        ui.selectable_value(&mut v.tool, Tool::Measure, S::Measure.t(lang));
        ui.selectable_value(&mut v.tool, Tool::Profile, S::Profile.t(lang));
        if before != v.tool {
            v.picks.clear();
        }
    });
    match v.tool {
        Tool::Inspect => match v.picks.first() {
            None => {
                ui.label(S::ClickPoint.t(lang));
            }
            Some(p) => point_info(ui, v, p.clone()),
        },
        Tool::Measure => {
            if v.picks.len() == 2 {
                let (d, h, dz) = crate::app::inspect::measure(v.picks[0].world, v.picks[1].world);
                ui.label(RichText::new(format!("{}: {d:.3} m", S::Distance.t(lang))).strong());
                ui.label(format!(
                    "{} {h:.3} m · {} {dz:+.3} m",
                    S::Horizontal.t(lang),
                    S::Vertical.t(lang)
                ));
            } else {
                ui.label(S::ClickTwo.t(lang));
            }
        }
        Tool::Profile => {
            ui.horizontal(|ui| {
                ui.label(S::ProfileWidth.t(lang));
                let width = ui.add(
                    egui::DragValue::new(&mut v.profile_width)
                        .speed(0.05)
                        .range(0.05..=100.0),
                );
                // The open cross-section follows its width.
                if width.changed() {
                    if let Some(p) = &v.profile {
                        let (a, b) = (p.a, p.b);
                        v.profile = Some(crate::app::inspect::make_profile(v, a, b));
                    }
                }
            });
            if v.picks.len() < 2 {
                ui.label(S::ClickTwo.t(lang));
            }
        }
    }
}

pub(super) fn point_info(ui: &mut egui::Ui, v: &Viewer, p: crate::app::inspect::Pick) {
    let lang = v.lang;
    let Some(l) = v.layer(p.layer) else { return };
    let Some(c) = l.cloud() else { return };
    let crs = c
        .cloud
        .crs
        .as_ref()
        .map(|c| c.name.clone())
        .unwrap_or_else(|| S::Unknown.t(lang).into());
    egui::Grid::new("point_info")
        .num_columns(2)
        .striped(true)
        .show(ui, |ui| {
            ui.label(S::Layer.t(lang));
            ui.label(&l.name);
            ui.end_row();
            ui.label(S::Crs.t(lang));
            ui.label(crs);
            ui.end_row();
            for (k, name) in ["X", "Y", "Z"].iter().enumerate() {
                ui.label(*name);
                ui.monospace(format!("{:.3}", p.world[k]));
                ui.end_row();
            }
            let i = p.index;
            if let Some(v) = c.cloud.intensity.as_ref().and_then(|x| x.get(i)) {
                ui.label(S::ColIntensity.t(lang));
                ui.monospace(v.to_string());
                ui.end_row();
            }
            if let Some(v) = c.cloud.classification.as_ref().and_then(|x| x.get(i)) {
                ui.label(S::ColClassification.t(lang));
                ui.monospace(v.to_string());
                ui.end_row();
            }
            if let Some(v) = c.cloud.rgb.as_ref().and_then(|x| x.get(i)) {
                ui.label("RGB");
                ui.monospace(format!("{} {} {}", v[0], v[1], v[2]));
                ui.end_row();
            }
            for f in &c.cloud.scalars {
                if let Some(x) = f.values.get(i) {
                    ui.label(&f.name);
                    ui.monospace(if x.is_finite() {
                        format!("{x:.4}")
                    } else {
                        "NaN".into()
                    });
                    ui.end_row();
                }
            }
        });
}

/// Axes and a frame for a 2D plot; returns the data -> screen mapping.
pub(super) fn plot_frame(
    painter: &egui::Painter,
    rect: egui::Rect,
    xr: (f32, f32),
    yr: (f32, f32),
    xlabel: &str,
    ylabel: &str,
) -> impl Fn(f32, f32) -> egui::Pos2 {
    let inner = egui::Rect::from_min_max(
        rect.min + egui::vec2(48.0, 8.0),
        rect.max - egui::vec2(8.0, 22.0),
    );
    painter.rect_filled(rect, 2.0, Color32::from_gray(22));
    painter.rect_stroke(
        inner,
        0.0,
        egui::Stroke::new(1.0, Color32::from_gray(90)),
        egui::StrokeKind::Inside,
    );
    let font = egui::FontId::proportional(10.0);
    let (xs, ys) = ((xr.1 - xr.0).max(1e-6), (yr.1 - yr.0).max(1e-6));
    let to = move |x: f32, y: f32| {
        egui::pos2(
            inner.left() + (x - xr.0) / xs * inner.width(),
            inner.bottom() - (y - yr.0) / ys * inner.height(),
        )
    };
    for k in 0..=4 {
        let f = k as f32 / 4.0;
        let (x, y) = (xr.0 + f * xs, yr.0 + f * ys);
        painter.text(
            egui::pos2(to(x, yr.0).x, inner.bottom() + 2.0),
            egui::Align2::CENTER_TOP,
            format!("{x:.1}"),
            font.clone(),
            Color32::LIGHT_GRAY,
        );
        painter.text(
            egui::pos2(inner.left() - 4.0, to(xr.0, y).y),
            egui::Align2::RIGHT_CENTER,
            format!("{y:.2}"),
            font.clone(),
            Color32::LIGHT_GRAY,
        );
        painter.line_segment(
            [
                egui::pos2(inner.left(), to(xr.0, y).y),
                egui::pos2(inner.right(), to(xr.0, y).y),
            ],
            egui::Stroke::new(0.5, Color32::from_gray(50)),
        );
    }
    painter.text(
        egui::pos2(inner.right(), rect.bottom() - 1.0),
        egui::Align2::RIGHT_BOTTOM,
        xlabel,
        font.clone(),
        Color32::GRAY,
    );
    painter.text(
        egui::pos2(rect.left() + 2.0, rect.top() + 1.0),
        egui::Align2::LEFT_TOP,
        ylabel,
        font,
        Color32::GRAY,
    );
    to
}

pub(super) fn profile_panel(ui: &mut egui::Ui, v: &mut Viewer) {
    let lang = v.lang;
    let Some(p) = &v.profile else { return };
    ui.horizontal_wrapped(|ui| {
        ui.strong(S::Profile.t(lang));
        ui.label(format!(
            "({:.2}, {:.2}) → ({:.2}, {:.2}) · {} {:.2} m",
            p.a[0],
            p.a[1],
            p.b[0],
            p.b[1],
            S::ProfileWidth.t(lang),
            p.width
        ));
        for s in &p.series {
            // Until its corridor is read from the file, a partly held layer shows what it holds.
            let note = if s.full {
                String::new()
            } else {
                format!(" · {}", S::ProfileInView.t(lang))
            };
            ui.colored_label(
                c32(s.colour),
                format!("● {} ({}{note})", s.name, s.points.len()),
            );
        }
    });
    let len = ((p.b[0] - p.a[0]).hypot(p.b[1] - p.a[1])) as f32;
    let zs: Vec<f32> = p
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|q| q[1]))
        .collect();
    let (lo, hi) = (
        colour::percentile(zs.clone(), 0.0).unwrap_or(0.0),
        colour::percentile(zs, 1.0).unwrap_or(1.0),
    );
    let pad = ((hi - lo) * 0.05).max(0.05);
    let size = egui::vec2(ui.max_rect().width(), ui.available_height());
    let (resp, painter) =
        ui.allocate_painter(egui::vec2(size.x, size.y.max(120.0)), egui::Sense::hover());
    let to = plot_frame(
        &painter,
        resp.rect,
        (0.0, len.max(1e-3)),
        (lo - pad, hi + pad),
        S::AlongLine.t(lang),
        S::Height.t(lang),
    );
    for s in &p.series {
        let col = c32(s.colour);
        for q in &s.points {
            painter.circle_filled(to(q[0], q[1]), 1.3, col);
        }
    }
}
