//! The title and description of one alert, written from its data: who did it, to whom, which
//! role, how many events, and what the responder should check.
//!
//! Sentinel (`alertDetailsOverride`, `{{Column}}`) and Splunk Enterprise Security (notable
//! `rule_title`, `$field$`) fill such texts from the columns of each result; both are built
//! here, once, from the detection's entities and threshold, so an alert reads the same in
//! every SIEM. A text is a sequence of literal pieces and column placeholders; each target
//! renders it in its own placeholder syntax and may cap the number of placeholders (the
//! Azure-Sentinel template tests allow three).
//!
//! A literal piece that already holds the target's placeholder syntax (a title with `{{ x }}`
//! or `$x$`) cannot be written so that the SIEM reads it as text: rendering refuses it, and
//! the target leaves that text to the platform's default, with a warning.

use crate::catalogue::Detection;
use crate::lang::columns;

/// One piece of an alert text.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Column(String),
}

/// An alert text: literal pieces and column placeholders.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AlertText {
    pieces: Vec<Piece>,
}

/// A target's way of writing a placeholder.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Placeholders {
    pub open: &'static str,
    pub close: &'static str,
    /// Text the platform would read as (part of) a placeholder.
    pub reserved: &'static [&'static str],
}

/// Sentinel's `{{Column}}` (alert details override).
pub(crate) const SENTINEL: Placeholders = Placeholders {
    open: "{{",
    close: "}}",
    reserved: &["{{", "}}"],
};

/// Splunk Enterprise Security's `$field$` (notable titles and descriptions, risk messages).
pub(crate) const SPLUNK: Placeholders = Placeholders {
    open: "$",
    close: "$",
    reserved: &["$"],
};

impl AlertText {
    fn text(&mut self, text: &str) {
        match self.pieces.last_mut() {
            Some(Piece::Text(last)) => last.push_str(text),
            _ => self.pieces.push(Piece::Text(text.to_owned())),
        }
    }

    fn column(&mut self, column: &str) {
        self.pieces.push(Piece::Column(column.to_owned()));
    }

    fn append(&mut self, other: AlertText) {
        for piece in other.pieces {
            match piece {
                Piece::Text(t) => self.text(&t),
                Piece::Column(c) => self.column(&c),
            }
        }
    }

    /// The columns it names, in order, each once.
    pub(crate) fn columns(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for piece in &self.pieces {
            if let Piece::Column(c) = piece
                && !out.contains(&c.as_str())
            {
                out.push(c);
            }
        }
        out
    }

    /// The text in `syntax`, or the literal that the platform would misread.
    pub(crate) fn render(&self, syntax: Placeholders) -> Result<String, String> {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => {
                    if let Some(r) = syntax.reserved.iter().find(|r| t.contains(**r)) {
                        return Err(format!(
                            "its text holds `{r}`, which the platform reads as a placeholder"
                        ));
                    }
                    out.push_str(t);
                }
                Piece::Column(c) => {
                    out.push_str(syntax.open);
                    out.push_str(c);
                    out.push_str(syntax.close);
                }
            }
        }
        Ok(out)
    }
}

/// A sentence of the description, with the placeholders it needs.
struct Sentence {
    text: AlertText,
}

impl Sentence {
    fn new() -> Sentence {
        Sentence {
            text: AlertText::default(),
        }
    }

    fn text(mut self, text: &str) -> Sentence {
        self.text.text(text);
        self
    }

    fn column(mut self, column: &str) -> Sentence {
        self.text.column(column);
        self
    }

    fn placeholders(&self) -> usize {
        self.text.columns().len()
    }
}

/// The alert title: the detection's title, then the role, the principal it was about and who
/// did it, from the columns that name them (`<title>: {Role} for {Target} by {Actor}`). An
/// alert of a threshold stands for many events: it names only what they share (the columns
/// it groups by), not one event's role or target picked at random.
pub(crate) fn title(detection: &Detection, max_placeholders: usize) -> AlertText {
    fn shared<'a>(detection: &Detection, column: Option<&'a String>) -> Option<&'a String> {
        match &detection.meta.threshold {
            Some(threshold) => column.filter(|c| threshold.group_by.contains(c)),
            None => column,
        }
    }
    let entities = &detection.meta.entities;
    let mut out = AlertText::default();
    out.text(&detection.meta.title);
    let mut used = 0;
    let mut add = |out: &mut AlertText, before: &str, column: Option<&String>| {
        if let Some(c) = shared(detection, column)
            && used < max_placeholders
        {
            used += 1;
            out.text(before);
            out.column(c);
        }
    };
    let (role, target) = (
        shared(detection, entities.role.as_ref()),
        shared(detection, entities.target_user.as_ref()),
    );
    match (role, target) {
        (Some(_), Some(_)) => {
            add(&mut out, ": ", role);
            add(&mut out, " for ", target);
        }
        (Some(_), None) => add(&mut out, ": ", role),
        (None, Some(_)) => add(&mut out, ": ", target),
        (None, None) => {}
    }
    add(&mut out, " by ", entities.actor.as_ref());
    out
}

/// The alert description: what the data says (how many events, from where, which findings),
/// what the detection means, and what to check before calling it benign.
pub(crate) fn description(detection: &Detection, max_placeholders: usize) -> AlertText {
    let meta = &detection.meta;
    let mut sentences: Vec<Sentence> = Vec::new();
    if let Some(threshold) = &meta.threshold {
        let mut s = Sentence::new()
            .column(columns::EVENT_COUNT)
            .text(&format!(" matching events within {}", threshold.window));
        s = if threshold.tiers.is_empty() {
            s.text(&format!(" (threshold {}).", threshold.count))
        } else {
            s.text(" (threshold ")
                .column(columns::REQUIRED_COUNT)
                .text(", tier ")
                .column(columns::TIER)
                .text(").")
        };
        sentences.push(s);
    }
    if let Some(ip) = &meta.entities.ip {
        sentences.push(Sentence::new().text("From ").column(ip).text("."));
    }
    if !meta.findings.is_empty() {
        let column = if meta.threshold.is_some() {
            format!("All{}", columns::FINDINGS)
        } else {
            columns::FINDINGS.to_owned()
        };
        sentences.push(Sentence::new().text("Findings: ").column(&column).text("."));
    }
    if let Some(resource) = &meta.entities.resource {
        sentences.push(
            Sentence::new()
                .text("Resource: ")
                .column(resource)
                .text("."),
        );
    }
    let mut out = AlertText::default();
    let mut used = 0;
    for sentence in sentences {
        // A sentence is kept whole or left out: half a sentence of placeholders reads wrong.
        if used + sentence.placeholders() > max_placeholders {
            continue;
        }
        used += sentence.placeholders();
        if !out.pieces.is_empty() {
            out.text(" ");
        }
        out.append(sentence.text);
    }
    let summary = first_paragraph(&meta.description);
    if !out.pieces.is_empty() {
        out.text("\n\n");
    }
    out.text(&summary);
    if let Some(check) = what_to_check(detection) {
        out.text("\n\n");
        out.text(&check);
    }
    out
}

/// What the responder should rule out before closing an alert as benign (the detection's
/// known false positives), as one sentence; `None` when the detection names none.
pub(crate) fn what_to_check(detection: &Detection) -> Option<String> {
    let false_positives = &detection.meta.false_positives;
    (!false_positives.is_empty()).then(|| {
        format!(
            "What to check before closing it as benign: {}",
            false_positives.join(" ")
        )
    })
}

/// What a responder needs beyond the detection's description, as plain text, for a target
/// that shows no query results in its alert (Azure Monitor): which columns each alert is for
/// (the target shows their values) and what to rule out before closing it.
pub(crate) fn responder_text(detection: &Detection, split_by: &[String]) -> String {
    let mut out = String::new();
    if !split_by.is_empty() {
        let what = match split_by {
            [one] => one.clone(),
            many => format!("combination of {}", many.join(", ")),
        };
        out.push_str(&format!(
            "Each alert is for one {what} (the alert shows the values); its link opens the \
             matching events."
        ));
    }
    if let Some(check) = what_to_check(detection) {
        if !out.is_empty() {
            out.push_str("\n\n");
        }
        out.push_str(&check);
    }
    out
}

/// The first paragraph of a description, with its lines joined (catalogue descriptions are
/// wrapped for the reader of the YAML file, not for an alert pane).
fn first_paragraph(description: &str) -> String {
    description
        .trim_start_matches('\n')
        .split("\n\n")
        .next()
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_render_in_each_syntax_and_refuse_reserved_literals() {
        let mut t = AlertText::default();
        t.text("Role ");
        t.column("RoleName");
        t.text(" by ");
        t.column("Actor");
        assert_eq!(
            t.render(SENTINEL).unwrap(),
            "Role {{RoleName}} by {{Actor}}"
        );
        assert_eq!(t.render(SPLUNK).unwrap(), "Role $RoleName$ by $Actor$");
        assert_eq!(t.columns(), ["RoleName", "Actor"]);
        let mut braces = AlertText::default();
        braces.text("a {{ x }} title");
        assert!(braces.render(SENTINEL).is_err());
        assert_eq!(braces.render(SPLUNK).unwrap(), "a {{ x }} title");
        let mut dollar = AlertText::default();
        dollar.text("costs $5");
        assert!(dollar.render(SPLUNK).is_err());
        assert_eq!(dollar.render(SENTINEL).unwrap(), "costs $5");
    }

    #[test]
    fn the_first_paragraph_is_the_summary() {
        assert_eq!(first_paragraph("One\n  two.\n\nThree."), "One two.");
        assert_eq!(first_paragraph("Only.\n"), "Only.");
    }
}
