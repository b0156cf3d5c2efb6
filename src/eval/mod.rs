//! The evaluator: runs the catalogue's logic on JSON events, with the semantics the compiled
//! queries have, so a detection can be tested (`rulecast test`) and run over exported logs
//! (`rulecast scan`) without a SIEM.
//!
//! What it must agree with, and where each rule lives:
//!
//! * matching: Sigma's (case-insensitive values, wildcards, `null`, and each modifier's
//!   meaning in [`crate::logic::modifier`]), in [`matcher`];
//! * field values: the log source's definitions read as KQL and SPL read them, in [`field`];
//!   missing, null and "" are the same "no value" everywhere, as in the queries;
//! * conditions: the expanded condition (`1 of`/`all of` already resolved), in [`compiled`];
//! * thresholds: the sliding window of [`crate::lang::WINDOW_IS_INCLUSIVE`], tiers by the
//!   lists' inline values, one alert per group and episode, in [`window`].
//!
//! An event is read in either of its two shapes ([`shape`]): the Log Analytics row or the
//! diagnostic record, through each column's `diagnostic` path; [`key_tree`] finds the columns in
//! one pass over the JSON. [`convert`] turns the first shape into the second, so every test
//! case checks the Splunk mapping as well as the logic.

pub(crate) mod alert;
pub(crate) mod compiled;
pub(crate) mod convert;
pub(crate) mod dynamic;
pub(crate) mod engine;
pub(crate) mod explain;
pub(crate) mod field;
pub(crate) mod hit;
pub(crate) mod key_tree;
pub(crate) mod logic_tree;
pub(crate) mod matcher;
pub(crate) mod record;
pub(crate) mod replay;
pub(crate) mod shape;
pub(crate) mod source;
pub(crate) mod window;

#[cfg(test)]
mod tests;

pub use alert::Alert;
pub(crate) use engine::Alerter;
pub use engine::Engine;
pub(crate) use hit::{Hit, Place};
pub(crate) use key_tree::Found;
pub(crate) use record::Record;
pub(crate) use shape::Shape;
