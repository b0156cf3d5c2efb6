//! JSON that is not one record per line: arrays, pretty-printed records, `{"value": [...]}` and
//! `{"records": [...]}` wrappers, the Log Analytics API's `{"tables": [...]}`, and any number of
//! them one after another.
//!
//! A framer finds where each record's bytes start and end (tracking strings, escapes and
//! brackets, checking the punctuation between records) and hands the bytes over; the workers
//! parse them, in parallel. So a big array is read at the speed of a byte scan rather than of
//! one streaming parser, and every record keeps its exact line and byte offset. The framer
//! holds one record at a time (plus the read-ahead), however big the wrapper around it.

use std::io::{self, Read};
use std::ops::Range;

use serde_json::value::RawValue;

use super::{ReadError, Sink, SpanBatcher};
use crate::catalogue::shape::InputKind;
use crate::eval::Place;

const CHUNK: usize = 1 << 20;

/// A table of the Log Analytics query API: `{"tables": [{"columns": [{"name", "type"}], "rows"}]}`.
#[derive(serde::Deserialize)]
pub(crate) struct Table<'a> {
    pub(crate) columns: Vec<TableColumn>,
    #[serde(borrow)]
    pub(crate) rows: Vec<Vec<&'a RawValue>>,
}

/// A column of a [`Table`].
#[derive(serde::Deserialize)]
pub(crate) struct TableColumn {
    pub(crate) name: String,
}

/// Whether the first JSON value of `bytes` (which starts with it) ends before its first line
/// break; `None` when `bytes` ends first.
pub(crate) fn first_value_is_one_line(bytes: &[u8]) -> Option<bool> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in bytes {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'\n' => return Some(false),
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(true);
                }
            }
            _ => {}
        }
    }
    None
}

pub(crate) fn read(
    reader: Box<dyn Read + Send>,
    start: Place,
    mut sink: Sink,
) -> Result<(), ReadError> {
    let mut framer = Framer {
        reader,
        buffer: Vec::new(),
        pos: 0,
        keep: 0,
        offset: start.offset,
        line: start.line,
        line_at: 0,
        ended: false,
        stack: Vec::new(),
        out: SpanBatcher::new(&mut sink, InputKind::Json),
    };
    framer.run()?;
    framer.out.flush();
    Ok(())
}

struct Framer<'s, 'a> {
    reader: Box<dyn Read + Send>,
    buffer: Vec<u8>,
    /// The next byte to look at.
    pos: usize,
    /// Bytes before this one may be dropped.
    keep: usize,
    /// Input offset of `buffer[0]`.
    offset: u64,
    /// The line of `buffer[line_at]`.
    line: u64,
    line_at: usize,
    ended: bool,
    /// Open brackets of the value being framed.
    stack: Vec<u8>,
    out: SpanBatcher<'s, 'a>,
}

/// A value, framed: its bytes and where it starts.
struct Framed {
    range: Range<usize>,
    place: Place,
}

impl Framer<'_, '_> {
    fn run(&mut self) -> Result<(), ReadError> {
        loop {
            match self.peek()? {
                None => return Ok(()),
                Some(b'[') => self.array()?,
                Some(b'{') => self.object()?,
                Some(b) => {
                    return Err(self.error(format!(
                        "expected `[` or `{{` to start the next value, found {}",
                        describe(b)
                    )));
                }
            }
            if self.out.closed() {
                return Ok(());
            }
        }
    }

    /// Reads more input, first dropping what is no longer kept (so indexes into the buffer
    /// move: anything held across a fill is held as an input offset); false at the end.
    fn fill(&mut self) -> io::Result<bool> {
        if self.ended {
            return Ok(false);
        }
        let drop = self.keep.min(self.pos);
        if drop > 0 && drop * 2 >= self.buffer.len() {
            self.line_to(drop);
            self.buffer.drain(..drop);
            self.offset += drop as u64;
            self.pos -= drop;
            self.keep -= drop;
            self.line_at -= drop;
        }
        let read = Read::take(&mut *self.reader, CHUNK as u64).read_to_end(&mut self.buffer)?;
        self.ended = read == 0;
        Ok(!self.ended)
    }

    /// The buffer index of input offset `at` (which is kept).
    fn index(&self, at: u64) -> usize {
        (at - self.offset) as usize
    }

    /// Advances the line count to `at`.
    fn line_to(&mut self, at: usize) {
        if at > self.line_at {
            self.line += memchr::memchr_iter(b'\n', &self.buffer[self.line_at..at]).count() as u64;
            self.line_at = at;
        }
    }

    fn place(&mut self, at: usize) -> Place {
        self.line_to(at);
        Place {
            record: 0,
            line: self.line,
            offset: self.offset + at as u64,
        }
    }

    fn error(&mut self, message: String) -> ReadError {
        let at = self.pos.min(self.buffer.len());
        let place = self.place(at);
        ReadError::Syntax {
            line: place.line,
            offset: place.offset,
            message,
        }
    }

    /// The next byte after whitespace, not consumed; `None` at the end of the input.
    /// `open` (named `what` if it is not there), and whether members follow: an empty array
    /// or object is taken whole.
    fn opens(&mut self, open: u8, close: u8, what: &str) -> Result<bool, ReadError> {
        self.expect(open, what)?;
        if self.peek()? == Some(close) {
            self.pos += 1;
            return Ok(false);
        }
        Ok(true)
    }

    /// After a member of an array or an object: `,` (true, more follow) or `close` (false, the
    /// end), taken; anything else is an error saying what was expected `after` what, or that
    /// the input ended `inside` something.
    fn separator(&mut self, close: u8, after: &str, inside: &str) -> Result<bool, ReadError> {
        match self.peek()? {
            Some(b',') => {
                self.pos += 1;
                Ok(true)
            }
            Some(b) if b == close => {
                self.pos += 1;
                Ok(false)
            }
            Some(b) => Err(self.error(format!(
                "expected `,` or `{}` {after}, found {}",
                char::from(close),
                describe(b)
            ))),
            None => Err(self.error(format!("the input ends inside {inside}"))),
        }
    }

    fn peek(&mut self) -> Result<Option<u8>, ReadError> {
        loop {
            while self.pos < self.buffer.len() {
                let b = self.buffer[self.pos];
                if !b.is_ascii_whitespace() {
                    return Ok(Some(b));
                }
                self.pos += 1;
            }
            if self.keep > self.pos {
                self.keep = self.pos;
            }
            if !self.fill()? {
                return Ok(None);
            }
        }
    }

    fn expect(&mut self, wanted: u8, what: &str) -> Result<(), ReadError> {
        match self.peek()? {
            Some(b) if b == wanted => {
                self.pos += 1;
                Ok(())
            }
            Some(b) => Err(self.error(format!("expected {what}, found {}", describe(b)))),
            None => Err(self.error(format!("the input ends where {what} was expected"))),
        }
    }

    /// Frames the value at the next non-blank byte and moves past it. The bytes stay in the
    /// buffer until `keep` moves on.
    fn value(&mut self) -> Result<Framed, ReadError> {
        let Some(first) = self.peek()? else {
            return Err(self.error("the input ends where a value was expected".to_owned()));
        };
        let start = self.pos;
        if self.keep > start {
            self.keep = start;
        }
        let place = self.place(start);
        let scalar = !matches!(first, b'{' | b'[' | b'"');
        self.stack.clear();
        let mut in_string = false;
        let mut escaped = false;
        // How far into the value the scan is: survives the buffer moving on a fill.
        let mut scanned = 0usize;
        loop {
            let start = self.index(place.offset);
            let mut index = start + scanned;
            while index < self.buffer.len() {
                let b = self.buffer[index];
                if in_string {
                    if escaped {
                        escaped = false;
                        index += 1;
                        continue;
                    }
                    match memchr::memchr2(b'"', b'\\', &self.buffer[index..]) {
                        Some(i) => {
                            index += i;
                            if self.buffer[index] == b'\\' {
                                escaped = true;
                            } else {
                                in_string = false;
                                if self.stack.is_empty() {
                                    return Ok(self.framed(start, index + 1, place));
                                }
                            }
                            index += 1;
                        }
                        None => index = self.buffer.len(),
                    }
                    continue;
                }
                if scalar {
                    if b.is_ascii_whitespace() || matches!(b, b',' | b']' | b'}') {
                        return Ok(self.framed(start, index, place));
                    }
                    index += 1;
                    continue;
                }
                match b {
                    b'"' => in_string = true,
                    b'{' | b'[' => self.stack.push(b),
                    b'}' | b']' => {
                        let open = if b == b'}' { b'{' } else { b'[' };
                        if self.stack.pop() != Some(open) {
                            self.pos = index;
                            return Err(self.error(format!(
                                "`{}` closes a bracket that is not open",
                                b as char
                            )));
                        }
                        if self.stack.is_empty() {
                            return Ok(self.framed(start, index + 1, place));
                        }
                    }
                    _ => {}
                }
                index += 1;
            }
            scanned = index - start;
            if !self.fill()? {
                let start = self.index(place.offset);
                if scalar {
                    return Ok(self.framed(start, start + scanned, place));
                }
                self.pos = start + scanned;
                return Err(self.error("the input ends inside a value".to_owned()));
            }
        }
    }

    fn framed(&mut self, start: usize, end: usize, place: Place) -> Framed {
        self.pos = end;
        Framed {
            range: start..end,
            place,
        }
    }

    fn emit(&mut self, framed: &Framed) -> bool {
        let (buffer, out) = (&self.buffer, &mut self.out);
        out.push(&buffer[framed.range.clone()], framed.place)
    }

    /// Each element of an array is a record.
    fn array(&mut self) -> Result<(), ReadError> {
        if !self.opens(b'[', b']', "`[`")? {
            return Ok(());
        }
        loop {
            let element = self.value()?;
            if !self.emit(&element) {
                return Ok(());
            }
            self.keep = self.pos;
            if !self.separator(b']', "after an element of the array", "an array")? {
                return Ok(());
            }
        }
    }

    fn key(&mut self) -> Result<String, ReadError> {
        if self.peek()? != Some(b'"') {
            let found = self
                .peek()?
                .map_or("the end of the input".to_owned(), describe);
            return Err(self.error(format!("expected a key, found {found}")));
        }
        let framed = self.value()?;
        serde_json::from_slice(&self.buffer[framed.range])
            .map_err(|e| self.error(format!("the key is not a valid JSON string: {e}")))
    }

    /// An object is a wrapper when it holds a `records`, `value` or `tables` array, whose
    /// elements are the records; otherwise it is a record itself.
    fn object(&mut self) -> Result<(), ReadError> {
        self.peek()?;
        let start = self.pos;
        self.keep = start;
        let place = self.place(start);
        let mut wrapper = false;
        if self.opens(b'{', b'}', "`{`")? {
            loop {
                let key = self.key()?;
                self.expect(b':', "`:` after a key")?;
                let array = self.peek()? == Some(b'[');
                match key.as_str() {
                    "records" | "value" if array => {
                        wrapper = true;
                        self.keep = self.pos;
                        self.array()?;
                    }
                    "tables" if array => {
                        wrapper = true;
                        self.keep = self.pos;
                        self.tables()?;
                    }
                    _ => {
                        self.value()?;
                    }
                }
                if self.out.closed() {
                    return Ok(());
                }
                if !self.separator(b'}', "in an object", "an object")? {
                    break;
                }
            }
        }
        if !wrapper {
            let record = Framed {
                range: self.index(place.offset)..self.pos,
                place,
            };
            self.emit(&record);
        }
        self.keep = self.pos;
        Ok(())
    }

    /// `[{"name": ..., "columns": [{"name": ...}], "rows": [[...]]}]`: each row is a record, an
    /// object keyed by its table's column names.
    fn tables(&mut self) -> Result<(), ReadError> {
        if !self.opens(b'[', b']', "`[`")? {
            return Ok(());
        }
        loop {
            let mut columns: Option<Vec<String>> = None;
            if self.opens(b'{', b'}', "`{` to start a table")? {
                loop {
                    let key = self.key()?;
                    self.expect(b':', "`:` after a key")?;
                    match key.as_str() {
                        "columns" => {
                            let framed = self.value()?;
                            let parsed: Vec<TableColumn> =
                                serde_json::from_slice(&self.buffer[framed.range]).map_err(|e| {
                                    self.error(format!(
                                        "the `columns` of a table are not a list of {{\"name\": ...}}: {e}"
                                    ))
                                })?;
                            columns = Some(parsed.into_iter().map(|c| c.name).collect());
                            self.keep = self.pos;
                        }
                        "rows" => {
                            let Some(names) = columns.as_ref() else {
                                return Err(self.error(
                                    "the table lists its `rows` before its `columns`; rulecast reads them in the order the Log Analytics API writes them".to_owned(),
                                ));
                            };
                            let names = names.clone();
                            self.rows(&names)?;
                        }
                        _ => {
                            self.value()?;
                            self.keep = self.pos;
                        }
                    }
                    if self.out.closed() {
                        return Ok(());
                    }
                    if !self.separator(b'}', "in a table", "a table")? {
                        break;
                    }
                }
            }
            if !self.separator(b']', "after a table", "`tables`")? {
                return Ok(());
            }
        }
    }

    fn rows(&mut self, names: &[String]) -> Result<(), ReadError> {
        if !self.opens(b'[', b']', "`[` to start the rows")? {
            return Ok(());
        }
        loop {
            let row = self.value()?;
            let bytes = &self.buffer[row.range.clone()];
            let pushed = match serde_json::from_slice::<Vec<&RawValue>>(bytes) {
                Ok(values) => self
                    .out
                    .push_with(row.place, |out| row_object(names, &values, out)),
                // Not an array: handed over as it is, and counted as unreadable.
                Err(_) => self.out.push(bytes, row.place),
            };
            if !pushed {
                return Ok(());
            }
            self.keep = self.pos;
            if !self.separator(b']', "after a row", "the rows")? {
                return Ok(());
            }
        }
    }
}

/// A row of the Log Analytics API as an object keyed by column name; nulls are left out.
pub(crate) fn row_object(names: &[String], values: &[&RawValue], out: &mut Vec<u8>) {
    out.push(b'{');
    let mut first = true;
    for (name, value) in names.iter().zip(values) {
        if value.get() == "null" {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        serde_json::to_writer(&mut *out, name).expect("writing to memory");
        out.push(b':');
        out.extend_from_slice(value.get().as_bytes());
    }
    out.push(b'}');
}

/// A byte as an error message shows it.
fn describe(b: u8) -> String {
    match b {
        b'\n' => "a line break".to_owned(),
        0x20..=0x7e => format!("`{}`", b as char),
        _ => format!("byte 0x{b:02x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::records_of;
    use super::super::{Container, ReadError};
    use super::*;

    fn texts(content: &str) -> Vec<String> {
        let (container, records) = records_of(content.as_bytes()).unwrap();
        assert_eq!(container, Container::Json, "{content}");
        records.into_iter().map(|(text, _, _)| text).collect()
    }

    #[test]
    fn arrays_wrappers_and_concatenations() {
        assert_eq!(
            texts("[\n  {\"a\": 1},\n  {\"a\": [2, {}], \"s\": \"}]\\\"\"}\n]\n"),
            ["{\"a\": 1}", "{\"a\": [2, {}], \"s\": \"}]\\\"\"}"]
        );
        assert_eq!(
            texts(
                "{\n \"@odata.context\": \"x\",\n \"value\": [{\"a\":1}],\n \"@odata.nextLink\": \"y\"\n}"
            ),
            ["{\"a\":1}"]
        );
        assert_eq!(
            texts("{\n\"records\": [{\"a\":1},{\"a\":2}]}\n{\"records\": [{\"a\":3}]}"),
            ["{\"a\":1}", "{\"a\":2}", "{\"a\":3}"],
            "Event Hub batches one after another"
        );
        assert_eq!(
            texts("[{\"a\":1}]\n[\n{\"a\":2}\n][]"),
            ["{\"a\":1}", "{\"a\":2}"],
            "one array per Graph page"
        );
        assert_eq!(
            texts("{\n \"value\": \"x\",\n \"TimeGenerated\": \"2025-01-01T00:00:00Z\"\n}"),
            ["{\n \"value\": \"x\",\n \"TimeGenerated\": \"2025-01-01T00:00:00Z\"\n}"],
            "a record with a `value` column is not a wrapper"
        );
        assert_eq!(texts("[1, \"s\", null]"), ["1", "\"s\"", "null"]);
    }

    #[test]
    fn log_analytics_tables_become_objects() {
        let content = r#"{"tables": [{"name": "PrimaryResult",
            "columns": [{"name": "TimeGenerated", "type": "datetime"}, {"name": "Type", "type": "string"}, {"name": "InitiatedBy", "type": "dynamic"}],
            "rows": [["2025-01-01T00:00:00Z", "AuditLogs", "{\"user\":{}}"], ["2025-01-01T00:00:01Z", null, null]]}]}"#;
        assert_eq!(
            texts(content),
            [
                r#"{"TimeGenerated":"2025-01-01T00:00:00Z","Type":"AuditLogs","InitiatedBy":"{\"user\":{}}"}"#,
                r#"{"TimeGenerated":"2025-01-01T00:00:01Z"}"#
            ]
        );
    }

    #[test]
    fn broken_structure_is_reported_with_its_place() {
        let error = |content: &str| match records_of(content.as_bytes()) {
            Err(ReadError::Syntax {
                line,
                offset,
                message,
            }) => (line, offset, message),
            other => panic!("{content}: {:?}", other.map(|r| r.1)),
        };
        assert_eq!(
            error("[{\"a\":1},\n{\"a\":2} {\"a\":3}]"),
            (
                2,
                18,
                "expected `,` or `]` after an element of the array, found `{`".to_owned()
            )
        );
        assert_eq!(
            error("[\n{\"a\": [1}]"),
            (2, 10, "`}` closes a bracket that is not open".to_owned())
        );
        assert_eq!(error("[{\"a\":1}").2, "the input ends inside an array");
        assert_eq!(error("[{\"a\":\n1").2, "the input ends inside a value");
        assert_eq!(
            error("{\"tables\": [\n{\"rows\": [[1]], \"columns\": []}]}").2,
            "the table lists its `rows` before its `columns`; rulecast reads them in the order the Log Analytics API writes them"
        );
    }

    #[test]
    fn records_longer_than_a_read_are_framed_whole() {
        let big = format!("{{\"pad\":\"{}\"}}", "z".repeat(3 * CHUNK));
        let content = format!("[\n{big},\n{{\"a\":1}}\n]");
        let (_, records) = records_of(content.as_bytes()).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].0, big);
        assert_eq!((records[1].1, records[1].2), (3, big.len() as u64 + 4));
    }

    #[test]
    fn the_first_value_tells_lines_from_pretty_json() {
        assert_eq!(first_value_is_one_line(b"{\"a\":\"{\\\"\"}\n{"), Some(true));
        assert_eq!(first_value_is_one_line(b"{\n\"a\":1}"), Some(false));
        assert_eq!(
            first_value_is_one_line(b"{\"a\":\"x\ny\""),
            None,
            "inside a string"
        );
        assert_eq!(first_value_is_one_line(b"{\"a\":"), None);
    }
}
