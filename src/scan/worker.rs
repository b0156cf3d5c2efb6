//! Evaluating one batch of events: parse each record's top level, route it to its log source,
//! run the detections of that source. Workers share nothing but the compiled engine.

use super::input::{Batch, Records};
use super::route::route;
use crate::eval::{Engine, Hit};

/// What a batch held and produced. Hit positions count from 1 within the batch.
pub(crate) struct BatchResult {
    pub sequence: u64,
    /// The batch's buffer, handed back for reuse.
    pub data: Vec<u8>,
    /// Lines (blank ones too) or array elements in the batch.
    pub records: u64,
    pub hits: Vec<Hit>,
    pub counts: Counts,
}

/// What could not be evaluated, and why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Records that are JSON objects.
    pub events: u64,
    /// Records that are not JSON objects, and the first of them (position within its batch, problem).
    pub unreadable: u64,
    pub first_unreadable: Option<(u64, String)>,
    /// Events that fit no log source of the catalogue.
    pub unrouted: u64,
    /// Matches on events without a time.
    pub untimed: u64,
}

impl Counts {
    pub(crate) fn add(&mut self, other: &Counts, position_base: u64) {
        self.events += other.events;
        self.unreadable += other.unreadable;
        if self.first_unreadable.is_none() {
            self.first_unreadable = other
                .first_unreadable
                .as_ref()
                .map(|(p, e)| (p + position_base, e.clone()));
        }
        self.unrouted += other.unrouted;
        self.untimed += other.untimed;
    }
}

pub(crate) fn evaluate(engine: &Engine, batch: Batch) -> BatchResult {
    let mut hits = Vec::new();
    let mut counts = Counts::default();
    let mut records = 0;
    let mut one = |text: &[u8], position: u64| {
        evaluate_record(engine, text, position, &mut hits, &mut counts);
    };
    match &batch.records {
        Records::Lines => {
            let data = &batch.data;
            let mut start = 0;
            for end in memchr::memchr_iter(b'\n', data)
                .chain((data.last() != Some(&b'\n')).then_some(data.len()))
            {
                records += 1;
                let line = &data[start..end];
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                if !line.iter().all(u8::is_ascii_whitespace) {
                    one(line, records);
                }
                start = end + 1;
            }
        }
        Records::Spans(spans) => {
            for span in spans {
                records += 1;
                one(&batch.data[span.clone()], records);
            }
        }
    }
    BatchResult {
        sequence: batch.sequence,
        data: batch.data,
        records,
        hits,
        counts,
    }
}

fn evaluate_record(
    engine: &Engine,
    text: &[u8],
    position: u64,
    hits: &mut Vec<Hit>,
    counts: &mut Counts,
) {
    let mut unreadable = |problem: String| {
        counts.unreadable += 1;
        if counts.first_unreadable.is_none() {
            counts.first_unreadable = Some((position, problem));
        }
    };
    // One UTF-8 check of the whole line is cheaper than serde_json's check of each value.
    let text = match std::str::from_utf8(text) {
        Ok(text) => text,
        Err(e) => return unreadable(format!("not UTF-8: {e}")),
    };
    let found = match engine.read(text) {
        Ok(found) => found,
        Err(e) => return unreadable(format!("not a JSON object: {e}")),
    };
    counts.events += 1;
    let shape = engine.shape(&found);
    let Some((source, columns)) = route(engine, &found, shape) else {
        counts.unrouted += 1;
        return;
    };
    if engine.reads(source) {
        let record = crate::eval::Record::new(&engine.sources[source], columns);
        counts.untimed += engine.evaluate(source, &record, position, hits) as u64;
    }
}
