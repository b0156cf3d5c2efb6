//! The test report for people: one line per case, and under a failed case where it is and why.

use std::io::{self, Write};

use super::run::{CaseLocations, TestRun};
use crate::catalogue::Catalogue;
use crate::diagnostic::escape_controls;

pub(crate) fn write(run: &TestRun, catalogue: &Catalogue, out: &mut dyn Write) -> io::Result<()> {
    for result in &run.results {
        let detection = &catalogue.detections[result.detection];
        writeln!(out, "{}/{}", detection.section, detection.slug)?;
        let locations = CaseLocations::new(detection);
        for (index, case) in result.cases.iter().enumerate() {
            let alerts = case.alerts.len();
            let outcome = if case.expect_alert {
                format!("{alerts} alert{}", if alerts == 1 { "" } else { "s" })
            } else {
                "no alert".to_owned()
            };
            if case.passed() {
                writeln!(out, "  ok    {} ({outcome})", escape_controls(&case.name))?;
            } else {
                writeln!(out, "  FAIL  {}", escape_controls(&case.name))?;
                writeln!(out, "        at {}", escape_controls(locations.of(index)))?;
                for failure in &case.failures {
                    // A failure quotes event values, which may hold anything.
                    writeln!(out, "        {}", escape_controls(failure))?;
                }
            }
        }
        for missing in &result.missing {
            let label = if result.exempt.is_some() {
                "note"
            } else {
                "FAIL"
            };
            writeln!(out, "  {label}  {missing}")?;
        }
        if let Some(exempt) = &result.exempt {
            writeln!(out, "        {exempt}")?;
        }
    }
    let (cases, failed, incomplete) = run.counts();
    writeln!(out)?;
    writeln!(
        out,
        "{} detection{}, {cases} case{}: {} passed, {failed} failed; {incomplete} detection{} lack a case that must alert or one that must not",
        run.results.len(),
        if run.results.len() == 1 { "" } else { "s" },
        if cases == 1 { "" } else { "s" },
        cases - failed,
        if incomplete == 1 { "" } else { "s" },
    )
}
