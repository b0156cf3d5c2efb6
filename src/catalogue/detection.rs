//! The detection file format: what a detection engineer writes in `detections/**/*.yaml`.
//!
//! These types are the single source of truth for the format: serde reads files into them and
//! schemars turns them into `detections/schema.json`, which editors use to validate and complete
//! catalogue files. Doc comments here become the schema's descriptions.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::duration::Duration;
use super::sections::TargetSections;

/// One detection: a reviewed piece of content that rulecast compiles into every target.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DetectionFile {
    /// Stable identifier (a UUID). Never change it: SIEMs track deployed rules by this id.
    #[schemars(regex(
        pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
    ))]
    #[schemars(extend("patternErrorMessage" = "not a UUID: generate one with `uuidgen`, e.g. 0b3a6f2e-8a4e-4c1b-9f55-3f1c2d4e5a6b"))]
    pub id: String,
    /// Content version, a positive integer. Bumped by one whenever the rendered content changes
    /// (`rulecast lock` does it for you).
    #[schemars(range(min = 1))]
    pub version: u32,
    /// Short name shown to analysts, e.g. as the Sentinel rule name. At most 120 characters and
    /// no final full stop, as Sigma requires.
    #[schemars(length(min = 1, max = 120), regex(pattern = r"[^.]$"))]
    #[schemars(extend("patternErrorMessage" = "a title does not end with a full stop"))]
    pub title: String,
    /// How mature the detection is; a deprecated one needs a `deprecation:` block.
    pub status: Status,
    /// What the detection finds, why it matters and which data it needs, in your own words
    /// (at least 16 characters, as Sigma requires).
    #[schemars(length(min = 16, max = crate::targets::sentinel::limits::MAX_DESCRIPTION))]
    pub description: String,
    /// Keys of the rows of Microsoft's PIM security-operations guide this detection implements
    /// (see detections/guide.yaml).
    #[schemars(length(min = 1))]
    pub guide_rows: Vec<String>,
    /// The risk level the guide gives the row.
    pub risk: Risk,
    /// Alert severity in the SIEM.
    pub severity: Severity,
    /// The MITRE ATT&CK tactics and techniques it detects.
    pub attack: Attack,
    /// Name of the log source (a file in detections/logsources/).
    pub logsource: String,
    /// Sigma-style detection logic: named selections and a condition over them.
    pub detection: DetectionLogic,
    /// Alert only when enough matching events happen close together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<Threshold>,
    /// Labels for selections, reported in the alert when the selection matched (for example which
    /// requirement a settings change weakened).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub findings: IndexMap<String, String>,
    /// How often the rule runs (each run's look-back is derived).
    pub schedule: Schedule,
    /// How the platforms fold repeats of one incident into one alert (defaults per entity).
    #[serde(default, skip_serializing_if = "is_default_dedup")]
    pub dedup: Dedup,
    /// The fields that name the alert's entities (at least one).
    pub entities: Entities,
    /// Extra fields shown with the alert: output column name to log-source field.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub custom_details: IndexMap<String, String>,
    /// Known benign causes, for the analyst: sentences of at least 2 characters that do not
    /// start with a lower-case letter (Sigma's rules for `falsepositives`).
    #[schemars(length(min = 1))]
    #[schemars(extend("items" = { "type": "string", "minLength": 2, "pattern": "^[^\\p{Ll}]", "patternErrorMessage": "start a false positive with a capital letter" }))]
    pub false_positives: Vec<String>,
    /// Links that back the logic.
    #[schemars(length(min = 1))]
    pub references: Vec<String>,
    /// Who wrote the detection.
    pub author: String,
    /// Date the detection was first written (YYYY-MM-DD).
    #[schemars(regex(pattern = r"^\d{4}-\d{2}-\d{2}$"))]
    #[schemars(extend("patternErrorMessage" = "write the date as YYYY-MM-DD, e.g. 2026-01-31"))]
    pub date: String,
    /// Required when status is deprecated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deprecation: Option<Deprecation>,
    /// Site tuning: events this detection must not alert on, each with why, who owns it and
    /// until when. Compiled into every target's logic and honoured by `rulecast test` and
    /// `rulecast scan`; `rulecast check` fails once one has expired.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclusions: Vec<super::exclusion::Exclusion>,
    /// Events that must and must not raise an alert (run by `rulecast test`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tests: Vec<TestCase>,
    /// This detection's settings in each target that has some, one entry per target (its
    /// format is the target's), e.g. `sentinel: { kind: nrt }`.
    #[serde(default, skip_serializing_if = "TargetSections::is_empty")]
    pub targets: TargetSections,
}

fn is_default_dedup(dedup: &Dedup) -> bool {
    dedup.by.is_none()
        && dedup.period.is_none()
        && dedup.azure_monitor.is_none()
        && dedup.sentinel_suppression.is_none()
}

/// Maturity of the detection, as in Sigma.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Experimental,
    Test,
    Stable,
    Deprecated,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Experimental => "experimental",
            Status::Test => "test",
            Status::Stable => "stable",
            Status::Deprecated => "deprecated",
        }
    }
}

/// The guide's risk levels.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Risk {
    Low,
    Medium,
    High,
}

impl Risk {
    pub fn as_str(self) -> &'static str {
        match self {
            Risk::Low => "low",
            Risk::Medium => "medium",
            Risk::High => "high",
        }
    }
}

/// Alert severity, ordered from least to most severe.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Informational,
    Low,
    Medium,
    High,
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::Informational,
        Severity::Low,
        Severity::Medium,
        Severity::High,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Informational => "informational",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }
}

/// MITRE ATT&CK mapping.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Attack {
    /// Tactic names in Sentinel's CamelCase form, e.g. PrivilegeEscalation.
    #[schemars(length(min = 1))]
    pub tactics: Vec<String>,
    /// Technique ids, e.g. T1098 or T1098.003.
    #[schemars(length(min = 1))]
    pub techniques: Vec<String>,
}

/// The logic, in Sigma's shape: every key but `condition` is a named selection.
///
/// A selection is a map (every field must match: AND) or a list of maps (any map may match: OR).
/// A field key is `Field` or `Field|modifier|modifier`; its value is a scalar or a list (any
/// value may match; with the `all` modifier every value must match).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct DetectionLogic {
    pub condition: String,
    #[serde(flatten)]
    pub selections: IndexMap<String, Value>,
}

impl JsonSchema for DetectionLogic {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "DetectionLogic".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let scalar = serde_json::json!({ "type": ["string", "number", "boolean", "null"] });
        let values = serde_json::json!({ "anyOf": [scalar, { "type": "array", "items": scalar }] });
        let field_map = serde_json::json!({
            "type": "object",
            "minProperties": 1,
            "propertyNames": { "pattern": r"^[A-Za-z_][A-Za-z0-9_.]*(\|[a-z0-9]+)*$" },
            "additionalProperties": values,
        });
        schemars::json_schema!({
            "description": "Sigma-style logic: named selections plus a condition such as `selection and not filter` or `1 of selection_*`.",
            "type": "object",
            "required": ["condition"],
            "properties": {
                "condition": {
                    "description": "Boolean expression over selection names: and, or, not, parentheses, `1 of name*`, `all of name*`, `1 of them`.",
                    "type": "string",
                    "minLength": 1
                }
            },
            "propertyNames": { "pattern": crate::identifier::IDENTIFIER },
            "additionalProperties": {
                "title": "selection",
                "description": "A selection: a map of field matches (all must match) or a list of such maps (any may match).",
                "anyOf": [field_map, { "type": "array", "minItems": 1, "items": field_map }]
            }
        })
    }
}

/// Alert when at least `count` matching events share the group-by values within a sliding window.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    /// Events needed in one window (the default tier). With 1, the threshold groups: one alert
    /// per group, whose events are the group's records within the window (the Start and
    /// Success records of one operation, say).
    #[schemars(range(min = 1, max = 10000))]
    pub count: u32,
    /// Length of the sliding window, e.g. 60m.
    pub window: Duration,
    /// Fields whose values define one group, e.g. [Actor].
    #[schemars(length(min = 1, max = 4))]
    pub group_by: Vec<String>,
    /// Lower counts for groups on a list, e.g. privileged accounts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tiers: Vec<Tier>,
}

/// The tier alerts report when no tier of the threshold matched.
pub const DEFAULT_TIER: &str = "default";

/// A threshold tier: groups whose `field` value is on `list` need only `count` events.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    /// Name shown in the alert, e.g. privileged.
    #[schemars(regex(pattern = crate::identifier::LOWER_NAME))]
    pub name: String,
    /// One of the group-by fields.
    pub field: String,
    /// Name of a list defined in detections/rulecast.yaml.
    pub list: String,
    /// Events needed in one window for a group on the list.
    #[schemars(range(min = 1, max = 10000))]
    pub count: u32,
    /// Severity of the alerts of a group on the list, when the list warrants more than the
    /// detection's own `severity` (a Tier 0 or break-glass account, say); never less.
    /// Default: the detection's severity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
}

impl Threshold {
    /// The tiers whose alerts take another severity than `default` (the detection's), with it.
    pub fn tier_severities(&self, default: Severity) -> Vec<(&Tier, Severity)> {
        self.tiers
            .iter()
            .filter_map(|t| t.severity.filter(|s| *s != default).map(|s| (t, s)))
            .collect()
    }
}

impl DetectionFile {
    /// The severity of an alert of `tier` (a tier's name, or [`DEFAULT_TIER`]; `None` for a
    /// detection without a threshold): the tier's own severity, else the detection's.
    pub fn alert_severity(&self, tier: Option<&str>) -> Severity {
        self.threshold
            .as_ref()
            .and_then(|t| t.tiers.iter().find(|t| Some(t.name.as_str()) == tier))
            .and_then(|t| t.severity)
            .unwrap_or(self.severity)
    }

    /// The tiers whose alerts take another severity than the detection's, with it; empty when
    /// every alert has the detection's severity.
    pub fn tier_severities(&self) -> Vec<(&Tier, Severity)> {
        self.threshold
            .as_ref()
            .map(|t| t.tier_severities(self.severity))
            .unwrap_or_default()
    }
}

/// How often the rule runs. How much data each run reads is not written here: rulecast derives
/// one look-back per detection, the threshold window (none for a single-event detection) plus
/// the frequency plus the ingestion delay, and every target reads it (docs/scheduling.md).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("x-removed" = {
    "lookback": "the look-back is derived: threshold window + frequency + ingestion delay, the same in every target; remove the key (set `ingestion_delay` to change the margin)"
}))]
pub struct Schedule {
    /// How often the query runs, e.g. 1h (Sentinel allows 5m to 14d). Each run reports only the
    /// windows (or events) that reached the SIEM since the run before, so consecutive runs
    /// neither miss nor repeat one.
    pub frequency: Duration,
    /// How late an event may reach the SIEM after it happened and still be alerted, exactly
    /// once, e.g. 30m. Default: `schedule.ingestion_delay` of rulecast.yaml.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingestion_delay: Option<Duration>,
}

/// How each platform folds the repeats of one incident into one alert: Sentinel groups the
/// alerts into one incident, Splunk throttles, Azure Monitor keeps one alert per entity
/// (docs/scheduling.md). Every key has a default, so most detections write none.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Dedup {
    /// The fields whose values say that two alerts are the same incident. Default: the
    /// threshold's `group_by`; for a single-event detection, its actor, target user, role and
    /// resource entities (the who and the what, not the IP address). Sentinel groups incidents
    /// on them (as custom details), Splunk throttles on them (`alert.suppress.fields`), Azure
    /// Monitor splits its alerts by them (dimensions, at most 6). For a threshold they must be
    /// `group_by` fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 6))]
    pub by: Option<Vec<String>>,
    /// How long a repeat is folded into the first alert, e.g. 1d. Default: the look-back.
    /// Sentinel: the incident grouping's time frame (5m to 7d); Splunk: `alert.suppress.period`;
    /// Azure Monitor with `azure_monitor: mute`: `muteActionsDuration`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<Duration>,
    /// How Azure Monitor folds repeats (its two ways cannot be combined). `stateful` (default):
    /// `autoMitigate`; the alert of one dimension value stays fired, and does not fire again,
    /// while the detection keeps finding it, and resolves on its own. `mute`: stateless, each
    /// run alerts and `muteActionsDuration` (the period) mutes the actions after one fires,
    /// for the whole rule (Azure does not document muting per dimension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure_monitor: Option<AzureMonitorDedup>,
    /// Sentinel only: stop running the rule for this long after it alerts
    /// (`suppressionDuration`, at most 24h). Off by default: it silences the rule for every
    /// entity, not only the repeat; incident grouping folds repeats without that cost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentinel_suppression: Option<Duration>,
}

/// Azure Monitor's way of folding repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AzureMonitorDedup {
    /// `autoMitigate: true`: one alert per dimension value until it resolves.
    Stateful,
    /// `autoMitigate: false` and `muteActionsDuration`: actions muted after an alert fires.
    Mute,
}

/// Which log-source fields identify the entities of an alert.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Entities {
    /// Who did it (an account).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// The account the change was about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_user: Option<String>,
    /// The role concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Where the actor came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// An Azure resource id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
}

impl Entities {
    /// The entity slots in a fixed order, for stable output.
    pub fn slots(&self) -> [(&'static str, Option<&str>); 5] {
        [
            ("actor", self.actor.as_deref()),
            ("target_user", self.target_user.as_deref()),
            ("role", self.role.as_deref()),
            ("ip", self.ip.as_deref()),
            ("resource", self.resource.as_deref()),
        ]
    }
}

/// Why a detection was retired, and what replaces it.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Deprecation {
    /// Why it was retired, for the deployments that switch it off.
    #[schemars(length(min = 1))]
    pub reason: String,
    /// Date of deprecation (YYYY-MM-DD).
    #[schemars(regex(pattern = r"^\d{4}-\d{2}-\d{2}$"))]
    #[schemars(extend("patternErrorMessage" = "write the date as YYYY-MM-DD, e.g. 2026-01-31"))]
    pub date: String,
    /// Id of the detection that replaces this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_by: Option<String>,
}

/// A test case: events in the Log Analytics row shape and whether they must raise an alert.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestCase {
    /// What the case shows, e.g. "burst of four by one admin".
    pub name: String,
    /// true: the events must raise an alert; false: a near miss that must not.
    pub expect_alert: bool,
    /// Number of alerts expected when expect_alert is true (default: at least one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerts: Option<u32>,
    /// The severity every alert must have when expect_alert is true: the detection's own, or
    /// that of the threshold tier the alert reached (default: not checked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// Events, inline. Each is one AuditLogs/AzureActivity row as Log Analytics returns it
    /// (column name to value; dynamic columns as JSON).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<serde_json::Map<String, Value>>,
    /// Alternatively, a JSON-lines file next to the detection, one row per line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events_file: Option<String>,
}
