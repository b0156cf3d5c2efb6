//! ARM template strings: a JSON string that starts with `[` and ends with `]` is a template
//! expression, unless it starts with `[[`, which stands for a literal `[`.

use serde_json::Value;

/// The literal text an ARM string denotes; panics on a string ARM would evaluate.
pub(crate) fn literal(value: &Value) -> String {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value}"));
    if text.starts_with('[') && text.ends_with(']') {
        let rest = text
            .strip_prefix("[[")
            .unwrap_or_else(|| panic!("ARM would evaluate {text:?} as an expression"));
        return format!("[{rest}");
    }
    text.to_owned()
}
