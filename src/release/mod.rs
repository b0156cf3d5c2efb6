//! `rulecast release`: the versioned, reproducible files a content-pack release publishes.
//!
//! A release is cut from a commit, never from a working tree: the command refuses uncommitted
//! changes and anything `check` would reject, and the version must be the one the lock records
//! (`rulecast lock --pack-version`), so the released archives are exactly what the committed
//! `generated/` holds. What it writes (file names start with the pack name):
//!
//! * `<name>-<version>-sentinel.zip`: the Sentinel output folder: one ARM template per rule
//!   and `sentinel-deployment.config` (for Repositories), the combined ARM template, the
//!   watchlists and the Azure-Sentinel YAML templates;
//! * `<app>-<version>.tgz`: the Splunk app, app version set to the release version;
//! * `<name>-<version>-sigma.zip`: Sigma rules (correlations are in the rule files) and the
//!   pySigma pipelines;
//! * `<name>-<version>-azure-monitor.json`: the combined Azure Monitor ARM template;
//! * `manifest.json` ([`manifest`]), `CHANGELOG.md` (this release's section, [`changelog`]);
//! * `SHA256SUMS` over all of them.
//!
//! The previous release, for the changelog, is the newest tag `vX.Y.Z` below the version (or
//! `--previous REF`); its lock is read from git, so no release record has to be committed.

pub(crate) mod archive;
pub(crate) mod changelog;
pub(crate) mod manifest;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use manifest::TargetFile;

use crate::diagnostic::Diagnostic;
use crate::git::{GitError, Repo};
use crate::lock::{LOCK_FILE, Lock};
use crate::output::Tree;
use crate::targets::{PackageContext, PackageError};

/// Why release files cannot be made.
#[derive(Debug)]
pub(crate) enum ReleaseError {
    Git(GitError),
    Io(std::io::Error),
    /// The previous release's commit has no lock at the catalogue's place.
    NoPreviousLock {
        reference: String,
        path: String,
    },
    PreviousLockNotUtf8 {
        reference: String,
        path: String,
    },
    BrokenPreviousLock(Diagnostic),
    /// A target's release file could not be made.
    Package {
        target: &'static str,
        cause: PackageError,
    },
}

impl fmt::Display for ReleaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReleaseError::Git(e) => e.fmt(f),
            ReleaseError::Io(e) => e.fmt(f),
            ReleaseError::NoPreviousLock { reference, path } => write!(
                f,
                "`{reference}` has no {path}; pass the previous release with --previous REF"
            ),
            ReleaseError::PreviousLockNotUtf8 { reference, path } => {
                write!(f, "{path} at `{reference}` is not UTF-8")
            }
            ReleaseError::BrokenPreviousLock(d) => d.fmt(f),
            ReleaseError::Package { target, cause } => write!(f, "{target}: {cause}"),
        }
    }
}

impl std::error::Error for ReleaseError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReleaseError::Git(e) => Some(e),
            ReleaseError::Io(e) => Some(e),
            ReleaseError::Package { cause, .. } => Some(cause),
            ReleaseError::BrokenPreviousLock(d) => Some(d),
            _ => None,
        }
    }
}

impl From<GitError> for ReleaseError {
    fn from(e: GitError) -> Self {
        ReleaseError::Git(e)
    }
}

/// The release file that describes the release (its targets' files, detections and versions).
pub(crate) const MANIFEST: &str = "manifest.json";
/// The release file of every other file's SHA-256.
pub(crate) const CHECKSUMS: &str = "SHA256SUMS";

/// Release files: file name -> content, in the order they are listed.
pub(crate) type Files = BTreeMap<String, Vec<u8>>;

/// The files of `tree` under `prefix/`, keyed by their path below it.
pub(crate) fn subtree(tree: &Tree, prefix: &str) -> archive::Entries {
    tree.iter()
        .filter_map(|(path, content)| {
            let relative = path.strip_prefix(prefix).ok()?;
            let name = relative.to_string_lossy().replace('\\', "/");
            Some((name, content.as_bytes().to_vec()))
        })
        .collect()
}

/// `SHA256SUMS` of `files`, in the format `sha256sum -c` reads.
pub(crate) fn checksums(files: &Files) -> String {
    files.iter().fold(String::new(), |mut sums, (name, bytes)| {
        let digest = crate::lock::fingerprint::sha256_hex(bytes);
        sums.push_str(&format!("{digest}  {name}\n"));
        sums
    })
}

/// The newest tag `vX.Y.Z` whose version is below `version`.
pub(crate) fn previous_tag(tags: &[String], version: &str) -> Option<String> {
    let parse = |v: &str| -> Option<(u64, u64, u64)> {
        let mut parts = v.split('.').map(|p| p.parse::<u64>().ok());
        let triple = (parts.next()??, parts.next()??, parts.next()??);
        parts.next().is_none().then_some(triple)
    };
    let current = parse(version)?;
    tags.iter()
        .filter_map(|t| Some((parse(t.strip_prefix('v')?)?, t)))
        .filter(|(v, _)| *v < current)
        .max()
        .map(|(_, t)| t.clone())
}

/// Uncommitted paths, leaving out only what is inside the release folder `out` (resolved, as
/// the claim of the folder gives it), which may sit in the tree. The claim has made sure that
/// folder holds neither the catalogue nor the working folder, so nothing a release is built
/// from can hide in it.
pub(crate) fn uncommitted(repo: &Repo, out: &Path) -> Result<Vec<String>, ReleaseError> {
    let top = repo.top.canonicalize().map_err(ReleaseError::Io)?;
    Ok(repo
        .dirty()?
        .into_iter()
        .filter(|p| {
            let path = top.join(p.trim_end_matches('/'));
            path == out || !path.starts_with(out)
        })
        .collect())
}

/// The previous release's version and lock, if there is one.
pub(crate) fn previous_lock(
    repo: &Repo,
    catalogue_dir: &Path,
    explicit: Option<&str>,
    version: &str,
) -> Result<Option<(String, Lock)>, ReleaseError> {
    let reference = match explicit {
        Some(r) => r.to_owned(),
        None => match previous_tag(&repo.tags("v*")?, version) {
            Some(tag) => tag,
            None => return Ok(None),
        },
    };
    let path = format!("{}/{LOCK_FILE}", repo.relative(catalogue_dir)?);
    let Some(text) = repo.read(&reference, &path)? else {
        return Err(ReleaseError::NoPreviousLock { reference, path });
    };
    let Ok(text) = String::from_utf8(text) else {
        return Err(ReleaseError::PreviousLockNotUtf8 { reference, path });
    };
    let lock = Lock::parse(&text, Path::new(&format!("{reference}:{path}")))
        .map_err(ReleaseError::BrokenPreviousLock)?
        .lock;
    Ok(Some((lock.pack_version.clone(), lock)))
}

/// Every release file of `selected` at `version`: one per target, the manifest, the
/// changelog section and the checksums.
pub(crate) fn files(
    selected: &crate::catalogue::Catalogue,
    lock: &Lock,
    tree: &crate::output::Tree,
    version: &str,
    pack: &crate::pack::Selection,
    previous: Option<(&str, &Lock)>,
    catalogue: &crate::catalogue::Catalogue,
) -> Result<Files, ReleaseError> {
    let mut files = Files::new();
    let mut targets_files = BTreeMap::new();
    // Each target packages its own output (`Target::package`).
    for target in selected.targets.iter() {
        let entries = subtree(tree, target.name());
        let context = PackageContext {
            files: &entries,
            config: &selected.config,
            version,
        };
        let file = target
            .package(&context)
            .map_err(|cause| ReleaseError::Package {
                target: target.name(),
                cause,
            })?;
        targets_files.insert(
            target.name().to_owned(),
            TargetFile {
                description: target.description().to_owned(),
                file: file.name.clone(),
            },
        );
        files.insert(file.name, file.bytes);
    }

    let manifest = manifest::manifest(selected, lock, version, &pack.describe(), targets_files);
    let mut json = serde_json::to_string_pretty(&manifest).expect("the manifest serialises");
    json.push('\n');
    files.insert(MANIFEST.to_owned(), json.into_bytes());

    let included = |id: &str| selected.detections.iter().any(|d| d.meta.id == id);
    files.insert(
        "CHANGELOG.md".to_owned(),
        changelog::section(version, previous, lock, catalogue, &included).into_bytes(),
    );

    let sums = checksums(&files);
    files.insert(CHECKSUMS.to_owned(), sums.into_bytes());
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_previous_release_is_the_newest_lower_tag() {
        let tags: Vec<String> = ["v1.0.0", "v1.10.0", "v1.2.0", "v2.0.0", "latest", "v1.9"]
            .iter()
            .map(std::string::ToString::to_string)
            .collect();
        assert_eq!(
            previous_tag(&tags, "2.0.0").as_deref(),
            Some("v1.10.0"),
            "numeric, not text, order"
        );
        assert_eq!(
            previous_tag(&tags, "1.2.0").as_deref(),
            Some("v1.0.0"),
            "the release's own tag is not its predecessor"
        );
        assert_eq!(previous_tag(&tags, "1.0.0"), None);
    }

    #[test]
    fn checksums_are_sha256sum_lines() {
        let files: Files = [
            ("b.zip".to_owned(), b"b".to_vec()),
            ("a.json".to_owned(), b"".to_vec()),
        ]
        .into();
        let sums = checksums(&files);
        assert_eq!(
            sums.lines().next(),
            Some("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  a.json")
        );
        assert_eq!(sums.lines().count(), 2);
    }
}
