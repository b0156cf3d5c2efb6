//! `rulecast test`: every detection's test cases, run through the evaluator.
//!
//! A detection ships with evidence: events that must raise an alert, and near misses that must
//! not (the same activity in another category, a failed result, a non-privileged role, a burst
//! one event short or spread too wide). Every detection needs at least one of each, so a change
//! that makes a rule fire on everything, or on nothing, fails here before review. Deprecated
//! detections are exempt, and the report says so.
//!
//! Each case runs twice: as the Log Analytics rows it is written in (Sentinel, Azure Monitor)
//! and converted to the diagnostic records Splunk receives. Both must raise the same alerts,
//! which checks each log source's `diagnostic:` mapping with every case.

pub(crate) mod events;
pub(crate) mod json_report;
pub(crate) mod junit;
pub(crate) mod run;
pub(crate) mod text_report;

pub(crate) use run::run;

use crate::catalogue::Catalogue;
use crate::diagnostic::{Diagnostic, Diagnostics};

/// The failures of a run as diagnostics located at their cases (for `rulecast check`, which
/// gates on the tests, and its SARIF and annotation forms): one per failed case, one per
/// detection that lacks a kind of case.
pub(crate) fn diagnostics(run: &run::TestRun, catalogue: &Catalogue) -> Diagnostics {
    let mut out = Diagnostics::new();
    for result in &run.results {
        let detection = &catalogue.detections[result.detection];
        let name = format!("{}/{}", detection.section, detection.slug);
        let help = format!(
            "`rulecast test --detection {}` shows every case and why",
            detection.slug
        );
        for (case, source) in result.cases.iter().zip(detection.test_cases()) {
            if case.passed() {
                continue;
            }
            let message = format!(
                "test case \"{}\" of `{name}` failed: {}",
                case.name,
                case.failures.join("; ")
            );
            out.push(
                source
                    .document
                    .error_at(&source.pointer(), message)
                    .with_help(help.clone()),
            );
        }
        if result.exempt.is_none() {
            for missing in &result.missing {
                out.push(
                    Diagnostic::error(format!("`{name}` has {missing}"))
                        .in_file(&detection.document.path)
                        .with_help("every detection needs a case that must alert and a near miss that must not, in its <name>.tests.yaml"),
                );
            }
        }
    }
    out
}
