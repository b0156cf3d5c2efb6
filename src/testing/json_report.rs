//! The test report for tools: one JSON document with every case, its alerts and its failures.

use std::io::{self, Write};

use serde_json::{Value, json};

use super::run::{CaseLocations, TestRun};
use crate::catalogue::Catalogue;
use crate::diagnostic::display_path;

pub(crate) fn write(run: &TestRun, catalogue: &Catalogue, out: &mut dyn Write) -> io::Result<()> {
    let (cases, failed, incomplete) = run.counts();
    let detections: Vec<Value> = run
        .results
        .iter()
        .map(|result| {
            let detection = &catalogue.detections[result.detection];
            let locations = CaseLocations::new(detection);
            let cases: Vec<Value> = result
                .cases
                .iter()
                .enumerate()
                .map(|(index, case)| {
                    json!({
                        "name": case.name,
                        "location": locations.of(index),
                        "expect_alert": case.expect_alert,
                        "passed": case.passed(),
                        "failures": case.failures,
                        "alerts": case.alerts.iter().map(|a| a.to_json(detection)).collect::<Vec<_>>(),
                    })
                })
                .collect();
            json!({
                "id": detection.meta.id,
                "name": format!("{}/{}", detection.section, detection.slug),
                "path": display_path(&catalogue.root.join(&detection.path)),
                "passed": result.passed(),
                "cases": cases,
                "missing": result.missing,
                "exempt": result.exempt,
            })
        })
        .collect();
    let report = json!({
        "passed": run.passed(),
        "summary": { "detections": run.results.len(), "cases": cases, "failed": failed, "incomplete_detections": incomplete },
        "detections": detections,
    });
    writeln!(
        out,
        "{}",
        serde_json::to_string_pretty(&report).unwrap_or_default()
    )
}
