//! JSON lines: blocks cut at the last newline, split into lines by the workers in parallel.
//!
//! This is the fast path (what most exporters and `az ... | jq -c` write), so the reader does
//! nothing per line: it fills a reused buffer straight from the input and cuts it.

use std::io::{self, Read};

use super::{BATCH_BYTES, ReadError, Records, Sink};
use crate::eval::Place;

/// Reads into `buffer[*filled..]` until it is full or the input ends; returns false at the end.
/// The buffer is initialised already (buffers are reused), so nothing is zeroed per read.
fn fill(reader: &mut dyn Read, buffer: &mut [u8], filled: &mut usize) -> io::Result<bool> {
    while *filled < buffer.len() {
        match reader.read(&mut buffer[*filled..]) {
            Ok(0) => return Ok(false),
            Ok(n) => *filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

pub(crate) fn read(
    mut reader: Box<dyn Read + Send>,
    start: Place,
    mut sink: Sink,
) -> Result<(), ReadError> {
    let mut carry: Vec<u8> = Vec::new();
    let mut offset = start.offset;
    loop {
        // A returned buffer is as long as the batch it held: growing it back to a batch's
        // length zeroes only the few bytes after that batch's last line.
        let mut data = sink.buffer();
        data.resize(BATCH_BYTES.max(carry.len() + BATCH_BYTES / 2), 0);
        data[..carry.len()].copy_from_slice(&carry);
        let mut filled = carry.len();
        carry.clear();
        let mut more = fill(&mut reader, &mut data, &mut filled)?;
        // A batch ends at a line's end; a line longer than a batch makes the batch grow.
        let mut cut = memchr::memrchr(b'\n', &data[..filled]);
        while cut.is_none() && more {
            let searched = filled;
            data.resize(data.len() + BATCH_BYTES, 0);
            more = fill(&mut reader, &mut data, &mut filled)?;
            cut = memchr::memrchr(b'\n', &data[searched..filled]).map(|at| searched + at);
        }
        if more && let Some(cut) = cut {
            carry.extend_from_slice(&data[cut + 1..filled]);
            filled = cut + 1;
        }
        data.truncate(filled);
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
