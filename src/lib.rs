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
//! * [`logic`] is the backend-neutral detection logic (Sigma's selections and conditions).
//! * [`lang`] holds one query compiler per query language; each owns its literal escaping.
//! * [`targets`] turns detections into each SIEM's files; each target lives in one module.
//! * [`render`] runs the Tera templates, embedded in the binary and overridable by name.
//! * [`output`] writes the output folder atomically or compares it (check mode).
//! * [`eval`] runs the same logic on JSON events, with the queries' semantics: it backs
//!   [`testing`] (`rulecast test`, each detection's test cases) and [`scan`] (`rulecast scan`,
//!   exported logs).
//!
//! The binary in `src/main.rs` is a thin shell over [`cli`].

pub mod build;
pub mod catalogue;
pub mod cli;
pub mod diagnostic;
pub mod diff;
pub mod eval;
pub mod files;
#[doc(hidden)]
pub mod fuzz;
pub mod git;
pub mod lang;
pub mod lock;
pub mod logic;
pub mod output;
pub mod pack;
pub mod release;
pub mod render;
pub mod scan;
pub mod schema;
pub mod targets;
pub mod testing;
pub mod timestamp;

#[cfg(test)]
mod test_support;
pub mod yaml;

/// Content-pack version used when no release version is given.
pub const PACK_VERSION_DEFAULT: &str = "1.0.0";
