//! `detections/rulecast.yaml`: settings that apply to the whole catalogue.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Catalogue-wide settings.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CatalogueConfig {
    /// Short machine name of the content pack, e.g. rulecast-pim.
    #[schemars(regex(pattern = r"^[a-z][a-z0-9-]*$"))]
    pub name: String,
    /// Human title of the content pack.
    pub title: String,
    /// Who publishes the content.
    pub publisher: String,
    /// Lists that detections refer to: threshold tiers, and `Field|expand: '%name%'` matches.
    /// Each target reads a list its own way: a Sentinel watchlist, a Splunk lookup, or values
    /// inlined into the query.
    #[serde(default)]
    pub lists: IndexMap<String, ListConfig>,
    pub splunk: SplunkConfig,
    #[serde(default)]
    pub sentinel: SentinelConfig,
}

/// A list maintained by the SOC, such as its privileged accounts or its Tier 0 roles.
///
/// The inline values are the list's one maintained copy: Azure Monitor and Sigma compile them
/// into the query, and rulecast writes them as the Splunk lookup file and the Sentinel
/// watchlist file, so one edit here changes every target.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListConfig {
    pub description: String,
    /// Sentinel watchlist holding the list. Without it, Sentinel queries inline the values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentinel_watchlist: Option<WatchlistConfig>,
    /// Splunk lookup holding the list. Without it, Splunk searches inline the values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub splunk_lookup: Option<LookupConfig>,
    /// The values, compared case-insensitively: a text, or `{ value, name }` to say what an
    /// identifier stands for (a role template id and the role's name).
    #[serde(default)]
    pub inline: Vec<ListValue>,
}

/// One value of a list.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
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

impl ListConfig {
    /// Whether every target reads the values from the query text (no watchlist, no lookup):
    /// the only form a substring match over a list can take.
    pub fn is_inline_only(&self) -> bool {
        self.sentinel_watchlist.is_none() && self.splunk_lookup.is_none()
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WatchlistConfig {
    /// Watchlist alias, as passed to _GetWatchlist().
    #[schemars(regex(pattern = r"^[A-Za-z0-9_-]+$"))]
    pub alias: String,
    /// Column of the watchlist that holds the value (SearchKey is the watchlist's search key).
    #[schemars(regex(pattern = r"^[A-Za-z_][A-Za-z0-9_]*$"))]
    pub column: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LookupConfig {
    /// Lookup definition name (transforms.conf stanza); the CSV file is <name>.csv.
    #[schemars(regex(pattern = r"^[a-z][a-z0-9_]*$"))]
    pub name: String,
    /// CSV column holding the value.
    #[schemars(regex(pattern = r"^[a-z][a-z0-9_]*$"))]
    pub field: String,
}

/// Splunk app settings.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SplunkConfig {
    /// App id (folder name and [package] id).
    #[schemars(regex(pattern = r"^[a-z][a-z0-9_]*$"))]
    pub app_id: String,
    /// Label shown in Splunk Web.
    pub app_label: String,
    /// Roles allowed to write the app's objects.
    #[serde(default = "default_write_roles")]
    pub write_roles: Vec<String>,
}

fn default_write_roles() -> Vec<String> {
    vec!["admin".to_owned(), "sc_admin".to_owned()]
}

/// Sentinel settings.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SentinelConfig {
    /// Create an incident for every alert.
    #[serde(default = "yes")]
    pub create_incident: bool,
}

fn yes() -> bool {
    true
}
