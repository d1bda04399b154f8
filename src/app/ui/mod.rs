//! egui panels: top bar (file, language, view), layers (left), change detection, result and
//! tools (right), cross-section (bottom), legend, jobs and errors over the 3D view.
//! Plots are drawn with egui's painter: a histogram and two profiles do not need a plotting
//! crate (and none is released for egui 0.36 that we could verify against bevy_egui 0.42).

mod actions;
mod detection;
mod layers;
mod overlays;
mod series;
mod tools;

pub use actions::*;
use detection::*;
pub use layers::start_classify;
use layers::*;
use overlays::*;
use series::*;
use tools::*;

use super::colour::{self, ColourMode};
use super::i18n::{Lang, S};
use super::{jobs, CompareMode, DialogResult, JobKind, LayerKind, Tool, Viewer};
use crate::pipeline::change::{self, Method};
use bevy::prelude::*;
use bevy_egui::{egui, EguiContexts};
use egui::{Color32, RichText};
use std::sync::Arc;

pub fn install_fonts(ctx: &egui::Context) {
    let mut fonts = egui::FontDefinitions::default();
    // Bundled (scripts/make_font.py): Japanese renders on machines without CJK fonts.
    fonts.font_data.insert(
        "kizashi_jp".into(),
        Arc::new(egui::FontData::from_static(include_bytes!(
            "../../../assets/fonts/KizashiSansJP.otf"
        ))),
    );
    for fam in [egui::FontFamily::Proportional, egui::FontFamily::Monospace] {
        fonts
            .families
            .entry(fam)
            .or_default()
            .push("kizashi_jp".into());
    }
    ctx.set_fonts(fonts);
}

fn c32(c: [u8; 3]) -> Color32 {
    Color32::from_rgb(c[0], c[1], c[2])
}

/// A native dialog in a thread (it blocks); its answer comes back through `v.dialogs`.
fn ask(v: &mut Viewer, dialog: impl FnOnce() -> Option<DialogResult> + Send + 'static) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        if let Some(answer) = dialog() {
            let _ = tx.send(answer);
        }
    });
    v.dialogs.push(std::sync::Mutex::new(rx));
}

fn save_as(
    v: &mut Viewer,
    filter: (&'static str, &'static [&'static str]),
    name: &'static str,
    answer: impl FnOnce(std::path::PathBuf) -> DialogResult + Send + 'static,
) {
    ask(v, move || {
        rfd::FileDialog::new()
            .add_filter(filter.0, filter.1)
            .set_file_name(name)
            .save_file()
            .map(answer)
    });
}

fn tiles_dialog(v: &mut Viewer, id: u32) {
    ask(v, move || {
        rfd::FileDialog::new()
            .pick_folder()
            .map(|dir| DialogResult::Tiles(id, dir))
    });
}

fn copc_dialog(v: &mut Viewer, id: u32) {
    save_as(v, ("COPC", &["laz"]), "cloud.copc.laz", move |p| {
        DialogResult::Copc(id, p)
    });
}

fn open_dialog(v: &mut Viewer) {
    ask(v, || {
        rfd::FileDialog::new()
            .add_filter(
                "LAS/LAZ/COPC, GeoTIFF, GSI DEM, job file",
                &["las", "laz", "tif", "tiff", "xml", "zip", "toml"],
            )
            .add_filter("*", &["*"])
            .pick_files()
            .map(DialogResult::Open)
    });
}

fn save_dialog(v: &mut Viewer, id: u32) {
    save_as(v, ("LAZ", &["laz", "las"]), "change.laz", move |p| {
        DialogResult::Save(id, p)
    });
}

pub fn draw(
    mut contexts: EguiContexts,
    mut viewer: ResMut<Viewer>,
    mut commands: Commands,
    mut fonts_done: Local<bool>,
    proxy: Option<Res<bevy::winit::EventLoopProxyWrapper>>,
) -> Result {
    let ctx = contexts.ctx_mut()?.clone();
    if !*fonts_done {
        install_fonts(&ctx);
        *fonts_done = true;
        // bevy_egui's callback (set when the context was made) wakes the event loop whenever
        // egui asks to repaint; while the app idles on a file being loaded it must not.
        if let Some(proxy) = proxy {
            let proxy = (**proxy).clone();
            ctx.set_request_repaint_callback(move |info| {
                if info.delay.is_zero() && !super::systems::idle_loading() {
                    let _ = proxy.send_event(bevy::winit::WinitUserEvent::WakeUp);
                }
            });
        }
    }
    let v = viewer.as_mut();
    if v.refresh_series() {
        v.show_series();
    }
    if v.series.view.is_some() {
        if let Some(k) = v.series.epoch_request.take() {
            if let Some(s) = v.series.view.as_mut() {
                s.epoch = k.min(s.summary.epochs.len().saturating_sub(1));
            }
            v.show_series();
        }
        if let Some(xy) = v.series.pick_request.take() {
            v.tool = Tool::Inspect;
            v.picks = v.series_pick_near(xy).into_iter().collect();
        }
    }
    let screen = ctx.viewport_rect();
    let mut root = egui::Ui::new(
        ctx.clone(),
        "kizashi_root".into(),
        egui::UiBuilder::new()
            .layer_id(egui::LayerId::background())
            .max_rect(screen),
    );
    let top = egui::Panel::top("top")
        .show(&mut root, |ui| top_bar(ui, v))
        .response
        .rect
        .height();
    let left = egui::Panel::left("layers")
        .resizable(true)
        .default_size(270.0)
        .show(&mut root, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| layers_panel(ui, v, &mut commands));
        })
        .response
        .rect
        .width();
    let right = egui::Panel::right("change")
        .resizable(true)
        .default_size(300.0)
        .show(&mut root, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| {
                if v.series.view.is_some() {
                    series_panel(ui, v);
                    ui.separator();
                } else {
                    series_run(ui, v);
                }
                change_panel(ui, v);
                ui.separator();
                result_panel(ui, v);
                ui.separator();
                tools_panel(ui, v);
            });
        })
        .response
        .rect
        .width();
    let bottom = if v.profile.is_some() {
        egui::Panel::bottom("profile")
            .resizable(true)
            .default_size(220.0)
            .show(&mut root, |ui| profile_panel(ui, v))
            .response
            .rect
            .height()
    } else if series_pick(v).is_some() {
        egui::Panel::bottom("series_plot")
            .resizable(true)
            .default_size(230.0)
            .show(&mut root, |ui| series_plot(ui, v))
            .response
            .rect
            .height()
    } else {
        0.0
    };
    let central = egui::Rect::from_min_max(
        screen.min + egui::vec2(left, top),
        screen.max - egui::vec2(right, bottom),
    );
    let ppp = ctx.pixels_per_point();
    v.view_rect = Some(bevy::math::Rect::new(
        central.min.x * ppp,
        central.min.y * ppp,
        central.max.x * ppp,
        central.max.y * ppp,
    ));
    legend(&ctx, v, central);
    overlays(&ctx, v, central);
    jobs_window(&ctx, v, central);
    errors_window(&ctx, v);
    notices(&ctx, v, central);
    Ok(())
}

fn top_bar(ui: &mut egui::Ui, v: &mut Viewer) {
    ui.horizontal_wrapped(|ui| {
        ui.strong("兆し Kizashi");
        ui.separator();
        if ui.button(v.t(S::OpenFiles)).clicked() {
            open_dialog(v);
        }
        ui.separator();
        ui.label(v.t(S::Language));
        let mut lang = v.lang;
        ui.selectable_value(&mut lang, Lang::Ja, "日本語");
        ui.selectable_value(&mut lang, Lang::En, "English");
        v.lang = lang;
        ui.separator();
        if ui.button(v.t(S::ViewTop)).clicked() {
            v.preset_request = Some(super::camera::Preset::Top);
        }
        if ui.button(v.t(S::ViewSide)).clicked() {
            v.preset_request = Some(super::camera::Preset::Side);
        }
        if ui.button(v.t(S::ViewReset)).clicked() {
            v.preset_request = Some(super::camera::Preset::Reset);
        }
        ui.separator();
        ui.label(v.t(S::Exaggeration));
        ui.add(
            egui::Slider::new(&mut v.settings.exaggeration, 1.0..=10.0)
                .max_decimals(1)
                .suffix("×"),
        );
        ui.label(v.t(S::PointSize));
        ui.add(egui::Slider::new(&mut v.settings.point_size, 0.3..=4.0).max_decimals(1));
        ui.label(v.t(S::PointBudget));
        let mut b = v.settings.budget as f64 / 1e6;
        if ui
            .add(
                egui::DragValue::new(&mut b)
                    .range(0.1..=50.0)
                    .speed(0.05)
                    .suffix(" M"),
            )
            .changed()
        {
            v.settings.budget = (b * 1e6) as usize;
        }
        let (shading, edl) = (v.t(S::Shading), v.t(S::EyeDome));
        ui.checkbox(&mut v.settings.edl, edl);
        if v.settings.edl {
            ui.add(egui::Slider::new(&mut v.settings.edl_strength, 0.05..=2.0).max_decimals(2));
        }
        ui.checkbox(&mut v.settings.rim, shading);
        ui.separator();
        let fps = if v.frame_ms > 0.0 {
            1000.0 / v.frame_ms
        } else {
            0.0
        };
        ui.label(format!(
            "{} {:.1} · {} {}",
            v.t(S::Fps),
            fps,
            fmt_count(v.points_drawn),
            v.t(S::PointsDrawn)
        ));
    });
}

fn fmt_count(n: usize) -> String {
    if n >= 1_000_000 {
        format!("{:.2} M", n as f64 / 1e6)
    } else if n >= 10_000 {
        format!("{:.0} k", n as f64 / 1e3)
    } else {
        n.to_string()
    }
}

fn mode_name(v: &Viewer, m: &ColourMode) -> String {
    match m {
        ColourMode::Rgb => v.t(S::ColRgb).into(),
        ColourMode::Intensity => v.t(S::ColIntensity).into(),
        ColourMode::Elevation => v.t(S::ColElevation).into(),
        ColourMode::Classification => v.t(S::ColClassification).into(),
        ColourMode::Field(f) => format!("{}: {f}", v.t(S::ColField)),
        ColourMode::Deformation { field, .. } => {
            // A series epoch's displacement is named by its date.
            let date = v.series.view.as_ref().and_then(|s| {
                s.summary
                    .epochs
                    .iter()
                    .enumerate()
                    .find(|(k, _)| crate::fields::displacement(*k) == *field)
                    .map(|(_, e)| e.date.to_string())
            });
            format!(
                "{}: {}",
                v.t(S::ColDeformation),
                date.as_deref().unwrap_or(field)
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every character of every string, in both languages, has a glyph once our fonts are in
    /// (a new string with a kanji outside the bundled subset fails here: rerun make_font.py).
    #[test]
    fn bundled_font_renders_every_string() {
        let ctx = egui::Context::default();
        install_fonts(&ctx);
        let _ = ctx.run_ui(Default::default(), |_| {});
        let font = egui::FontId::proportional(14.0);
        ctx.fonts_mut(|f| {
            for s in S::ALL {
                for lang in [Lang::En, Lang::Ja] {
                    for c in s.t(lang).chars().filter(|c| !c.is_whitespace()) {
                        assert!(f.has_glyph(&font, c), "no glyph for {c:?} in {s:?}");
                    }
                }
            }
            // And the common kanji of place names and survey words.
            for c in "兆山口県河川砂防堤防法面崩壊地盤沈下隆起測量".chars() {
                assert!(f.has_glyph(&font, c), "no glyph for {c:?}");
            }
        });
    }
}
