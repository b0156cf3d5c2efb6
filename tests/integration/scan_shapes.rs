//! `rulecast scan` over every export shape a user really has.
//!
//! The real records of tests/fixtures/scan/real/ (a copy of the shared reference folder, with
//! provenance in its README) are each read as published, with no record skipped except by
//! category; standard input and pipes are read once. The sample written in every shape and
//! container the log sources describe is scanned in process by src/scan/shape_tests.rs (it
//! needs the crate's shape writer). Where a shape detail could not be checked against a real
//! export, the test's name says so.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use rulecast::catalogue::Catalogue;

use crate::test::{BIN, Test, repo};

const SAMPLE: &str = "tests/fixtures/scan/sample.jsonl";
const REAL: &str = "tests/fixtures/scan/real";

fn scan_json(t: Test, args: &[&str]) -> (Test, Value) {
    let mut all = vec!["scan", "--format", "json"];
    all.extend_from_slice(args);
    let (t, out) = t.args(all).run();
    let report: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}\n{}\n{}", out.stdout, out.stderr));
    (t, report)
}

/// A real file, what it holds per (shape, log source), and its records skipped by category.
type RealFile<'a> = (&'a str, &'a [(&'a str, &'a str, u64)], &'a [(&'a str, u64)]);

/// Every real file: its shapes, and what was skipped (only ever by category).
#[test]
fn every_real_record_is_read_as_published_and_skipped_only_by_category() {
    let expected: &[RealFile] = &[
        (
            "azuredocs-eventhub-records-mspim-update-policy.json",
            &[("diagnostic", "entra_auditlogs", 1)],
            &[],
        ),
        (
            "elastic-auditlogs-raw.diagnostic.jsonl",
            &[("diagnostic", "entra_auditlogs", 2)],
            &[],
        ),
        (
            "elastic-auditlogs-result-reason.diagnostic.jsonl",
            &[("diagnostic", "entra_auditlogs", 1)],
            &[],
        ),
        (
            "graph-docs-directoryaudit-list-ex1.json",
            &[("graph", "entra_auditlogs", 1)],
            &[],
        ),
        (
            "graph-docs-directoryaudit-list-ex2.json",
            &[("graph", "entra_auditlogs", 1)],
            &[],
        ),
        (
            "lab-evidence-graph-pim-expiry.json",
            &[("graph", "entra_auditlogs", 2)],
            &[],
        ),
        (
            "panther-activity-role-assignment.diagnostic.jsonl",
            &[("diagnostic", "azure_activity", 4)],
            &[],
        ),
        (
            "panther-elevate-uaa.diagnostic.jsonl",
            &[("diagnostic", "entra_auditlogs", 2)],
            &[],
        ),
        (
            "panther-pim-role-changed.diagnostic.jsonl",
            &[("diagnostic", "entra_auditlogs", 3)],
            &[],
        ),
        (
            "sekoia-azure-activity-eventhub.diagnostic.jsonl",
            &[("diagnostic", "azure_activity", 1)],
            &[],
        ),
        (
            "sekoia-azure-activity.restapi-shape.jsonl",
            &[("activity_rest", "azure_activity", 4)],
            &[],
        ),
        (
            "sekoia-azuread-auditlogs.diagnostic.jsonl",
            &[("diagnostic", "entra_auditlogs", 11)],
            &[],
        ),
        (
            "sekoia-signin-one.diagnostic.jsonl",
            &[],
            &[("SignInLogs", 1)],
        ),
        (
            "training-lab-AuditLogs_Hunting.csv",
            &[("log_analytics_csv", "entra_auditlogs", 5)],
            &[],
        ),
        (
            "training-lab-azureActivity_adele.csv",
            &[("log_analytics_csv", "azure_activity", 23)],
            &[],
        ),
    ];
    let files: Vec<String> = std::fs::read_dir(repo().join(REAL))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name != "README.md")
        .collect();
    let mut named: Vec<&str> = expected.iter().map(|(f, _, _)| *f).collect();
    let mut present: Vec<&str> = files.iter().map(String::as_str).collect();
    named.sort_unstable();
    present.sort_unstable();
    assert_eq!(named, present, "every real file is checked");
    for (file, recognised, categories) in expected {
        let path = repo().join(REAL).join(file);
        // A file of sign-ins only has nothing the catalogue reads: that is exit 4.
        let status = if recognised.is_empty() { 4 } else { 0 };
        let (_t, report) = scan_json(
            Test::shipped().status(status),
            &["--logs", path.to_str().unwrap()],
        );
        let summary = &report["summary"];
        let mut seen = Vec::new();
        let mut skipped_by_category = Vec::new();
        for shape in summary["shapes"].as_array().unwrap() {
            for (source, n) in shape["recognised"].as_object().unwrap() {
                seen.push((
                    shape["shape"].as_str().unwrap().to_owned(),
                    source.clone(),
                    n.as_u64().unwrap(),
                ));
            }
            let skipped = &shape["skipped"];
            assert_eq!(
                (
                    skipped["no_time"].as_u64(),
                    skipped["unparseable_time"].as_u64(),
                    skipped["other_categories_more"].as_u64()
                ),
                (Some(0), Some(0), Some(0)),
                "{file}: {skipped}"
            );
            for (category, n) in skipped["other_category"].as_object().unwrap() {
                skipped_by_category.push((category.clone(), n.as_u64().unwrap()));
            }
        }
        let recognised: Vec<(String, String, u64)> = recognised
            .iter()
            .map(|(s, src, n)| (s.to_string(), src.to_string(), *n))
            .collect();
        assert_eq!(seen, recognised, "{file}");
        let categories: Vec<(String, u64)> = categories
            .iter()
            .map(|(c, n)| (c.to_string(), *n))
            .collect();
        assert_eq!(skipped_by_category, categories, "{file}");
        assert_eq!(
            (
                summary["unreadable"].as_u64(),
                summary["unknown_shape"].as_u64()
            ),
            (Some(0), Some(0)),
            "{file}"
        );
        let by_category: u64 = categories.iter().map(|(_, n)| n).sum();
        assert_eq!(
            summary["skipped"].as_u64(),
            Some(by_category),
            "{file}: skipped only by category"
        );
    }
}

fn gzip(text: &str) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(text.as_bytes()).unwrap();
    encoder.finish().unwrap()
}

/// Runs the binary with `input` on standard input.
fn scan_stdin(root: &Path, input: &[u8]) -> Value {
    let mut child = Command::new(BIN)
        .current_dir(root)
        .args(["scan", "--logs", "-", "--format", "json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn gzip_from_standard_input_gives_the_alerts_of_the_file() {
    let sample = std::fs::read_to_string(repo().join(SAMPLE)).unwrap();
    let (t, from_file) = scan_json(
        Test::shipped(),
        &["--logs", repo().join(SAMPLE).to_str().unwrap()],
    );
    let from_stdin = scan_stdin(t.root(), &gzip(&sample));
    assert_eq!(from_stdin["alerts"], from_file["alerts"]);
    assert_eq!(from_file["alerts"].as_array().unwrap().len(), 10);
    assert_eq!(from_stdin["summary"]["gzip"], true);
    assert_eq!(
        from_stdin["summary"]["records"],
        from_file["summary"]["records"]
    );
}

#[test]
fn a_file_of_an_unknown_shape_exits_non_zero_naming_the_shapes_expected() {
    Test::shipped()
        .write("splunk-export.jsonl", "{\"_time\":\"2025-01-01T00:00:00Z\",\"sourcetype\":\"azure:monitor:aad\",\"_raw\":\"...\"}\n")
        .args(["scan", "--logs", "splunk-export.jsonl"])
        .status(4)
        .stderr_contains("warning: 1 record of an unknown shape skipped (first: line 1, byte 0, with keys _time, sourcetype, _raw); the catalogue reads Log Analytics row (keys TimeGenerated or Type)")
        .stderr_contains("error: no record of splunk-export.jsonl was recognised (1 record read: 1 of an unknown shape); the catalogue reads Log Analytics row (keys TimeGenerated or Type); Log Analytics \"Export to CSV\" (CSV columns TimeGenerated [UTC] or TimeGenerated or Type); diagnostic-setting record (keys time and category); Activity Log REST / az monitor activity-log list (keys eventTimestamp and operationName); Microsoft Graph directoryAudit (keys activityDateTime and activityDisplayName); Entra admin center audit log download (CSV) (CSV columns Date (UTC) and Activity and Service)")
        .run();
}

#[test]
fn strict_fails_on_any_skipped_record() {
    let logs = repo().join(SAMPLE);
    let logs = logs.to_str().unwrap();
    Test::shipped()
        .args(["scan", "--logs", logs, "--strict", "-q"])
        .status(4)
        .stderr_contains("error: 1 record of ")
        .stderr_contains(" skipped, and --strict is set")
        .run();
    Test::shipped()
        .args([
            "scan",
            "--logs",
            logs,
            "--strict",
            "--detection",
            "pim-alert-disabled",
            "-q",
        ])
        .status(4)
        .run();
    let clean: String = std::fs::read_to_string(repo().join(SAMPLE))
        .unwrap()
        .lines()
        .filter(|l| !l.contains("SigninLogs"))
        .flat_map(|l| [l, "\n"])
        .collect();
    Test::shipped()
        .write("clean.jsonl", &clean)
        .args(["scan", "--logs", "clean.jsonl", "--strict", "-q"])
        .run();
}

#[test]
fn a_pipe_is_read_once() {
    let t = Test::shipped();
    let fifo = t.root().join("audit.fifo");
    let made = Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("mkfifo is not available; the pipe is covered by the standard-input test");
        return;
    }
    let sample = std::fs::read(repo().join(SAMPLE)).unwrap();
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::write(fifo, sample))
    };
    let (_t, report) = scan_json(t, &["--logs", "audit.fifo"]);
    writer.join().unwrap().unwrap();
    assert_eq!(report["alerts"].as_array().unwrap().len(), 10);
    assert_eq!(report["summary"]["records"], 29);
}

#[test]
fn log_values_cannot_forge_report_lines() {
    let row = json!({
        "TimeGenerated": "2025-04-01T08:00:00Z", "Type": "AuditLogs", "Category": "RoleManagement",
        "ActivityDisplayName": "Disable PIM alert", "Result": "success",
        "InitiatedBy": { "user": { "userPrincipalName": "mallory@contoso.example\nhigh  entra-roles/forged: Forged alert\u{1b}[2K", "ipAddress": "192.0.2.1\r" } },
        "TargetResources": [{ "type": "Other", "displayName": "\u{1b}]0;title\u{7}" }],
        "Id": "PIM_1\u{202e}"
    });
    let (_t, out) = Test::shipped()
        .write("evil.jsonl", &format!("{row}\n"))
        .args(["scan", "--logs", "evil.jsonl"])
        .run();
    assert!(
        !out.stdout.contains('\u{1b}')
            && !out.stdout.contains('\r')
            && !out.stdout.contains('\u{202e}'),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("  actor     mallory@contoso.example\\nhigh  entra-roles/forged: Forged alert\\u{1b}[2K\n"), "{}", out.stdout);
    assert!(
        !out.stdout
            .lines()
            .any(|l| l.starts_with("high  entra-roles/forged"))
    );
    assert!(
        out.stdout.contains("line 1 PIM_1\\u{202e} at"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_shape_naming_an_unknown_column_is_refused() {
    Test::shipped()
        .edit(
            "detections/logsources/entra_auditlogs.yaml",
            "      LoggedByService: loggedByService\n",
            "      LogedByService: loggedByService\n",
        )
        .args(["check"])
        .status(1)
        .stderr_contains("unknown column `LogedByService`")
        .stderr_contains("did you mean `LoggedByService`?")
        .run();
}

#[test]
fn the_scanning_page_names_every_shape_the_catalogue_reads() {
    let page = std::fs::read_to_string(repo().join("docs/scanning.md")).unwrap();
    let catalogue = Catalogue::load(&repo().join("detections")).unwrap();
    for source in catalogue.logsources.values() {
        for (name, shape) in &source.shapes {
            assert!(
                page.contains(&format!("| {}", shape.title)),
                "docs/scanning.md has no row for shape `{name}` ({})",
                shape.title
            );
        }
    }
}
