//! Sigma string values, as the Sigma specification defines them: `*` is any text, `?` one
//! character, and a backslash escapes `*`, `?` or a backslash; before anything else it is a
//! plain backslash.

use rulecast::logic::pattern::{Pattern, Piece};

pub(crate) fn pattern(value: &str) -> Pattern {
    let mut pieces: Vec<Piece> = Vec::new();
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if matches!(chars.peek(), Some('*' | '?' | '\\')) => {
                literal(&mut pieces, chars.next().unwrap());
            }
            '*' => pieces.push(Piece::AnyText),
            '?' => pieces.push(Piece::AnyChar),
            c => literal(&mut pieces, c),
        }
    }
    Pattern { pieces }
}

fn literal(pieces: &mut Vec<Piece>, c: char) {
    match pieces.last_mut() {
        Some(Piece::Literal(text)) => text.push(c),
        _ => pieces.push(Piece::Literal(c.to_string())),
    }
}
