//! Safe writes. Two rules hold for every file Kizashi writes:
//!
//! 1. **No output is an input.** [`refuse_inputs`] compares an output with every input after
//!    following links and by inode (a hard link is the same file), so `-o` pointing at a survey
//!    is refused before any work is done.
//! 2. **No partial output.** [`write_file`] lets the writer fill a temporary file in the target
//!    folder (same file system, same extension, since las and GDAL choose the format by it),
//!    flushes it to disk, then renames it over the target: a process killed at any moment
//!    leaves the old file or the new one. [`write_dir`] does the same for folders (3D Tiles):
//!    a temporary folder, swapped in whole at the end.
//!
//! A kill can leave a hidden `.NAME.kizashi-*` temporary beside the target; it is never the
//! target itself.

use super::{IoError, Result};
use std::path::{Path, PathBuf};

/// Same file: same device and inode (follows links, so a symlink to an input is the input).
pub fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
            (Ok(x), Ok(y)) => x == y,
            // Neither exists (yet): the same path is still the same file.
            _ => a == b,
        },
    }
}

/// Refuses `output` when it is any of `inputs` (or a folder holding one, for folder outputs
/// that get replaced whole).
pub fn refuse_inputs(output: &Path, inputs: &[&Path]) -> Result<()> {
    for input in inputs {
        let inside = std::fs::canonicalize(input)
            .ok()
            .zip(std::fs::canonicalize(output).ok())
            .is_some_and(|(i, o)| o.is_dir() && i.starts_with(&o));
        if same_file(output, input) || inside {
            return Err(IoError::OutputIsInput {
                output: output.to_path_buf(),
                input: input.to_path_buf(),
            });
        }
    }
    Ok(())
}

fn split(target: &Path) -> (PathBuf, String) {
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "out".into());
    (dir, name)
}

/// Writes `target` through `write`, which gets a temporary path in the same folder with the
/// same extension and must create the file there. Only a complete file is renamed into place.
pub fn write_file<T, E>(
    target: &Path,
    write: impl FnOnce(&Path) -> std::result::Result<T, E>,
) -> std::result::Result<T, E>
where
    E: From<IoError>,
{
    let (dir, name) = split(target);
    if !dir.is_dir() {
        return Err(IoError::Write {
            path: target.to_path_buf(),
            reason: format!("folder {} does not exist", dir.display()),
        }
        .into());
    }
    let ext = target
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}.kizashi-"))
        .suffix(&ext)
        .tempfile_in(&dir)
        .map_err(|e| IoError::io(target, e))?
        .into_temp_path();
    // The writer creates the file itself (GDAL drivers refuse to open an existing one for
    // creation); the TempPath still removes it when anything fails.
    let _ = std::fs::remove_file(&tmp);
    let value = write(&tmp)?;
    persist(&tmp, target)?;
    // Renamed away: nothing left to delete.
    let _ = tmp.keep();
    Ok(value)
}

/// Bytes to `target`, atomically.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let survey = dir.path().join("e1.laz");
/// kizashi::io::safe::write_bytes(&survey, b"LASF...").unwrap();
/// // Writing over an input, even through a link, is refused.
/// let link = dir.path().join("link.laz");
/// std::os::unix::fs::symlink(&survey, &link).unwrap();
/// assert!(kizashi::io::safe::refuse_inputs(&link, &[survey.as_path()]).is_err());
/// ```
pub fn write_bytes(target: &Path, bytes: &[u8]) -> Result<()> {
    write_file(target, |tmp| {
        std::fs::write(tmp, bytes).map_err(|e| IoError::io(target, e))
    })
}

/// fsync the file, rename it over the target, fsync the folder (so the rename survives a
/// power cut as well as a kill).
fn persist(tmp: &Path, target: &Path) -> Result<()> {
    let f = std::fs::File::open(tmp).map_err(|e| IoError::Write {
        path: target.to_path_buf(),
        reason: format!("the writer left no file ({e})"),
    })?;
    f.sync_all().map_err(|e| IoError::io(target, e))?;
    std::fs::rename(tmp, target).map_err(|e| IoError::io(target, e))?;
    if let Ok(d) = std::fs::File::open(split(target).0) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Writes the folder `target` through `write`, which fills an empty temporary folder beside
/// it. An existing non-empty `target` is refused unless `overwrite`, which replaces it whole
/// (nothing of the old export stays beside the new one).
pub fn write_dir<T, E>(
    target: &Path,
    overwrite: bool,
    write: impl FnOnce(&Path) -> std::result::Result<T, E>,
) -> std::result::Result<T, E>
where
    E: From<IoError>,
{
    let (dir, name) = split(target);
    if target.exists() {
        if !target.is_dir() {
            return Err(IoError::Write {
                path: target.to_path_buf(),
                reason: "exists and is not a folder".into(),
            }
            .into());
        }
        let empty = std::fs::read_dir(target)
            .map_err(|e| IoError::io(target, e))?
            .next()
            .is_none();
        if !empty && !overwrite {
            return Err(IoError::Write {
                path: target.to_path_buf(),
                reason: "folder is not empty; choose an empty or new folder, or --overwrite to replace it whole".into(),
            }
            .into());
        }
    }
    std::fs::create_dir_all(&dir).map_err(|e| IoError::io(&dir, e))?;
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}.kizashi-"))
        .tempdir_in(&dir)
        .map_err(|e| IoError::io(target, e))?;
    let value = write(tmp.path())?;
    sync_tree(tmp.path());
    let tmp = tmp.keep();
    let swapped = if target.exists() {
        exchange(&tmp, target)
    } else {
        std::fs::rename(&tmp, target)
    };
    if let Err(e) = swapped {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(IoError::io(target, e).into());
    }
    // After an exchange `tmp` holds the old export.
    let _ = std::fs::remove_dir_all(&tmp);
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(value)
}

fn sync_tree(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                sync_tree(&p);
            } else if let Ok(f) = std::fs::File::open(&p) {
                let _ = f.sync_all();
            }
        }
    }
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Swaps two paths in one step (Linux renameat2 RENAME_EXCHANGE), so the target folder is
/// always either the old export or the new one.
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let ca = CString::new(a.as_os_str().as_bytes())?;
    let cb = CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: two valid NUL-terminated paths, relative to the current directory.
    let r = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            ca.as_ptr(),
            libc::AT_FDCWD,
            cb.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if r == 0 {
        return Ok(());
    }
    // File systems without RENAME_EXCHANGE: move the old folder aside, then the new one in
    // (a kill between the two leaves no target, never a mixed one).
    let aside = a.with_extension("old");
    std::fs::rename(b, &aside)?;
    std::fs::rename(a, b)?;
    std::fs::rename(&aside, a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_that_is_an_input_is_refused_also_through_links() {
        let d = tempfile::tempdir().unwrap();
        let input = d.path().join("e1.laz");
        std::fs::write(&input, b"survey").unwrap();
        let link = d.path().join("link.laz");
        std::os::unix::fs::symlink(&input, &link).unwrap();
        let hard = d.path().join("hard.laz");
        std::fs::hard_link(&input, &hard).unwrap();
        let dotted = d.path().join(".").join("e1.laz");
        for out in [&input, &link, &hard, &dotted] {
            let e = refuse_inputs(out, &[input.as_path()]).unwrap_err();
            assert!(e.to_string().contains("is an input"), "{e}");
        }
        refuse_inputs(&d.path().join("new.laz"), &[input.as_path()]).unwrap();
        // A folder replaced whole may not hold an input.
        assert!(refuse_inputs(d.path(), &[input.as_path()]).is_err());
        assert_eq!(std::fs::read(&input).unwrap(), b"survey");
    }

    #[test]
    fn failed_writer_leaves_the_old_file_and_no_temporary() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("out.csv");
        std::fs::write(&target, b"old").unwrap();
        let r: Result<()> = write_file(&target, |tmp| {
            std::fs::write(tmp, b"half").unwrap();
            Err(IoError::Cancelled)
        });
        assert!(r.is_err());
        assert_eq!(std::fs::read(&target).unwrap(), b"old");
        assert_eq!(
            std::fs::read_dir(d.path()).unwrap().count(),
            1,
            "temporary removed"
        );
        write_bytes(&target, b"new").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn folder_is_refused_when_not_empty_and_replaced_whole_with_overwrite() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("tiles");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("unrelated.txt"), b"keep").unwrap();
        let fill = |dir: &Path| -> Result<()> {
            std::fs::write(dir.join("tileset.json"), b"{}").map_err(|e| IoError::io(dir, e))
        };
        assert!(write_dir(&target, false, fill)
            .unwrap_err()
            .to_string()
            .contains("not empty"));
        assert!(target.join("unrelated.txt").exists());
        write_dir(&target, true, fill).unwrap();
        let names: Vec<_> = std::fs::read_dir(&target)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("tileset.json")]);
        assert_eq!(
            std::fs::read_dir(d.path()).unwrap().count(),
            1,
            "no temporary or old folder left"
        );
    }
}
