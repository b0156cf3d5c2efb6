//! Alerts, as the compiled queries produce them.
//!
//! A detection without a threshold raises one alert per matching event, with the event's field
//! values and findings. A threshold detection raises one alert per group: from the start of its
//! first full window to the end of its last, counting every matching event of the group in that
//! span, with the latest event's values, every distinct value of each field and every finding.
//! Lists are capped as the queries cap `make_set` (the counts are not).

use super::hit::{EventRef, Hit};
use crate::timestamp::Timestamp;

/// How many events, and distinct values per field, an alert lists (KQL's `make_set(x, 100)`).
pub const LISTED_PER_ALERT: usize = 100;

#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Index of the detection in the catalogue.
    pub detection: usize,
    pub start: Timestamp,
    pub end: Timestamp,
    pub event_count: u64,
    /// (field, value) of the threshold's group; empty without a threshold.
    pub group: Vec<(String, String)>,
    /// The tier that applied and the events it needed; `None` without a threshold.
    pub tier: Option<(String, u32)>,
    /// (field, value) of the output fields, from the (latest) event.
    pub fields: Vec<(String, Option<String>)>,
    /// (field, distinct values) over the alert's events; empty without a threshold.
    pub all_values: Vec<(String, Vec<String>)>,
    pub findings: Vec<String>,
    /// The events behind the alert (at most [`LISTED_PER_ALERT`]).
    pub events: Vec<EventRef>,
}

impl Alert {
    /// The alert of a single matching event.
    pub fn of_event(hit: Hit, field_names: &[String]) -> Alert {
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

    /// The value of an output or group-by field.
    pub fn value(&self, field: &str) -> Option<&str> {
        self.group
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, v)| v.as_str())
            .or_else(|| self.fields.iter().find(|(f, _)| f == field).and_then(|(_, v)| v.as_deref()))
    }
}

/// The events of a span of a threshold group, accumulated as they arrive.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    pub count: u64,
    pub events: Vec<EventRef>,
    /// The values of the latest event (ties: the first that arrived).
    pub latest: Option<(Timestamp, Vec<Option<String>>)>,
    /// Distinct values per output field.
    pub all_values: Vec<Vec<String>>,
    pub findings: Vec<String>,
}

impl Evidence {
    pub fn add(&mut self, hit: &Hit) {
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

    pub fn merge(&mut self, other: Evidence) {
        self.count += other.count;
        let room = LISTED_PER_ALERT.saturating_sub(self.events.len());
        self.events.extend(other.events.into_iter().take(room));
        if let Some((time, values)) = other.latest
            && self.latest.as_ref().is_none_or(|(t, _)| time > *t)
        {
            self.latest = Some((time, values));
        }
        self.all_values.resize(self.all_values.len().max(other.all_values.len()), Vec::new());
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
