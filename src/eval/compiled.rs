//! A detection compiled for evaluation: its selections as compiled field matches, its condition
//! as a tree over them, and the same cheap pre-filter the query compilers put first.

use super::hit::{EventRef, Hit, Place};
use super::logic_tree::LogicTree;
use super::matcher::{CompiledMatch, ListValues};
use super::record::Record;
use super::source::SourcePlan;
use super::window::ThresholdPlan;
use crate::catalogue::Catalogue;
use crate::lang::{self, Expr};
use crate::logic::Condition;

/// A named selection: any alternative, each a list of matches that must all hold.
#[derive(Debug, Clone)]
pub(crate) struct CompiledSelection {
    pub name: String,
    pub alternatives: Vec<Vec<CompiledMatch>>,
}

impl CompiledSelection {
    pub(crate) fn matches(&self, record: &Record) -> bool {
        self.alternatives
            .iter()
            .any(|all| all.iter().all(|m| m.matches(record)))
    }
}

#[derive(Debug, Clone)]
pub(crate) struct CompiledDetection {
    /// Index of the detection in the catalogue.
    pub index: usize,
    /// Index of its log source among the engine's source plans.
    pub source: usize,
    pub selections: Vec<CompiledSelection>,
    /// The expanded condition over indexes of `selections`.
    pub condition: LogicTree<usize>,
    /// A condition over plain columns that every matching event meets (see [`Expr::necessary_plain`]).
    prefilter: Option<LogicTree<CompiledMatch>>,
    /// (selection, label) of the detection's findings.
    findings: Vec<(usize, String)>,
    /// Fields reported with an alert: every field the query outputs for a single event; for a
    /// threshold, the entities and details besides the group (as the compilers' summaries).
    pub output_fields: Vec<usize>,
    pub threshold: Option<ThresholdPlan>,
}

impl CompiledDetection {
    pub(crate) fn new(
        catalogue: &Catalogue,
        index: usize,
        source: usize,
        plan: &SourcePlan,
    ) -> CompiledDetection {
        let detection = &catalogue.detections[index];
        let field = |name: &str| {
            plan.field_index(name)
                .expect("validated: detections use fields of their log source")
        };
        let lists = |list: &str| lang::list_values_as_written(catalogue, list);
        let selections: Vec<CompiledSelection> = detection
            .selections
            .iter()
            .map(|s| CompiledSelection {
                name: s.name.clone(),
                alternatives: s
                    .alternatives
                    .iter()
                    .map(|all| {
                        all.iter()
                            .map(|m| CompiledMatch::new(m, field(&m.field), &lists))
                            .collect()
                    })
                    .collect(),
            })
            .collect();
        let selection = |name: &str| {
            selections
                .iter()
                .position(|s| s.name == name)
                .expect("validated: the condition names selections")
        };
        let condition = condition_tree(&detection.expanded, &selection);
        let source_file = catalogue.logsource(detection);
        let prefilter = Expr::of(detection)
            .necessary_plain(source_file)
            .map(|e| expression_tree(&e, &field, &lists));
        let findings = detection
            .meta
            .findings
            .iter()
            .map(|(name, label)| (selection(name), label.clone()))
            .collect();
        let output_names = if detection.meta.threshold.is_some() {
            lang::summary_fields(detection)
        } else {
            lang::needed_fields(detection)
        };
        CompiledDetection {
            index,
            source,
            condition,
            prefilter,
            findings,
            output_fields: output_names.into_iter().map(field).collect(),
            threshold: detection
                .meta
                .threshold
                .as_ref()
                .map(|t| ThresholdPlan::new(catalogue, t, &field)),
            selections,
        }
    }

    /// The condition over plain columns that every matching event meets, if there is one.
    pub(crate) fn plain_prefilter(&self) -> Option<&LogicTree<CompiledMatch>> {
        self.prefilter.as_ref()
    }

    /// Whether the event meets the plain-column pre-filter (true when there is none).
    pub(crate) fn passes_prefilter(&self, record: &Record) -> bool {
        self.prefilter
            .as_ref()
            .is_none_or(|p| p.evaluate(&mut |m| m.matches(record)))
    }

    /// Whether the event matches the detection's condition.
    pub(crate) fn matches(&self, record: &Record) -> bool {
        self.passes_prefilter(record)
            && self
                .condition
                .evaluate(&mut |s| self.selections[*s].matches(record))
    }

    /// Labels of the findings whose selection matches the event.
    pub(crate) fn findings(&self, record: &Record) -> Vec<String> {
        self.findings
            .iter()
            .filter(|(s, _)| self.selections[*s].matches(record))
            .map(|(_, label)| label.clone())
            .collect()
    }

    /// The matching event as a hit, or `None` when it cannot count: it has no time, or (for a
    /// threshold) no value for a group-by field, which never counts in any target.
    pub(crate) fn hit(&self, record: &Record, place: Place) -> Option<Hit> {
        let time = record.time()?;
        let group = match &self.threshold {
            Some(t) => t
                .group_by
                .iter()
                .map(|f| record.field(*f).map(|v| v.as_str().to_owned()))
                .collect::<Option<Vec<String>>>()?,
            None => Vec::new(),
        };
        Some(Hit {
            detection: self.index,
            event: EventRef {
                position: place.record,
                line: place.line,
                offset: place.offset,
                id: record.event_id(),
                time,
            },
            group,
            values: self
                .output_fields
                .iter()
                .map(|f| record.field(*f).map(|v| v.as_str().to_owned()))
                .collect(),
            findings: self.findings(record),
        })
    }
}

fn condition_tree(condition: &Condition, selection: &dyn Fn(&str) -> usize) -> LogicTree<usize> {
    match condition {
        Condition::Selection(name) => LogicTree::Leaf(selection(name)),
        Condition::Not(inner) => LogicTree::Not(Box::new(condition_tree(inner, selection))),
        Condition::And(items) => {
            LogicTree::And(items.iter().map(|c| condition_tree(c, selection)).collect())
        }
        Condition::Or(items) => {
            LogicTree::Or(items.iter().map(|c| condition_tree(c, selection)).collect())
        }
        Condition::OfPattern { .. } => unreachable!("conditions are expanded before evaluation"),
    }
}

fn expression_tree(
    expr: &Expr,
    field: &dyn Fn(&str) -> usize,
    lists: ListValues,
) -> LogicTree<CompiledMatch> {
    match expr {
        Expr::Match(m) => LogicTree::Leaf(CompiledMatch::new(m, field(&m.field), lists)),
        Expr::Not(inner) => LogicTree::Not(Box::new(expression_tree(inner, field, lists))),
        Expr::And(items) => LogicTree::And(
            items
                .iter()
                .map(|e| expression_tree(e, field, lists))
                .collect(),
        ),
        Expr::Or(items) => LogicTree::Or(
            items
                .iter()
                .map(|e| expression_tree(e, field, lists))
                .collect(),
        ),
    }
}
