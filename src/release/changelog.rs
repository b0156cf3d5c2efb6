//! The CHANGELOG section of a release, made from the difference between two locks.
//!
//! Locks, not commit messages, are the source: they record exactly which detections shipped at
//! which version, so the changelog cannot miss a change or list one that never shipped. The
//! previous release's lock is read from its git tag (see [`super::previous`]). Entries are
//! grouped by guide section, the way the SOC thinks about coverage.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::catalogue::Catalogue;
use crate::lock::{Lock, Locked};
use crate::render::encode::markdown_text;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Added,
    Changed,
    Deprecated,
    Removed,
}

impl Kind {
    fn heading(self) -> &'static str {
        match self {
            Kind::Added => "Added",
            Kind::Changed => "Changed",
            Kind::Deprecated => "Deprecated",
            Kind::Removed => "Removed",
        }
    }
}

/// The section for release `version`. `previous` is the last release's version and lock
/// (`None` for a first release); `included` says which detections the released pack has.
pub(crate) fn section(
    version: &str,
    previous: Option<(&str, &Lock)>,
    current: &Lock,
    catalogue: &Catalogue,
    included: &dyn Fn(&str) -> bool,
) -> String {
    let empty = Lock::new("0.0.0");
    let before = previous.map(|(_, l)| l).unwrap_or(&empty);
    // Kind -> section key -> lines.
    let mut groups: BTreeMap<Kind, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    let mut add = |kind: Kind, locked: &Locked, line: String| {
        groups
            .entry(kind)
            .or_default()
            .entry(locked.section.clone())
            .or_default()
            .push(line);
    };
    for (id, now) in current.detections.iter().filter(|(id, _)| included(id)) {
        let name = format!("{} (`{}`)", markdown_text(&now.title), now.slug);
        match before.detections.get(id) {
            None => add(Kind::Added, now, format!("{name}, version {}", now.version)),
            Some(old) if now.status == "deprecated" && old.status != "deprecated" => add(
                Kind::Deprecated,
                now,
                format!(
                    "{name}, version {}{}",
                    now.version,
                    deprecation_note(catalogue, id)
                ),
            ),
            Some(old) if old.version != now.version => add(
                Kind::Changed,
                now,
                format!("{name}: version {} -> {}", old.version, now.version),
            ),
            Some(_) => {}
        }
    }
    for (id, old) in &before.detections {
        if !current.detections.contains_key(id) {
            add(
                Kind::Removed,
                old,
                format!(
                    "{} (`{}`), last version {}",
                    markdown_text(&old.title),
                    old.slug,
                    old.version
                ),
            );
        }
    }

    let mut out = format!("## {version}\n\n");
    match previous {
        Some((v, _)) => {
            let _ = writeln!(out, "Changes since {v}.\n");
        }
        None => out.push_str("First release.\n\n"),
    }
    if groups.is_empty() {
        out.push_str("No detection changed.\n");
    }
    for (kind, sections) in &groups {
        let _ = writeln!(out, "### {}\n", kind.heading());
        // Guide order first; a section the guide no longer has comes last, by key.
        let mut keys: Vec<&String> = sections.keys().collect();
        keys.sort_by_key(|k| {
            (
                catalogue
                    .guide
                    .sections
                    .iter()
                    .position(|s| &s.key == *k)
                    .unwrap_or(usize::MAX),
                (*k).clone(),
            )
        });
        for key in keys {
            let title = catalogue
                .guide
                .sections
                .iter()
                .find(|s| &s.key == key)
                .map(|s| s.title.as_str())
                .unwrap_or(key);
            let _ = writeln!(out, "#### {}\n", markdown_text(title));
            let mut lines = sections[key].clone();
            lines.sort();
            for line in &lines {
                let _ = writeln!(out, "- {line}");
            }
            out.push('\n');
        }
    }
    out.push_str(&active_exclusions(catalogue, included));
    out
}

/// The exclusions the released detections carry, for the people deploying the release: which
/// events the pack deliberately does not alert on, why, who owns each and until when.
fn active_exclusions(catalogue: &Catalogue, included: &dyn Fn(&str) -> bool) -> String {
    let mut lines: Vec<String> = Vec::new();
    for detection in catalogue.detections.iter().filter(|d| included(&d.meta.id)) {
        for applied in &detection.exclusions {
            let e = &applied.exclusion;
            let scope = match applied.origin {
                crate::catalogue::exclusion::Origin::Detection(_) => "",
                crate::catalogue::exclusion::Origin::Catalogue(_) => ", catalogue-wide",
            };
            lines.push(format!(
                "{} (`{}`): {} = {}, until {} (owner {}{scope}): {}",
                markdown_text(&detection.meta.title),
                detection.slug,
                markdown_text(&e.field),
                markdown_text(&crate::catalogue::exclusion::shown_values(&e.values)),
                e.expires,
                markdown_text(&e.owner),
                markdown_text(e.reason.trim()),
            ));
        }
    }
    if lines.is_empty() {
        return String::new();
    }
    let mut out = "### Active exclusions\n\n".to_owned();
    for line in lines {
        let _ = writeln!(out, "- {line}");
    }
    out.push('\n');
    out
}

fn deprecation_note(catalogue: &Catalogue, id: &str) -> String {
    let Some(dep) = catalogue
        .detections
        .iter()
        .find(|d| d.meta.id == id)
        .and_then(|d| d.meta.deprecation.as_ref())
    else {
        return String::new();
    };
    let mut note = format!(": {}", markdown_text(dep.reason.trim()));
    if let Some(replacement) = dep
        .replaced_by
        .as_ref()
        .and_then(|r| catalogue.detections.iter().find(|d| &d.meta.id == r))
    {
        let _ = write!(
            note,
            " Replaced by {} (`{}`).",
            markdown_text(&replacement.meta.title),
            replacement.slug
        );
    }
    note
}
