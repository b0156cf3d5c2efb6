//! Sigma: one rule file per detection (Sigma specification v2, SigmaHQ conventions), with
//! correlation rules for thresholds, and the pySigma processing pipelines that map the rules'
//! fields to Microsoft Sentinel/Log Analytics (Kusto) and to Splunk's `azure:monitor:aad`.
//!
//! What Sigma cannot express is said in the rule's description and reported by `build`:
//! finding labels (Sigma matches, it does not compute), and a threshold tier that reads a list
//! when the list has no inline values.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;
use uuid::Uuid;

use super::{render_template, Artifacts, DetectionView, RenderContext, Stamp, Target};
use crate::catalogue::logsource::{ColumnType, FieldValue, LogSourceFile};
use crate::catalogue::{attack, Catalogue, Detection};
use crate::diagnostic::Diagnostics;
use crate::lang::sigma::{self as compile, SelectionView};

pub struct Sigma;

/// Namespace for the ids of documents rulecast derives from a detection (correlations, tiers).
const DERIVED_NAMESPACE: Uuid = Uuid::from_u128(0x6f1f_5b1e_8a3c_4f4e_9b4e_2c7d_0e5a_1b3c);

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
    sources: Vec<PipelineSource>,
}

#[derive(Serialize)]
struct PipelineSource {
    id: String,
    product: String,
    service: String,
    table: String,
    macro_name: String,
    fields: Vec<PipelineField>,
}

#[derive(Serialize)]
struct PipelineField {
    sigma: String,
    kusto: String,
    splunk: String,
}

impl Target for Sigma {
    fn name(&self) -> &'static str {
        "sigma"
    }

    fn description(&self) -> &'static str {
        "Sigma rules (specification v2) with correlation rules, and pySigma pipelines"
    }

    fn check(&self, _: &Catalogue, files: &BTreeMap<PathBuf, String>) -> Diagnostics {
        let mut out = Diagnostics::new();
        for (path, text) in files {
            if let Err(e) = super::ensure_yaml(&format!("generated/sigma/{}", path.to_string_lossy()), text) {
                out.push(e);
            }
        }
        out
    }

    fn render(&self, context: &RenderContext) -> Result<Artifacts, Diagnostics> {
        let catalogue = context.catalogue;
        let mut artifacts = Artifacts::default();
        let mut errors = Diagnostics::new();
        for detection in super::detections(catalogue) {
            let stamp = (context.stamps)(detection);
            let docs = documents(catalogue, detection, &stamp, &mut artifacts);
            let mut parts = Vec::new();
            for doc in &docs {
                let template = if doc.correlation.is_some() { "sigma/correlation.yml" } else { "sigma/rule.yml" };
                match render_template(context.templates, template, doc, Some(detection)) {
                    Ok(text) => parts.push(text),
                    Err(e) => errors.push(e),
                }
            }
            let text = parts.join("---\n");
            let path = format!("rules/{}/{}", detection.section, file_name(catalogue, detection));
            artifacts.fragments.insert(detection.meta.id.clone(), text.clone());
            artifacts.add_file(path, text);
        }
        for (backend, file) in [("kusto", "pipelines/rulecast_kusto.yml"), ("splunk", "pipelines/rulecast_splunk.yml")] {
            let view = pipeline(catalogue, backend);
            match render_template(context.templates, &format!("sigma/pipeline_{backend}.yml"), &view, None) {
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

/// SigmaHQ names cloud rules `<product>_<name>.yml`.
fn file_name(catalogue: &Catalogue, detection: &Detection) -> String {
    let source = catalogue.logsource(detection);
    format!("{}_{}.yml", source.sigma.product, detection.slug.replace('-', "_"))
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
    tags.extend(detection.meta.attack.techniques.iter().map(|t| format!("attack.{}", t.to_lowercase())));
    tags
}

fn documents(catalogue: &Catalogue, detection: &Detection, stamp: &Stamp, artifacts: &mut Artifacts) -> Vec<RuleDoc> {
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
    if !meta.findings.is_empty() {
        notes.push(format!(
            "Not expressible in Sigma: the alert label of which finding matched ({}). The rule matches the same events; the label is only in the KQL and SPL outputs.",
            meta.findings.values().cloned().collect::<Vec<_>>().join("; ")
        ));
        artifacts.limitation("sigma", detection, "cannot label which finding matched (the rule matches the same events)");
    }
    let level = match meta.severity {
        crate::catalogue::detection::Severity::Informational => "informational",
        crate::catalogue::detection::Severity::Low => "low",
        crate::catalogue::detection::Severity::Medium => "medium",
        crate::catalogue::detection::Severity::High => "high",
    };
    let base_name = detection.slug.replace('-', "_");
    let selections = compile::selections(catalogue, detection);
    let condition = compile::condition_text(&detection.condition);
    let mk = |id: String, title: String, name: String, selections: Vec<SelectionView>, condition: String, correlation: Option<CorrelationView>, notes: &[String]| RuleDoc {
        detection: DetectionView::new(detection, stamp, notes),
        id,
        title,
        name,
        level,
        tags: tags(detection),
        product: source.sigma.product.clone(),
        service: source.sigma.service.clone(),
        selections,
        condition,
        correlation,
    };

    let Some(threshold) = &meta.threshold else {
        return vec![mk(meta.id.clone(), meta.title.clone(), base_name, selections, condition, None, &notes)];
    };

    // Threshold: one base rule and one correlation per tier; the default tier excludes the
    // groups that a tier with inline values covers, so every group has exactly one threshold.
    let group_by: Vec<String> = threshold.group_by.iter().map(|f| source.sigma_name(f).to_owned()).collect();
    let mut docs = Vec::new();
    let mut default_selections = selections.clone();
    let mut default_condition = format!("({condition})");
    let mut tier_docs = Vec::new();
    for tier in &threshold.tiers {
        let values = crate::lang::inline_values(catalogue, &tier.list);
        if values.is_empty() {
            notes.push(format!(
                "Not expressible in Sigma: the `{}` tier ({} events for {} on the list `{}`) reads a watchlist or lookup; the list has no inline values, so this rule applies the default threshold of {} to everyone.",
                tier.name, tier.count, tier.field, tier.list, threshold.count
            ));
            artifacts.limitation("sigma", detection, &format!("applies the default threshold to the `{}` tier: list `{}` has no inline values", tier.name, tier.list));
            continue;
        }
        let selection_name = format!("rulecast_tier_{}", tier.name);
        let tier_selection = compile::list_selection(catalogue, detection, &selection_name, &tier.field, &values);
        default_selections.push(tier_selection.clone());
        default_condition = format!("{default_condition} and not {selection_name}");
        let mut tier_selections = selections.clone();
        tier_selections.push(tier_selection);
        let rule_name = format!("{base_name}_{}", tier.name);
        tier_docs.push(mk(
            derived_id(detection, &format!("tier/{}", tier.name)),
            format!("{} ({} accounts)", meta.title, tier.name),
            rule_name.clone(),
            tier_selections,
            format!("({condition}) and {selection_name}"),
            None,
            &notes,
        ));
        tier_docs.push(mk(
            derived_id(detection, &format!("correlation/{}", tier.name)),
            format!("{} ({} accounts, {} in {})", meta.title, tier.name, tier.count, threshold.window),
            format!("{rule_name}_correlation"),
            Vec::new(),
            String::new(),
            Some(CorrelationView { rule: rule_name, group_by: group_by.clone(), timespan: threshold.window.short(), gte: tier.count }),
            &notes,
        ));
    }
    let default_condition = if default_selections.len() == selections.len() { condition.clone() } else { default_condition };
    docs.push(mk(meta.id.clone(), meta.title.clone(), base_name.clone(), default_selections, default_condition, None, &notes));
    docs.push(mk(
        derived_id(detection, "correlation/default"),
        format!("{} ({} in {})", meta.title, threshold.count, threshold.window),
        format!("{base_name}_correlation"),
        Vec::new(),
        String::new(),
        Some(CorrelationView { rule: base_name, group_by, timespan: threshold.window.short(), gte: threshold.count }),
        &notes,
    ));
    docs.extend(tier_docs);
    docs
}

/// The pipeline of a backend: every log source's Sigma fields mapped to that backend.
fn pipeline(catalogue: &Catalogue, backend: &'static str) -> PipelineView {
    let sources = catalogue
        .logsources
        .values()
        .map(|source| PipelineSource {
            id: source.id.clone(),
            product: source.sigma.product.clone(),
            service: source.sigma.service.clone(),
            table: source.kql.table.clone(),
            macro_name: source.splunk.macro_name.clone(),
            fields: source
                .fields
                .iter()
                .filter_map(|(name, field)| {
                    plain_mapping(source, &field.value).map(|(kusto, splunk)| PipelineField { sigma: source.sigma_name(name).to_owned(), kusto, splunk })
                })
                .collect(),
        })
        .collect();
    PipelineView { name: format!("rulecast {} ({backend})", catalogue.config.name), backend, priority: 20, sources }
}

/// Kusto and Splunk names of a field that is a column or a path inside one.
fn plain_mapping(source: &LogSourceFile, value: &FieldValue) -> Option<(String, String)> {
    match value {
        FieldValue::Column { column, path } => {
            let c = source.columns.get(column)?;
            let kusto = match path {
                Some(p) => format!("{column}.{p}"),
                None => column.clone(),
            };
            let splunk = match path {
                Some(p) => format!("{}.{p}", c.diagnostic),
                None => c.diagnostic.clone(),
            };
            if c.kind == ColumnType::Dynamic && path.is_none() {
                return None;
            }
            Some((kusto, splunk))
        }
        _ => None,
    }
}
