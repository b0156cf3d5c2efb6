//! Threshold windows, computed as the compiled queries compute them, one event at a time.
//!
//! The rule (shared by every target, see [`crate::lang::WINDOW_IS_INCLUSIVE`]): with a group's
//! events in time order, the `n`-th event closes a window when the event `n-1` places earlier
//! is at most `window` older. Windows whose closing events are at most `window` apart (the
//! `window`-long windows before them overlap or touch) are one episode: the group alerts once
//! per episode, from the start of its first window to the end of its last, and counts every
//! event of the group in that span; an episode a window or more after the last is another
//! alert, and the events between them belong to neither. Events without a value for a
//! group-by field never count. A group whose tier field (lower-cased) is on a tier's list needs
//! that tier's count instead of the default.
//!
//! Streaming needs only the events of the last `window` per group, plus a running summary of a
//! group's alert span, so memory follows the windows, not the input. Input is expected in time
//! order; events up to one window out of order are put back in order by a small buffer, and
//! later ones are counted as late and reported instead of silently skewing a window.

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

// Group values come from the log, which an attacker may write, so the maps are seeded at
// random; no output depends on their order (alerts are sorted by start, then group).
use foldhash::{HashMap, HashMapExt, HashSet};

use super::alert::{Alert, Evidence};
use super::hit::Hit;
use crate::catalogue::Catalogue;
use crate::catalogue::detection::Threshold;
use crate::lang::{self, WINDOW_IS_INCLUSIVE};
use crate::timestamp::Timestamp;

/// Whether an event at `time` is too old to share a window that ends at `end`.
fn outside_window(time: Timestamp, end: Timestamp, window_seconds: u64) -> bool {
    let oldest = end.minus_seconds(window_seconds);
    if WINDOW_IS_INCLUSIVE {
        time < oldest
    } else {
        time <= oldest
    }
}

#[derive(Debug, Clone)]
pub(crate) struct ThresholdPlan {
    pub count: u32,
    pub window_seconds: u64,
    /// Field indexes of the group-by fields.
    pub group_by: Vec<usize>,
    pub group_names: Vec<String>,
    pub tiers: Vec<TierPlan>,
}

#[derive(Debug, Clone)]
pub(crate) struct TierPlan {
    pub name: String,
    /// Position of the tier's field among the group-by fields.
    position: usize,
    /// The list's inline values, lower-cased (what Azure Monitor and Sigma compile in).
    values: HashSet<String>,
    pub count: u32,
}

impl ThresholdPlan {
    pub(crate) fn new(
        catalogue: &Catalogue,
        threshold: &Threshold,
        field: &dyn Fn(&str) -> usize,
    ) -> ThresholdPlan {
        ThresholdPlan {
            count: threshold.count,
            window_seconds: threshold.window.seconds(),
            group_by: threshold.group_by.iter().map(|f| field(f)).collect(),
            group_names: threshold.group_by.clone(),
            tiers: threshold
                .tiers
                .iter()
                .map(|t| TierPlan {
                    name: t.name.clone(),
                    position: threshold
                        .group_by
                        .iter()
                        .position(|g| *g == t.field)
                        .expect("validated: a tier field is a group-by field"),
                    values: lang::inline_values(catalogue, &t.list)
                        .into_iter()
                        .collect(),
                    count: t.count,
                })
                .collect(),
        }
    }

    /// The tier of a group and the events it needs: the first tier whose list holds the
    /// group's value, else the default.
    pub(crate) fn tier(&self, group: &[String]) -> (&str, u32) {
        self.tier_named(self.tier_index(group))
    }

    /// The position in `tiers` of the first tier whose list holds the group's value.
    fn tier_index(&self, group: &[String]) -> Option<usize> {
        self.tiers.iter().position(|t| {
            let value = &group[t.position];
            // Most values are lower-case already; only the others are copied.
            let lowered = if value.is_ascii() && !value.bytes().any(|b| b.is_ascii_uppercase()) {
                Cow::Borrowed(value.as_str())
            } else {
                Cow::Owned(super::field::lowercase(value))
            };
            t.values.contains(lowered.as_ref())
        })
    }

    /// The name and count of the tier at `index` (`None`: the default).
    fn tier_named(&self, index: Option<usize>) -> (&str, u32) {
        index
            .map(|i| (self.tiers[i].name.as_str(), self.tiers[i].count))
            .unwrap_or((crate::catalogue::detection::DEFAULT_TIER, self.count))
    }
}

/// One group's window state.
#[derive(Debug)]
struct GroupWindow {
    required: u32,
    /// The group's tier, a position in the plan's `tiers` (`None`: the default).
    tier: Option<usize>,
    /// The group's events of the last `window`, oldest first.
    recent: VecDeque<Hit>,
    /// The episode under way: from its first window's start to its last window's end.
    span: Option<Span>,
    /// Episodes that ended: a later window closed more than a window after their end.
    done: Vec<Span>,
    /// Events after the span's end: they join it if a later window of the episode closes.
    pending: Evidence,
    newest: Timestamp,
}

type Span = (Timestamp, Timestamp, Evidence);

impl GroupWindow {
    fn push(&mut self, hit: Hit, window_seconds: u64) {
        let time = hit.time();
        self.newest = time;
        if self.span.is_some() {
            self.pending.add(&hit);
        }
        self.recent.push_back(hit);
        while self
            .recent
            .front()
            .is_some_and(|h| outside_window(h.time(), time, window_seconds))
        {
            self.recent.pop_front();
        }
        let required = self.required as usize;
        if self.recent.len() < required {
            return;
        }
        // A window is the `window` before its closing event; windows that overlap or touch
        // are one episode, one alert.
        if let Some((_, end, evidence)) = &mut self.span
            && !outside_window(*end, time, window_seconds)
        {
            *end = time;
            evidence.merge(std::mem::take(&mut self.pending));
            return;
        }
        self.done.extend(self.span.take());
        self.pending = Evidence::default();
        let start = self.recent[self.recent.len() - required].time();
        let mut evidence = Evidence::default();
        // Ties with the window's first event are inside the span too.
        for h in self.recent.iter().filter(|h| h.time() >= start) {
            evidence.add(h);
        }
        self.span = Some((start, time, evidence));
    }
}

/// The threshold of one detection over a stream of its hits.
#[derive(Debug)]
pub(crate) struct ThresholdRun {
    /// Index of the detection in the catalogue.
    detection: usize,
    plan: ThresholdPlan,
    groups: HashMap<Vec<String>, GroupWindow>,
    /// Hits not yet released to their group, in (time, arrival) order, that arrived no earlier
    /// than the one before them: in a log in time order, every hit, at no cost to order them.
    in_order: VecDeque<(Timestamp, u64, Hit)>,
    /// The other hits not yet released, ordered by (time, arrival).
    stragglers: BinaryHeap<Reverse<(Timestamp, u64, OrderedHit)>>,
    arrivals: u64,
    newest: Timestamp,
    released: Option<Timestamp>,
    late: u64,
}

/// A hit ordered only by its position in the heap key.
#[derive(Debug)]
struct OrderedHit(Hit);

impl PartialEq for OrderedHit {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for OrderedHit {}
impl PartialOrd for OrderedHit {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for OrderedHit {
    fn cmp(&self, _: &Self) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
}

/// Idle groups are dropped every this many hits.
const SWEEP_EVERY: u64 = 4096;

impl ThresholdRun {
    pub(crate) fn new(detection: usize, plan: ThresholdPlan) -> ThresholdRun {
        ThresholdRun {
            detection,
            plan,
            groups: HashMap::new(),
            in_order: VecDeque::new(),
            stragglers: BinaryHeap::new(),
            arrivals: 0,
            newest: Timestamp(i64::MIN),
            released: None,
            late: 0,
        }
    }

    /// Matching events that arrived more than one window out of time order and were not counted.
    pub(crate) fn late(&self) -> u64 {
        self.late
    }

    /// Catalogue index of the detection.
    pub(crate) fn detection(&self) -> usize {
        self.detection
    }

    /// Groups and buffered events held now.
    #[cfg(test)]
    pub(crate) fn held(&self) -> (usize, usize) {
        (
            self.groups.len(),
            self.in_order.len()
                + self.stragglers.len()
                + self.groups.values().map(|g| g.recent.len()).sum::<usize>(),
        )
    }

    pub(crate) fn push(&mut self, hit: Hit) {
        if self.released.is_some_and(|r| hit.time() < r) {
            self.late += 1;
            return;
        }
        self.arrivals += 1;
        let time = hit.time();
        self.newest = self.newest.max(time);
        if self.in_order.back().is_none_or(|(t, _, _)| *t <= time) {
            self.in_order.push_back((time, self.arrivals, hit));
        } else {
            self.stragglers
                .push(Reverse((time, self.arrivals, OrderedHit(hit))));
        }
        let settled = self.newest.minus_seconds(self.plan.window_seconds);
        while self.next_release().is_some_and(|(t, _)| t < settled) {
            self.release_one();
        }
        if self.arrivals.is_multiple_of(SWEEP_EVERY) {
            self.sweep();
        }
    }

    /// The (time, arrival) of the hit to release next.
    fn next_release(&self) -> Option<(Timestamp, u64)> {
        let in_order = self.in_order.front().map(|(t, a, _)| (*t, *a));
        let straggler = self.stragglers.peek().map(|Reverse((t, a, _))| (*t, *a));
        match (in_order, straggler) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn release_one(&mut self) {
        let Some((time, arrival)) = self.next_release() else {
            return;
        };
        let mut hit = if self.in_order.front().is_some_and(|(_, a, _)| *a == arrival) {
            self.in_order.pop_front().expect("just seen").2
        } else {
            let Reverse((_, _, OrderedHit(hit))) = self.stragglers.pop().expect("just seen");
            hit
        };
        self.released = Some(time);
        let plan = &self.plan;
        // The group's values become its key: the windows need only the rest of the hit.
        let key = std::mem::take(&mut hit.group);
        let group = self.groups.entry(key).or_insert_with_key(|key| {
            let tier = plan.tier_index(key);
            GroupWindow {
                required: plan.tier_named(tier).1,
                tier,
                recent: VecDeque::new(),
                span: None,
                done: Vec::new(),
                pending: Evidence::default(),
                newest: time,
            }
        });
        group.push(hit, plan.window_seconds);
    }

    /// Drops groups that have no alert span and whose last event is more than a window older
    /// than anything still to come: no later event can close a window with theirs.
    fn sweep(&mut self) {
        let Some(released) = self.released else {
            return;
        };
        let idle_before = released.minus_seconds(self.plan.window_seconds);
        self.groups
            .retain(|_, g| g.span.is_some() || !g.done.is_empty() || g.newest >= idle_before);
    }

    /// Releases every buffered hit and returns one alert per group that reached its count,
    /// ordered by start time, then group.
    #[cfg(test)]
    pub(crate) fn finish(self, field_names: &[String]) -> Vec<Alert> {
        self.finish_leaving(field_names).0
    }

    /// [`ThresholdRun::finish`], handing back the hits still in the windows instead of freeing
    /// them: at the end of a scan they are a third of its hits, and freeing them (a dozen
    /// allocations each, made by the workers) held the alerts up.
    pub(crate) fn finish_leaving(mut self, field_names: &[String]) -> (Vec<Alert>, Spent) {
        while self.next_release().is_some() {
            self.release_one();
        }
        let mut alerts: Vec<Alert> = Vec::new();
        let mut spent = Vec::with_capacity(self.groups.len());
        for (group, mut window) in self.groups {
            spent.push(std::mem::take(&mut window.recent));
            for (start, end, evidence) in window.done.into_iter().chain(window.span) {
                let latest = evidence
                    .latest
                    .map(|(_, values)| values)
                    .unwrap_or_default();
                alerts.push(Alert {
                    detection: self.detection,
                    start,
                    end,
                    event_count: evidence.count,
                    group: self
                        .plan
                        .group_names
                        .iter()
                        .cloned()
                        .zip(group.clone())
                        .collect(),
                    tier: Some((
                        self.plan.tier_named(window.tier).0.to_owned(),
                        window.required,
                    )),
                    fields: field_names
                        .iter()
                        .cloned()
                        .zip(latest.into_iter().chain(std::iter::repeat(None)))
                        .collect(),
                    all_values: field_names
                        .iter()
                        .cloned()
                        .zip(
                            evidence
                                .all_values
                                .into_iter()
                                .chain(std::iter::repeat(Vec::new())),
                        )
                        .collect(),
                    findings: evidence.findings,
                    events: evidence.events,
                });
            }
        }
        alerts.sort_by(|a, b| (a.start, &a.group).cmp(&(b.start, &b.group)));
        (alerts, Spent { _hits: spent })
    }
}

/// The hits a finished threshold run still held, for the caller to free when it suits it.
pub(crate) struct Spent {
    _hits: Vec<VecDeque<Hit>>,
}

/// Per group: how many matching events, and the most within any one window (for explaining
/// why a threshold did not fire). Events must be in time order.
pub(crate) fn window_counts(plan: &ThresholdPlan, hits: &[Hit]) -> Vec<GroupCount> {
    let mut groups: Vec<(Vec<String>, Vec<Timestamp>)> = Vec::new();
    for hit in hits {
        match groups.iter_mut().find(|(g, _)| *g == hit.group) {
            Some((_, times)) => times.push(hit.time()),
            None => groups.push((hit.group.clone(), vec![hit.time()])),
        }
    }
    groups
        .into_iter()
        .map(|(group, times)| {
            let mut most = 0;
            let mut first = 0;
            for (last, t) in times.iter().enumerate() {
                while outside_window(times[first], *t, plan.window_seconds) {
                    first += 1;
                }
                most = most.max(last + 1 - first);
            }
            let (tier, required) = plan.tier(&group);
            GroupCount {
                group: plan.group_names.iter().cloned().zip(group).collect(),
                events: times.len(),
                most_in_window: most,
                tier: tier.to_owned(),
                required,
            }
        })
        .collect()
}

/// A group's events against its threshold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GroupCount {
    pub group: Vec<(String, String)>,
    pub events: usize,
    pub most_in_window: usize,
    pub tier: String,
    pub required: u32,
}
