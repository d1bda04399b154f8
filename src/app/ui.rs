//! egui panels: top bar (file, language, view), layers (left), change detection, result and
//! tools (right), cross-section (bottom), legend, jobs and errors over the 3D view.
//! Plots are drawn with egui's painter: a histogram and two profiles do not need a plotting
//! crate (and none is released for egui 0.36 that we could verify against bevy_egui 0.42).

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
    fonts.font_data.insert("kizashi_jp".into(), Arc::new(egui::FontData::from_static(include_bytes!("../../assets/fonts/KizashiSansJP.otf"))));
    for fam in [egui::FontFamily::Proportional, egui::FontFamily::Monospace] {
        fonts.families.entry(fam).or_default().push("kizashi_jp".into());
    }
    ctx.set_fonts(fonts);
}

fn c32(c: [u8; 3]) -> Color32 {
    Color32::from_rgb(c[0], c[1], c[2])
}

/// The panel's parameters from epoch 1's point density, by the pipeline's one rule (the same
/// numbers `kizashi change` derives when given none).
pub fn defaults_from_density(v: &mut Viewer) {
    let Some(d) = v.change.e1.and_then(|id| v.layer(id)).and_then(|l| l.cloud()).map(|c| crate::pipeline::params::derive_for(&c.cloud)) else { return };
    v.change.cyl_radius = d.cyl_radius;
    v.change.normal_radii = d.normal_radii.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(", ");
    v.change.max_distance = d.max_distance;
    v.change.core_spacing = d.core_spacing;
    v.change.dod_cell = d.dod_cell;
    v.change.defaults_for = v.change.e1.zip(v.change.e2);
}

/// Starts change detection between the panel's two epochs (the same pipeline as the CLI).
pub fn start_change(v: &mut Viewer) -> Result<(), String> {
    let lang = v.lang;
    let (Some(a), Some(b)) = (v.change.e1, v.change.e2) else { return Err(S::NeedTwoEpochs.t(lang).into()) };
    if a == b {
        return Err(S::NeedTwoEpochs.t(lang).into());
    }
    let get = |id: u32| v.layer(id).and_then(|l| l.cloud().map(|c| (c.cloud.clone(), l.path.clone().unwrap_or_else(|| l.name.clone().into()))));
    let (Some((c1, p1)), Some((c2, p2))) = (get(a), get(b)) else { return Err(S::NeedTwoEpochs.t(lang).into()) };
    let radii: Result<Vec<f64>, _> = v.change.normal_radii.split([',', ' ', ';']).filter(|s| !s.trim().is_empty()).map(|s| s.trim().parse::<f64>()).collect();
    let radii = radii.map_err(|_| format!("{}: {}", S::NormalRadii.t(lang), v.change.normal_radii))?;
    let panel = change::Panel {
        method: v.change.method,
        cyl_radius: v.change.cyl_radius,
        normal_radii: radii,
        max_distance: v.change.max_distance,
        registration_error: v.change.registration_error,
        robust: v.change.robust,
        core_spacing: v.change.core_spacing,
    };
    let job = panel.job(p1, p2);
    change::validate_job(&job).map_err(|e| e.to_string())?;
    let register = v.change.register.then_some(if v.change.register_heading_only { crate::analysis::icp::Rotation::Vertical } else { crate::analysis::icp::Rotation::Full });
    let label = format!("{} ({})", S::ChangeDetection.t(lang), if job.method == Method::M3c2 { "M3C2" } else { "C2C" });
    let j = jobs::Job::spawn(label, move |p, cancel| {
        p.set_step("ICP");
        let (outcome, registration) = change::run_change_registered(&job, &c1, &c2, register, p, cancel).map_err(|e| e.to_string())?;
        Ok(jobs::Output::Change { outcome: Box::new(outcome), registration })
    });
    v.jobs.push((JobKind::Change, j));
    Ok(())
}

pub fn save_result(v: &mut Viewer, id: u32, path: std::path::PathBuf) {
    let Some((cloud, summary)) = v.layer(id).and_then(|l| l.cloud()).and_then(|c| c.summary.clone().map(|s| (c.cloud.clone(), s))) else { return };
    let label = format!("{} {}", S::SaveResult.t(v.lang), path.display());
    let j = jobs::Job::spawn(label, move |p, _| {
        p.set_step("write");
        change::write_result(&path, &cloud, &summary).map_err(|e| e.to_string())?;
        Ok(jobs::Output::Saved { path })
    });
    v.jobs.push((JobKind::Save, j));
}

/// 3D Tiles of a cloud layer (through `export::tiles3d`, as `kizashi export tiles`), with
/// every scalar field as a property attribute (a result's deformation first).
pub fn export_tiles(v: &mut Viewer, id: u32, dir: std::path::PathBuf) {
    let Some(l) = v.layer(id) else { return };
    let Some(c) = l.cloud() else { return };
    let cloud = c.cloud.clone();
    let mut attributes: Vec<String> = cloud.scalars.iter().map(|s| s.name.clone()).collect();
    if let ColourMode::Deformation { field, .. } = &c.mode {
        attributes.retain(|a| a != field);
        attributes.insert(0, field.clone());
    }
    let sources = vec![l.path.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| l.name.clone())];
    let label = format!("{} {}", S::ExportTiles.t(v.lang), dir.display());
    let j = jobs::Job::spawn(label, move |p, _| {
        p.set_step("3D Tiles");
        let opts = crate::export::tiles3d::Options { attributes, sources, ..Default::default() };
        crate::export::tiles3d::write_tileset(&cloud, &dir, &opts).map_err(|e| e.to_string())?;
        Ok(jobs::Output::Saved { path: crate::export::tiles3d::tileset_path(&dir) })
    });
    v.jobs.push((JobKind::Export, j));
}

/// Change objects of a result layer (as `kizashi objects`), GeoJSON in the data CRS.
pub fn export_objects(v: &mut Viewer, id: u32, path: std::path::PathBuf) {
    let Some(l) = v.layer(id) else { return };
    let Some(c) = l.cloud() else { return };
    let cloud = c.cloud.clone();
    let result = l.path.clone().unwrap_or_else(|| l.name.clone().into());
    let label = format!("{} {}", S::ExportObjects.t(v.lang), path.display());
    let j = jobs::Job::spawn(label, move |p, _| {
        p.set_step("objects");
        let job = crate::pipeline::objects::ObjectsJob { result, cell: None, min_area: 0.0, output: path.clone(), wgs84: false };
        crate::pipeline::objects::objects_of(&cloud, &job).map_err(|e| e.to_string())?;
        Ok(jobs::Output::Saved { path })
    });
    v.jobs.push((JobKind::Export, j));
}

/// The deformation report of a result layer (as `kizashi report`), in the viewer's language,
/// over the first orthophoto layer when there is one. A result computed in the viewer is
/// saved beside the report first: the report names its file and hash.
pub fn export_report(v: &mut Viewer, id: u32, path: std::path::PathBuf) {
    let Some(l) = v.layer(id) else { return };
    let Some(c) = l.cloud() else { return };
    let (cloud, summary, saved) = (c.cloud.clone(), c.summary.clone(), l.path.clone().filter(|p| p.is_file()));
    let ortho = v.layers.iter().find_map(|l| match &l.kind {
        LayerKind::Raster(r) if !r.is_dem => l.path.clone(),
        _ => None,
    });
    let lang = v.lang;
    let label = format!("{} {}", S::ExportReport.t(lang), path.display());
    let not_a_result = S::NotAResult.t(lang);
    let j = jobs::Job::spawn(label, move |p, cancel| {
        let result = match (saved, summary) {
            (Some(r), _) => r,
            (None, Some(s)) => {
                p.set_step("write");
                let r = path.with_extension("laz");
                change::write_result(&r, &cloud, &s).map_err(|e| e.to_string())?;
                r
            }
            (None, None) => return Err(not_a_result.into()),
        };
        let job = crate::pipeline::report::ReportJob {
            result,
            dod: None,
            objects: None,
            ortho,
            lang,
            output: path.clone(),
            title: None,
            min_area: None,
            command: Some("kizashi view (report from the viewer)".into()),
        };
        crate::pipeline::report::run_report(&job, p, cancel).map_err(|e| e.to_string())?;
        Ok(jobs::Output::Saved { path })
    });
    v.jobs.push((JobKind::Export, j));
}

/// DEM of difference of the two chosen epochs (as `kizashi dod`) with its change objects
/// beside it (`DOD.geojson`); the epochs are read again from their files.
pub fn export_dod(v: &mut Viewer, path: std::path::PathBuf) -> Result<(), String> {
    let lang = v.lang;
    let (Some(a), Some(b)) = (v.change.e1, v.change.e2) else { return Err(S::NeedTwoEpochs.t(lang).into()) };
    let file = |id: u32| v.layer(id).and_then(|l| l.path.clone()).filter(|p| p.is_file());
    let (Some(e1), Some(e2)) = (file(a), file(b)) else { return Err(S::NeedSavedEpochs.t(lang).into()) };
    let job = crate::pipeline::dod::DodJob {
        epoch1: e1,
        epoch2: e2,
        cell: v.change.dod_cell,
        stat: crate::analysis::dod::Stat::Mean,
        ground: false,
        registration_error: v.change.registration_error,
        objects: Some(path.with_extension("geojson")),
        output: path.clone(),
        min_area: 0.0,
        wgs84: false,
    };
    let label = format!("{} {}", S::ExportDod.t(lang), path.display());
    let j = jobs::Job::spawn(label, move |p, cancel| {
        crate::pipeline::dod::run_dod(&job, p, cancel).map_err(|e| e.to_string())?;
        Ok(jobs::Output::Saved { path })
    });
    v.jobs.push((JobKind::Export, j));
    Ok(())
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

fn save_as(v: &mut Viewer, filter: (&'static str, &'static [&'static str]), name: &'static str, answer: impl FnOnce(std::path::PathBuf) -> DialogResult + Send + 'static) {
    ask(v, move || rfd::FileDialog::new().add_filter(filter.0, filter.1).set_file_name(name).save_file().map(answer));
}

fn tiles_dialog(v: &mut Viewer, id: u32) {
    ask(v, move || rfd::FileDialog::new().pick_folder().map(|dir| DialogResult::Tiles(id, dir)));
}

fn open_dialog(v: &mut Viewer) {
    ask(v, || {
        rfd::FileDialog::new()
            .add_filter("LAS/LAZ/COPC, GeoTIFF", &["las", "laz", "tif", "tiff"])
            .add_filter("*", &["*"])
            .pick_files()
            .map(DialogResult::Open)
    });
}

fn save_dialog(v: &mut Viewer, id: u32) {
    save_as(v, ("LAZ", &["laz", "las"]), "change.laz", move |p| DialogResult::Save(id, p));
}

pub fn draw(mut contexts: EguiContexts, mut viewer: ResMut<Viewer>, mut commands: Commands, mut fonts_done: Local<bool>) -> Result {
    let ctx = contexts.ctx_mut()?.clone();
    if !*fonts_done {
        install_fonts(&ctx);
        *fonts_done = true;
    }
    let v = viewer.as_mut();
    let screen = ctx.viewport_rect();
    let mut root = egui::Ui::new(ctx.clone(), "kizashi_root".into(), egui::UiBuilder::new().layer_id(egui::LayerId::background()).max_rect(screen));
    let top = egui::Panel::top("top").show(&mut root, |ui| top_bar(ui, v)).response.rect.height();
    let left = egui::Panel::left("layers").resizable(true).default_size(270.0).show(&mut root, |ui| {
        egui::ScrollArea::vertical().show(ui, |ui| layers_panel(ui, v, &mut commands));
    }).response.rect.width();
    let right = egui::Panel::right("change").resizable(true).default_size(300.0).show(&mut root, |ui| {
        egui::ScrollArea::vertical().show(ui, |ui| {
            change_panel(ui, v);
            ui.separator();
            result_panel(ui, v);
            ui.separator();
            tools_panel(ui, v);
        });
    }).response.rect.width();
    let bottom = if v.profile.is_some() {
        egui::Panel::bottom("profile").resizable(true).default_size(220.0).show(&mut root, |ui| profile_panel(ui, v)).response.rect.height()
    } else {
        0.0
    };
    let central = egui::Rect::from_min_max(screen.min + egui::vec2(left, top), screen.max - egui::vec2(right, bottom));
    let ppp = ctx.pixels_per_point();
    v.view_rect = Some(bevy::math::Rect::new(central.min.x * ppp, central.min.y * ppp, central.max.x * ppp, central.max.y * ppp));
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
        ui.add(egui::Slider::new(&mut v.settings.exaggeration, 1.0..=10.0).max_decimals(1).suffix("×"));
        ui.label(v.t(S::PointSize));
        ui.add(egui::Slider::new(&mut v.settings.point_size, 0.3..=4.0).max_decimals(1));
        ui.label(v.t(S::PointBudget));
        let mut b = v.settings.budget as f64 / 1e6;
        if ui.add(egui::DragValue::new(&mut b).range(0.1..=50.0).speed(0.05).suffix(" M")).changed() {
            v.settings.budget = (b * 1e6) as usize;
        }
        let (shading, edl) = (v.t(S::Shading), v.t(S::EyeDome));
        ui.checkbox(&mut v.settings.edl, edl);
        if v.settings.edl {
            ui.add(egui::Slider::new(&mut v.settings.edl_strength, 0.05..=2.0).max_decimals(2));
        }
        ui.checkbox(&mut v.settings.rim, shading);
        ui.separator();
        let fps = if v.frame_ms > 0.0 { 1000.0 / v.frame_ms } else { 0.0 };
        ui.label(format!("{} {:.1} · {} {}", v.t(S::Fps), fps, fmt_count(v.points_drawn), v.t(S::PointsDrawn)));
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
        ColourMode::Deformation { field, .. } => format!("{}: {field}", v.t(S::ColDeformation)),
    }
}

fn layers_panel(ui: &mut egui::Ui, v: &mut Viewer, commands: &mut Commands) {
    ui.heading(v.t(S::Layers));
    if v.layers.is_empty() {
        ui.label(v.t(S::NoLayers));
    }
    let mut remove = None;
    let mut export = None;
    let mut recolour = None;
    let mut colourise = None;
    let ids: Vec<u32> = v.layers.iter().map(|l| l.id).collect();
    let has_dem = v.layers.iter().any(|l| matches!(&l.kind, LayerKind::Raster(r) if r.is_dem));
    for id in ids {
        let lang = v.lang;
        let clouds: Vec<(u32, String)> = v.layers.iter().filter(|l| l.is_epoch()).map(|l| (l.id, l.name.clone())).collect();
        let modes: Vec<ColourMode> = v.layers.iter().find(|l| l.id == id).and_then(|l| l.cloud()).map(|c| available_modes(c)).unwrap_or_default();
        let names: Vec<String> = modes.iter().map(|m| mode_name(v, m)).collect();
        let Some(l) = v.layers.iter_mut().find(|l| l.id == id) else { continue };
        ui.push_id(id, |ui| {
            egui::Frame::group(ui.style()).show(ui, |ui| {
                ui.horizontal(|ui| {
                    ui.checkbox(&mut l.visible, "");
                    ui.strong(&l.name).on_hover_text(l.path.as_ref().map(|p| p.display().to_string()).unwrap_or_default());
                });
                match &mut l.kind {
                    LayerKind::Cloud(c) => {
                        let crs = c.cloud.crs.as_ref().map(|c| c.epsg.map(|e| format!("EPSG:{e}")).unwrap_or_else(|| c.name.clone())).unwrap_or_else(|| S::Unknown.t(lang).into());
                        ui.label(format!("{} {} · {} {}", fmt_count(c.cloud.len()), S::Points.t(lang), S::Crs.t(lang), crs));
                        let current = modes.iter().position(|m| *m == c.mode);
                        let mut sel = current.unwrap_or(0);
                        egui::ComboBox::from_id_salt("colour").selected_text(current.map(|i| names[i].clone()).unwrap_or_default()).show_ui(ui, |ui| {
                            for (i, n) in names.iter().enumerate() {
                                ui.selectable_value(&mut sel, i, n);
                            }
                        });
                        if Some(sel) != current {
                            recolour = Some((id, modes[sel].clone()));
                        }
                    }
                    LayerKind::Raster(r) => {
                        ui.label(format!("{} · {}×{}", if r.is_dem { S::Dem.t(lang) } else { S::Orthophoto.t(lang) }, r.raster.size.0, r.raster.size.1));
                        if !r.is_dem {
                            if has_dem {
                                ui.checkbox(&mut r.on_dem, S::OnDem.t(lang));
                            }
                            ui.horizontal(|ui| {
                                ui.label(S::GroundHeight.t(lang));
                                let mut z = f64::from(r.drape_z) + r.origin[2];
                                if ui.add(egui::DragValue::new(&mut z).speed(0.1).max_decimals(2)).changed() {
                                    r.drape_z = (z - r.origin[2]) as f32;
                                }
                            });
                            for (cid, cname) in &clouds {
                                if ui.button(format!("{} → {cname}", S::Colourise.t(lang))).clicked() {
                                    colourise = Some((*cid, l.path.clone()));
                                }
                            }
                        }
                    }
                }
                for w in l.warnings.iter().take(4) {
                    ui.label(RichText::new(w).small().color(Color32::from_rgb(230, 190, 90)));
                }
                ui.horizontal(|ui| {
                    if l.cloud().is_some() && ui.small_button(S::ExportTiles.t(lang)).clicked() {
                        export = Some(id);
                    }
                    if ui.small_button(S::Remove.t(lang)).clicked() {
                        remove = Some(id);
                    }
                });
            });
        });
    }
    if let Some((id, m)) = recolour {
        v.set_colour(commands, id, m);
    }
    if let Some(id) = remove {
        v.remove_layer(commands, id);
    }
    if let Some(id) = export {
        tiles_dialog(v, id);
    }
    if let Some((cid, Some(path))) = colourise {
        if let Some(cloud) = v.layer(cid).and_then(|l| l.cloud()).map(|c| c.cloud.clone()) {
            let label = v.t(S::Colourise).to_string();
            v.jobs.push((JobKind::Colourise, jobs::Job::spawn(label, move |p, _| jobs::colourise(cid, cloud, path, p))));
        }
    }
    // Compare two epochs.
    let epochs: Vec<(u32, String)> = v.layers.iter().filter(|l| l.is_epoch()).map(|l| (l.id, l.name.clone())).collect();
    if epochs.len() >= 2 {
        ui.separator();
        ui.horizontal(|ui| {
            let lang = v.lang;
            ui.selectable_value(&mut v.compare.mode, CompareMode::Off, S::CompareOff.t(lang));
            ui.selectable_value(&mut v.compare.mode, CompareMode::Swipe, S::Swipe.t(lang));
            ui.selectable_value(&mut v.compare.mode, CompareMode::Blink, S::Blink.t(lang));
        });
        if v.compare.mode != CompareMode::Off {
            epoch_combo(ui, "cmp_a", "A", &epochs, &mut v.compare.a);
            epoch_combo(ui, "cmp_b", "B", &epochs, &mut v.compare.b);
            if v.compare.mode == CompareMode::Swipe {
                ui.add(egui::Slider::new(&mut v.compare.swipe, 0.0..=1.0).text(S::SwipePosition.t(v.lang)));
            }
        }
    }
    ui.separator();
    ui.label(RichText::new(v.t(S::Help)).small());
}

fn available_modes(c: &super::CloudLayer) -> Vec<ColourMode> {
    let mut m = Vec::new();
    if let Some(s) = &c.summary {
        match s.method {
            Method::M3c2 => m.push(ColourMode::Deformation { field: crate::fields::M3C2_DISTANCE.into(), significance: Some(crate::fields::M3C2_SIGNIFICANT.into()) }),
            Method::C2c => {
                m.push(ColourMode::Deformation { field: crate::fields::C2C_DZ.into(), significance: None });
                m.push(ColourMode::Deformation { field: crate::fields::C2C_DISTANCE.into(), significance: None });
            }
        }
    }
    if c.cloud.rgb.is_some() {
        m.push(ColourMode::Rgb);
    }
    m.push(ColourMode::Elevation);
    if c.cloud.intensity.is_some() {
        m.push(ColourMode::Intensity);
    }
    if c.cloud.classification.is_some() {
        m.push(ColourMode::Classification);
    }
    for f in &c.cloud.scalars {
        m.push(ColourMode::Field(f.name.clone()));
    }
    if !m.contains(&c.mode) {
        m.push(c.mode.clone());
    }
    m
}

fn epoch_combo(ui: &mut egui::Ui, id: &str, label: &str, epochs: &[(u32, String)], sel: &mut Option<u32>) {
    ui.horizontal(|ui| {
        ui.label(label);
        let text = epochs.iter().find(|e| Some(e.0) == *sel).map(|e| e.1.clone()).unwrap_or_else(|| "—".into());
        egui::ComboBox::from_id_salt(id).selected_text(text).width(190.0).show_ui(ui, |ui| {
            for (i, n) in epochs {
                ui.selectable_value(sel, Some(*i), n);
            }
        });
    });
}

fn change_panel(ui: &mut egui::Ui, v: &mut Viewer) {
    let lang = v.lang;
    ui.heading(S::ChangeDetection.t(lang));
    let epochs: Vec<(u32, String)> = v.layers.iter().filter(|l| l.is_epoch()).map(|l| (l.id, l.name.clone())).collect();
    if epochs.len() < 2 {
        ui.label(S::NeedTwoEpochs.t(lang));
        return;
    }
    epoch_combo(ui, "e1", S::Epoch1.t(lang), &epochs, &mut v.change.e1);
    epoch_combo(ui, "e2", S::Epoch2.t(lang), &epochs, &mut v.change.e2);
    if v.change.defaults_for != v.change.e1.zip(v.change.e2) {
        defaults_from_density(v);
    }
    ui.horizontal(|ui| {
        ui.label(S::Method.t(lang));
        ui.radio_value(&mut v.change.method, Method::M3c2, "M3C2");
        ui.radio_value(&mut v.change.method, Method::C2c, "C2C");
    });
    if v.change.method == Method::M3c2 {
        egui::Grid::new("m3c2_params").num_columns(2).show(ui, |ui| {
            fn dv(x: &mut f64) -> egui::DragValue<'_> {
                egui::DragValue::new(x).speed(0.05).range(0.0..=1e4).max_decimals(3)
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
            ui.add(egui::DragValue::new(&mut v.change.registration_error).speed(0.001).range(0.0..=10.0).max_decimals(4));
            ui.end_row();
        });
        ui.checkbox(&mut v.change.robust, S::Robust.t(lang));
    }
    ui.checkbox(&mut v.change.register, S::Register.t(lang));
    if v.change.register {
        ui.indent("heading_only", |ui| ui.checkbox(&mut v.change.register_heading_only, S::HeadingOnly.t(lang)));
    }
    ui.horizontal(|ui| {
        if ui.button(S::Defaults.t(lang)).clicked() {
            defaults_from_density(v);
        }
        let busy = v.busy(JobKind::Change);
        if ui.add_enabled(!busy, egui::Button::new(RichText::new(S::Run.t(lang)).strong())).clicked() {
            if let Err(e) = start_change(v) {
                v.errors.push(e);
            }
        }
    });
    ui.horizontal(|ui| {
        ui.label(S::DodCell.t(lang));
        ui.add(egui::DragValue::new(&mut v.change.dod_cell).speed(0.1).range(0.05..=1000.0).max_decimals(2));
        if ui.button(S::ExportDod.t(lang)).clicked() {
            save_as(v, ("GeoTIFF", &["tif", "tiff"]), "dod.tif", DialogResult::Dod);
        }
    });
}

fn result_panel(ui: &mut egui::Ui, v: &mut Viewer) {
    let lang = v.lang;
    let Some(l) = v.layers.iter().find(|l| l.cloud().is_some_and(|c| c.summary.is_some())) else { return };
    let id = l.id;
    let Some(c) = l.cloud() else { return };
    let Some(s) = &c.summary else { return };
    ui.heading(S::Result.t(lang));
    let n = s.core_points.max(1);
    ui.label(format!("{} {} · NaN {}", fmt_count(s.core_points), S::CorePoints.t(lang), fmt_count(s.nan)));
    if s.method == Method::M3c2 {
        ui.label(RichText::new(format!("{}: {} ({:.1} %)", S::Significant.t(lang), fmt_count(s.significant), 100.0 * s.significant as f64 / n as f64)).strong());
    }
    if let (Some(lo), Some(hi), Some(mean)) = (s.distance_min, s.distance_max, s.distance_mean) {
        ui.label(format!("min {lo:.3} m · max {hi:.3} m · mean {mean:.3} m"));
    }
    if let Some(r) = &v.change.registration {
        ui.label(format!("{}: {} {:.4} m, σ {:.4} m", S::Registration.t(lang), S::Rms.t(lang), r.rms, r.registration_error));
    }
    let field = match &c.mode {
        ColourMode::Deformation { field, .. } | ColourMode::Field(field) => field.clone(),
        _ => if s.method == Method::M3c2 { crate::fields::M3C2_DISTANCE.into() } else { crate::fields::C2C_DZ.into() },
    };
    if let Some(f) = c.cloud.scalar(&field) {
        ui.label(format!("{} ({field})", S::Histogram.t(lang)));
        histogram(ui, &f.values, c.range, &c.mode);
    }
    let m3c2 = s.method == Method::M3c2;
    if ui.button(S::SaveResult.t(lang)).clicked() {
        save_dialog(v, id);
    }
    ui.horizontal(|ui| {
        if m3c2 && ui.button(S::ExportObjects.t(lang)).clicked() {
            save_as(v, ("GeoJSON", &["geojson", "json"]), "objects.geojson", move |p| DialogResult::Objects(id, p));
        }
        if ui.button(S::ExportReport.t(lang)).clicked() {
            save_as(v, ("PDF, HTML", &["pdf", "html"]), "report.pdf", move |p| DialogResult::Report(id, p));
        }
    });
}

fn histogram(ui: &mut egui::Ui, values: &[f32], range: (f32, f32), mode: &ColourMode) {
    let bins = 40;
    let h = colour::histogram(values, range, bins);
    let max = h.iter().copied().max().unwrap_or(0).max(1) as f32;
    let (resp, painter) = ui.allocate_painter(egui::vec2(ui.available_width().min(280.0), 110.0), egui::Sense::hover());
    let r = resp.rect.shrink2(egui::vec2(2.0, 14.0));
    painter.rect_filled(resp.rect, 2.0, Color32::from_gray(24));
    let bw = r.width() / bins as f32;
    for (i, &c) in h.iter().enumerate() {
        let mid = range.0 + (i as f32 + 0.5) / bins as f32 * (range.1 - range.0);
        let col = match mode {
            ColourMode::Deformation { .. } => colour::diverging(mid, range.1.abs().max(range.0.abs())),
            _ => colour::sequential((i as f32 + 0.5) / bins as f32),
        };
        let top = r.bottom() - r.height() * (c as f32 / max);
        painter.rect_filled(egui::Rect::from_min_max(egui::pos2(r.left() + i as f32 * bw, top), egui::pos2(r.left() + (i + 1) as f32 * bw - 1.0, r.bottom())), 0.0, c32(col));
    }
    let font = egui::FontId::proportional(10.0);
    painter.text(egui::pos2(r.left(), resp.rect.bottom() - 1.0), egui::Align2::LEFT_BOTTOM, format!("{:.3}", range.0), font.clone(), Color32::LIGHT_GRAY);
    painter.text(egui::pos2(r.right(), resp.rect.bottom() - 1.0), egui::Align2::RIGHT_BOTTOM, format!("{:.3} m", range.1), font.clone(), Color32::LIGHT_GRAY);
    if range.0 < 0.0 && range.1 > 0.0 {
        let x = r.left() + r.width() * (-range.0 / (range.1 - range.0));
        painter.line_segment([egui::pos2(x, r.top()), egui::pos2(x, r.bottom())], egui::Stroke::new(1.0, Color32::WHITE));
    }
}

fn tools_panel(ui: &mut egui::Ui, v: &mut Viewer) {
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
                let (d, h, dz) = super::inspect::measure(v.picks[0].world, v.picks[1].world);
                ui.label(RichText::new(format!("{}: {d:.3} m", S::Distance.t(lang))).strong());
                ui.label(format!("{} {h:.3} m · {} {dz:+.3} m", S::Horizontal.t(lang), S::Vertical.t(lang)));
            } else {
                ui.label(S::ClickTwo.t(lang));
            }
        }
        Tool::Profile => {
            ui.horizontal(|ui| {
                ui.label(S::ProfileWidth.t(lang));
                ui.add(egui::DragValue::new(&mut v.profile_width).speed(0.05).range(0.05..=100.0));
            });
            if v.picks.len() < 2 {
                ui.label(S::ClickTwo.t(lang));
            }
        }
    }
}

fn point_info(ui: &mut egui::Ui, v: &Viewer, p: super::inspect::Pick) {
    let lang = v.lang;
    let Some(l) = v.layer(p.layer) else { return };
    let Some(c) = l.cloud() else { return };
    let crs = c.cloud.crs.as_ref().map(|c| c.name.clone()).unwrap_or_else(|| S::Unknown.t(lang).into());
    egui::Grid::new("point_info").num_columns(2).striped(true).show(ui, |ui| {
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
                ui.monospace(if x.is_finite() { format!("{x:.4}") } else { "NaN".into() });
                ui.end_row();
            }
        }
    });
}

/// Axes and a frame for a 2D plot; returns the data -> screen mapping.
fn plot_frame(painter: &egui::Painter, rect: egui::Rect, xr: (f32, f32), yr: (f32, f32), xlabel: &str, ylabel: &str) -> impl Fn(f32, f32) -> egui::Pos2 {
    let inner = egui::Rect::from_min_max(rect.min + egui::vec2(48.0, 8.0), rect.max - egui::vec2(8.0, 22.0));
    painter.rect_filled(rect, 2.0, Color32::from_gray(22));
    painter.rect_stroke(inner, 0.0, egui::Stroke::new(1.0, Color32::from_gray(90)), egui::StrokeKind::Inside);
    let font = egui::FontId::proportional(10.0);
    let (xs, ys) = ((xr.1 - xr.0).max(1e-6), (yr.1 - yr.0).max(1e-6));
    let to = move |x: f32, y: f32| egui::pos2(inner.left() + (x - xr.0) / xs * inner.width(), inner.bottom() - (y - yr.0) / ys * inner.height());
    for k in 0..=4 {
        let f = k as f32 / 4.0;
        let (x, y) = (xr.0 + f * xs, yr.0 + f * ys);
        painter.text(egui::pos2(to(x, yr.0).x, inner.bottom() + 2.0), egui::Align2::CENTER_TOP, format!("{x:.1}"), font.clone(), Color32::LIGHT_GRAY);
        painter.text(egui::pos2(inner.left() - 4.0, to(xr.0, y).y), egui::Align2::RIGHT_CENTER, format!("{y:.2}"), font.clone(), Color32::LIGHT_GRAY);
        painter.line_segment([egui::pos2(inner.left(), to(xr.0, y).y), egui::pos2(inner.right(), to(xr.0, y).y)], egui::Stroke::new(0.5, Color32::from_gray(50)));
    }
    painter.text(egui::pos2(inner.right(), rect.bottom() - 1.0), egui::Align2::RIGHT_BOTTOM, xlabel, font.clone(), Color32::GRAY);
    painter.text(egui::pos2(rect.left() + 2.0, rect.top() + 1.0), egui::Align2::LEFT_TOP, ylabel, font, Color32::GRAY);
    to
}

fn profile_panel(ui: &mut egui::Ui, v: &mut Viewer) {
    let lang = v.lang;
    let Some(p) = &v.profile else { return };
    ui.horizontal_wrapped(|ui| {
        ui.strong(S::Profile.t(lang));
        ui.label(format!("({:.2}, {:.2}) → ({:.2}, {:.2}) · {} {:.2} m", p.a[0], p.a[1], p.b[0], p.b[1], S::ProfileWidth.t(lang), p.width));
        for s in &p.series {
            ui.colored_label(c32(s.colour), format!("● {} ({})", s.name, s.points.len()));
        }
    });
    let len = ((p.b[0] - p.a[0]).hypot(p.b[1] - p.a[1])) as f32;
    let zs: Vec<f32> = p.series.iter().flat_map(|s| s.points.iter().map(|q| q[1])).collect();
    let (lo, hi) = (colour::percentile(zs.clone(), 0.0).unwrap_or(0.0), colour::percentile(zs, 1.0).unwrap_or(1.0));
    let pad = ((hi - lo) * 0.05).max(0.05);
    let size = egui::vec2(ui.max_rect().width(), ui.available_height());
    let (resp, painter) = ui.allocate_painter(egui::vec2(size.x, size.y.max(120.0)), egui::Sense::hover());
    let to = plot_frame(&painter, resp.rect, (0.0, len.max(1e-3)), (lo - pad, hi + pad), S::AlongLine.t(lang), S::Height.t(lang));
    for s in &p.series {
        let col = c32(s.colour);
        for q in &s.points {
            painter.circle_filled(to(q[0], q[1]), 1.3, col);
        }
    }
}

fn legend(ctx: &egui::Context, v: &Viewer, central: egui::Rect) {
    // The legend of the first visible result, else of the first visible cloud.
    let layer = v.layers.iter().filter(|l| l.shown).find(|l| l.cloud().is_some_and(|c| c.summary.is_some())).or_else(|| v.layers.iter().filter(|l| l.shown).find(|l| l.cloud().is_some()));
    let Some(l) = layer else { return };
    let Some(c) = l.cloud() else { return };
    if c.mode == ColourMode::Rgb {
        return;
    }
    let lang = v.lang;
    egui::Area::new(egui::Id::new("legend")).fixed_pos(central.right_bottom() + egui::vec2(-250.0, -150.0)).interactable(false).show(ctx, |ui| {
        egui::Frame::popup(ui.style()).show(ui, |ui| {
            ui.set_width(220.0);
            ui.strong(format!("{} — {}", S::Legend.t(lang), mode_name(v, &c.mode)));
            match &c.mode {
                ColourMode::Classification => {
                    for (k, name) in [(2u8, S::Ground), (3, S::Vegetation), (5, S::Vegetation), (6, S::Building), (9, S::Water), (1, S::Other)] {
                        ui.horizontal(|ui| {
                            let (r, p) = ui.allocate_painter(egui::vec2(14.0, 14.0), egui::Sense::hover());
                            p.rect_filled(r.rect, 2.0, c32(colour::class_colour(k)));
                            ui.label(format!("{k}: {}", name.t(lang)));
                        });
                    }
                }
                mode => {
                    let (resp, painter) = ui.allocate_painter(egui::vec2(210.0, 16.0), egui::Sense::hover());
                    let n = 64;
                    for i in 0..n {
                        let t = (i as f32 + 0.5) / n as f32;
                        let col = match mode {
                            ColourMode::Deformation { .. } => colour::diverging(2.0 * t - 1.0, 1.0),
                            ColourMode::Intensity => [(t * 255.0) as u8; 3],
                            _ => colour::sequential(t),
                        };
                        let x0 = resp.rect.left() + resp.rect.width() * i as f32 / n as f32;
                        let x1 = resp.rect.left() + resp.rect.width() * (i + 1) as f32 / n as f32 + 0.5;
                        painter.rect_filled(egui::Rect::from_min_max(egui::pos2(x0, resp.rect.top()), egui::pos2(x1, resp.rect.bottom())), 0.0, c32(col));
                    }
                    ui.horizontal(|ui| {
                        let unit = if matches!(mode, ColourMode::Intensity) { "" } else { " m" };
                        // Elevation colours use the cloud's local z: the legend shows heights.
                        let off = if matches!(mode, ColourMode::Elevation) { c.cloud.origin[2] } else { 0.0 };
                        ui.label(format!("{:.3}{unit}", f64::from(c.range.0) + off));
                        if matches!(mode, ColourMode::Deformation { .. }) {
                            ui.add_space(40.0);
                            ui.label("0");
                        }
                        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| ui.label(format!("{:.3}{unit}", f64::from(c.range.1) + off)));
                    });
                    if let ColourMode::Deformation { significance, .. } = mode {
                        if significance.is_some() {
                            ui.horizontal(|ui| {
                                let (r, p) = ui.allocate_painter(egui::vec2(14.0, 14.0), egui::Sense::hover());
                                p.rect_filled(r.rect, 2.0, c32(colour::NOT_SIGNIFICANT));
                                ui.label(S::NotSignificant.t(lang));
                            });
                        }
                        ui.horizontal(|ui| {
                            let (r, p) = ui.allocate_painter(egui::vec2(14.0, 14.0), egui::Sense::hover());
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
fn overlays(ctx: &egui::Context, v: &Viewer, central: egui::Rect) {
    let painter = ctx.layer_painter(egui::LayerId::new(egui::Order::Foreground, egui::Id::new("overlay"))).with_clip_rect(central);
    let ppp = ctx.pixels_per_point();
    if v.compare.mode == CompareMode::Swipe && v.compare.a.is_some() && v.compare.b.is_some() && v.compare.a != v.compare.b {
        let x = central.left() + v.compare.swipe * central.width();
        painter.line_segment([egui::pos2(x, central.top()), egui::pos2(x, central.bottom())], egui::Stroke::new(2.0, Color32::WHITE));
    }
    let (Some(view), Some(o)) = (v.view, v.scene_origin) else { return };
    let pts: Vec<egui::Pos2> = v.picks.iter().filter_map(|p| view.project(v.data_to_bevy(p.world, o)).map(|(px, _)| egui::pos2(px.x / ppp, px.y / ppp))).collect();
    for p in &pts {
        painter.circle_stroke(*p, 6.0, egui::Stroke::new(2.0, Color32::YELLOW));
    }
    if pts.len() == 2 {
        painter.line_segment([pts[0], pts[1]], egui::Stroke::new(2.0, Color32::YELLOW));
    }
}

fn jobs_window(ctx: &egui::Context, v: &mut Viewer, central: egui::Rect) {
    if v.jobs.is_empty() {
        return;
    }
    let lang = v.lang;
    egui::Area::new(egui::Id::new("jobs")).fixed_pos(central.left_bottom() + egui::vec2(12.0, -16.0 - 46.0 * v.jobs.len() as f32)).show(ctx, |ui| {
        egui::Frame::popup(ui.style()).show(ui, |ui| {
            ui.set_width(340.0);
            for (_, j) in &v.jobs {
                let (step, frac) = j.progress.get();
                ui.horizontal(|ui| {
                    ui.label(format!("{} · {step}", j.label));
                    if ui.small_button(S::Cancel.t(lang)).clicked() {
                        j.cancel.cancel();
                    }
                });
                match frac {
                    Some(f) => ui.add(egui::ProgressBar::new(f).show_percentage()),
                    None => ui.add(egui::ProgressBar::new(0.0).animate(true).text(S::Working.t(lang))),
                };
            }
        });
    });
    ctx.request_repaint();
}

fn errors_window(ctx: &egui::Context, v: &mut Viewer) {
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
            egui::ScrollArea::vertical().max_height(220.0).show(ui, |ui| {
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
fn notices(ctx: &egui::Context, v: &mut Viewer, central: egui::Rect) {
    if v.notices.is_empty() {
        return;
    }
    let lang = v.lang;
    let mut clear = false;
    egui::Area::new(egui::Id::new("notices")).fixed_pos(central.left_top() + egui::vec2(12.0, 12.0)).show(ctx, |ui| {
        egui::Frame::popup(ui.style()).show(ui, |ui| {
            for n in v.notices.iter().rev().take(3) {
                ui.label(RichText::new(format!("✔ {n}")).color(Color32::from_rgb(140, 220, 140)));
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
