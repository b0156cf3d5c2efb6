//! The catalogue and lock as they are at a git ref.
//!
//! The catalogue's files are copied from git into a temporary folder and loaded with the normal
//! loader, so the base is validated exactly like the working tree; nothing is checked out.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::State;
use crate::catalogue::Catalogue;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::git::{GitError, Repo};
use crate::lock::{self, LOCK_FILE, Lock};
use crate::render::Templates;
use crate::targets::Targets;

/// Why the base side of a diff cannot be read.
#[derive(Debug)]
pub(crate) enum BaseError {
    Git(GitError),
    /// The revision has no catalogue in the folder.
    NoCatalogue {
        prefix: String,
        rev: String,
    },
    /// No temporary folder could be made for the base catalogue.
    TempDir(std::io::Error),
    /// The base catalogue could not be copied to a temporary folder.
    Copy {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The base catalogue does not load with this rulecast.
    DoesNotLoad {
        rev: String,
        problems: Diagnostics,
    },
    /// The base lock cannot be read.
    BrokenLock {
        rev: String,
        problem: Diagnostic,
    },
    /// The base catalogue loads but does not render.
    DoesNotRender(Diagnostics),
}

impl fmt::Display for BaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BaseError::Git(e) => e.fmt(f),
            BaseError::NoCatalogue { prefix, rev } => {
                write!(f, "there is no catalogue at {prefix}/ in `{rev}`")
            }
            BaseError::TempDir(e) => write!(f, "cannot create a temporary folder: {e}"),
            BaseError::Copy { path, source } => write!(f, "{}: {source}", path.display()),
            BaseError::DoesNotLoad { rev, problems } => write!(
                f,
                "the catalogue at `{rev}` does not load with this rulecast:\n{problems}"
            ),
            BaseError::BrokenLock { rev, problem } => {
                write!(
                    f,
                    "the {LOCK_FILE} at `{rev}` is broken: {}",
                    problem.message()
                )
            }
            BaseError::DoesNotRender(problems) => {
                write!(f, "the base catalogue does not render:\n{problems}")
            }
        }
    }
}

impl std::error::Error for BaseError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BaseError::Git(e) => Some(e),
            BaseError::Copy { source, .. } | BaseError::TempDir(source) => Some(source),
            BaseError::DoesNotLoad { problems, .. } | BaseError::DoesNotRender(problems) => {
                Some(problems)
            }
            BaseError::BrokenLock { problem, .. } => Some(problem),
            BaseError::NoCatalogue { .. } => None,
        }
    }
}

impl From<GitError> for BaseError {
    fn from(e: GitError) -> Self {
        BaseError::Git(e)
    }
}

/// The catalogue in folder `catalogue_dir` of the working tree, as it is at `rev`.
pub(crate) struct Base {
    pub catalogue: Catalogue,
    pub lock: Option<Lock>,
}

/// Loads the catalogue at `rev`.
pub(crate) fn load(
    repo: &Repo,
    rev: &str,
    catalogue_dir: &Path,
    targets: &Arc<Targets>,
) -> Result<Base, BaseError> {
    let prefix = repo.relative(catalogue_dir)?;
    let files = repo.files(rev, &prefix)?;
    if files.is_empty() {
        return Err(BaseError::NoCatalogue {
            prefix,
            rev: rev.to_owned(),
        });
    }
    let dir = tempfile::Builder::new()
        .prefix("rulecast-base-")
        .tempdir()
        .map_err(BaseError::TempDir)?;
    let copy_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BaseError::Copy { path, source }
    };
    for file in &files {
        let git_path = if prefix.is_empty() {
            file.clone()
        } else {
            format!("{prefix}/{file}")
        };
        let Some(bytes) = repo.read(rev, &git_path)? else {
            continue;
        };
        let target = dir.path().join(file);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(copy_error(parent))?;
        }
        std::fs::write(&target, bytes).map_err(copy_error(&target))?;
    }
    let catalogue = Catalogue::load_with(dir.path(), targets.clone()).map_err(|problems| {
        BaseError::DoesNotLoad {
            rev: rev.to_owned(),
            problems,
        }
    })?;
    let lock = lock::read(dir.path())
        .map_err(|problem| BaseError::BrokenLock {
            rev: rev.to_owned(),
            problem,
        })?
        .map(|l| l.lock);
    Ok(Base { catalogue, lock })
}

impl Base {
    /// The base state: artifact hashes from the base lock (what was deployed from it), or
    /// rendered with this rulecast for detections the lock lacks.
    pub(crate) fn state(&self, templates: &Templates) -> Result<State, BaseError> {
        let mut hashes = lock::fingerprint::fingerprints(&self.catalogue, templates)
            .map_err(BaseError::DoesNotRender)?;
        if let Some(lock) = &self.lock {
            for (id, locked) in &lock.detections {
                hashes.insert(id.clone(), locked.sha256.clone());
            }
        }
        Ok(State::new(&self.catalogue, &hashes))
    }
}
