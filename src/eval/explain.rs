//! Why an event did or did not match, in the words of the rule:
//! `selection_role: RoleName was "Security Reader", expected one of Global Administrator, ...`.
//!
//! A failing test is only useful when it says which part of the logic and which value of the
//! event disagree; otherwise the author re-runs the query by hand.

use super::compiled::{CompiledDetection, CompiledSelection};
use super::logic_tree::LogicTree;
use super::matcher::CompiledMatch;
use super::record::Record;

/// Values longer than this are cut in explanations.
const SHOWN_CHARS: usize = 120;

/// How a field's value reads in an explanation: `"Security Reader"`, or `empty` when missing.
pub(crate) fn shown(value: Option<&str>) -> String {
    match value {
        None => "empty".to_owned(),
        Some(v) if v.chars().count() > SHOWN_CHARS => format!(
            "{:?}",
            format!("{}…", v.chars().take(SHOWN_CHARS).collect::<String>())
        ),
        Some(v) => format!("{v:?}"),
    }
}

fn was(m: &CompiledMatch, record: &Record) -> String {
    format!(
        "{} was {}",
        m.field_name,
        shown(record.field(m.field).map(super::field::FieldText::as_str))
    )
}

/// Why the event does not match the detection (it must not).
pub(crate) fn why_not(detection: &CompiledDetection, record: &Record) -> String {
    let mut reasons = Vec::new();
    failures(&detection.condition, detection, record, &mut reasons);
    reasons.join("; ")
}

/// Why the event matches the detection (it must).
pub(crate) fn why(detection: &CompiledDetection, record: &Record) -> String {
    let mut reasons = Vec::new();
    successes(&detection.condition, detection, record, &mut reasons);
    reasons.join("; ")
}

fn holds(tree: &LogicTree<usize>, detection: &CompiledDetection, record: &Record) -> bool {
    tree.evaluate(&mut |s| detection.selections[*s].matches(record))
}

fn failures(
    tree: &LogicTree<usize>,
    detection: &CompiledDetection,
    record: &Record,
    out: &mut Vec<String>,
) {
    match tree {
        LogicTree::Leaf(s) => out.push(selection_failure(&detection.selections[*s], record)),
        LogicTree::And(items) | LogicTree::Or(items) => {
            for item in items.iter().filter(|i| !holds(i, detection, record)) {
                failures(item, detection, record, out);
            }
        }
        LogicTree::Not(inner) => {
            let mut matched = Vec::new();
            successes(inner, detection, record, &mut matched);
            let prefix = crate::catalogue::exclusion::SELECTION_PREFIX;
            if matched.iter().all(|m| m.starts_with(prefix)) {
                out.push(format!("excluded by {}", matched.join(" and ")));
            } else {
                out.push(format!("not {}", matched.join(" and ")));
            }
        }
    }
}

fn successes(
    tree: &LogicTree<usize>,
    detection: &CompiledDetection,
    record: &Record,
    out: &mut Vec<String>,
) {
    match tree {
        LogicTree::Leaf(s) => out.push(selection_success(&detection.selections[*s], record)),
        LogicTree::And(items) | LogicTree::Or(items) => {
            for item in items.iter().filter(|i| holds(i, detection, record)) {
                successes(item, detection, record, out);
            }
        }
        LogicTree::Not(inner) => {
            let mut failed = Vec::new();
            failures(inner, detection, record, &mut failed);
            out.push(format!("not ({})", failed.join("; ")));
        }
    }
}

/// `name: Field was "x", expected y`, over every alternative of the selection.
fn selection_failure(selection: &CompiledSelection, record: &Record) -> String {
    let alternatives: Vec<String> = selection
        .alternatives
        .iter()
        .map(|all| {
            all.iter()
                .filter(|m| !m.matches(record))
                .map(|m| format!("{}, {}", was(m, record), m.expectation()))
                .collect::<Vec<_>>()
                .join(" and ")
        })
        .collect();
    format!("{}: {}", selection.name, alternatives.join("; or "))
}

/// `name matched (Field was "x", ...)`, for the first alternative that holds.
fn selection_success(selection: &CompiledSelection, record: &Record) -> String {
    let values = selection
        .alternatives
        .iter()
        .find(|all| all.iter().all(|m| m.matches(record)))
        .map(|all| {
            all.iter()
                .map(|m| was(m, record))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    format!("{} matched ({values})", selection.name)
}
