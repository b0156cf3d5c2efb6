//! Passing over records that no detection can match, before they are parsed.
//!
//! Most of a real audit log is routine work (user, group and application changes) that no
//! detection looks at, and parsing a record as JSON is most of what a scan spends on it. Every
//! detection of the catalogue requires a plain column (`ActivityDisplayName`, `OperationName`)
//! to hold one of a few texts (the plain-column pre-filter the query compilers put first,
//! [`crate::eval::compiled::CompiledDetection::plain_prefilter`]), so a record whose bytes hold none of those texts,
//! ignoring ASCII case, cannot match anything. Searching the record's bytes (lower-cased) for
//! a few parts of those texts, one in each (`memmem`), then for the texts themselves
//! (Aho-Corasick) only where a part was found, tells at a fraction of the cost of parsing.
//!
//! The prefilter must never pass over a record that could match: alerts are exactly those of a
//! scan that parses everything (a test compares them). That is why a record is parsed when:
//!
//! * it holds a `\u` escape, which can spell any letter of a required text, or the short
//!   escape of a character a required text holds (`\/` when one holds a `/`);
//! * it holds a non-ASCII character that Unicode lower-cases to ASCII (KELVIN SIGN to `k`, the
//!   dotted capital I to `i` and a dot): values compare ignoring Unicode case;
//! * it may be a wrapper (`{"records": [...]}`), whose records are each counted;
//!
//! and the prefilter is off altogether when a detection requires no text (a regex, a glob, a
//! value that may be empty), when a required text is not ASCII, holds a quote or no letter
//! besides `e` (a number's spelling can change when it is read), or when a shape builds the
//! column from other keys. A shape that maps a column's values (`"0"` to `success`) adds the
//! spellings it maps from to the required texts.
//!
//! Records passed over are counted, not classified: the summary says how many, and `--strict`
//! (every skipped record is an error) parses every record. The first batch is always parsed
//! whole, so the summary still names the shapes a file holds and a file of no known shape is
//! still told apart from a quiet day.

use aho_corasick::AhoCorasick;
use memchr::memmem::Finder;

use crate::eval::Engine;
use crate::eval::engine::WRAPPER_KEYS;
use crate::eval::field::FieldPlan;
use crate::eval::logic_tree::LogicTree;
use crate::eval::matcher::CompiledMatch;
use crate::eval::shape::ColumnRead;
use crate::eval::source::SourcePlan;

/// Non-ASCII characters whose lower case holds an ASCII character (checked against every
/// character by a test), in UTF-8.
const LOWERING_TO_ASCII: [&str; 2] = ["\u{130}", "\u{212A}"];

/// The characters JSON may also write as a short escape, and the escape (`"` is never in a
/// required text).
const SHORT_ESCAPES: [(char, &str); 7] = [
    ('\\', "\\\\"),
    ('/', "\\/"),
    ('\u{8}', "\\b"),
    ('\u{c}', "\\f"),
    ('\n', "\\n"),
    ('\r', "\\r"),
    ('\t', "\\t"),
];

/// The required texts of a catalogue, and how to search a record for them.
#[derive(Debug, Clone)]
pub(crate) struct Prefilter {
    /// The required texts (lower case, sorted, without repeats).
    #[cfg(test)]
    pub texts: Vec<String>,
    /// A few parts of the required texts, one in each (and the escapes and characters that
    /// may hide a text): a first search that few records pass, since a few dozen texts that
    /// start alike make a slow one ("Update user" starts as "Update role setting in PIM").
    anchors: Vec<Finder<'static>>,
    /// The required texts, and the escapes and characters that may hide one.
    needles: AhoCorasick,
    /// The wrapper keys, quoted (keys are compared as written, and an escaped one is a `\u`).
    wrappers: [Finder<'static>; 3],
    /// The first batch passed through the prefilter; the batches before it are read whole.
    pub from_batch: u64,
}

impl Prefilter {
    /// The prefilter of `engine`'s detections; `None` when some detection requires no text.
    pub(crate) fn of(engine: &Engine) -> Option<Prefilter> {
        let mut texts: Vec<String> = Vec::new();
        for detection in &engine.detections {
            let plan = &engine.sources[detection.source];
            let required = tree_texts(detection.plain_prefilter()?, plan)?;
            texts.extend(required.into_iter().map(|t| t.to_ascii_lowercase()));
        }
        if texts.is_empty() {
            return None;
        }
        texts.sort_unstable();
        texts.dedup();
        let mut hazards: Vec<&str> = vec!["\\u"];
        hazards.extend(
            SHORT_ESCAPES
                .iter()
                .filter(|(c, _)| texts.iter().any(|t| t.contains(*c)))
                .map(|(_, escape)| *escape),
        );
        hazards.extend(LOWERING_TO_ASCII);
        // Both are searched for in the record lower-cased (ASCII only): a case-sensitive
        // automaton keeps its vectorised prefilter, which an ASCII-case-insensitive one loses.
        let searcher = |patterns: Vec<&str>| {
            AhoCorasick::new(patterns).expect("a few dozen texts always build")
        };
        let anchors = anchors(&texts);
        Some(Prefilter {
            anchors: anchors
                .iter()
                .map(String::as_str)
                .chain(hazards.iter().copied())
                .map(|a| Finder::new(a.as_bytes()).into_owned())
                .collect(),
            needles: searcher(texts.iter().map(String::as_str).chain(hazards).collect()),
            wrappers: WRAPPER_KEYS.map(|k| Finder::new(format!("\"{k}\"").as_bytes()).into_owned()),
            #[cfg(test)]
            texts,
            from_batch: 1,
        })
    }

    /// Whether the JSON text of a record (or of a wrapper, when `may_wrap`) may hold a record
    /// that some detection matches, and must be parsed.
    /// `lower` is scratch space, reused from record to record.
    pub(crate) fn must_parse(&self, text: &[u8], may_wrap: bool, lower: &mut Vec<u8>) -> bool {
        lower.clear();
        lower.extend(text.iter().map(u8::to_ascii_lowercase));
        (self.anchors.iter().any(|a| a.find(lower).is_some()) && self.needles.is_match(&lower[..]))
            || (may_wrap && self.may_be_wrapper(text))
    }

    /// Whether `text` is an array, or has a wrapper key followed by an array anywhere (a
    /// superset of "the object's own wrapper key holds an array").
    fn may_be_wrapper(&self, text: &[u8]) -> bool {
        text.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[')
            || self.wrappers.iter().any(|key| {
                key.find_iter(text).any(|at| {
                    let after = &text[at + key.needle().len()..];
                    let mut rest = after.iter().filter(|b| !b.is_ascii_whitespace());
                    rest.next() == Some(&b':') && rest.next() == Some(&b'[')
                })
            })
    }
}

/// Parts of `texts` such that each text holds one: chosen greedily, each the part that covers
/// the most texts not yet covered, weighted by its length (a longer part is rarer in a log).
fn anchors(texts: &[String]) -> Vec<String> {
    const LENGTHS: [usize; 6] = [4, 6, 8, 12, 16, 24];
    let mut left: Vec<&str> = texts.iter().map(String::as_str).collect();
    let mut anchors = Vec::new();
    while !left.is_empty() {
        let mut cover: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
        for text in &left {
            let mut parts: Vec<&str> = LENGTHS
                .iter()
                .flat_map(|&n| {
                    (0..=text.len().saturating_sub(n))
                        .map(move |i| &text[i..(i + n).min(text.len())])
                })
                .collect();
            parts.sort_unstable();
            parts.dedup();
            for part in parts {
                *cover.entry(part).or_default() += 1;
            }
        }
        // The best score; the first part (in byte order) among equals, so the choice is stable.
        let best = cover
            .iter()
            .max_by(|a, b| (a.1 * a.0.len()).cmp(&(b.1 * b.0.len())).then(b.0.cmp(a.0)))
            .map(|(part, _)| (*part).to_owned())
            .expect("texts are not empty");
        left.retain(|t| !t.contains(best.as_str()));
        anchors.push(best);
    }
    anchors.sort_unstable();
    anchors
}

/// Whether a record's bytes hold `text` whenever a value holds it: ASCII (compared ignoring
/// ASCII case), no quote (which JSON escapes), and a letter that no number is spelled with.
fn usable(text: &str) -> bool {
    text.is_ascii()
        && !text.contains('"')
        && text
            .bytes()
            .any(|b| b.is_ascii_alphabetic() && !b.eq_ignore_ascii_case(&b'e'))
}

/// Texts one of which every event meeting `tree` holds in its raw columns.
fn tree_texts(tree: &LogicTree<CompiledMatch>, plan: &SourcePlan) -> Option<Vec<String>> {
    match tree {
        LogicTree::Leaf(m) => match_texts(m, plan),
        LogicTree::Not(_) => None,
        // Any part will do: the one whose shortest text is longest rules out the most.
        LogicTree::And(items) => items
            .iter()
            .filter_map(|item| tree_texts(item, plan))
            .max_by_key(|texts| texts.iter().map(String::len).min().unwrap_or(0)),
        LogicTree::Or(items) => {
            let mut texts = Vec::new();
            for item in items {
                texts.extend(tree_texts(item, plan)?);
            }
            Some(texts)
        }
    }
}

/// The texts of one match, and the spellings the shapes map the column's values from; `None`
/// when one of them is not [`usable`].
fn match_texts(m: &CompiledMatch, plan: &SourcePlan) -> Option<Vec<String>> {
    let FieldPlan::Plain { column } = plan.field_plan(m.field) else {
        return None;
    };
    let mut texts: Vec<String> = m.required_texts()?.into_iter().map(str::to_owned).collect();
    for shape in plan.shapes() {
        match &shape.columns[*column] {
            ColumnRead::Built(_) => return None,
            ColumnRead::At {
                values: Some(values),
                ..
            } => texts.extend(values.keys().cloned()),
            ColumnRead::At { values: None, .. } | ColumnRead::Absent => {}
        }
    }
    // A part of a condition whose texts cannot be searched for is no part to rely on; another
    // part of an `and` may be.
    texts.iter().all(|t| usable(t)).then_some(texts)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::catalogue::Catalogue;

    fn parses(prefilter: &Prefilter, text: &[u8], may_wrap: bool) -> bool {
        prefilter.must_parse(text, may_wrap, &mut Vec::new())
    }

    fn shipped() -> Catalogue {
        Catalogue::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("detections")).unwrap()
    }

    #[test]
    fn every_character_that_lower_cases_to_ascii_is_a_needle() {
        let lowering: Vec<String> = (0..=u32::from(char::MAX))
            .filter_map(char::from_u32)
            .filter(|c| !c.is_ascii() && c.to_lowercase().any(|l| l.is_ascii()))
            .map(String::from)
            .collect();
        assert_eq!(lowering, LOWERING_TO_ASCII);
    }

    #[test]
    fn the_shipped_catalogue_has_a_prefilter_of_activity_and_operation_names() {
        let catalogue = shipped();
        let engine = Engine::new(&catalogue, |_| true);
        let prefilter = Prefilter::of(&engine).expect("every shipped detection requires a text");
        assert!(
            prefilter
                .texts
                .contains(&"add eligible member to role in pim completed (timebound)".to_owned()),
            "{:?}",
            prefilter.texts
        );
        let routine = br#"{"TimeGenerated":"2025-06-01T00:00:00Z","ActivityDisplayName":"Update user","Category":"UserManagement","AdditionalDetails":[{"key":"x","value":"y"}]}"#;
        assert!(!parses(&prefilter, routine, true));
        let disable = br#"{"TimeGenerated":"2025-06-01T00:00:00Z","ActivityDisplayName":"DISABLE PIM ALERT"}"#;
        assert!(parses(&prefilter, disable, true), "case is ignored");
        // Near misses that must be parsed all the same.
        let escaped = br#"{"ActivityDisplayName":"Disable PIM \u0061lert"}"#;
        assert!(
            parses(&prefilter, escaped, true),
            "an escape may spell a letter"
        );
        let quoted = br#"{"ActivityDisplayName":"Update user","TargetResources":[{"newValue":"\"Member\""}]}"#;
        assert!(
            !parses(&prefilter, quoted, true),
            "an escaped quote spells no letter"
        );
        let slashes =
            br#"{"OperationNameValue":"MICROSOFT.AUTHORIZATION\/ROLEASSIGNMENTS\/WRITE"}"#;
        assert!(
            parses(&prefilter, slashes, true),
            "a required text holds a `/`"
        );
        let kelvin = "{\"ActivityDisplayName\":\"Update user \u{212A}\"}";
        assert!(parses(&prefilter, kelvin.as_bytes(), true));
        let wrapper = br#"{"records" : [ {"ActivityDisplayName":"Update user"} ]}"#;
        assert!(
            parses(&prefilter, wrapper, true),
            "a wrapper's records are counted"
        );
        assert!(
            !parses(&prefilter, wrapper, false),
            "unless it cannot be unpacked"
        );
        assert!(
            parses(&prefilter, br#" [{"a":1}]"#, true),
            "so are an array's"
        );
    }

    #[test]
    fn every_required_text_holds_an_anchor() {
        let catalogue = shipped();
        let engine = Engine::new(&catalogue, |_| true);
        let texts = Prefilter::of(&engine).unwrap().texts;
        let chosen = anchors(&texts);
        assert!(chosen.len() < texts.len() / 2, "{chosen:?}");
        for text in &texts {
            assert!(chosen.iter().any(|a| text.contains(a.as_str())), "{text}");
        }
        assert_eq!(
            anchors(&["ab".to_owned()]),
            ["ab"],
            "a text shorter than any part"
        );
    }

    #[test]
    fn each_detection_contributes_the_most_selective_part_of_its_condition() {
        let (_dir, catalogue) = crate::test_support::catalogue(&[], &[]);
        let engine = Engine::new(&catalogue, |_| true);
        let prefilter = Prefilter::of(&engine).unwrap();
        // `Category: RoleManagement` is required too, but the activity rules out more.
        assert_eq!(
            prefilter.texts,
            [
                "add eligible member to role in pim completed",
                "disable pim alert"
            ]
        );
    }

    #[test]
    fn a_detection_that_requires_no_text_turns_the_prefilter_off() {
        let (_dir, catalogue) = crate::test_support::catalogue(
            &[(
                "entra-roles/pim-alert-disabled.yaml",
                "    Category: RoleManagement\n    ActivityDisplayName: Disable PIM alert",
                "    ActivityDisplayName|re: 'Disable .* alert'",
            )],
            &[],
        );
        let engine = Engine::new(&catalogue, |_| true);
        assert!(Prefilter::of(&engine).is_none());
        let burst_only = Engine::new(&catalogue, |i| {
            catalogue.detections[i].slug.contains("burst")
        });
        assert!(
            Prefilter::of(&burst_only).is_some(),
            "only the detections scanned count"
        );
        // A number cannot be searched for: the other part of the `and` is used instead.
        let (_dir, catalogue) = crate::test_support::catalogue(
            &[(
                "entra-roles/pim-alert-disabled.yaml",
                "    ActivityDisplayName: Disable PIM alert",
                "    ActivityDisplayName: '42'",
            )],
            &[],
        );
        let engine = Engine::new(&catalogue, |_| true);
        let texts = Prefilter::of(&engine).unwrap().texts;
        assert!(
            texts.contains(&"rolemanagement".to_owned()),
            "the other part of the `and`: {texts:?}"
        );
        assert!(!usable("42"), "a number's spelling can change");
        assert!(!usable("1e5"));
        assert!(!usable("say \"hi\""));
        assert!(!usable("Ärger"));
        assert!(usable("Disable PIM alert"));
    }
}
