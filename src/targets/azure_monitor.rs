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
use crate::catalogue::detection::Severity;
use crate::catalogue::duration::Duration;
use crate::catalogue::{Catalogue, Detection};
use crate::diagnostic::Diagnostics;
use crate::lang::kql::{self, ListBinding};

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
    enabled: bool,
    content_version: String,
    /// What the responder reads in the alert (e-mail and portal show the description only,
    /// never the query's rows): what happened, which columns name it, what to check.
    responder_description: String,
    /// Key/value pairs for webhooks, Logic Apps and runbooks (not shown in e-mail).
    custom_properties: Vec<CustomProperty>,
    /// The entity columns each alert splits by (one alert per actor, role, ...).
    dimensions: Vec<String>,
}

#[derive(Serialize)]
struct CustomProperty {
    name: &'static str,
    value: String,
}

/// Characters of a log search alert's description.
const MAX_DESCRIPTION: usize = 4096;

/// Dimensions per log search alert rule.
const MAX_DIMENSIONS: usize = 6;

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

    fn render(&self, context: &RenderContext) -> Result<Artifacts, Diagnostics> {
        let catalogue = context.catalogue;
        let mut artifacts = Artifacts::default();
        let mut errors = Diagnostics::new();
        let mut resources = Vec::new();
        for detection in super::detections(catalogue) {
            let stamp = (context.stamps)(detection);
            let alert = alert_view(catalogue, detection, &stamp, &mut artifacts);
            let path = format!("{}.json", detection.slug);
            match render_template(
                context.templates,
                "azure-monitor/alert.json",
                &SingleView {
                    alert: &alert,
                    api_version: API_VERSION,
                },
                Some(detection),
            )
            .and_then(|t| super::parse_json(&path, &t))
            {
                Ok(parsed) => {
                    resources.extend(super::arm_resource_texts(&parsed));
                    let text = super::pretty(&parsed);
                    artifacts
                        .fragments
                        .insert(detection.meta.id.clone(), text.clone());
                    artifacts.add_detection_file("azure-monitor", detection, path, text);
                }
                Err(e) => errors.push(e),
            }
        }
        super::add_combined_arm(
            &mut artifacts,
            &mut errors,
            context.templates,
            "azure-monitor/azuredeploy.json",
            context.pack_version,
            API_VERSION,
            &resources,
        );
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

fn alert_view(
    catalogue: &Catalogue,
    detection: &Detection,
    stamp: &Stamp,
    artifacts: &mut Artifacts,
) -> AlertView {
    let schedule = &detection.meta.schedule;
    let mut notes = Vec::new();
    let frequency = match round_up(schedule.frequency, &FREQUENCIES) {
        Some(f) if f.minutes() <= schedule.frequency.minutes() => f,
        _ => {
            // Run more often rather than less: a shorter frequency never misses events.
            let f = FREQUENCIES
                .iter()
                .copied()
                .rev()
                .find(|m| *m <= schedule.frequency.minutes())
                .map(Duration::from_minutes)
                .unwrap_or(Duration::from_minutes(1));
            notes.push(format!(
                "Azure Monitor note: runs every {f} because it cannot run every {}.",
                schedule.frequency
            ));
            artifacts.limitation(
                "azure-monitor",
                detection,
                &format!("runs every {f} instead of {}", schedule.frequency),
            );
            f
        }
    };
    let window = if let Some(w) = round_up(schedule.lookback, &WINDOWS) {
        if w != schedule.lookback {
            notes.push(format!(
                "Azure Monitor note: reads {w} of data because it cannot read exactly {}.",
                schedule.lookback
            ));
        }
        w
    } else {
        let w = Duration::from_minutes(2880);
        notes.push(format!(
            "Azure Monitor limitation: a log alert reads at most 2 days of data, but this detection looks back {}. Events older than 2 days are not considered.",
            schedule.lookback
        ));
        artifacts.limitation(
            "azure-monitor",
            detection,
            &format!(
                "reads at most 2d of data; the detection looks back {}",
                schedule.lookback
            ),
        );
        w
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
    let query = kql::compile(catalogue, detection, ListBinding::Inline);
    let outputs: Vec<&str> = query.columns.iter().map(|c| c.name.as_str()).collect();
    // An alert of a threshold splits by what its events share (the columns it groups by);
    // splitting by one event's role or target would cut the burst into single events.
    let group_by = detection.meta.threshold.as_ref().map(|t| &t.group_by);
    let dimensions: Vec<String> = crate::lang::entity_fields(detection)
        .into_iter()
        .map(|(_, field)| field)
        .filter(|f| outputs.contains(f) && group_by.is_none_or(|g| g.iter().any(|c| c == f)))
        .take(MAX_DIMENSIONS)
        .map(str::to_owned)
        .collect();
    let view = DetectionView::new(detection, stamp, &notes);
    let mut responder_description = view.description.clone();
    let responder = super::alert_text::responder_text(detection, &dimensions);
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
        dimensions,
        detection: view,
        resource_name: format!("{}-{}", catalogue.config.name, detection.slug),
        severity: severity(detection.meta.severity),
        query: query.text,
        evaluation_frequency: frequency.iso8601(),
        window_size: window.iso8601(),
        enabled: !detection.is_deprecated(),
        content_version: format!("{}.0.0.0", stamp.version),
    }
}
