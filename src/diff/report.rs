//! The diff report as Markdown, fit for a pull-request comment.
//!
//! Risky changes come first because they are what a reviewer must decide on; then one table
//! per kind of change. Every value is escaped for Markdown, since titles are free text, and
//! made inert: a title cannot mention a team, reference an issue or plant a link in the comment.

use std::fmt::Write as _;

use super::{Entry, Report};
use crate::render::encode::markdown_inert;

pub(crate) fn markdown(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### rulecast: content changes against {}\n",
        markdown_inert(&report.base)
    );
    if report.is_empty() {
        out.push_str("No detection was added, changed, deprecated or removed.\n");
        return out;
    }
    let _ = writeln!(
        out,
        "{} added, {} changed, {} deprecated, {} removed.\n",
        report.added.len(),
        report.changed.len(),
        report.deprecated.len(),
        report.removed.len()
    );
    if !report.risks.is_empty() {
        out.push_str("#### Risky changes\n\nThese can make a detection miss activity it caught before; approve them knowingly.\n\n");
        for risk in &report.risks {
            let _ = writeln!(
                out,
                "- **{}**: {}",
                markdown_inert(&risk.name),
                markdown_inert(&risk.message)
            );
        }
        out.push('\n');
    }
    table(&mut out, "Added", &report.added, false);
    table(&mut out, "Changed", &report.changed, true);
    table(&mut out, "Deprecated", &report.deprecated, true);
    table(&mut out, "Removed", &report.removed, false);
    out
}

fn table(out: &mut String, heading: &str, entries: &[Entry], detailed: bool) {
    if entries.is_empty() {
        return;
    }
    let _ = writeln!(out, "#### {heading}\n");
    if detailed {
        out.push_str("| Detection | Version | Fields | Artifacts changed |\n|---|---|---|---|\n");
    } else {
        out.push_str("| Detection | Version |\n|---|---|\n");
    }
    for e in entries {
        let version = match (e.old_version, e.new_version) {
            (Some(o), Some(n)) if o == n => format!("{n} (not bumped)"),
            (Some(o), Some(n)) => format!("{o} -> {n}"),
            (None, Some(n)) => n.to_string(),
            (Some(o), None) => o.to_string(),
            (None, None) => String::new(),
        };
        let name = format!(
            "**{}** {}",
            markdown_inert(&e.name),
            markdown_inert(&e.title)
        );
        if detailed {
            let fields = e
                .fields
                .iter()
                .map(|f| format!("`{f}`"))
                .collect::<Vec<_>>()
                .join(", ");
            let _ = writeln!(
                out,
                "| {name} | {version} | {} | {} |",
                or_none(&fields),
                or_none(&e.targets.join(", "))
            );
        } else {
            let _ = writeln!(out, "| {name} | {version} |");
        }
    }
    out.push('\n');
}

fn or_none(text: &str) -> &str {
    if text.is_empty() { "none" } else { text }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_mention_no_one_and_link_nothing_in_the_comment() {
        let entry = Entry {
            id: "id".to_owned(),
            name: "entra-roles/x".to_owned(),
            title: "Ping @security-team, fixes #12, see https://evil.example/x".to_owned(),
            old_version: None,
            new_version: Some(1),
            fields: Vec::new(),
            targets: Vec::new(),
        };
        let report = Report {
            base: "origin/main".to_owned(),
            added: vec![entry],
            changed: Vec::new(),
            deprecated: Vec::new(),
            removed: Vec::new(),
            risks: Vec::new(),
        };
        let text = markdown(&report);
        for live in ["@security", "#12", "https://"] {
            assert!(!text.contains(live), "{live} is live in\n{text}");
        }
        assert!(
            text.replace('\u{2060}', "")
                .contains("Ping @security-team, fixes \\#12, see https://evil.example/x"),
            "the title still reads as written\n{text}"
        );
    }
}
