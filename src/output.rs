//! Writing the output folder, or comparing against it.
//!
//! A deployment pipeline (Sentinel Repositories, a Splunk deployment server) pushes whatever is
//! in `generated/`, so a half-written folder is worse than a failed build. Every file is
//! rendered in memory first; then the tree is written to a temporary folder beside the output
//! and swapped in with two renames, rolled back if the second fails. A crash before the swap
//! leaves the previous output untouched. A crash between the two renames leaves the previous
//! output complete beside its place; the next build puts it back before anything else, then
//! removes every leftover.
//!
//! Check mode compares the rendered tree with the folder and writes nothing.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use crate::diagnostic::display_path;

/// Rendered files: path relative to the output folder -> content.
pub type Tree = BTreeMap<PathBuf, String>;

const TMP_PREFIX: &str = ".rulecast-tmp-";
const OLD_PREFIX: &str = ".rulecast-old-";

/// Refuses any path that could leave the output folder.
pub(crate) fn check_relative(path: &Path) -> io::Result<()> {
    let ok = !path.as_os_str().is_empty()
        && path.components().all(|c| matches!(c, Component::Normal(_)));
    if ok {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "refusing to write outside the output folder: {}",
                display_path(path)
            ),
        ))
    }
}

/// Replaces `dest` with exactly `tree`.
pub fn write_atomic(dest: &Path, tree: &Tree) -> io::Result<()> {
    for path in tree.keys() {
        check_relative(path)?;
    }
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent)?;
    let name = dest
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("generated")
        .to_owned();
    recover(dest, &parent, &name)?;

    let tmp = parent.join(format!("{TMP_PREFIX}{name}-{}", std::process::id()));
    let result = (|| {
        fs::create_dir_all(&tmp)?;
        for (i, (path, content)) in tree.iter().enumerate() {
            if i == tree.len() / 2 {
                crash_point("writing");
            }
            let full = tmp.join(path);
            if let Some(dir) = full.parent() {
                fs::create_dir_all(dir)?;
            }
            fs::write(&full, content)?;
        }
        // Make the content durable before it becomes visible.
        if let Ok(f) = fs::File::open(&tmp) {
            let _ = f.sync_all();
        }
        swap_in(&tmp, dest, &parent, &name)
    })();
    if result.is_err() {
        let _ = fs::remove_dir_all(&tmp);
    }
    result
}

fn swap_in(tmp: &Path, dest: &Path, parent: &Path, name: &str) -> io::Result<()> {
    if !dest.exists() {
        return fs::rename(tmp, dest);
    }
    let old = parent.join(format!("{OLD_PREFIX}{name}-{}", std::process::id()));
    fs::rename(dest, &old)?;
    crash_point("swapping");
    if let Err(e) = fs::rename(tmp, dest) {
        // Put the previous output back before reporting.
        fs::rename(&old, dest)?;
        return Err(e);
    }
    fs::remove_dir_all(&old)
}

/// Cleans up after an interrupted build: a previous output that was moved aside but never
/// replaced goes back to its place; half-written folders are removed.
fn recover(dest: &Path, parent: &Path, name: &str) -> io::Result<()> {
    let Ok(entries) = fs::read_dir(parent) else {
        return Ok(());
    };
    let mut leftovers: Vec<PathBuf> = Vec::new();
    for entry in entries.flatten() {
        let file = entry.file_name();
        let file = file.to_string_lossy();
        if file.starts_with(&format!("{OLD_PREFIX}{name}-")) && !dest.exists() {
            fs::rename(entry.path(), dest)?;
        } else if file.starts_with(&format!("{TMP_PREFIX}{name}-"))
            || file.starts_with(&format!("{OLD_PREFIX}{name}-"))
        {
            leftovers.push(entry.path());
        }
    }
    for leftover in leftovers {
        let _ = fs::remove_dir_all(leftover);
    }
    Ok(())
}

/// Test builds die here, like a killed process (no cleanup), when `RULECAST_TEST_CRASH_AT`
/// names the point: the only way to reach the moments between two file-system calls reliably.
/// Release builds have no such hook.
fn crash_point(point: &str) {
    if cfg!(debug_assertions) && std::env::var("RULECAST_TEST_CRASH_AT").is_ok_and(|p| p == point) {
        std::process::abort();
    }
}

/// Every file under `dir`, relative to it.
pub fn read_tree(dir: &Path) -> io::Result<Tree> {
    let mut tree = Tree::new();
    if !dir.exists() {
        return Ok(tree);
    }
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.map_err(io::Error::other)?;
        if entry.file_type().is_file() {
            let relative = entry
                .path()
                .strip_prefix(dir)
                .unwrap_or(entry.path())
                .to_path_buf();
            let bytes = fs::read(entry.path())?;
            tree.insert(relative, String::from_utf8_lossy(&bytes).into_owned());
        }
    }
    Ok(tree)
}

/// How the folder on disk differs from what the catalogue renders to.
#[derive(Debug, Default)]
pub struct Drift {
    /// Rendered but missing on disk.
    pub missing: Vec<PathBuf>,
    /// On disk but not rendered (stale, or added by hand).
    pub extra: Vec<PathBuf>,
    /// Different content: path and a short unified diff (disk -> rendered).
    pub changed: Vec<(PathBuf, String)>,
}

impl Drift {
    pub fn is_clean(&self) -> bool {
        self.missing.is_empty() && self.extra.is_empty() && self.changed.is_empty()
    }

    /// A readable summary, with diffs cut to `max_lines` lines each.
    pub fn summary(&self, root: &Path, max_lines: usize) -> String {
        let mut out = String::new();
        let show = |p: &Path| display_path(&root.join(p));
        for p in &self.changed {
            out.push_str(&format!("changed: {}\n", show(&p.0)));
            let lines: Vec<&str> = p.1.lines().collect();
            for line in lines.iter().take(max_lines) {
                out.push_str(&format!("    {line}\n"));
            }
            if lines.len() > max_lines {
                out.push_str(&format!("    ... {} more lines\n", lines.len() - max_lines));
            }
        }
        for p in &self.missing {
            out.push_str(&format!("missing: {}\n", show(p)));
        }
        for p in &self.extra {
            out.push_str(&format!("not generated by rulecast: {}\n", show(p)));
        }
        out
    }
}

/// Compares `rendered` with the files under `dir`.
pub fn compare(dir: &Path, rendered: &Tree) -> io::Result<Drift> {
    let on_disk = read_tree(dir)?;
    let mut drift = Drift::default();
    for (path, content) in rendered {
        match on_disk.get(path) {
            None => drift.missing.push(path.clone()),
            Some(existing) if existing != content => {
                let diff = similar::TextDiff::from_lines(existing.as_str(), content.as_str())
                    .unified_diff()
                    .context_radius(1)
                    .header("on disk", "rendered")
                    .to_string();
                drift.changed.push((path.clone(), diff));
            }
            Some(_) => {}
        }
    }
    for path in on_disk.keys() {
        if !rendered.contains_key(path) {
            drift.extra.push(path.clone());
        }
    }
    Ok(drift)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(items: &[(&str, &str)]) -> Tree {
        items
            .iter()
            .map(|(p, c)| (PathBuf::from(p), (*c).to_owned()))
            .collect()
    }

    #[test]
    fn swaps_and_removes_stale_files() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("generated");
        write_atomic(&out, &tree(&[("a/x.txt", "1"), ("stale.txt", "s")])).unwrap();
        write_atomic(&out, &tree(&[("a/x.txt", "2")])).unwrap();
        assert_eq!(read_tree(&out).unwrap(), tree(&[("a/x.txt", "2")]));
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(leftovers.len(), 1, "{leftovers:?}");
    }

    #[test]
    fn refuses_paths_outside_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("generated");
        write_atomic(&out, &tree(&[("ok.txt", "1")])).unwrap();
        for bad in ["../escape.txt", "/abs.txt", "a/../../b"] {
            assert!(write_atomic(&out, &tree(&[(bad, "x")])).is_err(), "{bad}");
        }
        assert_eq!(
            read_tree(&out).unwrap(),
            tree(&[("ok.txt", "1")]),
            "the previous output is intact"
        );
        assert!(!dir.path().join("escape.txt").exists());
    }

    #[test]
    fn a_failed_write_leaves_the_previous_output() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("generated");
        write_atomic(&out, &tree(&[("keep.txt", "old")])).unwrap();
        // A file and a folder with the same path cannot both be written: the write fails midway.
        let err = write_atomic(&out, &tree(&[("a", "file"), ("a/b", "child")]));
        assert!(err.is_err());
        assert_eq!(read_tree(&out).unwrap(), tree(&[("keep.txt", "old")]));
    }

    #[test]
    fn an_output_moved_aside_by_a_crash_is_put_back() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("generated");
        write_atomic(&out, &tree(&[("keep.txt", "old")])).unwrap();
        // The state a crash between the two renames leaves.
        fs::rename(&out, dir.path().join(format!("{OLD_PREFIX}generated-1"))).unwrap();
        fs::create_dir_all(dir.path().join(format!("{TMP_PREFIX}generated-1/half"))).unwrap();
        // A build that then fails still finds the previous output where it belongs.
        assert!(write_atomic(&out, &tree(&[("a", "file"), ("a/b", "child")])).is_err());
        assert_eq!(read_tree(&out).unwrap(), tree(&[("keep.txt", "old")]));
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(
            names,
            vec![std::ffi::OsString::from("generated")],
            "leftovers are removed"
        );
    }

    #[test]
    fn compare_reports_each_kind_of_drift() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("g");
        write_atomic(
            &out,
            &tree(&[("same", "s"), ("edited", "a\nb\n"), ("stale", "x")]),
        )
        .unwrap();
        let drift = compare(
            &out,
            &tree(&[("same", "s"), ("edited", "a\nc\n"), ("new", "n")]),
        )
        .unwrap();
        assert_eq!(drift.missing, vec![PathBuf::from("new")]);
        assert_eq!(drift.extra, vec![PathBuf::from("stale")]);
        assert_eq!(drift.changed.len(), 1);
        assert!(
            drift.changed[0].1.contains("-b\n+c"),
            "{}",
            drift.changed[0].1
        );
    }
}
