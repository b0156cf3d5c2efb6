//! `detections/rulecast.yaml`: settings that apply to the whole catalogue.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::sections::TargetSections;
use crate::identifier;

/// Catalogue-wide settings.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CatalogueConfig {
    /// Short machine name of the content pack, e.g. rulecast-pim.
    #[schemars(regex(pattern = identifier::KEY))]
    pub name: String,
    /// Human title of the content pack.
    pub title: String,
    /// Who publishes the content.
    pub publisher: String,
    /// Lists that detections refer to (threshold tiers, and `Field|expand: '%name%'` matches), by
    /// a lower-case name. A list is bound in every target that keeps lists in a store of its
    /// platform (a Sentinel watchlist and a Splunk lookup, in their entries under `targets:`), or
    /// in none: then its values are compiled into every query.
    #[serde(default)]
    #[schemars(extend("propertyNames" = { "pattern": identifier::LOWER_NAME, "patternErrorMessage": identifier::LOWER_NAME_ADVICE }))]
    pub lists: IndexMap<String, ListConfig>,
    /// Each target's settings, one entry per target (its format is the target's).
    #[serde(default)]
    pub targets: TargetSections,
}

/// A list maintained by the SOC, such as its privileged accounts or its Tier 0 roles.
///
/// The inline values are the list's one maintained copy: Azure Monitor and Sigma compile them
/// into the query, and rulecast writes them as the Splunk lookup file and the Sentinel
/// watchlist file, so one edit here changes every target.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListConfig {
    /// What is on the list and why; it describes the Splunk lookup too.
    pub description: String,
    /// The values, compared case-insensitively: a text, or `{ value, name }` to say what an
    /// identifier stands for (a role template id and the role's name). Targets that cannot read
    /// a watchlist or lookup (Azure Monitor, Sigma), and every target for a list no target
    /// binds, compile them into the query.
    #[serde(default)]
    pub inline: Vec<ListValue>,
}

/// One value of a list.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged, deny_unknown_fields)]
pub enum ListValue {
    Plain(String),
    Named {
        value: String,
        /// What the value stands for, e.g. Global Administrator; written beside the value in
        /// the Splunk lookup and the Sentinel watchlist.
        name: String,
    },
}

impl ListValue {
    pub fn value(&self) -> &str {
        match self {
            ListValue::Plain(v) | ListValue::Named { value: v, .. } => v,
        }
    }

    pub fn name(&self) -> Option<&str> {
        match self {
            ListValue::Plain(_) => None,
            ListValue::Named { name, .. } => Some(name),
        }
    }
}
