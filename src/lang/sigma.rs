//! Sigma: the catalogue's logic is already Sigma, so compiling it means renaming fields to their
//! Sigma names and deciding what Sigma cannot say.
//!
//! Values are passed through unchanged: catalogue values use Sigma's own wildcard and escape
//! rules. Numbers, booleans and null keep their YAML type. A threshold becomes correlation
//! rules; a tier that reads a list becomes its own base rule over the list's inline values.

use serde::Serialize;
use serde_json::Value;

use crate::catalogue::logsource::LogSourceFile;
use crate::catalogue::{Catalogue, Detection};
use crate::logic::Condition;

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

/// Renames `Field|mods` to `SigmaField|mods`.
pub(crate) fn sigma_key(source: &LogSourceFile, key: &str) -> String {
    match key.split_once('|') {
        Some((field, mods)) => format!("{}|{mods}", source.sigma_name(field)),
        None => source.sigma_name(key).to_owned(),
    }
}

fn scalar(value: &Value) -> ScalarView {
    ScalarView {
        is_null: value.is_null(),
        value: value.clone(),
    }
}

/// The values of one entry. A plain `""` means "no value" in the catalogue (missing, null or
/// empty, as KQL `isempty` and the evaluator read it), while Sigma's `''` only matches an
/// empty string and `null` only a missing field: a plain `""` is written as both.
fn entry(source: &LogSourceFile, key: &str, values: &[Value], is_list: bool) -> EntryView {
    let mut scalars: Vec<ScalarView> = values.iter().map(scalar).collect();
    let plain = !key.contains('|');
    if plain && values.iter().any(|v| v.as_str() == Some("")) && !values.iter().any(Value::is_null)
    {
        scalars.push(scalar(&Value::Null));
    }
    EntryView {
        key: sigma_key(source, key),
        is_list: is_list || scalars.len() > 1,
        values: scalars,
    }
}

fn entries(source: &LogSourceFile, map: &serde_json::Map<String, Value>) -> Vec<EntryView> {
    map.iter()
        .map(|(key, value)| match value {
            Value::Array(items) => entry(source, key, items, true),
            single => entry(source, key, std::slice::from_ref(single), false),
        })
        .collect()
}

/// The selections the condition uses, with Sigma field names. Selections used only for
/// finding labels are left out: Sigma rejects a selection its condition does not use.
pub(crate) fn selections(catalogue: &Catalogue, detection: &Detection) -> Vec<SelectionView> {
    let source = catalogue.logsource(detection);
    let used: Vec<String> = detection
        .expanded
        .references()
        .into_iter()
        .map(|(name, _)| name.to_owned())
        .collect();
    detection
        .meta
        .detection
        .selections
        .iter()
        .filter(|(name, _)| used.contains(name))
        .map(|(name, value)| match value {
            Value::Array(items) => SelectionView {
                name: name.clone(),
                is_list: true,
                alternatives: items
                    .iter()
                    .filter_map(Value::as_object)
                    .map(|m| entries(source, m))
                    .collect(),
            },
            Value::Object(map) => SelectionView {
                name: name.clone(),
                is_list: false,
                alternatives: vec![entries(source, map)],
            },
            _ => unreachable!("validated: selections are maps or lists of maps"),
        })
        .collect()
}

/// A selection matching any of `values` in `field` (case-insensitively, as Sigma does).
pub(crate) fn list_selection(
    catalogue: &Catalogue,
    detection: &Detection,
    name: &str,
    field: &str,
    values: &[String],
) -> SelectionView {
    let source = catalogue.logsource(detection);
    // List values are literal: escape Sigma's wildcard characters.
    let escaped: Vec<ScalarView> = values
        .iter()
        .map(|v| scalar(&Value::String(crate::logic::Pattern::literal(v).to_sigma())))
        .collect();
    SelectionView {
        name: name.to_owned(),
        is_list: false,
        alternatives: vec![vec![EntryView {
            key: source.sigma_name(field).to_owned(),
            is_list: true,
            values: escaped,
        }]],
    }
}

/// The condition text as written (Sigma syntax), wrapped when combined with more terms.
pub(crate) fn condition_text(condition: &Condition) -> String {
    condition.to_string()
}
