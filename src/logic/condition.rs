//! The condition language: Sigma's boolean expressions over selection names.
//!
//! `selection and not (filter_a or filter_b)`, `1 of selection_*`, `all of them`. Parsing
//! reports the character offset of a problem so the loader can point at it inside the YAML
//! string.

use std::fmt;

/// A parsed condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    Selection(String),
    Not(Box<Condition>),
    And(Vec<Condition>),
    Or(Vec<Condition>),
    /// `1 of <glob>` / `all of <glob>`; `them` is the glob `*`.
    OfPattern {
        all: bool,
        pattern: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConditionError {
    /// Character offset in the condition text.
    pub offset: usize,
    pub message: String,
}

impl fmt::Display for ConditionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at character {})", self.message, self.offset + 1)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Ident(String),
    And,
    Or,
    Not,
    OneOf,
    AllOf,
    LParen,
    RParen,
}

fn describe(t: Option<&(usize, Token)>) -> String {
    match t {
        None => "the end of the condition".to_owned(),
        Some((_, Token::Ident(s))) => format!("`{s}`"),
        Some((_, Token::And)) => "`and`".to_owned(),
        Some((_, Token::Or)) => "`or`".to_owned(),
        Some((_, Token::Not)) => "`not`".to_owned(),
        Some((_, Token::OneOf)) => "`1 of`".to_owned(),
        Some((_, Token::AllOf)) => "`all of`".to_owned(),
        Some((_, Token::LParen)) => "`(`".to_owned(),
        Some((_, Token::RParen)) => "`)`".to_owned(),
    }
}

fn tokenize(text: &str) -> Result<Vec<(usize, Token)>, ConditionError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' {
            tokens.push((i, Token::LParen));
            i += 1;
        } else if c == ')' {
            tokens.push((i, Token::RParen));
            i += 1;
        } else if c.is_ascii_alphanumeric() || c == '_' || c == '*' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == '*')
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let token = match word.as_str() {
                "and" => Token::And,
                "or" => Token::Or,
                "not" => Token::Not,
                "1" | "all" => {
                    // `1 of` / `all of`: look ahead for `of`.
                    let mut j = i;
                    while j < chars.len() && chars[j].is_whitespace() {
                        j += 1;
                    }
                    if chars[j..].starts_with(&['o', 'f'])
                        && chars
                            .get(j + 2)
                            .is_none_or(|c| !c.is_ascii_alphanumeric() && *c != '_')
                    {
                        i = j + 2;
                        if word == "1" {
                            Token::OneOf
                        } else {
                            Token::AllOf
                        }
                    } else if word == "1" {
                        return Err(ConditionError {
                            offset: start,
                            message: "`1` must be followed by `of`".to_owned(),
                        });
                    } else {
                        Token::Ident(word)
                    }
                }
                _ => Token::Ident(word),
            };
            tokens.push((start, token));
        } else if c == '|' {
            return Err(ConditionError {
                offset: i,
                message: "pipes (`| count() > n`) are Sigma's deprecated aggregation syntax"
                    .to_owned(),
            });
        } else {
            return Err(ConditionError {
                offset: i,
                message: format!("unexpected character `{c}`"),
            });
        }
    }
    Ok(tokens)
}

/// Parses a condition. Precedence, lowest first: `or`, `and`, `not`.
pub(crate) fn parse(text: &str) -> Result<Condition, ConditionError> {
    let tokens = tokenize(text)?;
    if tokens.is_empty() {
        return Err(ConditionError {
            offset: 0,
            message: "the condition is empty".to_owned(),
        });
    }
    let mut parser = Parser {
        tokens,
        pos: 0,
        end: text.chars().count(),
        depth: 0,
    };
    let condition = parser.or()?;
    if let Some(t) = parser.tokens.get(parser.pos) {
        return Err(ConditionError {
            offset: t.0,
            message: format!(
                "expected `and`, `or` or the end of the condition, found {}",
                describe(Some(t))
            ),
        });
    }
    Ok(condition)
}

/// `(a or b) or c` is `a or b or c`: an operand of the same operator is merged into it, so a
/// condition has one tree however it is parenthesised, and printing it gives that tree back
/// (fuzzing found `(a or b) or c` printed as `a or b or c` and read back as another tree).
fn merge(items: &mut Vec<Condition>, item: Condition, or: bool) {
    match item {
        Condition::Or(inner) if or => items.extend(inner),
        Condition::And(inner) if !or => items.extend(inner),
        other => items.push(other),
    }
}

struct Parser {
    tokens: Vec<(usize, Token)>,
    pos: usize,
    end: usize,
    depth: usize,
}

/// Parentheses nested deeper than this are not a real condition; refuse them before the stack does.
const MAX_NESTING: usize = 64;

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos).map(|t| &t.1)
    }

    fn offset(&self) -> usize {
        self.tokens.get(self.pos).map(|t| t.0).unwrap_or(self.end)
    }

    fn or(&mut self) -> Result<Condition, ConditionError> {
        let mut items = Vec::new();
        merge(&mut items, self.and()?, true);
        while self.peek() == Some(&Token::Or) {
            self.pos += 1;
            merge(&mut items, self.and()?, true);
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap()
        } else {
            Condition::Or(items)
        })
    }

    fn and(&mut self) -> Result<Condition, ConditionError> {
        let mut items = Vec::new();
        merge(&mut items, self.not()?, false);
        while self.peek() == Some(&Token::And) {
            self.pos += 1;
            merge(&mut items, self.not()?, false);
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap()
        } else {
            Condition::And(items)
        })
    }

    fn not(&mut self) -> Result<Condition, ConditionError> {
        if self.peek() == Some(&Token::Not) {
            self.pos += 1;
            self.enter()?;
            let inner = self.not()?;
            self.depth -= 1;
            return Ok(Condition::Not(Box::new(inner)));
        }
        self.primary()
    }

    fn enter(&mut self) -> Result<(), ConditionError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(ConditionError {
                offset: self.offset(),
                message: format!("the condition nests more than {MAX_NESTING} levels deep"),
            });
        }
        Ok(())
    }

    fn primary(&mut self) -> Result<Condition, ConditionError> {
        let offset = self.offset();
        match self.tokens.get(self.pos).cloned() {
            Some((_, Token::LParen)) => {
                self.pos += 1;
                self.enter()?;
                let inner = self.or()?;
                self.depth -= 1;
                if self.peek() != Some(&Token::RParen) {
                    return Err(ConditionError {
                        offset: self.offset(),
                        message: format!(
                            "expected `)` to close the `(` at character {}, found {}",
                            offset + 1,
                            describe(self.tokens.get(self.pos))
                        ),
                    });
                }
                self.pos += 1;
                Ok(inner)
            }
            Some((_, t @ (Token::OneOf | Token::AllOf))) => {
                self.pos += 1;
                match self.tokens.get(self.pos).cloned() {
                    Some((_, Token::Ident(name))) => {
                        self.pos += 1;
                        let pattern = if name == "them" { "*".to_owned() } else { name };
                        Ok(Condition::OfPattern {
                            all: t == Token::AllOf,
                            pattern,
                        })
                    }
                    other => Err(ConditionError {
                        offset: self.offset(),
                        message: format!(
                            "expected a selection name, a pattern such as `selection_*`, or `them`, found {}",
                            describe(other.as_ref())
                        ),
                    }),
                }
            }
            Some((_, Token::Ident(name))) => {
                self.pos += 1;
                if name.contains('*') {
                    return Err(ConditionError {
                        offset,
                        message: format!(
                            "`{name}` is a pattern; write `1 of {name}` or `all of {name}`"
                        ),
                    });
                }
                Ok(Condition::Selection(name))
            }
            other => Err(ConditionError {
                offset,
                message: format!(
                    "expected a selection name, `not`, `(`, `1 of` or `all of`, found {}",
                    describe(other.as_ref())
                ),
            }),
        }
    }
}

impl Condition {
    /// Every selection name and pattern the condition mentions.
    pub(crate) fn references(&self) -> Vec<(&str, bool)> {
        let mut out = Vec::new();
        self.walk(&mut out);
        out
    }

    fn walk<'a>(&'a self, out: &mut Vec<(&'a str, bool)>) {
        match self {
            Condition::Selection(s) => out.push((s, false)),
            Condition::OfPattern { pattern, .. } => out.push((pattern, true)),
            Condition::Not(c) => c.walk(out),
            Condition::And(cs) | Condition::Or(cs) => cs.iter().for_each(|c| c.walk(out)),
        }
    }

    /// Replaces `1 of x*` / `all of x*` with the selections they name, in catalogue order.
    pub(crate) fn expand(&self, names: &[String]) -> Condition {
        match self {
            Condition::Selection(_) => self.clone(),
            Condition::Not(c) => Condition::Not(Box::new(c.expand(names))),
            Condition::And(cs) => Condition::And(cs.iter().map(|c| c.expand(names)).collect()),
            Condition::Or(cs) => Condition::Or(cs.iter().map(|c| c.expand(names)).collect()),
            Condition::OfPattern { all, pattern } => {
                let matched: Vec<Condition> = names
                    .iter()
                    .filter(|n| name_matches(pattern, n))
                    .map(|n| Condition::Selection(n.clone()))
                    .collect();
                let mut matched = matched;
                match matched.len() {
                    1 => matched.pop().unwrap(),
                    _ if *all => Condition::And(matched),
                    _ => Condition::Or(matched),
                }
            }
        }
    }
}

/// Glob match of a selection-name pattern (only `*` is special).
pub(crate) fn name_matches(pattern: &str, name: &str) -> bool {
    crate::logic::pattern::Pattern::parse(pattern).matches(name, true)
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Condition::Selection(s) => f.write_str(s),
            Condition::Not(c) => match **c {
                Condition::And(_) | Condition::Or(_) => write!(f, "not ({c})"),
                _ => write!(f, "not {c}"),
            },
            Condition::And(cs) => join(f, cs, " and ", |c| matches!(c, Condition::Or(_))),
            Condition::Or(cs) => join(f, cs, " or ", |_| false),
            Condition::OfPattern { all, pattern } => {
                let quantifier = if *all { "all of" } else { "1 of" };
                let target = if pattern == "*" { "them" } else { pattern };
                write!(f, "{quantifier} {target}")
            }
        }
    }
}

fn join(
    f: &mut fmt::Formatter<'_>,
    items: &[Condition],
    sep: &str,
    wrap: impl Fn(&Condition) -> bool,
) -> fmt::Result {
    for (i, c) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        if wrap(c) {
            write!(f, "({c})")?;
        } else {
            write!(f, "{c}")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Condition {
        parse(s).unwrap()
    }

    #[test]
    fn precedence_and_parentheses() {
        assert_eq!(p("a or b and not c").to_string(), "a or b and not c");
        assert_eq!(
            p("a or b and not c"),
            Condition::Or(vec![
                Condition::Selection("a".into()),
                Condition::And(vec![
                    Condition::Selection("b".into()),
                    Condition::Not(Box::new(Condition::Selection("c".into())))
                ]),
            ])
        );
        assert_eq!(p("(a or b) and c").to_string(), "(a or b) and c");
        assert_eq!(p("not (a and b)").to_string(), "not (a and b)");
    }

    #[test]
    fn redundant_parentheses_give_the_same_tree() {
        assert_eq!(p("(a or b) or c"), p("a or b or c"));
        assert_eq!(p("a and (b and c)"), p("a and b and c"));
        let c = p("(a or a or anndd)or a or annd");
        assert_eq!(p(&c.to_string()), c, "printing gives the tree back");
        assert_eq!(p("(a or b) and c").to_string(), "(a or b) and c");
    }

    #[test]
    fn quantifiers() {
        assert_eq!(
            p("1 of selection_*"),
            Condition::OfPattern {
                all: false,
                pattern: "selection_*".into()
            }
        );
        assert_eq!(
            p("all of them"),
            Condition::OfPattern {
                all: true,
                pattern: "*".into()
            }
        );
        let names = vec!["sel_a".to_owned(), "sel_b".to_owned(), "filter".to_owned()];
        assert_eq!(
            p("1 of sel_* and not filter").expand(&names).to_string(),
            "(sel_a or sel_b) and not filter"
        );
    }

    #[test]
    fn errors_point_at_the_problem() {
        let e = parse("a and (b or c").unwrap_err();
        assert_eq!(e.offset, 13);
        assert!(e.message.starts_with("expected `)`"), "{}", e.message);
        assert_eq!(parse("a b").unwrap_err().offset, 2);
        assert_eq!(parse("a and").unwrap_err().offset, 5);
        assert_eq!(
            parse("sel_*").unwrap_err().message,
            "`sel_*` is a pattern; write `1 of sel_*` or `all of sel_*`"
        );
        assert!(
            parse("a | count() > 5")
                .unwrap_err()
                .message
                .contains("deprecated")
        );
        assert!(parse("").is_err());
        assert!(parse(&format!("{}a{}", "(".repeat(500), ")".repeat(500))).is_err());
    }
}
