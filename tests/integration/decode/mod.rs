//! Readers for the literals rulecast writes, written independently of its encoders.
//!
//! The escaping and property tests decode what a target file says and compare it with the value
//! that went in. Each reader follows the target's own rules (not rulecast's encoder), and panics
//! on anything its language would reject, so an encoder cannot pass by being read leniently.

pub(crate) mod arm;
pub(crate) mod conf;
pub(crate) mod csv;
pub(crate) mod kql;
pub(crate) mod sigma;
pub(crate) mod spl;
