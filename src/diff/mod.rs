//! `rulecast diff <ref>`: what a change does to the content pack, for the pull-request comment.
//!
//! A YAML diff shows what an author typed; a reviewer needs what ships: which detections are
//! added, changed, deprecated or removed, which fields and which targets' artifacts moved, how
//! versions move, and which edits could make a detection miss attacks ([`risk`]). The base side
//! is read from git without a checkout ([`base`]); its artifact hashes come from its lock, which
//! is what was deployed from it.

pub(crate) mod base;
pub(crate) mod fields;
pub(crate) mod report;
pub(crate) mod risk;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::catalogue::detection::Status;
use crate::catalogue::{Catalogue, DetectionFile};
use crate::lock::fingerprint::Fingerprints;

/// One side of a comparison: every detection by id.
#[derive(Debug, Clone, Default)]
pub(crate) struct State {
    pub detections: BTreeMap<String, Item>,
}

/// A detection as one side has it.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    pub section: String,
    pub slug: String,
    pub file: DetectionFile,
    /// The exclusions that apply to it: its own and those of rulecast.yaml.
    pub exclusions: Vec<crate::catalogue::exclusion::Exclusion>,
    /// Target -> SHA-256 of its artifact.
    pub sha256: BTreeMap<String, String>,
}

impl Item {
    fn name(&self) -> String {
        format!("{}/{}", self.section, self.slug)
    }
}

impl State {
    /// The state of `catalogue` with the given artifact hashes.
    pub(crate) fn new(catalogue: &Catalogue, hashes: &Fingerprints) -> State {
        let detections = catalogue
            .detections
            .iter()
            .map(|d| {
                let item = Item {
                    section: d.section.clone(),
                    slug: d.slug.clone(),
                    file: d.meta.clone(),
                    exclusions: d.exclusions.iter().map(|e| e.exclusion.clone()).collect(),
                    sha256: hashes.get(&d.meta.id).cloned().unwrap_or_default(),
                };
                (d.meta.id.clone(), item)
            })
            .collect();
        State { detections }
    }
}

/// The comparison, in the shape both output formats print.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Report {
    /// The git ref compared against.
    pub base: String,
    pub added: Vec<Entry>,
    pub changed: Vec<Entry>,
    pub deprecated: Vec<Entry>,
    pub removed: Vec<Entry>,
    /// Risky changes, across all detections.
    pub risks: Vec<Risk>,
}

/// One detection in the report.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Entry {
    pub id: String,
    /// `section/slug`.
    pub name: String,
    pub title: String,
    pub old_version: Option<u32>,
    pub new_version: Option<u32>,
    /// Changed fields of the detection file (`threshold.count`), plus `file` when it moved.
    pub fields: Vec<String>,
    /// Targets whose artifact for this detection changed (both sides render it).
    pub targets: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Risk {
    pub id: String,
    pub name: String,
    pub message: String,
}

impl Report {
    pub(crate) fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.changed.is_empty()
            && self.deprecated.is_empty()
            && self.removed.is_empty()
    }
}

/// Compares `base` (at git ref `base_ref`) with `head`.
pub(crate) fn compare(base_ref: &str, base: &State, head: &State) -> Report {
    let mut report = Report {
        base: base_ref.to_owned(),
        added: vec![],
        changed: vec![],
        deprecated: vec![],
        removed: vec![],
        risks: vec![],
    };
    for (id, new) in &head.detections {
        let Some(old) = base.detections.get(id) else {
            report.added.push(entry(id, None, Some(new)));
            continue;
        };
        let e = entry(id, Some(old), Some(new));
        let risks = risk::risks(&old.file, &new.file)
            .into_iter()
            .chain(risk::exclusion_risks(&old.exclusions, &new.exclusions));
        for message in risks {
            report.risks.push(Risk {
                id: id.clone(),
                name: new.name(),
                message,
            });
        }
        if new.file.status == Status::Deprecated && old.file.status != Status::Deprecated {
            report.deprecated.push(e);
        } else if !e.fields.is_empty() || !e.targets.is_empty() || e.old_version != e.new_version {
            report.changed.push(e);
        }
    }
    for (id, old) in &base.detections {
        if !head.detections.contains_key(id) {
            report.removed.push(entry(id, Some(old), None));
            report.risks.push(Risk { id: id.clone(), name: old.name(), message: "removed: SIEMs that deployed it keep running the last version; deprecate it instead".to_owned() });
        }
    }
    for list in [
        &mut report.added,
        &mut report.changed,
        &mut report.deprecated,
        &mut report.removed,
    ] {
        list.sort_by(|a, b| a.name.cmp(&b.name));
    }
    report.risks.sort_by(|a, b| a.name.cmp(&b.name));
    report
}

fn entry(id: &str, old: Option<&Item>, new: Option<&Item>) -> Entry {
    let shown = new.or(old).expect("an entry has a side");
    let mut fields = Vec::new();
    let mut targets = Vec::new();
    if let (Some(o), Some(n)) = (old, new) {
        if o.name() != n.name() {
            fields.push(format!("file ({} -> {})", o.name(), n.name()));
        }
        fields.extend(fields::changed(&o.file, &n.file));
        // A target one side does not have is new (or gone), which is no change of this
        // detection's content: the lock records it without a version bump.
        targets = n
            .sha256
            .iter()
            .filter(|(t, h)| o.sha256.get(*t).is_some_and(|old| old != *h))
            .map(|(t, _)| t.clone())
            .collect();
    }
    Entry {
        id: id.to_owned(),
        name: shown.name(),
        title: shown.file.title.clone(),
        old_version: old.map(|i| i.file.version),
        new_version: new.map(|i| i.file.version),
        fields,
        targets,
    }
}
