//! The prefilter is exact: a scan that passes records over raises exactly the alerts (events,
//! places, values, order) of a scan that parses every record, on the shipped real records and
//! sample, and on generated audit logs with planted attacks.

#[path = "../../examples/gen_events/events.rs"]
#[allow(dead_code)]
mod events;

use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};

use super::prefilter::Prefilter;
use super::{Prefiltering, ScanSummary, read, scan_with};
use crate::catalogue::Catalogue;
use crate::eval::{Alert, Engine};

fn shipped() -> Catalogue {
    Catalogue::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("detections")).unwrap()
}

fn scan_file(engine: &Engine, path: &Path, prefilter: Prefiltering) -> (Vec<Alert>, ScanSummary) {
    scan_file_with_threads(engine, path, prefilter, 2)
}

fn scan_file_with_threads(
    engine: &Engine,
    path: &Path,
    prefilter: Prefiltering,
    threads: usize,
) -> (Vec<Alert>, ScanSummary) {
    let mut alerts = Vec::new();
    let input = read::open(path).unwrap();
    let summary = scan_with(engine, input, threads, prefilter, &mut |a| {
        alerts.push(a.clone());
        Ok(())
    })
    .unwrap();
    (alerts, summary)
}

/// Scans `path` both ways and checks they agree; returns the prefiltered scan's summary.
fn same_alerts(engine: &Engine, path: &Path, from_batch: u64) -> (usize, ScanSummary) {
    let (every, whole) = scan_file(engine, path, Prefiltering::Off);
    let mut prefilter = Prefilter::of(engine).expect("the shipped catalogue has a prefilter");
    prefilter.from_batch = from_batch;
    let (filtered, summary) = scan_file(engine, path, Prefiltering::Given(Box::new(prefilter)));
    assert_eq!(filtered, every, "{}", path.display());
    assert_eq!(summary.alerts, whole.alerts);
    assert_eq!(summary.late, whole.late);
    assert_eq!(
        summary.counts.records, whole.counts.records,
        "every record is counted"
    );
    assert_eq!(whole.counts.passed_over, 0);
    assert_eq!(
        summary.counts.recognised() + summary.counts.skipped() + summary.counts.passed_over,
        whole.counts.recognised() + whole.counts.skipped(),
        "a record passed over is one that was recognised or skipped"
    );
    (every.len(), summary)
}

#[test]
fn the_shipped_records_raise_the_same_alerts_with_the_prefilter_from_the_first_record() {
    let catalogue = shipped();
    let engine = Engine::new(&catalogue, |_| true);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/scan");
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("real"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x != "md"))
        .collect();
    files.sort();
    files.push(root.join("sample.jsonl"));
    let (mut alerts, mut passed_over) = (0, 0);
    for file in &files {
        let (n, summary) = same_alerts(&engine, file, 0);
        alerts += n;
        passed_over += summary.counts.passed_over;
    }
    assert!(files.len() > 10);
    assert!(alerts > 10, "the files raise alerts: {alerts}");
    assert!(passed_over > 0, "and hold records no detection can match");
}

/// A generated audit log of `events` events with planted attacks, in a temporary file.
fn generated_log(events: u64, seed: u64) -> (tempfile::NamedTempFile, events::Generated) {
    let file = tempfile::NamedTempFile::new().unwrap();
    let mut writer = BufWriter::new(file.as_file());
    let generated = events::write_events(&mut writer, events, seed).unwrap();
    writer.flush().unwrap();
    drop(writer);
    (file, generated)
}

#[test]
fn generated_audit_logs_raise_the_same_alerts_with_the_prefilter() {
    let catalogue = shipped();
    let engine = Engine::new(&catalogue, |_| true);
    let (file, generated) = generated_log(30_000, 20_250_601);
    assert!(
        generated.bytes > 4 * read::BATCH_BYTES as u64,
        "several batches"
    );
    for from_batch in [0, 1] {
        let (alerts, summary) = same_alerts(&engine, file.path(), from_batch);
        assert!(alerts >= 10, "the planted attacks alert: {alerts}");
        assert!(
            summary.counts.passed_over > generated.events / 2,
            "most routine records are passed over: {} of {}",
            summary.counts.passed_over,
            generated.events
        );
        if from_batch == 1 {
            assert!(
                summary.counts.recognised() > 0,
                "the first batch is read whole"
            );
        }
    }
}

/// The prefilter is made and tuned by the worker that takes the first batch it reads, while
/// the batches before it are parsed whole: whatever that batch and the number of workers, the
/// alerts are the same, the batches before it pass nothing over, and a log that ends before it
/// is read whole (no worker waits for a prefilter that is never made).
#[test]
fn the_prefilter_is_made_on_the_first_batch_it_reads_by_any_number_of_workers() {
    let catalogue = shipped();
    let engine = Engine::new(&catalogue, |_| true);
    let (file, generated) = generated_log(20_000, 20_250_602);
    let batches = generated.bytes / read::BATCH_BYTES as u64;
    assert!(batches >= 4, "several batches: {batches}");
    let (every, _) = scan_file(&engine, file.path(), Prefiltering::Off);
    assert!(every.len() >= 10, "the planted attacks alert");
    let mut passed_over = Vec::new();
    for threads in [1, 3] {
        for from_batch in [0, 1, 2, batches + 5] {
            let mut prefilter = Prefilter::of(&engine).unwrap();
            prefilter.from_batch = from_batch;
            let (alerts, summary) = scan_file_with_threads(
                &engine,
                file.path(),
                Prefiltering::Given(Box::new(prefilter)),
                threads,
            );
            assert_eq!(alerts, every, "from batch {from_batch}, {threads} threads");
            assert_eq!(summary.counts.records, generated.events);
            passed_over.push((threads, from_batch, summary.counts.passed_over));
        }
    }
    for (threads, from_batch, passed) in &passed_over {
        if *from_batch > batches {
            assert_eq!(
                *passed, 0,
                "{threads} threads: a log shorter than the wait is read whole"
            );
        } else {
            assert!(
                *passed > generated.events / 3,
                "{threads} threads, from {from_batch}: {passed}"
            );
        }
    }
    // Fewer batches filtered, fewer records passed over: the batches before are read whole.
    let of = |threads, from| {
        passed_over
            .iter()
            .find(|p| p.0 == threads && p.1 == from)
            .unwrap()
            .2
    };
    assert!(
        of(1, 0) > of(1, 1) && of(1, 1) > of(1, 2),
        "{passed_over:?}"
    );
    // Which records are passed over depends on the log only, not on the workers.
    for from_batch in [0, 1, 2] {
        assert_eq!(of(1, from_batch), of(3, from_batch), "{passed_over:?}");
    }
}

/// How many lines of `log` hold `part`, ignoring ASCII case.
fn lines_holding(log: &str, part: &str) -> usize {
    log.lines()
        .filter(|l| l.to_ascii_lowercase().contains(part))
        .count()
}

#[test]
fn anchors_tuned_on_the_first_batch_start_with_bytes_rare_in_the_log() {
    let catalogue = shipped();
    let engine = Engine::new(&catalogue, |_| true);
    let mut log = Vec::new();
    events::write_events(&mut log, 1_500, 20_250_601).unwrap();
    let log = String::from_utf8(log).unwrap();
    let lines = log.lines().count();
    let blind = Prefilter::of(&engine).unwrap();
    let tuned = blind.tuned(log.as_bytes());
    let lead = |anchor: &String| anchor[..anchor.len().min(4)].to_owned();
    // Without a sample, the part held by the most texts: its first bytes are those of a word
    // that routine records hold too.
    let common = |prefilter: &Prefilter| {
        prefilter
            .anchor_texts
            .iter()
            .map(|a| (lines_holding(&log, &lead(a)), a.clone()))
            .max()
            .unwrap()
    };
    let (blind_lines, blind_anchor) = common(&blind);
    assert!(
        blind_lines > lines / 20,
        "{blind_anchor:?} starts as {blind_lines} of {lines} lines do"
    );
    // Tuned, the most common first bytes are those of a required activity itself ("Add member
    // to role" is one line in sixteen of the generated log).
    let (tuned_lines, tuned_anchor) = common(&tuned);
    assert!(
        tuned_lines < lines / 10 && tuned_lines * 5 < blind_lines,
        "{tuned_anchor:?} starts as {tuned_lines} of {lines} lines do: {:?}",
        tuned.anchor_texts
    );
    // Above all, none starts as the routine activities do ("Update user" holds "date").
    for routine in [
        "update user",
        "update application",
        "create/update storage account",
    ] {
        for anchor in &tuned.anchor_texts {
            assert!(!routine.contains(&lead(anchor)), "{anchor:?}");
        }
    }
    // Every rare text still holds an anchor, so what is parsed is the same.
    for text in &tuned.rare_texts {
        assert!(
            tuned.anchor_texts.iter().any(|a| text.contains(a.as_str())),
            "{text}"
        );
    }
}
