//! A structural check of SPL, since no offline SPL parser is worth using.
//!
//! It reads a search the way Splunk's parser splits it: quoted strings (`"..."` with `\`
//! escapes), quoted field names (`'...'`), macro calls between backticks, brackets and
//! subsearches, and `|` between commands at the top level. It reports unbalanced quotes and
//! brackets, an unknown command after a pipe, a macro that is not defined (or is defined with
//! another number of arguments), and a lookup that does not exist.

use std::collections::{BTreeMap, BTreeSet};

/// SPL commands a generated search may use (Splunk Enterprise 9.x search reference).
const COMMANDS: &[&str] = &[
    "abstract",
    "accum",
    "addcoltotals",
    "addinfo",
    "addtotals",
    "append",
    "appendcols",
    "appendpipe",
    "arules",
    "associate",
    "autoregress",
    "bin",
    "bucket",
    "bucketdir",
    "chart",
    "cluster",
    "collect",
    "concurrency",
    "contingency",
    "convert",
    "correlate",
    "datamodel",
    "dbinspect",
    "dedup",
    "delta",
    "diff",
    "eval",
    "eventcount",
    "eventstats",
    "extract",
    "fieldformat",
    "fields",
    "fieldsummary",
    "filldown",
    "fillnull",
    "findtypes",
    "foreach",
    "format",
    "from",
    "gauge",
    "geostats",
    "head",
    "highlight",
    "history",
    "iconify",
    "inputcsv",
    "inputlookup",
    "iplocation",
    "join",
    "kmeans",
    "kvform",
    "loadjob",
    "localize",
    "lookup",
    "makecontinuous",
    "makemv",
    "makeresults",
    "map",
    "metadata",
    "mstats",
    "multikv",
    "multisearch",
    "mvcombine",
    "mvexpand",
    "nomv",
    "outlier",
    "outputcsv",
    "outputlookup",
    "predict",
    "rangemap",
    "rare",
    "regex",
    "reltime",
    "rename",
    "replace",
    "rest",
    "return",
    "reverse",
    "rex",
    "search",
    "searchtxn",
    "selfjoin",
    "sendemail",
    "set",
    "sort",
    "spath",
    "stats",
    "strcat",
    "streamstats",
    "table",
    "tags",
    "tail",
    "timechart",
    "timewrap",
    "top",
    "transaction",
    "transpose",
    "trendline",
    "tstats",
    "typeahead",
    "typer",
    "union",
    "uniq",
    "untable",
    "where",
    "x11",
    "xmlkv",
    "xpath",
    "xyseries",
];

/// What a search may reference.
pub(crate) struct Definitions<'a> {
    /// Macro name -> the argument counts it is defined for.
    pub macros: &'a BTreeMap<String, BTreeSet<usize>>,
    pub lookups: &'a BTreeSet<String>,
}

/// Macro stanza names are `name` or `name(N)`; returns (name, N).
pub(crate) fn macro_signature(stanza: &str) -> (String, usize) {
    if let Some(open) = stanza.find('(')
        && let Some(n) = stanza[open + 1..]
            .strip_suffix(')')
            .and_then(|n| n.trim().parse().ok())
    {
        return (stanza[..open].to_owned(), n);
    }
    (stanza.to_owned(), 0)
}

/// Every structural problem of `search`.
pub(crate) fn check(search: &str, definitions: &Definitions) -> Vec<String> {
    let mut problems = Vec::new();
    // The commands between top-level pipes, and the macro calls, as slices of the search.
    let mut segments: Vec<&str> = Vec::new();
    let mut segment_start = 0;
    let mut macros: Vec<&str> = Vec::new();
    let mut stack: Vec<char> = Vec::new();
    let mut chars = search.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            '"' | '\'' => {
                let quote = c;
                let mut closed = false;
                while let Some((_, n)) = chars.next() {
                    if n == '\\' {
                        chars.next();
                    } else if n == quote {
                        closed = true;
                        break;
                    }
                }
                if !closed {
                    problems.push(format!(
                        "unterminated {} quote",
                        if quote == '"' { "double" } else { "single" }
                    ));
                }
            }
            '`' => {
                let mut end = None;
                for (i, n) in chars.by_ref() {
                    if n == '`' {
                        end = Some(i);
                        break;
                    }
                }
                if end.is_none() {
                    problems.push("unterminated macro call (backtick)".to_owned());
                }
                macros.push(&search[at + 1..end.unwrap_or(search.len())]);
            }
            '(' | '[' => stack.push(c),
            ')' | ']' => {
                let open = if c == ')' { '(' } else { '[' };
                if stack.pop() != Some(open) {
                    problems.push(format!("unbalanced `{c}`"));
                }
            }
            '|' if stack.is_empty() => {
                segments.push(&search[segment_start..at]);
                segment_start = at + 1;
            }
            _ => {}
        }
    }
    segments.push(&search[segment_start..]);
    for open in stack {
        problems.push(format!("unclosed `{open}`"));
    }
    for (i, segment) in segments.iter().enumerate() {
        let body = segment.trim();
        if i == 0 {
            if body.is_empty() && segments.len() > 1 {
                // A search may start with a generating command: `| makeresults`.
                continue;
            }
            continue;
        }
        if body.starts_with('`') {
            continue;
        }
        let command = body
            .split(|c: char| c.is_whitespace())
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if command.is_empty() {
            problems.push(format!("empty command after pipe {i}"));
        } else if !COMMANDS.contains(&command.as_str()) {
            problems.push(format!("unknown command `{command}` after pipe {i}"));
        }
        if command == "lookup" || command == "inputlookup" {
            let name = body
                .split_whitespace()
                .skip(1)
                .find(|w| !w.contains('='))
                .unwrap_or_default();
            if !definitions.lookups.contains(name) {
                problems.push(format!("lookup `{name}` is not defined in transforms.conf"));
            }
        }
    }
    for call in macros {
        let (name, arity) = match call.find('(') {
            Some(open) if call.ends_with(')') => {
                let args = &call[open + 1..call.len() - 1];
                (
                    call[..open].trim(),
                    if args.trim().is_empty() {
                        0
                    } else {
                        top_level_commas(args) + 1
                    },
                )
            }
            _ => (call.trim(), 0),
        };
        match definitions.macros.get(name) {
            None => problems.push(format!("macro `{name}` is not defined in macros.conf")),
            Some(arities) if !arities.contains(&arity) => problems.push(format!(
                "macro `{name}` is called with {arity} argument(s) but defined for {}",
                arities
                    .iter()
                    .map(std::string::ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" or ")
            )),
            _ => {}
        }
    }
    problems
}

fn top_level_commas(args: &str) -> usize {
    let (mut depth, mut in_quote, mut count) = (0i32, false, 0);
    let mut chars = args.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' if in_quote => {
                chars.next();
            }
            '"' => in_quote = !in_quote,
            '(' if !in_quote => depth += 1,
            ')' if !in_quote => depth -= 1,
            ',' if !in_quote && depth == 0 => count += 1,
            _ => {}
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defs() -> (BTreeMap<String, BTreeSet<usize>>, BTreeSet<String>) {
        let mut macros = BTreeMap::new();
        macros.insert("src".to_owned(), BTreeSet::from([0]));
        macros.insert("two".to_owned(), BTreeSet::from([2]));
        (macros, BTreeSet::from(["priv".to_owned()]))
    }

    fn run(search: &str) -> Vec<String> {
        let (macros, lookups) = defs();
        check(
            search,
            &Definitions {
                macros: &macros,
                lookups: &lookups,
            },
        )
    }

    #[test]
    fn a_well_formed_search_passes() {
        assert_eq!(
            run(
                "`src`\n| where x=\"a|b\\\"c\" AND 'f.x'=\"(\"\n| lookup priv account AS Actor OUTPUT account\n| stats count BY x\n| `two(a, \"b,c\")`"
            ),
            Vec::<String>::new()
        );
    }

    #[test]
    fn every_kind_of_problem_is_found() {
        assert_eq!(
            run("`src` | where x=\"open"),
            vec!["unterminated double quote"]
        );
        assert_eq!(run("`src` | eval x=(1"), vec!["unclosed `(`"]);
        assert_eq!(
            run("`src` | frobnicate x"),
            vec!["unknown command `frobnicate` after pipe 1"]
        );
        assert_eq!(
            run("`nope` | table x"),
            vec!["macro `nope` is not defined in macros.conf"]
        );
        assert_eq!(
            run("`src` | `two(a)`"),
            vec!["macro `two` is called with 1 argument(s) but defined for 2"]
        );
        assert_eq!(
            run("`src` | lookup missing a OUTPUT b"),
            vec!["lookup `missing` is not defined in transforms.conf"]
        );
        assert_eq!(run("`src` | eval x=1)"), vec!["unbalanced `)`"]);
    }
}
