//! KQL string literals: `"..."`/`'...'` with backslash escapes, `@"..."`/`@'...'` verbatim
//! with the quote doubled. A line break inside a literal is a syntax error in KQL.

/// Every string literal in a KQL text, decoded, in order.
pub(crate) fn literals(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '/' if chars.get(i + 1) == Some(&'/') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '@' if matches!(chars.get(i + 1), Some('"' | '\'')) => {
                let (value, next) = verbatim(&chars, i + 1);
                out.push(value);
                i = next;
            }
            '"' | '\'' => {
                let (value, next) = regular(&chars, i);
                out.push(value);
                i = next;
            }
            _ => i += 1,
        }
    }
    out
}

/// The value of a text that must be exactly one literal.
pub(crate) fn decode(literal: &str) -> String {
    let chars: Vec<char> = literal.chars().collect();
    let (value, next) = match chars.first() {
        Some('@') => verbatim(&chars, 1),
        Some('"' | '\'') => regular(&chars, 0),
        _ => panic!("not a KQL string literal: {literal:?}"),
    };
    assert_eq!(next, chars.len(), "text after the literal: {literal:?}");
    value
}

fn verbatim(chars: &[char], open: usize) -> (String, usize) {
    let quote = chars[open];
    let mut value = String::new();
    let mut i = open + 1;
    loop {
        match chars.get(i) {
            None => panic!("unterminated verbatim literal"),
            Some('\n' | '\r') => panic!("line break inside a verbatim literal"),
            Some(&c) if c == quote && chars.get(i + 1) == Some(&quote) => {
                value.push(quote);
                i += 2;
            }
            Some(&c) if c == quote => return (value, i + 1),
            Some(&c) => {
                value.push(c);
                i += 1;
            }
        }
    }
}

fn regular(chars: &[char], open: usize) -> (String, usize) {
    let quote = chars[open];
    let mut value = String::new();
    let mut i = open + 1;
    loop {
        match chars.get(i) {
            None => panic!("unterminated literal"),
            Some('\n' | '\r') => panic!("line break inside a literal"),
            Some('\\') => {
                let escaped = *chars.get(i + 1).expect("escape at the end");
                i += 2;
                match escaped {
                    'n' => value.push('\n'),
                    'r' => value.push('\r'),
                    't' => value.push('\t'),
                    '\\' | '"' | '\'' => value.push(escaped),
                    'u' => {
                        let hex: String = chars[i..i + 4].iter().collect();
                        value.push(
                            char::from_u32(
                                u32::from_str_radix(&hex, 16).expect("\\u takes four hex digits"),
                            )
                            .expect("a scalar value"),
                        );
                        i += 4;
                    }
                    other => panic!("KQL has no escape `\\{other}`"),
                }
            }
            Some(&c) if c == quote => return (value, i + 1),
            Some(&c) => {
                value.push(c);
                i += 1;
            }
        }
    }
}
