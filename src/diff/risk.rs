//! Risky changes: edits that can make a detection miss attacks, called out for the reviewer.
//!
//! A pull request that raises a threshold or drops a value from a selection looks like tidying
//! in a YAML diff, yet it silently narrows what the SOC sees. These rules name such edits in the
//! diff report so a reviewer decides on them knowingly. They warn; they never fail a build,
//! because each can be the right call.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::catalogue::DetectionFile;
use crate::catalogue::detection::Status;
use crate::catalogue::exclusion::{Exclusion, shown_values};

/// The risky changes from `old` to `new`, as sentences.
pub(crate) fn risks(old: &DetectionFile, new: &DetectionFile) -> Vec<String> {
    let mut out = Vec::new();
    if new.status == Status::Deprecated && old.status != Status::Deprecated {
        out.push("deprecated: the detection is switched off in every target".to_owned());
    } else if new.status < old.status && new.status != Status::Deprecated {
        out.push(format!(
            "status lowered from {} to {}",
            old.status.as_str(),
            new.status.as_str()
        ));
    }
    if new.severity < old.severity {
        out.push(format!(
            "severity lowered from {} to {}",
            old.severity.as_str(),
            new.severity.as_str()
        ));
    }
    match (&old.threshold, &new.threshold) {
        (None, Some(t)) => out.push(format!(
            "threshold added: alerts now need {} events in {} instead of one",
            t.count, t.window
        )),
        (Some(o), Some(n)) => {
            if n.count > o.count {
                out.push(format!(
                    "threshold loosened: count raised from {} to {}",
                    o.count, n.count
                ));
            }
            if n.window < o.window {
                out.push(format!(
                    "threshold loosened: window shortened from {} to {}",
                    o.window, n.window
                ));
            }
            for tier in &n.tiers {
                if let Some(before) = o.tiers.iter().find(|t| t.name == tier.name)
                    && tier.count > before.count
                {
                    out.push(format!(
                        "threshold loosened: the `{}` tier's count raised from {} to {}",
                        tier.name, before.count, tier.count
                    ));
                }
            }
            for tier in &o.tiers {
                if !n.tiers.iter().any(|t| t.name == tier.name) {
                    out.push(format!(
                        "threshold loosened: the `{}` tier ({} events) was removed",
                        tier.name, tier.count
                    ));
                }
            }
        }
        _ => {}
    }
    for (name, before) in &old.detection.selections {
        match new.detection.selections.get(name) {
            None => out.push(format!("selection `{name}` removed")),
            Some(after) => {
                let kept = values(after);
                for (field, value) in values(before).difference(&kept) {
                    out.push(format!(
                        "selection `{name}`: value {value} removed from `{field}`"
                    ));
                }
            }
        }
    }
    out
}

/// The exclusions that silence more than before: one on a field (with its modifiers) that was
/// not excluded, a value added to one, or an expiry moved later. Each names what is excluded,
/// who owns it and until when, so the reviewer can judge it.
pub(crate) fn exclusion_risks(old: &[Exclusion], new: &[Exclusion]) -> Vec<String> {
    let mut out = Vec::new();
    for exclusion in new {
        let before: Vec<&Exclusion> = old.iter().filter(|o| o.field == exclusion.field).collect();
        let values = |e: &Exclusion| -> BTreeSet<String> {
            e.values
                .iter()
                .map(|v| v.to_string().to_lowercase())
                .collect()
        };
        let had: BTreeSet<String> = before.iter().flat_map(|o| values(o)).collect();
        let added: Vec<&Value> = exclusion
            .values
            .iter()
            .filter(|v| !had.contains(&v.to_string().to_lowercase()))
            .collect();
        let owner = format!(
            "owner {}, until {}: {}",
            exclusion.owner,
            exclusion.expires,
            exclusion.reason.trim()
        );
        if before.is_empty() {
            out.push(format!(
                "exclusion added: events with {} = {} no longer alert ({owner})",
                exclusion.field,
                shown_values(&exclusion.values)
            ));
        } else if !added.is_empty() {
            let added: Vec<Value> = added.into_iter().cloned().collect();
            out.push(format!(
                "exclusion widened: {} now also excludes {} ({owner})",
                exclusion.field,
                shown_values(&added)
            ));
        } else if let Some(latest) = before.iter().map(|o| o.expires.as_str()).max()
            && exclusion.expires.as_str() > latest
        {
            out.push(format!(
                "exclusion extended: {} = {} now applies until {} instead of {latest} ({owner})",
                exclusion.field,
                shown_values(&exclusion.values),
                exclusion.expires
            ));
        }
    }
    out
}

/// Every (field, value) a selection matches on, across its alternatives.
fn values(selection: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    let maps: Vec<&Value> = match selection {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    for map in maps {
        let Value::Object(fields) = map else { continue };
        for (field, value) in fields {
            let items: Vec<&Value> = match value {
                Value::Array(items) => items.iter().collect(),
                other => vec![other],
            };
            for item in items {
                out.insert((field.clone(), item.to_string()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detection(edit: impl FnOnce(&mut Value)) -> DetectionFile {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/minimal/entra-roles/eligible-assignment-burst.yaml");
        let mut value = crate::yaml::load_file(&path, &path).unwrap().value;
        // Two values, so one can be removed.
        value["detection"]["selection"]["ActivityDisplayName|startswith"] =
            serde_json::json!(["Add eligible member", "Remove eligible member"]);
        edit(&mut value);
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn an_unchanged_detection_has_no_risk() {
        assert!(risks(&detection(|_| {}), &detection(|_| {})).is_empty());
    }

    #[test]
    fn each_loosening_is_named() {
        type Edit = fn(&mut Value);
        let old = detection(|_| {});
        let cases: Vec<(Edit, &str)> = vec![
            (
                |v| v["threshold"]["count"] = 5.into(),
                "count raised from 4 to 5",
            ),
            (
                |v| v["threshold"]["window"] = "30m".into(),
                "window shortened from 1h to 30m",
            ),
            (
                |v| v["threshold"]["tiers"][0]["count"] = 3.into(),
                "`privileged` tier's count raised from 2 to 3",
            ),
            (
                |v| v["threshold"]["tiers"] = Value::Array(vec![]),
                "`privileged` tier (2 events) was removed",
            ),
            (
                |v| v["severity"] = "medium".into(),
                "severity lowered from high to medium",
            ),
            (
                |v| v["status"] = "experimental".into(),
                "status lowered from test to experimental",
            ),
            (
                |v| {
                    v["status"] = "deprecated".into();
                    v["deprecation"] = serde_json::json!({ "reason": "r", "date": "2026-01-02" });
                },
                "deprecated",
            ),
            (
                |v| {
                    v["detection"]["selection"]["ActivityDisplayName|startswith"]
                        .as_array_mut()
                        .unwrap()
                        .truncate(1);
                },
                "value \"Remove eligible member\" removed from `ActivityDisplayName|startswith`",
            ),
        ];
        for (edit, expected) in cases {
            let found = risks(&old, &detection(edit));
            assert_eq!(found.len(), 1, "{expected}: {found:?}");
            assert!(found[0].contains(expected), "{expected}: {found:?}");
        }
    }

    #[test]
    fn tightening_is_not_risky() {
        let old = detection(|_| {});
        for edit in [
            (|v: &mut Value| v["threshold"]["count"] = 3.into()) as fn(&mut Value),
            |v| v["threshold"]["window"] = "2h".into(),
            |v| v["severity"] = "high".into(),
            |v| v["status"] = "stable".into(),
            |v| {
                v["detection"]["selection"]["ActivityDisplayName|startswith"]
                    .as_array_mut()
                    .unwrap()
                    .push("Another activity".into());
            },
        ] {
            assert!(risks(&old, &detection(edit)).is_empty());
        }
    }

    fn exclusion(field: &str, values: &[&str], expires: &str) -> Exclusion {
        Exclusion {
            field: field.to_owned(),
            values: values.iter().map(|v| Value::from(*v)).collect(),
            reason: "Bulk onboarding by the service".to_owned(),
            owner: "identity-team@contoso.example".to_owned(),
            expires: expires.to_owned(),
        }
    }

    #[test]
    fn an_added_widened_or_extended_exclusion_is_risky() {
        let svc = exclusion("Actor", &["svc@contoso.example"], "2027-03-31");
        let found = exclusion_risks(&[], std::slice::from_ref(&svc));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("exclusion added: events with Actor = svc@contoso.example")
                && found[0].contains("owner identity-team@contoso.example, until 2027-03-31"),
            "{found:?}"
        );
        let wider = exclusion(
            "Actor",
            &["SVC@contoso.example", "svc2@contoso.example"],
            "2027-03-31",
        );
        assert_eq!(
            exclusion_risks(std::slice::from_ref(&svc), std::slice::from_ref(&wider)),
            vec!["exclusion widened: Actor now also excludes svc2@contoso.example (owner identity-team@contoso.example, until 2027-03-31: Bulk onboarding by the service)".to_owned()],
            "a value differing only in case is the same value"
        );
        let longer = exclusion("Actor", &["svc@contoso.example"], "2027-06-30");
        let found = exclusion_risks(std::slice::from_ref(&svc), std::slice::from_ref(&longer));
        assert!(
            found.len() == 1 && found[0].starts_with("exclusion extended: Actor"),
            "{found:?}"
        );
        let modifier = exclusion("Actor|endswith", &["@contoso.example"], "2027-03-31");
        let found = exclusion_risks(std::slice::from_ref(&svc), std::slice::from_ref(&modifier));
        assert!(
            found.len() == 1 && found[0].starts_with("exclusion added: events with Actor|endswith"),
            "{found:?}"
        );
    }

    #[test]
    fn a_narrowed_or_removed_exclusion_is_not_risky() {
        let two = exclusion(
            "Actor",
            &["a@contoso.example", "b@contoso.example"],
            "2027-03-31",
        );
        let one = exclusion("Actor", &["a@contoso.example"], "2027-01-31");
        assert!(exclusion_risks(std::slice::from_ref(&two), std::slice::from_ref(&one)).is_empty());
        assert!(exclusion_risks(std::slice::from_ref(&two), &[]).is_empty());
        assert!(exclusion_risks(std::slice::from_ref(&two), std::slice::from_ref(&two)).is_empty());
    }

    #[test]
    fn a_removed_selection_is_named() {
        let old =
            detection(|v| v["detection"]["filter"] = serde_json::json!({ "Result": "failure" }));
        let found = risks(&old, &detection(|_| {}));
        assert_eq!(found, vec!["selection `filter` removed".to_owned()]);
    }
}
