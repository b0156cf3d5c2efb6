//! `rulecast lock`: settles every verdict it can, all or nothing.
//!
//! A changed detection gets `version:` bumped by one in its file and its new fingerprints and
//! modified date recorded; a new one is recorded at its version. When any verdict needs a person
//! (see [`super::verify`]), nothing is written, so a half-applied lock never reaches review.

use std::path::PathBuf;

use super::fingerprint::Fingerprints;
use super::verify::{self, Verdict};
use super::{Lock, LockFile, Locked, bump};
use crate::catalogue::{Catalogue, Detection};
use crate::diagnostic::Diagnostics;

/// What `lock` did to one detection, for its report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    Added {
        name: String,
        version: u32,
    },
    Bumped {
        name: String,
        from: u32,
        to: u32,
        changed: Vec<String>,
    },
    /// The version had already been bumped by hand; the lock now records it.
    Recorded {
        name: String,
        version: u32,
        changed: Vec<String>,
    },
    Renamed {
        name: String,
        what: Vec<&'static str>,
    },
    /// Targets were added or removed; the version stays.
    Targets {
        name: String,
        version: u32,
        added: Vec<String>,
        removed: Vec<String>,
    },
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::Added { name, version } => write!(f, "added   {name} at version {version}"),
            Action::Bumped {
                name,
                from,
                to,
                changed,
            } => write!(
                f,
                "bumped  {name} {from} -> {to} (changed: {})",
                changed.join(", ")
            ),
            Action::Recorded {
                name,
                version,
                changed,
            } => write!(
                f,
                "locked  {name} at version {version} (changed: {})",
                changed.join(", ")
            ),
            Action::Renamed { name, what } => {
                write!(f, "renamed {name} ({} recorded)", what.join(" and "))
            }
            Action::Targets {
                name,
                version,
                added,
                removed,
            } => {
                let mut parts = Vec::new();
                if !added.is_empty() {
                    parts.push(format!("added {}", added.join(", ")));
                }
                if !removed.is_empty() {
                    parts.push(format!("removed {}", removed.join(", ")));
                }
                write!(
                    f,
                    "targets {name} ({}; version {version} unchanged)",
                    parts.join("; ")
                )
            }
        }
    }
}

/// The result of settling the lock: the new lock, the detection files to rewrite, and what
/// changed.
#[derive(Debug)]
pub(crate) struct Update {
    pub lock: Lock,
    /// Full path -> new content.
    pub files: Vec<(PathBuf, String)>,
    pub actions: Vec<Action>,
}

/// Settles `lock` (a new one when `None`) against `catalogue`. `today` is the date recorded for
/// content changes.
pub(crate) fn update(
    catalogue: &Catalogue,
    lock: Option<&LockFile>,
    fingerprints: &Fingerprints,
    today: &str,
    pack_version: &str,
) -> Result<Update, Diagnostics> {
    let empty;
    let lock = if let Some(l) = lock {
        l
    } else {
        empty = LockFile {
            lock: Lock::new(pack_version),
            document: crate::yaml::parse_str("{}", &super::path(&catalogue.root))
                .expect("an empty mapping parses"),
        };
        &empty
    };
    let (assessments, removed) = verify::assess(catalogue, lock, fingerprints);
    let mut problems = Diagnostics::new();
    for a in &assessments {
        if let Some(d) = verify::diagnostic(a, true) {
            problems.push(d);
        }
    }
    for (id, locked) in &removed {
        problems.push(verify::removed_diagnostic(lock, id, locked));
    }
    if problems.has_errors() {
        return Err(problems.sorted());
    }

    let mut next = lock.lock.clone();
    pack_version.clone_into(&mut next.pack_version);
    let mut files = Vec::new();
    let mut actions = Vec::new();
    for a in assessments {
        let d = a.detection;
        let name = format!("{}/{}", d.section, d.slug);
        let record = |version: u32, modified: &str| record(d, version, modified, a.fingerprint);
        let unchanged_date = a
            .locked
            .map(|l| l.modified.clone())
            .unwrap_or_else(|| d.meta.date.clone());
        match a.verdict {
            Verdict::UpToDate => {}
            Verdict::New => {
                // A new detection's content last changed when it was written.
                next.detections
                    .insert(d.meta.id.clone(), record(d.meta.version, &d.meta.date));
                actions.push(Action::Added {
                    name,
                    version: d.meta.version,
                });
            }
            Verdict::NeedsBump { changed } => {
                let to = d.meta.version + 1;
                let text = bump::set_version(&d.document, d.meta.version, to).map_err(|e| {
                    let mut all = Diagnostics::new();
                    all.push(e);
                    all
                })?;
                files.push((catalogue.root.join(&d.path), text));
                next.detections.insert(d.meta.id.clone(), record(to, today));
                actions.push(Action::Bumped {
                    name,
                    from: d.meta.version,
                    to,
                    changed,
                });
            }
            Verdict::Bumped { changed } => {
                next.detections
                    .insert(d.meta.id.clone(), record(d.meta.version, today));
                actions.push(Action::Recorded {
                    name,
                    version: d.meta.version,
                    changed,
                });
            }
            // Nothing it deployed changed, so neither its version nor its date moves.
            Verdict::Renamed { what } => {
                next.detections
                    .insert(d.meta.id.clone(), record(d.meta.version, &unchanged_date));
                actions.push(Action::Renamed { name, what });
            }
            Verdict::Targets { added, removed } => {
                next.detections
                    .insert(d.meta.id.clone(), record(d.meta.version, &unchanged_date));
                actions.push(Action::Targets {
                    name,
                    version: d.meta.version,
                    added,
                    removed,
                });
            }
            Verdict::VersionDown
            | Verdict::VersionJump
            | Verdict::BumpWithoutChange
            | Verdict::DeprecatedEdited { .. } => {
                unreachable!("unlockable verdicts were returned as errors above")
            }
        }
    }
    Ok(Update {
        lock: next,
        files,
        actions,
    })
}

fn record(
    detection: &Detection,
    version: u32,
    modified: &str,
    fingerprint: &std::collections::BTreeMap<String, String>,
) -> Locked {
    Locked {
        section: detection.section.clone(),
        slug: detection.slug.clone(),
        title: detection.meta.title.clone(),
        version,
        status: detection.meta.status.as_str().to_owned(),
        modified: modified.to_owned(),
        sha256: fingerprint.clone(),
    }
}
