//! Evaluating one batch of records: unpack wrappers, tell each record's shape and log source by
//! its own fields, run the detections of that source, and count everything else by reason.
//! Workers share nothing but the compiled engine.

use serde::de::IgnoredAny;
use serde_json::value::RawValue;

use super::counts::{Counts, Skip, Unread};
use super::prefilter::{Candidates, Prefilter};
use super::read::json::{Table, row_object};
use super::read::{Batch, Records};
use super::route::{Route, route};
use crate::catalogue::shape::InputKind;
use crate::eval::key_tree::RawJson;
use crate::eval::record::plain_text;
use crate::eval::{Engine, Hit, Place, Shape};

/// How deep wrappers nest inside one line or record (`[{"records": [...]}]`).
const NESTING: u32 = 3;

/// The shapes of the catalogue by name, and which one each (source, shape) is.
#[derive(Debug, Clone)]
pub(crate) struct ShapeNames {
    pub names: Vec<String>,
    pub titles: Vec<String>,
    /// What each shape is recognised by, as a person reads it.
    pub recognition: Vec<String>,
    /// By source, then by shape: the index into `names` (a lookup per record, so no hashing).
    index: Vec<Vec<usize>>,
}

impl ShapeNames {
    pub(crate) fn new(engine: &Engine) -> ShapeNames {
        let mut names: Vec<String> = Vec::new();
        let mut titles = Vec::new();
        let mut recognition = Vec::new();
        let mut index = vec![Vec::new(); engine.sources.len()];
        for (source, plan) in engine.sources.iter().enumerate() {
            index[source] = vec![usize::MAX; plan.shapes().len()];
            for (i, shape) in plan.shapes().iter().enumerate().skip(Shape::FIRST_DECLARED) {
                let at = if let Some(at) = names.iter().position(|n| *n == shape.name) {
                    at
                } else {
                    names.push(shape.name.clone());
                    titles.push(shape.title.clone());
                    let keys = match shape.input {
                        InputKind::Json => "keys",
                        InputKind::Csv => "CSV columns",
                    };
                    recognition.push(format!(
                        "{} ({keys} {})",
                        crate::diagnostic::escape_controls(&shape.title),
                        shape.recognition()
                    ));
                    names.len() - 1
                };
                index[source][i] = at;
            }
        }
        ShapeNames {
            names,
            titles,
            recognition,
            index,
        }
    }

    /// Every shape the catalogue reads, with its keys: what a record of no shape should have
    /// been.
    pub(crate) fn expected(&self) -> String {
        self.recognition.join("; ")
    }

    pub(crate) fn of(&self, source: usize, shape: Shape) -> usize {
        self.index[source][shape.0]
    }
}

/// What a batch held and produced. Record numbers count from 1 within the batch; so do lines
/// of a JSON-lines batch.
pub(crate) struct BatchResult {
    pub sequence: u64,
    /// The batch's buffer, handed back for reuse.
    pub data: Vec<u8>,
    /// For a JSON-lines batch, its lines (whose numbers the scan moves on).
    pub lines: Option<u64>,
    pub hits: Vec<Hit>,
    pub counts: Counts,
}

/// Evaluates a batch; records that `prefilter` rules out are counted and passed over (from its
/// `from_batch` on). `candidates` is the prefilter's scratch space, kept by the worker thread.
pub(crate) fn evaluate(
    engine: &Engine,
    shapes: &ShapeNames,
    prefilter: Option<&Prefilter>,
    candidates: &mut Candidates,
    batch: Batch,
) -> BatchResult {
    let mut work = Work::new(engine, shapes, prefilter, candidates, batch.sequence);
    let mut lines = None;
    match &batch.records {
        Records::Lines { offset } => {
            let mut line = 0;
            work.lines(&batch.data, *offset, &mut line);
            lines = Some(line);
        }
        Records::Spans { input, spans } => {
            for (span, place) in spans {
                work.bytes(&batch.data[span.clone()], *place, *input);
            }
        }
    }
    BatchResult {
        sequence: batch.sequence,
        data: batch.data,
        lines,
        hits: work.hits,
        counts: work.counts,
    }
}

/// A batch of JSON lines evaluated a piece at a time, as a worker reads it from the file
/// ([`super::read::positional`]): the result is that of [`evaluate`] over the whole batch.
pub(crate) struct PieceByPiece<'e, 'c> {
    work: Work<'e, 'c>,
    sequence: u64,
    /// Lines so far.
    line: u64,
}

impl<'e, 'c> PieceByPiece<'e, 'c> {
    /// A batch whose prefilter is set before its first piece ([`PieceByPiece::prefilter`]):
    /// choosing it may take the first piece.
    pub(crate) fn new(
        engine: &'e Engine<'c>,
        shapes: &'e ShapeNames,
        candidates: &'e mut Candidates,
        sequence: u64,
    ) -> PieceByPiece<'e, 'c> {
        PieceByPiece {
            work: Work::new(engine, shapes, None, candidates, sequence),
            sequence,
            line: 0,
        }
    }

    /// Whether no piece has been evaluated yet.
    pub(crate) fn is_new(&self) -> bool {
        self.line == 0
    }

    /// Passes over the records that `prefilter` rules out (from its `from_batch` on).
    pub(crate) fn prefilter(&mut self, prefilter: Option<&'e Prefilter>) {
        self.work.prefilter = prefilter.filter(|p| self.sequence >= p.from_batch);
    }

    /// The next piece of the batch (whole lines), which starts at byte `offset` of the input.
    pub(crate) fn piece(&mut self, data: &[u8], offset: u64) {
        self.work.lines(data, offset, &mut self.line);
    }

    pub(crate) fn finish(self) -> BatchResult {
        BatchResult {
            sequence: self.sequence,
            data: Vec::new(),
            lines: Some(self.line),
            hits: self.work.hits,
            counts: self.work.counts,
        }
    }
}

struct Work<'e, 'c> {
    engine: &'e Engine<'c>,
    shapes: &'e ShapeNames,
    prefilter: Option<&'e Prefilter>,
    /// The prefilter's finds in a batch of JSON lines.
    lines: &'e mut Candidates,
    /// Scratch space for the prefilter, record by record (framed records, and those inside
    /// the wrappers of a line).
    records: Candidates,
    hits: Vec<Hit>,
    counts: Counts,
}

impl<'e, 'c> Work<'e, 'c> {
    fn new(
        engine: &'e Engine<'c>,
        shapes: &'e ShapeNames,
        prefilter: Option<&'e Prefilter>,
        candidates: &'e mut Candidates,
        sequence: u64,
    ) -> Work<'e, 'c> {
        Work {
            engine,
            shapes,
            prefilter: prefilter.filter(|p| sequence >= p.from_batch),
            lines: candidates,
            records: Candidates::default(),
            hits: Vec::new(),
            counts: Counts::new(&shapes.names, engine.sources.len()),
        }
    }

    /// JSON lines (whole ones, starting at byte `offset` of the input), the first of them line
    /// `line + 1` of the batch; `line` is moved on past them.
    fn lines(&mut self, data: &[u8], offset: u64, line: &mut u64) {
        // The whole batch is searched at once; then only the lines with a find are looked at
        // again.
        let prefilter = self.prefilter;
        if let Some(prefilter) = prefilter {
            prefilter.search_lines(data, self.lines);
        }
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', data)
            .chain((data.last() != Some(&b'\n')).then_some(data.len()))
        {
            *line += 1;
            let text = &data[start..end];
            let text = text.strip_suffix(b"\r").unwrap_or(text);
            if !text.iter().all(u8::is_ascii_whitespace) {
                let place = Place {
                    record: 0,
                    line: *line,
                    offset: offset + start as u64,
                };
                if prefilter.is_some_and(|p| {
                    !p.line_must_parse(self.lines, start..start + text.len(), data)
                }) {
                    self.pass_over(place);
                } else {
                    self.parse(text, place, InputKind::Json);
                }
            }
            start = end + 1;
        }
    }

    fn next_place(&mut self, place: Place) -> Place {
        self.counts.records += 1;
        Place {
            record: self.counts.records,
            ..place
        }
    }

    /// Counts a record (or wrapper) as passed over when the prefilter rules it out.
    fn passed_over(&mut self, bytes: &[u8], place: Place, may_wrap: bool) -> bool {
        let Some(prefilter) = self.prefilter else {
            return false;
        };
        if prefilter.must_parse(bytes, may_wrap, &mut self.records) {
            return false;
        }
        self.pass_over(place);
        true
    }

    /// Counts a record the prefilter ruled out.
    fn pass_over(&mut self, place: Place) {
        self.next_place(place);
        self.counts.passed_over += 1;
    }

    fn bytes(&mut self, bytes: &[u8], place: Place, input: InputKind) {
        // Before the UTF-8 check, which costs about as much as the prefilter's search.
        if self.passed_over(bytes, place, input == InputKind::Json) {
            return;
        }
        self.parse(bytes, place, input);
    }

    /// A record (or wrapper) the prefilter did not rule out.
    fn parse(&mut self, bytes: &[u8], place: Place, input: InputKind) {
        // One UTF-8 check of the whole record is cheaper than serde_json's check of each value.
        match std::str::from_utf8(bytes) {
            Ok(text) => self.text(text, place, input, 0),
            Err(e) => {
                let place = self.next_place(place);
                self.counts
                    .unread(Unread::Unreadable(format!("not UTF-8: {e}")), place);
            }
        }
    }

    fn text(&mut self, text: &str, place: Place, input: InputKind, depth: u32) {
        let engine = self.engine;
        if input == InputKind::Json && depth < NESTING && text.trim_start().starts_with('[') {
            match serde_json::from_str::<Vec<&RawValue>>(text) {
                Ok(elements) => {
                    for element in elements {
                        self.text(
                            element.get(),
                            within(text, element.get(), place),
                            input,
                            depth + 1,
                        );
                    }
                }
                Err(e) => {
                    let place = self.next_place(place);
                    self.counts
                        .unread(Unread::Unreadable(format!("not a JSON array: {e}")), place);
                }
            }
            return;
        }
        let may_wrap = input == InputKind::Json && depth < NESTING;
        // Records at the top were looked at before their UTF-8 check.
        if depth > 0 && self.passed_over(text.as_bytes(), place, may_wrap) {
            return;
        }
        let found = match engine.read_as(text, input) {
            Ok(found) => found,
            Err(e) => {
                let place = self.next_place(place);
                self.counts
                    .unread(Unread::Unreadable(format!("not a JSON object: {e}")), place);
                return;
            }
        };
        if may_wrap && let Some((key, array)) = engine.wrapped(&found) {
            return self.wrapper(text, key, array, place, depth);
        }
        let place = self.next_place(place);
        let (source, shape) = match route(engine, &found, input) {
            Route::Event { source, shape } => (source, shape),
            Route::OtherCategory {
                source,
                shape,
                category,
            } => {
                let name = plain_text(category)
                    .map_or_else(|| category.get().to_owned(), std::borrow::Cow::into_owned);
                let at = self.shapes.of(source, shape);
                self.counts.skip(at, Skip::OtherCategory(name), place);
                return;
            }
            Route::Unknown => {
                self.counts
                    .unread(Unread::UnknownShape(first_keys(text)), place);
                return;
            }
        };
        let at = self.shapes.of(source, shape);
        let record = engine.record(&found, shape, source);
        let timed = record.time().is_some();
        if !timed && let Some(written) = record.time_text() {
            self.counts
                .skip(at, Skip::UnparseableTime(written.into_owned()), place);
            return;
        }
        self.counts.recognise(at, source, timed);
        if engine.reads(source) && engine.evaluate(source, &record, place, &mut self.hits) > 0 {
            self.counts.skip(at, Skip::NoTime, place);
        }
    }

    /// The records of a wrapper object found on one line (or inside a record).
    fn wrapper(&mut self, text: &str, key: &str, array: RawJson, place: Place, depth: u32) {
        let elements = match serde_json::from_str::<Vec<&RawValue>>(array.get()) {
            Ok(elements) => elements,
            Err(e) => {
                let place = self.next_place(within(text, array.get(), place));
                self.counts.unread(
                    Unread::Unreadable(format!("the `{key}` array is not valid JSON: {e}")),
                    place,
                );
                return;
            }
        };
        if key != "tables" {
            for element in elements {
                self.text(
                    element.get(),
                    within(text, element.get(), place),
                    InputKind::Json,
                    depth + 1,
                );
            }
            return;
        }
        for table in elements {
            match serde_json::from_str::<Table>(table.get()) {
                Ok(parsed) => {
                    let names: Vec<String> = parsed.columns.into_iter().map(|c| c.name).collect();
                    for row in &parsed.rows {
                        let row_place = row.first().map_or(place, |v| within(text, v.get(), place));
                        let mut object = Vec::new();
                        row_object(&names, row, &mut object);
                        let object = String::from_utf8(object).expect("JSON text is UTF-8");
                        self.text(&object, row_place, InputKind::Json, NESTING);
                    }
                }
                Err(e) => {
                    let place = self.next_place(within(text, table.get(), place));
                    self.counts.unread(
                        Unread::Unreadable(format!("a table of `tables` is not {{\"columns\": [...], \"rows\": [...]}}: {e}")),
                        place,
                    );
                }
            }
        }
    }
}

/// The place of `inner`, a part of `outer` (which is at `place`).
fn within(outer: &str, inner: &str, place: Place) -> Place {
    let start = (inner.as_ptr() as usize).saturating_sub(outer.as_ptr() as usize);
    let start = start.min(outer.len());
    Place {
        record: place.record,
        line: place.line + memchr::memchr_iter(b'\n', &outer.as_bytes()[..start]).count() as u64,
        offset: place.offset + start as u64,
    }
}

/// The first keys of a JSON object, to show what an unknown record holds.
fn first_keys(text: &str) -> Vec<String> {
    const SHOWN: usize = 8;
    let keys: Vec<String> = serde_json::from_str::<indexmap::IndexMap<String, IgnoredAny>>(text)
        .map(|map| map.into_keys().collect())
        .unwrap_or_default();
    let mut shown: Vec<String> = keys.iter().take(SHOWN).cloned().collect();
    if keys.len() > SHOWN {
        shown.push(format!("and {} more", keys.len() - SHOWN));
    }
    if shown.is_empty() {
        shown.push("no keys".to_owned());
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Catalogue;
    use std::path::Path;

    #[test]
    fn wrappers_on_a_line_are_unpacked_and_each_record_keeps_its_place() {
        let catalogue =
            Catalogue::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("detections")).unwrap();
        let engine = Engine::new(&catalogue, |_| true);
        let shapes = ShapeNames::new(&engine);
        let disable = r#"{"time":"2025-01-01T00:00:00Z","category":"AuditLogs","operationName":"Disable PIM alert","properties":{"category":"RoleManagement","activityDisplayName":"Disable PIM alert","result":"success","initiatedBy":{"user":{"userPrincipalName":"a@contoso.example"}},"targetResources":[]}}"#;
        let signin = r#"{"time":"2025-01-01T00:00:01Z","category":"SignInLogs","properties":{}}"#;
        let first = format!("{{\"records\": [{disable}, {signin}]}}");
        let data = format!(
            "{first}\n[{{\"a\":1}}]\n{{\"TimeGenerated\":\"yesterday\",\"Type\":\"AuditLogs\"}}\n"
        );
        let batch = Batch {
            sequence: 0,
            data: data.into_bytes(),
            records: Records::Lines { offset: 100 },
        };
        let result = evaluate(&engine, &shapes, None, &mut Candidates::default(), batch);
        assert_eq!(result.lines, Some(3));
        let counts = &result.counts;
        assert_eq!(counts.records, 4);
        let hits: Vec<(u64, u64, u64)> = result
            .hits
            .iter()
            .map(|h| (h.event.position, h.event.line, h.event.offset))
            .collect();
        assert!(!hits.is_empty());
        assert!(hits.iter().all(|h| *h == (1, 1, 100 + 13)), "{hits:?}");
        let diagnostic = shapes.names.iter().position(|n| n == "diagnostic").unwrap();
        let (_, of_diagnostic) = &counts.shapes[diagnostic];
        assert_eq!(of_diagnostic.other_category.get("SignInLogs"), Some(&1));
        assert_eq!(counts.unknown_shape, 1);
        let unknown = counts.first_unknown_shape.as_ref().unwrap();
        assert_eq!(
            (
                unknown.place.record,
                unknown.place.line,
                unknown.place.offset,
                unknown.detail.as_str()
            ),
            (3, 2, 100 + first.len() as u64 + 2, "a")
        );
        let rows = shapes
            .names
            .iter()
            .position(|n| n == "log_analytics")
            .unwrap();
        let (_, of_rows) = &counts.shapes[rows];
        assert_eq!(of_rows.unparseable_time, 1);
        assert_eq!(
            of_rows.first_unparseable_time.as_ref().unwrap().detail,
            "yesterday"
        );
    }
}
