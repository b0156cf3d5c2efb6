//! The rules that tie versions to content: what `check` enforces and `lock` applies.
//!
//! Each detection gets one [`Verdict`] by comparing its version and fingerprints with the lock.
//! Some verdicts are work `rulecast lock` can do (record a new detection, bump a changed one);
//! the others need a person (a version that went down, a deprecated detection that was
//! edited), and both `check` and `lock` report them with the fix.

use std::collections::BTreeMap;

use super::fingerprint::Fingerprints;
use super::{LOCK_FILE, LockFile, Locked};
use crate::catalogue::{Catalogue, Detection};
use crate::diagnostic::{Diagnostic, Diagnostics, display_path};
use crate::yaml::pointer_segment;

/// How a detection stands against the lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    UpToDate,
    /// Not in the lock yet.
    New,
    /// The content changed and the version did not move: `lock` bumps it.
    NeedsBump {
        changed: Vec<String>,
    },
    /// The content changed and the version moved up by one, but the lock still has the old one.
    Bumped {
        changed: Vec<String>,
    },
    /// Same content and version, but the lock's record of its name, title or status is old.
    Renamed {
        what: Vec<&'static str>,
    },
    /// Same content and version in every target the lock knows, and targets the lock does not
    /// know yet (a target was added) or no longer renders (one was removed). A new target is
    /// an addition, not a change: the version stays.
    Targets {
        added: Vec<String>,
        removed: Vec<String>,
    },
    VersionDown,
    /// The content changed and the version moved up by more than one.
    VersionJump,
    /// The version moved but the content did not.
    BumpWithoutChange,
    /// The content of a detection locked as deprecated changed.
    DeprecatedEdited {
        changed: Vec<String>,
    },
}

impl Verdict {
    /// Whether `rulecast lock` can settle it.
    pub(crate) fn lockable(&self) -> bool {
        matches!(
            self,
            Verdict::UpToDate
                | Verdict::New
                | Verdict::NeedsBump { .. }
                | Verdict::Bumped { .. }
                | Verdict::Renamed { .. }
                | Verdict::Targets { .. }
        )
    }
}

/// One detection's verdict.
#[derive(Debug)]
pub(crate) struct Assessment<'a> {
    pub detection: &'a Detection,
    pub locked: Option<&'a Locked>,
    pub fingerprint: &'a BTreeMap<String, String>,
    pub verdict: Verdict,
}

/// The verdict of every detection, and the locked ids that are no longer in the catalogue.
pub(crate) fn assess<'a>(
    catalogue: &'a Catalogue,
    lock: &'a LockFile,
    fingerprints: &'a Fingerprints,
) -> (Vec<Assessment<'a>>, Vec<(&'a String, &'a Locked)>) {
    static EMPTY: BTreeMap<String, String> = BTreeMap::new();
    let assessments = catalogue
        .detections
        .iter()
        .map(|detection| {
            let fingerprint = fingerprints.get(&detection.meta.id).unwrap_or(&EMPTY);
            let locked = lock.lock.detections.get(&detection.meta.id);
            let verdict = match locked {
                None => Verdict::New,
                Some(locked) => verdict(detection, locked, fingerprint),
            };
            Assessment {
                detection,
                locked,
                fingerprint,
                verdict,
            }
        })
        .collect();
    let removed = lock
        .lock
        .detections
        .iter()
        .filter(|(id, _)| !catalogue.detections.iter().any(|d| &d.meta.id == *id))
        .collect();
    (assessments, removed)
}

fn verdict(
    detection: &Detection,
    locked: &Locked,
    fingerprint: &BTreeMap<String, String>,
) -> Verdict {
    let version = detection.meta.version;
    // Only a target the lock knows can have changed; one it does not know is new.
    let changed: Vec<String> = fingerprint
        .iter()
        .filter(|(t, h)| locked.sha256.get(*t).is_some_and(|old| old != *h))
        .map(|(t, _)| t.clone())
        .collect();
    let added: Vec<String> = fingerprint
        .keys()
        .filter(|t| !locked.sha256.contains_key(*t))
        .cloned()
        .collect();
    let removed: Vec<String> = locked
        .sha256
        .keys()
        .filter(|t| !fingerprint.contains_key(*t))
        .cloned()
        .collect();
    if !changed.is_empty() && locked.status == "deprecated" {
        return Verdict::DeprecatedEdited { changed };
    }
    if version < locked.version {
        return Verdict::VersionDown;
    }
    match (changed.is_empty(), version - locked.version) {
        (true, 0) => {
            let mut what = Vec::new();
            if locked.section != detection.section || locked.slug != detection.slug {
                what.push("file name");
            }
            if locked.title != detection.meta.title {
                what.push("title");
            }
            if locked.status != detection.meta.status.as_str() {
                what.push("status");
            }
            if !what.is_empty() {
                Verdict::Renamed { what }
            } else if !added.is_empty() || !removed.is_empty() {
                Verdict::Targets { added, removed }
            } else {
                Verdict::UpToDate
            }
        }
        (true, _) => Verdict::BumpWithoutChange,
        (false, 0) => Verdict::NeedsBump { changed },
        (false, 1) => Verdict::Bumped { changed },
        (false, _) => Verdict::VersionJump,
    }
}

/// The problem a verdict is, for `check`; `None` when there is none. With `for_lock`, only
/// the verdicts `lock` cannot settle are problems.
pub(crate) fn diagnostic(a: &Assessment, for_lock: bool) -> Option<Diagnostic> {
    if a.verdict == Verdict::UpToDate || (for_lock && a.verdict.lockable()) {
        return None;
    }
    let d = a.detection;
    let doc = &d.document;
    let name = format!("{}/{}", d.section, d.slug);
    let version = d.meta.version;
    let locked_version = a.locked.map(|l| l.version).unwrap_or_default();
    let run_lock = "run `rulecast lock` and commit the lock and the catalogue";
    let diagnostic = match &a.verdict {
        Verdict::UpToDate => return None,
        Verdict::New => doc.error_at("/id", format!("`{name}` is not in the lock ({LOCK_FILE})")).with_help(format!("{run_lock}; a new detection is recorded at its current version")),
        Verdict::NeedsBump { changed } => doc
            .error_at("/version", format!("the content of `{name}` changed ({}) but its version is still {version}", changed.join(", ")))
            .with_help(format!("run `rulecast lock`: it sets `version: {}` and records the new content", version + 1)),
        Verdict::Bumped { .. } => doc
            .error_at("/version", format!("the lock is stale: it records `{name}` at version {locked_version}, the file says {version}"))
            .with_help(run_lock),
        Verdict::Renamed { what } => doc
            .error_at("/id", format!("the lock is stale: the {} of `{name}` changed", what.join(" and ")))
            .with_help(run_lock),
        Verdict::Targets { added, removed } => doc
            .error_at("/id", format!("the lock is stale: {}", target_change(&name, added, removed)))
            .with_help(format!("{run_lock}; the version stays {version}, since no target it had changed")),
        Verdict::VersionDown => doc
            .error_at("/version", format!("the version of `{name}` went down from {locked_version} to {version}"))
            .with_help(format!("versions never go down, or SIEMs keep the old rule: set `version: {locked_version}` back (`rulecast lock` then bumps it if the content changed)")),
        Verdict::VersionJump => doc
            .error_at("/version", format!("the version of `{name}` jumped from {locked_version} to {version}; a change moves it up by exactly one"))
            .with_help(format!("set `version: {}`", locked_version + 1)),
        Verdict::BumpWithoutChange => doc
            .error_at("/version", format!("the version of `{name}` moved from {locked_version} to {version} but its content did not change"))
            .with_help(format!("set `version: {locked_version}` back; the version moves only when the generated content does")),
        Verdict::DeprecatedEdited { changed } => doc
            .error_at("/status", format!("`{name}` was locked as deprecated at version {locked_version} and can no longer change, but its content did ({})", changed.join(", ")))
            .with_help("revert the change (`git checkout` the file); to detect something new, write a new detection with its own id and point `deprecation.replaced_by` at it"),
    };
    Some(diagnostic)
}

/// `` `x` renders for the new target y; ... `` for a lock whose targets differ.
pub(crate) fn target_change(name: &str, added: &[String], removed: &[String]) -> String {
    let mut parts = Vec::new();
    if !added.is_empty() {
        parts.push(format!(
            "`{name}` now renders for {} ({}), which the lock has no record of",
            if added.len() == 1 {
                "a new target"
            } else {
                "new targets"
            },
            added.join(", ")
        ));
    }
    if !removed.is_empty() {
        parts.push(format!(
            "the lock records `{name}` for {} no longer built ({})",
            if removed.len() == 1 {
                "a target"
            } else {
                "targets"
            },
            removed.join(", ")
        ));
    }
    parts.join("; ")
}

/// The error for a locked detection that left the catalogue.
pub(crate) fn removed_diagnostic(lock: &LockFile, id: &str, locked: &Locked) -> Diagnostic {
    lock.document
        .error_at(&format!("/detections/{}", pointer_segment(id)), format!("`{}/{}` ({id}) is in the lock but no longer in the catalogue", locked.section, locked.slug))
        .with_help(format!(
            "a detection is never removed, or SIEMs keep running it: restore {}/{}.yaml and set `status: deprecated` with a `deprecation:` reason and date; if you changed its id, change it back",
            locked.section, locked.slug
        ))
}

/// Everything `check` reports about the lock of `catalogue`.
pub(crate) fn check(
    catalogue: &Catalogue,
    lock: Option<&LockFile>,
    fingerprints: &Fingerprints,
) -> Diagnostics {
    let mut out = Diagnostics::new();
    let Some(lock) = lock else {
        out.push(
            Diagnostic::error(format!("{} does not exist", display_path(&super::path(&catalogue.root))))
                .with_help("run `rulecast lock` to create it, and commit it: it records every detection's version and content"),
        );
        return out;
    };
    let (assessments, removed) = assess(catalogue, lock, fingerprints);
    for a in &assessments {
        if let Some(d) = diagnostic(a, false) {
            out.push(d);
        }
    }
    for (id, locked) in removed {
        out.push(removed_diagnostic(lock, id, locked));
    }
    out.sorted()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn locked(hashes: &[(&str, &str)], version: u32) -> Locked {
        Locked {
            section: "entra-roles".into(),
            slug: "pim-alert-disabled".into(),
            title: "PIM alert disabled".into(),
            version,
            status: "stable".into(),
            modified: "2026-01-01".into(),
            sha256: hashes
                .iter()
                .map(|(t, h)| ((*t).to_owned(), (*h).to_owned()))
                .collect(),
        }
    }

    fn prints(hashes: &[(&str, &str)]) -> BTreeMap<String, String> {
        hashes
            .iter()
            .map(|(t, h)| ((*t).to_owned(), (*h).to_owned()))
            .collect()
    }

    #[test]
    fn a_target_new_to_the_lock_is_added_not_changed() {
        let (_dir, catalogue) = crate::test_support::catalogue(&[], &[]);
        let detection = catalogue
            .detections
            .iter()
            .find(|d| d.slug == "pim-alert-disabled")
            .unwrap();
        let version = detection.meta.version;
        let lock = locked(&[("a", "1"), ("b", "2")], version);
        assert_eq!(
            verdict(
                detection,
                &lock,
                &prints(&[("a", "1"), ("b", "2"), ("new", "3")])
            ),
            Verdict::Targets {
                added: vec!["new".into()],
                removed: vec![],
            }
        );
        assert_eq!(
            verdict(detection, &lock, &prints(&[("a", "1")])),
            Verdict::Targets {
                added: vec![],
                removed: vec!["b".into()],
            }
        );
        assert_eq!(
            verdict(detection, &lock, &prints(&[("a", "9"), ("new", "3")])),
            Verdict::NeedsBump {
                changed: vec!["a".into()],
            },
            "a change of a known target still needs a bump"
        );
        assert_eq!(
            verdict(
                detection,
                &locked(&[("a", "1")], version - 1),
                &prints(&[("a", "1"), ("new", "3")])
            ),
            Verdict::BumpWithoutChange,
            "adding a target is no reason to bump"
        );
    }
}
