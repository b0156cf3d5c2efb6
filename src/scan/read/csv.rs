//! CSV exports: a header row, then one record per row (a quoted field may span lines, as the
//! Log Analytics export writes pretty-printed JSON columns).
//!
//! Each row becomes a JSON object keyed by header name, empty fields left out, so the workers
//! read it like any other record, through the CSV shapes of the log sources (which name whole
//! headers: `TimeGenerated [UTC]`, `Date (UTC)`, `Target1Type`).

use std::io::Read;

use super::{ReadError, Sink, SpanBatcher};
use crate::catalogue::shape::InputKind;
use crate::eval::Place;

/// Whether the start of an input reads as a CSV header row: at least two names, none of them
/// holding control characters.
pub(crate) fn looks_like_a_header(bytes: &[u8]) -> bool {
    let line = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let Ok(line) = std::str::from_utf8(line) else {
        return false;
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(line.as_bytes());
    match reader.records().next() {
        Some(Ok(header)) => {
            header.len() >= 2
                && header
                    .iter()
                    .all(|name| !name.trim().is_empty() && !name.chars().any(char::is_control))
        }
        _ => false,
    }
}

pub(crate) fn read(
    reader: Box<dyn Read + Send>,
    start: Place,
    mut sink: Sink,
) -> Result<(), ReadError> {
    let mut rows = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(reader);
    let mut out = SpanBatcher::new(&mut sink, InputKind::Csv);
    let mut header: Option<Vec<String>> = None;
    let mut row = csv::ByteRecord::new();
    loop {
        let more = rows.read_byte_record(&mut row).map_err(|e| {
            let (line, offset) = e.position().map_or((0, 0), |p| (p.line(), p.byte()));
            ReadError::Syntax {
                line: start.line + line.saturating_sub(1),
                offset: start.offset + offset,
                message: format!("not valid CSV: {e}"),
            }
        })?;
        if !more {
            break;
        }
        let (line, byte) = row.position().map_or((1, 0), |p| (p.line(), p.byte()));
        let place = Place {
            record: 0,
            line: start.line + line.saturating_sub(1),
            offset: start.offset + byte,
        };
        let Some(names) = &header else {
            header = Some(
                row.iter()
                    .map(|name| String::from_utf8_lossy(name).trim().to_owned())
                    .collect(),
            );
            continue;
        };
        let pushed = match row_object(names, &row) {
            Some(object) => out.push(object.as_bytes(), place),
            // Not UTF-8: handed over as it is, and counted as unreadable.
            None => out.push(row.as_slice(), place),
        };
        if !pushed {
            return Ok(());
        }
    }
    out.flush();
    Ok(())
}

/// A row as a JSON object keyed by header; empty fields are left out. `None` when a field is
/// not UTF-8.
fn row_object(names: &[String], row: &csv::ByteRecord) -> Option<String> {
    let mut object = serde_json::Map::new();
    for (name, field) in names.iter().zip(row.iter()) {
        let text = std::str::from_utf8(field).ok()?;
        if !text.is_empty() {
            object.insert(name.clone(), serde_json::Value::String(text.to_owned()));
        }
    }
    Some(serde_json::Value::Object(object).to_string())
}

#[cfg(test)]
mod tests {
    use super::super::Container;
    use super::super::tests::records_of;
    use super::*;

    #[test]
    fn rows_become_objects_keyed_by_header() {
        let content = "\u{feff}TimeGenerated [UTC],Type,Authorization\n4/28/2021, 2:32:14.029 PM,AzureActivity,\"{\n  \"\"scope\"\": \"\"/x\"\"\n}\"\n,AuditLogs,\n";
        // The first time has a comma inside an unquoted field: as the export writes it, quoted.
        let content = content.replace("4/28/2021, 2:32:14.029 PM", "\"4/28/2021, 2:32:14.029 PM\"");
        let (container, records) = records_of(content.as_bytes()).unwrap();
        assert_eq!(container, Container::Csv);
        assert_eq!(
            records,
            [
                (
                    r#"{"TimeGenerated [UTC]":"4/28/2021, 2:32:14.029 PM","Type":"AzureActivity","Authorization":"{\n  \"scope\": \"/x\"\n}"}"#.to_owned(),
                    2,
                    42
                ),
                (r#"{"Type":"AuditLogs"}"#.to_owned(), 5, 110)
            ]
        );
    }

    #[test]
    fn a_header_needs_two_names() {
        assert!(looks_like_a_header(b"Date (UTC),Activity\n"));
        assert!(looks_like_a_header(b"\"$table\",TenantId\r\nx,y"));
        assert!(!looks_like_a_header(b"just some words\n"));
        assert!(!looks_like_a_header(b"a,\x07b\n"));
        assert!(!looks_like_a_header(b"a,,b\n"));
    }
}
