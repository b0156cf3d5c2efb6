//! The test report for CI: JUnit XML, one `testsuite` per detection, one `testcase` per case,
//! plus a failing `testcase` for each kind of case a detection lacks.
//!
//! Failure text quotes event values, which may hold anything, so every text goes through
//! [`escape`], which also drops the characters XML 1.0 cannot carry at all.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::run::{CaseLocations, TestRun};
use crate::catalogue::Catalogue;
use crate::diagnostic::display_path;

/// Text made safe for XML content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            // Not allowed in XML 1.0, even as a character reference.
            c if (c as u32) < 0x20 || matches!(c, '\u{FFFE}' | '\u{FFFF}') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

pub(crate) fn write(run: &TestRun, catalogue: &Catalogue, out: &mut dyn Write) -> io::Result<()> {
    let (cases, failed, incomplete) = run.counts();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<testsuites name=\"rulecast\" tests=\"{}\" failures=\"{}\">",
        cases + incomplete,
        failed + incomplete
    );
    for result in &run.results {
        let detection = &catalogue.detections[result.detection];
        let suite = format!("{}/{}", detection.section, detection.slug);
        let lacking = if result.exempt.is_some() {
            0
        } else {
            result.missing.len()
        };
        let suite_failures = result.cases.iter().filter(|c| !c.passed()).count() + lacking;
        let skipped = if result.exempt.is_some() {
            result.missing.len()
        } else {
            0
        };
        let _ = writeln!(
            xml,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{suite_failures}\" skipped=\"{skipped}\">",
            escape(&suite),
            result.cases.len() + result.missing.len()
        );
        let classname = escape(&suite.replace('/', "."));
        let locations = CaseLocations::new(detection);
        for (index, (case, source)) in result.cases.iter().zip(detection.test_cases()).enumerate() {
            let file = display_path(&source.document.path);
            let _ = write!(
                xml,
                "    <testcase classname=\"{classname}\" name=\"{}\" file=\"{}\"",
                escape(&case.name),
                escape(&file)
            );
            if case.passed() {
                xml.push_str("/>\n");
            } else {
                let message = case
                    .failures
                    .first()
                    .map(String::as_str)
                    .unwrap_or_default();
                let _ = writeln!(
                    xml,
                    ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>",
                    escape(message),
                    escape(&format!(
                        "at {}\n{}",
                        locations.of(index),
                        case.failures.join("\n")
                    ))
                );
            }
        }
        for missing in &result.missing {
            let _ = write!(
                xml,
                "    <testcase classname=\"{classname}\" name=\"{}\"",
                escape(&format!("coverage: {missing}"))
            );
            match &result.exempt {
                Some(exempt) => {
                    let _ = writeln!(
                        xml,
                        ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                        escape(exempt)
                    );
                }
                None => {
                    let _ = writeln!(
                        xml,
                        ">\n      <failure message=\"{}\"/>\n    </testcase>",
                        escape(missing)
                    );
                }
            }
        }
        xml.push_str("  </testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    out.write_all(xml.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_drops_what_xml_cannot_hold() {
        assert_eq!(
            escape(r#"a<b & "c" 'd'>"#),
            "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;"
        );
        assert_eq!(
            escape("bell\u{7} tab\t nul\0"),
            "bell\u{FFFD} tab\t nul\u{FFFD}"
        );
        assert_eq!(escape("Ärger ✓"), "Ärger ✓");
    }
}
