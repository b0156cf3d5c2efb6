//! The canonical layout of a rendered JSON file, by re-indenting its tokens.
//!
//! A JSON template (an ARM template above all) is written to be read and overridden, in any
//! layout; the file rulecast writes is in one layout, the parsed template printed by
//! [`super::pretty`]. Parsing thousands of templates into values only to print them again is a
//! large part of a build, so the tokens are re-indented instead, in one pass that copies each
//! string and number as it stands. That gives the printer's bytes exactly when every token is
//! already in the form the printer writes: a string with only the escapes serde_json writes
//! (which is all the encoding filters write), an integer it prints back unchanged, an object
//! without a repeated key. Anything else (another escape, a fraction, a repeated key, a syntax
//! error) goes the long way, through the parser and the printer, so the bytes and the errors
//! are always theirs; a test holds the two to the same output.

use crate::diagnostic::Diagnostic;

/// `text` (rendered JSON) in the canonical layout of [`super::pretty`], or the parser's error.
pub(crate) fn canonical(path: &str, text: &str) -> Result<String, Diagnostic> {
    match relayout(text) {
        Some(out) => Ok(out),
        None => super::parse_json(path, text).map(|parsed| super::pretty(&parsed)),
    }
}

/// Nesting deeper than this goes through the parser (whose own limit is 128).
const MAX_DEPTH: usize = 100;

/// `text` re-indented, with a final newline; `None` where the printer might write a token
/// differently, or the text is not JSON.
fn relayout(text: &str) -> Option<String> {
    let mut layout = Layout {
        text,
        at: 0,
        out: String::with_capacity(text.len() + text.len() / 4),
        keys: Vec::new(),
    };
    layout.value(0)?;
    layout.skip_whitespace();
    if layout.at != text.len() {
        return None;
    }
    layout.out.push('\n');
    Some(layout.out)
}

struct Layout<'a> {
    text: &'a str,
    at: usize,
    out: String,
    /// The keys of the objects being read, innermost last (a repeated key is the parser's).
    keys: Vec<&'a str>,
}

impl<'a> Layout<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn skip_whitespace(&mut self) {
        let bytes = self.text.as_bytes();
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = bytes.get(self.at) {
            self.at += 1;
        }
    }

    /// A line break and the indentation of nesting level `depth`.
    fn line(&mut self, depth: usize) {
        const SPACES: &str = "\n                                                                ";
        let wanted = 1 + 2 * depth;
        if wanted <= SPACES.len() {
            self.out.push_str(&SPACES[..wanted]);
        } else {
            self.out.push_str(SPACES);
            for _ in SPACES.len()..wanted {
                self.out.push(' ');
            }
        }
    }

    fn value(&mut self, depth: usize) -> Option<()> {
        self.skip_whitespace();
        match self.peek()? {
            b'{' => self.container(depth, b'}'),
            b'[' => self.container(depth, b']'),
            b'"' => {
                let string = self.string()?;
                self.out.push_str(string);
                Some(())
            }
            b't' => self.literal("true"),
            b'f' => self.literal("false"),
            b'n' => self.literal("null"),
            b'-' | b'0'..=b'9' => self.integer(),
            _ => None,
        }
    }

    /// An object (`close` is `}`) or an array (`]`), at `self.at`.
    fn container(&mut self, depth: usize, close: u8) -> Option<()> {
        if depth >= MAX_DEPTH {
            return None;
        }
        let object = close == b'}';
        self.at += 1;
        self.skip_whitespace();
        if self.peek()? == close {
            self.at += 1;
            self.out.push_str(if object { "{}" } else { "[]" });
            return Some(());
        }
        self.out.push(if object { '{' } else { '[' });
        let keys_from = self.keys.len();
        let mut first = true;
        loop {
            if !first {
                self.out.push(',');
            }
            first = false;
            self.line(depth + 1);
            if object {
                self.skip_whitespace();
                if self.peek()? != b'"' {
                    return None;
                }
                let key = self.string()?;
                if self.keys[keys_from..].contains(&key) {
                    return None;
                }
                self.keys.push(key);
                self.out.push_str(key);
                self.skip_whitespace();
                if self.peek()? != b':' {
                    return None;
                }
                self.at += 1;
                self.out.push_str(": ");
            }
            self.value(depth + 1)?;
            self.skip_whitespace();
            match self.peek()? {
                b',' => self.at += 1,
                b if b == close => {
                    self.at += 1;
                    break;
                }
                _ => return None,
            }
        }
        self.keys.truncate(keys_from);
        self.line(depth);
        self.out.push(close as char);
        Some(())
    }

    /// The string token at `self.at`, quotes included, if it is exactly what serde_json writes
    /// for its value: escapes only for `"`, `\` and control characters, each in serde_json's
    /// form (`\n` where there is one, else `\u00XX` in lower-case hex).
    fn string(&mut self) -> Option<&'a str> {
        let bytes = self.text.as_bytes();
        let start = self.at;
        let mut at = start + 1;
        loop {
            // Strings are long (a query, a description): jump to the next quote or escape,
            // and check the text jumped over in one pass (a raw control character is not JSON).
            let run = memchr::memchr2(b'"', b'\\', &bytes[at..])?;
            if has_control(&bytes[at..at + run]) {
                return None;
            }
            at += run;
            match bytes[at] {
                b'"' => break,
                _ => {
                    match *bytes.get(at + 1)? {
                        b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't' => at += 2,
                        b'u' => {
                            let code = bytes.get(at + 2..at + 6)?;
                            let control = match code {
                                [b'0', b'0', high @ (b'0' | b'1'), low] => {
                                    let low = match low {
                                        b'0'..=b'9' => low - b'0',
                                        b'a'..=b'f' => low - b'a' + 10,
                                        _ => return None,
                                    };
                                    (high - b'0') * 16 + low
                                }
                                _ => return None,
                            };
                            // These have a short escape, which serde_json writes instead.
                            if matches!(control, 0x08 | 0x09 | 0x0a | 0x0c | 0x0d) {
                                return None;
                            }
                            at += 6;
                        }
                        _ => return None,
                    }
                }
            }
        }
        self.at = at + 1;
        Some(&self.text[start..self.at])
    }

    fn literal(&mut self, word: &'static str) -> Option<()> {
        if !self.text[self.at..].starts_with(word) {
            return None;
        }
        self.at += word.len();
        self.out.push_str(word);
        Some(())
    }

    /// An integer the parser reads as a `u64` or an `i64`, which the printer writes back as it
    /// stands; a fraction, an exponent, `-0` or a larger number is the parser's.
    fn integer(&mut self) -> Option<()> {
        let bytes = self.text.as_bytes();
        let start = self.at;
        let negative = bytes[start] == b'-';
        let digits_from = start + usize::from(negative);
        let mut at = digits_from;
        while let Some(b'0'..=b'9') = bytes.get(at) {
            at += 1;
        }
        let digits = &self.text[digits_from..at];
        if digits.is_empty()
            || (digits.len() > 1 && digits.starts_with('0'))
            || matches!(bytes.get(at), Some(b'.' | b'e' | b'E'))
        {
            return None;
        }
        let magnitude: u64 = digits.parse().ok()?;
        if negative && (magnitude == 0 || magnitude > i64::MIN.unsigned_abs()) {
            return None;
        }
        self.at = at;
        self.out.push_str(&self.text[start..at]);
        Some(())
    }
}

/// Whether `bytes` hold an ASCII control character (raw in a JSON string, it is not JSON),
/// checked 32 bytes at a time (the compiler turns the inner loop into vector compares).
fn has_control(bytes: &[u8]) -> bool {
    let mut chunks = bytes.chunks_exact(32);
    chunks.any(|chunk| chunk.iter().fold(0, |found, &b| found | u8::from(b < 0x20)) != 0)
        || chunks.remainder().iter().any(|&b| b < 0x20)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the parser and the printer make of `text`.
    fn printed(text: &str) -> Option<String> {
        super::super::parse_json("t.json", text)
            .ok()
            .map(|v| super::super::pretty(&v))
    }

    #[test]
    fn tokens_in_the_printers_form_are_re_indented_to_its_bytes() {
        let text = r#"{ "a": [1, -2, true, null, "x\"y\\z\n\u001f"], "b": {}, "c": [],
            "d": { "e": { "f": [ [ ], { } ] } }, "g": "é ☃ ", "h": 18446744073709551615,
            "i": -9223372036854775808 }"#;
        let fast = relayout(text).expect("every token is in the printer's form");
        assert_eq!(Some(fast), printed(text));
        assert_eq!(relayout("  [ ]  ").as_deref(), Some("[]\n"));
    }

    #[test]
    fn tokens_the_printer_writes_otherwise_go_through_the_parser() {
        for text in [
            r#"{"a": "\/"}"#,
            r#"{"a": "\u0041"}"#,
            r#"{"a": "\u007f"}"#,
            r#"{"a": "\u000a"}"#,
            r#"{"a": "\u001F"}"#,
            r#"{"a": 1.0}"#,
            r#"{"a": 1e3}"#,
            r#"{"a": -0}"#,
            r#"{"a": 18446744073709551616}"#,
            r#"{"a": -9223372036854775809}"#,
            r#"{"a": 1, "a": 2}"#,
        ] {
            assert_eq!(relayout(text), None, "{text}");
            let parsed = printed(text).expect("valid JSON");
            assert_eq!(canonical("t.json", text).unwrap(), parsed, "{text}");
        }
        // The same key in two objects is no repetition.
        let text = r#"{"a": {"a": 1}, "b": {"a": 2}}"#;
        assert_eq!(relayout(text), printed(text));
    }

    #[test]
    fn text_that_is_not_json_fails_with_the_parsers_error() {
        for text in [
            "",
            "{",
            r#"{"a": 1,}"#,
            "[1 2]",
            "[01]",
            "[-]",
            "[tru]",
            "[true false]",
            r#"{"a" 1}"#,
            r"{1: 2}",
            "\"raw\ttab\"",
            "[\"a string longer than one chunk of 32 bytes, with a raw\ttab\"]",
            r#""\x""#,
            "[1] x",
            "\u{feff}[]",
        ] {
            assert_eq!(relayout(text), None, "{text:?}");
            let error = canonical("t.json", text).unwrap_err();
            assert!(
                error
                    .message()
                    .starts_with("template produced invalid JSON for t.json: "),
                "{text:?}: {error}"
            );
        }
    }

    #[test]
    fn deep_nesting_goes_through_the_parser() {
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(relayout(&deep), None);
        assert_eq!(canonical("t.json", &deep).ok(), printed(&deep));
        let shallow = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert_eq!(relayout(&shallow), printed(&shallow));
    }

    proptest::proptest! {
        /// Any JSON value without a fraction (those go through the parser), printed compactly
        /// or loosely with its strings in the printer's form, comes out as the printer lays it
        /// out, without going through the parser.
        #[test]
        fn any_value_comes_out_as_the_printer_lays_it_out(value in json_value()) {
            let compact = serde_json::to_string(&value).unwrap();
            let expected = printed(&compact);
            proptest::prop_assert!(expected.is_some());
            proptest::prop_assert_eq!(relayout(&compact), expected.clone());
            // No string holds `,` or `:`, so this changes only the space between tokens.
            let loose = compact.replace(',', " ,\n\t").replace(':', " :\r\n");
            proptest::prop_assert_eq!(relayout(&loose), expected);
        }
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<u64>().prop_map(serde_json::Value::from),
            "[a-z\"\\\\\u{0}-\u{1f}\u{7f}é☃ ]{0,8}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(4, 32, 5, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(serde_json::Value::from),
                proptest::collection::vec(("[a-c]{1,2}", inner), 0..5).prop_map(|entries| {
                    serde_json::Value::Object(entries.into_iter().collect())
                }),
            ]
        })
    }
}
