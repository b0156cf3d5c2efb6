//! One catalogue file through YAML parsing, every schema check and the typed read.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rulecast::fuzz::catalogue_file(data));
