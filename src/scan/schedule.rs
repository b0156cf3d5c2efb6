//! `rulecast scan --schedule TARGET`: the file replayed as TARGET's deployed rules would run
//! over it, from the same [`RunModel`] the target renders its rules from.
//!
//! Each event arrives `delay` after its time (`--ingestion-delay`). A run is scheduled at
//! every cadence time; its data ends `ends_before` earlier and holds the events of the
//! look-back before that end that had arrived by it. Like the deployed query, the run reports
//! a single event when it arrived since the run before, and a threshold episode when the first
//! of its closing events to arrive did (every episode, for a platform whose query reports what
//! is present). The platform then folds what the run reports ([`Folding`]): Sentinel groups
//! alerts into incidents, Splunk throttles, Azure Monitor keeps one fired alert per dimension
//! value or mutes its actions. Only runs that some event arrived for are evaluated: a run that
//! received nothing new reports nothing new.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Value, json};

use crate::catalogue::duration::Duration;
use crate::eval::window::ThresholdPlan;
use crate::eval::{Alert, Alerter, Engine, Hit};
use crate::lang::WINDOW_IS_INCLUSIVE;
use crate::schedule::{Folding, IntervalEnd, Report, RunModel};
use crate::timestamp::Timestamp;

const NANOS_PER_MINUTE: i64 = 60_000_000_000;
const NANOS_PER_DAY: i64 = 1440 * NANOS_PER_MINUTE;

fn nanos(duration: Duration) -> i64 {
    duration.minutes() as i64 * NANOS_PER_MINUTE
}

/// An alert that reaches the platform's queue, and when the run that raised it executed.
#[derive(Debug, Clone)]
pub(crate) struct ReplayedAlert {
    pub(crate) run: Timestamp,
    pub(crate) alert: Alert,
}

/// One detection's alerts over the file.
#[derive(Debug, Clone, Default)]
pub(crate) struct Backtest {
    /// Alerts that reached the queue.
    pub(crate) raised: u64,
    /// Alerts the platform folded into an earlier one (grouped, throttled, still fired, muted).
    pub(crate) folded: u64,
    /// Alerts raised per UTC day (days since the epoch).
    pub(crate) per_day: BTreeMap<i64, u64>,
}

/// What the replay found.
#[derive(Debug, Clone, Default)]
pub(crate) struct ReplayOutcome {
    /// In run order, then detection order.
    pub(crate) alerts: Vec<ReplayedAlert>,
    /// Per detection (catalogue index) that has a schedule.
    pub(crate) backtests: BTreeMap<usize, Backtest>,
    /// The first and last matching event.
    pub(crate) span: Option<(Timestamp, Timestamp)>,
}

/// Replays `hits` (the matching events of a scan) through each detection's run model.
pub(crate) fn replay(
    engine: &Engine,
    model_of: &dyn Fn(usize) -> Option<RunModel>,
    hits: Vec<Hit>,
    delay: Option<Duration>,
) -> ReplayOutcome {
    let delay = delay.map_or(0, nanos);
    let mut by_detection: BTreeMap<usize, Vec<Hit>> = BTreeMap::new();
    let mut outcome = ReplayOutcome::default();
    for hit in hits {
        let time = hit.time();
        outcome.span = Some(match outcome.span {
            Some((first, last)) => (first.min(time), last.max(time)),
            None => (time, time),
        });
        by_detection.entry(hit.detection).or_default().push(hit);
    }
    for index in (0..engine.catalogue.detections.len()).filter(|i| engine.compiled(*i).is_some()) {
        let Some(model) = model_of(index) else {
            continue;
        };
        let mut hits = by_detection.remove(&index).unwrap_or_default();
        hits.sort_by_key(|h| (h.time(), h.event.position));
        let (alerts, backtest) = replay_detection(engine, index, &model, &hits, delay);
        outcome.alerts.extend(alerts);
        outcome.backtests.insert(index, backtest);
    }
    outcome
        .alerts
        .sort_by_key(|a| (a.run, a.alert.detection, a.alert.start));
    outcome
}

/// The run of cadence `model` that an event arriving at `arrival` is new for.
fn run_for(model: &RunModel, arrival: i64) -> i64 {
    let period = nanos(model.cadence.period);
    let offset = model.cadence.offset.map_or(0, nanos);
    // The run whose data ends at or after the arrival (strictly after, for `[a, b)`).
    let shifted = arrival + nanos(model.ends_before) - offset;
    match model.report {
        Report::NewSince {
            closed: IntervalEnd::Earlier,
        } => shifted.div_euclid(period) + 1,
        _ => -(-shifted).div_euclid(period),
    }
}

fn replay_detection(
    engine: &Engine,
    detection: usize,
    model: &RunModel,
    hits: &[Hit],
    delay: i64,
) -> (Vec<ReplayedAlert>, Backtest) {
    let mut backtest = Backtest::default();
    let mut out = Vec::new();
    if hits.is_empty() {
        return (out, backtest);
    }
    let arrival = |h: &Hit| h.time().0 + delay;
    let period = nanos(model.cadence.period);
    let offset = model.cadence.offset.map_or(0, nanos);
    let lookback = nanos(model.lookback);
    let closed = match model.report {
        Report::NewSince { closed } => Some(closed),
        Report::Present => None,
    };
    let mut runs: Vec<i64> = hits.iter().map(|h| run_for(model, arrival(h))).collect();
    runs.sort_unstable();
    runs.dedup();
    if closed.is_none() {
        // What is present is reported by every run until it leaves the look-back.
        let last = runs[runs.len() - 1] + lookback / period + 1;
        runs = (runs[0]..=last).collect();
    }
    let plan = engine
        .compiled(detection)
        .and_then(|c| c.threshold.as_ref());
    let mut folder = Folder::new(&model.folding, period);
    let mut paused_until = i64::MIN;
    for k in runs {
        let scheduled = offset + k * period;
        if scheduled < paused_until {
            continue;
        }
        let end = scheduled - nanos(model.ends_before);
        let arrived_by = |a: i64| match closed {
            Some(IntervalEnd::Earlier) => a < end,
            _ => a <= end,
        };
        let is_new = |a: i64| match closed {
            Some(IntervalEnd::Later) => a > end - period && a <= end,
            Some(IntervalEnd::Earlier) => a >= end - period && a < end,
            None => true,
        };
        let visible: Vec<&Hit> = hits
            .iter()
            .filter(|h| {
                let t = h.time().0;
                t <= end && t > end - lookback && arrived_by(arrival(h))
            })
            .collect();
        let mut alerter = Alerter::new(engine);
        let mut reported = Vec::new();
        for hit in &visible {
            if let Some(alert) = alerter.push((*hit).clone())
                && is_new(arrival(hit))
            {
                reported.push(alert);
            }
        }
        let (episodes, _) = alerter.finish();
        for episode in episodes {
            let first_close = plan.and_then(|p| first_close_arrival(p, &visible, &episode, delay));
            if closed.is_none() || first_close.is_some_and(is_new) {
                reported.push(episode);
            }
        }
        if reported.is_empty() {
            continue;
        }
        if let Some(pause) = model.pause_after_alert {
            paused_until = scheduled + nanos(pause);
        }
        let run = Timestamp(scheduled + nanos(model.runs_late_by));
        for alert in reported {
            if folder.admit(&alert, scheduled) {
                backtest.raised += 1;
                *backtest
                    .per_day
                    .entry(run.0.div_euclid(NANOS_PER_DAY))
                    .or_default() += 1;
                out.push(ReplayedAlert { run, alert });
            } else {
                backtest.folded += 1;
            }
        }
    }
    (out, backtest)
}

/// When the first of an episode's closing events arrived: the events of its group whose
/// `n - 1`-th predecessor is at most a window older, within the episode's span.
fn first_close_arrival(
    plan: &ThresholdPlan,
    visible: &[&Hit],
    episode: &Alert,
    delay: i64,
) -> Option<i64> {
    let group: Vec<&Hit> = visible
        .iter()
        .copied()
        .filter(|h| {
            h.group.len() == episode.group.len()
                && h.group.iter().zip(&episode.group).all(|(a, (_, b))| a == b)
        })
        .collect();
    let required = plan.tier(&group.first()?.group).1 as usize;
    let window = plan.window_seconds as i64 * 1_000_000_000;
    group
        .iter()
        .enumerate()
        .filter(|(n, h)| {
            let Some(first) = (n + 1).checked_sub(required).map(|i| group[i]) else {
                return false;
            };
            let spread = h.time().0 - first.time().0;
            let inside = if WINDOW_IS_INCLUSIVE {
                spread <= window
            } else {
                spread < window
            };
            inside && h.time() >= episode.start && h.time() <= episode.end
        })
        .map(|(_, h)| h.time().0 + delay)
        .min()
}

/// The platform's folding of repeats, with its state.
struct Folder<'m> {
    folding: &'m Folding,
    period: i64,
    /// Per `by` values: the time of the alert that opened the incident / triggered the
    /// throttle / fired, or last kept the stateful alert fired, and the alerts grouped.
    seen: HashMap<Vec<Option<String>>, (i64, u32)>,
    muted_until: i64,
}

impl<'m> Folder<'m> {
    fn new(folding: &'m Folding, period: i64) -> Folder<'m> {
        Folder {
            folding,
            period,
            seen: HashMap::new(),
            muted_until: i64::MIN,
        }
    }

    /// Whether an alert of the run scheduled at `at` reaches the queue.
    fn admit(&mut self, alert: &Alert, at: i64) -> bool {
        let key: Vec<Option<String>> = self
            .folding
            .fields()
            .iter()
            .map(|f| alert.value(f).map(str::to_owned))
            .collect();
        match self.folding {
            Folding::None => true,
            Folding::Incidents {
                lookback,
                max_alerts,
                ..
            } => match self.seen.get_mut(&key) {
                Some((opened, grouped))
                    if at - *opened <= nanos(*lookback) && *grouped < *max_alerts =>
                {
                    *grouped += 1;
                    false
                }
                _ => {
                    self.seen.insert(key, (at, 1));
                    true
                }
            },
            Folding::Throttle { period, .. } => match self.seen.get(&key) {
                Some((triggered, _)) if at - triggered < nanos(*period) => false,
                _ => {
                    self.seen.insert(key, (at, 1));
                    true
                }
            },
            Folding::Stateful { resolve_after, .. } => {
                let still_fired = self
                    .seen
                    .get(&key)
                    .is_some_and(|(last, _)| at - last <= i64::from(*resolve_after) * self.period);
                self.seen.insert(key, (at, 1));
                !still_fired
            }
            Folding::Mute { mute, .. } => {
                if at < self.muted_until {
                    return false;
                }
                self.muted_until = at + nanos(*mute);
                true
            }
        }
    }
}

/// The backtest table: per detection, alerts raised, alerts per day, the busiest day.
pub(crate) fn backtest_lines(
    outcome: &ReplayOutcome,
    names: &dyn Fn(usize) -> String,
    target: &str,
    delay: Option<Duration>,
) -> Vec<String> {
    let days = span_days(outcome);
    let delay = delay.map_or_else(|| "none".to_owned(), Duration::short);
    let mut lines = vec![format!(
        "backtest: {target}, ingestion delay {delay}, over {days} day{}",
        if days == 1 { "" } else { "s" }
    )];
    let width = outcome
        .backtests
        .keys()
        .map(|d| names(*d).len())
        .max()
        .unwrap_or(0)
        .max("detection".len());
    lines.push(format!(
        "  {:<width$}  {:>6}  {:>7}  {:>6}  busiest day",
        "detection", "alerts", "per day", "folded"
    ));
    for (detection, backtest) in &outcome.backtests {
        let busiest =
            busiest_day(backtest).map_or_else(|| "-".to_owned(), |(day, n)| format!("{day} ({n})"));
        lines.push(format!(
            "  {:<width$}  {:>6}  {:>7.2}  {:>6}  {busiest}",
            names(*detection),
            backtest.raised,
            backtest.raised as f64 / days as f64,
            backtest.folded,
        ));
    }
    lines
}

/// Whole UTC days the matching events span (at least one).
fn span_days(outcome: &ReplayOutcome) -> i64 {
    outcome.span.map_or(1, |(first, last)| {
        last.0.div_euclid(NANOS_PER_DAY) - first.0.div_euclid(NANOS_PER_DAY) + 1
    })
}

/// The day with the most alerts (the earliest of ties), as `YYYY-MM-DD`.
fn busiest_day(backtest: &Backtest) -> Option<(String, u64)> {
    let (day, n) = backtest
        .per_day
        .iter()
        .max_by_key(|(day, n)| (**n, std::cmp::Reverse(**day)))?;
    let (year, month, date) = crate::timestamp::civil_from_days(*day);
    Some((format!("{year:04}-{month:02}-{date:02}"), *n))
}

/// The backtest as JSON, for the summary of `--format json`.
pub(crate) fn backtest_json(
    outcome: &ReplayOutcome,
    names: &dyn Fn(usize) -> String,
    target: &str,
    delay: Option<Duration>,
) -> Value {
    let days = span_days(outcome);
    let detections: Vec<Value> = outcome
        .backtests
        .iter()
        .map(|(detection, b)| {
            let busiest = busiest_day(b);
            json!({
                "detection": names(*detection),
                "alerts": b.raised,
                "alerts_per_day": b.raised as f64 / days as f64,
                "folded": b.folded,
                "busiest_day": busiest.as_ref().map(|(d, _)| d.clone()),
                "busiest_day_alerts": busiest.map_or(0, |(_, n)| n),
            })
        })
        .collect();
    json!({
        "target": target,
        "ingestion_delay": delay.map_or_else(|| "0m".to_owned(), Duration::short),
        "days": days,
        "detections": detections,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::Value;

    use super::*;
    use crate::catalogue::Catalogue;
    use crate::eval::Shape;
    use crate::targets::Targets;

    /// Every case of every shipped detection, replayed as each target runs it, with events on
    /// time and 20 minutes late: a case that must alert raises at least one alert and no more
    /// than its episodes, each episode reaches the queue or is folded exactly once, and a near
    /// miss raises none.
    #[test]
    fn the_shipped_test_cases_alert_once_per_episode_in_every_target() {
        let catalogue =
            Catalogue::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("detections")).unwrap();
        let engine = Engine::new(&catalogue, |_| true);
        let targets = Targets::builtin();
        let mut replayed = 0;
        for (index, detection) in catalogue.detections.iter().enumerate() {
            for source in detection.test_cases() {
                let events = crate::testing::events::case_events(&source).unwrap();
                let rows: Vec<String> = events
                    .iter()
                    .map(|e| Value::Object(e.clone()).to_string())
                    .collect();
                let run = crate::eval::replay::replay(&engine, index, Shape::LOG_ANALYTICS, &rows)
                    .unwrap();
                for target in targets.iter() {
                    let model_of =
                        |i: usize| target.run_model(&catalogue, &catalogue.detections[i]);
                    if model_of(index).is_none() {
                        continue;
                    }
                    for delay in [None, Some(Duration::from_minutes(20))] {
                        let outcome = replay(&engine, &model_of, run.hits.clone(), delay);
                        let backtest = &outcome.backtests[&index];
                        let what = format!(
                            "{} / {} in {} with delay {delay:?}",
                            detection.slug,
                            source.case.name,
                            target.name()
                        );
                        assert_eq!(
                            backtest.raised + backtest.folded,
                            run.alerts.len() as u64,
                            "{what}: every episode is reported once"
                        );
                        assert_eq!(
                            backtest.raised == 0,
                            !source.case.expect_alert,
                            "{what}: raised {}",
                            backtest.raised
                        );
                        replayed += 1;
                    }
                }
            }
        }
        assert!(replayed > 300, "{replayed} replays");
    }

    fn alert_of(actor: &str) -> Alert {
        Alert {
            detection: 0,
            start: Timestamp(0),
            end: Timestamp(0),
            event_count: 1,
            group: Vec::new(),
            tier: None,
            fields: vec![("Actor".to_owned(), Some(actor.to_owned()))],
            all_values: Vec::new(),
            findings: Vec::new(),
            events: Vec::new(),
        }
    }

    /// Which of (minute of the run, actor) reach the queue under `folding` (runs every hour).
    fn admitted(folding: &Folding, alerts: &[(i64, &str)]) -> Vec<bool> {
        let mut folder = Folder::new(folding, 60 * NANOS_PER_MINUTE);
        alerts
            .iter()
            .map(|(minute, actor)| folder.admit(&alert_of(actor), minute * NANOS_PER_MINUTE))
            .collect()
    }

    #[test]
    fn each_platform_folds_repeats_of_one_entity_for_its_period() {
        let by = vec!["Actor".to_owned()];
        let minutes = Duration::from_minutes;
        // A repeat within the period is folded, another actor is not, and once the period is
        // over the same actor alerts again.
        let alerts = [(60, "a"), (120, "a"), (120, "b"), (300, "a")];
        let incidents = Folding::Incidents {
            by: by.clone(),
            lookback: minutes(150),
            max_alerts: 150,
        };
        assert_eq!(admitted(&incidents, &alerts), [true, false, true, true]);
        let throttle = Folding::Throttle {
            by: by.clone(),
            period: minutes(150),
        };
        assert_eq!(admitted(&throttle, &alerts), [true, false, true, true]);
        // Stateful: fired while found in a run at most two runs after the last one.
        let stateful = Folding::Stateful {
            by: by.clone(),
            resolve_after: 2,
        };
        assert_eq!(admitted(&stateful, &alerts), [true, false, true, true]);
        assert_eq!(
            admitted(&stateful, &[(60, "a"), (180, "a"), (300, "a")]),
            [true, false, false],
            "kept fired by each run that finds it"
        );
        // Mute: the whole rule's actions, every actor.
        let mute = Folding::Mute {
            by: by.clone(),
            mute: minutes(150),
        };
        assert_eq!(admitted(&mute, &alerts), [true, false, false, true]);
        assert_eq!(admitted(&Folding::None, &alerts), [true, true, true, true]);
        // Sentinel groups at most 150 alerts into one incident.
        let small = Folding::Incidents {
            by,
            lookback: minutes(150),
            max_alerts: 2,
        };
        assert_eq!(
            admitted(&small, &[(60, "a"), (61, "a"), (62, "a")]),
            [true, false, true]
        );
    }
}
