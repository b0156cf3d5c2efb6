//! Microsoft Sentinel's limits on scheduled analytics rules, in one place.
//!
//! The catalogue is validated against them (every target is held to them, so one catalogue
//! deploys everywhere) and the rendered templates are checked against them again
//! ([`super::template_rules`], which also holds template overrides to them). Source: the
//! Azure-Sentinel repository's template validation and the analytics-rule API reference.
//! The conformance suite's ARM lint (conformance/lib/arm_check.py) states the schedule range
//! on its own on purpose: a judge of the output does not take its rules from the code it
//! judges.

use crate::catalogue::duration::Duration;

/// Shortest queryFrequency and queryPeriod.
pub(crate) const MIN_SCHEDULE: Duration = Duration::from_minutes(5);
/// Longest queryFrequency and queryPeriod.
pub(crate) const MAX_SCHEDULE: Duration = Duration::from_minutes(14 * 1440);
/// A queryPeriod this long or longer needs a queryFrequency of at least [`LONG_PERIOD_MIN_FREQUENCY`].
pub(crate) const LONG_PERIOD: Duration = Duration::from_minutes(2 * 1440);
pub(crate) const LONG_PERIOD_MIN_FREQUENCY: Duration = Duration::from_minutes(60);

/// Sentinel runs a scheduled rule this long after its scheduled time ("a five-minute delay",
/// for ingestion latency).
pub(crate) const SCHEDULER_DELAY: Duration = Duration::from_minutes(5);
/// An NRT rule runs once a minute, over what was ingested since its last run.
pub(crate) const NRT_PERIOD: Duration = Duration::from_minutes(1);
/// The shortest and longest time frame of incident grouping (`lookbackDuration`).
pub(crate) const MIN_GROUPING: Duration = Duration::from_minutes(5);
pub(crate) const MAX_GROUPING: Duration = Duration::from_minutes(7 * 1440);
/// The longest suppression (`suppressionDuration`).
pub(crate) const MAX_SUPPRESSION: Duration = Duration::from_minutes(1440);
/// Alerts grouped into one incident.
pub(crate) const MAX_ALERTS_PER_INCIDENT: u32 = 150;

/// Custom details per rule, and characters per custom-detail key.
pub(crate) const MAX_CUSTOM_DETAILS: usize = 20;
pub(crate) const MAX_CUSTOM_DETAIL_KEY: usize = 20;

/// Entity mappings per rule, and field mappings per entity mapping.
pub(crate) const MAX_ENTITY_MAPPINGS: usize = 5;
pub(crate) const MAX_FIELD_MAPPINGS: usize = 3;

/// Characters of a rule's display name, description and query.
pub(crate) const MAX_NAME: usize = 256;
pub(crate) const MAX_DESCRIPTION: usize = 5000;
pub(crate) const MAX_QUERY: usize = 10_000;

/// The range of triggerThreshold.
pub(crate) const MAX_TRIGGER_THRESHOLD: i64 = 10_000;
