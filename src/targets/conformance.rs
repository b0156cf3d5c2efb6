//! Which checkers of the conformance suite (`conformance/run`) judge which files of a target.
//!
//! The suite's checkers are tools for file formats (Kusto.Language for KQL in rule files, the
//! ARM schemas, sigma-cli, Splunk AppInspect, ksconf); a target names the format of each of
//! its files here, and `rulecast targets --format json` hands that to the suite, so a new
//! target is judged by every checker its formats have without a change to the suite.

use serde::Serialize;

/// A checker of the conformance suite, by the file format it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Checker {
    /// Azure-Sentinel analytics-rule templates (YAML): the KQL query with Kusto.Language,
    /// and the columns entity mappings and custom details name.
    SentinelRuleYaml,
    /// ARM templates: the ARM JSON Schemas and rulecast's ARM lint, and the KQL of every
    /// Sentinel alert rule and Azure Monitor scheduled query rule in them.
    ArmTemplate,
    /// Sigma rule files: sigma check with the SigmaHQ validators, the Sigma JSON Schemas, and
    /// conversion with pySigma's Splunk and Kusto backends (through the pipelines).
    SigmaRules,
    /// pySigma processing pipelines used for those conversions.
    SigmaPipelines,
    /// A Splunk app folder: Splunk AppInspect.
    SplunkApp,
    /// Splunk `.conf` and `.meta` files: ksconf.
    SplunkConf,
    /// Files that hold one detection's KQL query each (a Sentinel rule template, an ARM
    /// template with one rule tagged `rulecast-id`): the query is executed with duckdb-kql on
    /// the detection's test cases and its rows compared with `rulecast test`.
    KqlExecution,
    /// Sentinel watchlist files (CSV named `<alias>.csv`, the first column the search key):
    /// what the KQL execution supplies as `_GetWatchlist(alias)`.
    SentinelWatchlist,
}

/// Files of a target (a glob below the target's folder) and the checker that judges them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Conformance {
    pub checker: Checker,
    /// `*` matches within a path segment, `**` across segments; a glob ending in `/` matches
    /// folders.
    pub files: &'static str,
}
