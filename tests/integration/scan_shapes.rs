//! `rulecast scan` over every export shape a user really has.
//!
//! The real records of tests/fixtures/scan/real/ (a copy of the shared reference folder, with
//! provenance in its README) are each read as published, with no record skipped except by
//! category. The sample of scan_command.rs is then written in every shape and container the
//! log sources describe; every one must give the same alerts. Where a shape detail could not
//! be checked against a real export, the test's name says so.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{Map, Value, json};

use rulecast::catalogue::Catalogue;
use rulecast::eval::Engine;
use rulecast::eval::convert::to_shape;

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

#[test]
fn what_entra_really_writes_is_normalised() {
    // The old record: `"result": 0` is success, `"callerIpAddress": "<null>"` no address.
    let path = repo()
        .join(REAL)
        .join("azuredocs-eventhub-records-mspim-update-policy.json");
    let catalogue = Catalogue::load(&repo().join("detections")).unwrap();
    let engine = Engine::new(&catalogue, |_| true);
    let text = std::fs::read_to_string(path).unwrap();
    let batch: Value = serde_json::from_str(&text).unwrap();
    let record = batch["records"][0].to_string();
    let found = engine.read(&record).unwrap();
    let source = catalogue
        .logsources
        .get_index_of("entra_auditlogs")
        .unwrap();
    let plan = &engine.sources[source];
    let shape = plan.declared_shape("diagnostic").unwrap();
    let read = engine.record(&found, shape, source);
    let field = |name: &str| {
        read.field(plan.field_index(name).unwrap())
            .map(|v| v.as_str().to_owned())
    };
    assert_eq!(field("Result").as_deref(), Some("success"));
    assert_eq!(field("Identity").as_deref(), Some("MS-PIM"));
    assert_eq!(field("Category").as_deref(), Some("Policy"));
    // Graph's "ipAddress": "<null>" is no value, so the next candidate is taken.
    let mut graph: Value = serde_json::from_str(
        &std::fs::read_to_string(
            repo()
                .join(REAL)
                .join("graph-docs-directoryaudit-list-ex1.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let event = &mut graph["value"][0];
    event["initiatedBy"]["user"]["ipAddress"] = json!("<null>");
    event["additionalDetails"] = json!([{ "key": "ipaddr", "value": "198.51.100.7" }]);
    let text = event.to_string();
    let found = engine.read(&text).unwrap();
    let read = engine.record(&found, plan.declared_shape("graph").unwrap(), source);
    let field = |name: &str| {
        read.field(plan.field_index(name).unwrap())
            .map(|v| v.as_str().to_owned())
    };
    assert_eq!(field("ActorIpAddress").as_deref(), Some("198.51.100.7"));
    assert_eq!(field("Actor").as_deref(), Some("bob@wingtiptoysonline.com"));
}

/// The sample as Log Analytics rows, times cut to milliseconds (what the CSV export keeps),
/// and its one diagnostic record turned back into the row it stands for.
fn sample_rows(catalogue: &Catalogue, engine: &Engine) -> Vec<Map<String, Value>> {
    let text = std::fs::read_to_string(repo().join(SAMPLE)).unwrap();
    text.lines()
        .map(|line| {
            let mut row: Map<String, Value> = serde_json::from_str(line).unwrap();
            if row.contains_key("properties") {
                let source = catalogue
                    .logsources
                    .get_index_of("entra_auditlogs")
                    .unwrap();
                let plan = &engine.sources[source];
                let mut back = Map::new();
                for (c, name) in plan.columns().iter().enumerate() {
                    let mut value = Value::Object(row.clone());
                    for key in plan.diagnostic_path(c) {
                        value = value.get(key).cloned().unwrap_or(Value::Null);
                    }
                    if !value.is_null() {
                        back.insert(name.clone(), value);
                    }
                }
                back.insert("Type".to_owned(), json!("AuditLogs"));
                row = back;
            }
            if let Some(Value::String(time)) = row.get_mut("TimeGenerated")
                && let Some((seconds, fraction)) = time.split_once('.')
            {
                let digits: String = fraction
                    .chars()
                    .filter(char::is_ascii_digit)
                    .take(3)
                    .collect();
                *time = format!("{seconds}.{digits}Z");
            }
            row
        })
        .collect()
}

/// An alert as every shape must give it: not where its events are in the file (which the
/// containers number differently), without event ids when `ids` is false, and without the
/// output fields a shape does not carry.
fn comparable(report: &Value, ids: bool, only: Option<&[String]>, absent: &[&str]) -> Vec<Value> {
    report["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| only.is_none_or(|names| names.iter().any(|n| a["detection"]["name"] == **n)))
        .map(|a| {
            let mut a = a.clone();
            for field in absent {
                a["fields"].as_object_mut().unwrap().remove(*field);
            }
            for event in a["events"].as_array_mut().unwrap() {
                let event = event.as_object_mut().unwrap();
                for key in ["position", "line", "offset"] {
                    event.remove(key);
                }
                if !ids {
                    event.remove("id");
                }
            }
            a
        })
        .collect()
}

struct Shapes<'c> {
    engine: Engine<'c>,
    rows: Vec<Map<String, Value>>,
}

impl Shapes<'_> {
    fn source_of(&self, row: &Map<String, Value>) -> Option<usize> {
        let table = row.get("Type")?.as_str()?;
        self.engine.sources.iter().position(|s| s.table == table)
    }

    /// Each row in the named shape of its source; rows of no source (the sign-in) are left out
    /// unless `other` writes them.
    fn written(
        &self,
        shapes: &[&str],
        other: &dyn Fn(&Map<String, Value>) -> Option<Value>,
    ) -> Vec<Value> {
        self.rows
            .iter()
            .filter_map(|row| match self.source_of(row) {
                Some(source) => {
                    let plan = &self.engine.sources[source];
                    let shape = shapes.iter().find_map(|s| plan.declared_shape(s))?;
                    Some(Value::Object(to_shape(plan, shape, row)))
                }
                None => other(row),
            })
            .collect()
    }
}

fn lines(values: &[Value]) -> String {
    values.iter().map(|v| format!("{v}\n")).collect()
}

fn csv_text(values: &[Value]) -> String {
    let mut headers: Vec<String> = Vec::new();
    for value in values {
        for key in value.as_object().unwrap().keys() {
            if !headers.contains(key) {
                headers.push(key.clone());
            }
        }
    }
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(&headers).unwrap();
    for value in values {
        let object = value.as_object().unwrap();
        writer
            .write_record(headers.iter().map(|h| match object.get(h) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            }))
            .unwrap();
    }
    String::from_utf8(writer.into_inner().unwrap()).unwrap()
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
fn the_same_events_in_every_shape_give_the_same_alerts_portal_csv_times_unverified() {
    let catalogue = Catalogue::load(&repo().join("detections")).unwrap();
    let engine = Engine::new(&catalogue, |_| true);
    let rows = sample_rows(&catalogue, &engine);
    let shapes = Shapes { engine, rows };
    let rows: Vec<Value> = shapes.rows.iter().cloned().map(Value::Object).collect();
    let signin_record = |row: &Map<String, Value>| {
        Some(
            json!({ "time": row["TimeGenerated"], "category": "SignInLogs", "operationName": "Sign-in activity", "properties": { "ipAddress": "<null>" } }),
        )
    };
    let none = |_: &Map<String, Value>| None;

    let diagnostic = shapes.written(&["diagnostic"], &signin_record);
    let graph_or_rest = shapes.written(&["graph", "activity_rest"], &none);
    let la_csv = shapes.written(&["log_analytics_csv"], &|row| {
        let mut row = row.clone();
        let time = row.remove("TimeGenerated").unwrap();
        row.insert("TimeGenerated [UTC]".to_owned(), time);
        Some(Value::Object(row))
    });
    let portal = shapes.written(&["portal_csv"], &none);
    // The API's rows: one list of columns, dynamic values as JSON text.
    let mut columns: Vec<String> = Vec::new();
    for row in &shapes.rows {
        for key in row.keys() {
            if !columns.contains(key) {
                columns.push(key.clone());
            }
        }
    }
    let api_rows: Vec<Value> = shapes
        .rows
        .iter()
        .map(|row| {
            Value::Array(
                columns
                    .iter()
                    .map(|c| match row.get(c) {
                        Some(v @ (Value::Object(_) | Value::Array(_))) => {
                            Value::String(v.to_string())
                        }
                        Some(v) => v.clone(),
                        None => Value::Null,
                    })
                    .collect(),
            )
        })
        .collect();
    let tables = json!({ "tables": [{ "name": "PrimaryResult", "columns": columns.iter().map(|c| json!({ "name": c, "type": "string" })).collect::<Vec<_>>(), "rows": api_rows }] });
    let pages = |values: &[Value], wrap: &dyn Fn(&[Value]) -> Value, pretty: bool| -> String {
        values
            .chunks(7)
            .map(|page| {
                let page = wrap(page);
                if pretty {
                    serde_json::to_string_pretty(&page).unwrap() + "\n"
                } else {
                    format!("{page}\n")
                }
            })
            .collect()
    };
    let as_array = |page: &[Value]| Value::Array(page.to_vec());
    let as_records = |page: &[Value]| json!({ "records": page });
    let as_value = |page: &[Value]| json!({ "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#auditLogs/directoryAudits", "value": page, "@odata.nextLink": "https://graph.microsoft.com/v1.0/auditLogs/directoryAudits?$skiptoken=x" });

    let files: Vec<(&str, Vec<u8>)> = vec![
        ("rows.jsonl", lines(&rows).into_bytes()),
        (
            "rows.json",
            serde_json::to_string_pretty(&rows).unwrap().into_bytes(),
        ),
        (
            "rows-value.json",
            serde_json::to_string_pretty(&json!({ "value": rows }))
                .unwrap()
                .into_bytes(),
        ),
        (
            "rows-tables.json",
            serde_json::to_string_pretty(&tables).unwrap().into_bytes(),
        ),
        (
            "rows-tables-one-line.json",
            format!("{tables}\n").into_bytes(),
        ),
        ("rows.csv", csv_text(&la_csv).into_bytes()),
        ("rows.jsonl.gz", gzip(&lines(&rows))),
        ("diagnostic.jsonl", lines(&diagnostic).into_bytes()),
        (
            "diagnostic-records.json",
            pages(&diagnostic, &as_records, true).into_bytes(),
        ),
        (
            "diagnostic-records-per-line.jsonl",
            pages(&diagnostic, &as_records, false).into_bytes(),
        ),
        (
            "graph-and-rest-pages.json",
            pages(&graph_or_rest, &as_array, true).into_bytes(),
        ),
        (
            "graph-and-rest-value-pages.json",
            pages(&graph_or_rest, &as_value, false).into_bytes(),
        ),
        ("graph-and-rest.jsonl", lines(&graph_or_rest).into_bytes()),
    ];
    let mut t = Test::shipped();
    for (name, bytes) in &files {
        std::fs::write(t.root().join(name), bytes).unwrap();
    }
    t = t.write("portal.csv", &csv_text(&portal));
    let (mut t, baseline) = scan_json(t, &["--logs", "rows.jsonl"]);
    let expected = comparable(&baseline, true, None, &[]);
    assert_eq!(expected.len(), 10, "the sample's alerts");
    // Graph has no Identity: it stands in the initiating app's name (MS-PIM), never a user's.
    let without_identity = comparable(&baseline, true, None, &["Identity"]);
    for (name, _) in &files {
        let (next, report) = scan_json(t.then(), &["--logs", name]);
        t = next;
        if name.starts_with("graph") {
            assert_eq!(
                comparable(&report, true, None, &["Identity"]),
                without_identity,
                "{name}"
            );
        } else {
            assert_eq!(comparable(&report, true, None, &[]), expected, "{name}");
        }
        assert_eq!(report["summary"]["unknown_shape"], 0, "{name}");
        assert_eq!(report["summary"]["unreadable"], 0, "{name}");
    }
    let from_stdin = scan_stdin(t.root(), &gzip(&lines(&graph_or_rest)));
    assert_eq!(
        comparable(&from_stdin, true, None, &["Identity"]),
        without_identity,
        "gzip from standard input"
    );
    // The portal download holds the audit log only, with no record id; its targets are
    // rebuilt from flat columns, so their JSON text (TargetResourcesText) is spelled otherwise.
    let audit: Vec<String> = catalogue
        .detections
        .iter()
        .filter(|d| d.meta.logsource == "entra_auditlogs")
        .map(|d| format!("{}/{}", d.section, d.slug))
        .collect();
    let (_t, report) = scan_json(t.then(), &["--logs", "portal.csv"]);
    assert_eq!(
        comparable(
            &report,
            false,
            Some(&audit),
            &["Identity", "TargetResourcesText"]
        ),
        comparable(
            &baseline,
            false,
            Some(&audit),
            &["Identity", "TargetResourcesText"]
        ),
        "the Entra admin center CSV"
    );
    assert_eq!(report["summary"]["shapes"][0]["shape"], "portal_csv");
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
        .map(|l| format!("{l}\n"))
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
fn activity_rest_status_reads_as_the_table_value_pairing_unverified() {
    let catalogue = Catalogue::load(&repo().join("detections")).unwrap();
    let engine = Engine::new(&catalogue, |_| true);
    let source = catalogue.logsources.get_index_of("azure_activity").unwrap();
    let plan = &engine.sources[source];
    let shape = plan.declared_shape("activity_rest").unwrap();
    let text = std::fs::read_to_string(
        repo()
            .join(REAL)
            .join("sekoia-azure-activity.restapi-shape.jsonl"),
    )
    .unwrap();
    let line = text.lines().next().unwrap();
    let found = engine.read(line).unwrap();
    let read = engine.record(&found, shape, source);
    let field = |name: &str| {
        read.field(plan.field_index(name).unwrap())
            .map(|v| v.as_str().to_owned())
    };
    // The record says "Succeeded"; AzureActivity says "Success" (Microsoft's schema mapping).
    assert_eq!(field("ActivityStatusValue").as_deref(), Some("Success"));
    assert_eq!(
        field("OperationNameValue").as_deref(),
        Some("Microsoft.Network/networkSecurityGroups/write")
    );
    assert_eq!(field("CategoryValue").as_deref(), Some("Administrative"));
    assert_eq!(field("Caller").as_deref(), Some("REDACTED"));
    assert_eq!(
        read.time().map(|t| t.to_string()).as_deref(),
        Some("2018-01-29T20:42:31.3810679Z")
    );
    // A status the map does not know is kept as written.
    let resolved = text.lines().nth(1).unwrap();
    let found = engine.read(resolved).unwrap();
    let read = engine.record(&found, shape, source);
    assert_eq!(
        read.field(plan.field_index("ActivityStatusValue").unwrap())
            .map(|v| v.as_str().to_owned())
            .as_deref(),
        Some("Resolved")
    );
}

#[test]
fn operation_names_written_as_rest_objects_in_diagnostic_records_are_read_by_value() {
    // Panther's elevate-access fixture writes `operationName` as {"value", "localizedValue"}.
    let catalogue = Catalogue::load(&repo().join("detections")).unwrap();
    let engine = Engine::new(&catalogue, |_| true);
    let source = catalogue.logsources.get_index_of("azure_activity").unwrap();
    let plan = &engine.sources[source];
    let shape = plan.declared_shape("diagnostic").unwrap();
    let text = std::fs::read_to_string(
        repo()
            .join(REAL)
            .join("panther-activity-role-assignment.diagnostic.jsonl"),
    )
    .unwrap();
    let values: Vec<Option<String>> = text
        .lines()
        .map(|line| {
            let found = engine.read(line).unwrap();
            let read = engine.record(&found, shape, source);
            read.field(plan.field_index("OperationNameValue").unwrap())
                .map(|v| v.as_str().to_owned())
        })
        .collect();
    assert_eq!(
        values[0].as_deref(),
        Some("Microsoft.Authorization/roleAssignments/write")
    );
    assert_eq!(
        values[3].as_deref(),
        Some("Microsoft.Authorization/elevateAccess/action")
    );
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
