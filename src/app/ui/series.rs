//! The series panel (right) and a core point's displacement-versus-date plot (bottom).

use super::*;
use crate::app::series::{class_at, point_series, value, SeriesColour};

/// Epoch slider, colour choice, classes and objects.
pub(super) fn series_panel(ui: &mut egui::Ui, v: &mut Viewer) {
    let lang = v.lang;
    let mut recolour = false;
    let mut fly = None;
    {
        let Some(s) = v.series.view.as_mut() else {
            return;
        };
        ui.heading(S::Series.t(lang));
        let n = s.summary.epochs.len();
        let mut k = s.epoch;
        let date = |k: usize| {
            s.summary
                .epochs
                .get(k)
                .map(|e| e.date.to_string())
                .unwrap_or_default()
        };
        ui.horizontal(|ui| {
            ui.label(S::SeriesEpoch.t(lang));
            ui.add(egui::Slider::new(&mut k, 0..=n.saturating_sub(1)).show_value(true));
        });
        let reference = if k == s.summary.reference {
            format!(" ({})", S::SeriesReference.t(lang))
        } else {
            String::new()
        };
        ui.monospace(format!("{}{reference}", date(k)));
        if k != s.epoch {
            s.epoch = k;
            s.colour = SeriesColour::Displacement;
            recolour = true;
        }
        let mut c = s.colour;
        ui.horizontal_wrapped(|ui| {
            ui.selectable_value(
                &mut c,
                SeriesColour::Displacement,
                S::SeriesDisplacement.t(lang),
            );
            ui.selectable_value(&mut c, SeriesColour::Velocity, S::SeriesVelocity.t(lang));
            ui.selectable_value(
                &mut c,
                SeriesColour::Acceleration,
                S::SeriesAcceleration.t(lang),
            );
            ui.selectable_value(&mut c, SeriesColour::Onset, S::SeriesOnset.t(lang));
        });
        if c != s.colour {
            s.colour = c;
            recolour = true;
        }
        if s.colour == SeriesColour::Onset {
            // The date legend: the epochs the onset can be.
            for e in s.summary.epochs.iter().skip(2) {
                let t = (e.decimal_year - s.summary.epochs[0].decimal_year)
                    / (s.summary.epochs[n - 1].decimal_year - s.summary.epochs[0].decimal_year)
                        .max(1e-9);
                ui.colored_label(c32(colour::sequential(t as f32)), format!("■ {}", e.date));
            }
        }
        ui.label(S::SeriesClasses.t(lang));
        egui::Grid::new("series_classes")
            .striped(true)
            .show(ui, |ui| {
                for (class, count) in &s.summary.classes {
                    if *count > 0 {
                        ui.label(class.name(lang));
                        ui.monospace(count.to_string());
                        ui.end_row();
                    }
                }
            });
        ui.label(S::SeriesObjects.t(lang));
        if s.summary.objects.is_empty() {
            ui.weak(S::SeriesNoObjects.t(lang));
        }
        for o in s.summary.objects.iter().take(20) {
            let onset = o.onset_date.map(|d| format!(" · {d}")).unwrap_or_default();
            let text = format!(
                "#{} {} · {:.0} m² · {:+.3} m/yr{onset}",
                o.id,
                o.class.name(lang),
                o.area_m2,
                o.velocity
            );
            if ui.button(text).clicked() {
                fly = Some(o.centre);
            }
        }
        ui.weak(S::SeriesPickHint.t(lang));
    }
    if recolour {
        v.show_series();
    }
    if let Some(xy) = fly {
        if let (Some(p), Some(o)) = (v.series_pick_near(xy), v.scene_origin) {
            v.focus_request = Some(v.data_to_bevy(p.world, o));
            v.picks = vec![p];
        }
    }
}

/// With three or more epochs loaded and no series yet: the button that runs one.
pub(super) fn series_run(ui: &mut egui::Ui, v: &mut Viewer) {
    let epochs = v.layers.iter().filter(|l| l.is_epoch()).count();
    if epochs < 3 {
        return;
    }
    ui.heading(v.t(S::Series));
    let busy = v.busy(JobKind::Change);
    if ui
        .add_enabled(!busy, egui::Button::new(v.t(S::SeriesRun)))
        .clicked()
    {
        v.start_series();
    }
    ui.separator();
}

/// Whether the first pick is a core point of the series (its plot then shows).
pub(super) fn series_pick(v: &Viewer) -> Option<usize> {
    let s = v.series.view.as_ref()?;
    let p = v.picks.first()?;
    (p.layer == s.layer).then_some(p.index)
}

/// The picked core point's displacement ± LoD95 against date, the fitted trend and the onset.
pub(super) fn series_plot(ui: &mut egui::Ui, v: &Viewer) {
    let lang = v.lang;
    let (Some(i), Some(s)) = (series_pick(v), v.series.view.as_ref()) else {
        return;
    };
    let Some(c) = v.layer(s.layer).and_then(|l| l.cloud()) else {
        return;
    };
    let cloud = &c.cloud;
    let pts = point_series(cloud, &s.summary, i);
    let onset = value(cloud, crate::fields::ONSET_YEAR, i);
    let w = cloud.world(i);
    ui.horizontal_wrapped(|ui| {
        ui.strong(format!("{} #{i}", S::SeriesPoint.t(lang)));
        ui.label(format!(
            "({:.2}, {:.2}, {:.2}) · {} · {} {:+.4} ± {:.4}{}",
            w[0],
            w[1],
            w[2],
            class_at(cloud, i).name(lang),
            S::SeriesVelocity.t(lang),
            value(cloud, crate::fields::VELOCITY, i),
            value(cloud, crate::fields::VELOCITY_SE, i),
            match s
                .summary
                .epochs
                .get(value(cloud, crate::fields::ONSET_INDEX, i).max(-1.0) as usize)
            {
                Some(e) if onset.is_finite() =>
                    format!(" · {} {}", S::SeriesOnsetAt.t(lang), e.date),
                _ => String::new(),
            }
        ));
    });
    let finite: Vec<&(f64, f32, f32)> = pts.iter().filter(|p| p.1.is_finite()).collect();
    let (t0, t1) = (
        pts.first().map_or(0.0, |p| p.0) as f32,
        pts.last().map_or(1.0, |p| p.0) as f32,
    );
    let lo = finite.iter().map(|p| p.1 - p.2).fold(0.0f32, f32::min);
    let hi = finite.iter().map(|p| p.1 + p.2).fold(0.0f32, f32::max);
    let pad = ((hi - lo) * 0.08).max(0.002);
    let tpad = ((t1 - t0) * 0.03).max(0.02);
    let size = egui::vec2(ui.max_rect().width(), ui.available_height());
    let (resp, painter) =
        ui.allocate_painter(egui::vec2(size.x, size.y.max(120.0)), egui::Sense::hover());
    let to = plot_frame(
        &painter,
        resp.rect,
        (t0 - tpad, t1 + tpad),
        (lo - pad, hi + pad),
        S::SeriesDate.t(lang),
        S::SeriesDisp.t(lang),
    );
    let zero = egui::Stroke::new(1.0, Color32::from_gray(120));
    painter.line_segment([to(t0 - tpad, 0.0), to(t1 + tpad, 0.0)], zero);
    if onset.is_finite() {
        painter.line_segment(
            [to(onset, lo - pad), to(onset, hi + pad)],
            egui::Stroke::new(2.0, Color32::from_rgb(240, 110, 40)),
        );
    } else {
        let (t, (y, u)): (Vec<f64>, (Vec<f64>, Vec<f64>)) = finite
            .iter()
            .map(|p| (p.0, (f64::from(p.1), f64::from(p.2.max(1e-4)))))
            .unzip();
        if let Some((a, b)) = crate::export::report::plots::fit_line(&t, &y, &u) {
            let at = |x: f32| (a + b * f64::from(x)) as f32;
            painter.line_segment(
                [to(t0, at(t0)), to(t1, at(t1))],
                egui::Stroke::new(1.5, Color32::from_rgb(120, 170, 230)),
            );
        }
    }
    let blue = Color32::from_rgb(90, 180, 255);
    for w in finite.windows(2) {
        painter.line_segment(
            [to(w[0].0 as f32, w[0].1), to(w[1].0 as f32, w[1].1)],
            egui::Stroke::new(1.5, blue),
        );
    }
    for (k, p) in pts.iter().enumerate() {
        if !p.1.is_finite() {
            continue;
        }
        let x = p.0 as f32;
        painter.line_segment(
            [to(x, p.1 - p.2), to(x, p.1 + p.2)],
            egui::Stroke::new(1.5, blue),
        );
        let highlight = k == s.epoch;
        painter.circle_filled(to(x, p.1), if highlight { 5.0 } else { 3.0 }, blue);
    }
}
