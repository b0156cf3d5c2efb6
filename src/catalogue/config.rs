//! `detections/rulecast.yaml`: settings that apply to the whole catalogue.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::names;

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
    /// Lists that detections refer to (threshold tiers), by a lower-case name. Each target
    /// reads a list its own way: a Sentinel watchlist, a Splunk lookup, or values inlined into
    /// the query.
    #[serde(default)]
    #[schemars(extend("propertyNames" = { "pattern": names::LOWER_NAME, "patternErrorMessage": names::LOWER_NAME_ADVICE }))]
    pub lists: IndexMap<String, ListConfig>,
    pub splunk: SplunkConfig,
    #[serde(default)]
    pub sentinel: SentinelConfig,
}

/// A list maintained by the SOC, such as its privileged accounts.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListConfig {
    pub description: String,
    /// Sentinel watchlist holding the list.
    pub sentinel_watchlist: WatchlistConfig,
    /// Splunk lookup holding the list.
    pub splunk_lookup: LookupConfig,
    /// Values compiled into targets that cannot read a watchlist or lookup (Azure Monitor, Sigma).
    /// Compared case-insensitively.
    #[serde(default)]
    pub inline: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WatchlistConfig {
    /// Watchlist alias, as passed to _GetWatchlist().
    #[schemars(regex(pattern = r"^[A-Za-z0-9_-]+$"))]
    pub alias: String,
    /// Column of the watchlist that holds the value (SearchKey is the watchlist's search key).
    #[schemars(regex(pattern = names::IDENTIFIER))]
    #[schemars(extend("patternErrorMessage" = names::IDENTIFIER_ADVICE))]
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
    #[schemars(extend("items" = { "type": "string", "pattern": names::SPLUNK_ROLE, "patternErrorMessage": names::SPLUNK_ROLE_ADVICE }))]
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
