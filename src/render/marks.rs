//! Proof, in the rendered file, that every value is still what its encoding filter wrote.
//!
//! While a template renders, each encoding filter wraps its output in marks: a start mark with
//! the number of the piece, a separator, the encoded text, an end mark. The marks are Unicode
//! noncharacters (U+FDD0 to U+FDD2), which no text exchanged between systems carries and which
//! no catalogue value may hold. After rendering, [`verify`] reads the file: every marked piece
//! must be intact and exactly what the filter wrote, by a filter that suits the file's format,
//! and the marks are removed. Whatever a template does around an encoded value (a
//! `{% filter replace %}` block, a macro that rewrites its body) shows up as a changed or broken
//! piece, so an override cannot turn a description back into `.conf` settings.

use std::cell::RefCell;
use std::fmt;

const START: char = '\u{fdd0}';
const SEP: char = '\u{fdd1}';
const END: char = '\u{fdd2}';
/// The first byte of each mark in UTF-8 (EF B7 90..92), rare in text, so a search for it is a
/// fast first pass over a rendered file.
const LEAD: u8 = 0xef;

/// Where the next mark of any kind starts in `text`.
fn next_mark(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(at) = memchr::memchr(LEAD, &bytes[from..]) {
        let at = from + at;
        if matches!(bytes.get(at + 1..at + 3), Some([0xb7, 0x90..=0x92])) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// What the filters wrote during one rendering: (filter, encoded text), by piece number.
pub(super) type Written = Vec<(&'static str, String)>;

thread_local! {
    /// The pieces of the rendering under way on this thread; `None` outside [`recording`].
    static WRITTEN: RefCell<Option<Written>> = const { RefCell::new(None) };
}

/// Runs `render` while recording what the encoding filters write.
pub(super) fn recording<T>(render: impl FnOnce() -> T) -> (T, Written) {
    let outer = WRITTEN.with(|w| w.replace(Some(Vec::new())));
    let result = render();
    let written = WRITTEN.with(|w| w.replace(outer)).unwrap_or_default();
    (result, written)
}

/// `encoded`, marked as written by `filter` (unmarked outside a recording).
pub(super) fn mark(filter: &'static str, encoded: String) -> String {
    WRITTEN.with(|w| match w.borrow_mut().as_mut() {
        Some(written) => {
            use std::fmt::Write as _;
            // Sized once: a filter's output is most of a rendered file.
            let mut marked = String::with_capacity(encoded.len() + 16);
            marked.push(START);
            let _ = write!(marked, "{}", written.len());
            marked.push(SEP);
            marked.push_str(&encoded);
            marked.push(END);
            written.push((filter, encoded));
            marked
        }
        None => encoded,
    })
}

/// A filter's input without marks: a value captured from template output (`{% set %}`
/// blocks) is encoded again from its text. Marks that do not form pieces mean the value itself
/// holds the reserved characters.
pub(super) fn unmarked(text: &str) -> tera::TeraResult<std::borrow::Cow<'_, str>> {
    if next_mark(text).is_none() {
        return Ok(std::borrow::Cow::Borrowed(text));
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            START => {
                for d in chars.by_ref() {
                    if d == SEP {
                        break;
                    }
                    if !d.is_ascii_digit() {
                        return Err(reserved());
                    }
                }
            }
            END => {}
            SEP => return Err(reserved()),
            c => out.push(c),
        }
    }
    Ok(std::borrow::Cow::Owned(out))
}

/// [`unmarked`] for a filter that takes any value: strings anywhere inside it are unmarked.
pub(super) fn unmarked_value(value: tera::Value) -> tera::TeraResult<tera::Value> {
    fn walk(v: serde_json::Value) -> tera::TeraResult<serde_json::Value> {
        Ok(match v {
            serde_json::Value::String(s) => serde_json::Value::String(unmarked(&s)?.into_owned()),
            serde_json::Value::Array(items) => {
                serde_json::Value::Array(items.into_iter().map(walk).collect::<Result<_, _>>()?)
            }
            serde_json::Value::Object(map) => serde_json::Value::Object(
                map.into_iter()
                    .map(|(k, v)| Ok((k, walk(v)?)))
                    .collect::<tera::TeraResult<_>>()?,
            ),
            other => other,
        })
    }
    if let Some(text) = value.as_str() {
        return Ok(if next_mark(text).is_some() {
            tera::Value::from(unmarked(text)?.into_owned())
        } else {
            value
        });
    }
    if value.is_number() || value.is_bool() || value.is_none() {
        return Ok(value);
    }
    let json = serde_json::to_value(&value).map_err(|e| tera::Error::message(e.to_string()))?;
    if next_mark(&json.to_string()).is_none() {
        return Ok(value);
    }
    Ok(tera::Value::from_serializable(&walk(json)?))
}

fn reserved() -> tera::Error {
    tera::Error::message(
        "the value holds a Unicode noncharacter U+FDD0..U+FDD2, which rulecast reserves to check rendered files",
    )
}

/// The encoding filters that make a value safe in a file of `template`'s format.
fn suited(template: &str) -> &'static [&'static str] {
    let extension = template.rsplit('.').next().unwrap_or_default();
    match extension {
        // A placeholder is an identifier in the platform's braces or dollars: safe inside a
        // quoted YAML or JSON string and in a .conf value.
        "conf" | "meta" => &["conf", "placeholder"],
        "yaml" | "yml" => &["yaml", "yaml_block", "json", "placeholder"],
        "json" => &["json", "arm", "placeholder"],
        "csv" => &["csv"],
        "md" => &["md"],
        _ => &super::ENCODING_FILTERS,
    }
}

/// How a rendered file fails the check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Problem {
    /// A piece is not what its filter wrote.
    Changed {
        filter: &'static str,
        written: String,
        found: String,
    },
    /// A piece was cut, or its marks taken apart.
    Broken { filter: Option<&'static str> },
    /// A filter that does not protect this format.
    Unsuited {
        filter: &'static str,
        suited: &'static [&'static str],
    },
}

impl Problem {
    pub(super) fn help(&self) -> String {
        match self {
            Problem::Unsuited { suited, .. } => format!(
                "encode each value for the file it lands in: here with {}",
                suited
                    .iter()
                    .map(|f| format!("`{f}`"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
            _ => "the encoding filter must be the last thing done to a value: remove the `{% filter %}` block (or other transformation) around it, or apply it before the encoding filter".to_owned(),
        }
    }
}

fn shown(text: &str) -> String {
    let mut short: String = text.chars().take(60).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    format!("{short:?}")
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Changed {
                filter,
                written,
                found,
            } => write!(
                f,
                "changes a value after its `{filter}` filter encoded it: {} became {}",
                shown(written),
                shown(found)
            ),
            Problem::Broken {
                filter: Some(filter),
            } => write!(f, "cuts or rearranges the text its `{filter}` filter wrote"),
            Problem::Broken { filter: None } => {
                f.write_str("cuts or rearranges the text its encoding filters wrote")
            }
            Problem::Unsuited { filter, .. } => write!(
                f,
                "encodes a value with `{filter}`, which does not make it safe in this file's format"
            ),
        }
    }
}

/// `rendered` without its marks, if every marked piece is what `written` says its filter
/// wrote, by a filter suited to `template`'s format.
pub(super) fn verify(template: &str, rendered: &str, written: &Written) -> Result<String, Problem> {
    let suited = suited(template);
    let mut out = String::with_capacity(rendered.len());
    let mut rest = rendered;
    while let Some(at) = next_mark(rest) {
        out.push_str(&rest[..at]);
        let piece = &rest[at..];
        if !piece.starts_with(START) {
            return Err(Problem::Broken { filter: None });
        }
        let body = &piece[START.len_utf8()..];
        let sep = body.find(SEP).ok_or(Problem::Broken { filter: None })?;
        let (filter, expected) = body[..sep]
            .parse::<usize>()
            .ok()
            .and_then(|n| written.get(n))
            .ok_or(Problem::Broken { filter: None })?;
        let text = &body[sep + SEP.len_utf8()..];
        let end = text.find(END).ok_or(Problem::Broken {
            filter: Some(filter),
        })?;
        let found = &text[..end];
        if found != expected {
            // What a filter writes holds no marks (its input is unmarked first), so a piece
            // that holds one was cut or taken apart; only then is the piece searched for them.
            if next_mark(found).is_some() {
                return Err(Problem::Broken {
                    filter: Some(filter),
                });
            }
            return Err(Problem::Changed {
                filter,
                written: expected.clone(),
                found: found.to_owned(),
            });
        }
        if !suited.contains(filter) {
            return Err(Problem::Unsuited { filter, suited });
        }
        out.push_str(found);
        rest = &text[end + END.len_utf8()..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(
        pieces: &[(&'static str, &str)],
        around: impl Fn(Vec<String>) -> String,
    ) -> (String, Written) {
        recording(|| {
            around(
                pieces
                    .iter()
                    .map(|(f, t)| mark(f, (*t).to_owned()))
                    .collect(),
            )
        })
    }

    #[test]
    fn intact_pieces_pass_and_lose_their_marks() {
        let (text, written) = render(&[("conf", "a\\\nb"), ("conf", "c")], |p| {
            format!("description = {}\nsearch = {}\n", p[0], p[1])
        });
        assert_eq!(
            verify("splunk/savedsearches.conf", &text, &written),
            Ok("description = a\\\nb\nsearch = c\n".to_owned())
        );
        assert_eq!(
            mark("conf", "x".to_owned()),
            "x",
            "no marks outside a rendering"
        );
    }

    #[test]
    fn a_piece_changed_after_encoding_is_refused() {
        // `{% filter replace(from="\\\n", to="\n") %}` around a conf value.
        let (text, written) = render(&[("conf", "x\\\naction.script = 1")], |p| {
            format!("description = {}\n", p[0].replace("\\\n", "\n"))
        });
        assert!(matches!(
            verify("splunk/savedsearches.conf", &text, &written),
            Err(Problem::Changed { filter: "conf", .. })
        ));
    }

    #[test]
    fn cut_and_unsuited_pieces_are_refused() {
        let (text, written) = render(&[("conf", "abcdef")], |p| p[0].chars().take(5).collect());
        assert!(matches!(
            verify("splunk/app.conf", &text, &written),
            Err(Problem::Broken { .. })
        ));
        let (text, written) = render(&[("md", "a\nb")], |p| format!("description = {}\n", p[0]));
        assert!(matches!(
            verify("splunk/app.conf", &text, &written),
            Err(Problem::Unsuited { filter: "md", .. })
        ));
        assert!(verify("splunk/README.md", &text, &written).is_ok());
    }

    #[test]
    fn captured_pieces_are_encoded_again_from_their_text() {
        let (captured, _) = render(&[("yaml", "\"q\"")], |p| p[0].clone());
        assert_eq!(unmarked(&captured).unwrap(), "\"q\"");
        assert!(unmarked("value \u{fdd1} with a reserved character").is_err());
    }
}
