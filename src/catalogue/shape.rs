//! Input shapes: where the columns of a log source live in each export a user really has.
//!
//! The columns of a log source are named as in its Log Analytics table, and its fields (what
//! detections read) are built from those columns, once. An export is only another place the
//! same columns sit: `ActivityDisplayName` is `activityDisplayName` in a Microsoft Graph
//! directoryAudit, `properties.activityDisplayName` in a diagnostic record, the header
//! `Activity` in the Entra admin center's CSV download. So a shape is a description of those
//! places, never a second copy of the detection logic: `rulecast scan` reads a record through
//! its shape into the columns, and everything after that is shared.
//!
//! A shape also says how its records are recognised (keys they carry), which key names their
//! log category (a diagnostic record's `category`, a row's `Type`) so that records of other
//! categories (sign-ins in an Event Hub export) are counted and skipped by name, and how its
//! times are written.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::LogSourceFile;
use super::logsource::ColumnType;
use crate::diagnostic::{Diagnostics, did_you_mean};
use crate::identifier;
use crate::yaml::{Document, pointer_segment};

/// One input shape of a log source, under `shapes.<name>`. Shapes of the same name in several
/// log sources are one shape of the input (the Log Analytics row of every table), and must
/// agree on their title and input.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShapeSpec {
    /// What the shape is, as the scan summary names it: "Microsoft Graph directoryAudit".
    pub title: String,
    /// Where such files come from and what is known (or not verified) about them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON records (lines, arrays, wrappers) or CSV rows (a header row names the columns).
    #[serde(default)]
    pub input: InputKind,
    /// The keys a record of this shape carries.
    pub recognise: Recognise,
    /// The key whose value names the record's log category or table. A record of this shape
    /// whose category no log source reads is counted and skipped under that name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<CategoryKey>,
    /// How the time column is written.
    #[serde(default)]
    pub time_format: TimeFormat,
    /// Where the columns not listed under `columns` are.
    #[serde(default)]
    pub other_columns: OtherColumns,
    /// Where a column is, by column name.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    #[schemars(extend("propertyNames" = { "pattern": identifier::IDENTIFIER, "patternErrorMessage": identifier::IDENTIFIER_ADVICE }))]
    pub columns: IndexMap<String, ColumnPlace>,
}

impl ShapeSpec {
    /// Every key the shape reads, with the JSON pointer (below `at`, the shape's own) where it
    /// is written; a built column's keys with their placeholders replaced, at the column.
    fn keys(&self, at: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        match &self.recognise {
            Recognise::AllOf { all_of } => {
                list_keys(&mut out, &format!("{at}/recognise/all_of"), all_of);
            }
            Recognise::AnyOf { any_of } => {
                list_keys(&mut out, &format!("{at}/recognise/any_of"), any_of);
            }
        }
        if let Some(category) = &self.category {
            out.push((format!("{at}/category/key"), category.key.clone()));
        }
        for (column, place) in &self.columns {
            let pointer = format!("{at}/columns/{}", pointer_segment(column));
            match place {
                ColumnPlace::Key(key) => out.push((pointer, key.clone())),
                ColumnPlace::FirstOf(keys) => list_keys(&mut out, &pointer, keys),
                ColumnPlace::Mapped {
                    key: KeyOrKeys::One(key),
                    ..
                } => out.push((format!("{pointer}/key"), key.clone())),
                ColumnPlace::Mapped {
                    key: KeyOrKeys::FirstOf(keys),
                    ..
                } => list_keys(&mut out, &format!("{pointer}/key"), keys),
                ColumnPlace::Built { build } => {
                    let pointer = format!("{pointer}/build");
                    out.extend(build.keys().into_iter().map(|key| (pointer.clone(), key)));
                }
            }
        }
        out
    }
}

fn list_keys(out: &mut Vec<(String, String)>, pointer: &str, keys: &[String]) {
    for (i, key) in keys.iter().enumerate() {
        out.push((format!("{pointer}/{i}"), key.clone()));
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum InputKind {
    /// JSON objects: one per line, in arrays, or in `value`/`records`/`tables` wrappers.
    #[default]
    Json,
    /// CSV rows under a header row; a key is a whole header name.
    Csv,
}

/// Keys (dotted paths; whole header names in CSV) a record must carry to be of the shape.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged, deny_unknown_fields)]
pub enum Recognise {
    /// Every one of the keys.
    AllOf {
        #[schemars(length(min = 1))]
        #[schemars(extend("items" = { "type": "string", "pattern": identifier::SHAPE_KEY, "patternErrorMessage": identifier::SHAPE_KEY_ADVICE }))]
        all_of: Vec<String>,
    },
    /// At least one of the keys.
    AnyOf {
        #[schemars(length(min = 1))]
        #[schemars(extend("items" = { "type": "string", "pattern": identifier::SHAPE_KEY, "patternErrorMessage": identifier::SHAPE_KEY_ADVICE }))]
        any_of: Vec<String>,
    },
}

impl Recognise {
    pub fn keys(&self) -> &[String] {
        match self {
            Recognise::AllOf { all_of } => all_of,
            Recognise::AnyOf { any_of } => any_of,
        }
    }
}

/// The key naming a record's category, and the values that are this log source's.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryKey {
    #[schemars(regex(pattern = identifier::SHAPE_KEY))]
    #[schemars(extend("patternErrorMessage" = identifier::SHAPE_KEY_ADVICE))]
    pub key: String,
    /// Compared case-insensitively. Empty: the log source's Log Analytics table.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TimeFormat {
    /// ISO 8601: `2025-04-01T08:10:00.0079190Z`, `2024-12-16 16:32:16.087554000`, offsets.
    #[default]
    Iso8601,
    /// The Log Analytics portal's "Export to CSV": `4/28/2021, 2:32:14.029 PM` (in UTC under a
    /// `[UTC]` header); ISO 8601 is accepted too.
    LogAnalyticsExport,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OtherColumns {
    /// Not in this shape.
    #[default]
    Absent,
    /// At a key of the column's own name (a Log Analytics row).
    ByName,
    /// At the column's `diagnostic` path (a diagnostic-setting record).
    Diagnostic,
}

/// Where one column is in a record of the shape.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged, deny_unknown_fields)]
pub enum ColumnPlace {
    /// One key (dotted path in JSON; a whole header name in CSV).
    Key(
        #[schemars(regex(pattern = identifier::SHAPE_KEY))]
        #[schemars(extend("patternErrorMessage" = identifier::SHAPE_KEY_ADVICE))]
        String,
    ),
    /// The first of these keys the record has. For a string column, a key holding an object
    /// or array is passed over (`operationName` written as `{"value": ...}`).
    FirstOf(
        #[schemars(extend("items" = { "type": "string", "pattern": identifier::SHAPE_KEY, "patternErrorMessage": identifier::SHAPE_KEY_ADVICE }))]
         Vec<String>,
    ),
    /// A key (or the first of several) whose values are written differently from the Log
    /// Analytics column, with the column's value for each (others are kept as they are).
    Mapped {
        key: KeyOrKeys,
        values: IndexMap<String, String>,
    },
    /// A dynamic column assembled from flattened columns (CSV downloads).
    Built { build: Template },
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum KeyOrKeys {
    One(
        #[schemars(regex(pattern = identifier::SHAPE_KEY))]
        #[schemars(extend("patternErrorMessage" = identifier::SHAPE_KEY_ADVICE))]
        String,
    ),
    FirstOf(
        #[schemars(extend("items" = { "type": "string", "pattern": identifier::SHAPE_KEY, "patternErrorMessage": identifier::SHAPE_KEY_ADVICE }))]
         Vec<String>,
    ),
}

impl KeyOrKeys {
    pub fn keys(&self) -> Vec<&str> {
        match self {
            KeyOrKeys::One(key) => vec![key],
            KeyOrKeys::FirstOf(keys) => keys.iter().map(String::as_str).collect(),
        }
    }
}

impl ColumnPlace {
    /// The keys a column is read from, in order; none for a built column.
    pub fn keys(&self) -> Vec<&str> {
        match self {
            ColumnPlace::Key(key) => vec![key],
            ColumnPlace::FirstOf(keys) => keys.iter().map(String::as_str).collect(),
            ColumnPlace::Mapped { key, .. } => key.keys(),
            ColumnPlace::Built { .. } => Vec::new(),
        }
    }
}

/// How a JSON value is assembled from flat columns.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged, deny_unknown_fields)]
pub enum Template {
    /// The text of a flat column (a header name, with list placeholders such as `{t}`).
    Key(
        #[schemars(regex(pattern = identifier::SHAPE_TEMPLATE_KEY))]
        #[schemars(extend("patternErrorMessage" = identifier::SHAPE_TEMPLATE_KEY_ADVICE))]
        String,
    ),
    /// An object of templates; left out when all its values are empty, or when its `when`
    /// column is.
    Object {
        #[schemars(extend("propertyNames" = { "pattern": identifier::IDENTIFIER, "patternErrorMessage": "use letters, digits and _, not starting with a digit: the key is one of the built JSON value, which the fields' paths read" }))]
        object: IndexMap<String, Template>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(regex(pattern = identifier::SHAPE_TEMPLATE_KEY))]
        #[schemars(extend("patternErrorMessage" = identifier::SHAPE_TEMPLATE_KEY_ADVICE))]
        when: Option<String>,
    },
    /// A list of `count` items, the placeholder replaced by 1, 2, ...; empty items are left out.
    List { list: Box<ListTemplate> },
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListTemplate {
    /// The placeholder in the item's keys, e.g. `{t}`.
    #[schemars(regex(pattern = r"^\{[a-z]+\}$"))]
    pub index: String,
    /// How many items the export writes (Target1..Target3).
    #[schemars(range(min = 1, max = 100))]
    pub count: u32,
    pub item: Template,
}

impl Template {
    /// Every key the template reads, with placeholders replaced.
    pub fn keys(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.collect_keys(&[], &mut out);
        out
    }

    fn collect_keys(&self, bound: &[(&str, u32)], out: &mut Vec<String>) {
        match self {
            Template::Key(key) => out.push(substitute(key, bound)),
            Template::Object { object, when } => {
                if let Some(when) = when {
                    out.push(substitute(when, bound));
                }
                for template in object.values() {
                    template.collect_keys(bound, out);
                }
            }
            Template::List { list } => {
                for n in 1..=list.count {
                    let mut inner = bound.to_vec();
                    inner.push((&list.index, n));
                    list.item.collect_keys(&inner, out);
                }
            }
        }
    }
}

/// `key` with each bound placeholder replaced by its number.
pub fn substitute(key: &str, bound: &[(&str, u32)]) -> String {
    bound.iter().fold(key.to_owned(), |key, (placeholder, n)| {
        key.replace(placeholder, &n.to_string())
    })
}

/// Checks what the schema cannot: the columns a shape names are declared, value maps are on
/// plain columns and built values on dynamic ones, and every shape says where the time is.
pub(super) fn check(source: &LogSourceFile, doc: &Document, out: &mut Diagnostics) {
    for (name, shape) in &source.shapes {
        let at = format!("/shapes/{}", pointer_segment(name));
        for (column, place) in &shape.columns {
            let pointer = format!("{at}/columns/{}", pointer_segment(column));
            let Some(declared) = source.columns.get(column) else {
                let help = did_you_mean(column, source.columns.keys().map(String::as_str))
                    .map(|c| format!("did you mean `{c}`?"))
                    .unwrap_or_else(|| {
                        "a shape places the columns declared under `columns:`".to_owned()
                    });
                out.push(
                    doc.error_at_key(&pointer, format!("unknown column `{column}`"))
                        .with_help(help),
                );
                continue;
            };
            let dynamic = declared.kind == ColumnType::Dynamic;
            match place {
                ColumnPlace::Mapped { .. } if dynamic => out.push(doc.error_at(
                    &pointer,
                    format!("column `{column}` is dynamic: its values cannot be mapped as text"),
                )),
                ColumnPlace::Built { .. } if !dynamic => out.push(doc.error_at(
                    &pointer,
                    format!(
                        "column `{column}` is not dynamic, so it cannot be built from flat columns"
                    ),
                )),
                _ => {}
            }
        }
        if shape.input == InputKind::Json {
            for (pointer, key) in shape.keys(&at) {
                if !identifier::is_record_path(&key) {
                    out.push(
                        doc.error_at(&pointer, format!("`{key}` is not a path into a JSON record"))
                            .with_help("a JSON shape reads dotted paths: write dot-separated keys of letters, digits and _ - : / @ $ (e.g. properties.result); header names with spaces or brackets are for `input: csv`"),
                    );
                }
            }
        }
        let time = &source.time_column;
        if shape.other_columns == OtherColumns::Absent && !shape.columns.contains_key(time) {
            out.push(
                doc.error_at_key(
                    &at,
                    format!("shape `{name}` does not say where the time column `{time}` is"),
                )
                .with_help(format!("add `{time}: <key>` under its `columns:`")),
            );
        }
    }
}

/// Shapes of one name in several log sources are one shape of the input: their title and
/// input must agree, or the scan summary would name one shape two ways.
pub(super) fn check_across(sources: &[(&LogSourceFile, &Document)], out: &mut Diagnostics) {
    let mut first: IndexMap<&str, (&ShapeSpec, &str)> = IndexMap::new();
    for (source, doc) in sources {
        for (name, shape) in &source.shapes {
            match first.get(name.as_str()) {
                None => {
                    first.insert(name, (shape, &source.id));
                }
                Some((other, other_source))
                    if other.title != shape.title || other.input != shape.input =>
                {
                    out.push(
                        doc.error_at(
                            &format!("/shapes/{}/title", pointer_segment(name)),
                            format!(
                                "shape `{name}` has another title or input than in log source `{other_source}` (\"{}\")",
                                other.title
                            ),
                        )
                        .with_help("a shape of one name is one shape of the input: give it the same title and input, or another name"),
                    );
                }
                Some(_) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_templates_expand_their_placeholders() {
        let template: Template = serde_saphyr::from_str(
            "list: { index: '{t}', count: 2, item: { object: { type: 'Target{t}Type', props: { list: { index: '{p}', count: 2, item: 'T{t}P{p}' } } } } }",
        )
        .unwrap();
        assert_eq!(
            template.keys(),
            ["Target1Type", "T1P1", "T1P2", "Target2Type", "T2P1", "T2P2"]
        );
    }
}
