//! Reading the repository through the `git` command.
//!
//! `diff` and `release` compare the working tree with another commit. They read that commit's
//! files with `git ls-tree` and `git cat-file` instead of checking it out, so the working tree
//! is never touched and a shallow CI clone works as long as the commit itself was fetched
//! (`git fetch --depth=1 origin main`): no history is walked.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Why git could not answer.
#[derive(Debug)]
pub(crate) enum GitError {
    /// The `git` program could not be started.
    CannotRun(std::io::Error),
    /// A git command exited with an error.
    Failed { command: String, stderr: String },
    /// The folder is not inside a git working tree.
    NotARepository { dir: PathBuf, cause: Box<GitError> },
    /// The revision is not a commit this clone has.
    NotACommit { rev: String },
    /// A path could not be resolved.
    Path {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A path lies outside the repository.
    OutsideRepository { path: PathBuf, top: PathBuf },
}

impl fmt::Display for GitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GitError::CannotRun(e) => write!(f, "cannot run git: {e}"),
            GitError::Failed { command, stderr } => write!(f, "`{command}` failed: {stderr}"),
            GitError::NotARepository { dir, cause } => {
                write!(f, "{cause} (is {} in a git repository?)", dir.display())
            }
            GitError::NotACommit { rev } => write!(
                f,
                "`{rev}` is not a commit in this clone; in a shallow CI clone fetch it first, e.g. \
                 `git fetch --depth=1 origin main` and pass `origin/main`"
            ),
            GitError::Path { path, source } => write!(f, "{}: {source}", path.display()),
            GitError::OutsideRepository { path, top } => write!(
                f,
                "{} is outside the repository {}",
                path.display(),
                top.display()
            ),
        }
    }
}

impl std::error::Error for GitError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            GitError::CannotRun(e) | GitError::Path { source: e, .. } => Some(e),
            GitError::NotARepository { cause, .. } => Some(cause),
            _ => None,
        }
    }
}

/// A git repository, addressed by a folder inside its working tree.
#[derive(Debug, Clone)]
pub(crate) struct Repo {
    /// The working tree's top folder.
    pub top: PathBuf,
}

impl Repo {
    /// The repository that contains `dir`.
    pub(crate) fn discover(dir: &Path) -> Result<Repo, GitError> {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let out =
            run(dir, &["rev-parse", "--show-toplevel"]).map_err(|e| GitError::NotARepository {
                dir: dir.to_path_buf(),
                cause: Box::new(e),
            })?;
        Ok(Repo {
            top: PathBuf::from(String::from_utf8_lossy(&out).trim()),
        })
    }

    /// `path` relative to the top of the working tree, with forward slashes, as git names it.
    pub(crate) fn relative(&self, path: &Path) -> Result<String, GitError> {
        let resolve = |p: &Path| {
            p.canonicalize().map_err(|source| GitError::Path {
                path: p.to_path_buf(),
                source,
            })
        };
        let absolute = resolve(path)?;
        let top = resolve(&self.top)?;
        let relative = absolute
            .strip_prefix(&top)
            .map_err(|_| GitError::OutsideRepository {
                path: path.to_path_buf(),
                top: top.clone(),
            })?;
        Ok(relative.to_string_lossy().replace('\\', "/"))
    }

    /// Files under `prefix` at `rev`, relative to `prefix`, sorted.
    pub(crate) fn files(&self, rev: &str, prefix: &str) -> Result<Vec<String>, GitError> {
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
    pub(crate) fn read(&self, rev: &str, path: &str) -> Result<Option<Vec<u8>>, GitError> {
        self.commit(rev)?;
        let object = format!("{rev}:{path}");
        let exists = Command::new("git")
            .args(["cat-file", "-e", &object])
            .current_dir(&self.top)
            .output()
            .map_err(GitError::CannotRun)?;
        if !exists.status.success() {
            return Ok(None);
        }
        run(&self.top, &["cat-file", "blob", &object]).map(Some)
    }

    /// Fails with a helpful message when `rev` is not a commit this clone has.
    fn commit(&self, rev: &str) -> Result<(), GitError> {
        run(
            &self.top,
            &[
                "rev-parse",
                "--verify",
                "--quiet",
                &format!("{rev}^{{commit}}"),
            ],
        )
        .map(|_| ())
        .map_err(|_| GitError::NotACommit {
            rev: rev.to_owned(),
        })
    }

    /// Paths (relative to the top) with uncommitted changes or untracked files; both paths of
    /// a rename.
    pub(crate) fn dirty(&self) -> Result<Vec<String>, GitError> {
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
    pub(crate) fn tags(&self, pattern: &str) -> Result<Vec<String>, GitError> {
        let out = run(&self.top, &["tag", "--list", pattern])?;
        Ok(String::from_utf8_lossy(&out)
            .lines()
            .map(str::to_owned)
            .collect())
    }
}

fn run(dir: &Path, args: &[&str]) -> Result<Vec<u8>, GitError> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(GitError::CannotRun)?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(GitError::Failed {
            command: format!("git {}", args.join(" ")),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        })
    }
}
