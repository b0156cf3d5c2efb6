//! Running the cases of the catalogue and judging them.
//!
//! A case passes when its events raise an alert (at least one, or exactly `alerts`) if
//! `expect_alert` is true, and none if it is false, when every alert has the case's `severity`
//! (if it names one: the detection's, or a threshold tier's), and when the Log Analytics row and
//! its diagnostic record raise the same alerts. A failure says why, in the rule's own terms: the
//! selection, field and value that kept an event out, the counts per group for a threshold, or
//! the field whose `diagnostic:` mapping reads different data.

use serde_json::Value;

use super::events::case_events;
use crate::catalogue::{CaseSource, Catalogue, Detection};
use crate::eval::compiled::CompiledDetection;
use crate::eval::convert::to_diagnostic_record;
use crate::eval::explain::{shown, why, why_not};
use crate::eval::replay::{Replay, replay};
use crate::eval::source::SourcePlan;
use crate::eval::window::window_counts;
use crate::eval::{Alert, Engine, Place, Record, Shape};
use crate::lang;

/// The outcome of one case.
#[derive(Debug, Clone)]
pub(crate) struct CaseResult {
    pub name: String,
    pub expect_alert: bool,
    /// The alerts the events raised (read as Log Analytics rows).
    pub alerts: Vec<Alert>,
    /// Why the case failed; empty when it passed.
    pub failures: Vec<String>,
}

impl CaseResult {
    pub(crate) fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// The outcome of one detection's cases.
#[derive(Debug, Clone)]
pub(crate) struct DetectionResult {
    /// Index of the detection in the catalogue.
    pub detection: usize,
    pub cases: Vec<CaseResult>,
    /// The kinds of case the detection lacks (one that must alert, one that must not).
    pub missing: Vec<String>,
    /// Deprecated detections may lack cases; this says so when it applies.
    pub exempt: Option<String>,
}

impl DetectionResult {
    pub(crate) fn passed(&self) -> bool {
        self.cases.iter().all(CaseResult::passed)
            && (self.missing.is_empty() || self.exempt.is_some())
    }
}

/// `file:line:column` of a detection's cases, looked up when a report first shows one: finding
/// them re-reads the detection's files, and a report of passing cases may show none.
pub(crate) struct CaseLocations<'a> {
    detection: &'a Detection,
    found: std::cell::OnceCell<Vec<String>>,
}

impl<'a> CaseLocations<'a> {
    pub(crate) fn new(detection: &'a Detection) -> Self {
        CaseLocations {
            detection,
            found: std::cell::OnceCell::new(),
        }
    }

    /// Of the case at `index` in [`Detection::test_cases`].
    pub(crate) fn of(&self, index: usize) -> &str {
        self.found
            .get_or_init(|| self.detection.case_locations())
            .get(index)
            .map_or("", String::as_str)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct TestRun {
    pub results: Vec<DetectionResult>,
}

impl TestRun {
    pub(crate) fn passed(&self) -> bool {
        self.results.iter().all(DetectionResult::passed)
    }

    /// (cases, failed cases, detections missing a kind of case that are not exempt).
    pub(crate) fn counts(&self) -> (usize, usize, usize) {
        let cases = self.results.iter().map(|r| r.cases.len()).sum();
        let failed = self
            .results
            .iter()
            .flat_map(|r| &r.cases)
            .filter(|c| !c.passed())
            .count();
        let incomplete = self
            .results
            .iter()
            .filter(|r| !r.missing.is_empty() && r.exempt.is_none())
            .count();
        (cases, failed, incomplete)
    }
}

/// Runs the cases of the detections at `selected` (catalogue indexes), on every core: the
/// detections share nothing but the compiled engine.
pub(crate) fn run(catalogue: &Catalogue, selected: &[usize]) -> TestRun {
    let engine = Engine::new(catalogue, |i| selected.contains(&i));
    let results = crate::catalogue::parallel_map(selected, |&index| {
        let detection = &catalogue.detections[index];
        let sources = detection.test_cases();
        let cases = sources
            .iter()
            .map(|source| run_case(&engine, index, source))
            .collect();
        let mut missing = Vec::new();
        if !sources.iter().any(|s| s.case.expect_alert) {
            missing.push(
                "no case with expect_alert: true (events that must raise an alert)".to_owned(),
            );
        }
        if !sources.iter().any(|s| !s.case.expect_alert) {
            missing.push(
                "no case with expect_alert: false (a near miss that must not alert)".to_owned(),
            );
        }
        let exempt = (detection.is_deprecated() && !missing.is_empty()).then(|| {
            "deprecated: exempt from needing a case that must alert and one that must not"
                .to_owned()
        });
        DetectionResult {
            detection: index,
            cases,
            missing,
            exempt,
        }
    });
    TestRun { results }
}

fn run_case(engine: &Engine, index: usize, source: &CaseSource) -> CaseResult {
    let case = source.case;
    let mut result = CaseResult {
        name: case.name.clone(),
        expect_alert: case.expect_alert,
        alerts: Vec::new(),
        failures: Vec::new(),
    };
    let events = match case_events(source) {
        Ok(events) => events,
        Err(problem) => {
            result.failures.push(problem.to_string());
            return result;
        }
    };
    let compiled = engine
        .compiled(index)
        .expect("the engine includes every tested detection");
    let plan = &engine.sources[compiled.source];
    let rows: Vec<String> = events
        .iter()
        .map(|e| Value::Object(e.clone()).to_string())
        .collect();
    let records: Vec<String> = events
        .iter()
        .map(|e| to_diagnostic_record(plan, e).to_string())
        .collect();
    let (row_run, record_run) = match (
        replay(engine, index, Shape::LOG_ANALYTICS, &rows),
        replay(engine, index, Shape::DIAGNOSTIC, &records),
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(problem), _) | (_, Err(problem)) => {
            result.failures.push(problem.to_string());
            return result;
        }
    };
    let detection = &engine.catalogue.detections[index];
    let got = row_run.alerts.len();
    let verdict = if case.expect_alert {
        got >= 1 && case.alerts.is_none_or(|n| got == n as usize)
    } else {
        got == 0
    };
    if !verdict {
        let context = Context {
            engine,
            compiled,
            plan,
            detection,
            rows: &rows,
        };
        match (case.expect_alert, case.alerts) {
            (true, _) if got == 0 => {
                result.failures.push("no alert".to_owned());
                result.failures.extend(context.why_no_alert(&row_run));
            }
            (true, Some(n)) => {
                result.failures.push(format!(
                    "expected {n} alert{}, got {got}",
                    plural(n as usize)
                ));
                result.failures.extend(context.why_alerts(&row_run.alerts));
            }
            _ => {
                result.failures.push(format!(
                    "raised {got} alert{}; this case must not alert",
                    plural(got)
                ));
                result.failures.extend(context.why_alerts(&row_run.alerts));
            }
        }
    }
    if let Some(wanted) = case.severity {
        if !case.expect_alert {
            result.failures.push(format!(
                "`severity: {}` asserts the severity of the alerts; a case that must not alert has none",
                wanted.as_str()
            ));
        }
        for (i, alert) in row_run.alerts.iter().enumerate() {
            let got = alert.severity(detection);
            if got != wanted {
                let tier = match &alert.tier {
                    Some((tier, _)) => format!(" (tier {tier})"),
                    None => String::new(),
                };
                result.failures.push(format!(
                    "alert {} has severity {}{tier}; the case expects {}",
                    i + 1,
                    got.as_str(),
                    wanted.as_str()
                ));
            }
        }
    }
    if row_run.alerts != record_run.alerts {
        let other = record_run.alerts.len();
        result.failures.push(if other == got {
            "the diagnostic record (Splunk's shape) raises alerts with other values than the Log Analytics row".to_owned()
        } else {
            format!("the diagnostic record (Splunk's shape) raises {other} alert{} where the Log Analytics row raises {got}", plural(other))
        });
        let context = Context {
            engine,
            compiled,
            plan,
            detection,
            rows: &rows,
        };
        result
            .failures
            .extend(context.disagreements(engine.catalogue, &records));
    }
    result.alerts = row_run.alerts;
    result
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `Actor="x", RoleName="y"`.
fn group_text(group: &[(String, String)]) -> String {
    group
        .iter()
        .map(|(f, v)| format!("{f}={}", shown(Some(v))))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What explanations of one case need.
struct Context<'a> {
    engine: &'a Engine<'a>,
    compiled: &'a CompiledDetection,
    plan: &'a SourcePlan,
    detection: &'a Detection,
    /// The events as Log Analytics rows (JSON), in case order.
    rows: &'a [String],
}

impl Context<'_> {
    fn with_record<T>(&self, text: &str, shape: Shape, f: impl FnOnce(&Record) -> T) -> T {
        let found = self.engine.read(text).expect("replayed events are objects");
        f(&self.engine.record(&found, shape, self.compiled.source))
    }

    fn window(&self) -> String {
        self.detection
            .meta
            .threshold
            .as_ref()
            .map(|t| t.window.to_string())
            .unwrap_or_default()
    }

    /// Why no alert: each event that did not match or cannot count, then for a threshold the
    /// counts per group against what its tier needs.
    fn why_no_alert(&self, replay: &Replay) -> Vec<String> {
        let mut out = Vec::new();
        for (i, row) in self.rows.iter().enumerate() {
            let position = i as u64 + 1;
            self.with_record(row, Shape::LOG_ANALYTICS, |record| {
                let time = record.time().map(|t| t.to_string()).unwrap_or_default();
                if !self.compiled.matches(record) {
                    out.push(format!("event {position} ({time}) did not match: {}", why_not(self.compiled, record)));
                } else if self.compiled.hit(record, Place::nth(position)).is_none() {
                    let group = self.compiled.threshold.as_ref().map(|t| t.group_names.join(", ")).unwrap_or_default();
                    out.push(format!("event {position} ({time}) matched but has no value for {group}, so it never counts"));
                }
            });
        }
        if let Some(plan) = &self.compiled.threshold {
            for count in window_counts(plan, &replay.hits) {
                out.push(format!(
                    "{}: {} matching event{}, at most {} within {}; the {} tier needs {}",
                    group_text(&count.group),
                    count.events,
                    plural(count.events),
                    count.most_in_window,
                    self.window(),
                    count.tier,
                    count.required
                ));
            }
        }
        out
    }

    /// Why each alert was raised.
    fn why_alerts(&self, alerts: &[Alert]) -> Vec<String> {
        alerts
            .iter()
            .map(|alert| match &alert.tier {
                None => {
                    let position = alert.events[0].position;
                    let reason = self.with_record(
                        &self.rows[position as usize - 1],
                        Shape::LOG_ANALYTICS,
                        |record| why(self.compiled, record),
                    );
                    format!("event {position} ({}) matched: {reason}", alert.start)
                }
                Some((tier, required)) => format!(
                    "{}: {} events from {} to {} reached the {tier} tier ({required} within {})",
                    group_text(&alert.group),
                    alert.event_count,
                    alert.start,
                    alert.end,
                    self.window()
                ),
            })
            .collect()
    }

    /// The fields (and the time) that read differently from the row and from its diagnostic
    /// record, each with the column mapping to check.
    fn disagreements(&self, catalogue: &Catalogue, records: &[String]) -> Vec<String> {
        let source = catalogue.logsource(self.detection);
        // A column's data is lost in the diagnostic record when another column is sent to the
        // same path, or to a path inside it or around it: name those columns too.
        let overlapping = |column: &str| -> Vec<&str> {
            let path = &source.columns[column].diagnostic;
            let contains = |outer: &str, inner: &str| {
                inner == outer || inner.starts_with(&format!("{outer}."))
            };
            source
                .columns
                .iter()
                .filter(|(name, c)| {
                    *name != column
                        && (contains(path, &c.diagnostic) || contains(&c.diagnostic, path))
                })
                .map(|(name, _)| name.as_str())
                .collect()
        };
        let mapping = |columns: Vec<&str>| {
            let mut columns = columns;
            columns.dedup();
            columns
                .iter()
                .map(|c| {
                    let shared = overlapping(c);
                    let note = if shared.is_empty() {
                        String::new()
                    } else {
                        format!(" (where {} also goes)", shared.join(", "))
                    };
                    format!("{c} -> {}{note}", source.columns[*c].diagnostic)
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut out = Vec::new();
        let mut reported = Vec::new();
        for (i, (row, record)) in self.rows.iter().zip(records).enumerate() {
            self.with_record(row, Shape::LOG_ANALYTICS, |from_row| {
                self.with_record(record, Shape::DIAGNOSTIC, |from_record| {
                    if from_row.time() != from_record.time() && !reported.contains(&"") {
                        reported.push("");
                        let show = |r: &Record| r.time().map(|t| t.to_string()).unwrap_or_else(|| "no time".to_owned());
                        out.push(format!(
                            "the time: the row gives {}, the diagnostic record gives {} (event {}); check the mapping {}",
                            show(from_row),
                            show(from_record),
                            i + 1,
                            mapping(vec![source.time_column.as_str()])
                        ));
                    }
                    for name in lang::needed_fields(self.detection) {
                        let index = self.plan.field_index(name).expect("validated: detections use fields of their log source");
                        let (a, b) = (from_row.field(index).map(super::super::eval::field::FieldText::as_str), from_record.field(index).map(super::super::eval::field::FieldText::as_str));
                        if a != b && !reported.contains(&name) {
                            reported.push(name);
                            out.push(format!(
                                "field {name}: the row gives {}, the diagnostic record gives {} (event {}); check the mapping {}",
                                shown(a),
                                shown(b),
                                i + 1,
                                mapping(source.fields[name].value.columns())
                            ));
                        }
                    }
                });
            });
        }
        if out.is_empty() {
            out.push("every field reads the same; the alerts differ in the events' ids".to_owned());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::catalogue;

    const CASES: &str = r#"tests:
  - name: disabled
    expect_alert: true
    events:
      - &disable { TimeGenerated: "2025-01-01T10:00:00Z", Category: RoleManagement, ActivityDisplayName: Disable PIM alert, InitiatedBy: { user: { userPrincipalName: admin@contoso.example } } }
  - name: resources
    expect_alert: false
    events:
      - { <<: *disable, Category: ResourceManagement }
"#;

    fn run_minimal(edits: &[(&str, &str, &str)]) -> TestRun {
        let (_dir, catalogue) = catalogue(
            edits,
            &[("entra-roles/pim-alert-disabled.tests.yaml", CASES)],
        );
        let index = catalogue
            .detections
            .iter()
            .position(|d| d.slug == "pim-alert-disabled")
            .unwrap();
        run(&catalogue, &[index])
    }

    #[test]
    fn cases_pass_in_both_shapes() {
        let run = run_minimal(&[]);
        assert!(run.passed(), "{:#?}", run.results);
        assert_eq!(
            run.results[0]
                .cases
                .iter()
                .map(|c| c.alerts.len())
                .collect::<Vec<_>>(),
            [1, 0]
        );
    }

    #[test]
    fn a_wrong_diagnostic_mapping_is_caught_and_named() {
        // Category sent to the activity's path: Splunk would read the category as the activity.
        let run = run_minimal(&[(
            "logsources/entra_auditlogs.yaml",
            "diagnostic: properties.category",
            "diagnostic: properties.activityDisplayName",
        )]);
        assert!(!run.passed());
        let failures = &run.results[0].cases[0].failures;
        assert_eq!(
            failures[0],
            "the diagnostic record (Splunk's shape) raises 0 alerts where the Log Analytics row raises 1"
        );
        assert_eq!(
            failures[1],
            r#"field ActivityDisplayName: the row gives "Disable PIM alert", the diagnostic record gives "RoleManagement" (event 1); check the mapping ActivityDisplayName -> properties.activityDisplayName (where Category also goes)"#
        );
        assert!(
            run.results[0].cases[1].passed(),
            "the near miss raises no alert either way"
        );
    }

    const BURSTS: &str = r#"tests:
  - name: two by a privileged account reach the privileged tier
    expect_alert: true
    severity: high
    events:
      - &assign { TimeGenerated: "2025-01-01T10:00:00Z", Category: RoleManagement, ActivityDisplayName: Add eligible member to role in PIM completed (permanent), InitiatedBy: { user: { userPrincipalName: admin@contoso.example } } }
      - { <<: *assign, TimeGenerated: "2025-01-01T10:05:00Z" }
  - name: four by another account reach the default tier, at the detection's severity
    expect_alert: true
    severity: medium
    events:
      - &other { <<: *assign, InitiatedBy: { user: { userPrincipalName: someone@contoso.example } } }
      - { <<: *other, TimeGenerated: "2025-01-01T10:01:00Z" }
      - { <<: *other, TimeGenerated: "2025-01-01T10:02:00Z" }
      - { <<: *other, TimeGenerated: "2025-01-01T10:03:00Z" }
  - name: the privileged pair asserted at the default severity
    expect_alert: true
    severity: medium
    events:
      - { <<: *assign }
      - { <<: *assign, TimeGenerated: "2025-01-01T10:05:00Z" }
  - name: a severity on a case that must not alert
    expect_alert: false
    severity: high
    events:
      - { <<: *assign }
"#;

    #[test]
    fn cases_assert_the_severity_of_the_tier_an_alert_reached() {
        let (_dir, catalogue) = catalogue(
            &[
                (
                    "entra-roles/eligible-assignment-burst.yaml",
                    "severity: high",
                    "severity: medium",
                ),
                (
                    "entra-roles/eligible-assignment-burst.yaml",
                    "      count: 2\n",
                    "      count: 2\n      severity: high\n",
                ),
            ],
            &[("entra-roles/eligible-assignment-burst.tests.yaml", BURSTS)],
        );
        let index = catalogue
            .detections
            .iter()
            .position(|d| d.slug == "eligible-assignment-burst")
            .unwrap();
        let run = run(&catalogue, &[index]);
        let cases = &run.results[0].cases;
        assert!(cases[0].passed(), "{:#?}", cases[0]);
        assert!(cases[1].passed(), "{:#?}", cases[1]);
        assert_eq!(
            cases[2].failures,
            ["alert 1 has severity high (tier privileged); the case expects medium"]
        );
        assert_eq!(
            cases[3].failures,
            [
                "`severity: high` asserts the severity of the alerts; a case that must not alert has none"
            ]
        );
    }
}
