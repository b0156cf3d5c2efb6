//! Editing a detection's `version:` in place.
//!
//! Detection files are reviewed by people, with their comments, quoting and line breaks; a
//! bump that re-serialised the YAML would bury a one-line change in a reformatting diff. So the
//! bump replaces only the digits of the version value, found through the parsed document's
//! source position, and every other byte of the file stays as it was.

use crate::diagnostic::Diagnostic;
use crate::yaml::Document;

/// The source of `document`, whose top-level `version:` is `old`, with that value replaced by
/// `new`.
pub(crate) fn set_version(document: &Document, old: u32, new: u32) -> Result<String, Diagnostic> {
    let old = u64::from(old);
    let Some(position) = document.keyed_value_position("/version") else {
        return Err(
            Diagnostic::error("the file has no integer `version:` to bump").in_file(&document.path),
        );
    };
    let Some(source) = document.source() else {
        return Err(Diagnostic::error(
            "the file changed while rulecast was reading the catalogue, so its version cannot be bumped",
        )
        .in_file(&document.path)
        .with_help("run the command again"));
    };
    let line_start: usize = source
        .split_inclusive('\n')
        .take(position.line - 1)
        .map(str::len)
        .sum();
    let line = source[line_start..].split('\n').next().unwrap_or_default();
    let start = line_start
        + line
            .char_indices()
            .nth(position.column - 1)
            .map(|(i, _)| i)
            .unwrap_or(line.len());
    let digits = source[start..]
        .bytes()
        .take_while(u8::is_ascii_digit)
        .count();
    if digits == 0 || source[start..start + digits].parse::<u64>().ok() != Some(old) {
        // A quoted or otherwise unusual value: refuse rather than guess.
        return Err(document
            .error_at("/version", format!("cannot bump this version in place: write it as a plain number, e.g. `version: {old}`")));
    }
    Ok(format!(
        "{}{new}{}",
        &source[..start],
        &source[start + digits..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn bump(source: &str, new: u32) -> Result<String, Diagnostic> {
        let document = crate::yaml::parse_str(source, Path::new("d.yaml")).unwrap();
        let old = document
            .value
            .get("version")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(u64::from(new) - 1) as u32;
        set_version(&document, old, new)
    }

    #[test]
    fn only_the_version_digits_change() {
        let source = "# comment: version: 1\r\nid: x   # version: 1\r\nversion:    9   # bumped by rulecast lock\r\ntitle: 'version: 9'\r\n";
        let bumped = bump(source, 10).unwrap();
        assert_eq!(
            bumped,
            source.replacen("version:    9", "version:    10", 1)
        );
    }

    #[test]
    fn nested_versions_are_left_alone() {
        let source = "tests:\n  - version: 1\nversion: 1\n";
        assert_eq!(
            bump(source, 2).unwrap(),
            "tests:\n  - version: 1\nversion: 2\n"
        );
    }

    #[test]
    fn unusual_values_are_refused() {
        assert!(bump("version: '3'\n", 4).is_err());
        assert!(bump("title: x\n", 4).is_err());
    }
}
