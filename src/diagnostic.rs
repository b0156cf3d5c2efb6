//! Diagnostics: every problem rulecast reports about a catalogue.
//!
//! A catalogue is edited by many people, so an error has to point at the exact place that is wrong
//! (file, line, column, with the offending line shown) and say how to fix it. Loading and
//! validation never stop at the first problem: they push into a [`Diagnostics`] list so a run
//! reports everything it found at once.

use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};

/// A position in a source file, 1-based like editors show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

impl Position {
    pub fn new(line: usize, column: usize) -> Self {
        Position { line, column }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

/// One finding, with enough context to render a snippet.
///
/// The details live behind one pointer: diagnostics are returned as the error of many small
/// functions, and a `Result` should not carry a hundred bytes of error on its happy path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic(Box<Details>);

#[derive(Debug, Clone, PartialEq, Eq)]
struct Details {
    severity: Severity,
    file: Option<PathBuf>,
    position: Option<Position>,
    message: String,
    /// How to fix it, when rulecast can tell.
    help: Option<String>,
    /// The source line the position points into, captured when the diagnostic is created so
    /// rendering never has to re-read the file.
    source_line: Option<String>,
}

impl Diagnostic {
    pub fn error(message: impl Into<String>) -> Self {
        Diagnostic(Box::new(Details {
            severity: Severity::Error,
            file: None,
            position: None,
            message: message.into(),
            help: None,
            source_line: None,
        }))
    }

    pub fn warning(message: impl Into<String>) -> Self {
        let mut d = Diagnostic::error(message);
        d.0.severity = Severity::Warning;
        d
    }

    #[must_use]
    pub fn in_file(mut self, file: impl AsRef<Path>) -> Self {
        self.0.file = Some(file.as_ref().to_path_buf());
        self
    }

    /// Points the diagnostic at `position` in `source`, keeping the line for the snippet.
    #[must_use]
    pub fn at(mut self, source: &str, position: Position) -> Self {
        self.0.source_line = source
            .lines()
            .nth(position.line.saturating_sub(1))
            .map(str::to_owned);
        self.0.position = Some(position);
        self
    }

    #[must_use]
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.0.help = Some(help.into());
        self
    }

    /// The same diagnostic with its message rewritten (to add context such as the detection).
    #[must_use]
    pub fn map_message(mut self, f: impl FnOnce(&str) -> String) -> Self {
        self.0.message = f(&self.0.message);
        self
    }

    pub fn is_error(&self) -> bool {
        self.0.severity == Severity::Error
    }

    pub fn severity(&self) -> Severity {
        self.0.severity
    }

    /// What is wrong.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// How to fix it, when rulecast can tell.
    pub fn help(&self) -> Option<&str> {
        self.0.help.as_deref()
    }

    pub fn file(&self) -> Option<&Path> {
        self.0.file.as_deref()
    }

    pub fn position(&self) -> Option<Position> {
        self.0.position
    }

    /// `path:line:column` as editors and CI annotations understand it.
    pub fn location(&self) -> String {
        let mut out = String::new();
        if let Some(file) = &self.0.file {
            out.push_str(&display_path(file));
            if let Some(p) = self.0.position {
                let _ = write!(out, ":{}:{}", p.line, p.column);
            }
        }
        out
    }
}

/// Paths are shown with forward slashes so messages (and their snapshots) read the same on
/// every platform, and with control characters escaped (a file name may hold a newline).
pub fn display_path(path: &Path) -> String {
    escape_controls(&path.to_string_lossy().replace('\\', "/")).into_owned()
}

/// Whether a character would act on a terminal instead of showing: control characters (an
/// escape sequence can rewrite the screen, a carriage return hide what came before), the line
/// and paragraph separators (which break a line like `\n` in some terminals and viewers), and
/// the bidirectional controls that display text in another order than it is.
fn acts_on_terminal(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{061c}' | '\u{200e}' | '\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// `text` with every character that would act on a terminal written as an escape (`\n`,
/// `\u{1b}`), so it prints on one line as what it is. The one escaping of the crate: catalogue
/// text echoed in a message, and log values in `rulecast scan`'s report (which an attacker may
/// have written, to forge an alert line or move the cursor) both go through it.
pub fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(acts_on_terminal) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if acts_on_terminal(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.0;
        let label = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        writeln!(f, "{label}: {}", escape_controls(&d.message))?;
        // The arrow, the bars and the help line up with the line number, as in rustc's output,
        // so the eye runs straight down the gutter.
        let snippet = d.source_line.as_ref().zip(d.position);
        let gutter = " ".repeat(snippet.map_or(1, |(_, pos)| pos.line.to_string().len()));
        let location = self.location();
        if !location.is_empty() {
            writeln!(f, "{gutter}--> {location}")?;
        }
        if let Some((line, pos)) = snippet {
            let shown = |text: &str| escape_controls(&text.replace('\t', " ")).into_owned();
            writeln!(f, "{gutter} |")?;
            writeln!(f, "{} | {}", pos.line, shown(line))?;
            // The caret counts the characters before it as they are shown, escapes included.
            let before: String = line.chars().take(pos.column.saturating_sub(1)).collect();
            let caret_pad = " ".repeat(shown(&before).chars().count());
            writeln!(f, "{gutter} | {caret_pad}^")?;
        }
        if let Some(help) = &d.help {
            writeln!(f, "{gutter} = help: {}", escape_controls(help))?;
        }
        Ok(())
    }
}

/// An ordered collection of diagnostics.
#[derive(Debug, Default, Clone)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.items.push(diagnostic);
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.items.extend(other.items);
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(Diagnostic::is_error)
    }

    pub fn error_count(&self) -> usize {
        self.items.iter().filter(|d| d.is_error()).count()
    }

    pub fn warning_count(&self) -> usize {
        self.items.len() - self.error_count()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }

    /// Sorted by file and position, so output is stable whatever order files were read in.
    #[must_use]
    pub fn sorted(mut self) -> Self {
        self.items.sort_by(|a, b| {
            let key = |d: &Diagnostic| (d.0.file.clone(), d.0.position, d.0.severity);
            key(a)
                .cmp(&key(b))
                .then_with(|| a.0.message.cmp(&b.0.message))
        });
        self.items.dedup();
        self
    }

    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.items
    }
}

impl std::error::Error for Diagnostic {}

impl From<Diagnostic> for Diagnostics {
    fn from(diagnostic: Diagnostic) -> Self {
        Diagnostics {
            items: vec![diagnostic],
        }
    }
}

impl std::error::Error for Diagnostics {}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.items.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

/// The closest candidate to `input`, if it is close enough to be a likely typo.
pub(crate) fn did_you_mean<'a>(
    input: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let lower = input.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(&lower, &c.to_ascii_lowercase()), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_would_act_on_a_terminal_is_shown_escaped() {
        assert!(matches!(
            escape_controls("alex@contoso.example"),
            std::borrow::Cow::Borrowed(_)
        ));
        assert_eq!(escape_controls("plain é"), "plain é");
        assert_eq!(escape_controls("Ärger über Größe"), "Ärger über Größe");
        assert_eq!(
            escape_controls("x\nhigh  entra-roles/forged: Fake\u{1b}[2K\r\u{202e}"),
            "x\\nhigh  entra-roles/forged: Fake\\u{1b}[2K\\r\\u{202e}"
        );
        assert_eq!(
            escape_controls("tab\there\u{2028}\u{7f}\u{85}\u{200f}"),
            "tab\\there\\u{2028}\\u{7f}\\u{85}\\u{200f}"
        );
        assert_eq!(
            escape_controls("a\u{1b}[31mred\r\nb\u{202e}c"),
            "a\\u{1b}[31mred\\r\\nb\\u{202e}c"
        );
        let source = "title: \"x\u{1b}[2J\"\tend\n";
        let d = Diagnostic::error("the title `x\u{1b}[2J` is already used")
            .in_file("d/new\nline.yaml")
            .at(source, Position::new(1, 16))
            .with_help("rename \u{7}it");
        let shown = d.to_string();
        assert!(
            !shown.chars().any(|c| c.is_control() && c != '\n'),
            "{shown}"
        );
        assert!(shown.contains("--> d/new\\nline.yaml:1:16"), "{shown}");
        // The caret stays under the character it points at, escapes counted as shown.
        let lines: Vec<&str> = shown.lines().collect();
        let code = lines.iter().find(|l| l.starts_with("1 | ")).unwrap();
        let caret = lines.iter().find(|l| l.trim_end().ends_with('^')).unwrap();
        assert_eq!(&code[caret.len() - 1..caret.len()], "e", "{shown}");
    }
}
