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
