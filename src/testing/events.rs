//! A case's events: written inline, or one per line in an `events_file` next to the test file
//! (for cases too long to review as YAML, such as exported rows).

use serde_json::{Map, Value};

use crate::catalogue::CaseSource;
use crate::diagnostic::display_path;

/// Exported rows are long, but a test's events file is still a reviewed file in the catalogue.
const MAX_EVENTS_FILE_BYTES: u64 = 64 << 20;

/// The events of a case, each a Log Analytics row; or why they cannot be read, located.
pub fn case_events(source: &CaseSource) -> Result<Vec<Map<String, Value>>, String> {
    let Some(file) = &source.case.events_file else {
        return Ok(source.case.events.clone());
    };
    let path = source
        .document
        .path
        .parent()
        .map(|p| p.join(file))
        .unwrap_or_else(|| file.into());
    let shown = display_path(&path);
    let bytes = crate::files::read_regular(&path, MAX_EVENTS_FILE_BYTES)
        .map_err(|e| format!("{shown}: cannot read the events: {e}"))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let at = crate::yaml::utf8_error_position(e.as_bytes(), e.utf8_error());
        format!(
            "{shown}:{}:{}: the events are not UTF-8 text (save the file as UTF-8)",
            at.line, at.column
        )
    })?;
    let mut events = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(event)) => events.push(event),
            Ok(_) => {
                return Err(format!(
                    "{shown}:{}: an event must be a JSON object (one row per line)",
                    i + 1
                ));
            }
            Err(e) => {
                // serde_json's message ends with the place, which is already in front.
                let message = e.to_string();
                let message = message
                    .split(" at line ")
                    .next()
                    .unwrap_or(&message)
                    .to_owned();
                return Err(format!(
                    "{shown}:{}:{}: invalid JSON: {message}",
                    i + 1,
                    e.column()
                ));
            }
        }
    }
    if events.is_empty() {
        return Err(format!("{shown}: the file has no events"));
    }
    Ok(events)
}
