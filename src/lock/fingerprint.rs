//! Fingerprints: a SHA-256 per target of what each detection renders to.
//!
//! The fingerprint is taken from the rendered output, not from the YAML, because the version
//! must move when the *deployed* content moves: reformatting a detection file or reordering its
//! keys changes nothing deployed, while a template or compiler change in rulecast does.
//!
//! Rendering uses a neutral stamp (version 0, the creation date as `modified`), so bumping the
//! version or recording a new modified date does not change the fingerprint it was bumped for,
//! and the pack version is fixed for the same reason.

use std::collections::BTreeMap;

use crate::build;
use crate::catalogue::{Catalogue, Detection};
use crate::diagnostic::Diagnostics;
use crate::render::Templates;
use crate::targets::Stamp;

/// Pack version used while fingerprinting (pack-level files are not part of a fingerprint).
const NEUTRAL_PACK_VERSION: &str = "0.0.0";

/// Detection id -> target -> SHA-256 (hex).
pub(crate) type Fingerprints = BTreeMap<String, BTreeMap<String, String>>;

/// The stamp every detection is fingerprinted with.
pub(crate) fn neutral_stamp(detection: &Detection) -> Stamp {
    Stamp {
        version: 0,
        modified: detection.meta.date.clone(),
    }
}

/// Fingerprints every detection of `catalogue` in every target.
pub(crate) fn fingerprints(
    catalogue: &Catalogue,
    templates: &Templates,
) -> Result<Fingerprints, Diagnostics> {
    let rendered = build::render(catalogue, templates, &neutral_stamp, NEUTRAL_PACK_VERSION)?;
    let mut out = Fingerprints::new();
    for (target, digests) in rendered.digests {
        for (id, digest) in digests {
            out.entry(id).or_default().insert(target.to_owned(), digest);
        }
    }
    Ok(out)
}

pub(crate) use crate::build::sha256_hex;

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn prints(root: &Path) -> Fingerprints {
        let catalogue = Catalogue::load(root).unwrap_or_else(|d| panic!("{d}"));
        fingerprints(
            &catalogue,
            &Templates::load(&catalogue.targets, None).unwrap(),
        )
        .unwrap_or_else(|d| panic!("{d}"))
    }

    const FILE: &str = "entra-roles/pim-alert-disabled.yaml";

    #[test]
    fn reformatting_the_yaml_changes_nothing() {
        let dir = crate::test_support::minimal_fixture();
        let before = prints(dir.path());
        let path = dir.path().join(FILE);
        let text = std::fs::read_to_string(&path).unwrap();
        // Comments, blank lines, flow style and key order are formatting, not content.
        let mut lines: Vec<&str> = text.lines().collect();
        let title = lines.iter().position(|l| l.starts_with("title:")).unwrap();
        let moved = lines.remove(title);
        lines.push(moved);
        let reformatted = format!("# reviewed\n\n{}\n", lines.join("\n"))
            .replace("severity: high", "severity:   \"high\"   # quoted");
        assert_ne!(reformatted, text);
        std::fs::write(&path, reformatted).unwrap();
        assert_eq!(prints(dir.path()), before);
    }

    #[test]
    fn the_version_is_not_part_of_the_fingerprint_but_content_is() {
        let dir = crate::test_support::minimal_fixture();
        let before = prints(dir.path());
        let path = dir.path().join(FILE);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replacen("version: 1", "version: 7", 1)).unwrap();
        assert_eq!(
            prints(dir.path()),
            before,
            "a bump alone changed the fingerprint"
        );
        std::fs::write(
            &path,
            text.replacen("severity: high", "severity: medium", 1),
        )
        .unwrap();
        let after = prints(dir.path());
        let id = after
            .iter()
            .find(|(id, _)| before[*id] != after[*id])
            .map(|(id, _)| id.clone())
            .expect("a content change changes a fingerprint");
        assert_eq!(after[&id].len(), 4, "one fingerprint per target");
        assert!(
            after[&id].iter().all(|(t, h)| before[&id][t] != *h),
            "severity shows in every target"
        );
    }
}
