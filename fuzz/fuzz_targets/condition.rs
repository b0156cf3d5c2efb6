//! The condition parser, and printing a parsed condition back.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rulecast::fuzz::condition(data));
