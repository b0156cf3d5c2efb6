//! Azure Monitor: one log-search alert rule (`Microsoft.Insights/scheduledQueryRules`, kind
//! LogAlert) per detection as an ARM template, and one template that deploys them all.
//!
//! Azure Monitor cannot read Sentinel watchlists, so lists are inlined into the KQL from the
//! catalogue settings. Its evaluation frequency and window accept only a fixed set of values;
//! a schedule outside them is rounded up and reported.

use serde::Serialize;

use super::{
    Artifacts, Checker, Conformance, DetectionView, PackageContext, PackageError, ReleaseFile,
    RenderContext, Stamp, Target, render_template,
};
use crate::catalogue::detection::{AzureMonitorDedup, Severity};
use crate::catalogue::duration::Duration;
use crate::catalogue::{Catalogue, Detection};
use crate::diagnostic::Diagnostics;
use crate::lang::kql::{self, ListBinding};
use crate::schedule::{self, Cadence, Folding, IntervalEnd, Report, RunModel};

pub(crate) struct AzureMonitor;

const TEMPLATES: &[(&str, &str)] = &[
    (
        "azure-monitor/alert.json",
        include_str!("../../templates/azure-monitor/alert.json.tera"),
    ),
    (
        "azure-monitor/_alert_resource.json",
        include_str!("../../templates/azure-monitor/_alert_resource.json.tera"),
    ),
    (
        "azure-monitor/azuredeploy.json",
        include_str!("../../templates/azure-monitor/azuredeploy.json.tera"),
    ),
];

/// Stable API version of scheduled query rules.
pub(crate) const API_VERSION: &str = "2023-12-01";

/// Values Azure Monitor accepts for evaluationFrequency and windowSize, in minutes.
const FREQUENCIES: [u64; 14] = [1, 5, 10, 15, 30, 45, 60, 120, 180, 240, 300, 360, 720, 1440];
const WINDOWS: [u64; 15] = [
    5, 10, 15, 30, 45, 60, 120, 180, 240, 300, 360, 720, 1440, 2880, 0,
];

#[derive(Serialize)]
struct AlertView {
    detection: DetectionView,
    resource_name: String,
    severity: u8,
    query: String,
    evaluation_frequency: String,
    window_size: String,
    /// One alert per combination of these columns (`dimensions`).
    dimensions: Vec<String>,
    auto_mitigate: bool,
    /// `muteActionsDuration`, when repeats are folded by muting.
    mute_actions: Option<String>,
    enabled: bool,
    content_version: String,
    /// What the responder reads in the alert (e-mail and portal show the description only,
    /// never the query's rows): what happened, which columns name it, what to check.
    responder_description: String,
    /// Key/value pairs for webhooks, Logic Apps and runbooks (not shown in e-mail).
    custom_properties: Vec<CustomProperty>,
}

#[derive(Serialize)]
struct CustomProperty {
    name: &'static str,
    value: String,
}

/// Characters of a log search alert's description.
const MAX_DESCRIPTION: usize = 4096;

#[derive(Serialize)]
struct SingleView<'a> {
    alert: &'a AlertView,
    api_version: &'static str,
}

impl Target for AzureMonitor {
    fn name(&self) -> &'static str {
        "azure-monitor"
    }

    fn description(&self) -> &'static str {
        "Azure Monitor log search alert rules as ARM templates"
    }

    fn templates(&self) -> &'static [(&'static str, &'static str)] {
        TEMPLATES
    }

    fn package(&self, context: &PackageContext) -> Result<ReleaseFile, PackageError> {
        // One template deploys every alert rule; it is released as it is.
        let combined = context.files.get("azuredeploy.json").ok_or_else(|| {
            PackageError::Missing("the Azure Monitor combined template".to_owned())
        })?;
        Ok(ReleaseFile {
            name: format!(
                "{}-{}-azure-monitor.json",
                context.config.name, context.version
            ),
            bytes: combined.clone(),
        })
    }

    fn run_model(&self, catalogue: &Catalogue, detection: &Detection) -> Option<RunModel> {
        Some(run_model(catalogue, detection))
    }

    fn conformance(&self) -> &'static [Conformance] {
        &[
            Conformance {
                checker: Checker::ArmTemplate,
                files: "*.json",
            },
            Conformance {
                checker: Checker::KqlExecution,
                files: "*.json",
            },
        ]
    }

    fn render<'c>(&self, context: &RenderContext<'c>) -> Result<Artifacts<'c>, Diagnostics> {
        let catalogue = context.catalogue;
        let mut artifacts = context.artifacts();
        let mut errors = Diagnostics::new();
        // The template that deploys every alert, written as their templates are rendered.
        let mut combined = super::CombinedArm::start(
            &mut artifacts,
            context.templates,
            "azure-monitor/azuredeploy.json",
            context.pack_version,
            API_VERSION,
        )
        .map_err(|e| errors.push(e))
        .ok();
        // Each detection's alert, rendered on every core (its limitations kept apart with it);
        // added in catalogue order, a batch at a time.
        context.each_detection_into(
            |detection| {
                let stamp = (context.stamps)(detection);
                let mut own = Artifacts::default();
                let parts = context.kql_parts(detection);
                let alert = alert_view(catalogue, detection, &parts, &stamp, &mut own);
                let path = format!("{}.json", detection.slug);
                let parsed = render_template(
                    context.templates,
                    "azure-monitor/alert.json",
                    &SingleView {
                        alert: &alert,
                        api_version: API_VERSION,
                    },
                    Some(detection),
                )
                .and_then(|t| super::json_layout::canonical(&path, &t));
                (detection, own.warnings, path, parsed)
            },
            |(detection, warnings, path, parsed)| {
                artifacts.warnings.extend(warnings);
                match parsed {
                    Ok(text) => {
                        if let Some(combined) = &mut combined {
                            combined.push(&mut artifacts, &text, &detection.meta.id);
                        }
                        artifacts.add_fragment(&detection.meta.id, &[&text]);
                        artifacts.add_detection_file("azure-monitor", detection, path, text);
                    }
                    Err(e) => errors.push(e),
                }
            },
        );
        if let Some(combined) = combined {
            combined.finish(&mut artifacts);
        }
        if errors.has_errors() {
            return Err(errors);
        }
        Ok(artifacts)
    }
}

/// Azure Monitor severity: 0 critical ... 4 verbose.
fn severity(severity: Severity) -> u8 {
    match severity {
        Severity::High => 1,
        Severity::Medium => 2,
        Severity::Low => 3,
        Severity::Informational => 4,
    }
}

/// The smallest allowed value at least `wanted` (0 in the table ends it).
fn round_up(wanted: Duration, allowed: &[u64]) -> Option<Duration> {
    allowed
        .iter()
        .copied()
        .filter(|m| *m > 0)
        .find(|m| *m >= wanted.minutes())
        .map(Duration::from_minutes)
}

/// Values Azure Monitor accepts for muteActionsDuration, in minutes (Microsoft's template
/// lists PT12H too, which users report rejected).
const MUTES: [u64; 7] = [5, 15, 30, 60, 360, 1440, 0];
/// Dimensions per rule.
const MAX_DIMENSIONS: usize = 6;
/// Stateful alerts are not supported above this frequency.
const MAX_STATEFUL_FREQUENCY: Duration = Duration::from_minutes(720);

/// The frequency Azure Monitor runs at: the catalogue's, or the next shorter allowed value (a
/// shorter frequency never misses events).
fn frequency(wanted: Duration) -> Duration {
    FREQUENCIES
        .iter()
        .copied()
        .rev()
        .find(|m| *m <= wanted.minutes())
        .map_or(Duration::from_minutes(1), Duration::from_minutes)
}

/// How the deployed alert rule runs. Azure Monitor evaluates it every evaluationFrequency with
/// no delay, over windowSize; the query reports only windows whose closing event's
/// `ingestion_time()` is within the last frequency, and reads the detection's look-back itself
/// (windowSize is the next allowed value, at most two days). `ingestion_time()` is not allowed
/// at a one-minute frequency, where the stateful alert alone folds repeats.
pub(crate) fn run_model(catalogue: &Catalogue, detection: &Detection) -> RunModel {
    let plan = schedule::plan(catalogue, detection);
    let frequency = frequency(plan.frequency);
    let by: Vec<String> = plan.dedup.by.iter().take(MAX_DIMENSIONS).cloned().collect();
    let stateful = plan.dedup.azure_monitor == AzureMonitorDedup::Stateful
        && frequency <= MAX_STATEFUL_FREQUENCY;
    RunModel {
        cadence: Cadence {
            period: frequency,
            offset: None,
        },
        runs_late_by: Duration::from_minutes(0),
        ends_before: Duration::from_minutes(0),
        lookback: plan.lookback,
        report: if frequency.minutes() > 1 {
            Report::NewSince {
                closed: IntervalEnd::Later,
            }
        } else {
            Report::Present
        },
        folding: if stateful {
            Folding::Stateful {
                by,
                resolve_after: schedule::stateful_resolve_after(frequency),
            }
        } else {
            let wanted = plan.dedup.period.max(frequency);
            Folding::Mute {
                by,
                mute: round_up(wanted, &MUTES).unwrap_or(Duration::from_minutes(1440)),
            }
        },
        pause_after_alert: None,
    }
}

fn alert_view(
    catalogue: &Catalogue,
    detection: &Detection,
    parts: &kql::Parts,
    stamp: &Stamp,
    artifacts: &mut Artifacts,
) -> AlertView {
    let model = run_model(catalogue, detection);
    let plan = schedule::plan(catalogue, detection);
    let mut notes = Vec::new();
    let frequency = model.cadence.period;
    if frequency != plan.frequency {
        notes.push(format!(
            "Azure Monitor note: runs every {frequency} because it cannot run every {}.",
            plan.frequency
        ));
        artifacts.limitation(
            "azure-monitor",
            detection,
            &format!("runs every {frequency} instead of {}", plan.frequency),
        );
    }
    let lookback = model.lookback;
    let window = if let Some(w) = round_up(lookback, &WINDOWS) {
        w
    } else {
        let w = Duration::from_minutes(2880);
        notes.push(format!(
            "Azure Monitor limitation: a log alert reads at most 2 days of data, but this detection looks back {lookback}. Events older than 2 days are not considered."
        ));
        artifacts.limitation(
            "azure-monitor",
            detection,
            &format!("reads at most 2d of data; the detection looks back {lookback}"),
        );
        w
    };
    if model.report == Report::Present {
        notes.push("Azure Monitor note: at a one-minute frequency the query cannot use ingestion_time(), so each run reports every match of its window and the stateful alert folds the repeats.".to_owned());
    }
    if plan.dedup.by.len() > MAX_DIMENSIONS {
        notes.push(format!(
            "Azure Monitor limitation: at most {MAX_DIMENSIONS} dimensions; alerts are split by {} only.",
            model.folding.fields().join(", ")
        ));
    }
    if plan.dedup.azure_monitor == AzureMonitorDedup::Stateful
        && !matches!(model.folding, Folding::Stateful { .. })
    {
        notes.push(format!("Azure Monitor note: stateful alerts run at most every {MAX_STATEFUL_FREQUENCY}, so repeats are folded by muting actions instead."));
    }
    let (auto_mitigate, mute_actions) = match &model.folding {
        Folding::Mute { mute, .. } => (false, Some(mute.iso8601())),
        _ => (true, None),
    };
    let tiers = detection
        .meta
        .threshold
        .as_ref()
        .map(|t| t.tiers.as_slice())
        .unwrap_or_default();
    for tier in tiers {
        if crate::lang::inline_values(catalogue, &tier.list).is_empty() {
            notes.push(format!(
                "Azure Monitor limitation: the `{}` tier reads list `{}`, which has no inline values in detections/rulecast.yaml, so no account gets the lower threshold of {}.",
                tier.name, tier.list, tier.count
            ));
            artifacts.limitation(
                "azure-monitor",
                detection,
                &format!(
                    "list `{}` has no inline values, so the `{}` tier never applies",
                    tier.list, tier.name
                ),
            );
        }
    }
    if let Some(tiers) = super::raised_tiers(detection) {
        notes.push(format!(
            "Azure Monitor limitation: a log alert rule has one severity, the detection's ({}); the higher severity of the tier {} is not expressed: the Tier column of each result names the tier.",
            detection.meta.severity.as_str(),
            tiers
        ));
        artifacts.limitation(
            "azure-monitor",
            detection,
            &format!(
                "gives every alert the detection's severity: a log alert rule cannot vary it with the tier {tiers}"
            ),
        );
    }
    let query = kql::compile_parts(
        catalogue,
        detection,
        parts,
        ListBinding::Inline,
        kql::Recency::of(&model),
    );
    let dimensions = model.folding.fields();
    let view = DetectionView::new(catalogue, detection, stamp, &notes);
    let mut responder_description = view.description.clone();
    let responder = super::alert_text::responder_text(detection, dimensions);
    if !responder.is_empty() {
        responder_description.push_str("\n\n");
        responder_description.push_str(&responder);
    }
    if responder_description.chars().count() > MAX_DESCRIPTION {
        responder_description = responder_description
            .chars()
            .take(MAX_DESCRIPTION - 1)
            .chain(std::iter::once('…'))
            .collect();
        artifacts.limitation(
            "azure-monitor",
            detection,
            &format!("has its alert description cut to {MAX_DESCRIPTION} characters"),
        );
    }
    let property = |name, value| CustomProperty { name, value };
    let custom_properties = vec![
        property("rulecast-id", detection.meta.id.clone()),
        property("rulecast-version", stamp.version.to_string()),
        property("guide-rows", detection.meta.guide_rows.join(", ")),
    ];
    AlertView {
        responder_description,
        custom_properties,
        detection: view,
        resource_name: format!("{}-{}", catalogue.config.name, detection.slug),
        severity: severity(detection.meta.severity),
        query: query.text,
        evaluation_frequency: frequency.iso8601(),
        window_size: window.iso8601(),
        dimensions: model.folding.fields().to_vec(),
        auto_mitigate,
        mute_actions,
        enabled: !detection.is_deprecated(),
        content_version: format!("{}.0.0.0", stamp.version),
    }
}
