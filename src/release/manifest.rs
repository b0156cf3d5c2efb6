//! `manifest.json`: what a release contains, for deployment tooling and audits.
//!
//! It answers "which version of which detection is in this release, implementing which guide
//! rows, in which files" without unpacking anything. Its content depends only on the tree, so it
//! is as reproducible as the archives.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::catalogue::Catalogue;
use crate::lock::Lock;

#[derive(Debug, Serialize)]
pub(crate) struct Manifest {
    pub name: String,
    pub title: String,
    pub publisher: String,
    pub version: String,
    /// The pack selection, e.g. "full pack" or "status >= stable".
    pub selection: String,
    /// Target -> the release file that holds it.
    pub targets: BTreeMap<String, TargetFile>,
    pub detections: Vec<DetectionEntry>,
    pub guide_rows: Vec<GuideRowEntry>,
}

#[derive(Debug, Serialize)]
pub(crate) struct TargetFile {
    pub description: String,
    pub file: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct DetectionEntry {
    pub id: String,
    pub section: String,
    pub slug: String,
    pub title: String,
    pub version: u32,
    pub status: String,
    pub severity: String,
    pub modified: String,
    pub guide_rows: Vec<String>,
    /// Target -> SHA-256 of the detection's artifact, as in the lock.
    pub sha256: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct GuideRowEntry {
    pub key: String,
    pub section: String,
    pub title: String,
    pub risk: String,
    /// Slugs of the released detections that implement the row (deprecated ones excluded).
    pub detections: Vec<String>,
}

/// The manifest of `selected` (the released detections) at `version`.
pub(crate) fn manifest(
    selected: &Catalogue,
    lock: &Lock,
    version: &str,
    selection: &str,
    targets: BTreeMap<String, TargetFile>,
) -> Manifest {
    let detections = selected
        .detections
        .iter()
        .map(|d| {
            let locked = lock.detections.get(&d.meta.id);
            DetectionEntry {
                id: d.meta.id.clone(),
                section: d.section.clone(),
                slug: d.slug.clone(),
                title: d.meta.title.clone(),
                version: d.meta.version,
                status: d.meta.status.as_str().to_owned(),
                severity: d.meta.severity.as_str().to_owned(),
                modified: lock.stamp(d).modified,
                guide_rows: d.meta.guide_rows.clone(),
                sha256: locked.map(|l| l.sha256.clone()).unwrap_or_default(),
            }
        })
        .collect();
    let guide_rows = selected
        .guide
        .rows()
        .map(|(section, row)| GuideRowEntry {
            key: row.key.clone(),
            section: section.key.clone(),
            title: row.title.clone(),
            risk: row.risk.as_str().to_owned(),
            detections: selected
                .detections
                .iter()
                .filter(|d| !d.is_deprecated() && d.meta.guide_rows.contains(&row.key))
                .map(|d| d.slug.clone())
                .collect(),
        })
        .collect();
    Manifest {
        name: selected.config.name.clone(),
        title: selected.config.title.clone(),
        publisher: selected.config.publisher.clone(),
        version: version.to_owned(),
        selection: selection.to_owned(),
        targets,
        detections,
        guide_rows,
    }
}
