//! The evaluator: runs the catalogue's logic on JSON events, with the semantics the compiled
//! queries have, so a detection can be tested (`rulecast test`) and run over exported logs
//! (`rulecast scan`) without a SIEM.
//!
//! What it must agree with, and where each rule lives:
//!
//! * matching: Sigma's (case-insensitive values, wildcards, `contains`/`startswith`/`endswith`,
//!   `re` with `i`, `cased`, `all`, `null`, `exists`), in [`matcher`];
//! * field values: the log source's definitions read as KQL and SPL read them, in [`field`];
//!   missing, null and "" are the same "no value" everywhere, as in the queries;
//! * conditions: the expanded condition (`1 of`/`all of` already resolved), in [`compiled`];
//! * thresholds: the sliding window of [`crate::lang::WINDOW_IS_INCLUSIVE`], tiers by the
//!   lists' inline values, one alert per group, in [`window`].
//!
//! An event is read in either of its two shapes ([`shape`]): the Log Analytics row or the
//! diagnostic record, through each column's `diagnostic` path; [`key_tree`] finds the columns in
//! one pass over the JSON. [`convert`] turns the first shape into the second, so every test
//! case checks the Splunk mapping as well as the logic.

pub mod alert;
pub mod compiled;
pub mod convert;
pub mod engine;
pub mod explain;
pub mod field;
pub mod hit;
pub mod key_tree;
pub mod logic_tree;
pub mod matcher;
pub mod record;
pub mod replay;
pub mod shape;
pub mod source;
pub mod window;

#[cfg(test)]
mod tests;

pub use alert::Alert;
pub use engine::{Alerter, Engine};
pub use hit::{EventRef, Hit, Place};
pub use key_tree::Found;
pub use record::Record;
pub use shape::Shape;
