//! The one regular-expression dialect a catalogue may use: the constructs that mean the same in
//! Rust's `regex` (rulecast's own evaluator), RE2 (KQL in Sentinel and Azure Monitor), PCRE
//! (Splunk) and Python's `re` (pySigma, which reads every Sigma rule).
//!
//! Each engine accepts constructs the others reject, or reads differently: Python has no
//! `(?<name>…)`, `\p{…}`, `\z` or `\x{…}`, refuses flags after the start, and takes `[[:alpha:]]`
//! and `[a&&b]` as plain characters; PCRE's `\v` is a class of vertical space where the others
//! see one character; `(?U)` and nested classes are Rust's alone. Such a pattern would build
//! without a word and match differently on each platform, so it is refused, the construct
//! named, with the portable way to write it.
//!
//! `\d`, `\w` and `\b` are ASCII in RE2 and PCRE, the engines that run in production, and
//! rulecast's evaluator is given their ASCII form ([`for_rust`]) so tests agree with the SIEMs.
//!
//! RE2 and Rust run in linear time; PCRE and Python backtrack, so a nested quantifier such as
//! `(a+)+` can take exponential time on a near miss, and Splunk stops such a search. Those are
//! warned about ([`backtracking_risks`]).

use regex_syntax::ast::{
    self, Assertion, AssertionKind, Ast, ClassSet, ClassSetItem, Flag, FlagsItemKind, GroupKind,
    HexLiteralKind, LiteralKind, RepetitionKind, RepetitionRange, SpecialLiteralKind,
};
use regex_syntax::hir::{Class, ClassUnicode, ClassUnicodeRange, HirKind};

/// RE2's largest counted repetition.
const MAX_REPEAT: u32 = 1000;

/// A construct outside the portable dialect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotPortable {
    /// The construct as written, e.g. `(?<id>`.
    pub construct: String,
    /// Which engines reject or misread it.
    pub why: String,
    /// How to write it portably.
    pub instead: String,
    /// Byte offset of the construct in the pattern.
    pub offset: usize,
}

impl std::fmt::Display for NotPortable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` {}", self.construct, self.why)
    }
}

impl std::error::Error for NotPortable {}

/// A nested quantifier that backtracks catastrophically in PCRE and Python.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BacktrackingRisk {
    /// The repeated part, e.g. `(a+)+`.
    pub construct: String,
    pub offset: usize,
}

/// Checks that `pattern` means the same in every engine. A pattern that does not parse at all
/// passes: the engine's own error says more about it.
pub fn check(pattern: &str) -> Result<(), NotPortable> {
    analysis(pattern).0.clone()
}

/// Every unbounded repetition of `pattern` that a backtracking engine can split in
/// exponentially many ways: its body holds an unbounded repetition that can take the characters
/// that follow it, as in `(a+)+`, `(\w+\s?)*` or `(.*,)*`, so a near miss is retried at every
/// split between the two. `( alert+)*` is safe (each turn starts with a space that `t+` cannot
/// take) and so is `(a+b)+` (the `b` ends each turn).
pub fn backtracking_risks(pattern: &str) -> Vec<BacktrackingRisk> {
    analysis(pattern).1.clone()
}

type Analysis = (Result<(), NotPortable>, Vec<BacktrackingRisk>);

/// Both findings for `pattern`, worked out once per process: a catalogue repeats the same few
/// expressions in many detections.
fn analysis(pattern: &str) -> std::sync::Arc<Analysis> {
    static CACHE: super::PatternCache<std::sync::Arc<Analysis>> = super::PatternCache::new();
    CACHE.get_or_insert_with(pattern, || {
        std::sync::Arc::new(match ast::parse::Parser::new().parse(pattern) {
            Err(_) => (Ok(()), Vec::new()),
            Ok(ast) => {
                let mut walk = Walk {
                    pattern,
                    problem: None,
                };
                walk.top(&ast);
                let mut risks = Vec::new();
                find_ambiguous_loops(&ast, pattern, &mut risks);
                (walk.problem.map_or(Ok(()), Err), risks)
            }
        })
    })
}

/// The pattern for rulecast's evaluator: `\d`, `\w`, `\s` and `\b` (and their negations) in
/// their ASCII form, as RE2 and PCRE read them, instead of Rust's Unicode classes. Other text is
/// unchanged.
pub fn for_rust(pattern: &str) -> String {
    let Ok(ast) = ast::parse::Parser::new().parse(pattern) else {
        return pattern.to_owned();
    };
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    ascii_edits(&ast, &mut edits);
    edits.sort();
    let mut out = String::with_capacity(pattern.len() + 8 * edits.len());
    let mut at = 0;
    for (start, end, text) in edits {
        out.push_str(&pattern[at..start]);
        out.push_str(&text);
        at = end;
    }
    out.push_str(&pattern[at..]);
    out
}

struct Walk<'a> {
    pattern: &'a str,
    problem: Option<NotPortable>,
}

impl Walk<'_> {
    fn refuse(&mut self, span: &ast::Span, why: impl Into<String>, instead: impl Into<String>) {
        if self.problem.is_none() {
            self.problem = Some(NotPortable {
                construct: self.pattern[span.start.offset..span.end.offset].to_owned(),
                why: why.into(),
                instead: instead.into(),
                offset: span.start.offset,
            });
        }
    }

    /// Flags are portable only as the very first item of the pattern.
    fn top(&mut self, ast: &Ast) {
        match ast {
            Ast::Concat(concat) => {
                for (i, item) in concat.asts.iter().enumerate() {
                    match item {
                        Ast::Flags(set) if i == 0 => self.flags(&set.flags, &set.span),
                        other => self.node(other),
                    }
                }
            }
            Ast::Flags(set) => self.flags(&set.flags, &set.span),
            other => self.node(other),
        }
    }

    /// Only `i`, `m` and `s` mean the same everywhere. `written` is the flag group as written,
    /// `(?U)` or `(?iU:`, which the refusal names.
    fn flags(&mut self, flags: &ast::Flags, written: &ast::Span) {
        for item in &flags.items {
            let FlagsItemKind::Flag(flag) = &item.kind else {
                continue;
            };
            let (letter, why, instead) = match flag {
                Flag::CaseInsensitive | Flag::MultiLine | Flag::DotMatchesNewLine => continue,
                Flag::SwapGreed => (
                    'U',
                    "(swap greedy and lazy) exists only in Rust and PCRE; Python and RE2 refuse it",
                    "mark each lazy repetition with `?`, e.g. `a+?`",
                ),
                Flag::Unicode => (
                    'u',
                    "is Rust's alone",
                    "leave it out; only i, m and s are portable",
                ),
                Flag::CRLF => (
                    'R',
                    "is Rust's alone",
                    "leave it out; only i, m and s are portable",
                ),
                Flag::IgnoreWhitespace => (
                    'x',
                    "(verbose mode) reads spaces, `#` and classes differently in each engine",
                    "write the pattern without spaces or comments",
                ),
            };
            self.refuse(
                written,
                format!("sets the flag `{letter}`, which {why}"),
                instead,
            );
        }
    }

    fn node(&mut self, ast: &Ast) {
        match ast {
            Ast::Empty(_) | Ast::Dot(_) | Ast::ClassPerl(_) => {}
            Ast::Flags(set) => self.refuse(
                &set.span,
                "sets flags after the start of the pattern: Python refuses it, the other engines apply them to the rest of the group",
                format!(
                    "put the flags at the very start, or scope them to a group: `(?{}:…)`",
                    &self.pattern[set.flags.span.start.offset..set.flags.span.end.offset]
                ),
            ),
            Ast::Literal(literal) => self.literal(literal),
            Ast::Assertion(assertion) => self.assertion(assertion),
            Ast::ClassUnicode(class) => self.refuse(
                &class.span,
                "is a Unicode property class, which Python's re does not have",
                "list the characters in a class, e.g. `[A-Za-z]`",
            ),
            Ast::ClassBracketed(class) => self.class_set(&class.kind, true),
            Ast::Repetition(repetition) => {
                if let RepetitionKind::Range(range) = &repetition.op.kind {
                    let (RepetitionRange::Exactly(n)
                    | RepetitionRange::AtLeast(n)
                    | RepetitionRange::Bounded(_, n)) = range;
                    if *n > MAX_REPEAT {
                        self.refuse(
                            &repetition.op.span,
                            "repeats more than 1000 times, RE2's limit (KQL refuses the query)",
                            "use a smaller count, or `+`",
                        );
                    }
                }
                self.node(&repetition.ast);
            }
            Ast::Group(group) => {
                match &group.kind {
                    GroupKind::CaptureName {
                        starts_with_p: false,
                        name,
                    } => self.refuse(
                        // Through the `>` after the name.
                        &ast::Span::new(
                            group.span.start,
                            ast::Position::new(
                                name.span.end.offset + 1,
                                name.span.end.line,
                                name.span.end.column + 1,
                            ),
                        ),
                        "is a named group Python's re does not read",
                        format!("write `(?P<{}>…)`", name.name),
                    ),
                    GroupKind::NonCapturing(flags) => {
                        // `(?` + flags + `:`
                        let written = ast::Span::new(
                            group.span.start,
                            ast::Position::new(
                                flags.span.end.offset + 1,
                                flags.span.end.line,
                                flags.span.end.column + 1,
                            ),
                        );
                        self.flags(flags, &written);
                    }
                    _ => {}
                }
                self.node(&group.ast);
            }
            Ast::Alternation(alternation) => {
                for item in &alternation.asts {
                    self.node(item);
                }
            }
            Ast::Concat(concat) => {
                for item in &concat.asts {
                    self.node(item);
                }
            }
        }
    }

    fn literal(&mut self, literal: &ast::Literal) {
        match &literal.kind {
            LiteralKind::HexBrace(_) => self.refuse(
                &literal.span,
                "is a braced escape, which Python's re does not read",
                format!(
                    "write `\\x{:02X}` for a character up to FF, or the character itself",
                    literal.c as u32
                ),
            ),
            LiteralKind::HexFixed(HexLiteralKind::UnicodeShort | HexLiteralKind::UnicodeLong) => {
                self.refuse(
                    &literal.span,
                    "is a \\u escape, which RE2 and PCRE do not read",
                    "write the character itself",
                );
            }
            LiteralKind::Special(SpecialLiteralKind::VerticalTab) => self.refuse(
                &literal.span,
                "is one character in Rust, RE2 and Python but any vertical space in PCRE (Splunk)",
                "write `\\x0B` for the vertical tab",
            ),
            LiteralKind::Octal => self.refuse(
                &literal.span,
                "is an octal escape, read differently by each engine",
                "write `\\xHH`",
            ),
            _ => {}
        }
    }

    fn assertion(&mut self, assertion: &Assertion) {
        let (why, instead) = match assertion.kind {
            AssertionKind::StartLine
            | AssertionKind::EndLine
            | AssertionKind::StartText
            | AssertionKind::WordBoundary
            | AssertionKind::NotWordBoundary => return,
            AssertionKind::EndText => (
                "is the end of the text in Rust, RE2 and PCRE, but Python's re does not read it (its `\\Z` is PCRE's end before a final newline)",
                "write `$`",
            ),
            _ => (
                "is a word-start or word-end assertion that only Rust reads",
                "write `\\b`",
            ),
        };
        self.refuse(&assertion.span, why, instead);
    }

    fn class_set(&mut self, set: &ClassSet, outermost: bool) {
        match set {
            ClassSet::BinaryOp(op) => self.refuse(
                &op.span,
                "is a class operation (&&, -- or ~~) only Rust reads; the others take the characters literally",
                "list the characters the class should hold",
            ),
            ClassSet::Item(item) => self.class_item(item, outermost),
        }
    }

    fn class_item(&mut self, item: &ClassSetItem, outermost: bool) {
        match item {
            ClassSetItem::Empty(_) | ClassSetItem::Perl(_) | ClassSetItem::Range(_) => {}
            ClassSetItem::Literal(literal) => self.literal(literal),
            ClassSetItem::Ascii(class) => self.refuse(
                &class.span,
                "is a POSIX class, which Python's re reads as the characters `[:` … `:]`",
                "list the characters, e.g. `[A-Za-z]` for [:alpha:]",
            ),
            ClassSetItem::Unicode(class) => self.refuse(
                &class.span,
                "is a Unicode property class, which Python's re does not have",
                "list the characters in a class, e.g. `[A-Za-z]`",
            ),
            ClassSetItem::Bracketed(class) => {
                if outermost {
                    self.refuse(
                        &class.span,
                        "is a class inside a class, which only Rust reads",
                        "escape a literal `[` as `\\[`, and merge the classes into one",
                    );
                }
                self.class_set(&class.kind, false);
            }
            ClassSetItem::Union(union) => {
                for item in &union.items {
                    self.class_item(item, outermost);
                }
            }
        }
    }
}

/// Whether a repetition can repeat without bound.
fn unbounded(kind: &RepetitionKind) -> bool {
    matches!(
        kind,
        RepetitionKind::ZeroOrMore
            | RepetitionKind::OneOrMore
            | RepetitionKind::Range(RepetitionRange::AtLeast(_))
    )
}

fn find_ambiguous_loops(ast: &Ast, pattern: &str, risks: &mut Vec<BacktrackingRisk>) {
    match ast {
        Ast::Repetition(repetition) => {
            // After a turn of the loop comes the next turn, so its first characters follow the
            // end of the body.
            if unbounded(&repetition.op.kind)
                && ambiguous_inside(
                    &repetition.ast,
                    &first_chars(&repetition.ast, pattern),
                    pattern,
                )
            {
                risks.push(BacktrackingRisk {
                    construct: pattern[repetition.span.start.offset..repetition.span.end.offset]
                        .to_owned(),
                    offset: repetition.span.start.offset,
                });
                // One warning for the outermost loop; its insides are the same problem.
                return;
            }
            find_ambiguous_loops(&repetition.ast, pattern, risks);
        }
        Ast::Group(group) => find_ambiguous_loops(&group.ast, pattern, risks),
        Ast::Alternation(alternation) => {
            for item in &alternation.asts {
                find_ambiguous_loops(item, pattern, risks);
            }
        }
        Ast::Concat(concat) => {
            for item in &concat.asts {
                find_ambiguous_loops(item, pattern, risks);
            }
        }
        _ => {}
    }
}

/// Whether `ast`, inside a loop, holds an unbounded repetition that can take the characters
/// that come after it (`follow`): the text can then be split between that repetition and
/// what follows it in many ways, each of which a backtracking engine tries.
fn ambiguous_inside(ast: &Ast, follow: &ClassUnicode, pattern: &str) -> bool {
    match ast {
        Ast::Repetition(repetition) => {
            let overlaps = unbounded(&repetition.op.kind) && {
                let mut taken = first_chars(&repetition.ast, pattern);
                taken.intersect(follow);
                !taken.ranges().is_empty()
            };
            overlaps || ambiguous_inside(&repetition.ast, follow, pattern)
        }
        Ast::Group(group) => ambiguous_inside(&group.ast, follow, pattern),
        Ast::Alternation(alternation) => alternation
            .asts
            .iter()
            .any(|item| ambiguous_inside(item, follow, pattern)),
        Ast::Concat(concat) => concat.asts.iter().enumerate().any(|(i, item)| {
            let rest = &concat.asts[i + 1..];
            let mut after = ClassUnicode::empty();
            for next in rest {
                after.union(&first_chars(next, pattern));
                if !nullable(next) {
                    break;
                }
            }
            if rest.iter().all(nullable) {
                after.union(follow);
            }
            ambiguous_inside(item, &after, pattern)
        }),
        _ => false,
    }
}

/// Whether `ast` can match the empty text.
fn nullable(ast: &Ast) -> bool {
    match ast {
        Ast::Empty(_) | Ast::Flags(_) | Ast::Assertion(_) => true,
        Ast::Repetition(repetition) => {
            matches!(
                repetition.op.kind,
                RepetitionKind::ZeroOrMore
                    | RepetitionKind::ZeroOrOne
                    | RepetitionKind::Range(
                        RepetitionRange::Exactly(0)
                            | RepetitionRange::AtLeast(0)
                            | RepetitionRange::Bounded(0, _)
                    )
            ) || nullable(&repetition.ast)
        }
        Ast::Group(group) => nullable(&group.ast),
        Ast::Alternation(alternation) => alternation.asts.iter().any(nullable),
        Ast::Concat(concat) => concat.asts.iter().all(nullable),
        _ => false,
    }
}

/// The characters a match of `ast` can start with, case-folded (a flag may make the pattern
/// case-insensitive, and a warning too many is cheaper than one too few).
fn first_chars(ast: &Ast, pattern: &str) -> ClassUnicode {
    let mut set = ClassUnicode::empty();
    match ast {
        Ast::Literal(literal) => {
            set = ClassUnicode::new([ClassUnicodeRange::new(literal.c, literal.c)]);
            set.case_fold_simple();
        }
        Ast::ClassPerl(class) => set = ascii_perl_class(class),
        Ast::Dot(_) | Ast::ClassUnicode(_) | Ast::ClassBracketed(_) => {
            let span = ast.span();
            set = class_of(&pattern[span.start.offset..span.end.offset]);
        }
        Ast::Repetition(repetition) => set = first_chars(&repetition.ast, pattern),
        Ast::Group(group) => set = first_chars(&group.ast, pattern),
        Ast::Alternation(alternation) => {
            for item in &alternation.asts {
                set.union(&first_chars(item, pattern));
            }
        }
        Ast::Concat(concat) => {
            for item in &concat.asts {
                set.union(&first_chars(item, pattern));
                if !nullable(item) {
                    break;
                }
            }
        }
        Ast::Empty(_) | Ast::Flags(_) | Ast::Assertion(_) => {}
    }
    set
}

/// `\d`, `\w` or `\s` as RE2 and PCRE read them (ASCII), negated for `\D`, `\W`, `\S`.
fn ascii_perl_class(class: &ast::ClassPerl) -> ClassUnicode {
    let range = |a: char, b: char| ClassUnicodeRange::new(a, b);
    let mut set = ClassUnicode::new(match class.kind {
        ast::ClassPerlKind::Digit => vec![range('0', '9')],
        ast::ClassPerlKind::Word => vec![
            range('0', '9'),
            range('A', 'Z'),
            range('_', '_'),
            range('a', 'z'),
        ],
        ast::ClassPerlKind::Space => vec![range('\t', '\r'), range(' ', ' ')],
    });
    if class.negated {
        set.negate();
    }
    set
}

/// The characters a class written on its own (`.`, `[a-z]`) matches, case-folded; every
/// character when it cannot be read alone.
fn class_of(text: &str) -> ClassUnicode {
    let any = || ClassUnicode::new([ClassUnicodeRange::new('\0', char::MAX)]);
    match regex_syntax::ParserBuilder::new()
        .case_insensitive(true)
        .build()
        .parse(text)
        .map(regex_syntax::hir::Hir::into_kind)
    {
        Ok(HirKind::Class(Class::Unicode(class))) => class,
        _ => any(),
    }
}

/// Replacements that give the Perl classes and word boundaries their ASCII meaning.
fn ascii_edits(ast: &Ast, edits: &mut Vec<(usize, usize, String)>) {
    let mut edit = |span: &ast::Span, text: String| {
        edits.push((span.start.offset, span.end.offset, text));
    };
    match ast {
        Ast::ClassPerl(class) => edit(&class.span, ascii_class(class)),
        Ast::Assertion(assertion) => match assertion.kind {
            AssertionKind::WordBoundary => edit(&assertion.span, r"(?-u:\b)".to_owned()),
            AssertionKind::NotWordBoundary => edit(&assertion.span, r"(?-u:\B)".to_owned()),
            _ => {}
        },
        Ast::ClassBracketed(class) => class_edits(&class.kind, edits),
        Ast::Repetition(repetition) => ascii_edits(&repetition.ast, edits),
        Ast::Group(group) => ascii_edits(&group.ast, edits),
        Ast::Alternation(alternation) => {
            for item in &alternation.asts {
                ascii_edits(item, edits);
            }
        }
        Ast::Concat(concat) => {
            for item in &concat.asts {
                ascii_edits(item, edits);
            }
        }
        _ => {}
    }
}

fn class_edits(set: &ClassSet, edits: &mut Vec<(usize, usize, String)>) {
    match set {
        ClassSet::BinaryOp(op) => {
            class_edits(&op.lhs, edits);
            class_edits(&op.rhs, edits);
        }
        ClassSet::Item(item) => class_item_edits(item, edits),
    }
}

fn class_item_edits(item: &ClassSetItem, edits: &mut Vec<(usize, usize, String)>) {
    match item {
        ClassSetItem::Perl(class) => edits.push((
            class.span.start.offset,
            class.span.end.offset,
            ascii_class(class),
        )),
        ClassSetItem::Bracketed(class) => class_edits(&class.kind, edits),
        ClassSetItem::Union(union) => {
            for item in &union.items {
                class_item_edits(item, edits);
            }
        }
        _ => {}
    }
}

/// The ASCII class of `\d`, `\w` or `\s` (negated for `\D`, `\W`, `\S`), as RE2 and PCRE define
/// them. Inside a bracketed class it becomes a nested class, which Rust reads.
fn ascii_class(class: &ast::ClassPerl) -> String {
    let members = match class.kind {
        ast::ClassPerlKind::Digit => "0-9",
        ast::ClassPerlKind::Word => "0-9A-Za-z_",
        ast::ClassPerlKind::Space => r"\t\n\x0B\x0C\r ",
    };
    let negation = if class.negated { "^" } else { "" };
    format!("[{negation}{members}]")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(pattern: &str) -> String {
        match check(pattern) {
            Err(e) => e.construct,
            Ok(()) => panic!("{pattern} was accepted"),
        }
    }

    #[test]
    fn portable_patterns_pass() {
        for pattern in [
            r"(?i)^Add (eligible|active) member( to role)?$",
            r"(: |\. )Approval( requirement)? disabled",
            r"Maximum activation duration updated to (\d+\.\d\d:\d\d:\d\d|(09|1\d|2[0-3]):\d\d)",
            r"(?P<role>Global Administrator)",
            r"\Aa\bb\Bc[^a-z\d\]-]x{2,5}?y*?\x41\t\n\.\-\/",
            r"(?i:admin)|(?s:a.b)|(?-i:X)",
            "^a\"b\\d+`c$",
        ] {
            assert_eq!(check(pattern), Ok(()), "{pattern}");
        }
    }

    #[test]
    fn each_construct_outside_the_dialect_is_named() {
        for (pattern, construct) in [
            (r"(?<id>\w+)", "(?<id>"),
            (r"a(?i)b", "(?i)"),
            (r"(?U)a+", "(?U)"),
            (r"(?x)a b", "(?x)"),
            (r"(?iR:x)", "(?iR:"),
            (r"(?i:(?u)x)", "(?u)"),
            (r"\p{L}+", r"\p{L}"),
            (r"\pL", r"\pL"),
            (r"[\p{Greek}a]", r"\p{Greek}"),
            (r"end\z", r"\z"),
            (r"\x{41}", r"\x{41}"),
            (r"\u0041", r"\u0041"),
            (r"[a-z&&[^x]]", "a-z&&[^x]"),
            (r"[[:alpha:]]", "[:alpha:]"),
            (r"[a[bc]]", "[bc]"),
            (r"a\vb", r"\v"),
            (r"\<word\>", r"\<"),
            (r"\b{start}x", r"\b{start}"),
            (r"a{1001}", "{1001}"),
        ] {
            assert_eq!(refused(pattern), construct, "{pattern}");
        }
    }

    #[test]
    fn nested_unbounded_quantifiers_are_risks() {
        let constructs = |p: &str| -> Vec<String> {
            backtracking_risks(p)
                .into_iter()
                .map(|r| r.construct)
                .collect()
        };
        assert_eq!(constructs(r"^(a+)+$"), ["(a+)+"]);
        assert_eq!(constructs(r"x(\w+\s?)*y"), [r"(\w+\s?)*"]);
        assert_eq!(constructs(r"(?i)(A|b+)*c"), ["(A|b+)*"]);
        assert_eq!(constructs(r"(.*,)*x"), ["(.*,)*"]);
        assert_eq!(constructs(r"(x.*)*y"), ["(x.*)*"]);
        // Each turn of the loop is delimited: no split is ambiguous.
        assert!(constructs(r"^Disable( alert+)*$").is_empty());
        assert!(constructs(r"(a+b)+").is_empty());
        assert!(constructs(r"((ab)*c)*").is_empty());
        assert!(constructs(r"(ab){2}x+").is_empty());
        assert!(constructs(r"(\d+\.\d\d)").is_empty());
    }

    #[test]
    fn the_evaluator_reads_perl_classes_as_ascii() {
        let digit = "\u{0663}"; // ARABIC-INDIC DIGIT THREE, a Unicode digit
        let rust = regex::Regex::new(&for_rust(r"^\d$")).unwrap();
        assert!(rust.is_match("3"));
        assert!(!rust.is_match(digit), "RE2 and PCRE read \\d as [0-9]");
        assert!(regex::Regex::new(r"^\d$").unwrap().is_match(digit));
        for (pattern, text, matches) in [
            (r"^[\d_]+$", "1_2", true),
            (r"^[^\W]+$", "é", false),
            (r"\bx\b", "éxé", true),
            (r"^\S+$", "a\u{2003}b", true),
        ] {
            let re =
                regex::Regex::new(&for_rust(pattern)).unwrap_or_else(|e| panic!("{pattern}: {e}"));
            assert_eq!(re.is_match(text), matches, "{pattern} on {text:?}");
        }
    }
}
