//! Query compilers, one per query language, all fed by the same detection model.
//!
//! [`kql`] (Sentinel and Azure Monitor), [`spl`] (Splunk) and [`sigma`] each own the escaping
//! of literals in their language: a value from the catalogue only ever reaches query text
//! through the literal function of the language it is written in.
//!
//! This module holds what the compilers share: the boolean [`Expr`] a detection's condition
//! becomes, the list of fields a query needs, and a sound pre-filter (a condition over plain
//! columns implied by the full condition) so queries can filter cheaply before they parse JSON.

pub mod kql;
pub mod sigma;
pub mod spl;

use crate::catalogue::logsource::LogSourceFile;
use crate::catalogue::{Catalogue, Detection};
use crate::logic::{Condition, FieldMatch};

/// A boolean expression over field matches.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr<'a> {
    Match(&'a FieldMatch),
    And(Vec<Expr<'a>>),
    Or(Vec<Expr<'a>>),
    Not(Box<Expr<'a>>),
}

impl<'a> Expr<'a> {
    /// The expression of a whole condition (already expanded).
    pub(crate) fn from_condition(detection: &'a Detection, condition: &Condition) -> Expr<'a> {
        match condition {
            Condition::Selection(name) => Expr::selection(detection, name),
            Condition::Not(c) => Expr::Not(Box::new(Expr::from_condition(detection, c))),
            Condition::And(cs) => Expr::And(
                cs.iter()
                    .map(|c| Expr::from_condition(detection, c))
                    .collect(),
            ),
            Condition::Or(cs) => Expr::Or(
                cs.iter()
                    .map(|c| Expr::from_condition(detection, c))
                    .collect(),
            ),
            Condition::OfPattern { .. } => {
                unreachable!("conditions are expanded before compilation")
            }
        }
    }

    /// The expression of one named selection.
    pub(crate) fn selection(detection: &'a Detection, name: &str) -> Expr<'a> {
        let selection = detection
            .selection(name)
            .expect("validated: the condition names existing selections");
        let mut alternatives: Vec<Expr<'a>> = selection
            .alternatives
            .iter()
            .map(|fields| {
                let mut items: Vec<Expr<'a>> = fields.iter().map(Expr::Match).collect();
                if items.len() == 1 {
                    items.pop().unwrap()
                } else {
                    Expr::And(items)
                }
            })
            .collect();
        if alternatives.len() == 1 {
            alternatives.pop().unwrap()
        } else {
            Expr::Or(alternatives)
        }
    }

    /// The detection's full condition.
    pub(crate) fn of(detection: &'a Detection) -> Expr<'a> {
        Expr::from_condition(detection, &detection.expanded)
    }

    /// A condition over plain columns only that every event satisfying `self` satisfies, or
    /// `None` when no such restriction can be derived. Applying it first never changes results.
    pub(crate) fn necessary_plain(&self, source: &LogSourceFile) -> Option<Expr<'a>> {
        match self {
            // A list match needs the list's variable or lookup, which targets set up after the
            // pre-filter; leaving it out keeps the pre-filter sound.
            Expr::Match(m) if m.lists().next().is_some() => None,
            Expr::Match(m) => source
                .fields
                .get(&m.field)
                .and_then(|f| f.value.as_plain_column())
                .map(|_| Expr::Match(m)),
            Expr::And(items) => {
                let mut parts: Vec<Expr<'a>> = items
                    .iter()
                    .filter_map(|e| e.necessary_plain(source))
                    .collect();
                match parts.len() {
                    0 => None,
                    1 => parts.pop(),
                    _ => Some(Expr::And(parts)),
                }
            }
            Expr::Or(items) => {
                let parts: Option<Vec<Expr<'a>>> =
                    items.iter().map(|e| e.necessary_plain(source)).collect();
                parts.map(|mut p| {
                    if p.len() == 1 {
                        p.pop().unwrap()
                    } else {
                        Expr::Or(p)
                    }
                })
            }
            Expr::Not(_) => None,
        }
    }
}

/// A column of a query's output and the role it plays in the alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputColumn {
    pub name: String,
    pub role: ColumnRole,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnRole {
    Time,
    Entity(&'static str),
    Detail,
    Summary,
}

/// Names of the fixed columns every compiled query outputs.
pub(crate) mod columns {
    /// Labels of the findings (selections) that matched.
    pub(crate) const FINDINGS: &str = "Findings";
    pub(crate) const START_TIME: &str = "StartTime";
    pub(crate) const END_TIME: &str = "EndTime";
    pub(crate) const EVENT_COUNT: &str = "EventCount";
    pub(crate) const REQUIRED_COUNT: &str = "RequiredCount";
    pub(crate) const TIER: &str = "Tier";
}

/// Prefix of helper columns and variables; stripped from the output.
pub(crate) const HELPER_PREFIX: &str = "_rc_";

/// The fields a detection's query reads, in a stable order: logic first, then threshold
/// grouping, entities and custom details.
pub(crate) fn needed_fields(detection: &Detection) -> Vec<&str> {
    let logic = detection.field_matches().map(|m| m.field.as_str());
    let group = detection
        .meta
        .threshold
        .iter()
        .flat_map(|t| t.group_by.iter().map(String::as_str));
    let details = detection.meta.custom_details.values().map(String::as_str);
    let mut out: Vec<&str> = Vec::new();
    for f in logic
        .chain(group)
        .chain(entity_and_identity_fields(detection))
        .chain(details)
    {
        if !out.contains(&f) {
            out.push(f);
        }
    }
    out
}

/// The window rule shared by every target and the evaluator (it is pySigma's: an event counts
/// towards the window that ends at a later event when it is at most `window` older; events
/// without a value for a group-by field never count).
pub(crate) const WINDOW_IS_INCLUSIVE: bool = true;

/// The fields a threshold alert reports besides its group-by fields: entities and custom
/// details (logic-only fields are the same for every event of a burst, or meaningless per group).
pub(crate) fn summary_fields(detection: &Detection) -> Vec<&str> {
    let group: &[String] = detection
        .meta
        .threshold
        .as_ref()
        .map(|t| t.group_by.as_slice())
        .unwrap_or_default();
    let details = detection.meta.custom_details.values().map(String::as_str);
    let mut out: Vec<&str> = Vec::new();
    for f in entity_and_identity_fields(detection).chain(details) {
        if !out.contains(&f) && !group.iter().any(|g| g == f) {
            out.push(f);
        }
    }
    out
}

/// The entity fields of a detection in slot order, each followed by its identifier fields
/// (the log source's `identifies:`), which every query reports beside it.
fn entity_and_identity_fields(detection: &Detection) -> impl Iterator<Item = &str> {
    detection
        .meta
        .entities
        .slots()
        .into_iter()
        .filter_map(|(slot, field)| Some((slot, field?)))
        .flat_map(move |(slot, field)| {
            let identifiers = detection
                .identities_of(slot)
                .map(|i| i.fields().into_iter().map(|(_, f)| f).collect::<Vec<_>>())
                .unwrap_or_default();
            std::iter::once(field).chain(identifiers)
        })
}

/// The entity columns of a detection: (entity slot, field), in slot order.
pub(crate) fn entity_fields(detection: &Detection) -> Vec<(&'static str, &str)> {
    detection
        .meta
        .entities
        .slots()
        .into_iter()
        .filter_map(|(slot, f)| f.map(|f| (slot, f)))
        .collect()
}

/// The column of a list's Splunk lookup and Sentinel watchlist that holds the names of its
/// values (`{ value, name }` entries), beside their values; the templates write it as `name`.
pub(crate) const LIST_NAME_COLUMN: &str = "name";

/// The inline values of a catalogue list, lower-cased (what every target compares a
/// lower-cased field value with), sorted, each once, with the name of the first entry that gives
/// one: the rows of the list's Splunk lookup and Sentinel watchlist.
pub(crate) fn list_entries(catalogue: &Catalogue, list: &str) -> Vec<(String, Option<String>)> {
    let mut entries: Vec<(String, Option<String>)> = catalogue
        .config
        .lists
        .get(list)
        .map(|l| {
            l.inline
                .iter()
                .map(|v| (v.value().to_lowercase(), v.name().map(str::to_owned)))
                .collect()
        })
        .unwrap_or_default();
    // Stable: among entries of one value, the first written keeps its name.
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries.dedup_by(|later, first| {
        if later.0 == first.0 && first.1.is_none() {
            first.1 = later.1.take();
        }
        later.0 == first.0
    });
    entries
}

/// What a list reference (`tier0_roles`, or `tier0_roles.name` for its names) stands for, as
/// rulecast.yaml spells it, in file order.
pub(crate) fn list_values_as_written(catalogue: &Catalogue, list: &str) -> Vec<String> {
    let (base, names) = crate::logic::list_reference(list);
    catalogue
        .config
        .lists
        .get(base)
        .map(|l| {
            l.inline
                .iter()
                .filter_map(|v| if names { v.name() } else { Some(v.value()) })
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The lower-cased inline values of a catalogue list, sorted, each once; for a reference to
/// the list's names (`tier0_roles.name`), the names its entries give.
pub(crate) fn inline_values(catalogue: &Catalogue, list: &str) -> Vec<String> {
    let (base, names) = crate::logic::list_reference(list);
    if !names {
        return list_entries(catalogue, base)
            .into_iter()
            .map(|(value, _)| value)
            .collect();
    }
    let mut out: Vec<String> = list_entries(catalogue, base)
        .into_iter()
        .filter_map(|(_, name)| name.map(|n| n.to_lowercase()))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The catalogue lists a detection's `expand` matches read (`tier0_roles`, `tier0_roles.name`),
/// each once, in order of first use.
pub(crate) fn expanded_lists(detection: &Detection) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for list in detection.field_matches().flat_map(FieldMatch::lists) {
        if !out.contains(&list) {
            out.push(list);
        }
    }
    out
}

/// The catalogue lists a detection reads (threshold tiers, then `expand` matches), each once,
/// in order of first use.
pub(crate) fn lists_used(detection: &Detection) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    let tiers = detection
        .meta
        .threshold
        .iter()
        .flat_map(|t| t.tiers.iter().map(|tier| tier.list.as_str()));
    for list in tiers.chain(expanded_lists(detection)) {
        if !out.contains(&list) {
            out.push(list);
        }
    }
    out
}
