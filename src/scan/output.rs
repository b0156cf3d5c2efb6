//! How a scan prints its alerts: for people (a block per alert naming the actor, target, role
//! and the events behind it) or as one JSON document written as alerts arrive.

use std::io::{self, Write};

use serde_json::json;

use super::ScanSummary;
use crate::catalogue::Catalogue;
use crate::diagnostic::escape_controls;
use crate::eval::Alert;

/// Events listed per alert in the text form (JSON lists them all, up to the alert's cap).
const EVENTS_SHOWN: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ScanFormat {
    Text,
    Json,
}

pub(crate) struct AlertWriter<'a> {
    format: ScanFormat,
    catalogue: &'a Catalogue,
    out: &'a mut dyn Write,
    /// `line` or `event`: what a position in the input is.
    position_name: &'static str,
    written: u64,
}

impl<'a> AlertWriter<'a> {
    pub(crate) fn new(
        format: ScanFormat,
        catalogue: &'a Catalogue,
        position_name: &'static str,
        out: &'a mut dyn Write,
    ) -> AlertWriter<'a> {
        AlertWriter {
            format,
            catalogue,
            out,
            position_name,
            written: 0,
        }
    }

    pub(crate) fn alert(&mut self, alert: &Alert) -> io::Result<()> {
        let detection = &self.catalogue.detections[alert.detection];
        match self.format {
            ScanFormat::Json => {
                let separator = if self.written == 0 {
                    "{\"alerts\": [\n"
                } else {
                    ",\n"
                };
                write!(self.out, "{separator}{}", alert.to_json(detection))?;
            }
            ScanFormat::Text => {
                let out = &mut self.out;
                writeln!(
                    out,
                    "{}  {}/{}: {}",
                    detection.meta.severity.as_str(),
                    detection.section,
                    detection.slug,
                    escape_controls(&detection.meta.title)
                )?;
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
                        "  when      {span}, {count} ({tier} tier: {required} within {})",
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
                    // Values come from the log: an escape sequence in one must not reach
                    // the terminal.
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
                    .map(|e| match &e.id {
                        Some(id) => format!(
                            "{} {} {} at {}",
                            self.position_name,
                            e.position,
                            escape_controls(id),
                            e.time
                        ),
                        None => format!("{} {} at {}", self.position_name, e.position, e.time),
                    })
                    .collect();
                let rest = alert.event_count.saturating_sub(shown.len() as u64);
                let more = if rest > 0 {
                    format!("\n            and {rest} more")
                } else {
                    String::new()
                };
                writeln!(out, "  events    {}{more}\n", shown.join("\n            "))?;
            }
        }
        self.written += 1;
        Ok(())
    }

    /// Ends the output; the JSON form closes its document with the summary.
    pub(crate) fn finish(&mut self, summary: &ScanSummary) -> io::Result<()> {
        if self.format == ScanFormat::Text {
            return Ok(());
        }
        let opening = if self.written == 0 {
            "{\"alerts\": ["
        } else {
            ""
        };
        let late: Vec<serde_json::Value> = summary
            .late
            .iter()
            .map(|(d, n)| json!({ "detection": self.catalogue.detections[*d].slug, "events": n }))
            .collect();
        let summary = json!({
            "bytes": summary.bytes,
            "records": summary.records,
            "events": summary.counts.events,
            "unreadable": summary.counts.unreadable,
            "unrouted": summary.counts.unrouted,
            "untimed": summary.counts.untimed,
            "late": late,
            "alerts": summary.alerts,
        });
        writeln!(self.out, "{opening}\n],\n\"summary\": {summary}}}")
    }
}
