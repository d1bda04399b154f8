//! A job file as a viewer session, and the viewer's session saved as a job file.

use super::*;

/// What the viewer opens from a job file: its epochs, the report's orthophoto and the change
/// step as declared (paths resolved against the job file).
#[derive(Clone, Debug)]
pub struct Session {
    pub files: Vec<PathBuf>,
    pub change: Option<ChangeJob>,
}

/// A job file as a viewer session.
pub fn session(file: &Path) -> Result<Session> {
    let site = read(file)?;
    let plan = plan_site(file, &site)?;
    let dir = plan
        .file
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let at = |p: &Path| beside(&dir, p);
    let mut files: Vec<PathBuf> = site.epochs.iter().map(|e| at(&e.path)).collect();
    files.extend(
        site.report
            .as_ref()
            .and_then(|r| r.ortho.as_deref())
            .map(at),
    );
    let change = plan.steps.iter().find_map(|s| match s {
        StepJob::Change(j) => Some(j.clone()),
        _ => None,
    });
    Ok(Session { files, change })
}

fn quoted(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// The job file of what the viewer shows: its two epochs, the change panel's job (as the change
/// step), a DoD at the panel's cell, change objects, the report (over `ortho`) and 3D Tiles.
/// Reading it back (`plan`) gives the same change job.
pub fn session_toml(job: &ChangeJob, dod_cell: f64, ortho: Option<&Path>, lang: Lang) -> String {
    let num = |v: f64| format!("{v:?}");
    let mut t = String::from("# Saved by the Kizashi viewer: `kizashi run` this file to repeat and extend the session.\n\n[site]\noutput = \"out\"\n");
    for e in [&job.epoch1, &job.epoch2] {
        t.push_str(&format!(
            "\n[[epoch]]\npath = {}\n",
            quoted(&e.display().to_string())
        ));
    }
    let m = &job.m3c2;
    t.push_str(&format!(
        "\n[change]\nmethod = {}\n",
        quoted(if job.method == Method::M3c2 {
            "m3c2"
        } else {
            "c2c"
        })
    ));
    let opt = |name: &str, v: Option<f64>| {
        v.map(|v| format!("{name} = {}\n", num(v)))
            .unwrap_or_default()
    };
    t.push_str(&opt("cyl_radius", m.cyl_radius));
    if let Some(r) = &m.normal_radii {
        t.push_str(&format!(
            "normal_radii = [{}]\n",
            r.iter().map(|v| num(*v)).collect::<Vec<_>>().join(", ")
        ));
    }
    t.push_str(&opt("max_distance", m.max_distance));
    match &job.cores {
        Some(Cores::Spacing(s)) => t.push_str(&format!("core_spacing = {}\n", num(*s))),
        Some(Cores::Step(n)) => t.push_str(&format!("core_step = {n}\n")),
        Some(Cores::File(p)) => {
            t.push_str(&format!("cores = {}\n", quoted(&p.display().to_string())))
        }
        Some(Cores::FileWithNormals(p)) => t.push_str(&format!(
            "cores = {}\ncore_normals = true\n",
            quoted(&p.display().to_string())
        )),
        Some(Cores::All) | None => {}
    }
    if m.registration_error > 0.0 {
        t.push_str(&format!(
            "registration_error = {}\n",
            num(m.registration_error)
        ));
    }
    if m.robust {
        t.push_str("robust = true\n");
    }
    t.push_str(&format!("\n[dod]\ncell = {}\n", num(dod_cell)));
    if job.method == Method::M3c2 {
        t.push_str("\n[objects]\n");
    }
    let l = match lang {
        Lang::En => "en",
        Lang::Ja => "ja",
    };
    t.push_str(&format!("\n[report]\nlang = \"{l}\"\n"));
    if let Some(o) = ortho {
        t.push_str(&format!("ortho = {}\n", quoted(&o.display().to_string())));
    }
    t.push_str("\n[tiles]\n");
    t
}

/// Writes `session_toml` to `path` (atomically; never over one of the session's inputs).
pub fn save_session(
    path: &Path,
    job: &ChangeJob,
    dod_cell: f64,
    ortho: Option<&Path>,
    lang: Lang,
) -> Result<()> {
    let inputs: Vec<&Path> = [job.epoch1.as_path(), job.epoch2.as_path()]
        .into_iter()
        .chain(ortho)
        .collect();
    crate::io::safe::refuse_inputs(path, &inputs)?;
    crate::io::safe::write_bytes(path, session_toml(job, dod_cell, ortho, lang).as_bytes())?;
    Ok(())
}
