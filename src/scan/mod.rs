//! `rulecast scan`: every detection over an exported log, without a SIEM.
//!
//! For a SOC that wants to know what the catalogue would have found in last month's audit
//! log, or an engineer checking a new rule against real data before it ships. The evaluator is
//! the one `rulecast test` uses, so a scan finds what the deployed queries find.
//!
//! The file is streamed: a reader thread cuts it into batches ([`read`]), or, for a regular file
//! of JSON lines, the worker threads read their batches themselves at positions
//! ([`read::positional`]); the workers parse and evaluate them in parallel ([`worker`]), and
//! this thread puts the results back in file order and turns hits into alerts. Single-event alerts are emitted as they are found;
//! threshold alerts when the input ends (one per group and episode, as the queries report them
//! over their look-back). `--schedule` keeps the hits instead and replays them through a
//! target's deployed schedule ([`schedule`]). Memory is a few batches plus the threshold
//! windows, whatever the file's size. Events are expected in time order (oldest first); up to
//! one window of disorder is absorbed and later stragglers are reported rather than counted.

pub(crate) mod counts;
pub(crate) mod output;
pub(crate) mod prefilter;
pub(crate) mod read;
pub(crate) mod route;
pub(crate) mod schedule;
pub(crate) mod worker;

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use crate::eval::{Alert, Alerter, Engine, Hit, Place};
pub use counts::Counts;
pub use read::{Container, Input, ReadError, open};
use worker::ShapeNames;

/// What a scan read and found.
#[derive(Debug, Clone)]
pub struct ScanSummary {
    pub container: Container,
    pub gzip: bool,
    /// Bytes read (after decompression).
    pub bytes: u64,
    pub counts: Counts,
    /// Titles of the shapes, in the order of `counts.shapes`.
    pub shape_titles: Vec<String>,
    /// The shapes the catalogue reads and their keys, for records of none of them.
    pub expected: String,
    pub alerts: u64,
    /// (catalogue index of a detection, matching events that came too far out of time order).
    pub late: Vec<(usize, u64)>,
    pub elapsed: Duration,
}

/// Why a scan stopped.
#[derive(Debug)]
pub enum ScanError {
    /// The input could not be read.
    Read(ReadError),
    /// An alert could not be written.
    Write(io::Error),
}

impl fmt::Display for ScanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScanError::Read(e) => e.fmt(f),
            ScanError::Write(e) => write!(f, "cannot write the alerts: {e}"),
        }
    }
}

impl std::error::Error for ScanError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ScanError::Read(e) => Some(e),
            ScanError::Write(e) => Some(e),
        }
    }
}

/// Counts the bytes the readers take from the input.
struct Counted<R> {
    inner: R,
    bytes: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buffer)?;
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Which records a scan parses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// Every record, so every one is classified (by shape, category, or why it was skipped).
    EveryRecord,
    /// Only records that hold a text some detection requires ([`prefilter`]); the others are
    /// counted as passed over. The alerts are the same.
    Prefiltered,
}

/// Scans `input` with the detections of `engine` on `threads` worker threads, passing each
/// alert to `emit` as soon as it is known. Records no detection can match are passed over
/// unparsed ([`Reading::Prefiltered`]).
pub fn scan(
    engine: &Engine,
    input: Input,
    threads: usize,
    emit: &mut dyn FnMut(&Alert) -> io::Result<()>,
) -> Result<ScanSummary, ScanError> {
    scan_reading(engine, input, threads, Reading::Prefiltered, emit)
}

/// [`scan`], parsing the records `reading` says.
pub fn scan_reading(
    engine: &Engine,
    input: Input,
    threads: usize,
    reading: Reading,
    emit: &mut dyn FnMut(&Alert) -> io::Result<()>,
) -> Result<ScanSummary, ScanError> {
    scan_with(engine, input, threads, prefilter_for(reading), emit)
}

/// The prefilter a scan reading `reading` applies.
fn prefilter_for(reading: Reading) -> Prefiltering {
    match reading {
        Reading::EveryRecord => Prefiltering::Off,
        Reading::Prefiltered => Prefiltering::OfEngine,
    }
}

/// Where a scan's prefilter comes from.
pub(crate) enum Prefiltering {
    /// Every record is parsed.
    Off,
    /// Built from the engine's detections by the worker that takes the first batch the
    /// prefilter reads ([`prefilter::FIRST_FILTERED`]), while another parses the first batch
    /// whole: neither the start-up nor the first batch waits for it.
    OfEngine,
    /// Given whole (tests), tuned the same way.
    #[cfg(test)]
    Given(Box<prefilter::Prefilter>),
}

impl Prefiltering {
    /// The first batch passed through the prefilter (none when it is off).
    fn first_filtered(&self) -> Option<u64> {
        match self {
            Prefiltering::Off => None,
            Prefiltering::OfEngine => Some(prefilter::FIRST_FILTERED),
            #[cfg(test)]
            Prefiltering::Given(p) => Some(p.from_batch),
        }
    }

    /// The prefilter tuned to the log that starts with `sample`.
    fn tuned(&self, engine: &Engine, sample: &[u8]) -> Option<prefilter::Prefilter> {
        match self {
            Prefiltering::Off => None,
            Prefiltering::OfEngine => prefilter::Prefilter::tuned_of(engine, sample),
            #[cfg(test)]
            Prefiltering::Given(p) => Some(p.tuned(sample)),
        }
    }
}

/// Where the workers take their batches (each worker holds a clone: the last to end drops the
/// receiver, which ends the reader).
#[derive(Clone)]
enum Batches<'f> {
    /// From the reader thread.
    Reader(Arc<Mutex<mpsc::Receiver<read::Batch>>>),
    /// From the file, at positions: the numbers of the batches to read.
    Positional(
        &'f read::positional::Positional,
        Arc<Mutex<mpsc::Receiver<u64>>>,
    ),
}

/// [`scan`] with the given prefilter (`None`: every record is parsed).
fn scan_with(
    engine: &Engine,
    input: Input,
    threads: usize,
    prefilter: Prefiltering,
    emit: &mut dyn FnMut(&Alert) -> io::Result<()>,
) -> Result<ScanSummary, ScanError> {
    let mut alerter = Alerter::new(engine);
    let mut alerts = 0;
    let mut summary = evaluate(engine, input, threads, prefilter, &mut |hit| {
        if let Some(alert) = alerter.push(hit) {
            alerts += 1;
            emit(&alert)?;
        }
        Ok(())
    })?;
    let (finished, late, spent) = alerter.finish_leaving();
    // The hits left in the windows are freed beside the writing of the last alerts, on the core
    // the workers left: nothing else runs now, and the process may end before it is done. (If
    // no thread can be started, the closure and so the hits are freed here.)
    let _ = std::thread::Builder::new().spawn(move || drop(spent));
    summary.late = late;
    for alert in &finished {
        alerts += 1;
        emit(alert).map_err(ScanError::Write)?;
    }
    summary.alerts = alerts;
    Ok(summary)
}

/// Scans `input` like [`scan_reading`], keeping every matching event instead of alerting: the
/// input of a replay of the deployed schedule ([`schedule::replay`]).
pub(crate) fn scan_hits(
    engine: &Engine,
    input: Input,
    threads: usize,
    reading: Reading,
) -> Result<(ScanSummary, Vec<Hit>), ScanError> {
    let mut hits = Vec::new();
    let summary = evaluate(engine, input, threads, prefilter_for(reading), &mut |hit| {
        hits.push(hit);
        Ok(())
    })?;
    Ok((summary, hits))
}

/// Reads and evaluates `input`, parsing the records `prefilter` keeps (all with `None`) and
/// passing each hit to `on_hit` in file order.
fn evaluate(
    engine: &Engine,
    input: Input,
    threads: usize,
    prefilter: Prefiltering,
    on_hit: &mut dyn FnMut(Hit) -> io::Result<()>,
) -> Result<ScanSummary, ScanError> {
    let started = Instant::now();
    let threads = threads.max(1);
    let shapes = ShapeNames::new(engine);
    let bytes = Arc::new(AtomicU64::new(input.start().offset));
    let mut summary = ScanSummary {
        container: input.container,
        gzip: input.gzip,
        bytes: 0,
        counts: Counts::new(&shapes.names, engine.sources.len()),
        shape_titles: shapes.titles.clone(),
        expected: shapes.expected(),
        alerts: 0,
        late: Vec::new(),
        elapsed: Duration::ZERO,
    };
    let mut line_base = input.start().line - 1;
    // The prefilter tuned to this log on its first batch: anchors chosen by how often their
    // first bytes occur in it, conditions asked only if they rule out enough of its lines.
    // That batch is parsed whole, so its worker only leaves a copy of it (`sample`) for the
    // worker of the first batch the prefilter reads, which makes and tunes the prefilter
    // meanwhile: neither the start-up nor the first batch waits for it.
    let from_batch = prefilter.first_filtered();
    let sample: OnceLock<Vec<u8>> = OnceLock::new();
    let tuned: OnceLock<Option<prefilter::Prefilter>> = OnceLock::new();
    let mut input = input;
    let positional = input.take_positional();
    if let Some(file) = &positional {
        bytes.store(file.len(), Ordering::Relaxed);
    }
    let input = input.read_through(|reader| {
        Box::new(Counted {
            inner: reader,
            bytes: Arc::clone(&bytes),
        })
    });
    // The prefilter of batch `sequence`, whose first bytes are `first`: none before the batch
    // it starts from, whose worker makes it (the worker of batch 0 leaves it a sample).
    let prefilter_of = |sequence: u64, first: &[u8]| match from_batch {
        None => None,
        Some(0) if sequence == 0 => tuned
            .get_or_init(|| prefilter.tuned(engine, first))
            .as_ref(),
        Some(from) if sequence < from => {
            if sequence == 0 {
                let _ = sample.set(prefilter::sample(first).to_vec());
            }
            None
        }
        Some(from) if sequence == from => tuned
            .get_or_init(|| prefilter.tuned(engine, sample.wait()))
            .as_ref(),
        Some(_) => tuned.wait().as_ref(),
    };

    std::thread::scope(|scope| -> Result<(), ScanError> {
        // Every channel end lives in this closure: returning early (say, stdout closed) drops
        // them, which ends the workers and then the reader instead of leaving them blocked.
        let (result_sender, result_receiver) =
            mpsc::sync_channel::<Result<worker::BatchResult, ReadError>>(threads * 2);
        // Enough batches in flight that every worker has one to take while another is read
        // and the results are put in order; with more, the reading only runs further ahead,
        // and (through the reader) memory grows by 2.5 MB a buffer.
        let in_flight = threads * 3 + 2;
        // From a regular file, the workers read the batches whose numbers this thread hands
        // out, a few ahead of the results put in order; otherwise a reader thread reads them.
        let mut numbers: Option<(mpsc::Sender<u64>, u64, u64)> = None;
        let mut free_sender = None;
        let mut reader = None;
        let source = if let Some(file) = &positional {
            let (number_sender, number_receiver) = mpsc::channel::<u64>();
            let batches = file.batches();
            let first = (in_flight as u64).min(batches);
            for sequence in 0..first {
                let _ = number_sender.send(sequence);
            }
            // Once every number is out, the workers end when they find no more.
            numbers = (first < batches).then_some((number_sender, first, batches));
            Batches::Positional(file, Arc::new(Mutex::new(number_receiver)))
        } else {
            let (batch_sender, batch_receiver) = mpsc::sync_channel::<read::Batch>(threads * 2);
            let (sender, free_receiver) = mpsc::channel::<Vec<u8>>();
            free_sender = Some(sender);
            reader = Some(scope.spawn(move || input.read(batch_sender, free_receiver, in_flight)));
            Batches::Reader(Arc::new(Mutex::new(batch_receiver)))
        };
        for _ in 0..threads {
            let source = source.clone();
            let results = result_sender.clone();
            let shapes = &shapes;
            let prefilter_of = &prefilter_of;
            scope.spawn(move || {
                let mut candidates = prefilter::Candidates::default();
                let mut buffer = read::positional::PieceBuffer::default();
                loop {
                    // Batches are taken in order, so the worker of the first batch has left its
                    // sample, and the worker that tunes the prefilter has begun, before any other
                    // waits for them.
                    let result = match &source {
                        Batches::Reader(batches) => {
                            // The lock is held only to take a batch, never while evaluating one.
                            let batch = match batches.lock() {
                                Ok(receiver) => receiver.recv(),
                                Err(_) => return,
                            };
                            let Ok(batch) = batch else { return };
                            let prefilter = prefilter_of(batch.sequence, &batch.data);
                            Ok(worker::evaluate(
                                engine,
                                shapes,
                                prefilter,
                                &mut candidates,
                                batch,
                            ))
                        }
                        Batches::Positional(file, numbers) => {
                            let sequence = match numbers.lock() {
                                Ok(receiver) => receiver.recv(),
                                Err(_) => return,
                            };
                            let Ok(sequence) = sequence else { return };
                            let mut batch = worker::PieceByPiece::new(
                                engine,
                                shapes,
                                &mut candidates,
                                sequence,
                            );
                            let read =
                                file.read_batch(sequence, &mut buffer, &mut |piece, offset| {
                                    if batch.is_new() {
                                        batch.prefilter(prefilter_of(sequence, piece));
                                    }
                                    batch.piece(piece, offset);
                                });
                            // A batch inside a long line holds none (nor one that cannot be
                            // read): its prefilter is still made if it is the one to make it,
                            // or the other workers would wait for it.
                            if batch.is_new() {
                                prefilter_of(sequence, &[]);
                            }
                            read.map(|()| batch.finish()).map_err(ReadError::Io)
                        }
                    };
                    if results.send(result).is_err() {
                        return;
                    }
                }
            });
        }
        drop(result_sender);
        drop(source);

        let mut waiting: BTreeMap<u64, worker::BatchResult> = BTreeMap::new();
        let mut next = 0;
        for result in &result_receiver {
            let result = result.map_err(ScanError::Read)?;
            waiting.insert(result.sequence, result);
            while let Some(mut result) = waiting.remove(&next) {
                next += 1;
                if let Some((sender, sent, batches)) = &mut numbers {
                    let _ = sender.send(*sent);
                    *sent += 1;
                    if sent == batches {
                        numbers = None;
                    }
                }
                let record_base = summary.counts.records;
                let line_shift = result.lines.map(|lines| {
                    let base = line_base;
                    line_base += lines;
                    base
                });
                let shift = |place: Place| Place {
                    record: place.record + record_base,
                    line: place.line + line_shift.unwrap_or(0),
                    offset: place.offset,
                };
                result.counts.rebase(&shift);
                summary.counts.add(result.counts);
                for mut hit in result.hits {
                    hit.event.position += record_base;
                    hit.event.line += line_shift.unwrap_or(0);
                    on_hit(hit).map_err(ScanError::Write)?;
                }
                // The reader may have finished; then the buffer is simply dropped.
                if let Some(free) = &free_sender {
                    let _ = free.send(result.data);
                }
            }
        }
        if let Some(reader) = reader {
            reader
                .join()
                .unwrap_or_else(|_| {
                    Err(ReadError::Io(io::Error::other(
                        "the reader thread panicked",
                    )))
                })
                .map_err(ScanError::Read)?;
        }
        Ok(())
    })?;
    summary.bytes = bytes.load(Ordering::Relaxed);
    summary.elapsed = started.elapsed();
    Ok(summary)
}

#[cfg(test)]
mod prefilter_tests;
#[cfg(test)]
mod shape_tests;
#[cfg(test)]
mod tests {
    use std::io::Write as _;
    use std::path::Path;

    use serde_json::json;

    use super::*;
    use crate::catalogue::Catalogue;

    fn row(minute: u64, activity: &str, actor: &str) -> String {
        json!({
            "TimeGenerated": format!("2025-05-01T{:02}:{:02}:00Z", 8 + minute / 60, minute % 60),
            "Category": "RoleManagement",
            "ActivityDisplayName": activity,
            "InitiatedBy": { "user": { "userPrincipalName": actor } },
            "TargetResources": [{ "type": "Role", "displayName": "Helpdesk Administrator" }, { "type": "User", "userPrincipalName": "x@contoso.example" }],
            "Padding": "p".repeat(900),
            "Type": "AuditLogs",
        })
        .to_string()
    }

    #[test]
    fn batches_are_evaluated_in_parallel_and_reported_in_file_order() {
        let catalogue =
            Catalogue::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("detections")).unwrap();
        let burst = catalogue
            .detections
            .iter()
            .position(|d| d.slug == "eligible-assignment-burst")
            .unwrap();
        let disabled = catalogue
            .detections
            .iter()
            .position(|d| d.slug == "pim-alert-disabled")
            .unwrap();
        let engine = Engine::new(&catalogue, |i| i == burst || i == disabled);
        // Enough rows for several batches; a burst runs across the batch boundaries and a
        // single-event alert sits in every batch.
        let mut file = tempfile::NamedTempFile::new().unwrap();
        let rows = 3 * read::BATCH_BYTES / 1000;
        let mut expected_singles = Vec::new();
        for i in 0..rows as u64 {
            let minute = i * 50 / rows as u64;
            let text = if i % 2000 == 1999 {
                expected_singles.push(i + 1);
                row(minute, "Disable PIM alert", "ops@contoso.example")
            } else if i % 1500 == 0 {
                row(
                    minute,
                    "Add eligible member to role in PIM completed (timebound)",
                    "alex@contoso.example",
                )
            } else {
                row(minute, "Update user", "ops@contoso.example")
            };
            writeln!(file, "{text}").unwrap();
        }
        let mut emitted: Vec<Alert> = Vec::new();
        let summary = scan(&engine, read::open(file.path()).unwrap(), 3, &mut |a| {
            emitted.push(a.clone());
            Ok(())
        })
        .unwrap();
        assert_eq!(summary.counts.records, rows as u64);
        assert!(summary.bytes > 2 * read::BATCH_BYTES as u64);
        let singles: Vec<u64> = emitted
            .iter()
            .filter(|a| a.detection == disabled)
            .map(|a| a.events[0].position)
            .collect();
        assert_eq!(
            singles, expected_singles,
            "single-event alerts in file order"
        );
        let bursts: Vec<&Alert> = emitted.iter().filter(|a| a.detection == burst).collect();
        assert_eq!(bursts.len(), 1);
        let every_1500th: Vec<u64> = (0..rows as u64)
            .filter(|i| i % 1500 == 0)
            .map(|i| i + 1)
            .collect();
        assert_eq!(
            bursts[0]
                .events
                .iter()
                .map(|e| e.position)
                .collect::<Vec<_>>(),
            every_1500th
        );
    }

    /// Batches of a regular file that lie inside one long line hold no line, the one the
    /// prefilter is made by among them: the scan still ends, with every record and the alerts
    /// of a scan that parses everything.
    #[test]
    fn a_line_longer_than_several_batches_leaves_them_empty_and_the_scan_the_same() {
        let catalogue =
            Catalogue::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("detections")).unwrap();
        let engine = Engine::new(&catalogue, |_| true);
        let mut file = tempfile::NamedTempFile::new().unwrap();
        let mut rows = 0;
        let mut written = 0;
        while written < read::BATCH_BYTES * 3 / 4 {
            let text = row(rows % 50, "Update user", "ops@contoso.example");
            writeln!(file, "{text}").unwrap();
            written += text.len() + 1;
            rows += 1;
        }
        // From the first batch into the fourth.
        writeln!(
            file,
            "{{\"pad\": \"{}\"}}",
            "x".repeat(read::BATCH_BYTES * 3)
        )
        .unwrap();
        for minute in 0..40 {
            let activity = if minute % 10 == 9 {
                "Disable PIM alert"
            } else {
                "Update user"
            };
            writeln!(
                file,
                "{}",
                row(50 + minute, activity, "ops@contoso.example")
            )
            .unwrap();
        }
        let scanned = |reading| {
            let mut alerts = Vec::new();
            let input = read::open(file.path()).unwrap();
            let summary = scan_reading(&engine, input, 2, reading, &mut |a| {
                alerts.push(a.clone());
                Ok(())
            })
            .unwrap();
            (alerts, summary)
        };
        let (every, whole) = scanned(Reading::EveryRecord);
        let (filtered, summary) = scanned(Reading::Prefiltered);
        assert_eq!(whole.counts.records, rows + 41);
        assert_eq!(summary.counts.records, rows + 41);
        assert!(summary.counts.passed_over > 0);
        assert!(every.len() >= 4, "the disabled alerts: {}", every.len());
        assert_eq!(filtered, every);
        assert_eq!(summary.bytes, file.as_file().metadata().unwrap().len());
    }
}
