//! Passing over records that no detection can match, before they are parsed.
//!
//! Most of a real audit log is routine work (user, group and application changes) that no
//! detection looks at, and parsing a record as JSON is most of what a scan spends on it. Every
//! detection of the catalogue requires a plain column (`ActivityDisplayName`, `OperationName`)
//! to hold one of a few texts (the plain-column pre-filter the query compilers put first,
//! [`crate::eval::compiled::CompiledDetection::plain_prefilter`]), so a record whose bytes
//! hold none of those texts, ignoring ASCII case, cannot match anything. Three steps tell, at
//! a fraction of the cost of parsing:
//!
//! 1. a whole batch of JSON lines (2 MB, or the quarter megabyte of it that a worker reads at a
//!    time from a regular file) is searched at once (case-folded a piece at a time,
//!    so the copy is searched while in the cache) for a few parts (the anchors) of the rare
//!    texts, and for the wrapper keys and the hazards below. The rare texts are one part of
//!    each detection's condition, its rarest texts (the ids of the `tier0_groups` rather than
//!    "Add member to group"), so every record a detection matches holds one; the anchors are
//!    parts of them, one in each, chosen by how often their first bytes occur in the log's
//!    first batch (which is parsed whole anyway, [`Prefilter::tuned_of`]): the search (one
//!    Aho-Corasick search whose packed SIMD prefilter, Teddy, runs at several GB/s) checks
//!    every place that shows a pattern's first four bytes, so an anchor starting as routine
//!    records do ("date role setting in pim" and "Update user") slows it down several times.
//!    A line without a find costs nothing more, which is nine lines in ten of a routine log;
//! 2. a line with an anchor is searched (packed SIMD again) for the rare texts; in a line with
//!    one, each detection's condition is evaluated over the texts it requires, of any field
//!    whose value the record's bytes show as it is (the activity, the category, a group id
//!    inside `TargetResources`), each searched for when the condition asks: "Add member to
//!    group" is an activity a detection requires, but only with the id of a group on its
//!    `tier0_groups` list, so a routine group membership is passed over. Only the conditions
//!    of the detections whose rare texts the line holds are asked; where the first batch shows
//!    that they rule out fewer than two fifths of the lines with a rare text, they are not
//!    asked and such lines are parsed (asking costs about two fifths of parsing). Which
//!    lines are parsed does not depend on the anchors, only how fast that is told;
//! 3. only the lines that may match are parsed.
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

use std::ops::Range;

use aho_corasick::{AhoCorasick, MatchKind};

use crate::eval::Engine;
use crate::eval::compiled::CompiledDetection;
use crate::eval::engine::WRAPPER_KEYS;
use crate::eval::field::FieldPlan;
use crate::eval::logic_tree::LogicTree;
use crate::eval::matcher::CompiledMatch;
use crate::eval::shape::ColumnRead;
use crate::eval::source::SourcePlan;

/// How many bytes of a batch are lower-cased at a time, to be searched while in the cache.
const LOWER_CASED_PIECE: usize = 32 * 1024;

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

/// The required texts of a catalogue, and how to search a record, or a whole batch of JSON
/// lines, for them.
#[derive(Debug, Clone)]
pub(crate) struct Prefilter {
    /// The required texts (lower case, sorted, without repeats).
    #[cfg(test)]
    pub texts: Vec<String>,
    /// A few parts of the rare texts, one in each (the anchors, [`anchors`]), then the quoted
    /// wrapper keys: one search over a whole batch (lower-cased), which few lines pass. A few
    /// dozen texts that start alike make a slow search ("Update user" starts as "Update role
    /// setting in PIM"); a few parts whose first bytes are rare in the log make one that runs
    /// at several GB/s (Aho-Corasick's packed SIMD prefilter, Teddy, which fingerprints each
    /// pattern's first bytes and checks every place of the log that shows one).
    first: AhoCorasick,
    /// How many of `first`'s patterns are anchors (the wrapper keys follow).
    anchors: usize,
    /// The anchors.
    #[cfg(test)]
    pub anchor_texts: Vec<String>,
    /// The escapes that may hide a text (a backslash and a letter, ignoring its case), by the
    /// byte after the backslash: a line that holds one is parsed, and so is a line that holds
    /// one of [`LOWERING_TO_ASCII`]. A table, as most backslashes of a log escape a quote.
    escape_letters: [bool; 256],
    /// Every text the detections' conditions require (of any field whose value the record's
    /// bytes show as it is), searched for in the lines where an anchor was found...
    needed: NeededTexts,
    /// ...but only in a line that holds one of a few texts every match of some detection
    /// holds (one part of each condition: the rarest by [`shortest`]): a search whose packed
    /// SIMD prefilter runs at several GB/s, where the search for every text runs an automaton
    /// over every byte. A routine "Add member to group" holds the activity a detection
    /// requires, but not the id of any group on its list, and stops here...
    rare: AhoCorasick,
    /// `rare`'s texts (lower case, none holding another), which the anchors are parts of.
    pub(super) rare_texts: Vec<String>,
    /// For each of `needs`, the rare texts one of which a line holds wherever it meets that
    /// condition: a condition is asked only in a line that holds one.
    gates: Vec<Vec<usize>>,
    /// ...to tell, per detection, whether the line holds the texts its condition requires
    /// (leaves: indexes of `needed`'s texts, one of which must be found). The anchors come from
    /// one part of each condition, chosen to be searched for fast; these are all parts:
    /// a routine "Add member to group" holds the activity a detection requires, but not the
    /// id of a group on its list.
    needs: Vec<LogicTree<Vec<usize>>>,
    /// Whether `needs` are asked, or every line with a rare text is parsed: asking costs about
    /// two fifths of parsing a line (callgrind, Log Analytics rows), so it is worth it only in a
    /// log where it rules out at least as many of those lines ([`Prefilter::tuned_of`]).
    ask_needs: bool,
    /// The first batch passed through the prefilter; the batches before it are read whole.
    pub from_batch: u64,
}

/// Why a place of a batch was found by [`Prefilter::search`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Found {
    /// A part of a required text: the line is parsed if it holds a whole one.
    Anchor,
    /// An escape or character that may hide a text, or a wrapper key before an array: the
    /// line is parsed.
    Parse,
}

/// Where the lines of a batch that may hold a required text are, from one search of the
/// whole batch ([`Prefilter::search`]). Reused from batch to batch.
#[derive(Debug, Default)]
pub(crate) struct Candidates {
    /// A piece of the batch, folded ([`fold_case_into`]). Not shared with `lower`: a buffer
    /// shrunk to a line and grown back to a piece is zeroed again (a fifth of the search's
    /// own time).
    folded: Vec<u8>,
    /// The line asked about, lower-cased (ASCII only).
    lower: Vec<u8>,
    /// Places found, in byte order.
    found: Vec<(usize, Found)>,
    /// Which of the needed texts a line holds, of those a condition asked about.
    holds: Vec<Option<bool>>,
    /// Which of the rare texts a line holds.
    present: Vec<bool>,
    /// The next of `found` not yet looked at.
    next: usize,
}

impl Prefilter {
    /// The prefilter of `engine`'s detections; `None` when some detection requires no text.
    #[cfg(test)]
    pub(crate) fn of(engine: &Engine) -> Option<Prefilter> {
        Prefilter::of_leads(engine, None)
    }

    /// The prefilter tuned to the log that starts with `sample`: `Prefilter::of` then
    /// `Prefilter::tuned` (as the tests make it), without choosing anchors for no sample first
    /// (half of making the prefilter).
    pub(crate) fn tuned_of(engine: &Engine, sample: &[u8]) -> Option<Prefilter> {
        let sample = self::sample(sample);
        Prefilter::of_leads(engine, Some(sample)).map(|p| p.asking_if_worth_it(sample))
    }

    /// The prefilter with anchors chosen by how often their leads occur in `sample` (all
    /// alike without one).
    fn of_leads(engine: &Engine, sample: Option<&[u8]>) -> Option<Prefilter> {
        let mut texts: Vec<String> = Vec::new();
        let mut needs = Vec::new();
        let mut needed = Interned::default();
        let mut rare: Vec<String> = Vec::new();
        let mut cuts: Vec<Vec<String>> = Vec::new();
        for detection in &engine.detections {
            let plan = &engine.sources[detection.source];
            let leaf = |m: &CompiledMatch| match_texts(m, plan);
            let required = tree_texts(detection.plain_prefilter()?, &leaf)?;
            texts.extend(required.into_iter().map(|t| t.to_ascii_lowercase()));
            let need = detection_needs(detection, plan).expect("a detection with texts needs them");
            let texts_of = |any: &Vec<String>| Some(any.clone());
            let cut = tree_texts(&need, &texts_of).expect("a detection with texts needs them");
            let cut: Vec<String> = cut.into_iter().map(|t| t.to_ascii_lowercase()).collect();
            rare.extend(cut.iter().cloned());
            cuts.push(cut);
            needs.push(needed.intern(need));
        }
        if texts.is_empty() {
            return None;
        }
        texts.sort_unstable();
        texts.dedup();
        let mut escapes: Vec<&str> = vec!["\\u"];
        escapes.extend(
            SHORT_ESCAPES
                .iter()
                .filter(|(c, _)| texts.iter().chain(&needed.texts).any(|t| t.contains(*c)))
                .map(|(_, escape)| *escape),
        );
        let rare_texts = without_longer(rare);
        // A line that meets a condition holds one of its cut's texts, and so one of the rare
        // texts, which are the cuts' texts without those holding another.
        let gates = cuts
            .iter()
            .map(|cut| {
                (0..rare_texts.len())
                    .filter(|r| cut.iter().any(|c| c.contains(rare_texts[*r].as_str())))
                    .collect()
            })
            .collect();
        let leads = sample.map_or_else(LeadCounts::default, |s| LeadCounts::of(&rare_texts, s));
        let anchors = in_bucket_order(anchors(&rare_texts, &leads), sample.unwrap_or_default());
        Some(Prefilter {
            anchors: anchors.len(),
            #[cfg(test)]
            anchor_texts: anchors.clone(),
            first: first_search(anchors),
            escape_letters: escape_letters(&escapes),
            needed: NeededTexts::of(&needed.texts),
            rare: AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .build(&rare_texts)
                .expect("a few dozen texts always build"),
            rare_texts,
            gates,
            needs,
            ask_needs: true,
            #[cfg(test)]
            texts,
            from_batch: FIRST_FILTERED,
        })
    }

    /// This prefilter tuned to the log that starts with `sample`: anchors whose first bytes are
    /// rare in it, and the conditions asked only if they rule out at least two fifths of the
    /// lines with a rare text. The alerts are the same; which records are parsed depends on the sample
    /// only, so a file gives the same summary every time.
    #[cfg(test)]
    pub(crate) fn tuned(&self, sample: &[u8]) -> Prefilter {
        let sample = self::sample(sample);
        let anchors = anchors(&self.rare_texts, &LeadCounts::of(&self.rare_texts, sample));
        let anchors = in_bucket_order(anchors, sample);
        Prefilter {
            anchors: anchors.len(),
            #[cfg(test)]
            anchor_texts: anchors.clone(),
            first: first_search(anchors),
            ..self.clone()
        }
        .asking_if_worth_it(sample)
    }

    /// This prefilter, asking the conditions only if they rule out at least two fifths of the
    /// lines of `sample` with a rare text.
    fn asking_if_worth_it(self, sample: &[u8]) -> Prefilter {
        /// Fewer lines with a rare text than this tell too little: the conditions are asked.
        const FEW_LINES: usize = 16;
        let (mut rare_lines, mut met) = (0, 0);
        let (mut lower, mut holds, mut present) = (Vec::new(), Vec::new(), Vec::new());
        for line in sample.split(|b| *b == b'\n') {
            lower_case_into(&mut lower, line);
            if self.rare_present(&lower, &mut present) {
                rare_lines += 1;
                met += usize::from(self.meets_a_condition(&lower, &present, &mut holds));
            }
        }
        Prefilter {
            ask_needs: rare_lines < FEW_LINES || met * 5 < rare_lines * 3,
            ..self
        }
    }

    /// Whether the JSON text of a record (or of a wrapper, when `may_wrap`) may hold a record
    /// that some detection matches, and must be parsed.
    /// `candidates` is scratch space, reused from record to record.
    pub(crate) fn must_parse(
        &self,
        text: &[u8],
        may_wrap: bool,
        candidates: &mut Candidates,
    ) -> bool {
        self.search(text, may_wrap, candidates);
        self.take(candidates, 0..text.len(), text, may_wrap)
    }

    /// Searches a batch of JSON lines at once, for [`Prefilter::line_must_parse`] to tell
    /// line by line: the lines without a find cost nothing but the search.
    pub(crate) fn search_lines(&self, data: &[u8], candidates: &mut Candidates) {
        self.search(data, true, candidates);
    }

    /// Whether line `line` (a range of the batch given to [`Prefilter::search_lines`], lines
    /// asked for in order) may hold a record that some detection matches.
    pub(crate) fn line_must_parse(
        &self,
        candidates: &mut Candidates,
        line: Range<usize>,
        data: &[u8],
    ) -> bool {
        self.take(candidates, line, data, true)
    }

    /// Finds in `data` the anchors, hazards and (when `may_wrap`) wrapper keys before an array.
    fn search(&self, data: &[u8], may_wrap: bool, candidates: &mut Candidates) {
        let Candidates {
            folded,
            found,
            next,
            ..
        } = candidates;
        found.clear();
        *next = 0;
        // Case-folded a piece at a time, each piece with the bytes a find starting in it may
        // reach, so the copy stays in the cache for the search: finds are those of one search
        // over the whole batch folded (a leftmost-first find starting in a piece is the same
        // in the piece as in the batch: every pattern that may start there fits).
        let reach = self.first.max_pattern_len() - 1;
        let mut piece = 0;
        let mut at = 0;
        while piece < data.len() {
            let piece_end = (piece + LOWER_CASED_PIECE).min(data.len());
            fold_case_into(folded, &data[piece..(piece_end + reach).min(data.len())]);
            while at < piece_end {
                let input = aho_corasick::Input::new(&folded[..]).span(at - piece..folded.len());
                let Some(m) = self.first.find(input) else {
                    break;
                };
                let (start, end) = (piece + m.start(), piece + m.end());
                if start >= piece_end {
                    break;
                }
                let pattern = m.pattern().as_usize();
                if pattern < self.anchors {
                    found.push((start, Found::Anchor));
                    // A find over a line's end (a folded `\n` is a `*`) or a quote (which may
                    // start a wrapper key) marks its first line only: the search goes on from
                    // the byte after its start, so what it covers is still found.
                    at = if data[start..end].iter().any(|b| *b < b' ' || *b == b'"') {
                        start + 1
                    } else {
                        end
                    };
                } else if may_wrap && wrapper_key_before_array(data, start, end) {
                    found.push((start, Found::Parse));
                    at = end;
                } else {
                    // An anchor may start inside the key (`"value"` and a text holding `value`).
                    at = start + 1;
                }
            }
            piece = piece_end;
            at = at.max(piece);
        }
        let holds = |at: usize, hazard: &[u8]| {
            data.get(at..at + hazard.len())
                .is_some_and(|bytes| bytes.eq_ignore_ascii_case(hazard))
        };
        for at in memchr::memchr_iter(b'\\', data) {
            if data
                .get(at + 1)
                .is_some_and(|letter| self.escape_letters[usize::from(*letter)])
            {
                found.push((at, Found::Parse));
            }
        }
        // Checked for first: most logs are ASCII, and `is_ascii` is several times faster than
        // a search for the two characters.
        if !data.is_ascii() {
            let [a, b] = LOWERING_TO_ASCII.map(|c| c.as_bytes()[0]);
            found.extend(
                memchr::memchr2_iter(a, b, data)
                    .filter(|at| LOWERING_TO_ASCII.iter().any(|c| holds(*at, c.as_bytes())))
                    .map(|at| (at, Found::Parse)),
            );
        }
        found.sort_unstable_by_key(|(at, _)| *at);
    }

    /// Whether the finds in `range` (of `data`, searched before) make it a record to parse; the
    /// finds before its end are used up.
    fn take(
        &self,
        candidates: &mut Candidates,
        range: Range<usize>,
        data: &[u8],
        may_wrap: bool,
    ) -> bool {
        let Candidates {
            lower,
            found,
            next,
            holds,
            present,
            ..
        } = candidates;
        let mut anchor = false;
        let mut parse = false;
        while let Some(&(at, kind)) = found.get(*next) {
            if at >= range.end {
                break;
            }
            *next += 1;
            if at >= range.start {
                anchor |= kind == Found::Anchor;
                parse |= kind == Found::Parse;
            }
        }
        parse
            || (anchor && {
                lower_case_into(lower, &data[range.clone()]);
                self.holds_needed(lower, holds, present)
            })
            || (may_wrap && data[range].iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'['))
    }
}

impl Prefilter {
    /// Whether `text` (lower-cased) holds a rare text and (if they are asked) the texts some
    /// detection's condition requires.
    fn holds_needed(
        &self,
        text: &[u8],
        holds: &mut Vec<Option<bool>>,
        present: &mut Vec<bool>,
    ) -> bool {
        if !self.ask_needs {
            return self.rare.is_match(text);
        }
        self.rare_present(text, present) && self.meets_a_condition(text, present, holds)
    }

    /// Sets `present` to which of the rare texts `text` holds; whether it holds one. A
    /// leftmost-longest search restarted one byte after the start of each find finds each
    /// place where a rare text starts, and only one can start there: none holds another.
    fn rare_present(&self, text: &[u8], present: &mut Vec<bool>) -> bool {
        present.clear();
        present.resize(self.rare_texts.len(), false);
        let mut any = false;
        let mut at = 0;
        while let Some(found) = self
            .rare
            .find(aho_corasick::Input::new(text).span(at..text.len()))
        {
            present[found.pattern().as_usize()] = true;
            any = true;
            at = found.start() + 1;
        }
        any
    }

    /// Whether `text` meets the condition of a detection, of those one of whose rare texts it
    /// holds (`present`).
    fn meets_a_condition(
        &self,
        text: &[u8],
        present: &[bool],
        holds: &mut Vec<Option<bool>>,
    ) -> bool {
        let gated = self
            .needs
            .iter()
            .zip(&self.gates)
            .filter(|(_, gate)| gate.iter().any(|r| present[*r]))
            .map(|(need, _)| need);
        self.needed.meet_any(gated, text, holds)
    }
}

/// Every text the detections' conditions require, each searched for in a line only when a
/// condition asks, and once per line: a condition stops at the first of its parts the line
/// lacks.
///
/// Not one search for all of them: an automaton for a hundred texts, many of them common such as
/// `RoleManagement`, steps over every byte (aho-corasick builds no SIMD prefilter for so many;
/// it was a tenth of a scan's time, over the lines with a rare text), where most conditions are
/// told by a few of their texts, each a `memmem` search that skips most bytes.
#[derive(Debug, Clone)]
struct NeededTexts {
    finders: Vec<memchr::memmem::Finder<'static>>,
}

impl NeededTexts {
    fn of(texts: &[String]) -> NeededTexts {
        NeededTexts {
            finders: texts
                .iter()
                .map(|t| memchr::memmem::Finder::new(t.as_bytes()).into_owned())
                .collect(),
        }
    }

    /// Whether `text` meets one of `needs` (leaves: indexes of texts, one of which it must
    /// hold); `holds` is set to what was asked and found.
    fn meet_any<'n>(
        &self,
        needs: impl IntoIterator<Item = &'n LogicTree<Vec<usize>>>,
        text: &[u8],
        holds: &mut Vec<Option<bool>>,
    ) -> bool {
        holds.clear();
        holds.resize(self.finders.len(), None);
        let mut holds_one = |any: &Vec<usize>| {
            any.iter()
                .any(|t| *holds[*t].get_or_insert_with(|| self.finders[*t].find(text).is_some()))
        };
        needs.into_iter().any(|need| need.evaluate(&mut holds_one))
    }
}

/// `texts` without repeats nor a text that holds another: a line holds one of them if, and
/// only if, it holds one of `texts`.
fn without_longer(mut texts: Vec<String>) -> Vec<String> {
    texts.sort_unstable();
    texts.dedup();
    let shortest: Vec<String> = texts
        .iter()
        .filter(|t| {
            !texts
                .iter()
                .any(|inner| inner != *t && t.contains(inner.as_str()))
        })
        .cloned()
        .collect();
    shortest
}

/// Texts, each once, and the conditions over them.
#[derive(Debug, Default)]
struct Interned {
    texts: Vec<String>,
}

impl Interned {
    /// `need` with its texts (lower-cased) replaced by their indexes.
    fn intern(&mut self, need: LogicTree<Vec<String>>) -> LogicTree<Vec<usize>> {
        match need {
            LogicTree::Leaf(any) => LogicTree::Leaf(
                any.iter()
                    .map(|text| {
                        let text = text.to_ascii_lowercase();
                        self.texts
                            .iter()
                            .position(|t| *t == text)
                            .unwrap_or_else(|| {
                                self.texts.push(text);
                                self.texts.len() - 1
                            })
                    })
                    .collect(),
            ),
            LogicTree::Not(inner) => LogicTree::Not(Box::new(self.intern(*inner))),
            LogicTree::And(items) => {
                LogicTree::And(items.into_iter().map(|i| self.intern(i)).collect())
            }
            LogicTree::Or(items) => {
                LogicTree::Or(items.into_iter().map(|i| self.intern(i)).collect())
            }
        }
    }
}

/// Whether the quoted key found at `start..end` of `text` (lower-cased) is written as such and
/// followed by an array: a superset of "the object's own wrapper key holds an array".
fn wrapper_key_before_array(text: &[u8], start: usize, end: usize) -> bool {
    let key = &text[start..end];
    WRAPPER_KEYS
        .iter()
        .any(|k| key.len() == k.len() + 2 && &key[1..key.len() - 1] == k.as_bytes())
        && {
            let mut rest = text[end..].iter().filter(|b| !b.is_ascii_whitespace());
            rest.next() == Some(&b':') && rest.next() == Some(&b'[')
        }
}

/// How many of a part's first bytes the search fingerprints (Teddy's mask is the first four
/// bytes of each pattern): a place of the log that shows them is checked for the whole part.
const LEAD: usize = 4;

/// The first batch the prefilter reads: the one before, which it is tuned on, is parsed whole,
/// so the shapes a file holds are named and a file of no known shape exits with 4.
pub(crate) const FIRST_FILTERED: u64 = 1;

/// What [`Prefilter::tuned_of`] looks at of the start of a log.
pub(crate) fn sample(log: &[u8]) -> &[u8] {
    &log[..log.len().min(SAMPLE_BYTES)]
}

/// How much of the start of a log is counted for [`LeadCounts`]: a whole batch, enough lines
/// to see what is routine in it, counted in a few milliseconds.
const SAMPLE_BYTES: usize = super::read::BATCH_BYTES;

/// How often the first [`LEAD`] bytes of each part of some texts occur in a sample of the log
/// (ignoring ASCII case): how many places of the log an anchor starting so would make the
/// search check. Without a sample, every count is 0.
#[derive(Debug, Default)]
struct LeadCounts {
    /// An open-addressing table of the leads (as little-endian numbers) and their counts, a
    /// power of two long: a few thousand leads, looked up at every place of the sample.
    slots: Vec<Option<(u32, u64)>>,
    /// What one more anchor costs, counted in places checked: the search's fingerprints share
    /// slots when there are more patterns, and each slot then passes more places.
    per_anchor: u64,
}

impl LeadCounts {
    fn of(texts: &[String], sample: &[u8]) -> LeadCounts {
        let leads: std::collections::BTreeSet<u32> = texts
            .iter()
            .flat_map(|t| t.as_bytes().windows(LEAD))
            .map(lead_number)
            .collect();
        let mut counts = LeadCounts {
            slots: vec![None; (leads.len() * 4).next_power_of_two()],
            // One place in 20 kB (measured with callgrind on Log Analytics exports: fewer anchors
            // with more common first bytes, or more with rarer ones, both searched slower).
            per_anchor: (sample.len().min(SAMPLE_BYTES) / 20_000) as u64,
        };
        for lead in leads {
            let at = counts.slot(lead);
            counts.slots[at] = Some((lead, 0));
        }
        let mut lower = Vec::new();
        lower_case_into(&mut lower, &sample[..sample.len().min(SAMPLE_BYTES)]);
        for window in lower.windows(LEAD) {
            let lead = lead_number(window);
            let at = counts.slot(lead);
            if let Some((_, count)) = &mut counts.slots[at] {
                *count += 1;
            }
        }
        counts
    }

    /// The slot of `lead`, or the empty one where it would go.
    fn slot(&self, lead: u32) -> usize {
        let mask = self.slots.len() - 1;
        let mut at = (lead.wrapping_mul(0x9E37_79B1) >> 7) as usize & mask;
        while let Some((held, _)) = self.slots[at] {
            if held == lead {
                break;
            }
            at = (at + 1) & mask;
        }
        at
    }

    /// How many places of the sample show the first bytes of `part`.
    fn of_part(&self, part: &[u8]) -> u64 {
        if self.slots.is_empty() || part.len() < LEAD {
            return 0;
        }
        self.slots[self.slot(lead_number(part))].map_or(0, |(_, count)| count)
    }
}

/// The first [`LEAD`] bytes of `bytes` as a number.
fn lead_number(bytes: &[u8]) -> u32 {
    u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

/// Parts of `texts` such that each text holds one, chosen greedily: each the part that covers
/// the most texts not yet covered for the places of the log its first bytes make the search
/// check (`leads`); between equals, the longer part (checked more precisely), then the first
/// in byte order (so the choice is stable). A text shorter than any part is its own anchor.
fn anchors(texts: &[String], leads: &LeadCounts) -> Vec<String> {
    const LENGTHS: [usize; 7] = [LEAD, 5, 6, 8, 12, 16, 24];
    // Each part, and the texts that hold it.
    let mut holders: std::collections::BTreeMap<&[u8], Vec<usize>> =
        std::collections::BTreeMap::new();
    for (i, text) in texts.iter().enumerate() {
        let text = text.as_bytes();
        let mut parts: Vec<&[u8]> = LENGTHS
            .iter()
            .filter(|&&n| n < text.len())
            .flat_map(|&n| text.windows(n))
            .chain([text])
            .collect();
        parts.sort_unstable();
        parts.dedup();
        for part in parts {
            holders.entry(part).or_default().push(i);
        }
    }
    // A text holds each of its parts of LENGTHS, and none longer than itself; but a whole text
    // of another length may lie inside a longer text.
    for whole in texts {
        let held = holders
            .get_mut(whole.as_bytes())
            .expect("each text is a part");
        held.clear();
        held.extend(
            texts
                .iter()
                .enumerate()
                .filter(|(_, t)| t.contains(whole.as_str()))
                .map(|(i, _)| i),
        );
    }
    // Each part with what choosing it costs, and the texts not yet covered that hold it.
    let per_anchor = leads.per_anchor.max(1);
    let mut parts: Vec<(&[u8], u64, Vec<usize>)> = holders
        .into_iter()
        .map(|(part, held)| (part, leads.of_part(part) + per_anchor, held))
        .collect();
    let mut covered = vec![false; texts.len()];
    let mut anchors = Vec::new();
    while !parts.is_empty() {
        let (best, _, held) = parts
            .iter()
            .max_by(|(a, a_cost, a_held), (b, b_cost, b_held)| {
                (a_held.len() as u128 * u128::from(*b_cost))
                    .cmp(&(b_held.len() as u128 * u128::from(*a_cost)))
                    .then(a.len().cmp(&b.len()))
                    .then(b.cmp(a))
            })
            .expect("parts are left");
        for i in held {
            covered[*i] = true;
        }
        anchors.push(String::from_utf8_lossy(best).into_owned());
        parts.retain_mut(|(_, _, held)| {
            held.retain(|i| !covered[*i]);
            !held.is_empty()
        });
    }
    anchors.sort_unstable();
    anchors
}

/// How many of the first search's orders of the anchors [`in_bucket_order`] compares.
const ORDERS_TRIED: u64 = 16;

/// How much of the sample [`in_bucket_order`] counts candidates over.
const ORDER_SAMPLE_BYTES: usize = 128 * 1024;

/// `anchors` in the order, of a few (the sorted one first), whose first search makes the fewest
/// candidates in `sample`.
///
/// The order of the patterns decides which of them share a bucket in Teddy (aho-corasick 1.1
/// puts pattern `i` in bucket `7 - i % 8`, or in the bucket of an earlier pattern whose first
/// bytes have the same low nibbles), and a bucket's fingerprint admits every mix of its
/// patterns' nibbles: over the first 100,000 generated events, the same 22 patterns searched at
/// 4.2 to 7.0 GB/s in seven orders. The finds are the same in every order (an anchor is found
/// wherever one starts; no two patterns of different kinds start alike, the wrapper keys staying
/// last), so the order changes only the speed, and is the same for the same sample.
fn in_bucket_order(anchors: Vec<String>, sample: &[u8]) -> Vec<String> {
    let sample = &sample[..sample.len().min(ORDER_SAMPLE_BYTES)];
    if sample.is_empty() || anchors.len() < 2 {
        return anchors;
    }
    let mut folded = Vec::new();
    fold_case_into(&mut folded, sample);
    let wrappers: Vec<String> = WRAPPER_KEYS.iter().map(|k| format!("\"{k}\"")).collect();
    let mut best = (u64::MAX, anchors.clone());
    let mut order = anchors;
    // A fixed sequence of shuffles (xorshift), so the choice depends on the sample only.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for tried in 0..ORDERS_TRIED {
        if tried > 0 {
            for i in (1..order.len()).rev() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                order.swap(i, (state % (i as u64 + 1)) as usize);
            }
        }
        let patterns: Vec<&[u8]> = order
            .iter()
            .chain(&wrappers)
            .map(String::as_bytes)
            .collect();
        let candidates = teddy_candidates(&patterns, &folded);
        if candidates < best.0 {
            best = (candidates, order.clone());
        }
    }
    best.1
}

/// How many places of `folded` (a folded text) Slim Teddy checks for `patterns` (folded as
/// they are here: lower-case letters, quotes), as aho-corasick 1.1 lays them out in 8 buckets
/// by their first bytes (at most 4): a place is checked when, for each of those bytes, the
/// low and the high nibble of the text's byte are each some pattern's of one bucket.
fn teddy_candidates(patterns: &[&[u8]], folded: &[u8]) -> u64 {
    const BUCKETS: usize = 8;
    let width = patterns
        .iter()
        .map(|p| p.len())
        .min()
        .unwrap_or(0)
        .min(LEAD);
    if width == 0 {
        return 0;
    }
    let mut lows = vec![[0u8; 16]; width];
    let mut highs = vec![[0u8; 16]; width];
    let mut bucket_of: Vec<(Vec<u8>, usize)> = Vec::new();
    for (id, pattern) in patterns.iter().enumerate() {
        let mut folded_pattern = Vec::new();
        fold_case_into(&mut folded_pattern, &pattern[..width]);
        let nibbles: Vec<u8> = folded_pattern.iter().map(|b| b & 15).collect();
        let bucket = if let Some((_, bucket)) = bucket_of.iter().find(|(n, _)| *n == nibbles) {
            *bucket
        } else {
            let bucket = BUCKETS - 1 - id % BUCKETS;
            bucket_of.push((nibbles, bucket));
            bucket
        };
        for (j, byte) in folded_pattern.iter().enumerate() {
            lows[j][usize::from(byte & 15)] |= 1 << bucket;
            highs[j][usize::from(byte >> 4)] |= 1 << bucket;
        }
    }
    let tables: Vec<[u8; 256]> = (0..width)
        .map(|j| {
            let mut table = [0u8; 256];
            for (byte, slot) in table.iter_mut().enumerate() {
                *slot = lows[j][byte & 15] & highs[j][byte >> 4];
            }
            table
        })
        .collect();
    folded
        .windows(width)
        .filter(|window| {
            window
                .iter()
                .zip(&tables)
                .fold(u8::MAX, |buckets, (byte, table)| {
                    buckets & table[usize::from(*byte)]
                })
                != 0
        })
        .count() as u64
}

/// A search for `patterns` in text lower-cased (ASCII only): a case-sensitive automaton keeps
/// its vectorised prefilter, which an ASCII-case-insensitive one loses.
fn searcher<T: AsRef<[u8]>>(patterns: &[T]) -> AhoCorasick {
    AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostFirst)
        .build(patterns)
        .expect("a few dozen texts always build")
}

/// The search of a whole batch: `anchors`, then the quoted wrapper keys, case-folded as
/// [`fold_case_into`] folds the batch.
fn first_search(anchors: Vec<String>) -> AhoCorasick {
    let wrappers = WRAPPER_KEYS.iter().map(|k| format!("\"{k}\""));
    let folded: Vec<Vec<u8>> = anchors
        .into_iter()
        .chain(wrappers)
        .map(|pattern| {
            let mut folded = Vec::new();
            fold_case_into(&mut folded, pattern.as_bytes());
            folded
        })
        .collect();
    searcher(&folded)
}

/// For each byte, whether a backslash before it makes one of `escapes` (a backslash and one
/// byte each), ignoring ASCII case.
fn escape_letters(escapes: &[&str]) -> [bool; 256] {
    let mut letters = [false; 256];
    for escape in escapes {
        let [b'\\', letter] = escape.as_bytes() else {
            unreachable!("an escape is a backslash and one byte: {escape:?}");
        };
        letters[usize::from(letter.to_ascii_lowercase())] = true;
        letters[usize::from(letter.to_ascii_uppercase())] = true;
    }
    letters
}

/// Sets `folded` to `bytes` with bit 5 set in every byte: ASCII letters lower-cased, like
/// [`lower_case_into`] but in one operation per byte rather than four (the batch is folded
/// whole; a third of the search's time was lower-casing it). Other bytes fold too (`\n` to
/// `*`, `[` to `{`), so a text holds a pattern (folded) wherever its lower case holds the
/// pattern, and in a few more places: a find there only makes the line checked with its
/// lower case, never passes a line over.
fn fold_case_into(folded: &mut Vec<u8>, bytes: &[u8]) {
    folded.resize(bytes.len(), 0);
    for (fold, byte) in folded.iter_mut().zip(bytes) {
        *fold = byte | 0x20;
    }
}

/// Sets `lower` to `bytes` lower-cased (ASCII only), in one pass over two slices of one length,
/// which the compiler vectorises (a byte-by-byte `extend` checks the capacity at every byte).
fn lower_case_into(lower: &mut Vec<u8>, bytes: &[u8]) {
    lower.resize(bytes.len(), 0);
    for (low, byte) in lower.iter_mut().zip(bytes) {
        *low = byte.to_ascii_lowercase();
    }
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

/// The texts every event matching `detection` holds in its bytes, as a condition over them
/// (leaves: one of these texts): the parts of its condition, and of its plain-column
/// pre-filter, whose texts are written in the record as they are; `None` when no part is.
fn detection_needs(
    detection: &CompiledDetection,
    plan: &SourcePlan,
) -> Option<LogicTree<Vec<String>>> {
    let leaf = |m: &CompiledMatch| match_texts(m, plan).map(LogicTree::Leaf);
    let selection = |s: &usize| {
        let alternatives = &detection.selections[*s].alternatives;
        alternatives
            .iter()
            .map(|all| all_of(all.iter().filter_map(leaf).collect()))
            .collect::<Option<Vec<_>>>()
            .map(LogicTree::Or)
    };
    let parts = [
        tree_needs(&detection.condition, &selection),
        detection
            .plain_prefilter()
            .and_then(|tree| tree_needs(tree, &leaf)),
    ];
    all_of(parts.into_iter().flatten().collect())
}

/// The texts every event meeting `tree` holds, `leaf` giving those of a leaf.
fn tree_needs<T>(
    tree: &LogicTree<T>,
    leaf: &dyn Fn(&T) -> Option<LogicTree<Vec<String>>>,
) -> Option<LogicTree<Vec<String>>> {
    match tree {
        LogicTree::Leaf(item) => leaf(item),
        LogicTree::Not(_) => None,
        LogicTree::And(items) => all_of(items.iter().filter_map(|i| tree_needs(i, leaf)).collect()),
        LogicTree::Or(items) => items
            .iter()
            .map(|i| tree_needs(i, leaf))
            .collect::<Option<Vec<_>>>()
            .map(LogicTree::Or),
    }
}

/// The parts that need texts, all of them; `None` when none does.
fn all_of(parts: Vec<LogicTree<Vec<String>>>) -> Option<LogicTree<Vec<String>>> {
    (!parts.is_empty()).then_some(LogicTree::And(parts))
}

/// How many records a set of texts lets through, as far as can be told without the log: of
/// two sets, the one whose shortest text is longer rules out more (a longer text is rarer),
/// and between equals, the one whose next shortest is longer.
fn shortest(texts: &[String]) -> Vec<usize> {
    let mut lengths: Vec<usize> = texts.iter().map(String::len).collect();
    lengths.sort_unstable();
    lengths
}

/// Texts one of which every event meeting `tree` holds, `leaf` giving those of a leaf.
fn tree_texts<T>(
    tree: &LogicTree<T>,
    leaf: &dyn Fn(&T) -> Option<Vec<String>>,
) -> Option<Vec<String>> {
    match tree {
        LogicTree::Leaf(item) => leaf(item),
        LogicTree::Not(_) => None,
        // Any part will do: the one that rules out the most.
        LogicTree::And(items) => items
            .iter()
            .filter_map(|item| tree_texts(item, leaf))
            .max_by_key(|texts| shortest(texts)),
        LogicTree::Or(items) => {
            let mut texts = Vec::new();
            for item in items {
                texts.extend(tree_texts(item, leaf)?);
            }
            Some(texts)
        }
    }
}

/// The texts of one match, and the spellings the shapes map the column's values from; `None`
/// when one of them is not [`usable`], or the field's value need not be written in the
/// record's bytes.
fn match_texts(m: &CompiledMatch, plan: &SourcePlan) -> Option<Vec<String>> {
    let mut texts: Vec<String> = m.required_texts()?.into_iter().map(str::to_owned).collect();
    if let FieldPlan::Plain { column } = plan.field_plan(m.field) {
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
    } else if !texts.iter().all(|t| {
        !t.contains(JSON_PUNCTUATION) && read_as_written(plan.field_plan(m.field), plan, t)
    }) {
        return None;
    }
    // A part of a condition whose texts cannot be searched for is no part to rely on; another
    // part of an `and` may be.
    texts.iter().all(|t| usable(t)).then_some(texts)
}

/// What JSON writes between values: a text without it (and without a quote) lies inside one
/// value or key, whether the JSON is compact, spaced or nested in a string.
const JSON_PUNCTUATION: [char; 6] = ['{', '}', '[', ']', ',', ':'];

/// Whether a value of `field` that holds `text` (which has no [`JSON_PUNCTUATION`]) shows it
/// in the record's bytes: every field reads the record's keys and values (inside a dynamic
/// column, or in the JSON text a Log Analytics row holds in it), and writes an object it reads
/// as compact JSON, so a text inside one value or key is written in the record as it is, but
/// for escapes (which make the record parsed) and ASCII case (which the search ignores). Not
/// so for the key names a shape's built column makes up (`modifiedProperties` from the portal
/// CSV's `Target1ModifiedProperty1Name`), so `text` must not lie inside one.
fn read_as_written(field: &FieldPlan, plan: &SourcePlan, text: &str) -> bool {
    let column = match field {
        FieldPlan::FirstOf(fields) => {
            return fields.iter().all(|f| read_as_written(f, plan, text));
        }
        FieldPlan::Plain { column }
        | FieldPlan::Dynamic { column, .. }
        | FieldPlan::Element { column, .. }
        | FieldPlan::At { column, .. }
        | FieldPlan::ModifiedProperty { column, .. } => *column,
    };
    let text = text.to_ascii_lowercase();
    plan.shapes()
        .iter()
        .all(|shape| match &shape.columns[column] {
            ColumnRead::Absent | ColumnRead::At { values: None, .. } => true,
            ColumnRead::At {
                values: Some(_), ..
            } => false,
            ColumnRead::Built(built) => {
                let mut names = Vec::new();
                built.names(&mut names);
                names
                    .iter()
                    .all(|name| !name.to_ascii_lowercase().contains(&text))
            }
        })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::catalogue::Catalogue;

    fn parses(prefilter: &Prefilter, text: &[u8], may_wrap: bool) -> bool {
        prefilter.must_parse(text, may_wrap, &mut Candidates::default())
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
        let disable = br#"{"TimeGenerated":"2025-06-01T00:00:00Z","Category":"RoleManagement","ActivityDisplayName":"DISABLE PIM ALERT"}"#;
        assert!(parses(&prefilter, disable, true), "case is ignored");
        let no_category =
            br#"{"TimeGenerated":"2025-06-01T00:00:00Z","ActivityDisplayName":"Disable PIM alert"}"#;
        assert!(
            !parses(&prefilter, no_category, true),
            "every part of a condition is required, not only the one searched for first"
        );
        // A routine group membership holds an activity that a detection requires, but not the
        // id of a group on its `tier0_groups` list (nor anything any other detection requires).
        let group = |id: &str| {
            format!(
                r#"{{"Category":"GroupManagement","LoggedByService":"Core Directory","ActivityDisplayName":"Add member to group","Result":"success","TargetResources":[{{"type":"User","userPrincipalName":"x@contoso.example","modifiedProperties":[{{"displayName":"Group.ObjectID","newValue":"\"{id}\""}}]}}]}}"#
            )
        };
        assert!(!parses(
            &prefilter,
            group("0b7c0d9e-3f4b-4d8e-9a61-5c1e7a922b7c").as_bytes(),
            true
        ));
        assert!(parses(
            &prefilter,
            group("5C1E7A92-3F4B-4D8E-9A61-2B7C0D9E4F13").as_bytes(),
            true
        ));
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
    fn a_field_inside_a_dynamic_column_is_searched_for_only_where_the_bytes_show_its_value() {
        let catalogue = shipped();
        let engine = Engine::new(&catalogue, |_| true);
        let source = catalogue
            .logsources
            .get_index_of("entra_auditlogs")
            .unwrap();
        let plan = &engine.sources[source];
        let field = |name: &str| plan.field_plan(plan.field_index(name).unwrap());
        let text = field("TargetResourcesText");
        assert!(read_as_written(
            text,
            plan,
            "Roles are being assigned outside of PIM"
        ));
        // The portal CSV's TargetResources is built from flat columns: the key names it makes
        // up are in no record's bytes.
        assert!(!read_as_written(text, plan, "modifiedProperties"));
        assert!(!read_as_written(text, plan, "ifiedprop"));
        assert!(read_as_written(
            field("TargetGroupId"),
            plan,
            "5c1e7a92-3f4b"
        ));
    }

    #[test]
    fn the_conditions_are_asked_in_a_log_where_they_rule_out_many_lines_with_a_rare_text() {
        let catalogue = shipped();
        let engine = Engine::new(&catalogue, |_| true);
        let blind = Prefilter::of(&engine).unwrap();
        let sample = |line: &str| format!("{line}\n").repeat(20);
        let with_category =
            r#"{"Category":"RoleManagement","ActivityDisplayName":"Disable PIM alert"}"#;
        let without = r#"{"ActivityDisplayName":"Disable PIM alert"}"#;
        // The detection requires the category too: a line without it is ruled out by asking.
        assert!(blind.ask_needs && !parses(&blind, without.as_bytes(), true));
        let asked = blind.tuned(sample(without).as_bytes());
        assert!(asked.ask_needs && !parses(&asked, without.as_bytes(), true));
        let not_asked = blind.tuned(sample(with_category).as_bytes());
        assert!(
            !not_asked.ask_needs,
            "every line with a rare text met a condition"
        );
        assert!(
            parses(&not_asked, without.as_bytes(), true),
            "parsed (and found to match nothing) without asking"
        );
        assert!(!parses(
            &not_asked,
            b"{\"ActivityDisplayName\":\"Update user\"}",
            true
        ));
        let few = blind.tuned(format!("{with_category}\n").repeat(15).as_bytes());
        assert!(few.ask_needs, "too few lines to tell");
    }

    /// What a scan makes (without choosing anchors for no sample first) is what tuning the
    /// blind prefilter gives: the same anchors, the same choice to ask.
    #[test]
    fn the_prefilter_made_on_a_sample_is_the_blind_one_tuned() {
        let catalogue = shipped();
        let engine = Engine::new(&catalogue, |_| true);
        let blind = Prefilter::of(&engine).unwrap();
        let routine = r#"{"Category":"UserManagement","ActivityDisplayName":"Update user"}"#;
        let with_category =
            r#"{"Category":"RoleManagement","ActivityDisplayName":"Disable PIM alert"}"#;
        let without = r#"{"ActivityDisplayName":"Disable PIM alert"}"#;
        let mut seen = Vec::new();
        for lines in [
            format!("{routine}\n{with_category}\n").repeat(20),
            format!("{routine}\n{without}\n").repeat(20),
            format!("{routine}\n").repeat(100),
        ] {
            let tuned = blind.tuned(lines.as_bytes());
            let made = Prefilter::tuned_of(&engine, lines.as_bytes()).unwrap();
            assert_eq!(made.anchor_texts, tuned.anchor_texts);
            assert_eq!(made.ask_needs, tuned.ask_needs);
            assert_eq!(made.rare_texts, blind.rare_texts);
            seen.push(made.ask_needs);
        }
        assert_eq!(seen, [false, true, true], "both choices are compared");
    }

    #[test]
    fn a_find_over_a_line_end_hides_no_anchor_of_the_next_line() {
        let catalogue = shipped();
        let engine = Engine::new(&catalogue, |_| true);
        let shipped = Prefilter::of(&engine).unwrap();
        // An anchor that, folded, runs from the end of one line into the next (a `\n` folds
        // to a `*`), then the anchor of the next line's activity, which starts inside it.
        let anchors = [
            r#"alert"}*{"activitydisplayname":"disable"#,
            "disable pim alert",
        ]
        .map(String::from);
        let prefilter = Prefilter {
            anchors: anchors.len(),
            first: first_search(anchors.to_vec()),
            ..shipped
        };
        let first = r#"{"Detail":"no alert"}"#;
        let second = r#"{"ActivityDisplayName":"Disable PIM alert","Category":"RoleManagement"}"#;
        let data = format!("{first}\n{second}\n");
        let mut candidates = Candidates::default();
        prefilter.search_lines(data.as_bytes(), &mut candidates);
        let second_at = first.len() + 1;
        assert!(!prefilter.line_must_parse(&mut candidates, 0..first.len(), data.as_bytes()));
        assert!(prefilter.line_must_parse(
            &mut candidates,
            second_at..second_at + second.len(),
            data.as_bytes()
        ));
    }

    #[test]
    fn a_condition_is_asked_only_in_a_line_with_one_of_its_rare_texts() {
        let catalogue = shipped();
        let engine = Engine::new(&catalogue, |_| true);
        let prefilter = Prefilter::of(&engine).unwrap();
        assert_eq!(prefilter.gates.len(), prefilter.needs.len());
        assert!(prefilter.gates.iter().all(|gate| !gate.is_empty()));
        let disable = r#"{"Category":"RoleManagement","ActivityDisplayName":"Disable PIM alert"}"#
            .to_ascii_lowercase();
        let (mut present, mut holds) = (Vec::new(), Vec::new());
        assert!(prefilter.rare_present(disable.as_bytes(), &mut present));
        let held: Vec<&str> = (0..present.len())
            .filter(|r| present[*r])
            .map(|r| prefilter.rare_texts[r].as_str())
            .collect();
        assert_eq!(held, ["disable pim alert"]);
        assert!(prefilter.meets_a_condition(disable.as_bytes(), &present, &mut holds));
        // Told by the one detection whose rare text it holds: the texts of the others (the
        // group ids, the role names) were not searched for.
        let asked = holds.iter().filter(|h| h.is_some()).count();
        assert!(asked <= 3, "{asked} texts searched for");
        // With that rare text not marked, no condition is asked, so none is met.
        present.fill(false);
        assert!(!prefilter.meets_a_condition(disable.as_bytes(), &present, &mut holds));
        assert!(holds.iter().all(Option::is_none));
    }

    #[test]
    fn each_needed_text_is_searched_for_once_and_only_when_a_condition_asks() {
        let texts = ["add member to role", "role", "to", "pim"].map(String::from);
        let needed = NeededTexts::of(&texts);
        // Two detections: "add member to role" and "pim"; "role" or "to", and "pim".
        let needs = [
            LogicTree::And(vec![LogicTree::Leaf(vec![0]), LogicTree::Leaf(vec![3])]),
            LogicTree::And(vec![LogicTree::Leaf(vec![1, 2]), LogicTree::Leaf(vec![3])]),
        ];
        let mut holds = Vec::new();
        let mut meets = |text: &str| {
            let met = needed.meet_any(&needs, text.as_bytes(), &mut holds);
            (met, holds.clone())
        };
        let (yes, no) = (Some(true), Some(false));
        let cases = [
            (
                "x add member to role (pim)",
                (true, vec![yes, None, None, yes]),
                "the first condition is met: the second is not looked at",
            ),
            (
                "add member to rol, pim",
                (true, vec![no, no, yes, yes]),
                "\"to\" inside a near miss of a longer text",
            ),
            (
                "update user",
                (false, vec![no, no, no, None]),
                "a condition stops at the first part the line lacks",
            ),
            (
                "rolepim",
                (true, vec![no, yes, None, yes]),
                "one text of a part is enough, beside another",
            ),
        ];
        for (text, expected, why) in cases {
            assert_eq!(meets(text), expected, "{why}");
        }
    }

    #[test]
    fn a_line_holds_one_of_the_rare_texts_exactly_when_it_holds_one_before_they_are_shortened() {
        let texts = [
            "add member to role (pim)",
            "add member to role",
            "q",
            "pqr",
            "q",
        ];
        let kept = without_longer(texts.map(String::from).to_vec());
        assert_eq!(kept, ["add member to role", "q"]);
        let rare = AhoCorasick::new(&kept).unwrap();
        assert!(rare.is_match("x add member to role (pim)"));
        assert!(rare.is_match("pqr"));
        assert!(
            !rare.is_match("add member to rol pr"),
            "a near miss of each"
        );
    }

    #[test]
    fn a_text_across_two_pieces_lower_cased_apart_is_found() {
        let catalogue = shipped();
        let engine = Engine::new(&catalogue, |_| true);
        let blind = Prefilter::of(&engine).unwrap();
        let anchor_of_text = |leads: &LeadCounts| {
            anchors(&blind.rare_texts, leads)
                .into_iter()
                .find(|a| "disable pim alert".contains(a.as_str()))
                .unwrap()
        };
        // Tuned to a log whose every row holds that anchor, so the text gets another.
        let first = anchor_of_text(&LeadCounts::default());
        let sample = format!("{{\"Detail\":\"{first}\"}}\n").repeat(50);
        let leads = LeadCounts::of(&blind.rare_texts, sample.as_bytes());
        assert_ne!(anchor_of_text(&leads), first);
        let tuned = blind.tuned(sample.as_bytes());
        for prefilter in [&blind, &tuned] {
            disable_alert_found_wherever_pieces_meet(prefilter);
        }
    }

    /// Whether the text, and so every anchor inside it, is found wherever it starts or ends
    /// near the end of a piece lower-cased (the text is 17 bytes, the range 40).
    fn disable_alert_found_wherever_pieces_meet(prefilter: &Prefilter) {
        let record = |activity: &str, at: usize| {
            let head = r#"{"Category":"RoleManagement","Pad":""#;
            let pad = "x".repeat(at - head.len() - r#"","ActivityDisplayName":""#.len());
            format!(r#"{head}{pad}","ActivityDisplayName":"{activity}"}}"#)
        };
        for start in LOWER_CASED_PIECE - 40..LOWER_CASED_PIECE + 2 {
            let text = record("Disable PIM ALERT", start);
            assert_eq!(text.find("Disable"), Some(start));
            assert!(parses(prefilter, text.as_bytes(), true), "{start}");
            let near_miss = record("Disable PIM ALERX", start);
            assert!(!parses(prefilter, near_miss.as_bytes(), true), "{start}");
        }
    }

    #[test]
    fn every_rare_text_holds_an_anchor_whatever_the_sample() {
        let catalogue = shipped();
        let engine = Engine::new(&catalogue, |_| true);
        let texts = Prefilter::of(&engine).unwrap().rare_texts;
        let routine = r#"{"OperationName":"Update user","Category":"UserManagement"}"#.repeat(100);
        for leads in [
            LeadCounts::default(),
            LeadCounts::of(&texts, routine.as_bytes()),
        ] {
            let chosen = anchors(&texts, &leads);
            assert!(chosen.len() < texts.len() / 2, "{chosen:?}");
            for text in &texts {
                assert!(chosen.iter().any(|a| text.contains(a.as_str())), "{text}");
            }
        }
        let none = LeadCounts::default();
        assert_eq!(
            anchors(&["ab".to_owned()], &none),
            ["ab"],
            "a text shorter than any part"
        );
        assert_eq!(
            anchors(
                &["pim alert".to_owned(), "disable pim alert".to_owned()],
                &none
            ),
            ["pim alert"],
            "a whole text inside a longer one covers both"
        );
    }

    #[test]
    fn the_anchors_are_ordered_for_the_fewest_candidates_in_the_sample() {
        let catalogue = shipped();
        let engine = Engine::new(&catalogue, |_| true);
        let rare_texts = Prefilter::of(&engine).unwrap().rare_texts;
        let sorted = anchors(&rare_texts, &LeadCounts::default());
        let routine =
            r#"{"OperationName":"Update user","Category":"UserManagement","Id":"a5c3-9e44f"}"#;
        let sample = format!("{routine}\n").repeat(200);
        let candidates = |order: &[String]| {
            let wrappers = WRAPPER_KEYS.map(|k| format!("\"{k}\""));
            let patterns: Vec<&[u8]> = order
                .iter()
                .chain(&wrappers)
                .map(String::as_bytes)
                .collect();
            let mut folded = Vec::new();
            fold_case_into(&mut folded, sample.as_bytes());
            teddy_candidates(&patterns, &folded)
        };
        let ordered = in_bucket_order(sorted.clone(), sample.as_bytes());
        let mut same = ordered.clone();
        same.sort_unstable();
        assert_eq!(same, sorted, "the same anchors");
        assert!(candidates(&ordered) <= candidates(&sorted));
        assert_eq!(
            in_bucket_order(sorted.clone(), b""),
            sorted,
            "no sample, no reordering"
        );
        // Two patterns, each in a bucket of its own: a candidate where one of them starts, and
        // nowhere else.
        let text = b"xxabcdxxefghxx";
        assert_eq!(teddy_candidates(&[b"abcd", b"efgh"], text), 2);
        assert_eq!(teddy_candidates(&[b"abcd"], b"xxabcexx"), 0, "a near miss");
    }

    #[test]
    fn anchors_avoid_first_bytes_that_are_common_in_the_log() {
        let texts = ["update role setting in pim", "update pim alert setting"].map(String::from);
        // Routine rows whose activity starts as both texts do, and whose settings hold a part of
        // both: without a sample, " setting" (the longest part both hold) is the anchor.
        let sample = r#"{"OperationName":"Update user","Detail":"Changed user settings"}
"#
        .repeat(500);
        let blind = anchors(&texts, &LeadCounts::default());
        assert_eq!(blind, [" setting"]);
        let leads = LeadCounts::of(&texts, sample.as_bytes());
        assert_eq!(leads.of_part(b" setting"), 500);
        assert_eq!(
            leads.of_part(b"update role"),
            500,
            "the sample's case is ignored"
        );
        let tuned = anchors(&texts, &leads);
        for text in &texts {
            assert!(tuned.iter().any(|a| text.contains(a.as_str())), "{text}");
        }
        for anchor in &tuned {
            assert_eq!(leads.of_part(anchor.as_bytes()), 0, "{tuned:?}");
        }
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
