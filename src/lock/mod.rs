//! The version lock: `detections/rulecast.lock`, committed beside the catalogue.
//!
//! SIEMs decide whether to update a deployed rule by its version, so a version must move exactly
//! when the deployed content moves. People forget to bump, or bump twice; review cannot see it.
//! The lock records, per detection id, the version and a SHA-256 of what every target renders
//! for it (with the version itself left out, see [`fingerprint`]), so `check` can prove that
//! every content change came with exactly one bump and that nothing was silently removed, and
//! `rulecast lock` can do the bumping.
//!
//! The lock also owns the facts that must not come from the wall clock at build time: the date
//! of each detection's last content change (Sigma's `modified`) and the content-pack version.
//!
//! The file is JSON with sorted keys and no timestamps, so it diffs cleanly in review and the
//! same catalogue always produces the same lock.

pub(crate) mod bump;
pub(crate) mod date;
pub(crate) mod fingerprint;
pub(crate) mod update;
pub(crate) mod verify;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::catalogue::Detection;
use crate::diagnostic::Diagnostic;
use crate::targets::Stamp;
use crate::yaml::{self, Document};

/// File name of the lock, in the catalogue folder.
pub const LOCK_FILE: &str = "rulecast.lock";
/// Version of the lock's own format, so a future rulecast can migrate it.
pub(crate) const FORMAT: u32 = 1;

/// The lock file's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    pub format: u32,
    /// Content-pack version stamped on pack-level artifacts (Splunk app, combined ARM templates);
    /// `rulecast release --version` must match it.
    pub pack_version: String,
    /// By detection id; a BTreeMap so the file is sorted.
    pub detections: BTreeMap<String, Locked>,
}

/// What the lock records about one detection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Locked {
    /// Guide section (the detection's folder), for changelogs grouped by section.
    pub section: String,
    pub slug: String,
    pub title: String,
    pub version: u32,
    pub status: String,
    /// Date of the last content change (YYYY-MM-DD).
    pub modified: String,
    /// Target -> SHA-256 (hex) of the detection's canonical output in that target.
    pub sha256: BTreeMap<String, String>,
}

/// A lock read from disk, with its source for located diagnostics.
#[derive(Debug, Clone)]
pub struct LockFile {
    pub lock: Lock,
    pub document: Document,
}

impl Lock {
    pub fn new(pack_version: &str) -> Lock {
        Lock {
            format: FORMAT,
            pack_version: pack_version.to_owned(),
            detections: BTreeMap::new(),
        }
    }

    /// The stamp `detection` is rendered with: its own version, and the date the lock recorded
    /// for its last content change (its creation date until it is locked).
    pub fn stamp(&self, detection: &Detection) -> Stamp {
        let modified = self
            .detections
            .get(&detection.meta.id)
            .map(|l| l.modified.clone())
            .unwrap_or_else(|| detection.meta.date.clone());
        Stamp {
            version: detection.meta.version,
            modified,
        }
    }

    /// The canonical text of the lock.
    pub(crate) fn to_text(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("the lock serialises");
        text.push('\n');
        text
    }

    /// Parses lock text; `shown` is the path used in diagnostics.
    pub(crate) fn parse(text: &str, shown: &Path) -> Result<LockFile, Diagnostic> {
        // The lock is JSON; YAML would also accept comments, unquoted keys and trailing text
        // that no JSON tool reads, so the JSON syntax is checked first.
        if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(text) {
            let message = e.to_string();
            let message = message.split(" at line ").next().unwrap_or(&message);
            return Err(Diagnostic::error(format!("the lock is not valid JSON: {message}"))
                .in_file(shown)
                .at(text, crate::diagnostic::Position::new(e.line(), e.column().max(1)))
                .with_help("regenerate it with `rulecast lock` (after restoring it from git if it was edited by hand)"));
        }
        // JSON is YAML, and the YAML loader keeps positions, so a lock that is not a rulecast
        // lock is reported at the exact line like any catalogue file.
        let document = yaml::parse_str(text, shown)?;
        let lock: Lock = match serde_path_to_error::deserialize(document.value.clone()) {
            Ok(lock) => lock,
            Err(e) => {
                use serde_path_to_error::Segment;
                let pointer: String = e
                    .path()
                    .iter()
                    .map(|s| match s {
                        Segment::Seq { index } => format!("/{index}"),
                        Segment::Map { key } => format!("/{}", yaml::pointer_segment(key)),
                        Segment::Enum { .. } | Segment::Unknown => String::new(),
                    })
                    .collect();
                return Err(document
                    .error_at(&pointer, format!("this is not a rulecast lock: {}", e.into_inner()))
                    .with_help("regenerate it with `rulecast lock` (after restoring it from git if it was edited by hand)"));
            }
        };
        if lock.format != FORMAT {
            return Err(document
                .error_at(
                    "/format",
                    format!(
                        "lock format {} is not supported (this rulecast writes format {FORMAT})",
                        lock.format
                    ),
                )
                .with_help(
                    "use the rulecast version that wrote it, or regenerate it with `rulecast lock`",
                ));
        }
        Ok(LockFile { lock, document })
    }
}

/// Path of the lock of the catalogue in `root`.
pub(crate) fn path(root: &Path) -> PathBuf {
    root.join(LOCK_FILE)
}

/// Reads the lock of the catalogue in `root`; `None` when there is none yet.
pub fn read(root: &Path) -> Result<Option<LockFile>, Diagnostic> {
    let path = path(root);
    if std::fs::symlink_metadata(&path).is_err() {
        return Ok(None);
    }
    let text = yaml::read_text(&path, &path)?;
    Lock::parse(&text, &path).map(Some)
}

/// Writes the lock of the catalogue in `root` (through a temporary file, so an interrupted
/// write never leaves half a lock).
pub(crate) fn write(root: &Path, lock: &Lock) -> std::io::Result<()> {
    let path = path(root);
    let tmp = root.join(format!(".{LOCK_FILE}.tmp-{}", std::process::id()));
    std::fs::write(&tmp, lock.to_text()).map_err(crate::files::context("write", &tmp))?;
    std::fs::rename(&tmp, &path).map_err(crate::files::context("replace", &path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Lock {
        let mut lock = Lock::new("1.2.0");
        for id in ["b", "a"] {
            lock.detections.insert(
                id.to_owned(),
                Locked {
                    section: "s".into(),
                    slug: format!("slug-{id}"),
                    title: "T".into(),
                    version: 2,
                    status: "stable".into(),
                    modified: "2026-01-02".into(),
                    sha256: [
                        ("sigma".to_owned(), "00".to_owned()),
                        ("azure-monitor".to_owned(), "11".to_owned()),
                    ]
                    .into(),
                },
            );
        }
        lock
    }

    #[test]
    fn text_is_sorted_and_round_trips() {
        let text = sample().to_text();
        assert!(
            text.find("\"a\"").unwrap() < text.find("\"b\"").unwrap(),
            "{text}"
        );
        assert!(text.find("azure-monitor").unwrap() < text.find("sigma").unwrap());
        assert!(text.ends_with("}\n"));
        assert_eq!(
            Lock::parse(&text, Path::new("rulecast.lock")).unwrap().lock,
            sample()
        );
    }

    #[test]
    fn a_lock_that_is_yaml_but_not_json_is_refused() {
        let text = sample().to_text().replacen('{', "{ # hand edit\n", 1);
        let err = Lock::parse(&text, Path::new("rulecast.lock")).unwrap_err();
        assert!(
            err.message().starts_with("the lock is not valid JSON"),
            "{err}"
        );
        assert_eq!(err.position().map(|p| p.line), Some(1), "{err}");
        let unquoted = sample().to_text().replacen("\"format\"", "format", 1);
        assert!(Lock::parse(&unquoted, Path::new("rulecast.lock")).is_err());
    }

    #[test]
    fn a_broken_lock_is_located() {
        let text = sample()
            .to_text()
            .replacen("\"version\": 2", "\"version\": \"two\"", 1);
        let err = Lock::parse(&text, Path::new("rulecast.lock")).unwrap_err();
        let line = text.lines().position(|l| l.contains("\"two\"")).unwrap() + 1;
        assert_eq!(err.position().map(|p| p.line), Some(line), "{err}");
        assert!(err.message().contains("not a rulecast lock"), "{err}");
    }
}
