//! How a target's output becomes a file of a release (`rulecast release`).

use std::collections::BTreeMap;
use std::fmt;

use crate::catalogue::CatalogueConfig;
use crate::release::archive;

/// Files to package: path (`/`-separated) -> content.
pub type Entries = BTreeMap<String, Vec<u8>>;

/// What a target packages: its rendered files and the release they go into.
pub struct PackageContext<'a> {
    /// The target's files, by path below its folder.
    pub files: &'a Entries,
    /// The catalogue settings (the pack name, and the target's own section).
    pub config: &'a CatalogueConfig,
    /// The release version.
    pub version: &'a str,
}

/// One file of a release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// Why a target's release file cannot be made.
#[derive(Debug)]
pub enum PackageError {
    /// An archive could not be written.
    Archive(std::io::Error),
    /// A file the release needs was not rendered.
    Missing(String),
}

impl fmt::Display for PackageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PackageError::Archive(e) => write!(f, "cannot build an archive: {e}"),
            PackageError::Missing(what) => write!(f, "{what} was not rendered"),
        }
    }
}

impl std::error::Error for PackageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PackageError::Archive(e) => Some(e),
            PackageError::Missing(_) => None,
        }
    }
}

/// A reproducible zip of `entries` (sorted, fixed times and modes).
pub fn zip(entries: &Entries) -> Result<Vec<u8>, PackageError> {
    archive::zip(entries).map_err(PackageError::Archive)
}

/// A reproducible gzip-compressed tar of `entries`, with an entry for every folder.
pub fn tar_gz(entries: &Entries) -> Result<Vec<u8>, PackageError> {
    archive::tar_gz(entries).map_err(PackageError::Archive)
}

/// The packaging of a target that needs nothing else: a zip of every file it rendered,
/// `<pack>-<version>-<target>.zip`.
pub fn zip_all(target: &str, context: &PackageContext) -> Result<ReleaseFile, PackageError> {
    Ok(ReleaseFile {
        name: format!("{}-{}-{target}.zip", context.config.name, context.version),
        bytes: zip(context.files)?,
    })
}
