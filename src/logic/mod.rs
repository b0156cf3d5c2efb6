//! The backend-neutral detection logic.
//!
//! A detection's `detection:` block is parsed into [`Selection`]s (field matches; a map is AND, a
//! list of maps is OR) and a [`Condition`] over them, with Sigma's semantics:
//! case-insensitive matching, `*`/`?` wildcards, and the `contains`, `startswith`, `endswith`,
//! `all`, `re`, `cased` and `exists` modifiers. Every target compiles this one model.

pub mod condition;
pub mod pattern;
pub mod regex_dialect;

use serde_json::Value;

pub use condition::Condition;
pub use pattern::{Pattern, Shape};

use crate::diagnostic::did_you_mean;

/// A named selection: OR over alternatives, each an AND over field matches.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    pub name: String,
    pub alternatives: Vec<Vec<FieldMatch>>,
}

/// One `Field|modifiers: values` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldMatch {
    pub field: String,
    pub matchers: Vec<Matcher>,
    /// `all` modifier: every matcher must match (otherwise any one).
    pub all: bool,
    /// JSON pointer of the entry in the detection file, for diagnostics.
    pub pointer: String,
}

/// A single test applied to a field's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Matcher {
    /// Sigma wildcard pattern over the whole value.
    Pattern { pattern: Pattern, cased: bool },
    /// Regular expression, unanchored as in Sigma.
    Regex {
        regex: String,
        case_insensitive: bool,
    },
    /// `Field: null`: the field is missing or empty.
    Empty,
    /// `Field|exists: true/false`.
    Exists(bool),
}

/// The modifiers rulecast understands.
pub const MODIFIERS: [&str; 8] = [
    "contains",
    "startswith",
    "endswith",
    "all",
    "re",
    "i",
    "cased",
    "exists",
];

/// A problem in a selection, located by JSON pointer (relative to the detection file) and
/// whether it concerns the key or the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogicError {
    pub pointer: String,
    pub at_key: bool,
    pub message: String,
    pub help: Option<String>,
}

impl Selection {
    /// Every field the selection reads.
    pub fn fields(&self) -> impl Iterator<Item = &FieldMatch> {
        self.alternatives.iter().flatten()
    }
}

/// Why `pattern` is not a valid regular expression, if it is not. Results are cached: a large
/// catalogue repeats the same few expressions in many detections, and compiling is costly.
fn regex_problem(pattern: &str) -> Option<String> {
    use std::collections::HashMap;
    use std::sync::{OnceLock, RwLock};
    static CACHE: OnceLock<RwLock<HashMap<String, Option<String>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| RwLock::new(HashMap::new()));
    if let Some(found) = cache.read().unwrap_or_else(|e| e.into_inner()).get(pattern) {
        return found.clone();
    }
    let problem = regex::Regex::new(pattern).err().map(|e| {
        e.to_string()
            .lines()
            .last()
            .unwrap_or("invalid")
            .trim()
            .trim_start_matches("error: ")
            .to_owned()
    });
    cache
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .insert(pattern.to_owned(), problem.clone());
    problem
}

/// Parses one selection. `pointer` is the selection's JSON pointer in the file.
pub fn parse_selection(
    name: &str,
    value: &Value,
    pointer: &str,
) -> Result<Selection, Vec<LogicError>> {
    let mut errors = Vec::new();
    let mut alternatives = Vec::new();
    match value {
        Value::Object(map) => alternatives.push(parse_map(map, pointer, &mut errors)),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let item_pointer = format!("{pointer}/{i}");
                match item {
                    Value::Object(map) => alternatives.push(parse_map(map, &item_pointer, &mut errors)),
                    _ => errors.push(LogicError {
                        pointer: item_pointer,
                        at_key: false,
                        message: "a selection list must contain mappings of field matches".to_owned(),
                        help: Some("Sigma keyword lists (bare strings) are not supported: match a field, e.g. `ResultReason|contains: text`".to_owned()),
                    }),
                }
            }
        }
        _ => errors.push(LogicError {
            pointer: pointer.to_owned(),
            at_key: false,
            message: format!(
                "selection `{name}` must be a mapping of field matches or a list of them"
            ),
            help: None,
        }),
    }
    if errors.is_empty() {
        Ok(Selection {
            name: name.to_owned(),
            alternatives,
        })
    } else {
        Err(errors)
    }
}

fn parse_map(
    map: &serde_json::Map<String, Value>,
    pointer: &str,
    errors: &mut Vec<LogicError>,
) -> Vec<FieldMatch> {
    let mut out = Vec::new();
    for (key, value) in map {
        let entry_pointer = format!("{pointer}/{}", crate::yaml::pointer_segment(key));
        if let Some(m) = parse_entry(key, value, &entry_pointer, errors) {
            out.push(m);
        }
    }
    out
}

fn parse_entry(
    key: &str,
    value: &Value,
    pointer: &str,
    errors: &mut Vec<LogicError>,
) -> Option<FieldMatch> {
    let mut parts = key.split('|');
    let field = parts.next().unwrap_or_default().to_owned();
    let key_error = |message: String, help: Option<String>| LogicError {
        pointer: pointer.to_owned(),
        at_key: true,
        message,
        help,
    };

    let mut wrap: Option<&str> = None;
    let (mut all, mut re, mut insensitive, mut cased, mut exists) =
        (false, false, false, false, false);
    let before = errors.len();
    for modifier in parts {
        match modifier {
            "contains" | "startswith" | "endswith" => {
                if let Some(previous) = wrap {
                    errors.push(key_error(
                        format!("`{modifier}` cannot be combined with `{previous}`"),
                        Some("keep one of them; for other shapes write `*` wildcards in the value, e.g. `Field: 'start*end'`".to_owned()),
                    ));
                }
                wrap = Some(modifier);
            }
            "all" => all = true,
            "re" => re = true,
            "i" => insensitive = true,
            "cased" => cased = true,
            "exists" => exists = true,
            other => {
                let help = match did_you_mean(other, MODIFIERS) {
                    Some(close) => format!(
                        "did you mean `{close}`? (supported: {})",
                        MODIFIERS.join(", ")
                    ),
                    None => format!("supported modifiers: {}", MODIFIERS.join(", ")),
                };
                errors.push(key_error(format!("unknown modifier `{other}`"), Some(help)));
            }
        }
    }
    if re && wrap.is_some() {
        errors.push(key_error(
            "`re` cannot be combined with contains/startswith/endswith".to_owned(),
            Some("write the regular expression unanchored instead".to_owned()),
        ));
    }
    if insensitive && !re {
        errors.push(key_error(
            "the `i` modifier only applies to `re`".to_owned(),
            Some("plain matches are already case-insensitive".to_owned()),
        ));
    }
    if exists && (re || wrap.is_some() || all || cased) {
        errors.push(key_error(
            "`exists` cannot be combined with other modifiers".to_owned(),
            None,
        ));
    }
    if errors.len() > before {
        return None;
    }

    let values: Vec<(String, &Value)> = match value {
        Value::Array(items) if items.is_empty() => {
            errors.push(LogicError {
                pointer: pointer.to_owned(),
                at_key: false,
                message: "an empty list matches nothing".to_owned(),
                help: Some("give at least one value".to_owned()),
            });
            return None;
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("{pointer}/{i}"), v))
            .collect(),
        single => vec![(pointer.to_owned(), single)],
    };

    let mut matchers = Vec::new();
    for (value_pointer, v) in values {
        let value_error = |message: String, help: Option<String>| LogicError {
            pointer: value_pointer.clone(),
            at_key: false,
            message,
            help,
        };
        if exists {
            match v {
                Value::Bool(b) => matchers.push(Matcher::Exists(*b)),
                _ => errors.push(value_error("`exists` takes true or false".to_owned(), None)),
            }
            continue;
        }
        let text = match v {
            Value::Null => {
                if re || wrap.is_some() {
                    errors.push(value_error(
                        "null (the field is empty) cannot take a modifier".to_owned(),
                        None,
                    ));
                } else {
                    matchers.push(Matcher::Empty);
                }
                continue;
            }
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => {
                errors.push(value_error(
                    "expected a text, number, boolean or null value".to_owned(),
                    None,
                ));
                continue;
            }
        };
        if re {
            let pattern = if insensitive {
                format!("(?i){text}")
            } else {
                text.clone()
            };
            match regex_problem(&pattern) {
                None => matchers.push(Matcher::Regex {
                    regex: text,
                    case_insensitive: insensitive,
                }),
                Some(reason) => {
                    errors.push(value_error(
                        format!("invalid regular expression: {reason}"),
                        Some("rulecast accepts the RE2 syntax that KQL, Splunk and Sigma backends all understand".to_owned()),
                    ));
                }
            }
            continue;
        }
        let pattern = Pattern::parse(&text);
        let pattern = match wrap {
            Some("contains") => pattern.wrap(true, true),
            Some("startswith") => pattern.wrap(false, true),
            Some("endswith") => pattern.wrap(true, false),
            _ => pattern,
        };
        matchers.push(Matcher::Pattern { pattern, cased });
    }
    if errors.len() > before {
        return None;
    }
    Some(FieldMatch {
        field,
        matchers,
        all,
        pointer: pointer.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn map_is_and_list_is_or() {
        let s = parse_selection(
            "s",
            &json!([{"A": "x", "B|contains": ["y", "z"]}, {"C": null}]),
            "/detection/s",
        )
        .unwrap();
        assert_eq!(s.alternatives.len(), 2);
        assert_eq!(s.alternatives[0].len(), 2);
        assert_eq!(s.alternatives[0][1].matchers.len(), 2);
        assert_eq!(s.alternatives[1][0].matchers, vec![Matcher::Empty]);
        match &s.alternatives[0][1].matchers[0] {
            Matcher::Pattern { pattern, .. } => {
                assert_eq!(pattern.shape(), Shape::Contains("y".into()))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_modifiers_and_regexes_are_reported_together() {
        let errs = parse_selection(
            "s",
            &json!({"A|contians": "x", "B|re": "(", "C|contains|endswith": "y"}),
            "/detection/s",
        )
        .unwrap_err();
        assert_eq!(errs.len(), 3, "{errs:#?}");
        assert_eq!(errs[0].message, "unknown modifier `contians`");
        assert!(
            errs[0]
                .help
                .as_deref()
                .unwrap()
                .starts_with("did you mean `contains`?")
        );
        assert!(
            errs[1].message.starts_with("invalid regular expression"),
            "{}",
            errs[1].message
        );
        assert_eq!(errs[1].pointer, "/detection/s/B|re");
        assert!(errs[2].message.contains("cannot be combined"));
    }
}
