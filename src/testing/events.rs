//! A case's events: written inline, or one per line in an `events_file` next to the test file
//! (for cases too long to review as YAML, such as exported rows).

use std::fmt;

use serde_json::{Map, Value};

use crate::catalogue::CaseSource;
use crate::diagnostic::display_path;

/// Why the events of a case cannot be read; every variant names the file (as shown).
#[derive(Debug)]
pub(crate) enum EventsError {
    Read {
        file: String,
        source: std::io::Error,
    },
    /// A line holds JSON that is not an object.
    NotAnObject {
        file: String,
        line: usize,
    },
    InvalidJson {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    Empty {
        file: String,
    },
}

impl fmt::Display for EventsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventsError::Read { file, source } => {
                write!(f, "{file}: cannot read the events: {source}")
            }
            EventsError::NotAnObject { file, line } => write!(
                f,
                "{file}:{line}: an event must be a JSON object (one row per line)"
            ),
            EventsError::InvalidJson {
                file,
                line,
                column,
                message,
            } => write!(f, "{file}:{line}:{column}: invalid JSON: {message}"),
            EventsError::Empty { file } => write!(f, "{file}: the file has no events"),
        }
    }
}

impl std::error::Error for EventsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            EventsError::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The events of a case, each a Log Analytics row; or why they cannot be read, located.
pub(crate) fn case_events(source: &CaseSource) -> Result<Vec<Map<String, Value>>, EventsError> {
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
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(source) => {
            return Err(EventsError::Read {
                file: shown,
                source,
            });
        }
    };
    let mut events = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(event)) => events.push(event),
            Ok(_) => {
                return Err(EventsError::NotAnObject {
                    file: shown,
                    line: i + 1,
                });
            }
            Err(e) => {
                // serde_json's message ends with the place, which is already in front.
                let message = e.to_string();
                let message = message
                    .split(" at line ")
                    .next()
                    .unwrap_or(&message)
                    .to_owned();
                return Err(EventsError::InvalidJson {
                    file: shown,
                    line: i + 1,
                    column: e.column(),
                    message,
                });
            }
        }
    }
    if events.is_empty() {
        return Err(EventsError::Empty { file: shown });
    }
    Ok(events)
}
