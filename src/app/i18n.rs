//! Every string the viewer shows, in English and Japanese: one table through the crate's one
//! mechanism (`lang::strings!`, `Lang::tr`), so a string without a translation does not compile; the Japanese UI is the default when the locale is ja.

pub use crate::lang::Lang;

use crate::strings;

strings! {
    AppTitle => "Kizashi — survey change viewer", "兆し — 測量変化ビューア";
    File => "File", "ファイル";
    OpenFiles => "Open files…", "ファイルを開く…";
    Language => "Language", "言語";
    View => "View", "表示";
    ViewTop => "Top", "上面";
    ViewSide => "Side", "側面";
    ViewReset => "Reset view", "視点リセット";
    Exaggeration => "Vertical exaggeration", "鉛直強調";
    PointSize => "Point size", "点サイズ";
    PointBudget => "Point budget", "表示点数上限";
    Shading => "Shaded splats", "点に陰影";
    EyeDome => "Eye-dome lighting", "アイドームライティング（EDL）";
    Fps => "FPS", "FPS";
    PointsDrawn => "points drawn", "描画点数";
    Layers => "Layers", "レイヤー";
    NoLayers => "Open LAS/LAZ/COPC point clouds or a GeoTIFF orthophoto (menu, or drop files here).", "LAS/LAZ/COPC 点群または GeoTIFF オルソ画像を開いてください（メニュー、またはここへドロップ）。";
    Points => "points", "点";
    ColourBy => "Colour by", "色分け";
    ColRgb => "RGB", "RGB";
    ColIntensity => "Intensity", "反射強度";
    ColElevation => "Elevation", "標高";
    ColClassification => "Classification", "分類";
    ColField => "Field", "属性";
    ColDeformation => "Deformation", "変位";
    Visible => "visible", "表示";
    Remove => "Remove", "削除";
    Swipe => "Swipe", "スワイプ";
    Blink => "Blink", "点滅切替";
    CompareOff => "Off", "なし";
    SwipePosition => "Swipe position", "スワイプ位置";
    Orthophoto => "Orthophoto", "オルソ画像";
    Dem => "DEM", "DEM";
    Colourise => "Colourise points from orthophoto", "オルソ画像で点群を着色";
    ClassifyGround => "Classify ground", "地表面を分類";
    GroundPoints => "ground points (SMRF)", "点が地表面（SMRF）";
    GroundOnly => "Ground points only", "地表面の点のみ";
    LowNoise => "Low noise", "低ノイズ";
    GroundHeight => "Drape height (m)", "投影高さ (m)";
    OnDem => "Lay on the DEM", "DEM に重ねる";
    ChangeDetection => "Change detection", "変化検出";
    Epoch1 => "Epoch 1 (before)", "時期1（前）";
    Epoch2 => "Epoch 2 (after)", "時期2（後）";
    Method => "Method", "手法";
    CoreSpacing => "Core point spacing (m)", "コア点間隔 (m)";
    CylRadius => "Cylinder radius (m)", "円柱半径 (m)";
    NormalRadii => "Normal radii (m)", "法線半径 (m)";
    MaxDistance => "Max distance (m)", "最大距離 (m)";
    RegError => "Registration error (m)", "位置合わせ誤差 (m)";
    Robust => "Robust (median / IQR)", "ロバスト（中央値・IQR）";
    Register => "Register epoch 2 onto epoch 1 first (ICP)", "先に時期2を時期1へ位置合わせ（ICP）";
    HeadingOnly => "Rotation about the vertical only (no tilt)", "鉛直軸まわりの回転のみ（傾きなし）";
    Defaults => "Defaults from point density", "点密度から既定値";
    Run => "Run", "実行";
    Cancel => "Cancel", "中止";
    NeedTwoEpochs => "Open two epochs to compare.", "比較する2時期を開いてください。";
    StillLoading => "Wait until every point is loaded (the view shows an overview).", "全点の読み込みが終わるまでお待ちください（表示は概観です）。";
    Overview => "overview of", "概観：全";
    OnDemand => "read on demand: file of", "オンデマンド読込：ファイル全";
    Cache => "cache", "キャッシュ";
    ProfileInView => "points in view; reading every point from the file…", "表示中の点・ファイルから全点を読込中…";
    NeedsWholeCloud => "This layer is read on demand (a COPC file larger than the point cache) and this needs every point in memory: use the command line, or open the file with a larger cache (--cache-mb).", "このレイヤーはオンデマンド読込です（点キャッシュより大きい COPC ファイル）。この操作には全点がメモリに必要です。コマンドラインを使うか、より大きなキャッシュ（--cache-mb）で開き直してください。";
    Result => "Result", "結果";
    CorePoints => "core points", "コア点";
    Significant => "significant change", "有意な変化";
    NotSignificant => "not significant", "有意でない";
    NoData => "no data", "データなし";
    Histogram => "Histogram", "ヒストグラム";
    SaveResult => "Save result (LAZ)…", "結果を保存（LAZ）…";
    Saved => "Saved", "保存しました";
    ExportTiles => "3D Tiles…", "3D Tiles 出力…";
    ExportCopc => "COPC…", "COPC 出力…";
    ExportObjects => "Change objects (GeoJSON)…", "変化領域（GeoJSON）…";
    ExportReport => "Report (PDF / HTML)…", "レポート（PDF / HTML）…";
    ExportDod => "DEM of difference (GeoTIFF)…", "DEM差分（GeoTIFF）…";
    SaveSession => "Save session as job file…", "ジョブファイルとして保存…";
    DodCell => "DoD cell (m)", "DoD セル (m)";
    NotAResult => "This layer is not a change result.", "このレイヤーは変化検出の結果ではありません。";
    NeedSavedEpochs => "The DEM of difference reads the epochs from their files: open them from files first.", "DEM差分は計測ファイルから読み込みます。先にファイルから開いてください。";
    Inspect => "Inspect", "点情報";
    Measure => "Measure", "距離計測";
    Profile => "Cross-section", "横断面";
    Tool => "Tool", "ツール";
    ClickPoint => "Click a point.", "点をクリックしてください。";
    ClickTwo => "Click two points.", "2点をクリックしてください。";
    Distance => "Distance", "距離";
    Horizontal => "horizontal", "水平";
    Vertical => "vertical", "鉛直";
    Layer => "Layer", "レイヤー";
    Coordinates => "Coordinates", "座標";
    ProfileWidth => "Corridor width (m)", "断面幅 (m)";
    AlongLine => "along line (m)", "測線方向 (m)";
    Height => "height (m)", "高さ (m)";
    Errors => "Errors", "エラー";
    Dismiss => "Dismiss", "閉じる";
    Loading => "Loading", "読み込み中";
    Working => "Working", "処理中";
    Cancelled => "Cancelled", "中止しました";
    CannotOpen => "Cannot open", "開けません";
    Legend => "Legend", "凡例";
    Series => "Monitoring series", "時系列モニタリング";
    SeriesNoRecord => "a series result without its record (.json beside it): dates unknown, shown as a point cloud", "記録（横の .json）のない時系列結果：観測日が不明なため点群として表示";
    SeriesEpoch => "Epoch", "エポック";
    SeriesDisplacement => "Displacement at this date", "この日の変位";
    SeriesVelocity => "Velocity (m/year)", "速度 (m/年)";
    SeriesAcceleration => "Acceleration (m/year²)", "加速度 (m/年²)";
    SeriesOnset => "Onset date", "変動開始日";
    SeriesClasses => "Motion classes", "変動の分類";
    SeriesObjects => "Objects in time", "変動領域";
    SeriesNoObjects => "no moving area", "変動領域なし";
    SeriesPickHint => "Click a core point: its displacement against date.", "コアポイントをクリックすると変位の時系列を表示します。";
    SeriesPoint => "Core point", "コアポイント";
    SeriesDate => "date (year)", "観測日（年）";
    SeriesDisp => "displacement (m)", "変位 (m)";
    SeriesTrend => "trend", "傾向";
    SeriesOnsetAt => "onset", "変動開始";
    SeriesReference => "reference", "基準";
    SeriesRun => "Run the series over the loaded epochs", "読み込んだエポックで時系列解析を実行";
    SeriesNeedsEpochs => "a series needs at least 3 epochs (point clouds) loaded", "時系列解析には3時期以上の点群が必要です";
    Warnings => "Warnings", "警告";
    Crs => "CRS", "座標参照系";
    Unknown => "unknown", "不明";
    Help => "Mouse: left drag orbit, right drag pan, wheel zoom, double-click focus. Keys: T top, S side, R reset, arrows pan.", "マウス：左ドラッグで回転、右ドラッグで移動、ホイールでズーム、ダブルクリックで注視。キー：T 上面、S 側面、R リセット、矢印で移動。";
    Registration => "Registration", "位置合わせ";
    Rms => "RMS", "RMS";
    Ground => "Ground", "地表";
    Vegetation => "Vegetation", "植生";
    Building => "Building", "建物";
    Water => "Water", "水部";
    Other => "Other", "その他";
    // Job steps (`jobs::JobProgress`): the English is the step's name as the job gives it.
    StepRead => "read", "読み込み";
    StepOverview => "overview", "概観の読み込み";
    StepOctree => "octree", "八分木の構築";
    StepRaster => "raster", "ラスタ読み込み";
    StepGround => "ground", "地表面分類";
    StepIcp => "ICP", "ICP 位置合わせ";
    StepCoregistration => "co-registration", "位置合わせ";
    StepM3c2 => "M3C2", "M3C2 計算";
    StepGrid => "grid", "格子化";
    StepTin => "TIN", "TIN 生成";
    StepWrite => "write", "書き出し";
    StepTiles => "3D Tiles", "3D Tiles 書き出し";
    StepObjects => "objects", "変化オブジェクト";
    StepColourise => "colourise", "着色";
    StepEpoch => "epoch", "時期";
}

/// A job step as shown (`jobs::JobProgress` names its steps in English): "read NAME",
/// "M3C2 epoch K" and the steps above in the viewer's language; anything else (a file name)
/// as it is.
pub fn step_label(step: &str, lang: Lang) -> String {
    if let Some(rest) = step.strip_prefix("read ") {
        return format!("{} {rest}", S::StepRead.t(lang));
    }
    // A series' M3C2 against its k-th epoch.
    if let Some(k) = step.strip_prefix("M3C2 epoch ") {
        return format!("{} · {} {k}", S::StepM3c2.t(lang), S::StepEpoch.t(lang));
    }
    const STEPS: &[S] = &[
        S::StepOverview,
        S::StepOctree,
        S::StepRaster,
        S::StepGround,
        S::StepIcp,
        S::StepCoregistration,
        S::StepM3c2,
        S::StepGrid,
        S::StepTin,
        S::StepWrite,
        S::StepTiles,
        S::StepObjects,
        S::StepColourise,
    ];
    STEPS
        .iter()
        .find(|s| s.t(Lang::En) == step)
        .map_or_else(|| step.to_string(), |s| s.t(lang).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_string_has_both_languages() {
        // Names that read the same in both languages.
        let same = [S::Fps, S::ColRgb, S::Rms, S::Dem];
        for s in S::ALL {
            let (en, ja) = (s.t(Lang::En), s.t(Lang::Ja));
            assert!(!en.trim().is_empty() && !ja.trim().is_empty(), "{s:?}");
            if !same.contains(s) {
                assert_ne!(en, ja, "{s:?} is not translated");
                assert!(
                    ja.chars().any(|c| c as u32 > 0x3000),
                    "{s:?}: Japanese text expected, got {ja}"
                );
            }
        }
    }

    #[test]
    fn job_steps_show_in_the_viewers_language() {
        assert_eq!(step_label("overview", Lang::Ja), "概観の読み込み");
        assert_eq!(step_label("overview", Lang::En), "overview");
        assert_eq!(step_label("read a.laz", Lang::Ja), "読み込み a.laz");
        assert_eq!(step_label("M3C2", Lang::Ja), "M3C2 計算");
        assert_eq!(step_label("M3C2 epoch 3", Lang::Ja), "M3C2 計算 · 時期 3");
        // A file name (a cross-section's corridor read) stays as it is, even one named like a
        // string of the table that is not a step.
        assert_eq!(step_label("e1.laz", Lang::Ja), "e1.laz");
        assert_eq!(step_label("Ground", Lang::Ja), "Ground");
    }

    #[test]
    fn language_from_name() {
        assert_eq!(Lang::parse("ja"), Some(Lang::Ja));
        assert_eq!(Lang::parse("EN"), Some(Lang::En));
        assert_eq!(Lang::parse("fr"), None);
    }
}
