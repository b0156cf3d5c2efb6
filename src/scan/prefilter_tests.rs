//! The prefilter is exact: a scan that passes records over raises exactly the alerts (events,
//! places, values, order) of a scan that parses every record, on the shipped real records and
//! sample, and on generated audit logs with planted attacks.

#[path = "../../examples/gen_events/events.rs"]
#[allow(dead_code)]
mod events;

use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};

use super::prefilter::Prefilter;
use super::{ScanSummary, read, scan_with};
use crate::catalogue::Catalogue;
use crate::eval::{Alert, Engine};

fn shipped() -> Catalogue {
    Catalogue::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("detections")).unwrap()
}

fn scan_file(
    engine: &Engine,
    path: &Path,
    prefilter: Option<Prefilter>,
) -> (Vec<Alert>, ScanSummary) {
    let mut alerts = Vec::new();
    let input = read::open(path).unwrap();
    let summary = scan_with(engine, input, 2, prefilter, &mut |a| {
        alerts.push(a.clone());
        Ok(())
    })
    .unwrap();
    (alerts, summary)
}

/// Scans `path` both ways and checks they agree; returns the prefiltered scan's summary.
fn same_alerts(engine: &Engine, path: &Path, from_batch: u64) -> (usize, ScanSummary) {
    let (every, whole) = scan_file(engine, path, None);
    let mut prefilter = Prefilter::of(engine).expect("the shipped catalogue has a prefilter");
    prefilter.from_batch = from_batch;
    let (filtered, summary) = scan_file(engine, path, Some(prefilter));
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

#[test]
fn generated_audit_logs_raise_the_same_alerts_with_the_prefilter() {
    let catalogue = shipped();
    let engine = Engine::new(&catalogue, |_| true);
    let file = tempfile::NamedTempFile::new().unwrap();
    let generated = {
        let mut writer = BufWriter::new(file.as_file());
        let generated = events::write_events(&mut writer, 30_000, 20_250_601).unwrap();
        writer.flush().unwrap();
        generated
    };
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
