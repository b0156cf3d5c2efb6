//! `rulecast check --annotations`: the findings of the gate in the forms CI systems show on the
//! changed lines of a pull request, written to stdout while the text report goes to stderr.
//!
//! - `github`: GitHub Actions workflow commands (`::error file=…,line=…,col=…::message`), which
//!   the runner turns into annotations on the diff with no upload step;
//! - `sarif`: one SARIF 2.1.0 log, for GitHub code scanning (`upload-sarif`), GitLab and
//!   other SARIF viewers.

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::diagnostic::{Diagnostic, Diagnostics, Severity, display_path};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Annotations {
    /// GitHub Actions workflow commands.
    Github,
    /// A SARIF 2.1.0 log.
    Sarif,
}

/// The findings as `format`, ready to write to stdout.
pub(crate) fn render(format: Annotations, findings: &Diagnostics) -> String {
    match format {
        Annotations::Github => github(findings),
        Annotations::Sarif => {
            serde_json::to_string_pretty(&sarif(findings)).expect("SARIF serialises") + "\n"
        }
    }
}

/// The message with its help, as one text.
fn text(d: &Diagnostic) -> String {
    match d.help() {
        Some(help) => format!("{}\nhelp: {help}", d.message()),
        None => d.message().to_owned(),
    }
}

/// GitHub's escaping of a workflow command's data (`%`, CR, LF) and, in a property, also `:`
/// and `,`; without it a message could end the command and start another.
fn escape(text: &str, property: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            ':' if property => out.push_str("%3A"),
            ',' if property => out.push_str("%2C"),
            c => out.push(c),
        }
    }
    out
}

fn github(findings: &Diagnostics) -> String {
    let mut out = String::new();
    for d in findings.iter() {
        let command = match d.severity() {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut properties = vec!["title=rulecast check".to_owned()];
        if let Some(file) = d.file() {
            properties.push(format!("file={}", escape(&display_path(file), true)));
            if let Some(p) = d.position() {
                properties.push(format!("line={}", p.line));
                properties.push(format!("col={}", p.column));
            }
        }
        let _ = writeln!(
            out,
            "::{command} {}::{}",
            properties.join(","),
            escape(&text(d), false)
        );
    }
    out
}

fn sarif(findings: &Diagnostics) -> Value {
    let results: Vec<Value> = findings
        .iter()
        .map(|d| {
            let level = match d.severity() {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            let mut result = json!({
                "ruleId": format!("rulecast/{level}"),
                "level": level,
                "message": { "text": text(d) },
            });
            if let Some(file) = d.file() {
                // SARIF URIs use forward slashes, relative to the folder check ran in.
                let uri = display_path(file).replace('\\', "/");
                let mut location = json!({ "artifactLocation": { "uri": uri } });
                if let Some(p) = d.position() {
                    location["region"] = json!({ "startLine": p.line, "startColumn": p.column });
                }
                result["locations"] = json!([{ "physicalLocation": location }]);
            }
            result
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "rulecast",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": [
                    { "id": "rulecast/error", "shortDescription": { "text": "rulecast check fails on this" } },
                    { "id": "rulecast/warning", "shortDescription": { "text": "rulecast check warns about this" } },
                ],
            }},
            "results": results,
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Position;

    fn findings() -> Diagnostics {
        let mut all = Diagnostics::new();
        all.push(
            Diagnostic::error("the exclusion expired on 2027-03-31, owner a@b.example")
                .in_file("detections/x.yaml")
                .at("a\nb\n", Position::new(2, 1))
                .with_help("renew it: 100% sure?"),
        );
        all.push(Diagnostic::warning("no file"));
        all
    }

    #[test]
    fn github_commands_escape_what_would_end_them() {
        assert_eq!(
            github(&findings()),
            "::error title=rulecast check,file=detections/x.yaml,line=2,col=1::the exclusion expired on 2027-03-31, owner a@b.example%0Ahelp: renew it: 100%25 sure?\n\
             ::warning title=rulecast check::no file\n"
        );
    }

    #[test]
    fn sarif_locates_each_result() {
        let log = sarif(&findings());
        let results = &log["runs"][0]["results"];
        assert_eq!(results[0]["level"], "error");
        assert_eq!(
            results[0]["locations"][0]["physicalLocation"],
            json!({ "artifactLocation": { "uri": "detections/x.yaml" }, "region": { "startLine": 2, "startColumn": 1 } })
        );
        assert_eq!(results[1]["level"], "warning");
        assert!(results[1].get("locations").is_none());
    }
}
