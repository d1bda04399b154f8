//! The layers panel (left): files, their colour modes, orthophoto options.

use super::*;

pub(super) fn layers_panel(ui: &mut egui::Ui, v: &mut Viewer, commands: &mut Commands) {
    ui.heading(v.t(S::Layers));
    if v.layers.is_empty() {
        ui.label(v.t(S::NoLayers));
    }
    let mut remove = None;
    let mut export = None;
    let mut classify = None;
    let mut copc = None;
    let mut recolour = None;
    let mut colourise = None;
    let ids: Vec<u32> = v.layers.iter().map(|l| l.id).collect();
    let has_dem = v
        .layers
        .iter()
        .any(|l| matches!(&l.kind, LayerKind::Raster(r) if r.is_dem));
    for id in ids {
        let lang = v.lang;
        let clouds: Vec<(u32, String)> = v
            .layers
            .iter()
            .filter(|l| l.is_epoch())
            .map(|l| (l.id, l.name.clone()))
            .collect();
        let modes: Vec<ColourMode> = v
            .layers
            .iter()
            .find(|l| l.id == id)
            .and_then(|l| l.cloud())
            .map(available_modes)
            .unwrap_or_default();
        let names: Vec<String> = modes.iter().map(|m| mode_name(v, m)).collect();
        let Some(l) = v.layers.iter_mut().find(|l| l.id == id) else {
            continue;
        };
        ui.push_id(id, |ui| {
            egui::Frame::group(ui.style()).show(ui, |ui| {
                ui.horizontal(|ui| {
                    ui.checkbox(&mut l.visible, "");
                    ui.strong(&l.name).on_hover_text(
                        l.path
                            .as_ref()
                            .map(|p| p.display().to_string())
                            .unwrap_or_default(),
                    );
                });
                match &mut l.kind {
                    LayerKind::Cloud(c) => {
                        let crs = c
                            .cloud
                            .crs
                            .as_ref()
                            .map(|c| {
                                c.epsg
                                    .map(|e| format!("EPSG:{e}"))
                                    .unwrap_or_else(|| c.name.clone())
                            })
                            .unwrap_or_else(|| S::Unknown.t(lang).into());
                        ui.label(format!(
                            "{} {} · {} {}",
                            fmt_count(c.cloud.len()),
                            S::Points.t(lang),
                            S::Crs.t(lang),
                            crs
                        ));
                        // Read on demand: the file's size and the node cache's.
                        if let Some(p) = &c.paged {
                            let mb = |b: usize| (b as f64 / f64::from(1 << 20)).round();
                            ui.label(
                                RichText::new(format!(
                                    "{} {} {} · {} {} / {} MB{}",
                                    S::OnDemand.t(lang),
                                    fmt_count(p.total as usize),
                                    S::Points.t(lang),
                                    S::Cache.t(lang),
                                    mb(p.cached().1),
                                    mb(p.cap),
                                    if p.busy() {
                                        format!(" · {}…", S::Loading.t(lang))
                                    } else {
                                        String::new()
                                    }
                                ))
                                .small()
                                .color(Color32::from_rgb(140, 190, 240)),
                            );
                        } else if let Some(total) = c.overview_of {
                            // Streaming: the overview is drawn while the rest is read.
                            ui.label(
                                RichText::new(format!(
                                    "{} {} {} · {}…",
                                    S::Overview.t(lang),
                                    fmt_count(total as usize),
                                    S::Points.t(lang),
                                    S::Loading.t(lang)
                                ))
                                .small()
                                .color(Color32::from_rgb(140, 190, 240)),
                            );
                        }
                        let current = modes.iter().position(|m| *m == c.mode);
                        let mut sel = current.unwrap_or(0);
                        egui::ComboBox::from_id_salt("colour")
                            .selected_text(current.map(|i| names[i].clone()).unwrap_or_default())
                            .show_ui(ui, |ui| {
                                for (i, n) in names.iter().enumerate() {
                                    ui.selectable_value(&mut sel, i, n);
                                }
                            });
                        if Some(sel) != current {
                            recolour = Some((id, modes[sel].clone()));
                        }
                    }
                    LayerKind::Raster(r) => {
                        ui.label(format!(
                            "{} · {}×{}",
                            if r.is_dem {
                                S::Dem.t(lang)
                            } else {
                                S::Orthophoto.t(lang)
                            },
                            r.raster.size.0,
                            r.raster.size.1
                        ));
                        if !r.is_dem {
                            if has_dem {
                                ui.checkbox(&mut r.on_dem, S::OnDem.t(lang));
                            }
                            ui.horizontal(|ui| {
                                ui.label(S::GroundHeight.t(lang));
                                let mut z = f64::from(r.drape_z) + r.origin[2];
                                if ui
                                    .add(egui::DragValue::new(&mut z).speed(0.1).max_decimals(2))
                                    .changed()
                                {
                                    r.drape_z = (z - r.origin[2]) as f32;
                                }
                            });
                            for (cid, cname) in &clouds {
                                if ui
                                    .button(format!("{} → {cname}", S::Colourise.t(lang)))
                                    .clicked()
                                {
                                    colourise = Some((*cid, l.path.clone()));
                                }
                            }
                        }
                    }
                }
                for w in l.warnings.iter().take(4) {
                    ui.label(
                        RichText::new(w)
                            .small()
                            .color(Color32::from_rgb(230, 190, 90)),
                    );
                }
                ui.horizontal(|ui| {
                    if l.cloud().is_some() && ui.small_button(S::ExportTiles.t(lang)).clicked() {
                        export = Some(id);
                    }
                    // COPC is written from the layer's file (every attribute of every point).
                    if l.cloud().is_some()
                        && l.path.is_some()
                        && ui.small_button(S::ExportCopc.t(lang)).clicked()
                    {
                        copc = Some(id);
                    }
                    if l.is_epoch() && ui.small_button(S::ClassifyGround.t(lang)).clicked() {
                        classify = Some(id);
                    }
                    if ui.small_button(S::Remove.t(lang)).clicked() {
                        remove = Some(id);
                    }
                });
            });
        });
    }
    if let Some((id, m)) = recolour {
        v.set_colour(id, m);
    }
    if let Some(id) = remove {
        v.remove_layer(commands, id);
    }
    if let Some(id) = export {
        tiles_dialog(v, id);
    }
    if let Some(id) = classify {
        start_classify(v, id);
    }
    if let Some(id) = copc {
        copc_dialog(v, id);
    }
    if let Some((cid, Some(path))) = colourise {
        if let Some(why) = v.layer(cid).and_then(|l| l.whole_cloud_missing()) {
            v.errors.push(why.t(v.lang).into());
        } else if let Some(cloud) = v
            .layer(cid)
            .and_then(|l| l.cloud())
            .map(|c| c.cloud.clone())
        {
            let label = v.t(S::Colourise).to_string();
            v.jobs.push((
                JobKind::Colourise,
                jobs::Job::spawn(label, move |p, _| jobs::colourise(cid, cloud, path, p)),
            ));
        }
    }
    // Compare two epochs.
    let epochs: Vec<(u32, String)> = v
        .layers
        .iter()
        .filter(|l| l.is_epoch())
        .map(|l| (l.id, l.name.clone()))
        .collect();
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
                ui.add(
                    egui::Slider::new(&mut v.compare.swipe, 0.0..=1.0)
                        .text(S::SwipePosition.t(v.lang)),
                );
            }
        }
    }
    ui.separator();
    ui.label(RichText::new(v.t(S::Help)).small());
}

pub(super) fn available_modes(c: &crate::app::CloudLayer) -> Vec<ColourMode> {
    let mut m = Vec::new();
    if let Some(s) = &c.summary {
        match s.method {
            Method::M3c2 => m.push(ColourMode::Deformation {
                field: crate::fields::M3C2_DISTANCE.into(),
                significance: Some(crate::fields::M3C2_SIGNIFICANT.into()),
            }),
            Method::C2c => {
                m.push(ColourMode::Deformation {
                    field: crate::fields::C2C_DZ.into(),
                    significance: None,
                });
                m.push(ColourMode::Deformation {
                    field: crate::fields::C2C_DISTANCE.into(),
                    significance: None,
                });
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

/// "Classify ground" on a cloud layer: SMRF in the background, then colour by class.
pub fn start_classify(v: &mut Viewer, id: u32) {
    if let Some(why) = v.layer(id).and_then(|l| l.whole_cloud_missing()) {
        v.errors.push(why.t(v.lang).into());
        return;
    }
    if let Some(cloud) = v.layer(id).and_then(|l| l.cloud()).map(|c| c.cloud.clone()) {
        let label = v.t(S::ClassifyGround).to_string();
        v.jobs.push((
            JobKind::Colourise,
            jobs::Job::spawn(label, move |p, _| jobs::classify(id, cloud, p)),
        ));
    }
}
