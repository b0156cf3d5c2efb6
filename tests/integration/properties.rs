//! Property tests of every literal encoder: for any text, decoding what the encoder wrote (with
//! the independent readers in `decode`) gives the text back, and values an encoder refuses are
//! exactly the ones its format cannot hold.
//!
//! Generated text leans on the characters that have a meaning somewhere (quotes, backslash,
//! wildcards, brackets, `$`, `=`, `#`, `:`, spaces, line breaks, control characters) mixed
//! with any Unicode, so shrinking ends at a small, readable counterexample.

use proptest::prelude::*;
use rulecast::lang::{kql, spl};
use rulecast::logic::pattern::{Pattern, Piece};
use rulecast::render::encode;

use crate::decode;

/// Text made of characters that matter to some format, and any other character.
fn hostile_text() -> impl Strategy<Value = String> {
    let special = prop::sample::select(vec![
        '"', '\'', '\\', '|', '`', '*', '?', '\n', '\r', '\t', '$', '{', '}', '%', '=', '[', ']',
        '#', ':', '-', ' ', ',', '&', '!', '@', '>', '\u{0}', '\u{7}', '\u{85}', '\u{2028}',
        '\u{feff}', 'é', '漢', '😀',
    ]);
    prop::collection::vec(
        prop_oneof![3 => special, 1 => any::<char>(), 2 => prop::char::range('a', 'z')],
        0..40,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

/// Text from the alphabet catalogue values are written in (letters with and without case,
/// wildcards, escapes), where a case-insensitive match means the same in every engine.
fn catalogue_text() -> impl Strategy<Value = String> {
    let chars = prop::sample::select(vec![
        'a', 'A', 'b', 'B', 'é', 'É', '漢', '.', ' ', '*', '?', '\\', '(', '+', '\n',
    ]);
    prop::collection::vec(chars, 0..16).prop_map(|chars| chars.into_iter().collect())
}

fn pattern() -> impl Strategy<Value = Pattern> {
    let piece = prop_oneof![
        catalogue_text()
            .prop_filter("a literal is not empty", |s| !s.is_empty())
            .prop_map(Piece::Literal),
        Just(Piece::AnyText),
        Just(Piece::AnyChar),
    ];
    prop::collection::vec(piece, 0..6).prop_map(|pieces| {
        // Adjacent literals are one literal in a parsed pattern.
        let mut merged: Vec<Piece> = Vec::new();
        for piece in pieces {
            match (merged.last_mut(), piece) {
                (Some(Piece::Literal(a)), Piece::Literal(b)) => a.push_str(&b),
                (_, piece) => merged.push(piece),
            }
        }
        Pattern { pieces: merged }
    })
}

fn yaml_value(document: &str) -> String {
    let parsed: std::collections::BTreeMap<String, String> =
        serde_saphyr::from_str(document).unwrap_or_else(|e| panic!("{e}\n{document:?}"));
    parsed["k"].clone()
}

/// Why Splunk could not hold `value` in a `.conf` file, if it could not.
fn conf_unrepresentable(value: &str) -> bool {
    value.starts_with(char::is_whitespace)
        || value.ends_with(char::is_whitespace)
        || value
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        || value.split('\n').any(|line| line.ends_with('\\'))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn kql_string_round_trips(value in hostile_text()) {
        prop_assert_eq!(decode::kql::decode(&kql::string(&value)), value);
    }

    #[test]
    fn spl_string_round_trips(value in hostile_text()) {
        prop_assert_eq!(decode::spl::decode(&spl::string(&value)), value);
    }

    #[test]
    fn yaml_scalar_round_trips(value in hostile_text()) {
        prop_assert_eq!(yaml_value(&format!("k: {}\n", encode::yaml_scalar(&value))), value);
    }

    #[test]
    fn yaml_block_round_trips(value in hostile_text(), indent in 1usize..8) {
        prop_assert_eq!(yaml_value(&format!("k: {}\n", encode::yaml_block(&value, indent))), value);
    }

    #[test]
    fn json_string_round_trips(value in hostile_text()) {
        let parsed: String = serde_json::from_str(&encode::json_string(&value)).unwrap();
        prop_assert_eq!(parsed, value);
    }

    #[test]
    fn arm_string_round_trips(value in hostile_text()) {
        let parsed: serde_json::Value = serde_json::from_str(&encode::arm_string(&value)).unwrap();
        prop_assert_eq!(decode::arm::literal(&parsed), value);
    }

    #[test]
    fn conf_value_round_trips_or_is_refused(value in hostile_text()) {
        match encode::conf_value(&value) {
            Ok(encoded) => {
                let stanzas = decode::conf::parse(&format!("[s]\nkey = {encoded}\nnext = 1\n"));
                prop_assert_eq!(decode::conf::get(&stanzas, "s", "key"), value.as_str());
                prop_assert_eq!(decode::conf::get(&stanzas, "s", "next"), "1");
            }
            Err(_) => prop_assert!(conf_unrepresentable(&value), "refused a value .conf can hold: {:?}", value),
        }
    }

    #[test]
    fn csv_field_round_trips(value in hostile_text()) {
        let records = decode::csv::parse(&format!("{}\n", encode::csv_field(&value)));
        prop_assert_eq!(records, vec![vec![value]]);
    }

    #[test]
    fn sigma_pattern_round_trips(pattern in pattern()) {
        prop_assert_eq!(Pattern::parse(&pattern.to_sigma()), pattern.clone());
        prop_assert_eq!(decode::sigma::pattern(&pattern.to_sigma()), pattern);
    }

    #[test]
    fn sigma_parse_follows_the_specification(text in hostile_text()) {
        prop_assert_eq!(Pattern::parse(&text), decode::sigma::pattern(&text));
    }

    #[test]
    fn matching_agrees_with_the_regex(pattern in pattern(), text in catalogue_text()) {
        let cased = regex::Regex::new(&pattern.to_regex()).unwrap();
        let caseless = regex::Regex::new(&format!("(?i){}", pattern.to_regex())).unwrap();
        prop_assert_eq!(pattern.matches(&text, true), cased.is_match(&text));
        prop_assert_eq!(pattern.matches(&text, false), caseless.is_match(&text));
    }
}
