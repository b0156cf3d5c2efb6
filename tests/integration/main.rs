//! rulecast's integration tests: one test binary, with a fluent builder ([`test::Test`]) that
//! runs the real CLI against a catalogue in a temporary folder.

mod cli;
mod closed_pipe;
mod decode;
mod diagnostics;
mod environments;
mod escaping;
mod extra_target;
mod project;
mod properties;
mod refusals;
mod safe_output;
mod scan_command;
mod scan_schedule;
mod scan_shapes;
mod snapshots;
mod test;
mod test_command;
mod test_files;
mod tier_severity;
mod tuning;
mod workflow;
