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
        source: crate::files::ReadError,
    },
    /// The file is not UTF-8 text: the line and column of the first bad byte.
    NotUtf8 {
        file: String,
        line: usize,
        column: usize,
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
            EventsError::NotUtf8 { file, line, column } => write!(
                f,
                "{file}:{line}:{column}: the events are not UTF-8 text (save the file as UTF-8)"
            ),
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

/// Exported rows are long, but a test's events file is still a reviewed file in the catalogue.
const MAX_EVENTS_FILE_BYTES: u64 = 64 << 20;

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
    let bytes = match crate::files::read_regular(&path, MAX_EVENTS_FILE_BYTES) {
        Ok(bytes) => bytes,
        Err(source) => {
            return Err(EventsError::Read {
                file: shown,
                source,
            });
        }
    };
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let at = crate::yaml::utf8_error_position(e.as_bytes(), e.utf8_error());
            return Err(EventsError::NotUtf8 {
                file: shown,
                line: at.line,
                column: at.column,
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
