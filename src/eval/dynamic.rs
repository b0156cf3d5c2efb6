//! The value of a dynamic column (`TargetResources`, `InitiatedBy`), as a tree that borrows
//! from the input.
//!
//! Every event that passes the cheap checks has its dynamic columns read, and a detection
//! then looks up a few paths in them. Parsing into `serde_json::Value` costs an allocation per
//! key and string and a hashed map per object (`preserve_order`), for objects of five keys
//! searched once or twice. So a [`Dynamic`] keeps strings borrowed from the input where they
//! have no escapes, objects as their (key, value) pairs in the order written, and the compact
//! text of each object and array when the input already is that text.
//!
//! It must give exactly what `serde_json::Value` gives, because values are what KQL's
//! `tostring()` gives and the compilers are checked against the evaluator: lookups find the
//! last of duplicate keys, numbers read as serde_json writes them, and objects and arrays
//! written back as serde_json writes its maps (a duplicate key keeps the place of its first
//! occurrence and the value of its last). Whatever the fast parser does not handle itself (a
//! number it cannot print as written, an escape, deep nesting, input that is not JSON) goes to
//! serde_json, so the odd cases are serde_json's by construction.

use std::borrow::Cow;

use serde_json::Value;

use super::field::is_empty_text;
use super::key_tree::RawJson;

/// A JSON value whose strings are borrowed from `'a` where the input had no escapes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Dynamic<'a> {
    Null,
    Bool(bool),
    /// The number as written (valid JSON, and in range for serde_json).
    Number(Cow<'a, str>),
    String(Cow<'a, str>),
    Array(Vec<Dynamic<'a>>, Compact<'a>),
    /// Pairs in the order written, duplicates kept: lookups take the last.
    Object(Vec<(Cow<'a, str>, Dynamic<'a>)>, Compact<'a>),
}

/// An object's or array's text in the input when it is exactly what serde_json writes for it
/// (no whitespace, no escapes, numbers as serde_json prints them, no duplicate keys).
pub(crate) type Compact<'a> = Option<&'a str>;

/// Nesting deeper than this is left to serde_json (which stops at 128 levels).
const MAX_DEPTH: usize = 100;

impl<'a> Dynamic<'a> {
    /// The JSON text `json` as a tree, `None` when serde_json does not read it as JSON.
    pub(crate) fn parse(json: &'a str) -> Option<Dynamic<'a>> {
        Dynamic::parse_with(json, false)
    }

    /// `strings_checked`: serde_json has already refused control characters in the strings
    /// (as a [`RawJson`] holds none), so the parser need not look for them again.
    fn parse_with(json: &'a str, strings_checked: bool) -> Option<Dynamic<'a>> {
        Parser::read(json, strings_checked)
            .or_else(|| Some(Dynamic::from(serde_json::from_str::<Value>(json).ok()?)))
    }

    /// A dynamic column as Log Analytics delivers it: JSON, or JSON text inside a string (Log
    /// Analytics exports and the query API), which is read as JSON too when it is an object or
    /// an array.
    pub(crate) fn column(raw: RawJson<'a>) -> Option<Dynamic<'a>> {
        match Dynamic::parse_with(raw.get(), true)? {
            Dynamic::String(text) if text.trim_start().starts_with(['[', '{']) => {
                let inner = Dynamic::parse(&text).map(Dynamic::into_owned);
                Some(inner.unwrap_or(Dynamic::String(text)))
            }
            value => Some(value),
        }
    }

    /// The value of `key` in an object (the last of duplicates), `None` for other values.
    pub(crate) fn get(&self, key: &str) -> Option<&Dynamic<'a>> {
        match self {
            Dynamic::Object(pairs, _) => pairs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The items of an array, `None` for other values.
    pub(crate) fn as_array(&self) -> Option<&[Dynamic<'a>]> {
        match self {
            Dynamic::Array(items, _) => Some(items),
            _ => None,
        }
    }

    /// The value as KQL's `tostring()` gives it: strings as they are, numbers and booleans
    /// written out, objects and arrays as compact JSON; `None` for null, "" and `<null>`
    /// ([`is_empty_text`]).
    pub(crate) fn text(&self) -> Option<Cow<'a, str>> {
        match self {
            Dynamic::Null => None,
            Dynamic::String(s) if is_empty_text(s) => None,
            Dynamic::String(s) => Some(s.clone()),
            Dynamic::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
            Dynamic::Number(n) if prints_as_written(n) => Some(n.clone()),
            Dynamic::Number(n) => Some(Cow::Owned(number_value(n).to_string())),
            Dynamic::Array(_, Some(compact)) | Dynamic::Object(_, Some(compact)) => {
                Some(Cow::Borrowed(compact))
            }
            Dynamic::Array(..) | Dynamic::Object(..) => {
                let mut out = String::new();
                self.write_compact(&mut out);
                Some(Cow::Owned(out))
            }
        }
    }

    /// Writes the value as serde_json writes a `Value`.
    fn write_compact(&self, out: &mut String) {
        match self {
            Dynamic::Null => out.push_str("null"),
            Dynamic::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Dynamic::Number(n) if prints_as_written(n) => out.push_str(n),
            Dynamic::Number(n) => out.push_str(&number_value(n).to_string()),
            Dynamic::String(s) => write_string(s, out),
            Dynamic::Array(_, Some(compact)) | Dynamic::Object(_, Some(compact)) => {
                out.push_str(compact);
            }
            Dynamic::Array(items, None) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write_compact(out);
                }
                out.push(']');
            }
            Dynamic::Object(pairs, None) => {
                out.push('{');
                let mut first = true;
                for (i, (key, _)) in pairs.iter().enumerate() {
                    // serde_json's map keeps a key where it first came, with its last value.
                    if pairs[..i].iter().any(|(k, _)| k == key) {
                        continue;
                    }
                    if !first {
                        out.push(',');
                    }
                    first = false;
                    write_string(key, out);
                    out.push(':');
                    let last = pairs.iter().rev().find(|(k, _)| k == key);
                    last.expect("the key itself").1.write_compact(out);
                }
                out.push('}');
            }
        }
    }

    /// The same value owning its strings.
    pub(crate) fn into_owned(self) -> Dynamic<'static> {
        let owned = |text: Cow<'_, str>| Cow::Owned(text.into_owned());
        match self {
            Dynamic::Null => Dynamic::Null,
            Dynamic::Bool(b) => Dynamic::Bool(b),
            Dynamic::Number(n) => Dynamic::Number(owned(n)),
            Dynamic::String(s) => Dynamic::String(owned(s)),
            Dynamic::Array(items, _) => {
                Dynamic::Array(items.into_iter().map(Dynamic::into_owned).collect(), None)
            }
            Dynamic::Object(pairs, _) => Dynamic::Object(
                pairs
                    .into_iter()
                    .map(|(k, v)| (owned(k), v.into_owned()))
                    .collect(),
                None,
            ),
        }
    }
}

impl From<Value> for Dynamic<'static> {
    fn from(value: Value) -> Dynamic<'static> {
        match value {
            Value::Null => Dynamic::Null,
            Value::Bool(b) => Dynamic::Bool(b),
            // serde_json writes its own numbers back as it read them.
            Value::Number(n) => Dynamic::Number(Cow::Owned(n.to_string())),
            Value::String(s) => Dynamic::String(Cow::Owned(s)),
            Value::Array(items) => {
                Dynamic::Array(items.into_iter().map(Dynamic::from).collect(), None)
            }
            Value::Object(map) => Dynamic::Object(
                map.into_iter()
                    .map(|(k, v)| (Cow::Owned(k), Dynamic::from(v)))
                    .collect(),
                None,
            ),
        }
    }
}

/// Whether serde_json prints the number exactly as written: an integer that fits in 64 bits
/// (`-0` and anything with a fraction or exponent become floats, which it prints its own way).
fn prints_as_written(number: &str) -> bool {
    let digits = number.strip_prefix('-').unwrap_or(number).as_bytes();
    match digits {
        [b'0'] => digits.len() == number.len(),
        [b'1'..=b'9', rest @ ..] => rest.len() < 18 && rest.iter().all(u8::is_ascii_digit),
        _ => false,
    }
}

/// A number the parser accepted, as serde_json reads it.
fn number_value(number: &str) -> Value {
    serde_json::from_str(number).expect("checked by serde_json when parsed")
}

fn write_string(text: &str, out: &mut String) {
    let quoted = serde_json::to_string(text).expect("a string always serialises");
    out.push_str(&quoted);
}

/// A recursive-descent reader for the JSON it can give serde_json's value for; `None` sends
/// the text to serde_json.
struct Parser<'a> {
    text: &'a str,
    at: usize,
    strings_checked: bool,
    /// How many things so far make a container's text differ from serde_json's writing.
    unlike_serde: usize,
}

impl<'a> Parser<'a> {
    fn read(text: &'a str, strings_checked: bool) -> Option<Dynamic<'a>> {
        let mut parser = Parser {
            text,
            at: 0,
            strings_checked,
            unlike_serde: 0,
        };
        parser.skip_space();
        let value = parser.value(0)?;
        parser.skip_space();
        (parser.at == text.len()).then_some(value)
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn skip_space(&mut self) {
        let start = self.at;
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\t' | b'\r')) {
            self.at += 1;
        }
        if self.at != start {
            self.unlike_serde += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> bool {
        self.skip_space();
        let found = self.peek() == Some(byte);
        if found {
            self.at += 1;
        }
        found
    }

    fn value(&mut self, depth: usize) -> Option<Dynamic<'a>> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.skip_space();
        match self.peek()? {
            b'"' => self.string().map(Dynamic::String),
            b'{' => self.object(depth),
            b'[' => self.array(depth),
            b't' => self.literal("true", Dynamic::Bool(true)),
            b'f' => self.literal("false", Dynamic::Bool(false)),
            b'n' => self.literal("null", Dynamic::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn literal(&mut self, word: &str, value: Dynamic<'a>) -> Option<Dynamic<'a>> {
        self.text[self.at..].starts_with(word).then(|| {
            self.at += word.len();
            value
        })
    }

    fn number(&mut self) -> Option<Dynamic<'a>> {
        let start = self.at;
        let bytes = self.text.as_bytes();
        while self.at < bytes.len()
            && matches!(
                bytes[self.at],
                b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'
            )
        {
            self.at += 1;
        }
        let number = &self.text[start..self.at];
        if !prints_as_written(number) {
            // Grammar, range and printing are serde_json's.
            serde_json::from_str::<serde_json::Number>(number).ok()?;
            self.unlike_serde += 1;
        }
        Some(Dynamic::Number(Cow::Borrowed(number)))
    }

    fn string(&mut self) -> Option<Cow<'a, str>> {
        let start = self.at + 1;
        let rest = &self.text.as_bytes()[start..];
        let mut end = 0;
        let mut escaped = false;
        loop {
            end += memchr::memchr2(b'"', b'\\', rest.get(end..)?)?;
            if rest[end] == b'"' {
                break;
            }
            escaped = true;
            end += 2;
        }
        // Control characters must be escaped in JSON (serde_json refuses them).
        let control = |bytes: &[u8]| bytes.iter().fold(0, |seen, &b| seen | u8::from(b < 0x20));
        if !self.strings_checked && control(&rest[..end]) != 0 {
            return None;
        }
        self.at = start + end + 1;
        if escaped {
            self.unlike_serde += 1;
            let quoted = &self.text[start - 1..self.at];
            return serde_json::from_str::<String>(quoted).ok().map(Cow::Owned);
        }
        Some(Cow::Borrowed(&self.text[start..start + end]))
    }

    fn array(&mut self, depth: usize) -> Option<Dynamic<'a>> {
        let (start, unlike) = (self.at, self.unlike_serde);
        self.at += 1;
        let mut items = Vec::new();
        if !self.eat(b']') {
            loop {
                items.push(self.value(depth + 1)?);
                if self.eat(b']') {
                    break;
                }
                if !self.eat(b',') {
                    return None;
                }
            }
        }
        Some(Dynamic::Array(items, self.compact(start, unlike)))
    }

    fn object(&mut self, depth: usize) -> Option<Dynamic<'a>> {
        let (start, unlike) = (self.at, self.unlike_serde);
        self.at += 1;
        // Entra's objects have up to eight keys or so.
        let mut pairs: Vec<(Cow<'a, str>, Dynamic<'a>)> = Vec::with_capacity(8);
        if !self.eat(b'}') {
            loop {
                self.skip_space();
                if self.peek() != Some(b'"') {
                    return None;
                }
                let key = self.string()?;
                if !self.eat(b':') {
                    return None;
                }
                let value = self.value(depth + 1)?;
                if pairs.iter().any(|(k, _)| *k == key) {
                    self.unlike_serde += 1;
                }
                pairs.push((key, value));
                if self.eat(b'}') {
                    break;
                }
                if !self.eat(b',') {
                    return None;
                }
            }
        }
        Some(Dynamic::Object(pairs, self.compact(start, unlike)))
    }

    /// The container's text from `start` when nothing since `unlike` made it differ.
    fn compact(&self, start: usize, unlike: usize) -> Compact<'a> {
        (self.unlike_serde == unlike).then(|| &self.text[start..self.at])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::value::RawValue;

    /// What serde_json's `Value` gives for the column, to compare with.
    fn serde_text(json: &str) -> Option<String> {
        let value: Value = serde_json::from_str(json).ok()?;
        super::super::field::scalar_text(&value).map(Cow::into_owned)
    }

    fn tree_text(json: &str) -> Option<String> {
        Dynamic::parse(json)?.text().map(Cow::into_owned)
    }

    /// Texts whose tree must give exactly serde_json's value and text.
    const SAMPLES: &[&str] = &[
        r#"[{"id":"f28a","displayName":"SharePoint Administrator","type":"Role","modifiedProperties":[]}]"#,
        r#"{"a":1,"b":2,"a":3}"#,
        r#"{"a":{"x":1},"b":[1,{"c":2,"c":"two"}],"a":{"y":2}}"#,
        r#" { "a" : [ 1 , 2 ] , "b" : "x" } "#,
        r#"{"say":"\"hi\"\n","uni":"\u00e9\u20ac","slash":"a\/b","pair":"\ud83d\ude00"}"#,
        "[1.0,1e2,-0,0,-5,12345678901234567890,123456789012345678,1.5E-3,-1.25e+2]",
        r#"[[[]],[[1,[2,[3]]]],{},[{}],""]"#,
        r#"{"":"empty key","k":null,"t":true,"f":false}"#,
        "\"caf\u{e9} \u{1f600}\"",
        r#""<null>""#,
        r#""""#,
        "null",
        "12",
        "[1e400]",
        r#""\ud800""#,
        r#"{"a":1,}"#,
        "[1 2]",
        "[01]",
        "{\"a\":\"line\nbreak\"}",
        r#"{"a":1} x"#,
    ];

    #[test]
    fn texts_are_serde_jsons() {
        for json in SAMPLES {
            assert_eq!(tree_text(json), serde_text(json), "{json}");
            let parsed = Dynamic::parse(json);
            let serde = serde_json::from_str::<Value>(json).ok().map(Dynamic::from);
            assert_eq!(parsed.is_some(), serde.is_some(), "{json}");
        }
    }

    #[test]
    fn lookups_take_the_last_duplicate() {
        let tree = Dynamic::parse(r#"{"a":{"x":"first"},"b":1,"a":{"x":"last"}}"#).unwrap();
        let x = tree
            .get("a")
            .and_then(|a| a.get("x"))
            .and_then(Dynamic::text);
        assert_eq!(x.as_deref(), Some("last"));
        assert_eq!(tree.text().as_deref(), Some(r#"{"a":{"x":"last"},"b":1}"#));
        assert!(tree.get("c").is_none());
        assert!(tree.as_array().is_none());
    }

    #[test]
    fn plain_strings_and_compact_containers_are_borrowed() {
        let tree = Dynamic::parse(r#"[{"k":"plain","e":"esc\"aped"},[1,2]]"#).unwrap();
        let items = tree.as_array().unwrap();
        assert!(matches!(
            items[0].get("k").unwrap().text(),
            Some(Cow::Borrowed("plain"))
        ));
        assert!(
            matches!(items[0].get("e").unwrap().text(), Some(Cow::Owned(t)) if t == "esc\"aped")
        );
        assert!(matches!(items[1].text(), Some(Cow::Borrowed("[1,2]"))));
        // An escape inside makes serde_json write the container its own way.
        assert!(matches!(items[0].text(), Some(Cow::Owned(_))));
        assert_eq!(
            Dynamic::parse(r#"{"a":"\/"}"#).unwrap().text().as_deref(),
            Some(r#"{"a":"/"}"#)
        );
    }

    #[test]
    fn string_wrapped_json_is_read_as_json() {
        let raw = |json| {
            serde_json::from_str::<&RawValue>(json)
                .ok()
                .map(RawJson::from)
        };
        let column = |json| Dynamic::column(raw(json)?)?.text().map(Cow::into_owned);
        let wrapped = r#""[{\"type\":\"Role\",\"displayName\":\"Global Administrator\"}]""#;
        let tree = Dynamic::column(raw(wrapped).unwrap()).unwrap();
        let name = tree.as_array().unwrap()[0]
            .get("displayName")
            .unwrap()
            .text();
        assert_eq!(name.as_deref(), Some("Global Administrator"));
        assert_eq!(
            column(wrapped).as_deref(),
            Some(r#"[{"type":"Role","displayName":"Global Administrator"}]"#)
        );
        // Text that only looks like JSON stays text, as serde_json leaves it.
        assert_eq!(column(r#"" [not json""#).as_deref(), Some(" [not json"));
        assert_eq!(column(r#""plain""#).as_deref(), Some("plain"));
        assert_eq!(column("{bad"), None);
        // Inside a string, a line break is a control character that JSON must escape.
        assert_eq!(column(r#""[\"a\nb\"]""#).as_deref(), Some("[\"a\nb\"]"));
    }
}
