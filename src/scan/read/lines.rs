//! JSON lines: blocks cut at the last newline, split into lines by the workers in parallel.
//!
//! This is the fast path (what most exporters and `az ... | jq -c` write), so the reader does
//! nothing per line: it fills a reused buffer straight from the input and cuts it.

use std::io::{self, Read};

use super::{BATCH_BYTES, ReadError, Records, Sink};
use crate::eval::Place;

/// Fills `buffer` from `reader` up to `until` bytes; returns false at the end of the input.
fn fill(reader: &mut dyn Read, buffer: &mut Vec<u8>, until: usize) -> io::Result<bool> {
    let wanted = until.saturating_sub(buffer.len());
    // `read_to_end` reads into the spare capacity without zeroing it first.
    let read = Read::take(&mut *reader, wanted as u64).read_to_end(buffer)?;
    Ok(read == wanted)
}

pub(crate) fn read(
    mut reader: Box<dyn Read + Send>,
    start: Place,
    mut sink: Sink,
) -> Result<(), ReadError> {
    let mut carry: Vec<u8> = Vec::new();
    let mut offset = start.offset;
    loop {
        let mut data = sink.buffer();
        data.append(&mut carry);
        let mut more = fill(&mut reader, &mut data, BATCH_BYTES)?;
        // A batch ends at a line's end; a line longer than a batch makes the batch grow.
        let mut cut = memchr::memrchr(b'\n', &data);
        while cut.is_none() && more {
            let until = data.len() + BATCH_BYTES;
            more = fill(&mut reader, &mut data, until)?;
            cut = memchr::memrchr(b'\n', &data);
        }
        if more && let Some(cut) = cut {
            carry.extend_from_slice(&data[cut + 1..]);
            data.truncate(cut + 1);
        }
        if data.is_empty() {
            return Ok(());
        }
        let length = data.len() as u64;
        if !sink.send(data, Records::Lines { offset }) {
            return Ok(());
        }
        offset += length;
        if !more && carry.is_empty() {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::records_of;
    use super::*;

    #[test]
    fn batches_end_at_line_ends_and_keep_every_line() {
        let line = format!("{{\"pad\":\"{}\"}}\n", "x".repeat(1000));
        let content = line.repeat(5000);
        let (_, records) = records_of(content.as_bytes()).unwrap();
        assert_eq!(records.len(), 5000);
        assert!(records.iter().all(|(l, _, _)| l.len() == line.len() - 1));
        assert_eq!(
            records[4999].2,
            4999 * line.len() as u64,
            "offsets run on across batches"
        );
        // A line longer than a batch is kept whole.
        let long = format!(
            "{{\"pad\":\"{}\"}}\n{{\"a\":1}}\n",
            "y".repeat(BATCH_BYTES * 2)
        );
        let (_, records) = records_of(long.as_bytes()).unwrap();
        assert_eq!(
            records.iter().map(|(l, _, _)| l.len()).collect::<Vec<_>>(),
            [BATCH_BYTES * 2 + 10, 7]
        );
    }
}
