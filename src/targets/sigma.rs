//! Sigma: one rule file per detection (Sigma specification v2, SigmaHQ conventions), with
//! correlation rules for thresholds, and the pySigma processing pipelines that map the rules'
//! fields to Microsoft Sentinel/Log Analytics (Kusto) and to Splunk's `azure:monitor:aad`.
//!
//! What Sigma cannot express is said in the rule's description and reported by `build`:
//! finding labels (Sigma matches, it does not compute), and a threshold tier that reads a list
//! when the list has no inline values.
//!
//! Its entry in a log source is the Sigma logsource (product, service) and the Sigma names of
//! fields whose name differs; the pipelines map them back.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    Artifacts, Checker, Conformance, DetectionView, FileCheck, RenderContext, Section, Stamp,
    Target, render_template, splunk,
};
use crate::catalogue::logsource::LogSourceFile;
use crate::catalogue::{Catalogue, Detection, attack};
use crate::diagnostic::{Diagnostic, Diagnostics, did_you_mean};
use crate::lang::sigma::{self as compile, FieldNames, SelectionView, sigma_name};
use crate::yaml::pointer_segment;

pub(crate) struct Sigma;

const NAME: &str = "sigma";

const TEMPLATES: &[(&str, &str)] = &[
    (
        "sigma/rule.yml",
        include_str!("../../templates/sigma/rule.yml.tera"),
    ),
    (
        "sigma/correlation.yml",
        include_str!("../../templates/sigma/correlation.yml.tera"),
    ),
    (
        "sigma/pipeline_kusto.yml",
        include_str!("../../templates/sigma/pipeline_kusto.yml.tera"),
    ),
    (
        "sigma/pipeline_splunk.yml",
        include_str!("../../templates/sigma/pipeline_splunk.yml.tera"),
    ),
];

/// The Sigma entry of a log source.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "SigmaSource")]
pub(crate) struct SourceSection {
    /// Sigma product, e.g. azure. It also names the rule files (`<product>_<name>.yml`).
    #[schemars(regex(pattern = crate::identifier::SIGMA_NAME))]
    #[schemars(extend("patternErrorMessage" = "a Sigma product is a lower-case name such as azure or m365 (letters, digits, _ and -)"))]
    pub product: String,
    /// Sigma service, e.g. auditlogs.
    #[schemars(regex(pattern = crate::identifier::SIGMA_NAME))]
    #[schemars(extend("patternErrorMessage" = "a Sigma service is a lower-case name such as auditlogs (letters, digits, _ and -)"))]
    pub service: String,
    /// Field name in Sigma rules, for fields whose Sigma name is not their own. The shipped
    /// pySigma pipelines map each back.
    #[serde(default, skip_serializing_if = "FieldNames::is_empty")]
    #[schemars(extend("additionalProperties" = { "type": "string", "pattern": crate::identifier::SIGMA_FIELD, "patternErrorMessage": crate::identifier::SIGMA_FIELD_ADVICE }))]
    pub fields: FieldNames,
}

fn section(source: &LogSourceFile) -> &SourceSection {
    source
        .targets
        .get(NAME)
        .expect("the catalogue was loaded for the Sigma target")
}

/// Namespace for the ids of documents rulecast derives from a detection (correlations, tiers).
const DERIVED_NAMESPACE: Uuid = Uuid::from_u128(0x6f1f_5b1e_8a3c_4f4e_9b4e_2c7d_0e5a_1b3c);

#[cfg(test)]
mod tests {
    use super::title_case;

    #[test]
    fn titles_follow_sigmahq_case() {
        assert_eq!(
            title_case("Burst of eligible role assignments by one account"),
            "Burst of Eligible Role Assignments by One Account"
        );
        assert_eq!(
            title_case("PIM alert raised: The organization doesn't have P2"),
            "PIM Alert Raised: The Organization Doesn't Have P2"
        );
        assert_eq!(title_case("of course"), "Of Course");
    }
}

#[derive(Serialize)]
struct RuleDoc {
    detection: DetectionView,
    id: String,
    title: String,
    name: String,
    level: &'static str,
    tags: Vec<String>,
    product: String,
    service: String,
    selections: Vec<SelectionView>,
    condition: String,
    /// For correlation documents.
    correlation: Option<CorrelationView>,
}

#[derive(Serialize)]
struct CorrelationView {
    rule: String,
    group_by: Vec<String>,
    timespan: String,
    gte: u32,
}

#[derive(Serialize)]
struct PipelineView {
    name: String,
    backend: &'static str,
    priority: u32,
    /// The catalogue lists rules read through `expand` placeholders, resolved by pySigma's
    /// `value_placeholders` transformation.
    vars: Vec<PipelineVar>,
    sources: Vec<PipelineSource>,
}

#[derive(Serialize)]
struct PipelineVar {
    name: String,
    /// Sigma values: wildcards escaped, as pySigma reads a placeholder's values as Sigma strings.
    values: Vec<String>,
}

#[derive(Serialize)]
struct PipelineSource {
    fields_id: String,
    unknown_id: String,
    unknown_message: String,
    query_id: String,
    product: String,
    service: String,
    /// The pySigma (Jinja) query template: the extraction prefix, then `{{ query }}`.
    query_template: String,
    /// Sigma name -> rulecast field, where they differ.
    renames: Vec<PipelineField>,
    /// Every field the log source defines.
    known: Vec<String>,
}

#[derive(Serialize)]
struct PipelineField {
    sigma: String,
    field: String,
}

impl Target for Sigma {
    fn name(&self) -> &'static str {
        NAME
    }

    fn description(&self) -> &'static str {
        "Sigma rules (specification v2) with correlation rules, and pySigma pipelines"
    }

    fn templates(&self) -> &'static [(&'static str, &'static str)] {
        TEMPLATES
    }

    fn logsource_section(&self) -> Option<Section> {
        Some(Section::required::<SourceSection>())
    }

    fn validate(&self, catalogue: &Catalogue, out: &mut Diagnostics) {
        for source in catalogue.logsources.values() {
            let Some(doc) = catalogue.logsource_document(&source.id) else {
                continue;
            };
            let names = &section(source).fields;
            for field in names.keys() {
                if !source.fields.contains_key(field) {
                    let help = did_you_mean(field, source.fields.keys().map(String::as_str))
                        .map(|c| format!("did you mean `{c}`?"))
                        .unwrap_or_else(|| "name a field under `fields:`".to_owned());
                    out.push(
                        doc.error_at_key(
                            &format!("/targets/sigma/fields/{}", pointer_segment(field)),
                            format!("`{field}` is not a field of this log source"),
                        )
                        .with_help(help),
                    );
                }
            }
            let mut taken: HashMap<&str, &str> = HashMap::new();
            for field in source.fields.keys() {
                let sigma = sigma_name(names, field);
                if let Some(other) = taken.insert(sigma, field) {
                    let pointer = if names.contains_key(field) {
                        format!("/targets/sigma/fields/{}", pointer_segment(field))
                    } else {
                        format!("/fields/{}", pointer_segment(field))
                    };
                    out.push(doc.error_at_key(
                        &pointer,
                        format!(
                            "fields `{other}` and `{field}` both map to the Sigma field `{sigma}`"
                        ),
                    ));
                }
            }
        }
    }

    fn conformance(&self) -> &'static [Conformance] {
        &[
            Conformance {
                checker: Checker::SigmaRules,
                files: "rules/**/*.yml",
            },
            Conformance {
                checker: Checker::SigmaPipelines,
                files: "pipelines/*.yml",
            },
        ]
    }

    fn check(&self, files: &BTreeMap<PathBuf, String>) -> Diagnostics {
        super::stream::check_all(Box::new(YamlCheck), files)
    }

    fn file_check(&self) -> Option<Box<dyn FileCheck + '_>> {
        Some(Box::new(YamlCheck))
    }

    fn render<'c>(&self, context: &RenderContext<'c>) -> Result<Artifacts<'c>, Diagnostics> {
        let catalogue = context.catalogue;
        let mut artifacts = context.artifacts();
        let mut errors = Diagnostics::new();
        // A rule file is only checked to be YAML. The built-in templates print every value
        // through the yaml filter (each checked to be exactly what the filter wrote), so what
        // they render is YAML by construction; an override's output is read back.
        let by_builtins = context
            .templates
            .are_builtin(&["sigma/rule.yml", "sigma/correlation.yml"]);
        // Each detection's file, rendered on every core (its limitations kept apart with it);
        // added in catalogue order.
        context.each_detection_into(
            |detection| {
                let stamp = (context.stamps)(detection);
                let mut own = Artifacts::default();
                let docs = documents(catalogue, detection, &stamp, &mut own);
                let mut parts = Vec::new();
                let mut problems = Vec::new();
                for doc in &docs {
                    let template = if doc.correlation.is_some() {
                        "sigma/correlation.yml"
                    } else {
                        "sigma/rule.yml"
                    };
                    match render_template(context.templates, template, doc, Some(detection)) {
                        Ok(text) => parts.push(text),
                        Err(e) => problems.push(e),
                    }
                }
                (detection, own.warnings, parts.join("---\n"), problems)
            },
            |(detection, warnings, text, problems)| {
                artifacts.warnings.extend(warnings);
                for e in problems {
                    errors.push(e);
                }
                let path = format!(
                    "rules/{}/{}",
                    detection.section,
                    file_name(catalogue, detection)
                );
                artifacts.add_fragment(&detection.meta.id, &[&text]);
                if by_builtins {
                    artifacts.checked_in_render(&path, Vec::new());
                }
                artifacts.add_detection_file("sigma", detection, path, text);
            },
        );
        for (backend, file) in [
            ("kusto", "pipelines/rulecast_kusto.yml"),
            ("splunk", "pipelines/rulecast_splunk.yml"),
        ] {
            match pipeline(catalogue, backend).and_then(|view| {
                render_template(
                    context.templates,
                    &format!("sigma/pipeline_{backend}.yml"),
                    &view,
                    None,
                )
            }) {
                Ok(text) => artifacts.add_file(file, text),
                Err(e) => errors.push(e),
            }
        }
        if errors.has_errors() {
            return Err(errors);
        }
        Ok(artifacts)
    }
}

/// Sigma's check: every file is YAML, file by file.
struct YamlCheck;

impl FileCheck for YamlCheck {
    fn read_back(&mut self, path: &std::path::Path, text: &str, out: &mut Diagnostics) {
        if let Err(e) =
            super::ensure_yaml(&format!("generated/sigma/{}", path.to_string_lossy()), text)
        {
            out.push(e);
        }
    }

    fn finish(self: Box<Self>, _: &mut Diagnostics) {}
}

/// SigmaHQ's file names: `<product>_<name>.yml`, and a `correlation_` prefix for a file that
/// holds correlation rules (a threshold detection's base rules and correlations).
fn file_name(catalogue: &Catalogue, detection: &Detection) -> String {
    let source = catalogue.logsource(detection);
    let prefix = if detection.meta.threshold.is_some() {
        "correlation_"
    } else {
        ""
    };
    let name = detection.slug.replace('-', "_");
    let product = format!("{}_", section(source).product);
    if name.starts_with(&product) {
        format!("{prefix}{name}.yml")
    } else {
        format!("{prefix}{product}{name}.yml")
    }
}

/// SigmaHQ wants titles in Title Case: every word capitalised but short joining words.
pub(crate) fn title_case(title: &str) -> String {
    const SMALL: [&str; 20] = [
        "a", "an", "and", "as", "at", "by", "for", "from", "in", "new", "of", "on", "or", "over",
        "the", "through", "to", "via", "with", "without",
    ];
    title
        .split(' ')
        .enumerate()
        .map(|(i, word)| {
            if i > 0 && SMALL.contains(&word) {
                return word.to_owned();
            }
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().collect::<String>() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether any text in a selection contains a line break.
fn has_line_break(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) => s.contains(['\n', '\r']),
        serde_json::Value::Array(items) => items.iter().any(has_line_break),
        serde_json::Value::Object(map) => map.values().any(has_line_break),
        _ => false,
    }
}

fn derived_id(detection: &Detection, what: &str) -> String {
    let base = Uuid::parse_str(&detection.meta.id).unwrap_or(DERIVED_NAMESPACE);
    Uuid::new_v5(&base, what.as_bytes()).to_string()
}

fn tags(detection: &Detection) -> Vec<String> {
    let mut tags: Vec<String> = detection
        .meta
        .attack
        .tactics
        .iter()
        .filter_map(|t| attack::sigma_tactic(t))
        .map(|t| format!("attack.{t}"))
        .collect();
    tags.extend(
        detection
            .meta
            .attack
            .techniques
            .iter()
            .map(|t| format!("attack.{}", t.to_lowercase())),
    );
    tags
}

fn documents(
    catalogue: &Catalogue,
    detection: &Detection,
    stamp: &Stamp,
    artifacts: &mut Artifacts,
) -> Vec<RuleDoc> {
    let source = catalogue.logsource(detection);
    let meta = &detection.meta;
    let mut notes = vec![format!(
        "rulecast detection {} version {}; guide rows: {}.",
        meta.id,
        stamp.version,
        meta.guide_rows.join(", ")
    )];
    let derived: Vec<&str> = crate::lang::needed_fields(detection)
        .into_iter()
        .filter(|f| source.fields[*f].value.as_plain_column().is_none())
        .collect();
    if !derived.is_empty() {
        notes.push(format!(
            "Fields {} are extracted from nested JSON; convert with the rulecast pipelines shipped beside this rule (pipelines/), which define them for Kusto and Splunk.",
            derived.join(", ")
        ));
    }
    let lists: Vec<String> = crate::lang::expanded_lists(detection)
        .into_iter()
        .map(|l| format!("%{l}%"))
        .collect();
    if !lists.is_empty() {
        notes.push(format!(
            "Placeholders {} stand for lists of detections/rulecast.yaml; the rulecast pipelines (pipelines/) carry their values as vars.",
            lists.join(", ")
        ));
    }
    // The rule carries such values correctly; pySigma's Kusto backend writes them into KQL
    // strings unescaped, so a conversion would not parse. Say so where it matters.
    let has_control = meta.detection.selections.values().any(has_line_break);
    if has_control {
        notes.push("Some values contain line breaks: pySigma's Kusto backend (1.0.x) writes them into KQL strings unescaped, so check a Kusto conversion of this rule; the rulecast Sentinel and Azure Monitor queries are not affected.".to_owned());
        artifacts.limitation(
            "sigma",
            detection,
            "has values with line breaks, which pySigma's Kusto backend converts to invalid KQL",
        );
    }
    if !meta.findings.is_empty() {
        notes.push(format!(
            "Not expressible in Sigma: the alert label of which finding matched ({}). The rule matches the same events; the label is only in the KQL and SPL outputs.",
            meta.findings.values().cloned().collect::<Vec<_>>().join("; ")
        ));
        artifacts.limitation(
            "sigma",
            detection,
            "cannot label which finding matched (the rule matches the same events)",
        );
    }
    // Sigma's levels are the catalogue's severities, by the same names.
    let level = meta.severity.as_str();
    let base_name = detection.slug.replace('-', "_");
    let sigma = section(source);
    let selections = compile::selections(&sigma.fields, detection);
    let condition = compile::condition_text(&detection.condition);
    let mk = |id: String,
              title: String,
              name: String,
              selections: Vec<SelectionView>,
              condition: String,
              correlation: Option<CorrelationView>,
              notes: &[String]| RuleDoc {
        detection: DetectionView::new(catalogue, detection, stamp, notes),
        id,
        title: title_case(&title),
        name,
        level,
        tags: tags(detection),
        product: sigma.product.clone(),
        service: sigma.service.clone(),
        selections,
        condition,
        correlation,
    };

    let Some(threshold) = &meta.threshold else {
        return vec![mk(
            meta.id.clone(),
            meta.title.clone(),
            base_name,
            selections,
            condition,
            None,
            &notes,
        )];
    };

    // Threshold: one base rule and one correlation per tier; the default tier excludes the
    // groups that a tier with inline values covers, so every group has exactly one threshold.
    let group_by: Vec<String> = threshold
        .group_by
        .iter()
        .map(|f| sigma_name(&sigma.fields, f).to_owned())
        .collect();
    let mut docs = Vec::new();
    let mut default_selections = selections.clone();
    let mut default_condition = format!("({condition})");
    let mut tier_docs = Vec::new();
    for tier in &threshold.tiers {
        let values = list_values(catalogue, &tier.list);
        let tier_level = meta.alert_severity(Some(&tier.name)).as_str();
        if values.is_empty() {
            let severity = if tier_level == level {
                String::new()
            } else {
                format!(" and level {level} (not the tier's {tier_level})")
            };
            notes.push(format!(
                "Not expressible in Sigma: the `{}` tier ({} events for {} on the list `{}`) reads a watchlist or lookup; the list has no inline values, so this rule applies the default threshold of {}{severity} to everyone.",
                tier.name, tier.count, tier.field, tier.list, threshold.count
            ));
            artifacts.limitation("sigma", detection, &format!("applies the default threshold to the `{}` tier: list `{}` has no inline values", tier.name, tier.list));
            continue;
        }
        let selection_name = format!("rulecast_tier_{}", tier.name);
        let tier_selection =
            compile::list_selection(&sigma.fields, &selection_name, &tier.field, &values);
        default_selections.push(tier_selection.clone());
        default_condition = format!("{default_condition} and not {selection_name}");
        let mut tier_selections = selections.clone();
        tier_selections.push(tier_selection);
        let rule_name = format!("{base_name}_{}", tier.name);
        let first = tier_docs.len();
        tier_docs.push(mk(
            derived_id(detection, &format!("tier/{}", tier.name)),
            format!("{} - {} Accounts", meta.title, tier.name),
            rule_name.clone(),
            tier_selections,
            format!("({condition}) and {selection_name}"),
            None,
            &notes,
        ));
        tier_docs.push(mk(
            derived_id(detection, &format!("correlation/{}", tier.name)),
            format!(
                "{} - {} in {} - {} Accounts",
                meta.title, tier.count, threshold.window, tier.name
            ),
            format!("{rule_name}_correlation"),
            Vec::new(),
            String::new(),
            Some(CorrelationView {
                rule: rule_name,
                group_by: group_by.clone(),
                timespan: threshold.window.short(),
                gte: tier.count,
            }),
            &notes,
        ));
        // The tier's own rules carry its severity: a Sigma rule has one level, and the
        // groups on the list match these rules alone.
        for doc in &mut tier_docs[first..] {
            doc.level = tier_level;
        }
    }
    let default_condition = if default_selections.len() == selections.len() {
        condition.clone()
    } else {
        default_condition
    };
    docs.push(mk(
        meta.id.clone(),
        meta.title.clone(),
        base_name.clone(),
        default_selections,
        default_condition,
        None,
        &notes,
    ));
    docs.push(mk(
        derived_id(detection, "correlation/default"),
        format!(
            "{} - {} in {}",
            meta.title, threshold.count, threshold.window
        ),
        format!("{base_name}_correlation"),
        Vec::new(),
        String::new(),
        Some(CorrelationView {
            rule: base_name,
            group_by,
            timespan: threshold.window.short(),
            gte: threshold.count,
        }),
        &notes,
    ));
    docs.extend(tier_docs);
    docs
}

/// A list's inline values as the catalogue spells them, one per value ignoring case. Sigma
/// compares case-insensitively, so the lower-casing the KQL and SPL lookups need would only
/// lose the spelling, and backends that fold ASCII letters only (SQLite's NOCASE and LIKE)
/// would then miss a non-ASCII value written in capitals, as the events spell it.
fn list_values(catalogue: &Catalogue, list: &str) -> Vec<String> {
    let mut values = crate::lang::list_values_as_written(catalogue, list);
    values.sort_by_cached_key(|v| (v.to_lowercase(), v.clone()));
    values.dedup_by(|a, b| a.to_lowercase() == b.to_lowercase());
    values
}

/// The pipeline of a backend. Rules use rulecast's field names, so a pipeline maps a field
/// only where its Sigma name differs, refuses fields the log source does not define, and
/// prefixes the converted query with the same extraction the native target uses (the KQL
/// `mv-apply`/`extend` or the SPL `spath`/`eval` prelude), so every field means in a Sigma
/// conversion exactly what it means in the Sentinel or Splunk content.
fn pipeline(catalogue: &Catalogue, backend: &'static str) -> Result<PipelineView, Diagnostic> {
    let mut sources = Vec::new();
    for source in catalogue.logsources.values() {
        let fields: Vec<&str> = source.fields.keys().map(String::as_str).collect();
        let (head, prelude) = if backend == "kusto" {
            (
                crate::lang::kql::name(&source.table),
                crate::lang::kql::prelude(source, &fields),
            )
        } else {
            // The Splunk conversion reads the events the Splunk app's source macro reads.
            let Some(splunk) = splunk::source_section(source) else {
                return Err(Diagnostic::error(format!(
                    "sigma: the Splunk pipeline needs the `targets.splunk` entry of log source `{}`, which only the Splunk target reads",
                    source.id
                )));
            };
            (
                format!("`{}`", splunk.macro_name),
                crate::lang::spl::prelude(source, &fields),
            )
        };
        let filter = if backend == "kusto" {
            "where"
        } else {
            "search"
        };
        let sigma = section(source);
        sources.push(PipelineSource {
            fields_id: format!("rulecast_{}_fields", source.id),
            unknown_id: format!("rulecast_{}_unknown_fields", source.id),
            unknown_message: format!(
                "The rulecast pipeline does not define this field for {}.",
                source.id
            ),
            query_id: format!("rulecast_{}_query", source.id),
            product: sigma.product.clone(),
            service: sigma.service.clone(),
            // pySigma renders this with Jinja: the prefix is raw text, then the converted query.
            query_template: format!(
                "{{% raw %}}{head}{prelude}\n| {filter} {{% endraw %}}{{{{ query }}}}"
            ),
            renames: source
                .fields
                .keys()
                .filter(|f| sigma_name(&sigma.fields, f) != f.as_str())
                .map(|f| PipelineField {
                    sigma: sigma_name(&sigma.fields, f).to_owned(),
                    field: f.clone(),
                })
                .collect(),
            known: source.fields.keys().cloned().collect(),
        });
    }
    let mut placeholders: Vec<&str> = catalogue
        .detections
        .iter()
        .flat_map(crate::lang::expanded_lists)
        .collect();
    placeholders.sort_unstable();
    placeholders.dedup();
    let vars = placeholders
        .into_iter()
        .map(|list| PipelineVar {
            name: list.to_owned(),
            values: list_values(catalogue, list)
                .iter()
                .map(|v| crate::logic::Pattern::literal(v).to_sigma())
                .collect(),
        })
        .collect();
    Ok(PipelineView {
        name: format!("rulecast {} ({backend})", catalogue.config.name),
        backend,
        priority: 20,
        vars,
        sources,
    })
}
