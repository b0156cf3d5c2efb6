//! The catalogue and lock as they are at a git ref.
//!
//! The catalogue's files are copied from git into a temporary folder and loaded with the normal
//! loader, so the base is validated exactly like the working tree; nothing is checked out.

use std::path::Path;

use super::State;
use crate::catalogue::Catalogue;
use crate::git::Repo;
use crate::lock::{self, LOCK_FILE, Lock};
use crate::render::Templates;

/// The catalogue in folder `catalogue_dir` of the working tree, as it is at `rev`.
pub struct Base {
    pub catalogue: Catalogue,
    pub lock: Option<Lock>,
}

/// Loads the catalogue at `rev`. Errors are sentences for the user.
pub fn load(repo: &Repo, rev: &str, catalogue_dir: &Path) -> Result<Base, String> {
    let prefix = repo.relative(catalogue_dir)?;
    let files = repo.files(rev, &prefix)?;
    if files.is_empty() {
        return Err(format!("there is no catalogue at {prefix}/ in `{rev}`"));
    }
    let dir = tempfile::Builder::new()
        .prefix("rulecast-base-")
        .tempdir()
        .map_err(|e| format!("cannot create a temporary folder: {e}"))?;
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
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::write(&target, bytes).map_err(|e| format!("{}: {e}", target.display()))?;
    }
    let catalogue = Catalogue::load(dir.path())
        .map_err(|d| format!("the catalogue at `{rev}` does not load with this rulecast:\n{d}"))?;
    let lock = match lock::read(dir.path()) {
        Ok(l) => l.map(|l| l.lock),
        Err(d) => {
            return Err(format!(
                "the {LOCK_FILE} at `{rev}` is broken: {}",
                d.message
            ));
        }
    };
    Ok(Base { catalogue, lock })
}

impl Base {
    /// The base state: artifact hashes from the base lock (what was deployed from it), or
    /// rendered with this rulecast for detections the lock lacks.
    pub fn state(&self, templates: &Templates) -> Result<State, String> {
        let mut hashes = lock::fingerprint::fingerprints(&self.catalogue, templates)
            .map_err(|d| format!("the base catalogue does not render:\n{d}"))?;
        if let Some(lock) = &self.lock {
            for (id, locked) in &lock.detections {
                hashes.insert(id.clone(), locked.sha256.clone());
            }
        }
        Ok(State::new(&self.catalogue, &hashes))
    }
}
