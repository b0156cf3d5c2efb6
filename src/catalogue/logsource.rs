//! Log sources: the tables detections read, and how each field is reached in each target.
//!
//! A detection names fields such as `Actor` or `RoleName`. A log source says what those fields
//! are, once: which raw column holds them and how to extract them when they sit inside JSON
//! (the role of a PIM event is the `TargetResources` element whose `type` is `Role`). Every
//! target compiles the same description (a KQL `mv-apply`, an SPL `spath`/`mvfind`, the
//! evaluator's own lookup), so a field cannot mean one thing in Sentinel and another in Splunk.
//!
//! Raw columns are named as in the Log Analytics table and carry their path in the diagnostic
//! record (the Event Hub shape that Splunk's `azure:monitor:aad` receives). Where they are in
//! the other exports `rulecast scan` reads is under `shapes:` ([`super::shape`]). What only one
//! target needs (the Splunk source macro, the Sentinel data connector, the Sigma logsource and
//! field names) is in that target's entry under `targets:`.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::sections::TargetSections;
use super::shape::ShapeSpec;
use crate::identifier;

/// A log source file in detections/logsources/.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogSourceFile {
    /// Name detections use in `logsource:`; the file is named after it.
    #[schemars(regex(pattern = identifier::LOWER_NAME))]
    pub id: String,
    /// Human name of the data, e.g. Microsoft Entra audit logs.
    pub title: String,
    /// What the data is, how it reaches each SIEM, and its known gaps.
    pub description: String,
    /// The Log Analytics table of the rows (Sentinel and Azure Monitor query it; an exported
    /// row names it in its `Type` column).
    #[schemars(regex(pattern = identifier::IDENTIFIER))]
    #[schemars(extend("patternErrorMessage" = identifier::IDENTIFIER_ADVICE))]
    pub table: String,
    /// The time column, which orders events and places them in threshold windows.
    pub time_column: String,
    /// Raw columns of the Log Analytics table that fields are built from, by their name in the
    /// table.
    #[schemars(extend("propertyNames" = { "pattern": identifier::IDENTIFIER, "patternErrorMessage": identifier::IDENTIFIER_ADVICE }))]
    pub columns: IndexMap<String, Column>,
    /// The column that identifies one event (e.g. Id), shown with the events behind an alert
    /// by `rulecast scan`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// The fields detections may use.
    pub fields: IndexMap<String, Field>,
    /// Where the columns are in each export `rulecast scan` reads, by shape name
    /// ([`super::shape`]).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    #[schemars(extend("propertyNames" = { "pattern": identifier::LOWER_NAME, "patternErrorMessage": identifier::SHAPE_NAME_ADVICE }))]
    pub shapes: IndexMap<String, ShapeSpec>,
    /// How each target reaches this data, one entry per target (its format is the target's).
    pub targets: TargetSections,
}

/// A raw column.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Column {
    /// The column's Log Analytics type.
    #[serde(rename = "type")]
    pub kind: ColumnType,
    /// Dotted path of the same data in the diagnostic record, e.g. properties.targetResources.
    #[schemars(regex(pattern = identifier::RECORD_PATH))]
    #[schemars(extend("patternErrorMessage" = identifier::RECORD_PATH_ADVICE))]
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
    /// What the field holds, for detection authors.
    pub description: String,
    /// How the value is found in an event.
    pub value: FieldValue,
    /// For a field that names a principal (who did it, whom it was about): the fields of this
    /// log source that hold the principal's identifiers, by the kind of principal it can be.
    /// A detection whose entity is this field reports them too, so each target can name the
    /// principal by a strong identifier (Sentinel: Account by AadUserId and by Name and
    /// UPNSuffix, SecurityGroup, CloudApplication) rather than by a display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifies: Option<Identities>,
}

/// The identifier fields of a principal, by kind. A field left out is one the log does not
/// carry; an event fills the kind it is (a user, or an app) and leaves the others empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Identities {
    /// When the principal is a user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<UserIdentity>,
    /// When the principal is, or the event concerns, a group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<GroupIdentity>,
    /// When the principal is an application (a service principal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application: Option<ApplicationIdentity>,
}

/// The identifier fields of a user.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserIdentity {
    /// The field of the user principal name (alice@contoso.com).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upn: Option<String>,
    /// The field of the user's Microsoft Entra object id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_id: Option<String>,
}

/// The identifier fields of a group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupIdentity {
    /// The field of the group's Microsoft Entra object id.
    pub object_id: String,
    /// The field of the group's display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The identifier fields of an application.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationIdentity {
    /// The field of the application (client) id, the same in every tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    /// The field of the application's display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The field of the service principal's object id in the tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_id: Option<String>,
}

impl Identities {
    /// Every identifier field, with where it is written (below `identifies`), in a fixed order.
    pub fn fields(&self) -> Vec<(&'static str, &str)> {
        let mut out = Vec::new();
        if let Some(user) = &self.user {
            out.extend(user.upn.as_deref().map(|f| ("user/upn", f)));
            out.extend(user.object_id.as_deref().map(|f| ("user/object_id", f)));
        }
        if let Some(group) = &self.group {
            out.push(("group/object_id", group.object_id.as_str()));
            out.extend(group.name.as_deref().map(|f| ("group/name", f)));
        }
        if let Some(app) = &self.application {
            out.extend(app.app_id.as_deref().map(|f| ("application/app_id", f)));
            out.extend(app.name.as_deref().map(|f| ("application/name", f)));
            out.extend(
                app.object_id
                    .as_deref()
                    .map(|f| ("application/object_id", f)),
            );
        }
        out
    }
}

/// How a field's value is found. Exactly one form per value.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged, deny_unknown_fields)]
pub enum FieldValue {
    /// A column, or a path inside a dynamic column: `{ column: InitiatedBy, path: user.id }`.
    Column {
        column: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(regex(pattern = identifier::RECORD_PATH))]
        #[schemars(extend("patternErrorMessage" = identifier::RECORD_PATH_ADVICE))]
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
    /// The array column.
    pub column: String,
    /// Keys the element must have, compared case-insensitively, e.g. { type: Role }.
    #[schemars(length(min = 1))]
    #[schemars(extend("propertyNames" = { "pattern": identifier::RECORD_PATH, "patternErrorMessage": identifier::RECORD_PATH_ADVICE }))]
    #[serde(rename = "where")]
    pub matching: IndexMap<String, String>,
    /// Dotted path of the value inside the element.
    #[schemars(regex(pattern = identifier::RECORD_PATH))]
    #[schemars(extend("patternErrorMessage" = identifier::RECORD_PATH_ADVICE))]
    pub path: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IndexLookup {
    /// The array column.
    pub column: String,
    /// Position of the element, from 0.
    pub index: u32,
    /// Dotted path of the value inside the element.
    #[schemars(regex(pattern = identifier::RECORD_PATH))]
    #[schemars(extend("patternErrorMessage" = identifier::RECORD_PATH_ADVICE))]
    pub path: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModifiedPropertyLookup {
    /// The array column whose elements hold `modifiedProperties`.
    pub column: String,
    /// The property's displayName, e.g. Role.DisplayName.
    pub name: String,
    /// The value before (old) or after (new) the change.
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
