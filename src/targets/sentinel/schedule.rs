//! How a Sentinel scheduled rule runs, and how Sentinel folds its repeats: the [`RunModel`] the
//! rule is rendered from and `rulecast scan --schedule sentinel` replays.
//!
//! Sentinel runs a scheduled rule every `queryFrequency`, five minutes after its scheduled
//! time, over `queryPeriod`. The query reports a window only when its closing event's
//! `ingestion_time()` falls in the frequency-long interval that ends at the scheduled time
//! (`> ago(F + 5m) and <= ago(5m)`, Microsoft's pattern for ingestion delay), so consecutive
//! runs tile. `queryPeriod` is the look-back plus those five minutes, since Sentinel does not
//! say whether it measures the period from the scheduled or the delayed time; either way the
//! look-back before the scheduled time is read. Alerts of one incident (the same `dedup.by`
//! values, as custom details) are grouped into one incident for `dedup.period`.

use serde::Serialize;

use super::limits::{
    MAX_ALERTS_PER_INCIDENT, MAX_GROUPING, MIN_GROUPING, NRT_PERIOD, SCHEDULER_DELAY,
};
use super::{CustomDetail, config};
use crate::catalogue::duration::Duration;
use crate::catalogue::{Catalogue, Detection};
use crate::schedule::{self, Cadence, Folding, IntervalEnd, Report, RunModel};

/// The deployed rule's model.
pub(crate) fn run_model(catalogue: &Catalogue, detection: &Detection) -> RunModel {
    let plan = schedule::plan(catalogue, detection);
    // An NRT rule runs every minute over what was ingested since its last run, with no
    // scheduler delay: each event is reported once, in the minute after it arrives.
    let nrt = super::rule_kind(detection) == super::RuleKind::Nrt;
    RunModel {
        cadence: Cadence {
            period: if nrt { NRT_PERIOD } else { plan.frequency },
            offset: None,
        },
        runs_late_by: if nrt {
            Duration::from_minutes(0)
        } else {
            SCHEDULER_DELAY
        },
        ends_before: Duration::from_minutes(0),
        lookback: plan.lookback,
        report: Report::NewSince {
            closed: IntervalEnd::Later,
        },
        folding: if config(catalogue).create_incident {
            Folding::Incidents {
                by: plan.dedup.by,
                lookback: plan.dedup.period.clamp(MIN_GROUPING, MAX_GROUPING),
                max_alerts: MAX_ALERTS_PER_INCIDENT,
            }
        } else {
            Folding::None
        },
        pause_after_alert: plan.dedup.sentinel_suppression,
    }
}

/// The schedule and folding settings of a rule, as its templates print them.
#[derive(Debug, Serialize)]
pub(crate) struct ScheduleView {
    /// `queryFrequency` and `queryPeriod`: YAML form (`1h`) and ARM form (`PT1H`).
    pub(super) query_frequency: String,
    pub(super) query_period: String,
    query_frequency_iso: String,
    query_period_iso: String,
    /// Incident grouping, when the rule creates incidents.
    grouping: Option<GroupingView>,
    suppression_enabled: bool,
    /// Required by the API even when suppression is off.
    suppression_duration: String,
    suppression_duration_iso: String,
}

#[derive(Debug, Serialize)]
struct GroupingView {
    lookback: String,
    lookback_iso: String,
    /// Keys of the custom details whose values make two alerts one incident.
    custom_details: Vec<String>,
}

/// The view of `model`; adds a custom detail for each grouping field the rule does not show
/// yet (grouping matches custom details, since `groupByEntities: [Account]` would compare every
/// account of the alert, the target as well as the actor).
pub(crate) fn view(model: &RunModel, custom_details: &mut Vec<CustomDetail>) -> ScheduleView {
    let period = Duration::from_minutes(model.lookback.minutes() + SCHEDULER_DELAY.minutes());
    let grouping = match &model.folding {
        Folding::Incidents { by, lookback, .. } => Some(GroupingView {
            lookback: lookback.short(),
            lookback_iso: lookback.iso8601(),
            custom_details: by
                .iter()
                .map(|field| custom_detail_of(field, custom_details))
                .collect(),
        }),
        _ => None,
    };
    let suppression = model.pause_after_alert;
    // Five hours is the portal's default duration; it is ignored while suppression is off.
    let duration = suppression.unwrap_or(Duration::from_minutes(300));
    ScheduleView {
        query_frequency: model.cadence.period.short(),
        query_period: period.short(),
        query_frequency_iso: model.cadence.period.iso8601(),
        query_period_iso: period.iso8601(),
        grouping,
        suppression_enabled: suppression.is_some(),
        suppression_duration: duration.short(),
        suppression_duration_iso: duration.iso8601(),
    }
}

/// The key of the custom detail that shows `field`, added when there is none.
fn custom_detail_of(field: &str, custom_details: &mut Vec<CustomDetail>) -> String {
    if let Some(detail) = custom_details.iter().find(|d| d.column == field) {
        return detail.key.clone();
    }
    custom_details.push(CustomDetail {
        key: field.to_owned(),
        column: field.to_owned(),
    });
    field.to_owned()
}
