//! Value modifiers, the `|name` suffixes of a field key (`ResultReason|contains`), in one table.
//!
//! A modifier is described once, here: its name, what it means (the evaluator's semantics, which
//! every compiled query must share), and how each query language says it. The parser reads the
//! names from the table, the Sigma compiler writes them back from it, the catalogue reference
//! (`rulecast schema --reference`) prints it, and a language that cannot express a modifier
//! says so here, so a detection that uses it is refused when the catalogue loads instead of
//! compiling to a query that means something else.
//!
//! Adding a modifier: a variant and a row here, its [`Matcher`](super::Matcher) form in
//! [`parse_selection`](super::parse_selection), and the `Matcher` arm that the compilers
//! (`lang::kql`, `lang::spl`) and the evaluator (`eval::matcher`) then fail to compile without.

/// A modifier rulecast understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Modifier {
    Contains,
    StartsWith,
    EndsWith,
    All,
    Re,
    I,
    Cased,
    Exists,
    Expand,
}

/// How a query language expresses a modifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lowering {
    /// With an operator of its own, named here.
    Native(&'static str),
    /// Through another construct with the same result, described here.
    Fallback(&'static str),
    /// Not at all, for this reason: a detection using the modifier does not load.
    Refused(&'static str),
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct ModifierSpec {
    pub modifier: Modifier,
    /// As written after `|`.
    pub name: &'static str,
    /// What the match means: the evaluator's semantics, which every language keeps.
    pub meaning: &'static str,
    pub kql: Lowering,
    pub spl: Lowering,
    pub sigma: Lowering,
}

/// The query languages rulecast compiles to, for [`ModifierSpec::lowering`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Kql,
    Spl,
    Sigma,
}

impl Language {
    pub const ALL: [Language; 3] = [Language::Kql, Language::Spl, Language::Sigma];

    pub fn name(self) -> &'static str {
        match self {
            Language::Kql => "KQL",
            Language::Spl => "SPL",
            Language::Sigma => "Sigma",
        }
    }
}

/// Every modifier, in the order the documentation lists them.
pub const MODIFIERS: [ModifierSpec; 9] = [
    ModifierSpec {
        modifier: Modifier::Contains,
        name: "contains",
        meaning: "the value occurs anywhere in the field (`*value*`), ignoring case",
        kql: Lowering::Native("`contains` (`contains_cs` with `cased`)"),
        spl: Lowering::Fallback("`match(field, \"(?i)value\")` with the value regex-escaped"),
        sigma: Lowering::Native("`|contains`"),
    },
    ModifierSpec {
        modifier: Modifier::StartsWith,
        name: "startswith",
        meaning: "the field starts with the value (`value*`), ignoring case",
        kql: Lowering::Native("`startswith` (`startswith_cs` with `cased`)"),
        spl: Lowering::Fallback("`match(field, \"(?i)^value\")`, the pattern as an anchored regex"),
        sigma: Lowering::Native("`|startswith`"),
    },
    ModifierSpec {
        modifier: Modifier::EndsWith,
        name: "endswith",
        meaning: "the field ends with the value (`*value`), ignoring case",
        kql: Lowering::Native("`endswith` (`endswith_cs` with `cased`)"),
        spl: Lowering::Fallback("`match(field, \"(?i)value$\")`, the pattern as an anchored regex"),
        sigma: Lowering::Native("`|endswith`"),
    },
    ModifierSpec {
        modifier: Modifier::All,
        name: "all",
        meaning: "every value of the list must match (without it, any one)",
        kql: Lowering::Native("the tests joined with `and`"),
        spl: Lowering::Native("the tests joined with `AND`"),
        sigma: Lowering::Native("`|all`"),
    },
    ModifierSpec {
        modifier: Modifier::Re,
        name: "re",
        meaning: "the value is a regular expression (RE2 syntax), unanchored, case-sensitive",
        kql: Lowering::Native("`matches regex`"),
        spl: Lowering::Native("`match(field, regex)`"),
        sigma: Lowering::Native("`|re`"),
    },
    ModifierSpec {
        modifier: Modifier::I,
        name: "i",
        meaning: "with `re`: the regular expression ignores case",
        kql: Lowering::Fallback("the `(?i)` flag at the start of the expression"),
        spl: Lowering::Fallback("the `(?i)` flag at the start of the expression"),
        sigma: Lowering::Native("`|re|i`"),
    },
    ModifierSpec {
        modifier: Modifier::Cased,
        name: "cased",
        meaning: "the match respects case (plain matches ignore it)",
        kql: Lowering::Native("`==` and the `_cs` operators"),
        spl: Lowering::Fallback("`==`, and the pattern regex without `(?i)`"),
        sigma: Lowering::Native("`|cased`"),
    },
    ModifierSpec {
        modifier: Modifier::Exists,
        name: "exists",
        meaning: "`true`: the field has a value; `false`: it is missing or empty (no target \
                  tells a missing field from an empty one)",
        kql: Lowering::Fallback("`isnotempty(field)` / `isempty(field)`"),
        spl: Lowering::Fallback("`field!=\"\"` / `field==\"\"` on the normalised field"),
        sigma: Lowering::Native("`|exists`"),
    },
    ModifierSpec {
        modifier: Modifier::Expand,
        name: "expand",
        meaning: "the value is a placeholder naming a list of rulecast.yaml (`%tier0_roles%`; \
                  `%tier0_roles.name%` for the names its entries give): the field is one of the \
                  list's values, ignoring case; after `contains`, `startswith` or `endswith` it \
                  contains, starts or ends with one. Written last; not with `re`, `all`, \
                  `cased` or `exists`",
        kql: Lowering::Fallback(
            "the list bound once with `let` (from its Sentinel watchlist, or its inline \
             values) and tested with `set_has_element(list, tolower(field))`; in part, one \
             `contains`/`startswith`/`endswith` per inline value, joined with `or`",
        ),
        spl: Lowering::Fallback(
            "`| lookup` of the list's Splunk lookup that sets a flag field, tested with \
             `isnotnull(flag)`, or `in(lower(field), ...)` over the inline values; in part, \
             one `match` per inline value, joined with `OR`",
        ),
        sigma: Lowering::Native(
            "`|expand` with the placeholder as written; the shipped pySigma pipelines carry \
             the list's values as `vars`",
        ),
    },
];

impl Modifier {
    /// The modifier written `name`.
    pub fn from_name(name: &str) -> Option<Modifier> {
        MODIFIERS
            .iter()
            .find(|spec| spec.name == name)
            .map(|spec| spec.modifier)
    }

    /// The modifier's row of the table.
    pub fn spec(self) -> &'static ModifierSpec {
        MODIFIERS
            .iter()
            .find(|spec| spec.modifier == self)
            .expect("every modifier has a row")
    }

    /// As written after `|`.
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// `contains`, `startswith` and `endswith` wrap the value in wildcards; one at most applies.
    pub(crate) fn wraps(self) -> Option<(bool, bool)> {
        match self {
            Modifier::Contains => Some((true, true)),
            Modifier::StartsWith => Some((false, true)),
            Modifier::EndsWith => Some((true, false)),
            _ => None,
        }
    }
}

impl ModifierSpec {
    pub fn lowering(&self, language: Language) -> Lowering {
        match language {
            Language::Kql => self.kql,
            Language::Spl => self.spl,
            Language::Sigma => self.sigma,
        }
    }
}

/// Every modifier's name, for messages.
pub(crate) fn names() -> impl Iterator<Item = &'static str> {
    MODIFIERS.iter().map(|spec| spec.name)
}

/// The languages that cannot express `modifier`, with their reasons.
pub(crate) fn refusals(spec: &ModifierSpec) -> Vec<(Language, &'static str)> {
    Language::ALL
        .into_iter()
        .filter_map(|language| match spec.lowering(language) {
            Lowering::Refused(reason) => Some((language, reason)),
            Lowering::Native(_) | Lowering::Fallback(_) => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_modifier_has_one_row_and_names_are_unique() {
        let all = [
            Modifier::Contains,
            Modifier::StartsWith,
            Modifier::EndsWith,
            Modifier::All,
            Modifier::Re,
            Modifier::I,
            Modifier::Cased,
            Modifier::Exists,
            Modifier::Expand,
        ];
        assert_eq!(all.len(), MODIFIERS.len());
        for m in all {
            assert_eq!(
                MODIFIERS.iter().filter(|s| s.modifier == m).count(),
                1,
                "{m:?}"
            );
            assert_eq!(Modifier::from_name(m.name()), Some(m));
        }
        assert_eq!(Modifier::from_name("contians"), None);
    }

    #[test]
    fn a_refused_lowering_is_reported_with_its_language() {
        let spec = ModifierSpec {
            spl: Lowering::Refused("SPL has no such operator"),
            ..MODIFIERS[0]
        };
        assert_eq!(
            refusals(&spec),
            [(Language::Spl, "SPL has no such operator")]
        );
    }
}
