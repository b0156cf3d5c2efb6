//! SPL eval string expressions: `"..."` (only `\"` and `\\` are escapes) and
//! `urldecode("%XX...")`, joined into one string with `.`. Single-quoted field names and
//! backtick macro calls are skipped, so quotes inside them are not taken for strings.

/// Every string expression in an SPL text, decoded, in order.
pub(crate) fn literals(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if starts_part(&chars, i) {
            let (value, next) = chain(&chars, i);
            out.push(value);
            i = next;
            continue;
        }
        match chars[i] {
            '\'' => i = skip_quoted(&chars, i, '\''),
            '`' => i = skip_quoted(&chars, i, '`'),
            _ => i += 1,
        }
    }
    out
}

/// The value of a text that must be exactly one string expression.
pub(crate) fn decode(expression: &str) -> String {
    let chars: Vec<char> = expression.chars().collect();
    assert!(
        starts_part(&chars, 0),
        "not an SPL string expression: {expression:?}"
    );
    let (value, next) = chain(&chars, 0);
    assert_eq!(
        next,
        chars.len(),
        "text after the expression: {expression:?}"
    );
    value
}

const URLDECODE: &str = "urldecode(\"";

fn starts_part(chars: &[char], i: usize) -> bool {
    chars.get(i) == Some(&'"')
        || chars[i..]
            .iter()
            .take(URLDECODE.len())
            .copied()
            .eq(URLDECODE.chars())
}

fn chain(chars: &[char], mut i: usize) -> (String, usize) {
    let mut value = String::new();
    loop {
        let (part, next) = if chars[i] == '"' {
            quoted(chars, i)
        } else {
            urldecoded(chars, i)
        };
        value.push_str(&part);
        i = next;
        if chars.get(i) == Some(&'.') && starts_part(chars, i + 1) {
            i += 1;
        } else {
            return (value, i);
        }
    }
}

fn quoted(chars: &[char], open: usize) -> (String, usize) {
    let mut value = String::new();
    let mut i = open + 1;
    loop {
        match chars.get(i) {
            None => panic!("unterminated string"),
            Some('\n' | '\r') => panic!("line break inside an SPL string"),
            Some('`') => panic!("a backtick inside a string: Splunk would expand a macro there"),
            Some('\\') => match chars.get(i + 1) {
                Some(&c @ ('"' | '\\')) => {
                    value.push(c);
                    i += 2;
                }
                other => panic!("SPL has no escape `\\{other:?}`"),
            },
            Some('"') => return (value, i + 1),
            Some(&c) => {
                value.push(c);
                i += 1;
            }
        }
    }
}

fn urldecoded(chars: &[char], start: usize) -> (String, usize) {
    let mut i = start + URLDECODE.len();
    let mut bytes = Vec::new();
    while chars.get(i) == Some(&'%') {
        let hex: String = chars[i + 1..i + 3].iter().collect();
        bytes.push(u8::from_str_radix(&hex, 16).expect("%XX"));
        i += 3;
    }
    assert_eq!(
        chars.get(i..i + 2),
        Some(&['"', ')'][..]),
        "urldecode() holds only %XX escapes"
    );
    (String::from_utf8(bytes).expect("UTF-8"), i + 2)
}

fn skip_quoted(chars: &[char], open: usize, quote: char) -> usize {
    let mut i = open + 1;
    while i < chars.len() && chars[i] != quote {
        i += if chars[i] == '\\' { 2 } else { 1 };
    }
    i + 1
}
