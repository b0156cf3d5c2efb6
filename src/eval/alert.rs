//! Alerts, as the compiled queries produce them.
//!
//! A detection without a threshold raises one alert per matching event, with the event's field
//! values and findings. A threshold detection raises one alert per group and episode: from the
//! start of its first full window to the end of its last, counting every matching event of the
//! group in that span, with the latest event's values, every distinct value of each field and every finding.
//! Lists are capped as the queries cap `make_set` (the counts are not).

use serde_json::{Map, Value, json};

use super::hit::{EventRef, Hit};
use crate::catalogue::Detection;
use crate::catalogue::detection::Severity;
use crate::timestamp::Timestamp;

/// How many events, and distinct values per field, an alert lists (KQL's `make_set(x, 100)`).
pub(crate) const LISTED_PER_ALERT: usize = 100;

#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Index of the detection in the catalogue.
    pub(crate) detection: usize,
    pub(crate) start: Timestamp,
    pub(crate) end: Timestamp,
    pub(crate) event_count: u64,
    /// (field, value) of the threshold's group; empty without a threshold.
    pub(crate) group: Vec<(String, String)>,
    /// The tier that applied and the events it needed; `None` without a threshold.
    pub(crate) tier: Option<(String, u32)>,
    /// (field, value) of the output fields, from the (latest) event.
    pub(crate) fields: Vec<(String, Option<String>)>,
    /// (field, distinct values) over the alert's events; empty without a threshold.
    pub(crate) all_values: Vec<(String, Vec<String>)>,
    pub(crate) findings: Vec<String>,
    /// The events behind the alert (at most [`LISTED_PER_ALERT`]).
    pub(crate) events: Vec<EventRef>,
}

impl Alert {
    /// The alert of a single matching event.
    pub(crate) fn of_event(hit: Hit, field_names: &[String]) -> Alert {
        Alert {
            detection: hit.detection,
            start: hit.time(),
            end: hit.time(),
            event_count: 1,
            group: Vec::new(),
            tier: None,
            fields: field_names.iter().cloned().zip(hit.values).collect(),
            all_values: Vec::new(),
            findings: hit.findings,
            events: vec![hit.event],
        }
    }

    /// The alert's severity: its tier's, if the tier has one, else the detection's.
    pub(crate) fn severity(&self, detection: &Detection) -> Severity {
        detection
            .meta
            .alert_severity(self.tier.as_ref().map(|(name, _)| name.as_str()))
    }

    /// The value of an output or group-by field.
    pub(crate) fn value(&self, field: &str) -> Option<&str> {
        self.group
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, v)| v.as_str())
            .or_else(|| {
                self.fields
                    .iter()
                    .find(|(f, _)| f == field)
                    .and_then(|(_, v)| v.as_deref())
            })
    }
}

impl Alert {
    /// The alert as JSON, for `rulecast test --format json` and `rulecast scan --format json`.
    pub(crate) fn to_json(&self, detection: &Detection) -> Value {
        let pairs = |items: &[(String, Option<String>)]| -> Map<String, Value> {
            items
                .iter()
                .map(|(f, v)| {
                    (
                        f.clone(),
                        v.as_ref().map_or(Value::Null, |v| Value::String(v.clone())),
                    )
                })
                .collect()
        };
        let mut alert = json!({
            "detection": { "id": detection.meta.id, "name": format!("{}/{}", detection.section, detection.slug), "title": detection.meta.title },
            "severity": self.severity(detection).as_str(),
            "start": self.start.to_string(),
            "end": self.end.to_string(),
            "event_count": self.event_count,
        });
        let map = alert.as_object_mut().expect("built as an object");
        if let Some((tier, required)) = &self.tier {
            let group: Vec<(String, Option<String>)> = self
                .group
                .iter()
                .map(|(f, v)| (f.clone(), Some(v.clone())))
                .collect();
            map.insert("group".to_owned(), Value::Object(pairs(&group)));
            map.insert(
                "tier".to_owned(),
                json!({ "name": tier, "required": required }),
            );
        }
        map.insert("fields".to_owned(), Value::Object(pairs(&self.fields)));
        if !self.all_values.is_empty() {
            map.insert(
                "all_values".to_owned(),
                Value::Object(
                    self.all_values
                        .iter()
                        .map(|(f, v)| (f.clone(), json!(v)))
                        .collect(),
                ),
            );
        }
        map.insert("findings".to_owned(), json!(self.findings));
        let events: Vec<Value> = self
            .events
            .iter()
            .map(|e| json!({ "position": e.position, "id": e.id, "time": e.time.to_string() }))
            .collect();
        map.insert("events".to_owned(), Value::Array(events));
        alert
    }
}

/// The events of a span of a threshold group, accumulated as they arrive.
#[derive(Debug, Clone, Default)]
pub(crate) struct Evidence {
    pub count: u64,
    pub events: Vec<EventRef>,
    /// The values of the latest event (ties: the first that arrived).
    pub latest: Option<(Timestamp, Vec<Option<String>>)>,
    /// Distinct values per output field.
    pub all_values: Vec<Vec<String>>,
    pub findings: Vec<String>,
}

impl Evidence {
    pub(crate) fn add(&mut self, hit: &Hit) {
        self.count += 1;
        if self.events.len() < LISTED_PER_ALERT {
            self.events.push(hit.event.clone());
        }
        if self.latest.as_ref().is_none_or(|(t, _)| hit.time() > *t) {
            self.latest = Some((hit.time(), hit.values.clone()));
        }
        self.all_values.resize(hit.values.len(), Vec::new());
        for (all, value) in self.all_values.iter_mut().zip(&hit.values) {
            if let Some(v) = value
                && all.len() < LISTED_PER_ALERT
                && !all.contains(v)
            {
                all.push(v.clone());
            }
        }
        for finding in &hit.findings {
            if !self.findings.contains(finding) {
                self.findings.push(finding.clone());
            }
        }
    }

    pub(crate) fn merge(&mut self, other: Evidence) {
        self.count += other.count;
        let room = LISTED_PER_ALERT.saturating_sub(self.events.len());
        self.events.extend(other.events.into_iter().take(room));
        if let Some((time, values)) = other.latest
            && self.latest.as_ref().is_none_or(|(t, _)| time > *t)
        {
            self.latest = Some((time, values));
        }
        self.all_values.resize(
            self.all_values.len().max(other.all_values.len()),
            Vec::new(),
        );
        for (all, values) in self.all_values.iter_mut().zip(other.all_values) {
            for v in values {
                if all.len() < LISTED_PER_ALERT && !all.contains(&v) {
                    all.push(v);
                }
            }
        }
        for finding in other.findings {
            if !self.findings.contains(&finding) {
                self.findings.push(finding);
            }
        }
    }
}
