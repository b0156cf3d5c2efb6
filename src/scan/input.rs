//! Reading an exported log in batches, without ever holding the whole file.
//!
//! Three layouts are accepted, told apart by their start:
//!
//! * JSON lines (one event per line), what `az monitor log-analytics query` pipelines and
//!   most exporters write. Read in blocks cut at the last newline; the workers split lines.
//! * A JSON array of events.
//! * An object whose `value` array holds the events, as the Azure portal and the Log
//!   Analytics API export. Both are read with a streaming deserializer that hands over one
//!   element's raw text at a time.
//!
//! A batch is a reused byte buffer plus where its records are, sent to the workers through a
//! bounded channel, so memory is a few batches whatever the file's size.

use std::cell::Cell;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::ops::Range;
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender};

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

/// Bytes per batch: large enough that the channel hand-over is noise, small enough that the
/// batches in flight stay a few megabytes.
pub(crate) const BATCH_BYTES: usize = 2 << 20;

/// How a file lays out its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    JsonLines,
    Array,
    /// `{ "value": [ ... ] }`
    ValueArray,
}

impl Layout {
    /// What a position in this layout is called: `line 12`, `event 12`.
    pub(crate) fn position_name(self) -> &'static str {
        match self {
            Layout::JsonLines => "line",
            Layout::Array | Layout::ValueArray => "event",
        }
    }
}

/// Records of a batch: lines to split, or the spans of array elements.
#[derive(Debug)]
pub(crate) enum Records {
    Lines,
    Spans(Vec<Range<usize>>),
}

#[derive(Debug)]
pub(crate) struct Batch {
    /// Order of the batch in the file.
    pub sequence: u64,
    pub data: Vec<u8>,
    pub records: Records,
}

/// Tells the layout from the start of the file, reading no more of it than needed: `[` then
/// `{` or `]` is an array; an object is the export wrapper when it has a `value` array before
/// any event time, and otherwise the first event of JSON lines.
pub(crate) fn detect(path: &Path) -> io::Result<Layout> {
    let not_a_log = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "the file is not JSON lines, a JSON array or an object with a `value` array",
        )
    };
    let mut reader = BufReader::new(File::open(path)?);
    if reader.fill_buf()?.starts_with(b"\xEF\xBB\xBF") {
        reader.consume(3);
    }
    let mut start = reader
        .fill_buf()?
        .iter()
        .copied()
        .skip_while(u8::is_ascii_whitespace);
    match start.next() {
        Some(b'[') => match start.find(|b| !b.is_ascii_whitespace()) {
            Some(b'{' | b']') | None => Ok(Layout::Array),
            Some(_) => Err(not_a_log()),
        },
        Some(b'{') => {
            let decision = Cell::new(None);
            // The probe stops the parse as soon as it knows, so a huge first line or array is
            // not read; its error then only means "decided".
            let _ =
                Probe(&decision).deserialize(&mut serde_json::Deserializer::from_reader(reader));
            decision.get().ok_or_else(not_a_log)
        }
        _ => Err(not_a_log()),
    }
}

/// Reads the first object's keys until they tell the layout apart.
struct Probe<'a>(&'a Cell<Option<Layout>>);

impl<'de> DeserializeSeed<'de> for Probe<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Probe<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an event or an export")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == "TimeGenerated" || key == "time" {
                self.0.set(Some(Layout::JsonLines));
                return Err(de::Error::custom("decided"));
            }
            if key == "value" {
                map.next_value_seed(ValueProbe(self.0))?;
                if self.0.get().is_some() {
                    return Err(de::Error::custom("decided"));
                }
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        self.0.set(Some(Layout::JsonLines));
        Ok(())
    }
}

/// Decides "export wrapper" when `value` is an array, without reading the array.
struct ValueProbe<'a>(&'a Cell<Option<Layout>>);

impl<'de> DeserializeSeed<'de> for ValueProbe<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueProbe<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        self.0.set(Some(Layout::ValueArray));
        Err(de::Error::custom("decided"))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

/// Reads `path` in `layout`, sending batches until the file ends or the receiver hangs up.
/// Buffers come back through `free` to be reused.
pub(crate) fn read(
    path: &Path,
    layout: Layout,
    batches: SyncSender<Batch>,
    free: Receiver<Vec<u8>>,
) -> io::Result<()> {
    let file = File::open(path)?;
    match layout {
        Layout::JsonLines => read_lines(file, &batches, &free),
        Layout::Array | Layout::ValueArray => read_elements(file, layout, &batches, &free),
    }
}

fn buffer(free: &Receiver<Vec<u8>>) -> Vec<u8> {
    let mut buffer = free
        .try_recv()
        .unwrap_or_else(|_| Vec::with_capacity(BATCH_BYTES + BATCH_BYTES / 4));
    buffer.clear();
    buffer
}

/// Fills `buffer` from `file` up to `until` bytes; returns false at the end of the file.
fn fill(file: &mut File, buffer: &mut Vec<u8>, until: usize) -> io::Result<bool> {
    let wanted = until.saturating_sub(buffer.len());
    // `read_to_end` reads into the spare capacity without zeroing it first.
    let read = Read::take(&mut *file, wanted as u64).read_to_end(buffer)?;
    Ok(read == wanted)
}

fn read_lines(
    mut file: File,
    batches: &SyncSender<Batch>,
    free: &Receiver<Vec<u8>>,
) -> io::Result<()> {
    let mut carry: Vec<u8> = Vec::new();
    let mut sequence = 0;
    let mut first = true;
    loop {
        let mut data = buffer(free);
        data.append(&mut carry);
        let mut more = fill(&mut file, &mut data, BATCH_BYTES)?;
        if first {
            if data.starts_with(b"\xEF\xBB\xBF") {
                data.drain(..3);
            }
            first = false;
        }
        // A batch ends at a line's end; a line longer than a batch makes the batch grow.
        let mut cut = memchr::memrchr(b'\n', &data);
        while cut.is_none() && more {
            let until = data.len() + BATCH_BYTES;
            more = fill(&mut file, &mut data, until)?;
            cut = memchr::memrchr(b'\n', &data);
        }
        if more && let Some(cut) = cut {
            carry.extend_from_slice(&data[cut + 1..]);
            data.truncate(cut + 1);
        }
        if data.is_empty() {
            return Ok(());
        }
        if batches
            .send(Batch {
                sequence,
                data,
                records: Records::Lines,
            })
            .is_err()
        {
            return Ok(());
        }
        sequence += 1;
        if !more && carry.is_empty() {
            return Ok(());
        }
    }
}

/// Sends array elements in batches as the streaming deserializer finds them.
struct ElementBatcher<'a> {
    batches: &'a SyncSender<Batch>,
    free: &'a Receiver<Vec<u8>>,
    sequence: u64,
    data: Vec<u8>,
    spans: Vec<Range<usize>>,
    /// The receiver hung up: stop reading.
    closed: bool,
}

impl ElementBatcher<'_> {
    fn push(&mut self, element: &RawValue) {
        let text = element.get().as_bytes();
        let start = self.data.len();
        self.data.extend_from_slice(text);
        self.spans.push(start..self.data.len());
        if self.data.len() >= BATCH_BYTES {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.spans.is_empty() || self.closed {
            return;
        }
        let data = std::mem::replace(&mut self.data, buffer(self.free));
        let spans = std::mem::take(&mut self.spans);
        self.closed = self
            .batches
            .send(Batch {
                sequence: self.sequence,
                data,
                records: Records::Spans(spans),
            })
            .is_err();
        self.sequence += 1;
    }
}

/// Stops the deserializer once nobody reads the batches any more.
#[derive(Debug)]
struct Closed;

impl fmt::Display for Closed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("stopped")
    }
}

struct ArraySeed<'b, 'a>(&'b mut ElementBatcher<'a>);

impl<'de> DeserializeSeed<'de> for ArraySeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ArraySeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of events")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(element) = seq.next_element::<Box<RawValue>>()? {
            self.0.push(&element);
            if self.0.closed {
                return Err(de::Error::custom(Closed));
            }
        }
        Ok(())
    }
}

struct WrapperSeed<'b, 'a>(&'b mut ElementBatcher<'a>);

impl<'de> DeserializeSeed<'de> for WrapperSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for WrapperSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object with a `value` array of events")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut found = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == "value" {
                map.next_value_seed(ArraySeed(&mut *self.0))?;
                found = true;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        if found {
            Ok(())
        } else {
            Err(de::Error::custom("the object has no `value` array"))
        }
    }
}

fn read_elements(
    file: File,
    layout: Layout,
    batches: &SyncSender<Batch>,
    free: &Receiver<Vec<u8>>,
) -> io::Result<()> {
    let mut reader = BufReader::with_capacity(1 << 20, file);
    if reader.fill_buf()?.starts_with(b"\xEF\xBB\xBF") {
        reader.consume(3);
    }
    let mut batcher = ElementBatcher {
        batches,
        free,
        sequence: 0,
        data: buffer(free),
        spans: Vec::new(),
        closed: false,
    };
    let mut deserializer = serde_json::Deserializer::from_reader(reader);
    let result = match layout {
        Layout::Array => ArraySeed(&mut batcher).deserialize(&mut deserializer),
        _ => WrapperSeed(&mut batcher).deserialize(&mut deserializer),
    };
    match result {
        Err(_) if batcher.closed => Ok(()),
        Err(e) => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "invalid JSON at line {}, column {}: {e}",
                e.line(),
                e.column()
            ),
        )),
        Ok(()) => {
            batcher.flush();
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn batches_of(content: &[u8]) -> (Layout, Vec<Vec<String>>) {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(content).unwrap();
        let layout = detect(file.path()).unwrap();
        let (send, receive) = std::sync::mpsc::sync_channel(64);
        let (_give_back, free) = std::sync::mpsc::channel();
        read(file.path(), layout, send, free).unwrap();
        let records = receive
            .iter()
            .map(|batch| match batch.records {
                Records::Lines => String::from_utf8(batch.data)
                    .unwrap()
                    .lines()
                    .map(str::to_owned)
                    .collect(),
                Records::Spans(spans) => spans
                    .into_iter()
                    .map(|s| String::from_utf8(batch.data[s].to_vec()).unwrap())
                    .collect(),
            })
            .collect();
        (layout, records)
    }

    #[test]
    fn json_lines_arrays_and_export_wrappers() {
        let (layout, batches) = batches_of(b"\xEF\xBB\xBF{\"a\":1}\n{\"a\":2}");
        assert_eq!(
            (layout, batches),
            (
                Layout::JsonLines,
                vec![vec!["{\"a\":1}".to_owned(), "{\"a\":2}".to_owned()]]
            )
        );
        let (layout, batches) = batches_of(b"[\n  {\"a\": 1},\n  {\"a\": [2, {}]}\n]\n");
        assert_eq!(
            (layout, batches),
            (
                Layout::Array,
                vec![vec!["{\"a\": 1}".to_owned(), "{\"a\": [2, {}]}".to_owned()]]
            )
        );
        let (layout, batches) =
            batches_of(b"{\n \"@odata.context\": \"x\",\n \"value\": [{\"a\":1}]\n}");
        assert_eq!(
            (layout, batches),
            (Layout::ValueArray, vec![vec!["{\"a\":1}".to_owned()]])
        );
        let (layout, _) = batches_of(b"{\"value\":[{\"a\":1}]}\n");
        assert_eq!(
            layout,
            Layout::ValueArray,
            "a one-line export is still a wrapper"
        );
        let (layout, _) =
            batches_of(b"{\"value\":\"x\",\"TimeGenerated\":\"2025-01-01T00:00:00Z\"}\n");
        assert_eq!(layout, Layout::JsonLines, "an event with a `value` column");
    }

    #[test]
    fn batches_end_at_line_ends_and_keep_every_line() {
        let line = format!("{{\"pad\":\"{}\"}}\n", "x".repeat(1000));
        let content = line.repeat(5000);
        let (_, batches) = batches_of(content.as_bytes());
        assert!(batches.len() > 1, "{} batches", batches.len());
        assert_eq!(batches.iter().map(Vec::len).sum::<usize>(), 5000);
        assert!(batches.iter().flatten().all(|l| l.len() == line.len() - 1));
        // A line longer than a batch is kept whole.
        let long = format!(
            "{{\"pad\":\"{}\"}}\n{{\"a\":1}}\n",
            "y".repeat(BATCH_BYTES * 2)
        );
        let (_, batches) = batches_of(long.as_bytes());
        assert_eq!(
            batches
                .iter()
                .flatten()
                .map(String::len)
                .collect::<Vec<_>>(),
            [BATCH_BYTES * 2 + 10, 7]
        );
    }

    #[test]
    fn broken_json_is_reported_with_its_place() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(b"[{\"a\":1},\n{\"a\":}]").unwrap();
        let (send, receive) = std::sync::mpsc::sync_channel(64);
        let (_give_back, free) = std::sync::mpsc::channel();
        let error = read(file.path(), Layout::Array, send, free).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("invalid JSON at line 2, column 6"),
            "{error}"
        );
        drop(receive);
        assert!(detect(Path::new("Cargo.toml")).is_err());
    }
}
