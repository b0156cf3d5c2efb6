//! When each detection's deployed rule runs, what each run reads and reports, and how each
//! platform folds repeats of one incident into one alert.
//!
//! Two layers, each in one place:
//!
//! * [`Plan`]: the detection's own timing, the same for every target. Its look-back is derived,
//!   never written: the threshold window (none for a single event) plus the frequency plus the
//!   ingestion delay. A run at time `t` reports only the windows whose closing event reached the
//!   SIEM in `(t - frequency, t]`; that event happened at most `ingestion_delay` before it
//!   arrived, and the window's first event at most `window` before that, so the window is read
//!   whole, and consecutive runs' arrival intervals tile: no gap, no overlap.
//! * [`RunModel`]: how one target's deployed rule runs, as the target renders it (its cadence,
//!   its delay, the look-back it can express, what its query reports, how the platform folds
//!   repeats). Each target builds its model in its own module ([`crate::targets::Target::run_model`])
//!   and renders its files from it; `rulecast scan --schedule` replays the same model, so the
//!   replay and the deployed rule cannot drift apart.
//!
//! docs/scheduling.md draws the timeline and explains each platform's choices.

use crate::catalogue::detection::AzureMonitorDedup;
use crate::catalogue::duration::Duration;
use crate::catalogue::{Catalogue, Detection};

/// A detection's timing and folding, derived from its file and rulecast.yaml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// How often the rule runs.
    pub frequency: Duration,
    /// The threshold window; `None` for a single-event detection.
    pub window: Option<Duration>,
    /// How late an event may arrive and still be alerted.
    pub ingestion_delay: Duration,
    /// What every run reads: window + frequency + ingestion delay.
    pub lookback: Duration,
    /// How repeats of one incident are folded.
    pub dedup: DedupPlan,
}

/// The folding of repeats, with the defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DedupPlan {
    /// The fields whose values make two alerts one incident.
    pub by: Vec<String>,
    /// How long a repeat is folded into the first alert.
    pub period: Duration,
    pub azure_monitor: AzureMonitorDedup,
    /// Sentinel: how long the rule stops after alerting, if at all.
    pub sentinel_suppression: Option<Duration>,
}

/// What every run reads: the threshold window (none for a single event), then the frequency,
/// then the ingestion delay.
pub(crate) fn lookback(
    window: Option<Duration>,
    frequency: Duration,
    ingestion_delay: Duration,
) -> Duration {
    window
        .unwrap_or(Duration::from_minutes(0))
        .plus(frequency)
        .plus(ingestion_delay)
}

/// The detection's plan.
pub fn plan(catalogue: &Catalogue, detection: &Detection) -> Plan {
    let meta = &detection.meta;
    let window = meta.threshold.as_ref().map(|t| t.window);
    let ingestion_delay = meta
        .schedule
        .ingestion_delay
        .unwrap_or(catalogue.config.schedule.ingestion_delay);
    let lookback = lookback(window, meta.schedule.frequency, ingestion_delay);
    Plan {
        frequency: meta.schedule.frequency,
        window,
        ingestion_delay,
        lookback,
        dedup: DedupPlan {
            by: meta
                .dedup
                .by
                .clone()
                .unwrap_or_else(|| default_dedup_fields(detection)),
            period: meta.dedup.period.unwrap_or(lookback),
            azure_monitor: meta
                .dedup
                .azure_monitor
                .unwrap_or(AzureMonitorDedup::Stateful),
            sentinel_suppression: meta.dedup.sentinel_suppression,
        },
    }
}

/// The fields that make two alerts one incident when the detection names none: a threshold's
/// group (one incident is one group's episode); for a single event, who did it to whom and to
/// what (an address says where from, which does not make it another incident).
pub(crate) fn default_dedup_fields(detection: &Detection) -> Vec<String> {
    if let Some(threshold) = &detection.meta.threshold {
        return threshold.group_by.clone();
    }
    let entities = &detection.meta.entities;
    let mut out: Vec<String> = Vec::new();
    for field in [
        &entities.actor,
        &entities.target_user,
        &entities.role,
        &entities.resource,
    ]
    .into_iter()
    .flatten()
    {
        if !out.contains(field) {
            out.push(field.clone());
        }
    }
    if out.is_empty() {
        out.extend(entities.ip.clone());
    }
    out
}

/// How one target's deployed rule for one detection runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunModel {
    /// When the runs are scheduled.
    pub cadence: Cadence,
    /// How long after its scheduled time the query runs, so `now()` is that much later
    /// (Sentinel's built-in delay); its arrival interval still ends at the scheduled time.
    pub runs_late_by: Duration,
    /// How long before its scheduled time a run's data and arrival interval end (Splunk's
    /// `-5m@m`, time for indexing to settle).
    pub ends_before: Duration,
    /// Each run reads the events of `[end - lookback, end]` (by event time) that had arrived by
    /// `end`, where `end` is the scheduled time minus `ends_before`.
    pub lookback: Duration,
    /// Which windows (or single events) a run reports.
    pub report: Report,
    /// How the platform folds the alerts of one incident.
    pub folding: Folding,
    /// After a run that alerts, the runs of this long are skipped (Sentinel's suppression).
    pub pause_after_alert: Option<Duration>,
}

/// Scheduled run times: `offset + k * period` after the Unix epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cadence {
    pub period: Duration,
    /// `None` when the platform sets it (at the rule's creation): the replay's `--first-run`
    /// decides, by default a multiple of the period.
    pub offset: Option<Duration>,
}

/// What a run reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Report {
    /// The windows (or events) whose closing event arrived in the run's arrival interval: one
    /// cadence period ending at the run's end, open at `open` and closed at the other side.
    NewSince { closed: IntervalEnd },
    /// Every window (or event) in the run's data: the platform's own state decides whether it
    /// is new (Azure Monitor's stateful alerts).
    Present,
}

/// Which end of an arrival interval belongs to it: `(a, b]` (KQL `> ago() and <= ago()`) or
/// `[a, b)` (Splunk `_index_earliest` / `_index_latest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntervalEnd {
    Later,
    Earlier,
}

/// How a platform folds the alerts of one incident (`by` are the fields that make them one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Folding {
    /// Every alert reaches the queue.
    None,
    /// Sentinel: an alert joins the open incident of the same `by` values whose first alert is
    /// at most `lookback` older, up to `max_alerts` alerts per incident.
    Incidents {
        by: Vec<String>,
        lookback: Duration,
        max_alerts: u32,
    },
    /// Splunk: a result of the same `by` values as one that triggered at most `period` ago is
    /// suppressed.
    Throttle { by: Vec<String>, period: Duration },
    /// Azure Monitor stateful: one alert per `by` combination fires and stays fired while the
    /// runs find it; it resolves after `resolve_after` runs in a row without it.
    Stateful { by: Vec<String>, resolve_after: u32 },
    /// Azure Monitor stateless with muted actions: every run alerts per `by` combination; after
    /// an alert notifies, the rule's actions are muted for `mute`.
    Mute { by: Vec<String>, mute: Duration },
}

impl Folding {
    /// The fields whose values make two alerts one incident.
    pub fn fields(&self) -> &[String] {
        match self {
            Folding::None => &[],
            Folding::Incidents { by, .. }
            | Folding::Throttle { by, .. }
            | Folding::Stateful { by, .. }
            | Folding::Mute { by, .. } => by,
        }
    }
}

/// Azure Monitor's resolution of a stateful log search alert: the condition must be unmet for
/// this many evaluations in a row (1 minute: 10 minutes; up to 15 minutes: three periods; up to
/// 11 hours: two; up to 12 hours: one; Microsoft's table overlaps at 15 minutes, read here as
/// three).
pub(crate) fn stateful_resolve_after(frequency: Duration) -> u32 {
    match frequency.minutes() {
        0..=1 => 10,
        2..=15 => 3,
        16..=660 => 2,
        _ => 1,
    }
}
