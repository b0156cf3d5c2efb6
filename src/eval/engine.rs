//! The evaluator for a whole catalogue: every log source and detection compiled once, then
//! events in, hits out, and hits turned into alerts.

use std::borrow::Cow;
use std::collections::HashMap;

use super::alert::Alert;
use super::compiled::CompiledDetection;
use super::hit::Hit;
use super::key_tree::{Found, KeyTree};
use super::record::{Record, plain_text};
use super::shape::Shape;
use super::source::SourcePlan;
use super::window::ThresholdRun;
use crate::catalogue::Catalogue;

/// Slot paths of the keys that tell an event's shape and table apart.
struct Envelope {
    time_generated: Vec<usize>,
    table: Vec<usize>,
    properties: Vec<usize>,
    operation_name: Vec<usize>,
    time: Vec<usize>,
}

pub struct Engine<'c> {
    pub(crate) catalogue: &'c Catalogue,
    /// Every key any log source reads, in both shapes.
    keys: KeyTree,
    envelope: Envelope,
    /// One per log source, in catalogue order.
    pub(crate) sources: Vec<SourcePlan>,
    pub(crate) detections: Vec<CompiledDetection>,
    /// For each source, the compiled detections that read it.
    by_source: Vec<Vec<usize>>,
    /// Catalogue index of a detection to its compiled index.
    compiled: HashMap<usize, usize>,
}

impl<'c> Engine<'c> {
    /// How many detections the engine runs.
    pub fn detection_count(&self) -> usize {
        self.detections.len()
    }

    /// Compiles the detections whose catalogue index `include` accepts.
    pub fn new(catalogue: &'c Catalogue, include: impl Fn(usize) -> bool) -> Engine<'c> {
        let mut keys = KeyTree::default();
        let envelope = Envelope {
            time_generated: keys.insert(&["TimeGenerated"]),
            table: keys.insert(&["Type"]),
            properties: keys.insert(&["properties"]),
            operation_name: keys.insert(&["operationName"]),
            time: keys.insert(&["time"]),
        };
        let sources: Vec<SourcePlan> = catalogue
            .logsources
            .values()
            .map(|s| SourcePlan::new(s, &mut keys))
            .collect();
        let mut detections = Vec::new();
        let mut by_source = vec![Vec::new(); sources.len()];
        let mut compiled = HashMap::new();
        for (index, detection) in catalogue
            .detections
            .iter()
            .enumerate()
            .filter(|(i, _)| include(*i))
        {
            let source = catalogue
                .logsources
                .get_index_of(&detection.meta.logsource)
                .expect("validated: detections name loaded log sources");
            compiled.insert(index, detections.len());
            by_source[source].push(detections.len());
            detections.push(CompiledDetection::new(
                catalogue,
                index,
                source,
                &sources[source],
            ));
        }
        Engine {
            catalogue,
            keys,
            envelope,
            sources,
            detections,
            by_source,
            compiled,
        }
    }

    /// Reads an event (a JSON object), keeping the raw text of every key a log source reads.
    pub(crate) fn read<'a>(&self, text: &'a str) -> Result<Found<'a>, serde_json::Error> {
        self.keys.read(text)
    }

    /// Tells the shapes apart by their keys: a row has `TimeGenerated`; a diagnostic record has
    /// `properties` and an `operationName` or `time` envelope.
    pub(crate) fn shape(&self, found: &Found) -> Shape {
        let has = |path: &[usize]| found.at(&self.keys, path).is_some();
        if !has(&self.envelope.time_generated)
            && has(&self.envelope.properties)
            && (has(&self.envelope.operation_name) || has(&self.envelope.time))
        {
            Shape::Diagnostic
        } else {
            Shape::LogAnalytics
        }
    }

    /// The table a Log Analytics row names in its `Type` column.
    pub(crate) fn table<'a>(&self, found: &Found<'a>) -> Option<Cow<'a, str>> {
        found
            .at(&self.keys, &self.envelope.table)
            .and_then(plain_text)
    }

    /// The raw value of each column of source `source` in an event read as `shape`.
    pub(crate) fn locate<'a>(
        &self,
        found: &Found<'a>,
        shape: Shape,
        source: usize,
    ) -> Vec<Option<&'a serde_json::value::RawValue>> {
        self.sources[source].locate(&self.keys, found, shape)
    }

    /// An event read as `shape`, as an event of source `source`.
    pub(crate) fn record<'a>(
        &self,
        found: &Found<'a>,
        shape: Shape,
        source: usize,
    ) -> Record<'a, '_> {
        self.sources[source].record(&self.keys, found, shape)
    }

    /// The compiled form of catalogue detection `index`, if it was included.
    pub(crate) fn compiled(&self, index: usize) -> Option<&CompiledDetection> {
        self.compiled.get(&index).map(|c| &self.detections[*c])
    }

    /// Whether any included detection reads source `source`.
    pub(crate) fn reads(&self, source: usize) -> bool {
        !self.by_source[source].is_empty()
    }

    /// Evaluates an event of source `source` against every detection reading it, appending the
    /// hits to `out`. `position` locates the event in its input. Returns how many detections
    /// matched an event that has no time, which therefore cannot count.
    pub(crate) fn evaluate(
        &self,
        source: usize,
        record: &Record,
        position: u64,
        out: &mut Vec<Hit>,
    ) -> usize {
        let mut untimed = 0;
        for &d in &self.by_source[source] {
            let detection = &self.detections[d];
            if detection.matches(record) {
                match detection.hit(record, position) {
                    Some(hit) => out.push(hit),
                    None if record.time().is_none() => untimed += 1,
                    None => {}
                }
            }
        }
        untimed
    }

    /// Names of the output fields of catalogue detection `index`.
    pub(crate) fn output_field_names(&self, index: usize) -> Vec<String> {
        let compiled = self
            .compiled(index)
            .expect("hits come from included detections");
        let plan = &self.sources[compiled.source];
        compiled
            .output_fields
            .iter()
            .map(|f| plan.field_name(*f).to_owned())
            .collect()
    }
}

/// Turns a stream of hits into alerts: at once for single events, at the end for thresholds.
pub(crate) struct Alerter<'e, 'c> {
    engine: &'e Engine<'c>,
    runs: HashMap<usize, ThresholdRun>,
    field_names: HashMap<usize, Vec<String>>,
}

impl<'e, 'c> Alerter<'e, 'c> {
    pub(crate) fn new(engine: &'e Engine<'c>) -> Alerter<'e, 'c> {
        Alerter {
            engine,
            runs: HashMap::new(),
            field_names: HashMap::new(),
        }
    }

    /// Takes a hit; returns its alert when the detection has no threshold.
    pub(crate) fn push(&mut self, hit: Hit) -> Option<Alert> {
        let engine = self.engine;
        let names = self
            .field_names
            .entry(hit.detection)
            .or_insert_with(|| engine.output_field_names(hit.detection));
        let compiled = engine
            .compiled(hit.detection)
            .expect("hits come from included detections");
        match &compiled.threshold {
            None => Some(Alert::of_event(hit, names)),
            Some(plan) => {
                self.runs
                    .entry(hit.detection)
                    .or_insert_with(|| ThresholdRun::new(hit.detection, plan.clone()))
                    .push(hit);
                None
            }
        }
    }

    /// The threshold alerts, in catalogue order, and per detection the number of matching events
    /// that arrived too far out of time order to count.
    pub(crate) fn finish(self) -> (Vec<Alert>, Vec<(usize, u64)>) {
        let mut runs: Vec<(usize, ThresholdRun)> = self.runs.into_iter().collect();
        runs.sort_by_key(|(d, _)| *d);
        let mut alerts = Vec::new();
        let mut late = Vec::new();
        for (detection, run) in runs {
            if run.late() > 0 {
                late.push((detection, run.late()));
            }
            alerts.extend(run.finish(&self.field_names[&detection]));
        }
        (alerts, late)
    }
}
