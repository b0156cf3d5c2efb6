//! `detections/rulecast.yaml`: settings that apply to the whole catalogue.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::duration::Duration;
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
    /// Defaults of every detection's schedule.
    #[serde(default)]
    pub schedule: ScheduleDefaults,
    /// Exclusions for every detection whose log source has the field (or only the detections
    /// an exclusion names), such as a service account no detection should alert on. Each is
    /// compiled into every target like a detection's own `exclusions:`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclusions: Vec<super::exclusion::CatalogueExclusion>,
    /// Each target's settings, one entry per target (its format is the target's).
    #[serde(default)]
    pub targets: TargetSections,
    /// Where the catalogue is deployed, by name (lower-case letters, digits and `-`, e.g.
    /// `prod`, `tenant-a`), each with its overrides of this file and of detections.
    /// `rulecast build --env NAME` writes that environment's pack; `base` is the catalogue as
    /// written.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    #[schemars(extend("propertyNames" = { "pattern": crate::identifier::KEY }))]
    pub environments: IndexMap<String, super::environment::Environment>,
}

/// Schedule settings every detection inherits unless it sets its own.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleDefaults {
    /// How late an event may reach the SIEM after it happened and still be alerted exactly
    /// once, e.g. 30m: every look-back is widened by it (docs/scheduling.md). Microsoft
    /// documents 3 to 20 minutes for the Activity log and publishes no figure for Entra audit
    /// logs; measure yours with `AuditLogs | where TimeGenerated > ago(7d) | extend d =
    /// ingestion_time() - TimeGenerated | summarize percentiles(d, 50, 95, 99), max(d)`.
    #[serde(default = "default_ingestion_delay")]
    pub ingestion_delay: Duration,
}

impl Default for ScheduleDefaults {
    fn default() -> Self {
        ScheduleDefaults {
            ingestion_delay: default_ingestion_delay(),
        }
    }
}

fn default_ingestion_delay() -> Duration {
    Duration::from_minutes(30)
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
