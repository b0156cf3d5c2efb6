//! The evaluator for a whole catalogue: every log source and detection compiled once, then
//! events in, hits out, and hits turned into alerts.

use super::alert::Alert;
use super::compiled::{Candidates, CompiledDetection};
use super::hit::{Hit, Place};
use super::key_tree::{Found, KeyTree, RawJson};
use super::record::Record;
use super::shape::{Located, Shape};
use super::source::SourcePlan;
use super::window::{Spent, ThresholdRun};
use crate::catalogue::Catalogue;
use crate::catalogue::shape::InputKind;

/// The keys of the objects that wrap records: `{"records": [...]}` (Event Hub, storage
/// account), `{"value": [...]}` (Graph, REST APIs, portal exports), `{"tables": [...]}` (the Log
/// Analytics query API).
pub(crate) const WRAPPER_KEYS: [&str; 3] = ["records", "value", "tables"];

pub struct Engine<'c> {
    pub(crate) catalogue: &'c Catalogue,
    /// Every key any log source reads in a JSON shape, and the wrapper keys.
    keys: KeyTree,
    /// Every header any log source reads in a CSV shape.
    csv_keys: KeyTree,
    /// Slot paths of [`WRAPPER_KEYS`] in `keys`.
    wrappers: Vec<Vec<usize>>,
    /// One per log source, in catalogue order.
    pub(crate) sources: Vec<SourcePlan>,
    pub(crate) detections: Vec<CompiledDetection>,
    /// For each source, the compiled detections that read it.
    by_source: Vec<Vec<usize>>,
    /// For each source, those an event can match, by its value of one field.
    candidates: Vec<Candidates>,
    /// Per catalogue index of a detection, its compiled index (`None`: not included). Asked for
    /// every hit, so a list rather than a map.
    compiled: Vec<Option<usize>>,
}

impl<'c> Engine<'c> {
    /// How many detections the engine runs.
    pub fn detection_count(&self) -> usize {
        self.detections.len()
    }

    /// Compiles the detections whose catalogue index `include` accepts.
    pub fn new(catalogue: &'c Catalogue, include: impl Fn(usize) -> bool) -> Engine<'c> {
        let mut keys = KeyTree::default();
        let mut csv_keys = KeyTree::default();
        let wrappers = WRAPPER_KEYS.iter().map(|k| keys.insert(&[k])).collect();
        let sources: Vec<SourcePlan> = catalogue
            .logsources
            .values()
            .map(|s| SourcePlan::new(s, &mut keys, &mut csv_keys))
            .collect();
        let mut detections = Vec::new();
        let mut by_source = vec![Vec::new(); sources.len()];
        let mut compiled = vec![None; catalogue.detections.len()];
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
            compiled[index] = Some(detections.len());
            by_source[source].push(detections.len());
            detections.push(CompiledDetection::new(
                catalogue,
                index,
                source,
                &sources[source],
            ));
        }
        let candidates = by_source
            .iter()
            .map(|members| Candidates::new(&detections, members))
            .collect();
        Engine {
            catalogue,
            keys,
            csv_keys,
            wrappers,
            sources,
            detections,
            by_source,
            candidates,
            compiled,
        }
    }

    /// Reads an event (a JSON object), keeping the raw text of every key a log source reads in
    /// a JSON shape.
    pub(crate) fn read<'a>(&self, text: &'a str) -> Result<Found<'a>, serde_json::Error> {
        self.keys.read(text)
    }

    /// Reads a record of `input` (CSV rows arrive as JSON objects keyed by header).
    pub(crate) fn read_as<'a>(
        &self,
        text: &'a str,
        input: InputKind,
    ) -> Result<Found<'a>, serde_json::Error> {
        self.tree(input).read(text)
    }

    /// The key tree of `input`'s shapes.
    pub(crate) fn tree(&self, input: InputKind) -> &KeyTree {
        match input {
            InputKind::Json => &self.keys,
            InputKind::Csv => &self.csv_keys,
        }
    }

    /// The array a wrapper object holds (`records`, `value`, `tables`), and which key it was.
    pub(crate) fn wrapped<'a>(&self, found: &Found<'a>) -> Option<(&'static str, RawJson<'a>)> {
        WRAPPER_KEYS
            .iter()
            .zip(&self.wrappers)
            .find_map(|(key, path)| {
                let raw = found.at(&self.keys, path)?;
                raw.get().starts_with('[').then_some((*key, raw))
            })
    }

    /// The columns of source `source` in an event of `input` read as `shape`.
    pub(crate) fn locate<'a>(&self, found: &Found<'a>, source: usize, shape: Shape) -> Located<'a> {
        let plan = &self.sources[source];
        plan.locate(self.tree(plan.shape(shape).input), found, shape)
    }

    /// An event read as `shape`, as an event of source `source`.
    pub(crate) fn record<'a>(
        &self,
        found: &Found<'a>,
        shape: Shape,
        source: usize,
    ) -> Record<'a, '_> {
        Record::new(
            &self.sources[source],
            shape,
            self.locate(found, source, shape),
        )
    }

    /// The compiled form of catalogue detection `index`, if it was included.
    pub(crate) fn compiled(&self, index: usize) -> Option<&CompiledDetection> {
        self.compiled_index(index).map(|c| &self.detections[c])
    }

    /// The index in [`Engine::detections`] of catalogue detection `index`, if it was included.
    fn compiled_index(&self, index: usize) -> Option<usize> {
        self.compiled.get(index).copied().flatten()
    }

    /// Whether any included detection reads source `source`.
    pub(crate) fn reads(&self, source: usize) -> bool {
        !self.by_source[source].is_empty()
    }

    /// Evaluates an event of source `source` against every detection reading it, appending the
    /// hits to `out`. `place` locates the event in its input. Returns how many detections
    /// matched an event that has no time, which therefore cannot count.
    pub(crate) fn evaluate(
        &self,
        source: usize,
        record: &Record,
        place: Place,
        out: &mut Vec<Hit>,
    ) -> usize {
        let mut untimed = 0;
        for &d in self.candidates[source].of(record) {
            let detection = &self.detections[d];
            if detection.matches(record) {
                match detection.hit(record, place) {
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
    /// Per compiled detection: its threshold's windows, once a hit of it arrived.
    runs: Vec<Option<ThresholdRun>>,
    /// Per compiled detection: the names of its output fields, once a hit of it arrived.
    field_names: Vec<Option<Vec<String>>>,
}

impl<'e, 'c> Alerter<'e, 'c> {
    pub(crate) fn new(engine: &'e Engine<'c>) -> Alerter<'e, 'c> {
        Alerter {
            engine,
            runs: std::iter::repeat_with(|| None)
                .take(engine.detections.len())
                .collect(),
            field_names: vec![None; engine.detections.len()],
        }
    }

    /// Takes a hit; returns its alert when the detection has no threshold.
    pub(crate) fn push(&mut self, hit: Hit) -> Option<Alert> {
        let engine = self.engine;
        let compiled = engine
            .compiled_index(hit.detection)
            .expect("hits come from included detections");
        let names = self.field_names[compiled]
            .get_or_insert_with(|| engine.output_field_names(hit.detection));
        match &engine.detections[compiled].threshold {
            None => Some(Alert::of_event(hit, names)),
            Some(plan) => {
                self.runs[compiled]
                    .get_or_insert_with(|| ThresholdRun::new(hit.detection, plan.clone()))
                    .push(hit);
                None
            }
        }
    }

    /// The threshold alerts, in catalogue order, and per detection the number of matching events
    /// that arrived too far out of time order to count.
    pub(crate) fn finish(self) -> (Vec<Alert>, Vec<(usize, u64)>) {
        let (alerts, late, _) = self.finish_leaving();
        (alerts, late)
    }

    /// [`Alerter::finish`], handing back the hits the windows still held rather than freeing them
    /// ([`ThresholdRun::finish_leaving`]).
    pub(crate) fn finish_leaving(self) -> (Vec<Alert>, Vec<(usize, u64)>, Vec<Spent>) {
        let mut alerts = Vec::new();
        let mut late = Vec::new();
        let mut spent = Vec::new();
        // Compiled detections are in catalogue order.
        for (run, names) in self.runs.into_iter().zip(&self.field_names) {
            let Some(run) = run else { continue };
            if run.late() > 0 {
                late.push((run.detection(), run.late()));
            }
            let (run_alerts, run_spent) = run.finish_leaving(names.as_deref().unwrap_or_default());
            alerts.extend(run_alerts);
            spent.push(run_spent);
        }
        (alerts, late, spent)
    }
}
