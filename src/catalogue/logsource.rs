//! Log sources: the tables detections read, and how each field is reached in each target.
//!
//! A detection names fields such as `Actor` or `RoleName`. A log source says what those fields
//! are, once: which raw column holds them and how to extract them when they sit inside JSON
//! (the role of a PIM event is the `TargetResources` element whose `type` is `Role`). Every
//! target compiles the same description (a KQL `mv-apply`, an SPL `spath`/`mvfind`, the
//! evaluator's own lookup), so a field cannot mean one thing in Sentinel and another in Splunk.
//!
//! Raw columns are named as in the Log Analytics table and carry their path in the diagnostic
//! record (the Event Hub shape that Splunk's `azure:monitor:aad` receives).

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::names;

/// A log source file in detections/logsources/.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogSourceFile {
    /// Name detections use in `logsource:`; the file is named after it.
    #[schemars(regex(pattern = r"^[a-z][a-z0-9_]*$"))]
    pub id: String,
    pub title: String,
    /// What the data is, how it reaches each SIEM, and its known gaps.
    pub description: String,
    pub kql: KqlSource,
    pub splunk: SplunkSource,
    pub sigma: SigmaSource,
    /// Raw columns of the Log Analytics table that fields are built from, by their name in the
    /// table.
    #[schemars(extend("propertyNames" = { "pattern": names::IDENTIFIER, "patternErrorMessage": names::IDENTIFIER_ADVICE }))]
    pub columns: IndexMap<String, Column>,
    /// The column that identifies one event (e.g. Id), shown with the events behind an alert
    /// by `rulecast scan`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// The fields detections may use.
    pub fields: IndexMap<String, Field>,
}

/// Where the data lives in Log Analytics (Sentinel, Azure Monitor).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KqlSource {
    #[schemars(regex(pattern = names::IDENTIFIER))]
    #[schemars(extend("patternErrorMessage" = names::IDENTIFIER_ADVICE))]
    pub table: String,
    /// Sentinel data connector that fills the table.
    pub connector: String,
    /// The time column.
    pub time_column: String,
}

/// Where the data lives in Splunk.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SplunkSource {
    /// Name of the overridable source macro, e.g. rulecast_entra_auditlogs.
    #[schemars(regex(pattern = r"^[a-z][a-z0-9_]*$"))]
    pub macro_name: String,
    /// Default definition of the source macro.
    pub search: String,
    pub sourcetype: String,
    /// The time field in the diagnostic record, used when replaying events.
    #[schemars(regex(pattern = names::RECORD_PATH))]
    #[schemars(extend("patternErrorMessage" = names::RECORD_PATH_ADVICE))]
    pub time_path: String,
}

/// The Sigma logsource of rules on this data.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SigmaSource {
    /// Sigma product, e.g. azure. It also names the rule files (`<product>_<name>.yml`).
    #[schemars(regex(pattern = r"^[a-z0-9][a-z0-9_-]*$"))]
    #[schemars(extend("patternErrorMessage" = "a Sigma product is a lower-case name such as azure or m365 (letters, digits, _ and -)"))]
    pub product: String,
    #[schemars(regex(pattern = names::SIGMA_NAME))]
    #[schemars(extend("patternErrorMessage" = "a Sigma service is a lower-case name such as auditlogs (letters, digits, _ and -)"))]
    pub service: String,
}

/// A raw column.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Column {
    #[serde(rename = "type")]
    pub kind: ColumnType,
    /// Dotted path of the same data in the diagnostic record, e.g. properties.targetResources.
    #[schemars(regex(pattern = names::RECORD_PATH))]
    #[schemars(extend("patternErrorMessage" = names::RECORD_PATH_ADVICE))]
    pub diagnostic: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    String,
    Datetime,
    Dynamic,
}

/// A field detections use.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Field {
    pub description: String,
    /// How the value is found in an event.
    pub value: FieldValue,
    /// Field name in Sigma rules (default: the field's own name). The shipped pySigma pipelines
    /// map it back to each backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = names::SIGMA_FIELD))]
    #[schemars(extend("patternErrorMessage" = names::SIGMA_FIELD_ADVICE))]
    pub sigma: Option<String>,
}

/// How a field's value is found. Exactly one form per value.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged, deny_unknown_fields)]
pub enum FieldValue {
    /// A column, or a path inside a dynamic column: `{ column: InitiatedBy, path: user.id }`.
    Column {
        column: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(regex(pattern = names::RECORD_PATH))]
        #[schemars(extend("patternErrorMessage" = names::RECORD_PATH_ADVICE))]
        path: Option<String>,
    },
    /// The first element of an array column whose keys match `where` (case-insensitively),
    /// then `path` inside it.
    Element { element: ElementLookup },
    /// The element at a fixed position of an array column, then `path` inside it.
    At { at: IndexLookup },
    /// The old or new value of a named entry in the `modifiedProperties` of any element of an
    /// array column, with its JSON quoting removed.
    ModifiedProperty {
        modified_property: ModifiedPropertyLookup,
    },
    /// A whole column serialised as JSON text, for substring matches.
    Text { text: String },
    /// The first of several values that is present and not empty.
    FirstOf { first_of: Vec<FieldValue> },
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ElementLookup {
    pub column: String,
    /// Keys the element must have, compared case-insensitively, e.g. { type: Role }.
    #[schemars(length(min = 1))]
    #[schemars(extend("propertyNames" = { "pattern": names::RECORD_PATH, "patternErrorMessage": names::RECORD_PATH_ADVICE }))]
    #[serde(rename = "where")]
    pub matching: IndexMap<String, String>,
    #[schemars(regex(pattern = names::RECORD_PATH))]
    #[schemars(extend("patternErrorMessage" = names::RECORD_PATH_ADVICE))]
    pub path: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IndexLookup {
    pub column: String,
    pub index: u32,
    #[schemars(regex(pattern = names::RECORD_PATH))]
    #[schemars(extend("patternErrorMessage" = names::RECORD_PATH_ADVICE))]
    pub path: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModifiedPropertyLookup {
    pub column: String,
    /// The property's displayName, e.g. Role.DisplayName.
    pub name: String,
    pub side: Side,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Old,
    New,
}

impl Side {
    pub fn key(self) -> &'static str {
        match self {
            Side::Old => "oldValue",
            Side::New => "newValue",
        }
    }
}

impl FieldValue {
    /// Every raw column this value reads.
    pub fn columns(&self) -> Vec<&str> {
        match self {
            FieldValue::Column { column, .. } => vec![column],
            FieldValue::Element { element } => vec![&element.column],
            FieldValue::At { at } => vec![&at.column],
            FieldValue::ModifiedProperty { modified_property } => vec![&modified_property.column],
            FieldValue::Text { text } => vec![text],
            FieldValue::FirstOf { first_of } => {
                first_of.iter().flat_map(FieldValue::columns).collect()
            }
        }
    }

    /// True when the value is a plain column, usable as is in every target.
    pub fn as_plain_column(&self) -> Option<&str> {
        match self {
            FieldValue::Column { column, path: None } => Some(column),
            _ => None,
        }
    }
}

impl LogSourceFile {
    /// Field name used in Sigma rules.
    pub fn sigma_name<'a>(&'a self, field: &'a str) -> &'a str {
        self.fields
            .get(field)
            .and_then(|f| f.sigma.as_deref())
            .unwrap_or(field)
    }
}
