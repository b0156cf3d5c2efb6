//! JSON lines of a regular file, read by the workers themselves with positional reads
//! (`pread`), each batch a piece at a time into a buffer that fits in a core's cache.
//!
//! Through a reader thread, the kernel's copy out of the page cache ran on one core into
//! 2 MB buffers larger than its cache, and the workers then read those buffers again from
//! memory on the other: the copy cost more than `cat`'s, and the reader's eight buffers (20 MB)
//! were first-touched pages, which this machine's kernel zeroes slowly. Here the worker that
//! evaluates a batch copies it, a quarter of a megabyte at a time, into a buffer it reuses and
//! searches it while it is still in the cache. Pipes, standard input and gzip keep the reader
//! thread ([`super::lines`]): they can be read only once, in order.
//!
//! A batch is a range of the file, the same for any number of workers: batch 0 is the first
//! [`BATCH_BYTES`] after the first record's start, batch `k` the `k`-th such range after it. A
//! batch holds the lines whose line feed lies in its range (the last batch also the last line,
//! if the file does not end with a line feed), so each line is in exactly one batch, found by
//! the batch's own reads: its first line starts after the last line feed before its range. The
//! first line is always batch 0's, however long: the first batch is parsed whole, so the shapes
//! a file holds are named. Batch 0 holds what the reader thread's first batch holds (the lines
//! that end in the first 2 MB), and it is read in one piece, so the prefilter is tuned on the
//! same sample and a file gives the same summary either way.

use std::fs::File;
use std::io;

use super::BATCH_BYTES;

/// Bytes read at a time within a batch: with the batch's search and parse, well inside a
/// core's 1 MB second-level cache.
pub(crate) const PIECE_BYTES: usize = 256 << 10;

/// Bytes looked at before a batch's range for the start of its first line, at first (a line of
/// an audit log is one or two kilobytes); a longer line is looked for further back.
const LOOK_BACK: u64 = 4 << 10;

/// A regular file of JSON lines, read at positions.
#[derive(Debug)]
pub(crate) struct Positional {
    file: File,
    /// Where the first record starts (after a byte-order mark and blank lines).
    start: u64,
    /// The file's length when it was opened: what is scanned, if the file grows meanwhile.
    len: u64,
    /// Bytes per batch and per piece (smaller in tests).
    batch: u64,
    piece: usize,
}

impl Positional {
    pub(crate) fn new(file: File, start: u64, len: u64) -> Positional {
        Positional {
            file,
            start,
            len,
            batch: BATCH_BYTES as u64,
            piece: PIECE_BYTES,
        }
    }

    /// How many batches the file is read in.
    pub(crate) fn batches(&self) -> u64 {
        (self.len - self.start).div_ceil(self.batch).max(1)
    }

    /// The file's length (all of it is read).
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Reads batch `sequence` in pieces of whole lines, passing each to `each` with the file
    /// offset of its first byte; `buffer` is the worker's, reused. Batch 0 is one piece.
    pub(crate) fn read_batch(
        &self,
        sequence: u64,
        buffer: &mut PieceBuffer,
        each: &mut dyn FnMut(&[u8], u64),
    ) -> io::Result<()> {
        let from = self.start + sequence * self.batch;
        let to = (from + self.batch).min(self.len);
        if from >= to {
            return Ok(());
        }
        if sequence == 0 {
            return self.first_batch(to, buffer, each);
        }
        let mut at = match self.line_start_before(from, buffer)? {
            Some(at) => at,
            // The file's first line is batch 0's: this batch starts after its line feed.
            None => match self.line_end(from, to, buffer)? {
                Some(end) => end,
                None => return Ok(()),
            },
        };
        while at < to {
            let Some(cut) = self.piece(at, to, self.piece, buffer)? else {
                break;
            };
            each(&buffer.bytes[..cut], at);
            at += cut as u64;
        }
        Ok(())
    }

    /// Batch 0, in one piece: the lines that end in its range, or the first line if it is
    /// longer (so it is parsed whole, and the other batches leave it).
    fn first_batch(
        &self,
        to: u64,
        buffer: &mut PieceBuffer,
        each: &mut dyn FnMut(&[u8], u64),
    ) -> io::Result<()> {
        let cut = if let Some(cut) = self.piece(self.start, to, self.batch as usize, buffer)? {
            cut
        } else {
            let end = self.line_end(to, self.len, buffer)?.unwrap_or(self.len);
            buffer.len = 0;
            self.read_into(buffer, self.start, (end - self.start) as usize)?
        };
        if cut > 0 {
            each(&buffer.bytes[..cut], self.start);
        }
        Ok(())
    }

    /// Reads whole lines from `at` into `buffer`, up to `piece` bytes unless a line is longer:
    /// the bytes of those lines (up to the last line feed before `to`, or all of them when the
    /// file ends at or before `to`); `None` when no line ends before `to`.
    fn piece(
        &self,
        at: u64,
        to: u64,
        piece: usize,
        buffer: &mut PieceBuffer,
    ) -> io::Result<Option<usize>> {
        buffer.len = 0;
        let mut read_to = at;
        loop {
            let searched = buffer.len;
            let want = (to - read_to).min(piece as u64) as usize;
            let got = self.read_into(buffer, read_to, want)?;
            read_to += got as u64;
            // The end of the file (as opened, or as it is if it shrank) ends the last line.
            if read_to >= self.len || got < want {
                return Ok((buffer.len > 0).then_some(buffer.len));
            }
            if let Some(i) = memchr::memrchr(b'\n', &buffer.filled()[searched..]) {
                return Ok(Some(searched + i + 1));
            }
            if read_to >= to {
                return Ok(None);
            }
        }
    }

    /// The offset after the first line feed in `from..to`, if there is one.
    fn line_end(&self, from: u64, to: u64, buffer: &mut PieceBuffer) -> io::Result<Option<u64>> {
        let mut at = from;
        while at < to {
            buffer.len = 0;
            let got = self.read_into(buffer, at, (to - at).min(self.piece as u64) as usize)?;
            if let Some(i) = memchr::memchr(b'\n', buffer.filled()) {
                return Ok(Some(at + i as u64 + 1));
            }
            if got == 0 {
                break;
            }
            at += got as u64;
        }
        Ok(None)
    }

    /// Where the line holding the byte before `from` starts, unless it is the file's first line
    /// (`None`).
    fn line_start_before(&self, from: u64, buffer: &mut PieceBuffer) -> io::Result<Option<u64>> {
        let mut back = LOOK_BACK;
        loop {
            let base = from.saturating_sub(back).max(self.start);
            buffer.len = 0;
            self.read_into(buffer, base, (from - base) as usize)?;
            if let Some(i) = memchr::memrchr(b'\n', buffer.filled()) {
                return Ok(Some(base + i as u64 + 1));
            }
            if base == self.start {
                return Ok(None);
            }
            back *= 8;
        }
    }

    /// Appends up to `n` bytes of the file at `at` to `buffer`; fewer at its end.
    fn read_into(&self, buffer: &mut PieceBuffer, at: u64, n: usize) -> io::Result<usize> {
        let filled = buffer.len;
        if buffer.bytes.len() < filled + n {
            buffer.bytes.resize(filled + n, 0);
        }
        let mut got = 0;
        while got < n {
            match read_at(
                &self.file,
                &mut buffer.bytes[filled + got..filled + n],
                at + got as u64,
            ) {
                Ok(0) => break,
                Ok(read) => got += read,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        buffer.len = filled + got;
        Ok(got)
    }
}

/// A worker's buffer for [`Positional::read_batch`]: its bytes are zeroed once, when it grows,
/// not before every read (that was an eighth of a scan's instructions).
#[derive(Debug, Default)]
pub(crate) struct PieceBuffer {
    bytes: Vec<u8>,
    /// How many of `bytes` were read.
    len: usize,
}

impl PieceBuffer {
    fn filled(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// One read at a position, leaving the file's own position alone where the system can.
#[cfg(unix)]
fn read_at(file: &File, buffer: &mut [u8], at: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buffer, at)
}

/// One read at a position (which moves the file's own position: nothing else reads it).
#[cfg(windows)]
fn read_at(file: &File, buffer: &mut [u8], at: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buffer, at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    /// Every piece of every batch of `content` read with `batch` and `piece` bytes: (batch,
    /// offset, bytes).
    fn pieces(content: &[u8], start: u64, batch: u64, piece: usize) -> Vec<(u64, u64, Vec<u8>)> {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(content).unwrap();
        let positional = Positional {
            file: File::open(file.path()).unwrap(),
            start,
            len: content.len() as u64,
            batch,
            piece,
        };
        let mut out = Vec::new();
        let mut buffer = PieceBuffer::default();
        for sequence in 0..positional.batches() {
            positional
                .read_batch(sequence, &mut buffer, &mut |bytes, offset| {
                    out.push((sequence, offset, bytes.to_vec()));
                })
                .unwrap();
        }
        out
    }

    #[test]
    fn every_line_is_in_one_batch_whole_whatever_the_sizes() {
        let mut lines: Vec<Vec<u8>> = Vec::new();
        for (i, length) in [3, 700, 1, 0, 50, 4000, 9, 2, 2500, 12, 0, 31]
            .iter()
            .enumerate()
        {
            let mut line = vec![b'a' + (i as u8 % 26); *length];
            if i % 3 == 0 {
                line.push(b'\r');
            }
            lines.push(line);
        }
        let joined = lines.join(&b'\n');
        for ends_with_line_feed in [true, false] {
            let mut content = b"\n\n".to_vec();
            content.extend_from_slice(&joined);
            if ends_with_line_feed {
                content.push(b'\n');
            }
            for batch in [7, 64, 1000, 3000, 5000, 100_000] {
                for piece in [5, 100, 1024, 10_000] {
                    let read = pieces(&content, 2, batch, piece);
                    let context = format!("batch {batch}, piece {piece}, {ends_with_line_feed}");
                    // In order, nothing twice or left out, each piece at its offset.
                    let mut at = 2;
                    for (_, offset, bytes) in &read {
                        assert_eq!(*offset, at, "{context}");
                        assert_eq!(&content[at as usize..][..bytes.len()], &bytes[..]);
                        at += bytes.len() as u64;
                    }
                    assert_eq!(at, content.len() as u64, "{context}");
                    // Whole lines: only the file's last piece may end without a line feed.
                    for (i, (_, _, bytes)) in read.iter().enumerate() {
                        assert!(
                            bytes.ends_with(b"\n") || i == read.len() - 1,
                            "{context}: {i}"
                        );
                    }
                    // Batch 0 is one piece: the lines that end in its range, else the first
                    // line, and the file's first line is its whole.
                    let first: Vec<&Vec<u8>> = read
                        .iter()
                        .filter(|(b, _, _)| *b == 0)
                        .map(|(_, _, bytes)| bytes)
                        .collect();
                    assert_eq!(first.len(), 1, "{context}");
                    let range = &content[2..(2 + batch as usize).min(content.len())];
                    let expected = if range.len() == content.len() - 2 {
                        range.len()
                    } else if let Some(i) = memchr::memrchr(b'\n', range) {
                        i + 1
                    } else {
                        memchr::memchr(b'\n', &content[2..]).map_or(content.len() - 2, |i| i + 1)
                    };
                    assert_eq!(first[0].len(), expected, "{context}");
                }
            }
        }
    }

    #[test]
    fn batch_0_is_what_the_reader_thread_makes_its_first_batch() {
        // The lines that end in the first batch's bytes: the prefilter is tuned on the same
        // sample as through the reader, so the summary is the same.
        let line = format!("{{\"pad\":\"{}\"}}\n", "x".repeat(1000));
        let content = line.repeat(5000);
        let read = pieces(content.as_bytes(), 0, BATCH_BYTES as u64, PIECE_BYTES);
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(content.as_bytes()).unwrap();
        let input = super::super::open(file.path()).unwrap();
        let (send, receive) = std::sync::mpsc::sync_channel(1024);
        let (_give_back, free) = std::sync::mpsc::channel();
        input.read(send, free, usize::MAX).unwrap();
        let first = receive.recv().unwrap();
        assert_eq!(read[0].2, first.data);
        assert!(read[0].2.len() < BATCH_BYTES && read[0].2.len() + line.len() > BATCH_BYTES);
        assert!(
            read.len() > (content.len() - BATCH_BYTES) / PIECE_BYTES,
            "pieces after batch 0"
        );
    }
}
