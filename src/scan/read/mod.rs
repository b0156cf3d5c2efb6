//! The reading layer of `rulecast scan`: an export in, batches of records out, without ever
//! holding the whole file and without knowing anything about detections.
//!
//! The input is opened once (a file, a FIFO or standard input: nothing is read twice), gunzipped
//! when it starts with gzip's magic bytes, and told apart by its first value:
//!
//! * **JSON lines** ([`lines`]): the first value is an object that ends on its own line. Blocks
//!   are cut at the last newline and the workers split them, in parallel; from a regular file
//!   (not gzip) the workers read their batches themselves, at positions ([`positional`]). A
//!   line may itself be an array or a `records`/`value`/`tables` wrapper (Event Hub batches one
//!   per line): the workers unpack it.
//! * **JSON** ([`json`]): anything else that starts with `[` or `{`: arrays, pretty-printed
//!   records, `{"value": [...]}` pages, `{"records": [...]}` batches, the Log Analytics API's
//!   `{"tables": [...]}`, and any number of them one after another (Microsoft-Extractor-Suite
//!   writes one array per Graph page). A framer finds each record's bytes; the workers parse.
//! * **CSV** ([`csv`]): a header row then rows (Log Analytics' "Export to CSV", the Entra admin
//!   center's download). Each row becomes a JSON object keyed by header.
//!
//! What a record is (its shape and log source) is decided per record by [`super::route`], so
//! files that mix shapes are read record by record. A batch is a reused byte buffer plus where
//! its records are, sent through a bounded channel, so memory is a few batches.

pub(crate) mod csv;
pub(crate) mod json;
pub(crate) mod lines;
pub(crate) mod positional;

use std::fmt;
use std::fs::File;
use std::io::{self, Cursor, Read};
use std::ops::Range;
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender};

use crate::catalogue::shape::InputKind;
use crate::eval::Place;

/// Bytes per batch: large enough that the channel hand-over is noise, small enough that the
/// batches in flight stay a few megabytes.
pub(crate) const BATCH_BYTES: usize = 2 << 20;

/// How much of the start is looked at to tell JSON lines from pretty-printed JSON. A first
/// record longer than this with no line break in it is taken as JSON lines.
const PROBE_BYTES: usize = 1 << 20;

/// How a file lays out its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    JsonLines,
    Json,
    Csv,
}

impl Container {
    pub fn name(self) -> &'static str {
        match self {
            Container::JsonLines => "JSON lines",
            Container::Json => "JSON",
            Container::Csv => "CSV",
        }
    }
}

/// Why an input cannot be read.
#[derive(Debug)]
pub enum ReadError {
    Io(io::Error),
    /// The input starts with something that is neither JSON nor a CSV header row.
    NotALog {
        start: String,
    },
    /// The input is empty (or only blank).
    Empty,
    /// The input is UTF-16 (Windows PowerShell 5's `Out-File` default).
    Utf16,
    /// Broken structure between records, at a place.
    Syntax {
        line: u64,
        offset: u64,
        message: String,
    },
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Io(e) => write!(f, "{e}"),
            ReadError::NotALog { start } => write!(
                f,
                "the input is neither JSON (lines, arrays, {{\"value\"}}, {{\"records\"}} or {{\"tables\"}} objects) nor CSV with a header row; it starts with {start}"
            ),
            ReadError::Empty => f.write_str("the input is empty"),
            ReadError::Utf16 => f.write_str(
                "the input is UTF-16 text; convert it to UTF-8 first (iconv -f UTF-16 -t UTF-8, or Out-File -Encoding utf8)",
            ),
            ReadError::Syntax {
                line,
                offset,
                message,
            } => write!(f, "line {line} (byte {offset}): {message}"),
        }
    }
}

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReadError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> ReadError {
        ReadError::Io(e)
    }
}

/// Where a batch's records are.
#[derive(Debug)]
pub enum Records {
    /// JSON lines, split by the workers. The batch starts at byte `offset`; its line numbers
    /// are counted by the workers and placed by the scan.
    Lines { offset: u64 },
    /// Records already framed: their bytes and places (line, offset; record numbers are the
    /// scan's).
    Spans {
        input: InputKind,
        spans: Vec<(Range<usize>, Place)>,
    },
}

#[derive(Debug)]
pub struct Batch {
    /// Order of the batch in the input.
    pub sequence: u64,
    pub data: Vec<u8>,
    pub records: Records,
}

/// An opened input, its start looked at but not consumed.
pub struct Input {
    reader: Box<dyn Read + Send>,
    pub container: Container,
    pub gzip: bool,
    /// Where the first record starts (after a byte-order mark and blank lines).
    start: Place,
    /// A regular file of JSON lines (not gzip), which the workers read at positions.
    positional: Option<positional::Positional>,
}

/// Opens `path` (`-` is standard input) once and tells its container.
pub fn open(path: &Path) -> Result<Input, ReadError> {
    // A regular file may be read at positions; a FIFO, a device or standard input only once.
    let mut regular = None;
    let reader: Box<dyn Read + Send> = if path.as_os_str() == "-" {
        Box::new(io::stdin())
    } else {
        let file = File::open(path)?;
        let metadata = file.metadata()?;
        if metadata.is_file() {
            regular = Some((file.try_clone()?, metadata.len()));
        }
        Box::new(file)
    };
    let mut head = Head::new(reader);
    head.want(2)?;
    let gzip = head.bytes().starts_with(&[0x1f, 0x8b]);
    if gzip {
        let decoder = flate2::read::MultiGzDecoder::new(head.into_reader());
        head = Head::new(Box::new(decoder));
    }
    let mut start = Place {
        record: 0,
        line: 1,
        offset: 0,
    };
    head.want(3)?;
    if head.bytes().starts_with(b"\xFF\xFE") || head.bytes().starts_with(b"\xFE\xFF") {
        return Err(ReadError::Utf16);
    }
    if head.bytes().starts_with(b"\xEF\xBB\xBF") {
        head.consume(3, &mut start);
    }
    // Blank lines before the first record are skipped however many there are.
    loop {
        let blank = head
            .bytes()
            .iter()
            .take_while(|b| b.is_ascii_whitespace())
            .count();
        head.consume(blank, &mut start);
        if !head.bytes().is_empty() || !head.more()? {
            break;
        }
    }
    let container = match head.bytes().first() {
        None => return Err(ReadError::Empty),
        Some(b'{') => loop {
            match json::first_value_is_one_line(head.bytes()) {
                Some(true) => break Container::JsonLines,
                Some(false) => break Container::Json,
                None if head.bytes().len() >= PROBE_BYTES || !head.more()? => {
                    break Container::JsonLines;
                }
                None => {}
            }
        },
        Some(b'[') => Container::Json,
        Some(_) => {
            head.want(4096)?;
            if !csv::looks_like_a_header(head.bytes()) {
                let shown: String =
                    String::from_utf8_lossy(&head.bytes()[..head.bytes().len().min(40)])
                        .chars()
                        .take(40)
                        .collect();
                return Err(ReadError::NotALog {
                    start: format!("`{}`", crate::diagnostic::escape_controls(&shown)),
                });
            }
            Container::Csv
        }
    };
    let positional = regular
        .filter(|(_, len)| !gzip && container == Container::JsonLines && *len > start.offset)
        .map(|(file, len)| positional::Positional::new(file, start.offset, len));
    Ok(Input {
        reader: head.into_reader(),
        container,
        gzip,
        start,
        positional,
    })
}

impl Input {
    /// Reads every record, sending batches until the input ends or the receiver hangs up.
    /// Buffers come back through `free` to be reused; at most `buffers` are made, then the
    /// reader waits for one to come back.
    pub fn read(
        self,
        batches: SyncSender<Batch>,
        free: Receiver<Vec<u8>>,
        buffers: usize,
    ) -> Result<(), ReadError> {
        let sink = Sink::new(&batches, &free, buffers);
        match self.container {
            Container::JsonLines => lines::read(self.reader, self.start, sink),
            Container::Json => json::read(self.reader, self.start, sink),
            Container::Csv => csv::read(self.reader, self.start, sink),
        }
    }

    /// The file to be read at positions by the workers instead of [`Input::read`], if the
    /// input is a regular file of JSON lines.
    pub(crate) fn take_positional(&mut self) -> Option<positional::Positional> {
        self.positional.take()
    }

    /// Where the first record starts.
    pub fn start(&self) -> Place {
        self.start
    }

    /// The same input, read through `wrap` (to count its bytes, say).
    #[must_use]
    pub fn read_through(
        self,
        wrap: impl FnOnce(Box<dyn Read + Send>) -> Box<dyn Read + Send>,
    ) -> Input {
        Input {
            reader: wrap(self.reader),
            ..self
        }
    }
}

/// Bytes asked of the input per read while looking at its start.
const READ_BYTES: usize = 64 * 1024;

/// The first bytes of an input, kept to be read again.
struct Head {
    reader: Box<dyn Read + Send>,
    buffer: Vec<u8>,
    at: usize,
    ended: bool,
}

impl Head {
    fn new(reader: Box<dyn Read + Send>) -> Head {
        Head {
            reader,
            buffer: Vec::new(),
            at: 0,
            ended: false,
        }
    }

    fn bytes(&self) -> &[u8] {
        &self.buffer[self.at..]
    }

    /// Reads more; false at the end of the input.
    fn more(&mut self) -> io::Result<bool> {
        if self.ended {
            return Ok(false);
        }
        if self.at > 0 && self.at == self.buffer.len() {
            self.buffer.clear();
            self.at = 0;
        }
        // Read straight into the buffer's tail: no chunk on the stack, no copy.
        let filled = self.buffer.len();
        self.buffer.resize(filled + READ_BYTES, 0);
        let n = loop {
            match self.reader.read(&mut self.buffer[filled..]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.buffer.truncate(filled);
                    return Err(e);
                }
                Ok(n) => break n,
            }
        };
        self.buffer.truncate(filled + n);
        self.ended = n == 0;
        Ok(n > 0)
    }

    /// Reads until `n` bytes are looked at, or the input ends.
    fn want(&mut self, n: usize) -> io::Result<()> {
        while self.bytes().len() < n && self.more()? {}
        Ok(())
    }

    fn consume(&mut self, n: usize, place: &mut Place) {
        let bytes = &self.buffer[self.at..self.at + n];
        place.line += memchr::memchr_iter(b'\n', bytes).count() as u64;
        place.offset += n as u64;
        self.at += n;
    }

    fn into_reader(self) -> Box<dyn Read + Send> {
        let rest = self.buffer[self.at..].to_vec();
        Box::new(Cursor::new(rest).chain(self.reader))
    }
}

/// Where the readers put records: batches of about [`BATCH_BYTES`], in order.
pub(crate) struct Sink<'a> {
    batches: &'a SyncSender<Batch>,
    free: &'a Receiver<Vec<u8>>,
    sequence: u64,
    /// Buffers made so far, and how many may be.
    made: usize,
    most: usize,
    /// The receiver hung up: stop reading.
    pub closed: bool,
}

impl<'a> Sink<'a> {
    fn new(batches: &'a SyncSender<Batch>, free: &'a Receiver<Vec<u8>>, most: usize) -> Sink<'a> {
        Sink {
            batches,
            free,
            sequence: 0,
            made: 0,
            most: most.max(1),
            closed: false,
        }
    }

    /// A buffer to fill, holding whatever it held before: a returned one when there is one, a
    /// new one while fewer than the most are made, else the next one to come back. Reusing
    /// them, rather than freeing and making new ones, keeps the allocator from handing the
    /// memory back and the kernel from zeroing fresh pages for every batch.
    pub(crate) fn buffer(&mut self) -> Vec<u8> {
        if let Ok(buffer) = self.free.try_recv() {
            return buffer;
        }
        if self.made < self.most {
            self.made += 1;
            return Vec::with_capacity(BATCH_BYTES + BATCH_BYTES / 4);
        }
        // The scan hands every buffer back unless it has stopped; then nothing waits for this.
        self.free.recv().unwrap_or_default()
    }

    /// Sends a batch; false once nobody reads them.
    pub(crate) fn send(&mut self, data: Vec<u8>, records: Records) -> bool {
        if self.closed {
            return false;
        }
        self.closed = self
            .batches
            .send(Batch {
                sequence: self.sequence,
                data,
                records,
            })
            .is_err();
        self.sequence += 1;
        !self.closed
    }
}

/// Framed records gathered into batches.
pub(crate) struct SpanBatcher<'s, 'a> {
    sink: &'s mut Sink<'a>,
    input: InputKind,
    data: Vec<u8>,
    spans: Vec<(Range<usize>, Place)>,
}

impl<'s, 'a> SpanBatcher<'s, 'a> {
    pub(crate) fn new(sink: &'s mut Sink<'a>, input: InputKind) -> SpanBatcher<'s, 'a> {
        let mut data = sink.buffer();
        data.clear();
        SpanBatcher {
            sink,
            input,
            data,
            spans: Vec::new(),
        }
    }

    /// Adds a record; false once nobody reads the batches.
    pub(crate) fn push(&mut self, bytes: &[u8], place: Place) -> bool {
        let start = self.data.len();
        self.data.extend_from_slice(bytes);
        self.spans.push((start..self.data.len(), place));
        if self.data.len() >= BATCH_BYTES {
            return self.flush();
        }
        !self.sink.closed
    }

    /// The buffer of the record being written, for readers that build a record in place.
    pub(crate) fn push_with(&mut self, place: Place, write: impl FnOnce(&mut Vec<u8>)) -> bool {
        let start = self.data.len();
        write(&mut self.data);
        self.spans.push((start..self.data.len(), place));
        if self.data.len() >= BATCH_BYTES {
            return self.flush();
        }
        !self.sink.closed
    }

    pub(crate) fn flush(&mut self) -> bool {
        if self.spans.is_empty() {
            return !self.sink.closed;
        }
        let mut next = self.sink.buffer();
        next.clear();
        let data = std::mem::replace(&mut self.data, next);
        let spans = std::mem::take(&mut self.spans);
        self.sink.send(
            data,
            Records::Spans {
                input: self.input,
                spans,
            },
        )
    }

    pub(crate) fn closed(&self) -> bool {
        self.sink.closed
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write as _;

    /// A record's text, line and byte offset.
    pub(crate) type Read = (String, u64, u64);

    /// Every record of `content` (as text) with its place, and the container.
    pub(crate) fn records_of(content: &[u8]) -> Result<(Container, Vec<Read>), ReadError> {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(content).unwrap();
        let input = open(file.path())?;
        let container = input.container;
        let mut line_base = input.start().line - 1;
        let (send, receive) = std::sync::mpsc::sync_channel(1024);
        let (_give_back, free) = std::sync::mpsc::channel();
        input.read(send, free, usize::MAX)?;
        let mut out = Vec::new();
        for batch in &receive {
            match batch.records {
                Records::Lines { offset } => {
                    let mut start = 0;
                    let mut line = line_base + 1;
                    for text in batch.data.split(|b| *b == b'\n') {
                        if !text.iter().all(u8::is_ascii_whitespace) {
                            out.push((
                                String::from_utf8_lossy(text).into_owned(),
                                line,
                                offset + start as u64,
                            ));
                        }
                        start += text.len() + 1;
                        line += 1;
                    }
                    line_base = line - 2 + u64::from(batch.data.last() != Some(&b'\n'));
                }
                Records::Spans { spans, .. } => {
                    for (span, place) in spans {
                        out.push((
                            String::from_utf8_lossy(&batch.data[span]).into_owned(),
                            place.line,
                            place.offset,
                        ));
                    }
                }
            }
        }
        Ok((container, out))
    }

    #[test]
    fn the_container_is_told_by_the_first_value() {
        let (container, records) = records_of(b"\xEF\xBB\xBF{\"a\":1}\n{\"a\":2}").unwrap();
        assert_eq!(container, Container::JsonLines);
        assert_eq!(
            records,
            [
                ("{\"a\":1}".to_owned(), 1, 3),
                ("{\"a\":2}".to_owned(), 2, 11)
            ]
        );
        let (container, records) = records_of(b"{\n \"a\": 1\n}\n{\"b\": 2}").unwrap();
        assert_eq!(container, Container::Json, "a pretty-printed record");
        assert_eq!(
            records,
            [
                ("{\n \"a\": 1\n}".to_owned(), 1, 0),
                ("{\"b\": 2}".to_owned(), 4, 12)
            ]
        );
        let (container, _) = records_of(b"Date (UTC),Activity\n2025-01-01,x\n").unwrap();
        assert_eq!(container, Container::Csv);
        assert!(matches!(
            records_of(b"\x00\x01binary"),
            Err(ReadError::NotALog { .. })
        ));
        assert!(matches!(records_of(b"  \n\n "), Err(ReadError::Empty)));
        assert!(matches!(
            records_of(b"\xFF\xFE{\x00\"\x00"),
            Err(ReadError::Utf16)
        ));
    }

    #[test]
    fn blank_lines_before_the_first_record_are_skipped_however_many() {
        let mut content = vec![b'\n'; 100_000];
        content.extend_from_slice(b"{\"a\":1}\n");
        let (container, records) = records_of(&content).unwrap();
        assert_eq!(container, Container::JsonLines);
        assert_eq!(records, [("{\"a\":1}".to_owned(), 100_001, 100_000)]);
    }

    #[test]
    fn gzip_is_read_through() {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(b"[{\"a\":1},\n {\"a\":2}]").unwrap();
        let (container, records) = records_of(&encoder.finish().unwrap()).unwrap();
        assert_eq!(container, Container::Json);
        assert_eq!(
            records,
            [
                ("{\"a\":1}".to_owned(), 1, 1),
                ("{\"a\":2}".to_owned(), 2, 11)
            ]
        );
    }
}
