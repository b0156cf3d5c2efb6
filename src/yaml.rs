//! YAML loading with source positions.
//!
//! Catalogue files are parsed by serde-saphyr into a tree where every node keeps the line and
//! column it came from. The tree is then turned into a `serde_json::Value` (what the schema check
//! and serde see) plus a [`SourceMap`] from JSON pointers back to positions, so any later check,
//! however deep in the model, can point at the exact key or value a user wrote.
//!
//! Size and alias-expansion limits are enforced here, so a hostile file (an alias bomb, a huge
//! file) fails with a clear error instead of exhausting memory.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use serde_saphyr::Spanned;

use crate::diagnostic::{Diagnostic, Position};

/// Catalogue files are small hand-written documents; anything bigger is a mistake or an attack.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;
/// Nesting deeper than this is not something a person writes.
pub const MAX_DEPTH: usize = 32;
/// Upper bound on YAML nodes after alias expansion (an alias bomb blows far past it).
pub const MAX_NODES: usize = 100_000;

/// A parsed YAML document: its JSON value and where each part of it came from.
#[derive(Debug, Clone)]
pub struct Document {
    pub path: PathBuf,
    pub source: String,
    pub value: Value,
    pub map: SourceMap,
}

impl Document {
    /// Position of the value at `pointer` (falling back to the nearest parent that has one).
    pub fn position(&self, pointer: &str) -> Option<Position> {
        self.map.value_position(pointer)
    }

    /// Position of the key that introduces `pointer` (for "unknown key" errors).
    pub fn key_position(&self, pointer: &str) -> Option<Position> {
        self.map.key_position(pointer).or_else(|| self.map.value_position(pointer))
    }

    /// An error pointing at the value at `pointer`.
    pub fn error_at(&self, pointer: &str, message: impl Into<String>) -> Diagnostic {
        self.diagnostic_at(Diagnostic::error(message), pointer, false)
    }

    /// An error pointing at the key of `pointer`.
    pub fn error_at_key(&self, pointer: &str, message: impl Into<String>) -> Diagnostic {
        self.diagnostic_at(Diagnostic::error(message), pointer, true)
    }

    pub fn warning_at(&self, pointer: &str, message: impl Into<String>) -> Diagnostic {
        self.diagnostic_at(Diagnostic::warning(message), pointer, false)
    }

    pub fn diagnostic_at(&self, diagnostic: Diagnostic, pointer: &str, key: bool) -> Diagnostic {
        let position = if key { self.key_position(pointer) } else { self.position(pointer) };
        let diagnostic = diagnostic.in_file(&self.path);
        match position {
            Some(p) => diagnostic.at(&self.source, p),
            None => diagnostic,
        }
    }
}

/// JSON pointer (RFC 6901) to source position, for values and for the keys that name them.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    values: HashMap<String, Position>,
    keys: HashMap<String, Position>,
}

impl SourceMap {
    pub fn value_position(&self, pointer: &str) -> Option<Position> {
        let mut p = pointer;
        loop {
            if let Some(pos) = self.values.get(p) {
                return Some(*pos);
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return None,
            }
        }
    }

    pub fn key_position(&self, pointer: &str) -> Option<Position> {
        self.keys.get(pointer).copied()
    }
}

/// Escapes one JSON-pointer segment.
pub fn pointer_segment(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// Reads and parses `path`. Errors come back as diagnostics with positions.
pub fn load_file(path: &Path, display: &Path) -> Result<Document, Diagnostic> {
    let metadata = std::fs::metadata(path)
        .map_err(|e| Diagnostic::error(format!("cannot read file: {e}")).in_file(display))?;
    if metadata.len() > MAX_FILE_BYTES {
        return Err(Diagnostic::error(format!(
            "file is {} bytes; catalogue files are limited to {} bytes",
            metadata.len(),
            MAX_FILE_BYTES
        ))
        .in_file(display)
        .with_help("split the content into several files; a detection never needs this much text"));
    }
    let bytes = std::fs::read(path)
        .map_err(|e| Diagnostic::error(format!("cannot read file: {e}")).in_file(display))?;
    let source = String::from_utf8(bytes)
        .map_err(|e| Diagnostic::error(format!("file is not valid UTF-8: {e}")).in_file(display))?;
    parse_str(&source, display)
}

/// Parses YAML text. `display` is the path shown in diagnostics.
pub fn parse_str(source: &str, display: &Path) -> Result<Document, Diagnostic> {
    if source.len() as u64 > MAX_FILE_BYTES {
        return Err(Diagnostic::error(format!(
            "document is {} bytes; catalogue files are limited to {} bytes",
            source.len(),
            MAX_FILE_BYTES
        ))
        .in_file(display));
    }
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_nodes: MAX_NODES,
            max_depth: MAX_DEPTH,
        },
    };
    let parsed: Result<Spanned<Node>, _> = serde_saphyr::from_str_with_options(source, options);
    let root = parsed.map_err(|e| yaml_error(&e, source, display))?;
    let mut map = SourceMap::default();
    let value = to_json(&root, String::new(), &mut map);
    if let Value::Null = value {
        return Err(Diagnostic::error("the file is empty").in_file(display)
            .with_help("a catalogue file holds one YAML mapping; see detections/schema.json"));
    }
    Ok(Document { path: display.to_path_buf(), source: source.to_owned(), value, map })
}

fn yaml_error(error: &serde_saphyr::Error, source: &str, display: &Path) -> Diagnostic {
    // serde-saphyr's Display renders its own snippet; ours renders one too, so keep only the
    // first line of its message and strip its "line X column Y:" prefix, which we show ourselves.
    let rendered = error.without_snippet().to_string();
    let first = rendered.lines().next().unwrap_or("invalid YAML").trim();
    let first = first.strip_prefix("error:").unwrap_or(first).trim();
    let message = match first.find(": ") {
        Some(i) if first[..i].starts_with("line ") => &first[i + 2..],
        _ => first,
    };
    // Some messages end by repeating the position, which the diagnostic already shows.
    let message = match message.rfind(" at line ") {
        Some(i) if message[i..].contains(", column ") => &message[..i],
        _ => message,
    };
    let (message, mut help) = explain_yaml_error(message);
    let mut d = Diagnostic::error(format!("invalid YAML: {message}")).in_file(display);
    if let Some(loc) = error.location() {
        if loc.line() > 0 {
            let position = Position::new(loc.line() as usize, loc.column() as usize);
            d = d.at(source, position);
            // The parser notices an unclosed `[` or `{` only where the text stops making sense,
            // often lines later; name the bracket, which is the real mistake.
            if let Some(open) = unclosed_flow(source, position) {
                help = Some(format!("the `{}` at line {}, column {} is never closed", open.0, open.1.line, open.1.column));
            }
        }
    }
    if let Some(help) = help {
        d = d.with_help(help);
    }
    d
}

/// The innermost flow bracket (`[` or `{`) still open at `at`, if it was opened on an earlier
/// line: a flow collection spanning lines is rare in a catalogue, an unclosed one is the usual
/// cause. Quoted text and comments are skipped.
fn unclosed_flow(source: &str, at: Position) -> Option<(char, Position)> {
    let mut open: Vec<(char, Position)> = Vec::new();
    for (index, line) in source.lines().enumerate().take(at.line.saturating_sub(1)) {
        let mut quote: Option<char> = None;
        let mut previous = ' ';
        for (column, c) in line.chars().enumerate() {
            let after_space = previous.is_whitespace();
            // A quote opens a quoted scalar only where a value starts (`It's` is plain text).
            let starts_value = after_space || matches!(previous, '[' | '{' | ',');
            previous = c;
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '"' | '\'') if starts_value => quote = Some(c),
                (None, '#') if after_space => break,
                (None, '[' | '{') => open.push((c, Position::new(index + 1, column + 1))),
                (None, ']' | '}') => {
                    open.pop();
                }
                _ => {}
            }
        }
    }
    open.pop()
}

/// Turns parser wording into advice where we know the usual cause.
fn explain_yaml_error(message: &str) -> (String, Option<String>) {
    if message.starts_with("budget breached: Depth") {
        return (
            format!("the document nests more than {MAX_DEPTH} levels deep"),
            Some("a catalogue file needs a few levels of nesting; flatten the structure".to_owned()),
        );
    }
    if message.starts_with("budget breached") {
        return (
            "the document expands to too many values (is it an alias bomb?)".to_owned(),
            Some(format!("catalogue files are limited to {MAX_NODES} values after aliases are expanded; write the values out instead of repeating aliases")),
        );
    }
    if let Some(rest) = message.strip_prefix("duplicate mapping key: ") {
        let key = rest.split(',').next().unwrap_or(rest).trim();
        return (format!("the key `{key}` appears twice in the same mapping"), Some("remove or rename one of them".to_owned()));
    }
    if message.contains("mapping values are not allowed") || message.contains("illegal placement of ':'") {
        return (
            message.to_owned(),
            Some("a value containing ': ' must be quoted, e.g. title: \"a: b\"".to_owned()),
        );
    }
    (message.to_owned(), None)
}

/// The spanned YAML tree, as serde-saphyr hands it to us.
#[derive(Debug)]
enum Node {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Node>>),
    Map(Vec<(Spanned<String>, Spanned<Node>)>),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a YAML value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
        Ok(Node::UInt(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Node, E> {
        Ok(Node::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Node>>()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<KeyString>>()? {
            let value = map.next_value::<Spanned<Node>>()?;
            entries.push((Spanned { value: key.value.0, referenced: key.referenced, defined: key.defined }, value));
        }
        Ok(Node::Map(entries))
    }
}

/// Mapping keys are read as text whatever their YAML type (`1: x` has key "1"), because every
/// key in the catalogue format is a name.
struct KeyString(String);

impl<'de> Deserialize<'de> for KeyString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = KeyString;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a scalar mapping key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<KeyString, E> {
                Ok(KeyString(v.to_owned()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<KeyString, E> {
                Ok(KeyString(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<KeyString, E> {
                Ok(KeyString(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<KeyString, E> {
                Ok(KeyString(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<KeyString, E> {
                Ok(KeyString(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<KeyString, E> {
                Ok(KeyString("null".to_owned()))
            }
        }
        deserializer.deserialize_any(V)
    }
}

fn position_of<T>(node: &Spanned<T>) -> Option<Position> {
    let loc = node.referenced;
    (loc.line() > 0).then(|| Position::new(loc.line() as usize, loc.column() as usize))
}

fn to_json(node: &Spanned<Node>, pointer: String, map: &mut SourceMap) -> Value {
    if let Some(pos) = position_of(node) {
        map.values.insert(pointer.clone(), pos);
    }
    match &node.value {
        Node::Null => Value::Null,
        Node::Bool(b) => Value::Bool(*b),
        Node::Int(i) => Value::Number((*i).into()),
        Node::UInt(u) => Value::Number((*u).into()),
        Node::Float(f) => Number::from_f64(*f).map(Value::Number).unwrap_or(Value::Null),
        Node::Str(s) => Value::String(s.clone()),
        Node::Seq(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| to_json(item, format!("{pointer}/{i}"), map))
                .collect(),
        ),
        Node::Map(entries) => {
            let mut object = Map::new();
            for (key, value) in entries {
                let child = format!("{pointer}/{}", pointer_segment(&key.value));
                if let Some(pos) = position_of(key) {
                    map.keys.insert(child.clone(), pos);
                }
                object.insert(key.value.clone(), to_json(value, child, map));
            }
            Value::Object(object)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_positions_of_keys_and_values() {
        let doc = parse_str("id: abc\nlist:\n  - a: 1\n    b: [x, y]\n", Path::new("t.yaml")).unwrap();
        assert_eq!(doc.position("/id"), Some(Position::new(1, 5)));
        assert_eq!(doc.key_position("/list/0/b"), Some(Position::new(4, 5)));
        assert_eq!(doc.position("/list/0/b/1"), Some(Position::new(4, 12)));
        // A pointer below a scalar falls back to the scalar.
        assert_eq!(doc.position("/id/deeper"), Some(Position::new(1, 5)));
    }

    #[test]
    fn syntax_error_has_position() {
        let err = parse_str("a: 1\nb: [1, 2\nc: 3\n", Path::new("t.yaml")).unwrap_err();
        assert_eq!(err.position.map(|p| p.line), Some(3));
        assert!(err.message.starts_with("invalid YAML"), "{}", err.message);
    }

    #[test]
    fn an_unclosed_bracket_is_named() {
        let err = parse_str("a: [1, 2\n# [ignored]\nb: \"[\"\nc: 3\n", Path::new("t.yaml")).unwrap_err();
        assert_eq!(err.help.as_deref(), Some("the `[` at line 1, column 4 is never closed"), "{err}");
        assert!(!err.message.contains(" at line "), "the position is not repeated: {}", err.message);
    }

    #[test]
    fn duplicate_keys_are_rejected() {
        let err = parse_str("a: 1\na: 2\n", Path::new("t.yaml")).unwrap_err();
        assert!(err.message.contains("`a` appears twice"), "{}", err.message);
    }

    #[test]
    fn alias_bomb_is_stopped() {
        let mut src = String::from("a: &a [x,x,x,x,x,x,x,x,x,x]\n");
        for (prev, name) in ["a", "b", "c", "d", "e", "f", "g"].iter().zip(["b", "c", "d", "e", "f", "g", "h"]) {
            src.push_str(&format!("{name}: &{name} [{}]\n", vec![format!("*{prev}"); 10].join(",")));
        }
        let err = parse_str(&src, Path::new("bomb.yaml")).unwrap_err();
        assert!(err.message.contains("alias bomb"), "{}", err.message);
    }

    #[test]
    fn deep_nesting_is_stopped() {
        let src = format!("a: {}{}\n", "[".repeat(200), "]".repeat(200));
        let err = parse_str(&src, Path::new("deep.yaml")).unwrap_err();
        assert!(err.message.contains("nests more than 32 levels"), "{}", err.message);
    }
}
