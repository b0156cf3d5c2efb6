//! How a Splunk saved search runs, and how Splunk folds its repeats: the [`RunModel`] the
//! search is rendered from and `rulecast scan --schedule splunk` replays.
//!
//! The search runs on a cron schedule (wall-clock times, so the replay knows them), over event
//! times `[-(look-back + lag)@m, -lag@m]`, the lag giving indexing time to settle. It reports a
//! window only when its closing event was indexed (`_indextime`) in the cron period before
//! `info_max_time`, the search's resolved latest time, so consecutive runs' index-time
//! intervals tile. `realtime_schedule = 0` (continuous scheduling) makes the scheduler never
//! skip a period, and `schedule_window = 0` keeps each run at its minute. Repeats of one
//! incident (the same `dedup.by` values) are throttled per result for `dedup.period`.

use crate::catalogue::duration::Duration;
use crate::catalogue::{Catalogue, Detection};
use crate::schedule::{self, Cadence, Folding, IntervalEnd, Report, RunModel};

/// How long before its scheduled minute a run's data ends: time for the last events to be
/// indexed and searchable (`dispatch.latest_time = -5m@m`).
pub(crate) const LAG: Duration = Duration::from_minutes(5);

/// A cron schedule for a frequency. The minute (and hour) offset is derived from the detection
/// id so a pack's searches do not all start at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cron {
    pub spec: String,
    /// How often it really runs: the frequency, or the next shorter period cron can express.
    pub period: Duration,
    /// When the first run of each period is, after the Unix epoch (a Thursday, 00:00 UTC).
    pub offset: Duration,
}

impl Cron {
    pub(crate) fn new(frequency: Duration, id: &str) -> Cron {
        let seed: u64 = id
            .bytes()
            .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
        let minutes = frequency.minutes();
        let minute = seed % 60;
        let cron = |spec: String, period: u64, offset: u64| Cron {
            spec,
            period: Duration::from_minutes(period),
            offset: Duration::from_minutes(offset),
        };
        if minutes < 60 {
            let step = (1..=minutes).rev().find(|s| 60 % s == 0).unwrap_or(1);
            let offset = seed % step;
            let spec = if step == 1 {
                "*".to_owned()
            } else {
                format!("{offset}-59/{step}")
            };
            return cron(format!("{spec} * * * *"), step, offset);
        }
        if minutes < 1440 {
            let hours = minutes / 60;
            let step = (1..=hours).rev().find(|s| 24 % s == 0).unwrap_or(1);
            let offset = (seed / 60) % step;
            let spec = if step == 1 {
                "*".to_owned()
            } else {
                format!("{offset}-23/{step}")
            };
            return cron(
                format!("{minute} {spec} * * *"),
                step * 60,
                offset * 60 + minute,
            );
        }
        let hour = (seed / 60) % 24;
        let at = hour * 60 + minute;
        if minutes == 7 * 1440 {
            let weekday = seed % 7;
            // Cron counts weekdays from Sunday; the epoch was a Thursday (weekday 4).
            let days = (weekday + 7 - 4) % 7;
            return cron(
                format!("{minute} {hour} * * {weekday}"),
                minutes,
                days * 1440 + at,
            );
        }
        cron(format!("{minute} {hour} * * *"), 1440, at)
    }

    /// Whether it runs exactly at the frequency.
    pub(crate) fn is_exact(&self, frequency: Duration) -> bool {
        self.period == frequency
    }
}

/// The deployed search's model.
pub(crate) fn run_model(catalogue: &Catalogue, detection: &Detection) -> RunModel {
    let plan = schedule::plan(catalogue, detection);
    let cron = Cron::new(plan.frequency, &detection.meta.id);
    RunModel {
        cadence: Cadence {
            period: cron.period,
            offset: Some(cron.offset),
        },
        runs_late_by: Duration::from_minutes(0),
        ends_before: LAG,
        lookback: plan.lookback,
        report: Report::NewSince {
            closed: IntervalEnd::Earlier,
        },
        folding: Folding::Throttle {
            by: plan.dedup.by,
            period: plan.dedup.period,
        },
        pause_after_alert: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_schedules() {
        let d = |s: &str| s.parse::<Duration>().unwrap();
        let c = Cron::new(d("1h"), "abc");
        assert!(c.is_exact(d("1h")));
        assert_eq!(c.spec.split(' ').nth(1), Some("*"));
        assert_eq!(
            c.offset.minutes().to_string(),
            c.spec.split(' ').next().unwrap()
        );
        let c = Cron::new(d("15m"), "abc");
        assert!(c.is_exact(d("15m")) && c.spec.contains("/15"), "{c:?}");
        let c = Cron::new(d("45m"), "abc");
        assert!(!c.is_exact(d("45m")));
        assert_eq!(c.period, d("30m"), "runs more often, never less");
        let c = Cron::new(d("2h"), "abc");
        assert!(c.is_exact(d("2h")) && c.spec.contains("/2"), "{c:?}");
        assert!(Cron::new(d("1d"), "abc").is_exact(d("1d")));
        let c = Cron::new(d("7d"), "abc");
        let weekday: u64 = c.spec.split(' ').nth(4).unwrap().parse().unwrap();
        // Day 0 after the epoch is a Thursday, cron's weekday 4.
        assert_eq!((c.offset.minutes() / 1440 + 4) % 7, weekday);
    }
}
