//! Exclusions: the tuning a site applies to a detection, written down with why, who and until
//! when.
//!
//! A SOC that must stop a detection alerting on a known account (an onboarding service that
//! assigns roles in bulk) would otherwise edit the logic, or a Splunk-only filter macro, and
//! nothing would record why, who owns the decision or when it ends. An exclusion is a field
//! match written like a selection entry (`Actor`, `Actor|endswith`, `Actor|expand`) with a
//! reason, an owner and an expiry date. The loader compiles every exclusion that applies to a
//! detection into one more selection, `filter_optional_exclusion_<field>` (SigmaHQ's name for a
//! site's optional filter), and its condition into `(<condition>) and not 1 of
//! filter_optional_exclusion_*`. So every target expresses it with the same compiler as the
//! rest of the logic, and `rulecast test` and `rulecast scan` honour it with the evaluator.
//!
//! Exclusions are written in a detection file (for that detection) or in `rulecast.yaml` (for
//! every detection whose log source has the field, or the ones it names). `rulecast check`
//! fails once an exclusion has expired and warns in the two weeks before; `rulecast diff` calls
//! a new or wider exclusion a risky change; a release lists the active ones.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::logic::condition::name_matches;
use crate::logic::{Condition, FieldMatch, LogicError, Selection};
use crate::yaml::Document;

/// Prefix of the selections exclusions compile to; a detection's own selections may not use it.
pub(crate) const SELECTION_PREFIX: &str = "filter_optional_exclusion_";

/// Days before its expiry from which `rulecast check` warns about an exclusion.
pub(crate) const WARN_DAYS: i64 = 14;

/// Events whose field matches the values never raise the detection's alert.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Exclusion {
    /// The field and its modifiers, written as a selection key: `Actor`, `Actor|endswith`,
    /// `Actor|expand` (with a list placeholder as the value).
    #[schemars(regex(pattern = r"^[A-Za-z_][A-Za-z0-9_.]*(\|[a-z0-9]+)*$"))]
    pub field: String,
    /// The values excluded, matched like a selection's (case-insensitively; any one matches).
    #[schemars(length(min = 1))]
    #[schemars(extend("items" = { "type": ["string", "number", "boolean", "null"] }))]
    pub values: Vec<Value>,
    /// Why the events are benign, for the reviewer and the analyst.
    #[schemars(length(min = 8))]
    pub reason: String,
    /// Who owns the decision and is asked when it expires (a team or a person, e.g. an e-mail
    /// address).
    #[schemars(length(min = 1))]
    pub owner: String,
    /// The last day the exclusion applies (YYYY-MM-DD). `rulecast check` warns two weeks
    /// before and fails from the day after: renew it, or remove it.
    #[schemars(regex(pattern = r"^\d{4}-\d{2}-\d{2}$"))]
    #[schemars(extend("patternErrorMessage" = "write the date as YYYY-MM-DD, e.g. 2027-03-31"))]
    pub expires: String,
}

/// An exclusion of `rulecast.yaml`: for every detection whose log source has the field, or
/// for the detections it names.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CatalogueExclusion {
    #[serde(flatten)]
    pub exclusion: Exclusion,
    /// Only these detections (their name, section/name or id); every detection whose log
    /// source has the field when left out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub detections: Vec<String>,
}

/// Where an exclusion that applies to a detection is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The detection's own `exclusions:`, at this index.
    Detection(usize),
    /// `exclusions:` of rulecast.yaml, at this index.
    Catalogue(usize),
}

impl Origin {
    /// The JSON pointer of the exclusion in its file.
    pub(crate) fn pointer(self) -> String {
        match self {
            Origin::Detection(i) | Origin::Catalogue(i) => format!("/exclusions/{i}"),
        }
    }
}

/// An exclusion that applies to a detection, and the selection it was compiled to.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    pub exclusion: Exclusion,
    pub origin: Origin,
    /// The name of its selection in the detection's logic.
    pub selection: String,
}

/// How an exclusion stands on a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Standing {
    Active,
    /// Expires within [`WARN_DAYS`]: this many days are left (0: today is its last day).
    Expiring(i64),
    /// Its last day was this many days ago.
    Expired(i64),
}

/// How an exclusion expiring on `expires` stands on `today` (both YYYY-MM-DD, already checked).
pub(crate) fn standing(expires: &str, today: &str) -> Standing {
    let (Some(last), Some(now)) = (day_number(expires), day_number(today)) else {
        return Standing::Active;
    };
    let left = last - now;
    if left < 0 {
        Standing::Expired(-left)
    } else if left <= WARN_DAYS {
        Standing::Expiring(left)
    } else {
        Standing::Active
    }
}

/// Days since 1970-01-01 of a YYYY-MM-DD date.
fn day_number(date: &str) -> Option<i64> {
    let mut parts = date.splitn(3, '-').map(str::parse::<i64>);
    let (Some(Ok(y)), Some(Ok(m)), Some(Ok(d))) = (parts.next(), parts.next(), parts.next()) else {
        return None;
    };
    Some(crate::timestamp::days_from_civil(y, m, d))
}

impl Exclusion {
    /// The field the exclusion reads (its key without modifiers).
    pub fn field_name(&self) -> &str {
        self.field.split('|').next().unwrap_or_default()
    }

    /// The exclusion as a field match; `pointer` is the exclusion in its file. A problem with
    /// the modifiers is located at `field:`, one with a value at the value.
    pub(crate) fn field_match(&self, pointer: &str) -> Result<FieldMatch, Vec<LogicError>> {
        let mut errors = Vec::new();
        let values = Value::Array(self.values.clone());
        let parsed = crate::logic::parse_entry(
            &self.field,
            &values,
            &format!("{pointer}/values"),
            &mut errors,
        );
        match parsed {
            Some(m) if errors.is_empty() => Ok(m),
            _ => Err(errors
                .into_iter()
                .map(|e| {
                    if e.at_key {
                        LogicError {
                            pointer: format!("{pointer}/field"),
                            at_key: false,
                            ..e
                        }
                    } else {
                        e
                    }
                })
                .collect()),
        }
    }
}

impl CatalogueExclusion {
    /// Whether the exclusion names the detection with this id, section and file name.
    pub(crate) fn names(&self, id: &str, section: &str, slug: &str) -> bool {
        self.detections
            .iter()
            .any(|name| super::names_detection(name, id, section, slug))
    }
}

/// The selection of one exclusion, named `name`.
pub(crate) fn selection(name: String, field_match: FieldMatch) -> Selection {
    Selection {
        name,
        alternatives: vec![vec![field_match]],
        listed: false,
    }
}

/// The condition as written and as expanded once `exclusions` are compiled in: the written
/// one gains `and not 1 of filter_optional_exclusion_*` (what the Sigma rule says), the
/// expanded one `and not (<each exclusion's selection>)`. A pattern of the written condition
/// that would also match an exclusion's selection (`1 of them`) is written expanded, so the
/// exclusion never becomes part of what the detection looks for.
pub(crate) fn wrap(
    condition: Condition,
    names: &[String],
    exclusions: &[Applied],
) -> (Condition, Condition) {
    let expanded = condition.expand(names);
    if exclusions.is_empty() {
        return (condition, expanded);
    }
    let captures = condition.references().iter().any(|(reference, pattern)| {
        *pattern
            && exclusions
                .iter()
                .any(|e| name_matches(reference, &e.selection))
    });
    let written = if captures {
        expanded.clone()
    } else {
        condition
    };
    let any_of = Condition::OfPattern {
        all: false,
        pattern: format!("{SELECTION_PREFIX}*"),
    };
    let mut each: Vec<Condition> = exclusions
        .iter()
        .map(|e| Condition::Selection(e.selection.clone()))
        .collect();
    let excluded = if each.len() == 1 {
        each.pop().expect("one exclusion")
    } else {
        Condition::Or(each)
    };
    (
        Condition::And(vec![written, Condition::Not(Box::new(any_of))]),
        Condition::And(vec![expanded, Condition::Not(Box::new(excluded))]),
    )
}

/// The name of the selection an exclusion of `field` compiles to; `taken` are the names given
/// so far (a second exclusion of the same field gets `_2`).
pub(crate) fn selection_name(field: &str, taken: &[String]) -> String {
    let mut snake = String::new();
    let mut previous_lower = false;
    for c in field.split('|').next().unwrap_or_default().chars() {
        if c.is_ascii_uppercase() {
            if previous_lower {
                snake.push('_');
            }
            snake.push(c.to_ascii_lowercase());
            previous_lower = false;
        } else if c.is_ascii_alphanumeric() {
            snake.push(c);
            previous_lower = true;
        } else {
            snake.push('_');
            previous_lower = false;
        }
    }
    let base = format!("{SELECTION_PREFIX}{snake}");
    let mut name = base.clone();
    let mut n = 1;
    while taken.contains(&name) {
        n += 1;
        name = format!("{base}_{n}");
    }
    name
}

/// The diagnostics of the exclusions of every detection on `today`: an error for each expired
/// one, a warning for each that expires within [`WARN_DAYS`]. Each names the detection, the
/// date and the owner, at the exclusion's `expires:`. A catalogue-wide exclusion is reported
/// once, naming the detections it applies to.
pub(crate) fn expiry(catalogue: &super::Catalogue, today: &str) -> Diagnostics {
    let mut out = Diagnostics::new();
    let mut catalogue_wide: Vec<(usize, &Exclusion, Vec<&str>)> = Vec::new();
    for detection in &catalogue.detections {
        for applied in &detection.exclusions {
            match applied.origin {
                Origin::Detection(_) => {
                    let subject = format!("`{}/{}`", detection.section, detection.slug);
                    if let Some(d) = expiry_diagnostic(
                        &applied.exclusion,
                        &subject,
                        &detection.document,
                        &applied.origin.pointer(),
                        today,
                    ) {
                        out.push(d);
                    }
                }
                Origin::Catalogue(i) => {
                    match catalogue_wide.iter_mut().find(|(index, _, _)| *index == i) {
                        Some((_, _, names)) => names.push(&detection.slug),
                        None => catalogue_wide.push((i, &applied.exclusion, vec![&detection.slug])),
                    }
                }
            }
        }
    }
    for (i, exclusion, names) in catalogue_wide {
        let subject = format!(
            "the catalogue-wide exclusion {} (for {})",
            i + 1,
            names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        if let Some(d) = expiry_diagnostic(
            exclusion,
            &subject,
            catalogue.config_document(),
            &Origin::Catalogue(i).pointer(),
            today,
        ) {
            out.push(d);
        }
    }
    out.sorted()
}

fn expiry_diagnostic(
    exclusion: &Exclusion,
    subject: &str,
    document: &Document,
    pointer: &str,
    today: &str,
) -> Option<Diagnostic> {
    let what = format!(
        "exclusion of {} = {}",
        exclusion.field,
        shown_values(&exclusion.values)
    );
    let at = format!("{pointer}/expires");
    let help = format!(
        "ask {} whether it is still needed: set a new `expires:` date, or remove the exclusion",
        exclusion.owner
    );
    match standing(&exclusion.expires, today) {
        Standing::Active => None,
        Standing::Expiring(left) => Some(
            document
                .warning_at(
                    &at,
                    format!(
                        "{subject}: the {what} expires on {} ({}; owner {})",
                        exclusion.expires,
                        match left {
                            0 => "today is its last day".to_owned(),
                            1 => "in 1 day".to_owned(),
                            n => format!("in {n} days"),
                        },
                        exclusion.owner
                    ),
                )
                .with_help(help),
        ),
        Standing::Expired(ago) => Some(
            document
                .error_at(
                    &at,
                    format!(
                        "{subject}: the {what} expired on {} ({ago} day{} ago; owner {})",
                        exclusion.expires,
                        if ago == 1 { "" } else { "s" },
                        exclusion.owner
                    ),
                )
                .with_help(help),
        ),
    }
}

/// The values of an exclusion as a reader sees them: `a, b`.
pub(crate) fn shown_values(values: &[Value]) -> String {
    values
        .iter()
        .map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exclusion_stands_until_its_last_day() {
        assert_eq!(standing("2027-03-31", "2027-03-01"), Standing::Active);
        assert_eq!(standing("2027-03-31", "2027-03-17"), Standing::Expiring(14));
        assert_eq!(standing("2027-03-31", "2027-03-16"), Standing::Active);
        assert_eq!(standing("2027-03-31", "2027-03-31"), Standing::Expiring(0));
        assert_eq!(standing("2027-03-31", "2027-04-01"), Standing::Expired(1));
        assert_eq!(standing("2024-02-28", "2024-03-01"), Standing::Expired(2));
    }

    #[test]
    fn selection_names_follow_the_field() {
        assert_eq!(
            selection_name("Actor", &[]),
            "filter_optional_exclusion_actor"
        );
        assert_eq!(
            selection_name("ActorIpAddress|startswith", &[]),
            "filter_optional_exclusion_actor_ip_address"
        );
        let taken = vec!["filter_optional_exclusion_actor".to_owned()];
        assert_eq!(
            selection_name("Actor|endswith", &taken),
            "filter_optional_exclusion_actor_2"
        );
    }
}
