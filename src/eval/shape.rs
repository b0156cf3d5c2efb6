//! The shapes one event arrives in, compiled: where each column of a log source is.
//!
//! Sentinel and Azure Monitor read Log Analytics rows (`TargetResources` is a column); Splunk
//! reads the diagnostic record that a diagnostic setting streams to an Event Hub
//! (`properties.targetResources`); people download Graph pages and CSV files. A log source names
//! each column once; its `diagnostic:` paths and its `shapes:` section ([`crate::catalogue::shape`])
//! say where that column is in each of them. A [`ShapePlan`] is one of those descriptions with
//! its keys registered in the engine's key tree, so reading a record is a few slot lookups and
//! the detections downstream never know which shape the event came in.
//!
//! Every source has two shapes before its `shapes:`: the Log Analytics row (every column at its
//! own name: test cases are written so) and the diagnostic record at the `diagnostic:` paths
//! (what Splunk reads: `rulecast test` checks that both readings agree).

use std::collections::HashMap;

use indexmap::IndexMap;
use std::borrow::Cow;

#[cfg(test)]
use serde_json::Value;

use super::dynamic::Dynamic;
use super::key_tree::{Found, KeyTree, RawJson};
use super::record::plain_text;
use crate::catalogue::logsource::{ColumnType, LogSourceFile};
use crate::catalogue::shape::{
    ColumnPlace, InputKind, OtherColumns, Recognise, ShapeSpec, Template, TimeFormat, substitute,
};

/// One of a log source's shapes: an index into its [`ShapePlan`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Shape(pub usize);

impl Shape {
    /// A Log Analytics row: every column at its own name (`TimeGenerated`, `TargetResources`).
    pub(crate) const LOG_ANALYTICS: Shape = Shape(0);
    /// A diagnostic-setting record: each column at its `diagnostic` path (`time`,
    /// `properties.targetResources`), exactly as the Splunk searches read it.
    pub(crate) const DIAGNOSTIC: Shape = Shape(1);
    /// Where the shapes of the `shapes:` section start.
    pub(crate) const FIRST_DECLARED: usize = 2;
}

/// A key of a shape: its text and its slot path in the engine's key tree for its input.
#[derive(Debug, Clone)]
pub(crate) struct KeyPlace {
    pub keys: Vec<String>,
    slots: Vec<usize>,
}

impl KeyPlace {
    fn new(tree: &mut KeyTree, input: InputKind, key: &str) -> KeyPlace {
        let keys: Vec<String> = match input {
            InputKind::Json => path_keys(key).into_iter().map(str::to_owned).collect(),
            InputKind::Csv => vec![key.to_owned()],
        };
        let slots = tree.insert(&keys.iter().map(String::as_str).collect::<Vec<_>>());
        KeyPlace { keys, slots }
    }

    pub(crate) fn find<'a>(&self, tree: &KeyTree, found: &Found<'a>) -> Option<RawJson<'a>> {
        found.at(tree, &self.slots)
    }
}

/// How one column is read in a shape.
#[derive(Debug, Clone)]
pub(crate) enum ColumnRead {
    Absent,
    /// The first of the keys the record has (for a plain column, holding no object or array),
    /// its text then mapped when the shape writes the column's values differently.
    At {
        keys: Vec<KeyPlace>,
        values: Option<HashMap<String, String>>,
    },
    /// A dynamic column assembled from flat columns.
    Built(Built),
}

/// A [`Template`] with its list placeholders expanded and its keys registered.
#[derive(Debug, Clone)]
pub(crate) enum Built {
    Key(KeyPlace),
    Object {
        fields: Vec<(String, Built)>,
        when: Option<KeyPlace>,
    },
    List(Vec<Built>),
}

impl Built {
    fn new(
        tree: &mut KeyTree,
        input: InputKind,
        template: &Template,
        bound: &[(&str, u32)],
    ) -> Built {
        match template {
            Template::Key(key) => Built::Key(KeyPlace::new(tree, input, &substitute(key, bound))),
            Template::Object { object, when } => Built::Object {
                fields: object
                    .iter()
                    .map(|(name, t)| (name.clone(), Built::new(tree, input, t, bound)))
                    .collect(),
                when: when
                    .as_ref()
                    .map(|w| KeyPlace::new(tree, input, &substitute(w, bound))),
            },
            Template::List { list } => Built::List(
                (1..=list.count)
                    .map(|n| {
                        let mut inner = bound.to_vec();
                        inner.push((&list.index, n));
                        Built::new(tree, input, &list.item, &inner)
                    })
                    .collect(),
            ),
        }
    }

    /// The value in `found`; `None` when every flat column it reads is empty.
    fn value<'a>(&self, tree: &KeyTree, found: &Found<'a>) -> Option<Dynamic<'a>> {
        match self {
            Built::Key(place) => {
                let text = place.find(tree, found).and_then(plain_text)?;
                Some(Dynamic::String(text))
            }
            Built::Object { fields, when } => {
                if let Some(when) = when
                    && when.find(tree, found).and_then(plain_text).is_none()
                {
                    return None;
                }
                // The names are a template's, so no two are the same.
                let mut object = Vec::new();
                let mut any = false;
                for (name, built) in fields {
                    match built.value(tree, found) {
                        Some(value) => {
                            any |= !matches!(&value, Dynamic::Array(items, _) if items.is_empty());
                            object.push((Cow::Owned(name.clone()), value));
                        }
                        None if matches!(built, Built::List(_)) => {
                            object
                                .push((Cow::Owned(name.clone()), Dynamic::Array(Vec::new(), None)));
                        }
                        None => {}
                    }
                }
                any.then_some(Dynamic::Object(object, None))
            }
            Built::List(items) => {
                let items: Vec<Dynamic> =
                    items.iter().filter_map(|i| i.value(tree, found)).collect();
                (!items.is_empty()).then_some(Dynamic::Array(items, None))
            }
        }
    }

    /// The key names the built value makes up, appended to `out`.
    pub(crate) fn names<'b>(&'b self, out: &mut Vec<&'b str>) {
        match self {
            Built::Key(_) => {}
            Built::Object { fields, .. } => {
                for (name, built) in fields {
                    out.push(name);
                    built.names(out);
                }
            }
            Built::List(items) => {
                for item in items {
                    item.names(out);
                }
            }
        }
    }

    /// Where each part of `value` goes as flat columns: the inverse of [`Built::value`], for
    /// writing events in a CSV shape.
    #[cfg(test)]
    pub(crate) fn flatten(&self, value: &Value, out: &mut Vec<(String, String)>) {
        match (self, value) {
            (Built::Key(place), value) => {
                if let Some(text) = super::field::scalar_text(value) {
                    out.push((place.keys[0].clone(), text.into_owned()));
                }
            }
            (Built::Object { fields, .. }, Value::Object(object)) => {
                for (name, built) in fields {
                    if let Some(inner) = object.get(name) {
                        built.flatten(inner, out);
                    }
                }
            }
            (Built::List(items), Value::Array(values)) => {
                for (built, value) in items.iter().zip(values) {
                    built.flatten(value, out);
                }
            }
            _ => {}
        }
    }
}

/// What a record carries of a source's columns in one shape.
pub(crate) struct Located<'a> {
    pub raw: Vec<Option<RawJson<'a>>>,
    /// Built columns: (column, value).
    pub built: Vec<(usize, Dynamic<'a>)>,
}

impl Located<'_> {
    pub(crate) fn has(&self, column: usize) -> bool {
        self.raw[column].is_some() || self.built.iter().any(|(c, _)| *c == column)
    }

    /// How many columns the record has.
    pub(crate) fn count(&self) -> usize {
        self.raw.iter().filter(|r| r.is_some()).count() + self.built.len()
    }
}

/// One shape of one log source, ready to read records.
#[derive(Debug, Clone)]
pub(crate) struct ShapePlan {
    /// The name under `shapes:`; `log_analytics`/`diagnostic` for the two built-in readings.
    pub name: String,
    pub title: String,
    pub input: InputKind,
    pub time_format: TimeFormat,
    pub columns: Vec<ColumnRead>,
    /// Whether each column is plain (a string or datetime), whose keys never hold an object.
    plain: Vec<bool>,
    recognise_all: bool,
    recognise: Vec<KeyPlace>,
    /// The category key and the values that are this source's (compared ignoring case).
    pub category: Option<(KeyPlace, Vec<String>)>,
}

impl ShapePlan {
    /// The built-in reading of every column at its own name or at its diagnostic path.
    pub(crate) fn builtin(
        source: &LogSourceFile,
        tree: &mut KeyTree,
        other: OtherColumns,
    ) -> ShapePlan {
        let (name, title) = match other {
            OtherColumns::Diagnostic => ("diagnostic", "diagnostic-setting record"),
            _ => ("log_analytics", "Log Analytics row"),
        };
        let spec = ShapeSpec {
            title: title.to_owned(),
            description: None,
            input: InputKind::Json,
            recognise: Recognise::AnyOf { any_of: Vec::new() },
            category: None,
            time_format: TimeFormat::Iso8601,
            other_columns: other,
            columns: IndexMap::default(),
        };
        ShapePlan::new(source, name, &spec, tree)
    }

    /// Registers the keys of shape `spec` of `source` in `tree` (the tree of its input).
    /// Validation guarantees that the columns it names are declared.
    pub(crate) fn new(
        source: &LogSourceFile,
        name: &str,
        spec: &ShapeSpec,
        tree: &mut KeyTree,
    ) -> ShapePlan {
        let input = spec.input;
        let mut columns = Vec::new();
        for (column, declared) in &source.columns {
            let read = match spec.columns.get(column) {
                Some(ColumnPlace::Built { build }) => Built::new(tree, input, build, &[]).into(),
                Some(listed) => ColumnRead::At {
                    keys: listed
                        .keys()
                        .into_iter()
                        .map(|k| KeyPlace::new(tree, input, k))
                        .collect(),
                    values: match listed {
                        ColumnPlace::Mapped { values, .. } => Some(
                            values
                                .iter()
                                .map(|(from, to)| (from.clone(), to.clone()))
                                .collect(),
                        ),
                        _ => None,
                    },
                },
                None => match spec.other_columns {
                    OtherColumns::Absent => ColumnRead::Absent,
                    OtherColumns::ByName => ColumnRead::At {
                        keys: vec![KeyPlace::new(tree, input, column)],
                        values: None,
                    },
                    OtherColumns::Diagnostic => ColumnRead::At {
                        keys: vec![KeyPlace::new(tree, input, &declared.diagnostic)],
                        values: None,
                    },
                },
            };
            columns.push(read);
        }
        let mut place = |key: &str| KeyPlace::new(tree, input, key);
        let recognise = spec.recognise.keys().iter().map(|k| place(k)).collect();
        let category = spec.category.as_ref().map(|c| {
            let values = if c.values.is_empty() {
                vec![source.table.clone()]
            } else {
                c.values.clone()
            };
            (place(&c.key), values)
        });
        ShapePlan {
            name: name.to_owned(),
            title: spec.title.clone(),
            input,
            time_format: spec.time_format,
            columns,
            plain: source
                .columns
                .values()
                .map(|c| c.kind != ColumnType::Dynamic)
                .collect(),
            recognise_all: matches!(spec.recognise, Recognise::AllOf { .. }),
            recognise,
            category,
        }
    }

    /// The keys that recognise the shape, as a person reads them: `time and category`.
    pub(crate) fn recognition(&self) -> String {
        let keys: Vec<String> = self.recognise.iter().map(|k| k.keys.join(".")).collect();
        keys.join(if self.recognise_all { " and " } else { " or " })
    }

    /// Whether a record carries the keys of this shape.
    pub(crate) fn recognises(&self, tree: &KeyTree, found: &Found) -> bool {
        let has = |k: &KeyPlace| k.find(tree, found).is_some();
        if self.recognise_all {
            self.recognise.iter().all(has)
        } else {
            self.recognise.iter().any(has)
        }
    }

    /// The raw value of each column in `found`, and the built columns.
    pub(crate) fn locate<'a>(&self, tree: &KeyTree, found: &Found<'a>) -> Located<'a> {
        let mut built = Vec::new();
        let raw = self
            .columns
            .iter()
            .enumerate()
            .map(|(column, read)| match read {
                ColumnRead::Absent => None,
                ColumnRead::At { keys, .. } => {
                    let mut values = keys.iter().filter_map(|k| k.find(tree, found));
                    if keys.len() == 1 || !self.plain[column] {
                        return values.next();
                    }
                    let mut first = None;
                    for value in values {
                        if !value.get().starts_with(['{', '[']) {
                            return Some(value);
                        }
                        first.get_or_insert(value);
                    }
                    first
                }
                ColumnRead::Built(b) => {
                    if let Some(value) = b.value(tree, found) {
                        built.push((column, value));
                    }
                    None
                }
            })
            .collect();
        Located { raw, built }
    }

    /// The column's value as this shape writes it, turned into the Log Analytics value.
    pub(crate) fn map_value(&self, column: usize, text: &str) -> Option<&str> {
        match &self.columns[column] {
            ColumnRead::At {
                values: Some(values),
                ..
            } => values.get(text).map(String::as_str),
            _ => None,
        }
    }
}

impl From<Built> for ColumnRead {
    fn from(built: Built) -> ColumnRead {
        ColumnRead::Built(built)
    }
}

/// The keys of a dotted path. A key holding `:` is a claim URI
/// (`identity.claims.http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn`) whose own dots
/// are not separators, so it runs to the end of the path.
pub(crate) fn path_keys(path: &str) -> Vec<&str> {
    let mut keys = Vec::new();
    let mut rest = path;
    loop {
        match rest.find('.') {
            Some(i) if !rest[..i].contains(':') => {
                keys.push(&rest[..i]);
                rest = &rest[i + 1..];
            }
            _ => {
                keys.push(rest);
                return keys;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_uris_keep_their_dots() {
        assert_eq!(
            path_keys("properties.targetResources"),
            ["properties", "targetResources"]
        );
        assert_eq!(path_keys("time"), ["time"]);
        assert_eq!(
            path_keys("identity.claims.http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"),
            [
                "identity",
                "claims",
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"
            ]
        );
    }
}
