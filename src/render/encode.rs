//! Encoders from a value to its literal in each output file format.
//!
//! Templates never print a value raw: every `{{ }}` ends in one of these (registered as Tera
//! filters), so a description with quotes, newlines, `{{ }}` or a leading `[` comes out as text
//! in YAML, JSON, ARM and Splunk `.conf` alike.

use std::fmt::Write as _;

/// A YAML scalar: plain when that is unambiguous, otherwise double-quoted with escapes.
pub fn yaml_scalar(value: &str) -> String {
    if is_plain_safe(value) {
        value.to_owned()
    } else {
        yaml_double_quoted(value)
    }
}

/// A YAML double-quoted scalar.
pub(crate) fn yaml_double_quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_yaml_escape(c) => {
                let code = c as u32;
                if code <= 0xFF {
                    let _ = write!(out, "\\x{code:02x}");
                } else if code <= 0xFFFF {
                    let _ = write!(out, "\\u{code:04x}");
                } else {
                    let _ = write!(out, "\\U{code:08x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Characters YAML will not carry literally (non-printable, or folded by line-break rules).
fn needs_yaml_escape(c: char) -> bool {
    c.is_control() || is_yaml_unsafe_beyond_controls(c)
}

/// The characters of [`needs_yaml_escape`] that are not control characters (all non-ASCII).
fn is_yaml_unsafe_beyond_controls(c: char) -> bool {
    matches!(
        c,
        '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
    )
}

/// Plain scalars are used only for text that no YAML 1.1 or 1.2 reader could take for anything
/// else (a number, boolean, null, date, or a structure).
fn is_plain_safe(value: &str) -> bool {
    const AMBIGUOUS: [&str; 22] = [
        "true", "false", "yes", "no", "on", "off", "null", "y", "n", "nan", "inf", "True", "False",
        "Yes", "No", "On", "Off", "Null", "NULL", "TRUE", "FALSE", "NaN",
    ];
    let Some(first) = value.chars().next() else {
        return false;
    };
    if !(first.is_ascii_alphabetic() || first == '_' || first == '/') {
        return false;
    }
    if value.ends_with(' ') || value.contains(": ") || value.contains(" #") || value.ends_with(':')
    {
        return false;
    }
    if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || " _-./()@+,'".contains(c))
    {
        return false;
    }
    !AMBIGUOUS.contains(&value)
        && !value.eq_ignore_ascii_case("y")
        && !value.eq_ignore_ascii_case("n")
}

/// Whether `value` is ASCII without a control character other than a line feed or a tab: the
/// common case, checked 32 bytes at a time without decoding characters (the compiler turns
/// the inner loop into vector compares).
fn is_plain_ascii_text(value: &str) -> bool {
    // 1 for a byte that is not plain ASCII text; summed without branches.
    let unusual = |b: u8| {
        u8::from(b < 0x20) & u8::from(b != b'\n') & u8::from(b != b'\t') | u8::from(b >= 0x7f)
    };
    let mut chunks = value.as_bytes().chunks_exact(32);
    for chunk in &mut chunks {
        if chunk.iter().fold(0, |found, &b| found | unusual(b)) != 0 {
            return false;
        }
    }
    !chunks.remainder().iter().any(|&b| unusual(b) != 0)
}

/// A control character (`char::is_control`) other than a line feed or a tab.
fn is_control_beyond_lines(c: char) -> bool {
    c.is_control() && c != '\n' && c != '\t'
}

/// Whether `value` holds a [control character other than a line break or tab](is_control_beyond_lines).
fn has_control_beyond_lines(value: &str) -> bool {
    !is_plain_ascii_text(value) && value.chars().any(is_control_beyond_lines)
}

/// A YAML value for a key whose value starts on the same line: a literal block (`|`) for
/// multi-line text that a block can hold exactly, otherwise a scalar. `indent` is the number of
/// spaces of the block's lines.
pub fn yaml_block(value: &str, indent: usize) -> String {
    // A block holds every character but those YAML will not carry literally
    // ([`needs_yaml_escape`]; a carriage return is a control character), line feeds and tabs
    // aside.
    let blockable = value.contains('\n')
        && !value.starts_with('\n')
        && (is_plain_ascii_text(value)
            || !value
                .chars()
                .any(|c| is_control_beyond_lines(c) || is_yaml_unsafe_beyond_controls(c)));
    if !blockable {
        return yaml_scalar(value);
    }
    let trailing = value.len() - value.trim_end_matches('\n').len();
    let chomp = match trailing {
        0 => "-",
        1 => "",
        _ => "+",
    };
    // Clip and keep chomping add back the final newline; the rest are written as lines.
    let body = if trailing > 0 {
        &value[..value.len() - 1]
    } else {
        value
    };
    // An indentation indicator is needed when the first line starts with a space.
    let indicator = if value.starts_with(' ') {
        indent.to_string()
    } else {
        String::new()
    };
    let pad = " ".repeat(indent);
    // Sized for lines of about 40 characters, the length of a query's lines.
    let mut out = String::with_capacity(value.len() + (value.len() / 40 + 2) * (indent + 1) + 4);
    out.push('|');
    out.push_str(&indicator);
    out.push_str(chomp);
    let mut push_line = |line: &str| {
        out.push('\n');
        if !line.is_empty() {
            out.push_str(&pad);
            out.push_str(line);
        }
    };
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', body.as_bytes()) {
        push_line(&body[start..end]);
        start = end + 1;
    }
    push_line(&body[start..]);
    out
}

/// A JSON string.
pub fn json_string(value: &str) -> String {
    serde_json::to_string(value).expect("strings always serialise")
}

/// A JSON string inside an ARM template. ARM evaluates a string that starts with `[` and ends
/// with `]` as a template expression; a leading `[[` makes it literal again.
pub fn arm_string(value: &str) -> String {
    if value.starts_with('[') && value.ends_with(']') {
        json_string(&format!("[{value}"))
    } else {
        json_string(value)
    }
}

/// Why a value cannot be written to a Splunk `.conf` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfError {
    /// Splunk trims a value's ends.
    SurroundingWhitespace,
    /// A control character other than newline and tab.
    ControlCharacter,
    /// A line ending in a backslash reads as a continuation.
    TrailingBackslash,
    /// This cannot name a stanza.
    StanzaName(String),
}

impl std::fmt::Display for ConfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfError::SurroundingWhitespace => f.write_str(
                "a .conf value cannot start or end with spaces, tabs or other whitespace: Splunk trims them",
            ),
            ConfError::ControlCharacter => f.write_str(
                "a .conf value cannot contain control characters other than newline and tab",
            ),
            ConfError::TrailingBackslash => f.write_str(
                "a .conf value cannot have a line that ends with a backslash: Splunk reads it as a line continuation",
            ),
            ConfError::StanzaName(name) => write!(
                f,
                "`{name}` cannot be a .conf stanza name (no brackets, control characters or surrounding spaces)"
            ),
        }
    }
}

impl std::error::Error for ConfError {}

/// A Splunk `.conf` value. Lines are joined with `\` continuations, which Splunk reads back as
/// newlines. Splunk trims a value's ends and has no escape for a backslash that ends a line, so
/// such values are refused rather than silently changed.
pub fn conf_value(value: &str) -> Result<String, ConfError> {
    // Any Unicode whitespace, not just spaces and tabs: a .conf reader may trim more than Splunk
    // does, and a value that comes back shorter has been altered.
    if value != value.trim() {
        return Err(ConfError::SurroundingWhitespace);
    }
    // A carriage return is a control character.
    if has_control_beyond_lines(value) {
        return Err(ConfError::ControlCharacter);
    }
    let mut out = String::with_capacity(value.len() + value.len() / 16 + 2);
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', value.as_bytes()) {
        let line = &value[start..end];
        if line.ends_with('\\') {
            return Err(ConfError::TrailingBackslash);
        }
        out.push_str(line);
        out.push_str("\\\n");
        start = end + 1;
    }
    if value[start..].ends_with('\\') {
        return Err(ConfError::TrailingBackslash);
    }
    out.push_str(&value[start..]);
    Ok(out)
}

/// A `.conf` stanza name.
pub fn conf_stanza(name: &str) -> Result<String, ConfError> {
    if name.is_empty()
        || name.contains(']')
        || name.contains('[')
        || name.chars().any(char::is_control)
        || name != name.trim()
    {
        return Err(ConfError::StanzaName(name.to_owned()));
    }
    Ok(name.to_owned())
}

/// Text inside a Markdown paragraph or list item: one line, with Markdown and HTML syntax
/// escaped so a value can neither format nor inject anything.
pub fn markdown_text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|' | '!' | '{' | '}' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// [`markdown_text`] that also stays quiet in a GitHub or GitLab comment: `@team` would notify
/// a team, `#12` link an issue, and a bare URL or address become a link a reviewer might follow.
/// A word joiner (U+2060, invisible) after `@` and `#`, and inside `://` and `www.`, keeps the
/// text as it reads while no mention, reference or autolink can start.
pub fn markdown_inert(value: &str) -> String {
    const JOINER: char = '\u{2060}';
    let text = markdown_text(value);
    let mut out = String::with_capacity(text.len() + 8);
    let mut rest = text.as_str();
    while let Some(c) = rest.chars().next() {
        if rest.starts_with("://") {
            out.push(':');
            out.push(JOINER);
            out.push_str("//");
            rest = &rest[3..];
            continue;
        }
        if rest.len() >= 4 && rest[..4].eq_ignore_ascii_case("www.") {
            out.push_str(&rest[..3]);
            out.push(JOINER);
            out.push('.');
            rest = &rest[4..];
            continue;
        }
        out.push(c);
        if c == '@' || c == '#' {
            out.push(JOINER);
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// A CSV field (RFC 4180).
pub fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) || value.starts_with(' ') || value.ends_with(' ') {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml_roundtrip(v: &str) -> String {
        let doc = format!("k: {}\n", yaml_block(v, 2));
        let parsed: std::collections::BTreeMap<String, String> =
            serde_saphyr::from_str(&doc).unwrap_or_else(|e| panic!("{doc}\n{e}"));
        parsed["k"].clone()
    }

    #[test]
    fn yaml_round_trips_hostile_values() {
        for v in [
            "plain",
            "yes",
            "no",
            "null",
            "1.0",
            "0x1f",
            "2024-01-01",
            "a: b",
            "# c",
            "- x",
            "[1]",
            "{a}",
            "*x",
            "&a",
            "!tag",
            "'q'",
            "\"q\"",
            "\\",
            "tab\there",
            "line\nnext",
            "trail\n",
            "two\n\n",
            " lead",
            "\n",
            "",
            "|",
            ">",
            "%",
            "@",
            "`",
            "{{ x }}",
            "{% y %}",
            "é ü 漢",
            "\u{7}",
            "\r\n",
            "end ",
            "\u{2028}",
            "= $",
            "a\n b\n",
        ] {
            assert_eq!(yaml_roundtrip(v), v, "{v:?}");
        }
    }

    #[test]
    fn plain_ascii_text_is_told_apart_at_every_position() {
        let plain = |v: &str| {
            v.chars()
                .all(|c| c.is_ascii() && !is_control_beyond_lines(c))
        };
        for odd in [
            '\r', '\0', '\u{7f}', '\u{1b}', 'é', '\u{85}', '\u{2028}', '\n', '\t', 'x',
        ] {
            for length in [0_usize, 1, 31, 32, 33, 64, 70] {
                for at in [0, length / 2, length.saturating_sub(1)] {
                    let mut value: Vec<char> = std::iter::repeat_n('a', length).collect();
                    if at < length {
                        value[at] = odd;
                    }
                    let value: String = value.into_iter().collect();
                    assert_eq!(is_plain_ascii_text(&value), plain(&value), "{value:?}");
                }
            }
        }
    }

    #[test]
    fn arm_strings_never_become_expressions() {
        assert_eq!(arm_string("[concat('a')]"), "\"[[concat('a')]\"");
        assert_eq!(arm_string("[not an expression"), "\"[not an expression\"");
        assert_eq!(arm_string("plain \"q\""), "\"plain \\\"q\\\"\"");
    }

    #[test]
    fn markdown_for_comments_mentions_no_one_and_links_nothing() {
        let text =
            markdown_inert("ping @soc-team about #12, see https://evil.example and www.x.test");
        for live in ["@soc", "#12", "https://", "www.x"] {
            assert!(!text.contains(live), "{live} stays live in {text}");
        }
        assert_eq!(
            text.replace('\u{2060}', ""),
            markdown_text("ping @soc-team about #12, see https://evil.example and www.x.test"),
            "only invisible joiners are added"
        );
    }

    #[test]
    fn conf_values_continue_lines_and_refuse_the_unrepresentable() {
        assert_eq!(conf_value("a\nb").unwrap(), "a\\\nb");
        assert!(conf_value(" lead").is_err());
        assert!(conf_value("no-break space\u{a0}").is_err());
        assert!(conf_value("ends with \\").is_err());
        assert!(conf_value("a\\\nb").is_err());
        assert!(conf_value("cr\r").is_err());
        assert_eq!(
            conf_value("x = | $y$ {{ z }}").unwrap(),
            "x = | $y$ {{ z }}"
        );
    }
}
