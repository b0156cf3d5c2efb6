//! Splunk `.conf` files: `[stanza]` headers, `key = value` lines, `#` comment lines. A value
//! is trimmed at both ends; a line ending in `\` continues on the next line, and the value gets
//! a line break there. This is the reading Splunk's own parser (and ksconf) applies.

/// Stanzas in file order, each with its settings in file order.
pub(crate) type Stanzas = Vec<(String, Vec<(String, String)>)>;

pub(crate) fn parse(text: &str) -> Stanzas {
    let mut stanzas: Stanzas = vec![(String::new(), Vec::new())];
    let mut lines = text.split('\n');
    while let Some(line) = lines.next() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if trimmed.starts_with('[') && trimmed.ends_with(']') {
            stanzas.push((trimmed[1..trimmed.len() - 1].to_owned(), Vec::new()));
            continue;
        }
        let (key, first) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("neither a stanza nor a setting: {line:?}"));
        let mut value = first.trim_start().to_owned();
        while let Some(continued) = value.strip_suffix('\\') {
            value = format!(
                "{continued}\n{}",
                lines.next().expect("a continuation needs a next line")
            );
        }
        stanzas
            .last_mut()
            .unwrap()
            .1
            .push((key.trim().to_owned(), value.trim_end().to_owned()));
    }
    stanzas
}

/// The value of `key` in `stanza`.
pub(crate) fn get<'a>(stanzas: &'a Stanzas, stanza: &str, key: &str) -> &'a str {
    let (_, settings) = stanzas
        .iter()
        .find(|(name, _)| name == stanza)
        .unwrap_or_else(|| panic!("no stanza [{stanza}]"));
    settings
        .iter()
        .find(|(k, _)| k == key)
        .map_or_else(|| panic!("no {key} in [{stanza}]"), |(_, v)| v.as_str())
}
