//! KQL: the query language of Microsoft Sentinel and Azure Monitor log alerts.
//!
//! A compiled query has four stages:
//!
//! 1. a cheap `where` on plain columns implied by the condition (so JSON is only parsed for
//!    candidate rows);
//! 2. field extraction: `extend` for columns and paths, one `mv-apply` per array column for
//!    element and modified-property lookups (arrays are padded with an empty element so a row
//!    is never dropped by an empty array);
//! 3. the full condition;
//! 4. for thresholds, an exact sliding window: with events of a group sorted by time, the
//!    `n`-th event closes a window of `n` when the event `n-1` places earlier is at most `window`
//!    older (`prev()`), which needs no fixed buckets and no self-join; windows whose closing
//!    events are at most `window` apart are one episode (`row_cumsum`), one result.
//!
//! A deployed rule ([`Recency::Arrived`]) reads its look-back and reports only what arrived
//! since the run before: a single event whose `ingestion_time()` is in the run's interval, an
//! episode whose first closing event's is. Every such filter is a `| where` line of its own
//! with `ago(` in it, which the conformance suite's executor drops to run the query over a test
//! case's events, as `rulecast test` reads them (docs/scheduling.md).
//!
//! Literals only reach the text through [`string`]. A catalogue list is bound once with `let`
//! (from the Sentinel watchlist, or inline) and tested with `set_has_element`, never joined.
//!
//! # Operators an offline engine cannot run, and why they stay
//!
//! duckdb-kql (the conformance suite's KQL executor) runs neither `mv-apply`, `prev()` nor
//! `take_anyif`, so the queries that use them are listed by name in
//! conformance/kql-exec-unsupported.txt instead of being executed. The compiler emits each only
//! where the query needs it, and keeps it there because every rewrite without it costs more in
//! Sentinel or changes the meaning:
//!
//! - `mv-apply` + `take_anyif` read a field from the array element whose keys match (the
//!   TargetResources element of type Role, the `ipaddr` entry of AdditionalDetails). It works
//!   row by row and keeps one row per event. The alternatives: `mv-expand` multiplies the rows
//!   by the array length and needs a `summarize ... by` over a unique event key (and every
//!   other column) to fold them back; a fixed index (`TargetResources[2]`) is wrong for the
//!   activities whose array is ordered differently; a regular expression over the array's text
//!   cannot tell which element a value came from. A query whose fields are all columns or paths
//!   has no `mv-apply` (the PIM alert detections, the Activity log ones), and those run offline.
//! - `prev()` closes an exact sliding window in one sorted pass. The alternative, a self-join of
//!   each group's events, grows with the square of a group's size, and `bin()` buckets miss a
//!   burst that straddles two buckets. Only threshold detections use it, and not those whose
//!   count is 1 (one alert per episode, such as the Start and Success records of one Azure
//!   operation): a window of one event starts at the event, so those run offline.

use std::fmt::Write as _;

use super::{
    ColumnRole, Expr, HELPER_PREFIX, OutputColumn, columns, entity_fields, inline_values,
    needed_fields,
};
use crate::catalogue::detection::DEFAULT_TIER;
use crate::catalogue::duration::Duration;
use crate::catalogue::logsource::{ColumnType, FieldValue, LogSourceFile};
use crate::catalogue::{Catalogue, Detection};
use crate::identifier::is_identifier;
use crate::logic::{FieldMatch, ListPosition, Matcher, Shape, list_reference};
use crate::schedule::{IntervalEnd, Report, RunModel};

/// How a catalogue list (e.g. privileged accounts) is read by the query.
#[derive(Clone, Copy)]
pub enum ListBinding<'a> {
    /// Through a Sentinel watchlist (`_GetWatchlist`): for a list's name, the watchlist's alias
    /// and the column holding the values (`SearchKey` is the watchlist's search key), or `None`
    /// for a list without a watchlist, whose values are inlined.
    Watchlist(&'a dyn Fn(&str) -> Option<(&'a str, &'a str)>),
    /// Values inlined into the query (Azure Monitor cannot read watchlists).
    Inline,
}

/// Which windows (or single events) a run of the query reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recency {
    /// Only those whose closing event arrived in the run's interval: `ingestion_time()` in
    /// `(now() - lag - interval, now() - lag]`, over the events of the look-back before
    /// `now() - lag`. Consecutive runs' intervals tile, so each window is reported by exactly
    /// one run (Microsoft's pattern for ingestion delay).
    Arrived {
        interval: Duration,
        lag: Duration,
        lookback: Duration,
    },
    /// Every one in the data the run reads; the platform's state decides what is new (Azure
    /// Monitor's stateful alerts at a one-minute frequency, where `ingestion_time()` is not
    /// allowed), and `rulecast test` reads every event of a case.
    Present,
}

impl Recency {
    /// The recency a target's run model renders.
    pub fn of(model: &RunModel) -> Recency {
        match model.report {
            Report::NewSince { closed } => {
                debug_assert_eq!(closed, IntervalEnd::Later, "KQL intervals are (a, b]");
                Recency::Arrived {
                    interval: model.cadence.period,
                    lag: model.runs_late_by.plus(model.ends_before),
                    lookback: model.lookback,
                }
            }
            Report::Present => Recency::Present,
        }
    }

    /// The condition on an arrival time (`ingestion_time()` or a column holding it) of a new
    /// event, if any: arrived since the run before, and by this run's end.
    fn condition(self, arrival: &str) -> Option<String> {
        let since = self.since(arrival)?;
        Some(match self.settled(arrival) {
            Some(settled) => format!("{since} and {settled}"),
            None => since,
        })
    }

    /// Arrived after the previous run's end.
    fn since(self, arrival: &str) -> Option<String> {
        match self {
            Recency::Arrived { interval, lag, .. } => {
                Some(format!("{arrival} > ago({})", interval.plus(lag).kql()))
            }
            Recency::Present => None,
        }
    }

    /// Arrived by this run's end, `lag` before it executes: what a run reads, so that what
    /// arrives during the lag is the next run's.
    fn settled(self, arrival: &str) -> Option<String> {
        match self {
            Recency::Arrived { lag, .. } if lag.minutes() > 0 => {
                Some(format!("{arrival} <= ago({})", lag.kql()))
            }
            _ => None,
        }
    }

    /// The condition on the event time: the look-back, the same in every target whatever
    /// period the platform itself reads.
    fn time_condition(self, time: &str) -> Option<String> {
        match self {
            Recency::Arrived { lag, lookback, .. } => {
                Some(format!("{time} > ago({})", lookback.plus(lag).kql()))
            }
            Recency::Present => None,
        }
    }
}

/// A compiled query and the columns it outputs.
#[derive(Debug, Clone)]
pub struct Query {
    pub text: String,
    pub columns: Vec<OutputColumn>,
}

/// A KQL string literal that denotes exactly `value`.
///
/// Verbatim literals (`@"..."`, only `"` is doubled) keep regular expressions readable; text
/// with control characters uses an escaped literal instead.
pub fn string(value: &str) -> String {
    let has_control = value.chars().any(char::is_control);
    if value.contains('\\') && !has_control {
        return format!("@\"{}\"", value.replace('"', "\"\""));
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A column or variable name, bracket-quoted when it is not a plain identifier or is a word
/// KQL reserves.
pub fn name(identifier: &str) -> String {
    const RESERVED: [&str; 12] = [
        "and", "or", "not", "in", "by", "on", "with", "as", "let", "set", "true", "false",
    ];
    let plain =
        is_identifier(identifier) && !RESERVED.contains(&identifier.to_ascii_lowercase().as_str());
    if plain {
        identifier.to_owned()
    } else {
        format!("[{}]", string(identifier))
    }
}

/// `base.a.b` with bracket access for segments that are not identifiers.
fn path(base: &str, dotted: &str) -> String {
    let mut out = base.to_owned();
    for segment in dotted.split('.') {
        if is_identifier(segment) {
            let _ = write!(out, ".{segment}");
        } else {
            let _ = write!(out, "[{}]", string(segment));
        }
    }
    out
}

/// Expression that pads an array so `mv-apply` always sees at least one (empty) element.
fn padded(array: &str) -> String {
    format!("array_concat(iff(array_length({array}) > 0, {array}, dynamic([])), dynamic([{{}}]))")
}

fn list_variable(list: &str) -> String {
    format!("{HELPER_PREFIX}list_{}", list.replace('.', "_"))
}

/// A threshold tier: its condition, the events it needs and its name (the default tier has no
/// condition).
type TierCount = (Option<String>, u32, String);

/// The stages of a detection's query that no target setting changes (neither the list
/// binding nor the recency): the `where` on plain columns, the field extraction, the condition
/// and the findings. Sentinel and Azure Monitor compile the same detection, so a build makes
/// these once per detection ([`crate::targets::RenderContext::kql_parts`]) and each target
/// wraps them in its own binding and schedule.
#[derive(Debug, Clone)]
pub struct Parts {
    /// The condition on plain columns, if any (stage 1).
    necessary: Option<String>,
    /// The extraction stages ([`prelude`]).
    prelude: String,
    /// The full condition.
    condition: String,
    /// The condition of each labelled finding, and its label.
    findings: Vec<(String, String)>,
}

impl Parts {
    pub fn of(catalogue: &Catalogue, detection: &Detection) -> Parts {
        let source = catalogue.logsource(detection);
        let condition = Expr::of(detection);
        let field_ref = |f: &str| name(f);
        Parts {
            necessary: condition
                .necessary_plain(source)
                .map(|pre| render(&pre, &|f| column_ref(source, f), catalogue, true)),
            prelude: prelude(source, &needed_fields(detection)),
            condition: render(&condition, &field_ref, catalogue, true),
            findings: detection
                .meta
                .findings
                .iter()
                .map(|(selection, label)| {
                    (
                        render(
                            &Expr::selection(detection, selection),
                            &field_ref,
                            catalogue,
                            false,
                        ),
                        label.clone(),
                    )
                })
                .collect(),
        }
    }
}

/// Compiles a detection to KQL, reporting what `recency` says a run reports.
pub fn compile(
    catalogue: &Catalogue,
    detection: &Detection,
    binding: ListBinding,
    recency: Recency,
) -> Query {
    compile_parts(
        catalogue,
        detection,
        &Parts::of(catalogue, detection),
        binding,
        recency,
    )
}

/// [`compile`] from the detection's [`Parts`], already made.
pub fn compile_parts(
    catalogue: &Catalogue,
    detection: &Detection,
    parts: &Parts,
    binding: ListBinding,
    recency: Recency,
) -> Query {
    let source = catalogue.logsource(detection);
    let needed = needed_fields(detection);
    let time = name(&source.time_column);
    let mut text = String::new();

    // Lists read by threshold tiers and whole-value `expand` matches, each bound once to a set
    // of lower-cased values (a list matched in part is written out where it is used).
    let tier_lists: Vec<&str> = detection
        .meta
        .threshold
        .iter()
        .flat_map(|t| t.tiers.iter().map(|tier| tier.list.as_str()))
        .collect();
    let whole = |list: &str| {
        detection
            .field_matches()
            .flat_map(|m| &m.matchers)
            .any(|m| matches!(m, Matcher::InList { list: l, position: ListPosition::Whole } if l == list))
    };
    for list in super::lists_used(detection)
        .into_iter()
        .filter(|l| tier_lists.contains(l) || whole(l))
    {
        let (base, names) = list_reference(list);
        let watchlist = match binding {
            ListBinding::Watchlist(watchlist) => watchlist(base),
            ListBinding::Inline => None,
        };
        let value = match watchlist {
            Some((alias, column)) => {
                // The watchlist file rulecast writes has a `name` column beside the values.
                let item = if names {
                    path("WatchlistItem", super::LIST_NAME_COLUMN)
                } else if column == "SearchKey" {
                    "SearchKey".to_owned()
                } else {
                    path("WatchlistItem", column)
                };
                format!(
                    "toscalar(_GetWatchlist({}) | summarize make_set(tolower(tostring({item}))))",
                    string(alias)
                )
            }
            None => format!(
                "dynamic([{}])",
                inline_values(catalogue, list)
                    .iter()
                    .map(|v| string(v))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let _ = writeln!(text, "let {} = {value};", list_variable(list));
    }

    let mut pipeline = String::new();
    let _ = write!(pipeline, "{}", name(&source.table));
    if let Some(recent) = recency.time_condition(&time) {
        let _ = write!(pipeline, "\n| where {recent}");
    }
    // A single event is new when it arrived in the run's interval, which is cheapest to test
    // first; a window is new when its closing event did, so every event keeps its arrival.
    let arrival = format!("{HELPER_PREFIX}ingested");
    match (
        &detection.meta.threshold,
        recency.condition("ingestion_time()"),
    ) {
        (None, Some(arrived)) => {
            let _ = write!(pipeline, "\n| where {arrived}");
        }
        (Some(_), Some(_)) => {
            if let Some(settled) = recency.settled("ingestion_time()") {
                let _ = write!(pipeline, "\n| where {settled}");
            }
            let _ = write!(pipeline, "\n| extend {arrival} = ingestion_time()");
        }
        (_, None) => {}
    }
    if let Some(pre) = &parts.necessary {
        let _ = write!(pipeline, "\n| where {pre}");
    }
    pipeline.push_str(&parts.prelude);
    let _ = write!(pipeline, "\n| where {}", parts.condition);

    let findings = &parts.findings;
    if !findings.is_empty() {
        let labelled: Vec<String> = findings
            .iter()
            .map(|(expr, label)| format!("iff({expr}, {}, \"\")", string(&format!("{label}; "))))
            .collect();
        let _ = write!(
            pipeline,
            "\n| extend {} = trim_end(@\"; \", strcat({}))",
            columns::FINDINGS,
            labelled.join(", ")
        );
    }

    let mut output = Vec::new();
    match &detection.meta.threshold {
        None => {
            let mut project = vec![time.clone()];
            output.push(OutputColumn {
                name: source.time_column.clone(),
                role: ColumnRole::Time,
            });
            for f in &needed {
                project.push(name(f));
                output.push(OutputColumn {
                    name: (*f).to_owned(),
                    role: role_of(detection, f),
                });
            }
            if !findings.is_empty() {
                project.push(columns::FINDINGS.to_owned());
                output.push(OutputColumn {
                    name: columns::FINDINGS.to_owned(),
                    role: ColumnRole::Detail,
                });
            }
            let _ = write!(pipeline, "\n| project {}", project.join(", "));
            text.push_str(&pipeline);
        }
        Some(threshold) => {
            let group: Vec<String> = threshold.group_by.iter().map(|f| name(f)).collect();
            // Events without a value for a group-by field never count (as in pySigma).
            let _ = write!(
                pipeline,
                "\n| where {}",
                group
                    .iter()
                    .map(|g| format!("isnotempty({g})"))
                    .collect::<Vec<_>>()
                    .join(" and ")
            );
            let mut counts: Vec<TierCount> = Vec::new();
            for tier in &threshold.tiers {
                let field = name(&tier.field);
                counts.push((
                    Some(format!(
                        "set_has_element({}, tolower({field}))",
                        list_variable(&tier.list)
                    )),
                    tier.count,
                    tier.name.clone(),
                ));
            }
            counts.push((None, threshold.count, DEFAULT_TIER.to_owned()));
            let case = |pick: &dyn Fn(&TierCount) -> String| -> String {
                if counts.len() == 1 {
                    return pick(&counts[0]);
                }
                let mut args: Vec<String> = Vec::new();
                for c in &counts {
                    match &c.0 {
                        Some(cond) => {
                            args.push(cond.clone());
                            args.push(pick(c));
                        }
                        None => args.push(pick(c)),
                    }
                }
                format!("case({})", args.join(", "))
            };
            let tier_expr = case(&|c| string(&c.2));
            let required_expr = case(&|c| c.1.to_string());
            let _ = write!(
                pipeline,
                "\n| extend {HELPER_PREFIX}tier = {tier_expr}, {HELPER_PREFIX}required = {required_expr}"
            );
            let _ = writeln!(text, "let {HELPER_PREFIX}matches = {pipeline};");

            let mut distinct: Vec<u32> = counts.iter().map(|c| c.1).collect();
            distinct.sort_unstable();
            distinct.dedup();
            let by = group.join(", ");
            // An episode is new when its first arrived closing event is: the windows that
            // arrived before were reported, with their episode, by an earlier run.
            let arrived = recency
                .since(&format!("{HELPER_PREFIX}arrived"))
                .map(|since| (arrival.as_str(), since));
            let window = threshold.window.kql();
            if distinct == [1] {
                text.push_str(&single_event_windows(&group, &time, &window, arrived));
            } else {
                text.push_str(&sliding_windows(&group, &time, &window, &distinct, arrived));
            }
            let others = super::summary_fields(detection);
            let mut aggregates = vec![
                format!("{} = min({time})", columns::START_TIME),
                format!("{} = max({time})", columns::END_TIME),
                format!("{} = count()", columns::EVENT_COUNT),
            ];
            if others.is_empty() {
                aggregates.push(format!("{time} = max({time})"));
            } else {
                aggregates.push(format!(
                    "arg_max({time}, {})",
                    others
                        .iter()
                        .map(|f| name(f))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                for f in &others {
                    aggregates.push(format!("{} = make_set({}, 100)", all_name(f), name(f)));
                }
            }
            if !findings.is_empty() {
                aggregates.push(format!(
                    "All{} = make_set({}, 100)",
                    columns::FINDINGS,
                    columns::FINDINGS
                ));
            }
            let _ = write!(
                text,
                "{p}windows\n| join kind=inner ({p}matches) on {by}\n| where {time} between ({p}first .. {p}last)\n| summarize {aggregates}\n    by {by}, {p}episode, {tier} = {p}tier, {required} = {p}required",
                p = HELPER_PREFIX,
                aggregates = aggregates.join(",\n    "),
                tier = columns::TIER,
                required = columns::REQUIRED_COUNT,
            );
            let mut project = vec![time.clone()];
            output.push(OutputColumn {
                name: source.time_column.clone(),
                role: ColumnRole::Time,
            });
            for f in &threshold.group_by {
                project.push(name(f));
                output.push(OutputColumn {
                    name: f.clone(),
                    role: role_of(detection, f),
                });
            }
            for c in [
                columns::START_TIME,
                columns::END_TIME,
                columns::EVENT_COUNT,
                columns::REQUIRED_COUNT,
                columns::TIER,
            ] {
                project.push(c.to_owned());
                output.push(OutputColumn {
                    name: c.to_owned(),
                    role: ColumnRole::Summary,
                });
            }
            for f in &others {
                project.push(name(f));
                output.push(OutputColumn {
                    name: (*f).to_owned(),
                    role: role_of(detection, f),
                });
            }
            for f in &others {
                project.push(all_name(f));
                output.push(OutputColumn {
                    name: all_name(f),
                    role: ColumnRole::Summary,
                });
            }
            if !findings.is_empty() {
                let all = format!("All{}", columns::FINDINGS);
                project.push(all.clone());
                output.push(OutputColumn {
                    name: all,
                    role: ColumnRole::Detail,
                });
            }
            let _ = write!(text, "\n| project {}", project.join(", "));
        }
    }
    Query {
        text,
        columns: output,
    }
}

/// The arrival column of the matches, and the condition a new episode's earliest arrival
/// meets; `None` when every episode is reported.
type EpisodeArrival<'a> = Option<(&'a str, String)>;

/// `_rc_windows`: per group and episode, the first event and the last closing event of the
/// episodes a run reports. The `n`-th event of a group closes a window when the event `n-1`
/// places earlier is at most `window` older (`prev()`, one sorted pass); windows whose closing
/// events are at most `window` apart (the `window` before each overlap or touch) are one
/// episode, numbered by a running sum of the episodes' starts.
fn sliding_windows(
    group: &[String],
    time: &str,
    window: &str,
    counts: &[u32],
    arrived: EpisodeArrival,
) -> String {
    let p = HELPER_PREFIX;
    let same_group = |k: u32| {
        group
            .iter()
            .map(|g| format!("prev({g}, {}) == {g}", k - 1))
            .collect::<Vec<_>>()
            .join(" and ")
    };
    // A window of one event starts at the event itself.
    let starts: Vec<String> = counts
        .iter()
        .map(|k| match k {
            1 => format!("{p}start_1 = {time}"),
            _ => format!(
                "{p}start_{k} = iff({}, prev({time}, {}), datetime(null))",
                same_group(*k),
                k - 1
            ),
        })
        .collect();
    let start_expr = if counts.len() == 1 {
        format!("{p}start_{}", counts[0])
    } else {
        let mut args = Vec::new();
        for k in &counts[..counts.len() - 1] {
            args.push(format!("{p}required == {k}"));
            args.push(format!("{p}start_{k}"));
        }
        args.push(format!("{p}start_{}", counts[counts.len() - 1]));
        format!("case({})", args.join(", "))
    };
    let sort = group
        .iter()
        .map(|g| format!("{g} asc"))
        .collect::<Vec<_>>()
        .join(", ");
    let column = arrived.as_ref().map_or("", |a| a.0);
    let (arrival_aggregate, new_episode) = episode_arrival(&arrived, column);
    format!(
        "let {p}windows = {p}matches\n| sort by {sort}, {time} asc\n| extend {}\n| extend {p}start = {start_expr}\n| where isnotnull({p}start) and {time} - {p}start <= {window}\n| extend {p}episode = row_cumsum(iff({} and {time} - prev({time}) <= {window}, 0, 1))\n| summarize {p}first = min({p}start), {p}last = max({time}){arrival_aggregate} by {}, {p}episode{new_episode};\n",
        starts.join(",\n    "),
        same_group(2),
        group.join(", ")
    )
}

/// The aggregate of an episode's earliest arrival (of `column`) and the filter on it, as text
/// to splice in.
fn episode_arrival(arrived: &EpisodeArrival, column: &str) -> (String, String) {
    match arrived {
        Some((_, since)) => (
            format!(", {HELPER_PREFIX}arrived = min({column})"),
            format!("\n| where {since}"),
        ),
        None => (String::new(), String::new()),
    }
}

/// `_rc_windows` when every window is one event (a count of 1 groups the records of one
/// operation): an episode starts at each event that has none of its group at most `window`
/// before it. Joins instead of `prev()`: such groups are a few records, and the query then
/// runs in an offline engine too.
fn single_event_windows(
    group: &[String],
    time: &str,
    window: &str,
    arrived: EpisodeArrival,
) -> String {
    let p = HELPER_PREFIX;
    let by = group.join(", ");
    let (arrival_aggregate, new_episode) = episode_arrival(&arrived, &format!("{p}arrival"));
    let (closes, close_keys) = match &arrived {
        Some((column, _)) => (
            format!("| summarize {p}arrival = min({column}) by {by}, {p}close = {time}"),
            format!("{by}, {p}close, {p}arrival"),
        ),
        None => (
            format!("| project {by}, {p}close = {time}\n| distinct {by}, {p}close"),
            format!("{by}, {p}close"),
        ),
    };
    format!(
        "let {p}closes = {p}matches\n{closes};\n\
         let {p}followers = {p}closes\n| join kind=inner ({p}closes | project {by}, {p}before = {p}close) on {by}\n| where {p}before < {p}close and {p}close - {p}before <= {window}\n| distinct {by}, {p}close;\n\
         let {p}windows = {p}closes\n| join kind=inner ({p}closes | join kind=leftanti ({p}followers) on {by}, {p}close | project {by}, {p}episode = {p}close) on {by}\n| where {p}episode <= {p}close\n| summarize {p}episode = max({p}episode) by {close_keys}\n| summarize {p}last = max({p}close){arrival_aggregate} by {by}, {p}episode{new_episode}\n| extend {p}first = {p}episode;\n"
    )
}

/// The stages that make `fields` columns of the table's rows: one `mv-apply` per array column
/// for element lookups, then an `extend` for every field that is not a column of its own name.
/// Starts with a newline; empty when every field is a plain column.
pub(crate) fn prelude(source: &LogSourceFile, fields: &[&str]) -> String {
    let mut extraction = Extraction::new(source);
    let derived: Vec<String> = fields
        .iter()
        .filter(|f| source.fields[**f].value.as_plain_column() != Some(**f))
        .map(|f| {
            format!(
                "{} = {}",
                name(f),
                extraction.expression(&source.fields[*f].value)
            )
        })
        .collect();
    let mut out = extraction.stages();
    if !derived.is_empty() {
        let _ = write!(out, "\n| extend {}", derived.join(",\n    "));
    }
    out
}

/// Name of the column listing every value of `field` in a threshold alert.
pub(crate) fn all_name(field: &str) -> String {
    format!("All{field}")
}

fn role_of(detection: &Detection, field: &str) -> ColumnRole {
    entity_fields(detection)
        .into_iter()
        .find(|(_, f)| *f == field)
        .map(|(slot, _)| ColumnRole::Entity(slot))
        .unwrap_or(ColumnRole::Detail)
}

/// Reference to a plain field through its column (used before fields are extended).
fn column_ref(source: &LogSourceFile, field: &str) -> String {
    let column = source.fields[field]
        .value
        .as_plain_column()
        .unwrap_or(field);
    match source.columns.get(column).map(|c| c.kind) {
        Some(ColumnType::Dynamic) => format!("tostring({})", name(column)),
        _ => name(column),
    }
}

/// Collects the extraction stages (mv-apply per array column) a query needs.
struct Extraction<'a> {
    source: &'a LogSourceFile,
    arrays: Vec<ArrayLookups>,
    counter: usize,
}

struct ArrayLookups {
    column: String,
    with_properties: bool,
    aggregates: Vec<(String, String)>,
}

impl<'a> Extraction<'a> {
    fn new(source: &'a LogSourceFile) -> Self {
        Extraction {
            source,
            arrays: Vec::new(),
            counter: 0,
        }
    }

    fn temp(&mut self) -> String {
        self.counter += 1;
        format!("{HELPER_PREFIX}v{}", self.counter)
    }

    fn group(&mut self, column: &str) -> &mut ArrayLookups {
        if let Some(i) = self.arrays.iter().position(|a| a.column == column) {
            return &mut self.arrays[i];
        }
        self.arrays.push(ArrayLookups {
            column: column.to_owned(),
            with_properties: false,
            aggregates: Vec::new(),
        });
        self.arrays.last_mut().unwrap()
    }

    /// The scalar KQL expression of a field value, registering any array lookups it needs.
    fn expression(&mut self, value: &FieldValue) -> String {
        match value {
            FieldValue::Column { column, path: None } => match self.source.columns[column].kind {
                ColumnType::Dynamic => format!("tostring({})", name(column)),
                _ => name(column),
            },
            FieldValue::Column {
                column,
                path: Some(p),
            } => format!("tostring({})", path(&name(column), p)),
            FieldValue::At { at } => format!(
                "tostring({})",
                path(&format!("{}[{}]", name(&at.column), at.index), &at.path)
            ),
            FieldValue::Text { text } => format!("tostring({})", name(text)),
            FieldValue::Element { element } => {
                let conditions: Vec<String> = element
                    .matching
                    .iter()
                    .map(|(k, v)| {
                        format!(
                            "tostring({}) =~ {}",
                            path(&format!("{HELPER_PREFIX}item"), k),
                            string(v)
                        )
                    })
                    .collect();
                let aggregate = format!(
                    "take_anyif(tostring({}), {})",
                    path(&format!("{HELPER_PREFIX}item"), &element.path),
                    conditions.join(" and ")
                );
                let temp = self.temp();
                self.group(&element.column)
                    .aggregates
                    .push((temp.clone(), aggregate));
                temp
            }
            FieldValue::ModifiedProperty {
                modified_property: m,
            } => {
                let aggregate = format!(
                    "take_anyif(tostring({p}prop.{side}), tostring({p}prop.displayName) =~ {name})",
                    p = HELPER_PREFIX,
                    side = m.side.key(),
                    name = string(&m.name)
                );
                let temp = self.temp();
                let group = self.group(&m.column);
                group.with_properties = true;
                group.aggregates.push((temp.clone(), aggregate));
                // Entra stores these values JSON-encoded ("\"Global Administrator\"").
                format!(
                    "iff({temp} matches regex @'^\".*\"$', tostring(parse_json({temp})), {temp})"
                )
            }
            FieldValue::FirstOf { first_of } => {
                let parts: Vec<String> = first_of.iter().map(|v| self.expression(v)).collect();
                format!("coalesce({})", parts.join(", "))
            }
        }
    }

    /// The `mv-apply` stages, one per array column.
    fn stages(&self) -> String {
        let mut out = String::new();
        for array in &self.arrays {
            let p = HELPER_PREFIX;
            let _ = write!(
                out,
                "\n| mv-apply {p}item = {} on (\n    ",
                padded(&name(&array.column))
            );
            if array.with_properties {
                let _ = write!(
                    out,
                    "extend {p}props = {}\n    | mv-expand {p}prop = {p}props\n    | ",
                    padded(&format!("{p}item.modifiedProperties"))
                );
            }
            let aggregates: Vec<String> = array
                .aggregates
                .iter()
                .map(|(t, a)| format!("{t} = {a}"))
                .collect();
            let _ = write!(out, "summarize {}\n    )", aggregates.join(",\n        "));
        }
        out
    }
}

/// Renders an expression; `top` leaves the outermost level unparenthesised.
fn render(expr: &Expr, field: &dyn Fn(&str) -> String, catalogue: &Catalogue, top: bool) -> String {
    let wrap = |s: String| if top { s } else { format!("({s})") };
    match expr {
        Expr::Match(m) => {
            let s = field_match(m, field, catalogue);
            if top || !s.contains(" or ") && !s.contains(" and ") {
                s
            } else {
                format!("({s})")
            }
        }
        Expr::And(items) => wrap(
            items
                .iter()
                .map(|e| render(e, field, catalogue, false))
                .collect::<Vec<_>>()
                .join(" and "),
        ),
        Expr::Or(items) => wrap(
            items
                .iter()
                .map(|e| render(e, field, catalogue, false))
                .collect::<Vec<_>>()
                .join(" or "),
        ),
        Expr::Not(inner) => format!("not({})", render(inner, field, catalogue, true)),
    }
}

fn field_match(m: &FieldMatch, field: &dyn Fn(&str) -> String, catalogue: &Catalogue) -> String {
    let f = field(&m.field);
    let mut parts: Vec<String> = Vec::new();
    // Exact, case-insensitive values combine into one `in~`.
    let exact: Vec<String> = if m.all {
        Vec::new()
    } else {
        m.matchers
            .iter()
            .filter_map(|x| match x {
                Matcher::Pattern {
                    pattern,
                    cased: false,
                } => match pattern.shape() {
                    Shape::Exact(s) if !s.is_empty() => Some(s),
                    _ => None,
                },
                _ => None,
            })
            .collect()
    };
    if exact.len() > 1 {
        parts.push(format!(
            "{f} in~ ({})",
            exact
                .iter()
                .map(|s| string(s))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    for x in &m.matchers {
        if exact.len() > 1
            && let Matcher::Pattern {
                pattern,
                cased: false,
            } = x
            && matches!(pattern.shape(), Shape::Exact(ref s) if !s.is_empty())
        {
            continue;
        }
        parts.push(matcher(&f, x, catalogue));
    }
    let joiner = if m.all { " and " } else { " or " };
    parts.join(joiner)
}

/// One matcher on the field reference `f`; `catalogue` gives the inline values of a list
/// matched in part.
fn matcher(f: &str, m: &Matcher, catalogue: &Catalogue) -> String {
    match m {
        Matcher::Pattern { pattern, cased } => {
            let cs = if *cased { "_cs" } else { "" };
            match pattern.shape() {
                Shape::Exact(s) if s.is_empty() => format!("isempty({f})"),
                Shape::Exact(s) => {
                    format!("{f} {} {}", if *cased { "==" } else { "=~" }, string(&s))
                }
                Shape::Contains(s) => format!("{f} contains{cs} {}", string(&s)),
                Shape::StartsWith(s) => format!("{f} startswith{cs} {}", string(&s)),
                Shape::EndsWith(s) => format!("{f} endswith{cs} {}", string(&s)),
                Shape::Anything => format!("isnotempty({f})"),
                Shape::Complex => {
                    let flag = if *cased { "" } else { "(?i)" };
                    format!(
                        "{f} matches regex {}",
                        string(&format!("{flag}{}", pattern.to_regex()))
                    )
                }
            }
        }
        Matcher::Regex {
            regex,
            case_insensitive,
        } => {
            let flag = if *case_insensitive { "(?i)" } else { "" };
            format!("{f} matches regex {}", string(&format!("{flag}{regex}")))
        }
        Matcher::Empty | Matcher::Exists(false) => format!("isempty({f})"),
        Matcher::Exists(true) => format!("isnotempty({f})"),
        Matcher::InList {
            list,
            position: ListPosition::Whole,
        } => format!("set_has_element({}, tolower({f}))", list_variable(list)),
        // Validated: a list matched in part has no watchlist, so its values are the query's.
        Matcher::InList { list, position } => {
            let parts: Vec<String> = inline_values(catalogue, list)
                .iter()
                .map(|v| matcher(f, &position.matcher(v), catalogue))
                .collect();
            if parts.len() == 1 {
                parts.join("")
            } else {
                format!("({})", parts.join(" or "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_literals_escape_what_kql_needs() {
        assert_eq!(string("plain"), "\"plain\"");
        assert_eq!(string("say \"hi\""), "\"say \\\"hi\\\"\"");
        assert_eq!(string(r"C:\temp"), "@\"C:\\temp\"");
        assert_eq!(string("a\"b\\c"), "@\"a\"\"b\\c\"");
        assert_eq!(string("line\nnext\ttab\r"), "\"line\\nnext\\ttab\\r\"");
        assert_eq!(string("bell\u{7}"), "\"bell\\u0007\"");
        assert_eq!(string("a\\b\nc"), "\"a\\\\b\\nc\"");
        assert_eq!(string("{{ x }} | $y 'z' é"), "\"{{ x }} | $y 'z' é\"");
    }

    #[test]
    fn names_are_quoted_when_needed() {
        assert_eq!(name("Actor"), "Actor");
        assert_eq!(name("on"), "[\"on\"]");
        assert_eq!(name("a-b"), "[\"a-b\"]");
    }

    #[test]
    fn paths_use_brackets_for_odd_segments() {
        assert_eq!(
            path("InitiatedBy", "user.userPrincipalName"),
            "InitiatedBy.user.userPrincipalName"
        );
        assert_eq!(path("x", "claims.http://a/b"), "x.claims[\"http://a/b\"]");
    }
}
