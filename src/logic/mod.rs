//! The backend-neutral detection logic.
//!
//! A detection's `detection:` block is parsed into [`Selection`]s (field matches; a map is AND, a
//! list of maps is OR) and a [`Condition`] over them, with Sigma's semantics:
//! case-insensitive matching, `*`/`?` wildcards, and the [`modifier`]s. Every language
//! compiles this one model: KQL and SPL from the [`Matcher`]s a field match lowers to, Sigma
//! from the modifiers and values as written.
//!
//! `expand` is Sigma's placeholder modifier: `Field|expand: '%tier0_roles%'` matches a value of
//! the catalogue list `tier0_roles` (detections/rulecast.yaml); after `contains`, `startswith` or
//! `endswith`, a value containing, starting or ending with one. The rule keeps the placeholder;
//! each target resolves it its own way (a watchlist, a lookup, inline values, a pySigma
//! pipeline's `vars`), so the list is written once.

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

impl FieldMatch {
    /// JSON pointer of the value the `i`th matcher tests: matchers are in the order of the
    /// values, which are a list or a single value.
    pub fn value_pointer(&self, i: usize) -> String {
        if self.listed {
            format!("{}/{i}", self.pointer)
        } else {
            self.pointer.clone()
        }
    }
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
    /// `Field|expand: '%list%'`: the value is (or contains, starts or ends with) one of the
    /// values of a catalogue list, compared case-insensitively.
    InList {
        list: String,
        position: ListPosition,
    },
}

/// The suffix of a placeholder that reads a list's names instead of its values.
pub const LIST_NAMES: &str = ".name";

/// A list a placeholder reads: the list's key in rulecast.yaml, and whether it reads the
/// names of the list's entries rather than their values.
pub fn list_reference(placeholder: &str) -> (&str, bool) {
    match placeholder.strip_suffix(LIST_NAMES) {
        Some(base) => (base, true),
        None => (placeholder, false),
    }
}

/// Where a list value must stand in the field's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListPosition {
    /// The whole value is one of the list's.
    Whole,
    /// Part of it (`contains`, `startswith`, `endswith`: [`Modifier::wraps`]).
    Part { any_before: bool, any_after: bool },
}

impl ListPosition {
    /// The match of one list value in this position, ignoring case: what a list matched in
    /// part lowers to, value by value.
    pub fn matcher(self, value: &str) -> Matcher {
        Matcher::Pattern {
            pattern: self.pattern(value),
            cased: false,
        }
    }

    /// The list value as a wildcard pattern in this position.
    fn pattern(self, value: &str) -> Pattern {
        let literal = Pattern::literal(value);
        match self {
            ListPosition::Whole => literal,
            ListPosition::Part {
                any_before,
                any_after,
            } => literal.wrap(any_before, any_after),
        }
    }
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

impl FieldMatch {
    /// The catalogue lists the entry reads through `expand` (`tier0_roles`, `tier0_roles.name`).
    pub fn lists(&self) -> impl Iterator<Item = &str> {
        self.matchers.iter().filter_map(|m| match m {
            Matcher::InList { list, .. } => Some(list.as_str()),
            _ => None,
        })
    }
}

/// The list a placeholder value names: `%tier0_roles%` names the values of `tier0_roles`,
/// `%tier0_roles.name%` the names its entries give them.
fn placeholder(text: &str) -> Option<&str> {
    let name = text.strip_prefix('%')?.strip_suffix('%')?;
    let base = name.strip_suffix(LIST_NAMES).unwrap_or(name);
    let mut chars = base.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    valid.then_some(name)
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
    let mut out = Vec::with_capacity(map.len());
    for (key, value) in map {
        let entry_pointer = format!("{pointer}/{}", crate::yaml::pointer_segment(key));
        if let Some(m) = parse_entry(key, value, &entry_pointer, errors) {
            out.push(m);
        }
    }
    out
}

/// Parses one `Field|modifiers: values` entry (of a selection, or of an exclusion) at `pointer`.
pub(crate) fn parse_entry(
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
        if modifiers.contains(&Modifier::Expand) {
            errors.push(key_error(
                format!("`{name}` comes after `expand`"),
                Some(
                    "write `expand` last, e.g. `Field|contains|expand`, as pySigma reads it"
                        .to_owned(),
                ),
            ));
        }
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
    let (all, re, insensitive, cased, exists, expand) = (
        has(Modifier::All),
        has(Modifier::Re),
        has(Modifier::I),
        has(Modifier::Cased),
        has(Modifier::Exists),
        has(Modifier::Expand),
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
    if exists && (re || wrap.is_some() || all || cased || expand) {
        errors.push(key_error(
            "`exists` cannot be combined with other modifiers".to_owned(),
            None,
        ));
    }
    if expand && (re || all || cased) {
        errors.push(key_error(
            "`expand` cannot be combined with re, all or cased".to_owned(),
            Some(
                "a list is matched case-insensitively, value by value (any one matches)".to_owned(),
            ),
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

    let mut matchers = Vec::with_capacity(values.len());
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
        if expand {
            match v.as_str().and_then(placeholder) {
                Some(list) => matchers.push(Matcher::InList {
                    list: list.to_owned(),
                    position: match wrap.and_then(Modifier::wraps) {
                        Some((any_before, any_after)) => ListPosition::Part {
                            any_before,
                            any_after,
                        },
                        None => ListPosition::Whole,
                    },
                }),
                None => errors.push(value_error(
                    "`expand` takes a placeholder naming a list, e.g. '%tier0_roles%'".to_owned(),
                    Some("lists are defined under `lists:` in detections/rulecast.yaml".to_owned()),
                )),
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

    #[test]
    fn expand_names_a_list_in_a_position() {
        let s = parse_selection(
            "s",
            &json!({"RoleId|expand": "%tier0_roles%", "Body|contains|expand": ["%a%", "%b_2%"]}),
            "/detection/s",
        )
        .unwrap();
        assert_eq!(
            s.alternatives[0][0].matchers,
            vec![Matcher::InList {
                list: "tier0_roles".into(),
                position: ListPosition::Whole
            }]
        );
        assert_eq!(
            s.alternatives[0][1].lists().collect::<Vec<_>>(),
            vec!["a", "b_2"]
        );
        assert_eq!(
            s.alternatives[0][1].matchers[0],
            Matcher::InList {
                list: "a".into(),
                position: ListPosition::Part {
                    any_before: true,
                    any_after: true
                }
            }
        );
        let names =
            parse_selection("s", &json!({"RoleName|expand": "%tier0_roles.name%"}), "/s").unwrap();
        let list = names.alternatives[0][0].lists().next().unwrap();
        assert_eq!(list_reference(list), ("tier0_roles", true));
        assert_eq!(list_reference("tier0_roles"), ("tier0_roles", false));
        assert!(parse_selection("s", &json!({"R|expand": "%x.id%"}), "/s").is_err());
    }

    #[test]
    fn expand_needs_a_placeholder_and_comes_last() {
        let errs = parse_selection(
            "s",
            &json!({
                "A|expand": "tier0_roles",
                "B|expand|contains": "%x%",
                "C|expand|cased": "%x%",
                "D|re|expand": "%x%",
                "E|expand": "%x y%"
            }),
            "/detection/s",
        )
        .unwrap_err();
        let messages: Vec<&str> = errs.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            messages,
            vec![
                "`expand` takes a placeholder naming a list, e.g. '%tier0_roles%'",
                "`contains` comes after `expand`",
                "`cased` comes after `expand`",
                "`expand` cannot be combined with re, all or cased",
                "`expand` cannot be combined with re, all or cased",
                "`expand` takes a placeholder naming a list, e.g. '%tier0_roles%'",
            ],
            "{errs:#?}"
        );
        assert!(!errs[0].at_key && errs[1].at_key);
    }
}
