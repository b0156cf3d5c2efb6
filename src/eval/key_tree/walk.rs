//! A quick walk over the top level of a JSON object: its keys, and the extent of each value.
//!
//! serde_json reads a record's top level at about 500 MB/s, most of it skipping values no
//! column needs and handing on the others as raw text; this walk finds the same keys and
//! extents several times faster (strings eight bytes at a time, containers by counting their
//! depth). It must never accept a text serde_json rejects, nor see other keys or values: it
//! gives up (`None`) on anything it is not certain of, and the caller then reads the text
//! with serde_json, so every error (its message and place) is serde_json's own. It gives up on
//! a key holding an escape (serde_json decodes those), on a control character in a string,
//! on nesting deeper than [`MAX_DEPTH`] and on every error; values are checked exactly as
//! serde_json skips them (`ignore_value`: any escape of JSON's, any four hex digits after
//! `\u`, JSON's numbers and literals).

// The steps a value is walked by are forced inline into `value_end`: as calls, their entry and
// exit were a tenth of the walk (callgrind, KeyTree::read 124 M to 113 M instructions over the
// first 100,000 generated events).
#![allow(clippy::inline_always)]

/// The deepest nesting inside a value followed here; deeper values make the walk give up.
const MAX_DEPTH: u32 = 128;

const ONES: u64 = u64::from_le_bytes([1; 8]);

/// Calls `member` with each key and raw value of the top-level object `text`, in order;
/// `None` when `text` may not be a JSON object as serde_json reads it, or when `member`
/// gives up.
pub(super) fn members<'a>(
    text: &'a str,
    mut member: impl FnMut(&'a str, &'a str) -> Option<()>,
) -> Option<()> {
    let bytes = text.as_bytes();
    let mut at = whitespace_end(bytes, 0);
    if bytes.get(at) != Some(&b'{') {
        return None;
    }
    at = whitespace_end(bytes, at + 1);
    if bytes.get(at) == Some(&b'}') {
        at += 1;
    } else {
        loop {
            if bytes.get(at) != Some(&b'"') {
                return None;
            }
            let key_end = string_end(bytes, at + 1, false)?;
            let key = text.get(at + 1..key_end - 1)?;
            at = whitespace_end(bytes, key_end);
            if bytes.get(at) != Some(&b':') {
                return None;
            }
            at = whitespace_end(bytes, at + 1);
            let end = value_end(bytes, at)?;
            member(key, text.get(at..end)?)?;
            at = whitespace_end(bytes, end);
            match bytes.get(at) {
                Some(b',') => at = whitespace_end(bytes, at + 1),
                Some(b'}') => {
                    at += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    (whitespace_end(bytes, at) == bytes.len()).then_some(())
}

/// The first byte at or after `at` that is not JSON whitespace.
#[inline(always)]
fn whitespace_end(bytes: &[u8], mut at: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\t' | b'\r') = bytes.get(at) {
        at += 1;
    }
    at
}

/// The end of the value starting at `at` (after its last byte).
fn value_end(bytes: &[u8], mut at: usize) -> Option<usize> {
    // For each open container, innermost in the lowest bit: whether it is an object.
    let mut objects: u128 = 0;
    let mut depth = 0;
    loop {
        match *bytes.get(at)? {
            open @ (b'{' | b'[') => {
                if depth == MAX_DEPTH {
                    return None;
                }
                depth += 1;
                objects = objects << 1 | u128::from(open == b'{');
                at = whitespace_end(bytes, at + 1);
                let close = if open == b'{' { b'}' } else { b']' };
                if bytes.get(at) == Some(&close) {
                    at += 1;
                    depth -= 1;
                    objects >>= 1;
                } else {
                    if open == b'{' {
                        at = inner_key_end(bytes, at)?;
                    }
                    continue;
                }
            }
            b'"' => at = string_end(bytes, at + 1, true)?,
            b't' => at = literal_end(bytes, at, b"true")?,
            b'f' => at = literal_end(bytes, at, b"false")?,
            b'n' => at = literal_end(bytes, at, b"null")?,
            _ => at = number_end(bytes, at)?,
        }
        // After a value: the next one of its container, or the container's end.
        loop {
            if depth == 0 {
                return Some(at);
            }
            at = whitespace_end(bytes, at);
            let in_object = objects & 1 == 1;
            match *bytes.get(at)? {
                b',' => {
                    at = whitespace_end(bytes, at + 1);
                    if in_object {
                        at = inner_key_end(bytes, at)?;
                    }
                    break;
                }
                b'}' if in_object => {}
                b']' if !in_object => {}
                _ => return None,
            }
            at += 1;
            depth -= 1;
            objects >>= 1;
        }
    }
}

/// After a key of an inner object (at `at`, its quote), its colon and the whitespace: where
/// its value starts. serde_json skips these keys as it skips strings, escapes and all.
#[inline(always)]
fn inner_key_end(bytes: &[u8], at: usize) -> Option<usize> {
    if bytes.get(at) != Some(&b'"') {
        return None;
    }
    let at = whitespace_end(bytes, string_end(bytes, at + 1, true)?);
    (bytes.get(at) == Some(&b':')).then(|| whitespace_end(bytes, at + 1))
}

/// The end of a string whose first byte (after the quote) is at `at`; `None` on a control
/// character, on an escape when `escapes` is false, or on one JSON does not allow.
#[inline(always)]
fn string_end(bytes: &[u8], mut at: usize, escapes: bool) -> Option<usize> {
    loop {
        // Eight bytes at a time, to the first quote, backslash or control character: each
        // test sets the top bit of a byte that is one, and the lowest such byte is exact (a
        // borrow only runs upwards from a byte that is one).
        while let Some(chunk) = bytes.get(at..at + 8) {
            let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
            let control = word.wrapping_sub(ONES * 0x20) & !word;
            let quote = word ^ (ONES * u64::from(b'"'));
            let quote = quote.wrapping_sub(ONES) & !quote;
            let backslash = word ^ (ONES * u64::from(b'\\'));
            let backslash = backslash.wrapping_sub(ONES) & !backslash;
            let special = (control | quote | backslash) & (ONES << 7);
            if special != 0 {
                at += special.trailing_zeros() as usize / 8;
                break;
            }
            at += 8;
        }
        match *bytes.get(at)? {
            b'"' => return Some(at + 1),
            b'\\' if escapes => at = escape_end(bytes, at + 1)?,
            byte if byte < 0x20 || byte == b'\\' => return None,
            _ => at += 1,
        }
    }
}

/// The end of an escape whose letter is at `at` (after the backslash).
fn escape_end(bytes: &[u8], at: usize) -> Option<usize> {
    match *bytes.get(at)? {
        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Some(at + 1),
        b'u' => bytes
            .get(at + 1..at + 5)?
            .iter()
            .all(u8::is_ascii_hexdigit)
            .then_some(at + 5),
        _ => None,
    }
}

fn literal_end(bytes: &[u8], at: usize, literal: &[u8]) -> Option<usize> {
    let end = at + literal.len();
    (bytes.get(at..end)? == literal).then_some(end)
}

/// The end of a JSON number starting at `at`: `-`, then `0` or digits not starting with
/// `0`, then a fraction and an exponent, each with at least one digit.
fn number_end(bytes: &[u8], mut at: usize) -> Option<usize> {
    let digits_end = |mut at: usize| {
        while bytes.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        at
    };
    if bytes.get(at) == Some(&b'-') {
        at += 1;
    }
    match *bytes.get(at)? {
        b'0' => {
            at += 1;
            if bytes.get(at).is_some_and(u8::is_ascii_digit) {
                return None;
            }
        }
        b'1'..=b'9' => at = digits_end(at + 1),
        _ => return None,
    }
    if bytes.get(at) == Some(&b'.') {
        let end = digits_end(at + 1);
        if end == at + 1 {
            return None;
        }
        at = end;
    }
    if let Some(b'e' | b'E') = bytes.get(at) {
        at += 1;
        if let Some(b'+' | b'-') = bytes.get(at) {
            at += 1;
        }
        let end = digits_end(at);
        if end == at {
            return None;
        }
        at = end;
    }
    Some(at)
}
