//! rulecast compiles one reviewed YAML catalogue of detections into ready-to-deploy SIEM content.
//!
//! It is a small compiler:
//!
//! ```text
//! detections/*.yaml --catalogue--> Catalogue --lang--> KQL / SPL / Sigma --targets+templates--> files --output--> generated/
//!                    (parse, validate)        (one model,         (Tera templates per file format)     (atomic swap, or
//!                                              per-language                                             compare in check mode)
//!                                              query compilers)
//! ```
//!
//! * [`catalogue`] loads and validates the catalogue, reporting every problem with its position.
//! * [`logic`] is the backend-neutral detection model (Sigma's selections, conditions and
//!   modifiers).
//! * [`lang`] holds one query compiler per query language; each owns its literal escaping.
//! * [`targets`] are the plug-ins that turn detections into each SIEM's files: the [`Target`]
//!   trait, the registry ([`targets::Targets`]), one module per built-in target.
//! * [`render`] runs the Tera templates, embedded by their targets and overridable by name.
//! * [`build`] renders every target; [`output`] writes the output folder atomically or
//!   compares it (check mode); [`lock`] ties versions to what was rendered.
//! * [`eval`] runs the same logic on JSON events, with the queries' semantics: it backs
//!   `rulecast test` (each detection's test cases) and [`scan`] (`rulecast scan`, exported logs).
//! * [`diagnostic`] is the located error of a catalogue; [`schema`] the formats' JSON Schemas.
//!
//! The binary in `src/main.rs` is a thin shell over [`cli`], the only module that prints.
//!
//! [`Target`]: targets::Target

// The public API: what the binary, a program embedding rulecast, or a target plug-in needs.
// Everything else is `pub(crate)`, and `unreachable_pub` (Cargo.toml) keeps it that way.
pub mod build;
pub mod catalogue;
pub mod cli;
pub mod diagnostic;
pub mod eval;
#[cfg(any(test, feature = "fuzz"))]
pub mod fuzz;
pub mod lang;
pub mod lock;
pub mod logic;
pub mod output;
pub mod render;
pub mod scan;
pub mod schema;
pub mod targets;
pub mod yaml;

mod diff;
mod files;
mod git;
mod identifier;
mod pack;
mod reference;
mod release;
#[cfg(test)]
mod test_support;
mod testing;
mod timestamp;

/// Content-pack version used when no release version is given.
pub(crate) const PACK_VERSION_DEFAULT: &str = "1.0.0";
