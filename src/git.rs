//! Reading the repository through the `git` command.
//!
//! `diff` and `release` compare the working tree with another commit. They read that commit's
//! files with `git ls-tree` and `git cat-file` instead of checking it out, so the working tree
//! is never touched and a shallow CI clone works as long as the commit itself was fetched
//! (`git fetch --depth=1 origin main`): no history is walked.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A git repository, addressed by a folder inside its working tree.
#[derive(Debug, Clone)]
pub struct Repo {
    /// The working tree's top folder.
    pub top: PathBuf,
}

impl Repo {
    /// The repository that contains `dir`.
    pub fn discover(dir: &Path) -> Result<Repo, String> {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let out = run(dir, &["rev-parse", "--show-toplevel"])
            .map_err(|e| format!("{e} (is {} in a git repository?)", dir.display()))?;
        Ok(Repo {
            top: PathBuf::from(String::from_utf8_lossy(&out).trim()),
        })
    }

    /// `path` relative to the top of the working tree, with forward slashes, as git names it.
    pub fn relative(&self, path: &Path) -> Result<String, String> {
        let absolute = path
            .canonicalize()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let top = self
            .top
            .canonicalize()
            .map_err(|e| format!("{}: {e}", self.top.display()))?;
        let relative = absolute.strip_prefix(&top).map_err(|_| {
            format!(
                "{} is outside the repository {}",
                path.display(),
                top.display()
            )
        })?;
        Ok(relative.to_string_lossy().replace('\\', "/"))
    }

    /// Files under `prefix` at `rev`, relative to `prefix`, sorted.
    pub fn files(&self, rev: &str, prefix: &str) -> Result<Vec<String>, String> {
        self.commit(rev)?;
        let spec = if prefix.is_empty() {
            ".".to_owned()
        } else {
            prefix.to_owned()
        };
        let out = run(
            &self.top,
            &[
                "ls-tree",
                "-r",
                "-z",
                "--name-only",
                "--full-tree",
                rev,
                "--",
                &spec,
            ],
        )?;
        let mut files: Vec<String> = out
            .split(|b| *b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .filter_map(|p| {
                if prefix.is_empty() {
                    Some(p)
                } else {
                    p.strip_prefix(&format!("{prefix}/")).map(str::to_owned)
                }
            })
            .collect();
        files.sort();
        Ok(files)
    }

    /// The content of `path` (relative to the top) at `rev`; `None` when it does not exist there.
    pub fn read(&self, rev: &str, path: &str) -> Result<Option<Vec<u8>>, String> {
        self.commit(rev)?;
        let object = format!("{rev}:{path}");
        let exists = Command::new("git")
            .args(["cat-file", "-e", &object])
            .current_dir(&self.top)
            .output()
            .map_err(|e| format!("cannot run git: {e}"))?;
        if !exists.status.success() {
            return Ok(None);
        }
        run(&self.top, &["cat-file", "blob", &object]).map(Some)
    }

    /// Fails with a helpful message when `rev` is not a commit this clone has.
    fn commit(&self, rev: &str) -> Result<(), String> {
        run(&self.top, &["rev-parse", "--verify", "--quiet", &format!("{rev}^{{commit}}")]).map(|_| ()).map_err(|_| {
            format!("`{rev}` is not a commit in this clone; in a shallow CI clone fetch it first, e.g. `git fetch --depth=1 origin main` and pass `origin/main`")
        })
    }

    /// Paths (relative to the top) with uncommitted changes or untracked files; both paths of
    /// a rename.
    pub fn dirty(&self) -> Result<Vec<String>, String> {
        // `-z` gives paths as they are (no quoting of unusual names, no ` -> ` for renames).
        let out = run(
            &self.top,
            &["status", "--porcelain", "-z", "--untracked-files=all"],
        )?;
        let mut paths = Vec::new();
        let mut fields = out.split(|b| *b == 0).filter(|f| !f.is_empty());
        while let Some(entry) = fields.next() {
            let status = entry.get(..2).unwrap_or_default();
            paths.push(String::from_utf8_lossy(entry.get(3..).unwrap_or(entry)).into_owned());
            // A rename or copy is followed by the path it came from.
            if status.contains(&b'R') || status.contains(&b'C') {
                paths.extend(
                    fields
                        .next()
                        .map(|f| String::from_utf8_lossy(f).into_owned()),
                );
            }
        }
        Ok(paths)
    }

    /// Tags whose name matches `pattern` (a git glob).
    pub fn tags(&self, pattern: &str) -> Result<Vec<String>, String> {
        let out = run(&self.top, &["tag", "--list", pattern])?;
        Ok(String::from_utf8_lossy(&out)
            .lines()
            .map(str::to_owned)
            .collect())
    }

    /// The commit id of HEAD.
    pub fn head(&self) -> Result<String, String> {
        run(&self.top, &["rev-parse", "HEAD"])
            .map(|o| String::from_utf8_lossy(&o).trim().to_owned())
    }
}

fn run(dir: &Path, args: &[&str]) -> Result<Vec<u8>, String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(format!(
            "`git {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
