//! How a scan prints its alerts: for people (a block per alert naming the actor, target, role
//! and the events behind it) or as one JSON document written as alerts arrive; and what it
//! read, per shape, with every skipped record counted under its reason.
//!
//! Values in the text report come from the log, which an attacker may have written: a display
//! name can hold a line break that forges an alert line, or an escape sequence that moves the
//! cursor. So every log value goes through [`escape_controls`] before it reaches the terminal.

use std::fmt::Write as _;
use std::io::{self, Write};

use serde_json::{Value, json};

use super::ScanSummary;
use super::counts::{Counts, Example, ShapeCounts};
use super::read::Container;
use crate::catalogue::Catalogue;
use crate::diagnostic::escape_controls;
use crate::eval::{Alert, Place};
use crate::timestamp::Timestamp;

/// Events listed per alert in the text form (JSON lists them all, up to the alert's cap).
const EVENTS_SHOWN: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ScanFormat {
    Text,
    Json,
}

/// Where a record is, as a person looks for it: the line of a JSON-lines file; the record's
/// number and line elsewhere. With the byte offset when `offset`.
pub(crate) fn place_text(container: Container, place: Place, offset: bool) -> String {
    let mut text = match container {
        Container::JsonLines => format!("line {}", place.line),
        _ => format!("record {}, line {}", place.record, place.line),
    };
    if offset {
        let _ = write!(text, ", byte {}", place.offset);
    }
    text
}

pub(crate) struct AlertWriter<'a> {
    format: ScanFormat,
    catalogue: &'a Catalogue,
    out: &'a mut dyn Write,
    container: Container,
    written: u64,
    /// The JSON of the alert being written.
    json: Vec<u8>,
}

impl<'a> AlertWriter<'a> {
    pub(crate) fn new(
        format: ScanFormat,
        catalogue: &'a Catalogue,
        container: Container,
        out: &'a mut dyn Write,
    ) -> AlertWriter<'a> {
        AlertWriter {
            format,
            catalogue,
            out,
            container,
            written: 0,
            json: Vec::new(),
        }
    }

    /// Writes an alert; `run` is when the run that raised it executed (a schedule replay).
    pub(crate) fn alert(&mut self, alert: &Alert, run: Option<Timestamp>) -> io::Result<()> {
        let detection = &self.catalogue.detections[alert.detection];
        match self.format {
            ScanFormat::Json => {
                let separator: &[u8] = if self.written == 0 {
                    b"{\"alerts\": [\n"
                } else {
                    b",\n"
                };
                // Serialised into a buffer and written at once: the output is a `dyn Write`,
                // and serde writes a key, a quote or a comma at a time.
                self.json.clear();
                self.json.extend_from_slice(separator);
                serde_json::to_writer(&mut self.json, &alert.json(detection, run, true))?;
                self.out.write_all(&self.json)?;
            }
            ScanFormat::Text => self.text(alert, run)?,
        }
        self.written += 1;
        Ok(())
    }

    fn text(&mut self, alert: &Alert, run: Option<Timestamp>) -> io::Result<()> {
        let detection = &self.catalogue.detections[alert.detection];
        let out = &mut self.out;
        writeln!(
            out,
            "{}  {}/{}: {}",
            detection.meta.severity.as_str(),
            detection.section,
            detection.slug,
            escape_controls(&detection.meta.title)
        )?;
        if let Some(run) = run {
            writeln!(out, "  run       {run}")?;
        }
        let span = if alert.start == alert.end {
            alert.start.to_string()
        } else {
            format!("{} .. {}", alert.start, alert.end)
        };
        let count = format!(
            "{} event{}",
            alert.event_count,
            if alert.event_count == 1 { "" } else { "s" }
        );
        match (&alert.tier, &detection.meta.threshold) {
            (Some((tier, required)), Some(threshold)) => writeln!(
                out,
                "  when      {span}, {count} ({} tier: {required} within {})",
                escape_controls(tier),
                threshold.window
            )?,
            _ => writeln!(out, "  when      {span}")?,
        }
        for (slot, field) in detection.meta.entities.slots() {
            let Some(field) = field else { continue };
            let Some(value) = alert.value(field) else {
                continue;
            };
            let others = alert
                .all_values
                .iter()
                .find(|(f, _)| f == field)
                .map(|(_, all)| all.len().saturating_sub(1))
                .unwrap_or(0);
            let more = if others > 0 {
                format!(" (+{others} more)")
            } else {
                String::new()
            };
            let label = if slot == "target_user" {
                "target"
            } else {
                slot
            };
            writeln!(out, "  {label:<9} {}{more}", escape_controls(value))?;
        }
        if !alert.findings.is_empty() {
            writeln!(
                out,
                "  findings  {}",
                escape_controls(&alert.findings.join("; "))
            )?;
        }
        let shown: Vec<String> = alert
            .events
            .iter()
            .take(EVENTS_SHOWN)
            .map(|e| {
                let place = place_text(
                    self.container,
                    Place {
                        record: e.position,
                        line: e.line,
                        offset: e.offset,
                    },
                    false,
                );
                match &e.id {
                    Some(id) => format!("{place} {} at {}", escape_controls(id), e.time),
                    None => format!("{place} at {}", e.time),
                }
            })
            .collect();
        let rest = alert.event_count.saturating_sub(shown.len() as u64);
        let more = if rest > 0 {
            format!("\n            and {rest} more")
        } else {
            String::new()
        };
        writeln!(out, "  events    {}{more}\n", shown.join("\n            "))
    }

    /// Ends the output; the JSON form closes its document with the summary. A schedule
    /// replay's backtest (as JSON, and as the lines of its table) ends either form.
    pub(crate) fn finish(
        &mut self,
        summary: &ScanSummary,
        backtest: Option<(Value, Vec<String>)>,
    ) -> io::Result<()> {
        if self.format == ScanFormat::Text {
            if let Some((_, lines)) = backtest {
                for line in lines {
                    writeln!(self.out, "{line}")?;
                }
            }
            return Ok(());
        }
        let opening = if self.written == 0 {
            "{\"alerts\": ["
        } else {
            ""
        };
        let mut summary = summary_json(summary, self.catalogue);
        if let Some((json, _)) = backtest {
            summary["backtest"] = json;
        }
        writeln!(self.out, "{opening}\n],\n\"summary\": {summary}}}")
    }
}

fn example_json(example: Option<&Example>) -> Value {
    match example {
        Some(e) => json!({
            "record": e.place.record,
            "line": e.place.line,
            "offset": e.place.offset,
            "detail": e.detail,
        }),
        None => Value::Null,
    }
}

/// The summary of `rulecast scan --format json`.
pub(crate) fn summary_json(summary: &ScanSummary, catalogue: &Catalogue) -> Value {
    let sources: Vec<&str> = catalogue.logsources.keys().map(String::as_str).collect();
    let counts = &summary.counts;
    let shapes: Vec<Value> = counts
        .shapes
        .iter()
        .zip(&summary.shape_titles)
        .filter(|((_, c), _)| c.read() > 0)
        .map(|((name, c), title)| {
            json!({
                "shape": name,
                "title": title,
                "read": c.read(),
                "recognised": sources.iter().zip(&c.recognised).filter(|(_, n)| **n > 0).map(|(s, n)| (s.to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
                "without_time": c.without_time,
                "skipped": {
                    "other_category": c.other_category.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<_, _>>(),
                    "other_categories_more": c.other_categories_more,
                    "no_time": c.no_time,
                    "first_no_time": example_json(c.first_no_time.as_ref()),
                    "unparseable_time": c.unparseable_time,
                    "first_unparseable_time": example_json(c.first_unparseable_time.as_ref()),
                },
            })
        })
        .collect();
    let late: Vec<Value> = summary
        .late
        .iter()
        .map(|(d, n)| json!({ "detection": catalogue.detections[*d].slug, "events": n }))
        .collect();
    json!({
        "input": summary.container.name(),
        "gzip": summary.gzip,
        "bytes": summary.bytes,
        "records": counts.records,
        "recognised": counts.recognised(),
        "skipped": counts.skipped(),
        "shapes": shapes,
        "unreadable": counts.unreadable,
        "first_unreadable": example_json(counts.first_unreadable.as_ref()),
        "unknown_shape": counts.unknown_shape,
        "first_unknown_shape": example_json(counts.first_unknown_shape.as_ref()),
        "passed_over": counts.passed_over,
        "late": late,
        "alerts": summary.alerts,
    })
}

/// `1 record`, `2 records`.
pub(crate) fn count_of(n: u64, thing: &str) -> String {
    match (n, thing.ends_with('h')) {
        (1, _) => format!("1 {thing}"),
        (_, true) => format!("{n} {thing}es"),
        _ => format!("{n} {thing}s"),
    }
}

/// The lines the scan prints on standard error: per shape what was read, then a warning for
/// each kind of skipped record with the first one's place.
pub(crate) fn summary_lines(summary: &ScanSummary, catalogue: &Catalogue) -> Vec<String> {
    let expected = &summary.expected;
    let sources: Vec<&str> = catalogue.logsources.keys().map(String::as_str).collect();
    let counts = &summary.counts;
    let container = summary.container;
    // Where the first skipped record is, and its detail (a log value, made printable) as
    // `detail` words it.
    let first_with = |e: Option<&Example>, detail: &dyn Fn(&str) -> String| {
        e.map(|e| {
            format!(
                " (first: {}{})",
                place_text(container, e.place, true),
                detail(&escape_controls(&e.detail))
            )
        })
        .unwrap_or_default()
    };
    let mut lines = Vec::new();
    for ((_, c), title) in counts.shapes.iter().zip(&summary.shape_titles) {
        if c.read() == 0 {
            continue;
        }
        lines.push(shape_line(&escape_controls(title), c, &sources));
    }
    if counts.passed_over > 0 {
        lines.push(format!(
            "  {} passed over unparsed: {} none of the texts the detections require (--strict parses every record)",
            count_of(counts.passed_over, "record"),
            if counts.passed_over == 1 { "it holds" } else { "they hold" }
        ));
    }
    let mut warnings = Vec::new();
    for ((_, c), title) in counts.shapes.iter().zip(&summary.shape_titles) {
        let title = escape_controls(title);
        for (category, n) in &c.other_category {
            warnings.push(format!(
                "warning: {} of category {} ({title}) skipped: no log source of the catalogue reads it",
                count_of(*n, "record"),
                escape_controls(category)
            ));
        }
        if c.other_categories_more > 0 {
            warnings.push(format!(
                "warning: {} of further categories ({title}) skipped: no log source of the catalogue reads them",
                count_of(c.other_categories_more, "record")
            ));
        }
        if c.unparseable_time > 0 {
            let first = first_with(c.first_unparseable_time.as_ref(), &|d| format!(": `{d}`"));
            warnings.push(format!(
                "warning: {} ({title}) skipped: the time is not written as this shape writes it{first}",
                count_of(c.unparseable_time, "record")
            ));
        }
        if c.no_time > 0 {
            warnings.push(format!(
                "warning: {} ({title}) matched a detection but {} no time, so no alert could be raised{}",
                count_of(c.no_time, "record"),
                if c.no_time == 1 { "has" } else { "have" },
                first_with(c.first_no_time.as_ref(), &|_| String::new())
            ));
        }
    }
    if counts.unreadable > 0 {
        let first = first_with(counts.first_unreadable.as_ref(), &|d| format!(": {d}"));
        warnings.push(format!(
            "warning: {} not a JSON object, skipped{first}",
            count_of(counts.unreadable, "record")
        ));
    }
    if counts.unknown_shape > 0 {
        let first = first_with(counts.first_unknown_shape.as_ref(), &|d| {
            format!(", with keys {d}")
        });
        warnings.push(format!(
            "warning: {} of an unknown shape skipped{first}; the catalogue reads {expected}",
            count_of(counts.unknown_shape, "record")
        ));
    }
    for (detection, late) in &summary.late {
        warnings.push(format!(
            "warning: {}: {} more than one window out of time order, not counted; sort the log by time, oldest first",
            catalogue.detections[*detection].slug,
            count_of(*late, "matching event")
        ));
    }
    lines.extend(warnings);
    lines
}

/// Why records were skipped, in a few words each: `1 of category SignInLogs`, `2 of an unknown
/// shape`.
pub(crate) fn skip_reasons(counts: &Counts) -> Vec<String> {
    let mut reasons = Vec::new();
    let mut categories: Vec<(&str, u64)> = Vec::new();
    for (_, c) in &counts.shapes {
        for (name, n) in &c.other_category {
            match categories.iter_mut().find(|(k, _)| *k == name.as_str()) {
                Some((_, total)) => *total += n,
                None => categories.push((name, *n)),
            }
        }
    }
    for (name, n) in categories {
        reasons.push(format!("{n} of category {}", escape_controls(name)));
    }
    let more: u64 = counts
        .shapes
        .iter()
        .map(|(_, c)| c.other_categories_more)
        .sum();
    let unparseable: u64 = counts.shapes.iter().map(|(_, c)| c.unparseable_time).sum();
    for (n, what) in [
        (more, "of further categories"),
        (unparseable, "with an unparseable time"),
        (counts.unknown_shape, "of an unknown shape"),
        (counts.unreadable, "not a JSON object"),
    ] {
        if n > 0 {
            reasons.push(format!("{n} {what}"));
        }
    }
    reasons
}

fn shape_line(title: &str, c: &ShapeCounts, sources: &[&str]) -> String {
    let recognised: u64 = c.recognised.iter().sum();
    let by_source: Vec<String> = sources
        .iter()
        .zip(&c.recognised)
        .filter(|(_, n)| **n > 0)
        .map(|(s, n)| format!("{n} {s}"))
        .collect();
    let mut line = format!(
        "  {title}: {}, {recognised} recognised",
        count_of(c.read(), "record")
    );
    if !by_source.is_empty() {
        let _ = write!(line, " ({})", by_source.join(", "));
    }
    if c.without_time > 0 {
        let _ = write!(line, ", {} without a time", c.without_time);
    }
    let skipped = c.skipped();
    if skipped > 0 {
        let _ = write!(line, ", {skipped} skipped");
    }
    line
}
