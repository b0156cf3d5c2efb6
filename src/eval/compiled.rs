//! A detection compiled for evaluation: its selections as compiled field matches, its condition
//! as a tree over them, and the same cheap pre-filter the query compilers put first.

use std::collections::{BTreeMap, BTreeSet, HashMap};

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

/// The detections of one log source that an event can match, found by one field's value.
///
/// Most detections' pre-filters require one plain field (`ActivityDisplayName`) to be one of
/// a few values, and an event has one value: rather than evaluate twenty pre-filters that
/// fail on it, the engine looks the value up. A detection whose pre-filter requires no value
/// of that field is a candidate for every event. Candidates keep catalogue order, so hits come
/// out in the order evaluating every detection gives.
#[derive(Debug, Clone, Default)]
pub(crate) struct Candidates {
    /// The field looked up, if any detection's pre-filter requires values of one.
    field: Option<usize>,
    /// For each lower-case value of the field that some pre-filter requires: the detections
    /// an event with that value can match.
    by_value: HashMap<String, Vec<usize>>,
    /// The detections an event with any other value (or none) can match.
    others: Vec<usize>,
}

/// For each field, the lower-case values one of which it must have.
type RequiredValues = BTreeMap<usize, BTreeSet<String>>;

/// What a pre-filter requires of fields' values: sound, not complete (an empty map is always
/// right).
fn required_values(tree: &LogicTree<CompiledMatch>) -> RequiredValues {
    match tree {
        LogicTree::Leaf(m) => m
            .exact_values()
            .map(|values| {
                let values = values.into_iter().map(str::to_owned).collect();
                RequiredValues::from([(m.field, values)])
            })
            .unwrap_or_default(),
        LogicTree::Not(_) => RequiredValues::new(),
        LogicTree::And(items) => {
            let mut required = RequiredValues::new();
            for item in items {
                for (field, values) in required_values(item) {
                    required.entry(field).or_insert(values);
                }
            }
            required
        }
        LogicTree::Or(items) => {
            let mut items = items.iter().map(required_values);
            let first = items.next().unwrap_or_default();
            items.fold(first, |mut required, other| {
                required.retain(|field, _| other.contains_key(field));
                for (field, values) in other {
                    if let Some(known) = required.get_mut(&field) {
                        known.extend(values);
                    }
                }
                required
            })
        }
    }
}

impl Candidates {
    /// The candidates among `members` (indexes into `detections`, in order), looked up by the
    /// field the most of their pre-filters require values of.
    pub(crate) fn new(detections: &[CompiledDetection], members: &[usize]) -> Candidates {
        let required: Vec<RequiredValues> = members
            .iter()
            .map(|&d| {
                detections[d]
                    .plain_prefilter()
                    .map(required_values)
                    .unwrap_or_default()
            })
            .collect();
        let mut uses: BTreeMap<usize, usize> = BTreeMap::new();
        for field in required.iter().flat_map(BTreeMap::keys) {
            *uses.entry(*field).or_default() += 1;
        }
        let Some(field) = uses
            .iter()
            .max_by_key(|(field, count)| (**count, std::cmp::Reverse(**field)))
            .map(|(field, _)| *field)
        else {
            return Candidates {
                field: None,
                by_value: HashMap::new(),
                others: members.to_vec(),
            };
        };
        let values: BTreeSet<&String> = required
            .iter()
            .filter_map(|r| r.get(&field))
            .flatten()
            .collect();
        let accepts = |r: &RequiredValues, value: Option<&String>| match (r.get(&field), value) {
            (None, _) => true,
            (Some(values), Some(value)) => values.contains(value),
            (Some(_), None) => false,
        };
        let of_value = |value: Option<&String>| -> Vec<usize> {
            members
                .iter()
                .zip(&required)
                .filter(|(_, r)| accepts(r, value))
                .map(|(d, _)| *d)
                .collect()
        };
        Candidates {
            field: Some(field),
            by_value: values
                .iter()
                .map(|v| ((*v).clone(), of_value(Some(v))))
                .collect(),
            others: of_value(None),
        }
    }

    /// The detections `record` can match, in order.
    pub(crate) fn of(&self, record: &Record) -> &[usize] {
        self.field
            .and_then(|field| record.field(field))
            .and_then(|value| self.by_value.get(value.lower()))
            .unwrap_or(&self.others)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logic::parse_selection;
    use serde_json::json;

    /// A pre-filter leaf: the one entry of `entry`, on field `field`.
    fn leaf(field: usize, entry: serde_json::Value) -> LogicTree<CompiledMatch> {
        let selection = parse_selection("s", &entry, "/s").unwrap();
        let no_lists = |_: &str| vec!["Listed".to_owned()];
        LogicTree::Leaf(CompiledMatch::new(
            &selection.alternatives[0][0],
            field,
            &no_lists,
        ))
    }

    fn required(tree: &LogicTree<CompiledMatch>) -> Vec<(usize, Vec<String>)> {
        required_values(tree)
            .into_iter()
            .map(|(f, v)| (f, v.into_iter().collect()))
            .collect()
    }

    #[test]
    fn pre_filters_require_only_what_every_passing_value_has() {
        let both = LogicTree::And(vec![leaf(0, json!({"A": "X"})), leaf(1, json!({"B": "y"}))]);
        assert_eq!(
            required(&both),
            [(0, vec!["x".into()]), (1, vec!["y".into()])]
        );
        let either = LogicTree::Or(vec![
            leaf(0, json!({"A": ["x", "Y"]})),
            LogicTree::And(vec![leaf(0, json!({"A": "z"})), leaf(1, json!({"B": "w"}))]),
        ]);
        assert_eq!(
            required(&either),
            [(0, vec!["x".into(), "y".into(), "z".into()])],
            "B is not required on the first branch"
        );
        let listed = leaf(0, json!({"A|expand": "%l%"}));
        assert_eq!(required(&listed), [(0, vec!["listed".into()])]);
        for open in [
            LogicTree::Or(vec![
                leaf(0, json!({"A": "x"})),
                leaf(0, json!({"A|contains": "z"})),
            ]),
            LogicTree::Or(vec![leaf(0, json!({"A": "x"})), leaf(1, json!({"B": "x"}))]),
            LogicTree::Not(Box::new(leaf(0, json!({"A": "x"})))),
            leaf(0, json!({"A": ["x", null]})),
            leaf(0, json!({"A|contains|all": ["x", "y"]})),
            leaf(0, json!({"A": "x*"})),
        ] {
            assert_eq!(required(&open), [], "{open:?}");
        }
    }
}
