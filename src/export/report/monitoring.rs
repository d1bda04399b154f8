//! The monitoring report of a series (`kizashi report SERIES.laz`): epochs with dates and
//! registration errors, motion classes, velocity and onset maps, the largest objects'
//! displacement-versus-date plots and the objects table, inputs with hashes. Same page, fonts
//! and printing as the deformation report.

use super::plots::{self, MapPoint};
use super::{esc, img_tag, num, t, ExportError, InputFile, Rendered, Result};
use crate::lang::Lang;
use std::fmt::Write as _;
use std::path::Path;

/// One epoch row.
pub struct EpochRow {
    pub date: String,
    pub decimal_year: f64,
    pub path: String,
    pub points: usize,
    pub rms: Option<f64>,
    pub registration_error: f64,
    pub significant: usize,
}

/// One object row, with its mean series.
pub struct ObjectSeries {
    pub id: i32,
    pub class: String,
    pub area_m2: f64,
    pub onset: Option<String>,
    pub onset_year: Option<f64>,
    pub velocity: f64,
    pub acceleration: f64,
    pub centre: [f64; 2],
    pub displacement: Vec<f64>,
    pub uncertainty: Vec<f64>,
}

pub struct MonitoringData<'a> {
    pub lang: Lang,
    pub title: String,
    pub result_path: String,
    pub crs: Option<String>,
    pub reference: usize,
    pub epochs: Vec<EpochRow>,
    /// (class name, core points)
    pub classes: Vec<(String, usize)>,
    pub core_points: usize,
    pub variance_factor: f64,
    pub alpha: f64,
    /// Core points: d = velocity (m/year), significant = moving class.
    pub velocity: Vec<MapPoint>,
    /// Core points: d = onset as years after the first epoch, significant = has one.
    pub onset: Vec<MapPoint>,
    pub spacing: f64,
    pub objects: Vec<ObjectSeries>,
    pub background: &'a dyn Fn([f64; 4], (u32, u32)) -> Option<image::RgbImage>,
    pub background_name: String,
    pub parameters: Vec<(String, String)>,
    pub inputs: Vec<InputFile>,
    pub command: String,
    pub warnings: Vec<String>,
}

/// Renders the monitoring report to `output` (.pdf or .html).
pub fn render(d: &MonitoringData, output: &Path) -> Result<Rendered> {
    super::render_page(output, &|font_url| html(d, font_url))
}

fn html(d: &MonitoringData, font_url: Option<&str>) -> Result<String> {
    let l = d.lang;
    let tr = |en, ja| t(l, en, ja);
    let fig_err = ExportError::Invalid;
    let bounds = plots::extent_of(&d.velocity);
    let vlimit = plots::colour_limit(&d.velocity, true);
    let first_year = d.epochs.first().map_or(0.0, |e| e.decimal_year);
    let span = d
        .epochs
        .last()
        .map_or(1.0, |e| (e.decimal_year - first_year).max(1e-3)) as f32;
    let map = |points: &[MapPoint], limit: f32, signed: bool, bar: &str, grey: &str| {
        plots::map(&plots::MapInput {
            frame: plots::map_frame(bounds),
            background: d.background,
            points,
            spacing: d.spacing,
            limit,
            signed,
            outlines: &[],
            x_label: tr("Easting (m)", "東距 X (m)"),
            y_label: tr("Northing (m)", "北距 Y (m)"),
            bar_label: bar,
            grey_label: grey,
        })
        .and_then(|i| plots::png(&i))
        .map_err(fig_err)
    };
    let vmap = map(
        &d.velocity,
        vlimit,
        true,
        tr(
            "velocity along the normal (m/year)",
            "法線方向の速度 (m/年)",
        ),
        tr("stable", "安定"),
    )?;
    let first_date = d.epochs.first().map(|e| e.date.clone()).unwrap_or_default();
    let onset_bar = tr("onset (years)", "変動開始（年）");
    let omap = map(
        &d.onset,
        span,
        false,
        onset_bar,
        tr("no onset", "始まりなし"),
    )?;

    let mut h = super::html::page_head(l, &d.title, font_url);
    let now = chrono::Local::now().format("%Y-%m-%d %H:%M").to_string();
    let _ = writeln!(
        h,
        "<h1>{}</h1><div class=\"sub\">{} — {}: {} · Kizashi {}</div>",
        tr("Monitoring report", "モニタリングレポート"),
        esc(&d.title),
        tr("made", "作成"),
        now,
        env!("CARGO_PKG_VERSION")
    );
    // Key figures.
    let count = |name: &str| d.classes.iter().find(|c| c.0 == name).map_or(0, |c| c.1);
    let onsets = count(crate::analysis::series::MotionClass::Onset.name(l));
    let _ = writeln!(
        h,
        "<div class=\"figs\"><div class=\"fig\"><div class=\"v\">{}</div><div class=\"k\">{}</div></div><div class=\"fig\"><div class=\"v\">{}</div><div class=\"k\">{}</div></div><div class=\"fig\"><div class=\"v\">{}</div><div class=\"k\">{}</div></div><div class=\"fig\"><div class=\"v\">{}</div><div class=\"k\">{}</div></div></div>",
        d.epochs.len(),
        tr("epochs", "観測回数"),
        d.core_points,
        tr("core points", "コアポイント"),
        onsets,
        tr("core points with an onset of movement", "変動の始まりを検出したコアポイント"),
        d.objects.len(),
        tr("objects in time", "変動領域"),
    );
    // Epochs.
    let _ = writeln!(
        h,
        "<section><h2>{}</h2><table><tr><th>#</th><th>{}</th><th>{}</th><th class=\"n\">{}</th><th class=\"n\">{}</th><th class=\"n\">{}</th><th class=\"n\">{}</th></tr>",
        tr("Epochs", "観測エポック"),
        tr("date", "観測日"),
        tr("file", "ファイル"),
        tr("points", "点数"),
        tr("registration RMS (m)", "位置合わせRMS (m)"),
        tr("registration error (m)", "位置合わせ誤差 (m)"),
        tr("significant core points", "有意なコアポイント"),
    );
    for (k, e) in d.epochs.iter().enumerate() {
        let reference = if k == d.reference {
            format!(" ({})", tr("reference", "基準"))
        } else {
            String::new()
        };
        let _ = writeln!(
            h,
            "<tr><td>{k}</td><td>{}{reference}</td><td class=\"mono\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(&e.date),
            esc(&e.path),
            e.points,
            e.rms.map_or("–".into(), |r| num(r, 4)),
            num(e.registration_error, 4),
            if k == d.reference { "–".into() } else { e.significant.to_string() },
        );
    }
    let _ = writeln!(h, "</table></section>");
    // Classes and statistics.
    let _ = writeln!(
        h,
        "<section><h2>{}</h2><table><tr><th>{}</th><th class=\"n\">{}</th></tr>",
        tr("Motion classes", "変動の分類"),
        tr("class", "分類"),
        tr("core points", "コアポイント数")
    );
    for (name, n) in &d.classes {
        let _ = writeln!(h, "<tr><td>{}</td><td class=\"n\">{n}</td></tr>", esc(name));
    }
    let stats_note = match l {
        Lang::En => format!(
            "Velocity: weighted least-squares line through every epoch's displacement along the normal; acceleration: twice the quadratic term. Onset: the first epoch after at least two stable ones from which every later epoch departs from the stable level on the same side (persistence test, Bonferroni across candidate epochs). False-alarm probability per stable core point: {} (onset, acceleration and velocity together). Variance factor applied to the LoDs: {:.2}.",
            num(d.alpha, 3),
            d.variance_factor
        ),
        Lang::Ja => format!(
            "速度：各エポックの法線方向変位に重み付き最小二乗で当てはめた直線の傾き。加速度：二次項の2倍。変動の始まり：安定な2エポック以上の後、以後のすべてのエポックが同じ側へ安定水準から有意に離れた最初のエポック（持続性検定、候補エポック間はボンフェローニ補正）。安定なコアポイント1点あたりの誤検出確率：{}（始まり・加速度・速度の合計）。検出限界に掛けた分散係数：{:.2}。",
            num(d.alpha, 3),
            d.variance_factor
        ),
    };
    let _ = writeln!(h, "</table><p>{}</p></section>", esc(&stats_note));
    // Maps.
    let _ = writeln!(
        h,
        "<section><h2>{}</h2><figure>{}<figcaption>{} {}</figcaption></figure></section>",
        tr("Velocity map", "速度分布図"),
        img_tag(&vmap, tr("velocity map", "速度分布図")),
        tr(
            "Velocity along the normal of the core points that move (grey: stable); background:",
            "変動するコアポイントの法線方向速度（灰色は安定）。背景：",
        ),
        esc(&d.background_name)
    );
    let _ = writeln!(
        h,
        "<section><h2>{}</h2><figure>{}<figcaption>{}</figcaption></figure></section>",
        tr("Onset map", "変動開始時期の分布図"),
        img_tag(&omap, tr("onset map", "変動開始時期の分布図")),
        esc(&match l {
            Lang::En => format!("First epoch of movement, in years after the first epoch ({first_date}); grey: no onset."),
            Lang::Ja => format!("変動が始まった最初のエポック（最初の観測 {first_date} からの年数）。灰色は始まりなし。"),
        })
    );
    // Objects.
    let _ = writeln!(
        h,
        "<section class=\"long\"><h2>{}</h2><table><tr><th>ID</th><th>{}</th><th class=\"n\">{}</th><th>{}</th><th class=\"n\">{}</th><th class=\"n\">{}</th><th class=\"n\">X</th><th class=\"n\">Y</th></tr>",
        tr("Objects in time", "変動領域"),
        tr("class", "分類"),
        tr("area (m²)", "面積 (m²)"),
        tr("onset", "変動の始まり"),
        tr("velocity (m/year)", "速度 (m/年)"),
        tr("acceleration (m/year²)", "加速度 (m/年²)"),
    );
    for o in d.objects.iter().take(30) {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            o.id,
            esc(&o.class),
            num(o.area_m2, 0),
            esc(o.onset.as_deref().unwrap_or("–")),
            num(o.velocity, 4),
            num(o.acceleration, 4),
            num(o.centre[0], 1),
            num(o.centre[1], 1),
        );
    }
    let _ = writeln!(h, "</table></section>");
    let years: Vec<f64> = d.epochs.iter().map(|e| e.decimal_year).collect();
    for o in d.objects.iter().take(4) {
        let png = plots::series(&plots::SeriesPlot {
            years: &years,
            d: &o.displacement,
            uncertainty: &o.uncertainty,
            trend: o.onset_year.is_none(),
            onset: o.onset_year,
            x_label: tr("date (year)", "観測日（年）"),
            y_label: tr("mean displacement (m)", "平均変位 (m)"),
            onset_label: &format!(
                "{} {}",
                tr("onset", "始まり"),
                o.onset.as_deref().unwrap_or("")
            ),
        })
        .and_then(|i| plots::png(&i))
        .map_err(fig_err)?;
        let caption = match l {
            Lang::En => format!(
                "Object {}: {}, {} m², mean displacement along the normal ± 95 % uncertainty{}",
                o.id,
                o.class,
                num(o.area_m2, 0),
                o.onset
                    .as_ref()
                    .map(|d| format!("; onset {d}"))
                    .unwrap_or_default()
            ),
            Lang::Ja => format!(
                "領域 {}：{}、{} m²、法線方向の平均変位 ± 95 % 不確かさ{}",
                o.id,
                o.class,
                num(o.area_m2, 0),
                o.onset
                    .as_ref()
                    .map(|d| format!("、変動の始まり {d}"))
                    .unwrap_or_default()
            ),
        };
        let _ = writeln!(
            h,
            "<section><figure>{}<figcaption>{}</figcaption></figure></section>",
            img_tag(&png, &caption),
            esc(&caption)
        );
    }
    // Parameters and reproducibility.
    let _ = writeln!(
        h,
        "<section><h2>{}</h2><table>",
        tr("Parameters", "パラメータ")
    );
    for (k, v) in &d.parameters {
        let _ = writeln!(h, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(v));
    }
    let _ = writeln!(
        h,
        "</table></section><section><h2>{}</h2><p>{}: <span class=\"mono\">{}</span>; CRS: {}</p><table><tr><th>{}</th><th>{}</th><th class=\"n\">{}</th><th>SHA-256</th></tr>",
        tr("Inputs and reproducibility", "入力と再現性"),
        tr("result", "結果"),
        esc(&d.result_path),
        esc(d.crs.as_deref().unwrap_or("–")),
        tr("role", "役割"),
        tr("file", "ファイル"),
        tr("bytes", "バイト数"),
    );
    for f in &d.inputs {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"mono\">{}</td><td class=\"n\">{}</td><td class=\"mono\">{}</td></tr>",
            esc(f.role),
            esc(&f.path),
            f.size.map_or("–".into(), |s| s.to_string()),
            esc(f.sha256.as_deref().unwrap_or("–"))
        );
    }
    let _ = writeln!(h, "</table><pre>{}</pre></section>", esc(&d.command));
    if !d.warnings.is_empty() {
        let _ = writeln!(h, "<section><h2>{}</h2><ul>", tr("Warnings", "警告"));
        for w in &d.warnings {
            let _ = writeln!(h, "<li class=\"warn\">{}</li>", esc(w));
        }
        let _ = writeln!(h, "</ul></section>");
    }
    let _ = writeln!(h, "</main></body></html>");
    Ok(h)
}
