//! Sigma value patterns: `*` matches any text, `?` one character, `\` escapes them.
//!
//! Catalogue values follow Sigma's rules so rules round-trip to Sigma unchanged. Each target
//! compiles a [`Pattern`] its own way (KQL `=~`/`startswith`/regex, SPL `match`, Sigma with its
//! escapes, the evaluator directly), which keeps wildcard handling in one place.

/// One piece of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Literal(String),
    /// `*`
    AnyText,
    /// `?`
    AnyChar,
}

/// A parsed Sigma value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pattern {
    pub pieces: Vec<Piece>,
}

impl Pattern {
    /// Parses Sigma wildcard syntax. A backslash escapes `*`, `?` and `\`; before anything else it
    /// is a literal backslash, as the Sigma specification says.
    pub fn parse(text: &str) -> Pattern {
        let mut pattern = Pattern::default();
        // Most values are one literal: sized once, and kept for the whole run.
        let mut literal = String::with_capacity(text.len());
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.peek() {
                    Some(&next @ ('*' | '?' | '\\')) => {
                        literal.push(next);
                        chars.next();
                    }
                    _ => literal.push('\\'),
                },
                '*' | '?' => {
                    if !literal.is_empty() {
                        pattern
                            .pieces
                            .push(Piece::Literal(std::mem::take(&mut literal)));
                    }
                    pattern.pieces.push(if c == '*' {
                        Piece::AnyText
                    } else {
                        Piece::AnyChar
                    });
                }
                _ => literal.push(c),
            }
        }
        if !literal.is_empty() {
            pattern.pieces.push(Piece::Literal(literal));
        }
        pattern.pieces.shrink_to_fit();
        pattern
    }

    /// A pattern matching exactly `text`.
    pub fn literal(text: &str) -> Pattern {
        let pieces = if text.is_empty() {
            vec![]
        } else {
            vec![Piece::Literal(text.to_owned())]
        };
        Pattern { pieces }
    }

    /// `*text*`, `text*`, `*text` for the contains/startswith/endswith modifiers.
    #[must_use]
    pub fn wrap(mut self, any_before: bool, any_after: bool) -> Pattern {
        if any_before && self.pieces.first() != Some(&Piece::AnyText) {
            self.pieces.insert(0, Piece::AnyText);
        }
        if any_after && self.pieces.last() != Some(&Piece::AnyText) {
            self.pieces.push(Piece::AnyText);
        }
        self
    }

    /// Recognises the shapes every backend has a native operator for.
    pub fn shape(&self) -> Shape {
        use Piece::{AnyText, Literal};
        match self.pieces.as_slice() {
            [] => Shape::Exact(String::new()),
            [Literal(s)] => Shape::Exact(s.clone()),
            [AnyText] => Shape::Anything,
            [AnyText, Literal(s), AnyText] => Shape::Contains(s.clone()),
            [Literal(s), AnyText] => Shape::StartsWith(s.clone()),
            [AnyText, Literal(s)] => Shape::EndsWith(s.clone()),
            _ => Shape::Complex,
        }
    }

    /// An anchored regular expression equivalent to the pattern (for backends without globbing).
    pub fn to_regex(&self) -> String {
        let mut out = String::from("^");
        for piece in &self.pieces {
            match piece {
                Piece::Literal(s) => out.push_str(&regex::escape(s)),
                Piece::AnyText => out.push_str("(?s:.*)"),
                Piece::AnyChar => out.push_str("(?s:.)"),
            }
        }
        out.push('$');
        out
    }

    /// Back to Sigma syntax, escaping what must be escaped.
    pub fn to_sigma(&self) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Literal(s) => {
                    for c in s.chars() {
                        if matches!(c, '*' | '?' | '\\') {
                            out.push('\\');
                        }
                        out.push(c);
                    }
                }
                Piece::AnyText => out.push('*'),
                Piece::AnyChar => out.push('?'),
            }
        }
        out
    }

    /// Case-insensitive (unless `cased`) match of a whole string.
    pub fn matches(&self, text: &str, cased: bool) -> bool {
        if cased {
            glob_match(&self.pieces, &text.chars().collect::<Vec<_>>(), false)
        } else {
            glob_match(
                &self.pieces,
                &text
                    .chars()
                    .flat_map(char::to_lowercase)
                    .collect::<Vec<_>>(),
                true,
            )
        }
    }
}

/// What a pattern amounts to, for backends with specialised operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    Exact(String),
    Contains(String),
    StartsWith(String),
    EndsWith(String),
    Anything,
    Complex,
}

/// Iterative glob matching with backtracking on the last `*`, linear in practice.
fn glob_match(pieces: &[Piece], text: &[char], lowercase: bool) -> bool {
    // Flatten literals into per-character tokens.
    enum Tok {
        Char(char),
        Any,
        Star,
    }
    let mut toks = Vec::new();
    for p in pieces {
        match p {
            Piece::Literal(s) => {
                if lowercase {
                    toks.extend(s.chars().flat_map(char::to_lowercase).map(Tok::Char));
                } else {
                    toks.extend(s.chars().map(Tok::Char));
                }
            }
            Piece::AnyChar => toks.push(Tok::Any),
            Piece::AnyText => toks.push(Tok::Star),
        }
    }
    let (mut t, mut p) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match toks.get(p) {
            Some(Tok::Char(c)) if *c == text[t] => {
                t += 1;
                p += 1;
            }
            Some(Tok::Any) => {
                t += 1;
                p += 1;
            }
            Some(Tok::Star) => {
                star = Some((p, t));
                p += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    toks[p..].iter().all(|t| matches!(t, Tok::Star))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_wildcards_and_escapes() {
        let p = Pattern::parse(r"a*b?c\*d\\e\f");
        assert_eq!(
            p.pieces,
            vec![
                Piece::Literal("a".into()),
                Piece::AnyText,
                Piece::Literal("b".into()),
                Piece::AnyChar,
                Piece::Literal(r"c*d\e\f".into()),
            ]
        );
        assert_eq!(p.to_sigma(), r"a*b?c\*d\\e\\f");
        assert_eq!(Pattern::parse(&p.to_sigma()), p);
    }

    #[test]
    fn matches_like_sigma() {
        let p = Pattern::parse("Add * member*");
        assert!(p.matches("add eligible member to role", false));
        assert!(!p.matches("add eligible member to role", true));
        assert!(Pattern::parse("a?c").matches("abc", false));
        assert!(!Pattern::parse("a?c").matches("ac", false));
        assert!(Pattern::parse("*").matches("", false));
        assert!(Pattern::literal("x*y").matches("X*Y", false));
        assert!(!Pattern::literal("x*y").matches("xzy", false));
        assert!(Pattern::parse("*aab").matches("aaab", false));
    }

    #[test]
    fn regex_is_equivalent() {
        let p = Pattern::parse("a.b*(c)?");
        let re = regex::Regex::new(&format!("(?i){}", p.to_regex())).unwrap();
        assert!(re.is_match("A.Bxyz(C)!"));
        assert!(!re.is_match("aXb(c)!"));
    }
}
