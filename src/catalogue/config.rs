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
    /// Lists that detections refer to (threshold tiers), by a lower-case name. Each target
    /// reads a list its own way (a Sentinel watchlist, a Splunk lookup, values inlined into the
    /// query), set in its entry under `targets:`.
    #[serde(default)]
    #[schemars(extend("propertyNames" = { "pattern": identifier::LOWER_NAME, "patternErrorMessage": identifier::LOWER_NAME_ADVICE }))]
    pub lists: IndexMap<String, ListConfig>,
    /// Each target's settings, one entry per target (its format is the target's).
    #[serde(default)]
    pub targets: TargetSections,
}

/// A list maintained by the SOC, such as its privileged accounts.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListConfig {
    /// What is on the list and why; it describes the Splunk lookup too.
    pub description: String,
    /// Values compiled into targets that cannot read a watchlist or lookup (Azure Monitor, Sigma).
    /// Compared case-insensitively.
    #[serde(default)]
    pub inline: Vec<String>,
}
