//! Reading Splunk `.conf` files back, with Splunk's own rules: `[stanza]` headers, `key = value`
//! lines, `#` comments, and a backslash at the end of a line continuing the value on the next
//! line (the newline is kept in the value).
//!
//! rulecast checks what it wrote by reading it the way Splunk will, so a template override that
//! breaks the format is caught before deployment.

use std::collections::BTreeMap;

/// A parsed `.conf` file: stanza -> key -> (value, line of the key).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Conf {
    pub stanzas: BTreeMap<String, Stanza>,
    /// Stanzas in file order.
    pub order: Vec<String>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Stanza {
    pub line: usize,
    pub values: BTreeMap<String, (String, usize)>,
}

impl Stanza {
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(|(v, _)| v.as_str())
    }
}

/// A problem found while reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConfProblem {
    pub line: usize,
    pub message: String,
}

/// Parses `.conf` text. Problems (malformed lines, duplicate stanzas or keys) are returned
/// beside whatever could be read.
pub(crate) fn parse(text: &str) -> (Conf, Vec<ConfProblem>) {
    let mut conf = Conf::default();
    let mut problems = Vec::new();
    let mut current = String::new();
    conf.stanzas.insert(String::new(), Stanza::default());
    let mut lines = text.split('\n').enumerate().peekable();
    while let Some((index, raw)) = lines.next() {
        let number = index + 1;
        let line = raw.trim_end_matches('\r');
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if trimmed.starts_with('[') {
            let Some(end) = trimmed.rfind(']') else {
                problems.push(ConfProblem {
                    line: number,
                    message: "stanza header without a closing `]`".to_owned(),
                });
                continue;
            };
            trimmed[1..end].clone_into(&mut current);
            if conf.stanzas.contains_key(&current) && !current.is_empty() {
                problems.push(ConfProblem {
                    line: number,
                    message: format!("stanza [{current}] appears twice"),
                });
            }
            conf.stanzas
                .entry(current.clone())
                .or_insert_with(|| Stanza {
                    line: number,
                    values: BTreeMap::new(),
                });
            conf.order.push(current.clone());
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            problems.push(ConfProblem {
                line: number,
                message: format!(
                    "line is neither a stanza, a comment nor `key = value`: {trimmed}"
                ),
            });
            continue;
        };
        let key = key.trim().to_owned();
        let mut value = value.trim_start().to_owned();
        while value.ends_with('\\') {
            value.pop();
            value.push('\n');
            match lines.next() {
                Some((_, next)) => value.push_str(next.trim_end_matches('\r')),
                None => break,
            }
        }
        let value = value.trim_end().to_owned();
        let stanza = conf
            .stanzas
            .get_mut(&current)
            .expect("current stanza exists");
        if stanza.values.contains_key(&key) {
            problems.push(ConfProblem {
                line: number,
                message: format!("key `{key}` appears twice in [{current}]"),
            });
        }
        stanza.values.insert(key, (value, number));
    }
    (conf, problems)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::encode::conf_value;

    #[test]
    fn reads_continuations_back_to_the_value() {
        let value = "line one\n| where x=\"a\\b\"\n  indented";
        let text = format!(
            "# comment\n[s]\nsearch = {}\nother = 1\n",
            conf_value(value).unwrap()
        );
        let (conf, problems) = parse(&text);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(conf.stanzas["s"].get("search"), Some(value));
        assert_eq!(conf.stanzas["s"].get("other"), Some("1"));
    }

    #[test]
    fn reports_malformed_lines_and_duplicates() {
        let (_, problems) = parse("[a]\nx = 1\nx = 2\njunk\n[a\n[a]\n");
        let messages: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
        assert!(
            messages.iter().any(|m| m.contains("`x` appears twice")),
            "{messages:?}"
        );
        assert!(
            messages.iter().any(|m| m.starts_with("line is neither")),
            "{messages:?}"
        );
        assert!(
            messages.iter().any(|m| m.contains("closing")),
            "{messages:?}"
        );
        assert!(
            messages.iter().any(|m| m.contains("[a] appears twice")),
            "{messages:?}"
        );
    }
}
