//! Over the 3D view: legend, overlays, the jobs and errors windows, notices.

use super::*;

pub(super) fn legend(ctx: &egui::Context, v: &Viewer, central: egui::Rect) {
    // The legend of the first visible result, else of the first visible cloud.
    let layer = v
        .layers
        .iter()
        .filter(|l| l.shown)
        .find(|l| l.cloud().is_some_and(|c| c.summary.is_some()))
        .or_else(|| {
            v.layers
                .iter()
                .filter(|l| l.shown)
                .find(|l| l.cloud().is_some())
        });
    let Some(l) = layer else { return };
    let Some(c) = l.cloud() else { return };
    if c.mode == ColourMode::Rgb {
        return;
    }
    let lang = v.lang;
    egui::Area::new(egui::Id::new("legend"))
        .fixed_pos(central.right_bottom() + egui::vec2(-250.0, -150.0))
        .interactable(false)
        .show(ctx, |ui| {
            egui::Frame::popup(ui.style()).show(ui, |ui| {
                ui.set_width(220.0);
                ui.strong(format!("{} — {}", S::Legend.t(lang), mode_name(v, &c.mode)));
                match &c.mode {
                    ColourMode::Classification => {
                        for (k, name) in [
                            (2u8, S::Ground),
                            (3, S::Vegetation),
                            (5, S::Vegetation),
                            (6, S::Building),
                            (9, S::Water),
                            (7, S::LowNoise),
                            (1, S::Other),
                        ] {
                            ui.horizontal(|ui| {
                                let (r, p) = ui
                                    .allocate_painter(egui::vec2(14.0, 14.0), egui::Sense::hover());
                                p.rect_filled(r.rect, 2.0, c32(colour::class_colour(k)));
                                ui.label(format!("{k}: {}", name.t(lang)));
                            });
                        }
                    }
                    mode => {
                        let (resp, painter) =
                            ui.allocate_painter(egui::vec2(210.0, 16.0), egui::Sense::hover());
                        let n = 64;
                        for i in 0..n {
                            let t = (i as f32 + 0.5) / n as f32;
                            let col = match mode {
                                ColourMode::Deformation { .. } => {
                                    colour::diverging(2.0 * t - 1.0, 1.0)
                                }
                                ColourMode::Intensity => [(t * 255.0) as u8; 3],
                                _ => colour::sequential(t),
                            };
                            let x0 = resp.rect.left() + resp.rect.width() * i as f32 / n as f32;
                            let x1 = resp.rect.left()
                                + resp.rect.width() * (i + 1) as f32 / n as f32
                                + 0.5;
                            painter.rect_filled(
                                egui::Rect::from_min_max(
                                    egui::pos2(x0, resp.rect.top()),
                                    egui::pos2(x1, resp.rect.bottom()),
                                ),
                                0.0,
                                c32(col),
                            );
                        }
                        ui.horizontal(|ui| {
                            let unit = if matches!(mode, ColourMode::Intensity) {
                                ""
                            } else {
                                " m"
                            };
                            // Elevation colours use the cloud's local z: the legend shows heights.
                            let off = if matches!(mode, ColourMode::Elevation) {
                                c.cloud.origin[2]
                            } else {
                                0.0
                            };
                            ui.label(format!("{:.3}{unit}", f64::from(c.range.0) + off));
                            if matches!(mode, ColourMode::Deformation { .. }) {
                                ui.add_space(40.0);
                                ui.label("0");
                            }
                            ui.with_layout(
                                egui::Layout::right_to_left(egui::Align::Center),
                                |ui| ui.label(format!("{:.3}{unit}", f64::from(c.range.1) + off)),
                            );
                        });
                        if let ColourMode::Deformation { significance, .. } = mode {
                            if significance.is_some() {
                                ui.horizontal(|ui| {
                                    let (r, p) = ui.allocate_painter(
                                        egui::vec2(14.0, 14.0),
                                        egui::Sense::hover(),
                                    );
                                    p.rect_filled(r.rect, 2.0, c32(colour::NOT_SIGNIFICANT));
                                    ui.label(S::NotSignificant.t(lang));
                                });
                            }
                            ui.horizontal(|ui| {
                                let (r, p) = ui
                                    .allocate_painter(egui::vec2(14.0, 14.0), egui::Sense::hover());
                                p.rect_filled(r.rect, 2.0, c32(colour::NO_DATA));
                                ui.label(S::NoData.t(lang));
                            });
                        }
                    }
                }
            });
        });
}

/// Picks, the measured line and the swipe line, painted over the 3D view.
pub(super) fn overlays(ctx: &egui::Context, v: &Viewer, central: egui::Rect) {
    let painter = ctx
        .layer_painter(egui::LayerId::new(
            egui::Order::Foreground,
            egui::Id::new("overlay"),
        ))
        .with_clip_rect(central);
    let ppp = ctx.pixels_per_point();
    if v.compare.mode == CompareMode::Swipe
        && v.compare.a.is_some()
        && v.compare.b.is_some()
        && v.compare.a != v.compare.b
    {
        let x = central.left() + v.compare.swipe * central.width();
        painter.line_segment(
            [
                egui::pos2(x, central.top()),
                egui::pos2(x, central.bottom()),
            ],
            egui::Stroke::new(2.0, Color32::WHITE),
        );
    }
    let (Some(view), Some(o)) = (v.view, v.scene_origin) else {
        return;
    };
    let pts: Vec<egui::Pos2> = v
        .picks
        .iter()
        .filter_map(|p| {
            view.project(v.data_to_bevy(p.world, o))
                .map(|(px, _)| egui::pos2(px.x / ppp, px.y / ppp))
        })
        .collect();
    for p in &pts {
        painter.circle_stroke(*p, 6.0, egui::Stroke::new(2.0, Color32::YELLOW));
    }
    if pts.len() == 2 {
        painter.line_segment([pts[0], pts[1]], egui::Stroke::new(2.0, Color32::YELLOW));
    }
}

pub(super) fn jobs_window(ctx: &egui::Context, v: &mut Viewer, central: egui::Rect) {
    if v.jobs.is_empty() {
        return;
    }
    let lang = v.lang;
    egui::Area::new(egui::Id::new("jobs"))
        .fixed_pos(central.left_bottom() + egui::vec2(12.0, -16.0 - 46.0 * v.jobs.len() as f32))
        .show(ctx, |ui| {
            egui::Frame::popup(ui.style()).show(ui, |ui| {
                ui.set_width(340.0);
                for (_, j) in &v.jobs {
                    let (step, frac) = j.progress.get();
                    ui.horizontal(|ui| {
                        ui.label(format!(
                            "{} · {}",
                            j.label,
                            super::super::i18n::step_label(&step, lang)
                        ));
                        if ui.small_button(S::Cancel.t(lang)).clicked() {
                            j.cancel.cancel();
                        }
                    });
                    match frac {
                        Some(f) => ui.add(egui::ProgressBar::new(f).show_percentage()),
                        None => ui.add(
                            egui::ProgressBar::new(0.0)
                                // An animation asks egui for every frame.
                                .animate(!super::super::systems::idle_loading())
                                .text(S::Working.t(lang)),
                        ),
                    };
                }
            });
        });
}

pub(super) fn errors_window(ctx: &egui::Context, v: &mut Viewer) {
    if v.errors.is_empty() {
        return;
    }
    let lang = v.lang;
    let mut open = true;
    egui::Window::new(RichText::new(S::Errors.t(lang)).color(Color32::from_rgb(255, 120, 100)))
        .id(egui::Id::new("errors"))
        .collapsible(false)
        .resizable(true)
        .default_width(460.0)
        .anchor(egui::Align2::CENTER_TOP, egui::vec2(0.0, 60.0))
        .show(ctx, |ui| {
            egui::ScrollArea::vertical()
                .max_height(220.0)
                .show(ui, |ui| {
                    for e in &v.errors {
                        ui.label(format!("• {e}"));
                    }
                });
            if ui.button(S::Dismiss.t(lang)).clicked() {
                open = false;
            }
        });
    if !open {
        v.errors.clear();
    }
}

/// What finished well (saved files): a line at the top of the 3D view until dismissed.
pub(super) fn notices(ctx: &egui::Context, v: &mut Viewer, central: egui::Rect) {
    if v.notices.is_empty() {
        return;
    }
    let lang = v.lang;
    let mut clear = false;
    egui::Area::new(egui::Id::new("notices"))
        .fixed_pos(central.left_top() + egui::vec2(12.0, 12.0))
        .show(ctx, |ui| {
            egui::Frame::popup(ui.style()).show(ui, |ui| {
                for n in v.notices.iter().rev().take(3) {
                    ui.label(
                        RichText::new(format!("✔ {n}")).color(Color32::from_rgb(140, 220, 140)),
                    );
                }
                if ui.small_button(S::Dismiss.t(lang)).clicked() {
                    clear = true;
                }
            });
        });
    if clear {
        v.notices.clear();
    }
}
