//! Sigma: compiled from the detection model like KQL and SPL. Sigma is the closest language to
//! the model, so a field match becomes `SigmaField|modifier|...: values`: the field renamed to
//! its Sigma name, each modifier written with its name from the modifier table
//! ([`crate::logic::modifier`], which also says what Sigma cannot express), and the values as
//! the catalogue wrote them, since catalogue values use Sigma's own wildcard and escape rules.
//! Numbers, booleans and null keep their YAML type. A threshold becomes correlation rules; a
//! tier that reads a list becomes its own base rule over the list's inline values.

use serde::Serialize;
use serde_json::Value;

use indexmap::IndexMap;

use crate::catalogue::Detection;
use crate::logic::{Condition, FieldMatch};

/// Field name -> its name in Sigma rules, where the two differ (a Sigma target's field mapping;
/// the pySigma pipelines map the names back).
pub(crate) type FieldNames = IndexMap<String, String>;

/// The Sigma name of `field`.
pub(crate) fn sigma_name<'a>(names: &'a FieldNames, field: &'a str) -> &'a str {
    names.get(field).map_or(field, String::as_str)
}

/// A selection in template form.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SelectionView {
    pub name: String,
    /// A list of maps (OR) rather than one map.
    pub is_list: bool,
    pub alternatives: Vec<Vec<EntryView>>,
}

/// One `Field|modifiers: values` entry.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct EntryView {
    pub key: String,
    pub is_list: bool,
    pub values: Vec<ScalarView>,
}

/// A YAML scalar value; `value` is the text for strings, the literal for the rest.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ScalarView {
    pub value: Value,
    pub is_null: bool,
}

fn scalar(value: &Value) -> ScalarView {
    ScalarView {
        is_null: value.is_null(),
        value: value.clone(),
    }
}

/// One field match: its Sigma field name, its modifiers by their Sigma names (from the
/// modifier table), its values as written. A plain `""` means "no value" in the catalogue
/// (missing, null or empty, as KQL `isempty` and the evaluator read it), while Sigma's `''`
/// only matches an empty string and `null` only a missing field: a plain `""` is written as
/// both.
fn entry(names: &FieldNames, m: &FieldMatch) -> EntryView {
    let mut key = sigma_name(names, &m.field).to_owned();
    for modifier in &m.modifiers {
        key.push('|');
        key.push_str(modifier.name());
    }
    let mut values: Vec<ScalarView> = m.values.iter().map(scalar).collect();
    if m.modifiers.is_empty()
        && m.values.iter().any(|v| v.as_str() == Some(""))
        && !m.values.iter().any(Value::is_null)
    {
        values.push(scalar(&Value::Null));
    }
    EntryView {
        key,
        is_list: m.listed || values.len() > 1,
        values,
    }
}

/// The selections the condition uses, with Sigma field names. Selections used only for
/// finding labels are left out: Sigma rejects a selection its condition does not use.
pub(crate) fn selections(names: &FieldNames, detection: &Detection) -> Vec<SelectionView> {
    let used: Vec<&str> = detection
        .expanded
        .references()
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    detection
        .selections
        .iter()
        .filter(|s| used.contains(&s.name.as_str()))
        .map(|s| SelectionView {
            name: s.name.clone(),
            is_list: s.listed,
            alternatives: s
                .alternatives
                .iter()
                .map(|all| all.iter().map(|m| entry(names, m)).collect())
                .collect(),
        })
        .collect()
}

/// A selection matching any of `values` in `field` (case-insensitively, as Sigma does).
pub(crate) fn list_selection(
    names: &FieldNames,
    name: &str,
    field: &str,
    values: &[String],
) -> SelectionView {
    // List values are literal: escape Sigma's wildcard characters.
    let escaped: Vec<ScalarView> = values
        .iter()
        .map(|v| scalar(&Value::String(crate::logic::Pattern::literal(v).to_sigma())))
        .collect();
    SelectionView {
        name: name.to_owned(),
        is_list: false,
        alternatives: vec![vec![EntryView {
            key: sigma_name(names, field).to_owned(),
            is_list: true,
            values: escaped,
        }]],
    }
}

/// The condition text as written (Sigma syntax), wrapped when combined with more terms.
pub(crate) fn condition_text(condition: &Condition) -> String {
    condition.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_matches_are_written_from_the_model() {
        let (_dir, catalogue) = crate::test_support::catalogue(
            &[(
                "entra-roles/pim-alert-disabled.yaml",
                "    ActivityDisplayName: Disable PIM alert\n",
                "    ActivityDisplayName: Disable PIM alert\n    ResultReason|re|i: [\"^a.b$\"]\n    Identity: ''\n  unused:\n    - Result: success\n",
            )],
            &[],
        );
        let detection = &catalogue.detections[1];
        assert_eq!(detection.slug, "pim-alert-disabled");
        let views = selections(&FieldNames::new(), detection);
        assert_eq!(
            views.len(),
            1,
            "a selection the condition does not use is left out"
        );
        let entries = &views[0].alternatives[0];
        let keys: Vec<&str> = entries.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "Category",
                "ActivityDisplayName",
                "ResultReason|re|i",
                "Identity"
            ]
        );
        assert!(!entries[0].is_list);
        assert!(entries[2].is_list, "a list of one stays a list");
        let empty: Vec<bool> = entries[3].values.iter().map(|v| v.is_null).collect();
        assert_eq!(
            empty,
            [false, true],
            "a plain '' also matches a missing field"
        );
    }
}
