//! Alerts, as the compiled queries produce them.
//!
//! A detection without a threshold raises one alert per matching event, with the event's field
//! values and findings. A threshold detection raises one alert per group and episode: from the
//! start of its first full window to the end of its last, counting every matching event of the
//! group in that span, with the latest event's values, every distinct value of each field and every finding.
//! Lists are capped as the queries cap `make_set` (the counts are not).

use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde_json::Value;

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
        serde_json::to_value(self.json(detection, None, false))
            .expect("an alert is strings, numbers and lists")
    }

    /// The alert as [`Alert::to_json`] has it, ready to be serialised without building it as a
    /// `Value` (the scan writes thousands). With `run`, the time the run that raised it executed
    /// (`run_time`, last); with `places`, each event's line and byte offset.
    pub(crate) fn json<'a>(
        &'a self,
        detection: &'a Detection,
        run: Option<Timestamp>,
        places: bool,
    ) -> impl Serialize + 'a {
        let threshold = self.tier.as_ref();
        AlertJson {
            detection: DetectionJson {
                id: &detection.meta.id,
                name: format!("{}/{}", detection.section, detection.slug),
                title: &detection.meta.title,
            },
            severity: self.severity(detection).as_str(),
            start: Iso(self.start),
            end: Iso(self.end),
            event_count: self.event_count,
            group: threshold.map(|_| Object(&self.group)),
            tier: threshold.map(|(name, required)| TierJson {
                name,
                required: *required,
            }),
            fields: Object(&self.fields),
            all_values: (!self.all_values.is_empty()).then_some(Object(&self.all_values)),
            findings: &self.findings,
            events: EventsJson {
                events: &self.events,
                places,
            },
            run_time: run.map(Iso),
        }
    }
}

/// An alert in JSON, its keys in the order the output has always had them.
#[derive(Serialize)]
struct AlertJson<'a> {
    detection: DetectionJson<'a>,
    severity: &'a str,
    start: Iso,
    end: Iso,
    event_count: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<Object<'a, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tier: Option<TierJson<'a>>,
    fields: Object<'a, Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    all_values: Option<Object<'a, Vec<String>>>,
    findings: &'a [String],
    events: EventsJson<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    run_time: Option<Iso>,
}

#[derive(Serialize)]
struct DetectionJson<'a> {
    id: &'a str,
    name: String,
    title: &'a str,
}

#[derive(Serialize)]
struct TierJson<'a> {
    name: &'a str,
    required: u32,
}

/// A time as the alert writes it (ISO 8601, see [`Timestamp::iso`]).
struct Iso(Timestamp);

impl Serialize for Iso {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.iso().as_str())
    }
}

/// (key, value) pairs as a JSON object, as a `serde_json::Map` would hold them: a repeated
/// key (a threshold may group by one field twice) keeps its first place and its last value.
struct Object<'a, V>(&'a [(String, V)]);

impl<V: Serialize> Serialize for Object<'_, V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let pairs = self.0;
        let mut map = serializer.serialize_map(None)?;
        for (i, (key, _)) in pairs.iter().enumerate() {
            if pairs[..i].iter().any(|(k, _)| k == key) {
                continue;
            }
            let (_, value) = pairs[i..]
                .iter()
                .rev()
                .find(|(k, _)| k == key)
                .expect("the pair itself");
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// The events behind an alert; with `places`, where each is in the input.
struct EventsJson<'a> {
    events: &'a [EventRef],
    places: bool,
}

impl Serialize for EventsJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut list = serializer.serialize_seq(Some(self.events.len()))?;
        for event in self.events {
            list.serialize_element(&EventJson {
                position: event.position,
                id: event.id.as_deref(),
                time: Iso(event.time),
                line: self.places.then_some(event.line),
                offset: self.places.then_some(event.offset),
            })?;
        }
        list.end()
    }
}

#[derive(Serialize)]
struct EventJson<'a> {
    position: u64,
    id: Option<&'a str>,
    time: Iso,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    offset: Option<u64>,
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::catalogue::Catalogue;

    /// What the scan writes for a threshold alert, key by key: a field grouped by twice keeps
    /// its first place and its last value (as a JSON map does), the events carry their places
    /// and the run time comes last; `to_json` is the same document without them.
    #[test]
    fn an_alert_is_written_as_its_json_value_is() {
        let catalogue =
            Catalogue::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("detections")).unwrap();
        let (index, detection) = catalogue
            .detections
            .iter()
            .enumerate()
            .find(|(_, d)| d.slug == "role-activated-repeatedly")
            .unwrap();
        let time = Timestamp::parse("2025-06-01T10:25:23.561Z").unwrap();
        let alert = Alert {
            detection: index,
            start: time,
            end: time.minus_seconds(0),
            event_count: 2,
            group: vec![
                ("TargetUser".to_owned(), "a@contoso.example".to_owned()),
                ("RoleName".to_owned(), "User Administrator".to_owned()),
                ("TargetUser".to_owned(), "b@contoso.example".to_owned()),
            ],
            tier: Some(("default".to_owned(), 3)),
            fields: vec![
                ("ActorIpAddress".to_owned(), Some("203.0.113.3".to_owned())),
                ("GroupName".to_owned(), None),
            ],
            all_values: vec![("ActorIpAddress".to_owned(), vec!["203.0.113.3".to_owned()])],
            findings: vec!["a \"quoted\" finding".to_owned()],
            events: vec![EventRef {
                position: 7,
                line: 8,
                offset: 900,
                id: None,
                time,
            }],
        };
        let head = format!(
            r#"{{"detection":{{"id":"{}","name":"pim-alerts/role-activated-repeatedly","title":"{}"}},"severity":"{}","start":"2025-06-01T10:25:23.561Z","end":"2025-06-01T10:25:23.561Z","event_count":2,"group":{{"TargetUser":"b@contoso.example","RoleName":"User Administrator"}},"tier":{{"name":"default","required":3}},"fields":{{"ActorIpAddress":"203.0.113.3","GroupName":null}},"all_values":{{"ActorIpAddress":["203.0.113.3"]}},"findings":["a \"quoted\" finding"],"events":[{{"position":7,"id":null,"time":"2025-06-01T10:25:23.561Z""#,
            detection.meta.id,
            detection.meta.title,
            alert.severity(detection).as_str()
        );
        assert_eq!(alert.to_json(detection).to_string(), format!("{head}}}]}}"));
        let run = Timestamp::parse("2025-06-01T11:00:00Z").unwrap();
        assert_eq!(
            serde_json::to_string(&alert.json(detection, Some(run), true)).unwrap(),
            format!(r#"{head},"line":8,"offset":900}}],"run_time":"2025-06-01T11:00:00Z"}}"#)
        );
        // Without a tier, neither the group nor the tier is written.
        let single = Alert {
            tier: None,
            group: Vec::new(),
            all_values: Vec::new(),
            ..alert
        };
        let json = single.to_json(detection);
        assert!(json.get("group").is_none() && json.get("tier").is_none());
        assert!(json.get("all_values").is_none());
    }
}
