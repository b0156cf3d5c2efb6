//! SPL: Splunk searches over the `azure:monitor:aad` diagnostic records.
//!
//! The search reads the source macro, filters on plain fields, extracts JSON with `spath` (an
//! array is read element by element with `mvmap`/`mvfind`, because Splunk's flattened
//! `targetResources{}.displayName` drops elements that lack the key and so misaligns positions),
//! normalises every field to a string (missing = ""), then applies the condition with `where`,
//! which, unlike `search`, has no wildcard or term semantics to escape.
//!
//! Thresholds use `streamstats` windows per group over time-sorted events: the `n`-th event
//! closes a window when the first of the last `n` events is at most `window` older. A deployed
//! run reports only the windows whose closing event was indexed since the run before
//! (`_indextime` against `addinfo`'s `info_max_time`); windows at most a window apart are one
//! episode, one result, and an event belongs to the episode of the nearest closing event at or
//! after it, carried back by a newest-first `streamstats`.
//!
//! Literals only reach the text through [`string`].

use std::fmt::Write as _;

use super::{ColumnRole, Expr, HELPER_PREFIX, OutputColumn, columns, needed_fields};
use crate::catalogue::detection::DEFAULT_TIER;
use crate::catalogue::duration::Duration;
use crate::catalogue::logsource::{FieldValue, LogSourceFile};
use crate::catalogue::{Catalogue, Detection};
use crate::identifier::is_identifier;
use crate::logic::{FieldMatch, ListPosition, Matcher, Shape, list_reference};
use crate::schedule::{IntervalEnd, Report, RunModel};

/// A compiled search and the fields it outputs.
#[derive(Debug, Clone)]
pub struct Search {
    pub text: String,
    pub columns: Vec<OutputColumn>,
    /// Macros the search calls: (name, number of arguments).
    pub macros: Vec<(String, usize)>,
    /// Lookups the search calls.
    pub lookups: Vec<String>,
}

/// An SPL eval string expression that denotes exactly `value`.
///
/// Quotes and backslashes are escaped inside `"..."`. Characters that cannot appear literally
/// are produced with `urldecode()`: control characters (a `.conf` value is one line) and the
/// backtick (Splunk expands macros between backticks even inside quoted strings).
pub fn string(value: &str) -> String {
    // Most values have nothing that needs `urldecode()`: one quoted piece, written directly.
    if !value.chars().any(|c| c.is_control() || c == '`') {
        let mut out = String::with_capacity(value.len() + 2);
        out.push('"');
        for c in value.chars() {
            push_in_quotes(&mut out, c);
        }
        out.push('"');
        return out;
    }
    let mut parts: Vec<String> = Vec::new();
    let mut current = String::new();
    let flush = |current: &mut String, parts: &mut Vec<String>| {
        if !current.is_empty() {
            parts.push(format!("\"{}\"", std::mem::take(current)));
        }
    };
    for c in value.chars() {
        match c {
            c if c.is_control() || c == '`' => {
                flush(&mut current, &mut parts);
                let mut buf = [0u8; 4];
                let encoded = c
                    .encode_utf8(&mut buf)
                    .bytes()
                    .fold(String::new(), |mut hex, b| {
                        let _ = write!(hex, "%{b:02X}");
                        hex
                    });
                parts.push(format!("urldecode(\"{encoded}\")"));
            }
            c => push_in_quotes(&mut current, c),
        }
    }
    flush(&mut current, &mut parts);
    match parts.len() {
        0 => "\"\"".to_owned(),
        1 => parts.pop().unwrap(),
        _ => parts.join("."),
    }
}

/// `c` inside an SPL `"..."` string: quotes and backslashes escaped.
fn push_in_quotes(out: &mut String, c: char) {
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        c => out.push(c),
    }
}

/// A field reference in `eval`/`where`: bare when it is an identifier, otherwise single-quoted.
pub fn field(name: &str) -> String {
    if is_identifier(name) {
        name.to_owned()
    } else {
        format!("'{}'", name.replace('\\', "\\\\").replace('\'', "\\'"))
    }
}

/// What a search reads besides the events' fields, as the Splunk app defines it.
#[derive(Clone, Copy)]
pub struct Binding<'a, 'l> {
    /// The macro that selects the log source's events.
    pub source_macro: &'a str,
    /// The per-detection tuning macro every search ends with.
    pub filter_macro: &'a str,
    /// The lists' lookups.
    pub lookup: &'a LookupOf<'a, 'l>,
}

/// For a list's name, its lookup: the lookup definition and the CSV field of the values; `None`
/// for a list without a lookup, whose values are inlined.
pub type LookupOf<'a, 'l> = dyn Fn(&str) -> Option<(&'l str, &'l str)> + 'a;

/// Which windows (or single events) a run of the search reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recency {
    /// Only those whose closing event was indexed in the `interval` before the search's
    /// latest time: `_indextime` in `[info_max_time - interval, info_max_time)`. Consecutive
    /// runs' intervals tile, so each window is reported by exactly one run.
    Indexed { interval: Duration },
    /// Every one in the events searched.
    Present,
}

impl Recency {
    /// The recency a target's run model renders.
    pub fn of(model: &RunModel) -> Recency {
        match model.report {
            Report::NewSince { closed } => {
                debug_assert_eq!(closed, IntervalEnd::Earlier, "index-time bounds are [a, b)");
                Recency::Indexed {
                    interval: model.cadence.period,
                }
            }
            Report::Present => Recency::Present,
        }
    }

    /// The condition on a new event's index time, if any (after `addinfo`).
    fn condition(self) -> Option<String> {
        Some(format!(
            "{} AND {}",
            self.since("_indextime")?,
            self.settled()?
        ))
    }

    /// Indexed after the previous run's end.
    fn since(self, indexed: &str) -> Option<String> {
        match self {
            Recency::Indexed { interval } => {
                Some(format!("{indexed}>=info_max_time-{}", interval.seconds()))
            }
            Recency::Present => None,
        }
    }

    /// Indexed by this run's end: what a run reads, so that what is indexed during the lag is
    /// the next run's.
    fn settled(self) -> Option<String> {
        match self {
            Recency::Indexed { .. } => Some("_indextime<info_max_time".to_owned()),
            Recency::Present => None,
        }
    }
}

/// Index terms every event the expression matches holds in its raw text (a necessary
/// condition, never a sufficient one), or None when none can be said. A value is a term only
/// if it reads the same in the raw JSON: printable ASCII without quotes, backslashes, slashes
/// or characters a JSON writer may escape, and no wildcard. Terms are case-insensitive, as
/// the field tests they stand before may be.
fn search_terms(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Match(m) => {
            let terms: Vec<String> = m.matchers.iter().map(term).collect::<Option<_>>()?;
            let terms = distinct(terms);
            match terms.as_slice() {
                [] => None,
                [one] => Some(one.clone()),
                _ if m.all => Some(terms.join(" ")),
                _ => Some(format!("({})", terms.join(" OR "))),
            }
        }
        // A conjunct without terms is left out: the others still hold. Parenthesised, because
        // Splunk binds OR tighter than the implied AND (`a b OR c` is `a (b OR c)`).
        Expr::And(items) => {
            let parts = distinct(items.iter().filter_map(search_terms).collect());
            match parts.as_slice() {
                [] => None,
                [one] => Some(one.clone()),
                _ => Some(format!("({})", parts.join(" "))),
            }
        }
        // Every branch must say a term, or an event of the silent branch would be lost.
        Expr::Or(items) => {
            let parts: Vec<String> = items.iter().map(search_terms).collect::<Option<_>>()?;
            match distinct(parts).as_slice() {
                [one] => Some(one.clone()),
                parts => Some(format!("({})", parts.join(" OR "))),
            }
        }
        Expr::Not(_) => None,
    }
}

/// The items in their first order, each once.
fn distinct(items: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// The term of one matcher: its longest literal, quoted.
fn term(matcher: &Matcher) -> Option<String> {
    let Matcher::Pattern { pattern, .. } = matcher else {
        return None;
    };
    let literal = pattern
        .pieces
        .iter()
        .filter_map(|p| match p {
            crate::logic::pattern::Piece::Literal(text) => Some(text),
            _ => None,
        })
        .max_by_key(|text| text.len())?;
    let plain = literal.trim().len() >= 2
        && literal
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || " -_.:(),;".contains(c));
    plain.then(|| format!("\"{literal}\""))
}

/// Compiles a detection to SPL, reporting what `recency` says a run reports.
pub fn compile(
    catalogue: &Catalogue,
    detection: &Detection,
    binding: &Binding,
    recency: Recency,
) -> Search {
    let source = catalogue.logsource(detection);
    let needed = needed_fields(detection);
    let condition = Expr::of(detection);
    let mut macros = vec![(binding.source_macro.to_owned(), 0)];
    let mut lookups = Vec::new();
    let mut text = format!("`{}`", binding.source_macro);
    let pre = condition.necessary_plain(source);
    if let Some(terms) = pre.as_ref().and_then(search_terms) {
        // Terms before the first pipe are looked up in the index, so indexers fetch and parse
        // only the events that hold them; the exact, field-aware test follows.
        let _ = write!(text, " {terms}");
    }
    if let Some(pre) = pre {
        let raw = |f: &str| field(&diagnostic_path(source, f));
        let _ = write!(
            text,
            "\n| where {}",
            render(
                &pre,
                &|f| format!("coalesce({}, \"\")", raw(f)),
                &Lists::none(catalogue),
                true
            )
        );
    }
    // A single event is new when it was indexed in the run's interval; a window when its
    // closing event was, so the search's bounds are added to every event.
    let indexed = recency.condition();
    if recency != Recency::Present {
        text.push_str("\n| addinfo");
    }
    let filter = match detection.meta.threshold {
        None => indexed,
        Some(_) => recency.settled(),
    };
    if let Some(filter) = filter {
        let _ = write!(text, "\n| where {filter}");
    }
    text.push_str(&prelude(source, &needed));
    let lists = Lists::new(catalogue, detection, binding);
    for ((list, on), flag) in &lists.flags {
        let stage = lists
            .lookup_stage(list, on, flag, &mut lookups)
            .expect("flags are made for looked-up lists");
        text.push_str(&stage);
    }
    let _ = write!(
        text,
        "\n| where {}",
        render(&condition, &|f| field(f), &lists, true)
    );

    let findings: Vec<String> = detection
        .meta
        .findings
        .iter()
        .map(|(selection, label)| {
            format!(
                "if({}, {}, null())",
                render(
                    &Expr::selection(detection, selection),
                    &|f| field(f),
                    &lists,
                    true
                ),
                string(label)
            )
        })
        .collect();
    if !findings.is_empty() {
        let _ = write!(
            text,
            "\n| eval {}=coalesce(mvjoin(mvappend({}), \"; \"), \"\")",
            columns::FINDINGS,
            findings.join(", ")
        );
    }

    let mut output = vec![OutputColumn {
        name: "_time".to_owned(),
        role: ColumnRole::Time,
    }];
    match &detection.meta.threshold {
        None => {
            let mut table = vec!["_time".to_owned()];
            for f in &needed {
                table.push(field(f));
                output.push(OutputColumn {
                    name: (*f).to_owned(),
                    role: role_of(detection, f),
                });
            }
            if !findings.is_empty() {
                table.push(columns::FINDINGS.to_owned());
                output.push(OutputColumn {
                    name: columns::FINDINGS.to_owned(),
                    role: ColumnRole::Detail,
                });
            }
            let _ = write!(text, "\n| table {}", table.join(" "));
        }
        Some(threshold) => {
            let group: Vec<String> = threshold.group_by.iter().map(|f| field(f)).collect();
            let by = group.join(" ");
            let _ = write!(
                text,
                "\n| where {}",
                group
                    .iter()
                    .map(|g| format!("{g}!=\"\""))
                    .collect::<Vec<_>>()
                    .join(" AND ")
            );
            let p = HELPER_PREFIX;
            let mut tier_cases = Vec::new();
            let mut required_cases = Vec::new();
            for tier in &threshold.tiers {
                let flag = format!("{p}on_{}", tier.list);
                let on = field(&tier.field);
                match lists.lookup_stage(&tier.list, &on, &flag, &mut lookups) {
                    Some(stage) => text.push_str(&stage),
                    None => {
                        let _ = write!(
                            text,
                            "\n| eval {flag}=if({}, 1, null())",
                            lists.inline_membership(&tier.list, &on)
                        );
                    }
                }
                tier_cases.push(format!("isnotnull({flag}), {}", string(&tier.name)));
                required_cases.push(format!("isnotnull({flag}), {}", tier.count));
            }
            tier_cases.push(format!("true(), {}", string(DEFAULT_TIER)));
            required_cases.push(format!("true(), {}", threshold.count));
            let _ = write!(
                text,
                "\n| eval {p}tier=case({}), {p}required=case({})",
                tier_cases.join(", "),
                required_cases.join(", ")
            );
            let _ = write!(text, "\n| sort 0 _time");
            let mut counts: Vec<u32> = threshold
                .tiers
                .iter()
                .map(|t| t.count)
                .chain([threshold.count])
                .collect();
            counts.sort_unstable();
            counts.dedup();
            for k in &counts {
                let _ = write!(
                    text,
                    "\n| streamstats current=t window={k} global=f min(_time) AS {p}start_{k} count AS {p}n_{k} BY {by}"
                );
            }
            let start_cases: Vec<String> = counts
                .iter()
                .map(|k| format!("{p}required=={k} AND {p}n_{k}>={k}, {p}start_{k}"))
                .collect();
            let window = threshold.window.seconds();
            // The windows: their closing events, with their starts.
            let _ = write!(
                text,
                "\n| eval {p}start=case({}), {p}close=if(isnotnull({p}start) AND _time-{p}start<={window}, _time, null()), {p}hit_start=if(isnotnull({p}close), {p}start, null()), {p}close_indexed=if(isnotnull({p}close), _indextime, null())",
                start_cases.join(", "),
            );
            // Windows whose closing events are at most a window apart are one episode, numbered
            // at each closing event by a running count of the episodes begun.
            let _ = write!(
                text,
                "\n| streamstats current=f max({p}close) AS {p}prev_close BY {by}\n| eval {p}begins=if(isnotnull({p}close) AND (isnull({p}prev_close) OR _time-{p}prev_close>{window}), 1, 0)\n| streamstats sum({p}begins) AS {p}episode BY {by}\n| eventstats min({p}hit_start) AS {p}episode_first max({p}close) AS {p}episode_last min({p}close_indexed) AS {p}arrived BY {by} {p}episode"
            );
            // A run reports an episode when its first indexed closing event is new: the windows
            // indexed before were reported, with their episode, by an earlier run.
            let reported = recency.since(&format!("{p}arrived")).map_or_else(
                || format!("isnotnull({p}close)"),
                |since| format!("isnotnull({p}close) AND {since}"),
            );
            // Every event takes the episode of the nearest closing event at or after it
            // (newest first, a closing event before the events of its own second).
            let _ = write!(
                text,
                "\n| eval {p}is_close=if(isnotnull({p}close), 1, 0), {p}first=if({reported}, {p}episode_first, null()), {p}last=if({reported}, {p}episode_last, null()), {p}of=if({reported}, {p}episode, null())\n| sort 0 -_time -{p}is_close\n| streamstats last({p}first) AS {p}first last({p}last) AS {p}last last({p}of) AS {p}of BY {by}"
            );
            let _ = write!(
                text,
                "\n| where isnotnull({p}first) AND _time>={p}first AND _time<={p}last"
            );
            let others = super::summary_fields(detection);
            let mut stats = vec![
                format!("min(_time) AS {}", columns::START_TIME),
                format!("max(_time) AS {}", columns::END_TIME),
                format!("count AS {}", columns::EVENT_COUNT),
            ];
            for f in &others {
                stats.push(format!("latest({0}) AS {0}", field(f)));
                stats.push(format!(
                    "values({}) AS {}",
                    field(f),
                    super::kql::all_name(f)
                ));
            }
            if !findings.is_empty() {
                stats.push(format!("values({0}) AS All{0}", columns::FINDINGS));
            }
            let _ = write!(
                text,
                "\n| stats {} BY {by} {p}of {p}tier {p}required",
                stats.join(" ")
            );
            let _ = write!(
                text,
                "\n| rename {p}tier AS {} {p}required AS {}",
                columns::TIER,
                columns::REQUIRED_COUNT
            );
            let _ = write!(text, "\n| eval _time={}", columns::END_TIME);
            let mut table = vec!["_time".to_owned()];
            for f in &threshold.group_by {
                table.push(field(f));
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
                table.push(c.to_owned());
                output.push(OutputColumn {
                    name: c.to_owned(),
                    role: ColumnRole::Summary,
                });
            }
            for f in &others {
                table.push(field(f));
                output.push(OutputColumn {
                    name: (*f).to_owned(),
                    role: role_of(detection, f),
                });
            }
            for f in &others {
                table.push(super::kql::all_name(f));
                output.push(OutputColumn {
                    name: super::kql::all_name(f),
                    role: ColumnRole::Summary,
                });
            }
            if !findings.is_empty() {
                let all = format!("All{}", columns::FINDINGS);
                table.push(all.clone());
                output.push(OutputColumn {
                    name: all,
                    role: ColumnRole::Detail,
                });
            }
            let _ = write!(text, "\n| table {}", table.join(" "));
        }
    }
    let _ = write!(text, "\n| `{}`", binding.filter_macro);
    macros.push((binding.filter_macro.to_owned(), 0));
    Search {
        text,
        columns: output,
        macros,
        lookups,
    }
}

/// The stages that give every one of `fields` a string value under its own name (missing = ""):
/// `spath` for arrays, one `eval` of element lookups, one `eval` of the fields. Starts with a
/// newline.
pub(crate) fn prelude(source: &LogSourceFile, fields: &[&str]) -> String {
    let mut extraction = Extraction::new(source);
    let values: Vec<(&str, String)> = fields
        .iter()
        .map(|f| (*f, extraction.expression(&source.fields[*f].value)))
        .collect();
    let mut out = extraction.stages();
    let evals: Vec<String> = values
        .iter()
        .map(|(f, e)| format!("{}=coalesce({e}, \"\")", field(f)))
        .collect();
    let _ = write!(out, "\n| eval {}", evals.join(",\n    "));
    out
}

fn role_of(detection: &Detection, name: &str) -> ColumnRole {
    super::entity_fields(detection)
        .into_iter()
        .find(|(_, f)| *f == name)
        .map(|(slot, _)| ColumnRole::Entity(slot))
        .unwrap_or(ColumnRole::Detail)
}

/// Diagnostic-record path of a plain field.
fn diagnostic_path(source: &LogSourceFile, name: &str) -> String {
    let column = source.fields[name].value.as_plain_column().unwrap_or(name);
    source.columns[column].diagnostic.clone()
}

/// The `spath` stages a search needs and the expressions of field values.
struct Extraction<'a> {
    source: &'a LogSourceFile,
    stages: Vec<String>,
    arrays: Vec<(String, String)>,
    /// Element lookups, evaluated once into helper fields after the `spath` stages.
    lookups: Vec<(String, String)>,
    counter: usize,
}

impl<'a> Extraction<'a> {
    fn new(source: &'a LogSourceFile) -> Self {
        Extraction {
            source,
            stages: Vec::new(),
            arrays: Vec::new(),
            lookups: Vec::new(),
            counter: 0,
        }
    }

    fn temp(&mut self) -> String {
        self.counter += 1;
        format!("{HELPER_PREFIX}v{}", self.counter)
    }

    /// A multivalue field holding each element of the array at `spath` as JSON text, and a
    /// parallel multivalue of each element's `keys` (joined by `|`) for `mvfind`.
    fn array(&mut self, spath: String, keys: &[&str]) -> (String, String) {
        let id = format!("{spath}\u{0}{}", keys.join("\u{0}"));
        if let Some((_, var)) = self.arrays.iter().find(|(k, _)| *k == id) {
            return (var.clone(), format!("{var}_key"));
        }
        self.counter += 1;
        let var = format!("{HELPER_PREFIX}a{}", self.counter);
        let key = keys
            .iter()
            .map(|k| format!("coalesce(spath({var}, {}), \"\")", string(k)))
            .collect::<Vec<_>>()
            .join(".\"|\".");
        self.stages.push(format!("spath output={var} path={spath}"));
        self.stages
            .push(format!("eval {var}_key=mvmap({var}, {key})"));
        self.arrays.push((id, var.clone()));
        (var.clone(), format!("{var}_key"))
    }

    fn expression(&mut self, value: &FieldValue) -> String {
        let columns = &self.source.columns;
        match value {
            FieldValue::Column { column, path: None } => field(&columns[column].diagnostic),
            FieldValue::Column {
                column,
                path: Some(p),
            } => field(&format!("{}.{p}", columns[column].diagnostic)),
            FieldValue::At { at } => {
                let temp = self.temp();
                // spath counts array positions from 1.
                self.stages.push(format!(
                    "spath output={temp} path={}{{{}}}.{}",
                    columns[&at.column].diagnostic,
                    at.index + 1,
                    at.path
                ));
                temp
            }
            FieldValue::Text { text } => {
                let temp = self.temp();
                self.stages.push(format!(
                    "spath output={temp} path={}",
                    columns[text].diagnostic
                ));
                temp
            }
            FieldValue::Element { element } => {
                let base = columns[&element.column].diagnostic.clone();
                let names: Vec<&str> = element.matching.keys().map(String::as_str).collect();
                let (var, keys) = self.array(format!("{base}{{}}"), &names);
                let wanted: Vec<String> = element
                    .matching
                    .values()
                    .map(|v| regex::escape(v))
                    .collect();
                let regex = format!("(?i)^{}$", wanted.join("\\|"));
                self.lookup(format!(
                    "spath(mvindex({var}, mvfind({keys}, {})), {})",
                    string(&regex),
                    string(&element.path)
                ))
            }
            FieldValue::ModifiedProperty {
                modified_property: m,
            } => {
                let base = columns[&m.column].diagnostic.clone();
                let (var, keys) = self.array(
                    format!("{base}{{}}.modifiedProperties{{}}"),
                    &["displayName"],
                );
                let regex = format!("(?i)^{}$", regex::escape(&m.name));
                let raw = format!(
                    "spath(mvindex({var}, mvfind({keys}, {})), {})",
                    string(&regex),
                    string(m.side.key())
                );
                // Entra stores these values JSON-encoded ("\"Global Administrator\""): strip the quotes.
                self.lookup(format!(
                    "replace({raw}, {}, {})",
                    string("^\"(.*)\"$"),
                    string("\\1")
                ))
            }
            FieldValue::FirstOf { first_of } => {
                let parts: Vec<String> = first_of
                    .iter()
                    .map(|v| {
                        let e = self.expression(v);
                        format!("if(len({e})>0, {e}, null())")
                    })
                    .collect();
                format!("coalesce({})", parts.join(", "))
            }
        }
    }

    fn lookup(&mut self, expression: String) -> String {
        let temp = self.temp();
        self.lookups.push((temp.clone(), expression));
        temp
    }

    fn stages(&self) -> String {
        let mut out = String::new();
        for stage in &self.stages {
            let _ = write!(out, "\n| {stage}");
        }
        if !self.lookups.is_empty() {
            let assignments: Vec<String> = self
                .lookups
                .iter()
                .map(|(t, e)| format!("{t}={e}"))
                .collect();
            let _ = write!(out, "\n| eval {}", assignments.join(",\n    "));
        }
        out
    }
}

/// How a search reads the lists its detection uses: a `lookup` that sets a flag field for an
/// exact match over a list with a Splunk lookup, or the list's inline values otherwise.
struct Lists<'a, 'l> {
    catalogue: &'a Catalogue,
    lookup: Option<&'a LookupOf<'a, 'l>>,
    /// ((list, field reference), flag field set by the lookup).
    flags: Vec<((String, String), String)>,
}

impl<'a, 'l> Lists<'a, 'l> {
    fn new(catalogue: &'a Catalogue, detection: &Detection, binding: &Binding<'a, 'l>) -> Self {
        let mut lists = Lists {
            catalogue,
            lookup: Some(binding.lookup),
            flags: Vec::new(),
        };
        for m in detection.field_matches() {
            let on = field(&m.field);
            for matcher in &m.matchers {
                if let Matcher::InList {
                    list,
                    position: ListPosition::Whole,
                } = matcher
                    && lists.of(list).is_some()
                    && !lists.flags.iter().any(|((l, f), _)| l == list && *f == on)
                {
                    let flag = format!("{HELPER_PREFIX}in{}", lists.flags.len() + 1);
                    lists.flags.push(((list.clone(), on.clone()), flag));
                }
            }
        }
        lists
    }

    /// For expressions that never read a list (the pre-filter).
    fn none(catalogue: &'a Catalogue) -> Self {
        Lists {
            catalogue,
            lookup: None,
            flags: Vec::new(),
        }
    }

    /// The lookup of a list reference, and the CSV column it matches: the values, or the
    /// `name` column rulecast writes beside them for `list.name`.
    fn of(&self, list: &str) -> Option<(&'l str, &'l str)> {
        let (base, names) = list_reference(list);
        let (name, column) = (self.lookup?)(base)?;
        Some((
            name,
            if names {
                super::LIST_NAME_COLUMN
            } else {
                column
            },
        ))
    }

    /// `| lookup` of `list` that sets `flag` where the field reference `on` holds one of its
    /// values (or names), recording the lookup in `lookups`; `None` for a list without a lookup.
    fn lookup_stage(
        &self,
        list: &str,
        on: &str,
        flag: &str,
        lookups: &mut Vec<String>,
    ) -> Option<String> {
        let (lookup, column) = self.of(list)?;
        if !lookups.iter().any(|l| l == lookup) {
            lookups.push(lookup.to_owned());
        }
        Some(format!(
            "\n| lookup {lookup} {column} AS {on} OUTPUT {column} AS {flag}"
        ))
    }

    fn flag(&self, list: &str, on: &str) -> Option<&str> {
        self.flags
            .iter()
            .find(|((l, f), _)| l == list && f == on)
            .map(|(_, flag)| flag.as_str())
    }

    /// `in(lower(v), ...)` over the list's inline values.
    fn inline_membership(&self, list: &str, v: &str) -> String {
        let values: Vec<String> = super::inline_values(self.catalogue, list)
            .iter()
            .map(|x| string(x))
            .collect();
        format!("in(lower({v}), {})", values.join(", "))
    }
}

fn render(expr: &Expr, f: &dyn Fn(&str) -> String, lists: &Lists<'_, '_>, top: bool) -> String {
    let wrap = |s: String| if top { s } else { format!("({s})") };
    match expr {
        Expr::Match(m) => {
            let s = field_match(m, f, lists);
            if top { s } else { format!("({s})") }
        }
        Expr::And(items) => wrap(
            items
                .iter()
                .map(|e| render(e, f, lists, false))
                .collect::<Vec<_>>()
                .join(" AND "),
        ),
        Expr::Or(items) => wrap(
            items
                .iter()
                .map(|e| render(e, f, lists, false))
                .collect::<Vec<_>>()
                .join(" OR "),
        ),
        Expr::Not(inner) => format!("NOT ({})", render(inner, f, lists, true)),
    }
}

fn field_match(m: &FieldMatch, f: &dyn Fn(&str) -> String, lists: &Lists<'_, '_>) -> String {
    let v = f(&m.field);
    let parts: Vec<String> = m.matchers.iter().map(|x| matcher(&v, x, lists)).collect();
    parts.join(if m.all { " AND " } else { " OR " })
}

/// One matcher on the field reference `v`; `lists` says how a list is read.
fn matcher(v: &str, m: &Matcher, lists: &Lists<'_, '_>) -> String {
    match m {
        Matcher::Pattern { pattern, cased } => {
            let flag = if *cased { "" } else { "(?i)" };
            match pattern.shape() {
                Shape::Exact(s) if s.is_empty() => format!("{v}==\"\""),
                Shape::Exact(s) if *cased => format!("{v}=={}", string(&s)),
                Shape::Exact(s) => format!("lower({v})==lower({})", string(&s)),
                Shape::Anything => format!("{v}!=\"\""),
                Shape::Contains(s) => format!(
                    "match({v}, {})",
                    string(&format!("{flag}{}", regex::escape(&s)))
                ),
                _ => format!(
                    "match({v}, {})",
                    string(&format!("{flag}{}", pattern.to_regex()))
                ),
            }
        }
        Matcher::Regex {
            regex,
            case_insensitive,
        } => {
            let flag = if *case_insensitive { "(?i)" } else { "" };
            format!("match({v}, {})", string(&format!("{flag}{regex}")))
        }
        Matcher::Empty | Matcher::Exists(false) => format!("{v}==\"\""),
        Matcher::Exists(true) => format!("{v}!=\"\""),
        Matcher::InList {
            list,
            position: ListPosition::Whole,
        } => match lists.flag(list, v) {
            Some(flag) => format!("isnotnull({flag})"),
            None => lists.inline_membership(list, v),
        },
        // Validated: a list matched in part has no lookup, so its values are the search's.
        Matcher::InList { list, position } => {
            let each: Vec<String> = super::inline_values(lists.catalogue, list)
                .iter()
                .map(|value| matcher(v, &position.matcher(value), lists))
                .collect();
            format!("({})", each.join(" OR "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn equals(field: &str, values: &[&str]) -> FieldMatch {
        FieldMatch {
            field: field.to_owned(),
            modifiers: Vec::new(),
            values: values.iter().map(|v| serde_json::json!(v)).collect(),
            listed: values.len() > 1,
            matchers: values
                .iter()
                .map(|v| Matcher::Pattern {
                    pattern: crate::logic::pattern::Pattern::parse(v),
                    cased: false,
                })
                .collect(),
            all: false,
            pointer: String::new(),
        }
    }

    #[test]
    fn base_search_terms_are_a_necessary_condition_only() {
        let category = equals("Category", &["RoleManagement"]);
        let activity = equals(
            "ActivityDisplayName",
            &[
                "Add member to role in PIM completed (permanent)",
                "Disable PIM alert",
            ],
        );
        let quoted = equals("ResultReason", &["say \"no\""]);
        let wildcard = equals("ActivityDisplayName", &["Add*PIM alert"]);
        let and = Expr::And(vec![Expr::Match(&category), Expr::Match(&activity)]);
        // Parenthesised: Splunk binds OR tighter than the implied AND.
        assert_eq!(
            search_terms(&and).as_deref(),
            Some(
                r#"("RoleManagement" ("Add member to role in PIM completed (permanent)" OR "Disable PIM alert"))"#
            )
        );
        // A value the raw JSON may escape gives no term; a conjunct without one is left out.
        let with_quote = Expr::And(vec![Expr::Match(&category), Expr::Match(&quoted)]);
        assert_eq!(
            search_terms(&with_quote).as_deref(),
            Some(r#""RoleManagement""#)
        );
        // The longest literal of a wildcard pattern is a term; the wildcard is not.
        assert_eq!(
            search_terms(&Expr::Match(&wildcard)).as_deref(),
            Some(r#""PIM alert""#)
        );
        // An OR with a branch that says nothing says nothing: its events would be lost.
        let or = Expr::Or(vec![Expr::Match(&category), Expr::Match(&quoted)]);
        assert_eq!(search_terms(&or), None);
        assert_eq!(
            search_terms(&Expr::Not(Box::new(Expr::Match(&category)))),
            None
        );
    }

    #[test]
    fn string_literals() {
        assert_eq!(string("plain"), "\"plain\"");
        assert_eq!(string(""), "\"\"");
        assert_eq!(string("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(string("a\nb"), "\"a\".urldecode(\"%0A\").\"b\"");
        assert_eq!(
            string("`macro`"),
            "urldecode(\"%60\").\"macro\".urldecode(\"%60\")"
        );
        assert_eq!(string("| $x$ {{ y }} é"), "\"| $x$ {{ y }} é\"");
    }

    #[test]
    fn field_references() {
        assert_eq!(field("Actor"), "Actor");
        assert_eq!(field("properties.category"), "'properties.category'");
        assert_eq!(field("it's"), "'it\\'s'");
    }
}
