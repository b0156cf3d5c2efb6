//! Field values: a log source's [`FieldValue`] definitions, read from a record the way the KQL
//! and SPL compilers read them, so the evaluator's verdict is the queries' verdict.
//!
//! * `column` (+ `path`): the column, or the value at the path inside a dynamic column.
//! * `element`: the first element of an array column whose `where` keys equal their values
//!   case-insensitively (KQL `=~`), then the path inside it.
//! * `at`: the element at a fixed index, then the path.
//! * `modified_property`: the first `modifiedProperties` entry, over all elements, whose
//!   `displayName` equals the name case-insensitively; its old or new value with Entra's JSON
//!   quoting removed (`"\"Global Administrator\""` is `Global Administrator`).
//! * `text`: the whole column as compact JSON, for substring matches.
//! * `first_of`: the first of several values that is present and not empty (KQL `coalesce`).
//!
//! Every value is text. Missing, null and "" are all "no value": KQL's `tostring()` and the SPL
//! searches' `coalesce(..., "")` make no difference between them, so neither does the evaluator.
//! Nor is Entra's text `<null>` a value: it is what Entra writes where it has none.

use std::borrow::Cow;
use std::cell::OnceCell;

use indexmap::IndexMap;
use serde_json::Value;

use super::dynamic::Dynamic;
use super::record::Record;
use super::shape::path_keys;
use crate::catalogue::logsource::{Column, ColumnType, FieldValue};

/// A field's value in one event, with its lower-case form computed on first use.
#[derive(Debug)]
pub(crate) struct FieldText<'a> {
    text: Cow<'a, str>,
    lower: OnceCell<String>,
}

impl<'a> FieldText<'a> {
    pub(crate) fn new(text: Cow<'a, str>) -> FieldText<'a> {
        FieldText {
            text,
            lower: OnceCell::new(),
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }

    /// The value in lower case, for case-insensitive matching.
    pub(crate) fn lower(&self) -> &str {
        self.lower.get_or_init(|| lowercase(&self.text))
    }
}

/// Lower case as Sigma compares: character by character.
pub(crate) fn lowercase(text: &str) -> String {
    if text.is_ascii() {
        text.to_ascii_lowercase()
    } else {
        text.chars().flat_map(char::to_lowercase).collect()
    }
}

/// Case-insensitive equality, as KQL's `=~`.
pub(crate) fn equal_ignoring_case(a: &str, b: &str) -> bool {
    // Texts equal but for ASCII case are equal in any case; most comparisons (an element's
    // `type`) differ in length, which the ASCII test sees first.
    a.eq_ignore_ascii_case(b) || (!(a.is_ascii() && b.is_ascii()) && lowercase(a) == lowercase(b))
}

/// Whether a text is "no value": empty, or the `<null>` Entra writes where a value is missing
/// (`"ipAddress": "<null>"`, `"callerIpAddress": "<null>"`).
pub(crate) fn is_empty_text(text: &str) -> bool {
    text.is_empty() || text == "<null>"
}

/// The text of a JSON value as KQL's `tostring()` gives it; `None` for null, "" and `<null>`.
pub(crate) fn scalar_text(value: &Value) -> Option<Cow<'_, str>> {
    match value {
        Value::Null => None,
        Value::String(s) if is_empty_text(s) => None,
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Bool(b) => Some(Cow::Owned(b.to_string())),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        Value::Array(_) | Value::Object(_) => Some(Cow::Owned(value.to_string())),
    }
}

/// Entra writes modified-property values JSON-encoded; decode one that is a JSON string.
pub(crate) fn unquote(text: &str) -> Cow<'_, str> {
    if text.len() >= 2
        && text.starts_with('"')
        && text.ends_with('"')
        && !text.contains('\n')
        && let Ok(inner) = serde_json::from_str::<String>(text)
    {
        return Cow::Owned(inner);
    }
    Cow::Borrowed(text)
}

fn at_path<'v, 'a>(value: &'v Dynamic<'a>, keys: &[String]) -> Option<&'v Dynamic<'a>> {
    keys.iter().try_fold(value, |v, key| v.get(key))
}

fn keys(path: &str) -> Vec<String> {
    path_keys(path).into_iter().map(str::to_owned).collect()
}

/// A [`FieldValue`] with its columns resolved to indexes and its paths split, ready to read.
#[derive(Debug, Clone)]
pub(crate) enum FieldPlan {
    /// A string or datetime column.
    Plain {
        column: usize,
    },
    /// A dynamic column, or a path inside it; the whole column as compact JSON when `path` is empty.
    Dynamic {
        column: usize,
        path: Vec<String>,
    },
    Element {
        column: usize,
        matching: Vec<(Vec<String>, String)>,
        path: Vec<String>,
    },
    At {
        column: usize,
        index: usize,
        path: Vec<String>,
    },
    ModifiedProperty {
        column: usize,
        name: String,
        side: &'static str,
    },
    FirstOf(Vec<FieldPlan>),
}

impl FieldPlan {
    /// Validation guarantees every column a field names is declared.
    pub(crate) fn new(value: &FieldValue, columns: &IndexMap<String, Column>) -> FieldPlan {
        let index = |name: &str| {
            columns
                .get_index_of(name)
                .expect("validated: fields name declared columns")
        };
        match value {
            FieldValue::Column { column, path: None }
                if columns[column].kind != ColumnType::Dynamic =>
            {
                FieldPlan::Plain {
                    column: index(column),
                }
            }
            FieldValue::Column { column, path } => FieldPlan::Dynamic {
                column: index(column),
                path: path.as_deref().map(keys).unwrap_or_default(),
            },
            FieldValue::Text { text } => FieldPlan::Dynamic {
                column: index(text),
                path: Vec::new(),
            },
            FieldValue::Element { element } => FieldPlan::Element {
                column: index(&element.column),
                matching: element
                    .matching
                    .iter()
                    .map(|(k, v)| (keys(k), v.clone()))
                    .collect(),
                path: keys(&element.path),
            },
            FieldValue::At { at } => FieldPlan::At {
                column: index(&at.column),
                index: at.index as usize,
                path: keys(&at.path),
            },
            FieldValue::ModifiedProperty {
                modified_property: m,
            } => FieldPlan::ModifiedProperty {
                column: index(&m.column),
                name: m.name.clone(),
                side: m.side.key(),
            },
            FieldValue::FirstOf { first_of } => FieldPlan::FirstOf(
                first_of
                    .iter()
                    .map(|v| FieldPlan::new(v, columns))
                    .collect(),
            ),
        }
    }

    /// The field's text in `record`, `None` when missing or empty.
    pub(crate) fn resolve<'a>(&self, record: &Record<'a, '_>) -> Option<Cow<'a, str>> {
        match self {
            FieldPlan::Plain { column } => record.column_text(*column),
            FieldPlan::Dynamic { column, path } => at_path(record.dynamic(*column)?, path)?.text(),
            FieldPlan::At {
                column,
                index,
                path,
            } => at_path(record.dynamic(*column)?.as_array()?.get(*index)?, path)?.text(),
            FieldPlan::Element {
                column,
                matching,
                path,
            } => {
                let element = record
                    .dynamic(*column)?
                    .as_array()?
                    .iter()
                    .find(|element| {
                        matching.iter().all(|(keys, wanted)| {
                            at_path(element, keys)
                                .and_then(Dynamic::text)
                                .is_some_and(|t| equal_ignoring_case(&t, wanted))
                        })
                    })?;
                at_path(element, path)?.text()
            }
            FieldPlan::ModifiedProperty { column, name, side } => {
                let entry = record
                    .dynamic(*column)?
                    .as_array()?
                    .iter()
                    .filter_map(|element| element.get("modifiedProperties")?.as_array())
                    .flatten()
                    .find(|entry| {
                        entry
                            .get("displayName")
                            .and_then(Dynamic::text)
                            .is_some_and(|t| equal_ignoring_case(&t, name))
                    })?;
                let unquoted = match entry.get(side)?.text()? {
                    Cow::Borrowed(text) => unquote(text),
                    Cow::Owned(text) => Cow::Owned(unquote(&text).into_owned()),
                };
                (!unquoted.is_empty()).then_some(unquoted)
            }
            FieldPlan::FirstOf(plans) => plans.iter().find_map(|p| p.resolve(record)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_is_what_tostring_gives() {
        assert_eq!(scalar_text(&json!(null)), None);
        assert_eq!(scalar_text(&json!("")), None);
        assert_eq!(scalar_text(&json!("<null>")), None);
        assert_eq!(scalar_text(&json!("x")).as_deref(), Some("x"));
        assert_eq!(scalar_text(&json!(3)).as_deref(), Some("3"));
        assert_eq!(scalar_text(&json!(true)).as_deref(), Some("true"));
        assert_eq!(
            scalar_text(&json!({"b": 1, "a": [1, "x"]})).as_deref(),
            Some(r#"{"b":1,"a":[1,"x"]}"#)
        );
    }

    #[test]
    fn modified_property_values_lose_their_json_quotes() {
        assert_eq!(unquote(r#""Global Administrator""#), "Global Administrator");
        assert_eq!(unquote(r#""say \"hi\"""#), r#"say "hi""#);
        assert_eq!(unquote(r#""""#), "");
        assert_eq!(unquote("plain"), "plain");
        // Not valid JSON: kept as it is, as KQL's parse_json leaves it.
        assert_eq!(unquote(r#""a"b""#), r#""a"b""#);
    }

    #[test]
    fn case_insensitive_equality_covers_unicode() {
        assert!(equal_ignoring_case("Role", "ROLE"));
        assert!(equal_ignoring_case("Ärger", "äRGER"));
        assert!(!equal_ignoring_case("Role", "Roles"));
        assert!(
            equal_ignoring_case("\u{212A}elvin", "kELVIN"),
            "the Kelvin sign folds to k"
        );
        assert!(!equal_ignoring_case("Ärger", "Arger"));
    }
}
