//! The change-detection and result panels (right): epochs, parameters, the result histogram.

use super::*;

pub(super) fn epoch_combo(
    ui: &mut egui::Ui,
    id: &str,
    label: &str,
    epochs: &[(u32, String)],
    sel: &mut Option<u32>,
) {
    ui.horizontal(|ui| {
        ui.label(label);
        let text = epochs
            .iter()
            .find(|e| Some(e.0) == *sel)
            .map(|e| e.1.clone())
            .unwrap_or_else(|| "—".into());
        egui::ComboBox::from_id_salt(id)
            .selected_text(text)
            .width(190.0)
            .show_ui(ui, |ui| {
                for (i, n) in epochs {
                    ui.selectable_value(sel, Some(*i), n);
                }
            });
    });
}

pub(super) fn change_panel(ui: &mut egui::Ui, v: &mut Viewer) {
    let lang = v.lang;
    ui.heading(S::ChangeDetection.t(lang));
    let epochs: Vec<(u32, String)> = v
        .layers
        .iter()
        .filter(|l| l.is_epoch())
        .map(|l| (l.id, l.name.clone()))
        .collect();
    if epochs.len() < 2 {
        ui.label(S::NeedTwoEpochs.t(lang));
        return;
    }
    let before = (v.change.e1, v.change.e2);
    epoch_combo(ui, "e1", S::Epoch1.t(lang), &epochs, &mut v.change.e1);
    epoch_combo(ui, "e2", S::Epoch2.t(lang), &epochs, &mut v.change.e2);
    if (v.change.e1, v.change.e2) != before {
        v.change.epochs_chosen = true;
    }
    if v.change.defaults_for != v.change.e1.zip(v.change.e2) {
        defaults_from_density(v);
    }
    ui.horizontal(|ui| {
        ui.label(S::Method.t(lang));
        ui.radio_value(&mut v.change.method, Method::M3c2, "M3C2");
        ui.radio_value(&mut v.change.method, Method::C2c, "C2C");
    });
    if v.change.method == Method::M3c2 {
        egui::Grid::new("m3c2_params")
            .num_columns(2)
            .show(ui, |ui| {
                fn dv(x: &mut f64) -> egui::DragValue<'_> {
                    egui::DragValue::new(x)
                        .speed(0.05)
                        .range(0.0..=1e4)
                        .max_decimals(3)
                }
                ui.label(S::CoreSpacing.t(lang));
                ui.add(dv(&mut v.change.core_spacing));
                ui.end_row();
                ui.label(S::CylRadius.t(lang));
                ui.add(dv(&mut v.change.cyl_radius));
                ui.end_row();
                ui.label(S::NormalRadii.t(lang));
                ui.add(egui::TextEdit::singleline(&mut v.change.normal_radii).desired_width(90.0));
                ui.end_row();
                ui.label(S::MaxDistance.t(lang));
                ui.add(dv(&mut v.change.max_distance));
                ui.end_row();
                ui.label(S::RegError.t(lang));
                ui.add(
                    egui::DragValue::new(&mut v.change.registration_error)
                        .speed(0.001)
                        .range(0.0..=10.0)
                        .max_decimals(4),
                );
                ui.end_row();
            });
        ui.checkbox(&mut v.change.robust, S::Robust.t(lang));
    }
    ui.checkbox(&mut v.change.ground_only, S::GroundOnly.t(lang));
    ui.checkbox(&mut v.change.register, S::Register.t(lang));
    if v.change.register {
        ui.indent("heading_only", |ui| {
            ui.checkbox(&mut v.change.register_heading_only, S::HeadingOnly.t(lang))
        });
    }
    ui.horizontal(|ui| {
        if ui.button(S::Defaults.t(lang)).clicked() {
            defaults_from_density(v);
        }
        let busy = v.busy(JobKind::Change);
        if ui
            .add_enabled(
                !busy,
                egui::Button::new(RichText::new(S::Run.t(lang)).strong()),
            )
            .clicked()
        {
            if let Err(e) = start_change(v) {
                v.errors.push(e);
            }
        }
    });
    ui.horizontal(|ui| {
        ui.label(S::DodCell.t(lang));
        ui.add(
            egui::DragValue::new(&mut v.change.dod_cell)
                .speed(0.1)
                .range(0.05..=1000.0)
                .max_decimals(2),
        );
        if ui.button(S::ExportDod.t(lang)).clicked() {
            save_as(
                v,
                ("GeoTIFF", &["tif", "tiff"]),
                "dod.tif",
                DialogResult::Dod,
            );
        }
    });
    if ui.button(S::SaveSession.t(lang)).clicked() {
        save_as(v, ("TOML", &["toml"]), "site.toml", DialogResult::Session);
    }
}

pub(super) fn result_panel(ui: &mut egui::Ui, v: &mut Viewer) {
    let lang = v.lang;
    let Some(l) = v
        .layers
        .iter()
        .find(|l| l.cloud().is_some_and(|c| c.summary.is_some()))
    else {
        return;
    };
    let id = l.id;
    let Some(c) = l.cloud() else { return };
    let Some(s) = &c.summary else { return };
    ui.heading(S::Result.t(lang));
    let n = s.core_points.max(1);
    ui.label(format!(
        "{} {} · NaN {}",
        fmt_count(s.core_points),
        S::CorePoints.t(lang),
        fmt_count(s.nan)
    ));
    if s.method == Method::M3c2 {
        ui.label(
            RichText::new(format!(
                "{}: {} ({:.1} %)",
                S::Significant.t(lang),
                fmt_count(s.significant),
                100.0 * s.significant as f64 / n as f64
            ))
            .strong(),
        );
    }
    if let (Some(lo), Some(hi), Some(mean)) = (s.distance_min, s.distance_max, s.distance_mean) {
        ui.label(format!("min {lo:.3} m · max {hi:.3} m · mean {mean:.3} m"));
    }
    if let Some(r) = &v.change.registration {
        ui.label(format!(
            "{}: {} {:.4} m, σ {:.4} m",
            S::Registration.t(lang),
            S::Rms.t(lang),
            r.rms,
            r.registration_error
        ));
    }
    let field = match &c.mode {
        ColourMode::Deformation { field, .. } | ColourMode::Field(field) => field.clone(),
        _ => {
            if s.method == Method::M3c2 {
                crate::fields::M3C2_DISTANCE.into()
            } else {
                crate::fields::C2C_DZ.into()
            }
        }
    };
    if let Some(f) = c.cloud.scalar(&field) {
        ui.label(format!("{} ({field})", S::Histogram.t(lang)));
        let bins = c.histogram.bins(&field, &f.values, c.range, 40);
        histogram(ui, &bins, c.range, &c.mode);
    }
    let m3c2 = s.method == Method::M3c2;
    if ui.button(S::SaveResult.t(lang)).clicked() {
        save_dialog(v, id);
    }
    ui.horizontal(|ui| {
        if m3c2 && ui.button(S::ExportObjects.t(lang)).clicked() {
            save_as(
                v,
                ("GeoJSON", &["geojson", "json"]),
                "objects.geojson",
                move |p| DialogResult::Objects(id, p),
            );
        }
        if ui.button(S::ExportReport.t(lang)).clicked() {
            save_as(v, ("PDF, HTML", &["pdf", "html"]), "report.pdf", move |p| {
                DialogResult::Report(id, p)
            });
        }
    });
}

pub(super) fn histogram(ui: &mut egui::Ui, h: &[usize], range: (f32, f32), mode: &ColourMode) {
    let bins = h.len().max(1);
    let max = h.iter().copied().max().unwrap_or(0).max(1) as f32;
    let (resp, painter) = ui.allocate_painter(
        egui::vec2(ui.available_width().min(280.0), 110.0),
        egui::Sense::hover(),
    );
    let r = resp.rect.shrink2(egui::vec2(2.0, 14.0));
    painter.rect_filled(resp.rect, 2.0, Color32::from_gray(24));
    let bw = r.width() / bins as f32;
    for (i, &c) in h.iter().enumerate() {
        let mid = range.0 + (i as f32 + 0.5) / bins as f32 * (range.1 - range.0);
        let col = match mode {
            ColourMode::Deformation { .. } => {
                colour::diverging(mid, range.1.abs().max(range.0.abs()))
            }
            _ => colour::sequential((i as f32 + 0.5) / bins as f32),
        };
        let top = r.bottom() - r.height() * (c as f32 / max);
        painter.rect_filled(
            egui::Rect::from_min_max(
                egui::pos2(r.left() + i as f32 * bw, top),
                egui::pos2(r.left() + (i + 1) as f32 * bw - 1.0, r.bottom()),
            ),
            0.0,
            c32(col),
        );
    }
    let font = egui::FontId::proportional(10.0);
    painter.text(
        egui::pos2(r.left(), resp.rect.bottom() - 1.0),
        egui::Align2::LEFT_BOTTOM,
        format!("{:.3}", range.0),
        font.clone(),
        Color32::LIGHT_GRAY,
    );
    painter.text(
        egui::pos2(r.right(), resp.rect.bottom() - 1.0),
        egui::Align2::RIGHT_BOTTOM,
        format!("{:.3} m", range.1),
        font.clone(),
        Color32::LIGHT_GRAY,
    );
    if range.0 < 0.0 && range.1 > 0.0 {
        let x = r.left() + r.width() * (-range.0 / (range.1 - range.0));
        painter.line_segment(
            [egui::pos2(x, r.top()), egui::pos2(x, r.bottom())],
            egui::Stroke::new(1.0, Color32::WHITE),
        );
    }
}
