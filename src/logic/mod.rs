//! The backend-neutral detection logic.
//!
//! A detection's `detection:` block is parsed into [`Selection`]s (field matches; a map is AND, a
//! list of maps is OR) and a [`Condition`] over them, with Sigma's semantics:
//! case-insensitive matching, `*`/`?` wildcards, and the [`modifier`]s. Every language
//! compiles this one model: KQL and SPL from the [`Matcher`]s a field match lowers to, Sigma
//! from the modifiers and values as written.

pub mod condition;
pub mod modifier;
pub mod pattern;
pub mod regex_dialect;

use serde_json::Value;

pub use condition::Condition;
pub use modifier::Modifier;
pub use pattern::{Pattern, Shape};

use crate::diagnostic::did_you_mean;

/// A named selection: OR over alternatives, each an AND over field matches.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    pub name: String,
    pub alternatives: Vec<Vec<FieldMatch>>,
    /// Written as a list of maps (even of one), which Sigma output keeps.
    pub listed: bool,
}

/// One `Field|modifiers: values` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldMatch {
    pub field: String,
    /// The modifiers in the order they were written.
    pub modifiers: Vec<Modifier>,
    /// The values as written (YAML scalars: text, number, boolean or null).
    pub values: Vec<Value>,
    /// Written as a list (even of one).
    pub listed: bool,
    /// The tests the values and modifiers amount to, one per value.
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

/// A problem in a selection, located by JSON pointer (relative to the detection file) and
/// whether it concerns the key or the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogicError {
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
    static CACHE: PatternCache<Option<String>> = PatternCache::new();
    CACHE.get_or_insert_with(pattern, || {
        regex::Regex::new(pattern).err().map(|e| {
            e.to_string()
                .lines()
                .last()
                .unwrap_or("invalid")
                .trim()
                .trim_start_matches("error: ")
                .to_owned()
        })
    })
}

/// What rulecast worked out about regular expressions, by their text, once per process: a
/// large catalogue repeats the same few expressions in many detections.
pub(crate) struct PatternCache<V>(
    std::sync::OnceLock<std::sync::RwLock<std::collections::HashMap<String, V>>>,
);

impl<V: Clone> PatternCache<V> {
    pub(crate) const fn new() -> Self {
        PatternCache(std::sync::OnceLock::new())
    }

    /// The value for `pattern`, computed by `compute` the first time it is asked for.
    pub(crate) fn get_or_insert_with(&self, pattern: &str, compute: impl FnOnce() -> V) -> V {
        use std::sync::PoisonError;
        let cache = self.0.get_or_init(Default::default);
        if let Some(found) = cache
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(pattern)
        {
            return found.clone();
        }
        let found = compute();
        cache
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(pattern.to_owned(), found.clone());
        found
    }
}

/// Parses one selection. `pointer` is the selection's JSON pointer in the file.
pub(crate) fn parse_selection(
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
            listed: value.is_array(),
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

    let mut wrap: Option<Modifier> = None;
    let mut modifiers = Vec::new();
    let before = errors.len();
    for name in parts {
        let Some(modifier) = Modifier::from_name(name) else {
            let supported = modifier::names().collect::<Vec<_>>().join(", ");
            let help = match did_you_mean(name, modifier::names()) {
                Some(close) => format!("did you mean `{close}`? (supported: {supported})"),
                None => format!("supported modifiers: {supported}"),
            };
            errors.push(key_error(format!("unknown modifier `{name}`"), Some(help)));
            continue;
        };
        if modifier.wraps().is_some() {
            if let Some(previous) = wrap {
                errors.push(key_error(
                    format!("`{name}` cannot be combined with `{}`", previous.name()),
                    Some("keep one of them; for other shapes write `*` wildcards in the value, e.g. `Field: 'start*end'`".to_owned()),
                ));
            }
            wrap = Some(modifier);
        }
        for (language, reason) in modifier::refusals(modifier.spec()) {
            errors.push(key_error(
                format!(
                    "`{name}` cannot be expressed in {}: {reason}",
                    language.name()
                ),
                Some(
                    "match the field another way; every target must be able to run the detection"
                        .to_owned(),
                ),
            ));
        }
        modifiers.push(modifier);
    }
    let has = |m: Modifier| modifiers.contains(&m);
    let (all, re, insensitive, cased, exists) = (
        has(Modifier::All),
        has(Modifier::Re),
        has(Modifier::I),
        has(Modifier::Cased),
        has(Modifier::Exists),
    );
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
        let pattern = match wrap.and_then(Modifier::wraps) {
            Some((before, after)) => pattern.wrap(before, after),
            None => pattern,
        };
        matchers.push(Matcher::Pattern { pattern, cased });
    }
    if errors.len() > before {
        return None;
    }
    Some(FieldMatch {
        field,
        modifiers,
        values: match value {
            Value::Array(items) => items.clone(),
            single => vec![single.clone()],
        },
        listed: value.is_array(),
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
                assert_eq!(pattern.shape(), Shape::Contains("y".into()));
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
