//! Field matches compiled for speed, with Sigma's semantics and the compilers' treatment of
//! empty values.
//!
//! * Plain values compare case-insensitively (KQL `=~`, SPL `lower(x)==lower(y)`); `cased`
//!   makes them exact.
//! * `contains`, `startswith`, `endswith` and `*`/`?` wildcards follow [`Pattern`]; `*` alone
//!   means "has a value" (KQL `isnotempty`), so it does not match an empty field.
//! * `re` is an unanchored Rust regular expression (RE2 syntax, as KQL and Splunk), `i` makes it
//!   case-insensitive.
//! * `null` and `exists: false` match a missing or empty field; `exists: true` a non-empty one.
//! * A list of values matches when any value matches, or every value with `all`.
//! * `expand` over a catalogue list tests the list's inline values (what Azure Monitor and Sigma
//!   compile in, and what rulecast writes as the lookup and watchlist), case-insensitively.
//!
//! A missing field is the empty text for every other test, which is what KQL and SPL see.

use std::collections::HashSet;

use memchr::memmem::Finder;
use regex::Regex;

use super::field::{FieldText, lowercase};
use super::record::Record;
use crate::logic::{FieldMatch, ListPosition, Matcher, Pattern, Shape};

/// One test of a field's value.
#[derive(Debug, Clone)]
enum Test {
    Equals {
        lower: String,
    },
    EqualsCased(String),
    Contains {
        finder: Box<Finder<'static>>,
        text: String,
        cased: bool,
    },
    StartsWith {
        text: String,
        cased: bool,
    },
    EndsWith {
        text: String,
        cased: bool,
    },
    Glob {
        pattern: Pattern,
        cased: bool,
    },
    Regex {
        regex: Regex,
        text: String,
    },
    Empty,
    Present,
    /// The whole value is one of a list's values (lower-cased).
    InList {
        list: String,
        values: HashSet<String>,
    },
    /// The value contains, starts or ends with one of a list's values.
    AnyOf {
        list: String,
        tests: Vec<Test>,
    },
}

/// The inline values of catalogue lists, by list name.
pub(crate) type ListValues<'a> = &'a dyn Fn(&str) -> Vec<String>;

impl Test {
    fn new(matcher: &Matcher, lists: ListValues) -> Test {
        let fold = |text: String, cased: bool| if cased { text } else { lowercase(&text) };
        match matcher {
            Matcher::Pattern { pattern, cased } => match pattern.shape() {
                Shape::Exact(text) if text.is_empty() => Test::Empty,
                Shape::Exact(text) if *cased => Test::EqualsCased(text),
                Shape::Exact(text) => Test::Equals {
                    lower: lowercase(&text),
                },
                Shape::Anything => Test::Present,
                Shape::Contains(text) => {
                    let text = fold(text, *cased);
                    Test::Contains {
                        finder: Box::new(Finder::new(text.as_bytes()).into_owned()),
                        text,
                        cased: *cased,
                    }
                }
                Shape::StartsWith(text) => Test::StartsWith {
                    text: fold(text, *cased),
                    cased: *cased,
                },
                Shape::EndsWith(text) => Test::EndsWith {
                    text: fold(text, *cased),
                    cased: *cased,
                },
                Shape::Complex => Test::Glob {
                    pattern: pattern.clone(),
                    cased: *cased,
                },
            },
            Matcher::Regex {
                regex,
                case_insensitive,
            } => {
                let flagged = if *case_insensitive {
                    format!("(?i){regex}")
                } else {
                    regex.clone()
                };
                // RE2's and PCRE's ASCII `\d`, `\w`, `\b`, as the SIEMs read the pattern.
                let portable = crate::logic::regex_dialect::for_rust(&flagged);
                Test::Regex {
                    regex: Regex::new(&portable).expect("validated: regular expressions compile"),
                    text: regex.clone(),
                }
            }
            Matcher::Empty | Matcher::Exists(false) => Test::Empty,
            Matcher::Exists(true) => Test::Present,
            Matcher::InList {
                list,
                position: ListPosition::Whole,
            } => Test::InList {
                list: list.clone(),
                values: lists(list).iter().map(|v| lowercase(v)).collect(),
            },
            Matcher::InList { list, position } => Test::AnyOf {
                list: list.clone(),
                tests: lists(list)
                    .iter()
                    .map(|v| Test::new(&position.matcher(v), lists))
                    .collect(),
            },
        }
    }

    fn matches(&self, value: Option<&FieldText>) -> bool {
        let text = value.map(FieldText::as_str).unwrap_or_default();
        let folded = |cased: bool| {
            if cased {
                text
            } else {
                value.map(FieldText::lower).unwrap_or_default()
            }
        };
        match self {
            // The value's lower case is made once per event and field, so comparing with it
            // costs a length check and a memcmp where folding both sides cost a pass per test.
            Test::Equals { lower } => value.is_some_and(|v| v.lower() == lower),
            Test::EqualsCased(expected) => text == expected,
            Test::Contains { finder, cased, .. } => {
                finder.find(folded(*cased).as_bytes()).is_some()
            }
            Test::StartsWith {
                text: prefix,
                cased,
            } => folded(*cased).starts_with(prefix.as_str()),
            Test::EndsWith {
                text: suffix,
                cased,
            } => folded(*cased).ends_with(suffix.as_str()),
            Test::Glob { pattern, cased } => pattern.matches(text, *cased),
            Test::Regex { regex, .. } => regex.is_match(text),
            Test::Empty => value.is_none(),
            Test::Present => value.is_some(),
            Test::InList { values, .. } => value.is_some_and(|v| values.contains(v.lower())),
            Test::AnyOf { tests, .. } => tests.iter().any(|t| t.matches(value)),
        }
    }

    /// Texts one of which every value the test accepts holds, before case folding; `None`
    /// when it accepts values that need none (an empty or any value, a glob, a regex).
    fn required_texts(&self) -> Option<Vec<&str>> {
        match self {
            Test::Equals { lower: text }
            | Test::EqualsCased(text)
            | Test::Contains { text, .. }
            | Test::StartsWith { text, .. }
            | Test::EndsWith { text, .. } => (!text.is_empty()).then(|| vec![text.as_str()]),
            Test::InList { values, .. } => {
                let mut texts: Vec<&str> = values.iter().map(String::as_str).collect();
                texts.sort_unstable();
                (!texts.is_empty() && texts.iter().all(|t| !t.is_empty())).then_some(texts)
            }
            Test::AnyOf { tests, .. } => any_of(tests.iter().map(Test::required_texts)),
            Test::Glob { .. } | Test::Regex { .. } | Test::Empty | Test::Present => None,
        }
    }

    /// How the test reads in an explanation: the phrase before the value, and the value.
    fn phrase(&self) -> (&'static str, String) {
        match self {
            Test::Equals { .. } | Test::EqualsCased(_) => ("", self.value()),
            Test::Contains { .. } => ("to contain ", self.value()),
            Test::StartsWith { .. } => ("to start with ", self.value()),
            Test::EndsWith { .. } => ("to end with ", self.value()),
            Test::Glob { .. } => ("to match ", self.value()),
            Test::Regex { .. } => ("to match the regular expression ", self.value()),
            Test::Empty => ("to be empty", String::new()),
            Test::Present => ("to have a value", String::new()),
            Test::InList { .. } => ("to be on the list ", self.value()),
            Test::AnyOf { .. } => ("to hold a value of the list ", self.value()),
        }
    }

    fn value(&self) -> String {
        match self {
            Test::Equals { lower: text }
            | Test::EqualsCased(text)
            | Test::StartsWith { text, .. }
            | Test::EndsWith { text, .. }
            | Test::Contains { text, .. }
            | Test::Regex { text, .. } => text.clone(),
            Test::Glob { pattern, .. } => pattern.to_sigma(),
            Test::InList { list, .. } | Test::AnyOf { list, .. } => list.clone(),
            Test::Empty | Test::Present => String::new(),
        }
    }
}

/// One `Field|modifiers: values` entry of a selection, compiled.
#[derive(Debug, Clone)]
pub(crate) struct CompiledMatch {
    /// Index of the field in the log source.
    pub field: usize,
    pub field_name: String,
    /// The values as written, for explanations (compiled tests keep only lower case).
    written: Vec<String>,
    tests: Vec<Test>,
    all: bool,
}

impl CompiledMatch {
    pub(crate) fn new(entry: &FieldMatch, field: usize, lists: ListValues) -> CompiledMatch {
        let written = entry
            .matchers
            .iter()
            .map(|m| match m {
                Matcher::Pattern { pattern, .. } => match pattern.shape() {
                    Shape::Exact(text)
                    | Shape::Contains(text)
                    | Shape::StartsWith(text)
                    | Shape::EndsWith(text) => text,
                    Shape::Anything | Shape::Complex => pattern.to_sigma(),
                },
                Matcher::Regex { regex, .. } => regex.clone(),
                Matcher::InList { list, .. } => list.clone(),
                Matcher::Empty | Matcher::Exists(_) => String::new(),
            })
            .collect();
        CompiledMatch {
            field,
            field_name: entry.field.clone(),
            written,
            tests: entry.matchers.iter().map(|m| Test::new(m, lists)).collect(),
            all: entry.all,
        }
    }

    pub(crate) fn matches(&self, record: &Record) -> bool {
        let value = record.field(self.field);
        if self.all {
            self.tests.iter().all(|t| t.matches(value))
        } else {
            self.tests.iter().any(|t| t.matches(value))
        }
    }

    /// The lower-case values one of which the field must equal for the match to hold, or
    /// `None` when it accepts other values (a pattern, a regex, an empty value).
    pub(crate) fn exact_values(&self) -> Option<Vec<&str>> {
        if self.all && self.tests.len() != 1 {
            return None;
        }
        let mut values = Vec::new();
        for test in &self.tests {
            match test {
                Test::Equals { lower } => values.push(lower.as_str()),
                Test::InList { values: list, .. } => values.extend(list.iter().map(String::as_str)),
                _ => return None,
            }
        }
        Some(values)
    }

    /// Texts one of which every value this match accepts holds (see [`Test::required_texts`]).
    pub(crate) fn required_texts(&self) -> Option<Vec<&str>> {
        if self.all {
            self.tests.iter().find_map(Test::required_texts)
        } else {
            any_of(self.tests.iter().map(Test::required_texts))
        }
    }

    /// What the field had to be: `expected one of Global Administrator, Security Administrator`.
    pub(crate) fn expectation(&self) -> String {
        let phrases: Vec<(&str, String)> = self
            .tests
            .iter()
            .zip(&self.written)
            .map(|(t, written)| {
                let (phrase, value) = t.phrase();
                // Show the value as written, not folded to lower case.
                (
                    phrase,
                    if value.is_empty() {
                        value
                    } else {
                        written.clone()
                    },
                )
            })
            .collect();
        let quantifier = if self.all { "all of " } else { "one of " };
        let same_phrase = phrases.iter().all(|(p, _)| *p == phrases[0].0);
        if same_phrase && !phrases[0].1.is_empty() {
            let values: Vec<&str> = phrases.iter().map(|(_, v)| v.as_str()).collect();
            let quantifier = if values.len() > 1 { quantifier } else { "" };
            return format!("expected {}{quantifier}{}", phrases[0].0, values.join(", "));
        }
        let each: Vec<String> = phrases.iter().map(|(p, v)| format!("{p}{v}")).collect();
        format!(
            "expected {}",
            each.join(if self.all { " and " } else { " or " })
        )
    }
}

/// The texts of alternatives, any of which may hold: all of them, or `None` when one of the
/// alternatives needs none.
fn any_of<'t>(alternatives: impl Iterator<Item = Option<Vec<&'t str>>>) -> Option<Vec<&'t str>> {
    let mut texts = Vec::new();
    for alternative in alternatives {
        texts.extend(alternative?);
    }
    (!texts.is_empty()).then_some(texts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logic::parse_selection;
    use serde_json::json;
    use std::borrow::Cow;

    /// The lists the unit tests read.
    fn test_lists(list: &str) -> Vec<String> {
        match list {
            "roles" => vec![
                "62E90394-69f5-4237-9190-012177145e10".into(),
                "Ärger".into(),
            ],
            _ => Vec::new(),
        }
    }

    /// Runs a one-entry selection against a value (`None`: the field is missing).
    fn check(entry: serde_json::Value, value: Option<&str>) -> bool {
        let selection = parse_selection("s", &entry, "/s").unwrap();
        let compiled = CompiledMatch::new(&selection.alternatives[0][0], 0, &test_lists);
        let text = value
            .filter(|v| !v.is_empty())
            .map(|v| FieldText::new(Cow::Borrowed(v)));
        if compiled.all {
            compiled.tests.iter().all(|t| t.matches(text.as_ref()))
        } else {
            compiled.tests.iter().any(|t| t.matches(text.as_ref()))
        }
    }

    #[test]
    fn equality_ignores_case_unless_cased() {
        assert!(check(
            json!({"F": "Global Administrator"}),
            Some("global ADMINISTRATOR")
        ));
        assert!(check(json!({"F": "Ärger"}), Some("äRGER")));
        assert!(!check(
            json!({"F": "Global Administrator"}),
            Some("Global Administrator ")
        ));
        assert!(check(json!({"F|cased": "Owner"}), Some("Owner")));
        assert!(!check(json!({"F|cased": "Owner"}), Some("owner")));
        assert!(check(json!({"F": ["a", "b"]}), Some("B")));
        assert!(check(json!({"F": 5}), Some("5")));
    }

    #[test]
    fn substring_modifiers() {
        assert!(check(
            json!({"F|contains": "MFA on activation"}),
            Some("Setting changes: mfa ON activation requirement disabled.")
        ));
        assert!(!check(
            json!({"F|contains|cased": "MFA on activation"}),
            Some("mfa on activation")
        ));
        assert!(check(
            json!({"F|startswith": "Add "}),
            Some("add eligible member")
        ));
        assert!(check(json!({"F|startswith": "Über"}), Some("über alles")));
        assert!(!check(json!({"F|startswith": "Add "}), Some("Ad")));
        assert!(check(
            json!({"F|endswith": "(permanent)"}),
            Some("completed (PERMANENT)")
        ));
        assert!(!check(
            json!({"F|endswith": "(permanent)"}),
            Some("completed (timebound)")
        ));
        assert!(check(
            json!({"F|contains|all": ["MFA", "disabled"]}),
            Some("MFA on activation requirement disabled")
        ));
        assert!(!check(
            json!({"F|contains|all": ["MFA", "disabled"]}),
            Some("MFA on activation requirement enabled")
        ));
    }

    #[test]
    fn wildcards_and_regular_expressions() {
        assert!(check(
            json!({"F": "Add * member*"}),
            Some("add eligible member to role")
        ));
        assert!(check(json!({"F": "a?c"}), Some("ABC")));
        assert!(!check(json!({"F": "a?c"}), Some("ac")));
        assert!(check(json!({"F": r"50\*"}), Some("50*")));
        assert!(!check(json!({"F": r"50\*"}), Some("500")));
        assert!(check(
            json!({"F|re": r"duration updated to (09|1\d):"}),
            Some("Maximum activation duration updated to 10:00:00")
        ));
        assert!(!check(
            json!({"F|re": "approval disabled"}),
            Some("Approval disabled")
        ));
        assert!(check(
            json!({"F|re|i": "approval disabled"}),
            Some("Approval disabled")
        ));
    }

    #[test]
    fn missing_and_empty_fields_are_absent() {
        for absent in [None, Some("")] {
            assert!(check(json!({"F": null}), absent));
            assert!(check(json!({"F|exists": false}), absent));
            assert!(!check(json!({"F|exists": true}), absent));
            assert!(!check(json!({"F": "*"}), absent), "`*` needs a value");
            assert!(!check(json!({"F": "x"}), absent));
            assert!(!check(json!({"F|contains": "x"}), absent));
            // The empty text is what a regular expression sees.
            assert!(check(json!({"F|re": "^$"}), absent));
        }
        assert!(!check(json!({"F": null}), Some("x")));
        assert!(check(json!({"F|exists": true}), Some("x")));
        assert!(check(json!({"F": "*"}), Some("x")));
    }

    #[test]
    fn lists_match_whole_values_or_parts_ignoring_case() {
        assert!(check(
            json!({"F|expand": "%roles%"}),
            Some("62e90394-69F5-4237-9190-012177145E10")
        ));
        assert!(check(json!({"F|expand": "%roles%"}), Some("ärger")));
        assert!(!check(
            json!({"F|expand": "%roles%"}),
            Some("/roleDefinitions/62e90394-69f5-4237-9190-012177145e10")
        ));
        assert!(check(
            json!({"F|endswith|expand": "%roles%"}),
            Some("/roleDefinitions/62e90394-69f5-4237-9190-012177145e10")
        ));
        assert!(check(
            json!({"F|contains|expand": "%roles%"}),
            Some("{\"RoleDefinitionId\":\"/x/62E90394-69f5-4237-9190-012177145e10\"}")
        ));
        assert!(!check(
            json!({"F|startswith|expand": "%roles%"}),
            Some("/x/62e90394-69f5-4237-9190-012177145e10")
        ));
        for absent in [None, Some("")] {
            assert!(!check(json!({"F|expand": "%roles%"}), absent));
            assert!(!check(json!({"F|contains|expand": "%roles%"}), absent));
        }
        // A list without values matches nothing.
        assert!(!check(json!({"F|expand": "%empty%"}), Some("x")));
    }

    #[test]
    fn expectations_read_like_the_rule() {
        let expectation = |entry: serde_json::Value| {
            let selection = parse_selection("s", &entry, "/s").unwrap();
            CompiledMatch::new(&selection.alternatives[0][0], 0, &test_lists).expectation()
        };
        assert_eq!(
            expectation(
                json!({"RoleName": ["Global Administrator", "Privileged Role Administrator"]})
            ),
            "expected one of Global Administrator, Privileged Role Administrator"
        );
        assert_eq!(
            expectation(json!({"Result": "success"})),
            "expected success"
        );
        assert_eq!(
            expectation(json!({"T|contains": ["A", "B"]})),
            "expected to contain one of A, B"
        );
        assert_eq!(
            expectation(json!({"T|contains|all": ["A", "B"]})),
            "expected to contain all of A, B"
        );
        assert_eq!(
            expectation(json!({"A|exists": true})),
            "expected to have a value"
        );
        assert_eq!(
            expectation(json!({"A": ["x", null]})),
            "expected x or to be empty"
        );
        assert_eq!(
            expectation(json!({"A|re|i": "a.b"})),
            "expected to match the regular expression a.b"
        );
        assert_eq!(
            expectation(json!({"RoleId|expand": "%roles%"})),
            "expected to be on the list roles"
        );
    }
}
