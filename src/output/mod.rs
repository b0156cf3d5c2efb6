//! Writing the output folder, or comparing against it.
//!
//! A deployment pipeline (Sentinel Repositories, a Splunk deployment server) pushes whatever is
//! in `generated/`, so a half-written folder is worse than a failed build, and a build pointed at
//! the wrong folder must not empty it. The folder is claimed first ([`claim`]: rulecast
//! replaces only a folder it owns, and locks it against other builds); files are written to a
//! temporary folder beside it as they are rendered ([`swap::Staging`]), and once every target has
//! rendered and passed its checks the new tree is swapped in atomically ([`swap`]).
//!
//! Check mode compares the rendered tree with the folder and writes nothing.

pub(crate) mod claim;
mod swap;

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

pub(crate) use claim::{Claimed, MARKER, OutputError, Protected, Rules, claim, read_lock};

use crate::diagnostic::display_path;
use crate::files::{FileKind, context};

/// Rendered files: path relative to the output folder -> content.
pub type Tree = BTreeMap<PathBuf, String>;

/// Where rendered files go as they are rendered, by their path below the output folder
/// (`<target>/...`): the staging folder of a build ([`swap::Staging`]), or memory
/// ([`Collect`]). Called from every target's thread at once.
pub(crate) trait Sink: Sync {
    /// A whole file.
    fn file(&self, path: PathBuf, content: String) -> io::Result<()>;
    /// A file written piece by piece (a combined template of every rule), complete once
    /// [`Pieces::close`]d.
    fn open(&self, path: PathBuf) -> io::Result<Box<dyn Pieces + '_>>;
}

/// A file being written piece by piece ([`Sink::open`]).
pub(crate) trait Pieces: Send {
    fn push(&mut self, piece: &str) -> io::Result<()>;
    fn close(self: Box<Self>) -> io::Result<()>;
}

/// A [`Sink`] that keeps the files in memory, for `check`'s comparison and the library's
/// rendering to a [`Tree`].
#[derive(Default)]
pub(crate) struct Collect(std::sync::Mutex<Tree>);

impl Collect {
    pub(crate) fn into_tree(self) -> Tree {
        self.0
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn insert(&self, path: PathBuf, content: String) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(path, content);
    }
}

impl Sink for Collect {
    fn file(&self, path: PathBuf, content: String) -> io::Result<()> {
        self.insert(path, content);
        Ok(())
    }

    fn open(&self, path: PathBuf) -> io::Result<Box<dyn Pieces + '_>> {
        struct Buffer<'a> {
            into: &'a Collect,
            path: PathBuf,
            text: String,
        }
        impl Pieces for Buffer<'_> {
            fn push(&mut self, piece: &str) -> io::Result<()> {
                self.text.push_str(piece);
                Ok(())
            }
            fn close(self: Box<Self>) -> io::Result<()> {
                self.into.insert(self.path, self.text);
                Ok(())
            }
        }
        Ok(Box::new(Buffer {
            into: self,
            path,
            text: String::new(),
        }))
    }
}

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

/// Replaces `dest` with exactly `tree`, if rulecast owns `dest` (see [`claim`]); a refusal is
/// an error of kind `Other` whose message says why.
pub fn write_atomic(dest: &Path, tree: &Tree) -> io::Result<()> {
    let rules = Rules {
        role: "output folder",
        protected: Vec::new(),
        adoptable: Box::new(|_| false),
        on_wait: &|_| {},
    };
    claim(dest, &rules)
        .and_then(|claimed| claimed.write(tree))
        .map_err(|e| match e {
            OutputError::Io(e) => e,
            refused @ OutputError::Refused { .. } => io::Error::other(refused.to_string()),
        })
}

/// The largest output file rulecast reads back (combined ARM templates of a big catalogue are
/// tens of megabytes); the bound is what stops a link to a device.
const MAX_OUTPUT_FILE_BYTES: u64 = 1 << 30;

/// Every file under `dir`, relative to it, except rulecast's marker. Anything but a regular file
/// or a folder is an error: rulecast writes nothing else, so it was put there by hand.
pub fn read_tree(dir: &Path) -> io::Result<Tree> {
    let mut tree = Tree::new();
    if fs::symlink_metadata(dir).is_err() {
        return Ok(tree);
    }
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(dir).to_path_buf();
            context("read", &path)(e.into())
        })?;
        let relative = entry
            .path()
            .strip_prefix(dir)
            .unwrap_or(entry.path())
            .to_path_buf();
        if relative == Path::new(MARKER) {
            continue;
        }
        match FileKind::of(entry.file_type()) {
            None => {}
            Some(FileKind::Folder) => continue,
            Some(kind) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "{} is {kind}; rulecast writes only files and folders, so it was not generated",
                        display_path(entry.path())
                    ),
                ));
            }
        }
        let bytes =
            crate::files::read_regular(entry.path(), MAX_OUTPUT_FILE_BYTES).map_err(|e| {
                context("read", entry.path())(match e {
                    crate::files::ReadError::Io(e) => e,
                    other => io::Error::new(io::ErrorKind::InvalidData, other),
                })
            })?;
        tree.insert(relative, String::from_utf8_lossy(&bytes).into_owned());
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
                out.push_str(&format!(
                    "    {}\n",
                    crate::diagnostic::escape_controls(line)
                ));
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
        assert!(
            out.join(MARKER).is_file(),
            "the folder is marked as rulecast's"
        );
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
        fs::rename(&out, dir.path().join(".rulecast-old.generated.1")).unwrap();
        fs::create_dir_all(dir.path().join(".rulecast-tmp.generated.1/half")).unwrap();
        // An older rulecast's names, and another output's leftover, which stays.
        fs::create_dir_all(dir.path().join(".rulecast-tmp-generated-7/half")).unwrap();
        fs::create_dir_all(dir.path().join(".rulecast-tmp.generated.2.9/other")).unwrap();
        // A build that then fails still finds the previous output where it belongs.
        assert!(write_atomic(&out, &tree(&[("a", "file"), ("a/b", "child")])).is_err());
        assert_eq!(read_tree(&out).unwrap(), tree(&[("keep.txt", "old")]));
        let mut names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        names.sort();
        assert_eq!(
            names,
            vec![
                std::ffi::OsString::from(".rulecast-tmp.generated.2.9"),
                std::ffi::OsString::from("generated"),
            ],
            "leftovers are removed"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_link_in_the_output_is_reported_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("g");
        write_atomic(&out, &tree(&[("a.txt", "1")])).unwrap();
        fs::write(dir.path().join("secret"), "s").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret"), out.join("b.txt")).unwrap();
        let e = read_tree(&out).unwrap_err();
        assert!(e.to_string().contains("b.txt is a symbolic link"), "{e}");
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
