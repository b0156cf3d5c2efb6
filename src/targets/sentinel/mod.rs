//! Microsoft Sentinel: analytics-rule templates in the Azure-Sentinel YAML format, one
//! deployable ARM template per rule, and one ARM template that deploys them all.
//!
//! Besides rendering, this target enforces the rules Azure-Sentinel's own CI applies to
//! templates (lengths, enums, duration ranges, entity-mapping limits, techniques under listed
//! tactics), so `rulecast check` catches what Sentinel would reject, without Node or Python.
//!
//! Its entry in a log source names the data connector; in `rulecast.yaml`, whether alerts
//! create incidents and the watchlist that holds each list.

pub(crate) mod entities;
pub(crate) mod limits;
pub(crate) mod repositories;
mod schedule;
pub(crate) mod template_rules;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::alert_text;
use super::{
    Artifacts, Checker, Conformance, DetectionView, FileCheck, ListStore, PackageContext,
    PackageError, ReleaseFile, RenderContext, Section, Stamp, Target, package, render_template,
    title_case,
};
use crate::catalogue::{Catalogue, Detection, attack};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::lang::kql::{self, ListBinding};
use crate::lang::{ColumnRole, columns};
use crate::schedule::RunModel;
use entities::EntityMapping;

pub(crate) struct Sentinel;

const NAME: &str = "sentinel";

const TEMPLATES: &[(&str, &str)] = &[
    (
        "sentinel/rule.yaml",
        include_str!("../../../templates/sentinel/rule.yaml.tera"),
    ),
    (
        "sentinel/rule.arm.json",
        include_str!("../../../templates/sentinel/rule.arm.json.tera"),
    ),
    (
        "sentinel/_rule_resource.json",
        include_str!("../../../templates/sentinel/_rule_resource.json.tera"),
    ),
    (
        "sentinel/azuredeploy.json",
        include_str!("../../../templates/sentinel/azuredeploy.json.tera"),
    ),
    (
        "sentinel/sentinel-deployment.config",
        include_str!("../../../templates/sentinel/sentinel-deployment.config.tera"),
    ),
    (
        "sentinel/watchlist.csv",
        include_str!("../../../templates/sentinel/watchlist.csv.tera"),
    ),
];

/// The Sentinel entry of a log source.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "SentinelSource")]
pub(crate) struct SourceSection {
    /// Sentinel data connector that fills the table, e.g. AzureActiveDirectory.
    pub connector: String,
}

/// A detection's own Sentinel settings (`targets: { sentinel: ... }` in its file).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "SentinelDetection")]
pub(crate) struct DetectionSection {
    /// The kind of analytics rule: `scheduled` (the default) or `nrt`.
    #[serde(default)]
    pub kind: RuleKind,
}

/// The kind of a Sentinel analytics rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RuleKind {
    /// Runs on the detection's schedule over its lookback.
    #[default]
    Scheduled,
    /// Near-real-time: runs every minute over the events ingested since the last run
    /// (Sentinel handles the ingestion delay itself), one alert per event. Only for a
    /// detection without a threshold; at most 50 NRT rules per tenant.
    Nrt,
}

/// NRT rules Sentinel allows per customer.
pub(crate) const MAX_NRT_RULES: usize = 50;

fn rule_kind(detection: &Detection) -> RuleKind {
    detection
        .meta
        .targets
        .get::<DetectionSection>(NAME)
        .map(|s| s.kind)
        .unwrap_or_default()
}

/// The Sentinel settings in `rulecast.yaml`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "SentinelSettings")]
pub(crate) struct ConfigSection {
    /// Create an incident for every alert.
    #[serde(default = "yes")]
    pub create_incident: bool,
    /// The watchlist that holds each list of `lists:`, by the list's name.
    #[serde(default)]
    pub watchlists: IndexMap<String, Watchlist>,
    /// Where this target's output folder is, from the root of the repository that Sentinel
    /// Repositories is connected to (forward slashes). The generated
    /// `sentinel-deployment.config` names its files by this path, as Repositories reads them.
    #[serde(default = "default_repository_path")]
    #[schemars(regex(pattern = r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$"))]
    #[schemars(extend("patternErrorMessage" = "write a relative path with forward slashes, e.g. generated/sentinel"))]
    pub repository_path: String,
}

impl Default for ConfigSection {
    fn default() -> Self {
        ConfigSection {
            create_incident: yes(),
            watchlists: IndexMap::new(),
            repository_path: default_repository_path(),
        }
    }
}

fn default_repository_path() -> String {
    "generated/sentinel".to_owned()
}

fn yes() -> bool {
    true
}

/// A Sentinel watchlist.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Watchlist {
    /// Watchlist alias, as passed to _GetWatchlist().
    #[schemars(regex(pattern = r"^[A-Za-z0-9_-]+$"))]
    pub alias: String,
    /// Column of the watchlist that holds the value (SearchKey is the watchlist's search key).
    #[schemars(regex(pattern = crate::identifier::IDENTIFIER))]
    #[schemars(extend("patternErrorMessage" = crate::identifier::IDENTIFIER_ADVICE))]
    pub column: String,
}

fn config(catalogue: &Catalogue) -> &ConfigSection {
    catalogue
        .config
        .targets
        .get(NAME)
        .expect("the catalogue was loaded for the Sentinel target")
}

/// API version of Microsoft.SecurityInsights alert rules. A preview version, the one the
/// Sentinel portal exports with: the stable versions (up to 2025-09-01) carry neither
/// `subTechniques` (T1098.003 would become T1098) nor `kind: NRT`.
pub(crate) const API_VERSION: &str = "2023-12-01-preview";

/// Placeholders Sentinel fills in each of an alert's name and description (the limit of
/// Azure-Sentinel's template validation).
pub(crate) const MAX_ALERT_PLACEHOLDERS: usize = 3;

/// The column of a rule whose tiers raise the severity: each alert's severity, which
/// `alertDetailsOverride.alertSeverityColumnName` names.
pub(crate) const ALERT_SEVERITY_COLUMN: &str = "AlertSeverity";

/// The column that carries what to check before closing an alert as benign, mapped to the
/// alert's `RemediationSteps` (`alertDetailsOverride.alertDynamicProperties`).
pub(crate) const REMEDIATION_STEPS_COLUMN: &str = "RemediationSteps";

/// The alert properties `alertDynamicProperties` may set (2023-12-01-preview).
pub(crate) const DYNAMIC_PROPERTIES: &[&str] = &[
    "AlertLink",
    "ConfidenceLevel",
    "ConfidenceScore",
    "ExtendedLinks",
    "ProductName",
    "ProviderName",
    "ProductComponentName",
    "RemediationSteps",
    "Techniques",
    "SubTechniques",
];

#[derive(Serialize)]
struct CustomDetail {
    key: String,
    column: String,
}

/// An alert property Sentinel sets from a column of each result.
#[derive(Serialize)]
struct DynamicProperty {
    property: &'static str,
    column: String,
}

#[derive(Serialize)]
struct RuleView {
    detection: DetectionView,
    severity: String,
    connector: String,
    data_type: String,
    /// queryFrequency, queryPeriod, incident grouping and suppression.
    schedule: schedule::ScheduleView,
    query: String,
    entities: Vec<EntityMapping>,
    custom_details: Vec<CustomDetail>,
    /// The alert's name and description from the columns of each result (`{{Column}}`).
    alert_name_format: String,
    alert_description_format: String,
    /// The column holding each alert's severity, when a tier raises it.
    alert_severity_column: Option<&'static str>,
    /// Alert properties set from columns (`alertDynamicProperties`).
    dynamic_properties: Vec<DynamicProperty>,
    /// Parent techniques (ARM's `techniques`); sub-techniques go to `subTechniques`.
    parent_techniques: Vec<String>,
    sub_techniques: Vec<String>,
    tags: Vec<String>,
    content_version: String,
    enabled: bool,
    create_incident: bool,
    /// NRT instead of Scheduled (no frequency, period or trigger).
    nrt: bool,
}

impl Target for Sentinel {
    fn name(&self) -> &'static str {
        NAME
    }

    fn description(&self) -> &'static str {
        "Microsoft Sentinel analytics rules: Azure-Sentinel YAML templates and ARM templates"
    }

    fn templates(&self) -> &'static [(&'static str, &'static str)] {
        TEMPLATES
    }

    fn logsource_section(&self) -> Option<Section> {
        Some(Section::required::<SourceSection>())
    }

    fn config_section(&self) -> Option<Section> {
        Some(Section::optional::<ConfigSection>())
    }

    fn detection_section(&self) -> Option<Section> {
        Some(Section::optional::<DetectionSection>())
    }

    fn validate(&self, catalogue: &Catalogue, out: &mut Diagnostics) {
        let mut nrt = 0;
        for detection in &catalogue.detections {
            if rule_kind(detection) != RuleKind::Nrt {
                continue;
            }
            nrt += 1;
            if detection.meta.threshold.is_some() {
                out.push(
                    detection
                        .document
                        .error_at(
                            "/targets/sentinel/kind",
                            "an NRT rule alerts on each event; this detection counts events over a window",
                        )
                        .with_help("use `kind: scheduled` (the default) for a threshold"),
                );
            }
            if nrt == MAX_NRT_RULES + 1 {
                out.push(
                    detection
                        .document
                        .error_at(
                            "/targets/sentinel/kind",
                            format!("more than {MAX_NRT_RULES} detections are NRT rules; Sentinel allows {MAX_NRT_RULES}"),
                        )
                        .with_help("keep NRT for the rows the guide says to alert on at once"),
                );
            }
        }
    }

    fn list_store<'c>(&self, catalogue: &'c Catalogue) -> Option<ListStore<'c>> {
        Some(ListStore {
            key: "targets.sentinel.watchlists",
            what: "Sentinel watchlist",
            example: "{ alias: MyWatchlist, column: SearchKey }",
            lists: config(catalogue)
                .watchlists
                .iter()
                .map(|(list, w)| (list.as_str(), w.column.as_str()))
                .collect(),
            column_key: "column",
        })
    }

    fn package(&self, context: &PackageContext) -> Result<ReleaseFile, PackageError> {
        // Everything: the per-rule ARM templates and sentinel-deployment.config (for Sentinel
        // Repositories), the combined ARM template (for a one-off deployment), the YAML
        // templates (Azure-Sentinel's format) and the watchlist files the rules read.
        let files: package::Entries = context
            .files
            .iter()
            .map(|(path, bytes)| (path.clone(), bytes.clone()))
            .collect();
        Ok(ReleaseFile {
            name: format!("{}-{}-sentinel.zip", context.config.name, context.version),
            bytes: package::zip(&files)?,
        })
    }

    fn conformance(&self) -> &'static [Conformance] {
        &[
            Conformance {
                checker: Checker::SentinelRuleYaml,
                files: "rules/**/*.yaml",
            },
            Conformance {
                checker: Checker::ArmTemplate,
                files: "arm/*.json",
            },
            Conformance {
                checker: Checker::ArmTemplate,
                files: "azuredeploy.json",
            },
            Conformance {
                checker: Checker::KqlExecution,
                files: "rules/**/*.yaml",
            },
            Conformance {
                checker: Checker::SentinelWatchlist,
                files: "watchlists/*.csv",
            },
        ]
    }

    fn run_model(&self, catalogue: &Catalogue, detection: &Detection) -> Option<RunModel> {
        Some(schedule::run_model(catalogue, detection))
    }

    fn check(&self, files: &BTreeMap<PathBuf, String>) -> Diagnostics {
        // Each rule file is read back on every core; the findings keep the files' order.
        let rules: Vec<(&PathBuf, &String)> = files
            .iter()
            .filter(|(p, _)| p.starts_with("rules"))
            .collect();
        let read = crate::catalogue::parallel_map(&rules, |(path, text)| {
            let mut out = Diagnostics::new();
            let id = read_back_rule(path, text, &mut out);
            (id, out)
        });
        let mut check = TreeCheck::default();
        let mut out = Diagnostics::new();
        // The deployment config first, so the files it excludes are not read.
        let config = Path::new(repositories::CONFIG_FILE);
        if let Some((path, text)) = files.get_key_value(config) {
            check.read_back(path, text, &mut out);
        }
        let mut read = read.into_iter();
        for (path, text) in files.iter().filter(|(p, _)| *p != config) {
            if path.starts_with("rules") {
                let (id, findings) = read.next().expect("one result per rule file");
                check.rule_id(path, id.as_deref(), &mut out);
                out.extend(findings);
                check.walk.read_back(path, text);
            } else {
                check.read_back(path, text, &mut out);
            }
        }
        Box::new(check).finish(&mut out);
        out
    }

    fn file_check(&self) -> Option<Box<dyn FileCheck + '_>> {
        Some(Box::<TreeCheck>::default())
    }

    fn render<'c>(&self, context: &RenderContext<'c>) -> Result<Artifacts<'c>, Diagnostics> {
        let catalogue = context.catalogue;
        let mut artifacts = context.artifacts();
        let mut errors = Diagnostics::new();
        // The template that deploys every rule, written as their templates are rendered.
        let mut combined = super::CombinedArm::start(
            &mut artifacts,
            context.templates,
            "sentinel/azuredeploy.json",
            context.pack_version,
            API_VERSION,
        )
        .map_err(|e| errors.push(e))
        .ok();
        // A file of a built-in template is checked on the values it is rendered from, and
        // not read back; an override's files are.
        let yaml_builtin = context.templates.is_builtin("sentinel/rule.yaml");
        let arm_builtin = context
            .templates
            .are_builtin(&["sentinel/rule.arm.json", "sentinel/_rule_resource.json"]);
        // Each detection's two files, rendered on every core; added in catalogue order, a
        // batch at a time.
        context.each_detection_into(
            |detection| {
                let stamp = (context.stamps)(detection);
                let parts = context.kql_parts(detection);
                let (rule, limitations) = rule_view(catalogue, detection, &parts, &stamp);
                let view = ArmView {
                    rule: &rule,
                    api_version: API_VERSION,
                    resource_name: resource_name(&detection.meta.id),
                };
                let arm_path = format!("arm/{}.json", detection.slug);
                let yaml_path = format!("rules/{}/{}.yaml", detection.section, detection.slug);
                let problems = if yaml_builtin {
                    Some(template_rules::check_rule(&rule_facts(&rule)))
                } else {
                    None
                };
                // Both templates render from one context (the YAML one has no use for the ARM
                // names), so the rule's view is turned into it once.
                let files = match super::template_context("sentinel/rule.yaml", &view) {
                    Err(e) => Err(vec![e]),
                    Ok(view) => {
                        let render = |name| {
                            super::render_in_context(
                                context.templates,
                                name,
                                &view,
                                Some(detection),
                            )
                        };
                        match (
                            render("sentinel/rule.yaml"),
                            render("sentinel/rule.arm.json"),
                        ) {
                            (Ok(yaml), Ok(arm)) => {
                                Ok(match super::json_layout::canonical(&arm_path, &arm) {
                                    Ok(laid_out) => (yaml, laid_out, None),
                                    Err(e) => (yaml, arm, Some(e)),
                                })
                            }
                            (a, b) => Err(a.err().into_iter().chain(b.err()).collect::<Vec<_>>()),
                        }
                    }
                };
                (detection, limitations, yaml_path, arm_path, problems, files)
            },
            |(detection, limitations, yaml_path, arm_path, problems, files)| {
                for what in &limitations {
                    artifacts.limitation(NAME, detection, what);
                }
                match files {
                    Ok((yaml, arm, problem)) => {
                        if let Some(e) = problem {
                            errors.push(e);
                        }
                        if let Some(combined) = &mut combined {
                            combined.push(&mut artifacts, &arm, &detection.meta.id);
                        }
                        artifacts.add_fragment(&detection.meta.id, &[&yaml, "\n", &arm]);
                        if let Some(problems) = problems {
                            let shown = shown(Path::new(&yaml_path));
                            for problem in problems {
                                artifacts.finding(Diagnostic::error(format!(
                                    "sentinel: {shown}: {problem}"
                                )));
                            }
                            artifacts
                                .checked_in_render(&yaml_path, vec![detection.meta.id.clone()]);
                        }
                        artifacts.add_detection_file("sentinel", detection, yaml_path, yaml);
                        if arm_builtin {
                            artifacts.checked_in_render(&arm_path, vec![detection.meta.id.clone()]);
                        }
                        artifacts.add_detection_file("sentinel", detection, arm_path, arm);
                    }
                    Err(problems) => {
                        for e in problems {
                            errors.push(e);
                        }
                    }
                }
            },
        );
        for (name, watchlist) in &config(catalogue).watchlists {
            // The value column is the watchlist's search key, which the queries read as
            // SearchKey unless the list names another column.
            let column = if watchlist.column == "SearchKey" {
                "Value"
            } else {
                &watchlist.column
            };
            let view = super::ListFile::new(catalogue, name, column);
            match render_template(context.templates, "sentinel/watchlist.csv", &view, None) {
                Ok(text) => artifacts.add_file(format!("watchlists/{}.csv", watchlist.alias), text),
                Err(e) => errors.push(e),
            }
        }
        if let Some(combined) = combined {
            combined.finish(&mut artifacts);
        }
        // Repositories deploys every *.json it walks: the combined template (for `az
        // deployment group create`) holds every rule again, so it is excluded, and each rule
        // is deployed by its own file alone.
        let view = DeploymentConfig {
            excluded: vec![format!(
                "{}/{}",
                config(catalogue).repository_path,
                super::COMBINED_ARM
            )],
        };
        match render_template(
            context.templates,
            "sentinel/sentinel-deployment.config",
            &view,
            None,
        )
        .and_then(|text| super::parse_json(repositories::CONFIG_FILE, &text))
        {
            Ok(parsed) => artifacts.add_file(repositories::CONFIG_FILE, super::pretty(&parsed)),
            Err(e) => errors.push(e),
        }
        if errors.has_errors() {
            return Err(errors);
        }
        Ok(artifacts)
    }
}

/// How a check's finding names a file of this target.
fn shown(path: &Path) -> String {
    format!(
        "generated/sentinel/{}",
        path.to_string_lossy().replace('\\', "/")
    )
}

/// Reads back a rule template: the template rules' findings go to `out`; its id, if it has one.
fn read_back_rule(path: &Path, text: &str, out: &mut Diagnostics) -> Option<String> {
    let shown = shown(path);
    match crate::yaml::parse_documents(text).map(|mut docs| docs.pop().unwrap_or_default()) {
        Ok(template) => {
            for problem in template_rules::check(&template) {
                out.push(Diagnostic::error(format!("sentinel: {shown}: {problem}")));
            }
            template
                .get("id")
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        }
        Err(e) => {
            out.push(Diagnostic::error(format!(
                "sentinel: {shown} is not valid YAML: {e}"
            )));
            None
        }
    }
}

/// Sentinel's check, a file at a time: each rule template is read back against the template
/// rules as it comes, and only its id is kept (Sentinel identifies a template by its id: two
/// files with one id overwrite each other); Repositories' walk keeps what each ARM template
/// deploys.
#[derive(Default)]
struct TreeCheck {
    ids: std::collections::HashMap<String, String>,
    walk: repositories::Walk,
    /// Findings about files that were not read back (a second file with one id).
    late: Diagnostics,
}

impl TreeCheck {
    fn rule_id(&mut self, path: &Path, id: Option<&str>, out: &mut Diagnostics) {
        if let Some(id) = id {
            let shown = shown(path);
            if let Some(first) = self.ids.get(&id.to_lowercase()) {
                out.push(Diagnostic::error(format!(
                    "sentinel: {shown}: id {id} is also used by {first}"
                )));
            } else {
                self.ids.insert(id.to_lowercase(), shown);
            }
        }
    }
}

impl FileCheck for TreeCheck {
    fn read_back(&mut self, path: &Path, text: &str, out: &mut Diagnostics) {
        if path.starts_with("rules") {
            let id = read_back_rule(path, text, out);
            self.rule_id(path, id.as_deref(), out);
        }
        self.walk.read_back(path, text);
    }

    fn checked(&mut self, path: &Path, ids: &[String]) {
        if path.starts_with("rules") {
            let mut out = std::mem::take(&mut self.late);
            for id in ids {
                self.rule_id(path, Some(id), &mut out);
            }
            self.late = out;
        }
        self.walk.rules(path, ids);
    }

    fn finish(self: Box<Self>, out: &mut Diagnostics) {
        out.extend(self.late);
        for problem in self.walk.finish() {
            out.push(Diagnostic::error(format!("sentinel: {problem}")));
        }
    }
}

/// What the template rules read of a rule rendered by the built-in `sentinel/rule.yaml`, taken
/// from the values it renders (the encoding filters write each exactly, and the template writes
/// the constant keys). A test renders the fixture catalogues and reads every such file back,
/// so the two cannot drift apart.
fn rule_facts(rule: &RuleView) -> template_rules::Rule<'_> {
    fn nonempty(s: &str) -> Option<&str> {
        (!s.is_empty()).then_some(s)
    }
    let detection = &rule.detection;
    template_rules::Rule {
        missing: Vec::new(),
        id: Some(&detection.id),
        name: Some(&detection.title),
        description: Some(&detection.description),
        query: Some(&rule.query),
        severity: Some(&rule.severity),
        connectors: Some(vec![true]),
        kind: if rule.nrt { "NRT" } else { "Scheduled" },
        query_frequency: (!rule.nrt).then_some(rule.schedule.query_frequency.as_str()),
        query_period: (!rule.nrt).then_some(rule.schedule.query_period.as_str()),
        trigger_operator: (!rule.nrt).then_some("gt"),
        trigger_threshold: (!rule.nrt).then_some(0),
        tactics: detection.tactics.iter().map(String::as_str).collect(),
        techniques: detection.techniques.iter().map(String::as_str).collect(),
        entity_mappings: rule
            .entities
            .iter()
            .map(|e| template_rules::EntityMapping {
                entity_type: e.entity_type,
                fields: e
                    .mappings
                    .iter()
                    .map(|m| (m.identifier, m.column.as_str()))
                    .collect(),
            })
            .collect(),
        alert_display_name_format: nonempty(&rule.alert_name_format),
        alert_description_format: nonempty(&rule.alert_description_format),
        dynamic_properties: rule
            .dynamic_properties
            .iter()
            .map(|p| Some(p.property))
            .collect(),
        custom_detail_keys: rule.custom_details.iter().map(|d| d.key.as_str()).collect(),
        version: Some(&detection.semver),
    }
}

/// What `sentinel-deployment.config` receives: the paths Repositories must not deploy.
#[derive(Serialize)]
struct DeploymentConfig {
    excluded: Vec<String>,
}

/// What the rule's templates receive: `rule`, and for the ARM template the API version and
/// the resource name.
#[derive(Serialize)]
struct ArmView<'a> {
    rule: &'a RuleView,
    api_version: &'static str,
    /// The ARM expression of the rule's name, in the form Repositories deploys (a workspace
    /// child named by the rule id, not an extension resource with a `scope`).
    resource_name: String,
}

/// The ARM name of the rule `id` in the workspace the `workspace` parameter names.
fn resource_name(id: &str) -> String {
    format!("[concat(parameters('workspace'),'/Microsoft.SecurityInsights/{id}')]")
}

fn rule_view(
    catalogue: &Catalogue,
    detection: &Detection,
    parts: &kql::Parts,
    stamp: &Stamp,
) -> (RuleView, Vec<String>) {
    let source = catalogue.logsource(detection);
    let settings = config(catalogue);
    let watchlist = |list: &str| {
        let watchlist = settings.watchlists.get(list)?;
        Some((watchlist.alias.as_str(), watchlist.column.as_str()))
    };
    let model = schedule::run_model(catalogue, detection);
    let query = kql::compile_parts(
        catalogue,
        detection,
        parts,
        ListBinding::Watchlist(&watchlist),
        // NRT hands its query only what was ingested since the last run; a filter on
        // `ingestion_time()` relative to now would drop it.
        if rule_kind(detection) == RuleKind::Nrt {
            kql::Recency::Present
        } else {
            kql::Recency::of(&model)
        },
    );
    let meta = &detection.meta;

    let mut query = query;
    let names: Vec<&str> = query.columns.iter().map(|c| c.name.as_str()).collect();
    let split = entities::upn_parts(detection, &names);
    if !split.is_empty() {
        // Account's strong identifiers are the UPN's name and suffix, as columns of their own.
        let parts: Vec<String> = split
            .iter()
            .map(|p| {
                format!(
                    "{name} = tostring(split({upn}, \"@\")[0]), {suffix} = tostring(split({upn}, \"@\")[1])",
                    name = p.name,
                    suffix = p.suffix,
                    upn = p.upn
                )
            })
            .collect();
        query
            .text
            .push_str(&format!("\n| extend {}", parts.join(", ")));
        for p in &split {
            for name in [&p.name, &p.suffix] {
                query.columns.push(crate::lang::OutputColumn {
                    name: name.clone(),
                    role: ColumnRole::Detail,
                });
            }
        }
    }
    let mut limitations: Vec<String> = Vec::new();
    // A tier that warrants another severity: the query names each alert's, and the alert
    // takes it from that column (its values are exactly Sentinel's severities).
    let mut alert_severity_column = None;
    let tier_severities = meta.tier_severities();
    if !tier_severities.is_empty() {
        // A threshold with tiers always outputs its Tier column.
        if query.columns.iter().any(|c| c.name == columns::TIER) {
            let mut cases: Vec<String> = tier_severities
                .iter()
                .map(|(tier, severity)| {
                    format!(
                        "{} == {}, {}",
                        columns::TIER,
                        kql::string(&tier.name),
                        kql::string(&title_case(severity.as_str()))
                    )
                })
                .collect();
            cases.push(kql::string(&title_case(meta.severity.as_str())));
            query.text.push_str(&format!(
                "\n| extend {ALERT_SEVERITY_COLUMN} = case({})",
                cases.join(", ")
            ));
            query.columns.push(crate::lang::OutputColumn {
                name: ALERT_SEVERITY_COLUMN.to_owned(),
                role: ColumnRole::Detail,
            });
            alert_severity_column = Some(ALERT_SEVERITY_COLUMN);
        }
    }
    // What to check before closing the alert, where Sentinel shows remediation steps; a
    // column, as alertDynamicProperties reads only columns.
    let mut dynamic_properties = Vec::new();
    if let Some(check) = alert_text::what_to_check(detection) {
        let extend = format!(
            "\n| extend {REMEDIATION_STEPS_COLUMN} = {}",
            kql::string(&check)
        );
        // The text is in the query itself, which Sentinel caps; the description keeps it.
        if query.text.chars().count() + extend.chars().count() > limits::MAX_QUERY {
            limitations.push(format!(
                "has no remediation steps: the what-to-check text would make the query longer than Sentinel's {} characters (the alert description has it)",
                limits::MAX_QUERY
            ));
        } else {
            query.text.push_str(&extend);
            query.columns.push(crate::lang::OutputColumn {
                name: REMEDIATION_STEPS_COLUMN.to_owned(),
                role: ColumnRole::Detail,
            });
            dynamic_properties.push(DynamicProperty {
                property: "RemediationSteps",
                column: REMEDIATION_STEPS_COLUMN.to_owned(),
            });
        }
    }
    let outputs: Vec<&str> = query.columns.iter().map(|c| c.name.as_str()).collect();
    let (entities, left_out) = entities::entity_mappings(detection, &outputs);
    limitations.extend(left_out.iter().map(|m| {
        let columns: Vec<&str> = m.mappings.iter().map(|f| f.column.as_str()).collect();
        format!(
            "maps no {} entity from {}: Sentinel allows {} entity mappings per rule",
            m.entity_type,
            columns.join(", "),
            limits::MAX_ENTITY_MAPPINGS
        )
    }));
    let mut alert_format = |what: &str, text: alert_text::AlertText| {
        if let Some(missing) = text.columns().into_iter().find(|c| !outputs.contains(c)) {
            limitations.push(format!(
                "keeps Sentinel's default alert {what}: its query does not output `{missing}`"
            ));
            return String::new();
        }
        text.render(alert_text::SENTINEL).unwrap_or_else(|why| {
            limitations.push(format!("keeps Sentinel's default alert {what}: {why}"));
            String::new()
        })
    };
    let alert_name_format =
        alert_format("name", alert_text::title(detection, MAX_ALERT_PLACEHOLDERS));
    let alert_description_format = alert_format(
        "description",
        alert_text::description(detection, MAX_ALERT_PLACEHOLDERS),
    );
    let mut custom_details = Vec::new();
    for column in &query.columns {
        match column.role {
            // Sentinel has no role entity; the role is shown as a custom detail.
            ColumnRole::Entity("role") => custom_details.push(CustomDetail {
                key: "Role".to_owned(),
                column: column.name.clone(),
            }),
            ColumnRole::Detail
                if column.name == columns::FINDINGS
                    || column.name == format!("All{}", columns::FINDINGS) =>
            {
                custom_details.push(CustomDetail {
                    key: "Findings".to_owned(),
                    column: column.name.clone(),
                });
            }
            ColumnRole::Summary
                if [
                    columns::EVENT_COUNT,
                    columns::REQUIRED_COUNT,
                    columns::TIER,
                    columns::START_TIME,
                ]
                .contains(&column.name.as_str()) =>
            {
                custom_details.push(CustomDetail {
                    key: column.name.clone(),
                    column: column.name.clone(),
                });
            }
            _ => {}
        }
    }
    for (key, field) in &meta.custom_details {
        if !custom_details.iter().any(|c| &c.key == key) {
            custom_details.push(CustomDetail {
                key: key.clone(),
                column: field.clone(),
            });
        }
    }

    let schedule = schedule::view(&model, &mut custom_details);

    let parents: BTreeSet<String> = meta
        .attack
        .techniques
        .iter()
        .map(|t| attack::parent(t).to_owned())
        .collect();
    let subs: BTreeSet<String> = meta
        .attack
        .techniques
        .iter()
        .filter(|t| t.contains('.'))
        .cloned()
        .collect();
    let mut tags = vec!["rulecast".to_owned()];
    tags.extend(meta.guide_rows.iter().map(|r| format!("guide:{r}")));
    let view = RuleView {
        detection: DetectionView::new(catalogue, detection, stamp, &[]),
        severity: title_case(meta.severity.as_str()),
        connector: source
            .targets
            .get::<SourceSection>(NAME)
            .expect("the catalogue was loaded for the Sentinel target")
            .connector
            .clone(),
        data_type: source.table.clone(),
        schedule,
        query: query.text,
        entities,
        custom_details,
        alert_name_format,
        alert_description_format,
        alert_severity_column,
        dynamic_properties,
        parent_techniques: parents.into_iter().collect(),
        sub_techniques: subs.into_iter().collect(),
        tags,
        content_version: format!("{}.0.0.0", stamp.version),
        enabled: !detection.is_deprecated(),
        create_incident: settings.create_incident,
        nrt: rule_kind(detection) == RuleKind::Nrt,
    };
    (view, limitations)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rule files are read back on several threads; every finding is still reported, in
    /// the files' order, and an id is a duplicate of the first file that has it.
    #[test]
    fn every_rule_file_is_read_back_with_its_findings_in_order() {
        let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("generated/sentinel/rules/entra-roles/pim-alert-disabled.yaml");
        let rule = std::fs::read_to_string(shipped).unwrap();
        assert!(rule.contains("\nseverity: High\n"));
        let mut files = BTreeMap::new();
        files.insert(PathBuf::from("rules/a/first.yaml"), rule.clone());
        files.insert(PathBuf::from("rules/a/second.yaml"), rule.clone());
        files.insert(PathBuf::from("rules/b/broken.yaml"), "id: [\n".to_owned());
        files.insert(
            PathBuf::from("rules/b/severe.yaml"),
            rule.replace("\nseverity: High\n", "\nseverity: Severe\n"),
        );
        for i in 0..20 {
            files.insert(PathBuf::from(format!("rules/c/{i:02}.yaml")), rule.clone());
        }
        let findings = Sentinel.check(&files);
        let about: Vec<&str> = findings
            .iter()
            .map(Diagnostic::message)
            .filter(|m| m.contains("generated/sentinel/rules/"))
            .collect();
        assert_eq!(about.len(), 24, "{about:#?}");
        assert!(
            about[0].starts_with("sentinel: generated/sentinel/rules/a/second.yaml: id ")
                && about[0].ends_with("is also used by generated/sentinel/rules/a/first.yaml"),
            "{about:#?}"
        );
        assert!(
            about[1]
                .starts_with("sentinel: generated/sentinel/rules/b/broken.yaml is not valid YAML"),
            "{about:#?}"
        );
        assert!(about[2].contains("rules/b/severe.yaml: id "), "{about:#?}");
        assert!(
            about[3].contains("rules/b/severe.yaml: severity `Severe`"),
            "{about:#?}"
        );
        assert!(about[4].contains("rules/c/00.yaml: id "), "{about:#?}");
        assert!(about[23].contains("rules/c/19.yaml: id "), "{about:#?}");
    }
}
