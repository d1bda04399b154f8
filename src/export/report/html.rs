//! The report's page: HTML and CSS for A4, every section in the report's language.

use super::plots::{self, MapPoint};
use super::{esc, img_tag, num, t, ReportData};
use crate::export::{ExportError, Result};
use crate::lang::Lang;
use std::fmt::Write as _;

const CSS: &str = r#"
@page { size: A4; margin: 13mm 12mm 14mm 12mm; }
* { box-sizing: border-box; }
body { font-family: KizashiJP, "Noto Sans CJK JP", "Hiragino Sans", "Yu Gothic", Meiryo, sans-serif; font-size: 9.5pt; color: #111; margin: 0; line-height: 1.45; }
main { max-width: 186mm; margin: 0 auto; }
h1 { font-size: 17pt; margin: 0 0 1mm 0; }
h2 { font-size: 12pt; border-bottom: 1.5pt solid #1f4e79; color: #1f4e79; margin: 5mm 0 2mm 0; padding-bottom: 0.6mm; break-after: avoid; }
.sub { color: #444; margin-bottom: 3mm; }
section { break-inside: avoid; }
section.long { break-inside: auto; }
table { border-collapse: collapse; width: 100%; margin: 1mm 0 2mm 0; }
th, td { border: 0.5pt solid #999; padding: 0.7mm 1.6mm; text-align: left; vertical-align: top; }
th { background: #e8eef5; font-weight: bold; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
tr { break-inside: avoid; }
.figs { display: grid; grid-template-columns: repeat(4, 1fr); gap: 2mm; margin: 2mm 0; }
.fig { border: 0.5pt solid #999; padding: 1.5mm 2mm; }
.fig .v { font-size: 14pt; font-weight: bold; }
.fig .k { color: #444; font-size: 8pt; }
figure { margin: 1mm 0 2mm 0; break-inside: avoid; }
figure img { width: 100%; display: block; }
figcaption { color: #333; font-size: 8.5pt; margin-top: 1mm; }
pre { font-size: 7pt; white-space: pre-wrap; word-break: break-all; background: #f4f4f4; padding: 1.5mm; margin: 1mm 0; }
.mono { font-family: "DejaVu Sans Mono", monospace; font-size: 7pt; word-break: break-all; }
.warn { color: #8a4b00; }
.pb { break-before: page; }
"#;

/// The page up to `<main>`: language, title, the bundled font when printing, the A4 CSS.
pub(super) fn page_head(l: Lang, title: &str, font_url: Option<&str>) -> String {
    let mut h = String::with_capacity(4 << 20);
    let lang_code = match l {
        Lang::En => "en",
        Lang::Ja => "ja",
    };
    let font_face = font_url
        .map(|u| format!("@font-face {{ font-family: KizashiJP; src: url(\"{u}\"); }}"))
        .unwrap_or_default();
    let _ = write!(h, "<!DOCTYPE html>\n<html lang=\"{lang_code}\"><head><meta charset=\"utf-8\"><title>{}</title><style>{font_face}{CSS}</style></head><body><main>\n", esc(title));
    h
}

pub(super) fn html(d: &ReportData, font_url: Option<&str>) -> Result<String> {
    let l = d.lang;
    let tr = |en, ja| t(l, en, ja);
    let signed = d.method == "M3C2";
    let finite: Vec<&MapPoint> = d.points.iter().filter(|p| p.d.is_finite()).collect();
    let sig: Vec<&&MapPoint> = finite.iter().filter(|p| p.significant).collect();
    let limit = plots::colour_limit(&d.points, signed);
    let fig_err = |e: String| ExportError::Invalid(e);
    // Figures.
    let b = plots::extent_of(&d.points);
    let outlines: Vec<(i32, Vec<Vec<[f64; 2]>>)> = d
        .objects
        .iter()
        .take(40)
        .map(|o| (o.object.id, o.rings.clone()))
        .collect();
    let bar_label = if signed {
        tr("distance (m)", "変位量 (m)")
    } else {
        tr("C2C distance (m)", "C2C距離 (m)")
    };
    let map = plots::map(&plots::MapInput {
        frame: plots::map_frame(b),
        background: d.background,
        points: &d.points,
        spacing: d.spacing,
        limit,
        signed,
        outlines: &outlines,
        x_label: tr("Easting (m)", "東距 X (m)"),
        y_label: tr("Northing (m)", "北距 Y (m)"),
        bar_label,
        grey_label: if signed {
            tr("not significant", "有意でない変化")
        } else {
            ""
        },
    })
    .map_err(fig_err)?;
    let hist = plots::histogram(&plots::HistInput {
        values: &d.points,
        limit,
        signed,
        lod: d.lod_median,
        x_label: bar_label,
        y_label: tr("core points", "コアポイント数"),
        sig_label: tr("significant (|d| > LoD95)", "有意 (|d| > LoD95)"),
        nonsig_label: tr("all core points", "全コアポイント"),
    })
    .map_err(fig_err)?;
    let zr = {
        let (lo, hi) = d
            .points
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
                (a.min(p.z), b.max(p.z))
            });
        (hi - lo).max(1e-6)
    };
    let xy = (b[2] - b[0]).max(b[3] - b[1]).max(1e-6);
    // Flat sites get their relief raised to about a tenth of their width, at most 5x.
    let exaggeration = ((0.1 * xy) / zr).clamp(1.0, 5.0).round();
    let view = plots::view3d(&d.points, d.spacing, limit, signed, exaggeration);
    let png = |i: &image::RgbImage| plots::png(i).map_err(fig_err);
    let (map_png, hist_png, view_png) = (png(&map)?, png(&hist)?, png(&view)?);

    let mut h = page_head(l, &d.title, font_url);
    let now = chrono::Local::now().format("%Y-%m-%d %H:%M").to_string();
    let _ = writeln!(
        h,
        "<h1>{}</h1><div class=\"sub\">{} — {}: {} · Kizashi {}</div>",
        tr("Deformation report", "変状調査レポート"),
        esc(&d.title),
        tr("generated", "作成"),
        now,
        env!("CARGO_PKG_VERSION")
    );

    // Key figures.
    let n_all = d.points.len();
    let n_fin = finite.len();
    let share = if n_fin > 0 {
        100.0 * sig.len() as f64 / n_fin as f64
    } else {
        f64::NAN
    };
    let min_d = sig
        .iter()
        .map(|p| f64::from(p.d))
        .fold(f64::INFINITY, f64::min);
    let max_d = sig
        .iter()
        .map(|p| f64::from(p.d))
        .fold(f64::NEG_INFINITY, f64::max);
    let _ = write!(
        h,
        "<section><h2>{}</h2><div class=\"figs\">",
        tr("1. Summary", "1. 概要")
    );
    let mut fig = |v: String, k: &str| {
        let _ = write!(
            h,
            "<div class=\"fig\"><div class=\"v\">{}</div><div class=\"k\">{}</div></div>",
            esc(&v),
            esc(k)
        );
    };
    fig(format!("{n_all}"), tr("core points", "コアポイント数"));
    if signed {
        fig(
            format!("{} ({}%)", sig.len(), num(share, 1)),
            tr(
                "significant change (|d| > LoD95)",
                "有意な変化 (|d| > LoD95)",
            ),
        );
        fig(
            if min_d.is_finite() && min_d < 0.0 {
                format!("{} m", num(min_d, 3))
            } else {
                "–".into()
            },
            tr("largest significant lowering", "有意な最大低下量"),
        );
        fig(
            if max_d.is_finite() && max_d > 0.0 {
                format!("+{} m", num(max_d, 3))
            } else {
                "–".into()
            },
            tr("largest significant rise", "有意な最大上昇量"),
        );
    } else {
        let mx = finite
            .iter()
            .map(|p| f64::from(p.d))
            .fold(f64::NAN, f64::max);
        fig(
            format!("{} m", num(mx, 3)),
            tr("largest distance", "最大距離"),
        );
    }
    fig(
        format!("{}", n_all - n_fin),
        tr("no result (empty cylinder)", "算出不能（円柱内に点なし）"),
    );
    fig(
        format!("{}", d.objects.len()),
        tr("change objects", "変化領域の数"),
    );
    if let Some(dd) = &d.dod {
        fig(
            format!("{} m³", num(dd.volumes.cut_m3, 1)),
            tr("cut volume (DoD, significant)", "減少量（DoD・有意）"),
        );
        fig(
            format!("{} m³", num(dd.volumes.fill_m3, 1)),
            tr("fill volume (DoD, significant)", "増加量（DoD・有意）"),
        );
    }
    h.push_str("</div></section>\n");

    // Epochs.
    let _ = write!(
        h,
        "<section><h2>{}</h2><table><tr><th></th><th>{}</th><th>{}</th><th class=\"n\">{}</th><th>{}</th></tr>",
        tr("2. Site and survey epochs", "2. 対象地区と計測時期"),
        tr("file", "ファイル"),
        tr("survey date (file)", "計測日（ファイル）"),
        tr("points", "点数"),
        tr("CRS", "座標参照系")
    );
    for (i, e) in d.epochs.iter().enumerate() {
        let label = if i == 0 {
            tr("Epoch 1 (reference)", "第1期（基準）")
        } else {
            tr("Epoch 2", "第2期")
        };
        let _ = write!(
            h,
            "<tr><th>{label}</th><td class=\"mono\">{}{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            esc(&e.path),
            if e.found { String::new() } else { format!(" <span class=\"warn\">({})</span>", tr("not found now", "現在見つかりません")) },
            esc(e.date.as_deref().unwrap_or("–")),
            e.points.map(|n| n.to_string()).unwrap_or("–".into()),
            esc(e.crs.as_deref().unwrap_or("–"))
        );
    }
    h.push_str("</table>");
    let _ = writeln!(
        h,
        "<div>{}: {} × {} m ({}: {})</div></section>",
        tr("Area covered by the core points", "コアポイントの範囲"),
        num(b[2] - b[0], 1),
        num(b[3] - b[1], 1),
        tr("result", "結果"),
        esc(&d.result_path)
    );

    // Registration.
    let _ = write!(
        h,
        "<section><h2>{}</h2>",
        tr("3. Registration", "3. 位置合わせ")
    );
    let reg_err = d.registration_error;
    match &d.registration {
        Some(r) => {
            let _ = write!(
                h,
                "<div>{} <span class=\"mono\">{}</span>: RMS {} m, {} {}, {} {} m</div><table>",
                tr(
                    "Epoch 2 was aligned onto epoch 1 by point-to-plane ICP",
                    "第2期を第1期へ点-面ICPで位置合わせ済み"
                ),
                esc(&r.source),
                num(r.rms, 4),
                r.pairs,
                tr("pairs", "対応点"),
                tr("registration error estimate", "位置合わせ誤差の推定値"),
                num(r.registration_error, 4)
            );
            for row in &r.matrix {
                let _ = write!(
                    h,
                    "<tr>{}</tr>",
                    row.iter()
                        .map(|v| format!("<td class=\"n mono\">{v:.6}</td>"))
                        .collect::<String>()
                );
            }
            h.push_str("</table>");
            if let Some(rot) = &r.rotation {
                let what = match rot.as_str() {
                    "vertical" => tr(
                        "about the vertical only (no tilt)",
                        "鉛直軸まわりのみ（傾きなし）",
                    ),
                    "none" => tr("none (translation only)", "なし（平行移動のみ）"),
                    _ => tr("about all three axes", "3軸すべて"),
                };
                let _ = write!(
                    h,
                    "<div>{}: {}</div>",
                    tr("Rotation estimated", "推定した回転"),
                    what
                );
            }
            if let Some(st) = &r.stable {
                let what = if st == "all" {
                    tr("all of epoch 2", "第2期の全点").to_string()
                } else {
                    esc(st)
                };
                let _ = write!(
                    h,
                    "<div>{}: <span class=\"mono\">{}</span></div>",
                    tr("Stable area used", "使用した安定領域"),
                    what
                );
            }
        }
        None => {
            let _ = write!(h, "<div>{}</div>", tr("No ICP registration is recorded for epoch 2 (no sidecar of `kizashi register` beside it).", "第2期のICP位置合わせの記録はありません（`kizashi register` の記録ファイルなし）。"));
        }
    }
    if let Some(e) = reg_err {
        let _ = write!(
            h,
            "<div>{}: {} m</div>",
            tr(
                "Registration error included in the level of detection",
                "検出限界に含めた位置合わせ誤差"
            ),
            num(e, 4)
        );
    }
    let hs = &d.heights;
    let unknown = tr("not known", "不明");
    let _ = write!(
        h,
        "<div>{}: {} {}, {} {}</div>",
        tr("Height systems", "高さの基準"),
        tr("epoch 1", "第1期"),
        esc(hs.epoch1.as_deref().unwrap_or(unknown)),
        tr("epoch 2", "第2期"),
        esc(hs.epoch2.as_deref().unwrap_or(unknown))
    );
    if let Some(m) = hs.converted {
        let _ = write!(
            h,
            "<div>{}: {} m</div>",
            tr(
                "Epoch 2's heights were converted into epoch 1's height system (GSI geoid models; mean change of height)",
                "第2期の高さを第1期の高さの基準に変換済み（国土地理院のジオイドモデル、高さの平均変化量）"
            ),
            num(m, 3)
        );
    }
    if let Some((shift, cells, before, after)) = d.dod.as_ref().and_then(|dd| dd.coregistration) {
        let _ = write!(
            h,
            "<div>{}: {} / {} / {} m ({} {}); NMAD {} → {} m</div>",
            tr(
                "DEM co-registration (Nuth & Kääb 2011): epoch 2 shifted east / north / up by",
                "DEM位置合わせ（Nuth & Kääb 2011）：第2期の移動量 東 / 北 / 上"
            ),
            num(shift[0], 3),
            num(shift[1], 3),
            num(shift[2], 3),
            cells,
            tr("stable cells", "安定セル"),
            num(before, 3),
            num(after, 3)
        );
    }
    h.push_str("</section>\n");

    // Method and parameters.
    let _ = write!(
        h,
        "<section><h2>{}</h2><table><tr><th>{}</th><th>{}</th></tr><tr><td>{}</td><td>{}</td></tr>",
        tr("4. Method and parameters", "4. 手法とパラメータ"),
        tr("parameter", "パラメータ"),
        tr("value", "値"),
        tr("method", "手法"),
        if signed {
            tr(
                "M3C2 (Lague et al. 2013, as py4dgeo) with level of detection at 95 %",
                "M3C2（Lague ほか 2013、py4dgeo と同じ計算）、95% 検出限界",
            )
        } else {
            tr(
                "C2C: nearest-neighbour distance to epoch 2",
                "C2C：第2期への最近傍距離",
            )
        }
    );
    for (k, v) in d.parameters.iter().flatten() {
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"mono\">{}</td></tr>",
            esc(k),
            esc(v)
        );
    }
    if d.parameters.is_none() {
        let _ = write!(
            h,
            "<tr><td colspan=\"2\" class=\"warn\">{}</td></tr>",
            tr(
                "The result has no sidecar JSON: its parameters are unknown.",
                "結果に記録ファイル（JSON）がなく、パラメータは不明です。"
            )
        );
    }
    h.push_str("</table></section>\n");

    // Map.
    let _ = writeln!(
        h,
        "<section class=\"pb\"><h2>{}</h2><figure>{}<figcaption>{} {}: {}. {}</figcaption></figure></section>",
        tr("5. Plan view of the deformation", "5. 変位量の平面図"),
        img_tag(&map_png, "map"),
        if signed {
            tr("Coloured squares: core points with significant change (blue = lowering, red = rise); grey: change within the level of detection. Black outlines: change objects (numbers as in the table).", "色付きの点：有意な変化のあるコアポイント（青＝低下、赤＝上昇）、灰色：検出限界内の変化。黒線：変化領域（番号は表と同じ）。")
        } else {
            tr("Core points coloured by distance to epoch 2.", "コアポイントを第2期までの距離で着色。")
        },
        tr("Background", "背景"),
        esc(&d.background_name),
        d.crs.as_deref().map(|c| format!("{}: {}", tr("CRS", "座標参照系"), esc(c))).unwrap_or_default()
    );

    // 3D view and histogram.
    let _ = writeln!(
        h,
        "<section><h2>{}</h2><figure>{}<figcaption>{}{}</figcaption></figure></section>",
        tr("6. 3D view", "6. 3D表示"),
        img_tag(&view_png, "3D"),
        tr("Core points seen from the south-west, 35° above the horizon; shading from the normals.", "南西から仰角35°で見たコアポイント（法線による陰影）。"),
        if exaggeration > 1.0 { format!(" {} ×{exaggeration:.0}.", tr("Vertical exaggeration", "高さの強調")) } else { String::new() }
    );
    let _ = writeln!(
        h,
        "<section><h2>{}</h2><figure>{}<figcaption>{}</figcaption></figure></section>",
        tr("7. Distribution of the distances", "7. 変位量の分布"),
        img_tag(&hist_png, "histogram"),
        match d.lod_median {
            Some(lod) => format!(
                "{} ±{} m.",
                tr(
                    "Dashed lines: median level of detection (LoD95)",
                    "破線：検出限界（LoD95）の中央値"
                ),
                num(f64::from(lod), 3)
            ),
            None => String::new(),
        }
    );

    // Areas and volumes.
    let _ = write!(
        h,
        "<section><h2>{}</h2><table>",
        tr(
            "8. Significant change: area and volumes",
            "8. 有意な変化：面積と体積"
        )
    );
    let (mut cut, mut fill, mut cut_var, mut fill_var, mut area) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for o in &d.objects {
        area += o.object.area_m2;
        if o.object.volume_m3 < 0.0 {
            cut += -o.object.volume_m3;
            cut_var += o.object.volume_sigma_m3.powi(2);
        } else {
            fill += o.object.volume_m3;
            fill_var += o.object.volume_sigma_m3.powi(2);
        }
    }
    let _ = write!(
        h,
        "<tr><th>{}</th><th class=\"n\">{}</th><th class=\"n\">{}</th><th class=\"n\">{}</th></tr>",
        tr("source", "算出元"),
        tr("significant area (m²)", "有意な面積 (m²)"),
        tr("cut / lowering (m³, ±1σ)", "減少・低下 (m³, ±1σ)"),
        tr("fill / rise (m³, ±1σ)", "増加・上昇 (m³, ±1σ)")
    );
    let _ = write!(
        h,
        "<tr><td>{} ({})</td><td class=\"n\">{}</td><td class=\"n\">{} ± {}</td><td class=\"n\">{} ± {}</td></tr>",
        tr("change objects", "変化領域"),
        esc(&d.objects_source),
        num(area, 1),
        num(cut, 2),
        num(cut_var.sqrt(), 2),
        num(fill, 2),
        num(fill_var.sqrt(), 2)
    );
    if let Some(dd) = &d.dod {
        let v = &dd.volumes;
        let _ = write!(
            h,
            "<tr><td>{} {} m ({})</td><td class=\"n\">{}</td><td class=\"n\">{} ± {}</td><td class=\"n\">{} ± {}</td></tr>",
            tr("DEM of difference, cell", "DEM差分、セル"),
            num(dd.cell, 2),
            esc(&dd.path),
            num(v.area_significant_m2, 1),
            num(v.cut_m3, 2),
            num(v.cut_sigma_m3, 2),
            num(v.fill_m3, 2),
            num(v.fill_sigma_m3, 2)
        );
        let _ = write!(
            h,
            "<tr><td colspan=\"4\">{}: {} m³ ({} {})</td></tr>",
            tr(
                "DoD net volume over all cells with data in both epochs",
                "両時期にデータのある全セルの正味体積（DoD）"
            ),
            num(v.net_all_m3, 2),
            v.cells_both,
            tr("cells", "セル")
        );
    }
    h.push_str("</table>");
    if signed {
        let _ = write!(h, "<div>{}</div>", tr("Volumes of M3C2 objects are distance × cell area: along the normals, i.e. vertical on gentle ground.", "M3C2の変化領域の体積は 変位量 × セル面積（法線方向。緩い地形ではほぼ鉛直）。"));
    }
    h.push_str("</section>\n");

    // Objects table.
    let _ = write!(
        h,
        "<section class=\"long\"><h2>{}</h2><div>{}</div><table><tr><th class=\"n\">No.</th><th>{}</th><th class=\"n\">{}</th><th class=\"n\">{}</th><th class=\"n\">{}</th><th class=\"n\">{}</th><th class=\"n\">{}</th><th class=\"n\">{}</th></tr>",
        tr("9. Change objects (largest volume first)", "9. 変化領域（体積の大きい順）"),
        esc(&format!("{}: {}", tr("source", "算出元"), d.objects_source)),
        tr("type", "種別"),
        tr("area (m²)", "面積 (m²)"),
        tr("volume (m³)", "体積 (m³)"),
        tr("mean (m)", "平均 (m)"),
        tr("max (m)", "最大 (m)"),
        tr("centre E, N", "中心 X, Y"),
        tr("lat, lon", "緯度, 経度")
    );
    const MAX_ROWS: usize = 40;
    for o in d.objects.iter().take(MAX_ROWS) {
        let kind = if o.object.sign == "cut" {
            tr("lowering (cut)", "低下（減少）")
        } else {
            tr("rise (fill)", "上昇（増加）")
        };
        let _ = write!(
            h,
            "<tr><td class=\"n\">{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{} ± {}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}, {}</td><td class=\"n\">{}</td></tr>",
            o.object.id,
            kind,
            num(o.object.area_m2, 1),
            num(o.object.volume_m3, 2),
            num(o.object.volume_sigma_m3, 2),
            num(o.object.mean_m, 3),
            num(o.object.max_m, 3),
            num(o.object.centre[0], 1),
            num(o.object.centre[1], 1),
            o.lonlat.map(|ll| format!("{:.6}, {:.6}", ll[1], ll[0])).unwrap_or("–".into())
        );
    }
    if d.objects.is_empty() {
        let _ = write!(
            h,
            "<tr><td colspan=\"8\">{}</td></tr>",
            tr("No change object.", "変化領域はありません。")
        );
    }
    h.push_str("</table>");
    if d.objects.len() > MAX_ROWS {
        let _ = write!(
            h,
            "<div>{} {}</div>",
            d.objects.len() - MAX_ROWS,
            tr(
                "more objects are in the GeoJSON file.",
                "件の変化領域は GeoJSON ファイルにあります。"
            )
        );
    }
    h.push_str("</section>\n");

    // Reproducibility.
    let _ = write!(
        h,
        "<section class=\"long\"><h2>{}</h2><table><tr><th>{}</th><th>{}</th><th class=\"n\">{}</th><th>SHA-256</th></tr>",
        tr("10. Reproducibility", "10. 再現性"),
        tr("role", "役割"),
        tr("file", "ファイル"),
        tr("bytes", "バイト")
    );
    for f in &d.inputs {
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"mono\">{}</td><td class=\"n\">{}</td><td class=\"mono\">{}</td></tr>",
            esc(f.role),
            esc(&f.path),
            f.size.map(|s| s.to_string()).unwrap_or("–".into()),
            esc(f.sha256.as_deref().unwrap_or(tr("not found", "見つかりません")))
        );
    }
    h.push_str("</table>");
    let _ = write!(
        h,
        "<div>Kizashi {} · {}</div>",
        env!("CARGO_PKG_VERSION"),
        tr("command", "コマンド")
    );
    let _ = write!(h, "<pre>{}</pre>", esc(&d.command));
    if let Some(p) = &d.record {
        let _ = write!(
            h,
            "<div>{}</div><pre>{}</pre>",
            tr(
                "Parameters as recorded by the change run:",
                "変化検出の実行時に記録されたパラメータ："
            ),
            esc(p)
        );
    }
    if !d.warnings.is_empty() {
        let _ = write!(
            h,
            "<div class=\"warn\">{}</div><ul>",
            tr("Warnings", "注意")
        );
        for w in &d.warnings {
            let _ = write!(h, "<li class=\"warn\">{}</li>", esc(w));
        }
        h.push_str("</ul>");
    }
    h.push_str("</section></main></body></html>\n");
    Ok(h)
}
